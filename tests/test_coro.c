/* Coroutine layer: begin/end, yield, await of poll-style operations, nested
   async functions, generators, cleanup and cancellation unwinding, and the
   protothread traps made loud. Built in the switch form and, where the compiler
   has labels-as-values, in the computed-goto form, and as C++. */
#include "test.h"

/* A hand-written poll operation, as users write them: ready when open, else
   register the task; in cancel mode unlink and report ASYNC_ECANCELED. */
typedef struct { int open; async_task *waiter; } gate;
static int gate_wait(async_task *t, gate *g) {
    if (async_task_is_cancelling(t)) {
        if (g->waiter == t) g->waiter = NULL;
        return ASYNC_ECANCELED;
    }
    if (g->open) return 0;
    g->waiter = t;
    return ASYNC_PENDING;
}
static void gate_open(gate *g) {
    g->open = 1;
    if (g->waiter) async_task_wake(g->waiter);
    g->waiter = NULL;
}

/* ---- begin/end and the result ------------------------------------------- */
typedef struct { async_task task; int runs; } plain_frame;
static int plain(async_task *t) {
    plain_frame *f = (plain_frame *)t;
    ASYNC_BEGIN(t);
    f->runs++;
    ASYNC_END(42);
}
TEST(end_returns_value) {
    async_runtime rt;
    static plain_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, plain, "plain"), 42);
    ASSERT_EQ(f.runs, 1);
    ASSERT_EQ(async_task_state(&f.task), ASYNC_TASK_DONE);
    /* a finished task stays finished: polled again it neither reruns nor restarts */
    ASSERT_EQ(plain(&f.task), 42);
    ASSERT_EQ(f.runs, 1);
    async_runtime_destroy(&rt);
}

/* ---- yield: two tasks alternate ------------------------------------------ */
typedef struct { async_task task; int i; char tag; } yielder_frame;
static int yielder(async_task *t) {
    yielder_frame *f = (yielder_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        logf_("%c%d ", f->tag, f->i);
        ASYNC_YIELD();
    }
    ASYNC_END(0);
}
TEST(yield_alternates) {
    async_runtime rt;
    static yielder_frame a, b;
    ZERO(a); ZERO(b);
    a.tag = 'a'; b.tag = 'b';
    LOG_RESET();
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &a.task, yielder, "a");
    async_task_spawn(&rt, &b.task, yielder, "b");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "a0 b0 a1 b1 a2 b2 ");
    async_runtime_destroy(&rt);
}

/* Two awaits on one line: compiles where __COUNTER__ exists, and both count. */
typedef struct { async_task task; int n; } twice_frame;
static int twice(async_task *t) {
    twice_frame *f = (twice_frame *)t;
    ASYNC_BEGIN(t);
    f->n++; ASYNC_YIELD(); f->n++; ASYNC_YIELD(); f->n++;
    ASYNC_END(f->n);
}
TEST(two_awaits_on_one_line) {
    async_runtime rt;
    static twice_frame f;
    async_stats st;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, twice, "twice"), 3);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 3);
    async_runtime_destroy(&rt);
}

/* ---- await a poll operation ------------------------------------------------ */
typedef struct { async_task task; gate *g; int rc, after; } waiter_frame;
static int waiter(async_task *t) {
    waiter_frame *f = (waiter_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, gate_wait(t, f->g));
    f->after = 1;
    ASYNC_END(0);
}
typedef struct { async_task task; gate *g; } opener_frame;
static int opener(async_task *t) {
    opener_frame *f = (opener_frame *)t;
    ASYNC_BEGIN(t);
    gate_open(f->g);
    ASYNC_END(0);
}
TEST(await_poll_operation) {
    async_runtime rt;
    static waiter_frame w;
    static opener_frame o;
    static gate g;
    async_stats st;
    ZERO(w); ZERO(o); ZERO(g);
    w.g = o.g = &g;
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &w.task, waiter, "waiter");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(async_task_state(&w.task), ASYNC_TASK_WAITING);
    ASSERT_EQ(w.after, 0);
    ASSERT_EQ(async_runtime_step(&rt, 0), 0);          /* a waiting task is not polled */
    async_task_spawn(&rt, &o.task, opener, "opener");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(w.after, 1);
    ASSERT_EQ(w.rc, 0);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 3);                           /* waiter twice, opener once */
    async_runtime_destroy(&rt);
}

