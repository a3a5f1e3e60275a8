/* log: forward against log() in double, gradients by finite differences. */
#include "elementwise.h"

NB_TEST_SUITE(log);

static double ref(double x, double p) { (void)p; return log(x); }
static double dref(double x, double p) { (void)p; return 1.0 / x; }

/* Away from 0, where 1/x makes differences blow up. Tolerances: logf is within an ulp
 * or two. */
static const unary_desc LOG = {.name = "log", .op = nb_log, .ref = ref, .dref = dref,
                               .lo = 0.5f, .hi = 4, .atol = 1e-7, .rtol = 1e-6,
                               .datol = 1e-30, .drtol = 2e-6};

Test(log, forward_values)
{
    /* log 1 = 0; log 0 = -inf (either zero), log of a negative is NaN, log inf = inf. */
    const float xs[] = {1.0f, 2.718281828f, 0.5f, 1e-30f, 3e38f, 1e-45f, 0.0f, -0.0f, -1.0f,
                        INFINITY, -INFINITY, NAN};
    unary_check_values(&LOG, xs, 12, 0);
}

Test(log, forward_shapes) { unary_check_shapes(&LOG); }
Test(log, gradient) { unary_check_gradient(&LOG, 0, 0.5f, 4); }
Test(log, large_parallel) { unary_check_large_parallel(&LOG); }
Test(log, backward_accumulates) { unary_check_accumulates(&LOG); }
Test(log, null_input) { unary_check_null_input(&LOG); }

Test(log, gradient_at_zero)
{
    /* d log x / dx = 1/x: +inf at 0, as in PyTorch. */
    unary_check_grad_at_zero(&LOG, 0.25f, 4.0f);
}
