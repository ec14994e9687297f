/* bench_echo.c - a TCP echo server on loopback, 64-byte messages, in three versions
   measured in the same run:
     async.h with the poll(2) backend   (this file as built by make: build/bench/bench_echo)
     async.h with the epoll backend     (the same file with -DASYNC_USE_EPOLL:
                                         build/bench/bench_echo_epoll, run as a server)
     a hand-written epoll loop          (plain C, level-triggered, one read and one
                                         write per message, as a C programmer writes it)
   Configurations: 1, 100 and 1000 busy connections, and 10 busy + 10,000 idle ones.
   A busy connection sends 64 bytes and waits for their echo before it sends again;
   an idle one is opened, checked with one echoed byte, and then left alone.

   Each server runs in a process of its own, pinned to one CPU; the load generator
   (plain C, epoll) runs in another process, pinned to another CPU. The figure that
   counts is the server's CPU time (utime + stime, read from outside through the
   process's CPU clock, which /proc/PID/stat shows in clock ticks) per round trip: the
   machine is shared and throughput moves with what else runs, CPU per operation much
   less (see ../shared/reference/toolchains.md). Round trips per second are shown beside
   it. For each configuration the three servers and their load generators are started
   once, warmed up, then measured in turn: 9 rounds of 0.3 s each, the order rotating
   every round; the table shows medians, and hand/ours is the median over the rounds of
   the ratio within a round (the servers ran within a second of each other).

   Usage: bench_echo                     the table (what make bench runs)
          bench_echo --rounds N --ms M   the same, N rounds of M ms per measurement
          bench_echo --serve async|hand PORT   one server in the foreground (for strace)
          bench_echo --load PORT BUSY IDLE MS  one load against it; prints round trips
          bench_echo --churn PORT CONNS MS     CONNS clients each connecting, echoing
                                               one message, closing, again: connections
          bench_echo --connect PORT CONNS MS   the same with async.h's clients: their CPU
                                               per connection (ASYNC_BACKEND chooses)
   The async.h server in --serve is this binary's backend (bench_echo_epoll for epoll). */
#define _GNU_SOURCE
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#define MSG 64                          /* bytes per message */
#define IDLE 10000                      /* idle connections of the last configuration */
#define MAX_CONNS (IDLE + 1024)         /* server-side connection slots */
#define WARMUP_MS 200

static int rounds = 9, load_ms = 300;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the async.h server: one task accepting, one task per connection ------------- */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    int n, rc, slot;
    char buf[1024];
} conn_frame;

/* Frames in one preallocated array (calloc: pages are touched only when used); a
   finished connection gives its slot back. */
static conn_frame *conns;
static int *free_slots, nfree;

static int conn_run(async_task *t) {
    conn_frame *f = (conn_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_io_read(t, &f->io, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, f->buf, (size_t)f->n));
        if (f->rc < 0) break;
    }
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    free_slots[nfree++] = f->slot;
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    async_io lis;
    async_waiter w;
    async_timer timer;
    int rc, slot;
} acceptor_frame;

static int acceptor_run(async_task *t) {
    acceptor_frame *f = (acceptor_frame *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        if (!nfree) {                           /* every slot busy: try again later */
            ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
            continue;
        }
        f->slot = free_slots[--nfree];
        memset(&conns[f->slot], 0, sizeof conns[f->slot]);
        ASYNC_AWAIT(f->rc, async_sock_accept(t, &f->lis, &f->w, &conns[f->slot].io, NULL));
        if (f->rc < 0) {                        /* EMFILE...: the manual says sleep */
            free_slots[nfree++] = f->slot;
            ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
            continue;
        }
        conns[f->slot].slot = f->slot;
        async_sock_set_nodelay(&conns[f->slot].io, 1);
        async_task_spawn(async_task_runtime(t), &conns[f->slot].task, conn_run, "conn");
    }
    ASYNC_END(0);
}

/* Listens on 127.0.0.1:port (0: any), tells the port through port_fd (or stdout),
   serves until killed. */
static int serve_async(int port, int port_fd) {
    static async_runtime rt;
    static acceptor_frame acc;
    async_addr a, bound;
    char text[32];
    int i, rc;
    conns = (conn_frame *)calloc(MAX_CONNS, sizeof *conns);
    free_slots = (int *)malloc(MAX_CONNS * sizeof *free_slots);
    if (!conns || !free_slots) return 1;
    for (i = 0; i < MAX_CONNS; i++) free_slots[i] = MAX_CONNS - 1 - i;
    nfree = MAX_CONNS;
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if (async_runtime_init(&rt, NULL) < 0 || async_addr_parse(&a, text) < 0) return 1;
    if ((rc = async_sock_listen(&rt, &acc.lis, &a, NULL)) < 0 ||
        (rc = async_sock_local_addr(&acc.lis, &bound)) < 0) {
        fprintf(stderr, "bench_echo: async.h server: listen: %s\n", async_strerror(rc));
        return 1;
    }
    port = async_addr_port(&bound);
    if (port_fd >= 0) {
        if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port) return 1;
        close(port_fd);
    } else {
        printf("async.h (%s) echo server on 127.0.0.1:%d\n", async_runtime_io_backend(&rt), port);
        fflush(stdout);
    }
    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    async_runtime_run(&rt);
    return 0;
}

