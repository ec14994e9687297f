/* o3_items.c - the implementation file built at -O3 with every warning an error (a build
   check, with gcc and clang): the channels with small items.

   At -O3 the compiler inlines a channel's item copy into the caller and sees the
   caller's object: a 4-byte int, a 1-byte char, a 2-byte short. The copy is chosen by
   the channel's item_size at run time, and where that size is not known at compile
   time (a channel passed in, as in a module of the user's own) the branches for other
   sizes must not draw -Warray-bounds / -Wstringop-overread / -Wstringop-overflow false
   positives: users build with -Werror. So the sends and receives here are made in
   functions with external linkage that take the channel as a parameter.

   Then it runs and checks that every item came through intact: exit status 0. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>

ASYNC_MPSC_TYPED(ints, int)
ASYNC_MPSC_TYPED(chars, char)

static int failures;
static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("FAIL: %s\n", what);
    }
}

/* ---- a module's functions: the channel comes in, its item_size is unknown ----------- */
int send_int(async_mpsc *c, int v);
int recv_int(async_mpsc *c, int *out);
int send_char(async_mpsc *c, char v);
int recv_char(async_mpsc *c, char *out);
int typed_send_int(async_mpsc *c, int v);
int typed_recv_int(async_mpsc *c, int *out);
int typed_send_char(async_mpsc *c, char v);
int typed_recv_char(async_mpsc *c, char *out);
int publish_char(async_broadcast *b, char v);
int take_char(async_broadcast_rx *rx, char *out);
int publish_int(async_broadcast *b, int v);
int take_int(async_broadcast_rx *rx, int *out);
int set_short(async_watch *w, short v);
int swap_short(async_watch *w, short v, short *old);
int get_short(async_watch_rx *rx, short *out);
int set_char(async_watch *w, char v);
int get_char(async_watch_rx *rx, char *out);

int send_int(async_mpsc *c, int v) { return async_mpsc_try_send(c, &v); }
int recv_int(async_mpsc *c, int *out) {
    int v = 0, rc = async_mpsc_try_recv(c, &v);
    *out = v;
    return rc;
}
int send_char(async_mpsc *c, char v) { return async_mpsc_try_send(c, &v); }
int recv_char(async_mpsc *c, char *out) {
    char v = 0;
    int rc = async_mpsc_try_recv(c, &v);
    *out = v;
    return rc;
}
int typed_send_int(async_mpsc *c, int v) { return ints_try_send(c, &v); }
int typed_recv_int(async_mpsc *c, int *out) {
    int v = 0, rc = ints_try_recv(c, &v);
    *out = v;
    return rc;
}
int typed_send_char(async_mpsc *c, char v) { return chars_try_send(c, &v); }
int typed_recv_char(async_mpsc *c, char *out) {
    char v = 0;
    int rc = chars_try_recv(c, &v);
    *out = v;
    return rc;
}
int publish_char(async_broadcast *b, char v) { return async_broadcast_send(b, &v); }
int take_char(async_broadcast_rx *rx, char *out) {
    char v = 0;
    int rc = async_broadcast_try_recv(rx, &v);
    *out = v;
    return rc;
}
int publish_int(async_broadcast *b, int v) { return async_broadcast_send(b, &v); }
int take_int(async_broadcast_rx *rx, int *out) {
    int v = 0, rc = async_broadcast_try_recv(rx, &v);
    *out = v;
    return rc;
}
int set_short(async_watch *w, short v) { return async_watch_send(w, &v); }
int swap_short(async_watch *w, short v, short *old) {
    short o = 0;
    int rc = async_watch_send_replace(w, &v, &o);
    *old = o;
    return rc;
}
int get_short(async_watch_rx *rx, short *out) {
    short v = 0;
    int rc = async_watch_borrow_and_update(rx, &v);
    *out = v;
    return rc;
}
int set_char(async_watch *w, char v) { return async_watch_send(w, &v); }
int get_char(async_watch_rx *rx, char *out) {
    char v = 0;
    int rc = async_watch_borrow(rx, &v);
    *out = v;
    return rc;
}

