/*
 * ring3.S — entering CPL 3 with IRETQ and coming back with INT 0x81; stubs
 * for the extra IDT vectors.  See ring3.h.
 */
        .cfi_sections .debug_frame
        .text
        .code64

/* uint64_t ring3_call(const void *fn, uint64_t cs, uint64_t rflags, uint64_t arg)
 *
 * IRETQ to a less privileged level pops RIP, CS, RFLAGS, RSP and SS (SDM
 * Vol. 3A §6.14.3 "IRET in IA-32e Mode"; Vol. 2A IRET, "RETURN-TO-OUTER-
 * PRIVILEGE-LEVEL").  The user stack gets ring3_return_tramp as fn's return
 * address, so a plain `ret` from fn ends up in INT 0x81. */
        .globl  ring3_call
        .type   ring3_call, @function
ring3_call:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, ring3_kernel_rsp(%rip)
        mov     $0x2B, %eax             /* DS = ES = user data: compatibility-mode */
        mov     %eax, %ds               /* code uses them (64-bit code ignores them) */
        mov     %eax, %es
        leaq    ring3_user_stack_top(%rip), %rax
        subq    $8, %rax                /* RSP = 8 mod 16 at fn's entry, as after a CALL */
        leaq    ring3_return_tramp(%rip), %r8
        movq    %r8, (%rax)
        orq     $2, %rdx                /* RFLAGS bit 1 is always 1 */
        pushq   $0x2B                   /* SS */
        pushq   %rax                    /* RSP */
        pushq   %rdx                    /* RFLAGS */
        pushq   %rsi                    /* CS */
        pushq   %rdi                    /* RIP */
        movq    %rcx, %rdi              /* fn's argument */
        xorl    %eax, %eax
        iretq
        .size   ring3_call, . - ring3_call

/* The INT 0x81 gate (DPL 3).  Delivery switched to TSS.RSP0 and pushed the
 * user's SS:RSP, RFLAGS, CS:RIP; none of that is needed: go back to the
 * kernel stack ring3_call left, with the user's RAX as the result. */
        .globl  ring3_exit_stub
        .type   ring3_exit_stub, @function
ring3_exit_stub:
        movq    ring3_kernel_rsp(%rip), %rsp
        mov     $0x18, %ecx
        mov     %ecx, %ds
        mov     %ecx, %es
        mov     %ecx, %ss
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret
        .size   ring3_exit_stub, . - ring3_exit_stub

/* Where fn returns to, at CPL 3 (64-bit mode). */
        .globl  ring3_return_tramp
        .type   ring3_return_tramp, @function
ring3_return_tramp:
        int     $0x81
        ud2
        .size   ring3_return_tramp, . - ring3_return_tramp

        .macro  VEC_STUB name, vec
        .globl  \name
        .type   \name, @function
\name:
        pushq   $0
        pushq   $\vec
        jmp     isr_common
        .size   \name, . - \name
        .endm
        VEC_STUB ring3_vec80, 0x80
        VEC_STUB ring3_vec82, 0x82
        VEC_STUB ring3_vec83, 0x83

        .bss
        .align  8
ring3_kernel_rsp:
        .skip   8
        .align  16
ring3_user_stack:
        .skip   16384
        .globl  ring3_user_stack_top
ring3_user_stack_top:
