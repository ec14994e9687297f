/* Compile check: the header with its implementation, as C (c99, c11, gnu modes). */
#define ASYNC_IMPLEMENTATION
#include "async.h"

int use_async_impl(void);
int use_async_impl(void) {
    async_runtime rt;
    int rc = async_runtime_init(&rt, 0);
    if (rc == 0) rc = async_runtime_destroy(&rt);
    return rc;
}
