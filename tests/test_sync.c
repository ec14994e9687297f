/* Sync: Semaphore, Mutex, RwLock, Notify, Barrier, CancellationToken, with Tokio's
   semantics (tokio/tests/sync_*.rs): FIFO fairness without barging, partial grants,
   close, the stored Notify permit, one Barrier leader per generation, the token
   tree. Cancellation safety at every await: abort or time out each wait and check
   that no permit, lock or waiter is left behind. */
#include "test.h"
#include "sync_model.h"
#include "notify_model.h"
#include "token_model.h"
#include "bucket_model.h"

#define MS(x) ASYNC_MS(x)

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    void *obj;
    int id, rc, kind, held, cleaned, leader;
    size_t n;
    async_time hold, timeout;
} sframe;

static int in_cs, max_in_cs;                     /* tasks inside a critical section */

/* kind: 0 semaphore(n), 1 mutex, 2 rwlock read, 3 rwlock write. Acquire, hold for
   `hold` (sleeping), release. With a timeout, the acquire may time out. */
static int locker(async_task *t) {
    sframe *f = (sframe *)t;
    ASYNC_BEGIN(t);
    if (f->timeout) {
        if (f->kind == 0)
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_semaphore_acquire_many(t, (async_semaphore *)f->obj, &f->w, f->n));
        else if (f->kind == 1)
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_mutex_lock(t, (async_mutex *)f->obj, &f->w));
        else if (f->kind == 2)
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_rwlock_read(t, (async_rwlock *)f->obj, &f->w));
        else
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_rwlock_write(t, (async_rwlock *)f->obj, &f->w));
    } else if (f->kind == 0) {
        ASYNC_AWAIT(f->rc, async_semaphore_acquire_many(t, (async_semaphore *)f->obj, &f->w, f->n));
    } else if (f->kind == 1) {
        ASYNC_AWAIT(f->rc, async_mutex_lock(t, (async_mutex *)f->obj, &f->w));
    } else if (f->kind == 2) {
        ASYNC_AWAIT(f->rc, async_rwlock_read(t, (async_rwlock *)f->obj, &f->w));
    } else {
        ASYNC_AWAIT(f->rc, async_rwlock_write(t, (async_rwlock *)f->obj, &f->w));
    }
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    f->held = 1;
    logf_("%d+ ", f->id);
    if (++in_cs > max_in_cs) max_in_cs = in_cs;
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->hold));
    in_cs--;
    logf_("%d- ", f->id);
    f->held = 0;
    if (f->kind == 0) async_semaphore_release((async_semaphore *)f->obj, f->n);
    else if (f->kind == 1) async_mutex_unlock((async_mutex *)f->obj);
    else if (f->kind == 2) async_rwlock_read_unlock((async_rwlock *)f->obj);
    else async_rwlock_write_unlock((async_rwlock *)f->obj);
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    f->cleaned++;
    if (f->held) {                               /* cancelled while holding: release */
        in_cs--;
        if (f->kind == 0) async_semaphore_release((async_semaphore *)f->obj, f->n);
        else if (f->kind == 1) async_mutex_unlock((async_mutex *)f->obj);
        else if (f->kind == 2) async_rwlock_read_unlock((async_rwlock *)f->obj);
        else async_rwlock_write_unlock((async_rwlock *)f->obj);
        f->held = 0;
    }
    ASYNC_END(0);
}

static sframe *spawn_locker(async_runtime *rt, sframe *f, int id, int kind, void *obj,
                            size_t n, int hold_ms) {
    ZERO(*f);
    f->id = id;
    f->kind = kind;
    f->obj = obj;
    f->n = n;
    f->hold = MS(hold_ms);
    async_task_spawn(rt, &f->task, locker, "locker");
    return f;
}

/* ---- Semaphore -------------------------------------------------------------------- */
TEST(semaphore_basics) {
    async_semaphore s;
    ASSERT_EQ(async_semaphore_init(&s, 3), 0);
    ASSERT_EQ(async_semaphore_try_acquire(&s, 2), 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 1);
    ASSERT_EQ(async_semaphore_try_acquire(&s, 2), ASYNC_EAGAIN);
    ASSERT_EQ(async_semaphore_release(&s, 2), 0);
    ASSERT_EQ(async_semaphore_release(&s, 1), ASYNC_EINVAL);      /* never acquired */
    ASSERT_EQ(async_semaphore_available_permits(&s), 3);
    ASSERT_EQ(async_semaphore_add_permits(&s, 2), 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 5);
    ASSERT_EQ(async_semaphore_forget_permits(&s, 7), 5);
    ASSERT_EQ(async_semaphore_available_permits(&s), 0);
    ASSERT_EQ(async_semaphore_add_permits(&s, ASYNC_SEMAPHORE_MAX_PERMITS), 0);
    ASSERT_EQ(async_semaphore_add_permits(&s, 1), ASYNC_EINVAL);  /* past the maximum */
    ASSERT_EQ(async_semaphore_init(&s, ASYNC_SEMAPHORE_MAX_PERMITS + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_init(NULL, 1), ASYNC_EINVAL);
    async_semaphore_init(&s, 2);
    ASSERT_EQ(async_semaphore_try_acquire(&s, 1), 0);
    ASSERT_EQ(async_semaphore_forget_held(&s, 1), 0);             /* a held permit, gone */
    ASSERT_EQ(async_semaphore_release(&s, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_available_permits(&s), 1);
    ASSERT_EQ(async_semaphore_close(&s), 0);
    ASSERT_EQ(async_semaphore_try_acquire(&s, 1), ASYNC_ECLOSED);
    ASSERT_EQ(async_semaphore_is_closed(&s), 1);
}

TEST(semaphore_thousand_tasks_ten_permits) {
    enum { N = 1000 };
    async_runtime rt;
    static sframe f[N];
    async_semaphore s;
    int i, done = 0;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 10);
    in_cs = max_in_cs = 0;
    LOG_RESET();
    for (i = 0; i < N; i++) spawn_locker(&rt, &f[i], i, 0, &s, 1, 1 + i % 3);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < N; i++) done += f[i].rc == 0 && f[i].cleaned == 1;
    ASSERT_EQ(done, N);
    ASSERT_EQ(max_in_cs, 10);
    ASSERT_EQ(async_semaphore_available_permits(&s), 10);
    async_runtime_destroy(&rt);
}

