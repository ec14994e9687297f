/* stream_model.h - a pipeline of cancel-safe stream adapters over an mpsc channel,
   driven by a script of bytes and checked against the same pipeline applied to an
   array: shared by tests/test_stream.c (random scripts from a seed) and
   tests/fuzz/fuzz_stream.c (libFuzzer's). Include it after async.h.

   A sender task sends 0, 1, 2, ... into a channel (capacity 1-3 or unbounded),
   yielding or sleeping between items, then lets go of it. The channel is read as a
   stream through up to four adapters picked by the script: map, filter, take_while,
   skip_while, take, skip, timeout, throttle. A consumer task reads the pipeline to
   its end, each next() plainly, with a timeout, or in a select against a sleep, so
   reads are cancelled at random points (never a zero timeout in this loop: a task
   that never idles keeps a paused clock from advancing, as in Tokio). FIFO or
   seeded random ready order, a budget of 1-3 or the default.

   What must hold (these adapters are cancel safe, as Tokio's): the items the
   consumer gets are exactly what the pipeline gives on the array of items sent, in
   order - nothing lost or repeated by a cancelled read; error items are only the
   timeouts; the end comes once, and after it next() keeps giving 0.

   stream_model_run(data, len) returns 0, or the line of the first check that failed
   (stream_model_why says which). */
#ifndef STREAM_MODEL_H
#define STREAM_MODEL_H

enum { SX_N = 40, SX_STAGES = 4, SX_OPS = 24 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, item, ended;
    uint8_t ops[SX_OPS];
} sx_actor;

typedef union {
    async_stream_map map;
    async_stream_filter filter;
    async_stream_count count;
    async_stream_timed timed;
} sx_stage;

static struct {
    async_mpsc c;
    async_stream_mpsc src;
    sx_stage st[SX_STAGES];
    int kind[SX_STAGES], param[SX_STAGES], scratch[SX_STAGES];
    int nst;
    async_stream *out;
    sx_actor sender, consumer;
    int nsend, got[SX_N], ngot;
    int fail_line;
    const char *why;
} sx;

static const char *stream_model_why(void) { return sx.why ? sx.why : ""; }

#define SX_CHECK(cond) do { \
        if (!(cond) && !sx.fail_line) { sx.fail_line = __LINE__; sx.why = #cond; } } while (0)

static void sx_map(const void *in, void *out, void *user) {
    int v;
    (void)user;
    memcpy(&v, in, sizeof v);
    v = v * 3 + 1;
    memcpy(out, &v, sizeof v);
}
static int sx_pred(const void *item, void *user) {     /* filter: keep; _while: go on */
    int v, p = *(const int *)user;
    memcpy(&v, item, sizeof v);
    return p < 0 ? v % (-p) != 0 : v < p;
}

/* The pipeline on an array: what the consumer must get. */
static int sx_expect(int *out) {
    int k, s, n = sx.nsend;
    for (k = 0; k < n; k++) out[k] = k;
    for (s = 0; s < sx.nst; s++) {
        int m = 0, p = sx.param[s], skipping = 1;
        for (k = 0; k < n; k++) {
            int v = out[k];
            switch (sx.kind[s]) {
            case 0: out[m++] = v * 3 + 1; break;                       /* map */
            case 1: if (v % (-p) != 0) out[m++] = v; break;            /* filter */
            case 2: if (v < p) out[m++] = v; else k = n; break;        /* take_while */
            case 3:                                                     /* skip_while */
                if (skipping && v < p) break;
                skipping = 0;
                out[m++] = v;
                break;
            case 4: if (k < p) out[m++] = v; break;                    /* take */
            case 5: if (k >= p) out[m++] = v; break;                   /* skip */
            default: out[m++] = v; break;                               /* timeout, throttle */
            }
        }
        n = m;
    }
    return n;
}

static int sx_sender_fn(async_task *t) {
    sx_actor *a = (sx_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < sx.nsend; a->i++) {
        a->item = a->i;
        ASYNC_AWAIT(a->rc, async_mpsc_send(t, &sx.c, &a->w, &a->item));
        SX_CHECK(a->rc == 0);
        a->op = a->i < a->n ? a->ops[a->i] : 0;
        if (a->op & 1) ASYNC_YIELD();
        else if (a->op & 2)
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->op >> 2 & 3)));
    }
    ASYNC_CLEANUP();
    async_mpsc_sender_release(&sx.c);
    ASYNC_END(0);
}