/* ---- nested async functions -------------------------------------------------- */
typedef struct { async_coro co; int id, steps; } leaf_frame;
static int leaf(async_task *t, leaf_frame *f, int id) {
    ASYNC_CORO_BEGIN(t, &f->co);
    f->id = id;
    f->steps++;
    ASYNC_YIELD();
    f->steps++;
    ASYNC_END(f->id * 10);
}
typedef struct { async_coro co; leaf_frame a, b; int ra, rb; } mid_frame;
static int mid(async_task *t, mid_frame *f, int base) {
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_AWAIT_CALL(f->ra, &f->a.co, leaf(t, &f->a, base));
    ASYNC_AWAIT_CALL(f->rb, &f->b.co, leaf(t, &f->b, base + 1));
    ASYNC_END(f->ra + f->rb);
}
typedef struct { async_task task; mid_frame m; int i, total; } nest_frame;
static int nester(async_task *t) {
    nest_frame *f = (nest_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 1; f->i <= 3; f->i++) {           /* restarted fresh each time */
        ASYNC_AWAIT_CALL(rc, &f->m.co, mid(t, &f->m, f->i));
        f->total += rc;
    }
    ASYNC_END(f->total);
}
TEST(nested_calls) {
    async_runtime rt;
    static nest_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    /* (10+20) + (20+30) + (30+40) */
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, nester, "nester"), 150);
    ASSERT_EQ(f.m.a.steps, 6);
    ASSERT_EQ(f.m.b.steps, 6);
    async_runtime_destroy(&rt);
}

/* ---- generators ------------------------------------------------------------ */
typedef struct { async_coro co; int i, n; } counter_gen;
static int counter(async_task *t, counter_gen *g, int *out) {
    ASYNC_CORO_BEGIN(t, &g->co);
    for (g->i = 1; g->i <= g->n; g->i++) {
        *out = g->i * g->i;
        ASYNC_GEN_YIELD();
        if (g->i == 2) ASYNC_YIELD();             /* a generator may also wait */
    }
    ASYNC_END(0);
}
typedef struct { async_task task; counter_gen g; int item, sum, items, after_end; } consumer_frame;
static int consumer(async_task *t) {
    consumer_frame *f = (consumer_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    f->g.n = 4;
    for (;;) {
        ASYNC_AWAIT(rc, counter(t, &f->g, &f->item));
        if (rc != ASYNC_ITEM) break;
        f->sum += f->item;
        f->items++;
    }
    /* an ended generator stays ended */
    ASYNC_AWAIT(f->after_end, counter(t, &f->g, &f->item));
    ASYNC_END(f->sum);
}
TEST(generator) {
    async_runtime rt;
    static consumer_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, consumer, "consumer"), 1 + 4 + 9 + 16);
    ASSERT_EQ(f.items, 4);
    ASSERT_EQ(f.after_end, 0);
    ASSERT_EQ(f.g.i, 5);
    async_runtime_destroy(&rt);
}

