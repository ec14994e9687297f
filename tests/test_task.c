/* Executor and tasks: FIFO wake-only-ready scheduling, idempotent wake, the
   cooperative budget, spawn/join/abort/detach (abort at every await point),
   allocated frames, block_on/run/step, the anywhere-safe waker (threads and
   signal handlers), seeded random scheduling, destroy, and misuse. */
#include "test.h"
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef _WIN32
/* Windows: the C library's pipes; no SIGUSR1, but raise() runs any handler as well */
#include <io.h>
#define pipe(p) _pipe((p), 256, _O_BINARY)
#define fd_is_open(fd) (_lseek((fd), 0, SEEK_CUR) != -1 || errno != EBADF)
#define SIGUSR1 SIGTERM
#else
#define fd_is_open(fd) (fcntl((fd), F_GETFD) != -1 || errno != EBADF)
#endif

/* ---- a task that logs and waits on a gate ---------------------------------- */
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

typedef struct {
    async_task task;
    async_task *child;
    async_timer timer;
    async_waker *waker;
    gate *g;
    int id, rc, step, cleaned, ret;
    async_time sleep_for;
} worker;

static int logger(async_task *t) {            /* logs its id on first poll, returns id */
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    logf_("%d ", f->id);
    ASYNC_END(f->id);
}

TEST(spawn_queues_fifo_and_never_runs_inline) {
    async_runtime rt;
    static worker w[5];
    int i;
    ZERO(w);
    LOG_RESET();
    async_runtime_init(&rt, NULL);
    for (i = 0; i < 5; i++) {
        w[i].id = i;
        ASSERT_EQ(async_task_spawn(&rt, &w[i].task, logger, "logger"), 0);
        ASSERT_EQ(async_task_state(&w[i].task), ASYNC_TASK_QUEUED);
    }
    ASSERT_STR(test_log, "");                     /* nothing ran inside spawn */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0 1 2 3 4 ");
    async_runtime_destroy(&rt);
}

static int gate_task(async_task *t) {
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    f->step = 1;
    ASYNC_AWAIT(f->rc, gate_wait(t, f->g));
    f->step = 2;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->id);
}

TEST(wake_is_idempotent_and_idle_tasks_are_not_polled) {
    async_runtime rt;
    static worker w[1000];
    static gate g[1000];
    async_stats st;
    int i;
    ZERO(w); ZERO(g);
    async_runtime_init(&rt, NULL);
    for (i = 0; i < 1000; i++) {
        w[i].g = &g[i];
        w[i].id = i;
        async_task_spawn(&rt, &w[i].task, gate_task, "gated");
    }
    ASSERT_EQ(async_runtime_run(&rt), 1000);      /* all blocked */
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 1000);
    g[500].open = 1;
    async_task_wake(&w[500].task);
    async_task_wake(&w[500].task);                /* twice: still one poll */
    ASSERT_EQ(async_runtime_run(&rt), 999);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 1001);                    /* only the woken task ran */
    ASSERT_EQ(w[500].step, 2);
    ASSERT_EQ(async_runtime_destroy(&rt), 999);
    for (i = 0; i < 1000; i++) ASSERT_EQ(w[i].cleaned, 1);
}

/* ---- cooperative budget ------------------------------------------------------ */
typedef struct { async_task task; async_timer timer; int i, n, *progress; } busy_frame;
static int busy(async_task *t) {              /* sleep(0) is always ready */
    busy_frame *f = (busy_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, 0));
        (*f->progress)++;
    }
    ASYNC_END(0);
}
typedef struct { async_task task; async_timer timer; int *progress, seen; } sleeper_frame;
static int sleeper(async_task *t) {
    sleeper_frame *f = (sleeper_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    f->seen = *f->progress;
    ASYNC_END(rc);
}
TEST(budget_lets_timers_and_others_run) {
    async_runtime rt;
    static busy_frame b;
    static sleeper_frame s;
    async_stats st;
    int progress = 0;
    ZERO(b); ZERO(s);
    b.n = 1000;
    b.progress = s.progress = &progress;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &s.task, sleeper, "sleeper");
    async_task_spawn(&rt, &b.task, busy, "busy");
    async_runtime_step(&rt, 0);                   /* sleeper arms its timer; busy runs 128 */
    ASSERT_EQ(progress, 128);
    ASSERT_EQ(async_task_state(&b.task), ASYNC_TASK_DEFERRED);
    async_time_advance(&rt, ASYNC_MS(1));         /* the timer is due now */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(progress, 1000);
    ASSERT_EQ(s.seen, 128);                       /* fired after one budget, not 1000 ops */
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 2 + 8);                   /* 1000 ops = 8 polls of <= 128 */
    async_runtime_destroy(&rt);
}

/* ---- join -------------------------------------------------------------------------- */
static int joiner(async_task *t) {
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_task_join(t, f->child));
    f->step = 1;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}
static int sleepy(async_task *t) {
    worker *f = (worker *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, f->sleep_for));
    f->step = 1;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->ret);
}
TEST(join_returns_result) {
    async_runtime rt;
    static worker c, j;
    int rc = 0;
    ZERO(c); ZERO(j);
    c.ret = 77; c.sleep_for = ASYNC_MS(10);
    j.child = &c.task;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &c.task, sleepy, "child");
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "joiner"), 77);
    ASSERT_EQ(async_task_result(&c.task, &rc), 0);
    ASSERT_EQ(rc, 77);
    async_runtime_destroy(&rt);
}
TEST(join_finished_task) {
    async_runtime rt;
    static worker c, j, j2;
    ZERO(c); ZERO(j); ZERO(j2);
    c.id = 9;
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &c.task, logger, "child");
    async_runtime_run(&rt);
    CHECK(async_task_is_finished(&c.task));
    j.child = j2.child = &c.task;
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "j"), 9);
    ASSERT_EQ(async_runtime_block_on(&rt, &j2.task, joiner, "j2"), 9);  /* own frame: again */
    async_runtime_destroy(&rt);
}
TEST(join_misuse) {
    async_runtime rt;
    static worker c, j1, j2, d;
    ZERO(c); ZERO(j1); ZERO(j2); ZERO(d);
    c.sleep_for = ASYNC_MS(5);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &c.task, sleepy, "child");
    j1.child = j2.child = &c.task;
    async_task_spawn(&rt, &j1.task, joiner, "j1");
    async_task_spawn(&rt, &j2.task, joiner, "j2");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(j2.rc, ASYNC_EBUSY);                /* one join handle per task */
    ASSERT_EQ(async_task_detach(&c.task), ASYNC_EBUSY);   /* someone is joining */
    ASSERT_EQ(async_task_join(&j1.task, &j1.task), ASYNC_EINVAL);
    ASSERT_EQ(async_task_join(&j1.task, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_join(&j1.task, &d.task), ASYNC_EINVAL);   /* never spawned */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(j1.rc, 0);
    d.sleep_for = ASYNC_MS(5);
    async_task_spawn(&rt, &d.task, sleepy, "detached");
    ASSERT_EQ(async_task_detach(&d.task), 0);
    ASSERT_EQ(async_task_join(&j1.task, &d.task), ASYNC_EINVAL);
    async_runtime_run(&rt);
    async_runtime_destroy(&rt);
}

