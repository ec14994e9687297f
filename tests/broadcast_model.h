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
   failed (broadcast_model_why says which). */
#ifndef BROADCAST_MODEL_H
#define BROADCAST_MODEL_H

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
    int fail_line;
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
        if (a->arg & 4) async_task_abort(&bm.act[(a->arg >> 3) % (BM_NS + BM_NR)].task);
        bm_invariants();
    }
    ASYNC_END(0);
}

static int broadcast_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    static const size_t caps[4] = {1, 2, 4, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j;
    memset(&bm, 0, sizeof bm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] / 4 % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    if (async_broadcast_init(&bm.b, sizeof(uint32_t), caps[len > 0 ? data[0] % 4 : 0], NULL))
        return __LINE__;
    async_broadcast_sender_clone(&bm.b);        /* one handle per sender */
    bm.senders = BM_NS;
    for (k = 0; k < BM_NACT; k++) {
        bm_actor *a = &bm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (BM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < BM_NS ? bm_sender
                                        : k < BM_NS + BM_NR ? bm_receiver : bm_controller,
                         "model");
    }
    async_runtime_run(&rt);
    BM_CHECK(!bm.b.q.head);                     /* senders never wait: all are done */
    bm_invariants();
    async_runtime_destroy(&rt);
    BM_CHECK(bm.b.receivers == 0 && bm.b.senders == 0 && !bm.b.q.head);
    BM_CHECK(async_broadcast_destroy(&bm.b) == 0);
    return bm.fail_line;
}

#endif
