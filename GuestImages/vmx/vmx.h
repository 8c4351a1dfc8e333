/*
 * vmx.h — small, readable helpers for writing VMX test images in C.
 *
 *   - one inline function per VMX instruction, each returning what the
 *     instruction reported: VMsucceed, VMfailInvalid (CF = 1) or VMfailValid
 *     (ZF = 1, the error number is in the VM-instruction error field), or
 *     VMX_FAULT when it raised an exception instead (#UD, #GP: see
 *     vmx_catch_faults);
 *   - the capability MSRs and the "adjust a control word" rule;
 *   - every VMCS field encoding we use, by name;
 *   - exit-reason and VM-instruction-error names;
 *   - vmx_run_guest(), the VM entry/exit trampoline (vmx-entry.S).
 *
 * The specification is the Intel SDM Vol. 3C.  VMX citations in vmx/,
 * minivmm/, vmx-errors/ and bad-guest/ use the section numbering of edition
 * 325462-077US (chapter 23 "Introduction to Virtual Machine Extensions", 24
 * "Virtual Machine Control Structures", 25 "VMX Non-Root Operation", 26 "VM
 * Entries", 27 "VM Exits", 30 "VMX Instruction Reference", Appendix A "VMX
 * Capability Reporting Facility", B "Field Encoding in VMCS", C "VMX Basic
 * Exit Reasons") and always give the title too, so a reader with another
 * edition (lib/ pins the same one, 325462-077US; later editions renumber
 * these chapters) can find the text by name.
 */
#ifndef VMX_H
#define VMX_H

#include "guest.h"

/* ------------------------------------------------------------------ */
/* How a VMX instruction ended (SDM §30.2 "Conventions": VMsucceed      */
/* clears CF, PF, AF, ZF, SF, OF; VMfailInvalid sets CF; VMfailValid    */
/* sets ZF and stores an error number in the current VMCS).            */
/* ------------------------------------------------------------------ */
enum vmx_status {
    VMX_OK = 0,
    VMX_FAIL_INVALID = 1,   /* CF = 1: there is no current VMCS to report an error in */
    VMX_FAIL_VALID = 2,     /* ZF = 1: read the error with vmx_instruction_error() */
    VMX_FAULT = 3,          /* the instruction raised an exception: vmx_fault_vector */
};

/*
 * Catching faults of VMX instructions.  Every wrapper below records, just
 * before the instruction, its address in vmx_recover_from and the address
 * right after it in vmx_recover_rip.  If an instruction in between faults,
 * vmx_catch_faults()'s exception hook resumes at vmx_recover_rip and records
 * the vector and error code; the wrapper then returns VMX_FAULT.  Any other
 * exception (say, in a guest while vmx_run_guest is armed) is passed on to
 * lib/idt.c, which reports it.
 */
extern volatile uint64_t vmx_recover_from, vmx_recover_rip;
extern volatile int vmx_fault_vector;          /* -1: none */
extern volatile uint64_t vmx_fault_error_code;
void vmx_catch_faults(void);

#define VMX_ARM_RECOVERY                        \
    "lea 0f(%%rip), %[scratch]\n\t"             \
    "mov %[scratch], vmx_recover_from(%%rip)\n\t" \
    "lea 1f(%%rip), %[scratch]\n\t"             \
    "mov %[scratch], vmx_recover_rip(%%rip)\n\t" \
    "0: "
#define VMX_DISARM_RECOVERY                     \
    "1: movq $0, vmx_recover_rip(%%rip)\n\t"

static inline enum vmx_status vmx_status_of(bool cf, bool zf)
{
    if (vmx_fault_vector >= 0)
        return VMX_FAULT;
    if (cf)
        return VMX_FAIL_INVALID;
    if (zf)
        return VMX_FAIL_VALID;
    return VMX_OK;
}

/* One wrapper per instruction with a 64-bit memory operand (a physical
 * address): VMXON, VMCLEAR, VMPTRLD. */
