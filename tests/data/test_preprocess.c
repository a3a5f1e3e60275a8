/* Preprocessing: standardisation and min-max scaling against references in double, the
 * _with forms, one-hot; the same bits for 1 and 2 threads; errors leave x unchanged. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(preprocess);

/* Reference statistics of x [N, F] in double. */
static void ref_stats(const float *x, int64_t N, int64_t F, double *mean, double *std,
                      double *lo, double *hi)
{
    for (int64_t f = 0; f < F; f++) {
        double s = 0, q = 0, a = INFINITY, b = -INFINITY;
        for (int64_t n = 0; n < N; n++)
            s += x[n * F + f];
        s /= (double)N;
        for (int64_t n = 0; n < N; n++) {
            double v = x[n * F + f];
            q += (v - s) * (v - s);
            a = fmin(a, v);
            b = fmax(b, v);
        }
        mean[f] = s;
        std[f] = sqrt(q / (double)N);
        lo[f] = a;
        hi[f] = b;
    }
}

Test(preprocess, standardize_per_feature)
{
    const int64_t shapes[][3] = {{5, 3, 1}, {17, 2, 3}, {1, 4, 1}, {64, 33, 1}};
    for (int c = 0; c < 4; c++) {
        int64_t N = shapes[c][0], F = shapes[c][1] * shapes[c][2];
        nb_tensor *x = nb_tensor_rand(3, shapes[c], -3, 5, 10 + c);
        cr_assert_not_null(x);
        for (int64_t n = 0; n < N; n++)
            x->data[n * F] = 2.5f; /* a constant feature */
        double *m = malloc(4 * (size_t)F * sizeof(double)), *s = m + F, *lo = s + F, *hi = lo + F;
        double *want = malloc((size_t)(N * F) * sizeof(double));
        ref_stats(x->data, N, F, m, s, lo, hi);
        for (int64_t i = 0; i < N * F; i++) {
            int64_t f = i % F;
            want[i] = (x->data[i] - m[f]) / (s[f] > 0 ? s[f] : 1.0);
        }
        float *mean = malloc((size_t)F * sizeof(float)), *std = malloc((size_t)F * sizeof(float));
        cr_assert_eq(nb_standardize(x, mean, std), NB_OK, "%s", nb_error());
        assert_close(x->data, want, N * F, 1e-6, 1e-6, "standardize");
        assert_close(mean, m, F, 1e-6, 1e-6, "mean");
        assert_close(std, s, F, 1e-6, 1e-6, "std");
        cr_assert_eq(std[0], 0.0f, "the constant feature has std 0");
        cr_assert_eq(x->data[0], 0.0f, "and is centred, not divided");
        if (N > 1) {
            /* Afterwards: mean 0 and std 1 for every non-constant feature. */
            ref_stats(x->data, N, F, m, s, lo, hi);
            for (int64_t f = 1; f < F; f++) {
                cr_assert(fabs(m[f]) < 1e-5, "feature %lld mean %g", (long long)f, m[f]);
                cr_assert(fabs(s[f] - 1) < 1e-5, "feature %lld std %g", (long long)f, s[f]);
            }
        }
        free(m);
        free(want);
        free(mean);
        free(std);
        nb_tensor_free(x);
    }
}

