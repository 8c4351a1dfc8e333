/*
 * v86-tests — virtual-8086 mode (without CR4.VME), checked from inside the
 * guest by a 32-bit protected-mode monitor.
 *
 * Like task-tests it never goes to long mode (IA-32e mode has no virtual-8086
 * mode): it runs in the 32-bit protected mode the multiboot loader leaves
 * (paging off), with its own GDT, IDT and TSSs.  It copies a small 8086
 * program to 20000H and enters it with IRETD (EFLAGS.VM = 1 in the frame),
 * each check at its own entry point; the 8086 program ends with INT3 (not
 * IOPL-sensitive, through a DPL-3 gate) or faults.  Either way the monitor's
 * ring-0 handler records the Figure 20-4 frame and returns to the monitor,
 * which checks.  One `PASS: name` / `FAIL: name (got X, want Y)` line per
 * check over COM1, then `v86-tests: all N checks passed` (or `K of N checks
 * failed`), and 0 (all passed) or 1 to the debug-exit port 0xF4; an exception
 * in the monitor itself prints `FAIL: unexpected exception …` and exits 2.
 *
 * SDM references (Order Number 325462-077US):
 *   Vol. 3B §20.2 "Virtual-8086 Mode", §20.2.1 "Enabling Virtual-8086 Mode",
 *     §20.2.5 "Entering Virtual-8086 Mode" (IRET with VM = 1 at CPL 0; a task
 *     switch to a TSS whose EFLAGS image has VM = 1), §20.2.7 "Sensitive
 *     Instructions", §20.2.8 "Virtual-8086 Mode I/O"
 *   §20.3.1.1 "Handling an Interrupt or Exception Through a Protected-Mode
 *     Trap or Interrupt Gate" (Figure 20-4: GS FS DS ES SS ESP EFLAGS CS EIP
 *     and the error code on the ring-0 stack; GS/FS/DS/ES null; a handler
 *     that is not DPL 0 nonconforming is #GP(selector))
 *   Vol. 2A "IRET" (RETURN-TO-VIRTUAL-8086-MODE; IRET in virtual-8086 mode),
 *     "INT n" (INTERRUPT-FROM-VIRTUAL-8086-MODE; VM = 1 and IOPL < 3 → #GP(0)),
 *     "CLI", "STI", "PUSHF", "POPF", "IN", "OUT", "LAR", "SLDT", "ARPL", "HLT"
 *     (their virtual-8086 rows).
 *
 * The 8086 program runs with CS = DS = ES = SS = 2000H, SP = FFF0H, FS = 3000H,
 * GS = 3100H, and stores what it sees at 2000:8000H.
 *
 * The checks:
 *   enter      IRETD into virtual-8086 mode: the program sees its selectors,
 *              SMSW shows PE = 1; INT3 (a DPL-3 gate) at IOPL 0 reaches the
 *              monitor with VM in the EFLAGS image, the saved selectors, and
 *              DS/ES/FS/GS null in the handler
 *   segs       MOV DS (3000H: base 30000H), far JMP to 2001H:…, far CALL/RETF
 *   limit      a word read at DS:FFFFH is #GP(0) (the 64 KiB limit; QEMU TCG
 *              has no data-segment limit checks: a SKIP line there only)
 *   iopl0      CLI, STI, PUSHF, POPF, INT 40H, IRET at IOPL 0: #GP(0) at the
 *              instruction, with the whole frame for CLI
 *   iopl3      STI/CLI work; PUSHFD shows VM = 0; POPF of 0200H sets IF but
 *              cannot clear IOPL
 *   int        INT 40H at IOPL 3 through a DPL-3 interrupt gate to the ring-0
 *              handler (VM in its frame, DS null), whose IRETD returns to the
 *              program with every selector restored
 *   gates      INT 41H through a DPL-0 gate: #GP(41H·8+2); INT 42H to a DPL-3
 *              code segment: #GP(its selector)
 *   io         the TSS I/O bitmap decides at IOPL 0 and at IOPL 3: port 80H
 *              allowed, 84H denied, 3F8H beyond the bitmap denied
 *   ud         LAR, SLDT, ARPL: #UD; HLT: #GP(0)
 *   task       JMP to a TSS whose EFLAGS image has VM = 1 (last: TR stays there)
 */

