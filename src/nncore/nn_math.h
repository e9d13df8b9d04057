/* nn_math.h: exp(x) and expm1(x) for x <= 0, the activations built on them and their
 * derivatives, and a finiteness test, written so that compilers vectorise loops that call them.
 *
 * glibc's exp is an opaque scalar call: without -ffast-math a loop calling it stays scalar
 * (about 5 ns a call). This is straight-line arithmetic with no branch and no table, so a loop
 * over it becomes SIMD code at -O2/-O3 on every instruction-set level.
 *
 * Method: x = k*ln2 + r with |r| <= ln2/2 (k = round(x/ln2), ln2 split in two so k*ln2_hi is
 * exact); exp(r) - 1 by its Taylor polynomial (degree 13 for double, 8 for float) in Estrin's
 * scheme; 2^k built in the exponent bits (exp: as two factors, so that results down to the
 * smallest subnormal come out right). Error: a few ulp over the whole range (tested against
 * numpy in long double). exp below -745 (-104 in float) is 0, as exp's is; NaN gives NaN.
 * The sigmoid and the losses only ever need exp of a non-positive number, tanh expm1 of one.
 *
 * Everything here is in the precision of its argument (no float computed in double), and each
 * activation is one function for every path (a layer's vectorised loop, the per-sample
 * kernels), so that the paths agree bit for bit.
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

/* Kept out of line: for the rarely taken branches of a switch that must itself stay small. */
#if defined(__GNUC__)
#define NN_OUT_OF_LINE static __attribute__((noinline, unused))
#elif defined(_MSC_VER)
#define NN_OUT_OF_LINE static __declspec(noinline)
#else
#define NN_OUT_OF_LINE static
#endif

/* a * b + c, rounded once where the processor has a fused multiply-add (fma() is then one
 * instruction: x86-64-v3 and up, aarch64), else rounded twice: in each case the same in every
 * compiled context, where gcc's own contraction (-ffp-contract=fast) decides context by
 * context. For the sums a stack's lanes and a lone fit must round alike. */
NN_INLINE double nn_muladd(double a, double b, double c)
{
#if defined(__FP_FAST_FMA)
    return fma(a, b, c);
#else
    return a * b + c;
#endif
}

/* exp(r) - 1 for the reduced |r| <= ln2/2: r + r^2 * P(r), P(r) = sum r^i / (i+2)!, i = 0..11
 * (degree 13: truncation below 2e-17 relative), in Estrin's scheme: the same work as Horner's
 * but a dependency chain of 4 multiply-adds instead of 12, which is what a sample-by-sample
 * training step waits on. Without the leading 1, so that exp (1 + q) rounds once at 1 and
 * expm1 keeps q's relative precision. */
NN_INLINE double nn_expm1_reduced(double r)
{
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double a0 = 1.0 / 2 + r * (1.0 / 6);
    double a1 = 1.0 / 24 + r * (1.0 / 120);
    double a2 = 1.0 / 720 + r * (1.0 / 5040);
    double a3 = 1.0 / 40320 + r * (1.0 / 362880);
    double a4 = 1.0 / 3628800 + r * (1.0 / 39916800);
    double a5 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    double p = ((a0 + r2 * a1) + r4 * (a2 + r2 * a3)) + r8 * (a4 + r2 * a5);
    return r + r2 * p;
}

/* The same in float: P(r) for i = 0..6 (degree 8: truncation below 6e-10 relative). */
NN_INLINE float nn_expm1f_reduced(float r)
{
    float r2 = r * r, r4 = r2 * r2;
    float a0 = 0.5f + r * (1.0f / 6), a1 = 1.0f / 24 + r * (1.0f / 120);
    float a2 = 1.0f / 720 + r * (1.0f / 5040), a3 = 1.0f / 40320;
    float p = (a0 + r2 * a1) + r4 * (a2 + r2 * a3);
    return r + r2 * p;
}

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
    double p = 1.0 + nn_expm1_reduced(r);
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
    float p = 1.0f + nn_expm1f_reduced(r);
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

