/* miniredis.c - a Redis-protocol (RESP2) server on async.h: strings with expiry,
   pub/sub, pipelining, inline commands, graceful shutdown.

       miniredis PORT          (0: the kernel picks; the port is printed on stdout)

   Layout, so that tests and the fuzzer can include this file with
   MINIREDIS_NO_MAIN defined and reach each layer without sockets:
     1. the RESP parser: resp_parse(buf, len, cmd) parses one command in place
        (bytes consumed, 0 for "need more", < 0 a protocol error); it is
        resumable, so a command arriving in pieces is never re-scanned from its
        start, and every limit is checked before memory is committed
     2. the store: an open-addressing hash table (linear probing, backward-shift
        deletion, power-of-two size) of binary-safe keys and values with an
        optional expiry; its clock is a function pointer so tests set the time
     3. the executor: redis_exec(client, argc, argv, lens, out) runs one
        command and appends the reply to out; pub/sub lives here too
     4. the server: one task per connection in a JoinSet, an accept loop, an
        expiry sweeper on an async_interval, and async_shutdown for SIGINT and
        SIGTERM

   A connection reads into its own buffer, parses every complete command in it,
   appends all the replies to one output buffer and writes them with one
   async_io_write_all: a pipelined batch costs one read and one write. The buffer
   grows with the bytes that came, never with what a command claims, and a buffer
   that cannot grow closes its connection, not the server.

   Arguments point into that buffer and are not NUL-terminated: they are compared
   and printed by their length only (the bytes after one are stale data).

   Pub/sub: each subscriber has a bounded byte queue of formatted messages
   (RPUBSUB_LIMIT). PUBLISH appends to it and wakes the subscriber's task through
   an async_notify; it never waits. A subscriber whose queue is full is cut off
   at once (as Redis's client-output-buffer-limit for pubsub): it leaves its
   channels, its queue is freed and its task aborted, even in the middle of a write
   it cannot finish, so a slow reader can neither block publishers nor make the
   server grow without bound. Subscriptions are hashed on both sides: SUBSCRIBE,
   UNSUBSCRIBE and a client's exit cost O(1) per channel.

   Differences from Redis worth knowing: a null bulk ($-1) inside a request is a
   protocol error (as in Redis); a bulk's trailing CRLF is checked (Redis skips
   two bytes unread); multibulk counts above 1M are refused; inline commands
   treat a NUL byte as an ordinary character; an option is compared with all its
   bytes (Redis's strcasecmp takes "nx\0junk" for NX; the error text stops at the
   NUL as Redis's does); a byte other than '$' where a bulk should start is an
   error at once (Redis first waits for the line's CR). */
#ifdef __linux__
#define ASYNC_USE_EPOLL
#endif
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <limits.h>
#ifdef _WIN32                       /* (GetTickCount64) */
#include <winsock2.h>
#include <windows.h>
#endif

/* ==== 1. the RESP parser ================================================== */

#define RESP_MAX_BULK ((size_t)512 * 1024 * 1024)    /* Redis's proto-max-bulk-len */
#define RESP_MAX_MULTIBULK (1024 * 1024)
#define RESP_MAX_INLINE (64 * 1024)                  /* Redis's PROTO_INLINE_MAX_SIZE */

enum {
    RESP_E_MBULK_LEN = -1,      /* invalid multibulk length */
    RESP_E_BULK_LEN = -2,       /* invalid bulk length */
    RESP_E_DOLLAR = -3,         /* expected '$' */
    RESP_E_INLINE_BIG = -4,     /* too big inline request */
    RESP_E_QUOTES = -5,         /* unbalanced quotes in request */
    RESP_E_MBULK_BIG = -6,      /* too big mbulk count string */
    RESP_E_BULK_BIG = -7,       /* too big bulk count string */
    RESP_E_CRLF = -8,           /* a bulk not followed by CRLF */
    RESP_E_NOMEM = -9
};

/* One command. argv/lens are valid after resp_parse returned > 0 and point into the
   caller's buffer. The rest is resume state: zero the struct (or resp_cmd_reset)
   before the first call, and call again with the same command start (the buffer
   may have moved, its bytes must not have changed) after a 0. */
typedef struct {
    int argc;
    char **argv;
    size_t *lens;
    size_t *offs;               /* argument offsets from the command start */
    int cap;                    /* room in argv, lens, offs */
    int want;                   /* 0 idle, -1 inline in progress, > 0 multibulk count */
    int got;                    /* arguments complete so far */
    size_t pos;                 /* bytes of the command parsed (or scanned) so far */
    size_t need;                /* a hint: the command needs at least this many bytes */
    char badch;                 /* the byte found instead of '$' */
} resp_cmd;

static void resp_cmd_reset(resp_cmd *c) {
    c->argc = 0;
    c->want = 0;
    c->got = 0;
    c->pos = 0;
    c->need = 0;
}

static void resp_cmd_free(resp_cmd *c) {
    free(c->argv);
    free(c->lens);
    free(c->offs);
    memset(c, 0, sizeof *c);
}

/* Grow the argument arrays as arguments actually arrive, never to a declared count:
   "*1000000\r\n" alone costs nothing. */
static int resp_cmd_room(resp_cmd *c, int n) {
    int cap = c->cap ? c->cap : 16;
    char **av;
    size_t *l, *o;
    if (n <= c->cap) return 0;
    while (cap < n) cap *= 2;
    av = (char **)realloc(c->argv, (size_t)cap * sizeof *av);
    if (av) c->argv = av;
    l = (size_t *)realloc(c->lens, (size_t)cap * sizeof *l);
    if (l) c->lens = l;
    o = (size_t *)realloc(c->offs, (size_t)cap * sizeof *o);
    if (o) c->offs = o;
    if (!av || !l || !o) return RESP_E_NOMEM;
    c->cap = cap;
    return 0;
}

