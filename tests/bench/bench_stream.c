/* bench_stream.c - stream workloads, each beside a bare C baseline in the same run:
     S1   from_fn -> map (square) -> filter (even) -> fold (sum), 1e7 ints, per item
          vs a plain loop, and vs the same callbacks called through pointers
     S2   buffer_unordered with 16 calls in flight, each call yielding once, per item
          vs then (one call at a time, the same work)
   Without arguments: median ns per item over RUNS runs. With `WORKLOAD N`: that
   workload once at size N, for tests/bench/icount.sh. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5

static volatile long long sink;

/* ---- S1: a synchronous pipeline ------------------------------------------------- */
static int seq(void *user, void *item) {
    long *n = (long *)user;
    if (n[0] == n[1]) return 0;
    *(int *)item = (int)(n[0]++ & 0x7fff);
    return 1;
}
static void square(const void *in, void *out, void *user) {
    int x = *(const int *)in;
    (void)user;
    *(int *)out = x * x;
}
static int is_even(const void *item, void *user) {
    (void)user;
    return (*(const int *)item & 1) == 0;
}
static int add(void *acc, const void *item, void *user) {
    (void)user;
    *(long long *)acc += *(const int *)item;
    return 0;
}

typedef struct {
    async_task task;
    async_stream *s;
    async_stream_sink k;
    long long acc;
    int rc, scratch;
} fold_frame;
static int fold_task(async_task *t) {
    fold_frame *f = (fold_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_stream_fold(t, f->s, &f->k, &f->acc, add, NULL, &f->scratch));
    ASYNC_END(f->rc);
}
static void s1(long n) {
    static async_runtime rt;
    static fold_frame f;
    long state[2];
    int sq;
    async_stream_from_fn src;
    async_stream_map m;
    async_stream_filter fl;
    state[0] = 0;
    state[1] = n;
    memset(&f, 0, sizeof f);
    async_runtime_init(&rt, NULL);
    async_stream_from_fn_init(&src, sizeof(int), seq, state);
    async_stream_map_init(&m, &src.base, sizeof(int), square, NULL, &sq);
    async_stream_filter_init(&fl, &m.base, is_even, NULL);
    f.s = &fl.base;
    async_runtime_block_on(&rt, &f.task, fold_task, "fold");
    sink = f.acc;
    async_runtime_destroy(&rt);
}
static void s1_loop(long n) {
    long i;
    long long acc = 0;
    for (i = 0; i < n; i++) {
        int x = (int)(i & 0x7fff);
        x *= x;
        if (!(x & 1)) acc += x;
    }
    sink = acc;
}
/* The same callbacks through pointers the compiler cannot see through. */
static int (*volatile p_seq)(void *, void *) = seq;
static void (*volatile p_square)(const void *, void *, void *) = square;
static int (*volatile p_even)(const void *, void *) = is_even;
static int (*volatile p_add)(void *, const void *, void *) = add;
static void s1_calls(long n) {
    long state[2];
    long long acc = 0;
    int x, y;
    int (*fs)(void *, void *) = p_seq;
    void (*fm)(const void *, void *, void *) = p_square;
    int (*fe)(const void *, void *) = p_even;
    int (*fa)(void *, const void *, void *) = p_add;
    state[0] = 0;
    state[1] = n;
    while (fs(state, &x) > 0) {
        fm(&x, &y, NULL);
        if (fe(&y, NULL)) fa(&acc, &y, NULL);
    }
    sink = acc;
}

