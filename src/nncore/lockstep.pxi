# Lockstep per-sample SGD: many small networks of one shape (a NetworkStack's members), each
# with its own lr, momentum, l2, alpha, sample weights and shuffle order, stepped together one
# sample each. Included at the end of _core.pyx (it uses the per-sample path's width tags,
# shuffle and interrupt polling, and the activations by name).
#
# Layout: the caller's parameters are params[p, k] (n_params x lanes, member index innermost);
# a call copies them into an aligned buffer of chunks, chunk c's parameter p at
# ((c * n_params) + p) * LANES + k, so that each parameter's LANES copies are one aligned
# block (two AVX-512 registers of doubles, one of floats). A step runs a chunk's LANES members
# together, every operation of the per-sample step a loop over the chunk's LANES members
# that the compiler turns into vector instructions; the step is compiled for the hidden and
# output widths (fused width tags, as small_step), so its loops unroll and its activations
# and deltas stay in registers. Each epoch's row order is kept transposed as well
# (position-major, with each row's sample weight), so a step reads its LANES row indices
# and weights as two vector loads.
#
# Per member it is the lone fit's arithmetic in the same order, so a member's weights are
# bit-identical to Network.fit's (tests hold them to it): plain SGD as small_step
# (sized_forward, row_loss, row_output_delta, sized_backward with the step folded in);
# momentum and Nesterov as train's batch-of-one path (sample_gradients, then step_range's
# formula on the stored gradient: a compiler barrier keeps the gradient a rounded value in
# memory there, as it is in train, so no multiply-add fuses across it).

