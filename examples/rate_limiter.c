/* rate_limiter.c - token buckets (async_token_bucket): a global limit, then limits
   per client under a global one.

   1. One bucket of B = 3 tokens refilled at R = 100 per second. Eight requests arrive
      at once: three pass on the burst, the other five follow one per refill (every
      10 ms), in arrival order. After 60 ms idle the bucket holds 3 tokens again, not
      6: an idle bucket saves one burst, no more.
   2. Three clients, each with its own bucket (a burst of 2, then one request per
      40 ms), all behind a global bucket (a burst of 3, then one per 10 ms). Each
      client sends five requests at once; a request takes a token from its client's
      bucket, then one from the global bucket. The fast global bucket never makes a
      client go faster than its own limit, and the clients together never go faster
      than the global one.

   There is no refill task: a bucket counts the periods gone by whenever it is used,
   and its one timer wakes the oldest waiter when its token is in. Timestamps are
   relative to the start; the requests check that none passed early (never ahead of
   the tokens supplied so far) and in arrival order per bucket. The last line says
   whether all checks held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { BURST = 3, RATE = 100, NREQ = 8, IDLE_MS = 60 };
#define PERIOD (ASYNC_SEC(1) / RATE)
enum { CLIENTS = 3, PER_CLIENT = 5, CLIENT_BURST = 2, GLOBAL_BURST = 3 };
#define CLIENT_PERIOD ASYNC_MS(40)
#define GLOBAL_PERIOD ASYNC_MS(10)

static async_runtime rt;
static async_time t0;
static int failures;

static double ms(void) { return (double)(async_time_now(&rt) - t0) / 1e6; }

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
        fprintf(stderr, "rate_limiter: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- 1. a global limit ------------------------------------------------------------ */
static async_token_bucket bucket;
static int passed;

typedef struct {
    async_task task;
    async_waiter w;
    int id, rc;
} request_frame;

static int request_run(async_task *t) {
    request_frame *f = (request_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_token_bucket_acquire(t, &bucket, &f->w, 1));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    printf("+%5.1f ms  request %d passes (%s)\n", ms(), f->id,
           f->id < BURST ? "burst" : "paced");
    check(f->id == passed++, "requests pass in arrival order");
    /* request id needs id + 1 tokens so far: BURST at the start, one per period */
    if (f->id >= BURST)
        check(async_time_now(&rt) - t0 >= (async_time)(f->id - BURST + 1) * PERIOD,
              "a paced request never passes early");
    ASYNC_END(0);
}

/* ---- 2. per client, under a global limit --------------------------------------------- */
static async_token_bucket client_bucket[CLIENTS], global;
static int client_passed[CLIENTS], global_passed;
static async_time global_t0;

typedef struct {
    async_task task;
    async_waiter w;
    int client, id, rc;
} client_request;

static int client_request_run(async_task *t) {
    client_request *f = (client_request *)t;
    async_time since;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_token_bucket_acquire(t, &client_bucket[f->client], &f->w, 1));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_token_bucket_acquire(t, &global, &f->w, 1));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    since = async_time_now(&rt) - global_t0;
    printf("+%5.1f ms  client %d request %d passes\n", ms(), f->client, f->id);
    check(f->id == client_passed[f->client]++, "a client's requests pass in order");
    if (f->id >= CLIENT_BURST)
        check(since >= (async_time)(f->id - CLIENT_BURST + 1) * CLIENT_PERIOD,
              "a client never goes faster than its own limit");
    if (global_passed >= GLOBAL_BURST)
        check(since >= (async_time)(global_passed - GLOBAL_BURST + 1) * GLOBAL_PERIOD,
              "the clients together never go faster than the global limit");
    global_passed++;
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_timer timer;
    request_frame reqs[NREQ];
    client_request creqs[CLIENTS * PER_CLIENT];
    int i, rc;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    printf("1. one bucket: %d tokens, refilled at %d per second; %d requests at once\n",
           BURST, RATE, NREQ);
    must(async_token_bucket_init(&bucket, &rt, BURST, 1, PERIOD), "async_token_bucket_init");
    for (f->i = 0; f->i < NREQ; f->i++) {
        f->reqs[f->i].id = f->i;
        must(async_task_spawn(&rt, &f->reqs[f->i].task, request_run, "request"),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < NREQ; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->reqs[f->i].task));
        check(f->rc == 0, "every request passes");
    }
    printf("+%5.1f ms  all %d passed\n", ms(), NREQ);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(IDLE_MS)));
    printf("+%5.1f ms  after %d ms idle the bucket holds %d tokens\n", ms(), IDLE_MS,
           (int)async_token_bucket_available(&bucket));
    check(async_token_bucket_available(&bucket) == BURST, "an idle bucket saves one burst");

    printf("2. %d clients, a burst of %d then one per %d ms each, behind a global bucket "
           "(a burst of %d then one per %d ms); %d requests each at once\n", CLIENTS,
           CLIENT_BURST, (int)(CLIENT_PERIOD / ASYNC_MS(1)), GLOBAL_BURST,
           (int)(GLOBAL_PERIOD / ASYNC_MS(1)), PER_CLIENT);
    global_t0 = async_time_now(&rt);
    must(async_token_bucket_init(&global, &rt, GLOBAL_BURST, 1, GLOBAL_PERIOD),
         "async_token_bucket_init");
    for (f->i = 0; f->i < CLIENTS; f->i++)
        must(async_token_bucket_init(&client_bucket[f->i], &rt, CLIENT_BURST, 1,
                                     CLIENT_PERIOD), "async_token_bucket_init");
    for (f->i = 0; f->i < CLIENTS * PER_CLIENT; f->i++) {
        client_request *r = &f->creqs[f->i];
        r->client = f->i / PER_CLIENT;
        r->id = f->i % PER_CLIENT;
        must(async_task_spawn(&rt, &r->task, client_request_run, "client request"),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < CLIENTS * PER_CLIENT; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->creqs[f->i].task));
        check(f->rc == 0, "every client request passes");
    }
    printf("+%5.1f ms  all %d passed\n", ms(), CLIENTS * PER_CLIENT);
    check(passed == NREQ && global_passed == CLIENTS * PER_CLIENT, "every request passed");
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t0 = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_destroy(&rt);
    if (rc != 0 || failures) {
        printf("rate_limiter: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("rate_limiter: ok, a burst of %d, then paced at %d/s, capped at %d; per-client "
           "limits under a global one\n", BURST, RATE, BURST);
    return 0;
}
