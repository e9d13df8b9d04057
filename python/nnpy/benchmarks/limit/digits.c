/* W2 and W4 C yardstick on the digits data (64-32-10 sigmoid network, sizes fixed at compile
 * time), doing the arithmetic nnpy's fit and predict do:
 *   train: mini-batch SGD (W2: batch 10, lr 3.0, 30 epochs; batch and lr are arguments),
 *          0.5 * squared error, gradient of the batch mean, all deltas from the weights before
 *          the step, rows shuffled every epoch in the orders given in the file; starts from the
 *          weights given in the file. bench/run.py writes there the start weights and epoch
 *          orders that nnpy.reference.sgd draws with seed 0, so this run retraces the numpy
 *          peer's run (same accuracy, up to rounding) and shuffling costs nothing here.
 *          Reports the test accuracy.
 *   forward: the network's output for one sample (called many times) and for all rows.
 *
 * The data file (written by bench/run.py) holds float64 values, in this order:
 *   X_train (n_train x 64), Y_train one-hot (n_train x 10), X_test (n_test x 64),
 *   y_test labels (n_test), X_all (n_all x 64),
 *   W_0 (32 x 64, n_out x n_in), b_0 (32), W_1 (10 x 32), b_1 (10),
 *   orders (N_ORDERS x n_train: row numbers of every epoch, as float64)
 *
 * usage: digits train   FILE N_TRAIN N_TEST N_ALL EPOCHS REPEATS [BATCH LR]   (default 10 3.0)
 *        digits forward FILE N_TRAIN N_TEST N_ALL CALLS  REPEATS
 * (the file holds orders for N_ORDERS = 30 epochs; EPOCHS must not exceed that)
 */
#include "common.h"
#include <string.h>

#define N0 64
#define N1 32
#define N2 10

/* Weights are kept transposed (W0[i * N1 + j] is the weight from input i to unit j) so that
 * every inner loop runs over the units of a layer: independent sums the compiler vectorises
 * without -ffast-math (a dot-product loop would be one serial chain of additions). The
 * arithmetic is the same as with n_out x n_in matrices. */
static double W0[N0 * N1], B0[N1], W1[N1 * N2], B1[N2];
static double gW0[N0 * N1], gB0[N1], gW1[N1 * N2], gB1[N2];

#define N_ORDERS 30
static double W0_start[N1 * N0], B0_start[N1], W1_start[N2 * N1], B1_start[N2];

/* Copies the start weights (given n_out x n_in) into the transposed working arrays. */
static void init_params(void) {
    for (int j = 0; j < N1; j++) for (int i = 0; i < N0; i++) W0[i * N1 + j] = W0_start[j * N0 + i];
    for (int j = 0; j < N1; j++) B0[j] = B0_start[j];
    for (int j = 0; j < N2; j++) for (int i = 0; i < N1; i++) W1[i * N2 + j] = W1_start[j * N1 + i];
    for (int j = 0; j < N2; j++) B1[j] = B1_start[j];
}

static inline void forward(const double *x, double *a1, double *a2) {
    double z1[N1], z2[N2];
    for (int j = 0; j < N1; j++) z1[j] = B0[j];
    for (int i = 0; i < N0; i++)
        for (int j = 0; j < N1; j++) z1[j] += W0[i * N1 + j] * x[i];
    for (int j = 0; j < N1; j++) a1[j] = sigmoid(z1[j]);
    for (int j = 0; j < N2; j++) z2[j] = B1[j];
    for (int i = 0; i < N1; i++)
        for (int j = 0; j < N2; j++) z2[j] += W1[i * N2 + j] * a1[i];
    for (int j = 0; j < N2; j++) a2[j] = sigmoid(z2[j]);
}

/* Adds one sample's loss gradient to the g* arrays. */
static inline void backward(const double *x, const double *y) {
    double a1[N1], a2[N2], d1[N1], d2[N2];
    forward(x, a1, a2);
    for (int j = 0; j < N2; j++) d2[j] = (a2[j] - y[j]) * a2[j] * (1 - a2[j]);
    for (int i = 0; i < N1; i++) {
        double g = 0;
        for (int j = 0; j < N2; j++) g += W1[i * N2 + j] * d2[j];
        d1[i] = g * a1[i] * (1 - a1[i]);
    }
    for (int i = 0; i < N1; i++)
        for (int j = 0; j < N2; j++) gW1[i * N2 + j] += a1[i] * d2[j];
    for (int j = 0; j < N2; j++) gB1[j] += d2[j];
    for (int i = 0; i < N0; i++)
        for (int j = 0; j < N1; j++) gW0[i * N1 + j] += x[i] * d1[j];
    for (int j = 0; j < N1; j++) gB0[j] += d1[j];
}

