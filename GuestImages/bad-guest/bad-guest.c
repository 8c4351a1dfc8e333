/*
 * bad-guest — a VMM whose guest state is wrong in five places at once.
 *
 * It enters VMX operation and fills a VMCS like minivmm does (vmx/vmx.c's
 * defaults: a 64-bit guest sharing our page tables), then plants these
 * mistakes in the guest-state area, each violating one check of SDM
 * §26.3.1 "Checks on the Guest State Area" (325462-077US numbering):
 *
 *   1. CS access rights with both L (bit 13) and D/B (bit 14) set, in an
 *      IA-32e mode guest: "If the guest will be IA-32e mode and L is set,
 *      D/B must be 0" (§26.3.1.2 "Checks on Guest Segment Registers", CS).
 *   2. CR4.PAE = 0 with the "IA-32e mode guest" entry control = 1: "bit 5 of
 *      the CR4 field (PAE) must be 1" (§26.3.1.1 "Checks on Guest Control
 *      Registers, Debug Registers, and MSRs").
 *   3. RFLAGS bit 1 = 0: "Reserved bits 63:22, bit 15, bit 5 and bit 3 must
 *      be 0 in the field, and reserved bit 1 must be 1" (§26.3.1.4 "Checks
 *      on Guest RIP, RFLAGS, and SSP").
 *   4. TR type 3 (busy 16-bit TSS) in an IA-32e mode guest: "If the guest
 *      will be IA-32e mode, the Type must be 11 (64-bit busy TSS)"
 *      (§26.3.1.2, TR).
 *   5. VMCS link pointer 0x1000 instead of FFFFFFFF_FFFFFFFFH: then "bits
 *      11:0 must be 0, ... the 32 bits at that address must hold the VMCS
 *      revision identifier ..." — they do not (§26.3.1.5 "Checks on Guest
 *      Non-Register State").
 *
 * launch_bad_guest() executes VMLAUNCH once.  The entry fails after the
 * control and host checks passed, so the CPU reports it as a VM exit with
 * reason 33 and bit 31 set, 0x80000021 (§26.8 "VM-Entry Failures During or
 * After Loading Guest State"); which mistake is found first decides the
 * qualification (0, or 4 for the link pointer: §27.2.1 "Basic VM-Exit
 * Information").  The image prints the exit and the planted fields and exits
 * 0 — the point is to leave a failed VMCS behind for the emulator's REPL and
 * debugger to explain (`hbreak launch_bad_guest`, then step over it).  Exit
 * status 1 if the entry did anything other than fail with reason 33.
 */
#include "vmx.h"

static struct vmx_region vmxon_region, vmcs_region;
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
static struct guest_regs regs;

/* The guest would just halt, if it ever ran. */
void bad_guest_code(void);
__asm__(".text\n.globl bad_guest_code\n.type bad_guest_code, @function\n"
        "bad_guest_code:\n1:  hlt\n    jmp 1b\n.size bad_guest_code, . - bad_guest_code\n");

static void must(const char *what, enum vmx_status s)
{
    if (s == VMX_OK)
        return;
    kprintf("FAIL: bad-guest: %s: %s\n", what, vmx_status_text(s));
    guest_exit(GUEST_EXIT_FAIL);
}

/* VMLAUNCH the broken guest; returns the status of vmx_run_guest (VMX_OK
 * means "came back through a VM exit", here the failed entry). */
NOINLINE enum vmx_status launch_bad_guest(void)
{
    return vmx_run_guest(&regs, VMX_LAUNCH);
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("bad-guest: a VMCS with five planted guest-state mistakes\n");
    if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX)) {
        kprintf("FAIL: bad-guest: CPUID.1:ECX.VMX[bit 5] = 0: no VMX on this CPU\n");
        return GUEST_EXIT_FAIL;
    }

    /* Into VMX root operation, as in minivmm steps 2-5. */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    write_cr0(vmx_fix_cr0(read_cr0()));
    write_cr4(vmx_fix_cr4(read_cr4() | CR4_VMXE));
    vmx_catch_faults();
    vmx_load_host_gdt();
    vmx_init_region(&vmxon_region);
    vmx_init_region(&vmcs_region);
    must("VMXON", vmxon(vmx_pa(&vmxon_region)));
    must("VMCLEAR", vmclear(vmx_pa(&vmcs_region)));
    must("VMPTRLD", vmptrld(vmx_pa(&vmcs_region)));

    /* A correct VMCS first ... */
    vmx_write_host_state();
    vmx_write_guest_state_64((uint64_t)(uintptr_t)bad_guest_code,
                             (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack)) - 8);
    vmx_write_controls(0, PROC_HLT_EXITING, 0, 0);

    /* ... then the five mistakes (see the list at the top). */
    must("VMWRITE", vmwrite(VMCS_GUEST_CS_ACCESS_RIGHTS, AR_CODE64 | AR_DB));            /* 1 */
    must("VMWRITE", vmwrite(VMCS_GUEST_CR4, vmr(VMCS_GUEST_CR4) & ~CR4_PAE));            /* 2 */
    must("VMWRITE", vmwrite(VMCS_GUEST_RFLAGS, 0));                                      /* 3 */
    must("VMWRITE", vmwrite(VMCS_GUEST_TR_ACCESS_RIGHTS, 0x03 | AR_P));                  /* 4 */
    must("VMWRITE", vmwrite(VMCS_LINK_POINTER, 0x1000));                                 /* 5 */
    kprintf("bad-guest: planted: CS AR 0x%lx (L and D), CR4 0x%lx (PAE clear), RFLAGS 0x%lx, TR AR 0x%lx "
            "(type 3), link pointer 0x%lx\n",
            vmr(VMCS_GUEST_CS_ACCESS_RIGHTS), vmr(VMCS_GUEST_CR4), vmr(VMCS_GUEST_RFLAGS),
            vmr(VMCS_GUEST_TR_ACCESS_RIGHTS), vmr(VMCS_LINK_POINTER));

    enum vmx_status s = launch_bad_guest();
    if (s != VMX_OK) {
        kprintf("FAIL: bad-guest: VMLAUNCH: %s (want a failed entry reported as exit 0x80000021)\n",
                vmx_status_text(s));
        return GUEST_EXIT_FAIL;
    }
    uint32_t reason = (uint32_t)vmr(VMCS_EXIT_REASON);
    uint64_t qual = vmr(VMCS_EXIT_QUALIFICATION);
    kprintf("bad-guest: VMLAUNCH failed as expected: exit reason 0x%x (%s), qualification 0x%lx\n", reason,
            vmx_exit_reason_name(reason & 0xFFFF), qual);
    if (reason != (EXIT_REASON_ENTRY_FAILURE_BIT | EXIT_REASON_INVALID_GUEST_STATE)) {
        kprintf("FAIL: bad-guest: want exit reason 0x80000021 (VM-entry failure, invalid guest state)\n");
        return GUEST_EXIT_FAIL;
    }
    /* The VMCS stays current (and "clear": the launch failed) for whoever
     * inspects the machine now; we do not VMCLEAR or VMXOFF. */
    kprintf("bad-guest: done (the failed VMCS is left current at 0x%lx)\n", vmx_pa(&vmcs_region));
    return GUEST_EXIT_OK;
}
