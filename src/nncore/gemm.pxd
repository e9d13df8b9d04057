# Matrix products for the forward and backward passes:
#     C[m, n] = alpha * op(A) @ op(B) + beta * C
# with A and B given by a pointer and element strides (so transposes and slices need no copy)
# and C row-major. The shape picks the method:
#   - tiny products, vectors (m == 1) and thin sums (k < THIN_K): plain loops (gemm_small);
#   - A's rows and B's columns both contiguous (a batch times W.T) with few rows: the dot
#     kernel, which packs nothing (packing W.T would cost more than a small batch's product);
#   - the rest: BLIS's blocked algorithm (gemm_blocked): B packed KC x NC at a time into
#     NR-column slivers, A MC x KC at a time into MR-row panels, and an MR x NR register-blocked
#     micro-kernel (gemm_kernel.h) over every sliver and panel. Narrow C is computed as
#     C^T = B^T A^T when that pads the tiles less.
# Every element of C is one sum over k in a fixed order that depends only on the shape, never
# on the number of threads: threads (the blocked and dot methods, each with at least
# PARALLEL_WORK multiply-adds) split C's columns (the dot method: its longer side) among them,
# so the weights a fit computes are bit-identical for any number of threads. They pack A once,
# together, into a shared space.
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid

cdef extern from "nn_threads.h" nogil:
    int nn_team_size()      # threads in the current parallel region (1 outside one)
    void nn_barrier()       # waits for every thread of the current parallel region

cdef extern from "gemm_kernel.h" nogil:
    enum:
        MR "NN_MR"          # rows of a micro-tile (and of a packed A panel)
        NR_D "NN_NR_D"      # columns of a double micro-tile (and of a packed B sliver)
        NR_F "NN_NR_F"      # columns of a float micro-tile
        DR "NN_DR"          # rows of a dot-kernel tile
        DN "NN_DN"          # columns of a dot-kernel tile
    void nn_kernel_d(Py_ssize_t k, const double* a, const double* b, Py_ssize_t ldb,
                     double alpha, double beta, double* c, Py_ssize_t rsc, Py_ssize_t csc,
                     Py_ssize_t mr, Py_ssize_t nr)
    void nn_kernel_f(Py_ssize_t k, const float* a, const float* b, Py_ssize_t ldb,
                     float alpha, float beta, float* c, Py_ssize_t rsc, Py_ssize_t csc,
                     Py_ssize_t mr, Py_ssize_t nr)
    void nn_dot_kernel_d(Py_ssize_t k, const double* a, Py_ssize_t lda, const double* b,
                         Py_ssize_t ldb, double alpha, double beta, double* c,
                         Py_ssize_t rsc, Py_ssize_t csc, Py_ssize_t mr, Py_ssize_t nr)
    void nn_dot_kernel_f(Py_ssize_t k, const float* a, Py_ssize_t lda, const float* b,
                         Py_ssize_t ldb, float alpha, float beta, float* c,
                         Py_ssize_t rsc, Py_ssize_t csc, Py_ssize_t mr, Py_ssize_t nr)
    # transposing packers: an MR-row panel of row-major A, an NR-column sliver of B = W.T
    void nn_pack_rows_d(Py_ssize_t kc, const double* src, Py_ssize_t rs, double* dst)
    void nn_pack_rows_f(Py_ssize_t kc, const float* src, Py_ssize_t rs, float* dst)
    void nn_pack_cols_d(Py_ssize_t kc, const double* src, Py_ssize_t cs, double* dst)
    void nn_pack_cols_f(Py_ssize_t kc, const float* src, Py_ssize_t cs, float* dst)

cdef enum:
    NR = NR_F       # the widest sliver (float's), for workspace sizes
    KC = 256        # depth of a packed block: a KC x NR_D sliver (16 KB) stays in L1 while
                    # the A panels stream past it from L2
    MC = 96         # rows of A packed at a time: a 96 x 256 double block (192 KB) stays in L2
    NC = 1024       # columns of B packed at a time: a KC x NC panel (2 MB) stays in L3
    LINE = 16       # elements of the largest alignment slack (64 bytes of float)
    SMALL = 512     # m*n*k up to which the plain loops beat everything else
    THIN_K = 4      # sums shorter than this (a rank-1 product) go to the plain loops
    DOT_ROWS = 48   # rows (of the shorter side) up to which the dot kernel beats packing
    DIRECT_ROWS = 12    # with at most this many rows of A, B's rows are read in place when
                        # contiguous: so few panels do not repay packing B
    PARALLEL_WORK = 1 << 19  # multiply-adds per thread below which waking a thread costs
                             # more than it saves (512K: about 30 us on one core). Each
                             # parallel region is two waits for the slowest thread, and on a
                             # busy machine a wait can last a time slice: W3's output layer
                             # products (327K, about 40 us) stay on one thread.


