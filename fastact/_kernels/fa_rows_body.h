/* The row kernels for one element type: included by fa_rows.h (no include guard on
 * purpose) with FA_T (float or double), FA_S(name) (the type's suffix), FA_EXP,
 * FA_LOG1P, FA_EXPM1 and FA_ADD (the compensated double accumulation) defined.
 * Read fa_rows.h first. "Passes" below count reads/writes of a row from memory; the
 * measured fraction of a copy is in fastact/bench/rows.py's output. */

#define T FA_T

/* e = exp(v - m), with the rounding error of v - m (Knuth's TwoSum) put back:
 * d = v - m is off by up to ulp(d)/2, which exp magnifies |d| times (a spread of 487
 * in a float64 row cost 250 ulp of e without it). */
FA_INLINE T FA_S(fa_exp_shifted)(T v, T m, T *d_out) {
    const T d = v - m;
    const T bb = d - v;
    const T lo = (v - (d - bb)) + (-m - bb);
    const T ed = FA_EXP(d);
    *d_out = d;
    return ed + ed * (lo - lo == (T)0 ? lo : (T)0);
}

/* The total of FA_LANES compensated partial sums, in lane order. */
FA_INLINE double FA_S(fa_lanes_total)(const double *s, const double *c) {
    double total = 0, comp = 0;
    for (int j = 0; j < FA_LANES; j++) {
        FA_SUM2(total, comp, s[j]);
        FA_SUM2(total, comp, c[j]);
    }
    return total + comp;
}

/* max of sgn * x[0:n) (contiguous), its first index, and whether a NaN occurs.
 * One read; SIMD, a lane per index mod FA_LANES. A row without a value above -inf
 * (all -inf or NaN) reports index 0. */
FA_INLINE void FA_S(fa_max_first)(const T *x, intptr_t n, T sgn, T *m_out, intptr_t *first_out,
                                  int *nan_out) {
    T m[FA_LANES];
    intptr_t idx[FA_LANES];
    int nan = 0, j;
    intptr_t i = 0;
    for (j = 0; j < FA_LANES; j++) { m[j] = -(T)INFINITY; idx[j] = n; }
    for (; i + FA_LANES <= n; i += FA_LANES) {
        FA_PRAGMA(omp simd reduction(| : nan))
        for (j = 0; j < FA_LANES; j++) {
            const T v = sgn * x[i + j];
            const int take = v > m[j];
            m[j] = take ? v : m[j];
            idx[j] = take ? i + j : idx[j];
            nan |= v != v;
        }
    }
    for (j = 0; i < n; i++, j++) {
        const T v = sgn * x[i];
        if (v > m[j]) { m[j] = v; idx[j] = i; }
        nan |= v != v;
    }
    T M = m[0];
    for (j = 1; j < FA_LANES; j++) M = m[j] > M ? m[j] : M;
    intptr_t first = n;
    for (j = 0; j < FA_LANES; j++)
        if (m[j] == M && idx[j] < first) first = idx[j];
    *m_out = M;
    *first_out = first == n ? 0 : first;
    *nan_out = nan;
}

/* sum over i != skip of exp(sgn x_i - m) (TwoSum-corrected), compensated; writes
 * y_i = e_i (mode 0) or d_i = sgn x_i - m (mode 1) when y is not NULL. */
FA_INLINE double FA_S(fa_exp_sum)(const T *x, T *y, intptr_t n, T sgn, T m, intptr_t skip,
                                  int mode) {
    double s[FA_LANES] = {0}, c[FA_LANES] = {0};
    intptr_t i = 0;
    const intptr_t skip_block = skip - skip % FA_LANES;
    for (; i + FA_LANES <= n; i += FA_LANES) {
        const int sj = i == skip_block ? (int)(skip - i) : -1;
        if (y) {
            FA_SIMD_LOOP
            for (int j = 0; j < FA_LANES; j++) {
                T d;
                const T e = FA_S(fa_exp_shifted)(sgn * x[i + j], m, &d);
                FA_ADD(s[j], c[j], j == sj ? (T)0 : e);
                y[i + j] = mode ? d : e;
            }
        } else {
            FA_SIMD_LOOP
            for (int j = 0; j < FA_LANES; j++) {
                T d;
                const T e = FA_S(fa_exp_shifted)(sgn * x[i + j], m, &d);
                FA_ADD(s[j], c[j], j == sj ? (T)0 : e);
            }
        }
    }
    for (int j = 0; i < n; i++, j++) {
        T d;
        const T e = FA_S(fa_exp_shifted)(sgn * x[i], m, &d);
        FA_ADD(s[j], c[j], i == skip ? (T)0 : e);
        if (y) y[i] = mode ? d : e;
    }
    return FA_S(fa_lanes_total)(s, c);
}

/* The correction (e_first - 1): exactly 0 for a finite maximum m = sgn x_first, NaN
 * for +inf, -inf (a row of -inf) or NaN. */
FA_INLINE double FA_S(fa_first_term)(T v_first, T m, int nan) {
    T d;
    const T e = FA_S(fa_exp_shifted)(v_first, m, &d);
    return nan ? (double)NAN : (double)e - 1.0;
}

/* ---------------------------------------------------------------- forward rows */

/* One contiguous row in cache (n * sizeof(T) <= FA_ROW_CACHE_BYTES).
 * mode 0 softmax/softmin (sgn -1), mode 1 log_softmax.
 * Passes: x read once from memory (max); x re-read from cache for exp and the sum
 * while y is written; y rescaled in cache. Memory traffic: one copy (x in, y out). */
FA_INLINE void FA_S(fa_softmax_row)(const T *x, T *y, intptr_t n, T sgn, int mode,
                                    double *rest_out, intptr_t *first_out) {
    T m;
    intptr_t first;
    int nan;
    FA_S(fa_max_first)(x, n, sgn, &m, &first, &nan);
    const double rest = FA_S(fa_exp_sum)(x, y, n, sgn, m, first, mode) +
                        FA_S(fa_first_term)(m, m, nan); /* m = sgn x_first; x may be y now */
    if (mode) {
        const T lse = FA_LOG1P((T)rest);
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < n; i++) y[i] = y[i] - lse;
    } else {
        const T total = (T)(1.0 + rest);
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < n; i++) y[i] = y[i] / total;
    }
    if (rest_out) *rest_out = rest;
    if (first_out) *first_out = first;
}

/* Short contiguous rows adjacent in memory (x and y rows of n elements, n < FA_SHORT),
 * a batch of R rows with R * n <= FA_SHORT_BATCH: the per-row max and sums are scalar
 * loops, the exp and the division one vector loop over the whole batch.
 * Passes: x read once from memory, y written once (the batch stays in L1). */
FA_KERNEL void FA_S(fa_softmax_short)(const T *x, T *y, intptr_t n, intptr_t R, T sgn,
                                      int mode, double *rests, intptr_t *firsts_out) {
    T mb[FA_SHORT_BATCH], eb[FA_SHORT_BATCH], tb[FA_SHORT_BATCH];
    intptr_t firsts[FA_SHORT_BATCH];
    unsigned char nans[FA_SHORT_BATCH];
    const intptr_t K = R * n;
    for (intptr_t r = 0; r < R; r++) {
        const T *xr = x + r * n;
        T m = -(T)INFINITY;
        intptr_t first = 0;
        int nan = 0;
        for (intptr_t i = 0; i < n; i++) {
            const T v = sgn * xr[i];
            if (v > m) { m = v; first = i; }
            nan |= v != v;
        }
        if (m == -(T)INFINITY) first = 0;
        for (intptr_t i = 0; i < n; i++) mb[r * n + i] = m;
        firsts[r] = first;
        nans[r] = (unsigned char)nan;
    }
    FA_SIMD_LOOP
    for (intptr_t k = 0; k < K; k++) {
        T d;
        const T e = FA_S(fa_exp_shifted)(sgn * x[k], mb[k], &d);
        eb[k] = e;
        tb[k] = mode ? d : e;
    }
    for (intptr_t r = 0; r < R; r++) {
        const T *er = eb + r * n;
        double s = 0, c = 0;
        for (intptr_t i = 0; i < n; i++) FA_ADD(s, c, i == firsts[r] ? (T)0 : er[i]);
        const double rest = (s + c) + (nans[r] ? (double)NAN : (double)er[firsts[r]] - 1.0);
        if (rests) rests[r] = rest;
        if (firsts_out) firsts_out[r] = firsts[r];
        const T t = mode ? FA_LOG1P((T)rest) : (T)(1.0 + rest);
        for (intptr_t i = 0; i < n; i++) mb[r * n + i] = t;
    }
    if (mode) {
        FA_SIMD_LOOP
        for (intptr_t k = 0; k < K; k++) y[k] = tb[k] - mb[k];
    } else {
        FA_SIMD_LOOP
        for (intptr_t k = 0; k < K; k++) y[k] = tb[k] / mb[k];
    }
}