/* ---- return, cleanup, cancellation ------------------------------------------------ */
typedef struct { async_coro co; gate *g; int cleaned, cancelled; } inner_frame;
static int inner(async_task *t, inner_frame *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_AWAIT(rc, gate_wait(t, f->g));
    ASYNC_RETURN(rc + 7);
    ASYNC_CLEANUP();
    f->cleaned++;
    f->cancelled = async_task_is_cancelling(t);
    logf_("inner-cleanup ");
    ASYNC_END(-1);
}
typedef struct { async_task task; inner_frame in; int rc, cleaned, cancelled, early, after; } outer_frame;
static int outer(async_task *t) {
    outer_frame *f = (outer_frame *)t;
    ASYNC_BEGIN(t);
    if (f->early) ASYNC_RETURN(5);
    ASYNC_AWAIT_CALL(f->rc, &f->in.co, inner(t, &f->in));
    f->after = 1;
    ASYNC_CLEANUP();
    f->cleaned++;
    f->cancelled = async_task_is_cancelling(t);
    logf_("outer-cleanup ");
    ASYNC_END(f->rc);
}
TEST(return_runs_cleanup) {
    async_runtime rt;
    static outer_frame f;
    static gate g;
    ZERO(f); ZERO(g);
    f.early = 1;
    f.in.g = &g;
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, outer, "outer"), 5);
    ASSERT_EQ(f.cleaned, 1);
    ASSERT_EQ(f.cancelled, 0);
    ASSERT_EQ(f.in.cleaned, 0);                   /* never called */
    async_runtime_destroy(&rt);
}
TEST(fallthrough_runs_cleanup) {
    async_runtime rt;
    static outer_frame f;
    static gate g;
    ZERO(f); ZERO(g);
    g.open = 1;
    f.in.g = &g;
    LOG_RESET();
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, outer, "outer"), 7);
    ASSERT_STR(test_log, "inner-cleanup outer-cleanup ");
    ASSERT_EQ(f.after, 1);
    ASSERT_EQ(f.in.cancelled, 0);
    async_runtime_destroy(&rt);
}
TEST(abort_unwinds_innermost_first) {
    async_runtime rt;
    static outer_frame f;
    static gate g;
    int rc = 0;
    ZERO(f); ZERO(g);
    f.in.g = &g;
    LOG_RESET();
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &f.task, outer, "outer");
    async_runtime_run(&rt);
    CHECK(g.waiter == &f.task);
    ASSERT_EQ(async_task_abort(&f.task), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_task_result(&f.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    CHECK(g.waiter == NULL);                      /* the waiter was unlinked */
    ASSERT_STR(test_log, "inner-cleanup outer-cleanup ");
    ASSERT_EQ(f.in.cancelled, 1);
    ASSERT_EQ(f.cancelled, 1);
    ASSERT_EQ(f.after, 0);
    async_runtime_destroy(&rt);
}

/* ---- wait until a condition ---------------------------------------------------------- */
typedef struct { async_task task; int *flag; int seen; } cond_frame;
static int cond_waiter(async_task *t) {
    cond_frame *f = (cond_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_WAIT_FOR(*f->flag);
    f->seen = 1;
    ASYNC_END(0);
}
TEST(wait_until) {
    async_runtime rt;
    static cond_frame f;
    int flag = 0;
    ZERO(f);
    f.flag = &flag;
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &f.task, cond_waiter, "cond");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* blocked: nothing can wake it */
    async_task_wake(&f.task);                     /* a spurious wake re-checks and waits */
    ASSERT_EQ(async_runtime_run(&rt), 1);
    ASSERT_EQ(f.seen, 0);
    flag = 1;
    async_task_wake(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.seen, 1);
    async_runtime_destroy(&rt);
}

/* ---- the nested-switch trap ------------------------------------------------------------ */
typedef struct { async_task task; int mode, before, after, line; } switch_frame;
static int switcher(async_task *t) {
    switch_frame *f = (switch_frame *)t;
    ASYNC_BEGIN(t);
    f->before++;
    switch (f->mode) {
    case 1:
        f->line = __LINE__; ASYNC_YIELD();      /* resumes only with computed goto */
        f->after++;
        break;
    default:
        break;
    }
    ASYNC_END(f->after);
}
TEST(await_inside_switch_is_loud) {
    async_runtime rt;
    static switch_frame f;
    int rc;
    ZERO(f);
    f.mode = 1;
    async_runtime_init(&rt, NULL);
    rc = async_runtime_block_on(&rt, &f.task, switcher, "switcher");
    ASSERT_EQ(f.before, 1);                       /* never restarted */
#ifdef ASYNC_USE_COMPUTED_GOTO
    ASSERT_EQ(rc, 1);
    ASSERT_EQ(test_asserts, 0);
#else
    ASSERT_EQ(rc, ASYNC_ELOST);                   /* never silently ended */
    ASSERT_EQ(f.after, 0);
    ASSERT_EQ(test_asserts, 1);
    ASSERT_HAS(test_assert_msg, "lost resume point");
    {   /* it names the user's await (file:line) and the task */
        char site[128];
        snprintf(site, sizeof site, "%s:%d: ", __FILE__, f.line);
        ASSERT_HAS(test_assert_msg, site);
        ASSERT_HAS(test_assert_msg, "\"switcher\"");
    }
#endif
    async_runtime_destroy(&rt);
}

typedef struct { async_task task; } bad_end_frame;
static int bad_end(async_task *t) {
    ASYNC_BEGIN(t);
    ASYNC_END(ASYNC_PENDING);
}
TEST(finishing_with_pending_asserts) {
    async_runtime rt;
    static bad_end_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, bad_end, "bad"), ASYNC_ESTATE);
    ASSERT_EQ(test_asserts, 1);
    async_runtime_destroy(&rt);
}

