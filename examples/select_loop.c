/* select_loop.c - a select loop over two channels until both close, then a biased select
   in which a control channel always beats a data channel.

   1. Two producers: one sends five numbers, one every 10 ms, the other three messages,
      one every 15 ms; each then releases its sender, which closes its channel once it
      is drained. The consumer loops on an ASYNC_SELECT (fair) with one receive branch
      per channel (tokio::select! in a loop). A receive that reports ASYNC_ECLOSED
      clears that branch's guard, so the next select does not poll it again; when both
      guards are false every branch is disabled and the select's winner is
      ASYNC_SELECT_ELSE (select!'s `else =>`): the loop ends. The losing receive of each
      round is cancelled, which is safe (cancel safe: it takes nothing), so nothing is
      lost: every item arrives, each channel's in the order it was sent.

   2. Priority: ASYNC_SELECT_BIASED polls its branches in order (select!'s `biased;`).
      A producer sends bursts of two data items followed by one control item; the
      consumer has not run between the sends (one thread: a task runs until it awaits),
      so when it runs all three are waiting and the control item, sent last, is taken
      first. The data branch, which lost, is cancelled and loses nothing: the data items
      follow in order.

   Both orders checked here hold by design, not by timing. The last line says whether
   they held. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char text[16]; } message;

static async_runtime rt;
static async_time t_start;
static int failures;
static char order[128];             /* what the consumer of part 2 received */

static double ms(void) { return (double)(async_time_now(&rt) - t_start) / 1e6; }

static void check(int ok, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "select_loop: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

static void note(const char *s) {
    size_t n = strlen(order);
    snprintf(order + n, sizeof order - n, "%s%s", n ? " " : "", s);
}

/* ---- 1. two producers, one select loop --------------------------------------------------- */
static async_mpsc numbers, messages;

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    int i, rc;
    message msg;
} producer_frame;

static int numbers_run(async_task *t) {
    producer_frame *f = (producer_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 5; f->i++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &numbers, &f->w, &f->i));
    }
    async_mpsc_sender_release(&numbers);        /* the last handle: the channel closes */
    ASYNC_END(0);
}

static int messages_run(async_task *t) {
    producer_frame *f = (producer_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(15)));
        snprintf(f->msg.text, sizeof f->msg.text, "msg_%d", f->i);
        ASYNC_AWAIT(f->rc, async_mpsc_send(t, &messages, &f->w, &f->msg));
    }
    async_mpsc_sender_release(&messages);
    ASYNC_END(0);
}

/* ---- 2. a producer of bursts: data, data, control ---------------------------------------- */
static async_mpsc control, data;

static int burst_run(async_task *t) {
    producer_frame *f = (producer_frame *)t;
    int item;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
        printf("+%3.0f ms  producer sends data %d, data %d, then control %d\n", ms(),
               2 * f->i, 2 * f->i + 1, f->i);
        item = 2 * f->i;                        /* no await between these sends: room for 8 */
        async_mpsc_try_send(&data, &item);
        item = 2 * f->i + 1;
        async_mpsc_try_send(&data, &item);
        async_mpsc_try_send(&control, &f->i);
    }
    async_mpsc_sender_release(&data);
    async_mpsc_sender_release(&control);
    ASYNC_END(0);
}