/* ---- allocated frames ------------------------------------------------------------------- */
TEST(spawn_alloc_frees_after_join_or_detach) {
    async_runtime rt;
    static worker j;
    async_task *a = NULL, *b = NULL, *c = NULL;
    long frees0 = test_frees;
    ZERO(j);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "a", &a), 0);
    if (!a) {                                     /* out of memory (tests/faults.h) */
        async_runtime_destroy(&rt);
        return;
    }
    ASSERT_EQ(((worker *)a)->id, 0);              /* zeroed */
    ((worker *)a)->id = 3;
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "b", &b), 0);
    ASSERT_EQ(async_task_detach(b), 0);           /* freed when it ends */
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "c", &c), 0);
    async_runtime_run(&rt);
    ASSERT_EQ(test_frees - frees0, 1);            /* b only; a and c await a join */
    j.child = a;
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "j"), 3);
    ASSERT_EQ(test_frees - frees0, 2);
    ASSERT_EQ(async_task_spawn(&rt, c, logger, "reuse"), ASYNC_EBUSY);  /* not yours */
    ASSERT_EQ(async_runtime_destroy(&rt), 0);     /* frees c, never joined */
    ASSERT_EQ(test_frees - frees0, 3);
}
TEST(spawn_alloc_failure) {
    async_runtime rt;
    async_task *a = (async_task *)&rt;
    async_stats st;
    async_runtime_init(&rt, NULL);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "a", &a), ASYNC_ENOMEM);
    CHECK(a == NULL);
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, 4, "small", &a), ASYNC_EINVAL);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.spawned, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

/* ---- abort at every await point --------------------------------------------------------- */
TEST(abort_before_first_poll_never_runs) {
    async_runtime rt;
    static worker c, j;
    ZERO(c); ZERO(j);
    c.id = 5;
    LOG_RESET();
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &c.task, logger, "child");
    ASSERT_EQ(async_task_abort(&c.task), 0);
    j.child = &c.task;
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "j"), ASYNC_ECANCELED);
    ASSERT_STR(test_log, "");
    async_runtime_destroy(&rt);
}
/* Tokio drops a future that was never polled, and its destructors run: a task aborted
   before its first poll runs its cleanup section (async_task_is_cancelling(t) true) and
   nothing of its body, so a descriptor its creator put in the frame is closed. That
   holds for an abort, for runtime destroy and for an abort from another task. */
typedef struct { async_task task; int fd, body, cleaned, cancelled; } owner_frame;
static int fd_owner(async_task *t) {
    owner_frame *f = (owner_frame *)t;
    ASYNC_BEGIN(t);
    f->body++;
    ASYNC_CLEANUP();
    f->cleaned++;
    f->cancelled = async_task_is_cancelling(t);
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    ASYNC_END(0);
}
static int aborter(async_task *t) {             /* aborts its child from inside a task */
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    async_task_abort(f->child);
    ASYNC_END(0);
}
TEST(abort_before_first_poll_runs_only_the_cleanup) {
    async_runtime rt;
    static owner_frame o;
    static worker j, a;
    int p[2], k;
    for (k = 0; k < 3; k++) {
        ZERO(o); ZERO(j); ZERO(a);
        ASSERT_EQ(pipe(p), 0);
        close(p[1]);
        o.fd = p[0];
        async_runtime_init(&rt, NULL);
        if (k == 1) async_task_spawn(&rt, &a.task, aborter, "aborter");  /* runs first */
        async_task_spawn(&rt, &o.task, fd_owner, "owner");
        if (k == 0) {                           /* abort, then join it */
            ASSERT_EQ(async_task_abort(&o.task), 0);
            j.child = &o.task;
            ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "j"), ASYNC_ECANCELED);
        } else if (k == 1) {                    /* aborted by another task */
            a.child = &o.task;
            ASSERT_EQ(async_runtime_run(&rt), 0);
        }
        ASSERT_EQ(async_runtime_destroy(&rt), k == 2);    /* k == 2: destroy aborts it */
        ASSERT_EQ(o.body, 0);
        ASSERT_EQ(o.cleaned, 1);
        ASSERT_EQ(o.cancelled, 1);
        ASSERT_EQ(o.fd, -1);
        CHECK(!fd_is_open(p[0]));                       /* closed, not leaked */
        ASSERT_EQ(test_asserts, 0);
    }
}
TEST(abort_while_sleeping) {
    async_runtime rt;
    static worker c, j;
    async_time t0;
    ZERO(c); ZERO(j);
    c.sleep_for = ASYNC_SEC(100);
    j.child = &c.task;
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    async_task_spawn(&rt, &c.task, sleepy, "child");
    async_task_spawn(&rt, &j.task, joiner, "joiner");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(rt.ntimers, 1);
    async_task_abort(&c.task);
    async_task_abort(&c.task);                    /* twice is once */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(j.rc, ASYNC_ECANCELED);             /* the joiner sees cancelled */
    ASSERT_EQ(rt.ntimers, 0);                     /* the timer was unlinked */
    ASSERT_EQ(c.cleaned, 1);
    ASSERT_EQ(c.step, 0);
    CHECK(async_time_now(&rt) - t0 < ASYNC_SEC(1));   /* nobody waited for the timer */
    async_runtime_destroy(&rt);
}
TEST(abort_while_joining) {
    async_runtime rt;
    static worker c, j, j2;
    ZERO(c); ZERO(j); ZERO(j2);
    c.sleep_for = ASYNC_MS(10); c.ret = 4;
    j.child = j2.child = &c.task;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &c.task, sleepy, "child");
    async_task_spawn(&rt, &j.task, joiner, "joiner");
    async_runtime_step(&rt, 0);
    CHECK(c.task.u.joiner == &j.task);
    async_task_abort(&j.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&j.task), ASYNC_TASK_DONE);
    CHECK(c.task.u.joiner == NULL);               /* unlinked from the child */
    ASSERT_EQ(j.cleaned, 1);
    /* the child runs on (a join is not an abort), and can be joined again */
    ASSERT_EQ(async_runtime_block_on(&rt, &j2.task, joiner, "j2"), 4);
    async_runtime_destroy(&rt);
}
typedef struct { async_task task; int i, self_abort, cleaned, after; } yield_frame;
static int yield_task(async_task *t) {
    yield_frame *f = (yield_frame *)t;
    ASYNC_BEGIN(t);
    if (f->self_abort == 1) async_task_abort(t);  /* then finishes without yielding */
    if (f->self_abort == 2) {
        async_task_abort(t);                      /* then yields: cancelled there */
        ASYNC_YIELD();
        f->after = 1;
    }
    for (f->i = 0; f->i < 3; f->i++) ASYNC_YIELD();
    f->after = 2;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(1);
}
TEST(abort_while_yielded) {
    async_runtime rt;
    static yield_frame y;
    static worker s;
    int rc = 0;
    ZERO(y); ZERO(s);
    s.sleep_for = ASYNC_SEC(1);                   /* an armed timer: yields wait a turn */
    test_rt_paused(&rt);
    async_task_spawn(&rt, &s.task, sleepy, "sleeper");
    async_task_spawn(&rt, &y.task, yield_task, "y");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&y.task), ASYNC_TASK_DEFERRED);
    ASSERT_EQ(y.i, 0);
    async_task_abort(&y.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(s.step, 1);
    async_task_result(&y.task, &rc);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(y.cleaned, 1);
    ASSERT_EQ(y.after, 0);
    async_runtime_destroy(&rt);
}
TEST(yield_defers_until_collection) {
    async_runtime rt;
    static yield_frame y;
    static worker s;
    ZERO(y); ZERO(s);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &y.task, yield_task, "y");
    ASSERT_EQ(async_runtime_step(&rt, 0), 4);     /* nothing to collect: runs on */
    ASSERT_EQ(async_task_is_finished(&y.task), 1);
    async_runtime_destroy(&rt);
    ZERO(y);
    s.sleep_for = ASYNC_SEC(1);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &s.task, sleepy, "sleeper");
    async_task_spawn(&rt, &y.task, yield_task, "y");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);     /* sleeper arms, y yields once */
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);     /* one poll per collection */
    ASSERT_EQ(y.i, 1);
    async_runtime_destroy(&rt);
}
TEST(self_abort_follows_tokio) {
    async_runtime rt;
    static yield_frame a, b;
    int rc = 0;
    ZERO(a); ZERO(b);
    async_runtime_init(&rt, NULL);
    a.self_abort = 1;                             /* finishes normally: abort came too late */
    b.self_abort = 2;                             /* yields after aborting: cancelled */
    async_task_spawn(&rt, &a.task, yield_task, "a");
    async_task_spawn(&rt, &b.task, yield_task, "b");
    async_runtime_run(&rt);
    async_task_result(&a.task, &rc);
    ASSERT_EQ(rc, ASYNC_ECANCELED);               /* a yields in its loop: cancelled there */
    async_task_result(&b.task, &rc);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    ASSERT_EQ(b.after, 0);
    ASSERT_EQ(b.cleaned, 1);
    ASSERT_EQ(async_task_abort(&a.task), 0);      /* a finished task: no effect */
    async_runtime_destroy(&rt);
}
typedef struct { async_task task; int n; } quick_frame;
static int quick_self_abort(async_task *t) {
    quick_frame *f = (quick_frame *)t;
    ASYNC_BEGIN(t);
    async_task_abort(t);
    f->n = 1;
    ASYNC_END(11);
}
TEST(self_abort_without_yield_completes) {
    async_runtime rt;
    static quick_frame q;
    ZERO(q);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &q.task, quick_self_abort, "q"), 11);
    async_runtime_destroy(&rt);
}

