/* Combinators and structured concurrency, on the paused clock: join (three 100 ms
   sleeps take 100 ms), try_join cancelling siblings, join_all, select (fair over many
   iterations, biased, guards, else, nowait, losers cancelled without losing items),
   race, composition (a timeout around a join of selects), JoinSet (completion order,
   ordered mode, abort_all while members hold locks, destroy cancels at once), scopes,
   result helpers, retry with backoff, circuit breaker, bulkhead. */
#include "test.h"
#include "joinset_model.h"
#include "select_model.h"

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

/* ---- join ------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_join js;
    async_select sel;
    async_timer tm[4], dl;
    async_waiter w[4];
    async_mpsc *ch[2];
    int rc[4], rcs[16], item[2], i, n, rc1, err, count[3];
    async_time at;
} cframe;

static int join3(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_JOIN_BEGIN(&f->js, 3, 0);
        ASYNC_JOIN_BRANCH(&f->js, 0, f->rc[0], async_time_sleep(t, &f->tm[0], MS(100)));
        ASYNC_JOIN_BRANCH(&f->js, 1, f->rc[1], async_time_sleep(t, &f->tm[1], MS(100)));
        ASYNC_JOIN_BRANCH(&f->js, 2, f->rc[2], async_time_sleep(t, &f->tm[2], MS(60)));
    ASYNC_JOIN_END(&f->js);
    f->at = NOW();
    ASYNC_END(0);
}
TEST(join_of_three_sleeps_takes_the_longest) {
    async_runtime rt;
    static cframe f;
    ZERO(f);
    start(&rt);
    async_runtime_block_on(&rt, &f.task, join3, "join");
    ASSERT_EQ(f.at, MS(100));                     /* not 260 */
    ASSERT_EQ(f.rc[0], 0); ASSERT_EQ(f.rc[1], 0); ASSERT_EQ(f.rc[2], 0);
    ASSERT_EQ(f.js.err, 0);
    async_runtime_destroy(&rt);
}

/* A failing branch: sleeps then returns an error. */
typedef struct { async_coro co; async_timer tm; int cleaned; } fail_coro;
static int fail_after(async_task *t, fail_coro *c, async_time d, int err) {
    int rc;
    ASYNC_CORO_BEGIN(t, &c->co);
    ASYNC_AWAIT(rc, async_time_sleep(t, &c->tm, d));
    ASYNC_RETURN(rc < 0 ? rc : err);
    ASYNC_CLEANUP();
    c->cleaned++;
    ASYNC_END(0);
}
typedef struct { async_task task; async_join js; fail_coro c[3]; int rc[3]; async_time at; } tjframe;
static int try_join3(async_task *t) {
    tjframe *f = (tjframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_JOIN_BEGIN(&f->js, 3, ASYNC_JOIN_FAIL_FAST);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rc[0], &f->c[0].co, fail_after(t, &f->c[0], MS(50), 1));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rc[1], &f->c[1].co, fail_after(t, &f->c[1], MS(20), ASYNC_EAGAIN));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 2, f->rc[2], &f->c[2].co, fail_after(t, &f->c[2], MS(10), 3));
    ASYNC_JOIN_END(&f->js);
    f->at = NOW();
    ASYNC_END(f->js.err);
}
TEST(try_join_cancels_siblings_on_first_error) {
    async_runtime rt;
    static tjframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, try_join3, "try_join"), ASYNC_EAGAIN);
    ASSERT_EQ(f.at, MS(20));                      /* stopped at the error, not at 50 ms */
    ASSERT_EQ(f.rc[2], 3);                        /* finished before */
    ASSERT_EQ(f.rc[0], ASYNC_ECANCELED);          /* the sibling was cancelled... */
    ASSERT_EQ(f.c[0].cleaned, 1);                 /* ...through its cleanup */
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

static int join_all_task(async_task *t) {
    cframe *f = (cframe *)t;
    static async_timer timers[16];
    ASYNC_BEGIN(t);
    memset(timers, 0, sizeof timers);
    ASYNC_JOIN_ALL(f->rcs, f->n, f->i, async_time_sleep(t, &timers[f->i], MS(10 * (f->i + 1))));
    f->at = NOW();
    ASYNC_JOIN_ALL_FAIL_FAST(f->err, f->rcs, f->n, f->i,
                             f->i == 3 ? ASYNC_EINVAL
                                       : async_time_sleep(t, &timers[f->i], MS(100)));
    f->rc1 = (int)(NOW() - f->at == 0);
    ASYNC_END(0);
}
TEST(join_all_and_try_join_all) {
    async_runtime rt;
    static cframe f;
    int i;
    ZERO(f);
    f.n = 12;
    start(&rt);
    async_runtime_block_on(&rt, &f.task, join_all_task, "join_all");
    ASSERT_EQ(f.at, MS(120));                     /* the longest of the twelve */
    ASSERT_EQ(f.err, ASYNC_EINVAL);               /* try: stopped at the error at once */
    ASSERT_EQ(f.rc1, 1);
    for (i = 0; i < 3; i++) ASSERT_EQ(f.rcs[i], ASYNC_ECANCELED);   /* pending ones cancelled */
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* ---- select --------------------------------------------------------------------------- */
static int select_two_channels(async_task *t) {   /* until both close; counts per branch */
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 2, f->n);
            ASYNC_SELECT_BRANCH(&f->sel, 0, f->rc[0] != ASYNC_ECLOSED, f->rc[0],
                                async_mpsc_recv(t, f->ch[0], &f->w[0], &f->item[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, f->rc[1] != ASYNC_ECLOSED, f->rc[1],
                                async_mpsc_recv(t, f->ch[1], &f->w[1], &f->item[1]));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == ASYNC_SELECT_ELSE) break;       /* both closed: all disabled */
        if (f->rc[f->sel.winner] == 0) {
            f->count[f->sel.winner]++;
            logf_("%d", f->sel.winner);
        }
    }
    ASYNC_END(0);
}
static void fill(async_mpsc *c, int n) {
    int i;
    for (i = 0; i < n; i++) async_mpsc_try_send(c, &i);
    async_mpsc_sender_release(c);
}
TEST(select_fair_over_many_iterations) {
    async_runtime rt;
    static cframe f;
    async_mpsc a, b;
    ZERO(f);
    async_mpsc_init(&a, sizeof(int), 0, NULL);
    async_mpsc_init(&b, sizeof(int), 0, NULL);
    fill(&a, 10000);
    fill(&b, 10000);
    f.ch[0] = &a; f.ch[1] = &b;
    f.n = ASYNC_SELECT_FAIR;
    start(&rt);
    async_runtime_block_on(&rt, &f.task, select_two_channels, "select");
    ASSERT_EQ(f.count[0], 10000);                 /* everything received: nothing lost */
    ASSERT_EQ(f.count[1], 10000);
    /* while both had items, the picks were fair: look at the first 4000 */
    {
        int zeros = 0, i;
        for (i = 0; i < 4000; i++) zeros += test_log[i] == '0';
        CHECK(zeros > 1800 && zeros < 2200);
    }
    async_mpsc_destroy(&a); async_mpsc_destroy(&b);
    async_runtime_destroy(&rt);
}
TEST(select_biased_takes_branches_in_order) {
    async_runtime rt;
    static cframe f;
    async_mpsc a, b;
    ZERO(f);
    async_mpsc_init(&a, sizeof(int), 0, NULL);
    async_mpsc_init(&b, sizeof(int), 0, NULL);
    fill(&a, 50);
    fill(&b, 50);
    f.ch[0] = &a; f.ch[1] = &b;
    f.n = ASYNC_SELECT_BIASED;
    start(&rt);
    async_runtime_block_on(&rt, &f.task, select_two_channels, "biased");
    ASSERT_EQ(strncmp(test_log, "00000000000000000000000000000000000000000000000000111", 53), 0);
    ASSERT_EQ(f.count[1], 50);
    async_mpsc_destroy(&a); async_mpsc_destroy(&b);
    async_runtime_destroy(&rt);
}

/* A select whose loser had been waiting: its waiter is unlinked and an item sent to
   it afterwards is still there. */
typedef struct { async_task task; async_mpsc *c; async_timer tm; int v; async_time d; } sender_frame;
static int delayed_send(async_task *t) {
    sender_frame *f = (sender_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->tm, f->d));
    async_mpsc_try_send(f->c, &f->v);
    ASYNC_END(rc);
}
static int select_once(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_FAIR);
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0], async_mpsc_recv(t, f->ch[0], &f->w[0], &f->item[0]));
        ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], async_mpsc_recv(t, f->ch[1], &f->w[1], &f->item[1]));
        ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2], async_time_sleep(t, &f->tm[0], MS(100)));
    ASYNC_SELECT_END(&f->sel);
    f->at = NOW();
    ASYNC_END(f->sel.winner);
}
TEST(select_losers_cancelled_without_losing_items) {
    async_runtime rt;
    static cframe f;
    static sender_frame s1, s2;
    async_mpsc a, b;
    int v = 0;
    ZERO(f); ZERO(s1); ZERO(s2);
    async_mpsc_init(&a, sizeof(int), 4, NULL);
    async_mpsc_init(&b, sizeof(int), 4, NULL);
    f.ch[0] = &a; f.ch[1] = &b;
    s1.c = &a; s1.v = 11; s1.d = MS(30);
    s2.c = &b; s2.v = 22; s2.d = MS(50);
    start(&rt);
    async_task_spawn(&rt, &s1.task, delayed_send, "s1");
    async_task_spawn(&rt, &s2.task, delayed_send, "s2");
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_once, "select"), 0);
    ASSERT_EQ(f.at, MS(30));
    ASSERT_EQ(f.item[0], 11);
    CHECK(a.recv_q.head == NULL && b.recv_q.head == NULL);   /* losers unlinked */
    ASSERT_EQ(f.tm[0].state, 0);                  /* the timer branch disarmed */
    async_runtime_run(&rt);
    ASSERT_EQ(async_mpsc_try_recv(&b, &v), 0);    /* sent after the select: still there */
    ASSERT_EQ(v, 22);
    async_mpsc_destroy(&a); async_mpsc_destroy(&b);
    async_runtime_destroy(&rt);
}

