/* token_model.h - a forest of CancellationTokens driven by a script of bytes,
   checked against a model of the tree: shared by tests/test_sync.c (random scripts
   from a seed) and tests/fuzz/fuzz_token.c (libFuzzer's). Include it after async.h.

   Six token slots; four tasks on a paused clock with auto-advance (FIFO or seeded
   random ready order, a budget of 1-3 or the default) each run their own list of
   operations: make a token (a root, or the child of a live one), cancel one,
   destroy one (its children move up to its parent), wait for one to be cancelled
   (plainly, with a timeout, in a select against a sleep), yield or sleep. A
   controller task aborts any of them.

   What must hold, after every operation: each live token is cancelled exactly when
   the model says (cancelled itself, with an ancestor, or born under a cancelled
   parent), its parent is the model's and its parent's list of children holds it
   once; a wait completes only on a cancelled token, and nobody stays queued on one;
   destroy refuses (ASYNC_EBUSY) exactly when someone is queued on the token. At
   the end no waiter is left and every token destroys.

   token_model_run(data, len) returns 0, or the line of the first check that failed
   (token_model_why says which). */
#ifndef TOKEN_MODEL_H
#define TOKEN_MODEL_H

enum { TM_N = 6, TM_NA = 4, TM_OPS = 16 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, mode, k;
    uint8_t ops[TM_OPS];
} tm_actor;

static struct {
    async_cancel_token tok[TM_N];
    int live[TM_N], parent[TM_N], cancelled[TM_N];
    int waiting_on[TM_NA];                  /* the token an actor is inside a wait on */
    tm_actor act[TM_NA + 1];
    int fail_line;
    const char *why;
} tmm;

static const char *token_model_why(void) { return tmm.why ? tmm.why : ""; }

