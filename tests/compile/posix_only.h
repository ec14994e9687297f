/* posix_only.h - force-included (gcc -include) ahead of every file of the strict
   POSIX build (make test: test_NAME-posix, with -DASYNC_POSIX_ONLY
   -D_POSIX_C_SOURCE=200809L; the servers with -D_XOPEN_SOURCE=700 instead, for
   httpd's realpath). It reads the system headers that async.h and the tests use, then
   takes away every Linux-only name, so that a use of one in async.h or in a test
   fails to compile. What is left is what macOS and the BSDs have too: the build
   proves on Linux the path they take (async.h's manual: CONFIGURATION, OTHER POSIX
   SYSTEMS).

   Headers read after this one see the names poisoned as well (a system header that
   uses one fails the build: add it to the list below, read before the poisoning). */
#ifndef TEST_POSIX_ONLY_H
#define TEST_POSIX_ONLY_H
#if !defined(ASYNC_POSIX_ONLY) || (!defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE)) || \
    defined(_GNU_SOURCE) || defined(_DEFAULT_SOURCE) || defined(_BSD_SOURCE)
#error "posix_only.h: build with -DASYNC_POSIX_ONLY -D_POSIX_C_SOURCE=200809L (the examples: \
-D_XOPEN_SOURCE=700, macOS's realpath) and no more"
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

/* glibc shows these whatever the feature macros say; macOS has none of them. */
#undef SOCK_NONBLOCK
#undef SOCK_CLOEXEC
#undef MSG_NOSIGNAL
#undef MSG_MORE
#undef __linux__
#undef __linux
#undef __gnu_linux__
#undef linux
/* The BSDs and macOS have SO_REUSEPORT in sys/socket.h (glibc hides it under
   _POSIX_C_SOURCE): shown here as theirs show it. Its meaning differs there (one
   listener takes the connections, but FreeBSD's SO_REUSEPORT_LB): see the manual. */
#ifndef SO_REUSEPORT
#define SO_REUSEPORT 15
#endif

/* __linux__ is undefined (as on macOS) and poisoned: async.h and the suites never ask
   for it (async.h asks once, under #ifndef ASYNC_POSIX_ONLY). The examples ask
   #ifdef __linux__ to choose epoll: built with -DTEST_POSIX_EXAMPLES it is only
   undefined, so they take the path they take on macOS. */
#ifndef TEST_POSIX_EXAMPLES
#pragma GCC poison __linux__ __linux __gnu_linux__ linux
#endif
#pragma GCC poison eventfd eventfd_read eventfd_write EFD_NONBLOCK EFD_CLOEXEC
#pragma GCC poison accept4 pipe2 dup3 SOCK_NONBLOCK SOCK_CLOEXEC MSG_NOSIGNAL MSG_MORE
#pragma GCC poison pthread_condattr_setclock pthread_condattr_getclock
#pragma GCC poison epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait
#pragma GCC poison signalfd timerfd_create inotify_init prctl splice sendfile
#pragma GCC poison sched_setaffinity sched_getaffinity cpu_set_t CPU_SET CPU_ZERO
#pragma GCC poison pthread_setaffinity_np pthread_setname_np gettid syscall
#endif