TEST(semaphore_fifo_no_barging) {
    async_runtime rt;
    static sframe a, b, c;
    async_semaphore s;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 1);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 0, &s, 1, 10);       /* holds the only permit */
    spawn_locker(&rt, &b, 1, 0, &s, 3, 10);       /* wants 3: first in line */
    spawn_locker(&rt, &c, 2, 0, &s, 1, 10);       /* wants 1: behind b */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_semaphore_add_permits(&s, 1), 0);   /* 1 free: goes to b, not c */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(b.w.got, 1);
    ASSERT_EQ(c.held, 0);
    ASSERT_EQ(async_semaphore_try_acquire(&s, 1), ASYNC_EAGAIN);  /* no barging either */
    ASSERT_EQ(async_semaphore_add_permits(&s, 1), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0+ 0- 1+ 1- 2+ 2- ");
    ASSERT_EQ(async_semaphore_available_permits(&s), 3);
    async_runtime_destroy(&rt);
}

TEST(semaphore_cancel_returns_partial_and_granted_permits) {
    async_runtime rt;
    static sframe a, b, c;
    async_semaphore s;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 3);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 0, &s, 2, 100);      /* holds 2 */
    spawn_locker(&rt, &b, 1, 0, &s, 3, 10);       /* gets 1 of 3, waits */
    spawn_locker(&rt, &c, 2, 0, &s, 2, 10);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(b.w.got, 1);
    async_task_abort(&b.task);                    /* its 1 goes back: c then fits? no, 1 free */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(b.cleaned, 1);
    ASSERT_EQ(c.w.got, 1);                        /* handed on to the next in line */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0+ 0- 2+ 2- ");
    ASSERT_EQ(async_semaphore_available_permits(&s), 3);
    /* granted but not yet observed, then aborted: the permits move on */
    ASSERT_EQ(async_semaphore_try_acquire(&s, 3), 0);
    LOG_RESET();
    spawn_locker(&rt, &b, 1, 0, &s, 3, 10);
    spawn_locker(&rt, &c, 2, 0, &s, 1, 10);
    async_runtime_step(&rt, 0);
    async_semaphore_release(&s, 3);               /* all three handed to b */
    ASSERT_EQ(b.w.state, 2);
    ASSERT_EQ(c.w.state, 1);
    async_task_abort(&b.task);                    /* before b ran: c gets its turn */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "2+ 2- ");
    ASSERT_EQ(b.rc, ASYNC_ECANCELED);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 3);
    async_runtime_destroy(&rt);
}

TEST(semaphore_close_fails_waiters) {
    async_runtime rt;
    static sframe a, b;
    async_semaphore s;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 2);
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 0, &s, 2, 50);
    spawn_locker(&rt, &b, 1, 0, &s, 1, 50);
    async_runtime_step(&rt, 0);
    async_semaphore_close(&s);
    async_runtime_run(&rt);
    ASSERT_EQ(b.rc, ASYNC_ECLOSED);
    ASSERT_EQ(a.rc, 0);                           /* held permits are unaffected */
    ASSERT_EQ(async_semaphore_available_permits(&s), 2);
    async_runtime_destroy(&rt);
}

/* Permits handed to a waiter that has not run yet when the semaphore closes: it
   fails all the same (Tokio: a queued acquire polled after close fails) and the
   permits come back. */
TEST(semaphore_close_beats_permits_handed_over_but_not_yet_seen) {
    async_runtime rt;
    static sframe b;
    async_semaphore s;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 2);
    in_cs = max_in_cs = 0;
    ASSERT_EQ(async_semaphore_try_acquire(&s, 2), 0);
    spawn_locker(&rt, &b, 1, 0, &s, 2, 50);       /* waits for both */
    async_runtime_step(&rt, 0);
    async_semaphore_release(&s, 2);               /* handed to b, not yet run */
    ASSERT_EQ(async_semaphore_available_permits(&s), 0);
    async_semaphore_close(&s);
    async_runtime_run(&rt);
    ASSERT_EQ(b.rc, ASYNC_ECLOSED);
    ASSERT_EQ(max_in_cs, 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 2);
    async_runtime_destroy(&rt);
}

/* Semaphore, Mutex and RwLock under random scripts of tasks that acquire (plainly,
   with a timeout, in a select), hold across a yield or sleep and give back, while
   a controller aborts them, adds or forgets permits and closes the semaphore, in
   FIFO and random ready order, with small budgets (tests/sync_model.h; also
   tests/fuzz/fuzz_sync.c with libFuzzer): exclusion holds, nothing waits for what
   is free, and every permit and lock comes back. */
TEST(sync_model_random_scripts) {
    test_random_scripts(sync_model_run, sync_model_why, "sync_model.h",
                        0x2545f491u, 96, 20000);
}

/* Notify and Barrier under random scripts (tests/notify_model.h; also fuzzed): a
   notification is delivered at most once, and exactly once when nothing is
   cancelled; one leader per Barrier generation; nothing is left waiting. */
TEST(notify_barrier_model_random_scripts) {
    test_random_scripts(notify_model_run, notify_model_why, "notify_model.h",
                        0x41c64e6du, 96, 20000);
}

/* CancellationToken trees under random scripts of makes, cancels, destroys and
   waits (tests/token_model.h; also fuzzed): the tree and every cancelled flag
   follow the model; no wait ends early or stays queued on a cancelled token. */
TEST(token_model_random_scripts) {
    test_random_scripts(token_model_run, token_model_why, "token_model.h",
                        0x5851f42du, 96, 20000);
}

TEST(semaphore_timeout_leaves_queue_clean) {
    async_runtime rt;
    static sframe a, b, c;
    async_semaphore s;
    test_rt_paused(&rt);
    async_semaphore_init(&s, 1);
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 0, &s, 1, 100);
    spawn_locker(&rt, &b, 1, 0, &s, 1, 10);
    b.timeout = MS(20);
    spawn_locker(&rt, &c, 2, 0, &s, 1, 10);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(c.rc, 0);
    CHECK(s.q.head == NULL);
    ASSERT_EQ(async_semaphore_available_permits(&s), 1);
    async_runtime_destroy(&rt);
}

