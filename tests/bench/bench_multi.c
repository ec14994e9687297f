/* bench_multi.c - the multi-core workloads of issue 15, across the two runtimes of an
   async_group (threads = 2, pin = 1: runtime i on core i), each beside a bare C
   baseline of two pinned pthreads measured in the same run:
     X1   shared mpsc, capacity 1024, 8-byte items, the producer on runtime 0 and the
          consumer on runtime 1 (per item); the consumer with recv, and with
          recv_many(64) (also with spin_us = -1: no runtime spins before it sleeps); vs a
          bare SPSC ring between two spinning threads (the floor)
     X2   ping-pong over two shared capacity-1 channels, the pinger on runtime 0 and
          the ponger on runtime 1 (per round trip); vs two one-slot mailboxes between
          two spinning threads (the floor), and between two threads that sleep on an
          eventfd each when they must wait (the floor of a wait that does not spin,
          which is what a parked runtime does)
   Without arguments: median ns per operation over RUNS runs. `--peers [N1 [N2]]`: the
   async.h workloads only (no floors), as "name ns" lines for tests/bench/bench_peers.sh;
   `WORKLOAD N`: that workload once at size N (for perf and the like). Not
   in bench-icount: callgrind runs one thread at a time, so a cross-thread wait is a
   context switch there and the counts would measure its scheduler. */
#define _GNU_SOURCE                     /* sched_setaffinity, CPU_SET (the baselines) */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RUNS 5

ASYNC_MPSC_TYPED(u64chan, uint64_t)

/* The runtime the consumer (X1) or the ponger (X2) is spawned onto: 1 (the other
   core), or 0 for the variants "-same" (both tasks on runtime 0, the channels still
   shared: how the peers, whose schedulers keep both tasks on one worker, run them). */
static int peer_rt = 1;
/* async_group_desc.spin_us for the group: 0 (the default spin), or -1 for the variant
   "-nospin" (a runtime waiting on the other sleeps at once). */
static int spin_us;

static void die(const char *what, int rc) {
    printf("bench_multi: %s: %s\n", what, async_strerror(rc));
    exit(1);
}

/* ---- X1: cross-runtime mpsc ------------------------------------------------------ */
static async_group x1_group;
static async_mpsc x1_chan;
static uint64_t x1_store[1024];
static int x1_many;                             /* 1: the consumer takes batches */
static uint64_t x1_sum;
typedef struct { async_task task; async_waiter w; long i, n; uint64_t item, sum; int rc; }
    x1_rx_frame;
typedef struct { async_task task; async_waiter w; async_join_handle h; x1_rx_frame rx;
                 long i, n; uint64_t item; int rc; } x1_tx_frame;
static int x1_consumer(async_task *t) {
    x1_rx_frame *f = (x1_rx_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, u64chan_recv(t, &x1_chan, &f->w, &f->item));
        if (f->rc < 0) break;
        f->sum += f->item;
    }
    x1_sum = f->sum;
    ASYNC_END(async_runtime_index(async_task_runtime(t)));
}
static int x1_consumer_many(async_task *t) {
    x1_rx_frame *f = (x1_rx_frame *)t;
    static uint64_t batch[64];
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, u64chan_recv_many(t, &x1_chan, &f->w, batch, 64));
        if (f->rc <= 0) break;
        {
            int i;
            for (i = 0; i < f->rc; i++) f->sum += batch[i];
        }
    }
    x1_sum = f->sum;
    ASYNC_END(async_runtime_index(async_task_runtime(t)));
}
/* The main task, on runtime 0: spawns the consumer onto runtime 1, produces, joins. */
static int x1_producer(async_task *t) {
    x1_tx_frame *f = (x1_tx_frame *)t;
    ASYNC_BEGIN(t);
    f->rc = async_group_spawn(&x1_group, peer_rt, &f->h, &f->rx.task,
                              x1_many ? x1_consumer_many : x1_consumer, "consumer");
    if (f->rc < 0) die("spawn", f->rc);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->item = (uint64_t)f->i;
        ASYNC_AWAIT(f->rc, u64chan_send(t, &x1_chan, &f->w, &f->item));
        if (f->rc < 0) die("send", f->rc);
    }
    async_mpsc_sender_release(&x1_chan);
    ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &f->h, &f->w));
    ASYNC_END(f->rc);
}
static void x1(long n) {
    static x1_tx_frame p;
    async_group_desc d;
    int rc;
    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    d.threads = 2;
    d.pin = 1;
    d.spin_us = spin_us;
    p.n = n;
    x1_sum = 0;
    if ((rc = async_group_init(&x1_group, &d)) < 0) die("group", rc);
    if ((rc = async_mpsc_init_shared(&x1_chan, sizeof(uint64_t), 1024, x1_store)) < 0)
        die("channel", rc);
    rc = async_group_block_on(&x1_group, &p.task, x1_producer, "producer");
    if (rc != peer_rt) die("the consumer ran on another runtime", rc < 0 ? rc : 0);
    if (x1_sum != (uint64_t)n * (uint64_t)(n - 1) / 2) { printf("x1: wrong sum\n"); exit(1); }
    async_mpsc_destroy(&x1_chan);
    async_group_destroy(&x1_group);
}
static void x1m(long n) {
    x1_many = 1;
    x1(n);
    x1_many = 0;
}
static void x1mn(long n) {
    spin_us = -1;
    x1m(n);
    spin_us = 0;
}
static void x1s(long n) {
    peer_rt = 0;
    x1(n);
    peer_rt = 1;
}

