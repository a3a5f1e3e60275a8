/* A whole fit gives bit-identical weights, losses and moving statistics with 1 and 2
 * threads (a CNN and an MLP big enough to take the parallel paths). */
#include "fit_common.h"

NB_TEST_SUITE(fit_threads);

static float *fit_cnn(int threads, int64_t *n, double *loss)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(64, 3, 12, 12), -1, 1, 1);
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(64));
    for (int i = 0; i < 64; i++)  /* class: which colour plane is brightest on average */
        y->data[i] = (float)(i % 3), x->data[(i * 3 + i % 3) * 144] += 3;
    nb_layer *layers[] = {
        nb_conv2d_layer(16, .kernel_size = 3, .padding = NB_PADDING_SAME, .activation = NB_RELU),
        nb_batch_normalization(), nb_max_pooling2d(2),
        nb_conv2d_layer(8, .kernel_size = 3, .activation = NB_RELU),
        nb_global_average_pooling2d(), nb_dropout_layer(0.1f), nb_dense(3)};
    nb_model *m = nb_sequential_new(layers, 7, &(nb_model_opts){.seed = 5});
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_SPARSE_CATEGORICAL_CE, .from_logits = true,
                            .optimizer = NB_ADAM(.lr = 0.01f), .metrics = {NB_METRIC_ACCURACY}),
                 NB_OK);
    nb_history *h = nb_fit(m, x, y, .epochs = 3, .batch_size = 32, .seed = 2,
                           .validation_split = 0.25, .clip_norm = 5);
    cr_assert_not_null(h, "%s", nb_error());
    *loss = nb_history_values(h, "val_loss")[2];
    float *w = weights_of(m, n);
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    return w;
}

static float *fit_mlp(int threads, int64_t *n, double *loss)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_tensor *x, *y;
    circle_data(512, 3, &x, &y);
    nb_model *m = nb_sequential(nb_dense(300, .activation = NB_TANH), nb_dropout_layer(0.3f),
                                nb_dense(200, .activation = NB_RELU), nb_batch_normalization(),
                                nb_dense(1, .activation = NB_SIGMOID));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_SGD(.lr = 0.1f, .momentum = 0.9f),
                            .metrics = {NB_METRIC_ACCURACY}), NB_OK);
    nb_history *h = nb_fit(m, x, y, .epochs = 3, .batch_size = 128, .seed = 4);
    cr_assert_not_null(h, "%s", nb_error());
    *loss = nb_history_values(h, "loss")[2];
    float *w = weights_of(m, n);
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    return w;
}

static void check(float *(*fit)(int, int64_t *, double *), const char *what)
{
    int threads = nb_num_threads();
    int64_t n1, n2;
    double l1, l2;
    float *one = fit(1, &n1, &l1), *two = fit(2, &n2, &l2);
    nb_set_num_threads(threads);
    cr_assert_eq(n1, n2);
    cr_assert_eq(l1, l2, "%s: losses differ: %.17g vs %.17g", what, l1, l2);
    cr_assert_eq(memcmp(one, two, sizeof(float) * (size_t)n1), 0, "%s: weights differ", what);
    cr_assert(isfinite(l1));
    free(one);
    free(two);
}

Test(fit_threads, a_cnn_fit_is_bit_identical_for_1_and_2_threads) { check(fit_cnn, "cnn"); }
Test(fit_threads, an_mlp_fit_is_bit_identical_for_1_and_2_threads) { check(fit_mlp, "mlp"); }
