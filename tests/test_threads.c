/* The threads layer: the blocking pool (spawn_blocking: results, bounded threads,
   keep-alive, cancellation of queued and running calls, timeouts, destroy) and the
   inbox that other threads send into. Also run under ThreadSanitizer by
   make sanitize. */
#include "test.h"
#include <pthread.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#ifdef _WIN32
/* Windows (mingw-w64, Wine): the C library's pipes; the tests' own threads are
   winpthreads' (the library's are Win32's) */
#include <io.h>
#include <windows.h>
#define pipe(fds) _pipe((fds), 4096, _O_BINARY)
#define read(fd, b, n) _read((fd), (b), (unsigned)(n))
#define close(fd) _close(fd)
#define alarm(s) ((void)(s))            /* the run's timeout is the hang guard */
#endif

#define MS(x) ASYNC_MS(x)

static async_runtime rt;

static void rt_real(void) {
    if (async_runtime_init(&rt, NULL) != 0) { printf("runtime init failed\n"); exit(2); }
}

static void sleep_ms(int ms) {
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
#endif
}

/* ---- work for the pool ---------------------------------------------------------- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int in_flight, max_in_flight, calls, gate_open;

static int square_slowly(void *arg) {
    int x = *(int *)arg;
    pthread_mutex_lock(&mu);
    calls++;
    if (++in_flight > max_in_flight) max_in_flight = in_flight;
    pthread_mutex_unlock(&mu);
    sleep_ms(1);
    pthread_mutex_lock(&mu);
    in_flight--;
    pthread_mutex_unlock(&mu);
    return x * x;
}

/* blocks until the test opens the gate */
static int wait_for_gate(void *arg) {
    pthread_mutex_lock(&mu);
    calls++;
    while (!gate_open) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return arg ? *(int *)arg : 7;
}

static void open_gate(void) {
    pthread_mutex_lock(&mu);
    gate_open = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void reset_work(void) {
    pthread_mutex_lock(&mu);
    in_flight = max_in_flight = calls = gate_open = 0;
    pthread_mutex_unlock(&mu);
}

static int calls_now(void) {
    int n;
    pthread_mutex_lock(&mu);
    n = calls;
    pthread_mutex_unlock(&mu);
    return n;
}

typedef struct {
    async_task task;
    async_pool *pool;
    async_blocking job;
    async_timer timer;
    int (*fn)(void *);
    int arg, rc, cleaned;
    async_time timeout;
} caller;

static int caller_run(async_task *t) {
    caller *f = (caller *)t;
    ASYNC_BEGIN(t);
    if (f->timeout)
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                            async_pool_spawn(t, f->pool, &f->job, f->fn, &f->arg));
    else
        ASYNC_AWAIT(f->rc, async_pool_spawn(t, f->pool, &f->job, f->fn, &f->arg));
    ASYNC_CLEANUP();
    f->cleaned = 1;
    ASYNC_END(f->rc);
}

enum { NCALLS = 100 };

TEST(spawn_blocking_results_on_a_bounded_pool) {
    static caller c[NCALLS];
    async_pool pool;
    async_pool_desc d;
    int i, ok = 0;
    ZERO(c); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 4;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    for (i = 0; i < NCALLS; i++) {
        c[i].pool = &pool;
        c[i].fn = square_slowly;
        c[i].arg = i;
        async_task_spawn(&rt, &c[i].task, caller_run, "caller");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);       /* woken through the wake descriptor */
    for (i = 0; i < NCALLS; i++) ok += c[i].rc == i * i && c[i].job.state == 0;
    ASSERT_EQ(ok, NCALLS);
    ASSERT_EQ(calls, NCALLS);
    CHECK(max_in_flight >= 1 && max_in_flight <= 4);
    CHECK(async_pool_threads(&pool) <= 4);
    ASSERT_EQ(pool.outstanding, 0);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(async_pool_destroy(&pool), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

TEST(cancel_a_queued_call_it_never_runs) {
    static caller a, b;
    async_pool pool;
    async_pool_desc d;
    ZERO(a); ZERO(b); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 1;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    a.pool = b.pool = &pool;
    a.fn = wait_for_gate;
    b.fn = square_slowly;
    b.arg = 3;
    async_task_spawn(&rt, &a.task, caller_run, "a");
    async_task_spawn(&rt, &b.task, caller_run, "b");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);   /* both submitted; b is queued */
    while (calls_now() == 0) sleep_ms(1);       /* a runs on the one thread */
    async_task_abort(&b.task);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(b.rc, ASYNC_ECANCELED);
    ASSERT_EQ(b.cleaned, 1);
    ASSERT_EQ(pool.outstanding, 1);
    open_gate();
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.rc, a.arg);                     /* wait_for_gate returns *arg */
    ASSERT_EQ(calls, 1);                        /* b's call never ran */
    ASSERT_EQ(rt.armed_wakers, 0);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

TEST(cancel_a_running_call_drops_its_result) {
    static caller a, b;
    async_pool pool;
    ZERO(a); ZERO(b);
    reset_work();
    rt_real();
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    a.pool = b.pool = &pool;
    a.fn = wait_for_gate;
    async_task_spawn(&rt, &a.task, caller_run, "a");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    while (calls_now() == 0) sleep_ms(1);
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);       /* nothing keeps the loop waiting */
    ASSERT_EQ(a.rc, ASYNC_ECANCELED);
    ASSERT_EQ(pool.outstanding, 0);
    memset(&a.job, 0xAA, sizeof a.job);         /* the job is the caller's again */
    open_gate();                                /* the call ends; nobody is told */
    /* the pool still serves: its thread is free again */
    b.fn = square_slowly;
    b.arg = 9;
    async_task_spawn(&rt, &b.task, caller_run, "b");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.rc, 81);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

