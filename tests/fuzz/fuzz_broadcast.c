/* fuzz_broadcast.c - libFuzzer harness for the broadcast channel as a state machine.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_broadcast.c \
         -o build/fuzz_broadcast && ./build/fuzz_broadcast -max_total_time=30

   Each input is a script (tests/broadcast_model.h): the capacity, the budget, the
   ready order, then the operations of two senders, three receivers that subscribe
   and unsubscribe, and a controller that aborts them. Every check of the model
   (each subscriber sees what was sent after it subscribed, in order, or an exact
   lag; nothing waits in vain; nothing is left) and every ASYNC_ASSERT aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../broadcast_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(broadcast_model_run, broadcast_model_why, "broadcast_model.h")
