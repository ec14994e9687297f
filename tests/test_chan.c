/* Channels: mpsc (bounded and unbounded), oneshot, broadcast, watch, following Tokio's
   tests (tokio/tests/sync_mpsc.rs, sync_oneshot.rs, sync_broadcast.rs, sync_watch.rs):
   order, capacity edges, close and release semantics, reserve/permits, lag, versions,
   and cancellation of every wait without losing or duplicating an item. */
#include "test.h"
#include "chan_model.h"
#include "broadcast_model.h"
#include "watch_model.h"

#define MS(x) ASYNC_MS(x)

/* A task that sends `n` ints starting at `base` (or receives until closed). */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_mpsc *c;
    int base, n, i, rc, item, got[64], ngot, cleaned;
    async_time every, timeout;
} cframe;

static int sender(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->item = f->base + f->i;
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, f->c, &f->w, &f->item));
        if (f->rc < 0) break;
        logf_("s%d ", f->item);
    }
    async_mpsc_sender_release(f->c);
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}
static int receiver(async_task *t) {
    cframe *f = (cframe *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        if (f->timeout)
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_mpsc_recv(t, f->c, &f->w, &f->item));
        else
            ASYNC_AWAIT(f->rc, async_mpsc_recv(t, f->c, &f->w, &f->item));
        if (f->rc < 0) break;
        logf_("r%d ", f->item);
        if (f->ngot < 64) f->got[f->ngot++] = f->item;
        if (f->every) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->every));
    }
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}
static void spawn(async_runtime *rt, cframe *f, async_mpsc *c, async_task_fn fn, int base, int n) {
    ZERO(*f);
    f->c = c;
    f->base = base;
    f->n = n;
    async_task_spawn(rt, &f->task, fn, "chan");
}

/* ---- mpsc ------------------------------------------------------------------------ */
TEST(mpsc_order_and_backpressure_capacity_1) {
    async_runtime rt;
    static cframe s, r;
    async_mpsc c;
    int store;
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 1, &store), 0);
    LOG_RESET();
    spawn(&rt, &s, &c, sender, 0, 4);
    spawn(&rt, &r, &c, receiver, 0, 0);
    r.every = MS(10);                             /* a slow receiver */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* the sender never runs more than one item ahead of the receiver */
    ASSERT_STR(test_log, "s0 r0 s1 r1 s2 r2 s3 r3 ");
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);               /* closed after the sender left, drained */
    ASSERT_EQ(r.ngot, 4);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(mpsc_many_senders_fifo_when_full) {
    async_runtime rt;
    static cframe s[3], r;
    async_mpsc c;
    int i;
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 2, NULL), 0);      /* allocated */
    async_mpsc_sender_clone(&c);
    async_mpsc_sender_clone(&c);                  /* three senders */
    for (i = 0; i < 3; i++) spawn(&rt, &s[i], &c, sender, 10 * i, 3);
    spawn(&rt, &r, &c, receiver, 0, 0);
    r.every = MS(1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.ngot, 9);
    /* per sender, items arrive in order; blocked senders are served in turn */
    for (i = 0; i < 9; i++) CHECK(r.got[i] % 10 < 3);
    {
        int last[3] = {-1, -1, -1};
        for (i = 0; i < 9; i++) {
            CHECK(r.got[i] % 10 > last[r.got[i] / 10]);
            last[r.got[i] / 10] = r.got[i] % 10;
        }
    }
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    async_runtime_destroy(&rt);
}

TEST(mpsc_try_send_try_recv) {
    async_mpsc c;
    int v = 7, out = 0;
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 2, NULL), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_EAGAIN);       /* empty, senders live */
    ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);
    v = 8;
    ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);
    ASSERT_EQ(async_mpsc_try_send(&c, &v), ASYNC_EAGAIN);         /* full */
    ASSERT_EQ(async_mpsc_len(&c), 2);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(out, 7);
    ASSERT_EQ(async_mpsc_sender_release(&c), 0);
    ASSERT_EQ(async_mpsc_sender_release(&c), ASYNC_EINVAL);       /* no sender left */
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);                  /* drain first */
    ASSERT_EQ(out, 8);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_ECLOSED);      /* then disconnected */
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), ASYNC_SEMAPHORE_MAX_PERMITS + 1, NULL),
              ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_init(&c, SIZE_MAX / 2, 4, NULL), ASYNC_EINVAL);   /* overflow */
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 1, NULL), 0);
    ASSERT_EQ(async_mpsc_try_send(&c, NULL), ASYNC_EINVAL);
    async_mpsc_destroy(&c);
}

TEST(mpsc_close_drains_and_fails_senders) {
    async_runtime rt;
    static cframe s1, s2;
    async_mpsc c;
    int v = 1, out;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 1, NULL);
    async_mpsc_sender_clone(&c);
    spawn(&rt, &s1, &c, sender, 0, 1);            /* fills the slot */
    spawn(&rt, &s2, &c, sender, 100, 1);          /* waits for a slot */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_mpsc_len(&c), 1);
    async_mpsc_close(&c);
    async_runtime_run(&rt);
    ASSERT_EQ(s2.rc, ASYNC_ECLOSED);              /* a waiting sender fails */
    ASSERT_EQ(async_mpsc_try_send(&c, &v), ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);  /* what was buffered is kept */
    ASSERT_EQ(out, 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_ECLOSED);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* A slot handed to a waiting sender that has not run yet when the receiver closes:
   the close wins (Tokio: a queued acquire polled after close fails), the slot goes
   back and the channel can end. */
TEST(mpsc_close_beats_a_slot_handed_over_but_not_yet_seen) {
    async_runtime rt;
    static cframe s1, s2;
    async_mpsc c;
    int out;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 1, NULL);
    async_mpsc_sender_clone(&c);
    spawn(&rt, &s1, &c, sender, 0, 1);            /* fills the slot */
    spawn(&rt, &s2, &c, sender, 100, 1);          /* waits for a slot */
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);  /* the slot goes to s2 ... */
    ASSERT_EQ(c.used, 1);
    async_mpsc_close(&c);                         /* ... which has not run yet */
    async_runtime_run(&rt);
    ASSERT_EQ(s2.rc, ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_len(&c), 0);
    ASSERT_EQ(c.used, 0);                         /* the slot came back */
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    async_runtime_destroy(&rt);
}

TEST(mpsc_permits_reserve_capacity_and_close) {
    async_mpsc c;
    int v = 5, out;
    async_mpsc_init(&c, sizeof(int), 2, NULL);
    ASSERT_EQ(async_mpsc_capacity(&c), 2);
    ASSERT_EQ(async_mpsc_try_reserve(&c), 0);
    ASSERT_EQ(async_mpsc_capacity(&c), 1);        /* a permit holds a slot */
    ASSERT_EQ(async_mpsc_send_reserved(&c, &v), 0);
    ASSERT_EQ(async_mpsc_capacity(&c), 1);        /* back only after the receive */
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(async_mpsc_capacity(&c), 2);
    ASSERT_EQ(async_mpsc_send_reserved(&c, &v), ASYNC_EINVAL);    /* no permit out */
    ASSERT_EQ(async_mpsc_try_reserve(&c), 0);
    ASSERT_EQ(async_mpsc_release_reserved(&c), 0);                /* dropped permit */
    ASSERT_EQ(async_mpsc_capacity(&c), 2);
    ASSERT_EQ(async_mpsc_release_reserved(&c), ASYNC_EINVAL);
    /* close, then a permit issued before may still send; the end comes after it */
    ASSERT_EQ(async_mpsc_try_reserve(&c), 0);
    async_mpsc_close(&c);
    ASSERT_EQ(async_mpsc_try_reserve(&c), ASYNC_ECLOSED);
    async_mpsc_sender_release(&c);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_EAGAIN);       /* a permit is out */
    ASSERT_EQ(async_mpsc_send_reserved(&c, &v), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_ECLOSED);
    async_mpsc_destroy(&c);
}

TEST(mpsc_cancel_send_and_recv_lose_nothing) {
    async_runtime rt;
    static cframe s1, s2, s3, r;
    async_mpsc c;
    int out;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 1, NULL);
    async_mpsc_sender_clone(&c);
    async_mpsc_sender_clone(&c);
    spawn(&rt, &s1, &c, sender, 0, 1);
    spawn(&rt, &s2, &c, sender, 10, 1);           /* waits, then aborted: never sent */
    spawn(&rt, &s3, &c, sender, 20, 1);
    async_runtime_step(&rt, 0);
    async_task_abort(&s2.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(s2.cleaned, 1);
    ASSERT_EQ(async_mpsc_sender_release(&c), 0); /* s2 would have released its handle */
    /* a receiver with a timeout shorter than the gap: times out, loses nothing */
    spawn(&rt, &r, &c, receiver, 0, 0);
    r.timeout = MS(5);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.ngot, 2);
    ASSERT_EQ(r.got[0], 0);
    ASSERT_EQ(r.got[1], 20);
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_ECLOSED);
    CHECK(c.send_q.head == NULL && c.recv_q.head == NULL);
    ASSERT_EQ(c.used, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(mpsc_recv_timeout_then_item) {
    async_runtime rt;
    static cframe r;
    async_mpsc c;
    int v = 42;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, NULL);
    spawn(&rt, &r, &c, receiver, 0, 0);
    r.timeout = MS(10);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_ETIMEDOUT);
    CHECK(c.recv_q.head == NULL);
    ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);    /* still usable */
    spawn(&rt, &r, &c, receiver, 0, 0);
    r.timeout = MS(10);
    async_runtime_run(&rt);
    ASSERT_EQ(r.got[0], 42);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(mpsc_unbounded_blocks_and_odd_item_sizes) {
    enum { N = 100000 };
    async_mpsc c;
    unsigned char item[37], out[37];
    long i, bad = 0, a0 = test_allocs;
    ASSERT_EQ(async_mpsc_init(&c, sizeof item, 0, NULL), 0);
    ASSERT_EQ(async_mpsc_capacity(&c), SIZE_MAX);
    for (i = 0; i < N; i++) {
        memset(item, (int)(i & 255), sizeof item);
        item[0] = (unsigned char)(i >> 8);
        ASSERT_EQ(async_mpsc_try_send(&c, item), 0);
    }
    ASSERT_EQ(async_mpsc_len(&c), N);
    CHECK(test_allocs - a0 >= N / 32);
    for (i = 0; i < N; i++) {
        if (async_mpsc_try_recv(&c, out) != 0 || out[0] != (unsigned char)(i >> 8) ||
            out[36] != (unsigned char)(i & 255)) bad++;
    }
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, out), ASYNC_EAGAIN);
    /* interleaved use reuses the kept blocks */
    a0 = test_allocs;
    for (i = 0; i < 1000; i++) {
        async_mpsc_try_send(&c, item);
        async_mpsc_try_recv(&c, out);
    }
    ASSERT_EQ(test_allocs - a0, 0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
}

