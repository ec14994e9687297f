/* Debugging: the task dump (name, state, file:line, awaited expression), the
   resume line, counters, the slow-poll warning, error names. */
#include "test.h"

typedef struct {
    async_task task;
    async_timer timer;
    async_task *child;
    int rc, line;
    async_time busy;
} dframe;

static char out[8192];
static void capture(void *user, const char *text) {
    (void)user;
    strncat(out, text, sizeof out - strlen(out) - 1);
}

static int napper(async_task *t) {
    dframe *f = (dframe *)t;
    ASYNC_BEGIN(t);
    f->line = __LINE__ + 1;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(1)));
    ASYNC_END(0);
}
static int parent(async_task *t) {
    dframe *f = (dframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_task_join(t, f->child));
    ASYNC_END(0);
}

TEST(dump_lists_every_task_with_where_and_what) {
    async_runtime rt;
    static dframe a, b, c;
    const char *file = NULL;
    int line = 0;
    char expect[256];
    ZERO(a); ZERO(b); ZERO(c);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &a.task, napper, "napper");
    b.child = &a.task;
    async_task_spawn(&rt, &b.task, parent, "parent");
    async_runtime_step(&rt, 0);
    async_task_spawn(&rt, &c.task, napper, "fresh");
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "3 live tasks (1 ready, 0 yielded), 1 timers");
    ASSERT_HAS(out, "(paused)");
    ASSERT_HAS(out, "\"fresh\" ready not started");
#ifndef ASYNC_NO_SITES
    sprintf(expect, "\"napper\" waiting at %s:%d in async_time_sleep(t, &f->timer, ASYNC_SEC(1))"
            " (joined by \"parent\")", __FILE__, a.line);
    ASSERT_HAS(out, expect);
    ASSERT_HAS(out, "\"parent\" waiting at " __FILE__);
    ASSERT_HAS(out, "in async_task_join(t, f->child)");
#else   /* no sites: the line comes from the resume key, the file is unknown */
    sprintf(expect, "\"napper\" waiting at ?:%d (joined by \"parent\")", a.line);
    ASSERT_HAS(out, expect);
#endif
    ASSERT_HAS(out, "polls=2 wakes=0 timers_fired=0 spawned=3 completed=0");
    ASSERT_EQ(async_task_where(&a.task, &file, &line), 0);
#ifndef ASYNC_NO_SITES
    ASSERT_STR(file, __FILE__);
#else
    CHECK(file == NULL);
#endif
    ASSERT_EQ(line, a.line);
    ASSERT_EQ(async_task_where(&c.task, &file, &line), ASYNC_ESTATE);   /* not started */
    ASSERT_STR(async_task_name(&b.task), "parent");
    ASSERT_STR(async_task_state_name(async_task_state(&a.task)), "waiting");
    async_task_abort(&a.task);
    async_runtime_step(&rt, 0);
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "1 live tasks");              /* the parent ran in the same pass */
    ASSERT_HAS(out, "completed=2");
    ASSERT_EQ(b.rc, ASYNC_ECANCELED);
    async_runtime_destroy(&rt);
}

TEST(counters) {
    async_runtime rt;
    static dframe a;
    async_stats st;
    ZERO(a);
    test_rt_paused(&rt);
    async_runtime_block_on(&rt, &a.task, napper, "n");
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 2);
    ASSERT_EQ(st.wakes, 1);
    ASSERT_EQ(st.timers_fired, 1);
    ASSERT_EQ(st.spawned, 1);
    ASSERT_EQ(st.completed, 1);
    ASSERT_EQ(st.slow_polls, 0);
    async_runtime_destroy(&rt);
}

/* Where a task waits is the innermost suspension: a nested coroutine's line, not
   its caller's. A PENDING that a finished select swallowed leaves no stale line
   behind for the next await. */
