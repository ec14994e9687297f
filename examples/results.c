/* results.c - typed results: the seeds' Result<T, E> chains (map, and_then, or_else,
   map_err, ?) in C, with the value in the frame and the status as the result.

   The seeds' code, and its C here:
     async fn get_user(id) -> Result<User, Error>         get_user(): fills f->value
     let u = timeout(5s, get_user(id)).await
                 .map_err(|_| Error::Timeout)??;           ASYNC_AWAIT_CALL_TIMEOUT,
                                                           ASYNC_MAP_ERR, ASYNC_OK_OR_RETURN
     future.map(|u| u.score * 2)                           ASYNC_MAP
     future.and_then(|u| async move { rank(u).await })     ASYNC_AND_THEN(_CALL)
     future.or_else(|_| async move { Ok(guest()) })        ASYNC_OR_ELSE_AWAIT, _CALL
     let total = handle.await?                             ASYNC_JOIN_INTO (a task's value)

   Three lookups: user 3 is found (score 30, doubled: 60, rank 1), user 7's lookup takes
   7 s and times out after 5 s, user 42 does not exist and falls back to the guest.
   A task sums the scores in its frame, joined with its typed value. The paused clock
   makes the 5 s timeout take no time. Exit status 0 when every result is as stated. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include <stdio.h>
#include <string.h>

enum { E_TIMEOUT = -1001, E_NOT_FOUND = -1002 };    /* your own error codes: below 0 */

typedef struct {
    int id, score;
} user;

/* async fn get_user(id) -> Result<User, Error>: the database takes id % 10 seconds. */
typedef struct {
    async_coro co;
    async_timer timer;
    user value;
} get_user_frame;

static int get_user(async_task *t, get_user_frame *f, int id) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(id % 10)));
    ASYNC_OK_OR_RETURN(rc);
    if (id > 9) ASYNC_RETURN(E_NOT_FOUND);
    f->value.id = id;
    f->value.score = id * 10;
    ASYNC_END(0);
}

/* async fn rank(score) -> Result<int, Error>: one more await, a plain int result. */
typedef struct {
    async_coro co;
    async_timer timer;
} rank_frame;

static int rank(async_task *t, rank_frame *f, int score) {
    int rc;
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    ASYNC_OK_OR_RETURN(rc);
    ASYNC_END(score >= 50 ? 1 : 2);
}

/* async fn score_of(id) -> Result<int, Error>, the whole chain:
     timeout(5s, get_user(id)).await.map_err(timeout -> E_TIMEOUT)?
     .map(|u| u.score * 2).and_then(rank) or, on E_NOT_FOUND, the guest's user 1 */
typedef struct {
    async_coro co;
    async_timer timer;
    get_user_frame get;
    rank_frame rank;
    user u;
    int rc, score, value;               /* value: the result, read after a success */
} score_frame;

static int score_of(async_task *t, score_frame *f, int id) {
    ASYNC_CORO_BEGIN(t, &f->co);
    ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->timer, ASYNC_SEC(5), &f->get.co,
                             get_user(t, &f->get, id));
    f->rc = ASYNC_MAP_ERR(f->rc, f->rc == ASYNC_ETIMEDOUT ? E_TIMEOUT : f->rc);
    if (f->rc == E_NOT_FOUND)                           /* or_else: the guest instead */
        ASYNC_AWAIT_CALL_INTO(f->rc, f->u, &f->get, get_user(t, &f->get, 1), value);
    else if (f->rc >= 0)
        f->u = f->get.value;
    ASYNC_OK_OR_RETURN(f->rc);                          /* ? */
    f->score = ASYNC_MAP(f->rc, f->u.score * 2);        /* map */
    ASYNC_AND_THEN_CALL(f->rc, &f->rank.co, rank(t, &f->rank, f->score)); /* and_then */
    ASYNC_OK_OR_RETURN(f->rc);
    f->value = f->score * 10 + f->rc;
    ASYNC_END(0);
}

/* A task with a typed value: the sum of the scores it could get, in its frame. */
typedef struct {
    async_task task;
    score_frame s;
    int ids[3], rcs[3], values[3], i, rc, sum;
} summer_frame;

static int summer(async_task *t) {
    summer_frame *f = (summer_frame *)t;
    ASYNC_BEGIN(t);
    for (f->i = 0; f->i < 3; f->i++) {
        ASYNC_AWAIT_CALL_INTO(f->rc, f->values[f->i], &f->s,
                              score_of(t, &f->s, f->ids[f->i]), value);
        f->rcs[f->i] = f->rc;
        if (f->rc >= 0) f->sum += f->values[f->i];
    }
    ASYNC_END(0);
}

typedef struct {
    async_task task;
    summer_frame summer;
    async_timer timer;
    int rc, total, fallback;
} main_frame;

static int main_task(async_task *t) {
    main_frame *f = (main_frame *)t;
    ASYNC_BEGIN(t);
    f->summer.ids[0] = 3;
    f->summer.ids[1] = 7;
    f->summer.ids[2] = 42;
    async_task_spawn(t->rt, &f->summer.task, summer, "summer");
    ASYNC_JOIN_INTO(f->rc, f->total, &f->summer, sum);  /* let total = handle.await? */
    ASYNC_OK_OR_RETURN(f->rc);
    /* or_else with an await: an error recovered by another operation */
    f->rc = E_TIMEOUT;
    ASYNC_OR_ELSE_AWAIT(f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(1)));
    f->fallback = f->rc;                                /* 0: the sleep's success */
    ASYNC_END(0);
}

int main(void) {
    static async_runtime rt;
    static main_frame m;
    async_runtime_desc d;
    summer_frame *s = &m.summer;
    int rc, ok;
    memset(&d, 0, sizeof d);
    d.start_paused = 2;                 /* the paused clock: 5 s take no time */
    if (async_runtime_init(&rt, &d) < 0) return 1;
    rc = async_runtime_block_on(&rt, &m.task, main_task, "main");
    async_runtime_destroy(&rt);
    printf("user 3:  status %d, value %d (score 30, doubled: 60, rank 1)\n", s->rcs[0],
           s->values[0]);
    printf("user 7:  status %d (E_TIMEOUT = %d: the lookup took 7 s)\n", s->rcs[1],
           E_TIMEOUT);
    printf("user 42: status %d, value %d (not found: the guest, user 1: 20, rank 2)\n",
           s->rcs[2], s->values[2]);
    printf("total %d, joined from the summer's frame; or_else_await %d\n", m.total,
           m.fallback);
    ok = rc == 0 && s->rcs[0] == 0 && s->values[0] == 601 && s->rcs[1] == E_TIMEOUT &&
         s->rcs[2] == 0 && s->values[2] == 202 && m.total == 803 && m.fallback == 0;
    printf("results: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
