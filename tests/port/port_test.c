/* port_test.c - async.h on a bare Cortex-M, run under qemu-system-arm by
   tests/port/run.sh: tasks with sleeps, joins, an interval, aborts, timeouts
   and an interrupt-style waker, on a user-supplied clock (a fake hardware
   clock that the idle hook advances to the requested deadline, as WFI until a
   timer interrupt would) and on the paused clock with auto-advance. Uses only
   the public API of the manual. Prints a PASS/FAIL line per test and a final
   "port_test: N passed, M failed" through semihosting; exits 0 only if all
   passed. Built freestanding: no libc, only the compiler's own headers. */
#include "async.h"
#include "port.h"

/* ---- reporting ------------------------------------------------------------- */

static int n_pass, n_fail, cur_failed;

static void put(const char *s) { port_write(s); }

static void put_u(unsigned long v) {
    char b[12];
    int i = 11;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v && i > 0);
    put(b + i);
}

static void put_i(long v) {
    if (v < 0) {
        put("-");
        put_u(0ul - (unsigned long)v);
    } else {
        put_u((unsigned long)v);
    }
}

static void put_x64(uint64_t v) {
    static const char hex[] = "0123456789abcdef";
    char b[19];
    int i;
    b[0] = '0';
    b[1] = 'x';
    for (i = 0; i < 16; i++) b[2 + i] = hex[(v >> (60 - 4 * i)) & 15u];
    b[18] = 0;
    put(b);
}

static void fail_head(int line) {
    put("  check failed (port_test.c:");
    put_u((unsigned long)line);
    put("): ");
    cur_failed = 1;
}

static void check_(int ok, const char *expr, int line) {
    if (ok) return;
    fail_head(line);
    put(expr);
    put("\n");
}

static void check_eq_(long a, long b, const char *expr, int line) {
    if (a == b) return;
    fail_head(line);
    put(expr);
    put(": ");
    put_i(a);
    put(" != ");
    put_i(b);
    put("\n");
}

static void check_time_(uint64_t a, uint64_t b, const char *expr, int line) {
    if (a == b) return;
    fail_head(line);
    put(expr);
    put(": ");
    put_x64(a);
    put(" != ");
    put_x64(b);
    put("\n");
}

#define CHECK(c) check_((c) != 0, #c, __LINE__)
#define CHECK_EQ(a, b) check_eq_((long)(a), (long)(b), #a " == " #b, __LINE__)
#define CHECK_TIME(a, b) check_time_((uint64_t)(a), (uint64_t)(b), #a " == " #b, __LINE__)

#define RUN(fn) do { \
        cur_failed = 0; \
        fn(); \
        put(cur_failed ? "FAIL " : "PASS "); \
        put(#fn); \
        put("\n"); \
        if (cur_failed) n_fail++; else n_pass++; \
    } while (0)

static int str_eq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static int str_has(const char *hay, const char *needle) {
    const char *h, *n;
    for (; *hay; hay++) {
        for (h = hay, n = needle; *n && *h == *n; h++, n++) {}
        if (!*n) return 1;
    }
    return 0;
}

/* ---- the clocks -------------------------------------------------------------- */

static async_runtime rt;            /* one runtime, initialised afresh by each test */
static async_runtime *g_rt = &rt;

/* A fake hardware clock in ns. The idle hook is where a real port would WFI
   until the timer interrupt: here it jumps the clock to the deadline, or to the
   next simulated interrupt, which wakes irq_waker as an interrupt handler would. */
static async_time fake_now;
static unsigned long idle_calls;
static int irq_armed;
static async_time irq_at;
static async_waker irq_waker;

static async_time fake_clock(void *user) {
    (void)user;
    return fake_now;
}

