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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int line = chan_model_run(data, size);
    if (line) {
        fprintf(stderr, "fuzz_chan: tests/chan_model.h:%d: %s\n", line, chan_model_why());
        abort();
    }
    return 0;
}
