/*
 * minivmm — a whole virtual-machine monitor in one readable file.
 *
 * This image boots like every other (multiboot -> 64-bit long mode, see
 * lib/boot.S), then turns itself into a hypervisor: it enters VMX operation,
 * builds a VMCS for a guest that is a plain C function of this very image
 * (guest_main, with its own stack, sharing our identity page tables), launches
 * it, and handles every VM exit the guest causes, one handler per exit
 * reason, until the guest asks to finish.  Then it leaves VMX operation and
 * prints "minivmm: PASS".
 *
 * Read it top to bottom: kmain() is the story, each step says what the SDM
 * requires and where.  Citations are to the Intel SDM Vol. 3C with the
 * section numbering of edition 325462-077US, and the section title.
 *
 * What the guest does, and which exit each step causes:
 *
 *   guest action                          exit (reason)          the VMM
 *   kprintf(...) -> IN 0x3FD / OUT 0x3F8  I/O instruction (30)   emulates the UART: LSR says
 *                                                                "ready", THR bytes go to the
 *                                                                real COM1
 *   CPUID 0x40000000                      CPUID (10)             returns its own signature
 *   CPUID 1                               CPUID (10)             hides VMX, sets "hypervisor"
 *   HLT                                   HLT (12)               skips it (nothing to wait for)
 *   WRMSR/RDMSR IA32_SYSENTER_CS          WRMSR (32)/RDMSR (31)  keeps a virtual copy
 *   RDMSR IA32_EFER                       none (MSR bitmap 0)    -
 *   MOV from CR4                          none: reads the shadow -
 *   MOV to CR4 setting VMXE               CR access (28)         refuses the host-owned bit
 *   MOV to CR3 (same value)               none, if the CPU lets us clear "CR3-load exiting"
 *   VMCALL 1 (print string)               VMCALL (18)            prints it
 *   VMCALL 2 (done, failures)             VMCALL (18)            stops running the guest
 *
 * Exit status: 0 = PASS; 1 = a check failed, an unexpected exit, or a VMX
 * instruction failed (a line starting with "FAIL:" says which, with the
 * VM-instruction error or the exit reason and qualification).
 *
 * For gdb: `hbreak handle_exit` stops at every VM exit (the global
 * exit_reason holds the last basic exit reason), `hbreak guest_main` at the
 * first guest instruction in VMX non-root operation.
 */
#include "vmx.h"

/* ==================================================================== */
/* Memory the VMM hands to the CPU.  All of it must be 4 KiB aligned, and  */
/* since our page tables map virtual == physical, a pointer *is* the       */
/* physical address the VMCS wants (vmx_pa()).                            */
/* ==================================================================== */
static struct vmx_region vmxon_region;   /* SDM §24.11.5 "VMXON Region" */
static struct vmx_region vmcs_region;    /* SDM §24.2 "Format of the VMCS Region" */
static uint8_t io_bitmap_a[4096] __attribute__((aligned(4096)));   /* ports 0000-7FFF */
static uint8_t io_bitmap_b[4096] __attribute__((aligned(4096)));   /* ports 8000-FFFF */
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[16384] __attribute__((aligned(16)));

/* The guest's general registers while the VMM runs (saved at each exit by
 * vmx_run_guest, loaded at each entry). */
static struct guest_regs guest_regs;

/* Last exit, for gdb and for the report. */
volatile uint32_t exit_reason;
volatile uint64_t exit_qualification;
static unsigned exit_counts[70];

#define COM1 0x3F8
#define COM1_LSR (COM1 + 5)
#define TRAPPED_MSR MSR_IA32_SYSENTER_CS     /* the one MSR whose bitmap bits we set */
#define HYPERCALL_PRINT 1
#define HYPERCALL_DONE  2
/* CPUID leaf 0x40000000 "hypervisor signature": 12 bytes in EBX, ECX, EDX. */
static const char signature[13] = "vmxemuMiniVM";

static unsigned io_in_exits, io_out_exits, bytes_forwarded;
static uint64_t virtual_sysenter_cs;
static uint32_t guest_failures_reported = ~0u;
static bool cr3_load_exiting, cr3_store_exiting;

NORETURN void guest_main(void);

static NORETURN void fail_stop(const char *what)
{
    kprintf("FAIL: minivmm: %s\n", what);
    guest_exit(GUEST_EXIT_FAIL);
}

