/* faults.h - the perturbation modes of the test suites (included by test.h).

   A suite built with -DTEST_FAULTS (make test builds its C99 form so, make sanitize
   its gcc form) runs as usual, unless ASYNC_TEST_FAULTS names a mode:
     clock   the runtime's clock jumps forward at its k-th reading, by a little less
             than, exactly, and a little more than the wait to the next deadline
             (10 us, 1 ms and 5 ms when no timer is pending)
     alloc   the k-th allocation fails (SQLite's method)
     sys     the k-th system call of the reactor and the I/O layer fails, with each
             thing that can go wrong there (EINTR, EAGAIN, a short transfer,
             ECONNRESET, EPIPE, EMFILE, ENOMEM...: async_sys_faults)
     preempt (:SEED) every step where threads meet (a wake from another thread, the
             loop collecting wakes, the pool's and the inbox's locks) yields or
             sleeps a few microseconds at random: the tests run in process and
             their own checks must hold (make sanitize runs it under TSan)
   Each test then runs once in a child process to count its readings, allocations
   or calls (N), and again, in a fresh child each time, for every k of a schedule up
   to N (every k up to 24, then spaced out) and every variant.

   What is checked is what must hold whatever the world does, against the plain run:
     - no crash, no spin (a child still busy at its time bound), and no hang where
       nothing the program could see went wrong: a clock jump, or a fault the
       library absorbs (EINTR is retried, a failed poll turns the loop again), after
       which the test's own checks must pass too;
     - no ASYNC_ASSERT beyond those of the plain run;
     - nothing leaked: allocations, and descriptors (after an error the program saw,
       only if the test's own checks pass: a test surprised by an error need not
       close everything);
     - no task left blocked forever (a run or block_on that ends stuck) where the
       plain run never ends so (a test that ends stuck on purpose, as the models
       do, may end so more often: a timeout that fires earlier changes who waits);
     - clock: a model's own checks (the tests/..._model.h headers) hold, as they
       hold for any schedule and any timing;
     - clock: no timer fires before its deadline, and on the paused clock none
       later than the plain run's worst lateness plus the jumps made.
   A fault the program does see (ECONNRESET, EMFILE, ENOMEM, a short read...) may
   make its own checks fail or leave it waiting for what the fault took away (a
   test's acceptor that stops at EMFILE leaves its client waiting): that is
   counted, not failed. Such a wait is seen by a watchdog (no system call but
   waits, no CPU, for a while) so that it costs a second, not the time bound.
   ASYNC_TEST_FAULTS=MODE:K:V runs the selected tests once with that one
   perturbation, in process and with their output: to look at a failure.
   ASYNC_TEST_FAULTS_BUDGET=SECONDS bounds each test's perturbed runs (default 1;
   make soak sets more), spreading the schedule when the budget cannot hold it. */
#if defined(TEST_HOOKS) && defined(TEST_FAULTS)
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum { TF_NONE = 0, TF_CLOCK = 1, TF_ALLOC = 2, TF_SYS = 3, TF_PREEMPT = 4 };
/* What a fault may change: nothing (EINTR is retried inside; a failed poll turns the
   loop again), or what the program sees (an error, a short count, or ASYNC_PENDING
   from a direct call where EAGAIN met readiness: it must then be awaited). */
enum { TF_SILENT = 0, TF_SEEN = 2 };
static int tf_kind(int call, int f) {
    return f == -EINTR || call == ASYNC_SYS_WAIT ? TF_SILENT : TF_SEEN;
}
#define TF_CALLS 4096                   /* calls recorded, to pick each k's faults */

/* What a run saw: written by the child into a pipe, read by the parent. */
typedef struct {
    long count;                         /* readings, allocations or calls seen */
    long stuck;                         /* runs that ended with tasks blocked forever */
    long early;                         /* timers fired before their deadline */
    async_time late;                    /* worst lateness of a timer */
    async_time jumped;                  /* how far the clock was moved */
    int asserts, leaked, fds, failed, hit, model, kind, waiting;
    char assert_msg[256];
    unsigned char calls[TF_CALLS];      /* sys: the kind of each call, in order */
} tf_result;