/* The hand-written servers' listener on 127.0.0.1:port (0: the kernel's choice), its
   port told through port_fd (the twin's pipe) or printed. */
static int hand_listen(int lfd, int port, int port_fd, const char *kind) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("bench_echo: hand-written server: listen");
        return -1;
    }
    port = ntohs(a.sin_port);
    if (port_fd >= 0) {
        if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port) return -1;
        close(port_fd);
    } else {
        printf("hand-written %s echo server on 127.0.0.1:%d\n", kind, port);
        fflush(stdout);
    }
    return 0;
}

/* ---- the hand-written server: level-triggered epoll, non-blocking sockets -------- */
typedef struct { char *pend; size_t len, off; } hand_conn;   /* a write left half done */

static int serve_hand(int port, int port_fd) {
    static char buf[16384];
    struct epoll_event ev, evs[256];
    hand_conn *hc;
    int lfd, ep, one = 1, maxfd = MAX_CONNS + 64;
    signal(SIGPIPE, SIG_IGN);
    hc = (hand_conn *)calloc((size_t)maxfd, sizeof *hc);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!hc || lfd < 0 || ep < 0) return 1;
    if (hand_listen(lfd, port, port_fd, "epoll") < 0) return 1;
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int i, n = epoll_wait(ep, evs, 256, -1);
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t r, w;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (c >= maxfd) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            if (hc[fd].pend) {                  /* EPOLLOUT: finish the write */
                w = write(fd, hc[fd].pend + hc[fd].off, hc[fd].len - hc[fd].off);
                if (w < 0 && errno == EAGAIN) continue;
                if (w < 0) goto drop;
                hc[fd].off += (size_t)w;
                if (hc[fd].off < hc[fd].len) continue;
                free(hc[fd].pend);
                hc[fd].pend = NULL;
                ev.events = EPOLLIN;
                ev.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                continue;
            }
            r = read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) goto drop;
            w = write(fd, buf, (size_t)r);
            if (w == r) continue;
            if (w < 0 && errno != EAGAIN) goto drop;
            if (w < 0) w = 0;                   /* keep the rest, wait for EPOLLOUT */
            hc[fd].len = (size_t)(r - w);
            hc[fd].off = 0;
            hc[fd].pend = (char *)malloc(hc[fd].len);
            if (!hc[fd].pend) goto drop;
            memcpy(hc[fd].pend, buf + w, hc[fd].len);
            ev.events = EPOLLOUT;
            ev.data.fd = fd;
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            continue;
        drop:
            free(hc[fd].pend);
            hc[fd].pend = NULL;
            close(fd);
        }
    }
    return 0;
}

/* ---- the hand-written io_uring server: the floor of the completion model -------- */
/* What an io_uring echo can cost at best, written as directly as liburing's examples
   (raw system calls, no liburing): one ring (SINGLE_ISSUER | DEFER_TASKRUN), a
   multishot accept, a multishot receive per connection into a ring of provided
   buffers, each message sent from the buffer it arrived in (no copy) and the buffer
   given back when the send completes; one io_uring_enter per turn submits the turn's
   sends and waits. A connection has one send in flight at a time (more wait in a FIFO
   of buffer ids): sends of one socket must not be reordered. */
#ifdef __NR_io_uring_setup
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

enum { UR_ENTRIES = 4096, UR_BUFS = 4096, UR_BUF = 2048, UR_Q = 8 };
enum { UD_ACCEPT = 1, UD_RECV = 2, UD_SEND = 3, UD_SHIFT = 60 };
typedef struct {
    uint16_t q[UR_Q];                   /* buffers waiting to be sent, FIFO */
    uint16_t qlen[UR_Q];
    uint8_t head, n, sending, dead;     /* a send in flight: q[head]; receive ended */
    uint16_t off;                       /* bytes of q[head] sent */
} ur_conn;
static struct {
    int fd;
    unsigned *sq_tail, *sq_head, sq_mask, tail, *cq_head, *cq_tail, cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned short br_tail;
    ur_conn *c;
} U;

