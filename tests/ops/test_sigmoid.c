/* sigmoid: forward against the formula in double, gradients by finite differences. */
#include "../common.h"

NB_TEST_SUITE(sigmoid);

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
