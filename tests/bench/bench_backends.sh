#!/bin/bash
# bench_backends.sh - the example servers on each reactor backend (issue 18), side by
# side, against the same references as bench_servers.sh:
#   echo      ASYNC_BACKEND=poll, epoll, io_uring vs the hand-written epoll echo server
#             (bench_echo --serve hand); bench_echo --load, 100 and 1000 busy
#             connections, 64-byte messages, 3 s. Beside them, not a reference: the
#             floor of the completion model, a hand-written io_uring echo (bench_echo
#             --serve uring: multishot accept and receive into provided buffers, each
#             message sent from the buffer it came in, one io_uring_enter per turn);
#             churn: bench_echo --churn, 50 clients each connecting, echoing one
#             message and closing, again (per connection: accept, a read, a write,
#             the close)
#   httpd     the three backends vs nginx (one process), wrk -t1 -c100 -d10s, GET /
#   miniredis the three backends vs redis-server, redis-benchmark -t set / -t get
#             -n 200000 -c 50 -q (no pipelining)
# Servers pinned to CPU 0, the load to CPU 1; the figure is the server's CPU time
# (utime + stime from /proc/PID/stat, before and after each load) per request, the
# median over the rounds; the servers of a load run in turn, the order reversed every
# round. Each backend's ratio to the reference is the median of the per-round ratios
# (< 1: ours spends less); the issue's target for io_uring is <= 0.85.
#
# Usage: tests/bench/bench_backends.sh [ROUNDS] [WRK_SECONDS]   (defaults 3 and 10)
# Run by `make bench-servers` after bench_servers.sh (which installs what it needs).
set -u
ROUNDS=${1:-3}
SECS=${2:-10}
B=build
TMP=$(mktemp -d /tmp/bench_backends.XXXXXX)
PIDS=
HZ=$(getconf CLK_TCK)
SRV_CPU=0
LOAD_CPU=1
[ "$(getconf _NPROCESSORS_ONLN)" -lt 2 ] && LOAD_CPU=0
BACKENDS="poll epoll io_uring"

. "$(dirname "$0")/servers_lib.sh"     # cleanup, cpu_ticks, free_port, wait_port
# start NAME PORT CMD...: a server pinned to SRV_CPU (env ASYNC_BACKEND from BACKEND);
# sets SPID, remembers NAME's pid and port
start() {
    local name=$1 port=$2
    shift 2
    ASYNC_BACKEND=${BACKEND:-} taskset -c $SRV_CPU "$@" >"$TMP/$name.out" 2>&1 &
    SPID=$!
    PIDS="$PIDS $SPID"
    eval "PID_${name//-/_}=$SPID PORT_${name//-/_}=$port"
    wait_port "$port" || { cat "$TMP/$name.out" >&2; exit 1; }
}
pid_of() { eval "echo \$PID_${1//-/_}"; }
port_of() { eval "echo \$PORT_${1//-/_}"; }
N=0
# measure PID CMD...: the load CMD pinned to LOAD_CPU; prints "ticks output-file"
measure() {
    local pid=$1 c0 c1
    shift
    N=$((N + 1))
    c0=$(cpu_ticks "$pid")
    taskset -c $LOAD_CPU "$@" >"$TMP/load.$N" 2>&1
    c1=$(cpu_ticks "$pid")
    echo "$((c1 - c0)) $TMP/load.$N"
}
RES=$TMP/results
: >"$RES"
record() { echo "$1 $2 $3 $4 $5" >>"$RES"; }     # LOAD SERVER ROUND REQS TICKS
# in_turn ROUND SERVERS...: the servers, reversed on even rounds
in_turn() {
    local r=$1 s out=
    shift
    if [ $((r % 2)) -eq 1 ]; then echo "$@"; return; fi
    for s in "$@"; do out="$s $out"; done
    echo $out
}
# uring_check NAME: a server on io_uring holds a ring ([io_uring] among its descriptors;
# a refused io_uring falls back to epoll: said, so that the row is read as epoll's)
uring_check() {
    ls -l /proc/"$(pid_of $1)"/fd 2>/dev/null | grep -q 'io_uring' ||
        echo "  note: $1 holds no io_uring ring (refused by the kernel: epoll measured)"
}
stop_all() {
    local p
    for p in "$@"; do kill "$(pid_of $p)" 2>/dev/null; done
    for p in "$@"; do wait "$(pid_of $p)" 2>/dev/null; done
}
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null


# ---- echo ------------------------------------------------------------------------
for be in $BACKENDS; do
    port=$(free_port)
    BACKEND=$be start echo-$be "$port" $B/examples/echo "$port"