/* A loser whose waiter was already woken (its item is there) is cancelled without
   taking it, through the inline typed fast path too: cancel mode leaves no budget. */
ASYNC_MPSC_TYPED(ints, int)
static int select_typed_biased(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0], ints_recv(t, f->ch[0], &f->w[0], &f->item[0]));
        ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], ints_recv(t, f->ch[1], &f->w[1], &f->item[1]));
    ASYNC_SELECT_END(&f->sel);
    ASYNC_END(f->sel.winner);
}
static void woken_loser(int budget) {
    async_runtime rt;
    static cframe f;
    async_mpsc a, b;
    int v, res = -1;
    ZERO(f);
    async_mpsc_init(&a, sizeof(int), 4, NULL);
    async_mpsc_init(&b, sizeof(int), 4, NULL);
    f.ch[0] = &a; f.ch[1] = &b;
    f.item[1] = -1;
    if (budget) {
        async_runtime_desc d;
        ZERO(d);
        d.budget = budget;
        d.start_paused = 2;
        ASSERT_EQ(async_runtime_init(&rt, &d), 0);
        g_rt = &rt;
        g_t0 = async_time_now(&rt);
    } else {
        start(&rt);
    }
    async_task_spawn(&rt, &f.task, select_typed_biased, "select");
    async_runtime_step(&rt, 0);                   /* both branches wait */
    CHECK(a.recv_q.head != NULL && b.recv_q.head != NULL);
    v = 22;
    ASSERT_EQ(ints_try_send(&b, &v), 0);          /* wakes branch 1 ... */
    v = 11;
    ASSERT_EQ(ints_try_send(&a, &v), 0);          /* ... and branch 0, in one turn */
    async_runtime_run(&rt);
    ASSERT_EQ(async_task_result(&f.task, &res), 0);
    ASSERT_EQ(res, 0);                            /* biased: branch 0 wins */
    ASSERT_EQ(f.item[0], 11);
    ASSERT_EQ(f.item[1], -1);                     /* the loser took nothing */
    CHECK(a.recv_q.head == NULL && b.recv_q.head == NULL);
    ASSERT_EQ(ints_try_recv(&b, &v), 0);
    ASSERT_EQ(v, 22);
    async_mpsc_destroy(&a); async_mpsc_destroy(&b);
    async_runtime_destroy(&rt);
}
TEST(select_woken_loser_keeps_its_item_on_the_fast_path) {
    woken_loser(0);
    woken_loser(INT_MAX);                         /* any budget: none in cancel mode */
}

static int select_guards(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_SELECT_BEGIN(&f->sel, 2, f->n);
        ASYNC_SELECT_BRANCH(&f->sel, 0, f->count[0], f->rc[0],
                            async_time_sleep(t, &f->tm[0], MS(10)));
        ASYNC_SELECT_BRANCH(&f->sel, 1, f->count[1], f->rc[1],
                            async_time_sleep(t, &f->tm[1], MS(20)));
    ASYNC_SELECT_END(&f->sel);
    f->at = NOW();
    ASYNC_END(f->sel.winner);
}
TEST(select_guards_else_and_nowait) {
    async_runtime rt;
    static cframe f;
    start(&rt);
    ZERO(f);
    f.count[0] = 0; f.count[1] = 1;              /* branch 0 disabled */
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_guards, "guards"), 1);
    ASSERT_EQ(f.at, MS(20));
    ZERO(f);                                      /* all disabled: else, at once */
    g_t0 = async_time_now(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_guards, "else"), ASYNC_SELECT_ELSE);
    ASSERT_EQ(f.at, 0);
    ZERO(f);                                      /* nowait: nothing ready, else, cancelled */
    f.count[0] = f.count[1] = 1;
    f.n = ASYNC_SELECT_NOWAIT;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_guards, "nowait"), ASYNC_SELECT_ELSE);
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(f.tm[0].state, 0);
    async_runtime_destroy(&rt);
}

TEST(abort_task_blocked_in_select) {
    async_runtime rt;
    static cframe f;
    async_mpsc a, b;
    ZERO(f);
    async_mpsc_init(&a, sizeof(int), 4, NULL);
    async_mpsc_init(&b, sizeof(int), 4, NULL);
    f.ch[0] = &a; f.ch[1] = &b;
    start(&rt);
    async_task_spawn(&rt, &f.task, select_once, "select");
    async_runtime_step(&rt, 0);
    CHECK(a.recv_q.head && b.recv_q.head);
    ASSERT_EQ(rt.ntimers, 1);
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    CHECK(a.recv_q.head == NULL && b.recv_q.head == NULL);
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&a); async_mpsc_destroy(&b);
    async_runtime_destroy(&rt);
}

/* race, and a timeout around a join of selects (composition). */
typedef struct { async_task task; async_coro co; async_select s1; async_join js; async_timer tm[4]; int rc; async_time at; } compo;
static int race_task(async_task *t) {
    compo *f = (compo *)t;
    ASYNC_BEGIN(t);
    ASYNC_RACE2(&f->s1, f->rc, async_time_sleep(t, &f->tm[0], MS(30)), async_time_sleep(t, &f->tm[1], MS(10)));
    f->at = NOW();
    ASYNC_END(f->s1.winner);
}
static int join_of_selects(async_task *t, compo *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_JOIN_BEGIN(&f->js, 2, 0);
        ASYNC_JOIN_BRANCH(&f->js, 0, rc, async_time_sleep(t, &f->tm[0], MS(40)));
        ASYNC_JOIN_BRANCH(&f->js, 1, rc, async_time_sleep(t, &f->tm[1], MS(80)));
    ASYNC_JOIN_END(&f->js);
    ASYNC_END(0);
}
typedef struct { async_task task; compo c; async_timer dl; int rc; async_time at, limit; } outer;
static int timeout_around_join(async_task *t) {
    outer *f = (outer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->dl, f->limit, &f->c.co, join_of_selects(t, &f->c));
    f->at = NOW();
    ASYNC_END(f->rc);
}
TEST(race_and_timeout_around_a_join) {
    async_runtime rt;
    static compo c;
    static outer o;
    ZERO(c); ZERO(o);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &c.task, race_task, "race"), 1);
    ASSERT_EQ(c.at, MS(10));
    ASSERT_EQ(rt.ntimers, 0);
    g_t0 = async_time_now(&rt);
    o.limit = MS(50);
    ASSERT_EQ(async_runtime_block_on(&rt, &o.task, timeout_around_join, "t(join)"), ASYNC_ETIMEDOUT);
    ASSERT_EQ(o.at, MS(50));
    ASSERT_EQ(rt.ntimers, 0);                     /* the join's two timers were cancelled */
    ZERO(o);
    g_t0 = async_time_now(&rt);
    o.limit = MS(100);
    ASSERT_EQ(async_runtime_block_on(&rt, &o.task, timeout_around_join, "t(join) ok"), 0);
    ASSERT_EQ(o.at, MS(80));
    async_runtime_destroy(&rt);
}

