/* bench_core.c - the core workloads of DESIGN.md section 9, each beside a bare C
   baseline measured in the same run:
     W1  yield ping-pong between two tasks            vs an indirect call + switch
     W2  spawn + join of trivial tasks (and bytes per task) vs init + indirect call:
         cold (fresh memory), warm (frames reused), and with spawn_alloc frames
     W4  concurrent timers: sleep, fire, wake, finish (random deadlines first, then equal
         ones, then cancelled before firing) vs a bare binary heap of u64
   Without arguments: prints the median ns per operation over RUNS runs.
   With `WORKLOAD N` (see --icount-list): runs that workload once
   at size N, for tests/bench/icount.sh (instructions per operation). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5

static volatile long sink;

/* ---- W1: yield ping-pong ----------------------------------------------------- */
typedef struct { async_task task; long i, n; } yield_frame;
static int yielder(async_task *t) {
    yield_frame *f = (yield_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) ASYNC_YIELD();
    ASYNC_END(0);
}
static void w1_with(long n, const async_runtime_desc *d) {  /* n switches in all */
    static async_runtime rt;
    static yield_frame a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.n = b.n = n / 2;
    async_runtime_init(&rt, d);
    async_task_spawn(&rt, &a.task, yielder, "a");
    async_task_spawn(&rt, &b.task, yielder, "b");
    async_runtime_run(&rt);
    async_runtime_destroy(&rt);
}
static void w1(long n) { w1_with(n, NULL); }
/* W1 with desc.metrics: every poll timed into the histograms (two clock readings). The
   metrics kept by default (turns, parks, idle time) cost W1 nothing: it never parks. */
static void w1m(long n) {
    async_runtime_desc d;
    memset(&d, 0, sizeof d);
    d.metrics = 1;
    w1_with(n, &d);
}
/* The floor: two state machines behind an indirect call, each a switch (20
   instructions per step). W1's 78 per switch (callgrind --dump-instr=yes), each group
   for a documented guarantee: the run-queue pop with its seeded-order check and
   nready (9); before the call, the co-operative budget, stats.polls, rt->current,
   the site cleared for the dump, the abort and slow-poll checks (11); after it, the
   result, the woken/yielded/abort flags, the yield's push on the deferred list and
   nready (22); the turn's loop and event_interval (5); every other switch, the empty
   run queue taking the deferred yields after the collection check (12 per switch);
   the task itself: resume dispatch, the cancel check at the await, the counter, the
   yield's flag, site and resume point (18). ASYNC_NO_SITES: 75.3. */
typedef struct { int state; long count; } sm;
static int sm_step(sm *s) {
    switch (s->state) {
    case 0: s->count++; s->state = 1; return 0;
    case 1: s->count++; s->state = 0; return 0;
    default: return -1;
    }
}
static int (*volatile sm_fn)(sm *) = sm_step;
static void w1_base(long n) {
    sm m[2] = {{0, 0}, {0, 0}};
    long i;
    for (i = 0; i < n; i++) sm_fn(&m[i & 1]);
    sink = m[0].count + m[1].count;
}

/* ---- W2: spawn + join ---------------------------------------------------------------- */
typedef struct { async_task task; int value; } child_frame;
static int child(async_task *t) {
    child_frame *f = (child_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_END(f->value);
}
typedef struct { async_task task; child_frame *kids; long i, n, sum; int rc; } parent_frame;
static async_runtime w2_rt;
static int parent(async_task *t) {
    parent_frame *f = (parent_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {     /* spawn them all: n tasks alive at once */
        f->kids[f->i].value = 1;
        async_task_spawn(&w2_rt, &f->kids[f->i].task, child, "child");
    }
    for (f->i = 0; f->i < f->n; f->i++) {     /* then join each */
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->kids[f->i].task));
        f->sum += f->rc;
    }
    ASYNC_END(0);
}
static child_frame *w2_kids;
static void w2(long n) {
    static parent_frame p;
    memset(&p, 0, sizeof p);
    p.kids = w2_kids;
    p.n = n;
    async_runtime_init(&w2_rt, NULL);
    async_runtime_block_on(&w2_rt, &p.task, parent, "parent");
    if (p.sum != n) { printf("w2: wrong sum %ld\n", p.sum); exit(1); }
    async_runtime_destroy(&w2_rt);
}
/* W2 cold: the same in fresh memory, as a new program pays it (the frames calloc'd for
   the run: the kernel maps zeroed pages at their first touch), freed after. */
