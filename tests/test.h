/* test.h - the shared harness of async.h's tests.
   A test file defines its tests with TEST(name), lists them in main with RUN(name),
   and ends with DONE(). `./test_x name...` runs only the named tests.
   This header defines ASYNC_IMPLEMENTATION, a counting allocator that can fail
   the Nth allocation, and an ASYNC_ASSERT that records instead of aborting.

   Built alone, a test file is the whole program (the implementation included). make
   test builds the implementation once per form instead (tests/impl_suites.c, with the
   hooks below) and each test file with -DTEST_SPLIT against it: the test file then
   declares what the implementation's object defines (the allocator, the counters, the
   assert hook) and sees no implementation. */
#ifndef TEST_H
#define TEST_H
/* A test of an example's code (a server's parser) includes the example first: then
   async.h is in already, with the example's configuration, and the hooks below are
   left out; the test macros work the same. */
#ifndef ASYNC_H_INCLUDED
#define TEST_HOOKS 1
#define _POSIX_C_SOURCE 200809L       /* we include libc headers before async.h */
#ifdef TEST_SPLIT                     /* the implementation is linked, not in here */
#define TEST_SPLIT_ 1
#endif
#if !defined(TEST_SPLIT_) || defined(TEST_IMPL)
#define ASYNC_IMPLEMENTATION
#endif
#ifdef TEST_FAULTS                    /* the perturbation modes: see test_fault_run */
#define ASYNC_FAULT_INJECTION
#endif
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the implementation's hooks and the tests share: one program's statics, or,
   split, defined by tests/impl_suites.c's object and declared in each test file. */
#if !defined(TEST_SPLIT_)
#define TEST_SHARED static
#elif defined(TEST_IMPL)
#define TEST_SHARED
#else
#define TEST_SHARED extern
#endif
/* test_fail_at: the number of the allocation call that fails (0 = none); test_fail_all:
   every call fails (the zero-allocation tests; test_alloc_calls still counts them) */
TEST_SHARED long test_allocs, test_frees, test_fail_at, test_fail_all;
TEST_SHARED int test_asserts;           /* ASYNC_ASSERT failures seen */
#ifdef TEST_HOOKS
TEST_SHARED long test_alloc_calls;
TEST_SHARED char test_assert_msg[256];
TEST_SHARED void *test_malloc(size_t n);
TEST_SHARED void test_free(void *p);
TEST_SHARED void test_assert_hook(const char *msg);
#if !defined(TEST_SPLIT_) || defined(TEST_IMPL)
/* Counted atomically: the runtimes of a group allocate on their own threads. */
#if defined(__GNUC__) && !defined(__TINYC__)
#define TEST_COUNT_(p) __atomic_add_fetch(&(p), 1, __ATOMIC_RELAXED)
#else
#define TEST_COUNT_(p) (++(p))
#endif
TEST_SHARED void *test_malloc(size_t n) {
    if (TEST_COUNT_(test_alloc_calls) == test_fail_at || test_fail_all) return NULL;
    TEST_COUNT_(test_allocs);
    return malloc(n);
}
TEST_SHARED void test_free(void *p) { if (p) TEST_COUNT_(test_frees); free(p); }
TEST_SHARED void test_assert_hook(const char *msg) {
    test_asserts++;
    snprintf(test_assert_msg, sizeof test_assert_msg, "%s", msg);
}
#endif
#ifdef ASYNC_POSIX_ONLY
/* The wall clock that the pool's idle wait reads in the strict POSIX build (where a
   condition variable waits on CLOCK_REALTIME, as on macOS): its next reading is moved
   by test_wall_jump seconds, once, as if the clock were set between that reading and
   the wait. (gcc and clang only, as the strict build: __atomic) */
#include <time.h>
TEST_SHARED long test_wall_jump, test_wall_jumped;
TEST_SHARED int test_wall_clock(struct timespec *ts);
#if !defined(TEST_SPLIT_) || defined(TEST_IMPL)
TEST_SHARED int test_wall_clock(struct timespec *ts) {
    int rc = clock_gettime(CLOCK_REALTIME, ts);
    long jump = __atomic_exchange_n(&test_wall_jump, 0, __ATOMIC_ACQ_REL);
    if (jump) {
        ts->tv_sec -= (time_t)jump;
        __atomic_add_fetch(&test_wall_jumped, 1, __ATOMIC_ACQ_REL);
    }
    return rc;
}
#endif
#define ASYNC__WALL_CLOCK(ts) test_wall_clock(ts)
#endif
#define ASYNC_MALLOC(n) test_malloc(n)
#define ASYNC_FREE(p) test_free(p)
#define ASYNC_ASSERT(cond, msg) ((cond) ? (void)0 : test_assert_hook(msg))
#endif

#include "async.h"

/* Constants of the implementation that tests read. A split test file does not see the
   implementation: it gets these copies, which tests/impl_suites.c checks are equal. */
#define TEST_IMPL_RT_PAUSED 1           /* ASYNC__RT_PAUSED: rt->flags, a paused clock */
#define TEST_IMPL_NOTIFY_ALL 2          /* ASYNC__NOTIFY_ALL: a notify_waiters wake */
#define TEST_IMPL_DEFAULT_BUDGET 128    /* ASYNC__DEFAULT_BUDGET: polls per turn */
#if defined(TEST_SPLIT_) && !defined(TEST_IMPL)
#define ASYNC__RT_PAUSED TEST_IMPL_RT_PAUSED
#define ASYNC__NOTIFY_ALL TEST_IMPL_NOTIFY_ALL
#define ASYNC__DEFAULT_BUDGET TEST_IMPL_DEFAULT_BUDGET
#endif
#ifdef TEST_IMPL                        /* tests/impl_suites.c: the implementation alone */
extern char test_impl_constants_match[ASYNC__RT_PAUSED == TEST_IMPL_RT_PAUSED &&
                                      ASYNC__NOTIFY_ALL == TEST_IMPL_NOTIFY_ALL &&
                                      ASYNC__DEFAULT_BUDGET == TEST_IMPL_DEFAULT_BUDGET
                                      ? 1 : -1];
