/* div: forward against a broadcast loop in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(div);

static double ref(double a, double b) { return a / b; }
static double da(double a, double b) { (void)a; return 1 / b; }
static double db(double a, double b) { return -a / (b * b); }

/* The divisor is drawn from [0.5, 2), away from 0. */
static const binary_desc DIV = {.name = "div", .op = nb_div, .ref = ref, .da = da, .db = db,
                                .b_lo = 0.5f, .b_hi = 2};

Test(div, forward_broadcast) { binary_check_broadcast(&DIV); }

Test(div, forward_values)
{
    /* IEEE division, as in C and PyTorch: x / 0 is +-inf and 0 / 0 is NaN. */
    const float a[] = {1.0f, -3.0f, 1.0f, -1.0f, 0.0f, 1.0f, 7.0f, INFINITY, 1e30f};
    const float b[] = {4.0f, 2.0f, 0.0f, 0.0f, 0.0f, -0.0f, -3.0f, INFINITY, 1e-30f};
    binary_check_values(&DIV, a, b, 9);
}

Test(div, forward_large_parallel) { binary_check_large_parallel(&DIV); }
Test(div, gradient) { binary_check_gradient(&DIV); }
Test(div, gradient_same_tensor) { binary_check_same_tensor(&DIV); }
Test(div, gradient_large_broadcast) { binary_check_large_gradient(&DIV); }
Test(div, errors) { binary_check_errors(&DIV); }

Test(div, gradient_negative_denominator)
{
    /* b < 0 (away from 0, where 1/b would make finite differences meaningless). */
    nb_tensor *in[2] = {rand_tensor(NB_SHAPE(3, 4), -2, 2, 30, true),
                        rand_tensor(NB_SHAPE(4), -2, -0.5f, 31, true)};
    assert_gradcheck(binary_gradcheck_fn, in, 2, (void *)&DIV, NULL, "div by negatives");
    nb_tensor_free(in[0]);
    nb_tensor_free(in[1]);
}

Test(div, gradient_values)
{
    /* d(a/b)/da = 1/b, d(a/b)/db = -a/b^2, checked at known points. */
    nb_tensor *a = nb_tensor_from(NB_SHAPE(3), (float[]){3, -1, 0.5f});
    nb_tensor *b = nb_tensor_from(NB_SHAPE(3), (float[]){2, 4, -0.25f});
    cr_assert_eq(nb_tensor_set_requires_grad(a, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(b, true), NB_OK);
    nb_tensor *y = nb_div(a, b);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    const double da[] = {0.5, 0.25, -4}, db[] = {-0.75, 1.0 / 16, -8};
    assert_close(a->grad->data, da, 3, 1e-7, 1e-6, "da");
    assert_close(b->grad->data, db, 3, 1e-7, 1e-6, "db");
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(seed);
}
