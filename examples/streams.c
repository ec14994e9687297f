/* streams.c - a tour of streams (async iterators, as tokio-stream / futures' StreamExt):
   sources, adapters and sinks chained into pipelines, six of them.

   A stream is a struct whose first member is an async_stream; an adapter is a stream
   that reads another one (`up`), so a pipeline is a chain of structs, initialised from
   the source down, all in the frame (nothing is allocated). The task at the end drives
   it: each async_stream_next (or a sink: fold, collect...) polls down the chain, and
   every stage does only the work that item needs. Items are copied into a buffer the
   caller passes, of the last stage's item_size.

   a. A counter (async_stream_from_fn: a plain function called for each item) through
      map (square), filter (even) and fold (sum): prints the sum and a plain loop's.
   b. A generator: a coroutine that ASYNC_GEN_YIELDs Fibonacci numbers, sleeping 10 ms
      before each, collected into an array with async_stream_collect.
   c. A ticker: an async_interval of 100 ms as a stream, take(5): the tick times.
   d. Rate-limited concurrent work: throttle (one item per 20 ms) feeding
      buffer_unordered, which runs up to 4 calls of a nested async function at once
      (each sleeps a while and returns a result) and hands out each result as soon as
      it is done. Prints each result and the most calls ever in flight. A call starts
      only while the reader polls: when four calls end at the same instant, one result
      comes out per poll, and the next job (throttled, and waiting for a free slot)
      starts on the poll after the slots were freed.
   e. merge: two producer tasks feed two mpsc channels; the merged stream gives their
      items in arrival order, and ends when both channels have closed.
   f. chunks_timeout: batches of up to 4, or fewer once a batch's first item has waited
      50 ms, over a channel fed in bursts; the last batch is cut short by the end.

   The runtime runs on the paused clock with auto-advance (desc.start_paused = 2): when
   no task is ready, time jumps to the next timer, so the sleeps cost nothing and the
   run takes milliseconds, while the times printed ("+N ms", since the section began)
   are exactly those a real clock would show. Every section checks what it printed; the
   last line says whether all checks held (the exit status too). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static async_runtime rt;
static async_time t0;                   /* the start of the current section */
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t0) / 1e6; }
static double ms_at(async_time when) { return (double)(when - t0) / 1e6; }

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "streams: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- a. from_fn -> map -> filter -> fold --------------------------------------------- */
enum { COUNT_TO = 1000 };
typedef struct { int next, last; } counter;

static int counter_fn(void *user, void *item) {     /* 1 an item, 0 the end */
    counter *c = (counter *)user;
    if (c->next > c->last) return 0;
    *(int *)item = c->next++;
    return 1;
}
static void square(const void *in, void *out, void *user) {
    int x = *(const int *)in;
    (void)user;
    *(int *)out = x * x;
}
static int is_even(const void *item, void *user) {
    (void)user;
    return *(const int *)item % 2 == 0;
}
static int add(void *acc, const void *item, void *user) {
    (void)user;
    *(long long *)acc += *(const int *)item;
    return 0;                                       /* < 0 would stop the fold */
}

/* ---- b. a generator ----------------------------------------------------------------- */
enum { NFIB = 12 };
typedef struct {
    async_stream_gen g;                 /* first: the stream (its base) and the coroutine */
    async_timer timer;
    int a, b, n, rc;
} fib_gen;

static int fib_run(async_task *t, async_stream *st, void *item) {
    fib_gen *s = (fib_gen *)(void *)st;
    ASYNC_CORO_BEGIN(t, &s->g.co);
    s->a = 0;
    s->b = 1;
    for (s->n = 0; s->n < NFIB; s->n++) {
        ASYNC_AWAIT(s->rc, async_time_sleep(t, &s->timer, ASYNC_MS(10)));
        *(int *)item = s->a;                /* the item, then hand it over */
        ASYNC_GEN_YIELD();
        s->b += s->a;
        s->a = s->b - s->a;
    }
    ASYNC_END(0);                           /* the end of the stream */
}

