/*
 * boot.S — from the multiboot hand-off (32-bit protected mode) to C in 64-bit
 * long mode.
 *
 * SDM references are to the Intel 64 and IA-32 Architectures Software
 * Developer's Manual, Order Number 325462-077US, April 2022 (pinned in
 * lib/guest.h); section numbers drift between editions, so the titles are
 * given too.
 *
 * Where we start (Multiboot Specification 0.6.96, "Machine state"):
 *   - 32-bit protected mode, paging off, interrupts off (EFLAGS.IF = 0);
 *   - CS is a flat 4 GiB 32-bit code segment, DS/ES/FS/GS/SS flat data;
 *   - EAX = 0x2BADB002, EBX = physical address of the multiboot info;
 *   - and nothing else.  ESP is undefined, GDTR may point at memory the
 *     loader has already reused, IDTR is whatever the loader left.  So the
 *     first job is to stop depending on anything the loader owns.
 *
 * Where we want to be: IA-32e mode, 64-bit sub-mode, with a stack and an
 * identity map of the first 4 GiB, so that C code can run and can touch any
 * address below 4 GiB (RAM, and the MMIO hole near the top) by its physical
 * address.  The recipe is SDM Vol. 3A §9.8.5 "Initializing IA-32e Mode":
 *
 *   1. be in protected mode with paging off          (the loader did this)
 *   2. CR4.PAE = 1                                    (64-bit page-table entries)
 *   3. CR3 = physical address of the top-level table (PML4)
 *   4. IA32_EFER.LME = 1                              (ask for long mode)
 *   5. CR0.PG = 1       -> IA-32e mode is now active (EFER.LMA = 1), but we
 *                          are still running 32-bit code: "compatibility mode"
 *   6. far jump to a code segment with L = 1         -> 64-bit mode
 *
 * The order matters: setting CR0.PG with LME = 1 and PAE = 0 is a #GP, and
 * LME cannot be changed while paging is on.
 */

#define GDT_CODE32      0x08            /* selectors: index * 8, TI = 0, RPL = 0 */
#define GDT_CODE64      0x10
#define GDT_DATA        0x18

#define PTE_P           (1 << 0)        /* present */
#define PTE_W           (1 << 1)        /* writable */
#define PTE_PS          (1 << 7)        /* in a page-directory entry: maps a 2 MiB page */

#define CR0_PG          (1 << 31)
#define CR4_PAE         (1 << 5)
#define MSR_EFER        0xC0000080
#define EFER_LME        (1 << 8)

#define EXIT_PORT       0xF4
#define COM1            0x3F8

        .cfi_sections .debug_frame      /* unwind info for gdb, not .eh_frame */
        .section .text.boot, "ax"
        .code32
        .globl  _start
        .type   _start, @function
_start:
        /* The loader already cleared IF; saying so again costs nothing and
         * documents the assumption.  Clear DF too: the C ABI assumes it is
         * clear at every function entry, and nobody promised us that. */
        cli
        cld

        /* Keep the two hand-off values where the System V ABI wants the
         * first two C arguments (RDI, RSI), and where nothing below touches
         * them. */
        movl    %eax, %edi              /* multiboot magic */
        movl    %ebx, %esi              /* multiboot info (physical address) */

        /* Our own GDT (SDM Vol. 3A §3.5.1 "Segment Descriptor Tables").  The
         * segment registers keep working off their hidden, cached
         * descriptors until reloaded, so we can switch tables first and then
         * reload every segment register from the new one.  The far jump
         * reloads CS; a mov reloads each data segment. */
        lgdt    gdt_descriptor
        ljmp    $GDT_CODE32, $1f
