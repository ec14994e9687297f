/* kv_actor.c - a key-value store as an actor: one task owns the table and every other
   task talks to it through messages, so the table needs no lock.

   Requests (GET, SET, DEL) arrive on a bounded async_mpsc. Each request carries a
   pointer to an async_oneshot that lives in the caller's frame; the actor answers on
   it and the caller awaits the answer (Tokio's request/response pattern: an mpsc of
   requests, each with a oneshot::Sender inside). The request channel holds only two
   requests, so four callers at once also show senders waiting for room.

   The actor runs until its channel reports ASYNC_ECLOSED, which happens when every
   sender handle has been released and the queue is empty: main holds one handle and
   each client its own clone. Every reply is checked against what the client expects;
   the last line says whether all of them matched. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KV_GET, KV_SET, KV_DEL };
enum { KV_OK, KV_NEW, KV_MISSING, KV_FULL };     /* reply status */
enum { TABLE_SIZE = 8, NCLIENTS = 3, QUEUE = 2 };

typedef struct {
    int status;         /* KV_OK: found (GET), replaced (SET), removed (DEL) */
    int value;          /* GET: the value; SET over a key, DEL: the old value */
} kv_reply;

typedef struct {
    int op;
    char key[16];
    int value;
    async_oneshot *reply;   /* where the actor answers: in the caller's frame */
} kv_request;

static async_runtime rt;
static async_mpsc requests;
static kv_request request_slots[QUEUE];          /* the channel's ring, no malloc */
static int failures;

static void check(int ok, const char *who, const char *what) {
    if (!ok) {
        failures++;
        printf("  CHECK FAILED (%s): %s\n", who, what);
    }
}

/* A setup call that fails (no memory, no descriptor left) ends the example: the call
   and the reason on stderr, exit status 1. */
static void must(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "kv_actor: %s: %s\n", call, async_strerror(rc));
        exit(1);
    }
}

static const char *op_name(int op) {
    return op == KV_GET ? "GET" : op == KV_SET ? "SET" : "DEL";
}

/* ---- the actor: the only code that touches the table ------------------------------ */
typedef struct {
    async_task task;
    async_waiter w;
    kv_request req;
    struct { char key[16]; int value, used; } table[TABLE_SIZE];
    int served, rc;
} actor_frame;

static int actor_find(actor_frame *f, const char *key) {
    int i;
    for (i = 0; i < TABLE_SIZE; i++)
        if (f->table[i].used && strcmp(f->table[i].key, key) == 0) return i;
    return -1;
}

/* Apply one request to the table (never waits). */
static kv_reply actor_apply(actor_frame *f, const kv_request *rq) {
    kv_reply r = {KV_MISSING, 0};
    int i = actor_find(f, rq->key);
    if (rq->op == KV_GET) {
        if (i >= 0) { r.status = KV_OK; r.value = f->table[i].value; }
    } else if (rq->op == KV_DEL) {
        if (i >= 0) { r.status = KV_OK; r.value = f->table[i].value; f->table[i].used = 0; }
    } else if (i >= 0) {                          /* SET over an existing key */
        r.status = KV_OK;
        r.value = f->table[i].value;
        f->table[i].value = rq->value;
    } else {                                      /* SET of a new key: find a free slot */
        for (i = 0; i < TABLE_SIZE && f->table[i].used; i++) {}
        r.status = KV_FULL;
        if (i < TABLE_SIZE) {
            memcpy(f->table[i].key, rq->key, sizeof f->table[i].key);
            f->table[i].value = rq->value;
            f->table[i].used = 1;
            r.status = KV_NEW;
        }
    }
    return r;
}

