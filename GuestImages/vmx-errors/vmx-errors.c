/*
 * vmx-errors — every way a VMX instruction can refuse, one line each.
 *
 * This image provokes each VM-instruction error number that a Skylake-class
 * CPU without the dual-monitor treatment of SMM can produce (SDM §30.4 "VM
 * Instruction Error Numbers": 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 15,
 * 26), the VMfailInvalid cases (no current VMCS, a bad VMXON region), the
 * faults (#UD, #GP), and the VM-entry failures that are reported as VM exits
 * (reason 33 "invalid guest state" and 34 "MSR loading", with bit 31 set),
 * with several samples of the control-field (7), host-state (8) and
 * guest-state (33) checks.
 *
 * Each observation prints exactly one line, NAME: RESULT, where RESULT is
 *   OK | OK 0xVALUE | VMfailInvalid | VMfailValid(N) | #UD | #GP(code) |
 *   exit 0xREASON qual 0xQUALIFICATION
 * so runs on two implementations (Bochs and vmxemu) can be diffed line by
 * line; vmx-errors/expected-bochs.txt is Bochs 2.7's output.  When a result
 * contradicts what the SDM says, the line starts with "FAIL: " and ends with
 * "(want ..., SDM §...)".  The last line is "vmx-errors: N observations"
 * (plus ", M contradict the SDM" if any); exit status 0, or 1 if any
 * contradicted.
 *
 * Section numbers are those of SDM 325462-077US, with titles.  Order of the
 * checks matters and follows the instruction pseudo-code of §30.3 "VMX
 * Instructions": faults (#UD, #GP) first, then VMfailInvalid when there is
 * no current VMCS, then VMfailValid(N) in the order the pseudo-code tests;
 * VM entry then checks the controls (§26.2.1), the host state (§26.2.2-4),
 * and the guest state (§26.3.1: failure = exit 33), then loads MSRs (§26.4:
 * failure = exit 34).
 *
 * Boot command line "all" (vmxemu / QEMU -append) also runs the cases Bochs
 * 2.7 cannot survive (see bochs/DEVIATIONS.md); by default they print
 * "skipped".
 */
#include "vmx.h"

