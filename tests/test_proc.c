/* Signals (subscriptions, coalescing, chaining to the handler that was there before,
   delivery from another thread) and child processes (pipes, exit status, kill,
   exec errors, cwd and environment, cancel-safe waits, no zombies). */
#include "test.h"
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <unistd.h>
#include <time.h>
#ifdef _WIN32
/* Windows (mingw-w64, Wine): the signals there are SIGINT, SIGTERM and SIGBREAK, raised
   (kill to oneself is raise); SIGUSR1 is SIGBREAK here, SIGUSR2 SIGINT. No child
   processes yet: spawn says ASYNC_ENOSYS, the other child tests are skipped. */
#include <windows.h>
#define SIGUSR1 SIGBREAK
#define SIGUSR2 SIGINT
#define kill(pid, sig) ((void)(pid), raise(sig))
#define alarm(s) ((void)(s))            /* the run's timeout is the hang guard */
#define SKIP_WIN(why) do { printf("  skip %s on Windows: %s\n", test_cur, why); return; \
    } while (0)
#else
#include <sys/wait.h>
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

/* Run until t has finished, at most ~10 s. */
static int run_until(async_task *t) {
    int i;
    for (i = 0; i < 1000 && !async_task_is_finished(t); i++)
        if (async_runtime_step(&rt, MS(10)) < 0) return -1;
    return async_task_is_finished(t) ? 0 : -1;
}

/* ---- signals -------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_signal *s;
    int got[4], n, want, rc;
} sig_waiter;

static int sig_waiter_run(async_task *t) {
    sig_waiter *f = (sig_waiter *)t;
    ASYNC_BEGIN(t);
    for (f->n = 0; f->n < f->want; f->n++) {
        ASYNC_AWAIT(f->rc, async_signal_recv(t, f->s));
        if (f->rc < 0) break;
        f->got[f->n] = f->rc;
    }
    ASYNC_END(f->n);
}

TEST(signal_delivery_wakes_subscribers_and_coalesces) {
    static sig_waiter a, b;
    async_signal sa, sb;
    ZERO(a); ZERO(b);
    rt_real();
    ASSERT_EQ(async_signal_init(&sa, &rt, SIGUSR1), 0);
    ASSERT_EQ(async_signal_init(&sb, &rt, SIGUSR1), 0);
    a.s = &sa;
    b.s = &sb;
    a.want = b.want = 2;
    async_task_spawn(&rt, &a.task, sig_waiter_run, "a");
    async_task_spawn(&rt, &b.task, sig_waiter_run, "b");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);   /* both wait */
    kill(getpid(), SIGUSR1);                    /* the process lives on */
    kill(getpid(), SIGUSR1);                    /* coalesced with the first */
    ASSERT_EQ(async_runtime_step(&rt, MS(1000)), 2);
    ASSERT_EQ(a.n, 1);
    ASSERT_EQ(a.got[0], SIGUSR1);
    ASSERT_EQ(b.n, 1);
    ASSERT_EQ(async_runtime_step(&rt, 0), 0);   /* nothing more: they wait again */
    raise(SIGUSR1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.n, 2);
    ASSERT_EQ(b.n, 2);
    ASSERT_EQ(async_signal_destroy(&sa), 0);
    ASSERT_EQ(async_signal_destroy(&sb), 0);
    ASSERT_EQ(async_signal_destroy(&sb), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

static volatile sig_atomic_t old_handler_calls;
static void old_handler(int signo) { (void)signo; old_handler_calls++; }

TEST(signal_chains_to_the_previous_handler_and_restores_it) {
    static sig_waiter a;
#ifndef _WIN32
    struct sigaction mine, now;
#endif
    async_signal s;
    ZERO(a);
    rt_real();
#ifdef _WIN32
    signal(SIGUSR2, old_handler);
#else
    ZERO(mine);
    mine.sa_handler = old_handler;
    sigemptyset(&mine.sa_mask);
    sigaction(SIGUSR2, &mine, NULL);
#endif
    old_handler_calls = 0;
    ASSERT_EQ(async_signal_init(&s, &rt, SIGUSR2), 0);
    a.s = &s;
    a.want = 1;
    async_task_spawn(&rt, &a.task, sig_waiter_run, "a");
    raise(SIGUSR2);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.got[0], SIGUSR2);
    ASSERT_EQ(old_handler_calls, 1);            /* the other user still saw it */
    ASSERT_EQ(async_signal_destroy(&s), 0);
#ifdef _WIN32
    CHECK(signal(SIGUSR2, old_handler) == old_handler);       /* put back as it was */
#else
    sigaction(SIGUSR2, NULL, &now);
    CHECK(now.sa_handler == old_handler);       /* put back as it was */
#endif
    raise(SIGUSR2);
    ASSERT_EQ(old_handler_calls, 2);
    signal(SIGUSR2, SIG_DFL);
    async_runtime_destroy(&rt);
}