static void fake_idle(void *user, async_time max_wait) {
    (void)user;
    idle_calls++;
    if (irq_armed && (max_wait == ASYNC_TIME_NEVER || irq_at <= fake_now + max_wait)) {
        if (irq_at > fake_now) fake_now = irq_at;
        irq_armed = 0;
        async_waker_wake(&irq_waker);          /* the "interrupt handler" */
        return;
    }
    if (max_wait == ASYNC_TIME_NEVER) {
        put("FAIL idle: asked to wait forever with no interrupt to come\n");
        port_exit(0);
    }
    fake_now += max_wait;
}

static async_time zero_clock(void *user) {
    (void)user;
    return 0;
}

/* The fake clock starts 15 ms before 2^32 ns, so the tests cross the 32-bit line. */
#define T_START (ASYNC_NS(0xFFFFFFFFu) - ASYNC_MS(15))

static void start_fake(void) {
    async_runtime_desc d = {0};
    d.now = fake_clock;
    d.idle = fake_idle;
    fake_now = T_START;
    idle_calls = 0;
    CHECK_EQ(async_runtime_init(&rt, &d), 0);
}

static void start_paused(void) {
    async_runtime_desc d = {0};
    d.now = zero_clock;
    d.idle = fake_idle;                     /* must never be called: auto-advance */
    d.start_paused = 2;
    idle_calls = 0;
    CHECK_EQ(async_runtime_init(&rt, &d), 0);
}

static void finish(void) {
    CHECK_EQ(async_runtime_run(&rt), 0);
    CHECK_EQ(async_runtime_destroy(&rt), 0);
}

/* ---- tasks ------------------------------------------------------------------- */

typedef struct {
    async_task task;
    async_timer timer;
    async_time dur, woke;
    int id;
} sleeper;

static int wake_order[8], n_woken;

static int sleeper_run(async_task *t) {
    sleeper *f = (sleeper *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, f->dur));
    if (rc != 0) ASYNC_RETURN(rc);
    f->woke = async_time_now(g_rt);
    if (n_woken < 8) wake_order[n_woken++] = f->id;
    ASYNC_END(f->id * 10);
}

static const unsigned kid_ms[3] = { 30, 10, 20 };

typedef struct {
    async_task task;
    sleeper kid[3];
    int i, sum;
} parent;

static int parent_run(async_task *t) {
    parent *f = (parent *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        f->kid[f->i].id = f->i + 1;
        f->kid[f->i].dur = ASYNC_MS(kid_ms[f->i]);
        if (async_task_spawn(g_rt, &f->kid[f->i].task, sleeper_run, "kid") != 0)
            ASYNC_RETURN(-1);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT(rc, async_task_join(t, &f->kid[f->i].task));
        f->sum += rc;
    }
    ASYNC_END(f->sum);
}

static void sleeps_and_joins(void) {
    static parent p;
    async_stats st;
    int i;
    start_fake();
    n_woken = 0;
    CHECK_EQ(async_runtime_block_on(&rt, &p.task, parent_run, "parent"), 10 + 20 + 30);
    CHECK_EQ(n_woken, 3);
    CHECK_EQ(wake_order[0], 2);
    CHECK_EQ(wake_order[1], 3);
    CHECK_EQ(wake_order[2], 1);
    for (i = 0; i < 3; i++) CHECK_TIME(p.kid[i].woke, T_START + ASYNC_MS(kid_ms[i]));
    CHECK_TIME(fake_now, T_START + ASYNC_MS(30));
    CHECK(fake_now > 0xFFFFFFFFu);
    CHECK_EQ(idle_calls, 3);                /* one wait per distinct deadline */
    async_runtime_stats(&rt, &st);
    CHECK_EQ(st.spawned, 4);
    CHECK_EQ(st.completed, 4);
    CHECK_EQ(st.timers_fired, 3);
    finish();
}

typedef struct {
    async_task task;
    async_interval iv;
    async_timer timer;
    async_time when[6], at[6];
    int n;
} ticker;

