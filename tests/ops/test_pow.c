/* pow: forward against pow() in double, gradients by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(pow);

/* The parameter of the fixed-parameter tests: an integer, so x may take both signs. */
#define P 3.0f

static nb_tensor *f_pow(nb_tensor *const *in, void *ud)
{
    return nb_pow(in[0], *(const float *)ud);
}

/* The definition, in double. */
static double ref(double x, double p) { return pow(x, p); }

/* Tolerances for values and for gradients (powf is within an ulp or two). */
#define ATOL 1e-30
#define RTOL 1e-6
#define DATOL 1e-30
#define DRTOL 2e-6

/* got matches want: both NaN, got is want rounded to float, or within atol + rtol |want|. */
static void assert_near(float got, double want, double atol, double rtol, const char *what,
                        int64_t i)
{
    float wf = (float)want;
    bool ok = isnan(want) ? isnan(got)
                          : got == wf || (!isinf(wf) &&
                                          fabs((double)got - want) <= atol + rtol * fabs(want));
    cr_assert(ok, "%s[%lld]: got %.9g, want %.9g", what, (long long)i, got, want);
}

Test(pow, forward_values)
{
    /* C pow semantics: a negative base with a non-integer exponent is NaN, x^0 = 1 for every x (NaN
     * too), 0^-1 = inf, overflow to inf. */
    const float xs[] = {2.0f, 0.5f, -2.0f, -0.5f, 0.0f, -0.0f, 1.0f, -1.0f, 10.0f, INFINITY,
                        -INFINITY, NAN};
    const float ps[] = {2.0f, 3.0f, 0.5f, -1.0f, -1.5f, 2.5f, 0.0f, 1.0f, -2.0f, 40.0f};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(12), xs);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        nb_tensor *y = nb_pow(x, ps[k]);
        cr_assert_not_null(y, "%s", nb_error());
        for (int i = 0; i < 12; i++) {
            char what[32];
            snprintf(what, sizeof what, "pow(%g)", ps[k]);
            assert_near(y->data[i], ref(xs[i], ps[k]), ATOL, RTOL, what, i);
        }
    }
    nb_tensor *y = nb_pow(x, 0.0f);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(y->data[i], 1.0f, "x^0 = 1 for x = %g", xs[i]);
    y = nb_pow(x, 0.5f);
    cr_assert(isnan(y->data[2]) && isnan(y->data[3]), "negative ^ 0.5 is NaN");
    nb_tensor_free(x);
}

Test(pow, forward_shapes)
{
    /* The output has the input's shape, from rank 0 to 4 and an empty tensor. */
    const int64_t shapes[][4] = {{0}, {1}, {17}, {3, 1}, {2, 3, 4}, {1, 3, 1, 5}, {0, 3}};
    const int ranks[] = {0, 1, 1, 2, 3, 4, 2};
    for (int c = 0; c < 7; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], -2, 2, 40 + c, false);
        nb_tensor *y = nb_pow(x, P);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y), "shape of case %d", c);
        for (int64_t i = 0; i < y->size; i++)
            assert_near(y->data[i], ref(x->data[i], P), ATOL, RTOL, "pow", i);
        nb_tensor_free(x);
    }
}

static void check_gradient(float p, float lo, float hi)
{
    const int64_t shapes[][4] = {{0}, {1}, {17}, {17, 3}, {1, 3, 1}, {2, 1, 3, 5}};
    const int ranks[] = {0, 1, 1, 2, 3, 4};
    for (int c = 0; c < 6; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], lo, hi, 50 + c, true);
        char what[96], s[64];
        snprintf(what, sizeof what, "pow(%g) on %s", p, nb_tensor_shape_str(x, s, sizeof s));
        assert_gradcheck(f_pow, &x, 1, &p, NULL, what);
        nb_tensor_free(x);
    }
}

