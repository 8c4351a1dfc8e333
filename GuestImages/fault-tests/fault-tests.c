/*
 * fault-tests — raise CPU exceptions on purpose, catch them through the IDT,
 * check what the CPU reported, and carry on.
 *
 * SDM references (Order Number 325462-077US, April 2022, Vol. 3A):
 *   §6.5  "Exception Classifications" — faults report the address of the
 *         faulting instruction (so it can be restarted); traps report the
 *         address of the next one.
 *   §6.13 "Error Code"; §6.15 "Exception and Interrupt Reference" (which
 *         vectors push an error code, and what it holds).
 *   §4.7  "Page-Fault Exceptions" — #PF error code bits and CR2.
 *   §4.10.4 "Invalidation of TLBs and Paging-Structure Caches" — why INVLPG
 *         after editing a page-table entry.
 *
 * How a probe works.  Each test is one asm statement that first stores two
 * addresses in globals: probe_fault_rip (label 1, the instruction expected to
 * fault) and probe_next_rip (label 2, right after it); then it sets up its
 * registers and runs the instruction.  The exception hook below records
 * vector, error code, RIP and CR2, and sets the saved RIP to label 2, so IRETQ
 * continues after the faulting instruction.  A fault that happens with no
 * probe armed goes to the library's default handler, which prints it and
 * exits with status 2.
 *
 * Each case prints one PASS/FAIL line; the exit status is 0 only if all pass.
 */
#include "guest.h"

/* Written by each probe (ARM below), read by the hook and the checks. */
uint64_t probe_armed, probe_fault_rip, probe_next_rip;

static struct {
    unsigned hits;
    uint64_t vector, error_code, rip, cr2;
} seen;

static bool probe_hook(struct trap_frame *f)
{
    if (!probe_armed)
        return false;                   /* not expected: default report + exit 2 */
    probe_armed = 0;
    seen.hits++;
    seen.vector = f->vector;
    seen.error_code = f->error_code;
    seen.rip = f->rip;
    seen.cr2 = read_cr2();
    f->rip = probe_next_rip;            /* resume after the faulting instruction */
    return true;
}

static void reset_seen(void)
{
    seen.hits = 0;
    seen.vector = seen.error_code = seen.rip = seen.cr2 = ~0ull;
}

/* Arms the hook and records the addresses of labels 1 and 2.  Clobbers RAX. */
#define ARM                                                                  \
    "lea 1f(%%rip), %%rax\n\t"                                               \
    "mov %%rax, probe_fault_rip(%%rip)\n\t"                                  \
    "lea 2f(%%rip), %%rax\n\t"                                               \
    "mov %%rax, probe_next_rip(%%rip)\n\t"                                   \
    "movq $1, probe_armed(%%rip)\n\t"

#define NO_CR2 (~0ull)

/* One PASS/FAIL line per case, naming the first field that differs. */
static void check_fault(const char *name, uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2)
{
    if (seen.hits != 1)
        fail(name, "got %u exceptions, want 1", seen.hits);
    else if (seen.vector != vector)
        fail(name, "got vector %lu (%s), want %lu (%s)", seen.vector, exception_mnemonic((unsigned)seen.vector),
             vector, exception_mnemonic((unsigned)vector));
    else if (seen.error_code != error_code)
        fail(name, "got error code 0x%lx, want 0x%lx", seen.error_code, error_code);
    else if (seen.rip != rip)
        fail(name, "got rip 0x%lx, want 0x%lx", seen.rip, rip);
    else if (cr2 != NO_CR2 && seen.cr2 != cr2)
        fail(name, "got cr2 0x%lx, want 0x%lx", seen.cr2, cr2);
    else
        pass(name);
}

/* ---- #DE: divide error (vector 0, fault, no error code) ---------------- */

static void test_divide_by_zero(void)
{
    reset_seen();
    __asm__ volatile(ARM
                     "xor %%edx, %%edx\n\t"
                     "mov $1, %%eax\n\t"
                     "xor %%ecx, %%ecx\n\t"
                     "1: div %%ecx\n\t"         /* EDX:EAX / 0 */
                     "2:\n\t"
                     : : : "rax", "rcx", "rdx", "cc", "memory");
    check_fault("#DE divide by zero", 0, 0, probe_fault_rip, NO_CR2);
}

static void test_divide_overflow(void)
{
    /* INT64_MIN / -1 = 2^63 does not fit in a signed 64-bit quotient: #DE
     * too, although the divisor is not zero. */
    reset_seen();
    __asm__ volatile(ARM
                     "movabs $0x8000000000000000, %%rax\n\t"
                     "cqo\n\t"
                     "mov $-1, %%rcx\n\t"
                     "1: idiv %%rcx\n\t"
                     "2:\n\t"
                     : : : "rax", "rcx", "rdx", "cc", "memory");
    check_fault("#DE idiv overflow", 0, 0, probe_fault_rip, NO_CR2);
}

/* ---- #BP: breakpoint (vector 3, a trap: RIP is the *next* instruction) -- */

static void test_int3(void)
{
    reset_seen();
    __asm__ volatile(ARM
                     "1: int3\n\t"              /* the one-byte form, 0xCC */
                     "2:\n\t"
                     : : : "rax", "memory");
    check_fault("#BP int3", 3, 0, probe_next_rip, NO_CR2);
}