static int ticker_burst(async_task *t) {
    ticker *f = (ticker *)t;
    int rc;
    ASYNC_BEGIN(t);
    if (async_interval_init(&f->iv, ASYNC_MS(7), ASYNC_TICK_BURST) != 0) ASYNC_RETURN(-1);
    for (f->n = 0; f->n < 5; f->n++) {
        ASYNC_AWAIT(rc, async_interval_tick(t, &f->iv, &f->when[f->n]));
        if (rc != 0) ASYNC_RETURN(rc);
        f->at[f->n] = async_time_now(g_rt);
    }
    ASYNC_END(f->n);
}

static void interval_ticks(void) {
    static ticker k;
    int i;
    start_fake();
    CHECK_EQ(async_task_spawn(&rt, &k.task, ticker_burst, "ticker"), 0);
    CHECK_EQ(async_runtime_run(&rt), 0);
    CHECK_EQ(async_task_result(&k.task, &i), 0);
    CHECK_EQ(i, 5);
    for (i = 0; i < 5; i++) {
        CHECK_TIME(k.when[i], T_START + ASYNC_MS(7) * (unsigned)i);   /* first tick at once */
        CHECK_TIME(k.at[i], k.when[i]);
    }
    CHECK_EQ(idle_calls, 4);
    finish();
}

typedef struct {
    async_task task;
    async_timer timer;
    int started, cleaned, cancelled;
} victim;

static int victim_run(async_task *t) {
    victim *f = (victim *)t;
    int rc;
    ASYNC_BEGIN(t);
    f->started = 1;
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(1)));
    (void)rc;
    ASYNC_CLEANUP();
    f->cleaned++;
    f->cancelled = async_task_is_cancelling(t);
    ASYNC_END(1);
}

typedef struct {
    async_task task;
    async_timer timer;
    victim v, early;
    int rc, rc_v, rc_early;
    async_time joined;
} killer;

static int killer_run(async_task *t) {
    killer *f = (killer *)t;
    ASYNC_BEGIN(t);
    if (async_task_spawn(g_rt, &f->v.task, victim_run, "victim") != 0) ASYNC_RETURN(-1);
    if (async_task_spawn(g_rt, &f->early.task, victim_run, "early") != 0) ASYNC_RETURN(-1);
    async_task_abort(&f->early.task);   /* before its first poll: only its cleanup runs */
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(5)));
    async_task_abort(&f->v.task);                   /* suspended in a 1 s sleep */
    ASYNC_AWAIT(f->rc_v, async_task_join(t, &f->v.task));
    f->joined = async_time_now(g_rt);
    ASYNC_AWAIT(f->rc_early, async_task_join(t, &f->early.task));
    ASYNC_END(0);
}

static void abort_tasks(void) {
    static killer k;
    start_fake();
    CHECK_EQ(async_runtime_block_on(&rt, &k.task, killer_run, "killer"), 0);
    CHECK_EQ(k.rc, 0);
    CHECK_EQ(k.rc_v, ASYNC_ECANCELED);
    CHECK_EQ(k.rc_early, ASYNC_ECANCELED);
    CHECK_EQ(k.v.started, 1);
    CHECK_EQ(k.v.cleaned, 1);
    CHECK_EQ(k.v.cancelled, 1);
    CHECK_EQ(k.early.started, 0);                   /* nothing of its body */
    CHECK_EQ(k.early.cleaned, 1);                   /* but its cleanup, cancelled */
    CHECK_EQ(k.early.cancelled, 1);
    CHECK_TIME(k.joined, T_START + ASYNC_MS(5));
    CHECK_TIME(fake_now, T_START + ASYNC_MS(5));    /* the 1 s timer went with the victim */
    CHECK_EQ(idle_calls, 1);
    finish();
}

typedef struct {
    async_task task;
    async_timer timer, tmo;
    sleeper slow;
    int rc1, rc2, rc3;
    async_time at1, at2, at3;
} waiter;

