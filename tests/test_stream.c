/* Streams: sources, adapters and sinks, following tokio-stream / futures' StreamExt
   semantics: order, ends (empty, n = 0, n = 1, the end mid-chunk), error items,
   backpressure, concurrency limits, time on the paused clock, a long pipeline in
   constant memory, and cancellation that leaves nothing registered. */
#include "test.h"
#include "stream_model.h"

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
    f->t0 = async_time_now(async_task_runtime(t));
    if (f->kind == SINK_FOLD)
        ASYNC_AWAIT(f->rc, async_stream_fold(t, f->s, &f->k, &f->acc, sum_int, NULL, f->scratch));
    else if (f->kind == SINK_COLLECT)
        ASYNC_AWAIT(f->rc, async_stream_collect(t, f->s, &f->k, f->buf, f->cap));
    else if (f->kind == SINK_COUNT)
        ASYNC_AWAIT(f->rc, async_stream_count_items(t, f->s, &f->k, f->scratch));
    else
        ASYNC_AWAIT(f->rc, async_stream_collect_alloc(t, f->s, &f->k, &f->heap, f->limit));
    f->ended_at = async_time_now(async_task_runtime(t)) - f->t0;
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
    f->t0 = async_time_now(async_task_runtime(t));
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
        logf_("@%d|", (int)((async_time_now(async_task_runtime(t)) - f->t0) / MS(1)));
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
        if (f->gaps && f->gaps[f->i]) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(f->gaps[f->i])));
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
    for (i = 0; i < (int)f.k.count && f.heap; i++)     /* (fewer when out of memory) */
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
    CHECK(f.heap && f.k.count == 16 && ((int *)f.heap)[15] == 15);  /* (8: faults.h) */
    ASYNC_FREE(f.heap);
}

/* ---- then, buffered, buffer_unordered, for_each_concurrent ------------------------- */
/* Work: sleep delays[x] ms, output x * 10; tracks calls in flight and when each ends. */
typedef struct {
    const int *delays;
    int in_flight, max_in_flight, started, cleaned;
    async_time t0, done_at[64];
    async_timer timer;                  /* then: one call at a time */
} work_ctx;
typedef struct {
    async_coro co;
    async_timer timer;
} work_state;
static int work(async_task *t, void *state, const void *in, void *out, void *user) {
    work_state *w = (work_state *)state;
    work_ctx *c = (work_ctx *)user;
    int x = *(const int *)in, rc;
    ASYNC_CORO_BEGIN(t, &w->co);
    c->started++;
    if (++c->in_flight > c->max_in_flight) c->max_in_flight = c->in_flight;
    ASYNC_AWAIT(rc, async_time_sleep(t, &w->timer, MS(c->delays[x])));
    if (rc < 0) ASYNC_RETURN(rc);
    *(int *)out = x * 10;
    c->done_at[x] = async_time_now(async_task_runtime(t)) - c->t0;
    ASYNC_CLEANUP();
    c->in_flight--;
    if (async_task_is_cancelling(t)) c->cleaned++;
    ASYNC_END(0);
}
static int work_then(async_task *t, async_coro *co, const void *in, void *out, void *user) {
    work_ctx *c = (work_ctx *)user;
    int x = *(const int *)in, rc;
    ASYNC_CORO_BEGIN(t, co);
    c->started++;
    ASYNC_AWAIT(rc, async_time_sleep(t, &c->timer, MS(c->delays[x])));
    if (rc < 0) ASYNC_RETURN(rc);
    if (x == 3) ASYNC_RETURN(EITEM);            /* an async map can fail an item */
    *(int *)out = x + 100;
    ASYNC_CLEANUP();
    if (async_task_is_cancelling(t)) c->cleaned++;
    ASYNC_END(0);
}

/* Reads a stream of ints, logging "v@ms " (errors as "E@ms "). */
typedef struct {
    async_task task;
    async_stream *s;
    int rc, item, n, got[64];
    async_time t0, at[64];
    async_time busy;                    /* after each item, work this long first */
    async_timer timer;
} read_frame;
static int read_task(async_task *t) {
    read_frame *f = (read_frame *)t;
    ASYNC_BEGIN(t);
    f->t0 = async_time_now(async_task_runtime(t));
    for (;;) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, f->s, &f->item));
        if (f->rc == 0) break;
        if (f->n < 64) {
            f->got[f->n] = f->rc < 0 ? f->rc : f->item;
            f->at[f->n++] = async_time_now(async_task_runtime(t)) - f->t0;
        }
        {
            int ms = (int)((async_time_now(async_task_runtime(t)) - f->t0) / MS(1));
            if (f->rc < 0) logf_("E@%d ", ms);
            else logf_("%d@%d ", f->item, ms);
        }
        if (f->busy && f->rc > 0) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, f->busy));
    }
    ASYNC_END(0);
}
static void spawn_reader(async_runtime *rt, read_frame *f, async_stream *s) {
    ZERO(*f);
    f->s = s;
    async_task_spawn(rt, &f->task, read_task, "reader");
}

TEST(then_is_an_async_map_in_order) {
    async_runtime rt;
    static read_frame r;
    static const int delays[] = {5, 1, 3, 1, 2};
    int in[] = {0, 1, 2, 3, 4}, scratch;
    work_ctx c;
    async_stream_iter it;
    async_stream_then th;
    ZERO(c);
    c.delays = delays;
    test_rt_paused(&rt);
    async_stream_iter_init(&it, in, sizeof(int), 5);
    ASSERT_EQ(async_stream_then_init(&th, &it.base, sizeof(int), work_then, &c, &scratch), 0);
    LOG_RESET();
    spawn_reader(&rt, &r, &th.base);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* one at a time: 5, +1, +3, +1 (an error item), +2 */
    ASSERT_STR(test_log, "100@5 101@6 102@9 E@10 104@12 ");
    ASSERT_EQ(c.started, 5);
    async_runtime_destroy(&rt);
}

