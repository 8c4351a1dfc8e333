/*
 * task-tests — hardware task switching in 32-bit protected mode, checked from
 * inside the guest.
 *
 * Unlike the other images this one never goes to long mode: IA-32e mode has
 * no task switching.  It runs in the 32-bit protected mode the multiboot
 * loader leaves (paging off), with its own GDT, IDT and TSSs, and prints one
 * `PASS: name` / `FAIL: name (got X, want Y)` line per check over COM1, then
 * `task-tests: all N checks passed` (or `task-tests: K of N checks failed`)
 * and writes 0 (all passed) or 1 to the debug-exit port 0xF4.  An exception
 * nobody expected prints `FAIL: unexpected exception …` and exits with 2.
 *
 * SDM references (Order Number 325462-077US, Vol. 3A):
 *   §7.2.1 "Task-State Segment (TSS)" (Figure 7-2: the 32-bit TSS layout)
 *   §7.2.2 "TSS Descriptor" (busy flag; limit >= 67H, else #TS)
 *   §7.2.5 "Task-Gate Descriptor"
 *   §7.3 "Task Switching" (what is saved and loaded, the commit point)
 *   §7.4 "Task Linking" (Table 7-2: busy flag, NT, previous task link, CR0.TS)
 *   §6.12.2 "Interrupt Tasks" (IDT task gates; the error code is pushed on
 *         the new task's stack)
 *   §17.2.4 "Debug Control Register (DR7)" (L0-L3 cleared by a task switch)
 * and Vol. 2A "CALL", "JMP", "IRET" (Operation: TASK-GATE, TASK-STATE-SEGMENT,
 * TASK-RETURN).
 *
 * The checks:
 *   jmp        JMP to TSS B: B sees TR = B, NT = 0, no back link, A's TSS
 *              holds A's EBX/ESI/EDI and the EIP after the JMP; B JMPs back;
 *              A's registers are restored; busy flags A = 1, B = 0; CR0.TS = 1
 *   call/iret  CALL to TSS B: NT = 1, back link = A, A and B busy; B's IRET
 *              returns after the CALL, B not busy, B's saved EFLAGS has NT = 0
 *   gate       CALL through a task gate in the GDT (same as call/iret)
 *   int        INT 40H through a task gate in the IDT
 *   exception  #GP(1008H) from `mov ds, ax` through an IDT task gate: the
 *              error code on the new task's stack, A's saved EIP = the
 *              faulting instruction
 *   limit      JMP to a TSS with limit 60H: #TS(its selector), in the old task
 *   busy       CALL to the current (busy) TSS: #GP(its selector)
 *   commit     a DS selector beyond the GDT limit in the new TSS: #TS(selector)
 *              after the commit point, so in the new task: TR = the new TSS,
 *              the saved EIP is the new task's (QEMU reports the old task's
 *              JMP there: a SKIP line under QEMU TCG only)
 *   dr7        L0-L3 cleared, G0-G3 kept (LE is not checked: QEMU keeps it)
 *   tflag      T = 1 in the new TSS: #DB before its first instruction, DR6.BT
 *              (QEMU does not implement the T flag: a SKIP line under QEMU
 *              TCG only, detected by CPUID leaf 40000000H)
 *   tss16      CALL to a 16-bit TSS (§7.6 "16-Bit Task-State Segment (TSS)"):
 *              FS null, EAX = FFFFH:AX (the SDM leaves the upper words undefined;
 *              Bochs and QEMU both load FFFFH), and IRETD back: IP saved in
 *              the 16-bit TSS, its busy flag cleared
 */

#define COM1            0x3F8
#define EXIT_PORT       0xF4

#define SEL_CODE        0x08
#define SEL_DATA        0x10
#define SEL_TSS_A       0x18
#define SEL_TSS_B       0x20
#define SEL_GATE_B      0x28
#define SEL_TSS_C       0x30
#define SEL_TSS_D       0x38    /* limit 60H: too small */
#define SEL_TSS_E       0x40    /* T flag set */
#define SEL_TSS_F       0x48    /* bad DS selector */
#define SEL_TSS_G       0x50    /* a 16-bit TSS */
#define SEL_CODE_G      0x58    /* 32-bit code based at task_g (IP is 16-bit) */
#define GDT_LIMIT       (0x60 - 1)

