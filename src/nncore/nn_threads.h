/* nn_threads.h: what the core needs to know of OpenMP, and one thread where the compiler has
 * none (the core's prange loops then run serially: Cython guards its OpenMP pragmas). */
#ifndef NN_THREADS_H
#define NN_THREADS_H

#ifdef _OPENMP
#include <omp.h>

/* OpenMP's current limit for the calling thread: omp_set_num_threads, which
 * threadpoolctl.threadpool_limits calls, or OMP_NUM_THREADS (joblib and Dask set it in their
 * workers), else the processors OpenMP sees. */
static inline int nn_max_threads(void) { return omp_get_max_threads(); }
static inline int nn_openmp(void) { return 1; }
#else
static inline int nn_max_threads(void) { return 1; }
static inline int nn_openmp(void) { return 0; }
#endif

#endif
