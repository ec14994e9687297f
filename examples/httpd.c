/* httpd.c - a small, fast HTTP/1.1 server:
     httpd [--idle-timeout SECONDS] [--header-timeout SECONDS] [--max-conns N]
           [--threads N] PORT [ROOT]

   Listens on 127.0.0.1:PORT (0: the kernel picks) and prints one line,
   `listening on 127.0.0.1:NNNN`, to stdout. GET and HEAD of `/` answer
   "Hello, World!" (text/plain); with ROOT, any other path is a file under ROOT,
   without it every other path is 404.

   Protocol: keep-alive and pipelining (every complete request in one read is
   answered, in order, with one write), HTTP/1.0 (closes unless keep-alive) and
   `Connection: close`. Errors: 400 (request line or header syntax), 403 (a `..`
   segment, also percent-encoded), 404, 405 (methods other than GET and HEAD),
   413 (any request body: Content-Length > 0 or Transfer-Encoding), 431 (request
   head over 8 KB), 503 (over the connection cap), 505 (versions other than 1.0 and
   1.1). After 400, 405, 413, 431 and 505 the connection is closed (lingering: our
   side is shut down first and the rest of what the client sends is read and dropped
   for up to a second, so the client sees the answer and not a reset); after 403 and
   404 the request was read in full, so a keep-alive connection goes on.

   Options (SECONDS: fractions allowed, 0 for never; a bad value: usage, exit 2):
     --idle-timeout SECONDS    a connection with no request for this long (a new
                               one that sends nothing, or a keep-alive one between
                               requests) is closed; also bounds each write
                               (default 10: nginx's keepalive_timeout is 75, Apache's
                               KeepAliveTimeout 5)
     --header-timeout SECONDS  a request whose head is not complete this long after
                               its first byte is dropped, however it trickles in:
                               slowloris (default 5: nginx's client_header_timeout
                               is 60)
     --max-conns N             connections at once; above it a new one is accepted,
                               answered 503 with Connection: close, and closed at
                               once (as nginx's limit_conn), so the server never
                               stops answering (default 10000); global, over every
                               thread (a shared atomic count, once per connection)
     --threads N               N shards (default 1; 0: one per core), each a runtime
                               on a thread of its own (an async_group) with its own
                               listener on PORT (SO_REUSEPORT: the kernel spreads the
                               connections, as nginx's worker_processes with
                               reuseport), its own connections, acceptor and
                               shutdown; nothing shared per request. With 1, no group:
                               one runtime on the main thread
   The environment may set them too, in milliseconds (the options win; a bad value:
   usage, exit 2): HTTPD_IDLE_MS, HTTPD_HEADER_MS (1..86400000), HTTPD_MAX_CONN, and
   HTTPD_GRACE_MS, at SIGINT/SIGTERM how long requests in flight may take before the
   rest is aborted (default 2000).

   Design. One task per connection, spawned into a JoinSet. Each has a fixed
   read buffer (16 KB: the 8 KB head limit plus room for pipelined requests) and
   a 16 KB write buffer, both malloc'd (not zeroed: idle connections touch little
   memory). The parser, http_parse below, is a pure function over the bytes in
   place: no copy, no allocation. The responses of every complete request in the
   buffer are appended to the write buffer (the Hello response is prebuilt) and
   sent with one write_all. Files are read with plain open/read on the loop's
   thread: meant for small static files in the page cache (a slow disk would stall
   every connection; async_file_read on the blocking pool is the way out). A file
   that does not fit the write buffer's free room is streamed through it in 16 KB
   pieces. Paths: percent-decoded, `..` segments and NUL refused, then realpath()
   must land inside ROOT (which also refuses symlinks that point outside).

   Shutdown (async_shutdown_*): SIGINT or SIGTERM cancels the root token; the
   acceptor closes the listener and aborts the connections that sit idle between
   requests; the others finish the requests they have and close; after the grace
   period the rest are aborted (their cleanup closes the socket) and the process
   exits 0. The acceptor is the one of echo, chat and proxy: it accepts into its own
   frame and hands the socket to a new connection task with async_io_move;
   EMFILE/ENFILE/ENOBUFS/ENOMEM (or no memory for the task): say it once, wait 50 ms and
   go on. Over the cap, the 503 is written straight to the new socket (its buffer is
   empty, so it takes it at once), our side is shut and the socket closed: no task, no
   buffer. With --threads, each shard has its own async_shutdown subscribed to the
   signals and drains its own connections; the main task on runtime 0 waits for every
   shard's end (a join handle each), then the group stops and its threads are joined.

   Tests and the fuzzers include this file with HTTPD_NO_MAIN defined: they get the
   parser (http_parse, http_path_decode), the request handler (conn_respond: the
   answer to one parsed request, into a connection's write buffer, files under
   srv.root_dir) and async.h, without the server (the connection task, the acceptor,
   main). */
#ifdef __linux__
#define _GNU_SOURCE
#define ASYNC_USE_EPOLL                 /* thousands of mostly idle connections */
#else
#define _XOPEN_SOURCE 700               /* realpath */
#endif
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _WIN32
/* Windows (mingw-w64, MSVC): sockets are Winsock's (async.h includes it); files are the
   C library's descriptors, binary and not inherited; realpath is _fullpath, which
   resolves no symbolic links (the check that the path stays under ROOT holds all the
   same), and a path with '\' or ':' in it (another separator, a drive, a stream)
   is not served. */
