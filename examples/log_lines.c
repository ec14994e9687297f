/* log_lines.c - a large log file read line by line as a stream, in constant memory.

   The program first writes a temporary file (mkstemp in $TMPDIR or /tmp) of 200,000
   synthetic lines, "2026-11-22T10:00:00 LEVEL message N" (N: the line number), about
   1 in 37 of them ERROR and a few longer than a line buffer. Then it reads the file
   twice, as a stream:

   1. source -> filter (ERROR lines) -> enumerate -> take(5): the first five errors,
      numbered. The stream is lazy: the file is read only as far as the fifth error
      (the program prints how far), as a `grep -m 5 ERROR` would.
   2. source -> fold: one pass counting every line and every error; the totals are
      checked against what was written.
   The file is removed at the end. The last line says whether every check held.

   The source is async_stream_from_fn: a plain function that fgets one line into the
   item buffer it is handed. Its items are log_line structs with a fixed char array
   (plus the line number and length), not a pointer and length into one reused buffer:
     - an item is a value, so it stays valid after the next poll, and every adapter
       works with it, including those that keep several items while reading more
       (chunks, buffered, collect, zip). A pointer into a reused buffer would be valid
       only until the next poll: right for filter/enumerate/take/fold, which are done
       with an item before they ask for the next, and silently wrong for the others;
     - it costs no copy here anyway: filter, take and enumerate pass the caller's item
       buffer down to their upstream, so fgets writes straight into the buffer of the
       task at the end of the pipeline (enumerate writes the index before it);
     - the price is a length limit: the rest of a longer line is skipped (and counted
       in `cut`), so counting stays exact and memory stays bounded whatever the input.
   Memory is therefore one log_line in the task's frame and stdio's buffer, however
   large the file: nothing in the pipeline allocates (under valgrind, on glibc, the
   whole program makes 6 allocations, 14 KB: three FILEs and their buffers).

   fgets blocks the thread while it reads, which is fine for a regular file (the page
   cache, or a short disk wait) on a runtime with nothing else to do; a pipe or socket
   would need a source that waits for readiness instead. from_fn spends one unit of
   the task's budget per line, so a long file still yields to other tasks every 128
   lines. A read error comes out once as an error item (-EIO), then the end: a
   from_fn returning an error keeps the stream going, so a source that kept failing
   would otherwise produce error items forever. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NLINES = 200000, TEXT_MAX = 96, FIRST = 5, LONG_EVERY = 20000, LONG_TAIL = 300 };

typedef struct {
    uint64_t lineno;                    /* 1-based line number in the file */
    uint32_t len;                       /* bytes in text, without the newline */
    uint32_t cut;                       /* bytes of the line that did not fit */
    char text[TEXT_MAX];                /* NUL-terminated */
} log_line;

typedef struct {                        /* enumerate's item: the index, then the item */
    uint64_t index;
    log_line line;
} numbered_line;

static async_runtime rt;
static int failures;
static char path[512];

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "log_lines: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

/* ---- the file --------------------------------------------------------------------------- */
static struct {
    long lines, errors, long_lines, bytes;
    uint64_t first[FIRST];              /* line numbers of the first errors */
    char first_text[FIRST][TEXT_MAX];
} written;

