/* chat.c - a line-based chat server: every line a client sends goes to every other
   connected client, as "guestN: text".

   Usage: chat [--idle-timeout SECONDS] [--max-conns N] PORT
     PORT 0: the kernel picks; the first line on stdout says which:
       "listening on 127.0.0.1:NNNN"
     --idle-timeout SECONDS (default 600; fractions allowed; 0: never): a client that
       sends no line for that long is told and closed; an empty line keeps it in (it
       is not broadcast), so a client that wants to lurk sends one now and then
     --max-conns N (default 1024): clients at once; past it a new client gets
       "*** server full" and is closed at once, so the server never stops answering
   A bad option or value: the usage on stderr, exit 2.

   What a client sees (server lines begin with "*** "):
       *** welcome guest3, 3 online          on connecting, to itself
       *** guest3 joined                     to the others
       guest3: hello                         a line from guest3, to the others only
       *** guest3 left                       to the others
       *** 12 line(s) dropped: you read too slowly
       *** error: line longer than 4096 bytes, closing
       *** idle for 600 s, closing
       *** server full (1024 clients), try again later     instead of the welcome
       *** server shutting down

   Each client has two tasks. Its reader (a member of the server's JoinSet) reads lines
   with async_bufreader_read_line and broadcasts them. Its writer (in a JoinSet of the
   client's own, so that destroying that set in the reader's cleanup stops the writer
   before the frame they share is freed) takes messages from the client's outgoing
   queue, an async_mpsc of 64 messages, and writes them through an async_bufwriter,
   flushing when the queue is empty: one system call for a burst of lines.

   A slow client never stalls the others: the broadcast is synchronous and only ever
   calls async_mpsc_try_send. Policy: when a client's queue is full, the message is
   DROPPED for that client alone and counted; its writer tells it how many it lost
   before the next line it does get. (Disconnecting it would be the other choice;
   dropping keeps a briefly slow client in the room.) Messages are allocated once
   and shared by reference count, so a broadcast to n clients copies nothing.
   After each line it broadcasts, a reader yields, so the writers of fast readers
   drain their queue as fast as one sender can fill it: only a client that does not
   keep up loses lines.

   The writer ends only when a write fails: the reader then closes the client too (the
   writer's end is a branch of the reader's select), rather than keep a client that
   would hear nothing more in the room. A client whose queue cannot be allocated is
   closed at once.

   A line longer than 4096 bytes gets an error line, then the client is closed. Any
   close is a half-close first: the writer drains the queue (1 s bound; a client that
   does not read loses the rest), the write side is shut down, and what the client
   still sends is read and dropped until its EOF (0.5 s bound), so that closing with
   unread data does not reset the connection and lose our last lines on the way.

   The acceptor, the EMFILE backoff and the connection cap are echo.c's (the same
   acceptor in echo, chat, proxy and httpd), but a client refused at the cap is told
   first: the line is written straight to the new
   socket (its buffer is empty, so it takes it at once), then our side is shut and
   closed; no task, no buffer, as Redis's "max number of clients reached". The idle
   timeout is a third branch of the reader's select, a sleep until one idle period
   after the last line.
   Shutdown (SIGINT, SIGTERM): the acceptor stops; every reader sees the root token,
   queues "*** server shutting down" and closes as above, within the 2 s grace period;
   whatever is left then is aborted; exit 0. */
#ifdef __linux__
#define ASYNC_USE_EPOLL
#endif
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

enum { MAX_LINE = 4096, QUEUE_LINES = 64, MAX_CLIENTS = 1024, IDLE_S = 600, GRACE_MS = 2000,
       BACKOFF_MS = 50, FLUSH_MS = 1000, LINGER_MS = 500 };

static async_runtime rt;
static async_joinset readers;
static async_cancel_token root;
static async_shutdown sd;
static long max_clients = MAX_CLIENTS;          /* --max-conns */
static async_time idle = ASYNC_SEC(IDLE_S);     /* --idle-timeout (0: ASYNC_TIME_NEVER) */

/* ---- messages: allocated once, shared by every queue they are in --------------------- */
typedef struct {
    int refs;
    size_t len;
    char text[];
} msg;

static msg *msg_new(const char *fmt, ...) {
    va_list ap;
    msg *m;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(m = (msg *)malloc(sizeof *m + (size_t)n + 1))) return NULL;
    va_start(ap, fmt);
    vsnprintf(m->text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->refs = 1;
    m->len = (size_t)n;
    return m;
}

