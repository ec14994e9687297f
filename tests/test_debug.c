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
    DONE();
}
