/* flatten: shapes and values (a row-major copy), gradients by finite differences, errors. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(flatten);

static nb_tensor *f_flatten(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_flatten(in[0]);
}

Test(flatten, shapes_and_values)
{
    const struct {
        int ndim;
        int64_t shape[5];
        int64_t rows, cols;
    } cases[] = {
        {1, {5}, 5, 1},             {2, {3, 4}, 3, 4},         {3, {2, 3, 4}, 2, 12},
        {4, {2, 3, 5, 7}, 2, 105},  {5, {1, 2, 1, 3, 2}, 1, 12}, {4, {3, 1, 1, 1}, 3, 1},
        {3, {4, 0, 2}, 4, 0},       {2, {0, 3}, 0, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *x = rand_tensor(cases[c].ndim, cases[c].shape, -3, 3, 1 + c, false);
        nb_tensor *y = nb_flatten(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(y->ndim == 2 && y->shape[0] == cases[c].rows && y->shape[1] == cases[c].cols,
                  "case %zu: got [%lld,%lld]", c, (long long)y->shape[0],
                  (long long)y->shape[1]);
        /* y[r, k] = x at the same row-major position. */
        double *want = malloc((size_t)(x->size + 1) * sizeof *want);
        for (int64_t r = 0; r < cases[c].rows; r++)
            for (int64_t k = 0; k < cases[c].cols; k++)
                want[r * cases[c].cols + k] = x->data[r * cases[c].cols + k];
        assert_close(y->data, want, y->size, 0, 0, "flatten");
        free(want);
        nb_tensor_free(x);
    }
}

Test(flatten, backward_adds)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4), -1, 1, 3, true);
    nb_tensor *dy = rand_tensor(NB_SHAPE(2, 12), -1, 1, 4, false);
    for (int rep = 1; rep <= 2; rep++) {
        nb_tensor *y = nb_flatten(x);
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        for (int64_t k = 0; k < x->size; k++)
            cr_assert_float_eq(x->grad->data[k], rep * dy->data[k], 1e-6);
    }
    nb_tensor_free(x);
    nb_tensor_free(dy);
}

Test(flatten, gradient)
{
    const struct {
        int ndim;
        int64_t shape[4];
    } cases[] = {{1, {1}}, {1, {17}}, {2, {3, 17}}, {3, {3, 1, 5}}, {4, {3, 3, 5, 3}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *x = rand_tensor(cases[c].ndim, cases[c].shape, -2, 2, 10 + c, true);
        assert_gradcheck(f_flatten, &x, 1, NULL, NULL, "flatten");
        nb_tensor_free(x);
    }
}

Test(flatten, large_parallel_same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257, 1), -2, 2, 5, true);
    nb_tensor *dy = rand_tensor(NB_SHAPE(300, 257), -1, 1, 6, false);
    int threads = nb_num_threads();
    size_t bytes = (size_t)x->size * sizeof(float);
    float *got_y[2], *got_dx[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor_zero_grad(x);
        nb_tensor *y = nb_flatten(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(memcmp(y->data, x->data, bytes), 0);
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        cr_assert_eq(memcmp(x->grad->data, dy->data, bytes), 0);
        got_y[t] = malloc(bytes);
        got_dx[t] = malloc(bytes);
        memcpy(got_y[t], y->data, bytes);
        memcpy(got_dx[t], x->grad->data, bytes);
        nb_step_reset();
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got_y[0], got_y[1], bytes), 0, "outputs differ");
    cr_assert_eq(memcmp(got_dx[0], got_dx[1], bytes), 0, "dx differs");
    for (int t = 0; t < 2; t++) {
        free(got_y[t]);
        free(got_dx[t]);
    }
    nb_tensor_free(x);
    nb_tensor_free(dy);
}

Test(flatten, errors)
{
    nb_tensor *s = nb_tensor_scalar(2.0f);
    assert_error(nb_flatten(s), NB_ERR_SHAPE,
                 "flatten: input must have a batch dimension [N,...], got a 0-D tensor []");
    /* The non-zero dimensions of an empty tensor are bounded too: it cannot be made. */
    assert_error(nb_tensor_zeros(NB_SHAPE(0, INT64_C(1) << 40, INT64_C(1) << 40)), NB_ERR_SHAPE,
                 "tensor_zeros: shape [0,1099511627776,1099511627776] is too large");
    nb_error_clear(); /* a NULL input keeps an earlier message */
    assert_error(nb_flatten(NULL), NB_ERR_NULL, "flatten: input 0 is NULL");
    nb_tensor_free(s);
}
