/* echo.c - a TCP echo server: every byte a client sends comes back to it.

   Usage: echo [--idle-timeout SECONDS] [--max-conns N] [--threads N] PORT
     PORT 0: the kernel picks one; the first line on stdout says which:
       "listening on 127.0.0.1:NNNN"
     --idle-timeout SECONDS (default 60; fractions allowed; 0: never): a connection
       that sends nothing for that long is closed, and so is one that takes nothing
       of what we send back for that long (each read and each write is bounded)
     --max-conns N (default 16384): connections at once; past it a new client is
       accepted and closed at once (it sees EOF), so the server never stops
       answering, and room frees as idle connections time out; the cap is global
       (over every thread: a shared atomic count, touched once per connection)
     --threads N (default 1; 0: one per core): N shards, each a runtime on a thread
       of its own (an async_group) with its own listener on the same port
       (SO_REUSEPORT: the kernel spreads the connections), its own connections,
       acceptor and shutdown. The shards share nothing per message: a connection
       lives and dies on the shard that accepted it. With 1, no group at all: one
       runtime on the main thread, as before.
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
   their sockets), and the process exits 0. With --threads, every shard has its own
   async_shutdown subscribed to the signals: each stops accepting and drains its own
   connections; the main task on runtime 0 waits for every shard's end (a join handle
   each), then the group stops and its threads are joined. */
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
#include <unistd.h>

enum { BUF_SIZE = 16384, MAX_CONNS = 16384, IDLE_S = 60, GRACE_MS = 2000, BACKOFF_MS = 50,
       MAX_THREADS = 1024 };

static long max_conns = MAX_CONNS;              /* --max-conns */
static async_time idle = ASYNC_SEC(IDLE_S);     /* --idle-timeout (0: ASYNC_TIME_NEVER) */
static int nshards = 1;                         /* --threads */

/* Connections at once over every shard: the one thing the shards' threads share, a
   relaxed atomic count taken when a connection is accepted and given back when it
   ends (never per message). */
static long conns_now;

/* A place under the cap for a new connection: 1, or 0 at the cap. */
static int conn_claim(void) {
    if (__atomic_add_fetch(&conns_now, 1, __ATOMIC_RELAXED) <= max_conns) return 1;
    __atomic_sub_fetch(&conns_now, 1, __ATOMIC_RELAXED);
    return 0;
}

static void conn_release(void) {
    __atomic_sub_fetch(&conns_now, 1, __ATOMIC_RELAXED);
}

/* ---- one connection --------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_timer timer;
    int n, rc, counted;                         /* counted: holds a place under the cap */
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
    if (f->counted) conn_release();
    f->counted = 0;
    ASYNC_END(0);
}

/* ---- the acceptor (the same in echo, chat, proxy and httpd) ------------------------ */
typedef struct shard shard;

typedef struct {
    async_task task;
    shard *sh;                                  /* the shard it accepts for */
    async_io lis, sock;                         /* sock: accepted, not handed over yet */
    async_select sel;
    async_waiter w[3];
    async_timer timer;
    async_task *done;
    int rc[3], result, backoff_logged, full_logged;
} acceptor_frame;

/* A shard: one runtime (on a thread of its own with --threads), its listener and
   acceptor, its connections, its shutdown. */
typedef struct {
    async_task task;
    shard *sh;
    int rc;
} shard_frame;

struct shard {
    async_runtime *rt;
    async_joinset conns;
    async_cancel_token root;
    async_shutdown sd;
    acceptor_frame acc;
    shard_frame main;                           /* its acceptor, then its shutdown */
    async_join_handle h;                        /* main's, with --threads */
    long accepted;
    int index, inited;
};

/* At the cap: closed at once (the client sees EOF), not left waiting. */
static void refuse(async_io *sock) {
    async_io_close(sock);
}

/* A task for the connection accepted into *sock, which moves into its frame: 0, or
   an error and sock is closed (ASYNC_ENOMEM: no task; a failed move, which epoll_ctl
   can make, leaves the task no socket: it ends at once). Nothing runs before we
   return: the new frame is ours to fill. The place under the cap the caller claimed
   goes with the task (its cleanup gives it back), or back at once. */
