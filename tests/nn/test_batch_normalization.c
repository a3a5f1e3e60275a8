/* BatchNormalization: Keras's parameter counts (trainable and not), the store's names
 * and kinds, batch statistics in training with Keras's momentum, moving statistics in
 * inference, gradients in both modes, center/scale off, errors. */
#include "nn_common.h"

NB_TEST_SUITE(batch_normalization);

Test(batch_normalization, counts_names_and_kinds)
{
    /* Keras: BatchNormalization on 3 channels has 12 weights, 6 of them non-trainable. */
    nb_model *m = one_layer_model(nb_batch_normalization(), NB_SHAPE(3, 4, 4));
    nb_layer *l = nb_model_layer_at(m, 0);
    cr_assert_eq(nb_layer_param_count(l, false), 12);
    cr_assert_eq(nb_layer_param_count(l, true), 6);
    const char *names[] = {"batch_normalization.gamma", "batch_normalization.beta",
                           "batch_normalization.moving_mean",
                           "batch_normalization.moving_variance"};
    const nb_param_kind kinds[] = {NB_PARAM, NB_PARAM, NB_BUFFER, NB_BUFFER};
    assert_store(m, names, kinds, 4);
    for (int c = 0; c < 3; c++) {
        cr_assert_eq(nb_layer_weight(l, "gamma")->data[c], 1.0f);
        cr_assert_eq(nb_layer_weight(l, "beta")->data[c], 0.0f);
        cr_assert_eq(nb_layer_weight(l, "moving_mean")->data[c], 0.0f);
        cr_assert_eq(nb_layer_weight(l, "moving_variance")->data[c], 1.0f);
    }
    const nb_batch_normalization_opts *o = nb_layer_opts(l);
    cr_assert_float_eq(o->momentum, 0.99f, 0);
    cr_assert_float_eq(o->epsilon, 1e-3f, 0);
    nb_model_free(m);

    /* center and scale off: gamma and beta stay, untrained. */
    m = one_layer_model(nb_batch_normalization(.no_center = true, .no_scale = true), NB_SHAPE(5));
    cr_assert_eq(nb_layer_param_count(nb_model_layer_at(m, 0), false), 20);
    cr_assert_eq(nb_layer_param_count(nb_model_layer_at(m, 0), true), 0);
    nb_model_free(m);
}

/* Training normalises with the batch's statistics and moves the moving ones by
 * (1 - momentum); inference uses the moving ones. */
Test(batch_normalization, training_and_inference)
{
    nb_model *m = one_layer_model(nb_batch_normalization(.momentum = 0.9f, .epsilon = 1e-5f),
                                  NB_SHAPE(2, 3, 3));
    nb_layer *l = nb_model_layer_at(m, 0);
    nb_tensor *gamma = nb_layer_weight(l, "gamma"), *beta = nb_layer_weight(l, "beta");
    gamma->data[0] = 2.0f, gamma->data[1] = 0.5f, beta->data[0] = 0.1f, beta->data[1] = -1.0f;
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 2, 3, 3), -1, 3, 8, false);
    double mean[2] = {0}, var[2] = {0};
    for (int c = 0; c < 2; c++) {
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 9; k++)
                mean[c] += x->data[(n * 2 + c) * 9 + k] / 36.0;
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 9; k++) {
                double d = x->data[(n * 2 + c) * 9 + k] - mean[c];
                var[c] += d * d / 36.0;
            }
    }
    nb_model_set_training(m, true);
    nb_tensor *y = nb_model_forward(m, x);
    cr_assert_not_null(y, "%s", nb_error());
    double want[72];
    for (int n = 0; n < 4; n++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 9; k++) {
                int i = (n * 2 + c) * 9 + k;
                want[i] = gamma->data[c] * (x->data[i] - mean[c]) / sqrt(var[c] + 1e-5) +
                          beta->data[c];
            }
    assert_close(y->data, want, 72, 1e-5, 1e-5, "bn training");
    /* moving = 0.9 moving + 0.1 batch (unbiased variance for the moving one). */
    const nb_tensor *mm = nb_layer_weight(l, "moving_mean"), *mv = nb_layer_weight(l, "moving_variance");
    for (int c = 0; c < 2; c++) {
        cr_assert_float_eq(mm->data[c], 0.1 * mean[c], 1e-6);
        cr_assert_float_eq(mv->data[c], 0.9 + 0.1 * var[c] * 36 / 35, 1e-6);
    }
    nb_model_step_reset(m);

    nb_model_set_training(m, false);
    y = nb_model_forward(m, x);
    for (int n = 0; n < 4; n++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 9; k++) {
                int i = (n * 2 + c) * 9 + k;
                want[i] = gamma->data[c] * (x->data[i] - mm->data[c]) / sqrt(mv->data[c] + 1e-5) +
                          beta->data[c];
            }
    assert_close(y->data, want, 72, 1e-5, 1e-5, "bn inference");
    cr_assert_float_eq(mm->data[0], 0.1 * mean[0], 1e-6, "inference leaves the moving mean");
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(batch_normalization, gradient_in_both_modes)
{
    for (int training = 0; training < 2; training++) {
        const int64_t shapes[][4] = {{3, 5}, {2, 3, 2, 3}};
        for (int c = 0; c < 2; c++) {
            int rank = c == 0 ? 2 : 4;
            nb_layer *l = nb_batch_normalization(.gamma_initializer = NB_UNIFORM(0.5f, 1.5f),
                                                 .beta_initializer = NB_UNIFORM(-1, 1));
            nb_model *m = one_layer_model(l, rank - 1, shapes[c] + 1);
            nb_model_set_training(m, training);
            nb_tensor *x = rand_tensor(rank, shapes[c], -1, 1, 40 + c, true);
            assert_layer_gradcheck(l, x, training ? "bn training" : "bn inference");
            nb_tensor_free(x);
            nb_model_free(m);
        }
    }
}

Test(batch_normalization, errors)
{
    assert_error(nb_batch_normalization(.momentum = 1.5f), NB_ERR_ARG,
                 "BatchNormalization: momentum must be in [0, 1], got 1.5");
    assert_error(nb_batch_normalization(.epsilon = -1), NB_ERR_ARG,
                 "BatchNormalization: epsilon must be > 0, got -1");
    nb_layer *l = nb_batch_normalization();
    nb_model *m = nb_sequential_new(&l, 1, NULL);
    assert_status(nb_model_build(m, NB_SHAPE(2, 3)), NB_ERR_SHAPE,
                  "batch_normalization: expected an input [N, C] or [N, C, H, W], got [1,2,3]");
    nb_model_free(m);
    m = one_layer_model(nb_batch_normalization(), NB_SHAPE(4));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 5));
    assert_error(nb_model_forward(m, x), NB_ERR_SHAPE,
                 "batch_normalization: expected an input [N, 4] or [N, 4, H, W] (the channels it "
                 "was built for), got [2,5]");
    /* One value per channel in training: the op's error under the layer's name. */
    nb_tensor *one = nb_tensor_zeros(NB_SHAPE(1, 4));
    nb_model_set_training(m, true);
    assert_error(nb_model_forward(m, one), NB_ERR_SHAPE,
                 "batch_normalization: batch_norm: expected more than 1 value per channel");
    nb_tensor_free(x);
    nb_tensor_free(one);
    nb_model_free(m);
}