Test(preprocess, standardize_with_applies_train_statistics_to_a_test_set)
{
    nb_tensor *train = nb_tensor_rand(NB_SHAPE(40, 6), 0, 10, 1);
    nb_tensor *test = nb_tensor_rand(NB_SHAPE(9, 6), -5, 15, 2);
    float mean[6], std[6];
    cr_assert_eq(nb_standardize(train, mean, std), NB_OK, "%s", nb_error());
    double want[54];
    for (int i = 0; i < 54; i++)
        want[i] = ((double)test->data[i] - mean[i % 6]) / std[i % 6];
    cr_assert_eq(nb_standardize_with(test, mean, std), NB_OK, "%s", nb_error());
    assert_close(test->data, want, 54, 1e-6, 1e-6, "standardize_with");
    /* std 0 in the statistics: centred only. */
    nb_tensor *t = nb_tensor_from(NB_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    cr_assert_eq(nb_standardize_with(t, (float[]){1, 1}, (float[]){0, 2}), NB_OK);
    assert_close(t->data, (double[]){0, 0.5, 2, 1.5}, 4, 0, 0, "std 0");
    nb_tensor_free(t);
    nb_tensor_free(train);
    nb_tensor_free(test);
}

Test(preprocess, minmax_into_unit_range)
{
    const int64_t shapes[][3] = {{6, 4, 1}, {13, 1, 5}, {1, 3, 1}, {50, 7, 3}};
    for (int c = 0; c < 4; c++) {
        int64_t N = shapes[c][0], F = shapes[c][1] * shapes[c][2];
        nb_tensor *x = nb_tensor_rand(3, shapes[c], -100, 40, 20 + c);
        for (int64_t n = 0; n < N; n++)
            x->data[n * F + F - 1] = -7.0f;
        double *m = malloc(4 * (size_t)F * sizeof(double)), *s = m + F, *lo = s + F, *hi = lo + F;
        double *want = malloc((size_t)(N * F) * sizeof(double));
        ref_stats(x->data, N, F, m, s, lo, hi);
        for (int64_t i = 0; i < N * F; i++) {
            int64_t f = i % F;
            double r = hi[f] - lo[f];
            want[i] = (x->data[i] - lo[f]) / (r > 0 ? r : 1.0);
        }
        float *mn = malloc((size_t)F * sizeof(float)), *mx = malloc((size_t)F * sizeof(float));
        cr_assert_eq(nb_minmax_scale(x, mn, mx), NB_OK, "%s", nb_error());
        assert_close(x->data, want, N * F, 1e-7, 1e-6, "minmax");
        assert_close(mn, lo, F, 0, 0, "min");
        assert_close(mx, hi, F, 0, 0, "max");
        for (int64_t i = 0; i < N * F; i++)
            cr_assert(x->data[i] >= 0 && x->data[i] <= 1, "x[%lld] = %g", (long long)i,
                      x->data[i]);
        cr_assert_eq(x->data[F - 1], 0.0f, "a constant feature becomes 0");
        free(m);
        free(want);
        free(mn);
        free(mx);
        nb_tensor_free(x);
    }
}

Test(preprocess, minmax_with_and_extreme_ranges)
{
    /* A range that overflows float is taken in double. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3, 1), (float[]){-3e38f, 0, 3e38f});
    cr_assert_eq(nb_minmax_scale(x, NULL, NULL), NB_OK, "%s", nb_error());
    assert_close(x->data, (double[]){0, 0.5, 1}, 3, 1e-7, 0, "wide range");
    nb_tensor_free(x);
    nb_tensor *t = nb_tensor_from(NB_SHAPE(2, 2), (float[]){0, 5, 10, 5});
    cr_assert_eq(nb_minmax_scale_with(t, (float[]){0, 5}, (float[]){5, 5}), NB_OK);
    assert_close(t->data, (double[]){0, 0, 2, 0}, 4, 0, 0, "minmax_with");
    nb_tensor_free(t);
}

Test(preprocess, same_bits_for_one_and_two_threads)
{
    /* Large enough that the statistics and the transform are split across threads. */
    nb_tensor *a = nb_tensor_rand(NB_SHAPE(600, 1, 28, 28), 0, 1, 5);
    nb_tensor *b = nb_tensor_clone(a), *c = nb_tensor_clone(a), *d = nb_tensor_clone(a);
    int threads = nb_num_threads();
    float m1[784], s1[784], m2[784], s2[784];
    nb_set_num_threads(1);
    cr_assert_eq(nb_standardize(a, m1, s1), NB_OK);
    cr_assert_eq(nb_minmax_scale(c, NULL, NULL), NB_OK);
    nb_set_num_threads(2);
    cr_assert_eq(nb_standardize(b, m2, s2), NB_OK);
    cr_assert_eq(nb_minmax_scale(d, NULL, NULL), NB_OK);
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(a->data, b->data, (size_t)a->size * sizeof(float)), 0);
    cr_assert_eq(memcmp(m1, m2, sizeof m1), 0);
    cr_assert_eq(memcmp(s1, s2, sizeof s1), 0);
    cr_assert_eq(memcmp(c->data, d->data, (size_t)c->size * sizeof(float)), 0);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(c);
    nb_tensor_free(d);
}