/* Offsets in a 32-bit TSS (Figure 7-2). */
#define TSS_LINK        0x00
#define TSS_ESP0        0x04
#define TSS_SS0         0x08
#define TSS_CR3         0x1C
#define TSS_EIP         0x20
#define TSS_EFLAGS      0x24
#define TSS_EAX         0x28
#define TSS_EBX         0x34
#define TSS_ESP         0x38
#define TSS_ESI         0x40
#define TSS_EDI         0x44
#define TSS_ES          0x48
#define TSS_CS          0x4C
#define TSS_SS          0x50
#define TSS_DS          0x54
#define TSS_FS          0x58
#define TSS_GS          0x5C
#define TSS_T           0x64
#define TSS_IOMAP       0x66
#define TSS_SIZE        0x68

#define EFLAGS_NT       0x4000

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

        /* COM1: 115200 baud, 8N1, no interrupts, as lib/serial.c programs it
         * (Bochs sends 5-bit characters otherwise). */
        mov     $(COM1 + 1), %dx
        xor     %al, %al
        outb    %al, %dx                /* IER = 0 */
        mov     $(COM1 + 3), %dx
        mov     $0x80, %al
        outb    %al, %dx                /* LCR: DLAB */
        mov     $COM1, %dx
        mov     $1, %al
        outb    %al, %dx                /* DLL = 1 */
        mov     $(COM1 + 1), %dx
        xor     %al, %al
        outb    %al, %dx                /* DLM = 0 */
        mov     $(COM1 + 3), %dx
        mov     $0x03, %al
        outb    %al, %dx                /* LCR: 8N1 */

        call    detect_tcg
        call    setup_idt
        /* TSS A: the task we run in.  LTR marks it busy. */
        mov     $tss_a, %edi
        mov     $0, %eax
        mov     $stack_a_top, %edx
        call    init_tss
        mov     $SEL_TSS_A, %ecx
        mov     $tss_a, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        mov     $SEL_TSS_A, %ax
        ltr     %ax
        /* The task gate in the GDT names TSS B (type 5, DPL 0, P). */
        movl    $(SEL_TSS_B << 16), gdt + SEL_GATE_B
        movl    $0x8500, gdt + SEL_GATE_B + 4

        mov     $banner, %esi
        call    puts

        call    test_jmp
        call    test_call_iret
        call    test_gate
        call    test_int
        call    test_exception
        call    test_limit
        call    test_busy
        call    test_commit
        call    test_dr7
        call    test_tflag
        call    test_tss16

        jmp     report_and_exit


/* ---------------------------------------------------------------------- */
/* The tests.  Each prepares TSS B (or C…F) afresh, switches, and checks.  */

/* Prepare TSS B to start at %eax, selector SEL_TSS_B available. */
prep_b:
        push    %edi
        mov     $tss_b, %edi
        mov     $stack_b_top, %edx
        call    init_tss
        mov     $SEL_TSS_B, %ecx
        mov     $tss_b, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        pop     %edi
        ret

/* The type nibble of GDT descriptor %ecx in %eax. */
gdt_type:
        movzbl  gdt + 5(%ecx), %eax
        and     $0xF, %eax
        ret

test_jmp:
        mov     $task_b_jmp, %eax
        call    prep_b
        mov     $0x12345678, %ebx
        mov     $0x0BADF00D, %esi
        mov     $0x5EED5EED, %edi
        clts
        ljmp    $SEL_TSS_B, $0
