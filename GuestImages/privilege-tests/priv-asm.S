/*
 * priv-asm.S — the assembly half of privilege-tests: the SYSCALL and
 * SYSENTER entry points (CPL 0) and a piece of 32-bit compatibility-mode
 * code run at CPL 3.
 */
        .text
        .code64

/* SYSCALL lands here at CPL 0 with CS = STAR[47:32], SS = STAR[47:32] + 8,
 * RCX = the return RIP, R11 = the old RFLAGS, RFLAGS &= ~IA32_FMASK, and the
 * user's RSP unchanged (SDM Vol. 2B SYSCALL; Vol. 3A §5.8.8 "Fast System
 * Calls in 64-Bit Mode").  Record all of it, then SYSRETQ. */
        .globl  syscall_entry
        .type   syscall_entry, @function
syscall_entry:
        movq    %rcx, sc_rcx(%rip)
        movq    %r11, sc_r11(%rip)
        movq    %rsp, sc_rsp(%rip)
        pushfq
        popq    sc_rflags(%rip)
        movw    %cs, sc_cs(%rip)
        movw    %ss, sc_ss(%rip)
        sysretq
        .size   syscall_entry, . - syscall_entry

/* SYSENTER: CS = IA32_SYSENTER_CS, SS = that + 8, RSP = IA32_SYSENTER_ESP,
 * RIP = IA32_SYSENTER_EIP, RFLAGS.IF/VM/RF cleared (SDM Vol. 2B SYSENTER).
 * SYSEXITQ returns to RIP = RDX, RSP = RCX at CPL 3 with CS =
 * IA32_SYSENTER_CS + 32, SS = IA32_SYSENTER_CS + 40 (Vol. 2B SYSEXIT). */
        .globl  sysenter_entry
        .type   sysenter_entry, @function
sysenter_entry:
        movq    %rsp, se_rsp(%rip)
        pushfq
        popq    se_rflags(%rip)
        movw    %cs, se_cs(%rip)
        movw    %ss, se_ss(%rip)
        sysexitq
        .size   sysenter_entry, . - sysenter_entry

/* Compatibility mode at CPL 3 (CS = 0x23: L = 0, D = 1).  Entered by
 * ring3_call with IRETQ.  It checks that PUSH moves ESP by 4 (32-bit stack
 * width), calls back into the kernel with INT 0x80 (a 64-bit interrupt gate:
 * the handler runs in 64-bit mode, IRETQ brings us back to 32-bit code,
 * SDM Vol. 3A §6.14 "Exception and Interrupt Handling in 64-bit Mode"),
 * then far-jumps to 64-bit user code (CS = 0x33) and leaves with INT 0x81,
 * EAX = 0xC0DE0000 | (ESP delta of one PUSH) | (int 0x80 came back ? 0x100 : 0). */
        .code32
        .globl  user32_entry
        .type   user32_entry, @function
user32_entry:
        movl    %esp, %ebx
        pushl   %eax
        movl    %ebx, %ecx
        subl    %esp, %ecx              /* 4 in 32-bit code */
        popl    %eax
        movl    $0x32323232, %esi       /* the INT 0x80 handler looks at ESI */
        .globl  user32_int80
user32_int80:
        int     $0x80
        .globl  user32_after_int80
user32_after_int80:
        movl    $0xC0DE0100, %eax
        orl     %ecx, %eax
        ljmp    $0x33, $user64_tail
        .size   user32_entry, . - user32_entry

        .code64
user64_tail:
        movl    %eax, %eax              /* 64-bit code again: upper half 0 */
        int     $0x81

        .bss
        .align  8
        .globl  sc_rcx, sc_r11, sc_rsp, sc_rflags, sc_cs, sc_ss
        .globl  se_rsp, se_rflags, se_cs, se_ss
sc_rcx:    .skip 8
sc_r11:    .skip 8
sc_rsp:    .skip 8
sc_rflags: .skip 8
sc_cs:     .skip 8
sc_ss:     .skip 8
se_rsp:    .skip 8
se_rflags: .skip 8
se_cs:     .skip 8
se_ss:     .skip 8
