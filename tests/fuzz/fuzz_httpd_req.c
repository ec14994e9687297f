/* fuzz_httpd_req.c - libFuzzer harness for the request handler of examples/httpd.c.

     make build/fuzz/fuzz_httpd_req
     ./build/fuzz/fuzz_httpd_req -dict=tests/fuzz/fuzz_httpd_req.dict \
         build/fuzz/fuzz_httpd_req.corpus tests/fuzz/corpus/fuzz_httpd_req

   Each input is a stream of pipelined requests, answered as the connection task does
   it: parse, conn_respond while the write buffer has room for one more answer, a
   parse error answered and the connection closed, then the buffer "sent" and a file
   too big for it "streamed" (its descriptor checked, then closed), and on until the
   input runs out or the connection closes. ROOT is made at startup: a few files, a
   directory, a symlink that points out of ROOT at a secret file beside it, one that
   points back up to ROOT, and one that loops.

   Invariants: every answer is well formed (the status line of a status httpd knows,
   header lines of tchar names, exactly one Content-Length, then exactly that many
   body bytes, none for HEAD); one answer per request, in order; "Connection: close"
   on the last answer before the connection closes and on no other; a 200 body is
   "Hello, World!" or exactly the bytes of one of ROOT's files, and a streamed file is
   one of ROOT's (by device and inode): nothing outside ROOT is ever served. The
   input and the write buffer are exact-size allocations, so ASan sees any read or
   write past them. */
#define HTTPD_NO_MAIN
#include "../../examples/httpd.c"
#include <stdint.h>

static void cleanup(void);
#define FUZZ_CHECK(c) do { if (!(c)) { \
        fprintf(stderr, "fuzz_httpd_req: %s (line %d)\n", #c, __LINE__); \
        cleanup(); abort(); } } while (0)

/* ---- ROOT ---------------------------------------------------------------------------- */
static char base[64];                   /* the temporary directory: ROOT and the secret */
static char root_real[PATH_MAX];

static const struct {
    const char *path;                   /* under ROOT; NULL content: a directory */
    const char *content;
} files[] = {
    {"sub", NULL},
    {"index.html", "<h1>index</h1>\n"},
    {"a.txt", "alpha\n"},
    {"a b.txt", "with a space\n"},
    {"sub/b.css", "b { color: red }\n"},
    {"empty.txt", ""},
    {"big.bin", NULL},                  /* made below: bigger than the write buffer */
};
static const char secret[] = "SECRET OUTSIDE THE ROOT\n";
static char big[20000];
static struct stat served[8];           /* each regular file of ROOT */
static int nserved;

static void put_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void cleanup(void) {
    char p[PATH_MAX];
    if (!base[0]) return;
    size_t i;
    static const char *const links[] = {"sub/out", "sub/up", "loop"};
    for (i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/root/%s", base, links[i]);
        unlink(p);
    }
    for (i = sizeof files / sizeof files[0]; i-- > 0;) {
        snprintf(p, sizeof p, "%s/root/%s", base, files[i].path);
        if (remove(p) < 0) (void)0;
    }
    snprintf(p, sizeof p, "%s/root", base);
    rmdir(p);
    snprintf(p, sizeof p, "%s/secret.txt", base);
    unlink(p);
    rmdir(base);
    base[0] = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char p[PATH_MAX];
    size_t i;
    (void)argc;
    (void)argv;
    snprintf(base, sizeof base, "/tmp/fuzz_httpd_req.XXXXXX");
    FUZZ_CHECK(mkdtemp(base) != NULL);
    atexit(cleanup);
    snprintf(p, sizeof p, "%s/root", base);
    FUZZ_CHECK(mkdir(p, 0755) == 0);
    for (i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/root/%s", base, files[i].path);
        if (strcmp(files[i].path, "big.bin") == 0) put_file(p, big, sizeof big);
        else if (files[i].content) put_file(p, files[i].content, strlen(files[i].content));
        else FUZZ_CHECK(mkdir(p, 0755) == 0);
        if ((strcmp(files[i].path, "big.bin") == 0 || files[i].content) &&
            nserved < (int)(sizeof served / sizeof served[0]))
            FUZZ_CHECK(stat(p, &served[nserved++]) == 0);
    }
    snprintf(p, sizeof p, "%s/secret.txt", base);
    put_file(p, secret, sizeof secret - 1);
    snprintf(p, sizeof p, "%s/root/sub/out", base);
    FUZZ_CHECK(symlink("../../secret.txt", p) == 0);
    snprintf(p, sizeof p, "%s/root/sub/up", base);
    FUZZ_CHECK(symlink("..", p) == 0);
    snprintf(p, sizeof p, "%s/root/loop", base);
    FUZZ_CHECK(symlink("loop", p) == 0);
    snprintf(p, sizeof p, "%s/root", base);
    FUZZ_CHECK(realpath(p, root_real) != NULL);
    srv.root_dir = root_real;
    srv.root_len = strlen(root_real);
    build_hello();
    return 0;
}

/* ---- the answers --------------------------------------------------------------------- */
/* A 200 body: Hello, or exactly one of ROOT's files. */
static int known_body(const char *b, size_t n) {
    size_t i;
    if (n == 13 && memcmp(b, "Hello, World!", 13) == 0) return 1;
    if (n == sizeof big && memcmp(b, big, n) == 0) return 1;
    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i].content && strlen(files[i].content) == n &&
            memcmp(b, files[i].content, n) == 0)
            return 1;
    return 0;
}

static const char *find(const char *h, size_t n, const char *what) {
    size_t k = strlen(what), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(h + i, what, k) == 0) return h + i;
    return NULL;
}