static struct vmx_region vmxon_region, vmcs_a, vmcs_b, vmcs_bad_revision;
static uint8_t bitmap_page[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
/* VM-entry MSR-load area: 16-byte entries (SDM §24.8.2 "VM-Entry Controls
 * for MSRs"): MSR index in bits 31:0, bits 63:32 reserved, data in bits
 * 127:64. */
struct msr_entry {
    uint32_t index, reserved;
    uint64_t value;
};
static struct msr_entry msr_area[4] __attribute__((aligned(16)));
static struct guest_regs regs;
static unsigned maxphys;
static bool run_all;

/* The test guest: HLT, then VMCALL, then HLT forever (all exit). */
void guest_stub(void);
__asm__(".text\n"
        ".globl guest_stub\n"
        ".type guest_stub, @function\n"
        "guest_stub:\n"
        "    hlt\n"
        "    vmcall\n"
        "1:  hlt\n"
        "    jmp 1b\n"
        ".size guest_stub, . - guest_stub\n");

/* ------------------------------------------------------------------ */
/* Observations                                                        */
/* ------------------------------------------------------------------ */
enum kind { K_OK, K_OK_VALUE, K_INVALID, K_VALID, K_FAULT, K_EXIT };
struct outcome {
    enum kind kind;
    uint64_t a, b;   /* VALID: a = error; FAULT: a = vector, b = error code; EXIT: a = reason, b = qual; OK_VALUE: a */
};

#define OK ((struct outcome){ K_OK, 0, 0 })
#define OK_VALUE(v) ((struct outcome){ K_OK_VALUE, (v), 0 })
#define INVALID ((struct outcome){ K_INVALID, 0, 0 })
#define VALID(n) ((struct outcome){ K_VALID, (n), 0 })
#define UD ((struct outcome){ K_FAULT, 6, 0 })
#define GP0 ((struct outcome){ K_FAULT, 13, 0 })
#define EXIT(reason, qual) ((struct outcome){ K_EXIT, (reason), (qual) })
#define ENTRY_FAIL_GUEST(qual) EXIT(EXIT_REASON_ENTRY_FAILURE_BIT | EXIT_REASON_INVALID_GUEST_STATE, (qual))
#define ENTRY_FAIL_MSR(qual) EXIT(EXIT_REASON_ENTRY_FAILURE_BIT | EXIT_REASON_MSR_LOADING, (qual))

static unsigned observations, contradictions;

static struct outcome outcome_of(enum vmx_status s)
{
    switch (s) {
    case VMX_OK: return OK;
    case VMX_FAIL_INVALID: return INVALID;
    case VMX_FAIL_VALID: return VALID(vmx_instruction_error());
    case VMX_FAULT: return (struct outcome){ K_FAULT, (uint64_t)vmx_fault_vector, vmx_fault_error_code };
    }
    return INVALID;
}

static void print_outcome(struct outcome o)
{
    switch (o.kind) {
    case K_OK: kprintf("OK"); break;
    case K_OK_VALUE: kprintf("OK 0x%lx", o.a); break;
    case K_INVALID: kprintf("VMfailInvalid"); break;
    case K_VALID: kprintf("VMfailValid(%lu)", o.a); break;
    case K_FAULT:
        if (o.a == 13 || o.a == 12 || o.a == 10 || o.a == 11)
            kprintf("%s(%lu)", o.a == 13 ? "#GP" : o.a == 12 ? "#SS" : o.a == 10 ? "#TS" : "#NP", o.b);
        else
            kprintf("%s", o.a == 6 ? "#UD" : exception_mnemonic((unsigned)o.a));
        break;
    case K_EXIT: kprintf("exit 0x%lx qual 0x%lx", o.a, o.b); break;
    }
}

static bool same(struct outcome x, struct outcome y)
{
    if (x.kind != y.kind)
        return false;
    switch (x.kind) {
    case K_OK: case K_INVALID: return true;
    case K_FAULT: return x.a == y.a && (x.a != 13 || x.b == y.b);
    default: return x.a == y.a && x.b == y.b;
    }
}

/* One line per observation; "FAIL: " when it contradicts the SDM. */
static void observe(const char *name, struct outcome got, struct outcome want, const char *sdm)
{
    observations++;
    bool ok = same(got, want);
    if (!ok) {
        contradictions++;
        kprintf("FAIL: ");
    }
    kprintf("%s: ", name);
    print_outcome(got);
    if (!ok) {
        kprintf(" (want ");
        print_outcome(want);
        kprintf(", SDM %s)", sdm);
    }
    kprintf("\n");
}

static void skipped(const char *name, const char *why)
{
    kprintf("%s: skipped (%s)\n", name, why);
}

/* ------------------------------------------------------------------ */
/* VMCS set-up                                                         */
/* ------------------------------------------------------------------ */
static void must(const char *what, enum vmx_status s)
{
    if (s != VMX_OK) {
        kprintf("FAIL: set-up: %s: ", what);
        print_outcome(outcome_of(s));
        kprintf("\n");
        guest_exit(GUEST_EXIT_FAIL);
    }
}

static void set(uint64_t field, uint64_t value) { must("VMWRITE", vmwrite(field, value)); }

/* A fresh, clear, current VMCS A that would launch guest_stub cleanly:
 * 64-bit guest, HLT exiting, nothing else. */
static void fresh_vmcs(void)
{
    must("VMCLEAR", vmclear(vmx_pa(&vmcs_a)));
    must("VMPTRLD", vmptrld(vmx_pa(&vmcs_a)));
    vmx_write_host_state();
    vmx_write_guest_state_64((uint64_t)(uintptr_t)guest_stub,
                             (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack)) - 8);
    vmx_write_controls(0, PROC_HLT_EXITING, 0, 0);
    /* Every exception in the guest exits (§25.2 "Other Causes of VM Exits",
     * §24.6.3 "Exception Bitmap"): should an implementation wrongly enter a
     * broken guest, the fault comes back as exit 0 instead of running our
     * IDT's handlers in VMX non-root operation. */
    set(VMCS_EXCEPTION_BITMAP, 0xFFFFFFFF);
    memset(&regs, 0, sizeof(regs));
}

/* Try to enter; an exit (also a failed entry reported as an exit) gives
 * EXIT(reason, qualification). */
static struct outcome enter(unsigned how)
{
    enum vmx_status s = vmx_run_guest(&regs, how);
    if (s == VMX_OK)
        return EXIT(vmr(VMCS_EXIT_REASON), vmr(VMCS_EXIT_QUALIFICATION));
    return outcome_of(s);
}

static uint64_t read_field(uint64_t field) { return vmr(field); }

static uint32_t lowest_bit(uint32_t v) { return v & (~v + 1); }

/* ------------------------------------------------------------------ */
/* The observations                                                    */
/* ------------------------------------------------------------------ */
#define S_VMXON "§30.3 \"VMXON\""
#define S_VMCLEAR "§30.3 \"VMCLEAR\""
#define S_VMPTRLD "§30.3 \"VMPTRLD\""
#define S_VMPTRST "§30.3 \"VMPTRST\""
#define S_VMREAD "§30.3 \"VMREAD\""
#define S_VMWRITE "§30.3 \"VMWRITE\""
#define S_VMLAUNCH "§30.3 \"VMLAUNCH/VMRESUME\""
#define S_VMXOFF "§30.3 \"VMXOFF\""
#define S_VMCALL "§30.3 \"VMCALL\""
#define S_EXEC_CTLS "§26.2.1.1 \"VM-Execution Control Fields\""
#define S_EXIT_CTLS "§26.2.1.2 \"VM-Exit Control Fields\""
#define S_ENTRY_CTLS "§26.2.1.3 \"VM-Entry Control Fields\""
#define S_HOST_CR "§26.2.2 \"Checks on Host Control Registers, MSRs, and SSP\""
#define S_HOST_SEG "§26.2.3 \"Checks on Host Segment and Descriptor-Table Registers\""
#define S_HOST_AS "§26.2.4 \"Checks Related to Address-Space Size\""
#define S_GUEST_CR "§26.3.1.1 \"Checks on Guest Control Registers, Debug Registers, and MSRs\""
#define S_GUEST_SEG "§26.3.1.2 \"Checks on Guest Segment Registers\""
#define S_GUEST_RIP "§26.3.1.4 \"Checks on Guest RIP, RFLAGS, and SSP\""
#define S_GUEST_NONREG "§26.3.1.5 \"Checks on Guest Non-Register State\""
#define S_MSR_LOAD "§26.4 \"Loading MSRs\""