from activations cimport exp_diff
from losses cimport (binary_cross_entropy, categorical_cross_entropy, row_loss, row_output_delta,
                    nn_muladd)

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define nn_keep_in_memory(p) __asm__ __volatile__("" : : "r"(p) : "memory")
    #else
    #define nn_keep_in_memory(p) ((void)(p))
    #endif
    """
    void nn_keep_in_memory(const void* p) nogil  # p's array is written before, read after

cdef extern from *:
    """
    #include "nn_math.h"
    #if defined(__GNUC__) || defined(__clang__)
    #define NN_NOINLINE __attribute__((noinline))
    #else
    #define NN_NOINLINE
    #endif
    #define NN_LANES 16
    /* One row of lanes through nn_math.h's sigmoid, in a function of its own: its loop is
     * vectorised, where inlined into the lane step gcc left the output's scalar */
    static NN_NOINLINE void nn_lanes_sigmoid(double *a)
    {
        for (int k = 0; k < NN_LANES; k++) a[k] = nn_sigmoid(a[k]);
    }
    static NN_NOINLINE void nn_lanes_sigmoidf(float *a)
    {
        for (int k = 0; k < NN_LANES; k++) a[k] = nn_sigmoidf(a[k]);
    }
    """
    int NN_LANES                               # LANES, for the C helpers
    void nn_lanes_sigmoid(double* a) nogil     # a[k] = nn_sigmoid(a[k]), k < LANES
    void nn_lanes_sigmoidf(float* a) nogil

cdef enum:
    LANES = 16           # members per chunk: the length of every vectorised loop
    LOCKSTEP_INPUTS = SMALL_WIDTH + 1  # fewer inputs than this: small_step's UpTo4 copies
    LOCKSTEP_PARAMS = SMALL_WIDTH * LOCKSTEP_INPUTS + SMALL_WIDTH * (SMALL_WIDTH + 1)
    LANE_PLAIN = 0       # every member plain SGD (momentum 0)
    LANE_MOMENTUM = 1    # some members with momentum (the others plain)
    LANE_NESTEROV = 2    # the same with Nesterov's step

LOCKSTEP_LANES = LANES
assert NN_LANES == LANES, "lockstep.pxi's C helpers are written for LANES lanes"
LOCKSTEP_WIDTH = SMALL_WIDTH

ctypedef fused LaneHidden:   # the hidden width's tag
    Width1
    Width2
    Width3
    Width4

ctypedef fused LaneOutputs:  # the output width's tag
    Width1
    Width2
    Width3
    Width4


# What a run of lockstep steps reads and writes (pointers as void*: one struct for both dtypes;
# lanes_run casts them to its floating type).
cdef struct LaneJob:
    Py_ssize_t n_in, n_rows, lanes, n_params
    int mode                      # LANE_PLAIN, LANE_MOMENTUM or LANE_NESTEROV
    bint any_alpha                # some member's alpha is not 0
    void* q                       # aligned chunk buffer of the parameters
    void* vel                     # the same for the velocities (momentum modes)
    const void* x                 # X (n_rows x n_in)
    const void* y                 # Y (n_rows x n_out)
    const void* lr                # per member, as the optimiser casts them
    const void* momentum
    const void* decay             # <floating>l2 (used without alpha)
    const double* l2
    const double* alpha
    const void* sample_weight     # lanes x n_rows
    void* wt                      # n_rows x lanes: the weight of member k's row at a position
    Py_ssize_t* rows              # lanes x n_rows: each member's order
    Py_ssize_t* rows_t            # n_rows x lanes: the same, transposed
    uint64_t* rng                 # lanes x 4
    unsigned char* live           # per member: 1 training, else frozen (see lockstep_sgd)
    double* sums                  # per member: loss so far in the epoch
    long long* steps              # per member: steps applied
    double* losses                # lanes x max_epochs
    long long* lane_epochs        # per member: epochs recorded
    Py_ssize_t max_epochs, max_steps, position
    bint shuffle_rows, interruptible


# The transposed order and the sample weights of member k's rows (n_rows x lanes).
cdef inline void transpose_order(LaneJob* job, floating* wt, const floating* w) noexcept nogil:
    cdef Py_ssize_t i, k, n = job.n_rows, lanes = job.lanes, row
    for k in range(lanes):
        for i in range(n):
            row = job.rows[k * n + i]
            job.rows_t[i * lanes + k] = row
            wt[i * lanes + k] = w[k * n + row]


# One step of a chunk's LANES members, each on its own sample (xs: n_in rows of LANES, ys:
# n_out rows), compiled for the hidden and output widths (h, o). q: the chunk's parameters
# (parameter p's copies at p * LANES), vel its velocities (momentum modes). act[k]: member k
# takes this step; it is cleared where the step is not taken: out[k] gets 3 where a
# pre-activation overflowed (small_step's bad & 2, tested first, as train does), 2 where the
# step or the loss is not finite (diverged), else 0. loss[k]: member k's sample loss (mse's
# or cross-entropy's, plus alpha's penalty as train adds it).
cdef inline void lanes_step(LaneHidden* h, LaneOutputs* o, const Net* net, const LaneJob* job,
                            floating* q, floating* vel, const floating* xs, const floating* ys,
                            const floating* ws, const floating* lr, const floating* mom,
                            const floating* fixed_decay, const double* l2, const double* alpha,
                            unsigned char* act, unsigned char* out, double* loss) noexcept nogil:
    cdef Py_ssize_t n_in = job.n_in, n_hid = width(h, 0), n_out = width(o, 0)
    cdef Py_ssize_t top = n_hid * (n_in + 1), n_params = job.n_params, i, j, k, p
    cdef int hidden = net.hidden, output = net.output
    cdef floating a_hid[SMALL_WIDTH * LANES]
    cdef floating z_hid[SMALL_WIDTH * LANES]   # hidden pre-activations (kept if needs_z)
    cdef const floating* z_prev = a_hid  # what the hidden derivative reads (a_hid: not z)
    cdef floating a_out[SMALL_WIDTH * LANES]
    cdef floating z_out[SMALL_WIDTH * LANES]
    cdef floating d_hid[SMALL_WIDTH * LANES]
    cdef floating d_out[SMALL_WIDTH * LANES]
    cdef floating g[LOCKSTEP_PARAMS * LANES]      # the step (plain) or the gradient
    cdef floating nv[LOCKSTEP_PARAMS * LANES]     # the new velocities (momentum modes)
    cdef floating decay[LANES]
    cdef floating zero[LANES]
    cdef floating total[LANES]
    cdef floating ysum[LANES]
    cdef floating probe[LANES]
    cdef floating take[LANES]        # 1 where the step is applied, else 0
    cdef floating zrow[SMALL_WIDTH]
    cdef floating yrow[SMALL_WIDTH]
    cdef floating arow[SMALL_WIDTH]
    cdef floating drow[SMALL_WIDTH]
    cdef unsigned int bad[LANES]
    cdef floating member[LOCKSTEP_PARAMS]   # one member's parameters
    cdef double sq[LANES]             # mse's sums of squares
    cdef floating step, zmax
    cdef const floating* weight_decay
    cdef const floating* bias_decay
    cdef const floating* w
    cdef const floating* b
    cdef double diff
    cdef bint momentum_mode = job.mode != LANE_PLAIN

    # the weights' decay, as train's <floating>(l2 + alpha / wsum)
    if job.any_alpha:
        for k in range(LANES):
            decay[k] = <floating>(l2[k] + alpha[k] / <double>ws[k])
    else:
        for k in range(LANES):
            decay[k] = fixed_decay[k]

    # Forward pass: sized_forward's dot from 0, then + b; probe as small_step's
    for k in range(LANES):
        probe[k] = 0
    b = q + n_hid * n_in * LANES
    for j in range(n_hid):
        for k in range(LANES):
            total[k] = 0
        for i in range(SMALL_WIDTH):
            if i == n_in:
                break
            for k in range(LANES):
                total[k] = total[k] + q[(j * n_in + i) * LANES + k] * xs[i * LANES + k]
        for k in range(LANES):
            a_hid[j * LANES + k] = total[k] + b[j * LANES + k]
            probe[k] = probe[k] + a_hid[j * LANES + k] * 0
    if needs_z(hidden):  # kept for the derivative, as small_step keeps them
        z_prev = z_hid
        for j in range(n_hid):
            for k in range(LANES):
                z_hid[j * LANES + k] = a_hid[j * LANES + k]
    for j in range(n_hid):
        if hidden == SIGMOID:
            lanes_sigmoid(a_hid + j * LANES)
        else:
            for k in range(LANES):
                a_hid[j * LANES + k] = activation(hidden, a_hid[j * LANES + k])
    w = q + top * LANES
    b = w + n_out * n_hid * LANES
    for j in range(n_out):
        for k in range(LANES):
            total[k] = 0
        for i in range(n_hid):
            for k in range(LANES):
                total[k] = total[k] + w[(j * n_hid + i) * LANES + k] * a_hid[i * LANES + k]
        for k in range(LANES):
            a_out[j * LANES + k] = total[k] + b[j * LANES + k]
            probe[k] = probe[k] + a_out[j * LANES + k] * 0
            z_out[j * LANES + k] = a_out[j * LANES + k]
    if output == SOFTMAX:   # softmax_rows' arithmetic, lane by lane
        for k in range(LANES):
            zmax = a_out[k]
            for j in range(1, n_out):
                zmax = a_out[j * LANES + k] if a_out[j * LANES + k] > zmax else zmax
            total[k] = 0
            for j in range(n_out):
                a_out[j * LANES + k] = exp_diff(a_out[j * LANES + k], zmax)
                total[k] = total[k] + a_out[j * LANES + k]
            for j in range(n_out):
                a_out[j * LANES + k] = a_out[j * LANES + k] / total[k]
    else:
        for j in range(n_out):
            if output == SIGMOID:
                lanes_sigmoid(a_out + j * LANES)
            else:
                for k in range(LANES):
                    a_out[j * LANES + k] = activation(output, a_out[j * LANES + k])

    # Loss (row_loss) and output deltas (row_output_delta, weight 1)
    for k in range(LANES):
        loss[k] = 0
        bad[k] = 0
    if net.loss != MSE and net.loss != CROSS_ENTROPY:
        # absolute error, Huber, poisson: row_loss and row_output_delta themselves, lane by lane
        for k in range(LANES):
            for j in range(n_out):
                arow[j] = a_out[j * LANES + k]
                zrow[j] = z_out[j * LANES + k]
                yrow[j] = ys[j * LANES + k]
            loss[k] = row_loss(output, net.loss, net.huber_delta, arow, zrow, yrow, n_out)
            row_output_delta(output, net.loss, net.huber_delta, arow, yrow, <floating>1, drow,
                             n_out)
            for j in range(n_out):
                d_out[j * LANES + k] = drow[j]
    elif net.loss == MSE:
        for k in range(LANES):
            sq[k] = 0
        for j in range(n_out):
            for k in range(LANES):
                diff = <double>a_out[j * LANES + k] - <double>ys[j * LANES + k]
                sq[k] = nn_muladd(diff, diff, sq[k])   # row_loss's rounding
        for k in range(LANES):
            loss[k] = 0.5 * sq[k]
    elif output == SOFTMAX:
        for k in range(LANES):
            for j in range(n_out):
                zrow[j] = z_out[j * LANES + k]
                yrow[j] = ys[j * LANES + k]
            loss[k] = categorical_cross_entropy(zrow, yrow, n_out)
    else:
        for j in range(n_out):
            for k in range(LANES):
                loss[k] += binary_cross_entropy(z_out[j * LANES + k], ys[j * LANES + k])
    if net.loss != MSE and net.loss != CROSS_ENTROPY:
        pass
    elif output == SOFTMAX:
        for k in range(LANES):
            ysum[k] = 0
        for j in range(n_out):
            for k in range(LANES):
                ysum[k] = ysum[k] + ys[j * LANES + k]
        for j in range(n_out):
            for k in range(LANES):
                d_out[j * LANES + k] = (a_out[j * LANES + k] * ysum[k] - ys[j * LANES + k])
    else:
        for j in range(n_out):
            for k in range(LANES):
                d_out[j * LANES + k] = (a_out[j * LANES + k] - ys[j * LANES + k])
        if net.loss == MSE and output != IDENTITY:
            for j in range(n_out):
                for k in range(LANES):
                    d_out[j * LANES + k] = d_out[j * LANES + k] * \
                        derivative_at(output, a_out, a_out, j * LANES + k)

    # Output layer: the plain step folded in (sized_backward's fold) or the gradient
    w = q + top * LANES
    for j in range(n_out):
        for i in range(n_hid):
            p = (top + j * n_hid + i) * LANES
            if momentum_mode:
                for k in range(LANES):
                    g[p + k] = d_out[j * LANES + k] * a_hid[i * LANES + k]
            else:
                for k in range(LANES):
                    step = -lr[k] * (d_out[j * LANES + k] * a_hid[i * LANES + k]
                                     + decay[k] * q[p + k])
                    g[p + k] = step
                    bad[k] |= nonfinite(q[p + k] + step)
        p = (top + n_out * n_hid + j) * LANES
        if momentum_mode:
            for k in range(LANES):
                g[p + k] = d_out[j * LANES + k]
        else:
            for k in range(LANES):
                step = -lr[k] * d_out[j * LANES + k]
                g[p + k] = step
                bad[k] |= nonfinite(q[p + k] + step)
    # Hidden deltas from the weights before the step (sized_backward's sized copy)
    for i in range(n_hid):
        for k in range(LANES):
            total[k] = 0
        for j in range(n_out):
            for k in range(LANES):
                total[k] = total[k] + d_out[j * LANES + k] * w[(j * n_hid + i) * LANES + k]
        for k in range(LANES):
            d_hid[i * LANES + k] = total[k] * derivative_at(hidden, a_hid, z_prev,
                                                            i * LANES + k)
    # Hidden layer
    for j in range(n_hid):
        for i in range(SMALL_WIDTH):
            if i == n_in:
                break
            p = (j * n_in + i) * LANES
            if momentum_mode:
                for k in range(LANES):
                    g[p + k] = d_hid[j * LANES + k] * xs[i * LANES + k]
            else:
                for k in range(LANES):
                    step = -lr[k] * (d_hid[j * LANES + k] * xs[i * LANES + k]
                                     + decay[k] * q[p + k])
                    g[p + k] = step
                    bad[k] |= nonfinite(q[p + k] + step)
        p = (n_hid * n_in + j) * LANES
        if momentum_mode:
            for k in range(LANES):
                g[p + k] = d_hid[j * LANES + k]
        else:
            for k in range(LANES):
                step = -lr[k] * d_hid[j * LANES + k]
                g[p + k] = step
                bad[k] |= nonfinite(q[p + k] + step)

    if momentum_mode:
        # step_range on the stored gradient, the weights with the decay and the biases with
        # <floating>0 (step_part); a member without momentum takes plain SGD's step: the
        # per-sample path's fold, -lr * (g + decay * W) and -lr * g, as train would run it
        nn_keep_in_memory(g)
        for k in range(LANES):
            zero[k] = 0
        weight_decay = decay
        bias_decay = zero
        for p in range(n_params):
            lanes_momentum_step(job.mode == LANE_NESTEROV, q + p * LANES, vel + p * LANES,
                                g + p * LANES, nv + p * LANES, lr, mom,
                                weight_decay if p < n_hid * n_in or
                                top <= p < top + n_out * n_hid else bias_decay, bad)
        if not lanes_all_momentum(mom):
            lanes_plain_steps(h, o, job, q, xs, a_hid, d_out, d_hid, lr, decay, mom, g, bad)

    # alpha's penalty in the loss: 0.5 * alpha * sum(W**2) / wsum, before the step, its sum
    # by train's own squared_weights on the member's parameters
    if job.any_alpha:
        for k in range(LANES):
            if alpha[k] != 0:
                for p in range(n_params):
                    member[p] = q[p * LANES + k]
                loss[k] += 0.5 * alpha[k] * squared_weights(net, member) / <double>ws[k]

    # The members' verdicts, then the step where it is taken
    for k in range(LANES):
        out[k] = 0
        if act[k]:
            if nonfinite(probe[k]):
                out[k] = 3
            elif bad[k] | nonfinite(loss[k]):
                out[k] = 2
        act[k] = act[k] & (out[k] == 0)
        take[k] = act[k]    # the mask in the parameters' width: the blends vectorise
    for p in range(n_params):
        for k in range(LANES):
            q[p * LANES + k] = q[p * LANES + k] + g[p * LANES + k] if take[k] != 0 else \
                q[p * LANES + k]
    if momentum_mode:
        for p in range(n_params):
            for k in range(LANES):
                vel[p * LANES + k] = nv[p * LANES + k] if take[k] != 0 else vel[p * LANES + k]


# a = sigmoid(a) over one row of LANES values (nn_math.h's sigmoid, as every path's).
cdef inline void lanes_sigmoid(floating* a) noexcept nogil:
    if floating is float:
        nn_lanes_sigmoidf(a)
    else:
        nn_lanes_sigmoid(a)


# step_range's SGD step of one parameter's LANES copies (q, vel, g: the gradient, then the
# step; nv: the new velocities), with the decay dec (0 for a bias); bad or-ed with its
# non-finite flags where mom[k] is not 0.
cdef inline void lanes_momentum_step(bint nesterov, const floating* q, const floating* vel,
                                     floating* g, floating* nv, const floating* lr,
                                     const floating* mom, const floating* dec,
                                     unsigned int* bad) noexcept nogil:
    cdef Py_ssize_t k
    cdef floating v, gg, step
    if nesterov:
        for k in range(LANES):
            gg = g[k] + dec[k] * q[k]
            v = mom[k] * vel[k] - lr[k] * gg
            step = mom[k] * v - lr[k] * gg
            nv[k] = v
            g[k] = step
            bad[k] |= (nonfinite(q[k] + step) | nonfinite(v)) if mom[k] != 0 else 0
    else:
        for k in range(LANES):
            v = mom[k] * vel[k] - lr[k] * (g[k] + dec[k] * q[k])
            nv[k] = v
            g[k] = v
            bad[k] |= nonfinite(q[k] + v) if mom[k] != 0 else 0


# Whether every member of the chunk has momentum.
cdef inline bint lanes_all_momentum(const floating* mom) noexcept nogil:
    cdef Py_ssize_t k
    cdef unsigned int zero = 0
    for k in range(LANES):
        zero |= mom[k] == 0
    return not zero


# The plain members' steps of a momentum chunk (momentum 0): the per-sample path's folded
# step, over g and bad where mom[k] is 0.
cdef void lanes_plain_steps(LaneHidden* h, LaneOutputs* o, const LaneJob* job,
                            const floating* q, const floating* xs, const floating* a_hid,
                            const floating* d_out, const floating* d_hid, const floating* lr,
                            const floating* decay, const floating* mom, floating* g,
                            unsigned int* bad) noexcept nogil:
    cdef Py_ssize_t n_in = job.n_in, n_hid = width(h, 0), n_out = width(o, 0)
    cdef Py_ssize_t top = n_hid * (n_in + 1), i, j, k, p
    cdef floating step
    cdef unsigned int flags[LANES]
    for k in range(LANES):
        flags[k] = 0
    for j in range(n_out):
        for i in range(n_hid):
            p = (top + j * n_hid + i) * LANES
            for k in range(LANES):
                step = -lr[k] * (d_out[j * LANES + k] * a_hid[i * LANES + k]
                                 + decay[k] * q[p + k])
                g[p + k] = step if mom[k] == 0 else g[p + k]
                flags[k] |= nonfinite(q[p + k] + step)
        p = (top + n_out * n_hid + j) * LANES
        for k in range(LANES):
            step = -lr[k] * d_out[j * LANES + k]
            g[p + k] = step if mom[k] == 0 else g[p + k]
            flags[k] |= nonfinite(q[p + k] + step)
    for j in range(n_hid):
        for i in range(n_in):
            p = (j * n_in + i) * LANES
            for k in range(LANES):
                step = -lr[k] * (d_hid[j * LANES + k] * xs[i * LANES + k]
                                 + decay[k] * q[p + k])
                g[p + k] = step if mom[k] == 0 else g[p + k]
                flags[k] |= nonfinite(q[p + k] + step)
        p = (n_hid * n_in + j) * LANES
        for k in range(LANES):
            step = -lr[k] * d_hid[j * LANES + k]
            g[p + k] = step if mom[k] == 0 else g[p + k]
            flags[k] |= nonfinite(q[p + k] + step)
    for k in range(LANES):
        bad[k] |= flags[k] if mom[k] == 0 else 0


# The steps of a call: epoch after epoch until max_epochs complete or max_steps steps ran,
# every chunk of members one step at a time on its sample; compiled for the widths (h, o).
# Returns OK or INTERRUPTED; job.position, the run's steps and epochs through ran and done.
cdef int lanes_run(LaneHidden* h, LaneOutputs* o, const Net* net, LaneJob* job,
                   floating* dtype_tag, Py_ssize_t* ran_out,
                   Py_ssize_t* done_out) noexcept nogil:
    cdef Py_ssize_t n = job.n_rows, lanes = job.lanes, n_in = job.n_in
    cdef Py_ssize_t n_out = width(o, 0), n_params = job.n_params
    cdef Py_ssize_t i, k, c, chunk, row, ran = 0, done = 0, position = job.position
    cdef floating* q = <floating*>job.q
    cdef floating* vel = <floating*>job.vel
    cdef const floating* x = <const floating*>job.x
    cdef const floating* y = <const floating*>job.y
    cdef const floating* lr = <const floating*>job.lr
    cdef const floating* mom = <const floating*>job.momentum
    cdef const floating* fixed_decay = <const floating*>job.decay
    cdef const floating* w = <const floating*>job.sample_weight
    cdef floating* wt = <floating*>job.wt
    cdef const Py_ssize_t* rt
    cdef const floating* wr
    cdef floating xs[SMALL_WIDTH * LANES]
    cdef floating ys[SMALL_WIDTH * LANES]
    cdef floating ws[LANES]
    cdef unsigned char act[LANES]
    cdef unsigned char out[LANES]
    cdef unsigned char any_out
    cdef double sample_loss[LANES]
    cdef int status = OK
    transpose_order(job, wt, w)
    while done < job.max_epochs and ran < job.max_steps:
        if job.interruptible and nn_stop_requested():
            status = INTERRUPTED
            break
        if position == 0 and job.shuffle_rows:
            for k in range(lanes):
                if job.live[k] == 1:
                    shuffle(job.rows + k * n, n, job.rng + 4 * k)
            transpose_order(job, wt, w)
        for chunk in range(lanes // LANES):
            c = chunk * LANES
            rt = job.rows_t + position * lanes + c
            wr = wt + position * lanes + c
            for k in range(LANES):
                row = rt[k]
                for i in range(SMALL_WIDTH):
                    if i == n_in:
                        break
                    xs[i * LANES + k] = x[row * n_in + i]
                for i in range(n_out):
                    ys[i * LANES + k] = y[row * n_out + i]
            for k in range(LANES):
                ws[k] = wr[k]
                # a sample of weight 0 takes no step (train's wsum > 0)
                act[k] = (job.live[c + k] == 1) & (<double>wr[k] > 0)
            lanes_step(h, o, net, job, q + c * n_params,
                       vel + c * n_params if vel != NULL else NULL,
                       xs, ys, ws, lr + c, mom + c, fixed_decay + c, job.l2 + c,
                       job.alpha + c, act, out, sample_loss)
            any_out = 0
            for k in range(LANES):
                any_out |= out[k]
                job.sums[c + k] += sample_loss[k] if act[k] else 0
                job.steps[c + k] += act[k]
            if any_out:
                for k in range(LANES):
                    if out[k]:
                        job.live[c + k] = out[k]
        ran += 1
        position += 1
        if position == n:
            for k in range(lanes):
                if job.live[k] == 1:
                    job.losses[k * job.max_epochs + job.lane_epochs[k]] = job.sums[k] / n
                    job.sums[k] = 0
                    job.lane_epochs[k] += 1
            done += 1
            position = 0
    job.position = position
    ran_out[0] = ran
    done_out[0] = done
    return status


# lanes_run in its copy for the hidden and output widths.
cdef int lanes_run_for(const Net* net, LaneJob* job, floating* dtype_tag, Py_ssize_t* ran,
                       Py_ssize_t* done) noexcept nogil:
    cdef Py_ssize_t n_hid = net.sizes[1]
    if n_hid == 1:
        return lanes_run_to(<Width1*>NULL, net, job, dtype_tag, ran, done)
    elif n_hid == 2:
        return lanes_run_to(<Width2*>NULL, net, job, dtype_tag, ran, done)
    elif n_hid == 3:
        return lanes_run_to(<Width3*>NULL, net, job, dtype_tag, ran, done)
    return lanes_run_to(<Width4*>NULL, net, job, dtype_tag, ran, done)

cdef int lanes_run_to(LaneHidden* h, const Net* net, LaneJob* job, floating* dtype_tag,
                      Py_ssize_t* ran, Py_ssize_t* done) noexcept nogil:
    cdef Py_ssize_t n_out = net.sizes[2]
    if n_out == 1:
        return lanes_run(h, <Width1*>NULL, net, job, dtype_tag, ran, done)
    elif n_out == 2:
        return lanes_run(h, <Width2*>NULL, net, job, dtype_tag, ran, done)
    elif n_out == 3:
        return lanes_run(h, <Width3*>NULL, net, job, dtype_tag, ran, done)
    return lanes_run(h, <Width4*>NULL, net, job, dtype_tag, ran, done)


# params (n_params x lanes) <-> the chunk buffer (see the layout above).
cdef void to_chunks(const floating* params, floating* buf, Py_ssize_t n_params,
                    Py_ssize_t lanes) noexcept nogil:
    cdef Py_ssize_t p, k
    for p in range(n_params):
        for k in range(lanes):
            buf[((k // LANES) * n_params + p) * LANES + k % LANES] = params[p * lanes + k]

cdef void from_chunks(const floating* buf, floating* params, Py_ssize_t n_params,
                      Py_ssize_t lanes) noexcept nogil:
    cdef Py_ssize_t p, k
    for p in range(n_params):
        for k in range(lanes):
            params[p * lanes + k] = buf[((k // LANES) * n_params + p) * LANES + k % LANES]


def lockstep_sgd(Model model, object params, object velocity, const floating[::1] lr,
                 const floating[::1] momentum, bint nesterov, const double[::1] l2,
                 const double[::1] alpha, const floating[:, ::1] X, const floating[:, ::1] Y,
                 const floating[:, ::1] sample_weight, object order, object rng, object on,
                 object loss_sum, object steps, object epoch_losses, object lane_epochs,
                 Py_ssize_t position, bint shuffle_rows, Py_ssize_t max_steps,
                 bint interruptible):
    """Per-sample SGD (batches of one sample; plain, momentum or Nesterov, with l2 and alpha)
    of many members of one small network in lockstep, epoch after epoch, all inside this
    call (see lockstep.pxi).

    model: two weight layers, fewer than LOCKSTEP_INPUTS inputs, hidden and output widths at
    most LOCKSTEP_WIDTH; any activation, output and loss. params (n_params x lanes, lanes a
    multiple of LOCKSTEP_LANES): member k's parameters in column k, updated in place;
    velocity: the same shape, member k's SGD velocity (used and updated where momentum[k] is
    not 0), or an array of 0 rows when no member has momentum. Per member (row or element
    k): lr, momentum (as the optimiser casts them to the dtype; nesterov for all), l2 and
    alpha (float64: the weights' decay is <dtype>(l2 + alpha / w), w the sample's weight, and
    alpha adds 0.5 * alpha * sum(W**2) / w to the sample's loss, as train), sample_weight
    (lanes x n_rows), order (lanes x n_rows, its epoch's row order; shuffled at each epoch's
    start when shuffle_rows, with its generator rng[k], 4 words), on (1: training; 0, 2 or 3:
    frozen, untouched; set here to 3 when a pre-activation of a member's step overflowed the
    dtype, as train's STATUS_OVERFLOWED, else to 2 when its step would make a parameter,
    velocity or its loss non-finite, as STATUS_DIVERGED: that step is not applied and the
    member is frozen), loss_sum (its loss so far in the epoch under way), steps (its steps
    applied, counted up). The members share `position`, the index into their orders of the
    next step's sample. A sample of weight 0 takes no step, as in train.
    Runs until epoch_losses.shape[1] epochs complete or max_steps steps ran. Each member
    training at an epoch's end gets the epoch's mean sample loss in epoch_losses[k, e],
    e = lane_epochs[k], then lane_epochs[k] += 1 (lane_epochs is set to 0 first).
    Returns (status, steps run, epochs completed, position): status STATUS_OK or
    STATUS_INTERRUPTED (interruptible: SIGINT, as in train)."""
    cdef object dtype = dtype_of(<floating>0)
    cdef floating[:, ::1] p = writable(params, "params", dtype)
    cdef floating[:, ::1] vel = writable(velocity, "velocity", dtype)
    cdef Py_ssize_t[:, ::1] ord_ = writable(order, "order", np.intp)
    cdef uint64_t[:, ::1] r = writable(rng, "rng", np.uint64)
    cdef unsigned char[::1] live = writable(on, "on", np.uint8)
    cdef double[::1] sums = writable(loss_sum, "loss_sum", np.float64)
    cdef long long[::1] st = writable(steps, "steps", np.int64)
    cdef double[:, ::1] losses = writable(epoch_losses, "epoch_losses", np.float64)
    cdef long long[::1] done_per = writable(lane_epochs, "lane_epochs", np.int64)
    cdef const Net* net = &model.net
    cdef Py_ssize_t lanes = p.shape[1], n = X.shape[0], n_in = net.sizes[0], n_out, n_hid
    cdef Py_ssize_t i, k, ran = 0, done = 0, max_epochs = losses.shape[1]
    cdef bint any_momentum = False, any_alpha = False
    if net.n_layers != 2 or n_in >= LOCKSTEP_INPUTS or net.sizes[1] > SMALL_WIDTH or \
            net.sizes[2] > SMALL_WIDTH:
        raise ValueError(f"lockstep_sgd takes two weight layers, fewer than {LOCKSTEP_INPUTS} "
                         f"inputs and hidden and output widths at most {SMALL_WIDTH}; got "
                         f"{model.sizes.tolist()}")
    n_hid = net.sizes[1]
    n_out = net.sizes[2]
    if lanes < LANES or lanes % LANES:
        raise ValueError(f"params needs a multiple of {LANES} columns, got {lanes}")
    check_rows("params", p.shape[0], lanes, net.n_params, lanes)
    if n < 1:
        raise ValueError("X needs at least one row")
    check_rows("X", X.shape[0], X.shape[1], n, n_in)
    check_rows("Y", Y.shape[0], Y.shape[1], n, n_out)
    for name, length in (("lr", lr.shape[0]), ("momentum", momentum.shape[0]),
                         ("l2", l2.shape[0]), ("alpha", alpha.shape[0])):
        check_length(name, length, lanes)
    for k in range(lanes):
        if not (lr[k] >= 0 and l2[k] >= 0 and alpha[k] >= 0 and 0 <= momentum[k] <= 1):
            raise ValueError(f"member {k}: lr, l2 and alpha must be >= 0 and momentum in "
                             "[0, 1]")
        any_momentum = any_momentum or momentum[k] != 0
        any_alpha = any_alpha or alpha[k] != 0
    if any_momentum:
        check_rows("velocity", vel.shape[0], vel.shape[1], net.n_params, lanes)
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

    # the work buffers: chunked parameters and velocities (64-byte aligned), the transposed
    # order and its weights, the decay without alpha
    cdef Py_ssize_t size = net.n_params * lanes
    cdef floating[::1] qbuf = np.empty(size + 64, dtype)
    cdef floating[::1] vbuf = np.empty(size + 64 if any_momentum else 1, dtype)
    cdef Py_ssize_t[::1] rows_t = np.empty(n * lanes, np.intp)
    cdef floating[::1] wt = np.empty(n * lanes, dtype)
    cdef floating[::1] fixed_decay = np.asarray(l2).astype(dtype)
    cdef LaneJob job
    job.n_in = n_in
    job.n_rows = n
    job.lanes = lanes
    job.n_params = net.n_params
    job.mode = (LANE_NESTEROV if nesterov else LANE_MOMENTUM) if any_momentum else LANE_PLAIN
    job.any_alpha = any_alpha
    job.q = aligned_base(&qbuf[0])
    job.vel = aligned_base(&vbuf[0]) if any_momentum else NULL
    job.x = &X[0, 0]
    job.y = &Y[0, 0]
    job.lr = &lr[0]
    job.momentum = &momentum[0]
    job.decay = &fixed_decay[0]
    job.l2 = &l2[0]
    job.alpha = &alpha[0]
    job.sample_weight = &sample_weight[0, 0]
    job.wt = &wt[0]
    job.rows = &ord_[0, 0]
    job.rows_t = &rows_t[0]
    job.rng = &r[0, 0]
    job.live = &live[0]
    job.sums = &sums[0]
    job.steps = &st[0]
    job.losses = &losses[0, 0] if max_epochs else NULL
    job.lane_epochs = &done_per[0]
    job.max_epochs = max_epochs
    job.max_steps = max_steps
    job.position = position
    job.shuffle_rows = shuffle_rows
    job.interruptible = interruptible
    cdef int status = OK
    cdef bint caught = nn_catch_sigint() if interruptible else 0
    try:
        with nogil:
            to_chunks(&p[0, 0], <floating*>job.q, net.n_params, lanes)
            if any_momentum:
                to_chunks(&vel[0, 0], <floating*>job.vel, net.n_params, lanes)
            status = lanes_run_for(net, &job, <floating*>NULL, &ran, &done)
            from_chunks(<floating*>job.q, &p[0, 0], net.n_params, lanes)
            if any_momentum:
                from_chunks(<floating*>job.vel, &vel[0, 0], net.n_params, lanes)
    finally:
        if caught:
            nn_release_sigint()
    return status, ran, done, job.position
