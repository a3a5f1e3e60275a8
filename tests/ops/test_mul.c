/* mul: forward against a broadcast loop in double, gradients by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(mul);

static nb_tensor *f_mul(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_mul(in[0], in[1]);
}

/* The element of t (broadcast to y's shape) that y's flat element `i` reads. */
static double at(const nb_tensor *t, const nb_tensor *y, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = y->ndim - 1, k = t->ndim - 1; d >= 0; d--, k--) {
        int64_t idx = i % y->shape[d];
        i /= y->shape[d];
        if (k >= 0) {
            off += (t->shape[k] == 1 ? 0 : idx) * stride;
            stride *= t->shape[k];
        }
    }
    return t->data[off];
}

/* y = a * b broadcast, checked element by element against the definition. */
static void check_forward(int na, const int64_t *sa, int nb, const int64_t *sb,
                          int want_ndim, const int64_t *want_shape)
{
    nb_tensor *a = rand_tensor(na, sa, -2, 2, 1, false);
    nb_tensor *b = rand_tensor(nb, sb, -2, 2, 2, false);
    nb_tensor *y = nb_mul(a, b);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->ndim, want_ndim);
    for (int d = 0; d < want_ndim; d++)
        cr_assert_eq(y->shape[d], want_shape[d], "dim %d", d);
    for (int64_t i = 0; i < y->size; i++) {
        double want = at(a, y, i) * at(b, y, i);
        /* a float * rounded once to float: exactly what float arithmetic gives. */
        cr_assert_eq(y->data[i], (float)want, "mul[%lld]: got %.9g, want %.9g",
                     (long long)i, y->data[i], want);
    }
    nb_tensor_free(a);
    nb_tensor_free(b);
}

/* got equals want rounded to float, or both are NaN (infinities compare equal). */
static void assert_same(float got, double want, const char *what, int i)
{
    cr_assert(got == (float)want || (isnan(got) && isnan(want)), "%s[%d]: got %.9g, want %.9g",
              what, i, got, want);
}

Test(mul, forward_broadcast)
{
    check_forward(NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4));
    check_forward(NB_SHAPE(2, 3, 4), NB_SHAPE(1, 1, 4), NB_SHAPE(2, 3, 4));
    check_forward(NB_SHAPE(1, 1, 4), NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4));
    check_forward(NB_SHAPE(2, 1, 4), NB_SHAPE(1, 3, 1), NB_SHAPE(2, 3, 4));
    check_forward(NB_SHAPE(17, 1, 3), NB_SHAPE(5, 1), NB_SHAPE(17, 5, 3));
    check_forward(NB_SHAPE(3), NB_SHAPE(2, 1, 3, 1), NB_SHAPE(2, 1, 3, 3));
    check_forward(NB_SHAPE(2, 3), 0, NULL, NB_SHAPE(2, 3));
    check_forward(0, NULL, NB_SHAPE(17), NB_SHAPE(17));
    check_forward(0, NULL, 0, NULL, 0, NULL);
    check_forward(NB_SHAPE(0, 3), NB_SHAPE(3), NB_SHAPE(0, 3));
}

Test(mul, forward_values)
{
    const float a[] = {1.5f, -0.25f, 0.0f, INFINITY, INFINITY, NAN, -0.0f, 1e30f, 1e-30f};
    const float b[] = {2.0f, -4.0f, -3.0f, -2.0f, 0.0f, 1.0f, 5.0f, 1e30f, 1e-30f};
    nb_tensor *ta = nb_tensor_from(NB_SHAPE(9), a), *tb = nb_tensor_from(NB_SHAPE(9), b);
    nb_tensor *y = nb_mul(ta, tb);
    cr_assert_not_null(y, "%s", nb_error());
    for (int i = 0; i < 9; i++) /* inf * 0 is NaN; 1e30^2 overflows, 1e-30^2 underflows */
        assert_same(y->data[i], (double)a[i] * (double)b[i], "mul", i);
    cr_assert(signbit(y->data[2]) && signbit(y->data[6]), "signed zeros");
    nb_tensor_free(ta);
    nb_tensor_free(tb);
}

