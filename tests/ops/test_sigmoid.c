/* sigmoid: forward against the formula in double, gradients by finite differences, the
 * parallel path (the same bits on 1 and 2 threads) and extreme inputs. */
#include "elementwise.h"

NB_TEST_SUITE(sigmoid);

static double ref(double x, double p)
{
    (void)p;
    return 1.0 / (1.0 + exp(-x));
}

static double dref(double x, double p)
{
    double s = ref(x, p);
    return s * (1.0 - s);
}

/* Tolerances: within 3 ULP (nb_kernel_sigmoid); dx = dy y (1 - y) from the float y
 * cancels when y is near 1: y's error of up to 3 ULP (1.8e-7) is absolute in 1 - y. */
static const unary_desc SIGMOID = {.name = "sigmoid", .op = nb_sigmoid, .ref = ref,
                                   .dref = dref, .lo = -8, .hi = 8, .atol = 1e-30,
                                   .rtol = 4e-7, .datol = 5e-7, .drtol = 2e-6};

static nb_tensor *f_sigmoid(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_sigmoid(in[0]);
}

Test(sigmoid, forward)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(6), (float[]){-30, -2, -0.5f, 0, 1.5f, 30});
    nb_tensor *y = nb_sigmoid(x);
    cr_assert_not_null(y, "%s", nb_error());
    double want[6];
    for (int i = 0; i < 6; i++)
        want[i] = 1.0 / (1.0 + exp(-(double)x->data[i]));
    assert_close(y->data, want, 6, 1e-7, 1e-6, "sigmoid");
    nb_tensor_free(x);
}

Test(sigmoid, forward_values)
{
    /* Saturation without overflow: e^-|x| never overflows, and small results keep their
     * relative accuracy (sigmoid(-100) is 3.7e-44, not 0). */
    const float xs[] = {0.0f, -0.0f, 1e-30f, 20.0f, -20.0f, 88.0f, -88.0f, 100.0f, -100.0f,
                        1e30f, -1e30f, INFINITY, -INFINITY, NAN};
    unary_check_values(&SIGMOID, xs, 14, 0);
}

Test(sigmoid, forward_shapes) { unary_check_shapes(&SIGMOID); }
Test(sigmoid, large_parallel) { unary_check_large_parallel(&SIGMOID); }
Test(sigmoid, backward_accumulates) { unary_check_accumulates(&SIGMOID); }

Test(sigmoid, gradient)
{
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 1, 1}, {2, 3, 17}, {17, 1, 3}};
    for (size_t c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(3, shapes[c], -4, 4, 30 + c, true);
        assert_gradcheck(f_sigmoid, &x, 1, NULL, NULL, "sigmoid");
        nb_tensor_free(x);
    }
}

Test(sigmoid, null_input)
{
    assert_error(nb_sigmoid(NULL), NB_ERR_NULL, "sigmoid: input 0 is NULL");
}
