/*
 * ring3.c — GDT with user segments, a 64-bit TSS, extra IDT gates, and the
 * probe hook shared by the privileged-path images.  See ring3.h.
 */
#include "ring3.h"

/* Segment descriptors (SDM Vol. 3A §3.4.5 "Segment Descriptors"): the
 * access byte is P | DPL | S | type; flags nibble G, D/B, L. */
static uint64_t gdt[12] __attribute__((aligned(16))) = {
    0,
    0x00CF9A000000FFFFull,   /* 0x08 code32 DPL0 */
    0x00AF9A000000FFFFull,   /* 0x10 code64 DPL0 (L = 1) */
    0x00CF92000000FFFFull,   /* 0x18 data DPL0 */
    0x00CFFA000000FFFFull,   /* 0x20 code32 DPL3 (access 0xFA) */
    0x00CFF2000000FFFFull,   /* 0x28 data DPL3 (access 0xF2) */
    0x00AFFA000000FFFFull,   /* 0x30 code64 DPL3 */
    0x00CFF2000000FFFFull,   /* 0x38 data DPL3, SYSEXIT's SS */
    0, 0,                    /* 0x40 TSS, filled in by ring3_init */
    0, 0,                    /* 0x50 a 64-bit call gate: ring3_set_call_gate */
};

void ring3_set_call_gate(uint64_t target, unsigned dpl)
{
    /* SDM Vol. 3A §5.8.3.1 "IA-32e Mode Call Gates", Figure 5-9: 16 bytes,
     * type 0CH, the target selector and a 64-bit offset; no parameter count. */
    gdt[10] = (target & 0xFFFF) | ((uint64_t)SEL_KCODE << 16) | (0xCull << 40) |
              ((uint64_t)(dpl & 3) << 45) | (1ull << 47) | (((target >> 16) & 0xFFFF) << 48);
    gdt[11] = target >> 32;        /* bits 12:8 of the upper dword (type) must be 0 */
}

struct tss64 ring3_tss __attribute__((aligned(16)));
static uint8_t rsp0_stack[16384] __attribute__((aligned(16)));
static uint8_t ist_stacks[4][4096] __attribute__((aligned(16)));
extern uint8_t ring3_user_stack_top[];   /* ring3.S */

uint64_t ring3_rsp0(void) { return (uint64_t)(uintptr_t)(rsp0_stack + sizeof rsp0_stack); }
uint64_t ring3_ist(unsigned n) { return (uint64_t)(uintptr_t)(ist_stacks[n] + sizeof ist_stacks[n]); }
uint64_t ring3_user_stack(void) { return (uint64_t)(uintptr_t)ring3_user_stack_top; }

void ring3_init(void)
{
    /* TSS: RSP0 for CPL 3 -> 0 transitions, IST1..3, all ports denied. */
    memset(&ring3_tss, 0, sizeof ring3_tss);
    ring3_tss.rsp[0] = ring3_rsp0();
    for (unsigned n = 1; n <= 3; n++)
        ring3_tss.ist[n] = ring3_ist(n);
    ring3_tss.iomap_base = __builtin_offsetof(struct tss64, iomap);
    memset(ring3_tss.iomap, 0xFF, sizeof ring3_tss.iomap);

    /* 64-bit TSS descriptor (SDM Vol. 3A §8.2.3 "TSS Descriptor in 64-bit
     * mode"): 16 bytes, type 9 = available 64-bit TSS. */
    uint64_t base = (uint64_t)(uintptr_t)&ring3_tss, limit = sizeof ring3_tss - 1;
    gdt[8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[9] = base >> 32;

    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = { sizeof gdt - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_TSS));

    /* User-accessible identity map (U/S = 1 at every level). */
    boot_pml4[0] |= 4;
    for (unsigned i = 0; i < 4; i++)
        boot_pdpt[i] |= 4;
    for (unsigned i = 0; i < 4 * 512; i++)
        boot_pd[i] |= 4;
    write_cr3(read_cr3());

    idt_set_gate(0x81, (uint64_t)(uintptr_t)ring3_exit_stub, 0, 3, GATE_INTR);
    exception_hook = trap_hook;
}

/* ---- Probes --------------------------------------------------------- */
volatile uint64_t trap_armed, trap_fault_rip, trap_next_rip, trap_resume_rip;
volatile struct trap_seen trap_seen;

void trap_reset(void)
{
    trap_seen.hits = 0;
    trap_seen.vector = trap_seen.error_code = trap_seen.rip = trap_seen.cr2 = ~0ull;
    trap_seen.cs = trap_seen.rflags = trap_seen.rsp = trap_seen.ss = trap_seen.frame = trap_seen.kss = ~0ull;
    trap_resume_rip = 0;
}

bool trap_hook(struct trap_frame *f)
{
    if (!trap_armed)
        return false;
    trap_armed = 0;
    trap_seen.hits++;
    trap_seen.vector = f->vector;
    trap_seen.error_code = f->error_code;
    trap_seen.rip = f->rip;
    trap_seen.cs = f->cs;
    trap_seen.rflags = f->rflags;
    trap_seen.rsp = f->rsp;
    trap_seen.ss = f->ss;
    trap_seen.cr2 = read_cr2();
    trap_seen.frame = (uint64_t)(uintptr_t)&f->rip;
    uint16_t ss;
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    trap_seen.kss = ss;
    f->rip = trap_resume_rip ? trap_resume_rip : trap_next_rip;
    return true;
}

bool trap_check(const char *name, uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2)
{
    if (trap_seen.hits != 1)
        fail(name, "got %u exceptions, want 1", trap_seen.hits);
    else if (trap_seen.vector != vector)
        fail(name, "got vector %lu (%s), want %lu (%s)", trap_seen.vector,
             exception_mnemonic((unsigned)trap_seen.vector), vector, exception_mnemonic((unsigned)vector));
    else if (trap_seen.error_code != error_code)
        fail(name, "got error code 0x%lx, want 0x%lx", trap_seen.error_code, error_code);
    else if (trap_seen.rip != rip)
        fail(name, "got rip 0x%lx, want 0x%lx", trap_seen.rip, rip);
    else if (cr2 != TRAP_NO_CR2 && trap_seen.cr2 != cr2)
        fail(name, "got cr2 0x%lx, want 0x%lx", trap_seen.cr2, cr2);
    else {
        pass(name);
        return true;
    }
    return false;
}

bool trap_check_none(const char *name)
{
    if (trap_seen.hits == 0) {
        pass(name);
        return true;
    }
    fail(name, "got %s (vector %lu) error 0x%lx at rip 0x%lx, want no exception",
         exception_mnemonic((unsigned)trap_seen.vector), trap_seen.vector, trap_seen.error_code, trap_seen.rip);
    return false;
}

void skip(const char *name, const char *why)
{
    kprintf("SKIP: %s (%s)\n", name, why);
}

/* QEMU's TCG identifies itself: CPUID.1:ECX.hypervisor[bit 31] = 1 and the
 * vendor "TCGTCGTCGTCG" in leaf 0x40000000 (EBX, ECX, EDX).  Used only to
 * label the few checks where TCG is known to deviate (GuestImages/README.md,
 * "QEMU deviations"). */
bool cpu_is_qemu_tcg(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 31)))
        return false;
    cpuid(0x40000000, 0, r);
    return r[1] == 0x54474354 && r[2] == 0x43544743 && r[3] == 0x47435447;   /* "TCGT" "CGTC" "GTCG" */
}
