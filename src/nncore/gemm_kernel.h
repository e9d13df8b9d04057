/* gemm_kernel.h: the register-blocked micro-kernels under gemm.pxd, one set per instruction-set
 * level (the preprocessor picks it from the flags the core is compiled with).
 *
 * nn_kernel_d / nn_kernel_f (double / float) compute one NN_MR x NN_NR_* tile of
 *     C = alpha * A @ B + beta * C
 * over k steps: A from a packed panel (a[p*NN_MR + i], all NN_MR rows present), B at
 * b + p*ldb + j (rows of NN_NR_* contiguous values: a packed sliver, or B itself), C at
 * c + i*rsc + j*csc. Only the valid mr x nr corner of C is written. beta == 0 never reads C.
 * Each element of C is one sum over p = 0 .. k-1 in order, so the result does not depend on
 * how the caller splits C among threads. (A packed panel, not A in place with run-time
 * strides: six row pointers and their offsets leave gcc too few registers, and it spills
 * inside the loop.)
 *
 * nn_dot_kernel_d / _f compute an NN_DR x NN_DN tile of C = alpha * A @ B + beta * C when A's
 * rows and B's columns are contiguous (A at a + i*lda + p, B at b + j*ldb + p: a batch times
 * W.T), without packing anything: each C element's products are summed in SIMD lanes along p
 * and the lanes added at the end (a fixed order too). For small batches, where packing W.T
 * would cost more than the product.
 *
 * AVX2 + FMA (x86-64-v3 and v4): intrinsics, 6 x 8 doubles or 6 x 16 floats, i.e. 12 ymm
 * accumulators, 2 B vectors and 1 broadcast A value: 15 of the 16 ymm registers, two FMAs per
 * A value (the AVX2 micro-tile of BLIS and OpenBLAS). v4 uses it as it is: simple and correct
 * on AVX-512 machines. Other levels (SSE2 baseline, other architectures): plain C loops with
 * constant bounds that compilers turn into SIMD code with the accumulators in registers.
 */
#ifndef NN_GEMM_KERNEL_H
#define NN_GEMM_KERNEL_H

#include <stddef.h>

#if defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define NN_GEMM_AVX2 1
#include <immintrin.h>
#if defined(_MSC_VER)
#define NN_NOINLINE __declspec(noinline)
#define NN_ALIGN32 __declspec(align(32))
#else
#define NN_NOINLINE __attribute__((noinline))
#define NN_ALIGN32 __attribute__((aligned(32)))
#endif
#else
#define NN_GEMM_AVX2 0
#endif

#if NN_GEMM_AVX2
#define NN_MR 6       /* rows of a tile */
#define NN_NR_D 8     /* columns of a double tile: two ymm */
#define NN_NR_F 16    /* columns of a float tile: two ymm */
#else
#define NN_MR 4
#define NN_NR_D 4     /* two xmm of doubles per row: 8 accumulators, room for B and A */
#define NN_NR_F 8
#endif
#define NN_DR 3       /* rows of a dot-kernel tile */
#define NN_DN 4       /* columns of a dot-kernel tile: 12 accumulators */

typedef ptrdiff_t nn_idx;

/* Writes an mr x nr tile held row-major (NR columns per row) into C element by element:
 * C = alpha * tile + beta * C, C not read when beta == 0. */
#define NN_STORE_TILE(T, tile, NR)                                                         \
    for (nn_idx i = 0; i < mr; i++)                                                        \
        for (nn_idx j = 0; j < nr; j++) {                                                  \
            T *cij = c + i * rsc + j * csc;                                                \
            *cij = beta == 0 ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * *cij; \
        }

#if NN_GEMM_AVX2

/* Asks for the tile's rows of C while the k loop runs: C is read and written only at the end,
 * and a large C (a layer's weight gradient) is not in cache; without this each tile would
 * wait for its rows. */
#define NN_PREFETCH_C(NR)                                                                  \
    if (csc == 1)                                                                          \
        for (nn_idx i = 0; i < mr; i++) {                                                  \
            _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);                        \
            _mm_prefetch((const char *)(c + i * rsc + NR - 1), _MM_HINT_T0);               \
        }