/* ---- X2: cross-runtime ping-pong --------------------------------------------------- */
static async_group x2_group;
static async_mpsc x2_a, x2_b;
typedef struct { async_task task; async_waiter w; long i, n; uint64_t item; int rc; }
    x2_pong_frame;
typedef struct { async_task task; async_waiter w; async_join_handle h; x2_pong_frame pong;
                 long i, n; uint64_t item; int rc; } x2_ping_frame;
static int x2_pong(async_task *t) {
    x2_pong_frame *f = (x2_pong_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(f->rc, u64chan_recv(t, &x2_a, &f->w, &f->item));
        if (f->rc < 0) die("pong recv", f->rc);
        ASYNC_AWAIT(f->rc, u64chan_send(t, &x2_b, &f->w, &f->item));
        if (f->rc < 0) die("pong send", f->rc);
    }
    ASYNC_END(async_runtime_index(async_task_runtime(t)));
}
static int x2_ping(async_task *t) {
    x2_ping_frame *f = (x2_ping_frame *)t;
    ASYNC_BEGIN(t);
    f->pong.n = f->n;
    f->rc = async_group_spawn(&x2_group, peer_rt, &f->h, &f->pong.task, x2_pong, "pong");
    if (f->rc < 0) die("spawn", f->rc);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->item = (uint64_t)f->i;
        ASYNC_AWAIT(f->rc, u64chan_send(t, &x2_a, &f->w, &f->item));
        if (f->rc < 0) die("ping send", f->rc);
        ASYNC_AWAIT(f->rc, u64chan_recv(t, &x2_b, &f->w, &f->item));
        if (f->rc < 0 || f->item != (uint64_t)f->i) die("ping recv", f->rc);
    }
    ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &f->h, &f->w));
    ASYNC_END(f->rc);
}
static void x2(long n) {
    static x2_ping_frame p;
    static uint64_t sa, sb;
    async_group_desc d;
    int rc;
    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    d.threads = 2;
    d.pin = 1;
    d.spin_us = spin_us;
    p.n = n;
    if ((rc = async_group_init(&x2_group, &d)) < 0) die("group", rc);
    if ((rc = async_mpsc_init_shared(&x2_a, sizeof(uint64_t), 1, &sa)) < 0 ||
        (rc = async_mpsc_init_shared(&x2_b, sizeof(uint64_t), 1, &sb)) < 0)
        die("channel", rc);
    rc = async_group_block_on(&x2_group, &p.task, x2_ping, "ping");
    if (rc != peer_rt) die("the ponger ran on another runtime", rc < 0 ? rc : 0);
    async_mpsc_destroy(&x2_a);
    async_mpsc_destroy(&x2_b);
    async_group_destroy(&x2_group);
}

static void x2s(long n) {
    peer_rt = 0;
    x2(n);
    peer_rt = 1;
}

