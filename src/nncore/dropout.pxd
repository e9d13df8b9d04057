# Inverted dropout on the hidden layers while training: each hidden unit of each row is kept
# with probability 1 - rate and then scaled by 1 / (1 - rate), or dropped (0). Whether it is
# kept comes from a counter-based generator, a hash of (the fit's key, the row's sample number,
# the unit), so a mask depends on neither the order nor the thread that computes it: a fit is
# the same on any number of threads and however its epochs are split between calls.
# Inline functions and the Dropout struct, cimported by _core.pyx (the per-sample pass with
# dropout is sgd_per_sample.pxi's dropped_sample_gradients).
from cython cimport floating
from libc.stdint cimport uint64_t

from shapes cimport Net, Layout, ALIGN, round_up

# What a fit's dropout draws from, and where a block's masks live in the workspace.
cdef struct Dropout:
    uint64_t key            # the fit's key, from its seed (dropout_key)
    uint64_t threshold      # a unit is dropped when its 64 random bits are below rate * 2**64
    double scale            # 1 / (1 - rate): a kept unit's factor
    uint64_t first_sample   # sample number of the epoch's position 0: epochs done * n_rows
    Py_ssize_t hidden       # hidden units of a row: n_1 + ... + n_{L-1}
    Py_ssize_t keep         # workspace offset of the block's keep factors (0 or scale): each
                            # hidden layer's block x n_l, one layer after the other
    Py_ssize_t dropped      # workspace offset of the masked activations, laid out as keep


# splitmix64's output function (Steele, Lea and Flood): 64 well-mixed bits from a counter.
cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


# The fit's key from its seed (the salt keeps it apart from the shuffle's, drawn from the same).
cdef inline uint64_t dropout_key(uint64_t seed) noexcept nogil:
    return mix64(seed ^ 0x5DEECE66DULL)


# The key of a row's units from its sample number (epochs done * n_rows + its position in the
# epoch): splitmix64's stream from the fit's key, at the sample's place.
cdef inline uint64_t row_key(const Dropout* drop, uint64_t sample) noexcept nogil:
    return mix64(drop.key + (sample + 1) * 0x9E3779B97F4A7C15ULL)


# One row's n units of a hidden layer, from unit number `unit` (units of the layers below come
# first): keep[j] = scale or 0, dropped[j] = a[j] * keep[j]. Each unit's bits from its own
# counter, with no dependence between units (a loop the compiler vectorises).
cdef inline void mask_row(const Dropout* drop, uint64_t key, Py_ssize_t unit,
                          const floating* a, floating* keep, floating* dropped,
                          Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef uint64_t threshold = drop.threshold
    cdef uint64_t start = key + <uint64_t>(unit + 1) * 0x9E3779B97F4A7C15ULL
    cdef floating scale = <floating>drop.scale, k
    for j in range(n):
        k = scale if mix64(start + <uint64_t>j * 0x9E3779B97F4A7C15ULL) >= threshold else 0
        keep[j] = k
        dropped[j] = a[j] * k


# Masks `count` rows (sample numbers first_sample + first + i) of a hidden layer of n units
# from unit number `unit`, their activations a (count x n): returns the masked copy the next
# layer reads (workspace work, offsets of drop).
cdef inline floating* mask_rows(const Dropout* drop, const floating* a, Py_ssize_t first,
                                Py_ssize_t count, Py_ssize_t n, Py_ssize_t unit,
                                floating* work) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating* keep = work + drop.keep + count * unit
    cdef floating* dropped = work + drop.dropped + count * unit
    for i in range(count):
        mask_row(drop, row_key(drop, drop.first_sample + first + i), unit, a + i * n,
                 keep + i * n, dropped + i * n, n)
    return dropped


# d *= keep over n values: the dropped units pass no delta down, the kept ones scaled.
cdef inline void times_keep(floating* d, const floating* keep, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = d[i] * keep[i]


# Sets drop for a fit at `rate` (0 < rate < 1) from its seed, with its mask space after what
# lay holds for blocks of `block` rows; lay.total grows by that space.
cdef inline void dropout_space(Dropout* drop, const Net* net, Layout* lay, Py_ssize_t block,
                               double rate, uint64_t seed) noexcept nogil:
    cdef Py_ssize_t l, room
    drop.key = dropout_key(seed)
    drop.threshold = <uint64_t>(rate * 18446744073709551616.0)   # rate * 2**64, below 2**64
    drop.scale = 1.0 / (1.0 - rate)
    drop.first_sample = 0
    drop.hidden = 0
    for l in range(1, net.n_layers):
        drop.hidden += net.sizes[l]
    room = round_up(block * drop.hidden, ALIGN)
    drop.keep = lay.total - ALIGN          # past every buffer (total keeps ALIGN spare)
    drop.dropped = drop.keep + room
    lay.total += 2 * room
