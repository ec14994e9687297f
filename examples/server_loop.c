/* server_loop.c - a server loop with a shutdown channel: accept connections, one handler
   task per connection in a JoinSet, then a graceful shutdown with a deadline.

   Simulated clients open a connection every 8 ms by sending it on a bounded async_mpsc;
   each connection says how long it takes to serve (the first one is a stuck upload that
   would take a second). The server loops on a biased ASYNC_SELECT of three branches:
   the shutdown async_oneshot first (it must win over new work), then reaping a finished
   handler with async_joinset_join_next (guarded: only when the set is not empty), then
   accepting the next connection, which spawns a handler into the set with
   async_joinset_spawn_alloc. All three receives are cancel safe, so the branches that
   lose a round lose nothing.

   Main sends the shutdown after 45 ms. The server stops accepting: it closes the
   connection channel (clients that try later are refused with ASYNC_ECLOSED) and
   drops what was queued but not yet accepted. It then waits for the handlers in flight
   with async_joinset_wait_all under a 40 ms grace period (ASYNC_AWAIT_TIMEOUT). At the
   deadline the ones still running are aborted with async_joinset_abort_all, their
   cleanup closes their sockets, and join_next reaps them. The server reports how many
   handlers finished and how many were aborted.

   The stuck connection is accepted before main's timer can fire, and takes far longer
   than the grace period, so it is aborted by design; the other counts depend on timing
   but always add up: every connection is accepted, dropped or refused, and every
   accepted one either finished or was aborted through its cleanup. The last line says
   whether all of that held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>

enum { NCONN = 8, CONNECT_EVERY_MS = 8, SHUTDOWN_AT_MS = 45, GRACE_MS = 40 };
static const int work_ms[NCONN] = {1000, 15, 30, 10, 25, 20, 10, 10};

typedef struct { int id, work_ms; } connection;

static async_runtime rt;
static async_time t_start;
static async_mpsc conns;
static async_oneshot stop_ch;
static int failures;
static int accepted, dropped, refused, finished, aborted, reaped;
static int stuck_aborted;

static double ms(void) { return (double)(async_time_now(&rt) - t_start) / 1e6; }

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
        fprintf(stderr, "server_loop: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- a handler: one per connection, in the server's JoinSet ---------------------------- */
typedef struct {
    async_task task;
    async_timer timer;
    connection conn;
    int rc;
} handler_frame;

static int handler_run(async_task *t) {
    handler_frame *f = (handler_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(f->conn.work_ms)));
    finished++;
    printf("+%3.0f ms  conn %d: served (%d ms of work)\n", ms(), f->conn.id, f->conn.work_ms);
    ASYNC_RETURN(f->conn.id);
    ASYNC_CLEANUP();
    if (async_task_is_cancelling(t)) {
        aborted++;
        if (f->conn.id == 1) stuck_aborted = 1;
        printf("+%3.0f ms  conn %d: aborted mid-request, cleanup closes its socket\n", ms(),
               f->conn.id);
    }
    ASYNC_END(0);
}