#define COM1            0x3F8
#define EXIT_PORT       0xF4

#define SEL_CODE        0x08
#define SEL_DATA        0x10
#define SEL_CODE3       0x18    /* 32-bit code, DPL 3 (a bad handler target) */
#define SEL_TSS_A       0x20
#define SEL_TSS_V       0x28    /* the virtual-8086 task */
#define GDT_LIMIT       (0x30 - 1)

#define TSS_ESP0        0x04
#define TSS_SS0         0x08
#define TSS_EIP         0x20
#define TSS_EFLAGS      0x24
#define TSS_ESP         0x38
#define TSS_ES          0x48
#define TSS_CS          0x4C
#define TSS_SS          0x50
#define TSS_DS          0x54
#define TSS_FS          0x58
#define TSS_GS          0x5C
#define TSS_IOMAP       0x66
#define TSS_SIZE        0x68
#define TSS_A_LIMIT     0x88    /* the I/O bitmap covers ports 0-FFH */

#define V86_SEG         0x2000
#define V86_BASE        0x20000
#define V86_SP          0xFFF0
#define V86_FS          0x3000
#define V86_GS          0x3100
#define V86_DATA        0x8000  /* where the program stores what it sees */
#define VM              0x20000
#define IOPL3           0x3000

        .code32
        .section .text
        .globl  _start
_start:
        cli
        mov     $stack_a_top, %esp
        lgdt    gdtr
        ljmp    $SEL_CODE, $1f
1:      mov     $SEL_DATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %ax, %fs
        mov     %ax, %gs
        cld

        /* COM1: 115200 baud, 8N1, no interrupts, as lib/serial.c programs it. */
        mov     $(COM1 + 1), %dx
        xor     %al, %al
        outb    %al, %dx
        mov     $(COM1 + 3), %dx
        mov     $0x80, %al
        outb    %al, %dx
        mov     $COM1, %dx
        mov     $1, %al
        outb    %al, %dx
        mov     $(COM1 + 1), %dx
        xor     %al, %al
        outb    %al, %dx
        mov     $(COM1 + 3), %dx
        mov     $0x03, %al
        outb    %al, %dx
        /* Mask every 8259 line: the 8086 program runs with IF = 1 for a few
         * instructions, and the firmware's timer must not interrupt it. */
        mov     $0xFF, %al
        outb    %al, $0x21
        outb    %al, $0xA1

        call    detect_tcg
        call    setup_idt
        /* TSS A, with an I/O bitmap for ports 0-FFH allowing only 80H. */
        mov     $tss_a, %edi
        call    init_tss
        mov     $(tss_a + TSS_SIZE), %edi
        mov     $0xFF, %al
        mov     $(TSS_A_LIMIT + 1 - TSS_SIZE), %ecx
        rep stosb
        movb    $0xFE, tss_a + TSS_SIZE + 0x10
        mov     $SEL_TSS_A, %ecx
        mov     $tss_a, %eax
        mov     $TSS_A_LIMIT, %edx
        call    set_tss_desc
        mov     $SEL_TSS_A, %ax
        ltr     %ax
        /* The 8086 program, copied to 2000:0000. */
        mov     $v86_blob, %esi
        mov     $V86_BASE, %edi
        mov     $(v86_end - v86_blob), %ecx
        rep movsb

        mov     $banner, %esi
        call    puts

        call    test_enter
        call    test_segs
        call    test_limit
        call    test_iopl0
        call    test_iopl3
        call    test_int
        call    test_gates
        call    test_io
        call    test_ud
        call    test_task

        jmp     report_and_exit

