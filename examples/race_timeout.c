/* race_timeout.c - a hedged request: ask the primary; if it has not answered after
   20 ms, ask the secondary too; take whichever answers first; give up after 80 ms.

   Both replicas are the same nested async function, replica(). The secondary's first
   step is to wait out the hedge delay, so "start the secondary after 20 ms" is simply a
   branch of the race that begins with a sleep. The race is an ASYNC_SELECT of the two
   (ASYNC_SELECT_BRANCH_CALL each), biased so that the primary wins a tie; ASYNC_RACE2
   is the same race in fair order, for plain operations. The first to answer wins, and
   the select polls the other once in cancel mode: it unwinds through its ASYNC_CLEANUP,
   which says whether its request had been sent. The whole hedged call runs under
   ASYNC_AWAIT_CALL_TIMEOUT (tokio::time::timeout): when the timeout fires, the call is
   cancelled, and the select inside it cancels both replicas the same way. Nothing is
   left running after any of the three outcomes.

   Three scenarios: the primary answers in 5 ms (the secondary is never sent); the
   primary is overloaded (1 s) and the secondary, sent at 20 ms, answers 15 ms later;
   both are overloaded and the timeout fires at 80 ms with both requests abandoned.

   A replica's answer is due a fixed time after its request is due (deadlines from the
   start of the call), timers fire in deadline order, and the raced call is polled
   before its timeout is looked at; so the outcomes checked here hold by design however
   late this process gets the CPU (short of a stall of a whole second, the overloaded
   latency). One stall shows: if more than 5 ms pass between the start of the call and
   the primary's first wait (a slow printf, say), its answer is already due, the biased
   select takes it on that first poll and never starts the secondary at all. That still
   counts as "never sent". The last line says whether they all held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEDGE_MS = 20, TIMEOUT_MS = 80 };
enum { R_IDLE, R_WAITING, R_SENT, R_ANSWERED, R_CANCELLED_UNSENT, R_CANCELLED_SENT };

static async_runtime rt;
static async_time t_start;
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t_start) / 1e6; }

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
        fprintf(stderr, "race_timeout: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- a replica: wait `hedge_ms` (the secondary), send, answer `latency_ms` later ------- */
typedef struct {
    async_coro co;
    async_timer timer;
    const char *name;
    int hedge_ms, latency_ms, value, state;
} replica_frame;

static int replica(async_task *t, replica_frame *f, async_time start) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    if (f->hedge_ms) {
        f->state = R_WAITING;
        ASYNC_AWAIT(rc, async_time_sleep_until(t, &f->timer, start + ASYNC_MS(f->hedge_ms)));
        if (rc < 0) ASYNC_RETURN(rc);
        printf("+%3.0f ms  %-9s no answer yet after %d ms: hedged request sent\n", ms(),
               f->name, f->hedge_ms);
    } else {
        printf("+%3.0f ms  %-9s request sent\n", ms(), f->name);
    }
    f->state = R_SENT;
    ASYNC_AWAIT(rc, async_time_sleep_until(t, &f->timer,
                                           start + ASYNC_MS(f->hedge_ms + f->latency_ms)));
    if (rc < 0) ASYNC_RETURN(rc);
    f->state = R_ANSWERED;
    printf("+%3.0f ms  %-9s answers %d\n", ms(), f->name, f->value);
    ASYNC_RETURN(f->value);
    ASYNC_CLEANUP();
    if (async_task_is_cancelling(t)) {
        f->state = f->state == R_SENT ? R_CANCELLED_SENT : R_CANCELLED_UNSENT;
        printf("+%3.0f ms  %-9s cancelled: %s\n", ms(), f->name,
               f->state == R_CANCELLED_SENT ? "its request is abandoned"
                                            : "never sent, it was not needed");
    }
    ASYNC_END(0);
}

/* ---- the hedged call: a race of the two replicas ---------------------------------------- */
typedef struct {
    async_coro co;
    async_select sel;
    replica_frame primary, secondary;
    int rc[2], winner;
    async_time start;
} hedged_frame;

