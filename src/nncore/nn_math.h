/* nn_math.h: exp(x) for x <= 0, and a finiteness test, written so that compilers vectorise
 * loops that call them.
 *
 * glibc's exp is an opaque scalar call: without -ffast-math a loop calling it stays scalar
 * (about 5 ns a call). This is straight-line arithmetic with no branch and no table, so a loop
 * over it becomes SIMD code at -O2/-O3 on every instruction-set level.
 *
 * Method: x = k*ln2 + r with |r| <= ln2/2 (k = round(x/ln2), ln2 split in two so k*ln2_hi is
 * exact); exp(r) by its Taylor polynomial (degree 13 for double, 7 for float: truncation below
 * 1e-17 resp. 6e-9 relative) in Estrin's scheme; 2^k built in the exponent bits, as two
 * factors so that results down to the smallest subnormal come out right. Error: at most a few
 * ulp over [-745, 0] (tested against numpy). Below -745 (-104 in float) the result is 0, as exp's is; NaN gives NaN.
 * The sigmoid and the losses only ever need exp of a non-positive number.
 */
#ifndef NN_MATH_H
#define NN_MATH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

/* Inlined wherever called: a call would cost the per-sample path more than the arithmetic, and
 * in a loop it would keep the compiler from vectorising. */
#if defined(__GNUC__)
#define NN_INLINE static inline __attribute__((always_inline))
#else
#define NN_INLINE static inline
#endif

NN_INLINE double nn_exp_neg(double x)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;   /* 32 significant bits: k*ln2_hi exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 6755399441055744.0;          /* 1.5 * 2^52: t + shifter rounds t */
    const uint64_t shifter_bits = 0x4338000000000000ULL;
    x = x < -746.0 ? -746.0 : x;
    double t = x * log2e + shifter;                     /* the integer k sits in t's low bits */
    double k = t - shifter;
    double r = (x - k * ln2_hi) - k * ln2_lo;
    /* exp(r) = sum r^i / i!, i = 0..13, in Estrin's scheme: the same work as Horner's but a
     * dependency chain of 4 multiply-adds instead of 13, which is what a sample-by-sample
     * training step waits on. */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double a0 = 1.0 + r;
    double a1 = 1.0 / 2 + r * (1.0 / 6);
    double a2 = 1.0 / 24 + r * (1.0 / 120);
    double a3 = 1.0 / 720 + r * (1.0 / 5040);
    double a4 = 1.0 / 40320 + r * (1.0 / 362880);
    double a5 = 1.0 / 3628800 + r * (1.0 / 39916800);
    double a6 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    double b0 = a0 + r2 * a1, b1 = a2 + r2 * a3, b2 = a4 + r2 * a5;
    double p = (b0 + r4 * b1) + r8 * (b2 + r4 * a6);
    /* biased exponent of 2^k, doubled: e = k + 2*1023 in [969, 2046], split as e1 + e2 */
    uint64_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint64_t e = tb - (shifter_bits - 2046u);
    uint64_t e1 = e >> 1, e2 = e - e1;
    uint64_t s1b = e1 << 52, s2b = e2 << 52;
    double s1, s2;
    memcpy(&s1, &s1b, sizeof s1);
    memcpy(&s2, &s2b, sizeof s2);
    return p * s1 * s2;
}

NN_INLINE float nn_expf_neg(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145751953125f;            /* 16 significant bits: k*ln2_hi exact */
    const float ln2_lo = 1.428606765330187045e-06f;
    const float shifter = 12582912.0f;                  /* 1.5 * 2^23 */
    const uint32_t shifter_bits = 0x4B400000u;
    x = x < -104.0f ? -104.0f : x;
    float t = x * log2e + shifter;
    float k = t - shifter;
    float r = (x - k * ln2_hi) - k * ln2_lo;
    /* exp(r) = sum r^i / i!, i = 0..7, in Estrin's scheme (see nn_exp_neg) */
    float r2 = r * r, r4 = r2 * r2;
    float a0 = 1.0f + r, a1 = 0.5f + r * (1.0f / 6);
    float a2 = 1.0f / 24 + r * (1.0f / 120), a3 = 1.0f / 720 + r * (1.0f / 5040);
    float p = (a0 + r2 * a1) + r4 * (a2 + r2 * a3);
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t e = tb - (shifter_bits - 254u);            /* k + 2*127 in [104, 254] */
    uint32_t e1 = e >> 1, e2 = e - e1;
    uint32_t s1b = e1 << 23, s2b = e2 << 23;
    float s1, s2;
    memcpy(&s1, &s1b, sizeof s1);
    memcpy(&s2, &s2b, sizeof s2);
    return p * s1 * s2;
}

/* 1 if x is infinite or NaN, else 0: a bit test, so an OR over a loop of it vectorises
 * (a floating-point reduction would not, without -ffast-math). */
static inline uint64_t nn_nonfinite(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return (((b >> 52) & 0x7FFu) + 1u) >> 11;
}

static inline uint32_t nn_nonfinitef(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return (((b >> 23) & 0xFFu) + 1u) >> 8;
}

/* (x < 0 ? b : a) without a branch: a bit mask, not a select the compiler may turn into a
 * jump. The per-sample path's scalar sigmoid needs it: the sign of a pre-activation changes
 * from sample to sample, and a mispredicted jump costs more than the arithmetic around it. */
NN_INLINE double nn_if_negative(double x, double a, double b)
{
    uint64_t ab, bb, mask = -(uint64_t)(x < 0);
    memcpy(&ab, &a, sizeof ab);
    memcpy(&bb, &b, sizeof bb);
    ab = (ab & ~mask) | (bb & mask);
    memcpy(&a, &ab, sizeof a);
    return a;
}

NN_INLINE float nn_if_negativef(float x, float a, float b)
{
    uint32_t ab, bb, mask = -(uint32_t)(x < 0);
    memcpy(&ab, &a, sizeof ab);
    memcpy(&bb, &b, sizeof bb);
    ab = (ab & ~mask) | (bb & mask);
    memcpy(&a, &ab, sizeof a);
    return a;
}

/* 1/(1+exp(-x)) from exp(-|x|) (no overflow for any x), with the sign's choice made by
 * nn_if_negative: the per-sample path's sigmoid (activations.pxd's scalar_sigmoid), where the sign
 * of a pre-activation changes from sample to sample. Inlined into the per-sample kernels, whose
 * step is a few dozen operations. */
NN_INLINE double nn_sigmoid_branchless(double x)
{
    double e = nn_exp_neg(-fabs(x));
    double s = 1.0 / (1.0 + e);
    return nn_if_negative(x, s, e * s);
}

NN_INLINE float nn_sigmoid_branchlessf(float x)
{
    float e = nn_expf_neg(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return nn_if_negativef(x, s, e * s);
}

#endif
