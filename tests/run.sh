#!/bin/sh
# tests/run.sh BINARY...  - run the test binaries, JOBS at a time (default: the number
# of cores), and sum their last "N passed, M failed" lines (tests/test.h prints
# "FILE: N passed, M failed"). Output, in argument order, each line prefixed with
# "NAME: " (NAME [MODE] in a perturbation mode): a binary's "  FAIL" lines, its
# summary and its perturbation-mode summary lines; a binary that crashes or prints no
# summary shows its last 20 lines and counts as one failure, as does one that exits
# nonzero without a failure counted. An argument MODE:BINARY (clock, alloc, sys,
# preempt) runs it under that perturbation mode (tests/faults.h). With CHECKS=FILE,
# each line "NAME|COMMAND" of FILE is a build check, run after them: its exit status
# counts as one test ("  FAIL check NAME: COMMAND" and 15 lines of its output if not
# 0). Last line: "P passed, F failed"; the exit status is 0 when F is 0.
pass=0
fail=0
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/async-run.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

run_one() {                             # index, argument
    case $2 in
    clock:*|alloc:*|sys:*|preempt:*) ASYNC_TEST_FAULTS=${2%%:*} "${2#*:}" >"$tmp/$1.out" 2>&1 ;;
    *) "$2" >"$tmp/$1.out" 2>&1 ;;
    esac
    echo $? >"$tmp/$1.rc"
}

n=0
for arg in "$@"; do
    n=$((n + 1))
    run_one "$n" "$arg" &
    # at most $jobs running: each writes its .rc file when it ends
    while [ $((n - $(find "$tmp" -name '*.rc' | wc -l))) -ge "$jobs" ]; do sleep 0.05; done
done
wait

i=0
for arg in "$@"; do
    i=$((i + 1))
    case $arg in
    clock:*|alloc:*|sys:*|preempt:*) mode=${arg%%:*}; bin=${arg#*:} ;;
    *) mode=; bin=$arg ;;
    esac
    name=$(basename "$bin")${mode:+ [$mode]}
    status=$(cat "$tmp/$i.rc" 2>/dev/null || echo 1)
    grep -E '^  FAIL|passed, [0-9]+ failed|perturbed runs|^preempt:' "$tmp/$i.out" |
        sed "s|^|$name: |"
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$tmp/$i.out" | tail -n 1)
    if [ -z "$line" ]; then
        tail -n 20 "$tmp/$i.out"
        echo "$name: crashed or printed no summary (exit $status)"
        fail=$((fail + 1))
        continue
    fi
    p=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/')
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p))
    fail=$((fail + f))
done
if [ -n "$CHECKS" ] && [ -f "$CHECKS" ]; then
    while IFS='|' read -r name cmd; do
        [ -z "$name" ] && continue
        if sh -c "$cmd" >"$tmp/check" 2>&1; then
            pass=$((pass + 1))
        else
            echo "  FAIL check $name: $cmd"
            head -n 15 "$tmp/check"
            fail=$((fail + 1))
        fi
    done <"$CHECKS"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
