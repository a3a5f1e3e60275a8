/*
 * tests/ops/pool2d_tests.h - what test_max_pool2d.c and test_avg_pool2d.c share: options,
 * the windows their references walk, the gradient grid, thread-count determinism and the option errors
 * both ops report.
 */
#ifndef NABLA_TESTS_OPS_POOL2D_TESTS_H
#define NABLA_TESTS_OPS_POOL2D_TESTS_H

#include <limits.h>
#include <string.h>

#include "../common.h"

typedef nb_tensor *(*pool2d_fn)(nb_tensor *x, const nb_pool2d_opts *opts);

/* nb_pool2d_default(kh, kw) with the given strides and paddings. */
static inline nb_pool2d_opts opts_of(int kh, int kw, int sh, int sw, int pt, int pb, int pl,
                                     int pr)
{
    nb_pool2d_opts o = nb_pool2d_default(kh, kw);
    o.stride_h = sh;
    o.stride_w = sw;
    o.pad_top = pt;
    o.pad_bottom = pb;
    o.pad_left = pl;
    o.pad_right = pr;
    return o;
}

/* The number of outputs N C Ho Wo of pooling x [N,C,H,W] with o, where
 * Ho = floor((H + pad_top + pad_bottom - kH) / stride_h) + 1, likewise Wo. */
static inline int64_t pool_outputs(const nb_tensor *x, const nb_pool2d_opts *o, int64_t *Ho,
                                   int64_t *Wo)
{
    *Ho = (x->shape[2] + o->pad_top + o->pad_bottom - o->kernel_h) / o->stride_h + 1;
    *Wo = (x->shape[3] + o->pad_left + o->pad_right - o->kernel_w) / o->stride_w + 1;
    return x->shape[0] * x->shape[1] * *Ho * *Wo;
}

/* The flat index in x [N,C,H,W] of tap (a, b) of the window of output k (row-major in
 * the output [N,C,Ho,Wo]), or -1 where the tap falls in the padding. */
static inline int64_t window_tap(const nb_tensor *x, const nb_pool2d_opts *o, int64_t Ho,
                                 int64_t Wo, int64_t k, int a, int b)
{
    int64_t H = x->shape[2], W = x->shape[3];
    int64_t plane = k / (Ho * Wo), i = k / Wo % Ho, j = k % Wo;
    int64_t h = i * o->stride_h - o->pad_top + a;
    int64_t w = j * o->stride_w - o->pad_left + b;
    if (h < 0 || h >= H || w < 0 || w >= W)
        return -1;
    return (plane * H + h) * W + w;
}

typedef struct pool_args {
    pool2d_fn pool;
    nb_pool2d_opts o;
} pool_args;

static inline nb_tensor *f_pool(nb_tensor *const *in, void *ud)
{
    const pool_args *a = ud;
    return a->pool(in[0], &a->o);
}

/* Makes an input for a gradient check: a persistent tensor that requires grad. */
typedef nb_tensor *(*pool_input_fn)(int ndim, const int64_t *shape, uint64_t seed);

/* Gradients by finite differences of pool with k x k kernels, k in {2, 3}, strides 1 and
 * 2, paddings 0 and 1, on four shapes; the inputs come from input(4, shape, seed) with
 * seeds 1, 2, ... With both_divisors every padded case runs with count_include_pad false
 * as well as true. */
static inline void check_pool_gradient_grid(pool2d_fn pool, const char *name,
                                            pool_input_fn input, bool both_divisors)
{
    const int64_t shapes[][4] = {{1, 1, 5, 7}, {3, 1, 5, 7}, {1, 3, 5, 7}, {3, 3, 3, 5}};
    uint64_t seed = 1;
    for (int k = 2; k <= 3; k++)
        for (int s = 1; s <= 2; s++)
            for (int p = 0; p <= 1; p++)
                for (int inc = both_divisors ? 0 : 1; inc < 2; inc++)
                    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
                        if (p == 0 && inc == 0)
                            continue; /* no padding: the same as inc = 1 */
                        pool_args a = {pool, opts_of(k, k, s, s, p, p, p, p)};
                        a.o.count_include_pad = inc;
                        nb_tensor *x = input(4, shapes[c], seed++);
                        char what[112];
                        snprintf(what, sizeof what,
                                 "%s k%d s%d p%d include_pad %d [%lld,%lld,%lld,%lld]", name,
                                 k, s, p, inc, (long long)shapes[c][0],
                                 (long long)shapes[c][1], (long long)shapes[c][2],
                                 (long long)shapes[c][3]);
                        assert_gradcheck(f_pool, &x, 1, &a, NULL, what);
                        nb_tensor_free(x);
                    }
}

