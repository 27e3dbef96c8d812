/* A loop driver for an operand that repeats with a period (hand-written): the fused
 * bias of a layer, act(x + b) with b of x's trailing shape (fastact/_bias.py).
 *
 * fa_ufunc_loop (fa_driver.h) is a NumPy ufunc inner loop: with a (features,) bias
 * on (batch, features) data NumPy calls it once per row, on one thread, with a
 * partial block per row; as flat pieces with a bias tile of the piece's length, the
 * pool sees one short call per piece, which its adaptive policy runs on the caller
 * alone on this VM (fastact/_bias.py, FUSED_PIECE). Here one call covers the whole
 * array: chunks of whole periods (about FA_PERIODIC_CHUNK elements), each computed by
 * fa_run_blocks with the bias operand pointing at one shared tile of a chunk's length
 * (in L2: 256 KiB of float32), one fa_parallel_for over all of them. Every element
 * runs through the same block code as in fa_ufunc_loop, so the results are those of
 * the ufunc bit for bit, whatever the thread count.
 *
 * The bias gradient, when asked for: each chunk sums its piece of the output (grad_x,
 * still in cache) into accumulators of its own (fa_add_rows_*: row by row in float64,
 * compensated for float64), and the chunks' sums are then added in chunk order (a
 * two-sum for float64): the order depends only on n and the period, so the result
 * does not depend on the thread count (and with one chunk it is the compiled fast
 * path's, _fastcall._execute_bias, bit for bit). */
#ifndef FA_PERIODIC_H
#define FA_PERIODIC_H

#include <math.h>
#include <stdlib.h>

#include "fa_bias.h"
#include "fa_driver.h"

/* Elements per chunk, at most (whole periods; one period when it is longer): the
 * pool's FA_CHUNK_MAX_BLOCKS, ~20-30 us of relu. */
#define FA_PERIODIC_CHUNK 65536

typedef struct {
    const fa_loop *L;
    char *args[FA_MAX_ARGS];
    intptr_t steps[FA_MAX_ARGS];
    int bias_arg;       /* the operand that repeats (-1: none, the y-path's gradient) */
    const char *tile;   /* that operand repeated to chunk_len elements */
    intptr_t n, chunk_len, period;
    int scalar;
    const void *values;
    int sum_arg;        /* the output whose rows are summed (-1: none) */
    double *acc, *comp; /* per chunk: period accumulators each */
} fa_periodic_job;

static void fa_periodic_chunk(void *ctx, intptr_t chunk) {
    const fa_periodic_job *j = (const fa_periodic_job *)ctx;
    const fa_loop *L = j->L;
    const int nargs = L->nin + L->nparams + L->nout;
    const intptr_t start = chunk * j->chunk_len;
    const intptr_t count = j->n - start < j->chunk_len ? j->n - start : j->chunk_len;
    char *args[FA_MAX_ARGS];
    for (int k = 0; k < nargs; k++) args[k] = j->args[k] + start * j->steps[k];
    if (j->bias_arg >= 0) args[j->bias_arg] = (char *)j->tile;
    fa_run_blocks(L, args, j->steps, count, 0, (count + FA_BLOCK - 1) / FA_BLOCK, j->scalar,
                  j->values);
    if (j->sum_arg >= 0) {
        /* The chunk's rows of the output, still in L2; ~0.2 ns/element here
         * (measured at 1e5-1e7 float32 with a 1000-element bias, one thread), about
         * a pass through memory: the price of a float64 sum. Summing sub-pieces of
         * 16K elements right after each was computed measured no faster. */
        double *acc = j->acc + chunk * j->period;
        if (L->esize == 4) {
            fa_add_rows_f32((const float *)args[j->sum_arg], count / j->period, j->period, acc);
        } else {
            fa_add_rows_f64((const double *)args[j->sum_arg], count / j->period, j->period, acc,
                            j->comp + chunk * j->period);
        }
    }
}

/* The loop L over n elements (args and steps as a ufunc loop's; contiguous operands;
 * parameters, if any, as the scalar values `values`), operand bias_arg repeating with
 * `period` elements taken from `bias`; with sum_arg >= 0, `sums` (period elements of
 * L's dtype) receives the sum of that output's rows (fa_store_sums). Returns 0, or -1
 * when memory for the tile or the accumulators is lacking (nothing written). */
static int fa_periodic_run(const fa_loop *L, char *const *args, const intptr_t *steps,
                           intptr_t n, intptr_t period, int bias_arg, const char *bias,
                           const void *values, int sum_arg, void *sums) {
    fa_periodic_job job;
    const int nargs = L->nin + L->nparams + L->nout;
    const int esize = L->esize;
    intptr_t per = FA_PERIODIC_CHUNK / period;
    if (per < 1) per = 1;
    job.L = L;
    for (int k = 0; k < nargs; k++) {
        job.args[k] = args[k];
        job.steps[k] = steps[k];
    }
    job.n = n;
    job.period = period;
    job.chunk_len = per * period;
    job.bias_arg = bias_arg;
    job.scalar = 1;
    job.values = values;
    job.sum_arg = sum_arg;
    const intptr_t nchunks = (n + job.chunk_len - 1) / job.chunk_len;
    char *tile = NULL;
    job.tile = bias;
    if (bias_arg >= 0 && per > 1) {
        tile = (char *)malloc((size_t)(job.chunk_len * esize));
        if (tile == NULL) return -1;
        fa_fill_tile(tile, bias, period * esize, job.chunk_len * esize);
        job.tile = tile;
    }
    job.acc = job.comp = NULL;
    if (sum_arg >= 0) {
        const size_t bytes = (size_t)(nchunks * period) * sizeof(double);
        job.acc = (double *)malloc(bytes);
        job.comp = (double *)malloc(bytes);
        if (job.acc == NULL || job.comp == NULL) {
            free(tile);
            free(job.acc);
            free(job.comp);
            return -1;
        }
        /* Zeroed here, by the caller, not left to calloc's fresh pages: the workers
         * would otherwise take their page faults together (2.4 MB for 1e7 float32
         * with a 1000-element bias; 2 threads: 10.3 ms with calloc against 5.1 ms
         * for the loop alone, measured). */
        memset(job.acc, 0, bytes);
        memset(job.comp, 0, bytes);
    }
    fa_fp_state fp;
    fa_fp_hold(&fp);
    const int threads = n >= fa_parallel_min ? fa_num_threads : 1;
    fa_parallel_for(nchunks, threads, fa_periodic_chunk, &job); /* chunks cannot fail */
    if (sum_arg >= 0) {
        /* The chunks' sums in chunk order, into chunk 0's accumulators: a two-sum;
         * chunk by chunk, so that the accumulators are read in order (column by
         * column, one cache miss per element: +3 ms at 1e7 float32 with a
         * 1000-element bias). */
        double *total = job.acc, *total_comp = job.comp;
        for (intptr_t c = 1; c < nchunks; c++) {
            const double *acc = job.acc + c * period, *comp = job.comp + c * period;
            for (intptr_t j = 0; j < period; j++) {
                const double s = total[j], a = acc[j], t = s + a, bb = t - s;
                total_comp[j] += (s - (t - bb)) + (a - bb) + comp[j];
                total[j] = t;
            }
        }
        fa_store_sums(total, total_comp, period, sums, esize);
    }
    fa_fp_restore(&fp);
    free(tile);
    free(job.acc);
    free(job.comp);
    return 0;
}

#endif /* FA_PERIODIC_H */