/* ---------------------------------------------------------------------- */
/* Running the 8086 program                                                */

/* enter_v86: %eax = IP, %edx = EFLAGS image (VM set).  IRETD to 2000:IP;
 * returns when the program's INT3 or a fault reaches isr_common.  The
 * program's store area is cleared first. */
enter_v86:
        pusha
        mov     $(V86_BASE + V86_DATA), %edi
        push    %eax
        xor     %eax, %eax
        mov     $16, %ecx
        rep stosl
        pop     %eax
        movl    $0xFF, fault_vector
        movl    $0xFFFFFFFF, seen_segs
        mov     %esp, monitor_esp
        pushl   $V86_GS
        pushl   $V86_FS
        pushl   $V86_SEG                /* DS */
        pushl   $V86_SEG                /* ES */
        pushl   $V86_SEG                /* SS */
        pushl   $V86_SP
        push    %edx                    /* EFLAGS */
        pushl   $V86_SEG                /* CS */
        push    %eax                    /* EIP */
        iret


/* CHECK got, want, "name": one PASS/FAIL line. */
.macro CHECK got, want, str
        mov     \got, %eax
        mov     \want, %edx
        .pushsection .rodata
9:      .asciz  "\str"
        .popsection
        mov     $9b, %esi
        call    check
.endm

/* EVENT want, "name": the recorded event as vector << 16 | error code. */
.macro EVENT want, str
        mov     fault_vector, %eax
        shl     $16, %eax
        movzwl  fault_error, %ecx
        or      %ecx, %eax
        mov     \want, %edx
        .pushsection .rodata
9:      .asciz  "\str"
        .popsection
        mov     $9b, %esi
        call    check
.endm

/* RUN entry, eflags: enter the 8086 program at `entry`. */
.macro RUN entry, eflags
        mov     $(\entry - v86_blob), %eax
        mov     \eflags, %edx
        call    enter_v86
.endm

/* FAULTS entry, eflags, want, "name": the instruction at `entry` raises the
 * event `want` (vector << 16 | error) with EIP = entry. */
.macro FAULTS entry, eflags, want, str
        RUN     \entry, \eflags
        EVENT   \want, "\str"
        CHECK   frame_eip, $(\entry - v86_blob), "\str - saved EIP = the instruction"
.endm

#define V86W(off)       V86_BASE + V86_DATA + (off)

/* The selectors the program stored (t_seen), after an INT3 at t_seen_done. */
.macro SEEN str
        EVENT   $0x30000, "\str: INT3 reaches the monitor (vector 3, DPL-3 gate)"
        CHECK   frame_eip, $(t_seen_done - v86_blob), "\str: saved EIP after the INT3"
        movzwl  V86W(0), %eax
        CHECK   %eax, $V86_SEG, "\str: CS = 2000H in the program"
        movzwl  V86W(2), %eax
        CHECK   %eax, $V86_SEG, "\str: SS = 2000H in the program"
        movzwl  V86W(4), %eax
        CHECK   %eax, $V86_SEG, "\str: DS = 2000H in the program"
        movzwl  V86W(6), %eax
        CHECK   %eax, $V86_SEG, "\str: ES = 2000H in the program"
        movzwl  V86W(8), %eax
        CHECK   %eax, $V86_FS, "\str: FS = 3000H in the program"
        movzwl  V86W(10), %eax
        CHECK   %eax, $V86_GS, "\str: GS = 3100H in the program"
        movzwl  V86W(12), %eax
        and     $1, %eax
        CHECK   %eax, $1, "\str: SMSW shows PE = 1"
        movzwl  V86W(14), %eax
        CHECK   %eax, $V86_SP, "\str: SP = FFF0H in the program"
        movzwl  V86W(16), %eax
        CHECK   %eax, $0x1234, "\str: a word read through DS:9000H (linear 29000H)"
