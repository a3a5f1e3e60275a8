/* sqrt: forward against sqrt() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(sqrt);

static double ref(double x, double p) { (void)p; return sqrt(x); }
static double dref(double x, double p) { (void)p; return 0.5 / sqrt(x); }

/* Away from 0, where the slope is infinite. Tolerances: sqrtf rounds once (exact against
 * double), dy / (2y) twice. */
static const unary_desc SQRT = {.name = "sqrt", .op = nb_sqrt, .ref = ref, .dref = dref,
                                .lo = 0.5f, .hi = 4, .datol = 1e-30, .drtol = 1e-6};

Test(sqrt, forward_values)
{
    /* sqrtf is correctly rounded; sqrt(-0) = -0, a negative gives NaN. */
    const float xs[] = {0.0f, -0.0f, 4.0f, 2.0f, 1e-30f, 3e38f, 1e-45f, -1.0f, INFINITY, -INFINITY,
                        NAN};
    nb_tensor *y = unary_check_values(&SQRT, xs, 11, 0);
    cr_assert(signbit(y->data[1]), "sqrt(-0) = -0");
}

Test(sqrt, forward_shapes) { unary_check_shapes(&SQRT); }
Test(sqrt, gradient) { unary_check_gradient(&SQRT, 0, 0.5f, 4); }
Test(sqrt, large_parallel) { unary_check_large_parallel(&SQRT); }
Test(sqrt, backward_accumulates) { unary_check_accumulates(&SQRT); }
Test(sqrt, null_input) { unary_check_null_input(&SQRT); }

Test(sqrt, gradient_at_zero)
{
    /* d sqrt x / dx = 1 / (2 sqrt x): +inf at 0, as in PyTorch. */
    unary_check_grad_at_zero(&SQRT, 4.0f, 0.25f);
}
