# The floor's allocations through numpy's C API, as nnpy._post makes them (PyArray_EMPTY, dicts
# and stores from C): what bench/post_floor.py times as "floor-C". Built on the fly with
# pyximport; no arithmetic, no checks.
cimport numpy as cnp

cnp.import_array()


cdef inline cnp.ndarray new_matrix(Py_ssize_t rows, Py_ssize_t cols):
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = cols
    return cnp.PyArray_EMPTY(2, dims, cnp.NPY_DOUBLE, 0)


def functions(dict params):
    """(forwardPass, backPropogation) that only make the objects one step leaves in params."""
    meta = params["metadata"]
    cdef Py_ssize_t n_layers = meta["n_layers"], n_in = meta["inputSize"]
    cdef Py_ssize_t n_out = meta["outputSize"]
    rows = [n_out if l == n_layers - 1 else n_in for l in range(n_layers)]
    keys = [("A_prev%d" % l, "Z_%d" % l, "A_%d" % l, "delta_%d" % l, "d_theta_%d" % l)
            for l in range(n_layers)]

    def forward(x, y, dict params):
        cdef Py_ssize_t l, r
        forward = {}
        a = new_matrix(n_in, 1)
        target = new_matrix(n_out, 1)
        for l in range(n_layers):
            r = rows[l]
            forward[keys[l][0]] = a
            forward[keys[l][1]] = new_matrix(r, 1)
            a = new_matrix(r, 1)
            forward[keys[l][2]] = a
        forward["error"] = target
        params["forwardPass"] = forward
        return params

    def back(dict params, double lr, update=True, debug=False):
        cdef Py_ssize_t l, r
        params["metadata"]["learningRate"] = lr
        deltas, d_theta = {}, {}
        for l in range(n_layers - 1, -1, -1):
            r = rows[l]
            deltas[keys[l][3]] = new_matrix(r, 1)
            d_theta[keys[l][4]] = new_matrix(r, n_in)
        params["deltas"] = deltas
        params["d_theta"] = d_theta
        return params

    return forward, back
