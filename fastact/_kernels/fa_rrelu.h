/* rrelu in training mode (hand-written): prelu's block functions fed with a slope
 * per element, slope_i = lower + (upper - lower) * u_i, u_i the rrelu hash of the
 * element's C-order index i (fa_hash.h).
 *
 * A ufunc cannot do this (NumPy iterates in memory order, not C order), so this
 * walker visits the elements in C order itself, for any shape and strides, in
 * blocks of FA_BLOCK: gather, compute the slopes, run the block function, scatter.
 * Threads take contiguous ranges of blocks (each starts from its unravelled
 * index), so the result does not depend on the thread count.
 */
#ifndef FA_RRELU_H
#define FA_RRELU_H

#include "fa_driver.h"
#include "fa_hash.h"

#define FA_MAX_DIMS 32

/* Slots of `args`: the kernel's inputs, the weight slot (filled here, args[nin] is
 * unused), the outputs. `strides[slot]` are the byte strides of each array. */
static void fa_rrelu_blocks(const fa_loop *L, int ndim, const intptr_t *shape,
                            char *const *args, const intptr_t *const *strides,
                            uint64_t key, double lower, double upper, intptr_t n,
                            intptr_t b0, intptr_t b1) {
    _Alignas(64) char buffers[FA_MAX_ARGS][FA_BLOCK * 8];
    intptr_t offsets[FA_MAX_ARGS][FA_BLOCK];
    intptr_t idx[FA_MAX_DIMS], off[FA_MAX_ARGS];
    char *ptrs[FA_MAX_ARGS];
    const int nargs = L->nin + L->nparams + L->nout, esize = L->esize;
    const int weight = L->nin, first_out = L->nin + L->nparams;
    int k, d;
    intptr_t rest = b0 * FA_BLOCK;

    for (k = 0; k < nargs; k++) {
        ptrs[k] = buffers[k];
        off[k] = 0;
    }
    for (d = ndim - 1; d >= 0; d--) { /* unravel the first index in C order */
        idx[d] = rest % shape[d];
        rest /= shape[d];
        for (k = 0; k < nargs; k++) {
            if (k != weight) off[k] += idx[d] * strides[k][d];
        }
    }
    for (intptr_t b = b0; b < b1; b++) {
        const intptr_t i0 = b * FA_BLOCK;
        const intptr_t count = n - i0 < FA_BLOCK ? n - i0 : FA_BLOCK;
        for (intptr_t e = 0; e < FA_BLOCK; e++) {
            if (e >= count) { /* pad the last block */
                for (k = 0; k < first_out; k++) memset(buffers[k] + e * esize, 0, esize);
                continue;
            }
            const double slope = lower + (upper - lower) * fastact_rrelu_u(key, (uint64_t)(i0 + e));
            if (esize == 4) {
                const float s32 = (float)slope;
                memcpy(buffers[weight] + 4 * e, &s32, 4);
            } else {
                memcpy(buffers[weight] + 8 * e, &slope, 8);
            }
            for (k = 0; k < nargs; k++) {
                if (k == weight) continue;
                if (k < first_out) memcpy(buffers[k] + e * esize, args[k] + off[k], esize);
                else offsets[k][e] = off[k];
            }
            for (d = ndim - 1; d >= 0; d--) { /* next index in C order */
                idx[d]++;
                for (k = 0; k < nargs; k++) {
                    if (k != weight) off[k] += strides[k][d];
                }
                if (idx[d] < shape[d] || d == 0) break;
                for (k = 0; k < nargs; k++) {
                    if (k != weight) off[k] -= shape[d] * strides[k][d];
                }
                idx[d] = 0;
            }
        }
        L->array_params(ptrs, NULL, FA_BLOCK);
        for (k = first_out; k < nargs; k++) {
            for (intptr_t e = 0; e < count; e++) {
                memcpy(args[k] + offsets[k][e], buffers[k] + e * esize, esize);
            }
        }
    }
}

typedef struct {
    const fa_loop *L;
    int ndim;
    const intptr_t *shape;
    char **args;
    const intptr_t *const *strides;
    uint64_t key;
    double lower, upper;
    intptr_t n, nblocks, blocks_per_chunk;
} fa_rrelu_job;

static void fa_rrelu_chunk(void *ctx, intptr_t chunk) {
    const fa_rrelu_job *j = (const fa_rrelu_job *)ctx;
    const intptr_t b0 = chunk * j->blocks_per_chunk;
    const intptr_t b1 = b0 + j->blocks_per_chunk < j->nblocks ? b0 + j->blocks_per_chunk : j->nblocks;
    fa_rrelu_blocks(j->L, j->ndim, j->shape, j->args, j->strides, j->key, j->lower, j->upper,
                    j->n, b0, b1);
}

static int fa_rrelu_training(const fa_loop *L, int ndim, const intptr_t *shape,
                             char **args, const intptr_t *const *strides, uint64_t key,
                             double lower, double upper) {
    intptr_t n = 1;
    fenv_t env;
    if (ndim > FA_MAX_DIMS || L->nin + L->nparams + L->nout > FA_MAX_ARGS) return -1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    if (n <= 0) return 0;
    const intptr_t nblocks = (n + FA_BLOCK - 1) / FA_BLOCK;
    const int threads = (n >= fa_parallel_min) ? fa_num_threads : 1;
    feholdexcept(&env);
    if (threads > 1 && nblocks > FA_CHUNK_MIN_BLOCKS) {
        /* fastact's pool (fa_pool.h); each chunk walks to its first element itself. */
        fa_rrelu_job job = {L, ndim, shape, args, strides, key, lower, upper,
                            n, nblocks, fa_blocks_per_chunk(nblocks, threads)};
        const intptr_t nchunks = (nblocks + job.blocks_per_chunk - 1) / job.blocks_per_chunk;
        fa_parallel_for(nchunks, threads, fa_rrelu_chunk, &job);
    } else {
        fa_rrelu_blocks(L, ndim, shape, args, strides, key, lower, upper, n, 0, nblocks);
    }
    fesetenv(&env);
    return 0;
}

#endif /* FA_RRELU_H */