TEST(mpsc_unbounded_allocation_failure) {
    async_mpsc c;
    int v = 1, out = 0, i;
    async_mpsc_init(&c, sizeof v, 0, NULL);
    for (i = 0; i < 32; i++) async_mpsc_try_send(&c, &v);       /* one full block */
    test_fail_at = test_alloc_calls + 1;
    v = 99;
    ASSERT_EQ(async_mpsc_try_send(&c, &v), ASYNC_ENOMEM);
    ASSERT_EQ(async_mpsc_len(&c), 32);                           /* nothing half-done */
    ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);                   /* next time it works */
    for (i = 0; i < 33; i++) ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(out, 99);
    async_mpsc_destroy(&c);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_mpsc_init(&c, sizeof v, 8, NULL), ASYNC_ENOMEM);
}

/* ---- typed wrappers: the same semantics through the inline fast paths ------------- */
typedef struct { int id; short tag; } pair;
ASYNC_MPSC_TYPED(pairs, pair)
/* ---- a failed init leaves an inert object ------------------------------------------
   An init whose allocation fails returns ASYNC_ENOMEM and leaves a closed, empty object:
   every operation after it returns an error (or waits for nothing), none touches the
   missing buffer (ASan checks that in make sanitize), and destroy is harmless. Chat used
   to crash this way: mpsc_init failed, kept its capacity, and try_send wrote through
   NULL. */
typedef struct {
    async_task task;
    async_waiter w;
    async_mpsc *c;
    async_oneshot *o;
    async_broadcast_rx *brx;
    async_watch_rx *wrx;
    int rc[12];
    pair p, many[4];
} inert_frame;
static int inert_ops(async_task *t) {
    inert_frame *f = (inert_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc[0], async_mpsc_send(t, f->c, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[1], async_mpsc_reserve(t, f->c, &f->w));
    ASYNC_AWAIT(f->rc[2], async_mpsc_recv(t, f->c, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[3], async_mpsc_recv_many(t, f->c, &f->w, f->many, 4));
    ASYNC_AWAIT(f->rc[4], pairs_send(t, f->c, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[5], pairs_recv(t, f->c, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[6], pairs_recv_many(t, f->c, &f->w, f->many, 4));
    ASYNC_AWAIT(f->rc[7], async_oneshot_recv(t, f->o, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[8], async_broadcast_recv(t, f->brx, &f->w, &f->p));
    ASYNC_AWAIT(f->rc[9], async_watch_wait_changed(t, f->wrx, &f->w));
    ASYNC_AWAIT(f->rc[10], async_mpsc_wait_closed(t, f->c, &f->w)); /* closed: at once */
    ASYNC_AWAIT(f->rc[11], async_oneshot_wait_closed(t, f->o, &f->w));
    ASYNC_END(0);
}
static void watch_poke(void *value, void *user) { (void)user; *(int *)value = 1; }
TEST(failed_init_leaves_an_inert_object) {
    async_runtime rt;
    static inert_frame f;
    async_mpsc c;
    async_oneshot o;
    async_broadcast b;
    async_broadcast_rx brx;
    async_watch w;
    async_watch_rx wrx;
    pair p = {1, 2}, q;
    int i;
    ZERO(f);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_mpsc_init(&c, sizeof(pair), 8, NULL), ASYNC_ENOMEM);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_oneshot_init(&o, sizeof(pair), NULL), ASYNC_ENOMEM);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_broadcast_init(&b, sizeof(pair), 8, NULL), ASYNC_ENOMEM);
    test_fail_at = test_alloc_calls + 1;
    ASSERT_EQ(async_watch_init(&w, sizeof(pair), NULL, &p), ASYNC_ENOMEM);
    test_fail_at = 0;
    /* mpsc */
    ASSERT_EQ(async_mpsc_try_send(&c, &p), ASYNC_ECLOSED);
    ASSERT_EQ(pairs_try_send(&c, &p), ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_try_reserve(&c), ASYNC_ECLOSED);
    CHECK(async_mpsc_send_reserved(&c, &p) < 0);
    CHECK(async_mpsc_release_reserved(&c) < 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &q), ASYNC_ECLOSED);
    ASSERT_EQ(pairs_try_recv(&c, &q), ASYNC_ECLOSED);
    CHECK(async_mpsc_sender_clone(&c) < 0);         /* no sender is left to clone */
    CHECK(async_mpsc_sender_release(&c) < 0);
    ASSERT_EQ(async_mpsc_is_closed(&c), 1);
    ASSERT_EQ(async_mpsc_len(&c), 0);
    /* oneshot */
    ASSERT_EQ(async_oneshot_send(&o, &p), ASYNC_ECLOSED);
    ASSERT_EQ(async_oneshot_try_recv(&o, &q), ASYNC_ECLOSED);
    ASSERT_EQ(async_oneshot_is_closed(&o), 1);
    /* broadcast: a receiver may subscribe, and sees the end */
    ASSERT_EQ(async_broadcast_subscribe(&b, &brx), 0);
    ASSERT_EQ(async_broadcast_send(&b, &p), ASYNC_ECLOSED);
    ASSERT_EQ(async_broadcast_try_recv(&brx, &q), ASYNC_ECLOSED);
    CHECK(async_broadcast_sender_clone(&b) < 0);
    CHECK(async_broadcast_sender_release(&b) < 0);
    /* watch */
    ASSERT_EQ(async_watch_subscribe(&w, &wrx), 0);
    ASSERT_EQ(async_watch_send(&w, &p), ASYNC_ECLOSED);
    ASSERT_EQ(async_watch_send_replace(&w, &p, &q), ASYNC_ECLOSED);
    ASSERT_EQ(async_watch_send_modify(&w, watch_poke, NULL), ASYNC_ECLOSED);
    ASSERT_EQ(async_watch_borrow(&wrx, &q), ASYNC_ECLOSED);
    ASSERT_EQ(async_watch_borrow_and_update(&wrx, &q), ASYNC_ECLOSED);
    ASSERT_EQ(async_watch_has_changed(&wrx), ASYNC_ECLOSED);
    CHECK(async_watch_sender_clone(&w) < 0);
    CHECK(async_watch_sender_release(&w) < 0);
    /* the waiting operations end at once */
    test_rt_paused(&rt);
    f.c = &c;
    f.o = &o;
    f.brx = &brx;
    f.wrx = &wrx;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, inert_ops, "inert"), 0);
    for (i = 0; i < 10; i++)
        if (f.rc[i] != ASYNC_ECLOSED) FAIL_("operation %d gave %d, not ECLOSED", i, f.rc[i]);
    ASSERT_EQ(f.rc[10], 0);
    ASSERT_EQ(f.rc[11], 0);
    async_runtime_destroy(&rt);
    ASSERT_EQ(async_broadcast_unsubscribe(&brx), 0);
    ASSERT_EQ(async_watch_unsubscribe(&wrx), 0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_oneshot_destroy(&o), 0);
    ASSERT_EQ(async_broadcast_destroy(&b), 0);
    ASSERT_EQ(async_watch_destroy(&w), 0);
}

typedef struct { async_task task; async_waiter w; async_timer timer; async_mpsc *c; int i, n, rc, ngot; pair p, got[32]; } tframe;
static int typed_sender(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->p.id = f->i;
        f->p.tag = (short)(f->i * 3);
        ASYNC_AWAIT(f->rc, pairs_send(t, f->c, &f->w, &f->p));
        if (f->rc < 0) break;
        logf_("s%d ", f->i);
    }
    async_mpsc_sender_release(f->c);
    ASYNC_END(0);
}
static int typed_receiver(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, pairs_recv(t, f->c, &f->w, &f->p));
        if (f->rc < 0) break;
        logf_("r%d ", f->p.id);
        f->got[f->ngot++] = f->p;
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(1)));
    }
    ASYNC_END(0);
}
TEST(typed_mpsc_same_semantics) {
    async_runtime rt;
    static tframe s, r;
    async_mpsc c;
    pair store[2], x = {7, 8}, y;
    int i;
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(pair), 2, store), 0);
    ZERO(s); ZERO(r);
    s.c = r.c = &c;
    s.n = 6;
    LOG_RESET();
    async_task_spawn(&rt, &s.task, typed_sender, "s");
    async_task_spawn(&rt, &r.task, typed_receiver, "r");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* two slots of room: the sender runs two ahead of the slow receiver, no more */
    ASSERT_STR(test_log, "s0 s1 r0 s2 r1 s3 r2 s4 r3 s5 r4 r5 ");
    ASSERT_EQ(r.ngot, 6);
    for (i = 0; i < 6; i++) { ASSERT_EQ(r.got[i].id, i); ASSERT_EQ(r.got[i].tag, i * 3); }
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    ASSERT_EQ(c.used, 0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    /* the slow paths: unbounded, a mismatched item size, try_ forms */
    ASSERT_EQ(async_mpsc_init(&c, sizeof(pair), 0, NULL), 0);
    ASSERT_EQ(pairs_try_send(&c, &x), 0);
    ASSERT_EQ(pairs_try_recv(&c, &y), 0);
    ASSERT_EQ(y.id, 7);
    ASSERT_EQ(pairs_try_recv(&c, &y), ASYNC_EAGAIN);
    async_mpsc_destroy(&c);
    /* a channel whose item size is not sizeof(type): refused, not overrun */
    ASSERT_EQ(async_mpsc_init(&c, 32, 0, NULL), 0);
    ASSERT_EQ(pairs_try_send(&c, &x), ASYNC_EINVAL);
    ASSERT_EQ(pairs_try_recv(&c, &y), ASYNC_EINVAL);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}