static int actor_run(async_task *t) {
    actor_frame *f = (actor_frame *)t;
    ASYNC_BEGIN(t);
    printf("actor: serving, table of %d slots\n", TABLE_SIZE);
    for (;;) {
        ASYNC_AWAIT(f->rc, async_mpsc_recv(t, &requests, &f->w, &f->req));
        if (f->rc < 0) break;                     /* ASYNC_ECLOSED: no sender left */
        {
            kv_reply r = actor_apply(f, &f->req);
            f->served++;
            /* The caller may have given up (closed its oneshot): then the send fails
               with ASYNC_ECLOSED and the reply is simply dropped, as in Tokio. */
            if (async_oneshot_send(f->req.reply, &r) < 0)
                printf("actor: caller of %s %s is gone\n", op_name(f->req.op), f->req.key);
        }
    }
    {
        int i, left = 0;
        for (i = 0; i < TABLE_SIZE; i++) left += f->table[i].used;
        printf("actor: channel closed (%s): %d requests served, %d keys left\n",
               async_strerror(f->rc), f->served, left);
        check(f->rc == ASYNC_ECLOSED, "actor", "the loop ends with ASYNC_ECLOSED");
        check(left == 0, "actor", "every key was deleted");
    }
    ASYNC_END(f->served);
}

/* ---- a request/response call: a nested async function ------------------------------ */
typedef struct {
    async_coro co;
    async_waiter w_send, w_reply;
    async_oneshot reply_ch;
    kv_reply slot;          /* the oneshot's storage */
    kv_request req;
    int rc;
} kv_call_frame;

static int kv_call(async_task *t, kv_call_frame *f, int op, const char *key, int value,
                   kv_reply *out) {
    ASYNC_CORO_BEGIN(t, &f->co);
    must(async_oneshot_init(&f->reply_ch, sizeof(kv_reply), &f->slot), "async_oneshot_init");
    f->req.op = op;
    snprintf(f->req.key, sizeof f->req.key, "%s", key);
    f->req.value = value;
    f->req.reply = &f->reply_ch;
    ASYNC_AWAIT(f->rc, async_mpsc_send(t, &requests, &f->w_send, &f->req));
    if (f->rc == 0) ASYNC_AWAIT(f->rc, async_oneshot_recv(t, &f->reply_ch, &f->w_reply, out));
    async_oneshot_destroy(&f->reply_ch);
    ASYNC_END(f->rc);
}

static void show(const char *who, int op, const char *key, int value, const kv_reply *r) {
    if (op == KV_SET)
        printf("%-6s SET %s=%d -> ", who, key, value);
    else
        printf("%-6s %s %s -> ", who, op_name(op), key);
    if (r->status == KV_MISSING) printf("(missing)\n");
    else if (r->status == KV_NEW) printf("new\n");
    else if (r->status == KV_FULL) printf("table full\n");
    else if (op == KV_SET) printf("replaced %d\n", r->value);
    else if (op == KV_DEL) printf("removed %d\n", r->value);
    else printf("%d\n", r->value);
}

/* ---- clients: each runs a script on the shared key and on a key of its own ---------- */
static const struct step {
    int op, own_key, value, status, result;       /* own-key values get 10 * id added */
} script[] = {
    {KV_GET, 0, 0, KV_OK, 42},                    /* "motd", set by main before */
    {KV_SET, 1, 1, KV_NEW, 0},
    {KV_SET, 1, 2, KV_OK, 1},                     /* replaced: the old value comes back */
    {KV_GET, 1, 0, KV_OK, 2},
    {KV_DEL, 1, 0, KV_OK, 2},
    {KV_GET, 1, 0, KV_MISSING, 0},
};
enum { NSTEPS = sizeof script / sizeof script[0] };

typedef struct {
    async_task task;
    kv_call_frame call;
    async_timer timer;
    const char *name;
    char key[16];
    int id, i, rc, value, expect;
    kv_reply reply;
} client_frame;

