/* Row kernels of the Cython backend (hand-written): softmax, log_softmax, softmin
 * and glu along any axis, as NumPy gufunc inner loops.
 *
 * This file holds what the two element types share; the kernels themselves are
 * real C in fa_rows_body.h, included below once for float and once for double
 * (FA_T, FA_S(name) = name_f32 / name_f64), so that diagnostics and debuggers see
 * real lines.
 *
 * NumPy's gufunc machinery (``axes=``) hands each loop the rows along the chosen
 * axis with their strides: nothing is transposed or copied by NumPy. Layouts:
 *
 *   - contiguous rows (axis -1 of C data): SIMD within the row; rows that fit in
 *     cache (FA_ROW_CACHE_BYTES) in one read of x from memory, longer rows in
 *     fixed chunks of FA_ROW_CHUNK elements (threads within a row too);
 *   - short contiguous rows (n < FA_SHORT) that are adjacent in memory: batched,
 *     so that the exp runs as one vector loop over many rows;
 *   - rows adjacent in memory while each row is strided (axis 0 of C data):
 *     FA_ROWS_BLOCK rows at a time, SIMD across the rows;
 *   - anything else (including an `out` with a zero stride along the axis): the
 *     row is gathered into a contiguous scratch row, computed there by the
 *     contiguous kernel, and scattered in order (NumPy's rule: the last write
 *     wins; `out` is never used as scratch).
 *
 * softmax(x)_i = e_i / total with e_i = exp(x_i - max), total = 1 + rest, rest the sum
 * without the first maximum (+ (e_first - 1): 0 for a finite maximum, NaN when it is
 * +inf or NaN, so such a row is NaN as in NumPy; a row of -inf gives NaN too).
 * log_softmax = (x_i - max) - log1p(rest): log1p keeps the digits that log(total)
 * loses when one entry dominates. softmin(x) = softmax(-x).
 *
 * Sums: float32 rows sum in double (a plain double sum of up to 2^26 float32 terms
 * is within 2^26 * 2^-53 = 2^-27 relative, a quarter ulp of float32, before the one
 * rounding to float32); float64 rows sum with Sum2 (TwoSum per term, the errors
 * summed apart: as accurate as a sum in twice the precision, Ogita-Rump-Oishi),
 * so the rounded sum is the same for any summation order and layout: results of a
 * row do not depend on its strides, on in place or not, or on the thread count
 * (threads take whole rows or fixed chunks; chunk partials combine in chunk order).
 *
 * Measured (`fastact bench-rows --dtypes float32`, 2026-12-02, load average 12 on the 2
 * cores: absolute times 20-50x a quiet machine's, so fractions of a copy ("roof", the
 * copy time times the passes stated next to each kernel over the kernel's time) are
 * only indicative; rerun on a quiet machine), cython, 1 thread, vs torch / roof:
 *   softmax fwd   (1e5,10) 5.6x/-  (1e4,1000) 1.35x/0.15  (100,1e5) 1.8x/0.22
 *                 (1,1e7) 1.8x/0.49 (1000,1e4) axis 0 1.9x/0.18
 *   softmax bwd-y (1e5,10) 2.1x  (1e4,1000) 1.4x/0.29  (100,1e5) 1.9x/0.40
 *                 (1,1e7) 1.4x/0.89 (1000,1e4) axis 0 1.1x/0.22
 *   log_softmax fwd 3.1x, 1.8x, 1.5x, 2.1x/0.44, 1.7x; bwd-y 1.2x, 1.35x, 1.5x, 1.6x, 1.4x
 *   glu fwd 0.9x, 1.0x, 0.9x, 1.2x/1.8 (1e7: at the roof), 0.37x (axis 0); bwd 2.0-4.9x
 * (before this rewrite, same command and load: softmax fwd (1e5,10) 1.05x, (1e4,1000)
 * 1.09x; bwd-y (1e5,10) 0.70x, axis 0 0.16x; log_softmax bwd-y 0.33-0.86x; glu fwd
 * 0.13-0.93x. torch's softmin negates x in a pass of its own.)
 *
 * Exception flags are discarded as in fa_driver.h. Threads: fa_parallel_for
 * (fa_pool.h, the shared pool).
 */
#ifndef FA_ROWS_H
#define FA_ROWS_H

#include <stdlib.h>
#include "fa_formulas.h"
#include "fa_pool.h"