/* ---- the server ------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_select sel;
    async_waiter w[3];
    async_timer grace;
    async_joinset js;
    connection conn;
    async_task *got, *h;
    int rc[3], accepting, reason, result, in_flight, n;
} server_frame;

static int server_run(async_task *t) {
    server_frame *f = (server_frame *)t;
    ASYNC_BEGIN(t);
    must(async_joinset_init(&f->js, &rt), "async_joinset_init");
    f->accepting = 1;
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_oneshot_recv(t, &stop_ch, &f->w[0], &f->reason));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&f->js) > 0, f->rc[1],
                                async_joinset_join_next(t, &f->js, &f->w[1], &f->got,
                                                        &f->result));
            ASYNC_SELECT_BRANCH(&f->sel, 2, f->accepting, f->rc[2],
                                async_mpsc_recv(t, &conns, &f->w[2], &f->conn));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;                  /* shutdown */
        if (f->sel.winner == 1) {                       /* a handler finished */
            reaped++;
        } else if (f->sel.winner == 2 && f->rc[2] == 0) {
            int rc = async_joinset_spawn_alloc(&f->js, handler_run, sizeof(handler_frame),
                                               "handler", &f->h);
            if (rc < 0) {                               /* the connection is lost */
                fprintf(stderr, "server_loop: async_joinset_spawn_alloc: %s\n",
                        async_strerror(rc));
                check(0, "a handler can be spawned");
                continue;
            }
            ((handler_frame *)f->h)->conn = f->conn;    /* it has not run yet */
            accepted++;
            printf("+%3.0f ms  server: accepted conn %d (%d ms of work), %d in flight\n",
                   ms(), f->conn.id, f->conn.work_ms, async_joinset_len(&f->js));
        } else if (f->sel.winner == 2) {                /* every client is gone */
            f->accepting = 0;
        }
    }

    f->in_flight = async_joinset_len(&f->js);
    printf("+%3.0f ms  server: shutdown received: stop accepting, %d handlers in flight,"
           " grace period %d ms\n", ms(), f->in_flight, GRACE_MS);
    async_mpsc_close(&conns);                           /* later connects are refused */
    while (async_mpsc_try_recv(&conns, &f->conn) == 0) {
        dropped++;
        printf("+%3.0f ms  server: conn %d dropped: it was still queued\n", ms(), f->conn.id);
    }
    ASYNC_AWAIT_TIMEOUT(f->rc[0], &f->grace, ASYNC_MS(GRACE_MS),
                        async_joinset_wait_all(t, &f->js, &f->w[1]));
    if (f->rc[0] == ASYNC_ETIMEDOUT) {
        f->n = async_joinset_abort_all(&f->js);
        printf("+%3.0f ms  server: grace period over, aborting %d handler(s) still running\n",
               ms(), f->n);
        check(f->n == async_joinset_len(&f->js), "abort_all aborts every member left");
        for (;;) {                                      /* reap them */
            ASYNC_AWAIT(f->rc[1], async_joinset_join_next(t, &f->js, &f->w[1], &f->got,
                                                          &f->result));
            if (f->rc[1] < 0) break;                    /* ASYNC_ECLOSED: the set is empty */
            check(f->result == ASYNC_ECANCELED, "an aborted handler reports ECANCELED");
        }
    } else {
        printf("+%3.0f ms  server: every handler finished within the grace period\n", ms());
        f->n = 0;
    }
    check(async_joinset_len(&f->js) == 0, "every handler was reaped");
    check(async_joinset_destroy(&f->js) == 0, "nothing was left in the set to cancel");
    printf("+%3.0f ms  server: stopped: %d accepted (%d reaped while accepting), %d finished,"
           " %d aborted\n", ms(), accepted, reaped, finished, aborted);
    ASYNC_END(f->n);
}

/* ---- the clients: one connection every 8 ms --------------------------------------------- */
typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    connection conn;
    int i, rc;
} clients_frame;

static int clients_run(async_task *t) {
    clients_frame *f = (clients_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < NCONN; f->i++) {
        if (f->i > 0)
            ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(CONNECT_EVERY_MS)));
        f->conn.id = f->i + 1;
        f->conn.work_ms = work_ms[f->i];
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &conns, &f->w, &f->conn));
        if (f->rc < 0) {
            refused++;
            printf("+%3.0f ms  client: conn %d refused (%s)\n", ms(), f->conn.id,
                   async_strerror(f->rc));
        }
    }
    async_mpsc_sender_release(&conns);
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_timer timer;
    server_frame server;
    clients_frame clients;
    int rc, reason;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    must(async_mpsc_init(&conns, sizeof(connection), 4, NULL), "async_mpsc_init");
    must(async_oneshot_init(&stop_ch, sizeof(int), NULL), "async_oneshot_init");
    must(async_task_spawn(&rt, &f->server.task, server_run, "server"), "async_task_spawn");
    must(async_task_spawn(&rt, &f->clients.task, clients_run, "clients"), "async_task_spawn");
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(SHUTDOWN_AT_MS)));
    printf("+%3.0f ms  main: sending shutdown\n", ms());
    f->reason = 1;
    check(async_oneshot_send(&stop_ch, &f->reason) == 0, "the shutdown is delivered");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->server.task));
    check(f->rc == aborted, "the server aborted as many as it reports");
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->clients.task));
    async_oneshot_destroy(&stop_ch);
    async_mpsc_destroy(&conns);

    printf("   %d connections: %d accepted, %d dropped at shutdown, %d refused after it\n",
           NCONN, accepted, dropped, refused);
    printf("   %d handlers: %d finished, %d aborted at the deadline\n", accepted, finished,
           aborted);
    check(accepted + dropped + refused == NCONN,
          "every connection is accepted, dropped or refused");
    check(finished + aborted == accepted, "every handler finished or was aborted");
    check(stuck_aborted == 1, "the stuck upload was aborted at the deadline");
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t_start = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    check(async_runtime_destroy(&rt) == 0, "no task outlives main");
    if (rc != 0 || failures) {
        printf("server_loop: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("server_loop: ok, %d served, %d aborted at the deadline, nothing left running\n",
           finished, aborted);
    return 0;
}