/* ---- Mutex ---------------------------------------------------------------------------- */
TEST(mutex_fifo_order) {
    async_runtime rt;
    static sframe f[5];
    async_mutex m = ASYNC_MUTEX_INIT;             /* {0} is unlocked */
    int i;
    test_rt_paused(&rt);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    for (i = 0; i < 5; i++) spawn_locker(&rt, &f[i], i, 1, &m, 1, 5);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0+ 0- 1+ 1- 2+ 2- 3+ 3- 4+ 4- ");
    ASSERT_EQ(max_in_cs, 1);
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    async_runtime_destroy(&rt);
}

TEST(mutex_try_lock_and_misuse) {
    async_runtime rt;
    static sframe a, b;
    async_mutex m;
    async_mutex_init(&m);
    ASSERT_EQ(async_mutex_unlock(&m), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_try_lock(&m), 0);
    ASSERT_EQ(async_mutex_try_lock(&m), ASYNC_EBUSY);
    ASSERT_EQ(async_mutex_unlock(&m), 0);
    test_rt_paused(&rt);
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 1, &m, 1, 10);
    spawn_locker(&rt, &b, 1, 1, &m, 1, 10);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_mutex_try_lock(&m), ASYNC_EBUSY);
    async_runtime_run(&rt);
    ASSERT_EQ(async_mutex_try_lock(&m), 0);
    ASSERT_EQ(async_mutex_lock(NULL, &m, NULL), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

TEST(mutex_abort_waiter_and_handed_over_lock) {
    async_runtime rt;
    static sframe a, b, c;
    async_mutex m = ASYNC_MUTEX_INIT;
    test_rt_paused(&rt);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 1, &m, 1, 10);
    spawn_locker(&rt, &b, 1, 1, &m, 1, 10);
    spawn_locker(&rt, &c, 2, 1, &m, 1, 10);
    async_runtime_step(&rt, 0);
    async_task_abort(&b.task);                    /* waiting: unlinked */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0+ 0- 2+ 2- ");
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    /* a is handed the lock by an unlock, then aborted before it runs: passed on */
    LOG_RESET();
    ASSERT_EQ(async_mutex_try_lock(&m), 0);
    spawn_locker(&rt, &a, 0, 1, &m, 1, 10);
    spawn_locker(&rt, &b, 1, 1, &m, 1, 10);
    async_runtime_step(&rt, 0);
    async_mutex_unlock(&m);
    ASSERT_EQ(a.w.state, 2);                      /* ready: owns the lock, not yet run */
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "1+ 1- ");
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    async_runtime_destroy(&rt);
}

/* Unlocking twice right after the lock was handed to a waiter that has not run yet
   is refused: otherwise a third task would lock alongside the waiter. */
TEST(mutex_double_unlock_after_hand_over) {
    async_runtime rt;
    static sframe b, c;
    async_mutex m = ASYNC_MUTEX_INIT;
    test_rt_paused(&rt);
    in_cs = max_in_cs = 0;
    ASSERT_EQ(async_mutex_try_lock(&m), 0);
    spawn_locker(&rt, &b, 1, 1, &m, 1, 10);
    async_runtime_step(&rt, 0);                   /* b waits */
    ASSERT_EQ(async_mutex_unlock(&m), 0);         /* handed to b, not yet run */
    ASSERT_EQ(async_mutex_unlock(&m), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_try_lock(&m), ASYNC_EBUSY);
    spawn_locker(&rt, &c, 2, 1, &m, 1, 10);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(max_in_cs, 1);                      /* never two holders */
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    async_runtime_destroy(&rt);
}

TEST(mutex_abort_while_holding_via_cleanup) {
    async_runtime rt;
    static sframe a, b;
    async_mutex m = ASYNC_MUTEX_INIT;
    test_rt_paused(&rt);
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &a, 0, 1, &m, 1, 1000);
    spawn_locker(&rt, &b, 1, 1, &m, 1, 10);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(a.held, 1);
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.rc, 0);
    ASSERT_EQ(a.cleaned, 1);
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    async_runtime_destroy(&rt);
}

/* ---- RwLock ---------------------------------------------------------------------------- */
TEST(rwlock_readers_share_writer_excludes_and_is_not_starved) {
    async_runtime rt;
    static sframe f[6];
    async_rwlock l;
    async_rwlock_init(&l);
    test_rt_paused(&rt);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &f[0], 0, 2, &l, 1, 10);    /* readers 0, 1 */
    spawn_locker(&rt, &f[1], 1, 2, &l, 1, 20);
    spawn_locker(&rt, &f[2], 2, 3, &l, 1, 10);    /* writer waits for both */
    spawn_locker(&rt, &f[3], 3, 2, &l, 1, 10);    /* reader after the writer: waits too */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f[3].held, 0);                      /* a queued writer blocks new readers */
    ASSERT_EQ(async_rwlock_try_read(&l), ASYNC_EBUSY);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0+ 1+ 0- 1- 2+ 2- 3+ 3- ");
    ASSERT_EQ(l.used, 0);
    async_runtime_destroy(&rt);
}

TEST(rwlock_try_downgrade_misuse) {
    async_rwlock l = {{0}, 0, 0, 0};
    ASSERT_EQ(async_rwlock_read_unlock(&l), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_write_unlock(&l), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_try_write(&l), 0);
    ASSERT_EQ(async_rwlock_try_read(&l), ASYNC_EBUSY);
    ASSERT_EQ(async_rwlock_read_unlock(&l), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_downgrade(&l), 0);     /* now one reader */
    ASSERT_EQ(async_rwlock_try_read(&l), 0);
    ASSERT_EQ(async_rwlock_try_write(&l), ASYNC_EBUSY);
    ASSERT_EQ(async_rwlock_downgrade(&l), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read_unlock(&l), 0);
    ASSERT_EQ(async_rwlock_read_unlock(&l), 0);
    ASSERT_EQ(async_rwlock_try_write(&l), 0);
    ASSERT_EQ(async_rwlock_write_unlock(&l), 0);
}

TEST(rwlock_writer_timeout_lets_readers_in) {
    async_runtime rt;
    static sframe r1, wr, r2;
    async_rwlock l;
    async_rwlock_init(&l);
    test_rt_paused(&rt);
    LOG_RESET();
    in_cs = max_in_cs = 0;
    spawn_locker(&rt, &r1, 0, 2, &l, 1, 100);
    spawn_locker(&rt, &wr, 1, 3, &l, 1, 10);
    wr.timeout = MS(30);
    spawn_locker(&rt, &r2, 2, 2, &l, 1, 10);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(wr.rc, ASYNC_ETIMEDOUT);            /* its partial grant went back */
    ASSERT_STR(test_log, "0+ 2+ 2- 0- ");         /* r2 got in at 30 ms, beside r1 */
    ASSERT_EQ(l.used, 0);
    async_runtime_destroy(&rt);
}