Test(mul, forward_large_parallel)
{
    /* Above NB_PAR_MIN, with a row and a column broadcast. */
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 257), -2, 2, 3, false);
    nb_tensor *row = rand_tensor(NB_SHAPE(257), -2, 2, 4, false);
    nb_tensor *col = rand_tensor(NB_SHAPE(300, 1), -2, 2, 5, false);
    nb_tensor *y = nb_mul(a, row);
    cr_assert_not_null(y, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        for (int64_t j = 0; j < 257; j++)
            cr_assert_eq(y->data[i * 257 + j],
                         (float)((double)a->data[i * 257 + j] * row->data[j]));
    y = nb_mul(col, a);
    cr_assert_not_null(y, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        for (int64_t j = 0; j < 257; j++)
            cr_assert_eq(y->data[i * 257 + j],
                         (float)((double)col->data[i] * a->data[i * 257 + j]));
    nb_tensor_free(a);
    nb_tensor_free(row);
    nb_tensor_free(col);
}

/* Runs gradcheck with both inputs, then each alone, requiring grad. */
static void check_gradient(int na, const int64_t *sa, int nb, const int64_t *sb,
                           uint64_t seed)
{
    static const bool which[3][2] = {{true, true}, {true, false}, {false, true}};
    for (int w = 0; w < 3; w++) {
        nb_tensor *in[2] = {rand_tensor(na, sa, -2, 2, seed, which[w][0]),
                            rand_tensor(nb, sb, -2, 2, seed + 100, which[w][1])};
        char what[128], s0[64], s1[64];
        snprintf(what, sizeof what, "mul %s %s (grad %d%d)",
                 nb_tensor_shape_str(in[0], s0, sizeof s0),
                 nb_tensor_shape_str(in[1], s1, sizeof s1), which[w][0], which[w][1]);
        assert_gradcheck(f_mul, in, 2, NULL, NULL, what);
        nb_tensor_free(in[0]);
        nb_tensor_free(in[1]);
    }
}

Test(mul, gradient)
{
    check_gradient(0, NULL, 0, NULL, 10);                      /* rank 0 */
    check_gradient(NB_SHAPE(17), NB_SHAPE(17), 11);            /* same shape */
    check_gradient(NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4), 12);
    check_gradient(NB_SHAPE(2, 3, 4), NB_SHAPE(1, 1, 4), 13);  /* b broadcast */
    check_gradient(NB_SHAPE(1, 3, 1), NB_SHAPE(2, 3, 5), 14);  /* a broadcast */
    check_gradient(NB_SHAPE(1, 3, 1), NB_SHAPE(2, 1, 5), 15);  /* size-1 dims on both sides */
    check_gradient(NB_SHAPE(17, 3, 1), 0, NULL, 16);           /* rank 3 and rank 0 */
    check_gradient(0, NULL, NB_SHAPE(3, 1, 17), 17);
    check_gradient(NB_SHAPE(5, 3), NB_SHAPE(3), 18);           /* ranks differ */
    check_gradient(NB_SHAPE(3), NB_SHAPE(2, 1, 3, 1), 19);     /* rank 1 and rank 4 */
    check_gradient(NB_SHAPE(1), NB_SHAPE(1, 1), 20);
}

Test(mul, gradient_same_tensor)
{
    /* Both operands are one tensor: both gradients land in its grad. */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -2, 2, 21, true);
    nb_tensor *y = nb_mul(x, x);
    cr_assert_not_null(y, "%s", nb_error());
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 15; i++) {
        double v = x->data[i];
        (void)v;
        cr_assert_float_eq(x->grad->data[i], 2 * v, 1e-5, "[%lld]", (long long)i);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* Gradients of a [300,130] op [130] against sums in double; above NB_PAR_MIN. */
static void large_grads(nb_tensor *a, nb_tensor *b, nb_tensor *seed)
{
    nb_tensor_zero_grad(a);
    nb_tensor_zero_grad(b);
    nb_tensor *y = nb_mul(a, b);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
}

Test(mul, gradient_large_broadcast)
{
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 130), -2, 2, 22, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(130), -2, 2, 23, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 130), -1, 1, 24, false);
    large_grads(a, b, seed);
    for (int64_t j = 0; j < 130; j++) {
        double db = 0;
        for (int64_t i = 0; i < 300; i++) {
            double g = seed->data[i * 130 + j], va = a->data[i * 130 + j], vb = b->data[j];
            double da = g * vb;
            db += g * va;
            cr_assert_float_eq(a->grad->data[i * 130 + j], da, 1e-5 * (1 + fabs(da)));
        }
        cr_assert_float_eq(b->grad->data[j], db, 1e-4 * (1 + fabs(db)), "db[%lld]",
                           (long long)j);
    }

    /* The same bits on 1 and 2 threads, and backward accumulates (+=). */
    int threads = nb_num_threads();
    size_t na = sizeof(float) * 300 * 130, nbb = sizeof(float) * 130;
    float *ga = malloc(na), *gb = malloc(nbb);
    cr_assert(ga && gb);
    nb_set_num_threads(1);
    large_grads(a, b, seed);
    memcpy(ga, a->grad->data, na);
    memcpy(gb, b->grad->data, nbb);
    nb_set_num_threads(2);
    large_grads(a, b, seed);
    cr_assert_eq(memcmp(ga, a->grad->data, na), 0, "da differs between 1 and 2 threads");
    cr_assert_eq(memcmp(gb, b->grad->data, nbb), 0, "db differs between 1 and 2 threads");
    nb_tensor *y = nb_mul(a, b);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t j = 0; j < 130; j++) /* float sums of 300 terms: not exactly 2 * gb */
        cr_assert_float_eq(b->grad->data[j], 2 * gb[j], 1e-4 * (1 + fabs(gb[j])));
    nb_set_num_threads(threads);
    free(ga);
    free(gb);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(seed);
}

Test(mul, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor *c = nb_tensor_ones(NB_SHAPE(3, 1, 2));
    assert_error(nb_mul(a, b), NB_ERR_SHAPE, "mul: shapes do not broadcast: [2,3] and [4]");
    nb_error_clear();
    assert_error(nb_mul(c, a), NB_ERR_SHAPE,
                 "mul: shapes do not broadcast: [3,1,2] and [2,3]");
    nb_error_clear();
    assert_error(nb_mul(NULL, a), NB_ERR_NULL, "mul: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_mul(a, NULL), NB_ERR_NULL, "mul: input 1 is NULL");
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(c);
}
