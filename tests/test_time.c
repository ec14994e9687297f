/* Time: sleeps in deadline order, the paused clock (advance, auto-advance,
   resume), intervals with each missed-tick behaviour as Tokio defines them,
   timeouts and deadlines on a sleep and on a join, and the timer heap under
   load. Every test runs on the paused clock: nothing sleeps for real. */
#include "test.h"

#define MS(x) ASYNC_MS(x)

typedef struct {
    async_task task;
    async_timer timer, timer2;
    async_interval iv;
    async_task *child;
    async_time dur, t0, at;
    int id, rc, n, i, cleaned;
    async_time ticks[16], nows[16];
} tframe;

static async_runtime *g_rt;
static async_time g_t0;
static int g_flag;
#define NOW() (async_time_now(g_rt) - g_t0)

static int sleeper(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->dur));
    f->at = NOW();
    logf_("%d@%llu ", f->id, (unsigned long long)(f->at / MS(1)));
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->id);
}

static void start(async_runtime *rt) {
    test_rt_paused(rt);
    g_rt = rt;
    g_t0 = async_time_now(rt);
    LOG_RESET();
}

TEST(sleeps_fire_in_deadline_order) {
    async_runtime rt;
    static tframe f[6];
    static const int ms[6] = {30, 10, 20, 10, 0, 25};
    int i;
    ZERO(f);
    start(&rt);
    for (i = 0; i < 6; i++) {
        f[i].id = i;
        f[i].dur = MS(ms[i]);
        async_task_spawn(&rt, &f[i].task, sleeper, "sleeper");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* equal deadlines fire in the order they were armed; 0 ms does not wait */
    ASSERT_STR(test_log, "4@0 1@10 3@10 2@20 5@25 0@30 ");
    for (i = 0; i < 6; i++) ASSERT_EQ(f[i].at, MS(ms[i]));   /* exactly, not later */
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

TEST(sub_tick_deadlines_fire_in_order) {    /* all in one 1.024 us wheel slot */
    async_runtime rt;
    static tframe f[4];
    static const int ns[4] = {700, 300, 300, 0};
    int i;
    ZERO(f);
    start(&rt);
    LOG_RESET();
    for (i = 0; i < 4; i++) {
        f[i].id = i;
        f[i].dur = MS(10) + (async_time)ns[i];
        async_task_spawn(&rt, &f[i].task, sleeper, "s");
    }
    async_runtime_run(&rt);
    ASSERT_STR(test_log, "3@10 1@10 2@10 0@10 ");
    for (i = 0; i < 4; i++) ASSERT_EQ(f[i].at, MS(10) + (async_time)ns[i]);
    async_runtime_destroy(&rt);
}

/* Many timers sharing a tick cascade down from a high level together: equal
   deadlines keep arming order, sub-tick differences still sort. */
TEST(shared_tick_cascade_keeps_order) {
    enum { N = 300 };
    async_runtime rt;
    static tframe f[N];
    char expect[4096] = "";
    int i;
    ZERO(f);
    start(&rt);
    LOG_RESET();
    for (i = 0; i < N; i++) {
        f[i].id = i;
        f[i].dur = ASYNC_SEC(5) + (i % 3 == 2 ? 200 : 0) + (i % 7 == 0 ? 100 : 0);
        async_task_spawn(&rt, &f[i].task, sleeper, "s");
    }
    async_runtime_run(&rt);
    for (i = 0; i < N; i++)                       /* +0 ns first, then +100, +200, +300 */
        if (f[i].dur == ASYNC_SEC(5)) sprintf(expect + strlen(expect), "%d@5000 ", i);
    for (i = 0; i < N; i++)
        if (f[i].dur == ASYNC_SEC(5) + 100) sprintf(expect + strlen(expect), "%d@5000 ", i);
    for (i = 0; i < N; i++)
        if (f[i].dur == ASYNC_SEC(5) + 200) sprintf(expect + strlen(expect), "%d@5000 ", i);
    for (i = 0; i < N; i++)
        if (f[i].dur == ASYNC_SEC(5) + 300) sprintf(expect + strlen(expect), "%d@5000 ", i);
    ASSERT_STR(test_log, expect);
    async_runtime_destroy(&rt);
}

TEST(sleep_zero_and_past_deadline_do_not_suspend) {
    async_runtime rt;
    static tframe f;
    async_stats st;
    ZERO(f);
    start(&rt);
    f.dur = 0;
    async_runtime_block_on(&rt, &f.task, sleeper, "zero");
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 1);
    ASSERT_EQ(st.timers_fired, 0);
    ASSERT_EQ(f.rc, 0);
    async_runtime_destroy(&rt);
}

static int until_task(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep_until(t, &f->timer, f->t0));
    f->at = NOW();
    ASYNC_END(0);
}
TEST(sleep_until) {
    async_runtime rt;
    static tframe f, g;
    ZERO(f); ZERO(g);
    start(&rt);
    f.t0 = g_t0 + MS(40);
    g.t0 = g_t0 > MS(1) ? g_t0 - MS(1) : 0;       /* in the past */
    async_task_spawn(&rt, &f.task, until_task, "future");
    async_task_spawn(&rt, &g.task, until_task, "past");
    async_runtime_run(&rt);
    ASSERT_EQ(f.at, MS(40));
    ASSERT_EQ(g.at, 0);
    async_runtime_destroy(&rt);
}

