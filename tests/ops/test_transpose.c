/* transpose: forward against a multi-index loop, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(transpose);

typedef struct dims_args {
    int dim0, dim1;
} dims_args;

static nb_tensor *f_transpose(nb_tensor *const *in, void *ud)
{
    const dims_args *a = ud;
    return nb_transpose(in[0], a->dim0, a->dim1);
}

/* Asserts y == x with dims d0, d1 (in [0, ndim)) swapped, walking y's multi-index. */
static void check_transpose(const nb_tensor *x, const nb_tensor *y, int d0, int d1)
{
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->ndim, x->ndim);
    for (int d = 0; d < x->ndim; d++)
        cr_assert_eq(y->shape[d], x->shape[d == d0 ? d1 : d == d1 ? d0 : d]);
    int64_t j[NB_MAX_DIMS] = {0};
    for (int64_t k = 0; k < y->size; k++) {
        int64_t i = 0;
        for (int d = 0; d < x->ndim; d++)
            i = i * x->shape[d] + j[d == d0 ? d1 : d == d1 ? d0 : d];
        if (y->data[k] != x->data[i])
            cr_assert_fail("transpose(%d,%d) [%lld]: got %g, want %g", d0, d1, (long long)k,
                     y->data[k], x->data[i]);
        for (int d = y->ndim - 1; d >= 0 && ++j[d] == y->shape[d]; d--)
            j[d] = 0;
    }
}

Test(transpose, forward_all_pairs)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -1, 1, 1, false);
    for (int a = -4; a < 4; a++)
        for (int b = -4; b < 4; b++)
            check_transpose(x, nb_transpose(x, a, b), (a + 4) % 4, (b + 4) % 4);
    nb_tensor_free(x);

    nb_tensor *v = rand_tensor(NB_SHAPE(7), -1, 1, 2, false);
    check_transpose(v, nb_transpose(v, 0, -1), 0, 0);
    nb_tensor_free(v);

    nb_tensor *m = nb_tensor_from(NB_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    nb_tensor *y = nb_transpose(m, 0, 1);
    const double want[] = {1, 4, 2, 5, 3, 6};
    assert_close(y->data, want, 6, 0, 0, "[2,3]^T");
    nb_tensor_free(m);
}

Test(transpose, forward_large_parallel)
{
    /* The tiled 2-D path (sizes not multiples of the tile), batched, and the row path. */
    nb_tensor *m = rand_tensor(NB_SHAPE(300, 257), -1, 1, 3, false);
    check_transpose(m, nb_transpose(m, 0, 1), 0, 1);
    nb_tensor_free(m);
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 130, 97), -1, 1, 4, false);
    check_transpose(x, nb_transpose(x, -1, -2), 1, 2);
    check_transpose(x, nb_transpose(x, 0, 1), 0, 1);
    check_transpose(x, nb_transpose(x, 0, 2), 0, 2);
    nb_tensor_free(x);
}

Test(transpose, gradient)
{
    const struct {
        int ndim;
        int64_t shape[4];
        dims_args dims;
    } cases[] = {
        {1, {17}, {0, 0}},        {2, {1, 1}, {0, 1}},      {2, {3, 17}, {0, 1}},
        {2, {17, 3}, {-1, 0}},    {3, {2, 3, 5}, {0, 2}},   {3, {2, 3, 5}, {-1, -2}},
        {3, {3, 1, 17}, {1, 0}},  {4, {2, 3, 1, 4}, {1, 3}}, {4, {2, 3, 2, 4}, {0, 1}},
        {4, {3, 2, 2, 3}, {2, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *x = rand_tensor(cases[c].ndim, cases[c].shape, -1, 1, 10 + c, true);
        assert_gradcheck(f_transpose, &x, 1, (void *)&cases[c].dims, NULL, "transpose");
        nb_tensor_free(x);
    }
}

Test(transpose, gradient_large)
{
    /* dx is dy transposed back, on the tiled path and the row path. */
    const int64_t shape[3] = {3, 130, 97};
    const dims_args dims[2] = {{1, 2}, {0, 2}};
    for (int c = 0; c < 2; c++) {
        nb_tensor *x = rand_tensor(3, shape, -1, 1, 20, true);
        nb_tensor *y = nb_transpose(x, dims[c].dim0, dims[c].dim1);
        nb_tensor *seed = rand_tensor(y->ndim, y->shape, -1, 1, 21, false);
        cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
        check_transpose(seed, x->grad, dims[c].dim0, dims[c].dim1);
        nb_tensor_free(x);
        nb_tensor_free(seed);
    }
}

Test(transpose, backward_adds)
{
    /* y = x^T + x^T: each use adds into dx. */
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), -1, 1, 30, true);
    nb_tensor *y = nb_add(nb_transpose(x, 0, 1), nb_transpose(x, 1, 0));
    nb_tensor *seed = rand_tensor(NB_SHAPE(4, 3), -1, 1, 31, false);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_eq(x->grad->data[i * 4 + j], 2 * seed->data[j * 3 + i]);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(transpose, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *s = nb_tensor_scalar(1);
    assert_error(nb_transpose(x, 0, 2), NB_ERR_ARG,
                 "transpose: dim 2 is out of range for shape [2,3]");
    assert_error(nb_transpose(x, -3, 1), NB_ERR_ARG,
                 "transpose: dim -3 is out of range for shape [2,3]");
    assert_error(nb_transpose(s, 0, 0), NB_ERR_ARG,
                 "transpose: dim 0 is out of range for shape []");
    nb_error_clear();
    assert_error(nb_transpose(NULL, 0, 1), NB_ERR_NULL, "transpose: input 0 is NULL");
    nb_tensor_free(x);
    nb_tensor_free(s);
}
