/* sqrt: forward against sqrt() in double, gradients by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(sqrt);

static nb_tensor *f_sqrt(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_sqrt(in[0]);
}

/* The definition, in double. */
static double ref(double x) { return sqrt(x); }

/* Tolerances for values and for gradients: sqrtf rounds once, dy / (2y) twice. */
#define ATOL 0.0
#define RTOL 0.0
#define DATOL 1e-30
#define DRTOL 1e-6

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

Test(sqrt, forward_values)
{
    /* sqrtf is correctly rounded; sqrt(-0) = -0, a negative gives NaN. */
    const float xs[] = {0.0f, -0.0f, 4.0f, 2.0f, 1e-30f, 3e38f, 1e-45f, -1.0f, INFINITY, -INFINITY,
                        NAN};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(11), xs);
    nb_tensor *y = nb_sqrt(x);
    cr_assert_not_null(y, "%s", nb_error());
    for (int i = 0; i < 11; i++)
        assert_near(y->data[i], ref(xs[i]), ATOL, RTOL, "sqrt", i);
    cr_assert(signbit(y->data[1]), "sqrt(-0) = -0");
    nb_tensor_free(x);
}

Test(sqrt, forward_shapes)
{
    /* The output has the input's shape, from rank 0 to 4 and an empty tensor. */
    const int64_t shapes[][4] = {{0}, {1}, {17}, {3, 1}, {2, 3, 4}, {1, 3, 1, 5}, {0, 3}};
    const int ranks[] = {0, 1, 1, 2, 3, 4, 2};
    for (int c = 0; c < 7; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], 0.5f, 4, 40 + c, false);
        nb_tensor *y = nb_sqrt(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y), "shape of case %d", c);
        for (int64_t i = 0; i < y->size; i++)
            assert_near(y->data[i], ref(x->data[i]), ATOL, RTOL, "sqrt", i);
        nb_tensor_free(x);
    }
}

static void check_gradient(float lo, float hi)
{
    const int64_t shapes[][4] = {{0}, {1}, {17}, {17, 3}, {1, 3, 1}, {2, 1, 3, 5}};
    const int ranks[] = {0, 1, 1, 2, 3, 4};
    for (int c = 0; c < 6; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], lo, hi, 50 + c, true);
        char what[96], s[64];
        snprintf(what, sizeof what, "sqrt on %s", nb_tensor_shape_str(x, s, sizeof s));
        assert_gradcheck(f_sqrt, &x, 1, NULL, NULL, what);
        nb_tensor_free(x);
    }
}

Test(sqrt, gradient)
{
    check_gradient(0.5f, 4);  /* away from 0, where the slope is infinite */
}

/* y = sqrt(x) and dx for dy = seed, on `threads` threads. */
static nb_tensor *run_large(nb_tensor *x, const nb_tensor *seed, int threads)
{
    nb_set_num_threads(threads);
    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_sqrt(x);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    return y;
}

Test(sqrt, large_parallel)
{
    /* Above NB_PAR_MIN: values and gradient against the reference, and the same bits on
     * 1 and 2 threads. */
    int threads = nb_num_threads();
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), 0.5f, 4, 60, true);
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
        assert_near(y->data[i], ref(v), ATOL, RTOL, "sqrt", i);
        assert_near(x->grad->data[i], seed->data[i] * (0.5 / sqrt(v)), DATOL, DRTOL, "dsqrt", i);
    }
    cr_assert_eq(memcmp(y1, y->data, bytes), 0, "y differs between 1 and 2 threads");
    cr_assert_eq(memcmp(dx1, x->grad->data, bytes), 0, "dx differs between 1 and 2 threads");
    nb_set_num_threads(threads);
    free(y1);
    free(dx1);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(sqrt, backward_accumulates)
{
    /* Two uses of x: the gradients of both add up in x->grad. */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), 0.5f, 4, 70, true);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    nb_tensor *y = nb_add(nb_sqrt(x), nb_sqrt(x));
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 15; i++) {
        double v = x->data[i];
        (void)v;
        assert_near(x->grad->data[i], 2 * (0.5 / sqrt(v)), DATOL, DRTOL, "2 dsqrt", i);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(sqrt, null_input)
{
    assert_error(nb_sqrt(NULL), NB_ERR_NULL, "sqrt: input 0 is NULL");
}

Test(sqrt, gradient_at_zero)
{
    /* d sqrt x / dx = 1 / (2 sqrt x): +inf at 0, as in PyTorch. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(2), (float[]){0.0f, 4.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(2));
    cr_assert_eq(nb_backward_seed(nb_sqrt(x), seed), NB_OK, "%s", nb_error());
    cr_assert(isinf(x->grad->data[0]) && x->grad->data[0] > 0);
    cr_assert_eq(x->grad->data[1], 0.25f);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

