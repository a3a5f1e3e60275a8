/* avg_pool2d: forward and backward against explicit window loops in double (with and
 * without count_include_pad), gradients by finite differences, errors and thread-count
 * determinism. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(avg_pool2d);

static nb_pool2d_opts opts_of(int kh, int kw, int sh, int sw, int pt, int pb, int pl, int pr,
                              bool include_pad)
{
    nb_pool2d_opts o = nb_pool2d_default(kh, kw);
    o.stride_h = sh;
    o.stride_w = sw;
    o.pad_top = pt;
    o.pad_bottom = pb;
    o.pad_left = pl;
    o.pad_right = pr;
    o.count_include_pad = include_pad;
    return o;
}

static int64_t out_size(int64_t n, int k, int s, int p0, int p1)
{
    return (n + p0 + p1 - k) / s + 1;
}

/* want = avg pooling of x; if dy is not NULL, want_dx += its backward. Returns the number
 * of outputs. */
static int64_t ref_avg_pool(const nb_tensor *x, const nb_pool2d_opts *o, double *want,
                            const float *dy, double *want_dx)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = out_size(H, o->kernel_h, o->stride_h, o->pad_top, o->pad_bottom);
    int64_t Wo = out_size(W, o->kernel_w, o->stride_w, o->pad_left, o->pad_right);
    int64_t k = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++, k++) {
                    double s = 0;
                    int count = 0;
                    for (int pass = 0; pass < 2; pass++)
                        for (int a = 0; a < o->kernel_h; a++)
                            for (int b = 0; b < o->kernel_w; b++) {
                                int64_t h = i * o->stride_h - o->pad_top + a;
                                int64_t w = j * o->stride_w - o->pad_left + b;
                                if (h < 0 || h >= H || w < 0 || w >= W)
                                    continue; /* padding: a zero */
                                int64_t at = ((n * C + c) * H + h) * W + w;
                                double D = o->count_include_pad
                                               ? (double)o->kernel_h * o->kernel_w
                                               : (double)count;
                                if (pass == 0) {
                                    s += x->data[at];
                                    count++;
                                } else if (dy) {
                                    want_dx[at] += dy[k] / D;
                                }
                            }
                    want[k] = s / (o->count_include_pad ? (double)o->kernel_h * o->kernel_w
                                                        : (double)count);
                }
    return k;
}

/* Runs forward, and backward with a random seed if x requires grad; checks both. */
static void check_forward_backward(nb_tensor *x, const nb_pool2d_opts *o, uint64_t seed,
                                   const char *what)
{
    int64_t cap = x->size * 4 + 16;
    double *want = malloc((size_t)cap * sizeof *want);
    double *want_dx = calloc((size_t)x->size, sizeof *want_dx);
    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_avg_pool2d(x, o);
    cr_assert_not_null(y, "%s: %s", what, nb_error());
    nb_tensor *dy = rand_tensor(y->ndim, y->shape, -1, 1, seed, false);
    int64_t n = ref_avg_pool(x, o, want, dy->data, want_dx);
    cr_assert_eq(y->size, n, "%s: %lld outputs, want %lld", what, (long long)y->size,
                 (long long)n);
    assert_close(y->data, want, n, 1e-6, 1e-6, what);
    if (x->requires_grad) {
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        assert_close(x->grad->data, want_dx, x->size, 1e-6, 1e-5, what);
    }
    nb_tensor_free(dy);
    free(want);
    free(want_dx);
}

Test(avg_pool2d, forward_backward_against_loops)
{
    const int k[][8] = {
        {2, 2, 2, 2, 0, 0, 0, 0}, {3, 3, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1},
        {2, 3, 2, 1, 1, 0, 0, 1}, {1, 1, 1, 1, 0, 0, 0, 0}, {5, 7, 1, 1, 0, 0, 0, 0},
        {2, 2, 3, 3, 0, 1, 1, 0}, {4, 2, 1, 2, 2, 2, 0, 1},
    };
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 5, 7), -3, 3, 1, true);
    for (size_t c = 0; c < sizeof k / sizeof k[0]; c++)
        for (int inc = 0; inc < 2; inc++) {
            nb_pool2d_opts o = opts_of(k[c][0], k[c][1], k[c][2], k[c][3], k[c][4], k[c][5],
                                       k[c][6], k[c][7], inc);
            check_forward_backward(x, &o, 100 + 2 * c + inc, "avg_pool2d");
        }
    nb_tensor_free(x);
}

