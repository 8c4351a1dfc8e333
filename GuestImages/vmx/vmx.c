/*
 * vmx.c — the out-of-line half of vmx.h: catching faults of VMX
 * instructions, names of errors and exit reasons, capability-MSR
 * arithmetic, a host GDT with a TSS, and a default VMCS for test images.
 * VMX section numbers follow SDM 325462-077US (see vmx.h).
 */
#include "vmx.h"

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */
volatile uint64_t vmx_recover_from, vmx_recover_rip;
volatile int vmx_fault_vector = -1;
volatile uint64_t vmx_fault_error_code;

static bool (*previous_hook)(struct trap_frame *frame);

static bool vmx_fault_hook(struct trap_frame *frame)
{
    if (vmx_recover_rip != 0 && frame->rip >= vmx_recover_from && frame->rip < vmx_recover_rip) {
        vmx_fault_vector = (int)frame->vector;
        vmx_fault_error_code = frame->error_code;
        frame->rip = vmx_recover_rip;
        vmx_recover_rip = 0;
        return true;
    }
    return previous_hook ? previous_hook(frame) : false;
}

void vmx_catch_faults(void)
{
    if (exception_hook != vmx_fault_hook) {
        previous_hook = exception_hook;
        exception_hook = vmx_fault_hook;
    }
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */
const char *vmx_status_text(enum vmx_status s)
{
    static char buf[48];
    static const char *const vectors[32] = { [6] = "#UD", [13] = "#GP", [12] = "#SS", [14] = "#PF" };
    char *p = buf;
    switch (s) {
    case VMX_OK: return "OK";
    case VMX_FAIL_INVALID: return "VMfailInvalid";
    case VMX_FAIL_VALID: {
        uint32_t e = vmx_instruction_error();
        const char *d = "VMfailValid(";
        while (*d) *p++ = *d++;
        char digits[12];
        int n = 0;
        do { digits[n++] = (char)('0' + e % 10); e /= 10; } while (e && n < 11);
        while (n) *p++ = digits[--n];
        *p++ = ')';
        *p = 0;
        return buf;
    }
    case VMX_FAULT: {
        int v = vmx_fault_vector;
        const char *name = (v >= 0 && v < 32 && vectors[v]) ? vectors[v] : "#?";
        while (*name) *p++ = *name++;
        /* #GP/#SS/#PF push an error code: show it, (0) being the usual. */
        if (v == 13 || v == 12 || v == 14) {
            *p++ = '(';
            uint64_t e = vmx_fault_error_code;
            char digits[20];
            int n = 0;
            do { digits[n++] = (char)('0' + e % 10); e /= 10; } while (e && n < 19);
            while (n) *p++ = digits[--n];
            *p++ = ')';
        }
        *p = 0;
        return buf;
    }
    }
    return "?";
}

const char *vmx_error_name(uint32_t n)
{
    static const char *const names[] = {
        [1] = "VMCALL executed in VMX root operation",
        [2] = "VMCLEAR with invalid physical address",
        [3] = "VMCLEAR with VMXON pointer",
        [4] = "VMLAUNCH with non-clear VMCS",
        [5] = "VMRESUME with non-launched VMCS",
        [6] = "VMRESUME after VMXOFF",
        [7] = "VM entry with invalid control field(s)",
        [8] = "VM entry with invalid host-state field(s)",
        [9] = "VMPTRLD with invalid physical address",
        [10] = "VMPTRLD with VMXON pointer",
        [11] = "VMPTRLD with incorrect VMCS revision identifier",
        [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
        [13] = "VMWRITE to read-only VMCS component",
        [15] = "VMXON executed in VMX root operation",
        [16] = "VM entry with invalid executive-VMCS pointer",
        [17] = "VM entry with non-launched executive VMCS",
        [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
        [19] = "VMCALL with non-clear VMCS",
        [20] = "VMCALL with invalid VM-exit control fields",
        [22] = "VMCALL with incorrect MSEG revision identifier",
        [23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
        [24] = "VMCALL with invalid SMM-monitor features",
        [25] = "VM entry with invalid VM-execution control fields in executive VMCS",
        [26] = "VM entry with events blocked by MOV SS",
        [28] = "Invalid operand to INVEPT/INVVPID",
    };
    if (n < sizeof(names) / sizeof(names[0]) && names[n])
        return names[n];
    return "(reserved error number)";
}

const char *vmx_exit_reason_name(uint32_t basic)
{
    static const char *const names[] = {
        [0] = "exception or NMI", [1] = "external interrupt", [2] = "triple fault",
        [3] = "INIT signal", [4] = "SIPI", [5] = "I/O SMI", [6] = "other SMI",
        [7] = "interrupt window", [8] = "NMI window", [9] = "task switch",
        [10] = "CPUID", [11] = "GETSEC", [12] = "HLT", [13] = "INVD", [14] = "INVLPG",
        [15] = "RDPMC", [16] = "RDTSC", [17] = "RSM", [18] = "VMCALL", [19] = "VMCLEAR",
        [20] = "VMLAUNCH", [21] = "VMPTRLD", [22] = "VMPTRST", [23] = "VMREAD",
        [24] = "VMRESUME", [25] = "VMWRITE", [26] = "VMXOFF", [27] = "VMXON",
        [28] = "control-register access", [29] = "MOV DR", [30] = "I/O instruction",
        [31] = "RDMSR", [32] = "WRMSR", [33] = "VM-entry failure: invalid guest state",
        [34] = "VM-entry failure: MSR loading", [36] = "MWAIT", [37] = "monitor trap flag",
        [39] = "MONITOR", [40] = "PAUSE", [41] = "VM-entry failure: machine-check event",
        [43] = "TPR below threshold", [44] = "APIC access", [45] = "virtualized EOI",
        [46] = "access to GDTR or IDTR", [47] = "access to LDTR or TR", [48] = "EPT violation",
        [49] = "EPT misconfiguration", [50] = "INVEPT", [51] = "RDTSCP",
        [52] = "VMX-preemption timer expired", [53] = "INVVPID", [54] = "WBINVD/WBNOINVD",
        [55] = "XSETBV", [56] = "APIC write", [57] = "RDRAND", [58] = "INVPCID",
        [59] = "VMFUNC", [60] = "ENCLS", [61] = "RDSEED", [62] = "page-modification log full",
        [63] = "XSAVES", [64] = "XRSTORS", [66] = "SPP-related event", [67] = "UMWAIT",
        [68] = "TPAUSE", [69] = "LOADIWKEY",
    };
    if (basic < sizeof(names) / sizeof(names[0]) && names[basic])
        return names[basic];
    return "(unknown exit reason)";
}

/* ------------------------------------------------------------------ */
/* Capabilities                                                        */
/* ------------------------------------------------------------------ */
uint32_t vmx_ctl_msr(enum vmx_ctl which)
{
    bool true_ctls = (rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CTLS) != 0;
    switch (which) {
    case VMX_CTL_PIN: return true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS;
    case VMX_CTL_PROC: return true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS;
    case VMX_CTL_EXIT: return true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS;
    case VMX_CTL_ENTRY: return true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS;
    case VMX_CTL_PROC2: return MSR_IA32_VMX_PROCBASED_CTLS2;
    }
    return 0;
}

uint32_t vmx_must_be_1(enum vmx_ctl which)
{
    /* Secondary controls have no allowed-0 half: all may be 0 (§A.3.3). */
    return which == VMX_CTL_PROC2 ? 0 : (uint32_t)rdmsr(vmx_ctl_msr(which));
}

uint32_t vmx_may_be_1(enum vmx_ctl which)
{
    return (uint32_t)(rdmsr(vmx_ctl_msr(which)) >> 32);
}

uint32_t vmx_adjust(enum vmx_ctl which, uint32_t wanted, uint32_t *dropped)
{
    uint32_t v = (wanted | vmx_must_be_1(which)) & vmx_may_be_1(which);
    if (dropped)
        *dropped = wanted & ~v;
    return v;
}

unsigned vmx_physical_address_width(void)
{
    if (cpuid(0x80000000, 0).eax >= 0x80000008)
        return cpuid(0x80000008, 0).eax & 0xFF;
    return 36;
}

void vmx_init_region(struct vmx_region *r)
{
    memset(r, 0, sizeof(*r));
    r->revision = VMX_BASIC_REVISION(rdmsr(MSR_IA32_VMX_BASIC));
}

/* ------------------------------------------------------------------ */
/* Host GDT with a TSS                                                 */
/* ------------------------------------------------------------------ */
uint8_t vmx_tss[104] __attribute__((aligned(16)));
/* null, code32, code64, data (as lib/boot.S), then the 16-byte TSS
 * descriptor (SDM Vol. 3A §8.2.3 "TSS Descriptor in 64-bit mode"). */
uint64_t vmx_gdt[6] __attribute__((aligned(16))) = {
    0, 0x00CF9A000000FFFFull, 0x00AF9A000000FFFFull, 0x00CF92000000FFFFull, 0, 0,
};

void vmx_load_host_gdt(void)
{
    uint64_t base = (uint64_t)(uintptr_t)vmx_tss;
    uint64_t limit = sizeof(vmx_tss) - 1;
    /* limit 15:0, base 23:0, type 9 (available 64-bit TSS), P, limit 19:16,
     * base 31:24; the next quadword holds base 63:32. */
    vmx_gdt[4] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                 ((limit >> 16) & 0xF) << 48 | ((base >> 24) & 0xFF) << 56;
    vmx_gdt[5] = base >> 32;
    /* The I/O-map base beyond the limit: no I/O permission bitmap. */
    vmx_tss[102] = sizeof(vmx_tss) & 0xFF;
    vmx_tss[103] = 0;
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = { sizeof(vmx_gdt) - 1, (uint64_t)(uintptr_t)vmx_gdt };
    __asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
    /* CS (0x10) and the data selectors keep their descriptors' contents, so
     * the cached values stay right; only TR is new. */
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)VMX_SEL_TR) : "memory");
}

/* ------------------------------------------------------------------ */
/* A default VMCS                                                      */
/* ------------------------------------------------------------------ */
struct descriptor_table_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static void must_write(uint64_t field, uint64_t value)
{
    enum vmx_status s = vmwrite(field, value);
    if (s != VMX_OK) {
        kprintf("FAIL: VMWRITE field 0x%lx value 0x%lx: %s\n", field, value, vmx_status_text(s));
        guest_exit(GUEST_EXIT_FAIL);
    }
}

void vmx_write_host_state(void)
{
    struct descriptor_table_register gdtr, idtr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    must_write(VMCS_HOST_CR0, read_cr0());
    must_write(VMCS_HOST_CR3, read_cr3());
    must_write(VMCS_HOST_CR4, read_cr4());
    must_write(VMCS_HOST_CS_SELECTOR, VMX_SEL_CODE64);
    must_write(VMCS_HOST_SS_SELECTOR, VMX_SEL_DATA);
    must_write(VMCS_HOST_DS_SELECTOR, VMX_SEL_DATA);
    must_write(VMCS_HOST_ES_SELECTOR, VMX_SEL_DATA);
    must_write(VMCS_HOST_FS_SELECTOR, VMX_SEL_DATA);
    must_write(VMCS_HOST_GS_SELECTOR, VMX_SEL_DATA);
    must_write(VMCS_HOST_TR_SELECTOR, VMX_SEL_TR);
    must_write(VMCS_HOST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
    must_write(VMCS_HOST_GS_BASE, rdmsr(MSR_IA32_GS_BASE));
    must_write(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)vmx_tss);
    must_write(VMCS_HOST_GDTR_BASE, gdtr.base);
    must_write(VMCS_HOST_IDTR_BASE, idtr.base);
    must_write(VMCS_HOST_IA32_SYSENTER_CS, 0);
    must_write(VMCS_HOST_IA32_SYSENTER_ESP, 0);
    must_write(VMCS_HOST_IA32_SYSENTER_EIP, 0);
    must_write(VMCS_HOST_RSP, 0);                      /* vmx_run_guest writes these */
    must_write(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_trampoline);
}

void vmx_write_guest_state_64(uint64_t rip, uint64_t rsp)
{
    struct descriptor_table_register gdtr, idtr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    must_write(VMCS_GUEST_CR0, read_cr0());
    must_write(VMCS_GUEST_CR3, read_cr3());
    must_write(VMCS_GUEST_CR4, read_cr4());
    must_write(VMCS_GUEST_DR7, 0x400);
    must_write(VMCS_GUEST_RSP, rsp);
    must_write(VMCS_GUEST_RIP, rip);
    must_write(VMCS_GUEST_RFLAGS, 0x2);

    static const struct { uint32_t sel, base, limit, ar; } segs[] = {
        { VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_ACCESS_RIGHTS },
        { VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_ACCESS_RIGHTS },
        { VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_ACCESS_RIGHTS },
        { VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_ACCESS_RIGHTS },
        { VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_ACCESS_RIGHTS },
    };
    for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        must_write(segs[i].sel, VMX_SEL_DATA);
        must_write(segs[i].base, 0);
        must_write(segs[i].limit, 0xFFFFFFFF);
        must_write(segs[i].ar, AR_DATA);
    }
    must_write(VMCS_GUEST_CS_SELECTOR, VMX_SEL_CODE64);
    must_write(VMCS_GUEST_CS_BASE, 0);
    must_write(VMCS_GUEST_CS_LIMIT, 0xFFFFFFFF);
    must_write(VMCS_GUEST_CS_ACCESS_RIGHTS, AR_CODE64);
    must_write(VMCS_GUEST_TR_SELECTOR, VMX_SEL_TR);
    must_write(VMCS_GUEST_TR_BASE, (uint64_t)(uintptr_t)vmx_tss);
    must_write(VMCS_GUEST_TR_LIMIT, sizeof(vmx_tss) - 1);
    must_write(VMCS_GUEST_TR_ACCESS_RIGHTS, AR_TSS64);
    must_write(VMCS_GUEST_LDTR_SELECTOR, 0);
    must_write(VMCS_GUEST_LDTR_BASE, 0);
    must_write(VMCS_GUEST_LDTR_LIMIT, 0);
    must_write(VMCS_GUEST_LDTR_ACCESS_RIGHTS, AR_UNUSABLE);
    must_write(VMCS_GUEST_GDTR_BASE, gdtr.base);
    must_write(VMCS_GUEST_GDTR_LIMIT, gdtr.limit);
    must_write(VMCS_GUEST_IDTR_BASE, idtr.base);
    must_write(VMCS_GUEST_IDTR_LIMIT, idtr.limit);
    must_write(VMCS_GUEST_IA32_DEBUGCTL, 0);
    must_write(VMCS_GUEST_IA32_SYSENTER_CS, 0);
    must_write(VMCS_GUEST_IA32_SYSENTER_ESP, 0);
    must_write(VMCS_GUEST_IA32_SYSENTER_EIP, 0);
    must_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
    must_write(VMCS_GUEST_ACTIVITY_STATE, 0);
    must_write(VMCS_GUEST_PENDING_DEBUG, 0);
    must_write(VMCS_LINK_POINTER, ~0ull);
}

