/* STAND-IN for the shared thread pool (issue 13 owns the real fastact/_kernels/fa_pool.h;
 * at merge keep H13's file and drop this one). Same interface, OpenMP inside:
 *
 *   typedef void (*fa_chunk_fn)(void *ctx, intptr_t chunk);
 *   int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx);
 *   void fa_pool_fail(void);
 *
 * Runs fn(ctx, chunk) for every chunk in [0, n_chunks) on at most `threads` threads
 * (dynamic schedule: chunks claimed one at a time); returns 0, or -1 if a chunk called
 * fa_pool_fail(). */
#ifndef FA_POOL_H
#define FA_POOL_H

#include <stdint.h>

typedef void (*fa_chunk_fn)(void *ctx, intptr_t chunk);

static int fa_pool_failed_ = 0;

static inline void fa_pool_fail(void) { __atomic_store_n(&fa_pool_failed_, 1, __ATOMIC_RELAXED); }

static inline int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx) {
    intptr_t c;
    __atomic_store_n(&fa_pool_failed_, 0, __ATOMIC_RELAXED);
    if (threads > n_chunks) threads = (int)n_chunks;
    if (threads > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
        for (c = 0; c < n_chunks; c++) fn(ctx, c);
    } else {
        for (c = 0; c < n_chunks; c++) fn(ctx, c);
    }
    return __atomic_load_n(&fa_pool_failed_, __ATOMIC_RELAXED) ? -1 : 0;
}

#endif /* FA_POOL_H */