static int hedged(async_task *t, hedged_frame *f) {
    ASYNC_CORO_BEGIN(t, &f->co);
    f->start = async_time_now(&rt);
    f->winner = -1;
    ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
        ASYNC_SELECT_BRANCH_CALL(&f->sel, 0, 1, f->rc[0], &f->primary.co,
                                 replica(t, &f->primary, f->start));
        ASYNC_SELECT_BRANCH_CALL(&f->sel, 1, 1, f->rc[1], &f->secondary.co,
                                 replica(t, &f->secondary, f->start));
    ASYNC_SELECT_END(&f->sel);
    f->winner = f->sel.winner;          /* the loser has been cancelled by now */
    ASYNC_END(f->rc[f->winner]);
}

/* ---- main: three scenarios ------------------------------------------------------------- */
static const struct scenario {
    const char *title;
    int primary_ms, secondary_ms;       /* latencies; the secondary is sent at HEDGE_MS */
    int rc, winner;                     /* expected: the result and who gave it */
    int primary_end, secondary_end;     /* expected replica states */
} scenarios[] = {
    {"the primary answers in 5 ms", 5, 15, 101, 0, R_ANSWERED, R_CANCELLED_UNSENT},
    {"the primary is overloaded (1 s), the secondary answers in 15 ms", 1000, 15, 202, 1,
     R_CANCELLED_SENT, R_ANSWERED},
    {"both are overloaded (1 s and 500 ms)", 1000, 500, ASYNC_ETIMEDOUT, -1,
     R_CANCELLED_SENT, R_CANCELLED_SENT},
};

typedef struct {
    async_task task;
    async_timer deadline;
    hedged_frame h;
    int i, rc;
    async_time t0;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    printf("hedged request: the secondary is asked too after %d ms, timeout %d ms\n",
           HEDGE_MS, TIMEOUT_MS);
    for (f->i = 0; f->i < 3; f->i++) {
        memset(&f->h, 0, sizeof f->h);
        f->h.primary.name = "primary";
        f->h.primary.latency_ms = scenarios[f->i].primary_ms;
        f->h.primary.value = 101;
        f->h.secondary.name = "secondary";
        f->h.secondary.hedge_ms = HEDGE_MS;
        f->h.secondary.latency_ms = scenarios[f->i].secondary_ms;
        f->h.secondary.value = 202;
        printf("%d. %s\n", f->i + 1, scenarios[f->i].title);
        f->t0 = async_time_now(&rt);
        ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->deadline, ASYNC_MS(TIMEOUT_MS), &f->h.co,
                                 hedged(t, &f->h));
        if (f->rc >= 0)
            printf("   result %d from the %s after %.1f ms\n", f->rc,
                   f->h.winner == 0 ? "primary" : "secondary",
                   (double)(async_time_now(&rt) - f->t0) / 1e6);
        else
            printf("   result: %s after %.1f ms, both replicas cancelled\n",
                   async_strerror(f->rc), (double)(async_time_now(&rt) - f->t0) / 1e6);
        check(f->rc == scenarios[f->i].rc, "the expected result");
        check(f->h.winner == scenarios[f->i].winner, "the expected replica won");
        check(f->h.primary.state == scenarios[f->i].primary_end, "the primary ends as expected");
        {   /* never started (see the top) is unsent too */
            int sec = f->h.secondary.state == R_IDLE ? R_CANCELLED_UNSENT : f->h.secondary.state;
            check(sec == scenarios[f->i].secondary_end, "the secondary ends as expected");
        }
        if (f->rc == ASYNC_ETIMEDOUT)
            check(async_time_now(&rt) - f->t0 >= ASYNC_MS(TIMEOUT_MS), "no early timeout");
    }
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
        printf("race_timeout: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("race_timeout: ok, primary, then secondary, then the timeout won, and every loser"
           " was cancelled\n");
    return 0;
}