static int tf_mode = -1, tf_one_k, tf_one_v, tf_out = -1;
static double tf_budget = 1.0, tf_idle = 1.0;
static long tf_at, tf_variant;
static volatile long tf_count, tf_activity;
static tf_result tf_res;
static long tf_runs, tf_differ, tf_waits, tf_tests;

static long tf_add(volatile long *p) {  /* atomically: pool threads call the sys hook */
    return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST);
}

static async_time tf_clock(void *user, async_runtime *rt, async_time now) {
    async_time d, j, next;
    (void)user;
    if (tf_mode != TF_CLOCK || tf_add(&tf_count) != tf_at) return 0;
    next = async_runtime_next_deadline(rt);
    if (next == ASYNC_TIME_NEVER || next <= now) {
        j = tf_variant == 0 ? ASYNC_US(10) : tf_variant == 1 ? ASYNC_MS(1) : ASYNC_MS(5);
    } else {
        d = next - now;
        j = tf_variant == 0 ? (d > 1 ? d - 1 : 1) : tf_variant == 1 ? d : d + ASYNC_MS(1);
    }
    tf_res.hit = 1;
    tf_res.jumped += j;
    return j;
}

static int tf_alloc(void *user, size_t size) {
    (void)user; (void)size;
    if (tf_mode != TF_ALLOC || tf_add(&tf_count) != tf_at) return 0;
    tf_res.hit = 1;
    tf_res.kind = TF_SEEN;              /* the caller gets ENOMEM */
    return 1;
}

static int tf_sys(void *user, int call, int fd, size_t *len) {
    long k;
    int n, f;
    const int *tab;
    (void)user;
    if (call != ASYNC_SYS_WAIT) tf_add(&tf_activity);
    if (tf_mode != TF_SYS) return 0;
    k = tf_add(&tf_count);
    if (k <= TF_CALLS) tf_res.calls[k - 1] = (unsigned char)call;
    if (k != tf_at || !(tab = async_sys_faults(call, &n))) return 0;
    tf_res.hit = 1;
    f = tab[tf_variant % n];
    tf_res.kind = tf_kind(call, f);
    if (tf_one_k)                       /* looking at one: say what it was */
        fprintf(stderr, "  faults: system call %ld (%s, descriptor %d) gets %s\n", k,
                async_sys_name(call), fd,
                f == ASYNC_FAULT_SHORT ? "a short count" : strerror(-f));
    if (f != ASYNC_FAULT_SHORT) return f;
    if (len && *len > 1) *len /= 2;
    return 0;
}

static void tf_event(void *user, async_runtime *rt, int what, async_time a, async_time b) {
    (void)user;
    if (what == ASYNC_FAULT_STUCK) {
        tf_res.stuck++;
    } else if (what == ASYNC_FAULT_TIMER_FIRED) {
        if (b < a) tf_res.early++;
        else if ((rt->flags & ASYNC__RT_PAUSED) && b - a > tf_res.late)
            tf_res.late = b - a;        /* a real clock's lateness is the machine's */
    }
}

/* preempt: at each step where threads meet, yield or sleep a few microseconds, by
   a per-thread xorshift seeded from ASYNC_TEST_FAULTS=preempt:SEED. */
static unsigned tf_seed = 1;
static __thread unsigned tf_rng;
static volatile long tf_yields;
static void tf_preempt(void *user) {
    unsigned x = tf_rng ? tf_rng : (tf_seed * 2654435761u) ^ (unsigned)(size_t)&x;
    (void)user;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    tf_rng = x ? x : 1;
    if ((x & 3) == 0) {
        struct timespec ts;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)(x >> 8) % 50000;
        nanosleep(&ts, NULL);
        tf_add(&tf_yields);
    } else if ((x & 3) == 1) {
        sched_yield();
        tf_add(&tf_yields);
    }
}

