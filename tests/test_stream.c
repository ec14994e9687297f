/* Streams: sources, adapters and sinks, following tokio-stream / futures' StreamExt
   semantics: order, ends (empty, n = 0, n = 1, the end mid-chunk), error items,
   backpressure, concurrency limits, time on the paused clock, a long pipeline in
   constant memory, and cancellation that leaves nothing registered. */
#include "test.h"

#define MS(x) ASYNC_MS(x)
#define EITEM (-77)              /* an error item of our own */

/* ---- helpers ---------------------------------------------------------------------- */
static int sum_int(void *acc, const void *item, void *user) {
    (void)user;
    *(long long *)acc += *(const int *)item;
    return 0;
}
static void square(const void *in, void *out, void *user) {
    int x = *(const int *)in;
    (void)user;
    *(int *)out = x * x;
}
static int is_even(const void *item, void *user) {
    (void)user;
    return (*(const int *)item & 1) == 0;
}
static int odd_tripled(const void *in, void *out, void *user) {
    int x = *(const int *)in;
    (void)user;
    if (!(x & 1)) return 0;
    *(int *)out = 3 * x;
    return 1;
}
static int below(const void *item, void *user) { return *(const int *)item < *(int *)user; }

/* from_fn counter: items 0..limit-1, error items at positions listed in err (value
   -5), counting every call so tests can see how far upstream was read. */
typedef struct {
    int next, limit, calls, err_at[4], nerr;
} counter;
static int counter_fn(void *user, void *item) {
    counter *c = (counter *)user;
    int i;
    c->calls++;
    if (c->next >= c->limit) return 0;
    for (i = 0; i < c->nerr; i++)
        if (c->err_at[i] == c->next) {
            c->err_at[i] = -1;
            return EITEM;
        }
    *(int *)item = c->next++;
    return 1;
}

