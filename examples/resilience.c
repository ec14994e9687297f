/* resilience.c - retry with exponential backoff, a circuit breaker and a bulkhead in
   front of a flaky service.

   The service is a nested async function that answers in 2 ms. Whether a call fails
   depends only on how many calls have reached it: the first three fail (it is still
   starting), the next three succeed, the four after that fail (an outage), then it is
   healthy again. So what the service does is the same on every run, however the calls
   are timed.

   1. Retry: one call through ASYNC_RETRY_CALL with an async_backoff (base 5 ms, cap
      40 ms, at most 6 attempts, full jitter: each delay is uniform in [0, min(cap,
      base * 2^n)]). Every attempt prints how long it waited since the previous one
      failed; the fourth attempt succeeds and the retry returns its result.

   2. Circuit breaker: requests 4 ms apart through an async_breaker (3 failures in a
      row open it, 40 ms recovery, 1 trial call). The outage opens it; while it is open
      requests are rejected at once with ASYNC_EREJECTED and never reach the service;
      after the recovery time one trial call goes through (half-open). The first trial
      still fails and the breaker opens again; the second succeeds and closes it.

   3. Bulkhead: five requests arrive at once at an async_bulkhead that admits 2 at a
      time and lets 1 wait: two enter, one queues and enters when a slot frees, two are
      rejected at once with ASYNC_EREJECTED.

   Checks that hold by design: the retry succeeds on the 4th attempt; the breaker goes
   closed -> open -> half-open -> open -> half-open -> closed, and exactly the calls the
   schedule says reach the service; the bulkhead admits 2 + 1 and rejects 2. How many
   requests the open breaker rejects depends on timing (about nine a period; the check
   only needs one in its two periods of 40 ms). The last line says whether all of them held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static async_runtime rt;
static async_time t_start;
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t_start) / 1e6; }
static double ms_between(async_time a, async_time b) { return (double)(b - a) / 1e6; }

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
        fprintf(stderr, "resilience: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- the flaky service ----------------------------------------------------------------- */
static int service_calls;                   /* calls that reached it */

static int service_fails(int call) { return call <= 3 || (call >= 7 && call <= 10); }

typedef struct { async_coro co; async_timer timer; int call; } service_frame;

static int service(async_task *t, service_frame *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    f->call = ++service_calls;
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(2)));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_RETURN(service_fails(f->call) ? ASYNC_ETIMEDOUT : 100 + f->call);
    ASYNC_END(0);
}

/* ---- 1. retry: the attempt, a nested function that ASYNC_RETRY_CALL restarts ------------ */
typedef struct {
    async_coro co;
    service_frame svc;
    async_time failed_at;
    int attempt, rc;
} attempt_frame;

static int attempt(async_task *t, attempt_frame *f) {
    ASYNC_CORO_BEGIN(t, &f->co);
    f->attempt++;
    if (f->attempt == 1) {
        printf("+%3.0f ms  attempt 1\n", ms());
    } else {
        /* full jitter: the n-th delay is at most min(40, 5 * 2^(n-1)) ms */
        int cap = 5 << (f->attempt - 2);
        printf("+%3.0f ms  attempt %d after a backoff of %4.1f ms (drawn from 0..%d ms)\n",
               ms(), f->attempt, ms_between(f->failed_at, async_time_now(&rt)),
               cap > 40 ? 40 : cap);
    }
    ASYNC_AWAIT_CALL(f->rc, &f->svc.co, service(t, &f->svc));
    f->failed_at = async_time_now(&rt);
    if (f->rc < 0) printf("+%3.0f ms    failed: %s\n", ms(), async_strerror(f->rc));
    else printf("+%3.0f ms    succeeded: %d\n", ms(), f->rc);
    ASYNC_END(f->rc);
}

/* ---- 3. bulkhead clients ---------------------------------------------------------------- */
static async_bulkhead bulkhead;
static int bh_immediate, bh_queued, bh_rejected, bh_left;

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_time arrived;
    int id, rc, waited;
} bh_client;

