/* Layout check, part 2: a user of the runtime. Built with the same configuration as
   abi_impl.c it links; built with -DASYNC_FREESTANDING (a different async_runtime
   layout) it must fail to link instead of corrupting memory. */
#include "async.h"

static async_runtime rt;

int main(void) {
    if (async_runtime_init(&rt, 0) != 0) return 1;
    return async_runtime_destroy(&rt) == 0 ? 0 : 1;
}
