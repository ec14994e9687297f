# async.h - build, test, benchmark. Needs only a C compiler and make; tools for
# coverage, sanitizers and ports are installed through apt (.ci/need) when missing.
#
#   make demo        run examples/demo.c, the tour
#   make test        every test, in the switch form, the computed-goto form and as
#                    C++, plus compile checks; last line "N passed, M failed"
#   make examples    build every example into build/examples/
#   make sanitize    every test under ASan+UBSan with gcc and clang, and the
#                    threaded ones under TSan
#   make coverage    line and branch coverage of async.h
#   make bench       ns per operation, median of several runs, with C baselines
#   make bench-icount  instructions per operation (valgrind --tool=callgrind)
#   make port        Cortex-M0+/M4 freestanding build under qemu-system-arm, and
#                    the test suite on 32-bit ARM and RISC-V 64 Linux under qemu-user
#   make clean

CC ?= cc
CXX ?= c++
B := build
WARN := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
CFLAGS_TEST := -std=c99 $(WARN) -O2 -g -I.
CFLAGS_GOTO := -std=gnu99 -DASYNC_USE_COMPUTED_GOTO -Wall -Wextra -Werror -Wshadow -O2 -g -I.
CXXFLAGS_TEST := -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Wshadow -O2 -g -I.
LIBS := -lpthread

TESTS := coro task time debug sync chan cancel comb stream io threads proc
# The I/O suite runs once more on the epoll backend.
TEST_BINS := $(foreach t,$(TESTS),$(B)/test/test_$(t) $(B)/test/test_$(t)-goto $(B)/test/test_$(t)-cxx) \
    $(B)/test/test_io-epoll $(B)/test/test_io-epoll-cxx
