# A network's widths and kinds (Net) and the layout of its workspace (Layout), with the index
# helpers every pass uses: the structs and inline functions the core's parts share.
from cython cimport floating

cdef struct Net:
    const Py_ssize_t* sizes   # widths n_0 .. n_L
    Py_ssize_t n_layers       # L, the number of weight layers
    Py_ssize_t n_params       # weights and biases in all: the length of params
    int hidden                # activation of layers 1 .. L-1
    int output                # activation of layer L
    int loss                  # the loss trained and reported
    double huber_delta        # HUBER's delta (unused by the other losses)


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
    const void* sparse_x  # the inputs as CSR rows (a Csr, sparse.pxi), or NULL: x is dense


cdef inline Py_ssize_t round_up(Py_ssize_t x, Py_ssize_t to) noexcept nogil:
    return (x + to - 1) // to * to


cdef inline Py_ssize_t min_(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t max_(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b



cdef enum:
    ALIGN = 16    # elements: every workspace buffer starts on a 64-byte boundary (a cache line;
                  # SIMD loads that straddle lines cost W3 about a third of its speed)


# work moved forward to the next 64-byte boundary (fewer than ALIGN elements).
cdef inline floating* aligned_base(floating* work) noexcept nogil:
    return work + (64 - <size_t>work % 64) % 64 // sizeof(floating)
