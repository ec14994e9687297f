/* opset_model.h - an op set (async_opset) driven by a script of bytes, checked against
   a model of its ops: shared by tests/test_opset.c (random scripts from a seed) and
   tests/fuzz/fuzz_opset.c (libFuzzer's). Include it after async.h.

   An owner task on a paused clock with auto-advance (FIFO or seeded random ready
   order, a budget of 1-3 or the default) runs a list of actions on one set of 2-5
   slots, unordered or ordered: push a sleep, a receive from a shared mpsc, a join of
   a worker task it spawns, or a nested async function (a sleep, then a receive);
   next (plainly, with a timeout, in a select against a sleep); clear. Then it takes
   every op left with next until the set is empty. A sender task sends numbered items
   (each send with a timeout: a cancelled send sends nothing), then releases its
   sender; a controller aborts the owner or a worker after a while.

   What must hold: next gives each op at most once, with the result of its last poll,
   ordered in push order; an op is never polled after it completed, nor after it left
   the set, and is polled in cancel mode only if it was polled before; a sleep never
   completes before its deadline; len follows the model; after a clear (and when the
   owner ends, in next or in its cleanup) no op of the set has a timer armed or a
   waiter queued; every item sent is taken once (by a receive that completed, even
   one whose result a clear dropped, or left in the channel), and in order.

   opset_model_run(data, len) returns 0, or the line of the first check that failed
   (opset_model_why says which). */
#ifndef OPSET_MODEL_H
#define OPSET_MODEL_H

enum { OM_NS = 6, OM_NW = 4, OM_OPS = 24, OM_ITEMS = 32 };
enum { OM_FREE, OM_INSET };

typedef struct {
    async_coro co;
    async_timer timer;
    async_waiter w;
    async_time deadline;
    int kind, seq, worker, item, state, polled, finished, last_rc;
} om_op;

typedef struct {
    async_task task;
    async_timer timer;
    int id, ms, i;
} om_worker;

typedef struct {
    async_task task;
    async_timer timer;
    async_waiter w;
    async_select sel;
    async_opset set;
    async_opset_slot slots[5];
    void *state;
    int i, n, op, arg, rc, rc1, result, cap;
    uint8_t ops[OM_OPS];
} om_owner;

typedef struct {
    async_task task;
    async_timer timer;
    async_waiter w;
    int i, n, item, rc, released;
    uint8_t ops[OM_OPS];
} om_aux;

static struct {
    async_mpsc ch;
    om_op op[OM_NS];
    om_worker wk[OM_NW];
    om_owner o;
    om_aux sender, ctl;
    int ordered, seq, last_seq, len, nsent;
    unsigned char sent[OM_ITEMS], taken[OM_ITEMS];
    int take_log[OM_ITEMS + 4], ntaken;
    int fail_line;
    const char *why;
} om;

static const char *opset_model_why(void) { return om.why ? om.why : ""; }

#define OM_CHECK(cond) do { \
        if (!(cond) && !om.fail_line) { om.fail_line = __LINE__; om.why = #cond; } } while (0)

static void om_take(int item) {
    OM_CHECK(item >= 0 && item < OM_ITEMS);
    if (item < 0 || item >= OM_ITEMS) return;
    OM_CHECK(om.sent[item] && !om.taken[item]);
    om.taken[item] = 1;
    if (om.ntaken < OM_ITEMS) om.take_log[om.ntaken++] = item;
}

/* Ops that left the set: nothing armed, nothing queued. */
static void om_unlinked(void) {
    int k;
    for (k = 0; k < OM_NS; k++) {
        if (om.op[k].state == OM_INSET) continue;
        OM_CHECK(om.op[k].timer.state != ASYNC__TM_ARMED);
        OM_CHECK(om.op[k].w.state != ASYNC__W_WAITING);
    }
    OM_CHECK(om.o.set.slots == NULL || async_opset_len(&om.o.set) == om.len);
}

static int om_nested(async_task *t, om_op *s) {
    int rc;
    ASYNC_CORO_BEGIN(t, &s->co);
    ASYNC_AWAIT(rc, async_time_sleep_until(t, &s->timer, s->deadline));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_AWAIT(rc, async_mpsc_recv(t, &om.ch, &s->w, &s->item));
    if (rc == 0) om_take(s->item);
    ASYNC_END(rc == 0 ? 1000 + s->item : rc);
}

static int om_poll(async_task *t, void *p) {
    om_op *s = (om_op *)p;
    int cancelling = async_task_is_cancelling(t), rc;
    OM_CHECK(s->state == OM_INSET);                     /* still in the set */
    OM_CHECK(!s->finished);                             /* never polled once complete */
    OM_CHECK(!cancelling || s->polled);                 /* cancel only what started */
    s->polled = 1;
    if (s->kind == 0) {
        rc = async_time_sleep_until(t, &s->timer, s->deadline);
        if (rc == 0) {
            OM_CHECK(async_time_now(t->rt) >= s->deadline);
            rc = s->seq;
        }
    } else if (s->kind == 1) {
        rc = async_mpsc_recv(t, &om.ch, &s->w, &s->item);
        if (rc == 0) {
            om_take(s->item);
            rc = 1000 + s->item;
        }
    } else if (s->kind == 2) {
        rc = async_task_join(t, &om.wk[s->worker].task);
    } else {
        rc = om_nested(t, s);
    }
    OM_CHECK(!cancelling || rc < 0);
    if (rc != ASYNC_PENDING) {
        s->finished = 1;
        s->last_rc = rc;
    }
    return rc;
}

static int om_worker_run(async_task *t) {
    om_worker *w = (om_worker *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &w->timer, ASYNC_MS(w->ms)));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_END(2000 + w->id);
}

