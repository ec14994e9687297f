/* fuzz_token.c - libFuzzer harness for CancellationToken trees.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_token.c \
         -o build/fuzz_token && ./build/fuzz_token -max_total_time=30

   Each input is a script (tests/token_model.h): the budget, the ready order, then
   the operations of four tasks that make, cancel, destroy and wait on tokens in six
   slots, and of a controller that aborts them. Every check of the model (the tree
   and each cancelled flag as the model has them; no wait ends early or stays
   queued on a cancelled token; destroy refuses only while someone waits) and every
   ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../token_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(token_model_run, token_model_why, "token_model.h")
