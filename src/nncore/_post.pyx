"""The post's forwardPass and backPropogation, compiled.

The post calls these once per sample, so what costs is not the arithmetic (a few dozen
multiply-adds) but everything around it. Here the dict walking, the checks and the arithmetic
are C; numpy is only asked for the new arrays the post's dicts hold. Anything out of the
ordinary (a list for x, an int array in theta, a missing key, a wrong shape) is handed to
nnpy.post's Python versions, which accept what can be accepted and raise the clear errors.
So do arrays backPropogation would write into but must not (read-only, such as a memory map
opened with mode "r", or self-overlapping, such as a broadcast view): the Python path refuses
them by key before anything is written. The arithmetic is that of nnpy.post's Python path,
operation for operation.
"""
cimport numpy as cnp
from libc.math cimport isfinite

from activations cimport sigmoid

cnp.import_array()

cdef object W_KEYS = ["W_%d" % l for l in range(64)]        # key strings made once
cdef object B_KEYS = ["B_%d" % l for l in range(64)]
cdef object Z_KEYS = ["Z_%d" % l for l in range(64)]
cdef object A_KEYS = ["A_%d" % l for l in range(64)]
cdef object PREV_KEYS = ["A_prev%d" % l for l in range(64)]
cdef object DELTA_KEYS = ["delta_%d" % l for l in range(64)]
cdef object DTHETA_KEYS = ["d_theta_%d" % l for l in range(64)]


cdef enum:
    MAX_LAYERS = 32   # deeper dict networks take the Python path

cdef object MAX_WIDTH = 1 << 40   # larger sizes take the Python path (no array is that wide)


class _Irregular(Exception):
    """Raised inside this module when the input needs the Python path."""


cdef inline str key(object keys, str prefix, Py_ssize_t l):
    return keys[l] if l < 64 else prefix + str(l)


# A matrix of float64: its data and its strides in elements.
cdef struct Mat:
    double* data
    Py_ssize_t rows, cols, rs, cs


# Whether two elements of m share memory: i*rs == j*cs for some |i| < rows, |j| < cols other
# than (0, 0). Exact: with g = gcd(|rs|, |cs|) the smallest such pair is (|cs|/g, |rs|/g).
cdef bint overlaps(Mat m) noexcept:
    cdef Py_ssize_t a = m.rs if m.rs >= 0 else -m.rs
    cdef Py_ssize_t b = m.cs if m.cs >= 0 else -m.cs
    cdef Py_ssize_t x = a, y = b, t
    if m.rows <= 1 or m.cols <= 1:
        return (m.rows > 1 and a == 0) or (m.cols > 1 and b == 0)
    if a == 0 or b == 0:
        return True
    while y:
        x, y = y, x % y
    return b // x < m.rows and a // x < m.cols


def overlaps_itself(cnp.ndarray arr):
    """Whether a 2-D float64 array has elements that share memory (a broadcast or
    as_strided view): writing one would change another."""
    cdef Mat m
    m.rows, m.cols = cnp.PyArray_DIM(arr, 0), cnp.PyArray_DIM(arr, 1)
    m.rs, m.cs = cnp.PyArray_STRIDE(arr, 0) // 8, cnp.PyArray_STRIDE(arr, 1) // 8
    return overlaps(m)


# `obj` as a Mat, if it is an aligned float64 array of shape (rows, cols), and when `written`
# also writeable without one element aliasing another; else _Irregular.
cdef Mat as_mat(object obj, Py_ssize_t rows, Py_ssize_t cols, bint written=False) except *:
    cdef cnp.ndarray arr
    cdef Mat m
    if not isinstance(obj, cnp.ndarray):
        raise _Irregular
    arr = <cnp.ndarray>obj
    if (cnp.PyArray_TYPE(arr) != cnp.NPY_DOUBLE or cnp.PyArray_NDIM(arr) != 2
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or cnp.PyArray_DIM(arr, 0) != rows or cnp.PyArray_DIM(arr, 1) != cols):
        raise _Irregular
    m.data = <double*>cnp.PyArray_DATA(arr)
    m.rows, m.cols = rows, cols
    m.rs = cnp.PyArray_STRIDE(arr, 0) // 8
    m.cs = cnp.PyArray_STRIDE(arr, 1) // 8
    if written and (not cnp.PyArray_ISWRITEABLE(arr) or overlaps(m)):
        raise _Irregular
    return m


cdef inline cnp.ndarray new_matrix(Py_ssize_t rows, Py_ssize_t cols):
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = cols
    return cnp.PyArray_EMPTY(2, dims, cnp.NPY_DOUBLE, 0)