static int conn_start(shard *sh, async_io *sock) {
    async_task *h;
    conn_frame *c;
    int rc;
    if (async_joinset_spawn_alloc(&sh->conns, conn_run, sizeof(conn_frame), "conn", &h) < 0) {
        async_io_close(sock);
        conn_release();
        return ASYNC_ENOMEM;
    }
    c = (conn_frame *)h;
    c->counted = 1;
    sh->accepted++;
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
                                async_cancel_token_wait(t, &f->sh->root, &f->w[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&f->sh->conns) > 0, f->rc[1],
                                async_joinset_join_next(t, &f->sh->conns, &f->w[1], &f->done,
                                                        &f->result));
            /* always: at the cap a client is accepted and refused, not left waiting */
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, NULL));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a connection was reaped */
        if (f->rc[2] == 0 && !conn_claim()) {
            refuse(&f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "echo: %ld connections, the cap: refusing new ones\n",
                        max_conns);
            continue;
        }
        if (f->rc[2] == 0) f->rc[2] = conn_start(f->sh, &f->sock);
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

/* ---- a shard's main, and the group's ---------------------------------------------- */
/* "" alone; " (shard I of N, K accepted)" with --threads: for the lines on stderr */
static const char *shard_tag(const shard *sh, char *buf, size_t cap) {
    if (nshards == 1) return "";
    snprintf(buf, cap, " (shard %d of %d, %ld accepted)", sh->index, nshards, sh->accepted);
    return buf;
}

/* The shard's acceptor, then its shutdown: stop accepting, drain, abort the rest. */
static int shard_run(async_task *t) {
    shard_frame *f = (shard_frame *)t;
    char tag[64];
    ASYNC_BEGIN(t);
    f->sh->acc.sh = f->sh;
    async_task_spawn(async_task_runtime(t), &f->sh->acc.task, acceptor_run, "acceptor");
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &f->sh->sd));
    fprintf(stderr, "echo: %s: shut down (%d connection(s) aborted after the grace "
            "period)%s\n", f->sh->sd.signo == SIGINT ? "SIGINT" : f->sh->sd.signo == SIGTERM
            ? "SIGTERM" : "request", f->rc, shard_tag(f->sh, tag, sizeof tag));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->sh->acc.task));
    ASYNC_END(0);
}

static async_group group;                       /* with --threads N > 1 */
static shard *shards;

/* On runtime 0 with --threads: every shard's main onto its runtime, then wait for
   them all, and stop the group. */
typedef struct {
    async_task task;
    async_waiter w;
    int i, rc, result;
    async_join_handle h;                        /* its own (main joins the threads) */
} group_frame;

static int group_run(async_task *t) {
    group_frame *f = (group_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < nshards; f->i++) {
        shards[f->i].main.sh = &shards[f->i];
        f->rc = async_group_spawn(&group, f->i, &shards[f->i].h, &shards[f->i].main.task,
                                  shard_run, "shard");
        if (f->rc < 0) {                        /* only once the group stops: not here */
            fprintf(stderr, "echo: async_group_spawn: %s\n", async_strerror(f->rc));
            async_group_stop(&group);
            ASYNC_RETURN(1);
        }
    }
    for (f->i = 0; f->i < nshards; f->i++) {
        ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &shards[f->i].h, &f->w));
        if (f->rc != 0) f->result = 1;
    }
    async_group_stop(&group);                   /* every thread's loop ends: main joins */
    ASYNC_END(f->result);
}

/* Each connection is a descriptor: let the soft limit go up to the hard one. */
static void raise_fd_limit(void) {
#ifndef _WIN32                              /* (Windows: no such limit) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
#endif
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
            "usage: %s [--idle-timeout SECONDS] [--max-conns N] [--threads N] PORT\n"
            "  PORT                    0: any free port\n"
            "  --idle-timeout SECONDS  close a connection that sends nothing, or takes\n"
            "                          nothing we send, for this long (default %d;\n"
            "                          fractions allowed; 0: never)\n"
            "  --max-conns N           connections at once, over every thread; more are\n"
            "                          accepted and closed at once (default %d)\n"
            "  --threads N             N runtimes on N threads, each listening on PORT\n"
            "                          (SO_REUSEPORT); 0: one per core (default 1)\n",
            argv0, IDLE_S, MAX_CONNS);
    return 2;
}

/* A shard on rt: listening on *a (reuseport with --threads), its shutdown subscribed
   to the signals: 0, or the error said on stderr. */