/* ---- S2: concurrent async calls ---------------------------------------------------- */
typedef struct {
    async_coro co;
} call_state;
static int call(async_task *t, void *state, const void *in, void *out, void *user) {
    call_state *c = (call_state *)state;
    (void)user;
    ASYNC_CORO_BEGIN(t, &c->co);
    ASYNC_YIELD();
    *(int *)out = *(const int *)in + 1;
    ASYNC_END(0);
}
static int call_then(async_task *t, async_coro *co, const void *in, void *out, void *user) {
    (void)user;
    ASYNC_CORO_BEGIN(t, co);
    ASYNC_YIELD();
    *(int *)out = *(const int *)in + 1;
    ASYNC_END(0);
}
typedef struct {
    async_task task;
    async_stream *s;
    async_stream_sink k;
    int rc, scratch;
} count_frame;
static int count_task(async_task *t) {
    count_frame *f = (count_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_stream_count_items(t, f->s, &f->k, &f->scratch));
    ASYNC_END(f->rc);
}
static void s2_run(long n, int concurrent) {
    static async_runtime rt;
    static count_frame f;
    static uint64_t slots[16 * 16];
    long state[2];
    int scratch;
    async_stream_from_fn src;
    async_stream_buffered b;
    async_stream_then th;
    state[0] = 0;
    state[1] = n;
    memset(&f, 0, sizeof f);
    async_runtime_init(&rt, NULL);
    async_stream_from_fn_init(&src, sizeof(int), seq, state);
    if (concurrent) {
        if (async_stream_slot_size(sizeof(call_state), &src.base, sizeof(int)) * 16 >
            sizeof slots) abort();
        async_stream_buffer_unordered_init(&b, &src.base, 16, sizeof(int), call,
                                           sizeof(call_state), NULL, slots);
        f.s = &b.base;
    } else {
        async_stream_then_init(&th, &src.base, sizeof(int), call_then, NULL, &scratch);
        f.s = &th.base;
    }
    async_runtime_block_on(&rt, &f.task, count_task, "count");
    if ((long)f.k.count != n) abort();
    async_runtime_destroy(&rt);
}
static void s2(long n) { s2_run(n, 1); }
static void s2_then(long n) { s2_run(n, 0); }

typedef struct { const char *name; void (*fn)(long); long n; } workload;
static const workload workloads[] = {
    {"s1", s1, 10000000}, {"s1-loop", s1_loop, 10000000}, {"s1-calls", s1_calls, 10000000},
    {"s2", s2, 2000000}, {"s2-then", s2_then, 2000000},
};
#define NW (sizeof workloads / sizeof workloads[0])

static double median_ns_per_op(const workload *w) {
    double t[RUNS];
    int r;
    for (r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        w->fn(w->n);
        t[r] = (now_ns() - t0) / (double)w->n;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

int main(int argc, char **argv) {
    double r[NW];
    size_t i;
    if (argc == 2 && strcmp(argv[1], "--icount-list") == 0) {
        printf("s1 200000 400000 S1 map->filter->fold pipeline, per item\n");
        printf("s1-loop 200000 400000 S1 floor: a plain loop\n");
        printf("s1-calls 200000 400000 S1 floor: the callbacks through pointers\n");
        printf("s2 100000 200000 S2 buffer_unordered(16), a yield per call, per item\n");
        printf("s2-then 100000 200000 S2 then: one call at a time, per item\n");
        return 0;
    }
    if (argc == 3) {
        long n = atol(argv[2]);
        for (i = 0; i < NW; i++)
            if (strcmp(argv[1], workloads[i].name) == 0) {
                workloads[i].fn(n);
                return 0;
            }
        printf("unknown workload %s\n", argv[1]);
        return 1;
    }
    for (i = 0; i < NW; i++) r[i] = median_ns_per_op(&workloads[i]);
    printf("stream workloads, median of %d runs, ns per item\n", RUNS);
    printf("  %-56s %9s %9s %7s\n", "workload", "async.h", "baseline", "ratio");
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "S1 from_fn->map->filter->fold, 1e7 ints vs loop",
           r[0], r[1], r[0] / r[1]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "   vs the same callbacks through pointers",
           r[0], r[2], r[0] / r[2]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "S2 buffer_unordered(16), calls yield once, vs then",
           r[3], r[4], r[3] / r[4]);
    return 0;
}