EXAMPLES := $(patsubst examples/%.c,%,$(wildcard examples/*.c))
EXAMPLE_BINS := $(addprefix $(B)/examples/,$(EXAMPLES))
HDR := async.h tests/test.h

.PHONY: all test demo examples sanitize coverage bench bench-icount port clean
all: $(TEST_BINS) $(EXAMPLE_BINS)

# ---- tests ---------------------------------------------------------------------
$(B)/test/test_%: tests/test_%.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) $< -o $@ $(LIBS)
$(B)/test/test_%-goto: tests/test_%.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_GOTO) $< -o $@ $(LIBS)
$(B)/test/test_%-cxx: tests/test_%.c $(HDR)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_TEST) $< -o $@ $(LIBS)
$(B)/test/test_io-epoll: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) -DASYNC_USE_EPOLL $< -o $@ $(LIBS)
$(B)/test/test_io-epoll-cxx: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_TEST) -DASYNC_USE_EPOLL $< -o $@ $(LIBS)

# Build checks, one per line: "name|command". Each counts as one test.
$(B)/checks.txt: Makefile $(wildcard examples/*.c)
	@mkdir -p $(B)/chk
	@{ \
	for cc in gcc clang; do for std in c99 c11; do \
	  echo "$$cc-$$std|$$cc -std=$$std $(WARN) -Wconversion -Wsign-conversion -I. -c tests/compile/compile_c.c -o $(B)/chk/$$cc-$$std.o"; \
	done; done; \
	echo "epoll-gcc-clang-conversion|gcc -std=c99 $(WARN) -Wconversion -Wsign-conversion -DASYNC_USE_EPOLL -I. -c tests/compile/compile_c.c -o $(B)/chk/epoll-gcc.o && clang -std=c11 $(WARN) -Wconversion -Wsign-conversion -DASYNC_USE_EPOLL -I. -c tests/compile/compile_c.c -o $(B)/chk/epoll-clang.o"; \
	echo "no-threads-drops-the-layer|gcc -std=c99 $(WARN) -DASYNC_NO_THREADS -I. -c tests/compile/compile_c.c -o $(B)/chk/nothreads.o && ! nm $(B)/chk/nothreads.o | grep -q 'pthread\|async_pool_init\|async_inbox'"; \
	echo "gcc-jump-misses-init|gcc -std=c99 $(WARN) -Wjump-misses-init -I. -c tests/test_coro.c -o $(B)/chk/jmi.o"; \
	echo "g++-c++11|g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I. tests/compile/compile_cpp.cc -o $(B)/chk/cpp11 && $(B)/chk/cpp11"; \
	echo "clang++-c++17|clang++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -I. tests/compile/compile_cpp.cc -o $(B)/chk/cpp17 && $(B)/chk/cpp17"; \
	echo "clang-goto|clang -std=gnu99 -DASYNC_USE_COMPUTED_GOTO -Wall -Wextra -Werror -I. tests/test_coro.c -o $(B)/chk/coro-clang-goto $(LIBS) && $(B)/chk/coro-clang-goto"; \
	echo "pedantic-rejects-goto|! gcc -std=c99 -DASYNC_USE_COMPUTED_GOTO -Wpedantic -Werror -I. -c tests/test_coro.c -o $(B)/chk/x.o"; \
	echo "default-assert-aborts-with-message|$(CC) -std=c99 -I. tests/compile/assert_default.c -o $(B)/chk/assert && ! $(B)/chk/assert 2>$(B)/chk/assert.err && grep -q 'lost resume point' $(B)/chk/assert.err"; \
	echo "no-sites-coro-suite|$(CC) $(CFLAGS_TEST) -DASYNC_NO_SITES tests/test_coro.c -o $(B)/chk/coro-nosites $(LIBS) && $(B)/chk/coro-nosites"; \
	echo "no-sites-debug-suite|$(CC) $(CFLAGS_TEST) -DASYNC_NO_SITES tests/test_debug.c -o $(B)/chk/debug-nosites $(LIBS) && $(B)/chk/debug-nosites"; \
	echo "no-debug-builds|$(CC) -std=c99 $(WARN) -DASYNC_NO_DEBUG -I. -c tests/compile/compile_c.c -o $(B)/chk/nodebug.o"; \
	for e in $(EXAMPLES); do echo "example-$$e-runs|timeout 60 $(B)/examples/$$e > $(B)/chk/$$e.out 2>&1"; done; \
	echo "abi-same-config-links|$(CC) -I. tests/compile/abi_impl.c tests/compile/abi_user.c -o $(B)/chk/abi && $(B)/chk/abi"; \
	echo "abi-mismatch-fails-to-link|$(CC) -I. -c tests/compile/abi_impl.c -o $(B)/chk/abi-impl.o && $(CC) -I. -DASYNC_WHEEL_BITS=4 -c tests/compile/abi_user.c -o $(B)/chk/abi-user4.o && ! $(CC) $(B)/chk/abi-impl.o $(B)/chk/abi-user4.o -o $(B)/chk/abi-bad"; \
	echo "abi-profile-mismatch-fails-to-link|$(CC) -I. -c tests/compile/abi_impl.c -o $(B)/chk/abi-impl2.o && $(CC) -I. -DASYNC_FREESTANDING -c tests/compile/abi_user.c -o $(B)/chk/abi-userf.o && ! $(CC) $(B)/chk/abi-impl2.o $(B)/chk/abi-userf.o -o $(B)/chk/abi-bad2"; \
	} > $@

test: $(TEST_BINS) $(EXAMPLE_BINS) $(B)/checks.txt
	@CHECKS=$(B)/checks.txt ./tests/run.sh $(TEST_BINS)

# ---- examples ------------------------------------------------------------------
$(B)/examples/%: examples/%.c async.h
	@mkdir -p $(@D)
	$(CC) -std=c99 $(WARN) -O2 -I. $< -o $@ $(LIBS)
examples: $(EXAMPLE_BINS)
demo: $(B)/examples/demo
	./$(B)/examples/demo

# ---- sanitizers ----------------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
SAN_BINS := $(foreach t,$(TESTS),$(B)/san/test_$(t)-gcc $(B)/san/test_$(t)-clang) \
    $(B)/san/test_io-epoll-gcc
# ThreadSanitizer over the suites where other threads are involved.
TSAN_TESTS := threads task proc
TSAN_BINS := $(foreach t,$(TSAN_TESTS),$(B)/san/test_$(t)-tsan)
$(B)/san/test_%-tsan: tests/test_%.c $(HDR) | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -fsanitize=thread -g -O1 -I. $< -o $@ $(LIBS)
$(B)/san/test_io-epoll-gcc: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	gcc -std=c99 $(WARN) $(SAN) -DASYNC_USE_EPOLL -I. $< -o $@ $(LIBS)
$(B)/san/test_%-gcc: tests/test_%.c $(HDR)
	@mkdir -p $(@D)
	gcc -std=c99 $(WARN) $(SAN) -I. $< -o $@ $(LIBS)
$(B)/san/test_%-clang: tests/test_%.c $(HDR) | $(B)/san/.clang-rt
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) $(SAN) -I. $< -o $@ $(LIBS)
$(B)/san/.clang-rt:
	@mkdir -p $(@D)
	@.ci/need "echo 'int main(void){return 0;}' | clang -x c -fsanitize=address - -o $(B)/san/probe" clang libclang-rt-14-dev
	@touch $@
sanitize: $(SAN_BINS) $(TSAN_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    TSAN_OPTIONS=halt_on_error=1:exitcode=66 ./tests/run.sh $(SAN_BINS) $(TSAN_BINS)

# ---- coverage ------------------------------------------------------------------
COV_BINS := $(foreach t,$(TESTS),$(B)/cov/test_$(t)) $(B)/cov/test_io-epoll
$(B)/cov/test_io-epoll: tests/test_io.c $(HDR)
	@mkdir -p $(@D)
	gcc -std=c99 -O0 -g --coverage -DASYNC_USE_EPOLL -I. $< -o $@ $(LIBS)
$(B)/cov/test_%: tests/test_%.c $(HDR)
	@mkdir -p $(@D)
	gcc -std=c99 -O0 -g --coverage -I. $< -o $@ $(LIBS)
coverage: $(COV_BINS)
	@.ci/need "command -v gcovr" gcovr
	@rm -f $(B)/cov/*.gcda
	@./tests/run.sh $(COV_BINS) | tail -n 1
	@gcovr -r . --filter 'async\.h$$' --branches --print-summary $(B)/cov \
	    > $(B)/cov/summary.txt 2>/dev/null; \
	awk '/^lines:/ {l=$$2} /^branches:/ {b=$$2} END {printf "async.h: lines %s branches %s\n", l, b}' \
	    $(B)/cov/summary.txt

# ---- benchmarks ----------------------------------------------------------------
BENCH_CFLAGS := -std=c99 -O2 -DNDEBUG -I. -Wall -Wextra -Werror
$(B)/bench/%: tests/bench/%.c async.h
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
BENCHES := $(patsubst tests/bench/%.c,%,$(wildcard tests/bench/*.c))
ICOUNT_BENCHES := $(filter-out bench_echo,$(BENCHES))
bench: $(addprefix $(B)/bench/,$(BENCHES))
	@for b in $(BENCHES); do ./$(B)/bench/$$b || exit 1; done
bench-icount: $(addprefix $(B)/bench/,$(ICOUNT_BENCHES))
	@.ci/need "command -v valgrind" valgrind
	@for b in $(ICOUNT_BENCHES); do ./tests/bench/icount.sh ./$(B)/bench/$$b || exit 1; done

# ---- portability ---------------------------------------------------------------
port:
	@./tests/port/run.sh

clean:
	rm -rf $(B)