#define VMX_MEM_INSN(name, mnemonic)                                            \
    static inline enum vmx_status name(uint64_t physical_address)               \
    {                                                                           \
        bool cf, zf;                                                            \
        uint64_t scratch;                                                       \
        vmx_fault_vector = -1;                                                  \
        __asm__ volatile(VMX_ARM_RECOVERY mnemonic " %[pa]\n\t" VMX_DISARM_RECOVERY \
                         : "=@ccc"(cf), "=@ccz"(zf), [scratch] "=&r"(scratch)     \
                         : [pa] "m"(physical_address)                           \
                         : "memory");                                           \
        return vmx_status_of(cf, zf);                                           \
    }
VMX_MEM_INSN(vmxon, "vmxon")
VMX_MEM_INSN(vmclear, "vmclear")
VMX_MEM_INSN(vmptrld, "vmptrld")

/* Instructions without operands: VMXOFF, VMCALL.  (VMLAUNCH and VMRESUME
 * go through vmx_run_guest(), which also catches the VM exit.) */
#define VMX_BARE_INSN(name, mnemonic)                                           \
    static inline enum vmx_status name(void)                                    \
    {                                                                           \
        bool cf, zf;                                                            \
        uint64_t scratch;                                                       \
        vmx_fault_vector = -1;                                                  \
        __asm__ volatile(VMX_ARM_RECOVERY mnemonic "\n\t" VMX_DISARM_RECOVERY    \
                         : "=@ccc"(cf), "=@ccz"(zf), [scratch] "=&r"(scratch)     \
                         :                                                      \
                         : "memory");                                           \
        return vmx_status_of(cf, zf);                                           \
    }
VMX_BARE_INSN(vmxoff, "vmxoff")
VMX_BARE_INSN(vmcall, "vmcall")

/* VMPTRST stores the current-VMCS pointer (FFFFFFFF_FFFFFFFFH if none). */
static inline enum vmx_status vmptrst(uint64_t *out)
{
    bool cf, zf;
    uint64_t scratch;
    vmx_fault_vector = -1;
    __asm__ volatile(VMX_ARM_RECOVERY "vmptrst %[out]\n\t" VMX_DISARM_RECOVERY
                     : "=@ccc"(cf), "=@ccz"(zf), [scratch] "=&r"(scratch), [out] "=m"(*out)
                     :
                     : "memory");
    return vmx_status_of(cf, zf);
}

/* VMREAD r/m64, r64: the register operand holds the field encoding (in
 * 64-bit mode all 64 bits of it: SDM §30.3 "VMREAD"). */
static inline enum vmx_status vmread(uint64_t field, uint64_t *value)
{
    bool cf, zf;
    uint64_t scratch, v = 0;
    vmx_fault_vector = -1;
    __asm__ volatile(VMX_ARM_RECOVERY "vmread %[field], %[v]\n\t" VMX_DISARM_RECOVERY
                     : "=@ccc"(cf), "=@ccz"(zf), [scratch] "=&r"(scratch), [v] "+r"(v)
                     : [field] "r"(field)
                     : "memory");
    *value = v;
    return vmx_status_of(cf, zf);
}

/* VMWRITE r64, r/m64: the register operand is the encoding, r/m the value. */
static inline enum vmx_status vmwrite(uint64_t field, uint64_t value)
{
    bool cf, zf;
    uint64_t scratch;
    vmx_fault_vector = -1;
    __asm__ volatile(VMX_ARM_RECOVERY "vmwrite %[value], %[field]\n\t" VMX_DISARM_RECOVERY
                     : "=@ccc"(cf), "=@ccz"(zf), [scratch] "=&r"(scratch)
                     : [field] "r"(field), [value] "rm"(value)
                     : "memory");
    return vmx_status_of(cf, zf);
}

/* VMREAD for code that knows the field exists and a VMCS is current: the
 * value, or ~0 if the read failed. */
static inline uint64_t vmr(uint64_t field)
{
    uint64_t v;
    return vmread(field, &v) == VMX_OK ? v : ~0ull;
}

/* The VM-instruction error field (0x4400) of the current VMCS, meaningful
 * after VMfailValid (SDM §30.4 "VM Instruction Error Numbers"). */
static inline uint32_t vmx_instruction_error(void) { return (uint32_t)vmr(0x4400); }