/* 1. Before VMX operation, CR4.VMXE = 0: every VMX instruction is #UD
 *    (§30.3, each instruction's first check; §23.7 "Enabling and Entering
 *    VMX Operation"). */
static void outside_vmx_without_vmxe(void)
{
    uint64_t v;
    observe("vmxon-no-vmxe", outcome_of(vmxon(vmx_pa(&vmxon_region))), UD, S_VMXON);
    observe("vmclear-no-vmxe", outcome_of(vmclear(vmx_pa(&vmcs_a))), UD, S_VMCLEAR);
    observe("vmptrld-no-vmxe", outcome_of(vmptrld(vmx_pa(&vmcs_a))), UD, S_VMPTRLD);
    observe("vmptrst-no-vmxe", outcome_of(vmptrst(&v)), UD, S_VMPTRST);
    observe("vmread-no-vmxe", outcome_of(vmread(VMCS_GUEST_RIP, &v)), UD, S_VMREAD);
    observe("vmwrite-no-vmxe", outcome_of(vmwrite(VMCS_GUEST_RIP, 0)), UD, S_VMWRITE);
    observe("vmlaunch-no-vmxe", enter(VMX_LAUNCH | VMX_KEEP_HOST_RSP_RIP), UD, S_VMLAUNCH);
    observe("vmresume-no-vmxe", enter(VMX_RESUME | VMX_KEEP_HOST_RSP_RIP), UD, S_VMLAUNCH);
    observe("vmxoff-no-vmxe", outcome_of(vmxoff()), UD, S_VMXOFF);
    observe("vmcall-no-vmxe", outcome_of(vmcall()), UD, S_VMCALL);
}

/* 2. CR4.VMXE = 1 but not yet in VMX operation. */
static void outside_vmx_with_vmxe(void)
{
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    /* IA32_FEATURE_CONTROL: VMXON is #GP(0) while the lock bit is clear
     * (§30.3 "VMXON"; §23.7).  Only observable if firmware left it
     * unlocked; the converse (locked with bit 2 clear) cannot be set up once
     * locked: the MSR stays locked until reset, so it is not tested. */
    if (!(fc & FEATURE_CONTROL_LOCK)) {
        observe("vmxon-feature-control-unlocked", outcome_of(vmxon(vmx_pa(&vmxon_region))), GP0, S_VMXON);
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    } else {
        skipped("vmxon-feature-control-unlocked", "IA32_FEATURE_CONTROL already locked");
    }
    skipped("vmxon-feature-control-locked-vmx-disabled", "needs a reset to unlock IA32_FEATURE_CONTROL");

    /* CR0 must respect IA32_VMX_CR0_FIXED0 (NE is a fixed-1 bit): #GP(0)
     * (§30.3 "VMXON"; §23.8 "Restrictions on VMX Operation"). */
    uint64_t cr0 = vmx_fix_cr0(read_cr0());
    if (rdmsr(MSR_IA32_VMX_CR0_FIXED0) & CR0_NE) {
        write_cr0(cr0 & ~CR0_NE);
        observe("vmxon-cr0-ne-clear", outcome_of(vmxon(vmx_pa(&vmxon_region))), GP0, S_VMXON);
    } else {
        skipped("vmxon-cr0-ne-clear", "CR0.NE is not a VMX-fixed bit here");
    }
    write_cr0(cr0);

    /* Other VMX instructions are #UD outside VMX operation even with
     * CR4.VMXE = 1. */
    observe("vmptrld-outside-vmx", outcome_of(vmptrld(vmx_pa(&vmcs_a))), UD, S_VMPTRLD);
    observe("vmcall-outside-vmx", outcome_of(vmcall()), UD, S_VMCALL);

    /* A bad VMXON operand is VMfailInvalid (there is no current VMCS yet):
     * not 4 KiB aligned, beyond the physical-address width, wrong revision
     * identifier, or bit 31 of the revision set (§30.3 "VMXON"). */
    observe("vmxon-unaligned", outcome_of(vmxon(vmx_pa(&vmxon_region) + 0x800)), INVALID, S_VMXON);
    observe("vmxon-beyond-maxphys", outcome_of(vmxon(vmx_pa(&vmxon_region) | (1ull << maxphys))), INVALID,
            S_VMXON);
    vmxon_region.revision ^= 1;
    observe("vmxon-wrong-revision", outcome_of(vmxon(vmx_pa(&vmxon_region))), INVALID, S_VMXON);
    vmxon_region.revision ^= 1;
    vmxon_region.revision |= 0x80000000u;
    observe("vmxon-revision-bit31", outcome_of(vmxon(vmx_pa(&vmxon_region))), INVALID, S_VMXON);
    vmxon_region.revision &= 0x7FFFFFFFu;

    observe("vmxon", outcome_of(vmxon(vmx_pa(&vmxon_region))), OK, S_VMXON);
}