after_jmp:
        /* Back in task A, by B's JMP to A. */
        mov     %ebx, %eax
        mov     $0x12345678, %edx
        mov     $n_jmp_regs, %esi
        call    check
        mov     b_tr, %eax
        mov     $SEL_TSS_B, %edx
        mov     $n_jmp_tr, %esi
        call    check
        mov     b_flags, %eax
        and     $EFLAGS_NT, %eax
        xor     %edx, %edx
        mov     $n_jmp_nt, %esi
        call    check
        movzwl  tss_b + TSS_LINK, %eax
        xor     %edx, %edx
        mov     $n_jmp_link, %esi
        call    check
        mov     b_saved_eip, %eax
        mov     $after_jmp, %edx
        mov     $n_jmp_eip, %esi
        call    check
        mov     b_saved_ebx, %eax
        mov     $0x12345678, %edx
        mov     $n_jmp_saved, %esi
        call    check
        mov     b_seen_eax, %eax
        mov     $0xB0B0B0B0, %edx
        mov     $n_jmp_loaded, %esi
        call    check
        mov     $SEL_TSS_A, %ecx
        call    gdt_type
        mov     $0xB, %edx
        mov     $n_jmp_busy_a, %esi
        call    check
        mov     $SEL_TSS_B, %ecx
        call    gdt_type
        mov     $0x9, %edx
        mov     $n_jmp_busy_b, %esi
        call    check
        mov     %cr0, %eax
        and     $8, %eax
        mov     $8, %edx
        mov     $n_jmp_ts, %esi
        call    check
        clts
        ret

task_b_jmp:
        mov     %eax, b_seen_eax        /* EAX as loaded from TSS B */
        str     %ax
        movzwl  %ax, %eax
        mov     %eax, b_tr
        pushf
        pop     %eax
        mov     %eax, b_flags
        mov     tss_a + TSS_EIP, %eax
        mov     %eax, b_saved_eip
        mov     tss_a + TSS_EBX, %eax
        mov     %eax, b_saved_ebx
        ljmp    $SEL_TSS_A, $0
        jmp     task_b_jmp

test_call_iret:
        mov     $task_b_call, %eax
        call    prep_b
        lcall   $SEL_TSS_B, $0
after_call:
        movl    $p_call, prefix
        call    check_nested_return
        movl    $0, prefix
        mov     $after_call, %edx
        mov     $n_call_eip, %esi
        mov     b_saved_eip, %eax
        call    check
        ret

test_gate:
        mov     $task_b_call, %eax
        call    prep_b
        lcall   $SEL_GATE_B, $0
after_gate:
        movl    $p_gate, prefix
        call    check_nested_return
        movl    $0, prefix
        mov     $after_gate, %edx
        mov     $n_gate_eip, %esi
        mov     b_saved_eip, %eax
        call    check
        ret

test_int:
        mov     $task_b_call, %eax
        call    prep_b
        int     $0x40
after_int:
        movl    $p_int, prefix
        call    check_nested_return
        movl    $0, prefix
        mov     $after_int, %edx
        mov     $n_int_eip, %esi
        mov     b_saved_eip, %eax
        call    check
        ret

/* Task B for the nested tests: record, then IRET (a task return). */
task_b_call:
        pushf
        pop     %eax
        mov     %eax, b_flags
        movzwl  tss_b + TSS_LINK, %eax
        mov     %eax, b_link
        mov     $SEL_TSS_A, %ecx
        call    gdt_type
        mov     %eax, b_busy_a
        mov     $SEL_TSS_B, %ecx
        call    gdt_type
        mov     %eax, b_busy_b
        mov     tss_a + TSS_EIP, %eax
        mov     %eax, b_saved_eip
        iret
        jmp     task_b_call

/* Checks shared by call/gate/int after B's IRET brought us back. */
check_nested_return:
        mov     b_flags, %eax
        and     $EFLAGS_NT, %eax
        mov     $EFLAGS_NT, %edx
        mov     $n_nest_nt, %esi
        call    check
        mov     b_link, %eax
        mov     $SEL_TSS_A, %edx
        mov     $n_nest_link, %esi
        call    check
        mov     b_busy_a, %eax
        mov     $0xB, %edx
        mov     $n_nest_busy_a, %esi
        call    check
        mov     b_busy_b, %eax
        mov     $0xB, %edx
        mov     $n_nest_busy_b, %esi
        call    check
        mov     $SEL_TSS_B, %ecx
        call    gdt_type
        mov     $0x9, %edx
        mov     $n_ret_busy_b, %esi
        call    check
        pushf
        pop     %eax
        and     $EFLAGS_NT, %eax
        xor     %edx, %edx
        mov     $n_ret_nt, %esi
        call    check
        mov     tss_b + TSS_EFLAGS, %eax
        and     $EFLAGS_NT, %eax
        xor     %edx, %edx
        mov     $n_ret_saved_nt, %esi
        call    check
        clts
        ret

