/* fuzz_notify.c - libFuzzer harness for Notify and Barrier as state machines.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_notify.c \
         -o build/fuzz_notify && ./build/fuzz_notify -max_total_time=30

   Each input is a script (tests/notify_model.h): the budget, whether anything may be
   cancelled, the barrier's parties, the ready order, then the operations of four
   tasks that wait and notify and of a controller that aborts them. Every check of
   the model (a notification delivered at most once, exactly once and to the right
   waiter when nothing is cancelled; one leader per generation; nothing left
   waiting) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../notify_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(notify_model_run, notify_model_why, "notify_model.h")
