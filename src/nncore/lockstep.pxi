# Lockstep per-sample SGD: many small networks of one shape (a NetworkStack's members), each
# with its own lr, weight decay, sample weights and shuffle order, stepped together one sample
# each. Included at the end of _core.pyx (it uses the per-sample path's activations, shuffle
# and interrupt polling).
#
# Layout: parameter p of member k at params[p, k] (n_params x lanes, C order): each weight's
# copies side by side, member index innermost. A step runs the members LANES at a time (a
# chunk), every operation of the per-sample step as a loop over the chunk's LANES members, a
# loop the compiler turns into vector instructions (LANES doubles are two AVX-512 registers,
# four AVX2 ones). Per member it is small_step's arithmetic (sized_forward, row_loss,
# row_output_delta, sized_backward with the SGD step folded in) in the same order, so a
# member's weights are bit-identical to Network.fit's (tests hold them to it).

cdef enum:
    LANES = 16           # members per chunk: the length of every vectorised loop
    LOCKSTEP_INPUTS = SMALL_WIDTH + 1  # fewer inputs than this: small_step's UpTo4 copies
    LOCKSTEP_PARAMS = SMALL_WIDTH * LOCKSTEP_INPUTS + SMALL_WIDTH * (SMALL_WIDTH + 1)

LOCKSTEP_LANES = LANES


# One layer of LANES members' forward passes: a = f(W a_prev + b). w: the layer's W (n_out x
# n_in, row-major) then b, each parameter a row of `stride` (the chunk's members at offsets
# 0 .. LANES-1); a_prev, a: rows of LANES; z_keep (not NULL) gets the pre-activations. probe[k]
# gets member k's pre-activations times 0 added (sized_forward's probe: NaN once one of them is
# inf or NaN, the arithmetic overflowed). The activation is elementwise, over n_out * LANES
# values (the same function as every other path's).
cdef inline void lanes_forward(Py_ssize_t n_in, Py_ssize_t n_out, const floating* w,
                               Py_ssize_t stride, const floating* a_prev, floating* a,
                               floating* z_keep, int kind, floating* probe) noexcept nogil:
    cdef Py_ssize_t i, j, k
    cdef const floating* b = w + n_out * n_in * stride
    for j in range(n_out):
        for k in range(LANES):   # dot's running sum from 0, as sized_forward's
            a[j * LANES + k] = 0
        for i in range(n_in):
            for k in range(LANES):
                a[j * LANES + k] = a[j * LANES + k] + \
                    w[(j * n_in + i) * stride + k] * a_prev[i * LANES + k]
        for k in range(LANES):
            a[j * LANES + k] = a[j * LANES + k] + b[j * stride + k]
            probe[k] = probe[k] + a[j * LANES + k] * 0
    if z_keep != NULL:
        memcpy(z_keep, a, n_out * LANES * sizeof(floating))
    activate_values(kind, a, n_out * LANES)


# One layer of LANES members' backprop with plain SGD's step folded in (sized_backward with
# fold): the steps -lr * (d a_prev + decay W) and -lr * d into g (laid out like w, rows of
# LANES), bad[k] or-ed with 1 where a parameter plus its step is not finite; then, with
# d_below (not NULL), the deltas passed down: (W.T d) * f'(z_prev), f' from the activations
# a_prev or the pre-activations z_prev (see needs_z; else not read).
cdef inline void lanes_backward(Py_ssize_t n_in, Py_ssize_t n_out, const floating* w,
                                Py_ssize_t stride, const floating* a_prev,
                                const floating* z_prev,
                                const floating* d, floating* g, floating* d_below,
                                int kind, const floating* lr, const floating* decay,
                                unsigned int* bad) noexcept nogil:
    cdef Py_ssize_t i, j, k, p
    cdef floating step
    for j in range(n_out):
        for i in range(n_in):
            p = j * n_in + i
            for k in range(LANES):
                step = -lr[k] * (d[j * LANES + k] * a_prev[i * LANES + k]
                                 + decay[k] * w[p * stride + k])
                g[p * LANES + k] = step
                bad[k] |= nonfinite(w[p * stride + k] + step)
        p = n_out * n_in + j
        for k in range(LANES):
            step = -lr[k] * d[j * LANES + k]
            g[p * LANES + k] = step
            bad[k] |= nonfinite(w[p * stride + k] + step)
    if d_below != NULL:
        for i in range(n_in):
            for k in range(LANES):
                d_below[i * LANES + k] = 0
            for j in range(n_out):
                for k in range(LANES):
                    d_below[i * LANES + k] = d_below[i * LANES + k] + \
                        d[j * LANES + k] * w[(j * n_in + i) * stride + k]
        times_derivative_at(kind, d_below, a_prev, z_prev, n_in * LANES)