typedef struct { async_coro co; async_timer timer; int line; } inner_frame;
static int inner_sleep(async_task *t, inner_frame *f, async_time d) {
    ASYNC_CORO_BEGIN(t, &f->co);
    f->line = __LINE__ + 1;
    ASYNC_AWAIT(f->co.result, async_time_sleep(t, &f->timer, d));
    ASYNC_END(0);
}
typedef struct {
    async_task task;
    inner_frame in;
    async_select sel;
    async_timer timer;
    int rc, rc0, rc1, line, stage;
} site_frame;
static int nested_waiter(async_task *t) {
    site_frame *f = (site_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_CALL(f->rc, &f->in.co, inner_sleep(t, &f->in, ASYNC_SEC(1)));
    f->stage = 1;
    ASYNC_CORO_INIT(&f->in.co);
    ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc0, inner_sleep(t, &f->in, ASYNC_SEC(5)));
        ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc1, async_time_sleep(t, &f->timer, 0));
    ASYNC_SELECT_END(&f->sel);
    f->stage = 2;
    f->line = __LINE__ + 1;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(1)));
    ASYNC_END(0);
}
TEST(where_is_the_innermost_suspension_and_never_stale) {
    async_runtime rt;
    static site_frame f;
    const char *file = NULL;
    int line = 0;
    ZERO(f);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &f.task, nested_waiter, "nested");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f.stage, 0);
    ASSERT_EQ(async_task_where(&f.task, &file, &line), 0);
#ifndef ASYNC_NO_SITES
    ASSERT_EQ(line, f.in.line);                   /* inside inner_sleep */
    ASSERT_STR(file, __FILE__);
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "in async_time_sleep(t, &f->timer, d)");
#endif
    async_time_advance(&rt, ASYNC_SEC(1));
    async_runtime_step(&rt, 0);
    /* the select: branch 0 suspended inside inner_sleep, branch 1 won at once */
    ASSERT_EQ(f.stage, 2);
    ASSERT_EQ(f.sel.winner, 1);
    ASSERT_EQ(async_task_where(&f.task, &file, &line), 0);
    ASSERT_EQ(line, f.line);                      /* not the loser's line */
#ifndef ASYNC_NO_SITES
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "in async_time_sleep(t, &f->timer, ASYNC_SEC(1))");
#endif
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    async_runtime_destroy(&rt);
}

/* A clock the test moves by hand: a "busy" task advances it during its poll. */
static async_time fake_now;
static async_time fake_clock(void *user) { (void)user; return fake_now; }
static char logged[1024];
static void log_line(void *user, const char *line) {
    (void)user;
    strncat(logged, line, sizeof logged - strlen(logged) - 1);
}
static int hog(async_task *t) {
    dframe *f = (dframe *)t;
    ASYNC_BEGIN(t);
    fake_now += f->busy;                          /* pretend to compute for a while */
    f->line = __LINE__ + 1;
    ASYNC_YIELD();
    fake_now += ASYNC_US(10);
    ASYNC_END(0);
}
TEST(slow_poll_warning_names_task_and_line) {
    async_runtime rt;
    async_runtime_desc d;
    static dframe h;
    async_stats st;
    char expect[256];
    ZERO(d); ZERO(h);
    d.now = fake_clock;
    d.log = log_line;
    d.slow_poll = ASYNC_MS(10);
    fake_now = ASYNC_SEC(1);
    logged[0] = 0;
    async_runtime_init(&rt, &d);
    h.busy = ASYNC_MS(25);
    async_runtime_block_on(&rt, &h.task, hog, "hog");
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.slow_polls, 1);                  /* the second, 10 us poll is fine */
#ifndef ASYNC_NO_SITES
    sprintf(expect, "slow poll: task \"hog\" ran 25.000 ms without yielding; it stopped at %s:%d",
            __FILE__, h.line);
#else
    sprintf(expect, "slow poll: task \"hog\" ran 25.000 ms without yielding; it stopped at ?:%d",
            h.line);
#endif
    ASSERT_HAS(logged, expect);
    async_runtime_destroy(&rt);
}

/* Runs fn with stderr sent to a file and returns what was written there. */
#include <unistd.h>
static char err_text[2048];
static const char *capture_stderr(void (*fn)(void *), void *arg) {
    FILE *tmp = tmpfile();
    int saved, n;
    fflush(stderr);
    saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = (int)fread(err_text, 1, sizeof err_text - 1, tmp);
    err_text[n < 0 ? 0 : n] = 0;
    fclose(tmp);
    return err_text;
}

/* Without a log hook the slow-poll warning goes to stderr; a task without a name is
   "?". */