/* ---- d. throttle -> buffer_unordered ------------------------------------------------- */
enum { NJOBS = 10, MAX_IN_FLIGHT = 4 };
typedef struct { int id, ms; } job;
typedef struct { int id, ms; async_time started, finished; } job_result;
static const job jobs[NJOBS] = {
    {0, 90}, {1, 50}, {2, 110}, {3, 70}, {4, 30}, {5, 80}, {6, 60}, {7, 40}, {8, 20}, {9, 100}
};

typedef struct { int in_flight, max_in_flight, calls; } pool_stats;

/* One call: a nested async function whose state (zeroed by buffer_unordered for each
   call) starts with its async_coro. in and out stay put while the call runs. */
typedef struct {
    async_coro co;
    async_timer timer;
    int rc;
} job_state;

static int run_job(async_task *t, void *state, const void *in, void *out, void *user) {
    job_state *s = (job_state *)state;
    const job *j = (const job *)in;
    job_result *r = (job_result *)out;
    pool_stats *st = (pool_stats *)user;
    ASYNC_CORO_BEGIN(t, &s->co);
    st->calls++;
    if (++st->in_flight > st->max_in_flight) st->max_in_flight = st->in_flight;
    r->id = j->id;
    r->ms = j->ms;
    r->started = async_time_now(async_task_runtime(t));
    ASYNC_AWAIT(s->rc, async_time_sleep(t, &s->timer, ASYNC_MS(j->ms)));
    r->finished = async_time_now(async_task_runtime(t));
    ASYNC_CLEANUP();                        /* also when the call is cancelled */
    st->in_flight--;
    ASYNC_END(0);                           /* < 0 would be an error item */
}

/* ---- e, f. producers ------------------------------------------------------------------ */
typedef struct { char from; int n; async_time sent; } tagged;

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_mpsc *c;
    char name;
    int period, count, i, rc;
    tagged item;
} ticking_producer;

/* count items, one every `period` ms, then release the sender: the channel closes */
static int ticking_run(async_task *t) {
    ticking_producer *f = (ticking_producer *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->count; f->i++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(f->period)));
        f->item.from = f->name;
        f->item.n = f->i;
        f->item.sent = async_time_now(&rt);
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, f->c, &f->w, &f->item));
        if (f->rc < 0) break;
    }
    async_mpsc_sender_release(f->c);
    ASYNC_END(0);
}

typedef struct { int at, count, gap; } burst;       /* ms since the section began */
static const burst bursts[] = { {0, 6, 0}, {200, 3, 10}, {400, 5, 0} };
enum { NBURSTS = sizeof bursts / sizeof bursts[0], BATCH = 4, BATCH_WAIT_MS = 50 };

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_mpsc *c;
    int b, i, next, rc;
} burst_producer;

static int burst_run(async_task *t) {
    burst_producer *f = (burst_producer *)t;
    ASYNC_BEGIN(t);
    for (f->b = 0; f->b < NBURSTS; f->b++) {
        ASYNC_AWAIT(f->rc, async_time_sleep_until(t, &f->timer, t0 + ASYNC_MS(bursts[f->b].at)));
        printf("+%3.0f ms  producer: a burst of %d%s\n", ms(), bursts[f->b].count,
               bursts[f->b].gap ? ", 10 ms apart" : ", back to back");
        for (f->i = 0; f->i < bursts[f->b].count; f->i++) {
            if (f->i && bursts[f->b].gap)
                ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(bursts[f->b].gap)));
            ASYNC_AWAIT(f->rc, async_mpsc_send(t, f->c, &f->w, &f->next));
            f->next++;
        }
    }
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(20)));
    printf("+%3.0f ms  producer: done, releases its sender\n", ms());
    async_mpsc_sender_release(f->c);
    ASYNC_END(0);
}