/* The k loops alone, out of line: with nothing else live the compiler keeps the 12
 * accumulators, the two B vectors and the broadcast A value in the 16 ymm registers (inlined
 * into the blocked loops it ran short and spilled accumulators inside the loop: a third
 * slower). Each leaves the tile row-major in acc (32-byte aligned). One step: two B vectors,
 * then each A value broadcast into its two FMAs (unrolling the loop measured no faster). */
#define NN_LOOP(NAME, T, V, ZERO, LOAD, BCAST, FMA, STORE, W)                              \
NN_NOINLINE static void NAME(nn_idx k, const T *a, const T *b, nn_idx ldb, T *acc)         \
{                                                                                          \
    V c00 = ZERO(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;                 \
    V c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                    \
    V b0, b1, ai;                                                                          \
    nn_idx p = 0;                                                                          \
    for (; p < k; p++) {                                                                   \
        b0 = LOAD(b); b1 = LOAD(b + W); b += ldb;                                          \
        ai = BCAST(a + 0); c00 = FMA(ai, b0, c00); c01 = FMA(ai, b1, c01);                 \
        ai = BCAST(a + 1); c10 = FMA(ai, b0, c10); c11 = FMA(ai, b1, c11);                 \
        ai = BCAST(a + 2); c20 = FMA(ai, b0, c20); c21 = FMA(ai, b1, c21);                 \
        ai = BCAST(a + 3); c30 = FMA(ai, b0, c30); c31 = FMA(ai, b1, c31);                 \
        ai = BCAST(a + 4); c40 = FMA(ai, b0, c40); c41 = FMA(ai, b1, c41);                 \
        ai = BCAST(a + 5); c50 = FMA(ai, b0, c50); c51 = FMA(ai, b1, c51);                 \
        a += NN_MR;                                                                        \
    }                                                                                      \
    STORE(acc + 0 * W, c00); STORE(acc + 1 * W, c01); STORE(acc + 2 * W, c10);             \
    STORE(acc + 3 * W, c11); STORE(acc + 4 * W, c20); STORE(acc + 5 * W, c21);             \
    STORE(acc + 6 * W, c30); STORE(acc + 7 * W, c31); STORE(acc + 8 * W, c40);             \
    STORE(acc + 9 * W, c41); STORE(acc + 10 * W, c50); STORE(acc + 11 * W, c51);           \
}
NN_LOOP(nn_loop_d, double, __m256d, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd,
        _mm256_fmadd_pd, _mm256_store_pd, 4)
NN_LOOP(nn_loop_f, float, __m256, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_broadcast_ss,
        _mm256_fmadd_ps, _mm256_store_ps, 8)

/* The tile C = alpha * acc + beta * C: a full tile of row-major C with vector instructions,
 * the edge and transposed cases element by element. */
#define NN_KERNEL(NAME, LOOP, T, V, SET1, LOAD, LOADU, STOREU, MUL, FMA, W)                \
static inline void NAME(nn_idx k, const T *a, const T *b, nn_idx ldb, T alpha, T beta,     \
                        T *c, nn_idx rsc, nn_idx csc, nn_idx mr, nn_idx nr)                \
{                                                                                          \
    NN_ALIGN32 T tile[NN_MR * 2 * W];                                                      \
    NN_PREFETCH_C(2 * W)                                                                   \
    LOOP(k, a, b, ldb, tile);                                                              \
    if (mr == NN_MR && nr == 2 * W && csc == 1) {                                          \
        V va = SET1(alpha), vb = SET1(beta);                                               \
        for (int i = 0; i < NN_MR; i++) {                                                  \
            T *ci = c + i * rsc;                                                           \
            V r0 = MUL(va, LOAD(tile + 2 * W * i)), r1 = MUL(va, LOAD(tile + 2 * W * i + W)); \
            if (beta != 0) {                                                               \
                r0 = FMA(vb, LOADU(ci), r0);                                               \
                r1 = FMA(vb, LOADU(ci + W), r1);                                           \
            }                                                                              \
            STOREU(ci, r0);                                                                \
            STOREU(ci + W, r1);                                                            \
        }                                                                                  \
        return;                                                                            \
    }                                                                                      \
    NN_STORE_TILE(T, tile, 2 * W)                                                          \
}
NN_KERNEL(nn_kernel_d, nn_loop_d, double, __m256d, _mm256_set1_pd, _mm256_load_pd,
          _mm256_loadu_pd, _mm256_storeu_pd, _mm256_mul_pd, _mm256_fmadd_pd, 4)
NN_KERNEL(nn_kernel_f, nn_loop_f, float, __m256, _mm256_set1_ps, _mm256_load_ps,
          _mm256_loadu_ps, _mm256_storeu_ps, _mm256_mul_ps, _mm256_fmadd_ps, 8)

/* Lanes of the last, partial vector of a dot product: mask for the k % 4 (k % 8) remaining. */
static inline __m256i nn_tail_mask_d(nn_idx rest)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(rest), _mm256_setr_epi64x(0, 1, 2, 3));
}