static void run_unnamed_hog(void *arg) {
    async_runtime *rt = (async_runtime *)arg;
    static dframe h;
    ZERO(h);
    h.busy = ASYNC_MS(12);
    async_runtime_block_on(rt, &h.task, hog, NULL);
    ((dframe *)rt->user)->line = h.line;
}
TEST(slow_poll_warning_goes_to_stderr_without_a_log_hook) {
    async_runtime rt;
    async_runtime_desc d;
    async_stats st;
    static dframe where;
    char expect[256];
    const char *text;
    ZERO(d); ZERO(where);
    d.now = fake_clock;
    d.slow_poll = ASYNC_MS(10);
    d.user = &where;
    fake_now = ASYNC_SEC(1);
    async_runtime_init(&rt, &d);
    text = capture_stderr(run_unnamed_hog, &rt);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.slow_polls, 1);
#ifndef ASYNC_NO_SITES
    sprintf(expect, "async.h: slow poll: task \"?\" ran 12.000 ms without yielding; "
            "it stopped at %s:%d\n", __FILE__, where.line);
#else
    sprintf(expect, "async.h: slow poll: task \"?\" ran 12.000 ms without yielding; "
            "it stopped at ?:%d\n", where.line);
#endif
    ASSERT_STR(text, expect);
    async_runtime_destroy(&rt);
}

/* The dump without a writer goes to stderr; it shows a yielded task as yielded,
   JoinSet members, a joiner without a name, and the running task when called from
   inside one. */
typedef struct { async_task task; async_runtime *rt; } dumper_frame;
static int dumper(async_task *t) {
    dumper_frame *f = (dumper_frame *)t;
    ASYNC_BEGIN(t);
    async_runtime_dump(f->rt, capture, NULL);
    ASYNC_YIELD();
    ASYNC_END(0);
}
static void dump_to_stderr(void *arg) { async_runtime_dump((async_runtime *)arg, NULL, NULL); }
TEST(dump_details_and_default_writer) {
    async_runtime rt;
    static dframe a, b, m, j;
    static dumper_frame d;
    async_joinset js;
    const char *text;
    ZERO(a); ZERO(b); ZERO(m); ZERO(j); ZERO(d);
    async_runtime_dump(NULL, capture, NULL);      /* no runtime: nothing, no crash */
    async_runtime_init(&rt, NULL);                /* the real clock: not "(paused)" */
    async_joinset_init(&js, &rt);
    async_task_spawn(&rt, &a.task, napper, "a");
    async_joinset_spawn(&js, &m.task, napper, "member");
    j.child = &b.task;
    async_task_spawn(&rt, &b.task, napper, "joined");
    async_task_spawn(&rt, &j.task, parent, NULL);
    async_runtime_step(&rt, 0);
    async_task_abort(&a.task);                    /* queued for its cancel-mode poll */
    d.rt = &rt;
    async_task_spawn(&rt, &d.task, dumper, "dumper");
    out[0] = 0;
    async_runtime_step(&rt, 0);                   /* a's cancel poll, then the dumper */
    ASSERT_HAS(out, "\"dumper\" running");
    ASSERT_HAS(out, "\"member\" waiting");
    ASSERT_HAS(out, "(in a JoinSet)");
    ASSERT_HAS(out, "(joined by \"\")");          /* a joiner without a name */
    CHECK(strstr(out, "(paused)") == NULL);
    ASSERT_EQ(async_task_state(&a.task), ASYNC_TASK_DONE);
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "4 live tasks (0 ready, 1 yielded)");
    ASSERT_HAS(out, "\"dumper\" yielded");
    text = capture_stderr(dump_to_stderr, &rt);
    ASSERT_HAS(text, "async runtime: 4 live tasks");
    ASSERT_HAS(text, "\"member\" waiting");
    async_joinset_destroy(&js);
    async_runtime_destroy(&rt);
}

/* An aborted task not yet polled is flagged in the dump. */
TEST(dump_marks_aborting_tasks) {
    async_runtime rt;
    static dframe a;
    ZERO(a);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &a.task, napper, "victim");
    async_runtime_step(&rt, 0);
    async_task_abort(&a.task);
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    ASSERT_HAS(out, "\"victim\" ready (aborting) at ");
    async_runtime_run(&rt);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A slow poll that finished its task names no place (the task is done). It used to
   say "it stopped at ?:0": the warning runs before the task is marked DONE, and
   async_task_where answered for it. */
