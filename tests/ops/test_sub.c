/* sub: forward against a broadcast loop in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(sub);

static double ref(double a, double b) { return a - b; }
static double da(double a, double b) { (void)a; (void)b; return 1.0; }
static double db(double a, double b) { (void)a; (void)b; return -1.0; }

static const binary_desc SUB = {.name = "sub", .op = nb_sub, .ref = ref, .da = da, .db = db,
                                .b_lo = -2, .b_hi = 2};

Test(sub, forward_broadcast) { binary_check_broadcast(&SUB); }

Test(sub, forward_values)
{
    /* inf - inf is NaN, 3e38 - -3e38 overflows to inf */
    const float a[] = {1.5f, -0.25f, 1e30f, INFINITY, INFINITY, NAN, 0.0f, 3e38f};
    const float b[] = {0.5f, -0.25f, -1e30f, 1.0f, INFINITY, 1.0f, -0.0f, -3e38f};
    binary_check_values(&SUB, a, b, 8);
}

Test(sub, forward_large_parallel) { binary_check_large_parallel(&SUB); }
Test(sub, gradient) { binary_check_gradient(&SUB); }
Test(sub, gradient_same_tensor) { binary_check_same_tensor(&SUB); }
Test(sub, gradient_large_broadcast) { binary_check_large_gradient(&SUB); }
Test(sub, errors) { binary_check_errors(&SUB); }