static void msg_unref(msg *m) {
    if (m && --m->refs == 0) free(m);
}

/* ---- clients ------------------------------------------------------------------------ */
typedef struct client client;

typedef struct {
    async_task task;
    client *c;
    async_waiter w;
    async_bufwriter bw;
    msg *m;
    unsigned long told;                         /* drops already reported */
    int rc;
    char note[96];
    char buf[8192];
} writer_frame;

struct client {
    async_task task;                            /* the reader */
    client *prev, *next;                        /* in the room while joined */
    async_io io;
    async_addr peer;
    async_waiter w, wr_line, wr_done;
    async_select sel;
    async_timer timer;
    async_time deadline;
    async_bufreader rd;
    async_mpsc outq;                            /* msg * items */
    async_joinset own;                          /* the writer */
    writer_frame wr;
    async_task *done;
    unsigned long dropped;                      /* lines this client did not get */
    int started, joined, eof, rc[4], result;
    char name[32];
    char line[MAX_LINE + 2];                    /* the text, '\n', NUL */
    char rbuf[8192];
};

static client *room;                            /* every joined client */
static int online, guests;

/* Never waits: a full queue drops the message for this client alone. */
static void deliver(client *c, msg *m) {
    m->refs++;
    if (async_mpsc_try_send(&c->outq, &m) < 0) {
        m->refs--;
        c->dropped++;
    }
}

/* To everyone but `from` (NULL: everyone); takes the caller's reference. */
static void broadcast(client *from, msg *m) {
    client *c;
    if (!m) return;                             /* out of memory: nobody gets it */
    for (c = room; c; c = c->next)
        if (c != from) deliver(c, m);
    msg_unref(m);
}

static void tell(client *c, msg *m) {
    if (!m) return;
    deliver(c, m);
    msg_unref(m);
}

static void room_leave(client *c) {
    if (!c->joined) return;
    if (c->prev) c->prev->next = c->next;
    else room = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->joined = 0;
    online--;
    /* at shutdown everyone leaves at once: nobody needs to hear of it */
    if (!async_cancel_token_is_cancelled(&root))
        broadcast(c, msg_new("*** %s left\n", c->name));
}

static int writer_run(async_task *t) {
    writer_frame *f = (writer_frame *)t;
    client *c = f->c;
    ASYNC_BEGIN(t);
    async_bufwriter_init(&f->bw, &c->io, f->buf, sizeof f->buf);
    for (;;) {
        if (!f->m && async_mpsc_len(&c->outq) == 0) {
            /* the queue is empty: what is buffered goes out now */
            ASYNC_AWAIT(f->rc, async_bufwriter_flush(t, &f->bw, &f->w));
            if (f->rc < 0) break;
        }
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &c->outq, &f->w, &f->m));
        if (f->rc < 0) break;                   /* ECLOSED: the reader is done, all sent */
        if (c->dropped != f->told) {
            snprintf(f->note, sizeof f->note,
                     "*** %lu line(s) dropped: you read too slowly\n",
                     c->dropped - f->told);
            f->told = c->dropped;
            ASYNC_AWAIT(f->rc, async_bufwriter_write(t, &f->bw, &f->w, f->note,
                                                     strlen(f->note)));
            if (f->rc < 0) break;
        }
        ASYNC_AWAIT(f->rc, async_bufwriter_write(t, &f->bw, &f->w, f->m->text, f->m->len));
        msg_unref(f->m);
        f->m = NULL;
        if (f->rc < 0) break;                   /* the client is gone */
    }
    if (f->rc == ASYNC_ECLOSED)
        ASYNC_AWAIT(f->rc, async_bufwriter_flush(t, &f->bw, &f->w));
    ASYNC_CLEANUP();
    msg_unref(f->m);
    f->m = NULL;
    ASYNC_END(0);
}

