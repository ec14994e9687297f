/* fuzz_http.c - libFuzzer harness for the HTTP parser of examples/httpd.c.

     make build/fuzz/fuzz_http
     ./build/fuzz/fuzz_http -max_total_time=60 -dict=tests/fuzz/fuzz_http.dict \
         build/fuzz/fuzz_http.corpus tests/fuzz/corpus/fuzz_http

   The seeds (tests/fuzz/corpus/fuzz_http/, one request or a pipelined set per file)
   and the dictionary (methods, the headers the parser reads and others, percent
   escapes, dot segments) are shared with fuzz_httpd_req, the request handler's.

   Each input is parsed as a stream of pipelined requests, whole and then revealed
   in two pieces (cut at a point taken from the input): the second must give the
   same requests and the same final outcome as the first, as a server reading the
   bytes in two reads would see. Invariants: a request consumes at least its
   request line and never more than it was given, at most HTTP_MAX_HEAD bytes;
   errors are only -400, -431 or -505; the fields point inside the buffer; the
   path decoder stays in bounds and its output has no ".." segment and no NUL. */
#define HTTPD_NO_MAIN
#include "../../examples/httpd.c"
#include <stdint.h>
#include <stdlib.h>

#define FUZZ_CHECK(c) do { if (!(c)) { \
        fprintf(stderr, "fuzz_http: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

enum { MAX_REQS = 64 };

typedef struct {
    int rc;                             /* > 0 consumed, < 0 error */
    int meth, minor, keep_alive, has_te;
    unsigned long long content_length;
    size_t path_off, path_len;
} outcome;

static int in_buf(const char *p, size_t n, const uint8_t *buf, size_t len) {
    return (const uint8_t *)p >= buf && (const uint8_t *)p + n <= buf + len;
}

static void check_path(const char *p, size_t n) {
    char out[256];
    int rc = http_path_decode(p, n, out, sizeof out);
    FUZZ_CHECK(rc == -400 || rc == -403 || rc == -414 ||
               (rc > 0 && (size_t)rc < sizeof out));
    if (rc > 0) {
        size_t i, seg = 0;
        FUZZ_CHECK(strlen(out) == (size_t)rc && out[0] == '/');
        for (i = 1; i <= (size_t)rc; i++) {
            if (i == (size_t)rc || out[i] == '/') {
                FUZZ_CHECK(!(i - seg - 1 == 2 && out[seg + 1] == '.' &&
                             out[seg + 2] == '.'));
                seg = i;
            }
        }
    }
}

/* Parses buf[0..len) as a stream, the first `avail` bytes available at first. */
static int run(const uint8_t *buf, size_t len, size_t avail, outcome *out) {
    size_t pos = 0;
    int n = 0;
    for (;;) {
        http_req r;
        size_t have = (avail < len ? avail : len) - pos;
        int rc = http_parse((const char *)buf + pos, have, &r);
        if (rc == 0) {
            FUZZ_CHECK(have <= HTTP_MAX_HEAD);      /* more than that is decided */
            if (avail >= len) return n;
            avail = len;
            continue;
        }
        FUZZ_CHECK(n < MAX_REQS);
        memset(&out[n], 0, sizeof out[n]);
        out[n].rc = rc;
        if (rc < 0) {
            FUZZ_CHECK(rc == -400 || rc == -431 || rc == -505);
            return n + 1;
        }
        FUZZ_CHECK((size_t)rc <= have && rc <= HTTP_MAX_HEAD && rc >= 14);
        FUZZ_CHECK(r.meth >= HTTP_GET && r.meth <= HTTP_OTHER);
        FUZZ_CHECK(r.minor == 0 || r.minor == 1);
        FUZZ_CHECK(r.keep_alive == 0 || r.keep_alive == 1);
        FUZZ_CHECK(r.minor == 0 || r.has_host);
        FUZZ_CHECK(in_buf(r.method, r.method_len, buf + pos, (size_t)rc));
        FUZZ_CHECK(in_buf(r.target, r.target_len, buf + pos, (size_t)rc));
        FUZZ_CHECK(in_buf(r.path, r.path_len, buf + pos, (size_t)rc));
        FUZZ_CHECK(r.path_len >= 1 && r.path[0] == '/');
        FUZZ_CHECK(!r.has_host || in_buf(r.host, r.host_len, buf + pos, (size_t)rc));
        FUZZ_CHECK(memchr(r.target, 0, r.target_len) == NULL);
        check_path(r.path, r.path_len);
        out[n].meth = r.meth;
        out[n].minor = r.minor;
        out[n].keep_alive = r.keep_alive;
        out[n].has_te = r.has_te;
        out[n].content_length = r.content_length;
        out[n].path_off = (size_t)((const uint8_t *)r.path - buf);
        out[n].path_len = r.path_len;
        pos += (size_t)rc;
        n++;
        if (pos == len || n == MAX_REQS) return n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static outcome whole[MAX_REQS], split[MAX_REQS];
    uint8_t *buf;
    size_t cut;
    int nw, ns, i;
    if (size > 64 * 1024) return 0;
    /* an exact-size copy: ASan catches any read past the end */
    buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    nw = run(buf, size, size, whole);
    cut = size ? ((size_t)data[0] * 257u + (size > 1 ? data[size - 1] : 0)) % (size + 1)
               : 0;
    ns = run(buf, size, cut, split);
    FUZZ_CHECK(ns == nw);
    for (i = 0; i < nw; i++) {
        FUZZ_CHECK(split[i].rc == whole[i].rc);
        FUZZ_CHECK(split[i].meth == whole[i].meth && split[i].minor == whole[i].minor);
        FUZZ_CHECK(split[i].keep_alive == whole[i].keep_alive);
        FUZZ_CHECK(split[i].has_te == whole[i].has_te);
        FUZZ_CHECK(split[i].content_length == whole[i].content_length);
        FUZZ_CHECK(split[i].path_off == whole[i].path_off);
        FUZZ_CHECK(split[i].path_len == whole[i].path_len);
    }
    /* the path decoder on the raw input too */
    check_path((const char *)buf, size);
    free(buf);
    return 0;
}