static int waiter_run(async_task *t) {
    waiter *f = (waiter *)t;
    ASYNC_BEGIN(t);
    f->slow.id = 7;
    f->slow.dur = ASYNC_MS(50);
    if (async_task_spawn(g_rt, &f->slow.task, sleeper_run, "slow") != 0) ASYNC_RETURN(-1);
    ASYNC_AWAIT_TIMEOUT(f->rc1, &f->tmo, ASYNC_MS(15), async_task_join(t, &f->slow.task));
    f->at1 = async_time_now(g_rt);
    ASYNC_AWAIT(f->rc2, async_task_join(t, &f->slow.task));     /* the first join gave up */
    f->at2 = async_time_now(g_rt);
    ASYNC_AWAIT_TIMEOUT(f->rc3, &f->tmo, ASYNC_MS(100),
                        async_time_sleep(t, &f->timer, ASYNC_MS(5)));
    f->at3 = async_time_now(g_rt);
    ASYNC_END(0);
}

static void timeouts(void) {
    static waiter w;
    start_fake();
    CHECK_EQ(async_runtime_block_on(&rt, &w.task, waiter_run, "waiter"), 0);
    CHECK_EQ(w.rc1, ASYNC_ETIMEDOUT);
    CHECK_TIME(w.at1, T_START + ASYNC_MS(15));
    CHECK_EQ(w.rc2, 70);
    CHECK_TIME(w.at2, T_START + ASYNC_MS(50));
    CHECK_EQ(w.rc3, 0);
    CHECK_TIME(w.at3, T_START + ASYNC_MS(55));
    CHECK_TIME(fake_now, T_START + ASYNC_MS(55));   /* the 100 ms timeout was disarmed */
    CHECK_EQ(idle_calls, 3);
    finish();
}

typedef struct {
    async_task task;
    async_timer timer;
    int rc1, rc2;
    async_time at1, at2;
} irq_task;

static int irq_run(async_task *t) {
    irq_task *f = (irq_task *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc1, async_waker_wait(t, &irq_waker));      /* interrupt at +4 ms */
    f->at1 = async_time_now(g_rt);
    irq_at = f->at1 + ASYNC_MS(3);                              /* fires during the sleep */
    irq_armed = 1;
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
    (void)rc;
    ASYNC_AWAIT(f->rc2, async_waker_wait(t, &irq_waker));      /* kept: returns at once */
    f->at2 = async_time_now(g_rt);
    ASYNC_END(0);
}

static void interrupt_waker(void) {
    static irq_task k;
    start_fake();
    CHECK_EQ(async_waker_init(&rt, &irq_waker), 0);
    irq_at = T_START + ASYNC_MS(4);
    irq_armed = 1;
    CHECK_EQ(async_runtime_block_on(&rt, &k.task, irq_run, "irq"), 0);
    CHECK_EQ(k.rc1, 0);
    CHECK_TIME(k.at1, T_START + ASYNC_MS(4));
    CHECK_EQ(k.rc2, 0);
    CHECK_TIME(k.at2, T_START + ASYNC_MS(14));
    CHECK_EQ(irq_armed, 0);
    CHECK_EQ(idle_calls, 3);
    CHECK_EQ(async_waker_destroy(&irq_waker), 0);
    finish();
}

static int ticker_skip(async_task *t) {
    ticker *f = (ticker *)t;
    int rc;
    ASYNC_BEGIN(t);
    if (async_interval_init(&f->iv, ASYNC_MS(7), ASYNC_TICK_SKIP) != 0) ASYNC_RETURN(-1);
    ASYNC_AWAIT(rc, async_interval_tick(t, &f->iv, &f->when[0]));     /* at once */
    f->at[0] = async_time_now(g_rt);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(5000)));  /* miss 714 ticks */
    ASYNC_AWAIT(rc, async_interval_tick(t, &f->iv, &f->when[1]));     /* the +7 ms one */
    f->at[1] = async_time_now(g_rt);
    ASYNC_AWAIT(rc, async_interval_tick(t, &f->iv, &f->when[2]));     /* next multiple */
    f->at[2] = async_time_now(g_rt);
    ASYNC_END(rc);
}