TEST(typed_mpsc_abort_and_close) {
    async_runtime rt;
    static tframe s, r;
    async_mpsc c;
    pair y;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(pair), 1, NULL);
    ZERO(s); ZERO(r);
    s.c = r.c = &c;
    s.n = 3;
    async_task_spawn(&rt, &s.task, typed_sender, "s");
    async_runtime_step(&rt, 0);                   /* one sent, the second waits */
    ASSERT_EQ(s.i, 1);
    async_task_abort(&s.task);                    /* its waiting send is dropped */
    async_runtime_run(&rt);
    ASSERT_EQ(c.used, 1);                         /* only the item sent */
    CHECK(c.send_q.head == NULL);
    async_mpsc_sender_release(&c);                /* the aborted sender's handle */
    ASSERT_EQ(pairs_try_recv(&c, &y), 0);
    ASSERT_EQ(y.id, 0);
    ASSERT_EQ(pairs_try_recv(&c, &y), ASYNC_ECLOSED);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* ---- recv_many (Tokio's Receiver::recv_many) -------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_mpsc *c;
    size_t limit;
    async_time every, timeout;
    int rc, batch[8], got[64], ngot, nbatch, cleaned;
} mframe;
static int many_receiver(async_task *t) {
    mframe *f = (mframe *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        if (f->timeout)
            ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, f->timeout,
                                async_mpsc_recv_many(t, f->c, &f->w, f->batch, f->limit));
        else
            ASYNC_AWAIT(f->rc, async_mpsc_recv_many(t, f->c, &f->w, f->batch, f->limit));
        if (f->rc <= 0) break;
        {
            int i;
            CHECK((size_t)f->rc <= f->limit);
            for (i = 0; i < f->rc && f->ngot < 64; i++) f->got[f->ngot++] = f->batch[i];
        }
        f->nbatch++;
        logf_("b%d ", f->rc);
        if (f->every) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->every));
    }
    ASYNC_CLEANUP();
    f->cleaned++;
    ASYNC_END(f->rc);
}

TEST(mpsc_recv_many_batches_in_order_and_frees_slots_fifo) {
    async_runtime rt;
    static cframe s[3];
    static mframe r;
    async_mpsc c;
    int i, last[3] = {-1, -1, -1};
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 4, NULL), 0);
    async_mpsc_sender_clone(&c);
    async_mpsc_sender_clone(&c);
    for (i = 0; i < 3; i++) spawn(&rt, &s[i], &c, sender, 10 * i, 5);
    ZERO(r);
    r.c = &c;
    r.limit = 3;
    r.every = MS(1);                              /* slow: the ring fills, senders queue */
    async_task_spawn(&rt, &r.task, many_receiver, "many");
    LOG_RESET();
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.ngot, 15);
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);               /* 0 is never "closed": an error is */
    for (i = 0; i < 15; i++) {                    /* each sender's items in its order */
        CHECK(r.got[i] % 10 == last[r.got[i] / 10] + 1);
        last[r.got[i] / 10] = r.got[i] % 10;
    }
    /* a full ring of 4 gives batches of the limit, and they wrap around the ring */
    {
        const char *p = test_log;
        int n3 = 0;
        while ((p = strstr(p, "b3 ")) != NULL) { n3++; p += 3; }
        ASSERT_EQ(n3, 5);
    }
    ASSERT_EQ(r.nbatch, 5);
    /* the first batch freed three slots: the three queued sends went in, in order */
    ASSERT_HAS(test_log, "s0 s1 s2 s3 b3 s4 s10 s20 ");
    ASSERT_EQ(c.used, 0);
    CHECK(c.send_q.head == NULL && c.recv_q.head == NULL);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    async_runtime_destroy(&rt);
}

/* Calls that complete at once, made from inside a poll (where the budget is). */
typedef struct { async_task task; async_waiter w; void (*body)(async_task *t, async_waiter *w); } script;
static int script_task(async_task *t) {
    script *f = (script *)t;
    ASYNC_BEGIN(t);
    f->body(t, &f->w);
    ASYNC_END(0);
}
static void run_script(void (*body)(async_task *t, async_waiter *w)) {
    async_runtime rt;
    static script f;
    ZERO(f);
    f.body = body;
    test_rt_paused(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, script_task, "script"), 0);
    async_runtime_destroy(&rt);
}
static void recv_many_edges(async_task *t, async_waiter *w) {
    async_mpsc c;
    int i, v, out[64];
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 0, NULL), 0);    /* unbounded: blocks */
    for (v = 0; v < 100; v++) ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, out, 0), 0);      /* limit 0 */
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, NULL, 5), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv_many(NULL, &c, w, out, 5), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, NULL, out, 5), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv_many(t, NULL, w, out, 5), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, out, 50), 50);    /* across blocks */
    for (i = 0; i < 50; i++) ASSERT_EQ(out[i], i);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, out, 64), 50);    /* what is left */
    for (i = 0; i < 50; i++) ASSERT_EQ(out[i], 50 + i);
    ASSERT_EQ(async_mpsc_len(&c), 0);
    async_mpsc_sender_release(&c);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, out, 64), ASYNC_ECLOSED);
    ASSERT_EQ(async_mpsc_recv_many(t, &c, w, out, 0), 0);      /* still 0 */
    CHECK(c.recv_q.head == NULL);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
}
TEST(mpsc_recv_many_edges_unbounded_and_bad_arguments) { run_script(recv_many_edges); }

/* The untyped send and recv take the typed fast path for any item size: it must
   still see a close, an unbounded channel and bad arguments. */
