#!/bin/sh
# tests/embed_examples.sh NAME DIR - build examples/embed/NAME.c (a runtime driven by
# another library's event loop, async.h EMBEDDING) on each reactor backend, poll, epoll
# and io_uring (-DASYNC_USE_IO_URING: epoll where the kernel refuses it), and run each: it exits 0 only when its timers, its socket echo and its
# cross-thread wakes all came through the host loop. The library comes from pkg-config
# (the Makefile installs it through .ci/need first). CC and CFLAGS may be set.
set -eu
name=$1
dir=$2
case $name in
    glib_loop) pkg=glib-2.0 ;;
    uv_loop) pkg=libuv ;;
    *) echo "embed_examples: unknown example $name" >&2; exit 2 ;;
esac
CC=${CC:-cc}
CFLAGS=${CFLAGS:--std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -O2}
lib=$(pkg-config --cflags --libs "$pkg")
mkdir -p "$dir"
for backend in poll epoll io_uring; do
    def=
    [ "$backend" = epoll ] && def=-DASYNC_USE_EPOLL
    [ "$backend" = io_uring ] && def=-DASYNC_USE_IO_URING
    # shellcheck disable=SC2086
    $CC $CFLAGS $def -I. "examples/embed/$name.c" $lib -lpthread -o "$dir/$name-$backend"
    if ! timeout 60 "$dir/$name-$backend" > "$dir/$name-$backend.out" 2>&1; then
        echo "embed_examples: $name on $backend failed:" >&2
        cat "$dir/$name-$backend.out" >&2
        exit 1
    fi
    grep -q "^backend $backend:" "$dir/$name-$backend.out" ||
        { [ "$backend" = io_uring ] && grep -q "^backend epoll:" "$dir/$name-$backend.out"; } ||
        { echo "embed_examples: $name did not run on $backend" >&2; exit 1; }
done
