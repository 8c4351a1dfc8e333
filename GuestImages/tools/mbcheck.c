/*
 * mbcheck — host tool, run by the Makefile after every link.
 *
 * A guest image is loaded in two ways that must agree:
 *   - by its ELF program headers (vmxemu's ELF loader, gdb), and
 *   - by the multiboot a.out-kludge fields (QEMU -kernel, vmxemu's multiboot
 *     loader): copy file bytes from offset
 *         header_offset - (header_addr - load_addr)
 *     to load_addr, load_end_addr - load_addr of them (0 = to end of file),
 *     zero up to bss_end_addr, jump to entry_addr.
 * This tool finds the multiboot header, checks it is well formed, and checks
 * that both views put the same bytes at the same addresses.  It prints one
 * line and exits 0, or explains the first problem and exits 1.
 *
 * Usage: mbcheck IMAGE.elf
 */
#include <elf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MB_MAGIC 0x1BADB002u
#define MB_FLAG_AOUT (1u << 16)
#define MB_SEARCH 8192u                 /* header must start in the first 8 KiB */

static const char *path;
#define U(x) ((unsigned long long)(x))

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mbcheck: %s: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mbcheck IMAGE.elf\n");
        return 2;
    }
    path = argv[1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *file = malloc((size_t)size);
    if (!file || fread(file, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        return 1;
    }
    fclose(f);

    /* --- ELF view --- */
    if (size < (long)sizeof(Elf64_Ehdr))
        die("too small for an ELF header (%ld bytes)", size);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_machine != EM_X86_64)
        die("not an ELF64 x86-64 file (machine %llu, class %llu)", U(eh->e_machine), U(eh->e_ident[EI_CLASS]));
    if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)size)
        die("program headers past end of file (phoff 0x%llx, count %llu)", U(eh->e_phoff), U(eh->e_phnum));
    Elf64_Phdr *ph = (Elf64_Phdr *)(file + eh->e_phoff);

    uint64_t lo = UINT64_MAX, file_end = 0, mem_end = 0;
    int loads = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        loads++;
        if (ph[i].p_paddr != ph[i].p_vaddr)
            die("PT_LOAD paddr 0x%llx != vaddr 0x%llx (images are identity-mapped)", U(ph[i].p_paddr), U(ph[i].p_vaddr));
        if (ph[i].p_offset + ph[i].p_filesz > (uint64_t)size)
            die("PT_LOAD at 0x%llx extends past end of file (filesz 0x%llx)", U(ph[i].p_vaddr), U(ph[i].p_filesz));
        if (ph[i].p_vaddr < lo)
            lo = ph[i].p_vaddr;
        if (ph[i].p_filesz && ph[i].p_vaddr + ph[i].p_filesz > file_end)
            file_end = ph[i].p_vaddr + ph[i].p_filesz;
        if (ph[i].p_vaddr + ph[i].p_memsz > mem_end)
            mem_end = ph[i].p_vaddr + ph[i].p_memsz;
    }
    if (loads == 0)
        die("no PT_LOAD segments");

    /* --- multiboot view --- */
    uint32_t off;
    uint32_t limit = size < (long)MB_SEARCH ? (uint32_t)size : MB_SEARCH;
    for (off = 0; off + 32 <= limit; off += 4)
        if (le32(file + off) == MB_MAGIC)
            break;
    if (off + 32 > limit)
        die("no multiboot header (magic 0x%llx) 4-byte aligned in the first %llu bytes", U(MB_MAGIC), U(MB_SEARCH));
    const unsigned char *mh = file + off;
    uint32_t flags = le32(mh + 4), checksum = le32(mh + 8);
    if ((uint32_t)(MB_MAGIC + flags + checksum) != 0)
        die("multiboot checksum wrong (flags 0x%llx, checksum 0x%llx)", U(flags), U(checksum));
    if (!(flags & MB_FLAG_AOUT))
        die("multiboot flags 0x%llx lack bit 16 (a.out kludge); QEMU refuses ELF64 without it", U(flags));
    uint32_t header_addr = le32(mh + 12), load_addr = le32(mh + 16), load_end = le32(mh + 20),
             bss_end = le32(mh + 24), entry = le32(mh + 28);

    if (load_addr < 0x100000)
        die("load_addr 0x%llx is below 1 MiB", U(load_addr));
    if (header_addr < load_addr || header_addr - load_addr > off)
        die("header_addr 0x%llx inconsistent with load_addr 0x%llx", U(header_addr), U(load_addr));
    uint64_t text_off = off - (header_addr - load_addr);   /* file offset that lands at load_addr */
    uint64_t load_size = load_end ? (uint64_t)load_end - load_addr : (uint64_t)size - text_off;
    if (load_end && load_end < load_addr)
        die("load_end_addr 0x%llx below load_addr 0x%llx", U(load_end), U(load_addr));
    if (text_off + load_size > (uint64_t)size)
        die("kludge loads 0x%llx bytes but the file has only 0x%llx after the load offset", U(load_size), U((uint64_t)size - text_off));
    if (bss_end && bss_end < load_addr + load_size)
        die("bss_end_addr 0x%llx below the end of the loaded bytes 0x%llx", U(bss_end), U(load_addr + load_size));

    /* --- do the views agree? --- */
    if (lo != load_addr)
        die("lowest PT_LOAD 0x%llx != multiboot load_addr 0x%llx", U(lo), U(load_addr));
    if (load_addr + load_size != file_end)
        die("multiboot loads up to 0x%llx, ELF file-backed data ends at 0x%llx", U(load_addr + load_size), U(file_end));
    if ((bss_end ? bss_end : load_addr + load_size) < mem_end)
        die("multiboot bss_end 0x%llx below ELF memory end 0x%llx", U(bss_end), U(mem_end));
    if (entry != eh->e_entry)
        die("multiboot entry_addr 0x%llx != ELF e_entry 0x%llx", U(entry), U(eh->e_entry));
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
            continue;
        /* The kludge copies the file linearly, so each segment's bytes must
         * sit at the same distance from the load offset as its address is
         * from load_addr. */
        if (ph[i].p_offset - text_off != ph[i].p_vaddr - load_addr)
            die("PT_LOAD at 0x%llx has file offset 0x%llx: not where the linear kludge copy puts it", U(ph[i].p_vaddr), U(ph[i].p_offset));
    }

    printf("mbcheck: %s ok: load 0x%x-0x%x (file offset 0x%llx), bss to 0x%x, entry 0x%x\n", path, load_addr,
           (unsigned)(load_addr + load_size), (unsigned long long)text_off, bss_end, entry);
    return 0;
}
