/*
 * ring3.h — user mode (CPL 3), a TSS and extra IDT gates for the images that
 * test privilege-level changes (paging-tests, privilege-tests,
 * debugreg-tests).  Not linked into the other images.
 *
 * ring3_init() replaces boot.S's GDT by a bigger one with the same first
 * four entries (so the selectors in use stay valid) plus user segments and a
 * 64-bit TSS, laid out the way SYSCALL/SYSRET and SYSENTER/SYSEXIT want them
 * (SDM Vol. 3A §5.8.8 "Fast System Calls in 64-Bit Mode", Vol. 2B SYSEXIT):
 *
 *   0x08 kernel code, 32-bit      0x10 kernel code, 64-bit (SYSCALL CS)
 *   0x18 kernel data (SYSCALL SS) 0x20 user code, 32-bit (SYSRET to compat.)
 *   0x28 user data (SYSRET SS)    0x30 user code, 64-bit (SYSRET/SYSEXIT CS)
 *   0x38 user data (SYSEXIT SS = IA32_SYSENTER_CS + 40)
 *   0x40 64-bit TSS (16 bytes)
 *
 * It also sets the U/S bit in every entry of the boot page tables, so CPL-3
 * code may use the identity map (U/S is checked at every level: SDM Vol. 3A
 * §4.6 "Access Rights").
 */
#ifndef RING3_H
#define RING3_H

#include "guest.h"

#define SEL_KCODE32 0x08
#define SEL_KCODE   0x10
#define SEL_KDATA   0x18
#define SEL_UCODE32 0x23
#define SEL_UDATA   0x2B
#define SEL_UCODE   0x33
#define SEL_UDATA2  0x3B
#define SEL_TSS     0x40

#define RFLAGS_TF   (1ull << 8)
#define RFLAGS_IF   (1ull << 9)
#define RFLAGS_IOPL3 (3ull << 12)
#define RFLAGS_RF   (1ull << 16)

/* The 64-bit TSS (SDM Vol. 3A §8.7 "Task Management in 64-bit Mode",
 * Figure 8-11), followed by its I/O permission bitmap (§20.5.2 "I/O
 * Permission Bit Map" in Vol. 1 — bit n set = port n denied at CPL > IOPL). */
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t ist[8];               /* ist[1..7] at offset 36; ist[0] is the reserved quadword at 28 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    uint8_t iomap[8192 + 1];       /* + the all-ones byte the SDM asks for at the end */
} __attribute__((packed));
_Static_assert(__builtin_offsetof(struct tss64, ist) == 28, "IST1 is at offset 36, ist[0] = the reserved quadword at 28");
_Static_assert(__builtin_offsetof(struct tss64, iomap_base) == 102, "I/O map base at offset 102");

extern struct tss64 ring3_tss;
/* Top of the stack in TSS.RSP0 and of IST1..IST3 (16-byte aligned). */
uint64_t ring3_rsp0(void);
uint64_t ring3_ist(unsigned n);
/* Top of the user stack ring3_call runs CPL-3 code on. */
uint64_t ring3_user_stack(void);

void ring3_init(void);

/* Puts a 64-bit call gate to SEL_KCODE:target with the given DPL at
 * selector SEL_CALLGATE (after ring3_init). */
#define SEL_CALLGATE 0x50
void ring3_set_call_gate(uint64_t target, unsigned dpl);

/* Runs fn at CPL 3 (CS = cs, SS = SEL_UDATA, DS = ES = SEL_UDATA) with
 * RFLAGS = rflags (bit 1 is forced), RDI = arg, on the user stack, entered by
 * IRETQ (SDM Vol. 3A §6.14.3 "IRET in IA-32e Mode").  Returns when the user
 * code executes INT 0x81 (what returning from fn does): RAX is returned. */
uint64_t ring3_call(const void *fn, uint64_t cs, uint64_t rflags, uint64_t arg);
static inline uint64_t ring3_run(uint64_t (*fn)(uint64_t), uint64_t arg)
{
    return ring3_call((const void *)fn, SEL_UCODE, 0x2, arg);
}

/* A 64-bit interrupt gate (type 0xE) or trap gate (0xF) for vector vec. */
void idt_set_gate(unsigned vec, uint64_t handler, unsigned ist, unsigned dpl, unsigned type);
#define GATE_INTR 0xE
#define GATE_TRAP 0xF
/* Stubs for vectors 0x80, 0x82, 0x83 in the isr.S style (push 0, vector,
 * then isr_common -> exception_dispatch -> exception_hook). */
extern const char ring3_vec80[], ring3_vec82[], ring3_vec83[];
extern const char ring3_exit_stub[];    /* the INT 0x81 gate */
extern const char ring3_return_tramp[]; /* "int $0x81", fn's return address */

/* ---- Probes: what fault-tests does, for every image here ------------- */
/* TRAP_ARM stores labels 1 and 2 of the asm statement in trap_fault_rip and
 * trap_next_rip and arms trap_hook; trap_hook records one exception and
 * resumes at label 2 (or at trap_resume_rip if nonzero).  Usable at CPL 3 as
 * well (the globals are in user-accessible pages).  Clobbers RAX. */
extern volatile uint64_t trap_armed, trap_fault_rip, trap_next_rip, trap_resume_rip;
struct trap_seen {
    unsigned hits;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss, cr2, frame, kss; /* frame = &rip pushed; kss = SS in the handler */
};
extern volatile struct trap_seen trap_seen;
#define TRAP_ARM                                                             \
    "lea 1f(%%rip), %%rax\n\t"                                               \
    "mov %%rax, trap_fault_rip(%%rip)\n\t"                                   \
    "lea 2f(%%rip), %%rax\n\t"                                               \
    "mov %%rax, trap_next_rip(%%rip)\n\t"                                    \
    "movq $1, trap_armed(%%rip)\n\t"
void trap_reset(void);
bool trap_hook(struct trap_frame *f);   /* install as exception_hook */
/* One PASS/FAIL line: exactly one exception with this vector, error code and
 * RIP (and CR2 unless cr2 == TRAP_NO_CR2). */
#define TRAP_NO_CR2 (~0ull)
bool trap_check(const char *name, uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2);
bool trap_check_none(const char *name);

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
#define MSR_EFER 0xC0000080u
#define EFER_SCE (1ull << 0)
#define EFER_NXE (1ull << 11)

/* "SKIP: name (reason)" — a check this CPU cannot run; not counted. */
void skip(const char *name, const char *why);
/* True under QEMU TCG (hypervisor vendor "TCGTCGTCGTCG"). */
bool cpu_is_qemu_tcg(void);

#endif
