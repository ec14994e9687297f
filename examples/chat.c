/* chat.c - a line-based chat server: every line a client sends goes to every other
   connected client, as "guestN: text".

   Usage: chat [--idle-timeout SECONDS] [--max-conns N] [--threads N] PORT
     PORT 0: the kernel picks; the first line on stdout says which:
       "listening on 127.0.0.1:NNNN"
     --idle-timeout SECONDS (default 600; fractions allowed; 0: never): a client that
       sends no line for that long is told and closed; an empty line keeps it in (it
       is not broadcast), so a client that wants to lurk sends one now and then
     --max-conns N (default 1024): clients at once; past it a new client gets
       "*** server full" and is closed at once, so the server never stops answering;
       the cap is global, over every thread (a shared atomic count)
     --threads N (default 1; 0: one per core): N shards, each a runtime on a thread of
       its own (an async_group) with its own listener on the same port (SO_REUSEPORT:
       the kernel spreads the clients), its own room, acceptor and shutdown. A line
       reaches the clients of every shard: see "Shards" below. With 1, no group at
       all: one runtime on the main thread, as before.
   A bad option or value: the usage on stderr, exit 2.

   What a client sees (server lines begin with "*** "):
       *** welcome guest3, 3 online          on connecting, to itself (with --threads:
                                             "..., 3 online (shard 1 of 2)")
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
   whatever is left then is aborted; exit 0.

   Shards (--threads N > 1). Each shard is the server above on its own runtime and
   thread, with its own room: a line is delivered to the sender's room at once, as
   above, and also sent on one cross-runtime broadcast channel (async_broadcast_init_
   shared, 256 lines) with the sender's shard. Each shard has a relay task subscribed
   to it that hands every line from another shard to its own room through the same
   deliver(): per-client queues stay bounded, and a slow client still loses lines
   alone. The channel carries the text (a message is per shard, its reference count
   is not shared between threads). A relay that falls more than 256 lines behind
   (ASYNC_ELAGGED: its runtime was starved) counts what it lost as dropped for every
   client of its room, who are told as above. Names ("guestN"), the online count and
   the cap are global (atomic counts). Each shard has its own async_shutdown
   subscribed to the signals; the main task on runtime 0 waits for every shard's end
   (a join handle each), then the group stops and its threads are joined. */
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
#ifdef _WIN32                                   /* send, recv: Winsock 2 */
#include <winsock2.h>
#include <windows.h>
#else
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

enum { MAX_LINE = 4096, QUEUE_LINES = 64, MAX_CLIENTS = 1024, IDLE_S = 600, GRACE_MS = 2000,
       BACKOFF_MS = 50, FLUSH_MS = 1000, LINGER_MS = 500, MAX_THREADS = 1024,
       WIRE_LINES = 256 };

static long max_clients = MAX_CLIENTS;          /* --max-conns */
static async_time idle = ASYNC_SEC(IDLE_S);     /* --idle-timeout (0: ASYNC_TIME_NEVER) */
static int nshards = 1;                         /* --threads */

/* Shared by every shard's thread (atomic): clients at once, online, names given. */
static long clients_now;
static int online, guests;

/* A place under the cap for a new client: 1, or 0 at the cap. */
static int client_claim(void) {
    if (__atomic_add_fetch(&clients_now, 1, __ATOMIC_RELAXED) <= max_clients) return 1;
    __atomic_sub_fetch(&clients_now, 1, __ATOMIC_RELAXED);
    return 0;
}

static void client_release(void) {
    __atomic_sub_fetch(&clients_now, 1, __ATOMIC_RELAXED);
}

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
typedef struct shard shard;

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
    shard *sh;                                  /* the shard it is on */
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
    int started, joined, counted, eof, rc[4], result;
    char name[32];
    char line[MAX_LINE + 2];                    /* the text, '\n', NUL */
    char rbuf[8192];
};

/* ---- the acceptor's frame, a shard ------------------------------------------------- */
typedef struct {
    async_task task;
    shard *sh;                                  /* the shard it accepts for */
    async_io lis, sock;                         /* sock: accepted, not handed over yet */
    async_addr peer;
    async_select sel;
    async_waiter w[3];
    async_timer timer;
    async_task *done;
    int rc[3], result, backoff_logged, full_logged;
} acceptor_frame;

/* A line between shards: the text, and the shard whose room had it already. */
typedef struct {
    int shard, len;
    char text[MAX_LINE + 64];
} wire_line;

typedef struct {
    async_task task;
    shard *sh;
    async_broadcast_rx rx;                      /* subscribed before the threads start */
    async_waiter w;
    wire_line line;
    int rc;
} relay_frame;