#include <winsock2.h>
#include <windows.h>
#include <signal.h>
#define HTTPD_OPEN_FLAGS (O_RDONLY | O_BINARY | O_NOINHERIT)
static char *httpd_realpath(const char *path, char *out) {
    char *p = _fullpath(out, path, PATH_MAX);
    for (; p && *p; p++)
        if (*p == '\\') *p = '/';
    return p ? out : NULL;
}
#define realpath httpd_realpath
#ifndef HTTPD_NO_MAIN
static const char *httpd_strsignal(int signo) {
    return signo == SIGINT ? "Interrupt" : signo == SIGTERM ? "Terminated" : "Signal";
}
#define strsignal httpd_strsignal
#endif
#else
#include <sys/resource.h>
#include <sys/socket.h>
#define HTTPD_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
#endif

/* ==== the parser: a pure function, no runtime ====================================== */

#define HTTP_MAX_HEAD 8192              /* request line + headers + the empty line */

enum { HTTP_GET = 1, HTTP_HEAD = 2, HTTP_OTHER = 3 };

/* A parsed request head. Every pointer points into the parsed buffer. */
typedef struct {
    const char *method, *target, *path, *host;
    size_t method_len, target_len, path_len, host_len;
    int meth;                           /* HTTP_GET, HTTP_HEAD or HTTP_OTHER */
    int minor;                          /* HTTP/1.minor: 0 or 1 */
    int keep_alive;                     /* another request may follow on the connection */
    int has_host, has_length, has_te;   /* has_te: Transfer-Encoding (a body follows) */
    unsigned long long content_length;
    int nheaders;
} http_req;

/* Byte classes, one table lookup per byte: 1 tchar of RFC 9110 (a method or a
   header name), 2 never in a line of a head (controls but HTAB, DEL), 4 never in
   a request line (any control, DEL, bytes above 0x7e). */
static const unsigned char http_class[256] = {
    6,6,6,6,6,6,6,6,6,4,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,
    0,1,0,1,1,1,1,1,0,0,1,1,0,1,1,0,1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,0,
    0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,0,0,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,1,0,1,6,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
};

static int http_tchar(unsigned char c) { return http_class[c] & 1; }

/* Case-insensitive comparison of n bytes with a lowercase word. */
static int http_ieq(const char *s, size_t n, const char *lower) {
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (!lower[i] || c != (unsigned char)lower[i]) return 0;
    }
    return lower[n] == 0;
}

/* The index of the first byte no line may hold (a request line is stricter), or
   n. A CR may only end a line: callers strip that one first. */
static size_t http_bad_byte(const char *s, size_t n, int request_line) {
    const unsigned char bad = request_line ? 4 : 2;
    size_t i;
    for (i = 0; i < n; i++)
        if (http_class[(unsigned char)s[i]] & bad) return i;
    return n;
}

static int http_request_line(const char *s, size_t n, http_req *r) {
    const char *sp1, *sp2, *v;
    size_t vlen, i;
    sp1 = memchr(s, ' ', n);
    if (!sp1 || sp1 == s) return -400;
    for (i = 0; s + i < sp1; i++)
        if (!http_tchar((unsigned char)s[i])) return -400;
    r->method = s;
    r->method_len = (size_t)(sp1 - s);
    if (r->method_len == 3 && memcmp(s, "GET", 3) == 0) r->meth = HTTP_GET;
    else if (r->method_len == 4 && memcmp(s, "HEAD", 4) == 0) r->meth = HTTP_HEAD;
    else r->meth = HTTP_OTHER;
    sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s));
    if (!sp2 || sp2 == sp1 + 1) return -400;
    r->target = sp1 + 1;
    r->target_len = (size_t)(sp2 - r->target);
    v = sp2 + 1;
    vlen = n - (size_t)(v - s);
    /* exactly HTTP/D.D: a second space or any other shape is a syntax error */
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9')
        return -400;
    if (v[5] != '1' || v[7] > '1') return -505;
    r->minor = v[7] - '0';
    /* origin-form "/path?query", or absolute-form "http://host/path" (RFC 9112 3.2.2) */
    r->path = r->target;
    r->path_len = r->target_len;
    if (r->target_len >= 7 && http_ieq(r->target, 7, "http://")) {
        const char *p = r->target + 7, *end = r->target + r->target_len;
        while (p < end && *p != '/' && *p != '?') p++;
        if (p == r->target + 7) return -400;
        if (p == end || *p != '/') return -400;     /* keep it simple: a path is needed */
        r->path = p;
        r->path_len = (size_t)(end - p);
    } else if (r->target[0] != '/') {
        return -400;                    /* "*" and authority-form: not for GET or HEAD */
    }
    for (i = 0; i < r->path_len; i++)
        if (r->path[i] == '?' || r->path[i] == '#') break;
    r->path_len = i;
    return 0;
}