/* An operation must not complete in cancel mode: an await only looks for
   cancellation when its operation failed, so one that ignores cancel mode fails
   ASYNC_ASSERT with a message (and, asserts off, its task runs on to its end). */
typedef struct { async_task task; int polls, rc, after, cleaned; } rude_frame;
static int rude_op(rude_frame *f) { return f->polls++ ? 0 : ASYNC_PENDING; }
static int rude_task(async_task *t) {
    rude_frame *f = (rude_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, rude_op(f));
    f->after = 1;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(0);
}
TEST(an_op_completing_in_cancel_mode_asserts) {
    async_runtime rt;
    static rude_frame r;
    int asserts0 = test_asserts;
    ZERO(r);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &r.task, rude_task, "rude");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(r.polls, 1);
    async_task_abort(&r.task);
    ASSERT_EQ(test_asserts, asserts0);
    async_runtime_step(&rt, 0);                   /* the cancel-mode poll */
    ASSERT_EQ(r.polls, 2);
    ASSERT_EQ(test_asserts, asserts0 + 1);
    ASSERT_HAS(test_assert_msg, "completed in cancel mode");
    ASSERT_EQ(r.cleaned, 1);
    {
        int res = 0;
        ASSERT_EQ(async_task_result(&r.task, &res), 0);
        ASSERT_EQ(res, ASYNC_ECANCELED);
    }
    async_runtime_destroy(&rt);
}

/* ---- the waker: from another thread, a signal handler, or before the wait --------- */
static int waker_task(async_task *t) {
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_waker_wait(t, f->waker));
    f->step = 1;
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}
static void *wake_from_thread(void *arg) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);                         /* let the runtime block first */
    async_waker_wake((async_waker *)arg);
    return NULL;
}
TEST(waker_from_another_thread) {
    async_runtime rt;
    static worker w;
    async_waker wk;
    pthread_t th;
    ZERO(w);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_waker_init(&rt, &wk), 0);
    w.waker = &wk;
    async_task_spawn(&rt, &w.task, waker_task, "waiter");
    ASSERT_EQ(pthread_create(&th, NULL, wake_from_thread, &wk), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);         /* blocks in poll until the thread wakes it */
    pthread_join(th, NULL);
    ASSERT_EQ(w.step, 1);
    ASSERT_EQ(async_waker_destroy(&wk), 0);
    async_runtime_destroy(&rt);
}
static async_waker *sig_waker;
static void on_signal(int sig) { (void)sig; async_waker_wake(sig_waker); }
TEST(waker_from_signal_handler_and_before_wait) {
    async_runtime rt;
    static worker w;
    async_waker wk;
    ZERO(w);
    async_runtime_init(&rt, NULL);
    async_waker_init(&rt, &wk);
    sig_waker = &wk;
    signal(SIGUSR1, on_signal);
    raise(SIGUSR1);                               /* before anyone waits: kept */
    w.waker = &wk;
    async_task_spawn(&rt, &w.task, waker_task, "waiter");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(w.step, 1);
    signal(SIGUSR1, SIG_DFL);
    async_waker_destroy(&wk);
    async_runtime_destroy(&rt);
}
TEST(abort_while_waiting_on_waker) {
    async_runtime rt;
    static worker w, w2;
    async_waker wk;
    ZERO(w); ZERO(w2);
    async_runtime_init(&rt, NULL);
    async_waker_init(&rt, &wk);
    w.waker = w2.waker = &wk;
    async_task_spawn(&rt, &w.task, waker_task, "waiter");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(rt.armed_wakers, 1);
    ASSERT_EQ(async_waker_destroy(&wk), ASYNC_EBUSY);   /* in use */
    async_task_spawn(&rt, &w2.task, waker_task, "second");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(w2.rc, ASYNC_EBUSY);                /* one waiter per waker */
    async_task_abort(&w.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);         /* nothing armed: run returns */
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(w.cleaned, 1);
    ASSERT_EQ(async_waker_destroy(&wk), 0);
    async_runtime_destroy(&rt);
}

