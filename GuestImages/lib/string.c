/*
 * string.c — the handful of C string/memory functions a freestanding program
 * needs.  gcc itself may emit calls to memcpy/memset/memmove/memcmp (for
 * struct assignment, large initialisers, ...) even with -ffreestanding, so
 * these must exist.
 *
 * They are deliberately plain byte loops: simple to step through in gdb and
 * using nothing but ordinary loads, stores and branches.  The Makefile builds
 * with -fno-tree-loop-distribute-patterns; without it gcc recognises the loop
 * in memset() as "a memset" and compiles it into a call to memset — itself.
 */
#include "guest.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else if (d > s) {
        /* Overlapping with the destination above the source: copy from the
         * end so no byte is overwritten before it is read. */
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    /* Compare as unsigned char, as the C standard says. */
    return (unsigned char)*a - (unsigned char)*b;
}