TEST(timeout_around_spawn_blocking_on_the_paused_clock) {
    static caller a;
    async_pool pool;
    async_time t0;
    ZERO(a);
    reset_work();
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    a.pool = &pool;
    a.fn = wait_for_gate;
    a.timeout = MS(250);
    async_task_spawn(&rt, &a.task, caller_run, "a");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    while (calls_now() == 0) sleep_ms(1);       /* running (else it is just unqueued) */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(async_time_now(&rt) - t0, MS(250));
    open_gate();
    ASSERT_EQ(async_pool_destroy(&pool), 0);    /* waits for the call to end */
    ASSERT_EQ(calls, 1);
    async_runtime_destroy(&rt);
}

TEST(destroy_cancels_queued_calls_and_waits_for_running_ones) {
    static caller a, b;
    async_pool pool;
    async_pool_desc d;
    ZERO(a); ZERO(b); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 1;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    a.pool = b.pool = &pool;
    a.fn = wait_for_gate;
    b.fn = square_slowly;
    async_task_spawn(&rt, &a.task, caller_run, "a");
    async_task_spawn(&rt, &b.task, caller_run, "b");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);
    while (calls_now() == 0) sleep_ms(1);
    open_gate();                                /* a's call can end now */
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.rc, 0);                         /* arg 0: wait_for_gate returns 0 */
    CHECK(b.rc == ASYNC_ECANCELED || b.rc == 0);    /* queued: cancelled, unless it ran */
    ASSERT_EQ(calls, b.rc == 0 ? 2 : 1);
    ASSERT_EQ(rt.armed_wakers, 0);
    async_runtime_destroy(&rt);
}

TEST(runtime_destroy_with_calls_in_flight) {
    static caller a, b;
    async_pool pool;
    async_pool_desc d;
    ZERO(a); ZERO(b); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 1;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    a.pool = b.pool = &pool;
    a.fn = b.fn = wait_for_gate;
    async_task_spawn(&rt, &a.task, caller_run, "a");
    async_task_spawn(&rt, &b.task, caller_run, "b");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);
    while (calls_now() == 0) sleep_ms(1);
    ASSERT_EQ(async_runtime_destroy(&rt), 2);   /* both callers cancelled */
    ASSERT_EQ(a.cleaned + b.cleaned, 2);
    ASSERT_EQ(pool.outstanding, 0);
    open_gate();
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(calls, 1);                        /* the queued one never ran */
}

/* In storage of ours (in_storage), with an allocator that fails every call: the
   threads that exit give their records back, and new threads take them. */
static void keep_alive_run(int in_storage) {
    static caller c[8];
    static unsigned char mem[ASYNC_POOL_STORAGE_SIZE(8, 0, 0)];
    async_pool pool;
    async_pool_desc d;
    int i, waited = 0;
    long calls0 = test_alloc_calls;
    ZERO(c); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 8;
    d.keep_alive = MS(20);
    if (in_storage) {
        test_fail_all = 1;
        d.storage = mem;
        d.storage_size = sizeof mem;
    }
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    for (i = 0; i < 8; i++) {
        c[i].pool = &pool;
        c[i].fn = square_slowly;
        c[i].arg = i;
        async_task_spawn(&rt, &c[i].task, caller_run, "c");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    CHECK(async_pool_threads(&pool) >= 1);
    while (async_pool_threads(&pool) > 0 && waited < 5000) {
        sleep_ms(5);
        waited += 5;
    }
    ASSERT_EQ(async_pool_threads(&pool), 0);
    /* and the pool starts threads again when work comes */
    ZERO(c[0]);
    c[0].pool = &pool;
    c[0].fn = square_slowly;
    c[0].arg = 12;
    async_task_spawn(&rt, &c[0].task, caller_run, "c");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c[0].rc, 144);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
    if (in_storage) ASSERT_EQ(test_alloc_calls - calls0, 0);
    test_fail_all = 0;
}

TEST(idle_threads_exit_after_keep_alive) { keep_alive_run(0); }
TEST(idle_threads_exit_after_keep_alive_in_storage) { keep_alive_run(1); }

/* An idle thread's keep_alive is measured on the monotonic clock, even where its
   condition variable waits on the wall clock (the strict POSIX build, as macOS): the
   wall clock set an hour forward as the thread starts to idle ends that wait early,
   but the thread waits on and is still there 100 ms later (keep_alive is 5 s); it
   exits after keep_alive all the same. */