static double tf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double tf_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tf_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d) return 0;
    while ((e = readdir(d)) != NULL) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;                       /* the directory's own descriptor */
}

static int test_fault_mode(void) {
    if (tf_mode < 0) {
        const char *e = getenv("ASYNC_TEST_FAULTS"), *b = getenv("ASYNC_TEST_FAULTS_BUDGET");
        tf_mode = TF_NONE;
        if (e && !strncmp(e, "clock", 5)) tf_mode = TF_CLOCK;
        if (e && !strncmp(e, "alloc", 5)) tf_mode = TF_ALLOC;
        if (e && !strncmp(e, "sys", 3)) tf_mode = TF_SYS;
        if (e && !strncmp(e, "preempt", 7)) tf_mode = TF_PREEMPT;
        if (e && strchr(e, ':')) sscanf(strchr(e, ':'), ":%d:%d", &tf_one_k, &tf_one_v);
        if (b) tf_budget = atof(b);
    }
    return tf_mode != TF_NONE;
}

/* Sent once: the watchdog and the test's own end may both get here at once (a loaded
   machine); the second waits for the first's exit instead of writing to a closed pipe. */
static int tf_sent;
static void tf_send(void) {
    if (__sync_lock_test_and_set(&tf_sent, 1))
        for (;;) pause();
    if (tf_out >= 0 && write(tf_out, &tf_res, sizeof tf_res) != (ssize_t)sizeof tf_res)
        _exit(3);
}

/* In a child after a fault the program saw: a program waiting for what the fault
   took away (no system call but waits, hardly any CPU, for twice the plain run's
   time or a tenth of a second) ends its run then, not at the time bound. "Hardly any":
   under a quarter of a core (a loop that spins takes a whole one; a program waiting
   through a storm of signals, each a wait that ends in EINTR, takes ~12%: test_io's
   signals test, which otherwise sat out the whole time bound, 5 s, for each such run). */
static void *tf_watchdog(void *arg) {
    long seen = tf_activity;
    double since = tf_now(), cpu = tf_cpu();
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (tf_activity != seen || tf_res.kind != TF_SEEN) {
            seen = tf_activity;
            since = tf_now();
            cpu = tf_cpu();
        } else if (tf_now() - since > tf_idle && tf_cpu() - cpu < 0.25 * tf_idle) {
            tf_res.waiting = 1;
            tf_res.fds = tf_count_fds();
            tf_send();
            _exit(0);
        }
    }
    return NULL;
}

/* Run the test with the perturbation at k (0: none), here, filling tf_res. */
static void tf_run_here(void (*fn)(void), long k, long v) {
    async_faults f;
    memset(&tf_res, 0, sizeof tf_res);
    memset(&f, 0, sizeof f);
    f.clock = tf_clock;
    f.alloc = tf_alloc;
    f.sys = tf_sys;
    f.event = tf_event;
    tf_count = 0;
    tf_at = k;
    tf_variant = v;
    async_faults_set(&f);
    test_run_once(fn);
    async_faults_set(NULL);
    tf_res.count = tf_count;
    tf_res.asserts = test_asserts;
    tf_res.failed = test_cur_failed;
    tf_res.leaked = test_leaked;
    tf_res.model = test_model;
    snprintf(tf_res.assert_msg, sizeof tf_res.assert_msg, "%s", test_assert_msg);
    tf_res.fds = tf_count_fds();
}

/* The same in a child process; returns 0, or why the child did not finish (*idle:
   it was still waiting, not busy, at its time bound). */