/* A task that drives one sink op on `s` to completion. */
enum { SINK_FOLD, SINK_COLLECT, SINK_COUNT, SINK_COLLECT_ALLOC };
typedef struct {
    async_task task;
    async_stream *s;
    async_stream_sink k;
    int kind, rc, scratch[64], buf[64];
    size_t cap, limit;
    long long acc;
    void *heap;
    async_time t0, ended_at;            /* ended_at: since t0 */
} sink_frame;
static int sink_task(async_task *t) {
    sink_frame *f = (sink_frame *)t;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(t->rt);
    if (f->kind == SINK_FOLD)
        ASYNC_AWAIT(f->rc, async_stream_fold(t, f->s, &f->k, &f->acc, sum_int, NULL, f->scratch));
    else if (f->kind == SINK_COLLECT)
        ASYNC_AWAIT(f->rc, async_stream_collect(t, f->s, &f->k, f->buf, f->cap));
    else if (f->kind == SINK_COUNT)
        ASYNC_AWAIT(f->rc, async_stream_count_items(t, f->s, &f->k, f->scratch));
    else
        ASYNC_AWAIT(f->rc, async_stream_collect_alloc(t, f->s, &f->k, &f->heap, f->limit));
    f->ended_at = async_time_now(t->rt) - f->t0;
    ASYNC_END(f->rc);
}
static void run_sink(sink_frame *f, async_stream *s, int kind, size_t cap) {
    async_runtime rt;
    test_rt_paused(&rt);
    f->s = s;
    f->kind = kind;
    f->cap = cap;
    async_task_spawn(&rt, &f->task, sink_task, "sink");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

/* ---- sources, map, filter, fold --------------------------------------------------- */
TEST(iter_map_filter_fold) {
    static sink_frame f;
    int data[10], i, sq[1];
    async_stream_iter it;
    async_stream_map m;
    async_stream_filter fl;
    for (i = 0; i < 10; i++) data[i] = i + 1;
    ZERO(f);
    ASSERT_EQ(async_stream_iter_init(&it, data, sizeof(int), 10), 0);
    ASSERT_EQ(async_stream_map_init(&m, &it.base, sizeof(int), square, NULL, sq), 0);
    ASSERT_EQ(async_stream_filter_init(&fl, &m.base, is_even, NULL), 0);
    run_sink(&f, &fl.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.acc, 4 + 16 + 36 + 64 + 100);
    ASSERT_EQ(f.k.count, 5);
    /* fused: polling after the end gives the end again */
    ASSERT_EQ(fl.base.ended, 1);
    ZERO(f);
    run_sink(&f, &fl.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 0);
}

TEST(empty_streams_end_at_once) {
    static sink_frame f;
    async_stream_iter it;
    async_stream_count tk;
    async_stream_chunks ch;
    ZERO(f);
    async_stream_iter_init(&it, NULL, sizeof(int), 0);
    run_sink(&f, &it.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.acc, 0);
    ASSERT_EQ(f.k.count, 0);
    /* an empty upstream gives no chunk at all, not an empty one */
    ZERO(f);
    async_stream_iter_init(&it, NULL, sizeof(int), 0);
    ASSERT_EQ(async_stream_chunks_init(&ch, &it.base, 3), 0);
    run_sink(&f, &ch.base, SINK_COUNT, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 0);
    ZERO(f);
    async_stream_iter_init(&it, NULL, sizeof(int), 0);
    async_stream_take_init(&tk, &it.base, 5);
    run_sink(&f, &tk.base, SINK_COUNT, 0);
    ASSERT_EQ(f.k.count, 0);
}

TEST(take_and_skip_edges) {
    static sink_frame f;
    counter c;
    async_stream_from_fn src;
    async_stream_count tk, sk;
    /* take(0) never reads upstream */
    ZERO(f); ZERO(c); c.limit = 10;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_take_init(&tk, &src.base, 0);
    run_sink(&f, &tk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 0);
    ASSERT_EQ(c.calls, 0);
    /* take(1) reads exactly one item */
    ZERO(f); ZERO(c); c.limit = 10;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_take_init(&tk, &src.base, 1);
    run_sink(&f, &tk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 1);
    ASSERT_EQ(f.buf[0], 0);
    ASSERT_EQ(c.calls, 1);
    /* take(n) past the end: the end */
    ZERO(f); ZERO(c); c.limit = 3;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_take_init(&tk, &src.base, 100);
    run_sink(&f, &tk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 3);
    /* skip(2) then take(3) */
    ZERO(f); ZERO(c); c.limit = 10;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_skip_init(&sk, &src.base, 2);
    async_stream_take_init(&tk, &sk.base, 3);
    run_sink(&f, &tk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 3);
    ASSERT_EQ(f.buf[0], 2);
    ASSERT_EQ(f.buf[2], 4);
    ASSERT_EQ(c.calls, 5);
    /* skip past the end: nothing, no error */
    ZERO(f); ZERO(c); c.limit = 3;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_skip_init(&sk, &src.base, 7);
    run_sink(&f, &sk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 0);
    /* skip(0) is the identity */
    ZERO(f); ZERO(c); c.limit = 4;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_skip_init(&sk, &src.base, 0);
    run_sink(&f, &sk.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 4);
    ASSERT_EQ(f.buf[0], 0);
}

TEST(take_while_skip_while_filter_map_enumerate) {
    static sink_frame f;
    int data[] = {1, 2, 5, 1, 7, 2}, lim = 3, i;
    async_stream_iter it;
    async_stream_filter fw;
    async_stream_map fm;
    async_stream_count en;
    int scratch;
    ZERO(f);
    async_stream_iter_init(&it, data, sizeof(int), 6);
    async_stream_take_while_init(&fw, &it.base, below, &lim);
    run_sink(&f, &fw.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 2);                    /* 1, 2 then 5 stops it (1 later is not seen) */
    ASSERT_EQ(it.pos, 3);                       /* the first failing item is consumed */
    ZERO(f);
    async_stream_iter_init(&it, data, sizeof(int), 6);
    async_stream_skip_while_init(&fw, &it.base, below, &lim);
    run_sink(&f, &fw.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 4);                    /* 5 1 7 2: later small items pass */
    ASSERT_EQ(f.buf[0], 5);
    ASSERT_EQ(f.buf[1], 1);
    /* filter_map: keep odd values, tripled */
    ZERO(f);
    async_stream_iter_init(&it, data, sizeof(int), 6);
    CHECK(async_stream_filter_map_init(&fm, &it.base, sizeof(int), NULL, NULL, &scratch) ==
          ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_map_init(&fm, &it.base, sizeof(int), odd_tripled, NULL,
                                           &scratch), 0);
    run_sink(&f, &fm.base, SINK_COLLECT, 64);
    ASSERT_EQ(f.k.count, 4);
    ASSERT_EQ(f.buf[0], 3);
    ASSERT_EQ(f.buf[1], 15);
    ASSERT_EQ(f.buf[2], 3);
    ASSERT_EQ(f.buf[3], 21);
    /* enumerate's items: a uint64_t index, then the item */
    ZERO(f);
    async_stream_iter_init(&it, data, sizeof(int), 6);
    ASSERT_EQ(async_stream_enumerate_init(&en, &it.base), 0);
    ASSERT_EQ(en.base.item_size, sizeof(uint64_t) + sizeof(int));
    f.limit = 100;
    run_sink(&f, &en.base, SINK_COLLECT_ALLOC, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 6);
    for (i = 0; i < 6 && f.heap; i++) {
        uint64_t idx;
        int v;
        memcpy(&idx, (unsigned char *)f.heap + (size_t)i * en.base.item_size, sizeof idx);
        memcpy(&v, (unsigned char *)f.heap + (size_t)i * en.base.item_size + 8, sizeof v);
        ASSERT_EQ(idx, i);
        ASSERT_EQ(v, data[i]);
    }
    ASYNC_FREE(f.heap);
}


/* ---- chunks --------------------------------------------------------------------- */
/* Collects chunks of ints as "a,b,c|" into test_log. */
typedef struct {
    async_task task;
    async_stream *s;
    async_stream_sink k;
    int rc;
    unsigned char chunk[sizeof(size_t) + 16 * sizeof(int)];
    async_time t0;
} chunk_frame;
static int chunk_task(async_task *t) {
    chunk_frame *f = (chunk_frame *)t;
    size_t have, i;
    int v;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(t->rt);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, f->s, f->chunk));
        if (f->rc == 0) break;
        if (f->rc < 0) {
            logf_("E%d|", f->rc);
            continue;
        }
        memcpy(&have, f->chunk, sizeof have);
        for (i = 0; i < have; i++) {
            memcpy(&v, f->chunk + sizeof(size_t) + i * sizeof(int), sizeof v);
            logf_(i ? ",%d" : "%d", v);
        }
        logf_("@%d|", (int)((async_time_now(t->rt) - f->t0) / MS(1)));
    }
    ASYNC_END(0);
}
static void run_chunks(async_stream *s) {
    async_runtime rt;
    static chunk_frame f;
    ZERO(f);
    f.s = s;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &f.task, chunk_task, "chunks");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_runtime_destroy(&rt);
}