.endm

/* ---------------------------------------------------------------------- */
/* The tests                                                               */

test_enter:
        movw    $0x1234, V86_BASE + 0x9000
        RUN     t_seen, $(VM | 2)
        SEEN    "enter"
        mov     frame_eflags, %eax
        and     $(VM | IOPL3), %eax
        CHECK   %eax, $VM, "enter: saved EFLAGS has VM = 1, IOPL 0"
        CHECK   frame_cs, $V86_SEG, "enter: saved CS = 2000H"
        CHECK   frame_esp, $V86_SP, "enter: saved ESP = FFF0H"
        CHECK   frame_ss, $V86_SEG, "enter: saved SS = 2000H"
        CHECK   frame_es, $V86_SEG, "enter: saved ES = 2000H"
        CHECK   frame_ds, $V86_SEG, "enter: saved DS = 2000H"
        CHECK   frame_fs, $V86_FS, "enter: saved FS = 3000H"
        CHECK   frame_gs, $V86_GS, "enter: saved GS = 3100H"
        CHECK   seen_segs, $0, "enter: DS, ES, FS, GS null in the ring-0 handler"
        CHECK   handler_esp, $(stack_k_top - 44), "enter: handler on SS0:ESP0 with 9 doublewords (+ our 2)"
        ret

test_segs:
        movw    $0, 0x30010
        RUN     t_segs, $(VM | 2)
        EVENT   $0x30000, "segs: the program ran to its INT3"
        movzwl  0x30010, %eax
        CHECK   %eax, $0x5A5A, "segs: MOV DS, 3000H; a store at DS:10H lands at 30010H"
        movzwl  V86W(0), %eax
        CHECK   %eax, $(V86_SEG + 1), "segs: far JMP loaded CS = 2001H"
        movzwl  V86W(4), %eax
        CHECK   %eax, $1, "segs: far CALL to 2000H:farfn ran it"
        movzwl  V86W(2), %eax
        CHECK   %eax, $(V86_SEG + 1), "segs: RETF back to CS = 2001H"
        CHECK   frame_cs, $(V86_SEG + 1), "segs: saved CS = 2001H"
        CHECK   frame_eip, $(t_segs_done - v86_blob - 0x10), "segs: saved EIP relative to 2001H"
        ret

test_limit:
        RUN     t_limit, $(VM | 2)
        cmpl    $0, is_tcg
        je      1f
        cmpl    $3, fault_vector
        jne     1f
        mov     $skip_limit, %esi
        call    puts
        ret
1:      EVENT   $0xD0000, "limit: a word read at DS:FFFFH is #GP(0)"
        CHECK   frame_eip, $(t_limit - v86_blob), "limit: saved EIP = the MOV"
        ret

test_iopl0:
        FAULTS  t_cli, $(VM | 2), $0xD0000, "iopl0: CLI is #GP(0)"
        CHECK   frame_esp, $V86_SP, "iopl0: CLI frame ESP"
        mov     frame_eflags, %eax
        and     $(VM | IOPL3 | 0x200), %eax
        CHECK   %eax, $VM, "iopl0: CLI frame EFLAGS VM = 1, IOPL 0"
        CHECK   seen_segs, $0, "iopl0: DS, ES, FS, GS null in the #GP handler"
        FAULTS  t_cli, $(VM | 0x1002), $0xD0000, "iopl0: CLI at IOPL 1 is #GP(0)"
        FAULTS  t_sti, $(VM | 2), $0xD0000, "iopl0: STI is #GP(0)"
        FAULTS  t_pushf, $(VM | 2), $0xD0000, "iopl0: PUSHF is #GP(0)"
        FAULTS  t_pushfd, $(VM | 2), $0xD0000, "iopl0: PUSHFD is #GP(0)"
        FAULTS  t_popf, $(VM | 2), $0xD0000, "iopl0: POPF is #GP(0)"
        FAULTS  t_int40, $(VM | 2), $0xD0000, "iopl0: INT 40H is #GP(0), not the gate"
        CHECK   h40_count, $0, "iopl0: the INT 40H handler did not run"
        FAULTS  t_iret, $(VM | 2), $0xD0000, "iopl0: IRET is #GP(0)"
        ret

