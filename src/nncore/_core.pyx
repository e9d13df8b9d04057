"""nnpy's compiled core: the arithmetic of sigmoid networks over typed memoryviews.

Every function here takes arrays the caller (nnpy, in Python) has validated and allocated,
outputs included, and runs its loops with the GIL released. A network is described by
    params  one flat array: W_0 (n_1 x n_0, row-major), b_0 (n_1), W_1, b_1, ... W_{L-1}, b_{L-1}
    sizes   the widths n_0 .. n_L (np.intp)
    loss    LOSS_MSE, LOSS_BCE or LOSS_SOFTMAX_CE: the output activation and the loss together.
Samples are rows (X is n_samples x n_0). The entry points re-check every shape they rely on and
raise ValueError, so that no call, however wrong, reaches a loop compiled without bounds checks.
"""
cimport numpy as cnp
from cython cimport floating
from libc.stdint cimport uint64_t
from cpython.pythread cimport PyThread_get_thread_ident
from libc.string cimport memcpy, memset

from activations cimport (sigmoid, sigmoid_inplace, softmax_rows, row_loss, row_output_delta,
                          nonfinite, MSE, BCE, SOFTMAX_CE)
from gemm cimport gemm, MR, NR, KC, MC, NC
from shuffle cimport seed_state, shuffle

cnp.import_array()

cdef extern from *:
    """
    #ifndef NNPY_DEBUG_BUILD
    #define NNPY_DEBUG_BUILD 0
    #endif
    """
    int NNPY_DEBUG_BUILD

DEBUG_BUILD = bool(NNPY_DEBUG_BUILD)  # built with bounds, wraparound and initialisation checks

cdef enum:
    OK = 0            # train: ran its budget of epochs or batches
    DIVERGED = 1      # train: a step would have made a parameter non-finite; it was not applied

LOSS_MSE, LOSS_BCE, LOSS_SOFTMAX_CE = MSE, BCE, SOFTMAX_CE
STATUS_OK, STATUS_DIVERGED = OK, DIVERGED


# ---------------------------------------------------------------------------------------------
# Network layout
# ---------------------------------------------------------------------------------------------

# Offsets into the workspace of one batch of `batch` samples (see work_size).
cdef struct Layout:
    Py_ssize_t acts       # A_0 .. A_L, each batch x n_l: the input copy and every activation
    Py_ssize_t delta      # two batch x widest buffers: the deltas of two adjacent layers
    Py_ssize_t z_out      # batch x n_L: output pre-activations, for a stable loss
    Py_ssize_t pack       # packing space of gemm
    Py_ssize_t total      # elements in all
    Py_ssize_t widest     # max(n_0 .. n_L): the row length of a delta buffer
    Py_ssize_t n_params   # length of the flat parameter array


cdef inline Py_ssize_t round_up(Py_ssize_t x, Py_ssize_t to) noexcept nogil:
    return (x + to - 1) // to * to


