# async.h - build, test, benchmark. Needs only a C compiler and make; tools for
# sanitizers and ports are installed through apt (.ci/need) when missing.
#
#   make demo        run examples/demo.c, the tour
#   make test        every test, in the switch form, the computed-goto form and as
#                    C++, plus compile checks and the fuzzers' seed corpora replayed,
#                    and the suites again under the perturbation modes (tests/faults.h:
#                    clock jumps, failing allocations and system calls, preemption),
#                    the hosted suites and the servers' tests in the strict POSIX
#                    build too (-posix: as on macOS and the BSDs, every Linux-only
#                    name poisoned by tests/compile/posix_only.h; with failing system
#                    calls too, and allocations in its I/O suite);
#                    the implementation compiled once per form, the suites run side
#                    by side (JOBS=N), one line each; last line "N passed, M failed".
#                    V=1 shows the compiler commands
#   make examples    build every example into build/examples/ (but examples/embed/, the
#                    runtime driven by GLib's and libuv's loops: make test builds and runs
#                    them, with libglib2.0-dev and libuv1-dev installed when missing)
#   make sanitize    every test under ASan+UBSan with gcc and clang, and the
#                    threaded ones under TSan; failing allocations and system calls
#                    under ASan, preemption under TSan
#   make soak        the perturbation modes with a large budget, 1e5 random scripts
#                    per model, 50 preemption seeds under TSan (hours)
#   make coverage    line and branch coverage of async.h
#   make bench       ns per operation, median of several runs, with C baselines
#   make bench-icount  instructions per operation (valgrind --tool=callgrind)
#   make bench-servers the example servers vs nginx, redis-server, a hand-written
#                    epoll echo server (wrk, redis-benchmark; installed when missing),
#                    and on each backend (poll, epoll, io_uring)
#   make bench-peers the multi-core workloads (cross-runtime mpsc, ping-pong) vs Tokio's
#                    multi-thread runtime and Go, one table (golang-go, cargo,
#                    librust-tokio-dev installed when missing; Tokio built offline)
#   make fuzz        libFuzzer harnesses (tests/fuzz/: the servers' parsers, httpd's
#                    request handler and miniredis's command layer, the mpsc,
#                    broadcast and watch channels, Semaphore/Mutex/RwLock, Notify/Barrier,
#                    CancellationToken trees, JoinSet, the op set, select over two channels,
#                    stream pipelines, as state machines), FUZZ_SECONDS each, with
#                    tests/fuzz/NAME.dict and the seeds in tests/fuzz/corpus/NAME/
#                    when they exist
#   make port        Cortex-M0+/M4 freestanding build under qemu-system-arm, the
#                    test suite on 32-bit ARM and RISC-V 64 Linux under qemu-user, and
#                    the examples on 32-bit x86 (gcc -m32, ASan+UBSan) and 32-bit ARM,
#                    the suites for Windows (mingw-w64) under Wine (make port-windows:
#                    that part alone)
#   make install     PREFIX=/usr/local (DESTDIR too): the header, and a pkg-config file
#                    (share/pkgconfig/async_h.pc); CMakeLists.txt and meson.build do
#                    the same for CMake (find_package(async_h)) and Meson
#   make clean

# Build side by side by default (make -jN chooses otherwise).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
# Quiet by default: the commands are not echoed (their errors are); V=1 shows them.
ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif

CC ?= cc
CXX ?= c++
B := build
O := $(B)/obj
WARN := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
# The flags that catch a local used across an await, per compiler (async.h PITFALLS,
# checked by tests/compile/trap_flags.sh); C++ refuses such code by itself.
WARN_GCC := -Wjump-misses-init
WARN_CLANG := -Wconditional-uninitialized
WARN_CC := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),$(WARN_CLANG),$(WARN_GCC))
# The suites are built without debug information (a quarter of their compile time; a
# failure names its file and line by itself): make test DEBUG=-g to have it.
DEBUG ?=
CFLAGS_TEST := -std=c99 $(WARN) $(WARN_CC) -O2 $(DEBUG) -I.
CFLAGS_GOTO := -std=gnu99 -DASYNC_USE_COMPUTED_GOTO -Wall -Wextra -Werror -Wshadow $(WARN_CC) \
    -O2 $(DEBUG) -I.
CXXFLAGS_TEST := -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Wshadow -O2 $(DEBUG) -I.
LIBS := -lpthread

TESTS := coro task time debug sync chan cancel comb opset stream io threads proc group
# The I/O suite runs once more on the epoll backend, and on io_uring (-DASYNC_USE_IO_URING:
# io_uring by default; epoll where the kernel refuses it). The suites of the hosted layer run
# once more in the strict POSIX build (-posix: async.h as on macOS and the BSDs).
POSIX_TESTS := time io threads proc group
TEST_BINS := $(foreach t,$(TESTS),$(B)/test/test_$(t) $(B)/test/test_$(t)-goto $(B)/test/test_$(t)-cxx) \
    $(B)/test/test_io-epoll $(B)/test/test_io-epoll-cxx $(B)/test/test_io-uring \
    $(foreach t,$(POSIX_TESTS),$(B)/test/test_$(t)-posix)
EXAMPLES := $(patsubst examples/%.c,%,$(wildcard examples/*.c))
EXAMPLE_BINS := $(addprefix $(B)/examples/,$(EXAMPLES))
# The examples that choose the epoll backend (an implementation setting).
EPOLL_EXAMPLES := $(patsubst examples/%.c,%,\
    $(shell grep -l '^\#define ASYNC_USE_EPOLL' examples/*.c))
# The network servers take arguments (a port...): make test runs them through their
# own integration tests (tests/test_srv_*.c) instead of running them bare.
SERVERS := $(filter echo echo-client chat proxy httpd miniredis,$(EXAMPLES))
SRV_TESTS := $(patsubst tests/test_srv_%.c,%,$(wildcard tests/test_srv_*.c))
SRV_TEST_BINS := $(addprefix $(B)/test/test_srv_,$(SRV_TESTS))
# The servers' tests that include an example whole (its parser) and those that only
# drive the built servers (they include tests/test.h alone).
SRV_EX_TESTS := $(patsubst tests/test_srv_%.c,%,\
    $(shell grep -l '^\#include "../examples/' tests/test_srv_*.c))
SRV_PLAIN_TESTS := $(filter-out $(SRV_EX_TESTS),$(SRV_TESTS))
# The servers' tests that run again in the strict POSIX build (see below).
POSIX_SRV_TESTS := net redis httpd faults
POSIX_SRV_TEST_BINS := $(addprefix $(B)/test/test_srv_,$(addsuffix -posix,$(POSIX_SRV_TESTS)))
# The servers' tests again with every server on io_uring (see below).
URING_SRV_TEST_BINS := $(addprefix $(B)/test/test_srv_,$(addsuffix -uring,$(SRV_TESTS)))
# The fuzzers with a seed corpus: their seeds are replayed by make test (see below).
REPLAYS := $(patsubst tests/fuzz/corpus/%/,%,$(wildcard tests/fuzz/corpus/*/))
REPLAY_BINS := $(addprefix $(B)/test/replay_,$(REPLAYS))
HDR := async.h tests/test.h tests/chan_model.h tests/broadcast_model.h tests/sync_model.h \
       tests/notify_model.h tests/token_model.h tests/bucket_model.h tests/watch_model.h tests/joinset_model.h \
       tests/select_model.h tests/opset_model.h tests/stream_model.h tests/xrt_model.h tests/fuzz/model_fuzz.h \
       tests/fuzz/resp_check.h tests/fuzz/redis_check.h tests/flood.h tests/faults.h