static void check_buffered(int ordered) {
    async_runtime rt;
    static read_frame r;
    static const int delays[] = {30, 10, 20, 5, 5, 40, 1, 1};
    int i;
    uint64_t slots[3 * 16];       /* aligned storage for the slots */
    work_ctx c;
    counter src_c;
    async_stream_from_fn src;
    async_stream_buffered b;
    ZERO(c); ZERO(src_c);
    src_c.limit = 8;
    c.delays = delays;
    test_rt_paused(&rt);
    c.t0 = async_time_now(&rt);
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &src_c);
    CHECK(async_stream_slot_size(sizeof(work_state), &src.base, sizeof(int)) <= 128);
    ASSERT_EQ(async_stream_buffered_init(&b, &src.base, 3, sizeof(int), work, 4, &c, slots),
              ASYNC_EINVAL);                    /* state too small for its async_coro */
    if (ordered)
        ASSERT_EQ(async_stream_buffered_init(&b, &src.base, 3, sizeof(int), work,
                                             sizeof(work_state), &c, slots), 0);
    else
        ASSERT_EQ(async_stream_buffer_unordered_init(&b, &src.base, 3, sizeof(int), work,
                                                     sizeof(work_state), &c, slots), 0);
    LOG_RESET();
    spawn_reader(&rt, &r, &b.base);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.n, 8);
    ASSERT_EQ(c.max_in_flight, 3);              /* never more than n at once */
    ASSERT_EQ(c.in_flight, 0);
    if (ordered) {
        for (i = 0; i < 8; i++) ASSERT_EQ(r.got[i], i * 10);   /* input order */
        for (i = 0; i < 8; i++) CHECK(r.at[i] >= c.done_at[i]);
    } else {
        int seen[8] = {0};
        for (i = 0; i < 8; i++) {
            int x = r.got[i] / 10;
            CHECK(x >= 0 && x < 8 && !seen[x]);
            if (x < 0 || x >= 8) continue;
            seen[x] = 1;
            ASSERT_EQ(r.at[i], c.done_at[x]);   /* delivered as it completes */
            if (i) CHECK(c.done_at[x] >= c.done_at[r.got[i - 1] / 10]);
        }
        ASSERT_EQ(r.got[0], 10);                /* the 10 ms call finishes first */
    }
    async_runtime_destroy(&rt);
}
TEST(buffered_keeps_order_with_n_in_flight) { check_buffered(1); }
TEST(buffer_unordered_yields_in_completion_order) { check_buffered(0); }

/* The timeline of both, by hand: ordered [0..2] start at 0; 0 ends at 30 and holds
   1 and 2 (done at 10, 20) back; unordered starts 3 at 10. */
TEST(buffered_head_of_line_vs_unordered_timeline) {
    async_runtime rt;
    static read_frame r;
    static const int delays[] = {30, 10, 20, 5};
    uint64_t slots[3 * 16];       /* aligned storage for the slots */
    work_ctx c;
    counter src_c;
    async_stream_from_fn src;
    async_stream_buffered b;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        ZERO(c); ZERO(src_c);
        src_c.limit = 4;
        c.delays = delays;
        test_rt_paused(&rt);
        async_stream_from_fn_init(&src, sizeof(int), counter_fn, &src_c);
        if (pass == 0)
            async_stream_buffered_init(&b, &src.base, 3, sizeof(int), work, sizeof(work_state),
                                       &c, slots);
        else
            async_stream_buffer_unordered_init(&b, &src.base, 3, sizeof(int), work,
                                               sizeof(work_state), &c, slots);
        LOG_RESET();
        spawn_reader(&rt, &r, &b.base);
        ASSERT_EQ(async_runtime_run(&rt), 0);
        if (pass == 0) ASSERT_STR(test_log, "0@30 10@30 20@30 30@35 ");
        else ASSERT_STR(test_log, "10@10 30@15 20@20 0@30 ");
        async_runtime_destroy(&rt);
    }
}

typedef struct {
    async_task task;
    async_stream_buffered *b;
    async_stream_sink k;
    int rc, scratch;
} fec_frame;
static int fec_task(async_task *t) {
    fec_frame *f = (fec_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_stream_for_each_concurrent(t, f->b, &f->k, &f->scratch));
    ASYNC_END(0);
}

TEST(for_each_concurrent_limits_and_upstream_backpressure) {
    async_runtime rt;
    static fec_frame f;
    static int delays[40];
    uint64_t slots[4 * 16];       /* aligned storage for the slots */
    work_ctx c;
    counter src_c;
    async_stream_from_fn src;
    async_stream_buffered b;
    int i;
    for (i = 0; i < 40; i++) delays[i] = 10;
    ZERO(c); ZERO(src_c); ZERO(f);
    src_c.limit = 40;
    c.delays = delays;
    test_rt_paused(&rt);
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &src_c);
    async_stream_buffer_unordered_init(&b, &src.base, 4, sizeof(int), work, sizeof(work_state),
                                       &c, slots);
    f.b = &b;
    async_task_spawn(&rt, &f.task, fec_task, "fec");
    c.t0 = async_time_now(&rt);
    /* after the first poll: exactly 4 items read, 4 calls running */
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(src_c.calls, 4);
    ASSERT_EQ(c.in_flight, 4);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 40);
    ASSERT_EQ(c.max_in_flight, 4);
    ASSERT_EQ(c.done_at[39], MS(100));          /* 40 calls of 10 ms, 4 at a time */
    async_runtime_destroy(&rt);
}

TEST(cancel_releases_calls_in_flight_and_timers) {
    async_runtime rt;
    static read_frame r;
    static int delays[16];
    uint64_t slots[3 * 16];       /* aligned storage for the slots */
    work_ctx c, c2;
    counter src_c;
    async_stream_from_fn src;
    async_stream_buffered b;
    async_stream_then th;
    async_stream_iter it;
    int in[] = {0, 1}, scratch, i;
    for (i = 0; i < 16; i++) delays[i] = 1000;
    ZERO(c); ZERO(c2); ZERO(src_c);
    src_c.limit = 16;
    c.delays = c2.delays = delays;
    test_rt_paused(&rt);
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &src_c);
    async_stream_buffer_unordered_init(&b, &src.base, 3, sizeof(int), work, sizeof(work_state),
                                       &c, slots);
    spawn_reader(&rt, &r, &b.base);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(c.in_flight, 3);
    ASSERT_EQ(rt.ntimers, 3);
    ASSERT_EQ(async_task_abort(&r.task), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.in_flight, 0);                  /* every call unwound through cleanup */
    ASSERT_EQ(c.cleaned, 3);
    ASSERT_EQ(rt.ntimers, 0);
    /* then: the call in flight unwinds */
    async_stream_iter_init(&it, in, sizeof(int), 2);
    async_stream_then_init(&th, &it.base, sizeof(int), work_then, &c2, &scratch);
    spawn_reader(&rt, &r, &th.base);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_abort(&r.task), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c2.cleaned, 1);
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* ---- time: throttle, timeout, interval -------------------------------------------- */
TEST(throttle_spaces_items) {
    async_runtime rt;
    static read_frame r;
    int data[] = {1, 2, 3, 4};
    async_stream_iter it;
    async_stream_timed th;
    test_rt_paused(&rt);
    async_stream_iter_init(&it, data, sizeof(int), 4);
    ASSERT_EQ(async_stream_throttle_init(&th, &it.base, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_throttle_init(&th, &it.base, MS(10)), 0);
    LOG_RESET();
    spawn_reader(&rt, &r, &th.base);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "1@0 2@10 3@20 4@30 ");
    async_runtime_destroy(&rt);
}

