/* bench_opset.c - the op set's cost per op added and completed, against the other ways
   one task can wait for the same ops: rounds of K sleeps (distinct deadlines, on the
   paused clock) awaited one completion at a time
     set     an async_opset (completion order): push K, next K times
     ordered the same, async_opset_init_ordered (push order)
     select  K selects in a row over the sleeps not done yet (guards): the losers are
             cancelled (their timers disarmed) and polled again by the next select
     join    ASYNC_JOIN_ALL over the K sleeps (all of them, no completion order)
   for K = 8 and 32 (select: 8; it takes up to 32 branches written out).
   Without arguments: prints the median ns per op over RUNS runs.
   With `WORKLOAD N`: runs that workload once over N ops, for tests/bench/icount.sh
   (instructions per op). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5
enum { KMAX = 32 };

typedef struct { async_timer timer; async_time deadline; } sleep_op;
static int op_sleep(async_task *t, void *p) {
    sleep_op *s = (sleep_op *)p;
    return async_time_sleep_until(t, &s->timer, s->deadline);
}

typedef struct {
    async_task task;
    async_opset set;
    async_opset_slot slots[KMAX];
    sleep_op s[KMAX];
    async_select sel;
    int mode, k, rounds, r, i, j, rc, rcs[KMAX], done[KMAX];
} frame;

#define SEL_BRANCH(i) ASYNC_SELECT_BRANCH(&f->sel, i, !f->done[i], f->rc, \
    async_time_sleep_until(t, &f->s[i].timer, f->s[i].deadline))

static int run(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    if (f->mode == 1) async_opset_init_ordered(&f->set, f->slots, (size_t)f->k);
    else async_opset_init(&f->set, f->slots, (size_t)f->k);
    for (f->r = 0; f->r < f->rounds; f->r++) {
        for (f->i = 0; f->i < f->k; f->i++) {   /* the last pushed ends first */
            f->s[f->i].deadline = async_time_now(t->rt) + ASYNC_US(10 * (f->k - f->i));
            f->done[f->i] = 0;
        }
        if (f->mode <= 1) {
            for (f->i = 0; f->i < f->k; f->i++) async_opset_push(&f->set, op_sleep, &f->s[f->i]);
            for (f->j = 0; f->j < f->k; f->j++)
                ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, NULL, NULL));
        } else if (f->mode == 2) {
            for (f->j = 0; f->j < 8; f->j++) {
                ASYNC_SELECT_BEGIN(&f->sel, 8, ASYNC_SELECT_BIASED)
                    SEL_BRANCH(0) SEL_BRANCH(1) SEL_BRANCH(2) SEL_BRANCH(3)
                    SEL_BRANCH(4) SEL_BRANCH(5) SEL_BRANCH(6) SEL_BRANCH(7)
                ASYNC_SELECT_END(&f->sel);
                f->done[f->sel.winner] = 1;
            }
        } else {
            ASYNC_JOIN_ALL(f->rcs, f->k, f->i,
                           async_time_sleep_until(t, &f->s[f->i].timer, f->s[f->i].deadline));
        }
    }
    ASYNC_END(0);
}

static const struct { const char *name; int mode, k; const char *what; } workloads[] = {
    {"set8", 0, 8, "opset, 8 sleeps, completion order"},
    {"ordered8", 1, 8, "opset ordered, 8 sleeps, push order"},
    {"select8", 2, 8, "8 selects over the 8 sleeps not done"},
    {"join8", 3, 8, "join_all of 8 sleeps"},
    {"set32", 0, 32, "opset, 32 sleeps, completion order"},
    {"join32", 3, 32, "join_all of 32 sleeps"},
};
enum { NW = sizeof workloads / sizeof workloads[0] };

static void one(int w, long n) {                /* n ops in all */
    static async_runtime rt;
    static frame f;
    async_runtime_desc d;
    memset(&d, 0, sizeof d);
    memset(&f, 0, sizeof f);
    d.start_paused = 2;
    f.mode = workloads[w].mode;
    f.k = workloads[w].k;
    f.rounds = (int)(n / f.k);
    if (async_runtime_init(&rt, &d) < 0) exit(1);
    if (async_runtime_block_on(&rt, &f.task, run, "bench") != 0) exit(1);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    int w, i;
    if (argc == 2 && strcmp(argv[1], "--icount-list") == 0) {
        for (w = 0; w < NW; w++)
            printf("%s 16000 32000 %s, per op added and completed\n", workloads[w].name,
                   workloads[w].what);
        return 0;
    }
    if (argc == 3) {
        for (w = 0; w < NW; w++)
            if (strcmp(argv[1], workloads[w].name) == 0) {
                one(w, atol(argv[2]));
                return 0;
            }
        printf("unknown workload %s\n", argv[1]);
        return 1;
    }
    printf("op set, median of %d runs, ns per op added and completed (lower is better)\n",
           RUNS);
    for (w = 0; w < NW; w++) {
        double t[RUNS];
        long n = 320000;
        for (i = 0; i < RUNS; i++) {
            double t0 = now_ns();
            one(w, n);
            t[i] = (now_ns() - t0) / (double)n;
        }
        qsort(t, RUNS, sizeof t[0], cmp_double);
        printf("  %-9s %8.1f   %s\n", workloads[w].name, t[RUNS / 2], workloads[w].what);
    }
    return 0;
}
