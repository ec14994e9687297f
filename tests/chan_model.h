/* chan_model.h - an mpsc channel driven by a script of bytes, checked against what
   must hold whatever the script: shared by tests/test_chan.c (random scripts from a
   seed) and tests/fuzz/fuzz_chan.c (libFuzzer's). Include it after async.h.

   Up to 3 sender tasks and 2 receiver tasks share one channel (bounded, capacity
   1-4, or unbounded) on a paused clock with auto-advance, in FIFO or seeded random
   ready order, with a budget of 1-3 or the default. Each task runs its own list of
   operations from the script: senders send (untyped, typed, with a timeout, in a
   select against a sleep),
   reserve then send or give the permit back (across a yield), try_send, yield or
   sleep; receivers receive (untyped, typed, with a timeout, recv_many, try_recv,
   in a select against a sleep, fair or biased), yield or sleep. A controller task
   sleeps and aborts any of them, or closes the channel. Cancellation thus reaches
   every wait: by abort, by timeout and by a lost select.

   What must hold: every item taken was sent once and is taken once; every item
   sent is taken by a receiver or left in the channel (drained at the end); one
   sender's items are taken in the order it sent them; a plain send never succeeds
   after the close; ECLOSED only when nothing is buffered, no sender is left (or it
   was closed) and no permit is out; when nothing can run any more, no receiver
   waits on an ended or non-empty channel and no sender waits while a slot is free;
   at the end no permit, waiter or sender handle is left and destroy succeeds; and
   after every operation: an item or the end has woken every waiting receiver, a
   free slot has gone to the first waiting sender, a close has failed them all.

   chan_model_run(data, len) returns 0, or the line of the first check that failed
   (chan_model_why says which).

   chan_model_run_shared(data, len) runs the same script across two runtimes
   (tests/xrt_model.h: stepped on one thread in a seeded order): the channel made with
   async_mpsc_init_shared, the senders on runtime 0, the receivers on runtime 1, the
   controller on either (a bit of the script); an abort of a task of the other
   runtime is asked for and done between two steps, as the owner of that runtime
   would. The same checks hold. */
#ifndef CHAN_MODEL_H
#define CHAN_MODEL_H
#include "xrt_model.h"

enum { CM_NS = 3, CM_NR = 2, CM_NACT = CM_NS + CM_NR + 1, CM_OPS = 16, CM_SEQ = 64,
       CM_LOG = CM_NS * CM_SEQ };

ASYNC_MPSC_TYPED(cm_ints, int)

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int id, i, n, op, arg, rc, rc1, item, seq, held, released, many[4];
    uint8_t ops[CM_OPS];
} cm_actor;

static struct {
    async_mpsc c;
    cm_actor act[CM_NACT];
    int ns, nr, nlog, fail_line;
    int shared, abort_req[CM_NACT];     /* across runtimes: aborts asked for */
    const char *why;
    unsigned char sent[CM_NS][CM_SEQ], taken[CM_NS][CM_SEQ];
    int log[CM_LOG + 16];
} cm;

static const char *chan_model_why(void) { return cm.why ? cm.why : ""; }

