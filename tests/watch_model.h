/* watch_model.h - a watch channel driven by a script of bytes, checked against a
   model of its value and versions: shared by tests/test_chan.c (random scripts from
   a seed) and tests/fuzz/fuzz_watch.c (libFuzzer's). Include it after async.h.

   Two sender tasks (a handle each) and three receiver tasks on a paused clock with
   auto-advance (FIFO or seeded random ready order, a budget of 1-3 or the default).
   Senders send (stored only with a receiver), send_replace, send_modify (always
   stored), yield or sleep; receivers subscribe, unsubscribe, wait for a change
   (plainly, with a timeout, in a select against a sleep), borrow, borrow_and_update,
   has_changed, mark_changed, mark_unchanged, yield or sleep. A controller task
   aborts any of them.

   What must hold: the value is the last one stored and every store bumps the
   version; send gives ASYNC_ENORECV exactly when nobody is subscribed (and stores
   nothing); send_replace hands back the previous value; changed completes only on
   a version the receiver has not seen (then seen), gives ASYNC_ECLOSED only once
   every sender is gone and everything is seen; has_changed says the same; after
   every operation, nobody waits while there is an unseen version or the end. At the
   end no waiter or subscriber is left.

   watch_model_run(data, len) returns 0, or the line of the first check that failed
   (watch_model_why says which). */
#ifndef WATCH_MODEL_H
#define WATCH_MODEL_H

enum { WM_NS = 2, WM_NR = 3, WM_NACT = WM_NS + WM_NR + 1, WM_OPS = 16 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    async_watch_rx rx;
    int i, n, op, arg, rc, rc1, subscribed, released;
    uint32_t item, old;
    uint64_t seen;                      /* the model's: the version it has seen */
    uint8_t ops[WM_OPS];
} wm_actor;

static struct {
    async_watch ch;
    wm_actor act[WM_NACT];
    uint32_t value, receivers, senders;
    uint64_t version;
    int fail_line;
    const char *why;
} wm;

static const char *watch_model_why(void) { return wm.why ? wm.why : ""; }

