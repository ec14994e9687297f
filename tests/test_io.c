/* The reactor and socket I/O on loopback: TCP (IPv4, IPv6), Unix stream sockets, UDP,
   pipes; the errors a server meets (refused, reset, broken pipe, address in use,
   half-closed peers, partial writes); backpressure from a slow reader; 1000
   connections at once; cancellation and timeouts of every wait; no lost wake-ups.
   Built twice by make test: with the poll(2) backend and with -DASYNC_USE_EPOLL. */
#include "test.h"
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#ifdef _WIN32
/* Windows (mingw-w64, under Wine): descriptors are Winsock SOCKETs as ints (the
   manual, WINDOWS); the POSIX calls the tests make on them are Winsock's here, a
   socketpair is a connected loopback TCP pair, and a test of what Windows lacks
   (Unix sockets, pipes, signals, rlimits, a socket's blocking mode) says so and
   checks the ENOSYS, or is skipped with its reason. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <io.h>
#include <process.h>
static int win_socketpair(int sv[2]) {
    SOCKET l = socket(AF_INET, SOCK_STREAM, 0), c = INVALID_SOCKET, a = INVALID_SOCKET;
    struct sockaddr_in in;
    int len = (int)sizeof in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l != INVALID_SOCKET && bind(l, (struct sockaddr *)&in, len) == 0 &&
        getsockname(l, (struct sockaddr *)&in, &len) == 0 && listen(l, 1) == 0 &&
        (c = socket(AF_INET, SOCK_STREAM, 0)) != INVALID_SOCKET &&
        connect(c, (struct sockaddr *)&in, len) == 0 &&
        (a = accept(l, NULL, NULL)) != INVALID_SOCKET) {
        closesocket(l);
        sv[0] = (int)a;
        sv[1] = (int)c;
        return 0;
    }
    if (l != INVALID_SOCKET) closesocket(l);
    if (c != INVALID_SOCKET) closesocket(c);
    return -1;
}
/* recv with errno (EAGAIN, the rest as a reset) */
static int win_recv(int fd, void *b, size_t n) {
    int r = recv((SOCKET)fd, (char *)b, (int)n, 0);
    if (r < 0) errno = WSAGetLastError() == WSAEWOULDBLOCK ? EAGAIN : ECONNRESET;
    return r;
}
#define socketpair(d, t, p, sv) win_socketpair(sv)
#define pipe(fds) win_socketpair(fds)   /* a gate for a pool thread: blocking */
#define recv(fd, b, n, f) win_recv((fd), (b), (n))
#define MSG_DONTWAIT 0                  /* registered: non-blocking already */
#define setsockopt(fd, l, n, v, vl) setsockopt((SOCKET)(fd), (l), (n), (const char *)(v), (vl))
#define socket(f, t, p) ((int)socket((f), (t), (p)))
#define accept(fd, a, l) ((int)accept((SOCKET)(fd), (a), (l)))
#define close(fd) closesocket((SOCKET)(fd))
#define read(fd, b, n) win_recv((fd), (b), (n))
#define write(fd, b, n) send((SOCKET)(fd), (const char *)(b), (int)(n), 0)
#define getsockopt(fd, l, n, v, vl) getsockopt((SOCKET)(fd), (l), (n), (char *)(v), (vl))
#define getpid() _getpid()
#define unlink(p) _unlink(p)
#define alarm(s) ((void)(s))            /* the run's timeout is the hang guard */
#define SKIP_WIN(why) do { printf("  skip %s on Windows: %s\n", test_cur, why); return; \
    } while (0)
#else
#include <unistd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#define MS(x) ASYNC_MS(x)

static async_runtime rt;

static void rt_real(void) {
    if (async_runtime_init(&rt, NULL) != 0) { printf("runtime init failed\n"); exit(2); }
}

/* Run until t has finished (other tasks may still wait on I/O, which would keep
   async_runtime_run going forever). */
static int run_until(async_task *t) {
    int i;
    for (i = 0; i < 100000 && !async_task_is_finished(t); i++)
        if (async_runtime_step(&rt, MS(100)) < 0) return -1;
    return async_task_is_finished(t) ? 0 : -1;
}

/* A listener on 127.0.0.1 (or ::1, or a Unix path), port chosen by the kernel. */
static int listen_on(async_io *lis, const char *text, async_addr *bound) {
    async_addr a;
    int rc = async_addr_parse(&a, text);
    if (rc < 0) return rc;
    rc = async_sock_listen(&rt, lis, &a, NULL);
    if (rc < 0) return rc;
    return async_sock_local_addr(lis, bound);
}

/* ---- an echo server: accepts `n` connections, echoes each until EOF ------------- */
typedef struct {
    async_task task;
    async_io conn;
    async_waiter w;
    char buf[4096];
    int rc, n, total;
    async_addr peer;
} echo_conn;

static int echo_conn_run(async_task *t) {
    echo_conn *f = (echo_conn *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        f->total += f->n;
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->conn, &f->w, f->buf, (size_t)f->n));
        if (f->rc < 0) break;
    }
    ASYNC_CLEANUP();
    async_io_close(&f->conn);
    ASYNC_END(f->n < 0 ? f->n : f->total);
}

typedef struct {
    async_task task;
    async_io *lis;
    async_waiter w;
    echo_conn *conns;
    int nconns, i, rc;
} acceptor;

static int acceptor_run(async_task *t) {
    acceptor *f = (acceptor *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->nconns; f->i++) {
        ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->conns[f->i].conn,
                                             &f->conns[f->i].peer));
        if (f->rc < 0) break;
        async_task_spawn(async_task_runtime(t), &f->conns[f->i].task, echo_conn_run, "echo-conn");
    }
    ASYNC_END(f->rc);
}

/* ---- a client: connects, writes `len` bytes, reads them back, then half-closes
   and expects EOF ---------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    const char *msg;
    size_t len;
    char back[4096];
    int rc, eof;
} client;

static int client_run(async_task *t) {
    client *f = (client *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, f->msg, f->len));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_read_exact(t, &f->io, &f->w, f->back, f->len));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    ASYNC_AWAIT(f->eof, async_io_read(t, &f->io, &f->w, f->back + f->len, 1));
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(f->rc);
}

static void echo_roundtrip(const char *where) {
    static async_io lis;
    static acceptor acc;
    static echo_conn conns[1];
    static client c;
    async_addr bound;
    char text[128];
    int rc;
    ZERO(lis); ZERO(acc); ZERO(conns); ZERO(c);
    rt_real();
    rc = listen_on(&lis, where, &bound);
    ASSERT_EQ(rc, 0);
    if (rc < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    acc.lis = &lis;
    acc.conns = conns;
    acc.nconns = 1;
    c.to = bound;
    c.msg = "hello, loopback";
    c.len = strlen(c.msg);
    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    async_task_spawn(&rt, &c.task, client_run, "client");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.task.u.result, (long long)c.len);
    CHECK(memcmp(c.back, c.msg, c.len) == 0);
    ASSERT_EQ(c.eof, 0);                        /* the server closed after our EOF */
    ASSERT_EQ(conns[0].task.u.result, (long long)c.len);
    ASSERT_EQ(async_addr_family(&conns[0].peer), async_addr_family(&bound));
    CHECK(async_addr_format(&bound, text, sizeof text) > 0);
    if (async_addr_family(&bound) != AF_UNIX) {
        CHECK(async_addr_port(&bound) > 0);
        CHECK(async_addr_port(&conns[0].peer) > 0);
    }
    ASSERT_EQ(async_io_close(&lis), 0);
    ASSERT_EQ(rt.io.nwait, 0);
    ASSERT_EQ(rt.io.n, 1);                      /* every descriptor deregistered */
    async_runtime_destroy(&rt);
}

TEST(tcp_ipv4_echo) { echo_roundtrip("127.0.0.1:0"); }

TEST(tcp_ipv6_echo) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a;
    ZERO(a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("  (no IPv6 loopback here: %s)\n", strerror(errno));
        if (fd >= 0) close(fd);
        return;
    }
    close(fd);
    echo_roundtrip("[::1]:0");
}

TEST(unix_stream_echo) {
    char path[64], text[80];
#ifdef _WIN32
    async_addr u;
    (void)text;
    snprintf(path, sizeof path, "unix:/tmp/async-test-%d.sock", (int)getpid());
    ASSERT_EQ(async_addr_parse(&u, path), ASYNC_ENOSYS);     /* no Unix sockets there */
    return;
#endif
    snprintf(path, sizeof path, "unix:/tmp/async-test-%d.sock", (int)getpid());
    unlink(path + 5);
    echo_roundtrip(path);
    unlink(path + 5);
    {   /* a stale socket file: listen fails, unless asked to remove it */
        async_io lis;
        async_addr a;
        async_listen_opts o;
        ZERO(lis); ZERO(o);
        rt_real();
        ASSERT_EQ(async_addr_parse(&a, path), 0);
        ASSERT_EQ(async_sock_listen(&rt, &lis, &a, NULL), 0);
        ASSERT_EQ(async_addr_format(&a, text, sizeof text), (int)strlen(path));
        ASSERT_STR(text, path);
        async_io_close(&lis);                    /* the file stays */
        ASSERT_EQ(async_sock_listen(&rt, &lis, &a, NULL), -EADDRINUSE);
        CHECK(lis.rt == NULL);
        o.unlink = 1;
        ASSERT_EQ(async_sock_listen(&rt, &lis, &a, &o), 0);
        async_io_close(&lis);
        unlink(path + 5);
        async_runtime_destroy(&rt);
    }
}

/* SO_REUSEPORT: two listeners on one port (a listener per thread, the kernel spreads
   the connections). Without the option the second gets EADDRINUSE. The implementation
   file used to force _POSIX_C_SOURCE, which hides SO_REUSEPORT on glibc: the option
   always gave EINVAL. */
TEST(reuseport_two_listeners_share_a_port) {
    async_io a, b, c;
    async_addr at;
    async_listen_opts o;
    int i, fd, got[2] = {0, 0}, cl[32];
    ZERO(a); ZERO(b); ZERO(c); ZERO(o);
    rt_real();
    o.reuseport = 1;
    ASSERT_EQ(async_addr_parse(&at, "127.0.0.1:0"), 0);
#ifdef _WIN32                                       /* no such port sharing there */
    ASSERT_EQ(async_sock_listen(&rt, &a, &at, &o), ASYNC_ENOSYS);
    CHECK(a.rt == NULL);
#else
    ASSERT_EQ(async_sock_listen(&rt, &a, &at, &o), 0);
#endif
    if (a.rt == NULL) {
        async_runtime_destroy(&rt);
        return;
    }
    ASSERT_EQ(async_sock_local_addr(&a, &at), 0);
    ASSERT_EQ(async_sock_listen(&rt, &c, &at, NULL), -EADDRINUSE);  /* not without it */
    ASSERT_EQ(async_sock_listen(&rt, &b, &at, &o), 0);
    for (i = 0; i < 32; i++) {                      /* the kernel completes them */
        cl[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(cl[i] >= 0 &&
              connect(cl[i], (struct sockaddr *)async_addr_sockaddr(&at), at.len) == 0);
    }
    for (i = 0; i < 2; i++) {
        int lfd = async_io_fd(i ? &b : &a);
        while ((fd = accept(lfd, NULL, NULL)) >= 0) {      /* listeners are nonblocking */
            got[i]++;
            close(fd);
        }
    }
    ASSERT_EQ(got[0] + got[1], 32);
    CHECK(got[0] > 0 && got[1] > 0);                /* both took some (p = 2^-31 not) */
    for (i = 0; i < 32; i++) close(cl[i]);
    async_io_close(&a);
    async_io_close(&b);
    async_runtime_destroy(&rt);
}

/* ---- addresses ------------------------------------------------------------------ */
TEST(addresses_parse_and_format) {
    async_addr a;
    char buf[80];
    static const char *bad[] = {
        "", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8o",
        "1.2.3.256:80", "localhost:80", "::1:80", "[::1]80", "[::1:80", "[1.2.3.4]:80",
        ":80", "unix:", "[]:1"
    };
    size_t i;
    ASSERT_EQ(async_addr_parse(&a, "10.1.2.3:8080"), 0);
    ASSERT_EQ(async_addr_family(&a), AF_INET);
    ASSERT_EQ(async_addr_port(&a), 8080);
    ASSERT_EQ(async_addr_format(&a, buf, sizeof buf), 13);
    ASSERT_STR(buf, "10.1.2.3:8080");
    ASSERT_EQ(async_addr_parse(&a, "[2001:db8::1]:443"), 0);
    ASSERT_EQ(async_addr_family(&a), AF_INET6);
    ASSERT_EQ(async_addr_port(&a), 443);
    async_addr_format(&a, buf, sizeof buf);
    ASSERT_STR(buf, "[2001:db8::1]:443");
    ASSERT_EQ(async_addr_parse(&a, "0.0.0.0:0"), 0);
    ASSERT_EQ(async_addr_port(&a), 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = async_addr_parse(&a, bad[i]);
        if (rc != ASYNC_EINVAL) FAIL_("\"%s\" parsed (%d)", bad[i], rc);
    }
    {   /* a path too long for sun_path is refused, not truncated */
        char longp[200];
        memset(longp, 'x', sizeof longp);
        longp[sizeof longp - 1] = 0;
#ifdef _WIN32
        ASSERT_EQ(async_addr_init_unix(&a, longp), ASYNC_ENOSYS);
#else
        ASSERT_EQ(async_addr_init_unix(&a, longp), ASYNC_EINVAL);
#endif
    }
#ifdef _WIN32
    ASSERT_EQ(async_addr_parse(&a, "unix:/tmp/x.sock"), ASYNC_ENOSYS);
#else
    ASSERT_EQ(async_addr_parse(&a, "unix:/tmp/x.sock"), 0);
    ASSERT_EQ(async_addr_family(&a), AF_UNIX);
    ASSERT_EQ(async_addr_port(&a), ASYNC_EINVAL);
#endif
    ASSERT_EQ(async_addr_parse(&a, "127.0.0.1:80"), 0);
    ASSERT_EQ(async_addr_format(&a, buf, 5), ASYNC_ELIMIT);    /* cut, terminated */
    ASSERT_EQ(strlen(buf), 4);
    ZERO(a);
    ASSERT_EQ(async_addr_family(&a), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_format(&a, buf, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_parse(NULL, "1.2.3.4:5"), ASYNC_EINVAL);
    CHECK(async_addr_sockaddr(&a) == (void *)a.u.bytes);
}

/* ---- errors --------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    int rc;
} connector;

static int connector_run(async_task *t) {
    connector *f = (connector *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    ASYNC_END(f->rc);
}

TEST(connect_refused_leaves_nothing_open) {
    static connector c;
    async_io lis;
    async_addr bound;
    ZERO(c); ZERO(lis);
    rt_real();
    /* a port that was just free: bind, note it, close */
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    async_io_close(&lis);
    c.to = bound;
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.rc, -ECONNREFUSED);
    ASSERT_STR(async_strerror(c.rc), strerror(ECONNREFUSED));
    CHECK(c.io.rt == NULL);                   /* closed again, nothing registered */
    ASSERT_EQ(rt.io.n, 1);
    ASSERT_EQ(async_io_close(&c.io), 0);        /* idempotent */
    async_runtime_destroy(&rt);
}

TEST(address_in_use) {
    async_io a, b;
    async_addr bound;
    async_listen_opts o;
    ZERO(a); ZERO(b); ZERO(o);
    rt_real();
    ASSERT_EQ(listen_on(&a, "127.0.0.1:0", &bound), 0);
    ASSERT_EQ(async_sock_listen(&rt, &b, &bound, NULL), -EADDRINUSE);
    o.no_reuseaddr = 1;
    ASSERT_EQ(async_sock_listen(&rt, &b, &bound, &o), -EADDRINUSE);
    CHECK(b.rt == NULL);
    ASSERT_EQ(async_udp_bind(&rt, &b, &bound), 0);      /* UDP and TCP ports differ */
    ASSERT_EQ(async_udp_bind(&rt, &b, &bound), ASYNC_EBUSY);   /* b is in use */
    async_io_close(&b);
    ASSERT_EQ(async_udp_bind(&rt, &b, &bound), 0);
    {
        async_io c;
        int rc;
        ZERO(c);
        ASSERT_EQ(rc = async_udp_bind(&rt, &c, &bound), -EADDRINUSE);
        if (rc == 0) async_io_close(&c);        /* (b's bind failed: tests/faults.h) */
    }
    async_io_close(&a);
    async_io_close(&b);
    ASSERT_EQ(rt.io.n, 1);
    async_runtime_destroy(&rt);
}

/* A server that accepts one connection and does `what` with it. */
enum { SRV_RESET, SRV_CLOSE, SRV_HALF, SRV_SLOW };
typedef struct {
    async_task task;
    async_io *lis, conn;
    async_waiter w;
    async_timer timer;
    int what, rc, n;
    size_t total, max_ahead;
    char buf[1024];
    const size_t *writer_done;
} server1;

static int server1_run(async_task *t) {
    server1 *f = (server1 *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->conn, NULL));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    if (f->what == SRV_RESET) {
        struct linger l;
        l.l_onoff = 1;
        l.l_linger = 0;                         /* close sends RST */
        setsockopt(async_io_fd(&f->conn), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, 5));
    } else if (f->what == SRV_HALF) {
        /* read to EOF (the client shut its writing side), then answer */
        for (;;) {
            ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, sizeof f->buf));
            if (f->n <= 0) break;
            f->total += (size_t)f->n;
        }
        ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->conn, &f->w, "got it", 6));
    } else if (f->what == SRV_SLOW) {
        /* read 1 KB per millisecond; note how far the writer ever got ahead */
        for (;;) {
            ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(1)));
            ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, sizeof f->buf));
            if (f->n <= 0) break;
            f->total += (size_t)f->n;
            if (*f->writer_done - f->total > f->max_ahead)
                f->max_ahead = *f->writer_done - f->total;
        }
    }
    ASYNC_CLEANUP();
    async_io_close(&f->conn);
    ASYNC_END(f->rc);
}

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    int rc, n, writes;
    size_t done, want;
    char buf[65536];
} writer;

/* connect, then write until an error (or `want` bytes, in 64 KB write_all calls) */
static int writer_run(async_task *t) {
    writer *f = (writer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    if (f->want) {
        int sz = 4096;                          /* small buffers: backpressure sooner */
        setsockopt(async_io_fd(&f->io), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    while (!f->want || f->done < f->want) {
        ASYNC_AWAIT(f->n, async_io_write(t, &f->io, &f->w, f->buf,
                                         f->want && f->want - f->done < sizeof f->buf
                                         ? f->want - f->done : sizeof f->buf));
        if (f->n < 0) break;
        f->writes++;
        f->done += (size_t)f->n;
    }
    if (f->want) async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(f->n < 0 ? f->n : 0);
}

TEST(reset_by_peer_and_broken_pipe) {
    static server1 s;
    static writer w;
    async_io lis;
    ZERO(s); ZERO(w); ZERO(lis);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &w.to), 0);
    s.lis = &lis;
    s.what = SRV_RESET;
    async_task_spawn(&rt, &s.task, server1_run, "server");
    async_task_spawn(&rt, &w.task, writer_run, "writer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* the server read 5 bytes and reset; the writer's writes then fail with
       ECONNRESET or EPIPE, and the process is still here (no SIGPIPE) */
    ASSERT_EQ(s.n, 5);
    CHECK(w.n == -ECONNRESET || w.n == -EPIPE);
    CHECK(w.writes >= 1);
    async_io_close(&lis);
    ASSERT_EQ(rt.io.n, 1);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    int rc, n;
    char buf[64];
} reader1;

static int reset_reader_run(async_task *t) {
    reader1 *f = (reader1 *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, "12345", 5));
    ASYNC_AWAIT(f->n, async_io_read(t, &f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(f->n);
}

TEST(read_after_reset_is_an_error) {
    static server1 s;
    static reader1 r;
    async_io lis;
    ZERO(s); ZERO(r); ZERO(lis);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &r.to), 0);
    s.lis = &lis;
    s.what = SRV_RESET;
    async_task_spawn(&rt, &s.task, server1_run, "server");
    async_task_spawn(&rt, &r.task, reset_reader_run, "reader");
    ASSERT_EQ(async_runtime_run(&rt), 0);
#ifdef _WIN32
    /* Windows resets; Wine (8.0) closes gracefully despite SO_LINGER 0: end of file */
    if (r.n == 0) printf("  (%s: no reset on an abortive close here: Wine)\n", test_cur);
    CHECK(r.n == -ECONNRESET || r.n == 0);
#else
    ASSERT_EQ(r.n, -ECONNRESET);
#endif
    async_io_close(&lis);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_addr to;
    int rc, n;
    char buf[64];
} half_client;

static int half_client_run(async_task *t) {
    half_client *f = (half_client *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_connect(t, &f->io, &f->w, &f->to));
    ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->io, &f->w, "request body", 12));
    f->rc = async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    ASYNC_AWAIT(f->n, async_io_read_exact(t, &f->io, &f->w, f->buf, 6));
    ASYNC_AWAIT(f->rc, async_io_read_exact(t, &f->io, &f->w, f->buf + 6, 1));
    async_io_close(&f->io);
    ASYNC_END(0);
}

TEST(half_close_and_unexpected_eof) {
    static server1 s;
    static half_client c;
    async_io lis;
    ZERO(s); ZERO(c); ZERO(lis);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &c.to), 0);
    s.lis = &lis;
    s.what = SRV_HALF;
    async_task_spawn(&rt, &s.task, server1_run, "server");
    async_task_spawn(&rt, &c.task, half_client_run, "client");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(s.total, 12);                     /* all of it, then EOF */
    ASSERT_EQ(s.n, 0);
    ASSERT_EQ(c.n, 6);                          /* the answer came after our EOF */
    CHECK(memcmp(c.buf, "got it", 6) == 0);
    ASSERT_EQ(c.rc, ASYNC_EEOF);                /* read_exact past the end */
    ASSERT_EQ(c.w.got, 0);                      /* the waiter is reusable */
    async_io_close(&lis);
    async_runtime_destroy(&rt);
}

