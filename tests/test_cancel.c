/* Cancellation safety at every await of the sync and channel layers: each wait is
   cancelled twice, once by an abort and once by a timeout, and afterwards no waiter
   is left linked, no permit or lock is held, no item was consumed, and the
   primitive still works for the next task. Bad arguments get an error code. */
#include "test.h"

enum {
    K_SEM, K_MUTEX, K_READ, K_WRITE, K_NOTIFY, K_BARRIER, K_TOKEN, K_SEND, K_RESERVE,
    K_RECV, K_CLOSED, K_ONESHOT, K_ONESHOT_CLOSED, K_BCAST, K_WATCH, K_COUNT
};
static const char *const names[K_COUNT] = {
    "semaphore acquire", "mutex lock", "rwlock read", "rwlock write", "notify wait",
    "barrier wait", "token wait", "mpsc send", "mpsc reserve", "mpsc recv", "mpsc closed",
    "oneshot recv", "oneshot closed", "broadcast recv", "watch changed"
};

static async_semaphore sem;
static async_mutex mtx;
static async_rwlock rw;
static async_notify ntf;
static async_barrier bar;
static async_cancel_token tok;
static async_mpsc ch;
static async_oneshot one;
static async_broadcast bc;
static async_broadcast_rx bcrx;
static async_watch wt;
static async_watch_rx wtrx;

static int op(async_task *t, int kind, async_waiter *w, int *item) {
    if (kind == K_SEM) return async_semaphore_acquire(t, &sem, w);
    if (kind == K_MUTEX) return async_mutex_lock(t, &mtx, w);
    if (kind == K_READ) return async_rwlock_read(t, &rw, w);
    if (kind == K_WRITE) return async_rwlock_write(t, &rw, w);
    if (kind == K_NOTIFY) return async_notify_wait(t, &ntf, w);
    if (kind == K_BARRIER) return async_barrier_wait(t, &bar, w);
    if (kind == K_TOKEN) return async_cancel_token_wait(t, &tok, w);
    if (kind == K_SEND) return async_mpsc_send(t, &ch, w, item);
    if (kind == K_RESERVE) return async_mpsc_reserve(t, &ch, w);
    if (kind == K_RECV) return async_mpsc_recv(t, &ch, w, item);
    if (kind == K_CLOSED) return async_mpsc_wait_closed(t, &ch, w);
    if (kind == K_ONESHOT) return async_oneshot_recv(t, &one, w, item);
    if (kind == K_ONESHOT_CLOSED) return async_oneshot_wait_closed(t, &one, w);
    if (kind == K_BCAST) return async_broadcast_recv(t, &bcrx, w, item);
    return async_watch_wait_changed(t, &wtrx, w);
}

/* Every primitive in a state where the wait blocks. */
static void setup(void) {
    int v = 1;
    async_semaphore_init(&sem, 1);
    async_semaphore_try_acquire(&sem, 1);
    async_mutex_init(&mtx);
    async_mutex_try_lock(&mtx);
    async_rwlock_init(&rw);
    async_rwlock_try_write(&rw);
    async_notify_init(&ntf);
    async_barrier_init(&bar, 2);
    async_cancel_token_init(&tok);
    async_mpsc_init(&ch, sizeof(int), 1, NULL);
    async_mpsc_try_send(&ch, &v);               /* full: send and reserve block */
    async_oneshot_init(&one, sizeof(int), NULL);
    async_broadcast_init(&bc, sizeof(int), 4, NULL);
    async_broadcast_subscribe(&bc, &bcrx);
    async_watch_init(&wt, sizeof(int), NULL, &v);
    async_watch_subscribe(&wt, &wtrx);
}
static void teardown(void) {
    async_mpsc_destroy(&ch);
    async_oneshot_destroy(&one);
    async_broadcast_unsubscribe(&bcrx);
    async_broadcast_destroy(&bc);
    async_watch_unsubscribe(&wtrx);
    async_watch_destroy(&wt);
    async_cancel_token_destroy(&tok);
}
/* No waiter linked anywhere. The recv waits need an empty channel: checked apart. */
static int all_queues_empty(void) {
    return !sem.q.head && !mtx.q.head && !rw.q.head && !ntf.q.head && !bar.q.head &&
           !tok.q.head && !ch.send_q.head && !ch.recv_q.head && !ch.closed_q.head &&
           !one.rx_q.head && !one.closed_q.head && !bc.q.head && !wt.q.head;
}

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    int kind, rc, item;
    async_time timeout;
} frame;
static int waiter(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    if (f->timeout)
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout, op(t, f->kind, &f->w, &f->item));
    else
        ASYNC_AWAIT(f->rc, op(t, f->kind, &f->w, &f->item));
    ASYNC_END(f->rc);
}

