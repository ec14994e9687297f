/* faults.h - the perturbation modes of the test suites (included by test.h).

   A suite built with -DTEST_FAULTS (make test builds its C99 form so, make sanitize
   its gcc form) runs as usual, unless ASYNC_TEST_FAULTS names a mode:
     clock   the runtime's clock jumps forward at its k-th reading, by a little less
             than, exactly, and a little more than the wait to the next deadline
             (1 ms and 5 ms when no timer is pending)
     alloc   the k-th allocation fails (SQLite's method)
     sys     the k-th system call of the reactor and the I/O layer fails, with each
             thing that can go wrong there (EINTR, EAGAIN, a short transfer,
             ECONNRESET, EPIPE, EMFILE, ENOMEM...: async_sys_faults)
   Each test then runs once in a child process to count its readings, allocations
   or calls (N), and again, in a fresh child each time, for every k of a schedule up
   to N (every k up to 24, then spaced out) and every variant. A test whose own
   checks fail under a perturbation is not at fault (a timeout may now win, an
   allocation may now fail): what is checked is what must hold whatever the world
   does, compared with the unperturbed run:
     - no crash, and no hang or spin (each child has a time bound);
     - no ASYNC_ASSERT beyond those of the plain run;
     - nothing leaked: allocations, descriptors;
     - no task left blocked forever (a run or block_on that ends stuck) where the
       plain run never ends so (a test that ends stuck on purpose, as the models
       do, may end so more often: a timeout that fires earlier changes who waits);
     - clock: a model's own checks (the tests/..._model.h headers) hold, as they hold for any
       schedule and any timing;
     - clock: no timer fires before its deadline, and on the paused clock none
       later than the plain run's worst lateness plus the jumps made.
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
#include <sys/wait.h>

enum { TF_NONE = 0, TF_CLOCK = 1, TF_ALLOC = 2, TF_SYS = 3 };
#define TF_CALLS 4096                   /* calls recorded, to pick each k's faults */

/* What a run saw: written by the child into a pipe, read by the parent. */
typedef struct {
    long count;                         /* readings, allocations or calls seen */
    long stuck;                         /* runs that ended with tasks blocked forever */
    long early;                         /* timers fired before their deadline */
    async_time late;                    /* worst lateness of a timer */
    async_time jumped;                  /* how far the clock was moved */
    int asserts, leaked, fds, failed, hit, model;
    char assert_msg[256];
    unsigned char calls[TF_CALLS];      /* sys: the kind of each call, in order */
} tf_result;

static int tf_mode = -1, tf_one_k, tf_one_v;
static double tf_budget = 1.0;
static long tf_at, tf_variant;
static volatile long tf_count;
static tf_result tf_res;
static long tf_runs, tf_differ, tf_tests;

static long tf_next(void) {             /* atomically: pool threads call the sys hook */
    return __atomic_add_fetch(&tf_count, 1, __ATOMIC_SEQ_CST);
}

static async_time tf_clock(void *user, async_runtime *rt, async_time now) {
    async_time d, j, next;
    (void)user;
    if (tf_mode != TF_CLOCK || tf_next() != tf_at) return 0;
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
    if (tf_mode != TF_ALLOC || tf_next() != tf_at) return 0;
    tf_res.hit = 1;
    return 1;
}

static int tf_sys(void *user, int call, int fd, size_t *len) {
    long k;
    int n, f;
    const int *tab;
    (void)user; (void)fd;
    if (tf_mode != TF_SYS) return 0;
    k = tf_next();
    if (k <= TF_CALLS) tf_res.calls[k - 1] = (unsigned char)call;
    if (k != tf_at || !(tab = async_sys_faults(call, &n))) return 0;
    tf_res.hit = 1;
    f = tab[tf_variant % n];
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

static double tf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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
        if (e && strchr(e, ':')) sscanf(strchr(e, ':'), ":%d:%d", &tf_one_k, &tf_one_v);
        if (b) tf_budget = atof(b);
    }
    return tf_mode != TF_NONE;
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

