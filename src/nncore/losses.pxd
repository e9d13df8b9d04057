# Losses: the value of one sample's loss and its output delta dLoss/dz, inline and nogil, for
# the batched path (accumulate_gradients) and the per-sample ones (sample_gradients, small_step)
# alike (the exp output the poisson loss pairs with is an activation of activation_kinds.tp).
#
# Per sample, summed over the n outputs (the mean, or weighted mean, over samples is the
# caller's). A new loss: a code here, a branch in row_loss and row_output_delta, the pairs it
# trains with in model.pxi's Model, its LOSS_ name in _core.pyx's exports, and its row in
# python/nnpy/_losses.py (the recipe in full is there).
from cython cimport floating
from libc.math cimport log, log1p, exp, expf

cdef extern from "nn_math.h" nogil:
    double nn_muladd(double a, double b, double c)

from activations cimport nn_exp_neg, times_derivative, activate
from activation_kinds cimport activation, SOFTMAX


# Loss codes.
cdef enum:
    MSE = 0             # 0.5 * sum (a - y)^2
    CROSS_ENTROPY = 1   # with a sigmoid output: binary; with softmax: categorical
    ABSOLUTE_ERROR = 2  # sum |a - y|
    HUBER = 3           # sum of 0.5*d^2 (|d| <= delta), else delta*(|d| - 0.5*delta); d = a - y
    POISSON = 4         # half the Poisson deviance of an exp output: sum a - y*z + y*log(y) - y
    N_LOSSES = 5

# ---- cross-entropy ----------------------------------------------------------------------------

# Binary cross-entropy of a sigmoid output from its pre-activation z, target y:
# softplus(z) - y*z, arranged so that no large terms cancel: for z > 0 it is
# (1-y)*z + log1p(exp(-z)), else -y*z + log1p(exp(z)). A confidently right output (y = 1,
# z = 30) keeps full relative precision (9.357623e-14), where softplus(z) - z would give 0.
cdef inline double binary_cross_entropy(double z, double y) noexcept nogil:
    if z > 0:
        return (1 - y) * z + log1p(nn_exp_neg(-z))
    return -y * z + log1p(nn_exp_neg(z))


# Categorical cross-entropy of a softmax output from its pre-activations z (n values), target y:
# sum_k y_k * (logsumexp(z) - z_k), with logsumexp(z) - z_k = (m - z_k) + log1p(s), where m = z_i
# is the largest and s = sum_{j != i} exp(z_j - m): no cancellation for the right class.
cdef inline double categorical_cross_entropy(const floating* z, const floating* y,
                                             Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j, top = 0
    cdef double m, rest = 0, log_rest, total = 0
    for j in range(1, n):
        top = j if z[j] > z[top] else top
    m = z[top]
    for j in range(n):
        if j != top:
            rest += nn_exp_neg(<double>z[j] - m)
    log_rest = log1p(rest)
    for j in range(n):
        # a class of target 0 adds nothing, also where m - z_j overflows to inf (float64
        # logits of opposite sign near the limit), whose product with 0 would be NaN
        total += <double>y[j] * ((m - <double>z[j]) + log_rest) if y[j] != 0 else 0
    return total


# ---- regression -------------------------------------------------------------------------------

# Huber's loss of the difference d = a - y: quadratic within delta of 0, linear beyond.
cdef inline double huber(double d, double delta) noexcept nogil:
    cdef double size = d if d >= 0 else -d
    if size <= delta:
        return 0.5 * d * d
    return delta * (size - 0.5 * delta)


# Half the Poisson deviance of the mean a = exp(z) for a count y >= 0:
# a - y*z + y*log(y) - y (scikit-learn's poisson_loss, 0 where a = y), as (a - y) + y*(log(y) - z)
# so that the terms near a = y are small, not large ones that cancel; y = 0 gives a.
cdef inline double half_poisson_deviance(double a, double z, double y) noexcept nogil:
    if y > 0:
        return (a - y) + y * (log(y) - z)
    return a


# The sign of x: -1, 0 or 1 (0 at 0, where |x| has no derivative: torch's L1Loss's choice).
cdef inline floating sign(floating x) noexcept nogil:
    return (x > 0) - (x < 0)


# d clipped to [-delta, delta]: the derivative of huber(d, delta).
cdef inline floating clip(floating d, floating delta) noexcept nogil:
    if d > delta:
        return delta
    if d < -delta:
        return -delta
    return d


# ---- one sample -------------------------------------------------------------------------------

# Loss of one sample from its output row (n values): a = activations, z = pre-activations,
# y = target, huber_delta = HUBER's delta (unused by the others). Summed over the outputs:
# MSE 0.5 * sum (a - y)^2; CROSS_ENTROPY binary (sigmoid output) or categorical (softmax), from
# z; ABSOLUTE_ERROR sum |a - y|; HUBER sum huber(a - y); POISSON sum half_poisson_deviance.
cdef inline double row_loss(int output, int loss, double huber_delta, const floating* a,
                            const floating* z, const floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0, d
    if loss == MSE:
        for j in range(n):
            d = <double>a[j] - <double>y[j]
            total = nn_muladd(d, d, total)   # as lockstep.pxi's lanes add it
        return 0.5 * total
    if loss == ABSOLUTE_ERROR:
        for j in range(n):
            d = <double>a[j] - <double>y[j]
            total += d if d >= 0 else -d
        return total
    if loss == HUBER:
        for j in range(n):
            total += huber(<double>a[j] - <double>y[j], huber_delta)
        return total
    if loss == POISSON:
        for j in range(n):
            total += half_poisson_deviance(a[j], z[j], y[j])
        return total
    if output == SOFTMAX:
        return categorical_cross_entropy(z, y, n)
    for j in range(n):
        total += binary_cross_entropy(z[j], y[j])
    return total


# Output delta dLoss/dz of one sample, times `weight`, into d (n values), f' the output
# activation's derivative:
#   MSE: (a - y) * f'(z);  ABSOLUTE_ERROR: sign(a - y) * f'(z);  HUBER: clip(a - y) * f'(z);
#   CROSS_ENTROPY: a - y (sigmoid), a * sum(y) - y (softmax; a - y for one-hot y);
#   POISSON (exp output): a - y.
cdef inline void row_output_delta(int output, int loss, double huber_delta, const floating* a,
                                  const floating* y, floating weight, floating* d,
                                  Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating ysum = 0, limit = <floating>huber_delta
    if output == SOFTMAX:
        for j in range(n):
            ysum = ysum + y[j]
        for j in range(n):
            d[j] = weight * (a[j] * ysum - y[j])
        return
    if loss == ABSOLUTE_ERROR:
        for j in range(n):
            d[j] = weight * sign(a[j] - y[j])
    elif loss == HUBER:
        for j in range(n):
            d[j] = weight * clip(a[j] - y[j], limit)
    else:
        for j in range(n):
            d[j] = weight * (a[j] - y[j])
    if loss != CROSS_ENTROPY and loss != POISSON:
        times_derivative(output, d, a, n)
