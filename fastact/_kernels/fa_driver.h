/* The loop driver of the Cython backend's elementwise kernels (hand-written).
 *
 * Every elementwise kernel is a *block function* generated from
 * fastact/_formulas.py into fa_formulas.h: it computes FA_BLOCK elements from
 * FA_BLOCK-element arrays, in a fixed-length `omp simd` loop that gcc turns into
 * whole SIMD vectors (AVX-512, AVX2 or SSE2 through target_clones, the libm
 * calls through glibc's libmvec; the primitive fastact computes itself, float64
 * tanh, is inline code in fa_formulas.h).  This driver
 * feeds it:
 *
 *   - contiguous operands are passed in place; strided ones, and the partial last
 *     block, go through small stack buffers (gather, compute, scatter);
 *   - parameters that NumPy broadcasts (stride 0) are read once: as values for the
 *     "scalar" variant of the block function, which lets gcc hoist their math;
 *   - above fa_parallel_min elements, chunks of whole blocks are handed to fastact's
 *     thread pool (fa_pool.h: the caller works too and never waits for a thread
 *     that has not started; the caller's MXCSR applies in every thread).
 *
 * Every element is therefore computed by the same vector code whatever the thread
 * count, the strides or the position of the element: results are bit-identical
 * across thread counts (the contract) and across memory layouts.
 *
 * The driver is a NumPy ufunc inner loop (PyUFuncGenericFunction): NumPy's
 * iterator handles broadcasting, casting and any shape and strides, and releases
 * the GIL around the loop.  Floating-point exception flags raised inside (exp
 * overflowing in an unselected branch, NaN compares) are discarded, so NumPy never
 * warns: the formulas handle every special value themselves.
 */
#ifndef FA_DRIVER_H
#define FA_DRIVER_H

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fa_pool.h"

/* glibc declares its libmvec SIMD variants (the `simd` attribute on the libm
 * prototypes) only under -ffast-math, which would also assume no NaN/inf.
 * Re-declaring the prototypes with the attribute gives gcc the vector variants
 * without any fast-math assumption (shared/FACTS.md: sigmoid f32 <= 3.4 ulp).
 * setup.py defines FA_HAVE_LIBMVEC after checking that a test program using them
 * links; otherwise the calls stay scalar libm calls. */
#if defined(FA_HAVE_LIBMVEC) && defined(__GNUC__) && !defined(__clang__)
#define FA_SIMD_DECL __attribute__((__simd__("notinbranch")))
#else
#define FA_SIMD_DECL
#endif

#define FA_DECLARE_UNARY(name) \
    FA_SIMD_DECL float name##f(float); FA_SIMD_DECL double name(double);
#define FA_DECLARE_BINARY(name) \
    FA_SIMD_DECL float name##f(float, float); FA_SIMD_DECL double name(double, double);
FA_DECLARE_UNARY(exp)
FA_DECLARE_UNARY(expm1)
FA_DECLARE_UNARY(log)
FA_DECLARE_UNARY(log1p)
FA_DECLARE_UNARY(tanh)
FA_DECLARE_UNARY(erf)
FA_DECLARE_UNARY(erfc)
FA_DECLARE_BINARY(hypot)

/* One build for every x86-64: gcc compiles each kernel for AVX-512, AVX2 and the
 * baseline, and the loader picks the best clone for the CPU (no -march=native).
 * Measured here (1e6 float32 sigmoid, 1 thread): 0.76 ns/element with the AVX-512
 * clone against 2.1 with the baseline one. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FA_KERNEL \
    __attribute__((visibility("hidden"), \
                   target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FA_KERNEL static
#endif

#ifdef _OPENMP
#define FA_PRAGMA(x) _Pragma(#x)
#define FA_SIMD_LOOP FA_PRAGMA(omp simd)
#else
#define FA_SIMD_LOOP
#endif

/* Elements per block: 16 AVX-512 (32 AVX2) vectors of float32. Long enough to
 * amortise the per-block bookkeeping (pointer setup, the call through the block
 * function's pointer), short enough that the stack buffers of a block stay in L1
 * (FA_MAX_ARGS * 2 KiB). Measured 2026-12-03, AMD EPYC AVX2, 1 thread, float32, out=
 * given (ns/element, blocks of 64 -> 256 -> 512): relu 1e5 0.240 -> 0.138 -> 0.122,
 * 1e7 0.474 -> 0.381 -> 0.457; sigmoid 1e5 0.898 -> 0.710 -> 0.676; relu backward
 * 1e5 0.315 -> 0.177 -> 0.173; at 1e3 0.60 -> 0.53 -> 0.44. 512 gains < 12 % more
 * and doubles the stack buffers. The row kernels batch FA_ROWS_BLOCK rows instead. */