#define CM_CHECK(cond) do { \
        if (!(cond) && !cm.fail_line) { cm.fail_line = __LINE__; cm.why = #cond; } } while (0)

/* What holds between any two polls: an item wakes every receiver, and the end
   too; a free slot goes to the first waiting sender at once; a close fails every
   waiting sender. */
static void cm_invariants(void) {
    const async_mpsc *c = &cm.c;
    int ended = c->len == 0 && c->used == 0 && (c->senders == 0 || c->rx_closed);
    CM_CHECK(c->used >= c->len);
    CM_CHECK(!c->recv_q.head || (c->len == 0 && !ended));
    CM_CHECK(!c->send_q.head || (c->cap && c->used >= c->cap && !c->rx_closed));
}

/* A send finished with rc: a success records the item (a plain send must not
   succeed once the receiver has closed; a reserved one may). */
static void cm_sent(cm_actor *a, int rc, int reserved) {
    if (rc == 0) {
        CM_CHECK(reserved || !cm.c.rx_closed);
        cm.sent[a->id][a->seq] = 1;
    }
    a->seq++;
}

/* A receive finished with rc, taking n items (in the order taken). */
static void cm_got(int rc, const int *items, int n) {
    int k;
    if (rc == ASYNC_ECLOSED)
        CM_CHECK(cm.c.len == 0 && cm.c.used == 0 && (cm.c.senders == 0 || cm.c.rx_closed));
    for (k = 0; k < n; k++) {
        CM_CHECK(cm.nlog < CM_LOG);
        if (cm.nlog < CM_LOG) cm.log[cm.nlog++] = items[k];
    }
}

static int cm_sender(async_task *t) {
    cm_actor *a = (cm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->item = a->id << 16 | a->seq;
        a->rc = 0;
        if (a->op == 0) {
            ASYNC_AWAIT(a->rc, async_mpsc_send(t, &cm.c, &a->w, &a->item));
            cm_sent(a, a->rc, 0);
        } else if (a->op == 1) {
            ASYNC_AWAIT(a->rc, cm_ints_send(t, &cm.c, &a->w, &a->item));
            cm_sent(a, a->rc, 0);
        } else if (a->op == 2 && !(a->arg & 8)) {
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                async_mpsc_send(t, &cm.c, &a->w, &a->item));
            cm_sent(a, a->rc, 0);
        } else if (a->op == 2) {                /* a send that may lose a select */
            ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 4) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                    async_mpsc_send(t, &cm.c, &a->w, &a->item));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                    async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
            ASYNC_SELECT_END(&a->sel);
            if (a->sel.winner == 0) cm_sent(a, a->rc, 0);
            else a->rc = 0, a->seq++;
        } else if (a->op == 3 || a->op == 4) {
            ASYNC_AWAIT(a->rc, async_mpsc_reserve(t, &cm.c, &a->w));
            if (a->rc == 0) {
                a->held = 1;
                if (a->arg & 1) ASYNC_YIELD();
                a->held = 0;
                if (a->op == 3) {
                    a->rc = async_mpsc_send_reserved(&cm.c, &a->item);
                    CM_CHECK(a->rc == 0);
                    cm_sent(a, a->rc, 1);
                } else {
                    CM_CHECK(async_mpsc_release_reserved(&cm.c) == 0);
                }
            }
        } else if (a->op == 5) {
            a->rc = async_mpsc_try_send(&cm.c, &a->item);
            CM_CHECK(a->rc == 0 || a->rc == ASYNC_EAGAIN || a->rc == ASYNC_ECLOSED);
            cm_sent(a, a->rc, 0);
        } else if (a->op == 6) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        cm_invariants();
        if (a->rc == ASYNC_ECLOSED) break;
        CM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT || a->rc == ASYNC_EAGAIN);
    }
    ASYNC_CLEANUP();
    if (a->held) {                              /* aborted holding a permit */
        CM_CHECK(async_mpsc_release_reserved(&cm.c) == 0);
        a->held = 0;
    }
    if (!a->released) {
        CM_CHECK(async_mpsc_sender_release(&cm.c) == 0);
        a->released = 1;
    }
    ASYNC_END(0);
}

