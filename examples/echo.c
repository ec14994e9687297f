/* echo.c - a TCP echo server: every byte a client sends comes back to it.

   Usage: echo [--idle-timeout SECONDS] [--max-conns N] PORT
     PORT 0: the kernel picks one; the first line on stdout says which:
       "listening on 127.0.0.1:NNNN"
     --idle-timeout SECONDS (default 60; fractions allowed; 0: never): a connection
       that sends nothing for that long is closed, and so is one that takes nothing
       of what we send back for that long (each read and each write is bounded)
     --max-conns N (default 16384): connections at once; past it a new client is
       accepted and closed at once (it sees EOF), so the server never stops
       answering, and room frees as idle connections time out
   A bad option or value: the usage on stderr, exit 2.

   One task per connection, in a JoinSet: read up to 16 KB, write it all back, again,
   until the client's EOF. The per-message path is exactly one async_io_read and one
   async_io_write_all, each under the idle timeout, nothing else (it is benchmarked
   against a hand-written epoll loop). Half-close aware for free: a read returns 0
   only after everything read before it was written back, so a client that shuts down
   its write side gets all its bytes and then our EOF.

   The acceptor (the same in echo, chat, proxy and httpd) accepts into its own frame
   and hands the socket over to a new connection task with async_io_move. It loops on
   a biased select: the shutdown token first, then reaping finished connections (so
   frames are freed as they end), then accepting (always: at the cap the new socket is
   closed at once). EMFILE/ENFILE (out of descriptors), ENOBUFS/ENOMEM (out of memory
   for a socket, or for the task): the listener stays readable, so retrying at once
   would spin; it says so once, sleeps 50 ms and tries again (any other error is
   logged each time, with the same pause).

   Shutdown (SIGINT or SIGTERM) goes through async_shutdown: the root token stops the
   acceptor (which closes the listener, so new clients are refused), connections get a
   2 s grace period to end on their own, the rest are aborted (their cleanup closes
   their sockets), and the process exits 0. */
#ifdef __linux__
#define ASYNC_USE_EPOLL
#endif
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum { BUF_SIZE = 16384, MAX_CONNS = 16384, IDLE_S = 60, GRACE_MS = 2000, BACKOFF_MS = 50 };

static async_runtime rt;
static async_joinset conns;
static async_cancel_token root;
static async_shutdown sd;
static long max_conns = MAX_CONNS;              /* --max-conns */
static async_time idle = ASYNC_SEC(IDLE_S);     /* --idle-timeout (0: ASYNC_TIME_NEVER) */

/* ---- one connection --------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_timer timer;
    int n, rc;
    char buf[BUF_SIZE];
} conn_frame;

static int conn_run(async_task *t) {
    conn_frame *f = (conn_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT_TIMEOUT(f->n, &f->timer, idle,
                            async_io_read(t, &f->io, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;                   /* EOF (all echoed already), error, idle */
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, idle,
                            async_io_write_all(t, &f->io, &f->w, f->buf, (size_t)f->n));
        if (f->rc < 0) break;                   /* the peer went away, or reads nothing */
    }
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(0);
}

/* ---- the acceptor (the same in echo, chat, proxy and httpd) ------------------------ */
typedef struct {
    async_task task;
    async_io lis, sock;                         /* sock: accepted, not handed over yet */
    async_addr peer;
    async_select sel;
    async_waiter w[3];
    async_timer timer;
    async_task *done;
    int rc[3], result, backoff_logged, full_logged;
} acceptor_frame;

/* The connections at once are at the cap. */
static int at_cap(void) {
    return async_joinset_len(&conns) >= max_conns;
}

/* At the cap: closed at once (the client sees EOF), not left waiting. */
static void refuse(async_io *sock) {
    async_io_close(sock);
}

/* A task for the connection accepted into *sock, which moves into its frame: 0, or
   an error and sock is closed (ASYNC_ENOMEM: no task; a failed move, which epoll_ctl
   can make, leaves the task no socket: it ends at once). Nothing runs before we
   return: the new frame is ours to fill. */
static int conn_start(async_io *sock, const async_addr *peer) {
    async_task *h;
    conn_frame *c;
    int rc;
    (void)peer;
    if (async_joinset_spawn_alloc(&conns, conn_run, sizeof(conn_frame), "conn", &h) < 0) {
        async_io_close(sock);
        return ASYNC_ENOMEM;
    }
    c = (conn_frame *)h;
    if ((rc = async_io_move(&c->io, sock)) < 0) {
        async_io_close(sock);
        return rc;
    }
    async_sock_set_nodelay(&c->io, 1);
    return 0;
}

