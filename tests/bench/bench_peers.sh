#!/bin/sh
# bench_peers.sh - the multi-core workloads of issue 15 for async.h, Tokio and Go, in one
# table (ns per operation; lower is better):
#   X1  a bounded channel of capacity 1024, 8-byte items, a producer and a consumer
#       (per item)
#   X2  ping-pong over two channels of capacity 1 (per round trip)
# async.h: tests/bench/bench_multi.c --peers, an async_group of 2 runtimes pinned to
#   cores 0 and 1, the two tasks on different runtimes (and, as "same runtime", both
#   on runtime 0 with the same shared channels);
# Tokio: tests/bench/peers/tokio, the multi-thread runtime with 2 workers, tokio::sync::mpsc;
# Go:    tests/bench/peers/go, GOMAXPROCS=2, buffered channels.
# Tokio's and Go's schedulers choose where the two tasks run (both tend to keep them on
# one worker: a woken task goes to the waker's LIFO slot / runnext); the Tokio program
# also runs both workloads as thread-per-core (two current_thread runtimes on threads
# pinned to cores 0 and 1), which is how async.h's group runs them.
# Each program prints the median of 5 runs per workload; the programs run in turn,
# ROUNDS times (the order rotating each round), and the table shows the median over the
# rounds. The targets: X1 async.h <= 1/3 of both peers, X2 <= 1/2 of both.
#
# Usage: tests/bench/bench_peers.sh [ROUNDS] [X1_ITEMS] [X2_ROUND_TRIPS]
#   (defaults 5, 1000000, 200000; Tokio across runs a tenth of X2). Run by
#   `make bench-peers`, which builds the three programs (installing golang-go, cargo
#   and librust-tokio-dev when missing).
set -eu
ROUNDS=${1:-5}
N1=${2:-1000000}
N2=${3:-200000}
B=build
OURS=$B/bench/bench_multi
TOKIO=$B/peers/tokio/target/release/bench_peer_tokio
GO=$B/peers/go/bench_peer_go
TMP=$(mktemp -d /tmp/bench_peers.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

for p in "$OURS" "$TOKIO" "$GO"; do
    [ -x "$p" ] || { echo "bench_peers: $p is missing (make bench-peers builds it)" >&2; exit 1; }
done

# run NAME: one run of that program, its lines "workload ns" prefixed with NAME
run() {
    case $1 in
    ours) "$OURS" --peers "$N1" "$N2" ;;
    tokio) "$TOKIO" "$N1" "$N2" ;;
    go) "$GO" "$N1" "$N2" ;;
    esac | sed "s/^/$1 /" >>"$TMP/results"
}
: >"$TMP/results"
r=1
while [ $r -le "$ROUNDS" ]; do
    case $((r % 3)) in
    1) order="ours tokio go" ;;
    2) order="tokio go ours" ;;
    0) order="go ours tokio" ;;
    esac
    for p in $order; do run "$p"; done
    r=$((r + 1))
done

awk -v rounds="$ROUNDS" -v n1="$N1" -v n2="$N2" '
function median(arr, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
    }
    return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{ k = $1 " " $2; n[k]++; v[k, n[k]] = $3 }
function med(k,    a, i) {
    if (!(k in n)) return 0
    for (i = 1; i <= n[k]; i++) a[i] = v[k, i]
    return median(a, n[k])
}
function num(x) { return x > 0 ? sprintf("%9.1f", x) : sprintf("%9s", "-") }
function ratio(p, o) { return p > 0 && o > 0 ? sprintf("%8.2f", p / o) : sprintf("%8s", "-") }
# row LABEL OURS TOKIO GO FACTOR: the keys of each column ("-": none); the target holds
# when every peer shown is at least FACTOR times slower
function row(label, w, tw, gw, factor,    o, t, g, ok) {
    o = med("ours " w); t = med("tokio " tw); g = med("go " gw)
    ok = (o > 0 && (t == 0 || t >= factor * o) && (g == 0 || g >= factor * o)) ? "yes" : "no"
    printf "  %-46s %9s %9s %9s %8s %8s  <= 1/%d: %s\n", label, num(o), num(t), num(g),
           ratio(t, o), ratio(g, o), factor, ok
}
END {
    printf "multi-core: async.h (2 runtimes, cores 0 and 1) vs Tokio (multi-thread, 2 workers)"
    printf " and Go (GOMAXPROCS=2)\n"
    printf "ns per operation, median of %d rounds of 5 runs; X1 %d items, X2 %d round trips\n", \
           rounds, n1, n2
    printf "  %-46s %9s %9s %9s %8s %8s  %s\n", "workload", "async.h", "Tokio", "Go",
           "Tok/ours", "Go/ours", "target met"
    row("X1 mpsc cap 1024, per item, across (recv)", "x1", "x1", "x1", 3)
    row("   across, consumer with recv_many(64)", "x1-many", "x1", "x1", 3)
    row("   across, recv_many(64), spin_us = -1", "x1-many-nospin", "x1", "x1", 3)
    row("   Tokio across too (thread-per-core)", "x1", "x1-across", "-", 3)
    row("   same runtime (recv)", "x1-same", "x1", "x1", 3)
    row("X2 ping-pong 2 x cap 1, per round trip", "x2", "x2", "x2", 2)
    row("   Tokio across too (thread-per-core)", "x2", "x2-across", "-", 2)
    row("   same runtime", "x2-same", "x2", "x2", 2)
    print "  Tok/ours, Go/ours: the peer'"'"'s ns / async.h'"'"'s (> 1: async.h is faster)."
    print "  The issue'"'"'s targets apply to the first line of each workload (the tasks on"
    print "  different cores)."
    print "  Tokio and Go choose where their tasks run (both tend to keep them on one worker);"
    print "  \"Tokio across\" runs Tokio as the group runs async.h: two current_thread runtimes"
    print "  on threads pinned to cores 0 and 1, one task each."
}' "$TMP/results"
