/* examples/httpd.c: its parser as a pure function (valid requests, every split of a
   pipelined batch, hostile input, a million requests), then the built server
   (build/examples/httpd) over plain blocking sockets: Hello, HEAD, keep-alive,
   pipelining, errors, files, traversal, timeouts, the connection cap, SIGTERM.
   Run from the repository root, after building the server; HTTPD_TEST_VERBOSE=1
   shows the server's stderr. */
#define HTTPD_NO_MAIN
#include "../examples/httpd.c"
#include "test.h"
#ifdef _WIN32                           /* (make port-windows: built with mingw-w64) */
#include "srv_win.h"
#endif
#include "flood.h"
#include <signal.h>
#include <time.h>
#ifndef _WIN32
#include <poll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#endif

/* Where the servers under test are: make sanitize points this at sanitizer builds. */
#ifndef SRV_DIR
#define SRV_DIR "build/examples/"
#endif
#define HTTPD_BIN SRV_DIR "httpd"
/* The file outside the root that no request may reach, in /tmp: a name of its own for
   each build that runs beside another (make test: the strict POSIX run). */
#ifndef SECRET
#define SECRET "httpd-test-secret.txt"
#endif

/* usleep is not POSIX.1-2008 (the strict build hides it): nanosleep */
static void sleep_us(long us) {
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = us % 1000000 * 1000;
    nanosleep(&ts, NULL);
}

static int parse_str(const char *s, http_req *r) { return http_parse(s, strlen(s), r); }

/* ==== the parser =================================================================== */

TEST(parse_valid_requests) {
    http_req r;
    const char *s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "User-Agent: t\r\nAccept: */*\r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(r.meth, HTTP_GET);
    ASSERT_EQ(r.minor, 1);
    ASSERT_EQ(r.keep_alive, 1);
    ASSERT_EQ(r.nheaders, 3);
    CHECK(r.target_len == 15 && memcmp(r.target, "/index.html?x=1", 15) == 0);
    CHECK(r.path_len == 11 && memcmp(r.path, "/index.html", 11) == 0);
    CHECK(r.host_len == 11 && memcmp(r.host, "example.com", 11) == 0);

    s = "HEAD / HTTP/1.0\r\n\r\n";          /* 1.0: no Host needed, closes by default */
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(r.meth, HTTP_HEAD);
    ASSERT_EQ(r.minor, 0);
    ASSERT_EQ(r.keep_alive, 0);
    ASSERT_EQ(r.has_host, 0);

    s = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(r.keep_alive, 1);
    s = "GET / HTTP/1.1\r\nHost: h\r\nConnection: TE, close\r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(r.keep_alive, 0);
    s = "GET / HTTP/1.1\nHost: h\n\n";       /* bare LF line ends are tolerated */
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";   /* leading empty lines skipped */
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    CHECK(r.meth == HTTP_GET && r.path_len == 1);
    s = "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(r.meth, HTTP_OTHER);
    s = "GET http://example.com/a/b?q HTTP/1.1\r\nHost: example.com\r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    CHECK(r.path_len == 4 && memcmp(r.path, "/a/b", 4) == 0);
    s = "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    ASSERT_EQ(parse_str(s, &r), strlen(s) - 5);   /* the head only */
    CHECK(r.has_length && r.content_length == 5);
    s = "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\tv a l\t \r\n\r\n";
    ASSERT_EQ(parse_str(s, &r), strlen(s));
    ASSERT_EQ(parse_str("GET / HTTP/1.1\r\nHost: h\r\n", &r), 0);   /* needs more */
    ASSERT_EQ(parse_str("", &r), 0);
}

/* A pipelined batch fed in two pieces, cut at every byte: each prefix gives "need
   more" or exactly what the whole gives, and the requests come out the same. */
static const char *const batch[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "HEAD /f.txt HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
    "GET /x?y=%20 HTTP/1.0\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n",
    "\r\nGET /long HTTP/1.1\nHost: b\nX-A: 1\nX-B: 2\n\n",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
};

/* Streams data[0..len) through the parser as a server would, revealing `avail`
   bytes at first and then the rest; records the outcomes. */
static int stream_parse(const char *data, size_t len, size_t avail, int *out, int max) {
    size_t pos = 0;
    int n = 0;
    for (;;) {
        http_req r;
        size_t have = (avail < len ? avail : len) - pos;
        int rc = http_parse(data + pos, have, &r);
        if (rc == 0) {
            if (avail >= len) break;
            avail = len;                /* the second piece arrives */
            continue;
        }
        if (n < max) out[n] = rc;
        n++;
        if (rc < 0) break;
        if ((size_t)rc > have) return -1;
        pos += (size_t)rc;
        if (pos == len) break;
    }
    return n;
}

TEST(parse_pipelined_batch_split_at_every_byte) {
    char all[1024];
    size_t len = 0, i, k;
    int whole[8], part[8], nw, np, j;
    for (i = 0; i < sizeof batch / sizeof batch[0]; i++) {
        memcpy(all + len, batch[i], strlen(batch[i]));
        len += strlen(batch[i]);
    }
    nw = stream_parse(all, len, len, whole, 8);
    ASSERT_EQ(nw, 5);
    for (j = 0; j < 5; j++) ASSERT_EQ(whole[j], strlen(batch[j]));
    for (k = 0; k <= len; k++) {
        np = stream_parse(all, len, k, part, 8);
        if (np != nw) {
            FAIL_("split at %zu: %d requests, want %d", k, np, nw);
            break;
        }
        for (j = 0; j < nw; j++)
            if (part[j] != whole[j]) FAIL_("split at %zu: request %d: %d != %d", k, j,
                                           part[j], whole[j]);
    }
    /* and the fields do not depend on the cut either: every prefix of one request */
    for (i = 0; i < sizeof batch / sizeof batch[0]; i++) {
        http_req a, b;
        size_t n = strlen(batch[i]);
        ASSERT_EQ(http_parse(batch[i], n, &a), n);
        for (k = 0; k < n; k++)
            if (http_parse(batch[i], k, &b) != 0) FAIL_("batch %zu prefix %zu", i, k);
        ASSERT_EQ(http_parse(batch[i], n, &b), n);
        CHECK(a.meth == b.meth && a.keep_alive == b.keep_alive && a.path == b.path);
    }
}

