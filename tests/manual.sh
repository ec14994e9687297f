#!/bin/sh
# tests/manual.sh DIR [FILE...]  - compile every code block of the manual, run the programs.
# tests/manual.sh --quick-start  - print async.h's QUICK START program (for a cmp with
#                                  examples/hello.c)
#
# The manual is async.h's top comment (FILE async.h) and README.md (any other FILE);
# default: both. In async.h, code is indented 4 columns (prose 3, reference lists 5 and
# more) and follows a tag line, indented 3, that says how it is checked:
#     [program]                 a whole program: compiled and run, it must exit 0
#     [fragment]                statements, compiled inside the body of a task whose
#                               frame f has the fields of FRAME below (t and rc exist)
#     [not compiled: REASON]    shown only; keep these rare
# The block runs to the first line indented less than 4 columns. A line indented exactly
# 4 columns outside a tagged block is an error (untagged code). In README.md, a ```c
# block is a program unless the line before its fence is <!-- fragment --> or
# <!-- not compiled: REASON -->; other fences (```sh) are not C.
#
# The implementation is compiled once (DIR/impl.o); a program's own
# `#define ASYNC_IMPLEMENTATION` is dropped and it links with that, unless it defines
# another ASYNC_ macro (a configuration: then it is compiled whole). All fragments go
# into one file, one task function each. Exit status 0 when every block compiled with
# -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 (the implementation: -O0) and every
# program exited 0 (within 20 s).
CC=${CC:-cc}
FLAGS="-std=c99 -Wall -Wextra -Wpedantic -Werror -I."

# The frame every fragment sees as f (frame *f = (frame *)t).
FRAME='typedef struct {
    async_task task;
    async_timer timer;
    async_waiter w;
    async_mutex m;
    async_mpsc ch;
    int i, n, item, sum;
} frame;'

# awk: FILE -> "KIND LINE" records on stdout, each block into DIR/LINE.blk
extract() {                             # file dir
    case $1 in
    *.h) awk -v dir="$2" -v file="$1" '
        function flush() {
            if (kind == "") return
            while (nl > 0 && body[nl] ~ /^[ \t]*$/) nl--
            if (nl == 0) { printf "%s:%d: empty %s block\n", file, at, kind > "/dev/stderr"
                           bad = 1 }
            out = dir "/" at ".blk"
            printf "" > out
            for (i = 1; i <= nl; i++) print body[i] > out
            close(out)
            print kind, at
            kind = ""; nl = 0
        }
        /^\*\// { flush(); exit bad }
        kind != "" {
            if ($0 ~ /^[ \t]*$/ || $0 ~ /^    /) { body[++nl] = substr($0, 5); next }
            flush()
        }
        /^   \[program\]$/ { kind = "program"; at = NR; nl = 0; next }
        /^   \[fragment\]$/ { kind = "fragment"; at = NR; nl = 0; next }
        /^   \[not compiled: .+\]$/ { kind = "skip"; at = NR; nl = 0; next }
        /^   \[/ { printf "%s:%d: unknown tag: %s\n", file, NR, $0 > "/dev/stderr"; bad = 1 }
        /^    [^ ]/ { printf "%s:%d: untagged code\n", file, NR > "/dev/stderr"; bad = 1 }
        END { flush(); exit bad }' "$1" ;;
    *) awk -v dir="$2" -v file="$1" '
        /^```/ && kind != "" {
            close(out); print kind, at; kind = ""; next
        }
        /^```c[ \t]*$/ {
            kind = "program"
            if (prev ~ /^<!-- fragment -->/) kind = "fragment"
            if (prev ~ /^<!-- not compiled: .+ -->/) kind = "skip"
            at = NR; out = dir "/readme" NR ".blk"; printf "" > out; next
        }
        kind != "" { print > out; next }
        { prev = $0 }' "$1" ;;
    esac
}