/* ---- block_on, run, step ------------------------------------------------------------------- */
TEST(block_on_and_run_report_deadlock) {
    async_runtime rt;
    static worker w, w2;
    static gate g;
    ZERO(w); ZERO(w2); ZERO(g);
    w.g = w2.g = &g;
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_runtime_block_on(&rt, &w.task, gate_task, "stuck"), ASYNC_EDEADLK);
    async_task_spawn(&rt, &w2.task, gate_task, "stuck2");
    ASSERT_EQ(async_runtime_run(&rt), 2);         /* two tasks blocked forever */
    ASSERT_EQ(async_runtime_destroy(&rt), 2);
    ASSERT_EQ(w.cleaned + w2.cleaned, 2);
}
typedef struct { async_task task; async_runtime *rt; int rc; } nested_frame;
static int nested_step(async_task *t) {
    nested_frame *f = (nested_frame *)t;
    ASYNC_BEGIN(t);
    f->rc = async_runtime_step(f->rt, 0);
    ASYNC_END(0);
}
TEST(step_inside_a_task_is_refused) {
    async_runtime rt;
    static nested_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    f.rt = &rt;
    async_runtime_block_on(&rt, &f.task, nested_step, "nested");
    ASSERT_EQ(f.rc, ASYNC_EBUSY);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
    ASSERT_EQ(async_runtime_step(&rt, 0), ASYNC_EINVAL);   /* destroyed */
}
/* A clock that moves only when the loop waits (by what it waits): no real time. */
static async_time g_fake_now, g_max_idle;
static int g_idle_calls;
static async_time fake_now_fn(void *user) { (void)user; return g_fake_now; }
static void fake_idle_fn(void *user, async_time wait) {
    (void)user;
    g_idle_calls++;
    if (wait > g_max_idle) g_max_idle = wait;
    g_fake_now += wait;
}
TEST(step_waits_at_most_max_wait) {
    async_runtime rt;
    async_runtime_desc d;
    static worker w;
    ZERO(w); ZERO(d);
    w.sleep_for = ASYNC_MS(2);
    d.now = fake_now_fn;
    d.idle = fake_idle_fn;
    g_fake_now = ASYNC_SEC(1);
    g_max_idle = 0;
    g_idle_calls = 0;
    async_runtime_init(&rt, &d);
    async_task_spawn(&rt, &w.task, sleepy, "sleepy");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);     /* arms the 2 ms timer */
    ASSERT_EQ(async_runtime_step(&rt, 0), 0);     /* not due: returns at once */
    ASSERT_EQ(g_idle_calls, 0);                   /* without waiting */
    while (!async_task_is_finished(&w.task))
        ASSERT_EQ(async_runtime_step(&rt, ASYNC_MS(1)) >= 0, 1);
    ASSERT_EQ(w.step, 1);
    ASSERT_EQ(g_max_idle, ASYNC_MS(1));           /* never longer than asked */
    ASSERT_EQ(g_fake_now, ASYNC_SEC(1) + ASYNC_MS(2));    /* and not past the timer */
    async_runtime_destroy(&rt);
}

/* ---- seeded random scheduling ---------------------------------------------------------- */
static void run_order(uint32_t seed, char *out) {
    async_runtime rt;
    async_runtime_desc d;
    static worker w[8];
    int i;
    ZERO(d); ZERO(w);
    d.seed = seed;
    async_runtime_init(&rt, &d);
    LOG_RESET();
    for (i = 0; i < 8; i++) {
        w[i].id = i;
        async_task_spawn(&rt, &w[i].task, logger, "l");
    }
    async_runtime_run(&rt);
    strcpy(out, test_log);
    async_runtime_destroy(&rt);
}
TEST(seeded_random_order_is_reproducible) {
    char a[64], b[64], c[64], fifo[64];
    run_order(0, fifo);
    ASSERT_STR(fifo, "0 1 2 3 4 5 6 7 ");
    run_order(12345, a);
    run_order(12345, b);
    run_order(777, c);
    ASSERT_STR(a, b);
    CHECK(strcmp(a, fifo) != 0);
    CHECK(strcmp(a, c) != 0);
    ASSERT_EQ(strlen(a), strlen(fifo));           /* every task ran exactly once */
}

/* ---- a wake during the task's own poll: requeued, not lost -------------------------- */
typedef struct { async_task task; int polls, go; } selfwake_frame;
static int selfwaker(async_task *t) {
    selfwake_frame *f = (selfwake_frame *)t;
    ASYNC_BEGIN(t);
    f->polls++;
    async_task_wake(t);                           /* e.g. a waiter fired synchronously */
    ASYNC_WAIT_FOR(f->polls++ >= 2);
    ASYNC_END(f->polls);
}
TEST(wake_while_running_requeues) {
    async_runtime rt;
    static selfwake_frame f;
    async_stats st;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &f.task, selfwaker, "self");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);     /* polled again in the same turn */
    ASSERT_EQ(async_task_is_finished(&f.task), 1);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.wakes, 1);
    async_runtime_destroy(&rt);
}

TEST(detach_after_finish_frees) {
    async_runtime rt;
    async_task *a = NULL;
    long frees0 = test_frees;
    async_runtime_init(&rt, NULL);
    async_task_spawn_alloc(&rt, logger, sizeof(worker), "a", &a);
    async_runtime_run(&rt);
    ASSERT_EQ(test_frees - frees0, 0);            /* finished, kept for a join */
    ASSERT_EQ(async_task_detach(a), 0);
    ASSERT_EQ(test_frees - frees0, 1);
    async_runtime_destroy(&rt);
}

TEST(real_timer_with_wake_descriptor) {
    async_runtime rt;
    static worker w;
    async_waker wk;
    async_time t0;
    ZERO(w);
    async_runtime_init(&rt, NULL);
    async_waker_init(&rt, &wk);                   /* idle waits in poll(2) now */
    w.sleep_for = ASYNC_US(1500);                 /* rounded up to 2 ms of poll timeout */
    t0 = async_time_now(&rt);
    async_runtime_block_on(&rt, &w.task, sleepy, "sleepy");
    CHECK(async_time_now(&rt) - t0 >= ASYNC_US(1500));   /* never early */
    async_waker_destroy(&wk);
    async_runtime_destroy(&rt);
}

TEST(waker_double_init_and_timeout) {
    async_runtime rt;
    static worker w;
    async_waker wk;
    ZERO(w);
    test_rt_paused(&rt);
    ASSERT_EQ(async_waker_init(&rt, &wk), 0);
    ASSERT_EQ(async_waker_init(&rt, &wk), ASYNC_EBUSY);          /* no self-loop */
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 0);
    CHECK(async_runtime_wake_fd(&rt) >= 0);
    async_waker_wake(&wk);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 1);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 0);            /* collected */
    ASSERT_EQ(async_waker_destroy(&wk), 0);
    async_runtime_destroy(&rt);
}

