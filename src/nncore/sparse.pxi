# Sparse inputs: X as CSR rows (one-hot and text features). Only the first layer reads X, so
# only its two products change: the forward Z_1 = X @ W_0.T + b_0 and the weight gradient
# dW_0 = D_1.T @ X. Both run over each row's stored values and never form a dense row.
# The passes (batch.pxi) take the rows through Layout.sparse_x; NULL there means dense x.
# Included in _core.pyx before batch.pxi.
from libc.stdint cimport int32_t, int64_t


# X in compressed sparse rows, for the kernels (pointers into a CsrRows' arrays).
cdef struct Csr:
    const void* data            # stored values, in the network's float type
    const int32_t* indices32    # column of each value (int32 indices), or NULL
    const int64_t* indices64    # column of each value (int64 indices), or NULL
    const Py_ssize_t* indptr    # row i's values: data[indptr[i] .. indptr[i + 1] - 1]
    Py_ssize_t n_cols           # columns of X (n_0)
    void* scratch               # n_0 x n_1 values: W_0.T for the forward pass, then a row
                                # of dW_0 per thread for the gradient (the caller's array)


# Column of stored value p.
cdef inline Py_ssize_t csr_column(const Csr* csr, Py_ssize_t p) noexcept nogil:
    return csr.indices32[p] if csr.indices32 != NULL else csr.indices64[p]


# Z = X_rows @ W.T + b for rows[first + i] (first + i when rows is NULL), i < count:
# W (n_out x n_0) is copied transposed into the scratch, then each row of Z starts at b and
# adds value * W.T[column] for its stored values in index order. Rows are split among threads
# (each row's sums are the same on any thread).
cdef void csr_forward(const Csr* csr, const Py_ssize_t* rows, Py_ssize_t first,
                      Py_ssize_t count, const floating* w, const floating* b, Py_ssize_t n_out,
                      floating* z, int threads) noexcept nogil:
    cdef floating* wt = <floating*>csr.scratch
    cdef const floating* data = <const floating*>csr.data
    cdef Py_ssize_t n_in = csr.n_cols, i, j, k, p, row, nnz = 0
    cdef int used
    for k in range(n_in):
        for j in range(n_out):
            wt[k * n_out + j] = w[j * n_in + k]
    for i in range(count):
        row = rows[first + i] if rows != NULL else first + i
        nnz += csr.indptr[row + 1] - csr.indptr[row]
    used = element_threads(nnz * n_out, threads)
    if used <= 1:
        for i in range(count):
            csr_forward_row(csr, data, wt, rows[first + i] if rows != NULL else first + i,
                            b, n_out, z + i * n_out)
        return
    for i in prange(count, num_threads=used, schedule="static"):
        csr_forward_row(csr, data, wt, rows[first + i] if rows != NULL else first + i,
                        b, n_out, z + i * n_out)


# One row of csr_forward: z = b + sum over the row's stored values of value * wt[column].
cdef inline void csr_forward_row(const Csr* csr, const floating* data, const floating* wt,
                                 Py_ssize_t row, const floating* b, Py_ssize_t n_out,
                                 floating* z) noexcept nogil:
    cdef Py_ssize_t j, p
    cdef floating v
    cdef const floating* wk
    for j in range(n_out):
        z[j] = b[j]
    for p in range(csr.indptr[row], csr.indptr[row + 1]):
        v = data[p]
        wk = wt + csr_column(csr, p) * n_out
        for j in range(n_out):
            z[j] += v * wk[j]


