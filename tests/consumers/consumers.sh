#!/bin/sh
# tests/consumers/consumers.sh WAY [TMPDIR] - builds and runs tests/consumers/consumer.c, a
# user's project that takes async.h through a build system, one WAY:
#   cmake-subdir   CMake, add_subdirectory(<this repository>), async_h::async_h
#   cmake-find     CMake, find_package(async_h) after `cmake --install` to a prefix
#   meson-sub      Meson, this repository as the subproject async_h
#   pkg-config     `make install PREFIX=...`, then `pkg-config --cflags --libs async_h`
# Exit status 0 when the consumer builds and prints its line. Run from the repository's
# root (make test runs each way as a check; cmake, meson and pkg-config come from .ci/need).
set -eu
way=$1
root=$(pwd)
tmp=${2:-$(mktemp -d /tmp/async_h_consumer.XXXXXX)}
rm -rf "$tmp" && mkdir -p "$tmp/app"
tmp=$(cd "$tmp" && pwd)                 # absolute: the ways below change directory
cp tests/consumers/consumer.c "$tmp/app/main.c"
cd "$tmp"
case $way in
cmake-subdir)
    cat >app/CMakeLists.txt <<EOT
cmake_minimum_required(VERSION 3.14)
project(consumer C)
add_subdirectory("$root" async_h)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE async_h::async_h)
EOT
    cmake -S app -B build >log 2>&1 || { cat log; exit 1; }
    cmake --build build >>log 2>&1 || { cat log; exit 1; }
    ./build/consumer ;;
cmake-find)
    cmake -S "$root" -B lib-build >log 2>&1 || { cat log; exit 1; }
    cmake --install lib-build --prefix "$tmp/prefix" >>log 2>&1 || { cat log; exit 1; }
    cat >app/CMakeLists.txt <<EOT
cmake_minimum_required(VERSION 3.14)
project(consumer C)
find_package(async_h 0.1 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE async_h::async_h)
EOT
    cmake -S app -B build -DCMAKE_PREFIX_PATH="$tmp/prefix" >>log 2>&1 || { cat log; exit 1; }
    cmake --build build >>log 2>&1 || { cat log; exit 1; }
    test -f prefix/include/async.h && test -f prefix/share/pkgconfig/async_h.pc
    ./build/consumer ;;
meson-sub)
    mkdir -p app/subprojects
    ln -s "$root" app/subprojects/async_h
    cat >app/meson.build <<EOT
project('consumer', 'c')
async_h_dep = dependency('async_h', fallback: ['async_h', 'async_h_dep'])
executable('consumer', 'main.c', dependencies: async_h_dep)
EOT
    meson setup build app >log 2>&1 || { cat log; exit 1; }
    meson compile -C build >>log 2>&1 || { cat log; exit 1; }
    ./build/consumer ;;
pkg-config)
    make -s -C "$root" install PREFIX="$tmp/prefix" >log 2>&1 || { cat log; exit 1; }
    export PKG_CONFIG_PATH="$tmp/prefix/share/pkgconfig"
    flags=$(pkg-config --cflags --libs async_h)
    case $flags in *"$tmp/prefix/include"*) ;; *) echo "pkg-config says: $flags"; exit 1 ;; esac
    ${CC:-cc} -std=c99 -Wall -Wextra -Werror app/main.c $flags -o consumer
    ./consumer ;;
*)
    echo "usage: tests/consumers/consumers.sh cmake-subdir|cmake-find|meson-sub|pkg-config" >&2
    exit 2 ;;
esac
cd "$root"
[ -n "${2:-}" ] || rm -rf "$tmp"
