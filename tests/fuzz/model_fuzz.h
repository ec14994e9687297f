/* model_fuzz.h - what the harnesses over the tests/..._model.h headers share:
   libFuzzer's entry point runs the input as a script and aborts at the first check
   that fails (an ASYNC_ASSERT of the library aborts by itself). Include it after
   the model. */
#ifndef MODEL_FUZZ_H
#define MODEL_FUZZ_H
#include <stdio.h>
#include <stdlib.h>

#define MODEL_FUZZER(run, why, model) \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { \
        int line = run(data, size); \
        if (line) { \
            fprintf(stderr, "tests/%s:%d: %s\n", model, line, why()); \
            abort(); \
        } \
        return 0; \
    }

#endif
