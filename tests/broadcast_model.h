/* broadcast_model.h - a broadcast channel driven by a script of bytes, checked
   against what must hold whatever the script: shared by tests/test_chan.c (random
   scripts from a seed) and tests/fuzz/fuzz_broadcast.c (libFuzzer's). Include it
   after async.h.

   Two sender tasks (a handle each) and three receiver tasks share one channel of
   capacity 1, 2 or 4 on a paused clock with auto-advance, in FIFO or seeded random
   ready order, with a budget of 1-3 or the default. Senders send, yield or sleep;
   receivers subscribe, unsubscribe, receive (plainly, with a timeout, in a select
   against a sleep), try_recv, yield or sleep. A controller task aborts any of them.

   Items are numbered in the order sent. What must hold: send returns the number of
   subscribers (ASYNC_ENORECV with none, and then nothing is stored); a subscriber
   receives every item sent after it subscribed, in order, except that one that fell
   behind gets ASYNC_ELAGGED once, with `lagged` exactly the items it lost, and goes
   on from the oldest item kept; ASYNC_ECLOSED only once every sender is gone and it
   has read everything; ASYNC_EAGAIN only when nothing is new; after every
   operation, nobody waits while an item or the end is there for it; at the end no
   waiter, subscriber or handle is left.

   broadcast_model_run(data, len) returns 0, or the line of the first check that
   failed (broadcast_model_why says which).

   broadcast_model_run_shared(data, len) runs the same script across two runtimes
   (tests/xrt_model.h: stepped on one thread in a seeded order): the channel made with
   async_broadcast_init_shared, the senders on runtime 0, the receivers on runtime 1,
   the controller on either (a bit of the script); an abort of a task of the other
   runtime is asked for and done between two steps. The same checks hold. */
#ifndef BROADCAST_MODEL_H
#define BROADCAST_MODEL_H
#include "xrt_model.h"

enum { BM_NS = 2, BM_NR = 3, BM_NACT = BM_NS + BM_NR + 1, BM_OPS = 16 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    async_broadcast_rx rx;
    int i, n, op, arg, rc, rc1, subscribed, released;
    uint32_t item;
    uint64_t expect;                    /* the number of the next item it must see */
    uint8_t ops[BM_OPS];
} bm_actor;

static struct {
    async_broadcast b;
    bm_actor act[BM_NACT];
    uint32_t sent, receivers, senders;
    int fail_line, abort_req[BM_NACT];  /* across runtimes: aborts asked for */
    const char *why;
} bm;

static const char *broadcast_model_why(void) { return bm.why ? bm.why : ""; }

#define BM_CHECK(cond) do { \
        if (!(cond) && !bm.fail_line) { bm.fail_line = __LINE__; bm.why = #cond; } } while (0)

static void bm_invariants(void) {
    int k;
    BM_CHECK(bm.b.tail == bm.sent && bm.b.receivers == bm.receivers &&
             bm.b.senders == bm.senders);
    for (k = BM_NS; k < BM_NS + BM_NR; k++) {   /* a waiting receiver has nothing to see */
        const bm_actor *a = &bm.act[k];
        if (a->w.state == ASYNC__W_WAITING)
            BM_CHECK(a->subscribed && a->rx.next == bm.b.tail && bm.b.senders > 0);
    }
}

/* A receive gave rc (and a->item when 0). */
static void bm_got(bm_actor *a, int rc) {
    if (rc == 0) {
        BM_CHECK(a->item == (uint32_t)a->expect);
        a->expect++;
    } else if (rc == ASYNC_ELAGGED) {
        BM_CHECK(a->rx.lagged > 0);
        a->expect += a->rx.lagged;
        BM_CHECK(a->expect + bm.b.cap == bm.sent);      /* from the oldest kept */
    } else if (rc == ASYNC_ECLOSED) {
        BM_CHECK(bm.senders == 0 && a->expect == bm.sent);
    } else if (rc == ASYNC_EAGAIN) {
        BM_CHECK(bm.senders > 0 && a->expect == bm.sent);
    } else {
        BM_CHECK(rc == ASYNC_ETIMEDOUT);
    }
}

static int bm_sender(async_task *t) {
    bm_actor *a = (bm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 3;
        a->arg = a->ops[a->i] >> 2;
        if (a->op <= 1) {
            a->item = bm.sent;
            a->rc = async_broadcast_send(&bm.b, &a->item);
            if (a->rc == ASYNC_ENORECV) {
                BM_CHECK(bm.receivers == 0);
            } else {
                BM_CHECK(a->rc == (int)bm.receivers && bm.receivers > 0);
                bm.sent++;
            }
        } else if (a->op == 2) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        bm_invariants();
    }
    ASYNC_CLEANUP();
    if (!a->released) {
        a->released = 1;
        bm.senders--;
        BM_CHECK(async_broadcast_sender_release(&bm.b) == 0);
    }
    ASYNC_END(0);
}

static int bm_receiver(async_task *t) {
    bm_actor *a = (bm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        if (a->op == 0 && !a->subscribed) {
            BM_CHECK(async_broadcast_subscribe(&bm.b, &a->rx) == 0);
            a->subscribed = 1;
            a->expect = bm.sent;
            bm.receivers++;
        } else if (a->op == 1 && a->subscribed && (a->arg & 1)) {
            BM_CHECK(async_broadcast_unsubscribe(&a->rx) == 0);
            a->subscribed = 0;
            bm.receivers--;
        } else if (a->op >= 1 && a->op <= 4 && !a->subscribed) {
            BM_CHECK(async_broadcast_try_recv(&a->rx, &a->item) == ASYNC_EINVAL);
        } else if (a->op == 1 || a->op == 2) {
            ASYNC_AWAIT(a->rc, async_broadcast_recv(t, &a->rx, &a->w, &a->item));
            bm_got(a, a->rc);
        } else if (a->op == 3) {
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                async_broadcast_recv(t, &a->rx, &a->w, &a->item));
            bm_got(a, a->rc);
        } else if (a->op == 4) {
            ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 4) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                    async_broadcast_recv(t, &a->rx, &a->w, &a->item));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                    async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
            ASYNC_SELECT_END(&a->sel);
            if (a->sel.winner == 0) bm_got(a, a->rc);
        } else if (a->op == 5 && a->subscribed) {
            a->rc = async_broadcast_try_recv(&a->rx, &a->item);
            bm_got(a, a->rc);
        } else if (a->op == 6) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        bm_invariants();
    }
    ASYNC_CLEANUP();
    if (a->subscribed) {
        a->subscribed = 0;
        bm.receivers--;
        BM_CHECK(async_broadcast_unsubscribe(&a->rx) == 0);
    }
    ASYNC_END(0);
}