static void untyped_fast_path_edges(async_task *t, async_waiter *w) {
    async_mpsc c;
    int i, n, rc = 0, v = 7, out = 0;
    ASSERT_EQ(async_mpsc_init(&c, 0, 2, NULL), 0);              /* size 0, bounded */
    ASSERT_EQ(async_mpsc_send(t, &c, w, NULL), 0);
    ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), 0);
    ASSERT_EQ(async_mpsc_send(t, &c, w, NULL), 0);
    ASSERT_EQ(async_mpsc_close(&c), 0);
    ASSERT_EQ(async_mpsc_send(t, &c, w, NULL), ASYNC_ECLOSED);  /* closed, size 0 */
    ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), 0);              /* what was buffered */
    ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), ASYNC_ECLOSED);
    ASSERT_EQ(c.used, 0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_mpsc_init(&c, 0, 0, NULL), 0);              /* size 0, unbounded */
    for (n = 0; n < 70 && (rc = async_mpsc_send(t, &c, w, NULL)) == 0; n++) {}
    ASSERT_EQ(rc, 0);                           /* (ENOMEM under tests/faults.h) */
    for (i = 0; i < n; i++) ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), 0);
    ASSERT_EQ(async_mpsc_len(&c), 0);
    ASSERT_EQ(c.used, 0);
    CHECK(c.rpos == 0 && c.wpos == 0 && c.first == c.last);    /* drained: rewound */
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 1, NULL), 0);    /* bad arguments */
    ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), ASYNC_EINVAL);   /* empty: not parked */
    CHECK(c.recv_q.head == NULL && w->state == 0);
    ASSERT_EQ(async_mpsc_send(t, &c, w, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send(NULL, &c, w, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send(t, &c, NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send(t, NULL, w, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_len(&c), 0);
    ASSERT_EQ(async_mpsc_send(t, &c, w, &v), 0);
    ASSERT_EQ(async_mpsc_recv(NULL, &c, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv(t, &c, NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv(t, NULL, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_recv(t, &c, w, NULL), ASYNC_EINVAL);   /* full: nothing taken */
    ASSERT_EQ(async_mpsc_len(&c), 1);
    ASSERT_EQ(async_mpsc_recv(t, &c, w, &out), 0);
    ASSERT_EQ(out, 7);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
}
TEST(mpsc_untyped_fast_path_edges) { run_script(untyped_fast_path_edges); }

TEST(mpsc_recv_many_cancelled_takes_nothing) {
    async_runtime rt;
    static mframe r;
    static cframe s;
    async_mpsc c;
    int out[4] = {0};
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 4, NULL), 0);
    /* a timed-out wait: nothing taken, no waiter left, the channel still works */
    ZERO(r);
    r.c = &c;
    r.limit = 4;
    r.timeout = MS(5);
    async_task_spawn(&rt, &r.task, many_receiver, "timed");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_ETIMEDOUT);
    ASSERT_EQ(r.ngot, 0);
    CHECK(c.recv_q.head == NULL);
    /* an aborted wait: cleanup runs, waiter unlinked, later items stay for others */
    ZERO(r);
    r.c = &c;
    r.limit = 4;
    async_task_spawn(&rt, &r.task, many_receiver, "aborted");
    async_runtime_step(&rt, 0);
    CHECK(c.recv_q.head != NULL);
    async_task_abort(&r.task);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(r.cleaned, 1);
    ASSERT_EQ(r.ngot, 0);
    CHECK(c.recv_q.head == NULL);
    spawn(&rt, &s, &c, sender, 7, 2);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out[0]), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out[1]), 0);
    ASSERT_EQ(out[0], 7);
    ASSERT_EQ(out[1], 8);
    ASSERT_EQ(c.used, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

static void typed_recv_many(async_task *t, async_waiter *w) {
    async_mpsc c;
    pair in = {0, 0}, out[3];
    int i;
    ASSERT_EQ(async_mpsc_init(&c, sizeof(pair), 3, NULL), 0);
    for (i = 0; i < 3; i++) {
        in.id = i;
        in.tag = (short)(i * 3);
        ASSERT_EQ(pairs_try_send(&c, &in), 0);
    }
    ASSERT_EQ(pairs_recv_many(t, &c, w, out, 2), 2);
    ASSERT_EQ(out[0].id, 0);
    ASSERT_EQ(out[1].tag, 3);
    ASSERT_EQ(pairs_try_send(&c, &in), 0);                  /* wraps */
    ASSERT_EQ(pairs_recv_many(t, &c, w, out, 3), 2);
    ASSERT_EQ(out[0].id, 2);
    ASSERT_EQ(out[1].id, 2);
    async_mpsc_destroy(&c);
    ASSERT_EQ(async_mpsc_init(&c, 32, 2, NULL), 0);         /* wrong item size */
    ASSERT_EQ(pairs_recv_many(t, &c, w, out, 2), ASYNC_EINVAL);
    async_mpsc_destroy(&c);
}
TEST(typed_mpsc_recv_many) { run_script(typed_recv_many); }

/* A typed receive that waits (parked inline), then times out, then is aborted
   while parked: nothing taken, no waiter left, later items stay. */
static int typed_timed_rx(async_task *t) {
    tframe *f = (tframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, MS(5), pairs_recv(t, f->c, &f->w, &f->p));
    if (f->rc != ASYNC_ETIMEDOUT) ASYNC_RETURN(f->rc);
    f->ngot = -1;                                 /* got here */
    ASYNC_AWAIT(f->rc, pairs_recv(t, f->c, &f->w, &f->p));
    f->ngot = 1;
    ASYNC_END(f->rc);
}
TEST(typed_mpsc_parked_recv_times_out_and_aborts) {
    async_runtime rt;
    static tframe r;
    async_mpsc c;
    pair x = {5, 6}, y;
    int res = 0;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(pair), 2, NULL);
    ZERO(r);
    r.c = &c;
    async_task_spawn(&rt, &r.task, typed_timed_rx, "rx");
    async_runtime_step(&rt, 0);
    CHECK(c.recv_q.head == &r.w);                 /* parked */
    async_time_advance(&rt, MS(5));
    async_runtime_step(&rt, 0);
    ASSERT_EQ(r.ngot, -1);                        /* timed out, parked again */
    CHECK(c.recv_q.head == &r.w && r.w.next == &r.w);
    async_task_abort(&r.task);
    async_runtime_run(&rt);
    ASSERT_EQ(async_task_result(&r.task, &res), 0);
    ASSERT_EQ(res, ASYNC_ECANCELED);
    ASSERT_EQ(r.ngot, -1);
    CHECK(c.recv_q.head == NULL);
    ASSERT_EQ(pairs_try_send(&c, &x), 0);
    ASSERT_EQ(pairs_try_recv(&c, &y), 0);
    ASSERT_EQ(y.tag, 6);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

typedef struct { async_task task; async_waiter w; async_oneshot *o; int rc; double item; } oframe;
static int oneshot_rx(async_task *t);

/* ---- the end of a stream must reach a parked receiver ------------------------------- */
typedef struct { async_task task; async_waiter w; async_mpsc *c; int rc, item, n; } rxframe;
static int rx_all(async_task *t) {
    rxframe *f = (rxframe *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, f->c, &f->w, &f->item));
        if (f->rc < 0) break;
        f->n++;
    }
    ASYNC_END(f->rc);
}
TEST(mpsc_end_reaches_parked_receiver) {
    async_runtime rt;
    static rxframe r, r2;
    static cframe s1, s2;
    async_mpsc c;
    int v = 1;
    test_rt_paused(&rt);
    /* 1. the receiver parks while a slot is handed to a sender that has not run yet
       (no sender handle is left); that sender is aborted: the slot comes back and the
       parked receiver must see the end. One poll per step, to control the order. */
    {
        async_runtime one;
        async_runtime_desc d;
        ZERO(d);
        d.start_paused = 1;
        d.event_interval = 1;
        async_runtime_init(&one, &d);
        async_mpsc_init(&c, sizeof(int), 1, NULL);
        async_mpsc_sender_clone(&c);
        ZERO(r);
        r.c = &c;
        async_mpsc_try_send(&c, &v);              /* full */
        spawn(&one, &s1, &c, sender, 10, 1);
        async_task_spawn(&one, &r.task, rx_all, "rx");
        async_runtime_step(&one, 0);              /* s1 waits for the slot */
        async_mpsc_sender_release(&c);            /* no handle left (s1 "dropped" its own) */
        async_mpsc_sender_release(&c);
        async_runtime_step(&one, 0);              /* r takes the item, the slot goes to s1,
                                                     r parks: a permit is still out */
        ASSERT_EQ(async_task_state(&r.task), ASYNC_TASK_WAITING);
        ASSERT_EQ(s1.w.state, 2);
        async_task_abort(&s1.task);
        ASSERT_EQ(async_runtime_run(&one), 0);    /* r saw the end: nothing blocked */
        ASSERT_EQ(r.rc, ASYNC_ECLOSED);
        ASSERT_EQ(r.n, 1);
        ASSERT_EQ(c.used, 0);
        async_mpsc_destroy(&c);
        async_runtime_destroy(&one);
    }
    /* 2. close wakes receivers parked on an empty channel (bounded and unbounded) */
    async_mpsc_init(&c, sizeof(int), 0, NULL);
    ZERO(r); ZERO(r2);
    r.c = r2.c = &c;
    async_task_spawn(&rt, &r.task, rx_all, "rx1");
    async_task_spawn(&rt, &r2.task, rx_all, "rx2");
    ASSERT_EQ(async_runtime_run(&rt), 2);
    async_mpsc_close(&c);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    ASSERT_EQ(r2.rc, ASYNC_ECLOSED);
    async_mpsc_destroy(&c);
    /* 3. unbounded permits: granted before a close, they may still send */
    async_mpsc_init(&c, sizeof(int), 0, NULL);
    ASSERT_EQ(async_mpsc_try_reserve(&c), 0);
    async_mpsc_close(&c);
    async_mpsc_sender_release(&c);
    ASSERT_EQ(async_mpsc_try_recv(&c, &v), ASYNC_EAGAIN);   /* the permit is out */
    ASSERT_EQ(async_mpsc_send_reserved(&c, &v), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &v), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &v), ASYNC_ECLOSED);
    async_mpsc_destroy(&c);
    (void)s2;
    async_runtime_destroy(&rt);
}

/* The channel under random scripts of senders, receivers, aborts, timeouts, lost
   selects and a close, in FIFO and random ready order, with small budgets: every
   item sent arrives once and in its sender's order, nothing waits in vain, nothing
   leaks (tests/chan_model.h; tests/fuzz/fuzz_chan.c explores the same with
   libFuzzer). */
TEST(mpsc_model_random_scripts) {
    test_random_scripts(chan_model_run, chan_model_why, "chan_model.h",
                        0x9e3779b9u, 96, 20000);
}

/* Broadcast under random scripts of senders, subscribers that come and go, aborts,
   timeouts and lost selects (tests/broadcast_model.h; also fuzzed): each subscriber
   sees exactly what was sent after it subscribed, in order, or a lag that counts
   exactly what it lost. */
TEST(broadcast_model_random_scripts) {
    test_random_scripts(broadcast_model_run, broadcast_model_why, "broadcast_model.h",
                        0x6c078965u, 112, 20000);
}

/* Watch under random scripts of stores of each kind, subscribers that come and go,
   waits for a change (plain, timed, selected), borrows and marks, and aborts
   (tests/watch_model.h; also fuzzed): values and versions follow the model and
   nobody waits while there is something unseen or the end. */
TEST(watch_model_random_scripts) {
    test_random_scripts(watch_model_run, watch_model_why, "watch_model.h",
                        0x9908b0dfu, 112, 20000);
}

/* Items of size zero (signals only): no copies, no undefined behaviour. */
TEST(zero_size_items) {
    async_mpsc c;
    async_oneshot o;
    async_broadcast b;
    async_broadcast_rx rx;
    async_watch w;
    async_watch_rx wrx;
    ZERO(rx); ZERO(wrx);
    ASSERT_EQ(async_mpsc_init(&c, 0, 2, NULL), 0);
    ASSERT_EQ(async_mpsc_try_send(&c, NULL), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, NULL), 0);
    async_mpsc_destroy(&c);
    ASSERT_EQ(async_mpsc_init(&c, 0, 0, NULL), 0);
    ASSERT_EQ(async_mpsc_try_send(&c, NULL), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, NULL), 0);
    async_mpsc_destroy(&c);
    ASSERT_EQ(async_oneshot_init(&o, 0, NULL), 0);
    ASSERT_EQ(async_oneshot_send(&o, NULL), 0);
    ASSERT_EQ(async_oneshot_try_recv(&o, NULL), 0);
    async_oneshot_destroy(&o);
    ASSERT_EQ(async_broadcast_init(&b, 0, 2, NULL), 0);
    async_broadcast_subscribe(&b, &rx);
    ASSERT_EQ(async_broadcast_send(&b, NULL), 1);
    ASSERT_EQ(async_broadcast_try_recv(&rx, NULL), 0);
    async_broadcast_unsubscribe(&rx);
    async_broadcast_destroy(&b);
    ASSERT_EQ(async_watch_init(&w, 0, NULL, NULL), 0);
    async_watch_subscribe(&w, &wrx);
    ASSERT_EQ(async_watch_send(&w, NULL), 0);
    ASSERT_EQ(async_watch_borrow_and_update(&wrx, NULL), 0);
    async_watch_unsubscribe(&wrx);
    async_watch_destroy(&w);
}

TEST(oneshot_close_wakes_parked_receiver) {
    async_runtime rt;
    static oframe r;
    async_oneshot o;
    async_runtime_init(&rt, NULL);
    async_oneshot_init(&o, sizeof(double), NULL);
    ZERO(r);
    r.o = &o;
    async_task_spawn(&rt, &r.task, oneshot_rx, "rx");
    ASSERT_EQ(async_runtime_run(&rt), 1);
    async_oneshot_close(&o);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    async_oneshot_destroy(&o);
    async_runtime_destroy(&rt);
}