TEST(idle_thread_outlives_a_wall_clock_jump) {
    static caller c;
    async_pool pool;
    async_pool_desc d;
    int waited = 0;
    ZERO(c); ZERO(d);
    reset_work();
    rt_real();
    d.max_threads = 1;
    d.keep_alive = ASYNC_SEC(5);
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
#ifdef ASYNC_POSIX_ONLY
    __atomic_store_n(&test_wall_jumped, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&test_wall_jump, 3600, __ATOMIC_RELEASE);  /* read as it starts to idle */
#endif
    c.pool = &pool;
    c.fn = square_slowly;
    c.arg = 7;
    async_task_spawn(&rt, &c.task, caller_run, "c");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.rc, 49);
#ifdef ASYNC_POSIX_ONLY
    while (!__atomic_load_n(&test_wall_jumped, __ATOMIC_ACQUIRE) && waited < 5000) {
        sleep_ms(1);
        waited++;
    }
    ASSERT_EQ(__atomic_load_n(&test_wall_jumped, __ATOMIC_ACQUIRE), 1);  /* it read the clock */
#endif
    sleep_ms(100);
    ASSERT_EQ(async_pool_threads(&pool), 1);
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    /* and with a short keep_alive, the jump does not keep it either */
    d.keep_alive = MS(20);
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
#ifdef ASYNC_POSIX_ONLY
    __atomic_store_n(&test_wall_jump, 3600, __ATOMIC_RELEASE);
#endif
    ZERO(c);
    c.pool = &pool;
    c.fn = square_slowly;
    c.arg = 8;
    async_task_spawn(&rt, &c.task, caller_run, "c");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.rc, 64);
    waited = 0;
    while (async_pool_threads(&pool) > 0 && waited < 5000) {
        sleep_ms(5);
        waited += 5;
    }
    ASSERT_EQ(async_pool_threads(&pool), 0);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

TEST(pool_bad_input) {
    static caller a;
    async_pool pool;
    async_pool_desc d;
    async_blocking job;
    ZERO(a); ZERO(d); ZERO(job);
    rt_real();
    ASSERT_EQ(async_pool_init(NULL, &rt, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_pool_init(&pool, NULL, NULL), ASYNC_EINVAL);
    d.max_threads = -1;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), ASYNC_EINVAL);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    a.pool = &pool;                             /* fn NULL */
    async_task_spawn(&rt, &a.task, caller_run, "a");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.rc, ASYNC_EINVAL);
    ASSERT_EQ(async_pool_threads(&pool), 0);    /* nothing was started */
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(async_pool_threads(&pool), ASYNC_EINVAL);
    ASSERT_EQ(async_pool_spawn(NULL, &pool, &job, square_slowly, NULL), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

/* ---- the inbox ------------------------------------------------------------------ */
enum { NTHREADS = 4, PER_THREAD = 20000 };

typedef struct { async_inbox *q; int id, sent, rc; } sender_arg;

static void *sender_thread(void *p) {
    sender_arg *a = (sender_arg *)p;
    int i;
    for (i = 0; i < PER_THREAD; i++) {
        int item = a->id * PER_THREAD + i;
        if ((a->rc = async_inbox_send(a->q, &item)) != 0) break;   /* blocks when full */
        a->sent++;
    }
    return NULL;
}

typedef struct {
    async_task task;
    async_inbox *q;
    int item, rc, n, in_order, last[NTHREADS];
    long long sum;
} inbox_reader;

static int inbox_reader_run(async_task *t) {
    inbox_reader *f = (inbox_reader *)t;
    ASYNC_BEGIN(t);
    for (f->n = 0; f->n < NTHREADS; f->n++) f->last[f->n] = -1;
    f->n = 0;
    f->in_order = 1;
    for (;;) {
        ASYNC_AWAIT(f->rc, async_inbox_recv(t, f->q, &f->item));
        if (f->rc < 0) break;
        f->n++;
        f->sum += f->item;
        if (f->item % PER_THREAD <= f->last[f->item / PER_THREAD]) f->in_order = 0;
        f->last[f->item / PER_THREAD] = f->item % PER_THREAD;
    }
    ASYNC_END(f->rc);
}

static void *closer_thread(void *p) {
    pthread_t *senders = (pthread_t *)p;
    int i;
    for (i = 0; i < NTHREADS; i++) pthread_join(senders[i], NULL);
    return NULL;
}

TEST(inbox_threads_send_one_task_receives) {
    static inbox_reader r;
    static sender_arg args[NTHREADS];
    pthread_t th[NTHREADS], closer;
    async_inbox q;
    long long want = 0;
    int i;
    ZERO(r); ZERO(args);
    rt_real();
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 64), 0);
    r.q = &q;
    async_task_spawn(&rt, &r.task, inbox_reader_run, "reader");
    for (i = 0; i < NTHREADS; i++) {
        args[i].q = &q;
        args[i].id = i;
        pthread_create(&th[i], NULL, sender_thread, &args[i]);
    }
    /* run the loop until every item is in, then close from here */
    while (r.n < NTHREADS * PER_THREAD) async_runtime_step(&rt, MS(100));
    pthread_create(&closer, NULL, closer_thread, th);
    pthread_join(closer, NULL);
    async_inbox_close(&q);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < NTHREADS * PER_THREAD; i++) want += i;
    ASSERT_EQ(r.n, NTHREADS * PER_THREAD);
    ASSERT_EQ(r.sum, want);
    ASSERT_EQ(r.in_order, 1);                   /* each thread's items in its order */
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    for (i = 0; i < NTHREADS; i++) ASSERT_EQ(args[i].sent, PER_THREAD);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_inbox_destroy(&q), 0);
    async_runtime_destroy(&rt);
}

