/* The op set (async_opset: FuturesUnordered / FuturesOrdered inside one task), on the
   paused clock: completion order and push order, pushing while others are pending,
   every kind of op (sleep, mpsc recv, task join, a nested async function, a pipe read),
   clear and destroy (each polled op cancelled: no timer armed, no waiter queued, a
   cancel-safe receive loses nothing, an op never polled is not touched), a set larger
   than the budget, the task aborted while the set holds ops (in next, and elsewhere),
   a timeout and a select around next (the ops stay), bad input, and a model under
   random scripts (tests/opset_model.h, also fuzzed: tests/fuzz/fuzz_opset.c). */
#include "test.h"
#include "opset_model.h"

#define MS(x) ASYNC_MS(x)
static async_runtime *g_rt;
static async_time g_t0;
#define NOW() (async_time_now(g_rt) - g_t0)
static void start(async_runtime *rt) {
    test_rt_paused(rt);
    g_rt = rt;
    g_t0 = async_time_now(rt);
    LOG_RESET();
}

/* ---- ops: a sleep, a receive, a join, a nested function, a read ---------------------- */
typedef struct op_state op_state;
struct op_state {
    async_coro co;                      /* the nested function's */
    async_timer timer;
    async_waiter w;
    async_mpsc *ch;
    async_task *child;
    async_io *io;
    async_time d;
    int id, item, polls, cancels, cleaned;
    char buf[8];
};

static int op_sleep(async_task *t, void *p) {
    op_state *s = (op_state *)p;
    int rc;
    s->polls++;
    if (async_task_is_cancelling(t)) s->cancels++;
    rc = async_time_sleep(t, &s->timer, s->d);
    return rc == 0 ? s->id : rc;
}
static int op_recv(async_task *t, void *p) {
    op_state *s = (op_state *)p;
    int rc;
    s->polls++;
    if (async_task_is_cancelling(t)) s->cancels++;
    rc = async_mpsc_recv(t, s->ch, &s->w, &s->item);
    return rc == 0 ? s->item : rc;
}
static int op_join(async_task *t, void *p) {
    op_state *s = (op_state *)p;
    s->polls++;
    if (async_task_is_cancelling(t)) s->cancels++;
    return async_task_join(t, s->child);
}
static int nested(async_task *t, op_state *s) {
    int rc;
    ASYNC_CORO_BEGIN(t, &s->co);
    ASYNC_AWAIT(rc, async_time_sleep(t, &s->timer, s->d));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_AWAIT(rc, async_time_sleep(t, &s->timer, s->d));
    if (rc < 0) ASYNC_RETURN(rc);
    ASYNC_CLEANUP();
    s->cleaned++;
    ASYNC_END(s->id * 10);
}
static int op_nested(async_task *t, void *p) {
    op_state *s = (op_state *)p;
    s->polls++;
    if (async_task_is_cancelling(t)) s->cancels++;
    return nested(t, s);
}
static int op_read(async_task *t, void *p) {
    op_state *s = (op_state *)p;
    s->polls++;
    if (async_task_is_cancelling(t)) s->cancels++;
    return async_io_read(t, s->io, &s->w, s->buf, sizeof s->buf);
}

typedef struct {
    async_task task;
    async_opset set;
    async_opset_slot slots[8];
    op_state op[8];
    async_timer timer;
    async_select sel;
    async_notify never;
    async_waiter nw;
    void *state;
    int i, rc, result, ordered, mode, n, got[8];
    int idx[8];
    async_time at[8];
} oframe;

/* Three sleeps pushed as 30, 10, 20 ms: unordered they come back as they finish,
   ordered in push order (the younger results held until the oldest is out). */