#define TM_CHECK(cond) do { \
        if (!(cond) && !tmm.fail_line) { tmm.fail_line = __LINE__; tmm.why = #cond; } } while (0)

static int tm_queued_on(int k) {            /* actors queued on token k */
    int a, n = 0;
    for (a = 0; a < TM_NA; a++)
        if (tmm.waiting_on[a] == k && tmm.act[a].w.state == ASYNC__W_WAITING) n++;
    return n;
}

static void tm_invariants(void) {
    int k;
    for (k = 0; k < TM_N; k++) {
        const async_cancel_token *t = &tmm.tok[k], *c;
        int seen = 0;
        if (!tmm.live[k]) continue;
        TM_CHECK(async_cancel_token_is_cancelled(t) == tmm.cancelled[k]);
        TM_CHECK(t->parent == (tmm.parent[k] < 0 ? NULL : &tmm.tok[tmm.parent[k]]));
        if (tmm.parent[k] >= 0)
            for (c = tmm.tok[tmm.parent[k]].child; c; c = c->next) {
                if (c == t) seen++;
                if (c->next) TM_CHECK(c->next->prev == c);
            }
        TM_CHECK(tmm.parent[k] < 0 || seen == 1);
        for (c = t->child; c; c = c->next) TM_CHECK(c->parent == t);
        TM_CHECK(!t->q.head || !tmm.cancelled[k]);
    }
}

static void tm_cancel(int k) {              /* the model: k and every descendant */
    int j, changed = 1;
    tmm.cancelled[k] = 1;
    while (changed) {
        changed = 0;
        for (j = 0; j < TM_N; j++)
            if (tmm.live[j] && !tmm.cancelled[j] && tmm.parent[j] >= 0 &&
                tmm.cancelled[tmm.parent[j]]) {
                tmm.cancelled[j] = 1;
                changed = 1;
            }
    }
}

/* Make, cancel or destroy token k (op 0, 1, 2); p picks a parent. */
static void tm_edit(int op, int k, int p) {
    int j, referenced = 0;
    for (j = 0; j < TM_NA; j++) referenced |= tmm.waiting_on[j] == k;
    if (op == 0 && !tmm.live[k] && !referenced) {
        if (p >= 0 && tmm.live[p] && p != k) {
            TM_CHECK(async_cancel_token_init_child(&tmm.tok[p], &tmm.tok[k]) == 0);
            tmm.parent[k] = p;
            tmm.cancelled[k] = tmm.cancelled[p];
        } else {
            TM_CHECK(async_cancel_token_init(&tmm.tok[k]) == 0);
            tmm.parent[k] = -1;
            tmm.cancelled[k] = 0;
        }
        tmm.live[k] = 1;
    } else if (op == 1 && tmm.live[k]) {
        TM_CHECK(async_cancel_token_cancel(&tmm.tok[k]) == 0);
        tm_cancel(k);
    } else if (op == 2 && tmm.live[k]) {
        int rc = async_cancel_token_destroy(&tmm.tok[k]);
        TM_CHECK(rc == (tm_queued_on(k) ? ASYNC_EBUSY : 0));
        if (rc == 0) {
            for (j = 0; j < TM_N; j++)
                if (tmm.live[j] && tmm.parent[j] == k) tmm.parent[j] = tmm.parent[k];
            tmm.live[k] = 0;
        }
    }
}

static int tm_task(async_task *t) {
    tm_actor *a = (tm_actor *)t;
    int me = (int)(a - tmm.act);
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->k = a->arg % TM_N;
        a->mode = a->arg / TM_N % 3;
        a->rc = 0;
        if (a->op <= 2) {
            tm_edit(a->op, a->k, (a->k + 1 + a->arg % (TM_N - 1)) % TM_N);
        } else if (a->op <= 4 && tmm.live[a->k]) {      /* wait for a cancel */
            tmm.waiting_on[me] = a->k;
            if (a->mode == 1) {
                ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                    async_cancel_token_wait(t, &tmm.tok[a->k], &a->w));
            } else if (a->mode == 2) {
                ASYNC_SELECT_BEGIN(&a->sel, 2, ASYNC_SELECT_FAIR);
                    ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                        async_cancel_token_wait(t, &tmm.tok[a->k], &a->w));
                    ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                        async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
                ASYNC_SELECT_END(&a->sel);
                if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
            } else {
                ASYNC_AWAIT(a->rc, async_cancel_token_wait(t, &tmm.tok[a->k], &a->w));
            }
            tmm.waiting_on[me] = -1;
            TM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT);
            if (a->rc == 0) TM_CHECK(tmm.cancelled[a->k]);
        } else if (a->op == 5) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        tm_invariants();
    }
    ASYNC_CLEANUP();
    tmm.waiting_on[me] = -1;                    /* aborted in a wait: it is unlinked */
    ASYNC_END(0);
}

/* Sleeps, then aborts a task, or cancels a token (so that waits end). */
static int tm_controller(async_task *t) {
    tm_actor *a = (tm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->arg & 4) async_task_abort(&tmm.act[(a->arg >> 3) % TM_NA].task);
        else if (a->arg & 8) tm_edit(1, (a->arg >> 4) % TM_N, 0);
        tm_invariants();
    }
    ASYNC_END(0);
}

static int token_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j;
    memset(&tmm, 0, sizeof tmm);
    memset(&d, 0, sizeof d);
    for (k = 0; k < TM_NA; k++) tmm.waiting_on[k] = -1;
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    for (k = 0; k < 3; k++) tm_edit(0, k, k - 1);       /* a chain to start from */
    for (k = 0; k <= TM_NA; k++) {
        tm_actor *a = &tmm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (TM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < TM_NA ? tm_task : tm_controller, "model");
    }
    async_runtime_run(&rt);
    tm_invariants();
    async_runtime_destroy(&rt);                 /* aborts the waits left */
    for (k = 0; k < TM_N; k++) TM_CHECK(!tmm.live[k] || !tmm.tok[k].q.head);
    for (k = 0; k < TM_N; k++)
        if (tmm.live[k]) tm_edit(2, k, 0);
    for (k = 0; k < TM_N; k++) TM_CHECK(!tmm.live[k]);
    return tmm.fail_line;
}

#endif
