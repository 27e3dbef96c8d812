/* Row kernels of the Cython backend (hand-written): softmax, log_softmax, softmin
 * and glu along any axis, as NumPy gufunc inner loops.
 *
 * NumPy's gufunc machinery (``axes=``) hands each loop the rows along the chosen
 * axis with their strides: nothing is transposed or copied (a transposing copy is
 * what makes softmax along dim 0 slow in pytorch#34728). Three shapes of loop:
 *
 *   - a contiguous row (axis = -1 of C data): one pass per row, SIMD within it;
 *   - rows that are adjacent in memory while each row is strided (axis = 0 of C
 *     data): FA_BLOCK rows at a time, SIMD across the rows, column by column;
 *   - anything else: the same arithmetic element by element.
 *
 * The row functions are compiled per ISA like the elementwise kernels (FA_KERNEL:
 * AVX-512, AVX2, baseline clones). Sums run in a fixed order per layout, so results are deterministic for any thread
 * count (threads take whole rows). The elementwise math (sigmoid, its derivative) is
 * the generated formulas' (fa_formulas.h). Exception flags are discarded as in
 * fa_driver.h.
 *
 * softmax(x)_i = e_i / total with e_i = exp(x_i - max), total = 1 + rest, rest the sum
 * without the first maximum (+ (e_first - 1): 0 for a finite maximum, NaN when it is
 * +inf or NaN, so such a row is NaN as in NumPy; a row of -inf gives NaN too).
 * log_softmax = (x_i - max) - log1p(rest): log1p keeps the digits that log(total)
 * loses when one entry dominates. softmin(x) = softmax(-x).
 */
#ifndef FA_ROWS_H
#define FA_ROWS_H

#include <stdlib.h>
#include "fa_formulas.h"

#define FA_AT(T, p, i, s) (*(T *)((p) + (intptr_t)(i) * (s)))

/* e = exp(v - m), with the rounding error of v - m (Knuth's TwoSum, no product so
 * no contraction can break it) put back: d = v - m is off by up to ulp(d)/2, which
 * exp magnifies |d| times (a spread of 487 in a float64 row cost 250 ulp of e). */
#define FA_EXP_SHIFTED(T, EXP, v, m, d_out, e_out)                                \
    do {                                                                          \
        const T d_ = (v) - (m);                                                   \
        const T bb_ = d_ - (v);                                                   \
        const T lo_ = ((v) - (d_ - bb_)) + (-(m) - bb_);                          \
        const T ed_ = EXP(d_);                                                    \
        d_out = d_;                                                               \
        e_out = ed_ + ed_ * (lo_ - lo_ == (T)0 ? lo_ : (T)0);                     \
    } while (0)

/* Sums along a row are compensated (Kahan) in double, whatever T: a plain running sum
 * is off by up to n/2 ulp, and its errors add up when the terms round alike (a row of
 * 1023 equal terms and one three times larger: 25 ulp in float32 and 37 in float64 at
 * n = 1024, 2457 ulp in float64 at n = 65536, measured; the bar is 8). Compensated,
 * the sum is within a few ulp of double for any n, so one rounding to T remains.
 * Contiguous rows keep FA_LANES partial sums, one per SIMD lane, added in a fixed
 * order: the result depends on the layout only, never on the thread count. */
#define FA_LANES 16
#define FA_KAHAN_ADD(s, c, v)                                                     \
    do {                                                                          \
        const double y_ = (double)(v) - (c);                                      \
        const double t_ = (s) + y_;                                               \
        (c) = (t_ - (s)) - y_;                                                    \
        (s) = t_;                                                                 \
    } while (0)

/* The compensated total of FA_LANES partial sums (sums s, compensations c). */
static inline double fa_lanes_total(const double *s, const double *c) {
    double total = 0, comp = 0;
    for (int j = 0; j < FA_LANES; j++) {
        FA_KAHAN_ADD(total, comp, s[j]);
        FA_KAHAN_ADD(total, comp, -c[j]);
    }
    return total - comp;
}

/* Row scratch that malloc could not give: counted here (any thread), read by _rows.pyx
 * around each call, which then raises MemoryError; the rows concerned are NaN. */
static long fa_alloc_failures = 0;
static inline void fa_note_alloc_failure(void) {
    __atomic_fetch_add(&fa_alloc_failures, 1, __ATOMIC_RELAXED);
}
static inline long fa_alloc_failure_count(void) {
    return __atomic_load_n(&fa_alloc_failures, __ATOMIC_RELAXED);
}