static int reader_run(async_task *t) {
    client *f = (client *)t;
    char *end;
    ASYNC_BEGIN(t);
    if (async_mpsc_init(&f->outq, sizeof(msg *), QUEUE_LINES, NULL) < 0) {
        /* no queue, no writer: nothing could ever reach this client */
        fprintf(stderr, "chat: out of memory for a client's queue, closing it\n");
        ASYNC_RETURN(0);
    }
    snprintf(f->name, sizeof f->name, "guest%d", ++guests);
    async_joinset_init(&f->own, async_task_runtime(t));
    async_bufreader_init(&f->rd, &f->io, f->rbuf, sizeof f->rbuf);
    f->wr.c = f;
    async_joinset_spawn(&f->own, &f->wr.task, writer_run, "writer");
    f->started = 1;

    online++;
    tell(f, msg_new("*** welcome %s, %d online\n", f->name, online));
    broadcast(f, msg_new("*** %s joined\n", f->name));
    f->next = room;                             /* join the room */
    if (room) room->prev = f;
    room = f;
    f->joined = 1;

    for (;;) {
        /* a line, even an empty one, within the idle timeout */
        f->deadline = idle == ASYNC_TIME_NEVER ? idle
                                               : async_time_now(async_task_runtime(t)) + idle;
        /* read_line is not cancel safe, but it loses only when we stop reading */
        ASYNC_SELECT_BEGIN(&f->sel, 4, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &root, &f->w));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1],
                                async_bufreader_read_line(t, &f->rd, &f->wr_line, f->line,
                                                          sizeof f->line));
            ASYNC_SELECT_BRANCH(&f->sel, 2, idle != ASYNC_TIME_NEVER, f->rc[2],
                                async_time_sleep_until(t, &f->timer, f->deadline));
            /* the writer ends only when a write failed: the client hears nothing more */
            ASYNC_SELECT_BRANCH(&f->sel, 3, 1, f->rc[3],
                                async_joinset_join_next(t, &f->own, &f->wr_done, &f->done,
                                                        &f->result));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) {
            tell(f, msg_new("*** server shutting down\n"));
            break;
        }
        if (f->sel.winner == 3) break;          /* the connection failed writing */
        if (f->sel.winner == 2) {
            tell(f, msg_new("*** idle for %g s, closing\n", (double)idle / 1e9));
            break;
        }
        if (f->rc[1] == ASYNC_ELIMIT) {
            tell(f, msg_new("*** error: line longer than %d bytes, closing\n", MAX_LINE));
            break;
        }
        if (f->rc[1] <= 0) {                    /* EOF, or the connection failed */
            f->eof = 1;
            break;
        }
        end = f->line + f->rc[1];
        while (end > f->line && (end[-1] == '\n' || end[-1] == '\r')) *--end = 0;
        if (end == f->line) continue;           /* an empty line says nothing */
        broadcast(f, msg_new("%s: %s\n", f->name, f->line));
        ASYNC_YIELD();                          /* let the writers drain the queues */
    }

    /* close: leave, let the writer send what is queued, half-close, drain the peer */
    room_leave(f);
    async_mpsc_sender_release(&f->outq);        /* the writer ends once it is empty */
    ASYNC_AWAIT_TIMEOUT(f->rc[0], &f->timer, ASYNC_MS(FLUSH_MS),
                        async_joinset_join_next(t, &f->own, &f->w, &f->done, &f->result));
    async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    f->deadline = async_time_now(async_task_runtime(t)) + ASYNC_MS(LINGER_MS);
    while (!f->eof) {
        ASYNC_AWAIT_TIMEOUT_UNTIL(f->rc[0], &f->timer, f->deadline,
                                  async_io_read(t, &f->io, &f->w, f->rbuf, sizeof f->rbuf));
        if (f->rc[0] <= 0) break;
    }
    ASYNC_CLEANUP();
    room_leave(f);
    if (f->started) {
        msg *m;
        async_joinset_destroy(&f->own);         /* the writer, stopped now if it runs */
        while (async_mpsc_try_recv(&f->outq, &m) == 0) msg_unref(m);
        async_mpsc_destroy(&f->outq);
        f->started = 0;
    }
    async_io_close(&f->io);
    ASYNC_END(0);
}

/* ---- the acceptor (the same in echo, chat, proxy and httpd) -------------------------- */
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

/* The clients at once are at the cap. */
static int at_cap(void) {
    return async_joinset_len(&readers) >= max_clients;
}

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0                          /* SIGPIPE is ignored (async.h) anyway */
#endif

/* At the cap: the line, best effort (a new socket's buffer takes it at once), our
   side shut, what the client sent already read (a close with unread input would send
   a reset), and the close; as Redis's "max number of clients reached". No task and
   no buffer: refusing costs nothing, however many come. */
static void refuse(async_io *io) {
    char line[96], sink[512];
    int fd = async_io_fd(io), n, i;
    n = snprintf(line, sizeof line, "*** server full (%ld clients), try again later\n",
                 max_clients);
    (void)send(fd, line, (size_t)n, MSG_NOSIGNAL);
    (void)shutdown(fd, SHUT_WR);
    for (i = 0; i < 8 && recv(fd, sink, sizeof sink, 0) > 0; i++) continue;
    async_io_close(io);
}