static struct io_uring_sqe *ur_sqe(void) {
    struct io_uring_sqe *e;
    if (U.tail - __atomic_load_n(U.sq_head, __ATOMIC_ACQUIRE) >= UR_ENTRIES) {
        __atomic_store_n(U.sq_tail, U.tail, __ATOMIC_RELEASE);
        syscall(__NR_io_uring_enter, U.fd, U.tail - *U.sq_head, 0, 0, NULL, 0);
    }
    e = &U.sqes[U.tail++ & U.sq_mask];
    memset(e, 0, sizeof *e);
    return e;
}
static void ur_buf_back(unsigned bid) {
    struct io_uring_buf *b = &U.br->bufs[U.br_tail & (UR_BUFS - 1)];
    b->addr = (uint64_t)(uintptr_t)(U.bufs + (size_t)bid * UR_BUF);
    b->len = UR_BUF;
    b->bid = (uint16_t)bid;
    U.br_tail++;
    __atomic_store_n(&U.br->tail, U.br_tail, __ATOMIC_RELEASE);
}
static void ur_recv(int fd) {
    struct io_uring_sqe *e = ur_sqe();
    e->opcode = IORING_OP_RECV;
    e->fd = fd;
    e->ioprio = IORING_RECV_MULTISHOT;
    e->flags = IOSQE_BUFFER_SELECT;
    e->buf_group = 0;
    e->user_data = (uint64_t)UD_RECV << UD_SHIFT | (unsigned)fd;
}
static void ur_send(int fd) {
    ur_conn *c = &U.c[fd];
    unsigned bid = c->q[c->head];
    struct io_uring_sqe *e = ur_sqe();
    e->opcode = IORING_OP_SEND;
    e->fd = fd;
    e->addr = (uint64_t)(uintptr_t)(U.bufs + (size_t)bid * UR_BUF + c->off);
    e->len = (unsigned)(c->qlen[c->head] - c->off);
    e->msg_flags = MSG_NOSIGNAL;
    e->user_data = (uint64_t)UD_SEND << UD_SHIFT | (unsigned)fd;
    c->sending = 1;
}
static void ur_drop(int fd) {
    ur_conn *c = &U.c[fd];
    if (c->sending) {                   /* closed when the send completes */
        c->dead = 1;
        return;
    }
    while (c->n) {
        ur_buf_back(c->q[c->head]);
        c->head = (uint8_t)((c->head + 1) % UR_Q);
        c->n--;
    }
    memset(c, 0, sizeof *c);
    close(fd);
}

static int serve_uring(int port, int port_fd) {
    struct io_uring_params p;
    struct io_uring_buf_reg reg;
    char *sq;
    int lfd, one = 1, maxfd = MAX_CONNS + 64;
    unsigned i;
    signal(SIGPIPE, SIG_IGN);
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = UR_ENTRIES * 4;
    U.fd = (int)syscall(__NR_io_uring_setup, UR_ENTRIES, &p);
    U.c = (ur_conn *)calloc((size_t)maxfd, sizeof *U.c);
    if (U.fd < 0 || !U.c || !(p.features & IORING_FEAT_SINGLE_MMAP)) {
        perror("bench_echo: io_uring server: io_uring_setup");
        return 1;
    }
    sq = (char *)mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe) +
                      p.sq_off.array + p.sq_entries * sizeof(unsigned),
                      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, U.fd, 0);
    U.sqes = (struct io_uring_sqe *)mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                                         PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                                         U.fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || U.sqes == MAP_FAILED) return 1;
    U.sq_tail = (unsigned *)(void *)(sq + p.sq_off.tail);
    U.sq_head = (unsigned *)(void *)(sq + p.sq_off.head);
    U.sq_mask = *(unsigned *)(void *)(sq + p.sq_off.ring_mask);
    for (i = 0; i < p.sq_entries; i++) ((unsigned *)(void *)(sq + p.sq_off.array))[i] = i;
    U.cq_head = (unsigned *)(void *)(sq + p.cq_off.head);
    U.cq_tail = (unsigned *)(void *)(sq + p.cq_off.tail);
    U.cq_mask = *(unsigned *)(void *)(sq + p.cq_off.ring_mask);
    U.cqes = (struct io_uring_cqe *)(void *)(sq + p.cq_off.cqes);
    U.tail = *U.sq_tail;
    U.br = (struct io_uring_buf_ring *)mmap(NULL, UR_BUFS * sizeof(struct io_uring_buf),
                                            PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    U.bufs = (char *)malloc((size_t)UR_BUFS * UR_BUF);
    if (U.br == MAP_FAILED || !U.bufs) return 1;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)U.br;
    reg.ring_entries = UR_BUFS;
    reg.bgid = 0;
    if (syscall(__NR_io_uring_register, U.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
        perror("bench_echo: io_uring server: IORING_REGISTER_PBUF_RING");
        return 1;
    }
    for (i = 0; i < UR_BUFS; i++) ur_buf_back(i);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) return 1;
    if (hand_listen(lfd, port, port_fd, "io_uring") < 0) return 1;
    {
        struct io_uring_sqe *e = ur_sqe();
        e->opcode = IORING_OP_ACCEPT;
        e->fd = lfd;
        e->ioprio = IORING_ACCEPT_MULTISHOT;
        e->user_data = (uint64_t)UD_ACCEPT << UD_SHIFT;
    }
    for (;;) {
        unsigned head, tail;
        __atomic_store_n(U.sq_tail, U.tail, __ATOMIC_RELEASE);
        if (syscall(__NR_io_uring_enter, U.fd, U.tail - *U.sq_head, 1,
                    IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR) {
            perror("bench_echo: io_uring server: io_uring_enter");
            return 1;
        }
        head = *U.cq_head;
        tail = __atomic_load_n(U.cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            struct io_uring_cqe *q = &U.cqes[head & U.cq_mask];
            int kind = (int)(q->user_data >> UD_SHIFT), fd = (int)(unsigned)q->user_data;
            int res = q->res;
            ur_conn *c = &U.c[fd];
            if (kind == UD_ACCEPT) {
                if (res >= 0 && res >= maxfd) close(res);
                else if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ur_recv(res);
                }
                if (!(q->flags & IORING_CQE_F_MORE)) {
                    struct io_uring_sqe *e = ur_sqe();
                    e->opcode = IORING_OP_ACCEPT;
                    e->fd = lfd;
                    e->ioprio = IORING_ACCEPT_MULTISHOT;
                    e->user_data = (uint64_t)UD_ACCEPT << UD_SHIFT;
                }
            } else if (kind == UD_RECV) {
                if (res > 0 && c->n < UR_Q) {
                    unsigned k = (unsigned)(c->head + c->n) % UR_Q;
                    c->q[k] = (uint16_t)(q->flags >> IORING_CQE_BUFFER_SHIFT);
                    c->qlen[k] = (uint16_t)res;
                    c->n++;
                    if (!c->sending) ur_send(fd);
                    if (!(q->flags & IORING_CQE_F_MORE)) ur_recv(fd);
                } else if (res == -ENOBUFS) {
                    ur_recv(fd);        /* buffers come back as sends complete */
                } else {
                    if (q->flags & IORING_CQE_F_BUFFER)
                        ur_buf_back(q->flags >> IORING_CQE_BUFFER_SHIFT);
                    if (!(q->flags & IORING_CQE_F_MORE)) ur_drop(fd);
                }
            } else if (kind == UD_SEND) {
                c->sending = 0;
                if (res > 0 && c->off + res < c->qlen[c->head]) {
                    c->off = (uint16_t)(c->off + res);
                    ur_send(fd);
                    continue;
                }
                ur_buf_back(c->q[c->head]);
                c->head = (uint8_t)((c->head + 1) % UR_Q);
                c->n--;
                c->off = 0;
                if (res < 0 || c->dead) ur_drop(fd);
                else if (c->n) ur_send(fd);
            }
        }
        __atomic_store_n(U.cq_head, head, __ATOMIC_RELEASE);
    }
    return 0;
}
#else
static int serve_uring(int port, int port_fd) {
    (void)port; (void)port_fd;
    fprintf(stderr, "bench_echo: no io_uring system calls in this build\n");
    return 1;
}
#endif