TEST(inbox_full_closed_and_bad_input) {
    static inbox_reader r;
    async_inbox q;
    int x = 5, i;
    ZERO(r);
    rt_real();
    ASSERT_EQ(async_inbox_init(&q, &rt, 0, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 0), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init(&q, &rt, (size_t)-1, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 2), 0);
    ASSERT_EQ(async_inbox_try_send(&q, &x), 0);
    ASSERT_EQ(async_inbox_try_send(&q, &x), 0);
    ASSERT_EQ(async_inbox_try_send(&q, &x), ASYNC_EAGAIN);  /* full */
    ASSERT_EQ(async_inbox_try_send(&q, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_close(&q), 0);
    ASSERT_EQ(async_inbox_try_send(&q, &x), ASYNC_ECLOSED);
    ASSERT_EQ(async_inbox_send(&q, &x), ASYNC_ECLOSED);     /* never blocks once closed */
    r.q = &q;
    for (i = 0; i < 4; i++) r.last[i] = -1;
    async_task_spawn(&rt, &r.task, inbox_reader_run, "reader");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.n, 2);                          /* what was in before the close */
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    ASSERT_EQ(async_inbox_destroy(&q), 0);
    ASSERT_EQ(async_inbox_destroy(&q), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

TEST(inbox_recv_cancelled_and_destroy_refused_while_waiting) {
    static inbox_reader r;
    async_inbox q;
    ZERO(r);
    rt_real();
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 2), 0);
    r.q = &q;
    async_task_spawn(&rt, &r.task, inbox_reader_run, "reader");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(rt.armed_wakers, 1);              /* it waits */
    ASSERT_EQ(async_inbox_destroy(&q), ASYNC_EBUSY);
    async_task_abort(&r.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.task.u.result, ASYNC_ECANCELED);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_inbox_destroy(&q), 0);
    async_runtime_destroy(&rt);
}

/* ---- bad arguments, out of memory, errors from the calls -------------------------- */
/* The pool and the inbox refuse NULL and unready arguments; an allocation that fails
   gives ASYNC_ENOMEM with nothing left allocated (the harness counts). */
