/* demo.c - a tour of async.h on the real clock, in about a second and a half.

   1. three "fetches" awaited one after another, then the same three at once
   2. spawn and join: a task's result comes back through its join handle
   3. abort: a long task is cancelled, its cleanup runs, the joiner sees why
   4. an interval ticker, and what the Skip missed-tick behaviour does after a stall
   5. a timeout firing around a slow operation
   6. the task dump: every task, where it waits and on what
   7. channels: a bounded mpsc whose slow consumer holds back its producer, and a
      request answered through a oneshot
   8. a mutex shared by five tasks (FIFO), and a broadcast with a lagging subscriber
   9. graceful shutdown: workers watch a config value and stop on a cancel token
  10. combinators: a join against sequential awaits, a select with a timeout, a JoinSet
      reaping in completion order, a retry with backoff
  11. streams: map, filter and fold over an array; an interval as a stream, take(3)

   More in examples/: kv_actor, conn_pool, worker_pool, pubsub, shutdown, rate_limiter,
   concurrent_fetch, race_timeout, select_loop, signal_cancel, server_loop, resilience,
   streams, log_lines.
   Run this tour with `make demo`. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static async_runtime rt;
static async_time t_start;

static double ms_since(async_time t0) { return (double)(async_time_now(&rt) - t0) / 1e6; }

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "demo: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* A nested async function: pretend to fetch something for `delay` ms. */
typedef struct { async_coro co; async_timer timer; int id; } fetch_frame;
static int fetch(async_task *t, fetch_frame *f, int id, int delay_ms) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    f->id = id;
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(delay_ms)));
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
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(10)));
    printf("   long job: finished (not printed: it is aborted)\n");
    ASYNC_CLEANUP();
    printf("   long job: cleanup runs (%s)\n", async_task_is_cancelling(t) ? "cancelled" : "done");
    ASYNC_END(1);
}

/* 7. A producer that outruns its consumer: the channel (room for 2) slows it down. */
static async_mpsc pipe_ch;
static async_time pipe_t0;
typedef struct { async_task task; async_waiter w; async_timer timer; int i, item, rc; } pipe_frame;
static int producer(async_task *t) {
    pipe_frame *f = (pipe_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 1; f->i <= 5; f->i++) {
        f->item = f->i;
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &pipe_ch, &f->w, &f->item));
        printf("   +%3.0f ms  sent %d (%zu queued)\n", ms_since(pipe_t0), f->i,
               async_mpsc_len(&pipe_ch));
    }
    async_mpsc_sender_release(&pipe_ch);
    ASYNC_END(0);
}
static int consumer(async_task *t) {
    pipe_frame *f = (pipe_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &pipe_ch, &f->w, &f->item));
        if (f->rc < 0) break;
        printf("   +%3.0f ms  received %d, working 20 ms\n", ms_since(pipe_t0), f->item);
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(20)));
    }
    printf("   consumer: channel %s\n", async_strerror(f->rc));
    ASYNC_END(0);
}

/* A request answered through a oneshot in the requester's frame. */
typedef struct { int question; async_oneshot *reply; } request;
static async_mpsc req_ch;
typedef struct { async_task task; async_waiter w; request req; int answer, rc; } server_frame;
static int server(async_task *t) {
    server_frame *f = (server_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &req_ch, &f->w, &f->req));
        if (f->rc < 0) break;
        f->answer = f->req.question * 2;
        async_oneshot_send(f->req.reply, &f->answer);
    }
    ASYNC_END(0);
}

/* 8. Five tasks share a counter behind a FIFO mutex, holding it across an await. */
static async_mutex counter_lock;
static int counter;
typedef struct { async_task task; async_waiter w; async_timer timer; int id, rc, before; } lock_frame;
static int locker(async_task *t) {
    lock_frame *f = (lock_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_mutex_lock(t, &counter_lock, &f->w));
    f->before = counter;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(2))); /* held across an await */
    counter = f->before + 1;
    printf("   task %d: %d -> %d\n", f->id, f->before, counter);
    async_mutex_unlock(&counter_lock);
    ASYNC_END(0);
}

/* 9. Workers that follow a config value until their token is cancelled. */
static async_watch config;
static async_cancel_token root;
typedef struct {
    async_task task; async_waiter w; async_timer timer; async_watch_rx rx;
    async_cancel_token token; int id, rc, cfg, ticks;
} worker_frame;
static int worker(async_task *t) {
    worker_frame *f = (worker_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {                                  /* the token wait is the 10 ms tick */
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, ASYNC_MS(10),
                            async_cancel_token_wait(t, &f->token, &f->w));
        if (f->rc == 0) break;                  /* cancelled */
        f->ticks++;
        if (async_watch_has_changed(&f->rx) == 1) {
            async_watch_borrow_and_update(&f->rx, &f->cfg);
            printf("   worker %d: config is now %d\n", f->id, f->cfg);
        }
    }
    ASYNC_CLEANUP();
    printf("   worker %d: stopping after %d ticks, cleanup done\n", f->id, f->ticks);
    async_watch_unsubscribe(&f->rx);
    async_cancel_token_destroy(&f->token);
    ASYNC_END(0);
}