/* Rows per batch of the strided (SIMD across rows) kernels: 4 AVX-512 vectors of
 * float32; a batch of FA_ROWS_BLOCK * n elements stays in L2 for rows up to a few
 * thousand elements (independent of the elementwise FA_BLOCK, which grew to 256). */
#define FA_ROWS_BLOCK 64

#ifndef _OPENMP
#define FA_PRAGMA(x)
#endif

#define FA_AT(T, p, i, s) (*(T *)((p) + (intptr_t)(i) * (s)))
#define FA_INLINE static inline __attribute__((always_inline))

/* The exp of the row kernels: ONE name per type. To use the shared vector math
 * layer's exp, change these two lines (e.g. to fa_exp_f32 / fa_exp_f64). Today:
 * glibc's libmvec through the simd-attributed prototypes of fa_driver.h. */
#define FA_ROW_EXP_F32 expf
#define FA_ROW_EXP_F64 exp

/* Lanes of the partial sums of a contiguous row (one AVX-512 vector of float32). */
#define FA_LANES 16
/* Rows shorter than this are batched (many rows per vector loop). */
#define FA_SHORT 64
/* Elements per batch of short rows (stack buffers of this size stay in L1). */
#define FA_SHORT_BATCH 1024
/* A row of at most this many bytes is processed in cache: read once from memory,
 * re-read from L2 (1 MiB per core on Zen 4: x and y of the row fit; a (100, 1e5)
 * float32 softmax ran 0.48x torch with 256 KiB, chunked with two exps per element). */
#define FA_ROW_CACHE_BYTES (512 * 1024)
/* Longer rows: fixed chunks of this many elements (independent of the thread
 * count, so that the chunk partials, combined in chunk order, are deterministic). */
#define FA_ROW_CHUNK 16384
/* Elements per task of whole rows (tasks of the thread pool). */
#define FA_TASK_ELEMENTS 32768

/* How a loop's rows lie in memory (see the top of this file). */
enum { FA_LAYOUT_ROWS, FA_LAYOUT_SHORT, FA_LAYOUT_LONG, FA_LAYOUT_COLUMNS, FA_LAYOUT_OTHER };

/* Row scratch that malloc could not give: counted here (any thread), read by _rows.pyx
 * around each call, which then raises MemoryError; the rows concerned are NaN. */
static long fa_alloc_failures = 0;
static inline void fa_note_alloc_failure(void) {
    __atomic_fetch_add(&fa_alloc_failures, 1, __ATOMIC_RELAXED);
}
static inline long fa_alloc_failure_count(void) {
    return __atomic_load_n(&fa_alloc_failures, __ATOMIC_RELAXED);
}

/* Threads for a call of `work` elements. */
static inline int fa_rows_threads(intptr_t work) {
    return work >= fa_parallel_min ? fa_num_threads : 1;
}

/* Sum2 step (TwoSum, no product so no contraction can break it): s + c holds the
 * sum as if accumulated in twice the precision. */
#define FA_SUM2(s, c, v)                                                          \
    do {                                                                          \
        const double v_ = (double)(v);                                            \
        const double t_ = (s) + v_;                                               \
        const double z_ = t_ - (s);                                               \
        (c) += ((s) - (t_ - z_)) + (v_ - z_);                                     \
        (s) = t_;                                                                 \
    } while (0)
/* float32: a plain double sum (see above); c unused. */
#define FA_DSUM(s, c, v) do { (s) += (double)(v); (void)(c); } while (0)

/* ---- float ---- */
#define FA_T float
#define FA_S(name) name##_f32
#define FA_EXP FA_ROW_EXP_F32
#define FA_LOG1P log1pf
#define FA_EXPM1 expm1f
#define FA_ADD FA_DSUM
#include "fa_rows_body.h"
#undef FA_T
#undef FA_S
#undef FA_EXP
#undef FA_LOG1P
#undef FA_EXPM1
#undef FA_ADD

/* ---- double ---- */
#define FA_T double
#define FA_S(name) name##_f64
#define FA_EXP FA_ROW_EXP_F64
#define FA_LOG1P log1p
#define FA_EXPM1 expm1
#define FA_ADD FA_SUM2
#include "fa_rows_body.h"
#undef FA_T
#undef FA_S
#undef FA_EXP
#undef FA_LOG1P
#undef FA_EXPM1
#undef FA_ADD

#endif /* FA_ROWS_H */