test_iopl3:
        RUN     t_iopl3, $(VM | IOPL3 | 2)
        EVENT   $0x30000, "iopl3: the program ran to its INT3"
        movzwl  V86W(0), %eax
        and     $0x3200, %eax
        CHECK   %eax, $0x3200, "iopl3: STI set IF; PUSHF shows IOPL 3"
        mov     V86W(4), %eax
        and     $(VM | IOPL3), %eax
        CHECK   %eax, $IOPL3, "iopl3: the PUSHFD image has VM = 0"
        movzwl  V86W(8), %eax
        and     $0x3200, %eax
        CHECK   %eax, $0x3200, "iopl3: POPF of 0200H set IF and left IOPL = 3"
        mov     frame_eflags, %eax
        and     $(VM | IOPL3 | 0x200), %eax
        CHECK   %eax, $(VM | IOPL3), "iopl3: CLI cleared IF; VM and IOPL 3 kept"
        RUN     t_iret3, $(VM | IOPL3 | 2)
        EVENT   $0x30000, "iopl3: IRET within the program ran (to its INT3)"
        CHECK   frame_eip, $(t_iret3_done + 1 - v86_blob), "iopl3: IRET popped IP (INT3 at the target)"
        mov     frame_eflags, %eax
        and     $(VM | IOPL3 | 0xFF), %eax
        CHECK   %eax, $(VM | IOPL3 | 0x2 | 0x40), "iopl3: IRET popped FLAGS (ZF), IOPL 3 and VM kept"
        ret

test_int:
        movl    $0, h40_count
        RUN     t_int, $(VM | IOPL3 | 2)
        CHECK   h40_count, $1, "int: INT 40H at IOPL 3 ran the ring-0 handler once"
        CHECK   h40_eip, $(t_int + 2 - v86_blob), "int: handler frame EIP after the INT"
        CHECK   h40_cs, $V86_SEG, "int: handler frame CS = 2000H"
        mov     h40_eflags, %eax
        and     $(VM | IOPL3), %eax
        CHECK   %eax, $(VM | IOPL3), "int: handler frame EFLAGS has VM = 1"
        CHECK   h40_esp, $V86_SP, "int: handler frame ESP = FFF0H (no error code)"
        CHECK   h40_ds, $0, "int: DS null in the handler"
        movw    $0x1234, V86_BASE + 0x9000
        SEEN    "int (after the handler's IRETD)"
        ret

test_gates:
        FAULTS  t_int41, $(VM | IOPL3 | 2), $0xD020A, "gates: INT 41H through a DPL-0 gate is #GP(41H*8+2)"
        FAULTS  t_int42, $(VM | IOPL3 | 2), $(0xD0000 | SEL_CODE3), "gates: INT 42H to a DPL-3 code segment is #GP(18H)"
        ret

test_io:
        RUN     t_io_ok, $(VM | 2)
        EVENT   $0x30000, "io: OUT/IN port 80H allowed by the bitmap at IOPL 0"
        RUN     t_io_ok, $(VM | IOPL3 | 2)
        EVENT   $0x30000, "io: OUT/IN port 80H allowed by the bitmap at IOPL 3"
        FAULTS  t_io_84, $(VM | IOPL3 | 2), $0xD0000, "io: OUT port 84H denied by the bitmap at IOPL 3: #GP(0)"
        FAULTS  t_io_84, $(VM | 2), $0xD0000, "io: OUT port 84H denied at IOPL 0: #GP(0)"
        RUN     t_io_3f8, $(VM | IOPL3 | 2)
        EVENT   $0xD0000, "io: OUT port 3F8H beyond the bitmap at IOPL 3: #GP(0)"
        CHECK   frame_eip, $(t_io_3f8 + 3 - v86_blob), "io: OUT port 3F8H - saved EIP = the OUT"
        ret