/* #GP through an IDT task gate to TSS C. */
test_exception:
        mov     $tss_c, %edi
        mov     $task_c, %eax
        mov     $stack_c_top, %edx
        call    init_tss
        mov     $SEL_TSS_C, %ecx
        mov     $tss_c, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        /* IDT vector 13: a task gate to TSS C. */
        movl    $(SEL_TSS_C << 16), idt + 13 * 8
        movl    $0x8500, idt + 13 * 8 + 4
        mov     $0x1008, %ax
gp_insn:
        mov     %ax, %ds                /* beyond the GDT limit: #GP(1008H) */
after_gp:
        /* Back: the interrupt gate for #GP again. */
        mov     $13, %eax
        mov     $isr13, %edx
        call    set_gate
        mov     c_error, %eax
        mov     $0x1008, %edx
        mov     $n_exc_error, %esi
        call    check
        mov     c_saved_eip, %eax
        mov     $gp_insn, %edx
        mov     $n_exc_eip, %esi
        call    check
        mov     c_flags, %eax
        and     $EFLAGS_NT, %eax
        mov     $EFLAGS_NT, %edx
        mov     $n_exc_nt, %esi
        call    check
        mov     c_esp, %eax
        mov     $(stack_c_top - 4), %edx
        mov     $n_exc_esp, %esi
        call    check
        clts
        ret

task_c:
        mov     %esp, c_esp
        pop     %eax                    /* the error code */
        mov     %eax, c_error
        pushf
        pop     %eax
        mov     %eax, c_flags
        mov     tss_a + TSS_EIP, %eax
        mov     %eax, c_saved_eip
        movl    $after_gp, tss_a + TSS_EIP      /* resume after the faulting mov */
        iret
        jmp     task_c

/* JMP to TSS D, limit 60H < 67H: #TS(38H) in task A. */
test_limit:
        mov     $tss_d, %edi
        mov     $task_b_jmp, %eax
        mov     $stack_b_top, %edx
        call    init_tss
        mov     $SEL_TSS_D, %ecx
        mov     $tss_d, %eax
        mov     $0x60, %edx
        call    set_tss_desc
        movl    $after_limit, resume_eip
        movl    $0, fault_count
limit_insn:
        ljmp    $SEL_TSS_D, $0
after_limit:
        call    expect_fault_10
        mov     fault_error, %eax
        mov     $SEL_TSS_D, %edx
        mov     $n_limit_error, %esi
        call    check
        mov     fault_eip, %eax
        mov     $limit_insn, %edx
        mov     $n_limit_eip, %esi
        call    check
        str     %ax
        movzwl  %ax, %eax
        mov     $SEL_TSS_A, %edx
        mov     $n_limit_tr, %esi
        call    check
        mov     $SEL_TSS_D, %ecx
        call    gdt_type
        mov     $0x9, %edx
        mov     $n_limit_busy, %esi
        call    check
        ret

/* fault_count must be 1 and fault_vector 10. */
expect_fault_10:
        mov     fault_count, %eax
        shl     $8, %eax
        or      fault_vector, %eax
        mov     $0x10A, %edx
        mov     $n_fault_ts, %esi
        jmp     check

/* CALL to the current TSS (busy): #GP(18H). */
test_busy:
        movl    $after_busy, resume_eip
        movl    $0, fault_count
busy_insn:
        lcall   $SEL_TSS_A, $0
after_busy:
        mov     fault_count, %eax
        shl     $8, %eax
        or      fault_vector, %eax
        mov     $0x10D, %edx
        mov     $n_busy_gp, %esi
        call    check
        mov     fault_error, %eax
        mov     $SEL_TSS_A, %edx
        mov     $n_busy_error, %esi
        call    check
        mov     fault_eip, %eax
        mov     $busy_insn, %edx
        mov     $n_busy_eip, %esi
        call    check
        ret

