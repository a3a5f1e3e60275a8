/* sum: forward against index loops in double, gradients by finite differences. */
#include <string.h>

#include "axis_tests.h"

NB_TEST_SUITE(sum);

static const reduce_op sum_op = {"sum", nb_sum, nb_sum_axis, false};

Test(sum, forward_all)
{
    check_reduce_all(&sum_op, 1e-6);
    /* 0-D: its value; no elements: 0. */
    nb_tensor *s = nb_tensor_scalar(-2.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(3, 0));
    cr_assert_eq(nb_tensor_item(nb_sum(s)), -2.5f);
    cr_assert_eq(nb_tensor_item(nb_sum(e)), 0.0f);
    nb_tensor_free(s);
    nb_tensor_free(e);
}

Test(sum, forward_axis)
{
    check_reduce_every_axis(&sum_op, 1e-6);
    /* A 1-D tensor reduces to 0-D; a size-0 axis gives zeros. */
    nb_tensor *v = nb_tensor_from(NB_SHAPE(4), (float[]){1, 2, 3, 4.5f});
    nb_tensor *y = nb_sum_axis(v, 0, false);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(y->data[0], 10.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(2, 0, 3));
    y = nb_sum_axis(e, 1, false);
    cr_assert_eq(y->ndim, 2);
    cr_assert_eq(y->size, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(y->data[i], 0.0f);
    nb_tensor_free(v);
    nb_tensor_free(e);
}

Test(sum, forward_large_parallel)
{
    check_reduce_large(&sum_op, 1e-5, 1e-4);
}

Test(sum, same_bits_for_any_thread_count)
{
    check_reduce_same_bits(&sum_op, true);
}

Test(sum, gradient)
{
    check_reduce_gradients(&sum_op);
}

Test(sum, gradient_large)
{
    /* Above the parallel threshold: dx[i,j] = dy[j] for a sum over axis 0. */
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 130), -1, 1, 83, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(130), -1, 1, 84, false);
    cr_assert_eq(nb_backward_seed(nb_sum_axis(x, 0, false), seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        cr_assert_eq(memcmp(x->grad->data + i * 130, seed->data, 130 * sizeof(float)), 0);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(sum, errors)
{
    check_reduce_errors(&sum_op);
}