static inline __m256i nn_tail_mask_f(nn_idx rest)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The four lane-sums of x0 .. x3 as one vector [sum x0, sum x1, sum x2, sum x3]. */
static inline __m256d nn_sum4_d(__m256d x0, __m256d x1, __m256d x2, __m256d x3)
{
    __m256d t0 = _mm256_hadd_pd(x0, x1), t1 = _mm256_hadd_pd(x2, x3);
    return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),
                         _mm256_permute2f128_pd(t0, t1, 0x31));
}

static inline __m128 nn_sum4_f(__m256 x0, __m256 x1, __m256 x2, __m256 x3)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(x0, x1), _mm256_hadd_ps(x2, x3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

static inline void nn_dot_kernel_d(nn_idx k, const double *a, nn_idx lda, const double *b,
                                   nn_idx ldb, double alpha, double beta, double *c,
                                   nn_idx rsc, nn_idx csc, nn_idx mr, nn_idx nr)
{
    const double *r0 = a, *r1 = a + (mr > 1) * lda, *r2 = a + (mr > 2 ? 2 : mr - 1) * lda;
    const double *q0 = b, *q1 = b + (nr > 1) * ldb, *q2 = b + (nr > 2 ? 2 : nr - 1) * ldb;
    const double *q3 = b + (nr > 3 ? 3 : nr - 1) * ldb;
    __m256d s00 = _mm256_setzero_pd(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00;
    __m256d s12 = s00, s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00;
    __m256d x0, x1, x2, y;
    nn_idx p = 0;
#define NN_DOT_STEP_D(LOAD)                                                                \
    x0 = LOAD(r0 + p); x1 = LOAD(r1 + p); x2 = LOAD(r2 + p);                               \
    y = LOAD(q0 + p); s00 = _mm256_fmadd_pd(x0, y, s00); s10 = _mm256_fmadd_pd(x1, y, s10); s20 = _mm256_fmadd_pd(x2, y, s20); \
    y = LOAD(q1 + p); s01 = _mm256_fmadd_pd(x0, y, s01); s11 = _mm256_fmadd_pd(x1, y, s11); s21 = _mm256_fmadd_pd(x2, y, s21); \
    y = LOAD(q2 + p); s02 = _mm256_fmadd_pd(x0, y, s02); s12 = _mm256_fmadd_pd(x1, y, s12); s22 = _mm256_fmadd_pd(x2, y, s22); \
    y = LOAD(q3 + p); s03 = _mm256_fmadd_pd(x0, y, s03); s13 = _mm256_fmadd_pd(x1, y, s13); s23 = _mm256_fmadd_pd(x2, y, s23);
    for (; p + 4 <= k; p += 4) {
        NN_DOT_STEP_D(_mm256_loadu_pd)
    }
    if (p < k) {  /* the last k % 4 products: masked loads read nothing past the rows */
        __m256i mask = nn_tail_mask_d(k - p);
#define NN_MASKED_D(ptr) _mm256_maskload_pd(ptr, mask)
        NN_DOT_STEP_D(NN_MASKED_D)
#undef NN_MASKED_D
    }
#undef NN_DOT_STEP_D
    double tile[NN_DR * NN_DN];
    _mm256_storeu_pd(tile, nn_sum4_d(s00, s01, s02, s03));
    _mm256_storeu_pd(tile + 4, nn_sum4_d(s10, s11, s12, s13));
    _mm256_storeu_pd(tile + 8, nn_sum4_d(s20, s21, s22, s23));
    NN_STORE_TILE(double, tile, NN_DN)
}

static inline void nn_dot_kernel_f(nn_idx k, const float *a, nn_idx lda, const float *b,
                                   nn_idx ldb, float alpha, float beta, float *c,
                                   nn_idx rsc, nn_idx csc, nn_idx mr, nn_idx nr)
{
    const float *r0 = a, *r1 = a + (mr > 1) * lda, *r2 = a + (mr > 2 ? 2 : mr - 1) * lda;
    const float *q0 = b, *q1 = b + (nr > 1) * ldb, *q2 = b + (nr > 2 ? 2 : nr - 1) * ldb;
    const float *q3 = b + (nr > 3 ? 3 : nr - 1) * ldb;
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00;
    __m256 s12 = s00, s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00;
    __m256 x0, x1, x2, y;
    nn_idx p = 0;
#define NN_DOT_STEP_F(LOAD)                                                                \
    x0 = LOAD(r0 + p); x1 = LOAD(r1 + p); x2 = LOAD(r2 + p);                               \
    y = LOAD(q0 + p); s00 = _mm256_fmadd_ps(x0, y, s00); s10 = _mm256_fmadd_ps(x1, y, s10); s20 = _mm256_fmadd_ps(x2, y, s20); \
    y = LOAD(q1 + p); s01 = _mm256_fmadd_ps(x0, y, s01); s11 = _mm256_fmadd_ps(x1, y, s11); s21 = _mm256_fmadd_ps(x2, y, s21); \
    y = LOAD(q2 + p); s02 = _mm256_fmadd_ps(x0, y, s02); s12 = _mm256_fmadd_ps(x1, y, s12); s22 = _mm256_fmadd_ps(x2, y, s22); \
    y = LOAD(q3 + p); s03 = _mm256_fmadd_ps(x0, y, s03); s13 = _mm256_fmadd_ps(x1, y, s13); s23 = _mm256_fmadd_ps(x2, y, s23);
    for (; p + 8 <= k; p += 8) {
        NN_DOT_STEP_F(_mm256_loadu_ps)
    }
    if (p < k) {
        __m256i mask = nn_tail_mask_f(k - p);
#define NN_MASKED_F(ptr) _mm256_maskload_ps(ptr, mask)
        NN_DOT_STEP_F(NN_MASKED_F)
#undef NN_MASKED_F
    }
#undef NN_DOT_STEP_F
    float tile[NN_DR * NN_DN];
    _mm_storeu_ps(tile, nn_sum4_f(s00, s01, s02, s03));
    _mm_storeu_ps(tile + 4, nn_sum4_f(s10, s11, s12, s13));
    _mm_storeu_ps(tile + 8, nn_sum4_f(s20, s21, s22, s23));
    NN_STORE_TILE(float, tile, NN_DN)
}

/* Transposing packers (the packing of a batch of rows and of W.T, which plain loops leave to
 * scalar moves): 4 x 4 blocks transposed in registers.
 * nn_pack_rows_*: an NN_MR-row panel of row-major A (src + i*rs + p) into dst[p*NN_MR + i].
 * nn_pack_cols_*: an NR-column sliver of B = W.T (src + j*cs + p) into dst[p*NR + j]. */
#define NN_TRANSPOSE4_D(r0, r1, r2, r3, c0, c1, c2, c3) {                                  \
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);              \
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);              \
    c0 = _mm256_permute2f128_pd(t0, t2, 0x20); c1 = _mm256_permute2f128_pd(t1, t3, 0x20);   \
    c2 = _mm256_permute2f128_pd(t0, t2, 0x31); c3 = _mm256_permute2f128_pd(t1, t3, 0x31); }

