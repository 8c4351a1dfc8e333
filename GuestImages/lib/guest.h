/*
 * guest.h — the whole API of the tiny guest library (GuestImages/lib).
 *
 * Every image links: multiboot.S (the header), boot.S (32-bit entry -> long
 * mode -> guest_init() -> kmain()), isr.S + idt.c (exception reporting),
 * serial.c, printf.c, string.c, guest.c.
 *
 * SDM edition used for every citation in GuestImages: Intel 64 and IA-32
 * Architectures Software Developer's Manual, Order Number 325462-077US,
 * April 2022 (the edition vmxemu pins in Sources/X86/VMX/SDM.swift).  Sections are cited by number *and* title because numbers move
 * between editions.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOINLINE __attribute__((noinline))
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* ---- Exit status convention ------------------------------------------ */
/* guest_exit(v) writes v to the debug-exit port 0xF4 with a 32-bit OUT.
 * vmxemu exits with v; QEMU's isa-debug-exit exits with (v << 1) | 1. */
#define EXIT_PORT        0xF4
#define GUEST_EXIT_OK    0  /* every check passed / benchmark finished */
#define GUEST_EXIT_FAIL  1  /* a self-check printed FAIL */
#define GUEST_EXIT_CRASH 2  /* unexpected CPU exception, or boot failure */
/* Bochs has no debug-exit device; writing the string "Shutdown" to this
 * port makes it quit (guest_exit does so after the 0xF4 write). */
#define BOCHS_SHUTDOWN_PORT 0x8900

/* ---- Entry points ---------------------------------------------------- */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* Each image defines kmain; boot.S calls it after guest_init() and exits
 * with its return value. */
int kmain(uint32_t magic, uint32_t mbi);

void guest_init(void);              /* serial + IDT; called by boot.S */
NORETURN void guest_exit(uint32_t status);

/* The multiboot information structure (only the fields we use). */
struct multiboot_info {
    uint32_t flags;                 /* which fields below are valid */
    uint32_t mem_lower, mem_upper;  /* flags bit 0 */
    uint32_t boot_device;           /* flags bit 1 */
    uint32_t cmdline;               /* flags bit 2: physical address of a C string */
};
#define MULTIBOOT_INFO_CMDLINE (1u << 2)

/* Returns the boot command line, or NULL when the loader passed none. */
const char *multiboot_cmdline(uint32_t magic, uint32_t mbi);

/* ---- Port I/O and a few privileged instructions ---------------------- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline void invlpg(uintptr_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

/* A compiler barrier: gcc must assume memory was read and written here. */
#define barrier() __asm__ volatile("" : : : "memory")

/* ---- Serial (16550 UART, COM1 at 0x3F8) and printing ------------------ */
void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
void serial_flush(void);            /* wait until the last byte has left the UART */

/* kprintf: %s %d %u %x %p %c %%, with l / ll modifiers (%ld %lu %lx ...),
 * and an optional zero-pad/width for numbers (%08x, %16lx). */
PRINTF_LIKE(1, 2) void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);

/* ---- PASS / FAIL lines ----------------------------------------------- */
/* Each helper prints exactly one line, "PASS: name" or
 * "FAIL: name (got X, want Y)", and counts it. */
extern unsigned checks_passed, checks_failed;
void pass(const char *name);
PRINTF_LIKE(2, 3) void fail(const char *name, const char *fmt, ...);
bool check_u64(const char *name, uint64_t got, uint64_t want);  /* hex */
bool check_i64(const char *name, int64_t got, int64_t want);    /* signed decimal */
bool check_true(const char *name, bool ok);
/* Prints a one-line summary and returns GUEST_EXIT_OK or GUEST_EXIT_FAIL. */
int checks_report(const char *image);

/* ---- Freestanding string functions (gcc may also call these itself for
 *      struct copies and large initialisers, so they must exist). ------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* ---- Exceptions ------------------------------------------------------- */
/* What isr.S pushes, lowest address first: the general registers, then the
 * vector and error code (a 0 is pushed for vectors without one), then the
 * frame the CPU itself pushed (SDM Vol. 3A §6.14.2 "64-Bit Mode Stack
 * Frame"). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU */
};

/* If set, called first for every exception; return true to resume at
 * frame->rip (which the hook may change), false for the default report +
 * exit(GUEST_EXIT_CRASH). */
extern bool (*exception_hook)(struct trap_frame *frame);

const char *exception_mnemonic(unsigned vector);   /* "#PF" ... */
void idt_init(void);

/* The boot page tables (boot.S): boot_pd is four page directories back to
 * back, 2048 entries, entry j maps physical/virtual j * 2 MiB. */
extern uint64_t boot_pml4[512], boot_pdpt[512], boot_pd[4 * 512];

#endif