TEST(throttle_does_not_delay_slow_items) {
    async_runtime rt;
    static read_frame r;
    static prod_frame p;
    static const int gaps[] = {0, 25, 1, 1};
    async_mpsc c;
    int store[4];
    async_stream_mpsc ms;
    async_stream_timed th;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, store);
    async_stream_mpsc_init(&ms, &c);
    async_stream_throttle_init(&th, &ms.base, MS(10));
    ZERO(p);
    p.c = &c; p.gaps = gaps; p.n = 4;
    LOG_RESET();
    spawn_reader(&rt, &r, &th.base);
    async_task_spawn(&rt, &p.task, producer, "producer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* 1 arrives at 25 (already 10 after 0), 2 and 3 at 26 and 27 wait their turn */
    ASSERT_STR(test_log, "0@0 1@25 2@35 3@45 ");
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(timeout_reports_each_gap_once) {
    async_runtime rt;
    static read_frame r;
    static prod_frame p;
    static const int gaps[] = {0, 50, 0, 10};
    async_mpsc c;
    int store[4];
    async_stream_mpsc ms;
    async_stream_timed to;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, store);
    async_stream_mpsc_init(&ms, &c);
    ASSERT_EQ(async_stream_timeout_init(&to, &ms.base, MS(20)), 0);
    ZERO(p);
    p.c = &c; p.gaps = gaps; p.n = 4;
    LOG_RESET();
    spawn_reader(&rt, &r, &to.base);
    async_task_spawn(&rt, &p.task, producer, "producer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* the 50 ms gap: one ETIMEDOUT at 20, then the item; the 10 ms gap is fine */
    ASSERT_STR(test_log, "0@0 E@20 1@50 2@50 3@60 ");
    ASSERT_EQ(r.got[1], ASYNC_ETIMEDOUT);
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* tokio-stream's timeout counts from when the previous item was handed out, not from
   the next poll that has to wait: a consumer busy 60 ms after the item at 0 sees the
   timeout at 100, not at 160. */
TEST(timeout_counts_from_the_previous_item) {
    async_runtime rt;
    static read_frame r;
    static prod_frame p;
    static const int gaps[] = {0, 250};
    async_mpsc c;
    int store[4];
    async_stream_mpsc ms;
    async_stream_timed to;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, store);
    async_stream_mpsc_init(&ms, &c);
    ASSERT_EQ(async_stream_timeout_init(&to, &ms.base, MS(100)), 0);
    ZERO(p);
    p.c = &c; p.gaps = gaps; p.n = 2;
    LOG_RESET();
    spawn_reader(&rt, &r, &to.base);
    r.busy = MS(60);
    async_task_spawn(&rt, &p.task, producer, "producer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_STR(test_log, "0@0 E@100 1@250 ");
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(interval_stream_ticks) {
    async_runtime rt;
    static sink_frame f;
    async_interval iv;
    async_stream_interval si;
    async_stream_count tk;
    async_time ticks[4];
    test_rt_paused(&rt);
    async_interval_init(&iv, MS(100), ASYNC_TICK_BURST);
    ASSERT_EQ(async_stream_interval_init(&si, &iv), 0);
    async_stream_take_init(&tk, &si.base, 3);
    ZERO(f);
    f.s = &tk.base; f.kind = SINK_COLLECT; f.cap = 8;
    async_task_spawn(&rt, &f.task, sink_task, "ticks");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.k.count, 3);
    memcpy(ticks, f.buf, 3 * sizeof(async_time));
    ASSERT_EQ(ticks[1] - ticks[0], MS(100));
    ASSERT_EQ(ticks[2] - ticks[1], MS(100));
    ASSERT_EQ(f.ended_at, MS(200));             /* the first tick is immediate */
    ASSERT_EQ(rt.ntimers, 0);
    async_runtime_destroy(&rt);
}

/* ---- gen and unfold --------------------------------------------------------------- */
typedef struct {
    async_stream_gen g;                 /* first: the stream */
    async_timer timer;
    int a, b, n, limit, cleaned, rc;
} fib_gen;
static int fib_next(async_task *t, async_stream *st, void *item) {
    fib_gen *s = (fib_gen *)(void *)st;
    ASYNC_CORO_BEGIN(t, &s->g.co);
    s->a = 0;
    s->b = 1;
    for (s->n = 0; s->n < s->limit; s->n++) {
        ASYNC_AWAIT(s->rc, async_time_sleep(t, &s->timer, MS(1)));
        if (s->rc < 0) ASYNC_RETURN(s->rc);
        *(int *)item = s->a;
        ASYNC_GEN_YIELD();
        s->b += s->a;
        s->a = s->b - s->a;
    }
    ASYNC_CLEANUP();
    s->cleaned++;
    ASYNC_END(0);
}

TEST(gen_stream_yields_then_ends_and_cancels) {
    async_runtime rt;
    static sink_frame f;
    static read_frame r;
    static fib_gen g;
    test_rt_paused(&rt);
    ZERO(g);
    g.limit = 8;
    ASSERT_EQ(async_stream_gen_init(&g.g, sizeof(int), fib_next), 0);
    ZERO(f);
    f.s = &g.g.base; f.kind = SINK_COLLECT; f.cap = 64;
    async_task_spawn(&rt, &f.task, sink_task, "fib");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 8);
    ASSERT_EQ(f.buf[7], 13);
    ASSERT_EQ(f.ended_at, MS(8));
    ASSERT_EQ(g.cleaned, 1);
    /* aborted mid-stream: it unwinds through its cleanup, then reads as ended */
    ZERO(g);
    g.limit = 1000;
    async_stream_gen_init(&g.g, sizeof(int), fib_next);
    spawn_reader(&rt, &r, &g.g.base);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(async_task_abort(&r.task), 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(g.cleaned, 1);
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(g.g.base.ended, 1);
    ZERO(f);
    f.s = &g.g.base; f.kind = SINK_COUNT;
    async_task_spawn(&rt, &f.task, sink_task, "after");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 0);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_timer timer;
    int n;
} unfold_state;
static int unfold_step(async_task *t, async_coro *co, void *state, void *item) {
    unfold_state *u = (unfold_state *)state;
    int rc;
    ASYNC_CORO_BEGIN(t, co);
    if (u->n == 5) ASYNC_RETURN(0);
    ASYNC_AWAIT(rc, async_time_sleep(t, &u->timer, MS(2)));
    if (rc < 0) ASYNC_RETURN(rc);
    *(int *)item = u->n * u->n;
    u->n++;
    ASYNC_END(ASYNC_ITEM);
}

TEST(unfold_steps_until_zero) {
    static sink_frame f;
    unfold_state u;
    async_stream_unfold s;
    ZERO(u); ZERO(f);
    ASSERT_EQ(async_stream_unfold_init(&s, sizeof(int), NULL, &u), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_unfold_init(&s, sizeof(int), unfold_step, &u), 0);
    run_sink(&f, &s.base, SINK_FOLD, 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 5);
    ASSERT_EQ(f.acc, 0 + 1 + 4 + 9 + 16);
    ASSERT_EQ(f.ended_at, MS(10));
}

/* ---- channels as streams ---------------------------------------------------------- */
TEST(broadcast_stream_reports_lag_as_error_item) {
    async_runtime rt;
    static sink_frame f;
    async_broadcast b;
    async_broadcast_rx rx;
    async_stream_broadcast bs;
    unsigned char store[256];
    int i;
    test_rt_paused(&rt);
    CHECK(async_broadcast_storage_size(sizeof(int), 2) <= sizeof store);
    async_broadcast_init(&b, sizeof(int), 2, store);
    async_broadcast_subscribe(&b, &rx);
    ASSERT_EQ(async_stream_broadcast_init(&bs, &rx), 0);
    for (i = 1; i <= 5; i++) async_broadcast_send(&b, &i);
    async_broadcast_sender_release(&b);
    ZERO(f);
    f.s = &bs.base; f.kind = SINK_FOLD;
    async_task_spawn(&rt, &f.task, sink_task, "bcast");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.errors, 1);                   /* lagged: 1..3 were overwritten */
    ASSERT_EQ(f.k.count, 2);
    ASSERT_EQ(f.acc, 4 + 5);
    async_broadcast_unsubscribe(&rx);
    async_broadcast_destroy(&b);
    async_runtime_destroy(&rt);
}