/* ---- Notify ----------------------------------------------------------------------------- */
typedef struct { async_task task; async_waiter w; async_notify *n; int rc, got, enable_first; } nframe;
static int notified(async_task *t) {
    nframe *f = (nframe *)t;
    ASYNC_BEGIN(t);
    if (f->enable_first) async_notify_enable(t, f->n, &f->w);
    ASYNC_AWAIT(f->rc, async_notify_wait(t, f->n, &f->w));
    f->got = 1;
    ASYNC_END(0);
}
static void spawn_notified(async_runtime *rt, nframe *f, async_notify *n) {
    ZERO(*f);
    f->n = n;
    async_task_spawn(rt, &f->task, notified, "notified");
}
TEST(notify_one_stores_a_single_permit) {
    async_runtime rt;
    static nframe a, b;
    async_notify n = ASYNC_NOTIFY_INIT;
    async_runtime_init(&rt, NULL);
    async_notify_one(&n);
    async_notify_one(&n);                         /* still one permit */
    spawn_notified(&rt, &a, &n);
    spawn_notified(&rt, &b, &n);
    ASSERT_EQ(async_runtime_run(&rt), 1);
    ASSERT_EQ(a.got + b.got, 1);                  /* one consumed it at once, one waits */
    ASSERT_EQ(n.permit, 0);
    async_notify_one(&n);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}
TEST(notify_waiters_wakes_only_current_and_stores_nothing) {
    async_runtime rt;
    static nframe a, b, c;
    async_notify n;
    async_notify_init(&n);
    async_runtime_init(&rt, NULL);
    spawn_notified(&rt, &a, &n);
    spawn_notified(&rt, &b, &n);
    async_runtime_run(&rt);
    async_notify_waiters(&n);
    spawn_notified(&rt, &c, &n);                  /* came after: not woken */
    ASSERT_EQ(async_runtime_run(&rt), 1);
    ASSERT_EQ(a.got + b.got, 2);
    ASSERT_EQ(c.got, 0);
    ASSERT_EQ(n.permit, 0);
    async_notify_one(&n);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}
TEST(notify_one_oldest_last_newest) {
    async_runtime rt;
    static nframe a, b, c;
    async_notify n;
    async_notify_init(&n);
    async_runtime_init(&rt, NULL);
    spawn_notified(&rt, &a, &n);
    spawn_notified(&rt, &b, &n);
    spawn_notified(&rt, &c, &n);
    async_runtime_run(&rt);
    async_notify_one(&n);
    async_runtime_run(&rt);
    ASSERT_EQ(a.got, 1);
    async_notify_last(&n);
    async_runtime_run(&rt);
    ASSERT_EQ(c.got, 1);
    ASSERT_EQ(b.got, 0);
    async_notify_last(&n);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}
TEST(notify_cancelled_after_chosen_forwards) {
    async_runtime rt;
    static nframe a, b;
    async_notify n;
    async_notify_init(&n);
    async_runtime_init(&rt, NULL);
    spawn_notified(&rt, &a, &n);
    spawn_notified(&rt, &b, &n);
    async_runtime_run(&rt);
    async_notify_one(&n);                         /* chooses a */
    async_task_abort(&a.task);                    /* before a observed it */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.got, 0);
    ASSERT_EQ(b.got, 1);                          /* the notification was not lost */
    /* a waiting waiter that is aborted is simply unlinked */
    spawn_notified(&rt, &a, &n);
    async_runtime_run(&rt);
    async_task_abort(&a.task);
    async_runtime_run(&rt);
    CHECK(n.q.head == NULL);
    ASSERT_EQ(n.permit, 0);
    async_runtime_destroy(&rt);
}
TEST(notify_enable_registers_before_waiting) {
    async_runtime rt;
    static nframe a;
    async_notify n;
    async_waiter w;
    static sframe host;
    async_notify_init(&n);
    async_runtime_init(&rt, NULL);
    ZERO(w);
    ZERO(host);
    async_task_spawn(&rt, &host.task, locker, "host");   /* any task, for enable */
    ASSERT_EQ(async_notify_enable(&host.task, &n, &w), 0);
    async_notify_waiters(&n);                     /* enabled: it counts as waiting */
    ASSERT_EQ(w.state, 2);
    ZERO(w);
    async_notify_one(&n);
    ASSERT_EQ(async_notify_enable(&host.task, &n, &w), 0);   /* consumes the permit */
    ASSERT_EQ(w.state, 2);
    ASSERT_EQ(n.permit, 0);
    spawn_notified(&rt, &a, &n);
    a.enable_first = 1;
    async_runtime_run(&rt);
    async_notify_waiters(&n);
    async_runtime_run(&rt);
    ASSERT_EQ(a.got, 1);
    async_task_abort(&host.task);
    async_runtime_destroy(&rt);
}

/* ---- Barrier ------------------------------------------------------------------------------ */
typedef struct { async_task task; async_waiter w; async_barrier *b; int rounds, leaders, i; } bframe;
static int barrier_task(async_task *t) {
    bframe *f = (bframe *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->rounds; f->i++) {
        ASYNC_AWAIT(rc, async_barrier_wait(t, f->b, &f->w));
        f->leaders += rc == 1;
    }
    ASYNC_END(0);
}
TEST(barrier_one_leader_per_generation) {
    async_runtime rt;
    static bframe f[5];
    async_barrier b;
    int i, leaders = 0;
    ZERO(f);
    async_barrier_init(&b, 5);
    async_runtime_init(&rt, NULL);
    for (i = 0; i < 5; i++) {
        f[i].b = &b;
        f[i].rounds = 7;
        async_task_spawn(&rt, &f[i].task, barrier_task, "barrier");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < 5; i++) leaders += f[i].leaders;
    ASSERT_EQ(leaders, 7);                        /* exactly one per generation */
    ASSERT_EQ(b.gen, 7);
    async_runtime_destroy(&rt);
}
TEST(barrier_zero_is_one_and_cancel_takes_party_out) {
    async_runtime rt;
    static bframe a, c, d;
    async_barrier b;
    ZERO(a); ZERO(c); ZERO(d);
    async_barrier_init(&b, 0);
    async_runtime_init(&rt, NULL);
    a.b = &b;
    a.rounds = 3;
    ASSERT_EQ(async_runtime_block_on(&rt, &a.task, barrier_task, "solo"), 0);
    ASSERT_EQ(a.leaders, 3);                      /* n = 0 behaves as 1: always leader */
    async_barrier_init(&b, 2);
    c.b = d.b = &b;
    c.rounds = d.rounds = 1;
    async_task_spawn(&rt, &c.task, barrier_task, "c");
    async_runtime_run(&rt);
    ASSERT_EQ(b.count, 1);
    async_task_abort(&c.task);
    async_runtime_run(&rt);
    ASSERT_EQ(b.count, 0);                        /* c no longer counts */
    async_task_spawn(&rt, &d.task, barrier_task, "d");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* d alone is not enough */
    async_runtime_destroy(&rt);
}