/* ---- the tour ------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    int rc, i;
    async_stream_sink k;
    /* a */
    counter cnt;
    async_stream_from_fn src;
    async_stream_map squares;
    async_stream_filter evens;
    int up_item, item;
    long long sum, want;
    /* b */
    fib_gen fib;
    int fibs[2 * NFIB];
    /* c */
    async_interval iv;
    async_stream_interval ticker;
    async_stream_count five;
    async_time tick;
    /* d */
    async_stream_iter job_src;
    async_stream_timed throttled;
    async_stream_buffered pool;
    pool_stats stats;
    job_result res;
    int seen[NJOBS];
    async_time started[NJOBS];
    /* e */
    async_mpsc ca, cb;
    tagged store_a[4], store_b[4], got;
    async_stream_mpsc sa, sb;
    async_stream_pair merged;
    ticking_producer pa, pb;
    int next_a, next_b;
    async_time last_arrival;
    /* f */
    async_mpsc cf;
    int store_f[8];
    async_stream_mpsc sf;
    async_stream_chunks batches;
    unsigned char chunk[sizeof(size_t) + BATCH * sizeof(int)];  /* count, then items */
    burst_producer pf;
    char log[160];
} tour_frame;

/* storage for buffer_unordered's calls: MAX_IN_FLIGHT slots of the size the library
   says (ASYNC_STREAM_SLOT_SIZE: state, input item, output item), aligned as malloc's
   (the union's other members); section d checks it against async_stream_slot_size */
static union {
    unsigned char bytes[MAX_IN_FLIGHT *
                        ASYNC_STREAM_SLOT_SIZE(sizeof(job_state), sizeof(job), sizeof(job_result))];
    long double ld;
    void *p;
    unsigned long long u;
} slots;

static void section(const char *title) {
    t0 = async_time_now(&rt);
    printf("\n%s\n", title);
}

