#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>

typedef struct {
    async_task task;     // the task header comes first
    async_timer timer;   // state that must survive an await lives in the frame
    int i;
} ticker;

static int ticker_run(async_task *t) {
    ticker *f = (ticker *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 1; f->i <= 3; f->i++) {
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(100)));
        printf("tick %d\n", f->i);
    }
    ASYNC_END(f->i - 1);
}

int main(void) {
    static async_runtime rt;
    static ticker a, b;                  // zeroed, as frames must be
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &a.task, ticker_run, "a");
    async_task_spawn(&rt, &b.task, ticker_run, "b");
    async_runtime_run(&rt);              // both tick together: 300 ms, not 600
    async_runtime_destroy(&rt);
    return 0;
}
