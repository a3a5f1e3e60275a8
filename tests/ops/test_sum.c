/* sum: forward against index loops in double, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(sum);

typedef struct axis_args {
    int axis;
    bool keepdim;
} axis_args;

static nb_tensor *f_sum(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_sum(in[0]);
}

static nb_tensor *f_sum_axis(nb_tensor *const *in, void *ud)
{
    const axis_args *a = ud;
    return nb_sum_axis(in[0], a->axis, a->keepdim);
}

/* want[...] = sum over `axis` (in [0, ndim)) of x, by walking x's multi-index. */
static void ref_sum_axis(const nb_tensor *x, int axis, double *want, int64_t n_out)
{
    memset(want, 0, (size_t)n_out * sizeof *want);
    int64_t idx[NB_MAX_DIMS] = {0};
    for (int64_t k = 0; k < x->size; k++) {
        int64_t o = 0;
        for (int d = 0; d < x->ndim; d++)
            if (d != axis)
                o = o * x->shape[d] + idx[d];
        want[o] += x->data[k];
        for (int d = x->ndim - 1; d >= 0 && ++idx[d] == x->shape[d]; d--)
            idx[d] = 0;
    }
}

Test(sum, forward_all)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 17, 1}, {5, 4, 3, 2}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -2, 2, 40 + c, false);
        nb_tensor *y = nb_sum(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->ndim, 0);
        double want = 0;
        for (int64_t i = 0; i < x->size; i++)
            want += x->data[i];
        assert_close(y->data, &want, 1, 1e-6, 1e-6, "sum");
        nb_tensor_free(x);
    }
    /* 0-D: its value; no elements: 0. */
    nb_tensor *s = nb_tensor_scalar(-2.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(3, 0));
    cr_assert_eq(nb_tensor_item(nb_sum(s)), -2.5f);
    cr_assert_eq(nb_tensor_item(nb_sum(e)), 0.0f);
    nb_tensor_free(s);
    nb_tensor_free(e);
}

Test(sum, forward_axis)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -2, 2, 50, false);
    double want[120];
    for (int axis = -4; axis < 4; axis++)
        for (int keep = 0; keep < 2; keep++) {
            int a = axis < 0 ? axis + 4 : axis;
            nb_tensor *y = nb_sum_axis(x, axis, keep);
            cr_assert_not_null(y, "%s", nb_error());
            cr_assert_eq(y->ndim, keep ? 4 : 3);
            for (int d = 0, k = 0; d < 4; d++) {
                if (d == a && !keep)
                    continue;
                cr_assert_eq(y->shape[k], d == a ? 1 : x->shape[d], "axis %d dim %d", axis, d);
                k++;
            }
            cr_assert_eq(y->size, 120 / x->shape[a]);
            ref_sum_axis(x, a, want, y->size);
            assert_close(y->data, want, y->size, 1e-6, 1e-6, "sum_axis");
        }
    nb_tensor_free(x);

    /* A 1-D tensor reduces to 0-D; a size-0 axis gives zeros. */
    nb_tensor *v = nb_tensor_from(NB_SHAPE(4), (float[]){1, 2, 3, 4.5f});
    nb_tensor *y = nb_sum_axis(v, 0, false);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(y->data[0], 10.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(2, 0, 3));
    y = nb_sum_axis(e, 1, false);
    cr_assert_eq(y->ndim, 2);
    cr_assert_eq(y->size, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(y->data[i], 0.0f);
    nb_tensor_free(v);
    nb_tensor_free(e);
}

Test(sum, forward_large_parallel)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 60, false);
    double want[300];
    for (int axis = 0; axis < 2; axis++) {
        nb_tensor *y = nb_sum_axis(x, axis, false);
        cr_assert_not_null(y, "%s", nb_error());
        ref_sum_axis(x, axis, want, y->size);
        assert_close(y->data, want, y->size, 1e-5, 1e-6, "sum_axis large");
    }
    double all = 0;
    for (int64_t i = 0; i < x->size; i++)
        all += x->data[i];
    assert_close(nb_sum(x)->data, &all, 1, 1e-4, 1e-6, "sum large");
    nb_tensor_free(x);
}

Test(sum, same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 61, true);
    int threads = nb_num_threads();
    float got[2][3][300] = {{{0}}};
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor *y[3] = {nb_sum(x), nb_sum_axis(x, 0, false), nb_sum_axis(x, 1, true)};
        for (int k = 0; k < 3; k++)
            memcpy(got[t][k], y[k]->data, (size_t)y[k]->size * sizeof(float));
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got[0], got[1], sizeof got[0]), 0);
    nb_tensor_free(x);
}

Test(sum, gradient)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 1, 4}, {1, 17, 1, 3}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -1, 1, 70 + c, true);
        assert_gradcheck(f_sum, &x, 1, NULL, NULL, "sum");
        for (int axis = -4; axis < 4; axis++) {
            axis_args a = {axis, axis % 2 != 0};
            assert_gradcheck(f_sum_axis, &x, 1, &a, NULL, "sum_axis");
        }
        nb_tensor_free(x);
    }
    /* Ranks 0, 1, 2 and a long axis. */
    nb_tensor *s = rand_tensor(0, NULL, -1, 1, 80, true);
    nb_tensor *v = rand_tensor(NB_SHAPE(17), -1, 1, 81, true);
    nb_tensor *m = rand_tensor(NB_SHAPE(3, 17), -1, 1, 82, true);
    assert_gradcheck(f_sum, &s, 1, NULL, NULL, "sum 0-D");
    assert_gradcheck(f_sum, &v, 1, NULL, NULL, "sum 1-D");
    assert_gradcheck(f_sum_axis, &v, 1, &(axis_args){0, false}, NULL, "sum_axis 1-D");
    assert_gradcheck(f_sum_axis, &m, 1, &(axis_args){-1, false}, NULL, "sum_axis [3,17]");
    assert_gradcheck(f_sum_axis, &m, 1, &(axis_args){0, true}, NULL, "sum_axis [3,17] 0");
    nb_tensor_free(s);
    nb_tensor_free(v);
    nb_tensor_free(m);
}

Test(sum, gradient_large)
{
    /* Above the parallel threshold: dx[i,j] = dy[j] for a sum over axis 0. */
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 130), -1, 1, 83, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(130), -1, 1, 84, false);
    cr_assert_eq(nb_backward_seed(nb_sum_axis(x, 0, false), seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        cr_assert_eq(memcmp(x->grad->data + i * 130, seed->data, 130 * sizeof(float)), 0);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(sum, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *s = nb_tensor_scalar(1);
    assert_error(nb_sum_axis(x, 2, false), NB_ERR_ARG,
                 "sum: axis 2 is out of range for shape [2,3]");
    assert_error(nb_sum_axis(x, -3, true), NB_ERR_ARG,
                 "sum: axis -3 is out of range for shape [2,3]");
    assert_error(nb_sum_axis(s, 0, false), NB_ERR_ARG,
                 "sum: axis 0 is out of range for shape []");
    nb_error_clear();
    assert_error(nb_sum(NULL), NB_ERR_NULL, "sum: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_sum_axis(NULL, 0, false), NB_ERR_NULL, "sum: input 0 is NULL");
    nb_tensor_free(x);
    nb_tensor_free(s);
}
