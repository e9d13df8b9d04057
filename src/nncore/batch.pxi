# Whole-network passes over blocks of rows (fit's mini-batches, forward's blocks): the forward
# pass, backprop into a gradient, the element-wise loops split among threads, and the
# loss_and_gradient entry point. Included in _core.pyx.

cdef extern from "nn_threads.h" nogil:
    int nn_team_size()      # threads in the current parallel region
    void nn_barrier()       # waits for every thread of the current parallel region
    void nn_flag_or(unsigned int* flag, unsigned int bits)   # *flag |= bits, atomically

cdef enum:
    PARALLEL_ELEMENTS = 1 << 14  # elements of an element-wise loop per thread below which
                                 # waking a thread costs more than it saves (16K: about
                                 # 10-20 us of sigmoid or copying on one core)


# Threads worth using for `elements` elements of element-wise work, at most `threads`.
cdef inline int element_threads(Py_ssize_t elements, int threads) noexcept nogil:
    cdef Py_ssize_t most = elements // PARALLEL_ELEMENTS
    if most < threads:
        return <int>most if most > 1 else 1
    return threads


# Columns lo .. hi - 1 of rows x n values: any_nonfinite, then activate, on each row's
# stretch; returns 1 if a value was inf or NaN.
cdef inline unsigned int activate_columns(int kind, floating* z, Py_ssize_t rows, Py_ssize_t n,
                                          Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int bad = 0
    for i in range(rows):
        bad |= any_nonfinite(z + i * n + lo, hi - lo)
        activate(kind, z + i * n + lo, 1, hi - lo)
    return bad


# activate_rows on one thread. A function of its own: inside activate_rows, whose `bad` and
# `z` the parallel region shares, gcc left the sigmoid's loop scalar (a forward pass twice as
# slow).
cdef unsigned int activate_serial(int kind, floating* z, Py_ssize_t rows,
                                  Py_ssize_t n) noexcept nogil:
    cdef unsigned int bad = any_nonfinite(z, rows * n)
    activate(kind, z, rows, n)
    return bad


# The activation `kind` in place over `rows` rows of n, split among threads (no element's
# value depends on the split): by columns, as gemm splits the product that wrote them (each
# thread then mostly reads what it wrote), or by rows for softmax, which needs whole rows.
# Returns 1 if a pre-activation was inf or NaN (see any_nonfinite), else 0.
cdef unsigned int activate_rows(int kind, floating* z, Py_ssize_t rows, Py_ssize_t n,
                                int threads) noexcept nogil:
    cdef int t, used = element_threads(rows * n, threads)
    cdef Py_ssize_t lo, hi
    cdef unsigned int bad = 0
    if used <= 1:
        return activate_serial(kind, z, rows, n)
    for t in prange(used, num_threads=used, schedule="static"):
        if kind == SOFTMAX:
            lo = rows * t // used
            hi = rows * (t + 1) // used
            nn_flag_or(&bad, any_nonfinite(z + lo * n, (hi - lo) * n))
            activate(kind, z + lo * n, hi - lo, n)
        else:
            nn_flag_or(&bad, activate_columns(kind, z, rows, n, n * t // used,
                                              n * (t + 1) // used))
    return bad


# Copies rows rows[first + i] of x (row first + i when rows is NULL), i < count, of n values
# each into out, one after the other, the rows split among threads.
cdef void gather_rows(const floating* x, const Py_ssize_t* rows, Py_ssize_t first,
                      Py_ssize_t count, Py_ssize_t n, floating* out, int threads) noexcept nogil:
    cdef Py_ssize_t i, row
    cdef int used = element_threads(count * n, threads)
    if used <= 1:
        for i in range(count):
            row = rows[first + i] if rows != NULL else first + i
            memcpy(out + i * n, x + row * n, n * sizeof(floating))
        return
    for i in prange(count, num_threads=used, schedule="static"):
        row = rows[first + i] if rows != NULL else first + i
        memcpy(out + i * n, x + row * n, n * sizeof(floating))


# grad_b[lo .. hi - 1] = scale * (sums of those columns of the rows x n deltas d) + beta * grad_b
# (beta 0: grad_b not read, else 1: added to). Each column's sum runs over the rows in order.
cdef inline void bias_gradient(const floating* d, Py_ssize_t rows, Py_ssize_t n, floating scale,
                               floating beta, floating* grad_b, Py_ssize_t lo,
                               Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i, j
    if beta == 0:
        for j in range(lo, hi):
            grad_b[j] = 0
    for i in range(rows):
        for j in range(lo, hi):
            grad_b[j] += scale * d[i * n + j]


# Columns lo .. hi - 1 of a hidden layer's deltas: d *= f'(z) (see times_derivative_at, f'
# from the activations a or the pre-activations z), then their bias gradient (bias_gradient).
cdef inline void delta_columns(int kind, floating* d, const floating* a, const floating* z,
                               Py_ssize_t rows, Py_ssize_t n, floating scale, floating beta,
                               floating* grad_b, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(rows):
        times_derivative_at(kind, d + i * n + lo, a + i * n + lo, z + i * n + lo, hi - lo)
    bias_gradient(d, rows, n, scale, beta, grad_b, lo, hi)


# A hidden layer's deltas over rows x n and its bias gradient (delta_columns), the columns
# split among threads (neither an element's value nor a column's sum depends on the split).
cdef void hidden_deltas(int kind, floating* d, const floating* a, const floating* z,
                        Py_ssize_t rows, Py_ssize_t n, floating scale, floating beta,
                        floating* grad_b, int threads) noexcept nogil:
    cdef int t, used = element_threads(rows * n, threads)
    if used <= 1:
        delta_columns(kind, d, a, z, rows, n, scale, beta, grad_b, 0, n)
        return
    for t in prange(used, num_threads=used, schedule="static"):
        delta_columns(kind, d, a, z, rows, n, scale, beta, grad_b, n * t // used,
                      n * (t + 1) // used)


# Forward pass of `count` samples: rows[first + i] of x (or row first + i when rows is NULL).
# Leaves A_0 .. A_L in the workspace's acts and the output pre-activations in its z_out.
# Returns 0, or 1 + the first layer whose pre-activations hold inf or NaN: from finite inputs
# and parameters the arithmetic overflowed the dtype, and the callers refuse the result.
cdef Py_ssize_t forward_rows(const Net* net, const floating* params, const floating* x,
                             const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t count,
                             floating* work, Layout lay) noexcept nogil:
    return forward_dropped(net, params, x, rows, first, count, work, lay, NULL)


# forward_rows with dropout (drop not NULL: see dropout.pxd): each hidden layer's activations
# stay in acts as they are, and their masked copy (mask_rows) is what the next layer reads.
cdef Py_ssize_t forward_dropped(const Net* net, const floating* params, const floating* x,
                                const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t count,
                                floating* work, Layout lay,
                                const Dropout* drop) noexcept nogil:
    cdef Py_ssize_t i, j, l, n_in, n_out, overflowed = 0, unit = 0
    cdef unsigned int bad
    cdef floating* a = work + lay.acts
    cdef floating* a_next
    cdef const floating* a_in   # what the product reads: a, or its masked copy
    cdef const floating* w = params
    cdef const floating* b
    # A_0: a contiguous copy of the block's inputs (sparse inputs are read where they are)
    if lay.sparse_x == NULL:
        gather_rows(x, rows, first, count, net.sizes[0], a, lay.threads)
    a_in = a
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        b = w + n_out * n_in
        a_next = a + count * n_in
        # Z = A @ W.T + b: start every row at b, then add the product
        if l == 0 and lay.sparse_x != NULL:
            csr_forward(<const Csr*>lay.sparse_x, rows, first, count, w, b, n_out, a_next,
                        lay.threads)
        else:
            for i in range(count):
                for j in range(n_out):
                    a_next[i * n_out + j] = b[j]
            gemm(count, n_out, n_in, <floating>1, a_in, n_in, 1, w, 1, n_in, <floating>1,
                 a_next, n_out, work + lay.pack, lay.pack_stride, lay.threads)
        if l == net.n_layers - 1:
            memcpy(work + lay.z_out, a_next, count * n_out * sizeof(floating))
            bad = activate_rows(net.output, a_next, count, n_out, lay.threads)
        else:
            if needs_z(net.hidden):  # kept for the derivative (see Layout.pres)
                memcpy(a_next + (lay.pres - lay.acts), a_next, count * n_out * sizeof(floating))
            bad = activate_rows(net.hidden, a_next, count, n_out, lay.threads)
        if bad and not overflowed:
            overflowed = l + 1
        a = a_next
        a_in = a
        if drop != NULL and l < net.n_layers - 1:
            a_in = mask_rows(drop, a, first, count, n_out, unit, work)
            unit += n_out
        w = b + n_out
    return overflowed


# Backprop over `count` samples (see forward_rows): grads = scale * (sum of their loss
# gradients, each times its sample weight) + beta * grads (laid out like params; beta 0: grads
# not read) and returns the sum of their losses times their weights. weights NULL: every weight
# is 1. All deltas use the weights as they are. If the forward pass overflowed (see forward_rows)
# *overflowed gets its layer + 1 and nothing else is computed (grads is then not valid).
cdef double accumulate_gradients(const Net* net, const floating* params, const floating* x,
                                 const floating* y, const floating* weights,
                                 const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t count,
                                 floating scale, floating beta, floating* grads,
                                 floating* work, Layout lay,
                                 Py_ssize_t* overflowed) noexcept nogil:
    return accumulate_dropped(net, params, x, y, weights, rows, first, count, scale, beta,
                              grads, work, lay, overflowed, NULL)


# accumulate_gradients with dropout (drop not NULL: forward_dropped's masks): the weight
# gradients from the masked activations, the hidden deltas masked before f'(z).
cdef double accumulate_dropped(const Net* net, const floating* params, const floating* x,
                               const floating* y, const floating* weights,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t count,
                               floating scale, floating beta, floating* grads,
                               floating* work, Layout lay, Py_ssize_t* overflowed,
                               const Dropout* drop) noexcept nogil:
    cdef Py_ssize_t i, l, row, n_in, n_out, offset, acts_offset
    cdef Py_ssize_t unit = drop.hidden if drop != NULL else 0
    cdef const floating* a_in   # the layer's input the weight gradient reads (masked or not)
    cdef Py_ssize_t n_last = net.sizes[net.n_layers]
    cdef double loss_sum = 0
    cdef floating weight = 1
    cdef floating* delta = work + lay.delta                 # deltas of the layer above
    cdef floating* delta_below = delta + lay.delta_half     # deltas being computed
    cdef floating* swap
    cdef floating* a
    cdef floating* grad_w
    cdef floating* grad_b
    cdef const floating* w
    overflowed[0] = forward_dropped(net, params, x, rows, first, count, work, lay, drop)
    if overflowed[0]:
        return 0

    # Output deltas (and losses), one sample at a time
    acts_offset = lay.acts
    for l in range(net.n_layers):
        acts_offset += count * net.sizes[l]
    a = work + acts_offset
    for i in range(count):
        row = rows[first + i] if rows != NULL else first + i
        if weights != NULL:
            weight = weights[row]
        loss_sum += weight * row_loss(net.output, net.loss, net.huber_delta, a + i * n_last,
                                      work + lay.z_out + i * n_last, y + row * n_last,
                                      n_last)
        row_output_delta(net.output, net.loss, net.huber_delta, a + i * n_last,
                         y + row * n_last, weight, delta + i * n_last, n_last)

    # Layers from the top: weight gradients, then the deltas passed down
    offset = net.n_params
    for l in range(net.n_layers - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        offset -= n_out * n_in + n_out
        w = params + offset
        grad_w = grads + offset
        grad_b = grad_w + n_out * n_in
        acts_offset -= count * n_in
        a = work + acts_offset
        a_in = a
        if drop != NULL and l > 0:
            unit -= n_in
            a_in = work + drop.dropped + count * unit
        # dW = scale * D.T @ A + beta * dW
        if l == 0 and lay.sparse_x != NULL:  # the inputs are never masked
            csr_weight_gradient(<const Csr*>lay.sparse_x, rows, first, count, delta, n_out,
                                scale, beta, grad_w, lay.threads)
        else:
            gemm(n_out, n_in, count, scale, delta, 1, n_out, a_in, n_in, 1, beta,
                 grad_w, n_in, work + lay.pack, lay.pack_stride, lay.threads)
        # db = scale * column sums of D + beta * db (a hidden layer's: with its deltas, below)
        if l == net.n_layers - 1:
            bias_gradient(delta, count, n_out, scale, beta, grad_b, 0, n_out)
        if l > 0:
            # D_below = (D @ W) * f'(Z_below), f' from the stored activations, and its db
            # (the biases of layer l - 1 lie just before W)
            gemm(count, n_in, n_out, <floating>1, delta, n_out, 1, w, n_in, 1, <floating>0,
                 delta_below, n_in, work + lay.pack, lay.pack_stride, lay.threads)
            if drop != NULL:
                times_keep(delta_below, work + drop.keep + count * unit, count * n_in)
            hidden_deltas(net.hidden, delta_below, a, a + (lay.pres - lay.acts), count, n_in,
                          scale, beta, grad_w - n_in, lay.threads)
            swap = delta
            delta = delta_below
            delta_below = swap
    return loss_sum


# The first of `count` rows (rows[first + i], or first + i when rows is NULL) whose forward pass
# overflows (see forward_rows), each row on its own, with that layer + 1 in *layer; -1 if none
# does on its own. work and lay as for forward_rows over any count.
cdef Py_ssize_t overflowed_row(const Net* net, const floating* params, const floating* x,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t count,
                               floating* work, Layout lay, Py_ssize_t* layer) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(first, first + count):
        layer[0] = forward_rows(net, params, x, rows, i, 1, work, lay)
        if layer[0]:
            return rows[i] if rows != NULL else i
    return -1


cdef object overflow_error(Model model, Py_ssize_t layer, Py_ssize_t row, Py_ssize_t first,
                           Py_ssize_t count, object X):
    """The ValueError for pre-activations of `layer` (1 + its index) that overflowed the
    dtype, from finite inputs and parameters, in row `row` of X (-1: one of rows first ..
    first + count - 1, which overflow together but not one by one)."""
    cdef Py_ssize_t l = layer - 1
    x = X if isinstance(X, CsrRows) else np.asarray(X)
    dtype = x.data.dtype if isinstance(X, CsrRows) else x.dtype
    where = "the output layer" if l == model.net.n_layers - 1 else "a hidden layer"
    if row < 0:
        rows, largest = f"one of rows {first} to {first + count - 1}", (
            x.row_values(first, count) if isinstance(X, CsrRows) else x[first:first + count])
    else:
        rows, largest = f"row {row}", (
            x.row_values(row, 1) if isinstance(X, CsrRows) else x[row])
    hint = "; or use dtype=np.float64" if dtype == np.float32 else ""
    return ValueError(
        f"the pre-activations of layer {l} ({where}: weights[{l}] @ inputs + biases[{l}]) "
        f"overflowed {dtype.name} for {rows} of X: they leave the dtype's range "
        f"(+-{float(np.finfo(dtype).max):.4g}; X's largest magnitude there is "
        f"{float(np.abs(largest).max(initial=0)):.4g}), so the outputs cannot be computed; "
        f"scale X or the weights down{hint}")


# Sum of the weights of rows rows[first .. first + count - 1] (first .. when rows is NULL);
# count when weights is NULL.
cdef double weight_sum(const floating* weights, const Py_ssize_t* rows, Py_ssize_t first,
                       Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t i
    cdef double total = 0
    if weights == NULL:
        return <double>count
    for i in range(first, first + count):
        total += weights[rows[i] if rows != NULL else i]
    return total


def loss_and_gradient(Model model, const floating[::1] params, const floating[:, ::1] X,
                      const floating[:, ::1] Y, const floating[::1] sample_weight, double alpha,
                      object grads, object work, Py_ssize_t block, CsrRows sparse_x=None):
    """The network's loss over the rows of X, Y at params, and its gradient into grads (laid
    out like params), computed `block` rows at a time (work: model.work_size(block)):
        loss = (sum_i w_i * l_i + 0.5 * alpha * sum(W**2)) / sum_i w_i
    l_i the loss of row i, w_i its weight (sample_weight, or 1 for all when it is empty), W
    the weights (not the biases): the mean loss, or with alpha scikit-learn's MLP objective.
    sparse_x: X as CSR rows (X then a (0, 0) array, not read). Returns the loss. Raises
    ValueError, naming the layer and the row, if a pre-activation overflows the dtype (grads
    is then not valid)."""
    cdef floating[::1] g = writable(grads, "grads", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    cdef const Net* net = &model.net
    cdef Py_ssize_t n = X.shape[0] if sparse_x is None else sparse_x.n_rows, first, count, t, i
    cdef Csr csr
    cdef list hold = []
    cdef const floating* weights = NULL
    cdef double total = 0, wsum
    check_length("params", params.shape[0], net.n_params)
    check_length("grads", g.shape[0], net.n_params)
    if sparse_x is None:
        check_rows("X", X.shape[0], X.shape[1], n, net.sizes[0])
    check_rows("Y", Y.shape[0], Y.shape[1], n, net.sizes[net.n_layers])
    if n < 1 or block < 1:
        raise ValueError("X needs at least one row and block must be at least 1")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if sample_weight.shape[0]:
        check_length("sample_weight", sample_weight.shape[0], n)
        weights = &sample_weight[0]
        for i in range(n):
            if not sample_weight[i] >= 0:
                raise ValueError("sample_weight must be >= 0")
    check_work(wv.shape[0], layout(net, block, 0, 1).total)
    cdef Layout lay = layout(net, block, 0, 1)
    cdef const floating* x = &X[0, 0] if sparse_x is None else NULL
    if sparse_x is not None and n:
        csr_for_call(sparse_x, dtype_of(<floating>0), net, n, hold, &csr)
        lay.sparse_x = &csr
    with nogil:
        wsum = weight_sum(weights, NULL, 0, n)
    if not wsum > 0:
        raise ValueError("sample_weight must have a positive sum")
    cdef Py_ssize_t overflowed = 0, layer = 0, row = -1
    with nogil:
        for t in range((n + block - 1) // block):
            first = t * block
            count = min_(block, n - first)
            total += accumulate_gradients(net, &params[0], x, &Y[0, 0], weights, NULL,
                                          first, count, <floating>(1.0 / wsum),
                                          <floating>(first != 0), &g[0],
                                          aligned_base(&wv[0]), lay, &overflowed)
            if overflowed:
                row = overflowed_row(net, &params[0], x, NULL, first, count,
                                     aligned_base(&wv[0]), lay, &layer)
                break
        if alpha != 0 and not overflowed:
            total += 0.5 * alpha * squared_weights(net, &params[0])
            add_decay(net, &params[0], <floating>(alpha / wsum), &g[0])
    if overflowed:
        raise overflow_error(model, layer if row >= 0 else overflowed, row, first, count,
                             X if sparse_x is None else sparse_x)
    return total / wsum


# grads += decay * W (the weights, not the biases)
cdef void add_decay(const Net* net, const floating* params, floating decay,
                    floating* grads) noexcept nogil:
    cdef Py_ssize_t i, l, start = 0, n_weights
    for l in range(net.n_layers):
        n_weights = net.sizes[l + 1] * net.sizes[l]
        for i in range(start, start + n_weights):
            grads[i] = grads[i] + decay * params[i]
        start += n_weights + net.sizes[l + 1]
