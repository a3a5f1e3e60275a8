/* avg_pool2d: forward and backward against explicit window loops in double (with and
 * without count_include_pad), gradients by finite differences, errors and thread-count
 * determinism. */
#include "pool2d_tests.h"

NB_TEST_SUITE(avg_pool2d);

/* opts_of(...) dividing by kH kW (include_pad) or by the input pixels in the window. */
static nb_pool2d_opts avg_opts(int kh, int kw, int sh, int sw, int pt, int pb, int pl, int pr,
                               bool include_pad)
{
    nb_pool2d_opts o = opts_of(kh, kw, sh, sw, pt, pb, pl, pr);
    o.count_include_pad = include_pad;
    return o;
}

/* want = avg pooling of x; if dy is not NULL, want_dx += its backward. Returns the number
 * of outputs. */
static int64_t ref_avg_pool(const nb_tensor *x, const nb_pool2d_opts *o, double *want,
                            const float *dy, double *want_dx)
{
    int64_t Ho, Wo, n = pool_outputs(x, o, &Ho, &Wo);
    for (int64_t k = 0; k < n; k++) {
        double s = 0;
        int count = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int a = 0; a < o->kernel_h; a++)
                for (int b = 0; b < o->kernel_w; b++) {
                    int64_t at = window_tap(x, o, Ho, Wo, k, a, b);
                    if (at < 0)
                        continue; /* padding: a zero */
                    double D = o->count_include_pad ? (double)o->kernel_h * o->kernel_w
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
    return n;
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
            nb_pool2d_opts o = avg_opts(k[c][0], k[c][1], k[c][2], k[c][3], k[c][4], k[c][5],
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
    nb_pool2d_opts o = avg_opts(3, 3, 1, 1, 1, 1, 1, 1, true);
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

/* A random input in [-2, 2) that requires grad (avg pooling is linear: any values do). */
static nb_tensor *random_input(int ndim, const int64_t *shape, uint64_t seed)
{
    return rand_tensor(ndim, shape, -2, 2, seed, true);
}

Test(avg_pool2d, gradient_grid)
{
    check_pool_gradient_grid(nb_avg_pool2d, "avg_pool2d", random_input, true);
    /* Non-square kernel, different strides, asymmetric padding. */
    pool_args a = {nb_avg_pool2d, avg_opts(2, 3, 1, 2, 0, 1, 1, 0, false)};
    nb_tensor *x = random_input(NB_SHAPE(2, 2, 5, 7), 99);
    assert_gradcheck(f_pool, &x, 1, &a, NULL, "avg_pool2d 2x3");
    nb_tensor_free(x);
}

Test(avg_pool2d, large_parallel_same_bits_for_any_thread_count)
{
    const nb_pool2d_opts cases[] = {avg_opts(3, 3, 1, 1, 1, 1, 1, 1, false),
                                    avg_opts(3, 3, 2, 2, 1, 1, 1, 1, true),
                                    nb_pool2d_default(2, 2)};
    check_pool_large(nb_avg_pool2d, check_forward_backward, cases, "avg_pool2d large");
}

Test(avg_pool2d, errors)
{
    check_pool_errors(nb_avg_pool2d, "avg_pool2d");
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 5, 7));
    nb_pool2d_opts o = avg_opts(2, 2, 1, 1, -1, 0, 0, 0, true);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG,
                 "avg_pool2d: padding (top -1, bottom 0, left 0, right 0) must not be negative");
    o = avg_opts(3, 3, 1, 1, 0, 0, 0, 2, false);
    assert_error(nb_avg_pool2d(x, &o), NB_ERR_ARG,
                 "avg_pool2d: padding 2 must be at most half the kernel 3");
    nb_tensor_free(x);
}

Test(avg_pool2d, empty_image_planes_are_an_error)
{
    check_pool_empty_planes(nb_avg_pool2d, "avg_pool2d");
}

Test(avg_pool2d, extreme_options)
{
    const double k = (double)((1 << 30) + 1);
    check_pool_extreme_options(nb_avg_pool2d, "avg_pool2d", 2.0 / (k * k), 2.0);
}