/* pool(x, o) and the gradient it sends back from a random dy (seed) are the same bits
 * for 1 and 2 threads; `c` names the case in messages. */
static inline void check_pool_same_bits(pool2d_fn pool, nb_tensor *x, const nb_pool2d_opts *o,
                                        uint64_t seed, int c)
{
    int threads = nb_num_threads();
    size_t xbytes = (size_t)x->size * sizeof(float);
    float *got_y[2], *got_dx[2];
    size_t ybytes = 0;
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor_zero_grad(x);
        nb_tensor *y = pool(x, o);
        cr_assert_not_null(y, "%s", nb_error());
        nb_tensor *dy = rand_tensor(y->ndim, y->shape, -1, 1, seed, false);
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

/* Checks pool(x, o) and its gradient against the test's reference; dy from `seed`. */
typedef void (*pool_check_fn)(nb_tensor *x, const nb_pool2d_opts *o, uint64_t seed,
                              const char *what);

/* Above NB_PAR_MIN elements ([4,16,41,39]), for each of the three cases: values and
 * gradient by check, and the same bits for 1 and 2 threads. */
static inline void check_pool_large(pool2d_fn pool, pool_check_fn check,
                                    const nb_pool2d_opts cases[3], const char *what)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 16, 41, 39), -2, 2, 5, true);
    for (int c = 0; c < 3; c++) {
        check(x, &cases[c], 50 + c, what);
        check_pool_same_bits(pool, x, &cases[c], 60 + c, c);
    }
    nb_tensor_free(x);
}

/* The errors both pooling ops report, each "<name>: ...": a 3-D input, NULL opts, kernels
 * and strides below 1, a kernel larger than the padded input, a NULL input. */
static inline void check_pool_errors(pool2d_fn pool, const char *name)
{
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(3, 5, 7));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 5, 7));
    nb_pool2d_opts o = nb_pool2d_default(2, 2);
    char want[128];
    snprintf(want, sizeof want, "%s: input must be 4-D [N,C,H,W], got [3,5,7]", name);
    assert_error(pool(x3, &o), NB_ERR_SHAPE, want);
    snprintf(want, sizeof want, "%s: opts is NULL", name);
    assert_error(pool(x, NULL), NB_ERR_ARG, want);
    o = opts_of(0, 2, 1, 1, 0, 0, 0, 0);
    snprintf(want, sizeof want, "%s: kernel 0x2 must be positive", name);
    assert_error(pool(x, &o), NB_ERR_ARG, want);
    o = opts_of(2, -1, 1, 1, 0, 0, 0, 0);
    snprintf(want, sizeof want, "%s: kernel 2x-1 must be positive", name);
    assert_error(pool(x, &o), NB_ERR_ARG, want);
    o = opts_of(2, 2, 0, 1, 0, 0, 0, 0);
    snprintf(want, sizeof want, "%s: stride 0x1 must be positive", name);
    assert_error(pool(x, &o), NB_ERR_ARG, want);
    o = opts_of(2, 2, 1, -2, 0, 0, 0, 0);
    snprintf(want, sizeof want, "%s: stride 1x-2 must be positive", name);
    assert_error(pool(x, &o), NB_ERR_ARG, want);
    o = opts_of(6, 2, 1, 1, 0, 0, 0, 0);
    snprintf(want, sizeof want, "%s: kernel 6x2 is larger than the padded input [2,3,5,7] "
             "(padded to 5x7)", name);
    assert_error(pool(x, &o), NB_ERR_SHAPE, want);
    o = opts_of(2, 10, 1, 1, 0, 0, 1, 1);
    snprintf(want, sizeof want, "%s: kernel 2x10 is larger than the padded input [2,3,5,7] "
             "(padded to 5x9)", name);
    assert_error(pool(x, &o), NB_ERR_SHAPE, want);
    o = nb_pool2d_default(2, 2);
    snprintf(want, sizeof want, "%s: input 0 is NULL", name);
    nb_error_clear(); /* a NULL input keeps an earlier message */
    assert_error(pool(NULL, &o), NB_ERR_NULL, want);
    nb_tensor_free(x3);
    nb_tensor_free(x);
}

/* An empty image plane (H or W of 0) is an error naming the shape, with or without
 * padding (with padding a window would hold no pixel: max_pool2d read x->data[0] of an
 * empty tensor and its backward wrote past dx, avg_pool2d divided 0 by 0). An empty
 * batch or channel count stays fine. */