/* TSS F: DS = 1000H, beyond the GDT limit.  The fault comes after the commit
 * point: #TS(1000H) delivered in task F, at F's EIP; the handler resumes at
 * back_to_a, which JMPs to task A (available again: the JMP cleared it). */
test_commit:
        mov     $tss_f, %edi
        mov     $task_f, %eax
        mov     $stack_b_top, %edx
        call    init_tss
        movw    $0x1000, tss_f + TSS_DS
        mov     $SEL_TSS_F, %ecx
        mov     $tss_f, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        movl    $back_to_a, resume_eip
        movl    $0, fault_count
commit_insn:
        ljmp    $SEL_TSS_F, $0
after_commit:
        call    expect_fault_10
        mov     fault_error, %eax
        mov     $0x1000, %edx
        mov     $n_commit_error, %esi
        call    check
        /* QEMU 7.2 reports the EIP of the JMP in task A here (it restores the
         * instruction's state when raising the fault): under QEMU TCG only, a
         * SKIP line instead of a FAIL. */
        cmpl    $0, is_tcg
        je      1f
        cmpl    $commit_insn, fault_eip
        jne     1f
        mov     $skip_commit, %esi
        call    puts
        jmp     2f
1:      mov     fault_eip, %eax
        mov     $task_f, %edx
        mov     $n_commit_eip, %esi
        call    check
2:
        mov     fault_tr, %eax
        mov     $SEL_TSS_F, %edx
        mov     $n_commit_tr, %esi
        call    check
        mov     tss_a + TSS_EIP, %eax
        mov     $after_commit, %edx
        mov     $n_commit_saved, %esi
        call    check
        clts
        ret

task_f:                                 /* never runs */
        mov     $msg_task_f, %esi
        call    puts
        ljmp    $SEL_TSS_A, $0

back_to_a:
        mov     $SEL_DATA, %ax          /* DS was not loaded */
        mov     %ax, %ds
        mov     %ax, %es
        ljmp    $SEL_TSS_A, $0
        jmp     back_to_a

/* DR7 = L0 G1 L2 G3 with breakpoints on an address never executed: a task
 * switch clears L0 and L2. */
test_dr7:
        mov     $unused_insn, %eax
        mov     %eax, %dr0
        mov     %eax, %dr1
        mov     %eax, %dr2
        mov     %eax, %dr3
        mov     $0x499, %eax            /* bit 10 (reserved 1), L0 G1 L2 G3 */
        mov     %eax, %dr7
        mov     $task_b_jmp, %eax
        call    prep_b
        ljmp    $SEL_TSS_B, $0
        mov     %dr7, %eax
        and     $0xFF, %eax
        mov     $0x88, %edx
        mov     $n_dr7, %esi
        call    check
        mov     $0x400, %eax
        mov     %eax, %dr7
        clts
        ret

unused_insn:
        nop
        ret

/* TSS E with T = 1: #DB (trap) before task E's first instruction. */
test_tflag:
        xor     %eax, %eax
        mov     %eax, %dr6
        mov     $tss_e, %edi
        mov     $task_e, %eax
        mov     $stack_b_top, %edx
        call    init_tss
        movw    $1, tss_e + TSS_T
        mov     $SEL_TSS_E, %ecx
        mov     $tss_e, %eax
        mov     $0x67, %edx
        call    set_tss_desc
        movl    $task_e, resume_eip
        movl    $0, fault_count
        movl    $0, e_dr6
        ljmp    $SEL_TSS_E, $0
        movl    $0, resume_eip
        cmpl    $0, fault_count             /* no #DB: a SKIP under QEMU TCG only */
        jne     1f
        cmpl    $0, is_tcg
        je      1f
        mov     $skip_tflag, %esi
        call    puts
        jmp     2f
1:      mov     fault_count, %eax
        shl     $8, %eax
        or      fault_vector, %eax
        mov     $0x101, %edx
        mov     $n_tflag_db, %esi
        call    check
        mov     fault_eip, %eax
        mov     $task_e, %edx
        mov     $n_tflag_eip, %esi
        call    check
        mov     e_dr6, %eax
        and     $0x8000, %eax
        mov     $0x8000, %edx
        mov     $n_tflag_bt, %esi
        call    check