static void *kill_from_thread(void *p) {
    (void)p;
    sleep_ms(20);
    kill(getpid(), SIGTERM);
    return NULL;
}

TEST(sigint_and_sigterm_from_another_thread) {
    static sig_waiter a, b;
    async_signal si, st;
    pthread_t th;
    ZERO(a); ZERO(b);
    rt_real();
    ASSERT_EQ(async_signal_init(&si, &rt, SIGINT), 0);
    ASSERT_EQ(async_signal_init(&st, &rt, SIGTERM), 0);
    if (test_cur_failed) {              /* (a system call failed: tests/faults.h) */
        async_signal_destroy(&si);
        async_signal_destroy(&st);
        async_runtime_destroy(&rt);
        return;                         /* the signals below would end the process */
    }
    a.s = &si;
    b.s = &st;
    a.want = b.want = 1;
    async_task_spawn(&rt, &b.task, sig_waiter_run, "sigterm");
    pthread_create(&th, NULL, kill_from_thread, NULL);
    ASSERT_EQ(async_runtime_run(&rt), 0);       /* woken by the other thread's kill */
    pthread_join(th, NULL);
    ASSERT_EQ(b.got[0], SIGTERM);
    async_task_spawn(&rt, &a.task, sig_waiter_run, "ctrl-c");
    kill(getpid(), SIGINT);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.got[0], SIGINT);
    async_signal_destroy(&si);
    async_signal_destroy(&st);
    async_runtime_destroy(&rt);
}

TEST(signal_bad_input_and_cancel) {
    static sig_waiter a;
    async_signal s;
    ZERO(a);
    rt_real();
#ifdef _WIN32               /* no SIGKILL there; a POSIX-only signal: ASYNC_ENOSYS */
    ASSERT_EQ(async_signal_init(&s, &rt, SIGABRT), ASYNC_ENOSYS);
    ASSERT_EQ(s.slot, -1);
    ASSERT_EQ(async_signal_destroy(&s), ASYNC_EINVAL);
#else
    ASSERT_EQ(async_signal_init(&s, &rt, SIGKILL), ASYNC_EINVAL);
    ASSERT_EQ(async_signal_init(&s, &rt, SIGSTOP), ASYNC_EINVAL);
#endif
    ASSERT_EQ(async_signal_init(&s, &rt, SIGSEGV), ASYNC_EINVAL);
    ASSERT_EQ(async_signal_init(&s, &rt, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_signal_init(&s, &rt, 100000), ASYNC_EINVAL);
    ASSERT_EQ(async_signal_init(&s, NULL, SIGUSR1), ASYNC_EINVAL);
    ASSERT_EQ(async_signal_init(&s, &rt, SIGUSR1), 0);
    a.s = &s;
    a.want = 1;
    async_task_spawn(&rt, &a.task, sig_waiter_run, "a");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(async_signal_destroy(&s), ASYNC_EBUSY);  /* a task waits on it */
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.task.u.result, ASYNC_ECANCELED);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_signal_destroy(&s), 0);
    async_runtime_destroy(&rt);
}

/* ---- child processes ------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_child *c;
    async_waiter w;
    char out[256];
    const char *input;
    int n, rc, len;
} child_driver;

/* write input (if any) to its stdin and close it, read all of stdout, wait */
static int child_driver_run(async_task *t) {
    child_driver *f = (child_driver *)t;
    ASYNC_BEGIN(t);
    if (f->input) {
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->c->in, &f->w, f->input, strlen(f->input)));
        async_io_close(&f->c->in);
    }
    if (async_io_fd(&f->c->out) >= 0) {
        for (;;) {
            ASYNC_AWAIT(f->n, async_io_read(t, &f->c->out, &f->w, f->out + f->len,
                                            sizeof f->out - 1 - (size_t)f->len));
            if (f->n <= 0) break;
            f->len += f->n;
        }
    }
    ASYNC_AWAIT(f->rc, async_child_wait(t, f->c));
    ASYNC_END(f->rc);
}

#ifndef _WIN32
static int no_children_left(void) {
    int i;
    /* Only look (WNOWAIT): a zombie seen here may be one the SIGCHLD handler, maybe
       running on another thread, is about to reap. Passes once none is left; a
       zombie nobody reaps within 2 s fails. */
    for (i = 0; i < 200; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
            return 1;
        sleep_ms(10);
    }
    return 0;
}
#endif

#ifdef _WIN32
/* Windows: the children are this program again (windows_child_main): stdout and the
   exit code, stdin through the relay, cwd and environment, a program not found,
   kill, destroy with kill_on_destroy and without (it runs on). */