/* Abort a task that has been woken (its timer fired) but not yet polled. */
TEST(abort_after_wake_before_poll) {
    async_runtime rt;
    static worker c, j;
    ZERO(c); ZERO(j);
    c.sleep_for = ASYNC_MS(5);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &c.task, sleepy, "child");
    async_runtime_step(&rt, 0);
    async_time_advance(&rt, ASYNC_MS(5));         /* fires: child is ready now */
    ASSERT_EQ(async_task_state(&c.task), ASYNC_TASK_QUEUED);
    async_task_abort(&c.task);
    j.child = &c.task;
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, joiner, "j"), ASYNC_ECANCELED);
    ASSERT_EQ(c.step, 0);
    ASSERT_EQ(c.cleaned, 1);
    async_runtime_destroy(&rt);
}

/* Destroy with a yielded task, a detached allocated task, and a cleanup that spawns. */
static worker spawned_by_cleanup;
static int spawner_cleanup(async_task *t) {
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(1)));
    ASYNC_CLEANUP();
    f->cleaned++;
    async_task_spawn(async_task_runtime(t), &spawned_by_cleanup.task, logger,
                     "late");                                           /* aborted at spawn */
    ASYNC_END(0);
}
TEST(destroy_yielded_detached_and_spawning_cleanup) {
    async_runtime rt;
    static yield_frame y;
    static worker s, other;
    async_task *a = NULL;
    long frees0 = test_frees;
    ZERO(y); ZERO(s); ZERO(other); ZERO(spawned_by_cleanup);
    LOG_RESET();
    other.sleep_for = ASYNC_SEC(1);
    test_rt_paused(&rt);
    async_task_spawn(&rt, &other.task, sleepy, "timer");   /* keeps yields deferred */
    async_task_spawn(&rt, &y.task, yield_task, "yielder");
    async_task_spawn(&rt, &s.task, spawner_cleanup, "spawner");
    if (async_task_spawn_alloc(&rt, sleepy, sizeof(worker), "alloc", &a) == 0) {
        ((worker *)a)->sleep_for = ASYNC_SEC(1);
        async_task_detach(a);
    }
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&y.task), ASYNC_TASK_DEFERRED);
    ASSERT_EQ(async_runtime_destroy(&rt), 5);     /* the late spawn is aborted too */
    ASSERT_EQ(y.cleaned, 1);
    ASSERT_EQ(s.cleaned, 1);
    ASSERT_EQ(async_task_state(&spawned_by_cleanup.task), ASYNC_TASK_DONE);
    ASSERT_STR(test_log, "");                     /* it never ran */
    ASSERT_EQ(test_frees - frees0, 1);            /* the detached frame */
}

/* With tasks that keep waking each other, timers are still collected every
   event_interval polls; budget and event_interval can be set. */
typedef struct { async_task task; gate *mine, *other; long n; int *stop; } pp_frame;
static int pinger(async_task *t) {
    pp_frame *f = (pp_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    while (!*f->stop) {
        f->n++;
        f->other->open = 1;
        if (f->other->waiter) async_task_wake(f->other->waiter);
        f->other->waiter = NULL;
        ASYNC_AWAIT(rc, gate_wait(t, f->mine));
        f->mine->open = 0;
    }
    f->other->open = 1;
    if (f->other->waiter) async_task_wake(f->other->waiter);
    ASYNC_END(0);
}
typedef struct { async_task task; async_timer timer; int *stop; } stopper_frame;
static int stopper(async_task *t) {
    stopper_frame *f = (stopper_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, 0)); /* ready, but through the budget */
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_US(200))); /* needs a collection */
    *f->stop = 1;
    ASYNC_END(rc);
}
TEST(event_interval_collects_timers_under_constant_wakes) {
    async_runtime rt;
    async_runtime_desc d;
    static pp_frame a, b;
    static stopper_frame st;
    static gate ga, gb;
    int stop = 0;
    ZERO(d); ZERO(a); ZERO(b); ZERO(st); ZERO(ga); ZERO(gb);
    d.event_interval = 10;
    d.budget = 4;
    async_runtime_init(&rt, &d);
    a.mine = &ga; a.other = &gb; b.mine = &gb; b.other = &ga;
    a.stop = b.stop = st.stop = &stop;
    async_task_spawn(&rt, &st.task, stopper, "stopper");
    async_task_spawn(&rt, &a.task, pinger, "a");
    async_task_spawn(&rt, &b.task, pinger, "b");
    ASSERT_EQ(async_runtime_run(&rt), 0);         /* ends: the timer got its turn */
    CHECK(a.n + b.n < 100000);
    CHECK(a.n > 0 && b.n > 0);
    async_runtime_destroy(&rt);
}

