# Mini-batch training of many networks of one shape (a NetworkStack's members) that share one
# shuffle order: each batch's rows are gathered once for all the members, and the first
# layer's weight gradients of all of them are one product. Included at the end of _core.pyx
# (it uses train's pieces: gather_rows, activate_rows, hidden_deltas, sample_gradients,
# optimizer_step, gemm).
#
# Per member the arithmetic is train's, bit for bit:
#   forward   each member's products as train computes them, from the shared gathered rows.
#             (A batch of at most DOT_ROWS rows takes gemm's dot kernel, which packs nothing:
#             one product over all members' first-layer weights side by side would compute
#             the same tiles and add the copy of the weights into one matrix.)
#   backward  the first-layer weight gradients of all members are one product, the members'
#             deltas side by side (transposed) times the batch: when train's own product takes
#             gemm's blocked method (k = count in one block), so does the wider one, and each
#             element is the same chain of fused multiply-adds over the batch's rows; the
#             batch is packed once instead of once per member. gemm scales a tile by alpha in
#             one multiply; the shared product runs with alpha 1 and each member's block is
#             then multiplied by its own 1 / (weight sum): the same rounding as train's alpha.
#             Otherwise each member's product is its own.
#   the rest  later layers, losses, deltas and the optimiser step per member, by train's own
#             functions (optimizer_step with the member's Settings, step count and state);
#             alpha's penalty sums the members' squared weights side by side, each in
#             squared_weights' order.

from libc.stdlib cimport malloc, calloc, free
from gemm cimport THIN_K, SMALL, KC

cdef enum:
    SQUARES_AT_ONCE = 8    # members whose squared weights are summed side by side
    MEMBER_RUNNING = 1     # on[k]: member k trains
    MEMBER_DIVERGED = 2    # on[k]: its step would have made a weight or its state non-finite
    MEMBER_OVERFLOWED = 3  # on[k]: a pre-activation of its batch overflowed the dtype

STACK_RUNNING, STACK_DIVERGED, STACK_OVERFLOWED = (MEMBER_RUNNING, MEMBER_DIVERGED,
                                                  MEMBER_OVERFLOWED)


# Whether gemm's product dW = D.T @ A (n_out x count times count x n_in, D with n_out columns)
# takes the blocked method in one k block, as it does with D widened to many members' columns.
cdef inline bint gradient_shared(Py_ssize_t count, Py_ssize_t n_out,
                                 Py_ssize_t n_in) noexcept nogil:
    return not (count < THIN_K or n_out * n_in * count <= SMALL or n_out == 1 or n_in == 1) \
        and count <= KC


