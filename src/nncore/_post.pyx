"""The post's forwardPass and backPropogation, compiled.

The post calls these once per sample, so what costs is not the arithmetic (a few dozen
multiply-adds) but everything around it. Here the dict walking, the checks and the arithmetic
are C. Anything out of the ordinary (a list for x, an int array in theta, a missing key, a
wrong shape) is handed to nnpy.post's Python versions, which accept what can be accepted and
raise the clear errors. So do arrays backPropogation would write into but must not (read-only,
such as a memory map opened with mode "r", or self-overlapping, such as a broadcast view): the
Python path refuses them by key before anything is written. The arithmetic is that of
nnpy.post's Python path, operation for operation.

Each step leaves new dicts of new arrays in params["forwardPass"], params["deltas"] and
params["d_theta"]: making them is most of a step's cost. When the dict a step is about to
replace is exactly as the previous compiled step left it and nothing but params holds it or
any of its arrays (reference counts; no weak references, views or buffers of them; no changed
flag, shape, strides or dtype), the step writes its new values into those arrays instead of
making new ones: no code can tell the difference, as no code can reach the old objects. Anything
a user kept (the dict, an array, a view, a weak reference) makes the step build new objects,
and what the user holds keeps its values.
"""
import sys

cimport numpy as cnp
from cpython.object cimport PyObject
from libc.math cimport isfinite

from activations cimport sigmoid

cnp.import_array()

cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object d, object key)   # borrowed; NULL: missing or error
    PyObject* PyErr_Occurred()
    bint PyDict_Next(object d, Py_ssize_t* pos, PyObject** key, PyObject** value)
    Py_ssize_t PyDict_GET_SIZE(object d)
    Py_ssize_t Py_REFCNT(PyObject* o)
    void* Py_TYPE(PyObject* o)
    void Py_INCREF(PyObject* o)
    void Py_DECREF(PyObject* o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    bint PyLong_CheckExact(PyObject* o)
    bint PyDict_CheckExact(PyObject* o)

cdef extern from "numpy/arrayobject.h":
    # the fields of an ndarray that its reuse depends on
    ctypedef struct PyArrayObject_fields:
        char* data
        int nd
        cnp.npy_intp* dimensions
        cnp.npy_intp* strides
        PyObject* base
        void* descr
        int flags
        PyObject* weakreflist

cdef extern from *:
    """
    /* Reference counts tell who holds an object only with the GIL: no reuse without it. */
    #ifdef Py_GIL_DISABLED
    #define NNPY_POST_REUSE 0
    #else
    #define NNPY_POST_REUSE 1
    #endif
    """
    bint NNPY_POST_REUSE

cdef enum:
    MAX_LAYERS = 32   # deeper dict networks take the Python path

# The keys, made once and interned: init_net's keys are the same objects, so a lookup finds
# them without comparing characters, and a dict this module made is recognised by its keys
# being these very objects.
cdef list W_KEYS = [sys.intern("W_%d" % l) for l in range(MAX_LAYERS)]
cdef list B_KEYS = [sys.intern("B_%d" % l) for l in range(MAX_LAYERS)]
cdef list Z_KEYS = [sys.intern("Z_%d" % l) for l in range(MAX_LAYERS)]
cdef list A_KEYS = [sys.intern("A_%d" % l) for l in range(MAX_LAYERS)]
cdef list PREV_KEYS = [sys.intern("A_prev%d" % l) for l in range(MAX_LAYERS)]
cdef list DELTA_KEYS = [sys.intern("delta_%d" % l) for l in range(MAX_LAYERS)]
cdef list DTHETA_KEYS = [sys.intern("d_theta_%d" % l) for l in range(MAX_LAYERS)]
cdef str ERROR_KEY = sys.intern("error")
cdef PyObject* THETA_ORDER[2 * MAX_LAYERS]        # W_0, B_0, W_1, ...: init_net's order
cdef PyObject* FORWARD_ORDER[3 * MAX_LAYERS]      # A_prev0, Z_0, A_0, A_prev1, ...: forwardPass's
for _l in range(MAX_LAYERS):
    THETA_ORDER[2 * _l] = <PyObject*>W_KEYS[_l]
    THETA_ORDER[2 * _l + 1] = <PyObject*>B_KEYS[_l]
    FORWARD_ORDER[3 * _l] = <PyObject*>PREV_KEYS[_l]
    FORWARD_ORDER[3 * _l + 1] = <PyObject*>Z_KEYS[_l]
    FORWARD_ORDER[3 * _l + 2] = <PyObject*>A_KEYS[_l]

cdef object FLOAT64_DTYPE = cnp.PyArray_DescrFromType(cnp.NPY_DOUBLE)  # numpy's float64
cdef void* FLOAT64 = <void*>FLOAT64_DTYPE
cdef int NEW_FLAGS = (cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_OWNDATA | cnp.NPY_ARRAY_ALIGNED
                      | cnp.NPY_ARRAY_WRITEABLE)   # new_matrix's, but F_CONTIGUOUS (by shape)


class _Irregular(Exception):
    """Raised inside this module when the input needs the Python path."""


# d[k], borrowed, or NULL when d has no k (an exception from a key's __eq__ propagates).
cdef PyObject* entry(dict d, object k) except *:
    return PyDict_GetItemWithError(d, k)


# d[k], borrowed; _Irregular when d has no k.
cdef PyObject* item(dict d, object k) except NULL:
    cdef PyObject* v = entry(d, k)
    if v == NULL:
        raise _Irregular
    return v


# Holds a reference to obj until release(): what a step reads or writes stays alive whatever
# Python code the step runs (a key's __eq__, a finaliser the allocations trigger, debug prints).
cdef inline PyObject* hold(PyObject* obj, PyObject** held, Py_ssize_t* n_held) noexcept:
    Py_INCREF(obj)
    held[n_held[0]] = obj
    n_held[0] += 1
    return obj


cdef inline void release(PyObject** held, Py_ssize_t n_held) noexcept:
    cdef Py_ssize_t i
    for i in range(n_held):
        Py_DECREF(held[i])


# A size in params["metadata"]: a positive int up to 2**40 (larger sizes take the Python path,
# which says what is wrong; no array is that wide).
cdef Py_ssize_t size_of(PyObject* v) except -1:
    cdef int overflow = 0
    cdef long long n
    if not PyLong_CheckExact(v):
        raise _Irregular
    n = PyLong_AsLongLongAndOverflow(<object>v, &overflow)
    if overflow or n <= 0 or n > (<long long>1 << 40):
        raise _Irregular
    return <Py_ssize_t>n


# The network in a post dict: its theta, and its metadata (borrowed) and (n_layers, input width,
# output width) through the pointers; _Irregular if anything is odd.
cdef dict network(object params, PyObject** metadata, Py_ssize_t* n_layers, Py_ssize_t* n_in,
                  Py_ssize_t* n_out):
    if type(params) is not dict:
        raise _Irregular
    meta = <object>item(<dict>params, "metadata")
    theta = <object>item(<dict>params, "theta")
    if type(meta) is not dict or type(theta) is not dict:
        raise _Irregular
    metadata[0] = <PyObject*>meta
    n_layers[0] = size_of(item(<dict>meta, "n_layers"))
    n_in[0] = size_of(item(<dict>meta, "inputSize"))
    n_out[0] = size_of(item(<dict>meta, "outputSize"))
    if n_layers[0] > MAX_LAYERS:
        raise _Irregular
    return <dict>theta


# A matrix of float64: its data and its strides in elements.
cdef struct Mat:
    double* data
    Py_ssize_t rows, cols, rs, cs


# Whether two elements of m share memory: i*rs == j*cs for some |i| < rows, |j| < cols other
# than (0, 0). Exact: with g = gcd(|rs|, |cs|) the smallest such pair is (|cs|/g, |rs|/g).
cdef bint overlaps(Mat m) noexcept:
    cdef Py_ssize_t a = m.rs if m.rs >= 0 else -m.rs
    cdef Py_ssize_t b = m.cs if m.cs >= 0 else -m.cs
    cdef Py_ssize_t x = a, y = b, t
    if m.rows <= 1 or m.cols <= 1:
        return (m.rows > 1 and a == 0) or (m.cols > 1 and b == 0)
    if a == 0 or b == 0:
        return True
    while y:
        x, y = y, x % y
    return b // x < m.rows and a // x < m.cols


def overlaps_itself(cnp.ndarray arr):
    """Whether a 2-D float64 array has elements that share memory (a broadcast or
    as_strided view): writing one would change another."""
    cdef Mat m
    m.rows, m.cols = cnp.PyArray_DIM(arr, 0), cnp.PyArray_DIM(arr, 1)
    m.rs, m.cs = cnp.PyArray_STRIDE(arr, 0) // 8, cnp.PyArray_STRIDE(arr, 1) // 8
    return overlaps(m)


# `obj` as a Mat, if it is an aligned float64 array of shape (rows, cols), and when `written`
# also writeable without one element aliasing another; else _Irregular.
cdef Mat as_mat(PyObject* obj, Py_ssize_t rows, Py_ssize_t cols, bint written=False) except *:
    cdef cnp.ndarray arr
    cdef Mat m
    if Py_TYPE(obj) != <void*>cnp.ndarray and not isinstance(<object>obj, cnp.ndarray):
        raise _Irregular
    arr = <cnp.ndarray><object>obj
    if (cnp.PyArray_TYPE(arr) != cnp.NPY_DOUBLE or cnp.PyArray_NDIM(arr) != 2
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or cnp.PyArray_DIM(arr, 0) != rows or cnp.PyArray_DIM(arr, 1) != cols):
        raise _Irregular
    m.data = <double*>cnp.PyArray_DATA(arr)
    m.rows, m.cols = rows, cols
    m.rs = cnp.PyArray_STRIDE(arr, 0) // 8
    m.cs = cnp.PyArray_STRIDE(arr, 1) // 8
    if written and (not cnp.PyArray_ISWRITEABLE(arr) or overlaps(m)):
        raise _Irregular
    return m


cdef inline cnp.ndarray new_matrix(Py_ssize_t rows, Py_ssize_t cols):
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = cols
    return cnp.PyArray_EMPTY(2, dims, cnp.NPY_DOUBLE, 0)


# The data of `obj` (borrowed from a dict this step replaces) if the step may overwrite it
# instead of making a new array without anyone seeing: `refs` references hold it (the dict's
# entries), no weak reference, and every attribute as new_matrix(rows, cols) makes it
# (ndarray, float64, C order, owning its data, writeable, aligned, no base); else NULL.
cdef double* unseen_array(PyObject* obj, Py_ssize_t rows, Py_ssize_t cols,
                          Py_ssize_t refs) noexcept:
    cdef PyArrayObject_fields* a = <PyArrayObject_fields*>obj
    if (Py_REFCNT(obj) != refs or Py_TYPE(obj) != <void*>cnp.ndarray
            or a.weakreflist != NULL or a.base != NULL or a.descr != FLOAT64 or a.nd != 2
            or a.dimensions[0] != rows or a.dimensions[1] != cols
            or a.strides[0] != 8 * cols or a.strides[1] != 8
            or (a.flags & ~cnp.NPY_ARRAY_F_CONTIGUOUS) != NEW_FLAGS):
        return NULL
    return <double*>a.data


# The next entry of dict d (from *pos) if its key is `k` itself; else NULL.
cdef inline PyObject* next_entry(object d, Py_ssize_t* pos, object k) noexcept:
    cdef PyObject* found_key
    cdef PyObject* value
    if not PyDict_Next(d, pos, &found_key, &value) or found_key != <PyObject*>k:
        return NULL
    return value


# Whether dict d holds just the keys keys[0..n) and then `last` (if not NULL), these very
# objects, in that order (as the function that made d stored them): then found[i] is
# d[keys[i]] (and found[n] is d[last]), borrowed: what lookups by key would give, for less.
cdef bint in_order(object d, PyObject** keys, Py_ssize_t n, PyObject* last,
                   PyObject** found) noexcept:
    cdef Py_ssize_t pos = 0, i
    cdef PyObject* k
    if PyDict_GET_SIZE(d) != n + (last != NULL):
        return False
    for i in range(n + (last != NULL)):
        if not PyDict_Next(d, &pos, &k, &found[i]) or k != (keys[i] if i < n else last):
            return False
    return True


# Whether dict d is as forwardPass stores it (A_prev<l>, Z_<l>, A_<l> per layer, then error):
# then found[3l], found[3l+1], found[3l+2] and found[3 n_layers] hold those values (borrowed).
cdef inline bint forward_entries(object d, Py_ssize_t n_layers, PyObject** found) noexcept:
    return in_order(d, FORWARD_ORDER, 3 * n_layers, <PyObject*>ERROR_KEY, found)


# The weights of theta, W_l in ws and B_l in bs, as Mats of the shapes the network's sizes
# give (as_mat; `written` for backPropogation's update) and held (hold); _Irregular if one is
# missing or odd.
cdef int weights(dict theta, Py_ssize_t n_layers, Py_ssize_t n_in, Py_ssize_t n_out,
                 bint written, Mat* ws, Mat* bs, PyObject** held,
                 Py_ssize_t* n_held) except -1:
    cdef PyObject* found[2 * MAX_LAYERS]
    cdef Py_ssize_t l, rows
    if not in_order(theta, THETA_ORDER, 2 * n_layers, NULL, found):  # init_net's order
        for l in range(n_layers):
            found[2 * l] = item(theta, W_KEYS[l])
            found[2 * l + 1] = item(theta, B_KEYS[l])
    for l in range(n_layers):
        rows = n_out if l == n_layers - 1 else n_in
        ws[l] = as_mat(hold(found[2 * l], held, n_held), rows, n_in, written)
        bs[l] = as_mat(hold(found[2 * l + 1], held, n_held), rows, 1, written)
    return 0


# Whether `d` (borrowed: params' entry), a dict of `n` entries, is held by params alone.
cdef inline bint unseen_dict(PyObject* d, Py_ssize_t n) noexcept:
    return (NNPY_POST_REUSE and d != NULL and PyDict_CheckExact(d) and Py_REFCNT(d) == 1
            and PyDict_GET_SIZE(<object>d) == n)


# Whether params["forwardPass"] (`forward`, borrowed) is as the last compiled forwardPass left
# it and seen by nobody (unseen_dict, unseen_array): then its arrays' data are in `prev0`
# (A_prev0), zs[l] (Z_l), acts[l] (A_l, also A_prev<l+1>) and `err` (error).
cdef bint unseen_forward(PyObject* forward, Py_ssize_t n_layers, Py_ssize_t n_in,
                         Py_ssize_t n_out, double** prev0, double** zs, double** acts,
                         double** err) noexcept:
    cdef PyObject* found[3 * MAX_LAYERS + 1]
    cdef Py_ssize_t l, rows
    if not (unseen_dict(forward, 3 * n_layers + 1)
            and forward_entries(<object>forward, n_layers, found)):
        return False
    prev0[0] = unseen_array(found[0], n_in, 1, 1)
    if prev0[0] == NULL:
        return False
    for l in range(n_layers):
        rows = n_out if l == n_layers - 1 else n_in
        if l > 0 and found[3 * l] != found[3 * l - 1]:  # A_prev<l> is A_<l-1>
            return False
        zs[l] = unseen_array(found[3 * l + 1], rows, 1, 1)
        acts[l] = unseen_array(found[3 * l + 2], rows, 1, 1 if l == n_layers - 1 else 2)
        if zs[l] == NULL or acts[l] == NULL:
            return False
    err[0] = unseen_array(found[3 * n_layers], n_out, 1, 1)
    return err[0] != NULL


# Whether params["deltas"] and params["d_theta"] (borrowed) are as the last compiled
# backPropogation left them and seen by nobody: then deltas[l] and d_thetas[l] hold the data of
# delta_<l> and d_theta_<l>.
cdef bint unseen_back(PyObject* deltas_dict, PyObject* d_theta_dict, Py_ssize_t n_layers,
                      Py_ssize_t n_in, Py_ssize_t n_out, double** deltas,
                      double** d_thetas) noexcept:
    cdef Py_ssize_t pos_delta = 0, pos_theta = 0, l, rows
    cdef PyObject* v
    if not (unseen_dict(deltas_dict, n_layers) and unseen_dict(d_theta_dict, n_layers)):
        return False
    for l in range(n_layers - 1, -1, -1):  # the order they were stored in
        rows = n_out if l == n_layers - 1 else n_in
        v = next_entry(<object>deltas_dict, &pos_delta, DELTA_KEYS[l])
        deltas[l] = NULL if v == NULL else unseen_array(v, rows, 1, 1)
        v = next_entry(<object>d_theta_dict, &pos_theta, DTHETA_KEYS[l])
        d_thetas[l] = NULL if v == NULL else unseen_array(v, rows, n_in, 1)
        if deltas[l] == NULL or d_thetas[l] == NULL:
            return False
    return True


# A sample's values: their address and numpy type number.
cdef struct Sample:
    char* data
    int kind


# x's n values, if x is an ndarray of float64 (finite), int64 or int32, 1-D or a row or column,
# contiguous; else _Irregular.
cdef Sample as_sample(object x, Py_ssize_t n) except *:
    cdef cnp.ndarray arr
    cdef Sample s
    cdef Py_ssize_t i
    if Py_TYPE(<PyObject*>x) != <void*>cnp.ndarray and not isinstance(x, cnp.ndarray):
        raise _Irregular
    arr = <cnp.ndarray>x
    if (cnp.PyArray_SIZE(arr) != n or cnp.PyArray_NDIM(arr) > 2
            or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISALIGNED(arr)
            or not cnp.PyArray_ISNOTSWAPPED(arr)):
        raise _Irregular
    if cnp.PyArray_NDIM(arr) == 2 and cnp.PyArray_DIM(arr, 0) != 1 and cnp.PyArray_DIM(arr, 1) != 1:
        raise _Irregular
    s.data = <char*>cnp.PyArray_DATA(arr)
    s.kind = cnp.PyArray_TYPE(arr)
    if s.kind == cnp.NPY_DOUBLE:
        for i in range(n):
            if not isfinite((<double*>s.data)[i]):
                raise _Irregular
    elif s.kind != cnp.NPY_INT64 and s.kind != cnp.NPY_INT32:
        raise _Irregular
    return s


# The n values of s as float64, into dst.
cdef void copy_sample(Sample s, Py_ssize_t n, double* dst) noexcept:
    cdef Py_ssize_t i
    if s.kind == cnp.NPY_DOUBLE:
        for i in range(n):
            dst[i] = (<double*>s.data)[i]
    elif s.kind == cnp.NPY_INT64:
        for i in range(n):
            dst[i] = <double>(<cnp.int64_t*>s.data)[i]
    else:
        for i in range(n):
            dst[i] = <double>(<cnp.int32_t*>s.data)[i]


# nnpy.post's Python versions, for whatever this module finds irregular (set_fallbacks).
cdef object forward_fallback = None
cdef object back_fallback = None
cdef object check_lr = None
cdef object report_overflow = None


def set_fallbacks(forward, back, lr_check, overflow):
    """Registers the Python paths: forward(x, y, params), back(params, lr, update, debug),
    lr_check(lr) -> float (raises for a bad lr) and overflow(key, lr) (warns, as numpy does,
    that an update made a finite weight infinite)."""
    global forward_fallback, back_fallback, check_lr, report_overflow
    forward_fallback, back_fallback, check_lr, report_overflow = forward, back, lr_check, overflow


def forwardPass(x, y, params):
    """One sample `x` (inputSize values) with target `y` (outputSize values) through the
    network; stores A_prev<l>, Z_<l>, A_<l> (columns) and error = y - output in
    params["forwardPass"] and returns params."""
    try:
        return forward_pass(x, y, params)
    except _Irregular:
        return forward_fallback(x, y, params)


def try_forward(x, y, params):
    """forwardPass's compiled path alone: params, or None where it does not apply (the
    fallback calls it once it has converted x and y, so both paths round alike)."""
    try:
        return forward_pass(x, y, params)
    except _Irregular:
        return None


cdef forward_pass(x, y, params):
    cdef Py_ssize_t l, i, j, n_layers, n_in, n_out, rows, n_held = 0
    cdef PyObject* held[2 * MAX_LAYERS]  # the weights, held for the step
    cdef PyObject* meta
    cdef Mat ws[MAX_LAYERS]       # W_l
    cdef Mat bs[MAX_LAYERS]       # B_l
    cdef double* zs[MAX_LAYERS]   # Z_l's data
    cdef double* acts[MAX_LAYERS] # A_l's data
    cdef double* prev             # A_prev<l>'s data
    cdef double* err              # error's data
    cdef Sample sample, target
    cdef Mat w
    cdef double s
    cdef dict forward = None      # a new params["forwardPass"], when the old one is not reused
    cdef cnp.ndarray a_prev, z, a, error
    theta = network(params, &meta, &n_layers, &n_in, &n_out)
    sample = as_sample(x, n_in)
    target = as_sample(y, n_out)
    try:
        weights(theta, n_layers, n_in, n_out, False, ws, bs, held, &n_held)
        # No Python code runs from here on but in making new objects (the lookups above could
        # run some: a key's __eq__), so what unseen_forward finds nobody else holds stays so.
        if not unseen_forward(entry(<dict>params, "forwardPass"), n_layers, n_in, n_out,
                              &prev, zs, acts, &err):
            forward = {}
            a_prev = new_matrix(n_in, 1)
            prev = <double*>cnp.PyArray_DATA(a_prev)
            for l in range(n_layers):
                rows = n_out if l == n_layers - 1 else n_in
                z = new_matrix(rows, 1)
                a = new_matrix(rows, 1)
                zs[l] = <double*>cnp.PyArray_DATA(z)
                acts[l] = <double*>cnp.PyArray_DATA(a)
                forward[PREV_KEYS[l]] = a_prev
                forward[Z_KEYS[l]] = z
                forward[A_KEYS[l]] = a
                a_prev = a
            error = new_matrix(n_out, 1)
            err = <double*>cnp.PyArray_DATA(error)
            forward[ERROR_KEY] = error
        copy_sample(sample, n_in, prev)
        for l in range(n_layers):
            w = ws[l]
            for i in range(w.rows):
                s = 0
                for j in range(n_in):
                    s = s + w.data[i * w.rs + j * w.cs] * prev[j]
                zs[l][i] = s + bs[l].data[i * bs[l].rs]
                acts[l][i] = sigmoid(zs[l][i])
            prev = acts[l]
        # error = y - output
        copy_sample(target, n_out, err)
        for i in range(n_out):
            err[i] = err[i] - prev[i]
    finally:
        release(held, n_held)
    if forward is not None:
        params["forwardPass"] = forward
    return params


def backPropogation(params, lr, update=True, debug=False):
    """The post's backprop over the last forwardPass: fills params["deltas"]["delta_<l>"] and
    params["d_theta"]["d_theta_<l>"] from the top layer down and, when `update`, subtracts
    lr*d_theta from W_l and lr*delta from B_l in place as it goes (the post's order: a lower
    layer's delta then passes through the already-updated W_{l+1}). Prints as the post when
    `debug`. Returns params. With `update`, weights that cannot or must not be written in place
    (read-only, or elements sharing memory) raise ValueError naming the key before anything is
    written, and an update that makes a finite weight infinite warns (RuntimeWarning, as
    numpy's `-=` does; np.errstate(over=...) applies)."""
    if type(lr) is not float or not isfinite(lr) or lr <= 0:
        lr = check_lr(lr)
    return back_propagation(params, lr, update, debug)


# `lr` is a positive finite float.
cdef back_propagation(params, object lr, bint update, bint debug):
    cdef Py_ssize_t l, i, j, n_layers, n_in, n_out, rows, n_held = 0
    cdef PyObject* held[4 * MAX_LAYERS + 1]  # the arrays read or written, held for the step
    cdef PyObject* meta
    cdef PyObject* found[3 * MAX_LAYERS + 1]  # params["forwardPass"]'s arrays, in its order
    cdef double rate = lr
    cdef Mat ws[MAX_LAYERS]       # W_l
    cdef Mat bs[MAX_LAYERS]       # B_l
    cdef Mat zs[MAX_LAYERS]       # Z_l
    cdef Mat prevs[MAX_LAYERS]    # A_prev<l>
    cdef double* dps[MAX_LAYERS]  # delta_<l>'s data
    cdef double* gps[MAX_LAYERS]  # d_theta_<l>'s data
    cdef Mat w, err
    cdef dict deltas = None, d_theta = None   # new dicts, when the old ones are not reused
    cdef cnp.ndarray delta, dw
    cdef double* dp
    cdef double* gp
    cdef double* above
    cdef double s, sg, new
    cdef str overflowed = None    # the first key an update made non-finite
    try:
        try:
            theta = network(params, &meta, &n_layers, &n_in, &n_out)
            forward = <object>item(<dict>params, "forwardPass")
            if type(forward) is not dict:
                raise _Irregular
            if not forward_entries(forward, n_layers, found):  # not as forwardPass left it
                for l in range(n_layers):
                    found[3 * l] = item(<dict>forward, PREV_KEYS[l])
                    found[3 * l + 1] = item(<dict>forward, Z_KEYS[l])
                found[3 * n_layers] = item(<dict>forward, ERROR_KEY)
            # every array checked before any is changed
            weights(theta, n_layers, n_in, n_out, update, ws, bs, held, &n_held)
            for l in range(n_layers):
                rows = n_out if l == n_layers - 1 else n_in
                prevs[l] = as_mat(hold(found[3 * l], held, &n_held), n_in, 1)
                zs[l] = as_mat(hold(found[3 * l + 1], held, &n_held), rows, 1)
            err = as_mat(hold(found[3 * n_layers], held, &n_held), n_out, 1)
        except _Irregular:
            return back_fallback(params, lr, update, debug)

        (<dict><object>meta)["learningRate"] = lr
        # The last Python code of the step but `debug`'s prints (which get new dicts): what
        # unseen_back finds nobody else holds stays so.
        if debug or not unseen_back(entry(<dict>params, "deltas"), entry(<dict>params, "d_theta"),
                                    n_layers, n_in, n_out, dps, gps):
            deltas, d_theta = {}, {}
        above = NULL
        for l in range(n_layers - 1, -1, -1):
            w = ws[l]
            if deltas is not None:
                delta = new_matrix(w.rows, 1)
                dw = new_matrix(w.rows, w.cols)
                deltas[DELTA_KEYS[l]] = delta
                d_theta[DTHETA_KEYS[l]] = dw
                dps[l] = <double*>cnp.PyArray_DATA(delta)
                gps[l] = <double*>cnp.PyArray_DATA(dw)
            dp = dps[l]
            gp = gps[l]
            for i in range(w.rows):
                if l == n_layers - 1:
                    # delta = -error * sigmoid'(Z)
                    s = -1.0 * err.data[i * err.rs]
                else:
                    # delta = (W_{l+1}.T @ delta_{l+1}) * sigmoid'(Z), through W_{l+1} as it is now
                    s = 0
                    for j in range(ws[l + 1].rows):
                        s = s + ws[l + 1].data[j * ws[l + 1].rs + i * ws[l + 1].cs] * above[j]
                sg = sigmoid(zs[l].data[i * zs[l].rs])
                dp[i] = s * sg * (1 - sg)
            # dw = delta @ A_prev.T
            for i in range(w.rows):
                for j in range(w.cols):
                    gp[i * w.cols + j] = dp[i] * prevs[l].data[j * prevs[l].rs]
            if update:
                for i in range(w.rows):
                    for j in range(w.cols):
                        new = w.data[i * w.rs + j * w.cs] + -rate * gp[i * w.cols + j]
                        if not isfinite(new) and isfinite(w.data[i * w.rs + j * w.cs]) and overflowed is None:
                            overflowed = W_KEYS[l]
                        w.data[i * w.rs + j * w.cs] = new
                    new = bs[l].data[i * bs[l].rs] + -rate * dp[i]
                    if not isfinite(new) and isfinite(bs[l].data[i * bs[l].rs]) and overflowed is None:
                        overflowed = B_KEYS[l]
                    bs[l].data[i * bs[l].rs] = new
            if debug:
                if l == n_layers - 1:
                    print(delta, dw)
                else:
                    print(delta)
            above = dp
        if deltas is not None:
            params["deltas"] = deltas
            params["d_theta"] = d_theta
    finally:
        release(held, n_held)
    if overflowed is not None:
        report_overflow(overflowed, lr)
    return params
