/* joinset_model.h - a JoinSet driven by a script of bytes, checked against a model
   of its members: shared by tests/test_comb.c (random scripts from a seed) and
   tests/fuzz/fuzz_joinset.c (libFuzzer's). Include it after async.h.

   A driver task on a paused clock with auto-advance (FIFO or seeded random ready
   order, a budget of 1-3 or the default) runs a list of operations on one JoinSet,
   unordered (completion order) or ordered (spawn order): spawn a member (it sleeps
   or yields a few times, then returns a value or an error), join_next (plainly,
   with a timeout, in a select against a sleep), abort one member (it ends
   cancelled at its next poll, as Tokio's), abort_all,
   detach_all, yield or sleep; then wait_all.

   What must hold: join_next gives each member once, in completion order (ordered:
   spawn order), with its result (ASYNC_ECANCELED if it was aborted before it
   finished); ASYNC_ECLOSED only when the set is empty; len counts the members not
   yet reaped; abort_all reports the members it aborted; detached members leave the
   set and still run to their end; wait_all gives the first error in the order it
   reaps; at the end every member has finished and the set destroys empty.

   joinset_model_run(data, len) returns 0, or the line of the first check that
   failed (joinset_model_why says which). */
#ifndef JOINSET_MODEL_H
#define JOINSET_MODEL_H

enum { JM_NM = 8, JM_OPS = 24 };
enum { JM_UNUSED, JM_INSET, JM_JOINED, JM_DETACHED };

typedef struct {
    async_task task;
    async_timer timer;
    int id, steps, i, rc, result, started, seq;
} jm_member;

typedef struct {
    async_task task;
    async_waiter w;
    async_timer timer;
    async_select sel;
    int i, n, op, arg, rc, rc1, result, k;
    async_task *got;
    uint8_t ops[JM_OPS];
} jm_driver;

static struct {
    async_joinset js;
    async_task *ring[JM_NM];
    jm_member m[JM_NM];
    jm_driver d;
    int ordered, nspawned, seq, next_ordered;
    int state[JM_NM], aborted[JM_NM], spawn_order[JM_NM];
    int fail_line;
    const char *why;
} jm;

static const char *joinset_model_why(void) { return jm.why ? jm.why : ""; }