# One member's accumulate_gradients (beta 0) over a batch whose inputs A_0 are already gathered
# in the workspace. d_first (not NULL): where the first layer's deltas go (rows d_stride
# apart) for the shared weight-gradient product, which then replaces this member's.
cdef double member_gradients(const Net* net, const floating* params, const floating* y,
                             const floating* weights, const Py_ssize_t* rows, Py_ssize_t first,
                             Py_ssize_t count, floating scale, floating* grads, floating* work,
                             Layout lay, floating* d_first, Py_ssize_t d_stride,
                             Py_ssize_t* overflowed) noexcept nogil:
    cdef Py_ssize_t i, j, l, row, n_in, n_out, offset, acts_offset
    cdef Py_ssize_t n_last = net.sizes[net.n_layers]
    cdef double loss_sum = 0
    cdef floating weight = 1
    cdef unsigned int bad
    cdef floating* a = work + lay.acts
    cdef floating* a_next
    cdef floating* delta = work + lay.delta
    cdef floating* delta_below = delta + lay.delta_half
    cdef floating* swap
    cdef floating* grad_w
    cdef floating* grad_b
    cdef const floating* w = params
    cdef const floating* b
    overflowed[0] = 0
    # forward (forward_rows, A_0 in place)
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        b = w + n_out * n_in
        a_next = a + count * n_in
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
        if bad and not overflowed[0]:
            overflowed[0] = l + 1
        a = a_next
        w = b + n_out
    if overflowed[0]:
        return 0

    # output deltas and losses (accumulate_gradients)
    acts_offset = lay.acts
    for l in range(net.n_layers):
        acts_offset += count * net.sizes[l]
    a = work + acts_offset
    for i in range(count):
        row = rows[first + i]
        if weights != NULL:
            weight = weights[row]
        loss_sum += weight * row_loss(net.output, net.loss, net.huber_delta, a + i * n_last,
                                      work + lay.z_out + i * n_last, y + row * n_last,
                                      n_last)
        row_output_delta(net.output, net.loss, net.huber_delta, a + i * n_last,
                         y + row * n_last, weight, delta + i * n_last, n_last)

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
        if l == 0 and d_first != NULL:
            for i in range(count):
                memcpy(d_first + i * d_stride, delta + i * n_out, n_out * sizeof(floating))
        else:
            gemm(n_out, n_in, count, scale, delta, 1, n_out, a, n_in, 1, <floating>0,
                 grad_w, n_in, work + lay.pack, lay.pack_stride, lay.threads)
        if l == net.n_layers - 1:
            bias_gradient(delta, count, n_out, scale, <floating>0, grad_b, 0, n_out)
        if l > 0:
            gemm(count, n_in, n_out, <floating>1, delta, n_out, 1, w, n_in, 1, <floating>0,
                 delta_below, n_in, work + lay.pack, lay.pack_stride, lay.threads)
            hidden_deltas(net.hidden, delta_below, a, a + (lay.pres - lay.acts), count, n_in,
                          scale, <floating>0, grad_w - n_in, lay.threads)
            swap = delta
            delta = delta_below
            delta_below = swap
    return loss_sum


# squared_weights of members chosen[0 .. count - 1] (count <= SQUARES_AT_ONCE) into out: each
# member's sum in squared_weights' order, the members' sums interleaved (one sum is a chain of
# dependent additions; several side by side keep the adder busy).
cdef void squared_weights_of(const Net* net, const floating* like, void** params,
                             const Py_ssize_t* chosen, Py_ssize_t count,
                             double* out) noexcept nogil:
    cdef Py_ssize_t i, c, l, start = 0, n_weights
    cdef double total[SQUARES_AT_ONCE]
    cdef const floating* p[SQUARES_AT_ONCE]
    cdef double value
    for c in range(SQUARES_AT_ONCE):
        total[c] = 0
        p[c] = <const floating*>params[chosen[c if c < count else 0]]
    for l in range(net.n_layers):
        n_weights = net.sizes[l + 1] * net.sizes[l]
        for i in range(start, start + n_weights):
            for c in range(SQUARES_AT_ONCE):
                value = <double>p[c][i]
                total[c] = nn_muladd(value, value, total[c])
        start += n_weights + net.sizes[l + 1]
    for c in range(count):
        out[c] = total[c]


# Pointers to each member's arrays, and its settings, for the loop without the GIL.
cdef struct Members:
    Py_ssize_t n
    void** params          # floating*: member k's flat parameters
    void** state           # floating*: its optimiser state (NULL: none)
    Py_ssize_t* state_length
    void** weights         # const floating*: its sample weights (NULL: every weight 1)
    long long** steps      # its optimizer's step count
    Settings* settings


cdef void free_members(Members* m) noexcept:
    free(m.params)
    free(m.state)
    free(m.state_length)
    free(m.weights)
    free(m.steps)
    free(m.settings)