TEST(slow_reader_holds_back_fast_writer) {
    static server1 s;
    static writer w;
    async_io lis;
    int sndbuf = 0, rcvbuf = 0;
    socklen_t l = sizeof sndbuf;
    ZERO(s); ZERO(w); ZERO(lis);
    test_rt_paused(&rt);                        /* the reader's sleeps cost nothing */
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &w.to), 0);
    rcvbuf = 4096;                              /* inherited by the accepted socket */
    setsockopt(async_io_fd(&lis), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    s.lis = &lis;
    s.what = SRV_SLOW;
    s.writer_done = &w.done;
    w.want = 1 << 20;                           /* 1 MB, read at 1 KB per "ms" */
    async_task_spawn(&rt, &s.task, server1_run, "slow-reader");
    async_task_spawn(&rt, &w.task, writer_run, "fast-writer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(s.total, w.want);                 /* nothing lost */
    ASSERT_EQ(w.done, w.want);
    getsockopt(async_io_fd(&lis), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l);
    l = sizeof sndbuf;
    sndbuf = 4096 * 2;                          /* as set by the writer, doubled */
    /* The writer was never more than the two socket buffers ahead of the reader
       (a generous bound: the kernel's accounting includes overheads). */
    CHECK(s.max_ahead > 0);
    if (s.max_ahead > (size_t)(4 * (sndbuf + rcvbuf)) + 65536)
        FAIL_("writer got %zu bytes ahead (buffers %d + %d)", s.max_ahead, sndbuf, rcvbuf);
    CHECK(rt.stats.io_waits > 10);              /* it waited, many times */
    async_io_close(&lis);
    async_runtime_destroy(&rt);
}

/* ---- UDP ------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_addr from;
    char buf[64];
    int n, rc;
} udp_echo;

static int udp_echo_run(async_task *t) {
    udp_echo *f = (udp_echo *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->n, async_udp_recv_from(t, f->io, &f->w, f->buf, sizeof f->buf, &f->from));
    if (f->n < 0) ASYNC_RETURN(f->n);
    ASYNC_AWAIT(f->rc, async_udp_send_to(t, f->io, &f->w, f->buf, (size_t)f->n, &f->from));
    ASYNC_END(f->rc);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_addr *to;
    char buf[8];
    int n, rc, n2;
} udp_client;

static int udp_client_run(async_task *t) {
    udp_client *f = (udp_client *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_udp_send_to(t, f->io, &f->w, "datagram-one", 12, f->to));
    /* the echo is 12 bytes; an 8-byte buffer gets the first 8, the rest is dropped */
    ASYNC_AWAIT(f->n, async_udp_recv_from(t, f->io, &f->w, f->buf, sizeof f->buf, NULL));
    /* connected: plain read and write */
    f->rc = async_udp_connect(f->io, f->to);
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_write(t, f->io, &f->w, "two", 3));
    ASYNC_AWAIT(f->n2, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_END(0);
}

TEST(udp_send_recv_connect) {
    static udp_echo e1, e2;
    static udp_client c;
    async_io srv, cli;
    async_addr sa, ca, any;
    char text[64];
    ZERO(e1); ZERO(e2); ZERO(c); ZERO(srv); ZERO(cli);
    rt_real();
    ASSERT_EQ(async_addr_parse(&any, "127.0.0.1:0"), 0);
    ASSERT_EQ(async_udp_bind(&rt, &srv, &any), 0);
    ASSERT_EQ(async_udp_bind(&rt, &cli, &any), 0);
    ASSERT_EQ(async_sock_local_addr(&srv, &sa), 0);
    ASSERT_EQ(async_sock_local_addr(&cli, &ca), 0);
    e1.io = e2.io = &srv;
    c.io = &cli;
    c.to = &sa;
    /* two echo tasks wait on one socket: the first datagram goes to the first in
       line, the second to the other */
    async_task_spawn(&rt, &e1.task, udp_echo_run, "udp-echo-1");
    async_task_spawn(&rt, &e2.task, udp_echo_run, "udp-echo-2");
    async_task_spawn(&rt, &c.task, udp_client_run, "udp-client");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(e1.n, 12);
    ASSERT_EQ(async_addr_port(&e1.from), async_addr_port(&ca));   /* the sender */
    async_addr_format(&e1.from, text, sizeof text);
    ASSERT_HAS(text, "127.0.0.1:");
    ASSERT_EQ(c.n, 8);                          /* truncated to the buffer */
    CHECK(memcmp(c.buf, "two", 3) == 0);
    ASSERT_EQ(c.n2, 3);
    ASSERT_EQ(e2.n, 3);
    ASSERT_EQ(async_sock_peer_addr(&cli, &ca), 0);
    ASSERT_EQ(async_addr_port(&ca), async_addr_port(&sa));
    ASSERT_EQ(async_sock_peer_addr(&srv, &ca), -ENOTCONN);
    async_io_close(&srv);
    async_io_close(&cli);
    async_runtime_destroy(&rt);
}

/* ---- pipes, readiness, deregistration ------------------------------------------- */
typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    char buf[16];
    int n, n2, rc;
} pipe_reader;

static int pipe_reader_run(async_task *t) {
    pipe_reader *f = (pipe_reader *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_io_wait_ready(t, f->io, &f->w, ASYNC_IO_READ));
    ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_AWAIT(f->n2, async_io_read(t, f->io, &f->w, f->buf + f->n, sizeof f->buf));
    ASYNC_END(0);
}

TEST(pipe_read_write_eof_and_epipe) {
    static pipe_reader r;
    async_io rd, wr;
    ZERO(r); ZERO(rd); ZERO(wr);
    rt_real();
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    r.io = &rd;
    async_task_spawn(&rt, &r.task, pipe_reader_run, "pipe-reader");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);   /* it reads: nothing yet, it waits */
    ASSERT_EQ(rt.io.nwait, 1);
    CHECK(write(async_io_fd(&wr), "abc", 3) == 3);
    async_io_close(&wr);                        /* then EOF */
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.rc, ASYNC_IO_READ);
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.n2, 0);
    /* writing into a pipe whose reader is gone: EPIPE, and we are still alive */
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), ASYNC_EBUSY); /* rd still open */
    async_io_close(&rd);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    async_io_close(&rd);
    errno = 0;
#ifdef _WIN32
    {   /* a socket pair there: the writer learns of the closed reader from its reset */
        int k, n = 0;
        for (k = 0; k < 400 && (n = write(async_io_fd(&wr), "x", 1)) >= 0; k++) Sleep(5);
        CHECK(n < 0 && (WSAGetLastError() == WSAECONNRESET ||
                        WSAGetLastError() == WSAECONNABORTED));
    }
#else
    CHECK(write(async_io_fd(&wr), "x", 1) < 0 && errno == EPIPE);
#endif
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    size_t cap;
    int string, n;
    char buf[16];
} to_end_reader;

static int to_end_run(async_task *t) {
    to_end_reader *f = (to_end_reader *)t;
    ASYNC_BEGIN(t);
    if (f->string)
        ASYNC_AWAIT(f->n, async_io_read_to_string(t, f->io, &f->w, f->buf, f->cap));
    else
        ASYNC_AWAIT(f->n, async_io_read_to_end(t, f->io, &f->w, f->buf, f->cap));
    ASYNC_END(0);
}

/* read_to_end / read_to_string on a pipe whose data comes in parts: everything up to
   the end; exactly the capacity fits, one byte more is ASYNC_ELIMIT (what came is in
   the buffer); a string is terminated and checked as UTF-8. */
static int read_to_end_of(const char *data, size_t cap, int string, to_end_reader *r) {
    async_io rd, wr;
    size_t len = strlen(data), half = len / 2;
    ZERO(*r); ZERO(rd); ZERO(wr);
    rt_real();
    if (async_io_pipe(&rt, &rd, &wr) != 0) {   /* a fault the test cannot go on after */
        async_runtime_destroy(&rt);
        return -1;
    }
    r->io = &rd;
    r->cap = cap;
    r->string = string;
    async_task_spawn(&rt, &r->task, to_end_run, "to-end");
    async_runtime_step(&rt, 0);                 /* waits */
    if (write(async_io_fd(&wr), data, half) != (ssize_t)half) r->n = -1;
    async_runtime_step(&rt, 0);                 /* takes the first part, waits again */
    if (write(async_io_fd(&wr), data + half, len - half) != (ssize_t)(len - half)) r->n = -1;
    async_io_close(&wr);                        /* then the end */
    async_runtime_run(&rt);
    async_io_close(&rd);
    async_runtime_destroy(&rt);
    return r->n;
}

TEST(read_to_end_and_to_string) {
    static to_end_reader r;
    ASSERT_EQ(read_to_end_of("hello, world", 16, 0, &r), 12);
    CHECK(memcmp(r.buf, "hello, world", 12) == 0);
    ASSERT_EQ(read_to_end_of("hello", 5, 0, &r), 5);           /* exactly full */
    ASSERT_EQ(read_to_end_of("hello!", 5, 0, &r), ASYNC_ELIMIT);
    CHECK(memcmp(r.buf, "hello", 5) == 0);
    ASSERT_EQ(read_to_end_of("", 5, 0, &r), 0);
    ASSERT_EQ(read_to_end_of("h\xc3\xa9llo", 7, 1, &r), 6);    /* 6 bytes and the NUL */
    ASSERT_STR(r.buf, "h\xc3\xa9llo");
    ASSERT_EQ(read_to_end_of("h\xc3\xa9llo", 6, 1, &r), ASYNC_ELIMIT);
    ASSERT_STR(r.buf, "h\xc3\xa9ll");                           /* cut, still a string */
    ASSERT_EQ(read_to_end_of("ab\xc3", 8, 1, &r), -EILSEQ);     /* a cut sequence */
    ASSERT_EQ(read_to_end_of("\xed\xa0\x80", 8, 1, &r), -EILSEQ); /* a surrogate */
    ASSERT_EQ(read_to_end_of("\xc0\xaf", 8, 1, &r), -EILSEQ);   /* overlong */
    ASSERT_EQ(read_to_end_of("\xf0\x9f\x98\x80", 8, 1, &r), 4); /* U+1F600 */
    ASSERT_EQ(async_io_read_to_string(NULL, NULL, NULL, r.buf, 0), ASYNC_EINVAL);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    char buf[8];
    int n;
} waiting_reader;

static int waiting_reader_run(async_task *t) {
    waiting_reader *f = (waiting_reader *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_END(f->n);
}

TEST(close_wakes_waiters_with_eclosed) {
    static waiting_reader a, b;
    async_io rd, wr;
    ZERO(a); ZERO(b); ZERO(rd); ZERO(wr);
    rt_real();
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    a.io = b.io = &rd;
    async_task_spawn(&rt, &a.task, waiting_reader_run, "a");
    async_task_spawn(&rt, &b.task, waiting_reader_run, "b");
    ASSERT_EQ(async_runtime_step(&rt, 0), 2);
    ASSERT_EQ(rt.io.nwait, 2);                  /* two readers on one descriptor */
    async_io_close(&rd);
    ASSERT_EQ(rt.io.nwait, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.n, ASYNC_ECLOSED);
    ASSERT_EQ(b.n, ASYNC_ECLOSED);
    /* an op on a closed io fails the same way, without waiting */
    ZERO(a);
    a.io = &rd;
    async_task_spawn(&rt, &a.task, waiting_reader_run, "a");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.n, ASYNC_ECLOSED);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}

TEST(abort_and_timeout_of_waits_release_the_descriptor) {
    static waiting_reader a;
    async_io rd, wr;
    ZERO(a); ZERO(rd); ZERO(wr);
    test_rt_paused(&rt);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    a.io = &rd;
    async_task_spawn(&rt, &a.task, waiting_reader_run, "a");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(rt.io.nwait, 1);
    async_task_abort(&a.task);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.task.u.result, ASYNC_ECANCELED);
    ASSERT_EQ(rt.io.nwait, 0);
    CHECK(rd.rq.head == NULL);
    ASSERT_EQ(rd.interest, 0);                  /* poll no longer watches it */
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_timer timer;
    char buf[8];
    int n, n2;
} timed_reader;

