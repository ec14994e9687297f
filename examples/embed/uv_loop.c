/* uv_loop.c - an async.h runtime driven by a libuv loop: no async_runtime_run, no busy
   polling, no helper thread (async.h EMBEDDING), as libuv's own uv_backend_fd and
   uv_backend_timeout let another loop drive libuv.

   Three libuv handles carry the runtime: a uv_poll_t on its descriptor
   (async_runtime_backend_fd, readable: the runtime may have work), a uv_timer_t for its
   timers, and a uv_prepare_t that, right before libuv sleeps, sets that timer to the
   runtime's timeout (async_runtime_backend_timeout_ms; stopped when it says never). The
   poll and the timer callbacks make one async_runtime_step(rt, 0). Through that loop run:
     - timers: a ticker sleeps 20 ms three times;
     - a socket echo: a TCP echo server task on 127.0.0.1 (port 0: the kernel picks one)
       and a client task that sends a line, reads it back and sees EOF after its
       half-close;
     - cross-thread wakes: a thread sends three numbers through a shared channel
       (async_mpsc_try_send, any thread) and then wakes a task through an async_waker.
   libuv's own timer ticks beside it, and a watchdog ends a hang. Exit status 0 when
   everything happened, 1 otherwise.

   Build: cc -I. examples/embed/uv_loop.c $(pkg-config --cflags --libs libuv) -lpthread
   (add -DASYNC_USE_EPOLL for the epoll backend: both work). */
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <uv.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static async_runtime rt;
static int failures, steps, host_ticks, finished, timed_out;

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

#include "embed_work.h"   /* the work: timers, a socket echo, wakes from a thread */

static uv_poll_t rt_poll;
static uv_timer_t rt_timer, host_timer, done_timer, dog_timer;
static uv_prepare_t rt_prepare;

static void rt_step(void) {
    if (async_runtime_step(&rt, 0) >= 0) steps++;
}

static void on_readable(uv_poll_t *h, int status, int events) {
    (void)h; (void)status; (void)events;
    rt_step();
}

static void on_rt_timer(uv_timer_t *h) {
    (void)h;
    rt_step();
}

/* Before libuv sleeps: the runtime's timer follows its timeout (0: step at once). */
static void on_prepare(uv_prepare_t *h) {
    int ms = async_runtime_backend_timeout_ms(&rt);
    (void)h;
    if (ms < 0) {
        uv_timer_stop(&rt_timer);
        return;
    }
    uv_update_time(h->loop);            /* libuv's clock is cached: from now, not before */
    uv_timer_start(&rt_timer, on_rt_timer, (uint64_t)ms, 0);
}

static void on_host_tick(uv_timer_t *h) {       /* libuv's own timer, beside the runtime */
    (void)h;
    host_ticks++;
}

static void close_all(void) {
    uv_close((uv_handle_t *)&rt_poll, NULL);
    uv_close((uv_handle_t *)&rt_timer, NULL);
    uv_close((uv_handle_t *)&rt_prepare, NULL);
    uv_close((uv_handle_t *)&host_timer, NULL);
    uv_close((uv_handle_t *)&done_timer, NULL);
    uv_close((uv_handle_t *)&dog_timer, NULL);
}

static void on_done_check(uv_timer_t *h) {      /* when every task has finished: stop */
    (void)h;
    if (async_task_is_finished(&tick.task) && async_task_is_finished(&server.task) &&
        async_task_is_finished(&client.task) && async_task_is_finished(&woken.task)) {
        finished = 1;
        close_all();                    /* uv_run returns once the handles are closed */
    }
}

static void on_watchdog(uv_timer_t *h) {
    (void)h;
    timed_out = 1;
    close_all();
}

int main(void) {
    static async_io lis;
    uv_loop_t *loop = uv_default_loop();
    async_addr any;
    pthread_t th;
    int fd, rc, result = -1;
    if (async_runtime_init(&rt, NULL) < 0 ||
        async_mpsc_init_shared(&numbers, sizeof(int), 8, NULL) < 0 ||
        async_waker_init(&rt, &waker) < 0 || async_addr_parse(&any, "127.0.0.1:0") < 0 ||
        async_sock_listen(&rt, &lis, &any, NULL) < 0 ||
        async_sock_local_addr(&lis, &client.to) < 0) {
        fprintf(stderr, "uv_loop: setup failed\n");
        return 1;
    }
    server.lis = &lis;
    async_task_spawn(&rt, &tick.task, ticker_run, "ticker");
    async_task_spawn(&rt, &server.task, echo_server_run, "echo-server");
    async_task_spawn(&rt, &client.task, echo_client_run, "echo-client");
    async_task_spawn(&rt, &woken.task, woken_run, "woken");

    if ((fd = async_runtime_backend_fd(&rt)) < 0) {
        fprintf(stderr, "uv_loop: async_runtime_backend_fd: %s\n", async_strerror(fd));
        return 1;
    }
    if (uv_poll_init(loop, &rt_poll, fd) < 0 || uv_timer_init(loop, &rt_timer) < 0 ||
        uv_prepare_init(loop, &rt_prepare) < 0 || uv_timer_init(loop, &host_timer) < 0 ||
        uv_timer_init(loop, &done_timer) < 0 || uv_timer_init(loop, &dog_timer) < 0) {
        fprintf(stderr, "uv_loop: libuv setup failed\n");
        return 1;
    }
    uv_poll_start(&rt_poll, UV_READABLE, on_readable);
    uv_prepare_start(&rt_prepare, on_prepare);
    uv_timer_start(&host_timer, on_host_tick, 5, 5);
    uv_timer_start(&done_timer, on_done_check, 10, 10);
    uv_timer_start(&dog_timer, on_watchdog, 20000, 0);
    if (pthread_create(&th, NULL, other_thread, NULL) != 0) return 1;
    uv_run(loop, UV_RUN_DEFAULT);       /* libuv drives everything from here */
    pthread_join(th, NULL);

    printf("backend %s: %d runtime steps, %d libuv ticks\n", async_runtime_io_backend(&rt),
           steps, host_ticks);
    check(!timed_out && finished, "every task finished before the watchdog");
    check(async_task_result(&tick.task, &result) == 0 && result == 3, "three timer ticks");
    rc = async_task_result(&client.task, &result);
    check(rc == 0 && result == (int)sizeof line - 1, "the client wrote the line");
    check(memcmp(client.back, line, sizeof line - 1) == 0 && client.eof == 0,
          "the echo came back, then EOF");
    check(async_task_result(&server.task, &result) == 0 && result == (int)sizeof line - 1,
          "the server echoed the line");
    check(woken.sum == 6 && woken.woken, "the thread's three numbers and its wake");
    check(host_ticks > 0, "libuv's own timer ran beside the runtime");
    check(steps > 0 && steps < 1000, "steps only when there was work (no busy loop)");
    uv_loop_close(loop);
    async_io_close(&lis);
    async_runtime_destroy(&rt);
    async_waker_destroy(&waker);
    async_mpsc_destroy(&numbers);
    printf("%s\n", failures ? "FAILED" : "ok: timers, a socket echo and cross-thread wakes, "
                                         "all through libuv's loop");
    return failures ? 1 : 0;
}
