# The network as the core sees it: Model (widths, activations, loss, checked once), the size of
# a workspace (layout), and the safety net of shape and writability checks every entry point
# runs before a loop compiled without bounds checks. Included in _core.pyx.

cdef class Model:
    """A network's widths, hidden activation, output activation and loss (ACT_* and LOSS_*
    codes), checked once; every computation on a network takes one."""
    cdef readonly object sizes   # the widths as a read-only np.intp array (Net.sizes points in)
    cdef readonly int hidden     # ACT_* of the hidden layers
    cdef readonly int output     # ACT_* of the output layer
    cdef readonly int loss       # LOSS_*
    cdef readonly double huber_delta  # HUBER's delta
    cdef Net net

    def __init__(self, sizes, int hidden, int output, int loss, double huber_delta=1.0):
        cdef const Py_ssize_t[::1] widths
        cdef Py_ssize_t l
        array = np.array(sizes, dtype=np.intp)
        if array.ndim != 1 or len(array) < 2:
            raise ValueError("sizes needs at least two widths (inputs and outputs)")
        for l in range(len(array)):
            if array[l] < 1:
                raise ValueError(f"sizes[{l}] must be at least 1, got {array[l]}")
        total = sum(int(array[l + 1]) * (int(array[l]) + 1) for l in range(len(array) - 1))
        if total > MAX_PARAMS or int(array.max()) > MAX_PARAMS:
            raise ValueError(f"sizes {array.tolist()} need {total} parameters; at most "
                             f"{MAX_PARAMS} are supported")
        if hidden < 0 or hidden >= N_ACTIVATIONS or hidden == SOFTMAX or hidden == EXP:
            raise ValueError(f"unknown hidden activation code {hidden}")
        if output < 0 or output >= N_ACTIVATIONS:
            raise ValueError(f"unknown output activation code {output}")
        if loss < 0 or loss >= N_LOSSES:
            raise ValueError(f"unknown loss code {loss}")
        if not huber_delta > 0 or huber_delta == float("inf"):
            raise ValueError(f"huber_delta must be a positive finite number, got {huber_delta}")
        # the output deltas the core knows: mse, absolute error and Huber with an elementwise
        # output, cross-entropy with a sigmoid (binary) or softmax (categorical) output, poisson
        # with exp (and exp with poisson only)
        if (output == SOFTMAX and loss != CROSS_ENTROPY) or (
                loss == CROSS_ENTROPY and output != SIGMOID and output != SOFTMAX) or (
                (output == EXP) != (loss == POISSON)):
            raise ValueError(f"output code {output} does not train with loss code {loss}")
        array.flags.writeable = False
        self.sizes = array
        widths = array
        self.hidden, self.output, self.loss = hidden, output, loss
        self.huber_delta = huber_delta
        self.net.sizes = &widths[0]
        self.net.n_layers = len(array) - 1
        self.net.n_params = total
        self.net.hidden, self.net.output, self.net.loss = hidden, output, loss
        self.net.huber_delta = huber_delta

    @property
    def n_params(self):
        """Length of the flat parameter array."""
        return self.net.n_params

    def work_size(self, Py_ssize_t block):
        """Elements of workspace forward and loss_and_gradient need for blocks of `block` rows."""
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
        return layout(&self.net, block, 0, 1).total

    def train_work_size(self, Py_ssize_t batch_size, Py_ssize_t block, Optimizer optimizer,
                        int threads=1, bint dropout=False):
        """Elements of workspace train needs for batches of `batch_size` rows computed `block`
        rows at a time, with this optimizer, on `threads` threads (with dropout: its masks)."""
        cdef Layout lay
        cdef Dropout drop
        if batch_size < 1 or block < 1 or threads < 1:
            raise ValueError("batch_size, block and threads must be at least 1")
        lay = layout(&self.net, min_(batch_size, block), 1 + optimizer.state_vectors, threads)
        if dropout and self.net.n_layers > 1:
            dropout_space(&drop, &self.net, &lay, min_(batch_size, block), 0.5, 0)
        return lay.total