/* Short text of a status: "OK", "VMfailInvalid", "VMfailValid(N)" (N read
 * from the current VMCS), "#UD", "#GP(0)" ...; the buffer is static. */
const char *vmx_status_text(enum vmx_status s);
const char *vmx_error_name(uint32_t number);       /* SDM §30.4 */
const char *vmx_exit_reason_name(uint32_t basic);  /* SDM Appendix C */

/* ------------------------------------------------------------------ */
/* Control registers, MSRs, CPUID                                      */
/* ------------------------------------------------------------------ */
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

#define CR0_PE (1ull << 0)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_VMXE (1ull << 13)
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

/* Architectural MSRs (SDM Vol. 4 / Vol. 3C Appendix A). */
#define MSR_IA32_FEATURE_CONTROL        0x03A
#define   FEATURE_CONTROL_LOCK          (1ull << 0)
#define   FEATURE_CONTROL_VMX_IN_SMX    (1ull << 1)
#define   FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
#define MSR_IA32_SYSENTER_CS            0x174
#define MSR_IA32_SYSENTER_ESP           0x175
#define MSR_IA32_SYSENTER_EIP           0x176
#define MSR_IA32_VMX_BASIC              0x480
#define MSR_IA32_VMX_PINBASED_CTLS      0x481
#define MSR_IA32_VMX_PROCBASED_CTLS     0x482
#define MSR_IA32_VMX_EXIT_CTLS          0x483
#define MSR_IA32_VMX_ENTRY_CTLS         0x484
#define MSR_IA32_VMX_MISC               0x485
#define MSR_IA32_VMX_CR0_FIXED0         0x486
#define MSR_IA32_VMX_CR0_FIXED1         0x487
#define MSR_IA32_VMX_CR4_FIXED0         0x488
#define MSR_IA32_VMX_CR4_FIXED1         0x489
#define MSR_IA32_VMX_VMCS_ENUM          0x48A
#define MSR_IA32_VMX_PROCBASED_CTLS2    0x48B
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48D
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48E
#define MSR_IA32_VMX_TRUE_EXIT_CTLS     0x48F
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS    0x490
#define MSR_IA32_EFER                   0xC0000080
#define MSR_IA32_FS_BASE                0xC0000100
#define MSR_IA32_GS_BASE                0xC0000101

/* IA32_VMX_BASIC (SDM §A.1 "Basic VMX Information"). */
#define VMX_BASIC_REVISION(b)    ((uint32_t)(b) & 0x7FFFFFFFu)   /* bits 30:0 */
#define VMX_BASIC_REGION_SIZE(b) ((uint32_t)((b) >> 32) & 0x1FFFu) /* bits 44:32 */
#define VMX_BASIC_32BIT_ADDRESSES (1ull << 48)
#define VMX_BASIC_TRUE_CTLS      (1ull << 55)

/* The four control words that have capability MSRs (SDM §A.3 "VM-Execution
 * Controls", §A.4 "VM-Exit Controls", §A.5 "VM-Entry Controls"). */
enum vmx_ctl { VMX_CTL_PIN, VMX_CTL_PROC, VMX_CTL_EXIT, VMX_CTL_ENTRY, VMX_CTL_PROC2 };

/* The capability MSR that governs a control word: the TRUE_ one when
 * IA32_VMX_BASIC bit 55 says they exist (they may allow clearing some
 * "default1" bits), the plain one otherwise; PROC2 has only one. */
uint32_t vmx_ctl_msr(enum vmx_ctl which);

/* Each capability MSR reports allowed-0 settings in bits 31:0 (a 1 there:
 * the control must be 1) and allowed-1 settings in bits 63:32 (a 0 there:
 * the control must be 0) (SDM §A.3.1 "Pin-Based VM-Execution Controls").
 * vmx_adjust() returns `wanted` with must-be-1 bits forced on and
 * must-be-0 bits forced off; bits of `wanted` that could not be kept are
 * returned in *dropped (may be NULL). */
uint32_t vmx_adjust(enum vmx_ctl which, uint32_t wanted, uint32_t *dropped);
uint32_t vmx_must_be_1(enum vmx_ctl which);   /* allowed-0 settings */
uint32_t vmx_may_be_1(enum vmx_ctl which);    /* allowed-1 settings */

