/*
 * printf.c — just enough printf for test output, straight to the serial port.
 *
 * Conversions: %s %c %d %u %x %p %%.  Length modifiers l and ll (both mean
 * 64 bits here), e.g. %ld %lu %lx.  Flags: '0' and a field width for numbers
 * (%08x, %016lx).  Anything else is printed literally, so a typo shows up in
 * the output instead of crashing.
 */
#include "guest.h"

static void put_unsigned(uint64_t v, unsigned base, int width, char pad)
{
    char buf[24];   /* 2^64 - 1 has 20 decimal digits */
    int n = 0;
    do {
        unsigned digit = (unsigned)(v % base);
        buf[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        v /= base;
    } while (v != 0);
    while (width > n) {
        serial_putc(pad);
        width--;
    }
    while (n > 0)
        serial_putc(buf[--n]);
}

static void put_signed(int64_t v, int width, char pad)
{
    /* Negate in unsigned arithmetic so INT64_MIN works. */
    uint64_t magnitude = v < 0 ? -(uint64_t)v : (uint64_t)v;
    if (v < 0) {
        serial_putc('-');
        if (width > 0)
            width--;
    }
    put_unsigned(magnitude, 10, width, pad);
}

void kvprintf(const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            serial_putc(*p);
            continue;
        }
        const char *start = p++;
        char pad = ' ';
        int width = 0;
        int longs = 0;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l') {
            longs++;
            p++;
        }
        switch (*p) {
        case 'd':
            put_signed(longs ? va_arg(ap, int64_t) : va_arg(ap, int), width, pad);
            break;
        case 'u':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            serial_puts("0x");
            put_unsigned((uint64_t)(uintptr_t)va_arg(ap, void *), 16, width, pad);
            break;
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            serial_puts(s ? s : "(null)");
            break;
        }
        case '%':
            serial_putc('%');
            break;
        default:
            /* Unknown conversion: echo it as written. */
            for (const char *q = start; q <= p && *q; q++)
                serial_putc(*q);
            if (*p == '\0')
                return;
            break;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}
