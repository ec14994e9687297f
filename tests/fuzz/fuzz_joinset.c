/* fuzz_joinset.c - libFuzzer harness for JoinSet as a state machine.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_joinset.c \
         -o build/fuzz_joinset && ./build/fuzz_joinset -max_total_time=30

   Each input is a script (tests/joinset_model.h): the budget, unordered or
   ordered, the ready order, then the operations of a driver that spawns members,
   joins them (plain, timed, selected), aborts one or all, detaches them, and ends
   with wait_all. Every check of the model (each member reaped once, in completion
   or spawn order, with its result; len; wait_all's first error) and every
   ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../joinset_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(joinset_model_run, joinset_model_why, "joinset_model.h")
