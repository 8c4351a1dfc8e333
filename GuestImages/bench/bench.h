/*
 * bench.h — shared shape of the benchmark images.
 *
 * Each benchmark runs a fixed workload of about 200 million instructions
 * (never more), prints one line before starting and one after, and exits 0.
 * The workload does not depend on timing or on anything the machine reports,
 * so an emulator can divide "instructions retired" by wall-clock time and
 * compare runs.  The iteration count of each hot loop, and the instructions
 * per iteration that gcc 12 -O2 produced (read off `objdump -d`, and counted
 * on a short run by QEMU -singlestep -d exec; see README.md), are written
 * next to the loop.
 *
 * BENCH_SCALE divides the iteration count; the default build uses 1 (and
 * only then checks the result against the host's).  It exists for measuring
 * the per-iteration cost on short runs, in a separate build directory:
 *   make -C GuestImages BUILD=/tmp/scaled EXTRA_CFLAGS=-DBENCH_SCALE=1000
 */
#ifndef BENCH_H
#define BENCH_H

#include "guest.h"

#ifndef BENCH_SCALE
#define BENCH_SCALE 1
#endif

/* Results go to a volatile global: gcc must compute them, so it cannot
 * delete the loop that produces them. */
extern volatile uint64_t bench_sink;

#endif
