# Inverted dropout on the hidden layers while training: each hidden unit of each row is kept
# with probability 1 - rate and then scaled by 1 / (1 - rate), or dropped (0). Whether it is
# kept comes from a counter-based generator, a hash of (the fit's key, the row's sample number,
# the unit), so a mask depends on neither the order nor the thread that computes it: a fit is
# the same on any number of threads and however its epochs are split between calls.
# Inline functions and the Dropout struct, cimported by _core.pyx.
from cython cimport floating
from libc.stdint cimport uint64_t

from activations cimport row_loss, row_output_delta, times_derivative, nonfinite
from per_sample cimport forward_layer, backward_layer
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


# sample_gradients (per_sample.pxd) with dropout, the sample number `sample`: the same
# arithmetic, the hidden layers' activations masked as they are computed (the next layer and
# the weight gradients read the masked copy) and their deltas masked before f'(z), which
# reads the activations as they were. The sized copies of the layers as sample_gradients.
cdef inline double dropped_sample_gradients(const Net* net, const floating* params,
                                            const floating* x, const floating* y,
                                            floating* grads, floating* work, Layout lay,
                                            floating lr, floating decay, unsigned int* bad,
                                            Py_ssize_t* overflowed, const Dropout* drop,
                                            uint64_t sample) noexcept nogil:
    cdef Py_ssize_t l, i, j, n_in, n_out, offset, unit = 0, last = net.n_layers - 1
    cdef Py_ssize_t n_last = net.sizes[net.n_layers]
    cdef uint64_t key = row_key(drop, sample)
    cdef floating* acts = work + lay.acts
    cdef floating* keep = work + drop.keep
    cdef floating* dropped = work + drop.dropped
    cdef floating* a = acts
    cdef const floating* a_in = x
    cdef const floating* w = params
    cdef floating* delta = work + lay.delta
    cdef floating* delta_below = delta + lay.delta_half
    cdef floating* swap
    cdef floating probe = 0, d
    cdef unsigned int flags = 0
    cdef double sample_loss

    # Forward: A_1 .. A_L as they are in acts, the hidden ones masked into dropped
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        if l < last:
            probe = probe + forward_layer(n_in, n_out, w, a_in, a, <floating*>NULL, net.hidden)
            mask_row(drop, key, unit, a, keep + unit, dropped + unit, n_out)
            a_in = dropped + unit
            unit += n_out
        else:
            probe = probe + forward_layer(n_in, n_out, w, a_in, a, work + lay.z_out,
                                          net.output)
        a = a + n_out
        w = w + n_out * (n_in + 1)
    overflowed[0] = nonfinite(probe)
    if overflowed[0]:
        return 0
    a = acts + drop.hidden   # A_L

    # Output delta and loss
    sample_loss = row_loss(net.output, net.loss, a, work + lay.z_out, y, n_last)
    row_output_delta(net.output, net.loss, a, y, <floating>1, delta, n_last)

    # Layers from the top: the updates from the masked inputs, then the deltas passed down
    offset = net.n_params
    for l in range(net.n_layers - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        offset -= n_out * n_in + n_out
        if l > 0:
            unit -= n_in
            a = acts + unit   # A_l as it is
            a_in = dropped + unit
        else:
            a_in = x
        flags |= backward_layer(n_in, n_out, params + offset, a_in, delta, grads + offset,
                                <floating*>NULL, net.hidden, bad != NULL, lr, decay)
        if l > 0:
            w = params + offset
            for i in range(n_in):
                delta_below[i] = 0
            for j in range(n_out):
                d = delta[j]
                for i in range(n_in):
                    delta_below[i] = delta_below[i] + d * w[j * n_in + i]
            times_keep(delta_below, keep + unit, n_in)
            times_derivative(net.hidden, delta_below, a, n_in)
            swap = delta
            delta = delta_below
            delta_below = swap
    if bad != NULL:
        bad[0] |= flags
    return sample_loss
