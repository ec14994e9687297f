/* proxy.c - a TCP forwarder: each client is connected to an upstream server and the
   bytes are copied both ways.

   Usage: proxy [--idle-timeout SECONDS] [--max-conns N] PORT UPSTREAM_HOST:PORT
   Listens on 127.0.0.1:PORT (0: the kernel picks; the first line on stdout says which).
   UPSTREAM_HOST is numeric or a name; a name is looked up once at startup with
   async_pool_resolve on the blocking pool, and each connection tries the addresses in turn.
     --idle-timeout SECONDS (default 600, as nginx's proxy_timeout; fractions allowed;
       0: never): a session in which nothing is read in either direction for that
       long is closed, and so is one where a side takes nothing we write for as long
     --max-conns N (default 4096): sessions at once; past it a new client is
       accepted and closed at once (it sees EOF), so the proxy never stops answering
   A bad option or value: the usage on stderr, exit 2.

   One session task per client, in a JoinSet. A session connects upstream (5 s bound);
   a refusal is logged and the client is closed (it sees EOF). Then it copies both
   directions at once with an ASYNC_JOIN of two nested copy functions, one per
   direction, each with its own 16 KB buffer: read what is there, write all of it,
   read again. So a direction never holds more than one buffer: a slow reader on one
   side slows the writer on the other down to its pace (backpressure), and the other
   direction goes on meanwhile. Half-close aware: when one side sends EOF, the copy
   shuts down the write side of the other and ends; the opposite direction goes on
   until it ends too; then both sockets are closed. An error in either direction
   (a reset) ends the join (ASYNC_JOIN_FAIL_FAST cancels the other copy) and closes both.
   Idle: the session keeps the time of its last read, either way; each copy reads with
   that plus the idle timeout as its deadline, and when it passes but the other
   direction has read since, it just reads on. Each write is bounded by the timeout.

   The acceptor, the EMFILE backoff and the shutdown are echo.c's (the same acceptor
   in echo, chat, proxy and httpd): SIGINT or
   SIGTERM stop accepting, sessions get 2 s to end, the rest are aborted, exit 0. */
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
#ifndef _WIN32
#include <sys/resource.h>
#endif

enum { BUF_SIZE = 16384, MAX_CONNS = 4096, MAX_ADDRS = 8, IDLE_S = 600, GRACE_MS = 2000,
       BACKOFF_MS = 50, CONNECT_MS = 5000 };

static async_runtime rt;
static async_joinset sessions;
static async_cancel_token root;
static async_shutdown sd;
static async_addr upstream[MAX_ADDRS];
static int nupstream;
static const char *upstream_text;
static long max_conns = MAX_CONNS;              /* --max-conns */
static async_time idle = ASYNC_SEC(IDLE_S);     /* --idle-timeout (0: ASYNC_TIME_NEVER) */

/* ---- one direction ---------------------------------------------------------------- */
typedef struct {
    async_coro co;
    async_waiter w;
    async_timer timer;
    int n, rc;
    char buf[BUF_SIZE];
} copy_frame;

/* When a session whose last read (either way) was at `last` is idle. */
static async_time idle_deadline(async_time last) {
    return idle == ASYNC_TIME_NEVER ? idle : last + idle;
}

/* from -> to until from's EOF, which becomes a half-close of to: 0, or an error
   (ASYNC_ETIMEDOUT: nothing was read either way for the idle timeout, or to took
   nothing for as long). *last is the session's last read, in either direction. */
static int copy(async_task *t, copy_frame *p, async_time *last, async_io *from,
                async_io *to) {
    ASYNC_CORO_BEGIN(t, &p->co);
    for (;;) {
        ASYNC_AWAIT_TIMEOUT_UNTIL(p->n, &p->timer, idle_deadline(*last),
                                  async_io_read(t, from, &p->w, p->buf, sizeof p->buf));
        if (p->n == ASYNC_ETIMEDOUT && async_time_now(async_task_runtime(t)) < idle_deadline(*last))
            continue;                           /* the other way moved: not idle */
        if (p->n <= 0) break;
        *last = async_time_now(async_task_runtime(t));
        ASYNC_AWAIT_TIMEOUT(p->rc, &p->timer, idle,
                            async_io_write_all(t, to, &p->w, p->buf, (size_t)p->n));
        if (p->rc < 0) ASYNC_RETURN(p->rc);
    }
    if (p->n == 0) async_io_shutdown(to, ASYNC_IO_WRITE);   /* pass the EOF on */
    ASYNC_END(p->n);
}