/* One header line (without its line end). */
static int http_header_line(const char *s, size_t n, http_req *r) {
    const char *colon, *val, *end;
    size_t nlen, i;
    if (s[0] == ' ' || s[0] == '\t') return -400;   /* obsolete line folding */
    colon = memchr(s, ':', n);
    if (!colon || colon == s) return -400;
    nlen = (size_t)(colon - s);
    for (i = 0; i < nlen; i++)
        if (!http_tchar((unsigned char)s[i])) return -400;  /* also "Name :" */
    val = colon + 1;
    end = s + n;
    while (val < end && (*val == ' ' || *val == '\t')) val++;
    while (end > val && (end[-1] == ' ' || end[-1] == '\t')) end--;
    r->nheaders++;
    switch (nlen) {
    case 4:
        if (http_ieq(s, 4, "host")) {
            if (r->has_host) return -400;           /* RFC 9112 3.2 */
            r->has_host = 1;
            r->host = val;
            r->host_len = (size_t)(end - val);
        }
        break;
    case 10:
        if (http_ieq(s, 10, "connection")) {
            const char *p = val;
            while (p < end) {           /* a comma-separated list of options */
                const char *q = p, *e;
                while (q < end && *q != ',') q++;
                e = q;
                while (p < e && (*p == ' ' || *p == '\t')) p++;
                while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
                if (http_ieq(p, (size_t)(e - p), "close")) r->keep_alive |= 1;
                else if (http_ieq(p, (size_t)(e - p), "keep-alive")) r->keep_alive |= 2;
                p = q + (q < end);
            }
        }
        break;
    case 14:
        if (http_ieq(s, 14, "content-length")) {
            unsigned long long v = 0;
            const char *p = val;
            if (p == end) return -400;
            for (; p < end; p++) {
                unsigned d = (unsigned)(unsigned char)*p - '0';
                if (d > 9) return -400;             /* also "5, 5": refused */
                if (v > (ULLONG_MAX - d) / 10) return -400;
                v = v * 10 + d;
            }
            if (r->has_length && v != r->content_length) return -400;
            r->has_length = 1;
            r->content_length = v;
        }
        break;
    case 17:
        if (http_ieq(s, 17, "transfer-encoding")) r->has_te = 1;
        break;
    default:
        break;
    }
    return 0;
}

/* Parses the request head at the start of buf[0..len).
   Returns the bytes of the head (> 0: request line, headers and the empty line;
   a body is not included) with *req filled, 0 when more bytes are needed, or a
   negative HTTP status: -400 bad syntax, -431 head over HTTP_MAX_HEAD bytes,
   -505 an HTTP version other than 1.0 and 1.1.
   The outcome depends only on the bytes up to where it is decided: a prefix of
   the input gives 0 or the same outcome as the whole. Empty lines before the
   request line are skipped (RFC 9112 2.2); a bare LF ends a line as CRLF does. */
int http_parse(const char *buf, size_t len, http_req *req) {
    size_t pos = 0;
    int line = 0, rc;
    memset(req, 0, sizeof *req);
    for (;;) {
        size_t room = len - pos, n, bad;
        const char *s = buf + pos, *nl;
        if (len > HTTP_MAX_HEAD + 1)    /* look no further than the limit */
            room = pos > HTTP_MAX_HEAD ? 0 : HTTP_MAX_HEAD + 1 - pos;
        nl = room ? memchr(s, '\n', room) : NULL;
        if (!nl) {                      /* an incomplete line: junk can be seen already */
            n = (len > HTTP_MAX_HEAD + 1 ? HTTP_MAX_HEAD + 1 : len) - pos;
            if (n && s[n - 1] == '\r') n--;
            if (http_bad_byte(s, n, line == 0) < n) return -400;
            return len > HTTP_MAX_HEAD ? -431 : 0;
        }
        n = (size_t)(nl - s);
        if (n && s[n - 1] == '\r') n--;
        bad = http_bad_byte(s, n, line == 0);
        if (bad < n) return -400;
        pos += (size_t)(nl - s) + 1;
        if (pos > HTTP_MAX_HEAD) return -431;
        if (n == 0) {
            if (line == 0) continue;    /* empty lines before the request */
            break;                      /* the end of the head */
        }
        rc = line == 0 ? http_request_line(s, n, req) : http_header_line(s, n, req);
        if (rc < 0) return rc;
        line++;
    }
    if (req->minor == 1 && !req->has_host) return -400;
    if (req->has_te && req->has_length) return -400;    /* request smuggling */
    /* Connection options seen: 1 close, 2 keep-alive; close wins */
    if (req->keep_alive & 1) req->keep_alive = 0;
    else req->keep_alive = req->minor == 1 || (req->keep_alive & 2);
    return (int)pos;
}

/* Percent-decodes the path p[0..n) into out (cap bytes, NUL-terminated).
   Returns its length, -400 (not starting with '/', a bad escape, a NUL), -403
   (a ".." segment, however encoded) or -414 (longer than cap - 1). */