static int acceptor_run(async_task *t) {
    acceptor_frame *f = (acceptor_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &root, &f->w[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&conns) > 0, f->rc[1],
                                async_joinset_join_next(t, &conns, &f->w[1], &f->done,
                                                        &f->result));
            /* always: at the cap a client is accepted and refused, not left waiting */
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, &f->peer));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a connection was reaped */
        if (f->rc[2] == 0 && at_cap()) {
            refuse(&f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "echo: %ld connections, the cap: refusing new ones\n",
                        max_conns);
            continue;
        }
        if (f->rc[2] == 0) f->rc[2] = conn_start(&f->sock, &f->peer);
        if (f->rc[2] == 0) {
            f->full_logged = f->backoff_logged = 0;
            continue;
        }
        /* out of descriptors or of memory: say it once, retry later */
        if (f->rc[2] == -EMFILE || f->rc[2] == -ENFILE || f->rc[2] == -ENOBUFS ||
            f->rc[2] == -ENOMEM) {
            if (!f->backoff_logged++)
                fprintf(stderr, "echo: accept: %s, backing off\n", async_strerror(f->rc[2]));
        } else {
            fprintf(stderr, "echo: accept: %s\n", async_strerror(f->rc[2]));
        }
        ASYNC_AWAIT(f->rc[0], async_time_sleep(t, &f->timer, ASYNC_MS(BACKOFF_MS)));
    }
    ASYNC_CLEANUP();
    async_io_close(&f->sock);
    async_io_close(&f->lis);                    /* new clients are refused from now */
    ASYNC_END(0);
}

/* ---- main ------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    acceptor_frame *acc;
    int rc;
} main_frame;

static int main_run(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &sd));
    fprintf(stderr, "echo: %s: shut down (%d connection(s) aborted after the grace "
            "period)\n", sd.signo == SIGINT ? "SIGINT" : sd.signo == SIGTERM ? "SIGTERM"
            : "request", f->rc);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->acc->task));
    ASYNC_END(0);
}

/* Each connection is a descriptor: let the soft limit go up to the hard one. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- options ---------------------------------------------------------------------- */
/* "--NAME VALUE" or "--NAME=VALUE" at argv[*i]: 1 with *val (NULL when the value is
   missing) and *i on the last word used; 0 when argv[*i] is something else. */
static int opt_is(int argc, char **argv, int *i, const char *name, const char **val) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return 0;
    if (argv[*i][n] == '=') *val = argv[*i] + n + 1;
    else if (argv[*i][n] != 0) return 0;
    else *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* A decimal count in [min, max], digits only: 0, or -1. */
static int parse_count(const char *s, long min, long max, long *out) {
    char *end;
    long v;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* SECONDS: a decimal number, fractions allowed ("0.25"), 0 for never: 0, or -1. */
static int parse_seconds(const char *s, async_time *out) {
    char *end;
    double v;
    size_t i;
    if (!s || !*s) return -1;
    for (i = 0; s[i]; i++)
        if ((s[i] < '0' || s[i] > '9') && s[i] != '.') return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v > 1e6) return -1;
    if (v == 0) {
        *out = ASYNC_TIME_NEVER;
        return 0;
    }
    if (v < 0.001) return -1;                   /* under a millisecond: a mistake */
    *out = (async_time)(v * 1e9);
    return 0;
}

static int parse_port(const char *s, int *port) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535) return -1;
    *port = (int)v;
    return 0;
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--idle-timeout SECONDS] [--max-conns N] PORT\n"
            "  PORT                    0: any free port\n"
            "  --idle-timeout SECONDS  close a connection that sends nothing, or takes\n"
            "                          nothing we send, for this long (default %d;\n"
            "                          fractions allowed; 0: never)\n"
            "  --max-conns N           connections at once; more are accepted and\n"
            "                          closed at once (default %d)\n",
            argv0, IDLE_S, MAX_CONNS);
    return 2;
}

int main(int argc, char **argv) {
    static acceptor_frame acc;
    static main_frame m;
    async_addr a, bound;
    const char *port_arg = NULL, *v;
    char text[64];
    int i, port, rc;
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &idle) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_conns) < 0) return usage(argv[0]);
        } else if (argv[i][0] == '-' || port_arg) {
            return usage(argv[0]);              /* an unknown option, or a second PORT */
        } else {
            port_arg = argv[i];
        }
    }
    if (!port_arg || parse_port(port_arg, &port) < 0) return usage(argv[0]);
    raise_fd_limit();
    if ((rc = async_runtime_init(&rt, NULL)) < 0) {
        fprintf(stderr, "echo: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if ((rc = async_addr_parse(&a, text)) < 0 ||
        (rc = async_sock_listen(&rt, &acc.lis, &a, NULL)) < 0 ||
        (rc = async_sock_local_addr(&acc.lis, &bound)) < 0) {
        fprintf(stderr, "echo: listen on %s: %s\n", text, async_strerror(rc));
        return 1;
    }
    async_cancel_token_init(&root);
    async_joinset_init(&conns, &rt);
    /* subscribe to the signals before telling anyone the port */
    if ((rc = async_shutdown_init(&sd, &rt, &root, &conns, NULL, ASYNC_MS(GRACE_MS))) < 0) {
        fprintf(stderr, "echo: signals: %s\n", async_strerror(rc));
        return 1;
    }
    async_addr_format(&bound, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);

    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    m.acc = &acc;
    rc = async_runtime_block_on(&rt, &m.task, main_run, "main");
    async_joinset_destroy(&conns);
    async_shutdown_destroy(&sd);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
    return rc == 0 ? 0 : 1;
}