TEST(threads_bad_arguments_and_out_of_memory) {
    async_runtime zero;
    async_pool pool;
    async_inbox q, q0;
    int x = 1;
    ZERO(zero); ZERO(q0);
    rt_real();
    ASSERT_EQ(async_pool_init(&pool, &zero, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_pool_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_pool_threads(NULL), ASYNC_EINVAL);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), ASYNC_ENOMEM);
    CHECK(pool.impl == NULL);
    ASSERT_EQ(async_inbox_init(NULL, &rt, sizeof(int), 2), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init(&q, NULL, sizeof(int), 2), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init(&q, &zero, sizeof(int), 2), ASYNC_EINVAL);
    CHECK(q.impl == NULL);
    test_fail_at = test_alloc_calls + 1;          /* the inbox itself */
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 2), ASYNC_ENOMEM);
    test_fail_at = test_alloc_calls + 2;          /* its ring */
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 2), ASYNC_ENOMEM);
    CHECK(q.impl == NULL);
    ASSERT_EQ(async_inbox_send(NULL, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_send(&q0, &x), ASYNC_EINVAL);           /* never initialised */
    ASSERT_EQ(async_inbox_try_send(NULL, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_try_send(&q0, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_close(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_close(&q0), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(rt.wakers == NULL, 1);              /* no waker left registered */
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* Ops on the pool refuse bad arguments (from inside a task): a pool of another
   runtime, no function, no host and no service, no room for addresses, no path, a
   negative descriptor, a missing buffer. */
typedef struct { async_task task; async_pool *pool, *foreign; int rc[12]; } bad_pool_frame;
static int bad_pool_run(async_task *t) {
    bad_pool_frame *f = (bad_pool_frame *)t;
    async_blocking job;
    async_resolve_op r;
    async_file_op op;
    async_addr out[2];
    char buf[4];
    ZERO(job); ZERO(r); ZERO(op);
    ASYNC_BEGIN(t);
    f->rc[0] = async_pool_spawn(t, f->foreign, &job, square_slowly, NULL);
    f->rc[1] = async_pool_spawn(t, NULL, &job, square_slowly, NULL);
    f->rc[2] = async_pool_resolve(t, f->pool, &r, NULL, NULL, out, 2);
    f->rc[3] = async_pool_resolve(t, f->pool, &r, "localhost", NULL, out, 0);
    f->rc[4] = async_pool_resolve(t, f->pool, &r, "localhost", NULL, NULL, 2);
    f->rc[5] = async_pool_resolve(t, NULL, &r, "localhost", NULL, out, 2);
    f->rc[6] = async_file_open(t, f->pool, &op, NULL, 0, 0);
    f->rc[7] = async_file_open(t, NULL, &op, "/", 0, 0);
    f->rc[8] = async_file_read(t, f->pool, &op, -1, buf, sizeof buf, 0);
    f->rc[9] = async_file_read(t, f->pool, &op, 0, NULL, sizeof buf, 0);
    f->rc[10] = async_file_write(t, f->pool, NULL, 1, "x", 1, 0);
    f->rc[11] = (r.req == NULL && op.req == NULL && job.state == 0) ? 0 : -1;
    ASYNC_END(0);
}
TEST(pool_ops_bad_arguments) {
    static bad_pool_frame f;
    async_runtime other;
    async_pool pool, foreign;
    int i;
    ZERO(f);
    rt_real();
    async_runtime_init(&other, NULL);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    ASSERT_EQ(async_pool_init(&foreign, &other, NULL), 0);
    f.pool = &pool;
    f.foreign = &foreign;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, bad_pool_run, "bad"), 0);
    for (i = 0; i < 11; i++)
        if (f.rc[i] != ASYNC_EINVAL) FAIL_("call %d: %d", i, f.rc[i]);
    ASSERT_EQ(f.rc[11], 0);                       /* nothing was submitted */
    ASSERT_EQ(async_pool_threads(&pool), 0);
    async_pool_destroy(&foreign);
    async_pool_destroy(&pool);
    async_runtime_destroy(&other);
    async_runtime_destroy(&rt);
}

/* What the calls on the pool report: a read from a write-only descriptor and a write
   to a read-only one (-EBADF), a write at the file position (offset < 0), a lookup of
   a service alone (addresses with its port) and of a host alone (port 0), and a
   request that cannot be allocated (ASYNC_ENOMEM). */
typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    async_resolve_op r;
    async_addr out[4];
    int rd, wr, n_svc, n_host, rc[6], fail_at;
    char buf[8];
} pool_err_frame;
static int pool_err_run(async_task *t) {
    pool_err_frame *f = (pool_err_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc[0], async_file_read(t, f->pool, &f->op, f->wr, f->buf, sizeof f->buf, -1));
    ASYNC_AWAIT(f->rc[1], async_file_write(t, f->pool, &f->op, f->rd, "x", 1, -1));
    ASYNC_AWAIT(f->rc[2], async_file_write(t, f->pool, &f->op, f->wr, "pos", 3, -1));
    ASYNC_AWAIT(f->n_svc, async_pool_resolve(t, f->pool, &f->r, NULL, "4711", f->out, 4));
    ASYNC_AWAIT(f->n_host, async_pool_resolve(t, f->pool, &f->r, "127.0.0.1", NULL, f->out + 3, 1));
    test_fail_at = test_alloc_calls + 1;
    ASYNC_AWAIT(f->rc[3], async_file_open(t, f->pool, &f->op, "/", O_RDONLY, 0));
    test_fail_at = test_alloc_calls + 1;
    ASYNC_AWAIT(f->rc[4], async_file_read(t, f->pool, &f->op, f->rd, f->buf, 1, 0));
    test_fail_at = test_alloc_calls + 1;
    ASYNC_AWAIT(f->rc[5], async_pool_resolve(t, f->pool, &f->r, "127.0.0.1", "1", f->out, 1));
    ASYNC_END(0);
}
TEST(pool_calls_report_errors_and_lookups_of_one_part) {
    static pool_err_frame f;
    async_pool pool;
    int fds[2], i;
    char got[4] = {0};
    ZERO(f);
    rt_real();
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    f.pool = &pool;
    f.rd = fds[0];
    f.wr = fds[1];
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, pool_err_run, "errors"), 0);
    ASSERT_EQ(f.rc[0], -EBADF);
    ASSERT_EQ(f.rc[1], -EBADF);
    ASSERT_EQ(f.rc[2], 3);
    ASSERT_EQ(read(fds[0], got, 3), 3);
    ASSERT_STR(got, "pos");
    CHECK(f.n_svc >= 1);
    for (i = 0; i < f.n_svc && i < 4; i++) ASSERT_EQ(async_addr_port(&f.out[i]), 4711);
    ASSERT_EQ(f.n_host, 1);
    ASSERT_EQ(async_addr_port(&f.out[3]), 0);
    ASSERT_EQ(f.rc[3], ASYNC_ENOMEM);
    ASSERT_EQ(f.rc[4], ASYNC_ENOMEM);
    ASSERT_EQ(f.rc[5], ASYNC_ENOMEM);
    CHECK(f.op.req == NULL && f.r.req == NULL);
    close(fds[0]);
    close(fds[1]);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

/* ---- runtime groups -------------------------------------------------------------- */
typedef struct { async_task task; async_timer timer; } group_sleeper;

static int group_sleeper_run(async_task *t) {
    group_sleeper *f = (group_sleeper *)t;
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(60)));
    (void)rc;
    ASYNC_END(0);
}

