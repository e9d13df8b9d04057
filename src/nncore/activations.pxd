# Activations: inline, nogil, vectorisable (no libm exp call in an element loop).
#
# Each activation is one scalar function and its derivative, the derivative taken from the
# activation's value a = f(z) (backprop keeps the activations, not the pre-activations). The
# layer helpers below (activate, times_derivative) branch on the activation once per layer and
# run a plain loop of the scalar function inside, which the compiler vectorises; `activation`
# is the scalar switch for the per-sample path. A new activation: a code, its two functions,
# and one line in each of the three switches; then its ACT_ name in _core.pyx's exports, a row
# in nnpy/_model.py and its two functions in nnpy/reference.py.
from cython cimport floating
from libc.math cimport log1p, fabs, fabsf

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
    double nn_tanh(double x)       # tanh(x) from expm1(-2|x|), branchless, always inlined
    float nn_tanhf(float x)
    double nn_sigmoid_derivative(double a)   # a*(1 - a)
    float nn_sigmoid_derivativef(float a)
    double nn_tanh_derivative(double a)      # (1 - a)*(1 + a)
    float nn_tanh_derivativef(float a)


# Activation codes (nnpy._model maps the names onto them).
cdef enum:
    SIGMOID = 0       # 1/(1+exp(-z))
    TANH = 1          # tanh(z)
    RELU = 2          # max(z, 0)
    IDENTITY = 3      # z
    SOFTMAX = 4       # exp(z_k)/sum_j exp(z_j) over a row: outputs only
    N_ACTIVATIONS = 5

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


# ---- the activations: each a function of z and a derivative from a = f(z) -------------------
# The arithmetic is nn_math.h's, in C: Cython would write a literal 1 in `1 - a` as the double
# 1.0 and compute float code in double, differently from the C the per-sample kernels inline.

# 1/(1+exp(-x)) computed from exp(-|x|): no overflow for any x (1e300 included), no branch (the
# per-sample path's signs change from sample to sample), a few ulp over the whole range.
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


# tanh(x) = sign(x) * -m/(2 + m) with m = expm1(-2|x|): no overflow, no branch, a few ulp
# (relative) over the whole range, small and subnormal x included.
cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return nn_tanhf(x)
    else:
        return nn_tanh(x)

# 1 - a*a as (1 - a)*(1 + a): no cancellation as |a| nears 1.
cdef inline floating tanh_derivative(floating a) noexcept nogil:
    if floating is float:
        return nn_tanh_derivativef(a)
    else:
        return nn_tanh_derivative(a)


# max(x, 0); NaN stays NaN (so a non-finite value is not hidden).
cdef inline floating relu(floating x) noexcept nogil:
    return 0 if x <= 0 else x

cdef inline floating relu_derivative(floating a) noexcept nogil:
    return 1 if a > 0 else 0


# ---- the switches: once per layer (or per element on the per-sample path) -------------------

# f(z) for an elementwise activation (not SOFTMAX).
cdef inline floating activation(int kind, floating z) noexcept nogil:
    if kind == SIGMOID:
        return sigmoid(z)
    if kind == TANH:
        return tanh_(z)
    if kind == RELU:
        return relu(z)
    return z


# f'(z) from a = f(z), for an elementwise activation.
cdef inline floating derivative(int kind, floating a) noexcept nogil:
    if kind == SIGMOID:
        return sigmoid_derivative(a)
    if kind == TANH:
        return tanh_derivative(a)
    if kind == RELU:
        return relu_derivative(a)
    return 1


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
    cdef Py_ssize_t i
    if kind == SIGMOID:
        for i in range(rows * n):
            z[i] = sigmoid(z[i])
    elif kind == TANH:
        for i in range(rows * n):
            z[i] = tanh_(z[i])
    elif kind == RELU:
        for i in range(rows * n):
            z[i] = relu(z[i])
    elif kind == SOFTMAX:
        softmax_rows(z, rows, n)


# d *= f'(z) over n values, f'(z) from the activations a = f(z) (an elementwise activation).
cdef inline void times_derivative(int kind, floating* d, const floating* a,
                                  Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if kind == SIGMOID:
        for i in range(n):
            d[i] = d[i] * sigmoid_derivative(a[i])
    elif kind == TANH:
        for i in range(n):
            d[i] = d[i] * tanh_derivative(a[i])
    elif kind == RELU:
        for i in range(n):
            d[i] = d[i] * relu_derivative(a[i])
