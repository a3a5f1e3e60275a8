/* mse: forward against (p - y)^2 in double for every reduction, gradients to both
 * inputs by finite differences, the parallel path, and the errors. */
#include "loss_common.h"

NB_TEST_SUITE(mse);

/* Per-element losses in double, and their mean or sum. */
static double ref_mse(const nb_tensor *p, const nb_tensor *y, nb_reduction r, double *l)
{
    for (int64_t i = 0; i < p->size; i++) {
        double d = (double)p->data[i] - (double)y->data[i];
        l[i] = d * d;
    }
    return loss_ref_reduce(l, p->size, r);
}

Test(mse, forward)
{
    assert_loss_forward_shapes(nb_mse, ref_mse, -3, 3, -3, 3, 1e-6, 1e-6, "mse");
}

Test(mse, forward_edge_values)
{
    nb_tensor *p = nb_tensor_from(NB_SHAPE(4), (float[]){0, 1e-20f, -1e3f, 2});
    nb_tensor *y = nb_tensor_from(NB_SHAPE(4), (float[]){0, 0, 1e3f, 2});
    nb_tensor *out = nb_mse(p, y, NB_REDUCE_NONE);
    const double want[] = {0, 0, 4e6, 0};
    assert_close(out->data, want, 4, 1e-30, 1e-6, "mse edges");
    out = nb_mse(p, y, NB_REDUCE_MEAN);
    assert_close(out->data, (double[]){1e6}, 1, 0, 1e-6, "mse edges mean");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, gradient)
{
    assert_loss_gradcheck_shapes(nb_mse, -1, 1, -1, 1, "mse");
}

Test(mse, gradient_values)
{
    /* dp = 2 (p - y) / n for MEAN, and dy = -dp. */
    nb_tensor *p = nb_tensor_from(NB_SHAPE(2), (float[]){1, -2});
    nb_tensor *y = nb_tensor_from(NB_SHAPE(2), (float[]){0.5f, 1});
    nb_tensor_set_requires_grad(p, true);
    nb_tensor_set_requires_grad(y, true);
    cr_assert_eq(nb_backward(nb_mse(p, y, NB_REDUCE_MEAN)), NB_OK, "%s", nb_error());
    assert_close(p->grad->data, (double[]){0.5, -3}, 2, 0, 1e-6, "dp");
    assert_close(y->grad->data, (double[]){-0.5, 3}, 2, 0, 1e-6, "dy");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, large_parallel)
{
    int64_t n = 300 * 257;
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), -2, 2, 3, true);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), -2, 2, 4, true);
    assert_loss_large(nb_mse, ref_mse, p, y, p, 1e-6, 1e-6, "mse");
    for (int64_t i = 0; i < n; i++) {
        double d = 2.0 * ((double)p->data[i] - y->data[i]) / (double)n;
        cr_assert_float_eq(p->grad->data[i], d, 1e-9 + 1e-5 * fabs(d), "dp[%lld]", (long long)i);
        cr_assert_float_eq(y->grad->data[i], -d, 1e-9 + 1e-5 * fabs(d), "dy[%lld]", (long long)i);
    }
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, same_bits_for_any_thread_count)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), -2, 2, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), -2, 2, 6, false);
    assert_loss_same_bits(nb_mse, p, y, NB_REDUCE_SUM);
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_mse(a, b, NB_REDUCE_MEAN), NB_ERR_SHAPE, "mse: shapes differ: [4,1] and [4]");
    assert_loss_arg_errors(nb_mse, "mse", b, b, 7);
    nb_tensor_free(a);
    nb_tensor_free(b);
}
