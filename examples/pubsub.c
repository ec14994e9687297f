/* pubsub.c - publish/subscribe with async_broadcast: every subscriber sees every event,
   unless it falls too far behind.

   One publisher sends a burst of eight price updates on a broadcast channel that
   keeps the last four, yielding after each send (ASYNC_YIELD) so that the subscribers
   it woke run before the next one. Three subscribers read them: two keep up, the third
   ("slow") spends 20 ms on each event. By the time it comes back for its second event
   the ones it missed have been overwritten, so its recv returns ASYNC_ELAGGED once,
   rx->lagged says how many it lost, and it goes on from the oldest event still kept
   (Tokio's RecvError::Lagged). A lagging reader never slows the publisher or the
   other subscribers down.

   When the publisher releases its sender, each subscriber reads what is left for it
   and then gets ASYNC_ECLOSED. Each subscriber checks that every event is accounted
   for, in order: received, or counted in rx->lagged. The last line says whether that
   holds for all three. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { NEVENTS = 8, KEEP = 4, NSUBS = 3 };

typedef struct { int seq, price; } event;

static async_runtime rt;
static async_time t0;
static async_broadcast prices;
static event slots[KEEP];
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t0) / 1e6; }

static void check(int ok, const char *who, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED (%s): %s\n", who, what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "pubsub: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- subscribers -------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_broadcast_rx rx;
    const char *name;
    int delay_ms;                   /* time spent on each event */
    int received, lost, lags, expect, rc;
    event ev;
} sub_frame;

static int subscriber_run(async_task *t) {
    sub_frame *f = (sub_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_broadcast_recv(t, &f->rx, &f->w, &f->ev));
        if (f->rc == ASYNC_ELAGGED) {
            printf("+%3.0f ms  %-6s LAGGED: lost %d events, resumes at #%d\n", ms(), f->name,
                   (int)f->rx.lagged, f->expect + (int)f->rx.lagged);
            f->lags++;
            f->lost += (int)f->rx.lagged;
            f->expect += (int)f->rx.lagged;       /* the next one is the oldest kept */
            continue;
        }
        if (f->rc < 0) break;                     /* ASYNC_ECLOSED: the end */
        printf("+%3.0f ms  %-6s got #%d: %d\n", ms(), f->name, f->ev.seq, f->ev.price);
        check(f->ev.seq == f->expect, f->name, "events arrive in order, none skipped silently");
        f->expect = f->ev.seq + 1;
        f->received++;
        if (f->delay_ms) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(f->delay_ms)));
    }
    printf("+%3.0f ms  %-6s end of stream (%s): %d received, %d lost\n", ms(), f->name,
           async_strerror(f->rc), f->received, f->lost);
    check(f->rc == ASYNC_ECLOSED, f->name, "the stream ends with ASYNC_ECLOSED");
    check(f->received + f->lost == NEVENTS, f->name, "every event received or counted lost");
    async_broadcast_unsubscribe(&f->rx);
    ASYNC_END(f->received);
}

/* ---- the publisher ----------------------------------------------------------------------- */
typedef struct {
    async_task task;
    event ev;
    int i, rc;
} pub_frame;

static int publisher_run(async_task *t) {
    pub_frame *f = (pub_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < NEVENTS; f->i++) {
        f->ev.seq = f->i;
        f->ev.price = 100 + (f->i * 7) % 5;
        f->rc = async_broadcast_send(&prices, &f->ev);    /* never waits */
        printf("+%3.0f ms  publish #%d: %d (to %d subscribers)\n", ms(), f->ev.seq,
               f->ev.price, f->rc);
        check(f->rc == NSUBS, "publisher", "every subscriber is still there");
        ASYNC_YIELD();                            /* let the subscribers it woke run */
    }
    printf("+%3.0f ms  publisher done, releases its sender\n", ms());
    async_broadcast_sender_release(&prices);
    ASYNC_END(0);
}

/* ---- main ---------------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    pub_frame pub;
    sub_frame subs[NSUBS];
    int i, rc;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    static const struct { const char *name; int delay_ms; } who[NSUBS] = {
        {"fast-a", 0}, {"fast-b", 0}, {"slow", 20},
    };
    ASYNC_BEGIN(t);
    printf("broadcast keeping %d events; %d subscribers, one slow\n", KEEP, NSUBS);
    must(async_broadcast_init(&prices, sizeof(event), KEEP, slots), "async_broadcast_init");
    for (f->i = 0; f->i < NSUBS; f->i++) {
        sub_frame *s = &f->subs[f->i];
        s->name = who[f->i].name;
        s->delay_ms = who[f->i].delay_ms;
        must(async_broadcast_subscribe(&prices, &s->rx),  /* before anything is sent */
             "async_broadcast_subscribe");
        must(async_task_spawn(&rt, &s->task, subscriber_run, s->name), "async_task_spawn");
    }
    must(async_task_spawn(&rt, &f->pub.task, publisher_run, "publisher"), "async_task_spawn");

    ASYNC_AWAIT(f->rc, async_task_join(t, &f->pub.task));
    for (f->i = 0; f->i < NSUBS; f->i++)
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->subs[f->i].task));
    check(f->subs[0].received == NEVENTS && f->subs[1].received == NEVENTS, "fast",
          "the fast subscribers got everything");
    check(f->subs[2].lags >= 1 && f->subs[2].lost >= 1, "slow", "the slow one lagged");
    async_broadcast_destroy(&prices);
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
        printf("pubsub: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("pubsub: ok, fast subscribers saw all %d, the slow one lost %d and was told\n",
           NEVENTS, m.subs[2].lost);
    return 0;
}