cdef inline Py_ssize_t min_(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef Py_ssize_t count_params(const Py_ssize_t* sizes, Py_ssize_t n_layers) noexcept nogil:
    cdef Py_ssize_t l, total = 0
    for l in range(n_layers):
        total += sizes[l + 1] * sizes[l] + sizes[l + 1]
    return total


cdef Layout layout(const Py_ssize_t* sizes, Py_ssize_t n_layers, Py_ssize_t batch) noexcept nogil:
    cdef Layout out
    cdef Py_ssize_t l, widths = 0, widest = 0, biggest
    for l in range(n_layers + 1):
        widths += sizes[l]
        widest = sizes[l] if sizes[l] > widest else widest
    biggest = widest if widest > batch else batch  # the largest m, n or k of a product
    out.widest = widest
    out.n_params = count_params(sizes, n_layers)
    out.acts = 0
    out.delta = batch * widths
    out.z_out = out.delta + 2 * batch * widest
    out.pack = out.z_out + batch * sizes[n_layers]
    # gemm packs at most a min(m, MC) x min(k, KC) block of A and a min(k, KC) x min(n, NC) of B
    out.total = out.pack + (round_up(min_(biggest, MC), MR) * min_(biggest, KC)
                            + min_(biggest, KC) * round_up(min_(biggest, NC), NR))
    return out


def work_size(const Py_ssize_t[::1] sizes, Py_ssize_t batch):
    """Elements of workspace that forward, gradients and train need for batches of `batch`."""
    check_sizes(sizes)
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    return layout(&sizes[0], sizes.shape[0] - 1, batch).total


def n_params(const Py_ssize_t[::1] sizes):
    """Length of the flat parameter array of a network of these widths."""
    check_sizes(sizes)
    return count_params(&sizes[0], sizes.shape[0] - 1)


# ---------------------------------------------------------------------------------------------
# Safety net: the shapes every entry point relies on (Python validates first, with friendlier
# messages; these checks make a wrong call from anywhere a ValueError, never a wild read).
# ---------------------------------------------------------------------------------------------

cdef check_sizes(const Py_ssize_t[::1] sizes):
    cdef Py_ssize_t l
    if sizes.shape[0] < 2:
        raise ValueError("sizes needs at least two widths (inputs and outputs)")
    for l in range(sizes.shape[0]):
        if sizes[l] < 1:
            raise ValueError(f"sizes[{l}] must be at least 1, got {sizes[l]}")


cdef check_network(Py_ssize_t n_flat, const Py_ssize_t[::1] sizes, int loss):
    check_sizes(sizes)
    if n_flat != count_params(&sizes[0], sizes.shape[0] - 1):
        raise ValueError(f"params has {n_flat} elements; sizes need "
                         f"{count_params(&sizes[0], sizes.shape[0] - 1)}")
    if loss < 0 or loss > 2:
        raise ValueError(f"unknown loss code {loss}")


cdef check_rows(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t want_rows,
                Py_ssize_t want_cols):
    if rows != want_rows or cols != want_cols:
        raise ValueError(f"{name} has shape ({rows}, {cols}); expected ({want_rows}, {want_cols})")


cdef check_work(Py_ssize_t have, const Py_ssize_t[::1] sizes, Py_ssize_t batch):
    cdef Py_ssize_t need = layout(&sizes[0], sizes.shape[0] - 1, batch).total
    if have < need:
        raise ValueError(f"work has {have} elements; {need} needed")


# ---------------------------------------------------------------------------------------------
# Elementwise and matrix kernels (used by the post's API and tested on their own)
# ---------------------------------------------------------------------------------------------

def sigmoid_array(const floating[::1] x, floating[::1] out):
    """out = 1/(1+exp(-x)), elementwise over contiguous arrays; no overflow for any x."""
    cdef Py_ssize_t i, n = x.shape[0]
    if out.shape[0] != n:
        raise ValueError("out must have as many elements as x")
    with nogil:
        for i in range(n):
            out[i] = sigmoid(x[i])


def sigmoid_prime_array(const floating[::1] x, floating[::1] out):
    """out = s*(1-s) with s = sigmoid(x), elementwise over contiguous arrays."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating s
    if out.shape[0] != n:
        raise ValueError("out must have as many elements as x")
    with nogil:
        for i in range(n):
            s = sigmoid(x[i])
            out[i] = s * (1 - s)


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


def matmul(double alpha, const floating[:, :] a, const floating[:, :] b, double beta,
           floating[:, ::1] c, floating[::1] work):
    """c = alpha * a @ b + beta * c. a and b may be any strided views (a transpose is W.T);
    work holds matmul_work_size(m, n, k) elements. beta == 0 does not read c."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef Py_ssize_t size = sizeof(floating)
    cdef Py_ssize_t rsa = elem_stride(a.strides[0], size, "a"), csa = elem_stride(a.strides[1], size, "a")
    cdef Py_ssize_t rsb = elem_stride(b.strides[0], size, "b"), csb = elem_stride(b.strides[1], size, "b")
    if b.shape[0] != k:
        raise ValueError(f"a is {m} x {k} but b is {b.shape[0]} x {n}")
    if c.shape[0] != m or c.shape[1] != n:
        raise ValueError(f"c must be {m} x {n}, got {c.shape[0]} x {c.shape[1]}")
    if work.shape[0] < matmul_work_size(m, n, k):
        raise ValueError(f"work has {work.shape[0]} elements; {matmul_work_size(m, n, k)} needed")
    if m == 0 or n == 0:
        return
    with nogil:
        gemm(m, n, k, <floating>alpha, &a[0, 0] if k else NULL, rsa, csa,
             &b[0, 0] if k else NULL, rsb, csb, <floating>beta, &c[0, 0], n,
             &work[0] if work.shape[0] else NULL)


def matmul_work_size(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k):
    """Elements of workspace matmul needs for an m x k times k x n product."""
    return (round_up(min_(m, MC), MR) * min_(k, KC) + min_(k, KC) * round_up(min_(n, NC), NR))


def axpy(double alpha, const floating[:, :] x, floating[:, :] y):
    """y += alpha * x over 2-D arrays of one shape, any strides (the SGD step W -= lr * dW)."""
    cdef Py_ssize_t i, j
    cdef floating a = <floating>alpha
    if x.shape[0] != y.shape[0] or x.shape[1] != y.shape[1]:
        raise ValueError("x and y must have the same shape")
    with nogil:
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                y[i, j] = y[i, j] + a * x[i, j]


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
                  floating[:, ::1] z, floating[:, ::1] a, floating[::1] work):
    """One sigmoid layer on columns (the post's layout): z = w @ a_prev + b, a = sigmoid(z);
    b is a column added to every column. work: matmul_work_size(n_out, n_cols, n_in)."""
    cdef Py_ssize_t n_out = w.shape[0], n_cols = a_prev.shape[1], i, j
    if b.shape[0] != n_out or b.shape[1] != 1:
        raise ValueError(f"b must be a ({n_out}, 1) column")
    if z.shape[0] != n_out or z.shape[1] != n_cols or a.shape[0] != n_out or a.shape[1] != n_cols:
        raise ValueError(f"z and a must be {n_out} x {n_cols}")
    with nogil:
        for i in range(n_out):
            for j in range(n_cols):
                z[i, j] = b[i, 0]
    matmul(1.0, w, a_prev, 1.0, z, work)
    with nogil:
        for i in range(n_out):
            for j in range(n_cols):
                a[i, j] = sigmoid(z[i, j])