/* A VMX instruction that must succeed; on VMfail say which and why. */
static void must(const char *what, enum vmx_status s)
{
    if (s == VMX_OK)
        return;
    if (s == VMX_FAIL_VALID) {
        uint32_t e = vmx_instruction_error();
        kprintf("FAIL: minivmm: %s: VMfailValid, VM-instruction error %u (%s)\n", what, e, vmx_error_name(e));
    } else {
        kprintf("FAIL: minivmm: %s: %s\n", what, vmx_status_text(s));
    }
    guest_exit(GUEST_EXIT_FAIL);
}

static void write_field(uint64_t field, uint64_t value)
{
    enum vmx_status s = vmwrite(field, value);
    if (s != VMX_OK) {
        kprintf("FAIL: minivmm: VMWRITE 0x%lx = 0x%lx: %s\n", field, value, vmx_status_text(s));
        guest_exit(GUEST_EXIT_FAIL);
    }
}

/* ==================================================================== */
/* The guest.  Everything below runs in VMX non-root operation: same      */
/* code, same page tables, same GDT and IDT as the VMM, but every          */
/* sensitive instruction the VMCS asks about exits to the VMM first.      */
/* ==================================================================== */
static unsigned guest_failures;

static void guest_check(const char *name, bool ok)
{
    if (ok) {
        kprintf("guest: ok %s\n", name);
    } else {
        guest_failures++;
        kprintf("FAIL: guest: %s\n", name);
    }
}

static uint64_t guest_hypercall(uint64_t number, uint64_t arg)
{
    uint64_t ret;
    /* VMCALL always exits in VMX non-root operation (SDM §25.1.2
     * "Instructions That Cause VM Exits Unconditionally"); our ABI: RAX =
     * call number, RBX = argument, result in RAX. */
    __asm__ volatile("vmcall" : "=a"(ret) : "a"(number), "b"(arg) : "memory");
    return ret;
}

void guest_main(void)
{
    /* Every byte kprintf sends polls the UART's LSR (IN from 0x3FD) and
     * writes THR (OUT to 0x3F8); both ports are set in the I/O bitmap, so
     * each is an I/O-instruction exit that the VMM emulates. */
    kprintf("guest: hello from VMX non-root operation (guest_main, rsp %p)\n", __builtin_frame_address(0));

    /* CPUID exits unconditionally (§25.1.2).  The VMM answers leaf
     * 0x40000000 with its signature and hides VMX in leaf 1. */
    struct cpuid_regs r = cpuid(0x40000000, 0);
    char sig[13];
    memcpy(sig + 0, &r.ebx, 4);
    memcpy(sig + 4, &r.ecx, 4);
    memcpy(sig + 8, &r.edx, 4);
    sig[12] = 0;
    kprintf("guest: CPUID 0x40000000 says \"%s\", max leaf 0x%x\n", sig, r.eax);
    guest_check("cpuid-hypervisor-signature", strcmp(sig, signature) == 0 && r.eax == 0x40000000);
    r = cpuid(1, 0);
    guest_check("cpuid-1-hypervisor-bit-set", (r.ecx & CPUID_1_ECX_HYPERVISOR) != 0);
    guest_check("cpuid-1-vmx-hidden", (r.ecx & CPUID_1_ECX_VMX) == 0);

    /* HLT exits because we set "HLT exiting" (§25.1.3 "Instructions That
     * Cause VM Exits Conditionally"). */
    __asm__ volatile("hlt");
    guest_check("hlt-returned", true);

    /* The MSR bitmap has the read and write bits of IA32_SYSENTER_CS set:
     * both exit, and the VMM keeps a virtual value (the real MSR is never
     * touched).  IA32_EFER's bits are clear: that RDMSR does not exit and
     * reads the real register (LMA set: we are in IA-32e mode). */
    wrmsr(TRAPPED_MSR, 0x1234);
    guest_check("msr-bitmap-rdmsr-virtual-value", rdmsr(TRAPPED_MSR) == 0x1234);
    guest_check("msr-efer-not-trapped-lma", (rdmsr(MSR_IA32_EFER) & (1u << 10)) != 0);

    /* CR4.VMXE is host-owned (its guest/host mask bit is 1): reading CR4
     * gives the read shadow's bit, 0 (§25.3 "Changes to Instruction
     * Behavior in VMX Non-Root Operation", MOV from CR4).  Writing a value
     * whose VMXE differs from the shadow exits (§25.1.3, MOV to CR4); the
     * VMM refuses the host-owned bit, so it still reads 0 afterwards. */
    uint64_t cr4 = read_cr4();
    guest_check("cr4-read-shadow-hides-vmxe", (cr4 & CR4_VMXE) == 0 && (cr4 & CR4_PAE) != 0);
    write_cr4(cr4 | CR4_VMXE);
    guest_check("cr4-vmxe-write-refused", (read_cr4() & CR4_VMXE) == 0);
    write_cr4(cr4);   /* same value as the shadow for the masked bit: no exit */

    /* Reloading CR3 with the same value: no exit when "CR3-load exiting" and
     * "CR3-store exiting" are 0 (the VMM cleared them if the capability MSR
     * allows; otherwise both MOVs exit and the VMM emulates them). */
    write_cr3(read_cr3());
    guest_check("cr3-reload", true);

    guest_hypercall(HYPERCALL_PRINT, (uint64_t)(uintptr_t)"a string handed over by VMCALL");
    kprintf("guest: %u failure(s); asking the VMM to finish\n", guest_failures);
    guest_hypercall(HYPERCALL_DONE, guest_failures);

    /* The VMM never resumes us after "done". */
    for (;;)
        __asm__ volatile("hlt");
}

