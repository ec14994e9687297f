/* embed_work.h - the work both host-loop examples run through their host's loop
   (glib_loop.c, uv_loop.c): a ticker (three 20 ms sleeps), a TCP echo server and a
   client on 127.0.0.1, and a task woken from another thread through a shared channel
   (three numbers) and then an async_waker. Included once, after async.h with its
   implementation; the example owns the runtime and checks the results. */
#ifndef EMBED_WORK_H
#define EMBED_WORK_H
#include <time.h>

/* ---- timers --------------------------------------------------------------------------- */
typedef struct { async_task task; async_timer timer; int ticks; } ticker;

static int ticker_run(async_task *t) {
    ticker *f = (ticker *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->ticks = 0; f->ticks < 3; f->ticks++) {
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(20)));
        if (rc < 0) ASYNC_RETURN(rc);
    }
    ASYNC_END(f->ticks);
}

/* ---- a socket echo -------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io *lis, conn;
    async_waiter w;
    char buf[256];
    int n, rc, total;
} echo_server;

static int echo_server_run(async_task *t) {
    echo_server *f = (echo_server *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->conn, NULL));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    for (;;) {
        ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->conn, &f->w, f->buf, (size_t)f->n));
        if (f->rc < 0) break;
        f->total += f->n;
    }
    ASYNC_CLEANUP();
    async_io_close(&f->conn);
    ASYNC_END(f->n < 0 ? f->n : f->total);
}

static const char line[] = "hello through the host loop\n";

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    char back[sizeof line];
    int rc, eof;
} echo_client;

static int echo_client_run(async_task *t) {
    echo_client *f = (echo_client *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, line, sizeof line - 1));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_read_exact(t, &f->io, &f->w, f->back, sizeof line - 1));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    ASYNC_AWAIT(f->eof, async_io_read(t, &f->io, &f->w, f->back, 1));   /* 0: EOF */
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(f->rc);
}

/* ---- wakes from another thread -------------------------------------------------------- */
static async_mpsc numbers;              /* shared: the thread sends, a task receives */
static async_waker waker;

typedef struct { async_task task; async_waiter w; int item, sum, got, woken; } woken_task;

static int woken_run(async_task *t) {
    woken_task *f = (woken_task *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->got = 0; f->got < 3; f->got++) {
        ASYNC_AWAIT(rc, async_mpsc_recv(t, &numbers, &f->w, &f->item));
        if (rc < 0) ASYNC_RETURN(rc);
        f->sum += f->item;
    }
    ASYNC_AWAIT(rc, async_waker_wait(t, &waker));
    if (rc < 0) ASYNC_RETURN(rc);
    f->woken = 1;
    ASYNC_END(0);
}

static void *other_thread(void *p) {
    struct timespec ts = { 0, 15 * 1000000L };
    int i;
    (void)p;
    for (i = 1; i <= 3; i++) {
        nanosleep(&ts, NULL);           /* the host loop is asleep by now */
        if (async_mpsc_try_send(&numbers, &i) < 0) return NULL;
    }
    nanosleep(&ts, NULL);
    async_waker_wake(&waker);
    return NULL;
}

/* ---- main: the host loop -------------------------------------------------------------- */
static ticker tick;
static echo_server server;
static echo_client client;
static woken_task woken;

#endif
