/* accept_fail.c - an LD_PRELOAD shim for the servers' tests: the first calls of
   accept() and accept4() fail with the errors named in ACCEPT_FAIL, one per call, in
   order ("ENOBUFS ENOMEM EMFILE ENFILE" are known); later calls go to the system.
   The connection stays queued, so a server that backs off and retries gets it.

     make build/test/accept_fail.so
     ACCEPT_FAIL="ENOBUFS ENOMEM" LD_PRELOAD=build/test/accept_fail.so build/examples/echo 0

   (Under ASan, add ASAN_OPTIONS=verify_asan_link_order=0: the shim comes first.) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Not <sys/socket.h>: with _GNU_SOURCE glibc declares accept's address as a
   transparent union, which -Wpedantic refuses to see defined as a plain pointer. */
struct sockaddr;
typedef unsigned int socklen_t;                 /* as on Linux */

/* The errno the next call fails with, or 0 when the list is used up. */
static int next_failure(void) {
    static const struct { const char *name; int err; } known[] = {
        {"ENOBUFS", ENOBUFS}, {"ENOMEM", ENOMEM}, {"EMFILE", EMFILE}, {"ENFILE", ENFILE}};
    static int calls;
    const char *s = getenv("ACCEPT_FAIL");
    int word = 0;
    size_t n, i;
    while (s && *s) {
        while (*s == ' ') s++;
        n = strcspn(s, " ");
        if (n && word++ == calls) {
            calls++;
            for (i = 0; i < sizeof known / sizeof known[0]; i++)
                if (strlen(known[i].name) == n && memcmp(s, known[i].name, n) == 0)
                    return known[i].err;
            return EINVAL;                      /* a name we do not know */
        }
        s += n;
    }
    return 0;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    int err = next_failure();
    if (err) {
        errno = err;
        return -1;
    }
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "accept4");
    return real(fd, addr, len, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    int err = next_failure();
    if (err) {
        errno = err;
        return -1;
    }
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "accept");
    return real(fd, addr, len);
}
