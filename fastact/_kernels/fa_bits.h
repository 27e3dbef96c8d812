/* The bit-level primitives of fastact/_mathlib.py, in C (hand-written; numba's are in
 * fastact/_kernels/numba_math.py, with the same integer steps).
 *
 * Each is a few integer instructions on the bit pattern (memcpy is a register move
 * once gcc has inlined it), so gcc vectorises them with the math around them in every
 * target_clones variant: no float<->int64 conversion (AVX2 has none for packed
 * doubles), no call, no floating-point flag.  See fastact/_primitives.py for what
 * each one means.
 */
#ifndef FA_BITS_H
#define FA_BITS_H

#include <stdint.h>
#include <string.h>

/* Every generated math and formula function is inlined into the block loops: gcc
 * otherwise keeps exp (~40 instructions) out of line, compiled once for the baseline
 * ISA and called per element from the AVX-512 clone (measured: celu, elu, selu). */
#if defined(__GNUC__)
#define FA_INLINE static inline __attribute__((always_inline))
#else
#define FA_INLINE static inline
#endif

FA_INLINE uint32_t fa_u32(float x) { uint32_t i; memcpy(&i, &x, 4); return i; }
FA_INLINE float fa_f32(uint32_t i) { float x; memcpy(&x, &i, 4); return x; }
FA_INLINE uint64_t fa_u64(double x) { uint64_t i; memcpy(&i, &x, 8); return i; }
FA_INLINE double fa_f64(uint64_t i) { double x; memcpy(&x, &i, 8); return x; }

/* 2**k for integer-valued k in [-126, 127] / [-1022, 1023]: k + 1.5*2**p puts k in
 * the low bits of the significand (exact for |k| < 2**22), then into the exponent. */
FA_INLINE float fa_pow2_f32(float k) {
    return fa_f32((fa_u32(k + 12582912.0f) - 0x4B400000u + 127u) << 23);
}
FA_INLINE double fa_pow2_f64(double k) {
    return fa_f64((fa_u64(k + 6755399441055744.0) - 0x4338000000000000ull + 1023u) << 52);
}

/* x = 2**k m with sqrt(2)/2 <= m < sqrt(2) for positive normal finite x (fdlibm's
 * split); other inputs give finite garbage that the callers do not select. */
#define FA_SPLIT32 (0x3F800000u - 0x3F3504F3u)
#define FA_SPLIT64 (0x3FF0000000000000ull - 0x3FE6A09E00000000ull)
FA_INLINE float fa_frexp_exp_f32(float x) {
    return (float)((int32_t)((fa_u32(x) + FA_SPLIT32) >> 23) - 127);
}
FA_INLINE float fa_frexp_mant_f32(float x) {
    return fa_f32(((fa_u32(x) + FA_SPLIT32) & 0x007FFFFFu) + 0x3F3504F3u);
}
/* the biased exponent e in [0, 4095] as a double through 1.5*2**52 + e (exact) */
FA_INLINE double fa_frexp_exp_f64(double x) {
    return fa_f64(((fa_u64(x) + FA_SPLIT64) >> 52) + 0x4338000000000000ull) -
           (6755399441055744.0 + 1023.0);
}
FA_INLINE double fa_frexp_mant_f64(double x) {
    return fa_f64(((fa_u64(x) + FA_SPLIT64) & 0x000FFFFFFFFFFFFFull) + 0x3FE6A09E00000000ull);
}

/* x with the low half of the significand cleared: chop(x)**2 is exact */
FA_INLINE float fa_chop_f32(float x) { return fa_f32(fa_u32(x) & 0xFFFFF000u); }
FA_INLINE double fa_chop_f64(double x) {
    return fa_f64(fa_u64(x) & 0xFFFFFFFF00000000ull);
}

#endif /* FA_BITS_H */
