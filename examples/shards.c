/* shards.c - jobs spread over the cores: a runtime group (one runtime per thread), jobs
   spawned onto the least loaded runtime, each result coming back by a shared oneshot.

   worker_pool.c is the single-runtime pattern (tasks sharing a job channel); this is
   the multi-core one, thread-per-core: NRUNTIMES runtimes, each on a thread of its
   own, sharing nothing but the objects made for it (the oneshots here, made with
   async_oneshot_init_shared, and the join handles).

   Main runs on runtime 0 (async_group_block_on: this thread) and spawns NJOBS jobs with
   async_group_spawn(ASYNC_GROUP_ANY): each goes to the runtime with the fewest tasks
   alive, so they spread over the threads. Each job counts the primes below its n
   with a sieve (real work, on its own core) and sends {job, runtime, count} on its
   oneshot; main awaits every oneshot in turn and checks the count against a trial
   division of its own, then joins every job's handle (its result: 0).

   Who owns what: each job's frame, oneshot and join handle are main's (static arrays
   here), and must stay valid until the job has ended; the job only borrows them. One
   more job never finishes by itself: main aborts it through its join handle (from
   runtime 0, whatever runtime it is on); its cleanup releases its oneshot's sender, so
   main's recv sees ASYNC_ECLOSED, and the handle says ASYNC_ECANCELED.

   The last line says whether every job came back once with the right count, and
   the aborted one closed its oneshot; the exit status is 0 only then. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NRUNTIMES = 3, NJOBS = 9, SIEVE_MAX = 200000 };

typedef struct { int job, runtime; long count; } result;

typedef struct {
    async_task task;
    async_oneshot *reply;                       /* main's; the job sends on it once */
    int id;
    long n;                                     /* count the primes below n */
    async_timer timer;
    result r;
    unsigned char sieve[SIEVE_MAX];
} job_frame;

static async_group group;
static job_frame jobs[NJOBS + 1];               /* the last one is aborted */
static async_oneshot replies[NJOBS + 1];
static async_join_handle handles[NJOBS + 1];
static int failures;

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
        fprintf(stderr, "shards: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* Primes below n, by the sieve of Eratosthenes (n <= SIEVE_MAX). */
static long sieve_count(unsigned char *s, long n) {
    long i, j, count = 0;
    memset(s, 1, (size_t)n);
    for (i = 2; i < n; i++) {
        if (!s[i]) continue;
        count++;
        if (i > (n - 1) / i) continue;          /* i * i past n (and past a 32-bit long) */
        for (j = i * i; j < n; j += i) s[j] = 0;
    }
    return count;
}

/* The same by trial division: main's check, a different algorithm. */
static long trial_count(long n) {
    long k, d, count = 0;
    for (k = 2; k < n; k++) {
        for (d = 2; d <= k / d && k % d; d++) continue;
        if (d > k / d) count++;
    }
    return count;
}

/* ---- a job: on whichever runtime it was spawned onto ------------------------------- */
static int job_run(async_task *t) {
    job_frame *f = (job_frame *)t;
    int rc;
    ASYNC_BEGIN(t);
    f->r.job = f->id;
    f->r.runtime = async_runtime_index(async_task_runtime(t));
    if (f->n <= 0) {                            /* the one main aborts: never done */
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(3600)));
        (void)rc;
    }
    f->r.count = sieve_count(f->sieve, f->n);
    async_oneshot_send(f->reply, &f->r);        /* to main, on runtime 0 */
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    /* aborted (or ended): a oneshot never sent on closes for its receiver */
    async_oneshot_sender_release(f->reply);
    ASYNC_END(0);
}

/* ---- main: on runtime 0 ------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_waiter w;
    result r;
    int i, rc, per_runtime[NRUNTIMES], seen[NJOBS];
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    printf("%d runtimes on %d threads, %d jobs spread over them\n", async_group_size(&group),
           async_group_size(&group), NJOBS);
    for (f->i = 0; f->i <= NJOBS; f->i++) {
        jobs[f->i].id = f->i;
        jobs[f->i].n = f->i < NJOBS ? 20000 + 20000L * f->i : 0;
        jobs[f->i].reply = &replies[f->i];
        must(async_group_spawn(&group, ASYNC_GROUP_ANY, &handles[f->i], &jobs[f->i].task,
                               job_run, "job"), "async_group_spawn");
    }
    for (f->i = 0; f->i < NJOBS; f->i++) {
        ASYNC_AWAIT(f->rc, async_oneshot_recv(t, &replies[f->i], &f->w, &f->r));
        if (f->rc < 0) {
            printf("job %d: no result: %s\n", f->i, async_strerror(f->rc));
            check(0, "every job sends its result");
            continue;
        }
        printf("job %d: %ld primes below %ld, on runtime %d\n", f->r.job, f->r.count,
               jobs[f->i].n, f->r.runtime);
        check(f->r.job == f->i, "the result is the job's own");
        check(f->r.count == trial_count(jobs[f->i].n), "the count is right");
        check(f->r.runtime >= 0 && f->r.runtime < NRUNTIMES, "a runtime of the group");
        if (f->r.runtime >= 0 && f->r.runtime < NRUNTIMES) f->per_runtime[f->r.runtime]++;
        if (f->r.job >= 0 && f->r.job < NJOBS) f->seen[f->r.job]++;
    }
    for (f->i = 0; f->i < NJOBS; f->i++) {
        ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &handles[f->i], &f->w));
        check(f->rc == 0 && f->seen[f->i] == 1, "each job came back once, and ended with 0");
    }
    /* the last job waits forever: abort it from here, wherever it runs */
    async_join_handle_abort(&handles[NJOBS]);
    ASYNC_AWAIT(f->rc, async_oneshot_recv(t, &replies[NJOBS], &f->w, &f->r));
    printf("aborted job: its oneshot says %s", async_strerror(f->rc));
    check(f->rc == ASYNC_ECLOSED, "the aborted job's oneshot closed");
    ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &handles[NJOBS], &f->w));
    printf(", its join handle %s\n", async_strerror(f->rc));
    check(f->rc == ASYNC_ECANCELED, "the aborted job's handle says cancelled");
    printf("jobs per runtime:");
    for (f->i = 0; f->i < NRUNTIMES; f->i++) printf(" %d", f->per_runtime[f->i]);
    printf("\n");
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    async_group_desc d;
    int i, rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    memset(&d, 0, sizeof d);
    d.threads = NRUNTIMES;
    must(async_group_init(&group, &d), "async_group_init");
    for (i = 0; i <= NJOBS; i++)
        must(async_oneshot_init_shared(&replies[i], sizeof(result), NULL),
             "async_oneshot_init_shared");
    rc = async_group_block_on(&group, &m.task, main_task, "main");
    must(rc, "async_group_block_on");
    async_group_destroy(&group);
    for (i = 0; i <= NJOBS; i++) async_oneshot_destroy(&replies[i]);
    if (rc != 0 || failures) {
        printf("shards: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("shards: ok, %d jobs came back exactly once with the right counts; the aborted "
           "one closed its oneshot\n", NJOBS);
    return 0;
}
