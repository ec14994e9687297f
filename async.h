/* async.h - v0.1.0 - Tokio-style async runtime for C on stackless coroutines - MIT or public domain
   SPDX-License-Identifier: MIT OR Unlicense

   Do this:
       #define ASYNC_IMPLEMENTATION
       #include "async.h"
   in *one* C or C++ file to create the implementation. Include it without the
   define everywhere else.

   TABLE OF CONTENTS (each section is tagged twice, `>>tag`, in the declarations
   and in the implementation: search for it)
       QUICK START
       CODE IN THIS MANUAL
       1 ERRORS ......................... >>errors
       2 COROUTINES ..................... >>coro
       3 TASKS AND THE RUNTIME .......... >>core
       4 TIME ........................... >>time
       5 SYNC ........................... >>sync
       6 CHANNELS ....................... >>chan
       7 COMBINATORS .................... >>combinators
       8 STREAMS ........................ >>streams
       9 I/O AND THREADS ................ >>io >>threads
       10 SHUTDOWN ...................... >>shutdown
       11 MULTI-CORE .................... >>group
       12 DEBUGGING ..................... >>debug
       13 EMBEDDING ..................... >>embed
       CONFIGURATION .................... >>config (first in the code)
       ZERO ALLOCATION .................. (storage of yours: the reactor, the pool,
                                          the inbox; what still allocates)
       WINDOWS .......................... >>sys, and the io, threads blocks
       PITFALLS
       DESIGN NOTES
       what the macros need (do not use)  >>details
       implementation only .............. >>faults (the allocation path, test hooks)
                                          >>util (intrusive lists, 64-bit arithmetic
                                          for small cores, formatting)
       LICENSE (end of file)
       REVISION HISTORY

CONVENTIONS
===========
   One grammar for every public name (tests/check_names.sh checks it in make test):
     object first       async_<object>_<verb>: async_mpsc_send, async_pool_spawn,
                        async_runtime_dump. The object is a type (async_mpsc) or a
                        module (time, sock, udp, file, sys, test): async_time_sleep.
                        Macros and constants: ASYNC_<NAME>. async__ and ASYNC__ names
                        are private. (async_strerror keeps C's name.)
     ops                take the task first and return ASYNC_PENDING until done; await
                        them: ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, d))
     waits are verbs    _wait, or _wait_<state> when the object has several:
                        async_notify_wait, async_mpsc_wait_closed, async_io_wait_ready
     predicates ask     is_/has_, never wait, read only: async_mpsc_is_closed,
                        async_watch_has_changed, async_task_is_finished
     one cancel query   async_task_is_cancelling(t): 1 while t is polled in cancel
                        mode (in ASYNC_CLEANUP, or first thing in a poll function)
     getters, setters   a getter is a noun (async_mpsc_len,
                        async_semaphore_available_permits); a setter says set_
                        (async_sock_set_nodelay), an action its verb (take_, mark_)
     _until             takes an absolute time, a deadline on the runtime's clock
                        (async_time_now(rt) + d): async_time_sleep_until,
                        ASYNC_AWAIT_TIMEOUT_UNTIL, async_interval_init_until. The name
                        without _until takes a duration: async_time_sleep,
                        ASYNC_AWAIT_TIMEOUT. No other time word (no _at, no DEADLINE);
                        async_bufreader_read_until reads to a delimiter (Tokio's name).
     try_               only the non-blocking form of an op on the same object: it
                        never waits, it fails at once instead (ASYNC_EAGAIN,
                        ASYNC_EBUSY): async_mpsc_try_recv, async_mutex_try_lock,
                        async_child_try_wait. Early return is ASYNC_AWAIT_OR_RETURN,
                        stopping at the first error ASYNC_JOIN_FAIL_FAST
     _init, _destroy    set up in storage you own, and release; a variant is
                        _init_<how>: async_joinset_init_ordered,
                        async_cancel_token_init_child; _alloc: storage from
                        ASYNC_MALLOC (async_task_spawn_alloc)
     Tokio's words      where Tokio has the concept: recv, try_recv, recv_many,
                        reserve, borrow_and_update, join_next, abort_all, read_exact,
                        write_all, forget_permits. Where one Rust method becomes two C
                        functions, each name says what it does:
                        async_semaphore_forget_held (SemaphorePermit::forget: permits
                        you hold vanish), async_semaphore_forget_permits
                        (Semaphore::forget_permits: free ones are removed)
   Results are int: >= 0 success (a count or a value), < 0 an ASYNC_E* code (see
   ERRORS); an op may also return ASYNC_PENDING (not yet).

QUICK START
===========
   This program is examples/hello.c, byte for byte (make test checks it):

   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct {
        async_task task;     // the task header comes first
        async_timer timer;   // state that must survive an await lives in the frame
        int i;
    } ticker;

    static int ticker_run(async_task *t) {
        ticker *f = (ticker *)t;
        int rc;
        ASYNC_BEGIN(t);
        for (f->i = 1; f->i <= 3; f->i++) {
            ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(100)));
            printf("tick %d\n", f->i);
        }
        ASYNC_END(f->i - 1);
    }

    int main(void) {
        static async_runtime rt;
        static ticker a, b;                  // zeroed, as frames must be
        async_runtime_init(&rt, NULL);
        async_task_spawn(&rt, &a.task, ticker_run, "a");
        async_task_spawn(&rt, &b.task, ticker_run, "b");
        async_runtime_run(&rt);              // both tick together: 300 ms, not 600
        async_runtime_destroy(&rt);
        return 0;
    }

CODE IN THIS MANUAL
===================
   `make test` compiles every example of this manual (tests/manual.sh), so none of
   them can drift from the header. Code is indented 4 columns, after a tag line:
   "[program]" marks a whole program, compiled with -std=c99 -Wall -Wextra
   -Wpedantic -Werror and run (it must exit 0); "[fragment]" marks statements,
   compiled inside the body of a task whose frame f has a timer, a waiter w, a
   mutex m, an mpsc ch and the ints i, n, item and sum (t and rc are in scope);
   "[not compiled: REASON]" says why not. Reference lists, indented 5 columns and
   more, give names and contracts (`_init(s, n)` is async_semaphore_init(s, n)
   under its object's heading); "op" marks an operation, awaited with ASYNC_AWAIT.

1 ERRORS (>>errors)
===================
   Functions return int: >= 0 success (a count or a value), < 0 an error code.
   On hosted builds the codes that have an errno equivalent are -errno
   (ASYNC_ETIMEDOUT == -ETIMEDOUT), so OS errors pass through unchanged.
     ASYNC_ECANCELED ASYNC_ETIMEDOUT ASYNC_ENOMEM ASYNC_EINVAL ASYNC_EBUSY
     ASYNC_EAGAIN ASYNC_EDEADLK ASYNC_ECLOSED ASYNC_ESTATE ASYNC_ELOST
     ASYNC_ENORECV ASYNC_ELAGGED ASYNC_EREJECTED ASYNC_ELIMIT ASYNC_EEOF
     ASYNC_ENOTFOUND ASYNC_ENOSYS (not supported on this platform: WINDOWS)
     async_strerror(code)                a message for any code, never NULL
     ASYNC_RESULT(T)                     struct { int status; T value; }, for a
                                         function that returns a value and a code;
                                         ASYNC_IS_OK(r) is r.status >= 0
   ASYNC_PENDING (INT_MIN) is not an error: it means "not yet".
   Misuse that cannot be reported as a code (a lost resume point, an operation
   that ignored cancel mode) fails ASYNC_ASSERT with a message.
   One error channel, as libuv's: no errno to look at afterwards, no global
   "last error". A function that fails leaves its object as it was (an init that
   fails leaves it inert: every later call returns an error), and a call that
   takes an operation's state and fails has not registered anything.
   [program]
    #include "async.h"
    #include <stdio.h>

    typedef ASYNC_RESULT(double) ratio;      // a status and a value

    static ratio divide(double a, double b) {
        ratio r = {0, 0.0};
        if (b == 0) r.status = ASYNC_EINVAL;
        else r.value = a / b;
        return r;
    }

    int main(void) {
        ratio ok = divide(5, 2), bad = divide(1, 0);
        printf("%g; %s\n", ok.value, async_strerror(bad.status));   // 2.5; invalid argument
        return ASYNC_IS_OK(ok) && !ASYNC_IS_OK(bad) && async_strerror(-12345) != NULL ? 0 : 1;
    }

2 COROUTINES (>>coro)
=====================
   What for: code that waits (for a timer, a lock, a socket) written as
   straight-line C, without threads, callbacks, or a stack per task: a task costs
   its frame struct and a 64-byte header, so a million of them fit in memory.
   The model: a coroutine is a C function whose body sits between ASYNC_BEGIN
   and ASYNC_END. Each await stores a resume point and returns ASYNC_PENDING; the
   next call jumps back to it. Locals do NOT survive an await: keep everything
   that must live across one in the frame struct (see PITFALLS). A nested async
   function has its own frame (an async_coro first) inside its caller's; a
   generator is one that hands out items with ASYNC_GEN_YIELD.
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct { async_coro co; async_timer timer; } fetch_frame;

    // A nested async function: its frame is embedded in its caller's.
    static int fetch(async_task *t, fetch_frame *f, int id) {
        int rc;
        ASYNC_CORO_BEGIN(t, &f->co);
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(10 * id)));
        if (rc < 0) ASYNC_RETURN(rc);
        ASYNC_END(id * 100);
    }

    // A generator: hands out 1..n through *out, then ends with 0.
    typedef struct { async_coro co; int i; } count_frame;
    static int count_to(async_task *t, count_frame *g, int n, int *out) {
        ASYNC_CORO_BEGIN(t, &g->co);
        for (g->i = 1; g->i <= n; g->i++) {
            *out = g->i;
            ASYNC_GEN_YIELD();
        }
        ASYNC_END(0);
    }

    typedef struct {
        async_task task;
        fetch_frame fetch;
        count_frame gen;     // zeroed once, before its first call
        int item, sum;
    } main_frame;

    static int main_task(async_task *t) {
        main_frame *f = (main_frame *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT_CALL(rc, &f->fetch.co, fetch(t, &f->fetch, 3));
        printf("fetch(3) = %d\n", rc);
        for (;;) {
            ASYNC_AWAIT(rc, count_to(t, &f->gen, 3, &f->item));
            if (rc != ASYNC_ITEM) break;
            f->sum += f->item;
        }
        printf("1 + 2 + 3 = %d\n", f->sum);
        ASYNC_END(f->sum == 6 ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static main_frame f;
        int rc;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        rc = async_runtime_block_on(&rt, &f.task, main_task, "main");
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps (PITFALLS has them all): a local read after an await; an await inside a
   `switch` of yours (switch form); a generator's async_coro is zeroed once, then
   awaited with ASYNC_AWAIT (ASYNC_AWAIT_CALL zeroes it on each call: that
   restarts it).

   Functions (actually macros; "may return" means the macro can return from the
   enclosing function):
     ASYNC_BEGIN(async_task *t)               open a task body (t is evaluated twice)
     ASYNC_CORO_BEGIN(async_task *t, async_coro *co)
                                              open a nested async function body
     ASYNC_END(int v)                         close the body; falling off returns v
     ASYNC_RETURN(int v)                      finish now with v (runs ASYNC_CLEANUP)
     ASYNC_CLEANUP()                          optional: code below it runs when the
                                              body finishes, returns or is cancelled
     ASYNC_AWAIT(lvalue rc, int op)           may return: poll op until it is not
                                              ASYNC_PENDING; its result goes to rc
     ASYNC_AWAIT_CALL(lvalue rc, async_coro *child, int call)
                                              may return: restart child, then await
                                              the nested async function call
     ASYNC_WAIT_FOR(cond)                     may return: suspend until cond holds;
                                              re-checked each time the task is woken
     ASYNC_YIELD()                            may return: go to the back of the run
                                              queue (after timers are checked)
     ASYNC_GEN_YIELD()                        may return: hand an item to the caller
                                              of a generator (returns ASYNC_ITEM)
     async_task_is_cancelling(t)              in ASYNC_CLEANUP: 1 if being cancelled
     ASYNC_CORO_CANCEL(async_coro *child, int call)
                                              cancel a suspended nested function now
                                              (e.g. a generator you stop reading): it
                                              unwinds through its cleanup

   The poll contract (as Rust futures): an operation such as async_time_sleep or
   async_task_join returns ASYNC_PENDING after registering the task to be woken
   when progress is possible, or its result (>= 0 success, < 0 error). The
   operation's state (timer, waiter node) lives in the caller's frame, so the
   hot path never allocates.

   Nested async functions take the task and their own frame, which the caller
   embeds in its frame (children that never run at the same time can share a
   union), as fetch does in the example above.

   Generators are nested async functions that ASYNC_GEN_YIELD items (written
   through an out-pointer) and end with ASYNC_END(0); the caller awaits them
   with ASYNC_AWAIT and gets ASYNC_ITEM per item, then 0. Zero the generator's
   async_coro (or use ASYNC_CORO_INIT) once before the first call.

   Cancellation: when a task is aborted (or an operation loses a timeout or a
   select), it is polled once more in *cancel mode*: it resumes at the await
   where it was suspended, the operation there unlinks its waiter and returns
   ASYNC_ECANCELED without completing, and the body unwinds to ASYNC_CLEANUP
   (nested async functions unwind the same way, innermost first). Operations
   that never started are not touched; a task aborted before its first poll
   runs its cleanup section only (async_task_is_cancelling(t) is 1 there; nothing of
   the body ran, so the cleanup sees the frame as its creator left it), as Tokio
   runs the destructors of a future it drops unpolled. Every operation in this
   header honours cancel mode; a poll
   function you write yourself must too (check async_task_is_cancelling(t)): in
   cancel mode it returns a negative code, never ASYNC_PENDING and never a
   success, because an await only looks for cancellation when its operation
   failed (that keeps an await that completes at once down to its operation and
   one test). Cancel mode only ever starts with a poll, never inside one: a task
   that aborts itself runs on to its next suspension, as in Tokio.
   Awaits store the resume point and the site (for async_runtime_dump) only when they
   suspend.

   Resume points: the portable form is a `switch` on a key built from
   __LINE__ and __COUNTER__ (so two awaits on one line compile where
   __COUNTER__ exists). Define ASYNC_USE_COMPUTED_GOTO (GCC/Clang, GNU mode)
   to resume through labels-as-values instead: that lifts the nested-switch
   restriction but cannot be -Wpedantic clean. Both forms keep a 32-bit key in
   the same place, so the struct layouts do not change.

3 TASKS AND THE RUNTIME (>>core)
================================
   What for: running many coroutines at once on one thread, as Tokio's
   current-thread runtime does, and handing their results back.
   The model: a task is a frame struct whose first member is an async_task, plus
   its function `int fn(async_task *t)`. The runtime (async_runtime, in storage
   you own; it must not move after init) keeps a FIFO queue of woken tasks and
   polls only those: a task that waits costs nothing until it is woken. A task's
   handle is its pointer: join it for its result, abort it to cancel it, or detach
   it. Here a boss joins one worker and aborts the other:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct { async_task task; async_timer timer; int ms; } worker;

    static int work(async_task *t) {
        worker *w = (worker *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_time_sleep(t, &w->timer, ASYNC_MS(w->ms)));
        if (rc < 0) ASYNC_RETURN(rc);
        ASYNC_END(w->ms * 2);
    }

    typedef struct { async_task task; worker *fast, *slow; } boss;

    static int boss_run(async_task *t) {
        boss *f = (boss *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_task_join(t, &f->fast->task));
        printf("fast gave %d\n", rc);                      // 20
        async_task_abort(&f->slow->task);                  // cancelled at its next poll
        ASYNC_AWAIT(rc, async_task_join(t, &f->slow->task));
        printf("slow: %s\n", async_strerror(rc));          // operation cancelled
        ASYNC_END(rc == ASYNC_ECANCELED ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static worker fast = {.ms = 10}, slow = {.ms = 5000};
        static boss b = {.fast = &fast, .slow = &slow};
        int result = -1;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        async_task_spawn(&rt, &fast.task, work, "fast");
        async_task_spawn(&rt, &slow.task, work, "slow");
        async_task_spawn(&rt, &b.task, boss_run, "boss");
        if (async_runtime_run(&rt) != 0) return 1;         // tasks left blocked forever
        async_task_result(&b.task, &result);
        async_runtime_destroy(&rt);
        return result;
    }
   Traps: a frame must be zeroed when spawned and must not move or be reused
   while its task lives; an allocated frame (spawn_alloc) is freed by its first
   join, so read its results through that join; async_runtime_run returning
   nonzero means tasks wait for something that will never come (async_runtime_dump
   shows what).

     async_runtime_init(rt, desc)       desc may be NULL (all defaults)
     async_runtime_destroy(rt)          cancel every live task (cleanup runs),
                                        free allocated frames; returns how many
     async_runtime_run(rt)              run until no task can make progress;
                                        returns the number of tasks still alive
                                        (0, or how many are blocked forever)
     async_runtime_step(rt, max_wait)   one loop turn: collect wake-ups and due
                                        timers, wait at most max_wait if nothing
                                        is ready, poll what is ready; returns polls
     async_runtime_block_on(rt, t, fn, name)
                                        spawn t and run until it finishes; returns
                                        its result (ASYNC_EDEADLK if it cannot)
     async_runtime_stats(rt, &stats)    counters (polls, wakes, timers fired, ...)

     async_task_spawn(rt, t, fn, name)  start a task in a frame you own (zeroed);
                                        it is queued, never run inside spawn
     async_task_spawn_alloc(rt, fn, size, name, &t)
                                        the same with a zeroed frame from
                                        ASYNC_MALLOC, freed when the task has
                                        finished and been joined or detached
     async_task_join(self, child)       op: wait for child, return its result
                                        (ASYNC_ECANCELED if it was aborted). A
                                        frame you own can be joined again and
                                        gives the same result (Tokio's handle is
                                        consumed: one await); an allocated frame
                                        is freed by its first join, so the handle
                                        is dead after it
     async_task_abort(t)                cancel at its next poll (no-op if done)
     async_task_detach(t)               nobody will join: free its frame at the end
     async_task_wake(t)                 make a waiting task ready (idempotent, O(1))
     async_task_result(t, &rc)          0 and the result if finished, else ESTATE
     async_task_is_finished(t), async_task_name(t), async_task_state(t),
     async_task_where(t, &file, &line), async_task_is_cancelling(t)
     async_task_runtime(t)              the runtime t was spawned on (NULL if it
                                        never was): what a task passes to spawn
                                        a task, init a JoinSet or read the clock

     async_waker_init(rt, w), async_waker_destroy(w)
     async_waker_wake(w)                Context: anywhere (interrupt handler,
                                        signal handler, other thread). Sets a
                                        flag (and on hosted builds pokes the
                                        runtime's wake descriptor); a wake
                                        before the wait is kept, never lost.
                                        Needs GCC/Clang atomics for threads on
                                        hosted builds; freestanding, it is safe
                                        from interrupts on a single core. Not
                                        while async_runtime_destroy runs.
     async_runtime_has_pending_wake(rt), async_runtime_wake_fd(rt)
                                        for your own idle hook: an MCU hook must
                                        mask interrupts, check wake_pending, then
                                        WFI (which wakes on a pending masked
                                        interrupt), then unmask; a hosted hook
                                        must also wait on wake_fd (a host event
                                        loop: EMBEDDING, async_runtime_backend_fd)
     async_waker_wait(t, w)             op: wait for a wake of w

   Scheduling follows Tokio's current-thread runtime: a FIFO run queue; after
   `event_interval` polls (61) or when nothing is ready, timers and wake-ups
   are collected; a task that yields (ASYNC_YIELD, or an operation that found
   the cooperative budget spent) runs again only after that collection. Each
   poll starts with `budget` (128) units; every operation that completes
   spends one, and with none left operations return ASYNC_PENDING and yield,
   so a task looping over ready operations cannot starve others or timers. In
   cancel mode there is no budget (that keeps inline fast paths out of it), and
   nothing yields.
   A poll function of your own that is always ready calls
   async_task_consume_budget(t) (tokio::task::consume_budget): 1 to go on, 0 when the
   budget is spent (return ASYNC_PENDING then: the task runs again soon).
   A nonzero `seed` in the desc picks the next task at random (reproducibly)
   among the ready ones, to explore interleavings in tests.

   Task states: QUEUED (ready), RUNNING, DEFERRED (yielded), WAITING, DONE.
   A join handle is the task pointer. Releasing it is an explicit choice:
   async_task_detach lets the task run on (Tokio's drop), async_task_abort
   cancels it. An allocated frame lives until it has finished AND been joined
   or detached; after that the pointer is invalid.
     ASYNC_TASK_IDLE      never spawned (a zeroed frame)
     ASYNC_TASK_QUEUED    ready, in the run queue
     ASYNC_TASK_RUNNING   being polled
     ASYNC_TASK_DEFERRED  yielded: runs again after timers and wake-ups are collected
     ASYNC_TASK_WAITING   suspended until woken
     ASYNC_TASK_DONE      finished; its result is kept until it is joined

4 TIME (>>time)
===============
   What for: sleeps, periodic work, and a deadline around any wait, and tests
   that never sleep for real (the paused clock).
   The model: time is async_time, unsigned 64-bit nanoseconds of a monotonic
   clock (never the wall clock); build durations with ASYNC_NS/US/MS/SEC(n). A
   timer (async_timer, zeroed, in the frame) is the state of one sleep; it lives
   in a hierarchical wheel in the runtime, so arming and cancelling are O(1).
   ASYNC_AWAIT_TIMEOUT wraps any await: when the time is up first, the operation
   is cancelled (polled once in cancel mode) and rc is ASYNC_ETIMEDOUT. With the
   clock paused and auto-advancing, this program's 5 seconds pass at once:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct {
        async_task task;
        async_interval iv;
        async_timer timer;
        async_notify never;
        async_waiter w;
        async_time first, when;
        int ticks;
    } frame;

    static int run(async_task *t) {
        frame *f = (frame *)t;
        int rc;
        ASYNC_BEGIN(t);
        async_interval_init(&f->iv, ASYNC_MS(100), ASYNC_TICK_SKIP);
        for (f->ticks = 0; f->ticks < 3; f->ticks++) {
            ASYNC_AWAIT(rc, async_interval_tick(t, &f->iv, &f->when));
            if (f->ticks == 0) f->first = f->when;
            printf("tick at +%d ms\n", (int)((f->when - f->first) / ASYNC_MS(1)));
        }
        // nobody notifies: the timeout cancels the wait
        ASYNC_AWAIT_TIMEOUT(rc, &f->timer, ASYNC_SEC(5), async_notify_wait(t, &f->never, &f->w));
        printf("wait: %s\n", async_strerror(rc));
        ASYNC_END(rc == ASYNC_ETIMEDOUT ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static frame f;
        async_runtime_desc d = {0};
        int rc;
        d.start_paused = 2;      // paused clock, auto-advance: the 5 s pass at once
        if (async_runtime_init(&rt, &d) < 0) return 1;
        rc = async_runtime_block_on(&rt, &f.task, run, "clock");
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps: an interval's first tick is immediate; a timer is one wait's state, so
   two waits at once need two timers; a timeout goes around one await, not
   around a block of code (put the block in a nested async function and use
   ASYNC_AWAIT_CALL_TIMEOUT).
     async_time_now(rt)
     async_runtime_next_deadline(rt)     the earliest pending timer's deadline
                                         (ASYNC_TIME_NEVER if none): how long a
                                         loop of yours may wait before a step
     async_time_sleep(t, timer, duration) op: 0 after the duration
     async_time_sleep_until(t, timer, deadline)
     ASYNC_AWAIT_TIMEOUT(rc, timer, duration, op)   may return: await op; if
     ASYNC_AWAIT_TIMEOUT_UNTIL(rc, timer, deadline, op) it is still pending when the
                                         timer expires, cancel op (polled once in
                                         cancel mode) and set rc = ASYNC_ETIMEDOUT.
                                         op is polled first, so a ready op wins
                                         even at the deadline (as tokio::timeout).
                                         Timing out spends a unit of the budget
                                         (as Tokio's): a loop over an await whose
                                         deadline has passed still yields.
     ASYNC_AWAIT_CALL_TIMEOUT(rc, timer, duration, child, call)
                                         the same around a nested async function,
                                         restarted first as ASYNC_AWAIT_CALL does
     async_interval_init(iv, period, missed)        first tick is immediate
     async_interval_init_until(iv, start, period, missed)
     async_interval_tick(t, iv, &when)   op: wait for the next tick
     async_interval_reset(iv)            next tick one period from its next poll
     missed-tick behaviour (when a tick is more than 5 ms late, as Tokio):
       ASYNC_TICK_BURST  next = missed + period (catch up back to back)
       ASYNC_TICK_DELAY  next = now + period
       ASYNC_TICK_SKIP   next = the next multiple of period after now
     async_time_pause(rt, auto_advance), async_time_resume(rt),
     async_time_advance(rt, duration)    the paused clock: time stands still
                                         until advanced; with auto_advance it
                                         jumps to the next deadline whenever no
                                         task is ready, so tests never sleep.
   A deadline already passed completes at once (no rounding up); ASYNC_TIME_NEVER
   arms nothing: a timeout of it never fires, a sleep until it ends only when the task
   is cancelled (a wake just polls it again). Timers live in a hierarchical
   wheel (O(1) insert and cancel) and fire in deadline order, ties in arming order.
   On hosted builds with the real clock a wait that includes an I/O or wake
   descriptor has millisecond granularity (rounded up, so a timer fires late by
   < 1 ms, never early).
   Differences from Tokio: an interval's first tick is "now" at its first poll (it
   has no runtime to read the clock at init); async_time_resume goes on from the
   paused instant (as Tokio); auto-advance does not wait for armed wakers (a thread
   about to wake a task does not hold time back).

5 SYNC (>>sync)
===============
   What for: tasks that share something (a connection pool, a counter, a config)
   or wait for each other: Tokio's Mutex, RwLock, Semaphore, Notify, Barrier and
   CancellationToken, and a token bucket (a rate limiter), for tasks of one runtime.
   The model: every wait queues an async_waiter (in the caller's frame, zeroed) on one kind of
   FIFO queue, async_waitq; the object is all-zero when idle unless said otherwise.
   A waiter serves one wait at a time: reuse it (for any object) only once that
   wait has completed or been cancelled.
   Wait operations are ops (ASYNC_AWAIT them); the rest never wait.
     async_semaphore: _init(s, n), _acquire(t, s, w), _acquire_many(t, s, w, n),
        _try_acquire(s, n), _release(s, n), _add_permits(s, n), _forget_held(s, n) (held
        permits vanish), _forget_permits(s, n) (free ones), _close(s), _is_closed,
        _available_permits. Strictly FIFO: released permits go straight to the head waiter,
        in parts if it asked for many, so a large request at the front holds back
        smaller ones behind it, and nobody barges (Tokio). Up to
        ASYNC_SEMAPHORE_MAX_PERMITS. After _close, waiters and acquires fail with
        ASYNC_ECLOSED, a waiter handed its permits but not yet run included (they
        come back, as Tokio's); permits already held are unaffected. You hold
        permits as a count: give them back with _release (C has no destructor).
     async_mutex (= ASYNC_MUTEX_INIT or {0}): _lock(t, m, w) FIFO, _try_lock,
        _unlock, _is_locked. Lock and unlock have inline fast paths.
     async_rwlock: _read, _write (FIFO-fair: a queued writer holds back the readers
        after it), _try_read, _try_write, _read_unlock, _write_unlock, _downgrade.
     async_notify: _wait(t, n, w), _enable(t, n, w) (register without waiting;
        w stays queued until a _wait with it completes or is cancelled, so await
        it before the frame moves on: a notification chosen for a waiter nobody
        awaits is lost), _one (the oldest waiter, or store one permit: many calls
        store one),
        _last (the newest), _waiters (everyone waiting now; stores nothing).
     async_barrier: _init(b, n) (0 counts as 1), _wait(t, b, w) returns 1 for the
        single leader of each generation, 0 for the others.
     async_token_bucket: a rate limiter. _init(b, rt, capacity, refill, period) (full),
        _acquire(t, b, w, n), _try_acquire(b, n), _available(b), _add(b, n) (a refund),
        _delay(b, n) (how long an acquire of n made now would wait). `refill` tokens
        come every whole `period` of rt's clock (the paused one too), up to `capacity`:
        an idle bucket saves one burst, no more. Acquires are served strictly FIFO and
        in parts, like the semaphore's: the head takes what is there and collects the
        refills, so a request larger than the capacity completes too (over several
        refills) and holds back the smaller ones behind it; nobody barges, not even
        _try_acquire. No refill task: the bucket counts the periods gone by whenever it
        is used, and one timer (the head waiter's, moved to the next head when that
        one is served or cancelled) wakes the head when its tokens are in. A cancelled
        acquire gives back what it had collected, to the next waiter first (the rest
        into the bucket, up to its capacity). Tokio has no token bucket; this is
        Guava's RateLimiter / the leaky-bucket crate's fair limiter, with whole-period
        refills.
     async_cancel_token: _init, _init_child(parent, child) (initialises child, like an
        _init: never pass a token still in a tree, _destroy it first; cancelled with
        its parent, born cancelled if the parent is), _cancel (the whole subtree; iterative),
        _is_cancelled, _wait(t, tok, w), _destroy (children move to its parent).
   Cancellation (abort, timeout, a lost select) of each wait: the waiter is
   unlinked; permits handed over but not yet seen go to the next waiter (so no
   lock or permit leaks); a Notify permit chosen for a cancelled wait is passed on;
   a cancelled Barrier wait takes its party back out (Tokio's is not cancel safe).
   Like Tokio, a cancelled lock/acquire/notified loses its place in the queue.
   A lock held across no await at all, in a task body:
   [fragment]
    ASYNC_AWAIT(rc, async_mutex_lock(t, &f->m, &f->w));
    if (rc == 0) {
        f->sum += f->item;              // nobody else is inside
        async_mutex_unlock(&f->m);
    }
   Four workers, two at a time (a semaphore), count under a mutex held across a
   yield:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    static async_mutex lock = ASYNC_MUTEX_INIT;
    static async_semaphore slots;            // at most 2 workers inside at once
    static int counter, inside, most_inside;

    typedef struct { async_task task; async_waiter w; int i, v; } worker;

    static int work(async_task *t) {
        worker *f = (worker *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_semaphore_acquire(t, &slots, &f->w));
        if (rc < 0) ASYNC_RETURN(rc);
        if (++inside > most_inside) most_inside = inside;
        for (f->i = 0; f->i < 100; f->i++) {
            ASYNC_AWAIT(rc, async_mutex_lock(t, &lock, &f->w));
            if (rc < 0) break;
            f->v = counter;
            ASYNC_YIELD();                   // others run; the lock keeps them out
            counter = f->v + 1;
            async_mutex_unlock(&lock);
        }
        inside--;
        async_semaphore_release(&slots, 1);
        ASYNC_END(0);
    }

    int main(void) {
        static async_runtime rt;
        static worker w[4];
        int i;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        async_semaphore_init(&slots, 2);
        for (i = 0; i < 4; i++) async_task_spawn(&rt, &w[i].task, work, "worker");
        async_runtime_run(&rt);
        async_runtime_destroy(&rt);
        printf("counter %d, at most %d inside\n", counter, most_inside);   // 400, 2
        return counter == 400 && most_inside == 2 ? 0 : 1;
    }
   Traps: a lock is held as long as the task holds it, across awaits too, and
   there is no destructor: every path out (errors, ASYNC_CLEANUP for a cancel)
   must unlock or release; one waiter serves one wait at a time; a mutex is not
   recursive and not for threads (other threads use the inbox).

6 CHANNELS (>>chan)
===================
   What for: tasks that hand each other data instead of sharing it: a work queue
   (mpsc), a reply (oneshot), events for every listener (broadcast), the latest
   value of a setting (watch), as Tokio's tokio::sync channels.
   The model: items of any fixed size are copied in and out. Storage is yours (the size from
   *_storage_size) or NULL: allocated through ASYNC_MALLOC, freed by *_destroy.
   Sender handles are counts: _sender_clone / _sender_release (init gives one;
   once the last is released none can be cloned, ASYNC_ECLOSED, and broadcast and
   watch sends give ASYNC_ECLOSED). An init whose allocation fails returns
   ASYNC_ENOMEM and leaves the object inert: closed, empty, with no sender, so
   every later operation returns an error (ASYNC_ECLOSED) without touching the
   missing buffer, and _destroy is harmless.
     async_mpsc: _init(c, item_size, capacity, storage) (capacity 0: unbounded,
        in blocks of 32 items through ASYNC_MALLOC; ASYNC_ENOMEM when that fails),
        _send(t, c, w, &item) waits while full (senders served FIFO), _try_send
        (ASYNC_EAGAIN full), _reserve(t, c, w) / _try_reserve then
        _send_reserved(c, &item) or _release_reserved(c) (a permit guarantees a
        slot; _capacity() comes back only when the item is received), _recv(t, c,
        w, &item), _recv_many(t, c, w, items, limit) (Tokio's recv_many: waits
        for at least one item, then takes up to `limit` in one go into the array
        `items` and returns how many; limit 0 returns 0 at once; one unit of the
        budget per call; cancel safe like _recv: a cancelled or lost wait takes
        nothing), _try_recv (ASYNC_EAGAIN empty), _close (the receiver: later sends
        fail, waiting senders fail, even one handed a slot that has not run yet,
        permits already granted may still send, what is buffered can be drained),
        _wait_closed(t, c, w) (a sender waits for the close), _len, _capacity, _destroy.
        recv gives ASYNC_ECLOSED only when no sender is left (or the receiver
        closed), nothing is buffered and no permit is out.
        Several tasks may receive from one channel (a work queue): they queue in
        order, a send wakes them all and one gets the item.
        ASYNC_MPSC_TYPED(prefix, type) adds inline typed prefix_send/_recv/_try_send/
        _try_recv/_recv_many with the item size known at compile time (the fast way:
        send and recv are inlined whole on hosted builds; the untyped send and recv
        take the same fast path behind a call and a copy of item_size bytes).
     async_oneshot: _init(o, item_size, storage), _send (never waits; ASYNC_ECLOSED
        if the receiver is gone, and the item is still yours), _recv(t, o, w, &item)
        (ASYNC_ECLOSED if the sender was released without sending; ASYNC_ESTATE if
        polled again after it completed), _try_recv, _sender_release, _close (the
        receiver), _is_closed, _wait_closed(t, o, w), _destroy.
     async_broadcast: _init(b, item_size, capacity, storage) (capacity rounded up to
        a power of two), _subscribe(b, rx) (sees what is sent from then on),
        _unsubscribe, _send (returns the receiver count; ASYNC_ENORECV with none, and
        nothing is stored), _recv(t, rx, w, &item), _try_recv, _rx_len. A receiver
        that fell more than capacity behind gets ASYNC_ELAGGED once, rx->lagged says
        how many it lost, and it goes on from the oldest item kept. ASYNC_ECLOSED
        when every sender is released and it has read everything.
     async_watch: _init(ch, item_size, storage, &initial), _subscribe(ch, rx) (the
        current value counts as seen), _send (ASYNC_ENORECV with no receiver: not
        stored), _send_replace(ch, &item, &old) and _send_modify(ch, fn, user) (always
        store), _borrow (copy, not marked seen), _borrow_and_update (copy, mark seen),
        _has_changed, _mark_changed, _mark_unchanged, _wait_changed(t, rx, w) (completes at
        once if a version is unseen, marking it seen; ASYNC_ECLOSED only once every
        sender is released and everything is seen).
   Cancellation safety (Tokio's list): mpsc/broadcast recv, watch changed, oneshot
   recv are cancel safe (nothing is taken unless the operation completes). A
   cancelled mpsc send drops its item and gives its slot back; use reserve +
   send_reserved to keep the item.
   A producer fills a channel of four ints and releases its sender; the consumer
   reads until ASYNC_ECLOSED:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct { async_task task; async_mpsc *ch; async_waiter w; int i; } producer;

    static int produce(async_task *t) {
        producer *f = (producer *)t;
        int rc;
        ASYNC_BEGIN(t);
        for (f->i = 1; f->i <= 10; f->i++) {
            ASYNC_AWAIT(rc, async_mpsc_send(t, f->ch, &f->w, &f->i));   // waits while full
            if (rc < 0) ASYNC_RETURN(rc);
        }
        async_mpsc_sender_release(f->ch);    // the last sender: the receiver sees the end
        ASYNC_END(0);
    }

    typedef struct { async_task task; async_mpsc *ch; async_waiter w; int item, sum; } consumer;

    static int consume(async_task *t) {
        consumer *f = (consumer *)t;
        int rc;
        ASYNC_BEGIN(t);
        for (;;) {
            ASYNC_AWAIT(rc, async_mpsc_recv(t, f->ch, &f->w, &f->item));
            if (rc == ASYNC_ECLOSED) break;  // no sender left and nothing buffered
            if (rc < 0) ASYNC_RETURN(rc);
            f->sum += f->item;
        }
        ASYNC_END(f->sum);
    }

    int main(void) {
        static async_runtime rt;
        static async_mpsc ch;
        static producer p;
        static consumer c;
        int sum = -1;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        if (async_mpsc_init(&ch, sizeof(int), 4, NULL) < 0) return 1;   // 4 ints, allocated
        p.ch = c.ch = &ch;
        async_task_spawn(&rt, &p.task, produce, "producer");
        async_task_spawn(&rt, &c.task, consume, "consumer");
        async_runtime_run(&rt);
        async_task_result(&c.task, &sum);
        printf("sum %d\n", sum);                                        // 55
        async_runtime_destroy(&rt);
        async_mpsc_destroy(&ch);
        return sum == 55 ? 0 : 1;
    }
   Traps: the end of a channel is the release of its last sender, not a special
   item: a task that keeps a sender it never uses keeps its receiver waiting;
   items are copied by size, so a pointer item hands over what it points to
   (keep it alive); broadcast drops what a slow receiver has not read
   (ASYNC_ELAGGED), watch keeps only the latest value.

7 COMBINATORS (>>combinators)
=============================
   What for: waiting for several things at once inside one task: all of them
   (join), the first of them (select, race), a varying set of spawned tasks
   (JoinSet) or of operations in the task itself (OpSet), and retrying what fails
   (retry, circuit breaker, bulkhead).
   The model: combinators compose with anything awaitable (an operation, a
   nested call, a join handle, one another): each is one await point whose
   branches are polled in a loop inside it, with their state in an async_select
   / async_join in the frame. A select cancels its losers (polled once in cancel
   mode), so a cancel-safe operation that loses takes nothing.
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct { async_coro co; async_timer timer; } fetch_frame;

    static int fetch(async_task *t, fetch_frame *f, int ms) {
        int rc;
        ASYNC_CORO_BEGIN(t, &f->co);
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(ms)));
        if (rc < 0) ASYNC_RETURN(rc);
        ASYNC_END(ms);
    }

    typedef struct {
        async_task task;
        async_join join;
        async_select sel;
        fetch_frame a, b;
        async_timer timer;
        async_notify never;
        async_waiter w;
        int ra, rb, rc;
    } frame;

    static int run(async_task *t) {
        frame *f = (frame *)t;
        ASYNC_BEGIN(t);
        // both fetches at once: 30 ms, not 50
        ASYNC_JOIN_BEGIN(&f->join, 2, 0)
            ASYNC_JOIN_BRANCH_CALL(&f->join, 0, f->ra, &f->a.co, fetch(t, &f->a, 20))
            ASYNC_JOIN_BRANCH_CALL(&f->join, 1, f->rb, &f->b.co, fetch(t, &f->b, 30))
        ASYNC_JOIN_END(&f->join);
        printf("joined: %d and %d\n", f->ra, f->rb);
        // the first to complete wins; the loser is cancelled (its wait unlinked)
        ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_BIASED)
            ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc, async_notify_wait(t, &f->never, &f->w))
            ASYNC_SELECT_BRANCH(&f->sel, 1, 1, f->rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)))
        ASYNC_SELECT_END(&f->sel);
        if (f->sel.winner == 1) printf("select: the timer won\n");
        ASYNC_END(f->ra == 20 && f->rb == 30 && f->sel.winner == 1 ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static frame f;
        int rc;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        rc = async_runtime_block_on(&rt, &f.task, run, "main");
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps: a select or join is a statement, not an expression: handle the result
   after END, on sel->winner and the rcs; each branch needs its own operation
   state (two waits need two waiters or timers); a branch that is not cancel safe
   (an mpsc send, read_exact) loses its progress when it loses the select.
     ASYNC_SELECT_BEGIN(sel, n, mode) ... ASYNC_SELECT_BRANCH(sel, i, guard, rc, op)
       ... ASYNC_SELECT_END(sel)        the first branch to complete wins
       (sel->winner); every other branch still waiting is polled once in cancel
       mode, which unlinks it: a cancel-safe operation (a receive) loses nothing,
       and an item is never taken by a branch that loses. mode: ASYNC_SELECT_FAIR
       (a random first branch on each poll, as tokio::select!) or _BIASED (in
       order), | ASYNC_SELECT_NOWAIT (winner ASYNC_SELECT_ELSE if nothing is ready
       at once). Every guard is evaluated once, at the start, before any branch is
       polled (as tokio::select!); a false one disables its branch; with every
       branch disabled the winner is ASYNC_SELECT_ELSE. Write the
       handlers after END (if/else on sel->winner): a branch is an expression.
     ASYNC_SELECT_BRANCH_CALL(sel, i, guard, rc, child, call)   a nested async
       function as a branch (restarted at the start; a losing one unwinds through
       its cleanup).
     ASYNC_JOIN_BEGIN(js, n, mode) ... ASYNC_JOIN_BRANCH(js, i, rc, op) ... ASYNC_JOIN_END
       every branch to completion, concurrently (results in each rc; the first
       polled rotates). With ASYNC_JOIN_FAIL_FAST the first error stops it, cancels the
       others (their rc becomes ASYNC_ECANCELED; those never started are not
       touched) and is left in js->err.
       ASYNC_JOIN_BRANCH_CALL for nested functions.
     ASYNC_RACE2(sel, rc, op0, op1), ASYNC_RACE3: the first result wins, into rc.
     ASYNC_JOIN_ALL(rcs, n, i, op)     op over an array (it uses the int lvalue i);
     ASYNC_JOIN_ALL_FAIL_FAST(rc, rcs, n, i, op) the same, stopping at the first error.
     ASYNC_SELECT_BEGIN_TIMEOUT(sel, n, mode, timer, duration),
     ASYNC_SELECT_BEGIN_TIMEOUT_UNTIL(sel, n, mode, timer, deadline), and
     ASYNC_JOIN_BEGIN_TIMEOUT / _TIMEOUT_UNTIL(js, n, mode, timer, ...): a timeout
       directly around a select or a join (tokio::time::timeout(d, select!{..})),
       closed by the same END, on an async_timer in the frame. The branches are
       polled first (one ready at the deadline wins); if the timer fires first,
       every branch still waiting is cancelled as select's losers are, sel->err
       is ASYNC_ETIMEDOUT and a select's winner ASYNC_SELECT_TIMEDOUT (a join
       keeps the results of the branches that finished, the others' rc say
       ASYNC_ECANCELED). Otherwise err is 0 (a join: its first error).
     Each BEGIN ... END is one statement (it can be the body of an if). Up to 32
       branches.
   Results: a status is the result (an error below 0, your own codes too), and a typed
   value lives in the frame of whoever makes it, read after a success; macros only,
   so they cost what the hand-written code costs. Rust's ?, map, map_err, and_then
   and or_else:
     ASYNC_AWAIT_OR_RETURN(rc, op), ASYNC_AWAIT_CALL_OR_RETURN(rc, child, call)
       await, then return the error early; ASYNC_OK_OR_RETURN(rc) on a status in hand
     ASYNC_MAP(rc, expr) (expr after a success), ASYNC_MAP_ERR(rc, expr) (after an
       error), ASYNC_OR_ELSE(rc, fallback): plain expressions
     ASYNC_AND_THEN(rc, op), ASYNC_AND_THEN_CALL(rc, child, call): await only after a
       success, its result into rc; ASYNC_OR_ELSE_AWAIT(rc, op), ASYNC_OR_ELSE_CALL:
       only after an error (a recovery)
     ASYNC_AWAIT_CALL_INTO(rc, out, child, call, field): await a nested async function
       whose frame (child) holds its value in field: out = child->field on success
     ASYNC_JOIN_INTO(rc, out, child, field): join the task whose frame child starts
       with its async_task task, out = child->field on success (handle.await?)
     ASYNC_RESULT(T) is a struct { int status; T value; }, ASYNC_IS_OK(r).
   The seeds' chain `timeout(5s, get_user(id)).await.map_err(|_| Timeout)?` with
   .map and .and_then after it, in C (examples/results.c has it whole):
   [not compiled: the frames and functions are examples/results.c's]
    ASYNC_AWAIT_CALL_TIMEOUT(f->rc, &f->timer, ASYNC_SEC(5), &f->get.co,
                             get_user(t, &f->get, id));
    f->rc = ASYNC_MAP_ERR(f->rc, f->rc == ASYNC_ETIMEDOUT ? E_TIMEOUT : f->rc);
    ASYNC_OK_OR_RETURN(f->rc);                          // ?
    f->score = ASYNC_MAP(f->rc, f->get.value.score * 2);    // map
    ASYNC_AND_THEN_CALL(f->rc, &f->rank.co, rank(t, &f->rank, f->score));
   async_joinset (JoinSet): _init(js, rt), _init_ordered(js, rt, ring, n) (results
     in spawn order: FuturesOrdered), _spawn(js, t, fn, name), _spawn_alloc,
     _join_next(t, js, w, &task, &result) (completion order; ASYNC_ECLOSED when
     empty; cancel safe), _wait_all(t, js, w) (a scope's end: 0 or the first
     error), _len, _abort_all (they finish cancelled: reap them with join_next),
     _detach_all, _destroy (cancels every member now: their cleanup has run when it
     returns, so members whose frames die with their owner are safe; destroy the
     set in the owner's ASYNC_CLEANUP for structured concurrency; a member calling
     it is detached, not cancelled; ASYNC_EBUSY while a task waits in join_next).
     A member belongs to its set: async_task_join and _detach refuse it. Destroy
     every JoinSet (before or after the runtime): it frees its allocated members.
   async_opset (FuturesUnordered / FuturesOrdered inside one task): a varying set
     of pending operations that one task awaits one at a time, without a task each.
     An op is a poll function fn(t, state) over state of yours (an adapter around an
     operation or a nested async function); the set needs a slot per op, yours or
     allocated. A worker pool that keeps three fetches in flight, adds one whenever
     one completes, and drops the rest once it has seen four results:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct { async_coro co; async_timer timer; int id; } fetch_frame;

    static int fetch(async_task *t, fetch_frame *f) {      // user id answers in 60/id ms
        int rc;
        ASYNC_CORO_BEGIN(t, &f->co);
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(60 / f->id)));
        if (rc < 0) ASYNC_RETURN(rc);
        ASYNC_END(f->id * 100);
    }
    static int fetch_op(async_task *t, void *state) { return fetch(t, (fetch_frame *)state); }

    typedef struct {
        async_task task;
        async_opset set;
        async_opset_slot slots[3];       // no allocation: the set's bookkeeping
        fetch_frame calls[3];            // the ops' state: one call per slot
        void *done;
        int id, got, result, rc;
    } frame;

    static int run(async_task *t) {
        frame *f = (frame *)t;
        fetch_frame *c;
        ASYNC_BEGIN(t);
        async_opset_init(&f->set, f->slots, 3);
        for (f->id = 1; f->id <= 3; f->id++) {
            f->calls[f->id - 1].id = f->id;
            async_opset_push(&f->set, fetch_op, &f->calls[f->id - 1]);
        }
        while (f->got < 4) {
            ASYNC_AWAIT(f->rc, async_opset_next(t, &f->set, &f->done, &f->result));
            if (f->rc < 0) break;                           // ASYNC_ECLOSED: empty
            c = (fetch_frame *)f->done;
            printf("user %d: %d\n", c->id, f->result);      // 3, 2, 4, 5: as they finish
            f->got++;
            ASYNC_CORO_INIT(&c->co);                        // its frame takes the next id
            c->id = f->id++;
            async_opset_push(&f->set, fetch_op, c);
        }
        // 2 cancelled (timers disarmed); user 7, pushed last, was never polled
        printf("dropped %d\n", async_opset_clear(t, &f->set));
        ASYNC_END(f->got == 4 && async_runtime_next_deadline(t->rt) == ASYNC_TIME_NEVER ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static frame f;
        async_runtime_desc d = {0};
        int rc;
        d.start_paused = 2;
        if (async_runtime_init(&rt, &d) < 0) return 1;
        rc = async_runtime_block_on(&rt, &f.task, run, "pool");
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps: clear the set before its task ends (in ASYNC_CLEANUP) unless it is empty;
   an op's state must stay put while it is in the set, and a nested function's frame
   is restarted (ASYNC_CORO_INIT) before it is pushed again.
     _init(s, slots, capacity) completion order; _init_ordered: results in push order
       (FuturesOrdered's push_back; younger results are held until the older are
       out). slots NULL: allocated through ASYNC_MALLOC (ASYNC_ENOMEM), freed by
       _destroy. capacity 0: ASYNC_EINVAL (the set is left inert).
     _push(s, fn, state)  add an op (not polled yet, as Rust's push): its slot index,
       or ASYNC_EAGAIN when every slot is taken (FuturesUnordered grows; a set does
       not). A nested async function's frame must be restarted (ASYNC_CORO_INIT).
     _next(t, s, &state, &result)  op: the next op to complete (ordered: the oldest,
       its result once it is there): its slot index (free again: a push may reuse
       it), its state and its result (an op's error is its result, not next's);
       ASYNC_ECLOSED when the set is empty (Rust's None; push again and go on).
       Add ops while others are pending: next polls each of them from then on.
     _len(s), _is_empty(s)
     _clear(t, s)         drop every op now (Rust's clear, or drop of the set): each
       op that was polled is polled once in cancel mode, as select's losers, so its
       waiter is unlinked and its timer disarmed (a cancel-safe receive loses
       nothing); ops never polled are not touched; ordered results held are dropped.
       Returns how many were cancelled.
     _destroy(t, s)       clear, then free allocated slots (t may be NULL only if no
       op was ever polled: ASYNC_EBUSY otherwise, nothing changed).
     How it runs: a wake names the task, not the op, so after a wake next polls the
     set's ops from a cursor that moves past each completion (every op gets its turn)
     and stops at the first to complete; within one poll of the task, an op that
     said pending is not polled again until something is woken (a send of the task
     itself counts). The cost is one poll per pending op per wake of the task, as a
     select or a join over them (FuturesUnordered polls only the woken ones), plus
     a look at each: keep sets to tens of ops, use a JoinSet for thousands. Ordered,
     the oldest is polled first, then the others (their results held). Each op
     spends the budget as it would alone, so a set larger than the budget yields.
     Cancellation: a timeout or select around next cancels that wait only: the ops
     stay in the set (as Rust's). When the task is aborted while it waits in next,
     next clears the set. Anywhere else, and before the task ends with ops in the
     set, call _clear (in ASYNC_CLEANUP): an op left in the set stays registered
     (a waiter queued, a timer armed) and would wake a finished task.
     Differences from Rust: fixed capacity; no push_front; one task only polls a set
     (its ops wake that task); fn must not push to, clear or await its own set.
   Resilience:
     async_backoff: _init(b, base, max, max_attempts), fields deadline (absolute),
       jitter (ASYNC_JITTER_FULL default, _EQUAL, _NONE), retryable(rc);
       _next(b, now, rc, &delay) gives the delay min(max, base * 2^n) jittered, or
       ASYNC_ELIMIT / ASYNC_ETIMEDOUT. Jitter: FULL (default) [0, d], EQUAL [d/2, d],
       NONE; b->rng is seeded per backoff (set it to replay a sequence).
       ASYNC_RETRY(rc, b, timer, op) and
       ASYNC_RETRY_CALL(rc, b, timer, child, call) retry until success, a
       non-retryable error, or the backoff stops (rc: the last result); each starts
       a new sequence (async_backoff_reset), and b->last_delay says what it waited.
     async_breaker: _init(cb, threshold, recovery, half_open_max), _allow(cb, now)
       (0 or ASYNC_EREJECTED), _record(cb, now, rc), _state: closed, open after
       `threshold` failures in a row, half-open after `recovery` (trial calls),
       closed again after half_open_max successes.
     async_bulkhead: _init(b, max_concurrent, max_queue), _enter(t, b, w) (at once,
       queued FIFO, or ASYNC_EREJECTED when max_queue already wait), _leave.

8 STREAMS (>>streams)
=====================
   What for: a sequence of items that arrive over time (lines of a socket, ticks,
   messages) processed as a pipeline, in constant memory, with backpressure.
   The model: a stream is an async iterator (Rust's Stream): a struct whose first
   member is an async_stream {next, item_size, ended}. async_stream_next(t, s, &item) is an
   operation: ASYNC_ITEM (1) with the item written, 0 at the end (and every time
   after: streams are fused), an error item (< 0: the stream goes on), or
   ASYNC_PENDING. Everything lives in structs you own: no allocation anywhere
   except collect_alloc, so a pipeline runs in constant memory and on MCUs.
   Pass the same item buffer to every poll until one completes (chunks and zip
   build their item in it). Sources, adapters and a sink, all in the frame:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    static void square(const void *in, void *out, void *user) {
        (void)user;
        *(int *)out = *(const int *)in * *(const int *)in;
    }
    static int is_even(const void *item, void *user) {
        (void)user;
        return *(const int *)item % 2 == 0;
    }
    static int add(void *acc, const void *item, void *user) {
        (void)user;
        *(int *)acc += *(const int *)item;
        return 0;
    }

    typedef struct {
        async_task task;
        async_stream_iter it;
        async_stream_map sq;
        async_stream_filter even;
        async_stream_sink sink;
        int scratch, item, sum;
    } frame;

    static const int numbers[] = {1, 2, 3, 4, 5, 6};

    static int run(async_task *t) {
        frame *f = (frame *)t;
        int rc;
        ASYNC_BEGIN(t);
        // numbers -> square -> keep the even ones -> sum: 4 + 16 + 36
        async_stream_iter_init(&f->it, numbers, sizeof(int), 6);
        async_stream_map_init(&f->sq, &f->it.base, sizeof(int), square, NULL, &f->scratch);
        async_stream_filter_init(&f->even, &f->sq.base, is_even, NULL);
        ASYNC_AWAIT(rc, async_stream_fold(t, &f->even.base, &f->sink, &f->sum, add, NULL,
                                          &f->item));
        printf("sum of even squares: %d (%d items)\n", f->sum, (int)f->sink.count);
        ASYNC_END(rc == 0 && f->sum == 56 ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static frame f;
        int rc;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        rc = async_runtime_block_on(&rt, &f.task, run, "pipeline");
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps: a stream's structs must not move once linked (adapters point at their
   upstream); give every adapter that needs it room for one upstream item
   (scratch); an error item does not end a stream, so a source that failed for
   good returns its error once and then 0; several adapters are not cancel safe
   (see Cancellation below).
   Sources (each _init(s, ...) returns 0 or ASYNC_EINVAL):
     async_stream_iter: the items of an array. async_stream_from_fn: fn(user, &item)
       returns 1 (an item), 0 (the end) or < 0 (an error item: the stream goes on,
       so a source that failed for good returns its error once, then 0; a sink
       skipping errors would otherwise read it forever). async_stream_unfold:
       step(t, co, state, &item) is a nested async function (ASYNC_CORO_BEGIN(t,
       co)) giving ASYNC_ITEM or 0; restarted for each item. async_stream_gen: a
       struct that begins with an async_stream_gen and a function gen(t, st, &item)
       that is a generator over its co (ASYNC_GEN_YIELD per item, ASYNC_END(0)).
       async_stream_mpsc / _broadcast (ASYNC_ELAGGED is an error item) / _interval
       (items: the async_time of each tick) read a channel or an interval; the end
       of the channel is the end of the stream.
   Adapters (_init(s, up, ...); scratch is room for one upstream item):
     map(fn(in, out, user)), filter_map(fn returns 1 to keep), filter(pred),
     take_while / skip_while (pred), then(fn): an async map, fn(t, co, in, out,
     user) a nested async function returning 0 or < 0 (an error item);
     take(n) (take(0) never reads up), skip(n) (both count items: error items
     pass through uncounted, where tokio-stream counts every Result), enumerate
     (items: a uint64_t index, then the item at offset 8, packed: read it with
     memcpy); chunks(n) / chunks_timeout(n, d): items are a size_t count
     then up to n items (async_stream_chunk_size), a short last chunk, never an
     empty one; with d, a batch goes out d after its first item (tokio-stream);
     an error item passes through ahead of the batch it interrupts.
     zip(a, b) (a's item then b's at offset a->item_size, packed; ends when either
     ends), chain(a, b), merge(a,
     b) (alternates while both are ready; ends when both have), select_all(ups, n)
     (round robin). throttle(period) (at least period between items), timeout(d)
     (ASYNC_ETIMEDOUT as an error item, once per gap; the stream goes on; each gap
     counts from the moment the previous item was handed out, as tokio-stream, so a
     slow consumer does not push it back; the first counts from the first poll,
     where tokio-stream starts it at creation: an _init has no clock to read).
     buffered / buffer_unordered(up, n, item_size, fn, state_size, user, slots):
       fn(t, state, in, out, user) is a nested async function whose state (zeroed
       for each call, an async_coro first) lives in a slot; up to n calls run at
       once; buffered gives outputs in input order, buffer_unordered as they
       complete; up is read only when a slot is free (backpressure). slots: n *
       async_stream_slot_size(state_size, up, item_size) bytes, aligned as malloc's
       (ASYNC_STREAM_SLOT_SIZE(state_size, in_size, out_size) for array sizes).
       n = 0 is refused (futures' "unlimited" needs allocation). Each poll polls
       every call in flight (not only the woken ones): meant for small n.
     fanout_init(f, up, ring, cap, outs, n): n output streams (outs[i].base), each
       read by its own task, each seeing every item; up runs at most cap items
       ahead of the slowest output. fanout_release(out): that output stops
       holding the others back (ASYNC_EBUSY while its task waits on up: cancel
       that first). An error item of up goes to the output that pulled it.
   Sinks (operations; progress kept in an async_stream_sink you zero first):
     fold(t, s, k, acc, fn(acc, item, user), user, scratch), for_each(t, s, k, fn,
     user, scratch) (fn returning < 0 stops the sink with that code),
     count_items(t, s, k, scratch) (k->count), collect(t, s, k, buf, cap) (0 at
     the end; ASYNC_ELIMIT when cap items are in, nothing read beyond: a stream of
     exactly cap items gives ASYNC_ELIMIT too, so pass cap + 1 to see its end),
     collect_alloc(t, s, k, &buf, limit) (ASYNC_MALLOC'd array that doubles;
     ASYNC_ENOMEM keeps what was collected; ASYNC_FREE it in every case),
     for_each_concurrent(t, b, k, scratch) (b: a buffer_unordered whose fn is the
     work). Error items are counted in k->errors and skipped, or with
     k->stop_on_error = 1 (as futures' try_fold) returned; the stream stays usable.
     Sinks consume every ready item in one poll, spending the cooperative budget:
     a long ready stream still lets other tasks run.
   Cancellation: a next() (or sink) that is cancelled polls the stream in cancel
   mode, which cancels what it waits on, through its upstreams. Cancel safe (a
   next() losing a select loses nothing, the stream goes on): iter, from_fn,
   mpsc, broadcast, interval, map, filter, filter_map, take(_while), skip(_while),
   enumerate, chain, merge, select_all, throttle, timeout, fanout, when their
   upstreams are. Not cancel safe (Tokio's StreamExt::next is): then, buffered,
   buffer_unordered (the calls in flight unwind through their cleanup; their
   items are lost), chunks (the partial batch), zip (a held first half), unfold
   (the step in progress restarts), gen (it unwinds and the stream ends). Run
   such a pipeline in its own task feeding an mpsc, and select on that.
   async_stream_cancel(t, s, item) drops a stream you stop reading early (Rust's
   drop): from inside a task, it polls the chain once in cancel mode, so a
   generator or calls in flight unwind through their cleanup now, and ends it.
   take(3) over an endless generator leaves the generator suspended until then.
   Writing a stream: next(t, st, item) must follow the poll contract: check
   async_task_is_cancelling(t) first (cancel what you wait on, your upstreams too,
   and return ASYNC_ECANCELED), return ASYNC_PENDING only with a wake registered,
   and read upstreams with async_stream_next(t, up, buf) (it keeps them fused).
   A source that is always ready calls async_task_consume_budget(t) per item:
   that is what makes a sink over it yield now and then.

9 I/O AND THREADS (>>io, >>threads)
===================================
   What for: sockets, pipes, signals and child processes awaited like any other
   operation, and blocking calls (files, name lookups, your own) kept off the loop.
   The model: hosted builds only. A descriptor is awaited through an async_io (in your
   storage, zeroed) registered with a runtime's reactor; every operation below
   tries the system call first and waits only when it meets EAGAIN, so a task
   awaits a socket as it awaits a channel. Ops take an async_waiter (zeroed) as
   the sync ops do; while an op runs, w->got holds its progress.
   The reactor (made at the first registration) is poll(2) by default: O(1)
   registration and removal (a dense table: allocated and grown, or fixed in
   desc.io_storage, ZERO ALLOCATION), a descriptor watched only in the
   directions a task waits for. -DASYNC_USE_EPOLL (impl, Linux) selects epoll,
   edge-triggered, each descriptor added once. poll(2) costs grow with every
   descriptor that has a waiter, idle or not: with thousands of mostly idle
   connections choose epoll. Measured here (make bench, bench_echo: server CPU
   per 64-byte echo round trip on loopback): 1 to 1000 busy connections, poll
   8-19 us and epoll 7-19 us, both within 10% of a hand-written epoll server;
   10 busy + 10,000 idle, poll 222-278 us and epoll 8.8-9.0 us.
   BACKENDS (Linux): every backend is compiled, and each runtime chooses at its
   reactor's start: desc.backend (ASYNC_BACKEND_POLL, _EPOLL, _IO_URING) if set, else
   the environment's ASYNC_BACKEND=poll|epoll|io_uring (another value is ignored),
   else the build's (-DASYNC_USE_IO_URING, -DASYNC_USE_EPOLL, else poll). desc wins:
   a program that names its backend gets it; the environment picks for programs that
   do not (the example servers). Tokio has no such choice (mio takes epoll; io_uring is
   another runtime, tokio-uring). io_uring (Linux 5.13+, raw system calls, no
   liburing) watches descriptors as epoll does: a multishot poll per descriptor for
   reading, a one-shot poll for writing armed only while a task waits to write, the
   turn's changes submitted with its wait in one io_uring_enter (no system call at
   all when completions are already there), a descriptor's removal submitted at once
   (the request holds the file until then). On 6.0+ it also does COMPLETION I/O for
   stream sockets (TCP, Unix): a socket that async_io_read finds drained receives
   from then on through a multishot receive into the ring's own buffers (2048 of 1 KB,
   registered at the first use; about 2.6 MB a runtime with the send slots), and a
   read copies from them, no system call; a write of up to 2 KB is copied into one of
   256 send slots and submitted with the turn's enter, and the task waits for its
   completion, which says what was sent as send(2) would (larger writes, and writes
   when no slot is free, are send(2)). An echo round trip then makes no read or write
   system call: one io_uring_enter a turn serves every connection. The buffers
   belong to the ring, never to a frame: a read cancelled loses nothing (what arrives
   stays for the next read), and nothing is received into freed memory. A socket holds
   at most a few buffers unread (its receive is cancelled until it is read); when
   they run out, or the kernel refuses (before 6.0), a socket goes back to its poll
   and read(2), nothing lost. What differs from readiness, and from Tokio, whose reads
   and writes are readiness: the kernel receives ahead, so a socket read with
   async_io_read is read only so (a recv(2) of your own would find the bytes gone;
   async_io_wait_ready says when bytes are held); async_io_deregister drops bytes
   received and not read (read them out first); such a write never completes within
   the call (ASYNC_PENDING, then its result at the next turn); a write cancelled in
   flight may still be sent, whole (its copy is the ring's), where Tokio's, cancelled,
   wrote nothing. A listener async_sock_accept finds drained accepts through a
   multishot accept from then on (5.19+): each connection arrives accepted, in a
   completion, with no accept4(2) (the peer's address, when asked for, costs a
   getpeername(2); an accept4(2) of your own on that listener would find them gone,
   as a recv(2) after async_io_read). The descriptors belong to the ring until
   taken: a cancelled accept loses no connection; a listener holds a few at most
   (its accept is then cancelled until taken from: the rest waits in the backlog, as
   it would), and async_io_deregister closes those not taken, as closing a listener
   resets its backlog. Tokio accepts through readiness: the connections its listener
   has not accepted wait in the kernel. Timers never go through the ring (no
   IORING_OP_TIMEOUT): the next deadline is the enter's own timeout, with no entry
   or completion per timer. A TCP connect goes through the ring too (IORING_OP_CONNECT,
   its address in a send slot): its completion is the result, with no connect(2), no
   poll and no SO_ERROR (a Unix socket's connect is at once: connect(2)); cancelled, it
   closes the socket and its request as readiness does. async_runtime_dump shows
   "completion I/O: N buffers held, M sends in flight" (connects among them) and
   "K connections accepted, not taken". On 6.1+
   DEFER_TASKRUN (completions made in one batch when the loop enters), whose ring
   takes only the thread that made it: a loop run by another thread than the one
   that started the reactor makes its own ring, once, watches every descriptor
   again and does no completion I/O after (bytes held are read
   first; sends in flight are made again). The kernel refusing it (io_uring_setup:
   ENOSYS, EPERM from seccomp or kernel.io_uring_disabled, EINVAL; or a kernel
   without multishot poll) makes that runtime take epoll: async_runtime_io_backend
   says "epoll" and async_runtime_dump "io: epoll (io_uring refused: ...)". Running
   out of descriptors or memory is no refusal: the registration fails. As epoll,
   io_uring accepts regular files (always ready). Other systems have one backend,
   chosen when compiling (desc.backend is accepted and ignored). Measured: README,
   "Backends side by side" (tests/bench/bench_backends.sh). A loop turn waits
   for I/O no longer than the next timer and wakes exactly the tasks whose
   descriptors became ready; a busy runtime still looks at I/O (without waiting)
   every turn of event_interval polls. Every completed operation spends budget, so
   a socket that is always readable cannot starve other tasks.
     async_io_register(rt, io, fd)       make fd non-blocking and watch it; EBUSY if
                                         io is registered; epoll refuses regular
                                         files (EPERM): use the blocking pool (poll
                                         and io_uring accept them: always ready)
     async_io_deregister(io)             stop watching; returns fd, still open, in
                                         the blocking mode it had; tasks waiting on
                                         it get ASYNC_ECLOSED
     async_io_close(io)                  deregister and close; a zeroed or closed io:
                                         nothing to do (0), so cleanup can call it
     async_io_move(dst, src)             dst (zeroed or closed) takes over src,
                                         registration included; src is left closed.
                                         EBUSY while a task waits on src. So an
                                         acceptor can accept into its own frame and
                                         hand the connection to a task it spawns
     async_io_fd(io), async_runtime_io_backend(rt) ("poll", "epoll", "io_uring";
                                         before the first registration: the one
                                         the runtime would choose)
     async_io_read(t, io, w, buf, len)   op: bytes read (> 0), 0 at end of file
     async_io_write(t, io, w, buf, len)  op: bytes written (maybe fewer than len)
     async_io_read_exact(t, io, w, buf, len)   op: len, or ASYNC_EEOF if the peer
                                         closed first (the bytes read are then lost)
     async_io_write_all(t, io, w, buf, len)    op: len, partial writes completed
     async_io_read_to_end(t, io, w, buf, cap)  op: read to the end of file: the
                                         length; ASYNC_ELIMIT if more than cap comes
                                         (the cap bytes read are in buf); not cancel
                                         safe (read_to_end on take(cap))
     async_io_read_to_string(t, io, w, buf, cap)   the same, NUL-terminated (cap
                                         counts the NUL) and valid UTF-8, or -EILSEQ
     async_io_wait_ready(t, io, w, dir)  op: wait for ASYNC_IO_READ or _WRITE
                                         readiness, for a system call of your own;
                                         when it says EAGAIN, async_io_clear_ready
                                         (io, dir) and wait again
     async_io_shutdown(io, how)          ASYNC_IO_READ, _WRITE (half-close: the peer
                                         reads EOF, we can still read) or _BOTH
     async_io_pipe(rt, rd, wr)           a pipe, both ends registered. For stdin or
                                         stdout, register fd 0 or 1 (it becomes
                                         non-blocking for every process sharing it
                                         until deregistered)
   Addresses: async_addr holds an IPv4, IPv6 or Unix address as bytes (this header
   includes no system header); async_addr_sockaddr(a) is its struct sockaddr *.
     async_addr_parse(a, "127.0.0.1:80" | "[::1]:80" | "unix:/path")  numeric
                                         only (name lookup goes through the pool)
     async_addr_init_unix(a, path), async_addr_port(a), async_addr_family(a)
                                         (AF_INET, AF_INET6, AF_UNIX)
     async_addr_format(a, buf, size)     "1.2.3.4:80", "[::1]:80", "unix:/path";
                                         ASYNC_ELIMIT if cut short
   Sockets (TCP over IPv4 or IPv6, or Unix stream sockets: the address decides):
     async_sock_listen(rt, io, addr, opts)   bind and listen; opts may be NULL:
                                         backlog 1024, SO_REUSEADDR (TCP), optional
                                         reuseport, v6only, unlink (a stale Unix
                                         socket file); port 0: the kernel picks one,
                                         async_sock_local_addr tells which
     async_sock_accept(t, lis, w, conn, &peer)  op: conn (zeroed or closed) is the
                                         new connection, registered; peer may be
                                         NULL. EMFILE/ENFILE are returned: sleep a
                                         little before accepting again (the listener
                                         stays ready, so retrying at once spins)
     async_sock_connect(t, io, w, addr)  op: makes the socket and connects without
                                         blocking; a refusal (-ECONNREFUSED) or a
                                         cancel closes it again; io closed by another
                                         meanwhile: ECLOSED
     async_sock_local_addr(io, a), async_sock_peer_addr(io, a),
     async_sock_set_nodelay(io, on), async_sock_set_keepalive(io, on),
     async_sock_take_error(io)           SO_ERROR: 0 or -errno
   UDP: async_udp_bind(rt, io, addr) (port 0 for a client),
     async_udp_send_to(t, io, w, buf, len, to), async_udp_recv_from(t, io, w, buf,
     len, &from) (a longer datagram is cut to len, as recvfrom), and after
     async_udp_connect(io, addr) plain async_io_write / async_io_read.
   Errors are -errno, named by async_strerror: -ECONNREFUSED, -ECONNRESET,
   -EPIPE, -EADDRINUSE, -ENOTCONN, -EMFILE... EINTR is retried inside. SIGPIPE
   never kills the process: sockets are written with MSG_NOSIGNAL (macOS: they have
   SO_NOSIGPIPE), and the first registration sets SIGPIPE to ignored if it was at
   its default (a handler of yours stays). Cancellation (abort, timeout, select)
   unlinks the waiter at once; read and write are cancel safe (nothing was
   transferred), read_exact and write_all are not (bytes already moved stay
   moved), connect closes its socket, accept loses no connection.
   The paused clock with auto-advance looks at I/O (without waiting) before it
   jumps to the next timer, as Tokio: a reply already on its way over loopback
   is seen first, one that needs real time is not waited for.
   Destroying the runtime ends every task (their cleanup can close their
   sockets) and detaches descriptors left registered: async_io_close then
   only closes them.

   Buffered reading and writing (tokio::io::BufReader / BufWriter), in your
   buffer; the bytes an op has moved so far are in w->got while it waits:
     async_bufreader_init(r, io, buf, cap)
     async_bufreader_read(t, r, w, out, len)    op: from the buffer first; a read
                                         of cap bytes or more into an empty buffer
                                         goes straight to the descriptor
     async_bufreader_read_until(t, r, w, delim, out, cap)  op: up to and including
                                         delim; at end of file the rest (no delim),
                                         then 0; ASYNC_ELIMIT when cap bytes came
                                         without delim (they are in out, consumed)
     async_bufreader_read_line(t, r, w, line, cap)  op: read_until '\n', NUL-
                                         terminated: a line of at most cap - 1
                                         bytes, else ASYNC_ELIMIT with its start
     async_bufreader_fill(t, r, w)       op: bytes buffered (reading if none), 0
                                         at end of file; async_bufreader_data(r,
                                         &len) shows them, _consume(r, n) drops n
     async_bufreader_fill_more(t, r, w)  op: read more behind what is buffered (a
                                         parser that needs more): new bytes, 0 at
                                         end of file, ASYNC_ELIMIT if full
     async_bufwriter_init(wr, io, buf, cap)
     async_bufwriter_write(t, wr, w, data, len)  op: len; copies into the buffer,
                                         flushing first when it does not fit;
                                         cap bytes or more go straight out
     async_bufwriter_flush(t, wr, w)     op: 0 once all is written; cancel safe
   read_until and read_line are not cancel safe (bytes moved into out are lost
   to the next call), as Tokio's; fill, read and flush are.
   Signals (tokio::signal): a subscription counts deliveries from its init on.
     async_signal_init(s, rt, signo)     SIGINT (ctrl-c), SIGTERM, SIGHUP, any
                                         signal but SIGKILL/SIGSTOP and the fault
                                         signals (SEGV, BUS, FPE, ILL: EINVAL);
                                         up to 1024 subscriptions per process
     async_signal_recv(t, s)             op: the signal number, once delivered
                                         since the last recv; several deliveries
                                         in between count as one (as Tokio)
     async_signal_destroy(s)             EBUSY while a task waits on it
   The first subscription to a signal installs one process-wide handler; it
   chains to the handler that was there before (so another user of the signal
   still sees it) and the last destroy puts that handler back. While subscribed,
   the signal's default action (e.g. ending the process on SIGINT) does not run.
   The handler only counts and wakes (async-signal-safe); any thread may get it.
   Child processes (tokio::process):
     async_child_spawn(rt, c, file, argv, opts)   fork and exec file (looked up on
                                         PATH unless it has a '/') with argv; opts
                                         may be NULL (inherit stdin/out/err, the
                                         environment and the directory): .in, .out,
                                         .err = ASYNC_STDIO_PIPE (c->in, c->out,
                                         c->err are our registered ends),
                                         _NULL (/dev/null) or _INHERIT; .env (a
                                         NULL-terminated "K=V" array), .cwd,
                                         .kill_on_destroy. A failed exec or chdir
                                         is returned (-ENOENT, -EACCES...), with
                                         nothing left open or running. The child
                                         gets an empty signal mask and SIGPIPE at
                                         its default.
     async_child_wait(t, c)              op: 0 once it has exited: c->exit_code
                                         (0..255, or -1), c->term_signal (or 0);
                                         cancel safe: the child runs on
     async_child_try_wait(c)             1 exited, 0 running
     async_child_kill(c, signo)          ESTATE once reaped (its pid may be reused)
     async_child_destroy(c)              closes our pipe ends; a child still
                                         running is killed if kill_on_destroy, and
                                         either way reaped when it exits (a SIGCHLD
                                         handler stays installed for that): no
                                         zombies. A process that sets SIGCHLD to
                                         SIG_IGN gets -ECHILD from the wait.
   Threads (hosted; -DASYNC_NO_THREADS drops them; link with -pthread). A
   runtime is single-threaded: other threads reach it only through a waker
   (async_waker_wake), the blocking pool and the inbox, all of which wake it
   through its wake descriptor (an eventfd, or a pipe).
     async_pool_init(p, rt, desc)        desc may be NULL: up to 64 threads, an
                                         idle thread exits after 10 s; threads
                                         start on demand; desc.storage: nothing
                                         allocated (ZERO ALLOCATION)
     async_pool_spawn(t, p, job, fn, arg)      op: run int fn(void *arg) on the
                                         pool (job: an async_blocking in the frame,
                                         zeroed); returns fn's result. Cancelled
                                         (abort, timeout, select) before it started,
                                         the call is unqueued and never runs; while
                                         it runs, it runs to its end and its result
                                         is dropped: arg must stay valid until fn
                                         returns (Tokio cannot abort one either)
     job.dropped                         optional void (*)(void *arg): called once
                                         when a cancel drops the call (on the
                                         loop's thread if it had not run or had
                                         ended, on the pool's thread after fn
                                         returns if it was running): free arg there
   On the pool (each copies its inputs, so a cancel leaves the thread nothing of
   yours: the request is freed by whoever lets go of it last):
     async_pool_resolve(t, p, op, host, service, out, max) op: getaddrinfo; up to max
                                         addresses (TCP) into out, their count;
                                         ASYNC_ENOTFOUND (no such name or service),
                                         ASYNC_EAGAIN (try later); op: an
                                         async_resolve_op in the frame, zeroed
     async_file_open(t, p, op, path, flags, mode)   op: the descriptor (O_CLOEXEC
                                         added); opened after a cancel: closed
     async_file_read(t, p, op, fd, buf, len, offset)   op: pread (offset >= 0) or
     async_file_write(t, p, op, fd, buf, len, offset)  read/write at the position
                                         (offset < 0); at most 2 MB per call, as
                                         Tokio's File; op: an async_file_op, zeroed
     Whole files (tokio::fs), each op on the pool with an async_file_op, errors as
     -errno; the path and the data are copied into the request, so a cancel leaves
     the pool thread nothing of the frame's to touch:
       async_file_read_all(t, p, op, path, buf, cap)   the file's length, its bytes
                                         in buf; ASYNC_ELIMIT if it holds more than
                                         cap (fs::read with a limit: C has no Vec)
       async_file_read_string(t, p, op, path, buf, cap)   NUL-terminated (cap counts
                                         the NUL), valid UTF-8 or -EILSEQ
       async_file_write_all(t, p, op, path, data, len)  created or truncated (0666
                                         less the umask), written, closed: 0
       async_file_stat(t, p, op, path, &meta)   size, modified_ns (since the epoch;
                                         whole seconds off Linux), mode, is_file,
                                         is_dir (links followed)
       async_file_sync(t, p, op, fd, data_only)  fsync, or fdatasync (sync_all,
                                         sync_data; fsync where fdatasync is not)
       async_file_mkdir(t, p, op, path, mode, all)  all: the parents too, and an
                                         existing directory is no error
       async_file_remove(t, p, op, path), async_file_remove_dir(...)  unlink, rmdir
     async_pool_threads(p)               threads alive now
     async_pool_destroy(p)               queued calls end with ASYNC_ECANCELED,
                                         running ones are waited for, threads
                                         joined. From the loop's thread, outside
                                         its tasks; before or after the runtime's
                                         destroy
     async_inbox_init(q, rt, item_size, cap)   a bounded queue (allocated) that
                                         any thread sends into and one task reads;
                                         _init_storage(..., storage, size): in yours
     async_inbox_send(q, item)           Context: any thread but the loop's: blocks
                                         while full; ASYNC_ECLOSED once closed
     async_inbox_try_send(q, item)       Context: anywhere: ASYNC_EAGAIN when full
     async_inbox_recv(t, q, item)        op: items in sending order per thread;
                                         ASYNC_ECLOSED once closed and drained
     async_inbox_close(q), async_inbox_destroy(q) (ASYNC_EBUSY while a task waits)
   One echo round trip over loopback, then a call on the blocking pool:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>
    #include <string.h>

    // One echo round trip over loopback: a server task accepts one connection and
    // echoes what it reads until the peer closes; the client writes, reads back.
    typedef struct {
        async_task task;
        async_io *lis, conn;
        async_waiter w;
        char buf[64];
        int n;
    } server;

    static int serve(async_task *t) {
        server *f = (server *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_sock_accept(t, f->lis, &f->w, &f->conn, NULL));
        if (rc < 0) ASYNC_RETURN(rc);
        for (;;) {
            ASYNC_AWAIT(f->n, async_io_read(t, &f->conn, &f->w, f->buf, sizeof f->buf));
            if (f->n <= 0) break;            // 0: the peer closed; < 0: an error
            ASYNC_AWAIT(rc, async_io_write_all(t, &f->conn, &f->w, f->buf, (size_t)f->n));
            if (rc < 0) break;
        }
        ASYNC_CLEANUP();
        async_io_close(&f->conn);            // a zeroed or closed io: nothing to do
        ASYNC_END(f->n);
    }

    typedef struct {
        async_task task;
        async_addr addr;
        async_io sock;
        async_waiter w;
        char reply[5];
    } client;

    static int call(async_task *t) {
        client *f = (client *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_sock_connect(t, &f->sock, &f->w, &f->addr));
        if (rc < 0) ASYNC_RETURN(rc);
        ASYNC_AWAIT(rc, async_io_write_all(t, &f->sock, &f->w, "ping", 4));
        if (rc >= 0) ASYNC_AWAIT(rc, async_io_read_exact(t, &f->sock, &f->w, f->reply, 4));
        ASYNC_RETURN(rc);
        ASYNC_CLEANUP();
        async_io_close(&f->sock);            // the server reads 0 and ends
        ASYNC_END(0);
    }

    int main(void) {
        static async_runtime rt;
        static async_io lis;
        static server s;
        static client c;
        async_addr any;
        char where[64];
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        async_addr_parse(&any, "127.0.0.1:0");               // port 0: the kernel picks
        if (async_sock_listen(&rt, &lis, &any, NULL) < 0) return 1;
        async_sock_local_addr(&lis, &c.addr);
        async_addr_format(&c.addr, where, sizeof where);
        s.lis = &lis;
        async_task_spawn(&rt, &s.task, serve, "server");
        async_task_spawn(&rt, &c.task, call, "client");
        async_runtime_run(&rt);
        printf("%s echoed \"%s\"\n", where, c.reply);
        async_io_close(&lis);
        async_runtime_destroy(&rt);
        return strcmp(c.reply, "ping") == 0 ? 0 : 1;
    }
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    // A call that would stall the loop runs on the blocking pool.
    static int slow_sum(void *arg) {
        int n = *(int *)arg, i, sum = 0;
        for (i = 1; i <= n; i++) sum += i;
        return sum;
    }

    typedef struct {
        async_task task;
        async_pool *pool;
        async_blocking job;                  // zeroed, in the frame
        int n;
    } frame;

    static int run(async_task *t) {
        frame *f = (frame *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_pool_spawn(t, f->pool, &f->job, slow_sum, &f->n));
        printf("sum 1..%d = %d\n", f->n, rc);
        ASYNC_END(rc == 5050 ? 0 : 1);
    }

    int main(void) {
        static async_runtime rt;
        static async_pool pool;
        static frame f;
        int rc;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        if (async_pool_init(&pool, &rt, NULL) < 0) return 1;
        f.pool = &pool;
        f.n = 100;
        rc = async_runtime_block_on(&rt, &f.task, run, "main");
        async_pool_destroy(&pool);           // from the loop's thread, outside its tasks
        async_runtime_destroy(&rt);
        return rc;
    }
   Traps: a descriptor registered with one runtime belongs to it (hand it to
   another with async_io_move, never share it); close what you registered in
   ASYNC_CLEANUP, so an abort does not leak it; read_exact, write_all,
   read_until and read_line are not cancel safe (a timeout around them loses
   the bytes already moved); a blocking call on the loop's thread stalls every
   task: use the pool; EMFILE from accept needs a pause before the next accept.

10 SHUTDOWN (>>shutdown)
========================
   What for: a server that stops cleanly on ctrl-c or SIGTERM: stop taking work,
   let what runs finish for a while, cancel the rest, stop the pool.
   The model: one async_shutdown and one task that awaits async_shutdown_run;
   the server's tasks live in a JoinSet and watch a root CancellationToken
   (hosted builds).
     async_shutdown_init(sd, rt, root, tasks, pool, grace)  subscribes to SIGINT
                                         and SIGTERM; root (a CancellationToken),
                                         tasks (a JoinSet) and pool may be NULL
     async_shutdown_run(t, sd)           op: waits for SIGINT, SIGTERM or
                                         async_shutdown_request(sd); cancels root;
                                         lets the JoinSet's tasks finish until
                                         grace has passed (ASYNC_TIME_NEVER: wait
                                         for them all); aborts the rest (telling
                                         sd->on_abort(task, sd->user) of each) and
                                         waits for them to unwind; stops the pool.
                                         Returns how many were aborted; sd->signo
                                         says what started it (0: a request),
                                         sd->drained how many ended in time
     async_shutdown_request(sd), async_shutdown_destroy(sd) (EBUSY while run
                                         waits or drains)
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    static async_cancel_token root;

    // A polite worker stops when the root token is cancelled; a stubborn one does not.
    typedef struct { async_task task; async_waiter w; async_timer timer; } worker;

    static int polite(async_task *t) {
        worker *f = (worker *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_cancel_token_wait(t, &root, &f->w));
        ASYNC_END(rc);
    }

    static int stubborn(async_task *t) {
        worker *f = (worker *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(60)));
        ASYNC_END(rc);
    }

    typedef struct { async_task task; async_shutdown *sd; int aborted; } stopper;

    static int stop(async_task *t) {
        stopper *f = (stopper *)t;
        ASYNC_BEGIN(t);
        async_shutdown_request(f->sd);      // as if SIGTERM had come
        ASYNC_AWAIT(f->aborted, async_shutdown_run(t, f->sd));
        printf("%d drained, %d aborted\n", f->sd->drained, f->aborted);   // 1 drained, 1 aborted
        ASYNC_END(0);
    }

    int main(void) {
        static async_runtime rt;
        static async_joinset tasks;
        static async_shutdown sd;
        static worker a, b;
        static stopper s;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        async_joinset_init(&tasks, &rt);
        async_joinset_spawn(&tasks, &a.task, polite, "polite");
        async_joinset_spawn(&tasks, &b.task, stubborn, "stubborn");
        if (async_shutdown_init(&sd, &rt, &root, &tasks, NULL, ASYNC_MS(50)) < 0) return 1;
        s.sd = &sd;
        async_task_spawn(&rt, &s.task, stop, "shutdown");
        async_runtime_run(&rt);
        async_shutdown_destroy(&sd);
        async_joinset_destroy(&tasks);
        async_runtime_destroy(&rt);
        return sd.drained == 1 && s.aborted == 1 ? 0 : 1;
    }
   Traps: a task that ignores the root token is aborted at the end of the grace
   period, so its cleanup section must release what it holds; spawn the server's
   connections into the JoinSet, or the shutdown cannot wait for them.

11 MULTI-CORE (>>group)
=======================
   What for: using every core: a server sharded over N threads, jobs spread over
   them, results and messages passed between them (Tokio's multi-thread runtime).
   The model: thread-per-core (as Seastar, Glommio, monoio). A group is N runtimes,
   one thread each, each with its own run queue, timers and reactor. They share
   nothing but shared objects: channels made with _init_shared, and join handles. A
   task never moves: it runs on the runtime it was spawned on, to its end. No work
   stealing: load is spread by the kernel (one SO_REUSEPORT listener per runtime),
   or by you (async_group_spawn onto the least loaded runtime). (hosted builds with
   threads; the freestanding profile and ASYNC_NO_THREADS have no group.)
     async_group_init(g, desc)           desc->threads runtimes (0: one per core),
                                         desc->pin (thread i on core i, Linux;
                                         elsewhere a no-op),
                                         desc->runtime (every runtime's desc),
                                         desc->on_start(rt, user): run on each
                                         runtime's thread before its loop, to spawn
                                         that shard's tasks (< 0 stops the group),
                                         desc->spin_us: an idle runtime whose tasks
                                         wait on other threads only spins this long
                                         before it sleeps (0: 50 us; -1: never). A
                                         round trip between runtimes then costs
                                         0.7-2.4 us, not two thread wake-ups (35-70
                                         us here), for CPU spent idle; a one-way
                                         stream batches better without it (with
                                         recv_many: 60-170 ns per item at -1,
                                         83-280 with the spin)
     async_group_block_on(g, t, fn, name)  runtime 0 runs on this thread, the
                                         others on new ones; t runs on runtime 0.
                                         When t ends the group stops and its
                                         threads are joined: t's result
     async_group_start(g)                or every runtime on a new thread; then
     async_group_stop(g)                 (Context: anywhere) every loop ends at its
                                         next turn, and async_group_join(g) waits
                                         for the threads
     async_group_destroy(g)              stop, join, destroy each runtime (what is
                                         left is cancelled, its cleanup runs), free
     async_group_size(g), async_group_runtime(g, i), async_runtime_group(rt),
     async_runtime_index(rt)             a task's own: async_task_runtime(t)
     async_group_spawn(g, i, h, t, fn, name)   Context: any thread. t (a zeroed
                                         frame of yours) runs fn on runtime i, or
                                         on the least loaded (ASYNC_GROUP_ANY: fewest
                                         tasks alive; ties in turn). You own the
                                         frame and h: both stay valid until the task
                                         has ended. ASYNC_ECLOSED once stopped
     async_join_handle_wait(t, h, w)     op, from any runtime: the task's result,
                                         ASYNC_ECANCELED if it was aborted
     async_join_handle_abort(h)          Context: any thread; the task is cancelled
                                         at its next poll on its runtime (cleanup)
     async_join_handle_is_finished(h)
     async_group_pick(g)                 the least loaded runtime's index now
     async_group_stats(g, out), async_group_dump(g, write, user)   every runtime
   Shared objects: async_mpsc_init_shared, async_oneshot_init_shared and
   async_broadcast_init_shared make the channels of section 6, with the same
   functions and semantics (FIFO senders, close rules, cancel safety: an aborted
   send loses only its own item), usable by tasks of any runtime and, for the
   operations that never wait (try_send, try_recv, close, sender_release...), by
   any thread. Each operation runs under the object's lock (tens of instructions);
   a wake that crosses threads goes through the woken runtime's remote list and
   wake descriptor: never lost, and a parked runtime sleeps in its reactor until
   then. They also work between runtimes that are not in a group.
   Which to use:
     sharded listeners   servers: every runtime listens on the same port with
                         async_listen_opts.reuseport = 1 from its on_start; no
                         traffic between threads per request. Where reuseport is
                         missing, or for an even spread: one acceptor, and per
                         connection fd = async_io_deregister(&conn), then
                         async_group_spawn(g, ASYNC_GROUP_ANY, ...) a task that
                         registers fd on its own runtime (a registration belongs to
                         one reactor: async_io_move does not cross runtimes)
     async_group_spawn   a job that should run elsewhere; its result through the
                         handle, or a shared oneshot
     shared channels     streams of work or messages between long-lived tasks on
                         different runtimes (a shared broadcast: fan-out to every
                         shard)
   Thread-safe: the shared objects, async_group_spawn/stop/pick/stats/dump, the join
   handle, async_waker_wake, the inbox and the pool. Everything else belongs to one
   runtime: a local channel, mutex, notify, timer or async_io must be used only by
   tasks of the runtime that uses it first (async.h does not check it).
   Signals and shutdown: several runtimes may subscribe to the same signal; give each
   runtime its own async_shutdown (its root token, its JoinSet): a SIGTERM then
   drains every shard by the same grace; the main task on runtime 0 awaits its own,
   and its end stops the group (block_on returns, destroy cancels what is left).
   A job on runtime 1, its progress through a shared channel, its result by handle:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    static async_group group;
    static async_mpsc progress;             // shared: runtime 1 sends, runtime 0 reads

    typedef struct { async_task task; async_waiter w; int i; } job;

    static int count(async_task *t) {       // runs on runtime 1
        job *f = (job *)t;
        int rc;
        ASYNC_BEGIN(t);
        for (f->i = 1; f->i <= 3; f->i++)
            ASYNC_AWAIT(rc, async_mpsc_send(t, &progress, &f->w, &f->i));
        async_mpsc_sender_release(&progress);
        ASYNC_END(async_runtime_index(async_task_runtime(t)) * 100 + 42);
    }

    typedef struct { async_task task; async_waiter w; async_join_handle h; job j; int n; } boss;

    static int run(async_task *t) {         // runs on runtime 0
        boss *f = (boss *)t;
        int rc;
        ASYNC_BEGIN(t);
        rc = async_group_spawn(&group, 1, &f->h, &f->j.task, count, "count");
        if (rc < 0) ASYNC_RETURN(rc);
        for (;;) {
            ASYNC_AWAIT(rc, async_mpsc_recv(t, &progress, &f->w, &f->n));
            if (rc < 0) break;              // ASYNC_ECLOSED: the job released its sender
            printf("step %d\n", f->n);
        }
        ASYNC_AWAIT(rc, async_join_handle_wait(t, &f->h, &f->w));
        printf("result %d\n", rc);          // 142: 42 from runtime 1
        ASYNC_END(rc == 142 ? 0 : 1);
    }

    int main(void) {
        static boss b;
        async_group_desc d = {0};
        int rc;
        d.threads = 2;
        if (async_group_init(&group, &d) < 0) return 1;
        if (async_mpsc_init_shared(&progress, sizeof(int), 1, NULL) < 0) return 1;
        rc = async_group_block_on(&group, &b.task, run, "boss");
        async_group_destroy(&group);
        async_mpsc_destroy(&progress);
        return rc;
    }
   Traps: a local object touched by two runtimes is a data race, not an error code;
   make it shared or keep it on one runtime. A task's frame and its join handle must
   outlive the task (the runtime it runs on writes them until it ends). An fd
   accepted on one runtime must be deregistered before another registers it.
   Differences from Tokio: tasks never migrate (no work stealing), so a runtime that
   holds a hot shard stays hot; spawn_blocking's pool (section 9) is per runtime.

12 DEBUGGING (>>debug)
======================
   What for: finding the task that hangs, and the one that hogs the loop, in a
   program of thousands of tasks; shaking a program with faults it must survive.
   The model: every task has a name and, while suspended, the site of its await
   (file, line, the awaited expression as written); async_runtime_dump prints them all,
   as a task dump of a hung server. Counters (async_runtime_stats) and a slow-poll
   warning are built in; ASYNC_NO_DEBUG compiles the layer out.
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>
    #include <string.h>

    typedef struct { async_task task; async_notify n; async_waiter w; } stuck;

    static int wait_forever(async_task *t) {
        stuck *f = (stuck *)t;
        int rc;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(rc, async_notify_wait(t, &f->n, &f->w));   // nobody notifies
        ASYNC_END(rc);
    }

    static char text[1024];
    static void collect(void *user, const char *line) {
        (void)user;
        strncat(text, line, sizeof text - strlen(text) - 1);
    }

    int main(void) {
        static async_runtime rt;
        static stuck s;
        int blocked;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        async_task_spawn(&rt, &s.task, wait_forever, "stuck");
        blocked = async_runtime_run(&rt);    // 1: one task can never finish
        async_runtime_dump(&rt, collect, NULL); // name, state, file:line, awaited expression
        fputs(text, stdout);
        async_runtime_destroy(&rt);          // cancels it: its wait is unlinked
        return blocked == 1 && strstr(text, "stuck") && strstr(text, "async_notify_wait") ? 0 : 1;
    }
   Traps: async_runtime_run returning nonzero is the cue to dump; the dump
   shows where a task waits, not who should wake it; ASYNC_NO_SITES (the
   freestanding default) leaves only the resume line.
     async_runtime_dump(rt, write, user) every live task: name, state, file:line where
                                   it is suspended and what it awaits there (the
                                   text of the awaited expression); write NULL
                                   means stderr on hosted builds
     desc.slow_poll                warn through desc.log when one poll runs longer
                                   (names the task and where it stopped)
   Each await records a static site {file, line, expression}; define
   ASYNC_NO_SITES to drop them (the dump then shows the resume line only in the
   switch form).

   Metrics (tokio-metrics' RuntimeMonitor): async_runtime_metrics(rt, &m) fills an
   async_metrics: the counters, loop turns, parks (turns that waited) and the time
   parked against the time since init (busy is the rest), the tasks alive and queued
   (and the most queued at a turn's start), timers armed, descriptors registered and
   waited on. These are always kept: one clock reading per park (+74 instructions on
   a socket round trip of ~1450, nothing on W1: make bench-icount). With desc.metrics
   every poll is timed too (two clock readings a poll: W1 goes from 78 to 203
   instructions a switch, 12 to 79 ns): histograms of poll durations and of the
   delay from the turn's start to the poll (the wake-ups of a turn are collected at
   its start: Tokio's scheduled-to-polled delay, measured from there), buckets below
   1 us, 4 us, 16 us ... 1 s and one for longer, and the longest of each.
   async_metrics_print(&m, write, user) prints it all, histograms as bars. Per
   runtime: a group's runtimes each have theirs. ASYNC_NO_DEBUG compiles the turns,
   parks, idle time and histograms out with the rest of this layer (the counters and
   gauges stay; desc.metrics is then refused with ASYNC_EINVAL). Differences from tokio-metrics:
   no per-task poll counts (the 64-byte task header has no room: polls / spawned is
   the mean), and no steal or injection counts (thread-per-core: nothing is stolen).

   Tests (Tokio's #[tokio::test]): async_test_run(fn, frame_size, name, desc), or
   ASYNC_TEST_RUN(fn, frame_type), runs fn as a task in a zeroed frame on a fresh
   runtime and destroys it after. desc NULL: the paused clock, auto-advancing (a test
   of a 60 s timeout takes no time; Tokio's default is the real clock, with
   start_paused = true as the option). It returns 0 when the body returned 0 and left
   nothing behind, else the body's own result, ASYNC_EDEADLK when it hung (nothing
   could run, no timer fire, no waker or descriptor wake it), or ASYNC_EBUSY when it
   left tasks alive (neither joined nor aborted), ended allocated tasks nobody joined,
   timers or wakers armed, or descriptors registered: stricter than Tokio, whose test
   runtime drops such tasks silently. What went wrong goes to desc->log (stderr),
   with the dump of what is left, so the hang names the line that waits:
   [program]
    #define ASYNC_IMPLEMENTATION
    #include "async.h"

    typedef struct { async_task task; async_timer timer; async_time t0; } my_test;

    static int test_sleep_is_exact(async_task *t) {
        my_test *f = (my_test *)t;
        int rc;
        ASYNC_BEGIN(t);
        f->t0 = async_time_now(t->rt);
        ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_SEC(60)));  // no time at all
        if (rc != 0 || async_time_now(t->rt) - f->t0 != ASYNC_SEC(60)) ASYNC_RETURN(1);
        ASYNC_END(0);
    }

    int main(void) {
        return ASYNC_TEST_RUN(test_sleep_is_exact, my_test) == 0 ? 0 : 1;
    }
   A waiter left queued by a task that ended (a notify_enable never awaited) is not
   seen: nothing lists the waiters; ASan sees the frame freed under it.

   Fault injection (define ASYNC_FAULT_INJECTION in the implementation file; a
   normal build has none of it and pays nothing). The world a runtime depends on
   goes through points a test can perturb:
     async_faults_set(&f)          hooks (NULL: none), any of them NULL:
       f.clock(user, rt, now)      at every reading of a runtime's clock (paused or
                                   not): return how far it jumps forward first
       f.alloc(user, size)         at every allocation: nonzero fails it
       f.sys(user, call, fd, &len) before every system call site of the reactor and
                                   the I/O layer (call: ASYNC_SYS_READ, _WRITE,
                                   _ACCEPT, _CONNECT, _SOCKET, _WAIT...): 0 makes
                                   the call (after lowering len: a short transfer),
                                   -errno fails it without making it
       f.event(user, rt, what, a, b)  ASYNC_FAULT_TIMER_FIRED (deadline, clock then)
                                   and ASYNC_FAULT_STUCK (a run or block_on ended
                                   with tasks that can never finish)
       f.preempt(user)             at every step where threads meet (wakes from
                                   elsewhere, the pool's and the inbox's locks)
     async_sys_faults(call, &n)    what the kernel can make go wrong at a call
                                   (-EINTR, -EAGAIN where readiness said ready
                                   (level-triggered backends only), ASYNC_FAULT_SHORT,
                                   -ECONNRESET, -EPIPE, -EMFILE, -ENOMEM...)
     async_sys_name(call)
   Without hooks of its own, such a program reads ASYNC_FAULTS="sys=N,alloc=M,
   seed=S" from its environment at its first async_runtime_init: one system call
   in N and one allocation in M fail, decided by the seed (shake a server with it:
   it must answer or close cleanly, never spin, never leak a descriptor). The
   library's own suites run every test this way (tests/faults.h): the clock jumping
   at each of its readings, each allocation failing, each system call faulting.
   Any decision taken on one clock reading stays correct if the clock moves before
   the next line runs.

13 EMBEDDING (>>embed)
======================
   What for: a program that already has an event loop (GLib, libuv, Qt, a game loop)
   runs an async.h runtime inside it, with no busy polling and no helper thread, as
   libuv lets another loop drive it through uv_backend_fd and uv_backend_timeout.
   The model: the runtime hands the host two things: a descriptor to watch for
   readability, async_runtime_backend_fd (readable: the runtime may have work: I/O
   ready, or a wake from elsewhere: an async_waker, a shared channel, a signal, a
   completion of the blocking pool), and how long the host may sleep,
   async_runtime_backend_timeout (0: work is ready; the time to the next timer;
   ASYNC_TIME_NEVER). When either fires, the host calls async_runtime_step(rt, 0), one
   turn that never waits, then asks the timeout again. The loop shape, with poll(2)
   as the host:
   [program]
    #define _POSIX_C_SOURCE 200809L
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <poll.h>
    #include <stdio.h>

    typedef struct { async_task task; async_timer timer; int i; } ticker;

    static int ticker_run(async_task *t) {
        ticker *f = (ticker *)t;
        int rc;
        ASYNC_BEGIN(t);
        for (f->i = 1; f->i <= 3; f->i++) {
            ASYNC_AWAIT(rc, async_time_sleep(t, &f->timer, ASYNC_MS(10)));
            if (rc < 0) ASYNC_RETURN(rc);
        }
        ASYNC_END(0);
    }

    int main(void) {
        static async_runtime rt;
        static ticker tk;
        struct pollfd p;
        int turns = 0;
        if (async_runtime_init(&rt, NULL) < 0) return 1;
        p.fd = async_runtime_backend_fd(&rt);     // made once, closed by destroy
        if (p.fd < 0) return 1;
        p.events = POLLIN;
        async_task_spawn(&rt, &tk.task, ticker_run, "ticker");
        while (!async_task_is_finished(&tk.task)) {
            int ms = async_runtime_backend_timeout_ms(&rt);     // -1: only the fd
            if (ms != 0) (void)poll(&p, 1, ms);   // the host sleeps (and does its own work)
            async_runtime_step(&rt, 0);           // then one turn of the runtime
            turns++;
        }
        printf("%d turns\n", turns);              // about 4: one per timer, not a spin
        async_runtime_destroy(&rt);
        return turns < 100 ? 0 : 1;
    }
   In GLib, the runtime is a GSource (examples/embed/glib_loop.c, built and run by
   make test):
   [not compiled: needs GLib; examples/embed/glib_loop.c is this, compiled and run]
    static gboolean rt_prepare(GSource *s, gint *timeout) {
        *timeout = async_runtime_backend_timeout_ms(((rt_source *)s)->rt);
        return *timeout == 0;
    }
    static gboolean rt_check(GSource *s) {
        rt_source *r = (rt_source *)s;
        return (g_source_query_unix_fd(s, r->tag) & G_IO_IN) ||
               async_runtime_backend_timeout(r->rt) == 0;
    }
    static gboolean rt_dispatch(GSource *s, GSourceFunc cb, gpointer user) {
        return async_runtime_step(((rt_source *)s)->rt, 0) >= 0;   // G_SOURCE_CONTINUE
    }
    // r->tag = g_source_add_unix_fd(&r->source, async_runtime_backend_fd(rt), G_IO_IN);
   In libuv, a uv_poll_t on the descriptor and a uv_timer_t both step, and a
   uv_prepare_t sets the timer just before libuv sleeps (examples/embed/uv_loop.c):
   [not compiled: needs libuv; examples/embed/uv_loop.c is this, compiled and run]
    static void on_prepare(uv_prepare_t *h) {
        int ms = async_runtime_backend_timeout_ms(&rt);
        if (ms < 0) { uv_timer_stop(&rt_timer); return; }
        uv_update_time(h->loop);                   // libuv's clock is cached
        uv_timer_start(&rt_timer, on_rt_timer, (uint64_t)ms, 0);   // 0: at once
    }
    // uv_poll_start(&rt_poll, UV_READABLE, on_readable);  on_readable, on_rt_timer:
    // async_runtime_step(&rt, 0)
   Qt is the same: a QSocketNotifier (Read) on the descriptor, and a single-shot QTimer
   set from the timeout after each step. A game loop that must not block steps once a
   frame only when there is work: the timeout is 0, or poll(fd, 0) says readable (or
   it waits on the descriptor, bounded by the timeout and its own frame time).
   Traps: step from the host loop, never from inside a task; one thread drives a
   runtime (the host loop's); take the descriptor out of the host loop before
   async_runtime_destroy, which closes it; a group's runtime is driven by its own
   thread (ASYNC_EINVAL). A host timer that fires a little early (libuv's clock is in
   whole, cached milliseconds) costs one step that finds nothing due; the timeout then
   says what is left.
     async_runtime_backend_fd(rt)       the descriptor, made at the first call (the
                                        reactor and the wake descriptor with it); the
                                        same one afterwards; -errno, -ENOSYS where the
                                        backend has none (below)
     async_runtime_backend_timeout(rt)  0 if a task is ready (yielded ones too) or a
                                        wake is pending; else the time to the next
                                        timer (0 if it is due), exact, on the runtime's
                                        clock; ASYNC_TIME_NEVER when no timer is armed
     async_runtime_backend_timeout_ms(rt)  the same in milliseconds for poll, GLib and
                                        libuv: rounded up (never early), -1 for never,
                                        at most INT_MAX
   No lost wake-up: the host reads the timeout, then something arrives before it
   sleeps. A wake sets the runtime's pending flag, and the first wake after the loop
   took the flag rings the wake descriptor, which is in the backend's descriptor and
   level-triggered: it stays readable until a step takes the flag. So a wake either
   came before the timeout looked (pending: the timeout is 0) or rings after it (the
   host's wait ends at once); a ring that comes after its flag was taken (the wake
   raced a step) is drained by the next step, so it cannot keep the descriptor
   readable. I/O readiness is the kernel's and reaches the descriptor whenever it
   comes. What a step leaves behind is in the run queue (the
   timeout is 0), and each step takes what made the descriptor readable, even when no
   task waits for I/O, so it is readable again only when something new happens: N
   events take about N turns (tests/test_io.c counts them).
   On each backend: with io_uring the descriptor is the ring's (readable while
   completions wait in it; in this mode every change is submitted at once, since the
   host may sleep before the next step). With epoll the descriptor is the epoll set itself,
   the wake descriptor added to it level-triggered; the sockets' events stay queued
   in it (edge-triggered) until a step takes them. With the default poll(2) backend on
   Linux, the first call makes an epoll set that mirrors the reactor's table: every
   registered descriptor edge-triggered in both directions (added and removed with
   it; nothing changes on the hot path) and the wake descriptor; each step empties it,
   then poll(2) says what is ready, so no edge falls between the two (a poll that fails
   after the emptying rings the wake descriptor: the host turns again). A host loop
   costs the poll backend an epoll_ctl per registration and per removal and an
   epoll_wait per turn, and either backend a look without waiting in a turn where no
   task waits for I/O; a runtime not embedded pays a test or two (bench_io, poll: 6
   instructions more per registration and per ping-pong, of 329 and 1449). Without
   epoll (other POSIX systems, Windows) the poll backend has no such descriptor:
   -ENOSYS (a kqueue backend would hand out its kqueue descriptor the same way).
   The paused clock (async_time_pause, start_paused) does not move while the host
   sleeps: its timers count for nothing in the timeout (ASYNC_TIME_NEVER unless work is
   ready), and auto-advance happens only in a turn that may wait, which a host never
   makes: move it with async_time_advance (due timers fire, the timeout becomes 0).

CONFIGURATION (>>config)
========================
   Define before *every* #include of async.h unless noted ("impl" = only in the
   file that defines ASYNC_IMPLEMENTATION):
     ASYNC_FREESTANDING      no libc beyond memcpy/memset: no malloc, no poll, no
                             clock. Set automatically when __STDC_HOSTED__ == 0.
                             desc.now is then required; desc.idle is optional.
     ASYNC_USE_COMPUTED_GOTO resume through labels-as-values (GCC/Clang)
     ASYNC_NO_SITES          do not record await sites (saves rodata on MCUs;
                             default on in the freestanding profile, where
                             ASYNC_SITES keeps them)
     ASYNC_SHORT_NAMES       also define AWAIT and YIELD (ASYNC_AWAIT, ASYNC_YIELD)
     ASYNC_NO_DEBUG          impl: compile out the debug layer (async_runtime_dump prints
                             nothing, desc.slow_poll is refused): ~1.8 KB less text
     ASYNC_WHEEL_BITS        timer wheel slots per level, as a power of two (3..8);
                             default 6 (9 levels of 64, hosted four lists a slot:
                             a runtime of 19 KB), 4 freestanding (14 of 16, one list:
                             about 1 KB on 32-bit targets); 7 (8 levels of 128: a
                             runtime of 33 KB) cascades timers up to 2 s away twice,
                             not three times: 1e6 random 1 ms..1 s timers ~10-20%
                             faster, 1e6 armed then cancelled ~30% slower (their
                             lists interleave more: unlinking them streams less)
     ASYNC_USE_EPOLL         impl, Linux: the epoll reactor instead of poll(2) by
                             default (desc.backend, $ASYNC_BACKEND choose at run
                             time: BACKENDS under >>io)
     ASYNC_USE_IO_URING      impl, Linux: io_uring by default (epoll where refused)
     ASYNC_POSIX_ONLY        impl: only what macOS and the BSDs have too (no eventfd,
                             accept4, SOCK_CLOEXEC, MSG_NOSIGNAL, epoll,
                             pthread_condattr_setclock, sched_setaffinity): their
                             path, tried on Linux (see OTHER POSIX SYSTEMS below)
     ASYNC_NO_THREADS        no blocking pool, no inbox, no threads (hosted);
                             required with a compiler whose atomics async.h does
                             not know (gcc, clang, tcc on x86, MSVC on x86/x64):
                             others fail with #error rather than race silently
     ASYNC_API               linkage of public functions (default extern)
     ASYNC_STATIC            make every function static (impl and users in one TU)
                             (the implementation as a shared library exports the
                             public names and the async__ entry points that the
                             macros and inline fast paths call from your files,
                             declared under >>details; nothing else)
     ASYNC_MALLOC(sz), ASYNC_FREE(p)       impl; all or none (default malloc/free
                             on hosted builds, none in the freestanding profile)
     ASYNC_ASSERT(cond, msg) default: print and abort() unless NDEBUG (hosted),
                             __builtin_trap() (freestanding)
     ASYNC_FAULT_INJECTION   impl, and in files that call async_faults_set: the
                             fault hooks and ASYNC_FAULTS (see DEBUGGING); for
                             tests, a normal build has none of it
   A macro that changes a struct layout changes the names of the entry points
   (async_runtime_init, async_task_spawn...), so translation units that
   disagree fail to link instead of corrupting memory.

   OTHER POSIX SYSTEMS (macOS, FreeBSD, OpenBSD, NetBSD). No such machine runs the
   tests: make test proves their path on Linux instead. Its strict POSIX build
   (test_NAME-posix: time, io, threads, proc, group, the I/O, threads, proc and group
   suites again under failing system calls and the I/O suite under failing
   allocations, and the servers' net, redis, httpd and faults tests against servers
   built the same way) defines ASYNC_POSIX_ONLY and
   _POSIX_C_SOURCE=200809L alone, and force-includes tests/compile/posix_only.h,
   which reads the system headers, then undefines __linux__ and poisons every
   Linux-only name (the list is there): a use in async.h or a test fails to compile.
   What differs there from Linux (by itself on those systems, by ASYNC_POSIX_ONLY on
   Linux):
     wake descriptor     a non-blocking pipe, not an eventfd: two descriptors per
                         runtime that is woken from other threads
     new sockets         socket() then fcntl (O_NONBLOCK, FD_CLOEXEC) where
                         SOCK_NONBLOCK and SOCK_CLOEXEC are missing (macOS): two more
                         system calls per socket
     accepted sockets    accept() then fcntl, not accept4 (Linux only here): two or
                         three more system calls per connection, and a window: a
                         fork on another thread between the two gives the child the
                         descriptor (async_child_spawn from the loop's thread cannot
                         fall in it; your own fork+exec on another thread can)
     SIGPIPE             MSG_NOSIGNAL where it exists (the BSDs); macOS has none, and
                         each socket made, accepted or registered gets SO_NOSIGPIPE
                         instead. With neither (the strict build on Linux) a socket
                         is as a pipe: the first registration ignores SIGPIPE if it
                         was at its default, a handler of yours runs (the write still
                         fails with -EPIPE)
     pool's idle wait    macOS has no pthread_condattr_setclock: keep_alive is
                         waited on CLOCK_REALTIME, converted from the monotonic
                         clock. A wall clock set forward ends the wait early and it
                         waits on; set back by N, an idle thread exits N late (a job
                         or async_pool_destroy still wakes it at once)
     reactor             poll(2); ASYNC_USE_EPOLL is an #error. No kqueue backend yet:
                         what it would need is written under >>io (the backend
                         contract, in the implementation)
     desc->pin           a no-op (sched_setaffinity is Linux's; macOS has affinity
                         hints only, FreeBSD cpuset_setaffinity: not used)
     reuseport           FreeBSD 12+: SO_REUSEPORT_LB, which spreads connections as
                         Linux's SO_REUSEPORT does. macOS, OpenBSD, NetBSD: their
                         SO_REUSEPORT lets the listeners share the port, but one of
                         them gets the connections: a group's sharded listeners serve
                         from one runtime there; use one acceptor (MULTI-CORE)
     strict ISO mode     async.h asks for _POSIX_C_SOURCE under -std=c99 only where
                         the C library hides POSIX then (glibc, musl); not on macOS
                         and the BSDs, where it would hide SO_NOSIGPIPE and
                         SO_REUSEPORT
     file times          async_file_stat's modified_ns in whole seconds (macOS has
                         no st_mtim)
   Signals (sigaction and a self-pipe), children (fork, execve, waitpid on
   SIGCHLD), poll, the clocks (CLOCK_MONOTONIC) and the pool are POSIX already and
   the same everywhere.

   Runtime settings are a desc whose zero fields mean "default" (each field's
   default is in its declaration, >>core):
   [fragment]
    async_runtime_desc d = {0};         // every zero field means "default"
    d.seed = 42;                        // a random (reproducible) order of ready tasks
    d.slow_poll = ASYNC_MS(10);         // warn of a poll that runs longer
    d.start_paused = 2;                 // the paused clock, auto-advancing (tests)
    (void)d;                            // then async_runtime_init(&rt, &d)

ZERO ALLOCATION
===============
   What for: a program that must not allocate once it runs (embedded, real-time, or
   one that wants its memory laid out up front) and still does sockets, files and
   threads. Every allocation of the library goes through ASYNC_MALLOC (one function,
   >>faults); a program that hands in storage for each object it uses makes not one
   call to it, and runs as well with an ASYNC_MALLOC that always fails. The storage
   is yours (any alignment: the library aligns inside it), lives as long as the
   object, and is sized by a macro: a compile-time constant, so that a static array
   can hold it (the channels' *_storage_size are functions, exact but not constant),
   and a bound right for every backend and platform (the implementation checks at
   compile time that its structures fit it). Where each object takes it:
     tasks                 your frames (async_task_spawn; async_task_spawn_alloc
                           allocates them)
     channels, op set      their _init's storage or slots (CHANNELS, COMBINATORS);
                           NULL allocates, and an unbounded mpsc allocates its blocks
     the reactor's table   desc.io_storage, desc.io_storage_size: the descriptors
                           registered at once (each async_io: sockets, listeners,
                           accepted connections, pipes, a child's stdio) are as many
                           as the largest n with ASYNC_RUNTIME_IO_STORAGE_SIZE(n) <=
                           io_storage_size. The table never grows: one registration
                           more is ASYNC_ELIMIT and changes nothing (the descriptor
                           keeps its blocking mode; accept closes the connection it
                           could not register, connect its socket; close one to make
                           room). Without it: 64 slots at the first registration,
                           doubled when full. On Linux, poll and epoll take the
                           table so; io_uring (its tokens, its ring's state) would
                           allocate: such a runtime takes epoll, and the dump says
                           "io_uring refused: out of memory" (BACKENDS)
     the blocking pool     desc.storage, desc.storage_size >= ASYNC_POOL_STORAGE_SIZE(
                           max_threads, requests, request_size) (max_threads 0 is 64
                           there too): its state, a record for each of max_threads
                           threads (their stacks are the OS's:
                           pthread_create, _beginthreadex) and `requests` request
                           slots for the file and resolve calls (async_pool_spawn
                           takes none: its job is in your frame). A slot carries up to
                           request_size bytes: the path (strlen + 1), the data of a
                           read or write (a longer one is cut to it: a short read or
                           write, as the call allows), the whole file of read_all
                           (cap + 1) or write_all, a lookup's host and service and its
                           addresses (sizeof(async_addr) each; max is cut to what
                           fits). What cannot be cut (a path, a whole file) is
                           ASYNC_ENOMEM at once, and so is every call when requests
                           is 0. With every slot taken a call waits for one, first
                           come first served, cancel safe (a cancel leaves the line).
                           A slot belongs to the pool, not to the frame: a call
                           cancelled while its thread runs it keeps its slot until the
                           thread ends, then the slot goes back to the pool (and the
                           runtime counts the call as outstanding until then, so a
                           task waiting for the slot is not a hang)
     the inbox             async_inbox_init_storage(q, rt, item_size, cap, storage,
                           size), size >= ASYNC_INBOX_STORAGE_SIZE(item_size, cap)
   Bad storage (NULL with a size, slots or request_size; fewer bytes than the macro
   says, for the reactor fewer than one descriptor's) is ASYNC_EINVAL, with nothing
   set up. What still allocates, whatever you
   pass: async_task_spawn_alloc and async_stream_collect_alloc (allocating is what
   they are for), async_group_init (its runtimes and thread records, once at start:
   a group is made before the work), async_test_run (the test harness: its runtime
   and frame), async_child_spawn on Windows (the command line, and one record per
   relay thread); and the C library on its own: getaddrinfo, the threads' stacks,
   stdio. Tokio has no such mode (Rust's allocator is global); this is C's habit of
   static pools, as in lwIP or FreeRTOS's static allocation.
   [program]
    static long calls;                      // ASYNC_MALLOC: every call fails, counted
    #define ASYNC_MALLOC(n) ((void)(n), calls++, (void *)0)
    #define ASYNC_FREE(p) ((void)(p))
    #define ASYNC_IMPLEMENTATION
    #include "async.h"
    #include <stdio.h>

    typedef struct {
        async_task task;
        async_pool *pool;
        async_file_op op;
        async_inbox *q;
        async_file_meta meta;
        int rc, item;
    } frame;

    static int run(async_task *t) {
        frame *f = (frame *)t;
        ASYNC_BEGIN(t);
        ASYNC_AWAIT(f->rc, async_file_stat(t, f->pool, &f->op, ".", &f->meta));
        if (f->rc < 0) ASYNC_RETURN(f->rc);
        ASYNC_AWAIT(f->rc, async_inbox_recv(t, f->q, &f->item));
        ASYNC_END(f->rc < 0 ? f->rc : f->item);
    }

    int main(void) {
        static unsigned char io_mem[ASYNC_RUNTIME_IO_STORAGE_SIZE(64)];   // 64 descriptors
        static unsigned char pool_mem[ASYNC_POOL_STORAGE_SIZE(4, 8, 512)];
        static unsigned char q_mem[ASYNC_INBOX_STORAGE_SIZE(sizeof(int), 16)];
        static async_runtime rt;
        static async_pool pool;
        static async_inbox q;
        static frame f;
        async_runtime_desc d = {0};
        async_pool_desc pd = {0};
        int rc, item = 42;
        d.io_storage = io_mem;
        d.io_storage_size = sizeof io_mem;
        pd.max_threads = 4;
        pd.storage = pool_mem;
        pd.storage_size = sizeof pool_mem;
        pd.requests = 8;                    // 8 file calls at once; more wait their turn
        pd.request_size = 512;              // each carries up to 512 bytes
        if (async_runtime_init(&rt, &d) < 0 || async_pool_init(&pool, &rt, &pd) < 0 ||
            async_inbox_init_storage(&q, &rt, sizeof(int), 16, q_mem, sizeof q_mem) < 0)
            return 1;
        async_inbox_try_send(&q, &item);
        f.pool = &pool;
        f.q = &q;
        rc = async_runtime_block_on(&rt, &f.task, run, "main");
        async_inbox_destroy(&q);
        async_pool_destroy(&pool);
        async_runtime_destroy(&rt);
        printf("%d; a directory: %d; %ld allocations\n", rc, f.meta.is_dir, calls);  // 42; 1; 0
        return rc == 42 && f.meta.is_dir && calls == 0 ? 0 : 1;
    }

WINDOWS
=======
   async.h builds on Windows from Win32 and Winsock 2 alone (no winpthreads, no
   other library; link ws2_32, which MSVC's #pragma does by itself), with mingw-w64,
   MSVC and clang-cl. Tested here: mingw-w64 cross builds of the suites run under Wine
   (make port-windows); MSVC's dialect is checked by clang in MSVC mode against
   Windows headers (the msvc-c-subset-syntax check), not run. As with any Winsock 2
   code, the implementation file includes async.h before <windows.h> (or defines
   WIN32_LEAN_AND_MEAN): windows.h alone brings the old winsock.h.
   What runs (the suites coro, task, time, debug, sync, chan, cancel, comb, opset,
   stream, io, threads, group and proc pass under Wine, the tests of what Windows
   lacks skipped with their reason; the 19 bare examples exit 0; the example servers
   echo, chat, proxy, httpd and miniredis build there, their suites srv_net, srv_httpd
   and srv_redis pass under Wine, and the echo server, and the proxy in front of it,
   echo 1 MB and a half-close to a Linux client):
     the core, time (QueryPerformanceCounter), sync, channels, combinators, streams,
     shared objects and groups (Win32 threads, SRW locks, condition variables; pin:
     SetThreadAffinityMask)
     sockets: TCP over IPv4 and IPv6, UDP, through the reactor backend "wsapoll"
     (async_runtime_io_backend); the wake descriptor is a UDP socket on 127.0.0.1
     connected to itself; Winsock is started once (WSAStartup, never cleaned up), by
     the first waker or socket
     the blocking pool, the inbox, async_waker from any thread; name resolution
     (getaddrinfo) and file I/O on the pool (the C library's descriptors: _open,
     binary, not inherited)
     async_io_pipe: a connected loopback TCP pair (Windows pipes have no readiness):
     its write end reads as end of file (not EBADF), and a write after the reader
     closed fails once the peer's reset is back (ECONNRESET), not at once (EPIPE)
     signals (async_signal): SIGINT (Ctrl-C, raise), SIGTERM (raise, and Ctrl-Break,
     close, logoff and shutdown: after the last three Windows ends the process a few
     seconds later whatever it does; the handler waits, so that the program's own
     exit can come first), SIGBREAK (raise; Ctrl-Break when SIGTERM has no
     subscriber); async_shutdown works with them
     child processes: CreateProcess (file found by SearchPath: PATH, ".exe" added;
     argv quoted as the C library parses it back; env and cwd as given); the end of
     the process and each pipe are serviced by threads of their own (Windows has no
     readiness for them): c->in, c->out, c->err are sockets that a relay thread
     copies to or from the child's pipe; async_child_kill is TerminateProcess for
     any signal but 0 (then term_signal is that signal, exit_code -1); without
     ASYNC_NO_THREADS only
   Descriptors: the API's int fds are Winsock SOCKETs cast to int (a SOCKET is a
     UINT_PTR, in practice a small handle number, as libuv, mio and wepoll assume too;
     one that would not fit fails with EMFILE). Register (int)s; async_io_fd gives
     (SOCKET)fd back. async_io takes sockets only (anything else: -ENOTSOCK; files
     go through the pool). async_runtime_wake_fd is the wake socket: an idle hook
     waits on it with WSAPoll.
   Errors: Winsock's codes become errno values (WSAEWOULDBLOCK EAGAIN,
     WSAECONNREFUSED ECONNREFUSED...), so a caller compares with the same -ENAME as
     on Linux (the numbers are the C library's: ECONNREFUSED is 107 there).
   ASYNC_ENOSYS (no such thing there): Unix sockets (async_addr_init_unix, "unix:"
     addresses), listen_opts.reuseport, the other POSIX signals (SIGHUP, SIGUSR1...),
     child processes with ASYNC_NO_THREADS.
   Differences: a listener gets no SO_REUSEADDR (there it lets another socket take
     the port); a positional file read or write puts the file position back after
     it, where pread leaves it untouched (two calls on one descriptor at once may see
     it move); WSAPoll before Windows 10 2004 never reports a refused non-blocking
     connect, so there such a connect lasts until your timeout (Wine reports it);
     under Wine each wait and cross-thread wake is a round trip to wineserver (about
     a millisecond), and an abortive close (SO_LINGER 0) sends no reset.
   Compilers: mingw-w64 gcc, clang-cl, MSVC on x86 and x64 (atomics: the Interlocked
     intrinsics; MSVC on ARM64 needs ASYNC_NO_THREADS for now).
   The servers' tests there (tests/srv_win.h): each server is started with
     CreateProcess in a process group of its own (CREATE_NEW_PROCESS_GROUP), its port
     read from its first line, and stopped as Windows stops a console program: Ctrl-Break
     to its group (GenerateConsoleCtrlEvent), which async_signal reports as SIGTERM, so
     that async_shutdown drains it; killed with TerminateProcess. Not run under Wine,
     each skipped with its reason printed:
       what needs SIGTERM or SIGINT sent (the servers' drain and exit 0 at SIGTERM,
         SIGINT, the grace period): Wine implements GenerateConsoleCtrlEvent for
         CTRL_C_EVENT only, and only within a console, and Ctrl-C never reaches a
         process group of its own, on Windows either
       --threads N > 1 (echo, chat, httpd): the shards share the port through
         listen_opts.reuseport, ASYNC_ENOSYS on Windows: such a server says so and
         exits 1 at its startup
       descriptor limits (httpd's EMFILE back-off), the accept failures made by an
         LD_PRELOAD shim, the address-space limit under which miniredis meets a
         failing allocation, and the symbolic link out of httpd's ROOT: Linux's means
       test_srv_faults (/proc/PID/fd and /proc/PID/stat) and the curl and redis-cli
         checks (Linux tools)
     Their floods of idle connections are a quarter as large there (500, past the
     caps of 100 under test; chat's default cap of 1024 with 2000), and wait three
     times as long: under Wine each connect is a round trip to wineserver.
     httpd on Windows: ROOT's paths through _fullpath (no symbolic links resolved;
     the path must still land under ROOT), a path with '\' or ':' in it is 404, a
     directory 404.

PITFALLS
========
   - Locals do not survive an await. Keep such state in the frame. A local is
     fine if it is assigned after the last await before it is read. The trap
     compiles silently and, say as a loop counter, loops forever at -O2; build
     with the flags that catch it (the project's own builds do,
     tests/compile/trap_flags.sh checks each claim, in both coroutine forms):
       clang  -Wconditional-uninitialized: a local declared before ASYNC_BEGIN
              or in the body, used after an await (-Wsometimes-uninitialized, in
              -Wall, does not see it);
       gcc    -Wjump-misses-init (C only): an initialised local declared in the
              body ("switch jumps over variable initialization"); gcc sees no
              other form;
       C++    refuses the initialised local in the body ("jump to case label").
     Nothing catches a local initialised before ASYNC_BEGIN (`int i = 0;`): it
     starts again at each poll. Declare nothing there but the frame pointer and
     the rc your awaits assign.
   - Switch form: an await inside your own `switch` statement cannot resume
     (the case label lands in your switch). The resume switch's default branch
     catches it: ASYNC_ASSERT fires with "FILE:LINE: lost resume point in task
     "NAME"" (the await's line, kept in the resume key even with ASYNC_NO_SITES),
     after fflush(NULL) so what you printed survives the abort; with NDEBUG it
     is printed once per process (stderr, hosted builds) and the coroutine
     finishes with ASYNC_ELOST instead of restarting or silently ending. Use
     if/else, or ASYNC_USE_COMPUTED_GOTO.
   - C++ (and gcc -Wjump-misses-init): an initialised local between awaits is a
     compile error ("jump to case label crosses initialization") even when it
     is not used across one. Wrap such code in braces:
         { int n = f->count * 2; use(n); }   ASYNC_AWAIT(...);
   - A body without its ASYNC_BEGIN fails to compile with "ASYNC_BEGIN_missing_
     before_this_ASYNC_AWAIT" (or _YIELD, _END...) undeclared as its first error;
     one without its ASYNC_END, after errors about braces, with the label
     "ASYNC_END_missing_after_this_ASYNC_BEGIN" used but not defined.
   - Macro arguments: an await's rc is evaluated once, when the await completes
     (ASYNC_AWAIT(a[i++], op) advances i once; ASYNC_RETRY once per attempt, a
     select or join branch's rc once per poll of that branch); op is evaluated at
     every poll, and again in cancel mode; ASYNC_BEGIN's t twice. ASYNC_RETRY,
     ASYNC_RACE2/3 and each select or join from its BEGIN to its END are one
     statement: `if (x) ASYNC_RETRY(...); else ...` works.
   - Without __COUNTER__, at most one await per source line.
   - MSVC /ZI (Edit and Continue) makes __LINE__ non-constant: use /Zi.
   - Zero every frame and operation state before first use (spawn_alloc does).
     A registered object must not be moved or copied while in use.
   - ASYNC_CLEANUP is synchronous: an await there cannot suspend (ASYNC_ASSERT
     fails; with asserts off its operation is cancelled and gives ASYNC_ECANCELED).
     When the task is being cancelled, operations there are in cancel mode and give
     ASYNC_ECANCELED (use try_ forms to release what you hold); the cleanup still
     runs to its end.
   - With a cleanup section, end the body with ASYNC_RETURN(v) rather than passing
     a local to ASYNC_END: compilers cannot see that ASYNC_END's value is only read
     when the body ran to its end, and warn that the local may be uninitialised.
   - An allocated frame is freed after join; read its results before that, or
     use a frame you own. A task aborted before its first poll runs only its
     cleanup section, which sees the frame as it was spawned: write cleanup code
     that releases only what is set (zeroed frames make that a NULL or -1 test).
   - A generator you stop reading stays suspended at its ASYNC_GEN_YIELD with its
     resources: ASYNC_CORO_CANCEL(child, call) unwinds it through its cleanup.

DESIGN NOTES
============
   - Cancellation is a poll in cancel mode, not a cancel callback per waiter: the
     operation that registered a waiter is the one that knows how to unregister
     it (and what to give back: a handed-over lock, partly granted permits), and
     the unwinding reaches every nested async function's cleanup in order, as
     Rust's drop does. The price: a poll function you write must check
     async_task_is_cancelling(t) first and never return ASYNC_PENDING there (an
     assertion catches it).
   - Timers: a hierarchical wheel (chosen by benchmark over a pairing heap, which
     was 2.6x slower at a million timers). Level 0 slots stay sorted so order is
     exact. One million tasks sleeping 1 s cost ~100-130 ns each (make bench); with
     random durations each timer cascades two or three times, each time a cache miss
     on a cold timer, eight of them in flight (a slot is four lists, each walked from
     both ends): ~180-250 ns on a quiet machine, ~320-430 on a loaded one (Tokio:
     ~1700 ns).
   - The task header is 64 bytes on 64-bit targets: run-queue links, resume key,
     state and flags, function, runtime, joiner-or-result, name, await site. A
     finished task's joiner slot holds its result. Tasks that are running are
     known by rt->current rather than a state store, which keeps a yield at ~77
     instructions (make bench-icount).
   - A yielded task runs again after the next collection of timers and wake-ups
     (Tokio's rule); when there is nothing to collect (no timers armed, no wake-up
     pending) it may run again in the same turn.

REVISION HISTORY
================
   0.1.0 (2026-11-22)  coroutines, executor, tasks, timers (a hierarchical
                       wheel), paused clock, dump; sync primitives and channels;
                       combinators, JoinSet, retry, circuit breaker, bulkhead;
                       streams: sources, adapters, sinks, buffered and
                       buffer_unordered, fan-out
   Since 0.1.0 (unreleased: ASYNC_VERSION_STRING still says 0.1.0), from git log:
   2026-11-22          I/O: the poll(2) reactor and epoll, TCP over IPv4 and IPv6,
                       Unix sockets, UDP, pipes; threads: the blocking pool
                       (spawn_blocking), the inbox; signals (chained handlers)
                       and child processes; buffered reader and writer; name
                       resolution and files on the pool
   2026-12-02          phased shutdown (async_shutdown); async_io_move; mpsc
                       recv_many; an await stores its resume point only when it
                       suspends; a cancelled task's cleanup runs to its end; a
                       timeout that fires spends budget; example servers (echo,
                       chat, proxy, httpd, miniredis)
   2026-12-03          a failed init leaves an inert object; a task aborted
                       before its first poll runs its cleanup; fault injection
                       (ASYNC_FAULT_INJECTION, ASYNC_FAULTS) and
                       async_runtime_next_deadline; atomics for tcc; the stream
                       timeout counts from the item handed out last
   2026-12-03          the 1.0 house-keeping: one naming grammar (CONVENTIONS), with
                       these renames: async_sleep(_until) -> async_time_sleep(_until),
                       ASYNC_AWAIT_DEADLINE -> ASYNC_AWAIT_TIMEOUT_UNTIL,
                       async_interval_init_at -> async_interval_init_until,
                       ASYNC_WAIT_UNTIL -> ASYNC_WAIT_FOR, async_mpsc_closed /
                       async_oneshot_closed / async_watch_changed / async_io_ready ->
                       *_wait_closed / *_wait_changed / *_wait_ready,
                       async_runtime_wake_pending -> async_runtime_has_pending_wake,
                       async_task_cancelling and ASYNC_IS_CANCELLED() ->
                       async_task_is_cancelling(t), ASYNC_TRY(_CALL) ->
                       ASYNC_AWAIT(_CALL)_OR_RETURN, ASYNC_JOIN_TRY ->
                       ASYNC_JOIN_FAIL_FAST, ASYNC_TRY_JOIN_ALL ->
                       ASYNC_JOIN_ALL_FAIL_FAST, async_spawn_blocking ->
                       async_pool_spawn, async_resolve -> async_pool_resolve,
                       async_dump -> async_runtime_dump, async_consume_budget ->
                       async_task_consume_budget, async_pipe -> async_io_pipe,
                       async_io_backend -> async_runtime_io_backend,
                       async_cancel_token_child -> async_cancel_token_init_child,
                       async_addr_unix -> async_addr_init_unix, async_sock_error /
                       _nodelay / _keepalive -> async_sock_take_error / _set_nodelay /
                       _set_keepalive, async_semaphore_forget / _available ->
                       async_semaphore_forget_held / _available_permits;
                       async_task_runtime(t); timeouts directly around a select or
                       a join (ASYNC_SELECT_BEGIN_TIMEOUT(_UNTIL),
                       ASYNC_JOIN_BEGIN_TIMEOUT(_UNTIL)); the lost-resume report
                       names the user's file:line and task, also under NDEBUG; a
                       missing ASYNC_BEGIN names itself; ASYNC_AWAIT writes rc once;
                       retry, select and join are one statement; the reactor's
                       backends behind one contract (async__be_*)
   2026-12-03          multi-core (section 11): runtime groups (async_group_*),
                       shared channels (async_mpsc/oneshot/broadcast_init_shared),
                       spawn onto another runtime with a join handle
                       (async_group_spawn, async_join_handle_*),
                       async_runtime_group/_index
   2026-12-03          any project (issue 16): embedding in a host loop
                       (async_runtime_backend_fd, _backend_timeout(_ms)), the
                       strict POSIX build (ASYNC_POSIX_ONLY); the seeds' last
                       features (issue 17): async_opset (FuturesUnordered /
                       Ordered in one task), async_token_bucket, typed results
                       (ASYNC_AWAIT_CALL_INTO, ASYNC_JOIN_INTO, ASYNC_AND_THEN...),
                       async_runtime_metrics / async_metrics_print, whole files
                       (async_file_read_all ... _remove_dir) and
                       async_io_read_to_end / _to_string, the test harness
                       (async_test_run, ASYNC_TEST_RUN)
*/

#ifndef ASYNC_H_INCLUDED
#define ASYNC_H_INCLUDED

////////////////////////////////////////////////////////////////////////////////
// >>config

#define ASYNC_VERSION_MAJOR 0
#define ASYNC_VERSION_MINOR 1
#define ASYNC_VERSION_PATCH 0
#define ASYNC_VERSION_STRING "0.1.0"

#if !defined(ASYNC_FREESTANDING) && defined(__STDC_HOSTED__) && __STDC_HOSTED__ == 0
#define ASYNC_FREESTANDING
#endif

/* The hosted implementation needs POSIX (clock_gettime, poll, sockets). In GNU mode
   (the compilers' default) the C library shows it already, so nothing is defined and
   the implementation file sees what every other file of yours sees (forcing
   _POSIX_C_SOURCE would hide SO_REUSEPORT, and your own usleep, in that file). Only
   strict ISO mode (-std=c99) hides POSIX on glibc and musl (not on macOS and the
   BSDs, whose headers show everything unless asked otherwise): then ask for POSIX and no
   more (a wider set such as _DEFAULT_SOURCE would declare BSD names, rcmd and such,
   that may clash with yours), before the first system header is read (if one already
   was, say so). */
#if defined(ASYNC_IMPLEMENTATION) && !defined(ASYNC_FREESTANDING) && \
    defined(__STRICT_ANSI__) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && \
    !defined(_DEFAULT_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_BSD_SOURCE) && \
    !defined(__APPLE__) && !defined(__FreeBSD__) && !defined(__NetBSD__) && \
    !defined(__OpenBSD__) && !defined(__DragonFly__) && !defined(_WIN32)
#if defined(_FEATURES_H)
#error "async.h: include async.h before other headers in the ASYNC_IMPLEMENTATION file, \
or define _POSIX_C_SOURCE=200809L"
#endif
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#ifndef ASYNC_FREESTANDING
#include <errno.h>
#endif

#if defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_SITES) && !defined(ASYNC_SITES)
#define ASYNC_NO_SITES
#endif
#ifndef ASYNC_WHEEL_BITS
#ifdef ASYNC_FREESTANDING
#define ASYNC_WHEEL_BITS 4
#else
#define ASYNC_WHEEL_BITS 6
#endif
#endif
#if ASYNC_WHEEL_BITS < 3 || ASYNC_WHEEL_BITS > 8
#error "async.h: ASYNC_WHEEL_BITS must be 3 to 8"
#endif

/* A hint to start loading a cache line (the timer wheel's cold tasks); nothing else. */
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC__PREFETCH(p) __builtin_prefetch(p)
#else
#define ASYNC__PREFETCH(p) ((void)0)
#endif

/* For functions a macro defines in the user's file, which may use only some. */
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC__UNUSED __attribute__((unused))
#else
#define ASYNC__UNUSED
#endif
/* The typed channel wrappers are inlined whole on hosted builds (W3b: 447 -> 402
   instructions per round trip). Freestanding builds are compiled for size. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(ASYNC_FREESTANDING)
#define ASYNC__TYPED static inline __attribute__((always_inline, unused))
#else
#define ASYNC__TYPED static inline ASYNC__UNUSED
#endif

#ifdef ASYNC_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC_API static __attribute__((unused))
#else
#define ASYNC_API static
#endif
#endif
#ifndef ASYNC_API
#ifdef __cplusplus
#define ASYNC_API extern "C"
#else
#define ASYNC_API extern
#endif
#endif

/* Layout-changing configuration goes into the names of the entry points every
   program calls, so two translation units that disagree fail to link. */
#define ASYNC__CAT_(a, b) a##b
#define ASYNC__CAT(a, b) ASYNC__CAT_(a, b)
#ifdef ASYNC_FREESTANDING
#define ASYNC__ABI_PROFILE f
#else
#define ASYNC__ABI_PROFILE h
#endif
#define ASYNC__ABI_TAG ASYNC__CAT(ASYNC__CAT(abi1, ASYNC__ABI_PROFILE), ASYNC_WHEEL_BITS)
#define async_runtime_init ASYNC__CAT(async_runtime_init_, ASYNC__ABI_TAG)
#define async_task_spawn ASYNC__CAT(async_task_spawn_, ASYNC__ABI_TAG)
#define async_task_spawn_alloc ASYNC__CAT(async_task_spawn_alloc_, ASYNC__ABI_TAG)

#ifndef ASYNC_ASSERT
#if defined(NDEBUG)
#define ASYNC_ASSERT(cond, msg) ((void)sizeof((cond) ? 1 : 0))   /* not evaluated */
#elif defined(ASYNC_FREESTANDING)
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC_ASSERT(cond, msg) ((cond) ? (void)0 : __builtin_trap())
#else
#define ASYNC_ASSERT(cond, msg) ((cond) ? (void)0 : (void)(*(volatile int *)0 = 0))
#endif
#else
#define ASYNC__ASSERT_DEFAULT   /* async__lost prints the user's file:line itself */
#define ASYNC_ASSERT(cond, msg) \
    ((cond) ? (void)0 : async__assert_fail(#cond, (msg), __FILE__, __LINE__))
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

////////////////////////////////////////////////////////////////////////////////
// >>errors

/* X(name, value, message): value is ASYNC__ERRNO(E, n), -E on hosted builds and -n
   (Linux's number) freestanding, or a library code from -3001 down. */
#ifndef ASYNC_FREESTANDING
#define ASYNC__ERRNO(e, fallback) (-(e))
#else
#define ASYNC__ERRNO(e, fallback) (-(fallback))
#endif
#define ASYNC_ERRORS(X) \
    X(ASYNC_ECANCELED, ASYNC__ERRNO(ECANCELED, 125), "operation cancelled") \
    X(ASYNC_ETIMEDOUT, ASYNC__ERRNO(ETIMEDOUT, 110), "timed out") \
    X(ASYNC_ENOMEM, ASYNC__ERRNO(ENOMEM, 12), "out of memory") \
    X(ASYNC_EINVAL, ASYNC__ERRNO(EINVAL, 22), "invalid argument") \
    X(ASYNC_EBUSY, ASYNC__ERRNO(EBUSY, 16), "busy: already in use or awaited by another task") \
    X(ASYNC_EAGAIN, ASYNC__ERRNO(EAGAIN, 11), "operation would block") \
    X(ASYNC_EDEADLK, ASYNC__ERRNO(EDEADLK, 35), "no task can make progress") \
    X(ASYNC_ENOSYS, ASYNC__ERRNO(ENOSYS, 38), "not supported on this platform") \
    X(ASYNC_ECLOSED, (-3001), "closed") \
    X(ASYNC_ESTATE, (-3002), "invalid state for this operation") \
    X(ASYNC_ELOST, (-3003), "lost resume point (an await inside a switch statement?)") \
    X(ASYNC_ENORECV, (-3004), "no receiver") \
    X(ASYNC_ELAGGED, (-3005), "receiver lagged behind: the oldest items were overwritten") \
    X(ASYNC_EREJECTED, (-3006), "rejected: circuit open or bulkhead full") \
    X(ASYNC_ELIMIT, (-3007), "limit reached: retries, or items a buffer can hold") \
    X(ASYNC_EEOF, (-3008), "unexpected end of file: the peer closed before all bytes came") \
    X(ASYNC_ENOTFOUND, (-3009), "name or service not found")

#define ASYNC__ERR_ENUM(name, value, msg) name = value,
enum { ASYNC_OK = 0, ASYNC_ERRORS(ASYNC__ERR_ENUM) ASYNC__ERR_LAST = -3999 };
#undef ASYNC__ERR_ENUM

/* Not an error: the operation has not completed and will wake the task. */
#define ASYNC_PENDING (-INT_MAX - 1)
/* A generator handed out an item. */
#define ASYNC_ITEM 1

ASYNC_API const char *async_strerror(int code);   /* never NULL; Context: anywhere */

////////////////////////////////////////////////////////////////////////////////
// >>coro

typedef struct async_task async_task;
typedef struct async_runtime async_runtime;

/* Where an await is: written each time a task suspends there. */
typedef struct async_site {
    const char *file;
    int line;
    const char *what;   /* the awaited expression, as written */
} async_site;

/* State of a nested async function (the task header has its own). Zero it, or
   ASYNC_CORO_INIT, before the first call; ASYNC_AWAIT_CALL does that for you. */
typedef struct async_coro {
    int32_t lc;
    int result;
} async_coro;
#define ASYNC_CORO_INIT(co) ((void)((co)->lc = 0))

#define ASYNC_BEGIN(t) ASYNC__BEGIN((t), &(t)->lc, (int *)0)
#define ASYNC_CORO_BEGIN(t, co) ASYNC__BEGIN((t), &(co)->lc, &(co)->result)
#define ASYNC_END(v) ASYNC__END(v)
#define ASYNC_RETURN(v) \
    do { ASYNC__NEED_BEGIN(ASYNC_RETURN) async__rv = (v); goto async__unwind; } while (0)
#define ASYNC_CLEANUP() ASYNC__CLEANUP()
#define ASYNC_AWAIT(rc, op) ASYNC__AWAIT(ASYNC__ID, rc, op, #op)
#define ASYNC_AWAIT_CALL(rc, child, call) \
    do { ((child)->lc = 0); ASYNC__AWAIT(ASYNC__ID, rc, call, #call); } while (0)
#define ASYNC_WAIT_FOR(cond) ASYNC__WAIT_UNTIL(ASYNC__ID, cond, #cond)
#define ASYNC_CORO_CANCEL(child, call) \
    do { \
        if ((child)->lc != 0 && (child)->lc != ASYNC__LC_DONE) ASYNC__CANCEL_OP(call); \
    } while (0)
#define ASYNC_YIELD() ASYNC__YIELD(ASYNC__ID, async__yield(async__t), ASYNC_PENDING, "yield")
#define ASYNC_GEN_YIELD() ASYNC__YIELD(ASYNC__ID, (void)0, ASYNC_ITEM, "generator yield")

#ifdef ASYNC_SHORT_NAMES
#define AWAIT ASYNC_AWAIT
#define YIELD ASYNC_YIELD
#endif

////////////////////////////////////////////////////////////////////////////////
// >>core

typedef int (*async_task_fn)(async_task *t);

typedef struct async__link {
    struct async__link *next, *prev;
} async__link;

/* A task's owner (a JoinSet) hears of its end instead of a joiner. */
typedef struct async__owner {
    void (*finished)(struct async__owner *self, async_task *t);
} async__owner;

/* The task header: 64 bytes on 64-bit targets. Fields are private. */
struct async_task {
    async__link link;           /* run queue, deferred list or waiting list */
    int32_t lc;                 /* resume key of the task body */
    uint8_t state;              /* ASYNC_TASK_* */
    uint8_t flags;              /* ASYNC__F_* */
    uint8_t magic;              /* ASYNC__MAGIC while spawned and not finished */
    uint8_t flags2;             /* ASYNC__F2_* */
    async_task_fn fn;
    async_runtime *rt;
    union {
        async_task *joiner;     /* while running: the task awaiting this one */
        async__owner *owner;    /* or its owner, a JoinSet (ASYNC__F2_INSET) */
        int result;             /* once DONE */
    } u;
    const char *name;
    const async_site *site;     /* where it last suspended */
};

enum {
    ASYNC_TASK_IDLE = 0,        /* never spawned */
    ASYNC_TASK_QUEUED,          /* ready, in the run queue */
    ASYNC_TASK_RUNNING,         /* being polled */
    ASYNC_TASK_DEFERRED,        /* yielded: runs again after timers and wake-ups are collected */
    ASYNC_TASK_WAITING,         /* suspended until woken */
    ASYNC_TASK_DONE             /* finished; result kept */
};

typedef struct async_stats {
    uint64_t polls, wakes, timers_fired, spawned, completed, slow_polls;
    uint64_t io_waits, io_events;       /* descriptors waited on; readiness events */
} async_stats;

typedef uint64_t async_time;

typedef struct async_runtime_desc {
    async_time (*now)(void *user);      /* default: CLOCK_MONOTONIC (required freestanding) */
    void (*idle)(void *user, async_time max_wait); /* default: wait on the wake descriptor
                                           (hosted), return at once (freestanding) */
    void (*log)(void *user, const char *line);     /* default: stderr (hosted), none */
    void *user;                         /* passed to now, idle and log */
    uint32_t seed;                      /* default 0: FIFO; else random ready order */
    int budget;                         /* default 128 operations per poll */
    int event_interval;                 /* default 61 polls between collections */
    async_time slow_poll;               /* default 0: off */
    int start_paused;                   /* default 0; 1 paused, 2 paused + auto-advance */
    int metrics;                        /* default 0; 1: poll-time and delay histograms
                                           (two clock readings a poll) */
    int backend;                        /* default 0: $ASYNC_BACKEND, else the build's;
                                           ASYNC_BACKEND_POLL, _EPOLL, _IO_URING (Linux) */
#ifndef ASYNC_FREESTANDING
    void *io_storage;                   /* hosted: the reactor's descriptor table, yours
                                           (io_storage_size bytes, any alignment): it
                                           never grows, registration past its capacity
                                           is ASYNC_ELIMIT (ZERO ALLOCATION); default
                                           NULL: grown through ASYNC_MALLOC */
    size_t io_storage_size;             /* ASYNC_RUNTIME_IO_STORAGE_SIZE(descriptors) */
#endif
} async_runtime_desc;

/* desc.backend: the reactor's backend (hosted builds; >>io, BACKENDS) */
enum {
    ASYNC_BACKEND_DEFAULT = 0, ASYNC_BACKEND_POLL, ASYNC_BACKEND_EPOLL, ASYNC_BACKEND_IO_URING
};

/* Storage sizes (ZERO ALLOCATION): compile-time bounds, right for every backend and
   platform (the implementation checks that its structures fit them). */
#define ASYNC__SLACK 16                 /* the storage is aligned inside */
#define ASYNC__IO_SLOT_MAX (3 * sizeof(void *) + 8)
/* bytes for n descriptors registered at once (and the runtime's own wake slot) */
#define ASYNC_RUNTIME_IO_STORAGE_SIZE(n) (((size_t)(n) + 1) * ASYNC__IO_SLOT_MAX + ASYNC__SLACK)

/* Runtime metrics (tokio-metrics' RuntimeMonitor), from async_runtime_metrics. The
   counters, turns, parks, idle time and gauges cost nothing worth measuring and are
   always kept; the histograms need desc.metrics. Bucket k of a histogram counts
   durations below 4^k us (k = 0: below 1 us), the last one everything longer. */
#define ASYNC_METRICS_BUCKETS 12
typedef struct async_metrics {
    async_stats stats;                  /* polls, wakes, timers fired, spawned... */
    uint64_t turns;                     /* loop turns (async_runtime_step's) */
    uint64_t parks;                     /* turns that waited for something to happen */
    async_time elapsed, idle;           /* since init, and parked (busy: the rest), on the
                                           clock that runs (not the paused one) */
    uint32_t live, ready, ready_max;    /* tasks alive; queued now; the most queued at
                                           a turn's start */
    uint32_t timers, io_registered, io_waiting;  /* armed; descriptors; waits on them */
    uint64_t poll_hist[ASYNC_METRICS_BUCKETS];   /* how long each poll ran */
    uint64_t delay_hist[ASYNC_METRICS_BUCKETS];  /* from the turn's start (wake-ups
                                           collected) to the poll: the queue's delay */
    async_time poll_max, delay_max;
    int histograms;                     /* desc.metrics was set: the histograms count */
} async_metrics;

typedef struct async_waker async_waker;
struct async_io;

/* The reactor's part of a runtime (hosted builds): empty until the first descriptor
   is registered, which installs the backend (see IO). */
typedef struct async__reactor {
    int (*wait)(async_runtime *rt, async_time max_wait); /* poll, dispatch; 1 if events */
    void (*fini)(async_runtime *rt);
    void *be_slots;                     /* the backend's, per slot (poll: struct pollfd) */
    struct async_io **ios;              /* ios[slot], slot 0 unused */
    uint32_t n, cap;                    /* slots in use (slot 0 included), allocated */
    uint32_t nwait;                     /* waiters queued on descriptors */
    int be_fd;                          /* the backend's descriptor (epoll; 0: none yet) */
    int be_wake;                        /* the backend watches the wake descriptor */
    int be_host;                        /* a host loop waits on async__be_host_fd's */
    unsigned char *mem;                 /* desc.io_storage, aligned: the table, fixed */
    uint32_t fixed;                     /* its slots (slot 0 included); 0: allocated */
    uint8_t be_want;                    /* desc.backend (kept across a failed start) */
    uint8_t be_kind;                    /* Linux: the backend of this reactor (chosen at
                                           its start); 0: not started */
    int be_refused;                     /* io_uring refused (-errno), epoll taken instead */
    void (*be_modf)(struct async__reactor *r, struct async_io *io);  /* Linux: be_mod's
                                           (NULL: nothing to do, epoll) */
} async__reactor;

typedef struct async_timer {
    struct async_timer *next, *prev;    /* its wheel slot: a circular list */
    async_time deadline;
    async_task *task;
    uint32_t seq;                       /* arming order: breaks deadline ties */
    uint8_t state;                      /* 0 idle, 1 armed, 2 fired, 3 never fires */
    uint8_t level, slot, lane;          /* where it is linked while armed */
} async_timer;

/* The timer wheel: a tick is 2^10 ns; each level has 2^ASYNC_WHEEL_BITS slots and
   enough levels cover every tick of a 64-bit nanosecond clock (54 bits), so nothing
   ever wraps. 6 bits: 9 levels of 64 slots; 4 bits: 14 levels of 16 slots, a third
   of the memory (the freestanding default). */
#define ASYNC__WHEEL_SHIFT 10
#define ASYNC__WHEEL_SLOTS (1 << ASYNC_WHEEL_BITS)
#define ASYNC__WHEEL_LEVELS ((54 + ASYNC_WHEEL_BITS - 1) / ASYNC_WHEEL_BITS)
/* Slot bitmaps in words of 64 bits where 64-bit arithmetic is native (hosted: one
   word per level of 64 slots), of 32 freestanding. */
#ifndef ASYNC_FREESTANDING
typedef uint64_t async__occ;
#define ASYNC__OCC_SHIFT 6
#else
typedef uint32_t async__occ;
#define ASYNC__OCC_SHIFT 5
#endif
#define ASYNC__OCC_MASK ((1u << ASYNC__OCC_SHIFT) - 1u)
#define ASYNC__WHEEL_WORDS ((ASYNC__WHEEL_SLOTS + (1 << ASYNC__OCC_SHIFT) - 1) >> ASYNC__OCC_SHIFT)
/* Hosted, a slot above level 0 is four lists, and a cascade walks each from both ends
   in one loop: up to eight chains of cache misses in flight, not two (1e6 timers with
   random deadlines spread over 112 MB: each is walked cold twice). A timer cascaded into
   a slot goes to the list of its tick (mod 4); one armed into it to the list of its
   block of 256 in arming order (seq / 256 mod 4), or to that of the timer armed just
   before it if that one has the same tick. So timers armed one after another stay
   linked in the order they sit in memory (cancelling them in that order streams), the
   top level's cascades walk eight chains too, and a tick's timers armed in a row stay
   in one list, in order (level 0 then links them without a scan or a sort). Level 0
   and the freestanding profile: one list a slot. */
#ifndef ASYNC_FREESTANDING
#define ASYNC__LANES 4
#define ASYNC__LANE(tm) ((tm)->lane)
#else
#define ASYNC__LANES 1
#define ASYNC__LANE(tm) 0
#endif

struct async_runtime {
    async__link runq, deferred, waiting, zombies;
    async_task *current;
    uint32_t nready, live, flags;       /* nready: queued tasks, yielded ones included */
    int budget, budget_init, event_interval;
    uint32_t rng, sel_rng;              /* scheduling order (seeded mode), select fairness */
    async_timer *wheel[ASYNC__WHEEL_LEVELS][ASYNC__WHEEL_SLOTS][ASYNC__LANES];
    async__occ occupied[ASYNC__WHEEL_LEVELS][ASYNC__WHEEL_WORDS];    /* slot bitmaps */
#ifndef ASYNC_FREESTANDING
    async__occ unsorted[ASYNC__WHEEL_WORDS];    /* level 0 slots to sort before reading */
#endif
    uint32_t levels;                    /* bit L: level L has a timer */
    uint64_t elapsed;                   /* ticks: the wheel has run up to here */
    uint64_t due;                       /* no slot needs processing before this tick */
    uint32_t ntimers, timer_seq;
#ifndef ASYNC_FREESTANDING
    uint64_t arm_tick;                  /* the timer armed last: its tick and list */
    unsigned arm_lane;
#endif
    async_time (*now_fn)(void *);
    void (*idle_fn)(void *, async_time);
    void (*log_fn)(void *, const char *);
    void *user;
    async_time paused_now, offset, slow_poll;
    uint64_t turns, parks;              /* metrics */
    async_time born, idle, turn_start;
    uint32_t ready_max;
    int metrics;                        /* desc.metrics */
#ifndef ASYNC_NO_DEBUG
    uint64_t poll_hist[ASYNC_METRICS_BUCKETS], delay_hist[ASYNC_METRICS_BUCKETS];
    async_time poll_max, delay_max;
#endif
    async_waker *wakers;
    uint32_t armed_wakers;              /* waits another thread may end (wakers, shared) */
    volatile int pending;
    int wake_fd[2];
    async_stats stats;
    struct async_waiter *remote;        /* made ready by other threads, not yet collected */
    async_task *spawns;                 /* spawned from other threads, not yet queued */
    volatile int remote_lock;           /* guards remote and spawns */
    volatile int load;                  /* tasks alive, published for other threads */
    struct async_group *group;          /* NULL: not in a group */
    int index;                          /* its place in the group */
    volatile int dump_req;              /* group: dump at the next turn, then 0 */
    volatile int parked;                /* group: asleep in the reactor (wakers write) */
    int slept;                          /* group: parked since the wake fd was drained */
    uint32_t xwaits;                    /* tasks waiting on shared objects */
    async_time spin;                    /* group: spin this long for a wake first */
    int spawn_closed;                   /* under remote_lock: spawns refused (destroyed) */
    int nspawns;                        /* under remote_lock: how many spawns holds */
    async_stats stats_pub;              /* group: the counters as of the last turn
                                           (under remote_lock) */
#ifndef ASYNC_FREESTANDING
    async__reactor io;
#endif
};

struct async_waker {
    volatile int flag;
    async_task *task;
    async_waker *next;
    async_runtime *rt;
    void (*on_wake)(async_waker *w);    /* internal: run by the loop instead of a wake */
};

/* Initialise rt (storage that must not move); desc NULL: all defaults. 0 or < 0 */
ASYNC_API int async_runtime_init(async_runtime *rt, const async_runtime_desc *desc);
/* Cancel every live task (cleanup runs), free allocated frames: tasks ended; EBUSY in one */
ASYNC_API int async_runtime_destroy(async_runtime *rt);
/* Run until no task can progress: tasks still alive (0, or those blocked forever) */
ASYNC_API int async_runtime_run(async_runtime *rt);
/* One loop turn, waiting at most max_wait when nothing is ready: polls made */
ASYNC_API int async_runtime_step(async_runtime *rt, async_time max_wait);
/* Spawn t, run until it finishes: its result (ASYNC_EDEADLK if it cannot) */
ASYNC_API int async_runtime_block_on(async_runtime *rt, async_task *t, async_task_fn fn,
                                     const char *name);
/* Copy the counters (polls, wakes, timers fired, I/O events...) into *out */
ASYNC_API void async_runtime_stats(const async_runtime *rt, async_stats *out);
/* The metrics now into *out (counters, busy/idle time, gauges, histograms) */
ASYNC_API void async_runtime_metrics(async_runtime *rt, async_metrics *out);
/* Nonzero if a waker fired since the last collection (for an idle hook) */
ASYNC_API int async_runtime_has_pending_wake(const async_runtime *rt); /* Context: anywhere */
/* The descriptor a hosted idle hook must also wait on, or -1 (no waker yet) */
ASYNC_API int async_runtime_wake_fd(const async_runtime *rt);

/* Queue the task t (a zeroed frame of yours) to run fn; never runs it here. 0 or <0 */
ASYNC_API int async_task_spawn(async_runtime *rt, async_task *t, async_task_fn fn,
                               const char *name);
/* Spawn in a zeroed frame_size frame from ASYNC_MALLOC (*out); ENOMEM */
ASYNC_API int async_task_spawn_alloc(async_runtime *rt, async_task_fn fn, size_t frame_size,
                                     const char *name, async_task **out);
/* op: wait for child to finish, give its result (ASYNC_ECANCELED if aborted) */
ASYNC_API int async_task_join(async_task *self, async_task *child);      /* op */
/* Cancel t at its next poll (its cleanup runs); 0, also when already finished */
ASYNC_API int async_task_abort(async_task *t);
/* Nobody will join t: its allocated frame is freed when it ends. EBUSY while joined */
ASYNC_API int async_task_detach(async_task *t);
/* Make a waiting task ready: O(1), idempotent. Context: the loop's thread */
ASYNC_API int async_task_wake(async_task *t);
/* In a poll function that is always ready: 1 go on, 0 budget spent (yield) */
ASYNC_API int async_task_consume_budget(async_task *t);
/* 0 and t's result in *result once finished, else ASYNC_ESTATE */
ASYNC_API int async_task_result(const async_task *t, int *result);
/* 1 if t has finished (state DONE), else 0 */
ASYNC_API int async_task_is_finished(const async_task *t);
/* t's ASYNC_TASK_* state (RUNNING while polled, DEFERRED when yielded) */
ASYNC_API int async_task_state(const async_task *t);
/* The name given at spawn, "" if none; never NULL */
ASYNC_API const char *async_task_name(const async_task *t);
/* Where t is suspended (*file, *line); ASYNC_ESTATE if it is not suspended */
ASYNC_API int async_task_where(const async_task *t, const char **file, int *line);
/* The runtime t was spawned on (it stays so once t finished), NULL if never spawned. */
ASYNC_API async_runtime *async_task_runtime(const async_task *t);

/* Register w with rt (hosted: makes the wake descriptor); EBUSY if already registered */
ASYNC_API int async_waker_init(async_runtime *rt, async_waker *w);
/* Unregister w; EBUSY while a task waits on it */
ASYNC_API int async_waker_destroy(async_waker *w);
/* Wake the task waiting on w, or mark the wake for its next wait; never lost */
ASYNC_API void async_waker_wake(async_waker *w);                 /* Context: anywhere */
/* op: wait for a wake of w (one kept from before the wait completes at once) */
ASYNC_API int async_waker_wait(async_task *t, async_waker *w);   /* op */

////////////////////////////////////////////////////////////////////////////////
// >>time

/* Durations in nanoseconds, the one time unit: ASYNC_MS(100) is 100 ms. */
#define ASYNC_NS(n) ((async_time)(n))
#define ASYNC_US(n) ((async_time)(n) * 1000u)
#define ASYNC_MS(n) ((async_time)(n) * 1000000u)
#define ASYNC_SEC(n) ((async_time)(n) * 1000000000u)
#define ASYNC_TIME_NEVER UINT64_MAX     /* a deadline that never comes */

/* An interval's missed ticks: catch up back to back, push the rest back by the delay,
   or skip to the next multiple of the period. */
enum { ASYNC_TICK_BURST = 0, ASYNC_TICK_DELAY = 1, ASYNC_TICK_SKIP = 2 };

typedef struct async_interval {
    async_timer timer;
    async_time period, next;
    uint8_t missed, started;
} async_interval;

/* rt's clock now (the paused instant while paused); monotonic, never the wall clock */
ASYNC_API async_time async_time_now(async_runtime *rt);
/* The earliest armed timer's deadline, or ASYNC_TIME_NEVER if none */
ASYNC_API async_time async_runtime_next_deadline(const async_runtime *rt);
/* Stop the clock (auto_advance: jump to the next deadline when idle); ESTATE if so */
ASYNC_API int async_time_pause(async_runtime *rt, int auto_advance);
/* Let the paused clock run again from the paused instant; ESTATE if not paused */
ASYNC_API int async_time_resume(async_runtime *rt);
/* Move the paused clock forward, firing what falls due; ESTATE if not paused */
ASYNC_API int async_time_advance(async_runtime *rt, async_time duration);

/* op: 0 once duration has passed (timer: in the frame, zeroed) */
ASYNC_API int async_time_sleep(async_task *t, async_timer *timer, async_time duration); /* op */
/* op: 0 once the clock reaches deadline (passed: at once; NEVER: only a cancel) */
ASYNC_API int async_time_sleep_until(async_task *t, async_timer *timer, async_time deadline);
/* An interval of period (> 0) whose first tick is its first poll; missed: TICK_* */
ASYNC_API int async_interval_init(async_interval *iv, async_time period, int missed);
/* An interval whose first tick is at start, then every period */
ASYNC_API int async_interval_init_until(async_interval *iv, async_time start, async_time period,
                                        int missed);
/* op: 0 at the next tick, its scheduled time in *when (may be NULL) */
ASYNC_API int async_interval_tick(async_task *t, async_interval *iv, async_time *when); /* op */
/* The next tick comes one period after the next poll of tick */
ASYNC_API void async_interval_reset(async_interval *iv);

/* Await op; when duration (or the absolute deadline) passes first, op is cancelled and rc
   is ASYNC_ETIMEDOUT. _CALL_TIMEOUT: the same around a nested async function call. */
#define ASYNC_AWAIT_TIMEOUT(rc, timer, duration, op) \
    ASYNC__AWAIT_DL(ASYNC__ID, rc, timer, async__deadline_after(async__t, (duration)), op, #op)
#define ASYNC_AWAIT_TIMEOUT_UNTIL(rc, timer, deadline, op) \
    ASYNC__AWAIT_DL(ASYNC__ID, rc, timer, (deadline), op, #op)
#define ASYNC_AWAIT_CALL_TIMEOUT(rc, timer, duration, child, call) \
    do { ((child)->lc = 0); ASYNC_AWAIT_TIMEOUT(rc, timer, duration, call); } while (0)

////////////////////////////////////////////////////////////////////////////////
// >>sync

/* One waiter node per pending wait, in the caller's frame; zero it before use. All
   sync and channel primitives queue these on an async_waitq (FIFO). */
typedef struct async_waiter {
    struct async_waiter *next, *prev;   /* its queue: a circular list */
    async_task *task;                   /* the task to wake */
    size_t want, got;                   /* permits asked for, and handed over so far */
    uint32_t gen;                       /* generation seen (Barrier) */
    uint8_t state;                      /* 0 idle, 1 waiting, 2 ready, 3 closed */
    uint8_t kind;                       /* how it was made ready (Notify) */
    uint8_t shared;                     /* waits on a shared object: 1, 2 counted */
} async_waiter;

typedef struct async_waitq {
    async_waiter *head;                 /* NULL: empty */
} async_waitq;

#define ASYNC_SEMAPHORE_MAX_PERMITS (SIZE_MAX >> 3)
#define ASYNC_RWLOCK_MAX_READERS ((size_t)(UINT32_MAX >> 3))

typedef struct async_semaphore {
    async_waitq q;
    size_t used, permits;               /* permits out of the total */
    uint8_t closed;
} async_semaphore;

typedef struct async_mutex {            /* {0} is an unlocked mutex */
    async_waitq q;
    size_t used;
    uint8_t handed;                     /* the lock went to a waiter that has not run yet */
} async_mutex;

typedef struct async_rwlock {           /* {0} is an unlocked lock */
    async_waitq q;
    size_t used;                        /* permits out, partial grants to waiters included */
    uint32_t readers;                   /* holders: readers, or a writer */
    uint8_t writer;
} async_rwlock;

typedef struct async_notify {           /* {0}: no waiters, no stored permit */
    async_waitq q;
    uint8_t permit;
} async_notify;

typedef struct async_barrier {
    async_waitq q;
    uint32_t parties, count, gen;
} async_barrier;

typedef struct async_cancel_token {     /* {0} is a root token, not cancelled */
    async_waitq q;
    struct async_cancel_token *parent, *child, *next, *prev;
    uint8_t cancelled;
} async_cancel_token;

/* Static initialisers: an unlocked mutex, a notify with no waiter and no permit. */
#define ASYNC_MUTEX_INIT {{0}, 0, 0}
#define ASYNC_NOTIFY_INIT {{0}, 0}

/* n permits (up to ASYNC_SEMAPHORE_MAX_PERMITS, else EINVAL); {0} is 0 permits */
ASYNC_API int async_semaphore_init(async_semaphore *s, size_t permits);
/* op: 0 with one permit (FIFO, no barging); ASYNC_ECLOSED once closed */
ASYNC_API int async_semaphore_acquire(async_task *t, async_semaphore *s, async_waiter *w);
/* op: 0 with n permits at once (granted in parts, in turn); ECLOSED */
ASYNC_API int async_semaphore_acquire_many(async_task *t, async_semaphore *s, async_waiter *w,
                                           size_t n);                       /* op */
/* 0 with n permits now; ASYNC_EAGAIN if short or others wait, ECLOSED */
ASYNC_API int async_semaphore_try_acquire(async_semaphore *s, size_t n);
/* Give back n held permits (the head waiter first); EINVAL if more than out */
ASYNC_API int async_semaphore_release(async_semaphore *s, size_t n);
/* n more permits in total (EINVAL past the maximum); waiters served */
ASYNC_API int async_semaphore_add_permits(async_semaphore *s, size_t n);
/* n held permits vanish instead of coming back; EINVAL if more than out */
ASYNC_API int async_semaphore_forget_held(async_semaphore *s, size_t n);
/* Remove up to n free permits: how many were removed */
ASYNC_API size_t async_semaphore_forget_permits(async_semaphore *s, size_t n);
/* Waiters and later acquires fail with ASYNC_ECLOSED; held permits stay held */
ASYNC_API int async_semaphore_close(async_semaphore *s);
/* 1 once closed */
ASYNC_API int async_semaphore_is_closed(const async_semaphore *s);
/* Free permits now */
ASYNC_API size_t async_semaphore_available_permits(const async_semaphore *s);

/* A token bucket: up to `capacity` tokens, `refill` more each `period` of rt's clock
   (whole periods), full at init. Local to rt's tasks (SYNC: the token bucket). */
typedef struct async_token_bucket {
    async_waitq q;                      /* acquires waiting, FIFO; non-empty: no token */
    async_timer timer;                  /* the head waiter's: when its tokens are in */
    async_runtime *rt;
    async_time period, last;            /* the refill period, and the last refill's instant */
    size_t capacity, refill, tokens;
} async_token_bucket;

#define ASYNC_TOKEN_BUCKET_MAX ASYNC_SEMAPHORE_MAX_PERMITS

/* Full (capacity tokens); EINVAL: a zero or an amount past ASYNC_TOKEN_BUCKET_MAX */
ASYNC_API int async_token_bucket_init(async_token_bucket *b, async_runtime *rt,
                                      size_t capacity, size_t refill, async_time period);
/* op: 0 once n tokens are taken (FIFO, in parts; n may exceed the capacity) */
ASYNC_API int async_token_bucket_acquire(async_task *t, async_token_bucket *b,
                                         async_waiter *w, size_t n);        /* op */
/* 0 with n tokens taken now; ASYNC_EAGAIN if short or others wait */
ASYNC_API int async_token_bucket_try_acquire(async_token_bucket *b, size_t n);
/* Tokens in the bucket now (refills due counted in) */
ASYNC_API size_t async_token_bucket_available(async_token_bucket *b);
/* Put n tokens back (a refund: the head waiter first, the bucket up to its capacity) */
ASYNC_API int async_token_bucket_add(async_token_bucket *b, size_t n);
/* How long an acquire of n made now would wait (0: none; ASYNC_TIME_NEVER: past the
   clock's range) */
ASYNC_API async_time async_token_bucket_delay(async_token_bucket *b, size_t n);

/* An unlocked mutex (as ASYNC_MUTEX_INIT or {0}) */
ASYNC_API int async_mutex_init(async_mutex *m);
/* static inline: int async_mutex_lock(async_task *t, async_mutex *m, async_waiter *w); op
                 int async_mutex_unlock(async_mutex *m);    (fast paths; see >>details) */
/* 0 with the lock, ASYNC_EBUSY if it is held or others wait for it */
ASYNC_API int async_mutex_try_lock(async_mutex *m);
/* 1 while held (or handed to a waiter that has not run yet) */
ASYNC_API int async_mutex_is_locked(const async_mutex *m);

/* An unlocked lock (as {0}) */
ASYNC_API int async_rwlock_init(async_rwlock *l);
/* op: 0 with a read lock; waits behind a queued writer (fair, FIFO) */
ASYNC_API int async_rwlock_read(async_task *t, async_rwlock *l, async_waiter *w);  /* op */
/* op: 0 with the write lock, once every reader has left */
ASYNC_API int async_rwlock_write(async_task *t, async_rwlock *l, async_waiter *w); /* op */
/* 0 with a read lock now, ASYNC_EBUSY if a writer holds or waits */
ASYNC_API int async_rwlock_try_read(async_rwlock *l);
/* 0 with the write lock now, ASYNC_EBUSY if anyone holds or waits */
ASYNC_API int async_rwlock_try_write(async_rwlock *l);
/* Drop a read lock; EINVAL if none is held */
ASYNC_API int async_rwlock_read_unlock(async_rwlock *l);
/* Drop the write lock; EINVAL if not held */
ASYNC_API int async_rwlock_write_unlock(async_rwlock *l);
/* Write lock to read lock at once (readers queued behind join); EINVAL */
ASYNC_API int async_rwlock_downgrade(async_rwlock *l);

/* No waiters, no stored permit (as ASYNC_NOTIFY_INIT or {0}) */
ASYNC_API int async_notify_init(async_notify *n);
/* op: 0 when notified (a stored permit is taken at once) */
ASYNC_API int async_notify_wait(async_task *t, async_notify *n, async_waiter *w);  /* op */
/* Queue w now without waiting (a stored permit is taken); await wait after */
ASYNC_API int async_notify_enable(async_task *t, async_notify *n, async_waiter *w);
/* Wake the oldest waiter, or store one permit for the next wait */
ASYNC_API int async_notify_one(async_notify *n);
/* Wake the newest waiter, or store one permit for the next wait */
ASYNC_API int async_notify_last(async_notify *n);
/* Wake every task waiting now; stores no permit */
ASYNC_API int async_notify_waiters(async_notify *n);

/* A barrier for parties tasks (0 counts as 1) */
ASYNC_API int async_barrier_init(async_barrier *b, uint32_t parties);
/* op: 1 for the one leader of each generation, 0 for the others */
ASYNC_API int async_barrier_wait(async_task *t, async_barrier *b, async_waiter *w); /* op */

/* A root token, not cancelled (as {0}) */
ASYNC_API int async_cancel_token_init(async_cancel_token *tok);
/* Make child (not in a tree) a child of parent: cancelled with it */
ASYNC_API int async_cancel_token_init_child(async_cancel_token *parent, async_cancel_token *child);
/* Cancel tok and its whole subtree, waking their waiters */
ASYNC_API int async_cancel_token_cancel(async_cancel_token *tok);
/* 1 once tok (or an ancestor, at the time) was cancelled */
ASYNC_API int async_cancel_token_is_cancelled(const async_cancel_token *tok);
/* op: 0 once tok is cancelled */
ASYNC_API int async_cancel_token_wait(async_task *t, async_cancel_token *tok,
                                      async_waiter *w);                     /* op */
/* Take tok out of its tree (children move to its parent); EBUSY if waited */
ASYNC_API int async_cancel_token_destroy(async_cancel_token *tok);

////////////////////////////////////////////////////////////////////////////////
// >>chan

/* Channels copy items of a fixed size in and out (item_size bytes, any type). Where
   storage is a parameter, pass a buffer of the size the *_storage_size function
   gives, or NULL to have it allocated through ASYNC_MALLOC (freed by *_destroy). */

typedef struct async__block async__block;

typedef struct async_mpsc {
    unsigned char *buf;                 /* bounded: a ring of `cap` items */
    size_t item_size, cap;              /* cap 0: unbounded */
    size_t head, len;                   /* first item and item count */
    size_t used;                        /* slots out: items plus reserved permits */
    async_waitq send_q, recv_q, closed_q;
    async__block *first, *last, *spare; /* unbounded: blocks of items */
    size_t rpos, wpos;
    uint32_t senders;                   /* live sender handles (1 after init) */
    uint8_t rx_closed, own;
    uint8_t shared;                     /* any thread, any runtime (init_shared) */
    volatile int lock;                  /* shared: held while an operation runs */
    size_t tx_size, rx_size;            /* item_size where the fast paths apply
                                           (bounded, local; sends: not closed), else
                                           SIZE_MAX */
} async_mpsc;

typedef struct async_oneshot {
    unsigned char *value;
    size_t item_size;
    async_waitq rx_q, closed_q;
    uint8_t state, rx_closed, own;
    uint8_t shared;                     /* any thread, any runtime (init_shared) */
    volatile int lock;
} async_oneshot;

typedef struct async_broadcast {
    unsigned char *buf;
    size_t item_size, cap;              /* cap: a power of two */
    uint64_t tail;                      /* position of the next item sent */
    uint32_t senders, receivers;
    uint8_t own;
    uint8_t shared;                     /* any thread, any runtime (init_shared) */
    volatile int lock;
    async_waitq q;
} async_broadcast;

typedef struct async_broadcast_rx {
    async_broadcast *ch;
    uint64_t next;                      /* position of the next item to receive */
    uint64_t lagged;                    /* after ASYNC_ELAGGED: how many were lost */
} async_broadcast_rx;

typedef struct async_watch {
    unsigned char *value;
    size_t item_size;
    uint64_t version;
    uint32_t senders, receivers;
    uint8_t closed, own;
    async_waitq q;
} async_watch;

typedef struct async_watch_rx {
    async_watch *ch;
    uint64_t seen;                      /* version this receiver has seen */
} async_watch_rx;

/* Bytes of storage a bounded channel of capacity items needs (SIZE_MAX: too big) */
ASYNC_API size_t async_mpsc_storage_size(size_t item_size, size_t capacity);
/* capacity items (0: unbounded) in storage (NULL: allocated); one sender; ENOMEM */
ASYNC_API int async_mpsc_init(async_mpsc *c, size_t item_size, size_t capacity, void *storage);
#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
/* The same, shared: any runtime's tasks and any thread may use it (see MULTI-CORE) */
ASYNC_API int async_mpsc_init_shared(async_mpsc *c, size_t item_size, size_t capacity,
                                     void *storage);
#endif
/* Free what init allocated, drop buffered items; EBUSY while a task waits */
ASYNC_API int async_mpsc_destroy(async_mpsc *c);
/* op: 0 once the item is copied in (waits while full, FIFO); ASYNC_ECLOSED */
ASYNC_API int async_mpsc_send(async_task *t, async_mpsc *c, async_waiter *w,
                              const void *item);                            /* op */
/* 0 with the item copied in; ASYNC_EAGAIN when full, ASYNC_ECLOSED when closed */
ASYNC_API int async_mpsc_try_send(async_mpsc *c, const void *item);
/* op: 0 with a permit for one slot (send_reserved uses it); ASYNC_ECLOSED */
ASYNC_API int async_mpsc_reserve(async_task *t, async_mpsc *c, async_waiter *w);   /* op */
/* 0 with a permit now; ASYNC_EAGAIN when full, ASYNC_ECLOSED when closed */
ASYNC_API int async_mpsc_try_reserve(async_mpsc *c);
/* Send with a permit from reserve: never waits, never fails for room */
ASYNC_API int async_mpsc_send_reserved(async_mpsc *c, const void *item);
/* Give an unused permit back; EINVAL if none is out */
ASYNC_API int async_mpsc_release_reserved(async_mpsc *c);
/* op: 0 with the oldest item; ASYNC_ECLOSED when no sender is left and empty */
ASYNC_API int async_mpsc_recv(async_task *t, async_mpsc *c, async_waiter *w, void *item); /* op */
/* 0 with the oldest item; ASYNC_EAGAIN when empty, ASYNC_ECLOSED at the end */
ASYNC_API int async_mpsc_try_recv(async_mpsc *c, void *item);
/* op: waits for one item, then takes up to limit into items: how many */
ASYNC_API int async_mpsc_recv_many(async_task *t, async_mpsc *c, async_waiter *w,
                                   void *items, size_t limit);              /* op */
/* The receiver closes: later sends fail, what is buffered can still be received */
ASYNC_API int async_mpsc_close(async_mpsc *c);
/* 1 once the receiver has closed */
ASYNC_API int async_mpsc_is_closed(const async_mpsc *c);
/* op: 0 once the receiver has closed (a sender waiting to stop) */
ASYNC_API int async_mpsc_wait_closed(async_task *t, async_mpsc *c, async_waiter *w); /* op */
/* One more sender handle; ASYNC_ECLOSED once the last was released */
ASYNC_API int async_mpsc_sender_clone(async_mpsc *c);
/* Drop a sender handle; after the last, recv ends with ASYNC_ECLOSED */
ASYNC_API int async_mpsc_sender_release(async_mpsc *c);
/* Items buffered now */
ASYNC_API size_t async_mpsc_len(const async_mpsc *c);
/* Free slots now (bounded: capacity - items - permits out); SIZE_MAX unbounded */
ASYNC_API size_t async_mpsc_capacity(const async_mpsc *c);

/* A one-value channel of item_size bytes in storage (NULL: allocated); ENOMEM */
ASYNC_API int async_oneshot_init(async_oneshot *o, size_t item_size, void *storage);
#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
/* The same, shared: sender and receiver on any runtimes or threads */
ASYNC_API int async_oneshot_init_shared(async_oneshot *o, size_t item_size, void *storage);
#endif
/* Free what init allocated; EBUSY while a task waits */
ASYNC_API int async_oneshot_destroy(async_oneshot *o);
/* Store the value (never waits); ASYNC_ECLOSED if the receiver is gone, ESTATE if sent */
ASYNC_API int async_oneshot_send(async_oneshot *o, const void *item);
/* op: 0 with the value; ASYNC_ECLOSED if the sender left without sending */
ASYNC_API int async_oneshot_recv(async_task *t, async_oneshot *o, async_waiter *w,
                                 void *item);                               /* op */
/* 0 with the value; ASYNC_EAGAIN if not sent yet, ASYNC_ECLOSED if never or taken */
ASYNC_API int async_oneshot_try_recv(async_oneshot *o, void *item);
/* The sender goes away without sending: recv gives ASYNC_ECLOSED */
ASYNC_API int async_oneshot_sender_release(async_oneshot *o);
/* The receiver goes away: send fails with ASYNC_ECLOSED */
ASYNC_API int async_oneshot_close(async_oneshot *o);
/* 1 once the receiver has closed */
ASYNC_API int async_oneshot_is_closed(const async_oneshot *o);
/* op: 0 once the receiver has closed */
ASYNC_API int async_oneshot_wait_closed(async_task *t, async_oneshot *o, async_waiter *w); /* op */

/* Bytes of storage for capacity items (rounded up to a power of two) */
ASYNC_API size_t async_broadcast_storage_size(size_t item_size, size_t capacity);
/* capacity items (a power of two, rounded up) in storage (NULL: allocated) */
ASYNC_API int async_broadcast_init(async_broadcast *b, size_t item_size, size_t capacity,
                                   void *storage);
#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
/* The same, shared: senders and receivers on any runtimes or threads */
ASYNC_API int async_broadcast_init_shared(async_broadcast *b, size_t item_size,
                                          size_t capacity, void *storage);
#endif
/* Free what init allocated; EBUSY while a task waits */
ASYNC_API int async_broadcast_destroy(async_broadcast *b);
/* Store for every receiver: receiver count; ASYNC_ENORECV with none (dropped) */
ASYNC_API int async_broadcast_send(async_broadcast *b, const void *item);
/* rx receives the items sent from now on */
ASYNC_API int async_broadcast_subscribe(async_broadcast *b, async_broadcast_rx *rx);
/* rx stops receiving (its unread items no longer count) */
ASYNC_API int async_broadcast_unsubscribe(async_broadcast_rx *rx);
/* op: 0 with rx's next item; ASYNC_ELAGGED once if it fell behind (rx->lagged) */
ASYNC_API int async_broadcast_recv(async_task *t, async_broadcast_rx *rx, async_waiter *w,
                                   void *item);                             /* op */
/* 0 with rx's next item; ASYNC_EAGAIN if none, ELAGGED, ECLOSED */
ASYNC_API int async_broadcast_try_recv(async_broadcast_rx *rx, void *item);
/* Items rx has not read yet, the overwritten ones included (Tokio's len) */
ASYNC_API uint64_t async_broadcast_rx_len(const async_broadcast_rx *rx);
/* One more sender handle; ASYNC_ECLOSED once the last was released */
ASYNC_API int async_broadcast_sender_clone(async_broadcast *b);
/* Drop a sender handle; after the last, receivers end with ECLOSED */
ASYNC_API int async_broadcast_sender_release(async_broadcast *b);

/* A value of item_size bytes, first *initial, in storage (NULL: allocated) */
ASYNC_API int async_watch_init(async_watch *ch, size_t item_size, void *storage,
                               const void *initial);
/* Free what init allocated; EBUSY while a task waits */
ASYNC_API int async_watch_destroy(async_watch *ch);
/* rx watches ch; the value current now counts as seen */
ASYNC_API int async_watch_subscribe(async_watch *ch, async_watch_rx *rx);
/* rx stops watching */
ASYNC_API int async_watch_unsubscribe(async_watch_rx *rx);
/* Store a new version if anyone watches (ASYNC_ENORECV: none, not stored) */
ASYNC_API int async_watch_send(async_watch *ch, const void *item);
/* Always store; the previous value goes to *old (may be NULL) */
ASYNC_API int async_watch_send_replace(async_watch *ch, const void *item, void *old);
/* Always store: modify(value, user) edits the value in place */
ASYNC_API int async_watch_send_modify(async_watch *ch, void (*modify)(void *value, void *user),
                                      void *user);
/* Copy the current value, not marking it seen */
ASYNC_API int async_watch_borrow(const async_watch_rx *rx, void *item);
/* Copy the current value and mark it seen */
ASYNC_API int async_watch_borrow_and_update(async_watch_rx *rx, void *item);
/* 1 if a version is unseen, 0 if not; ASYNC_ECLOSED once closed */
ASYNC_API int async_watch_has_changed(const async_watch_rx *rx);
/* Make the current version unseen by rx */
ASYNC_API int async_watch_mark_changed(async_watch_rx *rx);
/* Mark the current version seen by rx */
ASYNC_API int async_watch_mark_unchanged(async_watch_rx *rx);
/* op: 0 when a version is unseen (marking it seen); ECLOSED at the end */
ASYNC_API int async_watch_wait_changed(async_task *t, async_watch_rx *rx, async_waiter *w); /* op */
/* One more sender handle; ASYNC_ECLOSED once the last was released */
ASYNC_API int async_watch_sender_clone(async_watch *ch);
/* Drop a sender handle; after the last, changed ends with ECLOSED */
ASYNC_API int async_watch_sender_release(async_watch *ch);

/* Typed mpsc wrappers: ASYNC_MPSC_TYPED(prefix, type) defines
     int prefix_send(async_task *t, async_mpsc *c, async_waiter *w, const type *item);  op
     int prefix_recv(async_task *t, async_mpsc *c, async_waiter *w, type *item);        op
     int prefix_try_send(async_mpsc *c, const type *item);
     int prefix_try_recv(async_mpsc *c, type *item);
   as static inline functions (send and recv always inlined on hosted builds: a call
   per receive would cost a ping-pong more than the receive) whose fast path (a
   bounded channel with room, or with an item) copies with the type's size known;
   everything else goes to the async_mpsc_ functions. The channel's item_size must
   be sizeof(type): ASYNC_EINVAL if not. */
#define ASYNC_MPSC_TYPED(prefix, type) \
    ASYNC__TYPED int prefix##_send(async_task *t, async_mpsc *c, async_waiter *w, \
                                   const type *item) { \
        if (async__mpsc_can_put(t, c, w, sizeof(type))) { \
            size_t pos_ = c->head + c->len; \
            if (pos_ >= c->cap) pos_ -= c->cap; \
            async__memcpy(c->buf + pos_ * sizeof(type), item, sizeof(type)); \
            return async__mpsc_put_done(c); \
        } \
        if (c && c->item_size != sizeof(type)) return ASYNC_EINVAL; \
        return async_mpsc_send(t, c, w, item); \
    } \
    ASYNC__TYPED int prefix##_recv(async_task *t, async_mpsc *c, async_waiter *w, \
                                   type *item) { \
        if (async__mpsc_can_take(t, c, w, sizeof(type))) { \
            async__memcpy(item, c->buf + c->head * sizeof(type), sizeof(type)); \
            return async__mpsc_take_done(c); \
        } \
        if (async__mpsc_park(t, c, w, sizeof(type))) return ASYNC_PENDING; \
        if (c && c->item_size != sizeof(type)) return ASYNC_EINVAL; \
        return async_mpsc_recv(t, c, w, item); \
    } \
    static inline ASYNC__UNUSED int prefix##_try_send(async_mpsc *c, const type *item) { \
        if (c && c->item_size != sizeof(type)) return ASYNC_EINVAL; \
        return async_mpsc_try_send(c, item); \
    } \
    static inline ASYNC__UNUSED int prefix##_try_recv(async_mpsc *c, type *item) { \
        if (c && c->item_size != sizeof(type)) return ASYNC_EINVAL; \
        return async_mpsc_try_recv(c, item); \
    } \
    static inline ASYNC__UNUSED int prefix##_recv_many(async_task *t, async_mpsc *c, \
                                                       async_waiter *w, type *items, \
                                                       size_t limit) { \
        if (c && c->item_size != sizeof(type)) return ASYNC_EINVAL; \
        return async_mpsc_recv_many(t, c, w, items, limit); \
    }

////////////////////////////////////////////////////////////////////////////////
// >>combinators

/* State of one select, join or race, in the frame (up to 32 branches). */
typedef struct async_select {
    uint32_t enabled;                   /* branches whose guard held at the start */
    uint32_t pending;                   /* polled and not finished: cancelled if another wins */
    uint32_t done;                      /* join: finished branches */
    uint32_t cancel;                    /* the cancel pass: branches still to cancel */
    uint32_t skip;                      /* join stopping: branches never started */
    int err;                            /* ASYNC_JOIN_FAIL_FAST: the first error */
    int16_t winner;                     /* select: the branch that completed, ASYNC_SELECT_ELSE */
    uint8_t n, k, ci, gi, start, mode, flags;
} async_select;
typedef async_select async_join;

#define ASYNC_SELECT_FAIR 0             /* random first branch each poll (tokio::select!) */
#define ASYNC_SELECT_BIASED 1           /* first ready branch in order (biased;) */
#define ASYNC_SELECT_NOWAIT 2           /* | either: take ASYNC_SELECT_ELSE if nothing is ready */
#define ASYNC_JOIN_FAIL_FAST 4          /* join: stop at the first error, cancel the rest */
#define ASYNC_SELECT_ELSE (-1)          /* winner when every branch is disabled (or NOWAIT) */
#define ASYNC_SELECT_TIMEDOUT (-3)      /* winner when a _TIMEOUT(_UNTIL) form timed out */

/* select: the first branch to complete wins; every other branch that was waiting is
   polled once in cancel mode (it unlinks, and a cancel-safe operation loses nothing).
   The handlers go after END, on sel->winner:
     ASYNC_SELECT_BEGIN(&f->sel, 2, ASYNC_SELECT_FAIR);
       ASYNC_SELECT_BRANCH(&f->sel, 0, 1, f->rc, async_mpsc_recv(t, &f->a, &f->w0, &f->x));
       ASYNC_SELECT_BRANCH(&f->sel, 1, f->armed, f->rc, async_time_sleep(t, &f->tm, ASYNC_MS(5)));
     ASYNC_SELECT_END(&f->sel);
     if (f->sel.winner == 0) ... else if (f->sel.winner == 1) ... else ... (ELSE)
   A guard is evaluated once, at the start; a false one disables its branch. */
#define ASYNC_SELECT_BEGIN(sel, n, mode) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, sel, n, mode, 0, (void)0, (async_timer *)0, "select")
#define ASYNC_SELECT_BRANCH(sel, i, guard, rc, op) ASYNC__COMBO_BRANCH(sel, i, guard, rc, op, 0)
#define ASYNC_SELECT_BRANCH_CALL(sel, i, guard, rc, child, call) \
    ASYNC__COMBO_BRANCH(sel, i, guard, rc, ((sel)->flags & 1 ? ((child)->lc = 0) : 0, (call)), 0)
#define ASYNC_SELECT_END(sel) ASYNC__COMBO_END(sel)

/* join: every branch to completion (their results in their rc); with ASYNC_JOIN_FAIL_FAST
   the first error stops it, cancels the others and is left in join->err. */
#define ASYNC_JOIN_BEGIN(js, n, mode) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, js, n, mode, 1, (void)0, (async_timer *)0, "join")
#define ASYNC_JOIN_BRANCH(js, i, rc, op) ASYNC__COMBO_BRANCH(js, i, 1, rc, op, 1)
#define ASYNC_JOIN_BRANCH_CALL(js, i, rc, child, call) \
    ASYNC__COMBO_BRANCH(js, i, 1, rc, ((js)->flags & 1 ? ((child)->lc = 0) : 0, (call)), 1)
#define ASYNC_JOIN_END(js) ASYNC__COMBO_END(js)

/* A timeout (or an absolute deadline) around a select or a join, as
   tokio::time::timeout(d, select!{...}); closed by the same END. The branches are
   polled first, so one ready at the deadline still wins; when the timer (in the frame,
   armed once at the start) fires first, every branch still waiting is cancelled as
   select's losers are, sel->err becomes ASYNC_ETIMEDOUT and a select's winner
   ASYNC_SELECT_TIMEDOUT (a join keeps the results of the branches that finished; the
   others say ASYNC_ECANCELED). */
#define ASYNC_SELECT_BEGIN_TIMEOUT(sel, n, mode, timer, duration) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, sel, n, mode, 0, ASYNC__COMBO_ARM(timer, \
        async__deadline_after(async__t, (duration))), (timer), "select (timeout)")
#define ASYNC_SELECT_BEGIN_TIMEOUT_UNTIL(sel, n, mode, timer, deadline) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, sel, n, mode, 0, ASYNC__COMBO_ARM(timer, (deadline)), \
        (timer), "select (deadline)")
#define ASYNC_JOIN_BEGIN_TIMEOUT(js, n, mode, timer, duration) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, js, n, mode, 1, ASYNC__COMBO_ARM(timer, \
        async__deadline_after(async__t, (duration))), (timer), "join (timeout)")
#define ASYNC_JOIN_BEGIN_TIMEOUT_UNTIL(js, n, mode, timer, deadline) \
    ASYNC__COMBO_BEGIN(ASYNC__ID, js, n, mode, 1, ASYNC__COMBO_ARM(timer, (deadline)), \
        (timer), "join (deadline)")

/* race: the first result wins, into one rc; the others are cancelled. */
#define ASYNC_RACE2(sel, rc, op0, op1) \
    ASYNC_SELECT_BEGIN(sel, 2, ASYNC_SELECT_FAIR) \
        ASYNC_SELECT_BRANCH(sel, 0, 1, rc, op0) \
        ASYNC_SELECT_BRANCH(sel, 1, 1, rc, op1) \
    ASYNC_SELECT_END(sel)
#define ASYNC_RACE3(sel, rc, op0, op1, op2) \
    ASYNC_SELECT_BEGIN(sel, 3, ASYNC_SELECT_FAIR) \
        ASYNC_SELECT_BRANCH(sel, 0, 1, rc, op0) \
        ASYNC_SELECT_BRANCH(sel, 1, 1, rc, op1) \
        ASYNC_SELECT_BRANCH(sel, 2, 1, rc, op2) \
    ASYNC_SELECT_END(sel)

/* join_all over an array: op uses the index i (an int lvalue); rcs[] gets results. */
#define ASYNC_JOIN_ALL(rcs, n, i, op) ASYNC__JOIN_ALL(ASYNC__ID, rcs, n, i, op, (int *)0, #op)
/* fail fast (Tokio's try_join_all): rc (an int lvalue) gets 0, or the first error; the
   operations still pending then are cancelled (their rcs[] say ASYNC_ECANCELED). */
#define ASYNC_JOIN_ALL_FAIL_FAST(rc, rcs, n, i, op) \
    ASYNC__JOIN_ALL(ASYNC__ID, rcs, n, i, op, &(rc), #op)

/* Result helpers: early return on error (Rust's ?), and or_else / map on an rc. */
#define ASYNC_AWAIT_OR_RETURN(rc, op) \
    do { ASYNC_AWAIT(rc, op); if ((rc) < 0) ASYNC_RETURN(rc); } while (0)
#define ASYNC_AWAIT_CALL_OR_RETURN(rc, child, call) \
    do { ASYNC_AWAIT_CALL(rc, child, call); if ((rc) < 0) ASYNC_RETURN(rc); } while (0)
#define ASYNC_OR_ELSE(rc, fallback) ((rc) < 0 ? (fallback) : (rc))
#define ASYNC_MAP(rc, expr) ((rc) < 0 ? (rc) : (expr))
#define ASYNC_MAP_ERR(rc, expr) ((rc) < 0 ? (expr) : (rc))
/* Rust's ? on a status already in hand: return it if it is an error. */
#define ASYNC_OK_OR_RETURN(rc) do { if ((rc) < 0) ASYNC_RETURN(rc); } while (0)
/* and_then / or_else with an await: op runs (its result into rc) only after a success,
   or only after an error (a recovery); _CALL: a nested async function, restarted. */
#define ASYNC_AND_THEN(rc, op) do { if ((rc) >= 0) ASYNC_AWAIT(rc, op); } while (0)
#define ASYNC_AND_THEN_CALL(rc, child, call) \
    do { if ((rc) >= 0) ASYNC_AWAIT_CALL(rc, child, call); } while (0)
#define ASYNC_OR_ELSE_AWAIT(rc, op) do { if ((rc) < 0) ASYNC_AWAIT(rc, op); } while (0)
#define ASYNC_OR_ELSE_CALL(rc, child, call) \
    do { if ((rc) < 0) ASYNC_AWAIT_CALL(rc, child, call); } while (0)

/* Typed results: the value in the frame, the status as the result. A nested async
   function's frame (child: a pointer to it, async_coro co first) holds its value in a
   field; a task's frame (async_task task first) too. After a success, out = the field:
   ASYNC_AWAIT_CALL_INTO(rc, f->user, &f->get, get_user(t, &f->get, id), value);
   ASYNC_JOIN_INTO(rc, f->total, &f->worker, sum);     (joins f->worker.task) */
#define ASYNC_AWAIT_CALL_INTO(rc, out, child, call, field) \
    do { \
        ASYNC_AWAIT_CALL(rc, &(child)->co, call); \
        if ((rc) >= 0) (out) = (child)->field; \
    } while (0)
#define ASYNC_JOIN_INTO(rc, out, child, field) \
    do { \
        ASYNC_AWAIT(rc, async_task_join(async__t, &(child)->task)); \
        if ((rc) >= 0) (out) = (child)->field; \
    } while (0)

/* A status plus a value: ASYNC_RESULT(double) r = {0, 2.5}; ASYNC_IS_OK(r) is 1. */
#define ASYNC_RESULT(T) struct { int status; T value; }
#define ASYNC_IS_OK(r) ((r).status >= 0)

/* JoinSet: tasks spawned into a set; join_next gives them back as they finish. */
typedef struct async_joinset {
    async__owner owner;                 /* first: its members point at it */
    async_runtime *rt;
    async__link done;                   /* finished members, in completion order */
    async_waitq q;                      /* tasks waiting in join_next */
    uint32_t len, running;
    async_task *last;                   /* an allocated member given out by join_next */
    async_task **ring;                  /* ordered mode: members in spawn order */
    size_t cap, head, count;
} async_joinset;

/* An empty set on rt; join_next gives members back as they finish */
ASYNC_API int async_joinset_init(async_joinset *js, async_runtime *rt);
/* A set whose join_next follows spawn order; ring: capacity task slots */
ASYNC_API int async_joinset_init_ordered(async_joinset *js, async_runtime *rt, async_task **ring,
                                         size_t capacity);
/* Spawn t (a zeroed frame) into the set; ASYNC_EAGAIN when an ordered ring is full */
ASYNC_API int async_joinset_spawn(async_joinset *js, async_task *t, async_task_fn fn,
                                  const char *name);
/* Spawn into the set in an allocated frame (*out may be NULL); ENOMEM */
ASYNC_API int async_joinset_spawn_alloc(async_joinset *js, async_task_fn fn, size_t frame_size,
                                        const char *name, async_task **out);
/* op: 0 with a finished member and its result; ASYNC_ECLOSED when empty */
ASYNC_API int async_joinset_join_next(async_task *t, async_joinset *js, async_waiter *w,
                                      async_task **task, int *result);      /* op */
/* op: wait for every member: 0, or the first error among their results */
ASYNC_API int async_joinset_wait_all(async_task *t, async_joinset *js, async_waiter *w); /* op */
/* Members not yet given back by join_next */
ASYNC_API int async_joinset_len(const async_joinset *js);
/* Abort every running member (reap them with join_next): how many */
ASYNC_API int async_joinset_abort_all(async_joinset *js);
/* Let every member go on without the set; finished ones are dropped */
ASYNC_API int async_joinset_detach_all(async_joinset *js);
/* Cancel every member now (cleanup runs), free allocated ones; EBUSY if waited */
ASYNC_API int async_joinset_destroy(async_joinset *js);

/* OpSet: pending operations inside one task (FuturesUnordered / FuturesOrdered). An
   op is fn(t, state): a poll function (an operation, or a nested async function called
   through a small adapter) whose state lives in storage of yours; the set keeps the
   polls' order and bookkeeping in slots (yours, or allocated). */
typedef int (*async_opset_fn)(async_task *t, void *state);
typedef struct async_opset_slot {
    async_opset_fn fn;                  /* NULL: free */
    void *state;
    int32_t next, prev;                 /* the ring of ops in push order; free: the free list */
    int rc;                             /* ordered: a result held until its turn */
    uint32_t epoch;                     /* the set's epoch when it last said pending */
    uint8_t st;                         /* free, fresh (never polled), pending, done (held) */
} async_opset_slot;
typedef struct async_opset {
    async_opset_slot *slots;
    uint32_t cap, len;
    int32_t head, cursor, free;         /* head: the oldest op; cursor: where next starts */
    uint32_t epoch;                     /* new on each poll of the task and each wake */
    uint64_t polls, wakes;              /* the runtime's counters when epoch last changed */
    uint8_t ordered, owned;
} async_opset;

/* An empty set of capacity ops, completion order; slots NULL: allocated (ENOMEM) */
ASYNC_API int async_opset_init(async_opset *s, async_opset_slot *slots, size_t capacity);
/* The same, results in push order (FuturesOrdered) */
ASYNC_API int async_opset_init_ordered(async_opset *s, async_opset_slot *slots,
                                       size_t capacity);
/* Add fn(t, state), not polled yet: its slot index; ASYNC_EAGAIN when the set is full */
ASYNC_API int async_opset_push(async_opset *s, async_opset_fn fn, void *state);
/* op: the next op to complete (ordered: the oldest): its slot index, its state and
   result; ASYNC_ECLOSED when the set is empty */
ASYNC_API int async_opset_next(async_task *t, async_opset *s, void **state,
                               int *result);                                   /* op */
/* Ops in the set (ordered: with the results held for their turn) */
ASYNC_API int async_opset_len(const async_opset *s);
/* 1 when the set holds no op */
ASYNC_API int async_opset_is_empty(const async_opset *s);
/* Drop every op now: those polled are cancelled (cancel mode, as select's losers): how many */
ASYNC_API int async_opset_clear(async_task *t, async_opset *s);
/* Clear, then free allocated slots; t may be NULL if no op was ever polled (else EBUSY) */
ASYNC_API int async_opset_destroy(async_task *t, async_opset *s);

/* Resilience: retry with exponential backoff and jitter, circuit breaker, bulkhead. */
typedef struct async_backoff {
    async_time base, max, deadline;     /* deadline: absolute, 0 = none */
    async_time last_delay;              /* the delay the last _next chose */
    uint32_t attempts, max_attempts;    /* max_attempts 0 = unbounded */
    uint32_t rng;                       /* jitter state: seeded per backoff; set it to
                                           replay a sequence */
    uint8_t jitter;                     /* ASYNC_JITTER_* */
    int (*retryable)(int rc);           /* NULL: every error but ASYNC_ECANCELED */
} async_backoff;
enum { ASYNC_JITTER_FULL = 0, ASYNC_JITTER_NONE = 1, ASYNC_JITTER_EQUAL = 2 };

typedef struct async_breaker {
    async_time recovery, open_until;
    uint32_t threshold, failures, half_open_max, half_open_inflight, half_open_ok;
    uint8_t state;                      /* ASYNC_BREAKER_* */
} async_breaker;
enum { ASYNC_BREAKER_CLOSED = 0, ASYNC_BREAKER_OPEN = 1, ASYNC_BREAKER_HALF_OPEN = 2 };

typedef struct async_bulkhead {
    async_semaphore sem;
    uint32_t max_queue, queued;
} async_bulkhead;

/* Delays base * 2^n up to max, max_attempts tries (0: unbounded), full jitter */
ASYNC_API int async_backoff_init(async_backoff *b, async_time base, async_time max,
                                 uint32_t max_attempts);
/* After error rc: 0 and *delay before the next try, or ELIMIT / ETIMEDOUT: stop */
ASYNC_API int async_backoff_next(async_backoff *b, async_time now, int rc, async_time *delay);
/* Start a new sequence of attempts (ASYNC_RETRY does it itself) */
ASYNC_API int async_backoff_reset(async_backoff *b);
/* Open after threshold (> 0) failures in a row, half-open after recovery, closed again */
ASYNC_API int async_breaker_init(async_breaker *cb, uint32_t threshold, async_time recovery,
                                 uint32_t half_open_max);
/* May a call go through now? 0, or ASYNC_EREJECTED */
ASYNC_API int async_breaker_allow(async_breaker *cb, async_time now);
/* Record a call's result rc (< 0: a failure) at now: the new ASYNC_BREAKER_* state */
ASYNC_API int async_breaker_record(async_breaker *cb, async_time now, int rc);
/* ASYNC_BREAKER_CLOSED, _OPEN or _HALF_OPEN at now */
ASYNC_API int async_breaker_state(const async_breaker *cb, async_time now);
/* At most max_concurrent inside, max_queue waiting; EINVAL if max_concurrent is 0 */
ASYNC_API int async_bulkhead_init(async_bulkhead *b, uint32_t max_concurrent, uint32_t max_queue);
/* op: 0 once inside (at once or FIFO); ASYNC_EREJECTED when the queue is full */
ASYNC_API int async_bulkhead_enter(async_task *t, async_bulkhead *b, async_waiter *w); /* op */
/* Leave, letting the next waiter in */
ASYNC_API int async_bulkhead_leave(async_bulkhead *b);

/* Retry: await op (an operation, or a nested call restarted for each attempt) until
   it succeeds, its error is not retryable, or the backoff says stop (attempts or
   deadline spent); rc is the last result of op. Between attempts it sleeps on timer. */
#define ASYNC_RETRY(rc, backoff, timer, op) ASYNC__RETRY(rc, backoff, timer, (void)0, op)
#define ASYNC_RETRY_CALL(rc, backoff, timer, child, call) \
    ASYNC__RETRY(rc, backoff, timer, ((child)->lc = 0), call)

////////////////////////////////////////////////////////////////////////////////
// >>streams

typedef struct async_stream async_stream;
/* One poll of a stream: ASYNC_ITEM with *item written, 0 at the end (and after it),
   ASYNC_PENDING (a wake is registered), or < 0: an error item (the stream goes on).
   In cancel mode it cancels what it waits on (its upstreams too) and returns
   ASYNC_ECANCELED. Pass the same item buffer to every poll until one completes. */
typedef int (*async_stream_fn)(async_task *t, async_stream *s, void *item);
struct async_stream {
    async_stream_fn next;
    size_t item_size;
    uint8_t ended;
};

/* Sources */
typedef struct async_stream_iter {      /* the items of an array */
    async_stream base;
    const unsigned char *data;
    size_t count, pos;
} async_stream_iter;
typedef struct async_stream_from_fn {   /* fn(user, &item): 1 item, 0 end, < 0 error item */
    async_stream base;
    int (*fn)(void *user, void *item);
    void *user;
} async_stream_from_fn;
typedef struct async_stream_unfold {    /* step: an async function producing one item */
    async_stream base;
    async_coro co;
    int (*step)(async_task *t, async_coro *co, void *state, void *item);
    void *state;
} async_stream_unfold;
typedef struct async_stream_gen {       /* a coroutine using ASYNC_GEN_YIELD; extend it */
    async_stream base;
    async_coro co;
    async_stream_fn gen;
} async_stream_gen;
typedef struct async_stream_mpsc {
    async_stream base;
    async_mpsc *c;
    async_waiter w;
} async_stream_mpsc;
typedef struct async_stream_broadcast { /* ASYNC_ELAGGED comes as an error item */
    async_stream base;
    async_broadcast_rx *rx;
    async_waiter w;
} async_stream_broadcast;
typedef struct async_stream_interval {  /* items: the async_time of each tick */
    async_stream base;
    async_interval *iv;
} async_stream_interval;

/* Adapters: each reads from `up`. scratch: room for one upstream item. */
typedef struct async_stream_map {
    async_stream base;
    async_stream *up;
    void (*fn)(const void *in, void *out, void *user);
    int (*keep)(const void *in, void *out, void *user);    /* filter_map */
    void *user, *scratch;
} async_stream_map;
typedef struct async_stream_filter {    /* also take_while, skip_while */
    async_stream base;
    async_stream *up;
    int (*pred)(const void *item, void *user);
    void *user;
    uint8_t mode, done;
} async_stream_filter;
typedef struct async_stream_then {      /* an async map: fn is a nested async function */
    async_stream base;
    async_stream *up;
    int (*fn)(async_task *t, async_coro *co, const void *in, void *out, void *user);
    void *user, *scratch;
    async_coro co;
    uint8_t busy;
} async_stream_then;
typedef struct async_stream_count {     /* take, skip, enumerate */
    async_stream base;
    async_stream *up;
    uint64_t n;
    uint8_t mode;
} async_stream_count;
typedef struct async_stream_chunks {    /* items: size_t count, then up to n items */
    async_stream base;
    async_stream *up;
    size_t n, have;
    async_time timeout;                 /* chunks_timeout: since the batch's first item */
    async_timer timer;
} async_stream_chunks;
typedef struct async_stream_pair {      /* zip, chain, merge */
    async_stream base;
    async_stream *a, *b;
    uint8_t mode, state, turn;
} async_stream_pair;
typedef struct async_stream_select_all {
    async_stream base;
    async_stream **up;
    size_t n, next, left;
} async_stream_select_all;
typedef struct async_stream_timed {     /* throttle, timeout */
    async_stream base;
    async_stream *up;
    async_time period, last;            /* throttle: the last item; timeout: the deadline */
    async_timer timer;
    uint8_t mode, state;
} async_stream_timed;
/* buffered / buffer_unordered: up to n calls of fn in flight, each in a slot of
   async_stream_slot_size(...) bytes of storage (fn's state first: zeroed, an
   async_coro at its start). ASYNC_STREAM_SLOT_SIZE is the same, for array sizes. */
#define ASYNC__ALIGN16(n) (((size_t)(n) + 15u) & ~(size_t)15u)
#define ASYNC_STREAM_SLOT_SIZE(state_size, in_size, out_size) \
    (16u + ASYNC__ALIGN16(state_size) + ASYNC__ALIGN16(in_size) + ASYNC__ALIGN16(out_size))
typedef int (*async_stream_async_fn)(async_task *t, void *state, const void *in, void *out,
                                     void *user);
typedef struct async_stream_buffered {
    async_stream base;
    async_stream *up;
    async_stream_async_fn fn;
    void *user;
    unsigned char *slots;
    size_t n, state_size, slot_size, head, count;
    uint8_t ordered, up_done;
} async_stream_buffered;
/* fan-out: every item of up reaches each of n outputs (each read by its own task);
   up is not read more than `cap` items ahead of the slowest output (backpressure).
   One output at a time (the puller) waits on up; the others wait on the fan-out. */
typedef struct async_stream_fanout {
    async_stream *up;
    unsigned char *ring;
    size_t cap, n;
    uint64_t head, tail;                /* positions kept: [head, tail) */
    size_t tail_idx;                    /* tail's place in the ring (no 64-bit %) */
    async_waitq q;
    int up_state;                       /* 0 open, 1 ended */
    struct async_stream_fanout_out *outs, *puller;
} async_stream_fanout;
typedef struct async_stream_fanout_out {
    async_stream base;
    async_stream_fanout *f;
    uint64_t pos;
    size_t idx;                         /* pos's place in the ring */
    async_waiter w;
    uint8_t live;
} async_stream_fanout_out;

/* Sinks keep their progress here between polls; zero it first. */
typedef struct async_stream_sink {
    size_t count;                       /* items consumed */
    size_t errors;                      /* error items skipped (when not stop_on_error) */
    size_t room;                        /* collect_alloc: items *buf has room for */
    uint8_t stop_on_error;              /* 1: stop at the first error item (try_fold) */
    uint8_t started;
} async_stream_sink;

/* op: ASYNC_ITEM with *item, 0 at the end (fused), < 0 an error item */
ASYNC_API int async_stream_next(async_task *t, async_stream *s, void *item);       /* op */
/* Drop s now: poll the chain once in cancel mode (cleanups run), end it */
ASYNC_API int async_stream_cancel(async_task *t, async_stream *s, void *item);
/* Source: the count items of array, in order; 0 or EINVAL */
ASYNC_API int async_stream_iter_init(async_stream_iter *s, const void *array, size_t item_size,
                                     size_t count);
/* Source: fn(user, &item) gives 1 an item, 0 the end, < 0 an error item */
ASYNC_API int async_stream_from_fn_init(async_stream_from_fn *s, size_t item_size,
                                        int (*fn)(void *user, void *item), void *user);
/* Source: step, a nested async function restarted for each item */
ASYNC_API int async_stream_unfold_init(async_stream_unfold *s, size_t item_size,
        int (*step)(async_task *t, async_coro *co, void *state, void *item), void *state);
/* Source: gen, a generator (ASYNC_GEN_YIELD per item) over s->co */
ASYNC_API int async_stream_gen_init(async_stream_gen *s, size_t item_size, async_stream_fn gen);
/* Source: c's items; its end (ASYNC_ECLOSED) is the stream's end */
ASYNC_API int async_stream_mpsc_init(async_stream_mpsc *s, async_mpsc *c);
/* Source: rx's items; ASYNC_ELAGGED comes as an error item */
ASYNC_API int async_stream_broadcast_init(async_stream_broadcast *s, async_broadcast_rx *rx);
/* Source: iv's ticks; each item is the tick's async_time */
ASYNC_API int async_stream_interval_init(async_stream_interval *s, async_interval *iv);

/* Adapter: fn(in, out, user) for each item (item_size: out's size) */
ASYNC_API int async_stream_map_init(async_stream_map *s, async_stream *up, size_t item_size,
        void (*fn)(const void *in, void *out, void *user), void *user, void *scratch);
/* Adapter: fn(in, out, user) returns 1 to keep out, 0 to drop */
ASYNC_API int async_stream_filter_map_init(async_stream_map *s, async_stream *up, size_t item_size,
        int (*fn)(const void *in, void *out, void *user), void *user, void *scratch);
/* Adapter: the items for which pred(item, user) holds */
ASYNC_API int async_stream_filter_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user);
/* Adapter: items while pred holds; ends at the first that fails */
ASYNC_API int async_stream_take_while_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user);
/* Adapter: drops items while pred holds, then passes all */
ASYNC_API int async_stream_skip_while_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user);
/* Adapter: an async map; fn is a nested async function, 0 or an error item */
ASYNC_API int async_stream_then_init(async_stream_then *s, async_stream *up, size_t item_size,
        int (*fn)(async_task *t, async_coro *co, const void *in, void *out, void *user),
        void *user, void *scratch);
/* Adapter: the first n items (error items pass uncounted); 0 reads nothing */
ASYNC_API int async_stream_take_init(async_stream_count *s, async_stream *up, uint64_t n);
/* Adapter: drops the first n items (error items pass uncounted) */
ASYNC_API int async_stream_skip_init(async_stream_count *s, async_stream *up, uint64_t n);
/* Adapter: items are a uint64_t index, then the item at offset 8 */
ASYNC_API int async_stream_enumerate_init(async_stream_count *s, async_stream *up);
/* Item size of chunks(n) over up: a size_t count then n items (0: bad) */
ASYNC_API size_t async_stream_chunk_size(const async_stream *up, size_t n);
/* Adapter: batches of up to n items (a short last one, never empty) */
ASYNC_API int async_stream_chunks_init(async_stream_chunks *s, async_stream *up, size_t n);
/* Adapter: as chunks, and a batch goes out timeout after its first */
ASYNC_API int async_stream_chunks_timeout_init(async_stream_chunks *s, async_stream *up, size_t n,
                                               async_time timeout);
/* Adapter: a's item then b's, packed; ends when either ends */
ASYNC_API int async_stream_zip_init(async_stream_pair *s, async_stream *a, async_stream *b);
/* Adapter: a's items, then b's */
ASYNC_API int async_stream_chain_init(async_stream_pair *s, async_stream *a, async_stream *b);
/* Adapter: a's and b's items as they come (alternating while both ready) */
ASYNC_API int async_stream_merge_init(async_stream_pair *s, async_stream *a, async_stream *b);
/* Adapter: the items of n streams, round robin; ends when all have */
ASYNC_API int async_stream_select_all_init(async_stream_select_all *s, async_stream **up, size_t n);
/* Adapter: at least period between items */
ASYNC_API int async_stream_throttle_init(async_stream_timed *s, async_stream *up,
                                         async_time period);
/* Adapter: ASYNC_ETIMEDOUT as an error item once per gap over timeout */
ASYNC_API int async_stream_timeout_init(async_stream_timed *s, async_stream *up,
                                        async_time timeout);
/* Bytes of one slot of buffered / buffer_unordered (0 if up is NULL) */
ASYNC_API size_t async_stream_slot_size(size_t state_size, const async_stream *up, size_t out_size);
/* Adapter: up to n calls of fn at once, outputs in input order */
ASYNC_API int async_stream_buffered_init(async_stream_buffered *s, async_stream *up, size_t n,
        size_t item_size, async_stream_async_fn fn, size_t state_size, void *user, void *slots);
/* Adapter: up to n calls of fn at once, outputs as they complete */
ASYNC_API int async_stream_buffer_unordered_init(async_stream_buffered *s, async_stream *up,
        size_t n, size_t item_size, async_stream_async_fn fn, size_t state_size, void *user,
        void *slots);
/* n outputs each seeing every item of up; ring: cap items of up */
ASYNC_API int async_stream_fanout_init(async_stream_fanout *f, async_stream *up, void *ring,
                                       size_t cap, async_stream_fanout_out *outs, size_t n);
/* out stops holding the others back; EBUSY while its task reads up */
ASYNC_API int async_stream_fanout_release(async_stream_fanout_out *out);

/* Sinks: ops; they run over ready items within one poll (spending the budget). */
ASYNC_API int async_stream_fold(async_task *t, async_stream *s, async_stream_sink *k, void *acc,
        int (*fn)(void *acc, const void *item, void *user), void *user, void *scratch);
/* op: fn(item, user) for every item: 0 at the end; fn < 0 stops with it */
ASYNC_API int async_stream_for_each(async_task *t, async_stream *s, async_stream_sink *k,
        int (*fn)(const void *item, void *user), void *user, void *scratch);
/* op: 0 at the end, the count in k->count */
ASYNC_API int async_stream_count_items(async_task *t, async_stream *s, async_stream_sink *k,
                                       void *scratch);
/* op: items into buf: 0 at the end, ASYNC_ELIMIT once cap items are in */
ASYNC_API int async_stream_collect(async_task *t, async_stream *s, async_stream_sink *k,
                                   void *buf, size_t cap);
/* op: items into an allocated *buf (free it always); ELIMIT, ENOMEM */
ASYNC_API int async_stream_collect_alloc(async_task *t, async_stream *s, async_stream_sink *k,
                                         void **buf, size_t limit);
/* op: run b's calls to the end of its stream: 0, or an error */
ASYNC_API int async_stream_for_each_concurrent(async_task *t, async_stream_buffered *b,
                                               async_stream_sink *k, void *scratch);

////////////////////////////////////////////////////////////////////////////////
// >>io

#ifndef ASYNC_FREESTANDING
/* Readiness directions, and the `how` of async_io_shutdown. */
enum { ASYNC_IO_READ = 1, ASYNC_IO_WRITE = 2, ASYNC_IO_BOTH = 3 };

/* A descriptor registered with a runtime's reactor: in user storage, zeroed. */
typedef struct async_io {
    async_runtime *rt;                  /* NULL: not registered */
    int fd;                             /* -1 once closed */
    uint32_t slot;                      /* its place in the reactor's table */
    uint8_t ready;                      /* readiness not yet used up (ASYNC_IO_*) */
    uint8_t interest;                   /* poll: directions with waiters */
    uint8_t flags;                      /* internal */
    uint8_t pad_;
    async_waitq rq, wq;                 /* tasks waiting to read / to write */
} async_io;

/* A socket address (IPv4, IPv6 or Unix), held as bytes so that this header needs
   no system header: async_addr_sockaddr gives the struct sockaddr *. */
typedef struct async_addr {
    uint32_t len;                       /* 0: none */
    union { uint64_t align_; unsigned char bytes[128]; } u;
} async_addr;

typedef struct async_listen_opts {
    int backlog;                        /* default 1024 */
    uint8_t no_reuseaddr;               /* 1: do not set SO_REUSEADDR (TCP) */
    uint8_t reuseport;                  /* 1: set SO_REUSEPORT (several listeners) */
    uint8_t unlink;                     /* Unix: remove a stale socket file first */
    uint8_t v6only;                     /* IPv6: refuse IPv4-mapped peers */
} async_listen_opts;

/* "poll", "epoll", "io_uring" (Linux: chosen per runtime, BACKENDS), "wsapoll" */
ASYNC_API const char *async_runtime_io_backend(const async_runtime *rt);
/* Make fd non-blocking and watch it with rt; EBUSY if io is registered */
ASYNC_API int async_io_register(async_runtime *rt, async_io *io, int fd);
/* Stop watching: the fd, still open, in its blocking mode; waiters get ECLOSED */
ASYNC_API int async_io_deregister(async_io *io);
/* dst (zeroed or closed) takes over src, registration included; EBUSY if waited */
ASYNC_API int async_io_move(async_io *dst, async_io *src);
/* Deregister and close; 0 for a zeroed or closed io (cleanup can always call it) */
ASYNC_API int async_io_close(async_io *io);
/* The registered descriptor, or ASYNC_EINVAL */
ASYNC_API int async_io_fd(const async_io *io);
/* op: 0 once io is ready for dir (ASYNC_IO_READ or _WRITE), for your own call */
ASYNC_API int async_io_wait_ready(async_task *t, async_io *io, async_waiter *w, int dir); /* op */
/* Your call met EAGAIN: forget dir's readiness, then wait again with ready */
ASYNC_API int async_io_clear_ready(async_io *io, int dir);
/* op: bytes read (> 0), 0 at end of file, or -errno */
ASYNC_API int async_io_read(async_task *t, async_io *io, async_waiter *w, void *buf,
                            size_t len);                                              /* op */
/* op: bytes written (maybe fewer than len), or -errno */
ASYNC_API int async_io_write(async_task *t, async_io *io, async_waiter *w, const void *buf,
                             size_t len);                                             /* op */
/* op: len once all came, ASYNC_EEOF if the peer closed first */
ASYNC_API int async_io_read_exact(async_task *t, async_io *io, async_waiter *w, void *buf,
                                  size_t len);                                        /* op */
/* op: len once all is written (partial writes completed), or -errno */
/* op: read until end of file into buf (cap bytes at most): the length; ASYNC_ELIMIT if
   more comes (what was read stays in buf). Not cancel safe: bytes read before a
   cancel are gone from the stream (Tokio's read_to_end on take(cap)) */
ASYNC_API int async_io_read_to_end(async_task *t, async_io *io, async_waiter *w, void *buf,
                                   size_t cap);                                       /* op */
/* op: the same as a string: NUL-terminated (cap includes the NUL), valid UTF-8 or
   -EILSEQ (read_to_string) */
ASYNC_API int async_io_read_to_string(async_task *t, async_io *io, async_waiter *w,
                                      char *buf, size_t cap);                         /* op */
ASYNC_API int async_io_write_all(async_task *t, async_io *io, async_waiter *w,
                                 const void *buf, size_t len);                        /* op */
/* Half-close: ASYNC_IO_READ, _WRITE (the peer reads EOF) or _BOTH */
ASYNC_API int async_io_shutdown(async_io *io, int how);
/* A pipe with both ends registered (rd, wr); -errno */
ASYNC_API int async_io_pipe(async_runtime *rt, async_io *rd, async_io *wr);

/* Numeric "1.2.3.4:80", "[::1]:80" or "unix:/path" into a; EINVAL */
ASYNC_API int async_addr_parse(async_addr *a, const char *text);
/* A Unix socket address for path; EINVAL if it does not fit */
ASYNC_API int async_addr_init_unix(async_addr *a, const char *path);
/* a as text into buf: its length, or ASYNC_ELIMIT if cut short */
ASYNC_API int async_addr_format(const async_addr *a, char *buf, size_t size);
/* The port of an IPv4 or IPv6 address, else EINVAL */
ASYNC_API int async_addr_port(const async_addr *a);
/* AF_INET, AF_INET6 or AF_UNIX; EINVAL if a is empty */
ASYNC_API int async_addr_family(const async_addr *a);
/* a as a struct sockaddr * for system calls of your own */
ASYNC_API void *async_addr_sockaddr(async_addr *a);

/* Bind and listen (opts NULL: backlog 1024, SO_REUSEADDR); io registered */
ASYNC_API int async_sock_listen(async_runtime *rt, async_io *io, const async_addr *a,
                                const async_listen_opts *opts);
/* op: conn (zeroed or closed) is the new connection, *peer its address */
ASYNC_API int async_sock_accept(async_task *t, async_io *lis, async_waiter *w, async_io *conn,
                                async_addr *peer);                                    /* op */
/* op: 0 once connected (io made and registered); closed again on failure */
ASYNC_API int async_sock_connect(async_task *t, async_io *io, async_waiter *w,
                                 const async_addr *a);                                /* op */
/* The address io is bound to (after port 0: the port the kernel chose) */
ASYNC_API int async_sock_local_addr(const async_io *io, async_addr *a);
/* The address of the connected peer */
ASYNC_API int async_sock_peer_addr(const async_io *io, async_addr *a);
/* TCP_NODELAY on or off */
ASYNC_API int async_sock_set_nodelay(async_io *io, int on);
/* SO_KEEPALIVE on or off */
ASYNC_API int async_sock_set_keepalive(async_io *io, int on);
/* The pending error of a socket (SO_ERROR), cleared: 0 or -errno */
ASYNC_API int async_sock_take_error(async_io *io);
/* A UDP socket bound to a (port 0 for a client), registered */
ASYNC_API int async_udp_bind(async_runtime *rt, async_io *io, const async_addr *a);
/* Fix the peer of a UDP socket: then async_io_read / _write */
ASYNC_API int async_udp_connect(async_io *io, const async_addr *a);
/* op: bytes sent as one datagram to to */
ASYNC_API int async_udp_send_to(async_task *t, async_io *io, async_waiter *w, const void *buf,
                                size_t len, const async_addr *to);                    /* op */
/* op: bytes of one datagram (cut to len), its sender in *from */
ASYNC_API int async_udp_recv_from(async_task *t, async_io *io, async_waiter *w, void *buf,
                                  size_t len, async_addr *from);                      /* op */
#endif

#ifndef ASYNC_FREESTANDING
/* A subscription to one signal (Tokio's tokio::signal::unix::signal). */
typedef struct async_signal {
    async_waker waker;
    int signo;
    int slot;                           /* in the process-wide table, -1: none */
    uint32_t seen;                      /* deliveries counted so far */
} async_signal;

typedef struct async_child_opts {
    char *const *env;                   /* NULL: inherit this process's environment */
    const char *cwd;                    /* NULL: this process's */
    uint8_t in, out, err;               /* ASYNC_STDIO_INHERIT, _PIPE or _NULL */
    uint8_t kill_on_destroy;            /* destroy kills a child still running */
} async_child_opts;

enum { ASYNC_STDIO_INHERIT = 0, ASYNC_STDIO_PIPE = 1, ASYNC_STDIO_NULL = 2 };

/* A child process. */
typedef struct async_child {
    async_io in, out, err;              /* our ends of its pipes (when asked for) */
    async_signal sigchld;
    int pid;                            /* 0 once reaped */
    int status;                         /* raw, as waitpid */
    int exit_code;                      /* after the wait: 0..255, or -1 if signalled */
    int term_signal;                    /* after the wait: the signal that ended it, or 0 */
    uint8_t reaped, kill_on_destroy;
#ifdef _WIN32
    struct async__child_win *win;       /* the process, and the thread waiting for it */
#endif
} async_child;

/* Subscribe to signo from now on (chains any handler); EINVAL for SIGKILL... */
ASYNC_API int async_signal_init(async_signal *s, async_runtime *rt, int signo);
/* op: signo once delivered since the last recv (several count as one) */
ASYNC_API int async_signal_recv(async_task *t, async_signal *s);                     /* op */
/* Unsubscribe (the last one puts the old handler back); EBUSY if waited */
ASYNC_API int async_signal_destroy(async_signal *s);
/* fork and exec file (PATH) with argv; exec errors returned, nothing left open */
ASYNC_API int async_child_spawn(async_runtime *rt, async_child *c, const char *file,
                                char *const argv[], const async_child_opts *opts);
/* op: 0 once it has exited (c->exit_code, c->term_signal); cancel safe */
ASYNC_API int async_child_wait(async_task *t, async_child *c);                       /* op */
/* 1 exited (exit_code, term_signal set), 0 running, or an error */
ASYNC_API int async_child_try_wait(async_child *c);
/* Send signo; ASYNC_ESTATE once reaped (its pid may be reused) */
ASYNC_API int async_child_kill(async_child *c, int signo);
/* Close our pipe ends; a running child: killed if kill_on_destroy, reaped */
ASYNC_API int async_child_destroy(async_child *c);
#endif

#ifndef ASYNC_FREESTANDING
/* Buffered reading and writing over an async_io, in your buffer. */
typedef struct async_bufreader {
    async_io *io;
    unsigned char *buf;
    size_t cap, start, end;             /* buffered bytes: buf[start..end) */
    uint8_t eof;
} async_bufreader;

typedef struct async_bufwriter {
    async_io *io;
    unsigned char *buf;
    size_t cap, len, done;              /* buf[done..len) still to write */
} async_bufwriter;

/* Read io through buf (cap bytes, yours) */
ASYNC_API int async_bufreader_init(async_bufreader *r, async_io *io, void *buf, size_t cap);
/* op: bytes buffered (reading if none), 0 at end of file */
ASYNC_API int async_bufreader_fill(async_task *t, async_bufreader *r, async_waiter *w); /* op */
/* op: read more behind the buffered bytes: new bytes, 0 EOF, ELIMIT full */
ASYNC_API int async_bufreader_fill_more(async_task *t, async_bufreader *r,
                                        async_waiter *w);                             /* op */
/* The buffered bytes (*len of them), without consuming them */
ASYNC_API const void *async_bufreader_data(const async_bufreader *r, size_t *len);
/* Drop n buffered bytes; EINVAL if fewer are buffered */
ASYNC_API int async_bufreader_consume(async_bufreader *r, size_t n);
/* op: up to len bytes, from the buffer first; 0 at end of file */
ASYNC_API int async_bufreader_read(async_task *t, async_bufreader *r, async_waiter *w,
                                   void *out, size_t len);                            /* op */
/* op: bytes up to and including delim; ASYNC_ELIMIT after cap without it */
ASYNC_API int async_bufreader_read_until(async_task *t, async_bufreader *r, async_waiter *w,
                                         int delim, void *out, size_t cap);           /* op */
/* op: a '\n'-ended line, NUL-terminated (at most cap - 1 bytes) */
ASYNC_API int async_bufreader_read_line(async_task *t, async_bufreader *r, async_waiter *w,
                                        char *line, size_t cap);                      /* op */
/* Write io through buf (cap bytes, yours) */
ASYNC_API int async_bufwriter_init(async_bufwriter *wr, async_io *io, void *buf, size_t cap);
/* op: len, copied into the buffer (flushing first when it does not fit) */
ASYNC_API int async_bufwriter_write(async_task *t, async_bufwriter *wr, async_waiter *w,
                                    const void *data, size_t len);                    /* op */
/* op: 0 once everything buffered is written; cancel safe */
ASYNC_API int async_bufwriter_flush(async_task *t, async_bufwriter *wr, async_waiter *w);
#endif

////////////////////////////////////////////////////////////////////////////////
// >>threads

#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
typedef struct async_pool_desc {
    int max_threads;                    /* default 64 */
    async_time keep_alive;              /* an idle thread exits after it; default 10 s */
    void *storage;                      /* yours (any alignment; ZERO ALLOCATION): the
                                           pool's state, max_threads thread records and
                                           `requests` request slots; NULL: allocated */
    size_t storage_size;                /* ASYNC_POOL_STORAGE_SIZE(max_threads, requests,
                                           request_size) at least */
    int requests;                       /* with storage: file and resolve calls at once
                                           (more wait FIFO for a slot); 0: none */
    size_t request_size;                /* with storage: the bytes a call carries at most
                                           (data, path, addresses; see ZERO ALLOCATION) */
} async_pool_desc;

#define ASYNC__POOL_IMPL_MAX 512
#define ASYNC__WORKER_MAX 64
#define ASYNC__REQ_HEAD_MAX 128
#define ASYNC_POOL_STORAGE_SIZE(max_threads, requests, request_size) \
    (ASYNC__POOL_IMPL_MAX + ASYNC__SLACK + (size_t)(max_threads) * ASYNC__WORKER_MAX + \
     (size_t)(requests) * (ASYNC__REQ_HEAD_MAX + (((size_t)(request_size) + 15) & ~(size_t)15)))

/* A bounded pool of threads for blocking calls (Tokio's spawn_blocking). */
typedef struct async_pool {
    async_waker waker;                  /* completions reach the loop through it */
    struct async__pool_impl *impl;      /* lock, queue, threads (allocated) */
    async_runtime *rt;
    uint32_t outstanding;               /* calls submitted and not yet collected */
} async_pool;

/* One call on the pool: in the caller's frame, zeroed. */
typedef struct async_blocking {
    int (*fn)(void *arg);
    void *arg;
    int result;
    uint8_t state;                      /* loop side: 0 idle, 1 submitted, 2 collected */
    uint8_t wstate;                     /* pool side, under its lock: 1 queued, 2 running, 3 done */
    void (*dropped)(void *arg);         /* optional: called when a cancel drops the call */
    struct async_blocking *next, *prev;
    async_task *task;
    struct async__worker *worker;
} async_blocking;

/* A queue that any thread sends into and one task receives from. */
typedef struct async_inbox {
    async_waker waker;
    struct async__inbox_impl *impl;     /* lock, ring, condition (allocated) */
    size_t item_size, cap;
} async_inbox;

/* Up to desc->max_threads (64) threads for rt, started on demand; desc may be NULL */
ASYNC_API int async_pool_init(async_pool *p, async_runtime *rt, const async_pool_desc *desc);
/* Cancel queued calls, wait for running ones, join the threads */
ASYNC_API int async_pool_destroy(async_pool *p);
/* Threads alive now */
ASYNC_API int async_pool_threads(const async_pool *p);
/* op: run fn(arg) on a pool thread: its result (job: zeroed, in the frame) */
ASYNC_API int async_pool_spawn(async_task *t, async_pool *p, async_blocking *job,
                               int (*fn)(void *arg), void *arg);                       /* op */
/* A bounded queue of cap items (allocated) that any thread sends into */
ASYNC_API int async_inbox_init(async_inbox *q, async_runtime *rt, size_t item_size, size_t cap);
/* The same in storage of yours (size bytes, any alignment): nothing allocated; EINVAL
   if storage is NULL or smaller than ASYNC_INBOX_STORAGE_SIZE(item_size, cap) */
ASYNC_API int async_inbox_init_storage(async_inbox *q, async_runtime *rt, size_t item_size,
                                       size_t cap, void *storage, size_t size);
#define ASYNC__INBOX_IMPL_MAX 256
#define ASYNC_INBOX_STORAGE_SIZE(item_size, cap) \
    (ASYNC__INBOX_IMPL_MAX + ASYNC__SLACK + (size_t)(item_size) * (size_t)(cap))
/* Free it; EBUSY while a task waits in recv */
ASYNC_API int async_inbox_destroy(async_inbox *q);
/* Copy item in; ASYNC_EAGAIN when full, ASYNC_ECLOSED once closed */
ASYNC_API int async_inbox_try_send(async_inbox *q, const void *item);  /* Context: any thread */
/* Copy item in, blocking the calling thread while full (not the loop's) */
ASYNC_API int async_inbox_send(async_inbox *q, const void *item);      /* Context: any thread */
/* Later sends fail; the receiver drains what is queued, then ECLOSED */
ASYNC_API int async_inbox_close(async_inbox *q);                       /* Context: any thread */
/* op: 0 with the next item; ASYNC_ECLOSED once closed and drained */
ASYNC_API int async_inbox_recv(async_task *t, async_inbox *q, void *item);              /* op */

////////////////////////////////////////////////////////////////////////////////
// >>group

/* A runtime group: N runtimes, one thread each, sharing nothing but shared objects
   (thread-per-core, see MULTI-CORE). */
typedef struct async_group_desc {
    int threads;                        /* runtimes, one thread each; 0: one per core */
    int pin;                            /* 1: runtime i's thread runs on core i % cores */
    int spin_us;                        /* a runtime whose tasks wait only on other threads
                                           spins this long before it sleeps: 0 default
                                           (50), -1 never */
    const async_runtime_desc *runtime;  /* for every runtime (NULL: defaults) */
    int (*on_start)(async_runtime *rt, void *user);   /* optional: on each runtime's
                                           thread before its loop (spawn its tasks);
                                           < 0 stops the group */
    void *user;
} async_group_desc;

typedef struct async_group {
    async_runtime *rts;                 /* the runtimes, each on cache lines of its own */
    void *mem;                          /* (allocated) */
    struct async__group_thread *threads;
    int n;
    int pin;
    int (*on_start)(async_runtime *rt, void *user);
    void *user;
    volatile int stopping;              /* loops end at their next turn */
    volatile int failed;                /* the first on_start error, or 0 */
    volatile int next;                  /* round robin among equally loaded runtimes */
    volatile int dump_lock;             /* one async_group_dump at a time */
    void (*dump_write)(void *user, const char *text);
    void *dump_user;
    uint8_t running;                    /* threads started and not yet joined */
} async_group;

/* A join handle for a task spawned onto a group's runtime: awaitable from any
   runtime, abortable from any thread (Tokio's JoinHandle). */
typedef struct async_join_handle {
    async__owner owner;                 /* first: the task hands it its end */
    async_task *task;
    async_runtime *rt;                  /* the task's */
    async_waitq q;                      /* tasks waiting for the end */
    async_waiter abort_w;               /* an abort on its way to the task's runtime */
    int result;
    uint8_t state;                      /* 0 unused, 1 running, 2 finished, 3 taken */
    uint8_t shared;                     /* always 1: a shared object */
    volatile int lock;
} async_join_handle;

#define ASYNC_GROUP_ANY (-1)            /* spawn onto the least loaded runtime */

/* n runtimes (desc->threads, 0: one per core), not yet started; ENOMEM, -errno */
ASYNC_API int async_group_init(async_group *g, const async_group_desc *desc);
/* Every runtime on a thread of its own; 0 or < 0 (none left running) */
ASYNC_API int async_group_start(async_group *g);
/* Runtime 0 on this thread runs t, the others on theirs: t's result once it ends */
ASYNC_API int async_group_block_on(async_group *g, async_task *t, async_task_fn fn,
                                   const char *name);
/* Every loop ends at its next turn (tasks stay until destroy). Context: anywhere */
ASYNC_API int async_group_stop(async_group *g);
/* Wait for the threads to end (after a stop); not from the group's threads */
ASYNC_API int async_group_join(async_group *g);
/* Stop, join, destroy every runtime (their tasks are cancelled), free the group */
ASYNC_API int async_group_destroy(async_group *g);
/* Runtimes in the group */
ASYNC_API int async_group_size(const async_group *g);
/* Runtime i (0 to size - 1), or NULL */
ASYNC_API async_runtime *async_group_runtime(async_group *g, int i);
/* Queue t (a zeroed frame of yours) to run fn on runtime i (ASYNC_GROUP_ANY: the
   least loaded); h joins or aborts it from anywhere. Context: any thread. ECLOSED */
ASYNC_API int async_group_spawn(async_group *g, int i, async_join_handle *h, async_task *t,
                                async_task_fn fn, const char *name);
/* The index of the least loaded runtime now (tasks alive; ties in turn) */
ASYNC_API int async_group_pick(async_group *g);
/* Counters summed over every runtime (as each last published them) */
ASYNC_API void async_group_stats(async_group *g, async_stats *out);
/* async_runtime_dump of every runtime, each on its own thread while running */
ASYNC_API void async_group_dump(async_group *g, void (*write)(void *user, const char *text),
                                void *user);
/* op: the task's result (ASYNC_ECANCELED if aborted) once it has ended */
ASYNC_API int async_join_handle_wait(async_task *t, async_join_handle *h,
                                     async_waiter *w);                      /* op */
/* Cancel the task at its next poll, from anywhere; 0, also once it has ended */
ASYNC_API int async_join_handle_abort(async_join_handle *h);
/* 1 once the task has ended. Context: anywhere */
ASYNC_API int async_join_handle_is_finished(const async_join_handle *h);
/* The group rt belongs to, or NULL */
ASYNC_API async_group *async_runtime_group(const async_runtime *rt);
/* rt's index in its group (0 when not in one) */
ASYNC_API int async_runtime_index(const async_runtime *rt);

/* Name resolution and regular files, through the blocking pool. */
typedef struct async_resolve_op {
    async_blocking job;
    struct async__req *req;             /* allocated (or the pool's slot) while it runs */
    async_waiter w;                     /* waits for a slot of the pool's storage */
} async_resolve_op;

typedef struct async_file_op {
    async_blocking job;
    struct async__req *req;             /* allocated (or the pool's slot) while it runs */
    async_waiter w;                     /* waits for a slot of the pool's storage */
} async_file_op;

/* op: getaddrinfo on the pool: up to max addresses into out, how many */
ASYNC_API int async_pool_resolve(async_task *t, async_pool *p, async_resolve_op *r,
                                 const char *host, const char *service, async_addr *out,
                                 int max);                                            /* op */
/* op: open(path, flags | O_CLOEXEC, mode) on the pool: the descriptor */
ASYNC_API int async_file_open(async_task *t, async_pool *p, async_file_op *op,
                              const char *path, int flags, int mode);                 /* op */
/* op: pread at offset (< 0: read at the position) on the pool: bytes read */
ASYNC_API int async_file_read(async_task *t, async_pool *p, async_file_op *op, int fd,
                              void *buf, size_t len, long long offset);               /* op */
/* op: pwrite at offset (< 0: write at the position) on the pool: bytes written */
ASYNC_API int async_file_write(async_task *t, async_pool *p, async_file_op *op, int fd,
                               const void *buf, size_t len, long long offset);        /* op */

/* What async_file_stat tells of a path (stat(2): symbolic links followed). */
typedef struct async_file_meta {
    long long size;                     /* bytes */
    long long modified_ns;              /* last change, ns since the Unix epoch (wall) */
    unsigned mode;                      /* permission bits (0777 and setuid/gid/sticky) */
    uint8_t is_file, is_dir;
} async_file_meta;

/* op: the whole file at path into buf (at most cap bytes): its length; ASYNC_ELIMIT
   if it holds more (tokio::fs::read) */
ASYNC_API int async_file_read_all(async_task *t, async_pool *p, async_file_op *op,
                                  const char *path, void *buf, size_t cap);           /* op */
/* op: the same as a string: NUL-terminated (cap includes the NUL), valid UTF-8 or
   -EILSEQ (tokio::fs::read_to_string): its length */
ASYNC_API int async_file_read_string(async_task *t, async_pool *p, async_file_op *op,
                                     const char *path, char *buf, size_t cap);        /* op */
/* op: path created or truncated (mode 0666 less the umask), len bytes of data written
   and closed (tokio::fs::write): 0 */
ASYNC_API int async_file_write_all(async_task *t, async_pool *p, async_file_op *op,
                                   const char *path, const void *data, size_t len);   /* op */
/* op: stat(path) into *out (tokio::fs::metadata): 0 */
ASYNC_API int async_file_stat(async_task *t, async_pool *p, async_file_op *op,
                              const char *path, async_file_meta *out);                /* op */
/* op: fsync(fd), or fdatasync with data_only (File::sync_all / sync_data): 0 */
ASYNC_API int async_file_sync(async_task *t, async_pool *p, async_file_op *op, int fd,
                              int data_only);                                         /* op */
/* op: mkdir(path, mode); with all, the missing parents too and an existing directory
   is no error (tokio::fs::create_dir / create_dir_all): 0 */
ASYNC_API int async_file_mkdir(async_task *t, async_pool *p, async_file_op *op,
                               const char *path, int mode, int all);                  /* op */
/* op: unlink(path), a file (tokio::fs::remove_file): 0 */
ASYNC_API int async_file_remove(async_task *t, async_pool *p, async_file_op *op,
                                const char *path);                                    /* op */
/* op: rmdir(path), an empty directory (tokio::fs::remove_dir): 0 */
ASYNC_API int async_file_remove_dir(async_task *t, async_pool *p, async_file_op *op,
                                    const char *path);                                /* op */
#endif

////////////////////////////////////////////////////////////////////////////////
// >>shutdown

#ifndef ASYNC_FREESTANDING
/* Phased shutdown for servers: wait for SIGINT, SIGTERM or a request; cancel the
   root token; let the tasks of a JoinSet drain until a grace period ends; abort
   what is left and wait for it to unwind; stop the blocking pool. */
typedef struct async_shutdown {
    async_signal sigint, sigterm;
    async_timer timer;
    async_waiter w;
    async_cancel_token *root;           /* may be NULL */
    async_joinset *tasks;               /* may be NULL */
    struct async_pool *pool;            /* may be NULL */
    async_time grace, deadline;
    void (*on_abort)(async_task *t, void *user);   /* optional: told of each abort */
    void *user;
    async_task *task;                   /* the task in async_shutdown_run */
    int signo;                          /* what started it: SIGINT, SIGTERM, 0 (request) */
    int drained, aborted;               /* tasks that ended in time, and those aborted */
    uint8_t phase, requested;
} async_shutdown;

/* Subscribe to SIGINT and SIGTERM; root, tasks and pool may be NULL */
ASYNC_API int async_shutdown_init(async_shutdown *sd, async_runtime *rt,
                                  async_cancel_token *root, async_joinset *tasks,
                                  struct async_pool *pool, async_time grace);
/* Start the shutdown now, as a signal would */
ASYNC_API int async_shutdown_request(async_shutdown *sd);
/* op: wait for a signal or request, drain until grace, abort: how many aborted */
ASYNC_API int async_shutdown_run(async_task *t, async_shutdown *sd);                  /* op */
/* Unsubscribe from the signals; EBUSY while run waits or drains */
ASYNC_API int async_shutdown_destroy(async_shutdown *sd);
#endif

////////////////////////////////////////////////////////////////////////////////
// >>debug

typedef void (*async_write_fn)(void *user, const char *text);
/* Write every live task (name, state, where it waits, on what); NULL write: stderr */
ASYNC_API void async_runtime_dump(async_runtime *rt, async_write_fn write, void *user);
/* The name of an ASYNC_TASK_* state ("waiting"...), "?" if unknown */
ASYNC_API const char *async_task_state_name(int state);
/* Print metrics (a few lines, histograms as bars); NULL write: stderr */
ASYNC_API void async_metrics_print(const async_metrics *m, async_write_fn write, void *user);
/* Tokio's #[tokio::test]: fn as a task (a zeroed frame of frame_size bytes) on a fresh
   runtime (desc NULL: the paused clock, auto-advancing). 0 if it returned 0 and left
   nothing behind; else its result, ASYNC_EDEADLK (it hung) or ASYNC_EBUSY (it left
   tasks, timers, wakers or descriptors), said on desc->log with a dump */
ASYNC_API int async_test_run(async_task_fn fn, size_t frame_size, const char *name,
                             const async_runtime_desc *desc);
/* The same for a frame type: ASYNC_TEST_RUN(body, my_frame) */
#define ASYNC_TEST_RUN(fn, frame_type) async_test_run((fn), sizeof(frame_type), #fn, NULL)

#ifdef ASYNC_FAULT_INJECTION
/* Fault injection, for tests (see the manual): the system call sites, by kind. */
enum {
    ASYNC_SYS_READ = 1,         /* read, recv: a socket, pipe or the wake descriptor */
    ASYNC_SYS_WRITE,            /* write, send */
    ASYNC_SYS_RECVFROM,
    ASYNC_SYS_SENDTO,
    ASYNC_SYS_ACCEPT,
    ASYNC_SYS_CONNECT,
    ASYNC_SYS_SOCKET,           /* socket, pipe, eventfd, epoll_create1 */
    ASYNC_SYS_BIND,             /* bind, listen */
    ASYNC_SYS_WAIT,             /* poll, epoll_wait; fd is the timeout in ms (-1: none) */
    ASYNC_SYS_CTL,              /* epoll_ctl */
    ASYNC_SYS_WAKE,             /* the write that wakes a runtime from elsewhere (no
                                   fault: it fails only when full, with a wake pending) */
    ASYNC_SYS_SPAWN,            /* fork, pthread_create */
    ASYNC_SYS_FILE,             /* open, read, write of the file requests (pool threads) */
    ASYNC_SYS_COUNT
};
#define ASYNC_FAULT_SHORT 1     /* in async_sys_faults: a short transfer, not an error */
enum { ASYNC_FAULT_TIMER_FIRED = 1, ASYNC_FAULT_STUCK = 2 };
typedef struct async_faults {
    /* At every reading of a runtime's clock: how far it jumps forward first (0: not;
       async_runtime_next_deadline(rt) tells how far the next timer is). */
    async_time (*clock)(void *user, async_runtime *rt, async_time now);
    /* At every allocation: nonzero makes it fail. */
    int (*alloc)(void *user, size_t size);
    /* Before every system call site: 0 makes the call (*len may be lowered first, a
       short transfer), -errno fails it with that error without making it. Called
       from the blocking pool's threads too (ASYNC_SYS_FILE, ASYNC_SYS_WAKE). */
    int (*sys)(void *user, int call, int fd, size_t *len);
    /* What the test checks: a timer fired (a = its deadline, b = the clock then); a
       run or block_on ended with tasks that can never finish (a = how many). */
    void (*event)(void *user, async_runtime *rt, int what, async_time a, async_time b);
    /* At every step where threads meet (a wake from elsewhere, the loop collecting
       wakes, the blocking pool's and the inbox's locks): a test may yield or sleep
       there, to shake out orders a quiet machine never shows. Any thread. */
    void (*preempt)(void *user);
    void *user;
} async_faults;
/* Install the fault hooks (NULL: none); in ASYNC_FAULT_INJECTION builds only */
ASYNC_API void async_faults_set(const async_faults *f);     /* NULL: none */
/* The faults the kernel can give at call: *n codes (-errno or ASYNC_FAULT_SHORT) */
ASYNC_API const int *async_sys_faults(int call, int *n);    /* what can go wrong there */
/* The name of an ASYNC_SYS_* call site ("read"...) */
ASYNC_API const char *async_sys_name(int call);
#endif

////////////////////////////////////////////////////////////////////////////////
// >>embed

#ifndef ASYNC_FREESTANDING
/* The descriptor a host loop waits on for readability: rt may have work (made at the
   first call; open until async_runtime_destroy). -ENOSYS if the backend has none */
ASYNC_API int async_runtime_backend_fd(async_runtime *rt);
/* How long a host loop may sleep before async_runtime_step(rt, 0): 0 if work is ready,
   the time to the next timer, or ASYNC_TIME_NEVER */
ASYNC_API async_time async_runtime_backend_timeout(async_runtime *rt);
/* The same in milliseconds, rounded up (never early), -1 for never, at most INT_MAX */
ASYNC_API int async_runtime_backend_timeout_ms(async_runtime *rt);
#endif

////////////////////////////////////////////////////////////////////////////////
// >>details: implementation details that the macros need - do not use

enum {
    ASYNC__F_ABORT = 1,         /* abort requested: next poll is in cancel mode */
    ASYNC__F_CANCELLING = 2,    /* this poll is in cancel mode */
    ASYNC__F_ALLOC = 4,         /* frame came from ASYNC_MALLOC */
    ASYNC__F_DETACHED = 8,      /* no join will come */
    ASYNC__F_WOKEN = 16,        /* woken while running */
    ASYNC__F_YIELDED = 32,      /* yielded while running */
    ASYNC__F_TAKEN = 64,        /* result consumed by a join */
    ASYNC__F_DEFERRED = 128     /* its last poll yielded; it has not run since */
};
#define ASYNC__MAGIC 0xA5u
enum { ASYNC__F2_INSET = 1 };   /* u.owner: finishing hands it to its owner (JoinSet) */
enum { ASYNC__TM_IDLE = 0, ASYNC__TM_ARMED = 1, ASYNC__TM_FIRED = 2, ASYNC__TM_NEVER = 3 };

ASYNC_API void async__assert_fail(const char *cond, const char *msg, const char *file, int line);
ASYNC_API int async__lost(async_task *t, int32_t *lc, int *resp, const char *file);
ASYNC_API async_time async__deadline_after(async_task *t, async_time duration);
ASYNC_API void async__timer_arm(async_task *t, async_timer *timer, async_time deadline);
ASYNC_API void async__timer_disarm(async_timer *timer);

/* The one test of cancel mode, inside the library (async_task_is_cancelling is its
   public form). */
#define ASYNC__CANCELLING(t) (((t)->flags & ASYNC__F_CANCELLING) != 0)
static inline int async_task_is_cancelling(const async_task *t) { return ASYNC__CANCELLING(t); }

/* The one memcpy, of the macros and of the implementation (freestanding too). */
#if defined(__GNUC__) || defined(__clang__)
#define async__memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#else
#include <string.h>
#define async__memcpy(d, s, n) memcpy((d), (s), (n))
#endif

/* Inline fast paths: the common case in the caller's code, the rest out of line. A
   fast path applies only when the operation completes at once: no waiter of this
   operation pending, nobody queued ahead (a free permit or slot means so: the permit
   core keeps that invariant), budget left. Cancel mode leaves no budget (see
   async__cancel_enter), so that test also keeps fast paths out of cancel mode. */
static inline int async__fast_ok(const async_task *t, const async_waiter *w) {
    return t && w && w->state == 0 && t->rt->budget > 0;
}

ASYNC_API int async__mutex_lock_slow(async_task *t, async_mutex *m, async_waiter *w);
ASYNC_API int async__mutex_unlock_slow(async_mutex *m);
static inline int async_mutex_lock(async_task *t, async_mutex *m, async_waiter *w) {
    if (m && !m->used && async__fast_ok(t, w)) {
        ASYNC_ASSERT(!m->q.head, "mutex: a waiter queued while it is free");
        t->rt->budget--;
        m->used = 1;
        return 0;
    }
    return async__mutex_lock_slow(t, m, w);
}
static inline int async_mutex_unlock(async_mutex *m) {
    if (m && m->used == 1 && !m->q.head && !m->handed) {
        m->used = 0;
        return 0;
    }
    return async__mutex_unlock_slow(m);
}

enum { ASYNC__W_IDLE = 0, ASYNC__W_WAITING = 1, ASYNC__W_READY = 2, ASYNC__W_CLOSED = 3 };
enum { ASYNC__W_KIND_ABORT = 255,      /* a join handle's abort, on a remote list */
       ASYNC__W_TX = 254 };            /* an io_uring send of this waiter is in flight */
/* Append w (its task t waiting) to q: a circular list, NULL when empty. */
static inline void async__wq_push(async_waitq *q, async_waiter *w, async_task *t) {
    w->task = t;
    w->state = ASYNC__W_WAITING;
    if (!q->head) {
        w->next = w->prev = q->head = w;
    } else {
        async_waiter *tail = q->head->prev;
        w->prev = tail;
        w->next = q->head;
        tail->next = w;
        q->head->prev = w;
    }
}

ASYNC_API void async__mpsc_after_put(async_mpsc *c);
ASYNC_API void async__mpsc_after_take(async_mpsc *c);
static inline int async__mpsc_can_put(async_task *t, async_mpsc *c, const async_waiter *w,
                                      size_t size) {
    async_runtime *rt;
    if (!t || !c || !w) return 0;
    rt = t->rt;
    /* The right size, local and not closed (tx_size: tested first, as a shared
       channel's is SIZE_MAX for good and nothing else may be read without its
       lock), room (so bounded; and a free slot means no sender is queued: the
       permit core's invariant), this waiter idle, budget left (none in cancel
       mode). */
    if (c->tx_size != size || c->used >= c->cap || w->state || rt->budget <= 0) return 0;
    ASYNC_ASSERT(!c->send_q.head, "mpsc: a sender queued while a slot is free");
    rt->budget--;
    c->used++;
    return 1;
}
static inline int async__mpsc_put_done(async_mpsc *c) {
    c->len++;
    if (c->recv_q.head) async__mpsc_after_put(c);
    return 0;
}
static inline int async__mpsc_can_take(async_task *t, async_mpsc *c, async_waiter *w,
                                       size_t size) {
    async_runtime *rt;
    if (!t || !c || !w) return 0;
    rt = t->rt;
    /* A receive's waiter that was woken (2: ready) holds nothing: it may go fast too.
       No budget is left in cancel mode. */
    if (c->rx_size != size || !c->len || (w->state & 1) || rt->budget <= 0) return 0;
    w->state = 0;
    rt->budget--;
    return 1;
}
/* A receive that must wait, without leaving the caller's code: empty, bounded,
   the right size, this waiter idle, a sender left, open, not in cancel mode. */
static inline int async__mpsc_park(async_task *t, async_mpsc *c, async_waiter *w,
                                   size_t size) {
    if (!t || !c || !w) return 0;
    if (c->rx_size != size || c->len || w->state || !c->senders || c->rx_closed ||
        ASYNC__CANCELLING(t))
        return 0;
    async__wq_push(&c->recv_q, w, t);
    return 1;
}
static inline int async__mpsc_take_done(async_mpsc *c) {
    if (++c->head == c->cap) c->head = 0;
    c->len--;
    c->used--;
    if (c->send_q.head) async__mpsc_after_take(c);
    return 0;
}
static inline void async__yield(async_task *t) { t->flags |= ASYNC__F_YIELDED; }
/* Cancel mode also takes the budget below zero (b -> ~b, which comes back exactly
   when it ends; nothing spends budget in cancel mode): an inline fast path, which
   must spend budget, then never completes in cancel mode without a test of its
   own. The slow paths look at the flag first. */
static inline uint8_t async__cancel_enter(async_task *t) {
    uint8_t was = (uint8_t)(t->flags & ASYNC__F_CANCELLING);
    if (!was) {
        t->flags |= ASYNC__F_CANCELLING;
        t->rt->budget = ~t->rt->budget;
    }
    return was;
}
static inline void async__cancel_leave(async_task *t, uint8_t was) {
    if (!was && ASYNC__CANCELLING(t)) {
        t->flags &= (uint8_t)~ASYNC__F_CANCELLING;
        t->rt->budget = ~t->rt->budget;
    }
}
static inline int async__finish(int32_t *lc, int *resp, int rv) {
    *lc = -2 /* ASYNC__LC_DONE */;
    if (resp) *resp = rv;
    return rv;
}
static inline int async__done(const async_task *t, const int *resp) {
    return resp ? *resp : (t->state == ASYNC_TASK_DONE ? t->u.result : ASYNC_ESTATE);
}

#define ASYNC__LC_CLEANUP (-1)
#define ASYNC__LC_DONE (-2)

#if defined(__COUNTER__)
#define ASYNC__ID __COUNTER__
#else
#define ASYNC__ID __LINE__
#endif

#if defined(__cplusplus) && __cplusplus >= 201703L
#define ASYNC__FALLTHROUGH [[fallthrough]];
#elif defined(__has_attribute)
#if __has_attribute(__fallthrough__)
#define ASYNC__FALLTHROUGH __attribute__((__fallthrough__));
#endif
#endif
#ifndef ASYNC__FALLTHROUGH
#define ASYNC__FALLTHROUGH
#endif

#ifdef ASYNC_NO_SITES
#define ASYNC__SITE(what) ((void)0)
#define ASYNC__SITE_LEAF(what) ((void)0)
#define ASYNC__SITE_CLEAR() ((void)0)
#else
/* Where a task suspends, for async_runtime_dump and the slow-poll warning. The executor
   clears t->site before each poll; a yield or wait-until (always innermost) sets it,
   an await sets it only if its operation did not (so a nested coroutine's line wins
   over its caller's), and a PENDING that is consumed without suspending (a timeout,
   a select or join that finished) clears it again. */
#define ASYNC__SITE(what) \
    { static const async_site async__site = { __FILE__, __LINE__, what }; \
      if (!async__t->site) async__t->site = &async__site; }
#define ASYNC__SITE_LEAF(what) \
    { static const async_site async__site = { __FILE__, __LINE__, what }; \
      async__t->site = &async__site; }
#define ASYNC__SITE_CLEAR() (async__t->site = NULL)
#endif

#ifdef ASYNC_USE_COMPUTED_GOTO
/* Key = label offset from async__base, biased to stay clear of 0, -1, -2. */
#define ASYNC__LC_BIAS 0x40000000
#define ASYNC__LABEL(n) ASYNC__CAT(async__resume_, n)
#define ASYNC__SET(n) \
    (*async__lc = (int32_t)((char *)&&ASYNC__LABEL(n) - (char *)&&async__base) + ASYNC__LC_BIAS)
#define ASYNC__MARK(n) ASYNC__LABEL(n):
#define ASYNC__MARK_FT(n) ASYNC__LABEL(n):
#define ASYNC__POINT(n) ASYNC__SET(n); ASYNC__MARK(n)
#define ASYNC__RESUME_DEFAULT \
    goto *(void *)((char *)&&async__base + (*async__lc - ASYNC__LC_BIAS));
#define ASYNC__BASE async__base:;
#else
#define ASYNC__KEY(n) ((int32_t)(__LINE__) * 256 + (int32_t)((n) & 255))
#define ASYNC__SET(n) (*async__lc = ASYNC__KEY(n))
#define ASYNC__MARK(n) case ASYNC__KEY(n):
#define ASYNC__MARK_FT(n) ASYNC__FALLTHROUGH case ASYNC__KEY(n):
#define ASYNC__POINT(n) ASYNC__SET(n); ASYNC__FALLTHROUGH ASYNC__MARK(n)
#define ASYNC__RESUME_DEFAULT return async__lost(async__t, async__lc, async__resp, __FILE__);
#define ASYNC__BASE
#endif

/* Misuse that names itself: ASYNC_BEGIN declares these names and the other macros
   use them (for nothing: no code), so an await, ASYNC_END... without an ASYNC_BEGIN
   before it fails with "ASYNC_BEGIN_missing_before_this_..." undeclared as its first
   error; ASYNC_END defines the label that ASYNC_BEGIN jumps to, so a body without
   ASYNC_END fails with "ASYNC_END_missing_after_this_ASYNC_BEGIN" used but not
   defined (after the errors of the braces it leaves open). */
#define ASYNC__BEGIN_NAMES \
        enum { ASYNC_BEGIN_missing_before_this_ASYNC_AWAIT, \
               ASYNC_BEGIN_missing_before_this_ASYNC_YIELD, \
               ASYNC_BEGIN_missing_before_this_ASYNC_WAIT_FOR, \
               ASYNC_BEGIN_missing_before_this_select_or_join, \
               ASYNC_BEGIN_missing_before_this_ASYNC_END, \
               ASYNC_BEGIN_missing_before_this_ASYNC_RETURN, \
               ASYNC_BEGIN_missing_before_this_ASYNC_CLEANUP };
#define ASYNC__NEED_BEGIN(name) (void)ASYNC_BEGIN_missing_before_this_##name;

#define ASYNC__BEGIN(t_, lcp_, resp_) \
    { \
        async_task *const async__t = (t_); \
        int32_t *const async__lc = (lcp_); \
        int *const async__resp = (resp_); \
        int async__rv = ASYNC_PENDING; \
        int async__in_cleanup = 0; \
        ASYNC__BEGIN_NAMES \
    async__dispatch: \
        switch (*async__lc) { \
        default: /* no cleanup section: a task aborted before its first poll ends */ \
            if (*async__lc == ASYNC__LC_CLEANUP) { \
                if (async__rv == ASYNC_PENDING) async__rv = ASYNC_ECANCELED; \
                goto ASYNC_END_missing_after_this_ASYNC_BEGIN; \
            } \
            ASYNC__RESUME_DEFAULT \
        async__unwind: /* return or cancel: run the cleanup section, once */ \
            if (async__in_cleanup) goto ASYNC_END_missing_after_this_ASYNC_BEGIN; \
            *async__lc = ASYNC__LC_CLEANUP; \
            goto async__dispatch; \
        case 0: \
            ASYNC__BASE

#define ASYNC__CLEANUP() \
            ASYNC__NEED_BEGIN(ASYNC_CLEANUP) \
            ASYNC__FALLTHROUGH \
        case ASYNC__LC_CLEANUP: \
            *async__lc = ASYNC__LC_CLEANUP; \
            async__in_cleanup = 1;

#define ASYNC__END(v) \
            ASYNC__NEED_BEGIN(ASYNC_END) \
            if (0) goto async__unwind; \
            if (async__rv == ASYNC_PENDING) async__rv = (v); /* fell off the end */ \
        ASYNC_END_missing_after_this_ASYNC_BEGIN: \
            (void)async__in_cleanup; \
            if (async__rv == ASYNC_PENDING) { \
                ASYNC_ASSERT(0, "a coroutine cannot finish with ASYNC_PENDING"); \
                async__rv = ASYNC_ESTATE; \
            } \
            return async__finish(async__lc, async__resp, async__rv); \
        case ASYNC__LC_DONE: \
            return async__done(async__t, async__resp); \
        } \
    }

/* Inside the cleanup section nothing unwinds again: an await there gives its
   result (ASYNC_ECANCELED in cancel mode) and the cleanup runs on to its end. */
#define ASYNC__CHECK_CANCEL() \
    if (ASYNC__CANCELLING(async__t) && !async__in_cleanup) { \
        async__rv = ASYNC_ECANCELED; goto async__unwind; \
    }

/* After an awaited operation: a task is only ever cancel-mode polled from the start
   of a poll (abort never flips a running poll into cancel mode), and an operation
   polled in cancel mode must not complete, so only an error can mean "cancelled".
   A fast path that returns a constant 0 then pays nothing here. */
#define ASYNC__CHECK_CANCEL_RC(rc) \
    if ((rc) < 0 && ASYNC__CANCELLING(async__t) && !async__in_cleanup) { \
        async__rv = ASYNC_ECANCELED; goto async__unwind; \
    } \
    ASYNC_ASSERT(async__in_cleanup || !ASYNC__CANCELLING(async__t), \
                 "an operation completed in cancel mode (it must unlink its waiter and " \
                 "return ASYNC_ECANCELED)");

/* Poll op once in cancel mode (it must unlink and not complete), then restore the
   task's mode: used for timeouts, select losers and ASYNC_CORO_CANCEL. */
#define ASYNC__CANCEL_OP(op) \
    do { \
        uint8_t async__mode = async__cancel_enter(async__t); \
        int async__crc; \
        async__crc = (op); \
        ASYNC_ASSERT(async__crc != ASYNC_PENDING, \
                     "an operation returned ASYNC_PENDING in cancel mode"); \
        (void)async__crc; \
        ASYNC__SITE_CLEAR(); \
        async__cancel_leave(async__t, async__mode); \
    } while (0)

/* A cleanup section is synchronous (as Rust's Drop): an await there cannot suspend.
   It fails ASYNC_ASSERT and, with asserts off, its operation is cancelled at once. */
#define ASYNC__NO_SUSPEND_IN_CLEANUP() \
    ASYNC_ASSERT(0, "an await inside ASYNC_CLEANUP cannot suspend: cleanup is synchronous")

/* The resume key and the site are stored only when the task suspends: an await
   that completes at once costs its operation and one test. rc is written once, when
   the await completes (a[i++] advances once), and read once, as the test's value. */
#define ASYNC__AWAIT(n, rc, op, what) \
    do { \
        ASYNC__NEED_BEGIN(ASYNC_AWAIT) \
        ASYNC__MARK_FT(n) \
        { \
            int async__r = (op); \
            if (async__r == ASYNC_PENDING) { \
                if (!async__in_cleanup) { \
                    ASYNC__SET(n); ASYNC__SITE(what); return ASYNC_PENDING; \
                } \
                ASYNC__NO_SUSPEND_IN_CLEANUP(); \
                ASYNC__CANCEL_OP(op); \
                async__r = ASYNC_ECANCELED; \
            } \
            ASYNC__CHECK_CANCEL_RC(((rc) = async__r)) \
        } \
    } while (0)

#define ASYNC__WAIT_UNTIL(n, cond, what) \
    do { \
        ASYNC__NEED_BEGIN(ASYNC_WAIT_FOR) \
        ASYNC__POINT(n) \
        ASYNC__CHECK_CANCEL() \
        if (!(cond)) { \
            if (!async__in_cleanup) { ASYNC__SITE_LEAF(what); return ASYNC_PENDING; } \
            ASYNC__NO_SUSPEND_IN_CLEANUP(); \
        } \
    } while (0)

#define ASYNC__YIELD(n, before, value, what) \
    do { \
        ASYNC__NEED_BEGIN(ASYNC_YIELD) \
        if (async__in_cleanup) { \
            ASYNC__NO_SUSPEND_IN_CLEANUP(); \
        } else { \
            before; \
            ASYNC__SET(n); \
            ASYNC__SITE_LEAF(what); \
            return (value); \
        } \
        ASYNC__MARK_FT(n) \
        ASYNC__CHECK_CANCEL() \
    } while (0)

/* A timeout spends a unit of budget (as tokio::time::timeout's Sleep does), so that
   a loop over an await whose deadline has passed yields now and then. */
#define ASYNC__AWAIT_DL(n, rc, timer, deadline, op, what) \
    do { \
        ASYNC__NEED_BEGIN(ASYNC_AWAIT) \
        async__timer_arm(async__t, (timer), (deadline)); \
        ASYNC__MARK_FT(n) \
        { \
            int async__r = (op); \
            if (async__r == ASYNC_PENDING) { \
                if (((timer)->state != ASYNC__TM_FIRED || !async_task_consume_budget(async__t)) && \
                    !async__in_cleanup) { \
                    ASYNC__SET(n); ASYNC__SITE(what); return ASYNC_PENDING; \
                } \
                if (async__in_cleanup) ASYNC__NO_SUSPEND_IN_CLEANUP(); \
                ASYNC__CANCEL_OP(op); \
                async__r = async__in_cleanup ? ASYNC_ECANCELED : ASYNC_ETIMEDOUT; \
            } \
            async__timer_disarm(timer); \
            ASYNC__CHECK_CANCEL_RC(((rc) = async__r)) \
        } \
    } while (0)


/* ---- combinators: one await point; the branches run in a loop inside it ---------- */
ASYNC_API void async__combo_init(async_task *t, async_select *s, unsigned n, int mode, int join);
ASYNC_API void async__combo_restart(async_task *t, async_select *s);
ASYNC_API int async__combo_next(async_task *t, async_select *s, const async_timer *tm);
ASYNC_API void async__combo_guard(async_select *s, int i, int guard);
ASYNC_API void async__combo_result(async_select *s, int i, int rc);
ASYNC_API void async__combo_cancelled(int rc);
ASYNC_API int async__combo_finish(async_task *t, async_select *s, async_timer *tm);

/* BEGIN ... END is one statement (a do-while that END closes). arm: arms the timer tm
   of a _TIMEOUT or _TIMEOUT_UNTIL form once, at the start (tm: NULL for none); when it has
   fired and the branches are still pending, they are cancelled as select's losers. */
#define ASYNC__COMBO_BEGIN(n_, sel, n, mode, join, arm, tm, what) \
    do { \
    ASYNC__NEED_BEGIN(select_or_join) \
    async__combo_init(async__t, (sel), (n), (mode), (join)); \
    arm; \
    ASYNC__POINT(n_) \
    for (;;) { \
        async_timer *const async__ctm = (tm); \
        int async__bi; \
        async__combo_restart(async__t, (sel)); \
        while ((async__bi = async__combo_next(async__t, (sel), async__ctm)) >= 0) {

#define ASYNC__COMBO_BRANCH(sel, i, guard, rc, op, join) \
            if (async__bi == (i)) { \
                async__combo_result((sel), (i), ((rc) = (op))); \
            } else if (async__bi == (i) + 64) { \
                if (join) (rc) = ASYNC_ECANCELED; \
                async__combo_cancelled(op); \
            } else if (async__bi == (i) + 128) { \
                (rc) = ASYNC_ECANCELED; \
            } else if (async__bi == (i) + 256) { \
                async__combo_guard((sel), (i), !!(guard)); \
            }

#define ASYNC__COMBO_END(sel) \
        } \
        if (async__combo_finish(async__t, (sel), async__ctm)) { ASYNC__SITE_CLEAR(); break; } \
        if (!async__in_cleanup) { ASYNC__SITE("select/join"); return ASYNC_PENDING; } \
        ASYNC__NO_SUSPEND_IN_CLEANUP(); \
        (sel)->mode |= ASYNC_SELECT_NOWAIT; \
    } \
    ASYNC__CHECK_CANCEL() \
    } while (0)

#define ASYNC__COMBO_ARM(timer, deadline) async__timer_arm(async__t, (timer), (deadline))

/* errp: NULL (join_all) or where ASYNC_JOIN_ALL_FAIL_FAST puts 0 or the error that stopped it. */
#define ASYNC__UNSTARTED (ASYNC_PENDING + 1)
#define ASYNC__JOIN_ALL(n_, rcs, n, i, op, errp, what) \
    do { \
        ASYNC__NEED_BEGIN(select_or_join) \
        for ((i) = 0; (i) < (n); (i)++) (rcs)[i] = ASYNC__UNSTARTED; \
        ASYNC__POINT(n_) \
        { \
            int *async__errp = (errp), async__left = 0, async__stop = 0; \
            for ((i) = 0; (i) < (n) && !async__stop; (i)++) \
                if ((rcs)[i] == ASYNC_PENDING || (rcs)[i] == ASYNC__UNSTARTED) { \
                    if (((rcs)[i] = (op)) == ASYNC_PENDING) async__left++; \
                    else if (async__errp && (rcs)[i] < 0) async__stop = (i) + 1; \
                } \
            if (async__left && !async__stop && !async__in_cleanup) { \
                ASYNC__SITE(what); return ASYNC_PENDING; \
            } \
            if (async__left && !async__stop) ASYNC__NO_SUSPEND_IN_CLEANUP(); \
            for ((i) = 0; (i) < (n); (i)++) \
                if ((rcs)[i] == ASYNC_PENDING) { \
                    ASYNC__CANCEL_OP(op); \
                    (rcs)[i] = ASYNC_ECANCELED; \
                } else if ((rcs)[i] == ASYNC__UNSTARTED) { \
                    (rcs)[i] = ASYNC_ECANCELED;     /* never started: not touched */ \
                } \
            if (async__errp) *async__errp = async__stop ? (rcs)[async__stop - 1] : 0; \
        } \
        ASYNC__CHECK_CANCEL() \
    } while (0)

/* One statement; rc is written once per attempt. */
#define ASYNC__RETRY(rc, backoff, timer, restart, op) \
    do { \
        for (async_backoff_reset(backoff);;) { \
            async_time async__delay; \
            int async__brc; \
            restart; \
            ASYNC_AWAIT(async__brc, op); \
            if (((rc) = async__brc) >= 0) break; \
            async__brc = async_backoff_next((backoff), async_time_now(async__t->rt), \
                                            async__brc, &async__delay); \
            if (async__brc < 0) break; \
            async__timer_arm(async__t, (timer), async__deadline_after(async__t, async__delay)); \
            ASYNC_AWAIT(async__brc, async_time_sleep_until(async__t, (timer), 0)); /* armed */ \
        } \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* ASYNC_H_INCLUDED */

////////////////////////////////////////////////////////////////////////////////
////////////////////////////////////////////////////////////////////////////////
//
// IMPLEMENTATION
//
////////////////////////////////////////////////////////////////////////////////

#ifdef ASYNC_IMPLEMENTATION
#ifndef ASYNC_IMPLEMENTATION_INCLUDED
#define ASYNC_IMPLEMENTATION_INCLUDED

////////////////////////////////////////////////////////////////////////////////
// >>config

#if defined(ASYNC_MALLOC) != defined(ASYNC_FREE)
#error "async.h: define both ASYNC_MALLOC and ASYNC_FREE, or neither"
#endif
#if !defined(ASYNC_MALLOC) && !defined(ASYNC_FREESTANDING)
#include <stdlib.h>
#define ASYNC_MALLOC(sz) malloc(sz)
#define ASYNC_FREE(p) free(p)
#endif

#ifndef ASYNC_FREESTANDING
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(_WIN32)
#define ASYNC__WIN32 1                  /* Win32 and Winsock: see >>win32 below */
#else
#include <poll.h>
#include <unistd.h>
#include <fcntl.h>
/* The platform: ASYNC__LINUX when Linux's extras may be used (eventfd, accept4,
   sched_setaffinity, epoll); ASYNC_POSIX_ONLY leaves them out, as on macOS and the
   BSDs (CONFIGURATION). Every other Linux-only use tests ASYNC__LINUX, or
   ASYNC_POSIX_ONLY before the name it uses, never __linux__ itself (the strict build,
   tests/compile/posix_only.h, poisons it). */
#ifndef ASYNC_POSIX_ONLY
#if defined(__linux__)
#define ASYNC__LINUX 1
#endif
#endif
#ifdef ASYNC__LINUX
#include <sys/eventfd.h>
static int async__backend_edge;              /* an edge-triggered reactor started (>>faults) */
#endif
#endif
#if !defined(ASYNC_NO_THREADS)
#define ASYNC__XTHREADS 1               /* threads: shared objects, groups, the pool */
#ifndef ASYNC__WIN32
#include <sched.h>
#endif
#endif
#define async__memset memset
#else
#define async__memset __builtin_memset
#endif

#if !defined(ASYNC_FREESTANDING) && (defined(__GNUC__) || defined(__clang__))
#define ASYNC__XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define ASYNC__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ASYNC__LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ASYNC__ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
/* (unused on Windows with ASYNC_NO_THREADS) */
ASYNC__UNUSED static int async__cas(volatile int *p, int expect, int v) {
    return __atomic_compare_exchange_n(p, &expect, v, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#define ASYNC__CAS(p, e, v) async__cas((p), (e), (v))
/* Sequentially consistent: a store then a load on each side (Dekker) */
#define ASYNC__XCHG_SC(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define ASYNC__LOAD_SC(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#elif !defined(ASYNC_FREESTANDING) && defined(__TINYC__) && \
    (defined(__x86_64__) || defined(__i386__))
/* tcc has no __atomic builtins, but takes GNU inline assembly: x86's locked
   instructions are atomic and full barriers, and its plain loads and stores are
   acquire and release as long as the compiler keeps them in order (tcc does not
   reorder volatile accesses). */
static int async__xchg(volatile int *p, int v) {
    __asm__ __volatile__("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}
static int async__add(volatile int *p, int v) {
    int old = v;
    __asm__ __volatile__("lock; xaddl %0, %1" : "+r"(old), "+m"(*p) : : "memory");
    return old + v;
}
static int async__cas(volatile int *p, int expect, int v) {
    int prev;
    __asm__ __volatile__("lock; cmpxchgl %2, %1"
                         : "=a"(prev), "+m"(*p) : "r"(v), "0"(expect) : "memory");
    return prev == expect;
}
#define ASYNC__XCHG(p, v) async__xchg((p), (v))
#define ASYNC__STORE(p, v) (*(p) = (v))
#define ASYNC__LOAD(p) (*(p))
#define ASYNC__ADD(p, v) async__add((p), (v))
#define ASYNC__CAS(p, e, v) async__cas((p), (e), (v))
#define ASYNC__XCHG_SC(p, v) async__xchg((p), (v))    /* xchg is a full barrier */
#define ASYNC__LOAD_SC(p) (*(p))
#elif !defined(ASYNC_FREESTANDING) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
/* MSVC on x86 and x64: the Interlocked intrinsics (locked instructions, full
   barriers); there volatile loads and stores are acquire and release (/volatile:ms,
   the default on these targets). Elsewhere (ARM64): ASYNC_NO_THREADS, or add them. */
#include <intrin.h>
static int async__xchg(volatile int *p, int v) {
    return (int)_InterlockedExchange((volatile long *)p, (long)v);
}
#define ASYNC__XCHG(p, v) async__xchg((p), (v))
#define ASYNC__STORE(p, v) (*(p) = (v))
#define ASYNC__LOAD(p) (*(p))
#define ASYNC__ADD(p, v) ((int)_InterlockedExchangeAdd((volatile long *)(p), (long)(v)) + (v))
#define ASYNC__CAS(p, e, v) \
    ((int)_InterlockedCompareExchange((volatile long *)(p), (long)(v), (long)(e)) == (e))
#define ASYNC__XCHG_SC(p, v) async__xchg((p), (v))    /* a locked xchg: a full barrier */
#define ASYNC__LOAD_SC(p) (*(p))
#elif !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
/* Plain volatile accesses would be a data race between threads. */
#error "async.h: no atomic operations known for this compiler (gcc, clang, tcc on x86, \
MSVC on x86/x64 have them): define ASYNC_NO_THREADS (wakes from signal handlers still work) \
or add them here"
#else
/* Single core (an MCU with interrupts), or one thread and its signal handlers: plain
   volatile accesses, ordered by a compiler barrier, are atomic for an aligned int.
   No CAS is needed: the flags are only ever set from outside and cleared by the
   loop. */
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC__BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define ASYNC__BARRIER() ((void)0)
#endif
static int async__xchg(volatile int *p, int v) {
    int old;
    ASYNC__BARRIER();
    old = *p;
    *p = v;
    ASYNC__BARRIER();
    return old;
}
#define ASYNC__XCHG(p, v) async__xchg((p), (v))
#define ASYNC__STORE(p, v) do { ASYNC__BARRIER(); *(p) = (v); ASYNC__BARRIER(); } while (0)
#define ASYNC__LOAD(p) (*(p))
#define ASYNC__ADD(p, v) (*(p) += (v))
#ifndef ASYNC_FREESTANDING
static int async__cas(volatile int *p, int expect, int v) {
    if (*p != expect) return 0;
    *p = v;
    return 1;
}
#define ASYNC__CAS(p, e, v) async__cas((p), (e), (v))
#endif
#define ASYNC__XCHG_SC(p, v) async__xchg((p), (v))
#define ASYNC__LOAD_SC(p) (*(p))
#endif

#ifndef ASYNC_DEF
#ifdef ASYNC_STATIC
#define ASYNC_DEF ASYNC_API
#else
#define ASYNC_DEF
#endif
#endif

#define async__def(v, d) ((v) ? (v) : (d))
/* A slow path kept out of its caller, so that the fast path needs no stack frame. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(ASYNC_FREESTANDING)
#define ASYNC__COLD __attribute__((noinline, cold))
#define ASYNC__APART __attribute__((noinline))    /* another backend's path: apart */
#else
#define ASYNC__COLD
#define ASYNC__APART
#endif
/* Forced inlining of the executor's hot path on hosted builds (speed); freestanding
   builds are compiled for size and leave it to the compiler. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(ASYNC_FREESTANDING)
#define ASYNC__HOT __attribute__((always_inline)) inline
#else
#define ASYNC__HOT
#endif

/* The runtime this thread is turning now: a shared object wakes that runtime's tasks
   at once, and every other runtime's through its remote list (MULTI-CORE). Without
   thread-local storage (tcc) every such wake takes the remote way, always correct. */
#ifdef ASYNC__XTHREADS
#if defined(__TINYC__)
#define ASYNC__HERE() ((async_runtime *)0)
#define ASYNC__HERE_SET(rt) ((void)(rt))
#else
#if defined(__GNUC__) || defined(__clang__)
#define ASYNC__TLS __thread
#elif defined(_MSC_VER)
#define ASYNC__TLS __declspec(thread)
#else
#define ASYNC__TLS _Thread_local
#endif
static ASYNC__TLS async_runtime *async__here;
#define ASYNC__HERE() async__here
#define ASYNC__HERE_SET(rt) ((void)(async__here = (rt)))
#endif
#endif

enum { ASYNC__RT_PAUSED = 1, ASYNC__RT_AUTO_ADVANCE = 2, ASYNC__RT_DESTROYING = 4,
       ASYNC__RT_INIT = 8 };

/* Tokio's numbers: 128 budget units per poll, 61 polls between driver polls,
   and a tick more than 5 ms late counts as missed. */
#define ASYNC__DEFAULT_BUDGET 128
#define ASYNC__DEFAULT_EVENT_INTERVAL 61
#define ASYNC__MISSED_TICK_SLACK ASYNC_MS(5)

////////////////////////////////////////////////////////////////////////////////
// >>sys: the few system calls of the core (wake descriptor, clock, idle wait, yield),
// on POSIX or on Windows (Win32 and Winsock 2 only: no winpthreads, nothing else)

#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC__WIN32)
#define async__sys_yield() ((void)sched_yield())
#define async__wake_read(fd, buf, len) read((fd), (buf), (len))
#define async__wake_close(fd) ((void)close(fd))
#elif defined(ASYNC__WIN32)
/* winsock2.h before windows.h (or windows.h includes the old winsock.h) */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <process.h>
#ifdef _MSC_VER
#pragma comment(lib, "ws2_32.lib")
#endif
#define async__sys_yield() ((void)SwitchToThread())
#define async__wake_read(fd, buf, len) recv((SOCKET)(fd), (buf), (int)(len), 0)
#define async__wake_close(fd) ((void)closesocket((SOCKET)(fd)))

/* Winsock started once per process, by the first runtime that makes a socket (never
   cleaned up: the process's end does it). 0, or ASYNC_ENOSYS. */
static BOOL CALLBACK async__wsa_start(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    WSADATA d;
    (void)once; (void)ctx;
    *(int *)param = WSAStartup(MAKEWORD(2, 2), &d);
    return TRUE;
}
static int async__wsa_ready(void) {
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    static int rc;
    if (!InitOnceExecuteOnce(&once, async__wsa_start, &rc, NULL) || rc != 0)
        return ASYNC_ENOSYS;
    return 0;
}

/* QueryPerformanceCounter in nanoseconds, without overflow for centuries. */
static async_time async__win_now(void) {
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (async_time)(c.QuadPart / f.QuadPart) * 1000000000u +
           (async_time)(c.QuadPart % f.QuadPart) * 1000000000u / (async_time)f.QuadPart;
}

/* The wake descriptor: a UDP socket on 127.0.0.1 connected to itself (WSAPoll waits
   on sockets only), non-blocking, not inherited; a wake is one datagram. */
static int async__win_wake_make(int *fd) {
    struct sockaddr_in a;
    int len = (int)sizeof a, rc;
    u_long on = 1;
    SOCKET s;
    if ((rc = async__wsa_ready()) < 0) return rc;
    s = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) return ASYNC_ENOMEM;
    async__memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, len) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0 ||
        connect(s, (struct sockaddr *)&a, len) != 0 || ioctlsocket(s, FIONBIO, &on) != 0) {
        closesocket(s);
        return ASYNC_ENOMEM;
    }
    *fd = (int)s;                       /* see the manual: a SOCKET as an int */
    return 0;
}
#endif

////////////////////////////////////////////////////////////////////////////////
// >>faults: the one allocation path, and the points a test build perturbs

#ifdef ASYNC_FAULT_INJECTION
static async_faults async__faults;      /* all zero: nothing is perturbed */
ASYNC_DEF void async_faults_set(const async_faults *f) {
    if (f) async__faults = *f;
    else async__memset(&async__faults, 0, sizeof async__faults);
    async__faults.user = f ? f->user : NULL;
}
#endif

/* Every allocation of the library goes through here (ASYNC_MALLOC, or none). */
static void *async__alloc(size_t n) {
#ifdef ASYNC_MALLOC
#ifdef ASYNC_FAULT_INJECTION
    if (n && async__faults.alloc && async__faults.alloc(async__faults.user, n)) return NULL;
#endif
    return n ? ASYNC_MALLOC(n) : NULL;
#else
    (void)n;
    return NULL;
#endif
}
static void async__dealloc(void *p) {
#ifdef ASYNC_MALLOC
    if (p) ASYNC_FREE(p);
#else
    (void)p;
#endif
}

#if defined(ASYNC_FAULT_INJECTION) && !defined(ASYNC_FREESTANDING)
/* A system call site: nonzero (errno set) if the call is to fail without being made;
   the hook may also lower *len, a short transfer. */
static int async__fault_sys(int call, int fd, size_t *len) {
    int rc;
    if (!async__faults.sys) return 0;
    rc = async__faults.sys(async__faults.user, call, fd, len);
    if (rc >= 0) return 0;
#ifdef ASYNC__LINUX
    /* an edge-triggered reactor runs (epoll, io_uring chosen at run time): no EAGAIN
       where readiness said ready (the table's comment) */
    if (rc == -EAGAIN && async__backend_edge && call >= ASYNC_SYS_READ && call <= ASYNC_SYS_ACCEPT)
        return 0;
#endif
    errno = -rc;
    return 1;
}
#define ASYNC__FAULT(call, fd, lenp) async__fault_sys((call), (fd), (lenp))
#define ASYNC__PREEMPT() (async__faults.preempt ? async__faults.preempt(async__faults.user) \
                                                : (void)0)

/* What can go wrong at each kind of site, as the kernel can make it go wrong. An
   edge-triggered backend gets no EAGAIN where readiness said ready: the kernel gives
   it only when the buffer is empty, and then a new edge follows. */
#ifdef ASYNC_USE_EPOLL
#define ASYNC__LT_AGAIN
#else
#define ASYNC__LT_AGAIN -EAGAIN,
#endif
static const int async__sys_faults_tab[ASYNC_SYS_COUNT][8] = {
    {0},
    {-EINTR, ASYNC__LT_AGAIN ASYNC_FAULT_SHORT, -ECONNRESET},                   /* read */
    {-EINTR, ASYNC__LT_AGAIN ASYNC_FAULT_SHORT, -EPIPE, -ECONNRESET},           /* write */
    {-EINTR, ASYNC__LT_AGAIN -ECONNREFUSED},                                    /* recvfrom */
    {-EINTR, ASYNC__LT_AGAIN -ENOBUFS},                                         /* sendto */
    {-EINTR, ASYNC__LT_AGAIN -ECONNABORTED, -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM},  /* accept */
    {-ECONNREFUSED, -EADDRNOTAVAIL, -ENOMEM},                                   /* connect */
    {-EMFILE, -ENFILE, -ENOMEM},                                                /* socket */
    {-EADDRINUSE, -ENOMEM},                                                     /* bind */
    {-EINTR, -ENOMEM},                                                          /* wait */
    {-ENOMEM, -ENOSPC},                                                         /* ctl */
    {0},            /* wake: a non-blocking write fails only when full, a wake pending */
    {-EAGAIN, -ENOMEM},                                                         /* spawn */
    {-EINTR, -EIO, -ENOSPC, -EMFILE, ASYNC_FAULT_SHORT}                         /* file */
};
ASYNC_DEF const int *async_sys_faults(int call, int *n) {
    int k = 0;
    if (call > 0 && call < ASYNC_SYS_COUNT)
        while (k < 8 && async__sys_faults_tab[call][k]) k++;
    if (n) *n = k;
    return k ? async__sys_faults_tab[call] : NULL;
}
ASYNC_DEF const char *async_sys_name(int call) {
    static const char *const names[ASYNC_SYS_COUNT] = {
        "?", "read", "write", "recvfrom", "sendto", "accept", "connect", "socket", "bind",
        "wait", "ctl", "wake", "spawn", "file" };
    return call > 0 && call < ASYNC_SYS_COUNT ? names[call] : "?";
}

/* ASYNC_FAULTS="sys=N,alloc=M,seed=S" in the environment of a program built with
   ASYNC_FAULT_INJECTION (and no hooks of its own): one system call in N fails (or
   is cut short) with something that can happen there, one allocation in M fails,
   decided by a hash of the seed and the call's number. */
static volatile int async__fenv_calls, async__fenv_allocs;
static uint32_t async__fenv_seed, async__fenv_sys, async__fenv_alloc;
static uint32_t async__fenv_hash(uint32_t x) {
    x ^= async__fenv_seed * 0x9E3779B9u;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    return x ^ (x >> 16);
}
static int async__fenv_sysfn(void *user, int call, int fd, size_t *len) {
    uint32_t r = async__fenv_hash((uint32_t)ASYNC__ADD(&async__fenv_calls, 1));
    int n, f;
    const int *tab = async_sys_faults(call, &n);
    (void)user; (void)fd;
    if (!tab || r % async__fenv_sys) return 0;
    f = tab[(r / async__fenv_sys) % (uint32_t)n];
    if (f != ASYNC_FAULT_SHORT) return f;
    if (len && *len > 1) *len = 1 + (r >> 8) % (*len - 1);
    return 0;
}
static int async__fenv_allocfn(void *user, size_t size) {
    uint32_t r = async__fenv_hash(0x55555555u ^ (uint32_t)ASYNC__ADD(&async__fenv_allocs, 1));
    (void)user; (void)size;
    return r % async__fenv_alloc == 0;
}
static uint32_t async__fenv_num(const char *s, const char *key) {
    const char *p = strstr(s, key);
    uint32_t v = 0;
    if (!p) return 0;
    for (p += strlen(key); *p >= '0' && *p <= '9'; p++) v = v * 10u + (uint32_t)(*p - '0');
    return v;
}
static void async__faults_from_env(void) {
    static int done;
    const char *e;
    async_faults f;
    if (done || async__faults.clock || async__faults.alloc || async__faults.sys) return;
    done = 1;
    if (!(e = getenv("ASYNC_FAULTS"))) return;
    async__memset(&f, 0, sizeof f);
    async__fenv_seed = async__fenv_num(e, "seed=");
    async__fenv_sys = async__fenv_num(e, "sys=");
    async__fenv_alloc = async__fenv_num(e, "alloc=");
    if (async__fenv_sys) f.sys = async__fenv_sysfn;
    if (async__fenv_alloc) f.alloc = async__fenv_allocfn;
    async_faults_set(&f);
}
#else
#define ASYNC__FAULT(call, fd, lenp) 0
#define ASYNC__PREEMPT() ((void)0)
#endif

////////////////////////////////////////////////////////////////////////////////
// >>util: intrusive lists, 64-bit arithmetic for small cores, formatting

static void async__list_init(async__link *l) { l->next = l->prev = l; }
static int async__list_empty(const async__link *l) { return l->next == l; }
static void async__list_push(async__link *head, async__link *n) {
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static void async__list_unlink(async__link *n) {        /* n's links are left stale */
    n->prev->next = n->next;
    n->next->prev = n->prev;
}
static void async__list_del(async__link *n) {
    async__list_unlink(n);
    n->next = n->prev = n;
}
/* Move every node of `from` to the end of `to`. */
static void async__list_splice(async__link *to, async__link *from) {
    if (async__list_empty(from)) return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    async__list_init(from);
}
#define async__task_of(l) ((async_task *)(void *)((char *)(l) - offsetof(async_task, link)))

#ifndef ASYNC_FREESTANDING
/* 1 if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) */
static int async__utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, min, cp, k;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) need = 1, min = 0x80, cp = c & 0x1Fu;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, min = 0x800, cp = c & 0x0Fu;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, min = 0x10000, cp = c & 0x07u;
        else return 0;
        if (n - i <= need) return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) return 0;
        i += need + 1;
    }
    return 1;
}
#endif

static async_time async__sat_add(async_time a, async_time b) {
    return a > ASYNC_TIME_NEVER - b ? ASYNC_TIME_NEVER : a + b;
}

/* 64-bit division by shift and subtract, one bit at a time, so that Cortex-M0
   builds call no __aeabi_uldivmod or variable-shift helper from libgcc. */
static uint64_t async__divmod(uint64_t a, uint64_t b, uint64_t *rem) {
    uint64_t r = 0;
    int i;
    for (i = 0; b && i < 64; i++) {     /* a's bits shift into r; the quotient into a */
        r = (r << 1) | (a >> 63);
        a <<= 1;
        if (r >= b) {
            r -= b;
            a |= 1u;
        }
    }
    if (rem) *rem = r;
    return b ? a : 0;
}
static async_time async__mod(async_time a, async_time b) {
    uint64_t r;
    if (a < b) return a;
    (void)async__divmod(a, b, &r);
    return r;
}

/* Bit helpers in 32-bit halves: Cortex-M0 has no 64-bit shifts, no multiply
   to 64 bits and no count-leading/trailing-zeros, and each would be a libgcc call. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(ASYNC_FREESTANDING)
static int async__lsb32(uint32_t x) {           /* index of the lowest set bit; x != 0 */
    return __builtin_ctz(x);
}
static int async__msb64(uint64_t x) {           /* index of the highest set bit; x != 0 */
    return 63 - __builtin_clzll(x);
}
#else
static int async__msb32(uint32_t x) {           /* index of the highest set bit; x != 0 */
    int n = 0;
    if (x >= 0x10000u) { x >>= 16; n += 16; }
    if (x >= 0x100u) { x >>= 8; n += 8; }
    if (x >= 0x10u) { x >>= 4; n += 4; }
    if (x >= 0x4u) { x >>= 2; n += 2; }
    if (x >= 0x2u) n += 1;
    return n;
}
static int async__lsb32(uint32_t x) {           /* index of the lowest set bit; x != 0 */
    return async__msb32(x & (~x + 1u));
}
static int async__msb64(uint64_t x) {
    uint32_t hi = (uint32_t)(x >> 32);
    return hi ? 32 + async__msb32(hi) : async__msb32((uint32_t)x);
}
#endif
static uint64_t async__shr64(uint64_t v, unsigned n) {   /* n < 64 */
#ifdef ASYNC_FREESTANDING
    uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
    if (n == 0) return v;
    if (n >= 32) return hi >> (n - 32);
    return ((uint64_t)(hi >> n) << 32) | (lo >> n) | (hi << (32 - n));
#else
    return v >> n;
#endif
}
static uint64_t async__shl64(uint64_t v, unsigned n) {   /* n < 64 */
#ifdef ASYNC_FREESTANDING
    uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
    if (n == 0) return v;
    if (n >= 32) return (uint64_t)(lo << (n - 32)) << 32;
    return ((uint64_t)((hi << n) | (lo >> (32 - n))) << 32) | (uint32_t)(lo << n);
#else
    return v << n;
#endif
}

#ifndef ASYNC_NO_DEBUG
/* Line formatting for the dump and the slow-poll log, without printf. */
typedef struct async__fmt {
    char buf[320];
    size_t len;
} async__fmt;
/* A line that does not fit is cut, but keeps its newline: the last byte before the
   terminating NUL is kept for it. */
static void async__fmt_s(async__fmt *f, const char *s) {
    size_t room = s && s[0] == '\n' && !s[1] ? sizeof f->buf - 1 : sizeof f->buf - 2;
    if (!s) s = "(null)";
    while (*s && f->len < room) f->buf[f->len++] = *s++;
    f->buf[f->len] = 0;
}
static void async__fmt_u(async__fmt *f, uint64_t v) {
    char tmp[24];
    int i = 0;
    uint64_t digit;
    do {
        v = async__divmod(v, 10u, &digit);
        tmp[i++] = (char)('0' + (int)digit);
    } while (v && i < 23);
    while (i > 0 && f->len + 1 < sizeof f->buf) f->buf[f->len++] = tmp[--i];
    f->buf[f->len] = 0;
}
static void async__fmt_x(async__fmt *f, uintptr_t v) {
    static const char hex[] = "0123456789abcdef";
    char tmp[2 * sizeof(uintptr_t) + 1];
    int i = 0;
    do { tmp[i++] = hex[v & 15u]; v >>= 4; } while (v);
    async__fmt_s(f, "0x");
    while (i > 0 && f->len + 1 < sizeof f->buf) f->buf[f->len++] = tmp[--i];
    f->buf[f->len] = 0;
}
/* Nanoseconds as milliseconds with three decimals. */
static void async__fmt_ms(async__fmt *f, async_time ns) {
    uint64_t frac, ms = async__divmod(async__divmod(ns, 1000u, NULL), 1000u, &frac);
    async__fmt_u(f, ms);
    async__fmt_s(f, ".");
    if (frac < 100u) async__fmt_s(f, "0");
    if (frac < 10u) async__fmt_s(f, "0");
    async__fmt_u(f, frac);
}
#endif /* ASYNC_NO_DEBUG */

////////////////////////////////////////////////////////////////////////////////
// >>errors

ASYNC_DEF const char *async_strerror(int code) {
    /* A table, not a switch: a switch becomes a libgcc case helper on Cortex-M0. */
#define ASYNC__ERR_ROW(name, value, msg) {name, msg},
    static const struct { int code; const char *msg; } rows[] = {
        {0, "success"}, {ASYNC_PENDING, "pending"}, ASYNC_ERRORS(ASYNC__ERR_ROW)
    };
#undef ASYNC__ERR_ROW
    size_t i;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].code == code) return rows[i].msg;
#ifndef ASYNC_FREESTANDING
    if (code < 0 && code > -4096) return strerror(-code);
#endif
    return "unknown error";
}

ASYNC_DEF void async__assert_fail(const char *cond, const char *msg, const char *file, int line) {
#ifndef ASYNC_FREESTANDING
    fprintf(stderr, "%s:%d: async.h assertion failed: %s (%s)\n", file, line, msg, cond);
    fflush(stderr);
    abort();
#else
    (void)cond; (void)msg; (void)file; (void)line;
#if defined(__GNUC__) || defined(__clang__)
    __builtin_trap();
#endif
#endif
}

////////////////////////////////////////////////////////////////////////////////
// >>coro

/* The resume switch found no case for the stored key: the await that stored it
   sits inside a user `switch` (or the frame was not zeroed). The key holds that
   await's line (ASYNC__KEY, with or without ASYNC_NO_SITES) and ASYNC_BEGIN passes
   its file: the message names them and the task. It fails loudly, stdio flushed
   first (an abort must not lose what the program printed into a pipe); with asserts
   off it says so once per process and finishes the coroutine with ASYNC_ELOST, never
   restarting it or ending it quietly. */
ASYNC_DEF int async__lost(async_task *t, int32_t *lc, int *resp, const char *file) {
#ifndef ASYNC_FREESTANDING
    char msg[256];
    snprintf(msg, sizeof msg, "%s:%ld: lost resume point in task \"%s\": an await inside "
             "a switch statement (use if/else or ASYNC_USE_COMPUTED_GOTO)", file,
             (long)(*lc / 256), async_task_name(t));
    fflush(NULL);
#ifdef ASYNC__ASSERT_DEFAULT
    fprintf(stderr, "%s\n", msg);         /* the user's line first, as a compiler does */
    abort();
#else
    ASYNC_ASSERT(0, msg);
#ifdef NDEBUG
    {
        static int reported;
        if (!reported) {
            reported = 1;
            fprintf(stderr, "%s; the task ends with ASYNC_ELOST (reported once)\n", msg);
        }
    }
#endif
#endif
#else
    (void)t; (void)file;
    ASYNC_ASSERT(0, "lost resume point: an await inside a switch statement "
                    "(use if/else or ASYNC_USE_COMPUTED_GOTO)");
#endif
    return async__finish(lc, resp, ASYNC_ELOST);
}

////////////////////////////////////////////////////////////////////////////////
// >>core

/* ---- the clock ------------------------------------------------------------------- */

static async_time async__clock(async_runtime *rt) {
    return rt->now_fn(rt->user) + rt->offset;
}

#ifdef ASYNC_FAULT_INJECTION
/* A test clock: it may jump forward at any reading (paused or not), as a real clock
   does when the thread is preempted between two readings. */
static void async__fault_clock(async_runtime *rt) {
    async_time now = (rt->flags & ASYNC__RT_PAUSED) ? rt->paused_now : async__clock(rt);
    async_time j = async__faults.clock(async__faults.user, rt, now);
    if (!j) return;
    if (rt->flags & ASYNC__RT_PAUSED) rt->paused_now = async__sat_add(rt->paused_now, j);
    else rt->offset += j;
}
static void async__fault_event(async_runtime *rt, int what, async_time a, async_time b) {
    if (async__faults.event) async__faults.event(async__faults.user, rt, what, a, b);
}
#define ASYNC__FAULT_EVENT(rt, what, a, b) async__fault_event((rt), (what), (a), (b))
#else
#define ASYNC__FAULT_EVENT(rt, what, a, b) ((void)0)
#endif

ASYNC_DEF async_time async_time_now(async_runtime *rt) {
#ifdef ASYNC_FAULT_INJECTION
    if (async__faults.clock) async__fault_clock(rt);
#endif
    return (rt->flags & ASYNC__RT_PAUSED) ? rt->paused_now : async__clock(rt);
}

/* ---- polling: wake, budget, finish, cancel --------------------------------------- */

/* Wake: O(1) and idempotent. A queued or yielded task is already going to run; the
   running task (its state still says QUEUED) notes the wake and is requeued after. */
static void async__wake(async_task *t) {
    async_runtime *rt = t->rt;
    if (t->state == ASYNC_TASK_WAITING) {
        async__list_unlink(&t->link);
        async__list_push(&rt->runq, &t->link);
        t->state = ASYNC_TASK_QUEUED;
        rt->nready++;
        rt->stats.wakes++;
    } else if (t == rt->current) {
        t->flags |= ASYNC__F_WOKEN;
        rt->stats.wakes++;
    }
}

/* Spend one unit of the cooperative budget, or yield. */
static int async__coop(async_task *t) {
    async_runtime *rt = t->rt;
    if (rt->budget > 0) {
        rt->budget--;
        return 1;
    }
    t->flags |= ASYNC__F_YIELDED;
    return 0;
}

/* The one wait queue: FIFO, O(1) push (async__wq_push, inline in the declarations
   for the typed fast paths) and unlink, zero means empty. */
static void async__wq_unlink(async_waitq *q, async_waiter *w) {
    if (w->next == w) {
        q->head = NULL;
    } else {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        if (q->head == w) q->head = w->next;
    }
    w->next = w->prev = NULL;
}
/* Unlink w, mark it ready (or closed), wake its task. */
#ifdef ASYNC__XTHREADS
static void async__cpu_relax(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* A spinlock: the operations it guards are short (tens of instructions), and it
   needs no init, cannot fail, and works on every compiler with atomics here. A
   holder descheduled by the kernel costs the others a sched_yield each 64 spins. */
static void async__spin_lock(volatile int *l) {
    int n = 0;
    ASYNC__PREEMPT();
    while (ASYNC__XCHG(l, 1)) {
        while (ASYNC__LOAD(l)) {
            if (++n == 64) {
                n = 0;
                async__sys_yield();
            } else {
                async__cpu_relax();
            }
        }
    }
}
static void async__spin_unlock(volatile int *l) {
    ASYNC__STORE(l, 0);
    ASYNC__PREEMPT();
}

static void async__remote_collect(async_runtime *rt, int spawns);
static void async__group_publish(async_runtime *rt);
static void async__group_dump_here(async_runtime *rt);
#endif
#ifdef ASYNC__XTHREADS
ASYNC__COLD static void async__wq_ready_shared(async_waitq *q, async_waiter *w, uint8_t state);
#endif
static void async__wq_ready(async_waitq *q, async_waiter *w, uint8_t state) {
#ifdef ASYNC__XTHREADS
    if (w->shared) {                    /* a shared object's: maybe another runtime's */
        async__wq_ready_shared(q, w, state);
        return;
    }
#endif
    async__wq_unlink(q, w);
    w->state = state;
    async__wake(w->task);
}
static void async__wq_ready_all(async_waitq *q, uint8_t state, uint8_t kind) {
    while (q->head) {
        q->head->kind = kind;
        async__wq_ready(q, q->head, state);
    }
}

/* The one wait prologue: every operation that waits in a queue q with its waiter w
   starts so, in one order, cancellation first. In cancel mode w leaves q (where it
   waits there) and goes idle, *was (if given) tells the state it had, and the result
   is ASYNC_ECANCELED: an aborted waiter takes nothing, and what a woken one was
   handed (ASYNC__W_READY: permits, a chosen notification) the caller gives back
   before it returns. Else the result is 0; with `again`, w leaves q and goes idle
   too (the operation looks at its object afresh and queues w again if it must still
   wait: the queues woken whole), without it w keeps its place (the queues served in
   order, whose waiters are handed what they wait for). */
static inline void async__wait_leave(async_waitq *q, async_waiter *w) {
    if (w->state == ASYNC__W_WAITING) async__wq_unlink(q, w);
    w->state = ASYNC__W_IDLE;
}
static inline int async__wait_begin(async_task *t, async_waitq *q, async_waiter *w, int again,
                                    uint8_t *was) {
    if (ASYNC__CANCELLING(t)) {
        if (was) *was = w->state;
        async__wait_leave(q, w);
        return ASYNC_ECANCELED;
    }
    if (again) async__wait_leave(q, w);
    return 0;
}

/* Operations look at cancel mode before they spend budget (there is none then); a
   poll function of the user's that does not is not made to yield in cancel mode. */
ASYNC_DEF int async_task_consume_budget(async_task *t) {
    if (!t) return 0;
    return ASYNC__CANCELLING(t) ? 1 : async__coop(t);
}

static void async__free_task(async_task *t) {
    t->magic = 0;
    async__dealloc(t);
}

static void async__finish_task(async_runtime *rt, async_task *t, int rc) {
    async_task *joiner = t->u.joiner;
    async__owner *owner = (t->flags2 & ASYNC__F2_INSET) ? t->u.owner : NULL;
    t->u.result = rc;
    t->state = ASYNC_TASK_DONE;
    t->lc = ASYNC__LC_DONE;
    t->magic = 0;
    t->flags &= (uint8_t)~(ASYNC__F_WOKEN | ASYNC__F_YIELDED | ASYNC__F_CANCELLING);
    rt->live--;
    rt->stats.completed++;
    if (owner) {                                /* a JoinSet member: its set takes it */
        owner->finished(owner, t);
        return;
    }
    if (joiner) async__wake(joiner);
    if (t->flags & ASYNC__F_ALLOC) {
        if (t->flags & ASYNC__F_DETACHED) async__free_task(t);
        else async__list_push(&rt->zombies, &t->link);   /* until joined or detached */
    }
}

#ifndef ASYNC_NO_DEBUG
static void async__log(async_runtime *rt, const char *line) {
    if (rt->log_fn) rt->log_fn(rt->user, line);
#ifndef ASYNC_FREESTANDING
    else fputs(line, stderr);
#endif
}
#endif

#ifndef ASYNC_NO_DEBUG
static void async__slow_poll(async_runtime *rt, async_task *t, async_time took) {
    async__fmt f;
    const char *file = NULL;
    int line = 0;
    f.len = 0;
    rt->stats.slow_polls++;
    async__fmt_s(&f, "async.h: slow poll: task \"");
    async__fmt_s(&f, t->name ? t->name : "?");
    async__fmt_s(&f, "\" ran ");
    async__fmt_ms(&f, took);
    async__fmt_s(&f, " ms without yielding");
    if (t->state != ASYNC_TASK_DONE && async_task_where(t, &file, &line) == 0) {
        async__fmt_s(&f, "; it stopped at ");
        async__fmt_s(&f, file ? file : "?");
        async__fmt_s(&f, ":");
        async__fmt_u(&f, (uint64_t)line);
    }
    async__fmt_s(&f, "\n");
    async__log(rt, f.buf);
}
#endif

#ifndef ASYNC_NO_DEBUG
/* The histogram bucket of a duration: below 1 us, 4 us, 16 us... the last: longer. */
static int async__metrics_bucket(async_time d) {
    async_time lim = ASYNC_US(1);
    int b = 0;
    while (b < ASYNC_METRICS_BUCKETS - 1 && d >= lim) {
        b++;
        lim <<= 2;
    }
    return b;
}
#endif

/* The uncommon polls: a cancel-mode poll after an abort, or a timed one. */
static int async__poll_slow(async_runtime *rt, async_task *t) {
    int rc;
    if (t->flags & ASYNC__F_ABORT) {
        /* Never polled: only its cleanup section runs (Tokio drops such a future and
           its destructors run), so what its creator put in the frame is released. */
        if (t->lc == 0) t->lc = ASYNC__LC_CLEANUP;
        t->flags |= ASYNC__F_CANCELLING;        /* for the whole poll: no budget */
        rt->budget = 0;
        rc = t->fn(t);
        ASYNC_ASSERT(rc != ASYNC_PENDING,
                     "an operation returned ASYNC_PENDING in cancel mode (it must "
                     "unlink its waiter and return ASYNC_ECANCELED)");
        (void)rc;
        return ASYNC_ECANCELED;
    }
#ifndef ASYNC_NO_DEBUG
    {
        async_time t0 = async__clock(rt), took;
        rc = t->fn(t);
        took = async__clock(rt) - t0;
        if (took > rt->slow_poll) async__slow_poll(rt, t, took);
        if (rt->metrics) {
            async_time delay = t0 > rt->turn_start ? t0 - rt->turn_start : 0;
            rt->poll_hist[async__metrics_bucket(took)]++;
            rt->delay_hist[async__metrics_bucket(delay)]++;
            if (took > rt->poll_max) rt->poll_max = took;
            if (delay > rt->delay_max) rt->delay_max = delay;
        }
        return rc;
    }
#else
    (void)rt;
    return t->fn(t);
#endif
}

/* Poll one task taken off the run queue, then file it where it belongs. While it
   runs, rt->current says so; its state field still says QUEUED. */
ASYNC__HOT static void async__poll_task(async_runtime *rt, async_task *t) {
    int rc;
    uint8_t fl;
    rt->current = t;
    rt->budget = rt->budget_init;
    rt->stats.polls++;
#ifndef ASYNC_NO_SITES
    t->site = NULL;                     /* set again where it suspends */
#endif
    if ((t->flags & ASYNC__F_ABORT) || rt->slow_poll) rc = async__poll_slow(rt, t);
    else rc = t->fn(t);
    rt->current = NULL;
    if (rc != ASYNC_PENDING) {
        async__finish_task(rt, t, rc);
        return;
    }
    fl = t->flags;
    if (!(fl & (ASYNC__F_WOKEN | ASYNC__F_YIELDED | ASYNC__F_ABORT))) {
        t->flags = (uint8_t)(fl & ~ASYNC__F_DEFERRED);
        async__list_push(&rt->waiting, &t->link);
        t->state = ASYNC_TASK_WAITING;
        return;
    }
    if (fl & ASYNC__F_YIELDED) {                        /* after the next collection */
        t->flags = (uint8_t)((fl & ~ASYNC__F_WOKEN & ~ASYNC__F_YIELDED) | ASYNC__F_DEFERRED);
        async__list_push(&rt->deferred, &t->link);
        rt->nready++;
    } else {
        t->flags = (uint8_t)(fl & ~(ASYNC__F_WOKEN | ASYNC__F_DEFERRED));
        async__list_push(&rt->runq, &t->link);
        rt->nready++;
    }
}

/* Cancel a task right now, from another task or from outside the loop: take it off
   its queue and poll it once in cancel mode, so that its waiters are unlinked and its
   cleanup has run when this returns (JoinSet and scope owners rely on it: member
   frames may die with them). The running task itself is only flagged. */
static void async__cancel_now(async_runtime *rt, async_task *t) {
    async_task *cur;
    int budget;
    if (t->state == ASYNC_TASK_DONE || t->state == ASYNC_TASK_IDLE) return;
    if (t == rt->current) {
        t->flags |= ASYNC__F_ABORT;
        return;
    }
    async__list_unlink(&t->link);
    if (t->state == ASYNC_TASK_QUEUED) rt->nready--;
    cur = rt->current;
    budget = rt->budget;
    rt->current = t;
    rt->budget = rt->budget_init;
    t->flags |= ASYNC__F_ABORT;
    (void)async__poll_slow(rt, t);
    rt->current = cur;
    rt->budget = budget;
    async__finish_task(rt, t, ASYNC_ECANCELED);
}

static uint32_t async__rand(async_runtime *rt) {
    uint32_t x = rt->rng;               /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rt->rng = x;
}

static async__link *async__pick_random(async_runtime *rt) {   /* seeded random order */
    async__link *l;
    uint32_t n = 0;
    uint64_t k;
    for (l = rt->runq.next; l != &rt->runq; l = l->next) n++;
    k = async__mod(async__rand(rt), n);
    for (l = rt->runq.next; k--; l = l->next) {}
    return l;
}

ASYNC__HOT static async_task *async__pop_ready(async_runtime *rt) {
    async__link *l = rt->rng ? async__pick_random(rt) : rt->runq.next;
    async__list_unlink(l);
    rt->nready--;
    return async__task_of(l);
}

/* ---- the loop: collect, park, turn ----------------------------------------------- */

static void async__fire_timers(async_runtime *rt, async_time now);
static async_time async__next_deadline(const async_runtime *rt);
#ifndef ASYNC_FREESTANDING
static async_time async__timer_settle(async_runtime *rt);
#else                                   /* the smaller code: a scan, then the cascade */
#define async__timer_settle async__next_deadline
#endif

/* Turn wake-up flags and due timers into ready tasks. */
static void async__collect(async_runtime *rt) {
    if (ASYNC__LOAD(&rt->pending) && ASYNC__XCHG(&rt->pending, 0)) {
        async_waker *w;
        ASYNC__PREEMPT();
#ifndef ASYNC_FREESTANDING
        /* (a group's runtime is written to only while it sleeps: it drains after) */
        if (rt->wake_fd[0] >= 0 && (!rt->group || rt->slept)) {
            char buf[64];
            rt->slept = 0;
            while (async__wake_read(rt->wake_fd[0], buf, sizeof buf) > 0) {}
        }
#endif
        for (w = rt->wakers; w; w = w->next) {
            if (w->task && ASYNC__LOAD(&w->flag)) async__wake(w->task);
#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
            else if (w->on_wake && ASYNC__LOAD(&w->flag) && ASYNC__XCHG(&w->flag, 0))
                w->on_wake(w);          /* the blocking pool hands out results */
#endif
        }
#ifdef ASYNC__XTHREADS
        async__remote_collect(rt, 1);   /* shared objects' wakes, spawns from elsewhere */
        if (rt->group && ASYNC__LOAD(&rt->dump_req)) async__group_dump_here(rt);
#endif
    }
    if (rt->ntimers) async__fire_timers(rt, async_time_now(rt));
}

#ifndef ASYNC_FREESTANDING
#define ASYNC__IO_WAITING(rt) ((rt)->io.nwait)
#else
#define ASYNC__IO_WAITING(rt) 0u
#endif

static int async__can_progress(const async_runtime *rt) {
    if (rt->nready || rt->armed_wakers || ASYNC__LOAD(&rt->pending) || ASYNC__IO_WAITING(rt))
        return 1;
    if (rt->ntimers && (!(rt->flags & ASYNC__RT_PAUSED) || (rt->flags & ASYNC__RT_AUTO_ADVANCE)))
        return 1;
    return 0;
}

#ifndef ASYNC_FREESTANDING
static async_time async__clock_monotonic(void *user) {
#ifdef ASYNC__WIN32
    (void)user;
    return async__win_now();
#else
    struct timespec ts;
    (void)user;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (async_time)ts.tv_sec * 1000000000u + (async_time)ts.tv_nsec;
#endif
}

/* Wait until a wake-up or max_wait has passed. poll(2) counts in milliseconds:
   round up so a timer is never fired early. */
static void async__idle_hosted(async_runtime *rt, async_time max_wait) {
    if (rt->wake_fd[0] >= 0) {
        int ms = max_wait == ASYNC_TIME_NEVER ? -1
               : max_wait >= ASYNC_MS(INT_MAX) ? INT_MAX
               : (int)((max_wait + ASYNC_MS(1) - 1) / ASYNC_MS(1));
#ifdef ASYNC__WIN32
        WSAPOLLFD p;
        p.fd = (SOCKET)rt->wake_fd[0];
        p.events = POLLRDNORM;
        p.revents = 0;
        if (!ASYNC__FAULT(ASYNC_SYS_WAIT, ms, NULL)) (void)WSAPoll(&p, 1, ms);
#else
        struct pollfd p;
        p.fd = rt->wake_fd[0];
        p.events = POLLIN;
        p.revents = 0;
        if (!ASYNC__FAULT(ASYNC_SYS_WAIT, ms, NULL))
            (void)poll(&p, 1, ms);      /* EINTR: the loop simply turns again */
#endif
    } else if (max_wait != ASYNC_TIME_NEVER) {
#ifdef ASYNC__WIN32
        Sleep(max_wait >= ASYNC_MS(0x7fffffff) ? 0x7fffffffu
              : (DWORD)((max_wait + ASYNC_MS(1) - 1) / ASYNC_MS(1)));
#else
        struct timespec ts;
        ts.tv_sec = (time_t)(max_wait / 1000000000u);
        ts.tv_nsec = (long)(max_wait % 1000000000u);
        (void)nanosleep(&ts, NULL);
#endif
    }
}
#endif

#ifdef ASYNC__XTHREADS
/* A group's runtime about to sleep: when its tasks wait on other threads only (no
   descriptor), it first spins a little (rt->spin, within wait) for their wake: a
   round trip between two cores then costs two cache-line transfers, not two
   wake-ups of a sleeping thread (35-70 us here). Then it says it sleeps (parked)
   and looks at pending once more. 1: a wake came, do not sleep. */
static int async__group_before_sleep(async_runtime *rt, async_time wait) {
    /* A stop whose signal this turn's collection already took: do not sleep on it */
    if (ASYNC__LOAD(&rt->group->stopping)) return 1;
    if (rt->xwaits && !ASYNC__IO_WAITING(rt) && rt->spin) {
        async_time limit = wait < rt->spin ? wait : rt->spin, t0 = async__clock_monotonic(0);
        unsigned i;
        for (i = 1;; i++) {
            if (ASYNC__LOAD(&rt->pending)) return 1;
            async__cpu_relax();
            if (!(i & 31) && async__clock_monotonic(0) - t0 >= limit) break;
        }
    }
    (void)ASYNC__XCHG_SC(&rt->parked, 1);
    if (ASYNC__LOAD_SC(&rt->pending)) {
        ASYNC__STORE(&rt->parked, 0);
        return 1;
    }
    rt->slept = 1;
    return 0;
}
#endif

/* Nothing is ready: wait for the next timer, a wake-up, or max_wait. */
static void async__park(async_runtime *rt, async_time max_wait) {
    async_time now = async_time_now(rt), wait = max_wait;
    if (ASYNC__LOAD(&rt->pending)) return;
    if (rt->flags & ASYNC__RT_PAUSED) {
        if (rt->ntimers && (rt->flags & ASYNC__RT_AUTO_ADVANCE)) {
            /* Auto-advance: jump the paused clock to the next deadline, unless I/O
               that is ready already has something to do (Tokio polls the I/O driver
               without waiting before it advances time). */
            async_time dl;
#ifndef ASYNC_FREESTANDING
            if (rt->io.nwait && rt->io.wait(rt, 0)) return;
#endif
            dl = async__timer_settle(rt);       /* the wheel cascaded down to it */
            if (dl > rt->paused_now) rt->paused_now = dl;
            return;
        }
        /* only a wake-up or I/O could change anything */
        if (!rt->armed_wakers && !ASYNC__IO_WAITING(rt) && !rt->group) return;
    } else if (rt->ntimers) {
        async_time dl = async__next_deadline(rt);
        if (dl <= now) return;
        if (dl - now < wait) wait = dl - now;
    } else if (!rt->armed_wakers && !ASYNC__IO_WAITING(rt) && max_wait == ASYNC_TIME_NEVER &&
               !rt->group) {
        return;                         /* nothing can ever wake us (a group's runtime can
                                           be woken by the others: it sleeps) */
    }
    if (wait == 0) return;
#ifndef ASYNC_FREESTANDING
#ifdef ASYNC__XTHREADS
    if (rt->group && async__group_before_sleep(rt, wait)) return;
#endif
#ifndef ASYNC_NO_DEBUG
    if (rt->flags & ASYNC__RT_PAUSED) now = async__clock(rt);  /* else read above */
#endif
    if (rt->io.wait) (void)rt->io.wait(rt, wait);      /* the reactor waits for all */
    else if (rt->idle_fn) rt->idle_fn(rt->user, wait);
    else async__idle_hosted(rt, wait);
#ifdef ASYNC__XTHREADS
    if (rt->group) ASYNC__STORE(&rt->parked, 0);
#endif
#else
    if (!rt->idle_fn) return;
#ifndef ASYNC_NO_DEBUG
    if (rt->flags & ASYNC__RT_PAUSED) now = async__clock(rt);  /* else read above */
#endif
    rt->idle_fn(rt->user, wait);
#endif
#ifndef ASYNC_NO_DEBUG                          /* metrics: the debug layer */
    rt->parks++;
    rt->idle += async__clock(rt) - now;         /* parked: the idle time */
#endif
}

/* ---- the runtime ----------------------------------------------------------------- */

#ifndef ASYNC_FREESTANDING
static void async__reactor_storage(async__reactor *r, void *mem, size_t size);
#endif

ASYNC_DEF int async_runtime_init(async_runtime *rt, const async_runtime_desc *desc) {
    async_runtime_desc d;
    if (!rt) return ASYNC_EINVAL;
    if (desc) d = *desc;
    else async__memset(&d, 0, sizeof d);
#ifdef ASYNC_FREESTANDING
    if (!d.now) return ASYNC_EINVAL;
#endif
    if (d.budget < 0 || d.event_interval < 0 || d.start_paused < 0 || d.start_paused > 2)
        return ASYNC_EINVAL;
#ifndef ASYNC_FREESTANDING                      /* (no reactor there: ignored) */
    if (d.backend < 0 || d.backend > ASYNC_BACKEND_IO_URING) return ASYNC_EINVAL;
#endif
#ifdef ASYNC_NO_DEBUG
    if (d.slow_poll) return ASYNC_EINVAL;       /* the debug layer is compiled out */
#endif
#if defined(ASYNC_FAULT_INJECTION) && !defined(ASYNC_FREESTANDING)
    async__faults_from_env();
#endif
#ifndef ASYNC_FREESTANDING
    if ((!d.io_storage && d.io_storage_size) ||
        (d.io_storage && d.io_storage_size < ASYNC_RUNTIME_IO_STORAGE_SIZE(1)))
        return ASYNC_EINVAL;                    /* no table, or not one descriptor's */
#endif
    async__memset(rt, 0, sizeof *rt);
#ifndef ASYNC_FREESTANDING
    if (d.io_storage) async__reactor_storage(&rt->io, d.io_storage, d.io_storage_size);
#endif
    async__list_init(&rt->runq);
    async__list_init(&rt->deferred);
    async__list_init(&rt->waiting);
    async__list_init(&rt->zombies);
#ifndef ASYNC_FREESTANDING
    rt->now_fn = async__def(d.now, async__clock_monotonic);
#else
    rt->now_fn = d.now;
#endif
    rt->idle_fn = d.idle;
    rt->log_fn = d.log;
    rt->user = d.user;
    rt->budget_init = async__def(d.budget, ASYNC__DEFAULT_BUDGET);
    rt->event_interval = async__def(d.event_interval, ASYNC__DEFAULT_EVENT_INTERVAL);
    rt->rng = d.seed;
    rt->sel_rng = d.seed ? d.seed : 0x2545F491u;
    rt->slow_poll = d.slow_poll;
#ifndef ASYNC_NO_DEBUG
    rt->metrics = d.metrics != 0;
    if (rt->metrics && !rt->slow_poll) rt->slow_poll = ASYNC_TIME_NEVER;    /* timed polls */
#else
    if (d.metrics) return ASYNC_EINVAL;         /* the debug layer is compiled out */
#endif
    rt->wake_fd[0] = rt->wake_fd[1] = -1;
#ifndef ASYNC_FREESTANDING
    rt->io.be_want = (uint8_t)d.backend;
#endif
    rt->flags = ASYNC__RT_INIT;
#ifndef ASYNC_NO_DEBUG
    rt->born = async__clock(rt);
#endif
    if (d.start_paused) {
        rt->paused_now = async__clock(rt);
        rt->flags |= (uint32_t)ASYNC__RT_PAUSED |
                     (d.start_paused == 2 ? (uint32_t)ASYNC__RT_AUTO_ADVANCE : 0u);
    }
    return 0;
}

/* One loop turn: collect wake-ups and due timers; if nothing is ready, wait (at most
   max_wait) and collect again; let yielded tasks back in; poll up to event_interval
   ready tasks, including those they wake. */
static int async__turn(async_runtime *rt, async_time max_wait) {
    int polls = 0;
#ifdef ASYNC__XTHREADS
    async_runtime *was = ASYNC__HERE();
    ASYNC__HERE_SET(rt);
#endif
#ifndef ASYNC_NO_DEBUG
    rt->turns++;
#endif
    if (ASYNC__LOAD(&rt->pending) || rt->ntimers) async__collect(rt);
    if (!rt->nready && max_wait > 0) {
        async__park(rt, max_wait);      /* waits for I/O too */
        async__collect(rt);
    }
#ifndef ASYNC_FREESTANDING
    else if (rt->io.nwait) {
        (void)rt->io.wait(rt, 0);       /* busy: look at I/O without waiting */
    }
#endif
#ifndef ASYNC_NO_DEBUG
    if (rt->nready > rt->ready_max) rt->ready_max = rt->nready;
    if (rt->metrics) rt->turn_start = async__clock(rt);
#endif
    while (polls < rt->event_interval) {
        if (async__list_empty(&rt->runq)) {
            /* Yielded tasks run again once timers, wake-ups and I/O have been
               collected: at the start of a turn, or at once when there is nothing
               to collect. */
            if (async__list_empty(&rt->deferred) ||
                (polls && (ASYNC__LOAD(&rt->pending) || rt->ntimers || ASYNC__IO_WAITING(rt))))
                break;
            async__list_splice(&rt->runq, &rt->deferred);
        }
        async__poll_task(rt, async__pop_ready(rt));
        polls++;
    }
#ifdef ASYNC__XTHREADS
    if (rt->group) async__group_publish(rt);
    ASYNC__HERE_SET(was);
#endif
    return polls;
}

static int async__check_rt(const async_runtime *rt) {
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (rt->current) return ASYNC_EBUSY;        /* called from inside a task */
    return 0;
}

ASYNC_DEF int async_runtime_step(async_runtime *rt, async_time max_wait) {
    int rc = async__check_rt(rt);
    if (rc < 0) return rc;
#ifndef ASYNC_FREESTANDING
    /* A host loop waits on the backend's descriptor (>>embed): take what made it readable
       at every step, even when the turn would not look (no task waits on I/O: an edge of
       an idle descriptor), so that it is readable again only when something new comes. */
    if (rt->io.be_host && (!rt->io.nwait || max_wait > 0)) (void)rt->io.wait(rt, 0);
#endif
    return async__turn(rt, max_wait);
}

ASYNC_DEF int async_runtime_run(async_runtime *rt) {
    int rc = async__check_rt(rt);
    if (rc < 0) return rc;
    do async__turn(rt, ASYNC_TIME_NEVER);
    while (async__can_progress(rt));
    if (rt->live) ASYNC__FAULT_EVENT(rt, ASYNC_FAULT_STUCK, rt->live, 0);
    return (int)rt->live;
}

ASYNC_DEF int async_runtime_block_on(async_runtime *rt, async_task *t, async_task_fn fn,
                                     const char *name) {
    int rc = async__check_rt(rt);
    if (rc < 0 || (rc = async_task_spawn(rt, t, fn, name)) < 0) return rc;
    while (t->state != ASYNC_TASK_DONE) {
        async__turn(rt, ASYNC_TIME_NEVER);
        if (t->state != ASYNC_TASK_DONE && !async__can_progress(rt)) {
            ASYNC__FAULT_EVENT(rt, ASYNC_FAULT_STUCK, rt->live, 0);
            return ASYNC_EDEADLK;
        }
    }
    t->flags |= ASYNC__F_TAKEN;
    return t->u.result;
}

ASYNC_DEF int async_runtime_destroy(async_runtime *rt) {
    uint64_t completed0;
    async__link *lists[3];
    int i;
    async_waker *w;
#ifdef ASYNC__XTHREADS
    async_runtime *was;
#endif
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (rt->current) return ASYNC_EBUSY;
    rt->flags |= ASYNC__RT_DESTROYING;
    completed0 = rt->stats.completed;
#ifdef ASYNC__XTHREADS
    was = ASYNC__HERE();
    ASYNC__HERE_SET(rt);
    async__spin_lock(&rt->remote_lock);
    rt->spawn_closed = 1;               /* spawns from elsewhere fail from now on */
    async__spin_unlock(&rt->remote_lock);
    async__remote_collect(rt, 1);       /* those that came run, aborted: their cleanup */
#endif
    lists[0] = &rt->runq;
    lists[1] = &rt->deferred;
    lists[2] = &rt->waiting;
    /* Abort everything, then poll until every task has unwound. Tasks spawned by
       cleanup code are aborted at spawn. Frames are freed only afterwards, so a
       cleanup can still look at a task that finished before it. */
    for (;;) {
        for (i = 0; i < 3; i++) {
            async__link *l;
            for (l = lists[i]->next; l != lists[i]; l = l->next) {
                async_task *t = async__task_of(l);
                t->flags |= ASYNC__F_ABORT;
            }
        }
        async__list_splice(&rt->runq, &rt->deferred);
        async__list_splice(&rt->runq, &rt->waiting);
        {
            async__link *l;
            rt->nready = 0;
            for (l = rt->runq.next; l != &rt->runq; l = l->next) {
                async__task_of(l)->state = ASYNC_TASK_QUEUED;
                rt->nready++;
            }
        }
        if (!rt->nready) break;
        while (rt->nready) {
            async_task *t = async__pop_ready(rt);
            async__poll_task(rt, t);
        }
    }
#ifndef ASYNC_FREESTANDING
    if (rt->io.fini) rt->io.fini(rt);   /* detach descriptors left registered */
#endif
    while (!async__list_empty(&rt->zombies)) {
        async_task *t = async__task_of(rt->zombies.next);
        async__list_del(&t->link);
        async__free_task(t);
    }
    ASYNC_ASSERT(rt->ntimers == 0, "timers still armed after every task was cancelled");
    for (w = rt->wakers; w; w = w->next) w->rt = NULL;
    rt->wakers = NULL;
#ifndef ASYNC_FREESTANDING
    if (rt->wake_fd[0] >= 0) async__wake_close(rt->wake_fd[0]);
    if (rt->wake_fd[1] >= 0 && rt->wake_fd[1] != rt->wake_fd[0]) async__wake_close(rt->wake_fd[1]);
#endif
    rt->wake_fd[0] = rt->wake_fd[1] = -1;
    rt->flags = 0;
#ifdef ASYNC__XTHREADS
    ASYNC__HERE_SET(was);
#endif
    return (int)(rt->stats.completed - completed0);   /* every task it ended */
}

/* For idle hooks: 1 if a wake-up arrived that the loop has not collected yet. Check
   it with interrupts masked right before sleeping (see the manual). */
ASYNC_DEF int async_runtime_has_pending_wake(const async_runtime *rt) {
    return rt && ASYNC__LOAD(&rt->pending) != 0;
}

/* The descriptor a hosted idle hook must also wait on, or -1 (no waker yet). */
ASYNC_DEF int async_runtime_wake_fd(const async_runtime *rt) {
    return rt ? rt->wake_fd[0] : -1;
}

ASYNC_DEF void async_runtime_stats(const async_runtime *rt, async_stats *out) {
    if (!out) return;
    if (rt) *out = rt->stats;
    else async__memset(out, 0, sizeof *out);
}

ASYNC_DEF void async_runtime_metrics(async_runtime *rt, async_metrics *out) {
    if (!out) return;
    async__memset(out, 0, sizeof *out);
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return;
    out->stats = rt->stats;
    out->turns = rt->turns;
    out->parks = rt->parks;
    out->elapsed = async__clock(rt) - rt->born;
    out->idle = rt->idle < out->elapsed ? rt->idle : out->elapsed;
    out->live = rt->live;
    out->ready = rt->nready;
    out->ready_max = rt->ready_max;
    out->timers = rt->ntimers;
#ifndef ASYNC_FREESTANDING
    out->io_registered = rt->io.n > 1 ? rt->io.n - 1 : 0;
    out->io_waiting = rt->io.nwait;
#endif
#ifndef ASYNC_NO_DEBUG
    async__memcpy(out->poll_hist, rt->poll_hist, sizeof out->poll_hist);
    async__memcpy(out->delay_hist, rt->delay_hist, sizeof out->delay_hist);
    out->poll_max = rt->poll_max;
    out->delay_max = rt->delay_max;
    out->histograms = rt->metrics;
#endif
}

/* ---- tasks ----------------------------------------------------------------------- */

static int async__spawn(async_runtime *rt, async_task *t, async_task_fn fn, const char *name,
                        uint8_t flags) {
    t->lc = 0;
    t->state = ASYNC_TASK_QUEUED;
    t->flags = flags;
    t->flags2 = 0;
    t->magic = ASYNC__MAGIC;
    t->fn = fn;
    t->rt = rt;
    t->u.joiner = NULL;
    t->name = name;
    t->site = NULL;
    if (rt->flags & ASYNC__RT_DESTROYING) t->flags |= ASYNC__F_ABORT;
    async__list_push(&rt->runq, &t->link);
    rt->nready++;
    rt->live++;
    rt->stats.spawned++;
    return 0;
}

ASYNC_DEF int async_task_spawn(async_runtime *rt, async_task *t, async_task_fn fn,
                               const char *name) {
    if (!rt || !t || !fn || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (t->magic == ASYNC__MAGIC && t->state != ASYNC_TASK_DONE && t->state != ASYNC_TASK_IDLE)
        return ASYNC_EBUSY;             /* this frame is already a live task */
    if (t->state == ASYNC_TASK_DONE && t->rt == rt && (t->flags & ASYNC__F_ALLOC))
        return ASYNC_EBUSY;             /* the runtime's frame, not yours to reuse */
    return async__spawn(rt, t, fn, name, 0);
}

ASYNC_DEF int async_task_spawn_alloc(async_runtime *rt, async_task_fn fn, size_t frame_size,
                                     const char *name, async_task **out) {
    async_task *t;
    if (out) *out = NULL;
    if (!rt || !fn || !out || frame_size < sizeof(async_task) || !(rt->flags & ASYNC__RT_INIT))
        return ASYNC_EINVAL;
    t = (async_task *)async__alloc(frame_size);
    if (!t) return ASYNC_ENOMEM;
    async__memset(t, 0, frame_size);
    *out = t;
    return async__spawn(rt, t, fn, name, ASYNC__F_ALLOC);
}

ASYNC_DEF int async_task_join(async_task *self, async_task *child) {
    int rc;
    if (!self || !child || child == self) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(self)) {
        if (child->state != ASYNC_TASK_DONE && child->u.joiner == self) child->u.joiner = NULL;
        return ASYNC_ECANCELED;
    }
    if (child->flags2 & ASYNC__F2_INSET) return ASYNC_EINVAL;   /* its JoinSet joins it */
    if (child->state == ASYNC_TASK_DONE) {
        if ((child->flags & (ASYNC__F_ALLOC | ASYNC__F_TAKEN)) ==
            (ASYNC__F_ALLOC | ASYNC__F_TAKEN))
            return ASYNC_ESTATE;                /* joined already: the runtime's frame */
        if (!async__coop(self)) return ASYNC_PENDING;
        rc = child->u.result;
        child->flags |= ASYNC__F_TAKEN;
        if (child->flags & ASYNC__F_ALLOC) {
            async__list_del(&child->link);
            async__free_task(child);
        }
        return rc;
    }
    if (child->state == ASYNC_TASK_IDLE || child->rt != self->rt) return ASYNC_EINVAL;
    if (child->flags & ASYNC__F_DETACHED) return ASYNC_EINVAL;
    if (child->u.joiner && child->u.joiner != self) return ASYNC_EBUSY;
    child->u.joiner = self;
    return ASYNC_PENDING;
}

ASYNC_DEF int async_task_abort(async_task *t) {
    if (!t || t->state == ASYNC_TASK_IDLE) return ASYNC_EINVAL;
    if (t->state == ASYNC_TASK_DONE) return 0;  /* too late: no effect, as in Tokio */
    t->flags |= ASYNC__F_ABORT;
    if (t->state == ASYNC_TASK_WAITING) async__wake(t);
    return 0;
}

ASYNC_DEF int async_task_detach(async_task *t) {
    if (!t || t->state == ASYNC_TASK_IDLE) return ASYNC_EINVAL;
    if (t->flags2 & ASYNC__F2_INSET) return ASYNC_EINVAL;       /* its JoinSet owns it */
    if (t->state != ASYNC_TASK_DONE && t->u.joiner) return ASYNC_EBUSY;
    t->flags |= ASYNC__F_DETACHED;
    if (t->state == ASYNC_TASK_DONE && (t->flags & ASYNC__F_ALLOC) &&
        !(t->flags & ASYNC__F_TAKEN)) {
        async__list_del(&t->link);
        async__free_task(t);
    }
    return 0;
}

ASYNC_DEF int async_task_wake(async_task *t) {
    if (!t || t->state == ASYNC_TASK_IDLE) return ASYNC_EINVAL;
    async__wake(t);
    return 0;
}

ASYNC_DEF int async_task_result(const async_task *t, int *result) {
    if (!t) return ASYNC_EINVAL;
    if (t->state != ASYNC_TASK_DONE) return ASYNC_ESTATE;
    if (result) *result = t->u.result;
    return 0;
}

ASYNC_DEF int async_task_is_finished(const async_task *t) {
    return t && t->state == ASYNC_TASK_DONE;
}

ASYNC_DEF int async_task_state(const async_task *t) {
    if (!t) return ASYNC_EINVAL;
    if (t->state == ASYNC_TASK_QUEUED && t->rt && t->rt->current == t) return ASYNC_TASK_RUNNING;
    if (t->state == ASYNC_TASK_QUEUED && (t->flags & ASYNC__F_DEFERRED)) return ASYNC_TASK_DEFERRED;
    return t->state;
}

ASYNC_DEF const char *async_task_name(const async_task *t) {
    return t && t->name ? t->name : "";
}

ASYNC_DEF async_runtime *async_task_runtime(const async_task *t) {
    return t ? t->rt : NULL;
}

ASYNC_DEF int async_task_where(const async_task *t, const char **file, int *line) {
    const char *fl = NULL;
    int ln = 0;
    if (!t) return ASYNC_EINVAL;
    if (t->state == ASYNC_TASK_IDLE || t->state == ASYNC_TASK_DONE || t->lc == 0 ||
        t->lc == ASYNC__LC_DONE)                /* finished in the poll now ending */
        return ASYNC_ESTATE;
    if (t->site) {
        fl = t->site->file;
        ln = t->site->line;
    }
#ifndef ASYNC_USE_COMPUTED_GOTO
    else if (t->lc > 0) {
        ln = (int)(t->lc / 256);
    }
#endif
    if (file) *file = fl;
    if (line) *line = ln;
    return 0;
}

/* ---- wakers ---------------------------------------------------------------------- */

static void async__rt_signal(async_runtime *rt);

/* The wake descriptor, made once: an eventfd, or a pipe. */
static int async__wake_fd_make(async_runtime *rt) {
#ifndef ASYNC_FREESTANDING
    if (rt->wake_fd[0] < 0) {
#if defined(ASYNC__WIN32)
        int fd = -1, rc = ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL) ? ASYNC_ENOMEM
                                                                  : async__win_wake_make(&fd);
        if (rc < 0) return rc;
        rt->wake_fd[0] = rt->wake_fd[1] = fd;
#elif defined(ASYNC__LINUX)
        int fd = ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL) ? -1
                                                          : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) return -errno;
        rt->wake_fd[0] = rt->wake_fd[1] = fd;
#else
        int fds[2];
        if (ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL) || pipe(fds) < 0) return -errno;
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        rt->wake_fd[0] = fds[0];
        rt->wake_fd[1] = fds[1];
#endif
    }
#else
    (void)rt;
#endif
    return 0;
}

ASYNC_DEF int async_waker_init(async_runtime *rt, async_waker *w) {
    async_waker *x;
    int rc;
    if (!rt || !w || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    for (x = rt->wakers; x; x = x->next)
        if (x == w) return ASYNC_EBUSY;         /* already registered */
    if ((rc = async__wake_fd_make(rt)) < 0) return rc;
    w->flag = 0;
    w->task = NULL;
    w->on_wake = NULL;
    w->rt = rt;
    w->next = rt->wakers;
    rt->wakers = w;
    return 0;
}

ASYNC_DEF int async_waker_destroy(async_waker *w) {
    async_waker **pp;
    if (!w) return ASYNC_EINVAL;
    if (!w->rt) return 0;
    if (w->task) return ASYNC_EBUSY;
    for (pp = &w->rt->wakers; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->rt = NULL;
    return 0;
}

/* Context: anywhere. Only stores, plus one write(2) on the first wake of a turn
   (write is async-signal-safe). */
ASYNC_DEF void async_waker_wake(async_waker *w) {
    async_runtime *rt;
    if (!w || !(rt = w->rt)) return;
    ASYNC__STORE(&w->flag, 1);
    async__rt_signal(rt);
}

/* The one way into a runtime from outside: a flag, and on the first wake of a turn
   one write(2) to its wake descriptor (async-signal-safe). */
static void async__rt_signal(async_runtime *rt) {
    ASYNC__PREEMPT();
    if (ASYNC__XCHG_SC(&rt->pending, 1) == 0) {
#ifndef ASYNC_FREESTANDING
        ASYNC__PREEMPT();
#ifdef ASYNC__XTHREADS
        /* A group's runtime sleeps only after it said so (parked) and then looked at
           pending once more: one of the two sides sees the other's store. */
        if (rt->group && !ASYNC__LOAD_SC(&rt->parked)) return;
#endif
        if (rt->wake_fd[1] >= 0) {
            uint64_t one = 1;
#ifdef ASYNC__WIN32
            int n = ASYNC__FAULT(ASYNC_SYS_WAKE, rt->wake_fd[1], NULL) ? -1 :
                    send((SOCKET)rt->wake_fd[1], (const char *)&one, 8, 0);
#else
            ssize_t n = ASYNC__FAULT(ASYNC_SYS_WAKE, rt->wake_fd[1], NULL) ? -1 :
                        write(rt->wake_fd[1], &one, rt->wake_fd[0] == rt->wake_fd[1] ? 8 : 1);
#endif
            (void)n;                    /* full pipe: a wake-up is already pending */
        }
#endif
    }
}

#ifndef ASYNC_FREESTANDING
/* An op that completed without async_waker_wait: stop counting on a wake. */
static void async__waker_disarm(async_waker *w, async_task *t) {
    if (w->task == t && w->rt) {
        w->task = NULL;
        w->rt->armed_wakers--;
    }
}
#endif

ASYNC_DEF int async_waker_wait(async_task *t, async_waker *w) {
    if (!t || !w || !w->rt) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) {
        if (w->task == t) {
            w->task = NULL;
            w->rt->armed_wakers--;
        }
        return ASYNC_ECANCELED;
    }
    if (w->task && w->task != t) return ASYNC_EBUSY;
    if (ASYNC__LOAD(&w->flag)) {
        if (!async__coop(t)) return ASYNC_PENDING;
        ASYNC__XCHG(&w->flag, 0);
        if (w->task) {
            w->task = NULL;
            w->rt->armed_wakers--;
        }
        return 0;
    }
    if (!w->task) {
        w->task = t;
        w->rt->armed_wakers++;
    }
    return ASYNC_PENDING;
}

/* ---- across threads: remote wakes, shared objects ---------------------------------
   A waiter always belongs to the runtime of its task. A shared object (a channel made
   with init_shared) runs each operation under its lock; when it makes ready a waiter
   whose runtime is not the one this thread is turning, it does not touch that
   runtime's run queue: it pushes the waiter (its links are free once it left the
   object's queue; prev == itself marks it on its way) on the runtime's remote list
   and signals the runtime, which collects the list with its other wake-ups. The push
   and the signal happen under the object's lock, so the runtime and the waiter are
   alive: the waiter's own task can only leave the wait through the same lock, and
   collects the list first if its waiter is still on it. */
#ifdef ASYNC__XTHREADS
static void async__wake_remote(async_waiter *w) {
    async_runtime *rt = w->task->rt;
    async__spin_lock(&rt->remote_lock);
    w->prev = w;                        /* on its way */
    w->next = rt->remote;
    rt->remote = w;
    async__spin_unlock(&rt->remote_lock);
    async__rt_signal(rt);
}

ASYNC__COLD static void async__wq_ready_shared(async_waitq *q, async_waiter *w,
                                             uint8_t state) {
    async__wq_unlink(q, w);
    w->state = state;
    if (w->task->rt != ASYNC__HERE()) async__wake_remote(w);   /* another runtime's */
    else async__wake(w->task);
}

static void async__spawn_queued(async_runtime *rt, async_task *t);

/* On rt's thread: wake the waiters other threads made ready, in the order they were
   (and, from the loop, queue the tasks other threads spawned onto rt). */
static void async__remote_collect(async_runtime *rt, int spawns) {
    async_waiter *w, *list = NULL, *next;
    async_task *sp = NULL;
    async__link *l, *lnext, *tasks = NULL;
    async__spin_lock(&rt->remote_lock);
    w = rt->remote;
    rt->remote = NULL;
    if (spawns) {
        sp = rt->spawns;
        rt->spawns = NULL;
        rt->nspawns = 0;                /* counted in live from here */
    }
    async__spin_unlock(&rt->remote_lock);
    for (; w; w = next) {               /* newest first: reverse */
        next = w->next;
        w->next = list;
        list = w;
    }
    for (; sp; sp = (async_task *)(void *)lnext) {         /* spawns first: an abort */
        l = &sp->link;                                      /* may follow its spawn */
        lnext = l->next;
        l->next = tasks;
        tasks = l;
    }
    for (l = tasks; l; l = lnext) {
        lnext = l->next;
        async__spawn_queued(rt, async__task_of(l));
    }
    for (w = list; w; w = next) {
        next = w->next;
        w->next = w->prev = NULL;
        if (w->kind == ASYNC__W_KIND_ABORT) async_task_abort(w->task);
        else async__wake(w->task);
    }
}

/* Enter an operation of a shared object: a wake descriptor for the caller's runtime
   (other threads must be able to wake it), the lock, and the caller's waiter
   collected if it is still on its way here (so nothing outside this thread holds
   it once the operation looks at it). t and w are NULL for the operations that
   never wait. */
static int async__xenter(volatile int *lock, async_task *t, async_waiter *w) {
    if (t && t->rt->wake_fd[0] < 0 && !ASYNC__CANCELLING(t)) {
        int rc = async__wake_fd_make(t->rt);
        if (rc < 0) return rc;
    }
    async__spin_lock(lock);
    if (t && w) {
        if (w->prev == w && w->state > ASYNC__W_WAITING) async__remote_collect(t->rt, 0);
        if (!w->shared) w->shared = 1;
    }
    return 0;
}
/* Leave it: a wait that goes on counts as one another thread may end (the loop then
   sleeps on its wake descriptor instead of giving up); an ended one no longer. */
static int async__xleave(volatile int *lock, async_task *t, async_waiter *w, int rc) {
    if (t && w) {
        if (rc == ASYNC_PENDING) {
            if (w->shared == 1) {
                w->shared = 2;
                t->rt->armed_wakers++;
                t->rt->xwaits++;
            }
        } else {
            if (w->shared == 2) {
                t->rt->armed_wakers--;
                t->rt->xwaits--;
            }
            w->shared = 0;
        }
    }
    async__spin_unlock(lock);
    return rc;
}
#define ASYNC__SHARED(obj, t, w, call) \
    do { \
        if ((obj) && (obj)->shared) { \
            int x_rc_ = async__xenter(&(obj)->lock, (t), (w)); \
            if (x_rc_ < 0) return x_rc_; \
            return async__xleave(&(obj)->lock, (t), (w), (call)); \
        } \
    } while (0)
/* The same for the operations that only look (on a const object) and may return a
   count: the lock is the object's only mutable part they touch. */
#define ASYNC__SHARED_C(type, ret, obj, call) \
    do { \
        if ((obj) && (obj)->shared) { \
            volatile int *x_lock_ = &((type *)(uintptr_t)(obj))->lock; \
            ret x_v_; \
            async__spin_lock(x_lock_); \
            x_v_ = (call); \
            async__spin_unlock(x_lock_); \
            return x_v_; \
        } \
    } while (0)
#else
#define ASYNC__SHARED(obj, t, w, call) ((void)(obj))
#define ASYNC__SHARED_C(type, ret, obj, call) ((void)(obj))
#endif

////////////////////////////////////////////////////////////////////////////////
// >>time

/* Timers live in a hierarchical wheel (Tokio's design): a timer whose tick first
   differs from `elapsed` in 6-bit group L sits at level L, in slot (tick >> 6L) & 63,
   so the lowest non-empty level always holds the earliest timers. Level 0 slots are
   kept sorted by (deadline, seq) and fire only what is due, so firing order is exact
   and a deadline is never rounded up; higher slots are unordered and cascade down
   when the wheel reaches them (hosted, a slot above level 0 is four lists: see
   ASYNC__LANES). Insert and cancel are O(1); a timer moves at most once per level. */
static int async__tbefore(const async_timer *a, const async_timer *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && (int32_t)(a->seq - b->seq) < 0);
}

/* bit / ASYNC_WHEEL_BITS, folded at compile time: no division on Cortex-M0. Ticks
   have 54 bits, so the top entries clamp to the last level. */
#define ASYNC__BL(i) ((i) / ASYNC_WHEEL_BITS < ASYNC__WHEEL_LEVELS ? (i) / ASYNC_WHEEL_BITS \
                                                                 : ASYNC__WHEEL_LEVELS - 1)
#define ASYNC__BL8(i) ASYNC__BL(i), ASYNC__BL(i + 1), ASYNC__BL(i + 2), ASYNC__BL(i + 3), \
                      ASYNC__BL(i + 4), ASYNC__BL(i + 5), ASYNC__BL(i + 6), ASYNC__BL(i + 7)
static const uint8_t async__bit_level[64] = {
    ASYNC__BL8(0), ASYNC__BL8(8), ASYNC__BL8(16), ASYNC__BL8(24),
    ASYNC__BL8(32), ASYNC__BL8(40), ASYNC__BL8(48), ASYNC__BL8(56) };
#define ASYNC__SLOT_MASK ((unsigned)ASYNC__WHEEL_SLOTS - 1u)

#ifndef ASYNC_FREESTANDING
/* Into its level 0 slot (sorted by (deadline, seq)), `tm` before the tail: scanning
   back from the tail for its place; a timer that belongs far from the tail (a tick's
   timers reaching the slot out of order, as a cascade's walks over lists that interleave
   several ticks bring them) goes to the tail instead and marks the slot, sorted before
   it is read (async__slot_sort). Scanning for each one's place was O(n^2): 12 s for 2e5
   timers of two deadlines armed in turn. */
ASYNC__APART static void async__link_sorted(async_runtime *rt, async_timer *tm) {
    int slot = tm->slot, steps = 8;
    async_timer **head = &rt->wheel[0][slot][0], *at = (*head)->prev;
    while (async__tbefore(tm, at)) {
        if (at == *head) {                              /* the new head */
            tm->next = at;
            tm->prev = at->prev;
            at->prev->next = tm;
            at->prev = tm;
            *head = tm;
            return;
        }
        if (!--steps) {
            rt->unsorted[slot >> ASYNC__OCC_SHIFT] |=
                (async__occ)1 << ((unsigned)slot & ASYNC__OCC_MASK);
            at = (*head)->prev;
            break;
        }
        at = at->prev;
    }
    tm->prev = at;                                      /* after `at` */
    tm->next = at->next;
    at->next->prev = tm;
    at->next = tm;
}
#endif

static void async__slot_link(async_runtime *rt, async_timer *tm, uint64_t tick, unsigned lane) {
    int level = async__bit_level[async__msb64((rt->elapsed ^ tick) | ASYNC__SLOT_MASK)], slot;
    async_timer **head, *at;
    slot = (int)(async__shr64(tick, (unsigned)(ASYNC_WHEEL_BITS * level)) & ASYNC__SLOT_MASK);
    tm->level = (uint8_t)level;
    tm->slot = (uint8_t)slot;
#if ASYNC__LANES > 1
    tm->lane = (uint8_t)(level ? lane : 0u);
#else
    (void)lane;
#endif
    if (tick < rt->due) {                               /* keep `due` a lower bound */
        unsigned shift = (unsigned)(ASYNC_WHEEL_BITS * level);
        uint64_t start = async__shl64(async__shr64(tick, shift), shift);
        if (start < rt->due) rt->due = start;
    }
    head = &rt->wheel[level][slot][ASYNC__LANE(tm)];
#ifdef ASYNC_FREESTANDING                   /* (the smaller code) */
    rt->occupied[level][slot >> ASYNC__OCC_SHIFT] |=
        (async__occ)1 << ((unsigned)slot & ASYNC__OCC_MASK);
    rt->levels |= 1u << level;
#endif
    if (!*head) {                           /* a list that has a timer has its bits set */
#ifndef ASYNC_FREESTANDING
        rt->occupied[level][slot >> ASYNC__OCC_SHIFT] |=
            (async__occ)1 << ((unsigned)slot & ASYNC__OCC_MASK);
        rt->levels |= 1u << level;
#endif
        tm->next = tm->prev = *head = tm;
        return;
    }
    at = (*head)->prev;                                  /* the tail */
#ifndef ASYNC_FREESTANDING
    if (level == 0 && async__tbefore(tm, at)) {
        async__link_sorted(rt, tm);
        return;
    }
#else
    if (level == 0) {
        while (async__tbefore(tm, at)) {                 /* sorted, scanning from the tail */
            if (at == *head) {
                tm->next = at;
                tm->prev = at->prev;
                at->prev->next = tm;
                at->prev = tm;
                *head = tm;
                return;
            }
            at = at->prev;
        }
    }
#endif
    tm->prev = at;                                       /* after `at` */
    tm->next = at->next;
    at->next->prev = tm;
    at->next = tm;
}

static void async__slot_clear(async_runtime *rt, int level, int slot) {
    async__occ *occ = rt->occupied[level], any = 0;
    int w;
    occ[slot >> ASYNC__OCC_SHIFT] &= ~((async__occ)1 << ((unsigned)slot & ASYNC__OCC_MASK));
    for (w = 0; w < ASYNC__WHEEL_WORDS; w++) any |= occ[w];
    if (!any) rt->levels &= ~(1u << level);
}

#if ASYNC__LANES > 1
static int async__slot_any(async_timer *const *lists) {    /* a slot's lists: any timer? */
    int i;
    for (i = 0; i < ASYNC__LANES; i++)
        if (lists[i]) return 1;
    return 0;
}
#endif

static void async__slot_unlink(async_runtime *rt, async_timer *tm) {
    async_timer **head = &rt->wheel[tm->level][tm->slot][ASYNC__LANE(tm)];
    if (tm->next == tm) {
        *head = NULL;
#if ASYNC__LANES > 1
        if (!async__slot_any(rt->wheel[tm->level][tm->slot]))
#endif
            async__slot_clear(rt, tm->level, tm->slot);
    } else {
        tm->prev->next = tm->next;
        tm->next->prev = tm->prev;
        if (*head == tm) *head = tm->next;
    }
    tm->next = tm->prev = NULL;
}

/* The earliest occupied slot: its level, index and first tick. Returns 0 if none.
   The lowest non-empty level holds the earliest timers, and within it no occupied
   slot lies before the wheel's position (a timer behind it would differ from
   `elapsed` in a higher group, so it would sit on a higher level). */
static int async__lsb_occ(async__occ m) {         /* m != 0 */
#ifdef ASYNC_FREESTANDING
    return async__lsb32(m);
#elif defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(m);
#else
    return (uint32_t)m ? async__lsb32((uint32_t)m) : 32 + async__lsb32((uint32_t)(m >> 32));
#endif
}

static int async__wheel_next(const async_runtime *rt, int *level, int *slot, uint64_t *start) {
    int l, s = -1, w;
    unsigned pos, shift, up;
    const async__occ *occ;
    uint64_t base;
    if (!rt->levels) return 0;
    l = async__lsb32(rt->levels);
    shift = (unsigned)(ASYNC_WHEEL_BITS * l);
    pos = (unsigned)(async__shr64(rt->elapsed, shift) & ASYNC__SLOT_MASK);
    occ = rt->occupied[l];
    for (w = (int)(pos >> ASYNC__OCC_SHIFT); w < ASYNC__WHEEL_WORDS; w++) {
        async__occ m = occ[w];
        if (w == (int)(pos >> ASYNC__OCC_SHIFT))
            m &= ~(async__occ)0 << (pos & ASYNC__OCC_MASK);        /* from pos on */
        if (m) {
            s = (w << ASYNC__OCC_SHIFT) + async__lsb_occ(m);
            break;
        }
    }
    if (s < 0) {
        ASYNC_ASSERT(0, "timer wheel: an occupied slot behind the wheel's position");
        return 0;
    }
    up = shift + ASYNC_WHEEL_BITS;
    base = up >= 64 ? 0 : async__shl64(async__shr64(rt->elapsed, up), up);
    *level = l;
    *slot = s;
    *start = base + async__shl64((uint64_t)s, shift);
    return 1;
}

static void async__timer_insert(async_runtime *rt, async_timer *tm, async_time deadline,
                                async_task *t) {
    uint64_t tick = deadline >> ASYNC__WHEEL_SHIFT;
    tm->deadline = deadline;
    tm->task = t;
    tm->seq = rt->timer_seq++;
    tm->state = ASYNC__TM_ARMED;
#ifndef ASYNC_FREESTANDING
    if (tick != rt->arm_tick) {         /* a tick's timers armed in a row: one list */
        rt->arm_tick = tick;
        rt->arm_lane = (tm->seq >> 8) & (ASYNC__LANES - 1u);
    }
    async__slot_link(rt, tm, tick < rt->elapsed ? rt->elapsed : tick, rt->arm_lane);
#else
    async__slot_link(rt, tm, tick < rt->elapsed ? rt->elapsed : tick, 0);
#endif
    rt->ntimers++;
}

static void async__timer_remove(async_runtime *rt, async_timer *tm) {
    async__slot_unlink(rt, tm);
    tm->state = ASYNC__TM_IDLE;
    rt->ntimers--;
}

/* A cascading timer to the level and slot its deadline now calls for. `by`: the timer
   its walk linked last (or NULL); going forward (`back` 0) `tm` follows it, going back
   it precedes it. Timers often share a tick (many tasks sleeping alike): one that shares
   `by`'s tick, so its slot, goes right next to it, where a higher level's slot is
   unordered and level 0's keeps its order; this keeps a walk's order without a scan.
   (Freestanding, one walk: next to `by` only when that is the slot's tail.) */
ASYNC__HOT static void async__cascade_one(async_runtime *rt, async_timer *tm, async_timer *by,
                                          int back) {
    if (by && (tm->deadline >> ASYNC__WHEEL_SHIFT) == (by->deadline >> ASYNC__WHEEL_SHIFT)) {
        async_timer **head = &rt->wheel[by->level][by->slot][ASYNC__LANE(by)];
#ifdef ASYNC_FREESTANDING
        (void)back;
        if (by->next != *head || async__tbefore(tm, by)) goto link;
        tm->prev = by;
        tm->next = by->next;
#else
        if (!back) {
            if (!by->level && async__tbefore(tm, by)) goto link;
            if (!by->level && by->next != *head && !async__tbefore(tm, by->next)) goto link;
            tm->prev = by;                              /* after `by` */
            tm->next = by->next;
        } else {
            if (!by->level && !async__tbefore(tm, by)) goto link;
            if (!by->level && by != *head && async__tbefore(tm, by->prev)) goto link;
            tm->next = by;                              /* before `by` */
            tm->prev = by->prev;
            if (by == *head) *head = tm;
        }
#endif
        tm->level = by->level;
        tm->slot = by->slot;
#if ASYNC__LANES > 1
        tm->lane = by->lane;
#endif
        tm->prev->next = tm;
        tm->next->prev = tm;
        return;
    }
link:
    async__slot_link(rt, tm, tm->deadline >> ASYNC__WHEEL_SHIFT,
                     (unsigned)(tm->deadline >> ASYNC__WHEEL_SHIFT) & (ASYNC__LANES - 1u));
#ifndef ASYNC_FREESTANDING
    if (tm->level == 0) {               /* it fires soon: start loading its task (these */
        ASYNC__PREFETCH(tm->task);      /* loads overlap; the firing would wait on each) */
        ASYNC__PREFETCH((const char *)tm->task + sizeof(async_task) - 1);
    }
#endif
}

#ifndef ASYNC_FREESTANDING
/* One step of the two walks of a list, `*a` forward and `*b` back, whose next timers
   `na`, `nb` are loaded already; `*pa`, `*pb`: the timers each walk linked last.
   Returns 0 once the walks have met. */
ASYNC__HOT static int async__cascade_step(async_runtime *rt, async_timer **a, async_timer **b,
                                          async_timer **pa, async_timer **pb,
                                          async_timer *na, async_timer *nb) {
    async__cascade_one(rt, *a, *pa, 0);
    *pa = *a;
    if (*a == *b) return 0;                     /* an odd count: a met b */
    async__cascade_one(rt, *b, *pb, 1);
    *pb = *b;
    if (na == *b) return 0;                     /* an even count: they meet */
    *a = na;
    *b = nb;
    return 1;
}
#endif

/* The wheel reached slot `slot` of level `level` > 0: its timers move down, each to
   the level and slot its deadline now calls for (each list's order is kept). Hosted,
   a slot may hold many thousands of cold timers (linked long ago, far apart): walking
   a list is then a chain of cache misses, each waiting on the one before. Each of the
   slot's lists (up to four) is walked forward from its head and back from its tail, in
   one loop: up to eight chains whose misses overlap; a back walk links each timer
   before the one it linked last, so each half keeps its order. A list walked to its end
   leaves the loop to the others; the last one left goes on alone. (Freestanding: one
   walk, the smaller code.) */
static void async__timer_cascade(async_runtime *rt, int level, int slot) {
#ifndef ASYNC_FREESTANDING
    async_timer **head = rt->wheel[level][slot];
    async_timer *a[ASYNC__LANES], *b[ASYNC__LANES], *pa[ASYNC__LANES], *pb[ASYNC__LANES];
    async_timer *na[ASYNC__LANES], *nb[ASYNC__LANES];
    int n = 0, i;
    for (i = 0; i < ASYNC__LANES; i++)
        if (head[i]) {
            a[n] = head[i];
            b[n] = head[i]->prev;
            pa[n] = pb[n] = NULL;
            head[i] = NULL;
            n++;
        }
    async__slot_clear(rt, level, slot);
    while (n > 1) {
        for (i = 0; i < n; i++) {               /* every chain's load first: they overlap */
            na[i] = a[i]->next;
            nb[i] = b[i]->prev;
        }
        for (i = 0; i < n;) {
            if (async__cascade_step(rt, &a[i], &b[i], &pa[i], &pb[i], na[i], nb[i])) {
                i++;
                continue;
            }
            n--;                                /* this list is done: the last takes its place */
            a[i] = a[n];
            b[i] = b[n];
            pa[i] = pa[n];
            pb[i] = pb[n];
            na[i] = na[n];
            nb[i] = nb[n];
        }
    }
    if (n) {                                    /* one list left: two chains */
        async_timer *a0 = a[0], *b0 = b[0], *pa0 = pa[0], *pb0 = pb[0], *na0, *nb0;
        do {
            na0 = a0->next;
            nb0 = b0->prev;
        } while (async__cascade_step(rt, &a0, &b0, &pa0, &pb0, na0, nb0));
    }
#else
    async_timer **head = &rt->wheel[level][slot][0];
    async_timer *a = head[0], *b, *pa = NULL;
    b = a->prev;
    head[0] = NULL;
    async__slot_clear(rt, level, slot);
    b->next = NULL;
    for (; a; pa = a, a = b) {
        b = a->next;
        async__cascade_one(rt, a, pa, 0);
    }
#endif
}

#ifndef ASYNC_FREESTANDING
/* A level 0 slot marked by async__link_sorted, before it is read: sorted by (deadline,
   seq), a bottom-up merge sort (O(n log n)). */
static void async__slot_sort(async_runtime *rt, int slot) {
    async__occ *w = &rt->unsorted[slot >> ASYNC__OCC_SHIFT];
    async__occ bit = (async__occ)1 << ((unsigned)slot & ASYNC__OCC_MASK);
    async_timer **head = &rt->wheel[0][slot][0], *list, *p, *q, *e, *tail;
    size_t size = 1, merges, np, nq;
    if (!(*w & bit)) return;
    *w &= ~bit;
    if (!(list = *head)) return;
    list->prev->next = NULL;                    /* a NULL-ended list, merged bottom-up */
    do {
        p = list;
        list = tail = NULL;
        merges = 0;
        while (p) {                             /* merge runs of `size` pairwise */
            merges++;
            for (q = p, np = 0; q && np < size; np++) q = q->next;
            nq = size;
            while (np || (nq && q)) {
                if (np && (!nq || !q || !async__tbefore(q, p))) {
                    e = p;
                    p = p->next;
                    np--;
                } else {
                    e = q;
                    q = q->next;
                    nq--;
                }
                if (tail) tail->next = e;
                else list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        size *= 2;
    } while (merges > 1);
    for (p = list; p->next; p = p->next) p->next->prev = p;                 /* back links */
    list->prev = p;
    p->next = list;
    *head = list;
}
#else
#define async__slot_sort(rt, slot) ((void)0)
#endif

/* Fire the timers of a level-0 slot due at `now` (the slot is in (deadline, seq)
   order); returns 1 if some are left, due later in this tick. */
static int async__timer_fire_slot(async_runtime *rt, async_timer **head, async_time now) {
    while (*head && (*head)->deadline <= now) {
        async_timer *tm = *head;
        async__slot_unlink(rt, tm);
        tm->state = ASYNC__TM_FIRED;
        rt->ntimers--;
        rt->stats.timers_fired++;
        ASYNC__FAULT_EVENT(rt, ASYNC_FAULT_TIMER_FIRED, tm->deadline, now);
        async__wake(tm->task);
    }
    return *head != NULL;
}

/* Fire every timer due at `now`, in (deadline, seq) order: walk the wheel's occupied
   slots up to now, cascading higher levels down and firing level 0. `due` makes the
   common case, nothing due yet, one comparison. */
static void async__fire_timers(async_runtime *rt, async_time now) {
    uint64_t now_tick = now >> ASYNC__WHEEL_SHIFT, start;
    int level, slot;
    if (now_tick < rt->due) return;             /* elapsed may stay behind: that is fine */
    rt->due = UINT64_MAX;
    while (async__wheel_next(rt, &level, &slot, &start)) {
        if (start > now_tick) {
            rt->due = start;
            break;
        }
        rt->elapsed = start;
        if (level > 0) {
            async__timer_cascade(rt, level, slot);
            continue;
        }
        async__slot_sort(rt, slot);
        if (async__timer_fire_slot(rt, &rt->wheel[0][slot][0], now)) {
            rt->due = start;                    /* the rest are due later this tick */
            break;
        }
    }
    if (rt->elapsed < now_tick && rt->due > now_tick) rt->elapsed = now_tick;
}

/* The earliest deadline (exact), or ASYNC_TIME_NEVER, for a paused clock about to jump
   to it (auto-advance): while the earliest slot is on a higher level, the wheel moves to
   that slot's start and cascades it, as async__fire_timers will at that deadline (the
   slot starts at or before every deadline it holds, so `elapsed` never passes the clock
   it is about to be set to). Scanning the unordered slot instead, then cascading it,
   walked its cold timers twice: 40% of the time of 1e6 random timers. */
#ifndef ASYNC_FREESTANDING
static async_time async__timer_settle(async_runtime *rt) {
    int level, slot;
    uint64_t start;
    while (async__wheel_next(rt, &level, &slot, &start)) {
        if (level == 0) {
            async__slot_sort(rt, slot);
            return rt->wheel[0][slot][0]->deadline;
        }
        rt->elapsed = start;
        async__timer_cascade(rt, level, slot);
    }
    return ASYNC_TIME_NEVER;
}
#endif

/* The earliest deadline (exact), or ASYNC_TIME_NEVER. */
static async_time async__next_deadline(const async_runtime *rt) {
    int level, slot;
    uint64_t start;
    async_time best;
    const async_timer *tm, *head;
#if ASYNC__LANES > 1
    int i;
#endif
    if (!rt->ntimers || !async__wheel_next(rt, &level, &slot, &start)) return ASYNC_TIME_NEVER;
#if ASYNC__LANES > 1
    for (i = 0; !rt->wheel[level][slot][i]; i++) {}
    head = rt->wheel[level][slot][i];
#else
    head = rt->wheel[level][slot][0];
#endif
#ifndef ASYNC_FREESTANDING
    if (level == 0 && !(rt->unsorted[slot >> ASYNC__OCC_SHIFT] >>
                        ((unsigned)slot & ASYNC__OCC_MASK) & 1u))
#else
    if (level == 0)
#endif
        return head->deadline;
    best = head->deadline;                              /* unordered: look at them all */
    for (tm = head->next; tm != head; tm = tm->next)
        if (tm->deadline < best) best = tm->deadline;
#if ASYNC__LANES > 1
    for (i++; i < ASYNC__LANES; i++) {
        if (!(head = rt->wheel[level][slot][i])) continue;
        for (tm = head; ; tm = tm->next) {
            if (tm->deadline < best) best = tm->deadline;
            if (tm->next == head) break;
        }
    }
#endif
    return best;
}

ASYNC_DEF async_time async_runtime_next_deadline(const async_runtime *rt) {
    return rt && (rt->flags & ASYNC__RT_INIT) ? async__next_deadline(rt) : ASYNC_TIME_NEVER;
}

ASYNC_DEF int async_time_pause(async_runtime *rt, int auto_advance) {
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (rt->flags & ASYNC__RT_PAUSED) return ASYNC_ESTATE;
    rt->paused_now = async__clock(rt);
    rt->flags |= (uint32_t)ASYNC__RT_PAUSED |
                 (auto_advance ? (uint32_t)ASYNC__RT_AUTO_ADVANCE : 0u);
    return 0;
}

ASYNC_DEF int async_time_resume(async_runtime *rt) {
    async_time real;
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (!(rt->flags & ASYNC__RT_PAUSED)) return ASYNC_ESTATE;
    real = async__clock(rt);
    rt->offset += rt->paused_now - real;        /* go on from the paused instant (Tokio);
                                                   unsigned wrap-around makes this exact */
    rt->flags &= ~(uint32_t)(ASYNC__RT_PAUSED | ASYNC__RT_AUTO_ADVANCE);
    return 0;
}

ASYNC_DEF int async_time_advance(async_runtime *rt, async_time duration) {
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (!(rt->flags & ASYNC__RT_PAUSED)) return ASYNC_ESTATE;
    rt->paused_now = async__sat_add(rt->paused_now, duration);
    async__fire_timers(rt, rt->paused_now);
    return 0;
}

ASYNC_DEF int async_time_sleep_until(async_task *t, async_timer *tm, async_time deadline) {
    if (!t || !tm) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) {
        async__timer_disarm(tm);
        return ASYNC_ECANCELED;
    }
    if (tm->state == ASYNC__TM_IDLE) {
        /* One clock reading decides: a deadline already passed fires now (never
           rounded up), a later one links the timer. Deciding on one reading and
           arming on another lost the wake-up when the deadline passed in between. */
        async__timer_arm(t, tm, deadline);
    }
    if (tm->state != ASYNC__TM_FIRED || !async__coop(t)) return ASYNC_PENDING;
    tm->state = ASYNC__TM_IDLE;
    return 0;
}

ASYNC_DEF int async_time_sleep(async_task *t, async_timer *tm, async_time duration) {
    if (!t || !tm) return ASYNC_EINVAL;
    if (tm->state != ASYNC__TM_IDLE || ASYNC__CANCELLING(t))
        return async_time_sleep_until(t, tm, 0);
    return async_time_sleep_until(t, tm, async__sat_add(async_time_now(t->rt), duration));
}

ASYNC_DEF async_time async__deadline_after(async_task *t, async_time duration) {
    return async__sat_add(async_time_now(t->rt), duration);
}

/* Timeout support: arm once before the await, so that the awaited operation is
   always polled before the deadline is looked at. */
ASYNC_DEF void async__timer_arm(async_task *t, async_timer *tm, async_time deadline) {
    if (tm->state == ASYNC__TM_ARMED) async__timer_remove(t->rt, tm);
    tm->task = t;
    if (deadline == ASYNC_TIME_NEVER) tm->state = ASYNC__TM_NEVER;   /* no timer at all */
    else if (deadline <= async_time_now(t->rt)) tm->state = ASYNC__TM_FIRED;
    else async__timer_insert(t->rt, tm, deadline, t);
}

ASYNC_DEF void async__timer_disarm(async_timer *tm) {
    if (tm->state == ASYNC__TM_ARMED) async__timer_remove(tm->task->rt, tm);
    tm->state = ASYNC__TM_IDLE;
}

ASYNC_DEF int async_interval_init_until(async_interval *iv, async_time start, async_time period,
                                        int missed) {
    if (!iv || period == 0 || missed < ASYNC_TICK_BURST || missed > ASYNC_TICK_SKIP)
        return ASYNC_EINVAL;
    async__memset(iv, 0, sizeof *iv);
    iv->period = period;
    iv->next = start;
    iv->missed = (uint8_t)missed;
    iv->started = 1;
    return 0;
}

ASYNC_DEF int async_interval_init(async_interval *iv, async_time period, int missed) {
    int rc = async_interval_init_until(iv, 0, period, missed);
    if (rc == 0) iv->started = 0;       /* the first tick is "now" at its first poll */
    return rc;
}

/* The next tick comes one period from now (Tokio's reset). A task waiting in tick
   keeps waiting, for the new deadline; if none waits, "now" is the next poll. */
ASYNC_DEF void async_interval_reset(async_interval *iv) {
    async_task *t;
    if (!iv) return;
    if (iv->timer.state == ASYNC__TM_ARMED || iv->timer.state == ASYNC__TM_NEVER) {
        t = iv->timer.task;
        async__timer_disarm(&iv->timer);
        iv->next = async__sat_add(async_time_now(t->rt), iv->period);
        iv->started = 1;
        async__timer_arm(t, &iv->timer, iv->next);
        if (iv->timer.state == ASYNC__TM_FIRED) async__wake(t);
        return;
    }
    iv->timer.state = ASYNC__TM_IDLE;
    iv->started = 2;                    /* next tick = one period after the next poll */
}

ASYNC_DEF int async_interval_tick(async_task *t, async_interval *iv, async_time *when) {
    int rc;
    async_time now, tick, next;
    if (!t || !iv || iv->period == 0) return ASYNC_EINVAL;
    if (!ASYNC__CANCELLING(t) && iv->started != 1) {
        now = async_time_now(t->rt);
        iv->next = iv->started == 2 ? async__sat_add(now, iv->period) : now;
        iv->started = 1;
    }
    rc = async_time_sleep_until(t, &iv->timer, iv->next);
    if (rc != 0) return rc;             /* pending, or cancelled */
    now = async_time_now(t->rt);
    tick = iv->next;
    if (now > async__sat_add(tick, ASYNC__MISSED_TICK_SLACK)) {
        switch (iv->missed) {
        case ASYNC_TICK_DELAY:
            next = async__sat_add(now, iv->period);
            break;
        case ASYNC_TICK_SKIP:
            next = async__sat_add(now, iv->period - async__mod(now - tick, iv->period));
            break;
        default:
            next = async__sat_add(tick, iv->period);
            break;
        }
    } else {
        next = async__sat_add(tick, iv->period);
    }
    iv->next = next;
    if (when) *when = tick;
    return 0;
}

////////////////////////////////////////////////////////////////////////////////
// >>sync

enum { ASYNC__NOTIFY_ONE = 1, ASYNC__NOTIFY_ALL = 2 };

/* The FIFO permit core of Semaphore, Mutex and RwLock: `used` of `max` permits are
   out. Waiters are served strictly in order and released permits go straight to
   the head waiter, in parts if need be, so that a newcomer can never barge past a
   waiter (Tokio's batch semaphore). Invariant: a non-empty queue means no permit is
   free. */
ASYNC__HOT static void async__permits_release(async_waitq *q, size_t *used, size_t max,
                                              size_t n) {
    *used -= n;
    while (q->head && *used < max) {
        async_waiter *w = q->head;
        size_t free_ = max - *used, need = w->want - w->got;
        size_t give = free_ < need ? free_ : need;
        w->got += give;
        *used += give;
        if (w->got < w->want) break;
        async__wq_ready(q, w, ASYNC__W_READY);
    }
}

/* A cancelled acquire gives back what was handed over, so nothing leaks and the next
   waiter moves. */
ASYNC__COLD static int async__permits_cancel(async_waitq *q, size_t *used, size_t max,
                                             async_waiter *w, uint8_t was) {
    if (was == ASYNC__W_WAITING && w->got) async__permits_release(q, used, max, w->got);
    else if (was == ASYNC__W_READY) async__permits_release(q, used, max, w->want);
    w->want = w->got = 0;
    return ASYNC_ECANCELED;
}

ASYNC__HOT static int async__permits_acquire(async_task *t, async_waitq *q, size_t *used,
                                             size_t max, int closed, async_waiter *w, size_t n) {
    uint8_t was;
    if (async__wait_begin(t, q, w, 0, &was) < 0) return async__permits_cancel(q, used, max, w, was);
    switch (w->state) {
    case ASYNC__W_WAITING:
        return ASYNC_PENDING;
    case ASYNC__W_READY:
        if (closed) {
            /* Handed its permits, then closed before it ran: the close wins and the
               permits go back (Tokio: a queued acquire polled after close fails). */
            async__permits_release(q, used, max, w->want);
            w->state = ASYNC__W_IDLE;
            w->want = w->got = 0;
            return ASYNC_ECLOSED;
        }
        if (!async__coop(t)) return ASYNC_PENDING;
        w->state = ASYNC__W_IDLE;
        w->want = w->got = 0;
        return 0;
    case ASYNC__W_CLOSED:
        w->state = ASYNC__W_IDLE;
        w->want = w->got = 0;
        return ASYNC_ECLOSED;
    default:
        break;
    }
    if (closed) return ASYNC_ECLOSED;
    if (!q->head && max - *used >= n) {
        if (!async__coop(t)) return ASYNC_PENDING;
        *used += n;
        return 0;
    }
    w->want = n;
    w->got = 0;
    if (!q->head) {                             /* first in line: take what is free now */
        w->got = max - *used;
        *used = max;
    }
    async__wq_push(q, w, t);
    return ASYNC_PENDING;
}

static int async__permits_try(const async_waitq *q, size_t *used, size_t max, size_t n) {
    if (q->head || max - *used < n) return ASYNC_EAGAIN;
    *used += n;
    return 0;
}

/* ---- semaphore ------------------------------------------------------------------- */

ASYNC_DEF int async_semaphore_init(async_semaphore *s, size_t permits) {
    if (!s || permits > ASYNC_SEMAPHORE_MAX_PERMITS) return ASYNC_EINVAL;
    async__memset(s, 0, sizeof *s);
    s->permits = permits;
    return 0;
}

ASYNC_DEF int async_semaphore_acquire_many(async_task *t, async_semaphore *s, async_waiter *w,
                                           size_t n) {
    if (!t || !s || !w || n > ASYNC_SEMAPHORE_MAX_PERMITS) return ASYNC_EINVAL;
    return async__permits_acquire(t, &s->q, &s->used, s->permits, s->closed, w, n);
}

ASYNC_DEF int async_semaphore_acquire(async_task *t, async_semaphore *s, async_waiter *w) {
    return async_semaphore_acquire_many(t, s, w, 1);
}

ASYNC_DEF int async_semaphore_try_acquire(async_semaphore *s, size_t n) {
    if (!s || n > ASYNC_SEMAPHORE_MAX_PERMITS) return ASYNC_EINVAL;
    if (s->closed) return ASYNC_ECLOSED;
    return async__permits_try(&s->q, &s->used, s->permits, n);
}

ASYNC_DEF int async_semaphore_release(async_semaphore *s, size_t n) {
    if (!s || n > s->used) return ASYNC_EINVAL;  /* more than is out */
    async__permits_release(&s->q, &s->used, s->permits, n);
    return 0;
}

ASYNC_DEF int async_semaphore_add_permits(async_semaphore *s, size_t n) {
    if (!s || n > ASYNC_SEMAPHORE_MAX_PERMITS - s->permits) return ASYNC_EINVAL;
    s->permits += n;
    async__permits_release(&s->q, &s->used, s->permits, 0);
    return 0;
}

/* Permits you hold are gone for good (Tokio's SemaphorePermit::forget). */
ASYNC_DEF int async_semaphore_forget_held(async_semaphore *s, size_t n) {
    if (!s || n > s->used) return ASYNC_EINVAL;
    s->used -= n;
    s->permits -= n;
    return 0;
}

/* Remove up to n free permits; returns how many were removed. */
ASYNC_DEF size_t async_semaphore_forget_permits(async_semaphore *s, size_t n) {
    size_t free_;
    if (!s) return 0;
    free_ = s->permits - s->used;
    if (n > free_) n = free_;
    s->permits -= n;
    return n;
}

ASYNC_DEF int async_semaphore_close(async_semaphore *s) {
    if (!s) return ASYNC_EINVAL;
    s->closed = 1;
    while (s->q.head) {                         /* waiters fail; partial grants return */
        async_waiter *w = s->q.head;
        s->used -= w->got;
        w->got = 0;
        async__wq_ready(&s->q, w, ASYNC__W_CLOSED);
    }
    return 0;
}

ASYNC_DEF int async_semaphore_is_closed(const async_semaphore *s) { return s && s->closed; }

ASYNC_DEF size_t async_semaphore_available_permits(const async_semaphore *s) {
    return s ? s->permits - s->used : 0;
}

/* ---- token bucket ---------------------------------------------------------------- */

/* Tokens come each whole period since b->last; they go to the head waiters first, in
   order and in parts (so the queue is served FIFO and nobody barges), and what is left
   into the bucket up to its capacity: an idle bucket saves one burst, no more. The
   head waiter's timer is set for the refill that completes it; that one timer is the
   only thing that moves the queue on, whoever is at its head. */

/* a * b, ASYNC_TIME_NEVER past it: shift and add (no multiply helper on Cortex-M0). */
static uint64_t async__sat_mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    while (b) {
        if (b & 1u) r = async__sat_add(r, a);
        b >>= 1;
        if (b && a > (ASYNC_TIME_NEVER >> 1)) return ASYNC_TIME_NEVER;
        a <<= 1;
    }
    return r;
}

/* The instant the refills since b->last bring `need` more tokens (never if past the
   clock's range). */
static async_time async__bucket_when(const async_token_bucket *b, size_t need) {
    uint64_t rem, periods = async__divmod(need, b->refill, &rem);
    return async__sat_add(b->last, async__sat_mul(periods + (rem != 0), b->period));
}

/* The head waiter's timer for the refill that completes it; none with no waiter. A
   deadline the clock has passed since it was computed wakes the head at once (the
   timer found it fired and woke nobody): its poll takes the refill. */
static void async__bucket_arm(async_token_bucket *b) {
    async_waiter *w = b->q.head;
    async_time at;
    if (!w) {
        async__timer_disarm(&b->timer);
        return;
    }
    at = async__bucket_when(b, w->want - w->got);
    if (b->timer.state == ASYNC__TM_ARMED && b->timer.task == w->task &&
        b->timer.deadline == at)
        return;
    async__timer_arm(w->task, &b->timer, at);
    if (b->timer.state == ASYNC__TM_FIRED) async__wake(w->task);
}

/* n tokens come in: the waiters first, the rest into the bucket (capped). */
static void async__bucket_give(async_token_bucket *b, size_t n) {
    while (n && b->q.head) {
        async_waiter *w = b->q.head;
        size_t need = w->want - w->got, give = n < need ? n : need;
        w->got += give;
        n -= give;
        if (w->got == w->want) async__wq_ready(&b->q, w, ASYNC__W_READY);
    }
    if (n > b->capacity - b->tokens) n = b->capacity - b->tokens;
    b->tokens += n;
    async__bucket_arm(b);
}

/* The refills due by the clock now (one reading). */
static void async__bucket_refill(async_token_bucket *b) {
    async_time now = async_time_now(b->rt), k, rem;
    if (now < b->last || now - b->last < b->period) return;
    k = async__divmod(now - b->last, b->period, &rem);
    b->last = now - rem;                        /* on the grid of whole periods */
    k = async__sat_mul(k, b->refill);
    async__bucket_give(b, k > ASYNC_TOKEN_BUCKET_MAX ? ASYNC_TOKEN_BUCKET_MAX : (size_t)k);
}

ASYNC_DEF int async_token_bucket_init(async_token_bucket *b, async_runtime *rt,
                                      size_t capacity, size_t refill, async_time period) {
    if (!b || !rt || !(rt->flags & ASYNC__RT_INIT) || !capacity || !refill || !period ||
        capacity > ASYNC_TOKEN_BUCKET_MAX || refill > ASYNC_TOKEN_BUCKET_MAX ||
        period == ASYNC_TIME_NEVER)
        return ASYNC_EINVAL;
    async__memset(b, 0, sizeof *b);
    b->rt = rt;
    b->capacity = b->tokens = capacity;
    b->refill = refill;
    b->period = period;
    b->last = async_time_now(rt);
    return 0;
}

/* A cancelled acquire gives its tokens back (to the next waiter first), and the timer
   follows the new head. */
ASYNC__COLD static int async__bucket_cancel(async_token_bucket *b, async_waiter *w,
                                            uint8_t was) {
    size_t back = was == ASYNC__W_WAITING ? w->got : was == ASYNC__W_READY ? w->want : 0;
    w->want = w->got = 0;
    async__bucket_give(b, back);
    return ASYNC_ECANCELED;
}

ASYNC_DEF int async_token_bucket_acquire(async_task *t, async_token_bucket *b,
                                         async_waiter *w, size_t n) {
    uint8_t was;
    if (!t || !b || !w || !b->rt || t->rt != b->rt || n > ASYNC_TOKEN_BUCKET_MAX)
        return ASYNC_EINVAL;
    if (async__wait_begin(t, &b->q, w, 0, &was) < 0) return async__bucket_cancel(b, w, was);
    async__bucket_refill(b);
    switch (w->state) {
    case ASYNC__W_WAITING:
        return ASYNC_PENDING;
    case ASYNC__W_READY:
        if (!async__coop(t)) return ASYNC_PENDING;
        w->state = ASYNC__W_IDLE;
        w->want = w->got = 0;
        return 0;
    default:
        break;
    }
    if (!b->q.head && b->tokens >= n) {
        if (!async__coop(t)) return ASYNC_PENDING;
        b->tokens -= n;
        return 0;
    }
    w->want = n;
    w->got = 0;
    if (!b->q.head) {                           /* first in line: what is there now */
        w->got = b->tokens;
        b->tokens = 0;
    }
    async__wq_push(&b->q, w, t);
    async__bucket_arm(b);
    return ASYNC_PENDING;
}

ASYNC_DEF int async_token_bucket_try_acquire(async_token_bucket *b, size_t n) {
    if (!b || !b->rt || n > ASYNC_TOKEN_BUCKET_MAX) return ASYNC_EINVAL;
    async__bucket_refill(b);
    if (b->q.head || b->tokens < n) return ASYNC_EAGAIN;
    b->tokens -= n;
    return 0;
}

ASYNC_DEF size_t async_token_bucket_available(async_token_bucket *b) {
    if (!b || !b->rt) return 0;
    async__bucket_refill(b);
    return b->tokens;
}

ASYNC_DEF int async_token_bucket_add(async_token_bucket *b, size_t n) {
    if (!b || !b->rt || n > ASYNC_TOKEN_BUCKET_MAX) return ASYNC_EINVAL;
    async__bucket_refill(b);
    async__bucket_give(b, n);
    return 0;
}

ASYNC_DEF async_time async_token_bucket_delay(async_token_bucket *b, size_t n) {
    size_t need = 0;
    const async_waiter *w;
    async_time at, now;
    if (!b || !b->rt) return ASYNC_TIME_NEVER;
    async__bucket_refill(b);
    if (!b->q.head && b->tokens >= n) return 0;
    for (w = b->q.head; w; w = w->next == b->q.head ? NULL : w->next) {
        if (w->want - w->got > ASYNC_TOKEN_BUCKET_MAX - need) return ASYNC_TIME_NEVER;
        need += w->want - w->got;
    }
    if (n > ASYNC_TOKEN_BUCKET_MAX - need) return ASYNC_TIME_NEVER;
    at = async__bucket_when(b, need + n - b->tokens);
    if (at == ASYNC_TIME_NEVER) return at;
    now = async_time_now(b->rt);               /* a later reading than the refill's */
    return at > now ? at - now : 0;
}

/* ---- mutex ----------------------------------------------------------------------- */

ASYNC_DEF int async_mutex_init(async_mutex *m) {
    if (!m) return ASYNC_EINVAL;
    async__memset(m, 0, sizeof *m);
    return 0;
}

ASYNC_DEF int async__mutex_lock_slow(async_task *t, async_mutex *m, async_waiter *w) {
    int was_ready, rc;
    if (!t || !m || !w) return ASYNC_EINVAL;
    was_ready = w->state == ASYNC__W_READY;
    rc = async__permits_acquire(t, &m->q, &m->used, 1, 0, w, 1);
    if (was_ready && rc == 0) m->handed = 0;                /* its owner runs now */
    if (was_ready && rc == ASYNC_ECANCELED) m->handed = m->used == 1;   /* passed on? */
    return rc;
}

ASYNC_DEF int async_mutex_try_lock(async_mutex *m) {
    if (!m) return ASYNC_EINVAL;
    return async__permits_try(&m->q, &m->used, 1, 1) == 0 ? 0 : ASYNC_EBUSY;
}

ASYNC_DEF int async__mutex_unlock_slow(async_mutex *m) {
    if (!m || m->used != 1 || m->handed) return ASYNC_EINVAL;  /* not locked by a runner */
    m->handed = m->q.head != NULL;
    async__permits_release(&m->q, &m->used, 1, 1);
    return 0;
}

ASYNC_DEF int async_mutex_is_locked(const async_mutex *m) { return m && m->used != 0; }

/* ---- rwlock ---------------------------------------------------------------------- */

ASYNC_DEF int async_rwlock_init(async_rwlock *l) {
    if (!l) return ASYNC_EINVAL;
    async__memset(l, 0, sizeof *l);
    return 0;
}

/* A read lock is 1 of ASYNC_RWLOCK_MAX_READERS permits and a write lock is all of
   them (Tokio's design), so the permit core's FIFO makes it fair: a queued writer
   holds back the readers that come after it. `readers`/`writer` count the actual
   holders, for the misuse checks of the unlocks. */
ASYNC_DEF int async_rwlock_read(async_task *t, async_rwlock *l, async_waiter *w) {
    int rc;
    if (!t || !l || !w) return ASYNC_EINVAL;
    rc = async__permits_acquire(t, &l->q, &l->used, ASYNC_RWLOCK_MAX_READERS, 0, w, 1);
    if (rc == 0) l->readers++;
    return rc;
}

ASYNC_DEF int async_rwlock_write(async_task *t, async_rwlock *l, async_waiter *w) {
    int rc;
    if (!t || !l || !w) return ASYNC_EINVAL;
    rc = async__permits_acquire(t, &l->q, &l->used, ASYNC_RWLOCK_MAX_READERS, 0, w,
                                ASYNC_RWLOCK_MAX_READERS);
    if (rc == 0) l->writer = 1;
    return rc;
}

ASYNC_DEF int async_rwlock_try_read(async_rwlock *l) {
    if (!l) return ASYNC_EINVAL;
    if (async__permits_try(&l->q, &l->used, ASYNC_RWLOCK_MAX_READERS, 1) != 0) return ASYNC_EBUSY;
    l->readers++;
    return 0;
}

ASYNC_DEF int async_rwlock_try_write(async_rwlock *l) {
    if (!l) return ASYNC_EINVAL;
    if (async__permits_try(&l->q, &l->used, ASYNC_RWLOCK_MAX_READERS,
                           ASYNC_RWLOCK_MAX_READERS) != 0) return ASYNC_EBUSY;
    l->writer = 1;
    return 0;
}

ASYNC_DEF int async_rwlock_read_unlock(async_rwlock *l) {
    if (!l || !l->readers) return ASYNC_EINVAL;
    l->readers--;
    async__permits_release(&l->q, &l->used, ASYNC_RWLOCK_MAX_READERS, 1);
    return 0;
}

ASYNC_DEF int async_rwlock_write_unlock(async_rwlock *l) {
    if (!l || !l->writer) return ASYNC_EINVAL;
    l->writer = 0;
    async__permits_release(&l->q, &l->used, ASYNC_RWLOCK_MAX_READERS, ASYNC_RWLOCK_MAX_READERS);
    return 0;
}

/* Write lock to read lock, atomically: the readers queued behind it may join. */
ASYNC_DEF int async_rwlock_downgrade(async_rwlock *l) {
    if (!l || !l->writer) return ASYNC_EINVAL;
    l->writer = 0;
    l->readers = 1;
    async__permits_release(&l->q, &l->used, ASYNC_RWLOCK_MAX_READERS,
                           ASYNC_RWLOCK_MAX_READERS - 1);
    return 0;
}

/* ---- notify ---------------------------------------------------------------------- */

ASYNC_DEF int async_notify_init(async_notify *n) {
    if (!n) return ASYNC_EINVAL;
    async__memset(n, 0, sizeof *n);
    return 0;
}

/* Register without waiting (Tokio's Notified::enable): consumes a stored permit. */
ASYNC_DEF int async_notify_enable(async_task *t, async_notify *n, async_waiter *w) {
    if (!t || !n || !w) return ASYNC_EINVAL;
    if (w->state != ASYNC__W_IDLE) return 0;
    if (n->permit) {
        n->permit = 0;
        w->state = ASYNC__W_READY;
        w->kind = ASYNC__NOTIFY_ONE;
        return 0;
    }
    async__wq_push(&n->q, w, t);
    return 0;
}

ASYNC_DEF int async_notify_wait(async_task *t, async_notify *n, async_waiter *w) {
    uint8_t was;
    if (!t || !n || !w) return ASYNC_EINVAL;
    if (async__wait_begin(t, &n->q, w, 0, &was) < 0) {
        if (was == ASYNC__W_READY && w->kind == ASYNC__NOTIFY_ONE)
            async_notify_one(n);                /* chosen but not observed: pass it on */
        return ASYNC_ECANCELED;
    }
    if (w->state == ASYNC__W_IDLE) async_notify_enable(t, n, w);
    if (w->state == ASYNC__W_WAITING) return ASYNC_PENDING;
    if (!async__coop(t)) return ASYNC_PENDING;
    w->state = ASYNC__W_IDLE;
    return 0;
}

ASYNC_DEF int async_notify_one(async_notify *n) {
    if (!n) return ASYNC_EINVAL;
    if (n->q.head) {
        n->q.head->kind = ASYNC__NOTIFY_ONE;
        async__wq_ready(&n->q, n->q.head, ASYNC__W_READY);       /* the oldest */
    } else {
        n->permit = 1;                          /* at most one, however many calls */
    }
    return 0;
}

ASYNC_DEF int async_notify_last(async_notify *n) {
    if (!n) return ASYNC_EINVAL;
    if (n->q.head) {
        async_waiter *w = n->q.head->prev;      /* the newest */
        w->kind = ASYNC__NOTIFY_ONE;
        async__wq_ready(&n->q, w, ASYNC__W_READY);
    } else {
        n->permit = 1;
    }
    return 0;
}

/* Wake every task waiting now; stores no permit. */
ASYNC_DEF int async_notify_waiters(async_notify *n) {
    if (!n) return ASYNC_EINVAL;
    async__wq_ready_all(&n->q, ASYNC__W_READY, ASYNC__NOTIFY_ALL);
    return 0;
}

/* ---- barrier --------------------------------------------------------------------- */

ASYNC_DEF int async_barrier_init(async_barrier *b, uint32_t parties) {
    if (!b) return ASYNC_EINVAL;
    async__memset(b, 0, sizeof *b);
    b->parties = parties ? parties : 1;         /* 0 counts as 1, as Tokio and std */
    return 0;
}

/* Returns 1 for the one leader of each generation, 0 for the others. Cancelling a
   wait before its generation is complete takes the party back out (Tokio's wait is
   not cancel safe; this one is). */
ASYNC_DEF int async_barrier_wait(async_task *t, async_barrier *b, async_waiter *w) {
    uint32_t parties;
    uint8_t was;
    if (!t || !b || !w) return ASYNC_EINVAL;
    if (async__wait_begin(t, &b->q, w, 0, &was) < 0) {
        if (was == ASYNC__W_WAITING) b->count--;
        return ASYNC_ECANCELED;
    }
    if (w->state == ASYNC__W_WAITING) return ASYNC_PENDING;
    if (w->state == ASYNC__W_READY) {
        if (!async__coop(t)) return ASYNC_PENDING;
        w->state = ASYNC__W_IDLE;
        return 0;
    }
    parties = b->parties ? b->parties : 1;
    if (b->count + 1 < parties) {
        b->count++;
        w->gen = b->gen;
        async__wq_push(&b->q, w, t);
        return ASYNC_PENDING;
    }
    b->count = 0;                               /* the last one in leads */
    b->gen++;
    async__wq_ready_all(&b->q, ASYNC__W_READY, 0);
    return 1;
}

/* ---- cancellation token ---------------------------------------------------------- */

ASYNC_DEF int async_cancel_token_init(async_cancel_token *tok) {
    if (!tok) return ASYNC_EINVAL;
    async__memset(tok, 0, sizeof *tok);
    return 0;
}

/* A child is cancelled with its parent, never the other way round; the child of a
   cancelled token starts cancelled. */
ASYNC_DEF int async_cancel_token_init_child(async_cancel_token *parent, async_cancel_token *child) {
    if (!parent || !child || parent == child) return ASYNC_EINVAL;
    async__memset(child, 0, sizeof *child);
    child->parent = parent;
    child->next = parent->child;
    if (parent->child) parent->child->prev = child;
    parent->child = child;
    child->cancelled = parent->cancelled;
    return 0;
}

/* Cancel the token and every descendant (a pre-order walk, no recursion), waking
   every waiter. */
ASYNC_DEF int async_cancel_token_cancel(async_cancel_token *tok) {
    async_cancel_token *n = tok;
    if (!tok) return ASYNC_EINVAL;
    for (;;) {
        if (!n->cancelled) {
            n->cancelled = 1;
            async__wq_ready_all(&n->q, ASYNC__W_READY, 0);
        }
        if (n->child) {
            n = n->child;
            continue;
        }
        while (n != tok && !n->next) n = n->parent;
        if (n == tok) break;
        n = n->next;
    }
    return 0;
}

ASYNC_DEF int async_cancel_token_is_cancelled(const async_cancel_token *tok) {
    return tok && tok->cancelled;
}

ASYNC_DEF int async_cancel_token_wait(async_task *t, async_cancel_token *tok, async_waiter *w) {
    if (!t || !tok || !w) return ASYNC_EINVAL;
    if (async__wait_begin(t, &tok->q, w, 0, NULL) < 0) return ASYNC_ECANCELED;
    if (w->state == ASYNC__W_WAITING) return ASYNC_PENDING;
    if (tok->cancelled) {
        if (!async__coop(t)) return ASYNC_PENDING;
        w->state = ASYNC__W_IDLE;
        return 0;
    }
    async__wq_push(&tok->q, w, t);
    return ASYNC_PENDING;
}

/* Take the token out of its tree; its children move up to its parent. */
ASYNC_DEF int async_cancel_token_destroy(async_cancel_token *tok) {
    async_cancel_token *c;
    if (!tok) return ASYNC_EINVAL;
    if (tok->q.head) return ASYNC_EBUSY;        /* tasks still wait on it */
    while ((c = tok->child) != NULL) {
        tok->child = c->next;
        c->prev = c->next = NULL;
        c->parent = tok->parent;
        if (tok->parent) {
            c->next = tok->parent->child;
            if (c->next) c->next->prev = c;
            tok->parent->child = c;
        }
    }
    if (tok->parent) {
        if (tok->prev) tok->prev->next = tok->next;
        else tok->parent->child = tok->next;
        if (tok->next) tok->next->prev = tok->prev;
    }
    tok->parent = tok->next = tok->prev = NULL;
    return 0;
}

////////////////////////////////////////////////////////////////////////////////
// >>chan

/* Copy one item: constant-size copies (a load and a store) for the common sizes.
   Inlined into a caller that passes a 1- to 4-byte object, gcc -O2/-O3 sees the
   8- and 16-byte branches it cannot rule out and warns (-Warray-bounds,
   -Wstringop-overflow) although n is the object's size there: those warnings are off
   for this function only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#if __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#endif
ASYNC__HOT static void async__copy_item(void *dst, const void *src, size_t n) {
    /* if-chain, not a switch: a switch table is a libgcc helper on Cortex-M0 */
    if (n == 8) async__memcpy(dst, src, 8);
    else if (n == 4) async__memcpy(dst, src, 4);
    else if (n == 16) async__memcpy(dst, src, 16);
    else if (n) async__memcpy(dst, src, n);    /* size 0: pointers may be NULL */
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
/* item_size * count, or SIZE_MAX when that overflows. */
static size_t async__array_size(size_t item_size, size_t count) {
    if (item_size && count > SIZE_MAX / item_size) return SIZE_MAX;
    return item_size * count;
}
/* A sender's closed(): waits in q until the receiver has closed (`closed`). */
static int async__wait_closed(async_task *t, async_waitq *q, async_waiter *w, int closed) {
    int rc = async__wait_begin(t, q, w, 1, NULL);
    if (rc < 0 || closed) return rc;
    async__wq_push(q, w, t);
    return ASYNC_PENDING;
}
/* Sender handles are counts (mpsc, broadcast, watch). A clone needs one still held;
   the release of the last one wakes the receivers waiting in rx_q, to see the end. */
static int async__sender_clone(uint32_t *senders) {
    if (*senders == UINT32_MAX) return ASYNC_EINVAL;
    if (!*senders) return ASYNC_ECLOSED;        /* none left to clone */
    ++*senders;
    return 0;
}
static int async__sender_release(uint32_t *senders, async_waitq *rx_q) {
    if (!*senders) return ASYNC_EINVAL;
    if (--*senders == 0) async__wq_ready_all(rx_q, ASYNC__W_READY, 0);
    return 0;
}
/* Storage for `size` bytes: the caller's, or allocated (own = 1). */
static int async__storage(unsigned char **buf, uint8_t *own, void *storage, size_t size) {
    *own = 0;
    *buf = (unsigned char *)storage;
    if (storage || size == 0) return 0;
    if (size == SIZE_MAX || !(*buf = (unsigned char *)async__alloc(size))) return ASYNC_ENOMEM;
    *own = 1;
    return 0;
}

/* ---- mpsc ------------------------------------------------------------------------
   Bounded: a ring of `cap` items and the FIFO permit core for its slots (`used` =
   items + reserved permits), so waiting senders are served in order, a cancelled
   send gives its slot back, and a receive hands the freed slot to the next sender.
   Unbounded: a list of blocks of ASYNC__BLOCK_ITEMS items, one kept spare. */
#define ASYNC__BLOCK_ITEMS 32
struct async__block {
    async__block *next;
};
#define async__block_item(c, b, i) \
    ((unsigned char *)((b) + 1) + (size_t)(i) * (c)->item_size)

ASYNC_DEF size_t async_mpsc_storage_size(size_t item_size, size_t capacity) {
    return async__array_size(item_size, capacity);
}

ASYNC_DEF int async_mpsc_init(async_mpsc *c, size_t item_size, size_t capacity, void *storage) {
    int rc;
    if (!c || capacity > ASYNC_SEMAPHORE_MAX_PERMITS) return ASYNC_EINVAL;
    async__memset(c, 0, sizeof *c);
    c->item_size = item_size;
    c->cap = capacity;
    c->senders = 1;
    c->tx_size = c->rx_size = capacity ? item_size : SIZE_MAX;
    if (capacity) {
        size_t size = async__array_size(item_size, capacity);
        if (size == SIZE_MAX) return ASYNC_EINVAL;
        rc = async__storage(&c->buf, &c->own, storage, size);
        if (rc < 0) {                           /* inert: closed, no sender, empty */
            c->senders = 0;
            c->rx_closed = 1;
            c->tx_size = SIZE_MAX;
            return rc;
        }
    }
    return 0;
}

static int async__mpsc_destroy(async_mpsc *c) {
    async__block *b;
    if (!c) return ASYNC_EINVAL;
    if (c->send_q.head || c->recv_q.head || c->closed_q.head) return ASYNC_EBUSY;
    if (c->own) async__dealloc(c->buf);
    while ((b = c->first) != NULL) {
        c->first = b->next;
        async__dealloc(b);
    }
    async__dealloc(c->spare);
    async__memset(c, 0, sizeof *c);
    return 0;
}

static void async__mpsc_wake_rx(async_mpsc *c) {
    async__wq_ready_all(&c->recv_q, ASYNC__W_READY, 0);
}

/* Append an item; the slot is already accounted for (bounded) or allocated here. */
ASYNC__HOT static int async__mpsc_put(async_mpsc *c, const void *item) {
    if (c->cap) {
        size_t pos = c->head + c->len;
        if (pos >= c->cap) pos -= c->cap;       /* no division: Cortex-M0 */
        if (c->item_size) async__copy_item(c->buf + pos * c->item_size, item, c->item_size);
    } else {
        if (!c->last || c->wpos == ASYNC__BLOCK_ITEMS) {
            async__block *b = c->spare;
            if (b) c->spare = NULL;
            else if (!(b = (async__block *)async__alloc(
                           sizeof(async__block) + ASYNC__BLOCK_ITEMS * c->item_size)))
                return ASYNC_ENOMEM;
            b->next = NULL;
            if (c->last) c->last->next = b;
            else {
                c->first = b;
                c->rpos = 0;
            }
            c->last = b;
            c->wpos = 0;
        }
        async__copy_item(async__block_item(c, c->last, c->wpos), item, c->item_size);
        c->wpos++;
    }
    c->len++;                                   /* its slot (or permit) is in `used` already */
    if (c->recv_q.head) async__mpsc_wake_rx(c);
    return 0;
}

ASYNC__HOT static void async__mpsc_take(async_mpsc *c, void *item) {
    if (c->cap) {
        if (c->item_size) async__copy_item(item, c->buf + c->head * c->item_size, c->item_size);
        if (++c->head == c->cap) c->head = 0;
        c->len--;
        async__permits_release(&c->send_q, &c->used, c->cap, 1);  /* the slot moves on */
    } else {
        async__block *b = c->first;
        async__copy_item(item, async__block_item(c, b, c->rpos), c->item_size);
        c->rpos++;
        c->len--;
        c->used--;
        if (c->rpos == ASYNC__BLOCK_ITEMS || !c->len) {
            if (b == c->last) {                 /* drained: keep the block, rewind */
                if (!c->len) c->rpos = c->wpos = 0;
            } else {
                c->first = b->next;
                c->rpos = 0;
                if (c->spare) async__dealloc(b);
                else c->spare = b;
            }
        }
    }
}

/* The out-of-line halves of the typed fast paths. */
ASYNC_DEF void async__mpsc_after_put(async_mpsc *c) { async__mpsc_wake_rx(c); }
ASYNC_DEF void async__mpsc_after_take(async_mpsc *c) {
    async__permits_release(&c->send_q, &c->used, c->cap, 0);    /* hand the freed slot on */
}

/* Closed for the receiver: no sender or the receiver closed, nothing buffered, and
   no permit still out that could yet send (Tokio's rule). `used` counts items and
   permits out, bounded or not. */
static int async__mpsc_ended(const async_mpsc *c) {
    return c->len == 0 && (c->senders == 0 || c->rx_closed) && c->used == 0;
}
/* Anything that can end the stream (a permit given back, a close, a cancelled send
   that held a slot) must let a waiting receiver see it. */
static void async__mpsc_check_end(async_mpsc *c) {
    if (c->recv_q.head && async__mpsc_ended(c)) async__mpsc_wake_rx(c);
}

/* A permit: a slot (bounded) or just a count (unbounded), so that permits issued
   before a close may still send and the end waits for them. */
static int async__mpsc_reserve(async_task *t, async_mpsc *c, async_waiter *w) {
    int rc;
    if (!t || !c || !w) return ASYNC_EINVAL;
    if (!c->cap) {                              /* unbounded: never waits */
        if (ASYNC__CANCELLING(t)) return ASYNC_ECANCELED;
        if (c->rx_closed) return ASYNC_ECLOSED;
        c->used++;
        return 0;
    }
    rc = async__permits_acquire(t, &c->send_q, &c->used, c->cap, c->rx_closed, w, 1);
    if (rc == ASYNC_ECANCELED || rc == ASYNC_ECLOSED)
        async__mpsc_check_end(c);               /* a granted slot went back */
    return rc;
}

static int async__mpsc_send_any(async_task *t, async_mpsc *c, async_waiter *w,
                                const void *item) {
    int rc;
    if (!item && c && c->item_size) return ASYNC_EINVAL;
    rc = async__mpsc_reserve(t, c, w);          /* a slot, or a count (unbounded) */
    if (rc != 0) return rc;                     /* pending, closed or cancelled */
    rc = async__mpsc_put(c, item);              /* a permit issued before a close may send */
    if (rc < 0) c->used--;                      /* unbounded, out of memory: nothing sent */
    return rc;
}
ASYNC__COLD static int async__mpsc_send_slow(async_task *t, async_mpsc *c, async_waiter *w,
                                             const void *item) {
    ASYNC__SHARED(c, t, w, async__mpsc_send_any(t, c, w, item));
    return async__mpsc_send_any(t, c, w, item);
}
ASYNC_DEF int async_mpsc_send(async_task *t, async_mpsc *c, async_waiter *w, const void *item) {
    if (c && (item || !c->item_size) && async__mpsc_can_put(t, c, w, c->item_size)) {
        size_t pos = c->head + c->len;          /* the typed fast path, any size */
        if (pos >= c->cap) pos -= c->cap;
        if (c->item_size) async__copy_item(c->buf + pos * c->item_size, item, c->item_size);
        return async__mpsc_put_done(c);
    }
    return async__mpsc_send_slow(t, c, w, item);
}

static int async__mpsc_try_reserve(async_mpsc *c) {
    if (!c) return ASYNC_EINVAL;
    if (c->rx_closed) return ASYNC_ECLOSED;
    if (!c->cap) {
        c->used++;
        return 0;
    }
    return async__permits_try(&c->send_q, &c->used, c->cap, 1);
}

static int async__mpsc_release_reserved(async_mpsc *c) {
    if (!c) return ASYNC_EINVAL;
    if (c->used <= c->len) return ASYNC_EINVAL;
    if (c->cap) async__permits_release(&c->send_q, &c->used, c->cap, 1);
    else c->used--;
    async__mpsc_check_end(c);                   /* the last permit may end the stream */
    return 0;
}

static int async__mpsc_try_send(async_mpsc *c, const void *item) {
    int rc;
    if (!c || (!item && c->item_size)) return ASYNC_EINVAL;
    rc = async__mpsc_try_reserve(c);
    if (rc != 0) return rc;                     /* full (EAGAIN) or closed */
    rc = async__mpsc_put(c, item);
    if (rc != 0) async__mpsc_release_reserved(c);
    return rc;
}

/* Use a permit from async_mpsc_reserve/try_reserve: never waits, and a permit
   issued before the receiver closed may still send (the receiver drains it). */
static int async__mpsc_send_reserved(async_mpsc *c, const void *item) {
    if (!c || (!item && c->item_size)) return ASYNC_EINVAL;
    if (c->used <= c->len) return ASYNC_EINVAL;             /* no permit is out */
    return async__mpsc_put(c, item);            /* the permit's slot takes the item */
}


/* What recv and recv_many share, after the wait prologue: 1 when items can be
   taken now (a unit of budget spent), else what the receive returns: closed, or
   pending (queued again). */
static int async__mpsc_rx_ready(async_task *t, async_mpsc *c, async_waiter *w) {
    if (c->len) return async__coop(t) ? 1 : ASYNC_PENDING;
    if (async__mpsc_ended(c)) return ASYNC_ECLOSED;
    async__wq_push(&c->recv_q, w, t);
    return ASYNC_PENDING;
}

static int async__mpsc_recv_any(async_task *t, async_mpsc *c, async_waiter *w, void *item) {
    int rc;
    if (!t || !c || !w || (!item && c->item_size)) return ASYNC_EINVAL;
    if ((rc = async__wait_begin(t, &c->recv_q, w, 1, NULL)) < 0) return rc;   /* nothing taken */
    if ((rc = async__mpsc_rx_ready(t, c, w)) != 1) return rc;
    async__mpsc_take(c, item);
    return 0;
}
ASYNC__COLD static int async__mpsc_recv_slow(async_task *t, async_mpsc *c, async_waiter *w,
                                             void *item) {
    ASYNC__SHARED(c, t, w, async__mpsc_recv_any(t, c, w, item));
    return async__mpsc_recv_any(t, c, w, item);
}
ASYNC_DEF int async_mpsc_recv(async_task *t, async_mpsc *c, async_waiter *w, void *item) {
    if (c && (item || !c->item_size)) {                    /* the typed fast paths */
        if (async__mpsc_can_take(t, c, w, c->item_size)) {
            if (c->item_size)                   /* size 0: buf may be NULL */
                async__copy_item(item, c->buf + c->head * c->item_size, c->item_size);
            return async__mpsc_take_done(c);
        }
        if (async__mpsc_park(t, c, w, c->item_size)) return ASYNC_PENDING;
    }
    return async__mpsc_recv_slow(t, c, w, item);
}

/* Up to `limit` items at once: two copies out of the ring and one release of the
   freed slots (handed to waiting senders in order), or item by item from the
   blocks of an unbounded channel. Returns how many (an int: limit is capped). */
static int async__mpsc_recv_many(async_task *t, async_mpsc *c, async_waiter *w,
                                   void *items, size_t limit) {
    unsigned char *out = (unsigned char *)items;
    size_t k, i;
    int rc;
    if (!t || !c || !w || (!items && c->item_size && limit)) return ASYNC_EINVAL;
    if ((rc = async__wait_begin(t, &c->recv_q, w, 1, NULL)) < 0) return rc;   /* nothing taken */
    if (!limit) return 0;
    if ((rc = async__mpsc_rx_ready(t, c, w)) != 1) return rc;
    if (limit > (size_t)INT_MAX) limit = (size_t)INT_MAX;
    k = c->len < limit ? c->len : limit;
    if (c->cap) {
        size_t first = c->cap - c->head;
        if (first > k) first = k;
        if (c->item_size) {
            async__memcpy(out, c->buf + c->head * c->item_size, first * c->item_size);
            if (k > first) async__memcpy(out + first * c->item_size, c->buf,
                                         (k - first) * c->item_size);
        }
        c->head += k;
        if (c->head >= c->cap) c->head -= c->cap;
        c->len -= k;
        async__permits_release(&c->send_q, &c->used, c->cap, k);
    } else {
        for (i = 0; i < k; i++) async__mpsc_take(c, out ? out + i * c->item_size : out);
    }
    return (int)k;
}

static int async__mpsc_try_recv(async_mpsc *c, void *item) {
    if (!c || (!item && c->item_size)) return ASYNC_EINVAL;
    if (c->len) {
        async__mpsc_take(c, item);
        return 0;
    }
    return async__mpsc_ended(c) ? ASYNC_ECLOSED : ASYNC_EAGAIN;
}

/* The receiver closes: sends fail from now on, waiting senders fail, permits already
   granted may still send, and what is buffered can still be received. */
static int async__mpsc_close(async_mpsc *c) {
    async_waiter *w;
    if (!c) return ASYNC_EINVAL;
    c->rx_closed = 1;
    if (c->tx_size != SIZE_MAX)                 /* (a shared one's is, and is read unlocked) */
        c->tx_size = SIZE_MAX;                  /* sends take the slow path: they fail */
    while ((w = c->send_q.head) != NULL) {
        c->used -= w->got;
        w->got = 0;
        async__wq_ready(&c->send_q, w, ASYNC__W_CLOSED);
    }
    async__wq_ready_all(&c->closed_q, ASYNC__W_READY, 0);
    async__mpsc_check_end(c);                   /* receivers waiting may be done now */
    return 0;
}

static int async__mpsc_is_closed(const async_mpsc *c) { return c && c->rx_closed; }

/* A sender waits until the receiver has closed (Tokio's Sender::closed). */
static int async__mpsc_wait_closed(async_task *t, async_mpsc *c, async_waiter *w) {
    if (!t || !c || !w) return ASYNC_EINVAL;
    return async__wait_closed(t, &c->closed_q, w, c->rx_closed);
}

static int async__mpsc_sender_clone(async_mpsc *c) {
    return c ? async__sender_clone(&c->senders) : ASYNC_EINVAL;
}

static int async__mpsc_sender_release(async_mpsc *c) {
    return c ? async__sender_release(&c->senders, &c->recv_q) : ASYNC_EINVAL;
}

static size_t async__mpsc_len(const async_mpsc *c) { return c ? c->len : 0; }

/* Free slots now (Tokio's capacity(): a reserved permit holds one until received). */
static size_t async__mpsc_capacity(const async_mpsc *c) {
    if (!c) return 0;
    return c->cap ? c->cap - c->used : SIZE_MAX;
}

/* ---- oneshot ------------------------------------------------------------------------ */
enum { ASYNC__ONESHOT_EMPTY = 0, ASYNC__ONESHOT_SENT, ASYNC__ONESHOT_TAKEN,
       ASYNC__ONESHOT_DROPPED };

ASYNC_DEF int async_oneshot_init(async_oneshot *o, size_t item_size, void *storage) {
    if (!o) return ASYNC_EINVAL;
    async__memset(o, 0, sizeof *o);
    o->item_size = item_size;
    if (async__storage(&o->value, &o->own, storage, item_size) < 0) {
        o->rx_closed = 1;                       /* inert: closed, the sender gone */
        o->state = ASYNC__ONESHOT_DROPPED;
        return ASYNC_ENOMEM;
    }
    return 0;
}

static int async__oneshot_destroy(async_oneshot *o) {
    if (!o) return ASYNC_EINVAL;
    if (o->rx_q.head || o->closed_q.head) return ASYNC_EBUSY;
    if (o->own) async__dealloc(o->value);
    async__memset(o, 0, sizeof *o);
    return 0;
}

/* Never waits. ASYNC_ECLOSED if the receiver is gone: the item was not taken. */
static int async__oneshot_send(async_oneshot *o, const void *item) {
    if (!o || (!item && o->item_size)) return ASYNC_EINVAL;
    if (o->rx_closed) return ASYNC_ECLOSED;
    if (o->state != ASYNC__ONESHOT_EMPTY) return ASYNC_ESTATE;    /* sent already, or dropped */
    async__copy_item(o->value, item, o->item_size);
    o->state = ASYNC__ONESHOT_SENT;
    async__wq_ready_all(&o->rx_q, ASYNC__W_READY, 0);
    return 0;
}

static int async__oneshot_take(async_oneshot *o, void *item) {
    switch (o->state) {
    case ASYNC__ONESHOT_SENT:
        async__copy_item(item, o->value, o->item_size);
        o->state = ASYNC__ONESHOT_TAKEN;
        return 0;
    case ASYNC__ONESHOT_DROPPED:
    case ASYNC__ONESHOT_TAKEN:
        return ASYNC_ECLOSED;
    default:
        return o->rx_closed ? ASYNC_ECLOSED : ASYNC_EAGAIN;
    }
}

static int async__oneshot_recv(async_task *t, async_oneshot *o, async_waiter *w, void *item) {
    int rc;
    if (!t || !o || !w || (!item && o->item_size)) return ASYNC_EINVAL;
    if ((rc = async__wait_begin(t, &o->rx_q, w, 1, NULL)) < 0) return rc;
    if (o->state == ASYNC__ONESHOT_TAKEN) return ASYNC_ESTATE;    /* polled after completion */
    rc = async__oneshot_take(o, item);
    if (rc != ASYNC_EAGAIN) {
        if (rc == 0 && !async__coop(t)) {
            o->state = ASYNC__ONESHOT_SENT;     /* not yet: keep it for the next poll */
            return ASYNC_PENDING;
        }
        return rc;
    }
    async__wq_push(&o->rx_q, w, t);
    return ASYNC_PENDING;
}

static int async__oneshot_try_recv(async_oneshot *o, void *item) {
    if (!o || (!item && o->item_size)) return ASYNC_EINVAL;
    return async__oneshot_take(o, item);
}

/* The sender goes away without sending: the receiver gets ASYNC_ECLOSED. */
static int async__oneshot_sender_release(async_oneshot *o) {
    if (!o) return ASYNC_EINVAL;
    if (o->state == ASYNC__ONESHOT_EMPTY) {
        o->state = ASYNC__ONESHOT_DROPPED;
        async__wq_ready_all(&o->rx_q, ASYNC__W_READY, 0);
    }
    return 0;
}

/* The receiver closes (or goes away): later sends fail; a value sent before can still
   be received. */
static int async__oneshot_close(async_oneshot *o) {
    if (!o) return ASYNC_EINVAL;
    o->rx_closed = 1;
    async__wq_ready_all(&o->closed_q, ASYNC__W_READY, 0);
    if (o->state == ASYNC__ONESHOT_EMPTY) async__wq_ready_all(&o->rx_q, ASYNC__W_READY, 0);
    return 0;
}

static int async__oneshot_is_closed(const async_oneshot *o) { return o && o->rx_closed; }

static int async__oneshot_wait_closed(async_task *t, async_oneshot *o, async_waiter *w) {
    if (!t || !o || !w) return ASYNC_EINVAL;
    return async__wait_closed(t, &o->closed_q, w, o->rx_closed);
}

/* ---- broadcast -----------------------------------------------------------------------
   A ring of cap (a power of two) items that always overwrites the oldest; each
   receiver has its own position. One that falls more than cap behind gets
   ASYNC_ELAGGED once, with rx->lagged set to how many it lost, and resumes at the
   oldest item still kept (Tokio's semantics). */
static size_t async__pow2_ceil(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

ASYNC_DEF size_t async_broadcast_storage_size(size_t item_size, size_t capacity) {
    if (capacity == 0 || capacity > SIZE_MAX / 2) return SIZE_MAX;
    return async__array_size(item_size, async__pow2_ceil(capacity));
}

ASYNC_DEF int async_broadcast_init(async_broadcast *b, size_t item_size, size_t capacity,
                                   void *storage) {
    size_t size = async_broadcast_storage_size(item_size, capacity);
    int rc;
    if (!b || size == SIZE_MAX) return ASYNC_EINVAL;
    async__memset(b, 0, sizeof *b);
    b->item_size = item_size;
    b->cap = async__pow2_ceil(capacity);
    b->senders = 1;
    rc = async__storage(&b->buf, &b->own, storage, size);
    if (rc < 0) b->senders = 0;                 /* inert: closed */
    return rc;
}

static int async__broadcast_destroy(async_broadcast *b) {
    if (!b) return ASYNC_EINVAL;
    if (b->q.head) return ASYNC_EBUSY;
    if (b->own) async__dealloc(b->buf);
    async__memset(b, 0, sizeof *b);
    return 0;
}

/* Returns how many receivers there are, or ASYNC_ENORECV (nothing is stored). */
static int async__broadcast_send(async_broadcast *b, const void *item) {
    if (!b || (!item && b->item_size)) return ASYNC_EINVAL;
    if (!b->senders) return ASYNC_ECLOSED;      /* every sender released */
    if (!b->receivers) return ASYNC_ENORECV;
    if (b->item_size)                           /* size 0: buf may be NULL */
        async__copy_item(b->buf + (size_t)(b->tail & (b->cap - 1)) * b->item_size, item,
                         b->item_size);
    b->tail++;
    async__wq_ready_all(&b->q, ASYNC__W_READY, 0);
    return b->receivers > INT_MAX ? INT_MAX : (int)b->receivers;
}

/* Sees the items sent from now on. */
static int async__broadcast_subscribe(async_broadcast *b, async_broadcast_rx *rx) {
    if (!rx) return ASYNC_EINVAL;
    rx->ch = NULL;                              /* refused: a receiver of nothing */
    if (!b || b->receivers == UINT32_MAX) return ASYNC_EINVAL;
    rx->ch = b;
    rx->next = b->tail;
    rx->lagged = 0;
    b->receivers++;
    return 0;
}

static int async__broadcast_unsubscribe(async_broadcast_rx *rx) {
    if (!rx || !rx->ch) return ASYNC_EINVAL;
    rx->ch->receivers--;
    rx->ch = NULL;
    return 0;
}

static int async__broadcast_take(async_broadcast_rx *rx, void *item) {
    async_broadcast *b = rx->ch;
    if (b->tail - rx->next > b->cap) {          /* overwritten under our feet */
        rx->lagged = b->tail - b->cap - rx->next;
        rx->next = b->tail - b->cap;
        return ASYNC_ELAGGED;
    }
    if (rx->next != b->tail) {
        if (b->item_size)
            async__copy_item(item, b->buf + (size_t)(rx->next & (b->cap - 1)) * b->item_size,
                             b->item_size);
        rx->next++;
        return 0;
    }
    return b->senders ? ASYNC_EAGAIN : ASYNC_ECLOSED;
}

static int async__broadcast_recv(async_task *t, async_broadcast_rx *rx, async_waiter *w,
                                   void *item) {
    int rc;
    if (!t || !rx || !rx->ch || !w || (!item && rx->ch->item_size)) return ASYNC_EINVAL;
    if ((rc = async__wait_begin(t, &rx->ch->q, w, 1, NULL)) < 0) return rc;
    if (rx->next != rx->ch->tail && !async__coop(t)) return ASYNC_PENDING;
    rc = async__broadcast_take(rx, item);
    if (rc != ASYNC_EAGAIN) return rc;
    async__wq_push(&rx->ch->q, w, t);
    return ASYNC_PENDING;
}

static int async__broadcast_try_recv(async_broadcast_rx *rx, void *item) {
    if (!rx || !rx->ch || (!item && rx->ch->item_size)) return ASYNC_EINVAL;
    return async__broadcast_take(rx, item);
}

/* Items not yet received, the overwritten ones included (as Tokio's len()). */
static uint64_t async__broadcast_rx_len(const async_broadcast_rx *rx) {
    return rx && rx->ch ? rx->ch->tail - rx->next : 0;
}

static int async__broadcast_sender_clone(async_broadcast *b) {
    return b ? async__sender_clone(&b->senders) : ASYNC_EINVAL;
}

static int async__broadcast_sender_release(async_broadcast *b) {
    return b ? async__sender_release(&b->senders, &b->q) : ASYNC_EINVAL;
}

/* ---- the channels' entry points: shared ones run under their lock ------------------ */
ASYNC_DEF int async_mpsc_destroy(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_destroy(c));
    return async__mpsc_destroy(c);
}
ASYNC_DEF int async_mpsc_reserve(async_task *t, async_mpsc *c, async_waiter *w) {
    ASYNC__SHARED(c, t, w, async__mpsc_reserve(t, c, w));
    return async__mpsc_reserve(t, c, w);
}
ASYNC_DEF int async_mpsc_try_reserve(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_try_reserve(c));
    return async__mpsc_try_reserve(c);
}
ASYNC_DEF int async_mpsc_try_send(async_mpsc *c, const void *item) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_try_send(c, item));
    return async__mpsc_try_send(c, item);
}
ASYNC_DEF int async_mpsc_send_reserved(async_mpsc *c, const void *item) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_send_reserved(c, item));
    return async__mpsc_send_reserved(c, item);
}
ASYNC_DEF int async_mpsc_release_reserved(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_release_reserved(c));
    return async__mpsc_release_reserved(c);
}
ASYNC_DEF int async_mpsc_recv_many(async_task *t, async_mpsc *c, async_waiter *w,
                                   void *items, size_t limit) {
    ASYNC__SHARED(c, t, w, async__mpsc_recv_many(t, c, w, items, limit));
    return async__mpsc_recv_many(t, c, w, items, limit);
}
ASYNC_DEF int async_mpsc_try_recv(async_mpsc *c, void *item) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_try_recv(c, item));
    return async__mpsc_try_recv(c, item);
}
ASYNC_DEF int async_mpsc_close(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_close(c));
    return async__mpsc_close(c);
}
ASYNC_DEF int async_mpsc_is_closed(const async_mpsc *c) {
    ASYNC__SHARED_C(async_mpsc, int, c, async__mpsc_is_closed(c));
    return async__mpsc_is_closed(c);
}
ASYNC_DEF int async_mpsc_wait_closed(async_task *t, async_mpsc *c, async_waiter *w) {
    ASYNC__SHARED(c, t, w, async__mpsc_wait_closed(t, c, w));
    return async__mpsc_wait_closed(t, c, w);
}
ASYNC_DEF int async_mpsc_sender_clone(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_sender_clone(c));
    return async__mpsc_sender_clone(c);
}
ASYNC_DEF int async_mpsc_sender_release(async_mpsc *c) {
    ASYNC__SHARED(c, NULL, NULL, async__mpsc_sender_release(c));
    return async__mpsc_sender_release(c);
}
ASYNC_DEF size_t async_mpsc_len(const async_mpsc *c) {
    ASYNC__SHARED_C(async_mpsc, size_t, c, async__mpsc_len(c));
    return async__mpsc_len(c);
}
ASYNC_DEF size_t async_mpsc_capacity(const async_mpsc *c) {
    ASYNC__SHARED_C(async_mpsc, size_t, c, async__mpsc_capacity(c));
    return async__mpsc_capacity(c);
}

ASYNC_DEF int async_oneshot_destroy(async_oneshot *o) {
    ASYNC__SHARED(o, NULL, NULL, async__oneshot_destroy(o));
    return async__oneshot_destroy(o);
}
ASYNC_DEF int async_oneshot_send(async_oneshot *o, const void *item) {
    ASYNC__SHARED(o, NULL, NULL, async__oneshot_send(o, item));
    return async__oneshot_send(o, item);
}
ASYNC_DEF int async_oneshot_recv(async_task *t, async_oneshot *o, async_waiter *w, void *item) {
    ASYNC__SHARED(o, t, w, async__oneshot_recv(t, o, w, item));
    return async__oneshot_recv(t, o, w, item);
}
ASYNC_DEF int async_oneshot_try_recv(async_oneshot *o, void *item) {
    ASYNC__SHARED(o, NULL, NULL, async__oneshot_try_recv(o, item));
    return async__oneshot_try_recv(o, item);
}
ASYNC_DEF int async_oneshot_sender_release(async_oneshot *o) {
    ASYNC__SHARED(o, NULL, NULL, async__oneshot_sender_release(o));
    return async__oneshot_sender_release(o);
}
ASYNC_DEF int async_oneshot_close(async_oneshot *o) {
    ASYNC__SHARED(o, NULL, NULL, async__oneshot_close(o));
    return async__oneshot_close(o);
}
ASYNC_DEF int async_oneshot_is_closed(const async_oneshot *o) {
    ASYNC__SHARED_C(async_oneshot, int, o, async__oneshot_is_closed(o));
    return async__oneshot_is_closed(o);
}
ASYNC_DEF int async_oneshot_wait_closed(async_task *t, async_oneshot *o, async_waiter *w) {
    ASYNC__SHARED(o, t, w, async__oneshot_wait_closed(t, o, w));
    return async__oneshot_wait_closed(t, o, w);
}

ASYNC_DEF int async_broadcast_destroy(async_broadcast *b) {
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_destroy(b));
    return async__broadcast_destroy(b);
}
ASYNC_DEF int async_broadcast_send(async_broadcast *b, const void *item) {
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_send(b, item));
    return async__broadcast_send(b, item);
}
ASYNC_DEF int async_broadcast_subscribe(async_broadcast *b, async_broadcast_rx *rx) {
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_subscribe(b, rx));
    return async__broadcast_subscribe(b, rx);
}
/* A receiver's channel is rx->ch: read once, as it is the receiver's own. */
ASYNC_DEF int async_broadcast_unsubscribe(async_broadcast_rx *rx) {
    async_broadcast *b = rx ? rx->ch : NULL;
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_unsubscribe(rx));
    return async__broadcast_unsubscribe(rx);
}
ASYNC_DEF int async_broadcast_recv(async_task *t, async_broadcast_rx *rx, async_waiter *w,
                                   void *item) {
    async_broadcast *b = rx ? rx->ch : NULL;
    ASYNC__SHARED(b, t, w, async__broadcast_recv(t, rx, w, item));
    return async__broadcast_recv(t, rx, w, item);
}
ASYNC_DEF int async_broadcast_try_recv(async_broadcast_rx *rx, void *item) {
    async_broadcast *b = rx ? rx->ch : NULL;
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_try_recv(rx, item));
    return async__broadcast_try_recv(rx, item);
}
ASYNC_DEF uint64_t async_broadcast_rx_len(const async_broadcast_rx *rx) {
    const async_broadcast *b = rx ? rx->ch : NULL;
    ASYNC__SHARED_C(async_broadcast, uint64_t, b, async__broadcast_rx_len(rx));
    return async__broadcast_rx_len(rx);
}
ASYNC_DEF int async_broadcast_sender_clone(async_broadcast *b) {
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_sender_clone(b));
    return async__broadcast_sender_clone(b);
}
ASYNC_DEF int async_broadcast_sender_release(async_broadcast *b) {
    ASYNC__SHARED(b, NULL, NULL, async__broadcast_sender_release(b));
    return async__broadcast_sender_release(b);
}

#ifdef ASYNC__XTHREADS
/* Shared channels: the local ones, with a lock taken by every operation; the fast
   paths stay off (their sizes are SIZE_MAX for good). */
ASYNC_DEF int async_mpsc_init_shared(async_mpsc *c, size_t item_size, size_t capacity,
                                     void *storage) {
    int rc = async_mpsc_init(c, item_size, capacity, storage);
    if (c && rc != ASYNC_EINVAL) {
        c->shared = 1;
        c->tx_size = c->rx_size = SIZE_MAX;
    }
    return rc;
}
ASYNC_DEF int async_oneshot_init_shared(async_oneshot *o, size_t item_size, void *storage) {
    int rc = async_oneshot_init(o, item_size, storage);
    if (o) o->shared = 1;
    return rc;
}
ASYNC_DEF int async_broadcast_init_shared(async_broadcast *b, size_t item_size,
                                          size_t capacity, void *storage) {
    int rc = async_broadcast_init(b, item_size, capacity, storage);
    if (b && rc != ASYNC_EINVAL) b->shared = 1;
    return rc;
}
#endif

/* ---- watch ----------------------------------------------------------------------------
   One value and a version that every store bumps; each receiver remembers the
   version it has seen. Closed when every sender is released (Tokio's semantics). */
ASYNC_DEF int async_watch_init(async_watch *ch, size_t item_size, void *storage,
                               const void *initial) {
    int rc;
    if (!ch) return ASYNC_EINVAL;
    async__memset(ch, 0, sizeof *ch);
    ch->item_size = item_size;
    ch->senders = 1;
    rc = async__storage(&ch->value, &ch->own, storage, item_size);
    if (rc < 0) {                               /* inert: closed, no value */
        ch->senders = 0;
        ch->closed = 1;
        return rc;
    }
    if (initial) async__copy_item(ch->value, initial, item_size);
    else if (item_size) async__memset(ch->value, 0, item_size);
    return 0;
}

ASYNC_DEF int async_watch_destroy(async_watch *ch) {
    if (!ch) return ASYNC_EINVAL;
    if (ch->q.head) return ASYNC_EBUSY;
    if (ch->own) async__dealloc(ch->value);
    async__memset(ch, 0, sizeof *ch);
    return 0;
}

/* The value current now counts as seen. */
ASYNC_DEF int async_watch_subscribe(async_watch *ch, async_watch_rx *rx) {
    if (!rx) return ASYNC_EINVAL;
    rx->ch = NULL;                              /* refused: a receiver of nothing */
    if (!ch || ch->receivers == UINT32_MAX) return ASYNC_EINVAL;
    rx->ch = ch;
    rx->seen = ch->version;
    ch->receivers++;
    return 0;
}

ASYNC_DEF int async_watch_unsubscribe(async_watch_rx *rx) {
    if (!rx || !rx->ch) return ASYNC_EINVAL;
    rx->ch->receivers--;
    rx->ch = NULL;
    return 0;
}

static void async__watch_store(async_watch *ch) {
    ch->version++;
    async__wq_ready_all(&ch->q, ASYNC__W_READY, 0);
}

/* Stores only if someone receives (ASYNC_ENORECV otherwise, value unchanged). */
ASYNC_DEF int async_watch_send(async_watch *ch, const void *item) {
    if (!ch || (!item && ch->item_size)) return ASYNC_EINVAL;
    if (ch->closed) return ASYNC_ECLOSED;       /* every sender released */
    if (!ch->receivers) return ASYNC_ENORECV;
    async__copy_item(ch->value, item, ch->item_size);
    async__watch_store(ch);
    return 0;
}

/* Always stores; the previous value goes to `old` (may be NULL). */
ASYNC_DEF int async_watch_send_replace(async_watch *ch, const void *item, void *old) {
    if (!ch || (!item && ch->item_size)) return ASYNC_EINVAL;
    if (ch->closed) return ASYNC_ECLOSED;
    if (old) async__copy_item(old, ch->value, ch->item_size);
    async__copy_item(ch->value, item, ch->item_size);
    async__watch_store(ch);
    return 0;
}

/* Always stores: modify(value, user) edits the value in place. */
ASYNC_DEF int async_watch_send_modify(async_watch *ch, void (*modify)(void *value, void *user),
                                      void *user) {
    if (!ch || !modify) return ASYNC_EINVAL;
    if (ch->closed) return ASYNC_ECLOSED;
    modify(ch->value, user);
    async__watch_store(ch);
    return 0;
}

ASYNC_DEF int async_watch_borrow(const async_watch_rx *rx, void *item) {
    if (!rx || !rx->ch || (!item && rx->ch->item_size)) return ASYNC_EINVAL;
    if (!rx->ch->value && rx->ch->item_size) return ASYNC_ECLOSED;     /* a failed init */
    async__copy_item(item, rx->ch->value, rx->ch->item_size);
    return 0;
}

ASYNC_DEF int async_watch_borrow_and_update(async_watch_rx *rx, void *item) {
    int rc = async_watch_borrow(rx, item);
    if (rc == 0) rx->seen = rx->ch->version;
    return rc;
}

/* 1 if there is a version this receiver has not seen; ASYNC_ECLOSED once closed. */
ASYNC_DEF int async_watch_has_changed(const async_watch_rx *rx) {
    if (!rx || !rx->ch) return ASYNC_EINVAL;
    if (rx->ch->closed) return ASYNC_ECLOSED;
    return rx->seen != rx->ch->version;
}

ASYNC_DEF int async_watch_mark_changed(async_watch_rx *rx) {
    if (!rx || !rx->ch) return ASYNC_EINVAL;
    rx->seen = rx->ch->version - 1;
    return 0;
}

ASYNC_DEF int async_watch_mark_unchanged(async_watch_rx *rx) {
    if (!rx || !rx->ch) return ASYNC_EINVAL;
    rx->seen = rx->ch->version;
    return 0;
}

/* Completes at once if there is an unseen version (marking it seen), else waits for
   a store; ASYNC_ECLOSED only when closed and everything is seen. Cancel safe. */
ASYNC_DEF int async_watch_wait_changed(async_task *t, async_watch_rx *rx, async_waiter *w) {
    async_watch *ch;
    if (!t || !rx || !rx->ch || !w) return ASYNC_EINVAL;
    ch = rx->ch;
    if (async__wait_begin(t, &ch->q, w, 1, NULL) < 0) return ASYNC_ECANCELED;
    if (rx->seen != ch->version) {
        if (!async__coop(t)) return ASYNC_PENDING;
        rx->seen = ch->version;
        return 0;
    }
    if (ch->closed) return ASYNC_ECLOSED;
    async__wq_push(&ch->q, w, t);
    return ASYNC_PENDING;
}

ASYNC_DEF int async_watch_sender_clone(async_watch *ch) {
    return ch ? async__sender_clone(&ch->senders) : ASYNC_EINVAL;
}

ASYNC_DEF int async_watch_sender_release(async_watch *ch) {
    int rc;
    if (!ch) return ASYNC_EINVAL;
    rc = async__sender_release(&ch->senders, &ch->q);   /* the wake runs nobody yet */
    if (rc == 0 && !ch->senders) ch->closed = 1;
    return rc;
}

////////////////////////////////////////////////////////////////////////////////
// >>combinators

enum { ASYNC__SEL_NONE = -2 };
enum { ASYNC__COMBO_FIRST = 1, ASYNC__COMBO_JOIN = 2, ASYNC__COMBO_TIMEDOUT = 4 };

static uint32_t async__bits(unsigned n) { return n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1u; }

ASYNC_DEF void async__combo_init(async_task *t, async_select *s, unsigned n, int mode, int join) {
    (void)t;
    ASYNC_ASSERT(n >= 1 && n <= 32, "select/join: 1 to 32 branches");
    if (n > 32) n = 32;
    async__memset(s, 0, sizeof *s);
    s->n = (uint8_t)n;
    s->mode = (uint8_t)mode;
    s->enabled = async__bits(n);
    s->winner = ASYNC__SEL_NONE;
    s->flags = (uint8_t)(ASYNC__COMBO_FIRST | (join ? ASYNC__COMBO_JOIN : 0));
}

/* A new poll: pass 0 polls the branches from a start that rotates (join, or fair
   select: at random), pass 1 cancels the losers. */
ASYNC_DEF void async__combo_restart(async_task *t, async_select *s) {
    async_runtime *rt = t->rt;
    s->k = 0;
    s->ci = 0;
    s->cancel = 0;
    s->flags = (uint8_t)((s->flags & ~0xF0u) | (ASYNC__CANCELLING(t) ? 0x10u : 0u));
    if (s->mode & ASYNC_SELECT_BIASED) {
        s->start = 0;
    } else if (s->flags & ASYNC__COMBO_JOIN) {
        s->start = (uint8_t)(s->start + 1 >= s->n ? 0 : s->start + 1);
    } else {
        uint32_t x = rt->sel_rng;               /* xorshift32: fairness, not security */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rt->sel_rng = x;
        s->start = (uint8_t)(((x >> 16) * s->n) >> 16);    /* in [0, n), no division */
    }
}

static void async__combo_mode(async_task *t, const async_select *s) {
    async__cancel_leave(t, (uint8_t)((s->flags & 0x10u) ? ASYNC__F_CANCELLING : 0));
}

/* The next branch to run: i to poll it, i + 64 to poll it in cancel mode, i + 128 to
   mark it cancelled without polling it (join: never started), i + 256 to evaluate its
   guard (first poll only, every guard before any branch, as tokio::select!); -1: done. */
ASYNC_DEF int async__combo_next(async_task *t, async_select *s, const async_timer *tm) {
    int join = (s->flags & ASYNC__COMBO_JOIN) != 0;
    async__combo_mode(t, s);                    /* undo the previous cancel poll's mode */
    if ((s->flags & ASYNC__COMBO_FIRST) && s->gi < s->n) return (int)s->gi++ + 256;
    while (s->k < s->n) {                       /* pass 0 */
        unsigned i;
        if (join ? (s->mode & ASYNC_JOIN_FAIL_FAST) && s->err : s->winner != ASYNC__SEL_NONE) {
            s->k = s->n;
            break;
        }
        i = (unsigned)s->start + s->k++;
        if (i >= s->n) i -= s->n;
        if (!(s->enabled & (1u << i)) || (join && (s->done & (1u << i)))) continue;
        return (int)i;
    }
    if (s->k == s->n) {                         /* between the passes: decide */
        int finishing;
        s->k++;
        s->flags &= (uint8_t)~ASYNC__COMBO_FIRST;
        if (join) {
            finishing = (s->done & s->enabled) == s->enabled ||
                        ((s->mode & ASYNC_JOIN_FAIL_FAST) && s->err) ||
                        (s->mode & ASYNC_SELECT_NOWAIT);
        } else {
            if (s->winner == ASYNC__SEL_NONE && (!s->enabled || (s->mode & ASYNC_SELECT_NOWAIT)))
                s->winner = ASYNC_SELECT_ELSE;
            finishing = s->winner != ASYNC__SEL_NONE;
        }
        /* a _TIMEOUT form whose timer fired while branches still wait: they are
           cancelled as losers (timing out spends a unit of budget, as an await's) */
        if (!finishing && tm && tm->state == ASYNC__TM_FIRED && async_task_consume_budget(t)) {
            finishing = 1;
            s->flags |= ASYNC__COMBO_TIMEDOUT;
            s->err = ASYNC_ETIMEDOUT;
            if (!join) s->winner = ASYNC_SELECT_TIMEDOUT;
        }
        s->cancel = finishing ? s->pending : 0;
        if (!join && s->winner >= 0) s->cancel &= ~(1u << s->winner);
        /* a join stopping early: branches never started are not touched, but their
           rc says ASYNC_ECANCELED like the cancelled ones */
        s->skip = finishing && join ? s->enabled & ~s->done & ~s->pending : 0;
    }
    while (s->ci < s->n) {                      /* pass 1: cancel what still waits */
        unsigned i = s->ci++;
        uint32_t bit = 1u << i;
        if (s->cancel & bit) {
            s->cancel &= ~bit;
            s->pending &= ~bit;
            (void)async__cancel_enter(t);
            return (int)i + 64;
        }
        if (s->skip & bit) {
            s->skip &= ~bit;
            return (int)i + 128;
        }
    }
    return -1;
}

ASYNC_DEF void async__combo_guard(async_select *s, int i, int guard) {
    if (!guard) s->enabled &= ~(1u << i);
}

ASYNC_DEF void async__combo_result(async_select *s, int i, int rc) {
    uint32_t bit = 1u << i;
    if (rc == ASYNC_PENDING) {
        s->pending |= bit;
        return;
    }
    s->pending &= ~bit;
    if (s->flags & ASYNC__COMBO_JOIN) {
        s->done |= bit;
        if (rc < 0 && !s->err) s->err = rc;
    } else if (s->winner == ASYNC__SEL_NONE) {
        s->winner = (int16_t)i;
    }
}

ASYNC_DEF void async__combo_cancelled(int rc) {
    ASYNC_ASSERT(rc != ASYNC_PENDING, "an operation returned ASYNC_PENDING in cancel mode");
    (void)rc;
}

/* 1: the select/join is complete (a _TIMEOUT form's timer disarmed); 0: suspend (its
   waiters are registered). */
ASYNC_DEF int async__combo_finish(async_task *t, async_select *s, async_timer *tm) {
    int done;
    async__combo_mode(t, s);
    if (s->flags & ASYNC__COMBO_JOIN)
        done = (s->done & s->enabled) == s->enabled ||
               ((s->mode & ASYNC_JOIN_FAIL_FAST) && s->err) ||
               (s->mode & ASYNC_SELECT_NOWAIT) || (s->flags & ASYNC__COMBO_TIMEDOUT);
    else
        done = s->winner != ASYNC__SEL_NONE;
    if (done && tm) async__timer_disarm(tm);
    return done;
}

/* ---- JoinSet ------------------------------------------------------------------------
   Members point at their set (u.owner, ASYNC__F2_INSET); when one finishes it joins the
   set's done list, in completion order, and wakes join_next. */
static void async__joinset_finished(async__owner *self, async_task *t) {
    async_joinset *js = (async_joinset *)(void *)self;
    async__list_push(&js->done, &t->link);
    js->running--;
    async__wq_ready_all(&js->q, ASYNC__W_READY, 0);
}

ASYNC_DEF int async_joinset_init(async_joinset *js, async_runtime *rt) {
    if (!js || !rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    async__memset(js, 0, sizeof *js);
    js->owner.finished = async__joinset_finished;
    js->rt = rt;
    async__list_init(&js->done);
    return 0;
}

/* join_next gives members back in spawn order (FuturesOrdered); ring holds capacity
   task pointers, and a spawn into a full ring fails with ASYNC_EAGAIN. */
ASYNC_DEF int async_joinset_init_ordered(async_joinset *js, async_runtime *rt, async_task **ring,
                                         size_t capacity) {
    int rc;
    if (!ring || !capacity) return ASYNC_EINVAL;
    rc = async_joinset_init(js, rt);
    if (rc < 0) return rc;
    js->ring = ring;
    js->cap = capacity;
    return 0;
}

static int async__joinset_adopt(async_joinset *js, async_task *t) {
    t->flags2 |= ASYNC__F2_INSET;
    t->u.owner = &js->owner;
    js->len++;
    js->running++;
    if (js->ring) {
        size_t pos = js->head + js->count;
        if (pos >= js->cap) pos -= js->cap;
        js->ring[pos] = t;
        js->count++;
    }
    return 0;
}

ASYNC_DEF int async_joinset_spawn(async_joinset *js, async_task *t, async_task_fn fn,
                                  const char *name) {
    int rc;
    if (!js || !js->rt) return ASYNC_EINVAL;
    if (js->ring && js->count == js->cap) return ASYNC_EAGAIN;
    rc = async_task_spawn(js->rt, t, fn, name);
    return rc < 0 ? rc : async__joinset_adopt(js, t);
}

ASYNC_DEF int async_joinset_spawn_alloc(async_joinset *js, async_task_fn fn, size_t frame_size,
                                        const char *name, async_task **out) {
    int rc;
    if (out) *out = NULL;
    if (!js || !js->rt) return ASYNC_EINVAL;
    if (js->ring && js->count == js->cap) return ASYNC_EAGAIN;
    rc = async_task_spawn_alloc(js->rt, fn, frame_size, name, out);
    return rc < 0 ? rc : async__joinset_adopt(js, *out);
}

static void async__joinset_release_last(async_joinset *js) {
    if (js->last) {
        async__free_task(js->last);
        js->last = NULL;
    }
}

/* The next member to finish (or, ordered, the oldest): 0 with *task and *result;
   ASYNC_ECLOSED when the set is empty. An allocated member's frame stays valid until
   the next join_next or destroy. Cancel safe: nothing is taken unless it returns. */
ASYNC_DEF int async_joinset_join_next(async_task *t, async_joinset *js, async_waiter *w,
                                      async_task **task, int *result) {
    async_task *m = NULL;
    if (!t || !js || !w || !js->rt) return ASYNC_EINVAL;
    if (async__wait_begin(t, &js->q, w, 1, NULL) < 0) return ASYNC_ECANCELED;
    async__joinset_release_last(js);
    if (js->ring) {
        if (js->count && js->ring[js->head]->state == ASYNC_TASK_DONE) m = js->ring[js->head];
    } else if (!async__list_empty(&js->done)) {
        m = async__task_of(js->done.next);
    }
    if (m) {
        if (!async__coop(t)) return ASYNC_PENDING;
        async__list_del(&m->link);
        if (js->ring) {
            if (++js->head == js->cap) js->head = 0;
            js->count--;
        }
        js->len--;
        m->flags |= ASYNC__F_TAKEN;
        m->flags2 &= (uint8_t)~ASYNC__F2_INSET;
        if (task) *task = m;
        if (result) *result = m->u.result;
        if (m->flags & ASYNC__F_ALLOC) js->last = m;
        return 0;
    }
    if (!js->len) return ASYNC_ECLOSED;
    async__wq_push(&js->q, w, t);
    return ASYNC_PENDING;
}

/* Wait until every member has finished and been reaped (a scope's end): 0, or the
   first negative result among them. */
ASYNC_DEF int async_joinset_wait_all(async_task *t, async_joinset *js, async_waiter *w) {
    int rc, result = 0;
    if (!t || !js || !w) return ASYNC_EINVAL;
    for (;;) {
        rc = async_joinset_join_next(t, js, w, NULL, &result);
        if (rc != 0) break;
        if (result < 0 && !w->got) w->got = (size_t)-(long)result;   /* keep the first */
    }
    if (rc == ASYNC_PENDING) return rc;
    if (rc == ASYNC_ECLOSED) rc = w->got ? -(int)w->got : 0;
    w->got = 0;                                 /* done or cancelled: nothing carried over */
    return rc;
}

ASYNC_DEF int async_joinset_len(const async_joinset *js) {
    return js ? (int)js->len : ASYNC_EINVAL;
}

/* Members still running, found in the runtime's queues. */
static async_task *async__joinset_find_running(async_joinset *js) {
    async_runtime *rt = js->rt;
    async__link *lists[3];
    int i;
    lists[0] = &rt->runq;
    lists[1] = &rt->deferred;
    lists[2] = &rt->waiting;
    for (i = 0; i < 3; i++) {
        async__link *l;
        for (l = lists[i]->next; l != lists[i]; l = l->next) {
            async_task *m = async__task_of(l);
            if ((m->flags2 & ASYNC__F2_INSET) && m->u.owner == &js->owner) return m;
        }
    }
    if (rt->current && (rt->current->flags2 & ASYNC__F2_INSET) &&
        rt->current->u.owner == &js->owner)
        return rt->current;
    return NULL;
}

/* The members of js not yet told to abort: abort them, telling cb first. */
static int async__joinset_abort_each(async_joinset *js, void (*cb)(async_task *, void *),
                                     void *user) {
    async__link *lists[3];
    int i, n = 0;
    lists[0] = &js->rt->runq;
    lists[1] = &js->rt->deferred;
    lists[2] = &js->rt->waiting;
    for (i = 0; i < 3; i++) {
        async__link *l, *next;
        for (l = lists[i]->next; l != lists[i]; l = next) {
            async_task *m = async__task_of(l);
            next = l->next;                     /* a wake moves m to the run queue */
            if ((m->flags2 & ASYNC__F2_INSET) && m->u.owner == &js->owner &&
                !(m->flags & ASYNC__F_ABORT)) {
                if (cb) cb(m, user);
                async_task_abort(m);
                n++;
            }
        }
    }
    return n;
}

/* Abort every running member (they finish cancelled at their next poll); keep
   calling join_next to reap them, as Tokio. */
ASYNC_DEF int async_joinset_abort_all(async_joinset *js) {
    int n;
    if (!js || !js->rt) return ASYNC_EINVAL;
    n = async__joinset_abort_each(js, NULL, NULL);
    if (js->rt->current && (js->rt->current->flags2 & ASYNC__F2_INSET) &&
        js->rt->current->u.owner == &js->owner) {
        async_task_abort(js->rt->current);
        n++;
    }
    return n;
}

/* Let every member go on without the set (finished ones are dropped). */
ASYNC_DEF int async_joinset_detach_all(async_joinset *js) {
    async_task *m;
    if (!js || !js->rt) return ASYNC_EINVAL;
    async__joinset_release_last(js);
    while ((m = async__joinset_find_running(js)) != NULL) {
        m->flags2 &= (uint8_t)~ASYNC__F2_INSET;
        m->u.joiner = NULL;
        async_task_detach(m);
    }
    while (!async__list_empty(&js->done)) {
        m = async__task_of(js->done.next);
        async__list_del(&m->link);
        m->flags2 &= (uint8_t)~ASYNC__F2_INSET;
        m->flags |= ASYNC__F_DETACHED;
        if (m->flags & ASYNC__F_ALLOC) async__free_task(m);
    }
    js->len = js->running = 0;
    js->head = js->count = 0;
    return 0;
}

/* Destroying the set cancels every member now (their cleanup has run when this
   returns, so frames that die with the owner are safe) and frees what it allocated. */
ASYNC_DEF int async_joinset_destroy(async_joinset *js) {
    async_task *m;
    int n = 0;
    if (!js || !js->rt) return ASYNC_EINVAL;
    if (js->q.head) return ASYNC_EBUSY;         /* a task waits in join_next */
    while ((m = async__joinset_find_running(js)) != NULL && m != js->rt->current) {
        async__cancel_now(js->rt, m);           /* finishes into js->done */
        n++;
    }
    async_joinset_detach_all(js);
    js->rt = NULL;
    return n;
}

/* ---- OpSet ---------------------------------------------------------------------------
   The ops sit on a ring in push order (head: the oldest). A wake names a task, not an
   op, so next polls the ops from a cursor that moves past each completion (unordered:
   every op gets its turn) and stops at the first completion; ordered, it polls the
   oldest first and holds the results of younger ops until their turn (as FuturesOrdered
   holds outputs). */
enum { ASYNC__OP_FREE = 0, ASYNC__OP_FRESH = 1, ASYNC__OP_PENDING = 2, ASYNC__OP_DONE = 3 };

static int async__opset_init(async_opset *s, async_opset_slot *slots, size_t capacity,
                             int ordered) {
    size_t i;
    if (!s) return ASYNC_EINVAL;
    async__memset(s, 0, sizeof *s);
    s->head = s->cursor = s->free = -1;
    if (!capacity || capacity > (size_t)INT32_MAX ||
        capacity > (size_t)-1 / sizeof(async_opset_slot))
        return ASYNC_EINVAL;
    if (!slots) {
        slots = (async_opset_slot *)async__alloc(capacity * sizeof *slots);
        if (!slots) return ASYNC_ENOMEM;
        s->owned = 1;
    }
    for (i = 0; i < capacity; i++) {            /* the free list, lowest index first */
        async__memset(&slots[i], 0, sizeof slots[i]);
        slots[i].next = i + 1 < capacity ? (int32_t)(i + 1) : -1;
        slots[i].prev = -1;
    }
    s->slots = slots;
    s->cap = (uint32_t)capacity;
    s->free = 0;
    s->ordered = (uint8_t)(ordered != 0);
    return 0;
}
ASYNC_DEF int async_opset_init(async_opset *s, async_opset_slot *slots, size_t capacity) {
    return async__opset_init(s, slots, capacity, 0);
}
ASYNC_DEF int async_opset_init_ordered(async_opset *s, async_opset_slot *slots,
                                       size_t capacity) {
    return async__opset_init(s, slots, capacity, 1);
}

ASYNC_DEF int async_opset_push(async_opset *s, async_opset_fn fn, void *state) {
    async_opset_slot *sl;
    int32_t i;
    if (!s || !s->slots || !fn) return ASYNC_EINVAL;
    if (s->free < 0) return ASYNC_EAGAIN;
    i = s->free;
    sl = &s->slots[i];
    s->free = sl->next;
    sl->fn = fn;
    sl->state = state;
    sl->rc = 0;
    sl->st = ASYNC__OP_FRESH;
    if (s->head < 0) {                          /* the ring: i alone */
        sl->next = sl->prev = i;
        s->head = i;
    } else {                                    /* the youngest: just before head */
        async_opset_slot *h = &s->slots[s->head];
        sl->next = s->head;
        sl->prev = h->prev;
        s->slots[h->prev].next = i;
        h->prev = i;
    }
    s->len++;
    return (int)i;
}

/* Take op i off the ring into the free list. */
static void async__opset_remove(async_opset *s, int32_t i) {
    async_opset_slot *sl = &s->slots[i];
    if (sl->next == i) {
        s->head = s->cursor = -1;
    } else {
        s->slots[sl->prev].next = sl->next;
        s->slots[sl->next].prev = sl->prev;
        if (s->head == i) s->head = sl->next;
        if (s->cursor == i) s->cursor = sl->next;
    }
    sl->fn = NULL;
    sl->state = NULL;
    sl->st = ASYNC__OP_FREE;
    sl->prev = -1;
    sl->next = s->free;
    s->free = i;
    s->len--;
}

static int async__opset_take(async_opset *s, int32_t i, int rc, void **state, int *result) {
    if (state) *state = s->slots[i].state;
    if (result) *result = rc;
    async__opset_remove(s, i);
    return (int)i;
}

/* Poll op i. Callers skip an op that said pending in this epoch (async__opset_quiet):
   since then the task has not been polled again and nothing was woken, so it cannot
   be ready (a wake of any task starts a new epoch; a wake of this one polls it again). */
static int async__opset_poll(async_task *t, async_opset *s, int32_t i) {
    async_opset_slot *sl = &s->slots[i];
    int rc;
    sl->st = ASYNC__OP_PENDING;                 /* polled: from now on cancelled on a drop */
    rc = sl->fn(t, sl->state);
    sl->epoch = s->epoch;
    return rc;
}
#define async__opset_quiet(s, sl) ((sl)->st == ASYNC__OP_PENDING && (sl)->epoch == (s)->epoch)

ASYNC_DEF int async_opset_next(async_task *t, async_opset *s, void **state, int *result) {
    int32_t i, nx;
    uint32_t k, n;
    int rc;
    if (!t || !s || !s->slots) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) {
        /* the whole task is dropped: its ops go with it. A timeout or a select around
           next only cancels this wait: the ops stay in the set, as Rust's would. */
        if (t->flags & ASYNC__F_ABORT) (void)async_opset_clear(t, s);
        return ASYNC_ECANCELED;
    }
    if (!s->len) return ASYNC_ECLOSED;
    if (t->rt->stats.polls != s->polls || t->rt->stats.wakes != s->wakes) {
        s->polls = t->rt->stats.polls;
        s->wakes = t->rt->stats.wakes;
        if (++s->epoch == 0) s->epoch = 1;      /* 0: a slot never polled */
    }
    if (s->ordered) {
        i = s->head;
        if (s->slots[i].st == ASYNC__OP_DONE) {
            if (!async__coop(t)) return ASYNC_PENDING;
            return async__opset_take(s, i, s->slots[i].rc, state, result);
        }
        if (!async__opset_quiet(s, &s->slots[i])) {
            rc = async__opset_poll(t, s, i);
            if (rc != ASYNC_PENDING) return async__opset_take(s, i, rc, state, result);
        }
        for (n = s->len, k = 1, i = s->slots[i].next; k < n; k++, i = s->slots[i].next) {
            async_opset_slot *sl = &s->slots[i];
            if (sl->st == ASYNC__OP_DONE || async__opset_quiet(s, sl)) continue;
            rc = async__opset_poll(t, s, i);
            if (rc != ASYNC_PENDING) {          /* held until the older ones are out */
                s->slots[i].rc = rc;
                s->slots[i].st = ASYNC__OP_DONE;
            }
        }
        return ASYNC_PENDING;
    }
    i = s->cursor >= 0 ? s->cursor : s->head;
    for (n = s->len, k = 0; k < n; k++, i = nx) {
        nx = s->slots[i].next;
        if (async__opset_quiet(s, &s->slots[i])) continue;
        rc = async__opset_poll(t, s, i);
        if (rc != ASYNC_PENDING) {
            s->cursor = nx;                     /* the next call starts after it */
            return async__opset_take(s, i, rc, state, result);
        }
    }
    s->cursor = i;
    return ASYNC_PENDING;
}

ASYNC_DEF int async_opset_len(const async_opset *s) {
    return s ? (int)s->len : ASYNC_EINVAL;
}

ASYNC_DEF int async_opset_is_empty(const async_opset *s) {
    if (!s) return ASYNC_EINVAL;
    return s->len == 0;
}

ASYNC_DEF int async_opset_clear(async_task *t, async_opset *s) {
    int n = 0;
    if (!s || !s->slots) return ASYNC_EINVAL;
    if (!t) {
        int32_t i = s->head;
        uint32_t k;
        for (k = 0; k < s->len; k++, i = s->slots[i].next)
            if (s->slots[i].st == ASYNC__OP_PENDING) return ASYNC_EBUSY;
    }
    while (s->head >= 0) {
        int32_t i = s->head;
        async_opset_slot *sl = &s->slots[i];
        if (sl->st == ASYNC__OP_PENDING) {      /* polled: unlink it as a select's loser */
            uint8_t mode = async__cancel_enter(t);
            int rc = sl->fn(t, sl->state);
            async__cancel_leave(t, mode);
            ASYNC_ASSERT(rc != ASYNC_PENDING, "an operation returned ASYNC_PENDING in cancel mode");
            (void)rc;
            n++;
        }                                       /* never polled: not touched */
        async__opset_remove(s, i);
    }
    return n;
}

ASYNC_DEF int async_opset_destroy(async_task *t, async_opset *s) {
    int n;
    if (!s) return ASYNC_EINVAL;
    if (!s->slots) return 0;                    /* never initialised, or destroyed */
    n = async_opset_clear(t, s);
    if (n < 0) return n;
    if (s->owned) async__dealloc(s->slots);
    s->slots = NULL;
    s->cap = 0;
    s->free = -1;
    return n;
}

/* ---- resilience ----------------------------------------------------------------------- */
ASYNC_DEF int async_backoff_init(async_backoff *b, async_time base, async_time max,
                                 uint32_t max_attempts) {
    if (!b || !base || max < base) return ASYNC_EINVAL;
    async__memset(b, 0, sizeof *b);
    b->base = base;
    b->max = max;
    b->max_attempts = max_attempts;
    /* A seed of its own, so that clients failing together do not retry in step. */
    b->rng = 0x9E3779B9u ^ (uint32_t)(uintptr_t)b ^ (uint32_t)((uintptr_t)b >> 16);
    if (!b->rng) b->rng = 1;
    return 0;
}

/* Start a new sequence of attempts (ASYNC_RETRY does this itself). */
ASYNC_DEF int async_backoff_reset(async_backoff *b) {
    if (!b) return ASYNC_EINVAL;
    b->attempts = 0;
    b->last_delay = 0;
    return 0;
}

/* After a failed attempt with error rc: the delay before the next one (0), or
   ASYNC_ELIMIT (attempts spent, or rc not retryable) / ASYNC_ETIMEDOUT (the next
   attempt would start past the deadline). Delay: min(max, base * 2^n), then jitter:
   full (uniform in [0, d]), equal ([d/2, d]) or none. */
ASYNC_DEF int async_backoff_next(async_backoff *b, async_time now, int rc, async_time *delay) {
    async_time d;
    uint64_t r = 0;
    uint32_t i, x;
    if (!b || !delay) return ASYNC_EINVAL;
    if (b->retryable ? !b->retryable(rc) : rc == ASYNC_ECANCELED) return ASYNC_ELIMIT;
    if (b->max_attempts && b->attempts + 1 >= b->max_attempts) return ASYNC_ELIMIT;
    d = b->base;
    for (i = 0; i < b->attempts && d < b->max; i++) d = d > b->max / 2 ? b->max : d * 2;
    if (d > b->max) d = b->max;
    b->attempts++;
    x = b->rng ^ (uint32_t)now;                 /* now: different draws when replayed later */
    if (!x) x = 1;
    for (i = 0; i < 2; i++) {                   /* two xorshift32 steps: 64 random bits */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r = (r << 32) | x;
    }
    b->rng = x;
    if (b->jitter == ASYNC_JITTER_FULL) {       /* uniform in [0, d] */
        d = d == ASYNC_TIME_NEVER ? async__mod(r, d) : async__mod(r, d + 1);
    } else if (b->jitter == ASYNC_JITTER_EQUAL) {       /* uniform in [d/2, d] */
        async_time half = d / 2, span = d - half;
        d = half + (span == ASYNC_TIME_NEVER ? async__mod(r, span) : async__mod(r, span + 1));
    }
    if (b->deadline && async__sat_add(now, d) > b->deadline) return ASYNC_ETIMEDOUT;
    *delay = b->last_delay = d;
    return 0;
}

ASYNC_DEF int async_breaker_init(async_breaker *cb, uint32_t threshold, async_time recovery,
                                 uint32_t half_open_max) {
    if (!cb || !threshold) return ASYNC_EINVAL;
    async__memset(cb, 0, sizeof *cb);
    cb->threshold = threshold;
    cb->recovery = recovery;
    cb->half_open_max = half_open_max ? half_open_max : 1;
    return 0;
}

ASYNC_DEF int async_breaker_state(const async_breaker *cb, async_time now) {
    if (!cb) return ASYNC_EINVAL;
    if (cb->state == ASYNC_BREAKER_OPEN && now >= cb->open_until) return ASYNC_BREAKER_HALF_OPEN;
    return cb->state;
}

/* May a call go through now? 0, or ASYNC_EREJECTED (open; or half-open with its trial
   calls already out). After the recovery time an open breaker lets half_open_max
   trial calls through. */
ASYNC_DEF int async_breaker_allow(async_breaker *cb, async_time now) {
    if (!cb) return ASYNC_EINVAL;
    if (cb->state == ASYNC_BREAKER_OPEN) {
        if (now < cb->open_until) return ASYNC_EREJECTED;
        cb->state = ASYNC_BREAKER_HALF_OPEN;
        cb->half_open_inflight = cb->half_open_ok = 0;
    }
    if (cb->state == ASYNC_BREAKER_HALF_OPEN) {
        if (cb->half_open_inflight >= cb->half_open_max) return ASYNC_EREJECTED;
        cb->half_open_inflight++;
    }
    return 0;
}

/* Report how an allowed call ended (rc < 0: failure). `threshold` failures in a row
   open the breaker for `recovery`; in half-open, a failure reopens it and
   half_open_max successes close it. */
ASYNC_DEF int async_breaker_record(async_breaker *cb, async_time now, int rc) {
    if (!cb) return ASYNC_EINVAL;
    if (cb->state == ASYNC_BREAKER_HALF_OPEN) {
        if (cb->half_open_inflight) cb->half_open_inflight--;
        if (rc < 0) {
            cb->state = ASYNC_BREAKER_OPEN;
            cb->open_until = async__sat_add(now, cb->recovery);
        } else if (++cb->half_open_ok >= cb->half_open_max) {
            cb->state = ASYNC_BREAKER_CLOSED;
            cb->failures = 0;
        }
        return cb->state;
    }
    if (rc >= 0) {
        cb->failures = 0;
    } else if (++cb->failures >= cb->threshold && cb->state == ASYNC_BREAKER_CLOSED) {
        cb->state = ASYNC_BREAKER_OPEN;
        cb->open_until = async__sat_add(now, cb->recovery);
    }
    return cb->state;
}

ASYNC_DEF int async_bulkhead_init(async_bulkhead *b, uint32_t max_concurrent, uint32_t max_queue) {
    if (!b || !max_concurrent) return ASYNC_EINVAL;
    async__memset(b, 0, sizeof *b);
    b->max_queue = max_queue;
    return async_semaphore_init(&b->sem, max_concurrent);
}

/* Enter: at once if a slot is free, queued (FIFO) if fewer than max_queue wait, else
   ASYNC_EREJECTED at once. Pair every successful enter with leave. */
ASYNC_DEF int async_bulkhead_enter(async_task *t, async_bulkhead *b, async_waiter *w) {
    int rc, was_waiting;
    if (!t || !b || !w) return ASYNC_EINVAL;
    was_waiting = w->state != ASYNC__W_IDLE;
    if (!was_waiting && !ASYNC__CANCELLING(t) &&
        async_semaphore_try_acquire(&b->sem, 1) != 0) {
        if (b->queued >= b->max_queue) return ASYNC_EREJECTED;
    } else if (!was_waiting && !ASYNC__CANCELLING(t)) {
        return 0;                               /* got a slot at once */
    }
    rc = async_semaphore_acquire(t, &b->sem, w);
    if (rc == ASYNC_PENDING) {
        if (!was_waiting) b->queued++;
    } else if (was_waiting) {
        b->queued--;
    }
    return rc;
}

ASYNC_DEF int async_bulkhead_leave(async_bulkhead *b) {
    if (!b) return ASYNC_EINVAL;
    return async_semaphore_release(&b->sem, 1);
}

////////////////////////////////////////////////////////////////////////////////
// >>streams

/* Poll a stream, fused: after its end it stays ended without being polled; in
   cancel mode an ended stream has nothing to cancel. */
ASYNC__HOT static int async__poll_stream(async_task *t, async_stream *s, void *item) {
    int rc;
    if (s->ended) return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : 0;
    rc = s->next(t, s, item);
    if (rc == 0) s->ended = 1;
    return rc;
}

ASYNC_DEF int async_stream_next(async_task *t, async_stream *s, void *item) {
    if (!t || !s || !s->next || (!item && s->item_size)) return ASYNC_EINVAL;
    return async__poll_stream(t, s, item);
}

/* Drop a stream now (Rust's drop of a stream): poll it once in cancel mode, so
   generators and calls in flight unwind through their cleanup, and end it. Also
   when it has ended: take(n) over a generator holds a live generator at its end. */
ASYNC_DEF int async_stream_cancel(async_task *t, async_stream *s, void *item) {
    uint8_t mode;
    int rc;
    if (!t || !s || !s->next || (!item && s->item_size)) return ASYNC_EINVAL;
    mode = async__cancel_enter(t);
    rc = s->next(t, s, item);
    async__cancel_leave(t, mode);
    ASYNC_ASSERT(rc != ASYNC_PENDING, "a stream returned ASYNC_PENDING in cancel mode");
    s->ended = 1;
    return 0;
}

static void async__stream_base(async_stream *s, async_stream_fn next, size_t item_size) {
    s->next = next;
    s->item_size = item_size;
    s->ended = 0;
}

/* ---- sources --------------------------------------------------------------------- */
static int async__iter_next(async_task *t, async_stream *st, void *item) {
    async_stream_iter *s = (async_stream_iter *)(void *)st;
    if (ASYNC__CANCELLING(t)) return ASYNC_ECANCELED;
    if (s->pos == s->count) return 0;
    if (!async__coop(t)) return ASYNC_PENDING;  /* always ready: yield now and then */
    if (st->item_size)                          /* size 0: data may be NULL */
        async__copy_item(item, s->data + s->pos * st->item_size, st->item_size);
    s->pos++;
    return ASYNC_ITEM;
}
ASYNC_DEF int async_stream_iter_init(async_stream_iter *s, const void *array, size_t item_size,
                                     size_t count) {
    if (!s || (!array && count && item_size)) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__iter_next, item_size);
    s->data = (const unsigned char *)array;
    s->count = count;
    s->pos = 0;
    return 0;
}

static int async__from_fn_next(async_task *t, async_stream *st, void *item) {
    async_stream_from_fn *s = (async_stream_from_fn *)(void *)st;
    int rc;
    if (ASYNC__CANCELLING(t)) return ASYNC_ECANCELED;
    if (!async__coop(t)) return ASYNC_PENDING;
    rc = s->fn(s->user, item);
    return rc > 0 ? ASYNC_ITEM : rc;
}
ASYNC_DEF int async_stream_from_fn_init(async_stream_from_fn *s, size_t item_size,
                                        int (*fn)(void *user, void *item), void *user) {
    if (!s || !fn) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__from_fn_next, item_size);
    s->fn = fn;
    s->user = user;
    return 0;
}

static int async__coro_live(const async_coro *co) {
    return co->lc != 0 && co->lc != ASYNC__LC_DONE;
}

static int async__unfold_next(async_task *t, async_stream *st, void *item) {
    async_stream_unfold *s = (async_stream_unfold *)(void *)st;
    int rc;
    if (ASYNC__CANCELLING(t) && !async__coro_live(&s->co)) return ASYNC_ECANCELED;
    rc = s->step(t, &s->co, s->state, item);
    if (rc == ASYNC_PENDING) return rc;
    s->co.lc = 0;                               /* a fresh step for the next item */
    return rc;
}
ASYNC_DEF int async_stream_unfold_init(async_stream_unfold *s, size_t item_size,
        int (*step)(async_task *t, async_coro *co, void *state, void *item), void *state) {
    if (!s || !step) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__unfold_next, item_size);
    s->co.lc = 0;
    s->step = step;
    s->state = state;
    return 0;
}

static int async__gen_next(async_task *t, async_stream *st, void *item) {
    async_stream_gen *s = (async_stream_gen *)(void *)st;
    int rc;
    if (s->co.lc == ASYNC__LC_DONE) return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : 0;
    if (ASYNC__CANCELLING(t) && s->co.lc == 0) return ASYNC_ECANCELED;
    rc = s->gen(t, st, item);
    if (ASYNC__CANCELLING(t)) st->ended = 1;    /* it unwound: nothing more comes */
    return rc;          /* a generator returning < 0 yields an error item, then ends */
}
ASYNC_DEF int async_stream_gen_init(async_stream_gen *s, size_t item_size, async_stream_fn gen) {
    if (!s || !gen) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__gen_next, item_size);
    s->co.lc = 0;
    s->gen = gen;
    return 0;
}

static int async__mpsc_stream_next(async_task *t, async_stream *st, void *item) {
    async_stream_mpsc *s = (async_stream_mpsc *)(void *)st;
    int rc = async_mpsc_recv(t, s->c, &s->w, item);
    if (rc == 0) return ASYNC_ITEM;
    return rc == ASYNC_ECLOSED ? 0 : rc;
}
ASYNC_DEF int async_stream_mpsc_init(async_stream_mpsc *s, async_mpsc *c) {
    if (!s || !c) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__mpsc_stream_next, c->item_size);
    s->c = c;
    async__memset(&s->w, 0, sizeof s->w);
    return 0;
}

static int async__broadcast_stream_next(async_task *t, async_stream *st, void *item) {
    async_stream_broadcast *s = (async_stream_broadcast *)(void *)st;
    int rc = async_broadcast_recv(t, s->rx, &s->w, item);
    if (rc == 0) return ASYNC_ITEM;
    return rc == ASYNC_ECLOSED ? 0 : rc;        /* ASYNC_ELAGGED: an error item */
}
ASYNC_DEF int async_stream_broadcast_init(async_stream_broadcast *s, async_broadcast_rx *rx) {
    if (!s || !rx || !rx->ch) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__broadcast_stream_next, rx->ch->item_size);
    s->rx = rx;
    async__memset(&s->w, 0, sizeof s->w);
    return 0;
}

static int async__interval_stream_next(async_task *t, async_stream *st, void *item) {
    async_stream_interval *s = (async_stream_interval *)(void *)st;
    async_time when;
    int rc = async_interval_tick(t, s->iv, &when);
    if (rc != 0) return rc;
    async__memcpy(item, &when, sizeof when);
    return ASYNC_ITEM;
}
ASYNC_DEF int async_stream_interval_init(async_stream_interval *s, async_interval *iv) {
    if (!s || !iv) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__interval_stream_next, sizeof(async_time));
    s->iv = iv;
    return 0;
}

/* ---- adapters ----------------------------------------------------------------------- */
static int async__map_next(async_task *t, async_stream *st, void *item) {
    async_stream_map *s = (async_stream_map *)(void *)st;
    for (;;) {
        int rc = async__poll_stream(t, s->up, s->scratch);
        if (rc != ASYNC_ITEM) return rc;        /* pending, end, error item, cancelled */
        if (!s->keep) {
            s->fn(s->scratch, item, s->user);
            return ASYNC_ITEM;
        }
        if (s->keep(s->scratch, item, s->user)) return ASYNC_ITEM;
    }
}
ASYNC_DEF int async_stream_map_init(async_stream_map *s, async_stream *up, size_t item_size,
        void (*fn)(const void *in, void *out, void *user), void *user, void *scratch) {
    if (!s || !up || !fn || (!scratch && up->item_size)) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__map_next, item_size);
    s->up = up;
    s->fn = fn;
    s->keep = NULL;
    s->user = user;
    s->scratch = scratch;
    return 0;
}
ASYNC_DEF int async_stream_filter_map_init(async_stream_map *s, async_stream *up, size_t item_size,
        int (*fn)(const void *in, void *out, void *user), void *user, void *scratch) {
    if (!s || !up || !fn || (!scratch && up->item_size)) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__map_next, item_size);
    s->up = up;
    s->fn = NULL;
    s->keep = fn;
    s->user = user;
    s->scratch = scratch;
    return 0;
}

enum { ASYNC__FILTER = 0, ASYNC__TAKE_WHILE = 1, ASYNC__SKIP_WHILE = 2 };
static int async__filter_next(async_task *t, async_stream *st, void *item) {
    async_stream_filter *s = (async_stream_filter *)(void *)st;
    if (ASYNC__CANCELLING(t)) return async__poll_stream(t, s->up, item);
    if (s->mode == ASYNC__TAKE_WHILE && s->done) return 0;
    for (;;) {
        int rc = async__poll_stream(t, s->up, item);
        if (rc != ASYNC_ITEM) return rc;
        if (s->mode == ASYNC__FILTER) {
            if (s->pred(item, s->user)) return ASYNC_ITEM;
        } else if (s->mode == ASYNC__TAKE_WHILE) {
            if (s->pred(item, s->user)) return ASYNC_ITEM;
            s->done = 1;
            return 0;
        } else {
            if (s->done || !s->pred(item, s->user)) {
                s->done = 1;
                return ASYNC_ITEM;
            }
        }
    }
}
static int async__filter_init(async_stream_filter *s, async_stream *up,
                              int (*pred)(const void *item, void *user), void *user, int mode) {
    if (!s || !up || !pred) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__filter_next, up->item_size);
    s->up = up;
    s->pred = pred;
    s->user = user;
    s->mode = (uint8_t)mode;
    s->done = 0;
    return 0;
}
ASYNC_DEF int async_stream_filter_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user) {
    return async__filter_init(s, up, pred, user, ASYNC__FILTER);
}
ASYNC_DEF int async_stream_take_while_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user) {
    return async__filter_init(s, up, pred, user, ASYNC__TAKE_WHILE);
}
ASYNC_DEF int async_stream_skip_while_init(async_stream_filter *s, async_stream *up,
        int (*pred)(const void *item, void *user), void *user) {
    return async__filter_init(s, up, pred, user, ASYNC__SKIP_WHILE);
}

static int async__then_next(async_task *t, async_stream *st, void *item) {
    async_stream_then *s = (async_stream_then *)(void *)st;
    int rc;
    if (ASYNC__CANCELLING(t)) {
        if (s->busy && async__coro_live(&s->co)) (void)s->fn(t, &s->co, s->scratch, item, s->user);
        s->busy = 0;
        return async__poll_stream(t, s->up, s->scratch);
    }
    if (!s->busy) {
        rc = async__poll_stream(t, s->up, s->scratch);
        if (rc != ASYNC_ITEM) return rc;
        s->busy = 1;
        s->co.lc = 0;
    }
    rc = s->fn(t, &s->co, s->scratch, item, s->user);
    if (rc == ASYNC_PENDING) return rc;
    s->busy = 0;
    return rc < 0 ? rc : ASYNC_ITEM;
}
ASYNC_DEF int async_stream_then_init(async_stream_then *s, async_stream *up, size_t item_size,
        int (*fn)(async_task *t, async_coro *co, const void *in, void *out, void *user),
        void *user, void *scratch) {
    if (!s || !up || !fn || (!scratch && up->item_size)) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__then_next, item_size);
    s->up = up;
    s->fn = fn;
    s->user = user;
    s->scratch = scratch;
    s->co.lc = 0;
    s->busy = 0;
    return 0;
}

enum { ASYNC__TAKE = 0, ASYNC__SKIP = 1, ASYNC__ENUMERATE = 2 };
static int async__count_next(async_task *t, async_stream *st, void *item) {
    async_stream_count *s = (async_stream_count *)(void *)st;
    int rc;
    if (s->mode == ASYNC__TAKE) {
        if (ASYNC__CANCELLING(t)) return async__poll_stream(t, s->up, item);
        if (!s->n) return 0;                    /* upstream untouched */
        rc = async__poll_stream(t, s->up, item);
        if (rc == ASYNC_ITEM) s->n--;
        return rc;
    }
    if (s->mode == ASYNC__SKIP) {
        while (s->n) {
            rc = async__poll_stream(t, s->up, item);
            if (rc != ASYNC_ITEM) return rc;
            s->n--;
        }
        return async__poll_stream(t, s->up, item);
    }
    rc = async__poll_stream(t, s->up, (unsigned char *)item + sizeof(uint64_t));
    if (rc == ASYNC_ITEM) {
        async__memcpy(item, &s->n, sizeof(uint64_t));
        s->n++;
    }
    return rc;
}
static int async__count_init(async_stream_count *s, async_stream *up, uint64_t n, int mode) {
    if (!s || !up) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__count_next,
                       up->item_size + (mode == ASYNC__ENUMERATE ? sizeof(uint64_t) : 0));
    s->up = up;
    s->n = n;
    s->mode = (uint8_t)mode;
    return 0;
}
ASYNC_DEF int async_stream_take_init(async_stream_count *s, async_stream *up, uint64_t n) {
    return async__count_init(s, up, n, ASYNC__TAKE);
}
ASYNC_DEF int async_stream_skip_init(async_stream_count *s, async_stream *up, uint64_t n) {
    return async__count_init(s, up, n, ASYNC__SKIP);
}
/* items: a uint64_t index, then the upstream item */
ASYNC_DEF int async_stream_enumerate_init(async_stream_count *s, async_stream *up) {
    return async__count_init(s, up, 0, ASYNC__ENUMERATE);
}

/* Chunks are built in the consumer's item buffer (the same buffer every poll). */
static int async__chunks_next(async_task *t, async_stream *st, void *item) {
    async_stream_chunks *s = (async_stream_chunks *)(void *)st;
    unsigned char *base = (unsigned char *)item + sizeof(size_t);
    size_t isz = s->up->item_size;
    int rc;
    if (ASYNC__CANCELLING(t)) {
        async__timer_disarm(&s->timer);
        s->have = 0;
        return async__poll_stream(t, s->up, base);
    }
    while (s->have < s->n) {
        rc = async__poll_stream(t, s->up, base + s->have * isz);
        if (rc == ASYNC_ITEM) {
            if (s->have++ == 0 && s->timeout)   /* the batch's first item starts its clock */
                async__timer_arm(t, &s->timer, async__deadline_after(t, s->timeout));
            continue;
        }
        if (rc == ASYNC_PENDING) {
            if (!s->have || !s->timeout || s->timer.state != ASYNC__TM_FIRED) return rc;
            break;                              /* the batch waited long enough */
        }
        if (rc == 0 && s->have) break;          /* the end: the partial batch first */
        return rc;                              /* end, or an error item (batch kept) */
    }
    async__memcpy(item, &s->have, sizeof(size_t));
    s->have = 0;
    async__timer_disarm(&s->timer);
    return ASYNC_ITEM;
}
ASYNC_DEF size_t async_stream_chunk_size(const async_stream *up, size_t n) {
    if (!up || !n) return 0;
    return sizeof(size_t) + async__array_size(up->item_size, n);
}
ASYNC_DEF int async_stream_chunks_timeout_init(async_stream_chunks *s, async_stream *up, size_t n,
                                               async_time timeout) {
    if (!s || !up || !n || async__array_size(up->item_size, n) == SIZE_MAX) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__chunks_next, async_stream_chunk_size(up, n));
    s->up = up;
    s->n = n;
    s->have = 0;
    s->timeout = timeout;
    async__memset(&s->timer, 0, sizeof s->timer);
    return 0;
}
ASYNC_DEF int async_stream_chunks_init(async_stream_chunks *s, async_stream *up, size_t n) {
    return async_stream_chunks_timeout_init(s, up, n, 0);
}

enum { ASYNC__ZIP = 0, ASYNC__CHAIN = 1, ASYNC__MERGE = 2 };
static int async__pair_next(async_task *t, async_stream *st, void *item) {
    async_stream_pair *s = (async_stream_pair *)(void *)st;
    int rc, k;
    if (ASYNC__CANCELLING(t)) {
        s->state = 0;
        (void)async__poll_stream(t, s->a, item);
        (void)async__poll_stream(t, s->b, item);
        return ASYNC_ECANCELED;
    }
    if (s->mode == ASYNC__ZIP) {                /* a's item, then b's, in one buffer */
        if (!s->state) {
            rc = async__poll_stream(t, s->a, item);
            if (rc != ASYNC_ITEM) return rc;
            s->state = 1;                       /* a's part waits in the buffer */
        }
        rc = async__poll_stream(t, s->b, (unsigned char *)item + s->a->item_size);
        if (rc == ASYNC_ITEM || rc == 0) s->state = 0;
        return rc;
    }
    if (s->mode == ASYNC__CHAIN) {
        if (!s->state) {
            rc = async__poll_stream(t, s->a, item);
            if (rc != 0) return rc;
            s->state = 1;
        }
        return async__poll_stream(t, s->b, item);
    }
    for (k = 0; k < 2; k++) {                   /* merge: alternate when both are ready */
        async_stream *sub = (s->turn ^ k) ? s->b : s->a;
        if (sub->ended) continue;
        rc = async__poll_stream(t, sub, item);
        if (rc == ASYNC_PENDING || rc == 0) continue;
        s->turn = (uint8_t)((s->turn ^ k) ^ 1);
        return rc;
    }
    return s->a->ended && s->b->ended ? 0 : ASYNC_PENDING;
}
static int async__pair_init(async_stream_pair *s, async_stream *a, async_stream *b, int mode) {
    if (!s || !a || !b || a == b) return ASYNC_EINVAL;
    if (mode != ASYNC__ZIP && a->item_size != b->item_size) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__pair_next,
                       mode == ASYNC__ZIP ? a->item_size + b->item_size : a->item_size);
    s->a = a;
    s->b = b;
    s->mode = (uint8_t)mode;
    s->state = s->turn = 0;
    return 0;
}
/* items: a's item then b's; it ends when either ends */
ASYNC_DEF int async_stream_zip_init(async_stream_pair *s, async_stream *a, async_stream *b) {
    return async__pair_init(s, a, b, ASYNC__ZIP);
}
ASYNC_DEF int async_stream_chain_init(async_stream_pair *s, async_stream *a, async_stream *b) {
    return async__pair_init(s, a, b, ASYNC__CHAIN);
}
/* alternates when both are ready; ends when both have ended */
ASYNC_DEF int async_stream_merge_init(async_stream_pair *s, async_stream *a, async_stream *b) {
    return async__pair_init(s, a, b, ASYNC__MERGE);
}

static int async__select_all_next(async_task *t, async_stream *st, void *item) {
    async_stream_select_all *s = (async_stream_select_all *)(void *)st;
    size_t k, i;
    int rc;
    if (ASYNC__CANCELLING(t)) {
        for (i = 0; i < s->n; i++) (void)async__poll_stream(t, s->up[i], item);
        return ASYNC_ECANCELED;
    }
    for (k = 0; k < s->n; k++) {                /* round robin from where it left off */
        i = s->next + k;
        if (i >= s->n) i -= s->n;
        if (s->up[i]->ended) continue;
        rc = async__poll_stream(t, s->up[i], item);
        if (rc == ASYNC_PENDING) continue;
        if (rc == 0) {
            s->left--;
            continue;
        }
        s->next = i + 1 >= s->n ? 0 : i + 1;
        return rc;
    }
    return s->left ? ASYNC_PENDING : 0;
}
ASYNC_DEF int async_stream_select_all_init(async_stream_select_all *s, async_stream **up,
                                           size_t n) {
    size_t i;
    if (!s || !up || !n) return ASYNC_EINVAL;
    for (i = 0; i < n; i++)
        if (!up[i] || up[i]->item_size != up[0]->item_size) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__select_all_next, up[0]->item_size);
    s->up = up;
    s->n = n;
    s->next = 0;
    s->left = n;
    for (i = 0; i < n; i++) if (up[i]->ended) s->left--;
    return 0;
}

enum { ASYNC__THROTTLE = 0, ASYNC__TIMEOUT = 1 };
static int async__timed_next(async_task *t, async_stream *st, void *item) {
    async_stream_timed *s = (async_stream_timed *)(void *)st;
    int rc;
    if (ASYNC__CANCELLING(t)) {                 /* both keep their gap's state */
        async__timer_disarm(&s->timer);
        return async__poll_stream(t, s->up, item);
    }
    if (s->mode == ASYNC__THROTTLE) {
        if (s->state) {                         /* keep the gap since the last item */
            rc = async_time_sleep_until(t, &s->timer, async__sat_add(s->last, s->period));
            if (rc != 0) return rc;
            s->state = 0;
        }
        rc = async__poll_stream(t, s->up, item);
        if (rc == ASYNC_ITEM) {
            s->last = async_time_now(t->rt);
            s->state = 1;
        }
        return rc;
    }
    /* timeout (tokio-stream): the item first; each gap's deadline counts from the
       moment the previous item was handed out (the first one's from the first poll),
       kept in `last` (state 2) so that a slow consumer does not push it back. */
    rc = async__poll_stream(t, s->up, item);
    if (rc != ASYNC_PENDING) {
        async__timer_disarm(&s->timer);
        s->state = 0;
        if (rc != 0) {
            s->last = async__deadline_after(t, s->period);
            s->state = 2;
        }
        return rc;
    }
    if (s->state == 1) return rc;               /* reported once for this gap */
    if (s->state == 0) {
        s->last = async__deadline_after(t, s->period);
        s->state = 2;
    }
    if (s->timer.state == ASYNC__TM_IDLE) async__timer_arm(t, &s->timer, s->last);
    if (s->timer.state != ASYNC__TM_FIRED) return rc;
    s->timer.state = ASYNC__TM_IDLE;
    s->state = 1;
    return ASYNC_ETIMEDOUT;                     /* an error item; the stream goes on */
}
static int async__timed_init(async_stream_timed *s, async_stream *up, async_time period, int mode) {
    if (!s || !up || !period) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__timed_next, up->item_size);
    s->up = up;
    s->period = period;
    s->last = 0;
    s->mode = (uint8_t)mode;
    s->state = 0;
    async__memset(&s->timer, 0, sizeof s->timer);
    return 0;
}
ASYNC_DEF int async_stream_throttle_init(async_stream_timed *s, async_stream *up,
                                         async_time period) {
    return async__timed_init(s, up, period, ASYNC__THROTTLE);
}
ASYNC_DEF int async_stream_timeout_init(async_stream_timed *s, async_stream *up,
                                        async_time timeout) {
    return async__timed_init(s, up, timeout, ASYNC__TIMEOUT);
}

/* ---- buffered / buffer_unordered ----------------------------------------------------
   A slot: a 16-byte header {rc, status}, fn's state, the input item, the output. */
#define ASYNC__SLOT_ALIGN(n) ASYNC__ALIGN16(n)
enum { ASYNC__SLOT_FREE = 0, ASYNC__SLOT_RUNNING = 1, ASYNC__SLOT_DONE = 2 };
typedef struct async__slot {
    int rc;
    uint8_t status;
} async__slot;

ASYNC_DEF size_t async_stream_slot_size(size_t state_size, const async_stream *up,
                                        size_t out_size) {
    if (!up) return 0;
    return ASYNC_STREAM_SLOT_SIZE(state_size, up->item_size, out_size);
}
static async__slot *async__slot_at(async_stream_buffered *s, size_t i) {
    return (async__slot *)(void *)(s->slots + i * s->slot_size);
}
static unsigned char *async__slot_state(async_stream_buffered *s, async__slot *sl) {
    (void)s;
    return (unsigned char *)sl + 16;            /* the header: ASYNC_STREAM_SLOT_SIZE's 16 */
}
static unsigned char *async__slot_in(async_stream_buffered *s, async__slot *sl) {
    return async__slot_state(s, sl) + ASYNC__SLOT_ALIGN(s->state_size);
}
static unsigned char *async__slot_out(async_stream_buffered *s, async__slot *sl) {
    return async__slot_in(s, sl) + ASYNC__SLOT_ALIGN(s->up->item_size);
}

static int async__buffered_next(async_task *t, async_stream *st, void *item) {
    async_stream_buffered *s = (async_stream_buffered *)(void *)st;
    size_t i, k;
    int rc;
    if (ASYNC__CANCELLING(t)) {                 /* every call in flight unwinds */
        for (i = 0; i < s->n; i++) {
            async__slot *sl = async__slot_at(s, i);
            if (sl->status == ASYNC__SLOT_RUNNING &&
                async__coro_live((async_coro *)(void *)async__slot_state(s, sl)))
                (void)s->fn(t, async__slot_state(s, sl), async__slot_in(s, sl),
                            async__slot_out(s, sl), s->user);
            sl->status = ASYNC__SLOT_FREE;
        }
        s->count = s->head = 0;
        return async__poll_stream(t, s->up, item);
    }
    while (s->count < s->n && !s->up_done) {    /* start calls, up to n in flight */
        async__slot *sl;
        if (s->ordered) {
            i = s->head + s->count;
            if (i >= s->n) i -= s->n;
        } else {                                /* head: the slot being filled */
            if (async__slot_at(s, s->head)->status != ASYNC__SLOT_FREE)
                for (s->head = 0; async__slot_at(s, s->head)->status != ASYNC__SLOT_FREE;
                     s->head++) {}
            i = s->head;
        }
        sl = async__slot_at(s, i);
        rc = async__poll_stream(t, s->up, async__slot_in(s, sl));
        if (rc == ASYNC_PENDING) break;
        if (rc == 0) {
            s->up_done = 1;
            break;
        }
        if (rc != ASYNC_ITEM) return rc;        /* an upstream error item passes through */
        async__memset(async__slot_state(s, sl), 0, s->state_size);
        sl->status = ASYNC__SLOT_RUNNING;
        s->count++;
    }
    for (i = 0; i < s->n; i++) {                /* drive every call in flight */
        async__slot *sl = async__slot_at(s, i);
        if (sl->status != ASYNC__SLOT_RUNNING) continue;
        rc = s->fn(t, async__slot_state(s, sl), async__slot_in(s, sl), async__slot_out(s, sl),
                   s->user);
        if (rc == ASYNC_PENDING) continue;
        sl->rc = rc;
        sl->status = ASYNC__SLOT_DONE;
    }
    for (k = 0; k < (s->ordered ? 1u : s->n); k++) {   /* in order: only the oldest */
        async__slot *sl;
        if (!s->count) break;
        i = s->ordered ? s->head : k;
        sl = async__slot_at(s, i);
        if (sl->status != ASYNC__SLOT_DONE) continue;
        rc = sl->rc < 0 ? sl->rc : ASYNC_ITEM;
        if (rc == ASYNC_ITEM) async__copy_item(item, async__slot_out(s, sl), st->item_size);
        sl->status = ASYNC__SLOT_FREE;
        s->count--;
        if (s->ordered && ++s->head == s->n) s->head = 0;
        return rc;
    }
    return s->count || !s->up_done ? ASYNC_PENDING : 0;
}
static int async__buffered_init(async_stream_buffered *s, async_stream *up, size_t n,
        size_t item_size, async_stream_async_fn fn, size_t state_size, void *user, void *slots,
        int ordered) {
    size_t i;
    if (!s || !up || !n || !fn || !slots || state_size < sizeof(async_coro)) return ASYNC_EINVAL;
    async__stream_base(&s->base, async__buffered_next, item_size);
    s->up = up;
    s->fn = fn;
    s->user = user;
    s->slots = (unsigned char *)slots;
    s->n = n;
    s->state_size = state_size;
    s->slot_size = async_stream_slot_size(state_size, up, item_size);
    s->head = s->count = 0;
    s->ordered = (uint8_t)ordered;
    s->up_done = 0;
    for (i = 0; i < n; i++) async__slot_at(s, i)->status = ASYNC__SLOT_FREE;
    return 0;
}
ASYNC_DEF int async_stream_buffered_init(async_stream_buffered *s, async_stream *up, size_t n,
        size_t item_size, async_stream_async_fn fn, size_t state_size, void *user, void *slots) {
    return async__buffered_init(s, up, n, item_size, fn, state_size, user, slots, 1);
}
ASYNC_DEF int async_stream_buffer_unordered_init(async_stream_buffered *s, async_stream *up,
        size_t n, size_t item_size, async_stream_async_fn fn, size_t state_size, void *user,
        void *slots) {
    return async__buffered_init(s, up, n, item_size, fn, state_size, user, slots, 0);
}

/* ---- fan-out ------------------------------------------------------------------------
   Outputs read the kept items [head, tail) at their own pace; whoever needs an item
   beyond tail pulls it from up, unless the slowest output is `cap` behind (then it
   waits). Outputs waiting here are woken by every new item, end and release. */
static void async__fanout_head(async_stream_fanout *f) {
    size_t i;
    uint64_t h = f->tail;
    for (i = 0; i < f->n; i++)
        if (f->outs[i].live && f->outs[i].pos < h) h = f->outs[i].pos;
    f->head = h;
}
static int async__fanout_next(async_task *t, async_stream *st, void *item) {
    async_stream_fanout_out *o = (async_stream_fanout_out *)(void *)st;
    async_stream_fanout *f = o->f;
    size_t isz = st->item_size;
    int rc;
    if (async__wait_begin(t, &f->q, &o->w, 1, NULL) < 0) {
        if (o->live && f->puller == o) {        /* up's wake is this task's: drop it */
            f->puller = NULL;
            (void)async__poll_stream(t, f->up, f->ring + f->tail_idx * isz);
            async__wq_ready_all(&f->q, ASYNC__W_READY, 0);  /* another output pulls */
        }
        return ASYNC_ECANCELED;
    }
    if (!o->live) return 0;                     /* released */
    if (o->pos < f->tail) {                     /* kept already */
        if (!async__coop(t)) return ASYNC_PENDING;
        async__copy_item(item, f->ring + o->idx * isz, isz);
        o->pos++;
        if (++o->idx == f->cap) o->idx = 0;
        async__fanout_head(f);
        async__wq_ready_all(&f->q, ASYNC__W_READY, 0);     /* room for the puller */
        return ASYNC_ITEM;
    }
    if (f->up_state == 1) return 0;
    if (f->tail - f->head < f->cap && (!f->puller || f->puller == o)) {
        rc = async__poll_stream(t, f->up, f->ring + f->tail_idx * isz);
        f->puller = rc == ASYNC_PENDING ? o : NULL;
        if (rc == ASYNC_ITEM) {
            f->tail++;
            if (++f->tail_idx == f->cap) f->tail_idx = 0;
            async__wq_ready_all(&f->q, ASYNC__W_READY, 0);
            async__copy_item(item, f->ring + o->idx * isz, isz);
            o->pos++;
            if (++o->idx == f->cap) o->idx = 0;
            async__fanout_head(f);
            return ASYNC_ITEM;
        }
        if (rc == 0) {
            f->up_state = 1;
            async__wq_ready_all(&f->q, ASYNC__W_READY, 0);
            return 0;
        }
        return rc;      /* an error item (to this output only), or up wakes this task */
    }
    async__wq_push(&f->q, &o->w, t);            /* full, or another output pulls */
    return ASYNC_PENDING;
}
ASYNC_DEF int async_stream_fanout_init(async_stream_fanout *f, async_stream *up, void *ring,
                                       size_t cap, async_stream_fanout_out *outs, size_t n) {
    size_t i;
    if (!f || !up || !cap || !outs || !n || (!ring && up->item_size)) return ASYNC_EINVAL;
    async__memset(f, 0, sizeof *f);
    f->up = up;
    f->ring = (unsigned char *)ring;
    f->cap = cap;
    f->n = n;
    f->outs = outs;
    for (i = 0; i < n; i++) {
        async__memset(&outs[i], 0, sizeof outs[i]);
        async__stream_base(&outs[i].base, async__fanout_next, up->item_size);
        outs[i].f = f;
        outs[i].live = 1;
    }
    return 0;
}
/* An output that will not read any more: the others are no longer held back by it. */
ASYNC_DEF int async_stream_fanout_release(async_stream_fanout_out *o) {
    if (!o || !o->f || !o->live) return ASYNC_EINVAL;
    if (o->f->puller == o) return ASYNC_EBUSY;  /* cancel its read first */
    if (o->w.state == ASYNC__W_WAITING) async__wq_unlink(&o->f->q, &o->w);
    o->live = 0;
    async__fanout_head(o->f);
    async__wq_ready_all(&o->f->q, ASYNC__W_READY, 0);
    return 0;
}

/* ---- sinks ----------------------------------------------------------------------------
   They consume every ready item within one poll (the sources spend the budget, so a
   long ready stream still yields). Error items are counted and skipped, or end the
   sink at once with k->stop_on_error (as futures' try_fold). */
static int async__sink_error(async_stream_sink *k, int rc) {
    if (k->stop_on_error) return 1;
    k->errors++;
    (void)rc;
    return 0;
}

ASYNC_DEF int async_stream_fold(async_task *t, async_stream *s, async_stream_sink *k, void *acc,
        int (*fn)(void *acc, const void *item, void *user), void *user, void *scratch) {
    int rc;
    if (!t || !s || !k || !fn || (!scratch && s->item_size)) return ASYNC_EINVAL;
    for (;;) {
        rc = async__poll_stream(t, s, scratch);
        if (rc == ASYNC_ITEM) {
            k->count++;
            rc = fn(acc, scratch, user);
            if (rc < 0) return rc;              /* fn stops it */
            continue;
        }
        if (rc >= 0 || rc == ASYNC_PENDING || rc == ASYNC_ECANCELED) return rc;
        if (async__sink_error(k, rc)) return rc;
    }
}

ASYNC_DEF int async_stream_for_each(async_task *t, async_stream *s, async_stream_sink *k,
        int (*fn)(const void *item, void *user), void *user, void *scratch) {
    int rc;
    if (!t || !s || !k || !fn || (!scratch && s->item_size)) return ASYNC_EINVAL;
    for (;;) {
        rc = async__poll_stream(t, s, scratch);
        if (rc == ASYNC_ITEM) {
            k->count++;
            rc = fn(scratch, user);
            if (rc < 0) return rc;
            continue;
        }
        if (rc >= 0 || rc == ASYNC_PENDING || rc == ASYNC_ECANCELED) return rc;
        if (async__sink_error(k, rc)) return rc;
    }
}

ASYNC_DEF int async_stream_count_items(async_task *t, async_stream *s, async_stream_sink *k,
                                       void *scratch) {
    int rc;
    if (!t || !s || !k || (!scratch && s->item_size)) return ASYNC_EINVAL;
    for (;;) {
        rc = async__poll_stream(t, s, scratch);
        if (rc == ASYNC_ITEM) {
            k->count++;
            continue;
        }
        if (rc >= 0 || rc == ASYNC_PENDING || rc == ASYNC_ECANCELED) return rc;
        if (async__sink_error(k, rc)) return rc;
    }
}

/* Into buf (cap items): 0 at the end; ASYNC_ELIMIT once cap items are in (the
   stream is not read beyond them). */
ASYNC_DEF int async_stream_collect(async_task *t, async_stream *s, async_stream_sink *k,
                                   void *buf, size_t cap) {
    int rc;
    if (!t || !s || !k || (!buf && cap && s->item_size)) return ASYNC_EINVAL;
    for (;;) {
        if (k->count == cap)                    /* nothing is waited on then */
            return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : ASYNC_ELIMIT;
        rc = async__poll_stream(t, s, s->item_size ? (unsigned char *)buf +
                                                     k->count * s->item_size : buf);
        if (rc == ASYNC_ITEM) {
            k->count++;
            continue;
        }
        if (rc >= 0 || rc == ASYNC_PENDING || rc == ASYNC_ECANCELED) return rc;
        if (async__sink_error(k, rc)) return rc;
    }
}

/* Into an array from ASYNC_MALLOC that doubles as it fills (*buf, k->count items;
   free it with ASYNC_FREE): 0 at the end, ASYNC_ELIMIT at `limit` items, ASYNC_ENOMEM
   (what was collected is kept). */
ASYNC_DEF int async_stream_collect_alloc(async_task *t, async_stream *s, async_stream_sink *k,
                                         void **buf, size_t limit) {
    int rc;
    size_t isz;
    if (!t || !s || !k || !buf) return ASYNC_EINVAL;
    isz = s->item_size ? s->item_size : 1;
    if (!k->started) {
        *buf = NULL;
        k->started = 1;
    }
    for (;;) {
        if (k->count == limit)
            return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : ASYNC_ELIMIT;
        if (!ASYNC__CANCELLING(t) && (!*buf || k->count == k->room)) {
            size_t want = *buf ? k->room * 2 : 8;   /* grown only between items */
            unsigned char *nb;
            if (want > limit) want = limit;
            nb = (unsigned char *)async__alloc(async__array_size(isz, want));
            if (!nb) return ASYNC_ENOMEM;
            if (*buf) {
                async__memcpy(nb, *buf, k->count * isz);
                async__dealloc(*buf);
            }
            *buf = nb;
            k->room = want;
        }
        rc = async__poll_stream(t, s, (unsigned char *)*buf + k->count * isz);
        if (rc == ASYNC_ITEM) {
            k->count++;
            continue;
        }
        if (rc >= 0 || rc == ASYNC_PENDING || rc == ASYNC_ECANCELED) return rc;
        if (async__sink_error(k, rc)) return rc;
    }
}

/* Run b (a buffer_unordered stream: its fn is the work) to the end, up to n calls at
   once; the outputs are dropped (scratch: room for one). */
ASYNC_DEF int async_stream_for_each_concurrent(async_task *t, async_stream_buffered *b,
                                               async_stream_sink *k, void *scratch) {
    if (!b) return ASYNC_EINVAL;
    return async_stream_count_items(t, &b->base, k, scratch);
}

////////////////////////////////////////////////////////////////////////////////
// >>io

#if !defined(ASYNC_FREESTANDING) && defined(ASYNC__WIN32)
#include <signal.h>
/* Windows: the reactor's descriptors are Winsock sockets, a SOCKET passed as an int
   (see the manual, WINDOWS). Inside this block (and #undef'd at its end) the POSIX
   calls it makes are these wrappers: each sets errno from WSAGetLastError, so the
   code and its error codes are the POSIX ones. */
/* (these names are #undef'd again at the block's end) */
#define SHUT_RD SD_RECEIVE
#define SHUT_WR SD_SEND
#define SHUT_RDWR SD_BOTH
#define MSG_NOSIGNAL 0
#define F_GETFL 3
#define F_SETFL 4
#define F_SETFD 2
#define FD_CLOEXEC 1
#define O_NONBLOCK 04000
#if defined(_MSC_VER) && !defined(ssize_t)
#define ssize_t ptrdiff_t
#define ASYNC__SSIZE_T_DEFINED
#endif
#define nfds_t ULONG

/* A Winsock error as an errno value (the C library has no such mapping). */
static int async__wsa_errno(int e) {
    switch (e) {
    case WSAEWOULDBLOCK: return EAGAIN;
    case WSAEINPROGRESS: case WSAEALREADY: return EALREADY;
    case WSAEINTR: return EINTR;
    case WSAEBADF: case WSAENOTSOCK: return e == WSAEBADF ? EBADF : ENOTSOCK;
    case WSAEACCES: return EACCES;
    case WSAEFAULT: return EFAULT;
    case WSAEINVAL: return EINVAL;
    case WSAEMFILE: return EMFILE;
    case WSAEDESTADDRREQ: return EDESTADDRREQ;
    case WSAEMSGSIZE: return EMSGSIZE;
    case WSAEPROTOTYPE: return EPROTOTYPE;
    case WSAENOPROTOOPT: return ENOPROTOOPT;
    case WSAEPROTONOSUPPORT: case WSAESOCKTNOSUPPORT: return EPROTONOSUPPORT;
    case WSAEOPNOTSUPP: return EOPNOTSUPP;
    case WSAEPFNOSUPPORT: case WSAEAFNOSUPPORT: return EAFNOSUPPORT;
    case WSAEADDRINUSE: return EADDRINUSE;
    case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
    case WSAENETDOWN: return ENETDOWN;
    case WSAENETUNREACH: return ENETUNREACH;
    case WSAENETRESET: return ENETRESET;
    case WSAECONNABORTED: return ECONNABORTED;
    case WSAECONNRESET: return ECONNRESET;
    case WSAENOBUFS: return ENOBUFS;
    case WSAEISCONN: return EISCONN;
    case WSAENOTCONN: return ENOTCONN;
    case WSAESHUTDOWN: return EPIPE;
    case WSAETIMEDOUT: return ETIMEDOUT;
    case WSAECONNREFUSED: return ECONNREFUSED;
    case WSAEHOSTDOWN: case WSAEHOSTUNREACH: return EHOSTUNREACH;
    case WSAENAMETOOLONG: return ENAMETOOLONG;
    case WSANOTINITIALISED: case WSASYSNOTREADY: case WSAVERNOTSUPPORTED: return ENOSYS;
    default: return EIO;
    }
}
/* Winsock said SOCKET_ERROR: errno set, -1 */
static int async__wsa_fail(void) {
    errno = async__wsa_errno(WSAGetLastError());
    return -1;
}
static int async__wsa_rc(int r) {
    return r == SOCKET_ERROR ? async__wsa_fail() : r;
}
static int async__w_socket(int family, int type, int proto) {
    SOCKET s;
    if (async__wsa_ready() < 0) {
        errno = ENOSYS;
        return -1;
    }
    s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) return async__wsa_fail();
    if ((uintptr_t)s > (uintptr_t)INT_MAX) {        /* never seen: handles are small */
        closesocket(s);
        errno = EMFILE;
        return -1;
    }
    return (int)s;
}
static int async__w_accept(int fd, struct sockaddr *a, int *len) {
    SOCKET s = accept((SOCKET)fd, a, len);
    if (s == INVALID_SOCKET) return async__wsa_fail();
    if ((uintptr_t)s > (uintptr_t)INT_MAX) {
        closesocket(s);
        errno = EMFILE;
        return -1;
    }
    return (int)s;
}
/* A non-blocking connect that has started says WSAEWOULDBLOCK: EINPROGRESS */
static int async__w_connect(int fd, const struct sockaddr *a, int len) {
    if (connect((SOCKET)fd, a, len) == 0) return 0;
    if (WSAGetLastError() == WSAEWOULDBLOCK) {
        errno = EINPROGRESS;
        return -1;
    }
    return async__wsa_fail();
}
/* Only sockets: F_GETFL says ENOTSOCK for anything else (Winsock cannot tell a
   socket's blocking mode: assumed blocking, the default). */
static int async__w_fcntl(int fd, int cmd, int arg) {
    int type = 0, tl = (int)sizeof type;
    u_long on = (arg & O_NONBLOCK) != 0;
    if (cmd == F_GETFL)
        return getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type, &tl) == 0 ? 0
               : async__wsa_fail();
    if (cmd == F_SETFL) return async__wsa_rc(ioctlsocket((SOCKET)fd, FIONBIO, &on));
    if (cmd == F_SETFD) {               /* made so already; an accepted one: try */
        (void)SetHandleInformation((HANDLE)(uintptr_t)fd, HANDLE_FLAG_INHERIT, 0);
        return 0;
    }
    errno = EINVAL;
    return -1;
}
/* Not a socket (closed already): EBADF, as close(2) */
static int async__w_close(int fd) {
    if (closesocket((SOCKET)fd) == 0) return 0;
    if (WSAGetLastError() == WSAENOTSOCK) {
        errno = EBADF;
        return -1;
    }
    return async__wsa_fail();
}
/* After our own shutdown of reading, end of file (as Linux), not WSAESHUTDOWN */
static int async__w_recv(int fd, void *b, size_t n) {
    int r = recv((SOCKET)fd, (char *)b, (int)n, 0);
    if (r == SOCKET_ERROR && WSAGetLastError() == WSAESHUTDOWN) return 0;
    return async__wsa_rc(r);
}
/* To an address of another family than the socket's: EAFNOSUPPORT, as Linux */
static int async__w_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *a,
                           int al) {
    struct sockaddr_storage me;
    int ml = (int)sizeof me;
    if (sendto((SOCKET)fd, (const char *)b, (int)n, fl, a, al) != SOCKET_ERROR) return (int)n;
    if (getsockname((SOCKET)fd, (struct sockaddr *)&me, &ml) == 0 &&
        me.ss_family != a->sa_family) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return async__wsa_fail();
}
/* SO_ERROR holds a Winsock code: as errno */
static int async__w_getsockopt(int fd, int level, int name, void *v, int *len) {
    if (getsockopt((SOCKET)fd, level, name, (char *)v, len) != 0) return async__wsa_fail();
    if (level == SOL_SOCKET && name == SO_ERROR && *(int *)v > 0)
        *(int *)v = async__wsa_errno(*(int *)v);
    return 0;
}
/* A datagram longer than the buffer: cut to it, as recvfrom(2), not WSAEMSGSIZE */
static int async__w_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *a, int *al) {
    int r = recvfrom((SOCKET)fd, (char *)b, (int)n, fl, a, al);
    if (r == SOCKET_ERROR && WSAGetLastError() == WSAEMSGSIZE) return (int)n;
    return async__wsa_rc(r);
}
/* async_io_pipe: a connected loopback TCP pair (Windows pipes have no readiness); the
   accepted end is checked to be our own connection. 0, or -1 with errno. */
static int async__w_sockpair(int fds[2]) {
    struct sockaddr_in a, b, c;
    int l, x = -1, y = -1, len = (int)sizeof a, bl = (int)sizeof b, cl = (int)sizeof c, e;
    if ((l = async__w_socket(AF_INET, SOCK_STREAM, 0)) < 0) return -1;
    async__memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind((SOCKET)l, (struct sockaddr *)&a, len) == 0 &&
        getsockname((SOCKET)l, (struct sockaddr *)&a, &len) == 0 &&
        listen((SOCKET)l, 1) == 0 && (x = async__w_socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
        connect((SOCKET)x, (struct sockaddr *)&a, len) == 0 &&
        (y = async__w_accept(l, (struct sockaddr *)&b, &bl)) >= 0 &&
        getsockname((SOCKET)x, (struct sockaddr *)&c, &cl) == 0 &&
        b.sin_port == c.sin_port && b.sin_addr.s_addr == c.sin_addr.s_addr) {
        closesocket((SOCKET)l);
        fds[0] = y;
        fds[1] = x;
        return 0;
    }
    e = WSAGetLastError();
    closesocket((SOCKET)l);
    if (x >= 0) closesocket((SOCKET)x);
    if (y >= 0) closesocket((SOCKET)y);
    errno = e ? async__wsa_errno(e) : ECONNREFUSED;
    return -1;
}
#define socket(f, t, p) async__w_socket((f), (t), (p))
#define accept(fd, a, l) async__w_accept((fd), (a), (l))
#define connect(fd, a, l) async__w_connect((fd), (a), (l))
#define fcntl(...) ASYNC__FCNTL(__VA_ARGS__, 0, 0)
#define ASYNC__FCNTL(fd, cmd, arg, ...) async__w_fcntl((fd), (cmd), (arg))
#define close(fd) async__w_close(fd)
#define read(fd, b, n) async__w_recv((fd), (b), (n))
#define write(fd, b, n) async__wsa_rc(send((SOCKET)(fd), (const char *)(b), (int)(n), 0))
#define send(fd, b, n, f) async__wsa_rc(send((SOCKET)(fd), (const char *)(b), (int)(n), (f)))
#define recvfrom(fd, b, n, f, a, l) async__w_recvfrom((fd), (b), (n), (f), (a), (l))
#define sendto(fd, b, n, f, a, l) async__w_sendto((fd), (b), (n), (f), (a), (l))
#define bind(fd, a, l) async__wsa_rc(bind((SOCKET)(fd), (a), (l)))
#define listen(fd, n) async__wsa_rc(listen((SOCKET)(fd), (n)))
#define shutdown(fd, h) async__wsa_rc(shutdown((SOCKET)(fd), (h)))
#define getsockname(fd, a, l) async__wsa_rc(getsockname((SOCKET)(fd), (a), (l)))
#define getpeername(fd, a, l) async__wsa_rc(getpeername((SOCKET)(fd), (a), (l)))
#define getsockopt(fd, lv, n, v, l) async__w_getsockopt((fd), (lv), (n), (v), (l))
#define setsockopt(fd, lv, n, v, l) \
    async__wsa_rc(setsockopt((SOCKET)(fd), (lv), (n), (const char *)(v), (l)))
#endif

#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC__WIN32)
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#if defined(ASYNC__LINUX) && !defined(_GNU_SOURCE)
/* In glibc and musl, but declared only with _GNU_SOURCE. */
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
#endif
/* A send that never raises SIGPIPE: MSG_NOSIGNAL (Linux, the BSDs); macOS has
   SO_NOSIGPIPE on the socket instead (async__nosigpipe); with neither, SIGPIPE is
   ignored process-wide when it is at its default (async__reactor_start). */
#ifndef ASYNC_POSIX_ONLY
#ifdef MSG_NOSIGNAL
#define ASYNC__NOSIGNAL MSG_NOSIGNAL
#endif
/* Sockets made non-blocking and close-on-exec in one call (Linux, the BSDs) */
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define ASYNC__SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#endif
#endif
/* SO_REUSEPORT spreads connections over the listeners on Linux and on FreeBSD as
   SO_REUSEPORT_LB; on macOS and the other BSDs it lets them share the port but one
   takes the connections (the manual: CONFIGURATION, OTHER POSIX SYSTEMS). */
#if defined(SO_REUSEPORT_LB)
#define ASYNC__SO_REUSEPORT SO_REUSEPORT_LB
#elif defined(SO_REUSEPORT)
#define ASYNC__SO_REUSEPORT SO_REUSEPORT
#elif defined(ASYNC__LINUX) /* glibc hides it under a strict _POSIX_C_SOURCE of yours */
#if defined(__alpha__) || defined(__mips__) || defined(__sparc__)
#define ASYNC__SO_REUSEPORT 0x0200
#elif defined(__hppa__)
#define ASYNC__SO_REUSEPORT 0x0404
#else
#define ASYNC__SO_REUSEPORT 15
#endif
#endif
#endif /* POSIX */
#ifndef ASYNC__NOSIGNAL
#define ASYNC__NOSIGNAL 0               /* Windows has no SIGPIPE; macOS: SO_NOSIGPIPE */
#endif

#ifndef ASYNC_FREESTANDING

enum { ASYNC__IO_REG = 1, ASYNC__IO_MADE_NONBLOCK = 2, ASYNC__IO_CONNECTING = 4,
       ASYNC__IO_NOT_SOCK = 8, ASYNC__IO_STREAM = 16,
       ASYNC__IO_URX = 32,              /* io_uring: its bytes arrive through the ring */
       ASYNC__IO_RD = 64,               /* read by async_io_read (not by the user's own) */
       ASYNC__IO_URING = 128 };         /* registered with an io_uring reactor */
/* In io->ready beside ASYNC_IO_READ and ASYNC_IO_WRITE: the peer hung up (or an
   error is pending). Kept until the io is closed: after it a short read does
   not mean drained, and an edge-triggered backend sends no second event. */
enum { ASYNC__IO_HUP = 4 };
#ifndef ASYNC__WIN32
static int async__sigpipe_ignored;      /* the reactor set SIGPIPE to SIG_IGN */
#endif

/* macOS: a socket written after its peer left raises SIGPIPE unless told not to
   (there is no MSG_NOSIGNAL); set on each socket made, accepted or registered. */
static void async__nosigpipe(int fd) {
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

typedef char async__addr_fits[sizeof(struct sockaddr_storage) <= sizeof(((async_addr *)0)->u)
                              ? 1 : -1];

/* ---- the backend: what the reactor waits with --------------------------------------

   The contract (as Redis's ae_epoll.c / ae_select.c). Each backend is one block below
   that defines these functions; the reactor after it calls nothing else of the
   backend and has no #ifdef of its own, so a new backend (kqueue, Windows) is one more
   block. Where a system has one backend (Windows, the strict POSIX build), its block
   defines these names and nothing dispatches. On Linux (ASYNC__BE_MULTI) the poll,
   epoll and io_uring blocks are all compiled, each under its own prefix
   (async__poll_be_add, async__epoll_be_add, async__uring_be_add: a macro renames the
   names below while a block is compiled), and the names below are dispatchers that
   switch on the reactor's be_kind, chosen at the first resize (desc.backend,
   $ASYNC_BACKEND, the build's); be_init may change it (io_uring refused: epoll, the
   refusal kept in be_refused). On the hot path nothing switches: the reactor's wait
   pointer is the kind's own wait, and be_mod calls be_modf (NULL for epoll, which
   has nothing to do there). Its state lives in the reactor (async__reactor):
   be_slots (its per-slot storage, parallel to ios[]; io_uring: its ring and tokens),
   be_fd (its own descriptor; 0: none yet) and be_wake (the wake descriptor is
   watched).

     async__be_name()             what async_runtime_io_backend answers: "poll", "epoll"
     async__be_init(r)            at the first registration, after the first
                                  async__be_resize: 0, or -errno (then async__be_fini
                                  follows)
     async__be_fini(r)            at runtime destroy (or a failed init): release what
                                  init and resize made
     async__be_resize(r, cap)     the table grows to cap slots, r->n in use: per-slot
                                  storage follows; 0, or ASYNC_ENOMEM with nothing changed
     async__be_add(r, io)         start watching io->fd (non-blocking already), which
                                  takes slot io->slot == r->n; 0, or -errno (EPERM:
                                  epoll refuses regular files) and the io is not added
     async__be_mod(r, io)         io->interest (the directions tasks wait for) changed;
                                  called on the hot path: a backend watching both
                                  directions all along (edge-triggered) does nothing
     async__be_move(r, dst, src)  the registration of src is now dst (async_io_move);
                                  0, or -errno with nothing changed
     async__be_del(r, io)         stop watching io (its descriptor still open); then the
                                  reactor moves slot r->n - 1 into io->slot: per-slot
                                  storage follows it
     async__be_wait(rt, wait)     wait at most `wait` (ASYNC_TIME_NEVER: no bound; 0:
                                  just look) and call async__io_event(rt, io, dirs) for
                                  each io found ready (dirs: ASYNC_IO_READ, ASYNC_IO_WRITE,
                                  ASYNC__IO_HUP for a hang-up or error). A wake-up
                                  (rt->wake_fd[0] readable, when >= 0) must end the wait:
                                  the core drains it. Returns 1 if anything may have
                                  become ready. A wait that fails (EINTR, ENOMEM) just
                                  turns the loop again (0), except the look without
                                  waiting that comes before the paused clock jumps to the
                                  next timer: it retries EINTR and returns 1 on another
                                  failure, so that the clock never jumps past I/O that was
                                  ready.
     async__be_host_fd(rt)        the descriptor a host loop waits on (>>embed), made at
                                  the first call (the reactor and the wake descriptor
                                  exist then): readable for the host (level-triggered)
                                  while async__be_wait would find something or the wake
                                  descriptor is readable, and so until a wait takes it
                                  (async_runtime_step then waits, without waiting, at
                                  every turn); -errno, or -ENOSYS if the backend has none

   Every system call goes through ASYNC__FAULT with its kind (ASYNC_SYS_WAIT for the wait,
   ASYNC_SYS_CTL for a change of the watched set, ASYNC_SYS_SOCKET for a descriptor it
   creates), so the fault modes shake a new backend too; an edge-triggered one also joins
   ASYNC_USE_EPOLL in ASYNC__LT_AGAIN's condition (>>faults), or, chosen at run time,
   sets async__backend_edge (the fault layer then drops an injected EAGAIN where readiness
   said ready). Readiness stays in io->ready until an operation meets EAGAIN, so an
   edge that comes once is enough.

   kqueue (macOS, the BSDs) has no block yet: no such system runs the tests here, and
   an untested backend is worse than poll(2), which they all have (the strict POSIX
   build proves that path: CONFIGURATION, OTHER POSIX SYSTEMS). What it would take,
   as one block beside epoll's (ASYNC_USE_KQUEUE, #error elsewhere):
     be_init      kqueue(), then FD_CLOEXEC by fcntl (macOS has no kqueue1); a
                  kqueue is not inherited by a child (fork): nothing to undo there
     be_add       two changes in one kevent() call: EVFILT_READ and EVFILT_WRITE,
                  each EV_ADD | EV_CLEAR (edge-triggered, as EPOLLET: readiness
                  stays in io->ready until EAGAIN, so one edge is enough), udata the
                  io. Regular files are always readable for EVFILT_READ (epoll
                  refuses them); macOS refuses ttys and some devices: return that
                  -errno, as epoll's EPERM, and the io is not added
     be_mod       nothing: both directions are watched from the start
     be_move      EV_ADD of both filters again with udata dst (an existing
                  filter's udata is replaced)
     be_del       EV_DELETE of both filters (ENOENT ignored)
     be_wait      kevent(kq, NULL, 0, ev, 128, timeout): a timespec from wait, NULL
                  for ASYNC_TIME_NEVER. One event per filter: EVFILT_READ ->
                  ASYNC_IO_READ, EVFILT_WRITE -> ASYNC_IO_WRITE, EV_EOF (the peer
                  shut down; data may remain: read on until 0) or EV_ERROR -> also
                  ASYNC__IO_HUP. EINTR and failures as the contract says
     the wake     the pipe of async__wake_fd_make as EVFILT_READ with udata NULL,
                  added once as epoll adds its wake descriptor (the core drains it);
                  or EVFILT_USER with NOTE_TRIGGER from async__rt_signal (no
                  descriptor, no drain; kevent may be called from any thread), but
                  the idle path without a reactor waits on wake_fd[0] too
     signals      unchanged: the handler's self-pipe works with any backend.
                  EVFILT_SIGNAL and EVFILT_PROC (NOTE_EXIT) could watch signals
                  and children without a handler, but per kqueue (one runtime) and
                  beside the handler the other runtimes need: not worth it first
     the faults   ASYNC_SYS_SOCKET for kqueue(), ASYNC_SYS_CTL for each change,
                  ASYNC_SYS_WAIT for the wait; add ASYNC_USE_KQUEUE to
                  ASYNC__LT_AGAIN's condition (edge-triggered)
   What would need testing on a BSD and on macOS: the suites as test_io-epoll runs
   (test_io-kqueue, and under ASYNC_TEST_FAULTS=sys), the servers' tests (half-close,
   EOF with data unread, 10,000 idle connections, the accept fail shim: it wraps
   accept there), a wake from another thread while kevent waits, a descriptor closed
   and its number reused before be_del (kqueue forgets it at close: be_del must not
   fail loudly), pipes and ttys on macOS, and the backend contract check
   (tests/compile/backend_contract.sh). */

static int async__io_wait_ms(async_time wait) {
    return wait == ASYNC_TIME_NEVER ? -1
         : wait >= ASYNC_MS(INT_MAX) ? INT_MAX
         : (int)((wait + ASYNC_MS(1) - 1) / ASYNC_MS(1));     /* round up: never early */
}

static ASYNC__HOT void async__io_event(async_runtime *rt, async_io *io, int dirs);
static void async__io_unwait(async_io *io, async_waitq *q, int dir);

/* A wait found the wake descriptor readable. The flag (rt->pending) is the truth and the
   descriptor only its doorbell: a wake that rang after the loop had taken the flag (and
   drained) leaves it readable with nothing pending, and every wait, the host's too,
   would end at once until the next wake. Drained here then; with a wake pending, the
   core drains it when it takes the flag. */
ASYNC__COLD static void async__wake_fd_stale(async_runtime *rt) {
    char buf[64];
    if (!ASYNC__LOAD(&rt->pending))
        while (async__wake_read(rt->wake_fd[0], buf, sizeof buf) > 0) {}
}

/* Linux compiles every block: each defines its functions under its own prefix
   (async__epoll_be_add...) and the reactor calls dispatchers that switch on the
   reactor's kind (after the blocks). Elsewhere the one block of the build defines the
   contract's names itself: no dispatch. */
#ifdef ASYNC__LINUX
#define ASYNC__BE_MULTI 1
#define ASYNC__BE_P3(p, x) p##_##x
#define ASYNC__BE_P2(p, x) ASYNC__BE_P3(p, x)
#define async__be_name ASYNC__BE_P2(ASYNC__BE_PREFIX, name)
#define async__be_init ASYNC__BE_P2(ASYNC__BE_PREFIX, init)
#define async__be_fini ASYNC__BE_P2(ASYNC__BE_PREFIX, fini)
#define async__be_resize ASYNC__BE_P2(ASYNC__BE_PREFIX, resize)
#define async__be_add ASYNC__BE_P2(ASYNC__BE_PREFIX, add)
#define async__be_mod ASYNC__BE_P2(ASYNC__BE_PREFIX, mod)
#define async__be_move ASYNC__BE_P2(ASYNC__BE_PREFIX, move)
#define async__be_del ASYNC__BE_P2(ASYNC__BE_PREFIX, del)
#define async__be_wait ASYNC__BE_P2(ASYNC__BE_PREFIX, wait)
#define async__be_host_fd ASYNC__BE_P2(ASYNC__BE_PREFIX, host_fd)
#define ASYNC__BE_PREFIX async__epoll_be
#endif

#if defined(ASYNC_USE_EPOLL) || defined(ASYNC__BE_MULTI)
/* epoll: edge-triggered, each descriptor added once for both directions, its io as the
   event's data (the wake descriptor: NULL). */
#ifndef ASYNC__LINUX
#error "async.h: ASYNC_USE_EPOLL needs Linux (and not ASYNC_POSIX_ONLY)"
#endif
#include <sys/epoll.h>

#ifndef ASYNC__BE_MULTI
#define ASYNC__BE_SLOT 0                /* per-slot storage: none (poll's, when both) */
#endif

static const char *async__be_name(void) {
    return "epoll";
}

static int async__be_init(async__reactor *r) {
    r->be_fd = ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL) ? -1 : epoll_create1(EPOLL_CLOEXEC);
    return r->be_fd < 0 ? -errno : 0;
}

static void async__be_fini(async__reactor *r) {
    if (r->be_fd > 0) close(r->be_fd);
}

static int async__be_resize(async__reactor *r, uint32_t cap) {
    (void)r; (void)cap;
    return 0;
}

static int async__epoll_ctl(async__reactor *r, int op, int fd, async_io *io) {
    struct epoll_event e;
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.ptr = io;
    if (ASYNC__FAULT(ASYNC_SYS_CTL, fd, NULL) || epoll_ctl(r->be_fd, op, fd, &e) < 0)
        return -errno;
    return 0;
}

static int async__be_add(async__reactor *r, async_io *io) {
    return async__epoll_ctl(r, EPOLL_CTL_ADD, io->fd, io);
}

static void async__be_mod(async__reactor *r, async_io *io) {
    (void)r; (void)io;                  /* watched in both directions all along */
}

static int async__be_move(async__reactor *r, async_io *dst, async_io *src) {
    return async__epoll_ctl(r, EPOLL_CTL_MOD, src->fd, dst);
}

static void async__be_del(async__reactor *r, async_io *io) {
    (void)epoll_ctl(r->be_fd, EPOLL_CTL_DEL, io->fd, NULL);
}

static int async__be_wait(async_runtime *rt, async_time wait) {
    async__reactor *r = &rt->io;
    struct epoll_event ev[128];
    int i, n;
    if (rt->wake_fd[0] >= 0 && !r->be_wake) {
        struct epoll_event e;
        e.events = EPOLLIN;
        e.data.ptr = NULL;
        if (!ASYNC__FAULT(ASYNC_SYS_CTL, rt->wake_fd[0], NULL) &&
            epoll_ctl(r->be_fd, EPOLL_CTL_ADD, rt->wake_fd[0], &e) == 0)
            r->be_wake = 1;
        /* Not watched (ENOMEM, ENOSPC): a wake from another thread could not end the
           wait, so wait 1 ms at most and try again then. */
        else if (wait > ASYNC_MS(1)) wait = ASYNC_MS(1);
    }
    do n = ASYNC__FAULT(ASYNC_SYS_WAIT, async__io_wait_ms(wait), NULL) ? -1 :
           epoll_wait(r->be_fd, ev, (int)(sizeof ev / sizeof ev[0]), async__io_wait_ms(wait));
    while (n < 0 && errno == EINTR && wait == 0);
    if (n < 0) return wait == 0;        /* see the contract */
    for (i = 0; i < n; i++) {
        uint32_t e = ev[i].events;
        if (!ev[i].data.ptr) {          /* the wake descriptor */
            async__wake_fd_stale(rt);
            continue;
        }
        async__io_event(rt, (async_io *)ev[i].data.ptr,
            ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? (int)ASYNC_IO_READ : 0) |
            ((e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ? (int)ASYNC_IO_WRITE : 0) |
            ((e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? (int)ASYNC__IO_HUP : 0));
    }
    return n > 0;
}

/* The epoll set itself, with the wake descriptor in it (level-triggered: readable until
   drained). Events of the others, edge-triggered, stay queued until a wait takes them. */
static int async__be_host_fd(async_runtime *rt) {
    async__reactor *r = &rt->io;
    if (!r->be_wake) {
        struct epoll_event e;
        e.events = EPOLLIN;
        e.data.ptr = NULL;
        if (ASYNC__FAULT(ASYNC_SYS_CTL, rt->wake_fd[0], NULL) ||
            epoll_ctl(r->be_fd, EPOLL_CTL_ADD, rt->wake_fd[0], &e) < 0)
            return -errno;
        r->be_wake = 1;
    }
    return r->be_fd;
}
#endif

#if defined(ASYNC__WIN32)
/* WSAPoll (Windows): level-triggered like poll(2), but it takes no "skip me" entry (a
   negative descriptor is an error on Windows before 10 2004 and under Wine), so each
   wait packs the sockets that have a task waiting, and the wake socket, into be_slots:
   WSAPOLLFDs, then the slot each came from. Nothing to wait on: Sleep. The defect
   WSAPoll is known for (a refused connect never reported, before Windows 10 2004)
   leaves such a connect to its timeout there; Wine reports it (POLLERR). */
#define ASYNC__WSA_SLOT(r) ((uint32_t *)(void *)((WSAPOLLFD *)(r)->be_slots + (r)->cap))

#define ASYNC__BE_SLOT (sizeof(WSAPOLLFD) + sizeof(uint32_t))

static const char *async__be_name(void) {
    return "wsapoll";
}

static int async__be_init(async__reactor *r) {
    (void)r;
    return 0;
}

static void async__be_fini(async__reactor *r) {
    async__dealloc(r->be_slots);
}

static int async__be_resize(async__reactor *r, uint32_t cap) {
    void *p = async__alloc(cap * (sizeof(WSAPOLLFD) + sizeof(uint32_t)));
    if (!p) return ASYNC_ENOMEM;
    async__dealloc(r->be_slots);        /* rebuilt at each wait: nothing to copy */
    r->be_slots = p;
    return 0;
}

static int async__be_add(async__reactor *r, async_io *io) {
    (void)r; (void)io;
    return 0;
}

static void async__be_mod(async__reactor *r, async_io *io) {
    (void)r; (void)io;                  /* io->interest is read at each wait */
}

static int async__be_move(async__reactor *r, async_io *dst, async_io *src) {
    (void)r; (void)dst; (void)src;
    return 0;
}

static void async__be_del(async__reactor *r, async_io *io) {
    (void)r; (void)io;
}

/* No set a host loop could wait on (WSAPoll keeps none): EMBEDDING says so. */
static int async__be_host_fd(async_runtime *rt) {
    (void)rt;
    return ASYNC_ENOSYS;
}

static int async__be_wait(async_runtime *rt, async_time wait) {
    async__reactor *r = &rt->io;
    WSAPOLLFD *p = (WSAPOLLFD *)r->be_slots;
    uint32_t *slot = ASYNC__WSA_SLOT(r), i, k = 0;
    int n, ms = async__io_wait_ms(wait);
    if (rt->wake_fd[0] >= 0) {
        p[k].fd = (SOCKET)rt->wake_fd[0];
        p[k].events = POLLRDNORM;
        p[k].revents = 0;
        slot[k++] = 0;
    }
    for (i = 1; i < r->n; i++) {
        async_io *io = r->ios[i];
        if (!io->interest) continue;
        p[k].fd = (SOCKET)io->fd;
        p[k].events = (short)(((io->interest & ASYNC_IO_READ) ? POLLRDNORM : 0) |
                              ((io->interest & ASYNC_IO_WRITE) ? POLLWRNORM : 0));
        p[k].revents = 0;
        slot[k++] = i;
    }
    if (ASYNC__FAULT(ASYNC_SYS_WAIT, ms, NULL)) return wait == 0;
    if (!k) {
        if (ms) Sleep(ms < 0 ? INFINITE : (DWORD)ms);
        return 0;
    }
    n = WSAPoll(p, k, ms);
    if (n < 0) return wait == 0;        /* see the contract */
    if (n == 0) return 0;
    for (i = 0; i < k; i++) {
        short re = p[i].revents;
        if (re && !slot[i] && rt->wake_fd[0] >= 0) async__wake_fd_stale(rt);
        if (!re || !slot[i]) continue;  /* the wake socket: collected by the core */
        async__io_event(rt, r->ios[slot[i]],
            ((re & (POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR | POLLNVAL))
                ? (int)ASYNC_IO_READ : 0) |
            ((re & (POLLWRNORM | POLLHUP | POLLERR | POLLNVAL)) ? (int)ASYNC_IO_WRITE : 0) |
            ((re & (POLLHUP | POLLERR | POLLNVAL)) ? (int)ASYNC__IO_HUP : 0));
    }
    return 1;
}

#elif !defined(ASYNC_USE_EPOLL) || defined(ASYNC__BE_MULTI)
#ifdef ASYNC__BE_MULTI
#undef ASYNC__BE_PREFIX
#define ASYNC__BE_PREFIX async__poll_be
#endif
/* poll(2): level-triggered; be_slots is a struct pollfd per slot (slot 0: the wake
   descriptor), and a descriptor is watched only in the directions that have a task
   waiting, so a readable socket nobody reads does not spin the loop.
   A host loop's descriptor (Linux; be_fd, made by async__be_host_fd) is an epoll set
   that mirrors the table: each descriptor edge-triggered in both directions (added and
   removed with it, never changed on the hot path), the wake descriptor level-triggered.
   It becomes readable when anything may have become ready; each wait empties it first,
   then poll(2) says what is ready, so no edge is missed. */
#if defined(ASYNC__LINUX)
#include <sys/epoll.h>
#define ASYNC__POLL_MIRROR 1

ASYNC__COLD static int async__mirror_add(async__reactor *r, int fd, uint32_t events) {
    struct epoll_event e;
    e.events = events;
    e.data.ptr = NULL;
    if (ASYNC__FAULT(ASYNC_SYS_CTL, fd, NULL) || epoll_ctl(r->be_fd, EPOLL_CTL_ADD, fd, &e) < 0)
        return errno == EPERM ? 0 : -errno;   /* a regular file: always ready, as poll says */
    return 0;
}
#define ASYNC__MIRROR_EV (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

ASYNC__COLD static void async__mirror_del(async__reactor *r, int fd) {
    (void)epoll_ctl(r->be_fd, EPOLL_CTL_DEL, fd, NULL);
}

/* Emptied before each poll(2); a poll that then fails rings the wake descriptor, so
   that the host turns again (what the mirror said is lost, poll never looked). */
ASYNC__COLD static void async__mirror_drain(async__reactor *r) {
    struct epoll_event ev[64];
    while (!ASYNC__FAULT(ASYNC_SYS_WAIT, 0, NULL) && epoll_wait(r->be_fd, ev, 64, 0) == 64) {}
}
#endif

#define ASYNC__BE_SLOT sizeof(struct pollfd)

static const char *async__be_name(void) {
    return "poll";
}

static int async__be_init(async__reactor *r) {
    (void)r;
    return 0;
}

static void async__be_fini(async__reactor *r) {
    async__dealloc(r->be_slots);
#ifdef ASYNC__POLL_MIRROR
    if (r->be_fd > 0) close(r->be_fd);
#endif
}

static int async__be_resize(async__reactor *r, uint32_t cap) {
    struct pollfd *fds = (struct pollfd *)async__alloc(cap * sizeof *fds);
    if (!fds) return ASYNC_ENOMEM;
    if (r->n) async__memcpy(fds, r->be_slots, r->n * sizeof *fds);
    async__dealloc(r->be_slots);
    r->be_slots = fds;
    return 0;
}

static int async__be_add(async__reactor *r, async_io *io) {
    struct pollfd *p = (struct pollfd *)r->be_slots + io->slot;
    p->fd = -1;                         /* poll skips negative descriptors */
    p->events = p->revents = 0;
#ifdef ASYNC__POLL_MIRROR
    if (r->be_fd > 0) return async__mirror_add(r, io->fd, ASYNC__MIRROR_EV);
#endif
    return 0;
}

static void async__be_mod(async__reactor *r, async_io *io) {
    struct pollfd *p = (struct pollfd *)r->be_slots + io->slot;
    p->events = (short)(((io->interest & ASYNC_IO_READ) ? POLLIN : 0) |
                        ((io->interest & ASYNC_IO_WRITE) ? POLLOUT : 0));
    p->fd = io->interest ? io->fd : -1;
}

static int async__be_move(async__reactor *r, async_io *dst, async_io *src) {
    (void)r; (void)dst; (void)src;      /* slots hold descriptors, not pointers */
    return 0;
}

static void async__be_del(async__reactor *r, async_io *io) {
    struct pollfd *p = (struct pollfd *)r->be_slots;
#ifdef ASYNC__POLL_MIRROR
    if (r->be_fd > 0) async__mirror_del(r, io->fd);
#endif
    if (io->slot != r->n - 1) p[io->slot] = p[r->n - 1];
}

static int async__be_wait(async_runtime *rt, async_time wait) {
    async__reactor *r = &rt->io;
    struct pollfd *p = (struct pollfd *)r->be_slots;
    uint32_t i;
    int n;
#ifdef ASYNC__POLL_MIRROR
    if (r->be_fd > 0) async__mirror_drain(r);     /* the host's mirror, emptied first */
#endif
    p[0].fd = rt->wake_fd[0];
    p[0].events = POLLIN;
    p[0].revents = 0;
    do n = ASYNC__FAULT(ASYNC_SYS_WAIT, async__io_wait_ms(wait), NULL) ? -1
                                                 : poll(p, (nfds_t)r->n, async__io_wait_ms(wait));
    while (n < 0 && errno == EINTR && wait == 0);
    if (n < 0) {
#ifdef ASYNC__POLL_MIRROR
        if (r->be_fd > 0) async__rt_signal(rt);   /* emptied for nothing: the host turns */
#endif
        return wait == 0;               /* see the contract */
    }
    if (n == 0) return 0;
    if (p[0].revents) {                 /* the wake descriptor: collected by the core */
        n--;
        async__wake_fd_stale(rt);
    }
    for (i = 1; n > 0 && i < r->n; i++) {
        short re = p[i].revents;
        if (!re) continue;
        n--;
        p[i].revents = 0;
        async__io_event(rt, r->ios[i],
            ((re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ? (int)ASYNC_IO_READ : 0) |
            ((re & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) ? (int)ASYNC_IO_WRITE : 0) |
            ((re & (POLLHUP | POLLERR | POLLNVAL)) ? (int)ASYNC__IO_HUP : 0));
    }
    return 1;
}

static int async__be_host_fd(async_runtime *rt) {
#ifdef ASYNC__POLL_MIRROR
    async__reactor *r = &rt->io;
    uint32_t i;
    int rc;
    if (r->be_fd > 0) return r->be_fd;
    r->be_fd = ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL) ? -1 : epoll_create1(EPOLL_CLOEXEC);
    if (r->be_fd < 0) {
        rc = -errno;
        r->be_fd = 0;
        return rc;
    }
    rc = async__mirror_add(r, rt->wake_fd[0], EPOLLIN);
    for (i = 1; rc == 0 && i < r->n; i++)
        rc = async__mirror_add(r, r->ios[i]->fd, ASYNC__MIRROR_EV);
    if (rc < 0) {
        close(r->be_fd);
        r->be_fd = 0;
    }
    return rc < 0 ? rc : r->be_fd;
#else
    (void)rt;
    return ASYNC_ENOSYS;                     /* no epoll: see EMBEDDING */
#endif
}
#endif

#if defined(ASYNC__BE_MULTI)
#undef ASYNC__BE_PREFIX
#define ASYNC__BE_PREFIX async__uring_be
/* io_uring (Linux 5.13 and later), through its system calls (no liburing): readiness
   as epoll gives it, each descriptor watched by one multishot IORING_OP_POLL_ADD in both
   directions (edge-triggered: a completion at each wake-up of the descriptor), the wake
   descriptor by another; the changes of a turn (new polls, re-arms) are queued in the
   submission ring and go to the kernel with the wait, in one io_uring_enter (a removal
   goes at once: the poll holds the file, which must close with the descriptor).
   A poll's user_data is a token and its generation, never a pointer: the token gives the
   slot (be_slots: the token of each slot, then the tokens), be_del frees the token and
   bumps its generation, so that a completion still in flight for a removed descriptor
   (its number reused, the io moved or freed) matches nothing and is dropped. async_io_move
   changes nothing here: the slot stays. The structures are the kernel's ABI, declared
   here under our own names (a system header older than the kernel changes nothing). */
#include <sys/syscall.h>
#include <sys/mman.h>
#if defined(__NR_io_uring_setup) && defined(__NR_io_uring_enter)
#define ASYNC__URING 1
#if !defined(__USE_MISC) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE) && \
    !defined(_BSD_SOURCE)
extern long syscall(long number, ...);  /* declared only beyond strict POSIX */
#endif
#endif

typedef struct async__ur_sqe {          /* struct io_uring_sqe */
    uint8_t opcode, flags;
    uint16_t ioprio;
    int32_t fd;
    uint64_t off, addr;
    uint32_t len, op_flags;
    uint64_t user_data;
    uint16_t buf_index, personality;
    int32_t splice_fd_in;
    uint64_t pad[2];
} async__ur_sqe;
typedef struct async__ur_cqe {          /* struct io_uring_cqe */
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} async__ur_cqe;
typedef struct async__ur_params {       /* struct io_uring_params */
    uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd;
    uint32_t resv[3];
    uint32_t sq_head, sq_tail, sq_mask, sq_n, sq_flags, sq_dropped, sq_array, sq_resv;
    uint64_t sq_user;
    uint32_t cq_head, cq_tail, cq_mask, cq_n, cq_overflow, cq_cqes, cq_flags, cq_resv;
    uint64_t cq_user;
} async__ur_params;
typedef struct async__ur_arg {          /* struct io_uring_getevents_arg */
    uint64_t sigmask;
    uint32_t sigmask_sz, pad;
    uint64_t ts;
} async__ur_arg;
typedef struct async__ur_ts {           /* struct __kernel_timespec */
    int64_t sec;
    long long nsec;
} async__ur_ts;
typedef char async__ur_abi[sizeof(async__ur_sqe) == 64 && sizeof(async__ur_params) == 120
                           && sizeof(async__ur_cqe) == 16 ? 1 : -1];
enum {
    ASYNC__UR_OP_POLL_ADD = 6, ASYNC__UR_OP_POLL_REMOVE = 7, ASYNC__UR_OP_ASYNC_CANCEL = 14,
    ASYNC__UR_POLL_MULTI = 1,                                   /* IORING_POLL_ADD_MULTI */
    ASYNC__UR_CQE_MORE = 2,                                     /* IORING_CQE_F_MORE */
    ASYNC__UR_ENTER_GETEVENTS = 1, ASYNC__UR_ENTER_EXT_ARG = 8,
    ASYNC__UR_SETUP_CQSIZE = 8, ASYNC__UR_SETUP_CLAMP = 16,
    ASYNC__UR_SETUP_COOP_TASKRUN = 1 << 8,                      /* 5.19 */
    ASYNC__UR_SETUP_SINGLE_ISSUER = 1 << 12, ASYNC__UR_SETUP_DEFER_TASKRUN = 1 << 13,  /* 6.1 */
    ASYNC__UR_FEAT_SINGLE_MMAP = 1, ASYNC__UR_FEAT_NODROP = 2,
    ASYNC__UR_FEAT_EXT_ARG = 1 << 8,                            /* 5.11 */
    ASYNC__UR_FEAT_RSRC_TAGS = 1 << 10,                         /* 5.13: multishot poll */
    ASYNC__UR_SQ = 256, ASYNC__UR_CQ = 4096                     /* ring sizes */
};
#define ASYNC__UR_OFF_CQ 0x8000000ull
#define ASYNC__UR_OFF_SQES 0x10000000ull
/* user_data: the token in bits 0-31, its generation in 32-59 (never 0), and these */
#define ASYNC__UR_WAKE (1ull << 63)     /* the wake descriptor's poll */
#define ASYNC__UR_RM (1ull << 62)       /* a removal's: the poll's user_data | this */
#define ASYNC__UR_WR (1ull << 61)       /* the one-shot poll for writing */
#define ASYNC__UR_RX (1ull << 60)       /* the multishot receive (completion I/O) */
#define ASYNC__UR_TX (ASYNC__UR_WR | ASYNC__UR_RX)  /* a send: its slot in bits 0-31 */
#define ASYNC__UR_ACC (ASYNC__UR_WAKE | ASYNC__UR_RX)   /* the multishot accept */
#define ASYNC__UR_GEN 0x0fffffffu

typedef struct async__ur_tok {          /* a live token: its slot and generation; a */
    uint32_t slot, gen;                 /* free one: the next free token as slot */
    uint8_t wr;                         /* its poll for writing is armed */
    uint8_t more;                       /* its poll for reading has gone on (multishot) */
    uint8_t rx;                         /* completion I/O: ASYNC__RX_* */
    uint8_t tx;                         /* a send in flight */
    uint8_t acc;                        /* a listener async_sock_accept takes from: 1 (2:
                                           the kernel refused its multishot accept) */
    uint16_t qh, qt, qoff, qn;          /* received, not read: buffer ids, bytes taken (a
                                           listener: accepted, not taken: fd nodes) */
    int32_t rres;                       /* after them: 1 end of stream, or -errno */
    int32_t tres;                       /* the last send's result */
    uint32_t tseq, tdone;               /* sends made, and the last one completed */
    uint32_t txs;                       /* the send slot of the one in flight */
} async__ur_tok;
enum { ASYNC__RX_POLL, ASYNC__RX_ARMED, ASYNC__RX_IDLE, ASYNC__RX_CANCEL };
struct async__ur_pool;
typedef struct async__uring {
    uint32_t *sq_head, *sq_tail, *sq_array, sq_mask, sq_n, tail;
    uint32_t *cq_head, *cq_tail, cq_mask;
    async__ur_sqe *sqes;
    async__ur_cqe *cqes;
    void *sq_map, *cq_map;
    size_t sq_len, cq_len, sqes_len;
    uint32_t *tok;                      /* tok[slot]: the token of each slot */
    async__ur_tok *toks;                /* cap of them */
    uint32_t free_tok, cap;             /* free list's head (UINT32_MAX: none) */
    uint8_t defer, no_defer;            /* DEFER_TASKRUN: made so; not to be (a host) */
    uint8_t cio;                        /* completion I/O: 0 not tried, 1 on, 2 off */
    struct async__ur_pool *pool;        /* its buffers (made at the first use) */
    struct async__ur_afd *afd;          /* accepted descriptors not taken: their nodes */
    uint32_t afd_cap, afd_free;         /* (the free list's head; UINT32_MAX: none) */
} async__uring;

static const char *async__be_name(void) {
    return "io_uring";
}

static int async__be_resize(async__reactor *r, uint32_t cap) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t *tok, i, old = u ? u->cap : 0;
    async__ur_tok *toks;
    if (!u) {
        u = (async__uring *)async__alloc(sizeof *u);
        if (!u) return ASYNC_ENOMEM;
        async__memset(u, 0, sizeof *u);
        r->be_slots = u;
    }
    tok = (uint32_t *)async__alloc(cap * (sizeof *tok + sizeof *toks));
    if (!tok) {
        if (!old) {                     /* the first: nothing made */
            async__dealloc(u);
            r->be_slots = NULL;
        }
        return ASYNC_ENOMEM;
    }
    toks = (async__ur_tok *)(void *)(tok + cap);
    if (old) {
        async__memcpy(tok, u->tok, old * sizeof *tok);
        async__memcpy(toks, u->toks, old * sizeof *toks);
    }
    for (i = old; i < cap; i++) {       /* the new tokens, free, before the old free */
        toks[i].slot = i + 1 < cap ? i + 1 : (old ? u->free_tok : UINT32_MAX);
        toks[i].gen = 1;
    }
    if (old < cap) u->free_tok = old;
    async__dealloc(u->tok);
    u->tok = tok;
    u->toks = toks;
    u->cap = cap;
    return 0;
}

static void async__ur_unmap_maps(async__uring *u) {
    if (u->sqes) (void)munmap(u->sqes, u->sqes_len);
    if (u->cq_map && u->cq_map != u->sq_map) (void)munmap(u->cq_map, u->cq_len);
    if (u->sq_map) (void)munmap(u->sq_map, u->sq_len);
    u->sqes = NULL;
    u->sq_map = u->cq_map = NULL;
}

/* The ring closed (its polls with it) and unmapped; the tokens stay. */
static void async__ur_unmap(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    if (r->be_fd > 0) close(r->be_fd);
    r->be_fd = 0;
    if (u) async__ur_unmap_maps(u);
}

#ifdef ASYNC__URING
static void async__ur_pool_free(struct async__ur_pool *p);
static void async__ur_acc_fini(async__reactor *r);
#endif

static void async__be_fini(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
#ifdef ASYNC__URING
    if (u && u->tok) async__ur_acc_fini(r);
#endif
    async__ur_unmap(r);                 /* the ring first: then nothing uses the buffers */
    if (!u) return;
#ifdef ASYNC__URING
    if (u->pool) async__ur_pool_free(u->pool);
#endif
    async__dealloc(u->afd);
    async__dealloc(u->tok);
    async__dealloc(u);
    r->be_slots = NULL;
}

#ifdef ASYNC__URING
static int async__ur_enter(int fd, uint32_t submit, uint32_t min, uint32_t flags,
                           async__ur_arg *arg) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, arg,
                        arg ? sizeof *arg : (size_t)0);
}
#endif

/* 0, or -errno: -ENOSYS, -EPERM (seccomp, kernel.io_uring_disabled), -EINVAL (flags
   unknown) and a kernel without multishot poll or the enter's timeout (-ENOSYS) make
   the dispatcher take epoll instead. */
static int async__be_init(async__reactor *r) {
#ifdef ASYNC__URING
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_params p;
    uint32_t i;
    int fd;
    async__memset(&p, 0, sizeof p);
    /* Completions made only when the loop enters (DEFER_TASKRUN: in one batch, no
       interruption of the thread's other system calls; it needs SINGLE_ISSUER: only
       the thread that made the ring may enter it, see async__ur_migrate); before
       6.1, COOP_TASKRUN; before 5.19, neither. */
    p.flags = ASYNC__UR_SETUP_CQSIZE | ASYNC__UR_SETUP_CLAMP | ASYNC__UR_SETUP_SINGLE_ISSUER |
              ASYNC__UR_SETUP_DEFER_TASKRUN;
    p.cq_entries = ASYNC__UR_CQ;
    if (ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL)) return -errno;
    fd = u->no_defer ? -1 : (int)syscall(__NR_io_uring_setup, ASYNC__UR_SQ, &p);
    u->defer = fd >= 0;
    if (u->no_defer) errno = EINVAL;
    if (fd < 0 && errno == EINVAL) {
        async__memset(&p, 0, sizeof p);
        p.flags = ASYNC__UR_SETUP_CQSIZE | ASYNC__UR_SETUP_CLAMP | ASYNC__UR_SETUP_COOP_TASKRUN;
        p.cq_entries = ASYNC__UR_CQ;
        fd = (int)syscall(__NR_io_uring_setup, ASYNC__UR_SQ, &p);
    }
    if (fd < 0 && errno == EINVAL) {    /* before 5.19: no COOP_TASKRUN */
        async__memset(&p, 0, sizeof p);
        p.flags = ASYNC__UR_SETUP_CQSIZE | ASYNC__UR_SETUP_CLAMP;
        p.cq_entries = ASYNC__UR_CQ;
        fd = (int)syscall(__NR_io_uring_setup, ASYNC__UR_SQ, &p);
    }
    if (fd < 0) return -errno;
    r->be_fd = fd;                      /* closed on exec by the kernel's own flag */
    if ((p.features & (ASYNC__UR_FEAT_EXT_ARG | ASYNC__UR_FEAT_RSRC_TAGS |
                       ASYNC__UR_FEAT_SINGLE_MMAP | ASYNC__UR_FEAT_NODROP)) !=
        (ASYNC__UR_FEAT_EXT_ARG | ASYNC__UR_FEAT_RSRC_TAGS | ASYNC__UR_FEAT_SINGLE_MMAP |
         ASYNC__UR_FEAT_NODROP))
        return ASYNC_ENOSYS;            /* before 5.13 */
    u->sq_len = p.sq_array + p.sq_entries * sizeof(uint32_t);
    u->cq_len = p.cq_cqes + p.cq_entries * sizeof(async__ur_cqe);
    if (u->cq_len > u->sq_len) u->sq_len = u->cq_len;
    u->sq_map = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (u->sq_map == MAP_FAILED) {
        u->sq_map = NULL;
        return -errno;
    }
    u->cq_map = u->sq_map;
    u->sqes_len = p.sq_entries * sizeof(async__ur_sqe);
    u->sqes = (async__ur_sqe *)mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
                                    MAP_SHARED, fd, (off_t)ASYNC__UR_OFF_SQES);
    if ((void *)u->sqes == MAP_FAILED) {
        u->sqes = NULL;
        return -errno;
    }
    u->sq_head = (uint32_t *)(void *)((char *)u->sq_map + p.sq_head);
    u->sq_tail = (uint32_t *)(void *)((char *)u->sq_map + p.sq_tail);
    u->sq_array = (uint32_t *)(void *)((char *)u->sq_map + p.sq_array);
    u->sq_mask = *(uint32_t *)(void *)((char *)u->sq_map + p.sq_mask);
    u->sq_n = p.sq_entries;
    u->cq_head = (uint32_t *)(void *)((char *)u->cq_map + p.cq_head);
    u->cq_tail = (uint32_t *)(void *)((char *)u->cq_map + p.cq_tail);
    u->cq_mask = *(uint32_t *)(void *)((char *)u->cq_map + p.cq_mask);
    u->cqes = (async__ur_cqe *)(void *)((char *)u->cq_map + p.cq_cqes);
    for (i = 0; i < p.sq_entries; i++) u->sq_array[i] = i;     /* entry i: sqes[i] */
    u->tail = *u->sq_tail;
    return 0;
#else
    (void)r;
    return ASYNC_ENOSYS;
#endif
}

#ifdef ASYNC__URING
/* Hand the queued entries to the kernel, without waiting (ASYNC_SYS_CTL). */
static int async__ur_submit(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t n = u->tail - ASYNC__LOAD(u->sq_head);
    if (!n) return 0;
    /* GETEVENTS with nothing to wait for: the completions on their way run first
       (a removal refused with -EALREADY can then be made again, see be_del) */
    if (ASYNC__FAULT(ASYNC_SYS_CTL, r->be_fd, NULL) ||
        async__ur_enter(r->be_fd, n, 0, ASYNC__UR_ENTER_GETEVENTS, NULL) < 0)
        return -errno;
    return 0;
}

/* A free submission entry (the ring full: what is queued goes first), or NULL. */
static async__ur_sqe *async__ur_sqe_get(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_sqe *e;
    if (u->tail - ASYNC__LOAD(u->sq_head) >= u->sq_n &&
        (async__ur_submit(r) < 0 ||
         u->tail - ASYNC__LOAD(u->sq_head) >= u->sq_n))
        return NULL;
    e = &u->sqes[u->tail & u->sq_mask];
    async__memset(e, 0, sizeof *e);
    return e;
}

static void async__ur_sqe_push(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    ASYNC__STORE(u->sq_tail, ++u->tail);
    if (r->be_host) (void)async__ur_submit(r);    /* the host may sleep next: no waiting */
}

/* Reading (multishot: a completion at each wake-up of the descriptor), or writing
   (ASYNC__UR_WR: one-shot, armed only while a task waits to write; a multishot one
   would complete at each acknowledgement of the peer, a write-space wake-up). */
static int async__ur_poll(async__reactor *r, int fd, uint64_t ud) {
    async__ur_sqe *e = async__ur_sqe_get(r);
    uint32_t ev = (ud & ASYNC__UR_WR) ? (uint32_t)(EPOLLOUT | EPOLLHUP | EPOLLERR)
                : (uint32_t)(EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    if (!e) return -errno;
    e->opcode = ASYNC__UR_OP_POLL_ADD;
    e->fd = fd;
    e->len = (ud & ASYNC__UR_WR) ? 0 : ASYNC__UR_POLL_MULTI;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    ev = ev << 16 | ev >> 16;           /* the kernel swaps the halves back */
#endif
    e->op_flags = ev;
    e->user_data = ud;
    async__ur_sqe_push(r);
    return 0;
}
#define ASYNC__UR_UD(u, t) ((uint64_t)(u)->toks[t].gen << 32 | (t))

static int async__ur_remove(async__reactor *r, uint64_t ud) {
    async__ur_sqe *e = async__ur_sqe_get(r);
    if (!e) return -errno;
    e->opcode = (ud & ASYNC__UR_RX) ? ASYNC__UR_OP_ASYNC_CANCEL : ASYNC__UR_OP_POLL_REMOVE;
    e->addr = ud;
    e->user_data = ud | ASYNC__UR_RM;
    async__ur_sqe_push(r);
    return 0;
}

/* The result of the last removal of ud among the completions from h on, else 0. */
static int async__ur_removed(const async__uring *u, uint64_t ud, uint32_t h) {
    uint32_t t = ASYNC__LOAD(u->cq_tail);
    int res = 0;
    for (; h != t; h++)
        if (u->cqes[h & u->cq_mask].user_data == (ud | ASYNC__UR_RM))
            res = u->cqes[h & u->cq_mask].res;
    return res;
}

/* ---- completion I/O: stream sockets read and written through the ring -------------

   A stream socket (TCP, Unix) that async_io_read finds drained is switched from its
   poll to a multishot receive (IORING_OP_RECV, 6.0) into the ring's provided buffers
   (IORING_REGISTER_PBUF_RING, 5.19): the kernel receives while the loop sleeps, and a
   read copies from the buffers, with no system call. The buffers belong to the ring,
   never to a frame: a read cancelled or a task freed leaves what arrived queued on the
   descriptor for the next read, and nothing is ever written into a frame. A
   descriptor holds at most ASYNC__UR_RXCAP buffers unread (then its receive is
   cancelled until it is read), so a peer nobody reads cannot take them all; short of
   buffers, or when the kernel refuses, the descriptor goes back to its poll and to
   read(2), and nothing is lost (a receive ends only with nothing in flight).
   A write of up to ASYNC__UR_TXB bytes is copied into a send slot of the ring and
   submitted with the turn's enter (IORING_OP_SEND); the task waits for its completion,
   which says what was sent, as send(2) would. One send per descriptor at a time (a
   second writer waits for it): bytes go out in the order written. Larger writes, and
   writes when no slot is free, are send(2) as before. */
enum {
    ASYNC__UR_OP_ACCEPT = 13, ASYNC__UR_OP_CONNECT = 16, ASYNC__UR_OP_SEND = 26,
    ASYNC__UR_OP_RECV = 27,
    ASYNC__UR_ACCEPT_MULTI = 1,         /* IORING_ACCEPT_MULTISHOT, in ioprio */
    ASYNC__UR_ACCCAP = 16,              /* connections a listener holds untaken, at most */
    ASYNC__UR_RECV_MULTI = 2,           /* IORING_RECV_MULTISHOT, in ioprio */
    ASYNC__UR_SQE_BUFSEL = 32,          /* IOSQE_BUFFER_SELECT */
    ASYNC__UR_CQE_BUFFER = 1,           /* IORING_CQE_F_BUFFER: the id in flags >> 16 */
    ASYNC__UR_REG_PBUF = 22,            /* IORING_REGISTER_PBUF_RING */
    ASYNC__UR_RXN = 2048, ASYNC__UR_RXB = 1024, /* receive buffers, of RXB bytes each */
    ASYNC__UR_TXN = 256, ASYNC__UR_TXB = 2048,  /* send slots */
    ASYNC__UR_RXCAP = 8,                /* buffers a descriptor holds unread, at most */
    ASYNC__UR_NONE = 0xffff
};
#define ASYNC__CIO_SYS (-INT_MAX + 1)   /* not through the ring: the system call */
#define ASYNC__CIO_WAIT (-INT_MAX + 2)  /* nothing received yet */

typedef struct async__ur_buf {          /* struct io_uring_buf */
    uint64_t addr;
    uint32_t len;
    uint16_t bid, tail;                 /* tail: the ring's, in entry 0 */
} async__ur_buf;
typedef struct async__ur_pbreg {        /* struct io_uring_buf_reg */
    uint64_t ring_addr;
    uint32_t ring_entries;
    uint16_t bgid, flags;
    uint64_t resv[3];
} async__ur_pbreg;
typedef struct async__ur_txs {          /* a send slot: whose send (token, generation) */
    uint32_t tok, gen, seq, next;       /* next: the next free slot */
} async__ur_txs;
typedef struct async__ur_pool {
    async__ur_buf *ring;                /* ASYNC__UR_RXN entries, page-aligned */
    unsigned char *rxb, *txb, *mem;
    uint16_t rnext[ASYNC__UR_RXN];      /* a descriptor's queue: the next buffer */
    uint16_t rlen[ASYNC__UR_RXN];       /* bytes received in each */
    uint16_t rtail;                     /* the ring's tail */
    uint32_t rin;                       /* buffers the kernel holds (in the ring) */
    uint32_t txfree;                    /* free send slots (UINT32_MAX: none) */
    async__ur_txs tx[ASYNC__UR_TXN];
} async__ur_pool;
typedef char async__ur_pbuf_abi[sizeof(async__ur_buf) == 16 && sizeof(async__ur_pbreg) == 40
                                ? 1 : -1];

static void async__ur_pool_free(async__ur_pool *p) {
    async__dealloc(p->mem);
    async__dealloc(p);
}

/* Buffer bid back to the kernel. */
static void async__ur_give(async__ur_pool *p, uint32_t bid) {
    async__ur_buf *b = &p->ring[p->rtail & (ASYNC__UR_RXN - 1)];
    b->addr = (uint64_t)(uintptr_t)(p->rxb + (size_t)bid * ASYNC__UR_RXB);
    b->len = ASYNC__UR_RXB;
    b->bid = (uint16_t)bid;
    p->rtail++;
    p->rin++;
    ASYNC__STORE(&p->ring[0].tail, p->rtail);
}

/* The buffers, made at the first use (about 2.6 MB) and registered with the ring; a
   refusal (an older kernel, no memory) turns completion I/O off for this ring. */
ASYNC__COLD static int async__ur_pool_make(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_pool *p = (async__ur_pool *)async__alloc(sizeof *p);
    async__ur_pbreg reg;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), ring = ASYNC__UR_RXN * sizeof(async__ur_buf);
    uint32_t i;
    u->cio = 2;
    if (!p) return ASYNC_ENOMEM;
    async__memset(p, 0, sizeof *p);
    if (pg < 64 || (pg & (pg - 1))) pg = 4096;
    p->mem = (unsigned char *)async__alloc(pg + ring + (size_t)ASYNC__UR_RXN * ASYNC__UR_RXB +
                                           (size_t)ASYNC__UR_TXN * ASYNC__UR_TXB);
    if (!p->mem) {
        async__dealloc(p);
        return ASYNC_ENOMEM;
    }
    p->ring = (async__ur_buf *)(void *)(p->mem + ((pg - ((uintptr_t)p->mem & (pg - 1))) &
                                                   (pg - 1)));
    p->rxb = (unsigned char *)p->ring + ring;
    p->txb = p->rxb + (size_t)ASYNC__UR_RXN * ASYNC__UR_RXB;
    async__memset(p->ring, 0, ring);
    async__memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)p->ring;
    reg.ring_entries = ASYNC__UR_RXN;
    if (ASYNC__FAULT(ASYNC_SYS_CTL, r->be_fd, NULL) ||
        syscall(__NR_io_uring_register, r->be_fd, ASYNC__UR_REG_PBUF, &reg, 1) < 0) {
        int rc = -errno;
        async__dealloc(p->mem);
        async__dealloc(p);
        return rc;
    }
    for (i = 0; i < ASYNC__UR_RXN; i++) async__ur_give(p, i);
    for (i = 0; i < ASYNC__UR_TXN; i++) p->tx[i].next = i + 1 < ASYNC__UR_TXN ? i + 1 : UINT32_MAX;
    u->pool = p;
    u->cio = 1;
    return 0;
}

/* Stop watching ud (a poll, or a receive) now, as be_del must: the request holds the
   file. The result of the removal if it came back (0: removed, or not known yet). */
static int async__ur_unwatch(async__reactor *r, uint64_t ud) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t h = ASYNC__LOAD(u->cq_tail), k;     /* what comes now */
    int rc = async__ur_remove(r, ud);
    /* A request whose completion is on its way (its first, say) refuses (-EALREADY)
       until that has run, which the enter does: then again. (The ring full and the
       kernel refusing more: the request stays, its completions dropped, the file open
       until destroy.) */
    if (rc == 0)
        for (k = 0; k < 4 && (rc = async__ur_submit(r)) == 0 &&
                    (rc = async__ur_removed(u, ud, h)) == -EALREADY &&
                    (rc = async__ur_remove(r, ud)) == 0;
             k++) {}
    return rc;
}

static void async__ur_rx_arm(async__reactor *r, uint32_t t, int fd) {
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_sqe *e = async__ur_sqe_get(r);
    if (!e) return;                     /* stays idle: the next read tries again */
    e->opcode = ASYNC__UR_OP_RECV;
    e->fd = fd;
    e->ioprio = ASYNC__UR_RECV_MULTI;
    e->flags = ASYNC__UR_SQE_BUFSEL;
    e->buf_index = 0;                   /* the buffer group */
    e->user_data = ASYNC__UR_UD(u, t) | ASYNC__UR_RX;
    async__ur_sqe_push(r);
    u->toks[t].rx = ASYNC__RX_ARMED;
}

/* A stream socket a task is about to wait to read: from now on through the ring. */
ASYNC__COLD static void async__ur_rx_start(async__reactor *r, async_io *io) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot];
    async__ur_tok *k = &u->toks[t];
    int rc;
    if (u->cio != 1 && (u->cio == 2 || async__ur_pool_make(r) < 0)) return;
    if (u->pool->rin < ASYNC__UR_RXN / 4) return;   /* short of buffers: readiness */
    rc = async__ur_unwatch(r, ASYNC__UR_UD(u, t));  /* its poll, first */
    if (rc < 0 && rc != -ENOENT) return;
    k->more = 0;
    k->qh = k->qt = ASYNC__UR_NONE;
    k->qoff = k->qn = 0;
    k->rres = 0;
    io->flags |= ASYNC__IO_URX;
    async__ur_rx_arm(r, t, io->fd);
    if (k->rx != ASYNC__RX_ARMED) k->rx = ASYNC__RX_IDLE;
}

/* Back to readiness (the queue empty, nothing armed): its poll again. */
static void async__ur_rx_stop(async__reactor *r, async_io *io) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot];
    (void)async__ur_poll(r, io->fd, ASYNC__UR_UD(u, t));   /* (refused: as be_add's) */
    u->toks[t].rx = ASYNC__RX_POLL;
    u->toks[t].more = 0;
    io->flags &= (uint8_t)~ASYNC__IO_URX;
}

/* A read of a descriptor in completion mode: bytes copied from its queue, 0 (end of
   stream), -errno, ASYNC__CIO_WAIT (nothing yet: wait) or ASYNC__CIO_SYS (back to
   readiness: read(2)). */
ASYNC__APART static int async__ur_recv(async__reactor *r, async_io *io, void *buf,
                                       size_t len) {
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_pool *p = u->pool;
    uint32_t t = u->tok[io->slot];
    async__ur_tok *k = &u->toks[t];
    size_t got = 0;
    if (!len) return 0;
    while (got < len && k->qh != ASYNC__UR_NONE) {
        uint32_t b = k->qh, n = (uint32_t)p->rlen[b] - k->qoff;
        if (n > len - got) n = (uint32_t)(len - got);
        async__memcpy((char *)buf + got, p->rxb + (size_t)b * ASYNC__UR_RXB + k->qoff, n);
        got += n;
        k->qoff = (uint16_t)(k->qoff + n);
        if (k->qoff == p->rlen[b]) {
            k->qh = p->rnext[b];
            if (k->qh == ASYNC__UR_NONE) k->qt = ASYNC__UR_NONE;
            k->qoff = 0;
            k->qn--;
            async__ur_give(p, b);
        }
    }
    /* Nothing armed (cancelled at the cap, ended short of buffers or by the kernel):
       again once the queue is low, if buffers are there; else, drained, readiness. */
    if (k->rx == ASYNC__RX_IDLE && !k->rres && k->qn < ASYNC__UR_RXCAP / 2) {
        if (u->cio == 1 && p->rin >= ASYNC__UR_RXN / 4) async__ur_rx_arm(r, t, io->fd);
        if (k->rx == ASYNC__RX_IDLE && !k->qn) {
            async__ur_rx_stop(r, io);
            if (!got) return ASYNC__CIO_SYS;
            return (int)got;            /* (ready stays: the next read asks the kernel) */
        }
    }
    if (got) {
        if (k->qh == ASYNC__UR_NONE && !k->rres) io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
        return (int)got;
    }
    if (k->rres) {                      /* after the bytes: the end, or the error once */
        int rc = k->rres == 1 ? 0 : k->rres;
        k->rres = 1;
        return rc;
    }
    io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
    return ASYNC__CIO_WAIT;
}

/* A completion of the receive of token t (its generation checked). */
static void async__ur_rx_done(async_runtime *rt, async__uring *u, uint32_t t,
                              const async__ur_cqe *c) {
    async__ur_tok *k = &u->toks[t];
    async__ur_pool *p = u->pool;
    int dirs = ASYNC_IO_READ;
    if (c->flags & ASYNC__UR_CQE_BUFFER) {
        uint32_t b = c->flags >> 16;
        p->rin--;
        if (c->res > 0 && b < ASYNC__UR_RXN) {
            p->rnext[b] = ASYNC__UR_NONE;
            p->rlen[b] = (uint16_t)c->res;
            if (k->qt == ASYNC__UR_NONE) k->qh = (uint16_t)b;
            else p->rnext[k->qt] = (uint16_t)b;
            k->qt = (uint16_t)b;
            k->qn++;
        } else if (b < ASYNC__UR_RXN) {
            async__ur_give(p, b);
        }
    }
    if (!(c->flags & ASYNC__UR_CQE_MORE)) {     /* it ended: why */
        k->rx = ASYNC__RX_IDLE;
        if (c->res == 0) k->rres = 1;
        else if (c->res == -EINVAL) u->cio = 2;   /* no multishot receive (before 6.0) */
        else if (c->res < 0 && c->res != -ENOBUFS && c->res != -ECANCELED &&
                 c->res != -EINTR && c->res != -EAGAIN && c->res != -ENOMEM)
            k->rres = c->res;
        if (k->rres) dirs |= ASYNC__IO_HUP;
    } else if (k->rx == ASYNC__RX_ARMED && k->qn >= ASYNC__UR_RXCAP &&
               async__ur_remove(&rt->io, ASYNC__UR_UD(u, t) | ASYNC__UR_RX) == 0) {
        k->rx = ASYNC__RX_CANCEL;       /* enough held: the rest waits in the socket */
    }
    async__io_event(rt, rt->io.ios[k->slot], dirs);
}

/* A write through a send slot: ASYNC_PENDING (submitted: the task waits for its
   completion; or another send of the descriptor is in flight, which goes first: it
   waits for that, whatever its size), or ASYNC__CIO_SYS (larger than a slot, no slot,
   or completion I/O off: send(2)). connect: buf is the address of an IORING_OP_CONNECT
   (the slot holds it until the kernel is done with it; its result as a send's). */
ASYNC__APART static int async__ur_send(async_task *t, async_io *io, async_waiter *w,
                                       const void *buf, size_t len, int connect) {
    async__reactor *r = &io->rt->io;
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t tk = u->tok[io->slot], s;
    async__ur_tok *k = &u->toks[tk];
    async__ur_pool *p;
    async__ur_sqe *e;
    if (u->cio != 1 && (u->cio == 2 || async__ur_pool_make(r) < 0)) return ASYNC__CIO_SYS;
    p = u->pool;
    if (!k->tx) {
        if (!len || len > ASYNC__UR_TXB || (s = p->txfree) == UINT32_MAX ||
            !(e = async__ur_sqe_get(r)))
            return ASYNC__CIO_SYS;
        p->txfree = p->tx[s].next;
        p->tx[s].next = UINT32_MAX - 2;             /* in flight (the dump counts them) */
        p->tx[s].tok = tk;
        p->tx[s].gen = k->gen;
        p->tx[s].seq = ++k->tseq;
        async__memcpy(p->txb + (size_t)s * ASYNC__UR_TXB, buf, len);
        e->opcode = connect ? ASYNC__UR_OP_CONNECT : ASYNC__UR_OP_SEND;
        e->fd = io->fd;
        e->addr = (uint64_t)(uintptr_t)(p->txb + (size_t)s * ASYNC__UR_TXB);
        if (connect) e->off = len;      /* buf: the address */
        else e->len = (uint32_t)len;
        e->op_flags = connect ? 0 : (uint32_t)ASYNC__NOSIGNAL;
        e->user_data = ASYNC__UR_TX | s;
        async__ur_sqe_push(r);
        k->tx = 1;
        k->txs = s;
        w->kind = ASYNC__W_TX;
        w->gen = k->tseq;
    }
    async__wq_push(&io->wq, w, t);
    r->nwait++;
    io->rt->stats.io_waits++;
    return ASYNC_PENDING;
}

/* The task of a send made by async__ur_send polls again: its result (bytes sent,
   -errno), ASYNC_PENDING, ASYNC_ECANCELED (the send goes on: its bytes may be sent),
   ASYNC_ECLOSED, or ASYNC__CIO_SYS (the kernel asked for it again, or cancelled it
   when the thread that submitted it ended, as a ring without DEFER_TASKRUN does: a
   loop that moves between threads: write anew). A cancel of ours never gets here: the
   task's own returns before, a close changes the generation. */
ASYNC__APART static int async__ur_sent(async_task *t, async_io *io, async_waiter *w) {
    async__uring *u;
    async__ur_tok *k;
    uint8_t was;
    if (async__wait_begin(t, &io->wq, w, 0, &was) < 0) {
        if (was == ASYNC__W_WAITING) async__io_unwait(io, &io->wq, ASYNC_IO_WRITE);
        w->kind = 0;
        return ASYNC_ECANCELED;
    }
    if (w->state == ASYNC__W_WAITING) return ASYNC_PENDING;
    w->kind = 0;
    if (w->state == ASYNC__W_CLOSED || !io->rt) {
        w->state = ASYNC__W_IDLE;
        return ASYNC_ECLOSED;
    }
    w->state = ASYNC__W_IDLE;
    u = (async__uring *)io->rt->io.be_slots;
    k = &u->toks[u->tok[io->slot]];
    if (k->tdone != w->gen) {           /* woken for something else: on waiting */
        w->kind = ASYNC__W_TX;
        async__wq_push(&io->wq, w, t);
        io->rt->io.nwait++;
        return ASYNC_PENDING;
    }
    if (k->tres == -EAGAIN || k->tres == -EINTR || k->tres == -ENOBUFS ||
        k->tres == -ECANCELED)          /* (the kernel's: its submitter's thread ended) */
        return ASYNC__CIO_SYS;
    t->rt->budget--;                    /* (async__io_done) */
    return k->tres;
}

/* A send's completion: its slot back; its writer told, if its descriptor is still
   the one it was sent on. */
static void async__ur_tx_done(async_runtime *rt, async__uring *u, const async__ur_cqe *c) {
    async__ur_pool *p = u->pool;
    uint32_t s = (uint32_t)c->user_data, tk;
    if (s >= ASYNC__UR_TXN) return;
    tk = p->tx[s].tok;
    p->tx[s].next = p->txfree;
    p->txfree = s;
    if (tk >= u->cap || u->toks[tk].gen != p->tx[s].gen || !u->toks[tk].tx) return;
    u->toks[tk].tx = 0;
    u->toks[tk].tres = c->res;
    u->toks[tk].tdone = p->tx[s].seq;
    async__io_event(rt, rt->io.ios[u->toks[tk].slot], ASYNC_IO_WRITE);
}

/* Accepting through the ring: a listener async_sock_accept finds drained takes its
   connections from a multishot IORING_OP_ACCEPT (5.19) from then on: the kernel
   accepts while the loop sleeps, each descriptor in a completion, no accept4(2). The
   descriptors belong to the ring until taken (a cancelled accept loses none; the
   listener deregistered closes them, as its backlog would be); a listener holds at
   most ASYNC__UR_ACCCAP of them before its accept is cancelled until it is taken
   from (the kernel may accept a backlog's worth in one go: the queue grows for
   them). Refused by the kernel, or out of memory: readiness and accept4(2) again. */
typedef struct async__ur_afd {          /* an accepted descriptor, queued */
    int32_t fd;
    uint32_t next;
} async__ur_afd;

static void async__ur_acc_arm(async__reactor *r, uint32_t t, int fd) {
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_sqe *e = async__ur_sqe_get(r);
    if (!e) return;                     /* stays idle: the next accept tries again */
    e->opcode = ASYNC__UR_OP_ACCEPT;
    e->fd = fd;
    e->ioprio = ASYNC__UR_ACCEPT_MULTI;
    e->op_flags = (uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
    e->user_data = ASYNC__UR_UD(u, t) | ASYNC__UR_ACC;
    async__ur_sqe_push(r);
    u->toks[t].rx = ASYNC__RX_ARMED;
}

/* A listener an acceptor is about to wait on: from now on through the ring. */
ASYNC__COLD static void async__ur_acc_start(async__reactor *r, async_io *io) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot];
    async__ur_tok *k = &u->toks[t];
    int rc = async__ur_unwatch(r, ASYNC__UR_UD(u, t));  /* its poll, first */
    if (rc < 0 && rc != -ENOENT) return;
    k->more = 0;
    k->qh = k->qt = ASYNC__UR_NONE;
    k->qn = 0;
    k->rres = 0;
    async__ur_acc_arm(r, t, io->fd);
    if (k->rx != ASYNC__RX_ARMED) k->rx = ASYNC__RX_IDLE;
}

/* A completion of the accept of token t (its generation checked): the descriptor
   queued (no node for it, none to be had: closed, as a full backlog drops one). */
static void async__ur_acc_done(async_runtime *rt, async__uring *u, uint32_t t,
                               const async__ur_cqe *c) {
    async__ur_tok *k = &u->toks[t];
    if (c->res >= 0) {
        uint32_t i = u->afd_cap ? u->afd_free : UINT32_MAX;
        if (i == UINT32_MAX && u->afd_cap < ASYNC__UR_NONE) {        /* more nodes */
            uint32_t cap = u->afd_cap ? u->afd_cap * 2 : 64, j;
            async__ur_afd *a;
            if (cap > ASYNC__UR_NONE) cap = ASYNC__UR_NONE;
            a = (async__ur_afd *)async__alloc(cap * sizeof *a);
            if (a) {
                if (u->afd_cap) async__memcpy(a, u->afd, u->afd_cap * sizeof *a);
                for (j = u->afd_cap; j < cap; j++) a[j].next = j + 1 < cap ? j + 1 : UINT32_MAX;
                async__dealloc(u->afd);
                u->afd = a;
                i = u->afd_cap;
                u->afd_cap = cap;
            }
        }
        if (i == UINT32_MAX) {
            close(c->res);
        } else {
            u->afd_free = u->afd[i].next;
            u->afd[i].fd = c->res;
            u->afd[i].next = ASYNC__UR_NONE;
            if (k->qt == ASYNC__UR_NONE) k->qh = (uint16_t)i;
            else u->afd[k->qt].next = i;
            k->qt = (uint16_t)i;
            k->qn++;
        }
    }
    if (!(c->flags & ASYNC__UR_CQE_MORE)) {     /* it ended: why */
        k->rx = ASYNC__RX_IDLE;
        if (c->res == -EINVAL || c->res == -EOPNOTSUPP) k->acc = 2;  /* no multishot */
        else if (c->res < 0 && c->res != -ECANCELED && c->res != -EINTR &&
                 c->res != -EAGAIN && c->res != -ENOMEM)
            k->rres = c->res;           /* EMFILE, ENFILE...: said once, then again */
    } else if (k->rx == ASYNC__RX_ARMED && k->qn >= ASYNC__UR_ACCCAP &&
               async__ur_remove(&rt->io, ASYNC__UR_UD(u, t) | ASYNC__UR_ACC) == 0) {
        k->rx = ASYNC__RX_CANCEL;       /* enough held: the rest waits in the backlog */
    }
    async__io_event(rt, rt->io.ios[k->slot], ASYNC_IO_READ);
}

/* At destroy, listeners still registered: what the ring accepted for them and nobody
   took is closed (queued, or in completions not yet looked at). */
static void async__ur_acc_fini(async__reactor *r) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t i, h, tail;
    if (u->cqes)
        for (h = *u->cq_head, tail = ASYNC__LOAD(u->cq_tail); h != tail; h++) {
            const async__ur_cqe *c = &u->cqes[h & u->cq_mask];
            if ((c->user_data & (ASYNC__UR_ACC | ASYNC__UR_RM)) == ASYNC__UR_ACC &&
                c->res >= 0)
                close(c->res);
        }
    for (i = 1; i < r->n; i++) {
        async__ur_tok *k = &u->toks[u->tok[i]];
        while (k->acc && k->qh != ASYNC__UR_NONE) {
            close(u->afd[k->qh].fd);
            k->qh = (uint16_t)u->afd[k->qh].next;
        }
    }
}

/* async_sock_accept on a listener of this ring: a descriptor accepted by the ring,
   -errno, ASYNC__CIO_WAIT (none yet: wait) or ASYNC__CIO_SYS (readiness: accept4). */
ASYNC__APART static int async__ur_accept(async__reactor *r, async_io *io) {
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot];
    async__ur_tok *k = &u->toks[t];
    int fd = -1;
    if (k->rx == ASYNC__RX_POLL || !k->acc) {
        if (k->rx == ASYNC__RX_POLL && !k->acc) k->acc = 1;     /* the ring accepts when */
        return ASYNC__CIO_SYS;          /* the acceptor waits (not a socket it receives) */
    }
    if (ASYNC__FAULT(ASYNC_SYS_ACCEPT, io->fd, NULL)) return -errno;  /* as accept4 */
    if (k->qh != ASYNC__UR_NONE) {
        uint32_t i = k->qh;
        fd = u->afd[i].fd;
        k->qh = (uint16_t)u->afd[i].next;
        if (k->qh == ASYNC__UR_NONE) k->qt = ASYNC__UR_NONE;
        k->qn--;
        u->afd[i].next = u->afd_free;
        u->afd_free = i;
    }
    /* Nothing armed (cancelled at the cap, or ended): again once the queue is low;
       else, drained, readiness. */
    if (k->rx == ASYNC__RX_IDLE && !k->rres && k->qn < ASYNC__UR_ACCCAP / 2) {
        if (k->acc == 1 && u->cio != 2) async__ur_acc_arm(r, t, io->fd);
        if (k->rx == ASYNC__RX_IDLE && !k->qn) {
            async__ur_rx_stop(r, io);
            return fd >= 0 ? fd : ASYNC__CIO_SYS;
        }
    }
    if (fd >= 0) return fd;
    if (k->rres) {                      /* an error of the kernel's accept: once */
        int rc = k->rres;
        k->rres = 0;
        return rc;
    }
    io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
    return ASYNC__CIO_WAIT;
}
#endif

static int async__be_add(async__reactor *r, async_io *io) {
#ifdef ASYNC__URING
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->free_tok;
    int rc;
    u->free_tok = u->toks[t].slot;      /* cap >= n + 1 tokens: one is free */
    u->toks[t].slot = io->slot;
    u->toks[t].wr = u->toks[t].more = u->toks[t].rx = u->toks[t].tx = u->toks[t].acc = 0;
    u->toks[t].qh = u->toks[t].qt = ASYNC__UR_NONE;
    u->toks[t].qn = 0;
    u->tok[io->slot] = t;
    io->flags |= ASYNC__IO_URING;
    if ((rc = async__ur_poll(r, io->fd, ASYNC__UR_UD(u, t))) < 0) {
        u->toks[t].slot = u->free_tok;
        u->free_tok = t;
    }
    return rc;
#else
    (void)r; (void)io;
    return ASYNC_ENOSYS;
#endif
}

/* A task waits to write: the one-shot poll for writing, unless armed already. (No
   longer waiting: it stays, and its completion sets a readiness nobody asked for.) A
   task waits in async_io_read on a stream socket it drained: from now on through the
   ring (not for async_io_wait_ready: the user reads, with a system call of his own). */
static void async__be_mod(async__reactor *r, async_io *io) {
#ifdef ASYNC__URING
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot];
    if (u->toks[t].acc) {               /* a listener: through the ring when it waits */
        if ((io->interest & ASYNC_IO_READ) && u->toks[t].acc == 1 &&
            u->toks[t].rx == ASYNC__RX_POLL && u->cio != 2)
            async__ur_acc_start(r, io);
    } else if ((io->interest & ASYNC_IO_READ) &&
        (io->flags & (ASYNC__IO_RD | ASYNC__IO_URX | ASYNC__IO_STREAM | ASYNC__IO_NOT_SOCK |
                      ASYNC__IO_CONNECTING)) == (ASYNC__IO_RD | ASYNC__IO_STREAM) && u->cio != 2)
        async__ur_rx_start(r, io);
    if ((io->interest & ASYNC_IO_WRITE) && !u->toks[t].wr &&
        async__ur_poll(r, io->fd, ASYNC__UR_UD(u, t) | ASYNC__UR_WR) == 0)
        u->toks[t].wr = 1;              /* (refused: the writer's wait has no end) */
#else
    (void)r; (void)io;
#endif
}

static int async__be_move(async__reactor *r, async_io *dst, async_io *src) {
    (void)r; (void)dst; (void)src;      /* the token follows the slot, which stays */
    return 0;
}

static void async__be_del(async__reactor *r, async_io *io) {
#ifdef ASYNC__URING
    async__uring *u = (async__uring *)r->be_slots;
    uint32_t t = u->tok[io->slot], last = u->tok[r->n - 1];
    uint64_t ud = ASYNC__UR_UD(u, t);
    async__ur_tok *k = &u->toks[t];
    /* Now: a poll, a receive or a send holds the file, which must close with the
       descriptor (a send stuck on a peer that reads nothing would keep the socket
       open). A cancelled send's slot comes back with its completion. */
    if (k->rx == ASYNC__RX_POLL) (void)async__ur_unwatch(r, ud);
    else if (k->rx != ASYNC__RX_IDLE)
        (void)async__ur_unwatch(r, ud | (k->acc ? ASYNC__UR_ACC : ASYNC__UR_RX));
    if (k->wr) (void)async__ur_unwatch(r, ud | ASYNC__UR_WR);
    if (k->tx) (void)async__ur_unwatch(r, ASYNC__UR_TX | k->txs);
    while (k->acc && k->qh != ASYNC__UR_NONE) {     /* accepted, never taken: closed */
        uint32_t i = k->qh;
        k->qh = (uint16_t)u->afd[i].next;
        close(u->afd[i].fd);
        u->afd[i].next = u->afd_free;
        u->afd_free = i;
    }
    while (k->qh != ASYNC__UR_NONE) {   /* received, never read: dropped */
        uint32_t b = k->qh;
        k->qh = u->pool->rnext[b];
        async__ur_give(u->pool, b);
    }
    k->qt = ASYNC__UR_NONE;
    k->qn = 0;
    k->rx = k->tx = k->acc = 0;
    io->flags &= (uint8_t)~ASYNC__IO_URX;
    u->toks[t].gen = (u->toks[t].gen + 1) & ASYNC__UR_GEN;
    if (!u->toks[t].gen) u->toks[t].gen = 1;
    u->toks[t].slot = u->free_tok;
    u->free_tok = t;
    if (io->slot != r->n - 1) {         /* the last slot moves into io's */
        u->tok[io->slot] = last;
        u->toks[last].slot = io->slot;
    }
#else
    (void)r; (void)io;
#endif
}

#ifdef ASYNC__URING
static void async__ur_wake_arm(async_runtime *rt) {
    if (async__ur_poll(&rt->io, rt->wake_fd[0], ASYNC__UR_WAKE) == 0) rt->io.be_wake = 1;
}

/* The ring refused this thread (EEXIST: SINGLE_ISSUER, the reactor was started by
   another one): a new ring, made here, and every descriptor watched again (new
   generations: whatever the old ring had is dropped; a poll armed on a ready
   descriptor completes at once, so no readiness is lost). Its descriptor takes the old
   one's number (dup2), which a host loop may be watching. 0, or -errno. */
ASYNC__COLD static int async__ur_migrate(async_runtime *rt) {
    async__reactor *r = &rt->io;
    async__uring *u = (async__uring *)r->be_slots;
    async__uring was = *u;              /* the old ring's maps */
    uint32_t i;
    int old = r->be_fd, rc;
    r->be_fd = 0;
    u->sqes = NULL;                     /* (what a failed init made, apart) */
    u->sq_map = u->cq_map = NULL;
    if ((rc = async__be_init(r)) < 0) {
        async__ur_unmap(r);             /* what was made of the new one */
        *u = was;                       /* the old one stays (this thread: refused) */
        r->be_fd = old;
        return rc;
    }
    async__ur_unmap_maps(&was);
    if (dup2(r->be_fd, old) >= 0) {     /* the new ring under the old number */
        close(r->be_fd);
        r->be_fd = old;
    } else {
        close(old);
    }
    /* Completion I/O ends with the old ring (its buffers stay until destroy: the old
       ring's requests die with it): sends in flight are made again by their writers
       (the old ring never sent them: they waited on its owner's thread), bytes
       received are read first, then the descriptors are back on their polls. */
    if (u->cio == 1) {
        async__ur_pool *p = u->pool;
        for (i = 0; i < ASYNC__UR_TXN; i++) p->tx[i].next = UINT32_MAX - 1;
        p->txfree = UINT32_MAX;
        for (i = 1; i < r->n; i++) {
            async__ur_tok *k = &u->toks[u->tok[i]];
            if (k->tx) {
                k->tx = 0;
                k->tres = -EAGAIN;
                k->tdone = k->tseq;
                async__io_event(rt, r->ios[i], ASYNC_IO_WRITE);
            }
        }
    }
    for (i = 1; i < r->n; i++) {        /* (a listener's accepted ones: taken first) */
        async__ur_tok *k = &u->toks[u->tok[i]];
        if (k->rx == ASYNC__RX_ARMED || k->rx == ASYNC__RX_CANCEL) k->rx = ASYNC__RX_IDLE;
        if (k->rx && (k->qn || k->rres)) async__io_event(rt, r->ios[i], ASYNC_IO_READ);
    }
    if (u->cio) u->cio = 2;
    for (i = 1; i < r->n; i++) {
        uint32_t t = u->tok[i];
        u->toks[t].gen = (u->toks[t].gen + 1) & ASYNC__UR_GEN;
        if (!u->toks[t].gen) u->toks[t].gen = 1;
        u->toks[t].wr = u->toks[t].more = 0;
        if (u->toks[t].rx && !u->toks[t].qn && !u->toks[t].rres) {
            u->toks[t].rx = ASYNC__RX_POLL;               /* nothing left: its poll */
            r->ios[i]->flags &= (uint8_t)~ASYNC__IO_URX;
        }
        if (!u->toks[t].rx) (void)async__ur_poll(r, r->ios[i]->fd, ASYNC__UR_UD(u, t));
        if ((r->ios[i]->interest & ASYNC_IO_WRITE) &&
            async__ur_poll(r, r->ios[i]->fd, ASYNC__UR_UD(u, t) | ASYNC__UR_WR) == 0)
            u->toks[t].wr = 1;
    }
    r->be_wake = 0;
    if (rt->wake_fd[0] >= 0) async__ur_wake_arm(rt);
    return 0;
}
#endif

static int async__be_wait(async_runtime *rt, async_time wait) {
#ifdef ASYNC__URING
    async__reactor *r = &rt->io;
    async__uring *u = (async__uring *)r->be_slots;
    async__ur_arg arg;
    async__ur_ts ts;
    uint32_t head, tail, n = 0;
    int rc = 0;
    if (rt->wake_fd[0] >= 0 && !r->be_wake) {
        async__ur_wake_arm(rt);
        if (!r->be_wake && wait > ASYNC_MS(1)) wait = ASYNC_MS(1);   /* as epoll's */
    }
    head = *u->cq_head;
    tail = ASYNC__LOAD(u->cq_tail);
    /* Completions waiting, nothing to submit: no system call at all. */
    if (head == tail || u->tail != ASYNC__LOAD(u->sq_head)) {
        async__memset(&arg, 0, sizeof arg);
        if (head != tail) wait = 0;
        if (wait != ASYNC_TIME_NEVER) {
            ts.sec = (int64_t)(wait / 1000000000u);
            ts.nsec = (long long)(wait % 1000000000u);
            arg.ts = (uint64_t)(uintptr_t)&ts;
        }
        do rc = ASYNC__FAULT(ASYNC_SYS_WAIT, async__io_wait_ms(wait), NULL) ? -1 :
                async__ur_enter(r->be_fd, u->tail - ASYNC__LOAD(u->sq_head), wait ? 1 : 0,
                                ASYNC__UR_ENTER_GETEVENTS | ASYNC__UR_ENTER_EXT_ARG, &arg);
        while (rc < 0 && errno == EINTR && wait == 0);
        if (rc < 0) rc = errno == ETIME ? 0 : -errno;
        if (rc == -EEXIST) return async__ur_migrate(rt) == 0;    /* another thread's */

        tail = ASYNC__LOAD(u->cq_tail);
    }
    for (; head != tail; head++) {
        async__ur_cqe *c = &u->cqes[head & u->cq_mask];
        uint64_t ud = c->user_data;
        uint32_t t = (uint32_t)ud, e;
        async_io *io;
        if (ud == ASYNC__UR_WAKE) {
            async__wake_fd_stale(rt);
            if (!(c->flags & ASYNC__UR_CQE_MORE)) {      /* armed again: at the next wait, */
                r->be_wake = 0;                          /* a host's now (it may sleep) */
                if (r->be_host) async__ur_wake_arm(rt);
            }
            n++;
            continue;
        }
        if (ud & ASYNC__UR_RM) {        /* a removal refused too often in be_del: again */
            if (c->res == -EALREADY) (void)async__ur_remove(r, ud & ~ASYNC__UR_RM);
            continue;
        }
        if ((ud & ASYNC__UR_TX) == ASYNC__UR_TX) {      /* a send: its slot comes back */
            async__ur_tx_done(rt, u, c);
            n++;
            continue;
        }
        if (t >= u->cap || u->toks[t].gen != ((uint32_t)(ud >> 32) & ASYNC__UR_GEN)) {
            /* a removed descriptor's: a buffer it holds goes back, a descriptor
               accepted for it is closed */
            if ((ud & ASYNC__UR_ACC) == ASYNC__UR_ACC) {
                if (c->res >= 0) close(c->res);
            } else if ((ud & ASYNC__UR_RX) && (c->flags & ASYNC__UR_CQE_BUFFER) &&
                (c->flags >> 16) < ASYNC__UR_RXN) {
                u->pool->rin--;
                async__ur_give(u->pool, c->flags >> 16);
            }
            continue;
        }
        if ((ud & ASYNC__UR_ACC) == ASYNC__UR_ACC) {
            async__ur_acc_done(rt, u, t, c);
            n++;
            continue;
        }
        if (ud & ASYNC__UR_RX) {
            async__ur_rx_done(rt, u, t, c);
            n++;
            continue;
        }
        if (!(ud & ASYNC__UR_WR) && u->toks[t].rx)
            continue;                   /* the poll it had before its receive: ended */
        io = r->ios[u->toks[t].slot];
        if (ud & ASYNC__UR_WR) {        /* one-shot: armed again when a writer waits */
            u->toks[t].wr = 0;
            e = c->res >= 0 ? (uint32_t)c->res : (uint32_t)EPOLLERR;
            n++;
            async__io_event(rt, io, ASYNC_IO_WRITE |
                ((e & (EPOLLHUP | EPOLLERR)) ? (int)(ASYNC_IO_READ | ASYNC__IO_HUP) : 0));
            continue;
        }
        /* The kernel ended it: again, if it had gone on (a CQ overflow ends one). A poll
           that ends at its first completion is one the file cannot keep (a regular
           file: always ready, which stays in io->ready): armed again, it would end
           every wait at once. */
        if (c->flags & ASYNC__UR_CQE_MORE) u->toks[t].more = 1;
        else if ((c->res >= 0 && u->toks[t].more) ||
                 c->res == -ENOMEM || c->res == -ECANCELED || c->res == -EAGAIN) {
            u->toks[t].more = 0;
            (void)async__ur_poll(r, io->fd, ud);
        }
        e = c->res >= 0 ? (uint32_t)c->res : (uint32_t)EPOLLERR;   /* (poll's bits) */
        n++;
        async__io_event(rt, io,
            ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? (int)ASYNC_IO_READ : 0) |
            ((e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ? (int)ASYNC_IO_WRITE : 0) |
            ((e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? (int)ASYNC__IO_HUP : 0));
    }
    ASYNC__STORE(u->cq_head, head);
    if (rc < 0 && !n) return wait == 0;             /* see the contract */
    return n > 0;
#else
    (void)rt; (void)wait;
    return 0;
#endif
}

/* The ring's descriptor: readable (level) while completions wait in it, the wake
   descriptor's too. In this mode every entry queued goes to the kernel at once (the
   host may sleep before the next wait), so the polls are always armed. */
static int async__be_host_fd(async_runtime *rt) {
#ifdef ASYNC__URING
    async__reactor *r = &rt->io;
    int rc;
    /* A deferred completion (DEFER_TASKRUN) does not make the ring's descriptor
       readable until someone enters: a host would miss a wake. A ring without. */
    if (((async__uring *)r->be_slots)->defer) {
        ((async__uring *)r->be_slots)->no_defer = 1;
        if ((rc = async__ur_migrate(rt)) < 0) return rc;
    }
    if (!r->be_wake) {
        async__ur_wake_arm(rt);
        if (!r->be_wake) return -errno;
    }
    if ((rc = async__ur_submit(r)) < 0) return rc;
    return r->be_fd;
#else
    (void)rt;
    return ASYNC_ENOSYS;
#endif
}

#endif

#ifdef ASYNC__BE_MULTI
#undef async__be_name
#undef async__be_init
#undef async__be_fini
#undef async__be_resize
#undef async__be_add
#undef async__be_mod
#undef async__be_move
#undef async__be_del
#undef async__be_wait
#undef async__be_host_fd
#undef ASYNC__BE_PREFIX

/* The dispatchers: the reactor's kind, chosen at its start (the first resize). */

static const char *async__backend_name(int kind) {
    return kind == ASYNC_BACKEND_IO_URING ? async__uring_be_name()
         : kind == ASYNC_BACKEND_EPOLL ? async__epoll_be_name() : async__poll_be_name();
}

/* desc.backend, else $ASYNC_BACKEND (io_uring, epoll, poll; anything else: ignored),
   else the build's (ASYNC_USE_IO_URING, ASYNC_USE_EPOLL, else poll). */
static int async__backend_wanted(const async__reactor *r) {
    const char *e;
    if (r->be_want) return r->be_want;
    if ((e = getenv("ASYNC_BACKEND")) != NULL) {
        if (!strcmp(e, "io_uring")) return ASYNC_BACKEND_IO_URING;
        if (!strcmp(e, "epoll")) return ASYNC_BACKEND_EPOLL;
        if (!strcmp(e, "poll")) return ASYNC_BACKEND_POLL;
    }
#if defined(ASYNC_USE_IO_URING)
    return ASYNC_BACKEND_IO_URING;
#elif defined(ASYNC_USE_EPOLL)
    return ASYNC_BACKEND_EPOLL;
#else
    return ASYNC_BACKEND_POLL;
#endif
}

static const char *async__be_name(const async__reactor *r) {
    return async__backend_name(r->be_kind ? r->be_kind : async__backend_wanted(r));
}

static int async__be_resize(async__reactor *r, uint32_t cap) {
    if (!r->be_kind) {                  /* the reactor's start: choose */
        r->be_kind = (uint8_t)async__backend_wanted(r);
        r->be_refused = 0;
    }
    switch (r->be_kind) {
    case ASYNC_BACKEND_IO_URING: return async__uring_be_resize(r, cap);
    case ASYNC_BACKEND_EPOLL: return async__epoll_be_resize(r, cap);
    default: return async__poll_be_resize(r, cap);
    }
}

/* A table in the caller's storage (desc.io_storage) is placed, never resized: the
   choice is made here. io_uring's tokens and ring state are allocated: epoll instead,
   said as a refusal (ENOMEM) in the dump (ZERO ALLOCATION). */
static void async__backend_fixed(async__reactor *r) {
    if (r->be_kind) return;
    r->be_kind = (uint8_t)async__backend_wanted(r);
    r->be_refused = 0;
    if (r->be_kind == ASYNC_BACKEND_IO_URING) {
        r->be_kind = ASYNC_BACKEND_EPOLL;
        r->be_refused = ASYNC_ENOMEM;
    }
}

static void async__be_fini(async__reactor *r) {
    switch (r->be_kind) {
    case ASYNC_BACKEND_IO_URING: async__uring_be_fini(r); break;
    case ASYNC_BACKEND_EPOLL: async__epoll_be_fini(r); break;
    default: async__poll_be_fini(r); break;
    }
}

static int async__be_init(async__reactor *r) {
    int rc;
    (void)async__epoll_be_mod;          /* nothing to do: not called (async__be_mod) */
    r->be_modf = NULL;
    if (r->be_kind == ASYNC_BACKEND_IO_URING) {
        rc = async__uring_be_init(r);
        if (rc == 0) {
            r->be_modf = async__uring_be_mod;
            async__backend_edge = 1;
            return 0;
        }
        if (rc != ASYNC_ENOSYS && rc != -EPERM && rc != -EACCES && rc != -EINVAL) return rc;
        async__uring_be_fini(r);        /* refused (seccomp, a setting, too old): epoll */
        r->be_kind = ASYNC_BACKEND_EPOLL;
        r->be_refused = rc;
        if ((rc = async__epoll_be_resize(r, r->cap)) < 0) return rc;
    }
    if (r->be_kind == ASYNC_BACKEND_EPOLL) {
        async__backend_edge = 1;
        return async__epoll_be_init(r);
    }
    r->be_modf = async__poll_be_mod;
    return async__poll_be_init(r);
}

static int async__be_add(async__reactor *r, async_io *io) {
    switch (r->be_kind) {
    case ASYNC_BACKEND_IO_URING: return async__uring_be_add(r, io);
    case ASYNC_BACKEND_EPOLL: return async__epoll_be_add(r, io);
    default: return async__poll_be_add(r, io);
    }
}

/* The hot path: epoll has nothing to do; the others' is called through be_modf (set at
   the start), so that the test is all the callers carry. */
static void async__be_mod(async__reactor *r, async_io *io) {
    if (r->be_modf) r->be_modf(r, io);
}

static int async__be_move(async__reactor *r, async_io *dst, async_io *src) {
    switch (r->be_kind) {
    case ASYNC_BACKEND_IO_URING: return async__uring_be_move(r, dst, src);
    case ASYNC_BACKEND_EPOLL: return async__epoll_be_move(r, dst, src);
    default: return async__poll_be_move(r, dst, src);
    }
}

static void async__be_del(async__reactor *r, async_io *io) {
    switch (r->be_kind) {
    case ASYNC_BACKEND_IO_URING: async__uring_be_del(r, io); break;
    case ASYNC_BACKEND_EPOLL: async__epoll_be_del(r, io); break;
    default: async__poll_be_del(r, io); break;
    }
}

/* (the reactor's wait pointer is the kind's own: no dispatch per turn) */
typedef int (*async__backend_wait_fn)(async_runtime *rt, async_time wait);
static async__backend_wait_fn async__backend_wait(const async__reactor *r) {
    return r->be_kind == ASYNC_BACKEND_IO_URING ? async__uring_be_wait
         : r->be_kind == ASYNC_BACKEND_EPOLL ? async__epoll_be_wait : async__poll_be_wait;
}

static int async__be_host_fd(async_runtime *rt) {
    switch (rt->io.be_kind) {
    case ASYNC_BACKEND_IO_URING: return async__uring_be_host_fd(rt);
    case ASYNC_BACKEND_EPOLL: return async__epoll_be_host_fd(rt);
    default: return async__poll_be_host_fd(rt);
    }
}
#endif

/* ---- the reactor: a table of registered descriptors, a backend to wait on them --- */

/* The table is dense (slot 0 is the wake descriptor's), so registration and removal
   are O(1): a removed entry is replaced by the last one. */
static int async__io_grow(async__reactor *r) {
    uint32_t cap = r->cap ? r->cap * 2 : 64;
    async_io **ios;
    if (r->fixed) {                     /* the caller's table: placed once, never grown */
        if (r->cap) return ASYNC_ELIMIT;
#ifdef ASYNC__BE_MULTI
        async__backend_fixed(r);
#endif
        r->ios = (async_io **)(void *)r->mem;
        r->be_slots = r->mem + r->fixed * sizeof *r->ios;
        r->cap = r->fixed;
        return 0;
    }
    if (cap <= r->cap) return ASYNC_ENOMEM;
    ios = (async_io **)async__alloc(cap * sizeof *ios);
    if (!ios) return ASYNC_ENOMEM;
    if (async__be_resize(r, cap) < 0) {
        async__dealloc(ios);
        return ASYNC_ENOMEM;
    }
    if (r->n) async__memcpy(ios, r->ios, r->n * sizeof *ios);
    async__dealloc(r->ios);
    r->ios = ios;
    r->cap = cap;
    return 0;
}

/* desc.io_storage (ZERO ALLOCATION): the table in the caller's bytes, n + 1 slots for
   the n that ASYNC_RUNTIME_IO_STORAGE_SIZE(n) <= size says, on every backend. */
typedef char async__io_slot_fits[sizeof(async_io *) + ASYNC__BE_SLOT <= ASYNC__IO_SLOT_MAX
                                 && ASYNC__SLACK >= sizeof(void *) ? 1 : -1];
static void async__reactor_storage(async__reactor *r, void *mem, size_t size) {
    uintptr_t a = ((uintptr_t)mem + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    size_t n = (size - ASYNC__SLACK) / ASYNC__IO_SLOT_MAX;     /* slot 0 included */
    r->mem = (unsigned char *)mem + (a - (uintptr_t)mem);
    r->fixed = n > 0x40000000u ? 0x40000000u : (uint32_t)n;
}

/* Readiness arrived: remember it and wake every task waiting for it. */
static void async__io_wake_q(async_runtime *rt, async_waitq *q) {
    while (q->head) {
        async__wq_ready(q, q->head, ASYNC__W_READY);
        rt->io.nwait--;
    }
}

static ASYNC__HOT void async__io_event(async_runtime *rt, async_io *io, int dirs) {
    rt->stats.io_events++;
    io->ready = (uint8_t)(io->ready | dirs);
    io->interest = (uint8_t)(io->interest & ~dirs);
    if (dirs & ASYNC_IO_READ) async__io_wake_q(rt, &io->rq);
    if (dirs & ASYNC_IO_WRITE) async__io_wake_q(rt, &io->wq);
    async__be_mod(&rt->io, io);
}

/* At runtime destroy, after every task has unwound: descriptors still registered
   are left open and detached (their async_io_close only closes them). */
static void async__reactor_fini(async_runtime *rt) {
    async__reactor *r = &rt->io;
    uint32_t i;
    unsigned char *mem = r->mem;
    uint32_t fixed = r->fixed;
    uint8_t want = r->be_want;
    for (i = 1; i < r->n; i++) r->ios[i]->rt = NULL;
    if (fixed) r->be_slots = NULL;      /* the caller's: nothing to free */
    async__be_fini(r);
    if (!fixed) async__dealloc(r->ios);
    async__memset(r, 0, sizeof *r);
    r->mem = mem;
    r->fixed = fixed;
    r->be_want = want;
}

ASYNC__COLD static int async__reactor_start(async_runtime *rt) {
    async__reactor *r = &rt->io;
#ifndef ASYNC__WIN32
    struct sigaction sa;
#endif
    int rc;
    if (r->wait) return 0;
    if ((rc = async__io_grow(r)) < 0) return rc;
    if ((rc = async__be_init(r)) < 0) {
        async__reactor_fini(rt);
        return rc;
    }
    r->n = 1;                           /* slot 0: the wake descriptor */
    r->ios[0] = NULL;
#ifdef ASYNC__BE_MULTI
    r->wait = async__backend_wait(r);
#else
    r->wait = async__be_wait;
#endif
    r->fini = async__reactor_fini;
#ifndef ASYNC__WIN32                    /* Windows: no SIGPIPE, and no pipes here */
    /* A write to a closed pipe must be an EPIPE error, not the death of the
       process: ignore SIGPIPE unless someone already handles it (sockets are
       written with MSG_NOSIGNAL anyway). */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) == 0) async__sigpipe_ignored = 1;
    }
#endif
    return 0;
}

ASYNC_DEF const char *async_runtime_io_backend(const async_runtime *rt) {
#ifdef ASYNC__BE_MULTI
    async__reactor none;
    if (!rt) {
        async__memset(&none, 0, sizeof none);
        return async__be_name(&none);
    }
    return async__be_name(&rt->io);
#else
    (void)rt;
    return async__be_name();
#endif
}

// >>embed: a host loop waits on the backend's descriptor, for the backend's timeout

ASYNC_DEF int async_runtime_backend_fd(async_runtime *rt) {
    int rc;
    if (!rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
#ifdef ASYNC__XTHREADS
    if (rt->group) return ASYNC_EINVAL;         /* its group's thread drives it */
#endif
    if ((!rt->io.wait && (rc = async__reactor_start(rt)) < 0) ||
        (rc = async__wake_fd_make(rt)) < 0 ||
        (rc = async__be_host_fd(rt)) < 0)
        return rc;
    rt->io.be_host = 1;                 /* async_runtime_step takes what comes at each turn */
    return rc;
}

/* The lost wake-up: whatever comes after this reads rt->pending makes the descriptor
   readable (the first wake of a turn rings it; readiness is the backend's), and whatever
   came before is in nready or pending, so 0. */
ASYNC_DEF async_time async_runtime_backend_timeout(async_runtime *rt) {
    async_time dl, now;
    if (!rt || !(rt->flags & ASYNC__RT_INIT) || rt->nready || ASYNC__LOAD(&rt->pending))
        return 0;                       /* (an invalid rt: the step says what is wrong) */
    if (!rt->ntimers || (rt->flags & ASYNC__RT_PAUSED)) return ASYNC_TIME_NEVER;
    dl = async__next_deadline(rt);
    now = async_time_now(rt);
    return dl > now ? dl - now : 0;
}

ASYNC_DEF int async_runtime_backend_timeout_ms(async_runtime *rt) {
    return async__io_wait_ms(async_runtime_backend_timeout(rt));
}

/* nonblock: 1 if the descriptor is known to be non-blocking already */
static int async__io_add(async_runtime *rt, async_io *io, int fd, int nonblock) {
    async__reactor *r;
    int rc, fl = 0;
    if (!rt || !io || fd < 0 || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    r = &rt->io;
    if ((io->flags & ASYNC__IO_REG) && io->rt) return ASYNC_EBUSY;
    if (!r->wait && (rc = async__reactor_start(rt)) < 0) return rc;
    if (r->n == r->cap && (rc = async__io_grow(r)) < 0) return rc;
    if (!nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0) return -errno;
    }
    async__memset(io, 0, sizeof *io);
    io->fd = fd;
    io->rt = rt;
    if (!nonblock && !(fl & O_NONBLOCK)) {
        if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
        io->flags |= ASYNC__IO_MADE_NONBLOCK;
    }
    io->slot = r->n;
    if ((rc = async__be_add(r, io)) < 0) {
        if (io->flags & ASYNC__IO_MADE_NONBLOCK) (void)fcntl(fd, F_SETFL, fl);
        async__memset(io, 0, sizeof *io);
        return rc;
    }
    r->ios[r->n++] = io;
    io->ready = ASYNC_IO_BOTH;          /* try the system call first */
    io->flags |= ASYNC__IO_REG;
    return 0;
}

ASYNC_DEF int async_io_register(async_runtime *rt, async_io *io, int fd) {
    int rc = async__io_add(rt, io, fd, 0), type = 0;
    socklen_t tl = sizeof type;
    if (rc == 0) {
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
            io->flags |= errno == ENOTSOCK ? ASYNC__IO_STREAM | ASYNC__IO_NOT_SOCK : 0;
        else if (type == SOCK_STREAM)
            io->flags |= ASYNC__IO_STREAM;
        if (!(io->flags & ASYNC__IO_NOT_SOCK)) async__nosigpipe(fd);
    }
    return rc;
}

/* A waiter left q (the wait prologue unlinked it): the descriptor's interest in dir
   goes with the last one. */
static void async__io_unwait(async_io *io, async_waitq *q, int dir) {
    io->rt->io.nwait--;
    if (!q->head) {
        io->interest = (uint8_t)(io->interest & ~dir);
        async__be_mod(&io->rt->io, io);
    }
}

/* Returns the descriptor, still open, in the blocking mode it had. */
/* The reactor holds a pointer to each registered io: a move tells it the new place
   (the table entry, and the backend's). Waiters hold the old one: refused. */
ASYNC_DEF int async_io_move(async_io *dst, async_io *src) {
    if (!dst || !src || dst == src) return ASYNC_EINVAL;
    if (dst->flags & ASYNC__IO_REG) return ASYNC_EBUSY;
    if (src->rq.head || src->wq.head) return ASYNC_EBUSY;
    if ((src->flags & ASYNC__IO_REG) && src->rt) {
        async__reactor *r = &src->rt->io;
        int rc = async__be_move(r, dst, src);
        if (rc < 0) return rc;
        r->ios[src->slot] = dst;
    }
    *dst = *src;
    async__memset(src, 0, sizeof *src);
    src->fd = -1;
    return 0;
}

ASYNC_DEF int async_io_deregister(async_io *io) {
    async_runtime *rt;
    int fd;
    if (!io) return ASYNC_EINVAL;
    if (!(io->flags & ASYNC__IO_REG)) return ASYNC_ESTATE;
    rt = io->rt;
    fd = io->fd;
    if (rt) {
        async__reactor *r = &rt->io;
        uint32_t last = r->n - 1;
        /* waiters fail with ASYNC_ECLOSED at their next poll */
        while (io->rq.head) {
            async__wq_ready(&io->rq, io->rq.head, ASYNC__W_CLOSED);
            r->nwait--;
        }
        while (io->wq.head) {
            async__wq_ready(&io->wq, io->wq.head, ASYNC__W_CLOSED);
            r->nwait--;
        }
        async__be_del(r, io);
        if (io->slot != last) {
            r->ios[io->slot] = r->ios[last];
            r->ios[io->slot]->slot = io->slot;
        }
        r->n = last;
    }
    if (io->flags & ASYNC__IO_MADE_NONBLOCK) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    io->rt = NULL;
    io->flags = 0;
    io->ready = io->interest = 0;
    return fd;
}

/* Idempotent: closing a zeroed or closed async_io does nothing. */
ASYNC_DEF int async_io_close(async_io *io) {
    int fd;
    if (!io) return ASYNC_EINVAL;
    if (!(io->flags & ASYNC__IO_REG)) return 0;
    fd = async_io_deregister(io);
    io->fd = -1;
    if (close(fd) < 0 && errno != EINTR) return -errno;   /* EINTR: it is closed */
    return 0;
}

ASYNC_DEF int async_io_fd(const async_io *io) {
    return io && (io->flags & ASYNC__IO_REG) ? io->fd : ASYNC_EINVAL;
}

/* The start of every I/O operation. Returns 1 when the system call should be tried
   now, else what the operation returns: ASYNC_PENDING (queued on the descriptor,
   or out of budget), ASYNC_ECANCELED, ASYNC_ECLOSED. */
static int async__io_enter(async_task *t, async_io *io, async_waiter *w, int dir) {
    async_waitq *q = dir == ASYNC_IO_READ ? &io->rq : &io->wq;
    uint8_t was;
    if (async__wait_begin(t, q, w, 0, &was) < 0) {
        if (was == ASYNC__W_WAITING) async__io_unwait(io, q, dir);
        return ASYNC_ECANCELED;
    }
    if (w->state == ASYNC__W_WAITING) return ASYNC_PENDING;
    if (w->state == ASYNC__W_CLOSED || !io->rt) {
        w->state = ASYNC__W_IDLE;
        return ASYNC_ECLOSED;           /* deregistered while we waited, or never was */
    }
    ASYNC_ASSERT(io->rt == t->rt, "an async_io awaited from another runtime");
    w->state = ASYNC__W_IDLE;
    if (!(io->ready & dir)) {
        async__wq_push(q, w, t);
        io->rt->io.nwait++;
        io->rt->stats.io_waits++;
        if (!(io->interest & dir)) {
            io->interest = (uint8_t)(io->interest | dir);
            async__be_mod(&io->rt->io, io);
        }
        return ASYNC_PENDING;
    }
    if (t->rt->budget <= 0) {           /* cooperative budget: yield first */
        t->flags |= ASYNC__F_YIELDED;
        return ASYNC_PENDING;
    }
    return 1;
}

#define async__io_done(t) ((t)->rt->budget--)
#define async__io_again() (errno == EAGAIN || errno == EWOULDBLOCK)

ASYNC_DEF int async_io_wait_ready(async_task *t, async_io *io, async_waiter *w, int dir) {
    int rc;
    if (!t || !io || !w || (dir != ASYNC_IO_READ && dir != ASYNC_IO_WRITE)) return ASYNC_EINVAL;
    if (dir == ASYNC_IO_READ) io->flags &= (uint8_t)~ASYNC__IO_RD;   /* the user reads */
    rc = async__io_enter(t, io, w, dir);
    if (rc != 1) return rc;
    async__io_done(t);
    return io->ready & dir;
}

ASYNC_DEF int async_io_clear_ready(async_io *io, int dir) {
    if (!io || dir < 1 || dir > ASYNC_IO_BOTH) return ASYNC_EINVAL;
    io->ready = (uint8_t)(io->ready & ~dir);
    return 0;
}

#ifdef ASYNC__URING
/* A stream socket on io_uring: read and written through the ring (completion I/O). */
#define ASYNC__CIO(io) (((io)->flags & (ASYNC__IO_URING | ASYNC__IO_STREAM |           \
                                        ASYNC__IO_NOT_SOCK | ASYNC__IO_CONNECTING)) ==  \
                        (ASYNC__IO_URING | ASYNC__IO_STREAM) && (io)->rt)
#endif

ASYNC_DEF int async_io_read(async_task *t, async_io *io, async_waiter *w, void *buf,
                            size_t len) {
    int rc;
    if (!t || !io || !w || (!buf && len)) return ASYNC_EINVAL;
    if (len > INT_MAX) len = INT_MAX;
    io->flags |= ASYNC__IO_RD;          /* (io_uring: when it waits, the ring reads) */
    while ((rc = async__io_enter(t, io, w, ASYNC_IO_READ)) == 1) {
        ssize_t n;
#ifdef ASYNC__URING
        if (io->flags & ASYNC__IO_URX) {
            size_t l = len;
            if (ASYNC__FAULT(ASYNC_SYS_READ, io->fd, &l)) {     /* as read(2) could */
                if (errno == EINTR) continue;
                if (!async__io_again()) return -errno;
                io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
                continue;
            }
            rc = async__ur_recv(&io->rt->io, io, buf, l);
            if (rc == ASYNC__CIO_WAIT) continue;
            if (rc != ASYNC__CIO_SYS) {
                async__io_done(t);
                return rc;
            }
        }
#endif
        n = ASYNC__FAULT(ASYNC_SYS_READ, io->fd, &len) ? -1 : read(io->fd, buf, len);
        if (n >= 0) {
            /* A stream that gave less than asked for is drained: wait next time
               instead of a read that would say EAGAIN (as Tokio). Not for
               datagrams, where a short one says nothing of the queue, nor after
               a hang-up, which edge-triggered epoll reports only once. */
            if (n > 0 && (size_t)n < len && (io->flags & ASYNC__IO_STREAM) &&
                !(io->ready & ASYNC__IO_HUP))
                io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
            async__io_done(t);
            return (int)n;
        }
        if (errno == EINTR) continue;
        if (!async__io_again()) return -errno;
        io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
    }
    return rc;
}

ASYNC_DEF int async_io_write(async_task *t, async_io *io, async_waiter *w, const void *buf,
                             size_t len) {
    int rc;
    if (!t || !io || !w || (!buf && len)) return ASYNC_EINVAL;
    if (len > INT_MAX) len = INT_MAX;
#ifdef ASYNC__URING
    if (w->kind == ASYNC__W_TX && (rc = async__ur_sent(t, io, w)) != ASYNC__CIO_SYS)
        return rc;                      /* its send through the ring: done, or not yet */
#endif
    while ((rc = async__io_enter(t, io, w, ASYNC_IO_WRITE)) == 1) {
        ssize_t n;
        if (ASYNC__FAULT(ASYNC_SYS_WRITE, io->fd, &len)) {
            n = -1;
#ifdef ASYNC__URING
        } else if (ASYNC__CIO(io) &&
                   (rc = async__ur_send(t, io, w, buf, len, 0)) != ASYNC__CIO_SYS) {
            return rc;
#endif
        } else if (!(io->flags & ASYNC__IO_NOT_SOCK)) {
            n = send(io->fd, buf, len, ASYNC__NOSIGNAL);  /* never SIGPIPE */
            if (n < 0 && errno == ENOTSOCK) {
                io->flags |= ASYNC__IO_NOT_SOCK;          /* a pipe or a tty */
                continue;
            }
        } else {
            n = write(io->fd, buf, len);
        }
        if (n >= 0) {
            async__io_done(t);
            return (int)n;
        }
        if (errno == EINTR) continue;
        if (!async__io_again()) return -errno;
        io->ready = (uint8_t)(io->ready & ~ASYNC_IO_WRITE);
    }
    return rc;
}

/* The bytes done so far live in the waiter (w->got) while the operation runs. */
ASYNC_DEF int async_io_read_exact(async_task *t, async_io *io, async_waiter *w, void *buf,
                                  size_t len) {
    int rc;
    if (!t || !io || !w || (!buf && len) || len > INT_MAX) return ASYNC_EINVAL;
    if (!len && !ASYNC__CANCELLING(t)) return 0;
    for (;;) {
        rc = async_io_read(t, io, w, (char *)buf + w->got, len - w->got);
        if (rc == ASYNC_PENDING) return rc;
        if (rc <= 0) {
            w->got = 0;
            return rc == 0 ? ASYNC_EEOF : rc;
        }
        w->got += (size_t)rc;
        if (w->got == len) {
            w->got = 0;
            return (int)len;
        }
    }
}

ASYNC_DEF int async_io_read_to_end(async_task *t, async_io *io, async_waiter *w, void *buf,
                                   size_t cap) {
    int rc;
    if (!t || !io || !w || (!buf && cap) || cap >= INT_MAX) return ASYNC_EINVAL;
    for (;;) {
        if (w->got == cap) {                    /* full: one byte more says "more" */
            char probe;
            rc = async_io_read(t, io, w, &probe, 1);
            if (rc == ASYNC_PENDING) return rc;
            w->got = 0;
            return rc == 0 ? (int)cap : rc < 0 ? rc : ASYNC_ELIMIT;
        }
        rc = async_io_read(t, io, w, (char *)buf + w->got, cap - w->got);
        if (rc == ASYNC_PENDING) return rc;
        if (rc <= 0) {
            size_t got = w->got;
            w->got = 0;
            return rc == 0 ? (int)got : rc;
        }
        w->got += (size_t)rc;
    }
}

ASYNC_DEF int async_io_read_to_string(async_task *t, async_io *io, async_waiter *w,
                                      char *buf, size_t cap) {
    int rc;
    if (!buf || cap == 0) return ASYNC_EINVAL;
    rc = async_io_read_to_end(t, io, w, buf, cap - 1);
    if (rc >= 0) {
        buf[rc] = 0;
        if (!async__utf8_valid((const unsigned char *)buf, (size_t)rc)) return -EILSEQ;
    } else if (rc == ASYNC_ELIMIT) {
        buf[cap - 1] = 0;                       /* what came, cut: still a string */
    } else if (rc != ASYNC_PENDING) {
        buf[0] = 0;
    }
    return rc;
}

ASYNC_DEF int async_io_write_all(async_task *t, async_io *io, async_waiter *w,
                                 const void *buf, size_t len) {
    int rc;
    if (!t || !io || !w || (!buf && len) || len > INT_MAX) return ASYNC_EINVAL;
    if (!len && !ASYNC__CANCELLING(t)) return 0;
    for (;;) {
        rc = async_io_write(t, io, w, (const char *)buf + w->got, len - w->got);
        if (rc == ASYNC_PENDING) return rc;
        if (rc < 0) {
            w->got = 0;
            return rc;
        }
        w->got += (size_t)rc;
        if (w->got == len) {
            w->got = 0;
            return (int)len;
        }
    }
}

ASYNC_DEF int async_io_shutdown(async_io *io, int how) {
    int h;
    if (!io || !(io->flags & ASYNC__IO_REG) || how < 1 || how > ASYNC_IO_BOTH)
        return ASYNC_EINVAL;
    h = how == ASYNC_IO_READ ? SHUT_RD : how == ASYNC_IO_WRITE ? SHUT_WR : SHUT_RDWR;
    return shutdown(io->fd, h) < 0 ? -errno : 0;
}

static int async__cloexec(int fd) {
    return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -errno : 0;
}

ASYNC_DEF int async_io_pipe(async_runtime *rt, async_io *rd, async_io *wr) {
    int fds[2], rc;
    if (!rt || !rd || !wr || rd == wr) return ASYNC_EINVAL;
#ifdef ASYNC__WIN32
    if (async__w_sockpair(fds) < 0) return -errno;   /* see the manual, WINDOWS */
#else
    if (pipe(fds) < 0) return -errno;
#endif
    if ((rc = async__cloexec(fds[0])) < 0 || (rc = async__cloexec(fds[1])) < 0 ||
        (rc = async__io_add(rt, rd, fds[0], 0)) < 0) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if ((rc = async__io_add(rt, wr, fds[1], 0)) < 0) {
        async_io_close(rd);
        close(fds[1]);
        return rc;
    }
    rd->flags &= (uint8_t)~ASYNC__IO_MADE_NONBLOCK;   /* ours: no mode to restore */
    wr->flags &= (uint8_t)~ASYNC__IO_MADE_NONBLOCK;
#ifndef ASYNC__WIN32
    rd->flags |= ASYNC__IO_STREAM | ASYNC__IO_NOT_SOCK;
    wr->flags |= ASYNC__IO_STREAM | ASYNC__IO_NOT_SOCK;
#else
    rd->flags |= ASYNC__IO_STREAM;
    wr->flags |= ASYNC__IO_STREAM;
    (void)shutdown(fds[0], SHUT_WR);    /* one way, as a pipe */
    (void)shutdown(fds[1], SHUT_RD);
#endif
    return 0;
}

/* ---- addresses ------------------------------------------------------------------- */

#define async__sa(a) ((struct sockaddr *)(void *)(a)->u.bytes)

static int async__parse_port(const char *s) {
    long v = 0;
    if (!*s) return ASYNC_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return ASYNC_EINVAL;
        v = v * 10 + (*s - '0');
        if (v > 65535) return ASYNC_EINVAL;
    }
    return (int)v;
}

ASYNC_DEF int async_addr_init_unix(async_addr *a, const char *path) {
#ifdef ASYNC__WIN32
    if (!a || !path || !*path) return ASYNC_EINVAL;
    return ASYNC_ENOSYS;                /* see the manual, WINDOWS */
#else
    struct sockaddr_un *un;
    size_t n;
    if (!a || !path || !*path) return ASYNC_EINVAL;
    n = strlen(path);
    un = (struct sockaddr_un *)(void *)a->u.bytes;
    if (n >= sizeof un->sun_path) return ASYNC_EINVAL;       /* would be truncated */
    async__memset(a, 0, sizeof *a);
    un->sun_family = AF_UNIX;
    async__memcpy(un->sun_path, path, n + 1);
    a->len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
#endif
}

/* "1.2.3.4:80", "[::1]:80", "unix:/path/to/socket": numeric only (no name lookup). */
ASYNC_DEF int async_addr_parse(async_addr *a, const char *text) {
    char host[64];
    const char *colon, *h = text;
    size_t hl;
    int port;
    if (!a || !text) return ASYNC_EINVAL;
    if (!strncmp(text, "unix:", 5)) return async_addr_init_unix(a, text + 5);
    if (*text == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':') return ASYNC_EINVAL;
        h = text + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || strchr(text, ':') != colon) return ASYNC_EINVAL;
        hl = (size_t)(colon - text);
    }
    if (hl == 0 || hl >= sizeof host || (port = async__parse_port(colon + 1)) < 0)
        return ASYNC_EINVAL;
    async__memcpy(host, h, hl);
    host[hl] = 0;
    async__memset(a, 0, sizeof *a);
    if (*text == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)a->u.bytes;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return ASYNC_EINVAL;
        a->len = sizeof *in6;
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)a->u.bytes;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) return ASYNC_EINVAL;
        a->len = sizeof *in4;
    }
    return 0;
}

ASYNC_DEF int async_addr_family(const async_addr *a) {
    return a && a->len ? (int)async__sa(a)->sa_family : (int)ASYNC_EINVAL;
}

ASYNC_DEF void *async_addr_sockaddr(async_addr *a) {
    return a ? (void *)a->u.bytes : NULL;
}

ASYNC_DEF int async_addr_port(const async_addr *a) {
    int f = async_addr_family(a);
    if (f == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)a->u.bytes)->sin_port);
    if (f == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)a->u.bytes)->sin6_port);
    return ASYNC_EINVAL;
}

/* Returns the length written (without the NUL), or ASYNC_ELIMIT if it did not fit
   (the text is then cut short, still NUL-terminated). */
ASYNC_DEF int async_addr_format(const async_addr *a, char *buf, size_t size) {
    char host[INET6_ADDRSTRLEN];
    int f = async_addr_family(a), n;
    if (!buf || !size || f < 0) return ASYNC_EINVAL;
    if (f == AF_INET || f == AF_INET6) {
        const void *src = f == AF_INET
            ? (const void *)&((const struct sockaddr_in *)(const void *)a->u.bytes)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)(const void *)a->u.bytes)->sin6_addr;
        if (!inet_ntop(f, (void *)(uintptr_t)src, host, sizeof host)) return -errno;
        n = snprintf(buf, size, f == AF_INET ? "%s:%d" : "[%s]:%d", host, async_addr_port(a));
#ifndef ASYNC__WIN32
    } else if (f == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)a->u.bytes;
        size_t pl = a->len > offsetof(struct sockaddr_un, sun_path)
                  ? a->len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (pl > sizeof un->sun_path) pl = sizeof un->sun_path;
        n = snprintf(buf, size, "unix:%.*s", (int)pl, un->sun_path);   /* unnamed: "unix:" */
#endif
    } else {
        n = snprintf(buf, size, "family %d", f);
    }
    if (n < 0) return ASYNC_EINVAL;
    return (size_t)n >= size ? ASYNC_ELIMIT : n;
}

/* ---- sockets --------------------------------------------------------------------- */

static int async__socket(int family, int type) {
    int fd;
#ifdef ASYNC__SOCK_FLAGS
    if (ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL)) return -errno;
    fd = socket(family, type | ASYNC__SOCK_FLAGS, 0);
    if (fd < 0) return -errno;
#else
    if (ASYNC__FAULT(ASYNC_SYS_SOCKET, -1, NULL)) return -errno;
    fd = socket(family, type, 0);
    if (fd < 0) return -errno;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || async__cloexec(fd) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
#endif
    async__nosigpipe(fd);
    return fd;
}

static int async__setopt(int fd, int level, int name, int on) {
    return setsockopt(fd, level, name, &on, sizeof on) < 0 ? -errno : 0;
}

static int async__check_addr(const async_addr *a) {
    int f = async_addr_family(a);
    if (f != AF_INET && f != AF_INET6 && f != AF_UNIX) return ASYNC_EINVAL;
    if (a->len > sizeof a->u.bytes) return ASYNC_EINVAL;
    return f;
}

/* A socket made, bound and registered, or closed again. */
static int async__sock_open(async_runtime *rt, async_io *io, const async_addr *a, int type,
                            const async_listen_opts *o) {
    int f, fd, rc = 0;
    if (!rt || !io || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if ((f = async__check_addr(a)) < 0) return f;
    if ((io->flags & ASYNC__IO_REG) && io->rt) return ASYNC_EBUSY;
    if ((fd = async__socket(f, type)) < 0) return fd;
#ifndef ASYNC__WIN32    /* there it lets another socket take the port: never wanted */
    if (o && f != AF_UNIX && !o->no_reuseaddr) rc = async__setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
#endif
#ifdef ASYNC__SO_REUSEPORT
    if (!rc && o && o->reuseport) rc = async__setopt(fd, SOL_SOCKET, ASYNC__SO_REUSEPORT, 1);
#elif defined(ASYNC__WIN32)
    if (!rc && o && o->reuseport) rc = ASYNC_ENOSYS;  /* no such sharing there */
#else
    if (!rc && o && o->reuseport) rc = ASYNC_EINVAL;
#endif
    if (!rc && o && f == AF_INET6) rc = async__setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only);
#ifndef ASYNC__WIN32
    if (!rc && o && o->unlink && f == AF_UNIX) {
        struct stat st;
        const char *path = ((const struct sockaddr_un *)(const void *)a->u.bytes)->sun_path;
        if (path[0] && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) (void)unlink(path);
    }
#endif
    if (!rc && (ASYNC__FAULT(ASYNC_SYS_BIND, fd, NULL) ||
                bind(fd, async__sa(a), (socklen_t)a->len) < 0))
        rc = -errno;
    if (!rc && type == SOCK_STREAM && (ASYNC__FAULT(ASYNC_SYS_BIND, fd, NULL) ||
                                       listen(fd, o->backlog > 0 ? o->backlog : 1024) < 0))
        rc = -errno;
    if (!rc) rc = async__io_add(rt, io, fd, 1);
    if (rc < 0) close(fd);
    return rc;
}

ASYNC_DEF int async_sock_listen(async_runtime *rt, async_io *io, const async_addr *a,
                                const async_listen_opts *opts) {
    async_listen_opts o;
    if (opts) o = *opts;
    else async__memset(&o, 0, sizeof o);
    if (o.backlog < 0) return ASYNC_EINVAL;
    return async__sock_open(rt, io, a, SOCK_STREAM, &o);
}

ASYNC_DEF int async_udp_bind(async_runtime *rt, async_io *io, const async_addr *a) {
    return async__sock_open(rt, io, a, SOCK_DGRAM, NULL);
}

ASYNC_DEF int async_udp_connect(async_io *io, const async_addr *a) {
    if (!io || !(io->flags & ASYNC__IO_REG) || async__check_addr(a) < 0) return ASYNC_EINVAL;
    return connect(io->fd, async__sa(a), (socklen_t)a->len) < 0 ? -errno : 0;
}

ASYNC_DEF int async_sock_accept(async_task *t, async_io *lis, async_waiter *w, async_io *conn,
                                async_addr *peer) {
    int rc;
    if (!t || !lis || !w || !conn || conn == lis) return ASYNC_EINVAL;
    if ((conn->flags & ASYNC__IO_REG) && conn->rt && !ASYNC__CANCELLING(t))
        return ASYNC_EBUSY;
    while ((rc = async__io_enter(t, lis, w, ASYNC_IO_READ)) == 1) {
        async_addr a;
        socklen_t len = (socklen_t)sizeof a.u.bytes;
        int fd = -1, nonblock = 0, ring = 0;
        a.len = 0;                      /* (filled by accept4 or getpeername) */
#ifdef ASYNC__URING
        if ((lis->flags & ASYNC__IO_URING) &&       /* accepted by the ring: BACKENDS */
            (fd = async__ur_accept(&lis->rt->io, lis)) != ASYNC__CIO_SYS) {
            if (fd == ASYNC__CIO_WAIT) continue;
            if (fd >= 0 && peer && getpeername(fd, async__sa(&a), &len) < 0) {
                close(fd);              /* reset before it was taken: as ECONNABORTED */
                continue;
            }
            if (fd < 0) errno = -fd;
            ring = 1;
        }
#endif
#ifdef ASYNC__LINUX
        if (!ring)
            fd = ASYNC__FAULT(ASYNC_SYS_ACCEPT, lis->fd, NULL) ? -1 :
                 accept4(lis->fd, async__sa(&a), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        nonblock = 1;
#else
        (void)ring;
        fd = ASYNC__FAULT(ASYNC_SYS_ACCEPT, lis->fd, NULL) ? -1 :
             accept(lis->fd, async__sa(&a), &len);
        if (fd >= 0) {                  /* (a fork elsewhere in between inherits it) */
            (void)async__cloexec(fd);
            async__nosigpipe(fd);       /* inherited on FreeBSD, not said of macOS */
        }
#endif
        if (fd >= 0) {
            if ((rc = async__io_add(t->rt, conn, fd, nonblock)) < 0) {
                close(fd);
                return rc;
            }
            conn->flags &= (uint8_t)~ASYNC__IO_MADE_NONBLOCK;   /* ours: nothing to restore */
            conn->flags |= ASYNC__IO_STREAM;
            if (peer) {
                *peer = a;
                peer->len = (uint32_t)len;
            }
            async__io_done(t);
            return 0;
        }
        /* a connection that died in the backlog, or a signal: try the next */
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (!async__io_again()) return -errno;  /* EMFILE, ENFILE...: see the manual */
        lis->ready = (uint8_t)(lis->ready & ~ASYNC_IO_READ);
    }
    return rc;
}

/* The first poll makes the socket and starts the connection; the io is registered
   from then on. A failure or a cancel closes it again: the io is as it was. On
   io_uring a TCP connection is made by an IORING_OP_CONNECT submitted with the turn's
   enter (its completion is the result: no connect(2), no poll, no SO_ERROR); should
   the ring give it back (its ring replaced), connect(2) is called again, which says
   whether it is in progress (EALREADY), made (EISCONN) or refused. */
ASYNC_DEF int async_sock_connect(async_task *t, async_io *io, async_waiter *w,
                                 const async_addr *a) {
    int rc, err = 0, r;
    socklen_t el = sizeof err;
    if (!t || !io || !w) return ASYNC_EINVAL;
    if (!(io->flags & ASYNC__IO_REG) || !io->rt) {
        int f, fd;
        if (w->state == ASYNC__W_CLOSED) {      /* closed while it connected: over */
            w->state = ASYNC__W_IDLE;
            w->kind = 0;
            return ASYNC_ECLOSED;
        }
        if (ASYNC__CANCELLING(t)) return ASYNC_ECANCELED;
        if ((f = async__check_addr(a)) < 0) return f;
        if ((fd = async__socket(f, SOCK_STREAM)) < 0) return fd;
        if ((rc = async__io_add(t->rt, io, fd, 1)) < 0) {
            close(fd);
            return rc;
        }
        w->state = ASYNC__W_IDLE;
        w->kind = 0;
        io->flags |= ASYNC__IO_STREAM;
        if (ASYNC__FAULT(ASYNC_SYS_CONNECT, fd, NULL)) {
            r = -1;
#ifdef ASYNC__URING
        } else if ((io->flags & ASYNC__IO_URING) && f != AF_UNIX &&
                   async__ur_send(t, io, w, a->u.bytes, a->len, 1) == ASYNC_PENDING) {
            io->flags |= ASYNC__IO_CONNECTING;
            return ASYNC_PENDING;       /* (a Unix socket's connect is at once) */
#endif
        } else {
            r = connect(fd, async__sa(a), (socklen_t)a->len);
        }
        if (r == 0) {
            async__io_done(t);
            return 0;                   /* at once (a local peer) */
        }
        if (errno != EINPROGRESS && errno != EINTR) {
            rc = -errno;                /* EAGAIN on a Unix socket: its backlog is full */
            async_io_close(io);
            return rc;
        }
        io->flags |= ASYNC__IO_CONNECTING;
        io->ready = (uint8_t)(io->ready & ~ASYNC_IO_WRITE);
    } else if (!(io->flags & ASYNC__IO_CONNECTING)) {
        return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : ASYNC_EBUSY;
#ifdef ASYNC__URING
    } else if (w->kind == ASYNC__W_TX) {        /* made through the ring */
        if ((rc = async__ur_sent(t, io, w)) == ASYNC_PENDING) return rc;
        if (rc == -EINPROGRESS || rc == -EALREADY) rc = ASYNC__CIO_SYS;   /* (old kernels) */
        if (rc == ASYNC__CIO_SYS) {             /* given back: connect(2) says how far */
            r = connect(io->fd, async__sa(a), (socklen_t)a->len);
            if (r == 0 || errno == EISCONN) {
                io->flags &= (uint8_t)~ASYNC__IO_CONNECTING;
                async__io_done(t);
                return 0;
            }
            if (errno != EINPROGRESS && errno != EALREADY && errno != EINTR) {
                rc = -errno;
                io->flags &= (uint8_t)~ASYNC__IO_CONNECTING;
                async_io_close(io);
                return rc;
            }
            io->ready = (uint8_t)(io->ready & ~ASYNC_IO_WRITE);
        } else {
            io->flags &= (uint8_t)~ASYNC__IO_CONNECTING;
            if (rc < 0) async_io_close(io);     /* cancelled, refused, unreachable... */
            return rc;                          /* (its budget spent by async__ur_sent) */
        }
#endif
    }
    rc = async__io_enter(t, io, w, ASYNC_IO_WRITE);
    if (rc == ASYNC_PENDING) return rc;
    if (rc == 1 && getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
    io->flags &= (uint8_t)~ASYNC__IO_CONNECTING;
    if (rc != 1 || err) {               /* cancelled, refused, unreachable... */
        if (rc == 1) rc = -err;
        async_io_close(io);
        return rc;
    }
    async__io_done(t);
    return 0;
}

ASYNC_DEF int async_sock_local_addr(const async_io *io, async_addr *a) {
    socklen_t len;
    if (!io || !a || !(io->flags & ASYNC__IO_REG)) return ASYNC_EINVAL;
    async__memset(a, 0, sizeof *a);
    len = (socklen_t)sizeof a->u.bytes;
    if (getsockname(io->fd, async__sa(a), &len) < 0) return -errno;
    a->len = (uint32_t)len;
    return 0;
}

ASYNC_DEF int async_sock_peer_addr(const async_io *io, async_addr *a) {
    socklen_t len;
    if (!io || !a || !(io->flags & ASYNC__IO_REG)) return ASYNC_EINVAL;
    async__memset(a, 0, sizeof *a);
    len = (socklen_t)sizeof a->u.bytes;
    if (getpeername(io->fd, async__sa(a), &len) < 0) return -errno;
    a->len = (uint32_t)len;
    return 0;
}

ASYNC_DEF int async_sock_set_nodelay(async_io *io, int on) {
    if (!io || !(io->flags & ASYNC__IO_REG)) return ASYNC_EINVAL;
    return async__setopt(io->fd, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

ASYNC_DEF int async_sock_set_keepalive(async_io *io, int on) {
    if (!io || !(io->flags & ASYNC__IO_REG)) return ASYNC_EINVAL;
    return async__setopt(io->fd, SOL_SOCKET, SO_KEEPALIVE, on != 0);
}

/* The pending error of a socket (SO_ERROR), cleared by reading it: 0 or -errno. */
ASYNC_DEF int async_sock_take_error(async_io *io) {
    int err = 0;
    socklen_t el = sizeof err;
    if (!io || !(io->flags & ASYNC__IO_REG)) return ASYNC_EINVAL;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) return -errno;
    return -err;
}

ASYNC_DEF int async_udp_send_to(async_task *t, async_io *io, async_waiter *w, const void *buf,
                                size_t len, const async_addr *to) {
    int rc;
    if (!t || !io || !w || (!buf && len) || (to && async__check_addr(to) < 0))
        return ASYNC_EINVAL;
    if (len > INT_MAX) return ASYNC_EINVAL;     /* a datagram is not cut short */
    while ((rc = async__io_enter(t, io, w, ASYNC_IO_WRITE)) == 1) {
        ssize_t n = ASYNC__FAULT(ASYNC_SYS_SENDTO, io->fd, NULL) ? -1
                  : to ? sendto(io->fd, buf, len, ASYNC__NOSIGNAL, async__sa(to),
                                (socklen_t)to->len)
                       : send(io->fd, buf, len, ASYNC__NOSIGNAL);
        if (n >= 0) {
            async__io_done(t);
            return (int)n;
        }
        if (errno == EINTR) continue;
        if (!async__io_again()) return -errno;
        io->ready = (uint8_t)(io->ready & ~ASYNC_IO_WRITE);
    }
    return rc;
}

/* Returns the datagram's length; a longer one is cut to len (the rest is lost, as
   recvfrom(2)). */
ASYNC_DEF int async_udp_recv_from(async_task *t, async_io *io, async_waiter *w, void *buf,
                                  size_t len, async_addr *from) {
    int rc;
    if (!t || !io || !w || (!buf && len)) return ASYNC_EINVAL;
    if (len > INT_MAX) len = INT_MAX;
#ifdef ASYNC__URING
    if (io->flags & ASYNC__IO_URX) {    /* a stream read through the ring: no address */
        rc = async_io_read(t, io, w, buf, len);
        if (rc >= 0 && from) from->len = 0;
        return rc;
    }
#endif
    while ((rc = async__io_enter(t, io, w, ASYNC_IO_READ)) == 1) {
        async_addr a;
        socklen_t al = (socklen_t)sizeof a.u.bytes;
        ssize_t n = ASYNC__FAULT(ASYNC_SYS_RECVFROM, io->fd, NULL) ? -1
                  : recvfrom(io->fd, buf, len, 0, async__sa(&a), &al);
        if (n >= 0) {
            if (from) {
                *from = a;
                from->len = (uint32_t)al;
            }
            async__io_done(t);
            return (int)n;
        }
        if (errno == EINTR) continue;
        if (!async__io_again()) return -errno;
        io->ready = (uint8_t)(io->ready & ~ASYNC_IO_READ);
    }
    return rc;
}
/* ---- buffered reader and writer --------------------------------------------------- */

ASYNC_DEF int async_bufreader_init(async_bufreader *r, async_io *io, void *buf, size_t cap) {
    if (!r || !io || !buf || !cap || cap > INT_MAX) return ASYNC_EINVAL;
    async__memset(r, 0, sizeof *r);
    r->io = io;
    r->buf = (unsigned char *)buf;
    r->cap = cap;
    return 0;
}

/* op: the number of bytes buffered (read more if none), 0 at end of file
   (tokio's fill_buf). The bytes are at async_bufreader_data until consumed. */
ASYNC_DEF int async_bufreader_fill(async_task *t, async_bufreader *r, async_waiter *w) {
    int n;
    if (!t || !r || !w || !r->buf) return ASYNC_EINVAL;
    if (r->end > r->start && !ASYNC__CANCELLING(t)) return (int)(r->end - r->start);
    if (r->eof && !ASYNC__CANCELLING(t)) return 0;
    if (r->start == r->end) r->start = r->end = 0;
    n = async_io_read(t, r->io, w, r->buf + r->end, r->cap - r->end);
    if (n > 0) r->end += (size_t)n;
    else if (n == 0) r->eof = 1;
    return n;
}

ASYNC_DEF const void *async_bufreader_data(const async_bufreader *r, size_t *len) {
    if (!r) return NULL;
    if (len) *len = r->end - r->start;
    return r->buf + r->start;
}

ASYNC_DEF int async_bufreader_consume(async_bufreader *r, size_t n) {
    if (!r || n > r->end - r->start) return ASYNC_EINVAL;
    r->start += n;
    if (r->start == r->end) r->start = r->end = 0;
    return 0;
}

/* Room at the end: slide the buffered bytes to the front. */
static void async__bufreader_compact(async_bufreader *r) {
    if (r->start) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
}

/* op: read more after what is buffered (for a parser that needs more bytes than it
   has): the count of new bytes, 0 at end of file, ASYNC_ELIMIT if the buffer is
   full of unconsumed bytes. */
ASYNC_DEF int async_bufreader_fill_more(async_task *t, async_bufreader *r, async_waiter *w) {
    int n;
    if (!t || !r || !w || !r->buf) return ASYNC_EINVAL;
    if (!ASYNC__CANCELLING(t)) {
        if (r->eof) return 0;
        async__bufreader_compact(r);
        if (r->end == r->cap) return ASYNC_ELIMIT;
    }
    n = async_io_read(t, r->io, w, r->buf + r->end, r->cap - r->end);
    if (n > 0) r->end += (size_t)n;
    else if (n == 0) r->eof = 1;
    return n;
}

ASYNC_DEF int async_bufreader_read(async_task *t, async_bufreader *r, async_waiter *w,
                                   void *out, size_t len) {
    int n;
    if (!t || !r || !w || (!out && len)) return ASYNC_EINVAL;
    if (len > INT_MAX) len = INT_MAX;
    if (r->end == r->start && len >= r->cap && !r->eof)
        return async_io_read(t, r->io, w, out, len);    /* big read: skip the buffer */
    n = async_bufreader_fill(t, r, w);
    if (n <= 0) return n;
    if ((size_t)n > len) n = (int)len;
    async__memcpy(out, r->buf + r->start, (size_t)n);
    async_bufreader_consume(r, (size_t)n);
    return n;
}

/* op: copies bytes up to and including delim into out; returns their count. At end
   of file it returns what is left (without delim), then 0. ASYNC_ELIMIT if cap bytes
   came without delim: those cap bytes are in out and consumed. The bytes copied so
   far are in w->got while it waits. */
ASYNC_DEF int async_bufreader_read_until(async_task *t, async_bufreader *r, async_waiter *w,
                                         int delim, void *out, size_t cap) {
    unsigned char *o = (unsigned char *)out;
    if (!t || !r || !w || !out || !cap || cap > INT_MAX) return ASYNC_EINVAL;
    for (;;) {
        int n = async_bufreader_fill(t, r, w);
        size_t avail, take;
        const unsigned char *p, *hit;
        if (n == ASYNC_PENDING) return n;
        if (n < 0) {
            w->got = 0;
            return n;
        }
        if (n == 0) {                   /* end of file */
            n = (int)w->got;
            w->got = 0;
            return n;
        }
        p = r->buf + r->start;
        avail = r->end - r->start;
        take = avail < cap - w->got ? avail : cap - w->got;
        hit = (const unsigned char *)memchr(p, delim, take);
        if (hit) take = (size_t)(hit - p) + 1;
        async__memcpy(o + w->got, p, take);
        async_bufreader_consume(r, take);
        w->got += take;
        if (hit || w->got == cap) {
            n = (int)w->got;
            w->got = 0;
            return hit ? n : ASYNC_ELIMIT;
        }
    }
}

/* op: one line, '\n' included, NUL-terminated (so at most cap - 1 bytes); its
   length, 0 at end of file, ASYNC_ELIMIT for a longer line (its first cap - 1
   bytes are in line; the rest is still to read). */
ASYNC_DEF int async_bufreader_read_line(async_task *t, async_bufreader *r, async_waiter *w,
                                        char *line, size_t cap) {
    int n;
    if (!line || cap < 2) return ASYNC_EINVAL;
    n = async_bufreader_read_until(t, r, w, '\n', line, cap - 1);
    if (n >= 0) line[n] = 0;
    else if (n == ASYNC_ELIMIT) line[cap - 1] = 0;
    return n;
}

ASYNC_DEF int async_bufwriter_init(async_bufwriter *wr, async_io *io, void *buf, size_t cap) {
    if (!wr || !io || !buf || !cap || cap > INT_MAX) return ASYNC_EINVAL;
    async__memset(wr, 0, sizeof *wr);
    wr->io = io;
    wr->buf = (unsigned char *)buf;
    wr->cap = cap;
    return 0;
}

/* op: writes out everything buffered. Cancel safe: what is not written yet stays. */
ASYNC_DEF int async_bufwriter_flush(async_task *t, async_bufwriter *wr, async_waiter *w) {
    if (!t || !wr || !w) return ASYNC_EINVAL;
    while (wr->done < wr->len || ASYNC__CANCELLING(t)) {
        int n = async_io_write(t, wr->io, w, wr->buf + wr->done, wr->len - wr->done);
        if (n < 0) return n;
        wr->done += (size_t)n;
    }
    wr->len = wr->done = 0;
    return 0;
}

/* op: len once data is buffered or written. A write that does not fit flushes
   first; one at least as large as the buffer then goes straight out (write_all). */
ASYNC_DEF int async_bufwriter_write(async_task *t, async_bufwriter *wr, async_waiter *w,
                                    const void *data, size_t len) {
    int rc;
    if (!t || !wr || !w || (!data && len) || len > INT_MAX) return ASYNC_EINVAL;
    if (!ASYNC__CANCELLING(t) && w->got == 0 && len <= wr->cap - wr->len) {
        async__memcpy(wr->buf + wr->len, data, len);
        wr->len += len;
        return (int)len;
    }
    if (w->got == 0 && (wr->len > wr->done || ASYNC__CANCELLING(t))) {
        rc = async_bufwriter_flush(t, wr, w);
        if (rc < 0) return rc;
    }
    if (len < wr->cap) {
        async__memcpy(wr->buf, data, len);
        wr->len = len;
        return (int)len;
    }
    return async_io_write_all(t, wr->io, w, data, len);
}

/* ---- signals ----------------------------------------------------------------------
   One handler per signal number, process-wide, installed by the first subscription
   and chained to the handler that was there before (so other users of the signal
   keep working). It counts the delivery and wakes every subscriber's runtime
   through its waker: only atomics and write(2), async-signal-safe. Windows: the C
   library's signal() for SIGINT, SIGTERM, SIGBREAK (raise, and Ctrl-C), and a console
   handler for the console's events (see the manual, WINDOWS). */
#ifndef ASYNC__WIN32
#include <sys/wait.h>
extern char **environ;
#endif
#ifndef NSIG
#define NSIG 65
#endif

#define ASYNC__SIG_SLOTS 1024
#define ASYNC__ORPHANS 256
static async_signal *volatile async__sig_tab[ASYNC__SIG_SLOTS];
static volatile int async__sig_hwm;                 /* slots in use are below it */
static volatile int async__sig_gen[NSIG];           /* deliveries, per signal */
static volatile int async__sig_busy;                /* handlers running now */
static volatile int async__sig_lock;
static int async__sig_users[NSIG];                  /* subscriptions (under the lock) */

static void async__sig_acquire(void) {
    while (ASYNC__XCHG(&async__sig_lock, 1)) {}
}
static void async__sig_release(void) {
    ASYNC__STORE(&async__sig_lock, 0);
}

#ifdef ASYNC__WIN32
static void (*async__sig_prev[NSIG])(int);
static volatile int async__sig_console;            /* the console handler is in */

/* Count the delivery, wake every subscriber's runtime (any thread) */
static void async__sig_deliver(int signo) {
    int i, n;
    ASYNC__ADD(&async__sig_busy, 1);
    ASYNC__ADD(&async__sig_gen[signo], 1);
    n = ASYNC__LOAD(&async__sig_hwm);
    for (i = 0; i < n; i++) {
        async_signal *s = ASYNC__LOAD(&async__sig_tab[i]);
        if (s && s->signo == signo) async_waker_wake(&s->waker);
    }
    ASYNC__ADD(&async__sig_busy, -1);
}
static void async__sig_handler(int signo) {
    void (*prev)(int) = async__sig_prev[signo];
    int saved = errno;
    (void)signal(signo, async__sig_handler);   /* the C library resets it each time */
    async__sig_deliver(signo);
    if (prev && prev != SIG_DFL && prev != SIG_IGN && prev != SIG_ERR) prev(signo);
    errno = saved;
}
/* The console's events, on a thread of the system's: Ctrl-C is SIGINT; Ctrl-Break,
   closing the console, logoff and shutdown are SIGTERM (the last three end the
   process when the handler returns: it waits, and the program's own exit ends it,
   within the few seconds Windows gives). Not subscribed: the next handler decides. */
static BOOL WINAPI async__sig_console_event(DWORD ev) {
    int signo = ev == CTRL_C_EVENT ? SIGINT : SIGTERM;
    if (ev > CTRL_SHUTDOWN_EVENT || !ASYNC__LOAD(&async__sig_users[signo])) return FALSE;
    async__sig_deliver(signo);
    if (ev >= CTRL_CLOSE_EVENT) Sleep(INFINITE);
    return TRUE;
}
/* Under the lock: one more (or one less) subscriber to signo. */
static int async__sig_use(int signo, int delta) {
    if (delta > 0 && async__sig_users[signo]++ == 0) {
        void (*prev)(int) = signal(signo, async__sig_handler);
        if (prev == SIG_ERR) {
            async__sig_users[signo]--;
            return ASYNC_EINVAL;
        }
        async__sig_prev[signo] = prev;
        if (signo != SIGBREAK && !async__sig_console &&
            SetConsoleCtrlHandler(async__sig_console_event, TRUE))
            async__sig_console = 1;     /* stays: it looks at the subscriptions */
    } else if (delta < 0 && --async__sig_users[signo] == 0) {
        (void)signal(signo, async__sig_prev[signo] ? async__sig_prev[signo] : SIG_DFL);
    }
    return 0;
}
/* What Windows has: SIGINT, SIGTERM, SIGBREAK; the others ASYNC_ENOSYS */
static int async__sig_allowed(int signo) {
    return signo == SIGINT || signo == SIGTERM || signo == SIGBREAK;
}
#else
static struct sigaction async__sig_prev[NSIG];
static volatile int async__orphans[ASYNC__ORPHANS]; /* children nobody waits for */

static void async__sig_handler(int signo, siginfo_t *info, void *ctx) {
    int saved = errno, i, n;
    const struct sigaction *prev;
    ASYNC__ADD(&async__sig_busy, 1);
    ASYNC__ADD(&async__sig_gen[signo], 1);
    n = ASYNC__LOAD(&async__sig_hwm);
    for (i = 0; i < n; i++) {
        async_signal *s = ASYNC__LOAD(&async__sig_tab[i]);
        if (s && s->signo == signo) async_waker_wake(&s->waker);
    }
    if (signo == SIGCHLD) {             /* reap the children nobody waits for */
        for (i = 0; i < ASYNC__ORPHANS; i++) {
            int pid = ASYNC__LOAD(&async__orphans[i]);
            if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
                (void)ASYNC__CAS(&async__orphans[i], pid, 0);
        }
    }
    ASYNC__ADD(&async__sig_busy, -1);
    prev = &async__sig_prev[signo];
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) prev->sa_sigaction(signo, info, ctx);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(signo);
    }
    errno = saved;
}

/* Under the lock: one more (or one less) subscriber to signo. */
static int async__sig_use(int signo, int delta) {
    struct sigaction sa;
    if (delta > 0 && async__sig_users[signo]++ == 0) {
        async__memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = async__sig_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
        sigfillset(&sa.sa_mask);
        if (sigaction(signo, &sa, &async__sig_prev[signo]) < 0) {
            async__sig_users[signo]--;
            return -errno;
        }
    } else if (delta < 0 && --async__sig_users[signo] == 0) {
        (void)sigaction(signo, &async__sig_prev[signo], NULL);     /* as it was */
    }
    return 0;
}

static int async__sig_allowed(int signo) {
    return signo > 0 && signo < NSIG && signo != SIGKILL && signo != SIGSTOP &&
           signo != SIGSEGV && signo != SIGBUS && signo != SIGFPE && signo != SIGILL;
}
#endif

/* Deliveries are counted from here on; several before a recv count as one (as
   Tokio). SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS, SIGFPE and SIGILL
   are refused (ASYNC_EINVAL), as Tokio does. */
ASYNC_DEF int async_signal_init(async_signal *s, async_runtime *rt, int signo) {
    int i, rc;
#ifdef ASYNC__WIN32
    if (s && rt && signo > 0 && signo < NSIG && !async__sig_allowed(signo) &&
        signo != SIGSEGV && signo != SIGFPE && signo != SIGILL) {     /* those: EINVAL */
        async__memset(s, 0, sizeof *s);
        s->slot = -1;
        return ASYNC_ENOSYS;            /* a POSIX signal Windows does not have */
    }
#endif
    if (!s || !rt || !async__sig_allowed(signo)) return ASYNC_EINVAL;
    async__memset(s, 0, sizeof *s);
    s->slot = -1;
    if ((rc = async_waker_init(rt, &s->waker)) < 0) return rc;
    s->signo = signo;
    async__sig_acquire();
    for (i = 0; i < ASYNC__SIG_SLOTS && async__sig_tab[i]; i++) {}
    if (i == ASYNC__SIG_SLOTS) {
        rc = ASYNC_ELIMIT;
    } else if ((rc = async__sig_use(signo, 1)) == 0) {
        s->slot = i;
        s->seen = (uint32_t)ASYNC__LOAD(&async__sig_gen[signo]);
        ASYNC__STORE(&async__sig_tab[i], s);
        if (i >= async__sig_hwm) ASYNC__STORE(&async__sig_hwm, i + 1);
    }
    async__sig_release();
    if (rc < 0) async_waker_destroy(&s->waker);
    return rc;
}

/* Returns the signal number once it was delivered since the last recv (or init). */
ASYNC_DEF int async_signal_recv(async_task *t, async_signal *s) {
    int rc;
    if (!t || !s || s->slot < 0) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) return async_waker_wait(t, &s->waker);
    for (;;) {
        uint32_t g = (uint32_t)ASYNC__LOAD(&async__sig_gen[s->signo]);
        if (g != s->seen) {
            if (!async__coop(t)) return ASYNC_PENDING;
            s->seen = g;
            async__waker_disarm(&s->waker, t);
            return s->signo;
        }
        rc = async_waker_wait(t, &s->waker);    /* 0: woken since: look again */
        if (rc != 0) return rc;
    }
}

ASYNC_DEF int async_signal_destroy(async_signal *s) {
    int rc, mine;
    if (!s || s->slot < 0 || s->slot >= ASYNC__SIG_SLOTS) return ASYNC_EINVAL;
    /* Only a subscription clears its own slot: a zeroed async_signal (a child whose
       spawn failed, one never made) says slot 0, which may be someone else's. */
    async__sig_acquire();
    mine = ASYNC__LOAD(&async__sig_tab[s->slot]) == s;
    async__sig_release();
    if (!mine) return ASYNC_EINVAL;
    if ((rc = async_waker_destroy(&s->waker)) < 0) return rc;      /* a task waits */
    async__sig_acquire();
    ASYNC__STORE(&async__sig_tab[s->slot], (async_signal *)NULL);
    (void)async__sig_use(s->signo, -1);
    async__sig_release();
    while (ASYNC__LOAD(&async__sig_busy)) {}    /* a handler elsewhere may still see s */
    s->slot = -1;
    return 0;
}

/* ---- child processes ------------------------------------------------------------ */
#ifdef ASYNC__WIN32
#if !defined(ASYNC_NO_THREADS)
/* Windows: CreateProcess. Windows has no readiness for a process or an anonymous pipe,
   so each is serviced off the loop: a thread waits for the process's end and wakes
   the child's waker (c->sigchld.waker), and each pipe has a relay thread that copies
   between it and one end of a loopback socket pair whose other end is the async_io
   (c->in, c->out, c->err). The waiting thread owns the process state (win); a child
   destroyed while it runs and is not killed leaves it to that thread. */
struct async__child_win {
    HANDLE proc;
    volatile int lock, done, detached;
    DWORD code;
    async_waker *waker;
};
typedef struct { HANDLE pipe; SOCKET s; int to_pipe; } async__relay;

static unsigned __stdcall async__child_waiter(void *arg) {
    struct async__child_win *w = (struct async__child_win *)arg;
    (void)WaitForSingleObject(w->proc, INFINITE);
    while (ASYNC__XCHG(&w->lock, 1)) {}
    if (w->detached) {                  /* nobody left: ours to free */
        ASYNC__STORE(&w->lock, 0);
        CloseHandle(w->proc);
        async__dealloc(w);
        return 0;
    }
    if (!GetExitCodeProcess(w->proc, &w->code)) w->code = (DWORD)-1;
    ASYNC__STORE(&w->done, 1);
    async_waker_wake(w->waker);
    ASYNC__STORE(&w->lock, 0);
    return 0;
}
static unsigned __stdcall async__child_relay(void *arg) {
    async__relay r = *(async__relay *)arg;
    char buf[8192];
    async__dealloc(arg);
    for (;;) {
        DWORD n = 0, done = 0;
        int k;
        if (r.to_pipe) {
            if ((k = recv(r.s, buf, (int)sizeof buf, 0)) <= 0) break;
            for (n = (DWORD)k; done < n;) {
                DWORD w = 0;
                if (!WriteFile(r.pipe, buf + done, n - done, &w, NULL)) goto out;
                done += w;
            }
        } else {
            if (!ReadFile(r.pipe, buf, (DWORD)sizeof buf, &n, NULL) || n == 0) break;
            while (done < n && (k = send(r.s, buf + done, (int)(n - done), 0)) > 0)
                done += (DWORD)k;
            if (done < n) break;
        }
    }
out:
    CloseHandle(r.pipe);
    closesocket(r.s);
    return 0;
}
/* One of argv as the C library's argument parser reads it back */
static size_t async__child_quote(char *out, const char *a) {
    size_t n = 0, bs;
    if (*a && !strpbrk(a, " \t\n\v\"")) {
        if (out) async__memcpy(out, a, strlen(a));
        return strlen(a);
    }
    if (out) out[n] = '"';
    n++;
    for (;; a++) {
        for (bs = 0; *a == '\\'; a++) bs++;
        if (!*a || *a == '"') bs = bs * 2 + (*a == '"');
        for (; bs; bs--, n++)
            if (out) out[n] = '\\';
        if (!*a) break;
        if (out) out[n] = *a;
        n++;
    }
    if (out) out[n] = '"';
    return n + 1;
}
/* The command line, or the environment block (K=V\0...\0\0): allocated, or NULL */
static char *async__child_join(char *const v[], int env) {
    size_t n = 2, k = 0;
    int i;
    char *s;
    for (i = 0; v[i]; i++) n += (env ? strlen(v[i]) : async__child_quote(NULL, v[i])) + 1;
    if (!(s = (char *)async__alloc(n))) return NULL;
    for (i = 0; v[i]; i++) {
        if (env) {
            async__memcpy(s + k, v[i], strlen(v[i]) + 1);
            k += strlen(v[i]) + 1;
        } else {
            if (i) s[k++] = ' ';
            k += async__child_quote(s + k, v[i]);
        }
    }
    s[k++] = 0;
    s[k] = 0;
    return s;
}
static int async__win_errno(DWORD e) {
    switch (e) {
    case ERROR_FILE_NOT_FOUND: case ERROR_PATH_NOT_FOUND: case ERROR_INVALID_NAME: return ENOENT;
    case ERROR_ACCESS_DENIED: return EACCES;
    case ERROR_NOT_ENOUGH_MEMORY: case ERROR_OUTOFMEMORY: return ENOMEM;
    case ERROR_BAD_EXE_FORMAT: case ERROR_EXE_MACHINE_TYPE_MISMATCH: return ENOEXEC;
    case ERROR_DIRECTORY: return ENOTDIR;
    default: return EIO;
    }
}
/* A relay thread between pipe end p and socket s (to_pipe: socket to pipe); it owns
   both from here, even when it cannot start (then they are closed). */
static int async__child_relay_start(HANDLE p, int s, int to_pipe) {
    async__relay *r = (async__relay *)async__alloc(sizeof *r);
    uintptr_t th = 0;
    if (r) {
        r->pipe = p;
        r->s = (SOCKET)s;
        r->to_pipe = to_pipe;
        th = _beginthreadex(NULL, 0, async__child_relay, r, 0, NULL);
    }
    if (!th) {
        async__dealloc(r);
        CloseHandle(p);
        closesocket((SOCKET)s);
        return ASYNC_ENOMEM;
    }
    CloseHandle((HANDLE)th);            /* it ends by itself */
    return 0;
}

ASYNC_DEF int async_child_spawn(async_runtime *rt, async_child *c, const char *file,
                                char *const argv[], const async_child_opts *opts) {
    async_child_opts o;
    SECURITY_ATTRIBUTES sa;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE std[3] = {NULL, NULL, NULL}, mine[3] = {NULL, NULL, NULL};
    char exe[MAX_PATH], *cmd = NULL, *env = NULL;
    struct async__child_win *w = NULL;
    uintptr_t th;
    int i, rc = 0, fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    uint8_t mode[3];
    if (!rt || !c || !file || !argv || !argv[0] || !(rt->flags & ASYNC__RT_INIT))
        return ASYNC_EINVAL;
    if (opts) o = *opts;
    else async__memset(&o, 0, sizeof o);
    async__memset(c, 0, sizeof *c);
    c->sigchld.slot = -1;
    c->kill_on_destroy = o.kill_on_destroy;
    mode[0] = o.in;
    mode[1] = o.out;
    mode[2] = o.err;
    if (!SearchPathA(NULL, file, ".exe", (DWORD)sizeof exe, exe, NULL))
        return -async__win_errno(GetLastError());
    if (!(cmd = async__child_join(argv, 0)) || (o.env && !(env = async__child_join(o.env, 1))) ||
        !(w = (struct async__child_win *)async__alloc(sizeof *w))) {
        rc = ASYNC_ENOMEM;
        goto fail;
    }
    async__memset(w, 0, sizeof *w);
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    for (i = 0; i < 3; i++) {
        if (mode[i] == ASYNC_STDIO_PIPE) {
            HANDLE r, wr;
            if (!CreatePipe(&r, &wr, &sa, 0)) {
                rc = -async__win_errno(GetLastError());
                goto fail;
            }
            std[i] = i == 0 ? r : wr;
            mine[i] = i == 0 ? wr : r;
            (void)SetHandleInformation(mine[i], HANDLE_FLAG_INHERIT, 0);
            if (async__w_sockpair(fds[i]) < 0) {
                rc = -errno;
                goto fail;
            }
        } else if (mode[i] == ASYNC_STDIO_NULL) {
            std[i] = CreateFileA("NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ |
                                 FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
            if (std[i] == INVALID_HANDLE_VALUE) {
                std[i] = NULL;
                rc = -async__win_errno(GetLastError());
                goto fail;
            }
        }
    }
    async__memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = std[0] ? std[0] : GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = std[1] ? std[1] : GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = std[2] ? std[2] : GetStdHandle(STD_ERROR_HANDLE);
    if (ASYNC__FAULT(ASYNC_SYS_SPAWN, -1, NULL)) {
        rc = -errno;
        goto fail;
    }
    if (!CreateProcessA(exe, cmd, NULL, NULL, TRUE, 0, env, o.cwd, &si, &pi)) {
        rc = -async__win_errno(GetLastError());
        goto fail;
    }
    CloseHandle(pi.hThread);
    w->proc = pi.hProcess;
    if ((rc = async_waker_init(rt, &c->sigchld.waker)) < 0) {
        TerminateProcess(pi.hProcess, 1);
        goto fail;
    }
    w->waker = &c->sigchld.waker;
    c->pid = (int)pi.dwProcessId;
    c->win = w;
    th = _beginthreadex(NULL, 0, async__child_waiter, w, 0, NULL);
    if (!th) {                          /* cannot wait for it: it must not run on */
        TerminateProcess(pi.hProcess, 1);
        (void)WaitForSingleObject(pi.hProcess, INFINITE);
        w->code = 1;
        w->done = 1;
    } else {
        CloseHandle((HANDLE)th);
    }
    for (i = 0; i < 3; i++) {           /* the child has its ends: ours, relayed */
        async_io *io = i == 0 ? &c->in : i == 1 ? &c->out : &c->err;
        if (std[i]) CloseHandle(std[i]);
        std[i] = NULL;
        if (!mine[i]) continue;
        /* the pair: fds[i][0] reads what fds[i][1] writes */
        if (async__child_relay_start(mine[i], fds[i][i == 0 ? 0 : 1], i == 0) == 0 &&
            async__io_add(rt, io, fds[i][i == 0 ? 1 : 0], 0) == 0)
            io->flags |= ASYNC__IO_STREAM;
        else if (fds[i][i == 0 ? 1 : 0] >= 0)
            closesocket((SOCKET)fds[i][i == 0 ? 1 : 0]);
        mine[i] = NULL;
    }
    async__dealloc(cmd);
    async__dealloc(env);
    return 0;
fail:
    for (i = 0; i < 3; i++) {
        if (std[i]) CloseHandle(std[i]);
        if (mine[i]) CloseHandle(mine[i]);
        if (fds[i][0] >= 0) closesocket((SOCKET)fds[i][0]);
        if (fds[i][1] >= 0) closesocket((SOCKET)fds[i][1]);
    }
    if (w && w->proc) CloseHandle(w->proc);
    async__dealloc(w);
    async__dealloc(cmd);
    async__dealloc(env);
    async__memset(c, 0, sizeof *c);
    c->sigchld.slot = -1;
    return rc;
}

ASYNC_DEF int async_child_try_wait(async_child *c) {
    if (!c || c->pid <= 0 || !c->win) return ASYNC_EINVAL;
    if (c->reaped) return 1;
    if (!ASYNC__LOAD(&c->win->done)) return 0;
    c->status = (int)c->win->code;
    c->reaped = 1;
    c->exit_code = c->term_signal ? -1 : (int)c->win->code;
    return 1;
}

ASYNC_DEF int async_child_wait(async_task *t, async_child *c) {
    int rc;
    if (!t || !c || c->pid <= 0 || !c->win) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) return async_waker_wait(t, &c->sigchld.waker);
    for (;;) {
        if (async_child_try_wait(c) == 1) {
            if (!async__coop(t)) return ASYNC_PENDING;
            async__waker_disarm(&c->sigchld.waker, t);
            return 0;
        }
        rc = async_waker_wait(t, &c->sigchld.waker);    /* 0: woken since: look again */
        if (rc != 0) return rc;
    }
}

/* Windows has no signals to send: any signal but 0 terminates the child (its
   term_signal says which) */
ASYNC_DEF int async_child_kill(async_child *c, int signo) {
    if (!c || c->pid <= 0 || !c->win || signo < 0 || signo >= NSIG) return ASYNC_EINVAL;
    if (c->reaped) return ASYNC_ESTATE;
    if (signo == 0 || ASYNC__LOAD(&c->win->done)) return 0;
    if (!TerminateProcess(c->win->proc, 128 + (unsigned)signo))
        return -async__win_errno(GetLastError());
    c->term_signal = signo;
    return 0;
}

ASYNC_DEF int async_child_destroy(async_child *c) {
    struct async__child_win *w;
    if (!c) return ASYNC_EINVAL;
    if (c->sigchld.waker.task) return ASYNC_EBUSY;     /* a task waits for it */
    async_io_close(&c->in);
    async_io_close(&c->out);
    async_io_close(&c->err);
    if ((w = c->win) != NULL) {
        if (c->kill_on_destroy && !ASYNC__LOAD(&w->done)) {
            (void)TerminateProcess(w->proc, 1);
            while (!ASYNC__LOAD(&w->done)) Sleep(1);    /* its waiter sees the end */
        }
        while (ASYNC__XCHG(&w->lock, 1)) {}
        if (ASYNC__LOAD(&w->done)) {
            ASYNC__STORE(&w->lock, 0);
            CloseHandle(w->proc);
            async__dealloc(w);
        } else {
            w->detached = 1;            /* it runs on: its waiter frees w at the end */
            ASYNC__STORE(&w->lock, 0);
        }
        c->win = NULL;
    }
    async_waker_destroy(&c->sigchld.waker);
    c->pid = 0;
    return 0;
}
#else
ASYNC_DEF int async_child_spawn(async_runtime *rt, async_child *c, const char *file,
                                char *const argv[], const async_child_opts *opts) {
    if (!rt || !c || !file || !argv) return ASYNC_EINVAL;
    (void)opts;
    async__memset(c, 0, sizeof *c);
    c->sigchld.slot = -1;
    return ASYNC_ENOSYS;
}
ASYNC_DEF int async_child_wait(async_task *t, async_child *c) {
    return !t || !c ? ASYNC_EINVAL : ASYNC_ENOSYS;
}
ASYNC_DEF int async_child_try_wait(async_child *c) {
    return !c ? ASYNC_EINVAL : ASYNC_ENOSYS;
}
ASYNC_DEF int async_child_kill(async_child *c, int signo) {
    (void)signo;
    return !c ? ASYNC_EINVAL : ASYNC_ENOSYS;
}
ASYNC_DEF int async_child_destroy(async_child *c) {
    return !c ? ASYNC_EINVAL : 0;
}
#endif /* ASYNC_NO_THREADS */
#undef socket
#undef accept
#undef connect
#undef fcntl
#undef close
#undef read
#undef write
#undef send
#undef recvfrom
#undef sendto
#undef bind
#undef listen
#undef shutdown
#undef getsockname
#undef getpeername
#undef getsockopt
#undef setsockopt
#undef nfds_t
#undef MSG_NOSIGNAL
#undef F_GETFL
#undef F_SETFL
#undef F_SETFD
#undef FD_CLOEXEC
#undef O_NONBLOCK
#undef SHUT_RD
#undef SHUT_WR
#undef SHUT_RDWR
#ifdef ASYNC__SSIZE_T_DEFINED
#undef ssize_t
#endif
#else /* POSIX */
static int async__sigchld_pinned;       /* the SIGCHLD handler stays, for orphans */

/* PATH lookup in the parent (the child may only call async-signal-safe functions) */
static int async__find_exe(const char *file, char *out, size_t size) {
    const char *path, *p;
    if (strchr(file, '/')) {
        if (strlen(file) >= size) return -ENAMETOOLONG;
        async__memcpy(out, file, strlen(file) + 1);
        return 0;
    }
    path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path; ; p = strchr(p, ':') + 1) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : strlen(p);
        if (dl + strlen(file) + 2 <= size) {
            if (dl) {
                async__memcpy(out, p, dl);
                out[dl] = '/';
                async__memcpy(out + dl + 1, file, strlen(file) + 1);
            } else {
                async__memcpy(out, file, strlen(file) + 1);     /* empty entry: "." */
            }
            if (access(out, X_OK) == 0) return 0;
        }
        if (!end) break;
    }
    return -ENOENT;
}

static void async__close_pair(int *fds) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    fds[0] = fds[1] = -1;
}

static int async__cloexec_pipe(int *fds) {
    if (pipe(fds) < 0) {
        fds[0] = fds[1] = -1;
        return -errno;
    }
    (void)async__cloexec(fds[0]);
    (void)async__cloexec(fds[1]);
    return 0;
}

static void async__child_fail(int fd, int err) {
    ssize_t n = write(fd, &err, sizeof err);
    (void)n;
    _exit(127);
}

/* What runs in the child, between fork and execve: async-signal-safe calls only. Its
   stdin, stdout, stderr as mode[] says (pio: the pipes made for ASYNC_STDIO_PIPE), its
   signal mask and SIGPIPE as they were before the runtime, then the exec; a failure is
   reported to the parent as an errno through errfd (close-on-exec). Never returns. */
static void async__child_exec(const char *exe, char *const argv[], const async_child_opts *o,
                              const uint8_t mode[3], int pio[3][2], int errfd) {
    sigset_t none;
    int i, nul = -1;
    if (async__sigpipe_ignored) signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (i = 0; i < 3; i++) {
        int fd = -1;
        if (mode[i] == ASYNC_STDIO_PIPE) fd = pio[i][i == 0 ? 0 : 1];
        if (mode[i] == ASYNC_STDIO_NULL) {
            if (nul < 0 && (nul = open("/dev/null", O_RDWR)) < 0) async__child_fail(errfd, errno);
            fd = nul;
        }
        if (fd >= 0 && dup2(fd, i) < 0) async__child_fail(errfd, errno);
    }
    if (o->cwd && chdir(o->cwd) < 0) async__child_fail(errfd, errno);
    execve(exe, argv, o->env ? o->env : environ);
    async__child_fail(errfd, errno);
}

/* In the parent, once the child runs: register our ends of its pipes (the write end of
   its stdin, the read ends of its stdout and stderr), close the child's ends. On an
   error the child is destroyed (killed if asked, reaped) and every pipe closed. */
static int async__child_take_ends(async_runtime *rt, async_child *c, int pio[3][2]) {
    int i, rc;
    for (i = 0; i < 3; i++) {
        async_io *io = i == 0 ? &c->in : i == 1 ? &c->out : &c->err;
        int mine = i == 0 ? 1 : 0;
        if (pio[i][0] < 0) continue;
        close(pio[i][1 - mine]);
        pio[i][1 - mine] = -1;
        if ((rc = async__io_add(rt, io, pio[i][mine], 0)) < 0) {
            c->exit_code = -1;
            async_child_destroy(c);     /* closes what is registered, reaps */
            for (; i < 3; i++) async__close_pair(pio[i]);
            return rc;
        }
        io->flags &= (uint8_t)~ASYNC__IO_MADE_NONBLOCK;
        io->flags |= ASYNC__IO_STREAM | ASYNC__IO_NOT_SOCK;
        pio[i][mine] = -1;
    }
    return 0;
}

/* fork + execve, with the exec error reported through a close-on-exec pipe. */
ASYNC_DEF int async_child_spawn(async_runtime *rt, async_child *c, const char *file,
                                char *const argv[], const async_child_opts *opts) {
    async_child_opts o;
    char exe[4096];
    uint8_t mode[3];
    int pio[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, errp[2] = {-1, -1};
    int i, rc, pid, err = 0;
    ssize_t n;
    if (!rt || !c || !file || !argv || !argv[0] || !(rt->flags & ASYNC__RT_INIT))
        return ASYNC_EINVAL;
    if (c->pid > 0 && !c->reaped) return ASYNC_EBUSY;
    if (opts) o = *opts;
    else async__memset(&o, 0, sizeof o);
    if (o.in > 2 || o.out > 2 || o.err > 2) return ASYNC_EINVAL;
    if ((rc = async__find_exe(file, exe, sizeof exe)) < 0) return rc;
    async__memset(c, 0, sizeof *c);
    c->in.fd = c->out.fd = c->err.fd = -1;
    /* SIGCHLD is watched from before the fork, so no exit can be missed; its
       handler stays installed for good, to reap children nobody waits for */
    if ((rc = async_signal_init(&c->sigchld, rt, SIGCHLD)) < 0) return rc;
    async__sig_acquire();
    if (!async__sigchld_pinned) {
        async__sigchld_pinned = 1;
        async__sig_users[SIGCHLD]++;
    }
    async__sig_release();
    if ((rc = async__cloexec_pipe(errp)) < 0) goto fail;
    mode[0] = o.in;
    mode[1] = o.out;
    mode[2] = o.err;
    for (i = 0; i < 3; i++)
        if (mode[i] == ASYNC_STDIO_PIPE && (rc = async__cloexec_pipe(pio[i])) < 0) goto fail;
    pid = ASYNC__FAULT(ASYNC_SYS_SPAWN, -1, NULL) ? -1 : fork();
    if (pid < 0) {
        rc = -errno;
        goto fail;
    }
    if (pid == 0) async__child_exec(exe, argv, &o, mode, pio, errp[1]);    /* no return */
    close(errp[1]);
    errp[1] = -1;
    do n = read(errp[0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    errp[0] = -1;
    if (n == (ssize_t)sizeof err) {     /* exec failed: the child has exited */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        rc = -err;
        goto fail;
    }
    c->pid = pid;
    c->kill_on_destroy = o.kill_on_destroy;
    return async__child_take_ends(rt, c, pio);
fail:
    async__close_pair(errp);
    for (i = 0; i < 3; i++) async__close_pair(pio[i]);
    async_signal_destroy(&c->sigchld);
    async__memset(c, 0, sizeof *c);
    c->in.fd = c->out.fd = c->err.fd = -1;
    return rc;
}

static void async__child_reaped(async_child *c, int st) {
    c->status = st;
    c->reaped = 1;
    c->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    c->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/* 1 if it has exited (exit_code, term_signal set), 0 if it runs, or an error. */
ASYNC_DEF int async_child_try_wait(async_child *c) {
    int st = 0, r;
    if (!c || c->pid <= 0) return ASYNC_EINVAL;
    if (c->reaped) return 1;
    do r = waitpid(c->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;           /* ECHILD: reaped elsewhere (SIGCHLD ignored?) */
    if (r == 0) return 0;
    async__child_reaped(c, st);
    return 1;
}

/* op: 0 once the child has exited; cancel safe (the child runs on). */
ASYNC_DEF int async_child_wait(async_task *t, async_child *c) {
    int rc;
    if (!t || !c || c->pid <= 0) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) return async_signal_recv(t, &c->sigchld);
    for (;;) {
        rc = async_child_try_wait(c);
        if (rc == 1) {
            if (!async__coop(t)) return ASYNC_PENDING;
            async__waker_disarm(&c->sigchld.waker, t);
            return 0;
        }
        if (rc < 0) {
            async__waker_disarm(&c->sigchld.waker, t);
            return rc;
        }
        rc = async_signal_recv(t, &c->sigchld);     /* a SIGCHLD since: look again */
        if (rc < 0) return rc;
    }
}

ASYNC_DEF int async_child_kill(async_child *c, int signo) {
    if (!c || c->pid <= 0 || signo < 0 || signo >= NSIG) return ASYNC_EINVAL;
    if (c->reaped) return ASYNC_ESTATE;  /* its pid may belong to another process now */
    return kill(c->pid, signo) < 0 ? -errno : 0;
}

/* Closes our pipe ends. A child still running is killed if asked (opts), else left
   to run; either way it is reaped when it exits: no zombie. */
ASYNC_DEF int async_child_destroy(async_child *c) {
    int rc;
    if (!c) return ASYNC_EINVAL;
    if (c->sigchld.waker.task) return ASYNC_EBUSY;     /* a task waits for it */
    async_io_close(&c->in);
    async_io_close(&c->out);
    async_io_close(&c->err);
    if (c->pid > 0 && !c->reaped) {
        if (c->kill_on_destroy) (void)kill(c->pid, SIGKILL);
        if (async_child_try_wait(c) == 0) {
            int i;
            for (i = 0; i < ASYNC__ORPHANS; i++)
                if (ASYNC__CAS(&async__orphans[i], 0, c->pid)) break;
            if (i == ASYNC__ORPHANS) {
                if (c->kill_on_destroy)             /* no room: it dies now anyway */
                    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {}
            } else if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                (void)ASYNC__CAS(&async__orphans[i], c->pid, 0);    /* exited meanwhile */
            }
        }
    }
    rc = async_signal_destroy(&c->sigchld);     /* EINVAL: it had none */
    if (rc < 0 && rc != ASYNC_EINVAL) return rc;        /* a task still waits on it */
    c->pid = 0;
    return 0;
}

#endif /* POSIX: child processes */
#endif /* !ASYNC_FREESTANDING */

////////////////////////////////////////////////////////////////////////////////
// >>threads

#if !defined(ASYNC_FREESTANDING) && !defined(ASYNC_NO_THREADS)
/* The threads' primitives, POSIX or Win32: a mutex, a condition whose timed wait
   counts on the monotonic clock, threads started and joined, the cores online.
   Each returns 0 or a positive errno, as pthreads does. */
#ifdef ASYNC__WIN32
typedef SRWLOCK async__mutex;
typedef CONDITION_VARIABLE async__cond;
typedef HANDLE async__thread;
#define ASYNC__THREAD_MAIN(name, arg) unsigned __stdcall name(void *arg)
#define ASYNC__THREAD_END 0
typedef unsigned(__stdcall *async__thread_fn)(void *);
static int async__mutex_init(async__mutex *m) {
    InitializeSRWLock(m);
    return 0;
}
#define async__mutex_destroy(m) ((void)(m))
#define async__mutex_lock(m) AcquireSRWLockExclusive(m)
#define async__mutex_unlock(m) ReleaseSRWLockExclusive(m)
static int async__cond_init(async__cond *c) {
    InitializeConditionVariable(c);
    return 0;
}
#define async__cond_destroy(c) ((void)(c))
#define async__cond_wait(c, m) ((void)SleepConditionVariableSRW((c), (m), INFINITE, 0))
#define async__cond_signal(c) WakeConditionVariable(c)
#define async__cond_broadcast(c) WakeAllConditionVariable(c)
/* Until the monotonic time `until`: 0 (woken, perhaps spuriously), or ETIMEDOUT */
static int async__cond_timedwait(async__cond *c, async__mutex *m, async_time until) {
    async_time now = async__clock_monotonic(0), ms;
    if (now >= until) return ETIMEDOUT;
    ms = (until - now + ASYNC_MS(1) - 1) / ASYNC_MS(1);
    if (SleepConditionVariableSRW(c, m, ms >= INFINITE ? INFINITE - 1 : (DWORD)ms, 0))
        return 0;
    return GetLastError() == ERROR_TIMEOUT ? ETIMEDOUT : 0;
}
static int async__thread_start(async__thread *t, async__thread_fn fn, void *arg) {
    uintptr_t h = _beginthreadex(NULL, 0, fn, arg, 0, NULL);
    if (!h) return errno ? errno : EAGAIN;
    *t = (HANDLE)h;
    return 0;
}
static void async__thread_join(async__thread t) {
    (void)WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
static long async__cpus(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (long)si.dwNumberOfProcessors;
}
static void async__sleep_ms(unsigned ms) {
    Sleep(ms);
}
#else
#include <pthread.h>
typedef pthread_mutex_t async__mutex;
typedef pthread_cond_t async__cond;
typedef pthread_t async__thread;
#define ASYNC__THREAD_MAIN(name, arg) void *name(void *arg)
#define ASYNC__THREAD_END NULL
typedef void *(*async__thread_fn)(void *);
#define async__mutex_init(m) pthread_mutex_init((m), NULL)
#define async__mutex_destroy(m) pthread_mutex_destroy(m)
#define async__mutex_lock(m) pthread_mutex_lock(m)
#define async__mutex_unlock(m) pthread_mutex_unlock(m)
/* A condition variable whose timed wait is on CLOCK_MONOTONIC. Where it cannot be
   (macOS has no pthread_condattr_setclock, and ASYNC_POSIX_ONLY does as macOS), the
   wait is on CLOCK_REALTIME for the time left: a wall clock set forward ends that wait
   early, and the monotonic deadline, checked again, has it wait on; one set back makes
   it last longer by the jump (an idle thread exits that much later; a job or the
   pool's destroy still wakes it at once). */
#if !defined(ASYNC_POSIX_ONLY) && !defined(__APPLE__)
#define ASYNC__COND_MONOTONIC 1
#endif
#ifndef ASYNC__WALL_CLOCK               /* the tests' wall clock jumps (tests/test.h) */
#define ASYNC__WALL_CLOCK(ts) clock_gettime(CLOCK_REALTIME, (ts))
#endif
static int async__cond_init(async__cond *c) {
#ifdef ASYNC__COND_MONOTONIC
    pthread_condattr_t ca;
    int rc;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
#else
    return pthread_cond_init(c, NULL);
#endif
}
#define async__cond_destroy(c) pthread_cond_destroy(c)
#define async__cond_wait(c, m) pthread_cond_wait((c), (m))
#define async__cond_signal(c) pthread_cond_signal(c)
#define async__cond_broadcast(c) pthread_cond_broadcast(c)
/* Until `until` on the monotonic clock: 0 when signalled (or woken for nothing),
   ETIMEDOUT once it has passed. */
static int async__cond_timedwait(async__cond *c, async__mutex *m, async_time until) {
    struct timespec ts;
#ifdef ASYNC__COND_MONOTONIC
    ts.tv_sec = (time_t)(until / 1000000000u);
    ts.tv_nsec = (long)(until % 1000000000u);
    return pthread_cond_timedwait(c, m, &ts);
#else
    for (;;) {
        async_time now = async__clock_monotonic(NULL), left;
        int rc;
        if (now >= until) return ETIMEDOUT;
        left = until - now;
        (void)ASYNC__WALL_CLOCK(&ts);
        ts.tv_sec += (time_t)(left / 1000000000u);
        ts.tv_nsec += (long)(left % 1000000000u);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        rc = pthread_cond_timedwait(c, m, &ts);
        if (rc != ETIMEDOUT) return rc;     /* signalled (or woken for nothing) */
    }
#endif
}
#define async__thread_start(t, fn, arg) pthread_create((t), NULL, (fn), (arg))
#define async__thread_join(t) ((void)pthread_join((t), NULL))
#define async__cpus() sysconf(_SC_NPROCESSORS_ONLN)
static void async__sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
}
#endif

/* The blocking pool's and the inbox's locks: where other threads meet the loop (a
   preemption point in fault-injection builds). */
static void async__lock(async__mutex *m) {
    ASYNC__PREEMPT();
    async__mutex_lock(m);
}
static void async__unlock(async__mutex *m) {
    async__mutex_unlock(m);
    ASYNC__PREEMPT();
}

enum { ASYNC__JOB_IDLE = 0, ASYNC__JOB_SUBMITTED = 1, ASYNC__JOB_COLLECTED = 2 };
enum { ASYNC__JOB_QUEUED = 1, ASYNC__JOB_RUNNING = 2, ASYNC__JOB_DONE = 3 };

typedef struct async__worker {
    async__thread thread;
    struct async__pool_impl *pi;
    async_pool *pool;
    async_blocking *current;            /* NULL once its caller has gone (cancelled) */
    struct async__worker *next;         /* all threads, live or exited */
    int exited;
} async__worker;

typedef struct async__pool_impl {
    async__mutex mu;
    async__cond cv;                     /* work arrived, or stop */
    async_blocking *queue, *done;       /* circular lists */
    async__worker *workers;
    int max_threads, threads, idle, stopping;
    async_time keep_alive;
    /* desc.storage (ZERO ALLOCATION): this, the thread records, the request slots */
    int own;                            /* this came from ASYNC_MALLOC */
    async__worker *spare;               /* thread records not in use (storage) */
    async__worker *records;             /* the thread records (storage; NULL: allocated) */
    struct async__req *free_reqs;       /* request slots not in use (under mu) */
    unsigned char *reqs;                /* the slots: nreqs of req_stride bytes */
    size_t req_stride, req_extra;       /* req_extra: the bytes a slot carries */
    int nreqs;
    int returned, orphans;              /* under mu: slots given back by a `dropped` hook,
                                           those of them whose call outlived its task */
    async_semaphore req_permits;        /* loop side: one per free slot, FIFO */
} async__pool_impl;

typedef char async__pool_fits[sizeof(async__pool_impl) <= ASYNC__POOL_IMPL_MAX &&
                              sizeof(async__worker) <= ASYNC__WORKER_MAX ? 1 : -1];

/* The start of caller storage, aligned for any of the implementation's structures. */
static unsigned char *async__align16(void *p) {
    return (unsigned char *)p + ((16 - ((uintptr_t)p & 15)) & 15);
}

static void async__job_push(async_blocking **list, async_blocking *j) {
    if (!*list) {
        j->next = j->prev = *list = j;
    } else {
        j->prev = (*list)->prev;
        j->next = *list;
        (*list)->prev->next = j;
        (*list)->prev = j;
    }
}
static void async__job_unlink(async_blocking **list, async_blocking *j) {
    if (j->next == j) {
        *list = NULL;
    } else {
        j->prev->next = j->next;
        j->next->prev = j->prev;
        if (*list == j) *list = j->next;
    }
    j->next = j->prev = NULL;
}

static ASYNC__THREAD_MAIN(async__worker_main, arg) {
    async__worker *wk = (async__worker *)arg;
    async__pool_impl *pi = wk->pi;
    async__lock(&pi->mu);
    for (;;) {
        async_blocking *job;
        int (*fn)(void *);
        void (*drop)(void *);
        void *fa;
        int result;
        while (!pi->queue && !pi->stopping) {
            int rc;
            async_time until = async__clock_monotonic(0) + pi->keep_alive;
            pi->idle++;
            rc = async__cond_timedwait(&pi->cv, &pi->mu, until);
            pi->idle--;
            if (rc == ETIMEDOUT && !pi->queue) goto out;        /* idle too long */
        }
        if (!pi->queue) break;                                  /* stopping */
        job = pi->queue;
        async__job_unlink(&pi->queue, job);
        job->wstate = ASYNC__JOB_RUNNING;
        job->worker = wk;
        wk->current = job;
        fn = job->fn;
        fa = job->arg;
        drop = job->dropped;
        async__unlock(&pi->mu);
        result = fn(fa);
        async__lock(&pi->mu);
        if (wk->current) {              /* its caller still waits */
            job->result = result;
            job->wstate = ASYNC__JOB_DONE;
            job->worker = NULL;
            async__job_push(&pi->done, job);
            async_waker_wake(&wk->pool->waker);
            wk->current = NULL;
        } else if (drop) {              /* cancelled while it ran: nobody wants it */
            async__unlock(&pi->mu);
            drop(fa);
            async__lock(&pi->mu);
        }
    }
out:
    pi->threads--;
    wk->exited = 1;
    async__unlock(&pi->mu);
    return ASYNC__THREAD_END;
}

/* Loop side: hand the finished calls to their tasks. */
static void async__pool_collect(async_waker *w) {
    async_pool *p = (async_pool *)(void *)((char *)w - offsetof(async_pool, waker));
    async__pool_impl *pi = p->impl;
    async_blocking *done;
    int returned, orphans;
    async__lock(&pi->mu);
    done = pi->done;
    pi->done = NULL;
    returned = pi->returned;
    orphans = pi->orphans;
    pi->returned = pi->orphans = 0;
    async__unlock(&pi->mu);
    if (returned) (void)async_semaphore_release(&pi->req_permits, (size_t)returned);
    if (orphans && (p->outstanding -= (uint32_t)orphans) == 0 && p->rt) p->rt->armed_wakers--;
    while (done) {
        async_blocking *j = done;
        async__job_unlink(&done, j);
        j->state = ASYNC__JOB_COLLECTED;
        if (--p->outstanding == 0 && p->rt) p->rt->armed_wakers--;
        if (p->rt) async__wake(j->task);
    }
}

/* Join threads that have exited (idle too long). Called with the lock not held. */
static void async__pool_reap(async__pool_impl *pi, int all) {
    for (;;) {
        async__worker **pp, *dead = NULL;
        async__lock(&pi->mu);
        for (pp = &pi->workers; *pp; pp = &(*pp)->next) {
            if ((*pp)->exited || all) {
                dead = *pp;
                *pp = dead->next;
                break;
            }
        }
        async__unlock(&pi->mu);
        if (!dead) return;
        async__thread_join(dead->thread);
        if (pi->records) {              /* the caller's: back to the spare records */
            async__lock(&pi->mu);
            dead->next = pi->spare;
            pi->spare = dead;
            async__unlock(&pi->mu);
        } else {
            async__dealloc(dead);
        }
    }
}

static void async__pool_slots_init(async__pool_impl *pi);

/* desc.storage: the state, then max_threads thread records, then the request slots
   (each an async__req and req_extra bytes), each part 16-aligned. */
static int async__pool_place(async__pool_impl **out, const async_pool_desc *d) {
    int threads = d->max_threads ? d->max_threads : 64, i;
    size_t extra = (d->request_size + 15) & ~(size_t)15, stride;
    unsigned char *m;
    async__pool_impl *pi;
    if (d->requests < 0 || d->request_size > SIZE_MAX / 4 || (size_t)threads > SIZE_MAX / 4 /
        ASYNC__WORKER_MAX || (size_t)d->requests > SIZE_MAX / 4 / (ASYNC__REQ_HEAD_MAX + extra) ||
        d->storage_size < ASYNC_POOL_STORAGE_SIZE(threads, d->requests, d->request_size))
        return ASYNC_EINVAL;
    stride = ASYNC__REQ_HEAD_MAX + extra;
    m = async__align16(d->storage);
    pi = (async__pool_impl *)(void *)m;
    async__memset(pi, 0, sizeof *pi);
    m += ASYNC__POOL_IMPL_MAX;
    pi->records = (async__worker *)(void *)m;
    for (i = threads; i-- > 0; ) {
        async__worker *wk = (async__worker *)(void *)(m + (size_t)i * ASYNC__WORKER_MAX);
        wk->next = pi->spare;
        pi->spare = wk;
    }
    m += (size_t)threads * ASYNC__WORKER_MAX;
    pi->reqs = m;
    pi->req_stride = stride;
    pi->req_extra = d->request_size;
    pi->nreqs = d->requests;
    async__pool_slots_init(pi);
    *out = pi;
    return 0;
}

ASYNC_DEF int async_pool_init(async_pool *p, async_runtime *rt, const async_pool_desc *desc) {
    async__pool_impl *pi;
    int rc;
    if (!p || !rt || !(rt->flags & ASYNC__RT_INIT)) return ASYNC_EINVAL;
    if (desc && (desc->max_threads < 0)) return ASYNC_EINVAL;
    if (desc && !desc->storage && (desc->storage_size || desc->requests || desc->request_size))
        return ASYNC_EINVAL;                    /* slots without storage */
    async__memset(p, 0, sizeof *p);
    if (desc && desc->storage) {
        if ((rc = async__pool_place(&pi, desc)) < 0) return rc;
    } else {
        pi = (async__pool_impl *)async__alloc(sizeof *pi);
        if (!pi) return ASYNC_ENOMEM;
        async__memset(pi, 0, sizeof *pi);
        pi->own = 1;
    }
    pi->max_threads = desc && desc->max_threads ? desc->max_threads : 64;
    pi->keep_alive = desc && desc->keep_alive ? desc->keep_alive : ASYNC_SEC(10);
    if ((rc = async__mutex_init(&pi->mu)) != 0) {
        if (pi->own) async__dealloc(pi);
        return -rc;
    }
    rc = async__cond_init(&pi->cv);
    if (rc != 0 || (rc = -async_waker_init(rt, &p->waker)) != 0) {
        if (rc > 0) async__cond_destroy(&pi->cv);
        async__mutex_destroy(&pi->mu);
        if (pi->own) async__dealloc(pi);
        return rc > 0 ? -rc : rc;
    }
    p->waker.on_wake = async__pool_collect;
    p->impl = pi;
    p->rt = rt;
    return 0;
}

/* Queued calls fail with ASYNC_ECANCELED; running ones are waited for. From the
   loop's thread, not from inside a task of it while calls are outstanding. */
ASYNC_DEF int async_pool_destroy(async_pool *p) {
    async__pool_impl *pi;
    if (!p || !p->impl) return ASYNC_EINVAL;
    pi = p->impl;
    async__lock(&pi->mu);
    pi->stopping = 1;
    while (pi->queue) {
        async_blocking *j = pi->queue;
        async__job_unlink(&pi->queue, j);
        j->result = ASYNC_ECANCELED;
        j->wstate = ASYNC__JOB_DONE;
        async__job_push(&pi->done, j);
    }
    async__cond_broadcast(&pi->cv);
    async__unlock(&pi->mu);
    async__pool_reap(pi, 1);            /* every thread, after its call returns */
    if (!p->waker.rt) p->rt = NULL;     /* the runtime is gone: nobody to wake */
    async__pool_collect(&p->waker);
    if (p->rt && p->outstanding) p->rt->armed_wakers--;   /* calls of cancelled tasks */
    (void)async_semaphore_close(&pi->req_permits);        /* waiting for a slot: ECLOSED */
    async_waker_destroy(&p->waker);
    async__cond_destroy(&pi->cv);
    async__mutex_destroy(&pi->mu);
    if (pi->own) async__dealloc(pi);
    p->impl = NULL;
    return 0;
}

ASYNC_DEF int async_pool_threads(const async_pool *p) {
    int n;
    if (!p || !p->impl) return ASYNC_EINVAL;
    async__lock(&p->impl->mu);
    n = p->impl->threads;
    async__unlock(&p->impl->mu);
    return n;
}

/* Returns fn(arg)'s result. A cancelled wait unqueues a call not yet started; one
   already running runs to its end on its thread, its result dropped: arg must
   stay valid until then (Tokio: a blocking task cannot be aborted either). */
/* A task cancelled while it waits on job: take the job back wherever it is. Queued,
   or done and not yet collected: it is unlinked and its `dropped` hook gets its arg.
   Running: its worker drops it when fn returns (fn cannot be stopped). */
static int async__req_orphan(async_blocking *job);

static int async__blocking_cancel(async_pool *p, async_blocking *job) {
    void (*drop)(void *) = NULL;
    int kept = 0;
    if (job->state == ASYNC__JOB_SUBMITTED) {
        async__pool_impl *pi = p->impl;
        async__lock(&pi->mu);
        if (job->wstate == ASYNC__JOB_QUEUED) {
            async__job_unlink(&pi->queue, job);
            drop = job->dropped;
        } else if (job->wstate == ASYNC__JOB_DONE) {
            async__job_unlink(&pi->done, job);
            drop = job->dropped;
        } else if (job->wstate == ASYNC__JOB_RUNNING) {
            job->worker->current = NULL;    /* its thread drops it when it ends */
            kept = async__req_orphan(job);  /* a slot: outstanding until it is back */
        }
        async__unlock(&pi->mu);
        if (!kept && --p->outstanding == 0) p->rt->armed_wakers--;
    } else if (job->state == ASYNC__JOB_COLLECTED) {
        drop = job->dropped;
    }
    job->state = ASYNC__JOB_IDLE;
    if (drop) drop(job->arg);
    return ASYNC_ECANCELED;
}

/* A job was queued and no worker is idle: start one more thread. Under pi->mu. 0, or
   ASYNC_ENOMEM / -errno of pthread_create. */
static int async__pool_add_worker(async_pool *p, async__pool_impl *pi) {
    async__worker *wk, **pp;
    int rc;
    if (!pi->records) {
        wk = (async__worker *)async__alloc(sizeof *wk);
    } else if ((wk = pi->spare) != NULL) {
        pi->spare = wk->next;
    } else {                            /* every record taken: one's thread has exited */
        for (pp = &pi->workers; *pp && !(*pp)->exited; pp = &(*pp)->next) {}
        if ((wk = *pp) != NULL) {
            *pp = wk->next;
            async__thread_join(wk->thread);     /* past its last unlock: ends at once */
        }
    }
    if (!wk) return ASYNC_ENOMEM;
    async__memset(wk, 0, sizeof *wk);
    wk->pi = pi;
    wk->pool = p;
    rc = ASYNC__FAULT(ASYNC_SYS_SPAWN, -1, NULL) ? -errno
         : -async__thread_start(&wk->thread, async__worker_main, wk);
    if (rc < 0) {
        if (pi->records) {
            wk->next = pi->spare;
            pi->spare = wk;
        } else {
            async__dealloc(wk);
        }
        return rc;
    }
    wk->next = pi->workers;
    pi->workers = wk;
    pi->threads++;
    return 0;
}

ASYNC_DEF int async_pool_spawn(async_task *t, async_pool *p, async_blocking *job,
                               int (*fn)(void *arg), void *arg) {
    async__pool_impl *pi;
    if (!t || !p || !job) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) return async__blocking_cancel(p, job);
    if (job->state == ASYNC__JOB_SUBMITTED) return ASYNC_PENDING;
    if (job->state == ASYNC__JOB_COLLECTED) {
        if (!async__coop(t)) return ASYNC_PENDING;
        job->state = ASYNC__JOB_IDLE;
        return job->result;
    }
    if (!fn || !p->impl || p->rt != t->rt) return ASYNC_EINVAL;
    pi = p->impl;
    async__pool_reap(pi, 0);
    job->fn = fn;
    job->arg = arg;
    job->task = t;
    job->worker = NULL;
    async__lock(&pi->mu);
    if (pi->stopping) {
        async__unlock(&pi->mu);
        return ASYNC_ECLOSED;
    }
    job->wstate = ASYNC__JOB_QUEUED;
    async__job_push(&pi->queue, job);
    if (pi->idle) {
        async__cond_signal(&pi->cv);
    } else if (pi->threads < pi->max_threads) {
        int rc = async__pool_add_worker(p, pi);
        if (rc < 0 && pi->threads == 0) {       /* nobody could ever run it */
            async__job_unlink(&pi->queue, job);
            async__unlock(&pi->mu);
            return rc;
        }
    }
    async__unlock(&pi->mu);
    job->state = ASYNC__JOB_SUBMITTED;
    if (p->outstanding++ == 0) p->rt->armed_wakers++;
    return ASYNC_PENDING;
}

/* ---- the inbox: threads send, one task receives -------------------------------- */
typedef struct async__inbox_impl {
    async__mutex mu;
    async__cond not_full;
    size_t head, count;
    int closed;
    int own;                            /* impl and ring came from ASYNC_MALLOC */
    unsigned char *ring;
} async__inbox_impl;

typedef char async__inbox_fits[sizeof(async__inbox_impl) <= ASYNC__INBOX_IMPL_MAX ? 1 : -1];

static int async__inbox_init(async_inbox *q, async_runtime *rt, size_t item_size, size_t cap,
                             void *storage, size_t size) {
    async__inbox_impl *qi;
    int rc;
    if (!q || !rt || !item_size || !cap || cap > SIZE_MAX / item_size) return ASYNC_EINVAL;
    if (storage && (cap > (SIZE_MAX - ASYNC__INBOX_IMPL_MAX - ASYNC__SLACK) / item_size ||
                    size < ASYNC_INBOX_STORAGE_SIZE(item_size, cap)))
        return ASYNC_EINVAL;
    async__memset(q, 0, sizeof *q);
    if (storage) {
        qi = (async__inbox_impl *)(void *)async__align16(storage);
        async__memset(qi, 0, sizeof *qi);
        qi->ring = (unsigned char *)qi + ASYNC__INBOX_IMPL_MAX;
    } else {
        qi = (async__inbox_impl *)async__alloc(sizeof *qi);
        if (!qi) return ASYNC_ENOMEM;
        async__memset(qi, 0, sizeof *qi);
        qi->own = 1;
        qi->ring = (unsigned char *)async__alloc(item_size * cap);
        if (!qi->ring) {
            async__dealloc(qi);
            return ASYNC_ENOMEM;
        }
    }
    if ((rc = async__mutex_init(&qi->mu)) != 0 ||
        ((rc = async__cond_init(&qi->not_full)) != 0 &&
         (async__mutex_destroy(&qi->mu), 1)) ||
        (rc = -async_waker_init(rt, &q->waker)) != 0) {
        if (rc < 0) {
            async__cond_destroy(&qi->not_full);
            async__mutex_destroy(&qi->mu);
        }
        if (qi->own) {
            async__dealloc(qi->ring);
            async__dealloc(qi);
        }
        return rc > 0 ? -rc : rc;
    }
    q->impl = qi;
    q->item_size = item_size;
    q->cap = cap;
    return 0;
}

ASYNC_DEF int async_inbox_init(async_inbox *q, async_runtime *rt, size_t item_size, size_t cap) {
    return async__inbox_init(q, rt, item_size, cap, NULL, 0);
}

ASYNC_DEF int async_inbox_init_storage(async_inbox *q, async_runtime *rt, size_t item_size,
                                       size_t cap, void *storage, size_t size) {
    if (!storage) return ASYNC_EINVAL;
    return async__inbox_init(q, rt, item_size, cap, storage, size);
}

static int async__inbox_put(async_inbox *q, const void *item, int block) {
    async__inbox_impl *qi;
    if (!q || !q->impl || !item) return ASYNC_EINVAL;
    qi = q->impl;
    async__lock(&qi->mu);
    while (!qi->closed && qi->count == q->cap && block) async__cond_wait(&qi->not_full, &qi->mu);
    if (qi->closed || qi->count == q->cap) {
        int rc = qi->closed ? ASYNC_ECLOSED : ASYNC_EAGAIN;
        async__unlock(&qi->mu);
        return rc;
    }
    {
        size_t slot = qi->head + qi->count;
        if (slot >= q->cap) slot -= q->cap;
        async__memcpy(qi->ring + slot * q->item_size, item, q->item_size);
        qi->count++;
    }
    async__unlock(&qi->mu);
    async_waker_wake(&q->waker);
    return 0;
}

ASYNC_DEF int async_inbox_try_send(async_inbox *q, const void *item) {
    return async__inbox_put(q, item, 0);
}

/* Blocks the calling thread while the inbox is full: never from the loop's thread. */
ASYNC_DEF int async_inbox_send(async_inbox *q, const void *item) {
    return async__inbox_put(q, item, 1);
}

ASYNC_DEF int async_inbox_close(async_inbox *q) {
    if (!q || !q->impl) return ASYNC_EINVAL;
    async__lock(&q->impl->mu);
    q->impl->closed = 1;
    async__cond_broadcast(&q->impl->not_full);
    async__unlock(&q->impl->mu);
    async_waker_wake(&q->waker);
    return 0;
}

/* Items in the order they were sent; ASYNC_ECLOSED once closed and empty. */
ASYNC_DEF int async_inbox_recv(async_task *t, async_inbox *q, void *item) {
    int rc;
    if (!t || !q || !q->impl || !item) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) return async_waker_wait(t, &q->waker);
    for (;;) {
        async__inbox_impl *qi = q->impl;
        int closed;
        async__lock(&qi->mu);
        if (qi->count) {
            if (!async__coop(t)) {
                async__unlock(&qi->mu);
                return ASYNC_PENDING;
            }
            async__memcpy(item, qi->ring + qi->head * q->item_size, q->item_size);
            if (++qi->head == q->cap) qi->head = 0;
            qi->count--;
            async__cond_signal(&qi->not_full);
            async__unlock(&qi->mu);
            async__waker_disarm(&q->waker, t);
            return 0;
        }
        closed = qi->closed;
        async__unlock(&qi->mu);
        if (closed) {
            async__waker_disarm(&q->waker, t);
            return ASYNC_ECLOSED;
        }
        rc = async_waker_wait(t, &q->waker);    /* 0: a wake came since: look again */
        if (rc != 0) return rc;
    }
}

ASYNC_DEF int async_inbox_destroy(async_inbox *q) {
    async__inbox_impl *qi;
    int rc;
    if (!q || !q->impl) return ASYNC_EINVAL;
    if ((rc = async_waker_destroy(&q->waker)) < 0) return rc;  /* EBUSY: a task waits */
    qi = q->impl;
    async__cond_destroy(&qi->not_full);
    async__mutex_destroy(&qi->mu);
    if (qi->own) {
        async__dealloc(qi->ring);
        async__dealloc(qi);
    }
    q->impl = NULL;
    return 0;
}

////////////////////////////////////////////////////////////////////////////////
// >>group

/* ---- runtime groups: one runtime per thread -------------------------------------
   Other threads reach a group's runtime only through its remote lists (waiters made
   ready, tasks spawned) and its wake descriptor; a parked runtime sleeps in its
   reactor until then. Each turn publishes the runtime's load (tasks alive) and
   counters for the others to read. */
#if defined(ASYNC__LINUX) && !defined(_GNU_SOURCE)
/* In glibc and musl, declared only with _GNU_SOURCE (as cpu_set_t, a bit mask). */
extern int sched_setaffinity(int pid, size_t size, const void *mask);
#endif

/* Runtime i: runtimes written on every turn by different threads share no cache line. */
#define ASYNC__RT_STRIDE ((sizeof(async_runtime) + 63) / 64 * 64)
#define async__group_rt(g, i) \
    ((async_runtime *)(void *)((unsigned char *)(g)->rts + (size_t)(i) * ASYNC__RT_STRIDE))

typedef struct async__group_thread {
    async__thread thread;
    async_group *g;
    int index;
    int started;                        /* pthread_create succeeded */
    volatile int active;                /* its loop is turning (dumps go through it) */
} async__group_thread;

static void async__group_pin(int index) {
#ifdef ASYNC__LINUX
    long ncpu = async__cpus();
    int cpu;
    if (ncpu <= 0) return;
    cpu = (int)(index % ncpu);
#if defined(_GNU_SOURCE) && defined(CPU_SET)
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        (void)sched_setaffinity(0, sizeof set, &set);
    }
#else
    {
        unsigned long mask[1024 / (8 * sizeof(unsigned long))];
        size_t bits = 8 * sizeof(unsigned long);
        if ((size_t)cpu >= 1024) return;
        async__memset(mask, 0, sizeof mask);
        mask[(size_t)cpu / bits] = 1ul << ((size_t)cpu % bits);
        (void)sched_setaffinity(0, sizeof mask, mask);
    }
#endif
#elif defined(ASYNC__WIN32)
    long ncpu = async__cpus();
    if (ncpu <= 0) return;
    ncpu = index % ncpu;
    if (ncpu < (long)(8 * sizeof(DWORD_PTR)))
        (void)SetThreadAffinityMask(GetCurrentThread(), (DWORD_PTR)1 << ncpu);
#else
    (void)index;                        /* pinning: Linux and Windows; elsewhere a no-op */
#endif
}

/* Each turn, for the other threads: the load (the tasks alive and the spawns that came
   during the turn, not yet taken in), and the counters. */
static void async__group_publish(async_runtime *rt) {
    uint64_t load;
    async__spin_lock(&rt->remote_lock);
    rt->stats_pub = rt->stats;
    load = (uint64_t)rt->live + (uint64_t)rt->nspawns;
    ASYNC__STORE(&rt->load, (int)(load > INT_MAX ? INT_MAX : load));
    async__spin_unlock(&rt->remote_lock);
}

static void async__group_dump_here(async_runtime *rt) {
    async_group *g = rt->group;
    if (!ASYNC__CAS(&rt->dump_req, 1, 2)) return;   /* the asker gave up waiting */
    async_runtime_dump(rt, g->dump_write, g->dump_user);
    ASYNC__STORE(&rt->dump_req, 0);
}

/* A task spawned onto rt by another thread reaches rt's loop. */
static void async__spawn_queued(async_runtime *rt, async_task *t) {
    async__owner *owner = t->u.owner;
    (void)async__spawn(rt, t, t->fn, t->name, 0);
    t->flags2 |= ASYNC__F2_INSET;       /* its end goes to its handle */
    t->u.owner = owner;
}

static void async__group_loop(async_group *g, async_runtime *rt, const async_task *until) {
    while (!ASYNC__LOAD(&g->stopping) && !(until && until->state == ASYNC_TASK_DONE))
        async__turn(rt, ASYNC_TIME_NEVER);
}

static void async__group_fail(async_group *g, int rc) {
    (void)ASYNC__CAS(&g->failed, 0, rc);
    async_group_stop(g);
}

static ASYNC__THREAD_MAIN(async__group_main, arg) {
    async__group_thread *th = (async__group_thread *)arg;
    async_group *g = th->g;
    async_runtime *rt = async__group_rt(g, th->index);
    int rc;
    if (g->pin) async__group_pin(th->index);
    ASYNC__HERE_SET(rt);
    ASYNC__STORE(&th->active, 1);
    if (g->on_start && (rc = g->on_start(rt, g->user)) < 0) async__group_fail(g, rc);
    async__group_loop(g, rt, NULL);
    ASYNC__STORE(&th->active, 0);
    if (ASYNC__LOAD(&rt->dump_req)) async__group_dump_here(rt);
    ASYNC__HERE_SET(NULL);
    return ASYNC__THREAD_END;
}

ASYNC_DEF int async_group_init(async_group *g, const async_group_desc *desc) {
    int n, i, rc = 0;
    if (!g) return ASYNC_EINVAL;
    async__memset(g, 0, sizeof *g);
    n = desc ? desc->threads : 0;
    if (n < 0 || n > 1024 || (desc && desc->spin_us < -1)) return ASYNC_EINVAL;
    if (n == 0) {
        long c = async__cpus();
        n = c < 1 ? 1 : c > 1024 ? 1024 : (int)c;
    }
    g->mem = async__alloc((size_t)n * ASYNC__RT_STRIDE + 64);
    g->threads = (async__group_thread *)async__alloc((size_t)n * sizeof *g->threads);
    g->rts = (async_runtime *)(void *)((uintptr_t)g->mem + 63 - ((uintptr_t)g->mem + 63) % 64);
    if (!g->mem || !g->threads) {
        rc = ASYNC_ENOMEM;
        n = 0;
    }
    for (i = 0; i < n; i++) {           /* i: runtimes initialised */
        async_runtime *rt = async__group_rt(g, i);
        async__memset(&g->threads[i], 0, sizeof g->threads[i]);
        if ((rc = async_runtime_init(rt, desc ? desc->runtime : NULL)) < 0) break;
        rt->group = g;
        rt->index = i;
        rt->spin = !desc || !desc->spin_us ? ASYNC_US(50)
                 : desc->spin_us < 0 ? 0 : ASYNC_US(desc->spin_us);
        if ((rc = async__wake_fd_make(rt)) < 0) {
            i++;                        /* this one too is destroyed below */
            break;
        }
    }
    if (rc < 0) {
        while (i-- > 0) async_runtime_destroy(async__group_rt(g, i));
        async__dealloc(g->mem);
        async__dealloc(g->threads);
        async__memset(g, 0, sizeof *g);
        return rc;
    }
    g->n = n;
    if (desc) {
        g->pin = desc->pin;
        g->on_start = desc->on_start;
        g->user = desc->user;
    }
    return 0;
}

/* Threads for runtimes first..n-1; on a failure the group is stopped and joined. */
static int async__group_launch(async_group *g, int first) {
    int i;
    if (!g || !g->rts) return ASYNC_EINVAL;
    if (g->running || ASYNC__LOAD(&g->stopping)) return ASYNC_ESTATE;
    g->running = 1;
    for (i = first; i < g->n; i++) {
        async__group_thread *th = &g->threads[i];
        int rc;
        th->g = g;
        th->index = i;
        rc = ASYNC__FAULT(ASYNC_SYS_SPAWN, -1, NULL) ? EAGAIN
             : async__thread_start(&th->thread, async__group_main, th);
        if (rc != 0) {
            async_group_stop(g);
            async_group_join(g);
            return -rc;
        }
        th->started = 1;
    }
    return 0;
}

ASYNC_DEF int async_group_start(async_group *g) { return async__group_launch(g, 0); }

ASYNC_DEF int async_group_block_on(async_group *g, async_task *t, async_task_fn fn,
                                   const char *name) {
    async_runtime *rt, *was = ASYNC__HERE();
    int rc;
    if (!g || !g->rts || !t || !fn) return ASYNC_EINVAL;
    rt = async__group_rt(g, 0);
    if ((rc = async__group_launch(g, 1)) < 0) return rc;
    if (g->pin) async__group_pin(0);
    ASYNC__HERE_SET(rt);
    ASYNC__STORE(&g->threads[0].active, 1);
    if (g->on_start && (rc = g->on_start(rt, g->user)) < 0) async__group_fail(g, rc);
    else if ((rc = async_task_spawn(rt, t, fn, name)) < 0) async__group_fail(g, rc);
    else async__group_loop(g, rt, t);
    ASYNC__STORE(&g->threads[0].active, 0);
    ASYNC__HERE_SET(was);
    async_group_stop(g);
    async_group_join(g);
    if (rc < 0) return rc;
    if (t->state == ASYNC_TASK_DONE) {
        t->flags |= ASYNC__F_TAKEN;
        return t->u.result;
    }
    rc = ASYNC__LOAD(&g->failed);       /* stopped before t ended: t is cancelled later */
    return rc < 0 ? rc : ASYNC_ECANCELED;
}

ASYNC_DEF int async_group_stop(async_group *g) {
    int i;
    if (!g || !g->rts) return ASYNC_EINVAL;
    ASYNC__STORE(&g->stopping, 1);
    for (i = 0; i < g->n; i++) async__rt_signal(async__group_rt(g, i));
    return 0;
}

ASYNC_DEF int async_group_join(async_group *g) {
    int i;
    if (!g || !g->rts) return ASYNC_EINVAL;
    if (ASYNC__HERE() && ASYNC__HERE()->group == g) return ASYNC_EDEADLK;  /* its own thread */
    if (!g->running) return 0;
    for (i = 0; i < g->n; i++) {
        if (g->threads[i].started) {
            async__thread_join(g->threads[i].thread);
            g->threads[i].started = 0;
        }
    }
    g->running = 0;
    return 0;
}

ASYNC_DEF int async_group_destroy(async_group *g) {
    int i, rc = 0, r;
    if (!g || !g->rts) return ASYNC_EINVAL;
    if (ASYNC__HERE() && ASYNC__HERE()->group == g) return ASYNC_EDEADLK;
    async_group_stop(g);
    async_group_join(g);
    for (i = 0; i < g->n; i++)
        if ((r = async_runtime_destroy(async__group_rt(g, i))) < 0 && rc == 0) rc = r;
    async__dealloc(g->mem);
    async__dealloc(g->threads);
    async__memset(g, 0, sizeof *g);
    return rc;
}

ASYNC_DEF int async_group_size(const async_group *g) { return g && g->rts ? g->n : 0; }

ASYNC_DEF async_runtime *async_group_runtime(async_group *g, int i) {
    return g && g->rts && i >= 0 && i < g->n ? async__group_rt(g, i) : NULL;
}

ASYNC_DEF async_group *async_runtime_group(const async_runtime *rt) {
    return rt ? rt->group : NULL;
}

ASYNC_DEF int async_runtime_index(const async_runtime *rt) { return rt ? rt->index : 0; }

/* The least loaded runtime: fewest tasks alive as last published, plus spawns on
   their way; ties go round robin. */
ASYNC_DEF int async_group_pick(async_group *g) {
    int i, best = 0, best_load = INT_MAX, start;
    if (!g || !g->rts) return ASYNC_EINVAL;
    start = (int)((unsigned)ASYNC__ADD(&g->next, 1) % (unsigned)g->n);
    for (i = 0; i < g->n; i++) {
        int k = (start + i) % g->n;
        int load = ASYNC__LOAD(&async__group_rt(g, k)->load);
        if (load < best_load) {
            best_load = load;
            best = k;
        }
    }
    return best;
}

static void async__join_handle_finished(async__owner *o, async_task *t) {
    async_join_handle *h = (async_join_handle *)(void *)o;
    async__spin_lock(&h->lock);
    if (h->abort_w.prev == &h->abort_w)         /* an abort still on its way here */
        async__remote_collect(t->rt, 0);
    h->result = t->u.result;
    h->state = 2;
    async__wq_ready_all(&h->q, ASYNC__W_READY, 0);
    async__spin_unlock(&h->lock);
}

ASYNC_DEF int async_group_spawn(async_group *g, int i, async_join_handle *h, async_task *t,
                                async_task_fn fn, const char *name) {
    async_runtime *rt;
    int rc = 0;
    if (!g || !g->rts || !h || !t || !fn || i < ASYNC_GROUP_ANY || i >= g->n)
        return ASYNC_EINVAL;
    if (t->magic == ASYNC__MAGIC && t->state != ASYNC_TASK_DONE && t->state != ASYNC_TASK_IDLE)
        return ASYNC_EBUSY;             /* this frame is already a live task */
    if (i == ASYNC_GROUP_ANY) i = async_group_pick(g);
    rt = async__group_rt(g, i);
    if (h->shared) {                    /* used before: its task must have ended */
        int busy;
        async__spin_lock(&h->lock);
        busy = h->state == 1 || h->q.head;
        async__spin_unlock(&h->lock);
        if (busy) return ASYNC_EBUSY;
    }
    async__memset(h, 0, sizeof *h);
    h->owner.finished = async__join_handle_finished;
    h->task = t;
    h->rt = rt;
    h->shared = 1;
    h->state = 1;
    t->fn = fn;
    t->name = name;
    t->u.owner = &h->owner;
    t->rt = rt;
    t->state = ASYNC_TASK_IDLE;
    t->magic = 0;
    async__spin_lock(&rt->remote_lock);
    if (rt->spawn_closed || ASYNC__LOAD(&g->stopping)) {
        rc = ASYNC_ECLOSED;
    } else {
        t->link.next = (async__link *)(void *)rt->spawns;
        rt->spawns = t;
        rt->nspawns++;
        (void)ASYNC__ADD(&rt->load, 1);
    }
    async__spin_unlock(&rt->remote_lock);
    if (rc < 0) {
        h->state = 0;
        return rc;
    }
    async__rt_signal(rt);
    return 0;
}

static int async__join_handle_wait(async_task *t, async_join_handle *h, async_waiter *w) {
    int rc = async__wait_begin(t, &h->q, w, 1, NULL);
    if (rc < 0) return rc;
    if (h->state == 2) {
        if (!async__coop(t)) return ASYNC_PENDING;
        h->state = 3;
        return h->result;
    }
    if (h->state != 1) return h->state == 3 ? ASYNC_ESTATE : ASYNC_EINVAL;
    async__wq_push(&h->q, w, t);
    return ASYNC_PENDING;
}

ASYNC_DEF int async_join_handle_wait(async_task *t, async_join_handle *h, async_waiter *w) {
    if (!t || !h || !w || !h->shared) return ASYNC_EINVAL;
    ASYNC__SHARED(h, t, w, async__join_handle_wait(t, h, w));
    return ASYNC_EINVAL;
}

/* The abort travels as a waiter (the handle's own) on the task's runtime's remote
   list; that runtime aborts the task when it collects it. */
ASYNC_DEF int async_join_handle_abort(async_join_handle *h) {
    async_runtime *rt;
    if (!h || !h->shared) return ASYNC_EINVAL;
    async__spin_lock(&h->lock);
    if (h->state == 1 && !h->abort_w.task) {
        rt = h->rt;
        h->abort_w.task = h->task;
        h->abort_w.kind = ASYNC__W_KIND_ABORT;
        async__spin_lock(&rt->remote_lock);
        h->abort_w.prev = &h->abort_w;
        h->abort_w.next = rt->remote;
        rt->remote = &h->abort_w;
        async__spin_unlock(&rt->remote_lock);
        async__rt_signal(rt);
    }
    async__spin_unlock(&h->lock);
    return 0;
}

ASYNC_DEF int async_join_handle_is_finished(const async_join_handle *h) {
    int done;
    if (!h || !h->shared) return 0;
    async__spin_lock(&((async_join_handle *)(uintptr_t)h)->lock);
    done = h->state >= 2;
    async__spin_unlock(&((async_join_handle *)(uintptr_t)h)->lock);
    return done;
}

ASYNC_DEF void async_group_stats(async_group *g, async_stats *out) {
    int i;
    if (!out) return;
    async__memset(out, 0, sizeof *out);
    if (!g || !g->rts) return;
    for (i = 0; i < g->n; i++) {
        async_runtime *rt = async__group_rt(g, i);
        async__spin_lock(&rt->remote_lock);
        out->polls += rt->stats_pub.polls;
        out->wakes += rt->stats_pub.wakes;
        out->timers_fired += rt->stats_pub.timers_fired;
        out->spawned += rt->stats_pub.spawned;
        out->completed += rt->stats_pub.completed;
        out->slow_polls += rt->stats_pub.slow_polls;
        out->io_waits += rt->stats_pub.io_waits;
        out->io_events += rt->stats_pub.io_events;
        async__spin_unlock(&rt->remote_lock);
    }
}

/* A runtime whose loop turns dumps itself on its thread (asked through its wake
   descriptor; given up after 2 s, e.g. a task that never yields); the others, and
   the caller's own, are dumped here. */
ASYNC_DEF void async_group_dump(async_group *g, void (*write)(void *user, const char *text),
                                void *user) {
    int i;
    if (!g || !g->rts) return;
    async__spin_lock(&g->dump_lock);
    g->dump_write = write;
    g->dump_user = user;
    for (i = 0; i < g->n; i++) {
        async_runtime *rt = async__group_rt(g, i);
        char head[48];
        snprintf(head, sizeof head, "runtime %d of %d:\n", i, g->n);
        if (write) write(user, head);
        else fputs(head, stderr);
        if (rt != ASYNC__HERE() && ASYNC__LOAD(&g->threads[i].active)) {
            int waited = 0;
            ASYNC__STORE(&rt->dump_req, 1);
            async__rt_signal(rt);
            while (ASYNC__LOAD(&rt->dump_req)) {
                if (++waited > 2000 && ASYNC__CAS(&rt->dump_req, 1, 0)) {
                    if (write) write(user, "  (busy: no answer in 2 s)\n");
                    else fputs("  (busy: no answer in 2 s)\n", stderr);
                    break;
                }
                async__sleep_ms(1);
            }
        } else {
            async_runtime_dump(rt, write, user);
        }
    }
    async__spin_unlock(&g->dump_lock);
}
/* ---- name resolution and files, on the pool --------------------------------------
   Each call copies its inputs into an allocated request that the pool's thread
   works on, so a cancelled wait leaves the thread nothing of the caller's to touch:
   the request is freed by whoever lets go of it last (the op, or the thread through
   job.dropped). */
#ifndef ASYNC__WIN32
#include <netdb.h>
#define async__f_open(path, fl, mode) open((path), (fl) | O_CLOEXEC, (mode))
#define async__f_close(fd) close(fd)
#define async__f_read(fd, b, n) read((fd), (b), (n))
#define async__f_write(fd, b, n) write((fd), (b), (n))
#define async__f_pread(fd, b, n, off) pread((fd), (b), (n), (off_t)(off))
#define async__f_pwrite(fd, b, n, off) pwrite((fd), (b), (n), (off_t)(off))
typedef struct stat async__f_stat_t;
#define async__f_stat(path, st) stat((path), (st))
#define async__f_mkdir(path, mode) mkdir((path), (mode_t)(mode))
#define async__f_unlink(path) unlink(path)
#define async__f_rmdir(path) rmdir(path)
#define async__f_fsync(fd) fsync(fd)
#if defined(_POSIX_SYNCHRONIZED_IO) && _POSIX_SYNCHRONIZED_IO > 0
#define async__f_fdatasync(fd) fdatasync(fd)
#else
#define async__f_fdatasync(fd) fsync(fd)    /* macOS: no fdatasync; fsync is a superset */
#endif
#define ASYNC__F_ISREG(m) S_ISREG(m)
#define ASYNC__F_ISDIR(m) S_ISDIR(m)
#else
/* Windows: the C library's descriptors (binary, not inherited); at an offset through
   the handle, the file position put back after it (not atomic as pread: see WINDOWS). */
#include <io.h>
#include <fcntl.h>
#include <sys/stat.h>
#define async__f_open(path, fl, mode) \
    _open((path), (fl) | _O_BINARY | _O_NOINHERIT, (mode) & (_S_IREAD | _S_IWRITE))
#define async__f_close(fd) _close(fd)
#define async__f_read(fd, b, n) _read((fd), (b), (unsigned)(n))
#define async__f_write(fd, b, n) _write((fd), (b), (unsigned)(n))
static int async__f_at(int fd, void *b, size_t n, long long off, int wr) {
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    OVERLAPPED o;
    DWORD got = 0;
    BOOL ok;
    long long pos;
    if (h == INVALID_HANDLE_VALUE || (pos = _lseeki64(fd, 0, SEEK_CUR)) < 0) {
        errno = EBADF;
        return -1;
    }
    async__memset(&o, 0, sizeof o);
    o.Offset = (DWORD)((unsigned long long)off & 0xffffffffu);
    o.OffsetHigh = (DWORD)((unsigned long long)off >> 32);
    ok = wr ? WriteFile(h, b, (DWORD)n, &got, &o) : ReadFile(h, b, (DWORD)n, &got, &o);
    (void)_lseeki64(fd, pos, SEEK_SET); /* the position stays, as with pread */
    if (ok) return (int)got;
    switch (GetLastError()) {
    case ERROR_HANDLE_EOF: return 0;
    case ERROR_ACCESS_DENIED: errno = EBADF; break;     /* not open for that */
    case ERROR_DISK_FULL: errno = ENOSPC; break;
    case ERROR_INVALID_HANDLE: errno = EBADF; break;
    default: errno = EIO; break;
    }
    return -1;
}
#define async__f_pread(fd, b, n, off) async__f_at((fd), (b), (n), (off), 0)
#define async__f_pwrite(fd, b, n, off) async__f_at((fd), (void *)(b), (n), (off), 1)
#include <direct.h>
typedef struct _stat64 async__f_stat_t;
#define async__f_stat(path, st) _stat64((path), (st))
#define async__f_mkdir(path, mode) ((void)(mode), _mkdir(path))   /* no permission bits */
#define async__f_unlink(path) _unlink(path)
#define async__f_rmdir(path) _rmdir(path)
#define async__f_fsync(fd) _commit(fd)                             /* FlushFileBuffers */
#define async__f_fdatasync(fd) _commit(fd)
#define ASYNC__F_ISREG(m) (((m) & _S_IFMT) == _S_IFREG)
#define ASYNC__F_ISDIR(m) (((m) & _S_IFMT) == _S_IFDIR)
#endif

enum { ASYNC__REQ_RESOLVE, ASYNC__REQ_OPEN, ASYNC__REQ_READ, ASYNC__REQ_WRITE,
       ASYNC__REQ_READ_ALL, ASYNC__REQ_WRITE_ALL, ASYNC__REQ_STAT, ASYNC__REQ_SYNC,
       ASYNC__REQ_MKDIR, ASYNC__REQ_REMOVE, ASYNC__REQ_RMDIR };
#define ASYNC__FILE_MAX ((size_t)2 << 20)   /* bytes per read or write call (as Tokio) */

typedef struct async__req {
    int kind, fd, flags, mode, max;
    long long off;
    size_t len;
    char *a, *b;                        /* host and service, or path */
    unsigned char *data;                /* file bytes */
    async_addr *addrs;
    async_pool *pool;                   /* a slot of this pool's storage; NULL: allocated */
    struct async__req *next;            /* in the pool's free slots */
    int orphan;                         /* its call outlived its task (under the pool's mu) */
} async__req;

typedef char async__req_fits[((sizeof(async__req) + 15) & ~(size_t)15) <= ASYNC__REQ_HEAD_MAX
                             ? 1 : -1];

/* desc.storage: every slot free, one permit each. */
static void async__pool_slots_init(async__pool_impl *pi) {
    int i;
    for (i = pi->nreqs; i-- > 0; ) {
        async__req *q = (async__req *)(void *)(pi->reqs + (size_t)i * pi->req_stride);
        q->next = pi->free_reqs;
        pi->free_reqs = q;
    }
    (void)async_semaphore_init(&pi->req_permits, (size_t)pi->nreqs);
}

/* job.dropped: nobody wants the result any more (on the loop's or the pool's thread).
   A slot goes back to its pool; the loop gives its permit back when it collects. */
static void async__req_free(void *arg) {
    async__req *q = (async__req *)arg;
    async_pool *p = q->pool;
    if (q->kind == ASYNC__REQ_OPEN && q->fd >= 0) async__f_close(q->fd);    /* for nobody */
    if (!p) {
        async__dealloc(q);
        return;
    }
    async__lock(&p->impl->mu);
    q->next = p->impl->free_reqs;
    p->impl->free_reqs = q;
    p->impl->returned++;
    p->impl->orphans += q->orphan;
    async__unlock(&p->impl->mu);
    async_waker_wake(&p->waker);
}

/* Under the pool's mu: a call cancelled while it runs. 1 if it is a slot's (it stays
   outstanding until its thread gives the slot back: tasks may wait for it). */
static int async__req_orphan(async_blocking *job) {
    async__req *q = (async__req *)job->arg;
    if (job->dropped != async__req_free || !q->pool) return 0;
    q->orphan = 1;
    return 1;
}

/* The op is done with its request (the loop's thread). */
static void async__req_put(async__req *q) {
    async_pool *p = q->pool;
    if (!p) {
        async__dealloc(q);
        return;
    }
    async__lock(&p->impl->mu);
    q->next = p->impl->free_reqs;
    p->impl->free_reqs = q;
    async__unlock(&p->impl->mu);
    (void)async_semaphore_release(&p->impl->req_permits, 1);
}

/* The bytes a request may carry after it: SIZE_MAX when allocated. */
static size_t async__req_room(const async_pool *p) {
    return p->impl && p->impl->records ? p->impl->req_extra : SIZE_MAX;
}

static int async__eai(int e) {
    switch (e) {
    case EAI_AGAIN: return ASYNC_EAGAIN;
    case EAI_MEMORY: return ASYNC_ENOMEM;
#ifdef EAI_SYSTEM
    case EAI_SYSTEM: return errno ? -errno : ASYNC_ENOTFOUND;
#endif
    default: return ASYNC_ENOTFOUND;
    }
}

/* open(path) for a whole-file request, EINTR retried: the descriptor or -errno. */
static int async__req_open(async__req *q, int flags, int mode) {
    int fd;
    do fd = ASYNC__FAULT(ASYNC_SYS_FILE, -1, NULL) ? -1 : async__f_open(q->a, flags, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

/* read or write q->len bytes of q->data on fd, to the end (a read stops at end of
   file): the count, or -errno. */
static long long async__req_all(async__req *q, int fd, int writing) {
    size_t done = 0;
    while (done < q->len) {
        size_t len = q->len - done;
        long n;
        if (len > ASYNC__FILE_MAX) len = ASYNC__FILE_MAX;
        do n = ASYNC__FAULT(ASYNC_SYS_FILE, fd, &len) ? -1
             : writing ? (long)async__f_write(fd, q->data + done, len)
                       : (long)async__f_read(fd, q->data + done, len);
        while (n < 0 && errno == EINTR);
        if (n < 0) return -errno;
        if (n == 0) {
            if (writing) return -EIO;
            break;
        }
        done += (size_t)n;
    }
    return (long long)done;
}

/* A call on a path: -1 with errno when the fault hooks fail it, EINTR retried. */
#define ASYNC__PATH_CALL(rc, call) \
    do (rc) = ASYNC__FAULT(ASYNC_SYS_FILE, -1, NULL) ? -1 : (call); \
    while ((rc) < 0 && errno == EINTR)

/* mkdir(path), and an existing directory there is no error: 0 or -errno. */
static int async__mkdir_dir(const char *path, int mode) {
    async__f_stat_t st;
    int rc, e;
    ASYNC__PATH_CALL(rc, async__f_mkdir(path, mode));
    if (rc == 0) return 0;
    e = errno;
    if (e != EEXIST) return -e;
    ASYNC__PATH_CALL(rc, async__f_stat(path, &st));
    if (rc < 0) return -errno;
    return ASYNC__F_ISDIR(st.st_mode) ? 0 : -EEXIST;
}

/* Each missing parent of path (cut at each '/' in turn, then restored). */
static int async__mkdir_parents(char *path, int mode) {
    char *s;
    int rc;
    for (s = path + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        rc = async__mkdir_dir(path, mode);
        *s = '/';
        if (rc < 0) return rc == -EEXIST ? -ENOTDIR : rc;
    }
    return 0;
}

/* The requests on a path (and sync): on a pool thread. */
static int async__req_run_path(async__req *q) {
    async__f_stat_t st;
    long long n;
    int fd, rc;
    switch (q->kind) {
    case ASYNC__REQ_READ_ALL:           /* q->len is cap + 1: one byte more says "more" */
        if ((fd = async__req_open(q, O_RDONLY, 0)) < 0) return fd;
        n = async__req_all(q, fd, 0);
        async__f_close(fd);
        if (n < 0) return (int)n;
        return (size_t)n == q->len ? ASYNC_ELIMIT : (int)n;
    case ASYNC__REQ_WRITE_ALL:
        if ((fd = async__req_open(q, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0) return fd;
        n = async__req_all(q, fd, 1);
        rc = async__f_close(fd) < 0 && errno != EINTR ? -errno : 0;  /* NFS says it here */
        return n < 0 ? (int)n : rc;
    case ASYNC__REQ_STAT: {
        async_file_meta *m = (async_file_meta *)(void *)q->data;
        ASYNC__PATH_CALL(rc, async__f_stat(q->a, &st));
        if (rc < 0) return -errno;
        async__memset(m, 0, sizeof *m);
        m->size = (long long)st.st_size;
        m->modified_ns = (long long)st.st_mtime * 1000000000LL;
#ifdef ASYNC__LINUX
        m->modified_ns += (long long)st.st_mtim.tv_nsec;    /* elsewhere: whole seconds */
#endif
        m->mode = (unsigned)st.st_mode & 07777u;
        m->is_file = ASYNC__F_ISREG(st.st_mode) ? 1 : 0;
        m->is_dir = ASYNC__F_ISDIR(st.st_mode) ? 1 : 0;
        return 0;
    }
    case ASYNC__REQ_SYNC:
        do rc = ASYNC__FAULT(ASYNC_SYS_FILE, q->fd, NULL) ? -1
              : q->flags ? async__f_fdatasync(q->fd) : async__f_fsync(q->fd);
        while (rc < 0 && errno == EINTR);
        return rc < 0 ? -errno : 0;
    case ASYNC__REQ_MKDIR:
        if (!q->flags) {
            ASYNC__PATH_CALL(rc, async__f_mkdir(q->a, q->mode));
            return rc < 0 ? -errno : 0;
        }
        if ((rc = async__mkdir_parents(q->a, q->mode)) < 0) return rc;
        return async__mkdir_dir(q->a, q->mode);
    case ASYNC__REQ_REMOVE:
        ASYNC__PATH_CALL(rc, async__f_unlink(q->a));
        return rc < 0 ? -errno : 0;
    default:
        ASYNC__PATH_CALL(rc, async__f_rmdir(q->a));
        return rc < 0 ? -errno : 0;
    }
}

static int async__req_run(void *arg) {
    async__req *q = (async__req *)arg;
    long n;
    switch (q->kind) {
    case ASYNC__REQ_RESOLVE: {
        struct addrinfo hints, *res = NULL, *ai;
        int e, count = 0;
        async__memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
#ifdef ASYNC__WIN32
        if (async__wsa_ready() < 0) return ASYNC_ENOSYS;
#endif
        e = getaddrinfo(q->a, q->b, &hints, &res);
        if (e) return async__eai(e);
        for (ai = res; ai && count < q->max; ai = ai->ai_next) {
            if (ai->ai_addrlen > sizeof q->addrs[0].u.bytes) continue;
            async__memset(&q->addrs[count], 0, sizeof q->addrs[count]);
            async__memcpy(q->addrs[count].u.bytes, ai->ai_addr, ai->ai_addrlen);
            q->addrs[count++].len = (uint32_t)ai->ai_addrlen;
        }
        freeaddrinfo(res);
        return count ? count : ASYNC_ENOTFOUND;
    }
    case ASYNC__REQ_OPEN:
        do q->fd = ASYNC__FAULT(ASYNC_SYS_FILE, -1, NULL) ? -1
                 : async__f_open(q->a, q->flags, q->mode);
        while (q->fd < 0 && errno == EINTR);
        return q->fd < 0 ? -errno : q->fd;
    case ASYNC__REQ_READ:
        do n = ASYNC__FAULT(ASYNC_SYS_FILE, q->fd, &q->len) ? -1
             : q->off < 0 ? (long)async__f_read(q->fd, q->data, q->len)
                          : (long)async__f_pread(q->fd, q->data, q->len, q->off);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : (int)n;
    case ASYNC__REQ_WRITE:
        do n = ASYNC__FAULT(ASYNC_SYS_FILE, q->fd, &q->len) ? -1
             : q->off < 0 ? (long)async__f_write(q->fd, q->data, q->len)
                          : (long)async__f_pwrite(q->fd, q->data, q->len, q->off);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : (int)n;
    default:
        return async__req_run_path(q);
    }
}

/* A request with room for `extra` bytes after it (aligned for addrs) into *out:
   allocated, or with the pool's storage one of its slots, waited for in turn (w).
   0, ASYNC_PENDING, ASYNC_ENOMEM (allocation failed, or more than a slot carries),
   ASYNC_ECLOSED (the pool destroyed), ASYNC_ECANCELED (cancelled: w left the line). */
static int async__req_new(async_task *t, async_pool *p, async_waiter *w, int kind,
                          size_t extra, async__req **out) {
    size_t head = (sizeof(async__req) + 15) & ~(size_t)15;
    async__pool_impl *pi = p->impl;
    async__req *q;
    if (!pi) return ASYNC__CANCELLING(t) ? ASYNC_ECANCELED : ASYNC_EINVAL;    /* destroyed */
    if (pi->records) {
        int rc;
        if (!ASYNC__CANCELLING(t) && (extra > pi->req_extra || !pi->nreqs)) return ASYNC_ENOMEM;
        if ((rc = async_semaphore_acquire(t, &pi->req_permits, w)) != 0) return rc;
        async__lock(&pi->mu);
        q = pi->free_reqs;              /* a permit: a free slot */
        pi->free_reqs = q->next;
        async__unlock(&pi->mu);
        head = ASYNC__REQ_HEAD_MAX;
    } else {
        if (ASYNC__CANCELLING(t)) return ASYNC_ECANCELED;
        if (extra > SIZE_MAX - head) return ASYNC_ENOMEM;
        q = (async__req *)async__alloc(head + extra);
        if (!q) return ASYNC_ENOMEM;
    }
    async__memset(q, 0, sizeof *q);
    if (pi->records) q->pool = p;
    q->kind = kind;
    q->data = (unsigned char *)q + head;
    *out = q;
    return 0;
}

/* The common op: submit (the first time), wait, hand the request back. Returns the
   call's result with *done set, or what to return now. */
static int async__req_await(async_task *t, async_pool *p, async_blocking *job,
                            async__req **req, int *done) {
    int rc;
    *done = 0;
    job->dropped = async__req_free;
    rc = async_pool_spawn(t, p, job, async__req_run, *req);
    if (rc == ASYNC_PENDING) return rc;
    if (ASYNC__CANCELLING(t)) {
        *req = NULL;                    /* spawn_blocking dropped it (or the thread will) */
        return rc;
    }
    *done = 1;
    return rc;
}

ASYNC_DEF int async_pool_resolve(async_task *t, async_pool *p, async_resolve_op *r,
                                 const char *host, const char *service, async_addr *out,
                                 int max) {
    int rc, done, i;
    if (!t || !p || !r || !out || max <= 0 || (!host && !service)) return ASYNC_EINVAL;
    if (!r->req) {
        size_t hl = host ? strlen(host) + 1 : 0, sl = service ? strlen(service) + 1 : 0;
        size_t al, room = async__req_room(p);
        async__req *q = NULL;
        if ((size_t)max > SIZE_MAX / sizeof(async_addr) / 2) return ASYNC_EINVAL;
        if (room != SIZE_MAX && room >= hl + sl + sizeof(async_addr) &&
            (size_t)max > (room - hl - sl) / sizeof(async_addr))
            max = (int)((room - hl - sl) / sizeof(async_addr));  /* what a slot holds */
        al = (size_t)max * sizeof(async_addr);
        if ((rc = async__req_new(t, p, &r->w, ASYNC__REQ_RESOLVE, al + hl + sl, &q)) != 0)
            return rc;
        q->addrs = (async_addr *)(void *)q->data;
        q->max = max;
        if (host) q->a = (char *)q->data + al;
        if (service) q->b = (char *)q->data + al + hl;
        if (host) async__memcpy(q->a, host, hl);
        if (service) async__memcpy(q->b, service, sl);
        r->req = q;
    }
    rc = async__req_await(t, p, &r->job, &r->req, &done);
    if (!done) return rc;
    for (i = 0; rc > 0 && i < rc; i++) out[i] = r->req->addrs[i];
    async__req_put(r->req);
    r->req = NULL;
    return rc;
}

ASYNC_DEF int async_file_open(async_task *t, async_pool *p, async_file_op *op,
                              const char *path, int flags, int mode) {
    int rc, done;
    if (!t || !p || !op || !path) return ASYNC_EINVAL;
    if (!op->req) {
        size_t pl = strlen(path) + 1;
        if ((rc = async__req_new(t, p, &op->w, ASYNC__REQ_OPEN, pl, &op->req)) != 0) return rc;
        op->req->a = (char *)op->req->data;
        async__memcpy(op->req->a, path, pl);
        op->req->flags = flags;
        op->req->mode = mode;
        op->req->fd = -1;
    }
    rc = async__req_await(t, p, &op->job, &op->req, &done);
    if (!done) return rc;
    async__req_put(op->req);
    op->req = NULL;
    return rc;
}

static int async__file_rw(async_task *t, async_pool *p, async_file_op *op, int kind, int fd,
                          void *buf, size_t len, long long offset) {
    int rc, done;
    if (!t || !p || !op || fd < 0 || (!buf && len)) return ASYNC_EINVAL;
    if (len > ASYNC__FILE_MAX) len = ASYNC__FILE_MAX;
    if (len > async__req_room(p) && async__req_room(p)) len = async__req_room(p); /* a slot's */
    if (!op->req) {
        if ((rc = async__req_new(t, p, &op->w, kind, len, &op->req)) != 0) return rc;
        op->req->fd = fd;
        op->req->len = len;
        op->req->off = offset < 0 ? -1 : offset;
        if (kind == ASYNC__REQ_WRITE && len) async__memcpy(op->req->data, buf, len);
    }
    rc = async__req_await(t, p, &op->job, &op->req, &done);
    if (!done) return rc;
    if (kind == ASYNC__REQ_READ && rc > 0) async__memcpy(buf, op->req->data, (size_t)rc);
    async__req_put(op->req);
    op->req = NULL;
    return rc;
}

/* op: bytes read (at most 2 MB per call), 0 at end of file; offset < 0 reads at the
   file position (then a cancelled read may still move it). */
ASYNC_DEF int async_file_read(async_task *t, async_pool *p, async_file_op *op, int fd,
                              void *buf, size_t len, long long offset) {
    return async__file_rw(t, p, op, ASYNC__REQ_READ, fd, buf, len, offset);
}

ASYNC_DEF int async_file_write(async_task *t, async_pool *p, async_file_op *op, int fd,
                               const void *buf, size_t len, long long offset) {
    return async__file_rw(t, p, op, ASYNC__REQ_WRITE, fd, (void *)(uintptr_t)buf, len, offset);
}

/* The whole-file and path requests: the path and `extra` bytes (data in or out) are
   copied into the request, never shared with the caller's frame, so a cancelled op
   leaves the pool thread nothing of the caller's to touch. */
static int async__file_path(async_task *t, async_pool *p, async_file_op *op, int kind,
                            const char *path, int fd, int flags, int mode, size_t extra,
                            const void *in, void *out, size_t outlen) {
    int rc, done;
    if (!op->req) {
        size_t pl = path ? strlen(path) + 1 : 0;
        if (extra > SIZE_MAX - pl - 16) return ASYNC_ENOMEM;
        if ((rc = async__req_new(t, p, &op->w, kind, extra + pl, &op->req)) != 0) return rc;
        op->req->len = extra;
        op->req->fd = fd;
        op->req->flags = flags;
        op->req->mode = mode;
        if (in && extra) async__memcpy(op->req->data, in, extra);
        if (path) {
            op->req->a = (char *)op->req->data + extra;
            async__memcpy(op->req->a, path, pl);
        }
    }
    rc = async__req_await(t, p, &op->job, &op->req, &done);
    if (!done) return rc;
    if (rc >= 0 && out) async__memcpy(out, op->req->data, kind == ASYNC__REQ_READ_ALL ?
                                                      (size_t)rc : outlen);
    async__req_put(op->req);
    op->req = NULL;
    return rc;
}

ASYNC_DEF int async_file_read_all(async_task *t, async_pool *p, async_file_op *op,
                                  const char *path, void *buf, size_t cap) {
    if (!t || !p || !op || !path || (!buf && cap) || cap >= INT_MAX) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_READ_ALL, path, -1, 0, 0, cap + 1, NULL, buf,
                            0);
}

ASYNC_DEF int async_file_read_string(async_task *t, async_pool *p, async_file_op *op,
                                     const char *path, char *buf, size_t cap) {
    int rc;
    if (!buf || cap == 0) return ASYNC_EINVAL;
    rc = async_file_read_all(t, p, op, path, buf, cap - 1);
    if (rc >= 0) {
        buf[rc] = 0;
        if (!async__utf8_valid((const unsigned char *)buf, (size_t)rc)) {
            buf[0] = 0;
            return -EILSEQ;
        }
    } else if (rc != ASYNC_PENDING) {
        buf[0] = 0;
    }
    return rc;
}

ASYNC_DEF int async_file_write_all(async_task *t, async_pool *p, async_file_op *op,
                                   const char *path, const void *data, size_t len) {
    if (!t || !p || !op || !path || (!data && len) || len >= INT_MAX) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_WRITE_ALL, path, -1, 0, 0, len, data, NULL,
                            0);
}

ASYNC_DEF int async_file_stat(async_task *t, async_pool *p, async_file_op *op,
                              const char *path, async_file_meta *out) {
    if (!t || !p || !op || !path || !out) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_STAT, path, -1, 0, 0, sizeof *out, NULL, out,
                            sizeof *out);
}

ASYNC_DEF int async_file_sync(async_task *t, async_pool *p, async_file_op *op, int fd,
                              int data_only) {
    if (!t || !p || !op || fd < 0) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_SYNC, NULL, fd, data_only != 0, 0, 0, NULL,
                            NULL, 0);
}

ASYNC_DEF int async_file_mkdir(async_task *t, async_pool *p, async_file_op *op,
                               const char *path, int mode, int all) {
    if (!t || !p || !op || !path || !*path) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_MKDIR, path, -1, all != 0, mode, 0, NULL,
                            NULL, 0);
}

ASYNC_DEF int async_file_remove(async_task *t, async_pool *p, async_file_op *op,
                                const char *path) {
    if (!t || !p || !op || !path) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_REMOVE, path, -1, 0, 0, 0, NULL, NULL, 0);
}

ASYNC_DEF int async_file_remove_dir(async_task *t, async_pool *p, async_file_op *op,
                                    const char *path) {
    if (!t || !p || !op || !path) return ASYNC_EINVAL;
    return async__file_path(t, p, op, ASYNC__REQ_RMDIR, path, -1, 0, 0, 0, NULL, NULL, 0);
}

#endif

////////////////////////////////////////////////////////////////////////////////
// >>shutdown

#ifndef ASYNC_FREESTANDING
enum { ASYNC__SD_WAIT, ASYNC__SD_DRAIN, ASYNC__SD_ABORTED, ASYNC__SD_POOL, ASYNC__SD_DONE };

ASYNC_DEF int async_shutdown_init(async_shutdown *sd, async_runtime *rt,
                                  async_cancel_token *root, async_joinset *tasks,
                                  struct async_pool *pool, async_time grace) {
    int rc;
    if (!sd || !rt || (tasks && tasks->rt != rt)) return ASYNC_EINVAL;
#ifdef ASYNC_NO_THREADS
    if (pool) return ASYNC_EINVAL;
#endif
    async__memset(sd, 0, sizeof *sd);
    if ((rc = async_signal_init(&sd->sigint, rt, SIGINT)) < 0) return rc;
    if ((rc = async_signal_init(&sd->sigterm, rt, SIGTERM)) < 0) {
        async_signal_destroy(&sd->sigint);
        return rc;
    }
    sd->root = root;
    sd->tasks = tasks;
    sd->pool = pool;
    sd->grace = grace;
    return 0;
}

/* Start the shutdown now (Context: the loop's thread; from another thread or a
   signal handler, raise SIGTERM instead). */
ASYNC_DEF int async_shutdown_request(async_shutdown *sd) {
    if (!sd) return ASYNC_EINVAL;
    sd->requested = 1;
    if (sd->task && sd->phase == ASYNC__SD_WAIT) async_task_wake(sd->task);
    return 0;
}

/* op: the number of tasks aborted once everything has stopped. sd->signo says
   what started it, sd->drained how many tasks ended within the grace period. */
ASYNC_DEF int async_shutdown_run(async_task *t, async_shutdown *sd) {
    async_task *async__t = t;           /* for ASYNC__CANCEL_OP */
    int rc;
    if (!t || !sd || sd->sigint.slot < 0) return ASYNC_EINVAL;
    if (ASYNC__CANCELLING(t)) {
        if (sd->phase == ASYNC__SD_WAIT) {
            async__waker_disarm(&sd->sigint.waker, t);
            async__waker_disarm(&sd->sigterm.waker, t);
        } else if (sd->phase < ASYNC__SD_POOL) {
            if (sd->tasks) (void)async_joinset_wait_all(t, sd->tasks, &sd->w);
            (void)async_time_sleep_until(t, &sd->timer, sd->deadline);
        }
        sd->task = NULL;
        return ASYNC_ECANCELED;
    }
    if (sd->phase == ASYNC__SD_WAIT) {
        if (!sd->requested) {
            if ((rc = async_signal_recv(t, &sd->sigint)) > 0 ||
                (rc = async_signal_recv(t, &sd->sigterm)) > 0) {
                sd->signo = rc;
            } else if (rc != ASYNC_PENDING) {
                return rc;
            } else if (!sd->requested) {
                sd->task = t;
                return ASYNC_PENDING;
            }
        }
        async__waker_disarm(&sd->sigint.waker, t);
        async__waker_disarm(&sd->sigterm.waker, t);
        sd->task = t;                   /* draining: destroy is refused until it ends */
        if (sd->root) async_cancel_token_cancel(sd->root);
        sd->deadline = async__sat_add(async_time_now(t->rt), sd->grace);   /* NEVER stays */
        sd->drained = sd->tasks ? (int)sd->tasks->len : 0;
        sd->phase = ASYNC__SD_DRAIN;
    }
    if (sd->phase == ASYNC__SD_DRAIN) {
        if (sd->tasks && async_joinset_wait_all(t, sd->tasks, &sd->w) == ASYNC_PENDING) {
            if (async_time_sleep_until(t, &sd->timer, sd->deadline) == ASYNC_PENDING)
                return ASYNC_PENDING;
            ASYNC__CANCEL_OP(async_joinset_wait_all(t, sd->tasks, &sd->w));
            sd->drained -= (int)sd->tasks->len;         /* the rest still runs */
            sd->aborted = async__joinset_abort_each(sd->tasks, sd->on_abort, sd->user);
            sd->phase = ASYNC__SD_ABORTED;
        } else {
            ASYNC__CANCEL_OP(async_time_sleep_until(t, &sd->timer, sd->deadline));
            sd->phase = ASYNC__SD_POOL;
        }
    }
    if (sd->phase == ASYNC__SD_ABORTED) {       /* wait for the aborted to unwind */
        if (async_joinset_wait_all(t, sd->tasks, &sd->w) == ASYNC_PENDING) return ASYNC_PENDING;
        sd->phase = ASYNC__SD_POOL;
    }
    if (sd->phase == ASYNC__SD_POOL) {
#ifndef ASYNC_NO_THREADS
        if (sd->pool && sd->pool->impl) async_pool_destroy(sd->pool);
#endif
        sd->phase = ASYNC__SD_DONE;
        sd->task = NULL;
    }
    return sd->aborted;
}

ASYNC_DEF int async_shutdown_destroy(async_shutdown *sd) {
    int rc;
    if (!sd || sd->sigint.slot < 0) return ASYNC_EINVAL;
    if (sd->task) return ASYNC_EBUSY;
    if ((rc = async_signal_destroy(&sd->sigint)) < 0) return rc;
    return async_signal_destroy(&sd->sigterm);
}
#endif

////////////////////////////////////////////////////////////////////////////////
// >>debug

ASYNC_DEF const char *async_task_state_name(int state) {
    switch (state) {
    case ASYNC_TASK_IDLE: return "idle";
    case ASYNC_TASK_QUEUED: return "ready";
    case ASYNC_TASK_RUNNING: return "running";
    case ASYNC_TASK_DEFERRED: return "yielded";
    case ASYNC_TASK_WAITING: return "waiting";
    case ASYNC_TASK_DONE: return "done";
    default: return "?";
    }
}

#ifndef ASYNC_NO_DEBUG
#ifndef ASYNC_FREESTANDING
static void async__write_stderr(void *user, const char *text) {
    (void)user;
    fputs(text, stderr);
}
#endif

static void async__dump_task(async_task *t, int deferred, async_write_fn write, void *user) {
    async__fmt f;
    const char *file = NULL;
    int line = 0;
    f.len = 0;
    async__fmt_s(&f, "  task ");
    async__fmt_x(&f, (uintptr_t)t);
    async__fmt_s(&f, " \"");
    async__fmt_s(&f, t->name ? t->name : "");
    async__fmt_s(&f, "\" ");
    (void)deferred;
    async__fmt_s(&f, async_task_state_name(async_task_state(t)));
    if (t->flags & ASYNC__F_ABORT) async__fmt_s(&f, " (aborting)");
    if (t->lc == 0) {
        async__fmt_s(&f, " not started");
    } else if (async_task_where(t, &file, &line) == 0) {
        async__fmt_s(&f, " at ");
        async__fmt_s(&f, file ? file : "?");
        async__fmt_s(&f, ":");
        async__fmt_u(&f, (uint64_t)line);
        if (t->site && t->site->what) {
            async__fmt_s(&f, " in ");
            async__fmt_s(&f, t->site->what);
        }
    }
    if (t->state != ASYNC_TASK_DONE && (t->flags2 & ASYNC__F2_INSET)) {
        async__fmt_s(&f, " (in a JoinSet)");
    } else if (t->state != ASYNC_TASK_DONE && t->u.joiner) {
        async__fmt_s(&f, " (joined by \"");
        async__fmt_s(&f, t->u.joiner->name ? t->u.joiner->name : "");
        async__fmt_s(&f, "\")");
    }
    async__fmt_s(&f, "\n");
    write(user, f.buf);
}

ASYNC_DEF void async_runtime_dump(async_runtime *rt, async_write_fn write, void *user) {
    async__fmt f;
    async__link *lists[3];
    int i;
    if (!rt) return;
#ifndef ASYNC_FREESTANDING
    if (!write) write = async__write_stderr;
#else
    if (!write) return;
#endif
    f.len = 0;
    async__fmt_s(&f, "async runtime: ");
    async__fmt_u(&f, rt->live);
    {
        uint32_t yielded = 0;
        async__link *l;
        for (l = rt->deferred.next; l != &rt->deferred; l = l->next) yielded++;
        async__fmt_s(&f, " live tasks (");
        async__fmt_u(&f, rt->nready - yielded);
        async__fmt_s(&f, " ready, ");
        async__fmt_u(&f, yielded);
        async__fmt_s(&f, " yielded), ");
    }
    async__fmt_u(&f, rt->ntimers);
    async__fmt_s(&f, " timers, ");
    async__fmt_u(&f, rt->armed_wakers);
    async__fmt_s(&f, " wakers armed, time ");
    async__fmt_ms(&f, async_time_now(rt));
    async__fmt_s(&f, (rt->flags & ASYNC__RT_PAUSED) ? " ms (paused)\n" : " ms\n");
    write(user, f.buf);
    f.len = 0;
    async__fmt_s(&f, "  polls=");
    async__fmt_u(&f, rt->stats.polls);
    async__fmt_s(&f, " wakes=");
    async__fmt_u(&f, rt->stats.wakes);
    async__fmt_s(&f, " timers_fired=");
    async__fmt_u(&f, rt->stats.timers_fired);
    async__fmt_s(&f, " spawned=");
    async__fmt_u(&f, rt->stats.spawned);
    async__fmt_s(&f, " completed=");
    async__fmt_u(&f, rt->stats.completed);
    async__fmt_s(&f, " slow_polls=");
    async__fmt_u(&f, rt->stats.slow_polls);
    async__fmt_s(&f, "\n");
    write(user, f.buf);
#ifndef ASYNC_FREESTANDING
    if (rt->io.wait) {                  /* the reactor started: its backend */
        f.len = 0;
        async__fmt_s(&f, "  io: ");
        async__fmt_s(&f, async_runtime_io_backend(rt));
        if (rt->io.be_refused) {
            async__fmt_s(&f, " (io_uring refused: ");
            async__fmt_s(&f, async_strerror(rt->io.be_refused));
            async__fmt_s(&f, ")");
        }
        async__fmt_s(&f, ", ");
        async__fmt_u(&f, rt->io.n - 1);
        async__fmt_s(&f, " descriptors, ");
        async__fmt_u(&f, rt->io.nwait);
        async__fmt_s(&f, " waits");
#ifdef ASYNC__URING
        if (rt->io.be_kind == ASYNC_BACKEND_IO_URING && rt->io.be_slots &&
            ((async__uring *)rt->io.be_slots)->pool) {
            async__uring *u = (async__uring *)rt->io.be_slots;
            uint32_t k, tx = 0;
            for (k = 0; k < ASYNC__UR_TXN; k++) tx += u->pool->tx[k].next == UINT32_MAX - 2;
            async__fmt_s(&f, u->cio == 1 ? ", completion I/O: " : ", completion I/O (off): ");
            async__fmt_u(&f, ASYNC__UR_RXN - u->pool->rin);
            async__fmt_s(&f, " buffers held, ");
            async__fmt_u(&f, tx);
            async__fmt_s(&f, " sends in flight");
        }
        if (rt->io.be_kind == ASYNC_BACKEND_IO_URING && rt->io.be_slots &&
            ((async__uring *)rt->io.be_slots)->afd_cap) {
            async__uring *u = (async__uring *)rt->io.be_slots;
            uint32_t k, held = 0;
            for (k = 1; k < rt->io.n; k++)
                if (u->toks[u->tok[k]].acc) held += u->toks[u->tok[k]].qn;
            async__fmt_s(&f, ", ");
            async__fmt_u(&f, held);
            async__fmt_s(&f, " connections accepted, not taken");
        }
#endif
        async__fmt_s(&f, "\n");
        write(user, f.buf);
    }
#endif
    if (rt->current) async__dump_task(rt->current, 0, write, user);
    lists[0] = &rt->runq;
    lists[1] = &rt->deferred;
    lists[2] = &rt->waiting;
    for (i = 0; i < 3; i++) {
        async__link *l;
        for (l = lists[i]->next; l != lists[i]; l = l->next)
            async__dump_task(async__task_of(l), i == 1, write, user);
    }
}

static void async__metrics_hist(async__fmt *f, const char *what, const uint64_t *h,
                                async_time max, async_write_fn write, void *user) {
    static const char *const label[ASYNC_METRICS_BUCKETS] = {
        "   <1us", "   <4us", "  <16us", "  <64us", " <256us", " <1.0ms", " <4.1ms",
        "<16.4ms", "<65.5ms", " <262ms", " <1.05s", ">=1.05s"};
    uint64_t top = 0;
    int b, k;
    for (b = 0; b < ASYNC_METRICS_BUCKETS; b++) top = h[b] > top ? h[b] : top;
    f->len = 0;
    async__fmt_s(f, "  ");
    async__fmt_s(f, what);
    async__fmt_s(f, " (the longest ");
    async__fmt_ms(f, max);
    async__fmt_s(f, " ms):\n");
    write(user, f->buf);
    for (b = 0; b < ASYNC_METRICS_BUCKETS; b++) {
        uint64_t bar;
        if (!h[b]) continue;
        bar = async__divmod(async__sat_mul(h[b], 40u), top, NULL);
        f->len = 0;
        async__fmt_s(f, "    ");
        async__fmt_s(f, label[b]);
        async__fmt_s(f, " ");
        for (k = 0; k < 40; k++) async__fmt_s(f, (uint64_t)k < bar || k == 0 ? "#" : " ");
        async__fmt_s(f, " ");
        async__fmt_u(f, h[b]);
        async__fmt_s(f, "\n");
        write(user, f->buf);
    }
}

ASYNC_DEF void async_metrics_print(const async_metrics *m, async_write_fn write, void *user) {
    async__fmt f;
    async_time busy;
    if (!m) return;
#ifndef ASYNC_FREESTANDING
    if (!write) write = async__write_stderr;
#else
    if (!write) return;
#endif
    busy = m->elapsed - (m->idle < m->elapsed ? m->idle : m->elapsed);
    f.len = 0;
    async__fmt_s(&f, "async runtime metrics: ");
    async__fmt_ms(&f, m->elapsed);
    async__fmt_s(&f, " ms, busy ");
    async__fmt_u(&f, m->elapsed ? async__divmod(async__sat_mul(busy, 100u), m->elapsed, NULL)
                                : 0);
    async__fmt_s(&f, "% (idle ");
    async__fmt_ms(&f, m->idle);
    async__fmt_s(&f, " ms in ");
    async__fmt_u(&f, m->parks);
    async__fmt_s(&f, " parks), ");
    async__fmt_u(&f, m->turns);
    async__fmt_s(&f, " turns\n");
    write(user, f.buf);
    f.len = 0;
    async__fmt_s(&f, "  tasks: ");
    async__fmt_u(&f, m->live);
    async__fmt_s(&f, " alive, ");
    async__fmt_u(&f, m->ready);
    async__fmt_s(&f, " queued (at most ");
    async__fmt_u(&f, m->ready_max);
    async__fmt_s(&f, "); ");
    async__fmt_u(&f, m->timers);
    async__fmt_s(&f, " timers, ");
    async__fmt_u(&f, m->io_registered);
    async__fmt_s(&f, " descriptors (");
    async__fmt_u(&f, m->io_waiting);
    async__fmt_s(&f, " waits)\n");
    write(user, f.buf);
    f.len = 0;
    async__fmt_s(&f, "  polls=");
    async__fmt_u(&f, m->stats.polls);
    async__fmt_s(&f, " (");
    async__fmt_u(&f, m->stats.spawned ? async__divmod(m->stats.polls, m->stats.spawned, NULL)
                                      : 0);
    async__fmt_s(&f, " a task) wakes=");
    async__fmt_u(&f, m->stats.wakes);
    async__fmt_s(&f, " timers_fired=");
    async__fmt_u(&f, m->stats.timers_fired);
    async__fmt_s(&f, " spawned=");
    async__fmt_u(&f, m->stats.spawned);
    async__fmt_s(&f, " completed=");
    async__fmt_u(&f, m->stats.completed);
    async__fmt_s(&f, " slow_polls=");
    async__fmt_u(&f, m->stats.slow_polls);
    async__fmt_s(&f, " io_events=");
    async__fmt_u(&f, m->stats.io_events);
    async__fmt_s(&f, "\n");
    write(user, f.buf);
    if (!m->histograms) return;
    async__metrics_hist(&f, "poll time", m->poll_hist, m->poll_max, write, user);
    async__metrics_hist(&f, "delay from the turn's start to the poll", m->delay_hist,
                        m->delay_max, write, user);
}
#else
ASYNC_DEF void async_runtime_dump(async_runtime *rt, async_write_fn write, void *user) {
    (void)rt; (void)write; (void)user;          /* the debug layer is compiled out */
}
ASYNC_DEF void async_metrics_print(const async_metrics *m, async_write_fn write, void *user) {
    (void)m; (void)write; (void)user;
}
#endif /* ASYNC_NO_DEBUG */

/* ---- the test harness ------------------------------------------------------------ */

#ifndef ASYNC_NO_DEBUG
static void async__test_write(void *user, const char *text) {
    async__log((async_runtime *)user, text);
}

/* "async.h: test "NAME": " then text[0] n[0] text[1] n[1] ... on rt's log (count
   numbers), then the dump of what is left. */
static void async__test_say(async_runtime *rt, const char *name, const char *const *text,
                            const uint64_t *n, int count) {
    async__fmt f;
    int i;
    f.len = 0;
    async__fmt_s(&f, "async.h: test \"");
    async__fmt_s(&f, name);
    async__fmt_s(&f, "\": ");
    for (i = 0; i < count; i++) {
        async__fmt_s(&f, text[i]);
        async__fmt_u(&f, n[i]);
    }
    async__fmt_s(&f, text[count]);
    async__fmt_s(&f, "\n");
    async__log(rt, f.buf);
    async_runtime_dump(rt, async__test_write, rt);
}
#define ASYNC__TEST_SAY(rt, name, text, n, count) async__test_say(rt, name, text, n, count)
#else
#define ASYNC__TEST_SAY(rt, name, text, n, count) ((void)(text), (void)(n))
#endif

ASYNC_DEF int async_test_run(async_task_fn fn, size_t frame_size, const char *name,
                             const async_runtime_desc *desc) {
    async_runtime_desc d;
    async_runtime *rt;
    async_task *t;
    int rc;
    if (!fn || frame_size < sizeof(async_task)) return ASYNC_EINVAL;
    if (desc) d = *desc;
    else {
        async__memset(&d, 0, sizeof d);
        d.start_paused = 2;                     /* paused, auto-advancing */
    }
    if (!name) name = "test";
    rt = (async_runtime *)async__alloc(sizeof *rt);
    t = (async_task *)async__alloc(frame_size);
    if (!rt || !t) {
        async__dealloc(rt);
        async__dealloc(t);
        return ASYNC_ENOMEM;
    }
    async__memset(t, 0, frame_size);
    if ((rc = async_runtime_init(rt, &d)) < 0) {
        async__dealloc(rt);
        async__dealloc(t);
        return rc;
    }
    rc = async_runtime_block_on(rt, t, fn, name);
    if (t->state != ASYNC_TASK_DONE) {
        static const char *const text[] = {"hung: ", " tasks can never finish (none can "
                                           "run, no timer can fire, no waker is armed)"};
        uint64_t n[1];
        n[0] = rt->live;
        ASYNC__TEST_SAY(rt, name, text, n, 1);
        if (rc >= 0) rc = ASYNC_EDEADLK;
    } else if (rc != 0) {
        static const char *const neg[] = {"returned -", ""};
        static const char *const pos[] = {"returned ", ""};
        uint64_t n[1];
        n[0] = rc < 0 ? (uint64_t)-(int64_t)rc : (uint64_t)rc;
        ASYNC__TEST_SAY(rt, name, rc < 0 ? neg : pos, n, 1);
    } else {
        uint64_t n[4];
        async__link *l;
        n[0] = rt->live;                        /* spawned, neither joined nor aborted */
        n[1] = 0;                               /* ended, allocated, never joined */
        for (l = rt->zombies.next; l != &rt->zombies; l = l->next) n[1]++;
        n[2] = rt->ntimers + rt->armed_wakers;
#ifndef ASYNC_FREESTANDING
        n[3] = rt->io.n > 1 ? rt->io.n - 1 : 0; /* descriptors still registered */
#else
        n[3] = 0;
#endif
        if (n[0] || n[1] || n[2] || n[3]) {
            static const char *const text[] = {"left behind ", " live tasks, ",
                " ended tasks nobody joined, ", " timers or wakers armed, ",
                " descriptors registered"};
            ASYNC__TEST_SAY(rt, name, text, n, 4);
            rc = ASYNC_EBUSY;
        }
    }
    async_runtime_destroy(rt);
    async__dealloc(rt);
    async__dealloc(t);
    return rc;
}

#endif /* ASYNC_IMPLEMENTATION_INCLUDED */
#endif /* ASYNC_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the async.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication in good faith to the benefit of the public at
large and to the detriment of our heirs and successors. We intend this
dedication to be an overt act of relinquishment in perpetuity of all present
and future rights to this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