/* Row-parallel driver: runs body(row) for rows [0, nrows). */
#define FA_FOR_ROWS(nrows, work, ...)                                             \
    do {                                                                          \
        int threads_ = ((work) >= fa_parallel_min) ? fa_num_threads : 1;          \
        if (threads_ > (nrows)) threads_ = (int)(nrows);                          \
        if (threads_ > 1) {                                                       \
            FA_PRAGMA(omp parallel for num_threads(threads_) schedule(static))    \
            for (intptr_t row = 0; row < (nrows); row++) { __VA_ARGS__ }          \
        } else {                                                                  \
            for (intptr_t row = 0; row < (nrows); row++) { __VA_ARGS__ }          \
        }                                                                         \
    } while (0)

#ifndef _OPENMP
#define FA_PRAGMA(x)
#endif

#define FA_ROWS_FOR_TYPE(T, SFX, EXP, LOG1P)                                                    \
                                                                                                \
/* Max, its first index (to *first_out), the shifted exponentials written to y, and rest.  \
 * sgn = -1: softmin. mode 0: y = e (softmax); mode 1: y = x - max (log_softmax). */       \
FA_KERNEL T fa_row_parts_##SFX(const char *x, intptr_t sx, char *y, intptr_t sy, intptr_t n,     \
                            T sgn, int mode, intptr_t *first_out) {                          \
    T m = sgn * FA_AT(T, x, 0, sx);                                                           \
    intptr_t first = 0, i;                                                                    \
    if (sx == (intptr_t)sizeof(T)) {                                                          \
        /* SIMD max, NaN noted apart (a max reduction may drop it), then the first       \
         * index holding it: the same m and first as the scalar scan below. */            \
        const T *xs = (const T *)x;                                                          \
        int nan = 0;                                                                         \
        FA_PRAGMA(omp simd reduction(max : m) reduction(| : nan))                            \
        for (i = 0; i < n; i++) {                                                            \
            const T v = sgn * xs[i];                                                         \
            m = v > m ? v : m;                                                               \
            nan |= v != v;                                                                   \
        }                                                                                    \
        for (first = 0; first < n; first++) {                                                \
            const T v = sgn * xs[first];                                                     \
            if (nan ? v != v : v == m) break;                                                \
        }                                                                                    \
        if (nan) m = sgn * xs[first];                                                        \
    } else {                                                                                  \
        for (i = 1; i < n; i++) {                                                             \
            const T v = sgn * FA_AT(T, x, i, sx);                                             \
            if (v > m || (v != v && m == m)) { m = v; first = i; }                           \
        }                                                                                     \
    }                                                                                         \
    double sums[FA_LANES] = {0}, comps[FA_LANES] = {0};                                      \
    if (sx == (intptr_t)sizeof(T) && sy == (intptr_t)sizeof(T)) {                             \
        const T *xs = (const T *)x;                                                          \
        T *ys = (T *)y;                                                                      \
        for (i = 0; i + FA_LANES <= n; i += FA_LANES) {                                      \
            FA_SIMD_LOOP                                                                     \
            for (int j = 0; j < FA_LANES; j++) {                                             \
                T d, e;                                                                      \
                FA_EXP_SHIFTED(T, EXP, sgn * xs[i + j], m, d, e);                            \
                FA_KAHAN_ADD(sums[j], comps[j], i + j == first ? (T)0 : e);                  \
                ys[i + j] = mode ? d : e;                                                    \
            }                                                                                \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            T d, e;                                                                          \
            FA_EXP_SHIFTED(T, EXP, sgn * xs[i], m, d, e);                                    \
            FA_KAHAN_ADD(sums[i % FA_LANES], comps[i % FA_LANES], i == first ? (T)0 : e);    \
            ys[i] = mode ? d : e;                                                            \
        }                                                                                    \
    } else {                                                                                  \
        for (i = 0; i < n; i++) {                                                            \
            T d, e;                                                                          \
            FA_EXP_SHIFTED(T, EXP, sgn * FA_AT(T, x, i, sx), m, d, e);                       \
            FA_KAHAN_ADD(sums[0], comps[0], i == first ? (T)0 : e);                          \
            FA_AT(T, y, i, sy) = mode ? d : e;                                                \
        }                                                                                    \
    }                                                                                         \
    const T rest = (T)fa_lanes_total(sums, comps);                                            \
    /* + (e_first - 1): exactly 0 for a finite maximum, NaN for +inf or NaN. */              \
    const T e_first = mode ? EXP(FA_AT(T, y, first, sy)) : FA_AT(T, y, first, sy);           \
    *first_out = first;                                                                       \
    return rest + (e_first - (T)1);                                                           \
}                                                                                             \
                                                                                              \
