/* mse: forward against (p - y)^2 in double for every reduction, gradients to both
 * inputs by finite differences, the parallel path, and the errors. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(mse);

static nb_tensor *f_mse(nb_tensor *const *in, void *ud)
{
    return nb_mse(in[0], in[1], *(const nb_reduction *)ud);
}

/* Per-element losses in double, and their mean or sum. */
static double ref_mse(const nb_tensor *p, const nb_tensor *y, nb_reduction r, double *l)
{
    double s = 0;
    for (int64_t i = 0; i < p->size; i++) {
        double d = (double)p->data[i] - (double)y->data[i];
        l[i] = d * d;
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

Test(mse, forward)
{
    for (size_t c = 0; c < N_SHAPES; c++) {
        nb_tensor *p = rand_tensor(shapes[c].ndim, shapes[c].shape, -3, 3, 1 + c, false);
        nb_tensor *y = rand_tensor(shapes[c].ndim, shapes[c].shape, -3, 3, 50 + c, false);
        double l[64];
        for (int k = 0; k < 3; k++) {
            nb_reduction r = reductions[k];
            nb_tensor *out = nb_mse(p, y, r);
            cr_assert_not_null(out, "%s", nb_error());
            double total = ref_mse(p, y, r, l);
            if (r == NB_REDUCE_NONE) {
                cr_assert(nb_tensor_same_shape(out, p));
                assert_close(out->data, l, p->size, 1e-6, 1e-6, "mse none");
            } else {
                cr_assert_eq(out->ndim, 0);
                assert_close(out->data, &total, 1, 1e-6, 1e-6, "mse reduced");
            }
        }
        nb_tensor_free(p);
        nb_tensor_free(y);
    }
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
    for (size_t c = 0; c < N_SHAPES; c++)
        for (int k = 0; k < 3; k++)
            for (int which = 0; which < 3; which++) { /* p, y, both */
                nb_reduction r = reductions[k];
                nb_tensor *in[2] = {
                    rand_tensor(shapes[c].ndim, shapes[c].shape, -1, 1, 100 + c, which != 1),
                    rand_tensor(shapes[c].ndim, shapes[c].shape, -1, 1, 200 + c, which != 0),
                };
                char what[64];
                snprintf(what, sizeof what, "mse shape %zu reduction %d grad %d", c, k, which);
                assert_gradcheck(f_mse, in, 2, &r, NULL, what);
                nb_tensor_free(in[0]);
                nb_tensor_free(in[1]);
            }
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
    double *l = malloc((size_t)n * sizeof *l);
    double total = ref_mse(p, y, NB_REDUCE_MEAN, l);

    nb_tensor *out = nb_mse(p, y, NB_REDUCE_NONE);
    assert_close(out->data, l, n, 1e-6, 1e-6, "mse none large");
    out = nb_mse(p, y, NB_REDUCE_MEAN);
    assert_close(out->data, &total, 1, 0, 1e-6, "mse mean large");
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < n; i++) {
        double d = 2.0 * ((double)p->data[i] - y->data[i]) / (double)n;
        cr_assert_float_eq(p->grad->data[i], d, 1e-9 + 1e-5 * fabs(d), "dp[%lld]", (long long)i);
        cr_assert_float_eq(y->grad->data[i], -d, 1e-9 + 1e-5 * fabs(d), "dy[%lld]", (long long)i);
    }
    free(l);
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, same_bits_for_any_thread_count)
{
    nb_tensor *p = rand_tensor(NB_SHAPE(300, 257), -2, 2, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), -2, 2, 6, false);
    int prev = nb_num_threads();
    float got[2];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        got[t - 1] = nb_mse(p, y, NB_REDUCE_SUM)->data[0];
    }
    nb_set_num_threads(prev);
    cr_assert_eq(memcmp(&got[0], &got[1], sizeof(float)), 0, "%.9g vs %.9g", got[0], got[1]);
    nb_tensor_free(p);
    nb_tensor_free(y);
}

Test(mse, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_mse(a, b, NB_REDUCE_MEAN), NB_ERR_SHAPE, "mse: shapes differ: [4,1] and [4]");
    nb_error_clear();
    assert_error(nb_mse(b, b, (nb_reduction)7), NB_ERR_ARG, "mse: invalid reduction 7");
    nb_error_clear();
    assert_error(nb_mse(b, b, (nb_reduction)-1), NB_ERR_ARG, "mse: invalid reduction -1");
    nb_error_clear();
    assert_error(nb_mse(NULL, b, NB_REDUCE_MEAN), NB_ERR_NULL, "mse: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_mse(b, NULL, NB_REDUCE_MEAN), NB_ERR_NULL, "mse: input 1 is NULL");
    nb_tensor_free(a);
    nb_tensor_free(b);
}