static const char *tf_run_child(void (*fn)(void), long k, long v, int seconds, tf_result *r,
                                int *idle) {
    static char why[96];
    int p[2], st = 0, devnull, hung = 0;
    *idle = 0;
    pid_t pid;
    size_t got = 0;
    ssize_t n;
    double until, t0 = tf_now(), cpu0;
    struct rusage ru;
    fflush(stdout);
    if (pipe(p) < 0) return "pipe failed";
    fcntl(p[0], F_SETFD, FD_CLOEXEC);   /* children the test execs do not hold it */
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        pthread_t wd;
        close(p[0]);
        tf_out = p[1];
        devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);     /* the test's own check failures */
        if (devnull >= 0) close(devnull);
        if (k && pthread_create(&wd, NULL, tf_watchdog, NULL) == 0) pthread_detach(wd);
        tf_run_here(fn, k, v);
        tf_send();
        exit(0);                        /* atexit: LeakSanitizer looks, in sanitizer builds */
    }
    close(p[1]);
    /* The bound is kept here, not by an alarm in the child: a test may use SIGALRM. */
    until = t0 + seconds;
    while (got < sizeof *r) {
        struct pollfd pf;
        int left = (int)((until - tf_now()) * 1000);
        pf.fd = p[0];
        pf.events = POLLIN;
        if (left <= 0 || poll(&pf, 1, left) == 0) {
            hung = 1;
            kill(pid, SIGKILL);
            break;
        }
        n = read(p[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(p[0]);
    getrusage(RUSAGE_CHILDREN, &ru);
    cpu0 = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (hung) {
        double cpu;
        getrusage(RUSAGE_CHILDREN, &ru);
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6 - cpu0;
        *idle = cpu <= 0.5 * (tf_now() - t0);
        snprintf(why, sizeof why, *idle ? "hung (%d s without finishing)" : "spun (%d s, busy)",
                 seconds);
        return why;
    }
    if (WIFSIGNALED(st)) {
        snprintf(why, sizeof why, "crashed (signal %d)", WTERMSIG(st));
        return why;
    }
    if (got != sizeof *r) return "died without a result";
    if (WEXITSTATUS(st) != 0) {
        snprintf(why, sizeof why, "exit status %d (a sanitizer?)", WEXITSTATUS(st));
        return why;
    }
    return NULL;
}

/* The schedule: every k up to 24, then about 30% apart, and N itself. */
static long tf_schedule(long n, long *ks, long max) {
    long k = 1, c = 0;
    while (k <= n && c < max) {
        ks[c++] = k;
        k = k < 24 ? k + 1 : k + k / 3;
    }
    if (c && ks[c - 1] != n && n > 0 && c < max) ks[c++] = n;
    return c;
}

/* What must hold; returns why not, or NULL. */
static const char *tf_check(const tf_result *b, const tf_result *r) {
    static char buf[320];
    int seen = tf_mode != TF_CLOCK && r->kind == TF_SEEN;
    if (r->asserts > b->asserts) {
        snprintf(buf, sizeof buf, "ASYNC_ASSERT: %s", r->assert_msg);
        return buf;
    }
    if (r->waiting)                     /* cut short: its descriptors are still open */
        return seen ? NULL : "a task waits forever after a fault it cannot see";
    /* After an error it did not expect, a test may not close what it opened: count
       descriptors then only if the test went its own way (its checks pass). */
    if (r->fds > b->fds && (!seen || !r->failed)) {
        snprintf(buf, sizeof buf, "%d descriptors leaked", r->fds - b->fds);
        return buf;
    }
    if (r->leaked) return "an allocation leaked";
    if (r->stuck > b->stuck && b->stuck == 0 && !seen)
        return "a task was left blocked forever (run/block_on ended stuck)";
    if (r->early) return "a timer fired before its deadline";
    if (r->late > b->late + r->jumped) {
        snprintf(buf, sizeof buf, "a timer fired %.3f ms late (plain run %.3f, jumped %.3f)",
                 (double)r->late / 1e6, (double)b->late / 1e6, (double)r->jumped / 1e6);
        return buf;
    }
    if (r->failed && r->model && tf_mode == TF_CLOCK)
        return "the model's checks failed (they hold whatever the clock does)";
    if (r->failed && tf_mode == TF_SYS && r->kind == TF_SILENT && r->hit && !b->failed)
        return "the test's own checks failed after a fault the library absorbs";
    return NULL;
}

static void test_fault_run(void (*fn)(void)) {
    static const char *const names[] = {"", "clock", "alloc", "sys"};
    const char *mode = names[tf_mode], *why;
    static tf_result base, r;
    static long ks[4096];
    long nk, i, v, nv, stride = 1;
    double t0, per;
    int secs, idle;
    if (tf_mode == TF_PREEMPT) {        /* in process: the test's own checks hold */
        async_faults f;
        memset(&f, 0, sizeof f);
        f.preempt = tf_preempt;
        tf_seed = tf_one_k ? (unsigned)tf_one_k : 1u;
        async_faults_set(&f);
        test_run_once(fn);
        async_faults_set(NULL);
        tf_tests++;
        return;
    }
    if (tf_one_k) {                     /* one perturbation, here, with its output */
        tf_run_here(fn, tf_one_k, tf_one_v);
        printf("  %s at %d, variant %d: hit %d (kind %d), count %ld, "
               "stuck %ld, early %ld, late %.3f ms, asserts %d\n", mode, tf_one_k, tf_one_v,
               tf_res.hit, tf_res.kind, tf_res.count, tf_res.stuck, tf_res.early,
               (double)tf_res.late / 1e6, tf_res.asserts);
        return;
    }
    test_cur_failed = 0;
    tf_tests++;
    t0 = tf_now();
    if ((why = tf_run_child(fn, 0, 0, 120, &base, &idle)) != NULL) {
        FAIL_("%s: the plain run %s", mode, why);
        return;
    }
    per = tf_now() - t0;
    tf_idle = per * 2 > 0.1 ? per * 2 : 0.1;
    secs = per * 10 + 5 > 120 ? 120 : (int)(per * 10 + 5);
    nk = tf_schedule(base.count, ks, 4096);
    nv = tf_mode == TF_CLOCK ? 3 : tf_mode == TF_SYS ? 4 : 1;   /* sys: a guess per k */
    if (per * (double)nk * (double)nv > tf_budget)
        stride = (long)(per * (double)nk * (double)nv / tf_budget) + 1;
    for (i = 0; i < nk; i++) {
        long k = ks[i], kv = nv;
        if (stride > 1 && i > 3 && i % stride) continue;      /* spread over the budget */
        if (tf_mode == TF_SYS) {
            int n = 0;
            if (k <= TF_CALLS) async_sys_faults(base.calls[k - 1], &n);
            kv = n ? n : 1;
        }
        for (v = 0; v < kv; v++) {
            int seen = tf_mode == TF_ALLOC;
            if (tf_mode == TF_SYS && k <= TF_CALLS) {
                int n;
                const int *tab = async_sys_faults(base.calls[k - 1], &n);
                seen = tab && tf_kind(base.calls[k - 1], tab[v % n]) == TF_SEEN;
            }
            if ((why = tf_run_child(fn, k, v, secs, &r, &idle)) == NULL) {
                why = tf_check(&base, &r);
            } else if (idle && seen) {  /* waiting for what the fault took: allowed */
                why = NULL;
                r.failed = r.waiting = 1;
            }
            tf_runs++;
            if (!why && (r.failed || r.waiting)) tf_differ++;
            if (!why && r.waiting) tf_waits++;
            if (why) {
                FAIL_("%s at %ld, variant %ld: %s (reproduce: ASYNC_TEST_FAULTS=%s:%ld:%ld)",
                      mode, k, v, why, mode, k, v);
                return;
            }
        }
    }
}

static void test_fault_summary(void) {
    static const char *const names[] = {"", "clock", "alloc", "sys"};
    if (tf_mode == TF_PREEMPT) {
        printf("preempt: seed %u, %ld yields over %ld tests\n", tf_seed, tf_yields, tf_tests);
        return;
    }
    if (tf_mode <= 0 || tf_one_k) return;
    printf("%s: %ld perturbed runs over %ld tests; %ld went another way (the test's own "
           "checks differed, or it waited for what a fault took: %ld), as allowed\n",
           names[tf_mode], tf_runs, tf_tests, tf_differ, tf_waits);
}
#endif