/* ==================================================================== */
/* Exit handlers.  Each returns true to resume the guest.                 */
/* ==================================================================== */

/* The instruction that exited has been emulated: step over it.  The
 * VM-exit instruction-length field is valid for exits caused by
 * instructions (SDM §27.2.5 "Information for VM Exits Due to Instruction
 * Execution"). */
static void skip_instruction(void)
{
    write_field(VMCS_GUEST_RIP, vmr(VMCS_GUEST_RIP) + vmr(VMCS_EXIT_INSTRUCTION_LENGTH));
}

/* General-purpose register number n as encoded in exit qualifications
 * (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15:
 * SDM §27.2.1 "Basic VM-Exit Information", Table 27-3).  RSP lives in the
 * VMCS. */
static uint64_t *gpr(unsigned n)
{
    static uint64_t rsp_copy;
    switch (n) {
    case 0: return &guest_regs.rax;
    case 1: return &guest_regs.rcx;
    case 2: return &guest_regs.rdx;
    case 3: return &guest_regs.rbx;
    case 4: rsp_copy = vmr(VMCS_GUEST_RSP); return &rsp_copy;
    case 5: return &guest_regs.rbp;
    case 6: return &guest_regs.rsi;
    case 7: return &guest_regs.rdi;
    case 8: return &guest_regs.r8;
    case 9: return &guest_regs.r9;
    case 10: return &guest_regs.r10;
    case 11: return &guest_regs.r11;
    case 12: return &guest_regs.r12;
    case 13: return &guest_regs.r13;
    case 14: return &guest_regs.r14;
    default: return &guest_regs.r15;
    }
}

/* CPUID (reason 10).  Leaf in EAX, subleaf in ECX; results replace the low
 * 32 bits of RAX/RBX/RCX/RDX and clear the high halves, as CPUID does. */
static bool handle_cpuid(void)
{
    uint32_t leaf = (uint32_t)guest_regs.rax, subleaf = (uint32_t)guest_regs.rcx;
    struct cpuid_regs r;
    if (leaf == 0x40000000) {
        r.eax = 0x40000000;   /* highest hypervisor leaf */
        memcpy(&r.ebx, signature + 0, 4);
        memcpy(&r.ecx, signature + 4, 4);
        memcpy(&r.edx, signature + 8, 4);
    } else {
        r = cpuid(leaf, subleaf);
        if (leaf == 1) {
            r.ecx &= ~CPUID_1_ECX_VMX;          /* no nested VMX here */
            r.ecx |= CPUID_1_ECX_HYPERVISOR;    /* "running under a hypervisor" */
        }
    }
    kprintf("minivmm: CPUID leaf 0x%x subleaf 0x%x -> %08x %08x %08x %08x\n", leaf, subleaf, r.eax, r.ebx,
            r.ecx, r.edx);
    guest_regs.rax = r.eax;
    guest_regs.rbx = r.ebx;
    guest_regs.rcx = r.ecx;
    guest_regs.rdx = r.edx;
    skip_instruction();
    return true;
}

/* HLT (reason 12).  A real VMM would deschedule the vCPU until an
 * interrupt; ours has none to deliver, so it just steps over the HLT. */
static bool handle_hlt(void)
{
    kprintf("minivmm: HLT at guest rip 0x%lx; resuming after it\n", vmr(VMCS_GUEST_RIP));
    skip_instruction();
    return true;
}

