/* softmax: forward against the formula in double, gradients by finite differences. */
#include "axis_tests.h"

NB_TEST_SUITE(softmax);

static const softmax_op op = {"softmax", nb_softmax, false};

Test(softmax, forward_every_axis)
{
    check_softmax_every_axis(&op, 1e-7, 1e-5);
}

Test(softmax, forward_edge_values)
{
    /* Large values stay finite (max subtraction), rows sum to 1, -inf gives 0. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(4, 2), (float[]){1000, 1001, -1000, -1001, 0,
                                                             -INFINITY, 88, -88});
    nb_tensor *y = nb_softmax(x, 1);
    cr_assert_not_null(y, "%s", nb_error());
    double want[8];
    ref_softmax_op(&op, x, 1, want);
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
    check_softmax_large(&op, 1e-8, 1e-5);
    /* Rows sum to 1. */
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -10, 10, 3, false);
    nb_tensor *y = nb_softmax(x, 1);
    for (int64_t i = 0; i < 300; i++) {
        double s = 0;
        for (int64_t j = 0; j < 257; j++)
            s += y->data[i * 257 + j];
        cr_assert_float_eq(s, 1.0, 1e-5);
    }
    nb_tensor_free(x);
}

Test(softmax, same_bits_for_any_thread_count)
{
    check_softmax_same_bits(&op);
}

Test(softmax, gradient)
{
    check_softmax_gradients(&op);
}

Test(softmax, gradient_large_values)
{
    check_softmax_gradient_large_values(&op);
}

Test(softmax, errors)
{
    check_softmax_errors(&op);
}