/* 10. A call that fails twice, then succeeds: for the retry. */
typedef struct { async_coro co; async_timer timer; async_time failed_at; int calls; } flaky_frame;
static int flaky(async_task *t, flaky_frame *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    if (f->calls++ == 0) printf("   attempt 1 at once");
    else printf("   attempt %d after a backoff of %.1f ms", f->calls, ms_since(f->failed_at));
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(2)));
    if (rc < 0) ASYNC_RETURN(rc);
    f->failed_at = async_time_now(&rt);
    rc = f->calls < 3 ? ASYNC_ETIMEDOUT : 42;
    printf(": %s\n", rc < 0 ? async_strerror(rc) : "ok");
    ASYNC_END(rc);
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
    pipe_frame prod, cons;
    server_frame srv;
    async_waiter w;
    async_oneshot reply;
    request req;
    lock_frame lockers[5];
    async_broadcast news;
    async_broadcast_rx slow;
    worker_frame staff[2];
    async_join js;
    async_select sel;
    fetch_frame fx[3];
    int rcs[3], bad;
    async_joinset set;
    fetch_task members[4];
    async_task *got;
    char order[32];
    async_backoff backoff;
    flaky_frame fl;
    async_stream_iter nums;
    async_stream_map squares;
    async_stream_filter evens;
    async_stream_sink sink;
    int scratch, item;
    long long total;
    async_stream_interval ticks;
    async_stream_count three;
} main_frame;

