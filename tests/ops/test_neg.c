/* neg: forward against the definition in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(neg);

static double ref(double x, double p) { (void)p; return -x; }
static double dref(double x, double p) { (void)x; (void)p; return -1.0; }

/* Zero tolerances: every value and gradient must be exact. */
static const unary_desc NEG = {.name = "neg", .op = nb_neg, .ref = ref, .dref = dref,
                               .lo = -3, .hi = 3};

Test(neg, forward_values)
{
    /* Exact: negation only flips the sign, also of zeros and infinities. */
    const float xs[] = {0.0f, -0.0f, 1.5f, -2.0f, INFINITY, -INFINITY, NAN, 3e38f, 1e-45f};
    nb_tensor *y = unary_check_values(&NEG, xs, 9, 0);
    cr_assert(signbit(y->data[0]) && !signbit(y->data[1]), "signed zeros");
}

Test(neg, forward_shapes) { unary_check_shapes(&NEG); }
Test(neg, gradient) { unary_check_gradient(&NEG, 0, -3, 3); }
Test(neg, large_parallel) { unary_check_large_parallel(&NEG); }
Test(neg, backward_accumulates) { unary_check_accumulates(&NEG); }
Test(neg, null_input) { unary_check_null_input(&NEG); }