/* ---- JoinSet and scopes ----------------------------------------------------------------- */
static async_mutex shared_lock;
typedef struct { async_task task; async_timer tm; async_waiter w; int id, rc, locked, cleaned, fail; async_time d; } member;
static int member_run(async_task *t) {
    member *f = (member *)t;
    ASYNC_BEGIN(t);
    if (f->locked) {
        ASYNC_AWAIT(f->rc, async_mutex_lock(t, &shared_lock, &f->w));
        f->locked = 2;                            /* holding it */
    }
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->tm, f->d));
    if (f->locked == 2) { async_mutex_unlock(&shared_lock); f->locked = 1; }
    ASYNC_RETURN(f->fail ? f->fail : f->id);
    ASYNC_CLEANUP();
    f->cleaned++;
    if (f->locked == 2) { async_mutex_unlock(&shared_lock); f->locked = 1; }
    ASYNC_END(0);
}
typedef struct { async_task task; async_joinset *js; async_waiter w; async_task *got; int rc, result, order[8], n; } reaper;
static int reap_all(async_task *t) {
    reaper *f = (reaper *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_joinset_join_next(t, f->js, &f->w, &f->got, &f->result));
        if (f->rc < 0) break;
        f->order[f->n++] = f->result;
    }
    ASYNC_END(f->rc);
}
TEST(joinset_completion_order) {
    async_runtime rt;
    async_joinset js;
    static member m[5];
    static reaper r;
    static const int ms[5] = {50, 10, 40, 20, 30};
    int i;
    ZERO(m); ZERO(r);
    start(&rt);
    ASSERT_EQ(async_joinset_init(&js, &rt), 0);
    for (i = 0; i < 5; i++) {
        m[i].id = i + 1;
        m[i].d = MS(ms[i]);
        ASSERT_EQ(async_joinset_spawn(&js, &m[i].task, member_run, "member"), 0);
    }
    ASSERT_EQ(async_joinset_len(&js), 5);
    ASSERT_EQ(async_task_join(&r.task, &m[0].task), ASYNC_EINVAL);   /* the set joins them */
    r.js = &js;
    ASSERT_EQ(async_runtime_block_on(&rt, &r.task, reap_all, "reaper"), ASYNC_ECLOSED);
    ASSERT_EQ(r.n, 5);
    ASSERT_EQ(r.order[0], 2); ASSERT_EQ(r.order[1], 4); ASSERT_EQ(r.order[2], 5);
    ASSERT_EQ(r.order[3], 3); ASSERT_EQ(r.order[4], 1);
    ASSERT_EQ(async_joinset_len(&js), 0);
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}
TEST(joinset_ordered_mode) {
    async_runtime rt;
    async_joinset js;
    async_task *ring[3];
    static member m[4];
    static reaper r;
    int i;
    ZERO(m); ZERO(r);
    start(&rt);
    ASSERT_EQ(async_joinset_init_ordered(&js, &rt, ring, 3), 0);
    for (i = 0; i < 3; i++) {
        m[i].id = i + 1;
        m[i].d = MS(30 - 10 * i);                 /* finish in reverse */
        async_joinset_spawn(&js, &m[i].task, member_run, "member");
    }
    ASSERT_EQ(async_joinset_spawn(&js, &m[3].task, member_run, "full"), ASYNC_EAGAIN);
    r.js = &js;
    async_runtime_block_on(&rt, &r.task, reap_all, "reaper");
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.order[0], 1); ASSERT_EQ(r.order[1], 2); ASSERT_EQ(r.order[2], 3);
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}
TEST(joinset_abort_all_while_members_hold_locks) {
    async_runtime rt;
    async_joinset js;
    static member m[4];
    static reaper r;
    int i;
    ZERO(m); ZERO(r);
    async_mutex_init(&shared_lock);
    start(&rt);
    async_joinset_init(&js, &rt);
    for (i = 0; i < 4; i++) {
        m[i].id = i + 1;
        m[i].locked = 1;
        m[i].d = MS(100);
        async_joinset_spawn(&js, &m[i].task, member_run, "locker");
    }
    async_runtime_step(&rt, 0);                   /* one holds the lock, three wait */
    ASSERT_EQ(async_mutex_is_locked(&shared_lock), 1);
    ASSERT_EQ(async_joinset_abort_all(&js), 4);
    r.js = &js;
    async_runtime_block_on(&rt, &r.task, reap_all, "reaper");
    ASSERT_EQ(r.n, 4);
    for (i = 0; i < 4; i++) ASSERT_EQ(r.order[i], ASYNC_ECANCELED);
    ASSERT_EQ(async_mutex_is_locked(&shared_lock), 0);    /* released by the cleanup */
    CHECK(shared_lock.q.head == NULL);
    ASSERT_EQ(rt.ntimers, 0);
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}
TEST(joinset_destroy_cancels_now_and_frees) {
    async_runtime rt;
    async_joinset js;
    static member m[2];
    async_task *a = NULL, *b = NULL;
    long frees0 = test_frees;
    ZERO(m);
    start(&rt);
    async_joinset_init(&js, &rt);
    m[0].d = MS(100);
    m[1].d = 0;
    async_joinset_spawn(&js, &m[0].task, member_run, "slow");
    async_joinset_spawn(&js, &m[1].task, member_run, "quick");
    if (async_joinset_spawn_alloc(&js, member_run, sizeof(member), "alloc-slow", &a) == 0)
        ((member *)a)->d = MS(100);
    async_joinset_spawn_alloc(&js, member_run, sizeof(member), "alloc-quick", &b);
    async_runtime_step(&rt, 0);                   /* the quick ones finish, unjoined */
    ASSERT_EQ(async_joinset_destroy(&js), 2);     /* the two slow ones, cancelled now */
    ASSERT_EQ(m[0].cleaned, 1);                   /* already, before the next poll */
    ASSERT_EQ(async_task_state(&m[0].task), ASYNC_TASK_DONE);
    ASSERT_EQ(test_frees - frees0, 2);            /* both allocated frames */
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

/* A scope: an owner that cannot finish before its members have; aborting the owner
   cancels them through the owner's cleanup. */
typedef struct { async_task task; async_joinset js; async_waiter w; member m[3]; int rc, made; } scope_owner;
static int scoped(async_task *t) {
    scope_owner *f = (scope_owner *)t;
    int i;
    ASYNC_BEGIN(t);
    async_joinset_init(&f->js, async_task_runtime(t));
    f->made = 1;
    for (i = 0; i < 3; i++) {
        f->m[i].id = i + 1;
        f->m[i].d = MS(10 * (i + 1));
        f->m[i].fail = i == 1 ? ASYNC_EAGAIN : 0;
        async_joinset_spawn(&f->js, &f->m[i].task, member_run, "scoped");
    }
    ASYNC_AWAIT(f->rc, async_joinset_wait_all(t, &f->js, &f->w));
    ASYNC_CLEANUP();
    if (f->made) async_joinset_destroy(&f->js);  /* members die with the frame: now */
    ASYNC_END(f->rc);
}
TEST(scope_waits_for_all_and_dies_with_owner) {
    async_runtime rt;
    static scope_owner o;
    ZERO(o);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &o.task, scoped, "scope"), ASYNC_EAGAIN);
    ASSERT_EQ(NOW(), MS(30));                     /* it waited for the last member */
    ZERO(o);
    g_t0 = async_time_now(&rt);
    async_task_spawn(&rt, &o.task, scoped, "scope2");
    async_runtime_step(&rt, 0);
    async_task_abort(&o.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&o.task), ASYNC_TASK_DONE);
    ASSERT_EQ(o.m[0].cleaned + o.m[1].cleaned + o.m[2].cleaned, 3);
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(rt.live, 0);                        /* nothing outlived the scope */
    async_runtime_destroy(&rt);
}

/* ---- regressions from review ------------------------------------------------------------ */
TEST(joinset_members_are_not_joined_directly) {
    async_runtime rt;
    async_joinset js;
    static member m;
    static reaper r;
    async_task *a = NULL, *got = NULL;
    int result = 0;
    ZERO(m); ZERO(r);
    start(&rt);
    async_joinset_init(&js, &rt);
    m.id = 7;
    async_joinset_spawn(&js, &m.task, member_run, "m");
    async_joinset_spawn_alloc(&js, member_run, sizeof(member), "a", &a);
    async_runtime_run(&rt);                       /* both finished, not reaped */
    ASSERT_EQ(async_task_join(&r.task, &m.task), ASYNC_EINVAL);   /* the set's, even done */
    ASSERT_EQ(async_task_join(&r.task, a), ASYNC_EINVAL);
    r.js = &js;
    async_runtime_block_on(&rt, &r.task, reap_all, "reaper");
    ASSERT_EQ(r.n, 2);                            /* each delivered once */
    (void)got; (void)result;
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}

typedef struct { async_coro co; int started; } probe_coro;
static int probe(async_task *t, probe_coro *c, int fail) {
    ASYNC_CORO_BEGIN(t, &c->co);
    c->started++;
    if (fail) ASYNC_RETURN(ASYNC_EINVAL);
    ASYNC_YIELD();
    ASYNC_END(1);
}
typedef struct { async_task task; async_join js; probe_coro p[4]; int rc[4], rcs[4], i, err; } probe_frame;
static int try_join_probes(async_task *t) {
    probe_frame *f = (probe_frame *)t;
    ASYNC_BEGIN(t);
    f->rc[0] = f->rc[1] = f->rc[2] = 12345;
    ASYNC_JOIN_BEGIN(&f->js, 3, ASYNC_JOIN_FAIL_FAST | ASYNC_SELECT_BIASED);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rc[0], &f->p[0].co, probe(t, &f->p[0], 1));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rc[1], &f->p[1].co, probe(t, &f->p[1], 0));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 2, f->rc[2], &f->p[2].co, probe(t, &f->p[2], 0));
    ASYNC_JOIN_END(&f->js);
    ASYNC_END(f->js.err);
}
static int try_join_all_probes(async_task *t) {
    probe_frame *f = (probe_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_JOIN_ALL_FAIL_FAST(f->err, f->rcs, 4, f->i,
                             (f->p[f->i].co.lc = 0, probe(t, &f->p[f->i], f->i == 0)));
    ASYNC_END(f->err);
}
TEST(try_join_never_started_branches) {
    async_runtime rt;
    static probe_frame f;
    int i;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, try_join_probes, "tj"), ASYNC_EINVAL);
    ASSERT_EQ(f.rc[1], ASYNC_ECANCELED);          /* not left stale */
    ASSERT_EQ(f.rc[2], ASYNC_ECANCELED);
    ASSERT_EQ(f.p[1].started + f.p[2].started, 0);   /* and never started */
    ZERO(f);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, try_join_all_probes, "tja"), ASYNC_EINVAL);
    ASSERT_EQ(f.p[0].started, 1);
    for (i = 1; i < 4; i++) {
        ASSERT_EQ(f.p[i].started, 0);             /* not started only to be cancelled */
        ASSERT_EQ(f.rcs[i], ASYNC_ECANCELED);
    }
    async_runtime_destroy(&rt);
}