/* A nested coroutine polled after it ended returns its result again. */
TEST(finished_coro_stays_finished) {
    async_runtime rt;
    static plain_frame host;
    static leaf_frame lf;
    int rc;
    ZERO(host); ZERO(lf);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &host.task, plain, "host");
    rc = leaf(&host.task, &lf, 4);
    ASSERT_EQ(rc, ASYNC_PENDING);
    host.task.flags = 0;                          /* forget the yield request */
    ASSERT_EQ(leaf(&host.task, &lf, 4), 40);
    ASSERT_EQ(leaf(&host.task, &lf, 9), 40);
    ASSERT_EQ(lf.steps, 2);
    async_runtime_destroy(&rt);
}

/* Cleanup is synchronous: an await there that would suspend fails the assertion and
   is cancelled on the spot; the return value set before is kept; cleanup runs once. */
typedef struct { async_task task; gate g; int cleanups, rc_in_cleanup, after; } cl_frame;
static int cleanup_awaits(async_task *t) {
    cl_frame *f = (cl_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_RETURN(42);
    ASYNC_CLEANUP();
    f->cleanups++;
    ASYNC_AWAIT(rc, gate_wait(t, &f->g));         /* would block: not allowed here */
    f->rc_in_cleanup = rc;
    ASYNC_YIELD();                                /* not allowed either: skipped */
    f->after = 1;
    ASYNC_END(-1);
}
TEST(await_in_cleanup_cannot_suspend) {
    async_runtime rt;
    static cl_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, cleanup_awaits, "cl"), 42);
    ASSERT_EQ(f.cleanups, 1);
    ASSERT_EQ(f.rc_in_cleanup, ASYNC_ECANCELED);
    CHECK(f.g.waiter == NULL);                    /* the wait was cancelled, not left */
    ASSERT_EQ(f.after, 1);
    ASSERT_EQ(test_asserts, 2);
    ASSERT_HAS(test_assert_msg, "cleanup is synchronous");
    async_runtime_destroy(&rt);
}

/* In a cancelled task's cleanup, an await gives ASYNC_ECANCELED (its operation is in
   cancel mode) and the cleanup goes on: what comes after it still runs. */
typedef struct { async_task task; gate g, g2; int rc_in_cleanup, after, cleanups; } cc_frame;
static int cancelled_cleanup(async_task *t) {
    cc_frame *f = (cc_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, gate_wait(t, &f->g));         /* aborted here */
    ASYNC_CLEANUP();
    f->cleanups++;
    ASYNC_AWAIT(rc, gate_wait(t, &f->g2));
    f->rc_in_cleanup = rc;
    f->after = 1;                                 /* e.g. free what the frame holds */
    ASYNC_END(0);
}
TEST(cancelled_cleanup_runs_past_its_awaits) {
    async_runtime rt;
    static cc_frame f;
    int res = 0, asserts0 = test_asserts;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &f.task, cancelled_cleanup, "cc");
    async_runtime_step(&rt, 0);
    CHECK(f.g.waiter != NULL);
    async_task_abort(&f.task);
    async_runtime_run(&rt);
    ASSERT_EQ(async_task_result(&f.task, &res), 0);
    ASSERT_EQ(res, ASYNC_ECANCELED);
    ASSERT_EQ(f.cleanups, 1);
    ASSERT_EQ(f.rc_in_cleanup, ASYNC_ECANCELED);
    ASSERT_EQ(f.after, 1);
    CHECK(f.g.waiter == NULL && f.g2.waiter == NULL);
    ASSERT_EQ(test_asserts, asserts0);            /* nothing tried to suspend */
    async_runtime_destroy(&rt);
}