/* A reader task for the client accepted into *sock, which moves into its frame: 0,
   or an error and sock is closed (ASYNC_ENOMEM: no task; a failed move, which
   epoll_ctl can make, leaves the task no socket: it ends at once). Nothing runs before
   we return: the new frame is ours to fill. */
static int conn_start(async_io *sock, const async_addr *peer) {
    async_task *h;
    client *c;
    int rc;
    if (async_joinset_spawn_alloc(&readers, reader_run, sizeof(client), "client", &h) < 0) {
        async_io_close(sock);
        return ASYNC_ENOMEM;
    }
    c = (client *)h;
    if ((rc = async_io_move(&c->io, sock)) < 0) {
        async_io_close(sock);
        return rc;
    }
    c->peer = *peer;
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
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&readers) > 0, f->rc[1],
                                async_joinset_join_next(t, &readers, &f->w[1], &f->done,
                                                        &f->result));
            /* always: at the cap a client is accepted and refused, not left waiting */
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, &f->peer));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a client was reaped */
        if (f->rc[2] == 0 && at_cap()) {
            refuse(&f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "chat: %ld clients, the cap: refusing new ones\n",
                        max_clients);
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
                fprintf(stderr, "chat: accept: %s, backing off\n", async_strerror(f->rc[2]));
        } else {
            fprintf(stderr, "chat: accept: %s\n", async_strerror(f->rc[2]));
        }
        ASYNC_AWAIT(f->rc[0], async_time_sleep(t, &f->timer, ASYNC_MS(BACKOFF_MS)));
    }
    ASYNC_CLEANUP();
    async_io_close(&f->sock);
    async_io_close(&f->lis);                    /* new clients are refused from now */
    ASYNC_END(0);
}

/* ---- main ---------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    acceptor_frame *acc;
    int rc;
} main_frame;

static int main_run(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &sd));
    fprintf(stderr, "chat: %s: shut down (%d client(s) aborted after the grace period)\n",
            sd.signo == SIGINT ? "SIGINT" : sd.signo == SIGTERM ? "SIGTERM" : "request",
            f->rc);
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
            "usage: %s [--idle-timeout SECONDS] [--max-conns N] PORT\n"
            "  PORT                    0: any free port\n"
            "  --idle-timeout SECONDS  close a client that sends no line (an empty one\n"
            "                          will do) for this long (default %d; fractions\n"
            "                          allowed; 0: never)\n"
            "  --max-conns N           clients at once; more are told the server is\n"
            "                          full and closed (default %d)\n",
            argv0, IDLE_S, MAX_CLIENTS);
    return 2;
}

int main(int argc, char **argv) {
    static acceptor_frame acc;
    static main_frame m;
    async_addr a, bound;
    struct rlimit rl;
    const char *port_arg = NULL, *v;
    char text[64];
    int i, port, rc;
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &idle) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_clients) < 0) return usage(argv[0]);
        } else if (argv[i][0] == '-' || port_arg) {
            return usage(argv[0]);              /* an unknown option, or a second PORT */
        } else {
            port_arg = argv[i];
        }
    }
    if (!port_arg || parse_port(port_arg, &port) < 0) return usage(argv[0]);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rc = async_runtime_init(&rt, NULL)) < 0) {
        fprintf(stderr, "chat: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if ((rc = async_addr_parse(&a, text)) < 0 ||
        (rc = async_sock_listen(&rt, &acc.lis, &a, NULL)) < 0 ||
        (rc = async_sock_local_addr(&acc.lis, &bound)) < 0) {
        fprintf(stderr, "chat: listen on %s: %s\n", text, async_strerror(rc));
        return 1;
    }
    async_cancel_token_init(&root);
    async_joinset_init(&readers, &rt);
    if ((rc = async_shutdown_init(&sd, &rt, &root, &readers, NULL,
                                  ASYNC_MS(GRACE_MS))) < 0) {
        fprintf(stderr, "chat: signals: %s\n", async_strerror(rc));
        return 1;
    }
    async_addr_format(&bound, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);

    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    m.acc = &acc;
    rc = async_runtime_block_on(&rt, &m.task, main_run, "main");
    async_joinset_destroy(&readers);
    async_shutdown_destroy(&sd);
    async_cancel_token_destroy(&root);
    async_runtime_destroy(&rt);
    return rc == 0 ? 0 : 1;
}
