/* bench_sync.c - channel and sync workloads of DESIGN.md section 9, each beside a
   bare C baseline measured in the same run:
     W3   bounded mpsc, capacity 1024, 8-byte items between two tasks (per item)
          vs a bare ring buffer driven by two state machines (also with the
          consumer taking batches through recv_many)
     W3b  ping-pong over two capacity-1 channels (per round trip)
          vs two one-slot mailboxes and two state machines
     W5   1000 tasks on a 10-permit semaphore: acquire, yield, release (per acquire)
          vs the floor: a counter semaphore with a FIFO of waiting machine pointers,
          a FIFO run queue of machine pointers
     M    uncontended mutex lock + unlock inside one task (per pair) vs a bare flag
   Without arguments: median ns per operation over RUNS runs. With `WORKLOAD N`: that
   workload once at size N, for tests/bench/icount.sh. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5

static volatile uint64_t sink;

ASYNC_MPSC_TYPED(u64chan, uint64_t)

/* ---- W3: bounded channel throughput --------------------------------------------- */
static async_mpsc w3_chan;
static int w3_generic;                          /* 1: the untyped async_mpsc_ API */
static uint64_t w3_store[1024];
typedef struct { async_task task; async_waiter w; long i, n; uint64_t item, sum; int rc; } w3_frame;
static int w3_producer(async_task *t) {
    w3_frame *f = (w3_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->item = (uint64_t)f->i;
        ASYNC_AWAIT(f->rc, u64chan_send(t, &w3_chan, &f->w, &f->item));
    }
    async_mpsc_sender_release(&w3_chan);
    ASYNC_END(0);
}
static int w3_producer_generic(async_task *t) {
    w3_frame *f = (w3_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->item = (uint64_t)f->i;
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &w3_chan, &f->w, &f->item));
    }
    async_mpsc_sender_release(&w3_chan);
    ASYNC_END(0);
}
static int w3_consumer(async_task *t) {
    w3_frame *f = (w3_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, u64chan_recv(t, &w3_chan, &f->w, &f->item));
        if (f->rc < 0) break;
        f->sum += f->item;
    }
    ASYNC_END(0);
}
static int w3_consumer_generic(async_task *t) {
    w3_frame *f = (w3_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &w3_chan, &f->w, &f->item));
        if (f->rc < 0) break;
        f->sum += f->item;
    }
    ASYNC_END(0);
}
/* The consumer taking what is there in one go (up to 64) with recv_many. */
static int w3_consumer_many(async_task *t) {
    w3_frame *f = (w3_frame *)t;
    static uint64_t batch[64];
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, u64chan_recv_many(t, &w3_chan, &f->w, batch, 64));
        if (f->rc <= 0) break;
        {
            int i;
            for (i = 0; i < f->rc; i++) f->sum += batch[i];
        }
    }
    ASYNC_END(0);
}
static int w3_many;
static void w3(long n) {
    static async_runtime rt;
    static w3_frame p, c;
    memset(&p, 0, sizeof p);
    memset(&c, 0, sizeof c);
    p.n = n;
    async_runtime_init(&rt, NULL);
    async_mpsc_init(&w3_chan, sizeof(uint64_t), 1024, w3_store);
    async_task_spawn(&rt, &p.task, w3_generic ? w3_producer_generic : w3_producer, "producer");
    async_task_spawn(&rt, &c.task, w3_many ? w3_consumer_many
                                   : w3_generic ? w3_consumer_generic : w3_consumer, "consumer");
    async_runtime_run(&rt);
    if (c.sum != (uint64_t)n * (uint64_t)(n - 1) / 2) { printf("w3: wrong sum\n"); exit(1); }
    async_mpsc_destroy(&w3_chan);
    async_runtime_destroy(&rt);
}
static void w3g(long n) {
    w3_generic = 1;
    w3(n);
    w3_generic = 0;
}
static void w3m(long n) {
    w3_many = 1;
    w3(n);
    w3_many = 0;
}
/* The floor: the same ring, a producer and a consumer state machine behind an
   indirect call, each running until the ring is full or empty. */
typedef struct { uint64_t buf[1024]; size_t head, len; } ring;
typedef struct { int state; long i, n; uint64_t sum; ring *r; } sm3;
static int sm3_produce(sm3 *s) {
    while (s->i < s->n) {
        if (s->r->len == 1024) return 0;          /* full: yield */
        s->r->buf[(s->r->head + s->r->len) & 1023] = (uint64_t)s->i;
        s->r->len++;
        s->i++;
    }
    return 1;
}
static int sm3_consume(sm3 *s) {
    while (s->r->len) {
        s->sum += s->r->buf[s->r->head];
        s->r->head = (s->r->head + 1) & 1023;
        s->r->len--;
    }
    return 0;
}
static int (*volatile sm3_p)(sm3 *) = sm3_produce;
static int (*volatile sm3_c)(sm3 *) = sm3_consume;
static void w3_base(long n) {
    static ring r;
    sm3 p, c;
    int done = 0;
    memset(&p, 0, sizeof p);
    memset(&c, 0, sizeof c);
    r.head = r.len = 0;
    p.r = c.r = &r;
    p.n = n;
    while (!done || r.len) {
        done = sm3_p(&p);
        sm3_c(&c);
    }
    sink = c.sum;
}

