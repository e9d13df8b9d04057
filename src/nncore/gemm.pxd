# Matrix products for the forward and backward passes:
#     C[m, n] = alpha * op(A) @ op(B) + beta * C
# with A and B given by a pointer and element strides (so transposes and slices need no copy)
# and C row-major. Tiny products run as plain loops. Larger ones pack B into contiguous
# KC x NR slivers (the only copy; skipped when A has few rows and B's rows are contiguous) and
# run an MR x NR micro-kernel that reads A in place: A enters only through scalar broadcasts, so
# its layout costs nothing, while the B rows are the vector operands. The kernel's inner loop is
# a rank-1 update the compiler vectorises (no reduction, so no -ffast-math) with all MR x NR
# accumulators held in SIMD registers. Narrow C gets a half-width tile or is computed as C^T.
from cython cimport floating

# Micro-tile shape per instruction-set level, fixed by the preprocessor because the register
# file differs: MR rows x NR columns of C (NR_D for double, NR_F for float, VL_* = elements per
# SIMD register; NN_* = narrow tile, half the accumulators, AVX-512 only). Each leaves room for
# MR broadcasts and one B vector next to the accumulators (AVX-512: 24 of 32 zmm; AVX2: 9 of 16
# ymm; SSE2: 9 of 16 xmm), and each is a shape gcc 12 unrolls into register accumulators;
# others (e.g. 4 x 8 double on AVX2) make it vectorise the k loop instead and spill, so
# re-check the assembly (objdump -d, look for the vfmadd loop) when changing them.
cdef extern from *:
    """
    #if defined(__AVX512F__)
    #define NNPY_GEMM_MR 6
    #define NNPY_GEMM_NR_D 32
    #define NNPY_GEMM_NR_F 64
    #define NNPY_GEMM_VL_D 8
    #define NNPY_GEMM_VL_F 16
    #define NNPY_GEMM_NN_D 16
    #define NNPY_GEMM_NN_F 32
    #define NNPY_GEMM_B_IN_PLACE 1
    #elif defined(__AVX2__)
    #define NNPY_GEMM_MR 3
    #define NNPY_GEMM_NR_D 12
    #define NNPY_GEMM_NR_F 24
    #define NNPY_GEMM_VL_D 4
    #define NNPY_GEMM_VL_F 8
    #define NNPY_GEMM_NN_D 12
    #define NNPY_GEMM_NN_F 24
    #define NNPY_GEMM_B_IN_PLACE 0
    #else
    #define NNPY_GEMM_MR 3
    #define NNPY_GEMM_NR_D 6
    #define NNPY_GEMM_NR_F 12
    #define NNPY_GEMM_VL_D 2
    #define NNPY_GEMM_VL_F 4
    #define NNPY_GEMM_NN_D 6
    #define NNPY_GEMM_NN_F 12
    #define NNPY_GEMM_B_IN_PLACE 0
    #endif
    """
    enum:
        MR "NNPY_GEMM_MR"        # rows of a micro-tile of C (same for both dtypes)
        NR "NNPY_GEMM_NR_F"      # widest micro-tile (float's); NR_D divides it
        NR_D "NNPY_GEMM_NR_D"    # columns of a double micro-tile
        NR_F "NNPY_GEMM_NR_F"    # columns of a float micro-tile
        VL_D "NNPY_GEMM_VL_D"    # doubles per SIMD register
        VL_F "NNPY_GEMM_VL_F"    # floats per SIMD register
        NN_D "NNPY_GEMM_NN_D"    # narrow double tile, for narrow C (divides NR_D)
        NN_F "NNPY_GEMM_NN_F"    # narrow float tile (divides NR_F)
        B_IN_PLACE "NNPY_GEMM_B_IN_PLACE"  # 1: the kernel may read B in place (AVX-512 only:
                                 # with a run-time B row stride gcc 12 vectorises the AVX2/SSE2
                                 # kernels across k instead, and they spill)

# Tile-width tags: the kernel and blocked loop are compiled once per width (a fused type, so
# the width is a compile-time constant there; a run-time width defeats the unrolling).
cdef struct Wide:
    char unused
cdef struct Narrow:
    char unused
