/* tests/consumers/consumer.c - a project of a user's that takes async.h through a build
   system (tests/consumers/consumers.sh): a task sleeps, then runs a call on the blocking
   pool (threads: the build system must have linked the thread library). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>

static int square(void *arg) {
    int *x = (int *)arg;
    return *x * *x;
}

typedef struct {
    async_task task;
    async_timer timer;
    async_blocking job;
    async_pool *pool;
    int x, rc;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    f->x = 7;
    ASYNC_AWAIT(f->rc, async_pool_spawn(t, f->pool, &f->job, square, &f->x));
    ASYNC_END(f->rc);
}

int main(void) {
    static async_runtime rt;
    static async_pool pool;
    static main_frame m;
    int rc;
    if (async_runtime_init(&rt, NULL) < 0 || async_pool_init(&pool, &rt, NULL) < 0) return 1;
    m.pool = &pool;
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
    printf("consumer: async.h %s, 7 * 7 = %d\n", ASYNC_VERSION_STRING, rc);
    return rc == 49 ? 0 : 1;
}