/* VMCALL (reason 18): our hypercalls. */
static bool handle_vmcall(void)
{
    switch (guest_regs.rax) {
    case HYPERCALL_PRINT:
        /* RBX is a guest-linear address; with shared identity page tables it
         * is also ours.  (A real VMM would walk the guest's tables.) */
        kprintf("minivmm: hypercall PRINT: \"%s\"\n", (const char *)(uintptr_t)guest_regs.rbx);
        guest_regs.rax = 0;
        skip_instruction();
        return true;
    case HYPERCALL_DONE:
        kprintf("minivmm: hypercall DONE, guest reports %lu failure(s)\n", guest_regs.rbx);
        guest_failures_reported = (uint32_t)guest_regs.rbx;
        return false;
    default:
        kprintf("FAIL: minivmm: unknown hypercall %lu\n", guest_regs.rax);
        guest_exit(GUEST_EXIT_FAIL);
    }
}

/* I/O instruction (reason 30).  Exit qualification (SDM §27.2.1, Table 27-5
 * "Exit Qualification for I/O Instructions"): bits 2:0 size - 1, bit 3
 * direction (1 = IN), bit 4 string, bit 5 REP, bit 6 operand encoding
 * (1 = immediate port), bits 31:16 port.  We emulate a UART that is always
 * ready and forward every THR byte to the real one. */
static bool handle_io(void)
{
    uint64_t q = exit_qualification;
    unsigned size = (unsigned)(q & 7) + 1;
    bool in = (q >> 3) & 1, string = (q >> 4) & 1;
    uint16_t port = (uint16_t)(q >> 16);

    if (string || size != 1) {
        kprintf("FAIL: minivmm: unexpected I/O exit: port 0x%x size %u %s%s\n", port, size, in ? "IN" : "OUT",
                string ? " string" : "");
        guest_exit(GUEST_EXIT_FAIL);
    }
    if (in) {
        io_in_exits++;
        /* LSR: THR empty + transmitter empty; every other UART register
         * reads as 0 (enough for lib/serial.c). */
        uint8_t value = port == COM1_LSR ? 0x60 : 0x00;
        guest_regs.rax = (guest_regs.rax & ~0xFFull) | value;   /* IN AL: only AL changes */
    } else {
        io_out_exits++;
        if (port == COM1) {
            serial_putc((char)guest_regs.rax);
            bytes_forwarded++;
        }
        /* writes to the other UART registers (none expected) are dropped */
    }
    skip_instruction();
    return true;
}

/* RDMSR (31) / WRMSR (32): MSR number in ECX, value in EDX:EAX. */
static bool handle_msr(bool write)
{
    uint32_t msr = (uint32_t)guest_regs.rcx;
    if (msr != TRAPPED_MSR) {
        kprintf("FAIL: minivmm: unexpected %s of MSR 0x%x\n", write ? "WRMSR" : "RDMSR", msr);
        guest_exit(GUEST_EXIT_FAIL);
    }
    if (write) {
        virtual_sysenter_cs = ((guest_regs.rdx & 0xFFFFFFFF) << 32) | (guest_regs.rax & 0xFFFFFFFF);
        kprintf("minivmm: WRMSR 0x%x = 0x%lx (kept virtual)\n", msr, virtual_sysenter_cs);
    } else {
        guest_regs.rax = virtual_sysenter_cs & 0xFFFFFFFF;
        guest_regs.rdx = virtual_sysenter_cs >> 32;
        kprintf("minivmm: RDMSR 0x%x -> 0x%lx (virtual)\n", msr, virtual_sysenter_cs);
    }
    skip_instruction();
    return true;
}

/* Control-register access (reason 28).  Exit qualification (SDM §27.2.1,
 * Table 27-3 "Exit Qualification for Control-Register Accesses"): bits 3:0
 * CR number, 5:4 access type (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW),
 * 11:8 the general register, 31:16 LMSW source data. */