static int slow_finisher(async_task *t) {
    dframe *f = (dframe *)t;
    ASYNC_BEGIN(t);
    fake_now += f->busy;
    ASYNC_END(5);
}
static void run_slow_finisher(void *arg) {
    static dframe h;
    ZERO(h);
    h.busy = ASYNC_MS(12);
    async_runtime_block_on((async_runtime *)arg, &h.task, slow_finisher, "fin");
}
TEST(slow_poll_of_a_finished_task_names_no_place) {
    async_runtime rt;
    async_runtime_desc d;
    ZERO(d);
    d.now = fake_clock;
    d.slow_poll = ASYNC_MS(10);
    fake_now = ASYNC_SEC(1);
    async_runtime_init(&rt, &d);
    ASSERT_STR(capture_stderr(run_slow_finisher, &rt),
               "async.h: slow poll: task \"fin\" ran 12.000 ms without yielding\n");
    async_runtime_destroy(&rt);
}

/* A dump line longer than the formatter's 320-byte buffer is cut but keeps its
   newline (it used to lose it, and the next task's line was glued onto it). */
TEST(dump_cuts_a_long_line_but_keeps_its_newline) {
    async_runtime rt;
    static dframe a, b;
    static char long_name[600];
    const char *p, *e;
    ZERO(a); ZERO(b);
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &a.task, napper, long_name);
    async_task_spawn(&rt, &b.task, napper, "next");
    out[0] = 0;
    async_runtime_dump(&rt, capture, NULL);
    p = strstr(out, "nnnn");
    CHECK(p != NULL);
    if (p) {
        e = strchr(p, '\n');
        CHECK(e != NULL && e - p < 320);            /* the line ends within the buffer */
        CHECK(e != NULL && strstr(p, "\"next\"") > e);   /* the next task: its own line */
    }
    async_runtime_destroy(&rt);
}

TEST(strerror_names_every_code) {
    static const int codes[] = {ASYNC_ECANCELED, ASYNC_ETIMEDOUT, ASYNC_ENOMEM, ASYNC_EINVAL,
                                ASYNC_EBUSY, ASYNC_EAGAIN, ASYNC_EDEADLK, ASYNC_ECLOSED,
                                ASYNC_ESTATE, ASYNC_ELOST, ASYNC_ENORECV, ASYNC_ELAGGED,
                                ASYNC_EREJECTED, ASYNC_ELIMIT, ASYNC_EEOF, ASYNC_ENOTFOUND,
                                ASYNC_ENOSYS};
    size_t i, j;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(codes[i] < 0);
        CHECK(strcmp(async_strerror(codes[i]), "unknown error") != 0);
        for (j = 0; j < i; j++) CHECK(strcmp(async_strerror(codes[i]), async_strerror(codes[j])));
    }
    ASSERT_EQ(ASYNC_ETIMEDOUT, -ETIMEDOUT);       /* OS errors and ours are one space */
    ASSERT_STR(async_strerror(0), "success");
    ASSERT_STR(async_strerror(ASYNC_PENDING), "pending");
    ASSERT_STR(async_strerror(-ENOENT), strerror(ENOENT));
    ASSERT_STR(async_strerror(-5000), "unknown error");
    ASSERT_STR(async_strerror(5), "unknown error");           /* not an error code */
}

TEST(state_names_and_null_stats) {
    async_stats st;
    int i;
    for (i = ASYNC_TASK_IDLE; i <= ASYNC_TASK_DONE; i++) CHECK(strcmp(async_task_state_name(i), "?"));
    ASSERT_STR(async_task_state_name(99), "?");
    st.polls = 5;
    async_runtime_stats(NULL, &st);
    ASSERT_EQ(st.polls, 0);
    async_runtime_stats(NULL, NULL);
}

TEST(task_header_is_64_bytes) {
    if (sizeof(void *) == 8) ASSERT_EQ(sizeof(async_task), 64);
    else ASSERT_EQ(sizeof(async_task) <= 40, 1);
}

/* ---- the test harness (async_test_run) --------------------------------------------- */

typedef struct {
    async_task task;
    async_timer timer;
    async_notify n;
    async_waiter w;
    dframe child;
    async_task *alloc;
    async_io io;
    int fds[2];
    int rc, mode;
    async_time t0;
} hframe;