/* ---- W3b: ping-pong over two capacity-1 channels --------------------------------------- */
static async_mpsc pp_a, pp_b;
typedef struct { async_task task; async_waiter w; long i, n; uint64_t item; int rc, pinger; } pp_frame;
static int pp_task(async_task *t) {
    pp_frame *f = (pp_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        if (f->pinger) {
            f->item = (uint64_t)f->i;
            ASYNC_AWAIT(f->rc, u64chan_send(t, &pp_a, &f->w, &f->item));
            ASYNC_AWAIT(f->rc, u64chan_recv(t, &pp_b, &f->w, &f->item));
        } else {
            ASYNC_AWAIT(f->rc, u64chan_recv(t, &pp_a, &f->w, &f->item));
            ASYNC_AWAIT(f->rc, u64chan_send(t, &pp_b, &f->w, &f->item));
        }
    }
    ASYNC_END(0);
}
static void w3b(long n) {
    static async_runtime rt;
    static pp_frame a, b;
    static uint64_t sa, sb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.n = b.n = n;
    a.pinger = 1;
    async_runtime_init(&rt, NULL);
    async_mpsc_init(&pp_a, sizeof(uint64_t), 1, &sa);
    async_mpsc_init(&pp_b, sizeof(uint64_t), 1, &sb);
    async_task_spawn(&rt, &a.task, pp_task, "ping");
    async_task_spawn(&rt, &b.task, pp_task, "pong");
    async_runtime_run(&rt);
    async_mpsc_destroy(&pp_a);
    async_mpsc_destroy(&pp_b);
    async_runtime_destroy(&rt);
}
/* The floor: two one-slot mailboxes, two state machines, an indirect call per step. */
typedef struct { uint64_t v; int full; } box;
typedef struct { int state; long i, n; box *in, *out; } smp;
static int smp_step(smp *s) {
    switch (s->state) {
    case 0:                                     /* send */
        if (s->out->full) return 0;
        s->out->v = (uint64_t)s->i;
        s->out->full = 1;
        s->state = 1;
        return 1;
    case 1:                                     /* receive */
        if (!s->in->full) return 0;
        s->in->full = 0;
        s->i++;
        s->state = 0;
        return 1;
    default:
        return 0;
    }
}
static int smq_step(smp *s) {
    switch (s->state) {
    case 0:                                     /* receive */
        if (!s->in->full) return 0;
        s->in->full = 0;
        s->state = 1;
        return 1;
    case 1:                                     /* send back */
        if (s->out->full) return 0;
        s->out->v = (uint64_t)s->i++;
        s->out->full = 1;
        s->state = 0;
        return 1;
    default:
        return 0;
    }
}
static int (*volatile smp_fn)(smp *) = smp_step;
static int (*volatile smq_fn)(smp *) = smq_step;
static void w3b_base(long n) {
    box a = {0, 0}, b = {0, 0};
    smp p, q;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    p.out = &a; p.in = &b; p.n = n;
    q.in = &a; q.out = &b; q.n = n;
    while (p.i < n) {
        smp_fn(&p);
        smq_fn(&q);
    }
    sink = (uint64_t)p.i;
}

/* The floor of the poll model itself: the least any runtime of woken tasks can do
   here. A FIFO run queue, two tasks as resumable functions, two one-slot channels
   whose only waiter is one task pointer each, and nothing else (no budget, no
   cancellation, no waiter queues, no task states): what W3b's target is weighed
   against in the closing note of issue 3. */
typedef struct pm_task { struct pm_task *next; int (*fn)(struct pm_task *); int lc, queued, pinger;
                         long i, n; uint64_t item; } pm_task;
