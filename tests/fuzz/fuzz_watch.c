/* fuzz_watch.c - libFuzzer harness for the watch channel as a state machine.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_watch.c \
         -o build/fuzz_watch && ./build/fuzz_watch -max_total_time=30

   Each input is a script (tests/watch_model.h): the budget, the ready order, then
   the operations of two senders, three receivers that subscribe, wait, borrow and
   mark, and a controller that aborts them. Every check of the model (values and
   versions; changed only on an unseen version, closed only at the end; nobody
   waits in vain; nothing left) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../watch_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(watch_model_run, watch_model_why, "watch_model.h")