ctypedef fused Width:
    Wide
    Narrow

cdef enum:
    KC = 128        # depth of a B sliver: KC x NR_D doubles = KC x NR_F floats = 32 KB on
                    # AVX-512, which stays in L1 (48 KB) while A's rows stream past it
    MC = 256        # not a block size (A is not packed): the workspace formula's A term, room
                    # for the transposed orientation C^T = B^T A^T (packs A^T) when m <= MC
    NC = 1024       # columns of B packed at a time: a KC x NC panel (<= 1 MB) stays in L2
    DIRECT_ROWS = 64    # m up to which B is read in place (when its rows are contiguous):
                        # fewer row tiles than this do not repay packing B
    L1_PANEL = 4096 # elements of a packed B panel small enough to sweep C row by row
    SMALL = 512     # m*n*k up to which the plain loops beat packing


# Elements of workspace gemm needs (the formula _core.pyx's matmul_work_size uses).
cdef inline Py_ssize_t gemm_work_size(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t kc = k if k < KC else KC
    return (((m if m < MC else MC) + MR - 1) // MR * MR * kc
            + kc * (((n if n < NC else NC) + NR - 1) // NR * NR))


# Elements of the packed B panel for an n-column product at dtype-width nr.
cdef inline Py_ssize_t pack_size(Py_ssize_t n, Py_ssize_t k, Py_ssize_t nr) noexcept nogil:
    return (k if k < KC else KC) * (((n if n < NC else NC) + nr - 1) // nr * nr)


# The micro-kernel: acc = A-tile (MR x k, read in place at a with strides rsa, csa; rows past mr
# repeat row mr - 1 so nothing outside A is read) times a B sliver (k x nrt, rows ldb apart:
# packed, or B itself when its rows are contiguous), then C-tile = alpha * acc + beta * C-tile
# on its valid mr x nr corner (beta == 0: C not read). C has strides rsc, csc: csc != 1 is the
# transposed orientation. w only selects the tile width nrt at compile time.
cdef inline void micro_kernel(Width w, Py_ssize_t k,
                              const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                              const floating* pb, Py_ssize_t ldb, floating alpha, floating beta,
                              floating* c, Py_ssize_t rsc, Py_ssize_t csc,
                              Py_ssize_t mr, Py_ssize_t nr) noexcept nogil:
    cdef floating acc[MR * NR]
    cdef floating tile[MR * NR]
    cdef Py_ssize_t ro[MR]
    cdef Py_ssize_t p, i, j, jv, nrt, vl, step
    cdef floating bj
    # Compile-time per dtype and width: constants let gcc unroll the i/j loops into registers
    if floating is float:
        nrt = NR_F if Width is Wide else NN_F
        vl = VL_F
    else:
        nrt = NR_D if Width is Wide else NN_D
        vl = VL_D
    step = ldb if B_IN_PLACE else nrt    # a constant where B is always packed
    for i in range(MR):
        ro[i] = (i if i < mr else mr - 1) * rsa
    for i in range(MR * NR):
        acc[i] = 0
    # j outer, i inner, split into register-wide chunks of vl: this loop order is what gcc
    # turns into MR broadcasts + NR/vl vector loads + MR*NR/vl FMAs per step, no spills
    for p in range(k):
        for jv in range(nrt // vl):
            for j in range(vl):
                bj = pb[p * step + jv * vl + j]
                for i in range(MR):
                    acc[i * nrt + jv * vl + j] += a[ro[i] + p * csa] * bj
    if mr == MR and nr == nrt and csc == 1:
        # Full tile of row-major C: constant bounds, vectorised stores
        if beta == 0:
            for i in range(MR):
                for j in range(nrt):
                    c[i * rsc + j] = alpha * acc[i * nrt + j]
        else:
            for i in range(MR):
                for j in range(nrt):
                    c[i * rsc + j] = alpha * acc[i * nrt + j] + beta * c[i * rsc + j]
        return
    # Edge or transposed tile: via a buffer, so acc keeps only constant indices (registers)
    for i in range(MR):
        for j in range(nrt):
            tile[i * nrt + j] = acc[i * nrt + j]
    for i in range(mr):
        for j in range(nr):
            if beta == 0:
                c[i * rsc + j * csc] = alpha * tile[i * nrt + j]
            else:
                c[i * rsc + j * csc] = alpha * tile[i * nrt + j] + beta * c[i * rsc + j * csc]


# Packs the kc x nc block of B at b into nrt-column slivers (row p of a sliver contiguous),
# zero-padded to a multiple of nrt. Loop order follows B's unit stride: B row-major is a plain
# copy of row pieces; B = W.T is a transpose, done in 4 x 4 blocks (gcc turns those into vector
# loads and shuffles; twice as fast as a column at a time).
cdef inline void pack_b(Py_ssize_t kc, Py_ssize_t nc, const floating* b, Py_ssize_t rs,
                        Py_ssize_t cs, floating* out, Py_ssize_t nrt) noexcept nogil:
    cdef Py_ssize_t jt, jr, p, j, q, pq, jq, cols
    cdef const floating* src
    for jt in range((nc + nrt - 1) // nrt):
        jr = jt * nrt
        cols = nrt if nc - jr > nrt else nc - jr
        src = b + jr * cs
        if cols == nrt and cs == 1:
            for p in range(kc):
                for j in range(nrt):
                    out[p * nrt + j] = src[p * rs + j]
        elif cols == nrt and rs == 1:
            for pq in range(kc // 4):
                for jq in range(nrt // 4):
                    for q in range(4):
                        for j in range(4):
                            out[(pq * 4 + q) * nrt + jq * 4 + j] = \
                                src[(jq * 4 + j) * cs + pq * 4 + q]
            # the rows and columns (nrt = 6 on SSE2) the 4 x 4 blocks leave over
            for p in range(kc - kc % 4):
                for j in range(nrt - nrt % 4, nrt):
                    out[p * nrt + j] = src[j * cs + p]
            for p in range(kc - kc % 4, kc):
                for j in range(nrt):
                    out[p * nrt + j] = src[j * cs + p]
        else:
            for p in range(kc):
                for j in range(cols):
                    out[p * nrt + j] = src[p * rs + j * cs]
                for j in range(cols, nrt):
                    out[p * nrt + j] = 0
        out += kc * nrt


# Plain loops for products too small to repay packing. Rows of C at least 8 wide accumulate
# rank-1 updates (alpha * a[i, p]) * B[p, :], so the j loop vectorises when B's rows are
# contiguous and has independent chains otherwise; narrower rows take one dot product per
# element (a latency chain, but no loop set-up: fastest for 2 x 2). Handles k == 0 (C = beta * C);
# beta == 0 never reads C.
cdef inline void gemm_small(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                            const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                            const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                            floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    cdef Py_ssize_t i, j, p
    cdef floating s
    cdef floating* ci
    cdef const floating* bp
    if n < 8:
        for i in range(m):
            for j in range(n):
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


# The blocked product with C at strides rsc, csc: B packed KC x NC at a time (k and n split
# into equal blocks, so no thin leftover block), then every NR-sliver of it against all of A.
cdef inline void gemm_blocked(Width w, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                              const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                              const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                              floating beta, floating* c, Py_ssize_t rsc, Py_ssize_t csc,
                              floating* work) noexcept nogil:
    cdef Py_ssize_t nrt
    cdef Py_ssize_t full, ldb
    cdef const floating* pb
    cdef Py_ssize_t jb, jc, kb, pc, jt, jr, it, ir, nc, kc, nc_step, kc_step, blocks
    cdef Py_ssize_t t, n_jt, n_it
    cdef bint rows_first
    cdef floating beta_block
    if floating is float:
        nrt = NR_F if Width is Wide else NN_F
    else:
        nrt = NR_D if Width is Wide else NN_D
    blocks = (n + NC - 1) // NC
    nc_step = ((n + blocks - 1) // blocks + nrt - 1) // nrt * nrt
    blocks = (k + KC - 1) // KC
    kc_step = (k + blocks - 1) // blocks
    for jb in range((n + nc_step - 1) // nc_step):
        jc = jb * nc_step
        nc = nc_step if n - jc > nc_step else n - jc
        for kb in range((k + kc_step - 1) // kc_step):
            pc = kb * kc_step
            kc = kc_step if k - pc > kc_step else k - pc
            # Few rows of A: packing B would cost as much as the product, so read B's full
            # slivers in place when its rows are contiguous (pack only the ragged last one)
            full = nc // nrt * nrt if B_IN_PLACE and csb == 1 and m <= DIRECT_ROWS else 0
            pack_b(kc, nc - full, b + pc * rsb + (jc + full) * csb, rsb, csb, work, nrt)
            beta_block = beta if pc == 0 else 1
            # Usually a B sliver stays in L1 while all of A's rows (from L2) pass over it; a
            # shallow panel (k of 10, say) fits L1 whole, and then C is swept row by row
            rows_first = kc * nc <= L1_PANEL
            n_jt = (nc + nrt - 1) // nrt
            n_it = (m + MR - 1) // MR
            for t in range(n_jt * n_it):
                if rows_first:
                    it = t // n_jt
                    jt = t - it * n_jt
                else:
                    jt = t // n_it
                    it = t - jt * n_it
                jr = jt * nrt
                ir = it * MR
                if jr < full:
                    pb = b + pc * rsb + jc + jr
                    ldb = rsb
                else:
                    pb = work + (jr - full) * kc
                    ldb = nrt
                micro_kernel(w, kc, a + ir * rsa + pc * csa, rsa, csa, pb, ldb,
                             alpha, beta_block, c + ir * rsc + (jc + jr) * csc, rsc, csc,
                             MR if m - ir > MR else m - ir,
                             nrt if nc - jr > nrt else nc - jr)


# Micro-tiles (in elements of C) an m x n product computes at tile shape MR x nrt.
cdef inline Py_ssize_t tiled_area(Py_ssize_t m, Py_ssize_t n, Py_ssize_t nrt) noexcept nogil:
    return (m + MR - 1) // MR * MR * ((n + nrt - 1) // nrt * nrt)


# gemm for products worth packing (k >= 1).
cdef inline void gemm_large(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                            const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                            const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                            floating beta, floating* c, Py_ssize_t ldc,
                            floating* work) noexcept nogil:
    cdef Py_ssize_t wide, narrow, best, choice
    cdef Wide wide_tile = Wide(0)
    cdef Narrow narrow_tile = Narrow(0)
    # Pick the orientation (C, or C^T = B^T A^T written transposed) and the tile width (wide, or
    # narrow for narrow C such as a 10-unit layer) that pad C least, weighted by their speed per
    # element (narrow tiles have half the accumulators); the swap must fit the workspace
    wide = NR_F if floating is float else NR_D
    narrow = NN_F if floating is float else NN_D
    best = 20 * tiled_area(m, n, wide)
    choice = 0
    if 22 * tiled_area(m, n, narrow) < best:
        best = 22 * tiled_area(m, n, narrow)
        choice = 1
    if pack_size(m, k, narrow) <= gemm_work_size(m, n, k):
        if 26 * tiled_area(n, m, wide) < best and pack_size(m, k, wide) <= gemm_work_size(m, n, k):
            best = 26 * tiled_area(n, m, wide)
            choice = 2
        if 29 * tiled_area(n, m, narrow) < best:
            choice = 3
    if choice == 0:
        gemm_blocked(wide_tile, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, 1, work)
    elif choice == 1:
        gemm_blocked(narrow_tile, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, 1, work)
    elif choice == 2:
        gemm_blocked(wide_tile, n, m, k, alpha, b, csb, rsb, a, csa, rsa, beta, c, 1, ldc, work)
    else:
        gemm_blocked(narrow_tile, n, m, k, alpha, b, csb, rsb, a, csa, rsa, beta, c, 1, ldc, work)


# C = alpha * A @ B + beta * C. `work` holds gemm_work_size(m, n, k) elements. With k == 0,
# C = beta * C. beta == 0 never reads C. Kept small so it inlines into callers: tiny products
# then cost no more than the plain loops.
cdef inline void gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                      const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                      const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                      floating beta, floating* c, Py_ssize_t ldc, floating* work) noexcept nogil:
    if m <= 0 or n <= 0:
        return
    if k <= 0 or m * n * k <= SMALL:
        gemm_small(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc)
    else:
        gemm_large(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, work)