/* ---- the load generator: plain C, epoll ------------------------------------------ */
typedef struct {
    int nbusy, nidle, ep;
    int *fds;                           /* busy ones first */
    int *got;                           /* bytes of the echo received so far */
    char err[160];
} loadgen;

static int lg_fail(loadgen *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Opens every connection, in batches small enough for the listen backlog; each is
   checked with one byte that must come back, so the server has accepted it and waits
   on it before the load starts. */
static int lg_open(loadgen *g, int port) {
    struct sockaddr_in a;
    struct timeval tv;
    struct epoll_event ev;
    int n = g->nbusy + g->nidle, i, j, one = 1;
    g->fds = (int *)malloc((size_t)n * sizeof *g->fds);
    g->got = (int *)calloc((size_t)n, sizeof *g->got);
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g->fds || !g->got || g->ep < 0) return lg_fail(g, "out of memory");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    for (i = 0; i < n; i += 256) {
        int m = n - i < 256 ? n - i : 256;
        for (j = i; j < i + m; j++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) return lg_fail(g, "socket %d: %s", j, strerror(errno));
            g->fds[j] = fd;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
                return lg_fail(g, "connect %d: %s", j, strerror(errno));
            if (write(fd, "p", 1) != 1) return lg_fail(g, "write %d: %s", j, strerror(errno));
        }
        for (j = i; j < i + m; j++) {
            char c = 0;
            if (read(g->fds[j], &c, 1) != 1 || c != 'p')
                return lg_fail(g, "connection %d: no echo (%s)", j, strerror(errno));
        }
    }
    for (i = 0; i < g->nbusy; i++) {
        fcntl(g->fds[i], F_SETFL, fcntl(g->fds[i], F_GETFL) | O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->fds[i], &ev) < 0)
            return lg_fail(g, "epoll_ctl: %s", strerror(errno));
    }
    return 0;
}

/* Every busy connection sends, waits for the echo, sends again, for `ms`; then no new
   message is sent and the ones in flight are drained. Returns the round trips. */
static long long lg_run(loadgen *g, int ms, double *secs) {
    static const char msg[MSG] = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    static struct epoll_event evs[1024];
    char buf[MSG];
    long long count = 0;
    int i, inflight = 0, stopping = 0;
    double t0 = now_s(), deadline = t0 + ms * 1e-3;
    for (i = 0; i < g->nbusy; i++) {
        g->got[i] = 0;
        if (write(g->fds[i], msg, MSG) != MSG) return lg_fail(g, "write: %s", strerror(errno));
        inflight++;
    }
    while (inflight > 0) {
        int n = epoll_wait(g->ep, evs, 1024, 5000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return lg_fail(g, "epoll_wait: %s", strerror(errno));
        if (n == 0) return lg_fail(g, "no echo for 5 s (%d messages in flight)", inflight);
        for (i = 0; i < n; i++) {
            int c = (int)evs[i].data.u32;
            ssize_t r = read(g->fds[c], buf, (size_t)(MSG - g->got[c]));
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) return lg_fail(g, "read: %s", r ? strerror(errno) : "closed by the server");
            g->got[c] += (int)r;
            if (g->got[c] < MSG) continue;
            g->got[c] = 0;
            count++;
            if (stopping) {
                inflight--;
            } else if (write(g->fds[c], msg, MSG) != MSG) {
                return lg_fail(g, "write: %s", strerror(errno));
            }
        }
        if (!stopping && now_s() >= deadline) stopping = 1;
    }
    *secs = now_s() - t0;
    return count;
}

