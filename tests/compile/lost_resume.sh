#!/bin/sh
# tests/compile/lost_resume.sh DIR CC - the lost-resume trap with the default
# ASYNC_ASSERT (tests/compile/assert_default.c), built into DIR with CC:
#  - without NDEBUG it aborts; stderr names the await's file:line and the task, and
#    what the program printed before is not lost in a pipe (stdio flushed first);
#  - with NDEBUG it reports once (two tasks lose their resume point: one message) and
#    each task ends with ASYNC_ELOST.
dir=$1
cc=$2
src=tests/compile/assert_default.c
site="$src:$(grep -n '/\* LOST \*/' $src | cut -d: -f1)"
fail() { echo "lost_resume.sh: $*"; exit 1; }
mkdir -p "$dir" || exit 1

$cc -std=c99 -I. $src -o "$dir/lost" || fail "build failed"
{ "$dir/lost" 2>"$dir/lost.err"; echo $? >"$dir/lost.rc"; } | cat >"$dir/lost.out"
[ "$(cat "$dir/lost.rc")" -ne 0 ] || fail "did not abort"
grep -q "$site.*lost resume point" "$dir/lost.err" || fail "no $site in: $(cat "$dir/lost.err")"
grep -q 'lost-task-one' "$dir/lost.err" || fail "no task name in: $(cat "$dir/lost.err")"
grep -q 'printed before' "$dir/lost.out" || fail "stdout lost in the pipe"

$cc -std=c99 -DNDEBUG -I. $src -o "$dir/lost-ndebug" || fail "NDEBUG build failed"
"$dir/lost-ndebug" >"$dir/lost-ndebug.out" 2>"$dir/lost-ndebug.err" ||
    fail "NDEBUG: exit status $? (each task should end with ASYNC_ELOST)"
grep -q 'results ELOST ELOST' "$dir/lost-ndebug.out" || fail "NDEBUG: not ASYNC_ELOST"
[ "$(grep -c 'lost resume point' "$dir/lost-ndebug.err")" -eq 1 ] ||
    fail "NDEBUG: not reported exactly once: $(cat "$dir/lost-ndebug.err")"
grep -q "$site.*lost-task-one" "$dir/lost-ndebug.err" ||
    fail "NDEBUG: no $site and task in: $(cat "$dir/lost-ndebug.err")"
exit 0