TEST(mpsc_stream_backpressure_and_end) {
    async_runtime rt;
    static sink_frame f;
    static prod_frame p;
    async_mpsc c;
    int store[2];
    async_stream_mpsc ms;
    async_stream_timed th;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 2, store);
    async_stream_mpsc_init(&ms, &c);
    async_stream_throttle_init(&th, &ms.base, MS(1));       /* a slow consumer */
    ZERO(p); ZERO(f);
    p.c = &c; p.n = 50;
    f.s = &th.base; f.kind = SINK_FOLD;
    async_task_spawn(&rt, &p.task, producer, "producer");
    async_task_spawn(&rt, &f.task, sink_task, "sink");
    while (async_runtime_step(&rt, 0) > 0 && !async_task_is_finished(&f.task)) {
        CHECK(async_mpsc_len(&c) <= 2);
        CHECK(p.i <= (int)f.k.count + 3);       /* the producer waits for room */
        if (async_mpsc_len(&c) > 2) break;
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.k.count, 50);
    ASSERT_EQ(f.acc, 49 * 50 / 2);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* ---- fan-out ------------------------------------------------------------------------ */
typedef struct fan_frame {
    async_task task;
    async_stream *s;
    async_timer timer;
    int rc, item, got[64], n, stop_after, delay_ms;
} fan_frame;
static fan_frame fan_a, fan_b;
static int fan_cap;
/* The source checks backpressure itself: it is never read more than cap items
   ahead of the slowest live reader. */
static int fan_src(void *user, void *item) {
    counter *c = (counter *)user;
    int slowest = fan_a.n < fan_b.n ? fan_a.n : fan_b.n;
    if (fan_b.stop_after && fan_b.n >= fan_b.stop_after) slowest = fan_a.n;
    if (c->next >= c->limit) return 0;
    if (c->next - slowest >= fan_cap) FAIL_("read %d with the slowest at %d", c->next, slowest);
    *(int *)item = c->next++;
    return 1;
}
static int fan_reader(async_task *t) {
    fan_frame *f = (fan_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        if (f->stop_after && f->n == f->stop_after) {
            async_stream_fanout_release((async_stream_fanout_out *)(void *)f->s);
            break;
        }
        ASYNC_AWAIT(f->rc, async_stream_next(t, f->s, &f->item));
        if (f->rc <= 0) break;
        f->got[f->n++] = f->item;
        if (f->delay_ms) ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(f->delay_ms)));
    }
    ASYNC_END(0);
}

TEST(fanout_every_reader_sees_every_item_with_backpressure) {
    async_runtime rt;
    counter c;
    async_stream_from_fn src;
    async_stream_fanout fo;
    async_stream_fanout_out outs[2];
    int ring[4], i, pass;
    for (pass = 0; pass < 2; pass++) {
        ZERO(c); ZERO(fan_a); ZERO(fan_b);
        c.limit = 30;
        fan_cap = 4;
        test_rt_paused(&rt);
        async_stream_from_fn_init(&src, sizeof(int), fan_src, &c);
        ASSERT_EQ(async_stream_fanout_init(&fo, &src.base, ring, 0, outs, 2), ASYNC_EINVAL);
        ASSERT_EQ(async_stream_fanout_init(&fo, &src.base, ring, 4, outs, 2), 0);
        fan_a.s = &outs[0].base;
        fan_b.s = &outs[1].base;
        fan_b.delay_ms = 3;                     /* b is slow: a is held back by it */
        if (pass == 1) fan_b.stop_after = 5;    /* ... until b lets go */
        async_task_spawn(&rt, &fan_a.task, fan_reader, "a");
        async_task_spawn(&rt, &fan_b.task, fan_reader, "b");
        ASSERT_EQ(async_runtime_run(&rt), 0);
        ASSERT_EQ(fan_a.n, 30);
        ASSERT_EQ(fan_b.n, pass ? 5 : 30);
        for (i = 0; i < fan_a.n; i++) if (fan_a.got[i] != i) { FAIL_("a[%d]", i); break; }
        for (i = 0; i < fan_b.n; i++) if (fan_b.got[i] != i) { FAIL_("b[%d]", i); break; }
        ASSERT_EQ(async_stream_fanout_release(&outs[1]), pass ? ASYNC_EINVAL : 0);
        async_runtime_destroy(&rt);
    }
}

TEST(fanout_cancelled_puller_hands_over) {
    async_runtime rt;
    static prod_frame p;
    async_mpsc c;
    int store[4], ring[4];
    async_stream_mpsc ms;
    async_stream_fanout fo;
    async_stream_fanout_out outs[2];
    ZERO(fan_a); ZERO(fan_b); ZERO(p);
    fan_cap = 100;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 4, store);
    async_stream_mpsc_init(&ms, &c);
    async_stream_fanout_init(&fo, &ms.base, ring, 4, outs, 2);
    fan_a.s = &outs[0].base;
    fan_b.s = &outs[1].base;
    async_task_spawn(&rt, &fan_a.task, fan_reader, "a");
    async_task_spawn(&rt, &fan_b.task, fan_reader, "b");
    async_runtime_step(&rt, 0);                 /* a waits on the channel, b on a */
    CHECK(fo.puller == &outs[0]);
    ASSERT_EQ(async_stream_fanout_release(&outs[0]), ASYNC_EBUSY);
    ASSERT_EQ(async_task_abort(&fan_a.task), 0);
    async_runtime_step(&rt, 0);
    CHECK(fo.puller == &outs[1]);               /* b took over */
    ASSERT_EQ(async_stream_fanout_release(&outs[0]), 0);
    p.c = &c; p.n = 6;
    async_task_spawn(&rt, &p.task, producer, "producer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(fan_b.n, 6);
    ASSERT_EQ(fan_b.got[5], 5);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

/* ---- long pipelines, fairness, select --------------------------------------------- */
static int seq_fn(void *user, void *item) {
    int64_t *n = (int64_t *)user;
    if (n[0] == n[1]) return 0;
    *(int *)item = (int)(n[0]++ & 0x7fff);
    return 1;
}
typedef struct {
    async_task task;
    int rc, ticks;
    int *stop;
} ticker_frame;
static int ticker_task(async_task *t) {
    ticker_frame *f = (ticker_frame *)t;
    ASYNC_BEGIN(t);
    while (!*f->stop) {
        f->ticks++;
        ASYNC_YIELD();
    }
    ASYNC_END(0);
}

TEST(ten_million_items_in_constant_memory_and_fair) {
    async_runtime rt;
    static sink_frame f;
    static ticker_frame tk;
    int64_t n[2] = {0, 10000000};
    int sq, stop = 0;
    long allocs0 = test_allocs;
    long long want = 0;
    int64_t i;
    async_stream_from_fn src;
    async_stream_map m;
    async_stream_filter fl;
    for (i = 0; i < n[1]; i++) {
        int x = (int)(i & 0x7fff);
        if (!((x * x) & 1)) want += x * x;
    }
    test_rt_paused(&rt);
    async_stream_from_fn_init(&src, sizeof(int), seq_fn, n);
    async_stream_map_init(&m, &src.base, sizeof(int), square, NULL, &sq);
    async_stream_filter_init(&fl, &m.base, is_even, NULL);
    ZERO(f); ZERO(tk);
    f.s = &fl.base; f.kind = SINK_FOLD;
    tk.stop = &stop;
    async_task_spawn(&rt, &f.task, sink_task, "fold");
    async_task_spawn(&rt, &tk.task, ticker_task, "ticker");
    while (!async_task_is_finished(&f.task) && async_runtime_step(&rt, 0) >= 0) {}
    stop = 1;
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, 0);
    ASSERT_EQ(f.acc, want);
    ASSERT_EQ(f.k.count, 5000000);
    ASSERT_EQ(test_allocs, allocs0);            /* no allocation per item (or at all) */
    CHECK(tk.ticks > 10000000 / 128 / 2);       /* the fold yields each budget's worth */
    async_runtime_destroy(&rt);
}