/* Spawned onto runtime 1 from this thread (no runtime), then aborted at once through
   the join handle, while runtime 1 collects the spawn: every one ends (cancelled), and
   under ThreadSanitizer without a race between the abort (which finds the task's
   runtime) and the collect (which set up the task on its runtime). */
TEST(group_abort_right_after_spawn_from_another_thread) {
    enum { N = 200 };
    static group_sleeper s[N];
    static async_join_handle h[N];
    async_group g;
    async_group_desc d;
    int i, finished = 0, spins;
    memset(&d, 0, sizeof d);
    d.threads = 2;
    ASSERT_EQ(async_group_init(&g, &d), 0);
    ASSERT_EQ(async_group_start(&g), 0);
    memset(s, 0, sizeof s);
    for (i = 0; i < N; i++) {
        ASSERT_EQ(async_group_spawn(&g, 1, &h[i], &s[i].task, group_sleeper_run, "sleeper"), 0);
        ASSERT_EQ(async_join_handle_abort(&h[i]), 0);
    }
    for (i = 0; i < N; i++) {
        for (spins = 0; spins < 5000 && !async_join_handle_is_finished(&h[i]); spins++)
            sleep_ms(1);
        finished += async_join_handle_is_finished(&h[i]);
    }
    ASSERT_EQ(finished, N);
    ASSERT_EQ(async_group_destroy(&g), 0);
}

/* ---- zero allocation: the pool and the inbox in storage of the caller's ----------- */

/* One async_file_read of fd (at its position) into buf. */
typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    int fd, rc, cleaned;
    size_t len;
    char buf[128];
} zreader;

static int zreader_run(async_task *t) {
    zreader *f = (zreader *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_file_read(t, f->pool, &f->op, f->fd, f->buf, f->len, -1));
    ASYNC_CLEANUP();
    f->cleaned = 1;
    ASYNC_END(f->rc);
}

static void zreader_start(zreader *r, async_pool *pool, int fd, size_t len) {
    r->pool = pool;
    r->fd = fd;
    r->len = len;
    r->rc = 12345;                              /* not yet */
    async_task_spawn(&rt, &r->task, zreader_run, "zreader");
}

/* Turns of the loop until cond holds (a generous bound: "it did happen"). */
#define STEP_UNTIL(cond) do { int n_ = 0; \
        while (!(cond) && n_++ < 3000) async_runtime_step(&rt, MS(10)); \
        CHECK(cond); } while (0)

/* A pool in storage of ours (one thread, two request slots) with an allocator that
   fails every call: a file read cancelled while its thread runs it leaves its slot to
   the pool (the frame's op is scribbled over), the slot comes back when the read
   ends, a task that finds no free slot waits for one (another, aborted while it
   waits, leaves the line), then both slots are in use at once: none was lost. Reads longer than a slot carries are cut to it; a call that
   cannot be cut (a path, a whole file) is ASYNC_ENOMEM. Not one allocation. */
