# servers_lib.sh - what bench_servers.sh and bench_backends.sh share (sourced; they set
# TMP, a directory of their own, and PIDS, the servers they started, before).

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# utime + stime of PID, in clock ticks
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
    echo "$(basename "$0" .sh): nothing listens on port $1" >&2
    return 1
}