/* A generator you stop reading: ASYNC_CORO_CANCEL unwinds it through its cleanup. */
typedef struct { async_coro co; int i, open, closed; } res_gen;
static int resource_gen(async_task *t, res_gen *g, int *out) {
    ASYNC_CORO_BEGIN(t, &g->co);
    g->open = 1;
    for (g->i = 0;; g->i++) {
        *out = g->i;
        ASYNC_GEN_YIELD();
    }
    ASYNC_CLEANUP();
    g->open = 0;
    g->closed++;
    ASYNC_END(0);
}
typedef struct { async_task task; res_gen g; int item, n; } rg_frame;
static int take_three(async_task *t) {
    rg_frame *f = (rg_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->n = 0; f->n < 3; f->n++) ASYNC_AWAIT(rc, resource_gen(t, &f->g, &f->item));
    ASYNC_CORO_CANCEL(&f->g.co, resource_gen(t, &f->g, &f->item));
    ASYNC_CORO_CANCEL(&f->g.co, resource_gen(t, &f->g, &f->item));   /* done: no-op */
    ASYNC_END(f->item);
}
TEST(generator_cancelled_early) {
    async_runtime rt;
    static rg_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, take_three, "gen"), 2);
    ASSERT_EQ(f.g.open, 0);
    ASSERT_EQ(f.g.closed, 1);
    ASSERT_EQ(test_asserts, 0);
    async_runtime_destroy(&rt);
}

/* ---- an await's rc is evaluated once -------------------------------------------------- */
typedef struct {
    async_task task; async_coro co; async_timer tm; gate g[3]; int rcs[8], i;
} once_frame;
static int yields_then_7(async_task *t, async_coro *co) {
    ASYNC_CORO_BEGIN(t, co);
    ASYNC_YIELD();
    ASYNC_END(7);
}
static int rc_once(async_task *t) {
    once_frame *f = (once_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rcs[f->i++], 5);                                 /* ready at once */
    ASYNC_AWAIT(f->rcs[f->i++], gate_wait(t, &f->g[0]));            /* suspends first */
    ASYNC_AWAIT_CALL(f->rcs[f->i++], &f->co, yields_then_7(t, &f->co));
    ASYNC_AWAIT_TIMEOUT(f->rcs[f->i++], &f->tm, ASYNC_MS(5), gate_wait(t, &f->g[1]));
    ASYNC_AWAIT(f->rcs[f->i++], gate_wait(t, &f->g[2]));            /* aborted there */
    ASYNC_END(0);
}
TEST(await_evaluates_rc_once) {
    async_runtime rt;
    static once_frame f;
    int rc = 0;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    async_time_pause(&rt, 1);
    async_task_spawn(&rt, &f.task, rc_once, "once");
    async_runtime_run(&rt);
    ASSERT_EQ(f.i, 1);                            /* the first await, once; the second waits */
    ASSERT_EQ(f.rcs[0], 5);
    gate_open(&f.g[0]);
    async_runtime_run(&rt);                       /* on to the last gate, past a timeout */
    CHECK(f.g[2].waiter == &f.task);
    ASSERT_EQ(f.i, 4);
    ASSERT_EQ(async_task_abort(&f.task), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_task_result(&f.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(f.i, 5);                            /* one rc per await, whatever happened */
    ASSERT_EQ(f.rcs[1], 0);
    ASSERT_EQ(f.rcs[2], 7);
    ASSERT_EQ(f.rcs[3], ASYNC_ETIMEDOUT);
    ASSERT_EQ(f.rcs[4], ASYNC_ECANCELED);
    ASSERT_EQ(f.rcs[5], 0);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(end_returns_value);
    RUN(yield_alternates);
    RUN(two_awaits_on_one_line);
    RUN(await_poll_operation);
    RUN(nested_calls);
    RUN(generator);
    RUN(return_runs_cleanup);
    RUN(fallthrough_runs_cleanup);
    RUN(abort_unwinds_innermost_first);
    RUN(wait_until);
    RUN(await_inside_switch_is_loud);
    RUN(finishing_with_pending_asserts);
    RUN(finished_coro_stays_finished);
    RUN(await_in_cleanup_cannot_suspend);
    RUN(cancelled_cleanup_runs_past_its_awaits);
    RUN(generator_cancelled_early);
    RUN(await_evaluates_rc_once);
    DONE();
}