TEST(chunks_sizes_end_and_errors) {
    counter c;
    async_stream_from_fn src;
    async_stream_chunks ch;
    ZERO(c); c.limit = 7;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    ASSERT_EQ(async_stream_chunks_init(&ch, &src.base, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunks_init(&ch, &src.base, 3), 0);
    ASSERT_EQ(ch.base.item_size, async_stream_chunk_size(&src.base, 3));
    LOG_RESET();
    run_chunks(&ch.base);
    ASSERT_STR(test_log, "0,1,2@0|3,4,5@0|6@0|");   /* the end mid-chunk: a short chunk */
    ZERO(c); c.limit = 6;                            /* an exact multiple: no empty chunk */
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_chunks_init(&ch, &src.base, 3);
    LOG_RESET();
    run_chunks(&ch.base);
    ASSERT_STR(test_log, "0,1,2@0|3,4,5@0|");
    ZERO(c); c.limit = 3;                            /* n = 1 */
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_chunks_init(&ch, &src.base, 1);
    LOG_RESET();
    run_chunks(&ch.base);
    ASSERT_STR(test_log, "0@0|1@0|2@0|");
    /* an error item mid-chunk passes through; the batch so far is kept */
    ZERO(c); c.limit = 5; c.nerr = 1; c.err_at[0] = 1;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    async_stream_chunks_init(&ch, &src.base, 3);
    LOG_RESET();
    run_chunks(&ch.base);
    ASSERT_STR(test_log, "E-77|0,1,2@0|3,4@0|");
}

/* A producer sending ints with given gaps (ms) into an mpsc, then closing. */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_mpsc *c;
    const int *gaps;
    int n, i, rc, item;
} prod_frame;
static int producer(async_task *t) {
    prod_frame *f = (prod_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->n; f->i++) {
        if (f->gaps && f->gaps[f->i]) ASYNC_AWAIT(f->rc, async_sleep(t, &f->timer, MS(f->gaps[f->i])));
        f->item = f->i;
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, f->c, &f->w, &f->item));
        if (f->rc < 0) break;
    }
    async_mpsc_sender_release(f->c);
    ASYNC_END(0);
}

