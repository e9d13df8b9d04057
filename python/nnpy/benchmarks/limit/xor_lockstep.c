/* W6 C yardstick: LANES (16) XOR 2-2-1 sigmoid networks trained in lockstep, each weight's 16
 * copies side by side (w[p][lane], 64-byte aligned), so that every operation of a step is one
 * loop over the lanes the compiler turns into vector instructions. Each network does what
 * xor.c's one network does: per-sample SGD (0.5 * squared error, lr 0.125), each step on one
 * of the 4 XOR samples drawn uniformly (its own draw: 2 bits of one 64-bit draw per lane),
 * standard backprop (deltas from the weights before the step), weights uniform in [0, 1).
 *
 * The sigmoid is 1/(1+exp(-|z|)) mirrored for z > 0, with exp from a branchless range
 * reduction and polynomial written here (libm's exp is a call per value that gcc does not
 * vectorise without -ffast-math): what a C programmer writes to vectorise it, to a few ulp.
 * Sizes are compile-time constants; built with -O3 -march=native by bench/run.py.
 *
 * usage: xor_lockstep STEPS REPEATS     prints one JSON object; "steps" counts network-steps
 * (STEPS per network times LANES)
 */
#include "common.h"
#include <string.h>

#define N0 2
#define N1 2
#define N2 1
#define LANES 16
#define ALIGNED __attribute__((aligned(64)))

/* exp(x) for x <= 0: x = k ln2 + r, |r| <= ln2/2, exp(r) by its degree-11 Taylor polynomial
 * (Horner), times 2^k built in the exponent bits; 0 below -708. */
static inline double exp_neg(double x) {
    x = x < -708.0 ? -708.0 : x;
    const double shifter = 0x1.8p52;           /* adding it rounds to an integer */
    double k = (x * 1.4426950408889634 + shifter) - shifter;
    double r = x - k * 0.6931471805599453;
    double p = 1.0 / 39916800;
    p = p * r + 1.0 / 3628800;
    p = p * r + 1.0 / 362880;
    p = p * r + 1.0 / 40320;
    p = p * r + 1.0 / 5040;
    p = p * r + 1.0 / 720;
    p = p * r + 1.0 / 120;
    p = p * r + 1.0 / 24;
    p = p * r + 1.0 / 6;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits = ((int64_t)k + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double sigmoid_lane(double z) {
    double e = exp_neg(-fabs(z));
    double s = 1.0 / (1.0 + e);
    return z >= 0 ? s : e * s;
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 10000;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    static const double X[4][N0] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    static const double Y[4] = {0, 1, 1, 0};
    const double lr = 0.125;
    static double w0[N1 * N0][LANES] ALIGNED, b0[N1][LANES] ALIGNED;
    static double w1[N2 * N1][LANES] ALIGNED, b1[N2][LANES] ALIGNED;
    double x[N0][LANES] ALIGNED, y[LANES] ALIGNED;
    double a1[N1][LANES] ALIGNED, a2[N2][LANES] ALIGNED;
    double d1[N1][LANES] ALIGNED, d2[N2][LANES] ALIGNED;
    double *times = malloc(sizeof(double) * (repeats > 0 ? repeats : 1));
    double final_mse = 0, checksum = 0;

    for (int r = 0; r < repeats; r++) {
        rng_state = 0x9E3779B97F4A7C15ULL;  /* same start and draws every repeat */
        for (int l = 0; l < LANES; l++) {
            for (int i = 0; i < N1 * N0; i++) w0[i][l] = rng_uniform();
            for (int i = 0; i < N1; i++) b0[i][l] = rng_uniform();
            for (int i = 0; i < N2 * N1; i++) w1[i][l] = rng_uniform();
            for (int i = 0; i < N2; i++) b1[i][l] = rng_uniform();
        }

        double t0 = now_s();
        for (long s = 0; s < steps; s++) {
            uint64_t draw = rng_next();                /* 2 bits a lane: its sample */
            for (int l = 0; l < LANES; l++) {
                int k = (int)((draw >> (2 * l)) & 3);
                for (int i = 0; i < N0; i++) x[i][l] = X[k][i];
                y[l] = Y[k];
            }
            for (int j = 0; j < N1; j++)               /* forward */
                for (int l = 0; l < LANES; l++) {
                    double z = b0[j][l];
                    for (int i = 0; i < N0; i++) z += w0[j * N0 + i][l] * x[i][l];
                    a1[j][l] = sigmoid_lane(z);
                }
            for (int j = 0; j < N2; j++)
                for (int l = 0; l < LANES; l++) {
                    double z = b1[j][l];
                    for (int i = 0; i < N1; i++) z += w1[j * N1 + i][l] * a1[i][l];
                    double a = sigmoid_lane(z);
                    a2[j][l] = a;
                    d2[j][l] = (a - y[l]) * a * (1 - a);
                }
            for (int i = 0; i < N1; i++)               /* delta passed down, old weights */
                for (int l = 0; l < LANES; l++) {
                    double g = 0;
                    for (int j = 0; j < N2; j++) g += w1[j * N1 + i][l] * d2[j][l];
                    d1[i][l] = g * a1[i][l] * (1 - a1[i][l]);
                }
            for (int j = 0; j < N2; j++)               /* updates */
                for (int l = 0; l < LANES; l++) {
                    for (int i = 0; i < N1; i++) w1[j * N1 + i][l] -= lr * d2[j][l] * a1[i][l];
                    b1[j][l] -= lr * d2[j][l];
                }
            for (int j = 0; j < N1; j++)
                for (int l = 0; l < LANES; l++) {
                    for (int i = 0; i < N0; i++) w0[j * N0 + i][l] -= lr * d1[j][l] * x[i][l];
                    b0[j][l] -= lr * d1[j][l];
                }
        }
        times[r] = now_s() - t0;

        /* The mean loss of the networks over the 4 samples after training: shows the loop
         * did its work (and keeps the compiler from dropping it). */
        final_mse = 0;
        for (int l = 0; l < LANES; l++)
            for (int k = 0; k < 4; k++) {
                double h[N1];
                for (int j = 0; j < N1; j++) {
                    double z = b0[j][l];
                    for (int i = 0; i < N0; i++) z += w0[j * N0 + i][l] * X[k][i];
                    h[j] = sigmoid(z);
                }
                double z = b1[0][l];
                for (int i = 0; i < N1; i++) z += w1[i][l] * h[i];
                double e = sigmoid(z) - Y[k];
                final_mse += 0.5 * e * e / (4 * LANES);
                checksum += sigmoid(z);
            }
    }
    printf("{\"steps\": %ld, \"networks\": %d, \"repeats\": %d, ", steps * LANES, LANES,
           repeats);
    print_times("times_s", times, repeats);
    printf(", \"final_loss\": %.9g, \"checksum\": %.9g}\n", final_mse, checksum);
    free(times);
    return 0;
}