/* The set dropped everything (clear, or next in an aborted task): the model too. */
static void om_dropped(void) {
    int k;
    for (k = 0; k < OM_NS; k++) om.op[k].state = OM_FREE;
    om.len = 0;
    om_unlinked();
}

static void om_push(async_task *t, om_owner *o) {
    int k, kind = o->arg & 3, ms = o->arg >> 2 & 3, rc;
    om_op *s = NULL;
    for (k = 0; k < OM_NS; k++)
        if (om.op[k].state == OM_FREE) { s = &om.op[k]; break; }
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->deadline = async_time_now(t->rt) + ASYNC_MS(ms);
    if (kind == 2) {                                    /* a worker to join */
        for (k = 0; k < OM_NW; k++) {                   /* finished, and no op joins it */
            int j, busy = 0;
            for (j = 0; j < OM_NS; j++)
                busy |= om.op[j].state == OM_INSET && om.op[j].kind == 2 && om.op[j].worker == k;
            if (!busy && (om.wk[k].task.state == ASYNC_TASK_IDLE ||
                          om.wk[k].task.state == ASYNC_TASK_DONE))
                break;
        }
        if (k == OM_NW) return;
        memset(&om.wk[k], 0, sizeof om.wk[k]);
        om.wk[k].id = k;
        om.wk[k].ms = ms;
        if (async_task_spawn(t->rt, &om.wk[k].task, om_worker_run, "worker") < 0) return;
        s->worker = k;
    }
    rc = async_opset_push(&o->set, om_poll, s);
    if (om.len == (int)o->cap) {
        OM_CHECK(rc == ASYNC_EAGAIN);
        return;
    }
    OM_CHECK(rc >= 0 && rc < o->cap);
    if (rc < 0) return;
    s->seq = ++om.seq;
    s->state = OM_INSET;
    om.len++;
}

/* next gave rc (and the op's state and result) */
static void om_got(om_owner *o) {
    om_op *s;
    if (o->rc == ASYNC_ECLOSED) {
        OM_CHECK(om.len == 0);
        return;
    }
    if (o->rc < 0) return;                              /* timed out, cancelled */
    s = (om_op *)o->state;
    OM_CHECK(s >= om.op && s < om.op + OM_NS);
    if (s < om.op || s >= om.op + OM_NS) return;
    OM_CHECK(s->state == OM_INSET && s->finished);
    OM_CHECK(o->result == s->last_rc);
    if (om.ordered) OM_CHECK(s->seq > om.last_seq);     /* push order */
    om.last_seq = s->seq;
    s->state = OM_FREE;
    om.len--;
}

static int om_owner_run(async_task *t) {
    om_owner *o = (om_owner *)t;
    ASYNC_BEGIN(t);
    if (om.ordered) OM_CHECK(async_opset_init_ordered(&o->set, o->slots, (size_t)o->cap) == 0);
    else OM_CHECK(async_opset_init(&o->set, o->slots, (size_t)o->cap) == 0);
    for (o->i = 0; o->i < o->n; o->i++) {
        o->op = o->ops[o->i] & 7;
        o->arg = o->ops[o->i] >> 3;
        if (o->op <= 2) {
            om_push(t, o);
        } else if (o->op <= 4) {
            ASYNC_AWAIT(o->rc, async_opset_next(t, &o->set, &o->state, &o->result));
            om_got(o);
        } else if (o->op == 5) {
            ASYNC_AWAIT_TIMEOUT(o->rc, &o->timer, ASYNC_MS(o->arg & 3),
                                async_opset_next(t, &o->set, &o->state, &o->result));
            om_got(o);
        } else if (o->op == 6) {
            o->rc = ASYNC_ECANCELED;
            ASYNC_SELECT_BEGIN(&o->sel, 2, (o->arg & 1) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR)
                ASYNC_SELECT_BRANCH(&o->sel, 0, 1, o->rc,
                                    async_opset_next(t, &o->set, &o->state, &o->result))
                ASYNC_SELECT_BRANCH(&o->sel, 1, 1, o->rc1,
                                    async_time_sleep(t, &o->timer, ASYNC_MS(o->arg >> 1 & 3)))
            ASYNC_SELECT_END(&o->sel);
            if (o->sel.winner == 0) om_got(o);
        } else {
            o->rc = async_opset_clear(t, &o->set);
            OM_CHECK(o->rc >= 0 && o->rc <= om.len);
            om_dropped();
        }
        om_unlinked();
    }
    for (;;) {                                          /* take every op left */
        ASYNC_AWAIT(o->rc, async_opset_next(t, &o->set, &o->state, &o->result));
        om_got(o);
        if (o->rc == ASYNC_ECLOSED) break;
    }
    ASYNC_CLEANUP();
    if (async_task_is_cancelling(t) && o->set.slots) {
        /* aborted: in next (which dropped the set) or before its first poll */
        OM_CHECK(async_opset_len(&o->set) == 0 || om.len == 0);
    }
    if (o->set.slots) {
        OM_CHECK(async_opset_destroy(t, &o->set) >= 0);
        om_dropped();
    }
    ASYNC_END(0);
}

