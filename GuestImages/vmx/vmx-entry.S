/*
 * vmx-entry.S — entering a guest and coming back from a VM exit.
 *
 *   enum vmx_status vmx_run_guest(struct guest_regs *regs, enum vmx_entry_kind how);
 *
 * A VM exit does not "return" anywhere: the CPU loads the host-state area of
 * the VMCS, so execution continues at HOST_RIP with RSP = HOST_RSP and every
 * general register except RSP still holding the *guest's* values (SDM
 * §27.5 "Loading Host State"; only RSP/RIP/RFLAGS and the control, segment
 * and descriptor-table registers come from the VMCS).  So this function:
 *
 *   1. saves the callee-saved registers and the regs pointer on its stack;
 *   2. VMWRITEs HOST_RSP = that stack pointer and HOST_RIP = vmx_exit_entry,
 *      so an exit resumes below with exactly this stack;
 *   3. loads the guest's general registers from *regs and executes
 *      VMLAUNCH or VMRESUME.
 *
 * If the instruction fails (VMfailInvalid: CF, VMfailValid: ZF) execution
 * simply continues after it: we return 1 or 2.  If it succeeds the guest
 * runs; at the next VM exit vmx_exit_entry stores the guest registers into
 * *regs and returns VMX_OK (0) from vmx_run_guest.
 *
 * Faults of VMLAUNCH/VMRESUME (#UD outside VMX operation, ...) are caught
 * through vmx_recover_rip like the inline wrappers in vmx.h.
 */
#define VMCS_HOST_RSP 0x6C14
#define VMCS_HOST_RIP 0x6C16
#define VMX_FAULT 3

/* struct guest_regs offsets */
#define R_RAX 0
#define R_RBX 8
#define R_RCX 16
#define R_RDX 24
#define R_RSI 32
#define R_RDI 40
#define R_RBP 48
#define R_R8  56
#define R_R9  64
#define R_R10 72
#define R_R11 80
#define R_R12 88
#define R_R13 96
#define R_R14 104
#define R_R15 112

        .cfi_sections .debug_frame
        .text
        .code64
        .globl  vmx_run_guest
        .type   vmx_run_guest, @function
vmx_run_guest:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        pushq   %rsi                    /* how */
        .cfi_adjust_cfa_offset 8
        pushq   %rdi                    /* regs: at 0(%rsp) when an exit lands */
        .cfi_adjust_cfa_offset 8
        movq    %rsp, vmx_frame_rsp(%rip)

        /* Arm the fault recovery: a #UD/#GP of VMWRITE, VMLAUNCH or
         * VMRESUME resumes at .Lafter (the exception hook in vmx.c records
         * the vector). */
        movl    $-1, vmx_fault_vector(%rip)
        leaq    vmx_run_guest(%rip), %rax
        movq    %rax, vmx_recover_from(%rip)
        leaq    .Lafter(%rip), %rax
        movq    %rax, vmx_recover_rip(%rip)

        /* how & 4 (VMX_KEEP_HOST_RSP_RIP): leave HOST_RSP/HOST_RIP as they
         * are (for tests of invalid host state). */
        testq   $4, 8(%rsp)
        jnz     .Lload_guest
        movq    $VMCS_HOST_RSP, %rax
        vmwrite %rsp, %rax
        jc      .Lfail_invalid          /* no current VMCS */
        jz      .Lfail_valid
        movq    $VMCS_HOST_RIP, %rax
        leaq    vmx_exit_entry(%rip), %rdx
        vmwrite %rdx, %rax
        jc      .Lfail_invalid
        jz      .Lfail_valid

        /* Guest registers; RAX (the base) last.  MOV leaves the flags of
         * the TEST alone. */