/* Checks the answers buf[0..len): one per entry of body[] (1: a body follows the head,
   0: HEAD), the last one with its body still to stream when `streamed` (its size in
   *stream_len), "Connection: close" on the last iff `closing`. */
static void check_answers(const char *buf, size_t len, const int *body, int n, int streamed,
                          int closing, long long *stream_len) {
    size_t p = 0;
    int k;
    for (k = 0; k < n; k++) {
        const char *h = buf + p, *end = find(h, len - p, "\r\n\r\n"), *line, *reason;
        size_t head;
        int status, nlen = 0, has_close = 0, last = k == n - 1;
        unsigned long long cl = 0;
        FUZZ_CHECK(end != NULL);
        head = (size_t)(end + 4 - h);
        FUZZ_CHECK(head > 17 && memcmp(h, "HTTP/1.1 ", 9) == 0 && h[12] == ' ');
        FUZZ_CHECK(h[9] >= '1' && h[9] <= '5' && h[10] >= '0' && h[10] <= '9' &&
                   h[11] >= '0' && h[11] <= '9');
        status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        FUZZ_CHECK(status == 200 || status == 400 || status == 403 || status == 404 ||
                   status == 405 || status == 413 || status == 414 || status == 431 ||
                   status == 505);
        reason = http_reason(status);
        FUZZ_CHECK(memcmp(h + 13, reason, strlen(reason)) == 0 &&
                   memcmp(h + 13 + strlen(reason), "\r\n", 2) == 0);
        /* the header lines, up to the empty one */
        for (line = h + 15 + strlen(reason); line < end + 2;) {
            const char *eol = find(line, (size_t)(end + 2 - line), "\r\n"), *colon;
            size_t i;
            FUZZ_CHECK(eol != NULL);
            colon = memchr(line, ':', (size_t)(eol - line));
            FUZZ_CHECK(colon && colon > line && colon[1] == ' ');
            for (i = 0; line + i < colon; i++) FUZZ_CHECK(http_tchar((unsigned char)line[i]));
            for (i = 0; colon + 2 + i < eol; i++)
                FUZZ_CHECK(colon[2 + i] >= 0x20 && colon[2 + i] < 0x7f);
            if (http_ieq(line, (size_t)(colon - line), "content-length")) {
                const char *d;
                nlen++;
                FUZZ_CHECK(colon + 2 < eol);
                for (d = colon + 2; d < eol; d++) {
                    FUZZ_CHECK(*d >= '0' && *d <= '9');
                    cl = cl * 10 + (unsigned)(*d - '0');
                }
            }
            if (http_ieq(line, (size_t)(colon - line), "connection") &&
                http_ieq(colon + 2, (size_t)(eol - colon - 2), "close"))
                has_close = 1;
            line = eol + 2;
        }
        FUZZ_CHECK(nlen == 1);
        FUZZ_CHECK(has_close == (last && closing));
        p += head;
        if (last && streamed) {         /* the file's bytes follow from its descriptor */
            FUZZ_CHECK(status == 200 && body[k] && p == len);
            *stream_len = (long long)cl;
            return;
        }
        if (!body[k]) continue;
        FUZZ_CHECK(cl <= len - p);
        if (status == 200) FUZZ_CHECK(known_body(buf + p, (size_t)cl));
        else FUZZ_CHECK(cl == strlen(reason) + 1 && memcmp(buf + p, reason, cl - 1) == 0);
        p += (size_t)cl;
    }
    FUZZ_CHECK(p == len);
}

/* A streamed file: one of ROOT's, of the size the head said, and it is closed. */
static void check_stream(int fd, long long left, long long said) {
    struct stat st;
    int i, ok = 0;
    FUZZ_CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
    for (i = 0; i < nserved; i++)
        if (st.st_dev == served[i].st_dev && st.st_ino == served[i].st_ino) ok = 1;
    FUZZ_CHECK(ok);
    FUZZ_CHECK(left == said && left == (long long)st.st_size && left > 0);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { MAX_ANSWERS = WBUF / 64 };   /* the smallest answer is longer than that */
    static int body[MAX_ANSWERS];
    static conn c;
    char *in, *wbuf;
    size_t pos = 0;
    if (size > 64 * 1024) return 0;
    in = malloc(size ? size : 1);
    wbuf = malloc(WBUF);
    FUZZ_CHECK(in && wbuf);
    memcpy(in, data, size);
    memset(&c, 0, sizeof c);
    c.wbuf = wbuf;
    c.file_fd = -1;
    for (;;) {                          /* as conn_run: answer, send, stream, read on */
        int n = 0, need = 0;
        long long said = -1;
        while (!c.closing && c.file_fd < 0 && WBUF - c.wlen >= WROOM) {
            http_req r;
            int rc;
            if (pos == size) {
                need = 1;
                break;
            }
            rc = http_parse(in + pos, size - pos, &r);
            if (rc == 0) {
                need = 1;
                break;
            }
            FUZZ_CHECK(n < MAX_ANSWERS);
            if (rc < 0) {
                conn_error(&c, -rc, 0);
                body[n++] = 1;
                break;
            }
            pos += (size_t)rc;
            body[n++] = r.meth != HTTP_HEAD;
            conn_respond(&c, &r);
        }
        FUZZ_CHECK(c.wlen <= WBUF);
        check_answers(wbuf, c.wlen, body, n, c.file_fd >= 0, c.closing, &said);
        c.wlen = 0;
        if (c.file_fd >= 0) {
            check_stream(c.file_fd, c.file_left, said);
            c.file_fd = -1;
        }
        if (c.closing || need) break;
    }
    free(in);
    free(wbuf);
    return 0;
}
