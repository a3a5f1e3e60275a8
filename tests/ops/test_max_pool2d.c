/* max_pool2d: forward and arg-max against explicit window loops in double, gradients by
 * finite differences, ties, NaN, errors and thread-count determinism. */
#include "pool2d_tests.h"

NB_TEST_SUITE(max_pool2d);

/* want[n,c,i,j] = max of the window over the -inf-padded input, and want_arg the flat
 * index in x of its first maximum in row-major window order (a NaN beats any number;
 * the first NaN wins). Returns the number of outputs. */
static int64_t ref_max_pool(const nb_tensor *x, const nb_pool2d_opts *o, double *want,
                            int64_t *want_arg)
{
    int64_t Ho, Wo, n = pool_outputs(x, o, &Ho, &Wo);
    for (int64_t k = 0; k < n; k++) {
        double m = -INFINITY;
        int64_t arg = -1;
        for (int a = 0; a < o->kernel_h; a++)
            for (int b = 0; b < o->kernel_w; b++) {
                int64_t at = window_tap(x, o, Ho, Wo, k, a, b);
                if (at < 0)
                    continue; /* padding: -inf, never the first maximum */
                double v = x->data[at];
                if (arg < 0 || v > m || (isnan(v) && !isnan(m))) {
                    m = v;
                    arg = at;
                }
            }
        want[k] = m;
        if (want_arg)
            want_arg[k] = arg;
    }
    return n;
}

/* Runs forward and backward with seed dy and checks y and dx against the reference. */
static void check_forward_backward(nb_tensor *x, const nb_pool2d_opts *o, uint64_t seed,
                                   const char *what)
{
    int64_t cap = x->size * 4 + 16;
    double *want = malloc((size_t)cap * sizeof *want);
    int64_t *arg = malloc((size_t)cap * sizeof *arg);
    double *want_dx = calloc((size_t)x->size, sizeof *want_dx);
    int64_t n = ref_max_pool(x, o, want, arg);

    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_max_pool2d(x, o);
    cr_assert_not_null(y, "%s: %s", what, nb_error());
    cr_assert_eq(y->size, n, "%s: %lld outputs, want %lld", what, (long long)y->size,
                 (long long)n);
    assert_close(y->data, want, n, 0, 0, what);
    if (x->requires_grad) {
        nb_tensor *dy = rand_tensor(y->ndim, y->shape, -1, 1, seed, false);
        cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
        for (int64_t k = 0; k < n; k++)
            want_dx[arg[k]] += dy->data[k];
        assert_close(x->grad->data, want_dx, x->size, 1e-6, 1e-5, what);
        nb_tensor_free(dy);
    }
    free(want);
    free(arg);
    free(want_dx);
}

Test(max_pool2d, forward_against_loops)
{
    const nb_pool2d_opts cases[] = {
        opts_of(2, 2, 2, 2, 0, 0, 0, 0), opts_of(3, 3, 1, 1, 1, 1, 1, 1),
        opts_of(3, 3, 2, 2, 1, 1, 1, 1), opts_of(2, 3, 2, 1, 1, 0, 0, 1),
        opts_of(1, 1, 1, 1, 0, 0, 0, 0), opts_of(5, 7, 1, 1, 0, 0, 0, 0),
        opts_of(2, 2, 3, 3, 0, 1, 1, 0), opts_of(4, 2, 1, 2, 2, 2, 0, 1),
    };
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 5, 7), -3, 3, 1, true);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        check_forward_backward(x, &cases[c], 100 + c, "max_pool2d");
    /* The output shape: floor((H + pads - k) / s) + 1. */
    nb_pool2d_opts o = opts_of(3, 2, 2, 3, 1, 0, 1, 1);
    nb_tensor *y = nb_max_pool2d(x, &o);
    cr_assert_eq(y->ndim, 4);
    cr_assert(y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 2 && y->shape[3] == 3,
              "got [%lld,%lld,%lld,%lld]", (long long)y->shape[0], (long long)y->shape[1],
              (long long)y->shape[2], (long long)y->shape[3]);
    nb_tensor_free(x);
}