def stack_train(Model model, list optimizers, list params, list states,
                const floating[:, ::1] X, const floating[:, ::1] Y, list sample_weights,
                object on, object order, object rng, Py_ssize_t position,
                Py_ssize_t batch_size, bint shuffle_rows, object epoch_losses,
                object loss_sums, object member_epochs, Py_ssize_t max_batches,
                bint interruptible, int threads=1):
    """Mini-batch training of members that share one shuffle order, as train trains each.

    Member k (on[k] == STACK_RUNNING; others are left alone): optimizers[k], params[k] (its
    flat parameters), states[k] (its optimiser state), sample_weights[k] (empty or n_rows). The
    members share order (n_rows, np.intp; shuffled at each epoch's start with rng, 4 uint64,
    when shuffle_rows), the position of the next batch in it, and batch_size (2 .. 256, one
    block). Every batch: its rows gathered once, the first layer's weight gradients of all
    members one product (see the top of this file), each member's step as train's. A member whose
    step would diverge or whose batch overflowed stops there (on[k] = STACK_DIVERGED or
    STACK_OVERFLOWED, its step not applied). Epoch e's loss of member k goes to
    epoch_losses[k, e] (loss_sums[k], doubles: its epoch under way); member_epochs[k]: epochs
    it completed in this call. Stops after epoch_losses.shape[1] epochs or max_batches batches.
    Returns (status: STATUS_OK or STATUS_INTERRUPTED, batches run, epochs completed, position).
    """
    cdef object dtype = dtype_of(<floating>0)
    cdef const Net* net = &model.net
    cdef Py_ssize_t n_members = len(params), n = X.shape[0], n_params = net.n_params
    cdef Py_ssize_t n_in = net.sizes[0], n_hidden = net.sizes[1], k, i, j
    cdef unsigned char[::1] running = writable(on, "on", np.uint8)
    cdef Py_ssize_t[::1] rows = writable(order, "order", np.intp)
    cdef uint64_t[::1] state_rng = writable(rng, "rng", np.uint64)
    cdef double[:, ::1] losses = writable(epoch_losses, "epoch_losses", np.float64)
    cdef double[::1] sums = writable(loss_sums, "loss_sums", np.float64)
    cdef long long[::1] done_by = writable(member_epochs, "member_epochs", np.int64)
    cdef floating[::1] view
    cdef const floating[::1] weight_view
    cdef Optimizer opt
    if n_members < 1 or len(optimizers) != n_members or len(states) != n_members or \
            len(sample_weights) != n_members:
        raise ValueError("optimizers, params, states and sample_weights need one entry per "
                         "member (at least one)")
    check_length("on", running.shape[0], n_members)
    check_length("loss_sums", sums.shape[0], n_members)
    check_length("member_epochs", done_by.shape[0], n_members)
    check_rows("epoch_losses", losses.shape[0], losses.shape[1], n_members, losses.shape[1])
    check_rows("X", X.shape[0], X.shape[1], n, n_in)
    check_rows("Y", Y.shape[0], Y.shape[1], n, net.sizes[net.n_layers])
    check_length("order", rows.shape[0], n)
    check_length("rng", state_rng.shape[0], 4)
    if n < 1 or not 2 <= batch_size <= KC:
        raise ValueError(f"stack_train needs rows and a batch_size in 2 .. {KC}")
    if not 0 <= position < n or max_batches < 0 or threads < 1:
        raise ValueError("position must index the order; max_batches >= 0; threads >= 1")
    for i in range(n):
        if not 0 <= rows[i] < n:
            raise ValueError("order must hold row indices")
    if shuffle_rows and state_rng[0] == 0 and state_rng[1] == 0 and state_rng[2] == 0 and \
            state_rng[3] == 0:
        raise ValueError("rng must be a seeded state (seed_rng): all zero never shuffles")

    cdef Members m
    m.n = n_members
    m.params = <void**>calloc(n_members, sizeof(void*))
    m.state = <void**>calloc(n_members, sizeof(void*))
    m.state_length = <Py_ssize_t*>calloc(n_members, sizeof(Py_ssize_t))
    m.weights = <void**>calloc(n_members, sizeof(void*))
    m.steps = <long long**>calloc(n_members, sizeof(long long*))
    m.settings = <Settings*>calloc(n_members, sizeof(Settings))
    if not (m.params and m.state and m.state_length and m.weights and m.steps and m.settings):
        free_members(&m)
        raise MemoryError()
    try:
        for k in range(n_members):
            opt = optimizers[k]
            m.settings[k] = opt.settings
            m.steps[k] = &opt.steps[0]
            view = writable(params[k], f"params[{k}]", dtype)
            check_length(f"params[{k}]", view.shape[0], n_params)
            m.params[k] = &view[0]
            m.state_length[k] = opt.state_vectors * n_params
            view = writable(states[k], f"states[{k}]", dtype)
            check_length(f"states[{k}]", view.shape[0], m.state_length[k])
            m.state[k] = &view[0] if m.state_length[k] else NULL
            sw = sample_weights[k]
            if not isinstance(sw, np.ndarray) or sw.dtype != dtype or sw.ndim != 1 or \
                    not sw.flags.c_contiguous:
                raise ValueError(f"sample_weights[{k}] must be a contiguous 1-D {dtype} array")
            if len(sw):
                check_length(f"sample_weights[{k}]", len(sw), n)
                if not (sw >= 0).all():
                    raise ValueError("sample_weight must be >= 0")
                weight_view = sw
                m.weights[k] = <void*>&weight_view[0]
        return stack_loop(net, &m, &X[0, 0], &Y[0, 0], &running[0], &rows[0], &state_rng[0],
                          position, batch_size, shuffle_rows, losses, &sums[0], &done_by[0],
                          max_batches, interruptible, threads, n_hidden, n)
    finally:
        free_members(&m)