/* ---- CancellationToken ---------------------------------------------------------------------- */
typedef struct { async_task task; async_waiter w; async_cancel_token *tok; int rc, woke; } cframe;
static int token_waiter(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_cancel_token_wait(t, f->tok, &f->w));
    f->woke = 1;
    ASYNC_END(0);
}
static void spawn_tok(async_runtime *rt, cframe *f, async_cancel_token *tok) {
    ZERO(*f);
    f->tok = tok;
    async_task_spawn(rt, &f->task, token_waiter, "token");
}
TEST(token_tree) {
    async_runtime rt;
    static cframe a, b, c;
    async_cancel_token root, child, grandchild, other;
    async_cancel_token_init(&root);
    ASSERT_EQ(async_cancel_token_init_child(&root, &child), 0);
    ASSERT_EQ(async_cancel_token_init_child(&child, &grandchild), 0);
    ASSERT_EQ(async_cancel_token_init_child(&root, &other), 0);
    async_runtime_init(&rt, NULL);
    spawn_tok(&rt, &a, &root);
    spawn_tok(&rt, &b, &grandchild);
    spawn_tok(&rt, &c, &other);
    ASSERT_EQ(async_runtime_run(&rt), 3);
    async_cancel_token_cancel(&child);            /* down, not up */
    ASSERT_EQ(async_runtime_run(&rt), 2);
    ASSERT_EQ(b.woke, 1);
    ASSERT_EQ(async_cancel_token_is_cancelled(&root), 0);
    ASSERT_EQ(async_cancel_token_is_cancelled(&other), 0);
    async_cancel_token_cancel(&root);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.woke + c.woke, 2);
    {
        async_cancel_token late;
        async_cancel_token_init_child(&root, &late); /* born cancelled */
        ASSERT_EQ(async_cancel_token_is_cancelled(&late), 1);
        spawn_tok(&rt, &a, &late);
        ASSERT_EQ(async_runtime_run(&rt), 0);     /* completes at once */
        async_cancel_token_destroy(&late);
    }
    async_runtime_destroy(&rt);
}
TEST(token_deep_tree_and_destroy_reparents) {
    enum { N = 10000 };
    static async_cancel_token chain[N];
    async_cancel_token mid_child;
    int i, all = 1;
    async_cancel_token_init(&chain[0]);
    for (i = 1; i < N; i++) async_cancel_token_init_child(&chain[i - 1], &chain[i]);
    async_cancel_token_init_child(&chain[5], &mid_child);
    ASSERT_EQ(async_cancel_token_destroy(&chain[5]), 0);     /* chain[6] now under chain[4] */
    CHECK(chain[6].parent == &chain[4]);
    CHECK(mid_child.parent == &chain[4]);
    async_cancel_token_cancel(&chain[0]);         /* iterative: no stack overflow */
    for (i = 0; i < N; i++) if (i != 5 && !chain[i].cancelled) all = 0;
    ASSERT_EQ(all, 1);
    ASSERT_EQ(mid_child.cancelled, 1);
    ASSERT_EQ(chain[5].cancelled, 0);             /* out of the tree before the cancel */
}
TEST(token_wait_abort_and_destroy_busy) {
    async_runtime rt;
    static cframe a;
    async_cancel_token tok;
    async_cancel_token_init(&tok);
    async_runtime_init(&rt, NULL);
    spawn_tok(&rt, &a, &tok);
    async_runtime_run(&rt);
    ASSERT_EQ(async_cancel_token_destroy(&tok), ASYNC_EBUSY);
    async_task_abort(&a.task);
    async_runtime_run(&rt);
    CHECK(tok.q.head == NULL);
    ASSERT_EQ(async_cancel_token_destroy(&tok), 0);
    ASSERT_EQ(async_cancel_token_init_child(&tok, &tok), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

/* ---- bad arguments ------------------------------------------------------------------ */
/* Every primitive refuses NULL (and out-of-range counts) with ASYNC_EINVAL, and the
   objects passed alongside are left as they were. */
/* ---- token bucket ----------------------------------------------------------------- */

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_token_bucket *b;
    size_t n;
    async_time timeout, at;
    int id, rc, done;
} bkframe;

static int bk_order[32], bk_norder;

/* Acquire n tokens (with a timeout if set), note when and in which order. */
static int bucket_user(async_task *t) {
    bkframe *f = (bkframe *)t;
    ASYNC_BEGIN(t);
    if (f->timeout)
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                            async_token_bucket_acquire(t, f->b, &f->w, f->n));
    else
        ASYNC_AWAIT(f->rc, async_token_bucket_acquire(t, f->b, &f->w, f->n));
    f->at = async_time_now(t->rt);
    f->done = 1;
    if (f->rc == 0 && bk_norder < 32) bk_order[bk_norder++] = f->id;
    ASYNC_END(f->rc);
}

static void bk_spawn(async_runtime *rt, bkframe *f, int id, async_token_bucket *b, size_t n,
                     async_time timeout) {
    ZERO(*f);
    f->id = id;
    f->b = b;
    f->n = n;
    f->timeout = timeout;
    async_task_spawn(rt, &f->task, bucket_user, "bucket user");
}

/* Burst then pace (capacity 3, one token every 10 ms): eight requests at once, three
   pass at once, the others one per refill, in arrival order; an idle bucket saves one
   burst, not more. */
