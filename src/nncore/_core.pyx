"""nnpy's compiled core: the arithmetic of feed-forward networks over typed memoryviews.

Every function here takes arrays the caller (nnpy, in Python) has validated and allocated,
outputs included, and runs its loops with the GIL released. A network is
    params  one flat array: W_0 (n_1 x n_0, row-major), b_0 (n_1), W_1, b_1, ... W_{L-1}, b_{L-1}
    Model   its widths n_0 .. n_L, the activation of its hidden layers, the activation of its
            output layer and the loss it trains with (codes ACT_*, LOSS_*; nnpy._model maps the
            names onto them), checked once when the Model is made.
Training also takes an Optimizer (settings and step count; its moments live in an array the
caller keeps) and an Epochs (where the run over the rows stands between calls).
Samples are rows (X is n_samples x n_0). The entry points re-check every shape they rely on and
raise ValueError, so that no call, however wrong, reaches a loop compiled without bounds checks;
every array an entry point writes into must be writeable and may not reach an element twice.

This file holds the module's imports and constants; its parts are the files included at the end
(one extension module per CPU level) and the inline helpers of shapes.pxd, per_sample.pxd and
dropout.pxd.
"""
cimport numpy as cnp
import numpy as np
from cython cimport floating
from libc.math cimport sqrt, pow
from libc.stdint cimport uint64_t
from cpython.pythread cimport PyThread_get_thread_ident
from libc.string cimport memcpy, memset
from cython.parallel cimport prange, parallel, threadid

from activations cimport (sigmoid, nn_sigmoid, nn_sigmoidf, sigmoid_derivative, activate,
                          any_nonfinite, softmax_rows, nonfinite, times_derivative)
from losses cimport (row_loss, row_output_delta, MSE, CROSS_ENTROPY, ABSOLUTE_ERROR, HUBER,
                     POISSON, N_LOSSES, nn_muladd)
# the activation codes and switches, generated from activation_kinds.tp (see there)
from activation_kinds cimport (activation, derivative_at, activate_values, times_derivative_at,
                               needs_z, SIGMOID,
                               TANH, RELU, IDENTITY, SOFTMAX, EXP, N_ACTIVATIONS)
from shapes cimport Net, Layout, ALIGN, round_up, min_, max_, aligned_base
from per_sample cimport (Width1, Width2, Width3, Width4, UpTo4, AnyWidth, Outputs, SMALL_WIDTH,
                         SMALL_PARAMS, width, sized_forward, sized_backward, forward_sample,
                         sample_gradients, forward_layer, backward_layer)
from gemm cimport gemm, gemm_work_size, gemm_shared_size
from shuffle cimport seed_state, shuffle
from dropout cimport Dropout, dropout_space, mask_row, mask_rows, row_key, times_keep

cnp.import_array()

cdef extern from *:
    """
    #ifndef NNPY_DEBUG_BUILD
    #define NNPY_DEBUG_BUILD 0
    #endif
    """
    int NNPY_DEBUG_BUILD

cdef extern from "nn_threads.h" nogil:
    int nn_max_threads()      # OpenMP's current limit for this thread (1 without OpenMP)
    int nn_openmp()           # 1 if the core was compiled with OpenMP

cdef extern from "nn_interrupt.h" nogil:
    int nn_stop_requested()   # SIGINT arrived since nn_catch_sigint
    int nn_catch_sigint()     # main thread, GIL held: 1 if the handler went in
    void nn_release_sigint()  # puts Python's handler back

DEBUG_BUILD = bool(NNPY_DEBUG_BUILD)  # built with bounds, wraparound and initialisation checks
OPENMP = bool(nn_openmp())  # built with OpenMP: fit can use several threads


def max_threads():
    """OpenMP's current thread limit for the calling thread (1 without OpenMP): what
    threadpoolctl.threadpool_limits sets, or OMP_NUM_THREADS."""
    return nn_max_threads()

cdef enum:
    OK = 0            # train: ran its budget of epochs or batches
    DIVERGED = 1      # train: a step would have made a parameter non-finite; it was not applied
    INTERRUPTED = 2   # train: Ctrl-C arrived; the batch under way was abandoned, not applied
    OVERFLOWED = 3    # train: a pre-activation of the batch overflowed the dtype (from finite
                      # inputs and parameters); no step was applied

cdef enum:
    SGD = 0           # stochastic gradient descent, with momentum (Nesterov's or not) or none
    ADAM = 1          # Adam, as torch.optim.Adam

include "activation_codes.pxi"   # ACTIVATION_CODES, ACTIVATIONS_FROM_Z, ACT_*: generated
LOSS_MSE, LOSS_CROSS_ENTROPY = MSE, CROSS_ENTROPY
LOSS_ABSOLUTE_ERROR, LOSS_HUBER, LOSS_POISSON = ABSOLUTE_ERROR, HUBER, POISSON
OPT_SGD, OPT_ADAM = SGD, ADAM
STATUS_OK, STATUS_DIVERGED, STATUS_INTERRUPTED, STATUS_OVERFLOWED = (OK, DIVERGED, INTERRUPTED,
                                                                     OVERFLOWED)

MAX_PARAMS = 1 << 40  # weights + biases: far beyond memory, far below Py_ssize_t overflow



include "model.pxi"          # Model, the workspace layout, the checks of every entry point
include "post_kernels.pxi"   # the post's elementwise and matrix kernels
include "sparse.pxi"         # CSR inputs: the first layer's products over stored values
include "batch.pxi"          # forward and backprop over blocks of rows; loss_and_gradient
include "optimizers.pxi"     # Optimizer and its steps
include "predict.pxi"        # forward, predict_one
include "train.pxi"          # Epochs and train's loop
include "sgd_per_sample.pxi" # train's loop for batches of one sample and plain SGD

# Many small networks in lockstep, one sample each per step (nnpy.NetworkStack)
include "lockstep.pxi"


# Mini-batch training of many networks that share a shuffle order (nnpy.NetworkStack)
include "stack_batch.pxi"
