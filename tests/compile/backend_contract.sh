#!/bin/sh
# tests/compile/backend_contract.sh [HEADER] - the reactor's backend contract holds in
# async.h's I/O section (>>io): each backend block (epoll, wsapoll, poll, io_uring) and
# Linux's dispatchers define the same async__be_* functions, exactly those the
# contract comment lists (the dispatchers all but async__be_wait), and no other
# preprocessor line of the section names a backend (the shared reactor has no backend
# #if).
set -eu
h=${1:-async.h}
awk '
    /^\/\/ >>io$/ { io = 1 }
    /^\/\/ >>threads$/ { io = 0 }
    !io { next }
    /The contract/ { doc = 1 }
    doc && /async__be_[a-z_]+\(/ {
        s = $0
        while (match(s, /async__be_[a-z_]+\(/)) {
            print "contract", substr(s, RSTART, RLENGTH - 1)
            s = substr(s, RSTART + RLENGTH)
        }
    }
    doc && /\*\// { doc = 0 }
    /^#[ \t]*if/ { depth++ }
    /^#if defined\(ASYNC_USE_EPOLL\) \|\| defined\(ASYNC__BE_MULTI\)$/ && !blk {
        blk = "epoll"; base = depth; next }
    /^#if defined\(ASYNC__WIN32\)$/ && !blk { blk = "wsapoll"; base = depth; next }
    /^#elif !defined\(ASYNC_USE_EPOLL\) \|\| defined\(ASYNC__BE_MULTI\)$/ && blk &&
        depth == base { blk = "poll"; next }
    /^#if defined\(ASYNC__BE_MULTI\)$/ && !blk { blk = "io_uring"; base = depth; next }
    /^#ifdef ASYNC__BE_MULTI$/ && !blk && dispatch_seen++ == 0 {
        blk = "dispatch"; base = depth; next }
    /^#[ \t]*endif/ { if (blk && depth == base) blk = ""; depth--; next }
    /^#/ && /EPOLL/ && !blk { print "stray", NR ": " $0 }
    blk && /^static [^(]*async__be_[a-z_]+\(/ {
        match($0, /async__be_[a-z_]+\(/)
        print blk, substr($0, RSTART, RLENGTH - 1)
    }
' "$h" | sort -u > "${TMPDIR:-/tmp}/backend_contract.$$"
out="${TMPDIR:-/tmp}/backend_contract.$$"
status=0
if grep -q '^stray' "$out"; then
    echo "backend #if outside the backend blocks:"; grep '^stray' "$out"; status=1
fi
want=$(sed -n 's/^contract //p' "$out")
if [ -z "$want" ]; then echo "no contract comment listing async__be_* functions"; status=1; fi
for b in epoll wsapoll poll io_uring dispatch; do
    got=$(sed -n "s/^$b //p" "$out")
    # Linux's dispatchers: the reactor's wait pointer is the kind's own wait
    [ $b = dispatch ] && got=$(printf '%s\nasync__be_wait\n' "$got" | sort -u)
    if [ "$got" != "$want" ]; then
        echo "the $b backend defines:"; echo "$got"; echo "the contract lists:"; echo "$want"
        status=1
    fi
done
rm -f "$out"
[ $status -eq 0 ] && echo "backends: $(echo $want | wc -w) functions each: $(echo $want)"
exit $status
