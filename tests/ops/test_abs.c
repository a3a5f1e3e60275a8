/* abs: forward against fabs() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(abs);

static double ref(double x, double p) { (void)p; return fabs(x); }
static double dref(double x, double p) { (void)p; return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }

/* Keeps finite differences off the kink at 0. */
static void off_kink(nb_tensor *x)
{
    for (int64_t i = 0; i < x->size; i++)
        if (fabsf(x->data[i]) < 0.05f)
            x->data[i] = x->data[i] < 0 ? -0.5f : 0.5f;
}

/* Zero tolerances: every value and gradient must be exact. */
static const unary_desc ABS = {.name = "abs", .op = nb_abs, .ref = ref, .dref = dref,
                               .lo = -3, .hi = 3, .nudge = off_kink};

Test(abs, forward_values)
{
    /* Exact: |x| only clears the sign bit, also of zeros, infinities and NaN. */
    const float xs[] = {0.0f, -0.0f, 1.5f, -2.0f, 1e-45f, -1e-45f, INFINITY, -INFINITY, NAN,
                        -3e38f};
    nb_tensor *y = unary_check_values(&ABS, xs, 10, 0);
    cr_assert(!signbit(y->data[1]), "|-0| = +0");
}

Test(abs, forward_shapes) { unary_check_shapes(&ABS); }
Test(abs, gradient) { unary_check_gradient(&ABS, 0, -3, 3); }
Test(abs, large_parallel) { unary_check_large_parallel(&ABS); }
Test(abs, backward_accumulates) { unary_check_accumulates(&ABS); }
Test(abs, null_input) { unary_check_null_input(&ABS); }

Test(abs, gradient_at_kink)
{
    /* sign(x): 1 above 0, -1 below, 0 at both zeros and for NaN (as in PyTorch). */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(7), (float[]){0.0f, -0.0f, 1e-30f, -1e-30f, 3, -3,
                                                         NAN});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_from(NB_SHAPE(7), (float[]){2, 2, 2, 2, 2, 2, 2});
    cr_assert_eq(nb_backward_seed(nb_abs(x), seed), NB_OK, "%s", nb_error());
    const double want[] = {0, 0, 2, -2, 2, -2, 0};
    assert_close(x->grad->data, want, 7, 0, 0, "dabs");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}