/* Connection churn (--churn): `conns` clients, each connecting, sending one message,
   reading its echo and closing, again and again for `ms`: what a server pays per
   connection (accept, the first read and write, the close). A client closes with a
   reset (SO_LINGER 0): no TIME_WAIT, so the loopback's ports are not used up.
   Returns the connections completed. */
static long long lg_churn(int port, int conns, int ms, double *secs, char *err, size_t errn) {
    static const char msg[MSG] = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    static struct epoll_event evs[1024];
    struct sockaddr_in a;
    struct linger lin = {1, 0};
    int *fds = (int *)calloc((size_t)conns, sizeof *fds);
    int *got = (int *)calloc((size_t)conns, sizeof *got);
    int ep = epoll_create1(EPOLL_CLOEXEC), i, live = 0, stopping = 0, one = 1;
    long long count = 0;
    double t0 = now_s(), deadline = t0 + ms * 1e-3;
    char buf[MSG];
    if (!fds || !got || ep < 0) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < conns; i++) fds[i] = -1;
    for (;;) {
        int n;
        for (i = 0; !stopping && i < conns; i++) {          /* (re)open the closed ones */
            struct epoll_event ev;
            if (fds[i] >= 0) continue;
            fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fds[i] < 0) {
                snprintf(err, errn, "socket: %s", strerror(errno));
                return -1;
            }
            setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
            if (connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
                snprintf(err, errn, "connect: %s", strerror(errno));
                return -1;
            }
            got[i] = -1;                                    /* not written yet */
            ev.events = EPOLLOUT | EPOLLIN;
            ev.data.u32 = (uint32_t)i;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
                snprintf(err, errn, "epoll_ctl: %s", strerror(errno));
                return -1;
            }
            live++;
        }
        if (!live) break;
        n = epoll_wait(ep, evs, 1024, 5000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(err, errn, n ? strerror(errno) : "no echo for 5 s");
            return -1;
        }
        for (i = 0; i < n; i++) {
            int c = (int)evs[i].data.u32;
            ssize_t r;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                snprintf(err, errn, "connection refused or reset by the server");
                return -1;
            }
            if (got[c] < 0 && (evs[i].events & EPOLLOUT)) {
                struct epoll_event ev;
                if (write(fds[c], msg, MSG) != MSG) {
                    snprintf(err, errn, "write: %s", strerror(errno));
                    return -1;
                }
                got[c] = 0;
                ev.events = EPOLLIN;
                ev.data.u32 = (uint32_t)c;
                (void)epoll_ctl(ep, EPOLL_CTL_MOD, fds[c], &ev);
                continue;
            }
            if (got[c] < 0) continue;
            r = read(fds[c], buf, (size_t)(MSG - got[c]));
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                snprintf(err, errn, "read: %s", r ? strerror(errno) : "closed by the server");
                return -1;
            }
            if ((got[c] += (int)r) < MSG) continue;
            count++;
            close(fds[c]);                                  /* a reset: no TIME_WAIT */
            fds[c] = -1;
            live--;
        }
        if (!stopping && now_s() >= deadline) stopping = 1;
    }
    *secs = now_s() - t0;
    free(fds);
    free(got);
    close(ep);
    return count;
}

/* The load generator's process: commands from the orchestrator on cmd_fd, results on
   res_fd. */
typedef struct { int ms; } lg_cmd;      /* ms < 0: quit */
typedef struct { int ok; long long rts; double secs; char err[160]; } lg_res;

static int write_full(int fd, const void *p, size_t n) {
    return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}