Test(avg_pool2d, count_include_pad)
{
    /* A constant 3x3 input, 3x3 window, stride 1, padding 1: the corner window holds 4
     * input pixels, the edge 6, the centre 9. */
    nb_tensor *x = nb_tensor_full(NB_SHAPE(1, 1, 3, 3), 9.0f);
    nb_pool2d_opts o = opts_of(3, 3, 1, 1, 1, 1, 1, 1, true);
    nb_tensor *y = nb_avg_pool2d(x, &o);
    cr_assert_not_null(y, "%s", nb_error());
    const float with_pad[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
    for (int i = 0; i < 9; i++)
        cr_assert_float_eq(y->data[i], with_pad[i], 1e-6, "[%d] = %g", i, y->data[i]);
    o.count_include_pad = false;
    y = nb_avg_pool2d(x, &o);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(y->data[i], 9.0f, "[%d] = %g", i, y->data[i]);
    /* Without padding both divisors are kH kW. */
    o = nb_pool2d_default(3, 3);
    cr_assert(o.count_include_pad);
    y = nb_avg_pool2d(x, &o);
    cr_assert_eq(y->size, 1);
    cr_assert_eq(y->data[0], 9.0f);
    nb_tensor_free(x);
}

Test(avg_pool2d, edge_values)
{
    /* Sums near FLT_MAX stay finite (accumulated in double); inf and NaN propagate. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(1, 1, 2, 6), (float[]){
        3e38f, 3e38f, 1, INFINITY, 1, NAN,
        3e38f, 3e38f, 1, 2,        3, 4});
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    nb_tensor *y = nb_avg_pool2d(x, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_float_eq(y->data[0], 3e38f, 1e32);
    cr_assert_eq(y->data[1], INFINITY);
    cr_assert(isnan(y->data[2]));
    nb_tensor_free(x);
}

static nb_tensor *f_avg_pool(nb_tensor *const *in, void *ud)
{
    return nb_avg_pool2d(in[0], ud);
}

Test(avg_pool2d, gradient_grid)
{
    const int64_t shapes[][4] = {{1, 1, 5, 7}, {3, 1, 5, 7}, {1, 3, 5, 7}, {3, 3, 3, 5}};
    uint64_t seed = 1;
    for (int k = 2; k <= 3; k++)
        for (int s = 1; s <= 2; s++)
            for (int p = 0; p <= 1; p++)
                for (int inc = 0; inc < 2; inc++)
                    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
                        if (p == 0 && inc == 0)
                            continue; /* no padding: the same as inc = 1 */
                        nb_pool2d_opts o = opts_of(k, k, s, s, p, p, p, p, inc);
                        nb_tensor *x = rand_tensor(4, shapes[c], -2, 2, seed++, true);
                        char what[112];
                        snprintf(what, sizeof what,
                                 "avg_pool2d k%d s%d p%d include_pad %d [%lld,%lld,%lld,%lld]",
                                 k, s, p, inc, (long long)shapes[c][0],
                                 (long long)shapes[c][1], (long long)shapes[c][2],
                                 (long long)shapes[c][3]);
                        assert_gradcheck(f_avg_pool, &x, 1, &o, NULL, what);
                        nb_tensor_free(x);
                    }
    /* Non-square kernel, different strides, asymmetric padding. */
    nb_pool2d_opts o = opts_of(2, 3, 1, 2, 0, 1, 1, 0, false);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 2, 5, 7), -2, 2, 99, true);
    assert_gradcheck(f_avg_pool, &x, 1, &o, NULL, "avg_pool2d 2x3");
    nb_tensor_free(x);
}