# A new float64 column holding the n values of x (an ndarray of a plain numeric dtype, 1-D or
# a row or column, contiguous); else _Irregular. Non-finite values are irregular too.
cdef cnp.ndarray sample_column(object x, Py_ssize_t n):
    cdef cnp.ndarray arr, out
    cdef Py_ssize_t i
    cdef double* dst
    cdef char* src
    cdef int kind
    if not isinstance(x, cnp.ndarray):
        raise _Irregular
    arr = <cnp.ndarray>x
    if (cnp.PyArray_SIZE(arr) != n or cnp.PyArray_NDIM(arr) > 2
            or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISALIGNED(arr)
            or not cnp.PyArray_ISNOTSWAPPED(arr)):
        raise _Irregular
    if cnp.PyArray_NDIM(arr) == 2 and cnp.PyArray_DIM(arr, 0) != 1 and cnp.PyArray_DIM(arr, 1) != 1:
        raise _Irregular
    out = new_matrix(n, 1)
    dst = <double*>cnp.PyArray_DATA(out)
    src = <char*>cnp.PyArray_DATA(arr)
    kind = cnp.PyArray_TYPE(arr)
    if kind == cnp.NPY_DOUBLE:
        for i in range(n):
            dst[i] = (<double*>src)[i]
            if not isfinite(dst[i]):
                raise _Irregular
    elif kind == cnp.NPY_INT64:
        for i in range(n):
            dst[i] = <double>(<cnp.int64_t*>src)[i]
    elif kind == cnp.NPY_INT32:
        for i in range(n):
            dst[i] = <double>(<cnp.int32_t*>src)[i]
    else:
        raise _Irregular
    return out


# The network in a post dict: (n_layers, input width, output width); _Irregular if odd.
cdef tuple shape_of(object params):
    if type(params) is not dict:
        raise _Irregular
    meta = (<dict>params).get("metadata")
    theta = (<dict>params).get("theta")
    if type(meta) is not dict or type(theta) is not dict:
        raise _Irregular
    n_layers = (<dict>meta).get("n_layers")
    n_in = (<dict>meta).get("inputSize")
    n_out = (<dict>meta).get("outputSize")
    if type(n_layers) is not int or type(n_in) is not int or type(n_out) is not int:
        raise _Irregular
    if not (0 < n_layers <= MAX_WIDTH and 0 < n_in <= MAX_WIDTH and 0 < n_out <= MAX_WIDTH):
        raise _Irregular  # beyond Py_ssize_t too: the Python path says what is wrong
    return n_layers, n_in, n_out


# nnpy.post's Python versions, for whatever this module finds irregular (set_fallbacks).
cdef object forward_fallback = None
cdef object back_fallback = None
cdef object check_lr = None
cdef object report_overflow = None


def set_fallbacks(forward, back, lr_check, overflow):
    """Registers the Python paths: forward(x, y, params), back(params, lr, update, debug),
    lr_check(lr) -> float (raises for a bad lr) and overflow(key, lr) (warns, as numpy does,
    that an update made a finite weight infinite)."""
    global forward_fallback, back_fallback, check_lr, report_overflow
    forward_fallback, back_fallback, check_lr, report_overflow = forward, back, lr_check, overflow


def forwardPass(x, y, params):
    """One sample `x` (inputSize values) with target `y` (outputSize values) through the
    network; stores A_prev<l>, Z_<l>, A_<l> (columns) and error = y - output in
    params["forwardPass"] and returns params."""
    try:
        return forward_pass(x, y, params)
    except _Irregular:
        return forward_fallback(x, y, params)


def try_forward(x, y, params):
    """forwardPass's compiled path alone: params, or None where it does not apply (the
    fallback calls it once it has converted x and y, so both paths round alike)."""
    try:
        return forward_pass(x, y, params)
    except _Irregular:
        return None


cdef forward_pass(x, y, params):
    cdef Py_ssize_t l, i, j, n_layers, n_in, n_out, rows
    cdef Mat w, b
    cdef cnp.ndarray a_prev, z, a, error, target
    cdef double* zp
    cdef double* ap
    cdef double* prev
    cdef double s
    n_layers, n_in, n_out = shape_of(params)
    theta = params["theta"]
    a_prev = sample_column(x, n_in)
    target = sample_column(y, n_out)
    forward = {}
    for l in range(n_layers):
        rows = n_out if l == n_layers - 1 else n_in
        w = as_mat(theta.get(key(W_KEYS, "W_", l)), rows, n_in)
        b = as_mat(theta.get(key(B_KEYS, "B_", l)), rows, 1)
        z = new_matrix(rows, 1)
        a = new_matrix(rows, 1)
        zp = <double*>cnp.PyArray_DATA(z)
        ap = <double*>cnp.PyArray_DATA(a)
        prev = <double*>cnp.PyArray_DATA(a_prev)
        for i in range(rows):
            s = 0
            for j in range(n_in):
                s = s + w.data[i * w.rs + j * w.cs] * prev[j]
            zp[i] = s + b.data[i * b.rs]
            ap[i] = sigmoid(zp[i])
        forward[key(PREV_KEYS, "A_prev", l)] = a_prev
        forward[key(Z_KEYS, "Z_", l)] = z
        forward[key(A_KEYS, "A_", l)] = a
        a_prev = a
    # error = y - output
    error = target
    zp = <double*>cnp.PyArray_DATA(error)
    ap = <double*>cnp.PyArray_DATA(a_prev)
    for i in range(n_out):
        zp[i] = zp[i] - ap[i]
    forward["error"] = error
    params["forwardPass"] = forward
    return params