/* ---- one client ------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io client, up;
    async_addr peer;
    async_waiter w;
    async_timer timer;
    async_join js;
    copy_frame c2u, u2c;
    async_time last;                            /* the last read, either way */
    int rc, k, rcs[2];
} session;

static int session_run(async_task *t) {
    session *f = (session *)t;
    ASYNC_BEGIN(t);
    f->rc = ASYNC_ENOTFOUND;
    for (f->k = 0; f->k < nupstream; f->k++) {
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, ASYNC_MS(CONNECT_MS),
                            async_sock_connect(t, &f->up, &f->w, &upstream[f->k]));
        if (f->rc == 0) break;
    }
    if (f->rc < 0) {
        char who[64];
        async_addr_format(&f->peer, who, sizeof who);
        fprintf(stderr, "proxy: %s: upstream %s: %s; closing the client\n", who,
                upstream_text, async_strerror(f->rc));
        ASYNC_RETURN(f->rc);
    }
    async_sock_set_nodelay(&f->up, 1);
    f->last = async_time_now(async_task_runtime(t));
    ASYNC_JOIN_BEGIN(&f->js, 2, ASYNC_JOIN_FAIL_FAST);
        ASYNC_JOIN_BRANCH_CALL(&f->js, 0, f->rcs[0], &f->c2u.co,
                               copy(t, &f->c2u, &f->last, &f->client, &f->up));
        ASYNC_JOIN_BRANCH_CALL(&f->js, 1, f->rcs[1], &f->u2c.co,
                               copy(t, &f->u2c, &f->last, &f->up, &f->client));
    ASYNC_JOIN_END(&f->js);
    ASYNC_RETURN(f->js.err);
    ASYNC_CLEANUP();
    async_io_close(&f->up);
    async_io_close(&f->client);
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

/* The sessions at once are at the cap. */
static int at_cap(void) {
    return async_joinset_len(&sessions) >= max_conns;
}

/* At the cap: closed at once (the client sees EOF), not left waiting. */
static void refuse(async_io *sock) {
    async_io_close(sock);
}

/* A session task for the client accepted into *sock, which moves into its frame: 0,
   or an error and sock is closed (ASYNC_ENOMEM: no task; a failed move, which
   epoll_ctl can make, leaves the task no socket: it ends at once). Nothing runs before
   we return: the new frame is ours to fill. */
static int conn_start(async_io *sock, const async_addr *peer) {
    async_task *h;
    session *c;
    int rc;
    if (async_joinset_spawn_alloc(&sessions, session_run, sizeof(session), "session",
                                  &h) < 0) {
        async_io_close(sock);
        return ASYNC_ENOMEM;
    }
    c = (session *)h;
    if ((rc = async_io_move(&c->client, sock)) < 0) {
        async_io_close(sock);
        return rc;
    }
    c->peer = *peer;
    async_sock_set_nodelay(&c->client, 1);
    return 0;
}

static int acceptor_run(async_task *t) {
    acceptor_frame *f = (acceptor_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &root, &f->w[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&sessions) > 0, f->rc[1],
                                async_joinset_join_next(t, &sessions, &f->w[1], &f->done,
                                                        &f->result));
            /* always: at the cap a client is accepted and refused, not left waiting */
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, &f->peer));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a session was reaped */
        if (f->rc[2] == 0 && at_cap()) {
            refuse(&f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "proxy: %ld sessions, the cap: refusing new clients\n",
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
                fprintf(stderr, "proxy: accept: %s, backing off\n", async_strerror(f->rc[2]));
        } else {
            fprintf(stderr, "proxy: accept: %s\n", async_strerror(f->rc[2]));
        }
        ASYNC_AWAIT(f->rc[0], async_time_sleep(t, &f->timer, ASYNC_MS(BACKOFF_MS)));
    }
    ASYNC_CLEANUP();
    async_io_close(&f->sock);
    async_io_close(&f->lis);                    /* new clients are refused from now */
    ASYNC_END(0);
}

/* ---- startup and main -------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_resolve_op op;
    async_pool pool;
    char host[256], port[16];
    int rc;
} resolve_frame;

/* "host:port" or "[v6]:port" into its parts, for the resolver. */
static int split_target(const char *s, char *host, size_t hcap, char *port, size_t pcap) {
    const char *colon = strrchr(s, ':');
    size_t hl;
    if (!colon || !colon[1] || strlen(colon + 1) >= pcap) return -1;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hcap) return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    strcpy(port, colon + 1);
    return 0;
}

