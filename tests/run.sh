#!/bin/sh
# tests/run.sh BINARY...  - run the test binaries, JOBS at a time (default: twice
# the number of cores), and sum their "N passed, M failed" lines. An argument
# MODE:BINARY (clock, alloc, sys, preempt) runs it under that perturbation mode
# (tests/faults.h). With CHECKS=FILE, each line "NAME|COMMAND" of FILE is a build
# check, run in the same pool of jobs (before the binaries): its exit status counts as
# one test.
#
# Prints one line per binary as it ends (ok or FAIL, its counts, its seconds), followed
# by its whole output when it failed; one line for all the checks (each failed check
# with its command and output); and last "N passed, M failed". V=1 prints a line per
# check too. A binary that crashes or prints no summary counts as one failure.
pass=0
fail=0
# Two jobs a core by default: many runs spend their time waiting (the perturbation
# modes' runs that wait out what a fault took, the servers' tests), not computing.
jobs=${JOBS:-$(( $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2) * 2 ))}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/async-run.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
secs() {                                # index: how long it ran
    awk -v a="$(cat "$tmp/$1.t0")" -v b="$(cat "$tmp/$1.t1")" 'BEGIN { printf "%.1f", b - a }'
}

run_one() {                             # index, argument
    now >"$tmp/$1.t0"
    case $2 in
    check:*) sh -c "${2#check:}" >"$tmp/$1.out" 2>&1 ;;
    clock:*|alloc:*|sys:*|preempt:*) ASYNC_TEST_FAULTS=${2%%:*} "${2#*:}" >"$tmp/$1.out" 2>&1 ;;
    *) "$2" >"$tmp/$1.out" 2>&1 ;;
    esac
    echo $? >"$tmp/$1.st"
    now >"$tmp/$1.t1"
    mv "$tmp/$1.st" "$tmp/$1.rc"        # last: the reporter reads .rc as "ended"
}

# One line for a binary that ended, its output too when it failed.
cpass=0
cfail=0
report() {                              # index
    arg=$(cat "$tmp/$1.arg")
    status=$(cat "$tmp/$1.rc")
    t=$(secs "$1")
    case $arg in
    check:*)
        name=$(cat "$tmp/$1.name")
        if [ "$status" -eq 0 ]; then
            cpass=$((cpass + 1))
            [ -n "$V" ] && printf '  ok    check %-40s %6s s\n' "$name" "$t"
        else
            cfail=$((cfail + 1))
            printf '  FAIL  check %-40s %6s s\n' "$name" "$t"
            echo "        ${arg#check:}"
            head -n 40 "$tmp/$1.out" | sed 's/^/        /'
        fi
        return ;;
    clock:*|alloc:*|sys:*|preempt:*) mode=${arg%%:*}; bin=${arg#*:} ;;
    *) mode=; bin=$arg ;;
    esac
    name=$(basename "$bin")${mode:+ [$mode]}
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$tmp/$1.out" | tail -n 1)
    if [ -z "$line" ]; then
        printf '  FAIL  %-46s crashed or printed no summary (exit %s) %6s s\n' \
            "$name" "$status" "$t"
        sed 's/^/        /' "$tmp/$1.out"
        fail=$((fail + 1))
        return
    fi
    p=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/')
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p))
    fail=$((fail + f))
    extra=$(sed -nE '
        s/^[a-z]+: ([0-9]+ perturbed runs).*; ([0-9]+) went another way.*/ (\1, \2 another way)/p
        s/^preempt: seed [0-9]+, ([0-9]+ yields).*/ (\1)/p' "$tmp/$1.out" | tail -n 1)
    if [ "$f" -eq 0 ]; then
        printf '  ok    %-46s %4d passed %6s s%s\n' "$name" "$p" "$t" "$extra"
    else
        printf '  FAIL  %-46s %4d passed, %d failed (exit %s) %6s s\n' "$name" "$p" "$f" \
            "$status" "$t"
        sed 's/^/        /' "$tmp/$1.out"
    fi
}

started=0
ended=0
reap() {                                # report each job that ended since the last call
    for rc in "$tmp"/*.rc; do
        [ -e "$rc" ] || return 0
        i=${rc##*/}
        i=${i%.rc}
        [ -e "$tmp/$i.seen" ] && continue
        : >"$tmp/$i.seen"
        report "$i"
        ended=$((ended + 1))
    done
}
start() {                               # argument [name]: starts when a slot is free
    while [ $((started - ended)) -ge "$jobs" ]; do sleep 0.05; reap; done
    started=$((started + 1))
    printf '%s\n' "$1" >"$tmp/$started.arg"
    printf '%s\n' "$2" >"$tmp/$started.name"
    run_one "$started" "$1" </dev/null &
}

t0=$(now)
nchecks=0
if [ -n "$CHECKS" ] && [ -f "$CHECKS" ]; then     # first: the longest of them lead it
    while IFS='|' read -r name cmd; do
        [ -z "$name" ] && continue
        nchecks=$((nchecks + 1))
        start "check:$cmd" "$name"
    done <"$CHECKS"
fi
for arg in "$@"; do start "$arg"; done
while [ "$ended" -lt "$started" ]; do sleep 0.05; reap; done
wait
if [ "$nchecks" -gt 0 ]; then
    printf '  %-4s  %-46s %4d passed, %d failed\n' "$([ $cfail -eq 0 ] && echo ok || echo FAIL)" \
        "checks ($CHECKS)" "$cpass" "$cfail"
fi
pass=$((pass + cpass))
fail=$((fail + cfail))
awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "(%.0f s)\n", b - a }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