TEST(manual_advance) {
    async_runtime rt;
    async_runtime_desc d;
    static tframe f;
    ZERO(f); ZERO(d);
    d.start_paused = 1;                           /* paused, no auto-advance */
    async_runtime_init(&rt, &d);
    g_rt = &rt;
    g_t0 = async_time_now(&rt);
    f.dur = MS(10);
    async_task_spawn(&rt, &f.task, sleeper, "s");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* time stands still: cannot progress */
    ASSERT_EQ(async_time_advance(&rt, MS(9)), 0);
    ASSERT_EQ(async_runtime_run(&rt), 1);
    ASSERT_EQ(async_time_advance(&rt, MS(1)), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.at, MS(10));
    ASSERT_EQ(async_time_pause(&rt, 0), ASYNC_ESTATE);        /* already paused */
    ASSERT_EQ(async_time_resume(&rt), 0);
    CHECK(async_time_now(&rt) >= g_t0 + MS(10));  /* resuming never goes back */
    ASSERT_EQ(async_time_advance(&rt, MS(1)), ASYNC_ESTATE);  /* not paused */
    ASSERT_EQ(async_time_resume(&rt), ASYNC_ESTATE);
    ASSERT_EQ(async_time_pause(&rt, 1), 0);
    async_runtime_destroy(&rt);
}

/* Resume goes on from the paused instant even if real time went by (Tokio). */
static async_time fake_now;
static async_time fake_clock(void *u) { (void)u; return fake_now; }
TEST(resume_continues_from_paused_instant) {
    async_runtime rt;
    async_runtime_desc d;
    static tframe f;
    ZERO(d); ZERO(f);
    fake_now = ASYNC_SEC(100);
    d.now = fake_clock;
    async_runtime_init(&rt, &d);
    g_rt = &rt;
    g_t0 = async_time_now(&rt);
    f.dur = ASYNC_SEC(10);
    async_task_spawn(&rt, &f.task, sleeper, "s");
    async_runtime_step(&rt, 0);
    async_time_pause(&rt, 0);
    async_time_advance(&rt, ASYNC_SEC(1));
    fake_now += ASYNC_SEC(60);                    /* a minute of real time while paused */
    async_time_resume(&rt);
    ASSERT_EQ(async_time_now(&rt), ASYNC_SEC(101));
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_is_finished(&f.task), 0);        /* not fired early */
    fake_now += ASYNC_SEC(9);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_is_finished(&f.task), 1);
    async_runtime_destroy(&rt);
}

TEST(sleep_never_blocks_forever_even_with_auto_advance) {
    async_runtime rt;
    static tframe f, g;
    ZERO(f); ZERO(g);
    start(&rt);
    f.dur = ASYNC_TIME_NEVER;
    g.dur = MS(5);
    async_task_spawn(&rt, &f.task, sleeper, "never");
    async_task_spawn(&rt, &g.task, sleeper, "short");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* blocked forever, time not stuck */
    ASSERT_EQ(NOW(), MS(5));
    ASSERT_EQ(rt.ntimers, 0);
    f.t0 = 0;
    ASSERT_EQ(async_runtime_block_on(&rt, &g.task, until_task, "after"), 0);   /* still usable */
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.cleaned, 1);
    async_runtime_destroy(&rt);
}

TEST(block_on_deadlocks_on_paused_clock_without_advance) {
    async_runtime rt;
    async_runtime_desc d;
    static tframe f;
    ZERO(d); ZERO(f);
    d.start_paused = 1;
    async_runtime_init(&rt, &d);
    g_rt = &rt;
    f.dur = MS(1);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, sleeper, "s"), ASYNC_EDEADLK);
    ASSERT_EQ(rt.ntimers, 1);
    async_runtime_destroy(&rt);
}

/* Through the test harness (async_test_run: a fresh runtime, the paused clock
   auto-advancing, nothing may be left behind): an hour, then 5 ticks of an interval
   of an hour each, at once. */
static int hour_body(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(t->rt);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(3600)));
    ASSERT_EQ(async_time_now(t->rt) - f->t0, ASYNC_SEC(3600));
    ASSERT_EQ(async_interval_init(&f->iv, ASYNC_SEC(3600), ASYNC_TICK_BURST), 0);
    for (f->i = 0; f->i < 5; f->i++)
        ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->iv, &f->ticks[f->i]));
    ASSERT_EQ(f->ticks[4] - f->ticks[0], ASYNC_SEC(4 * 3600));
    ASSERT_EQ(async_time_now(t->rt) - f->t0, ASYNC_SEC(5 * 3600));
    ASYNC_END(0);
}

TEST(auto_advance_skips_an_hour_instantly) {
    ASSERT_EQ(ASYNC_TEST_RUN(hour_body, tframe), 0);
}

/* ---- intervals ------------------------------------------------------------------ */
static int ticker(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->iv, &f->ticks[f->i]));
        f->ticks[f->i] -= g_t0;
        f->nows[f->i] = NOW();
        if (f->i == 0 && f->dur) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->dur));
    }
    ASYNC_END(0);
}
/* Tick 5 times with period 100 ms; after the first tick the task is busy for
   `stall` ms. Returns "tick@now" pairs in ms. */