static int harness_mode, harness_fds[2];
static async_time harness_slept;

static char hlog[8192];
static void hcapture(void *user, const char *line) {
    (void)user;
    strncat(hlog, line, sizeof hlog - strlen(hlog) - 1);
}

static int quick_child(async_task *t) {
    ASYNC_BEGIN(t);
    ASYNC_END(0);
}

/* By harness_mode: 0 sleeps 10 s and joins a child (clean), 1 waits for nothing (a
   hang), 2 leaves a child sleeping, 3 leaves an allocated child unjoined, 4 leaves a
   descriptor registered, 5 returns 7, 6 returns ASYNC_EINVAL. */
static int harness_body(async_task *t) {
    hframe *f = (hframe *)t;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(t->rt);
    if (harness_mode == 0) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(10)));
        harness_slept = async_time_now(t->rt) - f->t0;
        async_task_spawn(t->rt, &f->child.task, napper, "napper");
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->child.task));
    } else if (harness_mode == 1) {
        ASYNC_AWAIT(f->rc, async_notify_wait(t, &f->n, &f->w));
    } else if (harness_mode == 2) {
        async_task_spawn(t->rt, &f->child.task, napper, "left sleeping");
    } else if (harness_mode == 3) {
        if (async_task_spawn_alloc(t->rt, quick_child, sizeof(async_task), "unjoined",
                                   &f->alloc) < 0)
            ASYNC_RETURN(0);
        ASYNC_YIELD();
    } else if (harness_mode == 4) {
        if (async_io_register(t->rt, &f->io, harness_fds[0]) < 0) ASYNC_RETURN(0);
    } else if (harness_mode == 5) {
        ASYNC_RETURN(7);
    } else {
        ASYNC_RETURN(ASYNC_EINVAL);
    }
    ASYNC_END(0);
}

static int harness(int mode) {
    async_runtime_desc d;
    ZERO(d);
    d.start_paused = 2;
    d.log = hcapture;
    harness_mode = mode;
    hlog[0] = 0;
    return async_test_run(harness_body, sizeof(hframe), "body", &d);
}

TEST(test_harness_runs_a_body_on_the_paused_clock) {
    harness_slept = 0;
    ASSERT_EQ(async_test_run(harness_body, sizeof(hframe), "clean", NULL), 0);
    ASSERT_EQ(harness_slept, ASYNC_SEC(10));    /* at once: the clock auto-advanced */
    harness_mode = 0;
    ASSERT_EQ(ASYNC_TEST_RUN(harness_body, hframe), 0);
    ASSERT_EQ(harness(0), 0);
    ASSERT_STR(hlog, "");
}

TEST(test_harness_fails_a_hang_with_the_dump) {
    ASSERT_EQ(harness(1), ASYNC_EDEADLK);
    ASSERT_HAS(hlog, "async.h: test \"body\": hung: 1 tasks can never finish");
#ifndef ASYNC_NO_SITES
    ASSERT_HAS(hlog, "async_notify_wait(t, &f->n, &f->w)");     /* where it waits */
#else
    ASSERT_HAS(hlog, "\"body\" waiting at");
#endif
}

TEST(test_harness_fails_what_a_body_leaves_behind) {
    int rc;
    ASSERT_EQ(harness(2), ASYNC_EBUSY);
    ASSERT_HAS(hlog, "left behind 1 live tasks, 0 ended tasks nobody joined, 1 timers or "
                     "wakers armed, 0 descriptors registered");
    ASSERT_HAS(hlog, "left sleeping");
    rc = harness(3);
    if (rc != ASYNC_ENOMEM) {                   /* the alloc fault mode may refuse it */
        ASSERT_EQ(rc, ASYNC_EBUSY);
        ASSERT_HAS(hlog, "left behind 0 live tasks, 1 ended tasks nobody joined");
    }
#ifndef _WIN32                          /* (Windows: async_io takes sockets only) */
    ASSERT_EQ(pipe(harness_fds), 0);
    rc = harness(4);
    if (rc != ASYNC_ENOMEM) {
        ASSERT_EQ(rc, ASYNC_EBUSY);
        ASSERT_HAS(hlog, "0 timers or wakers armed, 1 descriptors registered");
    }
    close(harness_fds[0]);
    close(harness_fds[1]);
#endif
}

