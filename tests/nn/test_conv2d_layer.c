/* Conv2D layer: Keras's parameter count, names, output shapes for valid/same padding,
 * strides, dilation and groups, values against a direct convolution in double,
 * gradients through the layer, errors. */
#include "nn_common.h"

NB_TEST_SUITE(conv2d_layer);

Test(conv2d_layer, keras_parameter_count_and_names)
{
    /* Keras: Conv2D(32, 3) on 1 channel has 32 * 1 * 3 * 3 + 32 = 320 parameters. */
    nb_model *m = one_layer_model(nb_conv2d_layer(32, .kernel_size = 3), NB_SHAPE(1, 28, 28));
    nb_layer *l = nb_model_layer_at(m, 0);
    cr_assert_eq(nb_layer_param_count(l, false), 320);
    const char *names[] = {"conv2d.kernel", "conv2d.bias"};
    const nb_param_kind kinds[] = {NB_PARAM, NB_PARAM};
    assert_store(m, names, kinds, 2);
    assert_shape(nb_layer_weight(l, "kernel"), NB_SHAPE(32, 1, 3, 3));
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    cr_assert(nb_layer_output_shape(l, &ndim, shape));
    cr_assert_eq(ndim, 4);
    cr_assert_eq(shape[1], 32);
    cr_assert_eq(shape[2], 26);
    cr_assert_eq(shape[3], 26);
    nb_model_free(m);

    /* Grouped, without bias: 8 * (6 / 2) * 5 * 3. */
    m = one_layer_model(nb_conv2d_layer(8, .kernel_h = 5, .kernel_w = 3, .groups = 2,
                                        .no_bias = true), NB_SHAPE(6, 9, 9));
    cr_assert_eq(nb_layer_param_count(nb_model_layer_at(m, 0), false), 360);
    nb_model_free(m);
}

/* Output shape of Conv2D on [2, C, H, W] with the given options. */
static void check_shape(nb_conv2d_layer_opts o, int64_t C, int64_t H, int64_t W, int64_t Ho,
                        int64_t Wo)
{
    nb_model *m = one_layer_model(nb_conv2d_layer_new(o), NB_SHAPE(C, H, W));
    nb_tensor *x = rand_tensor(NB_SHAPE(2, C, H, W), -1, 1, 3, false);
    assert_shape(nb_model_forward(m, x), NB_SHAPE(2, o.filters, Ho, Wo));
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(conv2d_layer, output_shapes)
{
    check_shape((nb_conv2d_layer_opts){.filters = 4, .kernel_size = 3}, 2, 7, 9, 5, 7);
    check_shape((nb_conv2d_layer_opts){.filters = 4, .kernel_size = 3,
                                       .padding = NB_PADDING_SAME}, 2, 7, 9, 7, 9);
    /* same with stride 2: ceil(7 / 2) = 4, ceil(9 / 2) = 5 */
    check_shape((nb_conv2d_layer_opts){.filters = 3, .kernel_size = 3, .strides = 2,
                                       .padding = NB_PADDING_SAME}, 1, 7, 9, 4, 5);
    /* dilation 2: an effective 5x5 kernel */
    check_shape((nb_conv2d_layer_opts){.filters = 2, .kernel_size = 3, .dilation_rate = 2},
                3, 8, 8, 4, 4);
    /* stride_h only */
    check_shape((nb_conv2d_layer_opts){.filters = 2, .kernel_size = 1, .stride_h = 3}, 1, 7,
                5, 3, 5);
}

/* y[n,f,i,j] = act(b[f] + sum_{c in group, a, b} x[n, c, i s + a d - p, ...] w[f, c', a, b]). */
static void reference(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b, int s, int d,
                      int pt, int pl, int G, const nb_tensor *y, double *out)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t F = w->shape[0], Cg = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    int64_t Ho = y->shape[2], Wo = y->shape[3], Fg = F / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++) {
                    double acc = b ? b->data[f] : 0;
                    int64_t g = f / Fg;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t e = 0; e < kw; e++) {
                                int64_t r = i * s + a * d - pt, q = j * s + e * d - pl;
                                if (r < 0 || r >= H || q < 0 || q >= W)
                                    continue;
                                acc += (double)x->data[((n * C + g * Cg + c) * H + r) * W + q] *
                                       w->data[((f * Cg + c) * kh + a) * kw + e];
                            }
                    out[((n * F + f) * Ho + i) * Wo + j] = acc > 0 ? acc : 0; /* relu */
                }
}