/* ---- the baselines: two pthreads, pinned to cores 0 and 1 --------------------------- */
static void pin_to(int cpu) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (ncpu <= 0) return;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)ncpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
}
static void run_pair(void *(*a)(void *), void *(*b)(void *), void *arg) {
    pthread_t th;
    if (pthread_create(&th, NULL, b, arg) != 0) { printf("pthread_create failed\n"); exit(1); }
    a(arg);
    pthread_join(th, NULL);
}
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* X1's floor: a single-producer single-consumer ring of 1024 slots, each side on its
   own cache line and keeping a copy of the other's index, spinning when full/empty. */
typedef struct {
    uint64_t buf[1024];
    char pad0[64];
    size_t tail;                                /* written by the producer */
    char pad1[64 - sizeof(size_t)];
    size_t head;                                /* written by the consumer */
    char pad2[64 - sizeof(size_t)];
    long n;
    uint64_t sum;
} spsc;
static void *spsc_producer(void *arg) {
    spsc *r = (spsc *)arg;
    size_t tail = 0, head = 0;
    long i;
    pin_to(0);
    for (i = 0; i < r->n; i++) {
        while (tail - head == 1024) {
            head = LOAD_ACQ(&r->head);
            if (tail - head == 1024) relax();
        }
        r->buf[tail & 1023] = (uint64_t)i;
        STORE_REL(&r->tail, ++tail);
    }
    return NULL;
}
static void *spsc_consumer(void *arg) {
    spsc *r = (spsc *)arg;
    size_t head = 0, tail = 0;
    long i;
    uint64_t sum = 0;
    pin_to(1);
    for (i = 0; i < r->n; i++) {
        while (head == tail) {
            tail = LOAD_ACQ(&r->tail);
            if (head == tail) relax();
        }
        sum += r->buf[head & 1023];
        STORE_REL(&r->head, ++head);
    }
    r->sum = sum;
    return NULL;
}
static void x1_base(long n) {
    static spsc r;
    memset(&r, 0, sizeof r);
    r.n = n;
    run_pair(spsc_producer, spsc_consumer, &r);
    if (r.sum != (uint64_t)n * (uint64_t)(n - 1) / 2) { printf("x1-base: wrong sum\n"); exit(1); }
}

/* X2's floors: two one-slot mailboxes (a value and a full flag, each on its line). */
typedef struct { volatile int full; char pad[60]; uint64_t v; char pad2[56]; } mbox;
typedef struct { mbox a, b; long n; int sleep; int efd_a, efd_b; } pp;
/* Wait for `full` to be `want`: spin, or (sleep) block on an eventfd the other side
   writes after each change. */
static void mbox_wait(pp *p, volatile int *full, int want, int efd) {
    while (LOAD_ACQ(full) != want) {
        if (p->sleep) {
            uint64_t v;
            if (read(efd, &v, sizeof v) < 0) { printf("eventfd read failed\n"); exit(1); }
        } else {
            relax();
        }
    }
}
static void mbox_kick(pp *p, int efd) {
    if (p->sleep) {
        uint64_t one = 1;
        if (write(efd, &one, sizeof one) < 0) { printf("eventfd write failed\n"); exit(1); }
    }
}
static void *pp_ping(void *arg) {
    pp *p = (pp *)arg;
    long i;
    pin_to(0);
    for (i = 0; i < p->n; i++) {
        mbox_wait(p, &p->a.full, 0, p->efd_a);
        p->a.v = (uint64_t)i;
        STORE_REL(&p->a.full, 1);
        mbox_kick(p, p->efd_b);
        mbox_wait(p, &p->b.full, 1, p->efd_a);
        if (p->b.v != (uint64_t)i) { printf("x2-base: wrong item\n"); exit(1); }
        STORE_REL(&p->b.full, 0);
        mbox_kick(p, p->efd_b);
    }
    return NULL;
}
static void *pp_pong(void *arg) {
    pp *p = (pp *)arg;
    long i;
    uint64_t v;
    pin_to(1);
    for (i = 0; i < p->n; i++) {
        mbox_wait(p, &p->a.full, 1, p->efd_b);
        v = p->a.v;
        STORE_REL(&p->a.full, 0);
        mbox_kick(p, p->efd_a);
        mbox_wait(p, &p->b.full, 0, p->efd_b);
        p->b.v = v;
        STORE_REL(&p->b.full, 1);
        mbox_kick(p, p->efd_a);
    }
    return NULL;
}
static void x2_pp(long n, int sleep) {
    static pp p;
    memset(&p, 0, sizeof p);
    p.n = n;
    p.sleep = sleep;
    p.efd_a = p.efd_b = -1;
    if (sleep) {
        p.efd_a = eventfd(0, 0);
        p.efd_b = eventfd(0, 0);
        if (p.efd_a < 0 || p.efd_b < 0) { printf("eventfd failed\n"); exit(1); }
    }
    run_pair(pp_ping, pp_pong, &p);
    if (sleep) {
        close(p.efd_a);
        close(p.efd_b);
    }
}
static void x2_base(long n) { x2_pp(n, 0); }
static void x2_sleep(long n) { x2_pp(n, 1); }