int http_path_decode(const char *p, size_t n, char *out, size_t cap) {
    size_t i, o = 0, seg = 0;
    if (!n || p[0] != '/' || cap == 0) return -400;
    for (i = 0; i <= n; i++) {
        int c;
        if (i == n) {
            c = '/';                    /* closes the last segment */
        } else if (p[i] == '%') {
            int hi, lo;
            if (n - i < 3) return -400;
            hi = p[i + 1];
            lo = p[i + 2];
            hi = hi >= '0' && hi <= '9' ? hi - '0' : (hi | 32) >= 'a' && (hi | 32) <= 'f'
                 ? (hi | 32) - 'a' + 10 : -1;
            lo = lo >= '0' && lo <= '9' ? lo - '0' : (lo | 32) >= 'a' && (lo | 32) <= 'f'
                 ? (lo | 32) - 'a' + 10 : -1;
            if (hi < 0 || lo < 0) return -400;
            c = hi * 16 + lo;
            if (c == 0) return -400;
            i += 2;
        } else {
            c = (unsigned char)p[i];
            if (c == 0) return -400;
        }
        if (c == '/') {
            if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') return -403;
            if (i == n) break;
            seg = o + 1;
        }
        if (o + 1 >= cap) return -414;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return (int)o;
}

/* ==== the request handler: the answer to one parsed request ========================= */

enum {
    RBUF = 16384,                       /* > HTTP_MAX_HEAD: a full buffer always parses */
    WBUF = 16384,
    WROOM = 1024,                       /* free room needed to answer one more request */
    BACKOFF_MS = 50                     /* after an accept error: the listener stays ready */
};

typedef struct conn conn;
typedef struct shard shard;

/* The configuration (set before any runtime runs, read-only after) and the count of
   connections over every shard. */
static struct {
    int max_conn, nshards;
    long nconn;                         /* every shard's: atomic */
    async_time idle, header, grace;
    const char *root_dir;               /* realpath of ROOT, or NULL */
    size_t root_len;
} srv;

/* ---- responses ---------------------------------------------------------------------- */

static const char *http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* The Hello responses, built once: [HEAD?][connection header: none, keep-alive, close] */
static char hello[2][3][192];
static size_t hello_len[2][3];
static const char *const conn_hdr[3] = {"", "Connection: keep-alive\r\n",
                                        "Connection: close\r\n"};

static void build_hello(void) {
    int h, k;
    for (h = 0; h < 2; h++)
        for (k = 0; k < 3; k++)
            hello_len[h][k] = (size_t)snprintf(hello[h][k], sizeof hello[h][k],
                "HTTP/1.1 200 OK\r\nServer: async.h-httpd\r\nContent-Type: text/plain\r\n"
                "Content-Length: 13\r\n%s\r\n%s", conn_hdr[k], h ? "" : "Hello, World!");
}

static const char *content_type(const char *path) {
    static const char *const types[][2] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"}, {"css", "text/css"},
        {"js", "text/javascript"}, {"json", "application/json"},
        {"xml", "application/xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
        {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
        {"webp", "image/webp"}, {"ico", "image/x-icon"}, {"wasm", "application/wasm"},
        {"pdf", "application/pdf"}, {"woff2", "font/woff2"}};
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t i;
    if (dot && (!slash || dot > slash))
        for (i = 0; i < sizeof types / sizeof types[0]; i++)
            if (http_ieq(dot + 1, strlen(dot + 1), types[i][0])) return types[i][1];
    return "application/octet-stream";
}

/* ---- a connection ------------------------------------------------------------------- */

struct conn {
    async_task task;
    async_io io;
    async_waiter w;
    async_timer timer;
    conn *prev, *next;                  /* sh->live */
    shard *sh;                          /* the shard it runs on */
    char *rbuf, *wbuf;                  /* one malloc'd block */
    size_t pos, len, wlen;              /* parsed up to pos, read up to len; to write */
    async_time start, last_read;        /* when the pending request began; last read */
    async_time deadline;                /* of the read in progress */
    long long file_left;                /* bytes of file_fd still to send */
    int file_fd;                        /* >= 0 while a file is streamed */
    int linked, counted, idle, closing, linger, need, rc, n;
};

static int conn_error(conn *c, int status, int head) {
    int n = snprintf(c->wbuf + c->wlen, WBUF - c->wlen,
                     "HTTP/1.1 %d %s\r\nServer: async.h-httpd\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %u\r\n%sConnection: close\r\n\r\n%s%s",
                     status, http_reason(status), (unsigned)strlen(http_reason(status)) + 1,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     head ? "" : http_reason(status), head ? "" : "\n");
    if (n > 0 && (size_t)n < WBUF - c->wlen) c->wlen += (size_t)n;
    c->closing = c->linger = 1;
    return 1;
}

/* 403/404 on a well-formed request: the connection may go on. */
static void conn_not_found(conn *c, int status, const http_req *r) {
    const char *reason = http_reason(status);
    int n = snprintf(c->wbuf + c->wlen, WBUF - c->wlen,
                     "HTTP/1.1 %d %s\r\nServer: async.h-httpd\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %u\r\n%s\r\n%s%s", status, reason,
                     (unsigned)strlen(reason) + 1,
                     conn_hdr[!r->keep_alive ? 2 : r->minor == 0 ? 1 : 0],
                     r->meth == HTTP_HEAD ? "" : reason, r->meth == HTTP_HEAD ? "" : "\n");
    if (n > 0 && (size_t)n < WBUF - c->wlen) c->wlen += (size_t)n;
}

/* Opens ROOT + path after the checks; 0 and the descriptor and size, or a status. */
static int open_under_root(const char *path, int *fd, long long *size) {
    char full[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (srv.root_len + strlen(path) + 1 > sizeof full) return 414;
    memcpy(full, srv.root_dir, srv.root_len);
    strcpy(full + srv.root_len, path);
#ifdef _WIN32
    if (strpbrk(path, "\\:")) return 404;
#endif
    if (!realpath(full, real)) return errno == EACCES ? 403 : 404;
    /* inside ROOT after every symlink is resolved, and not ROOT itself */
    if (strncmp(real, srv.root_dir, srv.root_len) != 0 || real[srv.root_len] != '/')
        return 404;
    *fd = open(real, HTTPD_OPEN_FLAGS);
#ifdef _WIN32                           /* a directory there: EACCES */
    if (*fd < 0 && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) return 404;
#endif
    if (*fd < 0) return errno == EACCES ? 403 : 404;
    if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {      /* directories: 404 */
        close(*fd);
        *fd = -1;
        return 404;
    }
    *size = (long long)st.st_size;
    return 0;
}

/* Appends the answer to one parsed request (the caller left WROOM bytes free).
   A file that does not fit is left in c->file_fd for the caller to stream. */
static void conn_respond(conn *c, const http_req *r) {
    char path[1024];
    int rc, fd = -1, k, head = r->meth == HTTP_HEAD;
    long long size = 0;
    if (r->meth == HTTP_OTHER) {
        conn_error(c, 405, 0);
        return;
    }
    if (r->content_length > 0 || r->has_te) {
        conn_error(c, 413, head);       /* no bodies here: and we would have to skip it */
        return;
    }
    rc = http_path_decode(r->path, r->path_len, path, sizeof path);
    if (rc < 0) {
        if (rc == -403) conn_not_found(c, 403, r);
        else conn_error(c, -rc, head);
        if (!r->keep_alive) c->closing = 1;
        return;
    }
    k = !r->keep_alive ? 2 : r->minor == 0 ? 1 : 0;
    if (!r->keep_alive) c->closing = 1;
    if (rc == 1) {                      /* "/" */
        memcpy(c->wbuf + c->wlen, hello[head][k], hello_len[head][k]);
        c->wlen += hello_len[head][k];
        return;
    }
    if (!srv.root_dir) {
        conn_not_found(c, 404, r);
        return;
    }
    rc = open_under_root(path, &fd, &size);
    if (rc) {
        if (rc == 403 || rc == 404) conn_not_found(c, rc, r);
        else conn_error(c, rc, head);
        return;
    }
    rc = snprintf(c->wbuf + c->wlen, WBUF - c->wlen,
                  "HTTP/1.1 200 OK\r\nServer: async.h-httpd\r\nContent-Type: %s\r\n"
                  "Content-Length: %lld\r\n%s\r\n", content_type(path), size, conn_hdr[k]);
    c->wlen += (size_t)rc;
    if (head || size == 0) {
        close(fd);
        return;
    }
    if ((long long)(WBUF - c->wlen) >= size) {         /* small: inline */
        long long got = 0;
        while (got < size) {
            ssize_t n = read(fd, c->wbuf + c->wlen + got, (size_t)(size - got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += n;
        }
        c->wlen += (size_t)got;
        close(fd);
        if (got < size) c->closing = 1;     /* shrank under us: the length lies */
        return;
    }
    c->file_fd = fd;
    c->file_left = size;
}

#ifndef HTTPD_NO_MAIN
/* ==== the server =================================================================== */

/* ---- the acceptor's frame, and a shard ---------------------------------------------- */

typedef struct {
    async_task task;
    shard *sh;                          /* the shard it accepts for */
    async_io lis, sock;                 /* sock: accepted, not handed over yet */
    async_addr peer;
    async_select sel;
    async_waiter w[3];
    async_timer timer;
    async_task *done;
    int rc[3], result, backoff_logged, full_logged;
} acceptor_frame;

typedef struct {
    async_task task;
    shard *sh;
    int rc;
} shard_frame;

/* One runtime (on a thread of its own with --threads), its listener and acceptor, its
   connections, its shutdown. */
struct shard {
    async_runtime *rt;
    async_joinset conns;
    async_cancel_token root;
    async_shutdown sd;
    conn *live;                         /* every connection, for the shutdown */
    int stopping, index, inited;
    long accepted, refused;
    acceptor_frame acc;
    shard_frame main;                   /* its acceptor, then its shutdown */
    async_join_handle h;                /* main's, with --threads */
};

/* A place under the cap (over every shard) for a new connection: 1, or 0 at the cap. */
static int conn_claim(void) {
    if (__atomic_add_fetch(&srv.nconn, 1, __ATOMIC_RELAXED) <= srv.max_conn) return 1;
    __atomic_sub_fetch(&srv.nconn, 1, __ATOMIC_RELAXED);
    return 0;
}

static void conn_release(void) {
    __atomic_sub_fetch(&srv.nconn, 1, __ATOMIC_RELAXED);
}

static void conn_unlink(conn *c) {
    if (c->linked) {
        if (c->prev) c->prev->next = c->next;
        else c->sh->live = c->next;
        if (c->next) c->next->prev = c->prev;
        c->linked = 0;
    }
    if (c->counted) conn_release();
    c->counted = 0;
}

/* t + d, where d may be ASYNC_TIME_NEVER (a timeout of 0: never). */
static async_time after(async_time t, async_time d) {
    return d > ASYNC_TIME_NEVER - t ? ASYNC_TIME_NEVER : t + d;
}

static int conn_run(async_task *t) {
    conn *c = (conn *)t;
    ASYNC_BEGIN(t);
    for (;;) {
        /* answer every complete request in the buffer, while the answers fit */
        c->need = 0;
        while (!c->closing && c->file_fd < 0 && WBUF - c->wlen >= WROOM) {
            http_req req;
            if (c->pos == c->len) {
                c->need = 1;
                break;
            }
            c->n = http_parse(c->rbuf + c->pos, c->len - c->pos, &req);
            if (c->n == 0) {
                c->need = 1;
                break;
            }
            if (c->n < 0) {
                conn_error(c, -c->n, 0);
                break;
            }
            c->pos += (size_t)c->n;
            conn_respond(c, &req);
        }
        if (c->wlen) {
            ASYNC_AWAIT_TIMEOUT(c->rc, &c->timer, srv.idle,
                                async_io_write_all(t, &c->io, &c->w, c->wbuf, c->wlen));
            if (c->rc < 0) break;
            c->wlen = 0;
        }
        while (c->file_fd >= 0) {       /* a big file: through the write buffer */
            {
                size_t want = c->file_left < WBUF ? (size_t)c->file_left : WBUF;
                ssize_t n;
                do n = read(c->file_fd, c->wbuf, want); while (n < 0 && errno == EINTR);
                if (n <= 0) {           /* shrank under us: the length would lie */
                    close(c->file_fd);
                    c->file_fd = -1;
                    c->closing = 1;
                    break;
                }
                c->wlen = (size_t)n;
                c->file_left -= n;
            }
            ASYNC_AWAIT_TIMEOUT(c->rc, &c->timer, srv.idle,
                                async_io_write_all(t, &c->io, &c->w, c->wbuf, c->wlen));
            c->wlen = 0;
            if (c->rc < 0 || c->file_left == 0) {
                close(c->file_fd);
                c->file_fd = -1;
            }
            if (c->rc < 0) ASYNC_RETURN(c->rc);
        }
        if (c->closing) break;
        if (!c->need) continue;         /* more complete requests wait in the buffer */
        /* keep the partial request at the front; it began no later than the last read */
        if (c->pos) {
            c->len -= c->pos;
            if (c->len) {
                memmove(c->rbuf, c->rbuf + c->pos, c->len);
                c->start = c->last_read;
            }
            c->pos = 0;
        }
        /* shutting down: a request half in is still served, no new one is waited for */
        if (c->sh->stopping && c->len == 0) break;
        c->idle = c->len == 0;          /* between requests: the shutdown may abort us */
        c->deadline = c->len ? after(c->start, srv.header)
                             : after(async_time_now(async_task_runtime(t)), srv.idle);
        ASYNC_AWAIT_TIMEOUT_UNTIL(c->n, &c->timer, c->deadline,
                                  async_io_read(t, &c->io, &c->w, c->rbuf + c->len,
                                                RBUF - c->len));
        c->idle = 0;
        if (c->n <= 0) ASYNC_RETURN(0); /* end of file, reset, idle or header timeout */
        c->last_read = async_time_now(async_task_runtime(t));
        if (c->len == 0) c->start = c->last_read;
        c->len += (size_t)c->n;
    }
    if (c->linger) {
        /* Lingering close: a close with unread input sends a reset, which can destroy
           the answer before the client reads it. Half-close, drop what still comes. */
        async_io_shutdown(&c->io, ASYNC_IO_WRITE);
        c->start = async_time_now(async_task_runtime(t)) + ASYNC_SEC(1);
        for (c->n = 0; c->n < 16; c->n++) {
            ASYNC_AWAIT_TIMEOUT_UNTIL(c->rc, &c->timer, c->start,
                                      async_io_read(t, &c->io, &c->w, c->rbuf, RBUF));
            if (c->rc <= 0) break;
        }
    }
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    if (c->file_fd >= 0) close(c->file_fd);
    c->file_fd = -1;
    async_io_close(&c->io);
    free(c->rbuf);
    c->rbuf = c->wbuf = NULL;
    conn_unlink(c);
    ASYNC_END(0);
}

/* ---- the acceptor (the same in echo, chat, proxy and httpd) ------------------------ */

/* Over the cap: a 503 (as nginx's limit_conn), best effort (a new socket's buffer
   takes it at once), our side shut, what the client sent already read (a close with
   unread input sends a reset, which can destroy the answer on its way), and the
   close. No task and no buffer: refusing costs nothing, however many come. */
static void refuse(shard *sh, async_io *sock) {
    static const char resp[] =
        "HTTP/1.1 503 Service Unavailable\r\nServer: async.h-httpd\r\n"
        "Content-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\n"
        "Service Unavailable\n";
    char sink[512];
    int fd = async_io_fd(sock), i;
    (void)send(fd, resp, sizeof resp - 1, 0);   /* no SIGPIPE: async.h ignores it */
    (void)async_io_shutdown(sock, ASYNC_IO_WRITE);
    for (i = 0; i < 8 && recv(fd, sink, sizeof sink, 0) > 0; i++) continue;
    async_io_close(sock);
    sh->refused++;
}

/* A task for the connection accepted into *sock, which moves into its frame, with its
   buffers, on the live list: 0, or an error and sock is closed (ASYNC_ENOMEM: no task
   or buffers; a failed move, which epoll_ctl can make, leaves the task no socket: it
   ends at once). Nothing runs before we return: the new frame is ours to fill. The
   place under the cap the caller claimed goes with the task (conn_unlink gives it
   back), or back at once. */
static int conn_start(shard *sh, async_io *sock, const async_addr *peer) {
    async_task *h;
    conn *c;
    char *buf = malloc(RBUF + WBUF);
    int rc;
    (void)peer;
    if (!buf || async_joinset_spawn_alloc(&sh->conns, conn_run, sizeof(conn), "conn",
                                          &h) < 0) {
        free(buf);
        async_io_close(sock);
        conn_release();
        return ASYNC_ENOMEM;
    }
    c = (conn *)h;
    c->sh = sh;
    c->counted = 1;
    c->file_fd = -1;
    c->rbuf = buf;
    c->wbuf = buf + RBUF;
    if ((rc = async_io_move(&c->io, sock)) < 0) {
        async_io_close(sock);           /* the task finds its io closed and ends */
        return rc;
    }
    c->linked = 1;
    c->next = sh->live;
    if (sh->live) sh->live->prev = c;
    sh->live = c;
    sh->accepted++;
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
                                async_sock_accept(t, &f->lis, &f->w[2], &f->sock, &f->peer));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;  /* shutdown: stop accepting */
        if (f->sel.winner != 2) continue;       /* a connection was reaped */
        if (f->rc[2] == 0 && !conn_claim()) {
            refuse(f->sh, &f->sock);
            if (!f->full_logged++)
                fprintf(stderr, "httpd: %d connections, the cap: answering 503\n",
                        srv.max_conn);
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
                fprintf(stderr, "httpd: accept: %s, backing off\n", async_strerror(f->rc[2]));
        } else {
            fprintf(stderr, "httpd: accept: %s\n", async_strerror(f->rc[2]));
        }
        ASYNC_AWAIT(f->rc[0], async_time_sleep(t, &f->timer, ASYNC_MS(BACKOFF_MS)));
    }
    ASYNC_CLEANUP();
    async_io_close(&f->sock);
    async_io_close(&f->lis);            /* new clients are refused from now */
    /* connections idle between requests end now, the others finish the requests they
       have (stopping) or are aborted after the grace period */
    f->sh->stopping = 1;
    {
        conn *c;
        for (c = f->sh->live; c; c = c->next)
            if (c->idle) async_task_abort(&c->task);
    }
    ASYNC_END(0);
}

/* ---- a shard's main, and the group's ------------------------------------------------ */

/* The shard's acceptor, then its shutdown: stop accepting, drain, abort the rest. */
static int shard_run(async_task *t) {
    shard_frame *f = (shard_frame *)t;
    shard *sh = f->sh;
    char tag[64] = "";
    ASYNC_BEGIN(t);
    sh->acc.sh = sh;
    async_task_spawn(async_task_runtime(t), &sh->acc.task, acceptor_run, "acceptor");
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &sh->sd));
    sh = f->sh;
    if (srv.nshards > 1)
        snprintf(tag, sizeof tag, " (shard %d of %d, %ld accepted)", sh->index, srv.nshards,
                 sh->accepted);
    fprintf(stderr, "httpd: shutting down (%s): %d connection(s) finished, %d aborted%s\n",
            sh->sd.signo ? strsignal(sh->sd.signo) : "request", sh->sd.drained, f->rc, tag);
    async_task_abort(&sh->acc.task);    /* it has seen the token; nothing if it ended */
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->sh->acc.task));
    ASYNC_END(0);
}