test_ud:
        FAULTS  t_lar, $(VM | IOPL3 | 2), $0x60000, "ud: LAR is #UD"
        FAULTS  t_sldt, $(VM | IOPL3 | 2), $0x60000, "ud: SLDT is #UD"
        FAULTS  t_arpl, $(VM | IOPL3 | 2), $0x60000, "ud: ARPL is #UD"
        FAULTS  t_hlt, $(VM | IOPL3 | 2), $0xD0000, "ud: HLT (CPL 3) is #GP(0)"
        ret

/* The virtual-8086 task: JMP to TSS V (EFLAGS image VM = 1, IOPL 0). */
test_task:
        mov     $tss_v, %edi
        call    init_tss
        movl    $(t_seen - v86_blob), tss_v + TSS_EIP
        movl    $(VM | 2), tss_v + TSS_EFLAGS
        movl    $V86_SP, tss_v + TSS_ESP
        movl    $V86_SEG, tss_v + TSS_CS
        movl    $V86_SEG, tss_v + TSS_SS
        movl    $V86_SEG, tss_v + TSS_DS
        movl    $V86_SEG, tss_v + TSS_ES
        movl    $V86_FS, tss_v + TSS_FS
        movl    $V86_GS, tss_v + TSS_GS
        mov     $SEL_TSS_V, %ecx
        mov     $tss_v, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        movw    $0x1234, V86_BASE + 0x9000
        call    jump_to_task_v
        SEEN    "task"
        CHECK   fault_tr, $SEL_TSS_V, "task: TR = TSS V in the handler"
        mov     frame_eflags, %eax
        and     $(VM | IOPL3), %eax
        CHECK   %eax, $VM, "task: saved EFLAGS has VM = 1"
        CHECK   tss_a + TSS_EIP, $after_task_jmp, "task: TSS A saved EIP after the JMP"
        clts
        ret

jump_to_task_v:
        pusha
        mov     $(V86_BASE + V86_DATA), %edi
        xor     %eax, %eax
        mov     $16, %ecx
        rep stosl
        movl    $0xFF, fault_vector
        mov     %esp, monitor_esp
        ljmp    $SEL_TSS_V, $0
after_task_jmp:
        popa                            /* not reached: TSS A is never resumed */
        ret

/* INT 40H handler (ring 0, reached from the program through a DPL-3 gate):
 * record the frame and DS, then IRETD back.  DS is null here: use SS. */
h40:
        push    %eax
        xor     %eax, %eax
        mov     %ds, %ax
        mov     %eax, %ss:h40_ds
        mov     4(%esp), %eax
        mov     %eax, %ss:h40_eip
        mov     8(%esp), %eax
        mov     %eax, %ss:h40_cs
        mov     12(%esp), %eax
        mov     %eax, %ss:h40_eflags
        mov     16(%esp), %eax
        mov     %eax, %ss:h40_esp
        incl    %ss:h40_count
        pop     %eax
        iret

/* ---------------------------------------------------------------------- */
/* The 8086 program, copied to 2000:0000 (offsets are from v86_blob).      */

        .code16
v86_blob:
t_seen:                                 /* store what the program sees */
        mov     %cs, V86_DATA
        mov     %ss, V86_DATA + 2
        mov     %ds, V86_DATA + 4
        mov     %es, V86_DATA + 6
        mov     %fs, V86_DATA + 8
        mov     %gs, V86_DATA + 10
        smsw    %ax
        mov     %ax, V86_DATA + 12
        mov     %sp, V86_DATA + 14
        mov     0x9000, %ax
        mov     %ax, V86_DATA + 16
        int3