def delta_times_sigmoid_prime(double sign, const floating[:, :] g, const floating[:, :] z,
                              floating[:, ::1] delta):
    """delta = sign * g * sigmoid'(z), elementwise over arrays of one shape (the post's
    output delta, -error * sigmoid'(Z), and its hidden deltas)."""
    cdef Py_ssize_t i, j
    cdef floating s
    if g.shape[0] != z.shape[0] or g.shape[1] != z.shape[1] or \
            delta.shape[0] != z.shape[0] or delta.shape[1] != z.shape[1]:
        raise ValueError("g, z and delta must have the same shape")
    with nogil:
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                s = sigmoid(z[i, j])
                delta[i, j] = <floating>sign * g[i, j] * s * (1 - s)


# ---------------------------------------------------------------------------------------------
# Forward and backward passes of a whole network over a batch of rows
# ---------------------------------------------------------------------------------------------

# Forward pass of `count` samples: rows[first + i] of x (or row first + i when rows is NULL).
# Leaves A_0 .. A_L in the workspace's acts and the output pre-activations in its z_out.
cdef void forward_rows(const floating* params, const Py_ssize_t* sizes, Py_ssize_t n_layers,
                       int loss, const floating* x, const Py_ssize_t* rows, Py_ssize_t first,
                       Py_ssize_t count, floating* work, Layout lay) noexcept nogil:
    cdef Py_ssize_t i, j, l, row, n_in, n_out
    cdef floating* a = work + lay.acts
    cdef floating* a_next
    cdef const floating* w = params
    cdef const floating* b
    # A_0: a contiguous copy of the batch's inputs
    n_in = sizes[0]
    for i in range(count):
        row = rows[first + i] if rows != NULL else first + i
        memcpy(a + i * n_in, x + row * n_in, n_in * sizeof(floating))
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        b = w + n_out * n_in
        a_next = a + count * n_in
        # Z = A @ W.T + b: start every row at b, then add the product
        for i in range(count):
            for j in range(n_out):
                a_next[i * n_out + j] = b[j]
        gemm(count, n_out, n_in, <floating>1, a, n_in, 1, w, 1, n_in, <floating>1,
             a_next, n_out, work + lay.pack)
        if l == n_layers - 1:
            memcpy(work + lay.z_out, a_next, count * n_out * sizeof(floating))
            if loss == SOFTMAX_CE:
                softmax_rows(a_next, count, n_out)
            else:
                sigmoid_inplace(a_next, count * n_out)
        else:
            sigmoid_inplace(a_next, count * n_out)
        a = a_next
        w = b + n_out