static int bm_controller(async_task *t) {
    bm_actor *a = (bm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->arg & 4) {
            int k = (a->arg >> 3) % (BM_NS + BM_NR);
            if (bm.act[k].task.rt != t->rt) bm.abort_req[k] = 1;    /* shared: later */
            else async_task_abort(&bm.act[k].task);
        }
        bm_invariants();
    }
    ASYNC_END(0);
}

#ifdef XRT_MODEL
static xrt_pair bm_pair;
static int bm_between(void) {           /* the aborts asked for across runtimes */
    int k, did = 0;
    for (k = 0; k < BM_NACT; k++) {
        if (bm.abort_req[k]) {
            bm.abort_req[k] = 0;
            async_task_abort(&bm.act[k].task);
            did = 1;
        }
    }
    return did;
}
#endif

static int bm_run(const uint8_t *data, size_t len, int shared) {
    static const int budgets[4] = {0, 1, 2, 3};
    static const size_t caps[4] = {1, 2, 4, 3};
    async_runtime rt, *rts[BM_NACT];
    async_runtime_desc d;
    size_t pos = 2, cap;
    int k, j, rc;
    memset(&bm, 0, sizeof bm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] / 4 % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    cap = caps[len > 0 ? data[0] % 4 : 0];
    for (k = 0; k < BM_NACT; k++) rts[k] = &rt;
#ifdef XRT_MODEL
    if (shared) {                               /* senders on 0, receivers on 1 */
        if (xrt_init(&bm_pair, &d, len > 1 ? data[1] : 0) < 0) return __LINE__;
        bm_pair.between = bm_between;
        for (k = 0; k < BM_NACT; k++)
            rts[k] = &bm_pair.rt[k < BM_NS ? 0 : k < BM_NS + BM_NR ? 1
                                 : (len > 0 ? data[0] / 16 % 2 : 0)];
        rc = async_broadcast_init_shared(&bm.b, sizeof(uint32_t), cap, NULL);
    } else
#endif
    {
        if (async_runtime_init(&rt, &d) != 0) return __LINE__;
        rc = async_broadcast_init(&bm.b, sizeof(uint32_t), cap, NULL);
    }
    if (rc != 0) {
#ifdef XRT_MODEL
        if (shared) xrt_destroy(&bm_pair);
        else
#endif
        async_runtime_destroy(&rt);
        return __LINE__;
    }
    async_broadcast_sender_clone(&bm.b);        /* one handle per sender */
    bm.senders = BM_NS;
    for (k = 0; k < BM_NACT; k++) {
        bm_actor *a = &bm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (BM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(rts[k], &a->task, k < BM_NS ? bm_sender
                                           : k < BM_NS + BM_NR ? bm_receiver : bm_controller,
                         "model");
    }
#ifdef XRT_MODEL
    if (shared) BM_CHECK(xrt_run(&bm_pair) == 0);       /* no spin, no wake lost */
    else
#endif
    async_runtime_run(&rt);
    BM_CHECK(!bm.b.q.head);                     /* senders never wait: all are done */
    bm_invariants();
#ifdef XRT_MODEL
    if (shared) xrt_destroy(&bm_pair);
    else
#endif
    async_runtime_destroy(&rt);
    BM_CHECK(bm.b.receivers == 0 && bm.b.senders == 0 && !bm.b.q.head);
    BM_CHECK(async_broadcast_destroy(&bm.b) == 0);
    return bm.fail_line;
}

static inline int broadcast_model_run(const uint8_t *data, size_t len) {
    return bm_run(data, len, 0);
}
#ifdef XRT_MODEL
static inline int broadcast_model_run_shared(const uint8_t *data, size_t len) {
    return bm_run(data, len, 1);
}
#endif

#endif
