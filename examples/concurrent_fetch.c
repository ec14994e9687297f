/* concurrent_fetch.c - three fetches awaited one after another, then joined so that
   they run at once, then a try_join in which one fetch fails and the rest are cancelled.

   A page needs a user, their posts and their comments. Each comes from the same nested
   async function, fetch(), which pretends to ask a server (a sleep of 30, 50 or 40 ms).
   Awaited one after another with ASYNC_AWAIT_CALL they take the sum of their latencies.
   Inside ASYNC_JOIN_BEGIN ... ASYNC_JOIN_BRANCH_CALL ... ASYNC_JOIN_END (tokio::join!)
   the three are in flight together, and the join takes as long as the slowest one.

   With ASYNC_JOIN_FAIL_FAST (tokio::try_join!) the first error stops the join. Here the posts
   server fails after 25 ms while the comments (a slow server, 1 s) are still in flight:
   the join polls that fetch once in cancel mode, it unwinds to its ASYNC_CLEANUP (which
   closes its connection and notes the time) and its result becomes ASYNC_ECANCELED. A
   fetch that had already finished keeps its result. The error is left in js.err, and
   since cleanup is synchronous it has run before the join returns.

   The checks hold however loaded the machine is: sequential fetches never overlap, the
   joined ones all start before any of them ends, nothing ends before its latency, the
   try_join reports the posts error, and every fetch it cancelled ran its cleanup before
   it returned. The last line says whether all of them held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static async_runtime rt;
static async_time t_start;
static int failures;

static double ms_at(async_time at) { return (double)(at - t_start) / 1e6; }
static double ms(void) { return ms_at(async_time_now(&rt)); }

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "concurrent_fetch: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- the fetch: a nested async function ------------------------------------------------ */
typedef struct {
    async_coro co;
    async_timer timer;
    const char *what;
    int latency_ms, value, error;       /* error < 0: the server fails after its latency */
    async_time started, ended;          /* ended: answered, failed or cancelled */
    int cancelled;
} fetch_frame;

static void fetch_setup(fetch_frame *f, const char *what, int latency_ms, int value, int error) {
    memset(f, 0, sizeof *f);
    f->what = what;
    f->latency_ms = latency_ms;
    f->value = value;
    f->error = error;
}

static int fetch(async_task *t, fetch_frame *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    f->started = async_time_now(&rt);
    printf("+%3.0f ms  %-8s request sent (answers in %d ms)\n", ms(), f->what, f->latency_ms);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(f->latency_ms)));
    if (rc < 0) ASYNC_RETURN(rc);
    f->ended = async_time_now(&rt);
    if (f->error < 0) {
        printf("+%3.0f ms  %-8s server error: %s\n", ms(), f->what, async_strerror(f->error));
        ASYNC_RETURN(f->error);
    }
    printf("+%3.0f ms  %-8s got %d\n", ms(), f->what, f->value);
    ASYNC_RETURN(f->value);
    ASYNC_CLEANUP();
    if (async_task_is_cancelling(t)) {  /* every way out passes here; only a cancel prints */
        f->cancelled = 1;
        f->ended = async_time_now(&rt);
        printf("+%3.0f ms  %-8s cancelled after %.1f ms: cleanup closes its connection\n",
               ms(), f->what, (double)(f->ended - f->started) / 1e6);
    }
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_join js;
    fetch_frame fx[3];
    int rc[3], i;
    async_time t0, t1;
} main_frame;

static const char *names[3] = {"user", "posts", "comments"};
static const int latency[3] = {30, 50, 40}, value[3] = {7, 3, 12};

static void setup_three(main_frame *f) {
    int i;
    for (i = 0; i < 3; i++) {
        fetch_setup(&f->fx[i], names[i], latency[i], value[i], 0);
        f->rc[i] = ASYNC_PENDING;
    }
}

