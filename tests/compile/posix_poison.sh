#!/bin/sh
# tests/compile/posix_poison.sh CC - the strict POSIX build's header
# (tests/compile/posix_only.h) takes the Linux-only names away: a file that uses one
# compiles without the header (so the snippet is right) and fails with it, each name
# on its own. And async.h with ASYNC_POSIX_ONLY asks for none of them (its
# implementation compiles under the header).
set -u
cc=${1:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/posix_poison.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
plain="-std=c99 -D_GNU_SOURCE -c"
strict="-std=c99 -DASYNC_POSIX_ONLY -D_POSIX_C_SOURCE=200809L -include tests/compile/posix_only.h -c"
status=0
check() {                               # name, headers, body
    printf '%s\nint f(void);\nint f(void) {\n%s\n}\n' "$2" "$3" > "$tmp/t.c"
    if ! $cc $plain "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
        echo "$1: the snippet does not compile even without the header:"; cat "$tmp/err"
        status=1
    elif $cc $strict "$tmp/t.c" -o "$tmp/t.o" 2> /dev/null; then
        echo "$1: still usable in the strict build"
        status=1
    fi
}
net='#include <sys/socket.h>'
check eventfd '#include <sys/eventfd.h>' 'return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);'
check accept4 "$net" 'return accept4(0, 0, 0, 0);'
check pipe2 '#include <unistd.h>' 'int p[2]; return pipe2(p, 0);'
check SOCK_NONBLOCK "$net" 'return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);'
check SOCK_CLOEXEC "$net" 'return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);'
check MSG_NOSIGNAL "$net" 'return (int)send(0, "", 0, MSG_NOSIGNAL);'
check pthread_condattr_setclock '#include <pthread.h>
#include <time.h>' 'pthread_condattr_t a; return pthread_condattr_setclock(&a, CLOCK_MONOTONIC);'
check epoll_create1 '#include <sys/epoll.h>' 'return epoll_create1(0);'
check epoll_ctl '#include <sys/epoll.h>' 'return epoll_ctl(0, 0, 0, 0);'
check signalfd '#include <sys/signalfd.h>' 'return signalfd(-1, 0, 0);'
check prctl '#include <sys/prctl.h>' 'return prctl(0, 0);'
check sched_setaffinity '#include <sched.h>' 'cpu_set_t s; CPU_ZERO(&s); return sched_setaffinity(0, sizeof s, &s);'
check __linux__ '' 'return __linux__;'
printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' > "$tmp/impl.c"
if ! $cc $strict -Wall -Wextra -Werror -I. "$tmp/impl.c" -o "$tmp/impl.o"; then
    echo "async.h with ASYNC_POSIX_ONLY uses a Linux-only name"; status=1
fi
exit $status
