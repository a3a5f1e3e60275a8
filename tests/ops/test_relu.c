/* relu: forward against max(x, 0) in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(relu);

static double ref(double x, double p) { (void)p; return x > 0 || isnan(x) ? x : 0.0; }
static double dref(double x, double p) { (void)p; return x > 0 ? 1.0 : 0.0; }

/* Keeps finite differences off the kink at 0. */
static void off_kink(nb_tensor *x)
{
    for (int64_t i = 0; i < x->size; i++)
        if (fabsf(x->data[i]) < 0.05f)
            x->data[i] = x->data[i] < 0 ? -0.5f : 0.5f;
}

/* Zero tolerances: every value and gradient must be exact. */
static const unary_desc RELU = {.name = "relu", .op = nb_relu, .ref = ref, .dref = dref,
                                .lo = -2, .hi = 2, .nudge = off_kink};

Test(relu, forward_values)
{
    /* Exact; NaN passes through as in PyTorch. */
    const float xs[] = {0.0f, -0.0f, 1.5f, -2.0f, 1e-30f, -1e-30f, INFINITY, -INFINITY, NAN};
    unary_check_values(&RELU, xs, 9, 0);
}

Test(relu, forward_shapes) { unary_check_shapes(&RELU); }
Test(relu, gradient) { unary_check_gradient(&RELU, 0, -2, 2); }
Test(relu, large_parallel) { unary_check_large_parallel(&RELU); }
Test(relu, backward_accumulates) { unary_check_accumulates(&RELU); }
Test(relu, null_input) { unary_check_null_input(&RELU); }

Test(relu, gradient_at_kink)
{
    /* The gradient is 1 for x > 0 and 0 for x <= 0, including exactly 0 (as in PyTorch). */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(6), (float[]){0.0f, -0.0f, 1e-30f, -1e-30f, 3, -3});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_from(NB_SHAPE(6), (float[]){2, 2, 2, 2, 2, 2});
    cr_assert_eq(nb_backward_seed(nb_relu(x), seed), NB_OK, "%s", nb_error());
    const double want[] = {0, 0, 2, 0, 2, 0};
    assert_close(x->grad->data, want, 6, 0, 0, "drelu");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}