/* Every guard is evaluated before any branch is polled, as tokio::select!. */
static int guard_count;
static int counted_guard(int v) { guard_count++; return v; }
static int select_guard_order(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_BIASED);
        ASYNC_SELECT_BRANCH(&f->sel, 0, counted_guard(1), f->rc[0],
                            async_time_sleep(t, &f->tm[0], 0));
        ASYNC_SELECT_BRANCH(&f->sel, 1, counted_guard(f->rc[0] != 0), f->rc[1],
                            async_time_sleep(t, &f->tm[1], 0));
        ASYNC_SELECT_BRANCH(&f->sel, 2, counted_guard(0), f->rc[2],
                            async_time_sleep(t, &f->tm[2], 0));
    ASYNC_SELECT_END(&f->sel);
    ASYNC_END(f->sel.winner);
}
TEST(select_guards_all_evaluated_first) {
    async_runtime rt;
    static cframe f;
    ZERO(f);
    f.rc[0] = 5;                                  /* branch 1's guard sees this, not 0 */
    guard_count = 0;
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_guard_order, "guards"), 0);
    ASSERT_EQ(guard_count, 3);                    /* all three, though branch 0 won */
    ASSERT_EQ(f.sel.enabled, 3);                  /* branch 2 disabled; 1 saw rc[0] = 5 */
    async_runtime_destroy(&rt);
}

/* wait_all: an error from a cancelled wait does not leak into the next one. */
typedef struct { async_task task; async_joinset js; async_waiter w; async_timer dl; member m[2]; int rc, stage; } waf;
static int wait_all_twice(async_task *t) {
    waf *f = (waf *)t;
    ASYNC_BEGIN(t);
    async_joinset_init(&f->js, async_task_runtime(t));
    f->m[0].fail = ASYNC_EAGAIN;
    f->m[1].d = MS(100);
    async_joinset_spawn(&f->js, &f->m[0].task, member_run, "fails");
    async_joinset_spawn(&f->js, &f->m[1].task, member_run, "slow");
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->dl, MS(10), async_joinset_wait_all(t, &f->js, &f->w));
    f->stage = f->rc;                             /* timed out, having seen the failure */
    async_joinset_destroy(&f->js);
    async_joinset_init(&f->js, async_task_runtime(t));
    ZERO(f->m[0]);
    f->m[0].id = 1;
    async_joinset_spawn(&f->js, &f->m[0].task, member_run, "ok");
    ASYNC_AWAIT(f->rc, async_joinset_wait_all(t, &f->js, &f->w));
    async_joinset_destroy(&f->js);
    ASYNC_END(f->rc);
}
TEST(wait_all_no_stale_error) {
    async_runtime rt;
    static waf f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, wait_all_twice, "wait_all"), 0);
    ASSERT_EQ(f.stage, ASYNC_ETIMEDOUT);
    async_runtime_destroy(&rt);
}

TEST(backoff_ranges_seeds_and_reuse) {
    async_backoff a, b;
    async_time d, lo = ASYNC_TIME_NEVER, hi = 0;
    int i, same = 0;
    async_backoff_init(&a, ASYNC_SEC(60), ASYNC_SEC(60), 0);
    a.jitter = ASYNC_JITTER_EQUAL;
    for (i = 0; i < 2000; i++) {
        ASSERT_EQ(async_backoff_next(&a, (async_time)i, ASYNC_EAGAIN, &d), 0);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    CHECK(lo >= ASYNC_SEC(30) && hi <= ASYNC_SEC(60));
    CHECK(hi - lo > ASYNC_SEC(25));               /* the whole [d/2, d], not 4 s of it */
    async_backoff_init(&a, ASYNC_SEC(1), ASYNC_TIME_NEVER, 0);   /* no cap: no wrap to 0 */
    for (i = 0; i < 100; i++) {
        ASSERT_EQ(async_backoff_next(&a, 0, ASYNC_EAGAIN, &d), 0);
        if (i > 40) CHECK(d > ASYNC_SEC(1));
    }
    async_backoff_init(&a, ASYNC_MS(10), ASYNC_SEC(10), 0);   /* two clients failing together */
    async_backoff_init(&b, ASYNC_MS(10), ASYNC_SEC(10), 0);
    for (i = 0; i < 8; i++) {
        async_time da, db;
        async_backoff_next(&a, MS(5), ASYNC_EAGAIN, &da);
        async_backoff_next(&b, MS(5), ASYNC_EAGAIN, &db);
        same += da == db;
        ASSERT_EQ(a.last_delay, da);
    }
    CHECK(same < 8);                              /* they do not retry in step */
    ASSERT_EQ(async_backoff_reset(&a), 0);
    ASSERT_EQ(a.attempts, 0);
}

/* ---- result helpers, retry, breaker, bulkhead ------------------------------------------- */
typedef struct { async_coro co; int calls, fail_until; async_timer tm; } flaky;
static int flaky_call(async_task *t, flaky *c) {
    int rc;
    ASYNC_CORO_BEGIN(t, &c->co);
    c->calls++;
    ASYNC_AWAIT(rc, async_time_sleep(t, &c->tm, MS(1)));
    ASYNC_RETURN(c->calls < c->fail_until ? ASYNC_EAGAIN : c->calls);
    ASYNC_END(rc);
}
typedef struct { async_task task; flaky fl; async_backoff b; async_timer tm; int rc, tried, then_fail; async_time at; } retry_frame;
static int retrier(async_task *t) {
    retry_frame *f = (retry_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_RETRY_CALL(f->rc, &f->b, &f->tm, &f->fl.co, flaky_call(t, &f->fl));
    f->at = NOW();
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT_OR_RETURN(f->rc, async_time_sleep(t, &f->tm, 0)); /* succeeds: carries on */
    f->tried = 1;
    f->fl.fail_until = f->then_fail;
    ASYNC_AWAIT_CALL_OR_RETURN(f->rc, &f->fl.co, flaky_call(t, &f->fl)); /* may return early */
    f->tried = 2;
    ASYNC_END(f->rc);
}
TEST(retry_with_backoff) {
    async_runtime rt;
    static retry_frame f;
    async_time d;
    int i;
    ZERO(f);
    start(&rt);
    async_backoff_init(&f.b, MS(10), MS(25), 5);
    f.b.jitter = ASYNC_JITTER_NONE;
    f.fl.fail_until = 4;
    f.then_fail = 100;                            /* the call after the retry fails */
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, retrier, "retry"), ASYNC_EAGAIN);
    ASSERT_EQ(f.fl.calls, 5);
    ASSERT_EQ(f.tried, 1);                        /* ASYNC_AWAIT_CALL_OR_RETURN returned early */
    /* 4 calls of 1 ms, waits of 10, 20, 25 (capped) */
    ASSERT_EQ(f.at, MS(4 + 10 + 20 + 25));
    f.fl.calls = 0;                               /* the same backoff again: a fresh count */
    f.fl.fail_until = 3;
    f.then_fail = 0;
    f.tried = 0;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, retrier, "again"), 4);
    ASSERT_EQ(f.tried, 2);
    ZERO(f);                                      /* attempts run out: the last error */
    async_backoff_init(&f.b, MS(1), MS(1), 3);
    f.fl.fail_until = 100;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, retrier, "exhausted"), ASYNC_EAGAIN);
    ASSERT_EQ(f.fl.calls, 3);
    ASSERT_EQ(f.tried, 0);
    /* the backoff itself: full jitter stays in range, deadline, not retryable */
    async_backoff_init(&f.b, MS(10), MS(1000), 0);
    for (i = 0; i < 8; i++) {
        ASSERT_EQ(async_backoff_next(&f.b, 0, ASYNC_EAGAIN, &d), 0);
        CHECK(d <= MS(10) << i && d <= MS(1000));
    }
    f.b.deadline = MS(5);                         /* no jitter: the delay is 1000 ms, past it */
    f.b.jitter = ASYNC_JITTER_NONE;
    ASSERT_EQ(async_backoff_next(&f.b, MS(1), ASYNC_EAGAIN, &d), ASYNC_ETIMEDOUT);
    f.b.deadline = MS(1001);                      /* exactly at the deadline: allowed */
    ASSERT_EQ(async_backoff_next(&f.b, MS(1), ASYNC_EAGAIN, &d), 0);
    ASSERT_EQ(d, MS(1000));
    ASSERT_EQ(async_backoff_next(&f.b, 0, ASYNC_ECANCELED, &d), ASYNC_ELIMIT);
    ASSERT_EQ(async_backoff_init(&f.b, 0, 1, 1), ASYNC_EINVAL);
    ASSERT_EQ(ASYNC_OR_ELSE(ASYNC_EAGAIN, 7), 7);
    ASSERT_EQ(ASYNC_MAP(3, 3 * 2), 6);
    ASSERT_EQ(ASYNC_MAP(ASYNC_EINVAL, 99), ASYNC_EINVAL);
    {
        ASYNC_RESULT(double) r;
        r.status = 0;
        r.value = 2.5;
        CHECK(ASYNC_IS_OK(r) && r.value == 2.5);
    }
    async_runtime_destroy(&rt);
}

/* ---- typed results ------------------------------------------------------------- */

enum { TR_EIO = -1001, TR_EPROTO = -1002, TR_ENOENT = -1003 };    /* a user's own codes */

/* A nested async function with a typed value: doubles x after a sleep, or fails. */
typedef struct { async_coro co; async_timer tm; double value; int calls; } twice_frame;
static int twice(async_task *t, twice_frame *c, double x, int fail) {
    int rc;
    ASYNC_CORO_BEGIN(t, &c->co);
    c->calls++;
    ASYNC_AWAIT(rc, async_time_sleep(t, &c->tm, MS(1)));
    ASYNC_OK_OR_RETURN(rc);
    if (fail) ASYNC_RETURN(fail);
    c->value = 2 * x;
    ASYNC_END(0);
}

