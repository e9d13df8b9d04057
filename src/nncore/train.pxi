# The epoch loop: where a run stands between calls (Epochs), train's mini-batch loop, and the
# shuffling entry points that replay its order. Included in _core.pyx.

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


# One call of train: what its loops read, and the counts they report back.
cdef struct Run:
    const Net* net
    const Settings* s
    Layout lay                # the workspace's layout (train's)
    long long* steps          # the optimiser's step count (per-sample SGD counts it up)
    double* losses            # each completed epoch's mean loss, max_epochs of them
    Py_ssize_t max_epochs     # epochs to complete at most
    Py_ssize_t max_batches    # batches to run at most
    bint interruptible        # poll for Ctrl-C (the caller is the main thread)
    Py_ssize_t batches        # batches run so far
    Py_ssize_t epochs_done    # epochs completed so far
    Dropout* dropout          # the fit's dropout, or NULL: none


# After a batch that ended at `end`: counts it and, if it ended the epoch, records the epoch's
# mean loss (*loss_sum / n_rows) and starts the next one. Returns the next batch's position.
cdef inline Py_ssize_t end_batch(Run* run, Epochs epochs, Py_ssize_t end,
                                 double* loss_sum) noexcept nogil:
    run.batches += 1
    if end != epochs.n_rows:
        return end
    run.losses[run.epochs_done] = loss_sum[0] / epochs.n_rows
    loss_sum[0] = 0
    epochs.completed += 1
    run.epochs_done += 1
    return 0


def train(Model model, Optimizer optimizer, Epochs epochs, object params, object state,
          const floating[:, ::1] X, const floating[:, ::1] Y, const floating[::1] sample_weight,
          object epoch_losses, Py_ssize_t max_batches, object work, bint interruptible,
          int threads=1, double dropout=0, uint64_t dropout_seed=0,
          CsrRows sparse_x=None):
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
    dropout: inverted dropout on the hidden layers at this rate (0 <= rate < 1; 0: none), the
    masks drawn from dropout_seed and each row's sample number, epochs.completed * n_rows +
    its position in the epoch (see dropout.pxd); work then holds
    model.train_work_size(..., dropout=True).
    sparse_x: X as CSR rows (X then a (0, 0) array, not read); batches of one sample then take
    the general path.
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
    cdef Py_ssize_t n = X.shape[0] if sparse_x is None else sparse_x.n_rows
    cdef Py_ssize_t n_params = net.n_params, i
    cdef Csr csr
    cdef list hold = []
    cdef Py_ssize_t state_length = optimizer.state_vectors * n_params
    check_length("params", p.shape[0], n_params)
    check_length("state", st.shape[0], state_length)
    if sparse_x is None:
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
    cdef Dropout drop
    cdef Dropout* dropping = NULL
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if dropout != 0 and net.n_layers > 1:
        dropout_space(&drop, net, &lay, block, dropout, dropout_seed)
        dropping = &drop
    check_work(wv.shape[0], lay.total)
    cdef const floating* x = &X[0, 0] if sparse_x is None else NULL
    if sparse_x is not None:
        csr_for_call(sparse_x, dtype, net, epochs.n_rows, hold, &csr)
        lay.sparse_x = &csr

    cdef Py_ssize_t max_epochs = losses.shape[0]
    cdef Run run
    run.net, run.s, run.lay, run.steps = net, s, lay, &optimizer.steps[0]
    run.losses = &losses[0] if max_epochs else NULL
    run.max_epochs, run.max_batches, run.interruptible = max_epochs, max_batches, interruptible
    run.batches = run.epochs_done = 0
    run.dropout = dropping
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
    cdef bint per_sample = (epochs.batch_size == 1 and s.kind == SGD and s.momentum == 0
                            and sparse_x is None)
    cdef bint caught = nn_catch_sigint() if interruptible else 0
    try:
        with nogil:
            if per_sample:
                status = sgd_per_sample_for(&run, epochs, &p[0], x, &Y[0, 0], weights,
                                            grads, base)
            else:
                while run.epochs_done < max_epochs and run.batches < max_batches:
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
                        if dropping != NULL:
                            drop.first_sample = <uint64_t>(epochs.completed * n)
                        # the batch's mean gradient into grads, its mean loss into batch_loss
                        if count == 1 and dropping == NULL and sparse_x is None:
                            # one sample: its weight cancels
                            row = order[position]
                            batch_loss = sample_gradients(net, &p[0], &X[row, 0], &Y[row, 0],
                                                          grads, base, lay, 0, 0, NULL,
                                                          &overflowed)
                        else:
                            batch_loss = 0
                            first = position
                            while first < end:
                                # the first block writes grads, the others add to it
                                batch_loss += accumulate_dropped(
                                    net, &p[0], x, &Y[0, 0], weights, order, first,
                                    min_(block, end - first), <floating>(1.0 / wsum),
                                    <floating>(first != position), grads, base, lay,
                                    &overflowed, dropping)
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
                    epochs.position = end_batch(&run, epochs, end, &epochs.loss_sum)
    finally:
        if caught:
            nn_release_sigint()
    return status, run.batches, run.epochs_done


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



def dropout_keep(Model model, double rate, uint64_t seed, uint64_t first_sample, object out):
    """The keep factors train's dropout at `rate` from `seed` gives the rows of samples
    first_sample, first_sample + 1, ... (see dropout.pxd), into out (rows x hidden units,
    float32 or float64): 0 or 1 / (1 - rate), the hidden layers' units side by side. For
    references and tests."""
    cdef Dropout drop
    cdef Layout lay
    cdef float[:, ::1] out32
    cdef double[:, ::1] out64
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    lay.total = ALIGN
    dropout_space(&drop, &model.net, &lay, 1, rate, seed)
    if isinstance(out, np.ndarray) and out.dtype == np.float32:
        out32 = writable(out, "out", np.float32)
        keep_rows(&drop, &model.net, first_sample, out32)
    else:
        out64 = writable(out, "out", np.float64)
        keep_rows(&drop, &model.net, first_sample, out64)


cdef keep_rows(const Dropout* drop, const Net* net, uint64_t first_sample,
               floating[:, ::1] out):
    cdef Py_ssize_t i, l, unit, rows = out.shape[0]
    check_rows("out", out.shape[0], out.shape[1], rows, drop.hidden)
    cdef floating[::1] scratch = np.zeros(max(drop.hidden, 1), dtype_of(<floating>0))
    with nogil:
        for i in range(rows):
            unit = 0
            for l in range(1, net.n_layers):
                mask_row(drop, row_key(drop, first_sample + i), unit, &scratch[0],
                         &out[i, unit], &scratch[0], net.sizes[l])
                unit += net.sizes[l]