IMPL_HDR := async.h tests/test.h tests/impl_suites.c

.PHONY: all test demo examples sanitize soak coverage bench bench-icount bench-servers fuzz \
    port port-windows clean bench-peers install uninstall
all: $(TEST_BINS) $(EXAMPLE_BINS)

# ---- tests ---------------------------------------------------------------------
# The implementation is compiled once per form (tests/impl_suites.c: async.h with the
# tests' hooks from tests/test.h) and each suite, compiled with -DTEST_SPLIT in the
# same form, links against it. The C99 form is built with the perturbation hooks
# (tests/faults.h: inert unless ASYNC_TEST_FAULTS is set); the computed-goto and C++
# forms are built without them. The epoll backend is an implementation setting: the
# I/O suite's object links once against each backend.
$(O)/impl-c.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_FAULTS -c tests/impl_suites.c -o $@
$(O)/impl-c-epoll.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_FAULTS -DASYNC_USE_EPOLL -c tests/impl_suites.c -o $@
$(O)/impl-c-uring.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_FAULTS -DASYNC_USE_IO_URING -c tests/impl_suites.c -o $@
$(O)/impl-goto.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_GOTO) -c tests/impl_suites.c -o $@
$(O)/impl-cxx.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS_TEST) -c tests/impl_suites.c -o $@
$(O)/impl-cxx-epoll.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS_TEST) -DASYNC_USE_EPOLL -c tests/impl_suites.c -o $@
# The strict POSIX build: ASYNC_POSIX_ONLY (async.h uses what macOS and the BSDs have
# too), POSIX.1-2008 and no more, and tests/compile/posix_only.h ahead of every file:
# the system headers read, then each Linux-only name (eventfd, accept4, pipe2,
# SOCK_CLOEXEC, MSG_NOSIGNAL, pthread_condattr_setclock, epoll, __linux__...) undefined
# and poisoned, so that a use of one in async.h or in a suite fails to compile. With
# the perturbation hooks, as the C99 form (inert unless ASYNC_TEST_FAULTS is set).
CFLAGS_POSIX := $(CFLAGS_TEST) -DASYNC_POSIX_ONLY -D_POSIX_C_SOURCE=200809L \
    -include tests/compile/posix_only.h
$(O)/impl-posix.o: $(IMPL_HDR) tests/compile/posix_only.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX) -DTEST_FAULTS -c tests/impl_suites.c -o $@
$(B)/test/test_%-posix: tests/test_%.c $(HDR) tests/compile/posix_only.h $(O)/impl-posix.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX) -DTEST_FAULTS -DTEST_SPLIT $< $(O)/impl-posix.o -o $@ $(LIBS)
# ASYNC_NO_SITES is a setting of every file: the build checks link two suites so.
# The implementation with tests/compile/fail_alloc.h ahead of it, for the checks
# example-NAME-fails-setup-loudly (tests/examples_setup_fails.sh).
$(O)/impl-failalloc.o $(O)/impl-failalloc-epoll.o: tests/impl_examples.c \
    tests/compile/fail_alloc.h async.h
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c99 $(WARN) -O0 -D_DEFAULT_SOURCE -I. -include tests/compile/fail_alloc.h \
	    $(if $(findstring epoll,$@),-DASYNC_USE_EPOLL) -c $< -o $@
$(O)/impl-nosites.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DASYNC_NO_SITES -c tests/impl_suites.c -o $@

$(B)/test/test_%: tests/test_%.c $(HDR) $(O)/impl-c.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_FAULTS -DTEST_SPLIT $< $(O)/impl-c.o -o $@ $(LIBS)
$(B)/test/test_%-goto: tests/test_%.c $(HDR) $(O)/impl-goto.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_GOTO) -DTEST_SPLIT $< $(O)/impl-goto.o -o $@ $(LIBS)
$(B)/test/test_%-cxx: tests/test_%.c $(HDR) $(O)/impl-cxx.o
	@mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS_TEST) -DTEST_SPLIT $< -x none $(O)/impl-cxx.o -o $@ $(LIBS)
$(O)/test_io-c.o: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_FAULTS -DTEST_SPLIT -c $< -o $@
$(O)/test_io-cxx.o: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS_TEST) -DTEST_SPLIT -c $< -o $@
$(B)/test/test_io: $(O)/test_io-c.o $(O)/impl-c.o
	@mkdir -p $(@D)
	$(Q)$(CC) $^ -o $@ $(LIBS)
$(B)/test/test_io-epoll: $(O)/test_io-c.o $(O)/impl-c-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CC) $^ -o $@ $(LIBS)
$(B)/test/test_io-uring: $(O)/test_io-c.o $(O)/impl-c-uring.o
	@mkdir -p $(@D)
	$(Q)$(CC) $^ -o $@ $(LIBS)
$(B)/test/test_io-cxx: $(O)/test_io-cxx.o $(O)/impl-cxx.o
	@mkdir -p $(@D)
	$(Q)$(CXX) $^ -o $@ $(LIBS)
$(B)/test/test_io-epoll-cxx: $(O)/test_io-cxx.o $(O)/impl-cxx-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CXX) $^ -o $@ $(LIBS)