static int write_log(void) {
    static const char *const levels[] = {"INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG",
                                         "DEBUG", "WARN"};
    char tail[LONG_TAIL + 1], line[TEXT_MAX + LONG_TAIL + 64];
    const char *dir = getenv("TMPDIR");
    uint32_t x = 12345;
    FILE *fp;
    long i;
    int fd;
    snprintf(path, sizeof path, "%s/log_lines_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0 || !(fp = fdopen(fd, "w"))) {
        perror(path);
        if (fd >= 0) {
            close(fd);
            remove(path);
        }
        path[0] = '\0';
        return -1;
    }
    memset(tail, 'x', LONG_TAIL);
    tail[LONG_TAIL] = '\0';
    for (i = 0; i < NLINES; i++) {
        long secs = 10 * 3600 + i;      /* one line a second from 2026-11-22T10:00:00 */
        int is_long = i % LONG_EVERY == LONG_EVERY - 1, n;
        const char *level;
        x = x * 1664525u + 1013904223u;
        level = is_long || (x >> 24) % 40 == 0 ? "ERROR" : levels[(x >> 8) % 8];
        n = snprintf(line, sizeof line, "2026-11-%02ldT%02ld:%02ld:%02ld %s message %ld%s%s\n",
                     22 + secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60, level, i + 1,
                     is_long ? " detail=" : "", is_long ? tail : "");
        if (level[0] == 'E') {
            if (written.errors < FIRST) {
                written.first[written.errors] = (uint64_t)i + 1;
                snprintf(written.first_text[written.errors], TEXT_MAX, "%.*s", n - 1, line);
            }
            written.errors++;
        }
        written.long_lines += is_long;
        written.bytes += n;
        fputs(line, fp);
    }
    written.lines = NLINES;
    i = ferror(fp);
    if (fclose(fp) != 0 || i) {
        perror(path);
        return -1;
    }
    return 0;
}

/* ---- the line source --------------------------------------------------------------------- */
typedef struct {
    FILE *fp;
    uint64_t lineno;
    int failed;
} line_reader;

/* from_fn's function: 1 with *item written, 0 at the end, < 0 an error item */
static int read_line(void *user, void *item) {
    line_reader *r = (line_reader *)user;
    log_line *l = (log_line *)item;
    size_t n;
    if (r->failed) return 0;
    if (!fgets(l->text, sizeof l->text, r->fp)) {
        if (!ferror(r->fp)) return 0;
        r->failed = 1;
        return -EIO;                    /* one error item, then the end */
    }
    n = strlen(l->text);
    l->cut = 0;
    if (n && l->text[n - 1] == '\n') {
        l->text[--n] = '\0';
    } else {                            /* longer than the buffer: skip the rest */
        int c;
        while ((c = getc(r->fp)) != EOF && c != '\n') l->cut++;
    }
    if (n && l->text[n - 1] == '\r') l->text[--n] = '\0';
    l->len = (uint32_t)n;
    l->lineno = ++r->lineno;
    return 1;
}

static int is_error(const void *item, void *user) {
    const char *sp = strchr(((const log_line *)item)->text, ' ');
    (void)user;
    return sp && strncmp(sp + 1, "ERROR ", 6) == 0;
}

typedef struct { long lines, errors, cut_lines; uint32_t longest; } totals;

static int tally(void *acc, const void *item, void *user) {
    totals *tot = (totals *)acc;
    const log_line *l = (const log_line *)item;
    tot->lines++;
    tot->errors += is_error(item, user);
    tot->cut_lines += l->cut != 0;
    if (l->len + l->cut > tot->longest) tot->longest = l->len + l->cut;
    return 0;
}

static int open_reader(line_reader *r, async_stream_from_fn *src) {
    memset(r, 0, sizeof *r);
    r->fp = fopen(path, "r");
    if (!r->fp) {
        perror(path);
        return -1;
    }
    must(async_stream_from_fn_init(src, sizeof(log_line), read_line, r),
         "async_stream_from_fn_init");
    return 0;
}

/* ---- the task ---------------------------------------------------------------------------- */
typedef struct {
    async_task task;
    int rc, found;
    line_reader rd;
    async_stream_from_fn src;
    async_stream_filter errors;
    async_stream_count numbered, first;
    async_stream_sink k;
    numbered_line item;                 /* the only line buffer of pass 1 ... */
    log_line scratch;                   /* ... and of pass 2 */
    totals tot;
    async_time started;
} scan_frame;

static double ms_since(async_time start) { return (double)(async_time_now(&rt) - start) / 1e6; }