/* expm1(x) = exp(x) - 1 for x <= 0, vectorisable, a few ulp (relative) over the whole range,
 * subnormal x included: nn_exp_neg's reduction x = k*ln2 + r, q = exp(r) - 1, and
 * expm1(x) = 2^k*q + (2^k - 1), where 2^k*q is exact and 2^k - 1 exact for k >= -53 (below,
 * -1 rounded); for small |x| (k = 0) the result is q itself, never 1 + r - 1. Below -64 (-32 in
 * float) the result is -1, as expm1's rounds to; NaN gives NaN. */
NN_INLINE double nn_expm1_neg(double x)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 6755399441055744.0;
    const uint64_t shifter_bits = 0x4338000000000000ULL;
    x = x < -64.0 ? -64.0 : x;
    double t = x * log2e + shifter;
    double k = t - shifter;
    double r = (x - k * ln2_hi) - k * ln2_lo;
    double q = nn_expm1_reduced(r);
    uint64_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint64_t sb = (tb - (shifter_bits - 1023u)) << 52;   /* 2^k, k in [-93, 0]: normal */
    double s;
    memcpy(&s, &sb, sizeof s);
    return s * q + (s - 1.0);
}

NN_INLINE float nn_expm1f_neg(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145751953125f;
    const float ln2_lo = 1.428606765330187045e-06f;
    const float shifter = 12582912.0f;
    const uint32_t shifter_bits = 0x4B400000u;
    x = x < -32.0f ? -32.0f : x;
    float t = x * log2e + shifter;
    float k = t - shifter;
    float r = (x - k * ln2_hi) - k * ln2_lo;
    float q = nn_expm1f_reduced(r);
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t sb = (tb - (shifter_bits - 127u)) << 23;    /* 2^k, k in [-47, 0]: normal */
    float s;
    memcpy(&s, &sb, sizeof s);
    return s * q + (s - 1.0f);
}

/* exp(z - m) for z <= m (softmax's terms, m the row's maximum) from the exact difference: d =
 * z - m rounded, and its rounding error t (Knuth's two-sum), so exp(z - m) = exp(d) * (1 + t)
 * to second order. Without t the rounding of d, up to half an ulp of d, would become up to
 * |d| * 2^-53 of relative error in the result (hundreds of ulp when d nears -700). Where d is
 * below -746 (-104 in float: the result 0) or not finite, t is not used. */
NN_INLINE double nn_exp_diff(double z, double m)
{
    double d = z - m;
    double z_part = d + m, m_part = d - z_part;
    double t = (z - z_part) - (m + m_part);
    double e = nn_exp_neg(d);
    t = d >= -746.0 ? t : 0.0;
    return e + e * t;
}