static void w2_cold(long n) {
    child_frame *warm = w2_kids;
    w2_kids = (child_frame *)calloc((size_t)n, sizeof *w2_kids);
    if (!w2_kids) { printf("out of memory\n"); exit(1); }
    w2(n);
    free(w2_kids);
    w2_kids = warm;
}
/* W2 alloc: each child in a frame of its own from async_task_spawn_alloc (malloc), freed
   by the join that takes its result. */
static async_task **w2_tasks;
static int parent_alloc(async_task *t) {
    parent_frame *f = (parent_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        if (async_task_spawn_alloc(&w2_rt, child, sizeof(child_frame), "child",
                                   &w2_tasks[f->i]) != 0) { printf("w2a: spawn\n"); exit(1); }
        ((child_frame *)w2_tasks[f->i])->value = 1;
    }
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, w2_tasks[f->i]));
        f->sum += f->rc;
    }
    ASYNC_END(0);
}
static void w2_alloc(long n) {
    static parent_frame p;
    memset(&p, 0, sizeof p);
    p.n = n;
    async_runtime_init(&w2_rt, NULL);
    async_runtime_block_on(&w2_rt, &p.task, parent_alloc, "parent");
    if (p.sum != n) { printf("w2a: wrong sum %ld\n", p.sum); exit(1); }
    async_runtime_destroy(&w2_rt);
}
/* malloc + free alone, in the same pattern (n allocated, then n freed in order): the
   part of W2 alloc that is the C library's. */
static void w2_malloc(long n) {
    long i;
    for (i = 0; i < n; i++) {
        w2_tasks[i] = (async_task *)malloc(sizeof(child_frame));
        if (!w2_tasks[i]) { printf("out of memory\n"); exit(1); }
        memset(w2_tasks[i], 0, sizeof(child_frame));
    }
    for (i = 0; i < n; i++) free(w2_tasks[i]);
}
typedef struct { int (*fn)(void *); int value, state; } bare_task;
static int bare_fn(void *p) { return ((bare_task *)p)->value; }
static void w2_base(long n) {                   /* initialise, call once, read the result */
    bare_task *b = (bare_task *)w2_kids;
    long i, sum = 0;
    for (i = 0; i < n; i++) {
        b[i].fn = bare_fn;
        b[i].value = 1;
        b[i].state = 0;
    }
    for (i = 0; i < n; i++) sum += b[i].fn(&b[i]);
    sink = sum;
}

/* ---- W4: concurrent timers ------------------------------------------------------------------ */
typedef struct { async_task task; async_timer timer; async_time dur; } sleep_frame;
static int sleeper(async_task *t) {
    sleep_frame *f = (sleep_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, f->dur));
    ASYNC_END(rc);
}
static sleep_frame *w4_frames;
static uint32_t rnd_state = 88172645u;
static uint32_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}
/* n tasks, all alive at once, on the paused clock with auto-advance, so that this
   measures the runtime's work per timer, not the waiting. w4: each sleeps 1 s (the
   usual "spawn N sleepers"); w4r: each sleeps a random 1 ms .. 1 s, so each timer
   fires in a turn of its own and cascades through the wheel's levels. */