static void check_values(nb_conv2d_layer_opts o, int64_t C, int64_t H, int64_t W, int pt,
                         int pl)
{
    o.activation = NB_RELU;
    o.bias_initializer = NB_UNIFORM(-0.3f, 0.3f);
    nb_model *m = one_layer_model(nb_conv2d_layer_new(o), NB_SHAPE(C, H, W));
    nb_layer *l = nb_model_layer_at(m, 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, C, H, W), -1, 1, 7, false);
    nb_tensor *y = nb_model_forward(m, x);
    cr_assert_not_null(y, "%s", nb_error());
    double *want = malloc(sizeof(double) * (size_t)y->size);
    int s = o.strides ? o.strides : 1, d = o.dilation_rate ? o.dilation_rate : 1;
    reference(x, nb_layer_weight(l, "kernel"), nb_layer_weight(l, "bias"), s, d, pt, pl,
              o.groups ? o.groups : 1, y, want);
    assert_close(y->data, want, y->size, 1e-5, 1e-5, "conv2d layer");
    free(want);
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(conv2d_layer, values_against_a_direct_convolution)
{
    check_values((nb_conv2d_layer_opts){.filters = 3, .kernel_size = 3}, 2, 6, 5, 0, 0);
    /* same, 3x3, stride 1: one pixel each side */
    check_values((nb_conv2d_layer_opts){.filters = 2, .kernel_size = 3,
                                        .padding = NB_PADDING_SAME}, 1, 5, 5, 1, 1);
    /* same, 2x2 kernel: the odd pixel goes bottom/right, so top/left pad 0 */
    check_values((nb_conv2d_layer_opts){.filters = 2, .kernel_size = 2,
                                        .padding = NB_PADDING_SAME}, 1, 4, 5, 0, 0);
    check_values((nb_conv2d_layer_opts){.filters = 4, .kernel_size = 3, .groups = 2,
                                        .strides = 2, .dilation_rate = 1}, 4, 9, 7, 0, 0);
    check_values((nb_conv2d_layer_opts){.filters = 2, .kernel_size = 2, .dilation_rate = 2},
                 3, 6, 6, 0, 0);
}

Test(conv2d_layer, gradient_through_the_layer)
{
    nb_conv2d_layer_opts cases[] = {
        {.filters = 2, .kernel_size = 3, .activation = NB_TANH},
        {.filters = 3, .kernel_size = 3, .padding = NB_PADDING_SAME, .strides = 2},
        {.filters = 2, .kernel_h = 1, .kernel_w = 3, .groups = 2, .activation = NB_SIGMOID},
        {.filters = 1, .kernel_size = 2, .dilation_rate = 2, .no_bias = true},
    };
    const int64_t C[] = {1, 3, 2, 1};
    for (int c = 0; c < 4; c++) {
        cases[c].bias_initializer = NB_UNIFORM(-0.2f, 0.2f);
        nb_model *m = one_layer_model(nb_conv2d_layer_new(cases[c]), NB_SHAPE(C[c], 5, 6));
        nb_tensor *x = rand_tensor(NB_SHAPE(2, C[c], 5, 6), -1, 1, 20 + c, true);
        assert_layer_gradcheck(nb_model_layer_at(m, 0), x, "conv2d layer");
        nb_tensor_free(x);
        nb_model_free(m);
    }
}

Test(conv2d_layer, errors)
{
    assert_error(nb_conv2d_layer(0, .kernel_size = 3), NB_ERR_ARG,
                 "Conv2D: filters must be >= 1, got 0");
    assert_error(nb_conv2d_layer(4), NB_ERR_ARG,
                 "Conv2D: the kernel must be at least 1x1, got 0x0 (set kernel_size)");
    assert_error(nb_conv2d_layer(3, .kernel_size = 3, .groups = 2), NB_ERR_ARG,
                 "Conv2D: filters 3 is not a multiple of groups 2");
    assert_error(nb_conv2d_layer(4, .kernel_size = 3, .strides = -1), NB_ERR_ARG,
                 "Conv2D: strides (-1, -1), dilation_rate 1 and groups 1 must be >= 1");
    assert_error(nb_conv2d_layer(4, .kernel_size = 3, .padding = (nb_padding)7), NB_ERR_ARG,
                 "Conv2D: unknown padding 7");

    /* Channels not a multiple of groups, a 2-D input, other channels after build. */
    nb_layer *l = nb_conv2d_layer(4, .kernel_size = 1, .groups = 2);
    nb_model *m = nb_sequential_new(&l, 1, NULL);
    assert_status(nb_model_build(m, NB_SHAPE(3, 4, 4)), NB_ERR_SHAPE,
                  "conv2d: input channels 3 (of [1,3,4,4]) are not a multiple of groups 2");
    nb_model_free(m);
    l = nb_conv2d_layer(4, .kernel_size = 1);
    m = nb_sequential_new(&l, 1, NULL);
    assert_status(nb_model_build(m, NB_SHAPE(3)), NB_ERR_SHAPE,
                  "conv2d: expected an input [N, C, H, W], got [1,3]");
    nb_model_free(m);
    m = one_layer_model(nb_conv2d_layer(4, .kernel_size = 3), NB_SHAPE(2, 5, 5));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(1, 3, 5, 5));
    assert_error(nb_model_forward(m, x), NB_ERR_SHAPE,
                 "conv2d: expected an input [N, 2, H, W] (the channels it was built for), got "
                 "[1,3,5,5]");
    nb_tensor_free(x);
    /* A kernel larger than the image: the op's message, prefixed with the layer. */
    x = nb_tensor_zeros(NB_SHAPE(1, 2, 2, 2));
    assert_error(nb_model_forward(m, x), NB_ERR_SHAPE,
                 "conv2d: conv2d: kernel 3x3 (dilation 1x1, extent 3x3) is larger than the "
                 "padded input 2x2 of [1,2,2,2]");
    nb_tensor_free(x);
    nb_model_free(m);
}
