/*
 * bench-copy — memory load/store throughput.
 *
 * A 64 KiB buffer is copied to another, 8 bytes at a time with a plain
 * load/store loop (no REP MOVS, no SSE), over and over.  Between passes one
 * word of the source changes, and an asm memory barrier tells gcc that
 * memory may have been read or written, so no pass can be skipped or merged.
 *
 * Expected instructions (gcc 12.2 -O2, function copy_words):
 *
 *   per 8-byte word   mov (%rsi,%rax,8),%rcx; mov %rcx,(%rdi,%rax,8);
 *                     add $1,%rax; cmp %rax,%rdx; jne               5
 *   per pass          8192 words x 5 = 40,960, plus 12: test, je, xor, ret
 *                     in copy_words and 8 in the pass loop (3 argument
 *                     moves, the xor into src, call, add, cmp, jne)
 *
 * 4,800 passes x 40,972 = 196,665,600 instructions, plus about 111,800 for
 * boot, filling the source (8192 x 5) and the final check (8192 x 7).
 * 315 MB are read and 315 MB written in total.
 */
#include "bench.h"

#define WORDS (64 * 1024 / 8)
#define PASSES (4800u / BENCH_SCALE)

volatile uint64_t bench_sink;

/* .bss: the loader zeroes them, we fill the source below. */
static uint64_t src[WORDS], dst[WORDS];

__attribute__((noipa)) static void copy_words(uint64_t *d, const uint64_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    kprintf("bench-copy: start: %u passes x 64 KiB, 8192 words x 5 instructions per pass\n", PASSES);

    for (size_t i = 0; i < WORDS; i++)
        src[i] = i * 0x9e3779b97f4a7c15ull;

    for (uint32_t pass = 0; pass < PASSES; pass++) {
        src[pass % WORDS] ^= pass;
        copy_words(dst, src, WORDS);
        barrier();
    }

    /* The last pass must have left an exact copy. */
    size_t bad = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < WORDS; i++) {
        if (dst[i] != src[i])
            bad++;
        sum += dst[i];
    }
    bench_sink = sum;
    if (bad) {
        kprintf("FAIL: bench-copy (got %lu words differing, want 0)\n", (uint64_t)bad);
        return GUEST_EXIT_FAIL;
    }
#if BENCH_SCALE == 1
    const uint64_t want = 0xfb62fd03823c2160ull;   /* same C code, run on the host */
    if (sum != want) {
        kprintf("FAIL: bench-copy checksum (got 0x%lx, want 0x%lx)\n", sum, want);
        return GUEST_EXIT_FAIL;
    }
#endif
    kprintf("bench-copy: done, checksum 0x%lx\n", sum);
    return GUEST_EXIT_OK;
}