static int three_sleeps(async_task *t) {
    oframe *f = (oframe *)t;
    static const int ms[3] = {30, 10, 20};
    ASYNC_BEGIN(t);
    if (f->ordered) async_opset_init_ordered(&f->set, f->slots, 3);
    else async_opset_init(&f->set, f->slots, 3);
    for (f->i = 0; f->i < 3; f->i++) {
        f->op[f->i].id = f->i;
        f->op[f->i].d = MS(ms[f->i]);
        f->idx[f->i] = async_opset_push(&f->set, op_sleep, &f->op[f->i]);
    }
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
        if (f->rc == ASYNC_ECLOSED) break;
        ASSERT_EQ(f->rc, f->idx[f->result]);              /* its slot index */
        ASSERT_EQ(f->state == (void *)&f->op[f->result], 1);
        f->got[f->n] = f->result;
        f->at[f->n] = NOW();
        ASSERT_EQ(async_opset_len(&f->set), 2 - f->n);
    }
    ASSERT_EQ(async_opset_is_empty(&f->set), 1);
    ASYNC_END(f->n);
}

TEST(opset_completion_order) {
    async_runtime rt;
    static oframe f;
    long allocs;
    ZERO(f);
    start(&rt);
    allocs = test_allocs;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, three_sleeps, "unordered"), 3);
    ASSERT_EQ(test_allocs - allocs, 0);                 /* the slots are the caller's */
    ASSERT_EQ(f.got[0], 1); ASSERT_EQ(f.got[1], 2); ASSERT_EQ(f.got[2], 0);
    ASSERT_EQ(f.at[0], MS(10)); ASSERT_EQ(f.at[1], MS(20)); ASSERT_EQ(f.at[2], MS(30));
    ASSERT_EQ(f.idx[0], 0); ASSERT_EQ(f.idx[1], 1); ASSERT_EQ(f.idx[2], 2);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

TEST(opset_ordered_gives_push_order) {
    async_runtime rt;
    static oframe f;
    ZERO(f);
    f.ordered = 1;
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, three_sleeps, "ordered"), 3);
    ASSERT_EQ(f.got[0], 0); ASSERT_EQ(f.got[1], 1); ASSERT_EQ(f.got[2], 2);
    /* the two younger ones finished first and waited for the oldest */
    ASSERT_EQ(f.at[0], MS(30)); ASSERT_EQ(f.at[1], MS(30)); ASSERT_EQ(f.at[2], MS(30));
    /* 10 ms: polled at 0 and 10, held, never polled again; 20 ms: at 0, 10 and 20 */
    ASSERT_EQ(f.op[1].polls, 2); ASSERT_EQ(f.op[2].polls, 3);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* Pushing while others are pending, into the slot just freed, and more than the
   capacity over the set's life. */
static int push_while_pending(async_task *t) {
    oframe *f = (oframe *)t;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, 2);
    f->op[0].id = 0; f->op[0].d = MS(50);
    f->op[1].id = 1; f->op[1].d = MS(10);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), 0);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[1]), 1);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[2]), ASYNC_EAGAIN);   /* full */
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
        if (f->rc < 0) break;
        f->got[f->n] = f->result;
        f->at[f->n] = NOW();
        if (f->result >= 1 && f->result < 5) {          /* the next one into its slot */
            f->i = f->result + 1;
            f->op[f->i].id = f->i;
            f->op[f->i].d = MS(5);
            ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[f->i]), f->rc);
        }
    }
    ASYNC_END(f->rc);
}

TEST(opset_push_while_pending) {
    async_runtime rt;
    static oframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, push_while_pending, "push"), ASYNC_ECLOSED);
    ASSERT_EQ(f.n, 6);
    /* 1 at 10 ms, then 2..5 each 5 ms after the one before, then 0 at 50 ms */
    ASSERT_EQ(f.got[0], 1); ASSERT_EQ(f.at[0], MS(10));
    ASSERT_EQ(f.got[1], 2); ASSERT_EQ(f.at[1], MS(15));
    ASSERT_EQ(f.got[4], 5); ASSERT_EQ(f.at[4], MS(30));
    ASSERT_EQ(f.got[5], 0); ASSERT_EQ(f.at[5], MS(50));
    ASSERT_EQ(f.op[0].cancels, 0);
    async_runtime_destroy(&rt);
}

/* ---- each kind of op in one set ------------------------------------------------------- */
typedef struct { async_task task; async_timer timer; async_waiter w; async_mpsc *ch;
                 async_io *wr; int what; } helper;