TEST(chunks_timeout_emits_partial_batches) {
    async_runtime rt;
    static chunk_frame f;
    static prod_frame p;
    static const int gaps[] = {0, 1, 1, 30, 1, 50, 0};
    async_mpsc c;
    int store[4];
    async_stream_mpsc ms;
    async_stream_chunks ch;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, store);
    async_stream_mpsc_init(&ms, &c);
    ASSERT_EQ(async_stream_chunks_timeout_init(&ch, &ms.base, 3, MS(10)), 0);
    ZERO(f); ZERO(p);
    f.s = &ch.base;
    p.c = &c; p.gaps = gaps; p.n = 7;
    LOG_RESET();
    async_task_spawn(&rt, &p.task, producer, "producer");
    async_task_spawn(&rt, &f.task, chunk_task, "chunks");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* items at 0,1,2 fill a batch; 3 at 32 waits 10 ms for company (4 at 33 joins);
       5 at 83 and 6 at 83 make a batch cut short by the end */
    ASSERT_STR(test_log, "0,1,2@2|3,4@42|5,6@83|");
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* ---- zip, chain, merge, select_all ------------------------------------------------ */
TEST(zip_chain_merge_select_all) {
    static sink_frame f;
    int a[] = {1, 2, 3}, b[] = {10, 20}, d[] = {100}, i;
    async_stream_iter ia, ib, id;
    async_stream_pair p;
    async_stream_select_all sa;
    async_stream *ups[3];
    async_stream_iter_init(&ia, a, sizeof(int), 3);
    async_stream_iter_init(&ib, b, sizeof(int), 2);
    ASSERT_EQ(async_stream_zip_init(&p, &ia.base, &ia.base), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_zip_init(&p, &ia.base, &ib.base), 0);
    ASSERT_EQ(p.base.item_size, 2 * sizeof(int));
    ZERO(f);
    run_sink(&f, &p.base, SINK_COLLECT, 32);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 2);                    /* ends with the shorter */
    ASSERT_EQ(f.buf[0], 1); ASSERT_EQ(f.buf[1], 10);
    ASSERT_EQ(f.buf[2], 2); ASSERT_EQ(f.buf[3], 20);
    /* chain */
    async_stream_iter_init(&ia, a, sizeof(int), 3);
    async_stream_iter_init(&ib, b, sizeof(int), 2);
    ASSERT_EQ(async_stream_chain_init(&p, &ia.base, &ib.base), 0);
    ZERO(f);
    run_sink(&f, &p.base, SINK_COLLECT, 32);
    ASSERT_EQ(f.k.count, 5);
    ASSERT_EQ(f.buf[2], 3); ASSERT_EQ(f.buf[3], 10);
    /* merge: alternates while both are ready, then drains the longer */
    async_stream_iter_init(&ia, a, sizeof(int), 3);
    async_stream_iter_init(&ib, b, sizeof(int), 2);
    ASSERT_EQ(async_stream_merge_init(&p, &ia.base, &ib.base), 0);
    ZERO(f);
    run_sink(&f, &p.base, SINK_COLLECT, 32);
    ASSERT_EQ(f.k.count, 5);
    {
        static const int want[] = {1, 10, 2, 20, 3};
        for (i = 0; i < 5; i++) ASSERT_EQ(f.buf[i], want[i]);
    }
    /* select_all: round robin over three, ending when all have */
    async_stream_iter_init(&ia, a, sizeof(int), 3);
    async_stream_iter_init(&ib, b, sizeof(int), 2);
    async_stream_iter_init(&id, d, sizeof(int), 1);
    ups[0] = &ia.base; ups[1] = &ib.base; ups[2] = &id.base;
    ASSERT_EQ(async_stream_select_all_init(&sa, ups, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_select_all_init(&sa, ups, 3), 0);
    ZERO(f);
    run_sink(&f, &sa.base, SINK_COLLECT, 32);
    ASSERT_EQ(f.k.count, 6);
    {
        static const int want[] = {1, 10, 100, 2, 20, 3};
        for (i = 0; i < 6; i++) ASSERT_EQ(f.buf[i], want[i]);
    }
}

