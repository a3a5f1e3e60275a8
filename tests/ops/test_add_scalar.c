/* add_scalar: forward against the definition in double, gradients by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(add_scalar);

/* The parameter of the fixed-parameter tests. */
#define P 2.5f

static nb_tensor *f_add_scalar(nb_tensor *const *in, void *ud)
{
    return nb_add_scalar(in[0], *(const float *)ud);
}

/* The definition, in double. */
static double ref(double x, double p) { return x + p; }

/* Tolerances for values and for gradients */
#define ATOL 0.0
#define RTOL 0.0
#define DATOL 0.0
#define DRTOL 0.0

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

Test(add_scalar, forward_values)
{
    /* float + float rounds once, so the double sum rounded to float is exact; inf + -inf is NaN and
     * 3e38 + 3e38 overflows. */
    const float xs[] = {0.0f, 1.5f, -2.0f, INFINITY, -INFINITY, NAN, 3e38f, 1e-30f};
    const float ps[] = {2.5f, -1.0f, 0.0f, 3e38f, -INFINITY};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(8), xs);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        nb_tensor *y = nb_add_scalar(x, ps[k]);
        cr_assert_not_null(y, "%s", nb_error());
        for (int i = 0; i < 8; i++) {
            char what[32];
            snprintf(what, sizeof what, "add_scalar(%g)", ps[k]);
            assert_near(y->data[i], ref(xs[i], ps[k]), ATOL, RTOL, what, i);
        }
    }
    nb_tensor_free(x);
}

Test(add_scalar, forward_shapes)
{
    /* The output has the input's shape, from rank 0 to 4 and an empty tensor. */
    const int64_t shapes[][4] = {{0}, {1}, {17}, {3, 1}, {2, 3, 4}, {1, 3, 1, 5}, {0, 3}};
    const int ranks[] = {0, 1, 1, 2, 3, 4, 2};
    for (int c = 0; c < 7; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], -3, 3, 40 + c, false);
        nb_tensor *y = nb_add_scalar(x, P);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y), "shape of case %d", c);
        for (int64_t i = 0; i < y->size; i++)
            assert_near(y->data[i], ref(x->data[i], P), ATOL, RTOL, "add_scalar", i);
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
        snprintf(what, sizeof what, "add_scalar(%g) on %s", p, nb_tensor_shape_str(x, s, sizeof s));
        assert_gradcheck(f_add_scalar, &x, 1, &p, NULL, what);
        nb_tensor_free(x);
    }
}

Test(add_scalar, gradient)
{
    check_gradient(2.5f, -3, 3);
    check_gradient(-1.0f, -3, 3);
    check_gradient(0.0f, -3, 3);
}

/* y = add_scalar(x) and dx for dy = seed, on `threads` threads. */
static nb_tensor *run_large(nb_tensor *x, const nb_tensor *seed, int threads)
{
    nb_set_num_threads(threads);
    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_add_scalar(x, P);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    return y;
}

Test(add_scalar, large_parallel)
{
    /* Above NB_PAR_MIN: values and gradient against the reference, and the same bits on
     * 1 and 2 threads. */
    int threads = nb_num_threads();
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -3, 3, 60, true);
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
        assert_near(y->data[i], ref(v, P), ATOL, RTOL, "add_scalar", i);
        assert_near(x->grad->data[i], seed->data[i] * (1.0), DATOL, DRTOL, "dadd_scalar", i);
    }
    cr_assert_eq(memcmp(y1, y->data, bytes), 0, "y differs between 1 and 2 threads");
    cr_assert_eq(memcmp(dx1, x->grad->data, bytes), 0, "dx differs between 1 and 2 threads");
    nb_set_num_threads(threads);
    free(y1);
    free(dx1);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(add_scalar, backward_accumulates)
{
    /* Two uses of x: the gradients of both add up in x->grad. */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -3, 3, 70, true);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    nb_tensor *y = nb_add(nb_add_scalar(x, P), nb_add_scalar(x, P));
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 15; i++) {
        double v = x->data[i];
        (void)v;
        assert_near(x->grad->data[i], 2 * (1.0), DATOL, DRTOL, "2 dadd_scalar", i);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(add_scalar, null_input)
{
    assert_error(nb_add_scalar(NULL, P), NB_ERR_NULL, "add_scalar: input 0 is NULL");
}