TEST(test_harness_passes_on_the_body_result) {
    ASSERT_EQ(harness(5), 7);
    ASSERT_HAS(hlog, "async.h: test \"body\": returned 7");
    ASSERT_EQ(harness(6), ASYNC_EINVAL);
    ASSERT_HAS(hlog, "async.h: test \"body\": returned -22");
    ASSERT_EQ(async_test_run(NULL, sizeof(hframe), "x", NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_test_run(harness_body, sizeof(async_task) - 1, "x", NULL), ASYNC_EINVAL);
}

/* ---- runtime metrics (async_runtime_metrics) ------------------------------------- */

typedef struct {
    async_task task;
    async_timer timer;
    async_time busy;
    int rc;
} mframe;

/* Busy for f->busy on the real clock (a slow poll), then a short sleep. */
static int metrics_worker(async_task *t) {
    mframe *f = (mframe *)t;
    ASYNC_BEGIN(t);
    if (f->busy) {
        async_time end = async_time_now(t->rt) + f->busy;
        while (async_time_now(t->rt) < end) {}
    }
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(2)));
    ASYNC_END(0);
}

static char mlog[8192];
static void mcapture(void *user, const char *line) {
    (void)user;
    strncat(mlog, line, sizeof mlog - strlen(mlog) - 1);
}
static void mcapture2(void *user, const char *text) {
    mcapture(user, text);
}

TEST(metrics_count_turns_parks_idle_time_and_gauges) {
    async_runtime rt;
    async_metrics m;
    static mframe w[10];
    int i, fds[2];
    async_io io;
    ZERO(w); ZERO(io);
    ASSERT_EQ(async_runtime_init(&rt, NULL), 0);
    for (i = 0; i < 10; i++) async_task_spawn(&rt, &w[i].task, metrics_worker, "worker");
    ASSERT_EQ(async_runtime_step(&rt, 0), 10);          /* each polls once: sleeps */
    async_runtime_metrics(&rt, &m);
    ASSERT_EQ(m.turns, 1);
    ASSERT_EQ(m.parks, 0);
    CHECK(m.ready_max >= 10);                           /* all queued at the start */
    ASSERT_EQ(m.live, 10);
    ASSERT_EQ(m.ready, 0);
    ASSERT_EQ(m.timers, 10);
    ASSERT_EQ(m.stats.polls, 10);
    ASSERT_EQ(m.histograms, 0);
    ASSERT_EQ(m.poll_hist[0] + m.delay_hist[0] + m.poll_max, 0);  /* not asked for */
#ifndef _WIN32                          /* (Windows: async_io takes sockets only) */
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(async_io_register(&rt, &io, fds[0]), 0);
    async_runtime_metrics(&rt, &m);
    ASSERT_EQ(m.io_registered, 1);
    async_io_close(&io);
    close(fds[1]);
#else
    (void)fds; (void)io;
#endif
    ASSERT_EQ(async_runtime_run(&rt), 0);       /* (parks, unless the timers are due:
                                                   a slow machine; parks: below) */
    async_runtime_metrics(&rt, &m);
    CHECK(m.turns >= 2 && m.turns > m.parks);
    CHECK(m.idle <= m.elapsed);
    ASSERT_EQ(m.live, 0);
    ASSERT_EQ(m.timers, 0);
    ASSERT_EQ(m.io_registered, 0);
    ASSERT_EQ(m.stats.completed, 10);
    mlog[0] = 0;
    async_metrics_print(&m, mcapture2, NULL);
    ASSERT_HAS(mlog, "async runtime metrics: ");
    ASSERT_HAS(mlog, "  tasks: 0 alive, 0 queued (at most 10); 0 timers, 0 descriptors");
    ASSERT_HAS(mlog, " completed=10 ");
    CHECK(strstr(mlog, "poll time") == NULL);
    async_runtime_metrics(NULL, &m);
    ASSERT_EQ(m.turns, 0);
    async_runtime_destroy(&rt);
}

/* A park, made certain: the task waits on a waker, so the loop can only wait; the idle
   hook lets the clock move, then wakes it. One park, its time counted as idle. */
typedef struct {
    async_task task;
    async_waker wk;
    int rc;
} park_frame;

static int park_waiter(async_task *t) {
    park_frame *f = (park_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_waker_wait(t, &f->wk));
    ASYNC_END(0);
}