# Rows lo .. hi - 1 of dW (units j of the first hidden layer) for csr_weight_gradient: each
# row's sums over the batch's rows in order into `row_sum` (n_0 values, zeroed first), then
# dW[j] = scale * row_sum + beta * dW[j]. A row of dW stays in L1 while the values pass.
cdef inline void csr_gradient_units(const Csr* csr, const floating* data, const Py_ssize_t* rows,
                                    Py_ssize_t first, Py_ssize_t count, const floating* d,
                                    Py_ssize_t n_out, floating scale, floating beta,
                                    floating* grad_w, floating* row_sum, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t n_in = csr.n_cols, i, j, k, p, row
    cdef floating dij
    cdef floating* gj
    for j in range(lo, hi):
        memset(row_sum, 0, n_in * sizeof(floating))
        for i in range(count):
            row = rows[first + i] if rows != NULL else first + i
            dij = d[i * n_out + j]
            for p in range(csr.indptr[row], csr.indptr[row + 1]):
                row_sum[csr_column(csr, p)] += dij * data[p]
        gj = grad_w + j * n_in
        if beta == 0:
            for k in range(n_in):
                gj[k] = scale * row_sum[k]
        else:
            for k in range(n_in):
                gj[k] = scale * row_sum[k] + beta * gj[k]


# dW = scale * D.T @ X_rows + beta * dW (dW n_out x n_0; D count x n_out, the first hidden
# layer's deltas; beta 0: dW not read), in the dense gemm's form: each element one sum over
# the rows in order, then scaled. The units (rows of dW) are split among threads, each with
# its n_0 values of the scratch (each element's sum is the same on any thread).
cdef void csr_weight_gradient(const Csr* csr, const Py_ssize_t* rows, Py_ssize_t first,
                              Py_ssize_t count, const floating* d, Py_ssize_t n_out,
                              floating scale, floating beta, floating* grad_w,
                              int threads) noexcept nogil:
    cdef const floating* data = <const floating*>csr.data
    cdef floating* scratch = <floating*>csr.scratch
    cdef Py_ssize_t i, row, nnz = 0
    cdef int t, used
    for i in range(count):
        row = rows[first + i] if rows != NULL else first + i
        nnz += csr.indptr[row + 1] - csr.indptr[row]
    used = element_threads(max_(nnz, csr.n_cols) * n_out, threads)
    if used > n_out:
        used = <int>n_out
    if used <= 1:
        csr_gradient_units(csr, data, rows, first, count, d, n_out, scale, beta, grad_w,
                           scratch, 0, n_out)
        return
    for t in prange(used, num_threads=used, schedule="static"):
        csr_gradient_units(csr, data, rows, first, count, d, n_out, scale, beta, grad_w,
                           scratch + t * csr.n_cols, n_out * t // used,
                           n_out * (t + 1) // used)


# Stored values of X that are inf or NaN (nnz of them, float or double as is_float says).
cdef Py_ssize_t csr_nonfinite(const Csr* csr, Py_ssize_t nnz, bint is_float) noexcept nogil:
    cdef Py_ssize_t p, bad = 0
    for p in range(nnz):
        bad += nonfinite((<const float*>csr.data)[p]) if is_float \
            else nonfinite((<const double*>csr.data)[p])
    return bad


cdef class CsrRows:
    """X (n_rows x n_cols) as compressed sparse rows, checked for the core: data (float32 or
    float64, the network's dtype), indices (int32 or int64, each in 0 .. n_cols - 1) and
    indptr (np.intp, n_rows + 1 non-decreasing offsets from 0 to len(data)), all C-contiguous.
    The arrays are kept, not copied. fit, forward and loss_and_gradient take it as `sparse_x`
    (then X is any (0, 0) array of the dtype)."""
    cdef readonly object data       # stored values
    cdef readonly object indices    # their columns
    cdef readonly object indptr     # where each row's values start
    cdef readonly Py_ssize_t n_rows, n_cols
    cdef Csr csr                    # pointers into the arrays (scratch set per call)

    def __init__(self, data, indices, indptr, Py_ssize_t n_cols):
        cdef cnp.ndarray d = np.ascontiguousarray(data)
        cdef cnp.ndarray ind = np.ascontiguousarray(indices)
        cdef const Py_ssize_t[::1] ptr = np.ascontiguousarray(indptr, dtype=np.intp)
        cdef Py_ssize_t n_rows = ptr.shape[0] - 1, i, nnz = d.shape[0] if d.ndim == 1 else -1
        cdef bint bad = 0
        if d.dtype != np.float32 and d.dtype != np.float64 or d.ndim != 1:
            raise ValueError("data must be a 1-D float32 or float64 array")
        if ind.dtype != np.int32 and ind.dtype != np.int64 or ind.ndim != 1:
            raise ValueError("indices must be a 1-D int32 or int64 array")
        if n_rows < 0 or ind.shape[0] != nnz or ptr[0] != 0 or ptr[n_rows] != nnz:
            raise ValueError("indptr must run from 0 to len(data) == len(indices)")
        if n_cols < 1:
            raise ValueError("n_cols must be at least 1")
        for i in range(n_rows):
            bad |= ptr[i + 1] < ptr[i]
        if bad:
            raise ValueError("indptr must be non-decreasing")
        if nnz and (ind.min() < 0 or ind.max() >= n_cols):
            raise ValueError(f"indices must lie in 0 .. {n_cols - 1}")
        self.data, self.indices, self.indptr = d, ind, np.asarray(ptr)
        self.n_rows, self.n_cols = n_rows, n_cols
        self.csr.data = cnp.PyArray_DATA(d)
        self.csr.indices32 = <const int32_t*>cnp.PyArray_DATA(ind) if ind.dtype == np.int32 \
            else NULL
        self.csr.indices64 = <const int64_t*>cnp.PyArray_DATA(ind) if ind.dtype == np.int64 \
            else NULL
        self.csr.indptr = &ptr[0]
        self.csr.n_cols = n_cols
        self.csr.scratch = NULL

    @property
    def shape(self):
        return (self.n_rows, self.n_cols)

    def __len__(self):
        return self.n_rows

    def row_values(self, Py_ssize_t first, Py_ssize_t count):
        """The stored values of rows first .. first + count - 1 (for error messages)."""
        return self.data[self.indptr[first]:self.indptr[first + count]]


# Fills *out with sparse_x's pointers for a call on `rows` rows into a network whose first
# layer has n_1 units, after its checks (ValueError), with scratch space of its own (kept
# alive by the caller through `hold`, a list): calls sharing one CsrRows share nothing else.
cdef int csr_for_call(CsrRows sparse_x, object dtype, const Net* net, Py_ssize_t rows,
                      list hold, Csr* out) except -1:
    if sparse_x.data.dtype != dtype:
        raise ValueError(f"sparse X holds {sparse_x.data.dtype}; the network computes in "
                         f"{np.dtype(dtype).name}")
    check_rows("X", sparse_x.n_rows, sparse_x.n_cols, rows, net.sizes[0])
    scratch = np.empty(net.sizes[0] * net.sizes[1], dtype)
    hold.append(scratch)
    out[0] = sparse_x.csr
    out.scratch = cnp.PyArray_DATA(<cnp.ndarray>scratch)
    return 0