static int tour(async_task *t) {
    tour_frame *f = (tour_frame *)t;
    ASYNC_BEGIN(t);

    /* a. ------------------------------------------------------------------------------- */
    section("a. from_fn (1..1000) -> map (square) -> filter (even) -> fold (sum)");
    f->cnt.next = 1;
    f->cnt.last = COUNT_TO;
    must(async_stream_from_fn_init(&f->src, sizeof(int), counter_fn, &f->cnt),
         "async_stream_from_fn_init");
    must(async_stream_map_init(&f->squares, &f->src.base, sizeof(int), square, NULL,
                               &f->up_item), "async_stream_map_init");
    must(async_stream_filter_init(&f->evens, &f->squares.base, is_even, NULL),
         "async_stream_filter_init");
    ASYNC_AWAIT(f->rc, async_stream_fold(t, &f->evens.base, &f->k, &f->sum, add, NULL,
                                         &f->item));
    for (f->i = 1; f->i <= COUNT_TO; f->i++)
        if (f->i * f->i % 2 == 0) f->want += (long long)f->i * f->i;
    printf("   sum of the even squares: %lld over %d items (a plain loop: %lld)\n", f->sum,
           (int)f->k.count, f->want);
    check(f->rc == 0 && f->sum == f->want, "the fold's sum is the loop's");
    check(f->k.count == COUNT_TO / 2, "half the squares are even");

    /* b. ------------------------------------------------------------------------------- */
    section("b. a generator of Fibonacci numbers, one every 10 ms, collected");
    must(async_stream_gen_init(&f->fib.g, sizeof(int), fib_run), "async_stream_gen_init");
    memset(&f->k, 0, sizeof f->k);
    ASYNC_AWAIT(f->rc, async_stream_collect(t, &f->fib.g.base, &f->k, f->fibs, 2 * NFIB));
    printf("+%3.0f ms  collected %d:", ms(), (int)f->k.count);
    for (f->i = 0; f->i < (int)f->k.count; f->i++) printf(" %d", f->fibs[f->i]);
    printf("\n");
    check(f->rc == 0 && f->k.count == NFIB, "the generator ended after NFIB items");
    {
        int a = 0, b = 1, i, ok = 1;
        for (i = 0; i < NFIB; i++, b += a, a = b - a) ok &= f->fibs[i] == a;
        check(ok, "the Fibonacci numbers are right");
    }
    check(async_time_now(&rt) - t0 == ASYNC_MS(10 * NFIB), "10 ms per item");

    /* c. ------------------------------------------------------------------------------- */
    section("c. an interval of 100 ms as a stream, take(5)");
    must(async_interval_init(&f->iv, ASYNC_MS(100), ASYNC_TICK_SKIP), "async_interval_init");
    must(async_stream_interval_init(&f->ticker, &f->iv), "async_stream_interval_init");
    must(async_stream_take_init(&f->five, &f->ticker.base, 5), "async_stream_take_init");
    for (f->i = 0;; f->i++) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->five.base, &f->tick));
        if (f->rc != ASYNC_ITEM) break;
        printf("+%3.0f ms  tick %d, due at +%.0f ms\n", ms(), f->i + 1, ms_at(f->tick));
        check(f->tick - t0 == ASYNC_MS(100 * f->i), "ticks every 100 ms from the first poll");
    }
    printf("+%3.0f ms  take(5) ends the stream (rc %d)\n", ms(), f->rc);
    check(f->rc == 0 && f->i == 5, "five ticks, then the end");

    /* d. ------------------------------------------------------------------------------- */
    section("d. throttle (1 per 20 ms) -> buffer_unordered (up to 4 calls at once)");
    must(async_stream_iter_init(&f->job_src, jobs, sizeof(job), NJOBS), "async_stream_iter_init");
    must(async_stream_throttle_init(&f->throttled, &f->job_src.base, ASYNC_MS(20)),
         "async_stream_throttle_init");
    if (MAX_IN_FLIGHT * async_stream_slot_size(sizeof(job_state), &f->throttled.base,
                                               sizeof(job_result)) > sizeof slots.bytes) {
        check(0, "the slots fit their storage");
        ASYNC_RETURN(1);
    }
    must(async_stream_buffer_unordered_init(&f->pool, &f->throttled.base, MAX_IN_FLIGHT,
                                            sizeof(job_result), run_job, sizeof(job_state),
                                            &f->stats, slots.bytes),
         "async_stream_buffer_unordered_init");
    for (f->i = 0;; f->i++) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->pool.base, &f->res));
        if (f->rc != ASYNC_ITEM) break;
        printf("+%3.0f ms  job %d done: started at +%3.0f, took %3d ms; %d running\n",
               ms(), f->res.id, ms_at(f->res.started), f->res.ms, f->stats.in_flight);
        check(f->res.id >= 0 && f->res.id < NJOBS && !f->seen[f->res.id]++, "each job once");
        if (f->res.id >= 0 && f->res.id < NJOBS) f->started[f->res.id] = f->res.started;
        check(f->res.finished == async_time_now(&rt), "handed out as soon as it is done");
        check(f->res.finished - f->res.started == ASYNC_MS(f->res.ms), "each call's sleep");
    }
    printf("   %d results, at most %d calls in flight\n", f->i, f->stats.max_in_flight);
    check(f->rc == 0 && f->i == NJOBS && f->stats.calls == NJOBS, "every job ran, once");
    check(f->stats.max_in_flight == MAX_IN_FLIGHT, "up to 4 in flight, never more");
    check(f->stats.in_flight == 0, "nothing left running");
    for (f->i = 1; f->i < NJOBS; f->i++)
        check(f->started[f->i] - f->started[f->i - 1] >= ASYNC_MS(20), "20 ms between starts");

    /* e. ------------------------------------------------------------------------------- */
    section("e. merge: two producers, two channels, one stream in arrival order");
    must(async_mpsc_init(&f->ca, sizeof(tagged), 4, f->store_a), "async_mpsc_init");
    must(async_mpsc_init(&f->cb, sizeof(tagged), 4, f->store_b), "async_mpsc_init");
    must(async_stream_mpsc_init(&f->sa, &f->ca), "async_stream_mpsc_init");
    must(async_stream_mpsc_init(&f->sb, &f->cb), "async_stream_mpsc_init");
    must(async_stream_merge_init(&f->merged, &f->sa.base, &f->sb.base),
         "async_stream_merge_init");
    f->pa.c = &f->ca; f->pa.name = 'a'; f->pa.period = 30; f->pa.count = 4;
    f->pb.c = &f->cb; f->pb.name = 'b'; f->pb.period = 45; f->pb.count = 3;
    must(async_task_spawn(&rt, &f->pa.task, ticking_run, "producer a"), "async_task_spawn");
    must(async_task_spawn(&rt, &f->pb.task, ticking_run, "producer b"), "async_task_spawn");
    printf("   a sends 4 items, one every 30 ms; b sends 3, one every 45 ms\n");
    for (f->i = 0;; f->i++) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->merged.base, &f->got));
        if (f->rc != ASYNC_ITEM) break;
        printf("+%3.0f ms  %c%d\n", ms(), f->got.from, f->got.n);
        check(f->got.sent == async_time_now(&rt), "an item arrives when it is sent");
        check(async_time_now(&rt) >= f->last_arrival, "arrival order");
        f->last_arrival = async_time_now(&rt);
        if (f->got.from == 'a') check(f->got.n == f->next_a++, "a's items in order");
        else check(f->got.n == f->next_b++, "b's items in order");
    }
    printf("+%3.0f ms  both channels closed: the merged stream ends (rc %d)\n", ms(), f->rc);
    check(f->rc == 0 && f->next_a == 4 && f->next_b == 3, "every item of both");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->pa.task));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->pb.task));
    async_mpsc_destroy(&f->ca);
    async_mpsc_destroy(&f->cb);

    /* f. ------------------------------------------------------------------------------- */
    section("f. chunks_timeout: batches of up to 4, or after 50 ms, over bursts");
    must(async_mpsc_init(&f->cf, sizeof(int), 8, f->store_f), "async_mpsc_init");
    must(async_stream_mpsc_init(&f->sf, &f->cf), "async_stream_mpsc_init");
    must(async_stream_chunks_timeout_init(&f->batches, &f->sf.base, BATCH,
                                          ASYNC_MS(BATCH_WAIT_MS)),
         "async_stream_chunks_timeout_init");
    check(f->batches.base.item_size == sizeof f->chunk, "a chunk: its count, then 4 ints");
    f->pf.c = &f->cf;
    must(async_task_spawn(&rt, &f->pf.task, burst_run, "bursts"), "async_task_spawn");
    for (;;) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->batches.base, f->chunk));
        if (f->rc != ASYNC_ITEM) break;
        {
            size_t n, i;
            int v;
            size_t len = strlen(f->log);
            memcpy(&n, f->chunk, sizeof n);
            printf("+%3.0f ms  batch of %d:", ms(), (int)n);
            snprintf(f->log + len, sizeof f->log - len, "[");
            for (i = 0; i < n; i++) {
                memcpy(&v, f->chunk + sizeof(size_t) + i * sizeof(int), sizeof v);
                printf(" %d", v);
                len = strlen(f->log);
                snprintf(f->log + len, sizeof f->log - len, i ? " %d" : "%d", v);
            }
            len = strlen(f->log);
            snprintf(f->log + len, sizeof f->log - len, "]@%.0f ", ms());
            printf("%s\n", n == BATCH ? "  (full)" : "");
        }
    }
    printf("   batches: %s\n", f->log);
    check(f->rc == 0, "the stream ends when the channel closes");
    check(strcmp(f->log, "[0 1 2 3]@0 [4 5]@50 [6 7 8]@250 [9 10 11 12]@400 [13]@420 ") == 0,
          "full batches at once, partial ones 50 ms after their first item or at the end");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->pf.task));
    async_mpsc_destroy(&f->cf);
    ASYNC_END(0);
}

int main(void) {
    static tour_frame m;
    async_runtime_desc d;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    memset(&d, 0, sizeof d);
    d.start_paused = 2;                 /* the paused clock, advancing itself */
    must(async_runtime_init(&rt, &d), "async_runtime_init");
    t0 = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, tour, "tour");
    check(async_runtime_destroy(&rt) == 0, "no task outlives the tour");
    if (rc != 0 || failures) {
        printf("\nstreams: FAILED (%d checks failed, the tour returned %d)\n", failures, rc);
        return 1;
    }
    printf("\nstreams: ok, every pipeline gave what a plain loop or the timeline says\n");
    return 0;
}