/* ---- oneshot ------------------------------------------------------------------------- */
static int oneshot_rx(async_task *t) {
    oframe *f = (oframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_oneshot_recv(t, f->o, &f->w, &f->item));
    ASYNC_END(0);
}
static int oneshot_closed_waiter(async_task *t) {
    oframe *f = (oframe *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_oneshot_wait_closed(t, f->o, &f->w));
    ASYNC_END(0);
}
TEST(oneshot_send_recv_and_release) {
    async_runtime rt;
    static oframe r;
    async_oneshot o;
    double v = 2.5, out = 0;
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_oneshot_init(&o, sizeof(double), NULL), 0);
    ZERO(r);
    r.o = &o;
    async_task_spawn(&rt, &r.task, oneshot_rx, "rx");
    ASSERT_EQ(async_runtime_run(&rt), 1);         /* waits */
    ASSERT_EQ(async_oneshot_send(&o, &v), 0);     /* never waits */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, 0);
    CHECK(r.item == 2.5);
    ASSERT_EQ(async_oneshot_send(&o, &v), ASYNC_ESTATE);          /* only once */
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), ASYNC_ECLOSED);   /* taken */
    ASSERT_EQ(async_oneshot_destroy(&o), 0);
    /* the sender goes away without sending */
    async_oneshot_init(&o, sizeof(double), NULL);
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), ASYNC_EAGAIN);
    ZERO(r);
    r.o = &o;
    async_task_spawn(&rt, &r.task, oneshot_rx, "rx");
    async_runtime_run(&rt);
    async_oneshot_sender_release(&o);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_ECLOSED);
    async_oneshot_destroy(&o);
    async_runtime_destroy(&rt);
}
TEST(oneshot_receiver_close) {
    async_runtime rt;
    static oframe cw;
    async_oneshot o;
    double v = 1.0, out = 0, storage;
    async_runtime_init(&rt, NULL);
    async_oneshot_init(&o, sizeof(double), &storage);
    ZERO(cw);
    cw.o = &o;
    async_task_spawn(&rt, &cw.task, oneshot_closed_waiter, "closed");
    ASSERT_EQ(async_runtime_run(&rt), 1);
    ASSERT_EQ(async_oneshot_send(&o, &v), 0);     /* sent before the close */
    async_oneshot_close(&o);
    ASSERT_EQ(async_runtime_run(&rt), 0);         /* the sender's closed() completes */
    ASSERT_EQ(async_oneshot_is_closed(&o), 1);
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), 0);               /* still received */
    async_oneshot_destroy(&o);
    async_oneshot_init(&o, sizeof(double), &storage);
    async_oneshot_close(&o);
    ASSERT_EQ(async_oneshot_send(&o, &v), ASYNC_ECLOSED);         /* handed back */
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), ASYNC_ECLOSED);
    async_oneshot_destroy(&o);
    async_runtime_destroy(&rt);
}
TEST(oneshot_abort_recv_keeps_value_and_polling_after_done) {
    async_runtime rt;
    static oframe r;
    async_oneshot o;
    double v = 3.0, out = 0;
    async_runtime_init(&rt, NULL);
    async_oneshot_init(&o, sizeof(double), NULL);
    ZERO(r);
    r.o = &o;
    async_task_spawn(&rt, &r.task, oneshot_rx, "rx");
    async_runtime_run(&rt);
    async_task_abort(&r.task);
    async_runtime_run(&rt);
    CHECK(o.rx_q.head == NULL);
    async_oneshot_send(&o, &v);
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), 0);
    CHECK(out == 3.0);
    ZERO(r);
    r.o = &o;
    ASSERT_EQ(async_runtime_block_on(&rt, &r.task, oneshot_rx, "again"), 0);
    ASSERT_EQ(r.rc, ASYNC_ESTATE);                /* polled after completion */
    async_oneshot_destroy(&o);
    async_runtime_destroy(&rt);
}

/* ---- broadcast ------------------------------------------------------------------------- */
TEST(broadcast_every_subscriber_sees_later_items) {
    async_broadcast b;
    async_broadcast_rx r1, r2;
    int v, out = 0;
    ASSERT_EQ(async_broadcast_init(&b, sizeof(int), 3, NULL), 0);
    ASSERT_EQ(b.cap, 4);                          /* rounded up to a power of two */
    v = 1;
    ASSERT_EQ(async_broadcast_send(&b, &v), ASYNC_ENORECV);       /* nobody: not stored */
    async_broadcast_subscribe(&b, &r1);
    v = 2;
    ASSERT_EQ(async_broadcast_send(&b, &v), 1);
    async_broadcast_subscribe(&b, &r2);           /* sees only what comes next */
    v = 3;
    ASSERT_EQ(async_broadcast_send(&b, &v), 2);
    ASSERT_EQ(async_broadcast_try_recv(&r1, &out), 0);
    ASSERT_EQ(out, 2);
    ASSERT_EQ(async_broadcast_try_recv(&r1, &out), 0);
    ASSERT_EQ(out, 3);
    ASSERT_EQ(async_broadcast_try_recv(&r1, &out), ASYNC_EAGAIN);
    ASSERT_EQ(async_broadcast_try_recv(&r2, &out), 0);
    ASSERT_EQ(out, 3);
    ASSERT_EQ(async_broadcast_sender_release(&b), 0);
    ASSERT_EQ(async_broadcast_try_recv(&r2, &out), ASYNC_ECLOSED);
    async_broadcast_unsubscribe(&r1);
    async_broadcast_unsubscribe(&r2);
    ASSERT_EQ(async_broadcast_init(&b, sizeof(int), 0, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_destroy(&b), 0);
}
TEST(broadcast_lag_is_per_receiver_and_resumes_at_oldest) {
    async_broadcast b;
    async_broadcast_rx slow, fast;
    int v, out, i;
    async_broadcast_init(&b, sizeof(int), 4, NULL);
    async_broadcast_subscribe(&b, &slow);
    async_broadcast_subscribe(&b, &fast);
    for (i = 0; i < 7; i++) {
        v = i;
        async_broadcast_send(&b, &v);
        ASSERT_EQ(async_broadcast_try_recv(&fast, &out), 0);      /* keeps up */
        ASSERT_EQ(out, i);
    }
    ASSERT_EQ(async_broadcast_rx_len(&slow), 7);  /* overwritten ones included */
    ASSERT_EQ(async_broadcast_try_recv(&slow, &out), ASYNC_ELAGGED);
    ASSERT_EQ(slow.lagged, 3);                    /* 0, 1, 2 were overwritten */
    ASSERT_EQ(async_broadcast_try_recv(&slow, &out), 0);
    ASSERT_EQ(out, 3);                            /* the oldest kept */
    for (i = 7; i < 12; i++) {                    /* lags again before reading the rest */
        v = i;
        async_broadcast_send(&b, &v);
    }
    ASSERT_EQ(async_broadcast_try_recv(&slow, &out), ASYNC_ELAGGED);
    ASSERT_EQ(slow.lagged, 4);                    /* 4, 5, 6, 7 */
    for (i = 8; i < 12; i++) {
        ASSERT_EQ(async_broadcast_try_recv(&slow, &out), 0);
        ASSERT_EQ(out, i);
    }
    async_broadcast_destroy(&b);
}
TEST(broadcast_single_slot_lag) {
    async_broadcast b;
    async_broadcast_rx r;
    int v, out;
    ASSERT_EQ(async_broadcast_init(&b, sizeof(int), 1, NULL), 0);
    ZERO(r);
    ASSERT_EQ(async_broadcast_subscribe(&b, &r), 0);
    v = 1; async_broadcast_send(&b, &v);
    v = 2; async_broadcast_send(&b, &v);
    ASSERT_EQ(async_broadcast_try_recv(&r, &out), ASYNC_ELAGGED);
    ASSERT_EQ(r.lagged, 1);
    ASSERT_EQ(async_broadcast_try_recv(&r, &out), 0);
    ASSERT_EQ(out, 2);
    async_broadcast_destroy(&b);
}
typedef struct { async_task task; async_waiter w; async_broadcast_rx rx; int rc, got[16], n, lags; } bframe;
static int bcast_rx(async_task *t) {
    bframe *f = (bframe *)t;
    int item;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_broadcast_recv(t, &f->rx, &f->w, &item));
        if (f->rc == ASYNC_ELAGGED) { f->lags++; continue; }
        if (f->rc < 0) break;
        f->got[f->n++] = item;
    }
    ASYNC_END(0);
}
TEST(broadcast_tasks_wait_and_close) {
    async_runtime rt;
    static bframe a, c;
    async_broadcast b;
    int v;
    async_runtime_init(&rt, NULL);
    async_broadcast_init(&b, sizeof(int), 8, NULL);
    ZERO(a); ZERO(c);
    async_broadcast_subscribe(&b, &a.rx);
    async_broadcast_subscribe(&b, &c.rx);
    async_task_spawn(&rt, &a.task, bcast_rx, "a");
    async_task_spawn(&rt, &c.task, bcast_rx, "c");
    ASSERT_EQ(async_runtime_run(&rt), 2);
    for (v = 0; v < 5; v++) {
        async_broadcast_send(&b, &v);
        if (v == 2) {
            async_task_abort(&c.task);            /* c leaves mid-stream */
            async_runtime_run(&rt);
            async_broadcast_unsubscribe(&c.rx);
        }
    }
    async_broadcast_sender_release(&b);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.n, 5);
    ASSERT_EQ(a.rc, ASYNC_ECLOSED);
    ASSERT_EQ(c.n, 0);                            /* aborted before it ran: took nothing */
    ASSERT_EQ(b.receivers, 1);
    async_broadcast_unsubscribe(&a.rx);
    async_broadcast_destroy(&b);
    async_runtime_destroy(&rt);
}