/* Long contiguous rows, phase A of one chunk: its max, first index, NaN flag and
 * rest (sum without its first maximum, relative to its max). One read of the chunk
 * from memory (max), one from cache (exp and sum); nothing written. */
typedef struct {
    T m;
    intptr_t first;
    int nan;
    double rest;
} FA_S(fa_chunk_part);

FA_KERNEL void FA_S(fa_softmax_chunk_part)(const T *x, intptr_t n, T sgn,
                                           FA_S(fa_chunk_part) *out) {
    FA_S(fa_max_first)(x, n, sgn, &out->m, &out->first, &out->nan);
    out->rest = FA_S(fa_exp_sum)(x, NULL, n, sgn, out->m, out->first, 0);
}

/* The chunks' partials combined in chunk order: the row's max m, its first index,
 * and rest = rest_first_chunk + sum over the other chunks of exp(m_c - m)(1 + rest_c). */
static double FA_S(fa_combine_chunks)(const FA_S(fa_chunk_part) *p, intptr_t nchunks,
                                      T *m_out) {
    intptr_t cstar = 0, c;
    int nan = 0;
    for (c = 0; c < nchunks; c++) {
        if (p[c].m > p[cstar].m) cstar = c;
        nan |= p[c].nan;
    }
    const T m = p[cstar].m;
    double s = 0, comp = 0;
    FA_SUM2(s, comp, p[cstar].rest);
    for (c = 0; c < nchunks; c++) {
        if (c == cstar || p[c].m == -(T)INFINITY) continue;
        T d;
        const double w = p[c].m == m ? 1.0 : (double)FA_S(fa_exp_shifted)(p[c].m, m, &d);
        FA_SUM2(s, comp, w * (1.0 + p[c].rest));
    }
    *m_out = m;
    return (s + comp) + FA_S(fa_first_term)(m, m, nan);
}

/* Long rows, phase B of one chunk: y = e / total (mode 0) or (x - m) - lse (mode 1).
 * One read of x, one write of y. Long rows overall: x read twice, y written once
 * (1.5 copies), two exps per element for softmax/softmin, one for log_softmax. */
FA_KERNEL void FA_S(fa_softmax_chunk_write)(const T *x, T *y, intptr_t n, T sgn, int mode,
                                            T m, T t) {
    if (mode) {
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < n; i++) y[i] = (sgn * x[i] - m) - t;
    } else {
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < n; i++) {
            T d;
            y[i] = FA_S(fa_exp_shifted)(sgn * x[i], m, &d) / t;
        }
    }
}

/* FA_ROWS_BLOCK adjacent rows (row r at x + r*sizeof(T)), each strided by sx: SIMD across
 * rows. Passes: x read from memory for the max, re-read for exp and the sums while
 * y is written, y rescaled: the block (FA_ROWS_BLOCK * n elements) stays in L2 for rows up
 * to a few thousand. */
FA_KERNEL void FA_S(fa_softmax_columns)(const char *x, intptr_t sx, char *y, intptr_t sy,
                                        intptr_t n, intptr_t nrows, T sgn, int mode,
                                        double *rests, intptr_t *firsts_out) {
    T m[FA_ROWS_BLOCK], t[FA_ROWS_BLOCK];
    double sums[FA_ROWS_BLOCK], comps[FA_ROWS_BLOCK];
    intptr_t first[FA_ROWS_BLOCK], i;
    int nan[FA_ROWS_BLOCK], r;
    const int R = (int)nrows;
    for (r = 0; r < R; r++) {
        m[r] = -(T)INFINITY;
        first[r] = 0;
        nan[r] = 0;
        sums[r] = comps[r] = 0;
    }
    for (i = 0; i < n; i++) {
        const T *xi = (const T *)(x + i * sx);
        FA_SIMD_LOOP
        for (r = 0; r < R; r++) {
            const T v = sgn * xi[r];
            const int take = v > m[r];
            m[r] = take ? v : m[r];
            first[r] = take ? i : first[r];
            nan[r] |= v != v;
        }
    }
    for (i = 0; i < n; i++) {
        const T *xi = (const T *)(x + i * sx);
        T *yi = (T *)(y + i * sy);
        FA_SIMD_LOOP
        for (r = 0; r < R; r++) {
            T d;
            const T e = FA_S(fa_exp_shifted)(sgn * xi[r], m[r], &d);
            FA_ADD(sums[r], comps[r], i == first[r] ? (T)0 : e);
            yi[r] = mode ? d : e;
        }
    }
    for (r = 0; r < R; r++) {
        const double rest = (sums[r] + comps[r]) + FA_S(fa_first_term)(m[r], m[r], nan[r]);
        if (rests) rests[r] = rest;
        if (firsts_out) firsts_out[r] = first[r];
        t[r] = mode ? FA_LOG1P((T)rest) : (T)(1.0 + rest);
    }
    for (i = 0; i < n; i++) {
        T *yi = (T *)(y + i * sy);
        FA_SIMD_LOOP
        for (r = 0; r < R; r++) yi[r] = mode ? yi[r] - t[r] : yi[r] / t[r];
    }
}

/* Any other layout: gather the row into `buf`, compute there, scatter in order. */
FA_KERNEL void FA_S(fa_softmax_gathered)(const char *x, intptr_t sx, char *y, intptr_t sy,
                                         intptr_t n, T sgn, int mode, T *buf) {
    intptr_t i;
    for (i = 0; i < n; i++) buf[i] = FA_AT(T, x, i, sx);
    FA_S(fa_softmax_row)(buf, buf, n, sgn, mode, NULL, NULL);
    for (i = 0; i < n; i++) FA_AT(T, y, i, sy) = buf[i];
}

FA_KERNEL void FA_S(fa_softmax_row_k)(const T *x, T *y, intptr_t n, T sgn, int mode) {
    FA_S(fa_softmax_row)(x, y, n, sgn, mode, NULL, NULL);
}

/* The forward gufunc loop's work, split into tasks for the pool. */
typedef struct {
    char **args;
    const intptr_t *steps;
    intptr_t N, n, rows_per_task;
    T sgn;
    int mode, layout;
    /* long rows */
    intptr_t nchunks;
    FA_S(fa_chunk_part) *parts;
    T *mt; /* per row: m, t */
} FA_S(fa_fwd_ctx);