/* CR0/CR4 in VMX operation (SDM §A.7 "VMX-Fixed Bits in CR0", §A.8
 * "VMX-Fixed Bits in CR4"): bits 1 in FIXED0 must be 1, bits 0 in FIXED1
 * must be 0. */
static inline uint64_t vmx_fix_cr0(uint64_t v)
{
    return (v | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1);
}
static inline uint64_t vmx_fix_cr4(uint64_t v)
{
    return (v | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1);
}

/* MAXPHYADDR: CPUID 0x80000008 EAX[7:0], or 36 without that leaf (SDM Vol.
 * 3A §4.1.4 "Enumeration of Paging Features by CPUID"). */
unsigned vmx_physical_address_width(void);

/* ------------------------------------------------------------------ */
/* VMCS field encodings (SDM Appendix B "Field Encoding in VMCS").      */
/* Bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural), 11:10   */
/* type (0 control, 1 read-only data, 2 guest state, 3 host state),    */
/* 9:1 index, 0 access type (1 = high half of a 64-bit field).         */
/* ------------------------------------------------------------------ */
enum vmcs_field {
    /* B.1.1 16-bit control fields */
    VMCS_VPID                       = 0x0000,
    /* B.1.2 16-bit guest-state fields */
    VMCS_GUEST_ES_SELECTOR          = 0x0800,
    VMCS_GUEST_CS_SELECTOR          = 0x0802,
    VMCS_GUEST_SS_SELECTOR          = 0x0804,
    VMCS_GUEST_DS_SELECTOR          = 0x0806,
    VMCS_GUEST_FS_SELECTOR          = 0x0808,
    VMCS_GUEST_GS_SELECTOR          = 0x080A,
    VMCS_GUEST_LDTR_SELECTOR        = 0x080C,
    VMCS_GUEST_TR_SELECTOR          = 0x080E,
    /* B.1.3 16-bit host-state fields */
    VMCS_HOST_ES_SELECTOR           = 0x0C00,
    VMCS_HOST_CS_SELECTOR           = 0x0C02,
    VMCS_HOST_SS_SELECTOR           = 0x0C04,
    VMCS_HOST_DS_SELECTOR           = 0x0C06,
    VMCS_HOST_FS_SELECTOR           = 0x0C08,
    VMCS_HOST_GS_SELECTOR           = 0x0C0A,
    VMCS_HOST_TR_SELECTOR           = 0x0C0C,
    /* B.2.1 64-bit control fields */
    VMCS_IO_BITMAP_A                = 0x2000,
    VMCS_IO_BITMAP_B                = 0x2002,
    VMCS_MSR_BITMAP                 = 0x2004,
    VMCS_EXIT_MSR_STORE_ADDR        = 0x2006,
    VMCS_EXIT_MSR_LOAD_ADDR         = 0x2008,
    VMCS_ENTRY_MSR_LOAD_ADDR        = 0x200A,
    VMCS_EXECUTIVE_VMCS_POINTER     = 0x200C,
    VMCS_TSC_OFFSET                 = 0x2010,
    VMCS_VIRTUAL_APIC_ADDR          = 0x2012,
    VMCS_APIC_ACCESS_ADDR           = 0x2014,
    VMCS_EPT_POINTER                = 0x201A,
    /* B.2.2 64-bit read-only data field */
    VMCS_GUEST_PHYSICAL_ADDRESS     = 0x2400,
    /* B.2.3 64-bit guest-state fields */
    VMCS_LINK_POINTER               = 0x2800,
    VMCS_GUEST_IA32_DEBUGCTL        = 0x2802,
    VMCS_GUEST_IA32_PAT             = 0x2804,
    VMCS_GUEST_IA32_EFER            = 0x2806,
    /* B.2.4 64-bit host-state fields */
    VMCS_HOST_IA32_PAT              = 0x2C00,
    VMCS_HOST_IA32_EFER             = 0x2C02,
    /* B.3.1 32-bit control fields */
    VMCS_PIN_BASED_CONTROLS         = 0x4000,
    VMCS_PRIMARY_PROC_CONTROLS      = 0x4002,
    VMCS_EXCEPTION_BITMAP           = 0x4004,
    VMCS_PF_ERROR_CODE_MASK         = 0x4006,
    VMCS_PF_ERROR_CODE_MATCH        = 0x4008,
    VMCS_CR3_TARGET_COUNT           = 0x400A,
    VMCS_EXIT_CONTROLS              = 0x400C,
    VMCS_EXIT_MSR_STORE_COUNT       = 0x400E,
    VMCS_EXIT_MSR_LOAD_COUNT        = 0x4010,
    VMCS_ENTRY_CONTROLS             = 0x4012,
    VMCS_ENTRY_MSR_LOAD_COUNT       = 0x4014,
    VMCS_ENTRY_INTERRUPTION_INFO    = 0x4016,
    VMCS_ENTRY_EXCEPTION_ERROR_CODE = 0x4018,
    VMCS_ENTRY_INSTRUCTION_LENGTH   = 0x401A,
    VMCS_TPR_THRESHOLD              = 0x401C,
    VMCS_SECONDARY_PROC_CONTROLS    = 0x401E,
    /* B.3.2 32-bit read-only data fields */
    VMCS_VM_INSTRUCTION_ERROR       = 0x4400,
    VMCS_EXIT_REASON                = 0x4402,
    VMCS_EXIT_INTERRUPTION_INFO     = 0x4404,
    VMCS_EXIT_INTERRUPTION_ERROR    = 0x4406,
    VMCS_IDT_VECTORING_INFO         = 0x4408,
    VMCS_IDT_VECTORING_ERROR        = 0x440A,
    VMCS_EXIT_INSTRUCTION_LENGTH    = 0x440C,
    VMCS_EXIT_INSTRUCTION_INFO      = 0x440E,
    /* B.3.3 32-bit guest-state fields */
    VMCS_GUEST_ES_LIMIT             = 0x4800,
    VMCS_GUEST_CS_LIMIT             = 0x4802,
    VMCS_GUEST_SS_LIMIT             = 0x4804,
    VMCS_GUEST_DS_LIMIT             = 0x4806,
    VMCS_GUEST_FS_LIMIT             = 0x4808,
    VMCS_GUEST_GS_LIMIT             = 0x480A,
    VMCS_GUEST_LDTR_LIMIT           = 0x480C,
    VMCS_GUEST_TR_LIMIT             = 0x480E,
    VMCS_GUEST_GDTR_LIMIT           = 0x4810,
    VMCS_GUEST_IDTR_LIMIT           = 0x4812,
    VMCS_GUEST_ES_ACCESS_RIGHTS     = 0x4814,
    VMCS_GUEST_CS_ACCESS_RIGHTS     = 0x4816,
    VMCS_GUEST_SS_ACCESS_RIGHTS     = 0x4818,
    VMCS_GUEST_DS_ACCESS_RIGHTS     = 0x481A,
    VMCS_GUEST_FS_ACCESS_RIGHTS     = 0x481C,
    VMCS_GUEST_GS_ACCESS_RIGHTS     = 0x481E,
    VMCS_GUEST_LDTR_ACCESS_RIGHTS   = 0x4820,
    VMCS_GUEST_TR_ACCESS_RIGHTS     = 0x4822,
    VMCS_GUEST_INTERRUPTIBILITY     = 0x4824,
    VMCS_GUEST_ACTIVITY_STATE       = 0x4826,
    VMCS_GUEST_SMBASE               = 0x4828,
    VMCS_GUEST_IA32_SYSENTER_CS     = 0x482A,
    VMCS_PREEMPTION_TIMER_VALUE     = 0x482E,
    /* B.3.4 32-bit host-state field */
    VMCS_HOST_IA32_SYSENTER_CS      = 0x4C00,
    /* B.4.1 natural-width control fields */
    VMCS_CR0_GUEST_HOST_MASK        = 0x6000,
    VMCS_CR4_GUEST_HOST_MASK        = 0x6002,
    VMCS_CR0_READ_SHADOW            = 0x6004,
    VMCS_CR4_READ_SHADOW            = 0x6006,
    VMCS_CR3_TARGET_VALUE0          = 0x6008,
    /* B.4.2 natural-width read-only data fields */
    VMCS_EXIT_QUALIFICATION         = 0x6400,
    VMCS_GUEST_LINEAR_ADDRESS       = 0x640A,
    /* B.4.3 natural-width guest-state fields */
    VMCS_GUEST_CR0                  = 0x6800,
    VMCS_GUEST_CR3                  = 0x6802,
    VMCS_GUEST_CR4                  = 0x6804,
    VMCS_GUEST_ES_BASE              = 0x6806,
    VMCS_GUEST_CS_BASE              = 0x6808,
    VMCS_GUEST_SS_BASE              = 0x680A,
    VMCS_GUEST_DS_BASE              = 0x680C,
    VMCS_GUEST_FS_BASE              = 0x680E,
    VMCS_GUEST_GS_BASE              = 0x6810,
    VMCS_GUEST_LDTR_BASE            = 0x6812,
    VMCS_GUEST_TR_BASE              = 0x6814,
    VMCS_GUEST_GDTR_BASE            = 0x6816,
    VMCS_GUEST_IDTR_BASE            = 0x6818,
    VMCS_GUEST_DR7                  = 0x681A,
    VMCS_GUEST_RSP                  = 0x681C,
    VMCS_GUEST_RIP                  = 0x681E,
    VMCS_GUEST_RFLAGS               = 0x6820,
    VMCS_GUEST_PENDING_DEBUG        = 0x6822,
    VMCS_GUEST_IA32_SYSENTER_ESP    = 0x6824,
    VMCS_GUEST_IA32_SYSENTER_EIP    = 0x6826,
    /* B.4.4 natural-width host-state fields */
    VMCS_HOST_CR0                   = 0x6C00,
    VMCS_HOST_CR3                   = 0x6C02,
    VMCS_HOST_CR4                   = 0x6C04,
    VMCS_HOST_FS_BASE               = 0x6C06,
    VMCS_HOST_GS_BASE               = 0x6C08,
    VMCS_HOST_TR_BASE               = 0x6C0A,
    VMCS_HOST_GDTR_BASE             = 0x6C0C,
    VMCS_HOST_IDTR_BASE             = 0x6C0E,
    VMCS_HOST_IA32_SYSENTER_ESP     = 0x6C10,
    VMCS_HOST_IA32_SYSENTER_EIP     = 0x6C12,
    VMCS_HOST_RSP                   = 0x6C14,
    VMCS_HOST_RIP                   = 0x6C16,
};