t_seen_done:
        jmp     t_seen_done

t_segs:
        mov     $0x3000, %ax
        mov     %ax, %ds
        movw    $0x5A5A, 0x10
        mov     $V86_SEG, %ax
        mov     %ax, %ds
        ljmp    $(V86_SEG + 1), $(t_segs_far - v86_blob - 0x10)
t_segs_far:
        mov     %cs, V86_DATA
        lcall   $V86_SEG, $(v86_farfn - v86_blob)
        mov     %cs, V86_DATA + 2
        int3
t_segs_done:
        jmp     t_segs_done
v86_farfn:
        incw    V86_DATA + 4
        lret

t_limit:
        mov     0xFFFF, %ax
        int3

t_cli:  cli
        int3
t_sti:  sti
        int3
t_pushf:
        pushf
        int3
t_pushfd:
        pushfl
        int3
t_popf: popf
        int3
t_int40:
        int     $0x40
        int3
t_iret: iret
        int3

t_iopl3:
        sti
        pushf
        pop     %ax
        mov     %ax, V86_DATA
        pushfl
        popl    %eax
        mov     %eax, V86_DATA + 4
        cli
        pushw   $0x0200
        popf
        pushf
        pop     %ax
        mov     %ax, V86_DATA + 8
        cli
        int3

t_iret3:                                /* IRET to t_iret3_done with FLAGS = 0042H */
        pushw   $0x0042
        pushw   %cs
        pushw   $(t_iret3_done - v86_blob)
        iret
        int3
t_iret3_done:
        int3

t_int:
        int     $0x40
        jmp     t_seen

t_int41:
        int     $0x41
        int3
t_int42:
        int     $0x42
        int3

t_io_ok:
        mov     $0x5A, %al
        out     %al, $0x80
        in      $0x80, %al
        int3
t_io_84:
        out     %al, $0x84
        int3
t_io_3f8:
        mov     $COM1, %dx
        out     %al, %dx
        int3

t_lar:  lar     %bx, %ax
        int3
t_sldt: sldt    %ax
        int3
t_arpl: arpl    %ax, %bx
        int3
t_hlt:  hlt
        int3
v86_end:
        .code32

/* ---------------------------------------------------------------------- */
/* Helpers (as in task-tests)                                             */



/* init_tss: %edi = TSS.  Zeroed; SS0:ESP0 = the ring-0 stack for events
 * from the 8086 program; EFLAGS 2; I/O map base 68H. */
init_tss:
        push    %ecx
        push    %edi
        xor     %eax, %eax
        mov     $(TSS_SIZE / 4), %ecx
        rep stosl
        pop     %edi
        pop     %ecx
        movl    $stack_k_top, TSS_ESP0(%edi)
        movl    $SEL_DATA, TSS_SS0(%edi)
        movl    $2, TSS_EFLAGS(%edi)
        movw    $TSS_SIZE, TSS_IOMAP(%edi)
        ret



setup_idt:
        xor     %ebx, %ebx
1:      mov     %ebx, %eax
        mov     isr_table(,%ebx,4), %edx
        call    set_gate
        inc     %ebx
        cmp     $32, %ebx
        jb      1b
        orb     $0x60, idt + 3 * 8 + 5          /* INT3: DPL 3 */
        mov     $0x40, %eax                     /* INT 40H: DPL 3, the h40 handler */
        mov     $h40, %edx
        call    set_gate
        orb     $0x60, idt + 0x40 * 8 + 5
        mov     $0x41, %eax                     /* INT 41H: DPL 0 */
        mov     $h40, %edx
        call    set_gate
        mov     $0x42, %eax                     /* INT 42H: DPL 3, to a DPL-3 code segment */
        mov     $h40, %edx
        call    set_gate
        orb     $0x60, idt + 0x42 * 8 + 5
        movw    $SEL_CODE3, idt + 0x42 * 8 + 2
        lidt    idtr
        ret