static char self_exe[MAX_PATH];
static int windows_child_main(int argc, char **argv) {
    char buf[256];
    size_t n;
    if (!strcmp(argv[1], "--child-echo")) {             /* argv[2] on stdout, exit 3 */
        printf("%s", argc > 2 ? argv[2] : "");
        return 3;
    }
    if (!strcmp(argv[1], "--child-cat")) {              /* stdin to stdout, cwd, env */
        const char *e = getenv("CHILD_X");
        char cwd[MAX_PATH];
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
        GetCurrentDirectoryA(sizeof cwd, cwd);
        printf("|%s|%s", e ? e : "", strrchr(cwd, '\\') ? strrchr(cwd, '\\') + 1 : cwd);
        return 0;
    }
    if (!strcmp(argv[1], "--child-sleep")) {
        Sleep(20000);
        return 0;
    }
    return 9;
}
static void windows_children(void) {
    static child_driver d;
    async_child c;
    async_child_opts o;
    char arg_quoted[] = "hello \"quoted\" child";
    char *av1[] = {self_exe, (char *)"--child-echo", arg_quoted, NULL};
    char *av2[] = {self_exe, (char *)"--child-cat", NULL};
    char *av3[] = {self_exe, (char *)"--child-sleep", NULL};
    char *env[] = {(char *)"CHILD_X=42", (char *)"SYSTEMROOT=C:\\windows", NULL};
    DWORD t0;
    long live0 = test_allocs - test_frees;
    int k;
    ZERO(d); ZERO(o); ZERO(c);
    rt_real();
    o.out = ASYNC_STDIO_PIPE;
    ASSERT_EQ(async_child_spawn(&rt, &c, self_exe, av1, &o), 0);
    CHECK(c.pid > 0);
    d.c = &c;
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(run_until(&d.task), 0);
    ASSERT_EQ(d.rc, 0);
    ASSERT_STR(d.out, "hello \"quoted\" child");     /* argv quoted and read back */
    ASSERT_EQ(c.exit_code, 3);
    ASSERT_EQ(c.term_signal, 0);
    ASSERT_EQ(async_child_destroy(&c), 0);
    /* stdin through the relay, the environment, the working directory */
    ZERO(d); ZERO(o);
    o.in = o.out = ASYNC_STDIO_PIPE;
    o.env = env;
    o.cwd = "C:\\windows";
    ASSERT_EQ(async_child_spawn(&rt, &c, self_exe, av2, &o), 0);
    d.c = &c;
    d.input = "to and fro";
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(run_until(&d.task), 0);
    ASSERT_EQ(d.rc, 0);
    ASSERT_STR(d.out, "to and fro|42|windows");
    ASSERT_EQ(c.exit_code, 0);
    ASSERT_EQ(async_child_destroy(&c), 0);
    /* not found: the error, nothing held */
    ZERO(o);
    o.out = ASYNC_STDIO_PIPE;
    ASSERT_EQ(async_child_spawn(&rt, &c, "no-such-program-here", av1, &o), -ENOENT);
    ASSERT_EQ(c.pid, 0);
    ASSERT_EQ(async_io_fd(&c.out), ASYNC_EINVAL);
    ASSERT_EQ(async_child_destroy(&c), 0);
    /* kill, then the wait says which signal ended it */
    ASSERT_EQ(async_child_spawn(&rt, &c, self_exe, av3, NULL), 0);
    ASSERT_EQ(async_child_try_wait(&c), 0);             /* it runs */
    ASSERT_EQ(async_child_kill(&c, 0), 0);
    ASSERT_EQ(async_child_kill(&c, SIGTERM), 0);
    ZERO(d);
    d.c = &c;
    t0 = GetTickCount();
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(run_until(&d.task), 0);
    CHECK(GetTickCount() - t0 < 15000);                 /* not the 20 s sleep */
    ASSERT_EQ(c.term_signal, SIGTERM);
    ASSERT_EQ(c.exit_code, -1);
    ASSERT_EQ(async_child_kill(&c, SIGTERM), ASYNC_ESTATE);
    ASSERT_EQ(async_child_destroy(&c), 0);
    /* destroyed while it runs: killed when asked, else it runs on (its waiter lets go) */
    o.kill_on_destroy = 1;
    o.out = 0;
    ASSERT_EQ(async_child_spawn(&rt, &c, self_exe, av3, &o), 0);
    {
        HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)c.pid);
        ASSERT_EQ(async_child_destroy(&c), 0);
        CHECK(h != NULL && WaitForSingleObject(h, 5000) == WAIT_OBJECT_0);  /* it is gone */
        if (h) CloseHandle(h);
    }
    o.kill_on_destroy = 0;
    ASSERT_EQ(async_child_spawn(&rt, &c, self_exe, av3, &o), 0);
    {
        HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_TERMINATE, FALSE, (DWORD)c.pid);
        ASSERT_EQ(async_child_destroy(&c), 0);
        CHECK(h != NULL && WaitForSingleObject(h, 100) == WAIT_TIMEOUT);   /* runs on */
        if (h) {
            TerminateProcess(h, 0);
            CloseHandle(h);
        }
    }
    ASSERT_EQ(async_child_spawn(&rt, NULL, self_exe, av1, NULL), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
    /* the threads let go of what they hold (relays: at once; the waiter of the child
       left running: once it is gone) before the leak check */
    for (k = 0; k < 500 && test_allocs - test_frees != live0; k++) Sleep(10);
}
#endif