2:      xor     %eax, %eax
        mov     %eax, %dr6
        clts
        ret

task_e:
        mov     %dr6, %eax
        mov     %eax, e_dr6
        ljmp    $SEL_TSS_A, $0
        jmp     task_e

/* CALL to a 16-bit TSS (type 1, §7.6) and IRETD back.  Task G runs in a
 * 32-bit code segment based at task_g (a 16-bit TSS holds only IP); it must
 * not touch its stack (ESP's upper word is FFFFH there). */
test_tss16:
        mov     $tss_g, %edi
        mov     $(0x2C / 4), %ecx
        xor     %eax, %eax
        rep stosl
        movw    $0, tss_g + 0x0E                /* IP */
        movw    $2, tss_g + 0x10                /* FLAGS */
        movw    $0x1234, tss_g + 0x12           /* AX */
        movw    $0x7000, tss_g + 0x1A           /* SP */
        movw    $SEL_DATA, tss_g + 0x22         /* ES */
        movw    $SEL_CODE_G, tss_g + 0x24       /* CS */
        movw    $SEL_DATA, tss_g + 0x26         /* SS */
        movw    $SEL_DATA, tss_g + 0x28         /* DS */
        mov     $SEL_TSS_G, %ecx
        mov     $tss_g, %eax
        mov     $0x2B, %edx
        call    set_tss_desc
        andb    $0xF0, gdt + SEL_TSS_G + 5      /* type 9 -> 1: a 16-bit available TSS */
        orb     $0x01, gdt + SEL_TSS_G + 5
        /* CS for task G: base task_g, limit FFFFH, 32-bit code, DPL 0. */
        mov     $task_g, %eax
        mov     %eax, %edx
        shl     $16, %eax
        or      $0xFFFF, %eax
        mov     %eax, gdt + SEL_CODE_G
        mov     %edx, %eax
        shr     $16, %eax
        and     $0xFF, %eax
        or      $0x409A00, %eax                 /* D = 1, P, DPL 0, code exec/read */
        and     $0xFF000000, %edx
        or      %edx, %eax
        mov     %eax, gdt + SEL_CODE_G + 4
        mov     $-1, %eax
        mov     %eax, g_eax
        mov     %eax, g_fs
        mov     $SEL_DATA, %ax
        mov     %ax, %fs                        /* a non-null FS that must not survive */
        lcall   $SEL_TSS_G, $0
        mov     g_eax, %eax
        mov     $0xFFFF1234, %edx
        mov     $n_g_eax, %esi
        call    check
        mov     g_fs, %eax
        xor     %edx, %edx
        mov     $n_g_fs, %esi
        call    check
        mov     g_tr, %eax
        mov     $SEL_TSS_G, %edx
        mov     $n_g_tr, %esi
        call    check
        movzwl  tss_g + 0x0E, %eax
        mov     $(g_iret + 1 - task_g), %edx
        mov     $n_g_ip, %esi
        call    check
        movzwl  tss_g + TSS_LINK, %eax
        mov     $SEL_TSS_A, %edx
        mov     $n_g_link, %esi
        call    check
        mov     $SEL_TSS_G, %ecx
        call    gdt_type
        mov     $0x1, %edx
        mov     $n_g_busy, %esi
        call    check
        clts
        ret

task_g:
        mov     %eax, g_eax
        xor     %eax, %eax
        mov     %fs, %ax
        mov     %eax, g_fs
        str     %ax
        mov     %eax, g_tr
g_iret:
        iret
        jmp     task_g

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */


/* init_tss: %edi = TSS, %eax = EIP, %edx = ESP.  Flat selectors, EFLAGS 2,
 * EAX = B0B0B0B0H (the value task B reports), no LDT, no I/O bitmap. */