static int timed_reader_run(async_task *t) {
    timed_reader *f = (timed_reader *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT(f->n, &f->timer, MS(100),
                        async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    /* the timeout cancelled the read cleanly: the next read works */
    ASYNC_AWAIT_TIMEOUT(f->n2, &f->timer, MS(100),
                        async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_timer timer;
    int rc;
} late_writer;

static int late_writer_run(async_task *t) {
    late_writer *f = (late_writer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(150)));
    ASYNC_AWAIT(f->rc, async_io_write(t, f->io, &f->w, "late", 4));
    ASYNC_END(f->rc);
}

TEST(timeout_around_a_read_on_the_paused_clock) {
    static timed_reader r;
    static late_writer lw;
    async_io rd, wr;
    async_time t0;
    ZERO(r); ZERO(lw); ZERO(rd); ZERO(wr);
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    r.io = &rd;
    lw.io = &wr;
    async_task_spawn(&rt, &r.task, timed_reader_run, "reader");
    async_task_spawn(&rt, &lw.task, late_writer_run, "writer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(r.n, ASYNC_ETIMEDOUT);            /* at +100 ms */
    ASSERT_EQ(r.n2, 4);                         /* at +150 ms */
    CHECK(memcmp(r.buf, "late", 4) == 0);
    ASSERT_EQ(async_time_now(&rt) - t0, MS(150));
    ASSERT_EQ(rt.io.nwait, 0);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}

#ifdef TEST_FAULTS
/* Before the paused clock jumps to the next timer it looks at I/O without waiting
   (Tokio's order); a signal landing in that look (EINTR) used to count as "nothing
   ready", so the clock jumped past data already there: the reader timed out at +200
   instead of reading at +150. Found by the sys perturbation mode (tests/faults.h). */
static int g_eintr_left;
static int eintr_on_quick_looks(void *user, int call, int fd, size_t *len) {
    (void)user; (void)len;
    if (call == ASYNC_SYS_WAIT && fd == 0 && g_eintr_left > 0) {
        g_eintr_left--;
        return -EINTR;
    }
    return 0;
}
TEST(eintr_in_the_look_before_auto_advance_misses_no_io) {
    static timed_reader r;
    static late_writer lw;
    async_io rd, wr;
    async_time t0;
    async_faults fx;
    ZERO(r); ZERO(lw); ZERO(rd); ZERO(wr); ZERO(fx);
    test_rt_paused(&rt);
    t0 = async_time_now(&rt);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    r.io = &rd;
    lw.io = &wr;
    async_task_spawn(&rt, &r.task, timed_reader_run, "reader");
    async_task_spawn(&rt, &lw.task, late_writer_run, "writer");
    fx.sys = eintr_on_quick_looks;
    g_eintr_left = 1000;
    async_faults_set(&fx);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    async_faults_set(NULL);
    ASSERT_EQ(r.n, ASYNC_ETIMEDOUT);            /* at +100 ms */
    ASSERT_EQ(r.n2, 4);                         /* at +150 ms */
    ASSERT_EQ(async_time_now(&rt) - t0, MS(150));
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}
#endif

/* ---- 1000 connections, and many round trips without a lost wake-up -------------- */
enum { NCONN = 1000 };

TEST(thousand_concurrent_connections) {
    static async_io lis;
    static acceptor acc;
    static echo_conn conns[NCONN];
    static client cl[NCONN];
    static char msgs[NCONN][32];
    async_addr bound;
    int i, ok = 0;
#ifndef _WIN32                                  /* (Windows: no such limit) */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * NCONN + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    ASSERT_EQ(rl.rlim_cur >= 2 * NCONN + 64, 1);        /* .ci/run raises the limit */
#endif
    ZERO(lis); ZERO(acc); ZERO(conns); ZERO(cl);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    acc.lis = &lis;
    acc.conns = conns;
    acc.nconns = NCONN;
    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    for (i = 0; i < NCONN; i++) {
        snprintf(msgs[i], sizeof msgs[i], "client %d says hi", i);
        cl[i].to = bound;
        cl[i].msg = msgs[i];
        cl[i].len = strlen(msgs[i]);
        async_task_spawn(&rt, &cl[i].task, client_run, "client");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    for (i = 0; i < NCONN; i++)
        ok += cl[i].task.u.result == (int)cl[i].len && cl[i].eof == 0 &&
              memcmp(cl[i].back, msgs[i], cl[i].len) == 0;
    ASSERT_EQ(ok, NCONN);
    ASSERT_EQ(acc.rc, 0);
    CHECK(rt.io.cap >= 2 * NCONN);              /* the table grew */
    async_io_close(&lis);
    ASSERT_EQ(rt.io.n, 1);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    int rounds, i, rc, serve;
    char b;
} pinger;

static int pinger_run(async_task *t) {
    pinger *f = (pinger *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->rounds; f->i++) {
        if (!f->serve) {
            f->b = (char)f->i;
            ASYNC_AWAIT(f->rc, async_io_write(t, &f->io, &f->w, &f->b, 1));
            if (f->rc != 1) break;
        }
        ASYNC_AWAIT(f->rc, async_io_read(t, &f->io, &f->w, &f->b, 1));
        if (f->rc != 1 || f->b != (char)f->i) break;
        if (f->serve) {
            ASYNC_AWAIT(f->rc, async_io_write(t, &f->io, &f->w, &f->b, 1));
            if (f->rc != 1) break;
        }
    }
    ASYNC_END(f->i);
}

#ifdef _WIN32
#define PING_ROUNDS 2000        /* a round trip under Wine: a millisecond, not microseconds */
#else
#define PING_ROUNDS 20000
#endif
TEST(ping_pong_loses_no_wakeup) {
    static pinger a, b;
    int sv[2];
    ZERO(a); ZERO(b);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a.io, sv[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &b.io, sv[1]), 0);
    a.rounds = b.rounds = PING_ROUNDS;
    b.serve = 1;
    async_task_spawn(&rt, &a.task, pinger_run, "ping");
    async_task_spawn(&rt, &b.task, pinger_run, "pong");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(a.task.u.result, PING_ROUNDS);
    ASSERT_EQ(b.task.u.result, PING_ROUNDS);
    CHECK(rt.stats.io_events > 0);
    async_io_close(&a.io);
    async_io_close(&b.io);
    async_runtime_destroy(&rt);
}

/* A task that always has data to read cannot starve another task: the budget. */
typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    char buf[1];
    int rc, reads, *stop;
} greedy;

static int greedy_run(async_task *t) {
    greedy *f = (greedy *)t;
    ASYNC_BEGIN(t);
    while (!*f->stop) {
        ASYNC_AWAIT(f->rc, async_io_read(t, f->io, &f->w, f->buf, 1));
        if (f->rc != 1) break;
        f->reads++;
    }
    ASYNC_END(f->reads);
}

typedef struct {
    async_task task;
    int i, *stop;
} ticker3;

static int ticker3_run(async_task *t) {
    ticker3 *f = (ticker3 *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) ASYNC_YIELD();
    *f->stop = 1;
    ASYNC_END(0);
}

TEST(budget_stops_a_reader_that_is_always_ready) {
    static greedy g;
    static ticker3 k;
    static char junk[100000];
    int stop = 0, sv[2];
    async_io a;
    ZERO(g); ZERO(k); ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ((int)write(sv[1], junk, sizeof junk) > 1000, 1);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    g.io = &a;
    g.stop = k.stop = &stop;
    async_task_spawn(&rt, &g.task, greedy_run, "greedy");
    async_task_spawn(&rt, &k.task, ticker3_run, "ticker");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    /* the ticker's three yields came between budgets of 128 reads */
    CHECK(g.task.u.result >= 128);
    CHECK(g.task.u.result <= 5 * 128);
    async_io_close(&a);
    close(sv[1]);
    async_runtime_destroy(&rt);
}

/* ---- options, bad input, a runtime destroyed with descriptors left ------------- */
TEST(socket_options_and_bad_input) {
    static connector c;
    static acceptor acc;
    static echo_conn conns[1];
    async_io lis, x;
    async_addr bound;
    async_waiter w;
    int v = 0;
    socklen_t l = sizeof v;
    ZERO(c); ZERO(acc); ZERO(conns); ZERO(lis); ZERO(x); ZERO(w);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    acc.lis = &lis;
    acc.conns = conns;
    acc.nconns = 1;
    c.to = bound;
    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    ASSERT_EQ(run_until(&c.task), 0);           /* the echo connection still reads */
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(async_sock_set_nodelay(&c.io, 1), 0);
    getsockopt(async_io_fd(&c.io), IPPROTO_TCP, TCP_NODELAY, &v, &l);
    CHECK(v != 0);
    ASSERT_EQ(async_sock_set_keepalive(&c.io, 1), 0);
    getsockopt(async_io_fd(&c.io), SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    CHECK(v != 0);
    ASSERT_EQ(async_sock_set_keepalive(&c.io, 0), 0);
    getsockopt(async_io_fd(&c.io), SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(async_sock_take_error(&c.io), 0);
    ASSERT_EQ(async_io_shutdown(&c.io, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_io_shutdown(&c.io, 4), ASYNC_EINVAL);
    /* bad arguments */
    ASSERT_EQ(async_io_register(&rt, &x, -1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_register(NULL, &x, 0), ASYNC_EINVAL);
#ifdef _WIN32                                   /* Winsock: not a socket */
    ASSERT_EQ(async_io_register(&rt, &x, 12345), -ENOTSOCK);
#else
    ASSERT_EQ(async_io_register(&rt, &x, 12345), -EBADF);
#endif
    CHECK(x.rt == NULL);
    ASSERT_EQ(async_io_register(&rt, &c.io, async_io_fd(&c.io)), ASYNC_EBUSY);
    ASSERT_EQ(async_io_deregister(&x), ASYNC_ESTATE);
    ASSERT_EQ(async_io_fd(&x), ASYNC_EINVAL);
    ASSERT_EQ(async_io_clear_ready(&x, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_set_nodelay(&x, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&rt, &x, NULL, NULL), ASYNC_EINVAL);
    ZERO(bound);
    ASSERT_EQ(async_sock_listen(&rt, &x, &bound, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_connect(&x, &bound), ASYNC_EINVAL);
    ASSERT_EQ(async_io_pipe(&rt, &x, &x), ASYNC_EINVAL);
    ASSERT_EQ(rt.io.n, 4);                      /* lis, c.io, conns[0].conn */
    ASSERT_EQ(strcmp(async_runtime_io_backend(&rt), "poll") == 0 ||
              strcmp(async_runtime_io_backend(&rt), "epoll") == 0 ||
              strcmp(async_runtime_io_backend(&rt), "io_uring") == 0 ||
              strcmp(async_runtime_io_backend(&rt), "wsapoll") == 0, 1);
    /* destroying the runtime ends the echo task (its cleanup closes its socket) and
       detaches what is left; closing those afterwards only closes them */
    CHECK(async_runtime_destroy(&rt) >= 1);
    CHECK(conns[0].conn.rt == NULL);
    CHECK(c.io.rt == NULL);
    ASSERT_EQ(async_io_close(&c.io), 0);
    ASSERT_EQ(async_io_close(&lis), 0);
    ASSERT_EQ(c.io.fd, -1);
}

TEST(register_restores_blocking_mode) {
#ifdef _WIN32
    SKIP_WIN("Winsock cannot tell a socket's blocking mode");
#else
    int sv[2], fl;
    async_io a;
    ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    fl = fcntl(sv[0], F_GETFL);
    CHECK(fl & O_NONBLOCK);
    ASSERT_EQ(async_io_deregister(&a), sv[0]);  /* still open, blocking again */
    fl = fcntl(sv[0], F_GETFL);
    CHECK(!(fl & O_NONBLOCK));
    ASSERT_EQ(rt.io.n, 1);
    close(sv[0]);
    close(sv[1]);
    async_runtime_destroy(&rt);
#endif
}

/* ---- buffered reader and writer ------------------------------------------------- */
typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    const char *data;
    size_t len, i, chunk;
    int rc;
} dribbler;

/* writes data `chunk` bytes at a time, yielding in between, then closes */
static int dribbler_run(async_task *t) {
    dribbler *f = (dribbler *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < f->len; f->i += f->chunk) {
        ASYNC_AWAIT(f->rc, async_io_write_all(t, f->io, &f->w, f->data + f->i,
                                              f->len - f->i < f->chunk ? f->len - f->i : f->chunk));
        ASYNC_YIELD();
    }
    async_io_close(f->io);
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    async_bufreader r;
    async_waiter w;
    char line[8];
    char log[512];
    int n;
} line_reader;

static int line_reader_run(async_task *t) {
    line_reader *f = (line_reader *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_bufreader_read_line(t, &f->r, &f->w, f->line, sizeof f->line));
        if (f->n == ASYNC_ELIMIT) {
            snprintf(f->log + strlen(f->log), sizeof f->log - strlen(f->log), "[%s+]", f->line);
            continue;
        }
        if (f->n <= 0) break;
        snprintf(f->log + strlen(f->log), sizeof f->log - strlen(f->log), "[%s]", f->line);
    }
    ASYNC_END(f->n);
}

TEST(bufreader_lines_at_every_split) {
    static const char text[] = "alpha\nbeta\r\n\n0123456789AB\nlast";
    static const char want[] = "[alpha\n][beta\r\n][\n][0123456+][789AB\n][last]";
    size_t chunk;
    for (chunk = 1; chunk <= sizeof text; chunk++) {
        static dribbler d;
        static line_reader lr;
        static char buf[5];                     /* smaller than a line, on purpose */
        async_io rd, wr;
        ZERO(d); ZERO(lr); ZERO(rd); ZERO(wr);
        rt_real();
        ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
        ASSERT_EQ(async_bufreader_init(&lr.r, &rd, buf, sizeof buf), 0);
        d.io = &wr;
        d.data = text;
        d.len = sizeof text - 1;
        d.chunk = chunk;
        async_task_spawn(&rt, &d.task, dribbler_run, "writer");
        async_task_spawn(&rt, &lr.task, line_reader_run, "reader");
        ASSERT_EQ(async_runtime_run(&rt), 0);
        if (strcmp(lr.log, want) != 0) FAIL_("chunk %zu: %s", chunk, lr.log);
        ASSERT_EQ(lr.n, 0);
        async_io_close(&rd);
        async_runtime_destroy(&rt);
    }
}

typedef struct {
    async_task task;
    async_bufreader r;
    async_waiter w;
    char big[64], small[2];
    int n1, n2, n3, n4, more;
    size_t avail;
} buf_prober;

static int buf_prober_run(async_task *t) {
    buf_prober *f = (buf_prober *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->n1, async_bufreader_fill(t, &f->r, &f->w));      /* "hello world" */
    async_bufreader_data(&f->r, &f->avail);
    ASYNC_AWAIT(f->n2, async_bufreader_read(t, &f->r, &f->w, f->small, sizeof f->small));
    ASYNC_AWAIT(f->more, async_bufreader_fill_more(t, &f->r, &f->w));   /* "!!" */
    ASYNC_AWAIT(f->n3, async_bufreader_read(t, &f->r, &f->w, f->big, sizeof f->big));
    ASYNC_AWAIT(f->n4, async_bufreader_read(t, &f->r, &f->w, f->big, sizeof f->big));
    ASYNC_END(0);
}

TEST(bufreader_fill_consume_and_reads) {
    static buf_prober b;
    static char buf[16];
    int sv[2];
    async_io a;
    ZERO(b); ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    ASSERT_EQ(async_bufreader_init(&b.r, &a, buf, sizeof buf), 0);
    ASSERT_EQ(async_bufreader_init(&b.r, &a, buf, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&b.r, &a, buf, sizeof buf), 0);
    CHECK(write(sv[1], "hello world", 11) == 11);
    async_task_spawn(&rt, &b.task, buf_prober_run, "prober");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(b.n1, 11);
    ASSERT_EQ(b.avail, 11);
    ASSERT_EQ(b.n2, 2);                         /* "he", from the buffer */
    CHECK(write(sv[1], "!!", 2) == 2);
    close(sv[1]);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.more, 2);                       /* appended after what was left */
    ASSERT_EQ(b.n3, 11);                        /* "llo world!!" */
    CHECK(memcmp(b.big, "llo world!!", 11) == 0);
    ASSERT_EQ(b.n4, 0);
    ASSERT_EQ(async_bufreader_consume(&b.r, 1), ASYNC_EINVAL);     /* nothing buffered */
    async_io_close(&a);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_bufwriter bw;
    async_waiter w;
    int i, rc;
    size_t total;
    char piece[100];
} buf_writer_task;

/* 20000 pieces of 100 bytes through a 4 KB buffer, then one of 10000 bytes */
static int buf_writer_run(async_task *t) {
    buf_writer_task *f = (buf_writer_task *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 20000; f->i++) {
        memset(f->piece, 'a' + f->i % 26, sizeof f->piece);
        ASYNC_AWAIT(f->rc, async_bufwriter_write(t, &f->bw, &f->w, f->piece, sizeof f->piece));
        if (f->rc < 0) ASYNC_RETURN(f->rc);
        f->total += (size_t)f->rc;
    }
    {
        static char big[10000];
        memset(big, 'Z', sizeof big);
        ASYNC_AWAIT(f->rc, async_bufwriter_write(t, &f->bw, &f->w, big, sizeof big));
    }
    f->total += (size_t)f->rc;
    ASYNC_AWAIT(f->rc, async_bufwriter_flush(t, &f->bw, &f->w));
    async_io_close(f->bw.io);
    ASYNC_END(f->rc);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_timer timer;
    char buf[1000];
    int n, bad;
    size_t total;
} checking_reader;

static int checking_reader_run(async_task *t) {
    checking_reader *f = (checking_reader *)t;
    int i;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_time_sleep(t, &f->timer, MS(1)));  /* slow */
        ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        for (i = 0; i < f->n; i++) {
            size_t at = f->total + (size_t)i;
            char want = at < 2000000 ? (char)('a' + (at / 100) % 26) : 'Z';
            if (f->buf[i] != want) f->bad++;
        }
        f->total += (size_t)f->n;
    }
    ASYNC_END(f->n);
}

TEST(bufwriter_batches_and_flushes_under_backpressure) {
    static buf_writer_task wt;
    static checking_reader cr;
    static char wbuf[4096];
    int sv[2];
    async_io a, b;
    ZERO(wt); ZERO(cr); ZERO(a); ZERO(b);
    test_rt_paused(&rt);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &b, sv[1]), 0);
    ASSERT_EQ(async_bufwriter_init(&wt.bw, &a, wbuf, sizeof wbuf), 0);
    cr.io = &b;
    async_task_spawn(&rt, &wt.task, buf_writer_run, "writer");
    async_task_spawn(&rt, &cr.task, checking_reader_run, "reader");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(wt.rc, 0);
    ASSERT_EQ(wt.total, 2010000);
    ASSERT_EQ(cr.total, 2010000);               /* every byte, in order */
    ASSERT_EQ(cr.bad, 0);
    CHECK(rt.stats.io_waits > 0);               /* the writer waited for the reader */
    async_io_close(&b);
    async_runtime_destroy(&rt);
}

/* ---- name resolution and files through the pool -------------------------------- */
typedef struct {
    async_task task;
    async_pool *pool;
    async_resolve_op op;
    const char *host, *service;
    async_addr out[8];
    int n;
} resolver;

static int resolver_run(async_task *t) {
    resolver *f = (resolver *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->n, async_pool_resolve(t, f->pool, &f->op, f->host, f->service, f->out, 8));
    ASYNC_END(f->n);
}

TEST(resolve_names_on_the_pool) {
    static resolver r[3];
    async_pool pool;
    char text[64];
    int i;
    ZERO(r);
    rt_real();
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    r[0].host = "localhost";
    r[0].service = "80";
    r[1].host = "127.0.0.1";
    r[1].service = "8080";
    r[2].host = "127.0.0.1";
    r[2].service = "no-such-service-4711";
    for (i = 0; i < 3; i++) {
        r[i].pool = &pool;
        async_task_spawn(&rt, &r[i].task, resolver_run, "resolver");
    }
    ASSERT_EQ(async_runtime_run(&rt), 0);
    CHECK(r[0].n >= 1);
    for (i = 0; i < r[0].n; i++) {
        CHECK(async_addr_family(&r[0].out[i]) == AF_INET || async_addr_family(&r[0].out[i]) == AF_INET6);
        ASSERT_EQ(async_addr_port(&r[0].out[i]), 80);
    }
    ASSERT_EQ(r[1].n, 1);
    async_addr_format(&r[1].out[0], text, sizeof text);
    ASSERT_STR(text, "127.0.0.1:8080");
    ASSERT_EQ(r[2].n, ASYNC_ENOTFOUND);
    CHECK(r[0].op.req == NULL);                 /* freed */
    ASSERT_EQ(async_pool_resolve(NULL, &pool, &r[0].op, "x", "1", r[0].out, 8), ASYNC_EINVAL);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    const char *path;
    int fd, wrote, read1, read2, missing, rc;
    char buf[32];
} filer;

static int filer_run(async_task *t) {
    filer *f = (filer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->fd, async_file_open(t, f->pool, &f->op, f->path,
                                       O_RDWR | O_CREAT | O_TRUNC, 0600));
    if (f->fd < 0) ASYNC_RETURN(f->fd);
    ASYNC_AWAIT(f->wrote, async_file_write(t, f->pool, &f->op, f->fd, "hello, file", 11, 0));
    ASYNC_AWAIT(f->read1, async_file_read(t, f->pool, &f->op, f->fd, f->buf, sizeof f->buf, 7));
    ASYNC_AWAIT(f->read2, async_file_read(t, f->pool, &f->op, f->fd, f->buf + 4, 5, -1));
#ifdef _WIN32
    _close(f->fd);                              /* (close is closesocket here) */
#else
    close(f->fd);
#endif
    ASYNC_AWAIT(f->missing, async_file_open(t, f->pool, &f->op, "/no/such/file", O_RDONLY, 0));
    ASYNC_END(0);
}

TEST(file_reads_and_writes_on_the_pool) {
    static filer f;
    async_pool pool;
    char path[64];
    ZERO(f);
    rt_real();
    snprintf(path, sizeof path, "/tmp/async-test-file-%d", (int)getpid());
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    f.pool = &pool;
    f.path = path;
    async_task_spawn(&rt, &f.task, filer_run, "filer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    CHECK(f.fd >= 0);
    ASSERT_EQ(f.wrote, 11);
    ASSERT_EQ(f.read1, 4);                      /* "file" from offset 7 */
    CHECK(memcmp(f.buf, "file", 4) == 0);
    ASSERT_EQ(f.read2, 5);                      /* at the position: 0, untouched by pread */
    CHECK(memcmp(f.buf + 4, "hello", 5) == 0);
    ASSERT_EQ(f.missing, -ENOENT);
    unlink(path);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
}

/* ---- whole files and whole streams ----------------------------------------------- */

typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    async_file_meta meta;
    char dir[96], path[128], nested[160];
    char buf[64], small[8], str[16], bad[16];
    int rc[20];
} wholer;

static int wholer_run(async_task *t) {
    wholer *f = (wholer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc[0], async_file_mkdir(t, f->pool, &f->op, f->dir, 0700, 0));
    ASYNC_AWAIT(f->rc[1], async_file_mkdir(t, f->pool, &f->op, f->dir, 0700, 0)); /* EEXIST */
    ASYNC_AWAIT(f->rc[2], async_file_mkdir(t, f->pool, &f->op, f->nested, 0700, 1)); /* all */
    ASYNC_AWAIT(f->rc[3], async_file_mkdir(t, f->pool, &f->op, f->nested, 0700, 1)); /* is */
    ASYNC_AWAIT(f->rc[4], async_file_write_all(t, f->pool, &f->op, f->path, "h\xc3\xa9llo", 6));
    ASYNC_AWAIT(f->rc[5], async_file_read_all(t, f->pool, &f->op, f->path, f->buf,
                                              sizeof f->buf));
    ASYNC_AWAIT(f->rc[6], async_file_read_all(t, f->pool, &f->op, f->path, f->small, 6));
    ASYNC_AWAIT(f->rc[7], async_file_read_all(t, f->pool, &f->op, f->path, f->small, 5));
    ASYNC_AWAIT(f->rc[8], async_file_read_string(t, f->pool, &f->op, f->path, f->str,
                                                 sizeof f->str));
    ASYNC_AWAIT(f->rc[9], async_file_stat(t, f->pool, &f->op, f->path, &f->meta));
    ASYNC_AWAIT(f->rc[10], async_file_write_all(t, f->pool, &f->op, f->path, "\xff", 1));
    f->bad[0] = 'x';
    ASYNC_AWAIT(f->rc[11], async_file_read_string(t, f->pool, &f->op, f->path, f->bad,
                                                  sizeof f->bad));   /* not UTF-8 */
    ASYNC_AWAIT(f->rc[12], async_file_remove_dir(t, f->pool, &f->op, f->dir)); /* not empty */
    ASYNC_AWAIT(f->rc[13], async_file_remove(t, f->pool, &f->op, f->path));
    ASYNC_AWAIT(f->rc[14], async_file_remove(t, f->pool, &f->op, f->path));    /* gone */
    ASYNC_AWAIT(f->rc[15], async_file_remove_dir(t, f->pool, &f->op, f->nested));
    ASYNC_AWAIT(f->rc[16], async_file_read_all(t, f->pool, &f->op, f->path, f->buf, 4));
    {
        char *slash = strrchr(f->nested, '/');
        *slash = 0;                         /* its parent, made by mkdir all */
    }
    ASYNC_AWAIT(f->rc[17], async_file_remove_dir(t, f->pool, &f->op, f->nested));
    ASYNC_AWAIT(f->rc[18], async_file_remove_dir(t, f->pool, &f->op, f->dir));
    ASYNC_AWAIT(f->rc[19], async_file_stat(t, f->pool, &f->op, f->dir, &f->meta));
    ASYNC_END(0);
}

/* tokio::fs's whole-file helpers: write, read (and past a limit), read_to_string
   (UTF-8 checked), metadata, create_dir(_all), remove_file, remove_dir; errors as
   -errno; every request freed. */
static unsigned test_umask(void) {
    mode_t m = umask(022);
    umask(m);
    return (unsigned)m;
}

/* What a run cut short by a fault left behind (its directory is named by the pid, and
   pids come round again): removed before the test and after it. */
static void wholer_clean(const char *dir) {
    char p[128];
    snprintf(p, sizeof p, "%s/file", dir);
    (void)unlink(p);
    snprintf(p, sizeof p, "%s/a/b", dir);
    (void)rmdir(p);
    snprintf(p, sizeof p, "%s/a", dir);
    (void)rmdir(p);
    (void)rmdir(dir);
}

TEST(file_whole_file_helpers) {
    static wholer f;
    async_pool pool;
    ZERO(f);
    rt_real();
    snprintf(f.dir, sizeof f.dir, "/tmp/async-test-dir-%d", (int)getpid());
    snprintf(f.path, sizeof f.path, "%s/file", f.dir);
    snprintf(f.nested, sizeof f.nested, "%s/a/b", f.dir);
    wholer_clean(f.dir);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    f.pool = &pool;
    async_task_spawn(&rt, &f.task, wholer_run, "wholer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc[0], 0);
    ASSERT_EQ(f.rc[1], -EEXIST);
    ASSERT_EQ(f.rc[2], 0);
    ASSERT_EQ(f.rc[3], 0);
    ASSERT_EQ(f.rc[4], 0);
    ASSERT_EQ(f.rc[5], 6);
    CHECK(memcmp(f.buf, "h\xc3\xa9llo", 6) == 0);
    ASSERT_EQ(f.rc[6], 6);                      /* exactly the capacity: fits */
    ASSERT_EQ(f.rc[7], ASYNC_ELIMIT);           /* one byte short */
    ASSERT_EQ(f.rc[8], 6);
    ASSERT_STR(f.str, "h\xc3\xa9llo");
    ASSERT_EQ(f.rc[9], 0);
    ASSERT_EQ(f.meta.size, 6);                  /* the failed stat left it as it was */
    CHECK(f.meta.is_file && !f.meta.is_dir);
    ASSERT_EQ(f.meta.mode & 0777, 0666 & ~test_umask());
    CHECK(f.meta.modified_ns > 1600000000LL * 1000000000LL);
    ASSERT_EQ(f.rc[10], 0);
    ASSERT_EQ(f.rc[11], -EILSEQ);
    ASSERT_STR(f.bad, "");
    ASSERT_EQ(f.rc[12], -ENOTEMPTY);
    ASSERT_EQ(f.rc[13], 0);
    ASSERT_EQ(f.rc[14], -ENOENT);
    ASSERT_EQ(f.rc[15], 0);
    ASSERT_EQ(f.rc[16], -ENOENT);
    ASSERT_EQ(f.rc[17], 0);
    ASSERT_EQ(f.rc[18], 0);
    ASSERT_EQ(f.rc[19], -ENOENT);
    CHECK(f.op.req == NULL);
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
    wholer_clean(f.dir);
}

typedef struct {
    async_task task;
    async_pool *pool;
    async_file_op op;
    async_timer timer;
    int fd, rc;
    char buf[16];
} timed_filer;

static int timed_filer_run(async_task *t) {
    timed_filer *f = (timed_filer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, MS(10),
                        async_file_read(t, f->pool, &f->op, f->fd, f->buf, sizeof f->buf, 0));
    ASYNC_END(f->rc);
}

static int block_until_pipe(void *arg) {
    char c;
    return (int)read(*(int *)arg, &c, 1);
}

typedef struct {
    async_task task;
    async_pool *pool;
    async_blocking job;
    int *fd;
    int rc;
} blocker;

static int blocker_run(async_task *t) {
    blocker *f = (blocker *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_pool_spawn(t, f->pool, &f->job, block_until_pipe, f->fd));
    ASYNC_END(f->rc);
}

TEST(cancelled_pool_ops_free_their_requests) {
    static blocker b;
    static timed_filer tf;
    async_pool pool;
    async_pool_desc d;
    int gate[2];
    long a0 = test_allocs;
    ZERO(b); ZERO(tf); ZERO(d);
    test_rt_paused(&rt);
    ASSERT_EQ(pipe(gate), 0);
    d.max_threads = 1;                          /* the blocker holds the only thread */
    ASSERT_EQ(async_pool_init(&pool, &rt, &d), 0);
    b.pool = tf.pool = &pool;
    b.fd = &gate[0];
    tf.fd = gate[0];
    async_task_spawn(&rt, &b.task, blocker_run, "blocker");
    async_task_spawn(&rt, &tf.task, timed_filer_run, "reader");
    ASSERT_EQ(run_until(&tf.task), 0);          /* the blocker still waits */
    ASSERT_EQ(tf.rc, ASYNC_ETIMEDOUT);          /* queued, then dropped */
    CHECK(tf.op.req == NULL);
    CHECK(test_allocs - a0 >= 3);               /* pool, thread, request */
    CHECK(write(gate[1], "x", 1) == 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(b.rc, 1);
    async_pool_destroy(&pool);
    close(gate[0]);
    close(gate[1]);
    async_runtime_destroy(&rt);
}

/* ---- EMFILE on accept: the server backs off and keeps serving -------------------- */
typedef struct {
    async_task task;
    async_io *lis, conn;
    async_waiter w;
    async_timer timer;
    int rc, emfile;
} backoff_acceptor;

/* The accept loop a server writes: out of descriptors, sleep 10 ms and try again
   (the listener stays readable, so retrying at once would spin). */
static int backoff_acceptor_run(async_task *t) {
    backoff_acceptor *f = (backoff_acceptor *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->conn, NULL));
        if (f->rc != -EMFILE && f->rc != -ENFILE) break;
        f->emfile++;
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, MS(10)));
    }
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, &f->conn, &f->w, "ok", 2));
    ASYNC_CLEANUP();
    async_io_close(&f->conn);
    ASYNC_END(f->rc);
}