#define WM_CHECK(cond) do { \
        if (!(cond) && !wm.fail_line) { wm.fail_line = __LINE__; wm.why = #cond; } } while (0)

static void wm_invariants(void) {
    int k;
    WM_CHECK(wm.ch.version == wm.version && wm.ch.receivers == wm.receivers &&
             wm.ch.senders == wm.senders && wm.ch.closed == (wm.senders == 0));
    for (k = WM_NS; k < WM_NS + WM_NR; k++) {
        const wm_actor *a = &wm.act[k];
        if (a->subscribed) WM_CHECK(a->rx.seen == a->seen);
        if (a->w.state == ASYNC__W_WAITING)     /* nothing new, not the end */
            WM_CHECK(a->subscribed && a->seen == wm.version && wm.senders > 0);
    }
}

static void wm_stored(void) {
    wm.version++;
}

static void wm_modify(void *value, void *user) {
    uint32_t v;
    (void)user;
    memcpy(&v, value, sizeof v);
    v += 1000;
    memcpy(value, &v, sizeof v);
}

static int wm_sender(async_task *t) {
    wm_actor *a = (wm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 7;
        a->arg = a->ops[a->i] >> 3;
        if (a->op <= 2) {
            a->item = wm.value + 1;
            a->rc = async_watch_send(&wm.ch, &a->item);
            if (a->rc == ASYNC_ENORECV) {
                WM_CHECK(wm.receivers == 0);
            } else {
                WM_CHECK(a->rc == 0 && wm.receivers > 0);
                wm.value = a->item;
                wm_stored();
            }
        } else if (a->op == 3) {
            a->item = wm.value + 7;
            WM_CHECK(async_watch_send_replace(&wm.ch, &a->item, &a->old) == 0);
            WM_CHECK(a->old == wm.value);
            wm.value = a->item;
            wm_stored();
        } else if (a->op == 4) {
            WM_CHECK(async_watch_send_modify(&wm.ch, wm_modify, NULL) == 0);
            wm.value += 1000;
            wm_stored();
        } else if (a->op == 5) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        wm_invariants();
    }
    ASYNC_CLEANUP();
    if (!a->released) {
        a->released = 1;
        wm.senders--;
        WM_CHECK(async_watch_sender_release(&wm.ch) == 0);
    }
    ASYNC_END(0);
}

/* changed gave rc. */
static void wm_changed(wm_actor *a, int rc) {
    if (rc == 0) {
        WM_CHECK(a->seen != wm.version);
        a->seen = wm.version;
    } else if (rc == ASYNC_ECLOSED) {
        WM_CHECK(wm.senders == 0 && a->seen == wm.version);
    } else {
        WM_CHECK(rc == ASYNC_ETIMEDOUT);
    }
}

static int wm_receiver(async_task *t) {
    wm_actor *a = (wm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->op = a->ops[a->i] & 15;
        a->arg = a->ops[a->i] >> 4;
        if (a->op == 0 && !a->subscribed) {
            WM_CHECK(async_watch_subscribe(&wm.ch, &a->rx) == 0);
            a->subscribed = 1;
            a->seen = wm.version;               /* the current value counts as seen */
            wm.receivers++;
        } else if (a->op == 1 && a->subscribed) {
            WM_CHECK(async_watch_unsubscribe(&a->rx) == 0);
            a->subscribed = 0;
            wm.receivers--;
        } else if (a->op <= 1) {
            ASYNC_YIELD();
        } else if (!a->subscribed) {
            WM_CHECK(async_watch_has_changed(&a->rx) == ASYNC_EINVAL);
        } else if (a->op <= 4) {
            ASYNC_AWAIT(a->rc, async_watch_wait_changed(t, &a->rx, &a->w));
            wm_changed(a, a->rc);
        } else if (a->op == 5) {
            ASYNC_AWAIT_TIMEOUT(a->rc, &a->timer, ASYNC_MS(a->arg % 4),
                                async_watch_wait_changed(t, &a->rx, &a->w));
            wm_changed(a, a->rc);
        } else if (a->op == 6) {
            ASYNC_SELECT_BEGIN(&a->sel, 2, (a->arg & 1) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&a->sel, 0, 1, a->rc,
                                    async_watch_wait_changed(t, &a->rx, &a->w));
                ASYNC_SELECT_BRANCH(&a->sel, 1, 1, a->rc1,
                                    async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
            ASYNC_SELECT_END(&a->sel);
            if (a->sel.winner == 0) wm_changed(a, a->rc);
        } else if (a->op == 7) {
            WM_CHECK(async_watch_borrow(&a->rx, &a->item) == 0 && a->item == wm.value);
        } else if (a->op == 8) {
            WM_CHECK(async_watch_borrow_and_update(&a->rx, &a->item) == 0 &&
                     a->item == wm.value);
            a->seen = wm.version;
        } else if (a->op == 9) {
            a->rc = async_watch_has_changed(&a->rx);
            WM_CHECK(a->rc == (wm.senders == 0 ? (int)ASYNC_ECLOSED
                                               : (int)(a->seen != wm.version)));
        } else if (a->op == 10) {
            WM_CHECK(async_watch_mark_changed(&a->rx) == 0);
            a->seen = wm.version - 1;
        } else if (a->op == 11) {
            WM_CHECK(async_watch_mark_unchanged(&a->rx) == 0);
            a->seen = wm.version;
        } else if (a->op == 12) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(a->arg % 4)));
        }
        wm_invariants();
    }
    ASYNC_CLEANUP();
    if (a->subscribed) {
        a->subscribed = 0;
        wm.receivers--;
        WM_CHECK(async_watch_unsubscribe(&a->rx) == 0);
    }
    ASYNC_END(0);
}

static int wm_controller(async_task *t) {
    wm_actor *a = (wm_actor *)t;
    ASYNC_BEGIN(t);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->arg = a->ops[a->i];
        ASYNC_AWAIT(a->rc, async_time_sleep(t, &a->timer, ASYNC_MS(1 + a->arg % 4)));
        if (a->arg & 4) async_task_abort(&wm.act[(a->arg >> 3) % (WM_NS + WM_NR)].task);
        wm_invariants();
    }
    ASYNC_END(0);
}

static int watch_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int k, j;
    memset(&wm, 0, sizeof wm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    wm.value = 5;
    if (async_watch_init(&wm.ch, sizeof(uint32_t), NULL, &wm.value) != 0) return __LINE__;
    wm.version = wm.ch.version;
    async_watch_sender_clone(&wm.ch);           /* one handle per sender */
    wm.senders = WM_NS;
    for (k = 0; k < WM_NACT; k++) {
        wm_actor *a = &wm.act[k];
        a->n = (pos < len ? data[pos++] : 0) % (WM_OPS + 1);
        for (j = 0; j < a->n; j++) a->ops[j] = pos < len ? data[pos++] : 0;
        async_task_spawn(&rt, &a->task, k < WM_NS ? wm_sender
                                        : k < WM_NS + WM_NR ? wm_receiver : wm_controller,
                         "model");
    }
    async_runtime_run(&rt);
    WM_CHECK(!wm.ch.q.head);                    /* every sender is done: all ended */
    wm_invariants();
    async_runtime_destroy(&rt);
    WM_CHECK(wm.ch.receivers == 0 && wm.ch.senders == 0 && !wm.ch.q.head);
    WM_CHECK(async_watch_destroy(&wm.ch) == 0);
    return wm.fail_line;
}

#endif