init_tss:
        push    %ecx
        push    %edi
        push    %eax
        mov     $(TSS_SIZE / 4), %ecx
        xor     %eax, %eax
        rep stosl
        pop     %eax
        pop     %edi
        pop     %ecx
        mov     %eax, TSS_EIP(%edi)
        mov     %edx, TSS_ESP(%edi)
        mov     %edx, TSS_ESP0(%edi)
        movl    $SEL_DATA, TSS_SS0(%edi)
        movl    $2, TSS_EFLAGS(%edi)
        movl    $0xB0B0B0B0, TSS_EAX(%edi)
        movl    $SEL_CODE, TSS_CS(%edi)
        movl    $SEL_DATA, TSS_ES(%edi)
        movl    $SEL_DATA, TSS_SS(%edi)
        movl    $SEL_DATA, TSS_DS(%edi)
        movl    $SEL_DATA, TSS_FS(%edi)
        movl    $SEL_DATA, TSS_GS(%edi)
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
        /* Vector 40H: a task gate to TSS B. */
        movl    $(SEL_TSS_B << 16), idt + 0x40 * 8
        movl    $0x8500, idt + 0x40 * 8 + 4
        lidt    idtr
        ret

#include "pm32-report.inc"

/* ---------------------------------------------------------------------- */
/* isr_common (stubs: lib/pm32-report.inc): record vector, error code,   */
/* EIP and TR; resume at                                                   */
/* resume_eip if a test expects a fault, else report and exit 2.  Memory  */
/* is reached through %ss: the fault may leave DS unusable (test_commit). */


isr_common:
        push    %eax
        mov     4(%esp), %eax
        mov     %eax, %ss:fault_vector
        mov     8(%esp), %eax
        mov     %eax, %ss:fault_error
        mov     12(%esp), %eax
        mov     %eax, %ss:fault_eip
        str     %ax
        movzwl  %ax, %eax
        mov     %eax, %ss:fault_tr
        incl    %ss:fault_count
        mov     %ss:resume_eip, %eax
        test    %eax, %eax
        jz      unexpected
        mov     %eax, 12(%esp)
        movl    $0, %ss:resume_eip
        pop     %eax
        add     $8, %esp
        iret