/* Seeded random order with yields and timers: the same seed gives the same run. */
static int trace_task(async_task *t) {          /* logs each poll: yield, sleep, yield */
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    logf_("%c", 'a' + f->id);
    ASYNC_YIELD();
    logf_("%c", 'a' + f->id);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(f->id % 3)));
    logf_("%c", 'A' + f->id);
    ASYNC_YIELD();
    logf_("%c", 'A' + f->id);
    ASYNC_END(0);
}
static void random_run(uint32_t seed, char *out) {
    async_runtime rt;
    async_runtime_desc d;
    static worker w[8];
    int i;
    ZERO(d); ZERO(w);
    d.seed = seed;
    d.start_paused = 2;
    async_runtime_init(&rt, &d);
    LOG_RESET();
    for (i = 0; i < 8; i++) {
        w[i].id = i;
        async_task_spawn(&rt, &w[i].task, trace_task, "trace");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    strcpy(out, test_log);
    async_runtime_destroy(&rt);
}
TEST(seeded_random_with_yields_and_timers) {
    static char a[4096], b[4096], c[4096];
    random_run(99, a);
    random_run(99, b);
    random_run(5, c);
    ASSERT_STR(a, b);
    CHECK(strcmp(a, c) != 0);
}

/* ---- misuse ----------------------------------------------------------------------------------- */
TEST(misuse_returns_errors) {
    async_runtime rt;
    static worker w;
    async_runtime_desc d;
    async_task *out;
    ZERO(w); ZERO(d);
    ASSERT_EQ(async_runtime_init(NULL, NULL), ASYNC_EINVAL);
    d.budget = -1;
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    d.budget = 0; d.start_paused = 3;
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_task_spawn(&rt, NULL, logger, "x"), ASYNC_EINVAL);
    ASSERT_EQ(async_task_spawn(&rt, &w.task, NULL, "x"), ASYNC_EINVAL);
    ASSERT_EQ(async_task_spawn(NULL, &w.task, logger, "x"), ASYNC_EINVAL);
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "x", NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_wake(&w.task), ASYNC_EINVAL);         /* never spawned */
    ASSERT_EQ(async_task_abort(&w.task), ASYNC_EINVAL);
    ASSERT_EQ(async_task_detach(&w.task), ASYNC_EINVAL);
    ASSERT_EQ(async_task_result(&w.task, NULL), ASYNC_ESTATE);
    ASSERT_EQ(async_task_spawn(&rt, &w.task, logger, "x"), 0);
    ASSERT_EQ(async_task_spawn(&rt, &w.task, logger, "x"), ASYNC_EBUSY);   /* live */
    ASSERT_EQ(async_task_result(&w.task, NULL), ASYNC_ESTATE);             /* not yet */
    async_runtime_run(&rt);
    ASSERT_EQ(async_task_spawn(&rt, &w.task, logger, "again"), 0);   /* a finished frame may */
    async_runtime_run(&rt);
    ASSERT_EQ(async_waker_init(&rt, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_waker_wait(&w.task, NULL), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
    ASSERT_EQ(async_runtime_destroy(&rt), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_run(&rt), ASYNC_EINVAL);
    ASSERT_EQ(async_task_spawn(&rt, &w.task, logger, "x"), ASYNC_EINVAL);
    ASSERT_EQ(async_task_spawn_alloc(&rt, logger, sizeof(worker), "x", &out), ASYNC_EINVAL);
}

/* ---- destroy cancels everything and frees what it allocated -------------------------------- */
TEST(destroy_aborts_live_tasks) {
    async_runtime rt;
    static worker s, y, g1;
    static gate g;
    async_task *a = NULL;
    ZERO(s); ZERO(y); ZERO(g1); ZERO(g);
    s.sleep_for = ASYNC_SEC(5);
    g1.g = &g;
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &s.task, sleepy, "sleeper");
    async_task_spawn(&rt, &g1.task, gate_task, "gated");
    if (async_task_spawn_alloc(&rt, sleepy, sizeof(worker), "alloc", &a) == 0)
        ((worker *)a)->sleep_for = ASYNC_SEC(5);
    async_runtime_step(&rt, 0);
    async_task_spawn(&rt, &y.task, logger, "never-ran");
    ASSERT_EQ(async_runtime_destroy(&rt), 4);
    ASSERT_EQ(s.cleaned, 1);
    ASSERT_EQ(g1.cleaned, 1);
    CHECK(g.waiter == NULL);
    ASSERT_EQ(async_task_state(&y.task), ASYNC_TASK_DONE);
}

/* ---- bad arguments: a clear error, nothing changed ---------------------------------------- */
TEST(null_and_unready_arguments_are_refused) {
    async_runtime rt, zero;
    static worker w, x;
    async_waker wk, wk0;
    async_task *out = (async_task *)&rt;
    async_stats st;
    const char *file = "unset";
    int line = -1, res = -1;
    ZERO(w); ZERO(x); ZERO(zero); ZERO(wk); ZERO(wk0);
    async_runtime_init(&rt, NULL);
    /* the runtime: NULL, or never initialised */
    ASSERT_EQ(async_runtime_step(NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_run(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_block_on(NULL, &w.task, logger, "w"), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_block_on(&rt, &w.task, NULL, "w"), ASYNC_EINVAL);
    ASSERT_EQ(async_task_state(&w.task), ASYNC_TASK_IDLE);       /* not spawned by either */
    ASSERT_EQ(async_runtime_has_pending_wake(NULL), 0);
    ASSERT_EQ(async_runtime_wake_fd(NULL), -1);
    ASSERT_EQ(async_runtime_wake_fd(&rt), -1);                   /* no waker yet */
    memset(&st, 0xff, sizeof st);
    async_runtime_stats(NULL, &st);
    ASSERT_EQ(st.polls + st.spawned, 0);                         /* zeroed */
    async_runtime_stats(&rt, NULL);                              /* nowhere to write: no-op */
    /* tasks */
    ASSERT_EQ(async_task_spawn_alloc(NULL, logger, sizeof(worker), "x", &out), ASYNC_EINVAL);
    CHECK(out == NULL);
    ASSERT_EQ(async_task_spawn_alloc(&rt, NULL, sizeof(worker), "x", &out), ASYNC_EINVAL);
    ASSERT_EQ(async_task_abort(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_detach(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_wake(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_result(NULL, &res), ASYNC_EINVAL);
    ASSERT_EQ(res, -1);
    ASSERT_EQ(async_task_state(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_task_where(NULL, &file, &line), ASYNC_EINVAL);
    ASSERT_STR(file, "unset");
    ASSERT_EQ(line, -1);
    ASSERT_EQ(async_task_is_finished(NULL), 0);
    ASSERT_STR(async_task_name(NULL), "");
    ASSERT_EQ(async_task_join(NULL, &x.task), ASYNC_EINVAL);
    ASSERT_EQ(async_task_consume_budget(NULL), 0);
    /* wakers */
    ASSERT_EQ(async_waker_init(NULL, &wk), ASYNC_EINVAL);
    ASSERT_EQ(async_waker_init(&zero, &wk), ASYNC_EINVAL);       /* runtime never initialised */
    ASSERT_EQ(async_waker_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_waker_destroy(&wk0), 0);                     /* never registered: nothing */
    ASSERT_EQ(async_waker_wait(NULL, &wk), ASYNC_EINVAL);
    ASSERT_EQ(async_waker_wait(&w.task, &wk0), ASYNC_EINVAL);    /* not registered */
    async_waker_wake(NULL);                                      /* no-op */
    async_waker_wake(&wk0);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 0);
    CHECK(rt.wakers == NULL);
    /* the runtime is untouched: a task runs as usual */
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.spawned, 0);
    w.id = 6;
    ASSERT_EQ(async_runtime_block_on(&rt, &w.task, logger, NULL), 6);
    ASSERT_STR(async_task_name(&w.task), "");                    /* spawned without a name */
    ASSERT_EQ(async_task_result(&w.task, NULL), 0);              /* finished; result not wanted */
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A join handle belongs to one runtime: a task cannot join a task of another. */
TEST(join_across_runtimes_is_refused) {
    async_runtime a, b;
    static worker c, j;
    ZERO(c); ZERO(j);
    test_rt_paused(&a);
    test_rt_paused(&b);
    c.sleep_for = ASYNC_MS(5);
    c.ret = 3;
    async_task_spawn(&b, &c.task, sleepy, "child in b");
    async_runtime_step(&b, 0);
    j.child = &c.task;
    ASSERT_EQ(async_runtime_block_on(&a, &j.task, joiner, "joiner in a"), ASYNC_EINVAL);
    CHECK(c.task.u.joiner == NULL);                              /* nothing was registered */
    ASSERT_EQ(async_runtime_run(&b), 0);
    ASSERT_EQ(c.step, 1);                                        /* the child is unaffected */
    async_runtime_destroy(&a);
    async_runtime_destroy(&b);
}

/* destroy and block_on from inside a task of the same runtime are refused (EBUSY). */
typedef struct { async_task task; async_runtime *rt; int destroy_rc, block_rc; worker inner; } inside_frame;
static int destroy_inside(async_task *t) {
    inside_frame *f = (inside_frame *)t;
    ASYNC_BEGIN(t);
    f->destroy_rc = async_runtime_destroy(f->rt);
    f->block_rc = async_runtime_block_on(f->rt, &f->inner.task, logger, "inner");
    ASYNC_END(1);
}
TEST(destroy_or_block_on_inside_a_task_is_refused) {
    async_runtime rt;
    static inside_frame f;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    f.rt = &rt;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, destroy_inside, "inside"), 1);
    ASSERT_EQ(f.destroy_rc, ASYNC_EBUSY);
    ASSERT_EQ(f.block_rc, ASYNC_EBUSY);
    ASSERT_EQ(async_task_state(&f.inner.task), ASYNC_TASK_IDLE);  /* never spawned */
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* In cancel mode there is no budget and nothing yields: async_task_consume_budget gives 1
   however often a cleanup calls it; outside, it gives the poll's budget then 0. */
typedef struct { async_task task; async_timer timer; int ones, zeros, rc; } budget_frame;
static int budget_spender(async_task *t) {
    budget_frame *f = (budget_frame *)t;
    int i;
    ASYNC_BEGIN(t);
    for (i = 0; i < 5; i++) {
        if (async_task_consume_budget(t)) f->ones++;
        else f->zeros++;
    }
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_SEC(10)));
    ASYNC_CLEANUP();
    f->ones = f->zeros = 0;
    for (i = 0; i < 500; i++) {
        if (async_task_consume_budget(t)) f->ones++;
        else f->zeros++;
    }
    ASYNC_END(0);
}
TEST(consume_budget_counts_down_and_never_yields_in_cancel_mode) {
    async_runtime rt;
    async_runtime_desc d;
    static budget_frame f;
    int rc = 0;
    ZERO(f); ZERO(d);
    d.budget = 3;
    d.start_paused = 2;
    async_runtime_init(&rt, &d);
    async_task_spawn(&rt, &f.task, budget_spender, "spender");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f.ones, 3);                                        /* the budget of a poll */
    ASSERT_EQ(f.zeros, 2);
    async_task_abort(&f.task);
    async_runtime_run(&rt);
    ASSERT_EQ(f.ones, 500);                                      /* the cleanup: always 1 */
    ASSERT_EQ(f.zeros, 0);
    async_task_result(&f.task, &rc);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    async_runtime_destroy(&rt);
}

/* Joining a finished task is an operation that completes: it spends budget, and with
   none left it yields (the result waits for the next poll). */
typedef struct { async_task task; async_task *kids[3]; int rc[3], i, polls; } join3_frame;
static int join3(async_task *t) {
    join3_frame *f = (join3_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) ASYNC_AWAIT(f->rc[f->i], async_task_join(t, f->kids[f->i]));
    ASYNC_END(f->rc[0] + f->rc[1] + f->rc[2]);
}
TEST(join_of_finished_tasks_spends_budget) {
    async_runtime rt;
    async_runtime_desc d;
    static worker k[3];
    static join3_frame j;
    async_stats st;
    int i;
    ZERO(k); ZERO(j); ZERO(d);
    d.budget = 1;
    async_runtime_init(&rt, &d);
    for (i = 0; i < 3; i++) {
        k[i].id = 10 * (i + 1);
        async_task_spawn(&rt, &k[i].task, logger, "kid");
        j.kids[i] = &k[i].task;
    }
    async_runtime_run(&rt);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 3);
    ASSERT_EQ(async_runtime_block_on(&rt, &j.task, join3, "join3"), 60);
    ASSERT_EQ(j.rc[0], 10);
    ASSERT_EQ(j.rc[2], 30);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 3 + 3);                                  /* one join per poll */
    async_runtime_destroy(&rt);
}

