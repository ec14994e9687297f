#!/bin/sh
# tests/coverage.sh DIR  - line and branch coverage of async.h, merged over every test
# binary's gcov data in DIR (built with --coverage). A line counts as covered when some
# test ran it, a branch when some test took it. gcov's text output is merged here
# because gcovr (5.2 in Debian 12) refuses to merge a function that sits at different
# lines in different builds (a backend or configuration chosen by macros).
# Last line: "async.h: lines NN.N% branches NN.N%".
set -e
dir=$1
out=$dir/gcov
rm -rf "$out"
mkdir -p "$out"
for gcda in "$dir"/*.gcda; do
    name=$(basename "$gcda" .gcda)
    src=tests/$(echo "$name" | sed 's/.*-//').c    # test_io-epoll-test_io -> test_io
    gcov -b -c -p -o "$gcda" "$src" >/dev/null 2>&1 || true
    [ -f async.h.gcov ] && mv async.h.gcov "$out/$name.async.h.gcov"
    rm -f ./*.gcov
done
ls "$out"/*.gcov >/dev/null 2>&1 || { echo "coverage: no gcov data in $dir" >&2; exit 1; }
awk '
/^ *(-|#####|=====|[0-9]+\*?): *[0-9]+:/ {
    split($0, f, ":")
    c = f[1]; gsub(/ /, "", c); ln = f[2] + 0
    if (ln == 0 || c == "-") next
    exe[ln] = 1
    sub(/\*$/, "", c)
    if (c != "#####" && c != "=====" && c + 0 > 0) hit[ln] = 1
    next
}
/^branch +[0-9]+ / {
    k = ln ":" $2
    br[k] = 1
    if ($3 == "taken" && $4 + 0 > 0) taken[k] = 1
}
END {
    for (l in exe) { nl++; if (l in hit) hl++ }
    for (b in br) { nb++; if (b in taken) hb++ }
    if (!nl || !nb) { print "coverage: nothing measured" > "/dev/stderr"; exit 1 }
    printf "async.h: lines %.1f%% branches %.1f%%\n", 100 * hl / nl, 100 * hb / nb
}' "$out"/*.gcov