static int helper_run(async_task *t) {
    helper *h = (helper *)t;
    int rc, one = 41;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &h->timer, MS(h->what == 0 ? 20 : h->what == 1 ? 30
                                                                     : 25)));
    if (h->what == 0) {
        rc = async_mpsc_try_send(h->ch, &one);
        ASSERT_EQ(rc, 0);
    } else if (h->what == 2) {
        ASYNC_AWAIT(rc, async_io_write(t, h->wr, &h->w, "xy", 2));
        ASSERT_EQ(rc, 2);
    }
    ASYNC_END(7);
}

typedef struct {
    oframe o;
    async_mpsc ch;
    helper h[3];
    async_io rd, wr;
    int order[8];
} kframe;

static int every_kind(async_task *t) {
    kframe *k = (kframe *)t;
    oframe *f = &k->o;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, 8);
    f->op[0].d = MS(10); f->op[0].id = 100;
    async_opset_push(&f->set, op_sleep, &f->op[0]);
    f->op[1].ch = &k->ch;
    async_opset_push(&f->set, op_recv, &f->op[1]);
    f->op[2].child = &k->h[1].task;
    async_opset_push(&f->set, op_join, &f->op[2]);
    f->op[3].d = MS(20); f->op[3].id = 4;              /* 40 ms: two sleeps of 20 */
    async_opset_push(&f->set, op_nested, &f->op[3]);
    f->op[4].io = &k->rd;
    async_opset_push(&f->set, op_read, &f->op[4]);
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
        if (f->rc == ASYNC_ECLOSED) break;
        f->i = (int)((op_state *)f->state - f->op);
        k->order[f->n] = f->i;
        f->got[f->i] = f->result;
        f->at[f->i] = NOW();
    }
    ASYNC_END(f->n);
}

TEST(opset_every_kind_of_op) {
    async_runtime rt;
    static kframe k;
    int i;
    ZERO(k);
    start(&rt);
    if (async_mpsc_init(&k.ch, sizeof(int), 2, NULL) < 0) {     /* out of memory */
        async_runtime_destroy(&rt);
        return;
    }
    if (async_io_pipe(&rt, &k.rd, &k.wr) < 0) {
        async_mpsc_destroy(&k.ch);
        async_runtime_destroy(&rt);
        return;
    }
    for (i = 0; i < 3; i++) {
        k.h[i].what = i;
        k.h[i].ch = &k.ch;
        k.h[i].wr = &k.wr;
        async_task_spawn(&rt, &k.h[i].task, helper_run, "helper");
    }
    ASSERT_EQ(async_runtime_block_on(&rt, &k.o.task, every_kind, "kinds"), 5);
    ASSERT_EQ(k.o.got[0], 100); ASSERT_EQ(k.o.at[0], MS(10));  /* sleep */
    ASSERT_EQ(k.o.got[1], 41);  ASSERT_EQ(k.o.at[1], MS(20));  /* recv */
    ASSERT_EQ(k.o.got[4], 2);   ASSERT_EQ(k.o.at[4], MS(25));  /* read: 2 bytes */
    ASSERT_EQ(k.o.op[4].buf[0], 'x'); ASSERT_EQ(k.o.op[4].buf[1], 'y');
    ASSERT_EQ(k.o.got[2], 7);   ASSERT_EQ(k.o.at[2], MS(30));  /* join */
    ASSERT_EQ(k.o.got[3], 40);  ASSERT_EQ(k.o.at[3], MS(40));  /* nested */
    ASSERT_EQ(k.o.op[3].cleaned, 1);
    ASSERT_EQ(k.order[0], 0); ASSERT_EQ(k.order[1], 1); ASSERT_EQ(k.order[2], 4);
    ASSERT_EQ(k.order[3], 2); ASSERT_EQ(k.order[4], 3);
    async_io_close(&k.rd);
    async_io_close(&k.wr);
    async_mpsc_destroy(&k.ch);
    async_runtime_destroy(&rt);
}