TEST(pool_in_storage_slots_outlive_a_cancelled_read) {
    static caller m;
    static zreader r[5];
    static unsigned char mem[ASYNC_POOL_STORAGE_SIZE(1, 2, 64)];
    async_pool pool;
    async_pool_desc d;
    async_file_op op;
    char path[200];
    int p[3][2], i;
    long calls0;
    ZERO(m); ZERO(r); ZERO(d); ZERO(op);
    reset_work();
    for (i = 0; i < 3; i++) ASSERT_EQ(pipe(p[i]), 0);
    rt_real();
    test_fail_all = 1;
    calls0 = test_alloc_calls;
    d.max_threads = 1;
    d.storage = mem;
    d.storage_size = sizeof mem;
    d.requests = 2;
    d.request_size = 64;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    /* m holds the one thread; r[0]'s read queues behind it. The thread takes r[0] in
       the same critical section that hands m's result over: once m has its result,
       r[0] runs (blocked on an empty pipe). */
    m.pool = &pool;
    m.fn = wait_for_gate;
    m.arg = 7;
    m.rc = 12345;
    async_task_spawn(&rt, &m.task, caller_run, "m");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    while (calls_now() == 0) sleep_ms(1);
    zreader_start(&r[0], &pool, p[0][0], 8);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(pool.outstanding, 2);
    open_gate();
    STEP_UNTIL(m.rc != 12345);
    ASSERT_EQ(m.rc, 7);
    async_task_abort(&r[0].task);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(r[0].rc, ASYNC_ECANCELED);
    ASSERT_EQ(r[0].cleaned, 1);
    ASSERT_EQ(pool.outstanding, 1);             /* the read runs on, in its slot */
    memset(&r[0].op, 0xAA, sizeof r[0].op);     /* the frame's op is gone */
    /* r[1] takes the other slot (queued behind the orphan), r[2] waits for one */
    zreader_start(&r[1], &pool, p[1][0], 8);
    zreader_start(&r[2], &pool, p[2][0], 8);
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);
    ASSERT_EQ(pool.outstanding, 2);
    ASSERT_EQ(r[2].op.job.state, 0);            /* not submitted: no slot */
    ASSERT_EQ(r[2].rc, 12345);
    zreader_start(&r[4], &pool, p[2][0], 8);    /* behind r[2], then aborted: */
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);   /* it leaves the line, takes nothing */
    async_task_abort(&r[4].task);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(r[4].rc, ASYNC_ECANCELED);
    ASSERT_EQ(r[4].cleaned, 1);
    memset(&r[4].op, 0xAA, sizeof r[4].op);
    ASSERT_EQ(write(p[0][1], "o", 1), 1);       /* the orphan ends: its slot is back */
    STEP_UNTIL(r[2].op.job.state == 1);         /* r[2] has it and is submitted */
    ASSERT_EQ(pool.outstanding, 2);             /* both slots in use at once */
    ASSERT_EQ(r[1].rc, 12345);
    ASSERT_EQ(write(p[1][1], "1", 1), 1);
    ASSERT_EQ(write(p[2][1], "2", 1), 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r[1].rc, 1);
    ASSERT_EQ(r[1].buf[0], '1');
    ASSERT_EQ(r[2].rc, 1);
    ASSERT_EQ(r[2].buf[0], '2');
    /* 100 bytes wanted, 64 carried: a short read (the rest is still in the pipe) */
    memset(path, 'z', 100);
    ASSERT_EQ(write(p[0][1], path, 100), 100);
    zreader_start(&r[3], &pool, p[0][0], 100);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r[3].rc, 64);
    CHECK(r[3].buf[63] == 'z' && r[3].buf[64] == 0);
    /* a path longer than a slot: ENOMEM at once, nothing taken */
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = 0;
    ASSERT_EQ(async_file_stat(&m.task, &pool, &op, path, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_file_remove(&m.task, &pool, &op, path), ASYNC_ENOMEM);
    CHECK(op.req == NULL);
    ASSERT_EQ(pool.outstanding, 0);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(test_alloc_calls - calls0, 0);   /* not one call to ASYNC_MALLOC */
    test_fail_all = 0;
    for (i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    async_runtime_destroy(&rt);
}

/* Every kind of file call and a lookup, from two tasks that share the one request
   slot of a pool in storage of ours (the second waits for it in turn). */
typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    async_resolve_op rop;
    char path[64];
    async_file_meta meta;
    async_addr addrs[4];
    int fd, rc[11];
    char buf[32];
} zfiler;

static int zfiler_run(async_task *t) {
    zfiler *f = (zfiler *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->fd, async_file_open(t, f->pool, &f->op, f->path,
                                       O_RDWR | O_CREAT | O_TRUNC, 0600));
    if (f->fd < 0) ASYNC_RETURN(f->fd);
    ASYNC_AWAIT(f->rc[0], async_file_write(t, f->pool, &f->op, f->fd, "hello, zero", 11, 0));
    ASYNC_AWAIT(f->rc[1], async_file_read(t, f->pool, &f->op, f->fd, f->buf, 16, 7));
    ASYNC_AWAIT(f->rc[2], async_file_sync(t, f->pool, &f->op, f->fd, 0));
#ifdef _WIN32
    _close(f->fd);
#else
    close(f->fd);
#endif
    ASYNC_AWAIT(f->rc[3], async_file_write_all(t, f->pool, &f->op, f->path, "abc", 3));
    ASYNC_AWAIT(f->rc[4], async_file_read_all(t, f->pool, &f->op, f->path, f->buf + 8, 16));
    ASYNC_AWAIT(f->rc[5], async_file_stat(t, f->pool, &f->op, f->path, &f->meta));
    ASYNC_AWAIT(f->rc[6], async_pool_resolve(t, f->pool, &f->rop, "127.0.0.1", "80",
                                             f->addrs, 4));
    ASYNC_AWAIT(f->rc[7], async_file_remove(t, f->pool, &f->op, f->path));
    ASYNC_AWAIT(f->rc[8], async_file_stat(t, f->pool, &f->op, f->path, &f->meta));
    /* more than a slot carries: no cut is possible */
    ASYNC_AWAIT(f->rc[9], async_file_read_all(t, f->pool, &f->op, f->path, f->buf, 4096));
    ASYNC_END(0);
}

/* The inbox in storage of ours: a thread sends more than it holds. */
typedef struct { async_inbox *q; int rc; } zsender_arg;

static void *zsender_thread(void *p) {
    zsender_arg *a = (zsender_arg *)p;
    int i;
    for (i = 1; i <= 1000 && a->rc == 0; i++) a->rc = async_inbox_send(a->q, &i);
    if (a->rc == 0) a->rc = async_inbox_close(a->q);
    return NULL;
}

typedef struct {
    async_task task;
    async_inbox *q;
    int item, rc, n;
    long sum;
} zinbox_reader;

static int zinbox_reader_run(async_task *t) {
    zinbox_reader *f = (zinbox_reader *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_inbox_recv(t, f->q, &f->item));
        if (f->rc < 0) break;
        f->n++;
        f->sum += f->item;
    }
    ASYNC_END(0);
}

