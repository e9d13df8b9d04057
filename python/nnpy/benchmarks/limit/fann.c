/* FANN (the Fast Artificial Neural Network library, Debian's libfann-dev, double precision:
 * libdoublefann) on the workloads, called as its documentation shows: fann_train for one
 * sample, fann_run for a forward pass.
 *
 * Set-up that makes FANN's arithmetic the one nnpy does:
 *   FANN_SIGMOID is 1/(1+exp(-2*s*x)); steepness s = 0.5 makes it nnpy's 1/(1+exp(-x)), and
 *   its derivative 2*s*y*(1-y) nnpy's y*(1-y), in every layer;
 *   FANN_ERRORFUNC_LINEAR (the default, FANN_ERRORFUNC_TANH, stretches large errors), momentum 0:
 *   each fann_train is then one SGD step on 0.5 * squared error, deltas from the weights before
 *   the step (fann_backpropagate_MSE runs before fann_update_weights), as nnpy's fit.
 * What stays FANN's own: the derivative clips y to [0.01, 0.99] (a guard against flat spots),
 * the learning rate is stored as a float, every fann_train also adds to the MSE counters.
 *
 * FANN has no mini-batch SGD: its incremental training is fann_train on one sample after the
 * other (what fann_train_epoch does with FANN_TRAIN_INCREMENTAL). So `train` here is per-sample
 * SGD over the digits epoch orders (W2 at batch 1), not W2's batch of 10.
 *
 * usage: fann xor     STEPS REPEATS                                   W1: 2-2-1 on XOR
 *        fann train   FILE N_TRAIN N_TEST N_ALL EPOCHS REPEATS LR     digits, per sample
 *        fann forward FILE N_TRAIN N_TEST N_ALL CALLS REPEATS         W4: fann_run
 * The data file is the one digits.c reads. Prints one JSON object.
 */
#include "common.h"
#include <doublefann.h>
#include <string.h>

/* Creates a sigmoid network of `n_layers` widths `sizes`, set up as described above. */
static struct fann *create(unsigned int n_layers, const unsigned int *sizes, double lr) {
    struct fann *ann = fann_create_standard_array(n_layers, sizes);
    if (!ann) { fprintf(stderr, "fann: fann_create_standard_array failed\n"); exit(2); }
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_momentum(ann, 0.0f);
    fann_set_learning_rate(ann, (float)lr);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    return ann;
}

/* Sets FANN's weights to W_l (n_out x n_in, row-major) and b_l for each layer. FANN numbers its
 * neurons layer after layer, each layer followed by its bias neuron; a connection (from, to)
 * into layer l+1 carries W_l[to - first(l+1)][from - first(l)], or the bias when `from` is the
 * bias neuron of layer l. */
static void set_weights(struct fann *ann, unsigned int n_layers, const unsigned int *sizes,
                        double *const *W, double *const *b) {
    unsigned int n = fann_get_total_connections(ann), first[16];
    struct fann_connection *con = malloc(sizeof *con * n);
    first[0] = 0;
    for (unsigned int l = 0; l + 1 < n_layers; l++) first[l + 1] = first[l] + sizes[l] + 1;
    fann_get_connection_array(ann, con);
    for (unsigned int c = 0; c < n; c++) {
        unsigned int l = 0;
        while (l + 2 < n_layers && con[c].to_neuron >= first[l + 2]) l++;
        unsigned int j = con[c].to_neuron - first[l + 1], i = con[c].from_neuron - first[l];
        con[c].weight = i == sizes[l] ? b[l][j] : W[l][j * sizes[l] + i];
    }
    fann_set_weight_array(ann, con, n);
    free(con);
}

/* W1: the post's 2-2-1 network, per-sample SGD with lr 0.125, one of the 4 XOR samples drawn
 * uniformly per step; weights start uniform in [0, 1), drawn as xor.c draws them. */