/* Redis's string2ll: optional '-', no '+', no leading zeros, no spaces. */
static int resp_strtoll(const char *p, size_t n, long long *out) {
    unsigned long long v = 0, lim;
    size_t i = 0;
    int neg = 0;
    if (n == 0 || n > 20) return -1;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return -1;
    }
    if (p[i] < '1' || p[i] > '9') return -1;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < n; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') return -1;
        d = (unsigned)(p[i] - '0');
        if (v > (lim - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    else *out = (long long)v;
    return 0;
}

/* A "<n>\r\n" line starting at buf[0] (just after '*' or '$'): 1 with *v and *linelen
   (up to and including the LF), 0 need more, or err. The CR must come within
   RESP_MAX_INLINE bytes, so a prefix and the whole buffer always agree. */
static int resp_numline(const char *buf, size_t len, long long *v, size_t *linelen,
                        int err_big, int err_bad) {
    size_t scan = len < RESP_MAX_INLINE ? len : RESP_MAX_INLINE;
    const char *cr = (const char *)memchr(buf, '\r', scan);
    if (!cr) return len >= RESP_MAX_INLINE ? err_big : 0;
    if ((size_t)(cr - buf) + 1 >= len) return 0;                /* the LF is not in */
    if (cr[1] != '\n') return err_bad;
    if (resp_strtoll(buf, (size_t)(cr - buf), v) < 0) return err_bad;
    *linelen = (size_t)(cr - buf) + 2;
    return 1;
}

static int resp_isspace(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int resp_hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Split an inline line (Redis's sdssplitargs rules: blanks separate, "..." with C
   escapes, '...' with \'), unescaping in place: the output never outruns the
   input. Offsets go into c. */
static int resp_split_inline(char *line, size_t n, resp_cmd *c) {
    size_t p = 0, w = 0;
    c->argc = 0;
    for (;;) {
        size_t start;
        int inq = 0, insq = 0, done = 0, rc;
        while (p < n && resp_isspace(line[p])) p++;
        if (p >= n) break;
        start = w;
        while (!done) {
            if (inq) {
                if (p >= n) return RESP_E_QUOTES;
                if (line[p] == '\\' && p + 3 < n && line[p + 1] == 'x' &&
                    resp_hexval(line[p + 2]) >= 0 && resp_hexval(line[p + 3]) >= 0) {
                    line[w++] = (char)(resp_hexval(line[p + 2]) * 16 +
                                       resp_hexval(line[p + 3]));
                    p += 4;
                } else if (line[p] == '\\' && p + 1 < n) {
                    char e = line[p + 1];
                    line[w++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' :
                                e == 'b' ? '\b' : e == 'a' ? '\a' : e;
                    p += 2;
                } else if (line[p] == '"') {
                    if (p + 1 < n && !resp_isspace(line[p + 1])) return RESP_E_QUOTES;
                    p++;
                    done = 1;
                } else {
                    line[w++] = line[p++];
                }
            } else if (insq) {
                if (p >= n) return RESP_E_QUOTES;
                if (line[p] == '\\' && p + 1 < n && line[p + 1] == '\'') {
                    line[w++] = '\'';
                    p += 2;
                } else if (line[p] == '\'') {
                    if (p + 1 < n && !resp_isspace(line[p + 1])) return RESP_E_QUOTES;
                    p++;
                    done = 1;
                } else {
                    line[w++] = line[p++];
                }
            } else if (p >= n || resp_isspace(line[p])) {
                done = 1;
            } else if (line[p] == '"') {
                inq = 1;
                p++;
            } else if (line[p] == '\'') {
                insq = 1;
                p++;
            } else {
                line[w++] = line[p++];
            }
        }
        if ((rc = resp_cmd_room(c, c->argc + 1)) < 0) return rc;
        c->offs[c->argc] = start;
        c->lens[c->argc] = w - start;
        c->argc++;
    }
    return 0;
}

static void resp_finish(char *buf, resp_cmd *c) {
    int i;
    for (i = 0; i < c->argc; i++) c->argv[i] = buf + c->offs[i];
    c->want = 0;
    c->got = 0;
    c->need = 0;
}

/* Parse one command at buf[0..len): bytes consumed (> 0; cmd->argc may be 0 for an
   empty line or "*0"), 0 when more bytes are needed (state kept in cmd), or a
   RESP_E_* code (the connection should be closed: the stream is out of sync). */
static int resp_parse_(char *buf, size_t len, resp_cmd *c) {
    long long v;
    size_t ll;
    int rc;
    if (c->want == 0) {
        c->got = 0;
        c->pos = 0;
        c->need = 0;
        c->argc = 0;
        if (len == 0) return 0;
        if (buf[0] != '*') c->want = -1;
    }
    if (c->want < 0) {                          /* inline: up to '\n' */
        size_t scan = len < RESP_MAX_INLINE + 1 ? len : RESP_MAX_INLINE + 1;
        const char *nl = scan > c->pos ? (const char *)memchr(buf + c->pos, '\n',
                                                              scan - c->pos) : NULL;
        size_t n;
        if (!nl) {
            if (len > RESP_MAX_INLINE) return RESP_E_INLINE_BIG;
            c->pos = len;
            return 0;
        }
        n = (size_t)(nl - buf);
        if (n > 0 && buf[n - 1] == '\r') n--;
        if ((rc = resp_split_inline(buf, n, c)) < 0) return rc;
        resp_finish(buf, c);
        return (int)(nl - buf) + 1;
    }
    if (c->want == 0) {                         /* "*<count>\r\n" */
        rc = resp_numline(buf + 1, len - 1, &v, &ll, RESP_E_MBULK_BIG, RESP_E_MBULK_LEN);
        if (rc <= 0) return rc;
        if (v > RESP_MAX_MULTIBULK) return RESP_E_MBULK_LEN;
        if (v <= 0) {                           /* an empty command: skipped */
            c->argc = 0;
            return (int)(1 + ll);
        }
        c->want = (int)v;
        c->pos = 1 + ll;
    }
    while (c->got < c->want) {
        size_t p = c->pos, total;
        if (p >= len) return 0;
        if (buf[p] != '$') {
            c->badch = buf[p];
            return RESP_E_DOLLAR;
        }
        rc = resp_numline(buf + p + 1, len - p - 1, &v, &ll, RESP_E_BULK_BIG,
                          RESP_E_BULK_LEN);
        if (rc <= 0) return rc;
        if (v < 0 || (unsigned long long)v > RESP_MAX_BULK) return RESP_E_BULK_LEN;
        total = 1 + ll + (size_t)v + 2;
        if (len - p < total) {
            c->need = p + total;
            return 0;
        }
        if (buf[p + total - 2] != '\r' || buf[p + total - 1] != '\n') return RESP_E_CRLF;
        if ((rc = resp_cmd_room(c, c->got + 1)) < 0) return rc;
        c->offs[c->got] = p + 1 + ll;
        c->lens[c->got] = (size_t)v;
        c->got++;
        c->pos = p + total;
    }
    c->argc = c->want;
    ll = c->pos;
    resp_finish(buf, c);
    /* A command is at most ~1M bulks of 512 MB in theory; the connection caps its
       buffer far below INT_MAX, the fuzzer's inputs are tiny. */
    return ll > INT_MAX ? RESP_E_BULK_LEN : (int)ll;
}

static int resp_parse(char *buf, size_t len, resp_cmd *c) {
    int rc = resp_parse_(buf, len, c);
    if (rc < 0) resp_cmd_reset(c);
    return rc;
}

/* The text Redis sends for each protocol error (after "-ERR Protocol error: "). */
static const char *resp_strerror(int code, char badch, char *tmp, size_t tmpsize) {
    switch (code) {
    case RESP_E_MBULK_LEN: return "invalid multibulk length";
    case RESP_E_BULK_LEN: return "invalid bulk length";
    case RESP_E_DOLLAR:
        snprintf(tmp, tmpsize, "expected '$', got '%c'", badch);
        return tmp;
    case RESP_E_INLINE_BIG: return "too big inline request";
    case RESP_E_QUOTES: return "unbalanced quotes in request";
    case RESP_E_MBULK_BIG: return "too big mbulk count string";
    case RESP_E_BULK_BIG: return "too big bulk count string";
    case RESP_E_CRLF: return "expected CRLF after bulk data";
    default: return "out of memory";
    }
}

/* ==== output buffers and replies =========================================== */

typedef struct {
    char *p;
    size_t len, cap;
} rbuf;

static void rbuf_reserve(rbuf *b, size_t more) {
    size_t cap;
    char *np;
    if (b->cap - b->len >= more) return;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) cap *= 2;
    np = (char *)realloc(b->p, cap);
    if (!np) {                                  /* as Redis: out of memory is fatal */
        fprintf(stderr, "miniredis: out of memory (%zu bytes)\n", cap);
        abort();
    }
    b->p = np;
    b->cap = cap;
}

static void rbuf_free(rbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void add_raw(rbuf *b, const void *p, size_t n) {
    rbuf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

#define ADD_LIT(b, s) add_raw((b), s, sizeof(s) - 1)

static size_t fmt_ll(char *dst, long long v) {
    char tmp[24];
    size_t n = 0, i;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    i = 0;
    if (v < 0) dst[i++] = '-';
    while (n) dst[i++] = tmp[--n];
    return i;
}

static void add_prefixed(rbuf *b, char type, long long v) {
    rbuf_reserve(b, 24);
    b->p[b->len++] = type;
    b->len += fmt_ll(b->p + b->len, v);
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

static void add_int(rbuf *b, long long v) { add_prefixed(b, ':', v); }
static void add_array(rbuf *b, long long n) { add_prefixed(b, '*', n); }
static void add_null(rbuf *b) { ADD_LIT(b, "$-1\r\n"); }
static void add_ok(rbuf *b) { ADD_LIT(b, "+OK\r\n"); }

static void add_bulk(rbuf *b, const char *p, size_t n) {
    rbuf_reserve(b, n + 32);
    b->p[b->len++] = '$';
    b->len += fmt_ll(b->p + b->len, (long long)n);
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

static void add_bulk_str(rbuf *b, const char *s) { add_bulk(b, s, strlen(s)); }

/* "-<text>\r\n" as Redis sends it: CR and LF at the end dropped, those inside made
   blanks, so the reply stays one line. */
static void add_error(rbuf *b, const char *text, size_t n) {
    size_t i;
    while (n && (text[n - 1] == '\r' || text[n - 1] == '\n')) n--;
    rbuf_reserve(b, n + 3);
    b->p[b->len++] = '-';
    for (i = 0; i < n; i++) {
        char ch = text[i];
        b->p[b->len++] = (ch == '\r' || ch == '\n') ? ' ' : ch;
    }
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

static void add_error_str(rbuf *b, const char *s) { add_error(b, s, strlen(s)); }

/* ==== 2. the store ========================================================= */

typedef struct rentry {
    int64_t expire;                 /* ms on the db clock; -1: none */
    uint32_t klen, vlen, vcap;
    char data[];                    /* the key, then vcap bytes for the value */
} rentry;

typedef struct {
    uint64_t h;
    rentry *e;                      /* NULL: empty */
} rslot;

typedef struct rchan rchan;
typedef struct rclient rclient;

typedef struct rdb {
    rslot *slots;
    size_t mask, count, nexpire, sweep_cursor;
    uint64_t seed;
    int64_t (*now)(void *user);     /* the clock in ms: injectable for tests */
    void *now_user;
    /* pub/sub: channels by name, chained */
    rchan **chans;
    size_t chmask, nchans;
} rdb;

static int64_t rdb_real_now(void *user) {
#ifdef _WIN32                       /* (no clock_gettime in Win32 itself) */
    (void)user;
    return (int64_t)GetTickCount64();
#else
    struct timespec ts;
    (void)user;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static uint64_t rdb_hash(uint64_t seed, const char *p, size_t n) {
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h ^= v;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, p, n);
        h ^= v;
        h *= 0x94d049bb133111ebull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "miniredis: out of memory\n");
        abort();
    }
    return p;
}

static void rdb_init(rdb *db) {
    memset(db, 0, sizeof *db);
    db->mask = 15;
    db->slots = (rslot *)xcalloc(16, sizeof(rslot));
    db->chmask = 15;
    db->chans = (rchan **)xcalloc(16, sizeof(rchan *));
    db->now = rdb_real_now;
    /* a per-process seed: colliding keys cannot be precomputed */
    db->seed = (uint64_t)rdb_real_now(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(size_t)db;
}

static int64_t rdb_now(rdb *db) { return db->now(db->now_user); }

static void rdb_clear(rdb *db) {
    size_t i;
    for (i = 0; i <= db->mask; i++) free(db->slots[i].e);
    free(db->slots);
    db->mask = 15;
    db->slots = (rslot *)xcalloc(16, sizeof(rslot));
    db->count = db->nexpire = db->sweep_cursor = 0;
}

static void rdb_resize(rdb *db, size_t cap) {
    rslot *old = db->slots;
    size_t oldcap = db->mask + 1, i;
    db->slots = (rslot *)xcalloc(cap, sizeof(rslot));
    db->mask = cap - 1;
    for (i = 0; i < oldcap; i++) {
        if (old[i].e) {
            size_t j = old[i].h & db->mask;
            while (db->slots[j].e) j = (j + 1) & db->mask;
            db->slots[j] = old[i];
        }
    }
    free(old);
}

/* The slot holding key, or the empty slot where it would go (*found says which). */
static size_t rdb_slot(const rdb *db, uint64_t h, const char *k, size_t n, int *found) {
    size_t i = h & db->mask;
    for (;;) {
        const rentry *e = db->slots[i].e;
        if (!e) {
            *found = 0;
            return i;
        }
        if (db->slots[i].h == h && e->klen == n && memcmp(e->data, k, n) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & db->mask;
    }
}

/* Backward-shift deletion: no tombstones, so lookups never slow down with churn. */
static void rdb_del_at(rdb *db, size_t i) {
    size_t j = i, mask = db->mask;
    rentry *e = db->slots[i].e;
    if (e->expire >= 0) db->nexpire--;
    free(e);
    db->count--;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (!db->slots[j].e) break;
        k = db->slots[j].h & mask;              /* where slot j's entry wants to be */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
        db->slots[i] = db->slots[j];
        i = j;
    }
    db->slots[i].e = NULL;
}

static int rdb_expired(rdb *db, const rentry *e) {
    return e->expire >= 0 && rdb_now(db) > e->expire;
}

/* Find a live key (lazy expiry: an expired one is deleted here). Slot index or -1. */
static long rdb_find(rdb *db, const char *k, size_t n) {
    int found;
    size_t i = rdb_slot(db, rdb_hash(db->seed, k, n), k, n, &found);
    if (!found) return -1;
    if (rdb_expired(db, db->slots[i].e)) {
        rdb_del_at(db, i);
        return -1;
    }
    return (long)i;
}

static rentry *rdb_get(rdb *db, const char *k, size_t n) {
    long i = rdb_find(db, k, n);
    return i < 0 ? NULL : db->slots[i].e;
}

static void rdb_set_expire(rdb *db, rentry *e, int64_t expire) {
    if (e->expire >= 0) db->nexpire--;
    if (expire >= 0) db->nexpire++;
    e->expire = expire;
}

/* Set key to value; keep_ttl keeps an existing expiry, else expire (-1 none). */
static rentry *rdb_set(rdb *db, const char *k, size_t n, const char *v, size_t vn,
                       int64_t expire, int keep_ttl) {
    uint64_t h = rdb_hash(db->seed, k, n);
    int found;
    size_t i = rdb_slot(db, h, k, n, &found);
    rentry *e;
    if (found) {
        e = db->slots[i].e;
        if (e->vcap < vn || (e->vcap > 256 && vn < e->vcap / 4)) {
            rentry *ne = (rentry *)realloc(e, sizeof *e + n + vn);
            if (!ne) {
                fprintf(stderr, "miniredis: out of memory\n");
                abort();
            }
            e = ne;
            e->vcap = (uint32_t)vn;
            db->slots[i].e = e;
        }
        if (keep_ttl && rdb_expired(db, e)) keep_ttl = 0;
    } else {
        if ((db->count + 1) * 10 > (db->mask + 1) * 7) {      /* load 0.7: grow */
            rdb_resize(db, (db->mask + 1) * 2);
            i = rdb_slot(db, h, k, n, &found);
        }
        e = (rentry *)malloc(sizeof *e + n + vn);
        if (!e) {
            fprintf(stderr, "miniredis: out of memory\n");
            abort();
        }
        e->expire = -1;
        e->klen = (uint32_t)n;
        e->vcap = (uint32_t)vn;
        memcpy(e->data, k, n);
        db->slots[i].h = h;
        db->slots[i].e = e;
        db->count++;
        keep_ttl = 0;
    }
    e->vlen = (uint32_t)vn;
    if (vn) memcpy(e->data + n, v, vn);
    if (!keep_ttl) rdb_set_expire(db, e, expire);
    return e;
}

/* Active expiry: look at up to max slots from where the last sweep stopped. */
static size_t rdb_sweep(rdb *db, size_t max) {
    size_t removed = 0, seen = 0;
    if (!db->nexpire) return 0;
    while (seen < max && seen <= db->mask) {
        size_t i = db->sweep_cursor & db->mask;
        rentry *e = db->slots[i].e;
        if (e && rdb_expired(db, e)) {
            rdb_del_at(db, i);                  /* slot i may now hold another entry */
            removed++;
        } else {
            db->sweep_cursor = (i + 1) & db->mask;
        }
        seen++;
    }
    return removed;
}

/* Redis's glob: * ? [abc] [^a-z] and \x. Iterative with one backtrack point, so a
   hostile pattern ("*a*a*a*a*b") costs O(pattern * string), never exponential. */
static size_t glob_elem_len(const char *p, size_t pn) {
    size_t i;
    if (p[0] == '\\' && pn >= 2) return 2;
    if (p[0] != '[') return 1;
    i = 1;
    if (i < pn && p[i] == '^') i++;
    while (i < pn) {
        if (p[i] == '\\' && pn - i >= 2) i += 2;
        else if (p[i] == ']') return i + 1;
        else i++;
    }
    return pn;                          /* unterminated: the class runs to the end */
}

static int glob_elem_match(const char *p, size_t el, unsigned char ch) {
    size_t i, end;
    int neg = 0, match = 0;
    if (p[0] == '?') return 1;
    if (p[0] == '\\' && el == 2) return (unsigned char)p[1] == ch;
    if (p[0] != '[') return (unsigned char)p[0] == ch;
    i = 1;
    end = (p[el - 1] == ']' && el >= 2) ? el - 1 : el;
    if (i < end && p[i] == '^') {
        neg = 1;
        i++;
    }
    while (i < end) {
        if (p[i] == '\\' && end - i >= 2) {
            if ((unsigned char)p[i + 1] == ch) match = 1;
            i += 2;
        } else if (end - i >= 3 && p[i + 1] == '-') {
            unsigned char lo = (unsigned char)p[i], hi = (unsigned char)p[i + 2];
            if (lo > hi) {
                unsigned char tmp = lo;
                lo = hi;
                hi = tmp;
            }
            if (ch >= lo && ch <= hi) match = 1;
            i += 3;
        } else {
            if ((unsigned char)p[i] == ch) match = 1;
            i++;
        }
    }
    return neg ? !match : match;
}

static int glob_match(const char *p, size_t pn, const char *s, size_t sn) {
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            while (pi < pn && p[pi] == '*') pi++;
            if (pi == pn) return 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            size_t el = glob_elem_len(p + pi, pn - pi);
            if (glob_elem_match(p + pi, el, (unsigned char)s[si])) {
                pi += el;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1) return 0;
        pi = star_p;                            /* let the last star eat one more byte */
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '*') pi++;
    return pi == pn;
}

/* ==== 3. the executor and pub/sub ========================================= */

#ifndef RPUBSUB_LIMIT                           /* per subscriber: then cut off */
#define RPUBSUB_LIMIT ((size_t)8 * 1024 * 1024)     /* (a fuzzer sets a small one) */
#endif

/* A subscription of client c to channel ch. It sits in the channel's array (at chi),
   in the client's array (at ci) and in the client's set (hashed by the channel), so
   SUBSCRIBE, UNSUBSCRIBE and a client's exit cost O(1) per channel however many
   channels a client has or subscribers a channel has. */
typedef struct rsub {
    rchan *ch;
    rclient *c;
    size_t chi, ci;
} rsub;

struct rchan {
    rchan *next;
    uint64_t h;
    rsub **subs;                    /* its subscribers, in no order */
    size_t nsubs, cap, klen;
    char key[];
};

/* What the executor knows of a connection. Usable without a socket (tests). */
struct rclient {
    rdb *db;
    rbuf pend;                      /* published messages not yet in the output */
    async_notify notify;            /* poked when pend grows */
    rsub **subs;                    /* its subscriptions, oldest first */
    size_t nchans, chcap;
    rsub **set;                     /* the same by channel: linear probing, load <= 1/2 */
    size_t setmask;                 /* set has setmask + 1 slots, or is NULL */
    int kill;                       /* pend overflowed: cut off */
    async_task *task;               /* the connection's, aborted when cut off (or NULL) */
    rclient *next_killed;           /* publish's list of those it cut off */
};

enum { EXEC_CLOSE = 1 };

static void *xrealloc(void *p, size_t n) {
    void *np = realloc(p, n);
    if (!np) {
        fprintf(stderr, "miniredis: out of memory\n");
        abort();
    }
    return np;
}

static rchan *chan_find(rdb *db, const char *k, size_t n, uint64_t h, rchan ***where) {
    rchan **pp = &db->chans[h & db->chmask];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->h == h && (*pp)->klen == n && memcmp((*pp)->key, k, n) == 0) break;
    }
    if (where) *where = pp;
    return *pp;
}

/* Rehash the channel table to cap buckets (a power of two): it grows with the channels
   and shrinks again when they go, so a burst of them leaves nothing behind. */
static void chan_resize(rdb *db, size_t cap) {
    size_t i;
    rchan **nb = (rchan **)xcalloc(cap, sizeof *nb);
    for (i = 0; i <= db->chmask; i++) {
        rchan *c = db->chans[i], *next;
        for (; c; c = next) {
            next = c->next;
            c->next = nb[c->h & (cap - 1)];
            nb[c->h & (cap - 1)] = c;
        }
    }
    free(db->chans);
    db->chans = nb;
    db->chmask = cap - 1;
}

/* The client's subscription to ch, or the empty slot of its set where it would go. */
static size_t sub_slot(const rclient *c, const rchan *ch) {
    size_t i = (size_t)ch->h & c->setmask;
    while (c->set[i] && c->set[i]->ch != ch) i = (i + 1) & c->setmask;
    return i;
}

static void sub_set_resize(rclient *c, size_t cap) {
    rsub **old = c->set;
    size_t oldn = old ? c->setmask + 1 : 0, i;
    c->set = (rsub **)xcalloc(cap, sizeof *c->set);
    c->setmask = cap - 1;
    for (i = 0; i < oldn; i++) if (old[i]) c->set[sub_slot(c, old[i]->ch)] = old[i];
    free(old);
}

/* Backward-shift deletion, as the store's. */
static void sub_set_del(rclient *c, size_t i) {
    size_t j = i, mask = c->setmask;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (!c->set[j]) break;
        k = (size_t)c->set[j]->ch->h & mask;
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
        c->set[i] = c->set[j];
        i = j;
    }
    c->set[i] = NULL;
}

/* 1 if newly subscribed, 0 if it already was. */
static int client_subscribe(rclient *c, const char *k, size_t n) {
    rdb *db = c->db;
    uint64_t h = rdb_hash(db->seed, k, n);
    rchan *ch = chan_find(db, k, n, h, NULL);
    rsub *s;
    if (ch && c->set && c->set[sub_slot(c, ch)]) return 0;
    if (!ch) {
        if (db->nchans + 1 > db->chmask + 1) chan_resize(db, (db->chmask + 1) * 2);
        ch = (rchan *)xcalloc(1, sizeof *ch + n);
        ch->h = h;
        ch->klen = n;
        memcpy(ch->key, k, n);
        ch->next = db->chans[h & db->chmask];
        db->chans[h & db->chmask] = ch;
        db->nchans++;
    }
    s = (rsub *)xcalloc(1, sizeof *s);
    s->ch = ch;
    s->c = c;
    if (ch->nsubs == ch->cap) {
        ch->cap = ch->cap ? ch->cap * 2 : 4;
        ch->subs = (rsub **)xrealloc(ch->subs, ch->cap * sizeof *ch->subs);
    }
    s->chi = ch->nsubs;
    ch->subs[ch->nsubs++] = s;
    if (c->nchans == c->chcap) {
        c->chcap = c->chcap ? c->chcap * 2 : 4;
        c->subs = (rsub **)xrealloc(c->subs, c->chcap * sizeof *c->subs);
    }
    s->ci = c->nchans;
    c->subs[c->nchans++] = s;
    if (!c->set || c->nchans * 2 > c->setmask + 1)
        sub_set_resize(c, c->set ? (c->setmask + 1) * 2 : 8);
    c->set[sub_slot(c, ch)] = s;
    return 1;
}

/* Drop subscription s from its channel (which goes with its last subscriber) and its
   client (whose arrays go with its last subscription). */
static void client_unsubscribe(rsub *s) {
    rclient *c = s->c;
    rchan *ch = s->ch, **pp;
    rdb *db = c->db;
    sub_set_del(c, sub_slot(c, ch));
    ch->subs[s->chi] = ch->subs[--ch->nsubs];   /* swap-remove on both sides */
    ch->subs[s->chi]->chi = s->chi;
    c->subs[s->ci] = c->subs[--c->nchans];
    c->subs[s->ci]->ci = s->ci;
    free(s);
    if (ch->nsubs == 0) {
        chan_find(db, ch->key, ch->klen, ch->h, &pp);
        *pp = ch->next;
        db->nchans--;
        free(ch->subs);
        free(ch);
        if (db->chmask > 15 && db->nchans * 8 < db->chmask + 1)
            chan_resize(db, (db->chmask + 1) / 2);
    }
    if (c->nchans == 0) {
        free(c->subs);
        free(c->set);
        c->subs = c->set = NULL;
        c->chcap = c->setmask = 0;
    } else if (c->setmask > 7 && c->nchans * 8 < c->setmask + 1) {
        sub_set_resize(c, (c->setmask + 1) / 2);
    }
}

/* The client's subscription to channel k, or NULL. */
static rsub *client_sub_find(rclient *c, const char *k, size_t n) {
    rchan *ch;
    rsub *s;
    if (!c->set) return NULL;
    ch = chan_find(c->db, k, n, rdb_hash(c->db->seed, k, n), NULL);
    s = ch ? c->set[sub_slot(c, ch)] : NULL;
    return s;
}

static void client_init(rclient *c, rdb *db) {
    memset(c, 0, sizeof *c);
    c->db = db;
}

static void client_free(rclient *c) {
    while (c->nchans) client_unsubscribe(c->subs[c->nchans - 1]);
    rbuf_free(&c->pend);
}

static void add_pubsub_reply(rbuf *out, const char *kind, const char *ch, size_t n,
                             long long count) {
    add_array(out, 3);
    add_bulk_str(out, kind);
    if (ch) add_bulk(out, ch, n);
    else add_null(out);
    add_int(out, count);
}

/* A subscriber past its limit is cut off as Redis cuts one past its pubsub output
   buffer limit: it leaves its channels at once (so PUBLISH stops counting it), its
   queue is dropped, and its connection is closed without the rest of its output
   (its task is aborted: wherever it waits, a write it cannot finish included). */
static void client_kill(rclient *c) {
    c->kill = 1;
    while (c->nchans) client_unsubscribe(c->subs[c->nchans - 1]);
    rbuf_free(&c->pend);
    if (c->task) async_task_abort(c->task);
}

/* The number of subscribers the message went to. One it would take past its limit
   still counts (as in Redis, which counts it until it is freed) but is cut off. */
static long long publish(rdb *db, const char *k, size_t n, const char *msg, size_t mn) {
    rchan *ch = chan_find(db, k, n, rdb_hash(db->seed, k, n), NULL);
    rclient *killed = NULL;
    long long count;
    size_t i;
    if (!ch) return 0;
    count = (long long)ch->nsubs;
    for (i = 0; i < ch->nsubs; i++) {
        rclient *s = ch->subs[i]->c;
        if (s->pend.len + mn + n + 64 > RPUBSUB_LIMIT) {
            s->next_killed = killed;            /* after the loop: it changes ch->subs */
            killed = s;
        } else {
            add_array(&s->pend, 3);
            ADD_LIT(&s->pend, "$7\r\nmessage\r\n");
            add_bulk(&s->pend, k, n);
            add_bulk(&s->pend, msg, mn);
            async_notify_one(&s->notify);
        }
    }
    while (killed) {                            /* ch may go with its last subscriber */
        rclient *s = killed;
        killed = s->next_killed;
        client_kill(s);
    }
    return count;
}

/* -- commands -- */

typedef struct {
    rclient *c;
    rdb *db;
    int argc;
    char **argv;
    size_t *lens;
    rbuf *out;
} rctx;

typedef int (*rcmd_fn)(rctx *x);

static void err_not_int(rbuf *out) {
    add_error_str(out, "ERR value is not an integer or out of range");
}
static void err_syntax(rbuf *out) { add_error_str(out, "ERR syntax error"); }

static int arg_is(const rctx *x, int i, const char *lower) {
    size_t n = strlen(lower), j;
    if (x->lens[i] != n) return 0;
    for (j = 0; j < n; j++) {
        char ch = x->argv[i][j];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != lower[j]) return 0;
    }
    return 1;
}

static int arg_ll(const rctx *x, int i, long long *v) {
    return resp_strtoll(x->argv[i], x->lens[i], v);
}

static int cmd_get(rctx *x) {
    rentry *e = rdb_get(x->db, x->argv[1], x->lens[1]);
    if (!e) add_null(x->out);
    else add_bulk(x->out, e->data + e->klen, e->vlen);
    return 0;
}

/* *ms = now + v * unit, refusing v <= 0 and overflow as Redis does. */
static int expire_at(rctx *x, long long v, long long unit, int allow_nonpositive,
                     const char *cmd, int64_t *ms) {
    int64_t now = rdb_now(x->db);
    char msg[80];
    if ((!allow_nonpositive && v <= 0) || v > LLONG_MAX / unit || v < LLONG_MIN / unit ||
        (v > 0 && v * unit > LLONG_MAX - now) || (v < 0 && v * unit < LLONG_MIN + now)) {
        snprintf(msg, sizeof msg, "ERR invalid expire time in '%s' command", cmd);
        add_error_str(x->out, msg);
        return -1;
    }
    *ms = now + v * unit;
    return 0;
}

static int cmd_set(rctx *x) {
    int i, nx = 0, xx = 0, get = 0, keepttl = 0, unit_i = 0;
    long long unit = 0, v = 0;
    int64_t expire = -1;
    rentry *e;
    for (i = 3; i < x->argc; i++) {
        if (arg_is(x, i, "nx") && !xx) nx = 1;
        else if (arg_is(x, i, "xx") && !nx) xx = 1;
        else if (arg_is(x, i, "get")) get = 1;
        else if (arg_is(x, i, "keepttl") && !unit) keepttl = 1;
        else if ((arg_is(x, i, "ex") || arg_is(x, i, "px")) && !unit && !keepttl &&
                 i + 1 < x->argc) {
            unit = (x->argv[i][0] == 'e' || x->argv[i][0] == 'E') ? 1000 : 1;
            unit_i = ++i;
        } else {
            err_syntax(x->out);
            return 0;
        }
    }
    if (unit) {
        if (arg_ll(x, unit_i, &v) < 0) {
            err_not_int(x->out);
            return 0;
        }
        if (expire_at(x, v, unit, 0, "set", &expire) < 0) return 0;
    }
    e = rdb_get(x->db, x->argv[1], x->lens[1]);
    if (get) {
        if (e) add_bulk(x->out, e->data + e->klen, e->vlen);
        else add_null(x->out);
    }
    if ((nx && e) || (xx && !e)) {
        if (!get) add_null(x->out);
        return 0;
    }
    rdb_set(x->db, x->argv[1], x->lens[1], x->argv[2], x->lens[2], expire, keepttl);
    if (!get) add_ok(x->out);
    return 0;
}

static int cmd_del(rctx *x) {
    long long n = 0;
    int i;
    for (i = 1; i < x->argc; i++) {
        long s = rdb_find(x->db, x->argv[i], x->lens[i]);
        if (s >= 0) {
            rdb_del_at(x->db, (size_t)s);
            n++;
        }
    }
    add_int(x->out, n);
    return 0;
}

static int cmd_exists(rctx *x) {
    long long n = 0;
    int i;
    for (i = 1; i < x->argc; i++) n += rdb_find(x->db, x->argv[i], x->lens[i]) >= 0;
    add_int(x->out, n);
    return 0;
}

static void incr_by(rctx *x, long long by) {
    rentry *e = rdb_get(x->db, x->argv[1], x->lens[1]);
    long long v = 0;
    char num[24];
    size_t n;
    if (e && resp_strtoll(e->data + e->klen, e->vlen, &v) < 0) {
        err_not_int(x->out);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        add_error_str(x->out, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    n = fmt_ll(num, v);
    rdb_set(x->db, x->argv[1], x->lens[1], num, n, -1, 1);   /* INCR keeps the TTL */
    add_int(x->out, v);
}

static int cmd_incr(rctx *x) { incr_by(x, 1); return 0; }
static int cmd_decr(rctx *x) { incr_by(x, -1); return 0; }

static int cmd_incrby(rctx *x) {
    long long by;
    if (arg_ll(x, 2, &by) < 0) err_not_int(x->out);
    else incr_by(x, by);
    return 0;
}

static int cmd_decrby(rctx *x) {
    long long by;
    if (arg_ll(x, 2, &by) < 0) err_not_int(x->out);
    else if (by == LLONG_MIN) add_error_str(x->out, "ERR decrement would overflow");
    else incr_by(x, -by);
    return 0;
}

static int cmd_mget(rctx *x) {
    int i;
    add_array(x->out, x->argc - 1);
    for (i = 1; i < x->argc; i++) {
        rentry *e = rdb_get(x->db, x->argv[i], x->lens[i]);
        if (!e) add_null(x->out);
        else add_bulk(x->out, e->data + e->klen, e->vlen);
    }
    return 0;
}

static int cmd_mset(rctx *x) {
    int i;
    if (x->argc % 2 == 0) {
        add_error_str(x->out, "ERR wrong number of arguments for 'mset' command");
        return 0;
    }
    for (i = 1; i < x->argc; i += 2)
        rdb_set(x->db, x->argv[i], x->lens[i], x->argv[i + 1], x->lens[i + 1], -1, 0);
    add_ok(x->out);
    return 0;
}

/* EXPIRE key seconds [NX | XX | GT | LT], as Redis 7: the options are checked first,
   then the number; no TTL counts as forever for GT and LT. */
static int cmd_expire(rctx *x) {
    enum { NX = 1, XX = 2, GT = 4, LT = 8 };
    long long v;
    int64_t when, cur;
    long s;
    int i, flags = 0;
    for (i = 3; i < x->argc; i++) {
        if (arg_is(x, i, "nx")) flags |= NX;
        else if (arg_is(x, i, "xx")) flags |= XX;
        else if (arg_is(x, i, "gt")) flags |= GT;
        else if (arg_is(x, i, "lt")) flags |= LT;
        else {
            /* an argument is not NUL-terminated: its length bounds it, and like
               Redis's %s the text stops at a NUL */
            const char *p = x->argv[i], *nul = (const char *)memchr(p, 0, x->lens[i]);
            rbuf msg = {0, 0, 0};
            ADD_LIT(&msg, "ERR Unsupported option ");
            add_raw(&msg, p, nul ? (size_t)(nul - p) : x->lens[i]);
            add_error(x->out, msg.p, msg.len);
            rbuf_free(&msg);
            return 0;
        }
    }
    if ((flags & NX) && (flags & (XX | GT | LT))) {
        add_error_str(x->out,
                      "ERR NX and XX, GT or LT options at the same time are not compatible");
        return 0;
    }
    if ((flags & GT) && (flags & LT)) {
        add_error_str(x->out, "ERR GT and LT options at the same time are not compatible");
        return 0;
    }
    if (arg_ll(x, 2, &v) < 0) {
        err_not_int(x->out);
        return 0;
    }
    if (expire_at(x, v, 1000, 1, "expire", &when) < 0) return 0;
    s = rdb_find(x->db, x->argv[1], x->lens[1]);
    if (s < 0) {
        add_int(x->out, 0);
        return 0;
    }
    cur = x->db->slots[s].e->expire;
    if (((flags & NX) && cur >= 0) || ((flags & XX) && cur < 0) ||
        ((flags & GT) && (cur < 0 || when <= cur)) || ((flags & LT) && cur >= 0 &&
                                                       when >= cur)) {
        add_int(x->out, 0);
        return 0;
    }
    if (when <= rdb_now(x->db)) rdb_del_at(x->db, (size_t)s);   /* already past: delete */
    else rdb_set_expire(x->db, x->db->slots[s].e, when);
    add_int(x->out, 1);
    return 0;
}

static int cmd_ttl(rctx *x) {
    rentry *e = rdb_get(x->db, x->argv[1], x->lens[1]);
    int64_t ttl;
    if (!e) add_int(x->out, -2);
    else if (e->expire < 0) add_int(x->out, -1);
    else {
        ttl = e->expire - rdb_now(x->db);
        if (ttl < 0) ttl = 0;
        add_int(x->out, (ttl + 500) / 1000);
    }
    return 0;
}

static int cmd_keys(rctx *x) {
    rdb *db = x->db;
    size_t i, n = 0, cap = 0;
    rentry **hits = NULL;
    int64_t now = -1;
    for (i = 0; i <= db->mask; i++) {
        rentry *e = db->slots[i].e;
        if (!e) continue;
        if (e->expire >= 0) {
            if (now < 0) now = rdb_now(db);
            if (now > e->expire) continue;      /* expired: skipped, left to the sweep */
        }
        if (!glob_match(x->argv[1], x->lens[1], e->data, e->klen)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            hits = (rentry **)xrealloc(hits, cap * sizeof *hits);
        }
        hits[n++] = e;
    }
    add_array(x->out, (long long)n);
    for (i = 0; i < n; i++) add_bulk(x->out, hits[i]->data, hits[i]->klen);
    free(hits);
    return 0;
}

static int cmd_dbsize(rctx *x) { add_int(x->out, (long long)x->db->count); return 0; }

static int cmd_flushall(rctx *x) {
    if (x->argc > 2 || (x->argc == 2 && !arg_is(x, 1, "sync") && !arg_is(x, 1, "async"))) {
        err_syntax(x->out);
        return 0;
    }
    rdb_clear(x->db);
    add_ok(x->out);
    return 0;
}

static int cmd_ping(rctx *x) {
    if (x->argc > 2) {
        add_error_str(x->out, "ERR wrong number of arguments for 'ping' command");
    } else if (x->c->nchans) {                  /* subscribed: the RESP2 pub/sub form */
        add_array(x->out, 2);
        ADD_LIT(x->out, "$4\r\npong\r\n");
        if (x->argc == 2) add_bulk(x->out, x->argv[1], x->lens[1]);
        else ADD_LIT(x->out, "$0\r\n\r\n");
    } else if (x->argc == 2) {
        add_bulk(x->out, x->argv[1], x->lens[1]);
    } else {
        ADD_LIT(x->out, "+PONG\r\n");
    }
    return 0;
}

static int cmd_echo(rctx *x) { add_bulk(x->out, x->argv[1], x->lens[1]); return 0; }

static int cmd_publish(rctx *x) {
    add_int(x->out, publish(x->db, x->argv[1], x->lens[1], x->argv[2], x->lens[2]));
    return 0;
}

static int cmd_subscribe(rctx *x) {
    int i;
    for (i = 1; i < x->argc; i++) {
        client_subscribe(x->c, x->argv[i], x->lens[i]);
        add_pubsub_reply(x->out, "subscribe", x->argv[i], x->lens[i],
                         (long long)x->c->nchans);
    }
    return 0;
}

static int cmd_unsubscribe(rctx *x) {
    rclient *c = x->c;
    int i;
    if (x->argc == 1) {                         /* every channel */
        if (!c->nchans) add_pubsub_reply(x->out, "unsubscribe", NULL, 0, 0);
        while (c->nchans) {
            rchan *ch = c->subs[c->nchans - 1]->ch;
            add_pubsub_reply(x->out, "unsubscribe", ch->key, ch->klen,
                             (long long)c->nchans - 1);
            client_unsubscribe(c->subs[c->nchans - 1]);   /* may free ch: reply first */
        }
        return 0;
    }
    for (i = 1; i < x->argc; i++) {
        rsub *s = client_sub_find(c, x->argv[i], x->lens[i]);
        if (s) client_unsubscribe(s);
        add_pubsub_reply(x->out, "unsubscribe", x->argv[i], x->lens[i],
                         (long long)c->nchans);
    }
    return 0;
}

static int cmd_quit(rctx *x) { add_ok(x->out); return EXEC_CLOSE; }

/* Enough for redis-cli and redis-benchmark: COMMAND answers an empty list, CONFIG GET
   knows the two settings redis-benchmark asks for. */
static int cmd_command(rctx *x) { ADD_LIT(x->out, "*0\r\n"); return 0; }

static int cmd_config(rctx *x) {
    int i, n = 0;
    if (arg_is(x, 1, "get")) {
        if (x->argc < 3) {
            add_error_str(x->out, "ERR wrong number of arguments for 'config|get' command");
            return 0;
        }
        for (i = 2; i < x->argc; i++)
            n += arg_is(x, i, "save") || arg_is(x, i, "appendonly");
        add_array(x->out, 2 * n);
        for (i = 2; i < x->argc; i++) {
            if (arg_is(x, i, "save")) {
                add_bulk_str(x->out, "save");
                add_bulk_str(x->out, "");
            } else if (arg_is(x, i, "appendonly")) {
                add_bulk_str(x->out, "appendonly");
                add_bulk_str(x->out, "no");
            }
        }
    } else if (arg_is(x, 1, "set") || arg_is(x, 1, "resetstat")) {
        add_ok(x->out);
    } else {
        char msg[200];
        snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                 (int)(x->lens[1] > 128 ? 128 : x->lens[1]), x->argv[1]);
        add_error_str(x->out, msg);
    }
    return 0;
}

static int cmd_select(rctx *x) {
    long long v;
    if (arg_ll(x, 1, &v) < 0) err_not_int(x->out);
    else if (v != 0) add_error_str(x->out, "ERR DB index is out of range");
    else add_ok(x->out);
    return 0;
}

typedef struct {
    const char *name;               /* lower case */
    size_t len;                     /* of the name */
    int arity;                      /* Redis's: n exactly, -n at least n */
    int pubsub_ok;                  /* allowed while subscribed */
    rcmd_fn fn;
} rcommand;

#define RCMD(name, arity, pubsub_ok, fn) {name, sizeof(name) - 1, arity, pubsub_ok, fn}

static const rcommand rcmds[] = {
    RCMD("get", 2, 0, cmd_get),         /* the hot ones first */
    RCMD("set", -3, 0, cmd_set),
    RCMD("ping", -1, 1, cmd_ping),
    RCMD("incr", 2, 0, cmd_incr),
    RCMD("mget", -2, 0, cmd_mget),
    RCMD("mset", -3, 0, cmd_mset),
    RCMD("del", -2, 0, cmd_del),
    RCMD("exists", -2, 0, cmd_exists),
    RCMD("decr", 2, 0, cmd_decr),
    RCMD("incrby", 3, 0, cmd_incrby),
    RCMD("decrby", 3, 0, cmd_decrby),
    RCMD("echo", 2, 0, cmd_echo),
    RCMD("expire", -3, 0, cmd_expire),
    RCMD("ttl", 2, 0, cmd_ttl),
    RCMD("keys", 2, 0, cmd_keys),
    RCMD("dbsize", 1, 0, cmd_dbsize),
    RCMD("flushall", -1, 0, cmd_flushall),
    RCMD("publish", 3, 0, cmd_publish),
    RCMD("subscribe", -2, 1, cmd_subscribe),
    RCMD("unsubscribe", -1, 1, cmd_unsubscribe),
    RCMD("quit", -1, 1, cmd_quit),
    RCMD("command", -1, 0, cmd_command),
    RCMD("config", -2, 0, cmd_config),
    RCMD("select", 2, 0, cmd_select),
};

/* By length first: name is not NUL-terminated and may hold a NUL. */
static const rcommand *rcmd_lookup(const char *name, size_t n) {
    size_t i, j;
    for (i = 0; i < sizeof rcmds / sizeof rcmds[0]; i++) {
        const char *s = rcmds[i].name;
        if (rcmds[i].len != n) continue;
        for (j = 0; j < n; j++) {
            char ch = name[j];
            if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
            if (ch != s[j]) break;
        }
        if (j == n) return &rcmds[i];
    }
    return NULL;
}

/* Redis 7's "unknown command" text: the name cut at 128 bytes (or a NUL), then the
   first arguments, each quoted, while the list is under 128 bytes. */
static void err_unknown(rbuf *out, int argc, char **argv, size_t *lens) {
    char msg[512];
    size_t n = 0, argsn = 0, k;
    int i;
    n += (size_t)snprintf(msg, sizeof msg, "ERR unknown command '");
    for (k = 0; k < lens[0] && k < 128 && argv[0][k]; k++) msg[n++] = argv[0][k];
    n += (size_t)snprintf(msg + n, sizeof msg - n, "', with args beginning with: ");
    for (i = 1; i < argc && argsn < 128; i++) {
        size_t room = 128 - argsn, start = n;
        msg[n++] = '\'';
        for (k = 0; k < lens[i] && k < room && argv[i][k]; k++) msg[n++] = argv[i][k];
        msg[n++] = '\'';
        msg[n++] = ' ';
        argsn += n - start;
    }
    add_error(out, msg, n);
}

/* Run one command for client c, appending its reply to out. Returns EXEC_CLOSE when
   the connection should close after the reply is written (QUIT). */
static int redis_exec(rclient *c, int argc, char **argv, size_t *lens, rbuf *out) {
    const rcommand *cmd;
    rctx x;
    if (argc <= 0) return 0;
    if (c->pend.len) {              /* messages published earlier go out first */
        add_raw(out, c->pend.p, c->pend.len);
        c->pend.len = 0;
    }
    cmd = rcmd_lookup(argv[0], lens[0]);
    if (!cmd) {
        err_unknown(out, argc, argv, lens);
        return 0;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        char msg[96];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command",
                 cmd->name);
        add_error_str(out, msg);
        return 0;
    }
    if (c->nchans && !cmd->pubsub_ok) {
        char msg[200];
        snprintf(msg, sizeof msg, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                 "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                 cmd->name);
        add_error_str(out, msg);
        return 0;
    }
    x.c = c;
    x.db = c->db;
    x.argc = argc;
    x.argv = argv;
    x.lens = lens;
    x.out = out;
    return cmd->fn(&x);
}

/* ==== 4. the server ======================================================== */

#define CONN_INBUF 16384
#define CONN_FLUSH_AT 65536                      /* replies buffered before a write */
#define CONN_QUERYBUF_MAX (RESP_MAX_BULK + 1024 * 1024)   /* one max bulk and change */
#define SHUTDOWN_GRACE ASYNC_SEC(5)

typedef struct conn {
    async_task task;
    async_io *io;                   /* accepted by the acceptor into heap storage */
    async_waiter w, wn;
    async_select sel;
    rclient cl;
    resp_cmd cmd;
    rbuf in, out;
    size_t start;                   /* parsed bytes at the front of in */
    int n, rc[2], quit, idle;
    struct conn *prev, *next;       /* every connection: shutdown walks them */
} conn;

typedef struct {
    rdb db;
    async_io lis;
    async_cancel_token root;
    async_joinset conns;
    async_shutdown sd;
    conn *all;
    int stopping;
    long accepted, backoffs;        /* connections, and accept errors waited out */
} server;

static server srv;

/* Parse and run what is buffered: replies go to f->out. 1 if it stopped because
   the output is big enough to send first (there may be more to run), else 0. */
static int conn_process(conn *f) {
    char tmp[64];
    while (f->start < f->in.len) {
        int n;
        if (f->out.len >= CONN_FLUSH_AT) return 1;
        n = resp_parse(f->in.p + f->start, f->in.len - f->start, &f->cmd);
        if (n == 0) return 0;
        if (n < 0) {                            /* the byte in tmp may be CR or LF */
            char msg[96];
            snprintf(msg, sizeof msg, "ERR Protocol error: %s",
                     resp_strerror(n, f->cmd.badch, tmp, sizeof tmp));
            add_error_str(&f->out, msg);
            f->quit = 1;
            return 0;
        }
        f->start += (size_t)n;
        if (f->cmd.argc == 0) continue;
        if (redis_exec(&f->cl, f->cmd.argc, f->cmd.argv, f->cmd.lens, &f->out) &
            EXEC_CLOSE) {
            f->quit = 1;
            return 0;
        }
    }
    return 0;
}

/* Run what is buffered, then queue the published messages waiting behind the
   replies: f->out is what to write next. 1 if there is more to run after it. */
static int conn_batch(conn *f) {
    int more = conn_process(f);
    if (f->cl.pend.len) {
        add_raw(&f->out, f->cl.pend.p, f->cl.pend.len);
        f->cl.pend.len = 0;
        if (f->cl.pend.cap > 65536) rbuf_free(&f->cl.pend);
    }
    return more;
}

/* Make room to read: drop the parsed bytes, give memory back after a big command,
   and grow as bytes arrive: doubling once the buffer is nearly full, never past the
   end of the command when it is known, never to what a command claims (a 35-byte
   request claiming a 512 MB bulk reserves nothing), so the buffer is at most about
   twice what came. CONN_E_LIMIT past the query buffer limit, CONN_E_NOMEM when the
   memory is not there (the connection is closed, the server goes on). */
enum { CONN_E_LIMIT = -1, CONN_E_NOMEM = -2 };
static int conn_make_room(conn *f) {
    size_t keep = f->in.len - f->start, want;
    if (f->start) {
        if (keep) memmove(f->in.p, f->in.p + f->start, keep);
        f->in.len = keep;
        f->start = 0;
    }
    if (keep == 0 && f->in.cap > 4 * CONN_INBUF) {
        char *np = (char *)realloc(f->in.p, CONN_INBUF);
        if (np) {
            f->in.p = np;
            f->in.cap = CONN_INBUF;
        }
    }
    want = f->in.len + CONN_INBUF / 4;          /* room for a useful read */
    if (want > CONN_QUERYBUF_MAX || f->cmd.need > CONN_QUERYBUF_MAX) return CONN_E_LIMIT;
    if (want > f->in.cap) {
        size_t cap = f->in.cap * 2;
        char *np;
        if (f->cmd.need >= want && cap > f->cmd.need) cap = f->cmd.need;
        if (cap < want) cap = want;
        if (cap > CONN_QUERYBUF_MAX) cap = CONN_QUERYBUF_MAX;
        if (!(np = (char *)realloc(f->in.p, cap))) return CONN_E_NOMEM;
        f->in.p = np;
        f->in.cap = cap;
    }
    return 0;
}

static int conn_run(async_task *t) {
    conn *f = (conn *)t;
    ASYNC_BEGIN(t);
    client_init(&f->cl, &srv.db);
    f->cl.task = t;                             /* PUBLISH aborts it to cut it off */
    f->in.p = (char *)xcalloc(1, CONN_INBUF);
    f->in.cap = CONN_INBUF;
    async_sock_set_nodelay(f->io, 1);
    for (;;) {
        f->n = conn_batch(f);
        if (f->out.len) {
            ASYNC_AWAIT(f->rc[0], async_io_write_all(t, f->io, &f->w, f->out.p,
                                                     f->out.len));
            if (f->rc[0] < 0) break;
            f->out.len = 0;
            if (f->out.cap > 1024 * 1024) rbuf_free(&f->out);
        }
        if (f->quit || f->cl.kill || srv.stopping) break;
        if (f->n) continue;                     /* more commands already buffered */
        if ((f->rc[0] = conn_make_room(f)) < 0) {
            if (f->rc[0] == CONN_E_LIMIT)
                ADD_LIT(&f->out, "-ERR Protocol error: query buffer limit exceeded\r\n");
            else
                ADD_LIT(&f->out, "-ERR out of memory for the query buffer\r\n");
            f->quit = 1;
            continue;
        }
        f->idle = 1;                            /* nothing in flight: shutdown may abort */
        if (f->cl.nchans || f->cl.pend.len) {
            /* subscribed: wake for a command or for a published message */
            ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
                ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                    async_notify_wait(t, &f->cl.notify, &f->wn));
                ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1],
                                    async_io_read(t, f->io, &f->w, f->in.p + f->in.len,
                                                  f->in.cap - f->in.len));
            ASYNC_SELECT_END(&f->sel);
            f->idle = 0;
            if (f->sel.winner == 0) continue;
            f->n = f->rc[1];
        } else {
            ASYNC_AWAIT(f->n, async_io_read(t, f->io, &f->w, f->in.p + f->in.len,
                                            f->in.cap - f->in.len));
            f->idle = 0;
        }
        if (f->n <= 0) break;                   /* EOF or an error */
        f->in.len += (size_t)f->n;
    }
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    client_free(&f->cl);
    resp_cmd_free(&f->cmd);
    rbuf_free(&f->in);
    rbuf_free(&f->out);
    async_io_close(f->io);
    free(f->io);
    f->io = NULL;
    if (f->prev) f->prev->next = f->next;
    else if (srv.all == f) srv.all = f->next;
    if (f->next) f->next->prev = f->prev;
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    async_select sel;
    async_waiter w[3];
    async_timer timer;
    async_io *io;                   /* the next connection's storage */
    async_task *got, *h;
    int rc[3], result;
} acceptor;