TEST(merge_of_timed_sources_in_time_order) {
    async_runtime rt;
    static sink_frame f;
    static prod_frame p1, p2;
    static const int g1[] = {5, 10, 10}, g2[] = {1, 1, 30};
    async_mpsc c1, c2;
    int s1[2], s2[2];
    async_stream_mpsc m1, m2;
    async_stream_pair mg;
    short mismatched;
    async_stream_iter other;
    test_rt_paused(&rt);
    async_mpsc_init(&c1, sizeof(int), 2, s1);
    async_mpsc_init(&c2, sizeof(int), 2, s2);
    async_stream_mpsc_init(&m1, &c1);
    async_stream_mpsc_init(&m2, &c2);
    async_stream_iter_init(&other, &mismatched, sizeof mismatched, 1);
    ASSERT_EQ(async_stream_merge_init(&mg, &m1.base, &other.base), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_merge_init(&mg, &m1.base, &m2.base), 0);
    ZERO(f); ZERO(p1); ZERO(p2);
    p1.c = &c1; p1.gaps = g1; p1.n = 3;
    p2.c = &c2; p2.gaps = g2; p2.n = 3;
    f.s = &mg.base; f.kind = SINK_COLLECT; f.cap = 64;
    async_task_spawn(&rt, &f.task, sink_task, "sink");
    async_task_spawn(&rt, &p1.task, producer, "p1");
    async_task_spawn(&rt, &p2.task, producer, "p2");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 6);
    /* p2 at 1, 2, 32; p1 at 5, 15, 25: merged in arrival order */
    {
        static const int want[] = {0, 1, 0, 1, 2, 2};
        int i;
        for (i = 0; i < 6; i++) ASSERT_EQ(f.buf[i], want[i]);
    }
    ASSERT_EQ(f.ended_at, MS(32));
    async_mpsc_destroy(&c1);
    async_mpsc_destroy(&c2);
    async_runtime_destroy(&rt);
}

/* ---- error items and sinks -------------------------------------------------------- */
static int stop_at_3(const void *item, void *user) {
    (*(int *)user)++;
    return *(const int *)item == 3 ? -1000 : 0;
}
typedef struct {
    async_task task;
    async_stream *s;
    async_stream_sink k;
    int rc, scratch, seen;
} each_frame;
static int each_task(async_task *t) {
    each_frame *f = (each_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_stream_for_each(t, f->s, &f->k, stop_at_3, &f->seen, &f->scratch));
    ASYNC_END(0);
}