/* ---- dropping the rest ----------------------------------------------------------------- */
static int drop_rest(async_task *t) {
    kframe *k = (kframe *)t;
    oframe *f = &k->o;
    ASYNC_BEGIN(t);
    if (f->ordered) async_opset_init_ordered(&f->set, f->slots, 8);
    else async_opset_init(&f->set, f->slots, 8);
    f->op[0].d = MS(5); f->op[0].id = 1;
    async_opset_push(&f->set, op_sleep, &f->op[0]);
    f->op[1].d = MS(100); f->op[1].id = 2;
    async_opset_push(&f->set, op_sleep, &f->op[1]);
    f->op[2].ch = &k->ch;                               /* nobody sends before the drop */
    async_opset_push(&f->set, op_recv, &f->op[2]);
    f->op[3].d = MS(50); f->op[3].id = 3;
    async_opset_push(&f->set, op_nested, &f->op[3]);
    f->op[4].d = MS(f->ordered ? 1 : 5); f->op[4].id = 5;   /* ordered: held, dropped */
    async_opset_push(&f->set, op_sleep, &f->op[4]);
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->result, 1);
    ASSERT_EQ(NOW(), MS(5));
    f->op[5].d = MS(1); f->op[5].id = 6;               /* pushed, never polled */
    async_opset_push(&f->set, op_sleep, &f->op[5]);
    ASSERT_EQ(async_opset_len(&f->set), 5);
    f->n = async_opset_clear(t, &f->set);
    ASSERT_EQ(async_opset_len(&f->set), 0);
    ASSERT_EQ(async_runtime_next_deadline(t->rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(t->rt->ntimers, 0);
    ASSERT_EQ(k->ch.recv_q.head == NULL, 1);
    ASSERT_EQ(f->op[2].w.state != ASYNC__W_WAITING, 1);
    /* the set is usable again */
    f->op[6].d = MS(3); f->op[6].id = 7;
    async_opset_push(&f->set, op_sleep, &f->op[6]);
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->result, 7);
    ASYNC_END(f->n);
}

static void check_drop_rest(int ordered) {
    async_runtime rt;
    static kframe k;
    int item = 9, got = 0;
    ZERO(k);
    k.o.ordered = ordered;
    start(&rt);
    if (async_mpsc_init(&k.ch, sizeof(int), 2, NULL) < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    /* cancelled: the 100 ms sleep, the recv, the nested call, and unordered the
       other 5 ms sleep (ready, but next stops at the first completion); ordered, the
       1 ms sleep finished while the oldest was pending: its result is dropped */
    ASSERT_EQ(async_runtime_block_on(&rt, &k.o.task, drop_rest, "drop"), ordered ? 3 : 4);
    ASSERT_EQ(k.o.op[1].cancels, 1);
    ASSERT_EQ(k.o.op[2].cancels, 1);
    ASSERT_EQ(k.o.op[3].cancels, 1);
    ASSERT_EQ(k.o.op[3].cleaned, 1);                    /* unwound through its cleanup */
    ASSERT_EQ(k.o.op[5].polls, 0);                      /* never polled: not touched */
    ASSERT_EQ(k.o.op[4].cancels, ordered ? 0 : 1);
    /* the cancelled receive took nothing: an item sent now stays in the channel */
    ASSERT_EQ(async_mpsc_try_send(&k.ch, &item), 0);
    ASSERT_EQ(async_mpsc_try_recv(&k.ch, &got), 0);
    ASSERT_EQ(got, 9);
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&k.ch);
    async_runtime_destroy(&rt);
}

TEST(opset_clear_cancels_and_unlinks) {
    check_drop_rest(0);
    check_drop_rest(1);
}

/* ---- which ops a next polls ------------------------------------------------------------
   Within one poll of the task, an op that said pending is polled again only after a
   wake (of any task): a sleep not due is not polled on each next, but a receive made
   ready by the task itself (its send wakes it) completes in the same poll. */
typedef struct {
    oframe o;
    async_mpsc ch;
    int polls_after_two, rc2, rc3, item;
    async_time at3;
} wframe;