TEST(emfile_on_accept_backs_off_and_recovers) {
#ifdef _WIN32
    (void)backoff_acceptor_run;
    SKIP_WIN("no descriptor limit (setrlimit) to lower");
#else
    static backoff_acceptor a;
    static int extra[600];
    struct rlimit old, low;
    async_io lis;
    async_addr bound;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char got[4] = {0};
    int cfd, n = 0, i, steps;
    ZERO(a); ZERO(lis);
    {
        async_runtime_desc d;
        ZERO(d);
        d.start_paused = 1;                     /* time moves only when we say */
        ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    }
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    /* a plain client: the kernel completes the handshake into the backlog */
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(getsockname(async_io_fd(&lis), (struct sockaddr *)&ss, &sl), 0);
    ASSERT_EQ(connect(cfd, (struct sockaddr *)&ss, sl), 0);
    /* use up every descriptor under a lowered limit */
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    if (low.rlim_cur > 512) low.rlim_cur = 512;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (n < (int)(sizeof extra / sizeof extra[0]) && (extra[n] = dup(cfd)) >= 0) n++;
    CHECK(n < (int)(sizeof extra / sizeof extra[0]) && errno == EMFILE);
    a.lis = &lis;
    async_task_spawn(&rt, &a.task, backoff_acceptor_run, "acceptor");
    /* the clock stands still: one attempt, then the task sleeps, however many
       times the loop turns; no busy loop */
    for (steps = 0; steps < 20; steps++) async_runtime_step(&rt, 0);
    ASSERT_EQ(a.emfile, 1);
    CHECK(!async_task_is_finished(&a.task));
    ASSERT_EQ(async_time_advance(&rt, MS(10)), 0);
    for (steps = 0; steps < 20; steps++) async_runtime_step(&rt, 0);
    ASSERT_EQ(a.emfile, 2);                     /* one more try per backoff */
    /* descriptors come back: the next try accepts the waiting connection */
    for (i = 0; i < n; i++) close(extra[i]);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    ASSERT_EQ(async_time_advance(&rt, MS(10)), 0);
    ASSERT_EQ(run_until(&a.task), 0);
    ASSERT_EQ(a.emfile, 2);
    ASSERT_EQ(a.task.u.result, 2);              /* write_all: bytes written */
    CHECK(read(cfd, got, sizeof got) == 2 && memcmp(got, "ok", 2) == 0);
    close(cfd);
    async_io_close(&lis);
    ASSERT_EQ(rt.io.n, 1);
    async_runtime_destroy(&rt);
#endif
}

/* ---- EINTR: a signal storm while data moves changes nothing ---------------------- */
static volatile sig_atomic_t eintr_hits;
static void eintr_handler(int sig) { (void)sig; eintr_hits++; }

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    unsigned char buf[8192];
    size_t total;
    unsigned sum;
    int n;
} sum_reader;

static int sum_reader_run(async_task *t) {
    sum_reader *f = (sum_reader *)t;
    int i;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        for (i = 0; i < f->n; i++) f->sum = f->sum * 31u + f->buf[i];
        f->total += (size_t)f->n;
    }
    ASYNC_END(f->n);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    const unsigned char *data;
    size_t len;
    int rc;
} all_writer;

static int all_writer_run(async_task *t) {
    all_writer *f = (all_writer *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, f->io, &f->w, f->data, f->len));
    async_io_close(f->io);                      /* EOF for the reader */
    ASYNC_END(f->rc);
}

TEST(signals_interrupting_the_loop_lose_nothing) {
#ifdef _WIN32
    (void)eintr_handler; (void)sum_reader_run; (void)all_writer_run;
    SKIP_WIN("no POSIX signals (SIGALRM) to interrupt a wait");
#else
    static sum_reader r;
    static all_writer w;
    static unsigned char data[1 << 20];
    struct sigaction sa, olda;
    struct itimerval it, oldit;
    async_io rd, wr;
    unsigned sum = 0;
    size_t i;
    ZERO(r); ZERO(w); ZERO(rd); ZERO(wr);
    for (i = 0; i < sizeof data; i++) {
        data[i] = (unsigned char)(i * 7 + (i >> 9));
        sum = sum * 31u + data[i];
    }
    rt_real();
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    /* SIGALRM every 100 us, without SA_RESTART: poll and epoll_wait fail with EINTR */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = eintr_handler;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGALRM, &sa, &olda), 0);
    memset(&it, 0, sizeof it);
    it.it_interval.tv_usec = 100;
    it.it_value.tv_usec = 100;
    eintr_hits = 0;
    ASSERT_EQ(setitimer(ITIMER_REAL, &it, &oldit), 0);
    r.io = &rd;
    w.io = &wr;
    w.data = data;
    w.len = sizeof data;
    async_task_spawn(&rt, &r.task, sum_reader_run, "reader");
    async_task_spawn(&rt, &w.task, all_writer_run, "writer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    sigaction(SIGALRM, &olda, NULL);
    setitimer(ITIMER_REAL, &oldit, NULL);       /* the hang guard again */
    ASSERT_EQ(w.rc, (int)sizeof data);
    ASSERT_EQ(r.n, 0);
    ASSERT_EQ(r.total, sizeof data);
    ASSERT_EQ(r.sum, sum);
    CHECK(eintr_hits > 0);
    async_io_close(&rd);
    async_runtime_destroy(&rt);
#endif
}

/* ---- async_io_move: accept into the acceptor's frame, hand over to a task ----------- */
typedef struct {
    async_task task;
    async_io *lis, tmp;
    async_waiter w;
    echo_conn *conn;
    int rc, moved;
} mover;

static int mover_run(async_task *t) {
    mover *f = (mover *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->tmp, NULL));
    if (f->rc < 0) ASYNC_RETURN(f->rc);
    f->moved = async_io_move(&f->conn->conn, &f->tmp);
    async_task_spawn(async_task_runtime(t), &f->conn->task, echo_conn_run, "moved-conn");
    ASYNC_END(f->moved);
}

TEST(io_move_hands_a_connection_to_another_task) {
    static mover m;
    static echo_conn ec;
    static client c;
    static waiting_reader wr;
    async_io lis, a, b, rd, wrp;
    async_addr bound;
    ZERO(m); ZERO(ec); ZERO(c); ZERO(wr); ZERO(lis); ZERO(a); ZERO(b); ZERO(rd); ZERO(wrp);
    rt_real();
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    m.lis = &lis;
    m.conn = &ec;
    c.to = bound;
    c.msg = "moved along";
    c.len = strlen(c.msg);
    async_task_spawn(&rt, &m.task, mover_run, "mover");
    async_task_spawn(&rt, &c.task, client_run, "client");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(m.moved, 0);
    CHECK(m.tmp.rt == NULL && async_io_fd(&m.tmp) == ASYNC_EINVAL);    /* left closed */
    ASSERT_EQ(async_io_close(&m.tmp), 0);                  /* and closing it is a no-op */
    ASSERT_EQ(c.task.u.result, (long long)c.len);
    CHECK(memcmp(c.back, c.msg, c.len) == 0);
    ASSERT_EQ(ec.total, (int)c.len);
    /* refused: a registered destination, a source with a waiter, bad arguments */
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wrp), 0);
    ASSERT_EQ(async_io_move(&wrp, &rd), ASYNC_EBUSY);
    ASSERT_EQ(async_io_move(&rd, &rd), ASYNC_EINVAL);
    ASSERT_EQ(async_io_move(NULL, &rd), ASYNC_EINVAL);
    wr.io = &rd;
    async_task_spawn(&rt, &wr.task, waiting_reader_run, "waiter");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    ASSERT_EQ(async_io_move(&a, &rd), ASYNC_EBUSY);
    CHECK(write(async_io_fd(&wrp), "x", 1) == 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(wr.n, 1);
    /* moved twice, then still readable through the new place */
    ASSERT_EQ(async_io_move(&a, &rd), 0);
    ASSERT_EQ(async_io_move(&b, &a), 0);
    ZERO(wr);
    wr.io = &b;
    async_task_spawn(&rt, &wr.task, waiting_reader_run, "waiter2");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    CHECK(write(async_io_fd(&wrp), "y", 1) == 1);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(wr.n, 1);
    CHECK(wr.buf[0] == 'y');
    async_io_close(&b);
    async_io_close(&wrp);
    async_io_close(&lis);
    ASSERT_EQ(rt.io.n, 1);
    async_runtime_destroy(&rt);
}

