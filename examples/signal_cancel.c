/* signal_cancel.c - Ctrl-C cancels a request: a SIGINT becomes a wake-up through an
   async_waker, and the task waiting on it aborts the request, whose cleanup runs.

   The request is a long task (up to 200 chunks of 10 ms, two seconds) that keeps a
   resource open (a temporary file, pretend) and releases it in its ASYNC_CLEANUP however
   it ends. The SIGINT handler does the one thing a handler may do here: it calls
   async_waker_wake, which only stores a flag and writes to the runtime's wake
   descriptor, both async-signal-safe (tokio::signal::ctrl_c is built the same way: a
   handler that writes to a pipe). So that nobody has to press Ctrl-C, a helper thread,
   started once the request is under way, sends the signal to this process with kill()
   30 ms later; it blocks SIGINT itself, so the handler runs on the main thread, in the
   middle of the runtime's poll(). A wake that comes before anyone waits is kept, so the
   signal is not lost even if it arrives before main reaches its select.

   Main selects between the request's completion (async_task_join) and the signal
   (async_waker_wait), as select! { r = request => .., _ = ctrl_c() => .. }. The signal
   wins; the losing join is cancelled, which only unregisters main as the joiner, and
   the request runs on until main aborts it with async_task_abort; joining it again then
   gives ASYNC_ECANCELED, after its cleanup has released the file.

   At the end the default SIGINT disposition is restored (and checked). The request is
   forty times longer than the signal's delay, so the checks hold under load: the
   signal won, the request was cancelled, its cleanup ran once, the waker is free
   again. The last line says whether they held.

   On Windows there is no kill() or signal mask: the helper is a Win32 thread that calls
   raise(SIGINT), and the C library runs the handler on that thread; async_waker_wake is
   safe from any thread, so main is woken the same way. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32                               /* CreateThread, GetTickCount64 */
#include <winsock2.h>
#include <windows.h>
#else
#include <pthread.h>
#include <unistd.h>
#endif

enum { SIGNAL_AFTER_MS = 30, CHUNKS = 200, CHUNK_MS = 10 };

static async_runtime rt;
static async_time t_start;
#ifdef _WIN32
static ULONGLONG mono_start;                /* the same instant, for the helper thread */
static HANDLE helper;
#else
static struct timespec mono_start;          /* the same instant, for the helper thread */
static pthread_t helper;
#endif
static async_waker sigint_waker;
static volatile sig_atomic_t sigints;       /* how many the handler saw */
static int helper_started;
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t_start) / 1e6; }

#ifdef _WIN32
static double mono_ms(void) { return (double)(GetTickCount64() - mono_start); }
#else
static double mono_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - mono_start.tv_sec) * 1e3 +
           (double)(now.tv_nsec - mono_start.tv_nsec) / 1e6;
}
#endif

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "signal_cancel: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* The handler: async-signal-safe work only (no printf here). */
static void on_sigint(int sig) {
    (void)sig;
    sigints++;
    async_waker_wake(&sigint_waker);
}

/* The helper thread: plays the user pressing Ctrl-C after 30 ms. */
#ifdef _WIN32
static DWORD WINAPI press_ctrl_c(void *arg) {
    (void)arg;
    Sleep(SIGNAL_AFTER_MS);
    printf("+%3.0f ms  helper thread: raise(SIGINT)\n", mono_ms());
    raise(SIGINT);
    return 0;
}
#else
static void *press_ctrl_c(void *arg) {
    sigset_t block;
    struct timespec delay;
    (void)arg;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, NULL);   /* so the main thread takes it */
    delay.tv_sec = 0;
    delay.tv_nsec = SIGNAL_AFTER_MS * 1000000L;
    nanosleep(&delay, NULL);
    printf("+%3.0f ms  helper thread: kill(getpid(), SIGINT)\n", mono_ms());
    kill(getpid(), SIGINT);
    return NULL;
}
#endif