static void run_ticker(int missed, int stall, char *out) {
    async_runtime rt;
    static tframe f;
    int i;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_interval_init(&f.iv, MS(100), missed), 0);
    f.n = 5;
    f.dur = MS(stall);
    async_runtime_block_on(&rt, &f.task, ticker, "ticker");
    out[0] = 0;
    for (i = 0; i < 5; i++)
        sprintf(out + strlen(out), "%llu@%llu ", (unsigned long long)(f.ticks[i] / MS(1)),
                (unsigned long long)(f.nows[i] / MS(1)));
    async_runtime_destroy(&rt);
}
TEST(interval_first_tick_is_immediate) {
    char out[128];
    run_ticker(ASYNC_TICK_BURST, 0, out);
    ASSERT_STR(out, "0@0 100@100 200@200 300@300 400@400 ");
}
TEST(interval_burst_catches_up) {
    char out[128];
    run_ticker(ASYNC_TICK_BURST, 350, out);
    ASSERT_STR(out, "0@0 100@350 200@350 300@350 400@400 ");
}
TEST(interval_delay_shifts_the_grid) {
    char out[128];
    run_ticker(ASYNC_TICK_DELAY, 350, out);
    ASSERT_STR(out, "0@0 100@350 450@450 550@550 650@650 ");
}
TEST(interval_skip_keeps_the_grid) {
    char out[128];
    run_ticker(ASYNC_TICK_SKIP, 350, out);
    ASSERT_STR(out, "0@0 100@350 400@400 500@500 600@600 ");
}
TEST(interval_within_slack_is_not_missed) {
    char out[128];
    run_ticker(ASYNC_TICK_DELAY, 105, out);       /* 5 ms late is on time (Tokio's rule) */
    ASSERT_STR(out, "0@0 100@105 200@200 300@300 400@400 ");
}
TEST(interval_init_at_and_reset) {
    async_runtime rt;
    static tframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_interval_init_until(&f.iv, g_t0 + MS(50), MS(10), ASYNC_TICK_SKIP), 0);
    f.n = 2;
    async_runtime_block_on(&rt, &f.task, ticker, "at");
    ASSERT_EQ(f.ticks[0], MS(50));
    ASSERT_EQ(f.ticks[1], MS(60));
    async_interval_reset(&f.iv);                  /* next tick one period after next poll */
    async_time_advance(&rt, MS(3));
    f.n = 1;
    async_runtime_block_on(&rt, &f.task, ticker, "reset");
    ASSERT_EQ(f.ticks[0], MS(73));
    async_runtime_destroy(&rt);
}
/* Reset while a task waits in tick: it waits for the new deadline (one period from the
   reset), it is not left without a timer. */
typedef struct { async_task task; async_interval *iv; async_timer timer; } resetter_frame;
static int resetter(async_task *t) {
    resetter_frame *f = (resetter_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, MS(50)));
    async_interval_reset(f->iv);
    ASYNC_END(rc);
}
TEST(interval_reset_while_waiting) {
    async_runtime rt;
    static tframe f;
    static resetter_frame r;
    ZERO(f); ZERO(r);
    start(&rt);
    async_interval_init(&f.iv, MS(100), ASYNC_TICK_BURST);
    f.n = 3;
    r.iv = &f.iv;
    async_task_spawn(&rt, &f.task, ticker, "ticker");
    async_task_spawn(&rt, &r.task, resetter, "resetter");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.ticks[0], 0);
    ASSERT_EQ(f.ticks[1], MS(150));               /* 50 ms reset + 100 ms period */
    ASSERT_EQ(f.ticks[2], MS(250));
    async_runtime_destroy(&rt);
}

TEST(interval_bad_arguments) {
    async_interval iv;
    ASSERT_EQ(async_interval_init(&iv, 0, ASYNC_TICK_BURST), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_init(&iv, MS(1), 7), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_init(NULL, MS(1), ASYNC_TICK_SKIP), ASYNC_EINVAL);
}

