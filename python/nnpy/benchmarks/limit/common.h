/* Shared helpers of the C yardsticks: a monotonic clock, a small seeded generator and a JSON
 * printer for the per-repeat times. The yardsticks time themselves (clock_gettime around the
 * measured loop only, set-up outside), so process start and file reading never count. */
#ifndef NNPY_LIMIT_COMMON_H
#define NNPY_LIMIT_COMMON_H
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* xorshift64*: cheap, good enough to pick samples and start weights. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static inline uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static inline double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1.0p-53; }
static inline double rng_normal(void) { /* Box-Muller; one value per call is plenty here */
    double u = rng_uniform(), v = rng_uniform();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
static inline double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Reads n float64 values from the data file bench/run.py writes; exits on a short file. */
static double *read_doubles(FILE *f, long n) {
    double *p = malloc(sizeof(double) * (n > 0 ? n : 1));
    if (!p || fread(p, sizeof(double), n, f) != (size_t)n) {
        fprintf(stderr, "short data file\n");
        exit(2);
    }
    return p;
}

static void print_times(const char *name, const double *times, int repeats) {
    printf("\"%s\": [", name);
    for (int r = 0; r < repeats; r++) printf("%s%.9g", r ? ", " : "", times[r]);
    printf("]");
}
#endif
