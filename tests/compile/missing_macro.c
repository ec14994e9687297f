/* A coroutine body missing its ASYNC_BEGIN or its ASYNC_END, one case per MISSING
   (tests/compile/missing_macro.sh): each must fail to compile with an error that
   names the missing macro, not "case label not within a switch". */
#include "async.h"

typedef struct { async_task task; async_timer timer; async_select sel; int rc; } frame;

#if MISSING == 1                        /* an await, no ASYNC_BEGIN */
static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_END(0);
}
#elif MISSING == 2                      /* a yield, no ASYNC_BEGIN */
static int body(async_task *t) {
    ASYNC_YIELD();
    ASYNC_END(0);
}
#elif MISSING == 3                      /* only ASYNC_END */
static int body(async_task *t) {
    (void)t;
    ASYNC_END(0);
}
#elif MISSING == 4                      /* a select, no ASYNC_BEGIN */
static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_SELECT_BEGIN(&f->sel, 1, ASYNC_SELECT_FAIR);
        ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_SELECT_END(&f->sel);
    ASYNC_END(0);
}
#elif MISSING == 5                      /* no ASYNC_END, another function follows */
static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    return 0;
}
static int other(async_task *t) {
    ASYNC_BEGIN(t);
    ASYNC_END(1);
}
int use_other(void);
int use_other(void) { return other(0); }
#elif MISSING == 6                      /* no ASYNC_END, last in the file */
static int body(async_task *t) {
    ASYNC_BEGIN(t);
    ASYNC_YIELD();
    return 0;
}
#elif MISSING == 7                      /* an await after the body's ASYNC_END */
static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_END(0);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
}
#else                                   /* the control: complete, it compiles */
static int body(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_END(0);
}
#endif

int use_body(void);
int use_body(void) { return body(0); }
