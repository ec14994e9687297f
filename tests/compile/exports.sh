#!/bin/sh
# tests/compile/exports.sh OUTDIR - the implementation built as a shared library
# exports only what the header's declarations name: the public async_* functions, and
# the async__ entry points that its macros and inline fast paths call from your files
# (a select, a timeout, a typed channel...). Any other exported name is a leak.
set -eu
out=$1
mkdir -p "$out"
printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' >"$out/so.c"
${CC:-cc} -std=c99 -O2 -shared -fPIC -I. "$out/so.c" -o "$out/libasync.so" -lpthread
sed -n '/^#ifndef ASYNC_H_INCLUDED/,/^#ifdef ASYNC_IMPLEMENTATION/p' async.h >"$out/decl.h"
nm -D --defined-only "$out/libasync.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u >"$out/exports"
bad=0
n=0
while read -r s; do
    n=$((n + 1))
    case $s in
    _init|_fini|__bss_start|_edata|_end) continue ;;
    esac
    base=$(echo "$s" | sed 's/_abi[0-9a-z]*$//')     # the configuration-tagged names
    if ! grep -q "\\b$base\\b" "$out/decl.h"; then
        echo "exported but not named by the declarations: $s"
        bad=1
    fi
done <"$out/exports"
echo "exports: $n symbols, $(grep -c '^async__' "$out/exports") of them the macros' entry points"
exit $bad