Test(pow, gradient)
{
    check_gradient(2.0f, -2, 2);   /* integer exponents: any sign of x */
    check_gradient(3.0f, -2, 2);
    check_gradient(1.0f, -2, 2);
    check_gradient(-1.0f, -2, -0.5f); /* negative exponents: keep |x| away from 0 */
    check_gradient(-2.0f, 0.5f, 2);
    check_gradient(0.5f, 0.5f, 3);  /* non-integer exponents: positive x only */
    check_gradient(-1.5f, 0.5f, 3);
    check_gradient(2.5f, 0.5f, 3);
}

/* y = pow(x) and dx for dy = seed, on `threads` threads. */
static nb_tensor *run_large(nb_tensor *x, const nb_tensor *seed, int threads)
{
    nb_set_num_threads(threads);
    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_pow(x, P);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    return y;
}

Test(pow, large_parallel)
{
    /* Above NB_PAR_MIN: values and gradient against the reference, and the same bits on
     * 1 and 2 threads. */
    int threads = nb_num_threads();
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -2, 2, 60, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 257), -1, 1, 61, false);
    int64_t n = x->size;
    size_t bytes = sizeof(float) * (size_t)n;
    float *y1 = malloc(bytes), *dx1 = malloc(bytes);
    cr_assert(y1 && dx1);
    nb_tensor *y = run_large(x, seed, 1);
    memcpy(y1, y->data, bytes);
    memcpy(dx1, x->grad->data, bytes);
    y = run_large(x, seed, 2);
    for (int64_t i = 0; i < n; i++) {
        double v = x->data[i];
        (void)v;
        assert_near(y->data[i], ref(v, P), ATOL, RTOL, "pow", i);
        assert_near(x->grad->data[i], seed->data[i] * (P * pow(v, P - 1)), DATOL, DRTOL, "dpow", i);
    }
    cr_assert_eq(memcmp(y1, y->data, bytes), 0, "y differs between 1 and 2 threads");
    cr_assert_eq(memcmp(dx1, x->grad->data, bytes), 0, "dx differs between 1 and 2 threads");
    nb_set_num_threads(threads);
    free(y1);
    free(dx1);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(pow, backward_accumulates)
{
    /* Two uses of x: the gradients of both add up in x->grad. */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -2, 2, 70, true);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    nb_tensor *y = nb_add(nb_pow(x, P), nb_pow(x, P));
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 15; i++) {
        double v = x->data[i];
        (void)v;
        assert_near(x->grad->data[i], 2 * (P * pow(v, P - 1)), DATOL, DRTOL, "2 dpow", i);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(pow, null_input)
{
    assert_error(nb_pow(NULL, P), NB_ERR_NULL, "pow: input 0 is NULL");
}

Test(pow, zero_exponent)
{
    /* p = 0: ones (0^0 = 1), and no gradient at all (as in PyTorch). */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), -2, 2, 81, true);
    x->data[0] = 0.0f;
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 4));
    nb_tensor *y = nb_pow(x, 0.0f);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 12; i++) {
        cr_assert_eq(y->data[i], 1.0f);
        cr_assert_eq(x->grad->data[i], 0.0f);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(pow, gradient_special_points)
{
    /* NaN for a negative base with p = 0.5; +inf at x = 0 for 0 < p < 1; 0 at x = 0 for
     * p = 2; p * x^(p-1) for a negative base with an integer p. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){-4.0f, 0.0f, 4.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_eq(nb_backward_seed(nb_pow(x, 0.5f), seed), NB_OK, "%s", nb_error());
    cr_assert(isnan(x->grad->data[0]));
    cr_assert(isinf(x->grad->data[1]) && x->grad->data[1] > 0);
    cr_assert_float_eq(x->grad->data[2], 0.25f, 1e-7);
    nb_tensor_zero_grad(x);
    cr_assert_eq(nb_backward_seed(nb_pow(x, 2.0f), seed), NB_OK, "%s", nb_error());
    const double want2[] = {-8, 0, 8};
    assert_close(x->grad->data, want2, 3, 0, 1e-6, "d x^2");
    nb_tensor_zero_grad(x);
    cr_assert_eq(nb_backward_seed(nb_pow(x, 3.0f), seed), NB_OK, "%s", nb_error());
    const double want3[] = {48, 0, 48};
    assert_close(x->grad->data, want3, 3, 0, 1e-6, "d x^3");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