TEST(child_stdout_and_exit_status) {
#ifdef _WIN32
    windows_children();
    return;
#else
    static child_driver d;
    async_child c;
    async_child_opts o;
    char *argv[] = {(char *)"echo", (char *)"hello", (char *)"child", NULL};
    char *argv3[] = {(char *)"sh", (char *)"-c", (char *)"exit 3", NULL};
    ZERO(d); ZERO(o); ZERO(c);
    rt_real();
    o.out = ASYNC_STDIO_PIPE;
    ASSERT_EQ(async_child_spawn(&rt, &c, "echo", argv, &o), 0);   /* found on PATH */
    CHECK(c.pid > 0);
    d.c = &c;
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(d.rc, 0);
    ASSERT_STR(d.out, "hello child\n");
    ASSERT_EQ(c.exit_code, 0);
    ASSERT_EQ(c.term_signal, 0);
    ASSERT_EQ(async_child_try_wait(&c), 1);
    ASSERT_EQ(async_child_kill(&c, SIGTERM), ASYNC_ESTATE);   /* reaped: pid not ours */
    ASSERT_EQ(async_child_destroy(&c), 0);
    ZERO(d);
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", argv3, NULL), 0);
    d.c = &c;
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.exit_code, 3);
    ASSERT_EQ(async_child_destroy(&c), 0);
    CHECK(no_children_left());
    async_runtime_destroy(&rt);
#endif
}

TEST(child_stdin_pipe_cwd_and_env) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static child_driver d;
    async_child c;
    async_child_opts o;
    char *cat[] = {(char *)"cat", NULL};
    char *sh[] = {(char *)"sh", (char *)"-c", (char *)"pwd; echo \"$FOO\"", NULL};
    char *env[] = {(char *)"FOO=bar baz", (char *)"PATH=/usr/bin:/bin", NULL};
    ZERO(d); ZERO(o); ZERO(c);
    rt_real();
    o.in = o.out = ASYNC_STDIO_PIPE;
    o.err = ASYNC_STDIO_NULL;
    ASSERT_EQ(async_child_spawn(&rt, &c, "cat", cat, &o), 0);
    d.c = &c;
    d.input = "through cat\n";
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(d.out, "through cat\n");
    ASSERT_EQ(c.exit_code, 0);
    async_child_destroy(&c);
    ZERO(d);
    o.in = ASYNC_STDIO_NULL;
    o.cwd = "/tmp";
    o.env = env;
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", sh, &o), 0);
    d.c = &c;
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(d.out, "/tmp\nbar baz\n");
    async_child_destroy(&c);
    CHECK(no_children_left());
    async_runtime_destroy(&rt);
#endif
}

TEST(child_exec_errors_leave_nothing_behind) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    async_child c;
    async_child_opts o;
    char *argv[] = {(char *)"x", NULL};
    char *empty[] = {NULL};
    ZERO(c); ZERO(o);
    rt_real();
    o.out = ASYNC_STDIO_PIPE;
    ASSERT_EQ(async_child_spawn(&rt, &c, "no-such-program-4711", argv, &o), -ENOENT);
    ASSERT_EQ(async_child_spawn(&rt, &c, "/etc/passwd", argv, &o), -EACCES);  /* from exec */
    ASSERT_EQ(c.pid, 0);
    ASSERT_EQ(async_io_fd(&c.out), ASYNC_EINVAL);              /* no pipe left open */
    o.cwd = "/no/such/dir";
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", argv, &o), -ENOENT);      /* chdir */
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", empty, NULL), ASYNC_EINVAL);
    o.cwd = NULL;
    o.out = 7;
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", argv, &o), ASYNC_EINVAL);
    CHECK(rt.io.n <= 1);                        /* nothing registered */
    CHECK(no_children_left());
    async_runtime_destroy(&rt);
#endif
}

typedef struct {
    async_task task;
    async_child *c;
    async_timer timer;
    int rc, rc2;
} timed_wait;

static int timed_wait_run(async_task *t) {
    timed_wait *f = (timed_wait *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, MS(50), async_child_wait(t, f->c));
    async_child_kill(f->c, SIGTERM);            /* still running: the wait was cancel safe */
    ASYNC_AWAIT(f->rc2, async_child_wait(t, f->c));
    ASYNC_END(0);
}