cdef object stack_loop(const Net* net, Members* m, const floating* x, const floating* y,
                       unsigned char* on, Py_ssize_t* order, uint64_t* rng,
                       Py_ssize_t position, Py_ssize_t batch_size, bint shuffle_rows,
                       double[:, ::1] losses, double* sums, long long* done_by,
                       Py_ssize_t max_batches, bint interruptible, int threads,
                       Py_ssize_t n_hidden, Py_ssize_t n_rows):
    cdef object dtype = dtype_of(<floating>0)
    cdef Py_ssize_t n_members = m.n, n_params = net.n_params, n_in = net.sizes[0]
    cdef Py_ssize_t block = batch_size, wide = n_members * n_hidden
    cdef Layout lay = layout(net, block, 0, threads)
    cdef Py_ssize_t vector = round_up(n_params, ALIGN), most_state = 0, k
    for k in range(n_members):
        most_state = max_(most_state, m.state_length[k])
    # workspaces: train's for one member at a time; every member's gradient; the shared
    # products' operands and packing space
    cdef Py_ssize_t pack_stride = round_up(gemm_work_size(wide, n_in, block), ALIGN)
    cdef Py_ssize_t shared_size = round_up(max_(gemm_shared_size(wide, n_in, block),
                                                gemm_shared_size(block, wide, n_in)), ALIGN)
    work_array = np.empty(lay.total, dtype)
    grads_array = np.empty(n_members * vector + ALIGN, dtype)
    new_state_array = np.empty(max_(most_state, 1), dtype)
    d_first_array = np.empty(block * wide, dtype)
    g_first_array = np.empty(wide * n_in, dtype)
    pack_array = np.empty(threads * pack_stride + shared_size + ALIGN, dtype)
    wsum_array = np.empty(n_members, np.float64)
    loss_array = np.empty(n_members, np.float64)
    index_array = np.empty(n_members, np.intp)
    stepping_array = np.empty(n_members, np.intp)
    squares_array = np.empty(n_members, np.float64)
    cdef floating[::1] wv = work_array, gv = grads_array, nv = new_state_array
    cdef floating[::1] d1 = d_first_array
    cdef floating[::1] g1 = g_first_array, pk = pack_array
    cdef double[::1] wsum = wsum_array, batch_loss = loss_array
    cdef Py_ssize_t[::1] active = index_array, stepping = stepping_array
    cdef double[::1] squares = squares_array
    cdef floating* work = aligned_base(&wv[0])
    cdef floating* grads = aligned_base(&gv[0])
    cdef floating* pack = aligned_base(&pk[0])
    cdef Py_ssize_t max_epochs = losses.shape[1], epochs_done = 0, batches = 0
    cdef Py_ssize_t count, end, i, a, n_active, n_step
    cdef Py_ssize_t overflowed = 0
    cdef bint share_d
    cdef int status = OK
    cdef floating* p
    cdef floating* gk
    cdef const floating* weights
    cdef floating scale
    cdef Settings* s
    cdef bint caught
    for k in range(n_members):
        done_by[k] = 0
    caught = nn_catch_sigint() if interruptible else 0
    try:
        with nogil:
            while epochs_done < max_epochs and batches < max_batches:
                if interruptible and nn_stop_requested():
                    status = INTERRUPTED
                    break
                n_active = 0
                for k in range(n_members):
                    if on[k] == MEMBER_RUNNING:
                        active[n_active] = k
                        n_active += 1
                if n_active == 0:
                    break
                if position == 0 and shuffle_rows:
                    shuffle(order, n_rows, rng)
                count = min_(batch_size, n_rows - position)
                end = position + count
                share_d = n_active > 1 and gradient_shared(count, n_hidden, n_in)
                gather_rows(x, order, position, count, n_in, work + lay.acts, threads)
                for a in range(n_active):
                    k = active[a]
                    weights = <const floating*>m.weights[k]
                    wsum[a] = weight_sum(weights, order, position, count)
                    batch_loss[a] = 0
                    if not wsum[a] > 0:
                        continue
                    p = <floating*>m.params[k]
                    gk = grads + a * vector
                    if count == 1:  # one sample: train's per-sample gradient
                        batch_loss[a] = sample_gradients(
                            net, p, x + order[position] * n_in, y + order[position] *
                            net.sizes[net.n_layers], gk, work, lay, 0, 0, NULL, &overflowed)
                    else:
                        batch_loss[a] = member_gradients(
                            net, p, y, weights, order, position, count,
                            <floating>(1.0 / wsum[a]), gk, work, lay,
                            &d1[0] + a * n_hidden if share_d else NULL, n_active * n_hidden,
                            &overflowed) / wsum[a]
                    if overflowed:
                        on[k] = MEMBER_OVERFLOWED
                        done_by[k] = epochs_done
                if share_d and count > 1:
                    # every member's dW_1 = D_1.T @ A_0 at once (alpha 1), then its scale
                    gemm(n_active * n_hidden, n_in, count, <floating>1, &d1[0], 1,
                         n_active * n_hidden, work + lay.acts, n_in, 1, <floating>0, &g1[0],
                         n_in, pack, pack_stride, threads)
                    for a in range(n_active):
                        if on[active[a]] != MEMBER_RUNNING or not wsum[a] > 0:
                            continue
                        scale = <floating>(1.0 / wsum[a])
                        gk = grads + a * vector
                        for i in range(n_hidden * n_in):
                            gk[i] = scale * g1[a * n_hidden * n_in + i]
                # alpha's penalty: every stepping member's squared weights (before its step)
                n_step = 0
                for a in range(n_active):
                    k = active[a]
                    if on[k] == MEMBER_RUNNING and wsum[a] > 0 and m.settings[k].alpha != 0:
                        stepping[n_step] = k
                        n_step += 1
                i = 0
                while i < n_step:
                    squared_weights_of(net, x, m.params, &stepping[i],
                                       min_(SQUARES_AT_ONCE, n_step - i), &squares[i])
                    i += SQUARES_AT_ONCE
                n_step = 0
                for a in range(n_active):
                    k = active[a]
                    if on[k] != MEMBER_RUNNING or not wsum[a] > 0:
                        continue
                    s = &m.settings[k]
                    p = <floating*>m.params[k]
                    gk = grads + a * vector
                    if s.alpha != 0:
                        batch_loss[a] += 0.5 * s.alpha * squares[n_step] / wsum[a]
                        n_step += 1
                    if nonfinite(batch_loss[a]) or not optimizer_step(
                            s, m.steps[k][0] + 1, net, p, <floating*>m.state[k],
                            m.state_length[k], gk, <floating>(s.l2 + s.alpha / wsum[a]),
                            &nv[0], threads):
                        on[k] = MEMBER_DIVERGED
                        done_by[k] = epochs_done
                        continue
                    m.steps[k][0] += 1
                    sums[k] += batch_loss[a] * count
                batches += 1
                position = end
                if position == n_rows:
                    for a in range(n_active):
                        k = active[a]
                        if on[k] == MEMBER_RUNNING:
                            losses[k, epochs_done] = sums[k] / n_rows
                            sums[k] = 0
                            done_by[k] = epochs_done + 1
                    epochs_done += 1
                    position = 0
    finally:
        if caught:
            nn_release_sigint()
    return status, batches, epochs_done, position
