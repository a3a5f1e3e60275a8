/*
 * tests/dist/test_dist_fit.c - fit made data-parallel by nb_dist_fit_hooks, under
 *     mpirun -np 2 ./test_dist_fit
 * (a plain program, like test_dist.c). Exits 0 only if every check held on every rank.
 *
 * 1. 2 ranks x batch 16 train like 1 process x batch 32: the shards of a step together
 *    are the samples of the single process's step, so only the order of the sums differs
 *    (the averaged gradient against one mean over 32). Over 3 epochs of SGD the weights
 *    agree within 1e-5 relative, checked at 2e-5 + 2e-6 absolute; the loss in the
 *    history agrees to 1e-5.
 * 2. the weights are the same bits on every rank, and a second run repeats the first.
 * 3. early stopping stops every rank at the same epoch (their logs are the same).
 * 4. a callback failing on rank 1 stops both ranks with rank 1's message.
 * 5. only rank 0 prints the per-epoch lines.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nabla.h"
#include "nabla/dist.h"

static int rank, failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "rank %d: %s:%d: ", rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)

enum { N = 512 };

static void circle(nb_tensor **x, nb_tensor **y)
{
    *x = nb_tensor_rand(NB_SHAPE(N, 2), -1, 1, 1);
    *y = nb_tensor_zeros(NB_SHAPE(N, 1));
    for (int64_t i = 0; i < N; i++) {
        float a = (*x)->data[2 * i] - 0.3f, b = (*x)->data[2 * i + 1] - 0.2f;
        (*y)->data[i] = a * a + b * b < 0.25f ? 1.0f : 0.0f;
    }
}

static nb_model *model(uint64_t seed)
{
    nb_model *m = nb_sequential_new((nb_layer *[]){nb_dense(16, .activation = NB_TANH),
                                                   nb_dense(1, .activation = NB_SIGMOID)},
                                    2, &(nb_model_opts){.seed = seed});
    if (!m || nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_SGD(.lr = 0.5f),
                         .metrics = {NB_METRIC_ACCURACY}) != NB_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, nb_error());
        exit(2);
    }
    return m;
}

static float *weights(nb_model *m, int64_t *n)
{
    nb_params *ps = nb_model_params(m);
    *n = nb_params_numel(ps, NB_PARAM);
    float *w = malloc((size_t)*n * sizeof(float));
    memcpy(w, nb_params_values(ps), (size_t)*n * sizeof(float));
    return w;
}

/* ---- a callback that fails on rank 1 at the end of epoch 1 ---- */

static nb_status fail_on_rank1(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    (void)cb, (void)m, (void)logs;
    if (rank == 1 && epoch == 1)
        return nb_set_error(NB_ERR_IO, "save: disk full on rank 1");
    return NB_OK;
}

