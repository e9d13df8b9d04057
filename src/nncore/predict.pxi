# Inference: forward over blocks of rows, and the one-sample latency path (predict_one,
# Predictor) that takes numpy arrays as they are and keeps the GIL. Included in _core.pyx.

def forward(Model model, const floating[::1] params, const floating[:, ::1] X, object out,
            object work, Py_ssize_t block, CsrRows sparse_x=None):
    """out = the network's output for every row of X, computed `block` rows at a time
    (work holds model.work_size(block) elements). Returns the number of inf/NaN values in X:
    when it is not 0, nothing was computed (the caller raises). Raises ValueError, naming the
    layer and the row, if a pre-activation overflows the dtype (out is then not valid).
    sparse_x: X as CSR rows (X then a (0, 0) array, not read)."""
    cdef floating[:, ::1] o = writable(out, "out", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    cdef const Net* net = &model.net
    cdef Py_ssize_t n = X.shape[0] if sparse_x is None else sparse_x.n_rows
    cdef Py_ssize_t n_last = net.sizes[net.n_layers], first, count, i, t
    cdef Py_ssize_t acts_last = 0, n_bad = 0, overflowed = 0, layer = 0, row = -1
    check_length("params", params.shape[0], net.n_params)
    cdef Csr csr
    cdef list hold = []
    if sparse_x is None:
        check_rows("X", X.shape[0], X.shape[1], n, net.sizes[0])
    check_rows("out", o.shape[0], o.shape[1], n, n_last)
    if block < 1:
        raise ValueError("block must be at least 1")
    check_work(wv.shape[0], layout(net, block, 0, 1).total)
    if n == 0:
        return 0
    cdef Layout lay = layout(net, block, 0, 1)
    cdef const floating* x = &X[0, 0] if sparse_x is None else NULL
    cdef floating* base = aligned_base(&wv[0])
    for i in range(net.n_layers):
        acts_last += net.sizes[i]
    if sparse_x is not None:
        csr_for_call(sparse_x, dtype_of(<floating>0), net, n, hold, &csr)
        lay.sparse_x = &csr
        n_bad = csr_nonfinite(&csr, len(sparse_x.data), floating is float)
    with nogil:
        for i in range(n * net.sizes[0] if sparse_x is None else 0):
            n_bad += nonfinite(x[i])
    if n_bad:
        return n_bad
    with nogil:
        for t in range((n + block - 1) // block):
            first = t * block
            count = min_(block, n - first)
            overflowed = forward_rows(net, &params[0], x, NULL, first, count, base, lay)
            if overflowed:
                row = overflowed_row(net, &params[0], x, NULL, first, count, base, lay, &layer)
                break
            memcpy(&o[first, 0], base + lay.acts + count * acts_last,
                   count * n_last * sizeof(floating))
    if overflowed:
        raise overflow_error(model, layer if row >= 0 else overflowed, row, first, count,
                             X if sparse_x is None else sparse_x)
    return 0


# Forward pass of one sample into out (n_L values); 0 without computing if x holds inf/NaN,
# 0 also if a pre-activation overflows or the output is not finite (non-finite parameters):
# the caller's general path says which. work: sum(n_1 .. n_L) + n_L elements.
cdef bint forward_one(const Net* net, const floating* params, const floating* x, floating* out,
                      floating* work) noexcept nogil:
    cdef Py_ssize_t i, widths = 0, n_last = net.sizes[net.n_layers], overflowed
    cdef unsigned int bad = 0
    cdef floating* a
    for i in range(net.sizes[0]):
        bad |= nonfinite(x[i])
    if bad:
        return 0
    for i in range(1, net.n_layers + 1):
        widths += net.sizes[i]
    a = forward_sample(net, params, x, work, work + widths, <floating*>NULL, &overflowed)
    for i in range(n_last):
        bad |= nonfinite(a[i])
    if bad or overflowed:
        return 0
    memcpy(out, a, n_last * sizeof(floating))
    return 1


cdef enum:
    STACK_WORK = 8192           # elements (as double) of workspace predict_one keeps on its stack
    ONE_SAMPLE_PARAMS = 65536   # largest network predict_one takes (about 30 us a sample)


# a is a C-contiguous, aligned, native array of numpy type `type_num` with `size` elements
cdef inline bint plain(cnp.ndarray a, int type_num, Py_ssize_t size):
    return (cnp.PyArray_TYPE(a) == type_num and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_SIZE(a) == size)


cdef object one_sample(Model model, cnp.ndarray params, object x, object guard):
    # predict_one's work (see its docstring), callable from C by Predictor
    cdef int kind = cnp.PyArray_TYPE(params)
    cdef const Net* net = &model.net
    cdef Py_ssize_t l, need = 0
    cdef cnp.npy_intp dims[2]
    cdef cnp.ndarray xa, out
    cdef int ndim
    cdef double work[STACK_WORK]
    cdef bint done
    if type(x) is not cnp.ndarray or (kind != cnp.NPY_DOUBLE and kind != cnp.NPY_FLOAT):
        return None
    xa = <cnp.ndarray>x
    ndim = cnp.PyArray_NDIM(xa)
    if not (ndim == 1 or (ndim == 2 and cnp.PyArray_DIM(xa, 0) == 1)):
        return None
    for l in range(1, net.n_layers + 1):
        if net.sizes[l] > STACK_WORK:
            return None
        need += net.sizes[l]
    if (need + net.sizes[net.n_layers] > STACK_WORK or net.n_params > ONE_SAMPLE_PARAMS
            or not plain(params, kind, net.n_params) or not plain(xa, kind, net.sizes[0])):
        return None
    owner = guard._exclusive
    if owner is not None and owner != PyThread_get_thread_ident():
        return None
    dims[0] = 1
    dims[ndim - 1] = net.sizes[net.n_layers]
    out = cnp.PyArray_EMPTY(ndim, dims, kind, 0)
    if kind == cnp.NPY_DOUBLE:
        done = forward_one(net, <const double*>cnp.PyArray_DATA(params),
                           <const double*>cnp.PyArray_DATA(xa),
                           <double*>cnp.PyArray_DATA(out), work)
    else:
        done = forward_one(net, <const float*>cnp.PyArray_DATA(params),
                           <const float*>cnp.PyArray_DATA(xa),
                           <float*>cnp.PyArray_DATA(out), <float*>work)
    return out if done else None


def predict_one(Model model, cnp.ndarray params, object x, object guard):
    """The network's output for the one sample x, in a new array: the latency path of
    predict(x). x of shape (n_0,) gives (n_L,), x of shape (1, n_0) gives (1, n_L).

    Takes numpy arrays as they are (no memoryviews to set up), allocates the output itself and
    needs no workspace from the caller. It keeps the GIL: for the networks it takes (at most
    ONE_SAMPLE_PARAMS parameters) one sample costs about a microsecond, less than releasing
    the GIL would. Holding it also makes the check for a fit or an assignment under way in
    another thread (guard._exclusive, see nnpy.network) race-free without a lock: no other
    thread runs between the check and the last read of the weights.
    Returns None, computing nothing, where this path does not apply: x not a C-contiguous,
    aligned, native ndarray of params' dtype and one of those shapes, x not finite, a larger
    network, a pre-activation that overflows or a non-finite output, another thread training the network or assigning its
    weights. The caller then takes the general path (forward), which says what is wrong or
    waits for the other thread."""
    return one_sample(model, params, x, guard)


cdef class Predictor:
    """A network's predict, compiled: one sample, an ndarray of shape (n_0,) or (1, n_0) in
    params' dtype, takes predict_one's path without running any Python bytecode; anything else,
    and any sample that path refuses, goes to `fallback` (nnpy.Network._predict_rows, which
    checks and converts X). Built by the network with its forward model, its flat parameters
    (the array itself, read at each call) and its thread guard (see predict_one)."""
    cdef Model model          # the network's widths and activations
    cdef cnp.ndarray params   # the network's flat parameters, not copied
    cdef object guard         # the network's thread guard (its _exclusive)
    cdef object fallback      # predict's general path: fallback(X)

    def __init__(self, Model model, cnp.ndarray params, object guard, object fallback):
        self.model, self.params, self.guard, self.fallback = model, params, guard, fallback

    def __call__(self, X):
        """Outputs for the rows of X (n_samples, n_0) -> (n_samples, n_L); a single 1-D sample
        gives a 1-D output."""
        cdef object out
        if type(X) is cnp.ndarray:
            out = one_sample(self.model, self.params, X, self.guard)
            if out is not None:
                return out
        return self.fallback(X)
