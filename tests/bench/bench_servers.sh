#!/bin/bash
# bench_servers.sh - the example servers against the programs they imitate, on loopback:
#   httpd     vs nginx (one process, `return 200 "Hello, World!"`)
#             wrk -t1 -c100 -d10s and wrk -t1 -c1000 -d10s, GET /
#   miniredis vs redis-server (no persistence)
#             redis-benchmark -t set / -t get -n 200000 -c 50 -q, without and with -P 16
#   echo      vs the hand-written epoll echo server of bench_echo.c
#             bench_echo --load: 100 busy connections, 64-byte messages, 3 s
# Servers run pinned to CPU 0, the load to CPU 1. The machine is shared and noisy, so
# the figure that counts is the server's CPU time (utime + stime from /proc/PID/stat,
# before and after each load) per request; requests per second are shown beside it.
# Every load runs against ours and the reference in turn, the order swapping every
# round (A B, B A, ...); the table shows medians over the rounds, and ref/ours is the
# median of the per-round ratios of CPU per request (> 1: ours spends less).
#
# Usage: tests/bench/bench_servers.sh [ROUNDS] [WRK_SECONDS]   (defaults 3 and 10)
# Run by `make bench-servers`, which builds the servers and installs wrk, redis-tools,
# redis-server and nginx-light when missing.
set -u
ROUNDS=${1:-3}
SECS=${2:-10}
B=build
TMP=$(mktemp -d /tmp/bench_servers.XXXXXX)
PIDS=
HZ=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)
SRV_CPU=0
LOAD_CPU=1
[ "$NCPU" -lt 2 ] && LOAD_CPU=0

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cpu_ticks() { cut -d' ' -f14,15 "/proc/$1/stat" | awk '{print $1 + $2}'; }

# A free loopback port (the kernel picks one; a race with other programs is unlikely).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

