/* fetch_all.c - the seeds' FuturesUnordered and FuturesOrdered inside one task: an
   async_opset holds the fetches in flight, and one task awaits them one at a time.

   fetch_user() is a nested async function that pretends to ask a server for a user's
   name (a sleep of a latency that depends on the id). Three uses of a set, as in the
   seeds' fetch_all_users and fetch_urls_concurrently:
     1. every id in flight at once, names collected as they arrive (completion order:
        FuturesUnordered; async_opset_init);
     2. at most 3 in flight, a new fetch pushed into the slot each completion frees,
        and the names collected in request order (FuturesOrdered;
        async_opset_init_ordered) although they complete out of order;
     3. the first two names only: the fetches still in flight are dropped
        (async_opset_clear polls each once in cancel mode: its timer is disarmed and
        its cleanup runs).
   No allocation: the slots and the fetches' frames are arrays in the task's frame.
   The checks hold however loaded the machine is: every name comes once, part 2 never
   has more than 3 in flight and keeps request order, part 3 drops what it did not
   take and leaves no timer armed. The last line says whether all of them held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <string.h>

enum { NIDS = 6, LIMIT = 3 };

typedef struct {
    async_coro co;
    async_timer timer;
    int id, cleaned;
    char name[16];
} fetch_frame;

static int in_flight, max_in_flight;

/* "GET /users/id": answers after 10 * (7 - id) ms (the last ids answer first) */
static int fetch_user(async_task *t, fetch_frame *f) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    in_flight++;
    if (in_flight > max_in_flight) max_in_flight = in_flight;
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(10 * (NIDS + 1 - f->id))));
    if (rc < 0) ASYNC_RETURN(rc);
    snprintf(f->name, sizeof f->name, "user%d", f->id);
    ASYNC_CLEANUP();
    in_flight--;
    if (async_task_is_cancelling(t)) f->cleaned = 1;
    ASYNC_END(f->id);
}
static int fetch_op(async_task *t, void *state) { return fetch_user(t, (fetch_frame *)state); }

typedef struct {
    async_task task;
    async_opset set;
    async_opset_slot slots[NIDS];
    fetch_frame calls[NIDS];
    void *done;
    int i, next_id, result, rc, got[NIDS + 1], order[NIDS], n, failures;
} frame;

static void check(frame *f, int ok, const char *what) {
    if (!ok) {
        f->failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

static void start(frame *f, int k, int id) {
    memset(&f->calls[k], 0, sizeof f->calls[k]);    /* a fresh call: its coro restarted */
    f->calls[k].id = id;
    async_opset_push(&f->set, fetch_op, &f->calls[k]);
}

static int run(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    /* 1. all at once, as they complete */
    printf("1. all %d at once, as they arrive:", NIDS);
    async_opset_init(&f->set, f->slots, NIDS);
    for (f->i = 0; f->i < NIDS; f->i++) start(f, f->i, f->i + 1);
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->done, &f->result));
        if (f->rc == ASYNC_ECLOSED) break;
        printf(" %s", ((fetch_frame *)f->done)->name);
        f->got[f->result]++;
    }
    printf("\n");
    for (f->i = 1; f->i <= NIDS; f->i++) check(f, f->got[f->i] == 1, "every name once");

    /* 2. at most LIMIT in flight, in request order */
    printf("2. at most %d in flight, in request order:", LIMIT);
    max_in_flight = 0;
    async_opset_init_ordered(&f->set, f->slots, LIMIT);
    for (f->next_id = 1; f->next_id <= LIMIT; f->next_id++) start(f, f->next_id - 1, f->next_id);
    for (f->n = 0;; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->done, &f->result));
        if (f->rc == ASYNC_ECLOSED) break;
        printf(" %s", ((fetch_frame *)f->done)->name);
        f->order[f->n] = f->result;
        if (f->next_id <= NIDS) {                   /* its frame takes the next id */
            start(f, (int)((fetch_frame *)f->done - f->calls), f->next_id);
            f->next_id++;
        }
    }
    printf(" (max in flight %d)\n", max_in_flight);
    check(f, f->n == NIDS, "every id fetched");
    for (f->i = 0; f->i < NIDS; f->i++) check(f, f->order[f->i] == f->i + 1, "request order");
    check(f, max_in_flight == LIMIT, "never more than LIMIT in flight");

    /* 3. the first two, then drop the rest */
    printf("3. the first two, the rest dropped:");
    async_opset_init(&f->set, f->slots, NIDS);
    for (f->i = 0; f->i < NIDS; f->i++) start(f, f->i, f->i + 1);
    for (f->n = 0; f->n < 2; f->n++) {
        ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->done, &f->result));
        printf(" %s", ((fetch_frame *)f->done)->name);
    }
    f->rc = async_opset_clear(t, &f->set);
    printf(" (%d dropped)\n", f->rc);
    check(f, f->rc == NIDS - 2, "the others were cancelled");
    check(f, in_flight == 0, "every cancelled fetch ran its cleanup");
    check(f, async_runtime_next_deadline(t->rt) == ASYNC_TIME_NEVER, "no timer left armed");
    ASYNC_CLEANUP();
    async_opset_destroy(t, &f->set);
    ASYNC_END(f->failures);
}

int main(void) {
    static async_runtime rt;
    static frame f;
    int rc;
    if (async_runtime_init(&rt, NULL) < 0) return 1;
    rc = async_runtime_block_on(&rt, &f.task, run, "fetch_all");
    async_runtime_destroy(&rt);
    printf(rc == 0 ? "all checks held\n" : "some checks FAILED\n");
    return rc == 0 ? 0 : 1;
}
