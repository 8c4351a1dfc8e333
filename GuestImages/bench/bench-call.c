/*
 * bench-call — CALL/RET throughput.
 *
 * A tiny function is called once per iteration.  `noipa` (stronger than
 * noinline) forbids gcc from inlining it, cloning it or propagating facts
 * about it into the caller, so every iteration really pays for a CALL, a
 * RET and the argument/result moves around them.
 *
 * Expected instructions (gcc 12.2 -O2, functions call_loop and step):
 *
 *   call_loop   mov %rbx,%rsi; add $1,%rbx; call step;
 *               mov %rax,%rdi; cmp %rbp,%rbx; jne                6
 *   step        xor %rdi,%rsi; shr $3,%rdi; lea (%rsi,%rdi),%rax;
 *               ret                                              4
 *                                                               --
 *                                                               10
 *
 * 19,800,000 iterations x 10 = 198,000,000 instructions, plus about 14,000
 * for boot and printing.  The result is checked against the host's.
 */
#include "bench.h"

#define ITERATIONS (19800000u / BENCH_SCALE)
#define INSNS_PER_ITERATION 10

volatile uint64_t bench_sink;

__attribute__((noipa)) static uint64_t step(uint64_t x, uint64_t k)
{
    return (x ^ k) + (x >> 3);
}

__attribute__((noipa)) static uint64_t call_loop(uint32_t n)
{
    uint64_t x = 0x0123456789abcdefull;
    for (uint32_t i = 0; i < n; i++)
        x = step(x, i);
    return x;
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("bench-call: start: %u iterations x %u instructions = %u instructions\n", ITERATIONS,
            INSNS_PER_ITERATION, ITERATIONS * INSNS_PER_ITERATION);
    uint64_t result = call_loop(ITERATIONS);
    bench_sink = result;
#if BENCH_SCALE == 1
    const uint64_t want = 0x1d8a2e85ce8b0d03ull;   /* same C code, run on the host */
    if (result != want) {
        kprintf("FAIL: bench-call result (got 0x%lx, want 0x%lx)\n", result, want);
        return GUEST_EXIT_FAIL;
    }
#endif
    kprintf("bench-call: done, result 0x%lx\n", result);
    return GUEST_EXIT_OK;
}