/* ---- Control bits (SDM §24.6 "VM-Execution Control Fields", §24.7
 *      "VM-Exit Control Fields", §24.8 "VM-Entry Control Fields") ------ */
#define PIN_EXTERNAL_INTERRUPT_EXITING  (1u << 0)
#define PIN_NMI_EXITING                 (1u << 3)
#define PIN_VIRTUAL_NMIS                (1u << 5)
#define PIN_PREEMPTION_TIMER            (1u << 6)

#define PROC_INTERRUPT_WINDOW_EXITING   (1u << 2)
#define PROC_USE_TSC_OFFSETTING         (1u << 3)
#define PROC_HLT_EXITING                (1u << 7)
#define PROC_INVLPG_EXITING             (1u << 9)
#define PROC_MWAIT_EXITING              (1u << 10)
#define PROC_RDPMC_EXITING              (1u << 11)
#define PROC_RDTSC_EXITING              (1u << 12)
#define PROC_CR3_LOAD_EXITING           (1u << 15)
#define PROC_CR3_STORE_EXITING          (1u << 16)
#define PROC_CR8_LOAD_EXITING           (1u << 19)
#define PROC_CR8_STORE_EXITING          (1u << 20)
#define PROC_USE_TPR_SHADOW             (1u << 21)
#define PROC_NMI_WINDOW_EXITING         (1u << 22)
#define PROC_MOV_DR_EXITING             (1u << 23)
#define PROC_UNCONDITIONAL_IO_EXITING   (1u << 24)
#define PROC_USE_IO_BITMAPS             (1u << 25)
#define PROC_MONITOR_TRAP_FLAG          (1u << 27)
#define PROC_USE_MSR_BITMAPS            (1u << 28)
#define PROC_MONITOR_EXITING            (1u << 29)
#define PROC_PAUSE_EXITING              (1u << 30)
#define PROC_ACTIVATE_SECONDARY         (1u << 31)