static int resolve_run(async_task *t) {
    resolve_frame *f = (resolve_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_pool_resolve(t, &f->pool, &f->op, f->host, f->port, upstream,
                                          MAX_ADDRS));
    ASYNC_END(f->rc);
}

typedef struct {
    async_task task;
    acceptor_frame *acc;
    int rc;
} main_frame;

static int main_run(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &sd));
    fprintf(stderr, "proxy: %s: shut down (%d session(s) aborted after the grace "
            "period)\n", sd.signo == SIGINT ? "SIGINT" : sd.signo == SIGTERM ? "SIGTERM"
            : "request", f->rc);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->acc->task));
    ASYNC_END(0);
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
            "usage: %s [--idle-timeout SECONDS] [--max-conns N] PORT UPSTREAM_HOST:PORT\n"
            "  PORT                    0: any free port\n"
            "  --idle-timeout SECONDS  close a session with nothing read either way, or\n"
            "                          a write taken by neither side, for this long\n"
            "                          (default %d; fractions allowed; 0: never)\n"
            "  --max-conns N           sessions at once; more clients are accepted and\n"
            "                          closed at once (default %d)\n",
            argv0, IDLE_S, MAX_CONNS);
    return 2;
}

int main(int argc, char **argv) {
    static acceptor_frame acc;
    static main_frame m;
    static resolve_frame res;
    async_addr a, bound;
#ifndef _WIN32
    struct rlimit rl;
#endif
    const char *pos[2] = {NULL, NULL}, *v;
    char text[64];
    int i, n = 0, port, rc;
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &idle) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_conns) < 0) return usage(argv[0]);
        } else if (argv[i][0] == '-' || n == 2) {
            return usage(argv[0]);              /* an unknown option, or a third word */
        } else {
            pos[n++] = argv[i];
        }
    }
    if (n != 2 || parse_port(pos[0], &port) < 0 || !strchr(pos[1], ':'))
        return usage(argv[0]);
    upstream_text = pos[1];
#ifndef _WIN32                                  /* (Windows: no such limit) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;              /* two descriptors per client */
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
#endif
    if ((rc = async_runtime_init(&rt, NULL)) < 0) {
        fprintf(stderr, "proxy: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    if (async_addr_parse(&upstream[0], upstream_text) == 0) {
        nupstream = 1;
    } else {
        if (split_target(upstream_text, res.host, sizeof res.host, res.port,
                         sizeof res.port) < 0) {
            fprintf(stderr, "proxy: bad upstream %s\n", upstream_text);
            return usage(argv[0]);
        }
        if ((rc = async_pool_init(&res.pool, &rt, NULL)) < 0) {
            fprintf(stderr, "proxy: resolver threads: %s\n", async_strerror(rc));
            return 1;
        }
        rc = async_runtime_block_on(&rt, &res.task, resolve_run, "resolve");
        async_pool_destroy(&res.pool);
        if (rc <= 0) {
            fprintf(stderr, "proxy: resolve %s: %s\n", res.host,
                    async_strerror(rc < 0 ? rc : ASYNC_ENOTFOUND));
            return 1;
        }
        nupstream = rc;
    }
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if ((rc = async_addr_parse(&a, text)) < 0 ||
        (rc = async_sock_listen(&rt, &acc.lis, &a, NULL)) < 0 ||
        (rc = async_sock_local_addr(&acc.lis, &bound)) < 0) {
        fprintf(stderr, "proxy: listen on %s: %s\n", text, async_strerror(rc));
        return 1;
    }
    async_cancel_token_init(&root);
    async_joinset_init(&sessions, &rt);
    if ((rc = async_shutdown_init(&sd, &rt, &root, &sessions, NULL,
                                  ASYNC_MS(GRACE_MS))) < 0) {
        fprintf(stderr, "proxy: signals: %s\n", async_strerror(rc));
        return 1;
    }
    async_addr_format(&bound, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);

    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    m.acc = &acc;
    rc = async_runtime_block_on(&rt, &m.task, main_run, "main");
    async_joinset_destroy(&sessions);
    async_shutdown_destroy(&sd);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
    return rc == 0 ? 0 : 1;
}
