/* fuzz_stream.c - libFuzzer harness for pipelines of cancel-safe stream adapters.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_stream.c \
         -o build/fuzz_stream && ./build/fuzz_stream -max_total_time=30

   Each input is a script (tests/stream_model.h): the budget, the ready order, how
   many items are sent, the adapters of the pipeline, then how the sender paces
   itself and how the consumer reads (plain, timed, selected next()). Every check
   of the model (exactly the pipeline's output on the array sent, in order; the end
   once; cancelled reads leave no waiter) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../stream_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(stream_model_run, stream_model_why, "stream_model.h")