done
uring_check echo-io_uring
port=$(free_port)
BACKEND= start hand-echo "$port" $B/bench/bench_echo --serve hand "$port"
port=$(free_port)
BACKEND= start hand-uring "$port" $B/bench/bench_echo --serve uring "$port"
for r in $(seq 1 "$ROUNDS"); do
    for c in 100 1000; do
        for s in $(in_turn $r echo-poll echo-epoll echo-io_uring hand-uring hand-echo); do
            set -- $(measure "$(pid_of $s)" $B/bench/bench_echo --load "$(port_of $s)" $c 0 3000)
            record "echo-$c" $s $r "$(grep -o '[0-9][0-9]*' "$2" | head -n 1)" "$1"
        done
    done
    for s in $(in_turn $r echo-poll echo-epoll echo-io_uring hand-uring hand-echo); do
        set -- $(measure "$(pid_of $s)" $B/bench/bench_echo --churn "$(port_of $s)" 50 3000)
        record "churn-50" $s $r "$(grep -o '[0-9][0-9]*' "$2" | head -n 1)" "$1"
    done
done
stop_all echo-poll echo-epoll echo-io_uring hand-uring hand-echo

# ---- httpd -----------------------------------------------------------------------
for be in $BACKENDS; do
    port=$(free_port)
    BACKEND=$be start httpd-$be "$port" $B/examples/httpd "$port"
done
uring_check httpd-io_uring
port=$(free_port)
mkdir -p "$TMP/nginx"
{
    echo "worker_processes 1; master_process off; daemon off;"
    echo "pid $TMP/nginx/nginx.pid; error_log $TMP/nginx/error.log crit;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off; client_body_temp_path $TMP/nginx;"
    echo "    proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx;"
    echo "    uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;"
    echo "    keepalive_requests 1000000;"
    echo "    server { listen 127.0.0.1:$port backlog=4096;"
    echo "        location / { default_type text/plain; return 200 \"Hello, World!\"; } } }"
} >"$TMP/nginx/nginx.conf"
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
BACKEND= start nginx "$port" "$NGINX_BIN" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
for r in $(seq 1 "$ROUNDS"); do
    for s in $(in_turn $r httpd-poll httpd-epoll httpd-io_uring nginx); do
        set -- $(measure "$(pid_of $s)" wrk -t1 -c100 -d${SECS}s --timeout 5s \
            "http://127.0.0.1:$(port_of $s)/")
        if grep -q "Non-2xx\|Socket errors" "$2"; then
            echo "  note: $s: $(grep 'Non-2xx\|Socket errors' "$2" | tr -s ' ')"
        fi
        record "wrk-c100" $s $r "$(awk '/requests in/ {print $1}' "$2")" "$1"
    done
done
stop_all httpd-poll httpd-epoll httpd-io_uring nginx

# ---- miniredis -------------------------------------------------------------------
for be in $BACKENDS; do
    port=$(free_port)
    BACKEND=$be start miniredis-$be "$port" $B/examples/miniredis "$port"
done
uring_check miniredis-io_uring
port=$(free_port)
BACKEND= start redis "$port" redis-server --port "$port" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --protected-mode no --loglevel warning
NREQ=200000
for r in $(seq 1 "$ROUNDS"); do
    for t in set get; do
        for s in $(in_turn $r miniredis-poll miniredis-epoll miniredis-io_uring redis); do
            set -- $(measure "$(pid_of $s)" redis-benchmark -p "$(port_of $s)" -t $t \
                -n $NREQ -c 50 -q)
            record "redis-$t" $s $r $NREQ "$1"
        done
    done
done
stop_all miniredis-poll miniredis-epoll miniredis-io_uring redis

# ---- the table -------------------------------------------------------------------
echo
echo "server CPU per request by backend (us, median of $ROUNDS rounds; server on CPU" \
    "$SRV_CPU, load on CPU $LOAD_CPU)"
awk -v hz="$HZ" '
function median(arr, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
        if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
    load = $1; srv = $2; r = $3
    us = ($4 > 0) ? $5 * 1e6 / hz / $4 : 0
    key = load SUBSEP srv
    if (!(key in n)) order[load, ++ns[load]] = srv
    if (!(load in seen)) { seen[load] = 1; loads[++nl] = load }
    n[key]++; cpu[key, n[key]] = us
    cpur[load, srv, r] = us
    if (srv == "hand-echo" || srv == "nginx" || srv == "redis") ref[load] = srv
}
END {
    printf "  %-10s %-20s %10s %10s\n", "load", "server", "us CPU/req", "ours/ref"
    for (i = 1; i <= nl; i++) {
        load = loads[i]
        for (k = 1; k <= ns[load]; k++) {
            srv = order[load, k]
            key = load SUBSEP srv
            for (j = 1; j <= n[key]; j++) c[j] = cpu[key, j]
            line = sprintf("  %-10s %-20s %10.2f", load, srv, median(c, n[key]))
            if (srv != ref[load]) {
                m = 0
                for (r = 1; (load, srv, r) in cpur; r++) {
                    a = cpur[load, srv, r]; b = cpur[load, ref[load], r]
                    if (a > 0 && b > 0) v[++m] = a / b
                }
                x = (m > 0) ? median(v, m) : 0
                line = line sprintf(" %10.3f", x)
                if (srv ~ /io_uring$/)
                    line = line "  (<= 0.85: " ((x > 0 && x <= 0.85) ? "holds)" : "misses)")
            }
            print line
        }
    }
    print "  ours/ref: CPU per request of ours / of the reference (the hand-written epoll"
    print "  echo, nginx, redis-server), the median of the per-round ratios"
}' "$RES"