/* How long the acceptor waits after an accept error before it accepts again. Out of
   descriptors (EMFILE, ENFILE) or of kernel memory for one (ENOBUFS, ENOMEM; also a
   failed registration) the listener stays ready, so retrying at once would spin;
   connections being served may close and free some. Other errors (EPERM...)
   concern one connection only. */
static int accept_backoff_ms(int rc) {
    if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) return 50;
    return 0;
}

static int acceptor_run(async_task *t) {
    acceptor *f = (acceptor *)t;
    conn *c, *next;
    ASYNC_BEGIN(t);
    for (;;) {
        if (!f->io) f->io = (async_io *)xcalloc(1, sizeof(async_io));
        ASYNC_SELECT_BEGIN(&f->sel, 3, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &srv.root, &f->w[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, async_joinset_len(&srv.conns) > 0, f->rc[1],
                                async_joinset_join_next(t, &srv.conns, &f->w[1], &f->got,
                                                        &f->result));
            ASYNC_SELECT_BRANCH(&f->sel, 2, 1, f->rc[2],
                                async_sock_accept(t, &srv.lis, &f->w[2], f->io, NULL));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;          /* shutdown */
        if (f->sel.winner != 2) continue;       /* a connection task was reaped */
        if (accept_backoff_ms(f->rc[2]) > 0) {
            srv.backoffs++;
            ASYNC_AWAIT(f->rc[2], async_time_sleep(t, &f->timer,
                                                   ASYNC_MS(accept_backoff_ms(f->rc[2]))));
            continue;
        }
        if (f->rc[2] < 0) continue;             /* ECONNABORTED and such: next one */
        if (async_joinset_spawn_alloc(&srv.conns, conn_run, sizeof(conn), "conn",
                                      &f->h) < 0) {
            async_io_close(f->io);
            continue;
        }
        c = (conn *)f->h;                       /* queued, not run yet: set it up */
        c->io = f->io;
        f->io = NULL;
        c->next = srv.all;
        if (srv.all) srv.all->prev = c;
        srv.all = c;
        srv.accepted++;
    }
    /* Stop: new connections are refused once the listener closes; connections idle in
       a read have nothing in flight and are aborted now; the others finish the batch
       they are running, write its replies and then see `stopping`. */
    srv.stopping = 1;
    async_io_close(&srv.lis);
    for (c = srv.all; c; c = next) {
        next = c->next;
        if (c->idle) async_task_abort(&c->task);
    }
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    if (f->io) {
        async_io_close(f->io);
        free(f->io);
        f->io = NULL;
    }
    ASYNC_END(0);
}

/* Active expiry ten times a second, a bounded slice of the table each time (lazy
   expiry on access does the rest). */
typedef struct {
    async_task task;
    async_select sel;
    async_waiter w;
    async_interval iv;
    async_time when;
    int rc[2];
} sweeper;

static int sweeper_run(async_task *t) {
    sweeper *f = (sweeper *)t;
    ASYNC_BEGIN(t);
    async_interval_init(&f->iv, ASYNC_MS(100), ASYNC_TICK_SKIP);
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc[0],
                                async_cancel_token_wait(t, &srv.root, &f->w));
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc[1],
                                async_interval_tick(t, &f->iv, &f->when));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 0) break;
        rdb_sweep(&srv.db, 4096);
    }
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    acceptor acc;
    sweeper sw;
    int port, rc;
} server_main;