static void test_int_3(void)
{
    /* The two-byte form, INT imm8 (0xCD 0x03), reaches the same vector.  At
     * CPL 0 the gate's DPL (0) allows it. */
    reset_seen();
    __asm__ volatile(ARM
                     "1: .byte 0xcd, 0x03\n\t"  /* int $3 */
                     "2:\n\t"
                     : : : "rax", "memory");
    check_fault("#BP int $3", 3, 0, probe_next_rip, NO_CR2);
}

/* ---- #UD: invalid opcode (vector 6, fault, no error code) --------------- */

static void test_ud2(void)
{
    /* Also checks that the handler path (isr.S saving and restoring every
     * register, IRETQ) gives us back our registers: R12 and RBX survive. */
    uint64_t r12_after, rbx_after;
    reset_seen();
    __asm__ volatile(ARM
                     "movabs $0x1122334455667788, %%r12\n\t"
                     "movabs $0x99aabbccddeeff00, %%rbx\n\t"
                     "1: ud2\n\t"
                     "2: mov %%r12, %0\n\t"
                     "mov %%rbx, %1\n\t"
                     : "=r"(r12_after), "=r"(rbx_after) : : "rax", "rbx", "r12", "memory");
    check_fault("#UD ud2", 6, 0, probe_fault_rip, NO_CR2);
    check_true("registers survive an exception", r12_after == 0x1122334455667788ull &&
                                                     rbx_after == 0x99aabbccddeeff00ull);
}

static void test_into_is_invalid_in_64bit_mode(void)
{
    /* INTO (0xCE) exists in 32-bit code but is not valid in 64-bit mode. */
    reset_seen();
    __asm__ volatile(ARM
                     "1: .byte 0xce\n\t"        /* into */
                     "2:\n\t"
                     : : : "rax", "memory");
    check_fault("#UD into in 64-bit mode", 6, 0, probe_fault_rip, NO_CR2);
}

/* ---- #GP: general protection (vector 13, fault, error code) ------------- */

static void test_noncanonical_load(void)
{
    /* With 4-level paging a linear address is canonical when bits 63:47 are
     * all equal.  0x8000000000000000 is not; a load from it is #GP(0) (#SS(0)
     * if it went through RSP or RBP, which it does not). */
    reset_seen();
    __asm__ volatile(ARM
                     "movabs $0x8000000000000000, %%rcx\n\t"
                     "1: mov (%%rcx), %%rdx\n\t"
                     "2:\n\t"
                     : : : "rax", "rcx", "rdx", "memory");
    check_fault("#GP non-canonical load", 13, 0, probe_fault_rip, NO_CR2);
}

/* ---- #PF: page fault (vector 14, fault, error code, CR2) ---------------- */

/* The 2 MiB page at 2 MiB (PD entry 1) is free RAM in every image: the image
 * itself sits between 1 MiB and its __bss_end, far below. */
#define VICTIM_PAGE ((uint64_t)0x200000)
#define VICTIM_PDE 1

#define PF_P (1u << 0)      /* 0: the page was not present */
#define PF_W (1u << 1)      /* 1: the access was a write */
#define PF_U (1u << 2)      /* 1: user mode (CPL 3) */

static void test_page_faults(void)
{
    extern char __bss_end[];
    volatile uint64_t *victim = (volatile uint64_t *)(uintptr_t)(VICTIM_PAGE + 0x1238);
    uint64_t saved_pde = boot_pd[VICTIM_PDE];

    if ((uintptr_t)__bss_end > VICTIM_PAGE) {
        fail("#PF setup", "got image end 0x%lx, want below 0x%lx", (uint64_t)(uintptr_t)__bss_end, VICTIM_PAGE);
        return;
    }
    *victim = 0x5afe5afe5afe5afeull;

    /* Unmap: clear the present bit of the page-directory entry, then INVLPG,
     * because the CPU may still hold the old translation in its TLB. */
    boot_pd[VICTIM_PDE] = saved_pde & ~(uint64_t)PF_P;
    invlpg(VICTIM_PAGE);

    /* A write to the missing page: error code P=0, W=1, U=0. */
    reset_seen();
    __asm__ volatile(ARM
                     "1: movq $0x77, (%0)\n\t"
                     "2:\n\t"
                     : : "r"(victim) : "rax", "memory");
    check_fault("#PF write to unmapped page", 14, PF_W, probe_fault_rip, (uint64_t)(uintptr_t)victim);

    /* A read, 8 bytes further: P=0, W=0, U=0. */
    reset_seen();
    uint64_t dummy;
    __asm__ volatile(ARM
                     "1: mov 8(%1), %0\n\t"
                     "2:\n\t"
                     : "=r"(dummy) : "r"(victim) : "rax", "memory");
    (void)dummy;
    check_fault("#PF read from unmapped page", 14, 0, probe_fault_rip, (uint64_t)(uintptr_t)victim + 8);

    /* Map it again: the data written before is still there, and the faulting
     * write above really did not happen. */
    boot_pd[VICTIM_PDE] = saved_pde;
    invlpg(VICTIM_PAGE);
    check_u64("#PF page remapped, data intact", *victim, 0x5afe5afe5afe5afeull);
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("fault-tests: raising and catching CPU exceptions in long mode\n");
    exception_hook = probe_hook;

    test_divide_by_zero();
    test_divide_overflow();
    test_int3();
    test_int_3();
    test_ud2();
    test_into_is_invalid_in_64bit_mode();
    test_noncanonical_load();
    test_page_faults();

    exception_hook = NULL;
    return checks_report("fault-tests");
}
