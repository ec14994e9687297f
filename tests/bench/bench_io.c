/* bench_io.c - the reactor's own cost, without the kernel's network stack in the way:
     pp   ping-pong of one byte over a socketpair between two tasks: each read waits
          (the reactor waits, dispatches the event, wakes the reader), per round trip
     reg  register + deregister a descriptor, per pair
   Built twice by make: build/bench/bench_io (poll(2)) and build/bench/bench_io_epoll
   (-DASYNC_USE_EPOLL). Without arguments: prints the median ns per operation over RUNS
   runs. With `WORKLOAD N`: runs that workload once at size N, for tests/bench/icount.sh
   (instructions per operation). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RUNS 5

static void die(const char *what) {
    printf("bench_io: %s failed\n", what);
    exit(1);
}

/* ---- pp: ping-pong over a socketpair ------------------------------------------- */
typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    long i, n;
    int first;                          /* writes before it reads */
    char b;
} pp_frame;

static int pp_run(async_task *t) {
    pp_frame *f = (pp_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        if (f->first) {
            ASYNC_AWAIT(rc, async_io_write(t, f->io, &f->w, &f->b, 1));
            if (rc != 1) die("write");
        }
        ASYNC_AWAIT(rc, async_io_read(t, f->io, &f->w, &f->b, 1));
        if (rc != 1) die("read");
        if (!f->first) {
            ASYNC_AWAIT(rc, async_io_write(t, f->io, &f->w, &f->b, 1));
            if (rc != 1) die("write");
        }
    }
    ASYNC_END(0);
}

static void pp(long n) {                /* n round trips */
    static async_runtime rt;
    static async_io io[2];
    static pp_frame a, b;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
    memset(io, 0, sizeof io);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    async_runtime_init(&rt, NULL);
    if (async_io_register(&rt, &io[0], sv[0]) < 0 || async_io_register(&rt, &io[1], sv[1]) < 0)
        die("register");
    a.io = &io[0], a.n = n, a.first = 1;
    b.io = &io[1], b.n = n;
    async_task_spawn(&rt, &a.task, pp_run, "a");
    async_task_spawn(&rt, &b.task, pp_run, "b");
    async_runtime_run(&rt);
    if (a.i != n || b.i != n) die("ping-pong");
    async_io_close(&io[0]);
    async_io_close(&io[1]);
    async_runtime_destroy(&rt);
}

/* ---- reg: register + deregister ------------------------------------------------ */
static void reg(long n) {
    static async_runtime rt;
    static async_io io[2];
    int sv[2];
    long i;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
    memset(io, 0, sizeof io);
    async_runtime_init(&rt, NULL);
    if (async_io_register(&rt, &io[0], sv[0]) < 0) die("register");   /* the reactor is up */
    for (i = 0; i < n; i++) {
        if (async_io_register(&rt, &io[1], sv[1]) < 0) die("register");
        if (async_io_deregister(&io[1]) != sv[1]) die("deregister");
    }
    async_io_close(&io[0]);
    close(sv[1]);
    async_runtime_destroy(&rt);
}

static const struct { const char *name; void (*fn)(long); long n; } workloads[] = {
    {"pp", pp, 20000}, {"reg", reg, 20000},
};

int main(int argc, char **argv) {
    size_t i;
    int r;
    if (argc == 2 && strcmp(argv[1], "--icount-list") == 0) {
        printf("pp 20000 40000 ping-pong of one byte over a socketpair, per round trip\n");
        printf("reg 20000 40000 register + deregister a descriptor, per pair\n");
        return 0;
    }
    if (argc == 3) {                    /* one workload, once, for callgrind */
        for (i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
            if (strcmp(argv[1], workloads[i].name) == 0) {
                workloads[i].fn(atol(argv[2]));
                return 0;
            }
        printf("unknown workload %s\n", argv[1]);
        return 1;
    }
    printf("I/O workloads (%s), median of %d runs, ns per operation\n",
#ifdef ASYNC_USE_EPOLL
           "epoll",
#else
           "poll",
#endif
           RUNS);
    for (i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        double t[RUNS];
        for (r = 0; r < RUNS; r++) {
            double t0 = now_ns();
            workloads[i].fn(workloads[i].n);
            t[r] = (now_ns() - t0) / (double)workloads[i].n;
        }
        qsort(t, RUNS, sizeof t[0], cmp_double);
        printf("  %-4s %9.1f\n", workloads[i].name, t[RUNS / 2]);
    }
    return 0;
}