#define PROC2_ENABLE_EPT                (1u << 1)
#define PROC2_ENABLE_VPID               (1u << 5)
#define PROC2_UNRESTRICTED_GUEST        (1u << 7)

#define EXIT_SAVE_DEBUG_CONTROLS        (1u << 2)
#define EXIT_HOST_ADDRESS_SPACE_SIZE    (1u << 9)
#define EXIT_ACK_INTERRUPT_ON_EXIT      (1u << 15)
#define EXIT_SAVE_IA32_EFER             (1u << 20)
#define EXIT_LOAD_IA32_EFER             (1u << 21)

#define ENTRY_LOAD_DEBUG_CONTROLS       (1u << 2)
#define ENTRY_IA32E_MODE_GUEST          (1u << 9)
#define ENTRY_LOAD_IA32_EFER            (1u << 15)

/* Access-rights format of the guest segment fields (SDM §24.4.1 "Guest
 * Register State", Table 24-2): bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL,
 * 13 L, 14 D/B, 15 G, 16 unusable. */
#define AR_TYPE_CODE_XRA        0x0B   /* execute/read, accessed */
#define AR_TYPE_DATA_RWA        0x03   /* read/write, accessed */
#define AR_TYPE_TSS64_BUSY      0x0B
#define AR_TYPE_LDT             0x02
#define AR_S                    (1u << 4)
#define AR_P                    (1u << 7)
#define AR_L                    (1u << 13)
#define AR_DB                   (1u << 14)
#define AR_G                    (1u << 15)
#define AR_UNUSABLE             (1u << 16)
#define AR_CODE64   (AR_TYPE_CODE_XRA | AR_S | AR_P | AR_L | AR_G)   /* 0xA09B */
#define AR_DATA     (AR_TYPE_DATA_RWA | AR_S | AR_P | AR_DB | AR_G)  /* 0xC093 */
#define AR_TSS64    (AR_TYPE_TSS64_BUSY | AR_P)                      /* 0x008B */