# One step of the LANES members of a chunk (their parameters at q, rows of `stride`), each on
# its own sample: x rows (n_in rows of LANES), y rows (n_out rows of LANES). Members with
# live[k] set take the step unless a pre-activation overflowed or the step is not finite; they
# come back with live[k] = 3 (overflowed: small_step's bad & 2, which train's loop tests first)
# or 2 (diverged), nothing applied; loss[k] gets each member's sample loss.
cdef inline void lanes_step(const Net* net, floating* q, Py_ssize_t stride, const floating* x,
                            const floating* y, const floating* lr, const floating* decay,
                            unsigned char* live, double* loss) noexcept nogil:
    cdef Py_ssize_t n_in = net.sizes[0], n_hid = net.sizes[1], n_out = net.sizes[2]
    cdef Py_ssize_t top = n_hid * (n_in + 1), n_params = net.n_params, j, k, p
    cdef floating a_hid[SMALL_WIDTH * LANES]
    cdef floating z_hid[SMALL_WIDTH * LANES]   # hidden pre-activations (kept if needs_z)
    cdef floating* z_keep = NULL        # z_hid if needs_z, else none kept
    cdef const floating* z_prev = a_hid  # what the hidden derivative reads (a_hid: not z)
    cdef floating a_out[SMALL_WIDTH * LANES]
    cdef floating d_hid[SMALL_WIDTH * LANES]
    cdef floating d_out[SMALL_WIDTH * LANES]
    cdef floating g[LOCKSTEP_PARAMS * LANES]
    cdef floating probe[LANES]
    cdef unsigned int bad[LANES]
    cdef double diff
    cdef bint ok

    if needs_z(net.hidden):
        z_keep = z_hid
        z_prev = z_hid
    for k in range(LANES):
        probe[k] = 0
    lanes_forward(n_in, n_hid, q, stride, x, a_hid, z_keep, net.hidden, probe)
    lanes_forward(n_hid, n_out, q + top * stride, stride, a_hid, a_out, <floating*>NULL,
                  net.output, probe)

    # mse: row_loss's sum in double, and row_output_delta's (a - y) * f'(z)
    for k in range(LANES):
        loss[k] = 0
        bad[k] = 0
    for j in range(n_out):
        for k in range(LANES):
            diff = <double>a_out[j * LANES + k] - <double>y[j * LANES + k]
            loss[k] += diff * diff
            d_out[j * LANES + k] = a_out[j * LANES + k] - y[j * LANES + k]
    for k in range(LANES):
        loss[k] = 0.5 * loss[k]
    times_derivative_at(net.output, d_out, a_out, a_out, n_out * LANES)

    lanes_backward(n_hid, n_out, q + top * stride, stride, a_hid, z_prev, d_out, g + top * LANES,
                   d_hid,
                   net.hidden, lr, decay, bad)
    lanes_backward(n_in, n_hid, q, stride, x, x, d_hid, g, <floating*>NULL, net.hidden, lr, decay,
                   bad)

    for k in range(LANES):
        bad[k] |= nonfinite(loss[k])
        if live[k] and nonfinite(probe[k]):
            live[k] = 3
        elif live[k] and bad[k]:
            live[k] = 2
    for p in range(n_params):
        for k in range(LANES):
            ok = live[k] == 1
            q[p * stride + k] = q[p * stride + k] + g[p * LANES + k] if ok else q[p * stride + k]