void vmx_write_controls(uint32_t pin, uint32_t proc, uint32_t exit, uint32_t entry)
{
    must_write(VMCS_PIN_BASED_CONTROLS, vmx_adjust(VMX_CTL_PIN, pin, NULL));
    must_write(VMCS_PRIMARY_PROC_CONTROLS, vmx_adjust(VMX_CTL_PROC, proc, NULL));
    must_write(VMCS_EXIT_CONTROLS, vmx_adjust(VMX_CTL_EXIT, exit | EXIT_HOST_ADDRESS_SPACE_SIZE, NULL));
    must_write(VMCS_ENTRY_CONTROLS, vmx_adjust(VMX_CTL_ENTRY, entry | ENTRY_IA32E_MODE_GUEST, NULL));
    must_write(VMCS_EXCEPTION_BITMAP, 0);
    must_write(VMCS_PF_ERROR_CODE_MASK, 0);
    must_write(VMCS_PF_ERROR_CODE_MATCH, 0);
    must_write(VMCS_CR3_TARGET_COUNT, 0);
    must_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
    must_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    must_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    must_write(VMCS_ENTRY_INTERRUPTION_INFO, 0);
    must_write(VMCS_CR0_GUEST_HOST_MASK, 0);
    must_write(VMCS_CR4_GUEST_HOST_MASK, 0);
    must_write(VMCS_CR0_READ_SHADOW, 0);
    must_write(VMCS_CR4_READ_SHADOW, 0);
}

/* vmx-entry.S's vmx_exit_trampoline lands here. */
NORETURN void vmx_unexpected_exit(void);
void vmx_unexpected_exit(void)
{
    uint32_t reason = (uint32_t)vmr(VMCS_EXIT_REASON);
    kprintf("FAIL: unexpected VM exit to the trampoline: reason 0x%x (%s) qual 0x%lx guest rip 0x%lx\n",
            reason, vmx_exit_reason_name(reason & 0xFFFF), vmr(VMCS_EXIT_QUALIFICATION), vmr(VMCS_GUEST_RIP));
    guest_exit(GUEST_EXIT_FAIL);
}