/* 11. Streams: plain functions for map, filter and fold. */
static const int numbers[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static void square(const void *in, void *out, void *user) {
    (void)user;
    *(int *)out = *(const int *)in * *(const int *)in;
}
static int is_even(const void *item, void *user) {
    (void)user;
    return *(const int *)item % 2 == 0;
}
static int add(void *acc, const void *item, void *user) {
    (void)user;
    *(long long *)acc += *(const int *)item;
    return 0;
}

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
        must(async_task_spawn(&rt, &f->workers[f->i].task, fetch_task_run, "fetch"),
             "async_task_spawn");
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
    must(async_task_spawn(&rt, &f->workers[0].task, fetch_task_run, "worker"), "async_task_spawn");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[0].task));
    printf("   joined worker: result %d\n", f->rc);

    printf("3. abort\n");
    must(async_task_spawn(&rt, &f->job.task, long_job_run, "long-job"), "async_task_spawn");
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(50)));
    printf("   aborting it after 50 ms\n");
    async_task_abort(&f->job.task);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->job.task));
    printf("   joiner sees: %s\n", async_strerror(f->rc));

    printf("4. interval of 50 ms, Skip missed ticks; the consumer stalls 120 ms after tick 1\n");
    must(async_interval_init(&f->ticker, ASYNC_MS(50), ASYNC_TICK_SKIP), "async_interval_init");
    f->t0 = async_time_now(&rt);
    for (f->i = 0; f->i < 5; f->i++) {
        ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->ticker, &f->when));
        printf("   tick %d: scheduled +%3.0f ms, seen at +%3.0f ms\n", f->i,
               (double)(f->when - f->t0) / 1e6, ms_since(f->t0));
        if (f->i == 1) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(120)));
    }

    printf("5. a timeout of 100 ms around a 300 ms operation\n");
    f->t0 = async_time_now(&rt);
    ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->deadline, ASYNC_MS(100),
                             &f->fetch.co, fetch(t, &f->fetch, 9, 300));
    printf("   result: %s after %.0f ms\n", async_strerror(f->rc), ms_since(f->t0));

    printf("6. the task dump, with two workers waiting\n");
    f->workers[1].id = 1;
    f->workers[1].delay_ms = 30;
    must(async_task_spawn(&rt, &f->workers[1].task, fetch_task_run, "worker-a"),
         "async_task_spawn");
    f->workers[2].id = 2;
    f->workers[2].delay_ms = 40;
    must(async_task_spawn(&rt, &f->workers[2].task, fetch_task_run, "worker-b"),
         "async_task_spawn");
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
    async_runtime_dump(&rt, NULL, NULL);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[1].task));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[2].task));

    printf("7. a bounded channel (room for 2): the producer waits for the slow consumer\n");
    must(async_mpsc_init(&pipe_ch, sizeof(int), 2, NULL), "async_mpsc_init");
    pipe_t0 = async_time_now(&rt);
    must(async_task_spawn(&rt, &f->prod.task, producer, "producer"), "async_task_spawn");
    must(async_task_spawn(&rt, &f->cons.task, consumer, "consumer"), "async_task_spawn");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->cons.task));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->prod.task));
    async_mpsc_destroy(&pipe_ch);
    printf("   a request answered through a oneshot: ");
    must(async_mpsc_init(&req_ch, sizeof(request), 4, NULL), "async_mpsc_init");
    must(async_task_spawn(&rt, &f->srv.task, server, "server"), "async_task_spawn");
    must(async_oneshot_init(&f->reply, sizeof(int), NULL), "async_oneshot_init");
    f->req.question = 21;
    f->req.reply = &f->reply;
    ASYNC_AWAIT(f->rc, async_mpsc_send(t, &req_ch, &f->w, &f->req));
    ASYNC_AWAIT(f->rc, async_oneshot_recv(t, &f->reply, &f->w, &f->sum));
    printf("21 * 2 = %d\n", f->sum);
    async_mpsc_sender_release(&req_ch);         /* the server sees the end and stops */
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->srv.task));
    async_oneshot_destroy(&f->reply);
    async_mpsc_destroy(&req_ch);

    printf("8. five tasks, one mutex held across an await: no update is lost\n");
    for (f->i = 0; f->i < 5; f->i++) {
        f->lockers[f->i].id = f->i;
        must(async_task_spawn(&rt, &f->lockers[f->i].task, locker, "locker"), "async_task_spawn");
    }
    for (f->i = 0; f->i < 5; f->i++) ASYNC_AWAIT(f->rc, async_task_join(t, &f->lockers[f->i].task));
    printf("   a broadcast keeping 2 items; a subscriber that reads late has lagged: ");
    must(async_broadcast_init(&f->news, sizeof(int), 2, NULL), "async_broadcast_init");
    must(async_broadcast_subscribe(&f->news, &f->slow), "async_broadcast_subscribe");
    for (f->i = 1; f->i <= 5; f->i++) async_broadcast_send(&f->news, &f->i);
    f->rc = async_broadcast_try_recv(&f->slow, &f->sum);
    printf("%s (lost %llu), ", async_strerror(f->rc), (unsigned long long)f->slow.lagged);
    async_broadcast_try_recv(&f->slow, &f->sum);
    printf("then it reads item %d\n", f->sum);
    async_broadcast_unsubscribe(&f->slow);
    async_broadcast_destroy(&f->news);

    printf("9. graceful shutdown: two workers follow a config, then a cancel stops them\n");
    f->sum = 1;
    must(async_watch_init(&config, sizeof(int), NULL, &f->sum), "async_watch_init");
    must(async_cancel_token_init(&root), "async_cancel_token_init");
    for (f->i = 0; f->i < 2; f->i++) {
        f->staff[f->i].id = f->i + 1;
        must(async_watch_subscribe(&config, &f->staff[f->i].rx), "async_watch_subscribe");
        must(async_cancel_token_init_child(&root, &f->staff[f->i].token),
             "async_cancel_token_init_child");
        must(async_task_spawn(&rt, &f->staff[f->i].task, worker, "worker"), "async_task_spawn");
    }
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(25)));
    f->sum = 2;
    async_watch_send(&config, &f->sum);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(25)));
    printf("   main: cancelling the root token\n");
    async_cancel_token_cancel(&root);
    for (f->i = 0; f->i < 2; f->i++) ASYNC_AWAIT(f->rc, async_task_join(t, &f->staff[f->i].task));
    async_watch_destroy(&config);
    async_cancel_token_destroy(&root);

    printf("10. combinators\n");
    f->t0 = async_time_now(&rt);
    for (f->i = 1; f->i <= 3; f->i++)
        ASYNC_AWAIT_CALL(f->rc, &f->fx[0].co, fetch(t, &f->fx[0], f->i, 10 * f->i));
    printf("   fetches of 10, 20 and 30 ms: sequential %.0f ms, ", ms_since(f->t0));
    f->t0 = async_time_now(&rt);
    ASYNC_JOIN_BEGIN(&f->js, 3, 0);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rcs[0], &f->fx[0].co, fetch(t, &f->fx[0], 1, 10));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rcs[1], &f->fx[1].co, fetch(t, &f->fx[1], 2, 20));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 2, f->rcs[2], &f->fx[2].co, fetch(t, &f->fx[2], 3, 30));
    ASYNC_JOIN_END(&f->js);
    printf("ASYNC_JOIN %.0f ms (results %d %d %d)\n", ms_since(f->t0), f->rcs[0], f->rcs[1],
           f->rcs[2]);
    f->bad += f->rcs[0] + f->rcs[1] + f->rcs[2] != 600;

    for (f->i = 10; f->i <= 60; f->i += 50) {   /* a fetch of 10, then 60 ms, timer 25 ms */
        f->t0 = async_time_now(&rt);
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH_CALL(&f->sel, 0, 1, f->rcs[0], &f->fx[0].co,
                                     fetch(t, &f->fx[0], 1, f->i));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rcs[1],
                                async_time_sleep(t, &f->timer, ASYNC_MS(25)));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0)
            printf("   select { fetch of %d ms, 25 ms timer }: the fetch won (%d)\n", f->i,
                   f->rcs[0]);
        else
            printf("   select { fetch of %d ms, 25 ms timer }: the timer won after %.0f ms,"
                   " the fetch was cancelled\n", f->i, ms_since(f->t0));
        f->bad += f->sel.winner != (f->i == 10 ? 0 : 1);
    }

    must(async_joinset_init(&f->set, &rt), "async_joinset_init");
    for (f->i = 0; f->i < 4; f->i++) {
        static const int delay_ms[4] = {30, 10, 40, 20};
        f->members[f->i].id = f->i + 1;
        f->members[f->i].delay_ms = delay_ms[f->i];
        must(async_joinset_spawn(&f->set, &f->members[f->i].task, fetch_task_run, "member"),
             "async_joinset_spawn");
    }
    for (;;) {
        ASYNC_AWAIT(f->rc, async_joinset_join_next(t, &f->set, &f->w, &f->got, &f->sum));
        if (f->rc < 0) break;                   /* ASYNC_ECLOSED: all reaped */
        snprintf(f->order + strlen(f->order), sizeof f->order - strlen(f->order), " %d",
                 f->sum / 100);
    }
    printf("   JoinSet: tasks 1 to 4 take 30, 10, 40, 20 ms; reaped in completion order:%s\n",
           f->order);
    f->bad += strcmp(f->order, " 2 4 1 3") != 0;
    async_joinset_destroy(&f->set);

    must(async_backoff_init(&f->backoff, ASYNC_MS(5), ASYNC_MS(20), 5),  /* full jitter */
         "async_backoff_init");
    ASYNC_RETRY_CALL(f->rc, &f->backoff, &f->timer, &f->fl.co, flaky(t, &f->fl));
    printf("   retry with backoff: %d after %d attempts\n", f->rc, f->fl.calls);
    f->bad += f->rc != 42;

    printf("11. streams, pulled item by item, nothing allocated\n");
    must(async_stream_iter_init(&f->nums, numbers, sizeof(int), 10), "async_stream_iter_init");
    must(async_stream_map_init(&f->squares, &f->nums.base, sizeof(int), square, NULL,
                               &f->scratch), "async_stream_map_init");
    must(async_stream_filter_init(&f->evens, &f->squares.base, is_even, NULL),
         "async_stream_filter_init");
    ASYNC_AWAIT(f->rc, async_stream_fold(t, &f->evens.base, &f->sink, &f->total, add, NULL,
                                         &f->item));
    printf("   1..10 -> map(square) -> filter(even) -> fold(+): %lld from %d items\n",
           f->total, (int)f->sink.count);
    f->bad += f->rc != 0 || f->total != 220 || f->sink.count != 5;
    must(async_interval_init(&f->ticker, ASYNC_MS(30), ASYNC_TICK_SKIP), "async_interval_init");
    must(async_stream_interval_init(&f->ticks, &f->ticker), "async_stream_interval_init");
    must(async_stream_take_init(&f->three, &f->ticks.base, 3), "async_stream_take_init");
    f->t0 = async_time_now(&rt);
    for (f->i = 0;; f->i++) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->three.base, &f->when));
        if (f->rc != ASYNC_ITEM) break;
        printf("   interval(30 ms).take(3): tick at +%.0f ms\n", ms_since(f->t0));
    }
    printf("   then the stream ends (%d items)\n", f->i);
    f->bad += f->i != 3;
    ASYNC_END(f->bad);
}

int main(void) {
    static main_frame m;
    async_stats st;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t_start = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_stats(&rt, &st);
    printf("done in %.0f ms: %llu polls, %llu wakes, %llu timers fired, %llu tasks\n",
           ms_since(t_start), (unsigned long long)st.polls, (unsigned long long)st.wakes,
           (unsigned long long)st.timers_fired, (unsigned long long)st.spawned);
    async_runtime_destroy(&rt);
    return rc == 0 ? 0 : 1;
}
