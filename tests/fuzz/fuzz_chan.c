/* fuzz_chan.c - libFuzzer harness for the mpsc channel as a state machine.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_chan.c \
         -o build/fuzz_chan && ./build/fuzz_chan -max_total_time=30

   Each input is a script (tests/chan_model.h): the capacity, the budget, the ready
   order, then the operations of up to three senders, two receivers and a controller
   that aborts tasks and closes the channel. Every check of the model (each item
   sent arrives once, in its sender's order; nothing waits in vain; no permit,
   waiter or handle leaks) and every ASYNC_ASSERT of the library aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../chan_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(chan_model_run, chan_model_why, "chan_model.h")
