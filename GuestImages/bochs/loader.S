/*
 * loader.S — a 4 KiB "BIOS" that lets Bochs run our multiboot images unchanged.
 *
 * Bochs cannot load a multiboot kernel (it boots from disks or runs a ROM), so
 * for each image the Makefile builds build/bochs/NAME.rom, a ROM_SIZE-byte
 * firmware file that Bochs maps at the top of the 4 GiB address space
 * (`romimage: file=NAME.rom`):
 *
 *   0xFFF80000  the image's load bytes, exactly as a multiboot loader copies
 *               them (`objcopy -O binary NAME.elf`: .text from 1 MiB through
 *               the end of .data; the multiboot header is at offset 0)
 *   ...         zero padding
 *   0xFFFFF000  this loader (one 4 KiB page); its last 16 bytes hold the
 *               reset vector, 0xFFFFFFF0
 *
 * The CPU starts at the reset vector in real mode with CS.base = 0xFFFF0000
 * (SDM Vol. 3A §9.1.4 "First Instruction Executed").  The loader then does
 * what a multiboot loader does (Multiboot Specification 0.6.96, "OS image
 * format", "The address fields of Multiboot header", "Machine state"):
 *
 *   1. enter 32-bit protected mode with flat segments, paging off, IF = 0
 *      (SDM Vol. 3A §10.9.1 "Switching to Protected Mode");
 *   2. open the A20 gate (port 0x92, "fast A20") so 1 MiB and up is reachable;
 *   3. find the header in the first 8 KiB of the image (magic 0x1BADB002,
 *      magic + flags + checksum == 0) and insist on the a.out kludge (flag
 *      bit 16): the five address fields say what to copy where;
 *   4. copy load_end_addr - load_addr bytes to load_addr, zero up to
 *      bss_end_addr, build an empty multiboot information structure (flags 0:
 *      no command line, no memory map) at MBI_ADDR;
 *   5. jump to entry_addr with EAX = 0x2BADB002 and EBX = MBI_ADDR.
 *
 * So the same ELF that QEMU and vmxemu load with -kernel runs here, byte for
 * byte.  Nothing else of a PC BIOS is set up: no IVT, no PIC or PIT
 * programming, no VGA (the images only use COM1 and run with IF = 0).
 */
#ifndef ROM_SIZE
#error "ROM_SIZE must be defined (the Makefile passes -DROM_SIZE=...)"
#endif
#define ROM_BASE        (0x100000000 - ROM_SIZE)  /* where Bochs maps the ROM */
#define LOADER_BASE     0xFFFFF000                /* this page */
#define SEG_BASE        0xFFFF0000                /* CS.base after reset */
#define MB_MAGIC        0x1BADB002
#define MB_BOOT_MAGIC   0x2BADB002
#define MB_FLAG_AOUT    (1 << 16)
#define MBI_ADDR        0x9000
#define STACK_TOP       0x8000
#define COM1            0x3F8

        .section .text, "ax"
        .code16
start16:
        cli
        cld
        /* lgdtl reads a 6-byte pseudo-descriptor with a 32-bit base; address
         * it through CS, whose hidden base is still 0xFFFF0000. */
        lgdtl   %cs:(gdt_descriptor - SEG_BASE)
        movl    %cr0, %eax
        orl     $1, %eax                /* CR0.PE */
        movl    %eax, %cr0
        /* A far jump with a 32-bit offset reloads CS from the GDT: from the
         * next instruction on we execute 32-bit protected-mode code. */
        ljmpl   $0x08, $start32

        .code32
start32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $STACK_TOP, %esp

        /* Fast A20: set bit 1 of port 0x92, never touch bit 0 (reset). */
        inb     $0x92, %al
        orb     $0x02, %al
        andb    $0xFE, %al
        outb    %al, $0x92

        /* Find the multiboot header: 4-byte aligned, in the first 8 KiB. */
        movl    $ROM_BASE, %esi
        movl    $ROM_BASE + 8192, %edi
1:      cmpl    $MB_MAGIC, (%esi)
        jne     2f
        movl    (%esi), %eax
        addl    4(%esi), %eax
        addl    8(%esi), %eax
        jz      3f                      /* checksum holds */
2:      addl    $4, %esi
        cmpl    %edi, %esi
        jb      1b
        movl    $msg_no_header, %esi
        jmp     fail

3:      testl   $MB_FLAG_AOUT, 4(%esi)
        jnz     4f
        movl    $msg_no_aout, %esi
        jmp     fail

        /* Header fields: +12 header_addr, +16 load_addr, +20 load_end_addr,
         * +24 bss_end_addr, +28 entry_addr.  The byte at load_addr sits
         * (header_addr - load_addr) bytes before the header in the file. */
4:      movl    %esi, %ebx              /* EBX = header */
        movl    12(%ebx), %eax
        subl    16(%ebx), %eax          /* header_addr - load_addr */
        subl    %eax, %esi              /* ESI = source of load_addr's byte */
        movl    16(%ebx), %edi          /* EDI = load_addr */
        movl    20(%ebx), %ecx
        subl    %edi, %ecx              /* ECX = bytes to copy */
        rep movsb
        movl    24(%ebx), %ecx
        subl    20(%ebx), %ecx          /* bss: bss_end - load_end, from EDI on */
        xorl    %eax, %eax
        rep stosb

        /* An all-zero multiboot information structure: flags = 0. */
        movl    $MBI_ADDR, %edi
        movl    $64 / 4, %ecx
        rep stosl

        movl    28(%ebx), %ecx          /* entry_addr */
        movl    $MB_BOOT_MAGIC, %eax
        movl    $MBI_ADDR, %ebx
        jmp     *%ecx

        /* Print the NUL-terminated message at ESI on COM1 (the UART works
         * with its reset settings) and stop Bochs through its shutdown port. */
fail:   movb    (%esi), %al
        testb   %al, %al
        jz      5f
        movw    $COM1, %dx
        outb    %al, %dx
        incl    %esi
        jmp     fail
5:      movl    $msg_shutdown, %esi
        movw    $0x8900, %dx
6:      movb    (%esi), %al
        testb   %al, %al
        jz      7f
        outb    %al, %dx
        incl    %esi
        jmp     6b
7:      hlt
        jmp     7b

msg_no_header:
        .asciz  "FAIL: bochs loader: no multiboot header in the first 8 KiB of the image\n"
msg_no_aout:
        .asciz  "FAIL: bochs loader: multiboot header without the a.out kludge (flag 16)\n"
msg_shutdown:
        .asciz  "Shutdown"

/* null, 0x08 flat 32-bit code, 0x10 flat data (SDM Vol. 3A §3.4.5 "Segment
 * Descriptors"); the same descriptors as lib/boot.S. */
        .align  8
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF
        .quad   0x00CF92000000FFFF
gdt_end:
        .word   0
gdt_descriptor:
        .word   gdt_end - gdt - 1
        .long   gdt

        /* The reset vector: real mode, IP = 0xFFF0 in the segment based at
         * 0xFFFF0000.  A near jump stays in that segment. */
        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        jmp     start16
        .balign 16, 0xF4