static int run_xor(long steps, int repeats) {
    const unsigned int sizes[3] = {2, 2, 1};
    double X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, Y[4][1] = {{0}, {1}, {1}, {0}};
    double w0[4], b0[2], w1[2], b1[1], *W[2] = {w0, w1}, *B[2] = {b0, b1};
    double *times = malloc(sizeof(double) * (repeats > 0 ? repeats : 1)), final_mse = 0;
    struct fann *ann = create(3, sizes, 0.125);
    for (int r = 0; r < repeats; r++) {
        rng_state = 0x9E3779B97F4A7C15ULL;  /* same start and draws every repeat */
        for (int i = 0; i < 4; i++) w0[i] = rng_uniform();
        for (int i = 0; i < 2; i++) b0[i] = rng_uniform();
        for (int i = 0; i < 2; i++) w1[i] = rng_uniform();
        b1[0] = rng_uniform();
        set_weights(ann, 3, sizes, W, B);
        double t0 = now_s();
        for (long s = 0; s < steps; s++) {
            int k = (int)(rng_next() >> 62);
            fann_train(ann, X[k], Y[k]);
        }
        times[r] = now_s() - t0;
        final_mse = 0;  /* the loss after training: shows the loop did its work */
        for (int k = 0; k < 4; k++) {
            double e = fann_run(ann, X[k])[0] - Y[k][0];
            final_mse += 0.5 * e * e / 4;
        }
    }
    printf("{\"steps\": %ld, \"repeats\": %d, ", steps, repeats);
    print_times("times_s", times, repeats);
    printf(", \"final_loss\": %.9g}\n", final_mse);
    fann_destroy(ann);
    free(times);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "xor") == 0) return run_xor(atol(argv[2]), atoi(argv[3]));
    if (argc < 8 || (strcmp(argv[1], "train") && strcmp(argv[1], "forward"))
        || (strcmp(argv[1], "train") == 0 && argc < 9)) {
        fprintf(stderr, "usage: fann xor STEPS REPEATS\n"
                        "       fann train FILE N_TRAIN N_TEST N_ALL EPOCHS REPEATS LR\n"
                        "       fann forward FILE N_TRAIN N_TEST N_ALL CALLS REPEATS\n");
        return 2;
    }
    const unsigned int sizes[3] = {64, 32, 10};
    long n_train = atol(argv[3]), n_test = atol(argv[4]), n_all = atol(argv[5]);
    long count = atol(argv[6]);
    int repeats = atoi(argv[7]);
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 2; }
    double *Xtr = read_doubles(f, n_train * 64), *Ytr = read_doubles(f, n_train * 10);
    double *Xte = read_doubles(f, n_test * 64), *yte = read_doubles(f, n_test);
    double *Xall = read_doubles(f, n_all * 64);
    double *W[2], *B[2];
    W[0] = read_doubles(f, 32 * 64); B[0] = read_doubles(f, 32);
    W[1] = read_doubles(f, 10 * 32); B[1] = read_doubles(f, 10);
    double *orders = read_doubles(f, 30 * n_train);
    fclose(f);
    double *times = malloc(sizeof(double) * (repeats > 0 ? repeats : 1)), checksum = 0;

    if (strcmp(argv[1], "train") == 0) {
        if (count > 30) { fprintf(stderr, "fann: at most 30 epochs\n"); return 2; }
        struct fann *ann = create(3, sizes, atof(argv[8]));
        double accuracy = 0;
        for (int r = 0; r < repeats; r++) {
            set_weights(ann, 3, sizes, W, B);  /* the W2 start weights, every repeat */
            double t0 = now_s();
            for (long e = 0; e < count; e++) {
                const double *order = orders + e * n_train;
                for (long s = 0; s < n_train; s++) {
                    long row = (long)order[s];
                    fann_train(ann, Xtr + row * 64, Ytr + row * 10);
                }
            }
            times[r] = now_s() - t0;
            long right = 0;
            for (long s = 0; s < n_test; s++) {
                const double *out = fann_run(ann, Xte + s * 64);
                int best = 0;
                for (int j = 1; j < 10; j++) if (out[j] > out[best]) best = j;
                right += best == (int)yte[s];
            }
            accuracy = (double)right / (double)n_test;
        }
        printf("{\"epochs\": %ld, \"repeats\": %d, ", count, repeats);
        print_times("times_s", times, repeats);
        printf(", \"accuracy\": %.6f}\n", accuracy);
        fann_destroy(ann);
        return 0;
    }

    /* forward: one sample per call (cycling over the rows), then all rows */
    struct fann *ann = create(3, sizes, 0.1);
    set_weights(ann, 3, sizes, W, B);
    double *times_batch = malloc(sizeof(double) * (repeats > 0 ? repeats : 1));
    double *out = malloc(sizeof(double) * n_all * 10);
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        for (long c = 0; c < count; c++) checksum += fann_run(ann, Xall + (c % n_all) * 64)[0];
        times[r] = now_s() - t0;
        t0 = now_s();
        for (long s = 0; s < n_all; s++)
            memcpy(out + s * 10, fann_run(ann, Xall + s * 64), 10 * sizeof(double));
        times_batch[r] = now_s() - t0;
        checksum += out[(r * 7) % (n_all * 10)];
    }
    printf("{\"calls\": %ld, \"repeats\": %d, ", count, repeats);
    print_times("times_one_s", times, repeats);
    printf(", ");
    print_times("times_batch_s", times_batch, repeats);
    printf(", \"rows\": %ld, \"checksum\": %.9g}\n", n_all, checksum);
    fann_destroy(ann);
    return 0;
}
