#!/bin/sh
# tests/coverage.sh DIR  - line and branch coverage of async.h, merged over every test
# binary's gcov data in DIR (built with --coverage). A line counts as covered when some
# test ran it, a branch when some test took it. gcov's text output is merged here
# because gcovr (5.2 in Debian 12) refuses to merge a function that sits at different
# lines in different builds (a backend or configuration chosen by macros). Branches are
# matched by line and gcov's number, which is only sound when each function is compiled
# once per binary: the Makefile's COV_CFLAGS turn async.h's forced inlining off.
# Prints the figures per section of the implementation (its `// >>tag` markers), writes
# DIR/gcov/uncovered.txt (each line of async.h not run, or with a branch not taken:
# "section line #####|untaken/branches: source"), and ends with
# "async.h: lines NN.N% branches NN.N%".
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
awk -v uncovered="$out/uncovered.txt" '
FNR == NR {                                     # async.h itself: the sections
    text[FNR] = $0
    if ($0 ~ /^\/\/ >>details/) impl = 1
    if (impl && match($0, /^\/\/ >>[a-z]+/)) cur = substr($0, 6, RLENGTH - 5)
    sec[FNR] = impl ? cur : "declarations"
    nsrc = FNR
    next
}
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
    if (!(k in br)) { br[k] = 1; nbr[ln]++ }
    if ($3 == "taken" && $4 + 0 > 0 && !(k in taken)) { taken[k] = 1; ntk[ln]++ }
}
END {
    for (l in exe) { nl++; sl[sec[l]]++; if (l in hit) { hl++; shl[sec[l]]++ } }
    for (b in br) { split(b, p, ":"); nb++; sb[sec[p[1]]]++
                    if (b in taken) { hb++; shb[sec[p[1]]]++ } }
    if (!nl || !nb) { print "coverage: nothing measured" > "/dev/stderr"; exit 1 }
    for (i = 1; i <= nsrc; i++) {
        s = sec[i]
        if ((i in exe || i in nbr) && !(s in shown)) { shown[s] = 1; order[++ns] = s }
        if ((i in exe && !(i in hit)) || nbr[i] > ntk[i]) {
            t = text[i]; sub(/^ +/, "", t)
            printf "%-12s %5d %s %s\n", s, i, (i in exe && !(i in hit)) ? "#####" : \
                   sprintf("%2d/%-2d", nbr[i] - ntk[i], nbr[i]), t > uncovered
        }
    }
    for (i = 1; i <= ns; i++) {
        s = order[i]
        printf "  %-12s lines %4d/%-4d branches %4d/%-4d (%d not taken)\n", s, shl[s], sl[s],
               shb[s], sb[s], sb[s] - shb[s]
    }
    printf "async.h: lines %.1f%% branches %.1f%%\n", 100 * hl / nl, 100 * hb / nb
}' async.h "$out"/*.gcov
