# The post's kernels: elementwise functions and matrix products over memoryviews, the pieces
# nnpy.post's API calls (beside _post.pyx's glue; tests use them on their own). Included in
# _core.pyx.

def sigmoid_array(const floating[::1] x, object out):
    """out = 1/(1+exp(-x)), elementwise over contiguous arrays; no overflow for any x."""
    cdef floating[::1] o = writable(out, "out", dtype_of(<floating>0))
    cdef Py_ssize_t i, n = x.shape[0]
    if o.shape[0] != n:
        raise ValueError("out must have as many elements as x")
    with nogil:
        for i in range(n):
            o[i] = sigmoid(x[i])


def sigmoid_prime_array(const floating[::1] x, object out):
    """out = s*(1-s) with s = sigmoid(x), elementwise over contiguous arrays."""
    cdef floating[::1] o = writable(out, "out", dtype_of(<floating>0))
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating s
    if o.shape[0] != n:
        raise ValueError("out must have as many elements as x")
    with nogil:
        for i in range(n):
            s = sigmoid(x[i])
            o[i] = sigmoid_derivative(s)


def count_nonfinite(const floating[::1] x):
    """Number of inf and NaN values in x, counted without a temporary array."""
    cdef Py_ssize_t i, bad = 0
    with nogil:
        for i in range(x.shape[0]):
            bad += nonfinite(x[i])
    return bad


cdef inline Py_ssize_t elem_stride(Py_ssize_t stride_bytes, Py_ssize_t itemsize, str name) except? -1:
    if stride_bytes % itemsize:
        raise ValueError(f"{name} has a stride that is not a whole number of elements")
    return stride_bytes // itemsize


cdef refuse_shared(object out, str out_name, object source, str source_name):
    """ValueError if the output `out` may share memory with the input `source`, which a kernel
    reads while it writes `out` (a product into one of its factors)."""
    if isinstance(source, np.ndarray) and np.may_share_memory(out, source):
        raise ValueError(f"{out_name} overlaps {source_name}; pass a separate array for the result")