#define JM_CHECK(cond) do { \
        if (!(cond) && !jm.fail_line) { jm.fail_line = __LINE__; jm.why = #cond; } } while (0)

static int jm_count(int state) {
    int k, n = 0;
    for (k = 0; k < JM_NM; k++) n += jm.state[k] == state;
    return n;
}

static int jm_member_fn(async_task *t) {
    jm_member *m = (jm_member *)t;
    ASYNC_BEGIN(t);
    m->started = 1;
    for (m->i = 0; m->i < m->steps; m->i++) {
        if ((m->id + m->i) & 1) ASYNC_YIELD();
        else ASYNC_AWAIT(m->rc, async_time_sleep(t, &m->timer, ASYNC_MS(m->i % 3)));
    }
    ASYNC_CLEANUP();
    m->seq = ++jm.seq;                          /* the order members finish in */
    ASYNC_END(m->result);
}

/* join_next gave rc and, when 0, jm.d.got and jm.d.result. */
static void jm_joined(int rc) {
    int k, j;
    if (rc == ASYNC_ECLOSED) {
        JM_CHECK(jm_count(JM_INSET) == 0);
        return;
    }
    if (rc != 0) {
        JM_CHECK(rc == ASYNC_ETIMEDOUT);
        return;
    }
    k = (int)((jm_member *)(void *)jm.d.got - jm.m);
    JM_CHECK(k >= 0 && k < JM_NM);
    if (k < 0 || k >= JM_NM) return;
    JM_CHECK(jm.state[k] == JM_INSET && jm.m[k].seq != 0);
    if (jm.ordered) {
        JM_CHECK(k == jm.spawn_order[jm.next_ordered]);
        jm.next_ordered++;
    } else {
        for (j = 0; j < JM_NM; j++)             /* the first to finish of those left */
            if (jm.state[j] == JM_INSET && jm.m[j].seq) JM_CHECK(jm.m[j].seq >= jm.m[k].seq);
    }
    JM_CHECK(jm.d.result == (jm.aborted[k] ? ASYNC_ECANCELED : jm.m[k].result));
    jm.state[k] = JM_JOINED;
}

static int jm_driver_fn(async_task *t) {
    jm_driver *d = (jm_driver *)t;
    ASYNC_BEGIN(t);
    for (d->i = 0; d->i < d->n; d->i++) {
        d->op = d->ops[d->i] & 7;
        d->arg = d->ops[d->i] >> 3;
        d->rc = 0;
        if (d->op <= 1) {
            if (jm.nspawned < JM_NM) {
                jm_member *m = &jm.m[jm.nspawned];
                m->id = jm.nspawned;
                m->steps = d->arg % 4;
                m->result = m->id % 3 == 0 ? -1000 - m->id : m->id + 1;
                JM_CHECK(async_joinset_spawn(&jm.js, &m->task, jm_member_fn, "member") == 0);
                jm.state[m->id] = JM_INSET;
                jm.spawn_order[jm.nspawned++] = m->id;
            }
        } else if (d->op == 2) {
            ASYNC_AWAIT(d->rc, async_joinset_join_next(t, &jm.js, &d->w, &d->got, &d->result));
            jm_joined(d->rc);
        } else if (d->op == 3) {
            ASYNC_AWAIT_TIMEOUT(d->rc, &d->timer, ASYNC_MS(d->arg % 4),
                                async_joinset_join_next(t, &jm.js, &d->w, &d->got, &d->result));
            jm_joined(d->rc);
        } else if (d->op == 4) {
            ASYNC_SELECT_BEGIN(&d->sel, 2, (d->arg & 1) ? ASYNC_SELECT_BIASED : ASYNC_SELECT_FAIR);
                ASYNC_SELECT_BRANCH(&d->sel, 0, 1, d->rc,
                                    async_joinset_join_next(t, &jm.js, &d->w, &d->got,
                                                            &d->result));
                ASYNC_SELECT_BRANCH(&d->sel, 1, 1, d->rc1,
                                    async_time_sleep(t, &d->timer, ASYNC_MS(d->arg % 4)));
            ASYNC_SELECT_END(&d->sel);
            if (d->sel.winner == 0) jm_joined(d->rc);
        } else if (d->op == 5) {                /* abort one that has started */
            d->k = d->arg % JM_NM;
            if (jm.state[d->k] == JM_INSET && jm.m[d->k].started) {
                if (!jm.m[d->k].seq) jm.aborted[d->k] = 1;      /* at its next poll */
                JM_CHECK(async_task_abort(&jm.m[d->k].task) == 0);
            }
        } else if (d->op == 6) {                /* abort_all, once all have started */
            int k, ready = 1, unfinished = 0;
            for (k = 0; k < JM_NM; k++)
                if (jm.state[k] == JM_INSET) {
                    ready &= jm.m[k].started;
                    unfinished += !jm.m[k].seq && !jm.aborted[k];  /* not told before */
                }
            if (ready) {
                for (k = 0; k < JM_NM; k++)
                    if (jm.state[k] == JM_INSET && !jm.m[k].seq) jm.aborted[k] = 1;
                JM_CHECK(async_joinset_abort_all(&jm.js) == unfinished);
            }
        } else if (d->arg & 16) {
            int k;
            JM_CHECK(async_joinset_detach_all(&jm.js) == 0);
            for (k = 0; k < JM_NM; k++)
                if (jm.state[k] == JM_INSET) jm.state[k] = JM_DETACHED;
            jm.next_ordered = jm.nspawned;
        } else if (d->arg & 1) {
            ASYNC_YIELD();
        } else {
            ASYNC_AWAIT(d->rc, async_time_sleep(t, &d->timer, ASYNC_MS(d->arg % 4)));
        }
        JM_CHECK(async_joinset_len(&jm.js) == jm_count(JM_INSET));
    }
    ASYNC_AWAIT(d->rc, async_joinset_wait_all(t, &jm.js, &d->w));
    JM_CHECK(async_joinset_len(&jm.js) == 0);
    ASYNC_END(0);
}

/* wait_all reaps in completion (or spawn) order: its result is the first error
   among the members still in the set when it starts, in that order. */
static int jm_wait_all_expect(void) {
    int k, best = -1;
    if (jm.ordered) {
        for (k = jm.next_ordered; k < jm.nspawned; k++) {
            int id = jm.spawn_order[k];
            int r = jm.aborted[id] ? ASYNC_ECANCELED : jm.m[id].result;
            if (jm.state[id] == JM_INSET && r < 0) return r;
        }
        return 0;
    }
    for (k = 0; k < JM_NM; k++) {
        int r = jm.aborted[k] ? ASYNC_ECANCELED : jm.m[k].result;
        if (jm.state[k] == JM_INSET && r < 0 && (best < 0 || jm.m[k].seq < jm.m[best].seq))
            best = k;
    }
    return best < 0 ? 0 : (jm.aborted[best] ? ASYNC_ECANCELED : jm.m[best].result);
}

static int joinset_model_run(const uint8_t *data, size_t len) {
    static const int budgets[4] = {0, 1, 2, 3};
    async_runtime rt;
    async_runtime_desc d;
    size_t pos = 2;
    int j, expect;
    memset(&jm, 0, sizeof jm);
    memset(&d, 0, sizeof d);
    d.budget = budgets[len > 0 ? data[0] % 4 : 0];
    jm.ordered = len > 0 && (data[0] & 4);
    d.seed = len > 1 ? data[1] : 0;             /* 0: FIFO; else random ready order */
    d.start_paused = 2;
    if (async_runtime_init(&rt, &d) != 0) return __LINE__;
    if ((jm.ordered ? async_joinset_init_ordered(&jm.js, &rt, jm.ring, JM_NM)
                    : async_joinset_init(&jm.js, &rt)) != 0)
        return __LINE__;
    jm.d.n = (pos < len ? data[pos++] : 0) % (JM_OPS + 1);
    for (j = 0; j < jm.d.n; j++) jm.d.ops[j] = pos < len ? data[pos++] : 0;
    async_task_spawn(&rt, &jm.d.task, jm_driver_fn, "driver");
    /* Run the script, then check wait_all's result against the members left then:
       the driver ends with wait_all, and members finish before it reaps them. */
    async_runtime_run(&rt);
    expect = jm_wait_all_expect();
    JM_CHECK(jm.d.task.state == ASYNC_TASK_DONE);
    JM_CHECK(jm.d.rc == expect);
    for (j = 0; j < jm.nspawned; j++) JM_CHECK(jm.m[j].seq != 0);  /* all ran to the end */
    JM_CHECK(async_joinset_destroy(&jm.js) == 0);
    async_runtime_destroy(&rt);
    return jm.fail_line;
}

#endif