# Build checks, one per line: "name|command". Each counts as one test. run.sh starts
# them in this order, before the suites: the longest first.
$(B)/checks.txt: Makefile $(wildcard examples/*.c) $(O)/impl-nosites.o $(O)/impl-failalloc.o \
    $(O)/impl-failalloc-epoll.o
	@mkdir -p $(B)/chk
	@{ \
	for e in $(filter-out $(SERVERS),$(EXAMPLES)); do echo "example-$$e-fails-setup-loudly|IMPL=$(O)/impl-failalloc.o IMPL_EPOLL=$(O)/impl-failalloc-epoll.o tests/examples_setup_fails.sh $(B)/chk/setup-$$e $$e"; done; \
	echo "small-items-no-false-warnings-O2-O3|gcc -std=c99 $(WARN) -O3 -Warray-bounds=2 -I. tests/compile/o3_items.c -o $(B)/chk/o3-gcc $(LIBS) && $(B)/chk/o3-gcc && gcc -std=c99 $(WARN) -O2 -I. -c tests/compile/o3_items.c -o $(B)/chk/o2-gcc.o && clang -std=c99 $(WARN) -O3 -I. tests/compile/o3_items.c -o $(B)/chk/o3-clang $(LIBS) && $(B)/chk/o3-clang"; \
	for cc in gcc clang; do for std in c99 c11; do \
	  echo "$$cc-$$std|$$cc -std=$$std $(WARN) -Wconversion -Wsign-conversion -I. -c tests/compile/compile_c.c -o $(B)/chk/$$cc-$$std.o"; \
	done; done; \
	echo "epoll-gcc-clang-conversion|gcc -std=c99 $(WARN) -Wconversion -Wsign-conversion -DASYNC_USE_EPOLL -I. -c tests/compile/compile_c.c -o $(B)/chk/epoll-gcc.o && clang -std=c11 $(WARN) -Wconversion -Wsign-conversion -DASYNC_USE_EPOLL -I. -c tests/compile/compile_c.c -o $(B)/chk/epoll-clang.o"; \
	echo "no-threads-drops-the-layer|gcc -std=c99 $(WARN) -DASYNC_NO_THREADS -I. -c tests/compile/compile_c.c -o $(B)/chk/nothreads.o && ! nm $(B)/chk/nothreads.o | grep -q 'pthread\|async_pool_init\|async_inbox\|async_group\|init_shared'"; \
	echo "gcc-jump-misses-init|gcc -std=c99 $(WARN) -Wjump-misses-init -I. -c tests/test_coro.c -o $(B)/chk/jmi.o"; \
	echo "g++-c++11|g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I. tests/compile/compile_cpp.cc -o $(B)/chk/cpp11 && $(B)/chk/cpp11"; \
	echo "clang++-c++17|clang++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -I. tests/compile/compile_cpp.cc -o $(B)/chk/cpp17 && $(B)/chk/cpp17"; \
	echo "clang-goto|clang -std=gnu99 -DASYNC_USE_COMPUTED_GOTO -Wall -Wextra -Werror -I. tests/test_coro.c -o $(B)/chk/coro-clang-goto $(LIBS) && $(B)/chk/coro-clang-goto"; \
	echo "pedantic-rejects-goto|! gcc -std=c99 -DASYNC_USE_COMPUTED_GOTO -Wpedantic -Werror -I. -c tests/test_coro.c -o $(B)/chk/x.o"; \
	echo "local-across-await-flags-catch-it|tests/compile/trap_flags.sh $(B)/chk/trap"; \
	echo "clang-conditional-uninitialized-clean|for f in tests/test_*.c examples/*.c; do clang -std=c99 $(WARN) $(WARN_CLANG) -DASYNC_IMPLEMENTATION_INCLUDED -DTEST_SPLIT -I. -Itests -fsyntax-only \$$f || exit 1; done && clang -std=c99 $(WARN) $(WARN_CLANG) -I. -fsyntax-only tests/impl_examples.c"; \
	echo "missing-begin-or-end-names-it|tests/compile/missing_macro.sh $(B)/chk/missing"; \
	echo "default-assert-aborts-with-message|tests/compile/lost_resume.sh $(B)/chk/lost $(CC)"; \
	echo "no-sites-coro-suite|$(CC) $(CFLAGS_TEST) -DASYNC_NO_SITES -DTEST_SPLIT tests/test_coro.c $(O)/impl-nosites.o -o $(B)/chk/coro-nosites $(LIBS) && $(B)/chk/coro-nosites"; \
	echo "no-sites-debug-suite|$(CC) $(CFLAGS_TEST) -DASYNC_NO_SITES -DTEST_SPLIT tests/test_debug.c $(O)/impl-nosites.o -o $(B)/chk/debug-nosites $(LIBS) && $(B)/chk/debug-nosites"; \
	echo "impl-file-sees-what-user-files-see|gcc -std=gnu99 $(WARN) -I. tests/compile/impl_features.c -o $(B)/chk/feat-gnu $(LIBS) && $(B)/chk/feat-gnu && clang -std=gnu11 $(WARN) -I. tests/compile/impl_features.c -o $(B)/chk/feat-clang $(LIBS) && $(B)/chk/feat-clang"; \
	echo "shared-library-exports-only-the-declarations|tests/compile/exports.sh $(B)/chk/exports"; \
	echo "c17-c2x-gcc-clang|for s in c17 c2x; do for c in gcc clang; do \$$c -std=\$$s $(WARN) -I. -c tests/compile/compile_c.c -o $(B)/chk/std-\$$s-\$$c.o || exit 1; done; done"; \
	echo "tcc-runs-the-suites|.ci/need 'command -v tcc' tcc && for t in $(TCC_TESTS); do tcc -I. tests/test_\$$t.c -o $(B)/chk/tcc-\$$t $(LIBS) -lm && $(B)/chk/tcc-\$$t > $(B)/chk/tcc-\$$t.out 2>&1 || { cat $(B)/chk/tcc-\$$t.out; exit 1; }; done"; \
	echo "backend-contract|tests/compile/backend_contract.sh async.h"; \
	echo "posix-only-poisons-linux-names|tests/compile/posix_poison.sh $(CC)"; \
	echo "examples-compile-posix-only|for e in $(EXAMPLES); do $(CC) $(CFLAGS_POSIX_EX) -fsyntax-only examples/\$$e.c || exit 1; done"; \
	echo "msvc-c-subset-syntax|tests/compile/msvc_syntax.sh"; \
	echo "names-follow-the-grammar|tests/check_names.sh"; \
	echo "build-cmake-add-subdirectory|.ci/need 'command -v cmake' cmake && tests/consumers/consumers.sh cmake-subdir $(B)/consumer-cmake-subdir"; \
	echo "build-cmake-find-package|.ci/need 'command -v cmake' cmake && tests/consumers/consumers.sh cmake-find $(B)/consumer-cmake-find"; \
	echo "build-meson-subproject|.ci/need 'command -v meson && command -v ninja' meson ninja-build && tests/consumers/consumers.sh meson-sub $(B)/consumer-meson"; \
	echo "example-embed-glib-loop|.ci/need 'command -v pkg-config && pkg-config --exists glib-2.0' pkgconf libglib2.0-dev && CC=$(CC) tests/embed_examples.sh glib_loop $(B)/chk/embed"; \
	echo "example-embed-uv-loop|.ci/need 'command -v pkg-config && pkg-config --exists libuv' pkgconf libuv1-dev && CC=$(CC) tests/embed_examples.sh uv_loop $(B)/chk/embed"; \
	echo "build-pkg-config|.ci/need 'command -v pkg-config' pkgconf && CC=$(CC) tests/consumers/consumers.sh pkg-config $(B)/consumer-pkg-config"; \
	echo "no-debug-builds|$(CC) -std=c99 $(WARN) -DASYNC_NO_DEBUG -I. -c tests/compile/compile_c.c -o $(B)/chk/nodebug.o"; \
	echo "examples-compile-whole|for e in $(EXAMPLES); do for m in c99 gnu99; do $(CC) -std=\$$m $(WARN) -I. -fsyntax-only examples/\$$e.c || exit 1; done; done"; \
	for e in $(filter-out $(SERVERS),$(EXAMPLES)); do echo "example-$$e-runs|timeout 60 $(B)/examples/$$e > $(B)/chk/$$e.out 2>&1"; done; \
	for e in $(SERVERS); do echo "example-$$e-usage|$(B)/examples/$$e > /dev/null 2> $(B)/chk/$$e.err; [ \$$? -eq 2 ] && grep -qi usage $(B)/chk/$$e.err"; done; \
	echo "manual-code-blocks-compile-and-run|CC=$(CC) tests/manual.sh $(B)/manual async.h README.md"; \
	echo "manual-quick-start-is-hello-c|tests/manual.sh --quick-start | cmp - examples/hello.c"; \
	echo "async-h-lines-at-most-100-columns|awk 'length > 100 { print FILENAME \":\" FNR; bad = 1 } END { exit bad }' async.h"; \
	echo "time-suite-wheel-bits-3-and-8|for b in 3 8; do $(CC) -std=c99 $(WARN) -O1 -DASYNC_WHEEL_BITS=\$$b -I. tests/test_time.c -o $(B)/chk/test_time_w\$$b $(LIBS) && $(B)/chk/test_time_w\$$b > /dev/null || exit 1; done"; \
	echo "abi-same-config-links|$(CC) -I. tests/compile/abi_impl.c tests/compile/abi_user.c -o $(B)/chk/abi && $(B)/chk/abi"; \
	echo "abi-mismatch-fails-to-link|$(CC) -I. -c tests/compile/abi_impl.c -o $(B)/chk/abi-impl.o && $(CC) -I. -DASYNC_WHEEL_BITS=4 -c tests/compile/abi_user.c -o $(B)/chk/abi-user4.o && ! $(CC) $(B)/chk/abi-impl.o $(B)/chk/abi-user4.o -o $(B)/chk/abi-bad"; \
	echo "abi-profile-mismatch-fails-to-link|$(CC) -I. -c tests/compile/abi_impl.c -o $(B)/chk/abi-impl2.o && $(CC) -I. -DASYNC_FREESTANDING -c tests/compile/abi_user.c -o $(B)/chk/abi-userf.o && ! $(CC) $(B)/chk/abi-impl2.o $(B)/chk/abi-userf.o -o $(B)/chk/abi-bad2"; \
	} > $@

# The perturbation modes (tests/faults.h) over the C99 form of the suites: the clock
# jumping at each of its readings, each allocation failing, each system call of the
# reactor and I/O layer faulting. Longest first: run.sh runs them side by side.
FAULT_RUNS := sys:$(B)/test/test_io sys:$(B)/test/test_io-epoll sys:$(B)/test/test_io-uring \
    sys:$(B)/test/test_threads \
    sys:$(B)/test/test_proc sys:$(B)/test/test_group \
    $(foreach t,$(TESTS),clock:$(B)/test/test_$(t) alloc:$(B)/test/test_$(t)) \
    clock:$(B)/test/test_io-epoll alloc:$(B)/test/test_io-epoll \
    clock:$(B)/test/test_io-uring alloc:$(B)/test/test_io-uring \
    $(foreach t,threads task proc group,preempt:$(B)/test/test_$(t))
# The same for the strict POSIX build, where its code differs from Linux's (the wake
# pipe, fcntl after socket and accept, SIGPIPE): failing system calls over its suites
# but time, failing allocations over its I/O suite. About 73 s of runs, mostly waiting
# (14 s of CPU); sys:test_io-posix, 46 s alone, starts first (LONG_RUNS).
POSIX_FAULT_RUNS := $(foreach t,io threads proc group,sys:$(B)/test/test_$(t)-posix) \
    alloc:$(B)/test/test_io-posix
# The longest runs first (the two I/O suites under system call faults, the servers'
# tests, preemption in the threads suite), so that none of them is left running alone
# at the end.
LONG_RUNS := $(wordlist 1,3,$(FAULT_RUNS)) sys:$(B)/test/test_io-posix \
    $(B)/test/test_srv_faults $(B)/test/test_srv_net preempt:$(B)/test/test_threads \
    $(B)/test/test_srv_net-posix $(B)/test/test_srv_faults-posix \
    $(B)/test/test_srv_faults-uring $(B)/test/test_srv_net-uring
TEST_ORDER := $(LONG_RUNS) $(filter-out $(LONG_RUNS),$(FAULT_RUNS) $(POSIX_FAULT_RUNS) \
    $(TEST_BINS) $(SRV_TEST_BINS) $(POSIX_SRV_TEST_BINS) $(URING_SRV_TEST_BINS) \
    $(REPLAY_BINS))
test: $(TEST_BINS) $(EXAMPLE_BINS) $(SRV_TEST_BINS) $(POSIX_SRV_TEST_BINS) \
    $(URING_SRV_TEST_BINS) $(REPLAY_BINS) $(B)/checks.txt
	@.ci/need "command -v curl && command -v redis-cli" curl redis-tools
	@.ci/need "command -v clang && command -v clang++" clang
	@CHECKS=$(B)/checks.txt ./tests/run.sh $(TEST_ORDER)

# The servers' tests run the built binaries. Those that include an example whole (its
# parser, with the example's configuration) compile it, the implementation with it;
# the others link against the C form's implementation.
$(B)/test/test_srv_%: tests/test_srv_%.c $(HDR) $(wildcard examples/*.c) \
    $(addprefix $(B)/examples/,$(SERVERS)) $(O)/impl-ex.o $(O)/impl-ex-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -Itests -DASYNC_IMPLEMENTATION_INCLUDED $< $(call ex_impl,$<) -o $@ \
	    $(LIBS)
$(addprefix $(B)/test/test_srv_,$(SRV_PLAIN_TESTS)): $(B)/test/test_srv_%: tests/test_srv_%.c \
    $(HDR) $(O)/impl-c.o $(addprefix $(B)/examples/,$(SERVERS))
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -DTEST_SPLIT -Itests $< $(O)/impl-c.o -o $@ $(LIBS)

# The servers' tests once more with every server on io_uring (TEST_BACKEND: ASYNC_BACKEND
# in their environment; their own log and /tmp names: they run beside the others).
URING_SRV_FLAGS := -DTEST_BACKEND='"io_uring"' -DSRV_LOG_DIR='"$(B)/test/uring-"' \
    -DSECRET='"httpd-test-secret-uring.txt"'
$(B)/test/test_srv_%-uring: tests/test_srv_%.c $(HDR) $(wildcard examples/*.c) \
    $(addprefix $(B)/examples/,$(SERVERS)) $(O)/impl-ex.o $(O)/impl-ex-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) $(URING_SRV_FLAGS) -Itests -DASYNC_IMPLEMENTATION_INCLUDED $< \
	    $(call ex_impl,$<) -o $@ $(LIBS)
$(addprefix $(B)/test/test_srv_,$(addsuffix -uring,$(SRV_PLAIN_TESTS))): \
    $(B)/test/test_srv_%-uring: tests/test_srv_%.c $(HDR) $(O)/impl-c.o \
    $(addprefix $(B)/examples/,$(SERVERS))
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) $(URING_SRV_FLAGS) -DTEST_SPLIT -Itests $< $(O)/impl-c.o -o $@ \
	    $(LIBS)

# The servers in the strict POSIX build too (build/examples/posix/NAME: async.h as on
# macOS, the examples' #ifdef __linux__ false, so poll), and the servers' tests that
# drive them (test_srv_NAME-posix, with their own log and /tmp file names: they run
# beside the others). The implementation once (tests/impl_examples.c), as for the
# examples.
CFLAGS_POSIX_EX = $(EX_CFLAGS) -DASYNC_POSIX_ONLY -D_XOPEN_SOURCE=700 -DTEST_POSIX_EXAMPLES \
    -include tests/compile/posix_only.h
POSIX_SRV_FLAGS := -DSRV_DIR='"$(B)/examples/posix/"' -DSRV_LOG_DIR='"$(B)/test/posix-"' \
    -DSECRET='"httpd-test-secret-posix.txt"'
$(O)/impl-ex-posix.o: tests/impl_examples.c async.h tests/compile/posix_only.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX_EX) -c $< -o $@
$(B)/examples/posix/%: examples/%.c async.h tests/compile/posix_only.h $(O)/impl-ex-posix.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX_EX) -DASYNC_IMPLEMENTATION_INCLUDED $< $(O)/impl-ex-posix.o -o $@ \
	    $(LIBS)
$(B)/test/test_srv_%-posix: tests/test_srv_%.c $(HDR) tests/compile/posix_only.h \
    $(addprefix $(B)/examples/posix/,$(SERVERS)) $(O)/impl-ex-posix.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX_EX) $(POSIX_SRV_FLAGS) -Itests -DASYNC_IMPLEMENTATION_INCLUDED $< \
	    $(O)/impl-ex-posix.o -o $@ $(LIBS)
$(addprefix $(B)/test/test_srv_,$(addsuffix -posix,$(filter $(SRV_PLAIN_TESTS),$(POSIX_SRV_TESTS)))): \
    $(B)/test/test_srv_%-posix: tests/test_srv_%.c $(HDR) tests/compile/posix_only.h \
    $(O)/impl-posix.o $(addprefix $(B)/examples/posix/,$(SERVERS)) $(B)/test/accept_fail.so
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX) $(POSIX_SRV_FLAGS) -DTEST_SPLIT -Itests $< $(O)/impl-posix.o -o $@ \
	    $(LIBS)

# Each fuzzer with a seed corpus (tests/fuzz/corpus/NAME/) is also built with a plain
# compiler and tests/fuzz/replay.c's main: make test replays its seeds (no libFuzzer,
# no clang), make sanitize replays them under ASan and UBSan. (A fuzzer includes an
# example whole and uses part of it: unused functions are no error there.)
$(B)/test/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(HDR) $(wildcard examples/*.c) \
    $(O)/impl-ex.o $(O)/impl-ex-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_TEST) -Wno-unused-function -DREPLAY_DIR='"tests/fuzz/corpus/$*"' \
	    -DASYNC_IMPLEMENTATION_INCLUDED $< tests/fuzz/replay.c $(call ex_impl,$<) -o $@ $(LIBS)

# test_srv_net runs servers with an LD_PRELOAD shim that makes accept fail (ENOBUFS...).
$(B)/test/accept_fail.so: tests/accept_fail.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c99 $(WARN) -O2 -shared -fPIC $< -o $@ -ldl
$(B)/test/test_srv_net $(B)/san/test_srv_net: $(B)/test/accept_fail.so

# test_srv_faults runs the servers built once more with async.h's fault injection,
# driven by ASYNC_FAULTS: build/examples/fault/NAME, build/san/examples/fault/NAME.
# tests/fault_server.c is the implementation with a count of the faults it prints at
# exit (SERVER: the implementation alone, tests/impl_examples.c, in the server's
# backend), compiled once; each server links against it (-DASYNC_IMPLEMENTATION_INCLUDED,
# as the examples above). Under the sanitizers, each server is built whole with it.
FAULT_SERVERS := echo chat proxy httpd miniredis
FAULT_SRV_BINS := $(addprefix $(B)/examples/fault/,$(FAULT_SERVERS))
SAN_FAULT_SRV_BINS := $(addprefix $(B)/san/examples/fault/,$(FAULT_SERVERS))
FAULT_CFLAGS := -std=c99 $(WARN) -O2 -I. -DASYNC_FAULT_INJECTION
fault_impl = $(O)/fault-impl$(if $(filter $(1),$(EPOLL_EXAMPLES)),-epoll).o
$(O)/fault-impl.o $(O)/fault-impl-epoll.o: tests/fault_server.c tests/impl_examples.c async.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(FAULT_CFLAGS) $(if $(findstring epoll,$@),-DASYNC_USE_EPOLL) \
	    -DSERVER='"tests/impl_examples.c"' -c $< -o $@
.SECONDEXPANSION:
$(B)/examples/fault/%: examples/%.c async.h $$(call fault_impl,$$*)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FAULT_CFLAGS) -DASYNC_IMPLEMENTATION_INCLUDED $< $(call fault_impl,$*) -o $@ \
	    $(LIBS)
$(B)/san/examples/fault/%: examples/%.c tests/fault_server.c async.h
	@mkdir -p $(@D)
	$(Q)gcc -std=c99 $(WARN) $(SAN) -I. -DASYNC_FAULT_INJECTION -DSERVER='"examples/$*.c"' \
	    tests/fault_server.c -o $@ $(LIBS)
$(B)/test/test_srv_faults: $(FAULT_SRV_BINS)
$(B)/san/test_srv_faults: $(SAN_FAULT_SRV_BINS)
# ... and in the strict POSIX build (build/examples/posix/fault/NAME, the implementation
# once as above), for test_srv_faults-posix.
$(O)/fault-impl-posix.o: tests/fault_server.c tests/impl_examples.c async.h \
    tests/compile/posix_only.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX_EX) -DASYNC_FAULT_INJECTION -DSERVER='"tests/impl_examples.c"' \
	    -c $< -o $@
$(B)/examples/posix/fault/%: examples/%.c async.h tests/compile/posix_only.h \
    $(O)/fault-impl-posix.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_POSIX_EX) -DASYNC_FAULT_INJECTION -DASYNC_IMPLEMENTATION_INCLUDED $< \
	    $(O)/fault-impl-posix.o -o $@ $(LIBS)
$(B)/test/test_srv_faults-posix: $(addprefix $(B)/examples/posix/fault/,$(FAULT_SERVERS))

# ---- examples ------------------------------------------------------------------
# Each example is one file that includes the implementation (ASYNC_IMPLEMENTATION).
# Built here, the copy it includes is skipped (-DASYNC_IMPLEMENTATION_INCLUDED: async.h's
# guard) and it links against the implementation compiled once with the same flags
# (tests/impl_examples.c; the epoll backend for the examples that choose it). make test also
# compiles each one whole (the check examples-compile-whole), make sanitize the
# servers and make port the others, built and run whole.
EX_CFLAGS := -std=c99 $(WARN) $(WARN_CC) -O2 -I.
# The implementation object for a file that includes an example whole (a server's
# test, a fuzzer's replay): the example's backend.
ex_impl = $(O)/impl-ex$(if $(filter $(shell sed -n 's|^\#include "[./]*examples/\(.*\)\.c"|\1|p' \
    $(1)),$(EPOLL_EXAMPLES)),-epoll).o
$(O)/impl-ex.o: tests/impl_examples.c async.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(EX_CFLAGS) -c $< -o $@
$(O)/impl-ex-epoll.o: tests/impl_examples.c async.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(EX_CFLAGS) -DASYNC_USE_EPOLL -c $< -o $@
$(B)/examples/%: examples/%.c async.h $(O)/impl-ex.o $(O)/impl-ex-epoll.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(EX_CFLAGS) -DASYNC_IMPLEMENTATION_INCLUDED $< \
	    $(O)/impl-ex$(if $(filter $*,$(EPOLL_EXAMPLES)),-epoll).o -o $@ $(LIBS)
examples: $(EXAMPLE_BINS)
demo: $(B)/examples/demo
	./$(B)/examples/demo

# ---- sanitizers ----------------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
SAN_BINS := $(foreach t,$(TESTS),$(B)/san/test_$(t)-gcc $(B)/san/test_$(t)-clang) \
    $(B)/san/test_io-epoll-gcc $(B)/san/test_io-uring-gcc
# ThreadSanitizer over the suites where other threads are involved.
TSAN_TESTS := threads task proc group
TSAN_BINS := $(foreach t,$(TSAN_TESTS),$(B)/san/test_$(t)-tsan)
# As in make test, the implementation once per sanitizer form (gcc with the
# perturbation hooks, and with epoll; clang; clang with TSan and the hooks), and each
# suite compiled with -DTEST_SPLIT in the same form and linked against it.
SAN_GCC := gcc -std=c99 $(WARN) $(SAN) -I.
SAN_CLANG := clang -std=c11 $(WARN) $(SAN) -I.
TSAN_CLANG := clang -std=c11 $(WARN) -fsanitize=thread -g -O1 -I.
$(O)/san-gcc.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DTEST_FAULTS -c tests/impl_suites.c -o $@
$(O)/san-gcc-epoll.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DTEST_FAULTS -DASYNC_USE_EPOLL -c tests/impl_suites.c -o $@
$(O)/san-gcc-uring.o: $(IMPL_HDR)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DTEST_FAULTS -DASYNC_USE_IO_URING -c tests/impl_suites.c -o $@
$(O)/san-clang.o: $(IMPL_HDR) | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	$(Q)$(SAN_CLANG) -c tests/impl_suites.c -o $@
$(O)/tsan.o: $(IMPL_HDR) | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	$(Q)$(TSAN_CLANG) -DTEST_FAULTS -c tests/impl_suites.c -o $@
$(B)/san/test_%-tsan: tests/test_%.c $(HDR) $(O)/tsan.o | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	$(Q)$(TSAN_CLANG) -DTEST_FAULTS -DTEST_SPLIT $< $(O)/tsan.o -o $@ $(LIBS)
$(O)/san_io-gcc.o: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DTEST_FAULTS -DTEST_SPLIT -c $< -o $@
$(B)/san/test_io-gcc: $(O)/san_io-gcc.o $(O)/san-gcc.o
	@mkdir -p $(@D)
	$(Q)gcc $(SAN) $^ -o $@ $(LIBS)
$(B)/san/test_io-epoll-gcc: $(O)/san_io-gcc.o $(O)/san-gcc-epoll.o
	@mkdir -p $(@D)
	$(Q)gcc $(SAN) $^ -o $@ $(LIBS)
$(B)/san/test_io-uring-gcc: $(O)/san_io-gcc.o $(O)/san-gcc-uring.o
	@mkdir -p $(@D)
	$(Q)gcc $(SAN) $^ -o $@ $(LIBS)
$(B)/san/test_%-gcc: tests/test_%.c $(HDR) $(O)/san-gcc.o
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DTEST_FAULTS -DTEST_SPLIT $< $(O)/san-gcc.o -o $@ $(LIBS)
$(B)/san/test_%-clang: tests/test_%.c $(HDR) $(O)/san-clang.o | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	$(Q)$(SAN_CLANG) -DTEST_SPLIT $< $(O)/san-clang.o -o $@ $(LIBS)
$(B)/san/.clang-rt:
	@mkdir -p $(@D)
	@.ci/need "echo 'int main(void){return 0;}' | clang -x c -fsanitize=address - -o $(B)/san/probe" clang libclang-rt-14-dev
	@touch $@
# The servers' integration tests, against servers built with the sanitizers.
SAN_SRV_BINS := $(addprefix $(B)/san/examples/,$(SERVERS))
SAN_SRV_TEST_BINS := $(addprefix $(B)/san/test_srv_,$(SRV_TESTS))
.SECONDARY: $(SAN_SRV_BINS) $(addprefix $(B)/examples/,$(SERVERS))
# (The servers are built whole here: each example as its one file.)
$(B)/san/examples/%: examples/%.c async.h
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) $< -o $@ $(LIBS)
$(B)/san/test_srv_%: tests/test_srv_%.c $(HDR) $(wildcard examples/*.c) $(SAN_SRV_BINS)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DSRV_DIR='"$(B)/san/examples/"' -Itests $< -o $@ $(LIBS)
$(addprefix $(B)/san/test_srv_,$(SRV_PLAIN_TESTS)): $(B)/san/test_srv_%: tests/test_srv_%.c \
    $(HDR) $(O)/san-gcc.o $(SAN_SRV_BINS)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -DSRV_DIR='"$(B)/san/examples/"' -DTEST_SPLIT -Itests $< $(O)/san-gcc.o \
	    -o $@ $(LIBS)
SAN_REPLAY_BINS := $(addprefix $(B)/san/replay_,$(REPLAYS))
$(B)/san/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(HDR) $(wildcard examples/*.c)
	@mkdir -p $(@D)
	$(Q)$(SAN_GCC) -Wno-unused-function -DREPLAY_DIR='"tests/fuzz/corpus/$*"' \
	    $< tests/fuzz/replay.c -o $@ $(LIBS)
# The perturbation modes again under the sanitizers: failing allocations and system
# calls under ASan+UBSan (what an error path reads or leaks), and the threaded suites
# under TSan with a preemption at every step where threads meet.
SAN_FAULT_RUNS := $(foreach t,io io-epoll io-uring threads proc group,sys:$(B)/san/test_$(t)-gcc) \
    $(foreach t,$(TESTS),alloc:$(B)/san/test_$(t)-gcc) \
    $(foreach t,$(TSAN_TESTS),preempt:$(B)/san/test_$(t)-tsan)
sanitize: $(SAN_BINS) $(TSAN_BINS) $(SAN_SRV_TEST_BINS) $(SAN_REPLAY_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    TSAN_OPTIONS=halt_on_error=1:exitcode=66 ASYNC_TEST_FAULTS_BUDGET=0.5 \
	    ./tests/run.sh $(SAN_FAULT_RUNS) $(SAN_BINS) $(TSAN_BINS) $(SAN_SRV_TEST_BINS) \
	    $(SAN_REPLAY_BINS)

# A nightly-size run: every perturbation mode over every suite with a budget of
# SOAK_BUDGET seconds per test, the models' random scripts SOAK_SCRIPTS times each
# (make test: 20000), and the threaded suites under TSan with SOAK_SEEDS preemption
# seeds. Hours, not minutes.
SOAK_BUDGET ?= 30
SOAK_SCRIPTS ?= 100000
SOAK_SEEDS ?= 50
soak: $(TEST_BINS) $(TSAN_BINS)
	@ASYNC_TEST_FAULTS_BUDGET=$(SOAK_BUDGET) ASYNC_TEST_SCRIPTS=$(SOAK_SCRIPTS) \
	    ./tests/run.sh $(FAULT_RUNS) $(TEST_BINS)
	@s=1; while [ $$s -le $(SOAK_SEEDS) ]; do \
	    for t in $(TSAN_TESTS); do \
	        TSAN_OPTIONS=halt_on_error=1:exitcode=66 ASYNC_TEST_FAULTS=preempt:$$s \
	            $(B)/san/test_$$t-tsan | tail -n 1 | grep -q ' 0 failed' || \
	            { echo "preempt seed $$s: test_$$t failed"; exit 1; }; \
	    done; s=$$((s + 1)); done; echo "preempt: $(SOAK_SEEDS) seeds over $(TSAN_TESTS), TSan clean"

# ---- coverage ------------------------------------------------------------------
# -Dalways_inline=unused: async.h forces inlining of its hot path (ASYNC__HOT) and of
# the typed fast paths (ASYNC__TYPED), even at -O0; gcov then counts the branches of
# such a function once per call site (the test files' call sites included), numbered
# differently in each binary, so the merge in tests/coverage.sh would compare unrelated
# branches. Left to -O0 (which inlines nothing else), each function is one copy, and
# each of its branches counts once.
COV_CFLAGS := -std=c99 -O0 -g --coverage -fprofile-update=atomic -Dalways_inline=unused -I.
COV_BINS := $(foreach t,$(TESTS),$(B)/cov/test_$(t)) $(B)/cov/test_io-epoll
$(B)/cov/test_io-epoll: tests/test_io.c $(HDR) Makefile
	@mkdir -p $(@D)
	gcc $(COV_CFLAGS) -DASYNC_USE_EPOLL $< -o $@ $(LIBS)
$(B)/cov/test_%: tests/test_%.c $(HDR) Makefile
	@mkdir -p $(@D)
	gcc $(COV_CFLAGS) $< -o $@ $(LIBS)
coverage: $(COV_BINS)
	@rm -f $(B)/cov/*.gcda
	@./tests/run.sh $(COV_BINS) | tail -n 1
	@./tests/coverage.sh $(B)/cov

# ---- benchmarks ----------------------------------------------------------------
BENCH_CFLAGS := -std=c99 -O2 -DNDEBUG -I. -Wall -Wextra -Werror
$(B)/bench/%: tests/bench/%.c tests/bench/bench.h async.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@ $(LIBS)
# bench_echo (TCP echo on loopback) runs its twin, the same file built for the epoll
# backend, as one of the servers it compares.
$(B)/bench/bench_echo: tests/bench/bench_echo.c async.h $(B)/bench/bench_echo_epoll
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@ $(LIBS)
$(B)/bench/bench_echo_epoll: tests/bench/bench_echo.c async.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DASYNC_USE_EPOLL $< -o $@ $(LIBS)
# bench_io (the reactor's cost per event) is built for both backends.
$(B)/bench/bench_io_epoll: tests/bench/bench_io.c tests/bench/bench.h async.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DASYNC_USE_EPOLL $< -o $@ $(LIBS)
BENCHES := $(patsubst tests/bench/%.c,%,$(wildcard tests/bench/*.c)) bench_io_epoll
# bench_multi is left out: callgrind runs one thread at a time, so its cross-thread
# waits would count the scheduler's switches, not async.h.
ICOUNT_BENCHES := $(filter-out bench_echo bench_multi,$(BENCHES))
bench: $(addprefix $(B)/bench/,$(BENCHES))
	@for b in $(BENCHES); do ./$(B)/bench/$$b || exit 1; done
bench-icount: $(addprefix $(B)/bench/,$(ICOUNT_BENCHES))
	@.ci/need "command -v valgrind" valgrind
	@for b in $(ICOUNT_BENCHES); do ./tests/bench/icount.sh ./$(B)/bench/$$b || exit 1; done
	@ASYNC_BACKEND=io_uring ./tests/bench/icount.sh ./$(B)/bench/bench_io

# The example servers against nginx, redis-server and a hand-written epoll echo
# server (wrk, redis-benchmark), by server CPU per request, and httpd and echo with
# --threads 2 against one thread, nginx with 2 workers and the hand-written echo:
# tests/bench/bench_servers.sh; then echo, httpd and miniredis on each backend (poll,
# epoll, io_uring) against the same references: tests/bench/bench_backends.sh.
bench-servers: $(addprefix $(B)/examples/,$(SERVERS)) $(B)/bench/bench_echo
	@.ci/need "command -v wrk" wrk
	@.ci/need "command -v redis-benchmark" redis-tools
	@.ci/need "command -v redis-server" redis-server
	@.ci/need "command -v nginx || test -x /usr/sbin/nginx" nginx-light
	@.ci/need "command -v curl" curl
	@./tests/bench/bench_servers.sh
	@./tests/bench/bench_backends.sh

# bench_multi's workloads written for Tokio and Go (tests/bench/peers/), in one table:
# tests/bench/bench_peers.sh. Tokio is built offline from the crates Debian's
# librust-*-dev packages put in /usr/share/cargo/registry (a copy of the sources under
# build/, with tests/bench/peers/tokio/cargo-config.toml as its .cargo/config.toml).
PEER_TOKIO := $(B)/peers/tokio/target/release/bench_peer_tokio
PEER_GO := $(B)/peers/go/bench_peer_go
bench-peers: $(B)/bench/bench_multi $(PEER_TOKIO) $(PEER_GO)
	@./tests/bench/bench_peers.sh
$(PEER_TOKIO): tests/bench/peers/tokio/Cargo.toml tests/bench/peers/tokio/src/main.rs \
    tests/bench/peers/tokio/cargo-config.toml
	@.ci/need "command -v cargo" cargo
	@.ci/need "ls -d /usr/share/cargo/registry/tokio-1.* /usr/share/cargo/registry/libc-0.2.*" \
	    librust-tokio-dev librust-libc-dev
	@mkdir -p $(B)/peers/tokio/src $(B)/peers/tokio/.cargo
	@cp tests/bench/peers/tokio/Cargo.toml $(B)/peers/tokio/
	@cp tests/bench/peers/tokio/src/main.rs $(B)/peers/tokio/src/
	@cp tests/bench/peers/tokio/cargo-config.toml $(B)/peers/tokio/.cargo/config.toml
	$(Q)cd $(B)/peers/tokio && cargo build --release --offline $(if $(Q),-q)
$(PEER_GO): tests/bench/peers/go/main.go
	@.ci/need "command -v go" golang-go
	@mkdir -p $(@D)
	$(Q)GOCACHE=$(CURDIR)/$(B)/peers/go/cache GOPATH=$(CURDIR)/$(B)/peers/go/path \
	    GO111MODULE=off GOFLAGS= go build -o $@ $<

# ---- fuzzing: libFuzzer (clang): the servers' parsers, channel and sync models ---
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/*.c))
FUZZ_SECONDS ?= 60
$(B)/fuzz/%: tests/fuzz/%.c $(HDR) $(wildcard examples/*.c) | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -I. $< -o $@ $(LIBS)
# Each runs with tests/fuzz/NAME.dict when there is one, and reads the seed corpus
# tests/fuzz/corpus/NAME/ when there is one (new inputs go to build/fuzz/NAME.corpus).
# make fuzz FUZZERS="fuzz_resp fuzz_redis_cmd" runs only those.
fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do mkdir -p $(B)/fuzz/$$f.corpus; \
	    dict=; [ -f tests/fuzz/$$f.dict ] && dict=-dict=tests/fuzz/$$f.dict; \
	    seeds=; [ -d tests/fuzz/corpus/$$f ] && seeds=tests/fuzz/corpus/$$f; \
	    ./$(B)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
	        $(B)/fuzz/$$f.corpus $$seeds > $(B)/fuzz/$$f.log 2>&1; st=$$?; \
	    grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY' \
	        $(B)/fuzz/$$f.log | sed "s|^|$$f: |"; \
	    [ $$st -eq 0 ] || { tail -n 40 $(B)/fuzz/$$f.log; exit 1; }; done

# tcc (no __GNUC__: its own atomics, no thread-local storage) runs every suite but the
# servers' (they run in the gcc and clang builds; 37 s more here) and test_group (whose
# own code uses __atomic builtins).
TCC_TESTS := $(filter-out group,$(TESTS))

# ---- portability ---------------------------------------------------------------
# The servers' tests, built for ARM and RISC-V, run these host servers; the bare
# examples are built and run again there (-m32 on x86, and under qemu-arm).
port: $(addprefix $(B)/examples/,$(SERVERS)) $(B)/test/accept_fail.so
	@PORT_EXAMPLES="$(filter-out $(SERVERS),$(EXAMPLES))" ./tests/port/run.sh
# The Windows part alone (mingw-w64, Wine).
port-windows:
	@./tests/port/run.sh windows

# ---- install: the header and a pkg-config file -------------------------------------
PREFIX ?= /usr/local
PC_DIR := $(DESTDIR)$(PREFIX)/share/pkgconfig
install:
	@mkdir -p $(DESTDIR)$(PREFIX)/include $(PC_DIR)
	cp async.h $(DESTDIR)$(PREFIX)/include/async.h
	@v=$$(sed -n 's/^#define ASYNC_VERSION_STRING "\(.*\)"/\1/p' async.h); \
	printf '%s\n' "prefix=$(PREFIX)" 'includedir=$${prefix}/include' '' 'Name: async_h' \
	    'Description: Tokio-style async runtime for C on stackless coroutines (one header)' \
	    "Version: $$v" 'Cflags: -I$${includedir}' 'Libs: -pthread' > $(PC_DIR)/async_h.pc
	@echo "installed $(DESTDIR)$(PREFIX)/include/async.h and $(PC_DIR)/async_h.pc"
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/async.h $(PC_DIR)/async_h.pc

clean:
	rm -rf $(B)
