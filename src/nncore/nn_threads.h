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
/* Threads in the current parallel region: the region's work is split by what OpenMP started,
 * which may be fewer than asked (a region nested in another runs on one). */
static inline int nn_team_size(void) { return omp_get_num_threads(); }
/* Waits until every thread of the current parallel region gets here (an orphaned barrier: it
 * binds to the region the caller runs in). */
static inline void nn_barrier(void)
{
#pragma omp barrier
}
/* *flag |= bits, from any thread of a region. */
static inline void nn_flag_or(unsigned int *flag, unsigned int bits)
{
#pragma omp atomic
    *flag |= bits;
}
#else
static inline int nn_max_threads(void) { return 1; }
static inline int nn_openmp(void) { return 0; }
static inline int nn_team_size(void) { return 1; }
static inline void nn_barrier(void) {}
static inline void nn_flag_or(unsigned int *flag, unsigned int bits) { *flag |= bits; }
#endif

#endif