static inline void nn_pack_rows_d(nn_idx kc, const double *src, nn_idx rs, double *dst)
{
    nn_idx p = 0;
    for (; p + 4 <= kc; p += 4) {
        const double *s = src + p;
        __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + rs);
        __m256d r2 = _mm256_loadu_pd(s + 2 * rs), r3 = _mm256_loadu_pd(s + 3 * rs);
        __m256d r4 = _mm256_loadu_pd(s + 4 * rs), r5 = _mm256_loadu_pd(s + 5 * rs);
        __m256d c0, c1, c2, c3;
        NN_TRANSPOSE4_D(r0, r1, r2, r3, c0, c1, c2, c3)
        __m256d lo = _mm256_unpacklo_pd(r4, r5), hi = _mm256_unpackhi_pd(r4, r5);
        double *d = dst + p * NN_MR;
        _mm256_storeu_pd(d, c0);
        _mm_storeu_pd(d + 4, _mm256_castpd256_pd128(lo));
        _mm256_storeu_pd(d + NN_MR, c1);
        _mm_storeu_pd(d + NN_MR + 4, _mm256_castpd256_pd128(hi));
        _mm256_storeu_pd(d + 2 * NN_MR, c2);
        _mm_storeu_pd(d + 2 * NN_MR + 4, _mm256_extractf128_pd(lo, 1));
        _mm256_storeu_pd(d + 3 * NN_MR, c3);
        _mm_storeu_pd(d + 3 * NN_MR + 4, _mm256_extractf128_pd(hi, 1));
    }
    for (; p < kc; p++)
        for (nn_idx i = 0; i < NN_MR; i++)
            dst[p * NN_MR + i] = src[i * rs + p];
}

