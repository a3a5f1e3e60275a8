/* pow: forward against pow() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(pow);

static double dref(double x, double p) { return p * pow(x, p - 1); }

/* The scalar of the fixed-parameter checks is an integer, so x may take both signs.
 * Tolerances: powf is within an ulp or two. */
static const unary_desc POW = {.name = "pow", .op_p = nb_pow, .ref = pow, .dref = dref,
                               .lo = -2, .hi = 2, .p = 3.0f, .atol = 1e-30, .rtol = 1e-6,
                               .datol = 1e-30, .drtol = 2e-6};

Test(pow, forward_values)
{
    /* C pow semantics: a negative base with a non-integer exponent is NaN, x^0 = 1 for every x (NaN
     * too), 0^-1 = inf, overflow to inf. */
    const float xs[] = {2.0f, 0.5f, -2.0f, -0.5f, 0.0f, -0.0f, 1.0f, -1.0f, 10.0f, INFINITY,
                        -INFINITY, NAN};
    const float ps[] = {2.0f, 3.0f, 0.5f, -1.0f, -1.5f, 2.5f, 0.0f, 1.0f, -2.0f, 40.0f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        unary_check_values(&POW, xs, 12, ps[k]);
    nb_tensor *x = nb_tensor_from(NB_SHAPE(12), xs);
    nb_tensor *y = nb_pow(x, 0.0f);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(y->data[i], 1.0f, "x^0 = 1 for x = %g", xs[i]);
    y = nb_pow(x, 0.5f);
    cr_assert(isnan(y->data[2]) && isnan(y->data[3]), "negative ^ 0.5 is NaN");
    nb_tensor_free(x);
}

Test(pow, forward_shapes) { unary_check_shapes(&POW); }

Test(pow, gradient)
{
    unary_check_gradient(&POW, 2.0f, -2, 2);   /* integer exponents: any sign of x */
    unary_check_gradient(&POW, 3.0f, -2, 2);
    unary_check_gradient(&POW, 1.0f, -2, 2);
    unary_check_gradient(&POW, -1.0f, -2, -0.5f); /* negative exponents: keep |x| away from 0 */
    unary_check_gradient(&POW, -2.0f, 0.5f, 2);
    unary_check_gradient(&POW, 0.5f, 0.5f, 3);  /* non-integer exponents: positive x only */
    unary_check_gradient(&POW, -1.5f, 0.5f, 3);
    unary_check_gradient(&POW, 2.5f, 0.5f, 3);
}

Test(pow, large_parallel) { unary_check_large_parallel(&POW); }
Test(pow, backward_accumulates) { unary_check_accumulates(&POW); }
Test(pow, null_input) { unary_check_null_input(&POW); }

Test(pow, zero_exponent)
{
    /* p = 0: ones (0^0 = 1), and no gradient at all (as in PyTorch). */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), -2, 2, 81, true);
    x->data[0] = 0.0f;
    unary_check_constant(&POW, x, 0.0f, 1.0f);
    nb_tensor_free(x);
}

Test(pow, gradient_special_points)
{
    /* NaN for a negative base with p = 0.5; +inf at x = 0 for 0 < p < 1; 0 at x = 0 for
     * p = 2; p * x^(p-1) for a negative base with an integer p. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){-4.0f, 0.0f, 4.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_eq(nb_backward_seed(nb_pow(x, 0.5f), seed), NB_OK, "%s", nb_error());
    cr_assert(isnan(x->grad->data[0]));
    cr_assert(isinf(x->grad->data[1]) && x->grad->data[1] > 0);
    cr_assert_float_eq(x->grad->data[2], 0.25f, 1e-7);
    nb_tensor_zero_grad(x);
    cr_assert_eq(nb_backward_seed(nb_pow(x, 2.0f), seed), NB_OK, "%s", nb_error());
    const double want2[] = {-8, 0, 8};
    assert_close(x->grad->data, want2, 3, 0, 1e-6, "d x^2");
    nb_tensor_zero_grad(x);
    cr_assert_eq(nb_backward_seed(nb_pow(x, 3.0f), seed), NB_OK, "%s", nb_error());
    const double want3[] = {48, 0, 48};
    assert_close(x->grad->data, want3, 3, 0, 1e-6, "d x^3");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}