#define FA_BLOCK 256
/* A partial block's element count is rounded up to this: whole AVX-512 vectors of
 * float32 (two of float64), so that its loop runs no scalar remainder (a scalar
 * libm erfcf costs ~20 ns). */
#define FA_TAIL_ROUND 16
/* Inputs + parameters + outputs of one kernel, at most. */
#define FA_MAX_ARGS 8

/* A block function computes n <= FA_BLOCK elements (n = FA_BLOCK but for a loop's
 * partial last block, whose count fa_run_blocks rounds up to a multiple of
 * FA_TAIL_ROUND). */
typedef void (*fa_block_fn)(char *const *args, const void *param_values, int n);

/* What a ufunc loop needs: the two variants of one kernel for one dtype. */
typedef struct {
    fa_block_fn scalar_params; /* params passed by value (all of them broadcast) */
    fa_block_fn array_params;  /* params as FA_BLOCK-element arrays */
    int nin, nparams, nout;
    int esize; /* sizeof(float) or sizeof(double) */
} fa_loop;

/* The element count from which a loop runs on several threads. Measured with
 * tools/measure_threshold.py (float32, out= preallocated, 1 thread against 2, median
 * of >= 20 calls, 2-core Zen 4) for the OpenMP driver: 2 threads / 1 thread time for relu
 * 0.78 at 2**11, 1.00 at 2**14, 1.29 at 2**15, 1.50 at 2**16; for gelu 1.10 at 2**11,
 * 1.73 at 2**15. The cheapest kernels decided: 2**15.
 * With fastact's pool (fa_pool.h) the hand-off costs the caller ~0.7 us (one
 * condition-variable signal; it starts on the chunks at once: run_chunks of 2 empty
 * chunks, median of 2000) instead of a parallel region's 2-3 us and its barrier.
 * Re-measured 2026-12-02 with the pool (same tool) but with the machine saturated by
 * other sessions (load average 9.8 on 2 cores), 2 threads / 1 thread: relu 1.23 at
 * 2**15, 0.81 at 2**16, 1.38 at 2**19; gelu 0.88 at 2**15, 1.03 at 2**19, 1.33 at
 * 2**20 -- no free core, so no size wins reliably; forcing threads on at 2**10..2**12
 * cost nothing (0.98-1.31). The 2**15 of the idle measurement stays until it is
 * repeated on an idle machine.
 * Repeated 2026-12-02 on an idle machine (load average 0.4; 2-core Intel Xeon with
 * AVX-512, the pool, same tool), 2 threads / 1 thread: relu 0.95-0.97 from 2**15 to
 * 2**17, 1.09 at 2**18, 1.43 at 2**20; gelu 0.98-1.00 up to 2**17, 1.44 at 2**18, 1.62
 * at 2**20. Threads win for both only from 2**18, and below it a busy machine makes a
 * second thread cost a scheduler slice (issue 13: p90 of sigmoid at 1e5 elements 0.16 ms
 * on 1 thread, 4.22 ms on 2). 2**18, as numba's PARALLEL_MIN. */
#define FA_PARALLEL_MIN_DEFAULT (1 << 18)

/* The floating-point state of one loop: exceptions masked and flags cleared on entry,
 * the caller's state (its flags, masks, rounding, FTZ/DAZ) back on exit, so the flags
 * the formulas raise are discarded (see the top of this file). On x86-64 the kernels
 * compute in SSE/AVX only, so MXCSR is the whole of that state: saving and restoring it
 * (stmxcsr/ldmxcsr) replaces feholdexcept/fesetenv, whose fnstenv/fldenv of the x87
 * environment are microcoded (~100 cycles each on this machine's Zen); elsewhere the
 * fenv.h pair is kept. */