typedef struct { uint64_t v; int full; pm_task *rx, *tx; } pm_chan;
static pm_task *pm_head, *pm_tail;
static pm_chan pm_a, pm_b;
static void pm_wake(pm_task *t) {
    if (t->queued) return;
    t->queued = 1;
    t->next = NULL;
    if (pm_tail) pm_tail->next = t;
    else pm_head = t;
    pm_tail = t;
}
static int pm_send(pm_task *t, pm_chan *c, uint64_t v) {
    if (c->full) { c->tx = t; return 0; }
    c->v = v;
    c->full = 1;
    if (c->rx) { pm_wake(c->rx); c->rx = NULL; }
    return 1;
}
static int pm_recv(pm_task *t, pm_chan *c, uint64_t *v) {
    if (!c->full) { c->rx = t; return 0; }
    *v = c->v;
    c->full = 0;
    if (c->tx) { pm_wake(c->tx); c->tx = NULL; }
    return 1;
}
static int pm_body(pm_task *t) {             /* a protothread, as ASYNC_BEGIN makes */
    switch (t->lc) {
    case 1: goto s1;
    case 2: goto s2;
    case 3: goto s3;
    case 4: goto s4;
    default: break;
    }
    for (t->i = 0; t->i < t->n; t->i++) {
        if (t->pinger) {
            t->item = (uint64_t)t->i;
        s1: if (!pm_send(t, &pm_a, t->item)) { t->lc = 1; return 0; }
        s2: if (!pm_recv(t, &pm_b, &t->item)) { t->lc = 2; return 0; }
        } else {
        s3: if (!pm_recv(t, &pm_a, &t->item)) { t->lc = 3; return 0; }
        s4: if (!pm_send(t, &pm_b, t->item)) { t->lc = 4; return 0; }
        }
    }
    return 1;
}
static void w3b_poll(long n) {
    static pm_task a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&pm_a, 0, sizeof pm_a);
    memset(&pm_b, 0, sizeof pm_b);
    a.fn = b.fn = pm_body;
    a.n = b.n = n;
    a.pinger = 1;
    pm_head = pm_tail = NULL;
    pm_wake(&a);
    pm_wake(&b);
    while (pm_head) {
        pm_task *t = pm_head;
        pm_head = t->next;
        if (!pm_head) pm_tail = NULL;
        t->queued = 0;
        t->fn(t);
    }
    if (a.i != n || b.i != n) { printf("w3b-poll: wrong count\n"); exit(1); }
    sink = a.item;
}

/* ---- W5: 1000 tasks on a 10-permit semaphore ------------------------------------------- */
static async_semaphore w5_sem;
typedef struct { async_task task; async_waiter w; long i, n; int rc; } w5_frame;
static int w5_task(async_task *t) {
    w5_frame *f = (w5_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(f->rc, async_semaphore_acquire(t, &w5_sem, &f->w));
        ASYNC_YIELD();
        async_semaphore_release(&w5_sem, 1);
    }
    ASYNC_END(0);
}
static void w5(long n) {                        /* n acquires in all */
    static async_runtime rt;
    static w5_frame f[1000];
    int i;
    memset(f, 0, sizeof f);
    async_runtime_init(&rt, NULL);
    async_semaphore_init(&w5_sem, 10);
    for (i = 0; i < 1000; i++) {
        f[i].n = n / 1000;
        async_task_spawn(&rt, &f[i].task, w5_task, "w5");
    }
    async_runtime_run(&rt);
    if (async_semaphore_available_permits(&w5_sem) != 10) {
        printf("w5: permits leaked\n");
        exit(1);
    }
    async_runtime_destroy(&rt);
}
/* The floor: the least a scheduler and a fair semaphore must do. 1000 state machines
   behind an indirect call, a FIFO run queue of machine pointers (a ring), a counting
   semaphore with a FIFO of waiting machine pointers: a release with waiters hands its
   permit to the first, which the release queues to run. Each acquires (or waits in
   line), yields once (back to the run queue's tail), releases, and loops. (The baseline
   before this one scanned all 1000 machines for a runnable one: 686 instructions per
   acquire, slower than the library.) */
typedef struct fm5 { int (*fn)(struct fm5 *); int state; long i, n; } fm5;
static fm5 *fm5_runq[1024], *fm5_semq[1024];
static unsigned fm5_rh, fm5_rt, fm5_sh, fm5_st;
static int fm5_permits;
static void fm5_run(fm5 *m) { fm5_runq[fm5_rt++ & 1023] = m; }
static int fm5_acquire(fm5 *m) {                /* then yield once */
    if (m->i == m->n) return 1;
    if (fm5_permits == 0) {                     /* wait in line */
        fm5_semq[fm5_st++ & 1023] = m;
        m->state = 1;
        return 0;
    }
    fm5_permits--;
    m->state = 2;
    fm5_run(m);                                 /* the yield */
    return 0;
}
static int fm5_step(fm5 *m) {
    switch (m->state) {
    case 0:
        return fm5_acquire(m);
    case 1:                                     /* woken holding a handed-over permit */
        m->state = 2;
        fm5_run(m);                             /* the yield */
        return 0;
    case 2:                                     /* after the yield: release, acquire */
        m->i++;
        if (fm5_sh != fm5_st) fm5_run(fm5_semq[fm5_sh++ & 1023]);      /* hand it over */
        else fm5_permits++;
        return fm5_acquire(m);
    default:
        return -1;
    }
}
static int (*volatile fm5_fn)(fm5 *) = fm5_step;
static void w5_base(long n) {
    static fm5 m[1000];
    long done = 0;
    int i;
    memset(m, 0, sizeof m);
    fm5_permits = 10;
    fm5_rh = fm5_rt = fm5_sh = fm5_st = 0;
    for (i = 0; i < 1000; i++) {
        m[i].n = n / 1000;
        m[i].fn = fm5_fn;
        fm5_run(&m[i]);
    }
    while (fm5_rh != fm5_rt) {
        fm5 *t = fm5_runq[fm5_rh++ & 1023];
        done += t->fn(t);
    }
    if (done != 1000 || fm5_permits != 10) {
        printf("w5-base: %ld done, %d permits\n", done, fm5_permits);
        exit(1);
    }
    sink = (uint64_t)fm5_permits;
}

