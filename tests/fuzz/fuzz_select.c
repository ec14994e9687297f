/* fuzz_select.c - libFuzzer harness for select over two mpsc channels.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_select.c \
         -o build/fuzz_select && ./build/fuzz_select -max_total_time=30

   Each input is a script (tests/select_model.h): the budget, the capacity, the
   ready order, then the operations of two senders, two receivers that select over
   both channels and a sleep, and a controller that aborts tasks and closes
   channels. Every check of the model (losers take nothing and leave no waiter;
   each item once, in order per channel; nobody waits in vain) and every
   ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../select_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(select_model_run, select_model_why, "select_model.h")
