/*
 * numeric.h — what numeric.c needs from its host: one printf-like output
 * function.  The guest build (guest-main.c) maps it to kprintf on the serial
 * port; the native build (native-main.c) to printf on a Linux terminal.
 * Only the conversions kprintf knows are used: %s %d %u %x %lx %llx, widths
 * with zero padding.  Floating-point values are printed as their bit
 * patterns and through fmt_double() below, which is itself floating-point
 * code: both sides must agree digit for digit.
 */
#ifndef NUMERIC_H
#define NUMERIC_H
#include <stdint.h>
#include <stddef.h>

#ifdef NUMERIC_NATIVE
#include <stdio.h>
#include <string.h>
#define out printf
#define NOINLINE __attribute__((noinline))
#else
#include "guest.h"
#define out kprintf
#endif

/* Runs every computation and prints one line per result; returns the number
 * of lines printed. */
int numeric_main(void);

#endif