/* ---- the consumer ----------------------------------------------------------------------- */
typedef struct {
    async_task task;
    async_select sel;
    async_waiter w[2];
    int rc[2], open[2], num, item[2], got[2], next[2], rounds;
    message msg;
    producer_frame prod[2];
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);

    printf("1. a fair select loop over two channels until both close\n");
    must(async_mpsc_init(&numbers, sizeof(int), 4, NULL), "async_mpsc_init");
    must(async_mpsc_init(&messages, sizeof(message), 4, NULL), "async_mpsc_init");
    must(async_task_spawn(&rt, &f->prod[0].task, numbers_run, "numbers"), "async_task_spawn");
    must(async_task_spawn(&rt, &f->prod[1].task, messages_run, "messages"),
         "async_task_spawn");
    f->open[0] = f->open[1] = 1;
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_FAIR);
            ASYNC_SELECT_BRANCH(&f->sel, 0, f->open[0], f->rc[0],
                                async_mpsc_recv(t, &numbers, &f->w[0], &f->num));
            ASYNC_SELECT_BRANCH(&f->sel, 1, f->open[1], f->rc[1],
                                async_mpsc_recv(t, &messages, &f->w[1], &f->msg));
        ASYNC_SELECT_END(&f->sel);
        f->rounds++;
        if (f->sel.winner == ASYNC_SELECT_ELSE) {
            printf("+%3.0f ms  every branch disabled: the winner is ASYNC_SELECT_ELSE, stop\n",
                   ms());
            break;
        }
        if (f->rc[f->sel.winner] == ASYNC_ECLOSED) {
            f->open[f->sel.winner] = 0;         /* its guard: not polled again */
            printf("+%3.0f ms  %s channel closed: its branch is disabled\n", ms(),
                   f->sel.winner == 0 ? "numbers" : "messages");
        } else if (f->sel.winner == 0) {
            printf("+%3.0f ms  number %d\n", ms(), f->num);
            check(f->num == f->got[0]++, "numbers arrive in order");
        } else {
            printf("+%3.0f ms  message %s\n", ms(), f->msg.text);
            {
                char want[16];
                snprintf(want, sizeof want, "msg_%d", f->got[1]++);
                check(strcmp(f->msg.text, want) == 0, "messages arrive in order");
            }
        }
    }
    printf("   received %d numbers and %d messages in %d selects\n", f->got[0], f->got[1],
           f->rounds);
    check(f->got[0] == 5 && f->got[1] == 3, "every item arrives");
    check(f->rounds == 5 + 3 + 2 + 1, "one select per item, per close, and the else");
    ASYNC_AWAIT(f->rc[0], async_task_join(t, &f->prod[0].task));
    ASYNC_AWAIT(f->rc[1], async_task_join(t, &f->prod[1].task));
    async_mpsc_destroy(&numbers);
    async_mpsc_destroy(&messages);

    printf("2. a biased select: the control channel first whenever both are ready\n");
    must(async_mpsc_init(&control, sizeof(int), 8, NULL), "async_mpsc_init");
    must(async_mpsc_init(&data, sizeof(int), 8, NULL), "async_mpsc_init");
    memset(&f->prod[0], 0, sizeof f->prod[0]);
    must(async_task_spawn(&rt, &f->prod[0].task, burst_run, "bursts"), "async_task_spawn");
    f->open[0] = f->open[1] = 1;
    f->next[0] = f->next[1] = 0;
    for (;;) {
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED);
            ASYNC_SELECT_BRANCH(&f->sel, 0, f->open[0], f->rc[0],
                                async_mpsc_recv(t, &control, &f->w[0], &f->item[0]));
            ASYNC_SELECT_BRANCH(&f->sel, 1, f->open[1], f->rc[1],
                                async_mpsc_recv(t, &data, &f->w[1], &f->item[1]));
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == ASYNC_SELECT_ELSE) break;
        if (f->rc[f->sel.winner] == ASYNC_ECLOSED) {
            f->open[f->sel.winner] = 0;
            continue;
        }
        {
            char s[16];
            snprintf(s, sizeof s, "%s%d", f->sel.winner == 0 ? "C" : "d",
                     f->item[f->sel.winner]);
            note(s);
            printf("+%3.0f ms  %s %d\n", ms(), f->sel.winner == 0 ? "control" : "   data",
                   f->item[f->sel.winner]);
        }
        check(f->item[f->sel.winner] == f->next[f->sel.winner]++, "each channel in order");
    }
    printf("   received: %s\n", order);
    check(strcmp(order, "C0 d0 d1 C1 d2 d3 C2 d4 d5") == 0,
          "each burst's control item overtakes the data sent before it");
    ASYNC_AWAIT(f->rc[0], async_task_join(t, &f->prod[0].task));
    async_mpsc_destroy(&control);
    async_mpsc_destroy(&data);
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    t_start = async_time_now(&rt);
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    check(async_runtime_destroy(&rt) == 0, "no task outlives main");
    if (rc != 0 || failures) {
        printf("select_loop: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("select_loop: ok, nothing lost, the loop ended on ELSE, control always first\n");
    return 0;
}
