/* mean: forward against index loops in double, gradients by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(mean);

typedef struct axis_args {
    int axis;
    bool keepdim;
} axis_args;

static nb_tensor *f_mean(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_mean(in[0]);
}

static nb_tensor *f_mean_axis(nb_tensor *const *in, void *ud)
{
    const axis_args *a = ud;
    return nb_mean_axis(in[0], a->axis, a->keepdim);
}

/* want[...] = mean over `axis` (in [0, ndim)) of x, by walking x's multi-index. */
static void ref_mean_axis(const nb_tensor *x, int axis, double *want, int64_t n_out)
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
    for (int64_t o = 0; o < n_out; o++)
        want[o] /= (double)x->shape[axis];
}

Test(mean, forward_all)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 17, 1}, {5, 4, 3, 2}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -2, 2, 40 + c, false);
        nb_tensor *y = nb_mean(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->ndim, 0);
        double want = 0;
        for (int64_t i = 0; i < x->size; i++)
            want += x->data[i];
        want /= (double)x->size;
        assert_close(y->data, &want, 1, 1e-7, 1e-6, "mean");
        nb_tensor_free(x);
    }
    /* 0-D: its value; no elements: NaN, as in NumPy. */
    nb_tensor *s = nb_tensor_scalar(-2.5f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(3, 0));
    cr_assert_eq(nb_tensor_item(nb_mean(s)), -2.5f);
    cr_assert(isnan(nb_tensor_item(nb_mean(e))));
    nb_tensor_free(s);
    nb_tensor_free(e);
}

Test(mean, forward_axis)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -2, 2, 50, false);
    double want[120];
    for (int axis = -4; axis < 4; axis++)
        for (int keep = 0; keep < 2; keep++) {
            int a = axis < 0 ? axis + 4 : axis;
            nb_tensor *y = nb_mean_axis(x, axis, keep);
            cr_assert_not_null(y, "%s", nb_error());
            cr_assert_eq(y->ndim, keep ? 4 : 3);
            for (int d = 0, k = 0; d < 4; d++) {
                if (d == a && !keep)
                    continue;
                cr_assert_eq(y->shape[k], d == a ? 1 : x->shape[d], "axis %d dim %d", axis, d);
                k++;
            }
            cr_assert_eq(y->size, 120 / x->shape[a]);
            ref_mean_axis(x, a, want, y->size);
            assert_close(y->data, want, y->size, 1e-7, 1e-6, "mean_axis");
        }
    nb_tensor_free(x);

    /* A 1-D tensor reduces to 0-D; a size-0 axis gives NaN. */
    nb_tensor *v = nb_tensor_from(NB_SHAPE(4), (float[]){1, 2, 3, 4.5f});
    nb_tensor *y = nb_mean_axis(v, 0, false);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(y->data[0], 2.625f);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(2, 0, 3));
    y = nb_mean_axis(e, 1, true);
    cr_assert_eq(y->ndim, 3);
    cr_assert_eq(y->size, 6);
    for (int i = 0; i < 6; i++)
        cr_assert(isnan(y->data[i]));
    nb_tensor_free(v);
    nb_tensor_free(e);
}

Test(mean, forward_large_parallel)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 60, false);
    double want[300];
    for (int axis = 0; axis < 2; axis++) {
        nb_tensor *y = nb_mean_axis(x, axis, false);
        cr_assert_not_null(y, "%s", nb_error());
        ref_mean_axis(x, axis, want, y->size);
        assert_close(y->data, want, y->size, 1e-7, 1e-6, "mean_axis large");
    }
    double all = 0;
    for (int64_t i = 0; i < x->size; i++)
        all += x->data[i];
    all /= (double)x->size;
    assert_close(nb_mean(x)->data, &all, 1, 1e-7, 1e-6, "mean large");
    nb_tensor_free(x);
}

Test(mean, same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 61, false);
    int threads = nb_num_threads();
    float got[2][3][300] = {{{0}}};
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor *y[3] = {nb_mean(x), nb_mean_axis(x, 0, false), nb_mean_axis(x, 1, true)};
        for (int k = 0; k < 3; k++)
            memcpy(got[t][k], y[k]->data, (size_t)y[k]->size * sizeof(float));
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got[0], got[1], sizeof got[0]), 0);
    nb_tensor_free(x);
}

Test(mean, gradient)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 1, 4}, {1, 17, 1, 3}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -1, 1, 70 + c, true);
        assert_gradcheck(f_mean, &x, 1, NULL, NULL, "mean");
        for (int axis = -4; axis < 4; axis++) {
            axis_args a = {axis, axis % 2 != 0};
            assert_gradcheck(f_mean_axis, &x, 1, &a, NULL, "mean_axis");
        }
        nb_tensor_free(x);
    }
    /* Ranks 0, 1, 2 and a long axis. */
    nb_tensor *s = rand_tensor(0, NULL, -1, 1, 80, true);
    nb_tensor *v = rand_tensor(NB_SHAPE(17), -1, 1, 81, true);
    nb_tensor *m = rand_tensor(NB_SHAPE(3, 17), -1, 1, 82, true);
    assert_gradcheck(f_mean, &s, 1, NULL, NULL, "mean 0-D");
    assert_gradcheck(f_mean, &v, 1, NULL, NULL, "mean 1-D");
    assert_gradcheck(f_mean_axis, &v, 1, &(axis_args){0, false}, NULL, "mean_axis 1-D");
    assert_gradcheck(f_mean_axis, &m, 1, &(axis_args){-1, false}, NULL, "mean_axis [3,17]");
    assert_gradcheck(f_mean_axis, &m, 1, &(axis_args){0, true}, NULL, "mean_axis [3,17] 0");
    nb_tensor_free(s);
    nb_tensor_free(v);
    nb_tensor_free(m);
}

Test(mean, gradient_large)
{
    /* Above the parallel threshold: dx[i,j] = dy[j] / 300 for a mean over axis 0. */
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 130), -1, 1, 83, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(130), -1, 1, 84, false);
    cr_assert_eq(nb_backward_seed(nb_mean_axis(x, 0, false), seed), NB_OK, "%s", nb_error());
    double want[130];
    for (int j = 0; j < 130; j++)
        want[j] = seed->data[j] / 300.0;
    for (int64_t i = 0; i < 300; i++)
        assert_close(x->grad->data + i * 130, want, 130, 0, 1e-6, "dx");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(mean, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *s = nb_tensor_scalar(1);
    assert_error(nb_mean_axis(x, 2, false), NB_ERR_ARG,
                 "mean: axis 2 is out of range for shape [2,3]");
    assert_error(nb_mean_axis(x, -3, true), NB_ERR_ARG,
                 "mean: axis -3 is out of range for shape [2,3]");
    assert_error(nb_mean_axis(s, 0, false), NB_ERR_ARG,
                 "mean: axis 0 is out of range for shape []");
    nb_error_clear();
    assert_error(nb_mean(NULL), NB_ERR_NULL, "mean: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_mean_axis(NULL, 0, false), NB_ERR_NULL, "mean: input 0 is NULL");
    nb_tensor_free(x);
    nb_tensor_free(s);
}
