#!/bin/sh
# tests/compile/msvc_syntax.sh - async.h in the C that MSVC accepts, as far as it can be
# told here without MSVC: clang --target=x86_64-pc-windows-msvc -fsyntax-only (no
# __GNUC__; -U__clang__ as well, so that the paths cl.exe takes are the ones checked:
# its atomics, no GNU builtins, no VLAs, no statement expressions) against Wine's
# Windows and C library headers (Debian libwine-dev; mingw-w64's headers do not
# parse in MSVC mode), over the implementation: C99, C11 without threads, and as
# clang-cl (with __clang__). Exit status 0 when all three compile -Werror clean.
set -eu
cd "$(dirname "$0")/../.."
.ci/need "command -v clang" clang >&2
.ci/need "test -f /usr/include/wine/wine/msvcrt/stdlib.h" libwine-dev >&2
W=/usr/include/wine/wine
R=$(clang -print-resource-dir)/include
f=$(mktemp "${TMPDIR:-/tmp}/async-msvc.XXXXXX.c")
trap 'rm -f "$f"' EXIT
printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\nint main(void) { return 0; }\n' >"$f"
for m in "-std=c99 -U__clang__" "-std=c11 -U__clang__ -DASYNC_NO_THREADS" "-std=c99"; do
    clang --target=x86_64-pc-windows-msvc $m -x c -fsyntax-only -Wall -Wextra -Wpedantic \
        -Wvla -Werror -nostdinc -isystem "$W/msvcrt" -isystem "$W/windows" -isystem "$R" \
        -I. "$f" || { echo "msvc_syntax: fails with $m" >&2; exit 1; }
done
