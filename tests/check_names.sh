#!/bin/sh
# tests/check_names.sh - the naming grammar of async.h's manual (CONVENTIONS),
# checked on every public name the header declares (the part before the
# implementation; async__/ASYNC__ names are private and not checked). Exit status 0
# when every rule holds; otherwise one line per breach, naming the rule.
#
#   absolute time   no name has an `at` or `deadline` part (but the getter
#                   async_runtime_next_deadline); a function that takes an absolute
#                   time (async_time deadline or start) ends in _until, a macro that
#                   takes a deadline in _UNTIL, and an _until function takes an
#                   async_time (but read_until, whose end is a delimiter: Tokio's)
#   waits/predicates a name ending in a state (closed, changed, ready...) says what
#                   it does with it: is_/has_ ask, wait_ waits, mark_/clear_ set; an
#                   is_/has_ function only reads (const pointers)
#   cancellation    one query: async_task_is_cancelling, and no macro for it
#   try             only the non-blocking variants listed below, each next to the
#                   operation it is the variant of; no macro has a TRY part
#   object first    async_<object>_<verb>: <object> is a public type or one of the
#                   modules below (async_strerror is C's own name); a function that
#                   acts on a runtime and nothing else is async_runtime_/async_time_
#   retired names   the names the 1.0 rename retired occur nowhere in the tree
# Usage: tests/check_names.sh [async.h]   (run from the repository's root)
set -eu
H=${1:-async.h}
[ -f "$H" ] || { echo "check_names: $H not found" >&2; exit 2; }

# The non-blocking variants; each must sit next to the operation it does not wait for.
TRY_OK="async_semaphore_try_acquire async_mutex_try_lock async_rwlock_try_read
    async_rwlock_try_write async_mpsc_try_send async_mpsc_try_reserve async_mpsc_try_recv
    async_oneshot_try_recv async_broadcast_try_recv async_inbox_try_send async_child_try_wait
    async_token_bucket_try_acquire"
# Modules whose functions act on another type's object (an async_io, a pool, the clock).
MODULES="time sock udp file sys test"
# Retired by the 1.0 rename ("old:new").
RETIRED="async_sleep_until:async_time_sleep_until async_sleep:async_time_sleep
    ASYNC_AWAIT_DEADLINE:ASYNC_AWAIT_TIMEOUT_UNTIL async_interval_init_at:async_interval_init_until
    ASYNC_WAIT_UNTIL:ASYNC_WAIT_FOR async_mpsc_closed:async_mpsc_wait_closed
    async_oneshot_closed:async_oneshot_wait_closed async_watch_changed:async_watch_wait_changed
    async_io_ready:async_io_wait_ready async_runtime_wake_pending:async_runtime_has_pending_wake
    async_task_cancelling:async_task_is_cancelling ASYNC_IS_CANCELLED:async_task_is_cancelling
    ASYNC_TRY:ASYNC_AWAIT_OR_RETURN ASYNC_TRY_CALL:ASYNC_AWAIT_CALL_OR_RETURN
    ASYNC_JOIN_TRY:ASYNC_JOIN_FAIL_FAST ASYNC_TRY_JOIN_ALL:ASYNC_JOIN_ALL_FAIL_FAST
    async_spawn_blocking:async_pool_spawn async_resolve:async_pool_resolve
    async_dump:async_runtime_dump async_consume_budget:async_task_consume_budget
    async_pipe:async_io_pipe async_io_backend:async_runtime_io_backend
    async_cancel_token_child:async_cancel_token_init_child async_addr_unix:async_addr_init_unix
    async_sock_error:async_sock_take_error async_sock_nodelay:async_sock_set_nodelay
    async_sock_keepalive:async_sock_set_keepalive async_semaphore_forget:async_semaphore_forget_held
    async_semaphore_available:async_semaphore_available_permits"