static void cancel_each(int by_timeout) {
    int k;
    for (k = 0; k < K_COUNT; k++) {
        async_runtime rt;
        static frame f, g;
        int out = -1;
        ZERO(f);
        ZERO(g);
        setup();
        if (k == K_RECV) {                       /* empty it: recv must block */
            async_mpsc_try_recv(&ch, &out);
        }
        test_rt_paused(&rt);
        f.kind = k;
        f.timeout = by_timeout ? ASYNC_MS(10) : 0;
        async_task_spawn(&rt, &f.task, waiter, names[k]);
        async_runtime_step(&rt, 0);
        if (async_task_is_finished(&f.task)) FAIL_("%s did not block", names[k]);
        if (!by_timeout) async_task_abort(&f.task);
        ASSERT_EQ(async_runtime_run(&rt), 0);
        if (f.rc != (by_timeout ? ASYNC_ETIMEDOUT : ASYNC_ECANCELED))
            FAIL_("%s: rc %d", names[k], f.rc);
        if (!all_queues_empty()) FAIL_("%s: a waiter is still linked", names[k]);
        if (rt.ntimers) FAIL_("%s: a timer is still armed", names[k]);
        /* nothing was taken or leaked: the state is exactly as set up */
        ASSERT_EQ(async_semaphore_available_permits(&sem), 0);
        ASSERT_EQ(mtx.used, 1);
        ASSERT_EQ(rw.writer, 1);
        ASSERT_EQ(bar.count, 0);
        ASSERT_EQ(ch.used, k == K_RECV ? 0 : 1);
        ASSERT_EQ(async_watch_has_changed(&wtrx), 0);
        ASSERT_EQ(ntf.permit, 0);
        /* and it still works: release what blocks, and the next waiter gets through */
        async_semaphore_release(&sem, 1);
        async_mutex_unlock(&mtx);
        async_rwlock_write_unlock(&rw);
        ZERO(f);
        f.kind = k;
        async_task_spawn(&rt, &f.task, waiter, names[k]);
        async_runtime_step(&rt, 0);
        if (k == K_NOTIFY) async_notify_one(&ntf);
        if (k == K_BARRIER) {                    /* the second party completes it */
            g.kind = k;
            async_task_spawn(&rt, &g.task, waiter, "second party");
        }
        if (k == K_TOKEN) async_cancel_token_cancel(&tok);
        if (k == K_SEND || k == K_RESERVE) async_mpsc_try_recv(&ch, &out);
        if (k == K_RECV) { out = 5; async_mpsc_try_send(&ch, &out); }
        if (k == K_CLOSED) async_mpsc_close(&ch);
        if (k == K_ONESHOT) { out = 6; async_oneshot_send(&one, &out); }
        if (k == K_ONESHOT_CLOSED) async_oneshot_close(&one);
        if (k == K_BCAST) { out = 7; async_broadcast_send(&bc, &out); }
        if (k == K_WATCH) { out = 8; async_watch_send(&wt, &out); }
        ASSERT_EQ(async_runtime_run(&rt), 0);
        if (f.rc < 0) FAIL_("%s after cancel: rc %d", names[k], f.rc);
        if (k == K_BARRIER) ASSERT_EQ(f.rc + g.rc, 1);   /* one leader */
        if (k == K_RESERVE) async_mpsc_release_reserved(&ch);
        async_task_abort(&f.task);
        async_runtime_destroy(&rt);
        teardown();
    }
}
TEST(abort_every_wait) { cancel_each(0); }
TEST(timeout_every_wait) { cancel_each(1); }

TEST(bad_arguments) {
    async_waiter w;
    int v = 0;
    ZERO(w);
    ASSERT_EQ(async_semaphore_acquire(NULL, &sem, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_try_acquire(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_acquire_many(NULL, &sem, &w, ASYNC_SEMAPHORE_MAX_PERMITS + 1),
              ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_init(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read(NULL, &rw, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_one(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_barrier_init(NULL, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_cancel(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_init(NULL, 4, 4, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send(NULL, &ch, &w, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_recv(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_init(NULL, 4, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_send(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_init(NULL, 4, 4, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_storage_size(4, 0), SIZE_MAX);         /* capacity 0 */
    ASSERT_EQ(async_broadcast_try_recv(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_init(NULL, 4, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_borrow(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send_modify(&wt, NULL, NULL), ASYNC_EINVAL);
    {
        async_broadcast_rx r;
        ZERO(r);
        ASSERT_EQ(async_broadcast_unsubscribe(&r), ASYNC_EINVAL);   /* never subscribed */
    }
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(abort_every_wait);
    RUN(timeout_every_wait);
    RUN(bad_arguments);
    DONE();
}
