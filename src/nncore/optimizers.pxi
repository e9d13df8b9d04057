# Optimisers: an optimiser's settings and step count (Optimizer), and one step of SGD (plain,
# momentum, Nesterov) or Adam over the flat parameters, checked before it is applied.
# Included in _core.pyx.

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
            total = nn_muladd(params[i], params[i], total)   # rounded alike in every caller
        start += n_weights + net.sizes[l + 1]
    return total