static int bh_client_run(async_task *t) {
    bh_client *f = (bh_client *)t;
    ASYNC_BEGIN(t);
    f->arrived = async_time_now(&rt);
    ASYNC_AWAIT(f->rc, async_bulkhead_enter(t, &bulkhead, &f->w));
    if (f->rc < 0) {
        bh_rejected++;
        printf("+%3.0f ms  request %d: %s (%s)\n", ms(), f->id,
               f->rc == ASYNC_EREJECTED ? "ASYNC_EREJECTED at once" : "failed",
               async_strerror(f->rc));
        ASYNC_RETURN(f->rc);
    }
    f->waited = bh_left > 0;                /* it could only get in when one left */
    if (f->waited)
        printf("+%3.0f ms  request %d: in, after waiting %.1f ms in the queue\n", ms(), f->id,
               ms_between(f->arrived, async_time_now(&rt)));
    else
        printf("+%3.0f ms  request %d: in\n", ms(), f->id);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
    printf("+%3.0f ms  request %d: done, leaves\n", ms(), f->id);
    bh_left++;
    async_bulkhead_leave(&bulkhead);
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------ */
static const char *state_name(int s) {
    return s == ASYNC_BREAKER_CLOSED ? "closed" : s == ASYNC_BREAKER_OPEN ? "open" : "half-open";
}

typedef struct {
    async_task task;
    async_backoff backoff;
    async_timer timer;
    attempt_frame att;
    service_frame svc;
    async_breaker cb;
    bh_client clients[5];
    char transitions[128];
    int i, rc, state, rejected, rejected_total, closed_again, served, calls_before;
} main_frame;

/* Note a breaker state change. */
static void breaker_saw(main_frame *f, int now_state, const char *why) {
    if (now_state == f->state) return;
    if (f->state == ASYNC_BREAKER_OPEN)
        printf("           (%d requests rejected at once while it was open)\n", f->rejected);
    printf("+%3.0f ms  breaker: %s -> %s (%s)\n", ms(), state_name(f->state),
           state_name(now_state), why);
    f->state = now_state;
    f->rejected = 0;
    {
        size_t n = strlen(f->transitions);
        snprintf(f->transitions + n, sizeof f->transitions - n, " -> %s", state_name(now_state));
    }
}

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);

    printf("1. retry with exponential backoff and full jitter (base 5 ms, cap 40 ms, 6 tries)\n");
    must(async_backoff_init(&f->backoff, ASYNC_MS(5), ASYNC_MS(40), 6), "async_backoff_init");
    f->backoff.jitter = ASYNC_JITTER_FULL;
    ASYNC_RETRY_CALL(f->rc, &f->backoff, &f->timer, &f->att.co, attempt(t, &f->att));
    printf("   retry result: %d after %d attempts\n", f->rc, f->att.attempt);
    check(f->rc == 104 && f->att.attempt == 4, "the 4th attempt succeeds, and the retry stops");

    printf("2. circuit breaker: 3 failures open it for 40 ms, then 1 trial call\n");
    must(async_breaker_init(&f->cb, 3, ASYNC_MS(40), 1), "async_breaker_init");
    f->state = ASYNC_BREAKER_CLOSED;
    snprintf(f->transitions, sizeof f->transitions, "closed");
    f->calls_before = service_calls;
    for (f->i = 1; f->i <= 200 && f->served < 2; f->i++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(4)));
        breaker_saw(f, async_breaker_state(&f->cb, async_time_now(&rt)), "recovery time passed");
        if (async_breaker_allow(&f->cb, async_time_now(&rt)) < 0) {
            if (f->rejected++ == 0)
                printf("+%3.0f ms  request %d: ASYNC_EREJECTED at once, the service is not"
                       " called\n", ms(), f->i);
            f->rejected_total++;
            check(f->state == ASYNC_BREAKER_OPEN, "only an open breaker rejects here");
            continue;
        }
        ASYNC_AWAIT_CALL(f->rc, &f->svc.co, service(t, &f->svc));
        if (f->rc < 0) printf("+%3.0f ms  request %d: call %d failed: %s\n", ms(), f->i,
                              f->svc.call, async_strerror(f->rc));
        else printf("+%3.0f ms  request %d: call %d ok\n", ms(), f->i, f->svc.call);
        breaker_saw(f, async_breaker_record(&f->cb, async_time_now(&rt), f->rc),
                    f->state == ASYNC_BREAKER_HALF_OPEN
                        ? (f->rc < 0 ? "the trial failed" : "the trial succeeded")
                        : "3 failures in a row");
        if (f->state == ASYNC_BREAKER_CLOSED && f->closed_again) f->served++;
        if (f->state == ASYNC_BREAKER_OPEN) f->closed_again = 1;
    }
    printf("   breaker: %s\n", f->transitions);
    printf("   %d requests rejected in all, %d calls reached the service (calls 5 to 12)\n",
           f->rejected_total, service_calls - f->calls_before);
    check(strcmp(f->transitions, "closed -> open -> half-open -> open -> half-open -> closed")
          == 0, "the breaker goes through every state in order");
    check(service_calls - f->calls_before == 8, "rejected requests never reach the service");
    check(f->rejected_total >= 1, "an open breaker rejects requests at once");

    printf("3. bulkhead: 2 at a time, 1 may wait, 5 requests at once\n");
    must(async_bulkhead_init(&bulkhead, 2, 1), "async_bulkhead_init");
    for (f->i = 0; f->i < 5; f->i++) {
        f->clients[f->i].id = f->i + 1;
        must(async_task_spawn(&rt, &f->clients[f->i].task, bh_client_run, "client"),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < 5; f->i++)
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->clients[f->i].task));
    for (f->i = 0; f->i < 5; f->i++) {
        if (f->clients[f->i].rc == 0 && f->clients[f->i].waited) bh_queued++;
        else if (f->clients[f->i].rc == 0) bh_immediate++;
    }
    printf("   bulkhead: %d in at once, %d after waiting, %d rejected\n", bh_immediate, bh_queued,
           bh_rejected);
    check(bh_immediate == 2 && bh_queued == 1 && bh_rejected == 2, "2 enter, 1 waits, 2 rejected");
    check(f->clients[3].rc == ASYNC_EREJECTED && f->clients[4].rc == ASYNC_EREJECTED,
          "the last two are the ones rejected");
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
        printf("resilience: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("resilience: ok, retried to success, the breaker opened and closed again, the"
           " bulkhead shed the excess\n");
    return 0;
}
