/* fuzz_redis_cmd.c - libFuzzer harness for examples/miniredis.c's command layer, as
   the server runs it: the bytes of up to three clients go through each connection's
   own buffer (conn_make_room: the room a read would get), parser and dispatcher
   (conn_batch: the replies, then the published messages), on one store.

     make build/fuzz/fuzz_redis_cmd && ./build/fuzz/fuzz_redis_cmd \
         -dict=tests/fuzz/fuzz_redis_cmd.dict build/fuzz/fuzz_redis_cmd.corpus \
         tests/fuzz/corpus/fuzz_redis_cmd

   The input is the first client's bytes until a 0xff byte; the byte after it says
   what comes next ((sel & 0x1f) % 3: whose bytes follow; sel & 0x40: that client
   first hangs up and a new one takes its place; sel & 0x20: it stops, or starts
   again, reading its published messages; sel & 0x80: the clock moves
   (sel >> 3 & 3) * 300 ms and the expiry sweep runs). Subscribers are cut off past a 2 KB queue here, so the slow
   ones are reached.

   Checked after every batch: the output is a sequence of well-formed RESP values
   without the stale bytes written past what each read brought in; the store, every
   client and the pub/sub links on both sides are consistent (redis_check.h); an
   input buffer grows only with what it holds. Each input gets a fresh store and
   frees everything at the end: LeakSanitizer sees a leak. */
#define MINIREDIS_NO_MAIN
#define RPUBSUB_LIMIT ((size_t)2048)
#include "../../examples/miniredis.c"
#include "resp_check.h"
#include "redis_check.h"
#include <assert.h>

#define FZ_CLIENTS 3

/* Stale bytes: what a buffer holds past what was read into it. They are 0xff bytes,
   which never reach a client (0xff separates them in the input) and are in no fixed
   reply text: a reply that holds one read past an argument, even without ASan. */
static const char fz_stale[] = "\xff<stale-bytes>\xff";
#define FZ_STALE_LEN (sizeof fz_stale - 1)

static int64_t fz_ms;
static int64_t fz_clock(void *user) { (void)user; return fz_ms; }

typedef struct {
    conn f;
    int deaf;                       /* does not read its published messages */
} fz_client;

static void fz_open(fz_client *c, rdb *db) {
    memset(c, 0, sizeof *c);
    client_init(&c->f.cl, db);
    c->f.in.p = (char *)xcalloc(1, CONN_INBUF);
    c->f.in.cap = CONN_INBUF;
}

static void fz_close(fz_client *c) {
    client_free(&c->f.cl);
    resp_cmd_free(&c->f.cmd);
    rbuf_free(&c->f.in);
    rbuf_free(&c->f.out);
}

static void fz_check(rdb *db, fz_client *cs) {
    rclient *all[FZ_CLIENTS];
    int i, line;
    for (i = 0; i < FZ_CLIENTS; i++) all[i] = &cs[i].f.cl;
    line = pubsub_check(db, all, FZ_CLIENTS);
    if (line) {
        fprintf(stderr, "tests/fuzz/redis_check.h:%d failed\n", line);
        abort();
    }
}

/* What the connection sends: well-formed RESP, then nothing is left to send. */
static void fz_written(conn *f) {
    long n = resp_values(f->out.p, f->out.len);
    if (n < 0) {
        fprintf(stderr, "malformed output: \"%.*s\"\n", (int)f->out.len, f->out.p);
        abort();
    }
    if (f->out.len && memchr(f->out.p, 0xff, f->out.len)) {
        fprintf(stderr, "stale bytes in: \"%.*s\"\n", (int)f->out.len, f->out.p);
        abort();
    }
    f->out.len = 0;
}

/* After a batch: a connection that quit, hit a protocol error or was cut off hangs
   up, and a new client takes its place. */
static void fz_after(fz_client *c, rdb *db) {
    fz_written(&c->f);
    if (c->f.quit || c->f.cl.kill) {
        fz_close(c);
        fz_open(c, db);
    }
}

/* The bytes p[0..n) reach client c as reads into the room its buffer offers. */
static void fz_feed(fz_client *c, rdb *db, const uint8_t *p, size_t n) {
    conn *f = &c->f;
    while (n) {
        size_t room, k, cap, i;
        while (conn_batch(f)) fz_written(f);   /* more to run after a flush */
        fz_after(c, db);
        f = &c->f;
        cap = f->in.cap;
        if (conn_make_room(f) < 0) {            /* the query buffer limit: hang up */
            fz_close(c);
            fz_open(c, db);
            continue;
        }
        room = f->in.cap - f->in.len;
        assert(room > 0);
        /* it grows with what came, whatever a command claims */
        assert(f->in.cap <= cap || f->in.cap <= 2 * f->in.len + CONN_INBUF);
        k = n < room ? n : room;
        memcpy(f->in.p + f->in.len, p, k);
        f->in.len += k;
        for (i = 0; i < 4 && f->in.cap - f->in.len >= (i + 1) * FZ_STALE_LEN; i++)
            memcpy(f->in.p + f->in.len + i * FZ_STALE_LEN, fz_stale, FZ_STALE_LEN);
        p += k;
        n -= k;
    }
    while (conn_batch(f)) fz_written(f);
    fz_after(c, db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_client cs[FZ_CLIENTS];
    rdb db;
    size_t pos = 0;
    int cur = 0, i;
    if (size > 1 << 16) return 0;
    rdb_init(&db);
    db.now = fz_clock;
    fz_ms = 1000000;
    for (i = 0; i < FZ_CLIENTS; i++) fz_open(&cs[i], &db);
    while (pos < size) {
        const uint8_t *sep = (const uint8_t *)memchr(data + pos, 0xff, size - pos);
        size_t end = sep ? (size_t)(sep - data) : size;
        fz_feed(&cs[cur], &db, data + pos, end - pos);
        fz_check(&db, cs);
        /* the subscribers that read take their messages, as their tasks would */
        for (i = 0; i < FZ_CLIENTS; i++) {
            if (cs[i].deaf || !cs[i].f.cl.pend.len) continue;
            fz_feed(&cs[i], &db, NULL, 0);
        }
        fz_check(&db, cs);
        pos = end + 1;
        if (pos < size) {
            uint8_t sel = data[pos++];
            cur = (sel & 0x1f) % FZ_CLIENTS;
            if (sel & 0x40) {
                fz_close(&cs[cur]);
                fz_open(&cs[cur], &db);
            }
            if (sel & 0x20) cs[cur].deaf = !cs[cur].deaf;
            if (sel & 0x80) {
                fz_ms += ((sel >> 3) & 3) * 300;
                rdb_sweep(&db, 64);
            }
            fz_check(&db, cs);
        }
    }
    for (i = 0; i < FZ_CLIENTS; i++) fz_close(&cs[i]);
    assert(db.nchans == 0 && db.chmask == 15);      /* everyone left their channels */
    rdb_clear(&db);
    free(db.slots);
    free(db.chans);
    return 0;
}