Test(max_pool2d, default_opts)
{
    nb_pool2d_opts o = nb_pool2d_default(2, 3);
    cr_assert(o.kernel_h == 2 && o.kernel_w == 3 && o.stride_h == 2 && o.stride_w == 3);
    cr_assert(o.pad_top == 0 && o.pad_bottom == 0 && o.pad_left == 0 && o.pad_right == 0);
    nb_tensor *x = nb_tensor_arange(0, 24, 1);
    nb_tensor *x4 = nb_reshape(x, NB_SHAPE(1, 1, 4, 6));
    nb_tensor *y = nb_max_pool2d(x4, &o);
    cr_assert_not_null(y, "%s", nb_error());
    const float want[4] = {8, 11, 20, 23};
    cr_assert_eq(y->size, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(y->data[i], want[i]);
    nb_tensor_free(x);
}

Test(max_pool2d, ties_go_to_the_first_element)
{
    /* A constant input: every window's gradient lands on its first (top-left) input pixel,
     * padding never counts. */
    nb_tensor *x = nb_tensor_full(NB_SHAPE(1, 2, 4, 4), 0.5f);
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    nb_tensor *y = nb_max_pool2d(x, &o);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    for (int64_t k = 0; k < x->size; k++) {
        int64_t h = k / 4 % 4, w = k % 4;
        float want = (h % 2 == 0 && w % 2 == 0) ? 1.0f : 0.0f;
        cr_assert_eq(x->grad->data[k], want, "dx[%lld] = %g", (long long)k, x->grad->data[k]);
    }
    /* Overlapping, padded windows on a constant input: 3x3, stride 1, padding 1. */
    const nb_pool2d_opts cases[] = {opts_of(3, 3, 1, 1, 1, 1, 1, 1),
                                    opts_of(2, 2, 1, 1, 1, 0, 1, 0),
                                    opts_of(3, 2, 2, 1, 1, 1, 0, 1)};
    nb_tensor *c = nb_tensor_full(NB_SHAPE(2, 1, 5, 7), -2.0f);
    cr_assert_eq(nb_tensor_set_requires_grad(c, true), NB_OK);
    for (int i = 0; i < 3; i++)
        check_forward_backward(c, &cases[i], 20 + i, "max_pool2d ties");
    /* 3x3 stride 1 padding 1 on 5x7 by hand: output (i,j) sends to (max(i-1,0), max(j-1,0)). */
    nb_tensor_zero_grad(c);
    y = nb_max_pool2d(c, &cases[0]);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    cr_assert_eq(c->grad->data[0], 4.0f);          /* outputs (0,0) (0,1) (1,0) (1,1) */
    cr_assert_eq(c->grad->data[1], 2.0f);          /* (0,2), (1,2) */
    cr_assert_eq(c->grad->data[7], 2.0f);          /* (2,0), (2,1) */
    cr_assert_eq(c->grad->data[8], 1.0f);          /* (2,2) */
    cr_assert_eq(c->grad->data[6], 0.0f);          /* last column: no window starts there */
    /* -0 and +0 are equal: the first of them is the maximum, with its sign. */
    nb_tensor *z = nb_tensor_from(NB_SHAPE(1, 1, 2, 4), (float[]){-0.0f, 0.0f, 0.0f, -0.0f,
                                                                  0.0f, -0.0f, -0.0f, 0.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(z, true), NB_OK);
    y = nb_max_pool2d(z, &o);
    cr_assert(y->data[0] == 0.0f && signbit(y->data[0]), "got %g", y->data[0]);
    cr_assert(y->data[1] == 0.0f && !signbit(y->data[1]), "got %g", y->data[1]);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    for (int k = 0; k < 8; k++)
        cr_assert_eq(z->grad->data[k], k == 0 || k == 2 ? 1.0f : 0.0f, "dz[%d]", k);
    nb_tensor_free(x);
    nb_tensor_free(c);
    nb_tensor_free(z);
}

Test(max_pool2d, nan_and_infinities)
{
    /* Window 0 holds a NaN (after a larger number): NaN wins, the gradient goes to it.
     * Window 1 holds two NaNs: the first wins. Window 2 is all -inf: -inf, first pixel.
     * Window 3 holds +inf. */
    const float v[16] = {1, 9, NAN, 2,      NAN, 5, 3, NAN,
                         -INFINITY, -INFINITY, 0, INFINITY,
                         -INFINITY, -INFINITY, 4, 1};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(1, 1, 4, 4), v);
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    nb_tensor *y = nb_max_pool2d(x, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(isnan(y->data[0]) && isnan(y->data[1]));
    cr_assert_eq(y->data[2], -INFINITY);
    cr_assert_eq(y->data[3], INFINITY);
    nb_tensor *dy = nb_tensor_from(NB_SHAPE(1, 1, 2, 2), (float[]){1, 2, 3, 4});
    cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
    float want[16] = {0};
    want[4] = 1;  /* the NaN at (1,0) */
    want[2] = 2;  /* the first NaN of window 1, at (0,2) */
    want[8] = 3;  /* all -inf: the first pixel */
    want[11] = 4; /* +inf at (2,3) */
    for (int k = 0; k < 16; k++)
        cr_assert_eq(x->grad->data[k], want[k], "dx[%d] = %g, want %g", k, x->grad->data[k],
                     want[k]);
    /* The general path agrees (3x3, stride 1, padding 1), against the reference. */
    nb_pool2d_opts g = opts_of(3, 3, 1, 1, 1, 1, 1, 1);
    check_forward_backward(x, &g, 7, "max_pool2d nan");
    nb_tensor_free(x);
    nb_tensor_free(dy);
}

/* x[k] = a random permutation of (k - n/2) * 0.05: no two values within 0.05, so
 * every window has one clear maximum and finite differences (eps 1e-3) do not swap it. */
static nb_tensor *separated_tensor(int ndim, const int64_t *shape, uint64_t seed)
{
    nb_tensor *x = nb_tensor_zeros(ndim, shape);
    cr_assert_not_null(x, "%s", nb_error());
    int64_t n = x->size;
    for (int64_t k = 0; k < n; k++)
        x->data[k] = (float)((double)(k - n / 2) * 0.05);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int64_t k = n - 1; k > 0; k--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t r = (int64_t)((s >> 33) % (uint64_t)(k + 1));
        float t = x->data[k];
        x->data[k] = x->data[r];
        x->data[r] = t;
    }
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    return x;
}

Test(max_pool2d, gradient_grid)
{
    check_pool_gradient_grid(nb_max_pool2d, "max_pool2d", separated_tensor, false);
    /* Non-square kernel, different strides, asymmetric padding. */
    pool_args a = {nb_max_pool2d, opts_of(2, 3, 1, 2, 0, 1, 1, 0)};
    nb_tensor *x = separated_tensor(NB_SHAPE(2, 2, 5, 7), 99);
    assert_gradcheck(f_pool, &x, 1, &a, NULL, "max_pool2d 2x3");
    nb_tensor_free(x);
}

Test(max_pool2d, large_parallel_same_bits_for_any_thread_count)
{
    /* Overlapping windows (3x3 stride 1, padding 1) and the 2x2 stride-2 path, above
     * NB_PAR_MIN elements: values against the reference, and the output and dx must be the
     * same bits for 1 and 2 threads. */
    const nb_pool2d_opts cases[] = {opts_of(3, 3, 1, 1, 1, 1, 1, 1), nb_pool2d_default(2, 2),
                                    opts_of(3, 2, 2, 1, 0, 1, 1, 1)};
    check_pool_large(nb_max_pool2d, check_forward_backward, cases, "max_pool2d large");
}

Test(max_pool2d, no_grad_and_empty_batch)
{
    /* Without grad the op runs the same and records nothing. */
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 5, 7), -1, 1, 8, false);
    nb_pool2d_opts o = opts_of(3, 3, 2, 2, 1, 1, 1, 1);
    double want[2 * 3 * 3 * 4];
    int64_t n = ref_max_pool(x, &o, want, NULL);
    nb_tensor *y = nb_max_pool2d(x, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_null(y->node);
    assert_close(y->data, want, n, 0, 0, "max_pool2d no grad");
    /* Empty batch: an empty output. */
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3, 5, 7));
    y = nb_max_pool2d(e, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->size, 0);
    nb_tensor_free(x);
    nb_tensor_free(e);
}