# Elements of workspace gemm needs for an m x k times k x n product: a packed A block and a
# packed B panel, sized for either orientation (C or C^T), and the 2 x 64 bytes that moving
# each to a cache-line boundary may take.
cdef inline Py_ssize_t gemm_work_size(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t kc = k if k < KC else KC
    cdef Py_ssize_t wide = m if m > n else n
    return (((wide if wide < MC else MC) + MR - 1) // MR * MR * kc
            + kc * (((wide if wide < NC else NC) + NR - 1) // NR * NR) + 2 * LINE)


# Elements of the space in which several threads share A, packed whole (every k block, every
# MR-row panel) for an m x k times k x n product in either orientation, plus the alignment slack.
cdef inline Py_ssize_t gemm_shared_size(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t wide = m if m > n else n
    return (wide + MR - 1) // MR * MR * k + LINE


# The depth of gemm_blocked's k blocks: k split into equal blocks of at most KC.
cdef inline Py_ssize_t k_step(Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t blocks = (k + KC - 1) // KC
    return (k + blocks - 1) // blocks


# p moved forward to the next 64-byte boundary: a packed sliver's vector loads must not straddle
# cache lines (that costs the kernel a third of its speed).
cdef inline floating* line_start(floating* p) noexcept nogil:
    return p + (64 - <size_t>p % 64) % 64 // sizeof(floating)


cdef inline void kernel(Py_ssize_t k, const floating* a, const floating* b, Py_ssize_t ldb,
                        floating alpha, floating beta, floating* c, Py_ssize_t rsc,
                        Py_ssize_t csc, Py_ssize_t mr, Py_ssize_t nr) noexcept nogil:
    if floating is float:
        nn_kernel_f(k, a, b, ldb, alpha, beta, c, rsc, csc, mr, nr)
    else:
        nn_kernel_d(k, a, b, ldb, alpha, beta, c, rsc, csc, mr, nr)


# Packs the kc x nc block of B at b (strides rs, cs) into nrt-column slivers, row p of a sliver
# contiguous, zero-padded to a multiple of nrt; slivers first .. last - 1 only (those before
# `first` are read in place). Loop order follows B's unit stride: B row-major is a copy of row
# pieces; B = W.T is a transpose, done in 4 x 4 blocks in registers (nn_pack_cols_*).
cdef inline void pack_b(Py_ssize_t kc, Py_ssize_t nc, const floating* b, Py_ssize_t rs,
                        Py_ssize_t cs, floating* out, Py_ssize_t nrt, Py_ssize_t first,
                        Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t jt, jr, p, j, cols
    cdef const floating* src
    cdef floating* dst
    for jt in range(first, last):
        jr = jt * nrt
        cols = nrt if nc - jr > nrt else nc - jr
        src = b + jr * cs
        dst = out + jt * kc * nrt
        if cols == nrt and cs == 1:
            for p in range(kc):
                for j in range(nrt):
                    dst[p * nrt + j] = src[p * rs + j]
        elif cols == nrt and rs == 1:
            if floating is float:
                nn_pack_cols_f(kc, src, cs, dst)
            else:
                nn_pack_cols_d(kc, src, cs, dst)
        else:
            for p in range(kc):
                for j in range(cols):
                    dst[p * nrt + j] = src[p * rs + j * cs]
                for j in range(cols, nrt):
                    dst[p * nrt + j] = 0


# Packs the mc x kc block of A at a (strides rs, cs) into MR-row panels (column p of a panel:
# MR contiguous values). Rows past mc repeat the last row, so
# the kernel's padding rows hold finite numbers (their results are never stored). Loop order
# follows A's unit stride: A^T (a layer's deltas) is a copy of MR-long pieces; A row-major (a
# batch of rows) reads MR rows side by side, 4 columns at a time, transposed in registers
# (nn_pack_rows_*: gcc left the plain loops as scalar moves).
cdef inline void pack_a(Py_ssize_t mc, Py_ssize_t kc, const floating* a, Py_ssize_t rs,
                        Py_ssize_t cs, floating* out) noexcept nogil:
    cdef Py_ssize_t it, i, p, row
    cdef const floating* src
    cdef floating* dst
    for it in range((mc + MR - 1) // MR):
        dst = out + it * MR * kc
        src = a + it * MR * rs
        if (it + 1) * MR <= mc and rs == 1:
            for p in range(kc):
                for i in range(MR):
                    dst[p * MR + i] = src[p * cs + i]
        elif (it + 1) * MR <= mc and cs == 1:
            if floating is float:
                nn_pack_rows_f(kc, src, rs, dst)
            else:
                nn_pack_rows_d(kc, src, rs, dst)
        else:
            for i in range(MR):
                row = it * MR + i if it * MR + i < mc else mc - 1
                src = a + row * rs
                for p in range(kc):
                    dst[p * MR + i] = src[p * cs]


# Plain loops for products too small to repay anything else, vectors and thin sums. Rows of C
# at least 8 wide accumulate rank-1 updates (alpha * a[i, p]) * B[p, :], so the j loop
# vectorises when B's rows are contiguous; narrower rows take one dot product per element,
# in 4 partial sums when both operands are contiguous along k (a single running sum is a
# serial chain of additions). Handles k == 0 (C = beta * C); beta == 0 never reads C.
cdef inline void gemm_small(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                            const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                            const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                            floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    cdef Py_ssize_t i, j, p, t
    cdef floating s
    cdef floating part[4]
    cdef floating* ci
    cdef const floating* ai
    cdef const floating* bj
    cdef const floating* bp
    if n < 8:
        for i in range(m):
            for j in range(n):
                if csa == 1 and rsb == 1 and k >= 16:
                    ai = a + i * rsa
                    bj = b + j * csb
                    for t in range(4):
                        part[t] = 0
                    for p in range(k // 4):
                        for t in range(4):
                            part[t] = part[t] + ai[4 * p + t] * bj[4 * p + t]
                    s = (part[0] + part[2]) + (part[1] + part[3])
                    for p in range(k - k % 4, k):
                        s = s + ai[p] * bj[p]
                else:
                    s = 0
                    for p in range(k):
                        s = s + a[i * rsa + p * csa] * b[p * rsb + j * csb]
                if beta == 0:
                    c[i * ldc + j] = alpha * s
                else:
                    c[i * ldc + j] = alpha * s + beta * c[i * ldc + j]
        return
    for i in range(m):
        ci = c + i * ldc
        if beta == 0:
            for j in range(n):
                ci[j] = 0
        elif beta != 1:
            for j in range(n):
                ci[j] = beta * ci[j]
        for p in range(k):
            s = alpha * a[i * rsa + p * csa]
            bp = b + p * rsb
            if csb == 1:
                for j in range(n):
                    ci[j] += s * bp[j]
            else:
                for j in range(n):
                    ci[j] += s * bp[j * csb]


# C = alpha * A @ B + beta * C with A's rows (a + i*lda + p) and B's columns (b + j*ldb + p)
# contiguous along k: DR x DN tiles of dot products, nothing packed. Column tiles outer, so
# DN columns of B stay in L1 while A's rows pass.
cdef inline void gemm_dot(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                          const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb,
                          floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    cdef Py_ssize_t i, j, jt, it
    for jt in range((n + DN - 1) // DN):
        j = jt * DN
        for it in range((m + DR - 1) // DR):
            i = it * DR
            if floating is float:
                nn_dot_kernel_f(k, a + i * lda, lda, b + j * ldb, ldb, alpha, beta,
                                c + i * ldc + j, ldc, 1, DR if m - i > DR else m - i,
                                DN if n - j > DN else n - j)
            else:
                nn_dot_kernel_d(k, a + i * lda, lda, b + j * ldb, ldb, alpha, beta,
                                c + i * ldc + j, ldc, 1, DR if m - i > DR else m - i,
                                DN if n - j > DN else n - j)


# gemm_dot on up to `threads` threads, each with at least PARALLEL_WORK multiply-adds: the
# longer of C's sides split among them in whole tiles (each element is the same dot product
# whatever the split).
cdef inline void gemm_dot_parallel(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                                   const floating* a, Py_ssize_t lda, const floating* b,
                                   Py_ssize_t ldb, floating beta, floating* c, Py_ssize_t ldc,
                                   int threads) noexcept nogil:
    cdef bint by_rows = m > n
    cdef Py_ssize_t tile = DR if by_rows else DN
    cdef Py_ssize_t tiles = ((m if by_rows else n) + tile - 1) // tile, first, last
    cdef Py_ssize_t most = m * n * k // PARALLEL_WORK
    cdef int t
    if most < threads:
        threads = <int>most
    if tiles < threads:
        threads = <int>tiles
    if threads <= 1:
        gemm_dot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(threads, num_threads=threads, schedule="static"):
        first = tiles * t // threads * tile
        last = tiles * (t + 1) // threads * tile
        if by_rows:
            gemm_dot((m if last > m else last) - first, n, k, alpha, a + first * lda, lda, b,
                     ldb, beta, c + first * ldc, ldc)
        else:
            gemm_dot(m, (n if last > n else last) - first, k, alpha, a, lda, b + first * ldb,
                     ldb, beta, c + first, ldc)


# The slivers first .. last - 1 of the current B panel (packed: sliver_step apart, rows ldb
# apart) against the packed A block: each sliver stays in L1 while the panels of A pass.
cdef inline void macro_kernel(Py_ssize_t mc, Py_ssize_t nc, Py_ssize_t kc, floating alpha,
                              const floating* pa, const floating* pb, Py_ssize_t ldb,
                              Py_ssize_t sliver_step, floating beta, floating* c,
                              Py_ssize_t rsc, Py_ssize_t csc, Py_ssize_t nrt,
                              Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t jt, it, jr, ir
    for jt in range(first, last):
        jr = jt * nrt
        for it in range((mc + MR - 1) // MR):
            ir = it * MR
            kernel(kc, pa + it * MR * kc, pb + jt * sliver_step, ldb, alpha, beta,
                   c + ir * rsc + jr * csc, rsc, csc, MR if mc - ir > MR else mc - ir,
                   nrt if nc - jr > nrt else nc - jr)


# The blocked product into C at strides rsc, csc (csc != 1: C^T of the caller's product), one
# thread. k and n are split into equal blocks (no thin leftover block). B is packed unless A
# has so few rows that its slivers are read in place (rows contiguous, full slivers only).
# A is packed block by block into work, or read from `packed` (not NULL: pack_a_share's layout).
cdef inline void gemm_blocked(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                              const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                              const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                              floating beta, floating* c, Py_ssize_t rsc, Py_ssize_t csc,
                              floating* work, const floating* packed) noexcept nogil:
    cdef Py_ssize_t nrt = NR_F if floating is float else NR_D
    cdef Py_ssize_t jb, kb, ib, jc, pc, ic, nc, kc, mc, nc_step, kc_step, blocks, slivers, full
    cdef Py_ssize_t rows = (m + MR - 1) // MR * MR
    cdef floating beta_block
    cdef floating* pa = line_start(work)
    cdef floating* pb = line_start(pa + ((m if m < MC else MC) + MR - 1) // MR * MR
                                   * (k if k < KC else KC))
    cdef const floating* block_a
    cdef bint b_in_place = csb == 1 and m <= DIRECT_ROWS
    blocks = (n + NC - 1) // NC
    nc_step = ((n + blocks - 1) // blocks + nrt - 1) // nrt * nrt
    kc_step = k_step(k)
    for jb in range((n + nc_step - 1) // nc_step):
        jc = jb * nc_step
        nc = nc_step if n - jc > nc_step else n - jc
        slivers = (nc + nrt - 1) // nrt
        full = nc // nrt if b_in_place else 0
        for kb in range((k + kc_step - 1) // kc_step):
            pc = kb * kc_step
            kc = kc_step if k - pc > kc_step else k - pc
            beta_block = beta if pc == 0 else 1
            pack_b(kc, nc, b + pc * rsb + jc * csb, rsb, csb, pb, nrt, full, slivers)
            for ib in range((m + MC - 1) // MC):
                ic = ib * MC
                mc = MC if m - ic > MC else m - ic
                if packed != NULL:
                    block_a = packed + pc * rows + ic * kc
                else:
                    pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, pa)
                    block_a = pa
                if full:
                    macro_kernel(mc, nc, kc, alpha, block_a, b + pc * rsb + jc, rsb, nrt,
                                 beta_block, c + ic * rsc + jc * csc, rsc, csc, nrt, 0, full)
                macro_kernel(mc, nc, kc, alpha, block_a, pb, nrt, kc * nrt, beta_block,
                             c + ic * rsc + jc * csc, rsc, csc, nrt, full, slivers)


# Thread `part` of `parts` packs its share of A's MR-row panels, every k block, into `packed`:
# the block at depth pc (kc deep) starts at packed + pc * (m rounded up to MR), its panel of
# rows i .. i + MR - 1 at i * kc further on, as pack_a lays out a block (so the values, the
# padding rows included, are those one thread packs).
cdef inline void pack_a_share(Py_ssize_t m, Py_ssize_t k, const floating* a, Py_ssize_t rsa,
                              Py_ssize_t csa, floating* packed, int part,
                              int parts) noexcept nogil:
    cdef Py_ssize_t panels = (m + MR - 1) // MR, rows = panels * MR, kc_step = k_step(k)
    cdef Py_ssize_t first = panels * part // parts * MR
    cdef Py_ssize_t last = panels * (part + 1) // parts * MR
    cdef Py_ssize_t kb, pc, kc
    if last > m:
        last = m
    if first >= last:
        return
    for kb in range((k + kc_step - 1) // kc_step):
        pc = kb * kc_step
        kc = kc_step if k - pc > kc_step else k - pc
        pack_a(last - first, kc, a + first * rsa + pc * csa, rsa, csa,
               packed + pc * rows + first * kc)


# gemm_blocked on up to `threads` threads, in one parallel region: the threads pack A together
# into the shared space (pack_a_share), wait for each other, then thread t computes a
# contiguous range of C's columns, whole slivers from column 0, packing its slivers of B at
# work + t * stride. Every element of C is computed exactly as on one thread (same k blocks,
# same packed values, same tile, same order), so the result is the same bit for bit for any
# number of threads. The ranges follow the threads OpenMP actually starts (fewer when nested).
cdef inline void gemm_parallel(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                               const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                               const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                               floating beta, floating* c, Py_ssize_t rsc, Py_ssize_t csc,
                               floating* work, Py_ssize_t stride, int threads) noexcept nogil:
    cdef Py_ssize_t nrt = NR_F if floating is float else NR_D
    cdef Py_ssize_t slivers = (n + nrt - 1) // nrt, first, last
    cdef Py_ssize_t most = m * n * k // PARALLEL_WORK  # threads with enough work each
    cdef floating* shared = line_start(work + threads * stride)
    cdef int t, team
    if most < threads:
        threads = <int>most
    if slivers < threads:
        threads = <int>slivers
    if threads <= 1:
        gemm_blocked(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, work, NULL)
        return
    with parallel(num_threads=threads):
        t = threadid()
        team = nn_team_size()
        pack_a_share(m, k, a, rsa, csa, shared, t, team)
        nn_barrier()
        first = slivers * t // team * nrt
        last = slivers * (t + 1) // team * nrt
        if last > n:
            last = n
        if first < last:
            gemm_blocked(m, last - first, k, alpha, a, rsa, csa, b + first * csb, rsb, csb,
                         beta, c + first * csc, rsc, csc, work + t * stride, shared)


# Micro-tiles (in elements of C) an m x n product computes.
cdef inline Py_ssize_t tiled_area(Py_ssize_t m, Py_ssize_t n, Py_ssize_t nrt) noexcept nogil:
    return (m + MR - 1) // MR * MR * ((n + nrt - 1) // nrt * nrt)


# C = alpha * A @ B + beta * C. `threads` (>= 1) threads may share a large product; thread t
# packs into work + t * stride, stride >= gemm_work_size(m, n, k), and they share A at
# work + threads * stride, gemm_shared_size(m, n, k) more elements (neither is used with one
# thread). With k == 0, C = beta * C. beta == 0 never reads C. The method depends on the shape
# alone, never on `threads`.
cdef inline void gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                      const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                      const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                      floating beta, floating* c, Py_ssize_t ldc, floating* work,
                      Py_ssize_t stride, int threads) noexcept nogil:
    cdef Py_ssize_t nrt = NR_F if floating is float else NR_D
    if m <= 0 or n <= 0:
        return
    if k < THIN_K or m * n * k <= SMALL or m == 1 or n == 1:
        gemm_small(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc)
    elif csa == 1 and rsb == 1 and (m <= DOT_ROWS or n <= DOT_ROWS):
        gemm_dot_parallel(m, n, k, alpha, a, rsa, b, csb, beta, c, ldc, threads)
    elif 10 * tiled_area(n, m, nrt) < 9 * tiled_area(m, n, nrt):
        # C^T = B^T A^T pads less (C narrower than a tile): written transposed
        gemm_parallel(n, m, k, alpha, b, csb, rsb, a, csa, rsa, beta, c, 1, ldc, work, stride,
                      threads)
    else:
        gemm_parallel(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, 1, work, stride,
                      threads)
