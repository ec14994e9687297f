/* Misuse with the default ASYNC_ASSERT: an await inside a user `switch` loses its
   resume point (tests/compile/lost_resume.sh builds and runs this file). Without
   NDEBUG the program must abort with a message naming the await's line (the one
   marked LOST below) and the task, after flushing what it had printed; with NDEBUG
   it must say so once and each such task ends with ASYNC_ELOST. Never a restart,
   never a quiet end. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>

typedef struct { async_task task; int mode; } frame;

static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    switch (f->mode) {
    case 1:
        ASYNC_YIELD();                                  /* LOST */
        break;
    default:
        break;
    }
    ASYNC_END(0);
}

int main(void) {
    static async_runtime rt;
    static frame a, b;
    int ra, rb;
    a.mode = b.mode = 1;
    printf("printed before the lost resume point\n");  /* sits in a buffer when piped */
    async_runtime_init(&rt, 0);
    ra = async_runtime_block_on(&rt, &a.task, body, "lost-task-one");
    rb = async_runtime_block_on(&rt, &b.task, body, "lost-task-two");
    printf("results %s %s\n", ra == ASYNC_ELOST ? "ELOST" : "other",
           rb == ASYNC_ELOST ? "ELOST" : "other");
    async_runtime_destroy(&rt);
    return ra == ASYNC_ELOST && rb == ASYNC_ELOST ? 0 : 1;
}
