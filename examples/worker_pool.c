/* worker_pool.c - a fixed pool of workers fed from one job queue, with the results
   coming back on a second channel.

   Main submits jobs on a bounded async_mpsc (room for two: when it is full main waits,
   which is the backpressure), three workers take them, "work" (sleep) and send each
   result on a second async_mpsc that main reads. When every result is in, main
   releases its job sender: the job channel is then closed and empty, so every worker's
   recv returns ASYNC_ECLOSED, the workers exit and release their result senders, and
   main's next recv on the results channel sees ASYNC_ECLOSED too.

   Why the workers share the job channel directly rather than through a Mutex: in
   Tokio a Receiver cannot be cloned, so a pool shares it as Arc<Mutex<Receiver>>, and
   the worker holding the lock waits for a job while the others wait for the lock. Here
   several tasks may wait in recv on the same channel, each with its own waiter in the
   channel's receive queue: an arriving job wakes the waiting workers, the first one to
   run takes it and the others queue again, and once the channel is closed and empty
   every one of them gets ASYNC_ECLOSED. No lock is held across an await, and recv is
   cancel safe, so an aborted worker leaves neither a lock nor a lost job behind. The
   price is that an item wakes every idle worker, fine for a small pool.

   The results channel has room for every job: main submits all jobs before it reads
   a result, so with less room the workers could block on full results while main
   blocks on a full job queue. The last line says whether each job came back exactly
   once, with the right value, and whether every worker exited on ASYNC_ECLOSED. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { NWORKERS = 3, NJOBS = 9, JOB_QUEUE = 2 };

typedef struct { int id, n; } job;
typedef struct { int job, worker, value; } result;

static async_runtime rt;
static async_time t0;
static async_mpsc jobs, results;
static job job_slots[JOB_QUEUE];
static result result_slots[NJOBS];
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
        fprintf(stderr, "worker_pool: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- workers ---------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w_job, w_result;
    async_timer timer;
    int id, done, rc, end_rc;
    job j;
    result r;
} worker_frame;

static int worker_run(async_task *t) {
    worker_frame *f = (worker_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &jobs, &f->w_job, &f->j));
        if (f->rc < 0) break;                     /* ASYNC_ECLOSED: no more jobs, ever */
        printf("+%3.0f ms  worker %d takes job %d\n", ms(), f->id, f->j.id);
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(5 * (1 + f->j.n % 3))));
        f->r.job = f->j.id;
        f->r.worker = f->id;
        f->r.value = f->j.n * f->j.n;
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &results, &f->w_result, &f->r));
        if (f->rc < 0) break;
        f->done++;
    }
    f->end_rc = f->rc;
    printf("+%3.0f ms  worker %d stops (%s) after %d jobs\n", ms(), f->id,
           async_strerror(f->rc), f->done);
    async_mpsc_sender_release(&results);          /* this worker's result sender */
    ASYNC_END(f->done);
}

/* ---- main ------------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    worker_frame workers[NWORKERS];
    job j;
    result r;
    int seen[NJOBS];
    int i, rc, total;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    printf("%d workers, %d jobs, job queue of %d\n", NWORKERS, NJOBS, JOB_QUEUE);
    must(async_mpsc_init(&jobs, sizeof(job), JOB_QUEUE, job_slots), "async_mpsc_init");
    must(async_mpsc_init(&results, sizeof(result), NJOBS, result_slots), "async_mpsc_init");
    for (f->i = 0; f->i < NWORKERS; f->i++) {
        must(async_mpsc_sender_clone(&results),   /* one result sender per worker */
             "async_mpsc_sender_clone");
        f->workers[f->i].id = f->i + 1;
        must(async_task_spawn(&rt, &f->workers[f->i].task, worker_run, "worker"),
             "async_task_spawn");
    }
    async_mpsc_sender_release(&results);          /* main only receives results */

    for (f->i = 0; f->i < NJOBS; f->i++) {
        f->j.id = f->i;
        f->j.n = 3 + f->i;
        if (async_mpsc_capacity(&jobs) == 0)
            printf("+%3.0f ms  main: job queue full, job %d waits for room\n", ms(), f->i);
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &jobs, &f->w, &f->j));
        check(f->rc == 0, "job submitted");
    }
    printf("+%3.0f ms  main: all %d jobs submitted\n", ms(), NJOBS);

    for (f->i = 0; f->i < NJOBS; f->i++) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &results, &f->w, &f->r));
        if (f->rc < 0) {
            printf("+%3.0f ms  main: results ended early: %s\n", ms(), async_strerror(f->rc));
            check(0, "every result arrives");
            break;
        }
        printf("+%3.0f ms  main: job %d = %d (from worker %d)\n", ms(), f->r.job, f->r.value,
               f->r.worker);
        check(f->r.job >= 0 && f->r.job < NJOBS, "result for a known job");
        if (f->r.job >= 0 && f->r.job < NJOBS) {
            f->seen[f->r.job]++;
            check(f->r.value == (3 + f->r.job) * (3 + f->r.job), "result value is n * n");
        }
    }

    printf("+%3.0f ms  main: all results in, releasing the job sender\n", ms());
    async_mpsc_sender_release(&jobs);             /* closed and empty: workers see ECLOSED */
    f->total = 0;
    for (f->i = 0; f->i < NWORKERS; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->workers[f->i].task));
        f->total += f->rc;
        check(f->workers[f->i].end_rc == ASYNC_ECLOSED, "worker stopped on ASYNC_ECLOSED");
    }
    /* the workers released their result senders: the results channel has ended too */
    ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &results, &f->w, &f->r));
    printf("+%3.0f ms  main: results channel: %s\n", ms(), async_strerror(f->rc));
    check(f->rc == ASYNC_ECLOSED, "results channel closed after the workers left");
    check(f->total == NJOBS, "the workers did NJOBS jobs between them");
    for (f->i = 0; f->i < NJOBS; f->i++) check(f->seen[f->i] == 1, "each job came back once");
    async_mpsc_destroy(&jobs);
    async_mpsc_destroy(&results);
    printf("+%3.0f ms  jobs per worker: %d, %d, %d\n", ms(), f->workers[0].done,
           f->workers[1].done, f->workers[2].done);
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
        printf("worker_pool: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("worker_pool: ok, %d jobs done exactly once, every worker saw ASYNC_ECLOSED\n",
           NJOBS);
    return 0;
}
