/* demo.c - a tour of async.h on the real clock, in about a second and a half.

   1. three "fetches" awaited one after another, then the same three at once
   2. spawn and join: a task's result comes back through its join handle
   3. abort: a long task is cancelled, its cleanup runs, the joiner sees why
   4. an interval ticker, and what the Skip missed-tick behaviour does after a stall
   5. a timeout firing around a slow operation
   6. the task dump: every task, where it waits and on what

   Run it with `make demo`. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>

static async_runtime rt;
static async_time t_start;

static double ms_since(async_time t0) { return (double)(async_time_now(&rt) - t0) / 1e6; }

/* A nested async function: pretend to fetch something for `delay` ms. */
typedef struct { async_coro co; async_timer timer; int id; } fetch_frame;
static int fetch(async_task *t, fetch_frame *f, int id, int delay_ms) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    f->id = id;
    ASYNC_AWAIT(rc, async_sleep(t, &f->timer, ASYNC_MS(delay_ms)));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_END(f->id * 100);
}

/* The same fetch as a task of its own, so that several can run at once. */
typedef struct { async_task task; fetch_frame fetch; int id, delay_ms; } fetch_task;
static int fetch_task_run(async_task *t) {
    fetch_task *f = (fetch_task *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_CALL(rc, &f->fetch.co, fetch(t, &f->fetch, f->id, f->delay_ms));
    ASYNC_END(rc);
}

/* A long job that cleans up after itself however it ends. */
typedef struct { async_task task; async_timer timer; int rc; } long_job;
static int long_job_run(async_task *t) {
    long_job *f = (long_job *)t;
    ASYNC_BEGIN(t);
    printf("   long job: started, will take 10 s\n");
    ASYNC_AWAIT(f->rc, async_sleep(t, &f->timer, ASYNC_SEC(10)));
    printf("   long job: finished (not printed: it is aborted)\n");
    ASYNC_CLEANUP();
    printf("   long job: cleanup runs (%s)\n", ASYNC_IS_CANCELLED() ? "cancelled" : "done");
    ASYNC_END(1);
}

typedef struct {
    async_task task;
    async_timer timer, deadline;
    async_interval ticker;
    fetch_frame fetch;
    fetch_task workers[3];
    long_job job;
    async_time t0, when;
    int i, rc, sum;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);

    printf("1. sequential vs concurrent awaits (fetches of 100, 150 and 200 ms)\n");
    f->t0 = async_time_now(&rt);
    f->sum = 0;
    for (f->i = 1; f->i <= 3; f->i++) {
        ASYNC_AWAIT_CALL(f->rc, &f->fetch.co, fetch(t, &f->fetch, f->i, 50 + 50 * f->i));
        f->sum += f->rc;
    }
    printf("   sequential: sum %d in %.0f ms\n", f->sum, ms_since(f->t0));
    f->t0 = async_time_now(&rt);
    f->sum = 0;
    for (f->i = 0; f->i < 3; f->i++) {
        f->workers[f->i].id = f->i + 1;
        f->workers[f->i].delay_ms = 100 + 50 * f->i;
        async_task_spawn(&rt, &f->workers[f->i].task, fetch_task_run, "fetch");
    }
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[f->i].task));
        f->sum += f->rc;
    }
    printf("   concurrent: sum %d in %.0f ms (the longest one, not the total)\n",
           f->sum, ms_since(f->t0));

    printf("2. spawn and join\n");
    f->workers[0].id = 7;
    f->workers[0].delay_ms = 20;
    async_task_spawn(&rt, &f->workers[0].task, fetch_task_run, "worker");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[0].task));
    printf("   joined worker: result %d\n", f->rc);

    printf("3. abort\n");
    async_task_spawn(&rt, &f->job.task, long_job_run, "long-job");
    ASYNC_AWAIT(f->rc, async_sleep(t, &f->timer, ASYNC_MS(50)));
    printf("   aborting it after 50 ms\n");
    async_task_abort(&f->job.task);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->job.task));
    printf("   joiner sees: %s\n", async_strerror(f->rc));

    printf("4. interval of 50 ms, Skip missed ticks; the consumer stalls 120 ms after tick 1\n");
    async_interval_init(&f->ticker, ASYNC_MS(50), ASYNC_TICK_SKIP);
    f->t0 = async_time_now(&rt);
    for (f->i = 0; f->i < 5; f->i++) {
        ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->ticker, &f->when));
        printf("   tick %d: scheduled +%3.0f ms, seen at +%3.0f ms\n", f->i,
               (double)(f->when - f->t0) / 1e6, ms_since(f->t0));
        if (f->i == 1) ASYNC_AWAIT(f->rc, async_sleep(t, &f->timer, ASYNC_MS(120)));
    }

    printf("5. a timeout of 100 ms around a 300 ms operation\n");
    f->t0 = async_time_now(&rt);
    ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->deadline, ASYNC_MS(100),
                             &f->fetch.co, fetch(t, &f->fetch, 9, 300));
    printf("   result: %s after %.0f ms\n", async_strerror(f->rc), ms_since(f->t0));

    printf("6. the task dump, with two workers waiting\n");
    f->workers[1].id = 1;
    f->workers[1].delay_ms = 30;
    async_task_spawn(&rt, &f->workers[1].task, fetch_task_run, "worker-a");
    f->workers[2].id = 2;
    f->workers[2].delay_ms = 40;
    async_task_spawn(&rt, &f->workers[2].task, fetch_task_run, "worker-b");
    ASYNC_AWAIT(f->rc, async_sleep(t, &f->timer, ASYNC_MS(10)));
    async_dump(&rt, NULL, NULL);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[1].task));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[2].task));
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    async_stats st;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    async_runtime_init(&rt, NULL);
    t_start = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_stats(&rt, &st);
    printf("done in %.0f ms: %llu polls, %llu wakes, %llu timers fired, %llu tasks\n",
           ms_since(t_start), (unsigned long long)st.polls, (unsigned long long)st.wakes,
           (unsigned long long)st.timers_fired, (unsigned long long)st.spawned);
    async_runtime_destroy(&rt);
    return rc == 0 ? 0 : 1;
}