static inline void nn_pack_rows_f(nn_idx kc, const float *src, nn_idx rs, float *dst)
{
    nn_idx p = 0;
    for (; p + 4 <= kc; p += 4) {
        const float *s = src + p;
        __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + rs);
        __m128 r2 = _mm_loadu_ps(s + 2 * rs), r3 = _mm_loadu_ps(s + 3 * rs);
        __m128 r4 = _mm_loadu_ps(s + 4 * rs), r5 = _mm_loadu_ps(s + 5 * rs);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        __m128 lo = _mm_unpacklo_ps(r4, r5), hi = _mm_unpackhi_ps(r4, r5);
        float *d = dst + p * NN_MR;
        _mm_storeu_ps(d, r0);
        _mm_storel_pi((__m64 *)(d + 4), lo);
        _mm_storeu_ps(d + NN_MR, r1);
        _mm_storeh_pi((__m64 *)(d + NN_MR + 4), lo);
        _mm_storeu_ps(d + 2 * NN_MR, r2);
        _mm_storel_pi((__m64 *)(d + 2 * NN_MR + 4), hi);
        _mm_storeu_ps(d + 3 * NN_MR, r3);
        _mm_storeh_pi((__m64 *)(d + 3 * NN_MR + 4), hi);
    }
    for (; p < kc; p++)
        for (nn_idx i = 0; i < NN_MR; i++)
            dst[p * NN_MR + i] = src[i * rs + p];
}

static inline void nn_pack_cols_d(nn_idx kc, const double *src, nn_idx cs, double *dst)
{
    nn_idx p = 0;
    for (; p + 4 <= kc; p += 4)
        for (nn_idx jq = 0; jq < NN_NR_D; jq += 4) {
            const double *s = src + jq * cs + p;
            __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + cs);
            __m256d r2 = _mm256_loadu_pd(s + 2 * cs), r3 = _mm256_loadu_pd(s + 3 * cs);
            __m256d c0, c1, c2, c3;
            NN_TRANSPOSE4_D(r0, r1, r2, r3, c0, c1, c2, c3)
            double *d = dst + p * NN_NR_D + jq;
            _mm256_storeu_pd(d, c0);
            _mm256_storeu_pd(d + NN_NR_D, c1);
            _mm256_storeu_pd(d + 2 * NN_NR_D, c2);
            _mm256_storeu_pd(d + 3 * NN_NR_D, c3);
        }
    for (; p < kc; p++)
        for (nn_idx j = 0; j < NN_NR_D; j++)
            dst[p * NN_NR_D + j] = src[j * cs + p];
}