static bool handle_cr_access(void)
{
    uint64_t q = exit_qualification;
    unsigned cr = q & 0xF, type = (q >> 4) & 3, reg = (q >> 8) & 0xF;
    static const char *const types[4] = { "MOV to", "MOV from", "CLTS on", "LMSW on" };
    kprintf("minivmm: control-register access: %s CR%u, register %u\n", types[type], cr, reg);

    if (type == 0 && cr == 4) {
        /* The guest owns the bits whose mask bit is 0: they go to the real
         * guest CR4.  For the host-owned VMXE bit the guest only ever sees
         * the read shadow; we refuse to change it (no nested VMX). */
        uint64_t mask = vmr(VMCS_CR4_GUEST_HOST_MASK);
        uint64_t want = *gpr(reg);
        write_field(VMCS_GUEST_CR4, (want & ~mask) | (vmr(VMCS_GUEST_CR4) & mask));
        if ((want ^ vmr(VMCS_CR4_READ_SHADOW)) & mask & CR4_VMXE)
            kprintf("minivmm: the guest may not change CR4.VMXE; refused, shadow unchanged\n");
    } else if (type == 0 && cr == 3) {
        write_field(VMCS_GUEST_CR3, *gpr(reg));          /* only if CR3-load exiting */
    } else if (type == 1 && cr == 3) {
        *gpr(reg) = vmr(VMCS_GUEST_CR3);                  /* only if CR3-store exiting */
    } else {
        kprintf("FAIL: minivmm: unhandled control-register access, qualification 0x%lx\n", q);
        guest_exit(GUEST_EXIT_FAIL);
    }
    skip_instruction();
    return true;
}

/*
 * Called after every VM exit.  The basic exit reason is bits 15:0 of the
 * exit-reason field; bit 31 means the VM entry itself failed (SDM §24.9.1
 * "Basic VM-Exit Information", §26.8 "VM-Entry Failures During or After
 * Loading Guest State").  Returns true to resume the guest.
 */
NOINLINE bool handle_exit(void)
{
    uint32_t full = (uint32_t)vmr(VMCS_EXIT_REASON);
    exit_reason = full & 0xFFFF;
    exit_qualification = vmr(VMCS_EXIT_QUALIFICATION);
    if (exit_reason < sizeof(exit_counts) / sizeof(exit_counts[0]))
        exit_counts[exit_reason]++;

    if (full & EXIT_REASON_ENTRY_FAILURE_BIT) {
        kprintf("FAIL: minivmm: VM entry failed: exit reason 0x%x (%s), qualification 0x%lx\n", full,
                vmx_exit_reason_name(exit_reason), exit_qualification);
        guest_exit(GUEST_EXIT_FAIL);
    }
    switch (exit_reason) {
    case EXIT_REASON_CPUID: return handle_cpuid();
    case EXIT_REASON_HLT: return handle_hlt();
    case EXIT_REASON_VMCALL: return handle_vmcall();
    case EXIT_REASON_IO_INSTRUCTION: return handle_io();
    case EXIT_REASON_RDMSR: return handle_msr(false);
    case EXIT_REASON_WRMSR: return handle_msr(true);
    case EXIT_REASON_CR_ACCESS: return handle_cr_access();
    default:
        kprintf("FAIL: minivmm: unexpected VM exit: reason %u (%s), qualification 0x%lx, guest rip 0x%lx, "
                "interruption info 0x%lx\n",
                exit_reason, vmx_exit_reason_name(exit_reason), exit_qualification, vmr(VMCS_GUEST_RIP),
                vmr(VMCS_EXIT_INTERRUPTION_INFO));
        guest_exit(GUEST_EXIT_FAIL);
    }
}

