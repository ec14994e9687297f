/* Integration tests of the network servers in examples/: echo, echo-client, chat and
   proxy. Each test forks and execs the built binaries (build/examples/<name>, so run
   from the repository root after building them) on port 0, reads the port from their
   "listening on 127.0.0.1:NNNN" line, and talks to them with plain blocking sockets.
   Every wait goes through poll() with a bound of a few seconds, so a bug fails a test
   instead of hanging it; every child is killed and reaped at the end of each test,
   whatever happened (and on SIGALRM, the overall bound). */
#include "test.h"
#ifdef _WIN32                           /* (make port-windows: built with mingw-w64) */
#include "srv_win.h"
#endif
#define FLOOD_CHILDREN
#include "flood.h"
#include <errno.h>
#include <signal.h>
#include <time.h>
#ifndef _WIN32
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#endif

/* Where the servers under test are: make sanitize points this at sanitizer builds. */
#ifndef SRV_DIR
#define SRV_DIR "build/examples/"
#endif
#define BIN SRV_DIR
/* Where its logs go: the strict POSIX run (make test) has its own, as it runs beside. */
#ifndef SRV_LOG_DIR
#define SRV_LOG_DIR "build/test/"
#endif
#define LOG SRV_LOG_DIR "test_srv_net.log"      /* the servers' stderr */

static long long now_ms(void) { return flood_now_ms(); }

#ifdef _WIN32
static void cloexec(int fd) { srv_win_cloexec(fd); }
#else
static void cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }
#endif

/* poll one descriptor: > 0 ready, 0 timed out */
static int wait_fd(int fd, short events, int ms) {
    struct pollfd p;
    int r;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    do r = poll(&p, 1, ms < 0 ? 0 : ms); while (r < 0 && errno == EINTR);
    return r;
}

static const char *child_log = LOG;            /* where the servers' stderr goes */

#ifdef _WIN32
static pid_t fork_exec(char *const argv[], int out_fd, int err_fd) {
    int own = -1;
    pid_t pid;
    if (err_fd < 0)
        err_fd = own = _open(child_log, _O_WRONLY | _O_CREAT | _O_APPEND | _O_BINARY, 0644);
    pid = srv_win_start(argv, out_fd, err_fd);
    if (own >= 0) _close(own);
    if (pid > 0 && nkids < (int)(sizeof kids / sizeof kids[0])) kids[nkids++] = pid;
    return pid;
}
#else
static pid_t fork_exec(char *const argv[], int out_fd, int err_fd) {
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0) dup2(out_fd, 1);
        if (err_fd < 0) err_fd = open(child_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (err_fd >= 0) dup2(err_fd, 2);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid > 0 && nkids < (int)(sizeof kids / sizeof kids[0])) kids[nkids++] = pid;
    return pid;
}
#endif

/* kill(pid, sig): 0, or -1 where that signal cannot be sent (Windows: Ctrl-C never
   reaches a process group of its own, and Wine has no Ctrl-Break): said, and the
   caller skips the rest of its test. */