static inline void nn_pack_cols_f(nn_idx kc, const float *src, nn_idx cs, float *dst)
{
    nn_idx p = 0;
    for (; p + 4 <= kc; p += 4)
        for (nn_idx jq = 0; jq < NN_NR_F; jq += 4) {
            const float *s = src + jq * cs + p;
            __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + cs);
            __m128 r2 = _mm_loadu_ps(s + 2 * cs), r3 = _mm_loadu_ps(s + 3 * cs);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float *d = dst + p * NN_NR_F + jq;
            _mm_storeu_ps(d, r0);
            _mm_storeu_ps(d + NN_NR_F, r1);
            _mm_storeu_ps(d + 2 * NN_NR_F, r2);
            _mm_storeu_ps(d + 3 * NN_NR_F, r3);
        }
    for (; p < kc; p++)
        for (nn_idx j = 0; j < NN_NR_F; j++)
            dst[p * NN_NR_F + j] = src[j * cs + p];
}

#else  /* plain C: constant tile bounds, so the compiler keeps acc in SIMD registers */

#define NN_PLAIN_KERNEL(NAME, T, NR)                                                       \
static inline void NAME(nn_idx k, const T *a, const T *b, nn_idx ldb, T alpha, T beta,     \
                        T *c, nn_idx rsc, nn_idx csc, nn_idx mr, nn_idx nr)                \
{                                                                                          \
    T acc[NN_MR * NR] = {0};                                                               \
    for (nn_idx p = 0; p < k; p++)                                                         \
        for (nn_idx j = 0; j < NR; j++)                                                    \
            for (nn_idx i = 0; i < NN_MR; i++)                                             \
                acc[i * NR + j] += a[p * NN_MR + i] * b[p * ldb + j];                      \
    NN_STORE_TILE(T, acc, NR)                                                              \
}
NN_PLAIN_KERNEL(nn_kernel_d, double, NN_NR_D)
NN_PLAIN_KERNEL(nn_kernel_f, float, NN_NR_F)

#define NN_PLAIN_DOT_KERNEL(NAME, T)                                                       \
static inline void NAME(nn_idx k, const T *a, nn_idx lda, const T *b, nn_idx ldb,          \
                        T alpha, T beta, T *c, nn_idx rsc, nn_idx csc, nn_idx mr,          \
                        nn_idx nr)                                                         \
{                                                                                          \
    T tile[NN_DR * NN_DN];                                                                 \
    for (nn_idx i = 0; i < NN_DR; i++)                                                     \
        for (nn_idx j = 0; j < NN_DN; j++) {                                               \
            const T *x = a + (i < mr ? i : mr - 1) * lda, *y = b + (j < nr ? j : nr - 1) * ldb; \
            T s = 0;                                                                       \
            for (nn_idx p = 0; p < k; p++)                                                 \
                s += x[p] * y[p];                                                          \
            tile[i * NN_DN + j] = s;                                                       \
        }                                                                                  \
    NN_STORE_TILE(T, tile, NN_DN)                                                          \
}
NN_PLAIN_DOT_KERNEL(nn_dot_kernel_d, double)
NN_PLAIN_DOT_KERNEL(nn_dot_kernel_f, float)

/* The transposing packers (see the AVX2 versions) as plain loops. */
#define NN_PLAIN_PACK(NAME, T, N)                                                          \
static inline void NAME(nn_idx kc, const T *src, nn_idx ld, T *dst)                        \
{                                                                                          \
    for (nn_idx p = 0; p < kc; p++)                                                        \
        for (nn_idx i = 0; i < N; i++)                                                     \
            dst[p * N + i] = src[i * ld + p];                                              \
}
NN_PLAIN_PACK(nn_pack_rows_d, double, NN_MR)
NN_PLAIN_PACK(nn_pack_rows_f, float, NN_MR)
NN_PLAIN_PACK(nn_pack_cols_d, double, NN_NR_D)
NN_PLAIN_PACK(nn_pack_cols_f, float, NN_NR_F)

#endif
#endif