def lockstep_sgd(Model model, object params, const floating[::1] lr,
                 const floating[::1] decay, const floating[:, ::1] X, const floating[:, ::1] Y,
                 const floating[:, ::1] sample_weight, object order, object rng, object on,
                 object loss_sum, object steps, object epoch_losses, object lane_epochs,
                 Py_ssize_t position, bint shuffle_rows, Py_ssize_t max_steps,
                 bint interruptible):
    """Plain per-sample SGD of many members of one small network in lockstep, epoch after
    epoch, all inside this call (see lockstep.pxi).

    model: two weight layers, fewer than LOCKSTEP_INPUTS inputs, hidden and output widths at
    most 4, mse with a sigmoid or identity output. params (n_params x lanes, lanes a multiple
    of LOCKSTEP_LANES): member k's parameters in column k, updated in place. Per member (row or
    element k): lr, decay (the weights' l2), sample_weight (lanes x n_rows), order (lanes x
    n_rows, its epoch's row order; shuffled at each epoch's start when shuffle_rows, with its
    generator rng[k], 4 words), on (1: training; 0, 2 or 3: frozen, untouched; set here to 3
    when a pre-activation of a member's step overflowed the dtype, as train's
    STATUS_OVERFLOWED, else to 2 when its step would make a parameter or its loss non-finite,
    as STATUS_DIVERGED: that step is not applied and the member is frozen), loss_sum (its loss so far in the epoch under way), steps (its steps
    applied, counted up). The members share `position`, the index into their orders of the
    next step's sample. A sample of weight 0 takes no step, as in train.
    Runs until epoch_losses.shape[1] epochs complete or max_steps steps ran. Each member
    training at an epoch's end gets the epoch's mean sample loss in epoch_losses[k, e],
    e = lane_epochs[k], then lane_epochs[k] += 1 (lane_epochs is set to 0 first).
    Returns (status, steps run, epochs completed, position): status STATUS_OK or
    STATUS_INTERRUPTED (interruptible: SIGINT, as in train)."""
    cdef object dtype = dtype_of(<floating>0)
    cdef floating[:, ::1] p = writable(params, "params", dtype)
    cdef Py_ssize_t[:, ::1] ord_ = writable(order, "order", np.intp)
    cdef uint64_t[:, ::1] r = writable(rng, "rng", np.uint64)
    cdef unsigned char[::1] live = writable(on, "on", np.uint8)
    cdef double[::1] sums = writable(loss_sum, "loss_sum", np.float64)
    cdef long long[::1] st = writable(steps, "steps", np.int64)
    cdef double[:, ::1] losses = writable(epoch_losses, "epoch_losses", np.float64)
    cdef long long[::1] done_per = writable(lane_epochs, "lane_epochs", np.int64)
    cdef const Net* net = &model.net
    cdef Py_ssize_t lanes = p.shape[1], n = X.shape[0], n_in = net.sizes[0], n_out, n_hid
    cdef Py_ssize_t i, k, c, chunk, row, ran = 0, done = 0, max_epochs = losses.shape[1]
    if net.n_layers != 2 or n_in >= LOCKSTEP_INPUTS or net.sizes[1] > SMALL_WIDTH or \
            net.sizes[2] > SMALL_WIDTH:
        raise ValueError(f"lockstep_sgd takes two weight layers, fewer than {LOCKSTEP_INPUTS} "
                         f"inputs and hidden and output widths at most {SMALL_WIDTH}; got "
                         f"{model.sizes.tolist()}")
    if net.loss != MSE or (net.output != SIGMOID and net.output != IDENTITY):
        raise ValueError("lockstep_sgd takes mse with a sigmoid or identity output")
    n_hid = net.sizes[1]
    n_out = net.sizes[2]
    if lanes < LANES or lanes % LANES:
        raise ValueError(f"params needs a multiple of {LANES} columns, got {lanes}")
    check_rows("params", p.shape[0], lanes, net.n_params, lanes)
    if n < 1:
        raise ValueError("X needs at least one row")
    check_rows("X", X.shape[0], X.shape[1], n, n_in)
    check_rows("Y", Y.shape[0], Y.shape[1], n, n_out)
    check_length("lr", lr.shape[0], lanes)
    check_length("decay", decay.shape[0], lanes)
    check_rows("sample_weight", sample_weight.shape[0], sample_weight.shape[1], lanes, n)
    check_rows("order", ord_.shape[0], ord_.shape[1], lanes, n)
    check_rows("rng", r.shape[0], r.shape[1], lanes, 4)
    for name, length in (("on", live.shape[0]), ("loss_sum", sums.shape[0]),
                         ("steps", st.shape[0]), ("lane_epochs", done_per.shape[0])):
        check_length(name, length, lanes)
    check_rows("epoch_losses", losses.shape[0], max_epochs, lanes, max_epochs)
    if not 0 <= position < n:
        raise ValueError(f"position must be in [0, {n}), got {position}")
    if max_steps < 0:
        raise ValueError("max_steps must be >= 0")
    for k in range(lanes):
        if live[k] > 3:
            raise ValueError(f"on[{k}] must be 0, 1, 2 or 3, got {live[k]}")
        if shuffle_rows and live[k] == 1 and not (r[k, 0] | r[k, 1] | r[k, 2] | r[k, 3]):
            # xoshiro's one state it never leaves: every draw 0, and shuffle would not end
            raise ValueError(f"rng[{k}] is all zero, not a generator state (see seed_rng)")
        for i in range(n):
            if not 0 <= ord_[k, i] < n:
                raise ValueError(f"order[{k}, {i}] = {ord_[k, i]} is not a row index")
    done_per[:] = 0

    cdef floating xs[LOCKSTEP_INPUTS * LANES]
    cdef floating ys[SMALL_WIDTH * LANES]
    cdef floating* q = &p[0, 0]
    cdef const floating* x = &X[0, 0]
    cdef const floating* y = &Y[0, 0]
    cdef const floating* w = &sample_weight[0, 0]
    cdef Py_ssize_t* rows = &ord_[0, 0]
    cdef unsigned char chunk_live[LANES]
    cdef double sample_loss[LANES]
    cdef int status = OK
    cdef bint caught = nn_catch_sigint() if interruptible else 0
    try:
        with nogil:
            while done < max_epochs and ran < max_steps:
                if interruptible and nn_stop_requested():
                    status = INTERRUPTED
                    break
                if position == 0 and shuffle_rows:
                    for k in range(lanes):
                        if live[k] == 1:
                            shuffle(rows + k * n, n, &r[k, 0])
                for chunk in range(lanes // LANES):
                    c = chunk * LANES
                    for k in range(LANES):
                        row = rows[(c + k) * n + position]
                        for i in range(n_in):
                            xs[i * LANES + k] = x[row * n_in + i]
                        for i in range(n_out):
                            ys[i * LANES + k] = y[row * n_out + i]
                        # a sample of weight 0 takes no step (train's wsum > 0)
                        chunk_live[k] = live[c + k] if (live[c + k] == 1 and
                                                        <double>w[(c + k) * n + row] > 0) else 0
                    lanes_step(net, q + c, lanes, xs, ys, &lr[c], &decay[c], chunk_live,
                               sample_loss)
                    for k in range(LANES):
                        if chunk_live[k] >= 2:
                            live[c + k] = chunk_live[k]
                        elif chunk_live[k] == 1:
                            sums[c + k] += sample_loss[k]
                            st[c + k] += 1
                ran += 1
                position += 1
                if position == n:
                    for k in range(lanes):
                        if live[k] == 1:
                            losses[k, done_per[k]] = sums[k] / n
                            sums[k] = 0
                            done_per[k] += 1
                    done += 1
                    position = 0
    finally:
        if caught:
            nn_release_sigint()
    return status, ran, done, position