TEST(kill_after_a_timed_out_wait) {
#ifdef _WIN32
    (void)timed_wait_run;
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static timed_wait tw;
    async_child c;
    char *argv[] = {(char *)"sleep", (char *)"10", NULL};
    ZERO(tw); ZERO(c);
    rt_real();
    ASSERT_EQ(async_child_spawn(&rt, &c, "sleep", argv, NULL), 0);
    tw.c = &c;
    async_task_spawn(&rt, &tw.task, timed_wait_run, "waiter");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(tw.rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(tw.rc2, 0);
    ASSERT_EQ(c.exit_code, -1);
    ASSERT_EQ(c.term_signal, SIGTERM);
    async_child_destroy(&c);
    CHECK(no_children_left());
    async_runtime_destroy(&rt);
#endif
}

TEST(children_dropped_without_a_wait_are_reaped) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    async_child a, b;
    async_child_opts o;
    char *t[] = {(char *)"true", NULL};
    char *s[] = {(char *)"sleep", (char *)"10", NULL};
    ZERO(a); ZERO(b); ZERO(o);
    rt_real();
    ASSERT_EQ(async_child_spawn(&rt, &a, "true", t, NULL), 0);
    o.kill_on_destroy = 1;
    ASSERT_EQ(async_child_spawn(&rt, &b, "sleep", s, &o), 0);
    ASSERT_EQ(async_child_destroy(&a), 0);      /* may still be running: an orphan */
    ASSERT_EQ(async_child_destroy(&b), 0);      /* killed */
    CHECK(no_children_left());                  /* the SIGCHLD handler reaped both */
    async_runtime_destroy(&rt);
#endif
}

TEST(child_sigpipe_is_default_again) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static child_driver d;
    async_io rd, wr;
    async_child c;
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"kill -PIPE $$; echo survived", NULL};
    ZERO(d); ZERO(c); ZERO(rd); ZERO(wr);
    rt_real();
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0); /* the reactor: SIGPIPE ignored here */
    ASSERT_EQ(async_child_spawn(&rt, &c, "sh", argv, NULL), 0);
    d.c = &c;
    async_task_spawn(&rt, &d.task, child_driver_run, "driver");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.term_signal, SIGPIPE);          /* as if started from a shell */
    async_child_destroy(&c);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
#endif
}

enum { NKIDS = 40 };

TEST(many_children_at_once) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static child_driver d[NKIDS];
    static async_child c[NKIDS];
    static char code[NKIDS][24];
    int i, ok = 0;
    ZERO(d); ZERO(c);
    rt_real();
    for (i = 0; i < NKIDS; i++) {
        char *argv[4];
        snprintf(code[i], sizeof code[i], "exit %d", i);
        argv[0] = (char *)"sh";
        argv[1] = (char *)"-c";
        argv[2] = code[i];
        argv[3] = NULL;
        ASSERT_EQ(async_child_spawn(&rt, &c[i], "sh", argv, NULL), 0);
        d[i].c = &c[i];
        async_task_spawn(&rt, &d[i].task, child_driver_run, "driver");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < NKIDS; i++) ok += c[i].exit_code == i;
    ASSERT_EQ(ok, NKIDS);
    for (i = 0; i < NKIDS; i++) async_child_destroy(&c[i]);
    CHECK(no_children_left());
    (void)run_until;
    async_runtime_destroy(&rt);
#endif
}

/* ---- phased shutdown ------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_cancel_token *root;
    async_waiter w;
    async_timer timer;
    async_time linger;                          /* after the cancel; 0: ignores it */
    int rc, cleaned;
} worker;

static int worker_run(async_task *t) {
    worker *f = (worker *)t;
    ASYNC_BEGIN(t);
    if (!f->linger) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_TIME_NEVER)); /* deaf */
    } else {
        ASYNC_AWAIT(f->rc, async_cancel_token_wait(t, f->root, &f->w));
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->linger));  /* finishing up */
    }
    ASYNC_CLEANUP();
    f->cleaned = 1;
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    async_shutdown *sd;
    int rc;
    async_time started;
} supervisor;

static int supervisor_run(async_task *t) {
    supervisor *f = (supervisor *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, f->sd));
    ASYNC_END(f->rc);
}

static char aborted_names[128];
static void note_abort(async_task *t, void *user) {
    (void)user;
    snprintf(aborted_names + strlen(aborted_names), sizeof aborted_names - strlen(aborted_names),
             "%s ", async_task_name(t));
}

typedef struct {
    async_task task;
    async_shutdown *sd;
    async_timer timer;
    int rc;
} requester;

static int requester_run(async_task *t) {
    requester *f = (requester *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(100)));
    async_shutdown_request(f->sd);
    ASYNC_END(0);
}