/* The clock and the sleeps refuse NULL and uninitialised arguments and change nothing. */
static int tick_without_when(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) ASYNC_AWAIT(f->rc, async_interval_tick(t, &f->iv, NULL));
    f->at = NOW();
    ASYNC_END(0);
}
TEST(time_bad_arguments) {
    async_runtime rt, zero;
    static tframe f;
    async_timer tm;
    async_interval iv;
    ZERO(f); ZERO(zero); ZERO(tm); ZERO(iv);
    start(&rt);
    ASSERT_EQ(async_time_pause(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_time_pause(&zero, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_time_resume(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_time_resume(&zero), ASYNC_EINVAL);
    ASSERT_EQ(async_time_advance(NULL, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_time_advance(&zero, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_time_sleep(NULL, &tm, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_time_sleep(&f.task, NULL, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_time_sleep_until(NULL, &tm, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_time_sleep_until(&f.task, NULL, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_init_until(&iv, 0, MS(1), -1), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_init_until(&iv, 0, MS(1), ASYNC_TICK_SKIP + 1), ASYNC_EINVAL);
    ASSERT_EQ(iv.period, 0);                      /* untouched */
    ASSERT_EQ(async_interval_tick(NULL, &iv, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_tick(&f.task, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_interval_tick(&f.task, &iv, NULL), ASYNC_EINVAL);   /* never initialised */
    async_interval_reset(NULL);                   /* no-op */
    ASSERT_EQ(tm.state, 0);
    ASSERT_EQ(rt.ntimers, 0);
    /* the paused clock still works, and a tick may leave out its time */
    ASSERT_EQ(async_time_pause(&rt, 1), ASYNC_ESTATE);   /* already paused */
    ASSERT_EQ(async_interval_init(&f.iv, MS(7), ASYNC_TICK_BURST), 0);
    f.n = 3;
    async_runtime_block_on(&rt, &f.task, tick_without_when, "ticker");
    ASSERT_EQ(f.at, MS(14));
    async_runtime_destroy(&rt);
}

/* An interval that starts at ASYNC_TIME_NEVER waits until reset; reset while it waits
   makes the next tick one period from the reset (Tokio's reset). */
TEST(interval_from_never_until_reset) {
    async_runtime rt;
    static tframe f;
    ZERO(f);
    start(&rt);
    ASSERT_EQ(async_interval_init_until(&f.iv, ASYNC_TIME_NEVER, MS(10), ASYNC_TICK_DELAY), 0);
    f.n = 2;
    async_task_spawn(&rt, &f.task, ticker, "never");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* waits forever, even with auto-advance */
    ASSERT_EQ(rt.ntimers, 0);                     /* on no timer at all */
    async_time_advance(&rt, MS(30));
    async_interval_reset(&f.iv);
    ASSERT_EQ(rt.ntimers, 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.ticks[0], MS(40));                /* 30 ms + one period */
    ASSERT_EQ(f.ticks[1], MS(50));
    async_runtime_destroy(&rt);
}

/* ---- timeouts and deadlines ---------------------------------------------------------- */
static int sleep_with_timeout(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer2, f->t0, async_time_sleep(t, &f->timer, f->dur));
    f->at = NOW();
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}
static int timeout_case(async_time sleep_ms, async_time timeout_ms, async_time *at) {
    async_runtime rt;
    static tframe f;
    int rc;
    ZERO(f);
    start(&rt);
    f.dur = sleep_ms;
    f.t0 = timeout_ms;
    rc = async_runtime_block_on(&rt, &f.task, sleep_with_timeout, "timeout");
    *at = f.at;
    ASSERT_EQ(rt.ntimers, 0);                     /* both timers gone, whoever won */
    async_runtime_destroy(&rt);
    return rc;
}
TEST(timeout_fires) {
    async_time at;
    ASSERT_EQ(timeout_case(MS(100), MS(50), &at), ASYNC_ETIMEDOUT);
    ASSERT_EQ(at, MS(50));
}
TEST(timeout_not_reached) {
    async_time at;
    ASSERT_EQ(timeout_case(MS(50), MS(100), &at), 0);
    ASSERT_EQ(at, MS(50));
}
TEST(timeout_racing_completion_at_same_instant) {
    async_time at;
    ASSERT_EQ(timeout_case(MS(50), MS(50), &at), 0);   /* the operation is polled first */
    ASSERT_EQ(at, MS(50));
}
TEST(timeout_zero) {
    async_time at;
    ASSERT_EQ(timeout_case(0, 0, &at), 0);        /* ready at once: Ok, as tokio::timeout */
    ASSERT_EQ(timeout_case(MS(1), 0, &at), ASYNC_ETIMEDOUT);
    ASSERT_EQ(at, 0);
}
/* A loop over an await whose deadline has passed times out at once each time; like
   tokio::time::timeout (its Sleep spends coop budget), that spends budget, so the
   loop yields now and then and the other tasks run. It used to spin in one poll. */
static int elapsed_loop(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 1000; f->i++) {
        ASYNC_AWAIT_TIMEOUT_UNTIL(f->rc, &f->timer2, 0, async_time_sleep(t, &f->timer, MS(5)));
        if (f->rc != ASYNC_ETIMEDOUT) break;
        if (g_flag && !f->n) f->n = f->i;       /* the other task had run by then */
    }
    ASYNC_END(0);
}
static int set_flag(async_task *t) {
    ASYNC_BEGIN(t);
    g_flag = 1;
    ASYNC_END(0);
}
TEST(elapsed_deadline_in_a_loop_spends_budget) {
    async_runtime rt;
    static tframe a, b;
    ZERO(a);
    ZERO(b);
    g_flag = 0;
    start(&rt);
    async_task_spawn(&rt, &a.task, elapsed_loop, "loop");
    async_task_spawn(&rt, &b.task, set_flag, "other");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.i, 1000);                           /* every await timed out */
    CHECK(a.n > 0 && a.n <= ASYNC__DEFAULT_BUDGET + 1);  /* it yielded within a budget */
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

TEST(abort_during_timeout_unlinks_both_timers) {
    async_runtime rt;
    static tframe f;
    int rc = 0;
    ZERO(f);
    start(&rt);
    f.dur = MS(100);
    f.t0 = MS(50);
    async_task_spawn(&rt, &f.task, sleep_with_timeout, "t");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(rt.ntimers, 2);
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(rt.ntimers, 0);
    async_task_result(&f.task, &rc);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(f.cleaned, 1);
    ASSERT_EQ(NOW(), 0);
    async_runtime_destroy(&rt);
}

/* A timeout around a nested async function: the child is restarted for each await,
   and a timed-out child unwinds through its cleanup. */
typedef struct { async_coro co; async_timer timer; int cleaned; } child_coro;
static int slow_child(async_task *t, child_coro *c, async_time d) {
    int rc;
    ASYNC_CORO_BEGIN(t, &c->co);
    ASYNC_AWAIT(rc, async_time_sleep(t, &c->timer, d));
    ASYNC_RETURN(rc == 0 ? 7 : rc);
    ASYNC_CLEANUP();
    c->cleaned++;
    ASYNC_END(0);
}
typedef struct { async_task task; async_timer dl; child_coro c; int r1, r2; async_time at; } callto;
static int call_with_timeout(async_task *t) {
    callto *f = (callto *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_CALL_TIMEOUT(f->r1, &f->dl, MS(20), &f->c.co, slow_child(t, &f->c, MS(50)));
    ASYNC_AWAIT_CALL_TIMEOUT(f->r2, &f->dl, MS(20), &f->c.co, slow_child(t, &f->c, MS(5)));
    f->at = NOW();
    ASYNC_END(0);
}
TEST(timeout_around_nested_call) {
    async_runtime rt;
    static callto f;
    ZERO(f);
    start(&rt);
    async_runtime_block_on(&rt, &f.task, call_with_timeout, "call");
    ASSERT_EQ(f.r1, ASYNC_ETIMEDOUT);
    ASSERT_EQ(f.r2, 7);                           /* restarted, not the stale result */
    ASSERT_EQ(f.c.cleaned, 2);                    /* cancelled once, finished once */
    ASSERT_EQ(f.at, MS(25));
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

static int join_with_deadline(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT_UNTIL(f->rc, &f->timer2, g_t0 + f->t0, async_task_join(t, f->child));
    f->at = NOW();
    ASYNC_END(f->rc);
}
TEST(deadline_on_join_leaves_the_child_running) {
    async_runtime rt;
    static tframe c, j, j2;
    ZERO(c); ZERO(j); ZERO(j2);
    start(&rt);
    c.dur = MS(100);
    c.id = 6;
    async_task_spawn(&rt, &c.task, sleeper, "child");
    j.child = j2.child = &c.task;
    j.t0 = MS(30);
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, join_with_deadline, "j"), ASYNC_ETIMEDOUT);
    ASSERT_EQ(j.at, MS(30));
    CHECK(c.task.u.joiner == NULL);               /* the join gave up its place */
    CHECK(!async_task_is_finished(&c.task));
    j2.t0 = MS(200);
    ASSERT_EQ(async_runtime_block_on(&rt, &j2.task, join_with_deadline, "j2"), 6);
    ASSERT_EQ(j2.at, MS(100));
    async_runtime_destroy(&rt);
}

/* ---- the timer heap under load ----------------------------------------------------------- */
static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
typedef struct { async_task task; async_timer timer; async_time dur, at; int done; } hframe;
static async_time last_at;
static int order_ok;
static int heap_sleeper(async_task *t) {
    hframe *f = (hframe *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, f->dur));
    f->at = NOW();
    if (f->at < last_at || f->at != f->dur) order_ok = 0;
    last_at = f->at;
    f->done = rc == 0;
    ASYNC_END(0);
}
TEST(wheel_random_deadlines_and_cancellations) {
    enum { N = 20000 };
    async_runtime rt;
    static hframe f[N];
    int i, fired = 0;
    ZERO(f);
    start(&rt);
    last_at = 0;
    order_ok = 1;
    for (i = 0; i < N; i++) {
        f[i].dur = MS(1 + rnd() % 5000) + rnd() % 1000;   /* sub-ms parts too */
        async_task_spawn(&rt, &f[i].task, heap_sleeper, "h");
    }
    async_runtime_step(&rt, 0);                   /* first 61 arm */
    while (rt.nready) async_runtime_step(&rt, 0);
    ASSERT_EQ(rt.ntimers, N);
    for (i = 0; i < N; i += 3) async_task_abort(&f[i].task);     /* a third go away */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < N; i++) {
        if (i % 3 == 0) ASSERT_EQ(f[i].done, 0);
        else fired += f[i].done;
    }
    ASSERT_EQ(fired, N - (N + 2) / 3);
    ASSERT_EQ(order_ok, 1);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* A slot of a higher level cascades by two walks of its list, one from each end, that
   meet in the middle: every size of slot, odd and even, loses no timer and links none
   twice; ties (one deadline in four) still fire in arming order, each exactly on time. */
TEST(cascade_of_every_slot_size) {
    enum { K = 12 };
    static tframe f[K];
    char expect[512];
    int k, i, d;
    for (k = 1; k <= K; k++) {
        async_runtime rt;
        ZERO(f);
        start(&rt);
        for (i = 0; i < k; i++) {
            f[i].id = i;
            f[i].dur = MS(300) + (async_time)((k - i) % 4) * 5000u;
            async_task_spawn(&rt, &f[i].task, sleeper, "s");
        }
        async_runtime_step(&rt, 0);               /* all armed, none due */
        for (i = 0; i < k; i++) CHECK(f[i].timer.level > 0);      /* a cascade to come */
        ASSERT_EQ(async_runtime_run(&rt), 0);
        expect[0] = 0;
        for (d = 0; d < 4; d++)                   /* by deadline, then arming order */
            for (i = 0; i < k; i++)
                if ((k - i) % 4 == d) sprintf(expect + strlen(expect), "%d@300 ", i);
        ASSERT_STR(test_log, expect);
        for (i = 0; i < k; i++) ASSERT_EQ(f[i].at, f[i].dur);
        ASSERT_EQ(rt.ntimers, 0);
        async_runtime_destroy(&rt);
    }
}

/* Hosted, a slot above level 0 is four lists (timers cascaded into it sort by their tick,
   mod 4), each walked from both ends when it cascades. Timers a tick apart, cascaded
   nearer: with every one of either parity cancelled (two lists emptied), the wheel keeps
   the rest (the earliest is next) and they fire in order, on time; ties with the
   earliest, armed now (into the first list while it may sit in another), still fire in
   arming order. */
TEST(cascade_of_a_slot_with_one_list_emptied) {
    enum { K = 9, T = 5 };
    static tframe f[K + T];
    char expect[512];
    async_time now;
    int gone, i, j, last;
    for (gone = 0; gone < 2; gone++) {
        async_runtime rt;
        ZERO(f);
        start(&rt);
        for (i = 0; i < K; i++) {                 /* one tick apart, the latest first */
            f[i].id = i;
            f[i].dur = MS(300) + (async_time)(K - i) * 1024u;
            async_task_spawn(&rt, &f[i].task, sleeper, "s");
        }
        async_runtime_step(&rt, 0);
        for (i = 0; i < K; i++) CHECK(f[i].timer.level > 0);
        ASSERT_EQ(async_time_advance(&rt, MS(299)), 0);   /* cascaded nearer, none due */
        for (i = gone; i < K; i += 2) async_task_abort(&f[i].task);
        async_runtime_step(&rt, 0);               /* the aborted unwind: their timers go */
        ASSERT_EQ(rt.ntimers, (K + gone) / 2);
        last = (K - 1) % 2 != gone ? K - 1 : K - 2;       /* the earliest left */
        ASSERT_EQ(async_runtime_next_deadline(&rt), g_t0 + f[last].dur);
        now = async_time_now(&rt);                /* its deadline as armed (the clock may */
        for (i = K; i < K + T; i++) {             /* jump in make test's faults) */
            f[i].id = i;
            f[i].dur = f[last].timer.deadline > now ? f[last].timer.deadline - now : 0;
            async_task_spawn(&rt, &f[i].task, sleeper, "t");
        }
        ASSERT_EQ(async_runtime_run(&rt), 0);
        expect[0] = 0;
        for (i = K - 1; i >= 0; i--) {
            if (i % 2 == gone) continue;
            sprintf(expect + strlen(expect), "%d@300 ", i);
            for (j = K; i == last && j < K + T; j++) sprintf(expect + strlen(expect), "%d@300 ", j);
        }
        ASSERT_STR(test_log, expect);
        for (i = 0; i < K; i++) ASSERT_EQ(f[i].at, i % 2 == gone ? 0 : f[i].dur);
        for (i = K; i < K + T; i++) ASSERT_EQ(f[i].at, f[last].dur);
        ASSERT_EQ(rt.ntimers, 0);
        async_runtime_destroy(&rt);
    }
}

/* Hosted, a slot above level 0 is four lists (timers cascaded into it sort by their
   tick), all walked at once from both ends, a list that ends leaving the walks of the
   others, the last going on alone. Slots whose lists have every mix of lengths (none,
   one, a few, many): no timer lost or linked twice, each fires on time, by deadline and
   then in arming order. */
static int order_n, order_of[600];
static int order_sleeper(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->dur));
    f->at = NOW();
    order_of[order_n++] = f->id;
    ASYNC_END(0);
}
TEST(cascade_of_slots_with_lists_of_unequal_lengths) {
    enum { TICKS = 8, MAXN = 400 };
    static tframe f[MAXN];
    int round, i, j, n, k, cnt[TICKS], tick_of[MAXN], left[TICKS];
    rng_state = 12345u;
    for (round = 0; round < 40; round++) {
        async_runtime rt;
        ZERO(f);
        start(&rt);
        for (j = 0, n = 0; j < TICKS; j++) {  /* how many at each of 8 ticks in a row */
            uint32_t r = rnd() % 8;
            cnt[j] = r < 3 ? 0 : r < 5 ? 1 : r < 7 ? (int)(rnd() % 6) : (int)(rnd() % 48);
            if (round < 2) cnt[j] = 45;       /* 360 in all */
            left[j] = cnt[j];
            n += cnt[j];
        }
        for (i = 0; i < n; i++) {             /* armed with the ticks interleaved */
            do j = (int)(rnd() % TICKS); while (!left[j]);
            left[j]--;
            tick_of[i] = j;
            f[i].id = i;
            f[i].dur = MS(300) + (async_time)j * 1024u + 7u;
            async_task_spawn(&rt, &f[i].task, order_sleeper, "s");
        }
        order_n = 0;
        async_runtime_step(&rt, 0);               /* all armed (a step polls 61 at most) */
        while (rt.nready) async_runtime_step(&rt, 0);
        for (i = 0; i < n; i++) CHECK(f[i].timer.level > 0);
        if (round % 2) {                      /* half the rounds: a cascade first */
            ASSERT_EQ(async_time_advance(&rt, MS(290)), 0);
            ASSERT_EQ(order_n, 0);
        }
        ASSERT_EQ(async_runtime_run(&rt), 0);
        ASSERT_EQ(order_n, n);
        for (j = 0, k = 0; j < TICKS; j++)    /* by deadline, then arming order */
            for (i = 0; i < n; i++)
                if (tick_of[i] == j) ASSERT_EQ(order_of[k++], i);
        for (i = 0; i < n; i++) ASSERT_EQ(f[i].at, f[i].dur);
        ASSERT_EQ(rt.ntimers, 0);
        async_runtime_destroy(&rt);
    }
}

/* Timers of a few deadlines armed in turn share the slots of the higher levels; a
   cascade's walks bring each deadline's timers down to level 0 out of arming order (the
   back walk's, reversed), where they go to the slot's tail and the slot is sorted before
   it fires (scanning for each one's place took O(n^2): seconds for 1e5). They fire by
   deadline, then in arming order, on time, under auto-advance and under advance
   steps; so do 599 of one deadline (armed in a row: one list, over three blocks of
   arming order). */
TEST(deadlines_armed_in_turn_fire_in_order) {
    enum { N = 599 };
    static tframe f[N];
    int i, k, d, round, D;
    for (round = 0; round < 3; round++) {       /* the last: one deadline for all */
        async_runtime rt;
        D = round < 2 ? 3 : 1;
        ZERO(f);
        start(&rt);
        for (i = 0; i < N; i++) {
            f[i].id = i;
            f[i].dur = MS(1000) + (async_time)(i % D) * MS(20) + (async_time)(i % D);
            async_task_spawn(&rt, &f[i].task, order_sleeper, "s");
        }
        order_n = 0;
        async_runtime_step(&rt, 0);
        while (rt.nready) async_runtime_step(&rt, 0);
        if (round == 1) {
            for (k = 0; k < 1100 && order_n < N; k++) {
                ASSERT_EQ(async_time_advance(&rt, MS(1)), 0);
                while (rt.nready) async_runtime_step(&rt, 0);
            }
        }
        ASSERT_EQ(async_runtime_run(&rt), 0);
        ASSERT_EQ(order_n, N);
        for (d = 0, k = 0; d < D; d++)
            for (i = d; i < N; i += D) ASSERT_EQ(order_of[k++], i);
        for (i = 0; i < N; i++)               /* stepping: at the step that passes it */
            CHECK(round == 1 ? f[i].at >= f[i].dur && f[i].at < f[i].dur + MS(1)
                             : f[i].at == f[i].dur);
        ASSERT_EQ(rt.ntimers, 0);
        async_runtime_destroy(&rt);
    }
}

/* Auto-advance jumps the paused clock straight to the earliest deadline of a slot of a
   higher level (unordered: its first timer is not the earliest), having cascaded it;
   a timer armed then, earlier than the rest of that slot, fires before them. */
static int rearm_sleeper(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->dur));
    f->at = NOW();
    logf_("%d@%llu ", f->id, (unsigned long long)(f->at / MS(1)));
    if (f->n) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(f->n)));
        f->t0 = NOW();
        logf_("%d+@%llu ", f->id, (unsigned long long)(f->t0 / MS(1)));
    }
    ASYNC_END(0);
}
TEST(auto_advance_into_an_unordered_slot) {
    async_runtime rt;
    static tframe f[3];
    static const int ms[3] = {500, 400, 450};
    int i;
    ZERO(f);
    start(&rt);
    for (i = 0; i < 3; i++) {
        f[i].id = i;
        f[i].dur = MS(ms[i]) + 1;                 /* not on a tick's edge */
        async_task_spawn(&rt, &f[i].task, rearm_sleeper, "s");
    }
    f[1].n = 20;                                  /* woken at 400 ms, sleeps to 420 ms */
    async_runtime_step(&rt, 0);
    for (i = 0; i < 3; i++) CHECK(f[i].timer.level > 0);
    ASSERT_EQ(async_runtime_next_deadline(&rt), g_t0 + MS(400) + 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "1@400 1+@420 2@450 0@500 ");
    for (i = 0; i < 3; i++) ASSERT_EQ(f[i].at, f[i].dur);
    ASSERT_EQ(f[1].t0, MS(420) + 1);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* A million live timers on one task: arm them all, cancel half, then move the
   paused clock in steps and check that exactly the due ones have fired. */
TEST(wheel_one_million_live_timers) {
    enum { N = 1000000 };
    async_runtime rt;
    static tframe host;
    async_timer *tm = (async_timer *)calloc(N, sizeof *tm);
    async_time step, limit;
    int i, bad = 0, fired = 0;
    ZERO(host);
    start(&rt);
    host.dur = ASYNC_SEC(100000);
    async_task_spawn(&rt, &host.task, sleeper, "host");
    async_runtime_step(&rt, 0);
    for (i = 0; i < N; i++)                       /* up to ~73 minutes ahead, ns apart */
        async__timer_arm(&host.task, &tm[i], g_t0 + 1 + ((async_time)rnd() << 10) + rnd() % 1024);
    ASSERT_EQ(rt.ntimers, N + 1);
    for (i = 0; i < N; i += 2) async__timer_disarm(&tm[i]);
    ASSERT_EQ(rt.ntimers, N / 2 + 1);
    for (step = 0; step < 8; step++) {
        limit = (step + 1) * (((async_time)UINT32_MAX << 10) / 8);
        if (async_time_now(&rt) < g_t0 + limit)   /* (the clock may jump: tests/faults.h) */
            async_time_advance(&rt, g_t0 + limit - async_time_now(&rt));
        for (i = 1; i < N; i += 2) {
            int due = tm[i].deadline <= g_t0 + limit;
            if (due != (tm[i].state == 2)) bad++;
        }
    }
    for (i = 1; i < N; i += 2) fired += tm[i].state == 2;
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(fired, N / 2);
    ASSERT_EQ(rt.ntimers, 1);                     /* only the host's own sleep */
    for (i = 0; i < N; i++) tm[i].state = 0;
    free(tm);
    async_runtime_destroy(&rt);
}

/* The clock may move between any two readings (a preemption, a slow machine): a
   sleep that decides "not yet" on one reading and arms its timer on another must
   still wake. A clock that jumps 5 ms at its k-th reading while one task sleeps
   1 ms: the task used to wait forever (its timer marked fired, never linked, no
   wake), and block_on gave EDEADLK. */
static async_time g_jclock, g_jump;
static int g_jreads, g_jat;
static async_time jump_clock(void *user) {
    (void)user;
    if (++g_jreads == g_jat) g_jclock += g_jump;
    return g_jclock;
}
static void jump_idle(void *user, async_time wait) {     /* the wait passes at once */
    (void)user;
    g_jclock += wait;
}
TEST(clock_jump_between_two_readings_loses_no_wake) {
    static tframe f;
    async_runtime_desc d;
    int k, j, rc;
    static const async_time jumps[] = {MS(1) - 1, MS(1), MS(5)};
    for (j = 0; j < 3; j++) {
        for (k = 1; k <= 12; k++) {
            async_runtime rt;
            ZERO(f);
            ZERO(d);
            d.now = jump_clock;
            d.idle = jump_idle;
            g_jclock = MS(1000);
            g_jreads = 0;
            g_jat = k;
            g_jump = jumps[j];
            async_runtime_init(&rt, &d);
            g_rt = &rt;
            g_t0 = MS(1000);
            f.dur = MS(1);
            rc = async_runtime_block_on(&rt, &f.task, sleeper, "sleeper");
            if (rc != 0) FAIL_("jump %d at reading %d: block_on gave %d", j, k, rc);
            CHECK(f.at >= MS(1));                   /* never early */
            ASSERT_EQ(rt.ntimers, 0);
            async_runtime_destroy(&rt);
        }
    }
}

TEST(real_clock_sleep) {
    async_runtime rt;
    static tframe f;
    async_time t0;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    g_rt = &rt;
    g_t0 = t0 = async_time_now(&rt);
    f.dur = MS(2);
    async_runtime_block_on(&rt, &f.task, sleeper, "real");
    CHECK(async_time_now(&rt) - t0 >= MS(2));     /* never early */
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(sleeps_fire_in_deadline_order);
    RUN(sub_tick_deadlines_fire_in_order);
    RUN(shared_tick_cascade_keeps_order);
    RUN(sleep_zero_and_past_deadline_do_not_suspend);
    RUN(sleep_until);
    RUN(manual_advance);
    RUN(resume_continues_from_paused_instant);
    RUN(sleep_never_blocks_forever_even_with_auto_advance);
    RUN(block_on_deadlocks_on_paused_clock_without_advance);
    RUN(auto_advance_skips_an_hour_instantly);
    RUN(interval_first_tick_is_immediate);
    RUN(interval_burst_catches_up);
    RUN(interval_delay_shifts_the_grid);
    RUN(interval_skip_keeps_the_grid);
    RUN(interval_within_slack_is_not_missed);
    RUN(interval_init_at_and_reset);
    RUN(interval_reset_while_waiting);
    RUN(interval_bad_arguments);
    RUN(time_bad_arguments);
    RUN(interval_from_never_until_reset);
    RUN(timeout_fires);
    RUN(timeout_not_reached);
    RUN(timeout_racing_completion_at_same_instant);
    RUN(timeout_zero);
    RUN(elapsed_deadline_in_a_loop_spends_budget);
    RUN(abort_during_timeout_unlinks_both_timers);
    RUN(timeout_around_nested_call);
    RUN(deadline_on_join_leaves_the_child_running);
    RUN(wheel_random_deadlines_and_cancellations);
    RUN(cascade_of_every_slot_size);
    RUN(cascade_of_a_slot_with_one_list_emptied);
    RUN(cascade_of_slots_with_lists_of_unequal_lengths);
    RUN(deadlines_armed_in_turn_fire_in_order);
    RUN(auto_advance_into_an_unordered_slot);
    RUN(wheel_one_million_live_timers);
    RUN(clock_jump_between_two_readings_loses_no_wake);
    RUN(real_clock_sleep);
    DONE();
}
