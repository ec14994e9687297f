/* select_model.h - receivers that select over two mpsc channels (and a sleep),
   driven by a script of bytes: shared by tests/test_comb.c (random scripts from a
   seed) and tests/fuzz/fuzz_select.c (libFuzzer's). Include it after async.h.

   Two sender tasks (a handle on each channel) send to one channel or the other
   (untyped or typed, or with a timeout), yield or sleep; two receiver tasks wait in
   a select whose branches receive from channel 0 and channel 1 (untyped, typed, or
   recv_many) and, if the script says so, sleep; fair or biased; a guard may
   disable a branch. A controller aborts any task or closes a channel. Channels
   hold 1-3 items (or are unbounded); FIFO or seeded random ready order; budgets of
   1-3 or the default.

   What must hold: an item is taken only by the branch that wins (a losing branch
   never takes one: each item taken is logged once, by the winner), and the losing
   branches leave no waiter queued; every item sent
   arrives exactly once and in its sender's order on its channel, and after every
   operation nobody waits on a channel that has an item or has ended; at the end
   nothing is left queued or leaked.

   select_model_run(data, len) returns 0, or the line of the first check that failed
   (select_model_why says which). */
#ifndef SELECT_MODEL_H
#define SELECT_MODEL_H

enum { SL_NS = 2, SL_NR = 2, SL_NACT = SL_NS + SL_NR + 1, SL_OPS = 16, SL_SEQ = 64 };

ASYNC_MPSC_TYPED(sl_ints, int)

typedef struct {
    async_task task;
    async_waiter w[2];
    async_timer timer;
    async_select sel;
    int id, i, n, op, arg, rc[3], item[2], many[2][3], seq, released, ch;
    uint8_t ops[SL_OPS];
} sl_actor;

static struct {
    async_mpsc c[2];
    sl_actor act[SL_NACT];
    unsigned char sent[SL_NS][SL_SEQ], taken[SL_NS][SL_SEQ], chan_of[SL_NS][SL_SEQ];
    int log[SL_NS * SL_SEQ + 8], nlog;
    int fail_line;
    const char *why;
} sl;

static const char *select_model_why(void) { return sl.why ? sl.why : ""; }

#define SL_CHECK(cond) do { \
        if (!(cond) && !sl.fail_line) { sl.fail_line = __LINE__; sl.why = #cond; } } while (0)

static void sl_invariants(void) {
    int k;
    for (k = 0; k < 2; k++) {
        const async_mpsc *c = &sl.c[k];
        int ended = c->len == 0 && c->used == 0 && (c->senders == 0 || c->rx_closed);
        SL_CHECK(!c->recv_q.head || (c->len == 0 && !ended));
        SL_CHECK(!c->send_q.head || (c->cap && c->used >= c->cap && !c->rx_closed));
    }
}

static void sl_take(int item) {
    SL_CHECK(sl.nlog < SL_NS * SL_SEQ);
    if (sl.nlog < SL_NS * SL_SEQ) sl.log[sl.nlog++] = item;
}

static int sl_sender(async_task *t) {
    sl_actor *a = (sl_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n && a->seq < SL_SEQ; a->i++) {
        a->op = a->ops[a->i] & 3;
        a->arg = a->ops[a->i] >> 2;
        a->ch = a->arg & 1;
        a->item[0] = a->id << 16 | a->seq;
        a->rc[0] = 0;
        if (a->op == 0) {
            ASYNC_AWAIT(a->rc[0], async_mpsc_send(t, &sl.c[a->ch], &a->w[0], &a->item[0]));
        } else if (a->op == 1) {
            ASYNC_AWAIT(a->rc[0], sl_ints_send(t, &sl.c[a->ch], &a->w[0], &a->item[0]));
        } else if (a->op == 2) {
            ASYNC_AWAIT_TIMEOUT(a->rc[0], &a->timer, ASYNC_MS(a->arg / 2 % 4),
                                async_mpsc_send(t, &sl.c[a->ch], &a->w[0], &a->item[0]));
        } else if (a->arg & 2) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc[0], async_time_sleep(t, &a->timer, ASYNC_MS(a->arg / 4 % 4)));
        }
        if (a->op <= 2) {
            if (a->rc[0] == 0) {
                sl.sent[a->id][a->seq] = 1;
                sl.chan_of[a->id][a->seq] = (unsigned char)a->ch;
            }
            a->seq++;
        }
        SL_CHECK(a->rc[0] == 0 || a->rc[0] == ASYNC_ETIMEDOUT || a->rc[0] == ASYNC_ECLOSED);
        sl_invariants();
    }
    ASYNC_CLEANUP();
    if (!a->released) {
        a->released = 1;
        SL_CHECK(async_mpsc_sender_release(&sl.c[0]) == 0);
        SL_CHECK(async_mpsc_sender_release(&sl.c[1]) == 0);
    }
    ASYNC_END(0);
}