TEST(parse_hostile_input) {
    static char big[20000];
    http_req r;
    size_t n, i;
    int rc;
    /* a header block over 8 KB: 431, complete or not */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    n += 9000;
    ASSERT_EQ(http_parse(big, n, &r), -431);
    memcpy(big + n, "\r\n\r\n", 4);
    ASSERT_EQ(http_parse(big, n + 4, &r), -431);
    ASSERT_EQ(http_parse(big, 8000, &r), 0);        /* a prefix under the limit waits */
    /* exactly at the limit is fine, one byte over is not */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(big + n, 'b', HTTP_MAX_HEAD - n - 4);
    memcpy(big + HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
    ASSERT_EQ(http_parse(big, HTTP_MAX_HEAD, &r), HTTP_MAX_HEAD);
    memmove(big + n + 1, big + n, HTTP_MAX_HEAD - n);
    ASSERT_EQ(http_parse(big, HTTP_MAX_HEAD + 1, &r), -431);
    /* a request line that never ends */
    memset(big, 'A', sizeof big);
    ASSERT_EQ(http_parse(big, sizeof big, &r), -431);
    /* many headers, each short, adding up: still 431 */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
    while (n < 9000) n += (size_t)sprintf(big + n, "X-H: v\r\n");
    ASSERT_EQ(http_parse(big, n, &r), -431);

    /* bad request lines */
    {
        static const char *const bad[] = {
            "GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", " GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.x\r\nHost: h\r\n\r\n", "GET / HTTX/1.1\r\nHost: h\r\n\r\n",
            "GET / http/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/11\r\nHost: h\r\n\r\n",
            "GET index HTTP/1.1\r\nHost: h\r\n\r\n", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /\ta HTTP/1.1\r\nHost: h\r\n\r\n", "GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n bad-fold\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",                   /* 1.1 without Host */
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            ("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
             "Content-Length: 3\r\n\r\n"),
            "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",
        };
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            rc = parse_str(bad[i], &r);
            if (rc != -400) FAIL_("bad[%zu] gives %d, want -400: %s", i, rc, bad[i]);
        }
    }
    /* versions */
    ASSERT_EQ(parse_str("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &r), -505);
    ASSERT_EQ(parse_str("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &r), -505);
    ASSERT_EQ(parse_str("GET / HTTP/0.9\r\n\r\n", &r), -505);
    /* huge but representable lengths parse: the server answers 413 */
    rc = parse_str("GET / HTTP/1.1\r\nHost: h\r\n"
                   "Content-Length: 18446744073709551615\r\n\r\n", &r);
    CHECK(rc > 0 && r.content_length == 18446744073709551615ULL);
    rc = parse_str("GET / HTTP/1.1\r\nHost: h\r\n"
                   "Content-Length: 18446744073709551616\r\n\r\n", &r);
    ASSERT_EQ(rc, -400);
    rc = parse_str("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &r);
    CHECK(rc > 0 && r.has_te);
    /* NUL bytes, anywhere, even before the line ends */
    {
        static const char nul1[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
        static const char nul2[] = "GET / HTTP/1.1\r\nHost: h\0\r\n\r\n";
        static const char nul3[] = "GET /\0";
        ASSERT_EQ(http_parse(nul1, sizeof nul1 - 1, &r), -400);
        ASSERT_EQ(http_parse(nul2, sizeof nul2 - 1, &r), -400);
        ASSERT_EQ(http_parse(nul3, sizeof nul3 - 1, &r), -400);
    }
    /* junk: random bytes never crash, never claim more than they got */
    {
        unsigned s = 12345;
        int k;
        for (k = 0; k < 20000; k++) {
            size_t len = (size_t)(k % 300);
            for (i = 0; i < len; i++) {
                s = s * 1103515245u + 12345u;
                big[i] = k & 1 ? (char)(s >> 16) : " \r\nGET/HTTP1.:Host"[(s >> 16) % 19];
            }
            rc = http_parse(big, len, &r);
            if (rc > (int)len) FAIL_("junk %d: consumed %d of %zu", k, rc, len);
        }
        memcpy(big, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);   /* TLS hello */
        ASSERT_EQ(http_parse(big, 11, &r), -400);
    }
}

TEST(path_decode_refuses_traversal) {
    char out[256];
    ASSERT_EQ(http_path_decode("/", 1, out, sizeof out), 1);
    ASSERT_EQ(http_path_decode("/a/b.txt", 8, out, sizeof out), 8);
    ASSERT_STR(out, "/a/b.txt");
    ASSERT_EQ(http_path_decode("/a%20b", 6, out, sizeof out), 4);
    ASSERT_STR(out, "/a b");
    ASSERT_EQ(http_path_decode("/./a/.", 6, out, sizeof out), 6);   /* "." is harmless */
    ASSERT_EQ(http_path_decode("/..a/b..", 8, out, sizeof out), 8); /* not a segment */
    ASSERT_EQ(http_path_decode("/../etc/passwd", 14, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/%2e%2e/etc/passwd", 18, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/%2E%2e", 7, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/.%2e/x", 7, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/a/../../", 9, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/a/..", 5, out, sizeof out), -403);
    ASSERT_EQ(http_path_decode("/a/..%2fb", 9, out, sizeof out), -403);  /* %2f splits */
    ASSERT_EQ(http_path_decode("/a%00b", 6, out, sizeof out), -400);
    ASSERT_EQ(http_path_decode("/a%2", 4, out, sizeof out), -400);
    ASSERT_EQ(http_path_decode("/a%", 3, out, sizeof out), -400);
    ASSERT_EQ(http_path_decode("/a%zz", 5, out, sizeof out), -400);
    ASSERT_EQ(http_path_decode("a", 1, out, sizeof out), -400);
    ASSERT_EQ(http_path_decode("/abcdefgh", 9, out, 8), -414);
    ASSERT_EQ(http_path_decode("/abcdefg", 8, out, 9), 8);
}

TEST(parse_a_million_pipelined_requests) {
    static char buf[64 * 1024];
    const char *req = "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n"
                      "Accept: */*\r\n\r\n";
    size_t rl = strlen(req), len = 0, pos;
    long done = 0, bytes = 0;
    struct timespec a, b;
    double secs;
    while (len + rl <= sizeof buf) {
        memcpy(buf + len, req, rl);
        len += rl;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    while (done < 1000000) {
        pos = 0;
        while (pos < len && done < 1000000) {
            http_req r;
            int rc = http_parse(buf + pos, len - pos, &r);
            if (rc <= 0) break;
            pos += (size_t)rc;
            bytes += rc;
            done++;
        }
        if (pos == 0) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    ASSERT_EQ(done, 1000000);
    ASSERT_EQ(bytes, 1000000L * (long)rl);
    printf("  1M requests parsed in %.3f s (%.0f ns each)\n", secs, secs * 1e3);
    CHECK(secs < 60.0);                 /* a hang bound, not a benchmark (qemu-user on a
                                           loaded machine took over 5 s) */
}

/* ==== the server =================================================================== */

static pid_t child = -1;
static int port;
static int child_nofile;                /* > 0: the server's descriptor limit */
static char root_dir[64];

static void kill_child(void) {
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
}

/* SIGTERM to the server; 0, or -1 where it cannot be sent (Windows under Wine: no
   console to send Ctrl-Break through), then the server is killed and the caller skips
   the rest of its test, saying so. */
static int term_child(void) {
    if (kill(child, SIGTERM) == 0) return 0;
    printf("    note: skipped from here: no SIGTERM (Ctrl-Break) to send here (Wine)\n");
    kill_child();
    return -1;
}

static void on_alarm(int sig) {
    (void)sig;
    if (child > 0) kill(child, SIGKILL);   /* no orphan server, even on a hang */
    _exit(3);
}

/* Options for the next start_server (NULL-terminated), before PORT; reset by it. */
static const char *const *start_opts;
/* Set before start_server: the server's stderr goes to a pipe, read end here. */
static int err_pipe = -1, want_err;

/* Starts the server with extra "K=V" settings (NULL-terminated); 0 once it listens. */
#ifdef _WIN32
/* The settings go through our environment, which the server inherits (unset after);
   its stderr is ours (want_err: not here); no descriptor limit (child_nofile). */
static void set_env(const char *const *env, int on) {
    for (; env && *env; env++) {
        char kv[128];
        const char *eq = strchr(*env, '=');
        size_t k = eq ? (size_t)(eq - *env) + 1 : 0;
        if (!k || k >= sizeof kv) continue;
        if (on) {
            (void)_putenv(*env);
        } else {
            memcpy(kv, *env, k);                /* "NAME=": removes it */
            kv[k] = 0;
            (void)_putenv(kv);
        }
    }
}
static int start_server(const char *root, const char *const *env) {
    char args[512];
    size_t n = 0;
    int pid, rc;
    args[0] = 0;
    for (; start_opts && *start_opts && n < sizeof args - 64; start_opts++)
        n += (size_t)snprintf(args + n, sizeof args - n, "%s ", *start_opts);
    start_opts = NULL;
    snprintf(args + n, sizeof args - n, "0%s%s", root ? " " : "", root ? root : "");
    want_err = 0;
    set_env(env, 1);
    rc = srv_spawn(HTTPD_BIN ".exe", args, &pid, &port);
    set_env(env, 0);
    child = pid;
    if (rc < 0) printf("  server did not start\n");
    return rc;
}
#else
static int start_server(const char *root, const char *const *env) {
    const char *argv[16];
    int argc = 0;
    argv[argc++] = "httpd";
    for (; start_opts && *start_opts && argc < 13; start_opts++) argv[argc++] = *start_opts;
    start_opts = NULL;
    argv[argc++] = "0";
    if (root) argv[argc++] = root;
    argv[argc] = NULL;
    int pfd[2], efd[2] = {-1, -1}, n = 0;
    char line[128];
    struct pollfd p;
    if (pipe(pfd) < 0) return -1;
    if (want_err && pipe(efd) < 0) return -1;
    want_err = 0;
    child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        dup2(pfd[1], 1);
        if (efd[1] >= 0) {
            dup2(efd[1], 2);
            close(efd[0]);
            close(efd[1]);
        } else if (!getenv("HTTPD_TEST_VERBOSE")) {   /* its shutdown notes: noise here */
            int nul = open("/dev/null", O_WRONLY);
            dup2(nul, 2);
        }
        close(pfd[0]);
        close(pfd[1]);
        for (; env && *env; env++) putenv((char *)*env);
        if (child_nofile > 0) {
            struct rlimit rl;
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = rl.rlim_max = (rlim_t)child_nofile;  /* it lifts the soft one */
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        execv(HTTPD_BIN, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    if (efd[1] >= 0) close(efd[1]);
    if (err_pipe >= 0) close(err_pipe);
    err_pipe = efd[0];
    p.fd = pfd[0];
    p.events = POLLIN;
    while (n < (int)sizeof line - 1) {     /* the first line, within 30 s (Wine, loaded) */
        ssize_t r;
        if (poll(&p, 1, 30000) <= 0) break;
        r = read(pfd[0], line + n, 1);
        if (r <= 0) break;
        if (line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    close(pfd[0]);
    if (sscanf(line, "listening on 127.0.0.1:%d", &port) != 1 || port <= 0) {
        printf("  server did not start: \"%s\"\n", line);
        kill_child();
        return -1;
    }
    return 0;
}
#endif

/* Waits up to ms for the child to exit: its status, or -1 (then it is killed). */
static int wait_child(int ms) {
    int st, i;
    for (i = 0; i < ms; i++) {
        if (waitpid(child, &st, WNOHANG) == child) {
            child = -1;
            return st;
        }
        sleep_us(1000);
    }
    kill_child();
    return -1;
}

static int dial(void) {
    struct sockaddr_in a;
#ifndef _WIN32
    struct timeval tv = {5, 0};
#endif
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#ifdef _WIN32
    srv_win_cloexec(fd);
    srv_win_recv_timeout(fd, 5000);                            /* never hang a test */
#else
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);   /* never hang a test */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
#endif
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_str(int fd, const char *s) {
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t n = send(fd, s + off, len - off, 0);
        if (n <= 0) return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Reads one response (head, then Content-Length bytes unless head_only) into buf,
   NUL-terminated; returns its length, or -1 on EOF/timeout before it is complete.
   Bytes read past it are kept in *carry for the next call. */
typedef struct { char data[65536]; size_t len; } carry_buf;

static int read_response(int fd, carry_buf *cb, char *buf, size_t cap, int head_only) {
    for (;;) {
        char *end;
        cb->data[cb->len] = 0;
        end = strstr(cb->data, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - cb->data), body = 0, total;
            const char *cl = strstr(cb->data, "Content-Length: ");
            if (cl && cl < end && !head_only) body = (size_t)strtoul(cl + 16, NULL, 10);
            total = head + body;
            if (cb->len >= total) {
                if (total >= cap) return -1;
                memcpy(buf, cb->data, total);
                buf[total] = 0;
                memmove(cb->data, cb->data + total, cb->len - total);
                cb->len -= total;
                return (int)total;
            }
        }
        if (cb->len >= sizeof cb->data - 1) return -1;
        {
            ssize_t n = recv(fd, cb->data + cb->len, sizeof cb->data - 1 - cb->len, 0);
            if (n <= 0) return -1;
            cb->len += (size_t)n;
        }
    }
}

/* 1 if the peer closes within ms (EOF or reset, with nothing else to read). */
static int closed_within(int fd, int ms) {
    struct pollfd p;
    char b[256];
    p.fd = fd;
    p.events = POLLIN;
    for (;;) {
        ssize_t n;
        if (poll(&p, 1, ms) <= 0) return 0;
        n = recv(fd, b, sizeof b, 0);
        if (n <= 0) return 1;
    }
}

/* One request on a fresh connection: the response in buf. */
static int request(const char *req, char *buf, size_t cap, int head_only) {
    static carry_buf cb;
    int fd = dial(), n;
    if (fd < 0) return -1;
    cb.len = 0;
    if (send_str(fd, req) < 0) {
        close(fd);
        return -1;
    }
    n = read_response(fd, &cb, buf, cap, head_only);
    close(fd);
    return n;
}

#ifdef _WIN32                           /* (no mkdtemp, mkdir's mode, symlink) */
#include <direct.h>
static char *mkdtemp(char *tmpl) { return _mktemp(tmpl) && _mkdir(tmpl) == 0 ? tmpl : NULL; }
#define mkdir(p, mode) _mkdir(p)
#endif
static void make_root(void) {
    FILE *f;
    char p[128];
    int i;
    snprintf(root_dir, sizeof root_dir, "/tmp/httpd-test-XXXXXX");
    if (!mkdtemp(root_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(p, sizeof p, "%s/hello.txt", root_dir);
    f = fopen(p, "wb");
    fputs("file content\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/page.html", root_dir);
    f = fopen(p, "wb");
    fputs("<p>hi</p>", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/big.bin", root_dir);   /* more than the write buffer */
    f = fopen(p, "wb");
    for (i = 0; i < 50000; i++) fputc('a' + i % 26, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/sub", root_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/secret.txt", "/tmp");  /* outside the root */
    f = fopen("/tmp/" SECRET, "wb");
    fputs("TOP SECRET\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/sub/escape", root_dir);
#ifdef _WIN32                           /* a symlink there needs a privilege: none */
    (void)p;
#else
    if (symlink("/tmp/" SECRET, p) < 0) perror("symlink");
#endif
}

static void remove_root(void) {
#ifdef _WIN32
    static const char *const files[] = {"hello.txt", "page.html", "big.bin"};
    char p[128];
    size_t i;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root_dir, files[i]);
        (void)remove(p);
    }
    snprintf(p, sizeof p, "%s/sub", root_dir);
    (void)_rmdir(p);
    (void)remove("/tmp/" SECRET);
    if (_rmdir(root_dir) != 0) printf("  could not remove %s\n", root_dir);
#else
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' /tmp/" SECRET, root_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", root_dir);
#endif
}

static const char hello_resp[] =
    "HTTP/1.1 200 OK\r\nServer: async.h-httpd\r\nContent-Type: text/plain\r\n"
    "Content-Length: 13\r\n\r\nHello, World!";

TEST(srv_get_and_head) {
    static char buf[4096];
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    ASSERT_EQ(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0),
              sizeof hello_resp - 1);
    ASSERT_STR(buf, hello_resp);
    ASSERT_HAS(buf, "HTTP/1.1 200 OK\r\n");
    ASSERT_HAS(buf, "Content-Length: 13\r\n");
    CHECK(strcmp(buf + strlen(buf) - 13, "Hello, World!") == 0);
    /* HEAD: the same head, no body (the connection is closed: nothing more comes) */
    {
        int fd = dial();
        carry_buf *cb = calloc(1, sizeof *cb);
        CHECK(fd >= 0);
        send_str(fd, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ASSERT_EQ(read_response(fd, cb, buf, sizeof buf, 1),
                  sizeof hello_resp - 1 - 13 + strlen("Connection: close\r\n"));
        ASSERT_HAS(buf, "Content-Length: 13\r\n");
        ASSERT_HAS(buf, "Connection: close\r\n");
        ASSERT_EQ(cb->len, 0);          /* no body bytes */
        CHECK(closed_within(fd, 2000));
        close(fd);
        free(cb);
    }
    /* HTTP/1.0: answered, then closed */
    {
        int fd = dial();
        carry_buf *cb = calloc(1, sizeof *cb);
        send_str(fd, "GET / HTTP/1.0\r\n\r\n");
        CHECK(read_response(fd, cb, buf, sizeof buf, 0) > 0);
        ASSERT_HAS(buf, "Hello, World!");
        ASSERT_HAS(buf, "Connection: close\r\n");
        CHECK(closed_within(fd, 2000));
        close(fd);
        free(cb);
    }
    kill_child();
}

TEST(srv_keepalive_and_pipelining) {
    static char buf[4096];
    static carry_buf cb;
    int fd, i;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    fd = dial();
    CHECK(fd >= 0);
    cb.len = 0;
    /* keep-alive: two requests one after the other on one connection */
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(read_response(fd, &cb, buf, sizeof buf, 0), sizeof hello_resp - 1);
    send_str(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "\r\n\r\nfile content\n");
    /* three pipelined in one write: three answers, in order */
    send_str(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                 "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "200 OK");
    ASSERT_HAS(buf, "file content");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 1) > 0);
    ASSERT_HAS(buf, "200 OK");
    ASSERT_HAS(buf, "Content-Length: 13");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "404 Not Found");
    ASSERT_EQ(cb.len, 0);
    /* a 1.0 client asking for keep-alive keeps the connection */
    send_str(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "Connection: keep-alive\r\n");
    /* 200 pipelined requests sent in bytes of every size: all answered */
    {
        static char many[200 * 40];
        size_t n = 0, off = 0, step = 1;
        for (i = 0; i < 200; i++)
            n += (size_t)sprintf(many + n, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        while (off < n) {
            size_t k = step < n - off ? step : n - off;
            CHECK(send(fd, many + off, k, 0) == (ssize_t)k);
            off += k;
            step = step % 97 + 1;
        }
        for (i = 0; i < 200; i++) {
            if (read_response(fd, &cb, buf, sizeof buf, 0) != (int)sizeof hello_resp - 1) {
                FAIL_("pipelined response %d", i);
                break;
            }
        }
    }
    /* Connection: close ends it after the answer */
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    CHECK(closed_within(fd, 2000));
    close(fd);
    kill_child();
}

/* The status line of an error answer, and the connection closed after it. */
static void expect_error(const char *req, const char *status, int closes) {
    static char buf[4096];
    static carry_buf cb;
    int fd = dial();
    if (fd < 0) {
        FAIL_("connect");
        return;
    }
    cb.len = 0;
    send_str(fd, req);
    if (read_response(fd, &cb, buf, sizeof buf, 0) < 0) {
        FAIL_("no answer to %.40s", req);
    } else if (strncmp(buf, status, strlen(status)) != 0) {
        FAIL_("%.40s...: got %.40s, want %s", req, buf, status);
    } else if (closes && !closed_within(fd, 2000)) {
        FAIL_("%.40s: not closed after %s", req, status);
    }
    close(fd);
}

TEST(srv_errors) {
    static char big[12000];
    static char buf[4096];
    size_t n;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    expect_error("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
                 "HTTP/1.1 404 Not Found\r\n", 0);
    expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
                 "HTTP/1.1 405 Method Not Allowed\r\n", 1);
    expect_error("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405", 1);
    CHECK(request("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "Allow: GET, HEAD\r\n");
    expect_error("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", "HTTP/1.1 400", 1);
    expect_error("GET /\r\n\r\n", "HTTP/1.1 400", 1);
    expect_error("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "HTTP/1.1 400", 1);
    expect_error("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400", 1);      /* no Host */
    expect_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                 "HTTP/1.1 413", 1);
    expect_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
                 "HTTP/1.1 413", 1);
    expect_error("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 413", 1);
    expect_error("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505", 1);
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'z', 10000);
    strcpy(big + n + 10000, "\r\n\r\n");
    expect_error(big, "HTTP/1.1 431", 1);
    /* an error in the middle of a pipelined batch: the ones before are answered */
    {
        static carry_buf cb;
        int fd = dial();
        cb.len = 0;
        send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\n\r\n"
                     "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
        ASSERT_HAS(buf, "200 OK");
        CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
        ASSERT_HAS(buf, "505");
        CHECK(closed_within(fd, 2000));
        close(fd);
    }
    kill_child();
    /* without ROOT only "/" exists */
    if (start_server(NULL, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    expect_error("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404", 0);
    ASSERT_EQ(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0),
              sizeof hello_resp - 1);
    kill_child();
}

TEST(srv_files_and_traversal) {
    static char buf[70000];
    static const char *const escapes[] = {
        "GET /../../../../tmp/" SECRET " HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/" SECRET " HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /sub/%2E%2E/%2e%2e/" SECRET " HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /sub/..%2f..%2f" SECRET " HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /sub/escape HTTP/1.1\r\nHost: x\r\n\r\n",        /* symlink out of the root */
        "GET /hello.txt%00.html HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://x/../" SECRET " HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    size_t i;
    int n;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    n = request("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0);
    CHECK(n > 0);
    ASSERT_HAS(buf, "HTTP/1.1 200 OK\r\n");
    ASSERT_HAS(buf, "Content-Type: text/plain; charset=utf-8\r\n");
    ASSERT_HAS(buf, "Content-Length: 13\r\n");
    CHECK(n > 13 && strcmp(buf + n - 13, "file content\n") == 0);
    CHECK(request("GET /page.html?v=2 HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf,
                  0) > 0);
    ASSERT_HAS(buf, "Content-Type: text/html");
    ASSERT_HAS(buf, "\r\n\r\n<p>hi</p>");
    CHECK(request("GET /page%2Ehtml HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "<p>hi</p>");
    CHECK(request("HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 1) > 0);
    ASSERT_HAS(buf, "Content-Length: 13\r\n");
    /* bigger than the write buffer: streamed, every byte right */
    n = request("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, 0);
    ASSERT_HAS(buf, "Content-Length: 50000\r\n");
    ASSERT_HAS(buf, "Content-Type: application/octet-stream\r\n");
    if (n > 50000) {
        const char *body = buf + n - 50000;
        for (i = 0; i < 50000; i++)
            if (body[i] != (char)('a' + i % 26)) {
                FAIL_("big.bin byte %zu", i);
                break;
            }
    }
    expect_error("GET /sub HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404", 0);   /* a dir */
    for (i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        n = request(escapes[i], buf, sizeof buf, 0);
        if (n < 0) {
            FAIL_("no answer to %s", escapes[i]);
            continue;
        }
        if (strstr(buf, "SECRET")) FAIL_("escaped the root: %s", escapes[i]);
        if (strncmp(buf, "HTTP/1.1 403", 12) && strncmp(buf, "HTTP/1.1 404", 12) &&
            strncmp(buf, "HTTP/1.1 400", 12))
            FAIL_("%s: %.30s", escapes[i], buf);
    }
    kill_child();
}

TEST(srv_timeouts) {
    static const char *const env[] = {"HTTPD_HEADER_MS=200", "HTTPD_IDLE_MS=300", NULL};
    static char buf[4096];
    static carry_buf cb;
    struct timespec a, b;
    int fd, i;
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    /* slowloris: a byte now and then never completes the head: dropped */
    fd = dial();
    clock_gettime(CLOCK_MONOTONIC, &a);
    send_str(fd, "GET / HTTP/1.1\r\n");
    for (i = 0; i < 20; i++) {
        sleep_us(50000);
        if (send(fd, "X", 1, 0) != 1) break;
    }
    CHECK(closed_within(fd, 2000));
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(b.tv_sec - a.tv_sec < 3);     /* a hang bound */
    close(fd);
    /* idle keep-alive: answered, then closed after HTTPD_IDLE_MS of silence */
    fd = dial();
    cb.len = 0;
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    CHECK(closed_within(fd, 2000));
    close(fd);
    /* a silent connection is idle too */
    fd = dial();
    CHECK(closed_within(fd, 2000));
    close(fd);
    /* a client that keeps talking is not idle: five requests 100 ms apart */
    fd = dial();
    cb.len = 0;
    for (i = 0; i < 5; i++) {
        sleep_us(100000);
        send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        if (read_response(fd, &cb, buf, sizeof buf, 0) < 0) {
            FAIL_("request %d after a pause", i);
            break;
        }
    }
    close(fd);
    kill_child();
}

TEST(srv_connection_cap) {
    static const char *const env[] = {"HTTPD_MAX_CONN=2", NULL};
    static char buf[4096];
    static carry_buf cb;
    int f1, f2, f3, f4;
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    f1 = dial();
    f2 = dial();
    cb.len = 0;
    send_str(f1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(f1, &cb, buf, sizeof buf, 0) > 0);
    send_str(f2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(f2, &cb, buf, sizeof buf, 0) > 0);
    f3 = dial();                        /* the third: accepted, 503, closed at once */
    CHECK(f3 >= 0);
    send_str(f3, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cb.len = 0;
    CHECK(read_response(f3, &cb, buf, sizeof buf, 0) > 0);
    CHECK(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    ASSERT_HAS(buf, "Connection: close\r\n");
    CHECK(closed_within(f3, 2000));
    close(f3);
    close(f1);                          /* room again */
    sleep_us(100000);
    f4 = dial();
    send_str(f4, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(f4, &cb, buf, sizeof buf, 0) > 0);
    close(f2);
    close(f4);
    kill_child();
}

/* ==== the request handler, in process ============================================= */

/* The answer conn_respond appends for one request (parsed from an exact-size copy:
   under ASan a read past it is caught); *c keeps its state. */
static int respond(conn *c, const char *req, char *out, size_t cap) {
    size_t n = strlen(req), w0 = c->wlen;
    char *copy = malloc(n);
    http_req r;
    int rc;
    memcpy(copy, req, n);
    rc = http_parse(copy, n, &r);
    if (rc > 0) conn_respond(c, &r);
    free(copy);
    if (rc <= 0) return rc;
    n = c->wlen - w0 < cap - 1 ? c->wlen - w0 : cap - 1;
    memcpy(out, c->wbuf + w0, n);
    out[n] = 0;
    return (int)n;
}

TEST(respond_in_process) {
    static char out[WBUF + 1];
    static char root_real[PATH_MAX];
    char *wbuf = malloc(WBUF);                          /* exact: ASan sees past it */
    conn c;
    memset(&c, 0, sizeof c);
    c.wbuf = wbuf;
    c.file_fd = -1;
    build_hello();
    CHECK(realpath(root_dir, root_real) != NULL);
    srv.root_dir = root_real;
    srv.root_len = strlen(root_real);
    CHECK(respond(&c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "HTTP/1.1 200 OK\r\n");
    ASSERT_HAS(out, "Content-Length: 13\r\n\r\nfile content\n");
    CHECK(respond(&c, "HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "Content-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n");
    CHECK(strstr(out, "<p>") == NULL);                  /* HEAD: no body */
    CHECK(respond(&c, "GET /sub/escape HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "HTTP/1.1 404 ");                   /* a symlink out of ROOT */
    CHECK(respond(&c, "GET /a/%2E%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "HTTP/1.1 403 ");
    CHECK(!c.closing);                                  /* 403, 404: the connection goes on */
    c.wlen = 0;
    CHECK(respond(&c, "GET /big.bin HTTP/1.0\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "Content-Length: 50000\r\nConnection: close\r\n\r\n");
    CHECK(c.file_fd >= 0 && c.file_left == 50000);      /* too big: left to stream */
    CHECK(c.closing);
    if (c.file_fd >= 0) close(c.file_fd);
    memset(&c, 0, sizeof c);                            /* a new connection */
    c.wbuf = wbuf;
    c.file_fd = -1;
    CHECK(respond(&c, "PUT / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "HTTP/1.1 405 Method Not Allowed\r\n");
    ASSERT_HAS(out, "Allow: GET, HEAD\r\n");
    CHECK(c.closing && c.linger);
    memset(&c, 0, sizeof c);
    c.wbuf = wbuf;
    c.file_fd = -1;
    srv.root_dir = NULL;                                /* without ROOT only "/" is */
    srv.root_len = 0;
    CHECK(respond(&c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_HAS(out, "HTTP/1.1 404 ");
    c.wlen = 0;
    CHECK(respond(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out) > 0);
    ASSERT_STR(out, hello_resp);
    free(wbuf);
}

/* What a new client gets: 1 a 200, 0 a 503 with Connection: close and then the close,
   -1 anything else within the bounds (no answer, a bare close). */
static int probe_httpd(int p) {
    char buf[2048];
    size_t len = 0;
    int fd = flood_connect(p, 2000), r = -1;
    long long end = flood_now_ms() + 2000;
    if (fd < 0) return -1;
    if (send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 0) {
        while (len < sizeof buf - 1) {  /* the head */
            struct pollfd pf;
            ssize_t n;
            buf[len] = 0;
            if (strstr(buf, "\r\n\r\n")) break;
            pf.fd = fd;
            pf.events = POLLIN;
            if (poll(&pf, 1, (int)(end - flood_now_ms())) <= 0) break;
            n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
            if (n <= 0) break;
            len += (size_t)n;
        }
        buf[len] = 0;
        if (strncmp(buf, "HTTP/1.1 200 ", 13) == 0) r = 1;
        else if (strncmp(buf, "HTTP/1.1 503 ", 13) == 0 && strstr(buf, "Connection: close\r\n") &&
                 closed_within(fd, 2000))
            r = 0;
    }
    close(fd);
    return r;
}

static int probe_httpd_until_served(int p, int ms) {
    long long end = flood_now_ms() + ms;
    int r;
    while ((r = probe_httpd(p)) != 1 && flood_now_ms() < end) sleep_us(50000);
    return r;
}

/* 2000 idle connections with a cap of 100: the first 100 are kept, every other one
   gets a 503 and the close at once, and so does a new client; when ten of the kept
   ones leave, a new client is served again. */
TEST(srv_2000_idle_connections_at_the_cap) {
    static const char *const env[] = {"HTTPD_MAX_CONN=100", NULL};
    enum { N = FLOOD_N(2000), CAP = 100 };
    static int fds[N];
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    ASSERT_EQ(flood_open(port, fds, N, FLOOD_MS(3000)), N);
    ASSERT_EQ(flood_wait_closed(fds, N, N - CAP, FLOOD_MS(5000)), N - CAP);
    ASSERT_EQ(probe_httpd(port), 0);
    flood_close(fds, N, 10);
    ASSERT_EQ(probe_httpd_until_served(port, 3000), 1);
    ASSERT_EQ(flood_wait_closed(fds, N, N, 0), N - CAP + 10);   /* the rest still in */
    flood_close(fds, N, N);
    kill_child();
}

/* With a short idle timeout: all 2000 are closed (503 at once, or timed out), then a
   new client is served. */
TEST(srv_2000_idle_connections_timed_out) {
    static const char *const opts[] = {"--idle-timeout", "0.3", "--max-conns", "100", NULL};
    enum { N = FLOOD_N(2000) };
    static int fds[N];
    start_opts = opts;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    ASSERT_EQ(flood_open(port, fds, N, FLOOD_MS(3000)), N);
    ASSERT_EQ(flood_wait_closed(fds, N, N, FLOOD_MS(5000)), N);
    ASSERT_EQ(probe_httpd_until_served(port, 3000), 1);
    flood_close(fds, N, N);
    kill_child();
}

/* The defaults (cap 10000): 2000 idle connections do not keep a new client out. */
TEST(srv_2000_idle_connections_default_cap) {
    enum { N = FLOOD_N(2000) };
    static int fds[N];
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    ASSERT_EQ(flood_open(port, fds, N, FLOOD_MS(3000)), N);
    ASSERT_EQ(probe_httpd(port), 1);
    ASSERT_EQ(flood_wait_closed(fds, N, N, 0), 0);      /* none was dropped */
    flood_close(fds, N, N);
    kill_child();
}

/* Slowloris: 50 clients, as many as the cap, send a head one byte every 50 ms and
   never finish it. A new client meanwhile gets a 503 at once; each slow one is closed
   once its head has taken the header timeout (0.5 s), however it trickles on, and a
   new client is then served. One that sends a whole request a byte at a time but
   within the header timeout is served. */
TEST(srv_slowloris_is_timed_out_and_keeps_nobody_out) {
    static const char *const opts[] = {"--max-conns=50", "--header-timeout=0.5", NULL};
    enum { N = 50 };
    static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    static char buf[4096];
    static carry_buf cb;
    int fds[N], i, round, open_n = N, refused = -2;
    long long end;
    start_opts = opts;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    for (i = 0; i < N; i++) {
        fds[i] = flood_connect(port, 2000);
        if (fds[i] < 0) FAIL_("slow client %d", i);
    }
    end = flood_now_ms() + 5000;
    for (round = 0; open_n > 0 && flood_now_ms() < end; round++) {
        char c = round < (int)sizeof head - 1 ? head[round] : 'a';
        for (i = 0; i < N; i++) {
            if (fds[i] < 0) continue;
            if (send(fds[i], &c, 1, MSG_DONTWAIT) != 1 || flood_closed(fds[i])) {
                close(fds[i]);
                fds[i] = -1;
                open_n--;
            }
        }
        if (round == 3) refused = probe_httpd(port);    /* the cap is full of them */
        sleep_us(50000);
    }
    ASSERT_EQ(refused, 0);
    ASSERT_EQ(open_n, 0);               /* all timed out while still trickling */
    ASSERT_EQ(probe_httpd_until_served(port, 3000), 1);
    {                                   /* a whole request, a byte per 5 ms: served */
        static const char req[] = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        int fd = dial();
        size_t k;
        for (k = 0; fd >= 0 && k < sizeof req - 1; k++) {
            send(fd, req + k, 1, 0);
            sleep_us(5000);
        }
        cb.len = 0;
        CHECK(fd >= 0 && read_response(fd, &cb, buf, sizeof buf, 0) > 0);
        ASSERT_HAS(buf, "file content");
        if (fd >= 0) close(fd);
    }
    for (i = 0; i < N; i++)
        if (fds[i] >= 0) close(fds[i]);
    kill_child();
}

/* Out of descriptors: accept fails with EMFILE; the server backs off and serves the
   waiting connections as soon as others close. */
TEST(srv_emfile_backs_off_and_recovers) {
    enum { N = 40 };
    static carry_buf cb[N];
    static char buf[4096];
    int fds[N], done[N], i, round, answered = 0, first_round = -1;
    long long end;
    child_nofile = 20;
    if (start_server(root_dir, NULL) < 0) {
        child_nofile = 0;
        FAIL_("server start");
        return;
    }
    child_nofile = 0;
    for (i = 0; i < N; i++) {           /* the kernel queues what the server cannot take */
        fds[i] = dial();
        done[i] = 0;
        cb[i].len = 0;
        if (fds[i] < 0 || send_str(fds[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n") < 0) {
            FAIL_("client %d", i);
            kill_child();
            return;
        }
    }
    /* rounds until all are answered or 20 s pass (a bound, not a speed: a loaded machine
       may answer one a round) */
    for (round = 0, end = flood_now_ms() + 20000; answered < N && flood_now_ms() < end;
         round++) {
        int now = 0;
        for (i = 0; i < N; i++) {
            struct pollfd p;
            if (done[i]) continue;
            p.fd = fds[i];
            p.events = POLLIN;
            if (poll(&p, 1, i == 0 || now == 0 ? 300 : 0) <= 0) continue;
            if (read_response(fds[i], &cb[i], buf, sizeof buf, 0) !=
                (int)sizeof hello_resp - 1) {
                FAIL_("client %d: bad answer", i);
                done[i] = 1;
                continue;
            }
            done[i] = 1;
            now++;
        }
        if (first_round < 0) first_round = now;
        answered += now;
        for (i = 0; i < N; i++)         /* free the server's descriptors */
            if (done[i] && fds[i] >= 0) {
                close(fds[i]);
                fds[i] = -1;
            }
    }
    ASSERT_EQ(answered, N);
    CHECK(first_round > 0 && first_round < N);   /* the limit did bite */
    for (i = 0; i < N; i++)
        if (fds[i] >= 0) close(fds[i]);
    kill_child();
}

TEST(srv_sigterm_drains_and_exits_0) {
    static char buf[4096];
    static carry_buf cb;
    int busy, idle, st;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    idle = dial();                      /* a keep-alive connection between requests */
    cb.len = 0;
    send_str(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(idle, &cb, buf, sizeof buf, 0) > 0);
    busy = dial();                      /* a request in flight: half its head is in */
    send_str(busy, "GET /hello.txt HTTP/1.1\r\n");
    sleep_us(100000);
    if (term_child() < 0) {
        close(busy);
        close(idle);
        return;
    }
    sleep_us(100000);
    CHECK(closed_within(idle, 1000));   /* the idle one goes at once */
    send_str(busy, "Host: x\r\n");       /* the in-flight one still gets its answer, */
    sleep_us(50000);
    send_str(busy, "\r\n");              /* even when the rest comes in pieces */
    cb.len = 0;
    CHECK(read_response(busy, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "file content");
    CHECK(closed_within(busy, 2000));
    close(busy);
    close(idle);
    st = wait_child(5000);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(dial() < 0);                  /* nobody listens any more */
#ifndef _WIN32                          /* (Ctrl-C does not reach a process group there) */
    /* SIGINT on an idle server, too */
    if (start_server(NULL, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    kill(child, SIGINT);
    st = wait_child(5000);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
}

TEST(srv_grace_period_aborts_stuck_requests) {
    static const char *const env[] = {"HTTPD_GRACE_MS=300", NULL};
    int fd, st;
    struct timespec a, b;
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    fd = dial();
    send_str(fd, "GET / HTTP/1.1\r\n");  /* never finished */
    sleep_us(50000);
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (term_child() < 0) {
        close(fd);
        return;
    }
    st = wait_child(4000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(b.tv_sec - a.tv_sec < 3);
    CHECK(closed_within(fd, 1000));
    close(fd);
}

/* The server's stderr (want_err) to its end (bounded), into buf: its length. */
static size_t read_err(char *buf, size_t cap) {
    size_t len = 0;
    struct pollfd p;
    p.fd = err_pipe;
    p.events = POLLIN;
    while (err_pipe >= 0 && len + 1 < cap && poll(&p, 1, 2000) > 0) {
        ssize_t n = read(err_pipe, buf + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    if (err_pipe >= 0) close(err_pipe);
    err_pipe = -1;
    return len;
}

/* The connections each shard accepted, from the shutdown lines on stderr
   ("... (shard I of N, K accepted)"): how many shards said so. */
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

/* --threads 2: every connection is answered, on both shards (the kernel spreads them:
   24 connections all on one shard would be a 1 in 8 million chance); at SIGTERM, the
   idle ones are closed at once, and the one request in flight on each connection, half
   its head already read, is answered; then each shard closes them, the process exits 0
   and each shard says how many it accepted: 24 between them, some each. */
TEST(srv_threads_2_shards_answer_and_drain) {
    static const char *const opts[] = {"--threads", "2", NULL};
    enum { BUSY = 20, IDLE = 4 };
    static char buf[4096], err[8192];
    static carry_buf cb[BUSY + IDLE];
    int fds[BUSY + IDLE], i, st, answered = 0, closed = 0;
    long acc[2];
    start_opts = opts;
    want_err = 1;
    if (start_server(root_dir, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    for (i = 0; i < BUSY + IDLE; i++) {
        fds[i] = dial();
        cb[i].len = 0;
        /* busy ones: a request and the first half of the next in one segment, so the
           server has read that half when the first answer is out */
        send_str(fds[i], i < BUSY ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                    "GET /hello.txt HTTP/1.1\r\n"
                                  : "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        if (read_response(fds[i], &cb[i], buf, sizeof buf, 0) > 0 &&
            strstr(buf, "Hello, World!"))
            answered++;
    }
    ASSERT_EQ(answered, BUSY + IDLE);
    kill(child, SIGTERM);
    for (i = BUSY; i < BUSY + IDLE; i++) closed += closed_within(fds[i], 2000);
    ASSERT_EQ(closed, IDLE);                /* the idle ones go at once */
    answered = closed = 0;
    for (i = 0; i < BUSY; i++) {            /* the rest of each request in flight */
        send_str(fds[i], "Host: x\r\n\r\n");
        if (read_response(fds[i], &cb[i], buf, sizeof buf, 0) > 0 &&
            strstr(buf, "file content"))
            answered++;
        closed += closed_within(fds[i], 2000);
    }
    ASSERT_EQ(answered, BUSY);
    ASSERT_EQ(closed, BUSY);
    for (i = 0; i < BUSY + IDLE; i++) close(fds[i]);
    st = wait_child(5000);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(dial() < 0);                      /* nobody listens on either shard */
    read_err(err, sizeof err);
    ASSERT_EQ(shard_counts(err, acc, 2), 2);
    ASSERT_EQ(acc[0] + acc[1], BUSY + IDLE);
    CHECK(acc[0] > 0 && acc[1] > 0);
    if (acc[0] <= 0 || acc[1] <= 0 || getenv("HTTPD_TEST_VERBOSE"))
        printf("  stderr: %s\n", err);
}

/* --threads 2 --max-conns 2: the cap is global, whichever shards the connections
   landed on (srv_connection_cap's script). */
TEST(srv_threads_2_connection_cap_is_global) {
    static const char *const opts[] = {"--threads", "2", "--max-conns", "2", NULL};
    static char buf[4096];
    static carry_buf cb;
    int f[3], i, k;
    for (k = 0; k < 3; k++) {               /* the pair on one shard or on both */
        start_opts = opts;
        if (start_server(root_dir, NULL) < 0) {
            FAIL_("server start");
            return;
        }
        for (i = 0; i < 3; i++) {
            f[i] = dial();
            cb.len = 0;
            send_str(f[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            CHECK(read_response(f[i], &cb, buf, sizeof buf, 0) > 0);
            if (i < 2) CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
        }
        CHECK(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
        CHECK(closed_within(f[2], 2000));
        close(f[2]);
        close(f[0]);                        /* room again */
        for (i = 0; i < 100; i++) {         /* once the server saw it go */
            f[2] = dial();
            cb.len = 0;
            send_str(f[2], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            if (read_response(f[2], &cb, buf, sizeof buf, 0) > 0 &&
                strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0)
                break;
            close(f[2]);
            f[2] = -1;
            sleep_us(10000);
        }
        CHECK(f[2] >= 0);
        if (f[2] >= 0) close(f[2]);
        close(f[1]);
        if (term_child() == 0) CHECK(wait_child(5000) == 0);   /* exited, 0 */
    }
}

#ifndef _WIN32
/* waitpid, bounded: 0 when pid has ended (*st), -1 if not within ms. */
static int wait_pid(pid_t pid, int *st, int ms) {
    int i;
    for (i = 0; i < ms; i++) {
        if (waitpid(pid, st, WNOHANG) == pid) return 0;
        sleep_us(1000);
    }
    return -1;
}
#endif

/* Bad arguments, options or settings: the usage on stderr and exit 2. */
TEST(srv_bad_arguments) {
    static const char *const cases[][6] = {     /* [0]: a setting for the environment */
        {"", NULL}, {"", "abc", NULL}, {"", "70000", NULL}, {"", "0", "/nonexistent/dir"},
        {"", "0", "/tmp", "extra", NULL}, {"", "--bogus", "0", NULL},
        {"", "--idle-timeout", "-1", "0", NULL}, {"", "--idle-timeout", "abc", "0", NULL},
        {"", "--idle-timeout", "1e3", "0", NULL}, {"", "--idle-timeout=", "0", NULL},
        {"", "--idle-timeout", "0.0001", "0", NULL}, {"", "0", "--idle-timeout", NULL},
        {"", "--header-timeout", "x", "0", NULL}, {"", "--header-timeout=-2", "0", NULL},
        {"", "--max-conns", "0", "0", NULL}, {"", "--max-conns", "1x", "0", NULL},
        {"", "--max-conns=99999999999", "0", NULL}, {"", "--threads", "-1", "0", NULL},
        {"", "--threads", "1025", "0", NULL}, {"", "--threads=two", "0", NULL},
        {"", "0", "--threads", NULL},
        {"HTTPD_IDLE_MS=abc", "0", NULL}, {"HTTPD_HEADER_MS=0", "0", NULL},
        {"HTTPD_MAX_CONN=-5", "0", NULL}, {"HTTPD_GRACE_MS=1s", "0", NULL}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024];
#ifdef _WIN32
        char args[256];
        const char *env[2];
        size_t n = 0;
        int k, st;
        args[0] = 0;
        for (k = 1; k < 6 && cases[i][k]; k++)
            n += (size_t)snprintf(args + n, sizeof args - n, "%s%s", k > 1 ? " " : "",
                                  cases[i][k]);
        env[0] = cases[i][0][0] ? cases[i][0] : NULL;
        env[1] = NULL;
        set_env(env, 1);
        st = srv_run(HTTPD_BIN ".exe", args, err, sizeof err);
        set_env(env, 0);
        if (st != 2 || !strstr(err, "usage"))
            FAIL_("case %zu (%s %s): status %d, stderr \"%.200s\"", i, cases[i][0], args, st,
                  err);
#else
        const char *argv[8];
        int st, pe[2], k;
        ssize_t n;
        pid_t p;
        if (pipe(pe) < 0) return;
        p = fork();
        if (p == 0) {
            int nul = open("/dev/null", O_WRONLY);
            dup2(nul, 1);
            dup2(pe[1], 2);
            close(pe[0]);
            close(pe[1]);
            if (cases[i][0][0]) putenv((char *)cases[i][0]);
            argv[0] = "httpd";
            for (k = 1; k < 6 && cases[i][k]; k++) argv[k] = cases[i][k];
            argv[k] = NULL;
            execv(HTTPD_BIN, (char *const *)argv);
            _exit(127);
        }
        close(pe[1]);
        {                               /* bounded: a server that starts must not hang us */
            struct pollfd pf;
            size_t got = 0;
            long long end = flood_now_ms() + 3000;
            pf.fd = pe[0];
            pf.events = POLLIN;
            while (got < sizeof err - 1 && poll(&pf, 1, (int)(end - flood_now_ms())) > 0 &&
                   (n = read(pe[0], err + got, sizeof err - 1 - got)) > 0)
                got += (size_t)n;
            err[got] = 0;
        }
        close(pe[0]);
        if (wait_pid(p, &st, 3000) < 0) {
            kill(p, SIGKILL);
            waitpid(p, &st, 0);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(err, "usage"))
            FAIL_("case %zu (%s %s %s): status %d, stderr \"%.200s\"", i, cases[i][0],
                  cases[i][1] ? cases[i][1] : "", cases[i][1] && cases[i][2] ? cases[i][2] : "",
                  st, err);
#endif
    }
    /* good ones start: options anywhere, settings and options together */
    {
        static const char *const opts[] = {"--idle-timeout=2.5", "--header-timeout", "0",
                                           "--max-conns", "3", NULL};
        static const char *const env[] = {"HTTPD_IDLE_MS=100", NULL};
        start_opts = opts;
        CHECK(start_server(root_dir, env) == 0);
        kill_child();
    }
}

/* HTTPD_IDLE_MS=100 closes a silent connection; --idle-timeout 0 (never) wins over
   it: the connection is still served after four times as long. */
TEST(srv_options_win_over_the_environment) {
    static const char *const env[] = {"HTTPD_IDLE_MS=100", NULL};
    static const char *const opts[] = {"--idle-timeout", "0", NULL};
    static char buf[4096];
    static carry_buf cb;
    int fd;
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    fd = dial();
    CHECK(closed_within(fd, 2000));
    close(fd);
    kill_child();
    start_opts = opts;
    if (start_server(root_dir, env) < 0) {
        FAIL_("server start");
        return;
    }
    fd = dial();
    CHECK(!closed_within(fd, 400));
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cb.len = 0;
    CHECK(read_response(fd, &cb, buf, sizeof buf, 0) > 0);
    ASSERT_HAS(buf, "200 OK");
    close(fd);
    kill_child();
}

TEST(srv_curl) {
    char cmd[128], out[64] = {0};
    FILE *p;
#ifdef _WIN32
    if (1) {
        printf("  note: curl's check is skipped on Windows (the Linux tool)\n");
        return;
    }
#endif
    if (system("command -v curl >/dev/null 2>&1") != 0) {
        printf("  note: curl not found, skipping the curl check\n");
        return;
    }
    if (start_server(NULL, NULL) < 0) {
        FAIL_("server start");
        return;
    }
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 http://127.0.0.1:%d/", port);
    p = popen(cmd, "r");
    if (p) {
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
    }
    ASSERT_STR(out, "Hello, World!");
    kill_child();
}

int main(int argc, char **argv) {
    BEGIN_TESTS(argc, argv);
#ifdef _WIN32                           /* (a watchdog thread; no SIGPIPE there) */
    srv_win_alarm(120, on_alarm);
#else
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);           /* a server that died fails a test, not the run */
    alarm(60);                          /* a hang ends in a failure, never an orphan */
#endif
    atexit(kill_child);
    RUN(parse_valid_requests);
    RUN(parse_pipelined_batch_split_at_every_byte);
    RUN(parse_hostile_input);
    RUN(path_decode_refuses_traversal);
    RUN(parse_a_million_pipelined_requests);
#ifdef _WIN32
    if (access(HTTPD_BIN ".exe", 0) != 0) {
#else
    if (access(HTTPD_BIN, X_OK) != 0) {
#endif
        printf("  FAIL %s not built (run from the repository root)\n", HTTPD_BIN);
        test_failed++;
        DONE();
    }
    make_root();
    RUN(respond_in_process);
    RUN(srv_get_and_head);
    RUN(srv_keepalive_and_pipelining);
    RUN(srv_errors);
    RUN(srv_files_and_traversal);
    RUN(srv_timeouts);
    RUN(srv_connection_cap);
    RUN(srv_2000_idle_connections_at_the_cap);
    RUN(srv_2000_idle_connections_timed_out);
    RUN(srv_2000_idle_connections_default_cap);
    RUN(srv_slowloris_is_timed_out_and_keeps_nobody_out);
#ifdef _WIN32
    printf("  skipped on Windows: srv_emfile_backs_off_and_recovers (no descriptor limit to"
           " give the server)\n");
    (void)srv_emfile_backs_off_and_recovers;
#else
    RUN(srv_emfile_backs_off_and_recovers);
#endif
    RUN(srv_sigterm_drains_and_exits_0);
    RUN(srv_grace_period_aborts_stuck_requests);
#ifdef _WIN32
    printf("  skipped on Windows: srv_threads_2_shards_answer_and_drain (it reads the"
           " shards' counts on stderr after SIGTERM)\n");
    (void)srv_threads_2_shards_answer_and_drain;
#else
    RUN(srv_threads_2_shards_answer_and_drain);
#endif
#ifdef _WIN32
    printf("  skipped on Windows: srv_threads_2_connection_cap_is_global (--threads needs"
           " reuseport: ASYNC_ENOSYS there)\n");
    (void)srv_threads_2_connection_cap_is_global;
#else
    RUN(srv_threads_2_connection_cap_is_global);
#endif
    RUN(srv_bad_arguments);
    RUN(srv_options_win_over_the_environment);
    RUN(srv_curl);
    remove_root();
    kill_child();
    DONE();
}