/* 3. In VMX root operation without a current VMCS: VMfail is
 *    VMfailInvalid, since there is no VMCS to hold an error number (§30.2
 *    "Conventions"). */
static void root_without_current_vmcs(void)
{
    uint64_t v = 0;
    observe("vmxon-in-root-no-current-vmcs", outcome_of(vmxon(vmx_pa(&vmxon_region))), INVALID, S_VMXON);
    enum vmx_status s = vmptrst(&v);
    observe("vmptrst-no-current-vmcs", s == VMX_OK ? OK_VALUE(v) : outcome_of(s), OK_VALUE(~0ull), S_VMPTRST);
    observe("vmread-no-current-vmcs", outcome_of(vmread(VMCS_GUEST_RIP, &v)), INVALID, S_VMREAD);
    observe("vmwrite-no-current-vmcs", outcome_of(vmwrite(VMCS_GUEST_RIP, 0)), INVALID, S_VMWRITE);
    observe("vmlaunch-no-current-vmcs", enter(VMX_LAUNCH | VMX_KEEP_HOST_RSP_RIP), INVALID, S_VMLAUNCH);
    observe("vmresume-no-current-vmcs", enter(VMX_RESUME | VMX_KEEP_HOST_RSP_RIP), INVALID, S_VMLAUNCH);
    observe("vmclear-unaligned-no-current-vmcs", outcome_of(vmclear(vmx_pa(&vmcs_a) + 8)), INVALID, S_VMCLEAR);
    observe("vmptrld-vmxon-pointer-no-current-vmcs", outcome_of(vmptrld(vmx_pa(&vmxon_region))), INVALID,
            S_VMPTRLD);
    if (run_all)
        observe("vmcall-in-root-no-current-vmcs", outcome_of(vmcall()), INVALID, S_VMCALL);
    else
        skipped("vmcall-in-root-no-current-vmcs", "Bochs 2.7 panics; boot with \"all\" to run");
}

