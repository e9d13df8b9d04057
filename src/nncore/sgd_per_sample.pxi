# Per-sample plain SGD (batches of one sample, no momentum: the post's way of training), with a
# copy compiled for the widths of a small network (the post's 2-2-1). Included in _core.pyx.

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
    cdef floating a_out[SMALL_WIDTH]     # output activations
    cdef floating z_out[SMALL_WIDTH]     # output pre-activations (for the loss)
    cdef floating d_hid[SMALL_WIDTH]     # hidden deltas
    cdef floating d_out[SMALL_WIDTH]     # output deltas
    cdef double sample_loss
    cdef floating probe

    # Forward pass
    if n_in <= SMALL_WIDTH:
        probe = sized_forward(<UpTo4*>NULL, h, n_in, 0, params, x, a_hid, <floating*>NULL,
                              net.hidden)
    else:
        probe = sized_forward(<AnyWidth*>NULL, h, n_in, 0, params, x, a_hid, <floating*>NULL,
                              net.hidden)
    probe = probe + sized_forward(h, o, 0, 0, params + top, a_hid, a_out, z_out, net.output)
    bad[0] |= nonfinite(probe) << 1

    # Output deltas and loss
    sample_loss = row_loss(net.output, net.loss, a_out, z_out, y, n_out)
    row_output_delta(net.output, net.loss, a_out, y, <floating>1, d_out, n_out)

    # Output layer's step and hidden deltas, then the hidden layer's step
    bad[0] |= sized_backward(h, o, 0, 0, params + top, a_hid, d_out, grads + top, d_hid,
                             net.hidden, 1, lr, decay)
    if n_in <= SMALL_WIDTH:
        bad[0] |= sized_backward(<UpTo4*>NULL, h, n_in, 0, params, x, d_hid, grads,
                                 <floating*>NULL, net.hidden, 1, lr, decay)
    else:
        bad[0] |= sized_backward(<AnyWidth*>NULL, h, n_in, 0, params, x, d_hid, grads,
                                 <floating*>NULL, net.hidden, 1, lr, decay)
    return sample_loss


# sample_gradients (per_sample.pxd) with dropout (dropout.pxd), the sample number `sample`:
# the same arithmetic, the hidden layers' activations masked as they are computed (the next
# layer and the weight gradients read the masked copy) and their deltas masked before f'(z),
# which reads the activations as they were. The layers' sized copies as sample_gradients'.
cdef double dropped_sample_gradients(const Net* net, const floating* params,
                                     const floating* x, const floating* y, floating* grads,
                                     floating* work, Layout lay, floating lr, floating decay,
                                     unsigned int* bad, Py_ssize_t* overflowed,
                                     const Dropout* drop, uint64_t sample) noexcept nogil:
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


# train's loop when every batch is one sample and the optimiser plain SGD: train's checks and
# bookkeeping (end_batch), with each sample's step computed and checked in the pass that
# computes its gradient (sample_gradients with `bad`; for a small_two_layer network small_step,
# compiled for its widths: tags h, o), the run's counters in locals, written back as it
# returns. work: train's workspace, laid out by run.lay. Returns OK, DIVERGED, OVERFLOWED or
# INTERRUPTED, as train does.
cdef int sgd_per_sample(Hidden* h, Outputs* o, Run* run, Epochs epochs, floating* params,
                        const floating* X, const floating* Y, const floating* weights,
                        floating* grads, floating* work) noexcept nogil:
    cdef Run r = run[0]
    cdef const Net* net = r.net
    cdef const Settings* s = r.s
    cdef Py_ssize_t n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    cdef Py_ssize_t n_params = net.n_params, position = epochs.position, row, i
    cdef Py_ssize_t* order = &epochs.order[0]
    cdef long long step_count = r.steps[0]
    cdef double loss_sum = epochs.loss_sum, wsum, sample_loss
    cdef floating lr = <floating>s.lr, decay
    cdef unsigned int bad
    cdef Py_ssize_t overflowed = 0
    cdef int status = OK
    while r.epochs_done < r.max_epochs and r.batches < r.max_batches:
        if r.interruptible and nn_stop_requested():
            status = INTERRUPTED
            break
        if position == 0 and epochs.shuffle:
            shuffle(order, epochs.n_rows, epochs.rng)
        row = order[position]
        wsum = <double>weights[row] if weights != NULL else 1
        if wsum > 0:
            bad = 0
            decay = <floating>(s.l2 + s.alpha / wsum)
            if Hidden is AnyWidth:
                if r.dropout != NULL:
                    sample_loss = dropped_sample_gradients(
                        net, params, X + row * n_in, Y + row * n_out, grads, work, r.lay, lr,
                        decay, &bad, &overflowed, r.dropout,
                        <uint64_t>(epochs.completed * epochs.n_rows + position))
                else:
                    sample_loss = sample_gradients(net, params, X + row * n_in,
                                                   Y + row * n_out, grads, work, r.lay, lr,
                                                   decay, &bad, &overflowed)
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
        position = end_batch(&r, epochs, position + 1, &loss_sum)
    epochs.position = position
    epochs.loss_sum = loss_sum
    run.steps[0] = step_count
    run.batches = r.batches
    run.epochs_done = r.epochs_done
    return status


# sgd_per_sample in its copy for the network: compiled for its hidden and output widths when
# small_two_layer (sgd_per_sample_to picks the output's), else (or with dropout) the general one.
cdef int sgd_per_sample_for(Run* run, Epochs epochs, floating* params, const floating* X,
                            const floating* Y, const floating* weights, floating* grads,
                            floating* work) noexcept nogil:
    cdef Py_ssize_t n_hid = run.net.sizes[1]
    if not small_two_layer(run.net) or run.dropout != NULL:
        return sgd_per_sample(<AnyWidth*>NULL, <AnyWidth*>NULL, run, epochs, params, X, Y,
                              weights, grads, work)
    elif n_hid == 1:
        return sgd_per_sample_to(<Width1*>NULL, run, epochs, params, X, Y, weights, grads, work)
    elif n_hid == 2:
        return sgd_per_sample_to(<Width2*>NULL, run, epochs, params, X, Y, weights, grads, work)
    elif n_hid == 3:
        return sgd_per_sample_to(<Width3*>NULL, run, epochs, params, X, Y, weights, grads, work)
    return sgd_per_sample_to(<Width4*>NULL, run, epochs, params, X, Y, weights, grads, work)

cdef int sgd_per_sample_to(Hidden* h, Run* run, Epochs epochs, floating* params,
                           const floating* X, const floating* Y, const floating* weights,
                           floating* grads, floating* work) noexcept nogil:
    cdef Py_ssize_t n_out = run.net.sizes[2]
    if n_out == 1:
        return sgd_per_sample(h, <Width1*>NULL, run, epochs, params, X, Y, weights, grads, work)
    elif n_out == 2:
        return sgd_per_sample(h, <Width2*>NULL, run, epochs, params, X, Y, weights, grads, work)
    elif n_out == 3:
        return sgd_per_sample(h, <Width3*>NULL, run, epochs, params, X, Y, weights, grads, work)
    return sgd_per_sample(h, <Width4*>NULL, run, epochs, params, X, Y, weights, grads, work)
