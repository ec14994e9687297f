/* sync_model.h - a Semaphore, a Mutex and an RwLock driven by a script of bytes,
   checked against what must hold whatever the script: shared by tests/test_sync.c
   (random scripts from a seed) and tests/fuzz/fuzz_sync.c (libFuzzer's). Include it
   after async.h.

   Four tasks on a paused clock with auto-advance (FIFO or seeded random ready order,
   a budget of 1-3 or the default) each run their own list of operations: acquire
   1-3 permits of the semaphore (1-4 permits at first), lock the mutex, read- or
   write-lock the RwLock (a writer may downgrade) - plainly, with a timeout, or in a
   select against a sleep - or try to; hold what they got across a yield or a sleep,
   then give it back. A controller task sleeps and aborts any of them (a holder's
   cleanup gives back what it holds), adds or forgets semaphore permits, or closes
   the semaphore. Cancellation thus reaches every wait and every hold.

   What must hold: never two mutex holders, never a writer with anyone else; after
   every operation, a waiter queued on something means nothing is free for it
   (permits go to the head waiter at once), a closed semaphore has no waiter, and
   nobody got permits from a closed semaphore; when nothing can run any more, the
   permits and locks out are exactly those the tasks hold; at the end everything is
   back (the semaphore has its first permits plus those added, minus those forgotten)
   and no waiter is left.

   sync_model_run(data, len) returns 0, or the line of the first check that failed
   (sync_model_why says which). */
#ifndef SYNC_MODEL_H
#define SYNC_MODEL_H

enum { SM_NA = 4, SM_OPS = 16 };
enum { SM_NONE, SM_SEM, SM_MUTEX, SM_READ, SM_WRITE };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, mode, held;
    size_t permits;
    uint8_t ops[SM_OPS];
} sm_actor;

static struct {
    async_semaphore s;
    async_mutex m;
    async_rwlock l;
    sm_actor act[SM_NA + 1];
    size_t sem_held, total;
    int mx, rd, wr, fail_line;
    const char *why;
} sm;

static const char *sync_model_why(void) { return sm.why ? sm.why : ""; }

#define SM_CHECK(cond) do { \
        if (!(cond) && !sm.fail_line) { sm.fail_line = __LINE__; sm.why = #cond; } } while (0)

static void sm_invariants(void) {
    SM_CHECK(sm.mx <= 1 && sm.wr <= 1 && !(sm.wr && sm.rd));
    SM_CHECK(sm.s.permits == sm.total && sm.s.used >= sm.sem_held);
    SM_CHECK(!sm.s.q.head || (sm.s.used >= sm.s.permits && !sm.s.closed));
    SM_CHECK(!sm.m.q.head || sm.m.used == 1);
    SM_CHECK(!sm.l.q.head || sm.l.used == ASYNC_RWLOCK_MAX_READERS);
}

/* Took what a->held says: count it in. */
static void sm_got(sm_actor *a) {
    if (a->held == SM_SEM) {
        SM_CHECK(!sm.s.closed);
        sm.sem_held += a->permits;
    } else if (a->held == SM_MUTEX) {
        sm.mx++;
    } else if (a->held == SM_READ) {
        sm.rd++;
    } else if (a->held == SM_WRITE) {
        sm.wr++;
    }
    sm_invariants();
}

/* Give back what a holds. */
static void sm_put(sm_actor *a) {
    if (a->held == SM_SEM) {
        sm.sem_held -= a->permits;
        SM_CHECK(async_semaphore_release(&sm.s, a->permits) == 0);
    } else if (a->held == SM_MUTEX) {
        sm.mx--;
        SM_CHECK(async_mutex_unlock(&sm.m) == 0);
    } else if (a->held == SM_READ) {
        sm.rd--;
        SM_CHECK(async_rwlock_read_unlock(&sm.l) == 0);
    } else if (a->held == SM_WRITE) {
        sm.wr--;
        SM_CHECK(async_rwlock_write_unlock(&sm.l) == 0);
    }
    a->held = SM_NONE;
}

/* One wait of the kind op says, plainly, with a timeout or in a select. */
static int sm_wait(async_task *t, sm_actor *a) {
    if (a->op == 0) return async_semaphore_acquire_many(t, &sm.s, &a->w, a->permits);
    if (a->op == 2) return async_mutex_lock(t, &sm.m, &a->w);
    if (a->op == 4) return async_rwlock_read(t, &sm.l, &a->w);
    return async_rwlock_write(t, &sm.l, &a->w);
}

static int sm_task(async_task *t) {
    sm_actor *a = (sm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        a->mode = a->arg >> 3 & 3;
        a->permits = (size_t)(1 + a->arg % 3);
        a->rc = 0;
        if (a->op == 0 || a->op == 2 || a->op == 4 || a->op == 5) {
            if (a->mode == 1) {
                ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4), sm_wait(t, a));
            } else if (a->mode == 2) {
                ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 4) ? ASYNC_SELECT_BIASED
                                                            : ASYNC_SELECT_FAIR);
                    ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc, sm_wait(t, a));
                    ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                        async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
                ASYNC_SELECT_END(&a->sel);
                if (a->sel.winner != 0) a->rc = ASYNC_ETIMEDOUT;
            } else {
                ASYNC_AWAIT(a->rc, sm_wait(t, a));
            }
            SM_CHECK(a->rc == 0 || a->rc == ASYNC_ETIMEDOUT ||
                     (a->op == 0 && a->rc == ASYNC_ECLOSED));
            if (a->rc == 0)
                a->held = a->op == 0 ? SM_SEM : a->op == 2 ? SM_MUTEX
                        : a->op == 4 ? SM_READ : SM_WRITE;
        } else if (a->op == 1) {
            if (async_semaphore_try_acquire(&sm.s, a->permits) == 0) a->held = SM_SEM;
        } else if (a->op == 3) {
            if (async_mutex_try_lock(&sm.m) == 0) a->held = SM_MUTEX;
        } else if (a->op == 6) {
            if ((a->arg & 1) ? async_rwlock_try_write(&sm.l) == 0
                             : async_rwlock_try_read(&sm.l) == 0)
                a->held = (a->arg & 1) ? SM_WRITE : SM_READ;
        } else if (a->arg & 1) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        if (a->held) {                          /* hold it a while, then give it back */
            sm_got(a);
            if (a->held == SM_WRITE && (a->arg & 2)) {
                SM_CHECK(async_rwlock_downgrade(&sm.l) == 0);
                sm.wr--;
                a->held = SM_READ;
                sm_got(a);
            }
            if (a->arg & 1) ASYNC_YIELD();
            else ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 3)));
            sm_put(a);
        }
        sm_invariants();
    }
    ASYNC_CLEANUP();
    sm_put(a);                                  /* aborted holding something */
    ASYNC_END(0);
}