#include "pm32-report.inc"

/* ---------------------------------------------------------------------- */
/* isr_common (stubs: lib/pm32-report.inc).  From the 8086 program: record the vector, the error */
/* code, the Figure 20-4 frame, the data selectors the handler found and   */
/* TR, then return from enter_v86 (or jump_to_task_v) to the monitor.  A   */
/* fault in the monitor itself (no VM in the frame) is unexpected.         */


isr_common:
        mov     %esp, %ss:handler_esp
        xor     %eax, %eax
        xor     %ecx, %ecx
        mov     %ds, %ax
        mov     %es, %cx
        or      %ecx, %eax
        mov     %fs, %cx
        or      %ecx, %eax
        mov     %gs, %cx
        or      %ecx, %eax
        mov     %eax, %ss:seen_segs
        mov     $SEL_DATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        str     %ax
        movzwl  %ax, %eax
        mov     %eax, fault_tr
        mov     %esp, %esi
        mov     $frame, %edi
        mov     $11, %ecx
        cld
        rep movsl
        testl   $VM, frame_eflags
        jz      unexpected
        mov     monitor_esp, %esp
        popa
        ret

unexpected:
        mov     $msg_unexpected, %esi
        call    puts
        mov     fault_vector, %eax
        call    puthex
        mov     $msg_error, %esi
        call    puts
        mov     fault_error, %eax
        call    puthex
        mov     $msg_eip, %esi
        call    puts
        mov     frame_eip, %eax
        call    puthex
        mov     $msg_nl, %esi
        call    puts
        mov     $2, %eax
        jmp     guest_exit

        .section .rodata
        .align  4
isr_table:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .long   isr\n
        .endr
banner:         .asciz  "v86-tests: 32-bit protected-mode monitor, virtual-8086 mode without VME\n"
name_prefix:    .asciz  "v86-tests: "
skip_limit:     .asciz  "SKIP: limit: a word read at DS:FFFFH is #GP(0) (QEMU TCG does not check data-segment limits)\n"

        .section .data
        .align  8
gdt:
        .quad   0
        .quad   0x00CF9A000000FFFF      /* 08: code, 32-bit, flat, DPL 0 */
        .quad   0x00CF92000000FFFF      /* 10: data, flat, DPL 0 */
        .quad   0x00CFFA000000FFFF      /* 18: code, 32-bit, flat, DPL 3 */
        .fill   (GDT_LIMIT + 1 - 0x20) / 8, 8, 0   /* the TSSs, filled in at run time */
        .align  4
        .word   0
gdtr:   .word   GDT_LIMIT
        .long   gdt
        .word   0
idtr:   .word   256 * 8 - 1
        .long   idt
        .align  4
prefix:         .long   0
is_tcg:         .long   0
passed:         .long   0
failed:         .long   0
monitor_esp:    .long   0
handler_esp:    .long   0
seen_segs:      .long   0
fault_tr:       .long   0
frame:                                  /* as isr_common copies it */
fault_vector:   .long   0
fault_error:    .long   0
frame_eip:      .long   0
frame_cs:       .long   0
frame_eflags:   .long   0
frame_esp:      .long   0
frame_ss:       .long   0
frame_es:       .long   0
frame_ds:       .long   0
frame_fs:       .long   0
frame_gs:       .long   0
h40_count:      .long   0
h40_ds:         .long   0
h40_eip:        .long   0
h40_cs:         .long   0
h40_eflags:     .long   0
h40_esp:        .long   0

        .section .bss
        .align  4096
idt:            .space  256 * 8
tss_a:          .space  TSS_A_LIMIT + 1
        .align  16
tss_v:          .space  TSS_SIZE
        .align  16
                .space  8192
stack_a_top:
                .space  8192
stack_k_top:
