/* bucket_model.h - a token bucket driven by a script of bytes, checked against what
   must hold whatever the script: shared by tests/test_sync.c (random scripts from a
   seed) and tests/fuzz/fuzz_bucket.c (libFuzzer's). Include it after async.h.

   A bucket of capacity 1-4, refilled by 1-2 tokens every 1-3 ms; four tasks on a
   paused clock with auto-advance (FIFO or seeded random ready order, a budget of 1-3
   or the default) each run their own list of operations: acquire 1-8 tokens
   (plainly, with a timeout, or in a select against a sleep), try to, give some back
   (a refund), yield or sleep. A controller task sleeps and aborts any of them.
   Cancellation thus reaches every wait, the head's with its timer included.

   What must hold, after every operation: the bucket holds at most its capacity, and
   nothing while anyone waits (every token goes to the head waiter); only the head
   holds tokens collected in part, fewer than it asked for; while anyone waits, the
   bucket's one timer is the head's, set for the very refill that completes it (or
   fired, its task woken); tokens never come faster than the refills: those taken, in
   the bucket and held by waiters are at most the capacity plus every refill since the
   start plus the refunds. When nothing can run any more every task has finished (a
   wait always ends: the refills never stop), no waiter is left, and no timer.

   bucket_model_run(data, len) returns 0, or the line of the first check that failed
   (bucket_model_why says which). */
#ifndef BUCKET_MODEL_H
#define BUCKET_MODEL_H

enum { BM_NA = 4, BM_OPS = 16 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, mode;
    size_t want;
    uint8_t ops[BM_OPS];
} bm_actor;

static struct {
    async_token_bucket b;
    async_runtime *rt;
    bm_actor act[BM_NA + 1];
    async_time t0;
    size_t taken, refunded;
    int fail_line;
    const char *why;
} bm;

static const char *bucket_model_why(void) { return bm.why ? bm.why : ""; }

#define BM_CHECK(cond) do { \
        if (!(cond) && !bm.fail_line) { bm.fail_line = __LINE__; bm.why = #cond; } } while (0)

static void bm_invariants(void) {
    const async_token_bucket *b = &bm.b;
    const async_waiter *w, *h = b->q.head;
    size_t held = 0, periods;
    BM_CHECK(b->tokens <= b->capacity);
    BM_CHECK(!h || b->tokens == 0);
    for (w = h; w; w = w->next == h ? NULL : w->next) {
        BM_CHECK(w->got < w->want);
        BM_CHECK(w == h || w->got == 0);
        held += w->got;
    }
    if (h) {
        size_t need = h->want - h->got;
        async_time at = b->last + (need / b->refill + (need % b->refill != 0)) * b->period;
        BM_CHECK(b->timer.state == ASYNC__TM_FIRED ||
                 (b->timer.state == ASYNC__TM_ARMED && b->timer.task == h->task &&
                  b->timer.deadline == at));
        BM_CHECK(b->timer.state != ASYNC__TM_FIRED || b->timer.task == h->task);
    }
    {                                           /* handed over, not yet seen */
        int a;
        for (a = 0; a < BM_NA; a++)
            if (bm.act[a].w.state == ASYNC__W_READY) held += bm.act[a].w.want;
    }
    periods = (size_t)((async_time_now(bm.rt) - bm.t0) / b->period);
    BM_CHECK(bm.taken + b->tokens + held <= b->capacity + periods * b->refill + bm.refunded);
}

static int bm_task(async_task *t) {
    bm_actor *a = (bm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->want = 1 + (size_t)(a->arg & 7);
        a->mode = (a->arg >> 3) % 3;
        a->rc = 0;
        if (a->op <= 2) {                       /* acquire */
            if (a->mode == 1) {
                ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(1 + a->arg % 5),
                                    async_token_bucket_acquire(t, &bm.b, &a->w, a->want));
            } else if (a->mode == 2) {
                ASYNC_SELECT_BEGIN(&a->sel, 2, ASYNC_SELECT_FAIR);
                    ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                        async_token_bucket_acquire(t, &bm.b, &a->w, a->want));
                    ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                        async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
                ASYNC_SELECT_END(&a->sel);
                if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
            } else {
                ASYNC_AWAIT(a->rc, async_token_bucket_acquire(t, &bm.b, &a->w, a->want));
            }
            BM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT);
            BM_CHECK(a->w.state == ASYNC__W_IDLE && a->w.want == 0 && a->w.got == 0);
            if (a->rc == 0) bm.taken += a->want;
        } else if (a->op == 3) {                /* try */
            size_t before = bm.b.tokens;
            a->rc = async_token_bucket_try_acquire(&bm.b, a->want);
            BM_CHECK(a->rc == 0 || a->rc == ASYNC_EAGAIN);
            if (a->rc == 0) bm.taken += a->want;
            else BM_CHECK(bm.b.q.head || bm.b.tokens < a->want || before < a->want);
        } else if (a->op == 4) {                /* a refund */
            BM_CHECK(async_token_bucket_add(&bm.b, a->want & 3) == 0);
            bm.refunded += a->want & 3;
        } else if (a->op == 5) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        bm_invariants();
    }
    ASYNC_END(0);
}

/* Sleeps, then aborts a task (in a wait, or anywhere). */
static int bm_controller(async_task *t) {
    bm_actor *a = (bm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->arg & 4) async_task_abort(&bm.act[(a->arg >> 3) % BM_NA].task);
        bm_invariants();
    }
    ASYNC_END(0);
}

static int bucket_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 3;
    int k, j, left;
    memset(&bm, 0, sizeof bm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    bm.rt = &rt;
    bm.t0 = async_time_now(&rt);
    k = len > 2 ? data[2] : 0;
    if (async_token_bucket_init(&bm.b, &rt, 1 + (size_t)(k & 3), 1 + (size_t)(k >> 2 & 1),
                                ASYNC_MS(1 + (k >> 3) % 3)) != 0)
        return __LINE__;
    for (k = 0; k <= BM_NA; k++) {
        bm_actor *a = &bm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (BM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < BM_NA ? bm_task : bm_controller, "model");
    }
    left = async_runtime_run(&rt);
    bm_invariants();
    BM_CHECK(left == 0);                        /* every wait ended */
    BM_CHECK(!bm.b.q.head);
    BM_CHECK(async_runtime_next_deadline(&rt) == ASYNC_TIME_NEVER);
    async_runtime_destroy(&rt);
    return bm.fail_line;
}

#endif