/* Sleeps, then aborts a task, adds or forgets permits, or closes the semaphore. */
static int sm_controller(async_task *t) {
    sm_actor *a = (sm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 3;
        a->arg = a->ops[a->i] >> 2;
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->op == 1) {
            async_task_abort(&sm.act[a->arg % SM_NA].task);
        } else if (a->op == 2 && (a->arg & 16)) {
            SM_CHECK(async_semaphore_close(&sm.s) == 0);
        } else if (a->op == 2) {
            SM_CHECK(async_semaphore_add_permits(&sm.s, 1) == 0);
            sm.total++;
        } else if (a->op == 3) {
            sm.total -= async_semaphore_forget_permits(&sm.s, 1);
        }
        sm_invariants();
    }
    ASYNC_END(0);
}

static int sync_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j;
    memset(&sm, 0, sizeof sm);
    memset(&d, 0, sizeof d);
    sm.total = (size_t)(1 + (len > 0 ? data[0] % 4 : 0));
    d.budget = budgets[len > 0 ? data[0] / 4 % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    async_semaphore_init(&sm.s, sm.total);
    async_mutex_init(&sm.m);
    async_rwlock_init(&sm.l);
    for (k = 0; k <= SM_NA; k++) {
        sm_actor *a = &sm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (SM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < SM_NA ? sm_task : sm_controller, "model");
    }
    async_runtime_run(&rt);
    /* Nothing can run any more: what is out is what the tasks hold, and what the
       head waiter got of what it asked for (it waits for the rest). */
    SM_CHECK(sm.s.used == sm.sem_held + (sm.s.q.head ? sm.s.q.head->got : 0));
    SM_CHECK(!sm.s.q.head || sm.s.q.head->next == sm.s.q.head || sm.s.q.head->next->got == 0);
    SM_CHECK(sm.m.used == (size_t)sm.mx);
    SM_CHECK(sm.l.readers == (uint32_t)sm.rd && sm.l.writer == (sm.wr != 0));
    SM_CHECK(sm.l.used == (size_t)sm.rd + (size_t)sm.wr * ASYNC_RWLOCK_MAX_READERS);
    sm_invariants();
    async_runtime_destroy(&rt);                 /* aborts what is left: cleanups run */
    SM_CHECK(sm.sem_held == 0 && sm.mx == 0 && sm.rd == 0 && sm.wr == 0);
    SM_CHECK(sm.s.used == 0 && sm.s.permits == sm.total && !sm.s.q.head);
    SM_CHECK(sm.m.used == 0 && !sm.m.q.head && !sm.m.handed);
    SM_CHECK(sm.l.used == 0 && sm.l.readers == 0 && !sm.l.writer && !sm.l.q.head);
    return sm.fail_line;
}

#endif