static int signal_to(pid_t pid, int sig) {
    if (kill(pid, sig) == 0) return 0;
    printf("    note: skipped from here: no %s to send here\n",
           sig == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM (Ctrl-Break, under Wine)");
    return -1;
}

static int server_err_fd = -1;                  /* start_server_err's pipe */

/* Starts a server; its port from the first line of its stdout (0 on failure). */
static int start_server(char *const argv[], pid_t *pid) {
    char line[128];
    size_t len = 0;
    int p[2], port = 0;
    long long t0 = now_ms(), end = t0 + 30000; /* a first start under Wine on a loaded
                                                   machine took more than 5 s once */
    *pid = -1;
    if (pipe(p) < 0) return 0;
    cloexec(p[0]);
    *pid = fork_exec(argv, p[1], server_err_fd);
    close(p[1]);
    while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
        ssize_t n;
        if (wait_fd(p[0], POLLIN, (int)(end - now_ms())) <= 0) break;
        n = read(p[0], line + len, sizeof line - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        line[len] = 0;
    }
    line[len] = 0;
    close(p[0]);
    if (sscanf(line, "listening on 127.0.0.1:%d", &port) != 1) {
        printf("  %s did not say where it listens: \"%s\" (after %lld ms)\n", argv[0], line,
               now_ms() - t0);
        return 0;
    }
    return port;
}

/* start_server, with the server's stderr into a pipe whose read end is *err. */
static int start_server_err(char *const argv[], pid_t *pid, int *err) {
    int pe[2], port;
    *err = -1;
    if (pipe(pe) < 0) return 0;
    cloexec(pe[0]);
    cloexec(pe[1]);                             /* dup2 onto 2 in the server clears it */
    server_err_fd = pe[1];
    port = start_server(argv, pid);
    server_err_fd = -1;
    close(pe[1]);
    *err = pe[0];
    return port;
}

/* Everything from fd to its EOF (bounded by ms), into buf; closes fd. */
static void read_to_eof(int fd, char *buf, size_t cap, int ms) {
    size_t len = 0;
    long long end = now_ms() + ms;
    while (fd >= 0 && len + 1 < cap && wait_fd(fd, POLLIN, (int)(end - now_ms())) > 0) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    if (fd >= 0) close(fd);
}

/* The clients each shard accepted, from its shutdown line on stderr ("... (shard I of
   N, K accepted)"): how many shards said so. */
static int shard_counts(const char *err, long *accepted, int nshards) {
    const char *p = err;
    int seen = 0, i, n;
    long k;
    for (i = 0; i < nshards; i++) accepted[i] = -1;
    while ((p = strstr(p, "(shard ")) != NULL) {
        if (sscanf(p, "(shard %d of %d, %ld accepted)", &i, &n, &k) == 3 && n == nshards &&
            i >= 0 && i < nshards && accepted[i] < 0) {
            accepted[i] = k;
            seen++;
        }
        p++;
    }
    return seen;
}

/* Runs argv to its end (bounded), its stdout and stderr into out and err. */
static int run_capture(char *const argv[], char *out, size_t ocap, char *err, size_t ecap,
                       int ms) {
    int po[2], pe[2], open_n = 2;
    size_t ol = 0, el = 0;
    long long end = now_ms() + ms;
    pid_t pid;
    if (pipe(po) < 0 || pipe(pe) < 0) return -1;
    cloexec(po[0]);
    cloexec(pe[0]);
    pid = fork_exec(argv, po[1], pe[1]);
    close(po[1]);
    close(pe[1]);
    while (open_n > 0 && now_ms() < end) {
        struct pollfd p[2];
        int i;
        p[0].fd = po[0];
        p[1].fd = pe[0];
        p[0].events = p[1].events = POLLIN;
        if (poll(p, 2, (int)(end - now_ms())) <= 0) continue;
        for (i = 0; i < 2; i++) {
            char *buf = i ? err : out;
            size_t *l = i ? &el : &ol, cap = i ? ecap : ocap;
            ssize_t n;
            char sink[256];
            if ((int)p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (*l + 1 < cap) n = read(p[i].fd, buf + *l, cap - 1 - *l);
            else n = read(p[i].fd, sink, sizeof sink);
            if (n > 0 && *l + 1 < cap) *l += (size_t)n;
            if (n <= 0) {
                close(p[i].fd);
                if (i) pe[0] = -1;
                else po[0] = -1;
                open_n--;
            }
        }
    }
    if (po[0] >= 0) close(po[0]);
    if (pe[0] >= 0) close(pe[0]);
    out[ol] = 0;
    err[el] = 0;
    return wait_exit(pid, (int)(end - now_ms()) + 100);
}

/* ---- plain sockets ------------------------------------------------------------------ */
static int connect_port_buf(int port, int rcvbuf) {
    struct sockaddr_in a;
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    cloexec(fd);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, FLOOD_OPT(&rcvbuf), sizeof rcvbuf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
static int connect_port(int port) { return connect_port_buf(port, 0); }

static int send_all(int fd, const void *buf, size_t n, int ms) {
    const char *p = (const char *)buf;
    long long end = now_ms() + ms;
    while (n > 0) {
        ssize_t w;
        if (wait_fd(fd, POLLOUT, (int)(end - now_ms())) <= 0) return -1;
        w = send(fd, p, n, MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
static int send_str(int fd, const char *s) { return send_all(fd, s, strlen(s), 3000); }

static int recv_exact(int fd, void *buf, size_t n, int ms) {
    char *p = (char *)buf;
    long long end = now_ms() + ms;
    while (n > 0) {
        ssize_t r;
        if (wait_fd(fd, POLLIN, (int)(end - now_ms())) <= 0) return -1;
        r = recv(fd, p, n, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* 0: EOF, 1: reset (both "closed"), -1: data or nothing within ms */
static int recv_eof(int fd, int ms) {
    char c;
    ssize_t r;
    if (wait_fd(fd, POLLIN, ms) <= 0) return -1;
    r = recv(fd, &c, 1, MSG_DONTWAIT);
    if (r == 0) return 0;
    if (r < 0 && errno == ECONNRESET) return 1;
    return -1;
}

/* Sends len bytes and reads them back at the same time (no deadlock however large). */
static int exchange(int fd, const char *out, char *back, size_t len, int ms) {
    size_t sent = 0, got = 0;
    long long end = now_ms() + ms;
    while (got < len) {
        struct pollfd p;
        ssize_t n;
        p.fd = fd;
        p.events = (short)(POLLIN | (sent < len ? POLLOUT : 0));
        p.revents = 0;
        if (now_ms() > end || poll(&p, 1, (int)(end - now_ms())) <= 0) return -1;
        if (sent < len && (p.revents & POLLOUT)) {
            n = send(fd, out + sent, len - sent > 65536 ? 65536 : len - sent,
                     MSG_DONTWAIT);
            if (n > 0) sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, back + got, len - got, MSG_DONTWAIT);
            if (n > 0) got += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return -1;
        }
    }
    return 0;
}

static void fill(char *buf, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) buf[i] = (char)(seed * 131 + i * 7 + (i >> 9));
}

/* A line reader over a socket. */
typedef struct {
    int fd;
    size_t len;
    char buf[65536];
} lines;

static void lines_init(lines *l, int fd) {
    l->fd = fd;
    l->len = 0;
}

/* The next line without its '\n' into out: its length, 0 at EOF, -1 timeout/error. */
static int recv_line(lines *l, char *out, size_t cap, int ms) {
    long long end = now_ms() + ms;
    for (;;) {
        char *nl = (char *)memchr(l->buf, '\n', l->len);
        ssize_t r;
        if (nl) {
            size_t n = (size_t)(nl - l->buf), k = n < cap - 1 ? n : cap - 1;
            memcpy(out, l->buf, k);
            out[k] = 0;
            memmove(l->buf, nl + 1, l->len - n - 1);
            l->len -= n + 1;
            return (int)k + (k == 0);           /* an empty line counts as 1 */
        }
        if (l->len == sizeof l->buf) return -1;
        if (wait_fd(l->fd, POLLIN, (int)(end - now_ms())) <= 0) return -1;
        r = recv(l->fd, l->buf + l->len, sizeof l->buf - l->len, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        l->len += (size_t)r;
    }
}

/* Reads lines until one contains want (bounded): 1 found, 0 not. */
static int wait_line(lines *l, const char *want, char *line, size_t cap, int ms) {
    long long end = now_ms() + ms;
    while (now_ms() < end) {
        if (recv_line(l, line, cap, (int)(end - now_ms())) <= 0) return 0;
        if (strstr(line, want)) return 1;
    }
    return 0;
}


/* What a new client gets: 1 served, 0 refused at once (closed, or the server's "full"
   line then closed), -1 neither within the bound (it hangs). */
typedef int (*probe_fn)(int port);

static int probe_echo(int port) {
    char b[8];
    int fd = flood_connect(port, 2000), r = -1;
    if (fd < 0) return -1;
    if (send_str(fd, "ping") == 0 && wait_fd(fd, POLLIN, 2000) > 0) {
        ssize_t n = recv(fd, b, 4, MSG_WAITALL);
        if (n == 4 && memcmp(b, "ping", 4) == 0) r = 1;
        else if (n == 0 || (n < 0 && errno == ECONNRESET)) r = 0;
    } else if (recv_eof(fd, 0) >= 0) {
        r = 0;                                  /* the send itself met the reset */
    }
    close(fd);
    return r;
}

/* Tries the probe until it serves (at most ms): its last answer. */
static int probe_until_served(probe_fn probe, int port, int ms) {
    long long end = now_ms() + ms;
    int r;
    while ((r = probe(port)) != 1 && now_ms() < end) poll(NULL, 0, 50);
    return r;
}

/* n idle connections against a server with --max-conns cap: the first cap are kept,
   every other one is closed at once, and so is a new client; when some of the kept
   ones leave, a new client is served again. */
static void flood_at_cap(probe_fn probe, int port, int n, int cap) {
    int *fds = (int *)malloc(sizeof(int) * (size_t)n);
    if (!fds) return;
    ASSERT_EQ(flood_open(port, fds, n, FLOOD_MS(3000)), n);   /* every one is accepted */
    ASSERT_EQ(flood_wait_closed(fds, n, n - cap, FLOOD_MS(5000)), n - cap);
    ASSERT_EQ(probe(port), 0);                  /* a new client: refused at once */
    flood_close(fds, n, 10);                    /* ten of the kept ones leave */
    ASSERT_EQ(probe_until_served(probe, port, 3000), 1);
    ASSERT_EQ(flood_wait_closed(fds, n, n, 0), n - cap + 10);  /* the rest still in */
    flood_close(fds, n, n);
    free(fds);
}

/* n idle connections against a server with a short --idle-timeout and --max-conns:
   every one is closed (refused at once, or dropped after the timeout), and a new
   client is served again. */
static void flood_timed_out(probe_fn probe, int port, int n) {
    int *fds = (int *)malloc(sizeof(int) * (size_t)n);
    if (!fds) return;
    ASSERT_EQ(flood_open(port, fds, n, FLOOD_MS(3000)), n);
    ASSERT_EQ(flood_wait_closed(fds, n, n, FLOOD_MS(5000)), n);
    ASSERT_EQ(probe_until_served(probe, port, 3000), 1);
    flood_close(fds, n, n);
    free(fds);
}

/* 1 if the server closes fd within ms (whatever it sends first is read and dropped). */
static int closed_within(int fd, int ms) {
    long long end = now_ms() + ms;
    while (now_ms() < end) {
        if (wait_fd(fd, POLLIN, (int)(end - now_ms())) <= 0) return 0;
        if (flood_closed(fd)) return 1;
    }
    return 0;
}

static int start_echo(pid_t *pid) {
    char *argv[] = {(char *)BIN "echo", (char *)"0", NULL};
    return start_server(argv, pid);
}

/* ---- usage -------------------------------------------------------------------------- */
TEST(usage_without_arguments_exits_2) {
    static const char *const bins[] = {BIN "echo", BIN "echo-client", BIN "chat",
                                       BIN "proxy"};
    char out[512], err[512];
    size_t i;
    for (i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        char *argv[2];
        argv[0] = (char *)bins[i];
        argv[1] = NULL;
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT_HAS(err, "usage");
        ASSERT_STR(out, "");
    }
    {
        char *argv[] = {(char *)BIN "echo", (char *)"notaport", NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT_HAS(err, "usage");
    }
    {
        char *argv[] = {(char *)BIN "proxy", (char *)"0", NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT_HAS(err, "usage");
    }
    {
        char *argv[] = {(char *)BIN "echo-client", (char *)"127.0.0.1:1", (char *)"x",
                        NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 5000), 2);
        ASSERT_HAS(err, "usage");
    }
    reap_all();
}

/* Bad options: the usage text and exit 2, before anything listens. */
TEST(options_are_strict) {
    static const char *const bad[][5] = {
        {"echo", "--max-conns", "0", "0", NULL}, {"echo", "--max-conns", "-1", "0", NULL},
        {"echo", "--max-conns", "1x", "0", NULL}, {"echo", "--max-conns=", "0", NULL, NULL},
        {"echo", "0", "--max-conns", NULL, NULL}, {"echo", "--max-conns", " 5", "0", NULL},
        {"echo", "--max-conns", "99999999999999999999", "0", NULL},
        {"echo", "--max-connsx=5", "0", NULL, NULL}, {"echo", "--bogus", "0", NULL, NULL},
        {"echo", "0", "1", NULL, NULL}, {"chat", "--max-conns", "+5", "0", NULL},
        {"chat", "--max-conns", "0", "0", NULL}, {"chat", "-x", "0", NULL, NULL},
        {"proxy", "--max-conns", "0", "0", "127.0.0.1:1"},
        {"proxy", "0", "127.0.0.1:1", "127.0.0.1:2", NULL},
        {"proxy", "--max-conns=abc", "0", "127.0.0.1:1", NULL},
        {"echo", "--idle-timeout", "-1", "0", NULL}, {"echo", "--idle-timeout", "x", "0", NULL},
        {"echo", "--idle-timeout", "1e3", "0", NULL}, {"echo", "--idle-timeout", ".", "0", NULL},
        {"echo", "--idle-timeout", "0.0001", "0", NULL}, {"echo", "--idle-timeout=", "0", NULL},
        {"echo", "--idle-timeout", "inf", "0", NULL}, {"echo", "--idle-timeout", "nan", "0", NULL},
        {"echo", "--idle-timeout", "1.2.3", "0", NULL}, {"echo", "0", "--idle-timeout", NULL},
        {"echo", "--idle-timeout", "2000000", "0", NULL},
        {"chat", "--idle-timeout", "-5", "0", NULL}, {"chat", "--idle-timeout", "5s", "0", NULL},
        {"proxy", "--idle-timeout", "", "0", "127.0.0.1:1"},
        {"proxy", "--idle-timeout=0x10", "0", "127.0.0.1:1", NULL},
        {"echo", "--threads", "-1", "0", NULL}, {"echo", "--threads", "1025", "0", NULL},
        {"echo", "--threads=", "0", NULL, NULL}, {"echo", "0", "--threads", NULL, NULL},
        {"chat", "--threads", "x", "0", NULL}, {"chat", "--threads=2.5", "0", NULL, NULL},
    };
    char out[512], err[1024], path[5][64];
    size_t i, k;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[6];
        for (k = 0; k < 5 && bad[i][k]; k++) {
            snprintf(path[k], sizeof path[k], "%s%s", k ? "" : BIN, bad[i][k]);
            argv[k] = path[k];
        }
        argv[k] = NULL;
        if (run_capture(argv, out, sizeof out, err, sizeof err, 5000) != 2 ||
            !strstr(err, "usage") || out[0])
            FAIL_("case %zu (%s %s %s): not refused with the usage", i, bad[i][0],
                  bad[i][1], bad[i][2] ? bad[i][2] : "");
    }
    {                                           /* good ones do start */
        char *argv[] = {(char *)BIN "echo", (char *)"--max-conns=7", (char *)"0",
                        (char *)"--idle-timeout", (char *)"0", NULL};
        char *argv2[] = {(char *)BIN "chat", (char *)"--idle-timeout=2.5", (char *)"0", NULL};
        char *argv3[] = {(char *)BIN "echo", (char *)"--threads=0", (char *)"0", NULL};
        char *argv4[] = {(char *)BIN "chat", (char *)"--threads", (char *)"3", (char *)"0",
                         NULL};
        pid_t pid;
        ASSERT_EQ(start_server(argv, &pid) > 0, 1);
        ASSERT_EQ(start_server(argv2, &pid) > 0, 1);
#ifdef _WIN32                                   /* (--threads: reuseport, ENOSYS there) */
        (void)argv3;
        (void)argv4;
        printf("    note: --threads starts skipped on Windows (reuseport: ENOSYS)\n");
#else
        ASSERT_EQ(start_server(argv3, &pid) > 0, 1);    /* one per core */
        ASSERT_EQ(start_server(argv4, &pid) > 0, 1);
#endif
    }
    reap_all();
}

/* ---- echo --------------------------------------------------------------------------- */
TEST(echo_round_trips_1_byte_64_bytes_1_mb) {
    static char out[1 << 20], back[1 << 20];
    static const size_t sizes[] = {1, 64, 1 << 20};
    pid_t pid;
    int port = start_echo(&pid), fd;
    size_t i;
    ASSERT_EQ(port > 0, 1);
    fd = connect_port(port);
    ASSERT_EQ(fd >= 0, 1);
    for (i = 0; fd >= 0 && i < sizeof sizes / sizeof sizes[0]; i++) {
        fill(out, sizes[i], (unsigned)i + 1);
        memset(back, 0, sizes[i]);
        ASSERT_EQ(exchange(fd, out, back, sizes[i], 10000), 0);
        CHECK(memcmp(out, back, sizes[i]) == 0);
    }
    if (fd >= 0) close(fd);
    ASSERT_EQ(wait_exit(pid, 0), -1);           /* still running */
    reap_all();
}

TEST(echo_half_close_gets_everything_then_eof) {
    static char out[200000], back[200000];
    pid_t pid;
    int port = start_echo(&pid), fd;
    ASSERT_EQ(port > 0, 1);
    fd = connect_port(port);
    ASSERT_EQ(fd >= 0, 1);
    if (fd >= 0) {
        fill(out, sizeof out, 7);
        /* 200 KB fits in the loopback buffers both ways: write it all, then half-close */
        ASSERT_EQ(send_all(fd, out, sizeof out, 5000), 0);
        ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
        ASSERT_EQ(recv_exact(fd, back, sizeof back, 5000), 0);
        CHECK(memcmp(out, back, sizeof out) == 0);
        ASSERT_EQ(recv_eof(fd, 3000), 0);
        close(fd);
    }
    reap_all();
}

TEST(echo_100_concurrent_connections) {
    enum { N = 100 };
    int fds[N], i, ok = 0;
    pid_t pid;
    int port = start_echo(&pid);
    ASSERT_EQ(port > 0, 1);
    for (i = 0; i < N; i++) fds[i] = port > 0 ? connect_port(port) : -1;
    for (i = 0; i < N; i++) {                   /* all of them talk at once */
        char msg[64];
        snprintf(msg, sizeof msg, "connection %03d says hello", i);
        if (fds[i] >= 0) send_str(fds[i], msg);
    }
    for (i = N - 1; i >= 0; i--) {              /* read back in the other order */
        char msg[64], back[64];
        snprintf(msg, sizeof msg, "connection %03d says hello", i);
        memset(back, 0, sizeof back);
        if (fds[i] >= 0 && recv_exact(fds[i], back, strlen(msg), 5000) == 0 &&
            strcmp(back, msg) == 0)
            ok++;
    }
    ASSERT_EQ(ok, N);
    for (i = 0; i < N; i++) if (fds[i] >= 0) close(fds[i]);
    reap_all();
}

TEST(echo_client_against_echo) {
    char out[512], err[512], target[64];
    pid_t pid;
    int port = start_echo(&pid);
    ASSERT_EQ(port > 0, 1);
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    {
        char *argv[] = {(char *)BIN "echo-client", target, NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 10000), 0);
        ASSERT_HAS(out, "10 round trips ok");
    }
    {                                           /* larger than the socket buffers */
        char *argv[] = {(char *)BIN "echo-client", target, (char *)"5", (char *)"3000000",
                        NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 15000), 0);
        ASSERT_HAS(out, "5 round trips ok");
    }
    snprintf(target, sizeof target, "localhost:%d", port);
    {
        char *argv[] = {(char *)BIN "echo-client", target, (char *)"3", NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 10000), 0);
        ASSERT_HAS(out, "3 round trips ok");
    }
    reap_all();
    {                                           /* nobody listens now: an error, 1 */
        char *argv[] = {(char *)BIN "echo-client", target, NULL};
        ASSERT_EQ(run_capture(argv, out, sizeof out, err, sizeof err, 10000), 1);
        ASSERT_HAS(err, "echo-client");
    }
    reap_all();
}

TEST(echo_2000_idle_connections_at_the_cap_are_refused) {
    char *argv[] = {(char *)BIN "echo", (char *)"--max-conns", (char *)"100", (char *)"0",
                    NULL};
    pid_t pid;
    int port = start_server(argv, &pid);
    ASSERT_EQ(port > 0, 1);
    if (port > 0) flood_at_cap(probe_echo, port, FLOOD_N(2000), 100);
    reap_all();
}

/* --idle-timeout 0.4: a silent connection is closed, one that talks every 50 ms for
   twice as long is not, nor is a large transfer; then 2000 idle ones at the cap
   are all gone and a new client is served. */
TEST(echo_idle_connections_are_dropped_after_the_idle_timeout) {
    static char out[1 << 20], back[1 << 20];
    char *argv[] = {(char *)BIN "echo", (char *)"--idle-timeout", (char *)"0.4",
                    (char *)"--max-conns", (char *)"100", (char *)"0", NULL};
    char b[8];
    pid_t pid;
    int port = start_server(argv, &pid), active, idle, i, ok = 0;
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    active = connect_port(port);
    idle = connect_port(port);
    ASSERT_EQ(active >= 0 && idle >= 0, 1);
    for (i = 0; i < 16 && active >= 0; i++) {
        poll(NULL, 0, 50);
        if (exchange(active, "tick", b, 4, 3000) == 0 && memcmp(b, "tick", 4) == 0) ok++;
    }
    ASSERT_EQ(ok, 16);
    CHECK(closed_within(idle, 3000));
    fill(out, sizeof out, 9);                   /* busy for a while: not idle */
    ASSERT_EQ(exchange(active, out, back, sizeof out, 10000), 0);
    CHECK(memcmp(out, back, sizeof out) == 0);
    CHECK(closed_within(active, 3000));         /* then silent: closed too */
    if (active >= 0) close(active);
    if (idle >= 0) close(idle);
    flood_timed_out(probe_echo, port, FLOOD_N(2000));
    reap_all();
}

/* --threads 2 --max-conns 100: 400 idle connections over both shards, exactly 100 kept
   (the cap is global), the others and a new client refused at once; room again when
   ten leave. Then with --idle-timeout 0.3 too: all 400 closed (refused, or dropped on
   whichever shard after the timeout), and a new client is served. */
TEST(echo_threads_2_cap_and_idle_timeout) {
    char *argv[] = {(char *)BIN "echo", (char *)"--threads", (char *)"2", (char *)"--max-conns",
                    (char *)"100", (char *)"0", NULL};
    char *argv2[] = {(char *)BIN "echo", (char *)"--threads", (char *)"2", (char *)"--max-conns",
                     (char *)"100", (char *)"--idle-timeout", (char *)"0.3", (char *)"0", NULL};
    pid_t pid;
    int port = start_server(argv, &pid);
    ASSERT_EQ(port > 0, 1);
    if (port > 0) flood_at_cap(probe_echo, port, 400, 100);
    port = start_server(argv2, &pid);
    ASSERT_EQ(port > 0, 1);
    if (port > 0) flood_timed_out(probe_echo, port, 400);
    reap_all();
}

/* A client that sends and never reads what comes back: echo's writes stall; after the
   idle timeout it is closed all the same. */
TEST(echo_client_that_never_reads_is_dropped) {
    static char junk[65536];
    char *argv[] = {(char *)BIN "echo", (char *)"--idle-timeout=0.3", (char *)"0", NULL};
    pid_t pid;
    int port = start_server(argv, &pid), fd, rcvbuf = 4096;
    long long end;
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    fd = connect_port_buf(port, rcvbuf);
    ASSERT_EQ(fd >= 0, 1);
    if (fd < 0) { reap_all(); return; }
    flood_nonblock(fd, 1);
    end = now_ms() + 5000;                      /* send until every buffer is full */
    while (now_ms() < end && wait_fd(fd, POLLOUT, 500) > 0)
        if (send(fd, junk, sizeof junk, 0) < 0 && errno != EAGAIN) break;
    /* without reading (that would unblock the server): the close is a hang-up */
    {
        struct pollfd p;
        p.fd = fd;
        p.events = 0;                           /* only POLLHUP and POLLERR */
        p.revents = 0;
        ASSERT_EQ(poll(&p, 1, 5000), 1);
        CHECK(p.revents & (POLLHUP | POLLERR));
    }
    close(fd);
    reap_all();
}

static void signal_exits_0(int sig, int with_client) {
    pid_t pid;
    int port = start_echo(&pid), fd = -1, rc;
    long long t0;
    char b[8];
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    if (with_client) {                          /* an idle connection, open */
        fd = connect_port(port);
        ASSERT_EQ(exchange(fd, "ping", b, 4, 3000), 0);
    }
    t0 = now_ms();
    if (signal_to(pid, sig) < 0) {
        if (fd >= 0) close(fd);
        reap_all();
        return;
    }
    rc = wait_exit(pid, 5000);
    ASSERT_EQ(rc, 0);
    CHECK(now_ms() - t0 < 4000);                /* the 2 s grace, then the abort */
    if (fd >= 0) {
        ASSERT_EQ(recv_eof(fd, 1000) >= 0, 1);  /* its connection was closed */
        close(fd);
    }
    reap_all();
}

TEST(echo_sigterm_exits_0) { signal_exits_0(SIGTERM, 1); }
TEST(echo_sigint_exits_0) { signal_exits_0(SIGINT, 0); }

/* --threads 2: 32 connections echo right, on both shards (the kernel spreads them; all
   on one would be a 1 in 2e9 chance); at SIGTERM each has bytes in flight, then shuts
   its write side: every byte comes back, then EOF (each shard drains its own), the
   process exits 0, and the shards' lines on stderr count 32 accepted, some each. */
TEST(echo_threads_2_spreads_and_drains_on_sigterm) {
    enum { N = 32 };
    char *argv[] = {(char *)BIN "echo", (char *)"--threads", (char *)"2", (char *)"0", NULL};
    static char err[8192];
    char out[32], back[32];
    int fds[N], i, ok = 0, drained = 0, efd;
    long acc[2];
    pid_t pid;
    int port = start_server_err(argv, &pid, &efd);
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    for (i = 0; i < N; i++) {
        fds[i] = connect_port(port);
        snprintf(out, sizeof out, "ping %02d", i);
        if (fds[i] >= 0 && exchange(fds[i], out, back, 7, 3000) == 0 &&
            memcmp(out, back, 7) == 0)
            ok++;
    }
    ASSERT_EQ(ok, N);
    for (i = 0; i < N; i++) {                   /* in flight when the signal comes */
        snprintf(out, sizeof out, "bye %02d", i);
        send_all(fds[i], out, 6, 3000);
    }
    kill(pid, SIGTERM);
    for (i = 0; i < N; i++) {
        snprintf(out, sizeof out, "bye %02d", i);
        shutdown(fds[i], SHUT_WR);
        if (recv_exact(fds[i], back, 6, 3000) == 0 && memcmp(out, back, 6) == 0 &&
            recv_eof(fds[i], 3000) == 0)
            drained++;
        close(fds[i]);
    }
    ASSERT_EQ(drained, N);
    ASSERT_EQ(wait_exit(pid, 5000), 0);
    read_to_eof(efd, err, sizeof err, 2000);
    ASSERT_EQ(shard_counts(err, acc, 2), 2);
    ASSERT_EQ(acc[0] + acc[1], N);
    CHECK(acc[0] > 0 && acc[1] > 0);
    reap_all();
}

/* ---- chat --------------------------------------------------------------------------- */
static int start_chat(pid_t *pid) {
    char *argv[] = {(char *)BIN "chat", (char *)"0", NULL};
    return start_server(argv, pid);
}

/* Connects and reads the welcome: the client's name into name. */
static int chat_join(int port, lines *l, char *name, size_t cap, int rcvbuf) {
    char line[256];
    int fd = connect_port_buf(port, rcvbuf);
    if (fd < 0) return -1;
    lines_init(l, fd);
    if (recv_line(l, line, sizeof line, 3000) <= 0 ||
        sscanf(line, "*** welcome %31[^,],", name) != 1 || strlen(name) >= cap) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1: welcomed, 0: "server full" then closed, -1: neither */
static int probe_chat(int port) {
    static lines l;
    char line[256];
    int fd = flood_connect(port, 2000), r = -1;
    if (fd < 0) return -1;
    lines_init(&l, fd);
    if (recv_line(&l, line, sizeof line, 2000) > 0) {
        if (strncmp(line, "*** welcome ", 12) == 0) r = 1;
        else if (strncmp(line, "*** server full", 15) == 0 &&
                 recv_line(&l, line, sizeof line, 2000) == 0)
            r = 0;
    }
    close(fd);
    return r;
}

TEST(chat_2000_idle_connections_at_the_cap_are_refused) {
    char *argv[] = {(char *)BIN "chat", (char *)"--max-conns=100", (char *)"0", NULL};
    pid_t pid;
    int port = start_server(argv, &pid);
    ASSERT_EQ(port > 0, 1);
    if (port > 0) flood_at_cap(probe_chat, port, FLOOD_N(2000), 100);
    reap_all();
}

/* With the default cap (1024): the other 976 are told, and so is a new client. */
TEST(chat_2000_idle_connections_default_cap) {
    pid_t pid;
    int port = start_chat(&pid);
    ASSERT_EQ(port > 0, 1);
    if (port > 0) flood_at_cap(probe_chat, port, 2000, 1024);
    reap_all();
}

/* --idle-timeout 0.4: a silent client is told and closed (and the others hear it
   left); clients that talk every 50 ms, even with empty lines, stay for twice
   as long; then 2000 idle ones at the cap are all gone and a new client is served. */
TEST(chat_idle_clients_are_dropped_after_the_idle_timeout) {
    static lines a, b, c;
    char *argv[] = {(char *)BIN "chat", (char *)"--idle-timeout", (char *)"0.4",
                    (char *)"--max-conns", (char *)"100", (char *)"0", NULL};
    char na[32], nb[32], nc[32], line[256], want[64], left[64];
    pid_t pid;
    int port = start_server(argv, &pid), fa, fb, fc, i, ok = 0, c_left = 0;
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    fa = chat_join(port, &a, na, sizeof na, 0);
    fb = chat_join(port, &b, nb, sizeof nb, 0);
    fc = chat_join(port, &c, nc, sizeof nc, 0);
    ASSERT_EQ(fa >= 0 && fb >= 0 && fc >= 0, 1);
    if (fa < 0 || fb < 0 || fc < 0) { reap_all(); return; }
    snprintf(want, sizeof want, "%s: b says", nb);
    snprintf(left, sizeof left, "*** %s left", nc);
    for (i = 0; i < 16; i++) {                  /* A sends empty lines, B real ones */
        poll(NULL, 0, 50);
        send_str(fa, "\n");
        snprintf(line, sizeof line, "b says %d\n", i);
        send_str(fb, line);
        while (recv_line(&a, line, sizeof line, 3000) > 0) {
            if (strcmp(line, left) == 0) c_left = 1;
            if (strncmp(line, want, strlen(want)) == 0) {
                ok++;
                break;
            }
        }
    }
    ASSERT_EQ(ok, 16);
    ASSERT_EQ(wait_line(&c, "*** idle", line, sizeof line, 3000), 1);
    ASSERT_EQ(recv_line(&c, line, sizeof line, 3000), 0);      /* then EOF */
    if (!c_left) ASSERT_EQ(wait_line(&a, left, line, sizeof line, 3000), 1);
    ASSERT_EQ(send_str(fa, "still here\n"), 0);    /* A and B were not dropped */
    snprintf(want, sizeof want, "%s: still here", na);
    ASSERT_EQ(wait_line(&b, want, line, sizeof line, 3000), 1);
    close(fa);
    close(fb);
    close(fc);
    flood_timed_out(probe_chat, port, FLOOD_N(2000));
    reap_all();
}

TEST(chat_line_reaches_the_others_not_the_sender) {
    static lines a, b, c;
    char na[32], nb[32], nc[32], line[512], want[128];
    pid_t pid;
    int port = start_chat(&pid), fa, fb, fc;
    ASSERT_EQ(port > 0, 1);
    fa = chat_join(port, &a, na, sizeof na, 0);
    fb = chat_join(port, &b, nb, sizeof nb, 0);
    fc = chat_join(port, &c, nc, sizeof nc, 0);
    ASSERT_EQ(fa >= 0 && fb >= 0 && fc >= 0, 1);
    if (fa < 0 || fb < 0 || fc < 0) { reap_all(); return; }
    /* the joins were announced to those already in */
    snprintf(want, sizeof want, "*** %s joined", nb);
    ASSERT_EQ(wait_line(&a, want, line, sizeof line, 3000), 1);
    snprintf(want, sizeof want, "*** %s joined", nc);
    ASSERT_EQ(wait_line(&a, want, line, sizeof line, 3000), 1);
    ASSERT_EQ(wait_line(&b, want, line, sizeof line, 3000), 1);

    ASSERT_EQ(send_str(fa, "hello from a\r\n"), 0);
    snprintf(want, sizeof want, "%s: hello from a", na);
    ASSERT_EQ(recv_line(&b, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    ASSERT_EQ(recv_line(&c, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    /* A's next line is B's, not its own */
    ASSERT_EQ(send_str(fb, "ping\n"), 0);
    ASSERT_EQ(recv_line(&a, line, sizeof line, 3000) > 0, 1);
    snprintf(want, sizeof want, "%s: ping", nb);
    ASSERT_STR(line, want);
    ASSERT_EQ(recv_line(&c, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);

    /* a leave is announced */
    close(fb);
    snprintf(want, sizeof want, "*** %s left", nb);
    ASSERT_EQ(recv_line(&a, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    ASSERT_EQ(recv_line(&c, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    close(fa);
    close(fc);
    reap_all();
}

/* threads: the server's --threads (with 2, A, B and C land on either shard: lines
   between shards go through the relays, and C's queue is as bounded there). */
static void slow_client(const char *threads) {
    enum { LINES = 5000, PAD = 2000 };        /* 10 MB: more than any socket buffer */
    static lines a, b, c;
    static char out[LINES * (PAD + 40)], pad[PAD + 1];
    char *argv[] = {(char *)BIN "chat", (char *)"--threads", (char *)threads, (char *)"0",
                    NULL};
    char na[32], nb[32], nc[32], line[512], want[64];
    size_t olen = 0, sent = 0;
    int i, got = 0, next = 0, order_ok = 1, fa, fb, fc;
    long long end;
    pid_t pid;
    int port = start_server(argv, &pid);
    ASSERT_EQ(port > 0, 1);
    fa = chat_join(port, &a, na, sizeof na, 0);
    fb = chat_join(port, &b, nb, sizeof nb, 0);
    fc = chat_join(port, &c, nc, sizeof nc, 4096);     /* small, and never read */
    ASSERT_EQ(fa >= 0 && fb >= 0 && fc >= 0, 1);
    if (fa < 0 || fb < 0 || fc < 0) { reap_all(); return; }
    snprintf(want, sizeof want, "*** %s joined", nc);
    ASSERT_EQ(wait_line(&b, want, line, sizeof line, 3000), 1);
    memset(pad, 'z', PAD);
    for (i = 0; i < LINES; i++)
        olen += (size_t)snprintf(out + olen, sizeof out - olen, "line %05d %s\n", i, pad);
    snprintf(want, sizeof want, "%s: line ", na);
    /* A writes everything while B reads: all of it must reach B within 10 s. A stays
       at most 64 KB ahead of what B got (B is a reader that keeps up; a burst larger
       than B's queue and socket buffers together would be dropped for B too). */
    flood_nonblock(fa, 1);
    end = now_ms() + 10000;
    while (got < LINES && now_ms() < end) {
        struct pollfd p[2];
        size_t ahead = sent - (size_t)got * (olen / LINES), room;
        room = ahead < 65536 ? 65536 - ahead : 0;
        if (room > olen - sent) room = olen - sent;
        p[0].fd = fa;
        p[0].events = room ? POLLOUT : 0;
        p[1].fd = fb;
        p[1].events = POLLIN;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, 100) < 0) break;
        if (p[0].revents & POLLOUT) {
            ssize_t n = send(fa, out + sent, room, MSG_DONTWAIT);
            if (n > 0) sent += (size_t)n;
        }
        while (got < LINES && recv_line(&b, line, sizeof line, 0) > 0) {   /* cut at 511 */
            if (strncmp(line, want, strlen(want)) != 0) continue;
            if (atoi(line + strlen(want)) != next) order_ok = 0;
            next = atoi(line + strlen(want)) + 1;
            got++;
        }
    }
    ASSERT_EQ(sent, olen);
    ASSERT_EQ(got, LINES);
    CHECK(order_ok);
    /* the server is still fine: B talks to A */
    ASSERT_EQ(send_str(fb, "still here\n"), 0);
    snprintf(want, sizeof want, "%s: still here", nb);
    ASSERT_EQ(wait_line(&a, want, line, sizeof line, 3000), 1);
    /* and C, reading at last, learns it lost lines */
    ASSERT_EQ(wait_line(&c, "dropped", line, sizeof line, 5000), 1);
    close(fa);
    close(fb);
    close(fc);
    reap_all();
}

TEST(chat_slow_client_does_not_stall_the_others) { slow_client("1"); }
TEST(chat_threads_2_slow_client_does_not_stall_the_others) { slow_client("2"); }

TEST(chat_over_long_line_gets_an_error_and_is_closed) {
    static lines a, d;
    static char big[5001];
    char na[32], nd[32], line[512], want[64];
    pid_t pid;
    int port = start_chat(&pid), fa, fd;
    ASSERT_EQ(port > 0, 1);
    fa = chat_join(port, &a, na, sizeof na, 0);
    fd = chat_join(port, &d, nd, sizeof nd, 0);
    ASSERT_EQ(fa >= 0 && fd >= 0, 1);
    if (fa < 0 || fd < 0) { reap_all(); return; }
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\n';
    ASSERT_EQ(send_all(fd, big, sizeof big, 3000), 0);
    ASSERT_EQ(wait_line(&d, "*** error", line, sizeof line, 3000), 1);
    ASSERT_HAS(line, "4096");
    ASSERT_EQ(recv_line(&d, line, sizeof line, 3000), 0);   /* then EOF */
    close(fd);
    /* nothing of it reached A; D's leave did */
    snprintf(want, sizeof want, "*** %s joined", nd);
    ASSERT_EQ(recv_line(&a, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    snprintf(want, sizeof want, "*** %s left", nd);
    ASSERT_EQ(recv_line(&a, line, sizeof line, 3000) > 0, 1);
    ASSERT_STR(line, want);
    /* a line of exactly 4096 bytes is fine */
    {
        static lines e;
        char ne[32];
        static char ok[4097], got[8192];
        int fe = chat_join(port, &e, ne, sizeof ne, 0);
        ASSERT_EQ(fe >= 0, 1);
        ASSERT_EQ(wait_line(&a, "joined", line, sizeof line, 3000), 1);
        memset(ok, 'y', sizeof ok - 1);
        ok[sizeof ok - 1] = '\n';
        if (fe >= 0) ASSERT_EQ(send_all(fe, ok, sizeof ok, 3000), 0);
        ASSERT_EQ(recv_line(&a, got, sizeof got, 3000), (int)(strlen(ne) + 2 + 4096));
        if (fe >= 0) close(fe);
    }
    close(fa);
    reap_all();
}

/* --threads 2: clients join until some are on each shard (the welcome line says
   which); a line posted on either shard reaches every other client, on both shards,
   and not its sender; joins and leaves are announced across shards; names are
   unique over both. At SIGTERM every client, on both shards, is told and closed, and
   the process exits 0. */
TEST(chat_threads_2_lines_cross_shards) {
    enum { MAX = 64 };
    static lines l[MAX];
    char *argv[] = {(char *)BIN "chat", (char *)"--threads", (char *)"2", (char *)"0", NULL};
    char name[MAX][32], line[512], want[128], own[128];
    int fds[MAX], shard[MAX], n = 0, i, a = -1, b = -1, got, saw_own, efd;
    static char err[8192];
    long acc[2];
    pid_t pid;
    int port = start_server_err(argv, &pid, &efd);
    ASSERT_EQ(port > 0, 1);
    if (port <= 0) { reap_all(); return; }
    while (n < MAX && (a < 0 || b < 0 || n < 4)) {
        char *p;
        fds[n] = connect_port(port);
        if (fds[n] < 0) break;
        lines_init(&l[n], fds[n]);
        if (recv_line(&l[n], line, sizeof line, 3000) <= 0 ||
            sscanf(line, "*** welcome %31[^,],", name[n]) != 1 ||
            !(p = strstr(line, "(shard ")) || sscanf(p, "(shard %d of 2)", &shard[n]) != 1) {
            FAIL_("welcome line: \"%s\"", line);
            close(fds[n]);
            break;
        }
        for (i = 0; i < n; i++) ASSERT_EQ(strcmp(name[i], name[n]) != 0, 1);
        if (shard[n] == 0 && a < 0) a = n;
        if (shard[n] == 1 && b < 0) b = n;
        n++;
    }
    ASSERT_EQ(a >= 0 && b >= 0, 1);
    if (a < 0 || b < 0) { reap_all(); return; }
    /* everyone before the last heard the last join, whichever shard it was on */
    snprintf(want, sizeof want, "*** %s joined", name[n - 1]);
    for (got = 0, i = 0; i < n - 1; i++) got += wait_line(&l[i], want, line, sizeof line, 3000);
    ASSERT_EQ(got, n - 1);
    /* a line from A (shard 0) and one from B (shard 1): every other client gets both
       (in either order: a client has its own shard's line first); neither sender gets
       its own */
    ASSERT_EQ(send_str(fds[a], "from shard 0\n"), 0);
    ASSERT_EQ(send_str(fds[b], "from shard 1\n"), 0);
    for (got = 0, saw_own = 0, i = 0; i < n; i++) {
        char want_a[64], want_b[64];
        int need = (i != a) + (i != b), have = 0;
        snprintf(own, sizeof own, "%s: ", name[i]);
        snprintf(want_a, sizeof want_a, "%s: from shard 0", name[a]);
        snprintf(want_b, sizeof want_b, "%s: from shard 1", name[b]);
        while (have < need && recv_line(&l[i], line, sizeof line, 3000) > 0) {
            if (strncmp(line, own, strlen(own)) == 0) saw_own++;
            have += strcmp(line, want_a) == 0 || strcmp(line, want_b) == 0;
        }
        got += have;
    }
    ASSERT_EQ(got, 2 * (n - 1));
    ASSERT_EQ(saw_own, 0);
    /* B leaves: A, on the other shard, hears it */
    close(fds[b]);
    fds[b] = -1;
    snprintf(want, sizeof want, "*** %s left", name[b]);
    ASSERT_EQ(wait_line(&l[a], want, line, sizeof line, 3000), 1);
    kill(pid, SIGTERM);
    for (got = 0, i = 0; i < n; i++) {
        if (fds[i] < 0) continue;
        if (wait_line(&l[i], "*** server shutting down", line, sizeof line, 3000) &&
            recv_line(&l[i], line, sizeof line, 3000) == 0)
            got++;
        close(fds[i]);
    }
    ASSERT_EQ(got, n - 1);
    ASSERT_EQ(wait_exit(pid, 5000), 0);
    read_to_eof(efd, err, sizeof err, 2000);
    ASSERT_EQ(shard_counts(err, acc, 2), 2);
    ASSERT_EQ(acc[0] + acc[1], n);
    reap_all();
}

TEST(chat_sigterm_tells_clients_and_exits_0) {
    static lines a;
    char na[32], line[256];
    pid_t pid;
    int port = start_chat(&pid), fa;
    ASSERT_EQ(port > 0, 1);
    fa = chat_join(port, &a, na, sizeof na, 0);
    ASSERT_EQ(fa >= 0, 1);
    if (fa < 0) { reap_all(); return; }
    if (signal_to(pid, SIGTERM) < 0) {
        close(fa);
        reap_all();
        return;
    }
    ASSERT_EQ(wait_line(&a, "*** server shutting down", line, sizeof line, 3000), 1);
    ASSERT_EQ(recv_line(&a, line, sizeof line, 3000), 0);
    close(fa);
    ASSERT_EQ(wait_exit(pid, 5000), 0);
    reap_all();
}

/* ---- proxy -------------------------------------------------------------------------- */
static int start_proxy(int upstream_port, pid_t *pid, const char *host) {
    char up[64];
    char *argv[] = {(char *)BIN "proxy", (char *)"0", up, NULL};
    snprintf(up, sizeof up, "%s:%d", host, upstream_port);
    return start_server(argv, pid);
}

TEST(proxy_round_trip_and_half_close) {
    static char out[1 << 20], back[1 << 20];
    char target[64], o[256], e[256];
    pid_t epid, ppid = 0;
    int eport = start_echo(&epid), pport, fd;
    ASSERT_EQ(eport > 0, 1);
    pport = eport > 0 ? start_proxy(eport, &ppid, "127.0.0.1") : 0;
    ASSERT_EQ(pport > 0, 1);
    if (pport <= 0) { reap_all(); return; }
    fd = connect_port(pport);
    ASSERT_EQ(fd >= 0, 1);
    fill(out, 64, 3);
    ASSERT_EQ(exchange(fd, out, back, 64, 5000), 0);
    CHECK(memcmp(out, back, 64) == 0);
    fill(out, sizeof out, 4);                   /* 1 MB both ways at once */
    ASSERT_EQ(exchange(fd, out, back, sizeof out, 10000), 0);
    CHECK(memcmp(out, back, sizeof out) == 0);
    /* half-close through the proxy: the echo of what was in flight, then EOF */
    fill(out, 100000, 5);
    ASSERT_EQ(send_all(fd, out, 100000, 5000), 0);
    ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
    ASSERT_EQ(recv_exact(fd, back, 100000, 5000), 0);
    CHECK(memcmp(out, back, 100000) == 0);
    ASSERT_EQ(recv_eof(fd, 3000), 0);
    close(fd);
    /* echo-client through it, and a proxy given a name for its upstream */
    snprintf(target, sizeof target, "127.0.0.1:%d", pport);
    {
        char *argv[] = {(char *)BIN "echo-client", target, (char *)"50", (char *)"1000",
                        NULL};
        ASSERT_EQ(run_capture(argv, o, sizeof o, e, sizeof e, 10000), 0);
        ASSERT_HAS(o, "50 round trips ok");
    }
    {
        pid_t p2;
        int port2 = start_proxy(eport, &p2, "localhost");
        ASSERT_EQ(port2 > 0, 1);
        snprintf(target, sizeof target, "127.0.0.1:%d", port2);
        if (port2 > 0) {
            char *argv[] = {(char *)BIN "echo-client", target, NULL};
            ASSERT_EQ(run_capture(argv, o, sizeof o, e, sizeof e, 10000), 0);
            ASSERT_HAS(o, "10 round trips ok");
        }
    }
    if (signal_to(ppid, SIGINT) == 0) ASSERT_EQ(wait_exit(ppid, 5000), 0);
    reap_all();
}

TEST(proxy_2000_idle_connections_at_the_cap_are_refused) {
    char up[64];
    char *argv[] = {(char *)BIN "proxy", (char *)"--max-conns", (char *)"100", (char *)"0",
                    up, NULL};
    pid_t epid, ppid;
    int eport = start_echo(&epid), pport;
    ASSERT_EQ(eport > 0, 1);
    snprintf(up, sizeof up, "127.0.0.1:%d", eport);
    pport = eport > 0 ? start_server(argv, &ppid) : 0;
    ASSERT_EQ(pport > 0, 1);
    if (pport > 0) flood_at_cap(probe_echo, pport, FLOOD_N(2000), 100);
    reap_all();
}

/* --idle-timeout 0.4 on a proxy in front of echo: a silent client is closed, a busy
   one is not; 2000 idle ones at the cap are all gone and a new client is served. */
TEST(proxy_idle_sessions_are_dropped_after_the_idle_timeout) {
    char up[64], b[8];
    char *argv[] = {(char *)BIN "proxy", (char *)"--idle-timeout=0.4",
                    (char *)"--max-conns=100", (char *)"0", up, NULL};
    pid_t epid, ppid;
    int eport = start_echo(&epid), pport, active, idle, i, ok = 0;
    ASSERT_EQ(eport > 0, 1);
    snprintf(up, sizeof up, "127.0.0.1:%d", eport);
    pport = eport > 0 ? start_server(argv, &ppid) : 0;
    ASSERT_EQ(pport > 0, 1);
    if (pport <= 0) { reap_all(); return; }
    active = connect_port(pport);
    idle = connect_port(pport);
    ASSERT_EQ(active >= 0 && idle >= 0, 1);
    for (i = 0; i < 16 && active >= 0; i++) {
        poll(NULL, 0, 50);
        if (exchange(active, "tick", b, 4, 3000) == 0 && memcmp(b, "tick", 4) == 0) ok++;
    }
    ASSERT_EQ(ok, 16);
    CHECK(closed_within(idle, 3000));
    CHECK(closed_within(active, 3000));
    if (active >= 0) close(active);
    if (idle >= 0) close(idle);
    flood_timed_out(probe_echo, pport, FLOOD_N(2000));
    reap_all();
}

/* A listening socket on a free loopback port (*port says which), or -1. */
static int listen_any(int *port) {
    struct sockaddr_in a;
    socklen_t_ al = sizeof a;
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    cloexec(fd);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Idle means nothing either way: a client that only sends, then an upstream that
   only sends, keep the session for twice the idle timeout each; silence both ways
   ends it, on both sides. */
TEST(proxy_one_way_traffic_is_not_idle) {
    char up[64], b[4];
    char *argv[] = {(char *)BIN "proxy", (char *)"--idle-timeout", (char *)"0.4",
                    (char *)"0", up, NULL};
    pid_t ppid;
    int uport = 0, lfd = listen_any(&uport), pport, fd, conn = -1, i, ok = 0;
    ASSERT_EQ(lfd >= 0, 1);
    snprintf(up, sizeof up, "127.0.0.1:%d", uport);
    pport = lfd >= 0 ? start_server(argv, &ppid) : 0;
    ASSERT_EQ(pport > 0, 1);
    if (pport <= 0) { if (lfd >= 0) close(lfd); reap_all(); return; }
    fd = connect_port(pport);
    if (fd >= 0 && wait_fd(lfd, POLLIN, 3000) > 0) conn = (int)accept(lfd, NULL, NULL);
    ASSERT_EQ(fd >= 0 && conn >= 0, 1);
    for (i = 0; i < 16 && conn >= 0; i++) {     /* client -> upstream only */
        poll(NULL, 0, 50);
        if (send_str(fd, "c") == 0 && recv_exact(conn, b, 1, 3000) == 0 && b[0] == 'c') ok++;
    }
    for (i = 0; i < 16 && conn >= 0; i++) {     /* upstream -> client only */
        poll(NULL, 0, 50);
        if (send_str(conn, "u") == 0 && recv_exact(fd, b, 1, 3000) == 0 && b[0] == 'u') ok++;
    }
    ASSERT_EQ(ok, 32);
    CHECK(closed_within(fd, 3000));             /* now silent both ways */
    CHECK(conn >= 0 && closed_within(conn, 3000));
    if (fd >= 0) close(fd);
    if (conn >= 0) close(conn);
    close(lfd);
    reap_all();
}

/* ---- accept errors ------------------------------------------------------------------ */
#define SHIM "build/test/accept_fail.so"
#define ACCEPT_LOG SRV_LOG_DIR "test_srv_net.accept.log"

/* accept failing for want of memory (ENOBUFS, ENOMEM) passes, as EMFILE and ENFILE
   do: each server backs off, says so once (not once per retry), and serves the client
   as soon as accept works again. The shim makes the first six accepts fail. */
TEST(accept_enobufs_enomem_back_off_once_and_recover) {
#ifndef _WIN32                          /* (an LD_PRELOAD shim: none there) */
    static const char *const names[] = {"echo", "chat", "proxy"};
    static const probe_fn probes[] = {probe_echo, probe_chat, probe_echo};
    char up[64], bin[64], log[4096], *asan = getenv("ASAN_OPTIONS"), asan_opts[512];
    pid_t epid, pid;
    int eport = start_echo(&epid), k;
    ASSERT_EQ(eport > 0, 1);
    ASSERT_EQ(access(SHIM, R_OK), 0);
    snprintf(up, sizeof up, "127.0.0.1:%d", eport);
    /* the shim comes before the sanitizer runtime: tell ASan that is fine */
    snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan ? ":" : "");
    for (k = 0; k < 3; k++) {
        char *argv[] = {bin, (char *)"0", k == 2 ? up : NULL, NULL};
        FILE *f;
        size_t n = 0;
        int port, said = 0;
        const char *p;
        snprintf(bin, sizeof bin, "%s%s", BIN, names[k]);
        unlink(ACCEPT_LOG);
        child_log = ACCEPT_LOG;
        setenv("LD_PRELOAD", SHIM, 1);
        setenv("ACCEPT_FAIL", "ENOBUFS ENOMEM ENOBUFS ENOMEM ENOBUFS ENOMEM", 1);
        setenv("ASAN_OPTIONS", asan_opts, 1);
        port = start_server(argv, &pid);
        unsetenv("LD_PRELOAD");
        unsetenv("ACCEPT_FAIL");
        if (asan) setenv("ASAN_OPTIONS", asan, 1);
        else unsetenv("ASAN_OPTIONS");
        child_log = LOG;
        if (port <= 0) {
            FAIL_("%s did not start", names[k]);
            continue;
        }
        if (probe_until_served(probes[k], port, 5000) != 1) FAIL_("%s: not served", names[k]);
        kill(pid, SIGTERM);
        if (wait_exit(pid, 5000) != 0) FAIL_("%s: no clean exit", names[k]);
        f = fopen(ACCEPT_LOG, "r");
        if (f) {
            n = fread(log, 1, sizeof log - 1, f);
            fclose(f);
        }
        log[n] = 0;
        for (p = log; (p = strstr(p, ": accept: ")) != NULL; p++) said++;
        if (said != 1 || !strstr(log, "backing off"))
            FAIL_("%s: %d accept lines, want one that backs off:\n%s", names[k], said, log);
    }
    reap_all();
#endif
}

/* A port nobody listens on (bound a moment ago, then closed). */
static int free_port(void) {
    struct sockaddr_in a;
    socklen_t_ al = sizeof a;
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0), port = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

TEST(proxy_upstream_refused_closes_the_client_and_serves_on) {
    struct sockaddr_in a;
    pid_t ppid;
    int up = free_port(), pport, fd, lfd, one = 1, conn;
    char b[16];
    ASSERT_EQ(up > 0, 1);
    pport = start_proxy(up, &ppid, "127.0.0.1");
    ASSERT_EQ(pport > 0, 1);
    if (pport <= 0) { reap_all(); return; }
    fd = connect_port(pport);
    ASSERT_EQ(fd >= 0, 1);
    ASSERT_EQ(recv_eof(fd, 3000) >= 0, 1);     /* EOF or reset, not silence */
    close(fd);
    /* the upstream comes up: the next client gets through */
    lfd = (int)socket(AF_INET, SOCK_STREAM, 0);
    cloexec(lfd);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, FLOOD_OPT(&one), sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)up);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(lfd, 4), 0);
    fd = connect_port(pport);
    ASSERT_EQ(fd >= 0, 1);
    ASSERT_EQ(wait_fd(lfd, POLLIN, 3000), 1);
    conn = (int)accept(lfd, NULL, NULL);
    ASSERT_EQ(conn >= 0, 1);
    if (conn >= 0 && fd >= 0) {
        cloexec(conn);
        ASSERT_EQ(send_str(fd, "up"), 0);       /* client -> upstream */
        ASSERT_EQ(recv_exact(conn, b, 2, 3000), 0);
        CHECK(memcmp(b, "up", 2) == 0);
        ASSERT_EQ(send_str(conn, "down"), 0);   /* upstream -> client */
        ASSERT_EQ(recv_exact(fd, b, 4, 3000), 0);
        CHECK(memcmp(b, "down", 4) == 0);
        /* the upstream half-closes: the client sees EOF and can still send */
        shutdown(conn, SHUT_WR);
        ASSERT_EQ(recv_eof(fd, 3000), 0);
        ASSERT_EQ(send_str(fd, "late"), 0);
        ASSERT_EQ(recv_exact(conn, b, 4, 3000), 0);
        CHECK(memcmp(b, "late", 4) == 0);
        close(fd);
        ASSERT_EQ(recv_eof(conn, 3000), 0);     /* then both ends are closed */
        close(conn);
    }
    close(lfd);
    if (signal_to(ppid, SIGTERM) == 0) ASSERT_EQ(wait_exit(ppid, 5000), 0);
    reap_all();
}

/* Windows: a test that cannot run there, with the reason */
#define SKIP_WIN(name, why) do { \
        printf("  skipped on Windows: %s (%s)\n", #name, why); (void)name; } while (0)
#ifdef _WIN32
#define RUN_UNIX(name, why) SKIP_WIN(name, why)
#else
#define RUN_UNIX(name, why) RUN(name)
#endif

int main(int argc, char **argv) {
#ifdef _WIN32                           /* (no descriptor limit, no SIGPIPE, no SIGALRM) */
    BEGIN_TESTS(argc, argv);
    srv_dial_init();
    srv_win_alarm(240, on_alarm);
    if (access(BIN "echo.exe", 0) != 0 || access(BIN "chat.exe", 0) != 0 ||
        access(BIN "proxy.exe", 0) != 0 || access(BIN "echo-client.exe", 0) != 0)
#else
    struct rlimit rl;
    BEGIN_TESTS(argc, argv);
    /* thousands of connections at once: lift the soft descriptor limit to the hard one */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(120);
    if (access(BIN "echo", X_OK) != 0 || access(BIN "chat", X_OK) != 0 ||
        access(BIN "proxy", X_OK) != 0 || access(BIN "echo-client", X_OK) != 0)
#endif
        printf("  build/examples/{echo,echo-client,chat,proxy} missing: "
               "build them first\n");
    RUN(usage_without_arguments_exits_2);
    RUN(options_are_strict);
    RUN(echo_round_trips_1_byte_64_bytes_1_mb);
    RUN(echo_half_close_gets_everything_then_eof);
    RUN(echo_100_concurrent_connections);
    RUN(echo_client_against_echo);
    RUN(echo_2000_idle_connections_at_the_cap_are_refused);
    RUN(echo_idle_connections_are_dropped_after_the_idle_timeout);
    RUN(echo_client_that_never_reads_is_dropped);
    RUN(echo_sigterm_exits_0);
    RUN(echo_sigint_exits_0);
    RUN_UNIX(echo_threads_2_spreads_and_drains_on_sigterm,
             "--threads needs reuseport: ASYNC_ENOSYS there");
    RUN_UNIX(echo_threads_2_cap_and_idle_timeout,
             "--threads needs reuseport: ASYNC_ENOSYS there");
    RUN(chat_2000_idle_connections_at_the_cap_are_refused);
    RUN(chat_2000_idle_connections_default_cap);
    RUN(chat_idle_clients_are_dropped_after_the_idle_timeout);
    RUN(chat_line_reaches_the_others_not_the_sender);
    RUN(chat_slow_client_does_not_stall_the_others);
    RUN(chat_over_long_line_gets_an_error_and_is_closed);
    RUN(chat_sigterm_tells_clients_and_exits_0);
    RUN_UNIX(chat_threads_2_lines_cross_shards,
             "--threads needs reuseport: ASYNC_ENOSYS there");
    RUN_UNIX(chat_threads_2_slow_client_does_not_stall_the_others,
             "--threads needs reuseport: ASYNC_ENOSYS there");
    RUN(proxy_round_trip_and_half_close);
    RUN(proxy_upstream_refused_closes_the_client_and_serves_on);
    RUN(proxy_2000_idle_connections_at_the_cap_are_refused);
    RUN(proxy_idle_sessions_are_dropped_after_the_idle_timeout);
    RUN(proxy_one_way_traffic_is_not_idle);
    RUN_UNIX(accept_enobufs_enomem_back_off_once_and_recover,
             "the accept failures come from an LD_PRELOAD shim");
    reap_all();
    DONE();
}
