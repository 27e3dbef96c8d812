/* fastact's thread pool: persistent worker threads (pthreads + C11 atomics), one per
 * process, shared by every compiled module (hand-written).
 *
 *   typedef void (*fa_chunk_fn)(void *ctx, intptr_t chunk);
 *   int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx);
 *   void fa_pool_fail(void);
 *
 * fa_parallel_for runs fn(ctx, chunk) for every chunk in [0, n_chunks) on at most
 * `threads` threads and returns 0, or -1 if a chunk called fa_pool_fail() (the caller
 * then raises).  The rules, and why:
 *
 *   - The calling thread always works too, and chunks are claimed one at a time from
 *     an atomic counter.  So a worker that the kernel has not scheduled yet (a busy
 *     machine, a core taken by BLAS) costs nothing: the caller takes its chunks.  The
 *     caller returns as soon as every chunk is done: it waits only for chunks that a
 *     worker has claimed and is running, never for a worker that has claimed nothing.
 *     (OpenMP's parallel region ends in a barrier that waits for every team thread,
 *     scheduled or not: one scheduler slice, 4-8 ms, per call on a busy machine.)
 *   - Workers sleep on a condition variable between calls: no spinning that would
 *     take a core from the user's other work (libgomp spins ~300k iterations).  They
 *     run as SCHED_BATCH, so that waking one never preempts the caller (see
 *     fa_pool_worker), and the caller spins at most ~2 chunk times (<= 100 us) for
 *     a chunk a worker still runs before it sleeps.
 *   - On a machine whose cores are taken by other work, calls that waited long for
 *     a worker send the next calls below a size to the caller alone, for a while
 *     that backs off exponentially (see fa_pool_adapt_*): such machines converge to
 *     one-thread behaviour, machines with a free core keep every call threaded.
 *     Which thread runs a chunk never changes a result.
 *   - Floating-point mode: the caller's MXCSR (flush-to-zero, denormals-are-zero,
 *     rounding, exception masks; its exception flags are not copied) is loaded in
 *     every worker for the duration of the call.  The rule is "the caller's mode
 *     applies to every thread": results do not depend on which thread ran a chunk,
 *     under torch.set_flush_denormal(True) too (issue 15, item 3).  Elsewhere than
 *     x86 the whole fenv_t (fegetenv/fesetenv) plays that part.
 *   - No chunk runs after fa_parallel_for returns: a chunk can only be claimed while
 *     unclaimed chunks remain, and the caller returns only when every claimed chunk
 *     is done.  A worker that wakes late finds the call over (the claim counter holds
 *     the call's generation next to the chunk index, and a claim is one
 *     compare-and-swap on both) and goes back to sleep.
 *   - One call at a time owns the pool: a call made while another one holds it (a
 *     second Python thread, or a chunk calling fa_parallel_for) runs all its chunks
 *     on its own thread.  Results are the same; nothing waits for the pool.
 *   - fork(): pthread_atfork gives the child an empty pool (the parent's workers do
 *     not exist there); the child's first threaded call starts new workers.
 *
 * A kernel that needs deterministic reductions partitions its work into a fixed
 * number of chunks that does not depend on `threads`, and combines the chunks'
 * partial results in chunk order.
 *
 * One pool per process: the implementation is compiled into fastact._kernels._runtime
 * only (which defines FA_POOL_IMPLEMENTATION before including this header) and
 * published as the capsule "fastact._kernels._runtime._pool_api".  Every other module
 * that includes this header gets small wrappers that call through the capsule's
 * function pointers, imported on first use (or by fa_pool_import() at module init).
 * If the import fails the wrappers run the chunks serially on the caller.
 */
#ifndef FA_POOL_H
#define FA_POOL_H

#include <Python.h>
#include <stdint.h>

typedef void (*fa_chunk_fn)(void *ctx, intptr_t chunk);