typedef struct {
    async_task task;
    shard *sh;
    int rc;
} shard_frame;

/* One runtime (on a thread of its own with --threads), its listener and acceptor, its
   room, its shutdown, and with --threads its relay. */
struct shard {
    async_runtime *rt;
    async_joinset readers;
    async_cancel_token root;
    async_shutdown sd;
    client *room;                               /* every joined client of this shard */
    acceptor_frame acc;
    relay_frame relay;
    shard_frame main;                           /* its acceptor, then its shutdown */
    async_join_handle h;                        /* main's, with --threads */
    long accepted;
    int index, inited;
};

static async_broadcast wire;                    /* between shards, with --threads */

/* Never waits: a full queue drops the message for this client alone. */
static void deliver(client *c, msg *m) {
    m->refs++;
    if (async_mpsc_try_send(&c->outq, &m) < 0) {
        m->refs--;
        c->dropped++;
    }
}

/* To everyone in sh's room but `from` (NULL: everyone); takes the caller's reference. */
static void room_send(shard *sh, client *from, msg *m) {
    client *c;
    if (!m) return;                             /* out of memory: nobody gets it */
    for (c = sh->room; c; c = c->next)
        if (c != from) deliver(c, m);
    msg_unref(m);
}

/* To everyone but `from`, on every shard; takes the caller's reference. The other
   shards get a copy of the text through the wire (never waits: a relay that falls
   behind loses the oldest lines, and says so). */
static void broadcast(client *from, msg *m) {
    if (m && nshards > 1) {
        wire_line l;                            /* copied into the channel */
        l.shard = from->sh->index;
        l.len = m->len < sizeof l.text ? (int)m->len : (int)sizeof l.text;
        memcpy(l.text, m->text, (size_t)l.len);
        (void)async_broadcast_send(&wire, &l);
    }
    room_send(from->sh, from, m);
}

static void tell_one(client *c, msg *m) {
    if (!m) return;
    deliver(c, m);
    msg_unref(m);
}

static void room_leave(client *c) {
    if (!c->joined) return;
    if (c->prev) c->prev->next = c->next;
    else c->sh->room = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->joined = 0;
    __atomic_sub_fetch(&online, 1, __ATOMIC_RELAXED);
    /* at shutdown everyone leaves at once: nobody needs to hear of it */
    if (!async_cancel_token_is_cancelled(&c->sh->root))
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
    char *end, tag[48] = "";
    int n;
    ASYNC_BEGIN(t);
    if (async_mpsc_init(&f->outq, sizeof(msg *), QUEUE_LINES, NULL) < 0) {
        /* no queue, no writer: nothing could ever reach this client */
        fprintf(stderr, "chat: out of memory for a client's queue, closing it\n");
        ASYNC_RETURN(0);
    }
    snprintf(f->name, sizeof f->name, "guest%d", __atomic_add_fetch(&guests, 1,
                                                                     __ATOMIC_RELAXED));
    async_joinset_init(&f->own, async_task_runtime(t));
    async_bufreader_init(&f->rd, &f->io, f->rbuf, sizeof f->rbuf);
    f->wr.c = f;
    async_joinset_spawn(&f->own, &f->wr.task, writer_run, "writer");
    f->started = 1;

    n = __atomic_add_fetch(&online, 1, __ATOMIC_RELAXED);
    if (nshards > 1) snprintf(tag, sizeof tag, " (shard %d of %d)", f->sh->index, nshards);
    tell_one(f, msg_new("*** welcome %s, %d online%s\n", f->name, n, tag));
    broadcast(f, msg_new("*** %s joined\n", f->name));
    f->next = f->sh->room;                      /* join the room */
    if (f->sh->room) f->sh->room->prev = f;
    f->sh->room = f;
    f->joined = 1;

    for (;;) {
        /* a line, even an empty one, within the idle timeout */
        f->deadline = idle == ASYNC_TIME_NEVER ? idle
                                               : async_time_now(async_task_runtime(t)) + idle;
        /* read_line is not cancel safe, but it loses only when we stop reading */
        ASYNC_SELECT_BEGIN(&f->sel, 4, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &f->sh->root, &f->w));
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
            tell_one(f, msg_new("*** server shutting down\n"));
            break;
        }
        if (f->sel.winner == 3) break;          /* the connection failed writing */
        if (f->sel.winner == 2) {
            tell_one(f, msg_new("*** idle for %g s, closing\n", (double)idle / 1e9));
            break;
        }
        if (f->rc[1] == ASYNC_ELIMIT) {
            tell_one(f, msg_new("*** error: line longer than %d bytes, closing\n", MAX_LINE));
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
    if (f->counted) client_release();
    f->counted = 0;
    ASYNC_END(0);
}