static async_group group;               /* with --threads N > 1 */
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
    for (f->i = 0; f->i < srv.nshards; f->i++) {
        shards[f->i].main.sh = &shards[f->i];
        f->rc = async_group_spawn(&group, f->i, &shards[f->i].h, &shards[f->i].main.task,
                                  shard_run, "shard");
        if (f->rc < 0) {                /* only once the group stops: not here */
            fprintf(stderr, "httpd: async_group_spawn: %s\n", async_strerror(f->rc));
            async_group_stop(&group);
            ASYNC_RETURN(1);
        }
    }
    for (f->i = 0; f->i < srv.nshards; f->i++) {
        ASYNC_AWAIT(f->rc, async_join_handle_wait(t, &shards[f->i].h, &f->w));
        if (f->rc != 0) f->result = 1;
    }
    async_group_stop(&group);                   /* every thread's loop ends: main joins */
    ASYNC_END(f->result);
}

/* A shard on rt: listening on *a (reuseport with --threads), its shutdown subscribed
   to the signals: 0, or the error said on stderr. */
static int shard_init(shard *sh, async_runtime *rt, int index, const async_addr *a) {
    async_listen_opts o;
    char text[64];
    int rc;
    memset(&o, 0, sizeof o);
    o.reuseport = srv.nshards > 1;
    sh->rt = rt;
    sh->index = index;
    if ((rc = async_sock_listen(rt, &sh->acc.lis, a, &o)) < 0) {
        async_addr_format(a, text, sizeof text);
        fprintf(stderr, "httpd: listen on %s: %s\n", text, async_strerror(rc));
        return rc;
    }
    async_joinset_init(&sh->conns, rt);
    async_cancel_token_init(&sh->root);
    sh->inited = 1;
    /* signals are ours before anyone learns the port: a SIGTERM then is a shutdown */
    if ((rc = async_shutdown_init(&sh->sd, rt, &sh->root, &sh->conns, NULL, srv.grace)) < 0) {
        fprintf(stderr, "httpd: signals: %s\n", async_strerror(rc));
        return rc;
    }
    sh->inited = 2;
    return 0;
}