static void FA_S(fa_fwd_task)(void *vctx, intptr_t task) {
    FA_S(fa_fwd_ctx) *c = (FA_S(fa_fwd_ctx) *)vctx;
    const intptr_t so_x = c->steps[0], so_y = c->steps[1], sx = c->steps[2], sy = c->steps[3];
    const intptr_t n = c->n;
    if (c->layout == FA_LAYOUT_COLUMNS) {
        const intptr_t r0 = task * FA_ROWS_BLOCK;
        const intptr_t cnt = c->N - r0 < FA_ROWS_BLOCK ? c->N - r0 : FA_ROWS_BLOCK;
        FA_S(fa_softmax_columns)(c->args[0] + r0 * so_x, sx, c->args[1] + r0 * so_y, sy, n,
                                 cnt, c->sgn, c->mode, NULL, NULL);
        return;
    }
    const intptr_t r0 = task * c->rows_per_task;
    const intptr_t r1 = r0 + c->rows_per_task < c->N ? r0 + c->rows_per_task : c->N;
    if (c->layout == FA_LAYOUT_SHORT) {
        const intptr_t per = FA_SHORT_BATCH / n;
        for (intptr_t r = r0; r < r1; r += per) {
            const intptr_t R = r1 - r < per ? r1 - r : per;
            FA_S(fa_softmax_short)((const T *)(c->args[0] + r * so_x),
                                   (T *)(c->args[1] + r * so_y), n, R, c->sgn, c->mode, NULL,
                                   NULL);
        }
    } else if (c->layout == FA_LAYOUT_ROWS) {
        for (intptr_t r = r0; r < r1; r++)
            FA_S(fa_softmax_row_k)((const T *)(c->args[0] + r * so_x),
                                   (T *)(c->args[1] + r * so_y), n, c->sgn, c->mode);
    } else {
        T *buf = (T *)malloc((size_t)n * sizeof(T));
        if (buf == NULL) fa_note_alloc_failure();
        for (intptr_t r = r0; r < r1; r++) {
            if (buf != NULL)
                FA_S(fa_softmax_gathered)(c->args[0] + r * so_x, sx, c->args[1] + r * so_y, sy,
                                          n, c->sgn, c->mode, buf);
            else
                for (intptr_t i = 0; i < n; i++) FA_AT(T, c->args[1] + r * so_y, i, sy) = (T)NAN;
        }
        free(buf);
    }
}

/* Long rows: task = (row, chunk). */
static void FA_S(fa_fwd_part_task)(void *vctx, intptr_t task) {
    FA_S(fa_fwd_ctx) *c = (FA_S(fa_fwd_ctx) *)vctx;
    const intptr_t r = task / c->nchunks, k = task % c->nchunks;
    const intptr_t i0 = k * FA_ROW_CHUNK;
    const intptr_t len = c->n - i0 < FA_ROW_CHUNK ? c->n - i0 : FA_ROW_CHUNK;
    FA_S(fa_softmax_chunk_part)((const T *)(c->args[0] + r * c->steps[0]) + i0, len, c->sgn,
                                &c->parts[task]);
}

static void FA_S(fa_fwd_write_task)(void *vctx, intptr_t task) {
    FA_S(fa_fwd_ctx) *c = (FA_S(fa_fwd_ctx) *)vctx;
    const intptr_t r = task / c->nchunks, k = task % c->nchunks;
    const intptr_t i0 = k * FA_ROW_CHUNK;
    const intptr_t len = c->n - i0 < FA_ROW_CHUNK ? c->n - i0 : FA_ROW_CHUNK;
    FA_S(fa_softmax_chunk_write)((const T *)(c->args[0] + r * c->steps[0]) + i0,
                                 (T *)(c->args[1] + r * c->steps[1]) + i0, len, c->sgn, c->mode,
                                 c->mt[2 * r], c->mt[2 * r + 1]);
}

/* kind: 0 softmax, 1 log_softmax, 2 softmin. (n)->(n) */
static void FA_S(fa_softmax_loop)(char **args, const intptr_t *dims, const intptr_t *steps,
                                  void *data) {
    const int kind = (int)(intptr_t)data;
    const intptr_t N = dims[0], n = dims[1];
    const intptr_t so_x = steps[0], so_y = steps[1], sx = steps[2], sy = steps[3];
    const intptr_t es = (intptr_t)sizeof(T);
    fenv_t env;
    if (N <= 0 || n <= 0) return;
    feholdexcept(&env);
    FA_S(fa_fwd_ctx) c = {args, steps, N, n, 1, kind == 2 ? (T)-1 : (T)1, kind == 1,
                          FA_LAYOUT_OTHER, 0, NULL, NULL};
    const int threads = fa_rows_threads(N * n);
    intptr_t tasks;
    if (sx == es && sy == es) {
        if (n < FA_SHORT && so_x == n * es && so_y == n * es) c.layout = FA_LAYOUT_SHORT;
        else if (n * es <= FA_ROW_CACHE_BYTES) c.layout = FA_LAYOUT_ROWS;
        else c.layout = FA_LAYOUT_LONG;
    } else if (so_x == es && so_y == es && n > 1 && sy >= N * es) {
        c.layout = FA_LAYOUT_COLUMNS;
    }
    if (c.layout == FA_LAYOUT_LONG) {
        c.nchunks = (n + FA_ROW_CHUNK - 1) / FA_ROW_CHUNK;
        c.parts = (FA_S(fa_chunk_part) *)malloc((size_t)(N * c.nchunks) * sizeof(*c.parts));
        c.mt = (T *)malloc((size_t)(2 * N) * sizeof(T));
        if (c.parts == NULL || c.mt == NULL) {
            fa_note_alloc_failure();
            for (intptr_t r = 0; r < N; r++)
                for (intptr_t i = 0; i < n; i++) FA_AT(T, args[1] + r * so_y, i, sy) = (T)NAN;
        } else {
            fa_parallel_for(N * c.nchunks, threads, FA_S(fa_fwd_part_task), &c);
            for (intptr_t r = 0; r < N; r++) {
                T m;
                const double rest = FA_S(fa_combine_chunks)(c.parts + r * c.nchunks, c.nchunks, &m);
                c.mt[2 * r] = m;
                c.mt[2 * r + 1] = c.mode ? FA_LOG1P((T)rest) : (T)(1.0 + rest);
            }
            fa_parallel_for(N * c.nchunks, threads, FA_S(fa_fwd_write_task), &c);
        }
        free(c.parts);
        free(c.mt);
        fesetenv(&env);
        return;
    }
    if (c.layout == FA_LAYOUT_COLUMNS) {
        tasks = (N + FA_ROWS_BLOCK - 1) / FA_ROWS_BLOCK;
    } else {
        c.rows_per_task = FA_TASK_ELEMENTS / n > 0 ? FA_TASK_ELEMENTS / n : 1;
        tasks = (N + c.rows_per_task - 1) / c.rows_per_task;
    }
    fa_parallel_for(tasks, threads, FA_S(fa_fwd_task), &c);
    fesetenv(&env);
}

/* ------------------------------------------------------------------- backward */

/* Vector-Jacobian product of one contiguous row, given y (probabilities for
 * softmax/softmin, and for log_softmax from x; log-probabilities for log_softmax
 * from y), the index k of the row's dominant entry and comp = 1 - p_k computed
 * without cancellation. base 0 softmax, 1 log_softmax, 2 softmin; logp: y holds
 * log-probabilities.
 *   softmax:     o_i = y_i (g_i - s), s = sum_j g_j y_j; at k: y_k (g_k comp - s')
 *   log_softmax: o_i = g_i - p_i S,   S = sum_j g_j;      at k: g_k comp - p_k S'
 * with s', S' the sums without k: the dominant entry does not cancel (issue 15.15).
 * Passes: g and y read once for the sum (from memory), once more (from cache) for
 * the write: in cache, 1.5 copies. */
