/* bce_logits: forward against softplus(z) - z y in double for every reduction, finite
 * and correct values at z = +-100, gradients to both inputs by finite differences, the
 * parallel path, and the errors. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(bce_logits);

static nb_tensor *f_bce_logits(nb_tensor *const *in, void *ud)
{
    return nb_bce_logits(in[0], in[1], *(const nb_reduction *)ud);
}

/* -(y ln s(z) + (1-y) ln(1 - s(z))) = ln(1 + e^z) - z y, in double (fine for |z| < 700). */
static double ref_loss(double z, double y) { return log(1.0 + exp(z)) - z * y; }
static double ref_sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* Per-element losses and their mean or sum. */
static double ref_bce_logits(const nb_tensor *z, const nb_tensor *y, nb_reduction r, double *l)
{
    double s = 0;
    for (int64_t i = 0; i < z->size; i++) {
        l[i] = ref_loss(z->data[i], y->data[i]);
        s += l[i];
    }
    return r == NB_REDUCE_MEAN ? s / (double)z->size : s;
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

Test(bce_logits, forward)
{
    for (size_t c = 0; c < N_SHAPES; c++) {
        nb_tensor *z = rand_tensor(shapes[c].ndim, shapes[c].shape, -6, 6, 1 + c, false);
        nb_tensor *y = rand_tensor(shapes[c].ndim, shapes[c].shape, 0, 1, 50 + c, false);
        double l[64];
        for (int k = 0; k < 3; k++) {
            nb_reduction r = reductions[k];
            nb_tensor *out = nb_bce_logits(z, y, r);
            cr_assert_not_null(out, "%s", nb_error());
            double total = ref_bce_logits(z, y, r, l);
            if (r == NB_REDUCE_NONE) {
                cr_assert(nb_tensor_same_shape(out, z));
                assert_close(out->data, l, z->size, 1e-6, 1e-5, "bce_logits none");
            } else {
                cr_assert_eq(out->ndim, 0);
                assert_close(out->data, &total, 1, 1e-6, 1e-5, "bce_logits reduced");
            }
        }
        nb_tensor_free(z);
        nb_tensor_free(y);
    }
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
    for (size_t c = 0; c < N_SHAPES; c++)
        for (int k = 0; k < 3; k++)
            for (int which = 0; which < 3; which++) { /* z, y, both */
                nb_reduction r = reductions[k];
                nb_tensor *in[2] = {
                    rand_tensor(shapes[c].ndim, shapes[c].shape, -4, 4, 100 + c, which != 1),
                    rand_tensor(shapes[c].ndim, shapes[c].shape, 0, 1, 200 + c, which != 0),
                };
                char what[64];
                snprintf(what, sizeof what, "bce_logits shape %zu reduction %d grad %d", c, k,
                         which);
                assert_gradcheck(f_bce_logits, in, 2, &r, NULL, what);
                nb_tensor_free(in[0]);
                nb_tensor_free(in[1]);
            }
}

Test(bce_logits, large_parallel)
{
    int64_t n = 300 * 257;
    nb_tensor *z = rand_tensor(NB_SHAPE(300, 257), -8, 8, 3, true);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 4, true);
    double *l = malloc((size_t)n * sizeof *l);
    double total = ref_bce_logits(z, y, NB_REDUCE_MEAN, l);

    nb_tensor *out = nb_bce_logits(z, y, NB_REDUCE_NONE);
    assert_close(out->data, l, n, 1e-6, 1e-5, "bce_logits none large");
    out = nb_bce_logits(z, y, NB_REDUCE_MEAN);
    assert_close(out->data, &total, 1, 0, 1e-6, "bce_logits mean large");
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < n; i++) {
        double dz = (ref_sigmoid(z->data[i]) - y->data[i]) / (double)n;
        double dy = -(double)z->data[i] / (double)n;
        cr_assert_float_eq(z->grad->data[i], dz, 1e-6 / (double)n, "dz[%lld]", (long long)i);
        cr_assert_float_eq(y->grad->data[i], dy, 1e-6 * fabs(dy), "dy[%lld]", (long long)i);
    }
    free(l);
    nb_tensor_free(z);
    nb_tensor_free(y);
}

Test(bce_logits, same_bits_for_any_thread_count)
{
    nb_tensor *z = rand_tensor(NB_SHAPE(300, 257), -8, 8, 5, false);
    nb_tensor *y = rand_tensor(NB_SHAPE(300, 257), 0, 1, 6, false);
    int prev = nb_num_threads();
    float got[2];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        got[t - 1] = nb_bce_logits(z, y, NB_REDUCE_MEAN)->data[0];
    }
    nb_set_num_threads(prev);
    cr_assert_eq(memcmp(&got[0], &got[1], sizeof(float)), 0, "%.9g vs %.9g", got[0], got[1]);
    nb_tensor_free(z);
    nb_tensor_free(y);
}

Test(bce_logits, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_bce_logits(a, b, NB_REDUCE_MEAN), NB_ERR_SHAPE,
                 "bce_logits: shapes differ: [4,1] and [4]");
    nb_error_clear();
    assert_error(nb_bce_logits(b, b, (nb_reduction)3), NB_ERR_ARG,
                 "bce_logits: invalid reduction 3");
    nb_error_clear();
    assert_error(nb_bce_logits(b, b, (nb_reduction)-1), NB_ERR_ARG,
                 "bce_logits: invalid reduction -1");
    nb_error_clear();
    assert_error(nb_bce_logits(NULL, b, NB_REDUCE_MEAN), NB_ERR_NULL,
                 "bce_logits: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_bce_logits(b, NULL, NB_REDUCE_MEAN), NB_ERR_NULL,
                 "bce_logits: input 1 is NULL");
    nb_tensor_free(a);
    nb_tensor_free(b);
}
