/* exp: forward against exp() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(exp);

static double ref(double x, double p) { (void)p; return exp(x); }

/* d exp x / dx = exp x. Tolerances: expf is within an ulp or two. */
static const unary_desc EXP = {.name = "exp", .op = nb_exp, .ref = ref, .dref = ref,
                               .lo = -4, .hi = 4, .atol = 1e-30, .rtol = 1e-6,
                               .datol = 1e-30, .drtol = 2e-6};

Test(exp, forward_values)
{
    /* exp 0 = 1, overflow to inf above ~88.7, underflow to 0, exp(-inf) = 0. */
    const float xs[] = {0.0f, -0.0f, 1.0f, -1.0f, 10.0f, -20.0f, 88.0f, 89.0f, -110.0f, INFINITY,
                        -INFINITY, NAN, 1e-30f};
    unary_check_values(&EXP, xs, 13, 0);
}

Test(exp, forward_shapes) { unary_check_shapes(&EXP); }
Test(exp, gradient) { unary_check_gradient(&EXP, 0, -4, 4); }
Test(exp, large_parallel) { unary_check_large_parallel(&EXP); }
Test(exp, backward_accumulates) { unary_check_accumulates(&EXP); }
Test(exp, null_input) { unary_check_null_input(&EXP); }