wait_port() {
    local i
    for i in $(seq 1 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench_servers: nothing listens on port $1" >&2
    return 1
}

# start NAME PORT CMD...: starts a server pinned to SRV_CPU; sets SPID
start() {
    local name=$1 port=$2
    shift 2
    taskset -c $SRV_CPU "$@" >"$TMP/$name.out" 2>&1 &
    SPID=$!
    PIDS="$PIDS $SPID"
    wait_port "$port" || { cat "$TMP/$name.out" >&2; exit 1; }
}

# measure PID CMD...: runs the load CMD pinned to LOAD_CPU; prints "ticks output-file"
N=0
measure() {
    local pid=$1 c0 c1
    shift
    N=$((N + 1))
    c0=$(cpu_ticks "$pid")
    taskset -c $LOAD_CPU "$@" >"$TMP/load.$N" 2>&1
    c1=$(cpu_ticks "$pid")
    echo "$((c1 - c0)) $TMP/load.$N"
}

# Results: one line per (load, server, round): "LOAD SERVER ROUND REQS TICKS SECONDS"
RES=$TMP/results
: >"$RES"
record() { echo "$1 $2 $3 $4 $5 $6" >>"$RES"; }

wrk_requests() { awk '/requests in/ {print $1}' "$1"; }
wrk_seconds() { awk '/requests in/ {s=$4; sub(/s,?$/, "", s); print s}' "$1"; }

# ---- HTTP ------------------------------------------------------------------------
HPORT=$(free_port)
NPORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log crit;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx;
    proxy_temp_path $TMP/nginx;
    fastcgi_temp_path $TMP/nginx;
    uwsgi_temp_path $TMP/nginx;
    scgi_temp_path $TMP/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT backlog=4096;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
EOF
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null
start httpd "$HPORT" $B/examples/httpd "$HPORT"
HTTPD=$SPID
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
start nginx "$NPORT" "$NGINX_BIN" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
NGINX=$SPID
body_ours=$(curl -s "http://127.0.0.1:$HPORT/" 2>/dev/null)
body_ref=$(curl -s "http://127.0.0.1:$NPORT/" 2>/dev/null)
echo "httpd says '$body_ours', nginx says '$body_ref'"

for r in $(seq 1 "$ROUNDS"); do
    for c in 100 1000; do
        if [ $((r % 2)) -eq 1 ]; then order="httpd nginx"; else order="nginx httpd"; fi
        for s in $order; do
            if [ $s = httpd ]; then pid=$HTTPD; port=$HPORT; else pid=$NGINX; port=$NPORT; fi
            set -- $(measure $pid wrk -t1 -c$c -d${SECS}s --timeout 5s "http://127.0.0.1:$port/")
            reqs=$(wrk_requests "$2")
            secs=$(wrk_seconds "$2")
            if grep -q "Non-2xx\|Socket errors" "$2"; then
                echo "  note: $s -c$c: $(grep 'Non-2xx\|Socket errors' "$2" | tr -s ' ')"
            fi
            record "wrk-c$c" $s $r "${reqs:-0}" "$1" "${secs:-0}"
        done
    done
done
kill $HTTPD $NGINX 2>/dev/null
wait $HTTPD 2>/dev/null
echo "httpd exit status after SIGTERM: $?"
wait $NGINX 2>/dev/null

# ---- Redis -----------------------------------------------------------------------
MPORT=$(free_port)
RPORT=$(free_port)
start miniredis "$MPORT" $B/examples/miniredis "$MPORT"
MINI=$SPID
start redis "$RPORT" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --protected-mode no --loglevel warning
REDIS=$SPID
NREQ=200000
for r in $(seq 1 "$ROUNDS"); do
    for p in 1 16; do
        for t in set get; do
            if [ $((r % 2)) -eq 1 ]; then order="miniredis redis"; else order="redis miniredis"; fi
            for s in $order; do
                if [ $s = miniredis ]; then pid=$MINI; port=$MPORT; else pid=$REDIS; port=$RPORT; fi
                set -- $(measure $pid redis-benchmark -p "$port" -t $t -n $NREQ -c 50 -P $p -q)
                rps=$(tr '\r' '\n' <"$2" | awk -F': ' 'toupper($1) ~ /^(SET|GET)$/ {split($2, a, " "); v = a[1]} END {print v + 0}')
                secs=$(awk -v n=$NREQ -v r="$rps" 'BEGIN {print (r > 0) ? n / r : 0}')
                record "redis-$t-P$p" $s $r $NREQ "$1" "$secs"
            done
        done
    done
done
kill $MINI $REDIS 2>/dev/null
wait $MINI 2>/dev/null
echo "miniredis exit status after SIGTERM: $?"
wait $REDIS 2>/dev/null

# ---- echo ------------------------------------------------------------------------
EPORT=$(free_port)
HEPORT=$(free_port)
start echo "$EPORT" $B/examples/echo "$EPORT"
ECHO=$SPID
start hand-echo "$HEPORT" $B/bench/bench_echo --serve hand "$HEPORT"
HECHO=$SPID
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="echo hand-echo"; else order="hand-echo echo"; fi
    for s in $order; do
        if [ $s = echo ]; then pid=$ECHO; port=$EPORT; else pid=$HECHO; port=$HEPORT; fi
        set -- $(measure $pid $B/bench/bench_echo --load "$port" 100 0 3000)
        rts=$(grep -o '[0-9][0-9]*' "$2" | head -n 1)
        record "echo-100" $s $r "${rts:-0}" "$1" 3
    done
done
kill $ECHO $HECHO 2>/dev/null
wait $ECHO 2>/dev/null
echo "echo exit status after SIGTERM: $?"

# ---- the table -------------------------------------------------------------------
echo
echo "server CPU per request (us, median of $ROUNDS rounds; server on CPU $SRV_CPU, load on CPU $LOAD_CPU)"
awk -v hz="$HZ" '
function median(arr, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
        if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
    load = $1; srv = $2; r = $3
    us = ($4 > 0) ? $5 * 1e6 / hz / $4 : 0
    rps = ($6 > 0) ? $4 / $6 : 0
    key = load SUBSEP srv
    if (!(key in n)) { order[++nk] = key }
    n[key]++; cpu[key, n[key]] = us; tput[key, n[key]] = rps
    cpur[load, srv, r] = us
    if (!(load in seenload)) { seenload[load] = 1; loads[++nl] = load }
    if (srv == "httpd" || srv == "miniredis" || srv == "echo") ours[load] = srv
    else ref[load] = srv
    rounds[load, r] = 1
}
END {
    printf "  %-18s %-14s %10s %12s %9s\n", "load", "server", "us CPU/req", "requests/s", "ref/ours"
    for (i = 1; i <= nl; i++) {
        load = loads[i]
        m = 0
        for (r = 1; (load, r) in rounds; r++) {
            a = cpur[load, ours[load], r]; b = cpur[load, ref[load], r]
            if (a > 0 && b > 0) ratios[++m] = b / a
        }
        ratio = (m > 0) ? median(ratios, m) : 0
        split("", ratios)
        for (k = 1; k <= 2; k++) {
            srv = (k == 1) ? ours[load] : ref[load]
            key = load SUBSEP srv
            for (j = 1; j <= n[key]; j++) { c[j] = cpu[key, j]; t[j] = tput[key, j] }
            mc = median(c, n[key]); mt = median(t, n[key])
            if (k == 1) printf "  %-18s %-14s %10.2f %12.0f %9.2f\n", load, srv, mc, mt, ratio
            else printf "  %-18s %-14s %10.2f %12.0f\n", load, srv, mc, mt
        }
    }
    print "  ref/ours: CPU per request of the reference / of ours, median over the rounds;"
    print "  target >= 1.0 against nginx and redis-server"
}' "$RES"