static inline void check_pool_empty_planes(pool2d_fn pool, const char *name)
{
    const int64_t shapes[][4] = {{1, 1, 0, 0}, {1, 1, 0, 5}, {2, 3, 4, 0}, {0, 1, 0, 3}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = nb_tensor_zeros(4, shapes[c]);
        cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
        for (int inc = 0; inc < 2; inc++) {
            nb_pool2d_opts o = opts_of(2, 2, 1, 1, 1, 1, 1, 1);
            o.count_include_pad = inc;
            char want[160], sx[64];
            snprintf(want, sizeof want, "%s: input %s has empty image planes (H and W must "
                     "be at least 1)", name, nb_tensor_shape_str(x, sx, sizeof sx));
            assert_error(pool(x, &o), NB_ERR_SHAPE, want);
            o = nb_pool2d_default(1, 1); /* no padding: the same rule */
            assert_error(pool(x, &o), NB_ERR_SHAPE, want);
        }
        nb_tensor_free(x);
    }
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(2, 0, 3, 3));
    nb_pool2d_opts o = opts_of(2, 2, 1, 1, 1, 1, 1, 1);
    nb_tensor *y = pool(e, &o);
    cr_assert_not_null(y, "%s: %s", name, nb_error());
    cr_assert(y->shape[0] == 2 && y->shape[1] == 0 && y->shape[2] == 4 && y->shape[3] == 4);
    nb_tensor_free(e);
}

/* Extreme options: a kernel of 2^30 + 1 with pads of 2^29 on the 1x1 image {2} (one
 * window, clipped to the pixel: not 2^60 taps; want_incl and want_excl are its value
 * with each divisor rule), a stride of INT_MAX, and INT_MAX / INT_MIN options
 * rejected. */
static inline void check_pool_extreme_options(pool2d_fn pool, const char *name,
                                              double want_incl, double want_excl)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(1, 1, 1, 1), (float[]){2.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    const int K = (1 << 30) + 1, Pd = 1 << 29;
    for (int inc = 0; inc < 2; inc++) {
        nb_pool2d_opts o = opts_of(K, K, 1, 1, Pd, Pd, Pd, Pd);
        o.count_include_pad = inc;
        nb_tensor_zero_grad(x);
        nb_tensor *y = pool(x, &o);
        cr_assert_not_null(y, "%s: %s", name, nb_error());
        cr_assert(y->size == 1 && y->shape[2] == 1 && y->shape[3] == 1, "%s", name);
        double want = inc ? want_incl : want_excl;
        cr_assert_float_eq(y->data[0], want, 1e-6 * fabs(want) + 1e-30, "%s inc %d", name,
                           inc);
        cr_assert_eq(nb_backward(y), NB_OK, "%s", nb_error());
        cr_assert_float_eq(x->grad->data[0], want / 2.0, 1e-6 * fabs(want) + 1e-30,
                           "%s: the gradient of a linear window", name);
    }
    nb_tensor *x2 = rand_tensor(NB_SHAPE(1, 2, 5, 6), -1, 1, 3, false);
    nb_pool2d_opts o = opts_of(2, 2, INT_MAX, INT_MAX, 0, 0, 0, 0);
    nb_tensor *y = pool(x2, &o);
    cr_assert_not_null(y, "%s: %s", name, nb_error());
    cr_assert(y->shape[2] == 1 && y->shape[3] == 1, "%s: stride INT_MAX, one window", name);
    char want[96];
    snprintf(want, sizeof want, "%s: kernel %dx2 is larger than the padded input", name,
             INT_MAX);
    o = opts_of(INT_MAX, 2, 1, 1, 0, 0, 0, 0);
    assert_error(pool(x2, &o), NB_ERR_SHAPE, want);
    o = opts_of(2, 2, 1, 1, INT_MAX, 0, 0, 0);
    assert_error(pool(x2, &o), NB_ERR_ARG, "must be at most half the kernel");
    o = opts_of(2, 2, INT_MIN, 1, 0, 0, 0, 0);
    assert_error(pool(x2, &o), NB_ERR_ARG, "must be positive");
    o = opts_of(INT_MIN, 2, 1, 1, 0, 0, 0, 0);
    assert_error(pool(x2, &o), NB_ERR_ARG, "must be positive");
    nb_tensor_free(x);
    nb_tensor_free(x2);
}

#endif /* NABLA_TESTS_OPS_POOL2D_TESTS_H */