/* 4. With a current VMCS: the VMfailValid(N) of the non-entry instructions. */
static void root_with_current_vmcs(void)
{
    uint64_t v = 0;
    must("VMCLEAR", vmclear(vmx_pa(&vmcs_a)));
    observe("vmptrld", outcome_of(vmptrld(vmx_pa(&vmcs_a))), OK, S_VMPTRLD);
    enum vmx_status s = vmptrst(&v);
    observe("vmptrst-is-vmptrld-operand", s == VMX_OK ? OK_VALUE(v == vmx_pa(&vmcs_a)) : outcome_of(s),
            OK_VALUE(1), S_VMPTRST);

    /* VMCLEAR: 2 = invalid address (unaligned or beyond the width), 3 = the
     * VMXON pointer (§30.3 "VMCLEAR"). */
    observe("vmclear-unaligned", outcome_of(vmclear(vmx_pa(&vmcs_b) + 8)), VALID(2), S_VMCLEAR);
    observe("vmclear-beyond-maxphys", outcome_of(vmclear(vmx_pa(&vmcs_b) | (1ull << maxphys))), VALID(2),
            S_VMCLEAR);
    observe("vmclear-vmxon-pointer", outcome_of(vmclear(vmx_pa(&vmxon_region))), VALID(3), S_VMCLEAR);

    /* VMPTRLD: 9 = invalid address, 10 = the VMXON pointer, 11 = wrong
     * revision identifier (§30.3 "VMPTRLD").  A failed VMPTRLD leaves the
     * current VMCS alone, so the error lands in VMCS A. */
    observe("vmptrld-unaligned", outcome_of(vmptrld(vmx_pa(&vmcs_b) + 8)), VALID(9), S_VMPTRLD);
    observe("vmptrld-beyond-maxphys", outcome_of(vmptrld(vmx_pa(&vmcs_b) | (1ull << maxphys))), VALID(9),
            S_VMPTRLD);
    observe("vmptrld-vmxon-pointer", outcome_of(vmptrld(vmx_pa(&vmxon_region))), VALID(10), S_VMPTRLD);
    observe("vmptrld-wrong-revision", outcome_of(vmptrld(vmx_pa(&vmcs_bad_revision))), VALID(11), S_VMPTRLD);
    s = vmptrst(&v);
    observe("vmptrst-unchanged-after-failures", s == VMX_OK ? OK_VALUE(v == vmx_pa(&vmcs_a)) : outcome_of(s),
            OK_VALUE(1), S_VMPTRLD);

    /* VMREAD/VMWRITE: 12 = no such component (bits 31:15 of an encoding are
     * reserved, and in 64-bit mode all 64 bits of the register count), 13 =
     * VMWRITE to a read-only field, unless IA32_VMX_MISC[29] says VMWRITE may
     * write any field (§30.3 "VMREAD", "VMWRITE"; §A.6 "Miscellaneous
     * Data"). */
    observe("vmread-field-0x8000", outcome_of(vmread(0x8000, &v)), VALID(12), S_VMREAD);
    observe("vmread-field-bit32", outcome_of(vmread((1ull << 32) | VMCS_GUEST_RIP, &v)), VALID(12), S_VMREAD);
    observe("vmwrite-field-0x8000", outcome_of(vmwrite(0x8000, 0)), VALID(12), S_VMWRITE);
    observe("vmwrite-field-bit32", outcome_of(vmwrite((1ull << 32) | VMCS_GUEST_RIP, 0)), VALID(12), S_VMWRITE);
    bool vmwrite_any = (rdmsr(MSR_IA32_VMX_MISC) >> 29) & 1;
    observe("vmwrite-read-only-exit-reason", outcome_of(vmwrite(VMCS_EXIT_REASON, 0)),
            vmwrite_any ? OK : VALID(13), S_VMWRITE);

    /* 15 = VMXON in VMX root operation; 1 = VMCALL in VMX root operation
     * (without dual-monitor SMM) (§30.3 "VMXON", "VMCALL"). */
    observe("vmxon-in-root", outcome_of(vmxon(vmx_pa(&vmxon_region))), VALID(15), S_VMXON);
    if (run_all)
        observe("vmcall-in-root", outcome_of(vmcall()), VALID(1), S_VMCALL);
    else
        skipped("vmcall-in-root", "Bochs 2.7 panics; boot with \"all\" to run");

    /* VMLAUNCH/VMRESUME before any checks of the VMCS contents: events
     * blocked by MOV SS = 26 (tested before the launch state), VMRESUME of a
     * clear VMCS = 5 (§30.3 "VMLAUNCH/VMRESUME"). */
    fresh_vmcs();
    observe("vmlaunch-after-mov-ss", enter(VMX_LAUNCH_AFTER_MOV_SS), VALID(26), S_VMLAUNCH);
    observe("vmresume-after-mov-ss", enter(VMX_RESUME_AFTER_MOV_SS), VALID(26), S_VMLAUNCH);
    observe("vmresume-clear-vmcs", enter(VMX_RESUME), VALID(5), S_VMLAUNCH);

    /* A good entry; then VMLAUNCH of the now launched VMCS = 4; VMRESUME
     * works (the guest's next instruction, VMCALL, exits with reason 18). */
    fresh_vmcs();
    observe("entry-ok-guest-hlt", enter(VMX_LAUNCH), EXIT(EXIT_REASON_HLT, 0), "§25.1.3 \"Instructions That Cause VM Exits Conditionally\"");
    observe("vmlaunch-launched-vmcs", enter(VMX_LAUNCH), VALID(4), S_VMLAUNCH);
    set(VMCS_GUEST_RIP, read_field(VMCS_GUEST_RIP) + read_field(VMCS_EXIT_INSTRUCTION_LENGTH));
    observe("vmresume-guest-vmcall", enter(VMX_RESUME), EXIT(EXIT_REASON_VMCALL, 0),
            "§25.1.2 \"Instructions That Cause VM Exits Unconditionally\"");
}

