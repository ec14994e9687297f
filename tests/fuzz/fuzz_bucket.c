/* fuzz_bucket.c - libFuzzer harness for the token bucket.

     clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_bucket.c \
         -o build/fuzz_bucket && ./build/fuzz_bucket -max_total_time=30

   Each input is a script (tests/bucket_model.h): the budget, the ready order, the
   bucket's capacity, refill and period, then the operations of four tasks that
   acquire (plainly, timed out, in a select), try, refund, yield and sleep, and of a
   controller that aborts them. Every check of the model (never more than the
   capacity, nothing in the bucket while anyone waits, the one timer the head's,
   tokens never faster than the refills, every wait ends) and every ASYNC_ASSERT
   aborts. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../bucket_model.h"
#include "model_fuzz.h"

MODEL_FUZZER(bucket_model_run, bucket_model_why, "bucket_model.h")