/* A select loop over a stream and a timer, as with tokio::select! on stream.next():
   the stream's next losing a round must not lose an item. */
typedef struct {
    async_task task;
    async_select sel;
    async_timer timer;
    async_stream *s;
    int rc, rc2, item, n, timeouts, sum;
} sel_frame;
static int select_loop(async_task *t) {
    sel_frame *f = (sel_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc, async_stream_next(t, f->s, &f->item));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc2, async_time_sleep(t, &f->timer, MS(4)));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 1) {
            f->timeouts++;
            continue;
        }
        if (f->rc <= 0) break;
        f->n++;
        f->sum += f->item;
    }
    ASYNC_END(0);
}

TEST(select_over_stream_next_loses_no_item) {
    async_runtime rt;
    static sel_frame f;
    static prod_frame p;
    static const int gaps[] = {1, 10, 1, 7, 9, 1, 19, 2};
    async_mpsc c;
    int store[2], sq;
    async_stream_mpsc ms;
    async_stream_map m;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 2, store);
    async_stream_mpsc_init(&ms, &c);
    async_stream_map_init(&m, &ms.base, sizeof(int), square, NULL, &sq);
    ZERO(f); ZERO(p);
    f.s = &m.base;
    p.c = &c; p.gaps = gaps; p.n = 8;
    async_task_spawn(&rt, &f.task, select_loop, "select");
    async_task_spawn(&rt, &p.task, producer, "producer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.n, 8);
    ASSERT_EQ(f.sum, 0 + 1 + 4 + 9 + 16 + 25 + 36 + 49);
    /* 4 ms rounds: the gaps of 10, 7, 9 and 19 ms (no tie between timer and item) */
    ASSERT_EQ(f.timeouts, 2 + 1 + 2 + 4);
    ASSERT_EQ(rt.ntimers, 0);
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

static void tick_as_int(const void *in, void *out, void *user) {
    async_time when;
    (void)user;
    memcpy(&when, in, sizeof when);
    *(int *)out = -(int)(when / MS(1) % 1000);  /* ticks apart from channel items */
}

TEST(abort_mid_pipeline_leaves_nothing_registered) {
    async_runtime rt;
    static read_frame r;
    static prod_frame p;
    async_mpsc c;
    int store[2], ivbuf[16];
    async_interval iv;
    async_stream_mpsc ms;
    async_stream_interval si;
    async_stream_map ticks_as_int;
    async_stream_pair mg;
    async_stream_chunks ch;
    async_stream_timed to;
    async_time tick;
    (void)ivbuf;
    test_rt_paused(&rt);
    async_mpsc_init(&c, sizeof(int), 2, store);
    async_stream_mpsc_init(&ms, &c);
    async_interval_init(&iv, MS(50), ASYNC_TICK_SKIP);
    async_stream_interval_init(&si, &iv);
    async_stream_map_init(&ticks_as_int, &si.base, sizeof(int), tick_as_int, NULL, &tick);
    async_stream_merge_init(&mg, &ms.base, &ticks_as_int.base);
    async_stream_chunks_timeout_init(&ch, &mg.base, 3, MS(20));
    async_stream_timeout_init(&to, &ch.base, MS(500));
    ZERO(p);
    p.c = &c; p.n = 1000;
    /* the reader's item buffer must hold a chunk: read_frame's item is an int, so
       read through a frame with room */
    {
        static chunk_frame cf;
        ZERO(cf);
        cf.s = &to.base;
        async_task_spawn(&rt, &cf.task, chunk_task, "pipeline");
        async_task_spawn(&rt, &p.task, producer, "producer");
        LOG_RESET();
        async_runtime_step(&rt, 0);
        async_runtime_step(&rt, 0);
        CHECK(rt.ntimers >= 1);
        ASSERT_EQ(async_task_abort(&cf.task), 0);
        ASSERT_EQ(async_task_abort(&p.task), 0);
        ASSERT_EQ(async_runtime_run(&rt), 0);
        ASSERT_EQ(rt.ntimers, 0);               /* interval, chunk and timeout timers */
        CHECK(c.recv_q.head == NULL);
        CHECK(c.send_q.head == NULL);
        ASSERT_EQ(ch.have, 0);
    }
    (void)r;
    async_mpsc_destroy(&c);
    async_runtime_destroy(&rt);
}

TEST(invalid_arguments) {
    int x = 0, scratch;
    async_stream_iter it;
    async_stream_map m;
    async_stream_filter fl;
    async_stream_count ct;
    async_stream_chunks ch;
    async_stream_pair pr;
    async_stream_timed tm;
    async_stream_buffered b;
    async_stream_select_all sa;
    async_stream *ups[2];
    uint64_t slots[16];
    ASSERT_EQ(async_stream_iter_init(NULL, &x, sizeof x, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_iter_init(&it, NULL, sizeof x, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_iter_init(&it, &x, sizeof x, 1), 0);
    ASSERT_EQ(async_stream_next(NULL, &it.base, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_from_fn_init(NULL, 4, counter_fn, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_map_init(&m, &it.base, 4, square, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_map_init(&m, NULL, 4, square, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_init(&fl, &it.base, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_take_init(&ct, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunks_init(&ch, &it.base, (size_t)-1 / 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunk_size(&it.base, 0), 0);
    ASSERT_EQ(async_stream_chain_init(&pr, &it.base, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_timeout_init(&tm, &it.base, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffered_init(&b, &it.base, 0, 4, work, sizeof(work_state), NULL,
                                         slots), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffered_init(&b, &it.base, 1, 4, work, sizeof(work_state), NULL,
                                         NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffered_init(&b, &it.base, 1, 4, NULL, sizeof(work_state), NULL,
                                         slots), ASYNC_EINVAL);
    ups[0] = &it.base;
    ups[1] = NULL;
    ASSERT_EQ(async_stream_select_all_init(&sa, ups, 2), ASYNC_EINVAL);
    {
        async_stream_interval si;
        ASSERT_EQ(async_stream_interval_init(&si, NULL), ASYNC_EINVAL);
    }
    ASSERT_EQ(async_stream_fanout_release(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_slot_size(16, NULL, 4), 0);
}

/* ---- every init and sink refuses bad arguments; sinks and error items ---------------- */
typedef struct { async_task task; void (*body)(async_task *t); } sscript;
static int sscript_task(async_task *t) {
    sscript *f = (sscript *)t;
    ASYNC_BEGIN(t);
    f->body(t);
    ASYNC_END(0);
}
static void run_sscript(void (*body)(async_task *t)) {
    async_runtime rt;
    static sscript f;
    ZERO(f);
    f.body = body;
    test_rt_paused(&rt);
    ASSERT_EQ(async_runtime_block_on(&rt, &f.task, sscript_task, "script"), 0);
    async_runtime_destroy(&rt);
}
static int each_ok(const void *item, void *user) { (void)item; (void)user; return 0; }
static int no_then(async_task *t, async_coro *co, const void *in, void *out, void *user) {
    (void)t; (void)co; (void)in; (void)out; (void)user;
    return 0;
}
static int no_step(async_task *t, async_coro *co, void *state, void *item) {
    (void)t; (void)co; (void)state; (void)item;
    return 0;
}
static void stream_bad_arguments_body(async_task *t) {
    int data[3] = {1, 2, 3}, x = -1, scratch = 0, buf[4];
    void *heap = NULL;
    async_stream_iter it, it2;
    async_stream_from_fn ff;
    async_stream_unfold uf;
    async_stream_gen g;
    async_stream_mpsc sm;
    async_stream_broadcast sb;
    async_stream_map m;
    async_stream_filter fl;
    async_stream_then th;
    async_stream_count ct;
    async_stream_chunks ch;
    async_stream_pair pr;
    async_stream_select_all sa;
    async_stream_timed tm;
    async_stream_buffered b;
    async_stream_fanout fo;
    async_stream_fanout_out outs[2];
    async_stream_sink k;
    async_broadcast_rx rx0;
    async_stream *ups[2];
    uint64_t slots[16], ring[4];
    ZERO(k); ZERO(rx0); ZERO(outs);
    ASSERT_EQ(async_stream_iter_init(&it, data, sizeof(int), 3), 0);
    ASSERT_EQ(async_stream_iter_init(&it2, data, sizeof(int), 3), 0);
    /* next and cancel */
    ASSERT_EQ(async_stream_next(t, NULL, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_next(t, &it.base, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_cancel(NULL, &it.base, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_cancel(t, NULL, &x), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_cancel(t, &it.base, NULL), ASYNC_EINVAL);
    /* sources */
    ASSERT_EQ(async_stream_from_fn_init(&ff, sizeof(int), NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_unfold_init(NULL, sizeof(int), no_step, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_unfold_init(&uf, sizeof(int), NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_gen_init(NULL, sizeof(int), fib_next), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_gen_init(&g, sizeof(int), NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_mpsc_init(NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_mpsc_init(&sm, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_broadcast_init(NULL, &rx0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_broadcast_init(&sb, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_broadcast_init(&sb, &rx0), ASYNC_EINVAL);   /* not subscribed */
    ASSERT_EQ(async_stream_interval_init(NULL, NULL), ASYNC_EINVAL);
    /* adapters */
    ASSERT_EQ(async_stream_map_init(NULL, &it.base, 4, square, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_map_init(&m, &it.base, 4, NULL, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_map_init(NULL, &it.base, 4, odd_tripled, NULL, &scratch),
              ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_map_init(&m, NULL, 4, odd_tripled, NULL, &scratch),
              ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_map_init(&m, &it.base, 4, NULL, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_map_init(&m, &it.base, 4, odd_tripled, NULL, NULL),
              ASYNC_EINVAL);
    ASSERT_EQ(async_stream_filter_init(NULL, &it.base, is_even, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_take_while_init(&fl, NULL, is_even, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_skip_while_init(&fl, &it.base, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_then_init(NULL, &it.base, 4, no_then, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_then_init(&th, NULL, 4, no_then, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_then_init(&th, &it.base, 4, NULL, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_then_init(&th, &it.base, 4, no_then, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_skip_init(NULL, &it.base, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_enumerate_init(&ct, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunk_size(NULL, 2), 0);
    ASSERT_EQ(async_stream_chunks_timeout_init(NULL, &it.base, 2, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunks_timeout_init(&ch, NULL, 2, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_chunks_timeout_init(&ch, &it.base, 0, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_zip_init(NULL, &it.base, &it2.base), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_zip_init(&pr, NULL, &it2.base), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_merge_init(&pr, &it.base, &it.base), ASYNC_EINVAL);  /* itself */
    ASSERT_EQ(async_stream_select_all_init(NULL, ups, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_select_all_init(&sa, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_select_all_init(&sa, ups, 0), ASYNC_EINVAL);
    ups[0] = &it.base;
    ups[1] = &ch.base;
    ch.base.item_size = 8;                        /* items of another size */
    ASSERT_EQ(async_stream_select_all_init(&sa, ups, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_throttle_init(NULL, &it.base, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_throttle_init(&tm, NULL, MS(1)), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffer_unordered_init(NULL, &it.base, 1, 4, work, sizeof(work_state),
                                                 NULL, slots), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffer_unordered_init(&b, NULL, 1, 4, work, sizeof(work_state),
                                                 NULL, slots), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_buffer_unordered_init(&b, &it.base, 1, 4, work, 1, NULL, slots),
              ASYNC_EINVAL);                      /* state smaller than its async_coro */
    ASSERT_EQ(async_stream_fanout_init(NULL, &it.base, ring, 4, outs, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_init(&fo, NULL, ring, 4, outs, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_init(&fo, &it.base, ring, 0, outs, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_init(&fo, &it.base, ring, 4, NULL, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_init(&fo, &it.base, ring, 4, outs, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_init(&fo, &it.base, NULL, 4, outs, 2), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fanout_release(&outs[0]), ASYNC_EINVAL);  /* never initialised */
    /* sinks */
    ASSERT_EQ(async_stream_fold(NULL, &it.base, &k, &x, sum_int, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fold(t, NULL, &k, &x, sum_int, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fold(t, &it.base, NULL, &x, sum_int, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fold(t, &it.base, &k, &x, NULL, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_fold(t, &it.base, &k, &x, sum_int, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each(NULL, &it.base, &k, each_ok, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each(t, NULL, &k, each_ok, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each(t, &it.base, NULL, each_ok, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each(t, &it.base, &k, NULL, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each(t, &it.base, &k, each_ok, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_count_items(NULL, &it.base, &k, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_count_items(t, NULL, &k, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_count_items(t, &it.base, NULL, &scratch), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_count_items(t, &it.base, &k, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect(NULL, &it.base, &k, buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect(t, NULL, &k, buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect(t, &it.base, NULL, buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect(t, &it.base, &k, NULL, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect_alloc(NULL, &it.base, &k, &heap, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect_alloc(t, NULL, &k, &heap, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect_alloc(t, &it.base, NULL, &heap, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_collect_alloc(t, &it.base, &k, NULL, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_stream_for_each_concurrent(t, NULL, &k, &scratch), ASYNC_EINVAL);
    CHECK(heap == NULL);
    ASSERT_EQ(k.count, 0);
    /* nothing was read: the whole array is still there */
    ASSERT_EQ(async_stream_collect(t, &it.base, &k, buf, 4), 0);
    ASSERT_EQ(k.count, 3);
    ASSERT_EQ(buf[2], 3);
    ASSERT_EQ(x, -1);
}
TEST(stream_bad_arguments) { run_sscript(stream_bad_arguments_body); }

/* Error items in every sink: counted and skipped, or (stop_on_error, the try_ forms)
   returned at once with the stream still usable; for_each and count run to the end. */
static int count_each(const void *item, void *user) { (void)item; (*(int *)user)++; return 0; }
static void sinks_and_error_items_body(async_task *t) {
    counter c;
    async_stream_from_fn src;
    async_stream_sink k;
    int scratch, seen = 0, buf[16];
    void *heap = NULL;
    /* for_each to the end, skipping two error items */
    ZERO(c); ZERO(k); c.limit = 5; c.nerr = 2; c.err_at[0] = 1; c.err_at[1] = 3;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    ASSERT_EQ(async_stream_for_each(t, &src.base, &k, count_each, &seen, &scratch), 0);
    ASSERT_EQ(seen, 5);
    ASSERT_EQ(k.count, 5);
    ASSERT_EQ(k.errors, 2);
    /* for_each stopping at one */
    ZERO(c); ZERO(k); c.limit = 5; c.nerr = 1; c.err_at[0] = 2; seen = 0;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    k.stop_on_error = 1;
    ASSERT_EQ(async_stream_for_each(t, &src.base, &k, count_each, &seen, &scratch), EITEM);
    ASSERT_EQ(seen, 2);
    ASSERT_EQ(async_stream_for_each(t, &src.base, &k, count_each, &seen, &scratch), 0);
    ASSERT_EQ(seen, 5);                           /* it resumed after the error item */
    /* count_items */
    ZERO(c); ZERO(k); c.limit = 4; c.nerr = 1; c.err_at[0] = 0;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    ASSERT_EQ(async_stream_count_items(t, &src.base, &k, &scratch), 0);
    ASSERT_EQ(k.count, 4);
    ASSERT_EQ(k.errors, 1);
    ZERO(c); ZERO(k); c.limit = 4; c.nerr = 1; c.err_at[0] = 0;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    k.stop_on_error = 1;
    ASSERT_EQ(async_stream_count_items(t, &src.base, &k, &scratch), EITEM);
    ASSERT_EQ(k.count, 0);
    /* collect */
    ZERO(c); ZERO(k); c.limit = 4; c.nerr = 1; c.err_at[0] = 2;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    ASSERT_EQ(async_stream_collect(t, &src.base, &k, buf, 16), 0);
    ASSERT_EQ(k.count, 4);
    ASSERT_EQ(k.errors, 1);
    ASSERT_EQ(buf[2], 2);                         /* the error item took no place */
    ZERO(c); ZERO(k); c.limit = 4; c.nerr = 1; c.err_at[0] = 2;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    k.stop_on_error = 1;
    ASSERT_EQ(async_stream_collect(t, &src.base, &k, buf, 16), EITEM);
    ASSERT_EQ(k.count, 2);
    /* collect_alloc */
    ZERO(c); ZERO(k); c.limit = 10; c.nerr = 2; c.err_at[0] = 0; c.err_at[1] = 9;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    ASSERT_EQ(async_stream_collect_alloc(t, &src.base, &k, &heap, 100), 0);
    ASSERT_EQ(k.count, 10);
    ASSERT_EQ(k.errors, 2);
    if (heap && k.count == 10) ASSERT_EQ(((int *)heap)[9], 9);  /* (not out of memory) */
    ASYNC_FREE(heap);
    heap = NULL;
    ZERO(c); ZERO(k); c.limit = 10; c.nerr = 1; c.err_at[0] = 3;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &c);
    k.stop_on_error = 1;
    ASSERT_EQ(async_stream_collect_alloc(t, &src.base, &k, &heap, 100), EITEM);
    ASSERT_EQ(k.count, 3);                        /* what came before is kept */
    if (heap && k.count == 3) ASSERT_EQ(((int *)heap)[2], 2);
    ASYNC_FREE(heap);
}
TEST(sinks_skip_or_stop_at_error_items) { run_sscript(sinks_and_error_items_body); }

/* Items of size 0 (events without data) collect into no storage worth the name:
   collect_alloc counts them. */
static void zero_size_collect_body(async_task *t) {
    async_stream_iter it;
    async_stream_sink k;
    void *heap = NULL;
    ZERO(k);
    async_stream_iter_init(&it, NULL, 0, 20);
    ASSERT_EQ(async_stream_collect_alloc(t, &it.base, &k, &heap, 100), 0);
    ASSERT_EQ(k.count, 20);
    ASYNC_FREE(heap);
    ZERO(k);
    async_stream_iter_init(&it, NULL, 0, 20);
    ASSERT_EQ(async_stream_collect(t, &it.base, &k, NULL, 5), ASYNC_ELIMIT);
    ASSERT_EQ(k.count, 5);
}
TEST(zero_size_items_collect) { run_sscript(zero_size_collect_body); }

/* ---- writing a stream ----------------------------------------------------------- */
typedef struct {
    async_stream base;                  /* first */
    int n, limit;
} my_source;
static int my_source_next(async_task *t, async_stream *st, void *item) {
    my_source *m = (my_source *)(void *)st;
    if (async_task_is_cancelling(t)) return ASYNC_ECANCELED; /* nothing to unlink */
    if (m->n == m->limit) return 0;
    if (!async_task_consume_budget(t)) return ASYNC_PENDING; /* always ready: yield */
    *(int *)item = m->n++;
    return ASYNC_ITEM;
}
typedef struct {
    async_task task;
    int ones, zeros;
} budget_frame;
static int budget_task(async_task *t) {
    budget_frame *f = (budget_frame *)t;
    int i;
    ASYNC_BEGIN(t);
    for (i = 0; i < 200; i++) {
        if (async_task_consume_budget(t)) f->ones++;
        else f->zeros++;
    }
    ASYNC_YIELD();                      /* a new poll: a fresh budget */
    if (async_task_consume_budget(t)) f->ones++;
    ASYNC_END(0);
}

TEST(custom_stream_spends_the_budget) {
    async_runtime rt;
    static sink_frame f;
    static ticker_frame tk;
    static budget_frame bf;
    my_source m;
    int stop = 0;
    test_rt_paused(&rt);
    ZERO(bf);
    async_task_spawn(&rt, &bf.task, budget_task, "budget");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(bf.ones, 128 + 1);                /* the default budget per poll */
    ASSERT_EQ(bf.zeros, 200 - 128);
    ASSERT_EQ(async_task_consume_budget(NULL), 0);
    m.base.next = my_source_next;
    m.base.item_size = sizeof(int);
    m.base.ended = 0;
    m.n = 0;
    m.limit = 1000;
    ZERO(f); ZERO(tk);
    f.s = &m.base; f.kind = SINK_FOLD;
    tk.stop = &stop;
    async_task_spawn(&rt, &f.task, sink_task, "sink");
    async_task_spawn(&rt, &tk.task, ticker_task, "ticker");
    while (!async_task_is_finished(&f.task) && async_runtime_step(&rt, 0) >= 0) {}
    stop = 1;
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.acc, 999 * 1000 / 2);
    CHECK(tk.ticks >= 1000 / 128);              /* the ticker ran between budgets */
    async_runtime_destroy(&rt);
}

/* A throttled stream read in a select whose other branch wins: the gap since
   the last item is kept across the cancelled next. */
TEST(throttle_gap_survives_a_cancelled_next) {
    async_runtime rt;
    static sel_frame f;
    int data[] = {1, 2, 3};
    async_stream_iter it;
    async_stream_timed th;
    test_rt_paused(&rt);
    async_stream_iter_init(&it, data, sizeof(int), 3);
    async_stream_throttle_init(&th, &it.base, MS(10));      /* the select's timer: 4 ms */
    ZERO(f);
    f.s = &th.base;
    async_task_spawn(&rt, &f.task, select_loop, "select");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(f.sum, 6);
    /* items at 0, 10, 20 and the end at 30 (throttle waits before polling up again,
       as tokio-stream's): in each 10 ms gap the 4 ms timer wins twice (4, 8) */
    ASSERT_EQ(f.timeouts, 6);
    async_runtime_destroy(&rt);
}

/* Dropping a stream read only partly: take(3) over an endless generator. */
typedef struct {
    async_task task;
    async_stream *s;
    int rc, item, n;
} drop_frame;
static int drop_task(async_task *t) {
    drop_frame *f = (drop_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, f->s, &f->item));
        if (f->rc <= 0) break;
        f->n++;
    }
    f->rc = async_stream_cancel(t, f->s, &f->item);
    ASYNC_END(0);
}

TEST(stream_cancel_drops_a_partly_read_chain) {
    async_runtime rt;
    static drop_frame d;
    static fib_gen g;
    static work_ctx c;
    static int delays[8];
    uint64_t slots[2 * 16];
    counter src_c;
    async_stream_from_fn src;
    async_stream_buffered b;
    async_stream_count tk;
    test_rt_paused(&rt);
    ZERO(g); ZERO(d);
    g.limit = 1 << 30;
    async_stream_gen_init(&g.g, sizeof(int), fib_next);
    async_stream_take_init(&tk, &g.g.base, 3);
    d.s = &tk.base;
    async_task_spawn(&rt, &d.task, drop_task, "drop");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(d.n, 3);
    ASSERT_EQ(d.rc, 0);
    ASSERT_EQ(g.cleaned, 1);                    /* the generator unwound */
    ASSERT_EQ(tk.base.ended, 1);
    /* buffer_unordered(2), take(2): at 2 ms the second output is taken while the
       call on item 2 (50 ms) runs; dropping the chain unwinds it */
    ZERO(c); ZERO(src_c); ZERO(d);
    CHECK(ASYNC_STREAM_SLOT_SIZE(sizeof(work_state), sizeof(int), sizeof(int)) <= 16 * 8);
    src_c.limit = 8;
    delays[0] = 1; delays[1] = 2; delays[2] = 50; delays[3] = 60;
    c.delays = delays;
    async_stream_from_fn_init(&src, sizeof(int), counter_fn, &src_c);
    ASSERT_EQ(async_stream_slot_size(sizeof(work_state), &src.base, sizeof(int)),
              ASYNC_STREAM_SLOT_SIZE(sizeof(work_state), sizeof(int), sizeof(int)));
    async_stream_buffer_unordered_init(&b, &src.base, 2, sizeof(int), work,
                                       sizeof(work_state), &c, slots);
    async_stream_take_init(&tk, &b.base, 2);
    d.s = &tk.base;
    async_task_spawn(&rt, &d.task, drop_task, "drop");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(c.in_flight, 0);
    ASSERT_EQ(c.cleaned, 1);
    ASSERT_EQ(c.started, 3);
    ASSERT_EQ(rt.ntimers, 0);
    ASSERT_EQ(async_stream_cancel(NULL, &tk.base, &d.item), ASYNC_EINVAL);
    async_runtime_destroy(&rt);
}

/* Pipelines of cancel-safe adapters (map, filter, take_while, skip_while, take,
   skip, timeout, throttle) over an mpsc channel, read with plain, timed and
   selected next() calls, under random scripts (tests/stream_model.h; also fuzzed):
   the consumer gets exactly what the pipeline gives on the array of items sent. */
TEST(stream_model_random_scripts) {
    test_random_scripts(stream_model_run, stream_model_why, "stream_model.h",
                        0x3c6ef372u, 64, 20000);
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
    RUN(then_is_an_async_map_in_order);
    RUN(buffered_keeps_order_with_n_in_flight);
    RUN(buffer_unordered_yields_in_completion_order);
    RUN(buffered_head_of_line_vs_unordered_timeline);
    RUN(for_each_concurrent_limits_and_upstream_backpressure);
    RUN(cancel_releases_calls_in_flight_and_timers);
    RUN(throttle_spaces_items);
    RUN(throttle_does_not_delay_slow_items);
    RUN(timeout_reports_each_gap_once);
    RUN(timeout_counts_from_the_previous_item);
    RUN(interval_stream_ticks);
    RUN(gen_stream_yields_then_ends_and_cancels);
    RUN(unfold_steps_until_zero);
    RUN(broadcast_stream_reports_lag_as_error_item);
    RUN(mpsc_stream_backpressure_and_end);
    RUN(fanout_every_reader_sees_every_item_with_backpressure);
    RUN(fanout_cancelled_puller_hands_over);
    RUN(ten_million_items_in_constant_memory_and_fair);
    RUN(select_over_stream_next_loses_no_item);
    RUN(abort_mid_pipeline_leaves_nothing_registered);
    RUN(invalid_arguments);
    RUN(stream_bad_arguments);
    RUN(sinks_skip_or_stop_at_error_items);
    RUN(zero_size_items_collect);
    RUN(custom_stream_spends_the_budget);
    RUN(throttle_gap_survives_a_cancelled_next);
    RUN(stream_cancel_drops_a_partly_read_chain);
    RUN(stream_model_random_scripts);
    DONE();
}
