/* nn_math.h: exp(x) for x <= 0, and a finiteness test, written so that compilers vectorise
 * loops that call them.
 *
 * glibc's exp is an opaque scalar call: without -ffast-math a loop calling it stays scalar
 * (about 5 ns a call). This is straight-line arithmetic with no branch and no table, so a loop
 * over it becomes SIMD code at -O2/-O3 on every instruction-set level.
 *
 * Method: x = k*ln2 + r with |r| <= ln2/2 (k = round(x/ln2), ln2 split in two so k*ln2_hi is
 * exact); exp(r) by its Taylor polynomial (degree 13 for double, 7 for float: truncation below
 * 1e-17 resp. 6e-9 relative); 2^k built in the exponent bits, as two factors so that results
 * down to the smallest subnormal come out right. Error: a few ulp over [-745, 0] (tested against
 * numpy to 1e-14). Below -745 (-104 in float) the result is 0, as exp's is; NaN gives NaN.
 * The sigmoid and the losses only ever need exp of a non-positive number.
 */
#ifndef NN_MATH_H
#define NN_MATH_H

#include <stdint.h>
#include <string.h>

static inline double nn_exp_neg(double x)
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
    double p = 1.0 / 6227020800.0;                      /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
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

static inline float nn_expf_neg(float x)
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
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
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

#endif
