"""nnpy's compiled core: the arithmetic of feed-forward networks over typed memoryviews.

Every function here takes arrays the caller (nnpy, in Python) has validated and allocated,
outputs included, and runs its loops with the GIL released. A network is
    params  one flat array: W_0 (n_1 x n_0, row-major), b_0 (n_1), W_1, b_1, ... W_{L-1}, b_{L-1}
    Model   its widths n_0 .. n_L, the activation of its hidden layers, the activation of its
            output layer and the loss it trains with (codes ACT_*, LOSS_*; nnpy._model maps the
            names onto them), checked once when the Model is made.
Training also takes an Optimizer (settings and step count; its moments live in an array the
caller keeps) and an Epochs (where the run over the rows stands between calls).
Samples are rows (X is n_samples x n_0). The entry points re-check every shape they rely on and
raise ValueError, so that no call, however wrong, reaches a loop compiled without bounds checks;
every array an entry point writes into must be writeable and may not reach an element twice.
"""
cimport numpy as cnp
import numpy as np
from cython cimport floating
from libc.math cimport sqrt, pow
from libc.stdint cimport uint64_t
from cpython.pythread cimport PyThread_get_thread_ident
from libc.string cimport memcpy, memset
from cython.parallel cimport prange, parallel, threadid

from activations cimport (sigmoid, nn_sigmoid, nn_sigmoidf, sigmoid_derivative, activate,
                          any_nonfinite, softmax_rows, row_loss, row_output_delta, nonfinite,
                          MSE, CROSS_ENTROPY)
# the activation codes and switches, generated from activation_kinds.tp (see there)
from activation_kinds cimport (activation, derivative_at, activate_values, times_derivative_at,
                               needs_z, SIGMOID,
                               TANH, RELU, IDENTITY, SOFTMAX, N_ACTIVATIONS)
from gemm cimport gemm, gemm_work_size, gemm_shared_size
from shuffle cimport seed_state, shuffle

cnp.import_array()

cdef extern from *:
    """
    #ifndef NNPY_DEBUG_BUILD
    #define NNPY_DEBUG_BUILD 0
    #endif
    """
    int NNPY_DEBUG_BUILD

cdef extern from "nn_threads.h" nogil:
    int nn_max_threads()      # OpenMP's current limit for this thread (1 without OpenMP)
    int nn_openmp()           # 1 if the core was compiled with OpenMP

cdef extern from "nn_interrupt.h" nogil:
    int nn_stop_requested()   # SIGINT arrived since nn_catch_sigint
    int nn_catch_sigint()     # main thread, GIL held: 1 if the handler went in
    void nn_release_sigint()  # puts Python's handler back

DEBUG_BUILD = bool(NNPY_DEBUG_BUILD)  # built with bounds, wraparound and initialisation checks
OPENMP = bool(nn_openmp())  # built with OpenMP: fit can use several threads


def max_threads():
    """OpenMP's current thread limit for the calling thread (1 without OpenMP): what
    threadpoolctl.threadpool_limits sets, or OMP_NUM_THREADS."""
    return nn_max_threads()

cdef enum:
    OK = 0            # train: ran its budget of epochs or batches
    DIVERGED = 1      # train: a step would have made a parameter non-finite; it was not applied
    INTERRUPTED = 2   # train: Ctrl-C arrived; the batch under way was abandoned, not applied
    OVERFLOWED = 3    # train: a pre-activation of the batch overflowed the dtype (from finite
                      # inputs and parameters); no step was applied

cdef enum:
    SGD = 0           # stochastic gradient descent, with momentum (Nesterov's or not) or none
    ADAM = 1          # Adam, as torch.optim.Adam

include "activation_codes.pxi"   # ACTIVATION_CODES, ACTIVATIONS_FROM_Z, ACT_*: generated
LOSS_MSE, LOSS_CROSS_ENTROPY = MSE, CROSS_ENTROPY
OPT_SGD, OPT_ADAM = SGD, ADAM
STATUS_OK, STATUS_DIVERGED, STATUS_INTERRUPTED, STATUS_OVERFLOWED = (OK, DIVERGED, INTERRUPTED,
                                                                     OVERFLOWED)

MAX_PARAMS = 1 << 40  # weights + biases: far beyond memory, far below Py_ssize_t overflow


# ---------------------------------------------------------------------------------------------
# The network: its shape and kinds, and the layout of its workspace
# ---------------------------------------------------------------------------------------------

cdef struct Net:
    const Py_ssize_t* sizes   # widths n_0 .. n_L
    Py_ssize_t n_layers       # L, the number of weight layers
    Py_ssize_t n_params       # weights and biases in all: the length of params
    int hidden                # activation of layers 1 .. L-1
    int output                # activation of layer L
    int loss                  # the loss trained and reported


cdef class Model:
    """A network's widths, hidden activation, output activation and loss (ACT_* and LOSS_*
    codes), checked once; every computation on a network takes one."""
    cdef readonly object sizes   # the widths as a read-only np.intp array (Net.sizes points in)
    cdef readonly int hidden     # ACT_* of the hidden layers
    cdef readonly int output     # ACT_* of the output layer
    cdef readonly int loss       # LOSS_*
    cdef Net net

    def __init__(self, sizes, int hidden, int output, int loss):
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
        if hidden < 0 or hidden >= N_ACTIVATIONS or hidden == SOFTMAX:
            raise ValueError(f"unknown hidden activation code {hidden}")
        if output < 0 or output >= N_ACTIVATIONS:
            raise ValueError(f"unknown output activation code {output}")
        if loss != MSE and loss != CROSS_ENTROPY:
            raise ValueError(f"unknown loss code {loss}")
        # the output deltas the core knows: mse with an elementwise output, cross-entropy with
        # a sigmoid (binary) or softmax (categorical) output
        if (output == SOFTMAX and loss != CROSS_ENTROPY) or (
                loss == CROSS_ENTROPY and output != SIGMOID and output != SOFTMAX):
            raise ValueError(f"output code {output} does not train with loss code {loss}")
        array.flags.writeable = False
        self.sizes = array
        widths = array
        self.hidden, self.output, self.loss = hidden, output, loss
        self.net.sizes = &widths[0]
        self.net.n_layers = len(array) - 1
        self.net.n_params = total
        self.net.hidden, self.net.output, self.net.loss = hidden, output, loss

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
                        int threads=1):
        """Elements of workspace train needs for batches of `batch_size` rows computed `block`
        rows at a time, with this optimizer, on `threads` threads."""
        if batch_size < 1 or block < 1 or threads < 1:
            raise ValueError("batch_size, block and threads must be at least 1")
        return layout(&self.net, min_(batch_size, block),
                      1 + optimizer.state_vectors, threads).total


# Offsets into a workspace for blocks of `block` rows (see Model.work_size).
cdef struct Layout:
    Py_ssize_t vector     # stride of the n_params-long vectors at the start (train's)
    Py_ssize_t acts       # A_0 .. A_L, each block x n_l: the input copy and every activation
    Py_ssize_t delta      # two block x widest buffers: the deltas of two adjacent layers
    Py_ssize_t delta_half # offset of the second delta buffer from the first
    Py_ssize_t z_out      # block x n_L: output pre-activations, for a stable loss
    Py_ssize_t pres       # Z_1 .. Z_L laid out as acts (pres - acts apart), kept only for a
                          # hidden activation whose derivative is from z (needs_z), else empty
    Py_ssize_t pack       # packing space of gemm, one stretch per thread
    Py_ssize_t pack_stride  # elements of one thread's packing space
    Py_ssize_t shared     # elements of the space threads share a packed A in (after theirs)
    Py_ssize_t total      # elements in all
    Py_ssize_t widest     # max(n_0 .. n_L): the row length of a delta buffer
    int threads           # threads the products of a block may use