FA_KERNEL void fa_softmax_row_##SFX(const char *x, intptr_t sx, char *y, intptr_t sy,            \
                                 intptr_t n, T sgn) {                                         \
    intptr_t first;                                                                           \
    const T total = (T)1 + fa_row_parts_##SFX(x, sx, y, sy, n, sgn, 0, &first);               \
    if (sy == (intptr_t)sizeof(T)) {                                                          \
        T *ys = (T *)y;                                                                       \
        FA_SIMD_LOOP                                                                          \
        for (intptr_t i = 0; i < n; i++) ys[i] = ys[i] / total;                               \
        return;                                                                               \
    }                                                                                         \
    for (intptr_t i = 0; i < n; i++) FA_AT(T, y, i, sy) = FA_AT(T, y, i, sy) / total;         \
}                                                                                             \
                                                                                              \
FA_KERNEL void fa_log_softmax_row_##SFX(const char *x, intptr_t sx, char *y, intptr_t sy,        \
                                     intptr_t n) {                                            \
    intptr_t first;                                                                           \
    const T lse = LOG1P(fa_row_parts_##SFX(x, sx, y, sy, n, (T)1, 1, &first));                \
    if (sy == (intptr_t)sizeof(T)) {                                                          \
        T *ys = (T *)y;                                                                       \
        FA_SIMD_LOOP                                                                          \
        for (intptr_t i = 0; i < n; i++) ys[i] = ys[i] - lse;                                 \
        return;                                                                               \
    }                                                                                         \
    for (intptr_t i = 0; i < n; i++) FA_AT(T, y, i, sy) = FA_AT(T, y, i, sy) - lse;           \
}                                                                                             \
                                                                                              \
/* FA_BLOCK adjacent rows (row r at x + r*esize), each strided by sx: SIMD across rows. */  \
FA_KERNEL void fa_softmax_columns_##SFX(const char *x, intptr_t sx, char *y, intptr_t sy,        \
                                     intptr_t n, intptr_t nrows, T sgn, int mode) {           \
    T m[FA_BLOCK], rest[FA_BLOCK];                                                            \
    double sums[FA_BLOCK], comps[FA_BLOCK];                                                   \
    intptr_t first[FA_BLOCK], i;                                                              \
    int r;                                                                                    \
    const int R = (int)nrows;                                                                 \
    const T *x0 = (const T *)x;                                                               \
    for (r = 0; r < R; r++) { m[r] = sgn * x0[r]; first[r] = 0; sums[r] = comps[r] = 0; }     \
    for (i = 1; i < n; i++) {                                                                 \
        const T *xi = (const T *)(x + i * sx);                                                \
        for (r = 0; r < R; r++) {                                                             \
            const T v = sgn * xi[r];                                                          \
            const int take = v > m[r] || (v != v && m[r] == m[r]);                            \
            m[r] = take ? v : m[r];                                                           \
            first[r] = take ? i : first[r];                                                   \
        }                                                                                     \
    }                                                                                         \
    for (i = 0; i < n; i++) {                                                                 \
        const T *xi = (const T *)(x + i * sx);                                                \
        T *yi = (T *)(y + i * sy);                                                            \
        FA_SIMD_LOOP                                                                          \
        for (r = 0; r < R; r++) {                                                             \
            T d, e;                                                                           \
            FA_EXP_SHIFTED(T, EXP, sgn * xi[r], m[r], d, e);                                  \
            FA_KAHAN_ADD(sums[r], comps[r], i == first[r] ? (T)0 : e);                        \
            yi[r] = mode ? d : e;                                                             \
        }                                                                                     \
    }                                                                                         \
    for (r = 0; r < R; r++) {                                                                 \
        const T v = FA_AT(T, y + r * (intptr_t)sizeof(T), first[r], sy);                     \
        const T e_first = mode ? EXP(v) : v;                                                  \
        rest[r] = (T)(sums[r] - comps[r]) + (e_first - (T)1);                                 \
        rest[r] = mode ? LOG1P(rest[r]) : (T)1 + rest[r];                                     \
    }                                                                                         \
    for (i = 0; i < n; i++) {                                                                 \
        T *yi = (T *)(y + i * sy);                                                            \
        FA_SIMD_LOOP                                                                          \
        for (r = 0; r < R; r++) yi[r] = mode ? yi[r] - rest[r] : yi[r] / rest[r];             \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* kind: 0 softmax, 1 log_softmax, 2 softmin. (n)->(n) */                                    \
static void fa_softmax_loop_##SFX(char **args, const intptr_t *dims, const intptr_t *steps,   \
                                  void *data) {                                               \
    const int kind = (int)(intptr_t)data;                                                     \
    const intptr_t N = dims[0], n = dims[1];                                                  \
    const intptr_t so_x = steps[0], so_y = steps[1], sx = steps[2], sy = steps[3];            \
    const T sgn = kind == 2 ? (T)-1 : (T)1;                                                   \
    fenv_t env;                                                                               \
    if (N <= 0 || n <= 0) return;                                                             \
    feholdexcept(&env);                                                                       \
    if (so_x == (intptr_t)sizeof(T) && so_y == (intptr_t)sizeof(T) && n > 1 &&                \
        sx != (intptr_t)sizeof(T)) {                                                          \
        const intptr_t nblocks = (N + FA_BLOCK - 1) / FA_BLOCK;                               \
        FA_FOR_ROWS(nblocks, N * n, {                                                         \
            const intptr_t r0 = row * FA_BLOCK;                                               \
            const intptr_t cnt = N - r0 < FA_BLOCK ? N - r0 : FA_BLOCK;                       \
            fa_softmax_columns_##SFX(args[0] + r0 * so_x, sx, args[1] + r0 * so_y, sy, n,     \
                                     cnt, sgn, kind == 1);                                    \
        });                                                                                   \
    } else {                                                                                  \
        FA_FOR_ROWS(N, N * n, {                                                               \
            if (kind == 1)                                                                    \
                fa_log_softmax_row_##SFX(args[0] + row * so_x, sx, args[1] + row * so_y, sy,  \
                                         n);                                                  \
            else                                                                              \
                fa_softmax_row_##SFX(args[0] + row * so_x, sx, args[1] + row * so_y, sy, n,   \
                                     sgn);                                                    \
        });                                                                                   \
    }                                                                                         \
    fesetenv(&env);                                                                           \
}                                                                                             \
                                                                                              \
