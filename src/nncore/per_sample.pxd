# One sample at a time (per-sample SGD, the post's way of training, and the one-sample predict):
# matrix-vector products as plain loops, no packing, no blocking, each layer in a copy compiled
# for its widths when both are small. Inline functions only, cimported by _core.pyx.
from cython cimport floating

from activations cimport (nn_sigmoid, nn_sigmoidf, activate, softmax_rows, nonfinite,
                          times_derivative)
from losses cimport row_loss, row_output_delta
from activation_kinds cimport (activation, derivative_at, times_derivative_at, needs_z, SIGMOID,
                               SOFTMAX)
from shapes cimport Net, Layout

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
    sample_loss = row_loss(net.output, net.loss, net.huber_delta, a, work + lay.z_out, y,
                           n_last)
    row_output_delta(net.output, net.loss, net.huber_delta, a, y, <floating>1, delta,
                     n_last)

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