TEST(token_bucket_burst_then_pace_in_order) {
    async_runtime rt;
    async_token_bucket b;
    static bkframe f[8];
    async_time t0;
    int i;
    async_runtime_init(&rt, NULL);
    async_time_pause(&rt, 1);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 3, 1, MS(10)), 0);
    ASSERT_EQ(async_token_bucket_available(&b), 3);
    bk_norder = 0;
    for (i = 0; i < 8; i++) bk_spawn(&rt, &f[i], i, &b, 1, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < 8; i++) {
        ASSERT_EQ(f[i].rc, 0);
        ASSERT_EQ(f[i].at - t0, i < 3 ? 0 : MS(10) * (async_time)(i - 2));
        ASSERT_EQ(bk_order[i], i);
    }
    ASSERT_EQ(async_token_bucket_available(&b), 0);
    ASSERT_EQ(async_runtime_next_deadline(&rt), ASYNC_TIME_NEVER);     /* no timer left */
    ASSERT_EQ(async_token_bucket_delay(&b, 1), MS(10));
    ASSERT_EQ(async_time_advance(&rt, MS(65)), 0);                     /* 6 refills */
    ASSERT_EQ(async_token_bucket_available(&b), 3);
    ASSERT_EQ(async_token_bucket_delay(&b, 3), 0);
    ASSERT_EQ(async_token_bucket_delay(&b, 5), MS(15));   /* two refills, on the grid */
    ASSERT_EQ(async_token_bucket_try_acquire(&b, 4), ASYNC_EAGAIN);
    ASSERT_EQ(async_token_bucket_try_acquire(&b, 3), 0);
    ASSERT_EQ(async_token_bucket_available(&b), 0);
    async_runtime_destroy(&rt);
}

/* FIFO with no barging: a large request at the head holds back a small one behind it
   (it takes what is there, then the refills); one larger than the capacity collects
   refills until it has them all. try_acquire fails while anyone waits. */
TEST(token_bucket_large_request_holds_back_smaller_ones) {
    async_runtime rt;
    async_token_bucket b;
    static bkframe f[3];
    async_time t0;
    async_runtime_init(&rt, NULL);
    async_time_pause(&rt, 1);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 3, 1, MS(10)), 0);
    bk_norder = 0;
    bk_spawn(&rt, &f[0], 0, &b, 5, 0);          /* 3 now, 2 more: at 20 ms */
    bk_spawn(&rt, &f[1], 1, &b, 1, 0);          /* behind it: at 30 ms */
    bk_spawn(&rt, &f[2], 2, &b, 7, 0);          /* beyond the capacity: at 100 ms */
    ASSERT_EQ(async_runtime_step(&rt, 0) > 0, 1);
    ASSERT_EQ(async_token_bucket_try_acquire(&b, 1), ASYNC_EAGAIN);
    ASSERT_EQ(async_token_bucket_available(&b), 0);
    ASSERT_EQ(async_token_bucket_delay(&b, 1), MS(110));  /* after 2 + 1 + 7 more tokens */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f[0].at - t0, MS(20));
    ASSERT_EQ(f[1].at - t0, MS(30));
    ASSERT_EQ(f[2].at - t0, MS(100));
    ASSERT_EQ(bk_order[0], 0);
    ASSERT_EQ(bk_order[1], 1);
    ASSERT_EQ(bk_order[2], 2);
    async_runtime_destroy(&rt);
}

/* Cancellation gives the tokens a waiter had collected to the next one: a request of
   6 times out at 25 ms holding 2, and the request of 3 behind it takes them and the
   30 ms refill (at 50 ms without them). Through the test harness (async_test_run: a
   fresh runtime on the paused clock, and nothing may be left behind: no task, no
   timer - the bucket's included). */
typedef struct {
    async_task task;
    async_token_bucket b;
    bkframe f[3];
    async_time t0;
    int i, rc;
} bkbody;

