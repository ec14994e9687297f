/* rate_limiter.c - a token bucket: bursts of up to B requests pass at once, beyond
   that requests are paced at R per second.

   The bucket is an async_semaphore whose free permits are the tokens; it starts full
   with B. A request acquires one permit and then forgets it (async_semaphore_forget_held:
   a held permit vanishes), which is taking a token out of the bucket for good. A
   refill task ticks R times a second on an async_interval and adds one permit with
   async_semaphore_add_permits, unless the bucket already holds B: the cap, so an idle
   period never saves up more than one burst. Waiting requests queue in FIFO order on
   the semaphore, and a refill goes straight to the oldest of them.

   Eight requests arrive at once with B = 3 and R = 100/s: three pass immediately,
   the other five follow one every 10 ms. Then, after 60 ms of idling, the bucket
   holds 3 tokens again, not 6. Timestamps are relative to the start. The requests
   check that none passed early (never ahead of the tokens supplied so far, never
   before the refill that paid for it could have happened) and that they passed in
   arrival order. The last line says whether all checks held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { BURST = 3, RATE = 100, NREQ = 8, IDLE_MS = 60 };
#define PERIOD (ASYNC_SEC(1) / RATE)

static async_runtime rt;
static async_time t0;
static async_semaphore bucket;
static int refills, discarded, consumed, passed;
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
        fprintf(stderr, "rate_limiter: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- the refill task: one token per period, capped at BURST -------------------------- */
typedef struct {
    async_task task;
    async_interval iv;
    async_time when;
    int rc;
} refill_frame;

static int refill_run(async_task *t) {
    refill_frame *f = (refill_frame *)t;
    ASYNC_BEGIN(t);
    /* first tick one period from the start: the bucket starts full */
    must(async_interval_init_until(&f->iv, t0 + PERIOD, PERIOD, ASYNC_TICK_BURST),
         "async_interval_init_until");
    for (;;) {
        ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->iv, &f->when));
        if (async_semaphore_available_permits(&bucket) < BURST) {
            async_semaphore_add_permits(&bucket, 1);  /* to the oldest waiter, if any */
            refills++;
        } else {
            discarded++;                              /* full: the token is dropped */
        }
    }
    ASYNC_END(0);                                     /* ends only by abort */
}

/* ---- requests --------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    int id, rc;
} request_frame;

static int request_run(async_task *t) {
    request_frame *f = (request_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_semaphore_acquire(t, &bucket, &f->w));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    async_semaphore_forget_held(&bucket, 1);          /* the token is spent */
    consumed++;
    printf("+%5.1f ms  request %d passes (%s)\n", ms(), f->id,
           refills == 0 ? "burst" : "paced");
    check(f->id == passed++, "requests pass in arrival order");
    check(consumed <= BURST + refills, "never more tokens spent than supplied");
    if (f->id >= BURST) {
        async_time earliest = t0 + (async_time)(f->id - BURST + 1) * PERIOD;
        check(async_time_now(&rt) >= earliest, "a paced request never passes early");
    } else {
        check(refills == 0, "the first BURST pass on the initial tokens");
    }
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_timer timer;
    refill_frame refill;
    request_frame reqs[NREQ];
    int i, rc, discarded_before;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    printf("token bucket: %d tokens, refilled at %d per second; %d requests at once\n", BURST,
           RATE, NREQ);
    must(async_semaphore_init(&bucket, BURST), "async_semaphore_init");
    must(async_task_spawn(&rt, &f->refill.task, refill_run, "refill"), "async_task_spawn");
    for (f->i = 0; f->i < NREQ; f->i++) {
        f->reqs[f->i].id = f->i;
        must(async_task_spawn(&rt, &f->reqs[f->i].task, request_run, "request"),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < NREQ; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->reqs[f->i].task));
        check(f->rc == 0, "every request passes");
    }
    printf("+%5.1f ms  all %d passed: %d on the initial burst, %d on refills\n", ms(), NREQ,
           BURST, refills);

    f->discarded_before = discarded;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(IDLE_MS)));
    printf("+%5.1f ms  after %d ms idle the bucket holds %d tokens (%d refills discarded:"
           " full)\n", ms(), IDLE_MS, (int)async_semaphore_available_permits(&bucket),
           discarded - f->discarded_before);
    check(async_semaphore_available_permits(&bucket) == BURST, "an idle bucket refills to the cap");
    check(discarded > f->discarded_before, "refills past the cap are discarded");

    async_task_abort(&f->refill.task);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->refill.task));
    printf("+%5.1f ms  refill task stopped (%s)\n", ms(), async_strerror(f->rc));
    check(f->rc == ASYNC_ECANCELED, "the refill task was aborted");
    check(passed == NREQ && consumed == NREQ, "every request took one token");
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
        printf("rate_limiter: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("rate_limiter: ok, a burst of %d, then paced at %d/s, capped at %d\n", BURST, RATE,
           BURST);
    return 0;
}
