/* softmax: forward against the formula in double, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(softmax);

static nb_tensor *f_softmax(nb_tensor *const *in, void *ud)
{
    return nb_softmax(in[0], *(const int *)ud);
}

/* want = softmax of x along `axis` (in [0, ndim)): each lane by its own loop in double. */
static void ref_softmax(const nb_tensor *x, int axis, double *want)
{
    int64_t stride = 1;
    for (int d = axis + 1; d < x->ndim; d++)
        stride *= x->shape[d];
    int64_t L = x->shape[axis];
    for (int64_t k = 0; k < x->size; k++) {
        if (k / stride % L != 0)
            continue; /* k starts a lane */
        double m = -INFINITY, s = 0;
        for (int64_t l = 0; l < L; l++)
            m = fmax(m, x->data[k + l * stride]);
        for (int64_t l = 0; l < L; l++)
            s += exp(x->data[k + l * stride] - m);
        for (int64_t l = 0; l < L; l++)
            want[k + l * stride] = exp(x->data[k + l * stride] - m) / s;
    }
}

Test(softmax, forward_every_axis)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -5, 5, 1, false);
    double want[120];
    for (int axis = -4; axis < 4; axis++) {
        nb_tensor *y = nb_softmax(x, axis);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y));
        ref_softmax(x, (axis + 4) % 4, want);
        assert_close(y->data, want, 120, 1e-7, 1e-5, "softmax");
    }
    nb_tensor_free(x);
}

Test(softmax, forward_edge_values)
{
    /* Large values stay finite (max subtraction), rows sum to 1, -inf gives 0. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(4, 2), (float[]){1000, 1001, -1000, -1001, 0,
                                                             -INFINITY, 88, -88});
    nb_tensor *y = nb_softmax(x, 1);
    cr_assert_not_null(y, "%s", nb_error());
    double want[8];
    ref_softmax(x, 1, want);
    cr_assert_eq(want[4], 1.0);
    assert_close(y->data, want, 8, 1e-7, 1e-6, "softmax edge");
    for (int i = 0; i < 4; i++) {
        cr_assert(isfinite(y->data[2 * i]) && isfinite(y->data[2 * i + 1]));
        cr_assert_float_eq(y->data[2 * i] + y->data[2 * i + 1], 1.0f, 1e-6);
    }
    /* A size-1 axis gives ones; a 1-D tensor is one lane. */
    nb_tensor *c = rand_tensor(NB_SHAPE(3, 1), -5, 5, 2, false);
    y = nb_softmax(c, -1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(y->data[i], 1.0f);
    nb_tensor *v = nb_tensor_from(NB_SHAPE(3), (float[]){1, 2, 3});
    y = nb_softmax(v, 0);
    double e = exp(1) + exp(2) + exp(3);
    const double want_v[] = {exp(1) / e, exp(2) / e, exp(3) / e};
    assert_close(y->data, want_v, 3, 1e-7, 1e-6, "softmax 1-D");
    nb_tensor_free(x);
    nb_tensor_free(c);
    nb_tensor_free(v);
}

Test(softmax, forward_large_parallel)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -10, 10, 3, false);
    double *want = malloc(300 * 257 * sizeof *want);
    for (int axis = 0; axis < 2; axis++) {
        nb_tensor *y = nb_softmax(x, axis);
        cr_assert_not_null(y, "%s", nb_error());
        ref_softmax(x, axis, want);
        assert_close(y->data, want, x->size, 1e-8, 1e-5, "softmax large");
    }
    nb_tensor *y = nb_softmax(x, 1);
    for (int64_t i = 0; i < 300; i++) {
        double s = 0;
        for (int64_t j = 0; j < 257; j++)
            s += y->data[i * 257 + j];
        cr_assert_float_eq(s, 1.0, 1e-5);
    }
    free(want);
    nb_tensor_free(x);
}

Test(softmax, same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -3, 3, 4, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 257), -1, 1, 5, false);
    int threads = nb_num_threads();
    size_t bytes = (size_t)x->size * sizeof(float);
    float *got[2][2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor_zero_grad(x);
        nb_tensor *y = nb_softmax(x, 0);
        cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
        got[t][0] = malloc(bytes);
        got[t][1] = malloc(bytes);
        memcpy(got[t][0], y->data, bytes);
        memcpy(got[t][1], x->grad->data, bytes);
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got[0][0], got[1][0], bytes), 0);
    cr_assert_eq(memcmp(got[0][1], got[1][1], bytes), 0);
    for (int t = 0; t < 2; t++) {
        free(got[t][0]);
        free(got[t][1]);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(softmax, gradient)
{
    const struct {
        int ndim;
        int64_t shape[4];
        int axis;
    } cases[] = {
        {1, {17}, 0},           {1, {3}, -1},          {2, {3, 17}, 1},
        {2, {17, 3}, 0},        {2, {1, 3}, -1},       {3, {2, 3, 5}, 1},
        {3, {2, 3, 5}, -3},     {4, {2, 3, 1, 4}, 3},  {4, {2, 3, 2, 4}, -3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *x = rand_tensor(cases[c].ndim, cases[c].shape, -2, 2, 10 + c, true);
        assert_gradcheck(f_softmax, &x, 1, (void *)&cases[c].axis, NULL, "softmax");
        nb_tensor_free(x);
    }
}

Test(softmax, gradient_large_values)
{
    /* Rows around 1000: the gradient is as well-defined as for small values. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(2, 3), (float[]){1000, 1001, 999.5f, -1000,
                                                            -1001, -999.5f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    int axis = 1;
    assert_gradcheck(f_softmax, &x, 1, &axis, NULL, "softmax large values");
    nb_tensor_free(x);
}

Test(softmax, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *s = nb_tensor_scalar(1);
    assert_error(nb_softmax(x, 2), NB_ERR_ARG,
                 "softmax: axis 2 is out of range for shape [2,3]");
    assert_error(nb_softmax(x, -3), NB_ERR_ARG,
                 "softmax: axis -3 is out of range for shape [2,3]");
    assert_error(nb_softmax(s, 0), NB_ERR_ARG, "softmax: axis 0 is out of range for shape []");
    nb_error_clear();
    assert_error(nb_softmax(NULL, 0), NB_ERR_NULL, "softmax: input 0 is NULL");
    nb_tensor_free(x);
    nb_tensor_free(s);
}