static int w4_random;
static long w4_n;
static void w4(long n) {
    static async_runtime rt;
    async_runtime_desc d;
    long i;
    memset(&d, 0, sizeof d);
    d.start_paused = 2;
    async_runtime_init(&rt, &d);
    rnd_state = 88172645u;
    for (i = 0; i < n; i++) {
        memset(&w4_frames[i], 0, sizeof w4_frames[i]);
        w4_frames[i].dur = w4_random ? ASYNC_MS(1) + (async_time)(rnd() % 1000000u) * 1000u
                                     : ASYNC_SEC(1);
        async_task_spawn(&rt, &w4_frames[i].task, sleeper, "sleeper");
    }
    if (async_runtime_run(&rt) != 0) { printf("w4: tasks left\n"); exit(1); }
    async_runtime_destroy(&rt);
}
static void w4r(long n) {
    w4_random = 1;
    w4(n);
    w4_random = 0;
}
/* w4c: the n sleepers (random deadlines) armed, then all aborted before any fires: arm,
   cancel (the timer unlinked), finish. */
static int w4c_killer(async_task *t) {
    sleep_frame *f = (sleep_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_YIELD();                              /* every sleeper has armed by now */
    for (f->dur = 0; (long)f->dur < w4_n; f->dur++) async_task_abort(&w4_frames[f->dur].task);
    ASYNC_END(0);
}
static void w4c(long n) {
    static async_runtime rt;
    static sleep_frame k;
    async_runtime_desc d;
    long i;
    memset(&d, 0, sizeof d);
    d.start_paused = 2;
    async_runtime_init(&rt, &d);
    rnd_state = 88172645u;
    for (i = 0; i < n; i++) {
        memset(&w4_frames[i], 0, sizeof w4_frames[i]);
        w4_frames[i].dur = ASYNC_MS(1) + (async_time)(rnd() % 1000000u) * 1000u;
        async_task_spawn(&rt, &w4_frames[i].task, sleeper, "sleeper");
    }
    memset(&k, 0, sizeof k);
    w4_n = n;
    async_task_spawn(&rt, &k.task, w4c_killer, "killer");
    if (async_runtime_run(&rt) != 0) { printf("w4c: tasks left\n"); exit(1); }
    if (rt.ntimers != 0) { printf("w4c: timers left\n"); exit(1); }
    async_runtime_destroy(&rt);
}
static uint64_t *heap_keys;
static void w4_base(long n) {                   /* a bare binary heap: n inserts, n pops */
    long i, size = 0;
    uint64_t sum = 0;
    rnd_state = 88172645u;
    for (i = 0; i < n; i++) {
        uint64_t k = 1000000u + (uint64_t)(rnd() % 1000000u) * 1000u;
        long c = size++;
        while (c > 0 && heap_keys[(c - 1) / 2] > k) {
            heap_keys[c] = heap_keys[(c - 1) / 2];
            c = (c - 1) / 2;
        }
        heap_keys[c] = k;
    }
    while (size > 0) {
        uint64_t last = heap_keys[--size];
        long c = 0;
        sum += heap_keys[0];
        for (;;) {
            long l = 2 * c + 1, m;
            if (l >= size) break;
            m = (l + 1 < size && heap_keys[l + 1] < heap_keys[l]) ? l + 1 : l;
            if (heap_keys[m] >= last) break;
            heap_keys[c] = heap_keys[m];
            c = m;
        }
        heap_keys[c] = last;
    }
    sink = (long)sum;
}

typedef struct { const char *name; void (*fn)(long); long n; } workload;
enum { W1, W1B, W2, W2B, W2C, W2A, W2M, W4, W4R, W4C, W4B, W1M, NW };
static const workload workloads[NW] = {
    {"w1", w1, 10000000}, {"w1-base", w1_base, 10000000},
    {"w2", w2, 1000000}, {"w2-base", w2_base, 1000000}, {"w2-cold", w2_cold, 1000000},
    {"w2-alloc", w2_alloc, 1000000}, {"w2-malloc", w2_malloc, 1000000},
    {"w4", w4, 1000000}, {"w4r", w4r, 1000000}, {"w4c", w4c, 1000000},
    {"w4-base", w4_base, 1000000}, {"w1m", w1m, 10000000},
};

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

static void setup(long n) {
    w2_kids = (child_frame *)calloc((size_t)n, sizeof *w2_kids > sizeof(bare_task)
                                                   ? sizeof *w2_kids : sizeof(bare_task));
    w2_tasks = (async_task **)calloc((size_t)n, sizeof *w2_tasks);
    w4_frames = (sleep_frame *)calloc((size_t)n, sizeof *w4_frames);
    heap_keys = (uint64_t *)calloc((size_t)n, sizeof *heap_keys);
    if (!w2_kids || !w2_tasks || !w4_frames || !heap_keys) {
        printf("out of memory\n");
        exit(1);
    }
}

static void row(const char *what, double lib, double base) {
    if (base > 0) printf("  %-58s %9.2f %9.2f %6.1fx\n", what, lib, base, lib / base);
    else printf("  %-58s %9.2f %9s %7s\n", what, lib, "", "");
}

int main(int argc, char **argv) {
    double r[NW];
    size_t i;
    if (argc == 2 && strcmp(argv[1], "--icount-list") == 0) {
        printf("w1 200000 400000 W1 yield ping-pong, per switch\n");
        printf("w1-base 200000 400000 W1 floor: indirect call + switch\n");
        printf("w2 100000 200000 W2 spawn + join, per task (warm frames)\n");
        printf("w2-cold 100000 200000 W2 in fresh memory, per task\n");
        printf("w2-alloc 100000 200000 W2 with spawn_alloc frames, per task\n");
        printf("w2-malloc 100000 200000 W2 alloc's malloc + memset + free alone\n");
        printf("w2-base 100000 200000 W2 baseline: init + indirect call\n");
        printf("w4r 50000 100000 W4r concurrent timers (random 1ms..1s), per timer\n");
        printf("w4 50000 100000 W4 concurrent timers (all 1 s), per timer\n");
        printf("w4c 50000 100000 W4c timers armed then cancelled (aborts), per timer\n");
        printf("w4-base 50000 100000 W4 baseline: bare binary heap insert + pop\n");
        printf("w1m 200000 400000 W1 with desc.metrics (poll-time histograms), per switch\n");
        return 0;
    }
    if (argc == 3) {                            /* one workload, once, for callgrind */
        long n = atol(argv[2]);
        setup(n);
        for (i = 0; i < NW; i++)
            if (strcmp(argv[1], workloads[i].name) == 0) {
                workloads[i].fn(n);
                return 0;
            }
        printf("unknown workload %s\n", argv[1]);
        return 1;
    }
    setup(1000000);
    for (i = 0; i < NW; i++) r[i] = median_ns_per_op(&workloads[i]);
    printf("core workloads, median of %d runs, ns per operation (lower is better)\n", RUNS);
    printf("  %-58s %9s %9s %7s\n", "workload", "async.h", "bare C", "ratio");
    row("W1 yield ping-pong, 1e7 switches (per switch)", r[W1], r[W1B]);
    row("W1 with desc.metrics (poll-time histograms)", r[W1M], r[W1B]);
    row("W2 spawn + join, 1e6 tasks alive at once, cold (per task)", r[W2C], r[W2B]);
    row("W2 the same, warm (frames reused from the run before)", r[W2], r[W2B]);
    row("W2 spawn_alloc + join (frames from malloc, freed by join)", r[W2A], r[W2B]);
    row("   of which malloc + memset + free alone", r[W2M], 0);
    row("W4 1e6 concurrent timers, random 1ms..1s (per timer)", r[W4R], r[W4B]);
    row("W4 1e6 concurrent timers, all 1 s (per timer)", r[W4], r[W4B]);
    row("W4 1e6 timers armed, then cancelled before firing", r[W4C], r[W4B]);
    printf("  runtime overhead per task: %u bytes (async_task header); a join needs no state\n",
           (unsigned)sizeof(async_task));
    printf("  targets: W1 <= 3x the floor; W2 <= 50 ns and <= 64 B per task; "
           "W4 random <= 300 ns\n");
    printf("  (the W4 baseline is a bare binary heap of 1e6 random u64 keys: insert, then pop;\n"
           "   the cold W2 includes the page faults of fresh memory: a new program's)\n");
    return 0;
}
