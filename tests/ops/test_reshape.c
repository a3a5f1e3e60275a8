/* reshape: values kept in row-major order, -1 inferred, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(reshape);

typedef struct shape_args {
    int ndim;
    int64_t shape[NB_MAX_DIMS];
} shape_args;

static nb_tensor *f_reshape(nb_tensor *const *in, void *ud)
{
    const shape_args *s = ud;
    return nb_reshape(in[0], s->ndim, s->shape);
}

/* Asserts y has shape `want` (ndim dims) and x's values in the same order. */
static void check_reshape(const nb_tensor *x, const nb_tensor *y, int ndim,
                          const int64_t *want)
{
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(y->shape[d], want[d], "dim %d: got %lld, want %lld", d,
                     (long long)y->shape[d], (long long)want[d]);
    cr_assert_eq(y->size, x->size);
    cr_assert_eq(memcmp(y->data, x->data, (size_t)x->size * sizeof(float)), 0);
}

Test(reshape, forward)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4), -1, 1, 1, false);
    check_reshape(x, nb_reshape(x, NB_SHAPE(6, 4)), NB_SHAPE(6, 4));
    check_reshape(x, nb_reshape(x, NB_SHAPE(24)), NB_SHAPE(24));
    check_reshape(x, nb_reshape(x, NB_SHAPE(4, -1)), NB_SHAPE(4, 6));
    check_reshape(x, nb_reshape(x, NB_SHAPE(-1)), NB_SHAPE(24));
    check_reshape(x, nb_reshape(x, NB_SHAPE(1, 2, -1, 1, 3, 1)), NB_SHAPE(1, 2, 4, 1, 3, 1));
    check_reshape(x, nb_reshape(x, NB_SHAPE(2, 3, 4)), NB_SHAPE(2, 3, 4));
    nb_tensor_free(x);

    /* To and from 0-D. */
    nb_tensor *s = nb_tensor_scalar(7);
    nb_tensor *y = nb_reshape(s, NB_SHAPE(1, 1));
    check_reshape(s, y, NB_SHAPE(1, 1));
    y = nb_reshape(y, 0, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(y->data[0], 7.0f);
    check_reshape(s, nb_reshape(s, NB_SHAPE(-1)), NB_SHAPE(1));
    nb_tensor_free(s);

    /* No elements: -1 is inferred from the other sizes. */
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3));
    check_reshape(e, nb_reshape(e, NB_SHAPE(3, -1, 2)), NB_SHAPE(3, 0, 2));
    check_reshape(e, nb_reshape(e, NB_SHAPE(5, 0)), NB_SHAPE(5, 0));
    nb_tensor_free(e);
}

Test(reshape, forward_large_parallel)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 2, true);
    nb_tensor *y = nb_reshape(x, NB_SHAPE(257, -1));
    check_reshape(x, y, NB_SHAPE(257, 300));
    nb_tensor *seed = rand_tensor(NB_SHAPE(257, 300), -1, 1, 3, false);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(x->grad->data, seed->data, (size_t)x->size * sizeof(float)), 0);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(reshape, gradient)
{
    const shape_args cases[] = {
        {0, {0}}, {1, {1}}, {1, {17}}, {2, {17, 3}}, {3, {3, -1, 17}}, {4, {1, 3, 17, 1}},
    };
    const int64_t from[][4] = {{1, 1, 1, 1}, {1, 1, 1, 1}, {17, 1, 1, 1}, {3, 17, 1, 1},
                               {1, 3, 17, 1}, {51, 1, 1, 1}};
    const int from_ndim[] = {0, 2, 1, 2, 3, 1};
    for (int c = 0; c < 6; c++) {
        nb_tensor *x = rand_tensor(from_ndim[c], from[c], -1, 1, 10 + c, true);
        assert_gradcheck(f_reshape, &x, 1, (void *)&cases[c], NULL, "reshape");
        nb_tensor_free(x);
    }
}

Test(reshape, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3));
    assert_error(nb_reshape(x, NB_SHAPE(4, 2)), NB_ERR_SHAPE,
                 "reshape: cannot reshape [2,3] (6 elements) to [4,2] (8 elements)");
    assert_error(nb_reshape(x, NB_SHAPE(4, -1)), NB_ERR_SHAPE,
                 "reshape: cannot reshape [2,3] (6 elements) to [4,-1]");
    assert_error(nb_reshape(x, NB_SHAPE(0, -1)), NB_ERR_SHAPE,
                 "reshape: cannot reshape [2,3] (6 elements) to [0,-1]");
    assert_error(nb_reshape(x, 0, NULL), NB_ERR_SHAPE,
                 "reshape: cannot reshape [2,3] (6 elements) to [] (1 elements)");
    assert_error(nb_reshape(x, NB_SHAPE(INT64_MAX, 4)), NB_ERR_SHAPE,
                 "reshape: cannot reshape [2,3] (6 elements) to");
    assert_error(nb_reshape(e, NB_SHAPE(-1, 0)), NB_ERR_SHAPE,
                 "reshape: cannot infer the -1 in [-1,0] for [0,3] (0 elements)");
    assert_error(nb_reshape(x, NB_SHAPE(-1, 3, -1)), NB_ERR_ARG,
                 "reshape: more than one -1 dimension in [-1,3,-1]");
    assert_error(nb_reshape(x, NB_SHAPE(-2, -3)), NB_ERR_ARG,
                 "reshape: dimension 0 of [-2,-3] is negative");
    assert_error(nb_reshape(x, NB_SHAPE(2, -3)), NB_ERR_ARG,
                 "reshape: dimension 1 of [2,-3] is negative");
    assert_error(nb_reshape(x, -1, (int64_t[]){6}), NB_ERR_ARG,
                 "reshape: ndim -1 is outside [0, 6]");
    const int64_t seven[NB_MAX_DIMS + 1] = {6, 1, 1, 1, 1, 1, 1};
    assert_error(nb_reshape(x, NB_MAX_DIMS + 1, seven), NB_ERR_ARG,
                 "reshape: ndim 7 is outside [0, 6]");
    assert_error(nb_reshape(x, 2, NULL), NB_ERR_ARG, "reshape: shape is NULL for ndim 2");
    nb_error_clear();
    assert_error(nb_reshape(NULL, NB_SHAPE(6)), NB_ERR_NULL, "reshape: input 0 is NULL");
    nb_tensor_free(x);
    nb_tensor_free(e);
}
