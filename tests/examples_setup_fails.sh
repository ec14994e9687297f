#!/bin/sh
# tests/examples_setup_fails.sh DIR EXAMPLE... - the examples when their setup fails.
# Each example is built into DIR with tests/compile/fail_alloc.h ahead of it and run
# once for each allocation the library makes for it, with that allocation failing. A
# run whose allocation failed must exit with status 1 after a line on stderr naming
# the call and the reason ("NAME: async_CALL: out of memory"): never crash, hang, or
# carry on with an object its init left inert and exit 0. Then each one runs with no
# file descriptor to spare (ulimit -n 3: only stdin, stdout and stderr): it either
# needs none and exits 0, or exits 1 with a message of its own on stderr. Exit status 0 when
# every run behaved. The examples are linked statically here, so that the dynamic
# loader needs no descriptor.
dir=$1
shift
mkdir -p "$dir"
CC=${CC:-cc}
WARN="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes"
fails=0
bad() {
    echo "  FAIL $*"
    sed -n '1,12s/^/        /p' "$dir/run.err"
    fails=$((fails + 1))
}
# IMPL=OBJ (and IMPL_EPOLL=OBJ for the examples that choose epoll): the implementation
# compiled once with fail_alloc.h ahead of it (make builds them); each example is then
# compiled without its copy of the implementation and linked against that object.
build() {                               # example, binary
    if [ -n "${IMPL:-}" ]; then
        obj=$IMPL
        grep -q '^#define ASYNC_USE_EPOLL' "examples/$1.c" && obj=${IMPL_EPOLL:-$IMPL}
        $CC -std=c99 $WARN -O0 -static -D_DEFAULT_SOURCE -DASYNC_IMPLEMENTATION_INCLUDED \
            -I. "examples/$1.c" "$obj" -o "$2" -lpthread
    else
        $CC -std=c99 $WARN -O0 -static -D_DEFAULT_SOURCE -I. \
            -include tests/compile/fail_alloc.h "examples/$1.c" -o "$2" -lpthread
    fi
}
for e in "$@"; do
    bin=$dir/$e
    if ! build "$e" "$bin" >"$dir/run.err" 2>&1; then
        bad "$e: does not build with fail_alloc.h"
        continue
    fi
    timeout 60 "$bin" >"$dir/run.out" 2>"$dir/run.err"
    st=$?
    n=$(sed -n 's/^fail_alloc: \([0-9]*\) allocations$/\1/p' "$dir/run.err" | tail -n 1)
    if [ $st -ne 0 ]; then
        bad "$e: exit $st without a failed allocation"
        continue
    fi
    n=${n:-0}                           # none: fail_alloc() was never called
    k=1
    while [ "$k" -le "$n" ]; do
        ASYNC_FAIL_ALLOC=$k timeout 60 "$bin" >"$dir/run.out" 2>"$dir/run.err"
        st=$?
        if ! grep -q "^fail_alloc: allocation $k fails" "$dir/run.err"; then
            # timing decides how many allocations some make: this run made fewer
            [ $st -eq 0 ] || bad "$e: exit $st, allocation $k did not fail"
        elif [ $st -ne 1 ]; then
            bad "$e: allocation $k failed: exit $st, not 1"
        elif ! grep -q "^$e: async_[a-z_]*: out of memory" "$dir/run.err"; then
            bad "$e: allocation $k failed: no line '$e: async_...: out of memory' on stderr"
        fi
        k=$((k + 1))
    done
    if [ "$n" -eq 0 ]; then echo "  $e: allocates nothing"
    else echo "  $e: $n allocations, each made to fail in turn"; fi
    timeout 60 sh -c 'ulimit -n 3 && exec "$0"' "$bin" >"$dir/run.out" 2>"$dir/run.err"
    st=$?
    if [ $st -ne 0 ] && { [ $st -ne 1 ] || ! grep -qv '^fail_alloc:' "$dir/run.err"; }; then
        bad "$e: with no descriptor to spare: exit $st"
    fi
done
echo "examples_setup_fails: $fails failures"
[ $fails -eq 0 ]