/* ---- uncontended mutex ---------------------------------------------------------------------- */
static async_mutex mx;
typedef struct { async_task task; async_waiter w; long i, n; int rc; } mx_frame;
static int mx_task(async_task *t) {
    mx_frame *f = (mx_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(f->rc, async_mutex_lock(t, &mx, &f->w));
        async_mutex_unlock(&mx);
    }
    ASYNC_END(0);
}
static void wm(long n) {
    static async_runtime rt;
    static mx_frame f;
    memset(&f, 0, sizeof f);
    f.n = n;
    async_runtime_init(&rt, NULL);
    async_mutex_init(&mx);
    async_runtime_block_on(&rt, &f.task, mx_task, "mutex");
    async_runtime_destroy(&rt);
}
static volatile int bare_flag;
static void wm_base(long n) {
    long i;
    for (i = 0; i < n; i++) {
        if (!bare_flag) bare_flag = 1;
        bare_flag = 0;
    }
}

typedef struct { const char *name; void (*fn)(long); long n; } workload;
static const workload workloads[] = {
    {"w3", w3, 10000000}, {"w3-base", w3_base, 10000000}, {"w3-generic", w3g, 10000000},
    {"w3-many", w3m, 10000000},
    {"w3b", w3b, 2000000}, {"w3b-base", w3b_base, 2000000}, {"w3b-poll", w3b_poll, 2000000},
    {"w5", w5, 2000000}, {"w5-base", w5_base, 2000000},
    {"mutex", wm, 20000000}, {"mutex-base", wm_base, 20000000},
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
        printf("w3 200000 400000 W3 bounded channel cap 1024, per item\n");
        printf("w3-base 200000 400000 W3 floor: ring + 2 state machines\n");
        printf("w3-generic 200000 400000 W3 through the untyped API\n");
        printf("w3-many 200000 400000 W3 with recv_many(64) in the consumer\n");
        printf("w3b 100000 200000 W3b ping-pong over 2 cap-1 channels, per round trip\n");
        printf("w3b-base 100000 200000 W3b floor: 2 mailboxes + 2 state machines\n");
        printf("w3b-poll 100000 200000 W3b floor of the poll model: run queue + 1-slot waiters\n");
        printf("w5 100000 200000 W5 1000 tasks on 10 permits, per acquire\n");
        printf("w5-base 100000 200000 W5 floor: counter + FIFO of waiters + FIFO run queue\n");
        printf("mutex 1000000 2000000 uncontended mutex lock+unlock\n");
        printf("mutex-base 1000000 2000000 bare flag lock+unlock\n");
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
    printf("sync and channel workloads, median of %d runs, ns per operation\n", RUNS);
    printf("  %-56s %9s %9s %7s\n", "workload", "async.h", "bare C", "ratio");
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "W3 mpsc cap 1024, 1e7 8-byte items (per item)",
           r[0], r[1], r[0] / r[1]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "   the same through the untyped async_mpsc_ API",
           r[2], r[1], r[2] / r[1]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "   the consumer with recv_many(64) (typed)",
           r[3], r[1], r[3] / r[1]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "W3b ping-pong, two cap-1 channels (per round trip)",
           r[4], r[5], r[4] / r[5]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "   the poll model's floor (run queue + 1-slot waiters)",
           r[6], r[5], r[6] / r[5]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "W5 1000 tasks, 10 permits, acquire+yield+release",
           r[7], r[8], r[7] / r[8]);
    printf("  %-56s %9.2f %9.2f %6.1fx\n", "uncontended mutex lock + unlock (per pair)",
           r[9], r[10], r[9] / r[10]);
    printf("  targets: W3 <= 3x its floor; W3b <= 2x its floor; W5 < 50 ns; mutex < 5 ns\n");
    return 0;
}