static void step(double scale) {
    for (int i = 0; i < N0 * N1; i++) W0[i] -= scale * gW0[i];
    for (int i = 0; i < N1; i++) B0[i] -= scale * gB0[i];
    for (int i = 0; i < N1 * N2; i++) W1[i] -= scale * gW1[i];
    for (int i = 0; i < N2; i++) B1[i] -= scale * gB1[i];
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: digits train|forward FILE N_TRAIN N_TEST N_ALL COUNT REPEATS "
                        "[BATCH LR]\n");
        return 2;
    }
    const char *mode = argv[1];
    long n_train = atol(argv[3]), n_test = atol(argv[4]), n_all = atol(argv[5]);
    long count = atol(argv[6]);
    int repeats = atoi(argv[7]);
    long batch = argc > 8 ? atol(argv[8]) : 10;    /* samples per SGD step */
    double lr = argc > 9 ? atof(argv[9]) : 3.0;    /* learning rate */
    if (batch < 1) { fprintf(stderr, "digits: BATCH must be >= 1\n"); return 2; }
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 2; }
    double *Xtr = read_doubles(f, n_train * N0), *Ytr = read_doubles(f, n_train * N2);
    double *Xte = read_doubles(f, n_test * N0), *yte = read_doubles(f, n_test);
    double *Xall = read_doubles(f, n_all * N0);
    double *p;
    p = read_doubles(f, N1 * N0); memcpy(W0_start, p, sizeof W0_start); free(p);
    p = read_doubles(f, N1); memcpy(B0_start, p, sizeof B0_start); free(p);
    p = read_doubles(f, N2 * N1); memcpy(W1_start, p, sizeof W1_start); free(p);
    p = read_doubles(f, N2); memcpy(B1_start, p, sizeof B1_start); free(p);
    double *orders_f = read_doubles(f, N_ORDERS * n_train);
    fclose(f);
    if (count > N_ORDERS && strcmp(mode, "train") == 0) {
        fprintf(stderr, "digits: at most %d epochs\n", N_ORDERS);
        return 2;
    }
    long *orders = malloc(sizeof(long) * N_ORDERS * n_train);
    for (long i = 0; i < N_ORDERS * n_train; i++) orders[i] = (long)orders_f[i];
    double *times = malloc(sizeof(double) * (repeats > 0 ? repeats : 1));
    double a1[N1], a2[N2], checksum = 0;

    if (strcmp(mode, "train") == 0) {
        double accuracy = 0;
        for (int r = 0; r < repeats; r++) {
            init_params();
            double t0 = now_s();
            for (long e = 0; e < count; e++) {
                const long *order = orders + e * n_train;
                for (long first = 0; first < n_train; first += batch) {
                    long n = n_train - first < batch ? n_train - first : batch;
                    memset(gW0, 0, sizeof gW0); memset(gB0, 0, sizeof gB0);
                    memset(gW1, 0, sizeof gW1); memset(gB1, 0, sizeof gB1);
                    for (long s = 0; s < n; s++)
                        backward(Xtr + order[first + s] * N0, Ytr + order[first + s] * N2);
                    step(lr / (double)n);
                }
            }
            times[r] = now_s() - t0;
            long right = 0;
            for (long s = 0; s < n_test; s++) {
                forward(Xte + s * N0, a1, a2);
                int best = 0;
                for (int j = 1; j < N2; j++) if (a2[j] > a2[best]) best = j;
                right += best == (int)yte[s];
            }
            accuracy = (double)right / (double)n_test;
        }
        printf("{\"epochs\": %ld, \"repeats\": %d, ", count, repeats);
        print_times("times_s", times, repeats);
        printf(", \"accuracy\": %.6f}\n", accuracy);
    } else {
        double *times_batch = malloc(sizeof(double) * (repeats > 0 ? repeats : 1));
        double *out = malloc(sizeof(double) * n_all * N2);
        init_params();
        for (int r = 0; r < repeats; r++) {
            double t0 = now_s();
            for (long c = 0; c < count; c++) {
                forward(Xall + (c % n_all) * N0, a1, a2);
                checksum += a2[0];
            }
            times[r] = now_s() - t0;
            t0 = now_s();
            for (long s = 0; s < n_all; s++) {
                forward(Xall + s * N0, a1, out + s * N2);
            }
            times_batch[r] = now_s() - t0;
            checksum += out[(r * 7) % (n_all * N2)];
        }
        printf("{\"calls\": %ld, \"repeats\": %d, ", count, repeats);
        print_times("times_one_s", times, repeats);
        printf(", ");
        print_times("times_batch_s", times_batch, repeats);
        printf(", \"rows\": %ld, \"checksum\": %.9g}\n", n_all, checksum);
    }
    return 0;
}
