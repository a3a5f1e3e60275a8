/* bce: forward against the clamped formula in double for every reduction, finite loss
 * and gradient at p = 0 and 1, gradients to both inputs by finite differences, the
 * parallel path, and the errors. */
#include "loss_common.h"

NB_TEST_SUITE(bce);

static double clamped_log(double x) { return fmax(log(x), -100.0); }

/* Per-element losses -(y L(p) + (1-y) L(1-p)) in double, and their mean or sum. */
static double ref_bce(const nb_tensor *p, const nb_tensor *y, nb_reduction r, double *l)
{
    for (int64_t i = 0; i < p->size; i++) {
        double pi = p->data[i], yi = y->data[i];
        l[i] = -(yi * clamped_log(pi) + (1.0 - yi) * clamped_log(1.0 - pi));
    }
    return loss_ref_reduce(l, p->size, r);
}

Test(bce, forward)
{
    assert_loss_forward_shapes(nb_bce, ref_bce, 0.01f, 0.99f, 0, 1, 1e-6, 1e-5, "bce");
}

Test(bce, forward_edge_values)
{
    /* Exact 0 and 1, a tiny p, a denormal p (ln p < -100: clamped), p next to 1. */
    const float pv[] = {0, 0, 1, 1, 1e-30f, 1e-30f, 1e-44f, 1 - 6e-8f, 0.5f};
    const float yv[] = {0, 1, 0, 1, 1, 0, 1, 0, 0.25f};
    nb_tensor *p = nb_tensor_from(NB_SHAPE(9), pv);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(9), yv);
    nb_tensor *out = nb_bce(p, y, NB_REDUCE_NONE);
    cr_assert_not_null(out, "%s", nb_error());
    double l[9];
    double total = ref_bce(p, y, NB_REDUCE_SUM, l);
    cr_assert_eq(l[1], 100.0);
    cr_assert_eq(l[2], 100.0);
    cr_assert_eq(l[6], 100.0);
    assert_close(out->data, l, 9, 1e-6, 1e-5, "bce edges");
    out = nb_bce(p, y, NB_REDUCE_SUM);
    assert_close(out->data, &total, 1, 0, 1e-6, "bce edges sum");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, gradient_at_0_and_1)
{
    /* The derivative of the clamped expression: where ln p is clamped its term is flat. */
    nb_tensor *p = nb_tensor_from(NB_SHAPE(6), (float[]){0, 0, 1, 1, 1e-30f, 1e-44f});
    nb_tensor *y = nb_tensor_from(NB_SHAPE(6), (float[]){0, 1, 0, 1, 1, 1});
    nb_tensor_set_requires_grad(p, true);
    nb_tensor_set_requires_grad(y, true);
    nb_tensor *out = nb_bce(p, y, NB_REDUCE_SUM);
    cr_assert(isfinite(out->data[0]));
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    /* 1e-30 is inside the 1e-12 cap on 1/p; 1e-44 is clamped (ln 1e-44 < -100). */
    const double dp[] = {1, 0, 0, -1, -1e12, 0};
    const double dy[] = {100, 100, -100, -100, -log(1e-30), 100};
    for (int i = 0; i < 6; i++) {
        cr_assert(isfinite(p->grad->data[i]) && isfinite(y->grad->data[i]), "element %d", i);
    }
    assert_close(p->grad->data, dp, 6, 0, 1e-6, "dp");
    assert_close(y->grad->data, dy, 6, 0, 1e-5, "dy");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, gradient_values)
{
    /* dp = (p - y) / (p (1 - p)) / n,  dy = (ln(1-p) - ln p) / n, for MEAN. */
    nb_tensor *p = nb_tensor_from(NB_SHAPE(3), (float[]){0.2f, 0.5f, 0.9f});
    nb_tensor *y = nb_tensor_from(NB_SHAPE(3), (float[]){1, 0.3f, 0});
    nb_tensor_set_requires_grad(p, true);
    nb_tensor_set_requires_grad(y, true);
    cr_assert_eq(nb_backward(nb_bce(p, y, NB_REDUCE_MEAN)), NB_OK, "%s", nb_error());
    double dp[3], dy[3];
    for (int i = 0; i < 3; i++) {
        double pi = p->data[i], yi = y->data[i];
        dp[i] = (pi - yi) / (pi * (1 - pi)) / 3;
        dy[i] = (log(1 - pi) - log(pi)) / 3;
    }
    assert_close(p->grad->data, dp, 3, 1e-7, 1e-5, "dp");
    assert_close(y->grad->data, dy, 3, 1e-7, 1e-5, "dy");
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, gradient)
{
    /* p in [0.05, 0.95] keeps p +- eps well inside (0, 1) and the curvature moderate. */
    assert_loss_gradcheck_shapes(nb_bce, 0.05f, 0.95f, 0, 1, "bce");
}