/* 5. VM entry, checks on the VMX controls: VMfailValid(7). */
static void entry_control_checks(void)
{
    uint32_t bit;

    /* Reserved bits: a must-be-1 control cleared, a must-be-0 control set
     * (§26.2.1.1, reading the capability MSRs of §A.3). */
    if ((bit = lowest_bit(vmx_must_be_1(VMX_CTL_PIN))) != 0) {
        fresh_vmcs();
        set(VMCS_PIN_BASED_CONTROLS, read_field(VMCS_PIN_BASED_CONTROLS) & ~bit);
        observe("entry-pin-must-be-1-cleared", enter(VMX_LAUNCH), VALID(7), S_EXEC_CTLS);
    } else {
        skipped("entry-pin-must-be-1-cleared", "no must-be-1 pin-based control");
    }
    if ((bit = lowest_bit(~vmx_may_be_1(VMX_CTL_PROC))) != 0) {
        fresh_vmcs();
        set(VMCS_PRIMARY_PROC_CONTROLS, read_field(VMCS_PRIMARY_PROC_CONTROLS) | bit);
        observe("entry-proc-must-be-0-set", enter(VMX_LAUNCH), VALID(7), S_EXEC_CTLS);
    } else {
        skipped("entry-proc-must-be-0-set", "no must-be-0 primary control");
    }
    if ((bit = lowest_bit(vmx_must_be_1(VMX_CTL_EXIT))) != 0) {
        fresh_vmcs();
        set(VMCS_EXIT_CONTROLS, read_field(VMCS_EXIT_CONTROLS) & ~bit);
        observe("entry-exit-ctls-must-be-1-cleared", enter(VMX_LAUNCH), VALID(7), S_EXIT_CTLS);
    } else {
        skipped("entry-exit-ctls-must-be-1-cleared", "no must-be-1 VM-exit control");
    }
    if ((bit = lowest_bit(~vmx_may_be_1(VMX_CTL_ENTRY))) != 0) {
        fresh_vmcs();
        set(VMCS_ENTRY_CONTROLS, read_field(VMCS_ENTRY_CONTROLS) | bit);
        observe("entry-entry-ctls-must-be-0-set", enter(VMX_LAUNCH), VALID(7), S_ENTRY_CTLS);
    } else {
        skipped("entry-entry-ctls-must-be-0-set", "no must-be-0 VM-entry control");
    }

    /* CR3-target count above what IA32_VMX_MISC[24:16] supports (4). */
    unsigned cr3_targets = (unsigned)(rdmsr(MSR_IA32_VMX_MISC) >> 16) & 0x1FF;
    fresh_vmcs();
    set(VMCS_CR3_TARGET_COUNT, cr3_targets + 1);
    observe("entry-cr3-target-count-too-big", enter(VMX_LAUNCH), VALID(7), S_EXEC_CTLS);

    /* Bitmap addresses must be 4 KiB aligned (bits 11:0 = 0). */
    fresh_vmcs();
    set(VMCS_PRIMARY_PROC_CONTROLS, read_field(VMCS_PRIMARY_PROC_CONTROLS) | PROC_USE_IO_BITMAPS);
    set(VMCS_IO_BITMAP_A, vmx_pa(bitmap_page) + 0x800);
    set(VMCS_IO_BITMAP_B, vmx_pa(bitmap_page));
    observe("entry-io-bitmap-unaligned", enter(VMX_LAUNCH), VALID(7), S_EXEC_CTLS);
    fresh_vmcs();
    set(VMCS_PRIMARY_PROC_CONTROLS, read_field(VMCS_PRIMARY_PROC_CONTROLS) | PROC_USE_MSR_BITMAPS);
    set(VMCS_MSR_BITMAP, vmx_pa(bitmap_page) + 0x10);
    observe("entry-msr-bitmap-unaligned", enter(VMX_LAUNCH), VALID(7), S_EXEC_CTLS);

    /* VM-exit MSR-store and VM-entry MSR-load areas: 16-byte aligned, within
     * the physical-address width (§26.2.1.2, §26.2.1.3). */
    fresh_vmcs();
    set(VMCS_EXIT_MSR_STORE_COUNT, 1);
    set(VMCS_EXIT_MSR_STORE_ADDR, vmx_pa(msr_area) + 8);
    observe("entry-exit-msr-store-unaligned", enter(VMX_LAUNCH), VALID(7), S_EXIT_CTLS);
    fresh_vmcs();
    set(VMCS_ENTRY_MSR_LOAD_COUNT, 1);
    set(VMCS_ENTRY_MSR_LOAD_ADDR, vmx_pa(msr_area) + 8);
    observe("entry-msr-load-unaligned", enter(VMX_LAUNCH), VALID(7), S_ENTRY_CTLS);
    fresh_vmcs();
    set(VMCS_ENTRY_MSR_LOAD_COUNT, 1);
    set(VMCS_ENTRY_MSR_LOAD_ADDR, 1ull << maxphys);
    observe("entry-msr-load-beyond-maxphys", enter(VMX_LAUNCH), VALID(7), S_ENTRY_CTLS);

    /* Event injection (§26.2.1.3): interruption type 1 is reserved; a
     * hardware exception that pushes an error code (#GP) must be injected
     * with "deliver error code" = 1 in protected mode. */
    fresh_vmcs();
    set(VMCS_ENTRY_INTERRUPTION_INFO, (1u << 31) | (1u << 8) | 0x20);
    observe("entry-inject-reserved-type", enter(VMX_LAUNCH), VALID(7), S_ENTRY_CTLS);
    fresh_vmcs();
    set(VMCS_ENTRY_INTERRUPTION_INFO, (1u << 31) | (3u << 8) | 13);
    observe("entry-inject-gp-without-error-code", enter(VMX_LAUNCH), VALID(7), S_ENTRY_CTLS);
}

