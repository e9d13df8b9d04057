# Matrix products for the forward and backward passes:
#     C[m, n] = alpha * op(A) @ op(B) + beta * C
# with A and B given by a pointer and element strides (so transposes and slices need no copy)
# and C row-major. Small products run as plain loops; larger ones pack A and B into contiguous
# panels (BLIS-style cache blocking) and run a register-blocked MR x NR micro-kernel whose inner
# loop is a rank-1 update the compiler vectorises (no reduction, so no -ffast-math needed).
from cython cimport floating

cdef enum:
    MR = 4          # rows of a micro-tile of C
    NR = 16         # columns of a micro-tile of C (one to four SIMD registers)
    KC = 256        # depth of packed panels: an MR x KC and a KC x NR sliver stay in L1
    MC = 128        # rows of A packed at a time (an MC x KC block stays in L2)
    NC = 2048       # columns of B packed at a time
    SMALL = 8192    # m*n*k below which the plain loops win


# Elements of workspace `gemm` needs for packing (the caller allocates it).
cdef inline Py_ssize_t gemm_work_size() noexcept nogil:
    return MC * KC + KC * NC


# The micro-kernel: acc = A-sliver (k x MR, packed) times B-sliver (k x NR, packed), then
# C-tile = alpha * acc + beta * C-tile for its valid mr x nr corner (beta == 0: C not read).
cdef inline void micro_kernel(Py_ssize_t k, const floating* pa, const floating* pb,
                              floating alpha, floating beta, floating* c, Py_ssize_t ldc,
                              Py_ssize_t mr, Py_ssize_t nr) noexcept nogil:
    cdef floating acc[MR * NR]
    cdef Py_ssize_t p, i, j
    for i in range(MR * NR):
        acc[i] = 0
    for p in range(k):
        for i in range(MR):
            for j in range(NR):
                acc[i * NR + j] += pa[p * MR + i] * pb[p * NR + j]
    if beta == 0:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] = alpha * acc[i * NR + j]
    else:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] = alpha * acc[i * NR + j] + beta * c[i * ldc + j]


# Packs the mc x kc block of A at a into MR-row slivers, zero-padded to a multiple of MR.
cdef inline void pack_a(Py_ssize_t mc, Py_ssize_t kc, const floating* a, Py_ssize_t rs,
                        Py_ssize_t cs, floating* out) noexcept nogil:
    cdef Py_ssize_t panel, ir, p, i, rows
    for panel in range((mc + MR - 1) // MR):
        ir = panel * MR
        rows = MR if mc - ir > MR else mc - ir
        for p in range(kc):
            for i in range(rows):
                out[p * MR + i] = a[(ir + i) * rs + p * cs]
            for i in range(rows, MR):
                out[p * MR + i] = 0
        out += kc * MR


# Packs the kc x nc block of B at b into NR-column slivers, zero-padded to a multiple of NR.
cdef inline void pack_b(Py_ssize_t kc, Py_ssize_t nc, const floating* b, Py_ssize_t rs,
                        Py_ssize_t cs, floating* out) noexcept nogil:
    cdef Py_ssize_t panel, jr, p, j, cols
    for panel in range((nc + NR - 1) // NR):
        jr = panel * NR
        cols = NR if nc - jr > NR else nc - jr
        for p in range(kc):
            for j in range(cols):
                out[p * NR + j] = b[p * rs + (jr + j) * cs]
            for j in range(cols, NR):
                out[p * NR + j] = 0
        out += kc * NR


# Plain triple loop, for products too small to repay packing.
cdef inline void gemm_small(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                            const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                            const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                            floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    cdef Py_ssize_t i, j, p
    cdef floating s
    for i in range(m):
        for j in range(n):
            s = 0
            for p in range(k):
                s = s + a[i * rsa + p * csa] * b[p * rsb + j * csb]
            if beta == 0:
                c[i * ldc + j] = alpha * s
            else:
                c[i * ldc + j] = alpha * s + beta * c[i * ldc + j]


# C = alpha * A @ B + beta * C. `work` holds gemm_work_size() elements. With k == 0, C = beta * C.
cdef inline void gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating alpha,
                      const floating* a, Py_ssize_t rsa, Py_ssize_t csa,
                      const floating* b, Py_ssize_t rsb, Py_ssize_t csb,
                      floating beta, floating* c, Py_ssize_t ldc, floating* work) noexcept nogil:
    cdef Py_ssize_t jc, pc, ic, jr, ir, nc, kc, mc, jb, pb, ib, jt, it
    cdef floating beta_block
    cdef floating* packed_a = work
    cdef floating* packed_b
    if m * n * k <= SMALL:
        gemm_small(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc)
        return
    # packed B follows the largest packed block of A: round_up(min(m, MC), MR) x min(k, KC)
    packed_b = work + ((m if m < MC else MC) + MR - 1) // MR * MR * (k if k < KC else KC)
    for jb in range((n + NC - 1) // NC):
        jc = jb * NC
        nc = NC if n - jc > NC else n - jc
        for pb in range((k + KC - 1) // KC):
            pc = pb * KC
            kc = KC if k - pc > KC else k - pc
            pack_b(kc, nc, b + pc * rsb + jc * csb, rsb, csb, packed_b)
            beta_block = beta if pc == 0 else 1
            for ib in range((m + MC - 1) // MC):
                ic = ib * MC
                mc = MC if m - ic > MC else m - ic
                pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, packed_a)
                for jt in range((nc + NR - 1) // NR):
                    jr = jt * NR
                    for it in range((mc + MR - 1) // MR):
                        ir = it * MR
                        micro_kernel(kc, packed_a + ir * kc, packed_b + jr * kc,
                                     alpha, beta_block, c + (ic + ir) * ldc + jc + jr, ldc,
                                     MR if mc - ir > MR else mc - ir,
                                     NR if nc - jr > NR else nc - jr)