TEST(shutdown_drains_then_aborts_the_rest) {
    static worker quick, slow, deaf;
    static supervisor sup;
    static requester req;
    async_cancel_token root;
    async_joinset set;
    async_shutdown sd;
    async_pool pool;
    async_time t0;
    ZERO(quick); ZERO(slow); ZERO(deaf); ZERO(sup); ZERO(req);
    aborted_names[0] = 0;
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    async_cancel_token_init(&root);
    async_joinset_init(&set, &rt);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, &root, &set, &pool, ASYNC_SEC(1)), 0);
    sd.on_abort = note_abort;
    quick.root = slow.root = deaf.root = &root;
    quick.linger = MS(200);                     /* ends within the grace period */
    slow.linger = ASYNC_SEC(5);                 /* does not */
    async_joinset_spawn(&set, &quick.task, worker_run, "quick");
    async_joinset_spawn(&set, &slow.task, worker_run, "slow");
    async_joinset_spawn(&set, &deaf.task, worker_run, "deaf");
    sup.sd = req.sd = &sd;
    async_task_spawn(&rt, &sup.task, supervisor_run, "supervisor");
    async_task_spawn(&rt, &req.task, requester_run, "requester");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(sup.rc, 2);                       /* slow and deaf were aborted */
    ASSERT_EQ(sd.aborted, 2);
    ASSERT_EQ(sd.drained, 1);
    ASSERT_EQ(sd.signo, 0);                     /* by request */
    ASSERT_HAS(aborted_names, "slow ");        /* each told once, in the runtime's order */
    ASSERT_HAS(aborted_names, "deaf ");
    ASSERT_EQ(strlen(aborted_names), 10);
    ASSERT_EQ(async_cancel_token_is_cancelled(&root), 1);
    ASSERT_EQ(async_time_now(&rt) - t0, MS(100) + ASYNC_SEC(1));   /* request + grace */
    ASSERT_EQ(quick.cleaned + slow.cleaned + deaf.cleaned, 3);
    ASSERT_EQ(async_joinset_len(&set), 0);
    CHECK(pool.impl == NULL);                   /* the pool was stopped */
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(async_shutdown_destroy(&sd), 0);
    async_joinset_destroy(&set);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
}

/* A grace period of ASYNC_TIME_NEVER waits for every task: the deadline used to be
   now + grace, which wrapped around to the past, and everything was aborted at once. */
TEST(shutdown_with_endless_grace_waits_for_all) {
    static worker quick, slow;
    static supervisor sup;
    static requester req;
    async_cancel_token root;
    async_joinset set;
    async_shutdown sd;
    async_time t0;
    ZERO(quick); ZERO(slow); ZERO(sup); ZERO(req);
    aborted_names[0] = 0;
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    async_cancel_token_init(&root);
    async_joinset_init(&set, &rt);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, &root, &set, NULL, ASYNC_TIME_NEVER), 0);
    sd.on_abort = note_abort;
    quick.root = slow.root = &root;
    quick.linger = MS(200);
    slow.linger = ASYNC_SEC(5);
    async_joinset_spawn(&set, &quick.task, worker_run, "quick");
    async_joinset_spawn(&set, &slow.task, worker_run, "slow");
    sup.sd = req.sd = &sd;
    async_task_spawn(&rt, &sup.task, supervisor_run, "supervisor");
    async_task_spawn(&rt, &req.task, requester_run, "requester");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(sup.rc, 0);                       /* nobody aborted */
    ASSERT_EQ(sd.aborted, 0);
    ASSERT_EQ(sd.drained, 2);
    ASSERT_STR(aborted_names, "");
    ASSERT_EQ(async_time_now(&rt) - t0, MS(100) + ASYNC_SEC(5));   /* the slow one's end */
    ASSERT_EQ(async_shutdown_destroy(&sd), 0);
    async_joinset_destroy(&set);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
}

TEST(shutdown_on_sigterm_when_all_drain_in_time) {
    static worker a, b;
    static supervisor sup;
    async_cancel_token root;
    async_joinset set;
    async_shutdown sd;
    ZERO(a); ZERO(b); ZERO(sup);
    rt_real();
    async_cancel_token_init(&root);
    async_joinset_init(&set, &rt);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, &root, &set, NULL, ASYNC_SEC(30)), 0);
    if (test_cur_failed) {              /* (a system call failed: tests/faults.h) */
        async_joinset_destroy(&set);
        async_runtime_destroy(&rt);
        return;                         /* the SIGTERM below would end the process */
    }
    a.root = b.root = &root;
    a.linger = MS(1);
    b.linger = MS(5);
    async_joinset_spawn(&set, &a.task, worker_run, "a");
    async_joinset_spawn(&set, &b.task, worker_run, "b");
    sup.sd = &sd;
    async_task_spawn(&rt, &sup.task, supervisor_run, "supervisor");
    ASSERT_EQ(async_runtime_step(&rt, 0), 3);   /* everyone waits */
    kill(getpid(), SIGTERM);                    /* the process is not ended by it */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(sup.rc, 0);
    ASSERT_EQ(sd.signo, SIGTERM);
    ASSERT_EQ(sd.drained, 2);
    ASSERT_EQ(rt.ntimers, 0);                   /* the 30 s deadline was disarmed */
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_shutdown_destroy(&sd), 0);
    async_joinset_destroy(&set);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
}