unexpected:
        mov     $msg_unexpected, %esi
        call    puts
        mov     %ss:fault_vector, %eax
        call    puthex
        mov     $msg_error, %esi
        call    puts
        mov     %ss:fault_error, %eax
        call    puthex
        mov     $msg_eip, %esi
        call    puts
        mov     %ss:fault_eip, %eax
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
banner:         .asciz  "task-tests: 32-bit protected mode, hardware task switching\n"
name_prefix:    .asciz  "task-tests: "
p_call:         .asciz  "call: "
p_gate:         .asciz  "gate: "
p_int:          .asciz  "int: "
msg_task_f:     .asciz  "FAIL: task F ran although its DS selector is invalid\n"
skip_commit:    .asciz  "SKIP: commit: fault at task F's EIP (QEMU TCG: got the EIP of the JMP in task A)\n"
skip_tflag:     .asciz  "SKIP: tflag: no #DB after switching to a TSS with T = 1 (QEMU TCG does not implement the T flag)\n"
n_jmp_regs:     .asciz  "jmp: EBX restored from TSS A"
n_jmp_tr:       .asciz  "jmp: TR in task B"
n_jmp_nt:       .asciz  "jmp: NT clear in task B"
n_jmp_link:     .asciz  "jmp: no back link written"
n_jmp_eip:      .asciz  "jmp: TSS A saved EIP after the JMP"
n_jmp_saved:    .asciz  "jmp: TSS A saved EBX"
n_jmp_loaded:   .asciz  "jmp: EAX loaded from TSS B"
n_jmp_busy_a:   .asciz  "jmp: TSS A busy again"
n_jmp_busy_b:   .asciz  "jmp: TSS B not busy after leaving"
n_jmp_ts:       .asciz  "jmp: CR0.TS set"
n_call_eip:     .asciz  "call: TSS A saved EIP after the CALL"
n_gate_eip:     .asciz  "gate: TSS A saved EIP after the CALL"
n_int_eip:      .asciz  "int: TSS A saved EIP after the INT"
n_nest_nt:      .asciz  "nested: NT set in the new task"
n_nest_link:    .asciz  "nested: back link = TSS A"
n_nest_busy_a:  .asciz  "nested: TSS A stays busy"
n_nest_busy_b:  .asciz  "nested: TSS B busy"
n_ret_busy_b:   .asciz  "iret: TSS B not busy after the task return"
n_ret_nt:       .asciz  "iret: NT clear in task A"
n_ret_saved_nt: .asciz  "iret: TSS B saved EFLAGS with NT clear"
n_exc_error:    .asciz  "exception: #GP error code on the new task's stack"
n_exc_eip:      .asciz  "exception: TSS A saved EIP = the faulting instruction"
n_exc_nt:       .asciz  "exception: NT set in the handler task"
n_exc_esp:      .asciz  "exception: one doubleword pushed on the new stack"
n_fault_ts:     .asciz  "one #TS (count << 8 | vector)"
n_limit_error:  .asciz  "limit: #TS error code = the TSS selector"
n_limit_eip:    .asciz  "limit: #TS at the JMP"
n_limit_tr:     .asciz  "limit: still in task A"
n_limit_busy:   .asciz  "limit: TSS D not marked busy"
n_busy_gp:      .asciz  "busy: one #GP (count << 8 | vector)"
n_busy_error:   .asciz  "busy: #GP error code = the TSS selector"
n_busy_eip:     .asciz  "busy: #GP at the CALL"
n_commit_error: .asciz  "commit: #TS error code = the DS selector"
n_commit_eip:   .asciz  "commit: fault at task F's EIP"
n_commit_tr:    .asciz  "commit: TR = TSS F in the handler"
n_commit_saved: .asciz  "commit: TSS A saved EIP after the JMP"
n_dr7:          .asciz  "dr7: L0-L3 cleared, G0-G3 kept"
n_tflag_db:     .asciz  "tflag: one #DB (count << 8 | vector)"
n_tflag_eip:    .asciz  "tflag: #DB before task E's first instruction"
n_tflag_bt:     .asciz  "tflag: DR6.BT set"
n_g_eax:        .asciz  "tss16: EAX = FFFFH:AX from the 16-bit TSS"
n_g_fs:         .asciz  "tss16: FS null in the 16-bit task"
n_g_tr:         .asciz  "tss16: TR in the 16-bit task"
n_g_ip:         .asciz  "tss16: IP after the IRET saved in the 16-bit TSS"
n_g_link:       .asciz  "tss16: back link = TSS A"
n_g_busy:       .asciz  "tss16: the 16-bit TSS not busy after the return"

        .section .data
        .align  8
gdt:
        .quad   0
        .quad   0x00CF9A000000FFFF      /* 08: code, 32-bit, flat, DPL 0 */
        .quad   0x00CF92000000FFFF      /* 10: data, flat, DPL 0 */
        .fill   (GDT_LIMIT + 1 - 0x18) / 8, 8, 0   /* TSSs and the gate, filled in at run time */
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
resume_eip:     .long   0
fault_count:    .long   0
fault_vector:   .long   0
fault_error:    .long   0
fault_eip:      .long   0
fault_tr:       .long   0
b_tr:           .long   0
b_flags:        .long   0
b_link:         .long   0
b_busy_a:       .long   0
b_busy_b:       .long   0
b_saved_eip:    .long   0
b_saved_ebx:    .long   0
b_seen_eax:     .long   0
c_error:        .long   0
c_flags:        .long   0
c_saved_eip:    .long   0
c_esp:          .long   0
e_dr6:          .long   0
g_eax:          .long   0
g_fs:           .long   0
g_tr:           .long   0

        .section .bss
        .align  4096
idt:            .space  256 * 8
tss_a:          .space  TSS_SIZE
tss_b:          .space  TSS_SIZE
tss_c:          .space  TSS_SIZE
tss_d:          .space  TSS_SIZE
tss_e:          .space  TSS_SIZE
tss_f:          .space  TSS_SIZE
tss_g:          .space  0x2C
        .align  16
                .space  8192
stack_a_top:
                .space  8192
stack_b_top:
                .space  8192
stack_c_top:
