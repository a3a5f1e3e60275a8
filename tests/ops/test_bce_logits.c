/* bce_logits: forward against softplus(z) - z y in double for every reduction, finite
 * and correct values at z = +-100, gradients to both inputs by finite differences, the
 * parallel path, and the errors. */
#include "loss_common.h"

NB_TEST_SUITE(bce_logits);

/* -(y ln s(z) + (1-y) ln(1 - s(z))) = ln(1 + e^z) - z y, in double (fine for |z| < 700). */
static double ref_loss(double z, double y) { return log(1.0 + exp(z)) - z * y; }
static double ref_sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* Per-element losses and their mean or sum. */
static double ref_bce_logits(const nb_tensor *z, const nb_tensor *y, nb_reduction r, double *l)
{
    for (int64_t i = 0; i < z->size; i++)
        l[i] = ref_loss(z->data[i], y->data[i]);
    return loss_ref_reduce(l, z->size, r);
}

Test(bce_logits, forward)
{
    assert_loss_forward_shapes(nb_bce_logits, ref_bce_logits, -6, 6, 0, 1, 1e-6, 1e-5,
                               "bce_logits");
}

Test(bce_logits, extreme_logits)
{
    /* z = +-100: sigmoid saturates in float; loss and gradient stay finite and exact. */
    const float zv[] = {100, 100, 100, -100, -100, -100, 0, 20, -20, 1e-3f};
    const float yv[] = {0, 1, 0.5f, 0, 1, 0.5f, 0.5f, 1, 0, 0.3f};
    nb_tensor *z = nb_tensor_from(NB_SHAPE(10), zv);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(10), yv);
    nb_tensor_set_requires_grad(z, true);
    nb_tensor_set_requires_grad(y, true);
    nb_tensor *out = nb_bce_logits(z, y, NB_REDUCE_NONE);
    cr_assert_not_null(out, "%s", nb_error());
    double l[10], dz[10], dy[10];
    ref_bce_logits(z, y, NB_REDUCE_NONE, l);
    cr_assert_float_eq(l[0], 100.0, 1e-12);
    cr_assert_float_eq(l[4], 100.0, 1e-12);
    assert_close(out->data, l, 10, 1e-6, 1e-6, "bce_logits extremes");

    out = nb_bce_logits(z, y, NB_REDUCE_SUM);
    cr_assert(isfinite(out->data[0]));
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    for (int i = 0; i < 10; i++) {
        dz[i] = ref_sigmoid(zv[i]) - yv[i];
        dy[i] = -zv[i];
        cr_assert(isfinite(z->grad->data[i]) && isfinite(y->grad->data[i]), "element %d", i);
    }
    assert_close(z->grad->data, dz, 10, 1e-7, 1e-6, "dz");
    assert_close(y->grad->data, dy, 10, 0, 1e-6, "dy");
    nb_tensor_free(z);
    nb_tensor_free(y);
}

Test(bce_logits, gradient)
{
    assert_loss_gradcheck_shapes(nb_bce_logits, -4, 4, 0, 1, "bce_logits");
}

Test(bce_logits, large_parallel)
{
    int64_t n = 300 * 257;
    nb_tensor *z = rand_tensor(NB_SHAPE(300, 257), -8, 8, 3, true);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 4, true);
    assert_loss_large(nb_bce_logits, ref_bce_logits, z, y, z, 1e-6, 1e-5, "bce_logits");
    for (int64_t i = 0; i < n; i++) {
        double dz = (ref_sigmoid(z->data[i]) - y->data[i]) / (double)n;
        double dy = -(double)z->data[i] / (double)n;
        cr_assert_float_eq(z->grad->data[i], dz, 1e-6 / (double)n, "dz[%lld]", (long long)i);
        cr_assert_float_eq(y->grad->data[i], dy, 1e-6 * fabs(dy), "dy[%lld]", (long long)i);
    }
    nb_tensor_free(z);
    nb_tensor_free(y);
}

Test(bce_logits, same_bits_for_any_thread_count)
{
    nb_tensor *z = rand_tensor(NB_SHAPE(300, 257), -8, 8, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 6, false);
    assert_loss_same_bits(nb_bce_logits, z, y, NB_REDUCE_MEAN);
    nb_tensor_free(z);
    nb_tensor_free(y);
}

Test(bce_logits, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_bce_logits(a, b, NB_REDUCE_MEAN), NB_ERR_SHAPE,
                 "bce_logits: shapes differ: [4,1] and [4]");
    assert_loss_arg_errors(nb_bce_logits, "bce_logits", b, b, 3);
    nb_tensor_free(a);
    nb_tensor_free(b);
}