Test(preprocess, one_hot)
{
    nb_tensor *l = nb_tensor_from(NB_SHAPE(5), (float[]){2, 0, 1, 2, 3});
    nb_tensor *h = nb_one_hot(l, 4);
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert(h->ndim == 2 && h->shape[0] == 5 && h->shape[1] == 4 && h->persistent);
    double want[20] = {0};
    for (int i = 0; i < 5; i++)
        want[i * 4 + (int)l->data[i]] = 1;
    assert_close(h->data, want, 20, 0, 0, "one_hot");
    nb_tensor_free(h);
    nb_tensor *col = nb_tensor_from(NB_SHAPE(2, 1), (float[]){1, 0});
    h = nb_one_hot(col, 2);
    cr_assert_not_null(h, "%s", nb_error());
    assert_close(h->data, (double[]){0, 1, 1, 0}, 4, 0, 0, "one_hot [N,1]");
    nb_tensor_free(h);

    assert_error(nb_one_hot(l, 3), NB_ERR_ARG, "one_hot: label 4 is 3, not an integer in [0, 3)");
    nb_tensor *bad = nb_tensor_from(NB_SHAPE(3), (float[]){0, 1.5f, -1});
    assert_error(nb_one_hot(bad, 3), NB_ERR_ARG, "one_hot: label 1 is 1.5, not an integer");
    bad->data[1] = NAN;
    assert_error(nb_one_hot(bad, 3), NB_ERR_ARG, "one_hot: label 1 is nan");
    bad->data[1] = 1;
    assert_error(nb_one_hot(bad, 3), NB_ERR_ARG, "one_hot: label 2 is -1");
    assert_error(nb_one_hot(l, 0), NB_ERR_ARG, "one_hot: n_classes 0 is below 1");
    assert_error(nb_one_hot(NULL, 3), NB_ERR_NULL, "one_hot: labels are NULL");
    nb_tensor *m = nb_tensor_zeros(NB_SHAPE(2, 2));
    assert_error(nb_one_hot(m, 3), NB_ERR_SHAPE,
                 "one_hot: labels of shape [2,2]: expected class indices [N] or [N, 1]");
    nb_tensor_free(m);
    nb_tensor_free(bad);
    nb_tensor_free(col);
    nb_tensor_free(l);
}

Test(preprocess, errors_leave_x_unchanged)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3, 2), (float[]){1, 2, NAN, 4, 5, 6});
    float before[6];
    memcpy(before, x->data, sizeof before);
    cr_assert_eq(nb_standardize(x, NULL, NULL), NB_ERR_NUMERIC);
    cr_assert(strstr(nb_error(), "standardize: feature 0 has a non-finite mean or std"), "%s",
              nb_error());
    cr_assert_eq(nb_minmax_scale(x, NULL, NULL), NB_ERR_NUMERIC);
    cr_assert(strstr(nb_error(), "minmax_scale: feature 0 holds NaN or infinity"), "%s",
              nb_error());
    x->data[2] = INFINITY;
    cr_assert_eq(nb_minmax_scale(x, NULL, NULL), NB_ERR_NUMERIC);
    x->data[2] = 3e38f;
    x->data[0] = 3e38f;
    x->data[4] = 3e38f;
    cr_assert_eq(nb_standardize(x, NULL, NULL), NB_OK, "3e38 x 3 sums in double: %s", nb_error());
    nb_tensor_free(x);

    x = nb_tensor_from(NB_SHAPE(3, 2), (float[]){1, 2, 3, 4, 5, 6});
    memcpy(before, x->data, sizeof before);
    cr_assert_eq(nb_standardize_with(x, (float[]){0, 0}, (float[]){1, -1}), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "standardize_with: feature 1 has mean 0 and std -1 (need "
                     "finite values, std >= 0)"), "%s", nb_error());
    cr_assert_eq(nb_standardize_with(x, (float[]){NAN, 0}, (float[]){1, 1}), NB_ERR_ARG);
    cr_assert_eq(nb_minmax_scale_with(x, (float[]){0, 3}, (float[]){1, 2}), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "minmax_scale_with: feature 1 has min 3 and max 2 (need "
                     "finite values, max >= min)"), "%s", nb_error());
    cr_assert_eq(nb_minmax_scale_with(x, (float[]){0, 0}, (float[]){INFINITY, 1}), NB_ERR_ARG);
    cr_assert_eq(nb_standardize_with(x, NULL, (float[]){1, 1}), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "standardize_with: mean is NULL"), "%s", nb_error());
    cr_assert_eq(nb_minmax_scale_with(x, (float[]){0, 0}, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "minmax_scale_with: max is NULL"), "%s", nb_error());
    cr_assert_eq(memcmp(before, x->data, sizeof before), 0, "x is unchanged on error");
    nb_tensor_free(x);

    cr_assert_eq(nb_standardize(NULL, NULL, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "standardize: x is NULL"), "%s", nb_error());
    nb_tensor *s = nb_tensor_scalar(1);
    cr_assert_eq(nb_minmax_scale(s, NULL, NULL), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "minmax_scale: x is a scalar (rank 0)"), "%s", nb_error());
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3));
    cr_assert_eq(nb_standardize(e, NULL, NULL), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "standardize: x has no samples"), "%s", nb_error());
    cr_assert_eq(nb_minmax_scale(e, NULL, NULL), NB_ERR_SHAPE);
    cr_assert_eq(nb_standardize_with(e, (float[]){0, 0, 0}, (float[]){1, 1, 1}), NB_OK,
                 "an empty test set is fine with given statistics");
    nb_tensor_free(e);
    nb_tensor_free(s);
}
