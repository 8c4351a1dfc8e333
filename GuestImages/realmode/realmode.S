/*
 * realmode — a firmware image that starts where an x86 CPU starts, and walks the whole
 * ladder of operating modes up and back down:
 *
 *   reset vector (real mode, CS.base = 0xFFFF0000)  →  real mode at F000:xxxx (an IVT call)
 *   →  32-bit protected mode  →  IA-32e 64-bit mode  →  compatibility mode
 *   →  32-bit protected mode (paging off again)  →  16-bit protected mode  →  real mode
 *
 * and reports each rung over COM1, then exits through the debug-exit port (0 = all good).
 * Run it as firmware:   vmxemu run --bios GuestImages/build/realmode.bin
 *                       qemu-system-x86_64 -bios GuestImages/build/realmode.bin \
 *                           -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio -display none
 *
 * The ROM is 64 KiB. A PC maps it twice: at the top of the 4 GiB space (0xFFFF0000, where the
 * first instruction is fetched: SDM Vol. 3A §9.1.4 "First Instruction Executed") and below
 * 1 MiB at 0xF0000. The file is linked at address 0, so in real mode with CS = 0xF000 a label
 * *is* its offset; 32- and 64-bit code adds ROM_LINEAR (0xF0000) to reach the same bytes.
 * Everything the code writes (stack, page tables) lives in RAM below 0x20000.
 */
#define ROM_LINEAR  0xF0000
#define COM1        0x3F8
#define STACK       0x7000
#define PML4        0x10000
#define PDPT        0x11000
#define PD          0x12000

#define SEL_CODE32  0x08
#define SEL_DATA32  0x10
#define SEL_CODE64  0x18
#define SEL_CODE16  0x20
#define SEL_DATA16  0x28

    .section .text
    .code16
/* ---------------------------------------------------------------- real mode, first time */
    .globl real_entry
real_entry:
    cli
    cld
    mov     %cs, %ax                /* 0xF000 after the reset vector's far jump */
    mov     %ax, %ds
    xor     %ax, %ax
    mov     %ax, %ss
    mov     $STACK, %sp

    /* COM1: 115200 8N1, FIFOs on (the usual PC init sequence). */
    mov     $COM1+1, %dx; xor %al, %al;  out %al, %dx     /* IER: no interrupts   */
    mov     $COM1+3, %dx; mov $0x80, %al; out %al, %dx    /* LCR: DLAB            */
    mov     $COM1+0, %dx; mov $1, %al;    out %al, %dx    /* divisor 1            */
    mov     $COM1+1, %dx; xor %al, %al;   out %al, %dx
    mov     $COM1+3, %dx; mov $0x03, %al; out %al, %dx    /* 8N1                  */
    mov     $COM1+2, %dx; mov $0xC7, %al; out %al, %dx    /* FIFO on, cleared     */

    mov     $msg_reset, %si
    call    puts16

    /*
     * Real-mode interrupts go through the IVT at linear 0 (SDM Vol. 3A §20.1.4 "Interrupt and
     * Exception Handling"): four bytes per vector, offset then segment. Install INT 0x80 and
     * call it; the handler leaves a mark in BX.
     */
    xor     %ax, %ax
    mov     %ax, %es
    movw    $int80_handler, %es:(0x80*4)
    movw    %cs, %es:(0x80*4+2)
    xor     %bx, %bx
    int     $0x80
    cmp     $0xBEEF, %bx
    jne     fail16
    mov     $msg_ivt, %si
    call    puts16

    /* Segment arithmetic: linear = segment × 16 + offset. 0x1000:0x0234 is linear 0x10234. */
    mov     $0x1000, %ax
    mov     %ax, %es
    movw    $0x5A5A, %es:0x0234
    xor     %ax, %ax
    mov     %ax, %es
    cmpw    $0x5A5A, %es:0x0234     /* linear 0x234 — a different place */
    je      fail16
    mov     $0x1023, %ax
    mov     %ax, %es
    cmpw    $0x5A5A, %es:0x0004     /* 0x1023:0x0004 — the same place */
    jne     fail16
    mov     $msg_seg, %si
    call    puts16

    /* Up to protected mode: load the GDT, set CR0.PE, far-jump to reload CS (SDM Vol. 3A
       §9.9.1 "Switching to Protected Mode"). */
    lgdtl   %cs:gdt_desc
    mov     %cr0, %eax
    or      $1, %eax
    mov     %eax, %cr0
    ljmpl   $SEL_CODE32, $(ROM_LINEAR + pm32)

int80_handler:
    mov     $0xBEEF, %bx
    iret

fail16:
    mov     $msg_fail, %si
    call    puts16
    mov     $1, %eax
    outl    %eax, $0xF4
1:  hlt
    jmp     1b

/* puts16: print the NUL-terminated string at DS:SI. */
puts16:
    push    %ax
    push    %dx
2:  lodsb
    test    %al, %al
    jz      4f
    mov     %al, %ah
    mov     $COM1+5, %dx
3:  in      %dx, %al
    test    $0x20, %al
    jz      3b
    mov     $COM1, %dx
    mov     %ah, %al
    out     %al, %dx
    jmp     2b
4:  pop     %dx
    pop     %ax
    ret

/* ---------------------------------------------------------------- 32-bit protected mode */
    .code32
