/* echo-client.c - checks an echo server: N messages of SIZE bytes, each read back and
   compared byte for byte.

   Usage: echo-client HOST:PORT [N] [SIZE]     (defaults: 10 messages of 64 bytes)
   HOST is numeric (127.0.0.1, [::1]) or a name, looked up with async_pool_resolve on the
   blocking pool. Prints "N round trips ok" and exits 0, or the error and exits 1.

   Each message is written and read back concurrently (an ASYNC_JOIN of write_all and
   read_exact): written first and read after, a message larger than the socket buffers
   of both ends would deadlock, each side waiting for the other to read. Every round
   trip has a 10 s bound. At the end the client half-closes and expects the server's
   EOF, which is what a half-close aware echo server sends once all is written back. */
#ifdef __linux__
#define ASYNC_USE_EPOLL
#endif
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TIMEOUT_MS = 10000, MAX_ADDRS = 8 };

static async_runtime rt;
static async_pool pool;

typedef struct {
    async_coro co;
    async_join js;
    async_waiter wr, rd;
    int rc[2];
} trip_frame;

typedef struct {
    async_task task;
    async_io io;
    async_waiter w;
    async_timer timer;
    async_resolve_op res;
    trip_frame trip;
    async_addr addrs[MAX_ADDRS];
    const char *target;
    char host[256], port[16];
    unsigned char *out, *back;
    long n, i;
    size_t size;
    int rc, naddr, k;
} client_frame;

/* One round trip: send f->out while reading the echo into f->back. */
static int round_trip(async_task *t, client_frame *f) {
    trip_frame *p = &f->trip;
    ASYNC_CORO_BEGIN(t, &p->co);
    ASYNC_JOIN_BEGIN(&p->js, 2, ASYNC_JOIN_FAIL_FAST);
        ASYNC_JOIN_BRANCH(&p->js, 0, p->rc[0],
                          async_io_write_all(t, &f->io, &p->wr, f->out, f->size));
        ASYNC_JOIN_BRANCH(&p->js, 1, p->rc[1],
                          async_io_read_exact(t, &f->io, &p->rd, f->back, f->size));
    ASYNC_JOIN_END(&p->js);
    ASYNC_END(p->js.err);
}

/* "host:port" or "[v6]:port" into its parts, for the resolver. */
static int split_target(const char *s, char *host, size_t hcap, char *port, size_t pcap) {
    const char *colon = strrchr(s, ':');
    size_t hl;
    if (!colon || !colon[1] || strlen(colon + 1) >= pcap) return -1;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hcap) return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    strcpy(port, colon + 1);
    return 0;
}

static int client_run(async_task *t) {
    client_frame *f = (client_frame *)t;
    ASYNC_BEGIN(t);
    if (async_addr_parse(&f->addrs[0], f->target) == 0) {
        f->naddr = 1;
    } else {
        if (split_target(f->target, f->host, sizeof f->host, f->port, sizeof f->port) < 0) {
            fprintf(stderr, "echo-client: bad address %s\n", f->target);
            ASYNC_RETURN(2);
        }
        ASYNC_AWAIT(f->naddr, async_pool_resolve(t, &pool, &f->res, f->host, f->port, f->addrs,
                                                 MAX_ADDRS));
        if (f->naddr <= 0) {
            fprintf(stderr, "echo-client: resolve %s: %s\n", f->host,
                    async_strerror(f->naddr < 0 ? f->naddr : ASYNC_ENOTFOUND));
            ASYNC_RETURN(1);
        }
    }
    /* every address in turn, as a resolver's list is meant to be used */
    for (f->k = 0; f->k < f->naddr; f->k++) {
        ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, ASYNC_MS(TIMEOUT_MS),
                            async_sock_connect(t, &f->io, &f->w, &f->addrs[f->k]));
        if (f->rc == 0) break;
    }
    if (f->rc < 0) {
        fprintf(stderr, "echo-client: connect %s: %s\n", f->target, async_strerror(f->rc));
        ASYNC_RETURN(1);
    }
    async_sock_set_nodelay(&f->io, 1);
    for (f->i = 0; f->i < f->n; f->i++) {
        size_t j;
        for (j = 0; j < f->size; j++) f->out[j] = (unsigned char)(f->i * 31 + (long)j * 7);
        memset(f->back, 0, f->size);
        ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->timer, ASYNC_MS(TIMEOUT_MS), &f->trip.co,
                                 round_trip(t, f));
        if (f->rc < 0) {
            fprintf(stderr, "echo-client: message %ld: %s\n", f->i + 1,
                    f->rc == ASYNC_EEOF ? "the server closed early"
                                        : async_strerror(f->rc));
            ASYNC_RETURN(1);
        }
        if (memcmp(f->out, f->back, f->size) != 0) {
            fprintf(stderr, "echo-client: message %ld: the echo differs\n", f->i + 1);
            ASYNC_RETURN(1);
        }
    }
    /* half-close: the server has echoed everything, so the next read is its EOF */
    async_io_shutdown(&f->io, ASYNC_IO_WRITE);
    ASYNC_AWAIT_TIMEOUT(f->rc, &f->timer, ASYNC_MS(TIMEOUT_MS),
                        async_io_read(t, &f->io, &f->w, f->back, 1));
    if (f->rc != 0) {
        fprintf(stderr, "echo-client: after the half-close: %s\n",
                f->rc > 0 ? "unexpected bytes" : async_strerror(f->rc));
        ASYNC_RETURN(1);
    }
    printf("%ld round trips ok\n", f->n);
    ASYNC_RETURN(0);
    ASYNC_CLEANUP();
    async_io_close(&f->io);
    ASYNC_END(0);
}

static int parse_count(const char *s, long lo, long hi, long *out) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    static client_frame c;
    long n = 10, size = 64;
    int rc;
    if (argc < 2 || argc > 4 || !strchr(argv[1], ':') ||
        (argc > 2 && parse_count(argv[2], 0, 1000000000L, &n) < 0) ||
        (argc > 3 && parse_count(argv[3], 1, 64L << 20, &size) < 0)) {
        fprintf(stderr, "usage: %s HOST:PORT [N] [SIZE]   (N messages of SIZE bytes;"
                " defaults 10 and 64)\n", argv[0]);
        return 2;
    }
    c.target = argv[1];
    c.n = n;
    c.size = (size_t)size;
    c.out = (unsigned char *)malloc(c.size);
    c.back = (unsigned char *)malloc(c.size);
    if (!c.out || !c.back) {
        fprintf(stderr, "echo-client: out of memory\n");
        return 1;
    }
    async_runtime_init(&rt, NULL);
    async_pool_init(&pool, &rt, NULL);
    rc = async_runtime_block_on(&rt, &c.task, client_run, "client");
    async_pool_destroy(&pool);
    async_runtime_destroy(&rt);
    free(c.out);
    free(c.back);
    return rc == 2 ? 2 : rc == 0 ? 0 : 1;
}