/* With --threads: the lines of the other shards, to this shard's room. */
static int relay_run(async_task *t) {
    relay_frame *f = (relay_frame *)t;
    client *c;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_broadcast_recv(t, &f->rx, &f->w, &f->line));
        if (f->rc == ASYNC_ELAGGED) {           /* lost for everyone here: they are told */
            for (c = f->sh->room; c; c = c->next) c->dropped += (unsigned long)f->rx.lagged;
            continue;
        }
        if (f->rc < 0) break;
        if (f->line.shard == f->sh->index) continue;        /* ours: delivered already */
        room_send(f->sh, NULL, msg_new("%.*s", f->line.len, f->line.text));
    }
    ASYNC_END(0);
}

/* ---- the acceptor (the same in echo, chat, proxy and httpd) -------------------------- */

/* At the cap: the line, best effort (a new socket's buffer takes it at once), our
   side shut, what the client sent already read (a close with unread input would send
   a reset), and the close; as Redis's "max number of clients reached". No task and
   no buffer: refusing costs nothing, however many come. */
static void refuse(async_io *io) {
    char line[96], sink[512];
    int fd = async_io_fd(io), n, i;
    n = snprintf(line, sizeof line, "*** server full (%ld clients), try again later\n",
                 max_clients);
    (void)send(fd, line, n, 0);                 /* no SIGPIPE: async.h ignores it */
    (void)async_io_shutdown(io, ASYNC_IO_WRITE);
    for (i = 0; i < 8 && recv(fd, sink, sizeof sink, 0) > 0; i++) continue;
    async_io_close(io);
}

/* A reader task for the client accepted into *sock, which moves into its frame: 0,
   or an error and sock is closed (ASYNC_ENOMEM: no task; a failed move, which
   epoll_ctl can make, leaves the task no socket: it ends at once). Nothing runs before
   we return: the new frame is ours to fill. The place under the cap the caller
   claimed goes with the task (its cleanup gives it back), or back at once. */
static int conn_start(shard *sh, async_io *sock, const async_addr *peer) {
    async_task *h;
    client *c;
    int rc;
    if (async_joinset_spawn_alloc(&sh->readers, reader_run, sizeof(client), "client",
                                  &h) < 0) {
        async_io_close(sock);
        client_release();
        return ASYNC_ENOMEM;
    }
    c = (client *)h;
    c->sh = sh;
    c->counted = 1;
    sh->accepted++;
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
                                async_cancel_token_wait(t, &f->sh->root, &f->w[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&f->sh->readers) > 0, f->rc[1],
                                async_joinset_join_next(t, &f->sh->readers, &f->w[1], &f->done,
                                                        &f->result));
            /* always: at the cap a client is accepted and refused, not left waiting */
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, &f->peer));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a client was reaped */
        if (f->rc[2] == 0 && !client_claim()) {
            refuse(&f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "chat: %ld clients, the cap: refusing new ones\n",
                        max_clients);
            continue;
        }
        if (f->rc[2] == 0) f->rc[2] = conn_start(f->sh, &f->sock, &f->peer);
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

/* ---- a shard's main, and the group's ------------------------------------------------ */
/* The shard's acceptor (and relay), then its shutdown: stop accepting, drain, abort
   the rest. */
static int shard_run(async_task *t) {
    shard_frame *f = (shard_frame *)t;
    shard *sh = f->sh;
    char tag[64] = "";
    ASYNC_BEGIN(t);
    sh->acc.sh = sh;
    async_task_spawn(async_task_runtime(t), &sh->acc.task, acceptor_run, "acceptor");
    if (nshards > 1) {
        sh->relay.sh = sh;
        async_task_spawn(async_task_runtime(t), &sh->relay.task, relay_run, "relay");
    }
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &sh->sd));
    sh = f->sh;
    if (nshards > 1)
        snprintf(tag, sizeof tag, " (shard %d of %d, %ld accepted)", sh->index, nshards,
                 sh->accepted);
    fprintf(stderr, "chat: %s: shut down (%d client(s) aborted after the grace period)%s\n",
            sh->sd.signo == SIGINT ? "SIGINT" : sh->sd.signo == SIGTERM ? "SIGTERM"
            : "request", f->rc, tag);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->sh->acc.task));
    if (nshards > 1) {
        async_task_abort(&f->sh->relay.task);
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->sh->relay.task));
    }
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
            fprintf(stderr, "chat: async_group_spawn: %s\n", async_strerror(f->rc));
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
            "  --idle-timeout SECONDS  close a client that sends no line (an empty one\n"
            "                          will do) for this long (default %d; fractions\n"
            "                          allowed; 0: never)\n"
            "  --max-conns N           clients at once, over every thread; more are told\n"
            "                          the server is full and closed (default %d)\n"
            "  --threads N             N runtimes on N threads, each listening on PORT\n"
            "                          (SO_REUSEPORT), one room; 0: one per core\n"
            "                          (default 1)\n",
            argv0, IDLE_S, MAX_CLIENTS);
    return 2;
}

