/* The protothread trap: a local used across an await (its value is gone when the
   body resumes). tests/compile/trap_flags.sh checks which compiler flags catch which
   form, as PITFALLS says; TRAP=0 is the right way (the counter in the frame), which
   every one of those flags must leave clean (and, built with TRAP_RUN, counts to 3). */
#ifdef TRAP_RUN
#define ASYNC_IMPLEMENTATION
#endif
#include "async.h"

typedef struct { async_task task; async_timer timer; int i; } frame;

int count(async_task *t);
int count(async_task *t) {
    frame *f = (frame *)t;
    int rc;
#if TRAP == 1
    int i;                              /* A: declared before ASYNC_BEGIN, assigned after */
#endif
    ASYNC_BEGIN(t);
#if TRAP == 0
    for (f->i = 0; f->i < 3; f->i++) ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_RETURN(f->i);
#else
#if TRAP == 2
    int i = 0;                          /* B: an initialised local inside the body */
#elif TRAP == 3
    int i;                              /* C: a local inside the body, assigned */
    i = 0;
#else
    i = 0;
#endif
    for (; i < 3; i++) ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    (void)f;
    ASYNC_RETURN(i);
#endif
    ASYNC_END(0);
}

#ifdef TRAP_RUN
int main(void) {
    static async_runtime rt;
    static frame f;
    async_runtime_init(&rt, 0);
    return async_runtime_block_on(&rt, &f.task, count, "count") == 3 ? 0 : 1;
}
#endif
