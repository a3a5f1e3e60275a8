/* Dense: shapes, Keras's parameter count, store names, values against x W + b in
 * double, gradients through the layer, initializers and errors. */
#include "nn_common.h"

NB_TEST_SUITE(dense);

Test(dense, keras_parameter_count_and_names)
{
    /* Keras: Dense(25) on 2 features has 2 * 25 + 25 = 75 parameters. */
    nb_model *m = one_layer_model(nb_dense(25), NB_SHAPE(2));
    nb_layer *l = nb_model_layer_at(m, 0);
    cr_assert_eq(nb_layer_param_count(l, false), 75);
    cr_assert_eq(nb_layer_param_count(l, true), 75);
    const char *names[] = {"dense.kernel", "dense.bias"};
    const nb_param_kind kinds[] = {NB_PARAM, NB_PARAM};
    assert_store(m, names, kinds, 2);
    assert_shape(nb_layer_weight(l, "kernel"), NB_SHAPE(2, 25));
    assert_shape(nb_layer_weight(l, "bias"), NB_SHAPE(25));
    cr_assert_str_eq(nb_layer_type(l), "Dense");
    nb_model_free(m);

    /* Without bias: in * units. */
    m = one_layer_model(nb_dense(7, .no_bias = true), NB_SHAPE(3));
    cr_assert_eq(nb_layer_param_count(nb_model_layer_at(m, 0), false), 21);
    cr_assert_null(nb_layer_weight(nb_model_layer_at(m, 0), "bias"));
    nb_model_free(m);
}

/* y[n, u] = act(sum_k x[n, k] W[k, u] + b[u]) in double. */
static void check_values(nb_activation_kind act, int64_t N, int64_t K, int64_t U)
{
    nb_model *m = one_layer_model(nb_dense(U, .activation = act,
                                           .bias_initializer = NB_UNIFORM(-1, 1)),
                                  NB_SHAPE(K));
    nb_layer *l = nb_model_layer_at(m, 0);
    const nb_tensor *W = nb_layer_weight(l, "kernel"), *b = nb_layer_weight(l, "bias");
    nb_tensor *x = rand_tensor(NB_SHAPE(N, K), -2, 2, 5, false);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(N, U));
    double *want = malloc(sizeof(double) * (size_t)(N * U));
    for (int64_t n = 0; n < N; n++) {
        double z[64], zmax = -INFINITY, zsum = 0;
        for (int64_t u = 0; u < U; u++) {
            z[u] = b->data[u];
            for (int64_t k = 0; k < K; k++)
                z[u] += (double)x->data[n * K + k] * W->data[k * U + u];
            zmax = fmax(zmax, z[u]);
        }
        for (int64_t u = 0; u < U; u++)
            zsum += exp(z[u] - zmax);
        for (int64_t u = 0; u < U; u++) {
            double v = z[u];
            switch (act) {
            case NB_RELU: v = v > 0 ? v : 0; break;
            case NB_SIGMOID: v = 1 / (1 + exp(-v)); break;
            case NB_TANH: v = tanh(v); break;
            case NB_SOFTMAX: v = exp(v - zmax) / zsum; break;
            default: break;
            }
            want[n * U + u] = v;
        }
    }
    assert_close(y->data, want, N * U, 1e-5, 1e-5, nb_activation_name(act));
    free(want);
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(dense, values_for_every_activation)
{
    for (nb_activation_kind a = NB_LINEAR; a < NB_ACTIVATION_COUNT; a++)
        check_values(a, 5, 3, 4);
    check_values(NB_SIGMOID, 1, 1, 1);
    check_values(NB_TANH, 17, 9, 33);
}

static nb_tensor *swish(nb_tensor *x) { return nb_mul(x, nb_sigmoid(x)); }

Test(dense, user_activation_function)
{
    nb_model *m = one_layer_model(nb_dense(3, .activation_fn = swish), NB_SHAPE(2));
    nb_layer *l = nb_model_layer_at(m, 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 2), -2, 2, 1, false);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(4, 3));
    const nb_tensor *W = nb_layer_weight(l, "kernel");
    for (int n = 0; n < 4; n++)
        for (int u = 0; u < 3; u++) {
            double z = (double)x->data[2 * n] * W->data[u] + (double)x->data[2 * n + 1] * W->data[3 + u];
            double want = z / (1 + exp(-z));
            cr_assert_float_eq(y->data[3 * n + u], want, 1e-5);
        }
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(dense, gradient_through_the_layer)
{
    /* Odd sizes, rank 3 (batched matmul) and rank 4 (through reshape). */
    const int64_t shapes[][4] = {{1, 1}, {3, 5}, {17, 3}, {2, 3, 5}, {2, 1, 3, 4}};
    const int ranks[] = {2, 2, 2, 3, 4};
    const int64_t units[] = {1, 7, 2, 3, 5};
    const nb_activation_kind acts[] = {NB_SIGMOID, NB_TANH, NB_SOFTMAX, NB_LINEAR, NB_SIGMOID};
    for (int c = 0; c < 5; c++) {
        nb_model *m = one_layer_model(nb_dense(units[c], .activation = acts[c],
                                               .bias_initializer = NB_UNIFORM(-0.5f, 0.5f)),
                                      1, &shapes[c][ranks[c] - 1]);
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], -1, 1, 10 + c, true);
        nb_tensor *y = nb_model_forward(m, x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->shape[ranks[c] - 1], units[c]);
        for (int d = 0; d < ranks[c] - 1; d++)
            cr_assert_eq(y->shape[d], shapes[c][d]);
        assert_layer_gradcheck(nb_model_layer_at(m, 0), x, "dense");
        nb_tensor_free(x);
        nb_model_free(m);
    }
}