def backPropogation(params, lr, update=True, debug=False):
    """The post's backprop over the last forwardPass: fills params["deltas"]["delta_<l>"] and
    params["d_theta"]["d_theta_<l>"] from the top layer down and, when `update`, subtracts
    lr*d_theta from W_l and lr*delta from B_l in place as it goes (the post's order: a lower
    layer's delta then passes through the already-updated W_{l+1}). Prints as the post when
    `debug`. Returns params. With `update`, weights that cannot or must not be written in place
    (read-only, or elements sharing memory) raise ValueError naming the key before anything is
    written, and an update that makes a finite weight infinite warns (RuntimeWarning, as
    numpy's `-=` does; np.errstate(over=...) applies)."""
    if type(lr) is not float or not isfinite(lr) or lr <= 0:
        lr = check_lr(lr)
    return back_propagation(params, lr, update, debug)


cdef back_propagation(params, double lr, bint update, bint debug):
    cdef Py_ssize_t l, i, j, n_layers, n_in, n_out, rows
    cdef Mat ws[MAX_LAYERS]       # W_l
    cdef Mat bs[MAX_LAYERS]       # B_l
    cdef Mat zs[MAX_LAYERS]       # Z_l
    cdef Mat prevs[MAX_LAYERS]    # A_prev<l>
    cdef Mat w, err
    cdef cnp.ndarray delta, dw
    cdef double* dp
    cdef double* gp
    cdef double* above
    cdef double s, sg, new
    cdef str overflowed = None    # the first key an update made non-finite
    try:
        n_layers, n_in, n_out = shape_of(params)
        if n_layers > MAX_LAYERS:
            raise _Irregular
        theta = params["theta"]
        forward = params.get("forwardPass")
        if type(forward) is not dict:
            raise _Irregular
        # every array checked before any is changed
        for l in range(n_layers):
            rows = n_out if l == n_layers - 1 else n_in
            ws[l] = as_mat(theta.get(key(W_KEYS, "W_", l)), rows, n_in, update)
            bs[l] = as_mat(theta.get(key(B_KEYS, "B_", l)), rows, 1, update)
            zs[l] = as_mat(forward.get(key(Z_KEYS, "Z_", l)), rows, 1)
            prevs[l] = as_mat(forward.get(key(PREV_KEYS, "A_prev", l)), n_in, 1)
        err = as_mat(forward.get("error"), n_out, 1)
    except _Irregular:
        return back_fallback(params, lr, update, debug)

    params["metadata"]["learningRate"] = lr
    deltas, d_theta = {}, {}
    above = NULL
    for l in range(n_layers - 1, -1, -1):
        w = ws[l]
        delta = new_matrix(w.rows, 1)
        dp = <double*>cnp.PyArray_DATA(delta)
        for i in range(w.rows):
            if l == n_layers - 1:
                # delta = -error * sigmoid'(Z)
                s = -1.0 * err.data[i * err.rs]
            else:
                # delta = (W_{l+1}.T @ delta_{l+1}) * sigmoid'(Z), through W_{l+1} as it is now
                s = 0
                for j in range(ws[l + 1].rows):
                    s = s + ws[l + 1].data[j * ws[l + 1].rs + i * ws[l + 1].cs] * above[j]
            sg = sigmoid(zs[l].data[i * zs[l].rs])
            dp[i] = s * sg * (1 - sg)
        # dw = delta @ A_prev.T
        dw = new_matrix(w.rows, w.cols)
        gp = <double*>cnp.PyArray_DATA(dw)
        for i in range(w.rows):
            for j in range(w.cols):
                gp[i * w.cols + j] = dp[i] * prevs[l].data[j * prevs[l].rs]
        deltas[key(DELTA_KEYS, "delta_", l)] = delta
        d_theta[key(DTHETA_KEYS, "d_theta_", l)] = dw
        if update:
            for i in range(w.rows):
                for j in range(w.cols):
                    new = w.data[i * w.rs + j * w.cs] + -lr * gp[i * w.cols + j]
                    if not isfinite(new) and isfinite(w.data[i * w.rs + j * w.cs]) and overflowed is None:
                        overflowed = key(W_KEYS, "W_", l)
                    w.data[i * w.rs + j * w.cs] = new
                new = bs[l].data[i * bs[l].rs] + -lr * dp[i]
                if not isfinite(new) and isfinite(bs[l].data[i * bs[l].rs]) and overflowed is None:
                    overflowed = key(B_KEYS, "B_", l)
                bs[l].data[i * bs[l].rs] = new
        if debug:
            if l == n_layers - 1:
                print(delta, dw)
            else:
                print(delta)
        above = dp
    params["deltas"] = deltas
    params["d_theta"] = d_theta
    if overflowed is not None:
        report_overflow(overflowed, lr)
    return params