/* Exit reasons (SDM Appendix C "VMX Basic Exit Reasons"); bit 31 of the
 * exit-reason field is set when the exit is a VM-entry failure. */
#define EXIT_REASON_EXCEPTION_NMI       0
#define EXIT_REASON_EXTERNAL_INTERRUPT  1
#define EXIT_REASON_TRIPLE_FAULT        2
#define EXIT_REASON_CPUID               10
#define EXIT_REASON_HLT                 12
#define EXIT_REASON_VMCALL              18
#define EXIT_REASON_CR_ACCESS           28
#define EXIT_REASON_IO_INSTRUCTION      30
#define EXIT_REASON_RDMSR               31
#define EXIT_REASON_WRMSR               32
#define EXIT_REASON_INVALID_GUEST_STATE 33
#define EXIT_REASON_MSR_LOADING         34
#define EXIT_REASON_MTF                 37
#define EXIT_REASON_ENTRY_FAILURE_BIT   (1u << 31)

/* VM-instruction error numbers (SDM §30.4 "VM Instruction Error Numbers"). */
#define VMXERR_VMCALL_IN_ROOT                   1
#define VMXERR_VMCLEAR_INVALID_ADDRESS          2
#define VMXERR_VMCLEAR_VMXON_POINTER            3
#define VMXERR_VMLAUNCH_NOT_CLEAR               4
#define VMXERR_VMRESUME_NOT_LAUNCHED            5
#define VMXERR_ENTRY_INVALID_CONTROLS           7
#define VMXERR_ENTRY_INVALID_HOST_STATE         8
#define VMXERR_VMPTRLD_INVALID_ADDRESS          9
#define VMXERR_VMPTRLD_VMXON_POINTER            10
#define VMXERR_VMPTRLD_WRONG_REVISION           11
#define VMXERR_UNSUPPORTED_COMPONENT            12
#define VMXERR_VMWRITE_READ_ONLY                13
#define VMXERR_VMXON_IN_ROOT                    15
#define VMXERR_ENTRY_BLOCKED_BY_MOV_SS          26

