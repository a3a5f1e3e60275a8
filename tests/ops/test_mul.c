/* mul: forward against a broadcast loop in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(mul);

static double ref(double a, double b) { return a * b; }
static double da(double a, double b) { (void)a; return b; }
static double db(double a, double b) { (void)b; return a; }

static const binary_desc MUL = {.name = "mul", .op = nb_mul, .ref = ref, .da = da, .db = db,
                                .b_lo = -2, .b_hi = 2};

Test(mul, forward_broadcast) { binary_check_broadcast(&MUL); }

Test(mul, forward_values)
{
    /* inf * 0 is NaN; 1e30^2 overflows, 1e-30^2 underflows */
    const float a[] = {1.5f, -0.25f, 0.0f, INFINITY, INFINITY, NAN, -0.0f, 1e30f, 1e-30f};
    const float b[] = {2.0f, -4.0f, -3.0f, -2.0f, 0.0f, 1.0f, 5.0f, 1e30f, 1e-30f};
    nb_tensor *y = binary_check_values(&MUL, a, b, 9);
    cr_assert(signbit(y->data[2]) && signbit(y->data[6]), "signed zeros");
}

Test(mul, forward_large_parallel) { binary_check_large_parallel(&MUL); }
Test(mul, gradient) { binary_check_gradient(&MUL); }
Test(mul, gradient_same_tensor) { binary_check_same_tensor(&MUL); }
Test(mul, gradient_large_broadcast) { binary_check_large_gradient(&MUL); }
Test(mul, errors) { binary_check_errors(&MUL); }