static int shard_init(shard *sh, async_runtime *rt, int index, const async_addr *a) {
    async_listen_opts o;
    char text[64];
    int rc;
    memset(&o, 0, sizeof o);
    o.reuseport = nshards > 1;
    sh->rt = rt;
    sh->index = index;
    if ((rc = async_sock_listen(rt, &sh->acc.lis, a, &o)) < 0) {
        async_addr_format(a, text, sizeof text);
        fprintf(stderr, "echo: listen on %s: %s\n", text, async_strerror(rc));
        return rc;
    }
    async_cancel_token_init(&sh->root);
    async_joinset_init(&sh->conns, rt);
    sh->inited = 1;
    if ((rc = async_shutdown_init(&sh->sd, rt, &sh->root, &sh->conns, NULL,
                                  ASYNC_MS(GRACE_MS))) < 0) {
        fprintf(stderr, "echo: signals: %s\n", async_strerror(rc));
        return rc;
    }
    sh->inited = 2;
    return 0;
}

/* What shard_init made (the tasks are gone: their runtime ended or is destroyed). */
static void shard_fini(shard *sh) {
    async_io_close(&sh->acc.lis);
    if (sh->inited >= 1) async_joinset_destroy(&sh->conns);
    if (sh->inited >= 2) async_shutdown_destroy(&sh->sd);
    if (sh->inited >= 1) async_cancel_token_destroy(&sh->root);
    sh->inited = 0;
}

int main(int argc, char **argv) {
    static async_runtime rt;                    /* --threads 1: the only runtime */
    static shard one;
    static group_frame gm;
    async_addr a, bound;
    const char *port_arg = NULL, *v;
    char text[64];
    long threads = 1;
    int i, port, rc;
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &idle) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_conns) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--threads", &v)) {
            if (parse_count(v, 0, MAX_THREADS, &threads) < 0) return usage(argv[0]);
        } else if (argv[i][0] == '-' || port_arg) {
            return usage(argv[0]);              /* an unknown option, or a second PORT */
        } else {
            port_arg = argv[i];
        }
    }
    if (!port_arg || parse_port(port_arg, &port) < 0) return usage(argv[0]);
    if (threads == 0) {                         /* one per core */
#ifdef _WIN32
        const char *np = getenv("NUMBER_OF_PROCESSORS");
        long c = np ? atol(np) : 1;
#else
        long c = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        threads = c < 1 ? 1 : c > MAX_THREADS ? MAX_THREADS : c;
    }
    nshards = (int)threads;
    raise_fd_limit();
    if (nshards == 1) {
        shards = &one;
        rc = async_runtime_init(&rt, NULL);
    } else {
        async_group_desc d;
        memset(&d, 0, sizeof d);
        d.threads = nshards;
        shards = (shard *)calloc((size_t)nshards, sizeof *shards);
        rc = shards ? async_group_init(&group, &d) : ASYNC_ENOMEM;
    }
    if (rc < 0) {
        fprintf(stderr, "echo: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if ((rc = async_addr_parse(&a, text)) < 0) {
        fprintf(stderr, "echo: %s: %s\n", text, async_strerror(rc));
        return 1;
    }
    /* every shard listens (the first on PORT, the others on the port it got) and is
       subscribed to the signals before anyone learns the port */
    for (i = 0; i < nshards; i++) {
        rc = shard_init(&shards[i], nshards == 1 ? &rt : async_group_runtime(&group, i),
                        i, i == 0 ? &a : &bound);
        if (rc == 0 && i == 0 && (rc = async_sock_local_addr(&shards[0].acc.lis, &bound)) < 0)
            fprintf(stderr, "echo: listen on %s: %s\n", text, async_strerror(rc));
        if (rc < 0) break;
    }
    /* with --threads, the threads first: failing to start them is a failure at the
       startup, said before the port is (runtime 0's thread runs the group's main, and
       this one waits for them all) */
    if (rc == 0 && nshards > 1 &&
        ((rc = async_group_start(&group)) < 0 ||
         (rc = async_group_spawn(&group, 0, &gm.h, &gm.task, group_run, "main")) < 0))
        fprintf(stderr, "echo: async_group_start: %s\n", async_strerror(rc));
    if (rc == 0) {
        async_addr_format(&bound, text, sizeof text);
        printf("listening on %s\n", text);
        fflush(stdout);
        if (nshards == 1) {
            one.main.sh = &one;
            rc = async_runtime_block_on(&rt, &one.main.task, shard_run, "main");
        } else {
            async_group_join(&group);
            rc = gm.result;
        }
    }
    if (nshards > 1) async_group_stop(&group);  /* (main did, unless it never ran) */
    for (i = 0; i < nshards; i++) shard_fini(&shards[i]);
    if (nshards == 1) {
        async_runtime_destroy(&rt);
    } else {
        async_group_destroy(&group);
        free(shards);
    }
    return rc == 0 ? 0 : 1;
}