/* ------------------------------------------------------------------ */
/* Host environment and the entry/exit trampoline                      */
/* ------------------------------------------------------------------ */

/* A VMCS host-state area needs a non-null TR selector (SDM §26.2.3
 * "Checks on Host Segment and Descriptor-Table Registers"), and lib/boot.S
 * has no TSS.  vmx_load_host_gdt() switches to a copy of the boot GDT with a
 * 64-bit TSS descriptor appended (selector VMX_SEL_TR) and loads TR; the
 * code/data selectors stay 0x08/0x10/0x18. */
#define VMX_SEL_CODE64 0x10
#define VMX_SEL_DATA   0x18
#define VMX_SEL_TR     0x20
void vmx_load_host_gdt(void);
extern uint8_t vmx_tss[104];
extern uint64_t vmx_gdt[];

/* The guest's general registers, saved at every VM exit and loaded at every
 * VM entry (RSP and RIP live in the VMCS guest-state area). */
struct guest_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/*
 * vmx_run_guest(regs, launched) — vmx-entry.S.  Writes HOST_RSP and HOST_RIP
 * of the current VMCS so that a VM exit comes back into this very call,
 * loads the guest registers, and executes VMLAUNCH (how == VMX_LAUNCH) or
 * VMRESUME (VMX_RESUME); the _AFTER_MOV_SS variants execute MOV SS right
 * before it, so the entry is attempted with events blocked by MOV SS;
 * with VMX_KEEP_HOST_RSP_RIP or'ed in, HOST_RSP/HOST_RIP are left alone (to
 * test invalid host state, or VMX instructions outside VMX operation).
 * Faults (#UD, #GP) are caught like the other wrappers'.  Returns VMX_OK after a VM exit (also a VM-entry failure
 * reported as an exit: exit reason bit 31), with the guest's registers in
 * *regs; VMX_FAIL_INVALID / VMX_FAIL_VALID if the instruction failed.
 */
enum vmx_entry_kind {
    VMX_LAUNCH = 0,
    VMX_RESUME = 1,
    VMX_LAUNCH_AFTER_MOV_SS = 2,
    VMX_RESUME_AFTER_MOV_SS = 3,
    VMX_KEEP_HOST_RSP_RIP = 4,   /* or'ed in: do not VMWRITE HOST_RSP/HOST_RIP first */
};
enum vmx_status vmx_run_guest(struct guest_regs *regs, unsigned how);
/* A host RIP for VMCS images that are never meant to exit (vmx-entry.S). */
void vmx_exit_trampoline(void);

/* ------------------------------------------------------------------ */
/* A default VMCS for tests (vmx.c).                                   */
/* ------------------------------------------------------------------ */

/* Host state = the current CPU (CR0/3/4, the selectors above, GDTR/IDTR/TR
 * bases, FS/GS base); HOST_RSP/RIP are written by vmx_run_guest. */
void vmx_write_host_state(void);
/* A 64-bit guest sharing the host's page tables, GDT and IDT, starting at
 * rip with stack rsp: flat CS (L = 1), flat data, busy TSS, unusable LDTR,
 * RFLAGS = 2, active, VMCS link pointer ~0. */
void vmx_write_guest_state_64(uint64_t rip, uint64_t rsp);
/* Pin/proc/exit/entry controls adjusted from `wanted` (host address-space
 * size and IA-32e mode guest are always asked for). */
void vmx_write_controls(uint32_t pin, uint32_t proc, uint32_t exit, uint32_t entry);

/* VMCS and VMXON regions: 4 KiB, 4 KiB aligned, first word = revision ID. */
struct vmx_region { uint32_t revision; uint8_t data[4092]; } __attribute__((aligned(4096)));
void vmx_init_region(struct vmx_region *r);
static inline uint64_t vmx_pa(const void *p) { return (uint64_t)(uintptr_t)p; }  /* identity map */

#endif
