/* xrt_model.h - two standalone runtimes stepped alternately on one thread, in a
   seeded order: the models' cross-runtime form (tests/chan_model.h,
   tests/broadcast_model.h, run by tests/test_group.c). Include it after async.h.

   A shared object (init_shared) wakes a waiter of the runtime this thread is not
   turning through that runtime's remote list, as it would from another thread, so
   the cross-runtime path runs, deterministically. Both runtimes are on a paused
   clock without auto-advance: xrt_run steps them, one at a time in the seeded
   order, until neither can poll anything; then it moves both clocks by the time to
   the earliest deadline of either (one virtual time for both), and goes on until
   nothing has a deadline either. */
#ifndef XRT_MODEL_H
#define XRT_MODEL_H
#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
#define XRT_MODEL 1

typedef struct {
    async_runtime rt[2];
    uint32_t rng;
    int (*between)(void);               /* optional: after each step (aborts asked for
                                           across runtimes); nonzero: it did something */
} xrt_pair;

static inline uint32_t xrt_next(xrt_pair *p) {
    uint32_t x = p->rng ? p->rng : 0x2545F491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return p->rng = x;
}

/* Both runtimes with d (its start_paused is set here); 0 or the failing init's error
   (nothing left to destroy then). */
static inline int xrt_init(xrt_pair *p, const async_runtime_desc *desc, uint32_t seed) {
    async_runtime_desc d = *desc;
    int rc;
    memset(p, 0, sizeof *p);
    p->rng = seed * 2654435761u + 1u;
    d.start_paused = 1;                 /* the clocks move only in xrt_run */
    if ((rc = async_runtime_init(&p->rt[0], &d)) < 0) return rc;
    if ((rc = async_runtime_init(&p->rt[1], &d)) < 0) {
        async_runtime_destroy(&p->rt[0]);
        return rc;
    }
    return 0;
}

/* Runs until neither runtime can make progress; 0, -1 if it kept turning without end
   (a spin: 1e6 rounds), -2 if it ended with a wake left uncollected (a waiter made
   ready on a runtime's remote list, or a pending wake-up: it would never run). */
static inline int xrt_run(xrt_pair *p) {
    long rounds = 0;
    for (;;) {
        int idle[2] = {0, 0}, k;
        async_time now[2], dl[2], step = ASYNC_TIME_NEVER;
        while (!idle[0] || !idle[1]) {
            if (++rounds > 1000000) return -1;
            k = (int)(xrt_next(p) >> 16 & 1);
            if (async_runtime_step(&p->rt[k], 0) > 0) idle[0] = idle[1] = 0;
            else idle[k] = 1;
            if (p->between && p->between()) idle[0] = idle[1] = 0;
            for (k = 0; k < 2; k++)
                if (async_runtime_has_pending_wake(&p->rt[k])) idle[k] = 0;
        }
        for (k = 0; k < 2; k++) {       /* both idle: time moves, for both alike */
            now[k] = async_time_now(&p->rt[k]);
            dl[k] = async_runtime_next_deadline(&p->rt[k]);
            if (dl[k] != ASYNC_TIME_NEVER) {
                async_time left = dl[k] > now[k] ? dl[k] - now[k] : 0;
                if (left < step) step = left;
            }
        }
        if (step == ASYNC_TIME_NEVER) {
            for (k = 0; k < 2; k++)
                if (p->rt[k].remote || async_runtime_has_pending_wake(&p->rt[k])) return -2;
            return 0;
        }
        async_time_advance(&p->rt[0], step);
        async_time_advance(&p->rt[1], step);
    }
}

/* Destroys both, in a seeded order (each order must leave the other whole). */
static inline void xrt_destroy(xrt_pair *p) {
    int k = (int)(xrt_next(p) >> 16 & 1);
    async_runtime_destroy(&p->rt[k]);
    async_runtime_destroy(&p->rt[!k]);
}

#endif
#endif