/* The most threads a call can use (fastact.set_num_threads refuses more). */
#define FA_POOL_MAX_THREADS 256
#define FA_POOL_CAPSULE "fastact._kernels._runtime._pool_api"

typedef struct {
    int version;
    int (*parallel_for)(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx);
    void (*fail)(void);
} fa_pool_api_t;

#ifdef FA_POOL_IMPLEMENTATION
/* ------------------------------------------------------------------ implementation */
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define FA_POOL_MXCSR 1
#endif

/* Chunk index bits of the claim word; the generation takes the rest (26 bits: a
 * worker would have to sleep between its load and its compare-and-swap through 2**26
 * calls for a stale claim to succeed). Calls with more chunks run serially. */
#define FA_POOL_INDEX_BITS 38
#define FA_POOL_INDEX_MASK ((UINT64_C(1) << FA_POOL_INDEX_BITS) - 1)

typedef struct {
#ifdef FA_POOL_MXCSR
    unsigned int csr;
#else
    fenv_t env;
#endif
} fa_fpmode;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* workers: a new call was published */
    pthread_cond_t done_cv; /* the caller: the last chunk is done */
    int nworkers;           /* started (under lock) */
    int caller_waiting;     /* under lock */
    uint64_t gen;           /* generation of the published call (under lock) */
    /* The published call (written under lock before gen changes). */
    fa_chunk_fn fn;
    void *ctx;
    intptr_t n_chunks;
    int helpers_wanted;
    int helpers; /* tickets taken for this call (under lock) */
    fa_fpmode mode;
    _Atomic uint64_t claim; /* gen << FA_POOL_INDEX_BITS | next chunk */
    _Atomic intptr_t done;  /* chunks finished */
    atomic_int failed;
    atomic_int busy; /* a call owns the pool */
    /* The adaptive policy (see fa_pool_adapt_*; read and written by the pool's owner
     * only, so ordered by `busy`). */
    int64_t adapt_thr_ns; /* calls estimated below this run on the caller alone... */
    int64_t adapt_bad_at; /* ...halving every adapt_hold_ns since this bad call */
    int64_t adapt_hold_ns;
    /* Counters for tests and benchmarks (relaxed). */
    _Atomic long stat_calls, stat_serial_busy, stat_worker_chunks, stat_wakeups, stat_caller_sleeps;
    _Atomic long stat_bad_calls, stat_adaptive_serial, stat_wait_us;
    atomic_int debug_delay_us; /* tests: workers sleep this long before claiming */
    int atfork_registered;
} fa_pool_state = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
};

static _Thread_local atomic_int *fa_pool_fail_target = NULL;

static void fa_pool_fail_impl(void) {
    atomic_int *target = fa_pool_fail_target;
    if (target != NULL) atomic_store(target, 1);
}

static inline void fa_fpmode_get(fa_fpmode *m) {
#ifdef FA_POOL_MXCSR
    m->csr = _mm_getcsr() & ~0x3Fu; /* control bits only: not the exception flags */
#else
    fegetenv(&m->env);
#endif
}

static inline void fa_fpmode_set(const fa_fpmode *m) {
#ifdef FA_POOL_MXCSR
    _mm_setcsr(m->csr);
#else
    fesetenv(&m->env);
#endif
}

