/* tanh: forward against tanh() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(tanh);

static double ref(double x, double p) { (void)p; return tanh(x); }
static double dref(double x, double p) { (void)p; return 1.0 - tanh(x) * tanh(x); }

/* Tolerances: tanhf is within an ulp or two; dx = dy (1 - y^2) cancels when |y| is near 1,
 * losing a few bits. */
static const unary_desc TANH = {.name = "tanh", .op = nb_tanh, .ref = ref, .dref = dref,
                                .lo = -3, .hi = 3, .atol = 1e-30, .rtol = 1e-6,
                                .datol = 2e-7, .drtol = 1e-5};

Test(tanh, forward_values)
{
    /* tanh 0 = 0, saturates to +-1, odd. */
    const float xs[] = {0.0f, -0.0f, 0.5f, -1.0f, 3.0f, 20.0f, -20.0f, 1e-30f, INFINITY, -INFINITY,
                        NAN};
    unary_check_values(&TANH, xs, 11, 0);
}

Test(tanh, forward_shapes) { unary_check_shapes(&TANH); }
Test(tanh, gradient) { unary_check_gradient(&TANH, 0, -3, 3); }
Test(tanh, large_parallel) { unary_check_large_parallel(&TANH); }
Test(tanh, backward_accumulates) { unary_check_accumulates(&TANH); }
Test(tanh, null_input) { unary_check_null_input(&TANH); }