/* ---- watch ---------------------------------------------------------------------------- */
typedef struct { async_task task; async_waiter w; async_watch_rx rx; int rc, seen[16], n; } wframe;
static int watcher(async_task *t) {
    wframe *f = (wframe *)t;
    int v;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_watch_wait_changed(t, &f->rx, &f->w));
        if (f->rc < 0) break;
        async_watch_borrow(&f->rx, &v);
        f->seen[f->n++] = v;
    }
    ASYNC_END(0);
}
static void add_ten(void *value, void *user) { *(int *)value += *(int *)user; }
TEST(watch_versions_and_close) {
    async_runtime rt;
    static wframe a;
    async_watch ch;
    int init = 1, v, out = 0, ten = 10;
    async_runtime_init(&rt, NULL);
    ASSERT_EQ(async_watch_init(&ch, sizeof(int), NULL, &init), 0);
    v = 2;
    ASSERT_EQ(async_watch_send(&ch, &v), ASYNC_ENORECV);          /* nobody: not stored */
    ZERO(a);
    async_watch_subscribe(&ch, &a.rx);
    async_watch_borrow(&a.rx, &out);
    ASSERT_EQ(out, 1);
    ASSERT_EQ(async_watch_has_changed(&a.rx), 0);  /* the value at subscribe is seen */
    async_task_spawn(&rt, &a.task, watcher, "w");
    ASSERT_EQ(async_runtime_run(&rt), 1);
    v = 3;
    ASSERT_EQ(async_watch_send(&ch, &v), 0);
    v = 4;
    ASSERT_EQ(async_watch_send(&ch, &v), 0);      /* two sends before it runs: sees 4 once */
    async_runtime_run(&rt);
    ASSERT_EQ(async_watch_send_modify(&ch, add_ten, &ten), 0);
    async_runtime_run(&rt);
    ASSERT_EQ(async_watch_send_replace(&ch, &init, &out), 0);
    ASSERT_EQ(out, 14);
    async_runtime_run(&rt);
    ASSERT_EQ(a.n, 3);
    ASSERT_EQ(a.seen[0], 4);
    ASSERT_EQ(a.seen[1], 14);
    ASSERT_EQ(a.seen[2], 1);
    v = 5;
    async_watch_send(&ch, &v);                    /* unseen when the sender leaves... */
    async_watch_sender_release(&ch);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.seen[3], 5);                      /* ...so it is still delivered */
    ASSERT_EQ(a.rc, ASYNC_ECLOSED);               /* then the end */
    ASSERT_EQ(async_watch_has_changed(&a.rx), ASYNC_ECLOSED);
    async_watch_unsubscribe(&a.rx);
    async_watch_destroy(&ch);
    async_runtime_destroy(&rt);
}
TEST(watch_borrow_and_update_and_marks) {
    async_watch ch;
    async_watch_rx r1, r2;
    int v = 7, out;
    ZERO(r1); ZERO(r2);
    async_watch_init(&ch, sizeof(int), NULL, NULL);
    async_watch_subscribe(&ch, &r1);
    async_watch_subscribe(&ch, &r2);
    async_watch_borrow(&r1, &out);
    ASSERT_EQ(out, 0);                            /* NULL initial: zeros */
    async_watch_send(&ch, &v);
    ASSERT_EQ(async_watch_has_changed(&r1), 1);
    async_watch_borrow(&r1, &out);                /* borrow does not mark seen */
    ASSERT_EQ(async_watch_has_changed(&r1), 1);
    async_watch_borrow_and_update(&r1, &out);
    ASSERT_EQ(out, 7);
    ASSERT_EQ(async_watch_has_changed(&r1), 0);
    ASSERT_EQ(async_watch_has_changed(&r2), 1);   /* each receiver has its own version */
    async_watch_mark_unchanged(&r2);
    ASSERT_EQ(async_watch_has_changed(&r2), 0);
    async_watch_mark_changed(&r2);
    ASSERT_EQ(async_watch_has_changed(&r2), 1);
    async_watch_destroy(&ch);
}
TEST(watch_cancelled_changed_marks_nothing) {
    async_runtime rt;
    static wframe a;
    async_watch ch;
    int v = 1;
    async_runtime_init(&rt, NULL);
    async_watch_init(&ch, sizeof(int), NULL, NULL);
    ZERO(a);
    async_watch_subscribe(&ch, &a.rx);
    async_task_spawn(&rt, &a.task, watcher, "w");
    async_runtime_run(&rt);
    async_watch_send(&ch, &v);                    /* wakes a... */
    async_task_abort(&a.task);                    /* ...which is aborted before it runs */
    async_runtime_run(&rt);
    ASSERT_EQ(a.n, 0);
    ASSERT_EQ(async_watch_has_changed(&a.rx), 1); /* nothing was marked seen */
    CHECK(ch.q.head == NULL);
    async_watch_unsubscribe(&a.rx);
    async_watch_destroy(&ch);
    async_runtime_destroy(&rt);
}

/* ---- bad arguments and edges --------------------------------------------------------- */
/* Every channel call refuses NULL (and a missing item where the items have a size)
   with ASYNC_EINVAL, from inside a poll; the channels are left as they were. */
