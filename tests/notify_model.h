/* notify_model.h - a Notify and a Barrier driven by a script of bytes, checked
   against what must hold whatever the script: shared by tests/test_sync.c (random
   scripts from a seed) and tests/fuzz/fuzz_notify.c (libFuzzer's). Include it
   after async.h.

   Four tasks on a paused clock with auto-advance (FIFO or seeded random ready
   order, a budget of 1-3 or the default) each run their own list of operations:
   wait on the Notify (plainly, after enable, with a timeout, in a select against a
   sleep), notify_one, notify_last, notify_waiters, wait on the Barrier (1-4
   parties; plainly, with a timeout, in a select), yield or sleep. A controller task
   aborts any of them. One script in four has no cancellation at all (plain waits,
   no aborts), so the counts must then balance exactly.

   What must hold: a stored Notify permit means nobody is queued; a notify_one or
   notify_last is delivered at most once (waits it completes, plus the stored
   permit, never outnumber them), and exactly once when nothing is cancelled (less
   only the calls made while the permit was already stored, which coalesce), to the
   oldest waiter (notify_last: the newest); a
   waiter woken by notify_waiters was waiting when it was called; each Barrier
   generation has exactly one leader and at most parties - 1 others, and the
   parties counted as waiting are those queued. At the end no waiter is left.

   notify_model_run(data, len) returns 0, or the line of the first check that
   failed (notify_model_why says which). */
#ifndef NOTIFY_MODEL_H
#define NOTIFY_MODEL_H

enum { NM_NA = 4, NM_OPS = 16, NM_GENS = 64 };

typedef struct {
    async_task task;
    async_waiter w, bw;                 /* for the Notify, for the Barrier */
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, mode, chosen, had_permit;
    uint32_t gen;
    uint8_t ops[NM_OPS];
} nm_actor;

static struct {
    async_notify n;
    async_barrier b;
    nm_actor act[NM_NA + 1];
    int strict;                         /* no cancellation in this script */
    long ones, coalesced, got_one, got_all, all_calls;
    int leaders[NM_GENS], others[NM_GENS];
    int fail_line;
    const char *why;
} nm;

static const char *notify_model_why(void) { return nm.why ? nm.why : ""; }

