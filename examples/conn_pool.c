/* conn_pool.c - a connection pool: a fixed set of connections shared by more clients
   than there are connections.

   The pool is an async_semaphore with one permit per connection plus a free list of
   the connections themselves. A client acquires a permit (waiting in FIFO order when
   every connection is out), then pops a connection off the free list; it gives the
   connection back by pushing it on the list and releasing the permit. The permit
   count always equals the length of the free list, so a client holding a permit is
   sure to find a connection. No mutex guards the list: the pop and the push happen
   without an await in between, so no other task can run in the middle (Tokio's pool
   needs a Mutex because its tasks may run on several threads).

   The connection is handed back in ASYNC_CLEANUP, which runs however the client ends
   (done, failed or aborted): the C stand-in for a pooled connection's Drop.

   Two clients checkout with a timeout (ASYNC_AWAIT_TIMEOUT): the impatient one gives
   up after 5 ms while the pool is exhausted, and leaves nothing behind (its place in
   the queue is gone, no permit is lost); the patient one waits its turn and succeeds.
   The last line says whether the order, the counts and the pool's state check out. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { NCONN = 2, NCLIENTS = 6, USE_MS = 20 };

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
        fprintf(stderr, "conn_pool: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- the pool ------------------------------------------------------------------------ */
typedef struct { int id, uses; } connection;

static struct {
    async_semaphore permits;        /* one per connection on the free list */
    connection conns[NCONN];
    int free_list[NCONN], nfree;    /* a stack of indices into conns */
    int in_use, max_in_use;
} pool;

static void pool_init(void) {
    int i;
    must(async_semaphore_init(&pool.permits, NCONN), "async_semaphore_init");
    for (i = 0; i < NCONN; i++) {
        pool.conns[i].id = i + 1;
        pool.free_list[i] = NCONN - 1 - i;       /* conn #1 on top */
    }
    pool.nfree = NCONN;
}

/* Call only with a permit: then the list cannot be empty. */
static int pool_take(void) {
    int c = pool.free_list[--pool.nfree];
    pool.conns[c].uses++;
    if (++pool.in_use > pool.max_in_use) pool.max_in_use = pool.in_use;
    return c;
}

static void pool_give_back(int c) {
    pool.free_list[pool.nfree++] = c;
    pool.in_use--;
    async_semaphore_release(&pool.permits, 1);   /* wakes the next client in line */
}

/* ---- clients --------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer, deadline;
    const char *name;
    int timeout_ms;                 /* 0: wait as long as it takes */
    int conn, rc, order;
    async_time arrived;
} client_frame;

static int checkouts;               /* order in which connections were handed out */

static int client_run(async_task *t) {
    client_frame *f = (client_frame *)t;
    ASYNC_BEGIN(t);
    f->conn = -1;
    f->arrived = async_time_now(&rt);
    if (async_semaphore_available_permits(&pool.permits) == 0) {
        if (f->timeout_ms)
            printf("+%3.0f ms  %-9s pool exhausted, waits at most %d ms\n", ms(), f->name,
                   f->timeout_ms);
        else
            printf("+%3.0f ms  %-9s pool exhausted, waits\n", ms(), f->name);
    }
    if (f->timeout_ms)
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->deadline, ASYNC_MS(f->timeout_ms),
                            async_semaphore_acquire(t, &pool.permits, &f->w));
    else
        ASYNC_AWAIT(f->rc, async_semaphore_acquire(t, &pool.permits, &f->w));
    if (f->rc < 0) {
        printf("+%3.0f ms  %-9s gives up: %s\n", ms(), f->name, async_strerror(f->rc));
        ASYNC_RETURN(f->rc);
    }
    f->conn = pool_take();
    f->order = ++checkouts;
    printf("+%3.0f ms  %-9s gets conn #%d (waited %.0f ms)\n", ms(), f->name,
           pool.conns[f->conn].id, (double)(async_time_now(&rt) - f->arrived) / 1e6);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(USE_MS))); /* "use" it */
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    if (f->conn >= 0) {             /* done or aborted: the connection goes back */
        printf("+%3.0f ms  %-9s returns conn #%d\n", ms(), f->name, pool.conns[f->conn].id);
        pool_give_back(f->conn);
        f->conn = -1;
    }
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    client_frame clients[NCLIENTS];
    int i, rc;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    static const struct { const char *name; int timeout_ms; } who[NCLIENTS] = {
        {"client-1", 0}, {"client-2", 0}, {"client-3", 0}, {"client-4", 0},
        {"impatient", 5},                         /* gives up long before a conn frees */
        {"patient", 1000},                        /* its turn comes at about 40 ms */
    };
    ASYNC_BEGIN(t);
    printf("pool of %d connections, %d clients, each uses one for %d ms\n", NCONN, NCLIENTS,
           USE_MS);
    pool_init();
    for (f->i = 0; f->i < NCLIENTS; f->i++) {
        f->clients[f->i].name = who[f->i].name;
        f->clients[f->i].timeout_ms = who[f->i].timeout_ms;
        must(async_task_spawn(&rt, &f->clients[f->i].task, client_run, who[f->i].name),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < NCLIENTS; f->i++)
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->clients[f->i].task));

    /* Every client got its connection in arrival order (FIFO, no barging), except the
       impatient one, whose cancelled wait left no trace. */
    for (f->i = 0; f->i < NCLIENTS; f->i++) {
        client_frame *c = &f->clients[f->i];
        if (c->timeout_ms == 5) {
            check(c->rc == ASYNC_ETIMEDOUT, "the impatient checkout times out");
            check(c->order == 0, "the impatient client never got a connection");
        } else {
            check(c->rc == 0, "every other checkout succeeds");
            check(c->order == (f->i < 4 ? f->i + 1 : f->i), "connections go out in FIFO order");
        }
    }
    check(pool.max_in_use == NCONN, "never more than NCONN connections out");
    check(pool.conns[0].uses + pool.conns[1].uses == NCLIENTS - 1, "5 checkouts in all");
    check(pool.nfree == NCONN && async_semaphore_available_permits(&pool.permits) == NCONN,
          "every connection and permit is back");
    printf("+%3.0f ms  pool: %d of %d free, conn #1 used %d times, conn #2 %d times\n", ms(),
           pool.nfree, NCONN, pool.conns[0].uses, pool.conns[1].uses);
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
        printf("conn_pool: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("conn_pool: ok, FIFO checkouts, one timeout, nothing leaked\n");
    return 0;
}
