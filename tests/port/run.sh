#!/bin/sh
# tests/port/run.sh - `make port`: async.h away from the x86-64 host.
#   1. freestanding Cortex-M0+ and Cortex-M4 (arm-none-eabi-gcc, no libc, only the
#      compiler's own headers): the library must compile -Wpedantic -Werror clean and
#      import nothing but memcpy/memset/memmove/memcmp; its size is reported; then
#      tests/port/port_test.c runs under qemu-system-arm (-M microbit for the M0+
#      build, the micro:bit's nRF51 being a Cortex-M0, and -M mps2-an386 for the M4),
#      reporting through semihosting;
#   2. the hosted test suite (tests/test_*.c) on 32-bit x86 Linux (gcc -m32) and,
#      static, on 32-bit ARM Linux (qemu-arm) and RISC-V 64 Linux (qemu-riscv64),
#      summed by tests/run.sh (the servers' tests run the host's servers: `make port`
#      builds them first);
#   3. the examples that run bare (PORT_EXAMPLES, from the Makefile: not the servers)
#      on 32-bit x86 (gcc -m32, with ASan and UBSan) and on 32-bit ARM (qemu-arm),
#      where sizes and alignments are not x86-64's; each must exit 0;
#   4. the test suites and the bare examples cross-built for Windows with mingw-w64
#      and run under Wine (`tests/port/run.sh windows`, make port-windows: this alone).
# Tools come from apt when missing (.ci/need). Everything is built under build/port/.
# Ends with "port: N passed, M failed"; exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/../.."
B=build/port
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
[ "${1:-}" = windows ] || rm -rf "$B"
mkdir -p "$B"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "  ok    $*"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $*"; }
# Print a log file indented, at most 40 lines.
show() { sed -n '1,40s/^/        /p' "$1"; }
# The last "N passed, M failed" line of file $1 whose text before N is $2: sets
# got_p and got_f and adds them to the totals; fails if there is none.
add_summary() {
    line=$(grep -E "^$2[0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1 || true)
    [ -n "$line" ] || return 1
    set -- $(printf '%s\n' "$line" |
        sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*$/\2 \3/')
    got_p=$1
    got_f=$2
    pass=$((pass + got_p))
    fail=$((fail + got_f))
}
finish() {
    echo "port: $pass passed, $fail failed"
    if [ "$fail" -eq 0 ]; then exit 0; fi
    exit 1
}

# ---- Windows: mingw-w64 cross build, run under Wine ----------------------------------
# The suites ported to Windows (WIN_SUITES; the others are listed as not ported,
# not counted), each built with x86_64-w64-mingw32-gcc against the implementation
# compiled once, static (the tests' own threads use winpthreads; the library itself
# only Win32 and Winsock), run under Wine in a prefix of its own (made on the first
# run, ~10 s) through tests/run.sh.
WIN_SUITES="coro task time debug sync chan cancel comb opset stream io threads group proc"
WIN_SUITES="$WIN_SUITES srv_redis srv_httpd srv_net"
# The servers, built for Windows first: the servers' suites (srv_*) start them
# (tests/srv_win.h: CreateProcess), the echo server and the proxy run below too.
WIN_SERVERS="echo echo-client proxy chat httpd miniredis"
windows_section() {
    d=$B/windows
    rm -rf "$d"
    mkdir -p "$d/run"
    echo "port: test suite on Windows (x86_64-w64-mingw32-gcc, Wine)"
    if ! .ci/need "command -v x86_64-w64-mingw32-gcc && command -v wine" mingw-w64 wine \
        wine64; then
        bad "windows: could not install mingw-w64, wine"
        return
    fi
    echo "  $(x86_64-w64-mingw32-gcc --version | head -n 1); $(wine --version 2>/dev/null)"
    wcc="x86_64-w64-mingw32-gcc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow"
    wcc="$wcc -Wstrict-prototypes -I."
    # the implementation once for the suites, once as an example's (tests/impl_examples.c:
    # the servers and the suites that include one link against it, as make does)
    if ! $wcc -c tests/impl_suites.c -o "$d/impl.o" >"$d/impl.log" 2>&1 ||
        ! $wcc -c tests/impl_examples.c -o "$d/impl-ex.o" >>"$d/impl.log" 2>&1; then
        bad "windows: tests/impl_suites.c or tests/impl_examples.c does not compile:"
        show "$d/impl.log"
        return
    fi
    n=0
    for e in $WIN_SERVERS; do
        ( st=0
          $wcc -DASYNC_IMPLEMENTATION_INCLUDED "examples/$e.c" "$d/impl-ex.o" -o "$d/$e.exe" \
              -static -lws2_32 >"$d/$e.log" 2>&1 || st=$?
          echo $st >"$d/$e.rc" ) &
        n=$((n + 1))
        [ $((n % JOBS)) -eq 0 ] && wait
    done
    for t in $WIN_SUITES; do
        # a server's suite that includes its example: the example's implementation
        split="-DTEST_SPLIT $d/impl.o"
        grep -q '^#include "../examples/' tests/test_$t.c &&
            split="-DASYNC_IMPLEMENTATION_INCLUDED $d/impl-ex.o"
        case $t in srv_*) split="$split -DSRV_DIR=\"$d/\" -DSRV_LOG_DIR=\"$d/\"
            -DSECRET=\"httpd-test-secret-win.txt\" -lpsapi" ;; esac
        ( st=0
          $wcc tests/test_$t.c $split -o "$d/test_$t.exe" -static -lpthread \
              -lws2_32 >"$d/test_$t.log" 2>&1 || st=$?
          echo $st >"$d/test_$t.rc" ) &
        n=$((n + 1))
        [ $((n % JOBS)) -eq 0 ] && wait
    done
    wait
    for e in $WIN_SERVERS; do
        if [ "$(cat "$d/$e.rc")" -ne 0 ]; then
            bad "windows: examples/$e.c does not compile:"
            show "$d/$e.log"
        fi
    done
    todo=
    for t in $(ls tests/test_*.c | sed "s|tests/test_||; s|\.c$||"); do
        case " $WIN_SUITES " in *" $t "*) ;; *) todo="$todo $t" ;; esac
    done
    # (srv_faults reads /proc/PID/fd and /proc/PID/stat: Linux's)
    [ -n "$todo" ] && echo "  not ported (not run):$todo"
    prefix=$(pwd)/$d/wine
    WINEPREFIX=$prefix WINEDEBUG=-all wineboot -i >"$d/wineboot.log" 2>&1 || true
    wrappers=
    for t in $WIN_SUITES; do
        if [ "$(cat "$d/test_$t.rc")" -ne 0 ]; then
            bad "windows: tests/test_$t.c does not compile:"
            show "$d/test_$t.log"
            continue
        fi
        w=$d/run/test_$t-windows
        printf '#!/bin/sh\nWINEPREFIX=%s WINEDEBUG=-all exec timeout 300 wine %s "$@"\n' \
            "$prefix" '"$(dirname "$0")/../test_'"$t"'.exe"' >"$w"
        chmod +x "$w"
        wrappers="$wrappers $w"
    done
    if [ -n "$wrappers" ]; then
        status=0
        CHECKS= ./tests/run.sh $wrappers >"$d/results.txt" 2>&1 || status=$?
        sed 's/^/        /' "$d/results.txt"
        if ! add_summary "$d/results.txt" ""; then
            bad "windows: tests/run.sh printed no summary (exit $status)"
        elif [ $status -ne 0 ] && [ "$got_f" -eq 0 ]; then
            bad "windows: tests/run.sh exited with status $status"
        fi
    fi
    # The examples that run bare, each whole (the servers and their client take
    # arguments and are tested by the servers' suites), exit 0 each.
    echo "port: the examples on Windows (Wine)"
    wex=$(ls examples/*.c | sed 's|examples/||; s|\.c$||' |
        grep -vxE 'echo|echo-client|chat|proxy|httpd|miniredis')
    echo "  the servers (and echo-client) are run by their suites (srv_*), echo and proxy" \
        "against a Linux client below"
    n=0
    for e in $wex; do
        ( st=0
          $wcc "examples/$e.c" -o "$d/$e.exe" -static -lws2_32 >"$d/$e.log" 2>&1 || st=$?
          echo $st >"$d/$e.rc" ) &
        n=$((n + 1))
        [ $((n % JOBS)) -eq 0 ] && wait
    done
    wait
    for e in $wex; do
        if [ "$(cat "$d/$e.rc")" -ne 0 ]; then
            bad "windows: examples/$e.c does not compile:"
            show "$d/$e.log"
            continue
        fi
        status=0
        WINEPREFIX=$prefix WINEDEBUG=-all timeout 120 wine "$d/$e.exe" >"$d/$e.out" 2>&1 \
            </dev/null || status=$?
        if [ $status -eq 0 ]; then
            ok "windows: $e"
        else
            bad "windows: $e exited with status $status:"
            tail -n 25 "$d/$e.out" | sed 's/^/        /'
        fi
    done
    # The echo server, built for Windows, under Wine, against a client built for the
    # host (tests/port/echo_check.c: 1 MB and a half-close), then the proxy in front of
    # it; both stopped with the prefix.
    if [ "$(cat "$d/echo.rc")" -ne 0 ] || [ "$(cat "$d/proxy.rc")" -ne 0 ]; then
        :                                       # (said above)
    elif ! gcc -std=c99 -O2 tests/port/echo_check.c -o "$d/echo_check" >"$d/echo_check.log" 2>&1
    then
        bad "windows: tests/port/echo_check.c does not compile:"
        show "$d/echo_check.log"
    else
        WINEPREFIX=$prefix WINEDEBUG=-all timeout 120 wine "$d/echo.exe" 0 \
            >"$d/echo.out" 2>&1 </dev/null &
        wpid=$!
        port=
        for i in $(seq 200); do
            port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$d/echo.out")
            [ -n "$port" ] && break
            sleep 0.1
        done
        if [ -z "$port" ]; then
            bad "windows: echo.exe under Wine did not say its port in 20 s:"
            show "$d/echo.out"
        elif "$d/echo_check" "$port" >"$d/echo_check.out" 2>&1; then
            ok "windows: the echo server under Wine echoes 1 MB and a half-close"
            WINEPREFIX=$prefix WINEDEBUG=-all timeout 120 wine "$d/proxy.exe" 0 \
                "127.0.0.1:$port" >"$d/proxy.out" 2>&1 </dev/null &
            ppid=$!
            pport=
            for i in $(seq 200); do
                pport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
                    "$d/proxy.out")
                [ -n "$pport" ] && break
                sleep 0.1
            done
            if [ -n "$pport" ] && "$d/echo_check" "$pport" >"$d/proxy_check.out" 2>&1; then
                ok "windows: the proxy under Wine, in front of the echo server, the same"
            else
                bad "windows: the proxy under Wine (port ${pport:-none}):"
                show "$d/proxy.out"
                show "$d/proxy_check.out" 2>/dev/null || true
            fi
        else
            bad "windows: the echo server under Wine:"
            show "$d/echo_check.out"
        fi
        WINEPREFIX=$prefix wineserver -k >/dev/null 2>&1 || true
        wait $wpid 2>/dev/null || true
        if [ -n "${ppid:-}" ]; then wait "$ppid" 2>/dev/null || true; fi
    fi
    WINEPREFIX=$prefix wineserver -k >/dev/null 2>&1 || true
}
# `tests/port/run.sh windows` (make port-windows): this section alone.
if [ "${1:-}" = windows ]; then
    windows_section
    finish
fi

# ---- toolchains ------------------------------------------------------------------
echo "port: toolchains"
need() {
    if ! .ci/need "$@"; then
        bad "could not install: $*"
        finish
    fi
}
need "command -v arm-none-eabi-gcc && command -v arm-none-eabi-size" gcc-arm-none-eabi \
    libnewlib-arm-none-eabi binutils-arm-none-eabi
need "command -v qemu-system-arm" qemu-system-arm
need "command -v qemu-arm && command -v qemu-riscv64" qemu-user
need "command -v arm-linux-gnueabihf-gcc && test -f /usr/arm-linux-gnueabihf/lib/libc.a" \
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
need "command -v riscv64-linux-gnu-gcc && test -f /usr/riscv64-linux-gnu/lib/libc.a" \
    gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
# gcc -m32: Debian's gcc-multilib conflicts with the cross compilers above, so the
# versioned gcc-N-multilib (libraries and libc6-dev-i386), plus what gcc-multilib
# would add: /usr/include/asm, the bi-arch x86 kernel headers, here as an -isystem dir.
M32INC=$B/m32-include
mkdir -p "$M32INC"
[ -e /usr/include/asm ] || ln -sfn /usr/include/x86_64-linux-gnu/asm "$M32INC/asm"
M32="gcc -m32 -isystem $M32INC"
M32SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
need "printf '#include <errno.h>\nint main(void){return 0;}\n' |
    $M32 $M32SAN -x c - -o $B/m32-probe" "gcc-$(gcc -dumpversion | cut -d. -f1)-multilib"
# A kernel without IA32 emulation runs no 32-bit x86 program (Exec format error): then
# they run under qemu-i386 as the other architectures do, the examples with UBSan alone
# (ASan's shadow memory cannot be mapped under qemu-user: it hangs).
M32RUN=
if ! "$B/m32-probe" >/dev/null 2>&1; then
    M32RUN=qemu-i386
    M32SAN="-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    need "command -v qemu-i386" qemu-user
    echo "  this kernel runs no 32-bit x86 program: x86-m32 under qemu-i386 (examples: UBSan, no ASan)"
fi
echo "  $(arm-none-eabi-gcc --version | head -n 1)"
echo "  $(qemu-system-arm --version | head -n 1)"

# ---- freestanding Cortex-M ---------------------------------------------------------
GI=$(arm-none-eabi-gcc -print-file-name=include)
GF=$(arm-none-eabi-gcc -print-file-name=include-fixed)
FS="-mthumb -Os -ffreestanding -nostdinc -isystem $GI -isystem $GF"
FS="$FS -ffunction-sections -fdata-sections"
W="-std=c99 -Wall -Wextra -Wpedantic -Werror"
ALLOWED="memcpy memset memmove memcmp"
# What a program using spawn/run/sleep/join/abort/interval/timeout links in: these
# entry points (with the names the ABI tag gives them) are the roots for --gc-sections.
ROOTS="async_runtime_init_abi1f4 async_task_spawn_abi1f4 async_runtime_run async_time_sleep
async_task_join async_task_abort async_interval_init async_interval_tick async__timer_arm
async__timer_disarm async__deadline_after async_time_now async__lost"
text_m0=
whole_m0=
for cpu in cortex-m0plus cortex-m4; do
    case $cpu in
    cortex-m0plus) machine=microbit ;;
    *) machine=mps2-an386 ;;
    esac
    d=$B/$cpu
    mkdir -p "$d"
    echo "port: freestanding $cpu"
    if arm-none-eabi-gcc -mcpu=$cpu $FS $W -I. -c tests/port/port_lib.c -o "$d/async.o" \
        >"$d/async.log" 2>&1; then
        ok "$cpu: async.h compiles freestanding ($W)"
    else
        bad "$cpu: async.h does not compile freestanding:"
        show "$d/async.log"
        continue
    fi

    extra=
    for s in $(arm-none-eabi-nm -u "$d/async.o" | awk '{print $2}'); do
        case " $ALLOWED " in
        *" $s "*) ;;
        *) extra="$extra $s" ;;
        esac
    done
    echo "        nm -u:" $(arm-none-eabi-nm -u "$d/async.o" | awk '{print $2}')
    if [ -z "$extra" ]; then
        ok "$cpu: the library imports only {$ALLOWED}"
    else
        bad "$cpu: the library imports symbols beyond {$ALLOWED}:$extra"
        arm-none-eabi-objdump -dr "$d/async.o" >"$d/async.dis"
        for s in $extra; do
            users=$(awk -v s="$s" '/^[0-9a-f]+ <[^>]+>:$/ { fn = $2 }
                $NF == s && /R_ARM_/ { gsub(/[<>:]/, "", fn); print fn }' "$d/async.dis" |
                sort -u | tr '\n' ' ')
            echo "        $s  referenced from: ${users:-?} (objdump -dr $d/async.o)"
        done
    fi

    set -- $(arm-none-eabi-size "$d/async.o" | awk 'NR == 2 {print $1, $2, $3}')
    echo "        $cpu async.o (the whole library, debug layer included): text $1 data $2 bss $3"
    # The coroutine, core and time layers alone: the debug layer compiled out.
    if ! arm-none-eabi-gcc -mcpu=$cpu $FS $W -DASYNC_NO_DEBUG -I. -c tests/port/port_lib.c \
        -o "$d/layers.o" >"$d/layers.log" 2>&1; then
        bad "$cpu: async.h does not compile with ASYNC_NO_DEBUG:"
        show "$d/layers.log"
        continue
    fi
    set -- $(arm-none-eabi-size "$d/layers.o" | awk 'NR == 2 {print $1}')
    whole=$1
    echo "        $cpu the library without the debug layer (ASYNC_NO_DEBUG), every function of" \
        "every layer: text $whole"
    # Their share of a program that uses spawn/run/sleep/join/abort/interval/timeout:
    # link the object alone with those entry points as --gc-sections roots.
    uflags=
    for r in $ROOTS; do uflags="$uflags -Wl,--undefined=$r"; done
    if arm-none-eabi-gcc -mcpu=$cpu -mthumb -nostdlib -nostartfiles -Wl,--gc-sections \
        -Wl,--entry=async_runtime_run $uflags -Wl,--unresolved-symbols=ignore-all \
        "$d/layers.o" -lgcc -o "$d/layers-min.elf" >"$d/layers-min.log" 2>&1; then
        set -- $(arm-none-eabi-size "$d/layers-min.elf" | awk 'NR == 2 {print $1}')
        echo "        $cpu those layers as linked into a program using spawn/run/sleep/join/" \
            "abort/interval/timeout (--gc-sections, without memcpy/memset): text $1"
        if [ $cpu = cortex-m0plus ]; then
            text_m0=$1
            whole_m0=$whole
        fi
    else
        bad "$cpu: the layers do not link alone:"
        show "$d/layers-min.log"
    fi

    built=1
    for src in startup port_test; do
        if ! arm-none-eabi-gcc -mcpu=$cpu $FS $W -fno-tree-loop-distribute-patterns -I. \
            -Itests/port -c tests/port/$src.c -o "$d/$src.o" >"$d/$src.log" 2>&1; then
            bad "$cpu: tests/port/$src.c does not compile:"
            show "$d/$src.log"
            built=0
        fi
    done
    [ $built = 1 ] || continue
    if arm-none-eabi-gcc -mcpu=$cpu -mthumb -nostdlib -nostartfiles -Wl,--gc-sections \
        -T tests/port/cm.ld -Wl,-Map="$d/port_test.map" "$d/startup.o" "$d/port_test.o" \
        "$d/async.o" -lgcc -o "$d/port_test.elf" >"$d/link.log" 2>&1; then
        ok "$cpu: port_test.elf links (-nostdlib -lgcc)"
    else
        bad "$cpu: port_test.elf does not link:"
        show "$d/link.log"
        continue
    fi
    set -- $(arm-none-eabi-size "$d/port_test.elf" | awk 'NR == 2 {print $1, $2, $3}')
    echo "        $cpu port_test.elf (library + test + startup): text $1 data $2 bss $3"

    status=0
    timeout 60 qemu-system-arm -M $machine -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$d/port_test.elf" \
        >"$d/qemu.out" 2>&1 || status=$?
    sed 's/^/        /' "$d/qemu.out"
    if ! add_summary "$d/qemu.out" "port_test: "; then
        bad "$cpu: qemu-system-arm -M $machine printed no summary (exit $status)"
    elif [ $status -ne 0 ] && [ "$got_f" -eq 0 ]; then
        bad "$cpu: qemu-system-arm -M $machine exited with status $status"
    elif grep -q '^FAIL' "$d/qemu.out" && [ "$got_f" -eq 0 ]; then
        bad "$cpu: a FAIL line, yet the summary says 0 failed"
    fi
done
if [ -n "$text_m0" ]; then
    echo "freestanding text: $text_m0 bytes"
    echo "  (cortex-m0plus -Os: the coroutine + core + time layers as a program using spawn/"
    echo "   run/sleep/join/abort/interval/timeout links them; target < 4096:" \
        "$([ "$text_m0" -lt 4096 ] && echo met || echo NOT met). Every function of every"
    echo "   layer, sync and channels included, without the debug layer: $whole_m0 bytes)"
    # the size is a feature: a change that grows the core past 4 KB fails here
    if [ "$text_m0" -lt 4096 ]; then
        ok "cortex-m0plus: the core a small program links is under 4096 bytes"
    else
        bad "cortex-m0plus: the core a small program links is $text_m0 bytes, not under 4096"
    fi
else
    echo "freestanding text: unknown (the library did not compile for cortex-m0plus)"
fi

# ---- Linux on 32-bit x86 (gcc -m32), 32-bit ARM and RISC-V 64 (qemu-user) ----------
HW="-std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -I."
for arch in x86-m32 arm riscv64; do
    case $arch in
    x86-m32) cc=$M32; qemu=$M32RUN ;;
    arm) cc="arm-linux-gnueabihf-gcc -static"; qemu=qemu-arm ;;
    *) cc="riscv64-linux-gnu-gcc -static"; qemu=qemu-$arch ;;
    esac
    d=$B/$arch
    mkdir -p "$d/run"
    echo "port: test suite on $arch Linux (${cc%% -*}${qemu:+, $qemu})"
    # The implementation once (tests/impl_suites.c), the suites against it (-DTEST_SPLIT),
    # side by side; a suite that includes an example whole compiles it, implementation
    # and all.
    if ! $cc $HW -c tests/impl_suites.c -o "$d/impl.o" >"$d/impl.log" 2>&1; then
        bad "$arch: tests/impl_suites.c does not compile:"
        show "$d/impl.log"
        continue
    fi
    suites=$(ls tests/test_*.c | sed "s|tests/test_||; s|\.c$||")
    n=0
    for t in $suites; do
        split="-DTEST_SPLIT $d/impl.o"
        grep -q '^#include "../examples/' tests/test_$t.c && split=
        ( $cc $HW tests/test_$t.c $split -o "$d/test_$t" -lpthread >"$d/test_$t.log" 2>&1
          echo $? >"$d/test_$t.rc" ) &
        n=$((n + 1))
        [ $((n % JOBS)) -eq 0 ] && wait
    done
    wait
    wrappers=
    for t in $suites; do
        if [ "$(cat "$d/test_$t.rc")" -ne 0 ]; then
            bad "$arch: tests/test_$t.c does not compile:"
            show "$d/test_$t.log"
            continue
        fi
        # Run through qemu explicitly: binfmt_misc may or may not be registered.
        w=$d/run/test_$t-$arch
        if [ -n "$qemu" ]; then
            printf '#!/bin/sh\nASYNC_PORT_QEMU=1 exec timeout 300 %s %s "$@"\n' \
                "$qemu" '"$(dirname "$0")/../test_'"$t"'"' >"$w"
        else
            printf '#!/bin/sh\nexec timeout 300 %s "$@"\n' \
                '"$(dirname "$0")/../test_'"$t"'"' >"$w"
        fi
        chmod +x "$w"
        wrappers="$wrappers $w"
    done
    [ -n "$wrappers" ] || continue
    status=0
    CHECKS= ./tests/run.sh $wrappers >"$d/results.txt" 2>&1 || status=$?
    sed 's/^/        /' "$d/results.txt"
    if ! add_summary "$d/results.txt" ""; then
        bad "$arch: tests/run.sh printed no summary (exit $status)"
    elif [ $status -ne 0 ] && [ "$got_f" -eq 0 ]; then
        bad "$arch: tests/run.sh exited with status $status"
    fi
done

# ---- the examples on 32-bit x86 (gcc -m32) and 32-bit ARM (qemu-arm) -----------------
# There a long double is 12 bytes aligned 4 (i386) or 8 (ARM), not 16: storage that
# an example sizes by assumption instead of by the library's own sizes overflows.
# Built at -O0: the warnings at -O2 are the native build's; this is about layout.
EXAMPLES=${PORT_EXAMPLES:-$(ls examples/*.c | sed 's|examples/||; s|\.c$||' |
    grep -vxE 'echo|echo-client|chat|proxy|httpd|miniredis')}
XW="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -I."
for arch in x86-m32 arm; do
    case $arch in
    x86-m32) cc="$M32 -std=c99 -O0 -g $M32SAN $XW"; run=$M32RUN ;;
    *) cc="arm-linux-gnueabihf-gcc -std=c99 -O0 -static $XW"; run=qemu-arm ;;
    esac
    d=$B/examples-$arch
    mkdir -p "$d"
    echo "port: the examples on $arch (${cc%% -std*}${run:+, $run})"
    n=0
    for e in $EXAMPLES; do             # each whole, JOBS side by side
        ( $cc "examples/$e.c" -o "$d/$e" -lpthread >"$d/$e.log" 2>&1; echo $? >"$d/$e.rc" ) &
        n=$((n + 1))
        [ $((n % JOBS)) -eq 0 ] && wait
    done
    wait
    for e in $EXAMPLES; do
        if [ "$(cat "$d/$e.rc")" -ne 0 ]; then
            bad "$arch: examples/$e.c does not compile:"
            show "$d/$e.log"
            continue
        fi
        status=0
        ASAN_OPTIONS=detect_leaks=1 timeout 120 $run "$d/$e" >"$d/$e.out" 2>&1 || status=$?
        if [ $status -eq 0 ]; then
            ok "$arch: $e"
        else
            bad "$arch: $e exited with status $status:"
            tail -n 25 "$d/$e.out" | sed 's/^/        /'
        fi
    done
done

windows_section
finish
