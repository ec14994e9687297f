/* bench.h - what the benchmarks share: a monotonic clock in ns and the comparison
   qsort needs to take a median of runs. Included after async.h (time.h). */
#ifndef BENCH_H
#define BENCH_H
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#endif
