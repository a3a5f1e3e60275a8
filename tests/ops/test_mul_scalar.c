/* mul_scalar: forward against the definition in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(mul_scalar);

static double ref(double x, double p) { return x * p; }
static double dref(double x, double p) { (void)x; return p; }

/* Zero tolerances: every value and gradient must be exact. */
static const unary_desc MUL_SCALAR = {.name = "mul_scalar", .op_p = nb_mul_scalar, .ref = ref,
                                      .dref = dref, .lo = -3, .hi = 3, .p = -1.5f};

Test(mul_scalar, forward_values)
{
    /* One rounding, so exact against double; inf * 0 is NaN, overflow gives inf. */
    const float xs[] = {0.0f, 1.5f, -2.0f, INFINITY, -INFINITY, NAN, 3e38f, 1e-30f};
    const float ps[] = {-1.5f, 2.0f, 0.0f, 1e10f, 1e-20f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        unary_check_values(&MUL_SCALAR, xs, 8, ps[k]);
}

Test(mul_scalar, forward_shapes) { unary_check_shapes(&MUL_SCALAR); }

Test(mul_scalar, gradient)
{
    unary_check_gradient(&MUL_SCALAR, -1.5f, -3, 3);
    unary_check_gradient(&MUL_SCALAR, 2.0f, -3, 3);
    unary_check_gradient(&MUL_SCALAR, 1.0f, -3, 3);
}

Test(mul_scalar, large_parallel) { unary_check_large_parallel(&MUL_SCALAR); }
Test(mul_scalar, backward_accumulates) { unary_check_accumulates(&MUL_SCALAR); }
Test(mul_scalar, null_input) { unary_check_null_input(&MUL_SCALAR); }

Test(mul_scalar, zero_scalar_zero_gradient)
{
    /* s = 0: y is all zeros and so is dx. */
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 3), -3, 3, 80, true);
    unary_check_constant(&MUL_SCALAR, x, 0.0f, 0.0f);
    nb_tensor_free(x);
}