static int cm_receiver(async_task *t) {
    cm_actor *a = (cm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->rc = 0;
        if (a->op == 0) {
            ASYNC_AWAIT(a->rc, async_mpsc_recv(t, &cm.c, &a->w, &a->item));
            cm_got(a->rc, &a->item, a->rc == 0);
        } else if (a->op == 1) {
            ASYNC_AWAIT(a->rc, cm_ints_recv(t, &cm.c, &a->w, &a->item));
            cm_got(a->rc, &a->item, a->rc == 0);
        } else if (a->op == 2) {
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                async_mpsc_recv(t, &cm.c, &a->w, &a->item));
            cm_got(a->rc, &a->item, a->rc == 0);
        } else if (a->op == 3) {
            ASYNC_AWAIT(a->rc, async_mpsc_recv_many(t, &cm.c, &a->w, a->many,
                                                    (size_t)(1 + a->arg % 4)));
            CM_CHECK(a->rc != 0 && a->rc <= 1 + a->arg % 4);
            cm_got(a->rc < 0 ? a->rc : 0, a->many, a->rc > 0 ? a->rc : 0);
            if (a->rc > 0) a->rc = 0;
        } else if (a->op == 4) {
            a->rc = async_mpsc_try_recv(&cm.c, &a->item);
            cm_got(a->rc, &a->item, a->rc == 0);
        } else if (a->op == 5) {
            ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 1) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                    async_mpsc_recv(t, &cm.c, &a->w, &a->item));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                    async_time_sleep(t, &a->timer, ASYNC_MS(a->arg / 2 % 4)));
            ASYNC_SELECT_END(&a->sel);
            if (a->sel.winner == 0) cm_got(a->rc, &a->item, a->rc == 0);
            else a->rc = 0;
        } else if (a->op == 6) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        cm_invariants();
        if (a->rc == ASYNC_ECLOSED) break;
        CM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT || a->rc == ASYNC_EAGAIN);
    }
    ASYNC_END(0);
}

/* Sleeps, then aborts a task or closes the channel. */
static int cm_controller(async_task *t) {
    cm_actor *a = (cm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 3;
        a->arg = a->ops[a->i] >> 2;
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->op == 1) {
            int k = a->arg % (cm.ns + cm.nr);
            k = k < cm.ns ? k : CM_NS + k - cm.ns;
            if (cm.act[k].task.rt != t->rt) cm.abort_req[k] = 1;    /* shared: later */
            else async_task_abort(&cm.act[k].task);
        } else if (a->op == 2) {
            CM_CHECK(async_mpsc_close(&cm.c) == 0);
        }
        cm_invariants();
    }
    ASYNC_END(0);
}

#ifdef XRT_MODEL
static xrt_pair cm_pair;
static int cm_between(void) {           /* the aborts asked for across runtimes */
    int k, did = 0;
    for (k = 0; k < CM_NACT; k++) {
        if (cm.abort_req[k]) {
            cm.abort_req[k] = 0;
            async_task_abort(&cm.act[k].task);
            did = 1;
        }
    }
    return did;
}
#endif

static int cm_run(const uint8_t *data, size_t len, int shared) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt, *rts[CM_NACT];
    async_runtime_desc d;
    size_t pos = 3;
    int k, j, item, capacity, rc;
#define CM_BYTE() (pos < len ? data[pos++] : 0)
    memset(&cm, 0, sizeof cm);
    memset(&d, 0, sizeof d);
    cm.shared = shared;
    capacity = len > 0 ? data[0] % 5 : 1;
    d.budget = budgets[len > 0 ? data[0] / 5 % 4 : 0];
    cm.ns = 1 + (len > 1 ? data[1] % CM_NS : 0);
    cm.nr = 1 + (len > 1 ? data[1] / CM_NS % CM_NR : 0);
    d.seed = len > 2 ? data[2] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    for (k = 0; k < CM_NACT; k++) rts[k] = &rt;
#ifdef XRT_MODEL
    if (shared) {                               /* senders on 0, receivers on 1 */
        if (xrt_init(&cm_pair, &d, len > 2 ? data[2] : 0) < 0) return __LINE__;
        cm_pair.between = cm_between;
        for (k = 0; k < CM_NACT; k++)
            rts[k] = &cm_pair.rt[k < CM_NS ? 0 : k < CM_NS + CM_NR ? 1
                                 : (len > 1 ? data[1] / (CM_NS * CM_NR) % 2 : 0)];
        rc = async_mpsc_init_shared(&cm.c, sizeof(int), (size_t)capacity, NULL);
    } else