/* ---- bad arguments: a clear error, nothing changed ------------------------------- */
typedef struct { async_task task; void (*body)(async_task *t); } io_script;
static int io_script_run(async_task *t) {
    io_script *f = (io_script *)t;
    ASYNC_BEGIN(t);
    f->body(t);
    ASYNC_END(0);
}
static void run_io_script(void (*body)(async_task *t)) {
    static io_script f;
    ZERO(f);
    f.body = body;
    rt_real();
    async_task_spawn(&rt, &f.task, io_script_run, "script");
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}
static void io_bad_arguments_body(async_task *t) {
    async_runtime zero;
    async_io a, b, x, lis;
    async_waiter w;
    async_addr ad, none, huge;
    async_listen_opts o;
    async_bufreader r, r0;
    async_bufwriter wr;
    char buf[16], line[16];
    size_t len = 99;
    int sv[2];
    ZERO(zero); ZERO(a); ZERO(b); ZERO(x); ZERO(lis); ZERO(w); ZERO(none); ZERO(o); ZERO(r0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &b, sv[1]), 0);
    /* registration */
    ASSERT_EQ(async_io_register(&rt, NULL, sv[0]), ASYNC_EINVAL);
    ASSERT_EQ(async_io_register(&zero, &x, sv[0]), ASYNC_EINVAL);
    ASSERT_EQ(async_io_move(NULL, &a), ASYNC_EINVAL);
    ASSERT_EQ(async_io_move(&x, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_io_move(&a, &a), ASYNC_EINVAL);
    ASSERT_EQ(async_io_move(&a, &b), ASYNC_EBUSY);               /* a is registered */
    ASSERT_EQ(async_io_deregister(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_io_close(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_io_fd(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_io_pipe(NULL, &x, &lis), ASYNC_EINVAL);
    ASSERT_EQ(async_io_pipe(&rt, NULL, &lis), ASYNC_EINVAL);
    ASSERT_EQ(async_io_pipe(&rt, &x, NULL), ASYNC_EINVAL);
    /* operations */
    ASSERT_EQ(async_io_wait_ready(NULL, &a, &w, ASYNC_IO_READ), ASYNC_EINVAL);
    ASSERT_EQ(async_io_wait_ready(t, NULL, &w, ASYNC_IO_READ), ASYNC_EINVAL);
    ASSERT_EQ(async_io_wait_ready(t, &a, NULL, ASYNC_IO_READ), ASYNC_EINVAL);
    ASSERT_EQ(async_io_wait_ready(t, &a, &w, ASYNC_IO_BOTH), ASYNC_EINVAL); /* one direction */
    ASSERT_EQ(async_io_clear_ready(NULL, ASYNC_IO_READ), ASYNC_EINVAL);
    ASSERT_EQ(async_io_clear_ready(&a, ASYNC_IO_BOTH + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read(NULL, &a, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read(t, NULL, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read(t, &a, NULL, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read(t, &a, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write(NULL, &a, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write(t, NULL, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write(t, &a, NULL, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write(t, &a, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read_exact(NULL, &a, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read_exact(t, NULL, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read_exact(t, &a, NULL, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read_exact(t, &a, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_read_exact(t, &a, &w, buf, (size_t)INT_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write_all(NULL, &a, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write_all(t, NULL, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write_all(t, &a, NULL, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write_all(t, &a, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_write_all(t, &a, &w, buf, (size_t)INT_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_io_shutdown(NULL, ASYNC_IO_WRITE), ASYNC_EINVAL);
    ASSERT_EQ(async_io_shutdown(&x, ASYNC_IO_WRITE), ASYNC_EINVAL);      /* not registered */
    /* addresses */
    ASSERT_EQ(async_addr_init_unix(NULL, "/tmp/x"), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_init_unix(&ad, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_init_unix(&ad, ""), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_parse(&ad, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_parse(&ad, "127.0.0.1:1"), 0);
    ASSERT_EQ(async_addr_format(&ad, NULL, 8), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_format(&ad, buf, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_addr_family(NULL), ASYNC_EINVAL);
    CHECK(async_addr_sockaddr(NULL) == NULL);
    huge = ad;
    huge.len = sizeof huge.u.bytes + 1;           /* longer than an async_addr can be */
    /* sockets */
    ASSERT_EQ(async_sock_listen(NULL, &lis, &ad, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&rt, NULL, &ad, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&zero, &lis, &ad, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&rt, &lis, &huge, NULL), ASYNC_EINVAL);
    o.backlog = -1;
    ASSERT_EQ(async_sock_listen(&rt, &lis, &ad, &o), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&rt, &a, &ad, NULL), ASYNC_EBUSY);      /* a is registered */
    ASSERT_EQ(async_udp_bind(&rt, &a, &ad), ASYNC_EBUSY);
    ASSERT_EQ(async_udp_connect(NULL, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_connect(&a, &none), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_accept(NULL, &a, &w, &x, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_accept(t, NULL, &w, &x, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_accept(t, &a, NULL, &x, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_accept(t, &a, &w, NULL, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_accept(t, &a, &w, &a, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_connect(NULL, &x, &w, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_connect(t, NULL, &w, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_connect(t, &x, NULL, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_connect(t, &x, &w, &none), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_local_addr(NULL, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_local_addr(&a, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_local_addr(&x, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_peer_addr(NULL, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_peer_addr(&a, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_peer_addr(&x, &ad), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_set_nodelay(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_set_keepalive(NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_set_keepalive(&x, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_take_error(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_take_error(&x), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(NULL, &a, &w, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(t, NULL, &w, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(t, &a, NULL, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(t, &a, &w, NULL, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(t, &a, &w, buf, 1, &none), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_send_to(t, &a, &w, buf, (size_t)INT_MAX + 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_recv_from(NULL, &a, &w, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_recv_from(t, NULL, &w, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_recv_from(t, &a, NULL, buf, 1, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_udp_recv_from(t, &a, &w, NULL, 1, NULL), ASYNC_EINVAL);
    /* buffered reader and writer */
    ASSERT_EQ(async_bufreader_init(NULL, &a, buf, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&r, NULL, buf, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&r, &a, NULL, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&r, &a, buf, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&r, &a, buf, (size_t)INT_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_init(&r, &a, buf, sizeof buf), 0);
    ASSERT_EQ(async_bufreader_fill(NULL, &r, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill(t, &r, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill(t, &r0, &w), ASYNC_EINVAL);          /* never set up */
    ASSERT_EQ(async_bufreader_fill_more(NULL, &r, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill_more(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill_more(t, &r, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_fill_more(t, &r0, &w), ASYNC_EINVAL);
    CHECK(async_bufreader_data(NULL, &len) == NULL);
    CHECK(async_bufreader_data(&r, NULL) != NULL);
    ASSERT_EQ(async_bufreader_consume(NULL, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_consume(&r, 1), ASYNC_EINVAL);            /* nothing buffered */
    ASSERT_EQ(async_bufreader_read(NULL, &r, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read(t, NULL, &w, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read(t, &r, NULL, buf, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read(t, &r, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(NULL, &r, &w, '\n', buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(t, NULL, &w, '\n', buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(t, &r, NULL, '\n', buf, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(t, &r, &w, '\n', NULL, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(t, &r, &w, '\n', buf, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_until(t, &r, &w, '\n', buf, (size_t)INT_MAX + 1),
              ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_line(t, &r, &w, NULL, 4), ASYNC_EINVAL);
    ASSERT_EQ(async_bufreader_read_line(t, &r, &w, line, 1), ASYNC_EINVAL);   /* no room */
    ASSERT_EQ(async_bufwriter_init(NULL, &a, buf, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_init(&wr, NULL, buf, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_init(&wr, &a, NULL, sizeof buf), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_init(&wr, &a, buf, 0), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_init(&wr, &a, buf, (size_t)INT_MAX + 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_init(&wr, &a, buf, sizeof buf), 0);
    ASSERT_EQ(async_bufwriter_flush(NULL, &wr, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_flush(t, NULL, &w), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_flush(t, &wr, NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_write(NULL, &wr, &w, "x", 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_write(t, NULL, &w, "x", 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_write(t, &wr, NULL, "x", 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_write(t, &wr, &w, NULL, 1), ASYNC_EINVAL);
    ASSERT_EQ(async_bufwriter_write(t, &wr, &w, "x", (size_t)INT_MAX + 1), ASYNC_EINVAL);
    /* nothing moved: a and b still talk, nothing else got registered */
    ASSERT_EQ(w.state, 0);
    ASSERT_EQ(rt.io.n, 3);
    /* (a's side by send(2): a small async_io_write on io_uring goes through the ring
       and completes at the next turn, which this script, one poll, never sees) */
    ASSERT_EQ(async_io_fd(&a), sv[0]);
    ASSERT_EQ(send(sv[0], "hi", 2, 0), 2);
    ASSERT_EQ(async_io_read(t, &b, &w, buf, sizeof buf), 2);
    ASSERT_EQ(async_io_close(&a), 0);
    ASSERT_EQ(async_io_close(&b), 0);
}
TEST(io_bad_arguments) { run_io_script(io_bad_arguments_body); }

/* A regular file cannot be waited on: poll(2) accepts it (always ready), epoll refuses
   it with -EPERM and leaves the descriptor as it was (blocking, still open). */
TEST(register_a_regular_file) {
#ifdef _WIN32
    SKIP_WIN("async_io takes sockets only (-ENOTSOCK: checked in listen_options)");
#else
    FILE *f = tmpfile();
    async_io io;
    int fd = fileno(f), fl, rc;
    ZERO(io);
    rt_real();
    rc = async_io_register(&rt, &io, fd);
    fl = fcntl(fd, F_GETFL);
    if (strcmp(async_runtime_io_backend(&rt), "epoll") == 0) {
        ASSERT_EQ(rc, -EPERM);
        CHECK(!(fl & O_NONBLOCK));                /* its blocking mode is back */
        CHECK(io.rt == NULL);
        ASSERT_EQ(async_io_fd(&io), ASYNC_EINVAL);
        ASSERT_EQ(async_io_close(&io), 0);        /* nothing to close */
        CHECK(fcntl(fd, F_GETFD) >= 0);           /* still open */
    } else {
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(async_io_deregister(&io), fd);
    }
    fclose(f);
    async_runtime_destroy(&rt);
#endif
}

/* A descriptor closed behind the async_io's back: closing it reports the error
   (-EBADF) and the async_io is closed all the same. */
TEST(close_reports_a_descriptor_closed_behind_its_back) {
    int sv[2];
    async_io a;
    ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    close(sv[0]);
    ASSERT_EQ(async_io_close(&a), -EBADF);
    ASSERT_EQ(async_io_fd(&a), ASYNC_EINVAL);
    ASSERT_EQ(async_io_close(&a), 0);             /* closed: nothing more to do */
    ASSERT_EQ(rt.io.n, 1);                        /* the reactor let go of it */
    close(sv[1]);
    async_runtime_destroy(&rt);
}

/* async_io_wait_ready for a system call of one's own: ready at first (try the call first);
   when the call says EAGAIN, clear the readiness and wait again. */
typedef struct { async_task task; async_io *io; async_waiter w; int rc, again; char got[8]; } own_reader;
static int own_reader_run(async_task *t) {
    own_reader *f = (own_reader *)t;
    ssize_t n;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_io_wait_ready(t, f->io, &f->w, ASYNC_IO_READ));
        if (f->rc < 0) ASYNC_RETURN(f->rc);
        n = recv(async_io_fd(f->io), f->got, sizeof f->got - 1, MSG_DONTWAIT);
        if (n >= 0) ASYNC_RETURN((int)n);
        if (errno != EAGAIN && errno != EWOULDBLOCK) ASYNC_RETURN(-errno);
        f->again++;
        async_io_clear_ready(f->io, ASYNC_IO_READ);
    }
    ASYNC_END(0);
}
TEST(io_ready_and_clear_ready_around_a_call_of_ones_own) {
    static own_reader f;
    int sv[2];
    async_io a;
    ZERO(f); ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    f.io = &a;
    async_task_spawn(&rt, &f.task, own_reader_run, "own");
    async_runtime_step(&rt, 0);
    ASSERT_EQ(f.again, 1);                        /* tried, EAGAIN, now waits */
    ASSERT_EQ(rt.io.nwait, 1);
    ASSERT_EQ(write(sv[1], "abc", 3), 3);
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(f.task.u.result, 3);
    ASSERT_STR(f.got, "abc");
    ASSERT_EQ(f.again, 1);
    async_io_close(&a);
    close(sv[1]);
    async_runtime_destroy(&rt);
}

/* Errors met in the middle of an operation come back as -errno: write_all to a peer
   that is gone (-EPIPE, no SIGPIPE), read_until on a descriptor that cannot be read
   (-EBADF), a datagram to an address of another family (-EAFNOSUPPORT); accept into,
   or connect with, an async_io already in use is refused. */
static void io_errors_body(async_task *t) {
    int sv[2], i;
    async_io a, rd, wr, u, lis;
    async_waiter w;
    async_bufreader r;
    async_addr any, v6, other;
    char buf[32], out[8];
    ZERO(a); ZERO(rd); ZERO(wr); ZERO(u); ZERO(lis); ZERO(w); ZERO(other);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    close(sv[1]);
#ifdef _WIN32
    {   /* TCP there: the first writes may go out; the peer's reset fails a later one */
        int k, n = 0;
        for (k = 0; k < 400 && (n = async_io_write_all(t, &a, &w, "data", 4)) == 4; k++)
            Sleep(5);
        CHECK(n == -ECONNRESET || n == -ECONNABORTED || n == -EPIPE);
    }
#else
    {   /* more than a send slot of io_uring holds: send(2) on every backend, so the
           error comes within this one poll (through the ring: a test of its own) */
        static char big[8192];
        ASSERT_EQ(async_io_write_all(t, &a, &w, big, sizeof big), -EPIPE);
    }
#endif
    ASSERT_EQ(w.got, 0);                          /* nothing carried over to a next call */
    ASSERT_EQ(async_io_close(&a), 0);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    ASSERT_EQ(async_bufreader_init(&r, &wr, buf, sizeof buf), 0);     /* the write end */
#ifdef _WIN32               /* a socket pair's write end, shut for reading: end of file */
    ASSERT_EQ(async_bufreader_read_until(t, &r, &w, '\n', out, sizeof out), 0);
#else
    ASSERT_EQ(async_bufreader_read_until(t, &r, &w, '\n', out, sizeof out), -EBADF);
#endif
    ASSERT_EQ(w.got, 0);
    ASSERT_EQ(async_addr_parse(&any, "127.0.0.1:0"), 0);
    ASSERT_EQ(async_addr_parse(&v6, "[::1]:9"), 0);
    ASSERT_EQ(async_udp_bind(&rt, &u, &any), 0);
    ASSERT_EQ(async_udp_send_to(t, &u, &w, "x", 1, &v6), -EAFNOSUPPORT);
    ASSERT_EQ(async_sock_listen(&rt, &lis, &any, NULL), 0);
    if (!test_cur_failed) {             /* (not after a failed call: tests/faults.h) */
        ASSERT_EQ(async_sock_accept(t, &lis, &w, &u, NULL), ASYNC_EBUSY);  /* u in use */
        ASSERT_EQ(async_sock_connect(t, &u, &w, &any), ASYNC_EBUSY);
    }
    ASSERT_EQ(w.state, 0);
    ASSERT_EQ(rt.io.nwait, 0);
    /* an address of a family this header does not know is shown by number */
    ((struct sockaddr *)async_addr_sockaddr(&other))->sa_family = 99;
    other.len = sizeof(struct sockaddr);
    ASSERT_EQ(async_addr_format(&other, buf, sizeof buf), 9);
    ASSERT_STR(buf, "family 99");
    for (i = 0; i < 2; i++) ASSERT_EQ(async_io_close(i ? &lis : &u), 0);
    async_io_close(&rd);
    async_io_close(&wr);
}
TEST(errors_in_the_middle_of_an_operation) { run_io_script(io_errors_body); }

/* Closing an async_io while a writer waits on it (the peer does not read) fails the
   writer with ASYNC_ECLOSED. */
typedef struct { async_task task; async_io *io; async_waiter w; char data[4096]; int rc; } blocked_writer;
static int blocked_writer_run(async_task *t) {
    blocked_writer *f = (blocked_writer *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_io_write(t, f->io, &f->w, f->data, sizeof f->data));
        if (f->rc < 0) break;
    }
    ASYNC_END(f->rc);
}
TEST(close_wakes_a_blocked_writer) {
    static blocked_writer f;
    int sv[2];
    async_io a;
    ZERO(f); ZERO(a);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    f.io = &a;
    async_task_spawn(&rt, &f.task, blocked_writer_run, "writer");
    async_runtime_step(&rt, 0);                   /* fills the socket buffer, then waits */
    ASSERT_EQ(async_task_state(&f.task), ASYNC_TASK_WAITING);
    ASSERT_EQ(rt.io.nwait, 1);
    ASSERT_EQ(async_io_close(&a), 0);
    ASSERT_EQ(rt.io.nwait, 0);
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(f.rc, ASYNC_ECLOSED);
    close(sv[1]);
    async_runtime_destroy(&rt);
}

/* Out of descriptors (EMFILE under a lowered limit): everything that needs a new
   descriptor fails with -EMFILE and leaves nothing open, registered or allocated (the
   harness counts allocations); with descriptors back, the same calls work. */
TEST(out_of_descriptors_every_creation_fails_cleanly) {
#ifdef _WIN32
    SKIP_WIN("no descriptor limit (setrlimit) to lower");
#else
    static int extra[600];
    static connector c;
    struct rlimit old, low;
    async_io rd, wr, lis, u, reg;
    async_addr any;
    async_waker wk;
    async_signal s;
    async_shutdown sd;
    async_child ch;
    async_pool pool;
    async_inbox q;
    char *argv[] = {(char *)"true", NULL};
    int n = 0, i, rc, sv[2];
    ZERO(c); ZERO(rd); ZERO(wr); ZERO(lis); ZERO(u); ZERO(reg); ZERO(ch);
    rt_real();
    ASSERT_EQ(async_addr_parse(&any, "127.0.0.1:0"), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    if (low.rlim_cur > 512) low.rlim_cur = 512;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (n < (int)(sizeof extra / sizeof extra[0]) && (extra[n] = dup(sv[1])) >= 0) n++;
    CHECK(n < (int)(sizeof extra / sizeof extra[0]) && errno == EMFILE);
    ASSERT_EQ(async_waker_init(&rt, &wk), -EMFILE);            /* its eventfd */
    ASSERT_EQ(async_signal_init(&s, &rt, SIGUSR2), -EMFILE);
    ASSERT_EQ(s.slot, -1);
    ASSERT_EQ(async_shutdown_init(&sd, &rt, NULL, NULL, NULL, 0), -EMFILE);
    ASSERT_EQ(async_child_spawn(&rt, &ch, "true", argv, NULL), -EMFILE);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), -EMFILE);
    CHECK(pool.impl == NULL);
    ASSERT_EQ(async_inbox_init(&q, &rt, sizeof(int), 4), -EMFILE);
    CHECK(q.impl == NULL);
    CHECK(rt.wakers == NULL);
    ASSERT_EQ(async_runtime_wake_fd(&rt), -1);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), -EMFILE);
    ASSERT_EQ(async_io_fd(&rd), ASYNC_EINVAL);
    ASSERT_EQ(async_io_fd(&wr), ASYNC_EINVAL);
    ASSERT_EQ(async_sock_listen(&rt, &lis, &any, NULL), -EMFILE);
    ASSERT_EQ(async_udp_bind(&rt, &u, &any), -EMFILE);
    if (strcmp(async_runtime_io_backend(&rt), "poll") != 0)  /* epoll, io_uring: own fd */
        ASSERT_EQ(async_io_register(&rt, &reg, sv[0]), -EMFILE);
    else
        ASSERT_EQ(async_io_register(&rt, &reg, sv[0]), 0);
    c.to = any;
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    ASSERT_EQ(run_until(&c.task), 0);
    ASSERT_EQ(c.rc, -EMFILE);
    ASSERT_EQ(async_io_fd(&c.io), ASYNC_EINVAL);
    ASSERT_EQ(rt.io.n, reg.rt ? 2 : 0);         /* nothing else registered (epoll: no reactor) */
    /* descriptors come back */
    for (i = 0; i < n; i++) close(extra[i]);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    rc = async_waker_init(&rt, &wk);
    ASSERT_EQ(rc, 0);
    if (rc == 0) ASSERT_EQ(async_waker_destroy(&wk), 0);  /* (may fail: tests/faults.h) */
    async_io_close(&rd);
    async_io_close(&wr);
    if (reg.rt) ASSERT_EQ(async_io_deregister(&reg), sv[0]);
    close(sv[0]);
    close(sv[1]);
    async_runtime_destroy(&rt);
#endif
}

/* Buffered reading at its edges: fill on what is buffered reads nothing; fill_more on
   a full buffer is ASYNC_ELIMIT, after a consume it slides the rest to the front and
   reads behind it; end of file is remembered; a read of at least the buffer's size
   into an empty buffer skips it. read_exact and write_all of 0 bytes do nothing;
   read_exact reports an error as it is; shutdown of the reading side, or both. */
typedef struct {
    async_task task;
    async_io a, b, rd, wr;
    async_waiter w;
    async_bufreader r, r2;
    char buf[8], buf2[4], out[16];
    int rc[16], same;
    size_t len, len2;
} bedge_frame;
static int bedge_run(async_task *t) {
    bedge_frame *f = (bedge_frame *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->rc[0], async_bufreader_fill(t, &f->r, &f->w));
    ASYNC_AWAIT(f->rc[1], async_bufreader_fill(t, &f->r, &f->w));     /* buffered: no read */
    ASYNC_AWAIT(f->rc[2], async_bufreader_fill_more(t, &f->r, &f->w));
    async_bufreader_consume(&f->r, 6);
    ASYNC_AWAIT(f->rc[3], async_bufreader_fill_more(t, &f->r, &f->w));
    f->same = memcmp(async_bufreader_data(&f->r, &f->len), "6789", 4) == 0;
    ASYNC_AWAIT(f->rc[4], async_bufreader_read(t, &f->r, &f->w, f->out, sizeof f->out));
    ASYNC_AWAIT(f->rc[5], async_bufreader_fill(t, &f->r, &f->w));     /* end of file */
    ASYNC_AWAIT(f->rc[6], async_bufreader_fill(t, &f->r, &f->w));     /* remembered */
    ASYNC_AWAIT(f->rc[7], async_bufreader_fill_more(t, &f->r, &f->w));
    ASYNC_AWAIT(f->rc[8], async_bufreader_read(t, &f->r, &f->w, f->out, sizeof f->out));
    ASYNC_AWAIT(f->rc[9], async_io_read_exact(t, &f->a, &f->w, f->out, 0));
    ASYNC_AWAIT(f->rc[10], async_io_write_all(t, &f->a, &f->w, f->out, 0));
    ASYNC_AWAIT(f->rc[11], async_bufreader_read(t, &f->r2, &f->w, f->out, 8));   /* big */
    async_bufreader_data(&f->r2, &f->len2);
    async_io_shutdown(&f->b, ASYNC_IO_READ);
    ASYNC_AWAIT(f->rc[12], async_io_read(t, &f->b, &f->w, f->out + 8, 8));
    async_io_shutdown(&f->b, ASYNC_IO_BOTH);
    ASYNC_AWAIT(f->rc[13], async_io_write(t, &f->b, &f->w, "x", 1));
    ASYNC_AWAIT(f->rc[14], async_io_read_exact(t, &f->wr, &f->w, f->out + 8, 4));
    ASYNC_END(0);
}
TEST(buffered_reads_and_half_closes_at_their_edges) {
    static bedge_frame f;
    int sv[2], sv2[2];
    ZERO(f);
    rt_real();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
    ASSERT_EQ(async_io_register(&rt, &f.a, sv[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &f.b, sv2[0]), 0);
    ASSERT_EQ(async_io_pipe(&rt, &f.rd, &f.wr), 0);
    ASSERT_EQ(write(sv[1], "0123456789", 10), 10);
    close(sv[1]);
    ASSERT_EQ(write(sv2[1], "abcdefgh", 8), 8);
    async_bufreader_init(&f.r, &f.a, f.buf, sizeof f.buf);
    async_bufreader_init(&f.r2, &f.b, f.buf2, sizeof f.buf2);
    async_task_spawn(&rt, &f.task, bedge_run, "edges");
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(f.rc[0], 8);
    ASSERT_EQ(f.rc[1], 8);
    ASSERT_EQ(f.rc[2], ASYNC_ELIMIT);
    ASSERT_EQ(f.rc[3], 2);                        /* "89" behind "67" */
    ASSERT_EQ(f.same, 1);
    ASSERT_EQ(f.len, 4);
    ASSERT_EQ(f.rc[4], 4);
    ASSERT_EQ(f.rc[5], 0);
    ASSERT_EQ(f.rc[6], 0);
    ASSERT_EQ(f.rc[7], 0);
    ASSERT_EQ(f.rc[8], 0);
    ASSERT_EQ(f.rc[9], 0);
    ASSERT_EQ(f.rc[10], 0);
    ASSERT_EQ(f.rc[11], 8);
    CHECK(memcmp(f.out, "abcdefgh", 8) == 0);
    ASSERT_EQ(f.len2, 0);                         /* nothing went through the buffer */
    ASSERT_EQ(f.rc[12], 0);                       /* our reading side is shut */
    ASSERT_EQ(f.rc[13], -EPIPE);
#ifdef _WIN32                                   /* a socket pair's write end: EOF */
    ASSERT_EQ(f.rc[14], ASYNC_EEOF);
#else
    ASSERT_EQ(f.rc[14], -EBADF);                  /* the write end of a pipe */
#endif
    ASSERT_EQ(f.w.got, 0);
    async_io_close(&f.a);
    async_io_close(&f.b);
    async_io_close(&f.rd);
    async_io_close(&f.wr);
    close(sv2[1]);
    async_runtime_destroy(&rt);
}

/* Listening options: IPv6 v6only is set as asked; two listeners share a port with
   reuseport (where SO_REUSEPORT is in sight); unlink removes a stale Unix socket file
   but never a regular file. */
static void listen_options_body(async_task *t) {
    async_io l6, r1, r2, u;
    async_addr a6, any, bound, path;
    async_listen_opts o;
    char name[64];
    FILE *f;
    int v = 0;
    socklen_t vl = sizeof v;
    (void)t;
    ZERO(l6); ZERO(r1); ZERO(r2); ZERO(u); ZERO(o);
    o.v6only = 1;
    ASSERT_EQ(async_addr_parse(&a6, "[::1]:0"), 0);
    if (async_sock_listen(&rt, &l6, &a6, &o) == 0) {          /* IPv6 may be off here */
        getsockopt(async_io_fd(&l6), IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl);
        ASSERT_EQ(v, 1);
        async_io_close(&l6);
    }
    ZERO(o);
    o.reuseport = 1;
    ASSERT_EQ(async_addr_parse(&any, "127.0.0.1:0"), 0);
#ifdef _WIN32
    {   /* no port sharing, no Unix sockets; a regular file is no socket */
        FILE *tf = tmpfile();
        async_io reg;
        ZERO(reg);
        (void)r2; (void)bound; (void)path; (void)name; (void)f; (void)u;
        ASSERT_EQ(async_sock_listen(&rt, &r1, &any, &o), ASYNC_ENOSYS);
        ASSERT_EQ(async_io_register(&rt, &reg, _fileno(tf)), -ENOTSOCK);
        CHECK(reg.rt == NULL);
        fclose(tf);
        return;
    }
#endif
    /* (also where a strict POSIX build hides SO_REUSEPORT: async.h knows Linux's) */
    ASSERT_EQ(async_sock_listen(&rt, &r1, &any, &o), 0);
    ASSERT_EQ(async_sock_local_addr(&r1, &bound), 0);
    ASSERT_EQ(async_sock_listen(&rt, &r2, &bound, &o), 0);    /* the same port */
    async_io_close(&r1);
    async_io_close(&r2);
    snprintf(name, sizeof name, "/tmp/async-test-notsock-%d", (int)getpid());
    f = fopen(name, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("keep me", f);
        fclose(f);
    }
    ZERO(o);
    o.unlink = 1;
    ASSERT_EQ(async_addr_init_unix(&path, name), 0);
    ASSERT_EQ(async_sock_listen(&rt, &u, &path, &o), -EADDRINUSE);
    f = fopen(name, "r");                          /* the regular file is still there */
    CHECK(f != NULL);
    if (f) fclose(f);
    unlink(name);
    ASSERT_EQ(async_io_fd(&u), ASYNC_EINVAL);
}
TEST(listen_options) { run_io_script(listen_options_body); }

/* ---- a host loop drives the runtime: its backend's descriptor and timeout ---------- */
#if !defined(ASYNC_POSIX_ONLY) && !defined(_WIN32)  /* none there: -ENOSYS, below */
#include <poll.h>
#include <pthread.h>

/* 1 if fd is readable within ms (0: just look) */
static int readable(int fd, int ms) {
    struct pollfd p;
    int n;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    do n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & POLLIN);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    async_timer timer;
    async_time until;
    char buf[16];
    int n, reads;
} host_reader;

/* reads until EOF, counting the reads; then sleeps until f->until */
static int host_reader_run(async_task *t) {
    host_reader *f = (host_reader *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
        if (f->n <= 0) break;
        f->reads++;
    }
    if (f->until) ASYNC_AWAIT(f->n, async_time_sleep_until(t, &f->timer, f->until));
    ASYNC_END(f->n);
}

/* Steps while fd is readable (3 at most): how many it took. A step whose wait failed
   (EINTR, ENOMEM: tests/faults.h) takes nothing, and the next one does. */
static int settle(int fd) {
    int k;
    for (k = 0; k < 3 && readable(fd, 0); k++) async_runtime_step(&rt, 0);
    return k;
}

TEST(backend_fd_is_readable_on_io_and_timers_come_through_the_timeout) {
    static host_reader r;
    async_io rd, wr;
    async_time d, now0, now1, left;
    int fd, ms;
    ZERO(r); ZERO(rd); ZERO(wr);
    rt_real();
    fd = async_runtime_backend_fd(&rt);
    CHECK(fd >= 0);
    ASSERT_EQ(async_runtime_backend_fd(&rt), fd);           /* made once */
    CHECK(async_runtime_wake_fd(&rt) >= 0);                 /* and the wake descriptor */
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);   /* nothing armed */
    ASSERT_EQ(async_runtime_backend_timeout_ms(&rt), -1);
    ASSERT_EQ(readable(fd, 0), 0);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    r.io = &rd;
    async_task_spawn(&rt, &r.task, host_reader_run, "reader");
    ASSERT_EQ(async_runtime_backend_timeout(&rt), 0);       /* a task is ready */
    ASSERT_EQ(async_runtime_backend_timeout_ms(&rt), 0);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);               /* it reads: EAGAIN, it waits */
    ASSERT_EQ(async_task_state(&r.task), ASYNC_TASK_WAITING);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    CHECK(settle(fd) <= 1);
    ASSERT_EQ(readable(fd, 0), 0);                          /* nothing to do: not readable */
    /* I/O: readable (and stays so: level-triggered for the host), and a step runs the
       reader */
    ASSERT_EQ(write(async_io_fd(&wr), "x", 1), 1);
    ASSERT_EQ(readable(fd, 5000), 1);
    ASSERT_EQ(readable(fd, 0), 1);
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(readable(fd, 0), 0);
    ASSERT_EQ(r.reads, 1);
    /* a timer: only the timeout says when, never the descriptor */
    now0 = async_time_now(&rt);
    d = now0 + MS(40);
    r.until = d;
    async_io_close(&wr);                                    /* EOF: it sleeps until d */
    ASSERT_EQ(readable(fd, 5000), 1);
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(readable(fd, 0), 0);
    ASSERT_EQ(async_task_state(&r.task), ASYNC_TASK_WAITING);
    now0 = async_time_now(&rt);
    left = async_runtime_backend_timeout(&rt);
    now1 = async_time_now(&rt);
    CHECK(left <= d - now0 && left >= (now1 < d ? d - now1 : 0));   /* exactly what is left */
    now0 = async_time_now(&rt);
    ms = async_runtime_backend_timeout_ms(&rt);
    now1 = async_time_now(&rt);
    CHECK(ms > 0 && (async_time)ms <= (d - now0 + MS(1) - 1) / MS(1));  /* rounded up */
    CHECK((async_time)ms * MS(1) >= (now1 < d ? d - now1 : 0));        /* never early */
    ASSERT_EQ(readable(fd, ms), 0);                         /* the timer rings no fd */
    ASSERT_EQ(async_runtime_backend_timeout(&rt), 0);       /* its time has come */
    CHECK(async_time_now(&rt) >= d);
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    CHECK(async_task_is_finished(&r.task));
    ASSERT_EQ(r.task.u.result, 0);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    async_io_close(&rd);
    async_runtime_destroy(&rt);
    ASSERT_EQ(fcntl(fd, F_GETFD), -1);                      /* destroy closed it */
}

/* An idle descriptor (nobody reads it) gets data: the host wakes once, and the step
   takes the event, or the descriptor would stay readable and the host spin. */
TEST(an_idle_descriptor_does_not_keep_the_backend_fd_readable) {
    async_io rd, wr;
    int fd, i;
    ZERO(rd); ZERO(wr);
    rt_real();
    fd = async_runtime_backend_fd(&rt);
    CHECK(fd >= 0);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    CHECK(settle(fd) <= 2);                                 /* the new pipe's edges */
    ASSERT_EQ(readable(fd, 0), 0);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(write(async_io_fd(&wr), "x", 1), 1);
        ASSERT_EQ(readable(fd, 5000), 1);
        ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
        CHECK(settle(fd) <= 2);         /* one step (two if a fault took the first) */
        ASSERT_EQ(readable(fd, 0), 0);
    }
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}

/* The descriptor made after registrations watches them too (the poll backend's mirror
   takes in the table); one deregistered, or moved to another io, is watched as it
   should be: not at all, or still. */
TEST(backend_fd_made_late_watches_what_was_registered_before) {
    static host_reader r;
    async_io rd, wr, moved, idle_rd, idle_wr;
    int fd, rfd;
    ZERO(r); ZERO(rd); ZERO(wr); ZERO(moved); ZERO(idle_rd); ZERO(idle_wr);
    rt_real();
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    ASSERT_EQ(async_io_pipe(&rt, &idle_rd, &idle_wr), 0);
    fd = async_runtime_backend_fd(&rt);                     /* after the registrations */
    CHECK(fd >= 0);
    ASSERT_EQ(async_io_move(&moved, &rd), 0);               /* the registration moves */
    r.io = &moved;
    async_task_spawn(&rt, &r.task, host_reader_run, "reader");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);               /* EAGAIN: it waits */
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(readable(fd, 0), 0);
    ASSERT_EQ(write(async_io_fd(&wr), "x", 1), 1);
    ASSERT_EQ(readable(fd, 5000), 1);                       /* watched from before */
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(r.reads, 1);
    ASSERT_EQ(readable(fd, 0), 0);
    rfd = async_io_deregister(&idle_rd);                    /* no longer watched */
    CHECK(rfd >= 0);
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(write(async_io_fd(&idle_wr), "y", 1), 1);
    ASSERT_EQ(readable(fd, 50), 0);
    async_io_close(&idle_wr);
    close(rfd);
    async_io_close(&wr);                                    /* EOF ends the reader */
    ASSERT_EQ(readable(fd, 5000), 1);
    CHECK(settle(fd) <= 2);
    CHECK(async_task_is_finished(&r.task));
    async_io_close(&moved);
    async_runtime_destroy(&rt);
}

/* A blocking call done on the pool rings the descriptor: the host wakes for it. */
TEST(a_pool_completion_rings_the_backend_fd) {
    static blocker b;
    async_pool pool;
    int gate[2], fd;
    ZERO(b);
    rt_real();
    ASSERT_EQ(pipe(gate), 0);
    ASSERT_EQ(async_pool_init(&pool, &rt, NULL), 0);
    fd = async_runtime_backend_fd(&rt);
    CHECK(fd >= 0);
    b.pool = &pool;
    b.fd = &gate[0];
    async_task_spawn(&rt, &b.task, blocker_run, "blocker");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);               /* the call goes to the pool */
    CHECK(settle(fd) <= 2);
    ASSERT_EQ(readable(fd, 20), 0);                         /* it blocks: nothing to do */
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(write(gate[1], "x", 1), 1);                   /* now it returns */
    ASSERT_EQ(readable(fd, 5000), 1);
    CHECK(settle(fd) <= 2);
    CHECK(async_task_is_finished(&b.task));
    ASSERT_EQ(b.rc, 1);
    ASSERT_EQ(readable(fd, 0), 0);
    async_pool_destroy(&pool);
    close(gate[0]);
    close(gate[1]);
    async_runtime_destroy(&rt);
}

/* the paused clock does not move while the host sleeps: timers count only once the
   clock is advanced */
TEST(backend_timeout_on_the_paused_clock) {
    static host_reader r;
    async_io rd, wr;
    ZERO(r); ZERO(rd); ZERO(wr);
    test_rt_paused(&rt);
    CHECK(async_runtime_backend_fd(&rt) >= 0);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    async_io_close(&wr);
    r.io = &rd;
    r.until = async_time_now(&rt) + MS(10);
    async_task_spawn(&rt, &r.task, host_reader_run, "reader");
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);               /* EOF, then it sleeps */
    ASSERT_EQ(async_task_state(&r.task), ASYNC_TASK_WAITING);
    CHECK(async_runtime_next_deadline(&rt) != ASYNC_TIME_NEVER);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_runtime_step(&rt, 0), 0);               /* nor does a step move it */
    ASSERT_EQ(async_time_advance(&rt, MS(10)), 0);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), 0);       /* the task is ready */
    ASSERT_EQ(async_runtime_step(&rt, 0), 1);
    CHECK(async_task_is_finished(&r.task));
    async_io_close(&rd);
    async_runtime_destroy(&rt);
}

typedef struct {
    async_task task;
    async_waker *wk;
    int n, got;
} host_woken;

static int host_woken_run(async_task *t) {
    host_woken *f = (host_woken *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->got = 0; f->got < f->n; f->got++) {
        ASYNC_AWAIT(rc, async_waker_wait(t, f->wk));
        if (rc < 0) ASYNC_RETURN(rc);
    }
    ASYNC_END(f->got);
}

typedef struct {
    async_waker *wk;
    int n, acked;                       /* under lock */
    pthread_mutex_t lock;
} host_waker_arg;

static int host_acked(host_waker_arg *a) {
    int n;
    pthread_mutex_lock(&a->lock);
    n = a->acked;
    pthread_mutex_unlock(&a->lock);
    return n;
}

static void host_ack(host_waker_arg *a, int n) {
    pthread_mutex_lock(&a->lock);
    a->acked = n;
    pthread_mutex_unlock(&a->lock);
}

static void sleep_us(long us) {
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

/* wakes n times, each once the task took the previous wake (acked by the host loop) */
static void *host_waker_thread(void *p) {
    host_waker_arg *a = (host_waker_arg *)p;
    int i;
    for (i = 0; i < a->n; i++) {
        while (host_acked(a) < i) sleep_us(200);
        sleep_us(1000);                 /* the host is asleep by now (usually) */
        async_waker_wake(a->wk);
    }
    return NULL;
}

typedef struct { async_task task; async_timer timer; int n, ticks; } host_ticker;

static int host_ticker_run(async_task *t) {
    host_ticker *f = (host_ticker *)t;
    int rc;
    ASYNC_BEGIN(t);
    for (f->ticks = 0; f->ticks < f->n; f->ticks++) {
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, MS(3)));
        if (rc < 0) ASYNC_RETURN(rc);
    }
    ASYNC_END(f->ticks);
}

/* The host loop: only the descriptor and the timeout, one step per wake-up. A wake from
   another thread rings the descriptor, a timer ends the host's wait by the timeout; N
   wakes and N timers take about 2N turns, never a spin (a timeout rounded down would
   spin until the deadline, a ring left behind until the next wake). */
TEST(host_loop_wakes_for_another_thread_and_never_spins) {
    static host_woken h;
    static host_ticker tk;
    static async_waker wk;
    static host_waker_arg a;
    pthread_t th;
    int fd, turns = 0, i;
    enum { N = 20 };
    ZERO(h); ZERO(tk); ZERO(wk); ZERO(a);
    pthread_mutex_init(&a.lock, NULL);
    rt_real();
    ASSERT_EQ(async_waker_init(&rt, &wk), 0);
    fd = async_runtime_backend_fd(&rt);
    CHECK(fd >= 0);
    h.wk = &wk;
    h.n = N;
    a.wk = &wk;
    a.n = N;
    tk.n = N;
    async_task_spawn(&rt, &h.task, host_woken_run, "woken");
    async_task_spawn(&rt, &tk.task, host_ticker_run, "ticker");
    ASSERT_EQ(pthread_create(&th, NULL, host_waker_thread, &a), 0);
    for (i = 0; i < 50 * N && !(async_task_is_finished(&h.task) &&
                                async_task_is_finished(&tk.task)); i++) {
        int ms = async_runtime_backend_timeout_ms(&rt);
        if (ms < 0 && !readable(fd, 5000)) break;   /* never: only a lost wake waits 5 s */
        if (ms > 0) (void)readable(fd, ms);
        if (async_runtime_step(&rt, 0) < 0) break;
        turns++;
        host_ack(&a, h.got);
    }
    host_ack(&a, N);
    pthread_join(th, NULL);
    CHECK(async_task_is_finished(&h.task) && async_task_is_finished(&tk.task));
    ASSERT_EQ(h.got, N);
    ASSERT_EQ(tk.ticks, N);
    CHECK(turns <= 4 * N + 2);          /* an event, a turn (one more for a ring from before) */
    async_waker_destroy(&wk);
    async_runtime_destroy(&rt);
    pthread_mutex_destroy(&a.lock);
}

#ifdef TEST_FAULTS
/* A wake whose doorbell rings after the loop took its flag: at the second preemption
   point of the wake (the flag set, the write not yet made) the loop steps and takes the
   flag; then the write lands. The descriptor is readable with nothing pending: a step
   must drain it, or the host (and the runtime's own wait) would wake at once forever. */
static int g_stale_calls;
static void step_inside_a_wake(void *user) {
    (void)user;
    if (g_stale_calls > 0 && ++g_stale_calls == 3) {
        g_stale_calls = -1;             /* once */
        async_runtime_step(&rt, 0);
    }
}

TEST(a_doorbell_rung_after_the_flag_was_taken_is_drained) {
    static async_waker wk;
    async_faults fx;
    int fd;
    ZERO(wk); ZERO(fx);
    rt_real();
    ASSERT_EQ(async_waker_init(&rt, &wk), 0);
    fd = async_runtime_backend_fd(&rt);
    CHECK(fd >= 0);
    fx.preempt = step_inside_a_wake;
    g_stale_calls = 1;
    async_faults_set(&fx);
    async_waker_wake(&wk);              /* steps inside, between the flag and the write */
    async_faults_set(NULL);
    ASSERT_EQ(g_stale_calls, -1);
    ASSERT_EQ(async_runtime_has_pending_wake(&rt), 0);
    ASSERT_EQ(readable(fd, 0), 1);      /* the late doorbell */
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_runtime_step(&rt, 0), 0);
    ASSERT_EQ(readable(fd, 0), 0);      /* drained */
    async_waker_wake(&wk);              /* and the next wake still rings */
    ASSERT_EQ(readable(fd, 0), 1);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), 0);
    async_runtime_step(&rt, 0);
    ASSERT_EQ(readable(fd, 0), 0);
    async_waker_destroy(&wk);
    async_runtime_destroy(&rt);
}
#endif


#ifdef __linux__
/* ---- the backend chosen at run time (Linux: poll, epoll, io_uring) -------------- */

/* tcc lays struct epoll_event out unpacked (16 bytes; x86-64's kernel writes 12): epoll
   is broken in a tcc build, on main too (reported); these tests leave epoll out there. */
#if defined(__TINYC__) && defined(__x86_64__)
#define TEST_EPOLL_OK 0
#else
#define TEST_EPOLL_OK 1
#endif


typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    char buf[16];
    int n;
} one_read;
static int one_read_run(async_task *t) {
    one_read *f = (one_read *)t;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->buf, sizeof f->buf));
    ASYNC_END(0);
}

/* A runtime with desc.backend = kind: the name before and after the reactor starts, and
   a read that waits, then completes when a byte comes (the backend reports it). */
static const char *backend_reads(int kind) {
    static one_read f;
    static char name[16];
    async_runtime_desc d;
    async_io rd, wr;
    const char *err = name;
    ZERO(d); ZERO(f); ZERO(rd); ZERO(wr);
    d.backend = kind;
    if (async_runtime_init(&rt, &d) != 0) return "init failed";
    strcpy(name, async_runtime_io_backend(&rt));
    do {
        if (async_io_pipe(&rt, &rd, &wr) != 0) { err = "pipe failed"; break; }
        if (strcmp(name, async_runtime_io_backend(&rt)) != 0 && !rt.io.be_refused) {
            err = "name changed at start";
            break;
        }
        strcpy(name, async_runtime_io_backend(&rt));
        f.io = &rd;
        async_task_spawn(&rt, &f.task, one_read_run, "reader");
        async_runtime_step(&rt, 0);
        if (async_task_state(&f.task) != ASYNC_TASK_WAITING) { err = "did not wait"; break; }
        if (write(async_io_fd(&wr), "x", 1) != 1) { err = "write failed"; break; }
        if (run_until(&f.task) != 0 || f.n != 1 || f.buf[0] != 'x') err = "no read";
    } while (0);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
    return err;
}

/* The table in storage of ours (ZERO ALLOCATION) on each backend: poll and epoll as
   asked (epoll's own descriptor made), io_uring refused (its tokens and ring state are
   allocated) for epoll, said; a read through each, and not one allocation. */
TEST(reactor_in_storage_on_each_backend) {
    static unsigned char mem[ASYNC_RUNTIME_IO_STORAGE_SIZE(4)];
    static const int kinds[3] = {ASYNC_BACKEND_POLL, ASYNC_BACKEND_EPOLL,
                                 ASYNC_BACKEND_IO_URING};
    static one_read f;
    async_runtime_desc d;
    async_io rd, wr;
    long calls0;
    int i;
    test_fail_all = 1;
    calls0 = test_alloc_calls;
    for (i = 0; i < 3; i++) {
        if (kinds[i] != ASYNC_BACKEND_POLL && !TEST_EPOLL_OK) continue;
        ZERO(d); ZERO(f); ZERO(rd); ZERO(wr);
        d.backend = kinds[i];
        d.io_storage = mem;
        d.io_storage_size = sizeof mem;
        ASSERT_EQ(async_runtime_init(&rt, &d), 0);
        ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
        CHECK(strcmp(async_runtime_io_backend(&rt), i ? "epoll" : "poll") == 0);
        if (i) CHECK(rt.io.be_fd > 0);                  /* epoll's own, not poll(2) */
        ASSERT_EQ(rt.io.be_refused, i == 2 ? ASYNC_ENOMEM : 0);
        f.io = &rd;
        async_task_spawn(&rt, &f.task, one_read_run, "reader");
        async_runtime_step(&rt, 0);
        ASSERT_EQ(async_task_state(&f.task), ASYNC_TASK_WAITING);
        ASSERT_EQ(write(async_io_fd(&wr), "x", 1), 1);
        ASSERT_EQ(run_until(&f.task), 0);
        ASSERT_EQ(f.n, 1);
        async_io_close(&rd);
        async_io_close(&wr);
        async_runtime_destroy(&rt);
    }
    ASSERT_EQ(test_alloc_calls, calls0);
    test_fail_all = 0;
}

TEST(backend_chosen_by_desc_then_the_environment) {
    async_runtime_desc d;
    const char *was = getenv("ASYNC_BACKEND");
    char saved[32];
    saved[0] = 0;
    if (was) snprintf(saved, sizeof saved, "%s", was);
    ZERO(d);
    d.backend = ASYNC_BACKEND_IO_URING + 1;
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    d.backend = -1;
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    unsetenv("ASYNC_BACKEND");
    CHECK(strcmp(backend_reads(ASYNC_BACKEND_POLL), "poll") == 0);
    if (TEST_EPOLL_OK) CHECK(strcmp(backend_reads(ASYNC_BACKEND_EPOLL), "epoll") == 0);
    {
        const char *u = backend_reads(ASYNC_BACKEND_IO_URING);
        CHECK(strcmp(u, "io_uring") == 0 || strcmp(u, "epoll") == 0);   /* refused: epoll */
    }
    setenv("ASYNC_BACKEND", "epoll", 1);
    if (TEST_EPOLL_OK) CHECK(strcmp(backend_reads(ASYNC_BACKEND_DEFAULT), "epoll") == 0);
    CHECK(strcmp(backend_reads(ASYNC_BACKEND_POLL), "poll") == 0);      /* desc wins */
    setenv("ASYNC_BACKEND", "poll", 1);
    CHECK(strcmp(backend_reads(ASYNC_BACKEND_DEFAULT), "poll") == 0);
    setenv("ASYNC_BACKEND", "kqueue", 1);               /* unknown: the build's own */
    CHECK(strcmp(backend_reads(ASYNC_BACKEND_DEFAULT),
                 async_runtime_io_backend(NULL)) == 0);
    if (was) setenv("ASYNC_BACKEND", saved, 1);
    else unsetenv("ASYNC_BACKEND");
}

/* A wait of the reader registered on a descriptor whose slot, token and number were a
   closed one's, with that one's readiness still on its way: nothing wakes the reader
   (io_uring: the late completion carries the old generation). On each backend. */
static const char *stale_readiness(int kind) {
    static one_read f;
    async_runtime_desc d;
    async_io a, c;
    int sa[2] = {-1, -1}, sc[2] = {-1, -1}, afd, other = -1;
    uint64_t polls;
    const char *err = "";
    ZERO(d); ZERO(f); ZERO(a); ZERO(c);
    d.backend = kind;
    if (async_runtime_init(&rt, &d) != 0) return "init";
    do {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sa) != 0) { err = "socketpair"; break; }
        if (async_io_register(&rt, &a, sa[0]) != 0) { err = "register a"; break; }
        async_runtime_step(&rt, 0);                     /* a's watch is in place */
        if (write(sa[1], "x", 1) != 1) { err = "write"; break; }   /* a readable */
        afd = sa[0];
        async_io_close(&a);
        sa[0] = -1;
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sc) != 0) { err = "socketpair"; break; }
        if (sc[0] != afd && sc[1] != afd) { err = "number not reused"; break; }
        if (async_io_register(&rt, &c, afd) != 0) { err = "register c"; break; }
        other = sc[0] == afd ? sc[1] : sc[0];
        sc[0] = sc[1] = -1;
        f.io = &c;
        async_task_spawn(&rt, &f.task, one_read_run, "reader");
        async_runtime_step(&rt, 0);                     /* it waits */
        if (async_task_state(&f.task) != ASYNC_TASK_WAITING) { err = "did not wait"; break; }
        polls = rt.stats.polls;
        async_runtime_step(&rt, ASYNC_MS(20));
        async_runtime_step(&rt, ASYNC_MS(20));
        if (rt.stats.polls != polls) { err = "woken by the old descriptor's readiness"; break; }
        if (write(other, "y", 1) != 1) { err = "write"; break; }
        if (run_until(&f.task) != 0 || f.n != 1 || f.buf[0] != 'y') err = "no read";
    } while (0);
    async_io_close(&a);
    async_io_close(&c);
    if (sa[0] >= 0) close(sa[0]);
    if (sa[1] >= 0) close(sa[1]);
    if (sc[0] >= 0) close(sc[0]);
    if (sc[1] >= 0) close(sc[1]);
    if (other >= 0) close(other);
    async_runtime_destroy(&rt);
    return err;
}

TEST(late_readiness_of_a_closed_descriptor_wakes_nobody) {
    ASSERT_STR(stale_readiness(ASYNC_BACKEND_POLL), "");
    if (TEST_EPOLL_OK) ASSERT_STR(stale_readiness(ASYNC_BACKEND_EPOLL), "");
    ASSERT_STR(stale_readiness(ASYNC_BACKEND_IO_URING), "");
}

/* A regular file (poll and io_uring take it: always ready) wakes no wait of the loop
   over and over: io_uring's poll of it ends at its first completion, and is not armed
   again (it was, and every wait ended at once: a spinning loop). */
static const char *file_quiet(int kind) {
    async_runtime_desc d;
    async_io io;
    FILE *f = tmpfile();
    uint64_t ev;
    const char *err = "";
    int i;
    ZERO(d); ZERO(io);
    if (!f) return "tmpfile";
    d.backend = kind;
    if (async_runtime_init(&rt, &d) != 0) { fclose(f); return "init"; }
    if (async_io_register(&rt, &io, fileno(f)) == 0) {
        /* its first readiness: a wait that failed (EINTR: the loop turns again) only
           puts it off by a turn */
        for (i = 0; i < 3; i++) async_runtime_step(&rt, ASYNC_MS(5));
        ev = rt.stats.io_events;
        for (i = 0; i < 3; i++) async_runtime_step(&rt, ASYNC_MS(5));
        if (rt.stats.io_events != ev) err = "the file's readiness again at every turn";
        async_io_deregister(&io);
    }
    async_runtime_destroy(&rt);
    fclose(f);
    return err;
}

TEST(a_registered_regular_file_does_not_spin_the_loop) {
    ASSERT_STR(file_quiet(ASYNC_BACKEND_POLL), "");
    ASSERT_STR(file_quiet(ASYNC_BACKEND_IO_URING), "");
}

/* The reactor started (its first registration) in one thread, the loop run in another:
   io_uring's ring (SINGLE_ISSUER) refuses that thread, which makes a ring of its own
   and watches every descriptor again; a read waiting there completes. */
static one_read g_far;
static int g_far_rc;
static void *far_loop(void *arg) {
    (void)arg;
    g_far_rc = run_until(&g_far.task);
    return NULL;
}
static const char *loop_in_another_thread(int kind) {
    async_runtime_desc d;
    async_io rd, wr;
    pthread_t th;
    const char *err = "";
    ZERO(d); ZERO(g_far); ZERO(rd); ZERO(wr);
    d.backend = kind;
    if (async_runtime_init(&rt, &d) != 0) return "init";
    do {
        if (async_io_pipe(&rt, &rd, &wr) != 0) { err = "pipe"; break; }
        g_far.io = &rd;
        async_task_spawn(&rt, &g_far.task, one_read_run, "reader");
        if (pthread_create(&th, NULL, far_loop, NULL) != 0) { err = "thread"; break; }
        {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);                       /* (it waits, or not yet: same) */
        }
        if (write(async_io_fd(&wr), "x", 1) != 1) err = "write";
        pthread_join(th, NULL);
        if (!*err && (g_far_rc != 0 || g_far.n != 1 || g_far.buf[0] != 'x')) err = "no read";
    } while (0);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
    return err;
}

TEST(loop_run_in_another_thread_than_the_reactor_started_in) {
    ASSERT_STR(loop_in_another_thread(ASYNC_BACKEND_POLL), "");
    if (TEST_EPOLL_OK) ASSERT_STR(loop_in_another_thread(ASYNC_BACKEND_EPOLL), "");
    ASSERT_STR(loop_in_another_thread(ASYNC_BACKEND_IO_URING), "");
}

/* ---- completion I/O (io_uring): stream sockets read and written through the ring -- */

static char g_cdump[4096];
static void cdump_into(void *user, const char *line) {
    (void)user;
    if (strlen(g_cdump) + strlen(line) < sizeof g_cdump) strcat(g_cdump, line);
}
/* The dump's receive buffers held (what = 0) or sends in flight (1); -1: the runtime
   does no completion I/O (not io_uring, or not used yet). */
static long cio_count(int what) {
    const char *p;
    g_cdump[0] = 0;
    async_runtime_dump(&rt, cdump_into, NULL);
    if (!(p = strstr(g_cdump, "completion I/O: "))) return -1;
    p += strlen("completion I/O: ");
    if (what && (p = strstr(p, "buffers held, ")) != NULL) p += strlen("buffers held, ");
    return p ? strtol(p, NULL, 10) : -1;
}
static int cio_on(void) {
    return strcmp(async_runtime_io_backend(&rt), "io_uring") == 0;
}
static unsigned char cio_pat(size_t i) {
    return (unsigned char)(i * 7 + (i >> 9));
}
static int cio_runtime(void) {
    async_runtime_desc d;
    ZERO(d);
    d.backend = ASYNC_BACKEND_IO_URING;
    return async_runtime_init(&rt, &d);
}
/* Writes the pattern from *off on (a non-blocking descriptor) until it would block or
   limit is reached. */
static void cio_feed(int fd, size_t *off, size_t limit) {
    unsigned char b[4096];
    while (*off < limit) {
        size_t n = limit - *off < sizeof b ? limit - *off : sizeof b, i;
        ssize_t k;
        for (i = 0; i < n; i++) b[i] = cio_pat(*off + i);
        if ((k = write(fd, b, n)) <= 0) return;
        *off += (size_t)k;
    }
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    size_t chunk, total;                /* bytes per read; read so far */
    int rc;
    long bad;                           /* bytes not as sent */
    unsigned char buf[5000];
} cio_reader;
static int cio_reader_run(async_task *t) {
    cio_reader *f = (cio_reader *)t;
    int i;
    ASYNC_BEGIN(t);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_io_read(t, f->io, &f->w, f->buf, f->chunk));
        if (f->rc <= 0) break;
        for (i = 0; i < f->rc; i++) f->bad += f->buf[i] != cio_pat(f->total + (size_t)i);
        f->total += (size_t)f->rc;
    }
    ASYNC_END(f->rc);
}

/* A reader that waits switches its socket to the ring: every byte then comes in order,
   whatever the size of the reads (1 byte, less than a buffer, one, more than one),
   then the end of the stream; nothing stays held. */
TEST(completion_reads_keep_every_byte_in_order) {
    static cio_reader f;
    static const size_t chunks[] = {1, 100, 2048, 5000};
    size_t c, off, total = 200000;
    int sv[2], k, shut;
    async_io a;
    for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        ASSERT_EQ(cio_runtime(), 0);
        ZERO(a); ZERO(f);
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
        ASSERT_EQ(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
        f.io = &a;
        f.chunk = chunks[c];
        async_task_spawn(&rt, &f.task, cio_reader_run, "reader");
        off = 0;
        shut = 0;
        for (k = 0; k < 200000 && !async_task_is_finished(&f.task); k++) {
            /* what the reader takes in a turn: it drains the socket, then waits */
            cio_feed(sv[1], &off, off + chunks[c] * 50 < total ? off + chunks[c] * 50 : total);
            if (off == total && !shut) shut = shutdown(sv[1], SHUT_WR) == 0;
            CHECK(async_runtime_step(&rt, MS(10)) >= 0);
        }
        CHECK(async_task_is_finished(&f.task));
        ASSERT_EQ(f.rc, 0);
        ASSERT_EQ(f.total, total);
        ASSERT_EQ(f.bad, 0);
        if (cio_on()) ASSERT_EQ(cio_count(0), 0);       /* through the ring, all read */
        ASSERT_EQ(async_io_close(&a), 0);
        close(sv[1]);
        ASSERT_EQ(async_runtime_destroy(&rt), 0);
    }
}

/* A read cancelled while it waits: what arrives after stays on the descriptor, for the
   next read (nothing is received into a frame). Deregistering drops what is held. */
TEST(a_cancelled_read_leaves_its_bytes_to_the_next) {
    static one_read f1, f2;
    int sv[2], k;
    async_io a;
    ZERO(a); ZERO(f1); ZERO(f2);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    f1.io = f2.io = &a;
    async_task_spawn(&rt, &f1.task, one_read_run, "reader");
    CHECK(async_runtime_step(&rt, 0) >= 0);                /* it waits */
    CHECK(!async_task_is_finished(&f1.task));
    ASSERT_EQ(async_task_abort(&f1.task), 0);
    ASSERT_EQ(run_until(&f1.task), 0);
    ASSERT_EQ(send(sv[1], "hello", 5, 0), 5);
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_count(0), 1);               /* held for the next read */
    async_task_spawn(&rt, &f2.task, one_read_run, "reader");
    ASSERT_EQ(run_until(&f2.task), 0);
    ASSERT_EQ(f2.n, 5);
    CHECK(memcmp(f2.buf, "hello", 5) == 0);
    if (cio_on()) ASSERT_EQ(cio_count(0), 0);
    /* held, then the descriptor deregistered: dropped, the buffer back */
    ASSERT_EQ(send(sv[1], "abc", 3, 0), 3);
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_count(0), 1);
    ASSERT_EQ(async_io_deregister(&a), sv[0]);
    if (cio_on()) ASSERT_EQ(cio_count(0), 0);
    close(sv[0]);
    close(sv[1]);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* ---- accepting through the ring ---------------------------------------------------- */
typedef struct {
    async_task task;
    async_io *lis;
    async_waiter w;
    async_io conn[48];
    async_addr peer[48];
    int n, want, rc;
} cio_acceptor;

static int cio_acceptor_run(async_task *t) {
    cio_acceptor *f = (cio_acceptor *)t;
    ASYNC_BEGIN(t);
    while (f->n < f->want) {
        ASYNC_AWAIT(f->rc, async_sock_accept(t, f->lis, &f->w, &f->conn[f->n], &f->peer[f->n]));
        if (f->rc < 0) break;
        f->n++;
    }
    ASYNC_END(f->rc);
}

/* A blocking client connected to `to` that has sent the byte `id`; -1 on failure. */
static int cio_dial(const async_addr *to, int id) {
    async_addr a = *to;
    struct timeval tv = {5, 0};
    unsigned char b = (unsigned char)id;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)async_addr_sockaddr(&a), (socklen_t)a.len) < 0 ||
        write(fd, &b, 1) != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The dump's count of connections the ring accepted and nobody took (-1: none said). */
static long cio_accepted(void) {
    const char *p;
    g_cdump[0] = 0;
    async_runtime_dump(&rt, cdump_into, NULL);
    if (!(p = strstr(g_cdump, " connections accepted"))) return -1;
    while (p > g_cdump && p[-1] >= '0' && p[-1] <= '9') p--;
    return strtol(p, NULL, 10);
}

/* 1 if the peer of client fd closed (end of stream or reset) within 2 s. */
static int cio_ended(int fd) {
    struct pollfd pf;
    char b;
    ssize_t n;
    pf.fd = fd;
    pf.events = POLLIN;
    if (poll(&pf, 1, 2000) != 1) return 0;
    n = recv(fd, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* A listener an acceptor waited on accepts through the ring: an acceptor cancelled
   while it waits loses no connection (40 arrive with nobody accepting: more than a
   listener holds, so its accept is cancelled at the cap and armed again), the next
   takes every one, each with its peer's address; deregistering a listener that holds
   connections closes them (their clients see the end). */
TEST(completion_accepts_lose_no_connection) {
    enum { N = 40 };
    static cio_acceptor f, g, h;
    async_io lis;
    async_addr at;
    int cl[N], more[3], seen[N], i, j, k;
    ZERO(lis); ZERO(f); ZERO(g); ZERO(h);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &at), 0);
    if (test_cur_failed) {                                  /* (a fault took it) */
        async_runtime_destroy(&rt);
        return;
    }
    f.lis = g.lis = h.lis = &lis;
    f.want = g.want = N;
    h.want = 1;
    async_task_spawn(&rt, &f.task, cio_acceptor_run, "acceptor");
    CHECK(async_runtime_step(&rt, 0) >= 0);                /* it waits: the ring accepts */
    CHECK(!async_task_is_finished(&f.task));
    ASSERT_EQ(async_task_abort(&f.task), 0);
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(f.n, 0);
    for (i = 0; i < N; i++) {
        cl[i] = cio_dial(&at, i);
        ASSERT_EQ(cl[i] >= 0, 1);
    }
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) CHECK(cio_accepted() >= 16);              /* held, at least to the cap */
    async_task_spawn(&rt, &g.task, cio_acceptor_run, "acceptor");
    ASSERT_EQ(run_until(&g.task), 0);
    ASSERT_EQ(g.rc, 0);
    ASSERT_EQ(g.n, N);
    if (cio_on()) ASSERT_EQ(cio_accepted(), 0);
    for (i = 0; i < N; i++) seen[i] = -1;
    for (j = 0; j < N; j++) {                               /* whose is each: its byte */
        unsigned char b = 0xff;
        struct sockaddr_in mine;
        socklen_t ml = sizeof mine;
        struct sockaddr_in *peer = (struct sockaddr_in *)async_addr_sockaddr(&g.peer[j]);
        struct pollfd pf;
        pf.fd = g.conn[j].fd;
        pf.events = POLLIN;
        ASSERT_EQ(poll(&pf, 1, 5000), 1);
        ASSERT_EQ(recv(g.conn[j].fd, &b, 1, 0), 1);
        ASSERT_EQ(b < N, 1);
        if (b >= N) break;
        ASSERT_EQ(seen[b], -1);
        seen[b] = j;
        ASSERT_EQ(getsockname(cl[b], (struct sockaddr *)&mine, &ml), 0);
        ASSERT_EQ(g.peer[j].len, (uint32_t)sizeof mine);
        ASSERT_EQ(peer->sin_port, mine.sin_port);           /* its peer's address */
    }
    /* three held, then the listener deregistered: closed, their clients told */
    async_task_spawn(&rt, &h.task, cio_acceptor_run, "acceptor");
    CHECK(async_runtime_step(&rt, 0) >= 0);
    ASSERT_EQ(async_task_abort(&h.task), 0);
    ASSERT_EQ(run_until(&h.task), 0);
    for (i = 0; i < 3; i++) {
        more[i] = cio_dial(&at, i);
        ASSERT_EQ(more[i] >= 0, 1);
    }
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_accepted(), 3);
    async_io_close(&lis);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(cio_ended(more[i]), 1);
        close(more[i]);
    }
    if (cio_on()) CHECK(cio_accepted() <= 0);
    for (j = 0; j < N; j++) async_io_close(&g.conn[j]);
    for (i = 0; i < N; i++) close(cl[i]);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A runtime destroyed with a listener still registered that holds connections the
   ring accepted: they are closed (nothing leaks; their clients see the end). */
TEST(a_runtime_destroyed_closes_the_connections_its_listener_holds) {
    static cio_acceptor f;
    async_io lis;
    async_addr at;
    int cl[3], i, k;
    ZERO(lis); ZERO(f);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &at), 0);
    f.lis = &lis;
    f.want = 1;
    async_task_spawn(&rt, &f.task, cio_acceptor_run, "acceptor");
    CHECK(async_runtime_step(&rt, 0) >= 0);
    ASSERT_EQ(async_task_abort(&f.task), 0);
    ASSERT_EQ(run_until(&f.task), 0);
    for (i = 0; i < 3; i++) {
        cl[i] = cio_dial(&at, i);
        ASSERT_EQ(cl[i] >= 0, 1);
    }
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_accepted(), 3);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
    async_io_close(&lis);                                   /* detached: closes it */
    for (i = 0; i < 3; i++) {
        if (cio_on()) ASSERT_EQ(cio_ended(cl[i]), 1);
        close(cl[i]);
    }
}

/* Peers flood 150 sockets nobody reads: a socket holds a few buffers at most, the ring
   runs short, its receives end; then every socket is read to its end, every byte in
   order (through the ring or, short of buffers, read(2)), and nothing stays held. */
TEST(flooded_unread_sockets_lose_nothing_when_buffers_run_out) {
    enum { N = 150 };
    static one_read first[N];
    static cio_reader f[N];
    static async_io a[N];
    static int sv[N][2];
    static size_t off[N];
    size_t total = 100000;
    int i, k, done;
    long held;
    ASSERT_EQ(cio_runtime(), 0);
    for (i = 0; i < N; i++) {
        ZERO(a[i]); ZERO(first[i]); ZERO(f[i]);
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
        ASSERT_EQ(async_io_register(&rt, &a[i], sv[i][0]), 0);
        ASSERT_EQ(fcntl(sv[i][1], F_SETFL, O_NONBLOCK), 0);
        first[i].io = &a[i];
        async_task_spawn(&rt, &first[i].task, one_read_run, "first");
    }
    CHECK(async_runtime_step(&rt, 0) >= 0);                /* they wait: the ring */
    for (i = 0; i < N; i++) {                               /* one byte each, read */
        off[i] = 0;
        cio_feed(sv[i][1], &off[i], 1);
    }
    for (i = 0; i < N; i++) ASSERT_EQ(run_until(&first[i].task), 0);
    for (k = 0; k < 20; k++) {                              /* the flood, unread */
        for (i = 0; i < N; i++) cio_feed(sv[i][1], &off[i], total);
        CHECK(async_runtime_step(&rt, MS(1)) >= 0);
    }
    held = cio_count(0);
    if (cio_on()) CHECK(held > 0 && held <= 2048);
    printf("  (%ld receive buffers held by %d unread sockets)\n", held, N);
    for (i = 0; i < N; i++) {
        f[i].io = &a[i];
        f[i].chunk = 3000;
        f[i].total = 1;                                     /* the first byte: read */
        async_task_spawn(&rt, &f[i].task, cio_reader_run, "reader");
    }
    for (k = 0; k < 100000; k++) {
        for (i = done = 0; i < N; i++) {
            cio_feed(sv[i][1], &off[i], total);
            if (off[i] == total && sv[i][1] >= 0 && shutdown(sv[i][1], SHUT_WR) == 0) {
                close(sv[i][1]);
                sv[i][1] = -1;
            }
            done += async_task_is_finished(&f[i].task);
        }
        if (done == N) break;
        CHECK(async_runtime_step(&rt, MS(10)) >= 0);
    }
    for (i = 0; i < N; i++) {
        CHECK(async_task_is_finished(&f[i].task));
        ASSERT_EQ(f[i].rc, 0);
        ASSERT_EQ(f[i].total, total);
        ASSERT_EQ(f[i].bad, 0);
    }
    if (cio_on()) ASSERT_EQ(cio_count(0), 0);
    for (i = 0; i < N; i++) ASSERT_EQ(async_io_close(&a[i]), 0);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    size_t off, total, n;
    int i, rc;
    unsigned char buf[9000];
} cio_writer;
static int cio_writer_run(async_task *t) {
    static const size_t sizes[] = {1, 100, 2048, 2049, 64, 9000, 700, 2047};
    cio_writer *f = (cio_writer *)t;
    size_t j;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->off < f->total; f->i++) {
        f->n = sizes[f->i % 8];
        if (f->n > f->total - f->off) f->n = f->total - f->off;
        for (j = 0; j < f->n; j++) f->buf[j] = cio_pat(f->off + j);
        ASYNC_AWAIT(f->rc, async_io_write_all(t, f->io, &f->w, f->buf, f->n));
        if (f->rc != (int)f->n) ASYNC_RETURN(f->rc < 0 ? f->rc : -1);
        f->off += f->n;
    }
    ASYNC_END(async_io_shutdown(f->io, ASYNC_IO_WRITE));
}

/* Writes through the ring (small) and by send(2) (larger) in between: the peer reads
   every byte in order; then the send slots are all back. */
TEST(completion_writes_keep_order_with_larger_ones_between) {
    static cio_writer wf;
    static cio_reader rf;
    int sv[2], k;
    async_io a, b;
    ZERO(a); ZERO(b); ZERO(wf); ZERO(rf);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &b, sv[1]), 0);
    wf.io = &a;
    wf.total = 300000;
    rf.io = &b;
    rf.chunk = 1500;
    async_task_spawn(&rt, &wf.task, cio_writer_run, "writer");
    async_task_spawn(&rt, &rf.task, cio_reader_run, "reader");
    ASSERT_EQ(run_until(&rf.task), 0);
    ASSERT_EQ(run_until(&wf.task), 0);
    ASSERT_EQ(async_task_result(&wf.task, &k), 0);
    ASSERT_EQ(k, 0);
    ASSERT_EQ(rf.rc, 0);
    ASSERT_EQ(rf.total, wf.total);
    ASSERT_EQ(rf.bad, 0);
    if (cio_on()) ASSERT_EQ(cio_count(1), 0);
    ASSERT_EQ(async_io_close(&a), 0);
    ASSERT_EQ(async_io_close(&b), 0);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

typedef struct {
    async_task task;
    async_io *io;
    async_waiter w;
    int rc;
    size_t got;
    unsigned char buf[1000];
} cio_once;
static int cio_once_run(async_task *t) {
    cio_once *f = (cio_once *)t;
    size_t j;
    ASYNC_BEGIN(t);
    for (j = 0; j < sizeof f->buf; j++) f->buf[j] = cio_pat(j);
    ASYNC_AWAIT(f->rc, async_io_write_all(t, f->io, &f->w, f->buf, sizeof f->buf));
    f->got = f->w.got;
    ASYNC_END(0);
}

/* A write through the ring fails as send(2) would (the peer gone: EPIPE, nothing
   carried over); a write cancelled in flight is sent whole or not at all, never into
   freed memory, and its slot comes back. */
TEST(completion_writes_fail_and_cancel_as_send_would) {
    static cio_once f;
    unsigned char got[2000];
    int sv[2], k;
    ssize_t n;
    async_io a;
    ZERO(a); ZERO(f);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    close(sv[1]);
    f.io = &a;
    async_task_spawn(&rt, &f.task, cio_once_run, "writer");
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(f.rc, -EPIPE);
    ASSERT_EQ(f.got, 0);
    ASSERT_EQ(async_io_close(&a), 0);

    ZERO(a); ZERO(f);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    f.io = &a;
    async_task_spawn(&rt, &f.task, cio_once_run, "writer");
    CHECK(async_runtime_step(&rt, 0) >= 0);
    if (!async_task_is_finished(&f.task)) {                 /* in flight: cancelled */
        ASSERT_EQ(async_task_abort(&f.task), 0);
        ASSERT_EQ(run_until(&f.task), 0);
    }
    for (k = 0; k < 5; k++) CHECK(async_runtime_step(&rt, MS(2)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_count(1), 0);
    ASSERT_EQ(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    n = read(sv[1], got, sizeof got);
    CHECK(n == 1000 || (n < 0 && errno == EAGAIN));
    for (k = 0; k < n; k++) CHECK(got[k] == cio_pat((size_t)k));
    ASSERT_EQ(async_io_close(&a), 0);
    close(sv[1]);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A write through the ring stuck (the peer reads nothing, every buffer full), its
   task cancelled, then the descriptor closed: the send in flight is cancelled with it,
   so the socket closes now (a request holds the file) and the peer sees the end. */
TEST(closing_a_descriptor_cancels_its_send_in_flight) {
    static cio_once f;
    static char fill[65536], sink[65536];
    int sv[2], k, eof = 0;
    async_io a;
    ZERO(a); ZERO(f);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    while (send(sv[0], fill, sizeof fill, MSG_DONTWAIT) > 0) {}     /* full */
    f.io = &a;
    async_task_spawn(&rt, &f.task, cio_once_run, "writer");
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(2)) >= 0);
    CHECK(!async_task_is_finished(&f.task));                /* it waits for space */
    if (cio_on()) ASSERT_EQ(cio_count(1), 1);
    ASSERT_EQ(async_task_abort(&f.task), 0);
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(async_io_close(&a), 0);
    ASSERT_EQ(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    for (k = 0; k < 200 && !eof; k++) {                     /* the peer drains: the end */
        ssize_t n = read(sv[1], sink, sizeof sink);
        if (n == 0) eof = 1;
        else if (n < 0) {
            struct pollfd p;
            p.fd = sv[1];
            p.events = POLLIN;
            p.revents = 0;
            (void)poll(&p, 1, 10);
        }
    }
    CHECK(eof);
    close(sv[1]);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A connection made through the ring (IORING_OP_CONNECT) is refused as connect(2)
   would say; one in flight (the listener's queue full: its SYN is dropped) whose task
   is cancelled is closed, its request cancelled with it: nothing left open, its slot
   back, and the io as it was. */
TEST(completion_connects_fail_and_cancel_as_connect_would) {
    static connector c;
    async_io lis;
    async_addr bound, a;
    async_listen_opts o;
    int raw[2], k, fd;
    ZERO(c); ZERO(lis); ZERO(o);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    ASSERT_EQ(async_io_close(&lis), 0);                     /* a port just free */
    c.to = bound;
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    ASSERT_EQ(run_until(&c.task), 0);
    ASSERT_EQ(c.rc, -ECONNREFUSED);
    CHECK(c.io.rt == NULL);
    ASSERT_EQ(rt.io.n, 1);

    ZERO(c);
    o.backlog = 1;                                          /* two queued at most */
    ASSERT_EQ(async_addr_parse(&a, "127.0.0.1:0"), 0);
    ASSERT_EQ(async_sock_listen(&rt, &lis, &a, &o), 0);
    ASSERT_EQ(async_sock_local_addr(&lis, &bound), 0);
    for (k = 0; k < 2; k++) {
        raw[k] = socket(AF_INET, SOCK_STREAM, 0);
        ASSERT_EQ(connect(raw[k], (struct sockaddr *)async_addr_sockaddr(&bound),
                          (socklen_t)bound.len), 0);
    }
    c.to = bound;
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(2)) >= 0);
    CHECK(!async_task_is_finished(&c.task));                /* its SYN unanswered */
    if (cio_on()) ASSERT_EQ(cio_count(1), 1);               /* in the ring */
    fd = c.io.fd;
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) >= 0);
    ASSERT_EQ(async_task_abort(&c.task), 0);
    ASSERT_EQ(run_until(&c.task), 0);
    ASSERT_EQ(c.rc, ASYNC_ECANCELED);
    CHECK(c.io.rt == NULL);
    CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);        /* closed */
    for (k = 0; k < 5; k++) CHECK(async_runtime_step(&rt, MS(2)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_count(1), 0);               /* the slot back */
    ASSERT_EQ(rt.io.n, 2);                                  /* the listener alone */
    for (k = 0; k < 2; k++) close(raw[k]);
    ASSERT_EQ(async_io_close(&lis), 0);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* Bytes received through the ring, then the loop run by another thread (a ring of its
   own: completion I/O ends with the old one): the bytes held are read first, the next
   ones through readiness. */
static one_read g_mig1, g_mig2;
static int g_mig_rc, g_mig_fd;
static void *mig_loop(void *arg) {
    (void)arg;
    async_task_spawn(&rt, &g_mig1.task, one_read_run, "reader");
    g_mig_rc = run_until(&g_mig1.task);
    async_task_spawn(&rt, &g_mig2.task, one_read_run, "reader");
    if (g_mig_rc == 0) g_mig_rc = async_runtime_step(&rt, 0) < 0;     /* it waits */
    if (g_mig_rc == 0 && send(g_mig_fd, "w", 1, 0) != 1) g_mig_rc = -2;
    if (g_mig_rc == 0) g_mig_rc = run_until(&g_mig2.task);
    return NULL;
}
TEST(bytes_held_in_the_ring_survive_a_loop_in_another_thread) {
    static one_read f;
    pthread_t th;
    int sv[2], k;
    async_io a;
    ZERO(a); ZERO(f); ZERO(g_mig1); ZERO(g_mig2);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(async_io_register(&rt, &a, sv[0]), 0);
    f.io = g_mig1.io = g_mig2.io = &a;
    g_mig_fd = sv[1];
    async_task_spawn(&rt, &f.task, one_read_run, "reader");
    CHECK(async_runtime_step(&rt, 0) >= 0);                /* waits: the ring */
    ASSERT_EQ(send(sv[1], "1", 1, 0), 1);
    ASSERT_EQ(run_until(&f.task), 0);
    ASSERT_EQ(send(sv[1], "xyz", 3, 0), 3);
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(5)) >= 0);
    if (cio_on()) ASSERT_EQ(cio_count(0), 1);
    ASSERT_EQ(pthread_create(&th, NULL, mig_loop, NULL), 0);
    pthread_join(th, NULL);
    ASSERT_EQ(g_mig_rc, 0);
    ASSERT_EQ(g_mig1.n, 3);
    CHECK(memcmp(g_mig1.buf, "xyz", 3) == 0);
    ASSERT_EQ(g_mig2.n, 1);
    ASSERT_EQ(g_mig2.buf[0], 'w');
    ASSERT_EQ(async_io_close(&a), 0);
    close(sv[1]);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A connection in progress (its SYN dropped: the listener's queue full) whose io is
   closed by someone else: its connect ends with ECLOSED, as any operation on it, and
   makes no new socket (it did, connecting again; through the ring its waiter then
   kept a completion's kind and waited forever). On the build's backend, then on
   io_uring. */
static const char *close_while_connecting(int ring) {
    static connector c;
    async_io lis;
    async_addr bound, a;
    async_listen_opts o;
    int raw[2], k;
    const char *err = NULL;
    ZERO(c); ZERO(lis); ZERO(o);
    if (ring ? cio_runtime() != 0 : async_runtime_init(&rt, NULL) != 0) return "init";
    o.backlog = 1;
    if (async_addr_parse(&a, "127.0.0.1:0") < 0 || async_sock_listen(&rt, &lis, &a, &o) < 0 ||
        async_sock_local_addr(&lis, &bound) < 0) {
        (void)async_io_close(&lis);
        (void)async_runtime_destroy(&rt);
        return "listen";
    }
    for (k = 0; k < 2; k++) {
        raw[k] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(raw[k], (struct sockaddr *)async_addr_sockaddr(&bound),
                    (socklen_t)bound.len) != 0)
            err = "connect";
    }
    c.to = bound;
    async_task_spawn(&rt, &c.task, connector_run, "connector");
    for (k = 0; k < 3; k++) (void)async_runtime_step(&rt, MS(2));
    if (async_task_is_finished(&c.task)) err = "connected at once";
    if (async_io_close(&c.io) != 0) err = "close";
    for (k = 0; k < 5 && !async_task_is_finished(&c.task); k++)
        (void)async_runtime_step(&rt, MS(2));
    if (!err && !async_task_is_finished(&c.task)) err = "its connect goes on";
    else if (!err && c.rc != ASYNC_ECLOSED) err = "not ECLOSED";
    else if (!err && (c.io.rt != NULL || rt.io.n != 2)) err = "a new socket";
    if (!async_task_is_finished(&c.task)) {
        (void)async_task_abort(&c.task);
        (void)run_until(&c.task);
    }
    for (k = 0; k < 2; k++) close(raw[k]);
    (void)async_io_close(&c.io);
    (void)async_io_close(&lis);
    if (async_runtime_destroy(&rt) != 0 && !err) err = "destroy";
    return err ? err : "";
}
TEST(closing_a_connecting_socket_ends_its_connect) {
    ASSERT_STR(close_while_connecting(0), "");
    ASSERT_STR(close_while_connecting(1), "");
}

/* A raw listener on 127.0.0.1 whose queue is full (backlog 1: two connections, raw):
   a connect to it waits, its SYN dropped, until there is room. Its address in *to;
   the listener, or -1. */
static int full_listener(async_addr *to, int raw[2]) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int lis = socket(AF_INET, SOCK_STREAM, 0), k;
    ZERO(sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lis < 0 || bind(lis, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lis, 1) != 0 ||
        getsockname(lis, (struct sockaddr *)&sa, &sl) != 0) {
        if (lis >= 0) close(lis);
        return -1;
    }
    for (k = 0; k < 2; k++) {
        raw[k] = socket(AF_INET, SOCK_STREAM, 0);
        if (raw[k] < 0 || connect(raw[k], (struct sockaddr *)&sa, sizeof sa) != 0) {
            while (k >= 0) close(raw[k--]);
            close(lis);
            return -1;
        }
    }
    memcpy(to->u.bytes, &sa, sizeof sa);
    to->len = (uint32_t)sizeof sa;
    return lis;
}
/* Room in its queue: the two accepted and closed. 1, or 0. */
static int full_listener_room(int lis, int raw[2]) {
    int k, ok = 1;
    for (k = 0; k < 2; k++) {
        int fd = accept(lis, NULL, NULL);
        if (fd >= 0) close(fd);
        else ok = 0;
        close(raw[k]);
    }
    return ok;
}
/* The connection io made to lis: accepted (within 5 s), and it carries a byte. */
static const char *accepted_carries(int lis, async_io *io) {
    struct pollfd p;
    char c = 0;
    int fd;
    const char *err = NULL;
    p.fd = lis;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 5000) != 1 || (fd = accept(lis, NULL, NULL)) < 0) return "not accepted";
    if (write(async_io_fd(io), "k", 1) != 1) err = "write";
    else if (read(fd, &c, 1) != 1 || c != 'k') err = "read";
    close(fd);
    return err ? err : "";
}

/* A loop driven from outside (async_runtime_backend_fd: a ring without DEFER_TASKRUN,
   entered by any thread) moved between threads that end: the kernel cancels what a
   thread submitted when it ends. A connect submitted by one (through the ring) is
   made again by connect(2) in the next, whose readiness wait (a poll) ends with that
   thread too: the connect goes on and is made (it said ECANCELED; then, after the
   second thread, connected while it was not). */
static connector g_mc;
static int g_hop_steps;
static void *hop_loop(void *arg) {
    int k;
    (void)arg;
    for (k = 0; k < g_hop_steps; k++) (void)async_runtime_step(&rt, MS(2));
    return NULL;
}
TEST(a_connect_outlives_the_threads_that_ran_its_loop) {
    pthread_t th;
    int lis, raw[2], k;
    ZERO(g_mc);
    ASSERT_EQ(cio_runtime(), 0);
    CHECK(async_runtime_backend_fd(&rt) >= 0);              /* driven from outside */
    ASSERT_EQ((lis = full_listener(&g_mc.to, raw)) >= 0, 1);
    if (lis < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    async_task_spawn(&rt, &g_mc.task, connector_run, "connector");
    for (k = 0; k < 2; k++) {                               /* two threads, each ending */
        g_hop_steps = 3;
        ASSERT_EQ(pthread_create(&th, NULL, hop_loop, NULL), 0);
        pthread_join(th, NULL);
        CHECK(!async_task_is_finished(&g_mc.task));
    }
    CHECK(full_listener_room(lis, raw));                     /* room in the queue */
    ASSERT_EQ(run_until(&g_mc.task), 0);
    ASSERT_EQ(g_mc.rc, 0);
    if (!test_cur_failed) {                                 /* connected when it says so */
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        ASSERT_EQ(getpeername(async_io_fd(&g_mc.io), (struct sockaddr *)&peer, &pl), 0);
    }
    if (!test_cur_failed) ASSERT_STR(accepted_carries(lis, &g_mc.io), "");
    ASSERT_EQ(async_io_close(&g_mc.io), 0);
    close(lis);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

/* A connect in flight in the ring (its SYN dropped: the listener's queue full), then
   the loop run by another thread (a ring of its own: the old one's requests die with
   it): connect(2) again says it is under way, and the connection is made by readiness
   (the SYN sent again once the queue has room, after about a second). */
static int g_mc_rc;
static void *mc_loop(void *arg) {
    (void)arg;
    g_mc_rc = run_until(&g_mc.task);
    return NULL;
}
TEST(a_connect_in_the_ring_survives_a_loop_in_another_thread) {
    pthread_t th;
    int lis, raw[2], k;
    ZERO(g_mc);
    ASSERT_EQ(cio_runtime(), 0);
    ASSERT_EQ((lis = full_listener(&g_mc.to, raw)) >= 0, 1);
    if (lis < 0) {
        async_runtime_destroy(&rt);
        return;
    }
    async_task_spawn(&rt, &g_mc.task, connector_run, "connector");
    for (k = 0; k < 3; k++) CHECK(async_runtime_step(&rt, MS(2)) >= 0);
    CHECK(!async_task_is_finished(&g_mc.task));             /* its SYN unanswered */
    if (cio_on()) ASSERT_EQ(cio_count(1), 1);               /* in the ring */
    ASSERT_EQ(pthread_create(&th, NULL, mc_loop, NULL), 0);
    CHECK(full_listener_room(lis, raw));                     /* room in the queue */
    pthread_join(th, NULL);
    ASSERT_EQ(g_mc_rc, 0);
    ASSERT_EQ(g_mc.rc, 0);
    CHECK(g_mc.io.rt == &rt);
    if (!test_cur_failed) ASSERT_STR(accepted_carries(lis, &g_mc.io), "");
    ASSERT_EQ(async_io_close(&g_mc.io), 0);
    close(lis);
    ASSERT_EQ(async_runtime_destroy(&rt), 0);
}

#ifdef TEST_FAULTS
static int g_refuse_errno;
static int refuse_the_ring(void *user, int call, int fd, size_t *len) {
    (void)user; (void)len;
    if (call == ASYNC_SYS_SOCKET && fd == -1 && g_refuse_errno) {
        int e = g_refuse_errno;
        g_refuse_errno = 0;                             /* the first one: the ring's */
        return -e;
    }
    return 0;
}
static char g_dump[2048];
static void dump_into(void *user, const char *line) {
    (void)user;
    if (strlen(g_dump) + strlen(line) < sizeof g_dump) strcat(g_dump, line);
}

/* io_uring refused (seccomp, kernel.io_uring_disabled: EPERM; an old kernel: ENOSYS):
   epoll instead, and the dump says so. Out of descriptors is no refusal: the error. */
TEST(io_uring_refused_falls_back_to_epoll_and_the_dump_says_so) {
    async_runtime_desc d;
    async_faults fx;
    async_io rd, wr;
    ZERO(d); ZERO(fx); ZERO(rd); ZERO(wr);
    d.backend = ASYNC_BACKEND_IO_URING;
    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    fx.sys = refuse_the_ring;
    g_refuse_errno = EPERM;
    async_faults_set(&fx);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);
    async_faults_set(NULL);
    ASSERT_STR(async_runtime_io_backend(&rt), "epoll");
    g_dump[0] = 0;
    async_runtime_dump(&rt, dump_into, NULL);
    CHECK(strstr(g_dump, "io: epoll (io_uring refused: ") != NULL);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);

    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    g_refuse_errno = EMFILE;
    async_faults_set(&fx);
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), -EMFILE);
    async_faults_set(NULL);
    ASSERT_EQ(rt.io.n, 0);                              /* no reactor */
    ASSERT_EQ(async_io_pipe(&rt, &rd, &wr), 0);         /* the next start: io_uring */
    CHECK(strcmp(async_runtime_io_backend(&rt), "io_uring") == 0 || rt.io.be_refused);
    g_dump[0] = 0;
    async_runtime_dump(&rt, dump_into, NULL);
    CHECK(strstr(g_dump, "  io: ") != NULL && strstr(g_dump, "2 descriptors") != NULL);
    async_io_close(&rd);
    async_io_close(&wr);
    async_runtime_destroy(&rt);
}
#endif
#endif /* __linux__ */

#endif /* ASYNC_POSIX_ONLY, _WIN32 */

#if defined(ASYNC_POSIX_ONLY) || defined(_WIN32)
/* Without epoll (the strict POSIX build: macOS and the BSDs until a kqueue backend;
   Windows: WSAPoll keeps no set) there is no descriptor to hand out: -ENOSYS, said at
   once; the timeout still works. */
TEST(backend_fd_is_enosys_without_epoll) {
    rt_real();
    ASSERT_EQ(async_runtime_backend_fd(&rt), ASYNC_ENOSYS);
    ASSERT_EQ(async_runtime_backend_fd(&rt), ASYNC_ENOSYS);
    ASSERT_EQ(async_runtime_backend_timeout(&rt), ASYNC_TIME_NEVER);
    ASSERT_EQ(async_runtime_backend_timeout_ms(&rt), -1);
    async_runtime_destroy(&rt);
}
#endif

TEST(backend_fd_bad_input) {
    static async_runtime never;          /* never initialised */
    ZERO(never);
    ASSERT_EQ(async_runtime_backend_fd(NULL), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_backend_fd(&never), ASYNC_EINVAL);
    ASSERT_EQ(async_runtime_backend_timeout(NULL), 0);      /* the step will say why */
    ASSERT_EQ(async_runtime_backend_timeout_ms(&never), 0);
    ASSERT_EQ(async_runtime_step(&never, 0), ASYNC_EINVAL);
}

/* ---- zero allocation --------------------------------------------------------------- */

/* The reactor's table in storage of ours (room for 3 descriptors, one byte off any
   alignment), with an allocator that fails every call: 3 registered, a fourth is
   ASYNC_ELIMIT and leaves the descriptor (its blocking mode) and the table as they
   were; one closed, the fourth fits. Then a TCP echo (listener, client, accepted
   connection: 3 at once) and file calls on a pool in storage of ours, on the same
   runtime. Bad storage is EINVAL. Not one allocation. */
TEST(reactor_in_storage_registers_up_to_its_capacity) {
    static unsigned char mem[ASYNC_RUNTIME_IO_STORAGE_SIZE(3) + 1];
    static unsigned char pmem[ASYNC_POOL_STORAGE_SIZE(1, 1, 64)];
    static async_io io[4], lis;
    static acceptor acc;
    static echo_conn conns[1];
    static client c;
    static filer f;
    async_runtime_desc d;
    async_pool_desc pd;
    async_pool pool;
    async_addr bound;
    char path[64];
    int a[2], b[2];
    long calls0;
    ZERO(d); ZERO(pd); ZERO(io); ZERO(lis); ZERO(acc); ZERO(conns); ZERO(c); ZERO(f);
    test_fail_all = 1;
    calls0 = test_alloc_calls;
    d.io_storage_size = sizeof mem;             /* no storage */
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    d.io_storage = mem;
    d.io_storage_size = ASYNC_RUNTIME_IO_STORAGE_SIZE(1) - 1;     /* not one descriptor */
    ASSERT_EQ(async_runtime_init(&rt, &d), ASYNC_EINVAL);
    d.io_storage = mem + 1;
    d.io_storage_size = sizeof mem - 1;
    ASSERT_EQ(async_runtime_init(&rt, &d), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    ASSERT_EQ(async_io_register(&rt, &io[0], a[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &io[1], a[1]), 0);
    ASSERT_EQ(async_io_register(&rt, &io[2], b[0]), 0);
    ASSERT_EQ(async_io_register(&rt, &io[3], b[1]), ASYNC_ELIMIT);
    ASSERT_EQ(rt.io.n, 4);                      /* 3 and the wake slot */
#ifndef _WIN32
    ASSERT_EQ(fcntl(b[1], F_GETFL) & O_NONBLOCK, 0);   /* left blocking */
#endif
    ASSERT_EQ(async_io_close(&io[1]), 0);
    ASSERT_EQ(async_io_register(&rt, &io[3], b[1]), 0);
    ASSERT_EQ(rt.io.n, 4);
    ASSERT_EQ(async_io_close(&io[0]), 0);
    ASSERT_EQ(async_io_close(&io[2]), 0);
    ASSERT_EQ(async_io_close(&io[3]), 0);
    ASSERT_EQ(rt.io.n, 1);
    /* a TCP echo: 3 registered at once, the table's capacity */
    ASSERT_EQ(listen_on(&lis, "127.0.0.1:0", &bound), 0);
    acc.lis = &lis;
    acc.conns = conns;
    acc.nconns = 1;
    c.to = bound;
    c.msg = "hello, zero allocation";
    c.len = strlen(c.msg);
    async_task_spawn(&rt, &acc.task, acceptor_run, "acceptor");
    async_task_spawn(&rt, &c.task, client_run, "client");
    /* file calls on a pool in storage of ours */
    pd.max_threads = 1;
    pd.storage = pmem;
    pd.storage_size = sizeof pmem;
    pd.requests = 1;
    pd.request_size = 64;
    ASSERT_EQ(async_pool_init(&pool, &rt, &pd), 0);
    snprintf(path, sizeof path, "/tmp/async-test-zero-io-%d", (int)getpid());
    f.pool = &pool;
    f.path = path;
    async_task_spawn(&rt, &f.task, filer_run, "filer");
    ASSERT_EQ(async_runtime_run(&rt), 0);
    ASSERT_EQ(c.task.u.result, (long long)c.len);
    CHECK(memcmp(c.back, c.msg, c.len) == 0);
    ASSERT_EQ(conns[0].task.u.result, (long long)c.len);
    CHECK(f.fd >= 0);
    ASSERT_EQ(f.wrote, 11);
    ASSERT_EQ(f.read1, 4);
    CHECK(memcmp(f.buf, "file", 4) == 0);
    ASSERT_EQ(f.read2, 5);
    ASSERT_EQ(f.missing, -ENOENT);
    unlink(path);
    ASSERT_EQ(async_io_close(&lis), 0);
    ASSERT_EQ(async_pool_destroy(&pool), 0);
    async_runtime_destroy(&rt);
    ASSERT_EQ(test_alloc_calls - calls0, 0);    /* not one call to ASYNC_MALLOC */
    test_fail_all = 0;
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
    alarm(300);                                 /* a hang fails instead of blocking CI */
#ifdef _WIN32
    {   /* the tests' own sockets may come before any runtime's */
        WSADATA wd;
        if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) return 2;
    }
#endif
    RUN(tcp_ipv4_echo);
    RUN(tcp_ipv6_echo);
    RUN(unix_stream_echo);
    RUN(reuseport_two_listeners_share_a_port);
    RUN(addresses_parse_and_format);
    RUN(connect_refused_leaves_nothing_open);
    RUN(address_in_use);
    RUN(reset_by_peer_and_broken_pipe);
    RUN(read_after_reset_is_an_error);
    RUN(half_close_and_unexpected_eof);
    RUN(slow_reader_holds_back_fast_writer);
    RUN(udp_send_recv_connect);
    RUN(pipe_read_write_eof_and_epipe);
    RUN(read_to_end_and_to_string);
    RUN(close_wakes_waiters_with_eclosed);
    RUN(abort_and_timeout_of_waits_release_the_descriptor);
    RUN(timeout_around_a_read_on_the_paused_clock);
#ifdef TEST_FAULTS
    RUN(eintr_in_the_look_before_auto_advance_misses_no_io);
#endif
    RUN(thousand_concurrent_connections);
    RUN(ping_pong_loses_no_wakeup);
    RUN(budget_stops_a_reader_that_is_always_ready);
    RUN(socket_options_and_bad_input);
    RUN(register_restores_blocking_mode);
    RUN(bufreader_lines_at_every_split);
    RUN(bufreader_fill_consume_and_reads);
    RUN(bufwriter_batches_and_flushes_under_backpressure);
    RUN(resolve_names_on_the_pool);
    RUN(file_reads_and_writes_on_the_pool);
    RUN(file_whole_file_helpers);
    RUN(cancelled_pool_ops_free_their_requests);
    RUN(emfile_on_accept_backs_off_and_recovers);
    RUN(signals_interrupting_the_loop_lose_nothing);
    RUN(io_move_hands_a_connection_to_another_task);
    RUN(io_bad_arguments);
    RUN(reactor_in_storage_registers_up_to_its_capacity);
    RUN(register_a_regular_file);
    RUN(close_reports_a_descriptor_closed_behind_its_back);
    RUN(io_ready_and_clear_ready_around_a_call_of_ones_own);
    RUN(errors_in_the_middle_of_an_operation);
    RUN(close_wakes_a_blocked_writer);
    RUN(out_of_descriptors_every_creation_fails_cleanly);
    RUN(buffered_reads_and_half_closes_at_their_edges);
    RUN(listen_options);
#if !defined(ASYNC_POSIX_ONLY) && !defined(_WIN32)
    RUN(backend_fd_is_readable_on_io_and_timers_come_through_the_timeout);
    RUN(an_idle_descriptor_does_not_keep_the_backend_fd_readable);
    RUN(backend_fd_made_late_watches_what_was_registered_before);
    RUN(a_pool_completion_rings_the_backend_fd);
    RUN(backend_timeout_on_the_paused_clock);
    RUN(host_loop_wakes_for_another_thread_and_never_spins);
#ifdef TEST_FAULTS
    RUN(a_doorbell_rung_after_the_flag_was_taken_is_drained);
#endif
#ifdef __linux__
    RUN(backend_chosen_by_desc_then_the_environment);
    RUN(reactor_in_storage_on_each_backend);
    RUN(late_readiness_of_a_closed_descriptor_wakes_nobody);
    RUN(a_registered_regular_file_does_not_spin_the_loop);
    RUN(loop_run_in_another_thread_than_the_reactor_started_in);
    RUN(completion_reads_keep_every_byte_in_order);
    RUN(a_cancelled_read_leaves_its_bytes_to_the_next);
    RUN(flooded_unread_sockets_lose_nothing_when_buffers_run_out);
    RUN(completion_accepts_lose_no_connection);
    RUN(a_runtime_destroyed_closes_the_connections_its_listener_holds);
    RUN(completion_writes_keep_order_with_larger_ones_between);
    RUN(completion_writes_fail_and_cancel_as_send_would);
    RUN(closing_a_descriptor_cancels_its_send_in_flight);
    RUN(completion_connects_fail_and_cancel_as_connect_would);
    RUN(a_connect_in_the_ring_survives_a_loop_in_another_thread);
    RUN(closing_a_connecting_socket_ends_its_connect);
    RUN(a_connect_outlives_the_threads_that_ran_its_loop);
    RUN(bytes_held_in_the_ring_survive_a_loop_in_another_thread);
#ifdef TEST_FAULTS
    RUN(io_uring_refused_falls_back_to_epoll_and_the_dump_says_so);
#endif
#endif
#else
    RUN(backend_fd_is_enosys_without_epoll);
#endif
    RUN(backend_fd_bad_input);
    DONE();
}
