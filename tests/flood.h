/* flood.h - thousands of idle TCP connections against a server under test, without
   ever blocking: the servers' integration tests (test_srv_net.c, test_srv_httpd.c)
   use it to check that a server at its connection cap refuses new clients at once and
   that idle ones are timed out. Every wait is bounded, so a server that stops
   accepting fails a test instead of hanging it. POSIX (the strict build runs it too);
   on Windows, Winsock (after tests/srv_win.h: poll is WSAPoll, close closesocket...). */
#ifndef FLOOD_H
#define FLOOD_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* A flood's size and its bounds (ms), per system: under Wine each connect is a round
   trip to wineserver, so a Windows run floods a quarter as many connections (still
   past the caps under test: 100) and waits three times as long for them. */
#ifdef _WIN32
#define FLOOD_N(n) ((n) / 4)
#define FLOOD_MS(ms) ((ms) * 3)
#else
#define FLOOD_N(n) (n)
#define FLOOD_MS(ms) (ms)
#endif
#ifdef _WIN32
typedef int socklen_t_;
#define FLOOD_OPT(p) ((char *)(p))
#define FLOOD_NFDS(n) ((ULONG)(n))
static inline int flood_nonblock(int fd, int on) {
    u_long v = (u_long)on;
    return ioctlsocket((SOCKET)fd, FIONBIO, &v) == 0 ? 0 : -1;
}
static inline int flood_connecting(void) { return WSAGetLastError() == WSAEWOULDBLOCK; }
static inline long long flood_now_ms(void) { return (long long)GetTickCount64(); }
#else
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
typedef socklen_t socklen_t_;
#define FLOOD_OPT(p) (p)
#define FLOOD_NFDS(n) ((nfds_t)(n))
static inline int flood_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}
static inline int flood_connecting(void) { return errno == EINPROGRESS; }

static inline long long flood_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
#endif

/* A connection to 127.0.0.1:port that does not wait for the server: a full accept
   queue makes connect hang (the SYN is dropped and sent again), which must fail a
   test, not stall it. A non-blocking socket, or -1. */
static inline int flood_connect_start(int port) {
    struct sockaddr_in a;
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
#ifdef _WIN32
    srv_win_cloexec(fd);
    if (flood_nonblock(fd, 1) < 0) {
#else
    if (flood_nonblock(fd, 1) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
#endif
        close(fd);
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && !flood_connecting()) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connected within ms (a blocking socket again), or -1. */
static inline int flood_connect(int port, int ms) {
    struct pollfd p;
    int fd = flood_connect_start(port), err = 0;
    socklen_t_ el = sizeof err;
    if (fd < 0) return -1;
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (poll(&p, 1, ms) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, FLOOD_OPT(&err), &el) < 0
        || err) {
        close(fd);
        return -1;
    }
    flood_nonblock(fd, 0);
    return fd;
}

/* Closes with a reset: no TIME_WAIT left behind by thousands of test connections. */
static inline void flood_close_reset(int fd) {
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, FLOOD_OPT(&lg), sizeof lg);
    close(fd);
}

/* Opens n connections at once; those that connected within ms stay in fds (the others
   are closed, -1). Returns how many connected. */
static inline int flood_open(int port, int *fds, int n, int ms) {
    struct pollfd *p = (struct pollfd *)calloc((size_t)n, sizeof *p);
    long long end = flood_now_ms() + ms;
    int i, pending = 0, ok = 0;
    if (!p) return 0;
    for (i = 0; i < n; i++) {
        fds[i] = flood_connect_start(port);
        p[i].fd = fds[i];
        p[i].events = POLLOUT;
        if (fds[i] >= 0) pending++;
    }
    while (pending > 0 && flood_now_ms() < end) {
        if (poll(p, FLOOD_NFDS(n), (int)(end - flood_now_ms())) <= 0) continue;
        for (i = 0; i < n; i++) {
            int err = 0;
            socklen_t_ el = sizeof err;
            if ((int)p[i].fd < 0 || !p[i].revents) continue;
            getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, FLOOD_OPT(&err), &el);
            if (!err) {
                ok++;
            } else {
                flood_close_reset(fds[i]);
                fds[i] = -1;
            }
            p[i].fd = -1;
            pending--;
        }
    }
    for (i = 0; i < n; i++)
        if ((int)p[i].fd >= 0) {                     /* still connecting: the server is stuck */
            flood_close_reset(fds[i]);
            fds[i] = -1;
        }
    free(p);
    return ok;
}

