/* fault_server.c - an example server built with async.h's fault injection, for
   tests/test_srv_faults.c. make sanitize builds it once per server with
   -DASYNC_FAULT_INJECTION and SERVER naming the example (-DSERVER='"examples/echo.c"'):
   the server is the example itself, whole, plus the count below. make test builds it
   once, SERVER naming tests/impl_examples.c (the implementation alone, in the servers'
   backend), and links each server against it (the server compiled with
   -DASYNC_IMPLEMENTATION_INCLUDED: without the copy of the implementation it includes).

   ASYNC_FAULTS="sys=N,alloc=M,seed=S" in the environment perturbs the server as
   async.h's fault layer says (one system call of the reactor and I/O layer in N fails
   or is cut short, one allocation of the library in M fails). This file wraps the
   hooks async.h installs from that variable, counts what they inject, and prints the
   count to stderr when the process exits (returning from main or calling exit):

       faults: sys 12 of 345 calls (read 3, write 4, accept 2, wait 3), 5 short,
               alloc 1 of 20

   (one line), so that a test can tell that a run was perturbed at all, and how much.
   It reaches two internals of async.h (async__faults_from_env, async__faults): this
   is async.h's implementation file, and the count is a test's business only. */
#ifndef SERVER
#error "SERVER: the example to build, e.g. -DSERVER='\"examples/echo.c\"'"
#endif
#include SERVER

#ifndef ASYNC_FAULT_INJECTION
#error "build with -DASYNC_FAULT_INJECTION"
#endif

static async_faults fs_env;                     /* what async.h made of ASYNC_FAULTS */
static unsigned long fs_calls, fs_failed[ASYNC_SYS_COUNT], fs_short, fs_allocs,
    fs_alloc_failed;

/* The sys hook runs on the blocking pool's threads too: counted atomically. */
static int fs_sys(void *user, int call, int fd, size_t *len) {
    size_t before = len ? *len : 0;
    int rc = fs_env.sys(user, call, fd, len);
    __atomic_fetch_add(&fs_calls, 1, __ATOMIC_RELAXED);
    if (rc < 0 && call > 0 && call < ASYNC_SYS_COUNT)
        __atomic_fetch_add(&fs_failed[call], 1, __ATOMIC_RELAXED);
    else if (len && *len < before)
        __atomic_fetch_add(&fs_short, 1, __ATOMIC_RELAXED);
    return rc;
}

static int fs_alloc(void *user, size_t size) {
    int rc = fs_env.alloc(user, size);
    __atomic_fetch_add(&fs_allocs, 1, __ATOMIC_RELAXED);
    if (rc) __atomic_fetch_add(&fs_alloc_failed, 1, __ATOMIC_RELAXED);
    return rc;
}

__attribute__((constructor)) static void fs_init(void) {
    async_faults f;
    async__faults_from_env();                   /* what async_runtime_init would do */
    fs_env = async__faults;
    f = fs_env;
    if (f.sys) f.sys = fs_sys;
    if (f.alloc) f.alloc = fs_alloc;
    async_faults_set(&f);
}

__attribute__((destructor)) static void fs_report(void) {
    unsigned long total = 0;
    int k, first = 1;
    char line[512];
    size_t n;
    if (!fs_env.sys && !fs_env.alloc) return;   /* ASYNC_FAULTS unset: nothing to say */
    for (k = 1; k < ASYNC_SYS_COUNT; k++) total += fs_failed[k];
    n = (size_t)snprintf(line, sizeof line, "faults: sys %lu of %lu calls (", total,
                         fs_calls);
    for (k = 1; k < ASYNC_SYS_COUNT && n < sizeof line; k++) {
        if (!fs_failed[k]) continue;
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %lu", first ? "" : ", ",
                              async_sys_name(k), fs_failed[k]);
        first = 0;
    }
    if (n < sizeof line)
        snprintf(line + n, sizeof line - n, "), %lu short, alloc %lu of %lu\n", fs_short,
                 fs_alloc_failed, fs_allocs);
    fputs(line, stderr);
}