/* A task with a typed value in its frame. */
typedef struct { async_task task; twice_frame c; double value; int fail; } twice_task;
static int twice_task_fn(async_task *t) {
    twice_task *f = (twice_task *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_CALL_INTO(rc, f->value, &f->c, twice(t, &f->c, 1.25, f->fail), value);
    ASYNC_END(rc);
}

typedef struct {
    async_task task;
    twice_frame c;
    twice_task child, bad;
    async_timer tm;
    double v, joined, untouched;
    int rc, step, mapped, chained, recovered, errs[4];
} results_frame;

static int results_body(async_task *t) {
    results_frame *f = (results_frame *)t;
    ASYNC_BEGIN(t);
    /* into: the value after a success, nothing after an error */
    ASYNC_AWAIT_CALL_INTO(f->rc, f->v, &f->c, twice(t, &f->c, 4.0, 0), value);
    ASSERT_EQ(f->rc, 0);
    CHECK(f->v == 8.0);
    f->untouched = -1;
    ASYNC_AWAIT_CALL_INTO(f->rc, f->untouched, &f->c, twice(t, &f->c, 5.0, TR_EIO), value);
    ASSERT_EQ(f->rc, TR_EIO);
    CHECK(f->untouched == -1);
    ASSERT_EQ(f->c.calls, 2);                   /* restarted each time, not the old result */
    /* a task's typed value, joined in one line */
    async_task_spawn(t->rt, &f->child.task, twice_task_fn, "typed");
    ASYNC_JOIN_INTO(f->rc, f->joined, &f->child, value);
    ASSERT_EQ(f->rc, 0);
    CHECK(f->joined == 2.5);
    f->bad.fail = TR_EPROTO;
    f->untouched = -1;
    async_task_spawn(t->rt, &f->bad.task, twice_task_fn, "typed, failing");
    ASYNC_JOIN_INTO(f->rc, f->untouched, &f->bad, value);
    ASSERT_EQ(f->rc, TR_EPROTO);
    CHECK(f->untouched == -1);
    /* map_err, and_then, or_else with awaits */
    ASSERT_EQ(ASYNC_MAP_ERR(ASYNC_ETIMEDOUT, -1001), -1001);
    ASSERT_EQ(ASYNC_MAP_ERR(5, -1001), 5);
    f->rc = 3;
    ASYNC_AND_THEN(f->rc, async_time_sleep(t, &f->tm, MS(1)));    /* ran: its 0 */
    ASSERT_EQ(f->rc, 0);
    f->rc = ASYNC_EAGAIN;
    ASYNC_AND_THEN(f->rc, async_time_sleep(t, &f->tm, MS(1000000)));  /* skipped */
    ASSERT_EQ(f->rc, ASYNC_EAGAIN);
    ASYNC_OR_ELSE_AWAIT(f->rc, async_time_sleep(t, &f->tm, MS(1)));   /* recovered */
    ASSERT_EQ(f->rc, 0);
    ASYNC_OR_ELSE_AWAIT(f->rc, async_time_sleep(t, &f->tm, MS(1000000))); /* skipped */
    ASSERT_EQ(f->rc, 0);
    f->c.calls = 0;
    ASYNC_AND_THEN_CALL(f->rc, &f->c.co, twice(t, &f->c, 1.0, 0));
    ASYNC_AND_THEN_CALL(f->rc, &f->c.co, twice(t, &f->c, 3.0, TR_EIO));
    ASSERT_EQ(f->rc, TR_EIO);
    ASYNC_AND_THEN_CALL(f->rc, &f->c.co, twice(t, &f->c, 7.0, 0));   /* skipped */
    ASSERT_EQ(f->c.calls, 2);
    ASYNC_OR_ELSE_CALL(f->rc, &f->c.co, twice(t, &f->c, 7.0, 0));    /* recovered */
    ASSERT_EQ(f->rc, 0);
    CHECK(f->c.value == 14.0);
    ASSERT_EQ(f->c.calls, 3);
    /* ? on a status in hand: the body ends here with it */
    f->step = 1;
    f->rc = TR_ENOENT;
    ASYNC_OK_OR_RETURN(f->rc);
    f->step = 2;
    ASYNC_END(0);
}

/* Typed results (issue 17): the value in the frame, the status as the result; each
   helper on success and on error, through the test harness. */
static char tr_log[4096];
static void tr_capture(void *user, const char *line) {
    (void)user;
    strncat(tr_log, line, sizeof tr_log - strlen(tr_log) - 1);
}

TEST(typed_results_and_chains) {
    async_runtime_desc d;
    ZERO(d);
    d.start_paused = 2;
    d.log = tr_capture;
    tr_log[0] = 0;
    ASSERT_EQ(async_test_run(results_body, sizeof(results_frame), "results", &d), TR_ENOENT);
    ASSERT_HAS(tr_log, "async.h: test \"results\": returned -1003");
}

TEST(circuit_breaker) {
    async_breaker cb;
    async_time now = MS(1000);
    ASSERT_EQ(async_breaker_init(&cb, 3, MS(100), 1), 0);
    ASSERT_EQ(async_breaker_allow(&cb, now), 0);
    async_breaker_record(&cb, now, ASYNC_EAGAIN);
    async_breaker_record(&cb, now, 0);            /* a success resets the count */
    async_breaker_record(&cb, now, ASYNC_EAGAIN);
    async_breaker_record(&cb, now, ASYNC_EAGAIN);
    ASSERT_EQ(async_breaker_state(&cb, now), ASYNC_BREAKER_CLOSED);
    async_breaker_record(&cb, now, ASYNC_ETIMEDOUT);        /* the third in a row */
    ASSERT_EQ(async_breaker_state(&cb, now), ASYNC_BREAKER_OPEN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(50)), ASYNC_EREJECTED);
    ASSERT_EQ(async_breaker_state(&cb, now + MS(100)), ASYNC_BREAKER_HALF_OPEN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), 0);           /* one trial */
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(101)), ASYNC_EREJECTED);
    async_breaker_record(&cb, now + MS(110), ASYNC_EAGAIN);         /* trial failed */
    ASSERT_EQ(async_breaker_state(&cb, now + MS(150)), ASYNC_BREAKER_OPEN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(210)), 0);
    async_breaker_record(&cb, now + MS(215), 0);                     /* trial succeeded */
    ASSERT_EQ(async_breaker_state(&cb, now + MS(215)), ASYNC_BREAKER_CLOSED);
    ASSERT_EQ(async_breaker_init(&cb, 0, MS(1), 1), ASYNC_EINVAL);
}

typedef struct { async_task task; async_bulkhead *b; async_waiter w; async_timer tm; int rc, id; } bh_frame;
static int bh_client(async_task *t) {
    bh_frame *f = (bh_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_bulkhead_enter(t, f->b, &f->w));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    logf_("in%d@%d ", f->id, (int)(NOW() / MS(1)));
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->tm, MS(10)));
    async_bulkhead_leave(f->b);
    ASYNC_END(0);
}
TEST(bulkhead_rejects_when_full) {
    async_runtime rt;
    async_bulkhead b;
    static bh_frame f[5];
    int i;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_bulkhead_init(&b, 2, 1), 0);  /* 2 at a time, 1 may queue */
    for (i = 0; i < 5; i++) {
        f[i].b = &b;
        f[i].id = i;
        async_task_spawn(&rt, &f[i].task, bh_client, "client");
    }
    async_runtime_step(&rt, 0);
    ASSERT_EQ(b.queued, 1);
    async_task_abort(&f[2].task);                 /* the queued one gives up its place */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(b.queued, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f[3].rc, ASYNC_EREJECTED);
    ASSERT_EQ(f[4].rc, ASYNC_EREJECTED);
    ASSERT_STR(test_log, "in0@0 in1@0 ");
    ASSERT_EQ(async_semaphore_available_permits(&b.sem), 2);
    async_runtime_destroy(&rt);
}