static int read_full(int fd, void *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static void lg_main(int port, int nbusy, int nidle, int cmd_fd, int res_fd) {
    loadgen g;
    lg_res res;
    lg_cmd cmd;
    memset(&g, 0, sizeof g);
    memset(&res, 0, sizeof res);
    g.nbusy = nbusy;
    g.nidle = nidle;
    res.ok = lg_open(&g, port) == 0;
    if (!res.ok) snprintf(res.err, sizeof res.err, "%s", g.err);
    if (write_full(res_fd, &res, sizeof res) < 0 || !res.ok) return;
    while (read_full(cmd_fd, &cmd, sizeof cmd) == 0 && cmd.ms >= 0) {
        memset(&res, 0, sizeof res);
        res.rts = lg_run(&g, cmd.ms, &res.secs);
        res.ok = res.rts > 0;
        if (!res.ok) snprintf(res.err, sizeof res.err, "%s", g.err);
        if (write_full(res_fd, &res, sizeof res) < 0) return;
    }
}

/* ---- the orchestrator ------------------------------------------------------------ */
enum { S_POLL, S_EPOLL, S_HAND, NSERVERS };
static const char *server_names[NSERVERS] = {"async.h poll", "async.h epoll", "hand-written epoll"};

static int cpu_server = -1, cpu_load = -1;
static char twin_path[4200];            /* the other backend's binary */

static void pin(int cpu) {
    cpu_set_t s;
    if (cpu < 0) return;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    (void)sched_setaffinity(0, sizeof s, &s);
}

/* In a child: die with the orchestrator, keep only the descriptors asked for. */
static void child_setup(int cpu, int keep1, int keep2) {
    int fd;
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(cpu);
    for (fd = 3; fd < 256; fd++)
        if (fd != keep1 && fd != keep2) close(fd);
}

/* A server of kind k in a new process; returns its pid and port, or -1. */
static pid_t start_server(int k, int *port) {
    int p[2];
    pid_t pid;
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid = fork();
    if (pid == 0) {
        int self = k == S_HAND ? 1
#ifdef ASYNC_USE_EPOLL
                 : k == S_EPOLL;
#else
                 : k == S_POLL;
#endif
        child_setup(cpu_server, p[1], -1);
        if (k == S_HAND) _exit(serve_hand(0, p[1]));
        if (self) _exit(serve_async(0, p[1]));
        {
            char arg[16];
            int fd = dup(p[1]);                 /* without close-on-exec */
            snprintf(arg, sizeof arg, "%d", fd);
            execl(twin_path, twin_path, "--server", "async", arg, (char *)NULL);
            _exit(127);
        }
    }
    close(p[1]);
    if (pid < 0 || read_full(p[0], port, sizeof *port) < 0) {
        close(p[0]);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    close(p[0]);
    return pid;
}

typedef struct { pid_t pid; int cmd, res; } lg_proc;

static int start_loadgen(lg_proc *l, int port, int nbusy, int nidle, lg_res *res) {
    int c[2], r[2];
    if (pipe2(c, O_CLOEXEC) < 0) return -1;
    if (pipe2(r, O_CLOEXEC) < 0) {
        close(c[0]);
        close(c[1]);
        return -1;
    }
    l->pid = fork();
    if (l->pid == 0) {
        child_setup(cpu_load, c[0], r[1]);
        lg_main(port, nbusy, nidle, c[0], r[1]);
        _exit(0);
    }
    close(c[0]);
    close(r[1]);
    l->cmd = c[1];
    l->res = r[0];
    if (l->pid < 0) return -1;
    if (read_full(l->res, res, sizeof *res) < 0) {
        snprintf(res->err, sizeof res->err, "the load generator died");
        return -1;
    }
    return res->ok ? 0 : -1;
}

static void stop_loadgen(lg_proc *l) {
    lg_cmd q;
    q.ms = -1;
    if (l->pid <= 0) return;
    (void)write_full(l->cmd, &q, sizeof q);
    close(l->cmd);
    close(l->res);
    waitpid(l->pid, NULL, 0);
    l->pid = 0;
}

/* utime + stime of a process, in seconds: its CPU-time clock (the same sum as
   /proc/PID/stat fields 14 and 15, at nanosecond resolution instead of clock ticks),
   or /proc/PID/stat where that clock is not available. */
static double cpu_of(pid_t pid) {
    clockid_t cid;
    struct timespec ts;
    char path[64], line[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    if (clock_getcpuclockid(pid, &cid) == 0 && clock_gettime(cid, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r"))) return -1;
    p = fgets(line, sizeof line, f);
    fclose(f);
    if (!p || !(p = strrchr(line, ')')) ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One load on server s: server CPU per round trip (µs) and round trips per second. */
static int measure(pid_t server, lg_proc *l, int ms, double *us, double *rps, char *err) {
    lg_cmd c;
    lg_res r;
    double c0 = cpu_of(server), c1;
    c.ms = ms;
    if (write_full(l->cmd, &c, sizeof c) < 0 || read_full(l->res, &r, sizeof r) < 0) {
        snprintf(err, 160, "the load generator died");
        return -1;
    }
    c1 = cpu_of(server);
    if (!r.ok) {
        snprintf(err, 160, "%s", r.err);
        return -1;
    }
    *us = (c1 - c0) * 1e6 / (double)r.rts;
    *rps = (double)r.rts / r.secs;
    return 0;
}

typedef struct { int busy, idle; } config;

/* Runs one configuration; prints its rows. Returns 0, or -1 on a failure. */
static int run_config(const config *cf, const int *have) {
    pid_t srv[NSERVERS];
    int port[NSERVERS], k, r, j, rc = 0;
    lg_proc lg[NSERVERS];
    double us[NSERVERS][16], rps[NSERVERS][16], ratio[NSERVERS][16];
    double med_us[NSERVERS], med_rps[NSERVERS], med_ratio[NSERVERS];
    char label[64], err[256], merr[160];
    memset(srv, 0, sizeof srv);
    memset(lg, 0, sizeof lg);
    err[0] = 0;
    if (cf->idle) snprintf(label, sizeof label, "%d busy + %d idle", cf->busy, cf->idle);
    else snprintf(label, sizeof label, "%d busy", cf->busy);
    for (k = 0; k < NSERVERS && !rc; k++) {
        lg_res res;
        memset(&res, 0, sizeof res);
        if (!have[k]) continue;
        if ((srv[k] = start_server(k, &port[k])) < 0) {
            srv[k] = 0;
            snprintf(err, sizeof err, "%s: the server did not start", server_names[k]);
            rc = -1;
        } else if (start_loadgen(&lg[k], port[k], cf->busy, cf->idle, &res) < 0) {
            snprintf(err, sizeof err, "%s: %s", server_names[k], res.err);
            rc = -1;
        }
    }
    for (k = 0; k < NSERVERS && !rc; k++) {     /* warm-up, not counted */
        double u, p;
        if (have[k] && measure(srv[k], &lg[k], WARMUP_MS, &u, &p, merr) < 0) {
            snprintf(err, sizeof err, "%s: %s", server_names[k], merr);
            rc = -1;
        }
    }
    for (r = 0; r < rounds && !rc; r++)
        for (j = 0; j < NSERVERS && !rc; j++) {
            k = (j + r) % NSERVERS;                 /* the order rotates every round */
            if (have[k] && measure(srv[k], &lg[k], load_ms, &us[k][r], &rps[k][r], merr) < 0) {
                snprintf(err, sizeof err, "%s: %s", server_names[k], merr);
                rc = -1;
            }
        }
    for (k = 0; k < NSERVERS; k++) {
        stop_loadgen(&lg[k]);
        if (srv[k] > 0) {
            kill(srv[k], SIGKILL);
            waitpid(srv[k], NULL, 0);
        }
    }
    if (rc) {
        printf("  %-24s FAILED: %s\n", label, err);
        return -1;
    }
    /* the ratio: the median over rounds of hand-written / ours within a round, where
       the two ran seconds apart (steadier than a ratio of medians on a busy machine) */
    for (k = 0; k < NSERVERS; k++) {
        if (!have[k]) continue;
        for (r = 0; r < rounds; r++) ratio[k][r] = us[S_HAND][r] / us[k][r];
        med_ratio[k] = median(ratio[k], rounds);
        med_us[k] = median(us[k], rounds);
        med_rps[k] = median(rps[k], rounds);
    }
    for (k = 0; k < NSERVERS; k++) {
        if (!have[k]) continue;
        printf("  %-24s %-20s %10.2f %14.0f", label, server_names[k], med_us[k], med_rps[k]);
        if (k != S_HAND) printf(" %10.2f", med_ratio[k]);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}

static int run_all(void) {
    static const config cfs[] = {{1, 0}, {100, 0}, {1000, 0}, {10, IDLE}};
    int have[NSERVERS] = {1, 1, 1}, i, failed = 0, idle_ok;
    struct rlimit rl;
    cpu_set_t set;
    size_t c;
    char self[4096];
    ssize_t len;
    double t0 = now_s();
    signal(SIGPIPE, SIG_IGN);
    /* the other backend's binary: bench_echo <-> bench_echo_epoll */
    len = readlink("/proc/self/exe", self, sizeof self - 8);
    if (len <= 0) {
        printf("bench_echo: cannot find /proc/self/exe\n");
        return 1;
    }
    self[len] = 0;
#ifdef ASYNC_USE_EPOLL
    if (len > 6 && strcmp(self + len - 6, "_epoll") == 0) self[len - 6] = 0;
    snprintf(twin_path, sizeof twin_path, "%s", self);
#else
    snprintf(twin_path, sizeof twin_path, "%s_epoll", self);
#endif
    if (access(twin_path, X_OK) < 0) {
#ifdef ASYNC_USE_EPOLL
        have[S_POLL] = 0;
#else
        have[S_EPOLL] = 0;
#endif
        printf("bench_echo: %s not found: no async.h %s server in this run\n", twin_path,
#ifdef ASYNC_USE_EPOLL
               "poll"
#else
               "epoll"
#endif
        );
    }
    /* two CPUs: the servers on one, the load generators on another */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2) {
        for (c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) {
                if (cpu_server < 0) cpu_server = (int)c;
                else if (cpu_load < 0) cpu_load = (int)c;
            }
        pin(cpu_load);
    }
    /* 10,000 idle connections need as many descriptors in the server and in the load
       generator: raise the soft limit to the hard one */
    idle_ok = getrlimit(RLIMIT_NOFILE, &rl) == 0;
    if (idle_ok && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    idle_ok = idle_ok && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= IDLE + 200);

    printf("TCP echo over loopback, 64-byte messages: server CPU (utime+stime) per round trip,\n"
           "median of %d rounds of %d ms, the servers in turn; ", rounds, load_ms);
    if (cpu_server >= 0) printf("server on CPU %d, load on CPU %d\n", cpu_server, cpu_load);
    else printf("one CPU: nothing pinned\n");
    printf("  %-24s %-20s %10s %14s %10s\n", "configuration", "server", "us CPU/rt",
           "round trips/s", "hand/ours");
    for (i = 0; i < (int)(sizeof cfs / sizeof cfs[0]); i++) {
        if (cfs[i].idle && !idle_ok) {
            printf("  %d busy + %d idle: skipped: the open-files limit is %llu, it needs %d\n",
                   cfs[i].busy, cfs[i].idle, (unsigned long long)rl.rlim_cur, IDLE + 200);
            continue;
        }
        if (run_config(&cfs[i], have) < 0) failed = 1;
    }
    printf("  hand/ours: CPU per round trip of the hand-written server / of async.h, median over\n"
           "  the rounds (>= 0.90: within 10%%). Target: >= 0.90 everywhere with epoll, up to\n"
           "  1000 busy with poll; poll(2) scans every descriptor it watches on every call, idle\n"
           "  or not, hence the idle case  [%.0f s]\n", now_s() - t0);
    return failed;
}

/* Connection churn with async.h's clients (--connect): `conns` tasks, each connecting
   with async_sock_connect, echoing one message and closing (a reset), again and again
   for `ms`: what a client pays per connection on this binary's backend (ASYNC_BACKEND
   chooses). Prints the connections and this process's CPU per connection. */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr *to;
    char buf[MSG];
    int rc;
} cc_client;
static long long cc_count;
static double cc_deadline;
static const char *cc_err;

static int cc_run(async_task *t) {
    cc_client *f = (cc_client *)t;
    struct linger lin = {1, 0};
    ASYNC_BEGIN(t);
    while (now_s() < cc_deadline) {
        ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, f->to));
        if (f->rc < 0) break;
        (void)async_sock_set_nodelay(&f->io, 1);
        (void)setsockopt(async_io_fd(&f->io), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        memset(f->buf, 'x', MSG);
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, f->buf, MSG));
        if (f->rc >= 0) ASYNC_AWAIT(f->rc, async_io_read_exact(t, &f->io, &f->w, f->buf, MSG));
        async_io_close(&f->io);                             /* a reset: no TIME_WAIT */
        if (f->rc < 0) break;
        cc_count++;
    }
    if (f->rc < 0 && !cc_err) cc_err = async_strerror(f->rc);
    ASYNC_END(0);
}

static int connect_churn(int port, int conns, int ms) {
    async_runtime rt;
    async_addr to;
    cc_client *cs = (cc_client *)calloc((size_t)conns, sizeof *cs);
    struct rusage r0, r1;
    double t0, secs, cpu;
    char text[32];
    int i;
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    if (!cs || async_addr_parse(&to, text) < 0 || async_runtime_init(&rt, NULL) < 0) {
        printf("bench_echo: cannot start\n");
        return 1;
    }
    cc_deadline = now_s() + ms * 1e-3;
    getrusage(RUSAGE_SELF, &r0);
    t0 = now_s();
    for (i = 0; i < conns; i++) {
        cs[i].to = &to;
        async_task_spawn(&rt, &cs[i].task, cc_run, "client");
    }
    (void)async_runtime_run(&rt);
    secs = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                   r0.ru_stime.tv_sec) +
          (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                   r0.ru_stime.tv_usec) * 1e-6;
    printf("%lld connections in %.3f s (%s): %.2f us of client CPU each%s%s\n", cc_count,
           secs, async_runtime_io_backend(&rt), cc_count ? cpu * 1e6 / (double)cc_count : 0.0,
           cc_err ? ", stopped by: " : "", cc_err ? cc_err : "");
    async_runtime_destroy(&rt);
    free(cs);
    return cc_err ? 1 : 0;
}

int main(int argc, char **argv) {
    int i;
    if (argc == 2 && strcmp(argv[1], "--icount-list") == 0) return 0;  /* no icount here */
    if (argc == 4 && strcmp(argv[1], "--server") == 0) {                /* from the twin */
        int fd = atoi(argv[3]);
        return strcmp(argv[2], "hand") == 0 ? serve_hand(0, fd) : serve_async(0, fd);
    }
    if (argc == 4 && strcmp(argv[1], "--serve") == 0) {
        int port = atoi(argv[3]);
        signal(SIGPIPE, SIG_IGN);
        return strcmp(argv[2], "hand") == 0 ? serve_hand(port, -1)
             : strcmp(argv[2], "uring") == 0 ? serve_uring(port, -1) : serve_async(port, -1);
    }
    if (argc == 6 && strcmp(argv[1], "--load") == 0) {
        loadgen g;
        struct rlimit rl;
        double secs = 0;
        long long n;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        memset(&g, 0, sizeof g);
        g.nbusy = atoi(argv[3]);
        g.nidle = atoi(argv[4]);
        if (lg_open(&g, atoi(argv[2])) < 0 || (n = lg_run(&g, atoi(argv[5]), &secs)) < 0) {
            printf("bench_echo: %s\n", g.err);
            return 1;
        }
        printf("%lld round trips in %.3f s: %.0f/s\n", n, secs, (double)n / secs);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "--churn") == 0) {
        char err[160] = "";
        double secs = 0;
        long long n = lg_churn(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), &secs, err,
                               sizeof err);
        if (n < 0) {
            printf("bench_echo: %s\n", err);
            return 1;
        }
        printf("%lld connections in %.3f s: %.0f/s\n", n, secs, (double)n / secs);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "--connect") == 0)
        return connect_churn(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ms") == 0) load_ms = atoi(argv[i + 1]);
        else break;
    }
    if (i != argc || rounds < 1 || rounds > 16 || load_ms < 10) {
        printf("usage: %s [--rounds 1..16] [--ms M] | --serve async|hand PORT |"
               " --load PORT BUSY IDLE MS | --churn|--connect PORT CONNS MS\n", argv[0]);
        return 2;
    }
    return run_all();
}
