/* fuzz_opset.c - libFuzzer harness for the op set (async_opset).

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_opset.c \
         -o build/fuzz_opset && ./build/fuzz_opset -max_total_time=30

   Each input is a script (tests/opset_model.h): the budget, the channel's capacity,
   the ready order, ordered or not and the set's size, then the actions of the owner
   (push a sleep, a receive, a join or a nested call; next plainly, timed or in a
   select; clear), of a sender and of a controller that aborts the owner or a worker.
   Every check of the model (each op given once, with its result, in push order when
   ordered; nothing polled after it completed or left; nothing armed or queued after a
   clear; each item taken once, in order) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../opset_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(opset_model_run, opset_model_why, "opset_model.h")
