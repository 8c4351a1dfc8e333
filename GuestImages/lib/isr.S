/*
 * isr.S — the first instructions run on a CPU exception (vectors 0-31).
 *
 * In 64-bit mode the CPU delivers an exception through an IDT gate like this
 * (SDM Vol. 3A §6.14 "Exception and Interrupt Handling in 64-bit Mode"):
 * it aligns RSP down to 16 bytes, pushes SS, RSP, RFLAGS, CS, RIP, and for
 * some vectors an error code, then jumps to the gate's handler with IF
 * cleared (we only use interrupt gates).
 *
 * Only some exceptions push an error code (SDM Vol. 3A §6.15 "Exception and
 * Interrupt Reference", one entry per vector): #DF(8), #TS(10), #NP(11),
 * #SS(12), #GP(13), #PF(14), #AC(17), #CP(21).  To give C one frame layout
 * for all vectors, each stub below pushes a dummy 0 where the CPU pushed
 * nothing, then pushes its vector number, then jumps to the common code,
 * which saves every general register and calls
 *
 *     void exception_dispatch(struct trap_frame *frame);   (idt.c)
 *
 * If that returns, the registers are restored from the frame (which the C
 * code may have edited, e.g. to skip the faulting instruction) and IRETQ
 * resumes at frame->rip.
 *
 * Stack arithmetic: CPU frame 5*8 + error code 8 + vector 8 + 15 registers
 * 15*8 = 176 = 11*16, so RSP is 16-byte aligned at the CALL, as the ABI
 * requires.
 */

        .cfi_sections .debug_frame      /* unwind info for gdb, not .eh_frame */
        .text
        .code64

        .altmacro
        .macro  ISR_STUB vec
        .type   isr_\vec, @function
isr_\vec:
        .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21)
        /* the CPU pushed an error code */
        .else
        pushq   $0                      /* no error code: push a stand-in */
        .endif
        pushq   $\vec
        jmp     isr_common
        .size   isr_\vec, . - isr_\vec
        .endm

        .set    vec, 0
        .rept   32
        ISR_STUB %vec
        .set    vec, vec + 1
        .endr

        .globl  isr_common             /* also the target of lib/ring3.S's stubs */
        .type   isr_common, @function
isr_common:
        /* Call-frame information, so that gdb's backtrace from inside
         * exception_dispatch() continues into the code that faulted: the
         * CPU-pushed frame is described as a "signal frame" whose RIP and
         * RSP are stored in memory, and each push below records where it
         * saved a register. */
        .cfi_startproc simple
        .cfi_signal_frame
        .cfi_def_cfa    %rsp, 7 * 8     /* vector, error code, RIP, CS, RFLAGS, RSP, SS */
        .cfi_offset     %rip, -5 * 8
        .cfi_offset     %rsp, -2 * 8
        .irp    reg, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
        pushq   %\reg
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %\reg, 0
        .endr
        movq    %rsp, %rdi              /* struct trap_frame * */
        cld                             /* the C ABI wants DF = 0 */
        call    exception_dispatch
        .irp    reg, r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax
        popq    %\reg
        .endr
        addq    $16, %rsp               /* drop vector and error code */
        iretq
        .cfi_endproc
        .size   isr_common, . - isr_common

/* Addresses of the 32 stubs, for idt_init(). */
        .section .rodata
        .align  8
        .globl  isr_stub_table
        .macro  STUB_ADDRESS vec
        .quad   isr_\vec
        .endm
isr_stub_table:
        .set    vec, 0
        .rept   32
        STUB_ADDRESS %vec
        .set    vec, vec + 1
        .endr