Test(bce, large_parallel)
{
    int64_t n = 300 * 257;
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), 0.001f, 0.999f, 3, true);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 4, true);
    assert_loss_large(nb_bce, ref_bce, p, y, p, 1e-6, 1e-5, "bce");
    for (int64_t i = 0; i < n; i++) {
        double pi = p->data[i], yi = y->data[i];
        double dp = (pi - yi) / (pi * (1 - pi)) / (double)n;
        double dy = (log(1 - pi) - log(pi)) / (double)n;
        cr_assert_float_eq(p->grad->data[i], dp, 1e-12 + 1e-4 * fabs(dp), "dp[%lld]",
                           (long long)i);
        cr_assert_float_eq(y->grad->data[i], dy, 1e-12 + 1e-4 * fabs(dy), "dy[%lld]",
                           (long long)i);
    }
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, same_bits_for_any_thread_count)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), 0.01f, 0.99f, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 6, false);
    assert_loss_same_bits(nb_bce, p, y, NB_REDUCE_MEAN);
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, errors)
{
    nb_tensor *a = nb_tensor_full(NB_SHAPE(4, 1), 0.5f);
    nb_tensor *b = nb_tensor_full(NB_SHAPE(4), 0.5f);
    assert_error(nb_bce(a, b, NB_REDUCE_MEAN), NB_ERR_SHAPE, "bce: shapes differ: [4,1] and [4]");
    nb_error_clear();
    assert_error(nb_bce(b, a, NB_REDUCE_SUM), NB_ERR_SHAPE, "bce: shapes differ: [4] and [4,1]");
    assert_loss_arg_errors(nb_bce, "bce", b, b, 3);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

/* NaN in, NaN out: p = NaN, or p outside [0, 1], gives a NaN loss and NaN gradients
 * (the clamp at -100 used to turn them into a loss of 100 and a gradient of 0), for
 * every reduction; p in [0, 1] next to them keeps its clamped, finite values. */
Test(bce, nan_and_out_of_range_p_give_nan)
{
    const float pv[] = {NAN, 1.5f, -0.25f, INFINITY, -INFINITY, 1.0f + 1e-7f, 0.0f, 1.0f};
    const float yv[] = {1, 1, 0, 0, 1, 0, 1, 0};
    nb_tensor *p = nb_tensor_from(NB_SHAPE(8), pv);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(8), yv);
    cr_assert_eq(nb_tensor_set_requires_grad(p, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(y, true), NB_OK);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(8));
    nb_tensor *l = nb_bce(p, y, NB_REDUCE_NONE);
    cr_assert_not_null(l, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(l, seed), NB_OK, "%s", nb_error());
    for (int i = 0; i < 6; i++) {
        cr_assert(isnan(l->data[i]), "loss[%d] = %g for p = %g", i, l->data[i], pv[i]);
        cr_assert(isnan(p->grad->data[i]), "dp[%d] = %g", i, p->grad->data[i]);
        cr_assert(isnan(y->grad->data[i]), "dy[%d] = %g", i, y->grad->data[i]);
    }
    cr_assert_eq(l->data[6], 100.0f, "p = 0 with y = 1 stays clamped");
    cr_assert_eq(l->data[7], 100.0f);
    cr_assert(isfinite(p->grad->data[6]) && isfinite(p->grad->data[7]));
    for (int r = NB_REDUCE_MEAN; r <= NB_REDUCE_SUM; r++) {
        nb_tensor_zero_grad(p);
        nb_tensor *s = nb_bce(p, y, (nb_reduction)r);
        cr_assert(s && isnan(s->data[0]), "reduction %d", r);
        cr_assert_eq(nb_backward(s), NB_OK, "%s", nb_error());
        cr_assert(isnan(p->grad->data[0]) && isfinite(p->grad->data[6]));
    }
    nb_tensor_free(p);
    nb_tensor_free(y);
    nb_tensor_free(seed);
}