cdef inline Py_ssize_t round_up(Py_ssize_t x, Py_ssize_t to) noexcept nogil:
    return (x + to - 1) // to * to


cdef inline Py_ssize_t min_(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t max_(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


cdef enum:
    ALIGN = 16    # elements: every workspace buffer starts on a 64-byte boundary (a cache line;
                  # SIMD loads that straddle lines cost W3 about a third of its speed)


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


# work moved forward to the next 64-byte boundary (fewer than ALIGN elements).
cdef inline floating* aligned_base(floating* work) noexcept nogil:
    return work + (64 - <size_t>work % 64) % 64 // sizeof(floating)


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


# ---------------------------------------------------------------------------------------------
# Elementwise and matrix kernels (used by the post's API and tested on their own)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Forward and backward passes of a whole network over a block of rows
# ---------------------------------------------------------------------------------------------

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
                        Py_ssize_t rows,
                        Py_ssize_t n, floating scale, floating beta, floating* grad_b,
                        int threads) noexcept nogil:
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
    cdef Py_ssize_t i, j, l, n_in, n_out, overflowed = 0
    cdef unsigned int bad
    cdef floating* a = work + lay.acts
    cdef floating* a_next
    cdef const floating* w = params
    cdef const floating* b
    # A_0: a contiguous copy of the block's inputs
    gather_rows(x, rows, first, count, net.sizes[0], a, lay.threads)
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        b = w + n_out * n_in
        a_next = a + count * n_in
        # Z = A @ W.T + b: start every row at b, then add the product
        for i in range(count):
            for j in range(n_out):
                a_next[i * n_out + j] = b[j]
        gemm(count, n_out, n_in, <floating>1, a, n_in, 1, w, 1, n_in, <floating>1,
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
    cdef Py_ssize_t i, l, row, n_in, n_out, offset, acts_offset
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
    overflowed[0] = forward_rows(net, params, x, rows, first, count, work, lay)
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
        loss_sum += weight * row_loss(net.output, net.loss, a + i * n_last,
                                      work + lay.z_out + i * n_last, y + row * n_last, n_last)
        row_output_delta(net.output, net.loss, a + i * n_last, y + row * n_last, weight,
                         delta + i * n_last, n_last)

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
        # dW = scale * D.T @ A + beta * dW
        gemm(n_out, n_in, count, scale, delta, 1, n_out, a, n_in, 1, beta,
             grad_w, n_in, work + lay.pack, lay.pack_stride, lay.threads)
        # db = scale * column sums of D + beta * db (a hidden layer's: with its deltas, below)
        if l == net.n_layers - 1:
            bias_gradient(delta, count, n_out, scale, beta, grad_b, 0, n_out)
        if l > 0:
            # D_below = (D @ W) * f'(Z_below), f' from the stored activations, and its db
            # (the biases of layer l - 1 lie just before W)
            gemm(count, n_in, n_out, <floating>1, delta, n_out, 1, w, n_in, 1, <floating>0,
                 delta_below, n_in, work + lay.pack, lay.pack_stride, lay.threads)
            hidden_deltas(net.hidden, delta_below, a, a + (lay.pres - lay.acts), count, n_in,
                          scale, beta, grad_w - n_in,
                          lay.threads)
            swap = delta
            delta = delta_below
            delta_below = swap
    return loss_sum


# ---------------------------------------------------------------------------------------------
# One sample at a time (per-sample SGD, the post's way of training, and the one-sample predict):
# matrix-vector products as plain loops, no packing, no blocking
# ---------------------------------------------------------------------------------------------

# Width tags. A layer whose widths are both at most SMALL_WIDTH (each layer of the post's 2-2-1
# is) runs a copy of the per-sample loops compiled for exactly its widths, one copy per pair
# (Inputs, Outputs: fused types of these tags). The compiler unrolls each loop of such a copy
# into straight code, with no loop set-up, no exit tests and no vectorised versions to choose
# between, so that a small layer's step costs its arithmetic. UpTo4: an input width at run time,
# at most SMALL_WIDTH (loops unrolled to SMALL_WIDTH, each exiting at the width: the input layer
# of small_step). AnyWidth: widths at run time.
cdef struct Width1:
    char unused
cdef struct Width2:
    char unused
cdef struct Width3:
    char unused
cdef struct Width4:
    char unused
cdef struct UpTo4:
    char unused
cdef struct AnyWidth:
    char unused
ctypedef fused Inputs:
    Width1
    Width2
    Width3
    Width4
    UpTo4
    AnyWidth
ctypedef fused Outputs:
    Width1
    Width2
    Width3
    Width4
    AnyWidth

cdef enum:
    SMALL_WIDTH = 4   # layers with both widths at most this take a copy compiled for them
    SMALL_PARAMS = 2 * SMALL_WIDTH * (SMALL_WIDTH + 1)   # parameters of the largest small net


# The width a tag stands for; n for AnyWidth.
cdef inline Py_ssize_t width(Inputs* tag, Py_ssize_t n) noexcept nogil:
    if Inputs is Width1:
        return 1
    elif Inputs is Width2:
        return 2
    elif Inputs is Width3:
        return 3
    elif Inputs is Width4:
        return 4
    else:
        return n


# The bound of a loop over an input width n: SMALL_WIDTH for UpTo4 (whose loops exit at n), else
# the width.
cdef inline Py_ssize_t bound(Inputs* tag, Py_ssize_t n) noexcept nogil:
    if Inputs is UpTo4:
        return SMALL_WIDTH
    else:
        return width(tag, n)


# Dot product of n values. Long ones (AnyWidth, n >= 8) in 8 partial sums the compiler keeps
# in one SIMD register (a single running sum would be a serial chain: without -ffast-math it
# cannot reorder it); short ones in one running sum.
cdef inline floating dot(const floating* u, const floating* v, Py_ssize_t n,
                         Inputs* tag) noexcept nogil:
    cdef floating part[8]
    cdef floating total = 0
    cdef Py_ssize_t i, t, start = 0
    if Inputs is AnyWidth:
        if n >= 8:  # below 8 the partial sums would cost more than they save
            start = n // 8 * 8
            for t in range(8):
                part[t] = 0
            for i in range(0, start, 8):
                for t in range(8):
                    part[t] = part[t] + u[i + t] * v[i + t]
            total = (((part[0] + part[4]) + (part[2] + part[6]))
                     + ((part[1] + part[5]) + (part[3] + part[7])))
    for i in range(start, bound(tag, n)):
        if Inputs is UpTo4 and i == n:
            break
        total = total + u[i] * v[i]
    return total


# One layer of one sample's forward pass: a = f(W a_prev + b), with W (n_out x n_in, row-major)
# and then b at w; z_keep (not NULL) gets the pre-activations. Returns the sum of the
# pre-activations times 0: 0 if they are finite, NaN if one is inf or NaN (the arithmetic
# overflowed: see activate). A probe the caller adds up over the layers and tests once: one
# multiply-add a value, where a bit test of each costs a sample-by-sample step several.
cdef inline floating sized_forward(Inputs* ins, Outputs* outs, Py_ssize_t n_in,
                                   Py_ssize_t n_out, const floating* w, const floating* a_prev,
                                   floating* a, floating* z_keep, int kind) noexcept nogil:
    cdef Py_ssize_t j
    cdef const floating* b
    cdef floating probe = 0
    n_in = width(ins, n_in)
    n_out = width(outs, n_out)
    b = w + n_out * n_in
    for j in range(n_out):
        a[j] = dot(w + j * n_in, a_prev, n_in, ins) + b[j]
        probe = probe + a[j] * 0
    if z_keep != NULL:
        for j in range(n_out):
            z_keep[j] = a[j]
    # The post's sigmoid one value at a time (branchless, inlined: the signs of one sample's
    # pre-activations are not predictable); the others one value at a time in a sized copy,
    # else in activate's vectorised pass. The same functions as the batch path's: the same values.
    if kind == SIGMOID:  # nn_math.h's directly: always inlined, so the loop vectorises
        for j in range(n_out):
            if floating is float:
                a[j] = nn_sigmoidf(a[j])
            else:
                a[j] = nn_sigmoid(a[j])
    elif kind == SOFTMAX:
        softmax_rows(a, 1, n_out)
    elif Outputs is AnyWidth:
        activate(kind, a, 1, n_out)
    else:
        for j in range(n_out):
            a[j] = activation(kind, a[j])
    return probe


# One layer of one sample's backprop, from the deltas of its outputs (n_out values).
# Updates: the gradient of W and b into grad_w (laid out like w), or with `fold` plain SGD's
# step instead, -lr * (g + decay * W) for the weights and -lr * g for the biases (step_range's
# formula), computed as each gradient is; returns 1 if a parameter plus its step is inf or NaN
# (the step and its check in the pass that computes the gradient, not in passes of their own).
# Then, with delta_below (not NULL), the deltas of its inputs: (W.T delta) * f'(z_below), f'
# from the activations a_prev or the pre-activations z_prev (see needs_z; else not read).
cdef inline unsigned int sized_backward(Inputs* ins, Outputs* outs, Py_ssize_t n_in,
                                        Py_ssize_t n_out, const floating* w,
                                        const floating* a_prev, const floating* z_prev,
                                        const floating* delta,
                                        floating* grad_w, floating* delta_below, int kind,
                                        bint fold, floating lr, floating decay) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating d, step, total
    cdef unsigned int flags = 0
    n_in = width(ins, n_in)
    n_out = width(outs, n_out)

    # Updates
    if not fold:
        for j in range(n_out):
            d = delta[j]
            for i in range(bound(ins, n_in)):
                if Inputs is UpTo4 and i == n_in:
                    break
                grad_w[j * n_in + i] = d * a_prev[i]
            grad_w[n_out * n_in + j] = d
    else:
        for j in range(n_out):
            d = delta[j]
            for i in range(bound(ins, n_in)):
                if Inputs is UpTo4 and i == n_in:
                    break
                step = -lr * (d * a_prev[i] + decay * w[j * n_in + i])
                grad_w[j * n_in + i] = step
                flags |= nonfinite(w[j * n_in + i] + step)
            step = -lr * d
            grad_w[n_out * n_in + j] = step
            flags |= nonfinite(w[n_out * n_in + j] + step)

    # Deltas passed down: summed row by row of W (contiguous reads), or in a sized copy one
    # input at a time (straight code, no zeroing pass); the same sums in the same order
    if delta_below != NULL:
        if Inputs is AnyWidth:
            for i in range(n_in):
                delta_below[i] = 0
            for j in range(n_out):
                d = delta[j]
                for i in range(n_in):
                    delta_below[i] = delta_below[i] + d * w[j * n_in + i]
            times_derivative_at(kind, delta_below, a_prev, z_prev, n_in)
        else:
            for i in range(bound(ins, n_in)):
                if Inputs is UpTo4 and i == n_in:
                    break
                total = 0
                for j in range(n_out):
                    total = total + delta[j] * w[j * n_in + i]
                delta_below[i] = total * derivative_at(kind, a_prev, z_prev, i)
    return flags


# sized_forward in its copy for widths n_in, n_out: the sized one when both are at most
# SMALL_WIDTH (forward_to picks the copy for n_out).
cdef inline floating forward_layer(Py_ssize_t n_in, Py_ssize_t n_out, const floating* w,
                                   const floating* a_prev, floating* a, floating* z_keep,
                                   int kind) noexcept nogil:
    if n_in > SMALL_WIDTH or n_out > SMALL_WIDTH:
        return sized_forward(<AnyWidth*>NULL, <AnyWidth*>NULL, n_in, n_out, w, a_prev, a,
                             z_keep, kind)
    elif n_in == 1:
        return forward_to(<Width1*>NULL, n_out, w, a_prev, a, z_keep, kind)
    elif n_in == 2:
        return forward_to(<Width2*>NULL, n_out, w, a_prev, a, z_keep, kind)
    elif n_in == 3:
        return forward_to(<Width3*>NULL, n_out, w, a_prev, a, z_keep, kind)
    return forward_to(<Width4*>NULL, n_out, w, a_prev, a, z_keep, kind)

cdef inline floating forward_to(Inputs* ins, Py_ssize_t n_out, const floating* w,
                                const floating* a_prev, floating* a, floating* z_keep,
                                int kind) noexcept nogil:
    if n_out == 1:
        return sized_forward(ins, <Width1*>NULL, 0, 0, w, a_prev, a, z_keep, kind)
    elif n_out == 2:
        return sized_forward(ins, <Width2*>NULL, 0, 0, w, a_prev, a, z_keep, kind)
    elif n_out == 3:
        return sized_forward(ins, <Width3*>NULL, 0, 0, w, a_prev, a, z_keep, kind)
    return sized_forward(ins, <Width4*>NULL, 0, 0, w, a_prev, a, z_keep, kind)


# sized_backward in its copy for widths n_in, n_out (as forward_layer picks).
cdef inline unsigned int backward_layer(Py_ssize_t n_in, Py_ssize_t n_out, const floating* w,
                                        const floating* a_prev, const floating* z_prev,
                                        const floating* delta,
                                        floating* grad_w, floating* delta_below, int kind,
                                        bint fold, floating lr, floating decay) noexcept nogil:
    if n_in > SMALL_WIDTH or n_out > SMALL_WIDTH:
        return sized_backward(<AnyWidth*>NULL, <AnyWidth*>NULL, n_in, n_out, w, a_prev, z_prev,
                              delta, grad_w, delta_below, kind, fold, lr, decay)
    elif n_in == 1:
        return backward_to(<Width1*>NULL, n_out, w, a_prev, z_prev, delta, grad_w,
                           delta_below, kind, fold, lr, decay)
    elif n_in == 2:
        return backward_to(<Width2*>NULL, n_out, w, a_prev, z_prev, delta, grad_w,
                           delta_below, kind, fold, lr, decay)
    elif n_in == 3:
        return backward_to(<Width3*>NULL, n_out, w, a_prev, z_prev, delta, grad_w,
                           delta_below, kind, fold, lr, decay)
    return backward_to(<Width4*>NULL, n_out, w, a_prev, z_prev, delta, grad_w, delta_below,
                       kind, fold, lr, decay)

cdef inline unsigned int backward_to(Inputs* ins, Py_ssize_t n_out, const floating* w,
                                     const floating* a_prev, const floating* z_prev,
                                     const floating* delta,
                                     floating* grad_w, floating* delta_below, int kind,
                                     bint fold, floating lr, floating decay) noexcept nogil:
    if n_out == 1:
        return sized_backward(ins, <Width1*>NULL, 0, 0, w, a_prev, z_prev, delta, grad_w,
                              delta_below, kind, fold, lr, decay)
    elif n_out == 2:
        return sized_backward(ins, <Width2*>NULL, 0, 0, w, a_prev, z_prev, delta, grad_w,
                              delta_below, kind, fold, lr, decay)
    elif n_out == 3:
        return sized_backward(ins, <Width3*>NULL, 0, 0, w, a_prev, z_prev, delta, grad_w,
                              delta_below, kind, fold, lr, decay)
    return sized_backward(ins, <Width4*>NULL, 0, 0, w, a_prev, z_prev, delta, grad_w,
                          delta_below, kind, fold, lr, decay)


# Forward pass of one sample x: A_1 .. A_L one after another in acts, the output
# pre-activations in z_out and, with pres (not NULL), the hidden ones laid out as acts in pres;
# returns A_L. *overflowed gets 1 if a pre-activation of some layer
# is inf or NaN (the arithmetic overflowed; forward_rows says which layer), else 0.
cdef inline floating* forward_sample(const Net* net, const floating* params, const floating* x,
                                     floating* acts, floating* z_out, floating* pres,
                                     Py_ssize_t* overflowed) noexcept nogil:
    cdef Py_ssize_t l, n_in, n_out, last = net.n_layers - 1
    cdef const floating* a_prev = x
    cdef const floating* w = params
    cdef floating* a = acts
    cdef floating probe = 0
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        if l < last:
            probe = probe + forward_layer(n_in, n_out, w, a_prev, a,
                                          pres + (a - acts) if pres != NULL else pres,
                                          net.hidden)
        else:  # the output layer: its pre-activations kept for the loss
            probe = probe + forward_layer(n_in, n_out, w, a_prev, a, z_out, net.output)
        a_prev = a
        a = a + n_out
        w = w + n_out * (n_in + 1)
    overflowed[0] = nonfinite(probe)
    return <floating*>a_prev


# Backprop of one sample: grads = the sample's loss gradient (overwritten, not added to);
# returns its loss. The arithmetic of accumulate_gradients with count == 1, layer by layer
# (sized_backward). A_0 is x itself.
# With `bad` (not NULL) grads gets plain SGD's step instead (sized_backward's fold), and *bad
# is or-ed with 1 if a parameter plus its step is inf or NaN (the caller applies the step).
# If the forward pass overflowed, *overflowed gets 1 (see forward_sample) and nothing else is
# computed.
cdef inline double sample_gradients(const Net* net, const floating* params, const floating* x,
                                    const floating* y, floating* grads, floating* work,
                                    Layout lay, floating lr, floating decay,
                                    unsigned int* bad, Py_ssize_t* overflowed) noexcept nogil:
    cdef Py_ssize_t l, n_in, n_out, offset, acts_offset = lay.acts
    cdef Py_ssize_t n_last = net.sizes[net.n_layers]
    cdef const floating* a_prev
    cdef floating* a
    cdef floating* delta = work + lay.delta
    cdef floating* delta_below = delta + lay.delta_half
    cdef floating* swap
    cdef unsigned int flags = 0
    cdef double sample_loss

    a = forward_sample(net, params, x, work + lay.acts, work + lay.z_out,
                       work + lay.pres if needs_z(net.hidden) else <floating*>NULL, overflowed)
    if overflowed[0]:
        return 0
    for l in range(net.n_layers):
        acts_offset += net.sizes[l + 1]  # just past A_L

    # Output delta and loss
    sample_loss = row_loss(net.output, net.loss, a, work + lay.z_out, y, n_last)
    row_output_delta(net.output, net.loss, a, y, <floating>1, delta, n_last)

    # Layers from the top: the updates, then the deltas passed down
    offset = net.n_params
    for l in range(net.n_layers - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        offset -= n_out * n_in + n_out
        acts_offset -= n_out
        a_prev = work + acts_offset - n_in if l > 0 else x
        flags |= backward_layer(n_in, n_out, params + offset, a_prev,
                                a_prev + (lay.pres - lay.acts) if l > 0 and needs_z(net.hidden)
                                else a_prev, delta,
                                grads + offset,
                                delta_below if l > 0 else <floating*>NULL, net.hidden,
                                bad != NULL, lr, decay)
        swap = delta
        delta = delta_below
        delta_below = swap
    if bad != NULL:
        bad[0] |= flags
    return sample_loss


# ---------------------------------------------------------------------------------------------
# Optimisers
# ---------------------------------------------------------------------------------------------

cdef struct Settings:
    int kind          # SGD or ADAM
    double lr         # step size
    double l2         # l2 * W is added to the weights' gradient (not the biases')
    double alpha      # alpha * W / (the batch's weight sum) is added too: scikit-learn's alpha
    double momentum   # SGD: velocity v = momentum * v - lr * g (0: plain SGD)
    bint nesterov     # SGD: step momentum * v - lr * g instead of v (scikit-learn's Nesterov)
    double beta1      # Adam: decay of the first moment
    double beta2      # Adam: decay of the second moment
    double eps        # Adam: added to the square root of the corrected second moment


cdef class Optimizer:
    """An optimiser's settings, and its step count in the caller's array `steps` (one int64,
    counted up by train with every step it applies, so that it always matches the moments).
    The moments (SGD's velocity, Adam's first and second moments: state_vectors arrays of
    n_params, one after the other) live in another array the caller keeps and hands to train."""
    cdef Settings settings
    cdef long long[::1] steps   # steps[0]: steps applied so far (Adam's t)

    def __init__(self, int kind, double lr, object steps, *, double l2=0.0, double alpha=0.0,
                 double momentum=0.0, bint nesterov=False, double beta1=0.9,
                 double beta2=0.999, double eps=1e-8):
        if kind != SGD and kind != ADAM:
            raise ValueError(f"unknown optimizer code {kind}")
        for name, value in (("lr", lr), ("l2", l2), ("alpha", alpha), ("eps", eps)):
            if not (value >= 0 and value < float("inf")):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not (0 <= momentum <= 1):  # 1: a velocity that never decays (scikit-learn allows it)
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not (0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if kind == ADAM and not eps > 0:
            raise ValueError("Adam needs eps > 0")
        self.steps = writable(steps, "steps", np.int64)
        if self.steps.shape[0] != 1 or self.steps[0] < 0:
            raise ValueError("steps must hold one count >= 0")
        self.settings = Settings(kind=kind, lr=lr, l2=l2, alpha=alpha, momentum=momentum,
                                 nesterov=nesterov, beta1=beta1, beta2=beta2, eps=eps)

    @property
    def step(self):
        """Steps applied so far."""
        return self.steps[0]

    @property
    def state_vectors(self):
        """Arrays of n_params the optimiser's state holds: 0 (plain SGD), 1 (SGD's velocity)
        or 2 (Adam's moments)."""
        if self.settings.kind == ADAM:
            return 2
        return 1 if self.settings.momentum != 0 else 0


# The step of parameters begin .. end, from the gradient g = grads + decay * params, written
# over grads (each g_i is read once, before its step is written), and their new optimiser state
# into new_state (laid out like state). Nothing else is written. Returns 1 if a parameter or a
# state value would become inf or NaN, else 0.
#   SGD:       v' = momentum * v - lr * g; step = v' (Nesterov: momentum * v' - lr * g)
#   plain SGD: step = -lr * g
#   Adam (torch.optim.Adam, at step t = the steps before this one + 1):
#              m' = m + (1 - beta1) * (g - m);  v' = beta2 * v + (1 - beta2) * g^2
#              step = -(lr / (1 - beta1^t)) * m' / (sqrt(v') / sqrt(1 - beta2^t) + eps)
cdef inline unsigned int step_range(const Settings* s, long long t, const floating* params,
                                    const floating* state, floating* grads, floating decay,
                                    floating* new_state, Py_ssize_t n, Py_ssize_t begin,
                                    Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int bad = 0
    cdef floating g, m, v, lr = <floating>s.lr, momentum = <floating>s.momentum
    cdef floating c1, b2, c2, eps, step_size, root_bc2
    if s.kind == ADAM:
        # every coefficient from the double betas, rounded once: 1 - b2 from a float b2 would
        # carry b2's rounding error magnified by 1/(1 - b2) (1.3e-5 relative for 0.999)
        c1 = <floating>(1 - s.beta1)
        b2 = <floating>s.beta2
        c2 = <floating>(1 - s.beta2)
        eps = <floating>s.eps
        step_size = <floating>(s.lr / (1 - pow(s.beta1, <double>t)))
        root_bc2 = <floating>sqrt(1 - pow(s.beta2, <double>t))
        # two loops, the moments and then the step: one loop over all six arrays needs more
        # run-time alias checks than gcc makes (10), and it left it scalar (10 ns a parameter)
        for i in range(begin, end):
            g = grads[i] + decay * params[i]
            new_state[i] = state[i] + c1 * (g - state[i])
            new_state[n + i] = b2 * state[n + i] + c2 * g * g
        for i in range(begin, end):
            m = new_state[i]
            v = new_state[n + i]
            grads[i] = -step_size * m / (<floating>sqrt(v) / root_bc2 + eps)
            bad |= nonfinite(params[i] + grads[i]) | nonfinite(m) | nonfinite(v)
    elif momentum != 0 and s.nesterov:
        for i in range(begin, end):
            g = grads[i] + decay * params[i]
            v = momentum * state[i] - lr * g
            new_state[i] = v
            grads[i] = momentum * v - lr * g
            bad |= nonfinite(params[i] + grads[i]) | nonfinite(v)
    elif momentum != 0:
        for i in range(begin, end):
            v = momentum * state[i] - lr * (grads[i] + decay * params[i])
            new_state[i] = v
            grads[i] = v
            bad |= nonfinite(params[i] + v)
    else:
        for i in range(begin, end):
            grads[i] = -lr * (grads[i] + decay * params[i])
            bad |= nonfinite(params[i] + grads[i])
    return bad


# The step of parameters lo .. hi - 1 (see step_range): the weights' with the decay, the
# biases' without.
cdef unsigned int step_part(const Settings* s, long long t, const Net* net,
                            const floating* params, const floating* state, floating* grads,
                            floating decay, floating* new_state, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t l, start = 0, n_weights, n_biases
    cdef unsigned int bad = 0
    for l in range(net.n_layers):
        n_weights = net.sizes[l + 1] * net.sizes[l]
        n_biases = net.sizes[l + 1]
        bad |= step_range(s, t, params, state, grads, decay, new_state, net.n_params,
                          max_(lo, start), min_(hi, start + n_weights))
        bad |= step_range(s, t, params, state, grads, <floating>0, new_state, net.n_params,
                          max_(lo, start + n_weights), min_(hi, start + n_weights + n_biases))
        start += n_weights + n_biases
    return bad


# Applies the checked step (in grads) to parameters lo .. hi - 1 and replaces their optimiser
# state (`vectors` arrays of n, one after the other) with the new one.
cdef void apply_part(floating* params, const floating* grads, floating* state,
                     const floating* new_state, Py_ssize_t n, Py_ssize_t vectors,
                     Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i, v
    for i in range(lo, hi):
        params[i] = params[i] + grads[i]
    for v in range(vectors):
        memcpy(state + v * n + lo, new_state + v * n + lo, (hi - lo) * sizeof(floating))


# One optimiser step from the mean gradient in grads, with decay * W added to the weights'
# gradient (biases untouched). The step (over grads) and the new state (into new_state) are
# computed first; if any parameter or state value would become inf or NaN nothing else changes
# and 0 is returned, else the step is applied, the state replaced, and 1 returned. Large
# networks split the parameters among `threads` threads (element-wise: the same result).
cdef bint optimizer_step(const Settings* s, long long t, const Net* net, floating* params,
                         floating* state, Py_ssize_t state_length, floating* grads,
                         floating decay, floating* new_state, int threads) noexcept nogil:
    cdef Py_ssize_t n = net.n_params, vectors = state_length // net.n_params, lo, hi
    cdef unsigned int bad = 0
    cdef int part, team, used = element_threads(n, threads)
    if used <= 1:
        if step_part(s, t, net, params, state, grads, decay, new_state, 0, n):
            return 0
        apply_part(params, grads, state, new_state, n, vectors, 0, n)
        return 1
    with parallel(num_threads=used):  # one region: the check between the halves a barrier
        part = threadid()
        team = nn_team_size()
        lo = n * part // team
        hi = n * (part + 1) // team
        nn_flag_or(&bad, step_part(s, t, net, params, state, grads, decay, new_state, lo, hi))
        nn_barrier()  # every part's step checked before any is applied
        if not bad:
            apply_part(params, grads, state, new_state, n, vectors, lo, hi)
    return not bad


# Sum of the squared weights (not biases), for scikit-learn's alpha penalty.
cdef double squared_weights(const Net* net, const floating* params) noexcept nogil:
    cdef Py_ssize_t i, l, start = 0, n_weights
    cdef double total = 0
    for l in range(net.n_layers):
        n_weights = net.sizes[l + 1] * net.sizes[l]
        for i in range(start, start + n_weights):
            total += <double>params[i] * <double>params[i]
        start += n_weights + net.sizes[l + 1]
    return total


# ---------------------------------------------------------------------------------------------
# Entry points: inference, loss and gradient, training
# ---------------------------------------------------------------------------------------------

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
    x = np.asarray(X)
    dtype = x.dtype
    where = "the output layer" if l == model.net.n_layers - 1 else "a hidden layer"
    if row < 0:
        rows, largest = f"one of rows {first} to {first + count - 1}", x[first:first + count]
    else:
        rows, largest = f"row {row}", x[row]
    hint = "; or use dtype=np.float64" if dtype == np.float32 else ""
    return ValueError(
        f"the pre-activations of layer {l} ({where}: weights[{l}] @ inputs + biases[{l}]) "
        f"overflowed {dtype.name} for {rows} of X: they leave the dtype's range "
        f"(+-{float(np.finfo(dtype).max):.4g}; X's largest magnitude there is "
        f"{float(np.abs(largest).max()):.4g}), so the outputs cannot be computed; scale X or "
        f"the weights down{hint}")


def forward(Model model, const floating[::1] params, const floating[:, ::1] X, object out,
            object work, Py_ssize_t block):
    """out = the network's output for every row of X, computed `block` rows at a time
    (work holds model.work_size(block) elements). Returns the number of inf/NaN values in X:
    when it is not 0, nothing was computed (the caller raises). Raises ValueError, naming the
    layer and the row, if a pre-activation overflows the dtype (out is then not valid)."""
    cdef floating[:, ::1] o = writable(out, "out", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    cdef const Net* net = &model.net
    cdef Py_ssize_t n = X.shape[0], n_last = net.sizes[net.n_layers], first, count, i, t
    cdef Py_ssize_t acts_last = 0, n_bad = 0, overflowed = 0, layer = 0, row = -1
    check_length("params", params.shape[0], net.n_params)
    check_rows("X", X.shape[0], X.shape[1], n, net.sizes[0])
    check_rows("out", o.shape[0], o.shape[1], n, n_last)
    if block < 1:
        raise ValueError("block must be at least 1")
    check_work(wv.shape[0], layout(net, block, 0, 1).total)
    if n == 0:
        return 0
    cdef Layout lay = layout(net, block, 0, 1)
    cdef const floating* x = &X[0, 0]
    cdef floating* base = aligned_base(&wv[0])
    for i in range(net.n_layers):
        acts_last += net.sizes[i]
    with nogil:
        for i in range(n * net.sizes[0]):
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
        raise overflow_error(model, layer if row >= 0 else overflowed, row, first, count, X)
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
    # predict_one's work (see its docstring), callable from C by network_predict
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


def network_predict(self, X):
    """Outputs for the rows of X (n_samples, n_inputs) -> (n_samples, n_outputs); a single
    1-D sample gives a 1-D output. Outputs are finite: where a layer's pre-activations
    overflow the dtype (X too large for the weights) a ValueError names the layer and row.

    (nnpy.Network.predict, compiled: one sample, an ndarray of shape (n_inputs,) or
    (1, n_inputs) in the network's dtype, takes predict_one's path without running any Python
    bytecode; anything else goes to Network._predict_rows, which checks and converts X.)"""
    cdef object out
    if type(X) is cnp.ndarray:
        out = one_sample(self._forward_model, self._flat, X, self._guard)
        if out is not None:
            return out
    return self._predict_rows(X)


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
                      object grads, object work, Py_ssize_t block):
    """The network's loss over the rows of X, Y at params, and its gradient into grads (laid
    out like params), computed `block` rows at a time (work: model.work_size(block)):
        loss = (sum_i w_i * l_i + 0.5 * alpha * sum(W**2)) / sum_i w_i
    l_i the loss of row i, w_i its weight (sample_weight, or 1 for all when it is empty), W
    the weights (not the biases): the mean loss, or with alpha scikit-learn's MLP objective.
    Returns the loss. Raises ValueError, naming the layer and the row, if a pre-activation
    overflows the dtype (grads is then not valid)."""
    cdef floating[::1] g = writable(grads, "grads", dtype_of(<floating>0))
    cdef floating[::1] wv = writable(work, "work", dtype_of(<floating>0))
    cdef const Net* net = &model.net
    cdef Py_ssize_t n = X.shape[0], first, count, t, i
    cdef const floating* weights = NULL
    cdef double total = 0, wsum
    check_length("params", params.shape[0], net.n_params)
    check_length("grads", g.shape[0], net.n_params)
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
    with nogil:
        wsum = weight_sum(weights, NULL, 0, n)
    if not wsum > 0:
        raise ValueError("sample_weight must have a positive sum")
    cdef Py_ssize_t overflowed = 0, layer = 0, row = -1
    with nogil:
        for t in range((n + block - 1) // block):
            first = t * block
            count = min_(block, n - first)
            total += accumulate_gradients(net, &params[0], &X[0, 0], &Y[0, 0], weights, NULL,
                                          first, count, <floating>(1.0 / wsum),
                                          <floating>(first != 0), &g[0],
                                          aligned_base(&wv[0]), lay, &overflowed)
            if overflowed:
                row = overflowed_row(net, &params[0], &X[0, 0], NULL, first, count,
                                     aligned_base(&wv[0]), lay, &layer)
                break
        if alpha != 0 and not overflowed:
            total += 0.5 * alpha * squared_weights(net, &params[0])
            add_decay(net, &params[0], <floating>(alpha / wsum), &g[0])
    if overflowed:
        raise overflow_error(model, layer if row >= 0 else overflowed, row, first, count, X)
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


cdef class Epochs:
    """Where a run of epochs over n_rows rows stands between calls to train: the order of this
    epoch's rows, the shuffling generator's state, the position of the next batch, and the loss
    so far of the epoch under way."""
    cdef readonly Py_ssize_t n_rows       # rows per epoch
    cdef readonly Py_ssize_t batch_size   # rows per step (an epoch's last batch may be smaller)
    cdef readonly Py_ssize_t block        # rows per forward/backward block within a batch
    cdef readonly bint shuffle            # a fresh random order every epoch
    cdef readonly Py_ssize_t completed    # epochs completed
    cdef readonly Py_ssize_t position     # index into order of the next batch's first row
    cdef Py_ssize_t[::1] order            # this epoch's order of the rows
    cdef uint64_t rng[4]                  # the shuffling generator's state (xoshiro256**)
    cdef double loss_sum                  # sum of count * loss over the epoch's done batches

    def __init__(self, Py_ssize_t n_rows, Py_ssize_t batch_size, Py_ssize_t block,
                 bint shuffle, uint64_t seed):
        if n_rows < 1 or batch_size < 1 or block < 1:
            raise ValueError("n_rows, batch_size and block must be at least 1")
        self.n_rows, self.batch_size, self.block, self.shuffle = n_rows, batch_size, block, shuffle
        self.order = np.arange(n_rows, dtype=np.intp)
        seed_state(self.rng, seed)
        self.completed = self.position = 0
        self.loss_sum = 0


# ---------------------------------------------------------------------------------------------
# Per-sample plain SGD (batches of one sample, no momentum: the post's way of training), with a
# copy compiled for the widths of a small network (the post's 2-2-1)
# ---------------------------------------------------------------------------------------------

ctypedef fused Hidden:   # the hidden width's tag (as Inputs and Outputs); AnyWidth: any net
    Width1
    Width2
    Width3
    Width4
    AnyWidth


# Whether sgd_per_sample takes the copy compiled for the network's widths: one hidden layer,
# and the hidden and output widths both at most SMALL_WIDTH.
cdef bint small_two_layer(const Net* net) noexcept nogil:
    return net.n_layers == 2 and net.sizes[1] <= SMALL_WIDTH and net.sizes[2] <= SMALL_WIDTH


# One plain-SGD step on the sample (x, y) of a small_two_layer network, compiled for its hidden
# and output widths (tags h, o; the input width at run time): sample_gradients with `bad`, its
# activations and deltas in locals (registers) rather than a workspace. grads gets the step;
# *bad is or-ed with 1 if a parameter plus its step is inf or NaN, and with 2 if a
# pre-activation overflowed (see sized_forward). Returns the sample's loss.
cdef inline double small_step(Hidden* h, Outputs* o, const Net* net, const floating* params,
                              const floating* x, const floating* y, floating* grads,
                              floating lr, floating decay, unsigned int* bad) noexcept nogil:
    cdef Py_ssize_t n_in = net.sizes[0], n_hid = width(h, 0), n_out = width(o, 0)
    cdef Py_ssize_t top = n_hid * (n_in + 1)   # where the output layer's W and b start
    cdef floating a_hid[SMALL_WIDTH]     # hidden activations
    cdef floating z_hid[SMALL_WIDTH]     # hidden pre-activations (kept if needs_z)
    cdef floating* z_keep = NULL        # z_hid if needs_z, else none kept
    cdef const floating* z_prev = a_hid  # what the hidden derivative reads (a_hid: not z)
    cdef floating a_out[SMALL_WIDTH]     # output activations
    cdef floating z_out[SMALL_WIDTH]     # output pre-activations (for the loss)
    cdef floating d_hid[SMALL_WIDTH]     # hidden deltas
    cdef floating d_out[SMALL_WIDTH]     # output deltas
    cdef double sample_loss
    cdef floating probe

    if needs_z(net.hidden):
        z_keep = z_hid
        z_prev = z_hid
    # Forward pass
    if n_in <= SMALL_WIDTH:
        probe = sized_forward(<UpTo4*>NULL, h, n_in, 0, params, x, a_hid, z_keep,
                              net.hidden)
    else:
        probe = sized_forward(<AnyWidth*>NULL, h, n_in, 0, params, x, a_hid, z_keep,
                              net.hidden)
    probe = probe + sized_forward(h, o, 0, 0, params + top, a_hid, a_out, z_out, net.output)
    bad[0] |= nonfinite(probe) << 1

    # Output deltas and loss
    sample_loss = row_loss(net.output, net.loss, a_out, z_out, y, n_out)
    row_output_delta(net.output, net.loss, a_out, y, <floating>1, d_out, n_out)

    # Output layer's step and hidden deltas, then the hidden layer's step
    bad[0] |= sized_backward(h, o, 0, 0, params + top, a_hid, z_prev, d_out, grads + top, d_hid,
                             net.hidden, 1, lr, decay)
    if n_in <= SMALL_WIDTH:
        bad[0] |= sized_backward(<UpTo4*>NULL, h, n_in, 0, params, x, x, d_hid, grads,
                                 <floating*>NULL, net.hidden, 1, lr, decay)
    else:
        bad[0] |= sized_backward(<AnyWidth*>NULL, h, n_in, 0, params, x, x, d_hid, grads,
                                 <floating*>NULL, net.hidden, 1, lr, decay)
    return sample_loss


# train's loop when every batch is one sample and the optimiser plain SGD: the checks and
# bookkeeping of train's batch loop, with each sample's step computed and checked in the pass
# that computes its gradient (sample_gradients with `bad`; for a small_two_layer network
# small_step, compiled for its widths: tags h, o) and the run's counters in locals, written back
# as it returns. work and lay: train's workspace (sample_gradients' buffers). Returns OK,
# DIVERGED, OVERFLOWED or INTERRUPTED, as train does; *batches and *epochs_done get what it
# ran.
cdef int sgd_per_sample(Hidden* h, Outputs* o, const Net* net, const Settings* s,
                        floating* params, const floating* X, const floating* Y,
                        const floating* weights, Epochs epochs, long long* steps,
                        double* losses, Py_ssize_t max_epochs, Py_ssize_t max_batches,
                        floating* grads, floating* work, Layout lay, bint interruptible,
                        Py_ssize_t* batches, Py_ssize_t* epochs_done) noexcept nogil:
    cdef Py_ssize_t n = epochs.n_rows, n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    cdef Py_ssize_t n_params = net.n_params, position = epochs.position, row, i
    cdef Py_ssize_t* order = &epochs.order[0]
    cdef Py_ssize_t ran = 0, done = 0
    cdef long long step_count = steps[0]
    cdef double loss_sum = epochs.loss_sum, wsum, sample_loss
    cdef floating lr = <floating>s.lr, decay
    cdef unsigned int bad
    cdef Py_ssize_t overflowed = 0
    cdef int status = OK
    while done < max_epochs and ran < max_batches:
        if interruptible and nn_stop_requested():
            status = INTERRUPTED
            break
        if position == 0 and epochs.shuffle:
            shuffle(order, n, epochs.rng)
        row = order[position]
        wsum = <double>weights[row] if weights != NULL else 1
        if wsum > 0:
            bad = 0
            decay = <floating>(s.l2 + s.alpha / wsum)
            if Hidden is AnyWidth:
                sample_loss = sample_gradients(net, params, X + row * n_in, Y + row * n_out,
                                               grads, work, lay, lr, decay, &bad, &overflowed)
                bad |= (overflowed != 0) << 1
            else:
                sample_loss = small_step(h, o, net, params, X + row * n_in, Y + row * n_out,
                                         grads, lr, decay, &bad)
            if bad & 2:
                status = OVERFLOWED
                break
            if s.alpha != 0:
                sample_loss += 0.5 * s.alpha * squared_weights(net, params) / wsum
            if bad or nonfinite(sample_loss):
                status = DIVERGED
                break
            if n_params <= SMALL_PARAMS:
                # one value at a time (a loop with an exit is not vectorised): a vector load
                # of values the step has just stored one by one would wait for the stores to
                # reach the cache, and the next step waits on these parameters
                for i in range(SMALL_PARAMS):
                    if i == n_params:
                        break
                    params[i] = params[i] + grads[i]
            else:
                for i in range(n_params):
                    params[i] = params[i] + grads[i]
            step_count += 1
            loss_sum += sample_loss
        ran += 1
        position += 1
        if position == n:
            losses[done] = loss_sum / n
            loss_sum = 0
            epochs.completed += 1
            done += 1
            position = 0
    epochs.position = position
    epochs.loss_sum = loss_sum
    steps[0] = step_count
    batches[0] = ran
    epochs_done[0] = done
    return status


# sgd_per_sample in its copy for the network: compiled for its hidden and output widths when
# small_two_layer (sgd_per_sample_to picks the output's), else the general one.
cdef int sgd_per_sample_for(const Net* net, const Settings* s, floating* params,
                            const floating* X, const floating* Y, const floating* weights,
                            Epochs epochs, long long* steps, double* losses,
                            Py_ssize_t max_epochs, Py_ssize_t max_batches, floating* grads,
                            floating* work, Layout lay, bint interruptible, Py_ssize_t* batches,
                            Py_ssize_t* epochs_done) noexcept nogil:
    cdef Py_ssize_t n_hid = net.sizes[1]
    if not small_two_layer(net):
        return sgd_per_sample(<AnyWidth*>NULL, <AnyWidth*>NULL, net, s, params, X, Y, weights,
                              epochs, steps, losses, max_epochs, max_batches, grads, work, lay,
                              interruptible, batches, epochs_done)
    elif n_hid == 1:
        return sgd_per_sample_to(<Width1*>NULL, net, s, params, X, Y, weights, epochs, steps,
                                 losses, max_epochs, max_batches, grads, work, lay,
                                 interruptible, batches, epochs_done)
    elif n_hid == 2:
        return sgd_per_sample_to(<Width2*>NULL, net, s, params, X, Y, weights, epochs, steps,
                                 losses, max_epochs, max_batches, grads, work, lay,
                                 interruptible, batches, epochs_done)
    elif n_hid == 3:
        return sgd_per_sample_to(<Width3*>NULL, net, s, params, X, Y, weights, epochs, steps,
                                 losses, max_epochs, max_batches, grads, work, lay,
                                 interruptible, batches, epochs_done)
    return sgd_per_sample_to(<Width4*>NULL, net, s, params, X, Y, weights, epochs, steps,
                             losses, max_epochs, max_batches, grads, work, lay, interruptible,
                             batches, epochs_done)

cdef int sgd_per_sample_to(Hidden* h, const Net* net, const Settings* s, floating* params,
                           const floating* X, const floating* Y, const floating* weights,
                           Epochs epochs, long long* steps, double* losses,
                           Py_ssize_t max_epochs, Py_ssize_t max_batches, floating* grads,
                           floating* work, Layout lay, bint interruptible, Py_ssize_t* batches,
                           Py_ssize_t* epochs_done) noexcept nogil:
    cdef Py_ssize_t n_out = net.sizes[2]
    if n_out == 1:
        return sgd_per_sample(h, <Width1*>NULL, net, s, params, X, Y, weights, epochs, steps,
                              losses, max_epochs, max_batches, grads, work, lay, interruptible,
                              batches, epochs_done)
    elif n_out == 2:
        return sgd_per_sample(h, <Width2*>NULL, net, s, params, X, Y, weights, epochs, steps,
                              losses, max_epochs, max_batches, grads, work, lay, interruptible,
                              batches, epochs_done)
    elif n_out == 3:
        return sgd_per_sample(h, <Width3*>NULL, net, s, params, X, Y, weights, epochs, steps,
                              losses, max_epochs, max_batches, grads, work, lay, interruptible,
                              batches, epochs_done)
    return sgd_per_sample(h, <Width4*>NULL, net, s, params, X, Y, weights, epochs, steps,
                          losses, max_epochs, max_batches, grads, work, lay, interruptible,
                          batches, epochs_done)


def train(Model model, Optimizer optimizer, Epochs epochs, object params, object state,
          const floating[:, ::1] X, const floating[:, ::1] Y, const floating[::1] sample_weight,
          object epoch_losses, Py_ssize_t max_batches, object work, bint interruptible,
          int threads=1):
    """Mini-batch training over the rows of X, Y, epoch after epoch, all inside this call.

    Each batch: the gradient of its loss, sum_i w_i l_i / sum_i w_i over its rows (w_i from
    sample_weight, or 1 when it is empty), computed `epochs.block` rows at a time, then one
    optimiser step (see step_range; alpha adds alpha * W / sum_i w_i to the weights' gradient
    and 0.5 * alpha * sum(W**2) / sum_i w_i to the batch's loss). A batch whose weights sum to 0
    takes no step. Epoch e's loss, sum over its batches of (rows * batch loss) / n_rows (each
    batch's loss from its forward pass, before its step), goes to epoch_losses[e - first] as
    the epoch completes (as scikit-learn's MLP records loss_).
    Stops after len(epoch_losses) epochs complete or max_batches batches run, whichever is
    first. params (model.n_params) and state (optimizer.state_vectors * model.n_params) are
    updated in place; work holds model.train_work_size(batch_size, block, optimizer, threads).
    threads: how many threads the large products and element loops of a batch may use (the
    result is the same for any number).
    interruptible (the caller is the main thread): SIGINT abandons the batch under way, which
    changes nothing, and returns (see nn_interrupt.h); Python then raises KeyboardInterrupt.
    Returns (status, batches run, epochs completed): status is STATUS_OK; STATUS_DIVERGED when a
    step would have made a parameter (or the state, or the loss) non-finite: that step is not
    applied and epochs stays before its batch; STATUS_OVERFLOWED when a pre-activation of the
    batch overflowed the dtype (forward on its rows says where), likewise; or
    STATUS_INTERRUPTED.
    """
    cdef object dtype = dtype_of(<floating>0)
    cdef floating[::1] p = writable(params, "params", dtype)
    cdef floating[::1] st = writable(state, "state", dtype)
    cdef double[::1] losses = writable(epoch_losses, "epoch_losses", np.float64)
    cdef floating[::1] wv = writable(work, "work", dtype)
    cdef const Net* net = &model.net
    cdef Settings* s = &optimizer.settings
    cdef Py_ssize_t n = X.shape[0], n_params = net.n_params, i
    cdef Py_ssize_t state_length = optimizer.state_vectors * n_params
    check_length("params", p.shape[0], n_params)
    check_length("state", st.shape[0], state_length)
    check_rows("X", X.shape[0], X.shape[1], epochs.n_rows, net.sizes[0])
    check_rows("Y", Y.shape[0], Y.shape[1], epochs.n_rows, net.sizes[net.n_layers])
    if sample_weight.shape[0]:
        check_length("sample_weight", sample_weight.shape[0], n)
        for i in range(n):
            if not sample_weight[i] >= 0:
                raise ValueError("sample_weight must be >= 0")
    if max_batches < 0:
        raise ValueError("max_batches must be >= 0")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    cdef Py_ssize_t block = min_(epochs.batch_size, epochs.block)
    cdef Layout lay = layout(net, block, 1 + optimizer.state_vectors, threads)
    check_work(wv.shape[0], lay.total)

    cdef Py_ssize_t max_epochs = losses.shape[0], epochs_done = 0, batches = 0
    cdef Py_ssize_t position, count, row, first, end
    cdef double batch_loss, wsum
    cdef int status = OK
    cdef Py_ssize_t overflowed = 0
    cdef const floating* weights = &sample_weight[0] if sample_weight.shape[0] else NULL
    cdef floating* base = aligned_base(&wv[0])
    cdef floating* grads = base
    cdef floating* new_state = grads + lay.vector
    cdef floating* state_ptr = &st[0] if state_length else NULL
    cdef Py_ssize_t* order = &epochs.order[0]
    # batches of one sample and plain SGD (no state): sgd_per_sample, the step folded in
    cdef bint per_sample = epochs.batch_size == 1 and s.kind == SGD and s.momentum == 0
    cdef bint caught = nn_catch_sigint() if interruptible else 0
    try:
        with nogil:
            if per_sample:
                status = sgd_per_sample_for(net, s, &p[0], &X[0, 0], &Y[0, 0], weights, epochs,
                                            &optimizer.steps[0],
                                            &losses[0] if max_epochs else NULL, max_epochs,
                                            max_batches, grads, base, lay, interruptible,
                                            &batches, &epochs_done)
            else:
                while epochs_done < max_epochs and batches < max_batches:
                    if interruptible and nn_stop_requested():
                        status = INTERRUPTED
                        break
                    position = epochs.position
                    if position == 0 and epochs.shuffle:
                        shuffle(order, n, epochs.rng)
                    count = min_(epochs.batch_size, n - position)
                    end = position + count
                    wsum = weight_sum(weights, order, position, count)
                    if wsum > 0:
                        # the batch's mean gradient into grads, its mean loss into batch_loss
                        if count == 1:  # one sample: its weight cancels
                            row = order[position]
                            batch_loss = sample_gradients(net, &p[0], &X[row, 0], &Y[row, 0],
                                                          grads, base, lay, 0, 0, NULL,
                                                          &overflowed)
                        else:
                            batch_loss = 0
                            first = position
                            while first < end:
                                # the first block writes grads, the others add to it
                                batch_loss += accumulate_gradients(
                                    net, &p[0], &X[0, 0], &Y[0, 0], weights, order, first,
                                    min_(block, end - first), <floating>(1.0 / wsum),
                                    <floating>(first != position), grads, base, lay,
                                    &overflowed)
                                first += block
                                if overflowed:
                                    break
                                if interruptible and first < end and nn_stop_requested():
                                    status = INTERRUPTED
                                    break
                            if status == INTERRUPTED:
                                break
                            batch_loss /= wsum
                        if overflowed:
                            status = OVERFLOWED
                            break
                        if s.alpha != 0:
                            batch_loss += 0.5 * s.alpha * squared_weights(net, &p[0]) / wsum
                        if nonfinite(batch_loss) or not optimizer_step(
                                s, optimizer.steps[0] + 1, net, &p[0], state_ptr, state_length,
                                grads, <floating>(s.l2 + s.alpha / wsum), new_state, threads):
                            # the shuffled order is kept as it is, so a retry resumes the same
                            # epoch
                            status = DIVERGED
                            break
                        optimizer.steps[0] += 1
                        epochs.loss_sum += batch_loss * count
                    batches += 1
                    position = end
                    if position == n:
                        losses[epochs_done] = epochs.loss_sum / n
                        epochs.loss_sum = 0
                        epochs.completed += 1
                        epochs_done += 1
                        position = 0
                    epochs.position = position
    finally:
        if caught:
            nn_release_sigint()
    return status, batches, epochs_done


def seed_rng(object rng, uint64_t seed):
    """Sets a 4-word shuffling state (np.uint64) from a 64-bit seed, as Epochs does."""
    cdef uint64_t[::1] r = writable(rng, "rng", np.uint64)
    if r.shape[0] != 4:
        raise ValueError("rng needs 4 words")
    seed_state(&r[0], seed)


def permutation_step(object order, object rng):
    """Shuffles order (np.intp) in place exactly as train does at the start of an epoch (for
    references and tests that replay a shuffled run)."""
    cdef Py_ssize_t[::1] o = writable(order, "order", np.intp)
    cdef uint64_t[::1] r = writable(rng, "rng", np.uint64)
    if r.shape[0] != 4:
        raise ValueError("rng needs 4 words")
    if o.shape[0] > 1:
        shuffle(&o[0], o.shape[0], &r[0])


# Many small networks in lockstep, one sample each per step (nnpy.NetworkStack)
include "lockstep.pxi"
