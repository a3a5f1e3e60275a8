/* bce: forward against the clamped formula in double for every reduction, finite loss
 * and gradient at p = 0 and 1, gradients to both inputs by finite differences, the
 * parallel path, and the errors. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(bce);

static nb_tensor *f_bce(nb_tensor *const *in, void *ud)
{
    return nb_bce(in[0], in[1], *(const nb_reduction *)ud);
}

static double clamped_log(double x) { return fmax(log(x), -100.0); }

/* Per-element losses -(y L(p) + (1-y) L(1-p)) in double, and their mean or sum. */
static double ref_bce(const nb_tensor *p, const nb_tensor *y, nb_reduction r, double *l)
{
    double s = 0;
    for (int64_t i = 0; i < p->size; i++) {
        double pi = p->data[i], yi = y->data[i];
        l[i] = -(yi * clamped_log(pi) + (1.0 - yi) * clamped_log(1.0 - pi));
        s += l[i];
    }
    return r == NB_REDUCE_MEAN ? s / (double)p->size : s;
}

typedef struct shape_case {
    int ndim;
    int64_t shape[4];
} shape_case;

static const shape_case shapes[] = {
    {0, {0}}, {1, {1}}, {1, {3}}, {1, {17}}, {2, {2, 3}}, {3, {4, 1, 3}}, {4, {2, 1, 3, 2}},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static const nb_reduction reductions[] = {NB_REDUCE_MEAN, NB_REDUCE_SUM, NB_REDUCE_NONE};

Test(bce, forward)
{
    for (size_t c = 0; c < N_SHAPES; c++) {
        nb_tensor *p = rand_tensor(shapes[c].ndim, shapes[c].shape, 0.01f, 0.99f, 1 + c, false);
        nb_tensor *y = rand_tensor(shapes[c].ndim, shapes[c].shape, 0, 1, 50 + c, false);
        double l[64];
        for (int k = 0; k < 3; k++) {
            nb_reduction r = reductions[k];
            nb_tensor *out = nb_bce(p, y, r);
            cr_assert_not_null(out, "%s", nb_error());
            double total = ref_bce(p, y, r, l);
            if (r == NB_REDUCE_NONE) {
                cr_assert(nb_tensor_same_shape(out, p));
                assert_close(out->data, l, p->size, 1e-6, 1e-5, "bce none");
            } else {
                cr_assert_eq(out->ndim, 0);
                assert_close(out->data, &total, 1, 1e-6, 1e-5, "bce reduced");
            }
        }
        nb_tensor_free(p);
        nb_tensor_free(y);
    }
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
    for (size_t c = 0; c < N_SHAPES; c++)
        for (int k = 0; k < 3; k++)
            for (int which = 0; which < 3; which++) { /* p, y, both */
                nb_reduction r = reductions[k];
                nb_tensor *in[2] = {
                    rand_tensor(shapes[c].ndim, shapes[c].shape, 0.05f, 0.95f, 100 + c,
                                which != 1),
                    rand_tensor(shapes[c].ndim, shapes[c].shape, 0, 1, 200 + c, which != 0),
                };
                char what[64];
                snprintf(what, sizeof what, "bce shape %zu reduction %d grad %d", c, k, which);
                assert_gradcheck(f_bce, in, 2, &r, NULL, what);
                nb_tensor_free(in[0]);
                nb_tensor_free(in[1]);
            }
}

Test(bce, large_parallel)
{
    int64_t n = 300 * 257;
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), 0.001f, 0.999f, 3, true);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 4, true);
    double *l = malloc((size_t)n * sizeof *l);
    double total = ref_bce(p, y, NB_REDUCE_MEAN, l);

    nb_tensor *out = nb_bce(p, y, NB_REDUCE_NONE);
    assert_close(out->data, l, n, 1e-6, 1e-5, "bce none large");
    out = nb_bce(p, y, NB_REDUCE_MEAN);
    assert_close(out->data, &total, 1, 0, 1e-6, "bce mean large");
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < n; i++) {
        double pi = p->data[i], yi = y->data[i];
        double dp = (pi - yi) / (pi * (1 - pi)) / (double)n;
        double dy = (log(1 - pi) - log(pi)) / (double)n;
        cr_assert_float_eq(p->grad->data[i], dp, 1e-12 + 1e-4 * fabs(dp), "dp[%lld]",
                           (long long)i);
        cr_assert_float_eq(y->grad->data[i], dy, 1e-12 + 1e-4 * fabs(dy), "dy[%lld]",
                           (long long)i);
    }
    free(l);
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(bce, same_bits_for_any_thread_count)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), 0.01f, 0.99f, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 6, false);
    int prev = nb_num_threads();
    float got[2];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        got[t - 1] = nb_bce(p, y, NB_REDUCE_MEAN)->data[0];
    }
    nb_set_num_threads(prev);
    cr_assert_eq(memcmp(&got[0], &got[1], sizeof(float)), 0, "%.9g vs %.9g", got[0], got[1]);
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
    nb_error_clear();
    assert_error(nb_bce(b, b, (nb_reduction)3), NB_ERR_ARG, "bce: invalid reduction 3");
    nb_error_clear();
    assert_error(nb_bce(b, b, (nb_reduction)-1), NB_ERR_ARG, "bce: invalid reduction -1");
    nb_error_clear();
    assert_error(nb_bce(NULL, b, NB_REDUCE_MEAN), NB_ERR_NULL, "bce: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_bce(b, NULL, NB_REDUCE_MEAN), NB_ERR_NULL, "bce: input 1 is NULL");
    nb_tensor_free(a);
    nb_tensor_free(b);
}