/* The same in a child process; returns 0, or why the child did not finish. */
static const char *tf_run_child(void (*fn)(void), long k, long v, int seconds, tf_result *r) {
    static char why[64];
    int p[2], st, devnull;
    pid_t pid;
    size_t got = 0;
    ssize_t n;
    int hung = 0;
    double until;
    fflush(stdout);
    if (pipe(p) < 0) return "pipe failed";
    fcntl(p[0], F_SETFD, FD_CLOEXEC);   /* children the test execs do not hold it */
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        close(p[0]);
        devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);     /* the test's own check failures */
        if (devnull >= 0) close(devnull);
        tf_run_here(fn, k, v);
        if (write(p[1], &tf_res, sizeof tf_res) != (ssize_t)sizeof tf_res) _exit(3);
        exit(0);                        /* atexit: LeakSanitizer looks, in sanitizer builds */
    }
    close(p[1]);
    /* The bound is kept here, not by an alarm in the child: a test may use SIGALRM. */
    until = tf_now() + seconds;
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
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (hung) {
        snprintf(why, sizeof why, "hung or spun (%d s)", seconds);
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

static void tf_check(const tf_result *b, const tf_result *r, long k, long v, const char *mode) {
    const char *what = NULL;
    char buf[320];
    if (r->asserts > b->asserts) {
        snprintf(buf, sizeof buf, "ASYNC_ASSERT: %s", r->assert_msg);
        what = buf;
    } else if (r->leaked) {
        what = "an allocation leaked";
    } else if (r->fds > b->fds) {
        snprintf(buf, sizeof buf, "%d descriptors leaked", r->fds - b->fds);
        what = buf;
    } else if (r->stuck > b->stuck && b->stuck == 0) {
        what = "a task was left blocked forever (run/block_on ended stuck)";
    } else if (r->failed && r->model && tf_mode == TF_CLOCK) {
        what = "the model's checks failed (they hold whatever the clock does)";
    } else if (r->early) {
        what = "a timer fired before its deadline";
    } else if (r->late > b->late + r->jumped) {
        snprintf(buf, sizeof buf, "a timer fired %.3f ms late (plain run %.3f, jumped %.3f)",
                 (double)r->late / 1e6, (double)b->late / 1e6, (double)r->jumped / 1e6);
        what = buf;
    }
    if (what)
        FAIL_("%s at %ld, variant %ld: %s (reproduce: ASYNC_TEST_FAULTS=%s:%ld:%ld)",
              mode, k, v, what, mode, k, v);
}

static void test_fault_run(void (*fn)(void)) {
    static const char *const names[] = {"", "clock", "alloc", "sys"};
    const char *mode = names[tf_mode], *why;
    static tf_result base, r;
    static long ks[4096];
    long nk, i, v, nv, runs = 0, stride = 1;
    double t0, per;
    int secs;
    if (tf_one_k) {                     /* one perturbation, here, with its output */
        tf_run_here(fn, tf_one_k, tf_one_v);
        printf("  %s at %d, variant %d: hit %d, count %ld, stuck %ld, early %ld, late %.3f ms, "
               "asserts %d\n", mode, tf_one_k, tf_one_v, tf_res.hit, tf_res.count,
               tf_res.stuck, tf_res.early, (double)tf_res.late / 1e6, tf_res.asserts);
        return;
    }
    test_cur_failed = 0;
    tf_tests++;
    t0 = tf_now();
    if ((why = tf_run_child(fn, 0, 0, 60, &base)) != NULL) {
        FAIL_("%s: the plain run %s", mode, why);
        return;
    }
    per = tf_now() - t0;
    secs = per * 20 + 5 > 60 ? 60 : (int)(per * 20 + 5);
    nk = tf_schedule(base.count, ks, 4096);
    nv = tf_mode == TF_CLOCK ? 3 : 1;
    if (tf_mode == TF_SYS) nv = 8;      /* at most; each k has its own list */
    if (per * (double)nk * (double)nv > tf_budget)
        stride = (long)(per * (double)nk * (double)nv / tf_budget) + 1;
    for (i = 0; i < nk; i++) {
        long k = ks[i], kv = nv;
        if (stride > 1 && k > 24 && i % stride) continue;
        if (stride > 1 && k <= 24 && k % stride && k > 3) continue;
        if (tf_mode == TF_SYS) {
            int n = 0;
            if (k > TF_CALLS) kv = 1;
            else async_sys_faults(base.calls[k - 1], &n), kv = n;
        }
        for (v = 0; v < kv; v++) {
            if ((why = tf_run_child(fn, k, v, secs, &r)) != NULL) {
                FAIL_("%s at %ld, variant %ld: %s (reproduce: ASYNC_TEST_FAULTS=%s:%ld:%ld)",
                      mode, k, v, why, mode, k, v);
                return;
            }
            runs++;
            if (r.failed) tf_differ++;
            tf_check(&base, &r, k, v, mode);
            if (test_cur_failed) return;
        }
    }
    tf_runs += runs;
}

static void test_fault_summary(void) {
    static const char *const names[] = {"", "clock", "alloc", "sys"};
    if (tf_mode <= 0 || tf_one_k) return;
    printf("%s: %ld perturbed runs over %ld tests; in %ld the test's own checks "
           "differed (allowed)\n", names[tf_mode], tf_runs, tf_tests, tf_differ);
}
#endif
