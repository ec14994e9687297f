/* fail_alloc.h - put ahead of an example (cc -include tests/compile/fail_alloc.h): the
   library's allocations (ASYNC_MALLOC) go through fail_alloc(), which makes the Nth one
   fail when ASYNC_FAIL_ALLOC=N is in the environment, says so on stderr at that moment
   ("fail_alloc: allocation N fails"), and otherwise, at exit, says how many there were
   ("fail_alloc: N allocations"). It includes system headers ahead of async.h, so build
   with -D_DEFAULT_SOURCE. Used by tests/examples_setup_fails.sh. */
#include <stdio.h>
#include <stdlib.h>

static long fail_alloc_calls, fail_alloc_at = -1;

static void fail_alloc_report(void) {
    fprintf(stderr, "fail_alloc: %ld allocations\n", fail_alloc_calls);
}

static void *fail_alloc(size_t n) {
    if (fail_alloc_at < 0) {
        const char *e = getenv("ASYNC_FAIL_ALLOC");
        fail_alloc_at = e ? atol(e) : 0;
        if (fail_alloc_at <= 0) atexit(fail_alloc_report);
    }
    if (++fail_alloc_calls == fail_alloc_at) {
        fprintf(stderr, "fail_alloc: allocation %ld fails\n", fail_alloc_calls);
        return NULL;
    }
    return malloc(n);
}

#define ASYNC_MALLOC(n) fail_alloc(n)
#define ASYNC_FREE(p) free(p)