TEST(shutdown_supervisor_aborted_while_waiting) {
    static supervisor sup;
    async_shutdown sd;
    ZERO(sup);
    rt_real();
    ASSERT_EQ(async_shutdown_init(&sd, &rt, NULL, NULL, NULL, 0), 0);
    sup.sd = &sd;
    async_task_spawn(&rt, &sup.task, supervisor_run, "supervisor");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(rt.armed_wakers, 2);              /* SIGINT and SIGTERM */
    ASSERT_EQ(async_shutdown_destroy(&sd), ASYNC_EBUSY);
    async_task_abort(&sup.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(sup.task.u.result, ASYNC_ECANCELED);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_shutdown_destroy(&sd), 0);
    ASSERT_EQ(async_shutdown_init(&sd, NULL, NULL, NULL, NULL, 0), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

/* ---- limits, bad arguments, errors ----------------------------------------------- */
/* Up to 1024 subscriptions per process: the next gets ASYNC_ELIMIT, and a shutdown
   that cannot subscribe to SIGTERM gives back its SIGINT subscription. */
TEST(signal_subscriptions_are_limited) {
    static async_signal subs[1024];
    async_signal extra;
    async_shutdown sd;
    int i, n = 0, rc = 0;
    rt_real();
    for (i = 0; i < 1024 && (rc = async_signal_init(&subs[i], &rt, SIGUSR2)) == 0; i++) n++;
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(n, 1024);
    ASSERT_EQ(async_signal_init(&extra, &rt, SIGUSR2), ASYNC_ELIMIT);
    ASSERT_EQ(extra.slot, -1);
    ASSERT_EQ(async_signal_destroy(&extra), ASYNC_EINVAL);      /* nothing to destroy */
    ASSERT_EQ(async_signal_destroy(&subs[1023]), 0);            /* one slot free */
    ASSERT_EQ(async_shutdown_init(&sd, &rt, NULL, NULL, NULL, 0), ASYNC_ELIMIT);
    ASSERT_EQ(async_signal_init(&extra, &rt, SIGUSR2), 0);      /* the slot came back */
    ASSERT_EQ(async_signal_destroy(&extra), 0);
    for (i = 0; i < 1023; i++) ASSERT_EQ(async_signal_destroy(&subs[i]), 0);
    CHECK(rt.wakers == NULL);
    async_runtime_destroy(&rt);
}

/* The shutdown refuses bad arguments; a supervisor aborted during the grace period
   leaves no timer and no waiter behind (the tasks run on). */
TEST(shutdown_bad_arguments_and_abort_during_the_grace_period) {
    static worker slow;
    static supervisor sup;
    async_runtime other;
    async_joinset set, foreign;
    async_shutdown sd, sd0;
    async_cancel_token root;
    ZERO(slow); ZERO(sup); ZERO(sd0);
    test_rt_paused(&rt);
    async_runtime_init(&other, NULL);
    async_joinset_init(&foreign, &other);
    ASSERT_EQ(async_shutdown_init(NULL, &rt, NULL, NULL, NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, NULL, &foreign, NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_shutdown_request(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_shutdown_destroy(NULL), ASYNC_EINVAL);
    sd0.sigint.slot = -1;                         /* as a failed init leaves it */
    ASSERT_EQ(async_shutdown_destroy(&sd0), ASYNC_EINVAL);
    async_cancel_token_init(&root);
    async_joinset_init(&set, &rt);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, &root, &set, NULL, ASYNC_SEC(10)), 0);
    slow.root = &root;
    slow.linger = ASYNC_SEC(60);
    async_joinset_spawn(&set, &slow.task, worker_run, "slow");
    sup.sd = &sd;
    async_task_spawn(&rt, &sup.task, supervisor_run, "supervisor");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_shutdown_request(&sd), 0);
    async_runtime_step(&rt, 0);                   /* draining: waits for slow or grace */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_cancel_token_is_cancelled(&root), 1);
    ASSERT_EQ(async_task_state(&sup.task), ASYNC_TASK_WAITING);
    ASSERT_EQ(rt.ntimers, 2);                     /* the grace deadline, slow's linger */
    async_task_abort(&sup.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(sup.task.u.result, ASYNC_ECANCELED);
    ASSERT_EQ(rt.ntimers, 1);                     /* only slow's own */
    CHECK(set.q.head == NULL);                    /* no waiter left in the set */
    ASSERT_EQ(async_shutdown_destroy(&sd), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);         /* slow finishes on its own */
    ASSERT_EQ(slow.cleaned, 1);
    async_joinset_destroy(&set);
    async_joinset_destroy(&foreign);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&other);
    async_runtime_destroy(&rt);
}

/* A child reaped behind the async_child's back: the wait reports -ECHILD. An empty
   entry in PATH means the current directory (the search goes on from there). Bad
   arguments are refused. */
