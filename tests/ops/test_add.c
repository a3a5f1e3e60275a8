/* add: forward against a direct broadcast loop, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(add);

static nb_tensor *f_add(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_add(in[0], in[1]);
}

/* out[i,j,k] = a[...] + b[...] for a, b broadcast to [2,3,4] (rank-3 only, by hand). */
static void check_forward_3d(int64_t a0, int64_t a1, int64_t a2, int64_t b0, int64_t b1,
                             int64_t b2)
{
    nb_tensor *a = rand_tensor(NB_SHAPE(a0, a1, a2), -2, 2, 1, false);
    nb_tensor *b = rand_tensor(NB_SHAPE(b0, b1, b2), -2, 2, 2, false);
    nb_tensor *y = nb_add(a, b);
    cr_assert_not_null(y, "%s", nb_error());
    int64_t n0 = a0 > b0 ? a0 : b0, n1 = a1 > b1 ? a1 : b1, n2 = a2 > b2 ? a2 : b2;
    cr_assert_eq(y->ndim, 3);
    cr_assert(y->shape[0] == n0 && y->shape[1] == n1 && y->shape[2] == n2);
    for (int64_t i = 0; i < n0; i++)
        for (int64_t j = 0; j < n1; j++)
            for (int64_t k = 0; k < n2; k++) {
                float va = a->data[((i % a0) * a1 + j % a1) * a2 + k % a2];
                float vb = b->data[((i % b0) * b1 + j % b1) * b2 + k % b2];
                cr_assert_eq(y->data[(i * n1 + j) * n2 + k], va + vb);
            }
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(add, forward_broadcast)
{
    check_forward_3d(2, 3, 4, 2, 3, 4);
    check_forward_3d(2, 3, 4, 1, 1, 4);
    check_forward_3d(2, 1, 4, 1, 3, 1);
    check_forward_3d(1, 1, 1, 2, 3, 4);
    check_forward_3d(17, 1, 3, 1, 5, 1);
}

Test(add, forward_ranks_differ)
{
    nb_tensor *a = nb_tensor_arange(0, 6, 1);
    nb_tensor *a2 = nb_tensor_from(NB_SHAPE(2, 3), a->data);
    nb_tensor *b = nb_tensor_from(NB_SHAPE(3), (float[]){10, 20, 30});
    nb_tensor *s = nb_tensor_scalar(100);
    nb_tensor *y = nb_add(a2, b);
    const double want[] = {10, 21, 32, 13, 24, 35};
    assert_close(y->data, want, 6, 0, 0, "[2,3]+[3]");
    y = nb_add(s, a2);
    cr_assert_eq(y->ndim, 2);
    const double want2[] = {100, 101, 102, 103, 104, 105};
    assert_close(y->data, want2, 6, 0, 0, "[]+[2,3]");
    nb_tensor_free(a);
    nb_tensor_free(a2);
    nb_tensor_free(b);
    nb_tensor_free(s);
}

Test(add, forward_large_parallel)
{
    /* Above the parallel threshold, with a row broadcast. */
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 257), -1, 1, 3, false);
    nb_tensor *b = rand_tensor(NB_SHAPE(257), -1, 1, 4, false);
    nb_tensor *y = nb_add(a, b);
    for (int64_t i = 0; i < 300; i++)
        for (int64_t j = 0; j < 257; j++)
            cr_assert_eq(y->data[i * 257 + j], a->data[i * 257 + j] + b->data[j]);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(add, gradient)
{
    const int64_t shapes[][2][3] = {
        {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {1, 1, 4}}, {{1, 3, 1}, {2, 1, 5}},
        {{1, 1, 1}, {3, 1, 17}}, {{17, 3, 1}, {1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        nb_tensor *in[2] = {rand_tensor(3, shapes[c][0], -1, 1, 10 + c, true),
                            rand_tensor(3, shapes[c][1], -1, 1, 20 + c, true)};
        assert_gradcheck(f_add, in, 2, NULL, NULL, "add");
        nb_tensor_free(in[0]);
        nb_tensor_free(in[1]);
    }
    /* Different ranks: [5,3] + [3], and a grad only for one side. */
    nb_tensor *in[2] = {rand_tensor(NB_SHAPE(5, 3), -1, 1, 5, true),
                        rand_tensor(NB_SHAPE(3), -1, 1, 6, false)};
    assert_gradcheck(f_add, in, 2, NULL, NULL, "add rank 2+1");
    nb_tensor_free(in[0]);
    nb_tensor_free(in[1]);
}

Test(add, gradient_large_broadcast)
{
    /* A bias-style gradient above the parallel threshold: sums 300 rows per column. */
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 130), -1, 1, 7, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(130), -1, 1, 8, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 130), -1, 1, 9, false);
    nb_tensor *y = nb_add(a, b);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t j = 0; j < 130; j++) {
        double s = 0;
        for (int64_t i = 0; i < 300; i++)
            s += seed->data[i * 130 + j];
        cr_assert_float_eq(b->grad->data[j], s, 1e-4);
    }
    cr_assert_eq(memcmp(a->grad->data, seed->data, sizeof(float) * 300 * 130), 0);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(seed);
}

Test(add, errors)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(4));
    assert_error(nb_add(a, b), NB_ERR_SHAPE, "add: shapes do not broadcast: [2,3] and [4]");
    nb_error_clear();
    assert_error(nb_add(a, NULL), NB_ERR_NULL, "add: input 1 is NULL");
    nb_tensor_free(a);
    nb_tensor_free(b);
}