Test(avg_pool2d, large_parallel_same_bits_for_any_thread_count)
{
    const nb_pool2d_opts cases[] = {opts_of(3, 3, 1, 1, 1, 1, 1, 1, false),
                                    opts_of(3, 3, 2, 2, 1, 1, 1, 1, true),
                                    nb_pool2d_default(2, 2)};
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 16, 41, 39), -2, 2, 5, true);
    int threads = nb_num_threads();
    size_t xbytes = (size_t)x->size * sizeof(float);
    for (int c = 0; c < 3; c++) {
        check_forward_backward(x, &cases[c], 50 + c, "avg_pool2d large");
        float *got_y[2], *got_dx[2];
        size_t ybytes = 0;
        for (int t = 0; t < 2; t++) {
            nb_set_num_threads(t + 1);
            nb_tensor_zero_grad(x);
            nb_tensor *y = nb_avg_pool2d(x, &cases[c]);
            cr_assert_not_null(y, "%s", nb_error());
            nb_tensor *dy = rand_tensor(y->ndim, y->shape, -1, 1, 60 + c, false);
            cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
            ybytes = (size_t)y->size * sizeof(float);
            got_y[t] = malloc(ybytes);
            got_dx[t] = malloc(xbytes);
            memcpy(got_y[t], y->data, ybytes);
            memcpy(got_dx[t], x->grad->data, xbytes);
            nb_tensor_free(dy);
            nb_step_reset();
        }
        nb_set_num_threads(threads);
        cr_assert_eq(memcmp(got_y[0], got_y[1], ybytes), 0, "case %d: outputs differ", c);
        cr_assert_eq(memcmp(got_dx[0], got_dx[1], xbytes), 0, "case %d: dx differs", c);
        for (int t = 0; t < 2; t++) {
            free(got_y[t]);
            free(got_dx[t]);
        }
    }
    nb_tensor_free(x);
}

Test(avg_pool2d, errors)
{
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(3, 5, 7));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 5, 7));
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    assert_error(nb_avg_pool2d(x3, &o), NB_ERR_SHAPE,
                 "avg_pool2d: input must be 4-D [N,C,H,W], got [3,5,7]");
    assert_error(nb_avg_pool2d(x, NULL), NB_ERR_ARG, "avg_pool2d: opts is NULL");
    o = opts_of(0, 2, 1, 1, 0, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG, "avg_pool2d: kernel 0x2 must be positive");
    o = opts_of(2, -1, 1, 1, 0, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG, "avg_pool2d: kernel 2x-1 must be positive");
    o = opts_of(2, 2, 0, 1, 0, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG, "avg_pool2d: stride 0x1 must be positive");
    o = opts_of(2, 2, 1, -2, 0, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG, "avg_pool2d: stride 1x-2 must be positive");
    o = opts_of(2, 2, 1, 1, -1, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG,
                 "avg_pool2d: padding (top -1, bottom 0, left 0, right 0) must not be negative");
    o = opts_of(3, 3, 1, 1, 0, 0, 0, 2, false);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG,
                 "avg_pool2d: padding 2 must be at most half the kernel 3");
    o = opts_of(6, 2, 1, 1, 0, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_SHAPE,
                 "avg_pool2d: kernel 6x2 is larger than the padded input [2,3,5,7] "
                 "(padded to 5x7)");
    o = opts_of(2, 10, 1, 1, 0, 0, 1, 1, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_SHAPE,
                 "avg_pool2d: kernel 2x10 is larger than the padded input [2,3,5,7] "
                 "(padded to 5x9)");
    o = nb_pool2d_default(2, 2);
    nb_error_clear(); /* a NULL input keeps an earlier message */
    assert_error(nb_avg_pool2d(NULL, &o), NB_ERR_NULL, "avg_pool2d: input 0 is NULL");
    nb_tensor_free(x3);
    nb_tensor_free(x);
}