static int wake_filter(async_task *t) {
    wframe *w = (wframe *)t;
    oframe *f = &w->o;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, 4);
    f->op[0].d = MS(50); f->op[0].id = 1;
    async_opset_push(&f->set, op_sleep, &f->op[0]);
    f->op[1].ch = &w->ch;
    async_opset_push(&f->set, op_recv, &f->op[1]);
    f->op[2].d = 0; f->op[2].id = 3;
    async_opset_push(&f->set, op_sleep, &f->op[2]);
    f->op[3].d = 0; f->op[3].id = 4;
    async_opset_push(&f->set, op_sleep, &f->op[3]);
    /* one poll of the task: the two ready sleeps, one next each */
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->result, 3);
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->result, 4);
    w->polls_after_two = f->op[0].polls + f->op[1].polls;      /* 1 each: not again */
    /* still the same poll: the task's own send wakes it, the receive completes now */
    w->item = 77;
    ASSERT_EQ(async_mpsc_try_send(&w->ch, &w->item), 0);
    w->rc3 = async_opset_next(t, &f->set, &f->state, &f->result);
    w->rc2 = f->result;
    w->at3 = NOW();
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->result, 1);
    ASYNC_END(0);
}

TEST(opset_polls_an_op_again_only_after_a_wake) {
    async_runtime rt;
    static wframe w;
    ZERO(w);
    start(&rt);
    if (async_mpsc_init(&w.ch, sizeof(int), 2, NULL) < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    ASSERT_EQ(async_runtime_block_on(&rt, &w.o.task, wake_filter, "filter"), 0);
    ASSERT_EQ(w.polls_after_two, 2);
    ASSERT_EQ(w.rc3, 1);                                /* the receive's slot, at once */
    ASSERT_EQ(w.rc2, 77);
    ASSERT_EQ(w.at3, 0);
    ASSERT_EQ(NOW(), MS(50));
    async_mpsc_destroy(&w.ch);
    async_runtime_destroy(&rt);
}

/* ---- a set larger than the budget ------------------------------------------------------ */
enum { BIG = 300 };
typedef struct {
    async_task task;
    async_opset set;
    async_opset_slot slots[BIG];
    op_state op[BIG];
    int i, rc, result, n, seen[BIG], other_first, other_last;
    void *state;
    int *other;
} bframe;
typedef struct { async_task task; int count, stop; } spinner;

static int spin(async_task *t) {
    spinner *s = (spinner *)t;
    ASYNC_BEGIN(t);
    while (!s->stop) {
        s->count++;
        ASYNC_YIELD();
    }
    ASYNC_END(0);
}

static int big_set(async_task *t) {
    bframe *f = (bframe *)t;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, BIG);
    for (f->i = 0; f->i < BIG; f->i++) {
        f->op[f->i].id = f->i;
        f->op[f->i].d = 0;                              /* ready at once */
        ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[f->i]), f->i);
    }
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
        if (f->rc == ASYNC_ECLOSED) break;
        if (f->n == 0) f->other_first = *f->other;
        ASSERT_EQ(f->seen[f->result], 0);
        f->seen[f->result] = 1;
        f->other_last = *f->other;
    }
    ASYNC_END(f->n);
}

TEST(opset_larger_than_the_budget) {
    async_runtime rt;
    static bframe f;
    static spinner s;
    long allocs;
    ZERO(f);
    ZERO(s);
    start(&rt);
    f.other = &s.count;
    async_task_spawn(&rt, &s.task, spin, "spinner");
    allocs = test_allocs;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, big_set, "big"), BIG);
    ASSERT_EQ(test_allocs - allocs, 0);                 /* 300 ops, no allocation */
    /* 300 completions in polls of 128 at most: the spinner ran in between */
    ASSERT_EQ(f.other_last - f.other_first >= 2, 1);
    s.stop = 1;
    async_runtime_run(&rt);
    async_runtime_destroy(&rt);
}