static int om_sender_run(async_task *t) {
    om_aux *a = (om_aux *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n && om.nsent < OM_ITEMS; a->i++) {
        if (a->ops[a->i] & 1) {
            a->item = om.nsent;
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->ops[a->i] >> 1 & 3),
                                async_mpsc_send(t, &om.ch, &a->w, &a->item));
            if (a->rc == 0) om.sent[om.nsent] = 1;
            om.nsent++;
        } else if (a->ops[a->i] & 2) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->ops[a->i] >> 2 & 3)));
        }
    }
    ASYNC_CLEANUP();
    if (!a->released) {
        a->released = 1;
        OM_CHECK(async_mpsc_sender_release(&om.ch) == 0);
    }
    ASYNC_END(0);
}

static int om_ctl_run(async_task *t) {
    om_aux *a = (om_aux *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + (a->ops[a->i] & 7))));
        if ((a->ops[a->i] & 0x78) == 0x78) async_task_abort(&om.o.task);
        else if (a->ops[a->i] & 8) {
            async_task *w = &om.wk[a->ops[a->i] >> 4 & 3].task;
            if (w->state != ASYNC_TASK_IDLE && w->state != ASYNC_TASK_DONE) async_task_abort(w);
        }
    }
    ASYNC_END(0);
}

static int opset_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 3;
    int j, item, prev;
    memset(&om, 0, sizeof om);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    om.ordered = len > 2 ? data[2] & 1 : 0;
    om.o.cap = 2 + (len > 2 ? data[2] >> 1 & 3 : 0);
    if (om.o.cap > 5) om.o.cap = 5;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    if (async_mpsc_init(&om.ch, sizeof(int), (size_t)(len > 0 ? data[0] / 4 % 4 : 1), NULL) != 0) {
        async_runtime_destroy(&rt);             /* out of memory: nothing kept */
        return 0;
    }
    om.o.n = (pos < len ? data[pos++] : 0) % (OM_OPS + 1);
    for (j = 0; j < om.o.n; j++) om.o.ops[j] = pos < len ? data[pos++] : 0;
    om.sender.n = (pos < len ? data[pos++] : 0) % (OM_OPS + 1);
    for (j = 0; j < om.sender.n; j++) om.sender.ops[j] = pos < len ? data[pos++] : 0;
    om.ctl.n = (pos < len ? data[pos++] : 0) % 4;
    for (j = 0; j < om.ctl.n; j++) om.ctl.ops[j] = pos < len ? data[pos++] : 0;
    async_task_spawn(&rt, &om.o.task, om_owner_run, "owner");
    async_task_spawn(&rt, &om.sender.task, om_sender_run, "sender");
    async_task_spawn(&rt, &om.ctl.task, om_ctl_run, "controller");
    OM_CHECK(async_runtime_run(&rt) == 0);      /* the sender always ends, so do receives */
    OM_CHECK(rt.ntimers == 0);
    OM_CHECK(om.ch.recv_q.head == NULL);
    om_unlinked();
    async_runtime_destroy(&rt);
    while (async_mpsc_try_recv(&om.ch, &item) == 0) om_take(item);
    OM_CHECK(async_mpsc_try_recv(&om.ch, &item) == ASYNC_ECLOSED);
    for (j = 0; j < OM_ITEMS; j++) OM_CHECK(om.sent[j] == om.taken[j]);
    for (j = 0, prev = -1; j < om.ntaken; j++) {        /* one receiver at a time: FIFO */
        OM_CHECK(om.take_log[j] > prev);
        prev = om.take_log[j];
    }
    OM_CHECK(async_mpsc_destroy(&om.ch) == 0);
    return om.fail_line;
}

#endif