static int scan(async_task *t) {
    scan_frame *f = (scan_frame *)t;
    ASYNC_BEGIN(t);

    printf("1. from_fn (lines) -> filter (ERROR) -> enumerate -> take(5)\n");
    if (open_reader(&f->rd, &f->src) != 0) ASYNC_RETURN(-1);
    must(async_stream_filter_init(&f->errors, &f->src.base, is_error, NULL),
         "async_stream_filter_init");
    must(async_stream_enumerate_init(&f->numbered, &f->errors.base),
         "async_stream_enumerate_init");
    must(async_stream_take_init(&f->first, &f->numbered.base, FIRST), "async_stream_take_init");
    check(f->first.base.item_size == sizeof f->item, "enumerate's item is numbered_line");
    for (;;) {
        ASYNC_AWAIT(f->rc, async_stream_next(t, &f->first.base, &f->item));
        if (f->rc != ASYNC_ITEM) break;
        f->found++;
        printf("   error #%d, line %6lu: %s\n", (int)f->item.index + 1,
               (unsigned long)f->item.line.lineno, f->item.line.text);
        check(f->item.index == (uint64_t)f->found - 1, "enumerate counts from 0");
        if (f->item.index < FIRST) {
            check(f->item.line.lineno == written.first[f->item.index], "the error's line");
            check(strcmp(f->item.line.text, written.first_text[f->item.index]) == 0,
                  "the error's text");
        }
    }
    check(f->rc == 0 && f->found == FIRST, "five errors, then the end");
    printf("   read %lu of %ld lines to find them\n", (unsigned long)f->rd.lineno,
           written.lines);
    check(f->rd.lineno == written.first[FIRST - 1], "nothing read past the fifth error");
    fclose(f->rd.fp);
    f->rd.fp = NULL;

    printf("2. from_fn (lines) -> fold (count lines and errors)\n");
    if (open_reader(&f->rd, &f->src) != 0) ASYNC_RETURN(-1);
    f->started = async_time_now(&rt);
    ASYNC_AWAIT(f->rc, async_stream_fold(t, &f->src.base, &f->k, &f->tot, tally, NULL,
                                         &f->scratch));
    printf("   %ld lines, %ld errors, %ld cut at %d bytes (the longest has %lu) in %.0f ms\n",
           f->tot.lines, f->tot.errors, f->tot.cut_lines, TEXT_MAX - 1,
           (unsigned long)f->tot.longest, ms_since(f->started));
    printf("   written: %ld lines (%.1f MB), %ld errors, %ld long lines\n", written.lines,
           (double)written.bytes / 1e6, written.errors, written.long_lines);
    check(f->rc == 0 && f->k.errors == 0, "the fold read to the end without error items");
    check(f->tot.lines == written.lines && (long)f->k.count == written.lines, "every line");
    check(f->tot.errors == written.errors, "every error");
    check(f->tot.cut_lines == written.long_lines, "only the long lines were cut");
    ASYNC_RETURN(0);

    ASYNC_CLEANUP();                    /* every way out closes the file */
    if (f->rd.fp) fclose(f->rd.fp);
    f->rd.fp = NULL;
    ASYNC_END(0);
}

int main(void) {
    static scan_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (write_log() != 0) {
        printf("log_lines: FAILED to write the temporary file\n");
        return 1;
    }
    printf("wrote %ld lines to a temporary file\n", written.lines);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    rc = async_runtime_block_on(&rt, &m.task, scan, "scan");
    check(async_runtime_destroy(&rt) == 0, "no task outlives the scan");
    check(remove(path) == 0, "the temporary file is removed");
    if (rc != 0 || failures) {
        printf("log_lines: FAILED (%d checks failed, the scan returned %d)\n", failures, rc);
        return 1;
    }
    printf("log_lines: ok, the first errors and the totals match what was written\n");
    return 0;
}