Test(max_pool2d, errors)
{
    check_pool_errors(nb_max_pool2d, "max_pool2d");
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 5, 7));
    nb_pool2d_opts o = opts_of(2, 2, 1, 1, 0, -1, 0, 0);
    assert_error(nb_max_pool2d(x, &o), NB_ERR_ARG,
                 "max_pool2d: padding (top 0, bottom -1, left 0, right 0) must not be negative");
    o = opts_of(3, 3, 1, 1, 0, 0, 2, 0);
    assert_error(nb_max_pool2d(x, &o), NB_ERR_ARG,
                 "max_pool2d: padding 2 must be at most half the kernel 3");
    o = opts_of(1, 1, 1, 1, 1, 0, 0, 0);
    assert_error(nb_max_pool2d(x, &o), NB_ERR_ARG,
                 "max_pool2d: padding 1 must be at most half the kernel 1");
    nb_tensor_free(x);
}

Test(max_pool2d, empty_image_planes_are_an_error)
{
    check_pool_empty_planes(nb_max_pool2d, "max_pool2d");
}

Test(max_pool2d, extreme_options)
{
    check_pool_extreme_options(nb_max_pool2d, "max_pool2d", 2.0, 2.0);
}

/* Arg-max offsets are int32: a plane of 2^32 pixels is an error (x is a header over a
 * small buffer: nothing is read), an empty batch of such planes is not. */
Test(max_pool2d, planes_beyond_int32_offsets)
{
    float buf[4] = {0};
    nb_tensor *x = nb_tensor_wrap(NB_SHAPE(1, 1, 1 << 16, 1 << 16), buf);
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 1, 1 << 16, 1 << 16));
    cr_assert(x && e, "%s", nb_error());
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    assert_error(nb_max_pool2d(x, &o), NB_ERR_SHAPE,
                 "max_pool2d: an image plane of [1,1,65536,65536] has more than 2^31 - 1 pixels");
    nb_tensor *y = nb_max_pool2d(e, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[0] == 0 && y->shape[2] == 1 << 15 && y->shape[3] == 1 << 15);
    nb_tensor_free(x);
    nb_tensor_free(e);
}