1:      movw    $GDT_DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $boot_stack_top, %esp   /* a stack of our own from here on */

        /* Does this CPU do long mode at all?  CPUID leaf 0x80000001 EDX bit
         * 29 ("Intel 64 Architecture", SDM Vol. 2A, CPUID).  First make sure
         * that extended leaf exists (leaf 0x80000000 EAX = highest one). */
        movl    $0x80000000, %eax
        cpuid
        cmpl    $0x80000001, %eax
        jb      no_long_mode
        movl    $0x80000001, %eax
        cpuid
        btl     $29, %edx
        jnc     no_long_mode

        /*
         * Page tables (SDM Vol. 3A §4.5 "4-Level Paging and 5-Level Paging").
         * Long mode cannot run with paging off, so we need tables before we
         * can get there.  An identity map (virtual == physical) is the
         * simplest that keeps this very code running at the instant paging
         * turns on: the next instruction is fetched through the new tables.
         *
         *   CR3 -> PML4      1 entry used: [0] covers 0 .. 512 GiB
         *          PDPT      4 entries:    [i] covers i GiB .. i+1 GiB
         *          PD x 4    2048 entries: each maps one 2 MiB page (PS = 1)
         *
         * 2048 x 2 MiB = 4 GiB.  Large pages save a whole level of tables
         * (no page tables at all).  1 GiB pages would save another, but not
         * every CPU (nor QEMU's default model) has them.
         *
         * The tables live in .bss, which the loader zeroed, so every entry
         * we do not write is "not present".  Each entry is 64 bits; all our
         * addresses are below 4 GiB, so the high dword stays 0.
         */
        movl    $boot_pdpt + (PTE_P | PTE_W), boot_pml4

        movl    $boot_pd + (PTE_P | PTE_W), %eax
        movl    $boot_pdpt, %ebx
        movl    $4, %ecx
2:      movl    %eax, (%ebx)            /* PDPT[i] = PD number i */
        addl    $4096, %eax
        addl    $8, %ebx
        decl    %ecx
        jnz     2b

        movl    $(PTE_P | PTE_W | PTE_PS), %eax   /* physical 0, 2 MiB page */
        movl    $boot_pd, %ebx
        movl    $2048, %ecx
3:      movl    %eax, (%ebx)            /* PD[j] = j * 2 MiB, present, writable, large */
        addl    $0x200000, %eax
        addl    $8, %ebx
        decl    %ecx
        jnz     3b

        /* Step 2: PAE.  In IA-32e mode paging always uses the 64-bit entry
         * format; CR4.PAE must be set before paging is enabled (SDM Vol. 3A
         * §2.5 "Control Registers"). */
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4

        /* Step 3: the PML4.  MOV to CR3 here only writes 32 bits, which is
         * why the tables must sit below 4 GiB at this point. */
        movl    $boot_pml4, %eax
        movl    %eax, %cr3

        /* Step 4: IA32_EFER.LME, "long mode enable" (SDM Vol. 3A §2.2.1
         * "Extended Feature Enable Register").  EFER is an MSR, so it is
         * read-modify-written with RDMSR/WRMSR (ECX = MSR number, EDX:EAX =
         * value). */
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr

        /* Step 5: paging on.  Because LME = 1 the CPU activates IA-32e mode
         * and sets EFER.LMA.  CS still holds our 32-bit segment (L = 0), so
         * execution carries on in compatibility mode, 32-bit code under
         * 4-level paging. */
        movl    %cr0, %eax
        orl     $CR0_PG, %eax
        movl    %eax, %cr0

        /* Step 6: load CS with a descriptor whose L bit is set (SDM Vol. 3A
         * §5.2.1 "Code-Segment Descriptor in 64-bit Mode").  From the next
         * instruction on, we decode and execute 64-bit code. */
        ljmp    $GDT_CODE64, $long_mode_entry

        /* No long mode: say so on COM1 without any setup (a 16550 transmits
         * with its reset settings too) and leave through the exit port with
         * status 2, the "crashed" status of lib/guest.h. */
no_long_mode:
        movl    $no_long_mode_msg, %esi
4:      movb    (%esi), %bl
        testb   %bl, %bl
        jz      6f
        movw    $COM1 + 5, %dx          /* line status register */
5:      inb     %dx, %al
        testb   $0x20, %al              /* bit 5: transmit holding register empty */
        jz      5b
        movw    $COM1, %dx
        movb    %bl, %al
        outb    %al, %dx
        incl    %esi
        jmp     4b
