/* add_scalar: forward against the definition in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(add_scalar);

static double ref(double x, double p) { return x + p; }
static double dref(double x, double p) { (void)x; (void)p; return 1.0; }

/* Zero tolerances: every value and gradient must be exact. */
static const unary_desc ADD_SCALAR = {.name = "add_scalar", .op_p = nb_add_scalar, .ref = ref,
                                      .dref = dref, .lo = -3, .hi = 3, .p = 2.5f};

Test(add_scalar, forward_values)
{
    /* float + float rounds once, so the double sum rounded to float is exact; inf + -inf is NaN and
     * 3e38 + 3e38 overflows. */
    const float xs[] = {0.0f, 1.5f, -2.0f, INFINITY, -INFINITY, NAN, 3e38f, 1e-30f};
    const float ps[] = {2.5f, -1.0f, 0.0f, 3e38f, -INFINITY};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        unary_check_values(&ADD_SCALAR, xs, 8, ps[k]);
}

Test(add_scalar, forward_shapes) { unary_check_shapes(&ADD_SCALAR); }

Test(add_scalar, gradient)
{
    unary_check_gradient(&ADD_SCALAR, 2.5f, -3, 3);
    unary_check_gradient(&ADD_SCALAR, -1.0f, -3, 3);
    unary_check_gradient(&ADD_SCALAR, 0.0f, -3, 3);
}

Test(add_scalar, large_parallel) { unary_check_large_parallel(&ADD_SCALAR); }
Test(add_scalar, backward_accumulates) { unary_check_accumulates(&ADD_SCALAR); }
Test(add_scalar, null_input) { unary_check_null_input(&ADD_SCALAR); }