static void chan_bad_arguments_body(async_task *t, async_waiter *w) {
    async_mpsc c;
    async_oneshot o;
    async_broadcast b;
    async_broadcast_rx rx, rx0;
    async_watch ch;
    async_watch_rx wrx, wrx0;
    int v = 5, out = -1;
    ZERO(rx0); ZERO(wrx0); ZERO(rx); ZERO(wrx);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 2, NULL), 0);
    ASSERT_EQ(async_oneshot_init(&o, sizeof(int), NULL), 0);
    ASSERT_EQ(async_broadcast_init(&b, sizeof(int), 2, NULL), 0);
    ASSERT_EQ(async_broadcast_subscribe(&b, &rx), 0);
    ASSERT_EQ(async_watch_init(&ch, sizeof(int), NULL, &v), 0);
    ASSERT_EQ(async_watch_subscribe(&ch, &wrx), 0);
    /* mpsc */
    ASSERT_EQ(async_mpsc_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_reserve(NULL, &c, w), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_reserve(t, NULL, w), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_reserve(t, &c, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send(t, NULL, w, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_reserve(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_send(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_send(&c, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send_reserved(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send_reserved(&c, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_send_reserved(&c, &v), ASYNC_EINVAL);         /* no permit out */
    ASSERT_EQ(async_mpsc_release_reserved(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_recv(NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_try_recv(&c, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_close(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_is_closed(NULL), 0);
    ASSERT_EQ(async_mpsc_wait_closed(NULL, &c, w), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_wait_closed(t, NULL, w), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_wait_closed(t, &c, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_sender_clone(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_sender_release(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_len(NULL), 0);
    ASSERT_EQ(async_mpsc_capacity(NULL), 0);
    ASSERT_EQ(async_mpsc_capacity(&c), 2);
    ASSERT_EQ(async_mpsc_is_closed(&c), 0);
    ASSERT_EQ(c.senders, 1);
    CHECK(c.send_q.head == NULL && c.recv_q.head == NULL && c.closed_q.head == NULL);
    /* oneshot */
    ASSERT_EQ(async_oneshot_init(NULL, sizeof(int), NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_send(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_send(&o, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_recv(NULL, &o, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_recv(t, NULL, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_recv(t, &o, NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_recv(t, &o, w, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_try_recv(NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_try_recv(&o, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_sender_release(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_close(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_is_closed(NULL), 0);
    ASSERT_EQ(async_oneshot_wait_closed(NULL, &o, w), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_wait_closed(t, NULL, w), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_wait_closed(t, &o, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_oneshot_is_closed(&o), 0);
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), ASYNC_EAGAIN);         /* still empty */
    /* broadcast */
    ASSERT_EQ(async_broadcast_storage_size(sizeof(int), 0), SIZE_MAX);
    ASSERT_EQ(async_broadcast_storage_size(sizeof(int), SIZE_MAX / 2 + 1), SIZE_MAX);
    ASSERT_EQ(async_broadcast_storage_size(sizeof(int), 3), 4 * sizeof(int));   /* 2^k */
    ASSERT_EQ(async_broadcast_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_send(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_send(&b, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_subscribe(NULL, &rx0), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_subscribe(&b, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_unsubscribe(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_unsubscribe(&rx0), ASYNC_EINVAL);       /* not subscribed */
    ASSERT_EQ(async_broadcast_recv(NULL, &rx, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_recv(t, NULL, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_recv(t, &rx0, w, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_recv(t, &rx, NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_recv(t, &rx, w, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_try_recv(NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_try_recv(&rx0, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_try_recv(&rx, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_rx_len(NULL), 0);
    ASSERT_EQ(async_broadcast_rx_len(&rx0), 0);
    ASSERT_EQ(async_broadcast_sender_clone(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_broadcast_sender_release(NULL), ASYNC_EINVAL);
    ASSERT_EQ(b.receivers, 1);
    ASSERT_EQ(b.senders, 1);
    /* watch */
    ASSERT_EQ(async_watch_init(NULL, sizeof(int), NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_destroy(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_subscribe(NULL, &wrx0), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_subscribe(&ch, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_unsubscribe(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_unsubscribe(&wrx0), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send(NULL, &v), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send(&ch, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send_replace(NULL, &v, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send_replace(&ch, NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send_modify(NULL, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_send_modify(&ch, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_borrow(NULL, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_borrow(&wrx0, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_borrow(&wrx, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_borrow_and_update(&wrx0, &out), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_has_changed(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_has_changed(&wrx0), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_mark_changed(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_mark_changed(&wrx0), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_mark_unchanged(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_mark_unchanged(&wrx0), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_wait_changed(NULL, &wrx, w), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_wait_changed(t, NULL, w), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_wait_changed(t, &wrx0, w), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_wait_changed(t, &wrx, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_sender_clone(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_watch_sender_release(NULL), ASYNC_EINVAL);
    ASSERT_EQ(out, -1);                           /* nothing was written anywhere */
    ASSERT_EQ(async_watch_has_changed(&wrx), 0);
    ASSERT_EQ(ch.receivers, 1);
    ASSERT_EQ(ch.version, 0);
    ASSERT_EQ(w->state, 0);
    /* and every channel still works */
    ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(out, 5);
    ASSERT_EQ(async_broadcast_send(&b, &v), 1);
    ASSERT_EQ(async_broadcast_rx_len(&rx), 1);
    ASSERT_EQ(async_oneshot_send(&o, &v), 0);
    ASSERT_EQ(async_watch_send(&ch, &v), 0);
    ASSERT_EQ(async_watch_has_changed(&wrx), 1);
    async_broadcast_unsubscribe(&rx);
    async_watch_unsubscribe(&wrx);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_oneshot_destroy(&o), 0);
    ASSERT_EQ(async_broadcast_destroy(&b), 0);
    ASSERT_EQ(async_watch_destroy(&ch), 0);
}
TEST(chan_bad_arguments) { run_script(chan_bad_arguments_body); }

/* A channel in caller storage of async_mpsc_storage_size bytes allocates nothing; a
   size that overflows is SIZE_MAX and refused. */
TEST(mpsc_in_caller_storage) {
    async_mpsc c;
    long long store[4];
    long long v, out = 0;
    long allocs0 = test_allocs;
    ASSERT_EQ(async_mpsc_storage_size(sizeof(long long), 4), sizeof store);
    ASSERT_EQ(async_mpsc_storage_size(SIZE_MAX / 2, 3), SIZE_MAX);
    ASSERT_EQ(async_mpsc_init(&c, SIZE_MAX / 2, 3, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(long long), 4, store), 0);
    for (v = 1; v <= 4; v++) ASSERT_EQ(async_mpsc_try_send(&c, &v), 0);
    v = 5;
    ASSERT_EQ(async_mpsc_try_send(&c, &v), ASYNC_EAGAIN);
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(out, 1);
    ASSERT_EQ(test_allocs, allocs0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(store[3], 4);                       /* the items were in the caller's array */
}

/* Destroy refuses a channel a task still waits on (ASYNC_EBUSY), whichever queue the
   task is in, and works once the wait is over. */
typedef struct { async_task task; async_waiter w; void *ch; int kind, rc, item; } wait_frame;
static int chan_waiter(async_task *t) {
    wait_frame *f = (wait_frame *)t;
    ASYNC_BEGIN(t);
    if (f->kind == 0) ASYNC_AWAIT(f->rc, async_mpsc_recv(t, (async_mpsc *)f->ch, &f->w, &f->item));
    else if (f->kind == 1)
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, (async_mpsc *)f->ch, &f->w, &f->item));
    else if (f->kind == 2)
        ASYNC_AWAIT(f->rc, async_mpsc_wait_closed(t, (async_mpsc *)f->ch, &f->w));
    else if (f->kind == 3)
        ASYNC_AWAIT(f->rc, async_oneshot_recv(t, (async_oneshot *)f->ch, &f->w, &f->item));
    else if (f->kind == 4) ASYNC_AWAIT(f->rc, async_oneshot_wait_closed(t, (async_oneshot *)f->ch, &f->w));
    else if (f->kind == 5)
        ASYNC_AWAIT(f->rc, async_broadcast_recv(t, (async_broadcast_rx *)f->ch, &f->w, &f->item));
    else ASYNC_AWAIT(f->rc, async_watch_wait_changed(t, (async_watch_rx *)f->ch, &f->w));
    ASYNC_END(f->rc);
}
TEST(destroy_while_a_task_waits_is_refused) {
    async_runtime rt;
    static wait_frame f;
    async_mpsc c;
    async_oneshot o;
    async_broadcast b;
    async_broadcast_rx brx;
    async_watch ch;
    async_watch_rx wrx;
    int kind, one = 1;
    ZERO(brx); ZERO(wrx);
    async_runtime_init(&rt, NULL);
    for (kind = 0; kind < 7; kind++) {
        ZERO(f);
        f.kind = kind;
        async_mpsc_init(&c, sizeof(int), 1, NULL);
        async_oneshot_init(&o, sizeof(int), NULL);
        async_broadcast_init(&b, sizeof(int), 2, NULL);
        async_broadcast_subscribe(&b, &brx);
        async_watch_init(&ch, sizeof(int), NULL, NULL);
        async_watch_subscribe(&ch, &wrx);
        if (kind == 1) async_mpsc_try_send(&c, &one);            /* full: the send waits */
        f.ch = kind <= 2 ? (void *)&c : kind <= 4 ? (void *)&o : kind == 5 ? (void *)&brx
                                                                          : (void *)&wrx;
        async_task_spawn(&rt, &f.task, chan_waiter, "waiter");
        ASSERT_EQ(async_runtime_run(&rt), 1);
        ASSERT_EQ(async_mpsc_destroy(&c), kind <= 2 ? ASYNC_EBUSY : 0);
        ASSERT_EQ(async_oneshot_destroy(&o), kind == 3 || kind == 4 ? ASYNC_EBUSY : 0);
        ASSERT_EQ(async_broadcast_destroy(&b), kind == 5 ? ASYNC_EBUSY : 0);
        ASSERT_EQ(async_watch_destroy(&ch), kind == 6 ? ASYNC_EBUSY : 0);
        async_task_abort(&f.task);
        ASSERT_EQ(async_runtime_run(&rt), 0);
        ASSERT_EQ(f.rc, ASYNC_ECANCELED);
        if (kind <= 2) ASSERT_EQ(async_mpsc_destroy(&c), 0);
        if (kind == 3 || kind == 4) ASSERT_EQ(async_oneshot_destroy(&o), 0);
        if (kind == 5) ASSERT_EQ(async_broadcast_destroy(&b), 0);
        if (kind == 6) ASSERT_EQ(async_watch_destroy(&ch), 0);
    }
    async_runtime_destroy(&rt);
}

/* A sender released after it sent changes nothing (the value is still there); a
   watch send_replace may leave out the old value; 16-byte items copy whole. */
typedef struct { long long a, b; } pair16;
TEST(oneshot_release_after_send_and_watch_replace_without_old) {
    async_oneshot o;
    async_watch ch;
    async_watch_rx rx;
    async_mpsc c;
    pair16 p = {1, 2}, q = {0, 0};
    int v = 3, out = 0;
    ZERO(rx);
    async_oneshot_init(&o, sizeof(int), NULL);
    ASSERT_EQ(async_oneshot_send(&o, &v), 0);
    ASSERT_EQ(async_oneshot_sender_release(&o), 0);
    ASSERT_EQ(async_oneshot_try_recv(&o, &out), 0);
    ASSERT_EQ(out, 3);
    async_oneshot_destroy(&o);
    async_watch_init(&ch, sizeof(pair16), NULL, &p);
    async_watch_subscribe(&ch, &rx);
    p.a = 10; p.b = 20;
    ASSERT_EQ(async_watch_send_replace(&ch, &p, NULL), 0);
    ASSERT_EQ(async_watch_borrow_and_update(&rx, &q), 0);
    ASSERT_EQ(q.a, 10);
    ASSERT_EQ(q.b, 20);
    ASSERT_EQ(async_watch_has_changed(&rx), 0);
    async_watch_unsubscribe(&rx);
    async_watch_destroy(&ch);
    async_mpsc_init(&c, sizeof(pair16), 2, NULL);
    ASSERT_EQ(async_mpsc_try_send(&c, &p), 0);
    ZERO(q);
    ASSERT_EQ(async_mpsc_try_recv(&c, &q), 0);
    ASSERT_EQ(q.a + q.b, 30);
    async_mpsc_destroy(&c);
}

/* An unbounded channel keeps one drained block as a spare: a steady stream through it
   allocates nothing more; async_mpsc_send there fails with ASYNC_ENOMEM sending
   nothing when a block cannot be had. */
static void unbounded_spare_body(async_task *t, async_waiter *w) {
    async_mpsc c;
    int i, v, out = 0;
    long allocs;
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 0, NULL), 0);
    for (v = 0; v < 40; v++) ASSERT_EQ(async_mpsc_send(t, &c, w, &v), 0);    /* 2 blocks */
    for (i = 0; i < 32; i++) ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);   /* 1st: spare */
    ASSERT_EQ(out, 31);
    allocs = test_allocs;
    for (; v < 64; v++) ASSERT_EQ(async_mpsc_send(t, &c, w, &v), 0);        /* fills the 2nd */
    ASSERT_EQ(async_mpsc_send(t, &c, w, &v), 0);                            /* the spare */
    ASSERT_EQ(test_allocs, allocs);
    v++;
    for (i = 0; i < 31; i++, v++) ASSERT_EQ(async_mpsc_send(t, &c, w, &v), 0);
    test_fail_at = test_alloc_calls + 1;          /* a 4th block is needed now */
    ASSERT_EQ(async_mpsc_send(t, &c, w, &v), ASYNC_ENOMEM);
    ASSERT_EQ(async_mpsc_len(&c), 8 + 24 + 32);
    ASSERT_EQ(c.used, async_mpsc_len(&c));        /* no permit left behind */
    for (i = 32; i < 96; i++) {
        ASSERT_EQ(async_mpsc_recv(t, &c, w, &out), 0);
        if (out != i) { ASSERT_EQ(out, i); break; }
    }
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), ASYNC_EAGAIN);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
}
TEST(mpsc_unbounded_reuses_a_spare_block) { run_script(unbounded_spare_body); }

/* Operations in a cleanup that runs because the task was cancelled are in cancel
   mode: an unbounded send or reserve gives ASYNC_ECANCELED and sends nothing (the
   try_ forms still work), recv_many of 0 items too. */
typedef struct { async_task task; async_waiter w; async_timer timer; async_mpsc *c; int rc[4]; } cm_frame;
static int cancel_mode_sender(async_task *t) {
    cm_frame *f = (cm_frame *)t;
    int v = 9, rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(1)));
    ASYNC_CLEANUP();
    f->rc[0] = async_mpsc_send(t, f->c, &f->w, &v);
    f->rc[1] = async_mpsc_reserve(t, f->c, &f->w);
    f->rc[2] = async_mpsc_recv_many(t, f->c, &f->w, &v, 0);
    f->rc[3] = async_mpsc_try_send(f->c, &v);
    ASYNC_END(0);
}
TEST(mpsc_unbounded_ops_in_cancel_mode) {
    async_runtime rt;
    static cm_frame f;
    async_mpsc c;
    int out = 0;
    ZERO(f);
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 0, NULL);
    f.c = &c;
    async_task_spawn(&rt, &f.task, cancel_mode_sender, "sender");
    async_runtime_step(&rt, 0);
    async_task_abort(&f.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc[0], ASYNC_ECANCELED);
    ASSERT_EQ(f.rc[1], ASYNC_ECANCELED);
    ASSERT_EQ(f.rc[2], ASYNC_ECANCELED);
    ASSERT_EQ(f.rc[3], 0);
    ASSERT_EQ(async_mpsc_len(&c), 1);             /* only the try_send's item */
    ASSERT_EQ(c.used, 1);                         /* and no permit */
    ASSERT_EQ(async_mpsc_try_recv(&c, &out), 0);
    ASSERT_EQ(out, 9);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* A oneshot whose value is there completes at once, spending budget: with none left
   the receive yields and keeps the value for the next poll. */
typedef struct { async_task task; async_waiter w; async_oneshot *o; int rc, item, polls_seen; } os_frame;
static int budget_then_oneshot(async_task *t) {
    os_frame *f = (os_frame *)t;
    ASYNC_BEGIN(t);
    while (async_task_consume_budget(t)) {}       /* spend it all */
    ASYNC_AWAIT(f->rc, async_oneshot_recv(t, f->o, &f->w, &f->item));
    ASYNC_END(f->rc);
}
TEST(oneshot_recv_without_budget_yields_and_keeps_the_value) {
    async_runtime rt;
    static os_frame f;
    async_oneshot o;
    async_stats st;
    int v = 42;
    ZERO(f);
    async_runtime_init(&rt, NULL);
    async_oneshot_init(&o, sizeof(int), NULL);
    async_oneshot_send(&o, &v);
    f.o = &o;
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, budget_then_oneshot, "rx"), 0);
    ASSERT_EQ(f.item, 42);
    async_runtime_stats(&rt, &st);
    ASSERT_EQ(st.polls, 2);                       /* yielded once */
    ASSERT_EQ(async_oneshot_try_recv(&o, &v), ASYNC_ECLOSED);   /* taken once */
    async_oneshot_destroy(&o);
    async_runtime_destroy(&rt);
}

/* Releasing more sender handles than exist is refused; is_closed follows close. */
TEST(sender_handles_and_is_closed) {
    async_mpsc c;
    async_broadcast b;
    async_watch ch;
    async_mpsc_init(&c, sizeof(int), 1, NULL);
    ASSERT_EQ(async_mpsc_close(&c), 0);
    ASSERT_EQ(async_mpsc_is_closed(&c), 1);
    ASSERT_EQ(async_mpsc_sender_release(&c), 0);
    ASSERT_EQ(async_mpsc_sender_release(&c), ASYNC_EINVAL);
    async_mpsc_destroy(&c);
    async_broadcast_init(&b, sizeof(int), 1, NULL);
    ASSERT_EQ(async_broadcast_sender_release(&b), 0);
    ASSERT_EQ(async_broadcast_sender_release(&b), ASYNC_EINVAL);
    async_broadcast_destroy(&b);
    async_watch_init(&ch, sizeof(int), NULL, NULL);
    ASSERT_EQ(async_watch_sender_release(&ch), 0);
    ASSERT_EQ(async_watch_sender_release(&ch), ASYNC_EINVAL);
    async_watch_destroy(&ch);
}

/* The three channels with sender handles count them by one rule: a clone needs a
   sender still held (ASYNC_ECLOSED after the last release), a release needs one
   (ASYNC_EINVAL), and only the last release wakes a waiting receiver, which then
   sees the end (ASYNC_ECLOSED). */
typedef struct {
    async_task task;
    async_waiter w;
    async_mpsc *c;
    async_broadcast_rx *brx;
    async_watch_rx *wrx;
    int rc, item;
} endframe;
static int end_waiter(async_task *t) {
    endframe *f = (endframe *)t;
    ASYNC_BEGIN(t);
    if (f->c) ASYNC_AWAIT(f->rc, async_mpsc_recv(t, f->c, &f->w, &f->item));
    else if (f->brx) ASYNC_AWAIT(f->rc, async_broadcast_recv(t, f->brx, &f->w, &f->item));
    else ASYNC_AWAIT(f->rc, async_watch_wait_changed(t, f->wrx, &f->w));
    ASYNC_END(0);
}
TEST(sender_counts_one_rule) {
    async_runtime rt;
    async_mpsc c;
    async_broadcast b;
    async_broadcast_rx brx;
    async_watch ch;
    async_watch_rx wrx;
    static endframe f;
    uint32_t *senders[3];
    int k, i;
    test_rt_paused(&rt);
    ASSERT_EQ(async_mpsc_init(&c, sizeof(int), 2, NULL), 0);
    ASSERT_EQ(async_broadcast_init(&b, sizeof(int), 2, NULL), 0);
    ASSERT_EQ(async_broadcast_subscribe(&b, &brx), 0);
    ASSERT_EQ(async_watch_init(&ch, sizeof(int), NULL, NULL), 0);
    ASSERT_EQ(async_watch_subscribe(&ch, &wrx), 0);
    senders[0] = &c.senders;
    senders[1] = &b.senders;
    senders[2] = &ch.senders;
    for (k = 0; k < 3; k++) {
        ZERO(f);
        f.rc = 1;
        if (k == 0) f.c = &c;
        if (k == 1) f.brx = &brx;
        if (k == 2) f.wrx = &wrx;
        ASSERT_EQ(async_task_spawn(&rt, &f.task, end_waiter, "rx"), 0);
        async_runtime_step(&rt, 0);
        ASSERT_EQ(f.w.state, 1);                              /* waiting */
        for (i = 0; i < 2; i++) {                             /* three senders */
            ASSERT_EQ(k == 0 ? async_mpsc_sender_clone(&c) :
                      k == 1 ? async_broadcast_sender_clone(&b) :
                      async_watch_sender_clone(&ch), 0);
        }
        ASSERT_EQ(*senders[k], 3);
        for (i = 0; i < 3; i++) {
            ASSERT_EQ(k == 0 ? async_mpsc_sender_release(&c) :
                      k == 1 ? async_broadcast_sender_release(&b) :
                      async_watch_sender_release(&ch), 0);
            async_runtime_step(&rt, 0);
            ASSERT_EQ(async_task_is_finished(&f.task), i == 2);  /* the last one ends it */
        }
        ASSERT_EQ(f.rc, ASYNC_ECLOSED);
        ASSERT_EQ(k == 0 ? async_mpsc_sender_clone(&c) :
                  k == 1 ? async_broadcast_sender_clone(&b) :
                  async_watch_sender_clone(&ch), ASYNC_ECLOSED);  /* none left to clone */
        ASSERT_EQ(k == 0 ? async_mpsc_sender_release(&c) :
                  k == 1 ? async_broadcast_sender_release(&b) :
                  async_watch_sender_release(&ch), ASYNC_EINVAL);
        ASSERT_EQ(*senders[k], 0);
    }
    ASSERT_EQ(async_watch_has_changed(&wrx), ASYNC_ECLOSED);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(async_mpsc_destroy(&c), 0);
    ASSERT_EQ(async_broadcast_destroy(&b), 0);
    ASSERT_EQ(async_watch_destroy(&ch), 0);
    async_runtime_destroy(&rt);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(mpsc_order_and_backpressure_capacity_1);
    RUN(mpsc_many_senders_fifo_when_full);
    RUN(mpsc_try_send_try_recv);
    RUN(mpsc_close_drains_and_fails_senders);
    RUN(mpsc_close_beats_a_slot_handed_over_but_not_yet_seen);
    RUN(mpsc_permits_reserve_capacity_and_close);
    RUN(mpsc_cancel_send_and_recv_lose_nothing);
    RUN(mpsc_recv_timeout_then_item);
    RUN(mpsc_unbounded_blocks_and_odd_item_sizes);
    RUN(mpsc_unbounded_allocation_failure);
    RUN(failed_init_leaves_an_inert_object);
    RUN(typed_mpsc_same_semantics);
    RUN(typed_mpsc_abort_and_close);
    RUN(mpsc_recv_many_batches_in_order_and_frees_slots_fifo);
    RUN(mpsc_recv_many_edges_unbounded_and_bad_arguments);
    RUN(mpsc_recv_many_cancelled_takes_nothing);
    RUN(typed_mpsc_recv_many);
    RUN(typed_mpsc_parked_recv_times_out_and_aborts);
    RUN(mpsc_end_reaches_parked_receiver);
    RUN(mpsc_untyped_fast_path_edges);
    RUN(mpsc_model_random_scripts);
    RUN(broadcast_model_random_scripts);
    RUN(watch_model_random_scripts);
    RUN(zero_size_items);
    RUN(oneshot_close_wakes_parked_receiver);
    RUN(oneshot_send_recv_and_release);
    RUN(oneshot_receiver_close);
    RUN(oneshot_abort_recv_keeps_value_and_polling_after_done);
    RUN(broadcast_every_subscriber_sees_later_items);
    RUN(broadcast_lag_is_per_receiver_and_resumes_at_oldest);
    RUN(broadcast_single_slot_lag);
    RUN(broadcast_tasks_wait_and_close);
    RUN(watch_versions_and_close);
    RUN(watch_borrow_and_update_and_marks);
    RUN(watch_cancelled_changed_marks_nothing);
    RUN(chan_bad_arguments);
    RUN(mpsc_in_caller_storage);
    RUN(destroy_while_a_task_waits_is_refused);
    RUN(oneshot_release_after_send_and_watch_replace_without_old);
    RUN(mpsc_unbounded_reuses_a_spare_block);
    RUN(mpsc_unbounded_ops_in_cancel_mode);
    RUN(oneshot_recv_without_budget_yields_and_keeps_the_value);
    RUN(sender_handles_and_is_closed);
    RUN(sender_counts_one_rule);
    DONE();
}
