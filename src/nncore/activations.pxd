# Activations and losses, element by element: inline, nogil, vectorisable (no libm exp call).
from cython cimport floating
from libc.math cimport log1p, log

cdef extern from "nn_math.h" nogil:
    double nn_exp_neg(double x)    # exp(x) for x <= 0, vectorisable, a few ulp
    float nn_expf_neg(float x)     # the same in float
    unsigned long long nn_nonfinite(double x)  # 1 if x is inf or NaN (a bit test)
    unsigned int nn_nonfinitef(float x)        # the same in float


# Output activation and loss of a network, chosen together.
cdef enum:
    MSE = 0           # sigmoid output, 0.5 * squared error (the post's)
    BCE = 1           # sigmoid output, binary cross-entropy
    SOFTMAX_CE = 2    # softmax output, categorical cross-entropy


# exp(x) for x <= 0 in the precision of x.
cdef inline floating exp_neg(floating x) noexcept nogil:
    if floating is float:
        return nn_expf_neg(x)
    else:
        return nn_exp_neg(x)


# 1 if x is inf or NaN, else 0; OR-reductions of it vectorise.
cdef inline unsigned int nonfinite(floating x) noexcept nogil:
    if floating is float:
        return nn_nonfinitef(x)
    else:
        return <unsigned int>nn_nonfinite(x)


# 1/(1+exp(-x)) computed from exp(-|x|), so no overflow for any x (1e300 included).
cdef inline floating sigmoid(floating x) noexcept nogil:
    cdef floating e = exp_neg(-x if x > 0 else x)
    cdef floating s = 1 / (1 + e)
    return s if x >= 0 else e * s


# Sigmoid in place over n contiguous values.
cdef inline void sigmoid_inplace(floating* z, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        z[i] = sigmoid(z[i])


# Softmax in place over each of `rows` rows of `n` contiguous values (max subtracted first).
cdef inline void softmax_rows(floating* z, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef floating zmax, total
    cdef floating* row
    for r in range(rows):
        row = z + r * n
        zmax = row[0]
        for j in range(1, n):
            zmax = row[j] if row[j] > zmax else zmax
        total = 0
        for j in range(n):
            row[j] = exp_neg(row[j] - zmax)
            total = total + row[j]
        for j in range(n):
            row[j] = row[j] / total


# log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|)).
cdef inline double softplus(double z) noexcept nogil:
    return (z if z > 0 else 0.0) + log1p(nn_exp_neg(-z if z > 0 else z))


# Per-sample loss of one output row (n values): a = activations, z = pre-activations, y = target.
#   MSE: 0.5 * sum (a - y)^2;  BCE: sum softplus(z) - y*z (from z: stable);
#   SOFTMAX_CE: sum y * (logsumexp(z) - z)
cdef inline double row_loss(int kind, const floating* a, const floating* z, const floating* y,
                            Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0, d, zmax, lse
    if kind == MSE:
        for j in range(n):
            d = <double>a[j] - <double>y[j]
            total += d * d
        return 0.5 * total
    if kind == BCE:
        for j in range(n):
            total += softplus(z[j]) - <double>y[j] * <double>z[j]
        return total
    zmax = z[0]
    for j in range(1, n):
        zmax = z[j] if z[j] > zmax else zmax
    lse = 0
    for j in range(n):
        lse += nn_exp_neg(<double>z[j] - zmax)
    lse = zmax + log(lse)
    for j in range(n):
        total += <double>y[j] * (lse - <double>z[j])
    return total


# Output delta dLoss/dz of one row into d (n values).
#   MSE: (a - y) * a * (1 - a);  BCE: a - y;  SOFTMAX_CE: a * sum(y) - y (a - y for one-hot y).
cdef inline void row_output_delta(int kind, const floating* a, const floating* y, floating* d,
                                  Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating ysum = 0
    if kind == MSE:
        for j in range(n):
            d[j] = (a[j] - y[j]) * a[j] * (1 - a[j])
    elif kind == BCE:
        for j in range(n):
            d[j] = a[j] - y[j]
    else:
        for j in range(n):
            ysum = ysum + y[j]
        for j in range(n):
            d[j] = a[j] * ysum - y[j]
