/* global_avg_pool2d: forward and backward against plain loops in double, gradients by
 * finite differences, errors and thread-count determinism. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(global_avg_pool2d);

/* want[n,c] = mean of plane (n, c). */
static void ref_gap(const nb_tensor *x, double *want)
{
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t p = 0; p < P; p++) {
        double s = 0;
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                s += x->data[(p * H + h) * W + w];
        want[p] = s / (double)(H * W);
    }
}

static nb_tensor *f_gap(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_global_avg_pool2d(in[0]);
}

Test(global_avg_pool2d, forward_and_backward)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 1, 17, 3}, {1, 4, 1, 9}};
    for (size_t c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -3, 3, 10 + c, true);
        nb_tensor *y = nb_global_avg_pool2d(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(y->ndim == 2 && y->shape[0] == shapes[c][0] && y->shape[1] == shapes[c][1]);
        double want[16];
        ref_gap(x, want);
        assert_close(y->data, want, y->size, 1e-6, 1e-6, "global_avg_pool2d");
        nb_tensor *dy = rand_tensor(2, y->shape, -1, 1, 20 + c, false);
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        int64_t HW = shapes[c][2] * shapes[c][3];
        for (int64_t k = 0; k < x->size; k++) {
            double want_dx = dy->data[k / HW] / (double)HW;
            cr_assert_float_eq(x->grad->data[k], want_dx, 1e-7, "dx[%lld]", (long long)k);
        }
        nb_tensor_free(x);
        nb_tensor_free(dy);
    }
}

Test(global_avg_pool2d, edge_values)
{
    /* Sums beyond FLT_MAX stay finite (accumulated in double); inf and NaN propagate. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(1, 3, 1, 3), (float[]){3e38f, 3e38f, 3e38f,
                                                                  1, INFINITY, 2,
                                                                  1, NAN, 2});
    nb_tensor *y = nb_global_avg_pool2d(x);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_float_eq(y->data[0], 3e38f, 1e32);
    cr_assert_eq(y->data[1], INFINITY);
    cr_assert(isnan(y->data[2]));
    /* An empty batch is fine. */
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3, 2, 2));
    y = nb_global_avg_pool2d(e);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->ndim == 2 && y->shape[0] == 0 && y->shape[1] == 3);
    nb_tensor_free(x);
    nb_tensor_free(e);
}

Test(global_avg_pool2d, gradient)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 1, 5, 7}, {3, 1, 5, 7}, {1, 3, 5, 7},
                                 {3, 3, 3, 5}, {2, 17, 1, 3}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -2, 2, 30 + c, true);
        assert_gradcheck(f_gap, &x, 1, NULL, NULL, "global_avg_pool2d");
        nb_tensor_free(x);
    }
}

Test(global_avg_pool2d, large_parallel_same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(8, 32, 15, 17), -2, 2, 5, true);
    nb_tensor *dy = rand_tensor(NB_SHAPE(8, 32), -1, 1, 6, false);
    double *want = malloc(8 * 32 * sizeof *want);
    ref_gap(x, want);
    int threads = nb_num_threads();
    size_t xbytes = (size_t)x->size * sizeof(float), ybytes = 8 * 32 * sizeof(float);
    float *got_y[2], *got_dx[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor_zero_grad(x);
        nb_tensor *y = nb_global_avg_pool2d(x);
        cr_assert_not_null(y, "%s", nb_error());
        assert_close(y->data, want, y->size, 1e-6, 1e-6, "global_avg_pool2d large");
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        got_y[t] = malloc(ybytes);
        got_dx[t] = malloc(xbytes);
        memcpy(got_y[t], y->data, ybytes);
        memcpy(got_dx[t], x->grad->data, xbytes);
        nb_step_reset();
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got_y[0], got_y[1], ybytes), 0, "outputs differ");
    cr_assert_eq(memcmp(got_dx[0], got_dx[1], xbytes), 0, "dx differs");
    for (int t = 0; t < 2; t++) {
        free(got_y[t]);
        free(got_dx[t]);
    }
    free(want);
    nb_tensor_free(x);
    nb_tensor_free(dy);
}

Test(global_avg_pool2d, errors)
{
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(3, 5, 7));
    nb_tensor *x5 = nb_tensor_zeros(NB_SHAPE(1, 2, 3, 5, 7));
    nb_tensor *empty = nb_tensor_zeros(NB_SHAPE(2, 3, 0, 7));
    assert_error(nb_global_avg_pool2d(x3), NB_ERR_SHAPE,
                 "global_avg_pool2d: input must be 4-D [N,C,H,W], got [3,5,7]");
    assert_error(nb_global_avg_pool2d(x5), NB_ERR_SHAPE,
                 "global_avg_pool2d: input must be 4-D [N,C,H,W], got [1,2,3,5,7]");
    assert_error(nb_global_avg_pool2d(empty), NB_ERR_SHAPE,
                 "global_avg_pool2d: input [2,3,0,7] has empty image planes");
    nb_error_clear(); /* a NULL input keeps an earlier message */
    assert_error(nb_global_avg_pool2d(NULL), NB_ERR_NULL, "global_avg_pool2d: input 0 is NULL");
    nb_tensor_free(x3);
    nb_tensor_free(x5);
    nb_tensor_free(empty);
}