static int client_run(async_task *t) {
    client_frame *f = (client_frame *)t;
    ASYNC_BEGIN(t);
    snprintf(f->key, sizeof f->key, "user:%s", f->name);
    for (f->i = 0; f->i < NSTEPS; f->i++) {
        {
            const struct step *s = &script[f->i];
            f->value = s->own_key && s->value ? s->value + 10 * f->id : s->value;
            f->expect = s->own_key && s->result ? s->result + 10 * f->id : s->result;
        }
        if (async_mpsc_capacity(&requests) == 0)
            printf("%-6s (request queue full: waits for room)\n", f->name);
        ASYNC_AWAIT_CALL(f->rc, &f->call.co,
                         kv_call(t, &f->call, script[f->i].op,
                                 script[f->i].own_key ? f->key : "motd", f->value, &f->reply));
        if (f->rc < 0) {
            printf("%-6s request failed: %s\n", f->name, async_strerror(f->rc));
            check(0, f->name, "request failed");
            break;
        }
        show(f->name, script[f->i].op, script[f->i].own_key ? f->key : "motd", f->value,
             &f->reply);
        check(f->reply.status == script[f->i].status &&
              (f->reply.status != KV_OK || f->reply.value == f->expect), f->name,
              "reply differs from the script");
        ASYNC_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(2 + f->id)));
    }
    async_mpsc_sender_release(&requests);         /* this client's handle */
    ASYNC_END(f->i);
}

/* ---- main ------------------------------------------------------------------------------ */
typedef struct {
    async_task task;
    actor_frame actor;
    client_frame clients[NCLIENTS];
    kv_call_frame call;
    kv_reply reply;
    int i, rc;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    static const char *names[NCLIENTS] = {"alice", "bob", "carol"};
    ASYNC_BEGIN(t);
    must(async_mpsc_init(&requests, sizeof(kv_request), QUEUE, request_slots),
         "async_mpsc_init");
    must(async_task_spawn(&rt, &f->actor.task, actor_run, "actor"), "async_task_spawn");

    ASYNC_AWAIT_CALL(f->rc, &f->call.co, kv_call(t, &f->call, KV_SET, "motd", 42, &f->reply));
    show("main", KV_SET, "motd", 42, &f->reply);
    check(f->rc == 0 && f->reply.status == KV_NEW, "main", "SET motd");

    for (f->i = 0; f->i < NCLIENTS; f->i++) {
        must(async_mpsc_sender_clone(&requests), "async_mpsc_sender_clone");  /* one each */
        f->clients[f->i].id = f->i + 1;
        f->clients[f->i].name = names[f->i];
        must(async_task_spawn(&rt, &f->clients[f->i].task, client_run, names[f->i]),
             "async_task_spawn");
    }
    for (f->i = 0; f->i < NCLIENTS; f->i++) {
        ASYNC_AWAIT(f->rc, async_task_join(t, &f->clients[f->i].task));
        check(f->rc == NSTEPS, f->clients[f->i].name, "ran its whole script");
    }
    printf("main   all clients done\n");

    ASYNC_AWAIT_CALL(f->rc, &f->call.co, kv_call(t, &f->call, KV_DEL, "motd", 0, &f->reply));
    show("main", KV_DEL, "motd", 0, &f->reply);
    check(f->rc == 0 && f->reply.status == KV_OK && f->reply.value == 42, "main", "DEL motd");

    async_mpsc_sender_release(&requests);         /* the last handle: the actor ends */
    ASYNC_AWAIT(f->rc, async_task_join(t, &f->actor.task));
    check(f->rc == 2 + NCLIENTS * NSTEPS, "main", "the actor served every request");
    async_mpsc_destroy(&requests);
    ASYNC_END(0);
}

int main(void) {
    static main_frame m;
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    must(async_runtime_init(&rt, NULL), "async_runtime_init");
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_destroy(&rt);
    if (rc != 0 || failures) {
        printf("kv_actor: FAILED (%d checks failed, main returned %d)\n", failures, rc);
        return 1;
    }
    printf("kv_actor: ok, %d requests served, every reply as expected\n", 2 + NCLIENTS * NSTEPS);
    return 0;
}
