/*
 * multiboot.S — the Multiboot v1 header that makes this ELF bootable with
 * `qemu-system-x86_64 -kernel` (and with vmxemu, which follows the same rules).
 *
 * Reference: Multiboot Specification version 0.6.96, sections "OS image
 * format" (header layout), "The address fields of Multiboot header" (the
 * a.out kludge) and "Machine state" (what the CPU looks like at entry).
 *
 * Why the "a.out kludge"?  A multiboot loader normally reads the ELF program
 * headers itself.  But the multiboot protocol only knows 32-bit ELF, and QEMU
 * refuses an ELF64 file outright ("Cannot load x86-64 image, give a 32bit
 * one").  Setting flag bit 16 tells the loader to ignore the ELF format and
 * instead copy a linear range of the file to memory, as described by five
 * address fields in this header:
 *
 *   header_addr    the address this header will have once loaded.  The loader
 *                  locates the header at file offset H, and derives the file
 *                  offset of load_addr as H - (header_addr - load_addr).
 *   load_addr      where the first copied byte goes (start of .text).
 *   load_end_addr  where the file-backed part ends (end of .data); the loader
 *                  copies load_end_addr - load_addr bytes.
 *   bss_end_addr   the loader zeroes [load_end_addr, bss_end_addr).
 *   entry_addr     where it jumps, in 32-bit protected mode.
 *
 * All five are plain link-time addresses taken from lib/linker.ld, so they can
 * never drift from the ELF program headers; tools/mbcheck.c re-checks the
 * finished file anyway.
 *
 * This file holds only the header, so an image that wants its own entry code
 * (ud2-triple) can link it without the long-mode boot path in boot.S.  The
 * image must define the global symbol _start.
 */

#define MB_MAGIC        0x1BADB002
#define MB_FLAG_AOUT    (1 << 16)       /* the address fields below are valid */
#define MB_FLAGS        (MB_FLAG_AOUT)  /* no memory map, no video mode asked for */

        .section .multiboot, "a"
        .align  4
        .globl  multiboot_header
multiboot_header:
        .long   MB_MAGIC
        .long   MB_FLAGS
        .long   -(MB_MAGIC + MB_FLAGS)  /* magic + flags + checksum == 0 (mod 2^32) */
        .long   multiboot_header        /* header_addr   */
        .long   __image_start           /* load_addr     */
        .long   __load_end              /* load_end_addr */
        .long   __bss_end               /* bss_end_addr  */
        .long   _start                  /* entry_addr    */
