/* fuzz_sync.c - libFuzzer harness for Semaphore, Mutex and RwLock as state machines.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_sync.c \
         -o build/fuzz_sync && ./build/fuzz_sync -max_total_time=30

   Each input is a script (tests/sync_model.h): the semaphore's permits, the budget,
   the ready order, then the operations of four tasks that acquire, hold and give
   back, and of a controller that aborts them, adds or forgets permits and closes
   the semaphore. Every check of the model (exclusion; nothing waits for what is
   free; every permit and lock comes back) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../sync_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(sync_model_run, sync_model_why, "sync_model.h")
