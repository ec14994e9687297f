#!/bin/sh
# tests/run.sh BINARY...  - run each test binary and sum their "N passed, M failed"
# lines. A binary that crashes or prints no summary counts as one failure.
# Lines of the form "check: NAME: COMMAND" on stdin (optional, see the Makefile)
# are build checks: each command's exit status counts as one test.
pass=0
fail=0
for bin in "$@"; do
    out=$("$bin" 2>&1)
    status=$?
    printf '%s\n' "$out" | grep -E '^  FAIL|passed, [0-9]+ failed' | sed "s|^|$(basename "$bin"): |"
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "$bin: crashed or printed no summary (exit $status)"
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
        if sh -c "$cmd" >/tmp/async-check.$$ 2>&1; then
            pass=$((pass + 1))
        else
            echo "  FAIL check $name: $cmd"
            head -n 15 /tmp/async-check.$$
            fail=$((fail + 1))
        fi
    done <"$CHECKS"
    rm -f /tmp/async-check.$$
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
