/* rrelu's counter-based hash (hand-written), shared by every compiled module.
 *
 *   key = mix64(seed); z_i = mix64(key + (i + 1) * GOLDEN mod 2**64);
 *   u_i = (z_i >> 11) * 2**-53    (float64 in [0, 1), 53 random bits)
 *
 * SplitMix64's output function over a Weyl sequence: u_i depends only on the seed
 * and the element's C-order index i, so every backend and thread split agrees.
 * The NumPy twin is fastact._reference.rrelu_uniform; a test compares them bit for
 * bit. */
#ifndef FA_HASH_H
#define FA_HASH_H

#include <stdint.h>

#define FASTACT_GOLDEN UINT64_C(0x9E3779B97F4A7C15)

static inline uint64_t fastact_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* u_i for key = mix64(seed); i wraps modulo 2**64 like the definition. */
static inline double fastact_rrelu_u(uint64_t key, uint64_t i) {
    uint64_t z = fastact_mix64(key + (i + UINT64_C(1)) * FASTACT_GOLDEN);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0); /* 2**-53, exact */
}

#endif /* FA_HASH_H */