/* An operation that returns ASYNC_PENDING in cancel mode (it must unlink and give
   ASYNC_ECANCELED) fails ASYNC_ASSERT; the task still ends as cancelled. */
static int never_ready(int *polls) { (*polls)++; return ASYNC_PENDING; }
typedef struct { async_task task; int polls, rc, cleaned; } stubborn_frame;
static int stubborn(async_task *t) {
    stubborn_frame *f = (stubborn_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, never_ready(&f->polls));
    ASYNC_END(0);
}
TEST(an_op_pending_in_cancel_mode_asserts) {
    async_runtime rt;
    static stubborn_frame s;
    int asserts0 = test_asserts, rc = 0;
    ZERO(s);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &s.task, stubborn, "stubborn");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&s.task), ASYNC_TASK_WAITING);
    async_task_abort(&s.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(s.polls, 2);
    ASSERT_EQ(test_asserts, asserts0 + 1);
    ASSERT_HAS(test_assert_msg, "returned ASYNC_PENDING in cancel mode");
    ASSERT_EQ(async_task_result(&s.task, &rc), 0);
    ASSERT_EQ(rc, ASYNC_ECANCELED);
    async_runtime_destroy(&rt);
}

/* desc.now and desc.idle: the runtime reads time from the hook and, with nothing
   ready and no descriptor to wait on, hands the wait to the idle hook (at most until
   the next deadline). */
typedef struct { async_time now, waited, longest; int calls; } fake_clock;
static async_time fake_now(void *user) { return ((fake_clock *)user)->now; }
static void fake_idle(void *user, async_time max_wait) {
    fake_clock *c = (fake_clock *)user;
    c->calls++;
    c->waited += max_wait;
    if (max_wait > c->longest) c->longest = max_wait;
    c->now += max_wait;                          /* as if it slept that long */
}
TEST(custom_clock_and_idle_hook) {
    async_runtime rt;
    async_runtime_desc d;
    static worker w;
    fake_clock c;
    ZERO(w); ZERO(d); ZERO(c);
    c.now = ASYNC_SEC(1000);
    d.now = fake_now;
    d.idle = fake_idle;
    d.user = &c;
    async_runtime_init(&rt, &d);
    ASSERT_EQ(async_time_now(&rt), ASYNC_SEC(1000));
    w.sleep_for = ASYNC_MS(5);
    w.ret = 8;
    ASSERT_EQ(async_runtime_block_on(&rt, &w.task, sleepy, "sleepy"), 8);
    CHECK(c.calls >= 1);
    CHECK(c.waited >= ASYNC_MS(5));              /* slept until the deadline... */
    CHECK(c.longest <= ASYNC_MS(5));             /* ...never past it in one wait */
    CHECK(c.now >= ASYNC_SEC(1000) + ASYNC_MS(5));
    c.calls = 0;
    ASSERT_EQ(async_runtime_step(&rt, ASYNC_MS(3)), 0);   /* nothing to do: waits max_wait */
    ASSERT_EQ(c.calls, 1);
    ASSERT_EQ(c.longest, ASYNC_MS(5));
    ASSERT_EQ(async_runtime_run(&rt), 0);        /* nothing can wake it: no wait */
    ASSERT_EQ(c.calls, 1);
    async_runtime_destroy(&rt);
}

