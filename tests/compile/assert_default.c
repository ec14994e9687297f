/* Misuse with the default ASYNC_ASSERT: an await inside a user `switch` loses its
   resume point. The program must abort with a message naming the problem (the
   Makefile check runs it and looks for the message), not restart or end quietly. */
#define ASYNC_IMPLEMENTATION
#include "async.h"

typedef struct { async_task task; int mode; } frame;

static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    switch (f->mode) {
    case 1:
        ASYNC_YIELD();
        break;
    default:
        break;
    }
    ASYNC_END(0);
}

int main(void) {
    static async_runtime rt;
    static frame f;
    f.mode = 1;
    async_runtime_init(&rt, 0);
    return async_runtime_block_on(&rt, &f.task, body, "lost");
}