# Backprop over `count` samples: adds scale * (sum of their loss gradients) to grads (laid out
# like params) and returns the sum of their losses. All deltas use the weights as they are.
cdef double accumulate_gradients(const floating* params, const Py_ssize_t* sizes,
                                 Py_ssize_t n_layers, int loss, const floating* x,
                                 const floating* y, const Py_ssize_t* rows, Py_ssize_t first,
                                 Py_ssize_t count, floating scale, floating* grads,
                                 floating* work, Layout lay) noexcept nogil:
    cdef Py_ssize_t i, j, t, l, row, n_in, n_out, offset, acts_offset
    cdef Py_ssize_t n_last = sizes[n_layers]
    cdef double loss_sum = 0
    cdef floating* delta = work + lay.delta                 # deltas of the layer above
    cdef floating* delta_below = delta + count * lay.widest  # deltas being computed
    cdef floating* swap
    cdef floating* a
    cdef floating* grad_w
    cdef floating* grad_b
    cdef const floating* w
    forward_rows(params, sizes, n_layers, loss, x, rows, first, count, work, lay)

    # Output deltas (and losses), one sample at a time
    acts_offset = lay.acts
    for l in range(n_layers):
        acts_offset += count * sizes[l]
    a = work + acts_offset
    for i in range(count):
        row = rows[first + i] if rows != NULL else first + i
        loss_sum += row_loss(loss, a + i * n_last, work + lay.z_out + i * n_last,
                             y + row * n_last, n_last)
        row_output_delta(loss, a + i * n_last, y + row * n_last, delta + i * n_last, n_last)

    # Layers from the top: weight gradients, then the deltas passed down
    offset = lay.n_params
    for l in range(n_layers - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        offset -= n_out * n_in + n_out
        w = params + offset
        grad_w = grads + offset
        grad_b = grad_w + n_out * n_in
        acts_offset -= count * n_in
        a = work + acts_offset
        # dW += scale * D.T @ A
        gemm(n_out, n_in, count, scale, delta, 1, n_out, a, n_in, 1, <floating>1,
             grad_w, n_in, work + lay.pack)
        # db += scale * column sums of D
        for i in range(count):
            for j in range(n_out):
                grad_b[j] += scale * delta[i * n_out + j]
        if l > 0:
            # D_below = (D @ W) * A * (1 - A): sigmoid'(z) from the stored activation
            gemm(count, n_in, n_out, <floating>1, delta, n_out, 1, w, n_in, 1, <floating>0,
                 delta_below, n_in, work + lay.pack)
            for t in range(count * n_in):
                delta_below[t] = delta_below[t] * a[t] * (1 - a[t])
            swap = delta
            delta = delta_below
            delta_below = swap
    return loss_sum


# Dot product of n values, in 8 partial sums the compiler keeps in one SIMD register (a
# single running sum would be a serial chain: without -ffast-math it cannot reorder it).
cdef inline floating dot(const floating* u, const floating* v, Py_ssize_t n) noexcept nogil:
    cdef floating part[8]
    cdef floating total = 0
    cdef Py_ssize_t i, t, blocks = n // 8 * 8
    if n < 8:  # tiny layers (the post's 2-2-1): the partial sums would cost more than they save
        for i in range(n):
            total = total + u[i] * v[i]
        return total
    for t in range(8):
        part[t] = 0
    for i in range(0, blocks, 8):
        for t in range(8):
            part[t] = part[t] + u[i + t] * v[i + t]
    total = ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]))
    for i in range(blocks, n):
        total = total + u[i] * v[i]
    return total