/* ---- the task cancelled while its set holds ops ---------------------------------------- */
static int hold_ops(async_task *t) {
    kframe *k = (kframe *)t;
    oframe *f = &k->o;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, 8);
    f->op[0].d = MS(100); f->op[0].id = 1;
    async_opset_push(&f->set, op_sleep, &f->op[0]);
    f->op[2].d = MS(60); f->op[2].id = 3;
    async_opset_push(&f->set, op_nested, &f->op[2]);
    f->op[1].ch = &k->ch;                               /* last: polled after the others */
    async_opset_push(&f->set, op_recv, &f->op[1]);
    if (f->mode == 0) {                                 /* aborted while in next */
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    } else {                                            /* aborted elsewhere: cleanup */
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(500)));
    }
    f->n = 99;                                          /* never reached */
    ASYNC_CLEANUP();
    if (f->mode == 1) {
        ASSERT_EQ(async_opset_len(&f->set), 2);         /* the ops are still there */
        f->n = async_opset_destroy(t, &f->set);
    } else {
        f->n = async_opset_len(&f->set);                /* next cleared it */
        async_opset_destroy(t, &f->set);                /* (a clock jump: it did not) */
    }
    ASYNC_END(0);
}
typedef struct { async_task task; async_timer timer; async_task *victim; } aborter;
static int abort_later(async_task *t) {
    aborter *a = (aborter *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &a->timer, MS(10)));
    (void)rc;
    async_task_abort(a->victim);
    ASYNC_END(0);
}

static void check_abort(int mode) {
    async_runtime rt;
    static kframe k;
    static aborter a;
    int rc = 0;
    ZERO(k);
    ZERO(a);
    k.o.mode = mode;
    start(&rt);
    if (async_mpsc_init(&k.ch, sizeof(int), 2, NULL) < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    if (mode == 1) {                                    /* the recv completes at once */
        int one = 1;
        async_mpsc_try_send(&k.ch, &one);
    }
    a.victim = &k.o.task;
    async_task_spawn(&rt, &k.o.task, hold_ops, "holder");
    async_task_spawn(&rt, &a.task, abort_later, "aborter");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_task_result(&k.o.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(k.o.n, mode == 0 ? 0 : 2);              /* mode 1: destroy cancelled 2 */
    ASSERT_EQ(k.o.op[0].cancels, 1);
    ASSERT_EQ(k.o.op[2].cancels, 1);
    ASSERT_EQ(k.o.op[2].cleaned, 1);
    ASSERT_EQ(k.o.op[1].cancels, mode == 0 ? 1 : 0);
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(async_runtime_next_deadline(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(k.ch.recv_q.head == NULL, 1);
    async_mpsc_destroy(&k.ch);
    async_runtime_destroy(&rt);
}

TEST(opset_task_aborted_in_next_drops_its_ops) { check_abort(0); }
TEST(opset_task_aborted_elsewhere_cleanup_destroys) { check_abort(1); }

/* ---- a timeout and a select around next: the ops stay --------------------------------- */
static int around_next(async_task *t) {
    oframe *f = (oframe *)t;
    ASYNC_BEGIN(t);
    async_opset_init(&f->set, f->slots, 2);
    f->op[0].d = MS(30); f->op[0].id = 1;
    async_opset_push(&f->set, op_sleep, &f->op[0]);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, MS(10),
                        async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(async_opset_len(&f->set), 1);
    ASSERT_EQ(f->op[0].cancels, 0);
    /* a select whose other branch wins */
    ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED)
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc,
                            async_opset_next(t, &f->set, &f->state, &f->result))
        ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc, async_time_sleep(t, &f->timer, MS(5)))
    ASYNC_SELECT_END(&f->sel);
    ASSERT_EQ(f->sel.winner, 1);
    ASSERT_EQ(NOW(), MS(15));
    ASSERT_EQ(async_opset_len(&f->set), 1);
    ASSERT_EQ(f->op[0].cancels, 0);
    ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->state, &f->result));
    ASSERT_EQ(f->rc, 0);
    ASSERT_EQ(f->result, 1);
    ASSERT_EQ(NOW(), MS(30));
    ASYNC_END(0);
}

TEST(opset_timeout_or_select_around_next_keeps_the_ops) {
    async_runtime rt;
    static oframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, around_next, "around"), 0);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* ---- bad input --------------------------------------------------------------------------- */
