/* MaxPooling2D and AveragePooling2D: output shapes (valid and TensorFlow's same), values
 * against windows computed in double, gradients, no parameters, errors. */
#include "nn_common.h"

NB_TEST_SUITE(pooling2d);

/* y for a window: the max, or the mean over the pixels inside the input. */
static void reference(const nb_tensor *x, bool max, int kh, int kw, int sh, int sw, int pt,
                      int pl, const nb_tensor *y, double *out)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = y->shape[2], Wo = y->shape[3];
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double acc = max ? -INFINITY : 0;
                int count = 0;
                for (int a = 0; a < kh; a++)
                    for (int b = 0; b < kw; b++) {
                        int64_t r = i * sh + a - pt, q = j * sw + b - pl;
                        if (r < 0 || r >= H || q < 0 || q >= W)
                            continue;
                        double v = x->data[(p * H + r) * W + q];
                        acc = max ? fmax(acc, v) : acc + v;
                        count++;
                    }
                out[(p * Ho + i) * Wo + j] = max ? acc : acc / count;
            }
}

static void check(bool max, nb_pooling2d_opts o, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                  int pt, int pl)
{
    nb_layer *l = max ? nb_max_pooling2d_new(o) : nb_average_pooling2d_new(o);
    nb_model *m = one_layer_model(l, NB_SHAPE(3, H, W));
    cr_assert_eq(nb_layer_param_count(l, false), 0);
    cr_assert_eq(nb_params_count(nb_model_params(m)), 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, H, W), -1, 1, 4, false);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(2, 3, Ho, Wo));
    const nb_pooling2d_opts *r = nb_layer_opts(l);
    double *want = malloc(sizeof(double) * (size_t)y->size);
    reference(x, max, r->pool_h, r->pool_w, r->stride_h, r->stride_w, pt, pl, y, want);
    assert_close(y->data, want, y->size, 1e-6, 1e-6, max ? "max pool" : "avg pool");
    free(want);
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(pooling2d, shapes_and_values)
{
    for (int max = 0; max < 2; max++) {
        check(max, (nb_pooling2d_opts){.pool_size = 2}, 6, 7, 3, 3, 0, 0);
        check(max, (nb_pooling2d_opts){.pool_size = 3, .strides = 1}, 5, 5, 3, 3, 0, 0);
        check(max, (nb_pooling2d_opts){.pool_h = 2, .pool_w = 3, .stride_w = 2}, 4, 9, 2, 4,
              0, 0);
        /* TensorFlow's same: ceil(7 / 2) = 4 with the odd pixel padded bottom/right. */
        check(max, (nb_pooling2d_opts){.pool_size = 2, .padding = NB_PADDING_SAME}, 7, 5, 4, 3,
              0, 0);
        /* 3x3 stride 1 same: one pixel each side, left out of the average. */
        check(max, (nb_pooling2d_opts){.pool_size = 3, .strides = 1,
                                       .padding = NB_PADDING_SAME}, 4, 5, 4, 5, 1, 1);
        check(max, (nb_pooling2d_opts){.pool_size = 3, .strides = 2,
                                       .padding = NB_PADDING_SAME}, 6, 5, 3, 3, 0, 1);
    }
}

Test(pooling2d, keras_names_and_default_pool)
{
    nb_layer *l = nb_max_pooling2d(0);
    const nb_pooling2d_opts *o = nb_layer_opts(l);
    cr_assert_eq(o->pool_h, 2);
    cr_assert_eq(o->stride_w, 2);
    nb_layer *a = nb_average_pooling2d(2);
    nb_model *m = nb_sequential(l, a);
    cr_assert_str_eq(nb_layer_name(l), "max_pooling2d");
    cr_assert_str_eq(nb_layer_type(l), "MaxPooling2D");
    cr_assert_str_eq(nb_layer_name(a), "average_pooling2d");
    cr_assert_str_eq(nb_layer_type(a), "AveragePooling2D");
    nb_model_free(m);
}

Test(pooling2d, gradient)
{
    for (int max = 0; max < 2; max++) {
        nb_pooling2d_opts cases[] = {{.pool_size = 2},
                                     {.pool_size = 3, .strides = 2, .padding = NB_PADDING_SAME},
                                     {.pool_h = 1, .pool_w = 2, .stride_h = 1}};
        for (int c = 0; c < 3; c++) {
            nb_layer *l = max ? nb_max_pooling2d_new(cases[c]) : nb_average_pooling2d_new(cases[c]);
            nb_model *m = one_layer_model(l, NB_SHAPE(2, 5, 7));
            /* Distinct values, so finite differences do not tie two maxima. */
            nb_tensor *xs = nb_tensor_zeros(NB_SHAPE(1, 2, 5, 7));
            for (int64_t i = 0; i < 70; i++)
                xs->data[i] = 0.1f * (float)((i * 37) % 70);
            nb_tensor_set_requires_grad(xs, true);
            assert_layer_gradcheck(l, xs, max ? "max pooling" : "average pooling");
            nb_tensor_free(xs);
            nb_model_free(m);
        }
    }
}

Test(pooling2d, errors)
{
    assert_error(nb_max_pooling2d(-1), NB_ERR_ARG,
                 "MaxPooling2D: pool -1x-1 and strides (-1, -1) must be >= 1");
    assert_error(nb_average_pooling2d(2, .padding = (nb_padding)5), NB_ERR_ARG,
                 "AveragePooling2D: unknown padding 5");
    assert_error(nb_max_pooling2d(2, .strides = 3, .padding = NB_PADDING_SAME), NB_ERR_ARG,
                 "MaxPooling2D: \"same\" padding needs strides (3, 3) no larger than the pool "
                 "2x2");
    nb_layer *l = nb_max_pooling2d(2);
    nb_model *m = nb_sequential_new(&l, 1, NULL);
    assert_status(nb_model_build(m, NB_SHAPE(3, 4)), NB_ERR_SHAPE,
                  "max_pooling2d: expected an input [N, C, H, W], got [1,3,4]");
    nb_model_free(m);
    /* A pool larger than the image: the op's message under the layer's name. */
    l = nb_max_pooling2d(4);
    m = nb_sequential_new(&l, 1, NULL);
    nb_status s = nb_model_build(m, NB_SHAPE(1, 3, 3));
    cr_assert_eq(s, NB_ERR_SHAPE);
    cr_assert(strncmp(nb_error(), "max_pooling2d: max_pool2d: ", 27) == 0, "%s", nb_error());
    nb_model_free(m);
}