pm32:
    mov     $SEL_DATA32, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $STACK, %esp
    mov     $(ROM_LINEAR + msg_pm32), %esi
    call    puts32

    /*
     * Identity-map the first 2 MiB with one large page and enter IA-32e mode: CR4.PAE, CR3,
     * EFER.LME, then CR0.PG (SDM Vol. 3A §9.8.5 "Initializing IA-32e Mode").
     */
    mov     $PML4, %edi
    xor     %eax, %eax
    mov     $(3 * 4096 / 4), %ecx
    rep stosl
    movl    $(PDPT | 3), PML4
    movl    $(PD | 3), PDPT
    movl    $0x83, PD               /* 2 MiB page at 0, present + writable + PS */
    mov     %cr4, %eax
    or      $0x20, %eax
    mov     %eax, %cr4
    mov     $PML4, %eax
    mov     %eax, %cr3
    mov     $0xC0000080, %ecx
    rdmsr
    or      $0x100, %eax
    wrmsr
    mov     %cr0, %eax
    or      $0x80000000, %eax
    mov     %eax, %cr0
    ljmp    $SEL_CODE64, $(ROM_LINEAR + lm64)

/* puts32: print the string at linear ESI (flat data segments). */
puts32:
    push    %eax
    push    %edx
5:  lodsb
    test    %al, %al
    jz      7f
    mov     %al, %ah
    mov     $COM1+5, %dx
6:  in      %dx, %al
    test    $0x20, %al
    jz      6b
    mov     $COM1, %dx
    mov     %ah, %al
    out     %al, %dx
    jmp     5b
7:  pop     %edx
    pop     %eax
    ret

/* ---------------------------------------------------------------- 64-bit mode */
    .code64
lm64:
    mov     $(ROM_LINEAR + msg_lm64), %esi
    call    puts64
    /* 64-bit registers really are 64 bits wide now. */
    movabs  $0x0123456789ABCDEF, %rax
    mov     %rax, %rbx
    shr     $32, %rbx
    cmp     $0x01234567, %rbx
    jne     fail64

    /* Down again: a far return into the 32-bit code segment = compatibility mode. */
    pushq   $SEL_CODE32
    pushq   $(ROM_LINEAR + compat32)
    lretq

fail64:
    mov     $(ROM_LINEAR + msg_fail), %esi
    call    puts64
    mov     $1, %eax
    out     %eax, $0xF4
8:  hlt
    jmp     8b

puts64:
    push    %rax
    push    %rdx
9:  lodsb
    test    %al, %al
    jz      11f
    mov     %al, %ah
    mov     $COM1+5, %dx
10: in      %dx, %al
    test    $0x20, %al
    jz      10b
    mov     $COM1, %dx
    mov     %ah, %al
    out     %al, %dx
    jmp     9b
11: pop     %rdx
    pop     %rax
    ret

/* ---------------------------------------------------------------- compatibility → protected */
    .code32
compat32:
    /* Leaving IA-32e mode: clear CR0.PG (LMA drops to 0), then EFER.LME (SDM Vol. 3A §9.8.5.4
       "Switching Out of IA-32e Mode Operation"). */
    mov     %cr0, %eax
    and     $0x7FFFFFFF, %eax
    mov     %eax, %cr0
    mov     $0xC0000080, %ecx
    rdmsr
    and     $~0x100, %eax
    wrmsr
    mov     $(ROM_LINEAR + msg_back32), %esi
    call    puts32
    /* To 16-bit protected mode: a code segment with D = 0 (base 0xF0000, limit 64 KiB). */
    ljmp    $SEL_CODE16, $pm16

/* ---------------------------------------------------------------- 16-bit protected → real */
    .code16
pm16:
    mov     $SEL_DATA16, %ax        /* 64 KiB limits, as real mode expects (SDM §9.9.2) */
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     %cr0, %eax
    and     $~1, %eax
    mov     %eax, %cr0
    ljmp    $0xF000, $real_again

real_again:
    mov     %cs, %ax
    mov     %ax, %ds
    xor     %ax, %ax
    mov     %ax, %ss
    mov     $STACK, %sp
    /* The IVT still works after the round trip. */
    xor     %bx, %bx
    int     $0x80
    cmp     $0xBEEF, %bx
    jne     fail16
    mov     $msg_done, %si
    call    puts16
    xor     %eax, %eax
    outl    %eax, $0xF4             /* exit status 0 */
12: hlt
    jmp     12b

/* ---------------------------------------------------------------- data */
    .p2align 3
gdt:
    .quad   0                       /* null */
    .quad   0x00CF9B000000FFFF      /* 0x08: 32-bit code, flat         */
    .quad   0x00CF93000000FFFF      /* 0x10: 32-bit data, flat         */
    .quad   0x00AF9B000000FFFF      /* 0x18: 64-bit code (L = 1)       */
    .quad   0x000F9B0F0000FFFF      /* 0x20: 16-bit code, base 0xF0000 */
    .quad   0x000093000000FFFF      /* 0x28: 16-bit data, base 0       */
gdt_end:
gdt_desc:
    .word   gdt_end - gdt - 1
    .long   ROM_LINEAR + gdt

msg_reset:  .asciz "realmode: reset vector reached, real-address mode at F000\r\n"
msg_ivt:    .asciz "PASS: real-mode INT 0x80 through the IVT\r\n"
msg_seg:    .asciz "PASS: real-mode segment arithmetic\r\n"
msg_pm32:   .asciz "PASS: 32-bit protected mode\r\n"
msg_lm64:   .asciz "PASS: IA-32e 64-bit mode\r\n"
msg_back32: .asciz "PASS: back to 32-bit protected mode, paging off\r\n"
msg_done:   .asciz "PASS: back in real mode via 16-bit protected mode\r\nrealmode: all checks passed\r\n"
msg_fail:   .asciz "FAIL: realmode\r\n"

/* ---------------------------------------------------------------- the reset vector */
    .section .reset, "ax"
    .code16
    .globl reset_vector
reset_vector:
    ljmp    $0xF000, $real_entry    /* leave the 0xFFFF0000 alias for F000:xxxx */
    .fill   16 - (. - reset_vector), 1, 0xF4
