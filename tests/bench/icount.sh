#!/bin/sh
# tests/bench/icount.sh BENCH - instructions per operation of each workload of a
# benchmark binary, from valgrind --tool=callgrind (repeatable on a noisy machine):
# (Ir at size N2 - Ir at size N1) / (N2 - N1), so start-up and set-up cancel out.
# The binary runs `BENCH WORKLOAD N` once per measurement and lists its workloads
# with `BENCH --icount-list` as lines "workload N1 N2 description".
set -eu
bench=$1
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
echo "$(basename "$bench")${ASYNC_BACKEND:+ (ASYNC_BACKEND=$ASYNC_BACKEND)}: instructions per operation (callgrind)"
"$bench" --icount-list | while read -r w n1 n2 desc; do
    a=$(ir "$w" "$n1")
    b=$(ir "$w" "$n2")
    awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v w="$w" -v d="$desc" \
        'BEGIN { printf "  %-10s %8.1f instr/op   %s\n", w, (b - a) / (n2 - n1), d }'
done