TEST(pool_and_inbox_in_storage_allocate_nothing) {
    static zfiler f[2];
    static zinbox_reader ir;
    static unsigned char mem[ASYNC_POOL_STORAGE_SIZE(2, 1, 200)];
    static unsigned char qmem[ASYNC_INBOX_STORAGE_SIZE(sizeof(int), 8) + 1];
    async_pool pool;
    async_pool_desc d;
    async_inbox q;
    zsender_arg sa;
    pthread_t th;
    long calls0;
    int i;
    ZERO(f); ZERO(ir); ZERO(d); ZERO(sa);
    rt_real();
    test_fail_all = 1;
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 8), ASYNC_ENOMEM);  /* it would */
    calls0 = test_alloc_calls;
    /* bad storage: EINVAL, nothing set up */
    d.requests = 1;                             /* slots without storage */
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), ASYNC_EINVAL);
    d.requests = 0;
    d.storage_size = sizeof mem;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), ASYNC_EINVAL);
    d.max_threads = 2;
    d.storage = mem;
    d.requests = 1;
    d.request_size = 200;
    d.storage_size = sizeof mem - 1;            /* too small */
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), ASYNC_EINVAL);
    d.requests = -1;
    d.storage_size = sizeof mem;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), ASYNC_EINVAL);
    d.requests = 1;
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    ASSERT_EQ(async_inbox_init_storage(&q, &rt, sizeof(int), 8, NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_inbox_init_storage(&q, &rt, sizeof(int), 8, qmem,
                                       ASYNC_INBOX_STORAGE_SIZE(sizeof(int), 8) - 1),
              ASYNC_EINVAL);
    /* any alignment: one byte in */
    ASSERT_EQ(async_inbox_init_storage(&q, &rt, sizeof(int), 8, qmem + 1, sizeof qmem - 1), 0);
    for (i = 0; i < 2; i++) {
        f[i].pool = &pool;
        snprintf(f[i].path, sizeof f[i].path, "/tmp/async-test-zero-%d-%d", (int)getpid(), i);
        async_task_spawn(&rt, &f[i].task, zfiler_run, "zfiler");
    }
    ir.q = &q;
    async_task_spawn(&rt, &ir.task, zinbox_reader_run, "inbox");
    sa.q = &q;
    ASSERT_EQ(pthread_create(&th, NULL, zsender_thread, &sa), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    pthread_join(th, NULL);
    for (i = 0; i < 2; i++) {
        CHECK(f[i].fd >= 0);
        ASSERT_EQ(f[i].rc[0], 11);
        ASSERT_EQ(f[i].rc[1], 4);
        CHECK(memcmp(f[i].buf, "zero", 4) == 0);
        ASSERT_EQ(f[i].rc[2], 0);
        ASSERT_EQ(f[i].rc[3], 0);
        ASSERT_EQ(f[i].rc[4], 3);
        CHECK(memcmp(f[i].buf + 8, "abc", 3) == 0);
        ASSERT_EQ(f[i].rc[5], 0);
        ASSERT_EQ(f[i].meta.size, 3);
        ASSERT_EQ(f[i].rc[6], 1);
        CHECK(f[i].addrs[0].len > 0 && f[i].addrs[0].len <= sizeof f[i].addrs[0].u);
        ASSERT_EQ(f[i].rc[7], 0);
        ASSERT_EQ(f[i].rc[8], -ENOENT);
        ASSERT_EQ(f[i].rc[9], ASYNC_ENOMEM);
    }
    ASSERT_EQ(sa.rc, 0);
    ASSERT_EQ(ir.n, 1000);
    ASSERT_EQ(ir.sum, 1000L * 1001 / 2);
    ASSERT_EQ(async_inbox_destroy(&q), 0);
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    ASSERT_EQ(test_alloc_calls - calls0, 0);    /* not one call to ASYNC_MALLOC */
    test_fail_all = 0;
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    alarm(300);
    RUN(spawn_blocking_results_on_a_bounded_pool);
    RUN(group_abort_right_after_spawn_from_another_thread);
    RUN(cancel_a_queued_call_it_never_runs);
    RUN(cancel_a_running_call_drops_its_result);
    RUN(timeout_around_spawn_blocking_on_the_paused_clock);
    RUN(destroy_cancels_queued_calls_and_waits_for_running_ones);
    RUN(runtime_destroy_with_calls_in_flight);
    RUN(idle_threads_exit_after_keep_alive);
    RUN(idle_threads_exit_after_keep_alive_in_storage);
    RUN(idle_thread_outlives_a_wall_clock_jump);
    RUN(pool_bad_input);
    RUN(inbox_threads_send_one_task_receives);
    RUN(inbox_full_closed_and_bad_input);
    RUN(inbox_recv_cancelled_and_destroy_refused_while_waiting);
    RUN(threads_bad_arguments_and_out_of_memory);
    RUN(pool_ops_bad_arguments);
    RUN(pool_calls_report_errors_and_lookups_of_one_part);
    RUN(pool_in_storage_slots_outlive_a_cancelled_read);
    RUN(pool_and_inbox_in_storage_allocate_nothing);
    DONE();
}
