# Activations: inline, nogil, vectorisable (no libm exp call in an element loop).
#
# The activation codes and the switches on them (activation, derivative_at, activate_values,
# times_derivative_at, needs_z) are generated at build time from the one list in
# activation_kinds.tp (see there for what a new activation takes); the scalar functions are
# nn_math.h's, in C. Here: the helpers around them (softmax over rows, the layer-wide activate,
# the overflow test). The losses are in losses.pxd.
from cython cimport floating
from libc.math cimport log1p, fabs, fabsf
from activation_kinds cimport (activation, derivative_at, activate_values, times_derivative_at,
                               needs_z, SIGMOID, TANH, RELU, IDENTITY, SOFTMAX, N_ACTIVATIONS)

cdef extern from "nn_math.h" nogil:
    double nn_exp_neg(double x)    # exp(x) for x <= 0, vectorisable, a few ulp
    float nn_expf_neg(float x)     # the same in float
    double nn_exp_diff(double z, double m)   # exp(z - m) for z <= m, from the exact difference
    float nn_expf_diff(float z, float m)
    unsigned long long nn_nonfinite(double x)  # 1 if x is inf or NaN (a bit test)
    unsigned int nn_nonfinitef(float x)        # the same in float
    double nn_if_negative(double x, double a, double b)  # x < 0 ? b : a, without a branch
    float nn_if_negativef(float x, float a, float b)     # the same in float
    double nn_sigmoid(double x)    # 1/(1+exp(-x)), branchless, always inlined
    float nn_sigmoidf(float x)
    double nn_sigmoid_derivative(double a)   # a*(1 - a)
    float nn_sigmoid_derivativef(float a)


# exp(x) for x <= 0 in the precision of x.
cdef inline floating exp_neg(floating x) noexcept nogil:
    if floating is float:
        return nn_expf_neg(x)
    else:
        return nn_exp_neg(x)


# exp(z - m) for z <= m in the precision of z, as if z - m were not rounded.
cdef inline floating exp_diff(floating z, floating m) noexcept nogil:
    if floating is float:
        return nn_expf_diff(z, m)
    else:
        return nn_exp_diff(z, m)


# 1 if x is inf or NaN, else 0; OR-reductions of it vectorise.
cdef inline unsigned int nonfinite(floating x) noexcept nogil:
    if floating is float:
        return nn_nonfinitef(x)
    else:
        return <unsigned int>nn_nonfinite(x)


# 1/(1+exp(-x)) computed from exp(-|x|) (nn_math.h's): no overflow for any x, no branch, a few
# ulp over the whole range. For the post's kernels, which call it by name.
cdef inline floating sigmoid(floating x) noexcept nogil:
    if floating is float:
        return nn_sigmoidf(x)
    else:
        return nn_sigmoid(x)

cdef inline floating sigmoid_derivative(floating a) noexcept nogil:
    if floating is float:
        return nn_sigmoid_derivativef(a)
    else:
        return nn_sigmoid_derivative(a)


# Softmax in place over each of `rows` rows of `n` contiguous values (max subtracted first, so
# finite values of any size give the right answer: z - max may be -inf, whose exp is 0). For a
# row holding inf (pre-activations that overflowed) the limit is unknowable: the callers test
# for that (any_nonfinite) and refuse the result.
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
            row[j] = exp_diff(row[j], zmax)  # z - zmax's rounding would cost |z - zmax| ulp
            total = total + row[j]
        for j in range(n):
            row[j] = row[j] / total


# 1 if one of the n values is inf or NaN, else 0. Of pre-activations (from finite inputs and
# parameters): the arithmetic overflowed the dtype. A loop of its own: inside the activation's
# loop the test kept gcc from vectorising the sigmoid.
cdef inline unsigned int any_nonfinite(const floating* z, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int bad = 0
    for i in range(n):
        bad |= nonfinite(z[i])
    return bad


# The activation in place over `rows` rows of `n` contiguous pre-activations.
cdef inline void activate(int kind, floating* z, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    if kind == SOFTMAX:
        softmax_rows(z, rows, n)
    else:
        activate_values(kind, z, rows * n)


# d *= f'(z) over n values of an output layer, f'(z) from its activations a = f(z) (an
# output's derivative is never taken from z).
cdef inline void times_derivative(int kind, floating* d, const floating* a,
                                  Py_ssize_t n) noexcept nogil:
    times_derivative_at(kind, d, a, a, n)