.Lload_guest:
        movq    %rdi, %rax
        movq    R_RBX(%rax), %rbx
        movq    R_RCX(%rax), %rcx
        movq    R_RDX(%rax), %rdx
        movq    R_RSI(%rax), %rsi
        movq    R_RDI(%rax), %rdi
        movq    R_RBP(%rax), %rbp
        movq    R_R8(%rax), %r8
        movq    R_R9(%rax), %r9
        movq    R_R10(%rax), %r10
        movq    R_R11(%rax), %r11
        movq    R_R12(%rax), %r12
        movq    R_R13(%rax), %r13
        movq    R_R14(%rax), %r14
        movq    R_R15(%rax), %r15
        testq   $2, 8(%rsp)             /* how & 2: right after MOV SS */
        jnz     .Lmov_ss
        testq   $1, 8(%rsp)             /* how & 1: VMRESUME */
        movq    R_RAX(%rax), %rax
        jnz     .Lresume
        vmlaunch
        jmp     .Lafter
.Lresume:
        vmresume
        jmp     .Lafter
.Lmov_ss:
        testq   $1, 8(%rsp)
        movw    %ss, %ax                /* (the guest's RAX is not needed: a   */
        jnz     .Lmov_ss_resume         /*  VMfail is the expected outcome)    */
        movw    %ax, %ss                /* blocks events until after the next instruction */
        vmlaunch
        jmp     .Lafter
.Lmov_ss_resume:
        movw    %ax, %ss
        vmresume

        /* The instruction did not enter the guest: VMfail, or a fault (then
         * the flags are those of the faulting moment: look at the vector
         * first). */
.Lafter:
        setc    %bl                     /* SETcc and MOV leave the flags alone; */
        setz    %bh                     /* CMP below does not */
        movq    $0, vmx_recover_rip(%rip)
        movq    vmx_frame_rsp(%rip), %rsp
        cmpl    $0, vmx_fault_vector(%rip)
        jge     .Lfault
        testb   %bl, %bl
        jnz     .Lfail_invalid
        testb   %bh, %bh
        jnz     .Lfail_valid
        xorl    %eax, %eax              /* no flag and no exit: cannot happen */
        jmp     .Lreturn
.Lfault:
        movl    $VMX_FAULT, %eax
        jmp     .Lreturn
.Lfail_valid:
        movl    $2, %eax
        jmp     .Lreturn
.Lfail_invalid:
        movl    $1, %eax
        jmp     .Lreturn

        /* HOST_RIP.  RSP = HOST_RSP = the frame built above; every other
         * general register holds the guest's value. */
        .globl  vmx_exit_entry
vmx_exit_entry:
        pushq   %rax                    /* guest RAX; regs pointer now at 8(%rsp) */
        movq    8(%rsp), %rax
        movq    %rbx, R_RBX(%rax)
        movq    %rcx, R_RCX(%rax)
        movq    %rdx, R_RDX(%rax)
        movq    %rsi, R_RSI(%rax)
        movq    %rdi, R_RDI(%rax)
        movq    %rbp, R_RBP(%rax)
        movq    %r8, R_R8(%rax)
        movq    %r9, R_R9(%rax)
        movq    %r10, R_R10(%rax)
        movq    %r11, R_R11(%rax)
        movq    %r12, R_R12(%rax)
        movq    %r13, R_R13(%rax)
        movq    %r14, R_R14(%rax)
        movq    %r15, R_R15(%rax)
        popq    %rbx
        movq    %rbx, R_RAX(%rax)
        xorl    %eax, %eax              /* VMX_OK: a VM exit happened */
        cld                             /* the C ABI wants DF = 0 (an exit clears it anyway) */

.Lreturn:
        movq    $0, vmx_recover_rip(%rip)
        addq    $16, %rsp               /* regs, how */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   vmx_run_guest, . - vmx_run_guest

/* A HOST_RIP for VMCS images that must never be entered successfully: if an
 * implementation enters and exits anyway, say so and stop. */
        .globl  vmx_exit_trampoline
        .type   vmx_exit_trampoline, @function
vmx_exit_trampoline:
        leaq    vmx_trampoline_stack_top(%rip), %rsp
        call    vmx_unexpected_exit
        .size   vmx_exit_trampoline, . - vmx_exit_trampoline

        .bss
        .align  16
vmx_trampoline_stack:
        .skip   4096
vmx_trampoline_stack_top:
        .align  8
        .globl  vmx_frame_rsp
vmx_frame_rsp:
        .skip   8