TEST(error_items_counted_skipped_or_stopping) {
    static sink_frame f;
    static each_frame e;
    counter c;
    async_stream_from_fn src;
    async_runtime rt;
    ZERO(f); ZERO(c); c.limit = 6; c.nerr = 2; c.err_at[0] = 2; c.err_at[1] = 4;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    run_sink(&f, &src.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.acc, 0 + 1 + 2 + 3 + 4 + 5);
    ASSERT_EQ(f.k.count, 6);
    ASSERT_EQ(f.k.errors, 2);
    /* try_ form: the first error item ends it, the stream stays usable */
    ZERO(f); ZERO(c); c.limit = 6; c.nerr = 1; c.err_at[0] = 2;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    f.k.stop_on_error = 1;
    run_sink(&f, &src.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, EITEM);
    ASSERT_EQ(f.acc, 1);
    ASSERT_EQ(f.k.count, 2);
    run_sink(&f, &src.base, SINK_FOLD, 0);     /* resumes after the error item */
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.acc, 15);
    /* for_each: fn returning < 0 stops at that item */
    ZERO(e); ZERO(c); c.limit = 10;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    e.s = &src.base;
    test_rt_paused(&rt);
    async_task_spawn(&rt, &e.task, each_task, "each");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(e.rc, -1000);
    ASSERT_EQ(e.seen, 4);
    ASSERT_EQ(c.calls, 4);                      /* nothing read past the stopping item */
    async_runtime_destroy(&rt);
}

TEST(collect_limits_and_allocation) {
    static sink_frame f;
    counter c;
    async_stream_from_fn src;
    int i;
    /* collect into a fixed buffer: ELIMIT when full, nothing read beyond */
    ZERO(f); ZERO(c); c.limit = 100;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    run_sink(&f, &src.base, SINK_COLLECT, 5);
    ASSERT_EQ(f.rc, ASYNC_ELIMIT);
    ASSERT_EQ(f.k.count, 5);
    ASSERT_EQ(c.calls, 5);
    ZERO(f);                                    /* cap 0 */
    run_sink(&f, &src.base, SINK_COLLECT, 0);
    ASSERT_EQ(f.rc, ASYNC_ELIMIT);
    ASSERT_EQ(c.calls, 5);
    /* collect_alloc grows by doubling: 1000 items */
    ZERO(f); ZERO(c); c.limit = 1000;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    f.limit = (size_t)-1;
    run_sink(&f, &src.base, SINK_COLLECT_ALLOC, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 1000);
    CHECK(f.k.room >= 1000 && f.k.room < 2048);
    for (i = 0; i < 1000 && f.heap; i++)
        if (((int *)f.heap)[i] != i) { FAIL_("item %d", i); break; }
    ASYNC_FREE(f.heap);
    /* a limit: the buffer never grows past it */
    ZERO(f); ZERO(c); c.limit = 1000;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    f.limit = 20;
    run_sink(&f, &src.base, SINK_COLLECT_ALLOC, 0);
    ASSERT_EQ(f.rc, ASYNC_ELIMIT);
    ASSERT_EQ(f.k.count, 20);
    ASSERT_EQ(f.k.room, 20);
    ASYNC_FREE(f.heap);
    /* allocation failure: ENOMEM, what was collected is kept */
    ZERO(f); ZERO(c); c.limit = 1000;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    f.limit = (size_t)-1;
    test_alloc_calls = 0;
    test_fail_at = 3;                           /* 8, 16, then the 32-item array fails */
    run_sink(&f, &src.base, SINK_COLLECT_ALLOC, 0);
    test_fail_at = 0;
    ASSERT_EQ(f.rc, ASYNC_ENOMEM);
    ASSERT_EQ(f.k.count, 16);
    CHECK(f.heap && ((int *)f.heap)[15] == 15);
    ASYNC_FREE(f.heap);
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    RUN(iter_map_filter_fold);
    RUN(empty_streams_end_at_once);
    RUN(take_and_skip_edges);
    RUN(take_while_skip_while_filter_map_enumerate);
    RUN(chunks_sizes_end_and_errors);
    RUN(chunks_timeout_emits_partial_batches);
    RUN(zip_chain_merge_select_all);
    RUN(merge_of_timed_sources_in_time_order);
    RUN(error_items_counted_skipped_or_stopping);
    RUN(collect_limits_and_allocation);
    DONE();
}