Test(dense, glorot_uniform_kernel_and_zero_bias_by_default)
{
    nb_model *m = one_layer_model(nb_dense(300), NB_SHAPE(200));
    nb_layer *l = nb_model_layer_at(m, 0);
    const nb_tensor *W = nb_layer_weight(l, "kernel"), *b = nb_layer_weight(l, "bias");
    double limit = sqrt(6.0 / 500.0), s = 0, s2 = 0;
    for (int64_t i = 0; i < W->size; i++) {
        cr_assert(fabsf(W->data[i]) <= limit, "W[%lld] = %g beyond %g", (long long)i,
                  W->data[i], limit);
        s += W->data[i];
        s2 += (double)W->data[i] * W->data[i];
    }
    double mean = s / (double)W->size, var = s2 / (double)W->size - mean * mean;
    cr_assert_lt(fabs(mean), 0.002);
    cr_assert_float_eq(var, limit * limit / 3, 0.02 * limit * limit);
    for (int64_t i = 0; i < b->size; i++)
        cr_assert_eq(b->data[i], 0.0f);
    nb_model_free(m);
}

Test(dense, torch_default_draws_kernel_and_bias_from_fan_in)
{
    nb_model *m = one_layer_model(nb_dense(64, .kernel_initializer = NB_TORCH_DEFAULT,
                                           .bias_initializer = NB_TORCH_DEFAULT),
                                  NB_SHAPE(100));
    nb_layer *l = nb_model_layer_at(m, 0);
    const nb_tensor *W = nb_layer_weight(l, "kernel"), *b = nb_layer_weight(l, "bias");
    double bound = 1.0 / sqrt(100.0), wmax = 0, bmax = 0;
    for (int64_t i = 0; i < W->size; i++)
        wmax = fmax(wmax, fabs(W->data[i]));
    for (int64_t i = 0; i < b->size; i++)
        bmax = fmax(bmax, fabs(b->data[i]));
    cr_assert_leq(wmax, bound);
    cr_assert_gt(wmax, 0.95 * bound, "the bound is reached: %g of %g", wmax, bound);
    cr_assert_leq(bmax, bound);
    cr_assert_gt(bmax, 0.8 * bound, "the bias uses the kernel's fan_in: %g of %g", bmax, bound);
    nb_model_free(m);
}

Test(dense, the_same_seed_gives_the_same_weights)
{
    nb_model *a = one_layer_model(nb_dense(8), NB_SHAPE(5));
    nb_model *b = one_layer_model(nb_dense(8), NB_SHAPE(5));
    nb_layer *l = nb_dense(8);
    nb_model *c = nb_sequential_new(&l, 1, &(nb_model_opts){.seed = 99});
    cr_assert_eq(nb_model_build(c, NB_SHAPE(5)), NB_OK, "%s", nb_error());
    int64_t n = nb_params_numel(nb_model_params(a), NB_PARAM);
    cr_assert_eq(memcmp(nb_params_values(nb_model_params(a)), nb_params_values(nb_model_params(b)),
                        sizeof(float) * (size_t)n), 0);
    cr_assert_neq(memcmp(nb_params_values(nb_model_params(a)), nb_params_values(nb_model_params(c)),
                         sizeof(float) * 40), 0, "another seed draws other weights");
    nb_model_free(a);
    nb_model_free(b);
    nb_model_free(c);
}

Test(dense, errors)
{
    assert_error(nb_dense(0), NB_ERR_ARG, "Dense: units must be >= 1, got 0");
    assert_error(nb_dense(3, .activation = (nb_activation_kind)42), NB_ERR_ARG,
                 "Dense: unknown activation kind 42");

    /* Built for 2 features, called on 3. */
    nb_model *m = one_layer_model(nb_dense(4), NB_SHAPE(2));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(5, 3));
    assert_error(nb_model_forward(m, x), NB_ERR_SHAPE,
                 "dense: expected an input [..., 2] (the features it was built for), got [5,3]");
    nb_tensor_free(x);
    nb_model_free(m);

    /* A rank-1 input cannot build it. */
    nb_layer *l = nb_dense(4);
    m = nb_sequential_new(&l, 1, NULL);
    x = nb_tensor_zeros(NB_SHAPE(5));
    assert_error(nb_model_forward(m, x), NB_ERR_SHAPE,
                 "dense: expected an input [N, features], got [1]");
    nb_tensor_free(x);
    nb_model_free(m);
}