/* Branch k of the select: how it receives from channel k. */
static int sl_branch(async_task *t, sl_actor *a, int k) {
    int how = a->arg >> (2 * k) & 3;
    if (how == 0) return async_mpsc_recv(t, &sl.c[k], &a->w[k], &a->item[k]);
    if (how == 1) return sl_ints_recv(t, &sl.c[k], &a->w[k], &a->item[k]);
    return async_mpsc_recv_many(t, &sl.c[k], &a->w[k], a->many[k], (size_t)how);
}

static int sl_receiver(async_task *t) {
    sl_actor *a = (sl_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 3;
        a->arg = a->ops[a->i] >> 2;
        if (a->op == 3) {
            ASYNC_YIELD();
        } else {
            a->rc[0] = a->rc[1] = a->rc[2] = 0;
            ASYNC_SELECT_BEGIN(&a->sel, 3, (a->op & 1) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, !(a->arg & 16) || a->op != 2, a->rc[0],
                                    sl_branch(t, a, 0));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc[1], sl_branch(t, a, 1));
                ASYNC_SELECT_BRANCH(&a->sel, 2, (a->arg & 32) != 0, a->rc[2],
                                    async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
            ASYNC_SELECT_END(&a->sel);
            /* the losers were cancelled: no waiter of this select is left queued */
            SL_CHECK(a->w[0].state != ASYNC__W_WAITING && a->w[1].state != ASYNC__W_WAITING);
            if (a->sel.winner == 0 || a->sel.winner == 1) {
                int k = a->sel.winner, rc = a->rc[k], j;
                if (rc == ASYNC_ECLOSED) {
                    const async_mpsc *c = &sl.c[k];
                    SL_CHECK(c->len == 0 && c->used == 0 && (c->senders == 0 || c->rx_closed));
                    break;                      /* one channel ended: this receiver stops */
                }
                SL_CHECK(rc >= 0);
                if ((a->arg >> (2 * k) & 3) >= 2) {
                    SL_CHECK(rc >= 1 && rc <= (a->arg >> (2 * k) & 3));
                    for (j = 0; j < rc; j++) sl_take(a->many[k][j]);
                } else {
                    SL_CHECK(rc == 0);
                    sl_take(a->item[k]);
                }
            }
        }
        sl_invariants();
    }
    ASYNC_END(0);
}

static int sl_controller(async_task *t) {
    sl_actor *a = (sl_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc[0], async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->arg & 4) async_task_abort(&sl.act[(a->arg >> 3) % (SL_NS + SL_NR)].task);
        else if ((a->arg & 0x38) == 0x38) SL_CHECK(async_mpsc_close(&sl.c[a->arg >> 6 & 1]) == 0);
        sl_invariants();
    }
    ASYNC_END(0);
}

static int select_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j, item;
    memset(&sl, 0, sizeof sl);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    for (k = 0; k < 2; k++) {
        if (async_mpsc_init(&sl.c[k], sizeof(int), (size_t)(len > 0 ? data[0] / 4 % 4 : 1),
                            NULL) != 0) {               /* out of memory: nothing kept */
            while (k--) async_mpsc_destroy(&sl.c[k]);
            async_runtime_destroy(&rt);
            return __LINE__;
        }
        async_mpsc_sender_clone(&sl.c[k]);      /* a handle per sender */
    }
    for (k = 0; k < SL_NACT; k++) {
        sl_actor *a = &sl.act[k];
        a->id = k;
        a->n = (pos < len ? data[pos++] : 0) % (SL_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < SL_NS ? sl_sender
                                        : k < SL_NS + SL_NR ? sl_receiver : sl_controller,
                         "model");
    }
    async_runtime_run(&rt);
    sl_invariants();        /* a receiver may still wait: a guard can leave it one
                               channel that nobody sends to any more */
    async_runtime_destroy(&rt);
    for (k = 0; k < 2; k++) {
        while (async_mpsc_try_recv(&sl.c[k], &item) == 0) sl_take(item);
        SL_CHECK(async_mpsc_try_recv(&sl.c[k], &item) == ASYNC_ECLOSED);
    }
    for (k = 0; k < sl.nlog; k++) {
        int id = sl.log[k] >> 16, seq = sl.log[k] & 0xffff, later;
        SL_CHECK(id >= 0 && id < SL_NS && seq < SL_SEQ);
        if (id < 0 || id >= SL_NS || seq >= SL_SEQ) break;
        SL_CHECK(sl.sent[id][seq] && !sl.taken[id][seq]);       /* sent, taken once */
        sl.taken[id][seq] = 1;
        for (later = seq + 1; later < SL_SEQ; later++)          /* in order per channel */
            if (sl.chan_of[id][later] == sl.chan_of[id][seq]) SL_CHECK(!sl.taken[id][later]);
    }
    for (k = 0; k < SL_NS; k++)
        for (j = 0; j < SL_SEQ; j++) SL_CHECK(sl.sent[k][j] == sl.taken[k][j]);
    for (k = 0; k < 2; k++) {
        SL_CHECK(sl.c[k].used == 0 && sl.c[k].senders == 0);
        SL_CHECK(async_mpsc_destroy(&sl.c[k]) == 0);
    }
    return sl.fail_line;
}

#endif