#define NM_CHECK(cond) do { \
        if (!(cond) && !nm.fail_line) { nm.fail_line = __LINE__; nm.why = #cond; } } while (0)

static uint32_t nm_queued(const async_waitq *q) {
    uint32_t k = 0;
    const async_waiter *w = q->head;
    if (w) do { k++; w = w->next; } while (w != q->head);
    return k;
}

static void nm_invariants(void) {
    NM_CHECK(!nm.n.permit || !nm.n.q.head);
    NM_CHECK(nm.got_one + nm.n.permit <= nm.ones);
    NM_CHECK(nm.b.count < nm.b.parties && nm.b.count == nm_queued(&nm.b.q));
}

/* The actor whose Notify waiter w is gets the notification. */
static void nm_chosen(const async_waiter *w) {
    int k;
    for (k = 0; k < NM_NA; k++)
        if (&nm.act[k].w == w) nm.act[k].chosen++;
}

/* The Notify wait a->mode says: plain, enabled first, timed out, or in a select. */
static int nm_notified(async_task *t, nm_actor *a) {
    return async_notify_wait(t, &nm.n, &a->w);
}

static int nm_task(async_task *t) {
    nm_actor *a = (nm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->mode = nm.strict ? 0 : a->arg >> 2 & 3;
        a->rc = 0;
        if (a->op <= 1) {                       /* wait on the Notify */
            a->had_permit = nm.n.permit;        /* taken at once by this wait */
            /* Enabled first: registered before the wait. Not before a select, whose
               branch may never be polled (and then nobody would cancel it). */
            if (a->op == 1 && a->mode != 2) async_notify_enable(t, &nm.n, &a->w);
            if (a->mode == 1) {
                ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4), nm_notified(t, a));
            } else if (a->mode == 2) {
                ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 2) ? ASYNC_SELECT_BIASED
                                                            : ASYNC_SELECT_FAIR);
                    ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc, nm_notified(t, a));
                    ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                        async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
                ASYNC_SELECT_END(&a->sel);
                if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
            } else {
                ASYNC_AWAIT(a->rc, nm_notified(t, a));
            }
            NM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT);
            if (a->rc == 0 && a->w.kind == ASYNC__NOTIFY_ALL) {
                nm.got_all++;
            } else if (a->rc == 0) {
                nm.got_one++;
                if (nm.strict && !a->had_permit) {      /* it was the one chosen */
                    NM_CHECK(a->chosen > 0);
                    a->chosen--;
                }
            }
        } else if (a->op == 2 || a->op == 3) {  /* notify_one, notify_last */
            if (nm.n.permit && !nm.n.q.head) nm.coalesced++;
            if (nm.n.q.head)                    /* one_ the oldest, _last the newest */
                nm_chosen(a->op == 2 ? nm.n.q.head : nm.n.q.head->prev);
            nm.ones++;
            if (a->op == 2) async_notify_one(&nm.n);
            else async_notify_last(&nm.n);
        } else if (a->op == 4) {
            nm.all_calls++;
            async_notify_waiters(&nm.n);
            NM_CHECK(!nm.n.q.head);
        } else if (a->op == 5) {                /* the Barrier */
            a->gen = nm.b.gen;
            if (a->mode == 1) {
                ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                    async_barrier_wait(t, &nm.b, &a->bw));
            } else if (a->mode == 2) {
                ASYNC_SELECT_BEGIN(&a->sel, 2, ASYNC_SELECT_FAIR);
                    ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc, async_barrier_wait(t, &nm.b, &a->bw));
                    ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                        async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
                ASYNC_SELECT_END(&a->sel);
                if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
            } else {
                ASYNC_AWAIT(a->rc, async_barrier_wait(t, &nm.b, &a->bw));
            }
            NM_CHECK(a->rc == 0 || a->rc == 1 || a->rc == ASYNC_ETIMEDOUT);
            if (a->rc == 1) {
                NM_CHECK(nm.b.gen == a->gen + 1);   /* it completed the generation */
                if (a->gen < NM_GENS) nm.leaders[a->gen]++;
            } else if (a->rc == 0) {
                NM_CHECK(nm.b.gen > a->gen);
                if (a->gen < NM_GENS) nm.others[a->gen]++;
            }
        } else if (a->op == 6) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        nm_invariants();
    }
    ASYNC_END(0);
}

static int nm_controller(async_task *t) {
    nm_actor *a = (nm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (!nm.strict && (a->arg & 4)) async_task_abort(&nm.act[(a->arg >> 3) % NM_NA].task);
        else if (a->arg & 8) {                  /* wake whoever waits, so scripts end */
            nm.all_calls++;
            async_notify_waiters(&nm.n);
        }
        nm_invariants();
    }
    ASYNC_END(0);
}

static int notify_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j;
    memset(&nm, 0, sizeof nm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    nm.strict = len > 0 && data[0] / 4 % 4 == 0;
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    async_notify_init(&nm.n);
    async_barrier_init(&nm.b, (uint32_t)(len > 0 ? data[0] / 16 % 5 : 0));   /* 0 is 1 */
    for (k = 0; k <= NM_NA; k++) {
        nm_actor *a = &nm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (NM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < NM_NA ? nm_task : nm_controller, "model");
    }
    async_runtime_run(&rt);
    nm_invariants();
    if (nm.strict) {                            /* each one was delivered, or coalesced */
        NM_CHECK(nm.got_one + nm.n.permit + nm.coalesced == nm.ones);
        for (k = 0; k < NM_NA; k++) NM_CHECK(nm.act[k].chosen == 0);
    }
    for (k = 0; k < NM_GENS && (uint32_t)k < nm.b.gen; k++)
        NM_CHECK(nm.leaders[k] == 1 && (uint32_t)nm.others[k] < nm.b.parties);
    if (nm.strict)                              /* nothing cancelled: all came back */
        for (k = 0; k < NM_GENS && (uint32_t)k < nm.b.gen; k++)
            NM_CHECK((uint32_t)nm.others[k] == nm.b.parties - 1);
    async_runtime_destroy(&rt);
    NM_CHECK(!nm.n.q.head && !nm.b.q.head && nm.b.count == 0);
    return nm.fail_line;
}

#endif
