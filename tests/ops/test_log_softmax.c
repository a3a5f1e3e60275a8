/* log_softmax: forward against the formula in double, gradients by finite differences. */
#include "axis_tests.h"

NB_TEST_SUITE(log_softmax);

static const softmax_op op = {"log_softmax", nb_log_softmax, true};

Test(log_softmax, forward_every_axis)
{
    check_softmax_every_axis(&op, 1e-6, 1e-6);
}

Test(log_softmax, forward_edge_values)
{
    /* Large values stay finite, e^y sums to 1 per row, -inf stays -inf. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(4, 2), (float[]){1000, 1001, -1000, -1001, 0,
                                                             -INFINITY, 88, -88});
    nb_tensor *y = nb_log_softmax(x, -1);
    cr_assert_not_null(y, "%s", nb_error());
    double want[8];
    ref_softmax_op(&op, x, 1, want);
    cr_assert(isinf(want[5]) && want[5] < 0);
    assert_close(y->data, want, 8, 1e-6, 1e-6, "log_softmax edge");
    for (int i = 0; i < 4; i++) {
        cr_assert(isfinite(y->data[2 * i]));
        cr_assert_float_eq(exp(y->data[2 * i]) + exp(y->data[2 * i + 1]), 1.0, 1e-6);
    }
    /* A size-1 axis gives zeros; a 1-D tensor is one lane. */
    nb_tensor *c = rand_tensor(NB_SHAPE(3, 1), -5, 5, 2, false);
    y = nb_log_softmax(c, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(y->data[i], 0.0f);
    nb_tensor *v = nb_tensor_from(NB_SHAPE(3), (float[]){1, 2, 3});
    y = nb_log_softmax(v, 0);
    double lse = log(exp(1) + exp(2) + exp(3));
    const double want_v[] = {1 - lse, 2 - lse, 3 - lse};
    assert_close(y->data, want_v, 3, 1e-6, 1e-6, "log_softmax 1-D");
    nb_tensor_free(x);
    nb_tensor_free(c);
    nb_tensor_free(v);
}

Test(log_softmax, forward_large_parallel)
{
    check_softmax_large(&op, 1e-5, 1e-6);
}

Test(log_softmax, same_bits_for_any_thread_count)
{
    check_softmax_same_bits(&op);
}

Test(log_softmax, gradient)
{
    check_softmax_gradients(&op);
}

Test(log_softmax, gradient_large_values)
{
    check_softmax_gradient_large_values(&op);
}

Test(log_softmax, errors)
{
    check_softmax_errors(&op);
}