/* Where a task stands: file and line of its await while it waits; ESTATE before its
   first poll and after its end; NULL outputs are allowed. */
TEST(task_where_and_state_through_a_life) {
    async_runtime rt;
    static worker w;
    const char *file = NULL;
    int line = 0;
    ZERO(w);
    test_rt_paused(&rt);
    w.sleep_for = ASYNC_MS(1);
    async_task_spawn(&rt, &w.task, sleepy, "sleepy");
    ASSERT_EQ(async_task_where(&w.task, &file, &line), ASYNC_ESTATE);   /* not started */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_state(&w.task), ASYNC_TASK_WAITING);
    ASSERT_EQ(async_task_where(&w.task, NULL, NULL), 0);
    ASSERT_EQ(async_task_where(&w.task, &file, &line), 0);
    CHECK(line > 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_task_where(&w.task, &file, &line), ASYNC_ESTATE);   /* finished */
    ASSERT_EQ(async_task_detach(&w.task), 0);    /* your own frame: nothing to free */
    ASSERT_EQ(async_task_state(&w.task), ASYNC_TASK_DONE);
    async_runtime_destroy(&rt);
}

/* async_task_runtime: a task reaches its own runtime through it, to spawn a child
   there (here on the second of two runtimes, so a wrong answer cannot pass); NULL for
   NULL and for a frame never spawned; still the runtime once the task finished. */
typedef struct {
    async_task task;
    worker child;
    async_runtime *seen;
    int rc;
} spawner;

static int spawner_run(async_task *t) {
    spawner *f = (spawner *)t;
    ASYNC_BEGIN(t);
    f->seen = async_task_runtime(t);
    f->child.id = 7;
    f->rc = async_task_spawn(async_task_runtime(t), &f->child.task, logger, "child");
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->child.task));
    ASYNC_END(f->rc);
}

TEST(task_runtime_is_where_it_was_spawned) {
    async_runtime rt1, rt2;
    static spawner s;
    static worker idle;
    ZERO(s);
    ZERO(idle);
    LOG_RESET();
    async_runtime_init(&rt1, NULL);
    async_runtime_init(&rt2, NULL);
    CHECK(async_task_runtime(NULL) == NULL);
    CHECK(async_task_runtime(&idle.task) == NULL);                  /* never spawned */
    ASSERT_EQ(async_task_spawn(&rt2, &s.task, spawner_run, "spawner"), 0);
    CHECK(async_task_runtime(&s.task) == &rt2);
    ASSERT_EQ(async_runtime_run(&rt1), 0);                          /* nothing there */
    ASSERT_STR(test_log, "");
    ASSERT_EQ(async_runtime_run(&rt2), 0);
    ASSERT_STR(test_log, "7 ");                                     /* the child ran */
    CHECK(s.seen == &rt2);
    ASSERT_EQ(s.rc, 7);
    CHECK(async_task_runtime(&s.child.task) == &rt2);
    ASSERT_EQ(async_task_state(&s.task), ASYNC_TASK_DONE);
    CHECK(async_task_runtime(&s.task) == &rt2);                     /* finished: kept */
    async_runtime_destroy(&rt1);
    async_runtime_destroy(&rt2);
}

/* Destroying one waker of several leaves the others registered and working; a
   destroyed waker is inert (its wakes are dropped, a wait on it is refused). */
TEST(waker_destroy_among_several) {
    async_runtime rt;
    static worker w;
    async_waker a, b, c;
    ZERO(w);
    async_runtime_init(&rt, NULL);
    async_waker_init(&rt, &a);
    async_waker_init(&rt, &b);
    async_waker_init(&rt, &c);                   /* the list is c, b, a */
    CHECK(async_runtime_wake_fd(&rt) >= 0);
    ASSERT_EQ(async_waker_destroy(&a), 0);       /* the last one in the list */
    ASSERT_EQ(async_waker_destroy(&a), 0);       /* twice: nothing */
    async_waker_wake(&a);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 0);
    ASSERT_EQ(async_waker_wait(&w.task, &a), ASYNC_EINVAL);
    ASSERT_EQ(async_waker_destroy(&b), 0);       /* one in the middle */
    CHECK(rt.wakers == &c && c.next == NULL);
    async_waker_wake(&c);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 1);
    w.waker = &c;
    ASSERT_EQ(async_runtime_block_on(&rt, &w.task, waker_task, "waiter"), 0);
    ASSERT_EQ(w.step, 1);
    async_waker_destroy(&c);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(spawn_queues_fifo_and_never_runs_inline);
    RUN(wake_is_idempotent_and_idle_tasks_are_not_polled);
    RUN(budget_lets_timers_and_others_run);
    RUN(join_returns_result);
    RUN(join_finished_task);
    RUN(join_misuse);
    RUN(spawn_alloc_frees_after_join_or_detach);
    RUN(spawn_alloc_failure);
    RUN(abort_before_first_poll_never_runs);
    RUN(abort_before_first_poll_runs_only_the_cleanup);
    RUN(abort_while_sleeping);
    RUN(abort_while_joining);
    RUN(abort_while_yielded);
    RUN(yield_defers_until_collection);
    RUN(self_abort_follows_tokio);
    RUN(an_op_completing_in_cancel_mode_asserts);
    RUN(self_abort_without_yield_completes);
    RUN(waker_from_another_thread);
    RUN(waker_from_signal_handler_and_before_wait);
    RUN(abort_while_waiting_on_waker);
    RUN(block_on_and_run_report_deadlock);
    RUN(step_inside_a_task_is_refused);
    RUN(step_waits_at_most_max_wait);
    RUN(seeded_random_order_is_reproducible);
    RUN(wake_while_running_requeues);
    RUN(detach_after_finish_frees);
    RUN(real_timer_with_wake_descriptor);
    RUN(waker_double_init_and_timeout);
    RUN(abort_after_wake_before_poll);
    RUN(destroy_yielded_detached_and_spawning_cleanup);
    RUN(event_interval_collects_timers_under_constant_wakes);
    RUN(seeded_random_with_yields_and_timers);
    RUN(misuse_returns_errors);
    RUN(destroy_aborts_live_tasks);
    RUN(null_and_unready_arguments_are_refused);
    RUN(join_across_runtimes_is_refused);
    RUN(destroy_or_block_on_inside_a_task_is_refused);
    RUN(consume_budget_counts_down_and_never_yields_in_cancel_mode);
    RUN(join_of_finished_tasks_spends_budget);
    RUN(an_op_pending_in_cancel_mode_asserts);
    RUN(custom_clock_and_idle_hook);
    RUN(task_where_and_state_through_a_life);
    RUN(task_runtime_is_where_it_was_spawned);
    RUN(waker_destroy_among_several);
    DONE();
}