# Forward pass of one sample x, without packing (a matrix-vector product per layer): A_1 ..
# A_L one after another in acts, the output pre-activations in z_out; returns A_L.
cdef inline floating* forward_sample(const floating* params, const Py_ssize_t* sizes,
                                     Py_ssize_t n_layers, int loss, const floating* x,
                                     floating* acts, floating* z_out) noexcept nogil:
    cdef Py_ssize_t j, l, n_in, n_out
    cdef const floating* a_prev = x
    cdef const floating* w = params
    cdef const floating* b
    cdef floating* a = acts
    cdef floating z
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        b = w + n_out * n_in
        # one output at a time, activation included: no separate pass over the layer, which
        # for the small layers trained sample by sample costs more than the arithmetic
        if l < n_layers - 1:
            for j in range(n_out):
                a[j] = sigmoid(dot(w + j * n_in, a_prev, n_in) + b[j])
            a_prev = a
            a = a + n_out
        else:
            for j in range(n_out):
                z = dot(w + j * n_in, a_prev, n_in) + b[j]
                z_out[j] = z
                a[j] = z if loss == SOFTMAX_CE else sigmoid(z)
            if loss == SOFTMAX_CE:
                softmax_rows(a, 1, n_out)
        w = b + n_out
    return a


# Backprop of one sample (per-sample SGD, the post's way of training): grads = the sample's
# loss gradient (overwritten, not added to); returns its loss. The arithmetic of
# accumulate_gradients with count == 1, as plain vector loops: for the small networks trained
# sample by sample, packing and blocking would cost more than the arithmetic. A_0 is x itself.
cdef inline double sample_gradients(const floating* params, const Py_ssize_t* sizes,
                             Py_ssize_t n_layers, int loss, const floating* x, const floating* y,
                             floating* grads, floating* work, Layout lay) noexcept nogil:
    cdef Py_ssize_t i, j, l, n_in, n_out, offset = 0, acts_offset = lay.acts
    cdef Py_ssize_t n_last = sizes[n_layers]
    cdef const floating* a_prev
    cdef const floating* w
    cdef floating* a
    cdef floating* grad_w
    cdef floating* delta = work + lay.delta
    cdef floating* delta_below = delta + lay.widest
    cdef floating* swap
    cdef floating d
    cdef double sample_loss

    a = forward_sample(params, sizes, n_layers, loss, x, work + lay.acts, work + lay.z_out)
    for l in range(n_layers):
        acts_offset += sizes[l + 1]  # just past A_L

    # Output delta and loss
    sample_loss = row_loss(loss, a, work + lay.z_out, y, n_last)
    row_output_delta(loss, a, y, delta, n_last)

    # Layers from the top: gradients (delta a_prev^T and delta), then the delta passed down
    offset = lay.n_params
    for l in range(n_layers - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        offset -= n_out * n_in + n_out
        w = params + offset
        grad_w = grads + offset
        acts_offset -= n_out
        a_prev = work + acts_offset - n_in if l > 0 else x
        for j in range(n_out):
            d = delta[j]
            for i in range(n_in):
                grad_w[j * n_in + i] = d * a_prev[i]
            grad_w[n_out * n_in + j] = d
        if l > 0:
            # delta_below = (W.T @ delta) * a_prev * (1 - a_prev), summed row by row of W
            for i in range(n_in):
                delta_below[i] = 0
            for j in range(n_out):
                d = delta[j]
                for i in range(n_in):
                    delta_below[i] = delta_below[i] + d * w[j * n_in + i]
            for i in range(n_in):
                delta_below[i] = delta_below[i] * a_prev[i] * (1 - a_prev[i])
            swap = delta
            delta = delta_below
            delta_below = swap
    return sample_loss


# One SGD step from the gradients of the mean loss in grads: with momentum,
#   v = momentum * v - lr * (g + l2 * W);  W += v
# (without, W -= lr * (g + l2 * W)); l2 applies to weights, not biases. The step is first
# written into grads and checked: if any parameter would become inf or NaN, nothing changes and
# 0 is returned; else the step is applied and 1 returned.
cdef inline bint sgd_step(floating* params, floating* grads, floating* velocity,
                   const Py_ssize_t* sizes, Py_ssize_t n_layers, Py_ssize_t n_params,
                   floating lr, floating l2, floating momentum) noexcept nogil:
    cdef Py_ssize_t i, l, start = 0, n_weights
    cdef unsigned int bad = 0
    # the gradient of the penalty, weights only
    if l2 != 0:
        for l in range(n_layers):
            n_weights = sizes[l + 1] * sizes[l]
            for i in range(start, start + n_weights):
                grads[i] = grads[i] + l2 * params[i]
            start += n_weights + sizes[l + 1]
    start = n_params
    # the step into grads; refuse it if it would make any parameter inf or NaN
    if momentum != 0:
        for i in range(start):
            grads[i] = momentum * velocity[i] - lr * grads[i]
            bad |= nonfinite(params[i] + grads[i])
    else:
        for i in range(start):
            grads[i] = -lr * grads[i]
            bad |= nonfinite(params[i] + grads[i])
    if bad:
        return 0
    for i in range(start):
        params[i] = params[i] + grads[i]
    if momentum != 0:
        memcpy(velocity, grads, start * sizeof(floating))
    return 1


def forward(const floating[::1] params, const Py_ssize_t[::1] sizes, int loss,
            const floating[:, ::1] X, floating[:, ::1] out, floating[::1] work, Py_ssize_t block):
    """out = the network's output for every row of X, computed `block` rows at a time
    (work holds work_size(sizes, block) elements). Returns the number of inf/NaN values in X:
    when it is not 0, nothing was computed (the caller raises)."""
    check_network(params.shape[0], sizes, loss)
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1, n = X.shape[0], first, count, i, t
    cdef Py_ssize_t n_last = sizes[n_layers]
    check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    check_rows("out", out.shape[0], out.shape[1], n, n_last)
    if block < 1:
        raise ValueError("block must be at least 1")
    check_work(work.shape[0], sizes, block)
    if n == 0:
        return 0
    cdef Layout lay = layout(&sizes[0], n_layers, block)
    cdef Py_ssize_t acts_last = 0
    cdef Py_ssize_t n_bad = 0
    cdef const floating* x = &X[0, 0]
    for i in range(n_layers):
        acts_last += sizes[i]
    with nogil:
        for i in range(n * sizes[0]):
            n_bad += nonfinite(x[i])
    if n_bad:
        return n_bad
    with nogil:
        for t in range((n + block - 1) // block):
            first = t * block
            count = min_(block, n - first)
            forward_rows(&params[0], &sizes[0], n_layers, loss, &X[0, 0], NULL, first, count,
                         &work[0], lay)
            memcpy(&out[first, 0], &work[lay.acts + count * acts_last],
                   count * n_last * sizeof(floating))
    return 0


# Forward pass of one sample into out (n_L values); 0 without computing if x holds inf/NaN.
# work: sum(n_1 .. n_L) + n_L elements.
cdef bint forward_one(const floating* params, const Py_ssize_t* sizes, Py_ssize_t n_layers,
                      int loss, const floating* x, floating* out, floating* work) noexcept nogil:
    cdef Py_ssize_t i, widths = 0
    cdef unsigned int bad = 0
    for i in range(sizes[0]):
        bad |= nonfinite(x[i])
    if bad:
        return 0
    for i in range(1, n_layers + 1):
        widths += sizes[i]
    memcpy(out, forward_sample(params, sizes, n_layers, loss, x, work, work + widths),
           sizes[n_layers] * sizeof(floating))
    return 1


cdef enum:
    STACK_WORK = 8192           # elements (as double) of workspace predict_one keeps on its stack
    ONE_SAMPLE_PARAMS = 65536   # largest network predict_one takes (about 30 us a sample)


# a is a C-contiguous, aligned, native array of numpy type `type_num` with `size` elements
cdef inline bint plain(cnp.ndarray a, int type_num, Py_ssize_t size):
    return (cnp.PyArray_TYPE(a) == type_num and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_SIZE(a) == size)


def predict_one(cnp.ndarray params, cnp.ndarray sizes, int loss, cnp.ndarray x,
                cnp.ndarray out, guard):
    """out = the network's output for the one sample x: the latency path of predict(x).

    Takes numpy arrays as they are (no memoryviews to set up) and needs no workspace from the
    caller. It keeps the GIL: for the networks it takes (at most ONE_SAMPLE_PARAMS parameters)
    one sample costs about a microsecond, less than releasing the GIL would. Holding it also
    makes the check for a fit under way in another thread (guard._trainer, see nnpy.network)
    race-free without a lock: no other thread runs between the check and the arithmetic.
    Returns 1 when out holds the output; -1 when another thread is training the network; 0,
    computing nothing, where this path does not apply: x not a 1-D contiguous array of
    params' dtype with sizes[0] finite values, out not one of n_L, a larger network, or
    anything else irregular. The caller then takes the general path (forward), which says
    what is wrong."""
    cdef int kind = cnp.PyArray_TYPE(params)
    cdef Py_ssize_t n_layers, l
    cdef const Py_ssize_t* widths
    cdef double work[STACK_WORK]
    cdef Py_ssize_t need = 0
    cdef bint done
    if kind != cnp.NPY_DOUBLE and kind != cnp.NPY_FLOAT:
        return 0
    if (not cnp.PyArray_ISSIGNED(sizes) or cnp.PyArray_ITEMSIZE(sizes) != sizeof(Py_ssize_t)
            or not plain(sizes, cnp.PyArray_TYPE(sizes), cnp.PyArray_SIZE(sizes))
            or cnp.PyArray_SIZE(sizes) < 2):
        return 0
    widths = <const Py_ssize_t*>cnp.PyArray_DATA(sizes)
    n_layers = cnp.PyArray_SIZE(sizes) - 1
    for l in range(n_layers + 1):
        if widths[l] < 1 or widths[l] > STACK_WORK:
            return 0
        need += widths[l] if l else 0
    if (need + widths[n_layers] > STACK_WORK
            or count_params(widths, n_layers) > ONE_SAMPLE_PARAMS
            or not plain(params, kind, count_params(widths, n_layers))
            or cnp.PyArray_NDIM(x) != 1 or not plain(x, kind, widths[0])
            or not plain(out, kind, widths[n_layers]) or loss < 0 or loss > 2):
        return 0
    trainer = guard._trainer
    if trainer is not None and trainer != PyThread_get_thread_ident():
        return -1
    if kind == cnp.NPY_DOUBLE:
        done = forward_one(<const double*>cnp.PyArray_DATA(params), widths, n_layers, loss,
                           <const double*>cnp.PyArray_DATA(x),
                           <double*>cnp.PyArray_DATA(out), work)
    else:
        done = forward_one(<const float*>cnp.PyArray_DATA(params), widths, n_layers, loss,
                           <const float*>cnp.PyArray_DATA(x),
                           <float*>cnp.PyArray_DATA(out), <float*>work)
    return 1 if done else 0


def loss_and_gradients(const floating[::1] params, const Py_ssize_t[::1] sizes, int loss,
                       const floating[:, ::1] X, const floating[:, ::1] Y, floating[::1] grads,
                       floating[::1] work, Py_ssize_t block):
    """grads = gradient of the mean loss over the rows of X, Y (laid out like params);
    returns the summed loss (divide by len(X) for the mean). work: work_size(sizes, block)."""
    check_network(params.shape[0], sizes, loss)
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1, n = X.shape[0], first, count, t
    check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    check_rows("Y", Y.shape[0], Y.shape[1], n, sizes[n_layers])
    if grads.shape[0] != params.shape[0]:
        raise ValueError("grads must be as long as params")
    if n < 1 or block < 1:
        raise ValueError("X needs at least one row and block must be at least 1")
    check_work(work.shape[0], sizes, block)
    cdef Layout lay = layout(&sizes[0], n_layers, block)
    cdef double total = 0
    with nogil:
        memset(&grads[0], 0, grads.shape[0] * sizeof(floating))
        for t in range((n + block - 1) // block):
            first = t * block
            count = min_(block, n - first)
            total += accumulate_gradients(&params[0], &sizes[0], n_layers, loss, &X[0, 0],
                                          &Y[0, 0], NULL, first, count, <floating>(1.0 / n),
                                          &grads[0], &work[0], lay)
    return total


def train(floating[::1] params, floating[::1] grads, floating[::1] velocity,
          const Py_ssize_t[::1] sizes, int loss, const floating[:, ::1] X,
          const floating[:, ::1] Y, Py_ssize_t[::1] order, uint64_t[::1] rng,
          Py_ssize_t[::1] cursor, double[::1] epoch_loss, Py_ssize_t batch_size, double lr,
          double l2, double momentum, bint shuffle_rows, Py_ssize_t max_epochs,
          Py_ssize_t max_batches, floating[::1] work):
    """Mini-batch SGD over the rows of X, Y, epoch after epoch, all inside this call.

    State kept between calls (so a long run is cut into calls of bounded time):
      order       the sample order of the current epoch (a permutation of range(len(X)))
      rng         the shuffling generator's state (4 words; seed_rng sets it)
      cursor      [epochs completed, position of the next batch in order]
      epoch_loss  epoch_loss[e] sums the losses of epoch e's samples (each taken in its batch's
                  forward pass, before that batch's step) and is made the mean at its end
    Stops after `max_epochs` more epochs end or `max_batches` batches run, whichever is first.
    grads (as long as params) is scratch; velocity too, used only when momentum != 0.
    Returns (status, batches run): status is STATUS_OK, or STATUS_DIVERGED when a step would
    have made a parameter non-finite (or the loss was): that step is not applied and the
    cursor stays before its batch.
    """
    check_network(params.shape[0], sizes, loss)
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1, n = X.shape[0], i
    check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    check_rows("Y", Y.shape[0], Y.shape[1], n, sizes[n_layers])
    if n < 1:
        raise ValueError("X needs at least one row")
    if grads.shape[0] != params.shape[0]:
        raise ValueError("grads must be as long as params")
    if momentum != 0 and velocity.shape[0] != params.shape[0]:
        raise ValueError("velocity must be as long as params when momentum is used")
    if order.shape[0] != n:
        raise ValueError("order must have one entry per row of X")
    for i in range(n):
        if order[i] < 0 or order[i] >= n:
            raise ValueError("order must hold row numbers of X")
    if rng.shape[0] != 4 or cursor.shape[0] != 2:
        raise ValueError("rng needs 4 words and cursor 2")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if cursor[0] < 0 or cursor[1] < 0 or cursor[1] >= n:
        raise ValueError("cursor out of range")
    if max_epochs < 0 or max_batches < 0 or cursor[0] + max_epochs > epoch_loss.shape[0]:
        raise ValueError("epoch_loss has no room for max_epochs more epochs")
    check_work(work.shape[0], sizes, batch_size)

    cdef Layout lay
    cdef Py_ssize_t epochs_done = 0, batches = 0, position, count, row
    cdef double batch_loss
    cdef int status = OK
    cdef floating* velocity_ptr = &velocity[0] if velocity.shape[0] else NULL
    lay = layout(&sizes[0], n_layers, batch_size)
    with nogil:
        while epochs_done < max_epochs and batches < max_batches:
            position = cursor[1]
            if position == 0 and shuffle_rows:
                shuffle(&order[0], n, &rng[0])
            count = min_(batch_size, n - position)
            if count == 1:
                row = order[position]
                batch_loss = sample_gradients(&params[0], &sizes[0], n_layers, loss,
                                              &X[row, 0], &Y[row, 0], &grads[0], &work[0], lay)
            else:
                memset(&grads[0], 0, grads.shape[0] * sizeof(floating))
                batch_loss = accumulate_gradients(&params[0], &sizes[0], n_layers, loss,
                                                  &X[0, 0], &Y[0, 0], &order[0], position, count,
                                                  <floating>(1.0 / count), &grads[0], &work[0],
                                                  lay)
            if batch_loss != batch_loss or batch_loss - batch_loss != 0 or not sgd_step(
                    &params[0], &grads[0], velocity_ptr, &sizes[0], n_layers, lay.n_params,
                    <floating>lr, <floating>l2, <floating>momentum):
                # the shuffled order is kept as it is, so a retry resumes the same epoch
                status = DIVERGED
                break
            epoch_loss[cursor[0]] += batch_loss
            batches += 1
            position += count
            if position == n:
                epoch_loss[cursor[0]] /= n
                cursor[0] += 1
                epochs_done += 1
                position = 0
            cursor[1] = position
    return status, batches


def seed_rng(uint64_t[::1] rng, uint64_t seed):
    """Sets the 4-word shuffling state of train from a 64-bit seed."""
    if rng.shape[0] != 4:
        raise ValueError("rng needs 4 words")
    seed_state(&rng[0], seed)


def permutation_step(Py_ssize_t[::1] order, uint64_t[::1] rng):
    """Shuffles order in place exactly as train does at the start of an epoch (for references
    and tests that replay a shuffled run)."""
    if rng.shape[0] != 4:
        raise ValueError("rng needs 4 words")
    if order.shape[0] > 1:
        shuffle(&order[0], order.shape[0], &rng[0])