def matmul(double alpha, const floating[:, :] a, const floating[:, :] b, double beta,
           object c, object work, int threads=1):
    """c = alpha * a @ b + beta * c. a and b may be any strided views (a transpose is W.T);
    work holds matmul_work_size(m, n, k, threads) elements. beta == 0 does not read c. c must
    not overlap a or b. threads: how many threads a large product may use (the same result
    for any number)."""
    cdef floating[:, ::1] cv = writable(c, "c", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    refuse_shared(c, "c", a.base, "a")
    refuse_shared(c, "c", b.base, "b")
    refuse_shared(work, "work", a.base, "a")
    refuse_shared(work, "work", b.base, "b")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    matmul_into(alpha, a, b, beta, cv, wv, threads)


cdef matmul_into(double alpha, const floating[:, :] a, const floating[:, :] b, double beta,
                 floating[:, ::1] c, floating[::1] work, int threads):
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef Py_ssize_t size = sizeof(floating)
    cdef Py_ssize_t rsa = elem_stride(a.strides[0], size, "a"), csa = elem_stride(a.strides[1], size, "a")
    cdef Py_ssize_t rsb = elem_stride(b.strides[0], size, "b"), csb = elem_stride(b.strides[1], size, "b")
    if b.shape[0] != k:
        raise ValueError(f"a is {m} x {k} but b is {b.shape[0]} x {n}")
    if c.shape[0] != m or c.shape[1] != n:
        raise ValueError(f"c must be {m} x {n}, got {c.shape[0]} x {c.shape[1]}")
    if work.shape[0] < matmul_work_size(m, n, k, threads):
        raise ValueError(f"work has {work.shape[0]} elements; "
                         f"{matmul_work_size(m, n, k, threads)} needed")
    if m == 0 or n == 0:
        return
    with nogil:
        gemm(m, n, k, <floating>alpha, &a[0, 0] if k else NULL, rsa, csa,
             &b[0, 0] if k else NULL, rsb, csb, <floating>beta, &c[0, 0], n,
             &work[0] if work.shape[0] else NULL, gemm_work_size(m, n, k), threads)


def matmul_work_size(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, int threads=1):
    """Elements of workspace matmul needs for an m x k times k x n product on `threads`
    threads."""
    return threads * gemm_work_size(m, n, k) + (gemm_shared_size(m, n, k) if threads > 1 else 0)


def axpy(double alpha, const floating[:, :] x, object y):
    """y += alpha * x over 2-D arrays of one shape, any strides (the SGD step W -= lr * dW)."""
    cdef floating[:, :] yv = writable(y, "y", dtype_of(<floating>0))
    cdef Py_ssize_t i, j
    cdef floating a = <floating>alpha
    if x.shape[0] != yv.shape[0] or x.shape[1] != yv.shape[1]:
        raise ValueError("x and y must have the same shape")
    with nogil:
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                yv[i, j] = yv[i, j] + a * x[i, j]


def sum_squared_difference(const floating[::1] a, const floating[::1] b):
    """sum((a - b)**2) over contiguous arrays of one length, accumulated in double."""
    cdef Py_ssize_t i
    cdef double d, total = 0
    if a.shape[0] != b.shape[0]:
        raise ValueError("a and b must have the same number of elements")
    with nogil:
        for i in range(a.shape[0]):
            d = <double>a[i] - <double>b[i]
            total += d * d
    return total


def layer_forward(const floating[:, :] w, const floating[:, :] b, const floating[:, :] a_prev,
                  object z, object a, object work):
    """One sigmoid layer on columns (the post's layout): z = w @ a_prev + b, a = sigmoid(z);
    b is a column added to every column. work: matmul_work_size(n_out, n_cols, n_in)."""
    cdef floating[:, ::1] zv = writable(z, "z", dtype_of(<floating>0))
    cdef floating[:, ::1] av = writable(a, "a", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    cdef Py_ssize_t n_out = w.shape[0], n_cols = a_prev.shape[1], i, j
    for name, source in (("w", w.base), ("b", b.base), ("a_prev", a_prev.base)):
        refuse_shared(z, "z", source, name)
        refuse_shared(a, "a", source, name)
        refuse_shared(work, "work", source, name)
    if z is not a:
        refuse_shared(a, "a", z, "z")
    if b.shape[0] != n_out or b.shape[1] != 1:
        raise ValueError(f"b must be a ({n_out}, 1) column")
    if (zv.shape[0] != n_out or zv.shape[1] != n_cols or av.shape[0] != n_out
            or av.shape[1] != n_cols):
        raise ValueError(f"z and a must be {n_out} x {n_cols}")
    with nogil:
        for i in range(n_out):
            for j in range(n_cols):
                zv[i, j] = b[i, 0]
    matmul_into(1.0, w, a_prev, 1.0, zv, wv, 1)
    with nogil:
        for i in range(n_out):
            for j in range(n_cols):
                av[i, j] = sigmoid(zv[i, j])


def delta_times_sigmoid_prime(double sign, const floating[:, :] g, const floating[:, :] z,
                              object delta):
    """delta = sign * g * sigmoid'(z), elementwise over arrays of one shape (the post's
    output delta, -error * sigmoid'(Z), and its hidden deltas)."""
    cdef floating[:, ::1] d = writable(delta, "delta", dtype_of(<floating>0))
    cdef Py_ssize_t i, j
    cdef floating s
    if g.shape[0] != z.shape[0] or g.shape[1] != z.shape[1] or \
            d.shape[0] != z.shape[0] or d.shape[1] != z.shape[1]:
        raise ValueError("g, z and delta must have the same shape")
    with nogil:
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                s = sigmoid(z[i, j])
                d[i, j] = <floating>sign * g[i, j] * s * (<floating>1 - s)
