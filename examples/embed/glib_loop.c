/* glib_loop.c - an async.h runtime driven by a GLib main loop: no async_runtime_run, no
   busy polling, no helper thread (async.h EMBEDDING).

   The runtime is one GSource: its descriptor (async_runtime_backend_fd) is polled by
   GLib for readability, its prepare() gives GLib the runtime's timeout
   (async_runtime_backend_timeout_ms), and its dispatch() makes one
   async_runtime_step(rt, 0). Through that loop run:
     - timers: a ticker sleeps 20 ms three times;
     - a socket echo: a TCP echo server task on 127.0.0.1 (port 0: the kernel picks one)
       and a client task that sends a line, reads it back and sees EOF after its
       half-close;
     - cross-thread wakes: a thread sends three numbers through a shared channel
       (async_mpsc_try_send, any thread) and then wakes a task through an async_waker.
   GLib's own timer (g_timeout_add) ticks beside it, and a watchdog ends a hang.
   Exit status 0 when everything happened, 1 otherwise.

   Build: cc -I. examples/embed/glib_loop.c $(pkg-config --cflags --libs glib-2.0)
   -lpthread (add -DASYNC_USE_EPOLL for the epoll backend: both work). */
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static async_runtime rt;
static GMainLoop *loop;
static int failures, steps, host_ticks, finished, timed_out;

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* ---- the runtime as a GSource ------------------------------------------------------- */
typedef struct {
    GSource source;
    async_runtime *rt;
    gpointer tag;                       /* the descriptor's, from g_source_add_unix_fd */
} rt_source;

static gboolean rt_prepare(GSource *s, gint *timeout) {
    rt_source *r = (rt_source *)s;
    *timeout = async_runtime_backend_timeout_ms(r->rt);   /* -1: only the descriptor */
    return *timeout == 0;
}

static gboolean rt_check(GSource *s) {
    rt_source *r = (rt_source *)s;
    return (g_source_query_unix_fd(s, r->tag) & G_IO_IN) ||
           async_runtime_backend_timeout(r->rt) == 0;
}

static gboolean rt_dispatch(GSource *s, GSourceFunc cb, gpointer user) {
    rt_source *r = (rt_source *)s;
    (void)cb; (void)user;
    if (async_runtime_step(r->rt, 0) < 0) return G_SOURCE_REMOVE;
    steps++;
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs rt_funcs = { rt_prepare, rt_check, rt_dispatch, NULL, NULL, NULL };

/* Attach rt to GLib's default context: NULL if it has no backend descriptor. */
static GSource *rt_source_new(async_runtime *r) {
    int fd = async_runtime_backend_fd(r);
    rt_source *s;
    if (fd < 0) {
        fprintf(stderr, "glib_loop: async_runtime_backend_fd: %s\n", async_strerror(fd));
        return NULL;
    }
    s = (rt_source *)g_source_new(&rt_funcs, sizeof *s);
    s->rt = r;
    s->tag = g_source_add_unix_fd(&s->source, fd, G_IO_IN);
    g_source_attach(&s->source, NULL);
    return &s->source;
}

#include "embed_work.h"   /* the work: timers, a socket echo, wakes from a thread */

/* ---- main: the host loop -------------------------------------------------------------- */
static gboolean host_tick(gpointer user) {      /* GLib's own timer, beside the runtime */
    (void)user;
    host_ticks++;
    return G_SOURCE_CONTINUE;
}

static gboolean watch_done(gpointer user) {     /* when every task has finished: quit */
    (void)user;
    if (async_task_is_finished(&tick.task) && async_task_is_finished(&server.task) &&
        async_task_is_finished(&client.task) && async_task_is_finished(&woken.task)) {
        finished = 1;
        g_main_loop_quit(loop);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean watchdog(gpointer user) {
    (void)user;
    timed_out = 1;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(void) {
    static async_io lis;
    async_addr any;
    pthread_t th;
    GSource *src;
    int rc, result = -1;
    if (async_runtime_init(&rt, NULL) < 0 ||
        async_mpsc_init_shared(&numbers, sizeof(int), 8, NULL) < 0 ||
        async_waker_init(&rt, &waker) < 0 || async_addr_parse(&any, "127.0.0.1:0") < 0 ||
        async_sock_listen(&rt, &lis, &any, NULL) < 0 ||
        async_sock_local_addr(&lis, &client.to) < 0) {
        fprintf(stderr, "glib_loop: setup failed\n");
        return 1;
    }
    server.lis = &lis;
    async_task_spawn(&rt, &tick.task, ticker_run, "ticker");
    async_task_spawn(&rt, &server.task, echo_server_run, "echo-server");
    async_task_spawn(&rt, &client.task, echo_client_run, "echo-client");
    async_task_spawn(&rt, &woken.task, woken_run, "woken");

    loop = g_main_loop_new(NULL, FALSE);
    if (!(src = rt_source_new(&rt))) return 1;
    g_timeout_add(5, host_tick, NULL);
    g_timeout_add(10, watch_done, NULL);
    g_timeout_add_seconds(20, watchdog, NULL);
    if (pthread_create(&th, NULL, other_thread, NULL) != 0) return 1;
    g_main_loop_run(loop);              /* GLib drives everything from here */
    pthread_join(th, NULL);

    printf("backend %s: %d runtime steps, %d GLib ticks\n", async_runtime_io_backend(&rt),
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
    check(host_ticks > 0, "GLib's own timer ran beside the runtime");
    check(steps > 0 && steps < 1000, "steps only when there was work (no busy loop)");
    g_source_destroy(src);
    g_source_unref(src);
    g_main_loop_unref(loop);
    async_io_close(&lis);
    async_runtime_destroy(&rt);
    async_waker_destroy(&waker);
    async_mpsc_destroy(&numbers);
    printf("%s\n", failures ? "FAILED" : "ok: timers, a socket echo and cross-thread wakes, "
                                         "all through GLib's main loop");
    return failures ? 1 : 0;
}
