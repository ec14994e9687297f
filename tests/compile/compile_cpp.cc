/* Compile check: the header with its implementation, as C++ (c++11 and later). */
#define ASYNC_IMPLEMENTATION
#include "async.h"

struct frame {
    async_task task;
    async_timer timer;
};

static int body(async_task *t) {
    frame *f = reinterpret_cast<frame *>(t);
    int rc;
    ASYNC_BEGIN(t);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_END(rc);
}

int main() {
    async_runtime rt;
    static frame f;
    async_runtime_init(&rt, nullptr);
    int rc = async_runtime_block_on(&rt, &f.task, body, "cpp");
    async_runtime_destroy(&rt);
    return rc;
}
