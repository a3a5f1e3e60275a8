/* mean: forward against index loops in double, gradients by finite differences. */
#include "axis_tests.h"

NB_TEST_SUITE(mean);

static const reduce_op mean_op = {"mean", nb_mean, nb_mean_axis, true};

Test(mean, forward_all)
{
    check_reduce_all(&mean_op, 1e-7);
    /* 0-D: its value; no elements: NaN, as in NumPy. */
    nb_tensor *s = nb_tensor_scalar(-2.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(3, 0));
    cr_assert_eq(nb_tensor_item(nb_mean(s)), -2.5f);
    cr_assert(isnan(nb_tensor_item(nb_mean(e))));
    nb_tensor_free(s);
    nb_tensor_free(e);
}

Test(mean, forward_axis)
{
    check_reduce_every_axis(&mean_op, 1e-7);
    /* A 1-D tensor reduces to 0-D; a size-0 axis gives NaN. */
    nb_tensor *v = nb_tensor_from(NB_SHAPE(4), (float[]){1, 2, 3, 4.5f});
    nb_tensor *y = nb_mean_axis(v, 0, false);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(y->data[0], 2.625f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(2, 0, 3));
    y = nb_mean_axis(e, 1, true);
    cr_assert_eq(y->ndim, 3);
    cr_assert_eq(y->size, 6);
    for (int i = 0; i < 6; i++)
        cr_assert(isnan(y->data[i]));
    nb_tensor_free(v);
    nb_tensor_free(e);
}

Test(mean, forward_large_parallel)
{
    check_reduce_large(&mean_op, 1e-7, 1e-7);
}

Test(mean, same_bits_for_any_thread_count)
{
    check_reduce_same_bits(&mean_op, false);
}

Test(mean, gradient)
{
    check_reduce_gradients(&mean_op);
}

Test(mean, gradient_large)
{
    /* Above the parallel threshold: dx[i,j] = dy[j] / 300 for a mean over axis 0. */
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 130), -1, 1, 83, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(130), -1, 1, 84, false);
    cr_assert_eq(nb_backward_seed(nb_mean_axis(x, 0, false), seed), NB_OK, "%s", nb_error());
    double want[130];
    for (int j = 0; j < 130; j++)
        want[j] = seed->data[j] / 300.0;
    for (int64_t i = 0; i < 300; i++)
        assert_close(x->grad->data + i * 130, want, 130, 0, 1e-6, "dx");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(mean, errors)
{
    check_reduce_errors(&mean_op);
}
