#!/bin/sh
# tests/compile/missing_macro.sh DIR - a body missing ASYNC_BEGIN or ASYNC_END
# (tests/compile/missing_macro.c) fails to compile with gcc, clang, g++ and clang++, in
# the switch and the computed-goto forms, with an error naming the missing macro (for
# a missing ASYNC_BEGIN, in the first error); the complete body compiles clean.
dir=$1
src=tests/compile/missing_macro.c
mkdir -p "$dir" || exit 1
status=0
for cc in "gcc -std=c99" "clang -std=c99" "g++ -x c++ -std=c++11" "clang++ -x c++ -std=c++11" \
          "gcc -std=gnu99 -DASYNC_USE_COMPUTED_GOTO" "clang -std=gnu99 -DASYNC_USE_COMPUTED_GOTO" \
          "g++ -x c++ -std=gnu++11 -DASYNC_USE_COMPUTED_GOTO"; do
    if ! $cc -Wall -Wextra -Werror -I. -DMISSING=0 -c $src -o "$dir/ok.o"; then
        echo "$cc: the complete body does not compile"; status=1
    fi
    for m in 1 2 3 4 5 6 7; do
        case $m in
        1) want=ASYNC_BEGIN_missing_before_this_ASYNC_AWAIT ;;
        2) want=ASYNC_BEGIN_missing_before_this_ASYNC_YIELD ;;
        3) want=ASYNC_BEGIN_missing_before_this_ASYNC_END ;;
        4) want=ASYNC_BEGIN_missing_before_this_select_or_join ;;
        5|6) want=ASYNC_END_missing_after_this_ASYNC_BEGIN ;;
        7) want=ASYNC_BEGIN_missing_before_this_ASYNC_AWAIT ;;
        esac
        if $cc -Wall -Wextra -I. -DMISSING=$m -c $src -o "$dir/bad.o" 2>"$dir/err.txt"; then
            echo "$cc, MISSING=$m: compiled"; status=1; continue
        fi
        first=$(grep -m1 'error' "$dir/err.txt")
        case $m in
        5|6) grep -q "error.*$want" "$dir/err.txt" ;;
        *) echo "$first" | grep -q "$want" ;;
        esac || { echo "$cc, MISSING=$m: no $want in the errors:"; cat "$dir/err.txt"; status=1; }
    done
done
exit $status