#endif
    {
        if (async_runtime_init(&rt, &d) != 0) return __LINE__;
        rc = async_mpsc_init(&cm.c, sizeof(int), (size_t)capacity, NULL);
    }
    if (rc != 0) {
#ifdef XRT_MODEL
        if (shared) xrt_destroy(&cm_pair);
        else
#endif
        async_runtime_destroy(&rt);
        return __LINE__;
    }
    for (k = 1; k < cm.ns; k++) async_mpsc_sender_clone(&cm.c);     /* one handle each */
    for (k = 0; k < CM_NACT; k++) {
        cm_actor *a = &cm.act[k];
        async_task_fn fn = k < CM_NS ? cm_sender : k < CM_NS + CM_NR ? cm_receiver
                                                                     : cm_controller;
        if ((k < CM_NS && k >= cm.ns) || (k >= CM_NS && k < CM_NS + CM_NR &&
                                          k - CM_NS >= cm.nr))
            continue;
        a->id = k;
        a->n = CM_BYTE() % (CM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = CM_BYTE();
        async_task_spawn(rts[k], &a->task, fn, "model");
    }
#undef CM_BYTE
#ifdef XRT_MODEL
    if (shared) CM_CHECK(xrt_run(&cm_pair) == 0);       /* no spin, no wake lost */
    else
#endif
    async_runtime_run(&rt);
    /* Nothing can run any more. A receiver cannot be waiting then: a sender still
       there is blocked on a full channel, or each is gone and recv must have ended.
       A sender may wait, but only for a slot that is taken. */
    CM_CHECK(!cm.c.recv_q.head);
    CM_CHECK(!cm.c.send_q.head || cm.c.used >= cm.c.cap);
#ifdef XRT_MODEL
    if (shared) xrt_destroy(&cm_pair);          /* aborts what is left: cleanups run */
    else
#endif
    async_runtime_destroy(&rt);                 /* aborts what is left: cleanups run */
    while (async_mpsc_try_recv(&cm.c, &item) == 0) cm_got(0, &item, 1);
    CM_CHECK(async_mpsc_try_recv(&cm.c, &item) == ASYNC_ECLOSED);   /* every sender gone */
    for (k = 0; k < cm.nlog; k++) {
        int id = cm.log[k] >> 16, seq = cm.log[k] & 0xffff, prev;
        CM_CHECK(id >= 0 && id < cm.ns && seq < CM_SEQ);
        if (id < 0 || id >= cm.ns || seq >= CM_SEQ) break;
        CM_CHECK(cm.sent[id][seq]);             /* sent, and */
        CM_CHECK(!cm.taken[id][seq]);           /* taken once */
        cm.taken[id][seq] = 1;
        for (prev = seq + 1; prev < CM_SEQ; prev++)     /* in the sender's order */
            CM_CHECK(!cm.taken[id][prev]);
    }
    for (k = 0; k < cm.ns; k++)
        for (j = 0; j < CM_SEQ; j++) CM_CHECK(cm.sent[k][j] == cm.taken[k][j]);
    CM_CHECK(cm.c.used == 0 && cm.c.len == 0 && cm.c.senders == 0);
    CM_CHECK(!cm.c.send_q.head && !cm.c.recv_q.head && !cm.c.closed_q.head);
    CM_CHECK(async_mpsc_destroy(&cm.c) == 0);
    return cm.fail_line;
}

static inline int chan_model_run(const uint8_t *data, size_t len) {
    return cm_run(data, len, 0);
}
#ifdef XRT_MODEL
static inline int chan_model_run_shared(const uint8_t *data, size_t len) {
    return cm_run(data, len, 1);
}
#endif

#endif