typedef struct { async_task task; async_child *c; int rc; } waiter_frame;
static int child_waiter_run(async_task *t) {
    waiter_frame *f = (waiter_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_child_wait(t, f->c));
    ASYNC_END(f->rc);
}
TEST(child_reaped_elsewhere_path_entries_and_bad_input) {
#ifdef _WIN32
    (void)child_waiter_run;
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static waiter_frame f;
    async_child c, c0;
    char *argv[] = {(char *)"true", NULL};
    char *old = getenv("PATH"), saved[4096];
    int st;
    ZERO(f); ZERO(c); ZERO(c0);
    rt_real();
    snprintf(saved, sizeof saved, "%s", old ? old : "");
    setenv("PATH", ":/usr/bin:/bin", 1);
    ASSERT_EQ(async_child_spawn(&rt, &c, "true", argv, NULL), 0);
    setenv("PATH", saved, 1);
    CHECK(c.pid > 0);
    ASSERT_EQ(waitpid(c.pid, &st, 0), c.pid);     /* someone else reaps it */
    f.c = &c;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, child_waiter_run, "waiter"), -ECHILD);
    ASSERT_EQ(rt.armed_wakers, 0);
    ASSERT_EQ(async_child_kill(&c, -1), ASYNC_EINVAL);
    ASSERT_EQ(async_child_kill(NULL, SIGTERM), ASYNC_EINVAL);
    ASSERT_EQ(async_child_kill(&c0, SIGTERM), ASYNC_EINVAL);   /* never spawned */
    ASSERT_EQ(async_child_try_wait(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_try_wait(&c0), ASYNC_EINVAL);
    ASSERT_EQ(async_child_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_spawn(NULL, &c0, "true", argv, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_spawn(&rt, NULL, "true", argv, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_spawn(&rt, &c0, NULL, argv, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_spawn(&rt, &c0, "true", NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_child_spawn(&rt, &c, "true", argv, NULL), ASYNC_EBUSY);   /* c in use */
    ASSERT_EQ(async_child_destroy(&c), 0);
    ASSERT_EQ(c.pid, 0);
    async_runtime_destroy(&rt);
#endif
}

/* An async_child whose spawn failed (or that was never spawned) is zeroed, so its
   sigchld.slot is 0, not -1: async_child_destroy used to clear slot 0 of the
   process-wide signal table, and the subscription living there (here a SIGUSR2 one)
   was silently unsubscribed and never woken again. */
TEST(destroying_a_failed_child_leaves_other_signals_alone) {
#ifdef _WIN32
    SKIP_WIN("POSIX programs (sh, echo, cat), fork semantics, waitpid");
#else
    static sig_waiter a;
    async_signal s;
    async_child c;
    char *argv[] = {(char *)"x", NULL};
    int i;
    ZERO(a); ZERO(c);
    rt_real();
    ASSERT_EQ(async_signal_init(&s, &rt, SIGUSR2), 0);
    if (test_cur_failed) {              /* (a system call failed: tests/faults.h) */
        async_runtime_destroy(&rt);
        return;                         /* the SIGUSR2 below would end the process */
    }
    ASSERT_EQ(s.slot, 0);                         /* the only subscription in the process */
    ASSERT_EQ(async_child_spawn(&rt, &c, "no-such-program-4711", argv, NULL), -ENOENT);
    ASSERT_EQ(async_child_destroy(&c), 0);        /* nothing to destroy: must not touch s */
    a.s = &s;
    a.want = 1;
    async_task_spawn(&rt, &a.task, sig_waiter_run, "a");
    async_runtime_step(&rt, 0);
    raise(SIGUSR2);
    for (i = 0; i < 50 && !async_task_is_finished(&a.task); i++) async_runtime_step(&rt, MS(10));
    ASSERT_EQ(a.got[0], SIGUSR2);
    async_task_abort(&a.task);
    async_runtime_run(&rt);
    ASSERT_EQ(async_signal_destroy(&s), 0);
    async_runtime_destroy(&rt);
#endif
}

int main(int argc, char **argv) {
#ifdef _WIN32
    if (argc > 1 && !strncmp(argv[1], "--child-", 8)) return windows_child_main(argc, argv);
    GetModuleFileNameA(NULL, self_exe, sizeof self_exe);
#endif
    BEGIN_TESTS(argc, argv);
    alarm(300);
    RUN(signal_delivery_wakes_subscribers_and_coalesces);
    RUN(signal_chains_to_the_previous_handler_and_restores_it);
    RUN(sigint_and_sigterm_from_another_thread);
    RUN(signal_bad_input_and_cancel);
    RUN(child_stdout_and_exit_status);
    RUN(child_stdin_pipe_cwd_and_env);
    RUN(child_exec_errors_leave_nothing_behind);
    RUN(kill_after_a_timed_out_wait);
    RUN(children_dropped_without_a_wait_are_reaped);
    RUN(child_sigpipe_is_default_again);
    RUN(many_children_at_once);
    RUN(shutdown_drains_then_aborts_the_rest);
    RUN(shutdown_with_endless_grace_waits_for_all);
    RUN(shutdown_on_sigterm_when_all_drain_in_time);
    RUN(shutdown_supervisor_aborted_while_waiting);
    RUN(signal_subscriptions_are_limited);
    RUN(shutdown_bad_arguments_and_abort_during_the_grace_period);
    RUN(child_reaped_elsewhere_path_entries_and_bad_input);
    RUN(destroying_a_failed_child_leaves_other_signals_alone);
    DONE();
}