if [ "$1" = --quick-start ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/manual.XXXXXX") || exit 2
    extract async.h "$tmp" >/dev/null 2>&1
    # the first tagged block after the QUICK START title
    at=$(awk '/^QUICK START$/ { q = 1 } q && /^   \[program\]$/ { print NR; exit }' async.h)
    [ -n "$at" ] && cat "$tmp/$at.blk"
    rm -rf "$tmp"
    [ -n "$at" ]
    exit
fi

dir=$1
shift
[ $# -eq 0 ] && set -- async.h README.md
mkdir -p "$dir" || exit 2
rm -f "$dir"/*.blk "$dir"/*.c
fails=0 programs=0 fragments=0 skipped=0
fail() { echo "  FAIL $*"; fails=$((fails + 1)); }

printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' >"$dir/impl.c"
if ! $CC $FLAGS -O0 -c "$dir/impl.c" -o "$dir/impl.o" >"$dir/impl.err" 2>&1; then
    cat "$dir/impl.err"
    fail "the implementation does not compile"
    exit 1
fi

frag=$dir/fragments.c
printf '#include "async.h"\n#include <stdio.h>\n#include <string.h>\n\n%s\n' "$FRAME" >"$frag"
for file in "$@"; do
    tag=$(basename "$file" | tr -c 'A-Za-z0-9\n' _)
    extract "$file" "$dir" >"$dir/$tag.list" || fail "$file: badly tagged code (above)"
    while read -r kind at; do
        blk=$dir/${at}.blk
        [ -f "$blk" ] || blk=$dir/readme${at}.blk
        case $kind in
        skip) skipped=$((skipped + 1)) ;;
        fragment)
            fragments=$((fragments + 1))
            printf '\n#line 1 "%s:%s"\nstatic int fragment_%s_%s(async_task *t) {\n' \
                "$file" "$at" "$tag" "$at" >>"$frag"
            printf '    frame *f = (frame *)t;\n    int rc = 0;\n' >>"$frag"
            printf '    (void)f; (void)rc;\n    ASYNC_BEGIN(t);\n    {\n' >>"$frag"
            printf '#line %s "%s"\n' $((at + 1)) "$file" >>"$frag"
            cat "$blk" >>"$frag"
            printf '    }\n    ASYNC_END(rc);\n}\n' >>"$frag"
            printf 'async_task_fn use_%s_%s = fragment_%s_%s;\n' "$tag" "$at" "$tag" "$at" \
                >>"$frag" ;;
        program)
            programs=$((programs + 1))
            src=$dir/${tag}_$at.c bin=$dir/${tag}_$at
            if grep -v '^#define ASYNC_IMPLEMENTATION' "$blk" | grep -q '^#define ASYNC_'; then
                cp "$blk" "$src"
                obj=
            else
                grep -v '^#define ASYNC_IMPLEMENTATION' "$blk" >"$src"
                obj=$dir/impl.o
            fi
            if ! $CC $FLAGS -O2 "$src" $obj -o "$bin" -lpthread >"$bin.err" 2>&1; then
                sed 's/^/      /' "$bin.err" | head -n 20
                fail "$file:$at: the program does not compile ($src)"
            elif ! timeout 20 "$bin" >"$bin.out" 2>&1; then
                sed 's/^/      /' "$bin.out" | tail -n 10
                fail "$file:$at: the program failed ($bin)"
            fi ;;
        esac
    done <"$dir/$tag.list"
done
if [ "$fragments" -gt 0 ] &&
    ! $CC $FLAGS -O2 -c "$frag" -o "$dir/fragments.o" >"$dir/frag.err" 2>&1
then
    sed 's/^/      /' "$dir/frag.err" | head -n 30
    fail "fragments do not compile ($frag)"
fi
echo "manual: $programs programs run, $fragments fragments compiled, $skipped not compiled," \
    "$fails failed"
[ "$fails" -eq 0 ]
