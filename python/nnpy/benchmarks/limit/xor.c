/* W1 C yardstick: per-sample SGD on the 2-2-1 sigmoid network (0.5 * squared error, lr 0.125),
 * each step drawing one of the 4 XOR samples uniformly, with standard backprop (all deltas from
 * the weights before the step, as nnpy's fit does). Weights start uniform in [0, 1).
 *
 * Built twice by bench/run.py: with -DFIXED_SIZES the widths are compile-time constants (the
 * compiler unrolls everything: the floor any library could reach), without it they are read
 * from the command line (what a general library that takes sizes at run time can hope for).
 *
 * usage: xor STEPS REPEATS [N0 N1 N2]      prints one JSON object
 */
#include "common.h"

#ifdef FIXED_SIZES
#define N0 2
#define N1 2
#define N2 1
#else
static int N0 = 2, N1 = 2, N2 = 1;
#endif

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 10000;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
#ifndef FIXED_SIZES
    if (argc > 5) { N0 = atoi(argv[3]); N1 = atoi(argv[4]); N2 = atoi(argv[5]); }
#endif
    const double X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const double Y[4] = {0, 1, 1, 0};
    const double lr = 0.125;
    double w0[N1 * N0], b0[N1], w1[N2 * N1], b1[N2];
    double a1[N1], a2[N2], d1[N1], d2[N2];
    double *times = malloc(sizeof(double) * (repeats > 0 ? repeats : 1));
    double final_mse = 0, checksum = 0;

    for (int r = 0; r < repeats; r++) {
        rng_state = 0x9E3779B97F4A7C15ULL;  /* same start and draws every repeat */
        for (int i = 0; i < N1 * N0; i++) w0[i] = rng_uniform();
        for (int i = 0; i < N1; i++) b0[i] = rng_uniform();
        for (int i = 0; i < N2 * N1; i++) w1[i] = rng_uniform();
        for (int i = 0; i < N2; i++) b1[i] = rng_uniform();

        double t0 = now_s();
        for (long s = 0; s < steps; s++) {
            int k = (int)(rng_next() >> 62);          /* uniform over the 4 samples */
            const double *x = X[k];
            for (int j = 0; j < N1; j++) {            /* forward */
                double z = b0[j];
                for (int i = 0; i < N0; i++) z += w0[j * N0 + i] * x[i];
                a1[j] = sigmoid(z);
            }
            for (int j = 0; j < N2; j++) {
                double z = b1[j];
                for (int i = 0; i < N1; i++) z += w1[j * N1 + i] * a1[i];
                a2[j] = sigmoid(z);
                d2[j] = (a2[j] - Y[k]) * a2[j] * (1 - a2[j]);
            }
            for (int i = 0; i < N1; i++) {            /* delta passed down, old weights */
                double g = 0;
                for (int j = 0; j < N2; j++) g += w1[j * N1 + i] * d2[j];
                d1[i] = g * a1[i] * (1 - a1[i]);
            }
            for (int j = 0; j < N2; j++) {            /* updates */
                for (int i = 0; i < N1; i++) w1[j * N1 + i] -= lr * d2[j] * a1[i];
                b1[j] -= lr * d2[j];
            }
            for (int j = 0; j < N1; j++) {
                for (int i = 0; i < N0; i++) w0[j * N0 + i] -= lr * d1[j] * x[i];
                b0[j] -= lr * d1[j];
            }
        }
        times[r] = now_s() - t0;

        /* The loss over the 4 samples after training: shows the loop did its work (and keeps
         * the compiler from dropping it). */
        final_mse = 0;
        for (int k = 0; k < 4; k++) {
            for (int j = 0; j < N1; j++) {
                double z = b0[j];
                for (int i = 0; i < N0; i++) z += w0[j * N0 + i] * X[k][i];
                a1[j] = sigmoid(z);
            }
            double z = b1[0];
            for (int i = 0; i < N1; i++) z += w1[i] * a1[i];
            double e = sigmoid(z) - Y[k];
            final_mse += 0.5 * e * e / 4;
            checksum += sigmoid(z);
        }
    }
    printf("{\"steps\": %ld, \"repeats\": %d, ", steps, repeats);
    print_times("times_s", times, repeats);
    printf(", \"final_loss\": %.9g, \"checksum\": %.9g}\n", final_mse, checksum);
    free(times);
    return 0;
}