/* ==================================================================== */
/* The story                                                            */
/* ==================================================================== */
int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("minivmm: a tiny VMM (minivmm.elf)\n");

    /*
     * Step 1. Does this CPU have VMX?  CPUID.1:ECX.VMX[bit 5] = 1 (SDM
     * §23.6 "Discovering Support for VMX").
     */
    if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX))
        fail_stop("CPUID.1:ECX.VMX[bit 5] = 0: no VMX on this CPU");
    uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
    kprintf("minivmm: VMX present; IA32_VMX_BASIC = 0x%lx (revision 0x%x, region %u bytes, TRUE controls %s)\n",
            basic, VMX_BASIC_REVISION(basic), VMX_BASIC_REGION_SIZE(basic),
            (basic & VMX_BASIC_TRUE_CTLS) ? "yes" : "no");

    /*
     * Step 2. IA32_FEATURE_CONTROL (MSR 0x3A).  VMXON raises #GP unless its
     * lock bit (0) is set and, outside SMX operation, "enable VMX outside
     * SMX operation" (bit 2) is set.  Firmware normally sets and locks it;
     * once locked it cannot change until reset.  If nobody locked it, we
     * do (SDM §23.7 "Enabling and Entering VMX Operation").
     */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK)) {
        fc |= FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
        kprintf("minivmm: IA32_FEATURE_CONTROL was unlocked; set bits 0 and 2 -> 0x%lx\n", fc);
    } else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        fail_stop("IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled (bit 2 = 0)");
    } else {
        kprintf("minivmm: IA32_FEATURE_CONTROL already locked with VMX enabled (0x%lx)\n", fc);
    }

    /*
     * Step 3. CR0 and CR4 must hold values supported in VMX operation: bits
     * set in IA32_VMX_CR0_FIXED0/CR4_FIXED0 must be 1, bits clear in
     * ..._FIXED1 must be 0 (SDM §23.8 "Restrictions on VMX Operation", §A.7
     * "VMX-Fixed Bits in CR0", §A.8 "VMX-Fixed Bits in CR4").  In practice:
     * CR0.PE, CR0.NE (lib/boot.S leaves NE clear) and CR0.PG, and CR4.VMXE,
     * which is also what makes VMXON legal at all (§30.3 "VMXON": #UD if
     * CR4.VMXE = 0).
     */
    write_cr0(vmx_fix_cr0(read_cr0()));
    write_cr4(vmx_fix_cr4(read_cr4() | CR4_VMXE));
    kprintf("minivmm: CR0 = 0x%lx, CR4 = 0x%lx\n", read_cr0(), read_cr4());

    /* Faults of VMX instructions become a status instead of a crash. */
    vmx_catch_faults();

    /*
     * Step 4. VMXON.  Its operand is the physical address of a 4 KiB-aligned
     * VMXON region whose first 31 bits hold the VMCS revision identifier from
     * IA32_VMX_BASIC[30:0] (SDM §24.11.5 "VMXON Region", §30.3 "VMXON").
     */
    vmx_init_region(&vmxon_region);
    must("VMXON", vmxon(vmx_pa(&vmxon_region)));
    kprintf("minivmm: VMXON ok: in VMX root operation\n");

    /*
     * Step 5. A VMCS: write the revision identifier, VMCLEAR it (initialises
     * it and makes its launch state "clear"), then VMPTRLD it to make it the
     * current VMCS that VMREAD/VMWRITE/VMLAUNCH act on (SDM §24.11.3
     * "Initializing a VMCS", §30.3 "VMCLEAR", "VMPTRLD").
     */
    vmx_init_region(&vmcs_region);
    must("VMCLEAR", vmclear(vmx_pa(&vmcs_region)));
    must("VMPTRLD", vmptrld(vmx_pa(&vmcs_region)));

    /*
     * Step 6. The host-state area: what the CPU loads at every VM exit (SDM
     * §24.5 "Host-State Area", §27.5 "Loading Host State").  We describe the
     * CPU as it is now.  TR must not be null (§26.2.3 "Checks on Host
     * Segment and Descriptor-Table Registers"), and boot.S has no TSS, so
     * first switch to a GDT that has one.  Selectors must have RPL = 0 and
     * TI = 0; CR0/CR4 must respect the fixed bits; RIP and the bases must be
     * canonical (§26.2.2 "Checks on Host Control Registers, MSRs, and SSP",
     * §26.2.4 "Checks Related to Address-Space Size").  HOST_RSP/HOST_RIP
     * are written by vmx_run_guest right before each entry: the exit lands
     * back inside that call.
     */
    vmx_load_host_gdt();
    vmx_write_host_state();

    /*
     * Step 7. The guest-state area (SDM §24.4 "Guest-State Area"), checked at
     * entry by §26.3.1 "Checks on the Guest State Area": a 64-bit guest in
     * the same address space as we are.
     *   - CR0/CR3/CR4 as ours (CR0.PG/PE, CR4.PAE: IA-32e mode; CR4.VMXE is
     *     a fixed-1 bit in VMX non-root operation too);
     *   - CS: selector 0x10, L = 1, D = 0, type 0xB (execute/read, accessed);
     *     SS/DS/ES/FS/GS flat read/write data; TR a busy 64-bit TSS; LDTR
     *     unusable (§26.3.1.2 "Checks on Guest Segment Registers");
     *   - RIP = guest_main, RSP = top of its own stack less 8 (as if just
     *     called), RFLAGS = 2 (bit 1 is reserved-1, IF = 0: no interrupts)
     *     (§26.3.1.4 "Checks on Guest RIP, RFLAGS, and SSP");
     *   - activity state active, no interruptibility blocking, no pending
     *     debug exceptions, VMCS link pointer FFFFFFFF_FFFFFFFFH
     *     (§26.3.1.5 "Checks on Guest Non-Register State").
     */
    uint64_t guest_rsp = (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack)) - 8;
    vmx_write_guest_state_64((uint64_t)(uintptr_t)guest_main, guest_rsp);

    /*
     * Step 8. The controls.  Every control word has a capability MSR saying
     * which bits may be 0 and which may be 1 (SDM Appendix A.3 "VM-Execution
     * Controls", A.4 "VM-Exit Controls", A.5 "VM-Entry Controls"; the TRUE_
     * MSRs when IA32_VMX_BASIC[55] = 1, §A.2 "Reserved Controls and Default
     * Settings").  vmx_adjust() forces the must-be-1 bits on and the
     * must-be-0 bits off; we then check the bits we rely on survived.
     *
     * Pin-based (§24.6.1): nothing of ours: interrupts stay off in the guest.
     * Primary processor-based (§24.6.2):
     *   HLT exiting           - HLT exits;
     *   use I/O bitmaps       - I/O exits only for ports whose bit is set;
     *   use MSR bitmaps       - RDMSR/WRMSR exit only for MSRs whose bit is set;
     *   CR3-load/store exiting off, when the capability MSR allows it;
     *   activate secondary controls: off, we need none (no EPT: the guest
     *   uses our page tables directly, no unrestricted guest).
     * VM-exit (§24.7.1): host address-space size = 1 (we are a 64-bit host).
     * VM-entry (§24.8.1): IA-32e mode guest = 1 (a 64-bit guest).
     */
    uint32_t dropped;
    uint32_t pin = vmx_adjust(VMX_CTL_PIN, 0, &dropped);
    uint32_t proc_wanted = PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS;
    uint32_t proc = vmx_adjust(VMX_CTL_PROC, proc_wanted, &dropped);
    if (dropped)
        fail_stop("the CPU does not allow HLT exiting, I/O bitmaps or MSR bitmaps");
    cr3_load_exiting = (proc & PROC_CR3_LOAD_EXITING) != 0;
    cr3_store_exiting = (proc & PROC_CR3_STORE_EXITING) != 0;
    uint32_t exit_ctls = vmx_adjust(VMX_CTL_EXIT, EXIT_HOST_ADDRESS_SPACE_SIZE, &dropped);
    if (dropped)
        fail_stop("the CPU does not allow a 64-bit host (host address-space size)");
    uint32_t entry_ctls = vmx_adjust(VMX_CTL_ENTRY, ENTRY_IA32E_MODE_GUEST, &dropped);
    if (dropped)
        fail_stop("the CPU does not allow a 64-bit guest (IA-32e mode guest)");
    vmx_write_controls(pin, proc, exit_ctls, entry_ctls);
    kprintf("minivmm: controls: pin 0x%08x proc 0x%08x exit 0x%08x entry 0x%08x (CR3-load exiting %s, "
            "CR3-store exiting %s)\n",
            pin, proc, exit_ctls, entry_ctls, cr3_load_exiting ? "forced on" : "off",
            cr3_store_exiting ? "forced on" : "off");

    /*
     * The I/O bitmaps (§24.6.4 "I/O-Bitmap Addresses", §25.1.3): A covers
     * ports 0000H-7FFFH, B 8000H-FFFFH, one bit per port; a set bit makes
     * IN/OUT on that port exit.  We trap the whole UART, 0x3F8-0x3FF.
     */
    for (unsigned port = COM1; port < COM1 + 8; port++)
        io_bitmap_a[port / 8] |= (uint8_t)(1u << (port % 8));
    write_field(VMCS_IO_BITMAP_A, vmx_pa(io_bitmap_a));
    write_field(VMCS_IO_BITMAP_B, vmx_pa(io_bitmap_b));

    /*
     * The MSR bitmap (§24.6.9 "MSR-Bitmap Address"): four 1 KiB bitmaps,
     * read-low (MSRs 0-1FFFH) at 0, read-high (C0000000H-C0001FFFH) at 1024,
     * write-low at 2048, write-high at 3072.  One MSR is trapped both ways.
     */
    msr_bitmap[0 + TRAPPED_MSR / 8] |= (uint8_t)(1u << (TRAPPED_MSR % 8));
    msr_bitmap[2048 + TRAPPED_MSR / 8] |= (uint8_t)(1u << (TRAPPED_MSR % 8));
    write_field(VMCS_MSR_BITMAP, vmx_pa(msr_bitmap));

    /*
     * CR0/CR4 guest/host masks and read shadows (§24.6.6 "Guest/Host Masks
     * and Read Shadows for CR0 and CR4"): for a bit set in the mask, the
     * host owns it: guest reads return the shadow's bit, and a guest MOV to
     * CR that would make the bit differ from the shadow exits (§25.1.3).
     * CR0: we own the VMX-fixed bits (PE, NE, PG), shadowed with their real
     * values. CR4: we own VMXE and show the guest 0 there.
     */
    uint64_t cr0_mask = CR0_PE | CR0_NE | CR0_PG;
    write_field(VMCS_CR0_GUEST_HOST_MASK, cr0_mask);
    write_field(VMCS_CR0_READ_SHADOW, read_cr0());
    write_field(VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE);
    write_field(VMCS_CR4_READ_SHADOW, read_cr4() & ~CR4_VMXE);

    /*
     * Step 9. VMLAUNCH, then the exit loop: handle the exit, VMRESUME (SDM
     * §30.3 "VMLAUNCH/VMRESUME"; VMLAUNCH needs a "clear" VMCS and makes it
     * "launched", VMRESUME needs a launched one).  A VMfail here means the
     * controls or host state were rejected (§26.2 "Checks on VMX Controls
     * and Host-State Area": error 7 or 8); a bad guest state instead comes
     * back as an exit with bit 31 set (§26.8), reported by handle_exit.
     */
    kprintf("minivmm: VMLAUNCH guest_main at 0x%lx, stack 0x%lx\n", (uint64_t)(uintptr_t)guest_main, guest_rsp);
    enum vmx_entry_kind how = VMX_LAUNCH;
    for (;;) {
        must(how == VMX_LAUNCH ? "VMLAUNCH" : "VMRESUME", vmx_run_guest(&guest_regs, how));
        how = VMX_RESUME;
        if (!handle_exit())
            break;
    }

    /*
     * Step 10. Leave VMX operation: VMCLEAR writes any VMCS data the CPU
     * kept cached back to memory and makes it inactive; VMXOFF ends VMX
     * operation (SDM §30.3 "VMCLEAR", "VMXOFF"; §24.11.1 "Software Use of
     * Virtual-Machine Control Structures").  Then CR4.VMXE may be cleared.
     */
    must("VMCLEAR", vmclear(vmx_pa(&vmcs_region)));
    must("VMXOFF", vmxoff());
    write_cr4(read_cr4() & ~CR4_VMXE);
    kprintf("minivmm: VMCLEAR + VMXOFF ok: VMX operation left\n");

    /* The exits we expect, given what guest_main does. */
    unsigned cr_access_expected = 1 + (cr3_load_exiting ? 1 : 0) + (cr3_store_exiting ? 1 : 0);
    kprintf("minivmm: exits: CPUID %u, HLT %u, VMCALL %u, I/O %u (IN %u, OUT %u, %u bytes forwarded), "
            "RDMSR %u, WRMSR %u, CR access %u\n",
            exit_counts[EXIT_REASON_CPUID], exit_counts[EXIT_REASON_HLT], exit_counts[EXIT_REASON_VMCALL],
            exit_counts[EXIT_REASON_IO_INSTRUCTION], io_in_exits, io_out_exits, bytes_forwarded,
            exit_counts[EXIT_REASON_RDMSR], exit_counts[EXIT_REASON_WRMSR], exit_counts[EXIT_REASON_CR_ACCESS]);
    bool ok = guest_failures_reported == 0 && exit_counts[EXIT_REASON_CPUID] == 2 &&
              exit_counts[EXIT_REASON_HLT] == 1 && exit_counts[EXIT_REASON_VMCALL] == 2 &&
              exit_counts[EXIT_REASON_RDMSR] == 1 && exit_counts[EXIT_REASON_WRMSR] == 1 &&
              exit_counts[EXIT_REASON_CR_ACCESS] == cr_access_expected && io_in_exits == io_out_exits &&
              io_out_exits == bytes_forwarded && bytes_forwarded > 0;
    if (!ok) {
        kprintf("FAIL: minivmm: unexpected exit counts or guest failures (want CPUID 2, HLT 1, VMCALL 2, "
                "RDMSR 1, WRMSR 1, CR access %u, one IN per OUT, guest failures 0)\n",
                cr_access_expected);
        return GUEST_EXIT_FAIL;
    }
    kprintf("minivmm: PASS\n");
    return GUEST_EXIT_OK;
}