static int server_main_run(async_task *t) {
    server_main *f = (server_main *)t;
    ASYNC_BEGIN(t);
    {
        async_addr a, bound;
        char text[32];
        snprintf(text, sizeof text, "127.0.0.1:%d", f->port);
        if ((f->rc = async_addr_parse(&a, text)) < 0 ||
            (f->rc = async_sock_listen(async_task_runtime(t), &srv.lis, &a, NULL)) < 0 ||
            (f->rc = async_sock_local_addr(&srv.lis, &bound)) < 0) {
            fprintf(stderr, "miniredis: cannot listen on %s: %s\n", text,
                    async_strerror(f->rc));
            ASYNC_RETURN(1);
        }
        f->port = async_addr_port(&bound);
    }
    async_cancel_token_init(&srv.root);
    async_joinset_init(&srv.conns, async_task_runtime(t));
    /* the signals are ours before anyone learns the port: a SIGTERM then is a shutdown,
       and a server that could not take them never said it was there */
    if ((f->rc = async_shutdown_init(&srv.sd, async_task_runtime(t), &srv.root, &srv.conns, NULL,
                                     SHUTDOWN_GRACE)) < 0) {
        fprintf(stderr, "miniredis: signals: %s\n", async_strerror(f->rc));
        ASYNC_RETURN(1);
    }
    printf("listening on 127.0.0.1:%d\n", f->port);
    fflush(stdout);
    async_task_spawn(async_task_runtime(t), &f->acc.task, acceptor_run, "acceptor");
    async_task_spawn(async_task_runtime(t), &f->sw.task, sweeper_run, "sweeper");
    /* until SIGINT or SIGTERM; then the root token stops the acceptor and the sweeper,
       the connections drain (aborted after the grace period) */
    ASYNC_AWAIT(f->rc, async_shutdown_run(t, &srv.sd));
    fprintf(stderr, "miniredis: %s: %ld connections served, %d aborted at the deadline\n",
            srv.sd.signo ? "signal" : "shutdown", srv.accepted, f->rc);
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->acc.task));
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->sw.task));
    async_shutdown_destroy(&srv.sd);
    async_joinset_destroy(&srv.conns);
    async_cancel_token_destroy(&srv.root);
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    async_io_close(&srv.lis);
    ASYNC_END(0);
}

/* The whole program; main below is only this (a test could run it on a thread). */
int miniredis_main(int argc, char **argv);
int miniredis_main(int argc, char **argv) {
    static async_runtime rt;
    static server_main m;
    char *end = NULL;
    long port = -1;
    int rc;
    if (argc == 2) {
        errno = 0;
        port = strtol(argv[1], &end, 10);
    }
    if (argc != 2 || !argv[1][0] || *end || errno || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT   (0: any free port)\n", argv[0]);
        return 2;
    }
    rdb_init(&srv.db);
    m.port = (int)port;
    if ((rc = async_runtime_init(&rt, NULL)) < 0) {
        fprintf(stderr, "miniredis: runtime: %s\n", async_strerror(rc));
        return 1;
    }
    rc = async_runtime_block_on(&rt, &m.task, server_main_run, "main");
    async_runtime_destroy(&rt);
    rdb_clear(&srv.db);
    free(srv.db.slots);
    free(srv.db.chans);
    return rc == 0 ? 0 : 1;
}

#ifndef MINIREDIS_NO_MAIN
int main(int argc, char **argv) { return miniredis_main(argc, argv); }
#endif