# The workspace starts with `vectors` arrays of n_params (train's gradient, which becomes the
# step, and the new optimiser state), then the per-block buffers, a packing space for each
# of `threads` threads and (several threads) the space they share a packed A in, sized for the
# largest product of a block; offsets are from aligned_base(work), and total leaves the ALIGN
# elements that moving the base may take.
cdef Layout layout(const Net* net, Py_ssize_t block, Py_ssize_t vectors,
                   int threads) noexcept nogil:
    cdef Layout out
    cdef Py_ssize_t l, widths = 0, widest = 0, biggest, n_in, n_out
    for l in range(net.n_layers + 1):
        widths += net.sizes[l]
        widest = net.sizes[l] if net.sizes[l] > widest else widest
    biggest = widest if widest > block else block  # the largest m, n or k of a product
    out.widest = widest
    out.vector = round_up(net.n_params, ALIGN)
    out.acts = vectors * out.vector
    out.delta = round_up(out.acts + block * widths, ALIGN)
    out.delta_half = round_up(block * widest, ALIGN)
    out.z_out = out.delta + 2 * out.delta_half
    out.pres = round_up(out.z_out + block * net.sizes[net.n_layers], ALIGN)
    out.pack = round_up(out.pres + (block * widths if needs_z(net.hidden) else 0), ALIGN)
    out.pack_stride = round_up(gemm_work_size(biggest, biggest, biggest), ALIGN)
    out.threads = threads
    out.sparse_x = NULL
    out.shared = 0
    if threads > 1:
        for l in range(net.n_layers):
            n_in = net.sizes[l]
            n_out = net.sizes[l + 1]
            # layer l's forward, weight gradient and delta products
            out.shared = max_(out.shared, gemm_shared_size(block, n_out, n_in))
            out.shared = max_(out.shared, gemm_shared_size(n_out, n_in, block))
            out.shared = max_(out.shared, gemm_shared_size(block, n_in, n_out))
    out.total = out.pack + threads * out.pack_stride + round_up(out.shared, ALIGN) + ALIGN
    return out


# ---------------------------------------------------------------------------------------------
# Safety net: the shapes every entry point relies on (Python validates first, with friendlier
# messages; these checks make a wrong call from anywhere a ValueError, never a wild read or
# write).
# ---------------------------------------------------------------------------------------------

cdef check_rows(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t want_rows,
                Py_ssize_t want_cols):
    if rows != want_rows or cols != want_cols:
        raise ValueError(f"{name} has shape ({rows}, {cols}); expected ({want_rows}, {want_cols})")


cdef check_length(str name, Py_ssize_t have, Py_ssize_t want):
    if have != want:
        raise ValueError(f"{name} has {have} elements; expected {want}")


cdef check_work(Py_ssize_t have, Py_ssize_t need):
    if have < need:
        raise ValueError(f"work has {have} elements; {need} needed")


cdef bint overlapping(object array):
    """True if some element of `array` is reachable by two indices: a stride of 0 (np.broadcast_to)
    or strides that interleave (np.lib.stride_tricks.as_strided). A sufficient test: the
    dimensions, ordered by stride, must each step past the whole of the one below."""
    cdef Py_ssize_t reach = array.itemsize, stride, extent
    if array.size == 0:
        return False
    for stride, extent in sorted((abs(s), n) for s, n in zip(array.strides, array.shape) if n > 1):
        if stride < reach:
            return True
        reach = stride * extent
    return False


cdef object writable(object array, str name, object dtype):
    """`array` if the core may write its results into it: a numpy array of `dtype` that is
    writeable and does not reach any element twice (writing through a stride-0 view would tie
    values together); else ValueError (TypeError for a non-array) naming it. Checked before
    any write, by every entry point that writes into an array its caller passed."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype).name}, got {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only; the core writes its result into it")
    if overlapping(array):
        raise ValueError(f"{name} reaches some elements more than once (a stride-0 or "
                         f"as_strided view); pass an array that owns its elements, e.g. a copy")
    return array


cdef inline object dtype_of(floating x):
    return np.float32 if floating is float else np.float64