/* ---- bad arguments and edges --------------------------------------------------------- */
TEST(comb_bad_arguments) {
    async_runtime rt, zero;
    async_joinset js, dead;
    async_task *ring[2], *out = (async_task *)&rt;
    static member m;
    static reaper r;
    async_backoff b;
    async_breaker cb;
    async_bulkhead bh;
    async_waiter w;
    async_time d = 7;
    int res = -1;
    ZERO(zero); ZERO(m); ZERO(r); ZERO(w); ZERO(dead);
    start(&rt);
    /* JoinSet */
    ASSERT_EQ(async_joinset_init(NULL, &rt), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_init(&js, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_init(&js, &zero), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_init_ordered(&js, &rt, NULL, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_init_ordered(&js, &rt, ring, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_init_ordered(&js, &zero, ring, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_spawn(NULL, &m.task, member_run, "m"), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_spawn(&dead, &m.task, member_run, "m"), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_spawn_alloc(NULL, member_run, sizeof(member), "m", &out), ASYNC_EINVAL);
    CHECK(out == NULL);
    ASSERT_EQ(async_joinset_spawn_alloc(&dead, member_run, sizeof(member), "m", NULL),
              ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_join_next(NULL, &dead, &w, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_join_next(&r.task, NULL, &w, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_join_next(&r.task, &dead, NULL, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_join_next(&r.task, &dead, &w, NULL, &res), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_wait_all(NULL, &dead, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_wait_all(&r.task, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_wait_all(&r.task, &dead, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_len(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_abort_all(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_abort_all(&dead), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_detach_all(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_detach_all(&dead), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_joinset_destroy(&dead), ASYNC_EINVAL);      /* destroyed, or never made */
    ASSERT_EQ(res, -1);
    ASSERT_EQ(async_task_state(&m.task), ASYNC_TASK_IDLE);       /* nothing was spawned */
    /* a spawn that fails leaves the set as it was */
    async_joinset_init(&js, &rt);
    ASSERT_EQ(async_joinset_spawn(&js, &m.task, NULL, "m"), ASYNC_EINVAL);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_joinset_spawn_alloc(&js, member_run, sizeof(member), "m", &out), ASYNC_ENOMEM);
    CHECK(out == NULL);
    ASSERT_EQ(async_joinset_len(&js), 0);
    ASSERT_EQ(async_joinset_destroy(&js), 0);
    ASSERT_EQ(async_joinset_destroy(&js), ASYNC_EINVAL);         /* twice */
    /* backoff, breaker, bulkhead */
    ASSERT_EQ(async_backoff_init(NULL, 1, 2, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_backoff_init(&b, 5, 4, 0), ASYNC_EINVAL);    /* max below base */
    async_backoff_init(&b, 5, 10, 0);
    ASSERT_EQ(async_backoff_reset(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_backoff_next(NULL, 0, ASYNC_EAGAIN, &d), ASYNC_EINVAL);
    ASSERT_EQ(async_backoff_next(&b, 0, ASYNC_EAGAIN, NULL), ASYNC_EINVAL);
    ASSERT_EQ(b.attempts, 0);
    ASSERT_EQ(d, 7);
    ASSERT_EQ(async_breaker_init(NULL, 1, 1, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_breaker_init(&cb, 2, 1, 1), 0);
    ASSERT_EQ(async_breaker_state(NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_breaker_allow(NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_breaker_record(NULL, 0, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_breaker_record(&cb, 0, ASYNC_EAGAIN), ASYNC_BREAKER_CLOSED);   /* 1 of 2 */
    ASSERT_EQ(async_bulkhead_init(NULL, 1, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bulkhead_init(&bh, 0, 1), ASYNC_EINVAL);
    async_bulkhead_init(&bh, 1, 1);
    ASSERT_EQ(async_bulkhead_enter(NULL, &bh, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bulkhead_enter(&r.task, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bulkhead_enter(&r.task, &bh, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_bulkhead_leave(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_bulkhead_leave(&bh), ASYNC_EINVAL);          /* nobody is inside */
    ASSERT_EQ(async_semaphore_available_permits(&bh.sem), 1);
    ASSERT_EQ(bh.queued, 0);
    async_runtime_destroy(&rt);
}

static int reap_one(async_task *t) {
    reaper *f = (reaper *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_joinset_join_next(t, f->js, &f->w, &f->got, NULL));
    ASYNC_END(f->rc);
}
/* An ordered set's ring wraps around: members come back in spawn order across the
   end of the ring; join_next may leave out the result; a full ring refuses an
   allocated spawn too. */
TEST(joinset_ordered_ring_wraps) {
    async_runtime rt;
    async_joinset js;
    async_task *ring[2], *a = NULL;
    static member m[3];
    static reaper r;
    int i;
    ZERO(m); ZERO(r);
    start(&rt);
    ASSERT_EQ(async_joinset_init_ordered(&js, &rt, ring, 2), 0);
    for (i = 0; i < 2; i++) {
        m[i].id = i + 1;
        m[i].d = MS(20 - 10 * i);
        ASSERT_EQ(async_joinset_spawn(&js, &m[i].task, member_run, "m"), 0);
    }
    ASSERT_EQ(async_joinset_spawn_alloc(&js, member_run, sizeof(member), "full", &a),
              ASYNC_EAGAIN);
    CHECK(a == NULL);
    async_runtime_run(&rt);
    ASSERT_EQ(async_joinset_len(&js), 2);
    m[2].id = 3;
    m[2].d = MS(5);
    /* reap one from inside a task, then spawn into the freed slot: it wraps */
    ZERO(r);
    r.js = &js;
    {
        static reaper one;
        ZERO(one);
        one.js = &js;
        ASSERT_EQ(async_runtime_block_on(&rt, &one.task, reap_one, "one"), 0);
        ASSERT_EQ(one.got == &m[0].task, 1);     /* spawn order, though m[1] ended first */
    }
    ASSERT_EQ(async_joinset_spawn(&js, &m[2].task, member_run, "m3"), 0);
    ASSERT_EQ(async_runtime_block_on(&rt, &r.task, reap_all, "reaper"), ASYNC_ECLOSED);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.order[0], 2);
    ASSERT_EQ(r.order[1], 3);
    ASSERT_EQ(async_joinset_spawn_alloc(&js, member_run, sizeof(member), "alloc", &a), 0);
    if (a) ((member *)a)->id = 9;               /* (NULL when out of memory: faults.h) */
    ZERO(r);
    r.js = &js;
    ASSERT_EQ(async_runtime_block_on(&rt, &r.task, reap_all, "reaper"), ASYNC_ECLOSED);
    ASSERT_EQ(r.n, 1);
    ASSERT_EQ(r.order[0], 9);
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}

/* Destroy refuses a set a task waits on in join_next (ASYNC_EBUSY); abort that task
   and it works. */
TEST(joinset_destroy_while_joined_is_refused) {
    async_runtime rt;
    async_joinset js;
    static member m;
    static reaper r;
    ZERO(m); ZERO(r);
    start(&rt);
    async_joinset_init(&js, &rt);
    m.d = MS(10);
    async_joinset_spawn(&js, &m.task, member_run, "m");
    r.js = &js;
    async_task_spawn(&rt, &r.task, reap_all, "reaper");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_joinset_destroy(&js), ASYNC_EBUSY);
    ASSERT_EQ(async_joinset_len(&js), 1);
    async_task_abort(&r.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&r.task), ASYNC_TASK_DONE);
    ASSERT_EQ(async_joinset_destroy(&js), 1);     /* the member, cancelled now */
    ASSERT_EQ(m.cleaned, 1);
    async_runtime_destroy(&rt);
}

/* A member may act on its own set: abort_all from inside aborts it too (it ends
   cancelled at its next await); detach_all from inside detaches it too. */
typedef struct { async_task task; async_timer tm; async_joinset *js; int what, n, rc, after; } self_member;
static int self_member_run(async_task *t) {
    self_member *f = (self_member *)t;
    ASYNC_BEGIN(t);
    f->n = f->what == 0 ? async_joinset_abort_all(f->js) : async_joinset_detach_all(f->js);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->tm, MS(1)));
    f->after = 1;
    ASYNC_END(7);
}
TEST(joinset_member_acts_on_its_own_set) {
    async_runtime rt;
    async_joinset js;
    static self_member s;
    static member m;
    static reaper r;
    int rc = 0;
    ZERO(s); ZERO(m); ZERO(r);
    start(&rt);
    async_joinset_init(&js, &rt);
    s.js = &js;
    m.d = MS(50);
    async_joinset_spawn(&js, &m.task, member_run, "other");     /* waiting when aborted */
    async_joinset_spawn(&js, &s.task, self_member_run, "self");
    r.js = &js;
    ASSERT_EQ(async_runtime_block_on(&rt, &r.task, reap_all, "reaper"), ASYNC_ECLOSED);
    ASSERT_EQ(s.n, 2);                            /* both, itself included */
    ASSERT_EQ(s.after, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.order[0], ASYNC_ECANCELED);
    ASSERT_EQ(r.order[1], ASYNC_ECANCELED);
    ASSERT_EQ(m.cleaned, 1);
    async_joinset_destroy(&js);
    ZERO(s); ZERO(m);
    async_joinset_init(&js, &rt);
    s.js = &js;
    s.what = 1;
    m.d = MS(5);
    m.id = 4;
    async_joinset_spawn(&js, &s.task, self_member_run, "self");
    async_joinset_spawn(&js, &m.task, member_run, "other");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_joinset_len(&js), 0);         /* nothing left in the set */
    ASSERT_EQ(s.after, 1);                        /* both ran on to their end */
    ASSERT_EQ(async_task_result(&m.task, &rc), 0);
    ASSERT_EQ(rc, 4);
    ASSERT_EQ(async_joinset_destroy(&js), 0);
    async_runtime_destroy(&rt);
}

/* Aborting a task while ASYNC_RETRY sleeps between attempts cancels it there: no
   further attempt, no timer left armed. */
TEST(retry_aborted_during_backoff) {
    async_runtime rt;
    static retry_frame f;
    int rc = 0;
    ZERO(f);
    start(&rt);
    async_backoff_init(&f.b, MS(100), MS(100), 0);
    f.b.jitter = ASYNC_JITTER_NONE;
    f.fl.fail_until = 100;
    async_task_spawn(&rt, &f.task, retrier, "retry");
    async_runtime_step(&rt, 0);                   /* the first call sleeps 1 ms */
    async_time_advance(&rt, MS(1));
    async_runtime_step(&rt, 0);                   /* it failed: the backoff sleeps */
    ASSERT_EQ(f.fl.calls, 1);
    ASSERT_EQ(rt.ntimers, 1);
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_task_result(&f.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(f.fl.calls, 1);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* A retry whose attempts fail at once and whose backoff is already over when the
   timer is armed (a clock that moves on between two readings, as a real one does
   under a delay of a few nanoseconds) still yields now and then: the wait between
   attempts spends budget, as every completed sleep does. Before, 1000 attempts ran
   in one poll and the other task never ran. */
static async_time ticking_now(void *user) { return ++*(async_time *)user; }
typedef struct { async_task task; async_backoff b; async_timer tm; int rc, seen; } spin_retry;
static int spin_ticks;
static int fail_now(void) { return ASYNC_EAGAIN; }
static int spin_retrier(async_task *t) {
    spin_retry *f = (spin_retry *)t;
    ASYNC_BEGIN(t);
    ASYNC_RETRY(f->rc, &f->b, &f->tm, fail_now());
    f->seen = spin_ticks;
    ASYNC_END(f->rc);
}
static int spin_ticker(async_task *t) {
    ASYNC_BEGIN(t);
    for (;;) {
        spin_ticks++;
        ASYNC_YIELD();
    }
    ASYNC_END(0);
}
TEST(retry_backoff_spends_budget) {
    async_runtime rt;
    async_runtime_desc d;
    async_time clock = 0;
    static spin_retry f;
    static async_task ticker;
    int rc = 0;
    ZERO(f);
    ZERO(ticker);
    ZERO(d);
    spin_ticks = 0;
    d.now = ticking_now;
    d.user = &clock;
    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    ASSERT_EQ(async_backoff_init(&f.b, 1, 1, 1000), 0);     /* 1 ns, 1000 attempts */
    f.b.jitter = ASYNC_JITTER_NONE;
    async_task_spawn(&rt, &f.task, spin_retrier, "retry");
    async_task_spawn(&rt, &ticker, spin_ticker, "ticker");
    while (!async_task_is_finished(&f.task)) async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_result(&f.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_EAGAIN);                  /* every attempt failed */
    ASSERT_EQ(f.b.attempts, 999);
    CHECK(f.seen > 0);                            /* the other task ran meanwhile */
    async_task_abort(&ticker);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

/* The breaker's edges: half_open_max 0 counts as 1; with 2 trials one success is not
   enough; a failure reported while open (a call let through before) keeps it open
   for the same time; a result reported in half-open without a trial out counts. */
TEST(circuit_breaker_edges) {
    async_breaker cb;
    async_time now = MS(1000);
    ASSERT_EQ(async_breaker_init(&cb, 1, MS(100), 0), 0);
    ASSERT_EQ(async_breaker_allow(&cb, now), 0);
    ASSERT_EQ(async_breaker_allow(&cb, now), 0);                   /* two calls out */
    ASSERT_EQ(async_breaker_record(&cb, now, ASYNC_EAGAIN), ASYNC_BREAKER_OPEN);
    ASSERT_EQ(async_breaker_record(&cb, now + MS(50), ASYNC_EAGAIN), ASYNC_BREAKER_OPEN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(99)), ASYNC_EREJECTED);   /* not extended */
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), 0);               /* one trial */
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), ASYNC_EREJECTED);
    ASSERT_EQ(async_breaker_record(&cb, now + MS(101), 0), ASYNC_BREAKER_CLOSED);
    ASSERT_EQ(async_breaker_init(&cb, 1, MS(100), 2), 0);
    async_breaker_allow(&cb, now);
    async_breaker_record(&cb, now, ASYNC_EAGAIN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), 0);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), 0);               /* two trials */
    ASSERT_EQ(async_breaker_record(&cb, now + MS(101), 0), ASYNC_BREAKER_HALF_OPEN);
    ASSERT_EQ(async_breaker_record(&cb, now + MS(102), 0), ASYNC_BREAKER_CLOSED);
    ASSERT_EQ(async_breaker_init(&cb, 1, MS(100), 2), 0);
    async_breaker_record(&cb, now, ASYNC_EAGAIN);
    ASSERT_EQ(async_breaker_state(&cb, now + MS(100)), ASYNC_BREAKER_HALF_OPEN);
    ASSERT_EQ(async_breaker_allow(&cb, now + MS(100)), 0);               /* one trial out */
    ASSERT_EQ(async_breaker_record(&cb, now + MS(100), 0), ASYNC_BREAKER_HALF_OPEN);
    ASSERT_EQ(async_breaker_record(&cb, now + MS(100), 0), ASYNC_BREAKER_CLOSED);  /* none out */
    ASSERT_EQ(cb.half_open_inflight, 0);
}

/* A retryable callback decides which errors are worth another attempt. */
static int only_eagain(int rc) { return rc == ASYNC_EAGAIN; }
TEST(backoff_retryable_callback) {
    async_backoff b;
    async_time d = 0;
    async_backoff_init(&b, MS(1), MS(8), 0);
    b.jitter = ASYNC_JITTER_NONE;
    b.retryable = only_eagain;
    ASSERT_EQ(async_backoff_next(&b, 0, ASYNC_EAGAIN, &d), 0);
    ASSERT_EQ(d, MS(1));
    ASSERT_EQ(async_backoff_next(&b, 0, ASYNC_ETIMEDOUT, &d), ASYNC_ELIMIT);
    ASSERT_EQ(async_backoff_next(&b, 0, ASYNC_ECANCELED, &d), ASYNC_ELIMIT);
    ASSERT_EQ(b.attempts, 1);                     /* refusals count no attempt */
    ASSERT_EQ(async_backoff_next(&b, 0, ASYNC_EAGAIN, &d), 0);
    ASSERT_EQ(d, MS(2));
}

/* A bulkhead entered from a cleanup in cancel mode gives ASYNC_ECANCELED and takes
   no slot and no place in the queue. */
typedef struct { async_task task; async_timer tm; async_waiter w; async_bulkhead *b; int rc, enter_rc; } bh_cancel_frame;
static int bh_cancel_run(async_task *t) {
    bh_cancel_frame *f = (bh_cancel_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->tm, ASYNC_SEC(1)));
    ASYNC_CLEANUP();
    f->enter_rc = async_bulkhead_enter(t, f->b, &f->w);
    ASYNC_END(0);
}
TEST(bulkhead_enter_in_cancel_mode) {
    async_runtime rt;
    async_bulkhead b;
    static bh_cancel_frame f;
    ZERO(f);
    start(&rt);
    async_bulkhead_init(&b, 1, 1);
    f.b = &b;
    async_task_spawn(&rt, &f.task, bh_cancel_run, "bh");
    async_runtime_step(&rt, 0);
    async_task_abort(&f.task);
    async_runtime_run(&rt);
    ASSERT_EQ(f.enter_rc, ASYNC_ECANCELED);
    ASSERT_EQ(async_semaphore_available_permits(&b.sem), 1);
    ASSERT_EQ(b.queued, 0);
    async_runtime_destroy(&rt);
}

/* JoinSet under random scripts of spawns, joins (plain, timed, selected), aborts,
   abort_all and detach_all, unordered and ordered (tests/joinset_model.h; also
   fuzzed): each member is reaped once, in completion (or spawn) order, with its
   result; wait_all gives the first error. */
TEST(joinset_model_random_scripts) {
    test_random_scripts(joinset_model_run, joinset_model_why, "joinset_model.h",
                        0x12345679u, 32, 20000);
}

/* Receivers selecting over two mpsc channels and a sleep (fair, biased, guarded)
   under random scripts of sends, timeouts, aborts and closes (tests/select_model.h;
   also fuzzed): a losing branch never takes an item, every item arrives once and in
   its sender's order on its channel. */
TEST(select_model_random_scripts) {
    test_random_scripts(select_model_run, select_model_why, "select_model.h",
                        0x2f6b1d3bu, 96, 20000);
}

/* ---- each combinator macro is one statement ------------------------------------------- */
typedef struct {
    async_task task;
    async_select sel;
    async_join js;
    async_timer tm[3];
    async_backoff b;
    int rc[2], rcs[4], i, which, other;
} stmt_frame;
static int one_statement(async_task *t) {
    stmt_frame *f = (stmt_frame *)t;
    ASYNC_BEGIN(t);
    if (f->which == 0)
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0], async_time_sleep(t, &f->tm[0], MS(20)));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], async_time_sleep(t, &f->tm[1], MS(10)));
        ASYNC_SELECT_END(&f->sel);
    else
        f->other |= 1;
    if (f->which == 1)
        ASYNC_JOIN_BEGIN(&f->js, 2, 0);
            ASYNC_JOIN_BRANCH(&f->js, 0, f->rc[0], async_time_sleep(t, &f->tm[0], MS(20)));
            ASYNC_JOIN_BRANCH(&f->js, 1, f->rc[1], async_time_sleep(t, &f->tm[1], MS(10)));
        ASYNC_JOIN_END(&f->js);
    else
        f->other |= 2;
    if (f->which == 2)
        ASYNC_RETRY(f->rcs[f->i++], &f->b, &f->tm[2], f->b.attempts < 2 ? ASYNC_EAGAIN : 9);
    else
        f->other |= 4;
    if (f->which == 3)
        ASYNC_RACE2(&f->sel, f->rc[0], async_time_sleep(t, &f->tm[0], MS(20)),
                    async_time_sleep(t, &f->tm[1], MS(10)));
    else
        f->other |= 8;
    ASYNC_END(0);
}
TEST(combinators_are_one_statement) {
    async_runtime rt;
    static stmt_frame f;
    int w;
    start(&rt);
    for (w = 0; w < 4; w++) {
        ZERO(f);
        f.which = w;
        async_backoff_init(&f.b, MS(1), MS(1), 5);
        f.b.jitter = ASYNC_JITTER_NONE;
        g_t0 = async_time_now(&rt);
        ASSERT_EQ(async_runtime_block_on(&rt, &f.task, one_statement, "stmt"), 0);
        ASSERT_EQ(f.other, 15 & ~(1 << w));       /* only the else branches not taken */
        if (w == 0 || w == 3) ASSERT_EQ(f.sel.winner, 1);
        if (w == 1) ASSERT_EQ(f.js.done, 3u);
        if (w != 2) ASSERT_EQ(NOW(), w == 1 ? MS(20) : MS(10));
        if (w == 2) {                             /* three attempts, rc written once each */
            ASSERT_EQ(f.i, 3);
            ASSERT_EQ(f.rcs[0], ASYNC_EAGAIN);
            ASSERT_EQ(f.rcs[1], ASYNC_EAGAIN);
            ASSERT_EQ(f.rcs[2], 9);
            ASSERT_EQ(NOW(), MS(2));
        }
        ASSERT_EQ(rt.ntimers, 0);
    }
    async_runtime_destroy(&rt);
}

/* ---- a timeout or a deadline directly around a select or a join ------------------------ */
typedef struct {
    async_task task;
    async_select sel;
    async_join js;
    async_timer tm[3], dl;
    async_waiter w;
    async_mpsc *ch;
    int rc[3], item, mode, aborted;
    async_time limit, at;
} tframe;
static int select_timeout(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    if (f->mode == 0)
        ASYNC_SELECT_BEGIN_TIMEOUT(&f->sel, 2, ASYNC_SELECT_FAIR, &f->dl, f->limit);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_mpsc_recv(t, f->ch, &f->w, &f->item));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], async_time_sleep(t, &f->tm[0], MS(40)));
        ASYNC_SELECT_END(&f->sel);
    else                                          /* the deadline form, already passed */
        ASYNC_SELECT_BEGIN_TIMEOUT_UNTIL(&f->sel, 2, ASYNC_SELECT_BIASED, &f->dl, async_time_now(async_task_runtime(t)));
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0], async_time_sleep(t, &f->tm[0], MS(40)));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], async_time_sleep(t, &f->tm[1], 0));
        ASYNC_SELECT_END(&f->sel);
    f->at = NOW();
    ASYNC_CLEANUP();
    f->aborted = async_task_is_cancelling(t);
    ASYNC_END(f->sel.winner);
}
TEST(select_with_a_timeout) {
    async_runtime rt;
    static tframe f;
    static sender_frame s;
    async_mpsc c;
    int v = 0;
    ZERO(f); ZERO(s);
    async_mpsc_init(&c, sizeof(int), 4, NULL);
    start(&rt);
    /* nothing comes in time: the select times out at 30 ms, its branches cancelled as
       losers are (the receive unlinked, the sleep disarmed), the item sent later is
       still in the channel */
    f.ch = &c; f.limit = MS(30);
    s.c = &c; s.v = 5; s.d = MS(35);
    async_task_spawn(&rt, &s.task, delayed_send, "late");
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_timeout, "t(select)"),
              ASYNC_SELECT_TIMEDOUT);
    ASSERT_EQ(f.sel.err, ASYNC_ETIMEDOUT);
    ASSERT_EQ(f.at, MS(30));
    CHECK(c.recv_q.head == NULL);
    ASSERT_EQ(f.tm[0].state, 0);
    ASSERT_EQ(f.dl.state, 0);
    async_runtime_run(&rt);
    ASSERT_EQ(async_mpsc_try_recv(&c, &v), 0);
    ASSERT_EQ(v, 5);
    ASSERT_EQ(rt.ntimers, 0);
    /* a branch ready before the deadline wins; the deadline's timer is disarmed */
    ZERO(f); ZERO(s);
    f.ch = &c; f.limit = MS(50);
    g_t0 = async_time_now(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_timeout, "t(select) ok"), 1);
    ASSERT_EQ(f.sel.err, 0);
    ASSERT_EQ(f.at, MS(40));
    ASSERT_EQ(f.dl.state, 0);
    ASSERT_EQ(rt.ntimers, 0);
    /* a deadline already passed: the branches are polled first (as tokio::time::timeout),
       so one ready at once still wins */
    ZERO(f);
    f.mode = 1;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, select_timeout, "dl(select)"), 1);
    ASSERT_EQ(f.sel.err, 0);
    ASSERT_EQ(rt.ntimers, 0);
    /* aborted while it waits: everything unlinked, the deadline's timer too */
    ZERO(f);
    f.ch = &c; f.limit = MS(30);
    async_task_spawn(&rt, &f.task, select_timeout, "t(select) aborted");
    async_runtime_step(&rt, 0);
    CHECK(c.recv_q.head != NULL);
    ASSERT_EQ(rt.ntimers, 2);
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.aborted, 1);
    CHECK(c.recv_q.head == NULL);
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