static int sx_consumer_fn(async_task *t) {
    sx_actor *a = (sx_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; !a->ended; a->i++) {
        a->op = a->n ? a->ops[a->i % a->n] : 0;
        a->arg = a->op >> 2;
        if ((a->op & 3) == 1) {
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(1 + a->arg % 4),
                                async_stream_next(t, sx.out, &a->item));
        } else if ((a->op & 3) == 2) {
            ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 4) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc, async_stream_next(t, sx.out, &a->item));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                    async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
            ASYNC_SELECT_END(&a->sel);
            if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
        } else {
            ASYNC_AWAIT(a->rc, async_stream_next(t, sx.out, &a->item));
        }
        if ((a->op & 3) == 2 && a->sel.winner != 0)     /* a lost next(): cancelled */
            SX_CHECK(sx.src.w.state != ASYNC__W_WAITING);   /* through to the source */
        if (a->rc == ASYNC_ITEM) {
            SX_CHECK(sx.ngot < SX_N);
            if (sx.ngot < SX_N) sx.got[sx.ngot++] = a->item;
        } else if (a->rc == 0) {
            a->ended = 1;
        } else {
            SX_CHECK(a->rc == ASYNC_ETIMEDOUT);
        }
    }
    a->n = (int)sx.c.len;                       /* fused: 0 at once, reading nothing */
    SX_CHECK(async_stream_next(t, sx.out, &a->item) == 0 && sx.c.len == (size_t)a->n);
    ASYNC_END(0);
}

static int stream_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 3;
    int k, expect[SX_N], nexpect;
    async_stream *up;
#define SX_BYTE() (pos < len ? data[pos++] : 0)
    memset(&sx, 0, sizeof sx);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    sx.nsend = len > 2 ? data[2] % (SX_N + 1) : 0;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    if (async_mpsc_init(&sx.c, sizeof(int), (size_t)(len > 0 ? data[0] / 4 % 4 : 1), NULL))
        return __LINE__;
    async_stream_mpsc_init(&sx.src, &sx.c);
    up = &sx.src.base;
    sx.nst = SX_BYTE() % (SX_STAGES + 1);
    for (k = 0; k < sx.nst; k++) {
        int b = SX_BYTE(), rc = 0;
        sx.kind[k] = b % 8;
        switch (sx.kind[k]) {
        case 0:
            rc = async_stream_map_init(&sx.st[k].map, up, sizeof(int), sx_map, NULL,
                                       &sx.scratch[k]);
            break;
        case 1:
            sx.param[k] = -(2 + b / 8 % 3);     /* drop the multiples of 2, 3 or 4 */
            rc = async_stream_filter_init(&sx.st[k].filter, up, sx_pred, &sx.param[k]);
            break;
        case 2:
            sx.param[k] = b / 8 % 64;
            rc = async_stream_take_while_init(&sx.st[k].filter, up, sx_pred, &sx.param[k]);
            break;
        case 3:
            sx.param[k] = b / 8 % 64;
            rc = async_stream_skip_while_init(&sx.st[k].filter, up, sx_pred, &sx.param[k]);
            break;
        case 4:
            sx.param[k] = b / 8 % 16;
            rc = async_stream_take_init(&sx.st[k].count, up, (uint64_t)sx.param[k]);
            break;
        case 5:
            sx.param[k] = b / 8 % 16;
            rc = async_stream_skip_init(&sx.st[k].count, up, (uint64_t)sx.param[k]);
            break;
        case 6:
            rc = async_stream_timeout_init(&sx.st[k].timed, up, ASYNC_MS(1 + b / 8 % 3));
            break;
        default:
            rc = async_stream_throttle_init(&sx.st[k].timed, up, ASYNC_MS(1 + b / 8 % 3));
            break;
        }
        if (rc != 0) return __LINE__;
        up = &sx.st[k].map.base;                /* base is first in every stage */
    }
    sx.out = up;
    sx.sender.n = SX_BYTE() % (SX_OPS + 1);
    for (k = 0; k < sx.sender.n; k++) sx.sender.ops[k] = SX_BYTE();
    sx.consumer.n = SX_BYTE() % (SX_OPS + 1);
    for (k = 0; k < sx.consumer.n; k++) sx.consumer.ops[k] = SX_BYTE();
#undef SX_BYTE
    async_task_spawn(&rt, &sx.sender.task, sx_sender_fn, "sender");
    async_task_spawn(&rt, &sx.consumer.task, sx_consumer_fn, "consumer");
    async_runtime_run(&rt);
    SX_CHECK(sx.consumer.task.state == ASYNC_TASK_DONE);   /* it saw the end */
    nexpect = sx_expect(expect);
    SX_CHECK(sx.ngot == nexpect);
    for (k = 0; k < sx.ngot && k < nexpect; k++) SX_CHECK(sx.got[k] == expect[k]);
    async_runtime_destroy(&rt);                 /* a sender stuck after a take: aborted */
    SX_CHECK(!sx.c.recv_q.head && !sx.c.send_q.head);
    async_mpsc_destroy(&sx.c);
    return sx.fail_line;
}

#endif
