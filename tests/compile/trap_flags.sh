#!/bin/sh
# tests/compile/trap_flags.sh DIR - what PITFALLS says about a local used across an
# await (tests/compile/trap_local.c), in the switch and the computed-goto forms:
#  - the right way (TRAP=0) compiles clean under every flag below, and runs;
#  - clang -Wconditional-uninitialized catches each form of the trap (TRAP=1..3);
#  - gcc -Wjump-misses-init catches an initialised local inside the body (TRAP=2), and
#    C++ (g++, clang++) refuses to compile it.
dir=$1
src=tests/compile/trap_local.c
mkdir -p "$dir" || exit 1
status=0
ok() {                                  # TRAP compiler...: compiles clean
    t=$1; shift
    "$@" -Wall -Wextra -Werror -I. -DTRAP=$t -fsyntax-only $src ||
        { echo "$*, TRAP=$t: not clean"; status=1; }
}
caught() {                              # TRAP WHAT compiler...: fails, WHAT in its errors
    t=$1; what=$2; shift 2
    if "$@" -Wall -Wextra -Werror -I. -DTRAP=$t -fsyntax-only $src 2>"$dir/trap.err"; then
        echo "$*, TRAP=$t: not caught"; status=1
    elif ! grep -q -- "$what" "$dir/trap.err"; then
        echo "$*, TRAP=$t: no '$what' in:"; cat "$dir/trap.err"; status=1
    fi
}
# (the front ends give these diagnostics: no code is generated but for one run)
gcc -std=c99 -Wall -Wextra -Werror -Wjump-misses-init -I. -DTRAP=0 -DTRAP_RUN $src \
    -o "$dir/trap" && "$dir/trap" || { echo "TRAP=0 does not count to 3"; status=1; }
for form in "-std=c99" "-std=gnu99 -DASYNC_USE_COMPUTED_GOTO"; do
    xform=$(echo "$form" | sed 's/c99/c++11/; s/gnu99/gnu++11/')
    ok 0 gcc $form -Wjump-misses-init
    ok 0 clang $form -Wconditional-uninitialized
    ok 0 g++ -x c++ $xform
    ok 0 clang++ -x c++ $xform
    for t in 1 2 3; do
        caught $t conditional-uninitialized clang $form -Wconditional-uninitialized
    done
    caught 2 jump-misses-init gcc $form -Wjump-misses-init
    caught 2 'jump' g++ -x c++ $xform
    caught 2 'jump' clang++ -x c++ $xform
done
exit $status
