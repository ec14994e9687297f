/* fuzz_resp.c - libFuzzer harness for examples/miniredis.c's RESP parser and executor.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_resp.c \
           -o build/fuzz_resp && ./build/fuzz_resp -max_total_time=30

   Each input is parsed as a connection would see it, twice: whole, and in two pieces
   (the split point taken from the first byte) fed through the resumable parser. Both
   must give the same commands (or the same error at the same place). Every command
   parsed from the whole input runs against a small store on a fake clock that the
   input also moves; after each one the reply must be well-formed RESP holding none
   of the stale bytes that follow the input in memory (a read past an argument shows
   there even without a sanitizer), and the store's invariants must hold.
   tests/fuzz/corpus/fuzz_resp/ and fuzz_resp.dict (make fuzz uses both) have every
   command with its options. */
#define MINIREDIS_NO_MAIN
#include "../../examples/miniredis.c"
#include "resp_check.h"
#include "redis_check.h"
#include <assert.h>

/* What follows the input in memory, as earlier requests follow it in a connection's
   buffer. A reply may hold it only if the input does. */
static const char fz_stale[] = "\x7f<stale-bytes>\x7f";
#define FZ_STALE_LEN (sizeof fz_stale - 1)

static int fz_has(const char *hay, size_t n, const char *needle, size_t k) {
    size_t i;
    for (i = 0; i + k <= n; i++) if (memcmp(hay + i, needle, k) == 0) return 1;
    return 0;
}
static int fz_input_has_stale;

static int64_t fz_now_ms;
static int64_t fz_now(void *user) { (void)user; return fz_now_ms; }

/* A digest of what the parser produced: argc and args of each command, then the end. */
typedef struct {
    uint64_t h;
    int cmds, err;
    size_t consumed;
} digest;

static void dg_add(digest *d, const void *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) d->h = (d->h ^ s[i]) * 0x100000001b3ull;
}

static void dg_cmd(digest *d, const resp_cmd *c) {
    int i;
    dg_add(d, &c->argc, sizeof c->argc);
    for (i = 0; i < c->argc; i++) {
        dg_add(d, &c->lens[i], sizeof c->lens[i]);
        dg_add(d, c->argv[i], c->lens[i]);
    }
    d->cmds++;
}

/* Parse buf[0..len) arriving in two pieces (have = split first, then all). */
static void parse_stream(char *buf, size_t len, size_t split, digest *d, rclient *cl) {
    resp_cmd c;
    rbuf out = {0, 0, 0};
    size_t start = 0, have = split < len ? split : len;
    memset(&c, 0, sizeof c);
    memset(d, 0, sizeof *d);
    d->h = 0xcbf29ce484222325ull;
    for (;;) {
        int rc = start < have ? resp_parse(buf + start, have - start, &c) : 0;
        if (rc < 0) {
            d->err = rc;
            break;
        }
        if (rc == 0) {
            if (have == len) break;
            have = len;
            continue;
        }
        assert((size_t)rc <= have - start);
        assert(c.argc >= 0 && c.argc <= RESP_MAX_MULTIBULK);
        dg_cmd(d, &c);
        if (cl && c.argc > 0) {
            int r = redis_exec(cl, c.argc, c.argv, c.lens, &out), line;
            assert(r == 0 || r == EXEC_CLOSE);
            if (resp_values(out.p, out.len) < 1) {
                fprintf(stderr, "malformed reply: \"%.*s\"\n", (int)out.len, out.p);
                abort();
            }
            if (!fz_input_has_stale && fz_has(out.p, out.len, fz_stale, FZ_STALE_LEN)) {
                fprintf(stderr, "stale bytes in: \"%.*s\"\n", (int)out.len, out.p);
                abort();
            }
            out.len = 0;
            if ((line = pubsub_check(cl->db, &cl, 1)) != 0) {
                fprintf(stderr, "tests/fuzz/redis_check.h:%d failed\n", line);
                abort();
            }
            fz_now_ms += (unsigned char)c.argv[0][0] % 3 ? 0 : 700;   /* time moves */
        }
        start += (size_t)rc;
    }
    d->consumed = start;
    resp_cmd_free(&c);
    rbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static rdb db;
    static int init;
    rclient cl;
    digest whole, parts;
    char *a, *b;
    size_t split, i;
    if (size > 1 << 16) return 0;
    if (!init) {
        rdb_init(&db);
        db.now = fz_now;
        init = 1;
    }
    fz_now_ms = 1000;
    a = (char *)malloc(size + 4 * FZ_STALE_LEN);
    b = (char *)malloc(size + 1);
    memcpy(a, data, size);
    memcpy(b, data, size);
    for (i = 0; i < 4; i++) memcpy(a + size + i * FZ_STALE_LEN, fz_stale, FZ_STALE_LEN);
    fz_input_has_stale = fz_has((const char *)data, size, fz_stale, FZ_STALE_LEN);
    split = size ? (size_t)data[0] * size / 256 : 0;
    client_init(&cl, &db);
    parse_stream(a, size, size, &whole, &cl);           /* whole, and executed */
    parse_stream(b, size, split, &parts, NULL);         /* in two pieces */
    assert(whole.h == parts.h && whole.cmds == parts.cmds && whole.err == parts.err &&
           whole.consumed == parts.consumed);
    client_free(&cl);
    assert(db.nchans == 0);                             /* the client left its channels */
    rdb_clear(&db);              /* each input starts afresh: a crash reproduces alone */
    free(a);
    free(b);
    return 0;
}
