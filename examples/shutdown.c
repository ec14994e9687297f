/* shutdown.c - graceful shutdown: workers that follow a live configuration and stop
   cleanly, without losing work, when told to.

   Three workers each do a little work every 10 ms tick and commit it in batches. The
   configuration (units per tick, batch size) is an async_watch: main publishes new
   versions and every worker picks up the latest one at its next tick. Shutdown is an
   async_cancel_token tree: a root token with one child per worker. Cancelling one
   child stops one worker (scaling down); cancelling the root stops the rest.

   A worker can wait on only one thing at a time (this API has no select), and the
   thing that must interrupt its rest at once is the token, so the tick itself is
   ASYNC_AWAIT_TIMEOUT around async_cancel_token_wait: ASYNC_ETIMEDOUT means "tick, do
   some work", 0 means "cancelled, stop". At each tick the worker looks at the watch
   without blocking: when async_watch_has_changed says there is an unseen version,
   async_watch_wait_changed completes at once and marks it seen.

   However a worker ends, its ASYNC_CLEANUP runs: it flushes the partial batch (the
   drain), leaves the token tree and unsubscribes from the watch. Main joins every
   worker with async_task_join and checks that every unit produced was committed, that
   the workers still running saw the last configuration, and that the one stopped early
   did not. The last line says whether all of that holds. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { NWORKERS = 3, TICK_MS = 10 };

typedef struct { int version, per_tick, batch; } config;

static async_runtime rt;
static async_time t0;
static async_watch cfg_watch;
static async_cancel_token root;
static int produced;                /* units produced by all workers */
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t0) / 1e6; }

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
        fprintf(stderr, "shutdown: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- workers ---------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w_token, w_cfg;
    async_timer tick;
    async_watch_rx rx;
    async_cancel_token token;       /* a child of root, made by main before the spawn */
    config cfg;
    int id, rc, pending, committed, drained;
} worker_frame;

static int worker_run(async_task *t) {
    worker_frame *f = (worker_frame *)t;
    ASYNC_BEGIN(t);
    must(async_watch_subscribe(&cfg_watch, &f->rx), "async_watch_subscribe");
    async_watch_borrow_and_update(&f->rx, &f->cfg);
    printf("+%3.0f ms  worker %d: starts, config v%d\n", ms(), f->id, f->cfg.version);
    for (;;) {
        /* rest until the next tick, or until cancelled, whichever comes first */
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->tick, ASYNC_MS(TICK_MS),
                            async_cancel_token_wait(t, &f->token, &f->w_token));
        if (f->rc == 0) break;                    /* the token: stop */
        if (f->rc != ASYNC_ETIMEDOUT) {
            check(0, "the tick ends by timeout or by the token");
            break;
        }
        if (async_watch_has_changed(&f->rx) == 1) {
            ASYNC_AWAIT(f->rc, async_watch_wait_changed(t, &f->rx, &f->w_cfg)); /* at once */
            async_watch_borrow(&f->rx, &f->cfg);
            printf("+%3.0f ms  worker %d: picks up config v%d (%d per tick, batches of %d)\n",
                   ms(), f->id, f->cfg.version, f->cfg.per_tick, f->cfg.batch);
        }
        f->pending += f->cfg.per_tick;            /* one tick of work */
        produced += f->cfg.per_tick;
        if (f->pending >= f->cfg.batch) {
            f->committed += f->pending;
            f->pending = 0;
        }
    }
    printf("+%3.0f ms  worker %d: cancelled\n", ms(), f->id);
    ASYNC_CLEANUP();
    /* every way out comes through here: finish, cancel by token, or an abort */
    f->drained = f->pending;
    f->committed += f->pending;
    f->pending = 0;
    printf("+%3.0f ms  worker %d: cleanup flushes %d pending units, %d committed in all\n",
           ms(), f->id, f->drained, f->committed);
    async_watch_unsubscribe(&f->rx);
    check(async_cancel_token_destroy(&f->token) == 0, "nothing waits on the child token");
    ASYNC_END(f->committed);
}

/* ---- main ------------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_timer timer;
    worker_frame workers[NWORKERS];
    config cfg;
    async_time cancelled_at;
    int i, rc, total, drained;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    f->cfg.version = 1;
    f->cfg.per_tick = 1;
    f->cfg.batch = 3;
    must(async_watch_init(&cfg_watch, sizeof(config), NULL, &f->cfg), "async_watch_init");
    must(async_cancel_token_init(&root), "async_cancel_token_init");
    for (f->i = 0; f->i < NWORKERS; f->i++) {
        f->workers[f->i].id = f->i + 1;
        must(async_cancel_token_init_child(&root, &f->workers[f->i].token),
             "async_cancel_token_init_child");
        must(async_task_spawn(&rt, &f->workers[f->i].task, worker_run, "worker"),
             "async_task_spawn");
    }

    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(25)));
    f->cfg.version = 2;
    f->cfg.per_tick = 2;
    f->cfg.batch = 4;
    printf("+%3.0f ms  main: publishes config v2\n", ms());
    check(async_watch_send(&cfg_watch, &f->cfg) == 0, "config v2 sent");

    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
    printf("+%3.0f ms  main: scales down, cancels worker 3's token only\n", ms());
    async_cancel_token_cancel(&f->workers[2].token);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[2].task));
    f->total = f->rc;
    check(!async_cancel_token_is_cancelled(&root), "a child's cancel does not go up");

    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
    f->cfg.version = 3;
    f->cfg.per_tick = 3;
    f->cfg.batch = 5;
    printf("+%3.0f ms  main: publishes config v3\n", ms());
    check(async_watch_send(&cfg_watch, &f->cfg) == 0, "config v3 sent");

    /* Longer than a tick: each worker's next tick is due before main wakes, and timers
       fire in deadline order, so both see v3 before the cancel even after a stall. */
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(25)));
    printf("+%3.0f ms  main: shutdown, cancels the root token\n", ms());
    f->cancelled_at = async_time_now(&rt);
    async_cancel_token_cancel(&root);
    for (f->i = 0; f->i < 2; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[f->i].task));
        f->total += f->rc;
    }
    printf("+%3.0f ms  main: all workers joined %.2f ms after the cancel\n", ms(),
           (double)(async_time_now(&rt) - f->cancelled_at) / 1e6);

    f->drained = 0;
    for (f->i = 0; f->i < NWORKERS; f->i++) f->drained += f->workers[f->i].drained;
    printf("+%3.0f ms  main: %d workers drained: %d units produced, %d committed (%d by"
           " cleanup)\n", ms(), NWORKERS, produced, f->total, f->drained);
    check(f->total == produced, "every unit produced was committed");
    check(f->workers[0].cfg.version == 3 && f->workers[1].cfg.version == 3,
          "the workers still running saw the last config");
    check(f->workers[2].cfg.version < 3, "worker 3 stopped before config v3");
    async_watch_sender_release(&cfg_watch);
    async_watch_destroy(&cfg_watch);
    async_cancel_token_destroy(&root);
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t0 = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_destroy(&rt);
    if (rc != 0 || failures) {
        printf("shutdown: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("shutdown: ok, 3 workers stopped cleanly, no work lost\n");
    return 0;
}
