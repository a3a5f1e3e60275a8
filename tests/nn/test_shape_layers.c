/* Flatten, GlobalAveragePooling2D, Activation and Input: shapes, values, gradients, no
 * parameters, errors. */
#include "nn_common.h"

NB_TEST_SUITE(shape_layers);

Test(shape_layers, flatten)
{
    nb_model *m = one_layer_model(nb_flatten_layer(), NB_SHAPE(3, 4, 5));
    nb_layer *l = nb_model_layer_at(m, 0);
    cr_assert_str_eq(nb_layer_name(l), "flatten");
    cr_assert_eq(nb_layer_param_count(l, false), 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -1, 1, 1, true);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(2, 60));
    cr_assert_eq(memcmp(y->data, x->data, sizeof(float) * 120), 0, "row-major order kept");
    assert_layer_gradcheck(l, x, "flatten");
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(shape_layers, global_average_pooling2d)
{
    nb_model *m = one_layer_model(nb_global_average_pooling2d(), NB_SHAPE(3, 4, 5));
    nb_layer *l = nb_model_layer_at(m, 0);
    cr_assert_str_eq(nb_layer_name(l), "global_average_pooling2d");
    cr_assert_str_eq(nb_layer_type(l), "GlobalAveragePooling2D");
    cr_assert_eq(nb_layer_param_count(l, false), 0);
    cr_assert_eq(nb_params_count(nb_model_params(m)), 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -1, 1, 2, true);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(2, 3));
    double want[6];
    for (int p = 0; p < 6; p++) {
        want[p] = 0;
        for (int k = 0; k < 20; k++)
            want[p] += x->data[p * 20 + k] / 20.0;
    }
    assert_close(y->data, want, 6, 1e-6, 1e-6, "gap");
    assert_layer_gradcheck(l, x, "global average pooling");
    nb_tensor_free(x);
    nb_tensor *bad = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_model_free(m);
    nb_layer *g = nb_global_average_pooling2d();
    m = nb_sequential_new(&g, 1, NULL);
    assert_error(nb_model_forward(m, bad), NB_ERR_SHAPE,
                 "global_average_pooling2d: expected an input [N, C, H, W], got [1,3]");
    nb_tensor_free(bad);
    nb_model_free(m);
}

static nb_tensor *square(nb_tensor *x) { return nb_mul(x, x); }

Test(shape_layers, activation)
{
    for (nb_activation_kind k = NB_LINEAR; k < NB_ACTIVATION_COUNT; k++) {
        nb_model *m = one_layer_model(nb_activation(k), NB_SHAPE(5));
        nb_layer *l = nb_model_layer_at(m, 0);
        cr_assert_str_eq(nb_layer_type(l), "Activation");
        cr_assert_eq(nb_layer_param_count(l, false), 0);
        nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -2, 2, 3, true);
        nb_tensor *y = nb_model_forward(m, x);
        nb_tensor *want = nb_activate(x, k, NULL);
        cr_assert_not_null(y);
        cr_assert_eq(memcmp(y->data, want->data, sizeof(float) * 15), 0, "%s",
                     nb_activation_name(k));
        for (int i = 0; i < 15; i++)  /* off relu's kink */
            if (fabsf(x->data[i]) < 0.05f)
                x->data[i] = 0.5f;
        assert_layer_gradcheck(l, x, nb_activation_name(k));
        nb_tensor_free(x);
        nb_model_free(m);
    }
    /* softmax along the last axis: rows sum to 1 */
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 4), -2, 2, 4, false);
    nb_tensor *s = nb_activate(x, NB_SOFTMAX, NULL);
    for (int r = 0; r < 2; r++)
        cr_assert_float_eq(s->data[4 * r] + s->data[4 * r + 1] + s->data[4 * r + 2] +
                           s->data[4 * r + 3], 1.0, 1e-6);
    nb_tensor_free(x);

    /* A user function. */
    nb_model *m = one_layer_model(nb_activation(.fn = square, .fn_name = "square"), NB_SHAPE(3));
    x = rand_tensor(NB_SHAPE(2, 3), -2, 2, 5, true);
    nb_tensor *y = nb_model_forward(m, x);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(y->data[i], x->data[i] * x->data[i]);
    assert_layer_gradcheck(nb_model_layer_at(m, 0), x, "user activation");
    nb_tensor_free(x);
    nb_model_free(m);

    assert_error(nb_activation((nb_activation_kind)9), NB_ERR_ARG,
                 "Activation: unknown activation kind 9");
    assert_error(nb_activate(NULL, (nb_activation_kind)-1, NULL), NB_ERR_ARG,
                 "activate: unknown activation kind -1");
    cr_assert_null(nb_activation_name(NB_ACTIVATION_COUNT));
}

Test(shape_layers, input)
{
    nb_layer *in = nb_input(3, 4);
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    cr_assert(nb_input_shape(in, &ndim, shape));
    cr_assert_eq(ndim, 2);
    cr_assert_eq(shape[0], 3);
    cr_assert_eq(shape[1], 4);
    nb_layer *f = nb_flatten_layer();
    cr_assert(!nb_input_shape(f, &ndim, shape));
    nb_model *m = nb_sequential(in, f);
    /* An Input makes the model buildable on demand: summary builds it. */
    cr_assert(!nb_model_built(m));
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_eq(nb_model_summary(m, devnull), NB_OK, "%s", nb_error());
    fclose(devnull);
    cr_assert(nb_model_built(m));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 4));
    assert_shape(nb_model_forward(m, x), NB_SHAPE(2, 12));
    nb_tensor *bad = nb_tensor_zeros(NB_SHAPE(2, 4, 3));
    assert_error(nb_model_forward(m, bad), NB_ERR_SHAPE,
                 "input_layer: expected inputs [N,3,4], got [2,4,3]");
    nb_tensor_free(x);
    nb_tensor_free(bad);
    nb_model_free(m);

    assert_error(nb_input_new(0, NULL), NB_ERR_ARG, "Input: a sample needs 1 to 5 dimensions, got 0");
    assert_error(nb_input(2, -1), NB_ERR_ARG, "Input: dimension 1 is negative (-1)");
}