NN_INLINE float nn_expf_diff(float z, float m)
{
    float d = z - m;
    float z_part = d + m, m_part = d - z_part;
    float t = (z - z_part) - (m + m_part);
    float e = nn_expf_neg(d);
    t = d >= -104.0f ? t : 0.0f;
    return e + e * t;
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

/* |x| with the sign of y, as bit operations (copysign's own, without a libm call). */
NN_INLINE double nn_copysign(double x, double y)
{
    uint64_t xb, yb;
    const uint64_t sign = 0x8000000000000000ULL;
    memcpy(&xb, &x, sizeof xb);
    memcpy(&yb, &y, sizeof yb);
    xb = (xb & ~sign) | (yb & sign);
    memcpy(&x, &xb, sizeof x);
    return x;
}

NN_INLINE float nn_copysignf(float x, float y)
{
    uint32_t xb, yb;
    const uint32_t sign = 0x80000000u;
    memcpy(&xb, &x, sizeof xb);
    memcpy(&yb, &y, sizeof yb);
    xb = (xb & ~sign) | (yb & sign);
    memcpy(&x, &xb, sizeof x);
    return x;
}

/* 1/(1+exp(-x)) from exp(-|x|) (no overflow for any x): 1/(1+e) for x >= 0, e/(1+e) below,
 * the sign's choice made by nn_if_negative, without a branch. One function for every path: a
 * layer's vectorised loop and the per-sample kernels (where the sign of a pre-activation
 * changes from sample to sample and a mispredicted jump costs more than the arithmetic) give
 * the same value bit for bit. A few ulp over the whole range. */
NN_INLINE double nn_sigmoid(double x)
{
    double e = nn_exp_neg(-fabs(x));
    double s = 1.0 / (1.0 + e);
    return nn_if_negative(x, s, e * s);
}

NN_INLINE float nn_sigmoidf(float x)
{
    float e = nn_expf_neg(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return nn_if_negativef(x, s, e * s);
}

/* tanh(x) = sign(x) * -m/(2 + m) with m = expm1(-2|x|): no overflow, no branch, and a few ulp
 * (relative) over the whole range. (1 - e)/(1 + e) with e = exp(-2|x|) would lose the relative
 * precision near 0, where 1 - e cancels (0 for |x| below half an ulp of 1). */
NN_INLINE double nn_tanh(double x)
{
    double m = nn_expm1_neg(-2.0 * fabs(x));
    return nn_copysign(-m / (2.0 + m), x);
}

NN_INLINE float nn_tanhf(float x)
{
    float m = nn_expm1f_neg(-2.0f * fabsf(x));
    return nn_copysignf(-m / (2.0f + m), x);
}

/* The derivatives from the activation's value a, each within about an ulp of the same formula
 * evaluated exactly: a*(1 - a), and (1 - a)*(1 + a) for tanh, whose 1 - a and 1 + a are exact
 * where the product is small (1 - a*a would cancel as |a| nears 1: a*a's rounding error
 * becomes the result's leading digits). In the precision of a: no double arithmetic in float
 * code. */
NN_INLINE double nn_sigmoid_derivative(double a) { return a * (1.0 - a); }
NN_INLINE float nn_sigmoid_derivativef(float a) { return a * (1.0f - a); }
NN_INLINE double nn_tanh_derivative(double a) { return (1.0 - a) * (1.0 + a); }
NN_INLINE float nn_tanh_derivativef(float a) { return (1.0f - a) * (1.0f + a); }

/* max(x, 0); NaN stays NaN (so a non-finite value is not hidden). Its derivative from a. */
NN_INLINE double nn_relu(double x) { return x <= 0.0 ? 0.0 : x; }
NN_INLINE float nn_reluf(float x) { return x <= 0.0f ? 0.0f : x; }
NN_INLINE double nn_relu_derivative(double a) { return a > 0.0 ? 1.0 : 0.0; }
NN_INLINE float nn_relu_derivativef(float a) { return a > 0.0f ? 1.0f : 0.0f; }

/* Leaky ReLU: x for x > 0, else 0.01*x (torch's default negative slope); NaN stays NaN. Its
 * derivative from a (a > 0 exactly where x > 0). */
NN_INLINE double nn_leaky_relu(double x) { return x > 0.0 ? x : 0.01 * x; }
NN_INLINE float nn_leaky_reluf(float x) { return x > 0.0f ? x : 0.01f * x; }
NN_INLINE double nn_leaky_relu_derivative(double a) { return a > 0.0 ? 1.0 : 0.01; }
NN_INLINE float nn_leaky_relu_derivativef(float a) { return a > 0.0f ? 1.0f : 0.01f; }

/* ELU (alpha 1): x for x > 0, else expm1(x) (nn_expm1_neg's: vectorisable, a few ulp); NaN
 * stays NaN. Its derivative from a: 1 for a > 0, else a + 1 (exp(x)). */
NN_INLINE double nn_elu(double x)
{
    double m = nn_expm1_neg(x <= 0.0 ? x : 0.0);
    return x <= 0.0 ? m : x;
}

NN_INLINE float nn_eluf(float x)
{
    float m = nn_expm1f_neg(x <= 0.0f ? x : 0.0f);
    return x <= 0.0f ? m : x;
}

NN_INLINE double nn_elu_derivative(double a) { return a > 0.0 ? 1.0 : a + 1.0; }
NN_INLINE float nn_elu_derivativef(float a) { return a > 0.0f ? 1.0f : a + 1.0f; }

/* softplus (beta 1): log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, and for
 * x << 0 exp(x) to a few ulp (no 1 + tiny rounded away). log1p is libm's (a call: correctness
 * first). Its derivative from a = softplus(x) > 0: sigmoid(x) = 1 - exp(-a) = -expm1(-a)
 * (vectorised expm1; its relative error at most a few ulp, a's as much again). */
NN_INLINE double nn_softplus(double x)
{
    return (x > 0.0 ? x : 0.0) + log1p(nn_exp_neg(-fabs(x)));
}

NN_INLINE float nn_softplusf(float x)
{
    return (x > 0.0f ? x : 0.0f) + log1pf(nn_expf_neg(-fabsf(x)));
}

NN_INLINE double nn_softplus_derivative(double a) { return -nn_expm1_neg(-a); }
NN_INLINE float nn_softplus_derivativef(float a) { return -nn_expm1f_neg(-a); }

/* SiLU: x * sigmoid(x), from nn_sigmoid (vectorisable, a few ulp); no overflow. Below -700,
 * where sigmoid(x) = exp(x) is subnormal and x times it would magnify its rounding, x exp(x)
 * as (x exp(x/2)) exp(x/2), rounded once in the subnormal range. The float version in double
 * (its subnormal range is double's normal one). Its derivative from x (not a function of a:
 * SiLU is not monotonic): s * (1 + x * (1 - s)), 1 - s as sigmoid(-x) (no cancellation for
 * x >> 0). */
NN_INLINE double nn_silu(double x)
{
    double h = nn_exp_neg(0.5 * (x < 0.0 ? x : 0.0));
    double tiny = (x * h) * h;
    double plain = x * nn_sigmoid(x);
    return x < -700.0 ? tiny : plain;
}

NN_INLINE float nn_siluf(float x) { return (float)nn_silu((double)x); }
NN_INLINE double nn_silu_derivative(double z)
{
    return nn_sigmoid(z) * (1.0 + z * nn_sigmoid(-z));
}
NN_INLINE float nn_silu_derivativef(float z)
{
    return nn_sigmoidf(z) * (1.0f + z * nn_sigmoidf(-z));
}

/* GELU, the exact form (torch's default): x * Phi(x), Phi(x) = 0.5 * erfc(-x/sqrt(2)) (erfc:
 * 1 + erf(x/sqrt(2)) would lose every digit in the left tail). t = -x/sqrt(2) is rounded, which
 * would cost up to 2 t^2 ulp of erfc(t) (50 near x = -7): the rounding error e (fma, and
 * 1/sqrt(2) in two parts) is put back to first order, erfc(t + e) = erfc(t) - e * 2/sqrt(pi) *
 * exp(-t^2). libm's erfc and exp (calls: correctness first); the float version in double. */
NN_INLINE double nn_gelu_cdf(double x)
{
    const double s_hi = 0.7071067811865476, s_lo = -4.833646656726457e-17;
    double t = -x * s_hi;
    double e = fma(-x, s_hi, -t) - x * s_lo;
    return 0.5 * (erfc(t) - e * 1.1283791670955126 * exp(-t * t));
}

NN_INLINE double nn_gelu(double x) { return x * nn_gelu_cdf(x); }
NN_INLINE float nn_geluf(float x) { return (float)nn_gelu((double)x); }

/* Its derivative from x (GELU is not monotonic): Phi(x) + x * phi(x), phi(x) = exp(-x^2/2) /
 * sqrt(2 pi), x^2 as its rounded value h and error l (fma), exp(-(h + l)/2) as
 * exp(-h/2) * (1 - l/2): exp's argument exact to first order (l dropped where h is inf). */
NN_INLINE double nn_gelu_derivative(double z)
{
    double h = z * z, l = fma(z, z, -h);
    l = h <= 1e308 ? l : 0.0;
    return nn_gelu_cdf(z) + z * (0.3989422804014327 * exp(-0.5 * h) * (1.0 - 0.5 * l));
}

NN_INLINE float nn_gelu_derivativef(float z) { return (float)nn_gelu_derivative((double)z); }

/* exp, the output of the poisson loss (its log link): libm's, correctly rounded (an output
 * layer has few units, and its values are the predictions); its derivative from a = exp(z) is
 * a. */
NN_INLINE double nn_exp(double x) { return exp(x); }
NN_INLINE float nn_expf(float x) { return expf(x); }
NN_INLINE double nn_exp_derivative(double a) { return a; }
NN_INLINE float nn_exp_derivativef(float a) { return a; }
#endif
