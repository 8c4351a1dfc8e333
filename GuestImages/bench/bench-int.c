/*
 * bench-int — integer ALU and branch throughput.
 *
 * The hot loop mixes 64-bit adds, xors, shifts, an LEA, compares, a
 * conditional branch taken one iteration in four, a CMOV and the loop's own
 * compare-and-branch.  No memory traffic at all: this measures the
 * emulator's decode/dispatch and flag handling, nothing else.
 *
 * Expected instructions (gcc 12.2 -O2, see `objdump -d build/bench-int.elf`,
 * function int_loop): 16 per iteration on either side of the (i & 3) branch.
 *
 *   every iteration     add, mov, shr, xor, test, je         6
 *   (i & 3) == 0        add, mov, shr, xor                   4
 *   (i & 3) != 0        add, lea, xor, jmp                   4
 *   every iteration     cmp, lea, cmovb, add, cmp, je/jne    6
 *                                                           --
 *                                                           16
 *
 * 12,400,000 iterations x 16 = 198,400,000 instructions, plus about 14,000
 * for boot and printing.  The final value of (a ^ b ^ c ^ d) is compared with
 * the one computed by the same C code on the build host: an emulator that
 * gets an instruction wrong ends with "FAIL" and exit status 1.
 */
#include "bench.h"

#define ITERATIONS (12400000u / BENCH_SCALE)
#define INSNS_PER_ITERATION 16

volatile uint64_t bench_sink;

__attribute__((noipa)) static uint64_t int_loop(uint32_t n)
{
    uint64_t a = 0x0123456789abcdefull, b = 0x9e3779b97f4a7c15ull, c = 0, d = 1;
    for (uint32_t i = 0; i < n; i++) {
        a += b;
        b ^= a >> 7;
        if ((i & 3) == 0) {         /* bodies big enough that gcc keeps a real branch */
            c += a;
            d ^= c >> 5;
        } else {
            d += b;
            c ^= d << 3;
        }
        if (a < d)                  /* small enough that gcc uses CMOVB instead */
            b += 0x1234567;
    }
    return a ^ b ^ c ^ d;
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("bench-int: start: %u iterations x %u instructions = %u instructions\n", ITERATIONS,
            INSNS_PER_ITERATION, ITERATIONS * INSNS_PER_ITERATION);
    uint64_t result = int_loop(ITERATIONS);
    bench_sink = result;
#if BENCH_SCALE == 1
    const uint64_t want = 0x076b21c0c1365141ull;   /* same C code, run on the host */
    if (result != want) {
        kprintf("FAIL: bench-int result (got 0x%lx, want 0x%lx)\n", result, want);
        return GUEST_EXIT_FAIL;
    }
#endif
    kprintf("bench-int: done, result 0x%lx\n", result);
    return GUEST_EXIT_OK;
}