FA_INLINE void FA_S(fa_vjp_core)(int base, int logp, const T *g, const T *y, T *o, intptr_t n,
                                 intptr_t k, double comp) {
    double s[FA_LANES] = {0}, c[FA_LANES] = {0};
    intptr_t i = 0;
    const intptr_t kb = k - k % FA_LANES;
    for (; i + FA_LANES <= n; i += FA_LANES) {
        const int kj = i == kb ? (int)(k - i) : -1;
        if (base == 1) {
            FA_SIMD_LOOP
            for (int j = 0; j < FA_LANES; j++) FA_ADD(s[j], c[j], j == kj ? (T)0 : g[i + j]);
        } else {
            FA_SIMD_LOOP
            for (int j = 0; j < FA_LANES; j++) {
                const double w = (double)g[i + j] * (double)y[i + j];
                FA_ADD(s[j], c[j], j == kj ? 0.0 : w);
            }
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const double w = base == 1 ? (double)g[i] : (double)g[i] * (double)y[i];
        FA_ADD(s[j], c[j], i == k ? 0.0 : w);
    }
    const double sp = FA_S(fa_lanes_total)(s, c);
    const T gk = g[k], yk = y[k];
    const double wk = base == 1 ? (double)gk : (double)gk * (double)yk;
    const T S = (T)(sp + wk);
    if (base == 1) {
        if (logp) {
            FA_SIMD_LOOP
            for (i = 0; i < n; i++) o[i] = g[i] - FA_EXP(y[i]) * S;
        } else {
            FA_SIMD_LOOP
            for (i = 0; i < n; i++) o[i] = g[i] - y[i] * S;
        }
        const double pk = logp ? (double)FA_EXP(yk) : (double)yk;
        o[k] = (T)((double)gk * comp - pk * sp);
        return;
    }
    const T sg = base == 2 ? (T)-1 : (T)1;
    FA_SIMD_LOOP
    for (i = 0; i < n; i++) o[i] = sg * (y[i] * (g[i] - S));
    o[k] = sg * (yk * (T)((double)gk * comp - sp));
}

/* From y: k the first maximum of y, comp = 1 - y_k (exact for y_k >= 1/2) or
 * -expm1(y_k) for log-probabilities. */
FA_KERNEL void FA_S(fa_vjp_y_row)(int base, const T *g, const T *y, T *o, intptr_t n) {
    T m;
    intptr_t k;
    int nan;
    FA_S(fa_max_first)(y, n, (T)1, &m, &k, &nan);
    const double comp = base == 1 ? -(double)FA_EXPM1(y[k]) : 1.0 - (double)y[k];
    FA_S(fa_vjp_core)(base, base == 1, g, y, o, n, k, comp);
}

/* From x: y = softmax(+-x) into `scratch` (o may be g or x itself); comp = rest/total,
 * the complement of the dominant entry straight from the forward's sums. */
FA_KERNEL void FA_S(fa_vjp_x_row)(int base, const T *g, const T *x, T *o, intptr_t n,
                                  T *scratch) {
    double rest;
    intptr_t k;
    FA_S(fa_softmax_row)(x, scratch, n, base == 2 ? (T)-1 : (T)1, 0, &rest, &k);
    FA_S(fa_vjp_core)(base, 0, g, scratch, o, n, k, rest / (1.0 + rest));
}

/* Long rows from y, phase A of a chunk: its max of y and first index, the sum
 * without that index, and that index's term. One read of g and y from memory (the
 * max pass reads y, the sum re-reads it from cache). */
typedef struct {
    T m;
    intptr_t first;
    double s, wk;
} FA_S(fa_vjp_part);

FA_KERNEL void FA_S(fa_vjp_chunk_part)(int base, const T *g, const T *y, intptr_t n,
                                       FA_S(fa_vjp_part) *out) {
    int nan;
    FA_S(fa_max_first)(y, n, (T)1, &out->m, &out->first, &nan);
    const intptr_t k = out->first;
    double s[FA_LANES] = {0}, c[FA_LANES] = {0};
    intptr_t i = 0;
    const intptr_t kb = k - k % FA_LANES;
    for (; i + FA_LANES <= n; i += FA_LANES) {
        const int kj = i == kb ? (int)(k - i) : -1;
        FA_SIMD_LOOP
        for (int j = 0; j < FA_LANES; j++) {
            const double w = base == 1 ? (double)g[i + j] : (double)g[i + j] * (double)y[i + j];
            FA_ADD(s[j], c[j], j == kj ? 0.0 : w);
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const double w = base == 1 ? (double)g[i] : (double)g[i] * (double)y[i];
        FA_ADD(s[j], c[j], i == k ? 0.0 : w);
    }
    out->s = FA_S(fa_lanes_total)(s, c);
    out->wk = base == 1 ? (double)g[k] : (double)g[k] * (double)y[k];
}

/* Phase B of a chunk: the write (g and y read, o written: long rows 2.5 copies). */
FA_KERNEL void FA_S(fa_vjp_chunk_write)(int base, const T *g, const T *y, T *o, intptr_t n,
                                        T S) {
    intptr_t i;
    if (base == 1) {
        FA_SIMD_LOOP
        for (i = 0; i < n; i++) o[i] = g[i] - FA_EXP(y[i]) * S;
        return;
    }
    const T sg = base == 2 ? (T)-1 : (T)1;
    FA_SIMD_LOOP
    for (i = 0; i < n; i++) o[i] = sg * (y[i] * (g[i] - S));
}

/* Short contiguous rows adjacent in memory (n < FA_SHORT), a batch of R rows with
 * R * n <= FA_SHORT_BATCH, given each row's dominant index ks[r] and comp = 1 - p_k
 * (computed without cancellation by the caller): the sums are scalar loops per row,
 * the writes one vector loop over the batch. y as in fa_vjp_core (logp: y holds
 * log-probabilities). o may be g or y: every row's sums and dominant-entry term are
 * formed before the batch is written. Passes: g and y read once from memory, o
 * written once (the batch stays in L1). */
FA_INLINE void FA_S(fa_vjp_short_core)(int base, int logp, const T *g, const T *y, T *o,
                                       intptr_t n, intptr_t R, const intptr_t *ks,
                                       const double *comps) {
    T sb[FA_SHORT_BATCH];
    T inner[FA_SHORT_BATCH], yks[FA_SHORT_BATCH];
    const intptr_t K = R * n;
    for (intptr_t r = 0; r < R; r++) {
        const T *gr = g + r * n, *yr = y + r * n;
        const intptr_t k = ks[r];
        intptr_t i;
        double s = 0, c = 0;
        for (i = 0; i < n; i++) {
            const double w = base == 1 ? (double)gr[i] : (double)gr[i] * (double)yr[i];
            FA_ADD(s, c, i == k ? 0.0 : w);
        }
        const double sp = s + c;
        const T gk = gr[k], yk = yr[k];
        const double wk = base == 1 ? (double)gk : (double)gk * (double)yk;
        const T S = (T)(sp + wk);
        for (i = 0; i < n; i++) sb[r * n + i] = S;
        const double pk = base == 1 ? (logp ? (double)FA_EXP(yk) : (double)yk) : 1.0;
        inner[r] = (T)((double)gk * comps[r] - pk * sp);
        yks[r] = yk;
    }
    const T sg = base == 2 ? (T)-1 : (T)1;
    if (base == 1) {
        if (logp) {
            FA_SIMD_LOOP
            for (intptr_t q = 0; q < K; q++) o[q] = g[q] - FA_EXP(y[q]) * sb[q];
        } else {
            FA_SIMD_LOOP
            for (intptr_t q = 0; q < K; q++) o[q] = g[q] - y[q] * sb[q];
        }
        for (intptr_t r = 0; r < R; r++) o[r * n + ks[r]] = inner[r];
    } else {
        FA_SIMD_LOOP
        for (intptr_t q = 0; q < K; q++) o[q] = sg * (y[q] * (g[q] - sb[q]));
        for (intptr_t r = 0; r < R; r++) o[r * n + ks[r]] = sg * (yks[r] * inner[r]);
    }
}

/* Short rows from y: k the first maximum of y, comp = 1 - y_k or -expm1(y_k) (as
 * fa_vjp_y_row). */
FA_KERNEL void FA_S(fa_vjp_short)(int base, const T *g, const T *y, T *o, intptr_t n,
                                  intptr_t R) {
    intptr_t ks[FA_SHORT_BATCH];
    double comps[FA_SHORT_BATCH];
    for (intptr_t r = 0; r < R; r++) {
        const T *yr = y + r * n;
        T m = -(T)INFINITY;
        intptr_t k = 0;
        for (intptr_t i = 0; i < n; i++)
            if (yr[i] > m) { m = yr[i]; k = i; }
        ks[r] = k;
        comps[r] = base == 1 ? -(double)FA_EXPM1(yr[k]) : 1.0 - (double)yr[k];
    }
    FA_S(fa_vjp_short_core)(base, base == 1, g, y, o, n, R, ks, comps);
}

/* Short rows from x: the batch's probabilities by the short forward into a stack
 * buffer (x may be o), then comp = rest/total from the forward's sums, as
 * fa_vjp_x_row. Rows of 10 took a whole-row call each: 18 ns per element for a
 * (100000, 10) float32 backward (1 thread), 2.8 from y. */
FA_KERNEL void FA_S(fa_vjp_x_short)(int base, const T *g, const T *x, T *o, intptr_t n,
                                    intptr_t R) {
    T p[FA_SHORT_BATCH];
    intptr_t ks[FA_SHORT_BATCH];
    double comps[FA_SHORT_BATCH];
    FA_S(fa_softmax_short)(x, p, n, R, base == 2 ? (T)-1 : (T)1, 0, comps, ks);
    for (intptr_t r = 0; r < R; r++) comps[r] = comps[r] / (1.0 + comps[r]);
    FA_S(fa_vjp_short_core)(base, 0, g, p, o, n, R, ks, comps);
}

/* FA_ROWS_BLOCK adjacent rows (row r at +r*sizeof(T)), each strided: SIMD across rows,
 * given each row's dominant index k[r] and comp[r] = 1 - p_k without cancellation; the
 * same sums as the contiguous row. y as in fa_vjp_core (logp: log-probabilities). o may
 * be g or y: the sums and the dominant entries' terms are formed before any write.
 * Passes: g and y read for the sums, and again for the write (the block stays in L2). */
FA_INLINE void FA_S(fa_vjp_columns_core)(int base, int logp, const char *g, intptr_t sg,
                                         const char *y, intptr_t sy, char *o, intptr_t so,
                                         intptr_t n, int R, const intptr_t *k,
                                         const double *comp) {
    T S[FA_ROWS_BLOCK], inner[FA_ROWS_BLOCK], yks[FA_ROWS_BLOCK];
    double sums[FA_ROWS_BLOCK], comps[FA_ROWS_BLOCK];
    intptr_t i;
    int r;
    const intptr_t es = (intptr_t)sizeof(T);
    for (r = 0; r < R; r++) sums[r] = comps[r] = 0;
    for (i = 0; i < n; i++) {
        const T *gi = (const T *)(g + i * sg), *yi = (const T *)(y + i * sy);
        FA_SIMD_LOOP
        for (r = 0; r < R; r++) {
            const double w = base == 1 ? (double)gi[r] : (double)gi[r] * (double)yi[r];
            FA_ADD(sums[r], comps[r], i == k[r] ? 0.0 : w);
        }
    }
    for (r = 0; r < R; r++) {
        const double sp = sums[r] + comps[r];
        const T gk = FA_AT(T, g + r * es, k[r], sg), yk = FA_AT(T, y + r * es, k[r], sy);
        const double wk = base == 1 ? (double)gk : (double)gk * (double)yk;
        S[r] = (T)(sp + wk);
        const double pk = base == 1 ? (logp ? (double)FA_EXP(yk) : (double)yk) : 1.0;
        inner[r] = (T)((double)gk * comp[r] - pk * sp);
        yks[r] = yk;
    }
    const T sgn = base == 2 ? (T)-1 : (T)1;
    for (i = 0; i < n; i++) {
        const T *gi = (const T *)(g + i * sg), *yi = (const T *)(y + i * sy);
        T *oi = (T *)(o + i * so);
        if (base == 1 && logp) {
            FA_SIMD_LOOP
            for (r = 0; r < R; r++) oi[r] = gi[r] - FA_EXP(yi[r]) * S[r];
        } else if (base == 1) {
            FA_SIMD_LOOP
            for (r = 0; r < R; r++) oi[r] = gi[r] - yi[r] * S[r];
        } else {
            FA_SIMD_LOOP
            for (r = 0; r < R; r++) oi[r] = sgn * (yi[r] * (gi[r] - S[r]));
        }
    }
    for (r = 0; r < R; r++)
        FA_AT(T, o + r * es, k[r], so) = base == 1 ? inner[r] : sgn * (yks[r] * inner[r]);
}

/* Columns from y: k the first maximum of y, comp = 1 - y_k or -expm1(y_k). Passes: y
 * read for the max, then as fa_vjp_columns_core. */
FA_KERNEL void FA_S(fa_vjp_columns)(int base, const char *g, intptr_t sg, const char *y,
                                    intptr_t sy, char *o, intptr_t so, intptr_t n,
                                    intptr_t nrows) {
    T m[FA_ROWS_BLOCK];
    double comp[FA_ROWS_BLOCK];
    intptr_t k[FA_ROWS_BLOCK], i;
    int r;
    const int R = (int)nrows;
    const intptr_t es = (intptr_t)sizeof(T);
    for (r = 0; r < R; r++) { m[r] = -(T)INFINITY; k[r] = 0; }
    for (i = 0; i < n; i++) {
        const T *yi = (const T *)(y + i * sy);
        FA_SIMD_LOOP
        for (r = 0; r < R; r++) {
            const int take = yi[r] > m[r];
            m[r] = take ? yi[r] : m[r];
            k[r] = take ? i : k[r];
        }
    }
    for (r = 0; r < R; r++) {
        const T yk = FA_AT(T, y + r * es, k[r], sy);
        comp[r] = base == 1 ? -(double)FA_EXPM1(yk) : 1.0 - (double)yk;
    }
    FA_S(fa_vjp_columns_core)(base, base == 1, g, sg, y, sy, o, so, n, R, k, comp);
}

/* Columns from x: the block's probabilities by the columns forward into `p` (n rows of
 * FA_ROWS_BLOCK elements; x may be o), comp = rest/total from its sums (as
 * fa_vjp_x_row). These rows went the gathered way one row at a time before: 21 ns
 * per element for softmax along axis 0 of a (10, 100000) float32 array (1 thread),
 * against 0.95 from y. */
FA_KERNEL void FA_S(fa_vjp_x_columns)(int base, const char *g, intptr_t sg, const char *x,
                                      intptr_t sx, char *o, intptr_t so, intptr_t n,
                                      intptr_t nrows, T *p) {
    double comp[FA_ROWS_BLOCK];
    intptr_t k[FA_ROWS_BLOCK];
    const intptr_t sp = FA_ROWS_BLOCK * (intptr_t)sizeof(T);
    FA_S(fa_softmax_columns)(x, sx, (char *)p, sp, n, nrows, base == 2 ? (T)-1 : (T)1, 0,
                             comp, k);
    for (int r = 0; r < (int)nrows; r++) comp[r] = comp[r] / (1.0 + comp[r]);
    FA_S(fa_vjp_columns_core)(base, 0, g, sg, (const char *)p, sp, o, so, n, (int)nrows, k,
                              comp);
}

typedef struct {
    char **args;
    const intptr_t *steps;
    intptr_t N, n, rows_per_task;
    int kind, layout;
    intptr_t nchunks;
    FA_S(fa_vjp_part) *parts;
    double *row; /* per row: S, s', k (as double), comp */
} FA_S(fa_vjp_ctx);

static void FA_S(fa_vjp_task)(void *vctx, intptr_t task) {
    FA_S(fa_vjp_ctx) *c = (FA_S(fa_vjp_ctx) *)vctx;
    const intptr_t *st = c->steps;
    const int from_x = c->kind >= 3, base = c->kind % 3;
    if (c->layout == FA_LAYOUT_COLUMNS) {
        const intptr_t q0 = task * FA_ROWS_BLOCK;
        const intptr_t cnt = c->N - q0 < FA_ROWS_BLOCK ? c->N - q0 : FA_ROWS_BLOCK;
        if (!from_x) {
            FA_S(fa_vjp_columns)(base, c->args[0] + q0 * st[0], st[3], c->args[1] + q0 * st[1],
                                 st[4], c->args[2] + q0 * st[2], st[5], c->n, cnt);
            return;
        }
        /* the block's probabilities: n rows of FA_ROWS_BLOCK elements */
        T *p = (T *)malloc((size_t)c->n * FA_ROWS_BLOCK * sizeof(T));
        if (p == NULL) {
            fa_note_alloc_failure();
            for (intptr_t r = q0; r < q0 + cnt; r++)
                for (intptr_t i = 0; i < c->n; i++)
                    FA_AT(T, c->args[2] + r * st[2], i, st[5]) = (T)NAN;
            return;
        }
        FA_S(fa_vjp_x_columns)(base, c->args[0] + q0 * st[0], st[3], c->args[1] + q0 * st[1],
                               st[4], c->args[2] + q0 * st[2], st[5], c->n, cnt, p);
        free(p);
        return;
    }
    const intptr_t n = c->n, r0 = task * c->rows_per_task;
    const intptr_t r1 = r0 + c->rows_per_task < c->N ? r0 + c->rows_per_task : c->N;
    if (c->layout == FA_LAYOUT_SHORT) {
        const intptr_t per = FA_SHORT_BATCH / n;
        for (intptr_t r = r0; r < r1; r += per) {
            const intptr_t R = r1 - r < per ? r1 - r : per;
            const T *g = (const T *)(c->args[0] + r * st[0]);
            const T *v = (const T *)(c->args[1] + r * st[1]);
            T *o = (T *)(c->args[2] + r * st[2]);
            if (from_x) FA_S(fa_vjp_x_short)(base, g, v, o, n, R);
            else FA_S(fa_vjp_short)(base, g, v, o, n, R);
        }
        return;
    }
    const int gathered = c->layout == FA_LAYOUT_OTHER;
    /* scratch: the forward's y (from x), and the gathered g, v (other layouts) */
    const intptr_t need = (from_x ? n : 0) + (gathered ? 2 * n : 0);
    T *buf = need ? (T *)malloc((size_t)need * sizeof(T)) : NULL;
    if (need && buf == NULL) {
        fa_note_alloc_failure();
        for (intptr_t r = r0; r < r1; r++)
            for (intptr_t i = 0; i < n; i++) FA_AT(T, c->args[2] + r * st[2], i, st[5]) = (T)NAN;
        return;
    }
    for (intptr_t r = r0; r < r1; r++) {
        const char *g = c->args[0] + r * st[0], *v = c->args[1] + r * st[1];
        char *o = c->args[2] + r * st[2];
        const T *gc = (const T *)g, *vc = (const T *)v;
        T *oc = (T *)o;
        if (gathered) {
            T *gb = buf + (from_x ? n : 0), *vb = gb + n;
            for (intptr_t i = 0; i < n; i++) {
                gb[i] = FA_AT(T, g, i, st[3]);
                vb[i] = FA_AT(T, v, i, st[4]);
            }
            gc = gb;
            vc = vb;
            oc = gb; /* computed in place over the gathered g, then scattered */
        }
        if (from_x) FA_S(fa_vjp_x_row)(base, gc, vc, oc, n, buf);
        else FA_S(fa_vjp_y_row)(base, gc, vc, oc, n);
        if (gathered)
            for (intptr_t i = 0; i < n; i++) FA_AT(T, o, i, st[5]) = oc[i];
    }
    free(buf);
}

static void FA_S(fa_vjp_part_task)(void *vctx, intptr_t task) {
    FA_S(fa_vjp_ctx) *c = (FA_S(fa_vjp_ctx) *)vctx;
    const intptr_t r = task / c->nchunks, k = task % c->nchunks;
    const intptr_t i0 = k * FA_ROW_CHUNK;
    const intptr_t len = c->n - i0 < FA_ROW_CHUNK ? c->n - i0 : FA_ROW_CHUNK;
    FA_S(fa_vjp_chunk_part)(c->kind % 3, (const T *)(c->args[0] + r * c->steps[0]) + i0,
                            (const T *)(c->args[1] + r * c->steps[1]) + i0, len,
                            &c->parts[task]);
}

static void FA_S(fa_vjp_write_task)(void *vctx, intptr_t task) {
    FA_S(fa_vjp_ctx) *c = (FA_S(fa_vjp_ctx) *)vctx;
    const intptr_t r = task / c->nchunks, k = task % c->nchunks;
    const intptr_t i0 = k * FA_ROW_CHUNK;
    const intptr_t len = c->n - i0 < FA_ROW_CHUNK ? c->n - i0 : FA_ROW_CHUNK;
    const double *row = c->row + 4 * r;
    const int base = c->kind % 3;
    const T *g = (const T *)(c->args[0] + r * c->steps[0]);
    const T *y = (const T *)(c->args[1] + r * c->steps[1]);
    T *o = (T *)(c->args[2] + r * c->steps[2]);
    const intptr_t kk = (intptr_t)row[2];
    /* the dominant entry's inputs, read before this chunk overwrites them (in place) */
    const int has_k = kk >= i0 && kk < i0 + len;
    const T gk = has_k ? g[kk] : (T)0, yk = has_k ? y[kk] : (T)0;
    FA_S(fa_vjp_chunk_write)(base, g + i0, y + i0, o + i0, len, (T)row[0]);
    if (has_k) {
        const T sg = base == 2 ? (T)-1 : (T)1;
        const double pk = base == 1 ? (double)FA_EXP(yk) : 1.0;
        const double inner = (double)gk * row[3] - pk * row[1];
        o[kk] = base == 1 ? (T)inner : sg * (yk * (T)inner);
    }
}

/* Vector-Jacobian products, (n),(n)->(n): kind 0/1/2 from y, 3/4/5 from x (softmax,
 * log_softmax, softmin). */
static void FA_S(fa_vjp_loop)(char **args, const intptr_t *dims, const intptr_t *steps,
                              void *data) {
    const int kind = (int)(intptr_t)data;
    const intptr_t N = dims[0], n = dims[1];
    const intptr_t es = (intptr_t)sizeof(T);
    fenv_t env;
    if (N <= 0 || n <= 0) return;
    feholdexcept(&env);
    FA_S(fa_vjp_ctx) c = {args, steps, N, n, 1, kind, FA_LAYOUT_OTHER, 0, NULL, NULL};
    const int threads = fa_rows_threads(N * n);
    if (steps[3] == es && steps[4] == es && steps[5] == es) {
        /* From x, float64 rows from 32 elements: the per-row path's SIMD sums beat
         * the batch's scalar Sum2 loops ((15873, 63) 6.1 against 6.7-7.2 ns per
         * element, 1 thread); float32 gains at every n < 64 (4.9 -> 3.2 at 63). */
        if ((kind < 3 || n * es < FA_SHORT * 4) && n < FA_SHORT && steps[0] == n * es &&
            steps[1] == n * es &&
            steps[2] == n * es)
            c.layout = FA_LAYOUT_SHORT;
        else
            c.layout = (kind < 3 && n * es > FA_ROW_CACHE_BYTES) ? FA_LAYOUT_LONG : FA_LAYOUT_ROWS;
    } else if (steps[0] == es && steps[1] == es && steps[2] == es && n > 1 &&
               steps[5] >= N * es) {
        c.layout = FA_LAYOUT_COLUMNS;
    }
    if (c.layout == FA_LAYOUT_LONG) {
        c.nchunks = (n + FA_ROW_CHUNK - 1) / FA_ROW_CHUNK;
        c.parts = (FA_S(fa_vjp_part) *)malloc((size_t)(N * c.nchunks) * sizeof(*c.parts));
        c.row = (double *)malloc((size_t)(4 * N) * sizeof(double));
        if (c.parts == NULL || c.row == NULL) {
            fa_note_alloc_failure();
            for (intptr_t r = 0; r < N; r++)
                for (intptr_t i = 0; i < n; i++) FA_AT(T, args[2] + r * steps[2], i, steps[5]) = (T)NAN;
        } else {
            fa_parallel_for(N * c.nchunks, threads, FA_S(fa_vjp_part_task), &c);
            const int base = kind % 3;
            for (intptr_t r = 0; r < N; r++) {
                const FA_S(fa_vjp_part) *p = c.parts + r * c.nchunks;
                intptr_t cstar = 0, q;
                for (q = 1; q < c.nchunks; q++)
                    if (p[q].m > p[cstar].m) cstar = q;
                double s = 0, comp = 0;
                for (q = 0; q < c.nchunks; q++) {
                    FA_SUM2(s, comp, p[q].s);
                    if (q != cstar) FA_SUM2(s, comp, p[q].wk);
                }
                const double sp = s + comp;
                const intptr_t kk = cstar * FA_ROW_CHUNK + p[cstar].first;
                const T yk = ((const T *)(args[1] + r * steps[1]))[kk];
                c.row[4 * r] = (double)(T)(sp + p[cstar].wk);
                c.row[4 * r + 1] = sp;
                c.row[4 * r + 2] = (double)kk;
                c.row[4 * r + 3] = base == 1 ? -(double)FA_EXPM1(yk) : 1.0 - (double)yk;
            }
            fa_parallel_for(N * c.nchunks, threads, FA_S(fa_vjp_write_task), &c);
        }
        free(c.parts);
        free(c.row);
        fesetenv(&env);
        return;
    }
    c.rows_per_task = FA_TASK_ELEMENTS / n > 0 ? FA_TASK_ELEMENTS / n : 1;
    const intptr_t tasks = c.layout == FA_LAYOUT_COLUMNS ? (N + FA_ROWS_BLOCK - 1) / FA_ROWS_BLOCK
                                                         : (N + c.rows_per_task - 1) / c.rows_per_task;
    fa_parallel_for(tasks, threads, FA_S(fa_vjp_task), &c);
    fesetenv(&env);
}

/* ------------------------------------------------------------------ Jacobians */

/* (n)->(n,n): J[i][j] = d y_i / d x_j. kind 0 softmax, 1 log_softmax, 2 softmin.
 * c_i = 1 - y_i without cancellation: (total - e_i)/total, rest/total at the first
 * maximum. e: scratch of n. */
static void FA_S(fa_jacobian_row)(int kind, const char *x, intptr_t sx, char *J, intptr_t si,
                                  intptr_t sj, intptr_t n, T *e) {
    const T sgn = kind == 2 ? (T)-1 : (T)1;
    intptr_t first, i, j;
    double rest_d;
    for (i = 0; i < n; i++) e[i] = FA_AT(T, x, i, sx);
    /* e = exp(sgn x - m) unnormalised: the forward row, then times total */
    FA_S(fa_softmax_row)(e, e, n, sgn, 0, &rest_d, &first);
    const T rest = (T)rest_d;
    const T total = (T)(1.0 + rest_d);
    for (i = 0; i < n; i++) {
        const T yi = e[i];
        const T ci = i == first ? rest / total : (T)1 - yi;
        char *Ji = J + i * si;
        for (j = 0; j < n; j++) {
            const T yj = e[j];
            T v;
            if (kind == 1) v = i == j ? ci : -yj;
            else v = i == j ? yi * ci : -(yi * yj);
            FA_AT(T, Ji, j, sj) = kind == 2 ? -v : v;
        }
    }
}

static void FA_S(fa_jacobian_loop)(char **args, const intptr_t *dims, const intptr_t *steps,
                                   void *data) {
    const int kind = (int)(intptr_t)data;
    const intptr_t N = dims[0], n = dims[1];
    fenv_t env;
    if (N <= 0 || n <= 0) return;
    feholdexcept(&env);
    T *e = (T *)malloc((size_t)n * sizeof(T));
    if (e == NULL) fa_note_alloc_failure();
    for (intptr_t row = 0; row < N; row++) {
        if (e != NULL)
            FA_S(fa_jacobian_row)(kind, args[0] + row * steps[0], steps[2], args[1] + row * steps[1],
                                  steps[3], steps[4], n, e);
        else /* no scratch: NaN, never an unwritten result */
            for (intptr_t i = 0; i < n; i++)
                for (intptr_t j = 0; j < n; j++)
                    FA_AT(T, args[1] + row * steps[1] + i * steps[3], j, steps[4]) = (T)NAN;
    }
    free(e);
    fesetenv(&env);
}

/* ------------------------------------------------------------------------ glu */

/* glu: x = [a, b] along the axis (m = n/2 each); elementwise over the halves.
 * Passes: forward reads x once and writes half (0.75 copies); backward from x reads
 * g (half) and x once and writes out once (1.25 copies). */
FA_KERNEL void FA_S(fa_glu_forward_row)(const char *x, intptr_t sx, char *y, intptr_t sy,
                                        intptr_t m) {
    const intptr_t es = (intptr_t)sizeof(T);
    if (sx == es && sy == es) {
        const T *a = (const T *)x, *b = a + m;
        T *o = (T *)y;
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < m; i++) o[i] = FA_S(fa_glu_value)(a[i], b[i]);
        return;
    }
    for (intptr_t i = 0; i < m; i++)
        FA_AT(T, y, i, sy) = FA_S(fa_glu_value)(FA_AT(T, x, i, sx), FA_AT(T, x, i + m, sx));
}

FA_KERNEL void FA_S(fa_glu_backward_row)(const char *g, intptr_t sg, const char *x,
                                         intptr_t sx, char *o, intptr_t so, intptr_t m) {
    const intptr_t es = (intptr_t)sizeof(T);
    if (sg == es && sx == es && so == es) {
        const T *gs = (const T *)g, *a = (const T *)x, *b = a + m;
        T *oa = (T *)o, *ob = oa + m;
        FA_SIMD_LOOP
        for (intptr_t i = 0; i < m; i++) {
            const T gi = gs[i], ai = a[i], bi = b[i];
            const T da = gi * FA_S(fa_sigmoid)(bi), db = gi * FA_S(fa_glu_db)(ai, bi);
            oa[i] = da;
            ob[i] = db;
        }
        return;
    }
    for (intptr_t i = 0; i < m; i++) {
        const T gi = FA_AT(T, g, i, sg);
        const T a = FA_AT(T, x, i, sx), b = FA_AT(T, x, i + m, sx);
        const T da = gi * FA_S(fa_sigmoid)(b), db = gi * FA_S(fa_glu_db)(a, b);
        FA_AT(T, o, i, so) = da;
        FA_AT(T, o, i + m, so) = db;
    }
}

/* Many rows at once: rows adjacent in memory (columns: row r at +r*sizeof(T), each
 * strided; SIMD across rows), or short contiguous rows gathered into stack buffers
 * (SIMD across the batch). kind 0 forward, 2 backward; rows [r0, r1). */
FA_KERNEL void FA_S(fa_glu_columns)(int kind, char **args, const intptr_t *dims,
                                    const intptr_t *st, intptr_t r0, intptr_t r1) {
    const intptr_t es = (intptr_t)sizeof(T), R = r1 - r0;
    if (kind == 0) {
        const intptr_t m = dims[2];
        for (intptr_t i = 0; i < m; i++) {
            const T *a = (const T *)(args[0] + i * st[2]) + r0;
            const T *b = (const T *)(args[0] + (i + m) * st[2]) + r0;
            T *y = (T *)(args[1] + i * st[3]) + r0;
            FA_SIMD_LOOP
            for (intptr_t r = 0; r < R; r++) y[r] = FA_S(fa_glu_value)(a[r], b[r]);
        }
        return;
    }
    const intptr_t m = dims[1];
    (void)es;
    for (intptr_t i = 0; i < m; i++) {
        const T *gg = (const T *)(args[0] + i * st[3]) + r0;
        const T *a = (const T *)(args[1] + i * st[4]) + r0;
        const T *b = (const T *)(args[1] + (i + m) * st[4]) + r0;
        T *oa = (T *)(args[2] + i * st[5]) + r0, *ob = (T *)(args[2] + (i + m) * st[5]) + r0;
        FA_SIMD_LOOP
        for (intptr_t r = 0; r < R; r++) {
            const T gi = gg[r], ai = a[r], bi = b[r];
            const T da = gi * FA_S(fa_sigmoid)(bi), db = gi * FA_S(fa_glu_db)(ai, bi);
            oa[r] = da;
            ob[r] = db;
        }
    }
}

FA_KERNEL void FA_S(fa_glu_short)(int kind, char **args, const intptr_t *dims,
                                  const intptr_t *st, intptr_t r0, intptr_t r1) {
    T A[FA_SHORT_BATCH], B[FA_SHORT_BATCH], G[FA_SHORT_BATCH];
    const intptr_t m = kind == 0 ? dims[2] : dims[1];
    const intptr_t per = FA_SHORT_BATCH / m;
    for (intptr_t q = r0; q < r1; q += per) {
        const intptr_t R = r1 - q < per ? r1 - q : per, K = R * m;
        for (intptr_t r = 0; r < R; r++) {
            const T *x = (const T *)(args[kind == 0 ? 0 : 1] + (q + r) * st[kind == 0 ? 0 : 1]);
            for (intptr_t i = 0; i < m; i++) {
                A[r * m + i] = x[i];
                B[r * m + i] = x[i + m];
            }
            if (kind != 0) {
                const T *gr = (const T *)(args[0] + (q + r) * st[0]);
                for (intptr_t i = 0; i < m; i++) G[r * m + i] = gr[i];
            }
        }
        if (kind == 0) {
            FA_SIMD_LOOP
            for (intptr_t k = 0; k < K; k++) A[k] = FA_S(fa_glu_value)(A[k], B[k]);
            for (intptr_t r = 0; r < R; r++) {
                T *y = (T *)(args[1] + (q + r) * st[1]);
                for (intptr_t i = 0; i < m; i++) y[i] = A[r * m + i];
            }
        } else {
            FA_SIMD_LOOP
            for (intptr_t k = 0; k < K; k++) {
                const T gi = G[k], ai = A[k], bi = B[k];
                const T da = gi * FA_S(fa_sigmoid)(bi), db = gi * FA_S(fa_glu_db)(ai, bi);
                A[k] = da;
                B[k] = db;
            }
            for (intptr_t r = 0; r < R; r++) {
                T *o = (T *)(args[2] + (q + r) * st[2]);
                for (intptr_t i = 0; i < m; i++) {
                    o[i] = A[r * m + i];
                    o[i + m] = B[r * m + i];
                }
            }
        }
    }
}

typedef struct {
    char **args;
    const intptr_t *dims, *steps;
    intptr_t rows_per_task;
    int kind, layout;
} FA_S(fa_glu_ctx);

static void FA_S(fa_glu_task)(void *vctx, intptr_t task) {
    FA_S(fa_glu_ctx) *c = (FA_S(fa_glu_ctx) *)vctx;
    const intptr_t *st = c->steps, N = c->dims[0];
    const intptr_t r0 = task * c->rows_per_task;
    const intptr_t r1 = r0 + c->rows_per_task < N ? r0 + c->rows_per_task : N;
    if (c->layout == FA_LAYOUT_COLUMNS) {
        FA_S(fa_glu_columns)(c->kind, c->args, c->dims, st, r0, r1);
        return;
    }
    if (c->layout == FA_LAYOUT_SHORT) {
        FA_S(fa_glu_short)(c->kind, c->args, c->dims, st, r0, r1);
        return;
    }
    for (intptr_t r = r0; r < r1; r++) {
        if (c->kind == 0) /* dims: N, n, m; steps: so_x, so_y, sx, sy */
            FA_S(fa_glu_forward_row)(c->args[0] + r * st[0], st[2], c->args[1] + r * st[1], st[3],
                                     c->dims[2]);
        else /* dims: N, m, n; steps: so_g, so_x, so_o, sg, sx, so */
            FA_S(fa_glu_backward_row)(c->args[0] + r * st[0], st[3], c->args[1] + r * st[1],
                                      st[4], c->args[2] + r * st[2], st[5], c->dims[1]);
    }
}

/* data: 0 forward (n)->(m), 1 Jacobian (n)->(m,n), 2 backward from x (m),(n)->(n). */
static void FA_S(fa_glu_loop)(char **args, const intptr_t *dims, const intptr_t *steps,
                              void *data) {
    const int kind = (int)(intptr_t)data;
    const intptr_t N = dims[0];
    fenv_t env;
    if (N <= 0) return;
    feholdexcept(&env);
    if (kind == 1) { /* dims: N, n, m; steps: so_x, so_J, sx, sJ_m, sJ_n */
        const intptr_t n = dims[1], m = dims[2];
        for (intptr_t row = 0; row < N; row++) {
            const char *x = args[0] + row * steps[0];
            char *J = args[1] + row * steps[1];
            for (intptr_t i = 0; i < m; i++) {
                const T a = FA_AT(T, x, i, steps[2]), b = FA_AT(T, x, i + m, steps[2]);
                for (intptr_t j = 0; j < n; j++) FA_AT(T, J + i * steps[3], j, steps[4]) = 0;
                FA_AT(T, J + i * steps[3], i, steps[4]) = FA_S(fa_sigmoid)(b);
                FA_AT(T, J + i * steps[3], i + m, steps[4]) = FA_S(fa_glu_db)(a, b);
            }
        }
    } else if ((kind == 0 ? dims[2] : dims[1]) > 0) { /* halves of length 0: nothing */
        const intptr_t m = kind == 0 ? dims[2] : dims[1];
        const intptr_t es = (intptr_t)sizeof(T);
        FA_S(fa_glu_ctx) c = {args, dims, steps, 1, kind, FA_LAYOUT_ROWS};
        c.rows_per_task = FA_TASK_ELEMENTS / m > 0 ? FA_TASK_ELEMENTS / m : 1;
        if (kind == 0) { /* steps: so_x, so_y, sx, sy */
            if (steps[0] == es && steps[1] == es && m > 0 && steps[3] >= N * es)
                c.layout = FA_LAYOUT_COLUMNS;
            else if (steps[2] == es && steps[3] == es && m < FA_SHORT)
                c.layout = FA_LAYOUT_SHORT;
        } else { /* steps: so_g, so_x, so_o, sg, sx, so */
            if (steps[0] == es && steps[1] == es && steps[2] == es && m > 0 &&
                steps[5] >= N * es && steps[3] >= N * es)
                c.layout = FA_LAYOUT_COLUMNS;
            else if (steps[3] == es && steps[4] == es && steps[5] == es && m < FA_SHORT)
                c.layout = FA_LAYOUT_SHORT;
        }
        if (c.layout == FA_LAYOUT_COLUMNS) /* whole rows of FA_TASK_ELEMENTS / m rows */
            c.rows_per_task = c.rows_per_task < FA_ROWS_BLOCK ? FA_ROWS_BLOCK : c.rows_per_task;
        fa_parallel_for((N + c.rows_per_task - 1) / c.rows_per_task, fa_rows_threads(N * m),
                        FA_S(fa_glu_task), &c);
    }
    fesetenv(&env);
}

#undef T