/* 6. VM entry, checks on the host-state area: VMfailValid(8). */
static void entry_host_checks(void)
{
    fresh_vmcs();
    set(VMCS_HOST_CR0, read_field(VMCS_HOST_CR0) & ~CR0_NE);
    observe("entry-host-cr0-ne-clear", enter(VMX_LAUNCH), VALID(8), S_HOST_CR);
    fresh_vmcs();
    set(VMCS_HOST_CR4, read_field(VMCS_HOST_CR4) & ~CR4_VMXE);
    observe("entry-host-cr4-vmxe-clear", enter(VMX_LAUNCH), VALID(8), S_HOST_CR);
    fresh_vmcs();
    set(VMCS_HOST_CR3, read_field(VMCS_HOST_CR3) | (1ull << maxphys));
    observe("entry-host-cr3-beyond-maxphys", enter(VMX_LAUNCH), VALID(8), S_HOST_CR);

    fresh_vmcs();
    set(VMCS_HOST_CS_SELECTOR, VMX_SEL_CODE64 | 4);   /* TI = 1 */
    observe("entry-host-cs-ti-set", enter(VMX_LAUNCH), VALID(8), S_HOST_SEG);
    fresh_vmcs();
    set(VMCS_HOST_SS_SELECTOR, VMX_SEL_DATA | 3);     /* RPL = 3 */
    observe("entry-host-ss-rpl-set", enter(VMX_LAUNCH), VALID(8), S_HOST_SEG);
    fresh_vmcs();
    set(VMCS_HOST_CS_SELECTOR, 0);
    observe("entry-host-cs-null", enter(VMX_LAUNCH), VALID(8), S_HOST_SEG);
    fresh_vmcs();
    set(VMCS_HOST_TR_SELECTOR, 0);
    observe("entry-host-tr-null", enter(VMX_LAUNCH), VALID(8), S_HOST_SEG);
    fresh_vmcs();
    set(VMCS_HOST_GDTR_BASE, 0x0000800000000000ull);
    observe("entry-host-gdtr-base-noncanonical", enter(VMX_LAUNCH), VALID(8), S_HOST_SEG);

    /* A 64-bit host (IA32_EFER.LMA = 1) needs "host address-space size" = 1,
     * then CR4.PAE = 1 and a canonical RIP (§26.2.4).  HOST_RIP is written
     * here, so enter without vmx_run_guest's own HOST_RSP/RIP. */
    fresh_vmcs();
    set(VMCS_EXIT_CONTROLS, read_field(VMCS_EXIT_CONTROLS) & ~EXIT_HOST_ADDRESS_SPACE_SIZE);
    observe("entry-host-address-space-size-0", enter(VMX_LAUNCH), VALID(8), S_HOST_AS);
    fresh_vmcs();
    set(VMCS_HOST_CR4, read_field(VMCS_HOST_CR4) & ~CR4_PAE);
    observe("entry-host-cr4-pae-clear", enter(VMX_LAUNCH), VALID(8), S_HOST_AS);
    fresh_vmcs();
    set(VMCS_HOST_RSP, vmx_pa(guest_stack));
    set(VMCS_HOST_RIP, 0x0000800000000000ull);
    observe("entry-host-rip-noncanonical", enter(VMX_LAUNCH | VMX_KEEP_HOST_RSP_RIP), VALID(8), S_HOST_AS);
}

/* 7. VM entry, checks on the guest-state area: a VM exit with reason 33
 *    and bit 31 set; qualification 0, or 4 for a bad VMCS link pointer
 *    (§26.8 "VM-Entry Failures During or After Loading Guest State", §27.2.1
 *    "Basic VM-Exit Information"). */
static void entry_guest_checks(void)
{
    fresh_vmcs();
    set(VMCS_GUEST_CR0, read_field(VMCS_GUEST_CR0) & ~CR0_PE);
    observe("entry-guest-cr0-pg-without-pe", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_CR);
    fresh_vmcs();
    set(VMCS_GUEST_CR4, read_field(VMCS_GUEST_CR4) & ~CR4_PAE);
    observe("entry-guest-ia32e-without-cr4-pae", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_CR);
    fresh_vmcs();
    set(VMCS_GUEST_TR_ACCESS_RIGHTS, AR_TSS64 | AR_UNUSABLE);
    observe("entry-guest-tr-unusable", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_SEG);
    fresh_vmcs();
    set(VMCS_GUEST_CS_ACCESS_RIGHTS, AR_CODE64 | AR_DB);
    observe("entry-guest-cs-l-and-d", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_SEG);
    /* Guest RIP in a 64-bit guest: "bits 63:N must be identical" for N = 48
     * linear-address bits (§26.3.1.4), so bits 63:48 — unlike host RIP
     * (§26.2.4 "canonical"), bit 47 is not part of the check: RIP
     * 0x0000800000000000 passes it and faults only on the first fetch.  Bit 48
     * set alone makes bits 63:48 differ. */
    fresh_vmcs();
    set(VMCS_GUEST_RIP, 0x0001000000000000ull);
    observe("entry-guest-rip-noncanonical", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_RIP);
    fresh_vmcs();
    set(VMCS_GUEST_RFLAGS, 0);
    observe("entry-guest-rflags-bit1-clear", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_RIP);
    fresh_vmcs();
    set(VMCS_GUEST_ACTIVITY_STATE, 4);
    observe("entry-guest-activity-state-4", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_NONREG);
    fresh_vmcs();
    set(VMCS_GUEST_INTERRUPTIBILITY, 1);   /* blocking by STI while RFLAGS.IF = 0 */
    observe("entry-guest-sti-blocking-with-if0", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(0), S_GUEST_NONREG);
    fresh_vmcs();
    set(VMCS_LINK_POINTER, vmx_pa(&vmcs_b) + 8);
    observe("entry-guest-link-pointer-unaligned", enter(VMX_LAUNCH), ENTRY_FAIL_GUEST(4), S_GUEST_NONREG);
}