#if defined(__x86_64__) && defined(__SSE2__) && !defined(FA_FP_FENV)
#include <xmmintrin.h>
typedef struct { unsigned int csr; } fa_fp_state;
static inline void fa_fp_hold(fa_fp_state *s) {
    s->csr = _mm_getcsr();
    _mm_setcsr((s->csr | 0x1F80u) & ~0x3Fu); /* all exceptions masked, flags clear */
}
static inline void fa_fp_restore(const fa_fp_state *s) { _mm_setcsr(s->csr); }
#else
typedef struct { fenv_t env; } fa_fp_state;
static inline void fa_fp_hold(fa_fp_state *s) { feholdexcept(&s->env); }
static inline void fa_fp_restore(const fa_fp_state *s) { fesetenv(&s->env); }
#endif

/* Threads for the kernels (set by fastact._threads through each module's
 * set_num_threads) and the threshold above (per module: these are static). */
static int fa_num_threads = 1;
static intptr_t fa_parallel_min = FA_PARALLEL_MIN_DEFAULT;

static inline void fa_gather(char *dst, const char *src, intptr_t step, intptr_t count,
                             int esize) {
    intptr_t i;
    if (step == esize) {
        /* Contiguous (every operand of the fast path, and of most ufunc calls): one
         * copy and one clear. Element by element, the partial last block of a
         * 100-element relu cost ~2,400 of its ~6,900 instructions per call
         * (callgrind, this machine). */
        memcpy(dst, src, (size_t)(count * esize));
        memset(dst + count * esize, 0, (size_t)((FA_BLOCK - count) * esize));
    } else if (esize == 4) {
        for (i = 0; i < count; i++) memcpy(dst + 4 * i, src + i * step, 4);
        memset(dst + 4 * count, 0, (size_t)(4 * (FA_BLOCK - count)));
    } else {
        for (i = 0; i < count; i++) memcpy(dst + 8 * i, src + i * step, 8);
        memset(dst + 8 * count, 0, (size_t)(8 * (FA_BLOCK - count)));
    }
}

static inline void fa_scatter(char *dst, intptr_t step, const char *src, intptr_t count,
                              int esize) {
    intptr_t i;
    if (step == esize) {
        memcpy(dst, src, (size_t)(count * esize));
    } else if (esize == 4) {
        for (i = 0; i < count; i++) memcpy(dst + i * step, src + 4 * i, 4);
    } else {
        for (i = 0; i < count; i++) memcpy(dst + i * step, src + 8 * i, 8);
    }
}

/* Blocks [b0, b1) of an n-element loop.  `scalar` selects the block variant;
 * `values` holds the parameters' values for it. */
static void fa_run_blocks(const fa_loop *L, char *const *args, const intptr_t *steps,
                          intptr_t n, intptr_t b0, intptr_t b1, int scalar,
                          const void *values) {
    _Alignas(64) char buffers[FA_MAX_ARGS][FA_BLOCK * 8];
    char *ptrs[FA_MAX_ARGS];
    int slot_of[FA_MAX_ARGS]; /* argument -> position in ptrs, -1 if not passed */
    int prefilled[FA_MAX_ARGS];
    const int nargs = L->nin + L->nparams + L->nout;
    const int first_out = L->nin + L->nparams;
    const int esize = L->esize;
    fa_block_fn block = scalar ? L->scalar_params : L->array_params;
    int k, slot = 0;

    for (k = 0; k < nargs; k++) {
        int is_param = k >= L->nin && k < first_out;
        prefilled[k] = 0;
        if (scalar && is_param) {
            slot_of[k] = -1;
            continue;
        }
        slot_of[k] = slot++;
        if (is_param && steps[k] == 0) {
            /* A broadcast parameter of the array variant: FA_BLOCK copies, once. */
            intptr_t i;
            for (i = 0; i < FA_BLOCK; i++) memcpy(buffers[k] + i * esize, args[k], esize);
            ptrs[slot_of[k]] = buffers[k];
            prefilled[k] = 1;
        }
    }

    for (intptr_t b = b0; b < b1; b++) {
        const intptr_t i0 = b * FA_BLOCK;
        const intptr_t count = n - i0 < FA_BLOCK ? n - i0 : FA_BLOCK;
        int scatter[FA_MAX_ARGS];
        for (k = 0; k < nargs; k++) {
            scatter[k] = 0;
            if (slot_of[k] < 0 || prefilled[k]) continue;
            char *p = args[k] + i0 * steps[k];
            if (steps[k] == esize && count == FA_BLOCK) {
                ptrs[slot_of[k]] = p;
            } else if (k < first_out) {
                fa_gather(buffers[k], p, steps[k], count, esize);
                ptrs[slot_of[k]] = buffers[k];
            } else {
                ptrs[slot_of[k]] = buffers[k];
                scatter[k] = 1;
            }
        }
        /* A partial block computes its count rounded up to whole vectors (the buffers
         * are cleared past the count), not FA_BLOCK: a 100-element gelu computed 256
         * erfc's, 0.49 us a call against 0.16 for relu (the same cost from 16 to 256
         * elements). */
        block(ptrs, values, count == FA_BLOCK ? FA_BLOCK
                                              : (int)((count + FA_TAIL_ROUND - 1) / FA_TAIL_ROUND * FA_TAIL_ROUND));
        for (k = first_out; k < nargs; k++) {
            if (scatter[k]) fa_scatter(args[k] + i0 * steps[k], steps[k], buffers[k], count, esize);
        }
    }
}