6:      movl    $2, %eax
        movw    $EXIT_PORT, %dx
        outl    %eax, %dx
7:      hlt
        jmp     7b
        .size   _start, . - _start

        .code64
        .type   long_mode_entry, @function
long_mode_entry:
        /* Tell debuggers this is the outermost frame: there is no return
         * address above it, so `bt` ends here cleanly. */
        .cfi_startproc
        .cfi_undefined  %rip
        /* In 64-bit mode the CPU ignores the bases and limits of DS, ES and
         * SS (FS and GS keep only their bases), but they must still hold
         * usable selectors; point them all at our flat data segment. */
        movw    $GDT_DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs

        /* A real stack, 16-byte aligned as the ABI wants it just before a
         * CALL.  RBP = 0 marks the outermost frame for debuggers. */
        movq    $boot_stack_top, %rsp
        xorl    %ebp, %ebp

        /* The upper halves of the registers are undefined after running
         * 32-bit code (SDM Vol. 1 §3.4.1.1 "General-Purpose Registers in
         * 64-Bit Mode").  Writing a 32-bit register zero-extends, so these two
         * moves turn EDI/ESI into clean 64-bit arguments. */
        movl    %edi, %edi
        movl    %esi, %esi

        /* guest_init() brings up the serial port and the IDT, so from here
         * on any CPU exception is reported instead of triple-faulting. */
        pushq   %rdi
        pushq   %rsi
        call    guest_init
        popq    %rsi
        popq    %rdi

        /* int kmain(uint32_t magic, uint32_t mbi); its return value is the
         * exit status. */
        call    kmain
        movl    %eax, %edi
        call    guest_exit              /* does not return */
8:      cli
        hlt
        jmp     8b
        .cfi_endproc
        .size   long_mode_entry, . - long_mode_entry

        .section .rodata
no_long_mode_msg:
        .asciz  "FAIL: boot: this CPU does not support long mode (CPUID 0x80000001 EDX bit 29)\n"

/*
 * The GDT (SDM Vol. 3A §3.4.5 "Segment Descriptors").  Each descriptor is 8
 * bytes: base and limit scattered in pieces for 286 compatibility, an access
 * byte (P, DPL, S, type) and flags (G = 4 KiB granularity, D/B = 32-bit,
 * L = 64-bit code).
 *
 *                     flags+limit hi | access | base/limit lo
 *   0x08 code32   00 C F 9A 000000 FFFF   G=1 D=1       present, ring 0, code, exec/read
 *   0x10 code64   00 A F 9A 000000 FFFF   G=1 L=1 D=0   same, but 64-bit
 *   0x18 data     00 C F 92 000000 FFFF   G=1 B=1       present, ring 0, data, read/write
 *
 * It lives in .data because the CPU writes the "accessed" bit of a
 * descriptor the first time it is loaded.
 */
        .section .data
        .align  16
        .globl  boot_gdt
boot_gdt:
        .quad   0                       /* 0x00: the null descriptor, required */
        .quad   0x00CF9A000000FFFF      /* 0x08: 32-bit code, flat 4 GiB */
        .quad   0x00AF9A000000FFFF      /* 0x10: 64-bit code */
        .quad   0x00CF92000000FFFF      /* 0x18: data, flat 4 GiB */
boot_gdt_end:

        .align  16
        .word   0                       /* pad, so the base below is 8-byte aligned */
gdt_descriptor:
        .word   boot_gdt_end - boot_gdt - 1     /* limit: size in bytes minus one */
        .quad   boot_gdt                        /* base (LGDT in 32-bit mode reads 4 bytes of it) */

/* Page tables and the boot stack: zero-filled by the loader. */
        .section .bss
        .align  4096
        .globl  boot_pml4, boot_pdpt, boot_pd
boot_pml4:
        .skip   4096
boot_pdpt:
        .skip   4096
boot_pd:                                /* four page directories, back to back */
        .skip   4 * 4096

        .align  16
        .globl  boot_stack, boot_stack_top
boot_stack:
        .skip   64 * 1024
boot_stack_top:
