/*
 * guest-main.c — the guest side of numeric: turn on the x87 and SSE, then run
 * numeric.c and exit.  This file is built with -mgeneral-regs-only so that
 * nothing here touches an FPU/XMM register before it is enabled.
 *
 * SDM Vol. 3A §13.1.3 "Initialization of the SSE Extensions": CR0.EM = 0,
 * CR0.MP = 1, CR4.OSFXSR = 1 (FXSAVE/FXRSTOR and SSE enabled by the OS),
 * CR4.OSXMMEXCPT = 1 (unmasked SIMD exceptions are #XM); then FNINIT
 * (SDM Vol. 1 §8.1.5: control word 037FH, all exceptions masked).
 */
#include "guest.h"
#include "numeric.h"

static void fpu_enable(void)
{
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~(1ull << 2 | 1ull << 3)) | 1ull << 1 | 1ull << 5;   /* EM=0 TS=0 MP=1 NE=1 */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1ull << 9 | 1ull << 10;                                     /* OSFXSR OSXMMEXCPT */
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    __asm__ volatile("fninit");
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic; (void)mbi;
    fpu_enable();
    int n = numeric_main();
    return n > 0 ? GUEST_EXIT_OK : GUEST_EXIT_FAIL;
}