/* Elements per pool chunk: whole blocks, at least FA_CHUNK_MIN_BLOCKS (4096 elements:
 * the claim, ~50 ns, stays < 2 % of the cheapest kernel's chunk) and at most
 * FA_CHUNK_MAX_BLOCKS (65536: ~20-30 us of relu, so that a caller whose worker was
 * descheduled loses at most that much waiting for the chunk the worker claimed), else
 * about 8 chunks per thread for balance. Chunk boundaries do not change any result:
 * every element runs through the same block code. */
#define FA_CHUNK_MIN_BLOCKS (4096 / FA_BLOCK)
#define FA_CHUNK_MAX_BLOCKS (65536 / FA_BLOCK)

typedef struct {
    const fa_loop *L;
    char *const *args;
    const intptr_t *steps;
    intptr_t n, nblocks, blocks_per_chunk;
    int scalar;
    const void *values;
} fa_ufunc_job;

static void fa_ufunc_chunk(void *ctx, intptr_t chunk) {
    const fa_ufunc_job *j = (const fa_ufunc_job *)ctx;
    const intptr_t b0 = chunk * j->blocks_per_chunk;
    const intptr_t b1 = b0 + j->blocks_per_chunk < j->nblocks ? b0 + j->blocks_per_chunk : j->nblocks;
    fa_run_blocks(j->L, j->args, j->steps, j->n, b0, b1, j->scalar, j->values);
}

/* Chunks of whole blocks for `threads` threads (see FA_CHUNK_MIN_BLOCKS). */
static inline intptr_t fa_blocks_per_chunk(intptr_t nblocks, int threads) {
    intptr_t per = nblocks / (8 * (intptr_t)threads);
    if (per < FA_CHUNK_MIN_BLOCKS) per = FA_CHUNK_MIN_BLOCKS;
    if (per > FA_CHUNK_MAX_BLOCKS) per = FA_CHUNK_MAX_BLOCKS;
    return per;
}

/* The ufunc inner loop shared by every elementwise kernel; `data` is its fa_loop. */
static void fa_ufunc_loop(char **args, const intptr_t *dimensions, const intptr_t *steps,
                          void *data) {
    const fa_loop *L = (const fa_loop *)data;
    const intptr_t n = dimensions[0];
    _Alignas(64) char values[FA_MAX_ARGS * 8];
    int scalar = 1, k;
    fa_fp_state fp;

    if (n <= 0) return;
    for (k = L->nin; k < L->nin + L->nparams; k++) {
        if (steps[k] != 0) scalar = 0;
    }
    if (scalar) {
        for (k = 0; k < L->nparams; k++) {
            memcpy(values + k * L->esize, args[L->nin + k], L->esize);
        }
    }
    fa_fp_hold(&fp); /* save the caller's flags; ours are discarded below */
    const intptr_t nblocks = (n + FA_BLOCK - 1) / FA_BLOCK;
    const int threads = (n >= fa_parallel_min) ? fa_num_threads : 1;
    if (threads > 1 && nblocks > FA_CHUNK_MIN_BLOCKS) {
        fa_ufunc_job job = {L, args, steps, n, nblocks, fa_blocks_per_chunk(nblocks, threads),
                            scalar, values};
        const intptr_t nchunks = (nblocks + job.blocks_per_chunk - 1) / job.blocks_per_chunk;
        fa_parallel_for(nchunks, threads, fa_ufunc_chunk, &job); /* chunks cannot fail */
    } else {
        fa_run_blocks(L, args, steps, n, 0, nblocks, scalar, values);
    }
    fa_fp_restore(&fp);
}

#endif /* FA_DRIVER_H */