/* sum_i g_i * y_i (y NULL: sum_i g_i), compensated in double, lanes when contiguous. */ \
FA_KERNEL double fa_row_dot_##SFX(const char *g, intptr_t sg, const char *y, intptr_t sy,       \
                               intptr_t n) {                                                 \
    double sums[FA_LANES] = {0}, comps[FA_LANES] = {0};                                      \
    intptr_t i = 0;                                                                           \
    if (sg == (intptr_t)sizeof(T) && (y == NULL || sy == (intptr_t)sizeof(T))) {              \
        const T *gs = (const T *)g, *ys = (const T *)y;                                       \
        for (; i + FA_LANES <= n; i += FA_LANES) {                                            \
            FA_SIMD_LOOP                                                                      \
            for (int j = 0; j < FA_LANES; j++) {                                              \
                const double v = ys ? (double)gs[i + j] * (double)ys[i + j] : gs[i + j];      \
                FA_KAHAN_ADD(sums[j], comps[j], v);                                           \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    for (; i < n; i++) {                                                                      \
        const double v = y ? (double)FA_AT(T, g, i, sg) * (double)FA_AT(T, y, i, sy)          \
                           : (double)FA_AT(T, g, i, sg);                                      \
        FA_KAHAN_ADD(sums[i % FA_LANES], comps[i % FA_LANES], v);                             \
    }                                                                                         \
    return fa_lanes_total(sums, comps);                                                       \
}                                                                                             \
                                                                                              \
/* Vector-Jacobian products, (n),(n)->(n): kind 0/1/2 from y, 3/4/5 from x (softmax,    \
 * log_softmax, softmin). From x, y = softmax(+-x) goes to a row-sized scratch buffer    \
 * (out may be grad or x itself). */                                                     \
FA_KERNEL void fa_vjp_row_##SFX(int kind, const char *g, intptr_t sg, const char *v,             \
                             intptr_t sv, char *o, intptr_t so, intptr_t n, T *scratch) {     \
    const int from_x = kind >= 3, base = kind % 3;                                            \
    const char *y = v;                                                                        \
    intptr_t sy = sv, i;                                                                      \
    if (from_x) {                                                                             \
        fa_softmax_row_##SFX(v, sv, (char *)scratch, sizeof(T), n, base == 2 ? (T)-1 : (T)1); \
        y = (const char *)scratch;                                                            \
        sy = sizeof(T);                                                                       \
    }                                                                                         \
    if (base == 1) {                                                                          \
        const T s = (T)fa_row_dot_##SFX(g, sg, NULL, 0, n);                                   \
        for (i = 0; i < n; i++) {                                                             \
            const T yi = FA_AT(T, y, i, sy);                                                  \
            const T p = from_x ? yi : EXP(yi);                                                \
            FA_AT(T, o, i, so) = FA_AT(T, g, i, sg) - p * s;                                  \
        }                                                                                     \
        return;                                                                               \
    }                                                                                         \
    const T s = (T)fa_row_dot_##SFX(g, sg, y, sy, n);                                         \
    for (i = 0; i < n; i++) {                                                                 \
        const T r = FA_AT(T, y, i, sy) * (FA_AT(T, g, i, sg) - s);                            \
        FA_AT(T, o, i, so) = base == 2 ? -r : r;                                              \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static void fa_vjp_loop_##SFX(char **args, const intptr_t *dims, const intptr_t *steps,       \
                              void *data) {                                                   \
    const int kind = (int)(intptr_t)data;                                                     \
    const intptr_t N = dims[0], n = dims[1];                                                  \
    fenv_t env;                                                                               \
    if (N <= 0 || n <= 0) return;                                                             \
    feholdexcept(&env);                                                                       \
    int threads = (N * n >= fa_parallel_min) ? fa_num_threads : 1;                           \
    if (threads > N) threads = (int)N;                                                        \
    FA_PRAGMA(omp parallel num_threads(threads) if (threads > 1))                             \
    {                                                                                         \
        /* One worksharing loop that every thread reaches (a thread whose malloc failed \
         * skipping it would leave the others waiting at its barrier); rows without     \
         * scratch are NaN, never left unwritten. */                                    \
        T *scratch = kind >= 3 ? (T *)malloc((size_t)n * sizeof(T)) : NULL;                   \
        const int ok = kind < 3 || scratch != NULL;                                           \
        if (!ok) fa_note_alloc_failure();                                                     \
        FA_PRAGMA(omp for schedule(static))                                                   \
        for (intptr_t row = 0; row < N; row++) {                                              \
            if (ok)                                                                           \
                fa_vjp_row_##SFX(kind, args[0] + row * steps[0], steps[3],                    \
                                 args[1] + row * steps[1], steps[4],                          \
                                 args[2] + row * steps[2], steps[5], n, scratch);             \
            else                                                                              \
                for (intptr_t i = 0; i < n; i++)                                              \
                    FA_AT(T, args[2] + row * steps[2], i, steps[5]) = (T)NAN;                 \
        }                                                                                     \
        free(scratch);                                                                        \
    }                                                                                         \
    fesetenv(&env);                                                                           \
}                                                                                             \
                                                                                              \
/* Jacobians, (n)->(n,n): J[i][j] = d y_i / d x_j. kind 0 softmax, 1 log_softmax,        \
 * 2 softmin. c_i = 1 - y_i without cancellation: (total - e_i)/total, rest/total at    \
 * the first maximum. */                                                                 \
static void fa_jacobian_row_##SFX(int kind, const char *x, intptr_t sx, char *J,              \
                                  intptr_t si, intptr_t sj, intptr_t n, T *e) {               \
    const T sgn = kind == 2 ? (T)-1 : (T)1;                                                   \
    intptr_t first, i, j;                                                                     \
    const T rest = fa_row_parts_##SFX(x, sx, (char *)e, sizeof(T), n, sgn, 0, &first);       \
    const T total = (T)1 + rest;                                                              \
    for (i = 0; i < n; i++) {                                                                 \
        const T yi = e[i] / total;                                                            \
        const T ci = (i == first ? rest : total - e[i]) / total;                              \
        char *Ji = J + i * si;                                                                \
        for (j = 0; j < n; j++) {                                                             \
            const T yj = e[j] / total;                                                        \
            T v;                                                                              \
            if (kind == 1) v = i == j ? ci : -yj;                                             \
            else v = i == j ? yi * ci : -(yi * yj);                                           \
            FA_AT(T, Ji, j, sj) = kind == 2 ? -v : v;                                         \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static void fa_jacobian_loop_##SFX(char **args, const intptr_t *dims, const intptr_t *steps,  \
                                   void *data) {                                              \
    const int kind = (int)(intptr_t)data;                                                     \
    const intptr_t N = dims[0], n = dims[1];                                                  \
    fenv_t env;                                                                               \
    if (N <= 0 || n <= 0) return;                                                             \
    feholdexcept(&env);                                                                       \
    T *e = (T *)malloc((size_t)n * sizeof(T));                                                \
    if (e == NULL) fa_note_alloc_failure();                                                   \
    for (intptr_t row = 0; row < N; row++) {                                                  \
        if (e != NULL)                                                                        \
            fa_jacobian_row_##SFX(kind, args[0] + row * steps[0], steps[2],                   \
                                  args[1] + row * steps[1], steps[3], steps[4], n, e);        \
        else /* no scratch: NaN, never an unwritten result */                                \
            for (intptr_t i = 0; i < n; i++)                                                  \
                for (intptr_t j = 0; j < n; j++)                                              \
                    FA_AT(T, args[1] + row * steps[1] + i * steps[3], j, steps[4]) = (T)NAN;  \
    }                                                                                         \
    free(e);                                                                                  \
    fesetenv(&env);                                                                           \
}                                                                                             \
                                                                                              \
/* glu: x = [a, b] along the axis (m = n/2 each). data: 0 forward (n)->(m), 1 Jacobian    \
 * (n)->(m,n), 2 backward from x (m),(n)->(n). */                                           \
static void fa_glu_loop_##SFX(char **args, const intptr_t *dims, const intptr_t *steps,       \
                              void *data) {                                                   \
    const int kind = (int)(intptr_t)data;                                                     \
    const intptr_t N = dims[0];                                                               \
    fenv_t env;                                                                               \
    if (N <= 0) return;                                                                       \
    feholdexcept(&env);                                                                       \
    if (kind == 0) { /* dims: N, n, m; steps: so_x, so_y, sx, sy */                          \
        const intptr_t m = dims[2];                                                           \
        FA_FOR_ROWS(N, N * m, {                                                               \
            const char *x = args[0] + row * steps[0];                                         \
            char *y = args[1] + row * steps[1];                                               \
            for (intptr_t i = 0; i < m; i++)                                                  \
                FA_AT(T, y, i, steps[3]) = fa_glu_value_##SFX(FA_AT(T, x, i, steps[2]),       \
                                                             FA_AT(T, x, i + m, steps[2]));  \
        });                                                                                   \
    } else if (kind == 1) { /* dims: N, n, m; steps: so_x, so_J, sx, sJ_m, sJ_n */           \
        const intptr_t n = dims[1], m = dims[2];                                              \
        for (intptr_t row = 0; row < N; row++) {                                              \
            const char *x = args[0] + row * steps[0];                                         \
            char *J = args[1] + row * steps[1];                                               \
            for (intptr_t i = 0; i < m; i++) {                                                \
                const T a = FA_AT(T, x, i, steps[2]), b = FA_AT(T, x, i + m, steps[2]);       \
                for (intptr_t j = 0; j < n; j++) FA_AT(T, J + i * steps[3], j, steps[4]) = 0;  \
                FA_AT(T, J + i * steps[3], i, steps[4]) = fa_sigmoid_##SFX(b);                \
                FA_AT(T, J + i * steps[3], i + m, steps[4]) = fa_glu_db_##SFX(a, b);          \
            }                                                                                 \
        }                                                                                     \
    } else { /* dims: N, m, n; steps: so_g, so_x, so_o, sg, sx, so */                        \
        const intptr_t m = dims[1];                                                           \
        FA_FOR_ROWS(N, N * m, {                                                               \
            const char *g = args[0] + row * steps[0];                                         \
            const char *x = args[1] + row * steps[1];                                         \
            char *o = args[2] + row * steps[2];                                               \
            for (intptr_t i = 0; i < m; i++) {                                                \
                const T gi = FA_AT(T, g, i, steps[3]);                                        \
                const T a = FA_AT(T, x, i, steps[4]), b = FA_AT(T, x, i + m, steps[4]);       \
                const T da = gi * fa_sigmoid_##SFX(b), db = gi * fa_glu_db_##SFX(a, b);       \
                FA_AT(T, o, i, steps[5]) = da;                                                \
                FA_AT(T, o, i + m, steps[5]) = db;                                            \
            }                                                                                 \
        });                                                                                   \
    }                                                                                         \
    fesetenv(&env);                                                                           \
}

FA_ROWS_FOR_TYPE(float, f32, expf, log1pf)
FA_ROWS_FOR_TYPE(double, f64, exp, log1p)

#endif /* FA_ROWS_H */