/* ---- the request ----------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_timer timer;
    int chunk, rc, file_open, cleanups;
} request_frame;

static int request_run(async_task *t) {
    request_frame *f = (request_frame *)t;
    ASYNC_BEGIN(t);
    f->file_open = 1;
    printf("+%3.0f ms  request: started, %d chunks of %d ms, temp file opened\n", ms(), CHUNKS,
           CHUNK_MS);
    for (f->chunk = 0; f->chunk < CHUNKS; f->chunk++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(CHUNK_MS)));
        if (f->chunk < 3) printf("+%3.0f ms  request: chunk %d done\n", ms(), f->chunk + 1);
    }
    printf("+%3.0f ms  request: complete (not printed: it is cancelled)\n", ms());
    ASYNC_CLEANUP();
    f->cleanups++;
    f->file_open = 0;
    printf("+%3.0f ms  request: cleanup (%s after %d chunks), temp file removed\n", ms(),
           async_task_is_cancelling(t) ? "cancelled" : "finished", f->chunk);
    ASYNC_END(f->chunk);
}

/* ---- main ------------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_select sel;
    request_frame req;
    int rc[2], rc_join;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    must(async_task_spawn(&rt, &f->req.task, request_run, "request"), "async_task_spawn");
    while (!f->req.file_open) ASYNC_YIELD();    /* let it start: the queue is FIFO */
#ifdef _WIN32
    helper = CreateThread(NULL, 0, press_ctrl_c, NULL, 0, NULL);
    helper_started = helper != NULL;
#else
    helper_started = pthread_create(&helper, NULL, press_ctrl_c, NULL) == 0;
#endif
    check(helper_started, "a helper thread to send the signal");
    if (!helper_started) ASYNC_RETURN(1);
    printf("+%3.0f ms  main: waiting for the request or Ctrl-C, whichever comes first\n", ms());
    ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_FAIR);
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0], async_task_join(t, &f->req.task));
        ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1], async_waker_wait(t, &sigint_waker));
    ASYNC_SELECT_END(&f->sel);
    if (f->sel.winner == 1) {
        printf("+%3.0f ms  main: SIGINT arrived through the waker, aborting the request\n",
               ms());
        check(async_task_is_finished(&f->req.task) == 0, "the request was still running");
        async_task_abort(&f->req.task);
        ASYNC_AWAIT(f->rc_join, async_task_join(t, &f->req.task));
        printf("+%3.0f ms  main: the request ended with: %s\n", ms(), async_strerror(f->rc_join));
    } else {
        printf("+%3.0f ms  main: the request finished first (%d)\n", ms(), f->rc[0]);
        f->rc_join = f->rc[0];
    }
    check(f->sel.winner == 1 && f->rc[1] == 0, "the signal won the select");
    check(f->rc_join == ASYNC_ECANCELED, "the request was cancelled");
    check(f->req.cleanups == 1 && !f->req.file_open, "its cleanup ran once and released the file");
    check(f->req.chunk < CHUNKS, "it stopped early");
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
#ifdef _WIN32
    struct { void (*sa_handler)(int); } now;
#else
    struct sigaction sa, now;
#endif
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t_start = async_time_now(&rt);
#ifdef _WIN32
    mono_start = GetTickCount64();
#else
    clock_gettime(CLOCK_MONOTONIC, &mono_start);
#endif
    must(async_waker_init(&rt, &sigint_waker), "async_waker_init");

#ifdef _WIN32
    (void)signal(SIGINT, on_sigint);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    if (helper_started) {
        WaitForSingleObject(helper, INFINITE);
        CloseHandle(helper);
    }
    (void)signal(SIGINT, SIG_DFL);              /* back to the default: Ctrl-C kills */
    now.sa_handler = signal(SIGINT, SIG_DFL);
#else
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    if (helper_started) pthread_join(helper, NULL);

    memset(&sa, 0, sizeof sa);                  /* back to the default: Ctrl-C kills */
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGINT, NULL, &now);
#endif
    printf("+%3.0f ms  main: SIGINT handler seen %d time(s), default disposition %s\n", ms(),
           (int)sigints, now.sa_handler == SIG_DFL ? "restored" : "NOT restored");
    check(sigints == 1, "the handler ran once");
    check(now.sa_handler == SIG_DFL, "the default SIGINT disposition is back");
    check(async_waker_destroy(&sigint_waker) == 0, "nobody waits on the waker any more");
    check(async_runtime_destroy(&rt) == 0, "no task outlives main");
    if (rc != 0 || failures) {
        printf("signal_cancel: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("signal_cancel: ok, SIGINT woke main through the waker and the request was"
           " cancelled with its cleanup\n");
    return 0;
}