/* Each fetch took at least its latency and returned its value. */
static void check_fetches(main_frame *f) {
    int i;
    for (i = 0; i < 3; i++) {
        check(f->rc[i] == f->fx[i].value, "each fetch returns its value");
        check(f->fx[i].ended - f->fx[i].started >= ASYNC_MS(f->fx[i].latency_ms),
              "no fetch answers before its latency");
    }
}

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);

    printf("1. sequential: three awaits, one after another\n");
    setup_three(f);
    f->t0 = async_time_now(&rt);
    for (f->i = 0; f->i < 3; f->i++)
        ASYNC_AWAIT_CALL(f->rc[f->i], &f->fx[f->i].co, fetch(t, &f->fx[f->i]));
    f->t1 = async_time_now(&rt);
    printf("   sequential: user %d, posts %d, comments %d in %.1f ms (30 + 50 + 40)\n",
           f->rc[0], f->rc[1], f->rc[2], (double)(f->t1 - f->t0) / 1e6);
    check_fetches(f);
    for (f->i = 1; f->i < 3; f->i++)
        check(f->fx[f->i].started >= f->fx[f->i - 1].ended, "sequential fetches do not overlap");
    check(f->t1 - f->t0 >= ASYNC_MS(30 + 50 + 40), "sequential takes at least the sum");

    printf("2. concurrent: the same three in one ASYNC_JOIN\n");
    setup_three(f);
    f->t0 = async_time_now(&rt);
    ASYNC_JOIN_BEGIN(&f->js, 3, 0);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rc[0], &f->fx[0].co, fetch(t, &f->fx[0]));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rc[1], &f->fx[1].co, fetch(t, &f->fx[1]));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 2, f->rc[2], &f->fx[2].co, fetch(t, &f->fx[2]));
    ASYNC_JOIN_END(&f->js);
    f->t1 = async_time_now(&rt);
    printf("   concurrent: user %d, posts %d, comments %d in %.1f ms (the slowest, 50)\n",
           f->rc[0], f->rc[1], f->rc[2], (double)(f->t1 - f->t0) / 1e6);
    check_fetches(f);
    check(f->js.err == 0, "a join without errors leaves js.err at 0");
    {
        async_time last_start = 0, first_end = ASYNC_TIME_NEVER;
        int i;
        for (i = 0; i < 3; i++) {
            if (f->fx[i].started > last_start) last_start = f->fx[i].started;
            if (f->fx[i].ended < first_end) first_end = f->fx[i].ended;
        }
        check(last_start <= first_end, "joined fetches are all in flight before any ends");
    }
    check(f->t1 - f->t0 >= ASYNC_MS(50), "the join waits for the slowest");

    printf("3. try_join: posts fails after 25 ms while comments (1 s) is still in flight\n");
    fetch_setup(&f->fx[0], "user", 10, 7, 0);
    fetch_setup(&f->fx[1], "posts", 25, 0, ASYNC_ECLOSED);
    fetch_setup(&f->fx[2], "comments", 1000, 12, 0);
    f->t0 = async_time_now(&rt);
    ASYNC_JOIN_BEGIN(&f->js, 3, ASYNC_JOIN_FAIL_FAST);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rc[0], &f->fx[0].co, fetch(t, &f->fx[0]));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rc[1], &f->fx[1].co, fetch(t, &f->fx[1]));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 2, f->rc[2], &f->fx[2].co, fetch(t, &f->fx[2]));
    ASYNC_JOIN_END(&f->js);
    f->t1 = async_time_now(&rt);
    printf("   try_join returned at +%.1f ms (%.1f ms in) with js.err = %s\n", ms_at(f->t1),
           (double)(f->t1 - f->t0) / 1e6, async_strerror(f->js.err));
    for (f->i = 0; f->i < 3; f->i++) {
        fetch_frame *x = &f->fx[f->i];
        if (x->cancelled)
            printf("   %-8s cancelled (%s), its cleanup finished at +%.1f ms\n", x->what,
                   async_strerror(f->rc[f->i]), ms_at(x->ended));
        else if (f->rc[f->i] < 0)
            printf("   %-8s failed: %s (the error that stopped the join)\n", x->what,
                   async_strerror(f->rc[f->i]));
        else
            printf("   %-8s result %d, finished before the error\n", x->what, f->rc[f->i]);
        /* a fetch was either cancelled, through its cleanup, before the join returned,
           or it finished on its own and kept its result */
        if (f->i == 1) continue;
        check(x->cancelled ? f->rc[f->i] == ASYNC_ECANCELED && x->ended <= f->t1
                           : f->rc[f->i] == x->value,
              "a sibling is cancelled through its cleanup, or keeps its result");
    }
    check(f->js.err == ASYNC_ECLOSED && f->rc[1] == ASYNC_ECLOSED, "the posts error stops it");
    check(f->fx[2].cancelled, "the 1 s comments fetch was cancelled, not waited for");
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t_start = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    check(async_runtime_destroy(&rt) == 0, "no task outlives main");
    if (rc != 0 || failures) {
        printf("concurrent_fetch: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("concurrent_fetch: ok, the join took the slowest fetch, not the sum, and try_join"
           " cancelled what was still in flight\n");
    return 0;
}