static int bucket_cancel_body(async_task *t) {
    bkbody *f = (bkbody *)t;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(t->rt);
    ASSERT_EQ(async_token_bucket_init(&f->b, t->rt, 4, 1, MS(10)), 0);
    bk_norder = 0;
    bk_spawn(t->rt, &f->f[0], 0, &f->b, 4, 0);
    bk_spawn(t->rt, &f->f[1], 1, &f->b, 6, MS(25));
    bk_spawn(t->rt, &f->f[2], 2, &f->b, 3, 0);
    for (f->i = 0; f->i < 3; f->i++) ASYNC_AWAIT(f->rc, async_task_join(t, &f->f[f->i].task));
    ASSERT_EQ(f->f[0].rc, 0);
    ASSERT_EQ(f->f[0].at - f->t0, 0);
    ASSERT_EQ(f->f[1].rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(f->f[1].at - f->t0, MS(25));
    ASSERT_EQ(f->f[2].rc, 0);
    ASSERT_EQ(f->f[2].at - f->t0, MS(30));
    ASSERT_EQ(async_token_bucket_available(&f->b), 0);
    ASYNC_END(0);
}

TEST(token_bucket_cancelled_wait_passes_its_tokens_on) {
    ASSERT_EQ(ASYNC_TEST_RUN(bucket_cancel_body, bkbody), 0);
}

/* The head aborted: its tokens go to the next waiter at once, and the one timer
   follows the new head (the aborted task's is gone: nothing wakes a finished task). */
TEST(token_bucket_abort_of_the_head_moves_the_queue_on) {
    async_runtime rt;
    async_token_bucket b;
    static bkframe f[3];
    async_time t0;
    async_runtime_init(&rt, NULL);
    async_time_pause(&rt, 0);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 2, 1, MS(10)), 0);
    bk_spawn(&rt, &f[0], 0, &b, 10, 0);         /* takes 2, waits for 8 refills */
    bk_spawn(&rt, &f[1], 1, &b, 3, 0);
    bk_spawn(&rt, &f[2], 2, &b, 1, 0);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_runtime_next_deadline(&rt) - t0, MS(80));
    ASSERT_EQ(async_time_advance(&rt, MS(5)), 0);
    ASSERT_EQ(async_task_abort(&f[0].task), 0);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f[0].rc, ASYNC_ECANCELED);
    ASSERT_EQ(f[1].done, 0);                    /* 2 of 3: the 10 ms refill completes it */
    ASSERT_EQ(async_runtime_next_deadline(&rt) - t0, MS(10));
    ASSERT_EQ(async_time_advance(&rt, MS(5)), 0);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f[1].rc, 0);
    ASSERT_EQ(f[1].at - t0, MS(10));
    ASSERT_EQ(f[2].done, 0);
    ASSERT_EQ(async_runtime_next_deadline(&rt) - t0, MS(20));
    ASSERT_EQ(async_token_bucket_add(&b, 5), 0);            /* a refund: the waiter first, */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f[2].rc, 0);
    ASSERT_EQ(f[2].at - t0, MS(10));
    ASSERT_EQ(async_token_bucket_available(&b), 2);        /* the rest up to the capacity */
    ASSERT_EQ(async_runtime_next_deadline(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

/* On the real clock (make test also runs it with the clock jumping at every reading,
   past a deadline between two readings among them): everyone served, in order, never
   ahead of the refills. */
TEST(token_bucket_real_clock) {
    async_runtime rt;
    async_token_bucket b;
    static bkframe f[5];
    async_time t0;
    int i;
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 1, 1, MS(2)), 0);
    t0 = async_time_now(&rt);
    bk_norder = 0;
    for (i = 0; i < 5; i++) bk_spawn(&rt, &f[i], i, &b, 1 + (size_t)(i & 1), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    {
        size_t taken = 0;
        for (i = 0; i < 5; i++) {
            ASSERT_EQ(f[i].rc, 0);
            ASSERT_EQ(bk_order[i], i);
            taken += f[i].n;
            CHECK(f[i].at - t0 >= MS(2) * (async_time)(taken - 1));  /* never early */
        }
    }
    async_runtime_destroy(&rt);
}

/* The model (tests/bucket_model.h): random scripts of acquires (plain, timed out, in
   a select), tries, refunds and aborts, FIFO and random ready order, small budgets. */
TEST(bucket_model_random_scripts) {
    test_random_scripts(bucket_model_run, bucket_model_why, "bucket_model.h", 0xB0C4E7u,
                        96, 1500);
}

TEST(token_bucket_bad_arguments) {
    async_runtime rt, other;
    async_token_bucket b;
    static bkframe host;
    async_waiter w;
    ZERO(w);
    async_runtime_init(&rt, NULL);
    async_runtime_init(&other, NULL);
    async_time_pause(&rt, 0);
    ASSERT_EQ(async_token_bucket_init(NULL, &rt, 1, 1, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, NULL, 1, 1, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 0, 1, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 1, 0, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 1, 1, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, ASYNC_TOKEN_BUCKET_MAX + 1, 1, MS(1)),
              ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 1, 1, ASYNC_TIME_NEVER), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_init(&b, &rt, 2, ASYNC_TOKEN_BUCKET_MAX, ASYNC_SEC(3600)),
              0);
    bk_spawn(&other, &host, 0, &b, 1, 0);       /* a task of another runtime */
    ASSERT_EQ(async_token_bucket_acquire(&host.task, &b, &w, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_acquire(NULL, &b, &w, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_try_acquire(&b, ASYNC_TOKEN_BUCKET_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_try_acquire(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_add(&b, ASYNC_TOKEN_BUCKET_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_token_bucket_available(NULL), 0);
    ASSERT_EQ(async_token_bucket_delay(NULL, 1), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_token_bucket_delay(&b, ASYNC_TOKEN_BUCKET_MAX), ASYNC_SEC(3600));
    ASSERT_EQ(async_token_bucket_add(&b, ASYNC_TOKEN_BUCKET_MAX), 0);  /* capped */
    ASSERT_EQ(async_token_bucket_available(&b), 2);
    async_runtime_destroy(&other);
    async_runtime_destroy(&rt);
}

TEST(sync_bad_arguments) {
    async_runtime rt;
    static sframe host;
    async_semaphore s;
    async_mutex m = ASYNC_MUTEX_INIT;
    async_rwlock l;
    async_notify n = ASYNC_NOTIFY_INIT;
    async_barrier b;
    async_cancel_token tok, child;
    async_waiter w;
    async_task *t = &host.task;
    ZERO(host); ZERO(w); ZERO(l);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, t, locker, "host");    /* a task to pass; it never runs here */
    async_semaphore_init(&s, 2);
    async_barrier_init(&b, 2);
    async_cancel_token_init(&tok);
    /* semaphore */
    ASSERT_EQ(async_semaphore_acquire_many(NULL, &s, &w, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_acquire_many(t, NULL, &w, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_acquire_many(t, &s, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_acquire_many(t, &s, &w, ASYNC_SEMAPHORE_MAX_PERMITS + 1),
              ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_try_acquire(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_try_acquire(&s, ASYNC_SEMAPHORE_MAX_PERMITS + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_release(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_add_permits(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_forget_held(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_forget_held(&s, 1), ASYNC_EINVAL);     /* none is held */
    ASSERT_EQ(async_semaphore_forget_permits(NULL, 1), 0);
    ASSERT_EQ(async_semaphore_close(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_semaphore_is_closed(NULL), 0);
    ASSERT_EQ(async_semaphore_available_permits(NULL), 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 2);
    ASSERT_EQ(async_semaphore_is_closed(&s), 0);
    CHECK(s.q.head == NULL && w.state == 0);
    /* mutex */
    ASSERT_EQ(async_mutex_lock(NULL, &m, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_lock(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_lock(t, &m, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_try_lock(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_unlock(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mutex_unlock(&m), ASYNC_EINVAL);                 /* not locked */
    ASSERT_EQ(async_mutex_is_locked(NULL), 0);
    ASSERT_EQ(async_mutex_is_locked(&m), 0);
    /* rwlock */
    ASSERT_EQ(async_rwlock_init(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read(NULL, &l, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read(t, &l, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_write(NULL, &l, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_write(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_write(t, &l, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_try_read(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_try_write(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_read_unlock(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_write_unlock(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_downgrade(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_rwlock_try_write(&l), 0);                        /* still free */
    ASSERT_EQ(async_rwlock_write_unlock(&l), 0);
    /* notify */
    ASSERT_EQ(async_notify_init(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_wait(NULL, &n, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_wait(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_wait(t, &n, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_enable(NULL, &n, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_enable(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_enable(t, &n, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_one(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_last(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_notify_waiters(NULL), ASYNC_EINVAL);
    CHECK(n.q.head == NULL && n.permit == 0);
    /* barrier */
    ASSERT_EQ(async_barrier_init(NULL, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_barrier_wait(NULL, &b, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_barrier_wait(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_barrier_wait(t, &b, NULL), ASYNC_EINVAL);
    ASSERT_EQ(b.count, 0);
    /* cancellation token */
    ASSERT_EQ(async_cancel_token_init(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_init_child(NULL, &child), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_init_child(&tok, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_init_child(&tok, &tok), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_cancel(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_is_cancelled(NULL), 0);
    ASSERT_EQ(async_cancel_token_wait(NULL, &tok, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_wait(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_wait(t, &tok, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_cancel_token_destroy(NULL), ASYNC_EINVAL);
    CHECK(tok.child == NULL && tok.q.head == NULL && !tok.cancelled);
    ASSERT_EQ(w.state, 0);
    async_runtime_destroy(&rt);
}

/* An acquire with permits free and a wait on a cancelled token complete at once, and
   each spends budget: with a budget of 1 the task yields between them. A barrier's
   leader (every wait, with one party) goes on without waiting and spends none, as
   Tokio's (only its waiting parties go through the budget). */
typedef struct {
    async_task task;
    async_waiter w;
    async_semaphore *s;
    async_barrier *b;
    async_cancel_token *tok;
    int i, rc, leaders;
} budget_frame;
static int budget_user(async_task *t) {
    budget_frame *f = (budget_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT(f->rc, async_semaphore_acquire(t, f->s, &f->w));
        if (f->rc < 0) ASYNC_RETURN(f->rc);
    }
    for (f->i = 0; f->i < 2; f->i++) {
        ASYNC_AWAIT(f->rc, async_barrier_wait(t, f->b, &f->w));
        f->leaders += f->rc;
    }
    for (f->i = 0; f->i < 2; f->i++) ASYNC_AWAIT(f->rc, async_cancel_token_wait(t, f->tok, &f->w));
    ASYNC_END(f->rc);
}
TEST(ready_waits_spend_budget) {
    async_runtime rt;
    async_runtime_desc d;
    static budget_frame f;
    async_semaphore s;
    async_barrier b;
    async_cancel_token tok;
    async_stats st;
    ZERO(f); ZERO(d); ZERO(b);                    /* a zeroed barrier: one party */
    d.budget = 1;
    async_runtime_init(&rt, &d);
    async_semaphore_init(&s, 3);
    async_cancel_token_init(&tok);
    async_cancel_token_cancel(&tok);
    f.s = &s; f.b = &b; f.tok = &tok;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, budget_user, "spender"), 0);
    ASSERT_EQ(async_semaphore_available_permits(&s), 0);
    ASSERT_EQ(f.leaders, 2);                      /* one party: every wait leads */
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 5);                       /* 3 acquires, 2 token waits */
    async_runtime_destroy(&rt);
}

/* A waiter woken by notify_waiters and cancelled before it ran passes nothing on
   (notify_waiters stores no permit); one chosen by notify_one would. */
TEST(notify_waiters_then_cancel_passes_nothing_on) {
    async_runtime rt;
    static nframe a, b;
    async_notify n;
    async_notify_init(&n);
    async_runtime_init(&rt, NULL);
    spawn_notified(&rt, &a, &n);
    async_runtime_run(&rt);
    async_notify_waiters(&n);
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.got, 0);
    ASSERT_EQ(n.permit, 0);
    spawn_notified(&rt, &b, &n);
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* b waits: nothing was stored */
    ASSERT_EQ(b.got, 0);
    async_notify_one(&n);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.got, 1);
    async_runtime_destroy(&rt);
}

/* enable on a waiter already queued is a no-op: it stays queued once. */
TEST(notify_enable_twice_queues_once) {
    async_runtime rt;
    static sframe host;
    async_notify n = ASYNC_NOTIFY_INIT;
    async_waiter w;
    ZERO(host); ZERO(w);
    async_runtime_init(&rt, NULL);
    async_task_spawn(&rt, &host.task, locker, "host");
    ASSERT_EQ(async_notify_enable(&host.task, &n, &w), 0);
    ASSERT_EQ(async_notify_enable(&host.task, &n, &w), 0);
    CHECK(n.q.head == &w && w.next == &w);        /* one node in the queue */
    async_notify_one(&n);
    ASSERT_EQ(w.state, 2);
    CHECK(n.q.head == NULL);
    ASSERT_EQ(n.permit, 0);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(semaphore_basics);
    RUN(semaphore_thousand_tasks_ten_permits);
    RUN(semaphore_fifo_no_barging);
    RUN(semaphore_cancel_returns_partial_and_granted_permits);
    RUN(semaphore_close_fails_waiters);
    RUN(semaphore_close_beats_permits_handed_over_but_not_yet_seen);
    RUN(sync_model_random_scripts);
    RUN(notify_barrier_model_random_scripts);
    RUN(token_model_random_scripts);
    RUN(semaphore_timeout_leaves_queue_clean);
    RUN(mutex_fifo_order);
    RUN(mutex_try_lock_and_misuse);
    RUN(mutex_abort_waiter_and_handed_over_lock);
    RUN(mutex_double_unlock_after_hand_over);
    RUN(mutex_abort_while_holding_via_cleanup);
    RUN(rwlock_readers_share_writer_excludes_and_is_not_starved);
    RUN(rwlock_try_downgrade_misuse);
    RUN(rwlock_writer_timeout_lets_readers_in);
    RUN(notify_one_stores_a_single_permit);
    RUN(notify_waiters_wakes_only_current_and_stores_nothing);
    RUN(notify_one_oldest_last_newest);
    RUN(notify_cancelled_after_chosen_forwards);
    RUN(notify_enable_registers_before_waiting);
    RUN(barrier_one_leader_per_generation);
    RUN(barrier_zero_is_one_and_cancel_takes_party_out);
    RUN(token_tree);
    RUN(token_deep_tree_and_destroy_reparents);
    RUN(token_wait_abort_and_destroy_busy);
    RUN(token_bucket_burst_then_pace_in_order);
    RUN(token_bucket_large_request_holds_back_smaller_ones);
    RUN(token_bucket_cancelled_wait_passes_its_tokens_on);
    RUN(token_bucket_abort_of_the_head_moves_the_queue_on);
    RUN(token_bucket_real_clock);
    RUN(token_bucket_bad_arguments);
    RUN(bucket_model_random_scripts);
    RUN(sync_bad_arguments);
    RUN(ready_waits_spend_budget);
    RUN(notify_waiters_then_cancel_passes_nothing_on);
    RUN(notify_enable_twice_queues_once);
    DONE();
}