#else

static int test_failed, test_passed, test_cur_failed;
static const char *test_cur;
static int test_argc;
static char **test_argv;

#define TEST(name) static void name(void)
#define FAIL_(...) do { \
        printf("  FAIL %s (%s:%d): ", test_cur, __FILE__, __LINE__); \
        printf(__VA_ARGS__); printf("\n"); test_cur_failed = 1; } while (0)
#define CHECK(c) do { if (!(c)) FAIL_("%s", #c); } while (0)
#define ASSERT_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); } while (0)
#define ASSERT_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
        if (strcmp(a_, b_) != 0) FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_); } while (0)
#define ASSERT_HAS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
        if (!strstr(h_, n_)) FAIL_("\"%s\" not found in:\n%s", n_, h_); } while (0)

static int test_selected(const char *name) {
    int i;
    if (test_argc <= 1) return 1;
    for (i = 1; i < test_argc; i++) if (strcmp(test_argv[i], name) == 0) return 1;
    return 0;
}

/* One test, as a plain run: its checks, then no leak (of ASYNC_MALLOC). */
static int test_leaked, test_model;
static void test_run_once(void (*fn)(void)) {
    long a0 = test_allocs, f0 = test_frees;
    test_cur_failed = 0; test_asserts = 0; test_fail_at = 0; test_fail_all = 0;
    test_leaked = 0; test_model = 0;
    fn();
    if (test_allocs - a0 != test_frees - f0) {
        FAIL_("leak: %ld allocations, %ld frees", test_allocs - a0, test_frees - f0);
        test_leaked = 1;
    }
}
#if defined(TEST_HOOKS) && defined(TEST_FAULTS)
static int test_fault_mode(void);
static void test_fault_run(void (*fn)(void));
#define RUN(name) do { if (test_selected(#name)) { \
        test_cur = #name; \
        if (test_fault_mode()) test_fault_run(name); else test_run_once(name); \
        if (test_cur_failed) test_failed++; else test_passed++; } } while (0)
#else
#define RUN(name) do { if (test_selected(#name)) { \
        test_cur = #name; \
        test_run_once(name); \
        if (test_cur_failed) test_failed++; else test_passed++; } } while (0)
#endif

/* TEST_BACKEND: the suite (and the servers it starts) on that reactor backend */
#ifdef TEST_BACKEND
#define TEST_SET_BACKEND() (void)setenv("ASYNC_BACKEND", TEST_BACKEND, 1)
#else
#define TEST_SET_BACKEND() (void)0
#endif
#define BEGIN_TESTS(argc, argv) do { test_argc = (argc); test_argv = (argv); \
        setvbuf(stdout, NULL, _IONBF, 0); TEST_SET_BACKEND(); } while (0)
#if defined(TEST_HOOKS) && defined(TEST_FAULTS)
static void test_fault_summary(void);
#define DONE() do { test_fault_summary(); \
        printf("%s: %d passed, %d failed\n", __FILE__, test_passed, test_failed); \
        return test_failed ? 1 : 0; } while (0)
#else
#define DONE() do { printf("%s: %d passed, %d failed\n", __FILE__, test_passed, test_failed); \
        return test_failed ? 1 : 0; } while (0)
#endif

#define ZERO(x) memset(&(x), 0, sizeof(x))

#ifdef TEST_HOOKS
/* Runs `count` scripts of `len` (<= 128) bytes, from xorshift32 seeded with `seed`,
   through a model (the tests/..._model.h headers: run returns 0 or the line of the
   check that failed, why says which); fails at the first one that breaks a check
   or an ASYNC_ASSERT, naming the script. */
static inline void test_random_scripts(int (*run)(const uint8_t *data, size_t len),
                                       const char *(*why)(void), const char *model,
                                       uint32_t seed, size_t len, int count) {
    uint8_t bytes[128];
    uint32_t x = seed;
    int s, line;
    size_t i;
    if (len > sizeof bytes) len = sizeof bytes;
    if (getenv("ASYNC_TEST_SCRIPTS")) count = atoi(getenv("ASYNC_TEST_SCRIPTS"));  /* soak */
    test_model = 1;                     /* its checks hold whatever the clock does */
    for (s = 0; s < count; s++) {
        for (i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes[i] = (uint8_t)(x >> 24);
        }
        line = run(bytes, len);
        if (line || test_asserts) {
            FAIL_("script %d: tests/%s:%d %s %s", s, model, line, why(),
                  test_asserts ? test_assert_msg : "");
            return;
        }
    }
}
#endif

/* A runtime on the paused clock with auto-advance: time only moves when every
   task is idle, straight to the next deadline. */
static inline void test_rt_paused(async_runtime *rt) {
    async_runtime_desc d;
    ZERO(d);
    d.start_paused = 2;
    if (async_runtime_init(rt, &d) != 0) { printf("runtime init failed\n"); exit(2); }
}

/* An event log the tests compare against an expected string. */
static char test_log[4096];

#include <stdarg.h>
static inline void logf_(const char *fmt, ...) {
    va_list ap;
    size_t n = strlen(test_log);
    va_start(ap, fmt);
    vsnprintf(test_log + n, sizeof test_log - n, fmt, ap);
    va_end(ap);
}
#define LOG_RESET() (test_log[0] = 0)
#include "faults.h"
#endif /* TEST_IMPL */
#endif