/* A shard on rt: listening on *a (reuseport with --threads), its shutdown subscribed
   to the signals, its relay subscribed to the wire: 0, or the error said on stderr. */
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
        fprintf(stderr, "chat: listen on %s: %s\n", text, async_strerror(rc));
        return rc;
    }
    async_cancel_token_init(&sh->root);
    async_joinset_init(&sh->readers, rt);
    sh->inited = 1;
    if ((rc = async_shutdown_init(&sh->sd, rt, &sh->root, &sh->readers, NULL,
                                  ASYNC_MS(GRACE_MS))) < 0) {
        fprintf(stderr, "chat: signals: %s\n", async_strerror(rc));
        return rc;
    }
    sh->inited = 2;
    if (nshards > 1 && (rc = async_broadcast_subscribe(&wire, &sh->relay.rx)) < 0) {
        fprintf(stderr, "chat: async_broadcast_subscribe: %s\n", async_strerror(rc));
        return rc;
    }
    sh->inited = 3;
    return 0;
}

/* What shard_init made (the tasks are gone: their runtime ended or is destroyed). */
static void shard_fini(shard *sh) {
    async_io_close(&sh->acc.lis);
    if (sh->inited >= 3 && nshards > 1) async_broadcast_unsubscribe(&sh->relay.rx);
    if (sh->inited >= 1) async_joinset_destroy(&sh->readers);
    if (sh->inited >= 2) async_shutdown_destroy(&sh->sd);
    if (sh->inited >= 1) async_cancel_token_destroy(&sh->root);
    sh->inited = 0;
}

int main(int argc, char **argv) {
    static async_runtime rt;                    /* --threads 1: the only runtime */
    static shard one;
    static group_frame gm;
    async_addr a, bound;
#ifndef _WIN32
    struct rlimit rl;
#endif
    const char *port_arg = NULL, *v;
    char text[64];
    long threads = 1;
    int i, port, rc, wired = 0;
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &idle) < 0) return usage(argv[0]);
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_clients) < 0) return usage(argv[0]);
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
#ifndef _WIN32                                  /* (Windows: no such limit) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
#endif
    if (nshards == 1) {
        shards = &one;
        rc = async_runtime_init(&rt, NULL);
    } else {
        async_group_desc d;
        memset(&d, 0, sizeof d);
        d.threads = nshards;
        shards = (shard *)calloc((size_t)nshards, sizeof *shards);
        rc = shards ? async_group_init(&group, &d) : ASYNC_ENOMEM;
        if (rc == 0 && (rc = async_broadcast_init_shared(&wire, sizeof(wire_line), WIRE_LINES,
                                                         NULL)) < 0)
            async_group_destroy(&group);
        wired = rc == 0;
    }
    if (rc < 0) {
        fprintf(stderr, "chat: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if ((rc = async_addr_parse(&a, text)) < 0)
        fprintf(stderr, "chat: %s: %s\n", text, async_strerror(rc));
    /* every shard listens (the first on PORT, the others on the port it got) and is
       subscribed to the signals before anyone learns the port */
    for (i = 0; rc == 0 && i < nshards; i++) {
        rc = shard_init(&shards[i], nshards == 1 ? &rt : async_group_runtime(&group, i),
                        i, i == 0 ? &a : &bound);
        if (rc == 0 && i == 0 && (rc = async_sock_local_addr(&shards[0].acc.lis, &bound)) < 0)
            fprintf(stderr, "chat: listen on %s: %s\n", text, async_strerror(rc));
    }
    /* with --threads, the threads first: failing to start them is a failure at the
       startup, said before the port is (runtime 0's thread runs the group's main, and
       this one waits for them all) */
    if (rc == 0 && nshards > 1 &&
        ((rc = async_group_start(&group)) < 0 ||
         (rc = async_group_spawn(&group, 0, &gm.h, &gm.task, group_run, "main")) < 0))
        fprintf(stderr, "chat: async_group_start: %s\n", async_strerror(rc));
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
        if (wired) async_broadcast_destroy(&wire);
        free(shards);
    }
    return rc == 0 ? 0 : 1;
}