TRY_OK="$TRY_OK" MODULES="$MODULES" perl -e '
use strict; use warnings;
my $h = shift;
open my $fh, "<", $h or die "$h: $!\n";
local $/; my $s = <$fh>;
# the declarations: from the include guard to the implementation
$s =~ /^#ifndef ASYNC_H_INCLUDED\b(.*?)^#ifdef ASYNC_IMPLEMENTATION\b/ms or die "no declarations\n";
$s = $1;
$s =~ s{/\*.*?\*/}{ }gs; $s =~ s{//[^\n]*}{}g;           # code only
$s =~ s/\\\n/ /g;                                       # macros on one line
my (%names, %fn, %macro, %types, @bad);
$names{$1}++ while $s =~ /\b((?:async|ASYNC)_(?!_)\w*[A-Za-z0-9])\b/g;
$types{$1}++ while $s =~ /\btypedef\b[^;]*?\b(async_\w+)\s*;/g;
$types{$1}++ while $s =~ /\bstruct\s+(async_[a-z]\w*)\s*\{/g;
while ($s =~ /(?:ASYNC_API|static\s+inline)\s+[^;{()]*?\b(async_[a-z]\w*)\s*\(([^;{]*?)\)\s*[;{]/gs) {
    $fn{$1} = $2;
}
while ($s =~ /^\s*#\s*define\s+(ASYNC_\w+)(\(([^)]*)\))?/mg) { $macro{$1} = defined $3 ? $3 : undef }
my %public = (%names);
sub bad { push @bad, "check_names: $_[0]: $_[1]" }

# absolute time
for my $n (sort keys %public) {
    next if $n eq "async_runtime_next_deadline";
    bad($n, "absolute time is _until, not at/deadline") if $n =~ /(?:^|_)(?:at|deadline)(?:_|$)/i;
}
for my $f (sort keys %fn) {
    my $p = $fn{$f};
    if ($f =~ /_until$/ && $f ne "async_bufreader_read_until" && $p !~ /\basync_time\b/) {
        bad($f, "an _until function takes an absolute async_time");
    }
    if ($p =~ /\basync_time\s+(?:deadline|start)\b/ && $f !~ /_until$/) {
        bad($f, "takes an absolute time: its name ends in _until");
    }
}
for my $m (sort keys %macro) {
    my $p = $macro{$m};
    next unless defined $p && $m !~ /^ASYNC__/;
    bad($m, "takes a deadline: its name ends in _UNTIL") if $p =~ /\bdeadline\b/ && $m !~ /_UNTIL$/;
    bad($m, "an _UNTIL macro takes a deadline") if $m =~ /_UNTIL$/ && $p !~ /\bdeadline\b/;
}

# waits and predicates
my $state = qr/closed|changed|cancelled|cancelling|finished|locked|pending|ready|empty|full|elapsed|done/;
for my $f (sort keys %fn) {
    if ($f =~ /_($state)$/ && $f !~ /_(?:is|has|wait|mark|clear)_$1$/) {
        bad($f, "ends in a state: is_/has_ (ask), wait_ (wait), mark_/clear_ (set) before it");
    }
    if ($f =~ /_(?:is|has)_/) {
        for my $arg (split /,/, $fn{$f}) {
            bad($f, "a predicate only reads (const pointers): $arg")
                if $arg =~ /\*/ && $arg !~ /\bconst\b/;
        }
    }
}

# the one cancellation query
for my $n (sort keys %public) {
    bad($n, "the one cancellation query is async_task_is_cancelling")
        if ($n =~ /cancelling/i || $n =~ /IS_CANCELLED/) && $n ne "async_task_is_cancelling";
}
bad("async_task_is_cancelling", "missing") unless $fn{async_task_is_cancelling};

# try
my %try_ok = map { $_ => 1 } split " ", $ENV{TRY_OK};
for my $n (sort keys %public) {
    next unless $n =~ /(?:^|_)try(?:_|$)/i;
    bad($n, "try_ names only a non-blocking variant listed in tests/check_names.sh")
        unless $try_ok{$n};
}
for my $t (sort keys %try_ok) {
    (my $op = $t) =~ s/_try_/_/;
    bad($t, "listed as a try_ variant but not declared") unless $fn{$t};
    bad($t, "a try_ variant of $op, which is not declared") unless $fn{$op};
}

# object first
my %obj = map { $_ => 1 } split " ", $ENV{MODULES};
for my $t (keys %types) { $obj{$1} = 1 if $t =~ /^async_([a-z0-9]+)/ }
for my $f (sort keys %fn) {
    next if $f eq "async_strerror";
    my ($o) = $f =~ /^async_([a-z0-9]+)_/;
    bad($f, "async_<object>_<verb>: no object first") unless defined $o && $obj{$o};
    my %ptypes = map { $_ => 1 } $fn{$f} =~ /\b(async_\w+)\s*\*/g;
    if (keys %ptypes == 1 && $ptypes{async_runtime} && $f !~ /^async_(?:runtime|time)_/) {
        bad($f, "acts on a runtime only: async_runtime_ (or async_time_ for its clock)");
    }
}
print "$_\n" for @bad;
exit(@bad ? 1 : 0);
' "$H" || exit 1

# the retired names, anywhere in the tree (this file excepted)
status=0
for pair in $RETIRED; do
    old=${pair%%:*}; new=${pair#*:}
    where=$( (ls README.md Makefile 2>/dev/null
              find examples tests .ci -path tests/fuzz/corpus -prune -o -type f -print 2>/dev/null) |
             grep -v '^tests/check_names.sh$' | xargs grep -Ilw -- "$old" 2>/dev/null || true)
    # async.h's REVISION HISTORY lists each rename, old -> new, for those who upgrade
    if sed '/^REVISION HISTORY$/,/^\*\//d' "$H" | grep -qw -- "$old"; then
        where="$H $where"
    fi
    if [ -n "$where" ]; then
        echo "check_names: $old is retired (now $new), still in:" $where
        status=1
    fi
done
exit $status