static int join_timeout(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    if (f->mode == 0)
        ASYNC_JOIN_BEGIN_TIMEOUT(&f->js, 3, 0, &f->dl, f->limit);
            ASYNC_JOIN_BRANCH(&f->js, 0, f->rc[0], async_time_sleep(t, &f->tm[0], MS(10)));
            ASYNC_JOIN_BRANCH(&f->js, 1, f->rc[1], async_time_sleep(t, &f->tm[1], MS(20)));
            ASYNC_JOIN_BRANCH(&f->js, 2, f->rc[2], async_time_sleep(t, &f->tm[2], MS(60)));
        ASYNC_JOIN_END(&f->js);
    else
        ASYNC_JOIN_BEGIN_TIMEOUT_UNTIL(&f->js, 3, ASYNC_JOIN_FAIL_FAST, &f->dl, f->limit);
            ASYNC_JOIN_BRANCH(&f->js, 0, f->rc[0], async_time_sleep(t, &f->tm[0], MS(10)));
            ASYNC_JOIN_BRANCH(&f->js, 1, f->rc[1], async_time_sleep(t, &f->tm[1], MS(20)));
            ASYNC_JOIN_BRANCH(&f->js, 2, f->rc[2], async_time_sleep(t, &f->tm[2], MS(60)));
        ASYNC_JOIN_END(&f->js);
    f->at = NOW();
    ASYNC_END(f->js.err);
}
TEST(join_with_a_timeout) {
    async_runtime rt;
    static tframe f;
    ZERO(f);
    start(&rt);
    /* at 50 ms two branches are done (their results kept), the third is cancelled */
    f.limit = MS(50);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, join_timeout, "t(join)"), ASYNC_ETIMEDOUT);
    ASSERT_EQ(f.at, MS(50));
    ASSERT_EQ(f.rc[0], 0); ASSERT_EQ(f.rc[1], 0); ASSERT_EQ(f.rc[2], ASYNC_ECANCELED);
    ASSERT_EQ(f.tm[2].state, 0);
    ASSERT_EQ(rt.ntimers, 0);
    /* every branch in time: no error, the deadline's timer disarmed */
    ZERO(f);
    g_t0 = async_time_now(&rt);
    f.limit = MS(100);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, join_timeout, "t(join) ok"), 0);
    ASSERT_EQ(f.at, MS(60));
    ASSERT_EQ(f.rc[2], 0);
    ASSERT_EQ(f.dl.state, 0);
    ASSERT_EQ(rt.ntimers, 0);
    /* the deadline form (absolute), with ASYNC_JOIN_FAIL_FAST */
    ZERO(f);
    g_t0 = async_time_now(&rt);
    f.mode = 1;
    f.limit = g_t0 + MS(15);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, join_timeout, "dl(join)"), ASYNC_ETIMEDOUT);
    ASSERT_EQ(f.at, MS(15));
    ASSERT_EQ(f.rc[0], 0); ASSERT_EQ(f.rc[1], ASYNC_ECANCELED); ASSERT_EQ(f.rc[2], ASYNC_ECANCELED);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(join_of_three_sleeps_takes_the_longest);
    RUN(try_join_cancels_siblings_on_first_error);
    RUN(join_all_and_try_join_all);
    RUN(select_fair_over_many_iterations);
    RUN(select_biased_takes_branches_in_order);
    RUN(select_losers_cancelled_without_losing_items);
    RUN(select_woken_loser_keeps_its_item_on_the_fast_path);
    RUN(select_guards_else_and_nowait);
    RUN(abort_task_blocked_in_select);
    RUN(race_and_timeout_around_a_join);
    RUN(joinset_completion_order);
    RUN(joinset_ordered_mode);
    RUN(joinset_abort_all_while_members_hold_locks);
    RUN(joinset_destroy_cancels_now_and_frees);
    RUN(scope_waits_for_all_and_dies_with_owner);
    RUN(joinset_members_are_not_joined_directly);
    RUN(try_join_never_started_branches);
    RUN(select_guards_all_evaluated_first);
    RUN(wait_all_no_stale_error);
    RUN(backoff_ranges_seeds_and_reuse);
    RUN(retry_with_backoff);
    RUN(typed_results_and_chains);
    RUN(circuit_breaker);
    RUN(bulkhead_rejects_when_full);
    RUN(comb_bad_arguments);
    RUN(joinset_ordered_ring_wraps);
    RUN(joinset_destroy_while_joined_is_refused);
    RUN(joinset_member_acts_on_its_own_set);
    RUN(retry_aborted_during_backoff);
    RUN(retry_backoff_spends_budget);
    RUN(circuit_breaker_edges);
    RUN(backoff_retryable_callback);
    RUN(bulkhead_enter_in_cancel_mode);
    RUN(joinset_model_random_scripts);
    RUN(select_model_random_scripts);
    RUN(combinators_are_one_statement);
    RUN(select_with_a_timeout);
    RUN(join_with_a_timeout);
    DONE();
}