/* 8. VM-entry MSR loading: a VM exit with reason 34 and bit 31 set; the
 *    qualification is the 1-based number of the failing entry (§26.4
 *    "Loading MSRs": x2APIC MSRs 800H-8FFH, FS/GS base, and entries with
 *    reserved bits set are refused). */
static void entry_msr_load_checks(void)
{
    fresh_vmcs();
    msr_area[0] = (struct msr_entry){ MSR_IA32_SYSENTER_CS, 0, 0 };
    msr_area[1] = (struct msr_entry){ 0x808, 0, 0 };    /* x2APIC TPR */
    set(VMCS_ENTRY_MSR_LOAD_COUNT, 2);
    set(VMCS_ENTRY_MSR_LOAD_ADDR, vmx_pa(msr_area));
    observe("entry-msr-load-x2apic-index", enter(VMX_LAUNCH), ENTRY_FAIL_MSR(2), S_MSR_LOAD);
    fresh_vmcs();
    msr_area[0] = (struct msr_entry){ MSR_IA32_FS_BASE, 0, 0 };
    set(VMCS_ENTRY_MSR_LOAD_COUNT, 1);
    set(VMCS_ENTRY_MSR_LOAD_ADDR, vmx_pa(msr_area));
    observe("entry-msr-load-fs-base", enter(VMX_LAUNCH), ENTRY_FAIL_MSR(1), S_MSR_LOAD);
    fresh_vmcs();
    msr_area[0] = (struct msr_entry){ MSR_IA32_SYSENTER_CS, 1, 0 };   /* reserved bits 63:32 */
    set(VMCS_ENTRY_MSR_LOAD_COUNT, 1);
    set(VMCS_ENTRY_MSR_LOAD_ADDR, vmx_pa(msr_area));
    observe("entry-msr-load-reserved-bits", enter(VMX_LAUNCH), ENTRY_FAIL_MSR(1), S_MSR_LOAD);
}

/* 9. Leaving: VMCLEAR of the current VMCS makes the current-VMCS pointer
 *    invalid; VMXOFF; afterwards VMX instructions are #UD again; VMX
 *    operation can be entered and left once more. */
static void leaving(void)
{
    uint64_t v = 0;
    observe("vmclear-current", outcome_of(vmclear(vmx_pa(&vmcs_a))), OK, S_VMCLEAR);
    enum vmx_status s = vmptrst(&v);
    observe("vmptrst-after-vmclear-current", s == VMX_OK ? OK_VALUE(v) : outcome_of(s), OK_VALUE(~0ull),
            S_VMPTRST);
    observe("vmxoff", outcome_of(vmxoff()), OK, S_VMXOFF);
    observe("vmread-after-vmxoff", outcome_of(vmread(VMCS_GUEST_RIP, &v)), UD, S_VMREAD);
    observe("vmxoff-after-vmxoff", outcome_of(vmxoff()), UD, S_VMXOFF);
    observe("vmxon-again", outcome_of(vmxon(vmx_pa(&vmxon_region))), OK, S_VMXON);
    observe("vmxoff-again", outcome_of(vmxoff()), OK, S_VMXOFF);
}

int kmain(uint32_t magic, uint32_t mbi)
{
    const char *cmdline = multiboot_cmdline(magic, mbi);
    run_all = cmdline && strcmp(cmdline, "all") == 0;
    kprintf("vmx-errors: VM-instruction errors, VMfailInvalid, faults and VM-entry failures\n");
    if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX)) {
        kprintf("FAIL: vmx-errors: CPUID.1:ECX.VMX[bit 5] = 0: no VMX on this CPU\n");
        return GUEST_EXIT_FAIL;
    }
    maxphys = vmx_physical_address_width();
    if (rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_32BIT_ADDRESSES)
        maxphys = 32;
    kprintf("vmx-errors: physical-address width %u, IA32_VMX_BASIC 0x%lx, IA32_VMX_MISC 0x%lx\n", maxphys,
            rdmsr(MSR_IA32_VMX_BASIC), rdmsr(MSR_IA32_VMX_MISC));

    vmx_catch_faults();
    vmx_load_host_gdt();
    vmx_init_region(&vmxon_region);
    vmx_init_region(&vmcs_a);
    vmx_init_region(&vmcs_b);
    vmx_init_region(&vmcs_bad_revision);
    vmcs_bad_revision.revision ^= 1;

    write_cr4(read_cr4() & ~CR4_VMXE);
    outside_vmx_without_vmxe();
    write_cr4(vmx_fix_cr4(read_cr4() | CR4_VMXE));
    outside_vmx_with_vmxe();
    root_without_current_vmcs();
    root_with_current_vmcs();
    entry_control_checks();
    entry_host_checks();
    entry_guest_checks();
    entry_msr_load_checks();
    leaving();

    if (contradictions) {
        kprintf("vmx-errors: %u observations, %u contradict the SDM\n", observations, contradictions);
        return GUEST_EXIT_FAIL;
    }
    kprintf("vmx-errors: %u observations\n", observations);
    return GUEST_EXIT_OK;
}