static park_frame *g_park;
static int g_idle_calls;
static async_metrics g_park_m;
static void idle_then_wake(void *user, async_time max_wait) {
    async_runtime *rt = (async_runtime *)user;
    async_time t0;
    (void)max_wait;
    g_idle_calls++;
    async_runtime_metrics(rt, &g_park_m);
    t0 = g_park_m.elapsed;
    do async_runtime_metrics(rt, &g_park_m);    /* the clock moves while it idles */
    while (g_park_m.elapsed == t0);
    async_waker_wake(&g_park->wk);
}

TEST(metrics_count_a_park_and_its_idle_time) {
    static async_runtime rt;
    static park_frame f;
    async_runtime_desc d;
    async_metrics m;
    ZERO(f); ZERO(d);
    d.idle = idle_then_wake;
    d.user = &rt;
    g_park = &f;
    g_idle_calls = 0;
    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    ASSERT_EQ(async_waker_init(&rt, &f.wk), 0);
    async_task_spawn(&rt, &f.task, park_waiter, "parker");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_metrics(&rt, &m);
    ASSERT_EQ(g_idle_calls, 1);
    ASSERT_EQ(m.parks, 1);
    CHECK(m.idle > 0 && m.idle <= m.elapsed);
    CHECK(m.turns > m.parks);
    async_waker_destroy(&f.wk);
    async_runtime_destroy(&rt);
}

/* With desc.metrics: every poll timed (its bucket, the longest), and its delay from
   the turn's start; a 2 ms busy poll lands at 1 ms or more; no slow-poll warning. */
TEST(metrics_histograms_with_desc_metrics) {
    async_runtime rt;
    async_runtime_desc d;
    async_metrics m;
    static mframe w[3];
    uint64_t polls = 0, delays = 0, slow = 0;
    int b;
    ZERO(w); ZERO(d);
    d.metrics = 1;
    d.log = mcapture;
    mlog[0] = 0;
    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    w[1].busy = ASYNC_MS(2);
    for (b = 0; b < 3; b++) async_task_spawn(&rt, &w[b].task, metrics_worker, "worker");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(mlog, "");                       /* metrics alone warn of nothing */
    async_runtime_metrics(&rt, &m);
    ASSERT_EQ(m.histograms, 1);
    for (b = 0; b < ASYNC_METRICS_BUCKETS; b++) {
        polls += m.poll_hist[b];
        delays += m.delay_hist[b];
        if (b >= 6) slow += m.poll_hist[b];     /* 1.024 ms and longer */
    }
    ASSERT_EQ(polls, m.stats.polls);
    ASSERT_EQ(delays, m.stats.polls);
    ASSERT_EQ(slow >= 1, 1);
    CHECK(m.poll_max >= ASYNC_MS(2));
    CHECK(m.delay_max >= ASYNC_MS(2));          /* the one polled after the busy one */
    mlog[0] = 0;
    async_metrics_print(&m, mcapture2, NULL);
    ASSERT_HAS(mlog, "  poll time (the longest ");
    ASSERT_HAS(mlog, "  delay from the turn's start to the poll");
    ASSERT_HAS(mlog, "#");
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(dump_lists_every_task_with_where_and_what);
    RUN(counters);
    RUN(where_is_the_innermost_suspension_and_never_stale);
    RUN(slow_poll_warning_names_task_and_line);
    RUN(slow_poll_warning_goes_to_stderr_without_a_log_hook);
    RUN(dump_details_and_default_writer);
    RUN(dump_marks_aborting_tasks);
    RUN(slow_poll_of_a_finished_task_names_no_place);
    RUN(dump_cuts_a_long_line_but_keeps_its_newline);
    RUN(strerror_names_every_code);
    RUN(state_names_and_null_stats);
    RUN(task_header_is_64_bytes);
    RUN(test_harness_runs_a_body_on_the_paused_clock);
    RUN(test_harness_fails_a_hang_with_the_dump);
    RUN(test_harness_fails_what_a_body_leaves_behind);
    RUN(test_harness_passes_on_the_body_result);
    RUN(metrics_count_turns_parks_idle_time_and_gauges);
    RUN(metrics_count_a_park_and_its_idle_time);
    RUN(metrics_histograms_with_desc_metrics);
    DONE();
}