/* What shard_init made (the tasks are gone: their runtime ended or is destroyed). */
static void shard_fini(shard *sh) {
    async_io_close(&sh->acc.lis);
    if (sh->inited >= 2) async_shutdown_destroy(&sh->sd);
    if (sh->inited >= 1) async_joinset_destroy(&sh->conns);
    if (sh->inited >= 1) async_cancel_token_destroy(&sh->root);
    sh->inited = 0;
}

/* A setting from the environment, in [min, max], def when unset: 0, or -1 (said). */
static int env_num(const char *name, long def, long min, long max, long *out) {
    const char *s = getenv(name);
    char *end;
    long v;
    *out = def;
    if (!s || !*s) return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *s < '0' || *s > '9' || *end || v < min || v > max) {
        fprintf(stderr, "httpd: bad %s=%s (want %ld..%ld)\n", name, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

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

static int usage(void) {
    fprintf(stderr,
        "usage: httpd [--idle-timeout SECONDS] [--header-timeout SECONDS] [--max-conns N]\n"
        "             [--threads N] PORT [ROOT]\n"
        "  PORT                      0..65535; 0: any free port\n"
        "  ROOT                      serve the files under this directory\n"
        "  --idle-timeout SECONDS    close a connection with no request for this long;\n"
        "                            also bounds each write (default 10)\n"
        "  --header-timeout SECONDS  drop a request whose head is not complete this long\n"
        "                            after its first byte: slowloris (default 5)\n"
        "  --max-conns N             connections at once, over every thread; past it a\n"
        "                            new one gets 503 and is closed (default 10000)\n"
        "  --threads N               N runtimes on N threads, each listening on PORT\n"
        "                            (SO_REUSEPORT); 0: one per core (default 1)\n"
        "  SECONDS: fractions allowed, 0 for never. The environment may set them too, in\n"
        "  milliseconds (the options win): HTTPD_IDLE_MS, HTTPD_HEADER_MS, HTTPD_MAX_CONN,\n"
        "  and HTTPD_GRACE_MS, how long requests in flight may take at SIGTERM (2000)\n");
    return 2;
}

int main(int argc, char **argv) {
    static async_runtime rt;            /* --threads 1: the only runtime */
    static shard one;
    static group_frame gm;
    static char root_real[PATH_MAX];
    const char *pos[2] = {NULL, NULL}, *v;
    char text[64], *end;
    async_addr a, bound;
    long port, idle_ms, header_ms, grace_ms, max_conn, threads = 1;
    int i, npos = 0, rc;
    if (env_num("HTTPD_IDLE_MS", 10000, 1, 86400000L, &idle_ms) < 0 ||
        env_num("HTTPD_HEADER_MS", 5000, 1, 86400000L, &header_ms) < 0 ||
        env_num("HTTPD_GRACE_MS", 2000, 0, 86400000L, &grace_ms) < 0 ||
        env_num("HTTPD_MAX_CONN", 10000, 1, 1000000L, &max_conn) < 0)
        return usage();
    srv.idle = ASYNC_MS(idle_ms);
    srv.header = ASYNC_MS(header_ms);
    srv.grace = ASYNC_MS(grace_ms);
    for (i = 1; i < argc; i++) {
        if (opt_is(argc, argv, &i, "--idle-timeout", &v)) {
            if (parse_seconds(v, &srv.idle) < 0) return usage();
        } else if (opt_is(argc, argv, &i, "--header-timeout", &v)) {
            if (parse_seconds(v, &srv.header) < 0) return usage();
        } else if (opt_is(argc, argv, &i, "--max-conns", &v)) {
            if (parse_count(v, 1, 1000000, &max_conn) < 0) return usage();
        } else if (opt_is(argc, argv, &i, "--threads", &v)) {
            if (parse_count(v, 0, 1024, &threads) < 0) return usage();
        } else if (argv[i][0] == '-' || npos == 2) {
            return usage();                     /* an unknown option, or a third word */
        } else {
            pos[npos++] = argv[i];
        }
    }
    srv.max_conn = (int)max_conn;
    if (threads == 0) {                 /* one per core */
#ifdef _WIN32
        const char *np = getenv("NUMBER_OF_PROCESSORS");
        long c = np ? atol(np) : 1;
#else
        long c = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        threads = c < 1 ? 1 : c > 1024 ? 1024 : c;
    }
    srv.nshards = (int)threads;
    if (npos < 1) return usage();
    errno = 0;
    port = strtol(pos[0], &end, 10);
    if (errno || end == pos[0] || *end || port < 0 || port > 65535) return usage();
    if (pos[1]) {
        struct stat st;
        if (!realpath(pos[1], root_real) || stat(root_real, &st) < 0 ||
            !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "httpd: %s: not a directory\n", pos[1]);
            return usage();
        }
        srv.root_len = strlen(root_real);
        if (srv.root_len == 1) srv.root_len = 0;    /* ROOT "/": paths start with '/' */
        srv.root_dir = root_real;
    }
    build_hello();
#ifndef _WIN32                          /* (Windows: no such limit) */
    {
        /* a connection is a descriptor: lift the soft limit toward the cap (as nginx's
           worker_rlimit_nofile); past the hard limit, accept meets EMFILE and backs off */
        struct rlimit rl;
        rlim_t want = (rlim_t)srv.max_conn + 64;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want
                                                                              : rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
#endif

    if (srv.nshards == 1) {
        shards = &one;
        rc = async_runtime_init(&rt, NULL);
    } else {
        async_group_desc d;
        memset(&d, 0, sizeof d);
        d.threads = srv.nshards;
        shards = (shard *)calloc((size_t)srv.nshards, sizeof *shards);
        rc = shards ? async_group_init(&group, &d) : ASYNC_ENOMEM;
    }
    if (rc != 0) {
        fprintf(stderr, "httpd: runtime init failed: %s\n", async_strerror(rc));
        return 1;
    }
    snprintf(text, sizeof text, "127.0.0.1:%ld", port);
    if ((rc = async_addr_parse(&a, text)) < 0)
        fprintf(stderr, "httpd: %s: %s\n", text, async_strerror(rc));
    /* every shard listens (the first on PORT, the others on the port it got) */
    for (i = 0; rc == 0 && i < srv.nshards; i++) {
        rc = shard_init(&shards[i], srv.nshards == 1 ? &rt : async_group_runtime(&group, i),
                        i, i == 0 ? &a : &bound);
        if (rc == 0 && i == 0 && (rc = async_sock_local_addr(&shards[0].acc.lis, &bound)) < 0)
            fprintf(stderr, "httpd: listen on %s: %s\n", text, async_strerror(rc));
    }
    /* with --threads, the threads first: failing to start them is a failure at the
       startup, said before the port is (runtime 0's thread runs the group's main, and
       this one waits for them all) */
    if (rc == 0 && srv.nshards > 1 &&
        ((rc = async_group_start(&group)) < 0 ||
         (rc = async_group_spawn(&group, 0, &gm.h, &gm.task, group_run, "main")) < 0))
        fprintf(stderr, "httpd: async_group_start: %s\n", async_strerror(rc));
    if (rc == 0) {
        async_addr_format(&bound, text, sizeof text);
        printf("listening on %s\n", text);
        fflush(stdout);
        if (srv.nshards == 1) {
            one.main.sh = &one;
            rc = async_runtime_block_on(&rt, &one.main.task, shard_run, "main");
        } else {
            async_group_join(&group);
            rc = gm.result;
        }
    }
    if (srv.nshards > 1) async_group_stop(&group);     /* (main did, unless not run) */
    for (i = 0; i < srv.nshards; i++) shard_fini(&shards[i]);
    if (srv.nshards == 1) {
        async_runtime_destroy(&rt);
    } else {
        async_group_destroy(&group);
        free(shards);
    }
    return rc == 0 ? 0 : 1;
}
#endif /* HTTPD_NO_MAIN */