static char dumped[1024];
static void dump_write(void *user, const char *text) {
    size_t n = 0;
    (void)user;
    while (dumped[n]) n++;
    while (*text && n + 1 < sizeof dumped) dumped[n++] = *text++;
    dumped[n] = 0;
}

static void paused_clock(void) {
    static sleeper day;
    static ticker k;
    static victim v;
    start_paused();
    day.id = 5;
    day.dur = ASYNC_SEC(86400);                     /* 8.64e13 ns: far past 2^32 */
    CHECK_EQ(async_task_spawn(&rt, &day.task, sleeper_run, "day"), 0);
    CHECK_EQ(async_task_spawn(&rt, &k.task, ticker_skip, "skip"), 0);
    dumped[0] = 0;
    async_runtime_dump(&rt, dump_write, NULL);
    CHECK(str_has(dumped, "2 live tasks (2 ready"));
    CHECK(str_has(dumped, "\"day\" ready not started"));
    CHECK_EQ(async_runtime_run(&rt), 0);
    CHECK_TIME(day.woke, ASYNC_SEC(86400));
    CHECK_TIME(async_time_now(&rt), ASYNC_SEC(86400));
    /* skip: (5000 - 7) % 7 = 2, so the tick after 5000 ms is at 5005 ms */
    CHECK_TIME(k.when[0], 0);
    CHECK_TIME(k.when[1], ASYNC_MS(7));
    CHECK_TIME(k.at[1], ASYNC_MS(5000));
    CHECK_TIME(k.when[2], ASYNC_MS(5005));
    CHECK_TIME(k.at[2], ASYNC_MS(5005));
    CHECK_EQ(idle_calls, 0);
    dumped[0] = 0;
    async_runtime_dump(&rt, dump_write, NULL);
    CHECK(str_has(dumped, "0 live tasks"));
    CHECK(str_has(dumped, "time 86400000.000 ms (paused)"));
    /* destroy cancels what is still alive, running its cleanup */
    CHECK_EQ(async_task_spawn(&rt, &v.task, victim_run, "victim"), 0);
    CHECK_EQ(async_runtime_step(&rt, 0), 1);
    CHECK_EQ(v.started, 1);
    CHECK_EQ(async_runtime_destroy(&rt), 1);
    CHECK_EQ(v.cleaned, 1);
    CHECK_EQ(v.cancelled, 1);
    if (cur_failed) put(dumped);
}

static void errors(void) {
    CHECK_EQ(ASYNC_ETIMEDOUT, -110);                /* the freestanding fallback values */
    CHECK_EQ(ASYNC_ECANCELED, -125);
    CHECK(str_eq(async_strerror(0), "success"));
    CHECK(str_eq(async_strerror(ASYNC_ETIMEDOUT), "timed out"));
    CHECK(str_eq(async_strerror(ASYNC_ECANCELED), "operation cancelled"));
    CHECK(str_eq(async_strerror(ASYNC_PENDING), "pending"));
    CHECK(str_eq(async_strerror(-4000), "unknown error"));
    CHECK_EQ(async_runtime_init(&rt, NULL), ASYNC_EINVAL);     /* desc.now is required */
}

int main(void) {
    put("port_test: async.h " ASYNC_VERSION_STRING ", freestanding; sizeof runtime ");
    put_u(sizeof(async_runtime));
    put(", task ");
    put_u(sizeof(async_task));
    put(", timer ");
    put_u(sizeof(async_timer));
    put(", interval ");
    put_u(sizeof(async_interval));
    put(" bytes\n");
    RUN(sleeps_and_joins);
    RUN(interval_ticks);
    RUN(abort_tasks);
    RUN(timeouts);
    RUN(interrupt_waker);
    RUN(paused_clock);
    RUN(errors);
    put("port_test: ");
    put_u((unsigned long)n_pass);
    put(" passed, ");
    put_u((unsigned long)n_fail);
    put(" failed\n");
    return n_fail ? 1 : 0;
}