typedef struct { const char *name; void (*fn)(long); long n; } workload;
static const workload workloads[] = {
    {"x1", x1, 2000000}, {"x1-many", x1m, 2000000}, {"x1-many-nospin", x1mn, 2000000},
    {"x1-same", x1s, 2000000}, {"x1-base", x1_base, 10000000},
    {"x2", x2, 200000}, {"x2-same", x2s, 200000}, {"x2-base", x2_base, 1000000},
    {"x2-eventfd", x2_sleep, 10000},
};
#define NW (sizeof workloads / sizeof workloads[0])

static double median_ns_per_op(const workload *w, long n) {
    double t[RUNS];
    int r;
    for (r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        w->fn(n);
        t[r] = (now_ns() - t0) / (double)n;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

int main(int argc, char **argv) {
    double r[NW];
    size_t i;
    if (argc >= 2 && strcmp(argv[1], "--peers") == 0) {
        /* bench_peers.sh: "name ns" lines, X1 at N1 items, X2 at N2 round trips */
        long n1 = argc > 2 ? atol(argv[2]) : workloads[0].n;
        long n2 = argc > 3 ? atol(argv[3]) : workloads[5].n;
        if (n1 < 2 || n2 < 1) { printf("usage: bench_multi --peers [N1 [N2]]\n"); return 2; }
        for (i = 0; i < NW; i++)
            if (!strstr(workloads[i].name, "-base") && !strstr(workloads[i].name, "-eventfd")) {
                printf("%s %.2f\n", workloads[i].name,
                       median_ns_per_op(&workloads[i], workloads[i].name[1] == '1' ? n1 : n2));
                fflush(stdout);
            }
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
    for (i = 0; i < NW; i++) r[i] = median_ns_per_op(&workloads[i], workloads[i].n);
    printf("multi-core workloads, an async_group of 2 runtimes pinned to cores 0 and 1, "
           "median of %d runs, ns per operation\n", RUNS);
    printf("  %-58s %9s %9s %7s\n", "workload", "async.h", "bare C", "ratio");
    printf("  %-58s %9.2f %9.2f %6.1fx\n",
           "X1 shared mpsc cap 1024, 8-byte items, across (per item)", r[0], r[4], r[0] / r[4]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "   the consumer with recv_many(64)",
           r[1], r[4], r[1] / r[4]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "   the same, the runtimes never spin (spin_us = -1)",
           r[2], r[4], r[2] / r[4]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "   both tasks on runtime 0 (recv)",
           r[3], r[4], r[3] / r[4]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "X2 ping-pong, two shared cap-1 channels (round trip)",
           r[5], r[7], r[5] / r[7]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "   against threads sleeping on an eventfd when waiting",
           r[5], r[8], r[5] / r[8]);
    printf("  %-58s %9.2f %9.2f %6.1fx\n", "   both tasks on runtime 0",
           r[6], r[7], r[6] / r[7]);
    printf("  floors: two pthreads on cores 0 and 1; X1 a spinning SPSC ring; X2 spinning\n"
           "  one-slot mailboxes, and the same with a blocking eventfd read per wait\n");
    return 0;
}