/* ---- mpsc of int and char: try_send / try_recv, untyped and typed ------------------- */
static void mpsc_small_items(void) {
    static async_mpsc ci, cc;
    int i, v = 0;
    char ch = 0;
    if (async_mpsc_init(&ci, sizeof(int), 4, NULL) != 0 ||
        async_mpsc_init(&cc, sizeof(char), 4, NULL) != 0) {
        check(0, "mpsc init");
        return;
    }
    for (i = 1; i <= 3; i++) {
        check(send_int(&ci, i * 11) == 0, "try_send int");
        check(send_char(&cc, (char)('a' + i)) == 0, "try_send char");
    }
    for (i = 1; i <= 3; i++) {
        check(recv_int(&ci, &v) == 0 && v == i * 11, "try_recv int");
        check(recv_char(&cc, &ch) == 0 && ch == (char)('a' + i), "try_recv char");
    }
    check(typed_send_int(&ci, 5) == 0 && typed_recv_int(&ci, &v) == 0 && v == 5,
          "typed int");
    check(typed_send_char(&cc, 'z') == 0 && typed_recv_char(&cc, &ch) == 0 && ch == 'z',
          "typed char");
    check(typed_send_char(&ci, 'z') == ASYNC_EINVAL, "typed wrapper of the wrong size");
    check(recv_int(&ci, &v) == ASYNC_EAGAIN && recv_char(&cc, &ch) == ASYNC_EAGAIN,
          "empty after");
    async_mpsc_destroy(&ci);
    async_mpsc_destroy(&cc);
}

/* ---- broadcast of char and int, watch of short and char ------------------------------ */
static void fanout_small_items(void) {
    static async_broadcast bc, bi;
    static async_broadcast_rx rc_, ri;
    static async_watch ws, wc;
    static async_watch_rx rs, rw;
    char c = 0;
    int i = 0;
    short s = 7, old = 0;
    if (async_broadcast_init(&bc, sizeof(char), 4, NULL) != 0 ||
        async_broadcast_init(&bi, sizeof(int), 4, NULL) != 0 ||
        async_broadcast_subscribe(&bc, &rc_) != 0 || async_broadcast_subscribe(&bi, &ri) != 0) {
        check(0, "broadcast init and subscribe");
        return;
    }
    check(publish_char(&bc, 'q') == 1 && take_char(&rc_, &c) == 0 && c == 'q', "broadcast char");
    check(publish_int(&bi, -9) == 1 && take_int(&ri, &i) == 0 && i == -9, "broadcast int");
    async_broadcast_unsubscribe(&rc_);
    async_broadcast_unsubscribe(&ri);
    async_broadcast_destroy(&bc);
    async_broadcast_destroy(&bi);

    if (async_watch_init(&ws, sizeof(short), NULL, &s) != 0 ||
        async_watch_init(&wc, sizeof(char), NULL, &c) != 0 ||
        async_watch_subscribe(&ws, &rs) != 0 || async_watch_subscribe(&wc, &rw) != 0) {
        check(0, "watch init and subscribe");
        return;
    }
    check(set_short(&ws, 9) == 0 && get_short(&rs, &s) >= 0 && s == 9, "watch short");
    check(swap_short(&ws, 10, &old) == 0 && old == 9, "watch send_replace");
    check(get_short(&rs, &s) >= 0 && s == 10, "watch short again");
    check(set_char(&wc, 'w') == 0 && get_char(&rw, &c) >= 0 && c == 'w', "watch char");
    async_watch_unsubscribe(&rs);
    async_watch_unsubscribe(&rw);
    async_watch_destroy(&ws);
    async_watch_destroy(&wc);
}

/* ---- send / recv from tasks, untyped and typed --------------------------------------- */
typedef struct { async_task task; async_mpsc *c; async_waiter w; int i, v, rc; } frame;

static int producer(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 6; f->i++) {
        f->v = f->i * 3;
        if (f->i % 2) ASYNC_AWAIT(f->rc, ints_send(t, f->c, &f->w, &f->v));
        else ASYNC_AWAIT(f->rc, async_mpsc_send(t, f->c, &f->w, &f->v));
        check(f->rc == 0, "send");
    }
    async_mpsc_sender_release(f->c);
    ASYNC_END(0);
}

static int consumer(async_task *t) {
    frame *f = (frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0;; f->i++) {
        if (f->i % 2) ASYNC_AWAIT(f->rc, ints_recv(t, f->c, &f->w, &f->v));
        else ASYNC_AWAIT(f->rc, async_mpsc_recv(t, f->c, &f->w, &f->v));
        if (f->rc < 0) break;
        check(f->v == f->i * 3, "recv in order");
    }
    check(f->rc == ASYNC_ECLOSED && f->i == 6, "six items, then closed");
    ASYNC_END(0);
}

int main(void) {
    static async_runtime rt;
    static async_mpsc chan;
    static frame p, c;
    mpsc_small_items();
    fanout_small_items();
    if (async_runtime_init(&rt, NULL) != 0 || async_mpsc_init(&chan, sizeof(int), 2, NULL) != 0) {
        printf("o3_items: setup failed\n");
        return 1;
    }
    p.c = c.c = &chan;
    check(async_task_spawn(&rt, &c.task, consumer, "consumer") == 0, "spawn consumer");
    check(async_task_spawn(&rt, &p.task, producer, "producer") == 0, "spawn producer");
    check(async_runtime_run(&rt) == 0, "run");
    async_mpsc_destroy(&chan);
    check(async_runtime_destroy(&rt) == 0, "destroy");
    printf("o3_items: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