int main(int argc, char **argv)
{
    nb_dist *d = nb_dist_init(&argc, &argv);
    if (!d) {
        fprintf(stderr, "test_dist_fit: %s\n", nb_error());
        return 1;
    }
    rank = nb_dist_rank(d);
    int R = nb_dist_size(d);
    nb_set_num_threads(1);
    nb_fit_hooks hooks;
    CHECK(nb_dist_fit_hooks(d, &hooks) == NB_OK, "%s", nb_error());
    nb_tensor *x, *y;
    circle(&x, &y);

    /* 1 and 2: distributed against one process; bits across ranks and runs. */
    nb_model *a = model(3 + (uint64_t)rank); /* rank 0's initial weights are broadcast */
    char out_name[64];
    snprintf(out_name, sizeof out_name, "/tmp/nabla-dist-fit-%d-%ld.txt", rank, (long)getpid());
    FILE *out = fopen(out_name, "w+");
    nb_history *ha = nb_fit(a, x, y, .epochs = 3, .batch_size = 16, .seed = 9, .hooks = &hooks,
                            .verbose = 2, .out = out);
    CHECK(ha != NULL, "%s", nb_error());
    nb_model *b = model(3);
    nb_history *hb = nb_fit(b, x, y, .epochs = 3, .batch_size = 16, .seed = 9, .hooks = &hooks);
    nb_model *one = model(3);
    nb_history *h1 = nb_fit(one, x, y, .epochs = 3, .batch_size = 16 * R, .seed = 9);
    CHECK(hb && h1, "%s", nb_error());
    int64_t n;
    float *wa = weights(a, &n), *wb = weights(b, &n), *w1 = weights(one, &n);
    CHECK(memcmp(wa, wb, (size_t)n * sizeof(float)) == 0, "a second run differs");
    float *w0 = malloc((size_t)n * sizeof(float));
    memcpy(w0, wa, (size_t)n * sizeof(float));
    MPI_Bcast(w0, (int)n, MPI_FLOAT, 0, nb_dist_comm(d));
    CHECK(memcmp(w0, wa, (size_t)n * sizeof(float)) == 0, "the weights differ from rank 0's");
    double worst = 0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)wa[i] - w1[i]) / (2e-6 + 2e-5 * fabs(w1[i])));
    CHECK(worst <= 1.0, "%d ranks x 16 differ from 1 process x %d: worst %.2f of the "
          "tolerance", R, 16 * R, worst);
    const double *la = nb_history_values(ha, "loss"), *l1 = nb_history_values(h1, "loss");
    for (int e = 0; e < 3; e++)
        CHECK(fabs(la[e] - l1[e]) <= 1e-5, "epoch %d loss %.7f vs %.7f", e, la[e], l1[e]);
    CHECK(la[2] < la[0], "training did not lower the loss: %g -> %g", la[0], la[2]);

    /* 5: only rank 0 wrote its per-epoch lines. */
    fflush(out);
    long size = ftell(out);
    CHECK(rank == 0 ? size > 0 : size == 0, "rank %d printed %ld bytes", rank, size);
    fclose(out);
    remove(out_name);

    /* 3: early stopping decides the same everywhere. */
    nb_model *c = model(4);
    nb_callback *es = nb_early_stopping(.monitor = "loss", .patience = 1, .min_delta = 0.05);
    nb_history *hc = nb_fit(c, x, y, .epochs = 40, .batch_size = 16, .seed = 1, .hooks = &hooks,
                            .callbacks = {es});
    CHECK(hc != NULL, "%s", nb_error());
    double stopped = (double)nb_history_epochs(hc), sum = stopped;
    nb_dist_sum(d, &sum, 1);
    CHECK(sum == stopped * R, "ranks stopped at different epochs");
    CHECK(stopped < 40, "early stopping never stopped");

    /* 4: one rank's callback error stops every rank with its message. */
    nb_model *f = model(5);
    nb_callback bad = {.on_epoch_end = fail_on_rank1};
    nb_history *hf = nb_fit(f, x, y, .epochs = 5, .batch_size = 16, .hooks = &hooks,
                            .callbacks = {&bad});
    CHECK(hf == NULL, "fit went on after rank 1 failed");
    CHECK(nb_error_code() == NB_ERR_IO &&
          strcmp(nb_error(), "rank 1: save: disk full on rank 1") == 0, "message: %s",
          nb_error());

    nb_history *hs[] = {ha, hb, h1, hc};
    for (int i = 0; i < 4; i++)
        nb_history_free(hs[i]);
    nb_model *ms[] = {a, b, one, c, f};
    for (int i = 0; i < 5; i++)
        nb_model_free(ms[i]);
    nb_callback_free(es);
    free(wa), free(wb), free(w1), free(w0);
    nb_tensor_free(x);
    nb_tensor_free(y);
    int bad_total = 0;
    MPI_Allreduce(&failures, &bad_total, 1, MPI_INT, MPI_SUM, nb_dist_comm(d));
    if (rank == 0)
        printf("test_dist_fit: %d ranks, %s (worst weight error %.3f of the tolerance)\n", R,
               bad_total ? "FAILED" : "all checks passed", worst);
    nb_dist_free(d);
    nb_memory_release();
    return bad_total ? 1 : 0;
}