/* Reads (and drops) what is there; 1 if the server has closed (EOF or reset). */
#ifdef _WIN32                                   /* (no MSG_DONTWAIT: readable first) */
static inline int flood_closed(int fd) {
    char b[4096];
    for (;;) {
        WSAPOLLFD p;
        int r;
        p.fd = (SOCKET)fd;
        p.events = POLLIN;
        p.revents = 0;
        if (WSAPoll(&p, 1, 0) <= 0) return 0;
        r = recv((SOCKET)fd, b, sizeof b, 0);
        if (r > 0) continue;
        return r == 0 || WSAGetLastError() != WSAEWOULDBLOCK;
    }
}
#else
static inline int flood_closed(int fd) {
    char b[4096];
    for (;;) {
        ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r > 0) continue;
        return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}
#endif

/* Waits (at most ms) until `want` of the fds are closed by the server, closing those
   on our side too (-1 in fds). Returns how many are closed, all told. */
static inline int flood_wait_closed(int *fds, int n, int want, int ms) {
    struct pollfd *p = (struct pollfd *)calloc((size_t)n, sizeof *p);
    long long end = flood_now_ms() + ms;
    int i, closed = 0;
    if (!p) return 0;
    for (i = 0; i < n; i++) {
        if (fds[i] < 0) closed++;
        p[i].fd = fds[i];
        p[i].events = POLLIN;
    }
    while (closed < want) {
        int left = (int)(end - flood_now_ms());
        if (left <= 0 || poll(p, FLOOD_NFDS(n), left) <= 0) break;
        for (i = 0; i < n; i++) {
            if ((int)p[i].fd < 0 || !p[i].revents) continue;
            p[i].revents = 0;
            if (!flood_closed(fds[i])) continue;
            close(fds[i]);
            fds[i] = -1;
            p[i].fd = -1;
            closed++;
        }
    }
    free(p);
    return closed;
}

/* Closes the first k connections still open (all of them: k = n). */
static inline void flood_close(int *fds, int n, int k) {
    int i;
    for (i = 0; i < n && k > 0; i++)
        if (fds[i] >= 0) {
            flood_close_reset(fds[i]);
            fds[i] = -1;
            k--;
        }
}
#ifdef FLOOD_CHILDREN
/* ---- children: every one is recorded (kids[nkids++] = pid), killed and reaped by
   reap_all; on_alarm (a test's SIGALRM bound) kills them all and exits 3 ----------- */
#include <signal.h>
#ifndef _WIN32                                  /* (there: tests/srv_win.h's waitpid) */
#include <sys/wait.h>
#endif
static pid_t kids[64];
static int nkids;

static void kid_forget(pid_t pid) {
    int i;
    for (i = 0; i < nkids; i++)
        if (kids[i] == pid) kids[i] = kids[--nkids];
}

static void reap_all(void) {
    while (nkids > 0) {
        pid_t pid = kids[--nkids];
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static void on_alarm(int sig) {
    int i;
    (void)sig;
    for (i = 0; i < nkids; i++) kill(kids[i], SIGKILL);
    _exit(3);
}

/* Waits for pid to exit (bounded): its exit code, 128+signal, or -1 if it did not. */
static int wait_exit(pid_t pid, int ms) {
    long long end = flood_now_ms() + ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            kid_forget(pid);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (r < 0 || flood_now_ms() > end) return -1;
        poll(NULL, 0, 5);
    }
}
#endif
#endif