/* Claims the next chunk of call `gen`; -1 when none is left or the call is over. */
static inline intptr_t fa_pool_claim(uint64_t gen, intptr_t n_chunks) {
    uint64_t v = atomic_load_explicit(&fa_pool_state.claim, memory_order_acquire);
    for (;;) {
        if ((v >> FA_POOL_INDEX_BITS) != (gen & ((UINT64_C(1) << (64 - FA_POOL_INDEX_BITS)) - 1)))
            return -1;
        intptr_t index = (intptr_t)(v & FA_POOL_INDEX_MASK);
        if (index >= n_chunks) return -1;
        if (atomic_compare_exchange_weak_explicit(&fa_pool_state.claim, &v, v + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            return index;
    }
}

static void *fa_pool_worker(void *arg) {
    /* The generation when this worker was started: it serves the next call. */
    uint64_t seen = (uint64_t)(uintptr_t)arg;
#if defined(__linux__) && defined(SCHED_BATCH)
    /* SCHED_BATCH: same CPU share as a normal thread, but its wake-up never preempts
     * the running task.  Measured on the 2-core machine with one busy loop per core
     * (load average 6-8 with other sessions), cython sigmoid 1e6, 2 threads: in most
     * calls the woken worker preempted the caller on its own core and ran all 17
     * chunks while the caller waited to be scheduled again (pool_info: worker_chunks
     * +17, caller wait 0): median 7.4 ms against 1.67 ms on one thread.  A batch
     * worker waits for a free core (or the tick) instead; the caller, still running,
     * takes the chunks meanwhile.  On an idle core the wake-up is as fast as before. */
    {
        struct sched_param sp;
        sp.sched_priority = 0;
        (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    }
#endif
    pthread_mutex_lock(&fa_pool_state.lock);
    for (;;) {
        while (fa_pool_state.gen == seen) pthread_cond_wait(&fa_pool_state.wake, &fa_pool_state.lock);
        seen = fa_pool_state.gen;
        if (fa_pool_state.helpers >= fa_pool_state.helpers_wanted) continue;
        fa_pool_state.helpers++;
        const fa_chunk_fn fn = fa_pool_state.fn;
        void *const ctx = fa_pool_state.ctx;
        const intptr_t n = fa_pool_state.n_chunks;
        const fa_fpmode mode = fa_pool_state.mode;
        pthread_mutex_unlock(&fa_pool_state.lock);

        atomic_fetch_add_explicit(&fa_pool_state.stat_wakeups, 1, memory_order_relaxed);
        int delay = atomic_load_explicit(&fa_pool_state.debug_delay_us, memory_order_relaxed);
        if (delay > 0) {
            struct timespec ts = {delay / 1000000, (long)(delay % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        fa_fpmode_set(&mode);
        fa_pool_fail_target = &fa_pool_state.failed;
        intptr_t chunk;
        long ran = 0;
        while ((chunk = fa_pool_claim(seen, n)) >= 0) {
            fn(ctx, chunk);
            ran++;
            if (atomic_fetch_add(&fa_pool_state.done, 1) + 1 == n) {
                pthread_mutex_lock(&fa_pool_state.lock);
                if (fa_pool_state.caller_waiting) pthread_cond_signal(&fa_pool_state.done_cv);
                pthread_mutex_unlock(&fa_pool_state.lock);
            }
        }
        fa_pool_fail_target = NULL;
        if (ran) atomic_fetch_add_explicit(&fa_pool_state.stat_worker_chunks, ran, memory_order_relaxed);
        pthread_mutex_lock(&fa_pool_state.lock);
    }
    return NULL;
}

static void fa_pool_atfork_prepare(void) { pthread_mutex_lock(&fa_pool_state.lock); }
static void fa_pool_atfork_parent(void) { pthread_mutex_unlock(&fa_pool_state.lock); }
static void fa_pool_atfork_child(void) {
    /* The child has one thread: the parent's workers were not copied. A fresh pool. */
    pthread_mutex_init(&fa_pool_state.lock, NULL);
    pthread_cond_init(&fa_pool_state.wake, NULL);
    pthread_cond_init(&fa_pool_state.done_cv, NULL);
    fa_pool_state.nworkers = 0;
    fa_pool_state.caller_waiting = 0;
    fa_pool_state.helpers = fa_pool_state.helpers_wanted = 0;
    atomic_store(&fa_pool_state.busy, 0);
    atomic_store(&fa_pool_state.stat_calls, 0);
    atomic_store(&fa_pool_state.stat_serial_busy, 0);
    atomic_store(&fa_pool_state.stat_worker_chunks, 0);
    atomic_store(&fa_pool_state.stat_wakeups, 0);
    atomic_store(&fa_pool_state.stat_caller_sleeps, 0);
    atomic_store(&fa_pool_state.stat_bad_calls, 0);
    atomic_store(&fa_pool_state.stat_adaptive_serial, 0);
    atomic_store(&fa_pool_state.stat_wait_us, 0);
    fa_pool_state.adapt_thr_ns = 0; /* the child measures its own machine share */
    fa_pool_state.adapt_hold_ns = 0; /* 0: FA_POOL_HOLD_NS */
    fa_pool_fail_target = NULL;
}

/* Starts workers until `want` exist (under lock); returns how many exist. */
static int fa_pool_grow(int want) {
    if (!fa_pool_state.atfork_registered) {
        if (pthread_atfork(fa_pool_atfork_prepare, fa_pool_atfork_parent, fa_pool_atfork_child) != 0)
            return fa_pool_state.nworkers; /* no fork safety: no threads */
        fa_pool_state.atfork_registered = 1;
    }
    if (fa_pool_state.nworkers >= want) return fa_pool_state.nworkers;
    sigset_t all, old;
    pthread_attr_t attr;
    sigfillset(&all);
    /* Workers block every signal: Python handles signals on the main thread. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1 << 21); /* 2 MiB: chunks use < 128 KiB of stack (the largest: a float64 batch of short rows backward from x, ~81 KiB of buffers in fa_vjp_x_short and fa_softmax_short) */
    while (fa_pool_state.nworkers < want) {
        pthread_t t;
        if (pthread_create(&t, &attr, fa_pool_worker, (void *)(uintptr_t)fa_pool_state.gen) != 0)
            break;
        fa_pool_state.nworkers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return fa_pool_state.nworkers;
}

static int fa_pool_serial(intptr_t n_chunks, fa_chunk_fn fn, void *ctx) {
    atomic_int failed = 0;
    atomic_int *saved = fa_pool_fail_target;
    fa_pool_fail_target = &failed;
    for (intptr_t c = 0; c < n_chunks; c++) fn(ctx, c);
    fa_pool_fail_target = saved;
    return atomic_load(&failed) ? -1 : 0;
}

static inline int64_t fa_pool_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The adaptive policy: on a machine whose cores are taken by other work, a worker can
 * be preempted while it holds a chunk (or the caller, once asleep, be woken late), and
 * the caller then waits a scheduler slice (ms) for a call that takes 0.05-0.3 ms on
 * one thread.  Measured before this policy with `fastact bench --pool busy` (one
 * busy-loop per core, load average 3.4 from other sessions besides): cython sigmoid
 * 1e5 p90 0.29 ms on 1 thread, 3.40 ms on 2; 1e6 median 1.65 ms against 8.20 ms.
 * No chunking avoids it (a chunk at 1e5 is ~6 us of work: the wait is the scheduler's,
 * not the chunk's), so the caller measures every threaded call: the time it waited
 * for workers after it had run out of chunks, and the serial time the call would
 * have taken (its own time per chunk x the number of chunks).  A call that took
 * longer than that estimate and waited more than FA_POOL_BAD_WAIT_NS is "bad": calls
 * whose estimated serial time is below max(2 x the current threshold, 2 x the bad
 * call's estimate, 4 x its wait) then run on the caller alone (a wait like that would
 * cost them >= 25 %), the threshold halving every hold period (0.1 s at first) so
 * that calls are probed on threads again, smaller ones later: a threshold of 12 ms
 * after a 3 ms wait lets 0.1 ms calls back on threads after ~7 halvings, 0.7 s.  A
 * probe (a threaded call that the threshold in force before would have kept on the
 * caller) that is bad again doubles the threshold and the hold period (up to 3.2 s:
 * exponential back-off), a good one resets the hold period.  Also bad: a call in
 * which the workers ran most chunks (the caller was off its core for most of it).
 * With one busy loop per core the first version (0.1 s fixed, before SCHED_BATCH)
 * still had 10 bad calls in the ~700 threaded calls of `fastact bench --pool busy`,
 * most of its 1e5 p90 figure.  A machine whose cores are free
 * never has a bad call, so it keeps every call on threads.  The estimate needs a
 * chunk's time before the workers are woken: while a threshold is in force the caller
 * runs chunk 0 alone and timed, then decides (idle machines never pay this). */
#define FA_POOL_BAD_WAIT_NS 20000
#define FA_POOL_HOLD_NS 100000000
#define FA_POOL_HOLD_MAX_NS 3200000000
#define FA_POOL_THR_MAX_NS 1000000000

static int64_t fa_pool_adapt_threshold(int64_t now) {
    int64_t thr = fa_pool_state.adapt_thr_ns;
    if (thr <= 0) return 0;
    const int64_t hold = fa_pool_state.adapt_hold_ns > 0 ? fa_pool_state.adapt_hold_ns : FA_POOL_HOLD_NS;
    const int64_t halvings = (now - fa_pool_state.adapt_bad_at) / hold;
    if (halvings >= 62) return 0;
    thr >>= halvings;
    return thr < FA_POOL_BAD_WAIT_NS ? 0 : thr;
}

static void fa_pool_adapt_bad(int64_t now, int64_t estimate, int64_t wait) {
    int64_t thr = 2 * fa_pool_adapt_threshold(now);
    if (thr < 2 * estimate) thr = 2 * estimate;
    if (thr < 4 * wait) thr = 4 * wait;
    if (thr > FA_POOL_THR_MAX_NS) thr = FA_POOL_THR_MAX_NS;
    fa_pool_state.adapt_thr_ns = thr;
    fa_pool_state.adapt_bad_at = now;
    atomic_fetch_add_explicit(&fa_pool_state.stat_bad_calls, 1, memory_order_relaxed);
}

static int fa_parallel_for_impl(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx) {
    if (n_chunks <= 0) return 0;
    if (threads > FA_POOL_MAX_THREADS) threads = FA_POOL_MAX_THREADS;
    if ((intptr_t)threads > n_chunks) threads = (int)n_chunks;
    if (threads <= 1 || (uint64_t)n_chunks > FA_POOL_INDEX_MASK)
        return fa_pool_serial(n_chunks, fn, ctx);
    int expected = 0;
    if (!atomic_compare_exchange_strong(&fa_pool_state.busy, &expected, 1)) {
        atomic_fetch_add_explicit(&fa_pool_state.stat_serial_busy, 1, memory_order_relaxed);
        return fa_pool_serial(n_chunks, fn, ctx);
    }
    atomic_fetch_add_explicit(&fa_pool_state.stat_calls, 1, memory_order_relaxed);

    atomic_int *saved = fa_pool_fail_target;
    const int64_t t_start = fa_pool_now();
    intptr_t first = 0; /* chunks the caller ran before publishing the call */
    atomic_store(&fa_pool_state.failed, 0);
    const int64_t thr = fa_pool_adapt_threshold(t_start);
    if (thr > 0) {
        /* Recent calls waited long for workers: time chunk 0 alone, then decide. */
        fa_pool_fail_target = &fa_pool_state.failed;
        fn(ctx, 0);
        first = 1;
        const int64_t estimate = (fa_pool_now() - t_start) * (int64_t)n_chunks;
        if (estimate < thr) {
            for (intptr_t c = 1; c < n_chunks; c++) fn(ctx, c);
            fa_pool_fail_target = saved;
            atomic_fetch_add_explicit(&fa_pool_state.stat_adaptive_serial, 1, memory_order_relaxed);
            const int failed = atomic_load(&fa_pool_state.failed);
            atomic_store(&fa_pool_state.busy, 0);
            return failed ? -1 : 0;
        }
        fa_pool_fail_target = saved;
        if (n_chunks - first < 2) { /* nothing worth a hand-off is left */
            for (intptr_t c = first; c < n_chunks; c++) fn(ctx, c);
            const int failed = atomic_load(&fa_pool_state.failed);
            atomic_store(&fa_pool_state.busy, 0);
            return failed ? -1 : 0;
        }
    }

    pthread_mutex_lock(&fa_pool_state.lock);
    int helpers = fa_pool_grow(threads - 1);
    if (helpers > threads - 1) helpers = threads - 1;
    if (helpers <= 0) {
        pthread_mutex_unlock(&fa_pool_state.lock);
        fa_pool_fail_target = &fa_pool_state.failed;
        for (intptr_t c = first; c < n_chunks; c++) fn(ctx, c);
        fa_pool_fail_target = saved;
        const int failed = atomic_load(&fa_pool_state.failed);
        atomic_store(&fa_pool_state.busy, 0);
        return failed ? -1 : 0;
    }
    const uint64_t gen = ++fa_pool_state.gen;
    fa_pool_state.fn = fn;
    fa_pool_state.ctx = ctx;
    fa_pool_state.n_chunks = n_chunks;
    fa_pool_state.helpers_wanted = helpers;
    fa_pool_state.helpers = 0;
    fa_fpmode_get(&fa_pool_state.mode);
    atomic_store(&fa_pool_state.done, 0);
    atomic_store(&fa_pool_state.claim, (gen << FA_POOL_INDEX_BITS) | (uint64_t)first);
    if (helpers >= fa_pool_state.nworkers) {
        pthread_cond_broadcast(&fa_pool_state.wake);
    } else {
        for (int i = 0; i < helpers; i++) pthread_cond_signal(&fa_pool_state.wake);
    }
    pthread_mutex_unlock(&fa_pool_state.lock);

    fa_pool_fail_target = &fa_pool_state.failed;
    intptr_t chunk, mine = first;
    while ((chunk = fa_pool_claim(gen, n_chunks)) >= 0) {
        fn(ctx, chunk);
        mine++;
    }
    fa_pool_fail_target = saved;
    const int64_t t_own = fa_pool_now();
    /* The caller's time per chunk: the serial estimate, and how long a chunk that a
     * running worker holds can still take. */
    const int64_t per_chunk = mine > 0 ? (t_own - t_start) / mine : 0;
    /* Only chunks that workers claimed and are running remain. */
    intptr_t done = atomic_fetch_add(&fa_pool_state.done, mine) + mine;
    int64_t t_end = t_own, loss = 0;
    const int64_t estimate = per_chunk * (int64_t)n_chunks;
    if (done != n_chunks) {
        /* Spin while a running worker would still be finishing its chunk (2 chunk
         * times, within [5, 100] us): the caller keeps its core, where a caller that
         * sleeps is woken a scheduler slice late on a busy machine.  Longer than that
         * the worker is likely preempted: sleep and leave the core to it. */
        int64_t spin_ns = 2 * per_chunk;
        if (spin_ns < 5000) spin_ns = 5000;
        if (spin_ns > 100000) spin_ns = 100000;
        for (int spin = 0; done != n_chunks; spin++) {
#if defined(__x86_64__) || defined(__i386__)
            _mm_pause();
#endif
            done = atomic_load(&fa_pool_state.done);
            if ((spin & 63) == 63 && fa_pool_now() - t_own > spin_ns) break;
        }
        if (done != n_chunks) {
            atomic_fetch_add_explicit(&fa_pool_state.stat_caller_sleeps, 1, memory_order_relaxed);
            pthread_mutex_lock(&fa_pool_state.lock);
            fa_pool_state.caller_waiting = 1;
            while (atomic_load(&fa_pool_state.done) != n_chunks)
                pthread_cond_wait(&fa_pool_state.done_cv, &fa_pool_state.lock);
            fa_pool_state.caller_waiting = 0;
            pthread_mutex_unlock(&fa_pool_state.lock);
        }
        t_end = fa_pool_now();
        const int64_t wait = t_end - t_own;
        atomic_fetch_add_explicit(&fa_pool_state.stat_wait_us, (long)(wait / 1000),
                                  memory_order_relaxed);
        if (wait > FA_POOL_BAD_WAIT_NS && (mine == 0 || t_end - t_start > estimate)) loss = wait;
    } else if (2 * (intptr_t)threads * mine < n_chunks && n_chunks >= 4 * (intptr_t)threads &&
               t_own - t_start > FA_POOL_BAD_WAIT_NS) {
        /* The workers ran most chunks: the caller was off its core for most of the call
         * (preempted, by a woken worker or other work), and returns late. */
        loss = t_own - t_start;
    }
    /* A probe: a call that the policy's threshold, undecayed, keeps on the caller. */
    const int probe = estimate < fa_pool_state.adapt_thr_ns;
    int64_t hold = fa_pool_state.adapt_hold_ns > 0 ? fa_pool_state.adapt_hold_ns : FA_POOL_HOLD_NS;
    if (loss > 0) {
        fa_pool_adapt_bad(t_end, mine > 0 && estimate > 0 ? estimate : loss, loss);
        if (probe) hold = 2 * hold < FA_POOL_HOLD_MAX_NS ? 2 * hold : FA_POOL_HOLD_MAX_NS;
    } else if (probe) {
        hold = FA_POOL_HOLD_NS;
    }
    fa_pool_state.adapt_hold_ns = hold;
    const int failed = atomic_load(&fa_pool_state.failed);
    atomic_store(&fa_pool_state.busy, 0);
    return failed ? -1 : 0;
}

static const fa_pool_api_t fa_pool_api_table = {1, fa_parallel_for_impl, fa_pool_fail_impl};

static inline int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx) {
    return fa_parallel_for_impl(n_chunks, threads, fn, ctx);
}
static inline void fa_pool_fail(void) { fa_pool_fail_impl(); }

#else
/* ------------------------------------------------------------- client modules */
#include <stdatomic.h>

static const fa_pool_api_t *_Atomic fa_pool_api = NULL;
static _Thread_local int fa_pool_serial_failed = 0;

/* Imports the pool of fastact._kernels._runtime (needs the GIL); 0 or -1 (error set). */
static int fa_pool_import(void) {
    if (atomic_load(&fa_pool_api) != NULL) return 0;
    const fa_pool_api_t *api = (const fa_pool_api_t *)PyCapsule_Import(FA_POOL_CAPSULE, 0);
    if (api == NULL) return -1;
    atomic_store(&fa_pool_api, api);
    return 0;
}

static inline const fa_pool_api_t *fa_pool_get(void) {
    const fa_pool_api_t *api = atomic_load(&fa_pool_api);
    if (api == NULL) {
        /* First use without fa_pool_import() at module init: import now. */
        PyGILState_STATE s = PyGILState_Ensure();
        if (fa_pool_import() != 0) PyErr_Clear(); /* serial below */
        PyGILState_Release(s);
        api = atomic_load(&fa_pool_api);
    }
    return api;
}

static inline int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx) {
    const fa_pool_api_t *api = threads > 1 && n_chunks > 1 ? fa_pool_get() : NULL;
    if (api != NULL) return api->parallel_for(n_chunks, threads, fn, ctx);
    fa_pool_serial_failed = 0;
    for (intptr_t c = 0; c < n_chunks; c++) fn(ctx, c);
    return fa_pool_serial_failed ? -1 : 0;
}

static inline void fa_pool_fail(void) {
    const fa_pool_api_t *api = atomic_load(&fa_pool_api);
    fa_pool_serial_failed = 1;
    if (api != NULL) api->fail();
}
#endif /* FA_POOL_IMPLEMENTATION */

#endif /* FA_POOL_H */