static int bad_input(async_task *t) {
    oframe *f = (oframe *)t;
    async_opset s;
    int rc;
    ASYNC_BEGIN(t);
    /* no slots: refused, the set left inert */
    memset(&s, 0xab, sizeof s);
    ASSERT_EQ(async_opset_init(&s, f->slots, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_init_ordered(&s, NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_push(&s, op_sleep, &f->op[0]), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_next(t, &s, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_len(&s), 0);
    ASSERT_EQ(async_opset_clear(t, &s), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_destroy(t, &s), 0);
    ASSERT_EQ(async_opset_init(NULL, f->slots, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_opset_len(NULL), ASYNC_EINVAL);
    /* a full set; a NULL fn */
    ASSERT_EQ(async_opset_init(&f->set, f->slots, 1), 0);
    ASSERT_EQ(async_opset_next(t, &f->set, NULL, NULL), ASYNC_ECLOSED);     /* empty */
    ASSERT_EQ(async_opset_push(&f->set, NULL, NULL), ASYNC_EINVAL);
    f->op[0].d = MS(5); f->op[0].id = 1;
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), 0);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[1]), ASYNC_EAGAIN);
    ASSERT_EQ(async_opset_len(&f->set), 1);
    ASSERT_EQ(async_opset_next(NULL, &f->set, NULL, NULL), ASYNC_EINVAL);
    /* destroy without a task: fine while no op was polled, EBUSY after */
    ASYNC_AWAIT(rc, async_opset_next(t, &f->set, NULL, NULL));     /* NULL outs: fine */
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), 0);
    ASSERT_EQ(async_opset_destroy(NULL, &f->set), 0);               /* never polled */
    ASSERT_EQ(async_opset_init(&f->set, f->slots, 1), 0);
    ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), 0);
    f->op[0].d = MS(50);
    ASSERT_EQ(async_opset_next(t, &f->set, NULL, NULL), ASYNC_PENDING);   /* armed */
    ASSERT_EQ(async_opset_destroy(NULL, &f->set), ASYNC_EBUSY);
    ASSERT_EQ(async_opset_len(&f->set), 1);                          /* nothing changed */
    ASSERT_EQ(async_opset_destroy(t, &f->set), 1);
    ASSERT_EQ(async_runtime_next_deadline(t->rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_opset_destroy(t, &f->set), 0);                  /* twice: harmless */
    /* allocated slots (ENOMEM under alloc faults: the set is inert) */
    rc = async_opset_init(&f->set, NULL, 4);
    if (rc == 0) {
        ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), 0);
        f->op[0].d = MS(1);
        ASYNC_AWAIT(rc, async_opset_next(t, &f->set, NULL, &f->result));
        ASSERT_EQ(f->result, 1);
        ASSERT_EQ(async_opset_destroy(t, &f->set), 0);
    } else {
        ASSERT_EQ(rc, ASYNC_ENOMEM);
        ASSERT_EQ(async_opset_push(&f->set, op_sleep, &f->op[0]), ASYNC_EINVAL);
        ASSERT_EQ(async_opset_destroy(t, &f->set), 0);
    }
    ASYNC_END(0);
}

TEST(opset_bad_input) {
    async_runtime rt;
    static oframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, bad_input, "bad"), 0);
    async_runtime_destroy(&rt);
}

/* The op set under random scripts of pushes (sleeps, receives, joins, nested calls),
   nexts (plain, timed, selected), clears, sends and aborts, unordered and ordered
   (tests/opset_model.h; also fuzzed): every op completes at most once, ordered in push
   order, never before it can; a cleared or dropped op leaves no timer armed and no
   waiter queued; every item sent is received once. */
TEST(opset_model_random_scripts) {
    test_random_scripts(opset_model_run, opset_model_why, "opset_model.h",
                        0x0b5e7a11u, 96, 20000);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(opset_completion_order);
    RUN(opset_ordered_gives_push_order);
    RUN(opset_push_while_pending);
    RUN(opset_every_kind_of_op);
    RUN(opset_clear_cancels_and_unlinks);
    RUN(opset_polls_an_op_again_only_after_a_wake);
    RUN(opset_larger_than_the_budget);
    RUN(opset_task_aborted_in_next_drops_its_ops);
    RUN(opset_task_aborted_elsewhere_cleanup_destroys);
    RUN(opset_timeout_or_select_around_next_keeps_the_ops);
    RUN(opset_bad_input);
    RUN(opset_model_random_scripts);
    DONE();
}
