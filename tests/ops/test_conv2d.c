/* conv2d: forward and gradients against a direct convolution in double, finite
 * differences over a grid of strides, paddings, dilations, groups and batch sizes,
 * bit-identical results for 1 and 2 threads, and every error. */
#include <limits.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(conv2d);

/* One convolution: input [N,C,H,W], weight [K,C/G,kH,kW], options, bias or not. */
typedef struct conv_case {
    int64_t N, C, H, W, K, kH, kW;
    int sh, sw, pt, pb, pl, pr, dh, dw, G;
    bool same, bias, relu;
} conv_case;

static nb_conv2d_opts case_opts(const conv_case *c)
{
    nb_conv2d_opts o = nb_conv2d_default();
    o.stride_h = c->sh ? c->sh : 1;
    o.stride_w = c->sw ? c->sw : 1;
    o.dilation_h = c->dh ? c->dh : 1;
    o.dilation_w = c->dw ? c->dw : 1;
    o.groups = c->G ? c->G : 1;
    o.pad_top = c->pt;
    o.pad_bottom = c->pb;
    o.pad_left = c->pl;
    o.pad_right = c->pr;
    o.pad_same = c->same;
    o.relu = c->relu;
    return o;
}

/* The explicit paddings of o for an input H x W (TensorFlow's rule for "same"). */
static void ref_pads(const nb_conv2d_opts *o, int64_t H, int64_t W, int64_t kH, int64_t kW,
                     int64_t pad[4])
{
    pad[0] = o->pad_top;
    pad[1] = o->pad_bottom;
    pad[2] = o->pad_left;
    pad[3] = o->pad_right;
    if (!o->pad_same)
        return;
    int64_t in[2] = {H, W}, k[2] = {kH, kW}, s[2] = {o->stride_h, o->stride_w};
    int64_t d[2] = {o->dilation_h, o->dilation_w};
    for (int a = 0; a < 2; a++) {
        int64_t out = (in[a] + s[a] - 1) / s[a];
        int64_t need = (out - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in[a];
        if (need < 0)
            need = 0;
        pad[2 * a] = need / 2;
        pad[2 * a + 1] = need - need / 2;
    }
}

/* Output size; y (if not NULL) gets the direct convolution in double. */
static void ref_conv(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b,
                     const nb_conv2d_opts *o, int64_t *Ho_, int64_t *Wo_, double *y)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t K = w->shape[0], Cg = w->shape[1], kH = w->shape[2], kW = w->shape[3];
    int64_t pad[4];
    ref_pads(o, H, W, kH, kW, pad);
    int64_t Ho = (H + pad[0] + pad[1] - o->dilation_h * (kH - 1) - 1) / o->stride_h + 1;
    int64_t Wo = (W + pad[2] + pad[3] - o->dilation_w * (kW - 1) - 1) / o->stride_w + 1;
    *Ho_ = Ho;
    *Wo_ = Wo;
    if (!y)
        return;
    int64_t Kg = K / o->groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b && b != NB_NONE ? b->data[k] : 0.0;
                    int64_t g = k / Kg;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kH; i++)
                            for (int64_t j = 0; j < kW; j++) {
                                int64_t ih = oh * o->stride_h - pad[0] + i * o->dilation_h;
                                int64_t iw = ow * o->stride_w - pad[2] + j * o->dilation_w;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                s += (double)w->data[((k * Cg + c) * kH + i) * kW + j] *
                                     x->data[((n * C + g * Cg + c) * H + ih) * W + iw];
                            }
                    y[((n * K + k) * Ho + oh) * Wo + ow] = o->relu && s <= 0.0 ? 0.0 : s;
                }
}

/* The gradients of L = sum(r * conv(x, w, b)) in double, by the same direct loops; with
 * o->relu, r counts only where the pre-activation conv(x, w, b) (b: bias, or NULL) is
 * > 0. */
static void ref_conv_backward(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b,
                              const nb_conv2d_opts *o, const float *r, double *dx, double *dw,
                              double *db)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t K = w->shape[0], Cg = w->shape[1], kH = w->shape[2], kW = w->shape[3];
    int64_t pad[4], Ho, Wo;
    ref_pads(o, H, W, kH, kW, pad);
    ref_conv(x, w, NULL, o, &Ho, &Wo, NULL);
    memset(dx, 0, (size_t)x->size * sizeof(double));
    memset(dw, 0, (size_t)w->size * sizeof(double));
    memset(db, 0, (size_t)K * sizeof(double));
    double *z = NULL;
    if (o->relu) {
        nb_conv2d_opts plain = *o;
        plain.relu = false;
        z = malloc((size_t)(N * K * Ho * Wo) * sizeof(double));
        cr_assert_not_null(z);
        ref_conv(x, w, b, &plain, &Ho, &Wo, z);
    }
    int64_t Kg = K / o->groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    const int64_t yi = ((n * K + k) * Ho + oh) * Wo + ow;
                    double g_ = z && !(z[yi] > 0.0) ? 0.0 : r[yi];
                    int64_t g = k / Kg;
                    db[k] += g_;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kH; i++)
                            for (int64_t j = 0; j < kW; j++) {
                                int64_t ih = oh * o->stride_h - pad[0] + i * o->dilation_h;
                                int64_t iw = ow * o->stride_w - pad[2] + j * o->dilation_w;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                int64_t wi = ((k * Cg + c) * kH + i) * kW + j;
                                int64_t xi = ((n * C + g * Cg + c) * H + ih) * W + iw;
                                dw[wi] += g_ * x->data[xi];
                                dx[xi] += g_ * w->data[wi];
                            }
                }
    free(z);
}

/* Persistent x, w, b (b NULL without bias) for a case, values in [-1, 1). */
static void make_inputs(const conv_case *c, uint64_t seed, bool gx, bool gw, bool gb,
                        nb_tensor **x, nb_tensor **w, nb_tensor **b)
{
    int G = c->G ? c->G : 1;
    *x = rand_tensor(4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1, seed, gx);
    *w = rand_tensor(4, (int64_t[]){c->K, c->C / G, c->kH, c->kW}, -1, 1, seed + 1, gw);
    *b = c->bias ? rand_tensor(1, (int64_t[]){c->K}, -1, 1, seed + 2, gb) : NB_NONE;
}

static void free_inputs(nb_tensor *x, nb_tensor *w, nb_tensor *b)
{
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(b);
}

/* The cases checked forward: every option alone and mixed. */
static const conv_case forward_cases[] = {
    {.N = 1, .C = 1, .H = 5, .W = 7, .K = 2, .kH = 3, .kW = 3},
    {.N = 3, .C = 3, .H = 5, .W = 7, .K = 4, .kH = 3, .kW = 3, .sh = 2, .sw = 2,
     .pt = 1, .pb = 1, .pl = 1, .pr = 1},
    {.N = 2, .C = 2, .H = 6, .W = 6, .K = 3, .kH = 2, .kW = 3, .pt = 1, .pb = 0, .pl = 2,
     .pr = 1},
    {.N = 1, .C = 3, .H = 7, .W = 7, .K = 2, .kH = 3, .kW = 3, .dh = 2, .dw = 2,
     .pt = 2, .pb = 2, .pl = 2, .pr = 2},
    {.N = 2, .C = 1, .H = 9, .W = 8, .K = 2, .kH = 3, .kW = 2, .dh = 3, .dw = 1, .sh = 2},
    {.N = 2, .C = 4, .H = 5, .W = 5, .K = 6, .kH = 3, .kW = 3, .G = 2, .pt = 1, .pb = 1,
     .pl = 1, .pr = 1},
    {.N = 2, .C = 3, .H = 5, .W = 6, .K = 6, .kH = 3, .kW = 3, .G = 3, .sh = 2, .sw = 1},
    {.N = 3, .C = 3, .H = 4, .W = 5, .K = 5, .kH = 1, .kW = 1},                /* direct */
    {.N = 2, .C = 4, .H = 4, .W = 5, .K = 6, .kH = 1, .kW = 1, .G = 2},        /* direct */
    {.N = 2, .C = 3, .H = 5, .W = 5, .K = 2, .kH = 1, .kW = 1, .sh = 2, .sw = 2},
    {.N = 1, .C = 2, .H = 4, .W = 5, .K = 3, .kH = 1, .kW = 1, .pt = 1, .pr = 1},
    {.N = 1, .C = 2, .H = 5, .W = 7, .K = 3, .kH = 3, .kW = 3, .sh = 2, .sw = 2,
     .same = true},
    {.N = 2, .C = 1, .H = 4, .W = 4, .K = 2, .kH = 2, .kW = 2, .same = true},
    {.N = 1, .C = 2, .H = 6, .W = 5, .K = 2, .kH = 3, .kW = 3, .dh = 2, .dw = 2,
     .same = true, .pt = -5},                          /* pads ignored under "same" */
    {.N = 2, .C = 2, .H = 3, .W = 4, .K = 3, .kH = 3, .kW = 4},    /* 1x1 output */
    {.N = 1, .C = 1, .H = 6, .W = 6, .K = 1, .kH = 3, .kW = 3, .sh = 2, .sw = 2},
    {.N = 2, .C = 2, .H = 5, .W = 9, .K = 2, .kH = 2, .kW = 3, .sh = 1, .sw = 3,
     .pl = 1, .pr = 2},
};

Test(conv2d, forward)
{
    for (size_t t = 0; t < sizeof forward_cases / sizeof forward_cases[0]; t++) {
        for (int variant = 0; variant < 4; variant++) {
            const bool with_bias = variant & 1;
            conv_case c = forward_cases[t];
            c.bias = with_bias;
            c.relu = variant & 2;
            nb_tensor *x, *w, *b;
            make_inputs(&c, 100 + 10 * t, false, false, false, &x, &w, &b);
            nb_conv2d_opts o = case_opts(&c);
            nb_tensor *y = nb_conv2d(x, w, b, &o);
            cr_assert_not_null(y, "case %zu: %s", t, nb_error());
            int64_t Ho, Wo;
            ref_conv(x, w, b, &o, &Ho, &Wo, NULL);
            cr_assert_eq(y->ndim, 4);
            cr_assert(y->shape[0] == c.N && y->shape[1] == c.K && y->shape[2] == Ho &&
                      y->shape[3] == Wo, "case %zu: shape", t);
            double *want = malloc((size_t)y->size * sizeof(double));
            ref_conv(x, w, b, &o, &Ho, &Wo, want);
            char what[32];
            snprintf(what, sizeof what, "case %zu%s%s", t, with_bias ? " bias" : "",
                     c.relu ? " relu" : "");
            assert_close(y->data, want, y->size, 1e-5, 1e-5, what);
            free(want);
            free_inputs(x, w, b);
        }
    }
}

Test(conv2d, default_opts)
{
    nb_conv2d_opts d = nb_conv2d_default();
    cr_assert(d.stride_h == 1 && d.stride_w == 1 && d.dilation_h == 1 && d.dilation_w == 1 &&
              d.groups == 1 && !d.pad_same && d.pad_top == 0 && d.pad_bottom == 0 &&
              d.pad_left == 0 && d.pad_right == 0);
    /* NULL opts means the default. */
    conv_case c = {.N = 2, .C = 2, .H = 5, .W = 4, .K = 3, .kH = 2, .kW = 3, .bias = true};
    nb_tensor *x, *w, *b;
    make_inputs(&c, 7, false, false, false, &x, &w, &b);
    nb_tensor *y = nb_conv2d(x, w, b, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    int64_t Ho, Wo;
    double want[2 * 3 * 4 * 2];
    ref_conv(x, w, b, &d, &Ho, &Wo, want);
    cr_assert(Ho == 4 && Wo == 2 && y->size == 48);
    assert_close(y->data, want, 48, 1e-5, 1e-5, "default");
    free_inputs(x, w, b);
}

/* "same" pads TensorFlow's way: the odd pixel at the bottom/right. */
Test(conv2d, same_padding)
{
    /* A 1x1 image of ones, 4x4, kernel 2x2 of ones: total pad 1 goes bottom/right, so
     * y[oh][ow] counts the input pixels in rows oh..oh+1, columns ow..ow+1. */
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(1, 1, 4, 4));
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(1, 1, 2, 2));
    nb_conv2d_opts o = nb_conv2d_default();
    o.pad_same = true;
    nb_tensor *y = nb_conv2d(x, w, NB_NONE, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[2] == 4 && y->shape[3] == 4);
    double want[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            want[i * 4 + j] = (i < 3 ? 2 : 1) * (j < 3 ? 2 : 1);
    assert_close(y->data, want, 16, 0, 0, "same");
    /* Stride 2 on 5 pixels: ceil(5 / 2) = 3 outputs. */
    o.stride_h = o.stride_w = 2;
    nb_tensor *x2 = nb_tensor_ones(NB_SHAPE(1, 1, 5, 6));
    nb_tensor *w2 = nb_tensor_ones(NB_SHAPE(1, 1, 3, 3));
    y = nb_conv2d(x2, w2, NB_NONE, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[2] == 3 && y->shape[3] == 3, "got [%lld,%lld]", (long long)y->shape[2],
              (long long)y->shape[3]);
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(x2);
    nb_tensor_free(w2);
}

/* ---- gradients ---- */

typedef struct grad_ud {
    nb_conv2d_opts o;
    bool bias;
} grad_ud;

static nb_tensor *f_conv(nb_tensor *const *in, void *ud)
{
    const grad_ud *g = ud;
    return nb_conv2d(in[0], in[1], g->bias ? in[2] : NB_NONE, &g->o);
}

/* Small enough for finite differences: x <= ~150 elements. */
static const conv_case grad_cases[] = {
    {.N = 1, .C = 1, .H = 5, .W = 7, .K = 2, .kH = 3, .kW = 3},
    {.N = 3, .C = 1, .H = 5, .W = 7, .K = 2, .kH = 3, .kW = 3, .sh = 2, .sw = 2, .pt = 1,
     .pb = 1, .pl = 1, .pr = 1},
    {.N = 1, .C = 3, .H = 5, .W = 7, .K = 2, .kH = 3, .kW = 3, .same = true},
    {.N = 1, .C = 2, .H = 7, .W = 7, .K = 2, .kH = 3, .kW = 3, .dh = 2, .dw = 2, .pt = 2,
     .pb = 2, .pl = 2, .pr = 2},
    {.N = 1, .C = 4, .H = 5, .W = 5, .K = 4, .kH = 3, .kW = 3, .G = 2, .pt = 1, .pb = 1,
     .pl = 1, .pr = 1},
    {.N = 1, .C = 3, .H = 5, .W = 5, .K = 3, .kH = 3, .kW = 3, .G = 3, .sh = 2, .sw = 2},
    {.N = 3, .C = 2, .H = 3, .W = 5, .K = 3, .kH = 1, .kW = 1},                /* direct */
    {.N = 2, .C = 2, .H = 3, .W = 5, .K = 4, .kH = 1, .kW = 1, .G = 2},        /* direct */
    {.N = 3, .C = 1, .H = 5, .W = 7, .K = 2, .kH = 2, .kW = 3, .sh = 2, .sw = 3, .pt = 0,
     .pb = 1, .pl = 2, .pr = 1},
    {.N = 1, .C = 3, .H = 5, .W = 7, .K = 2, .kH = 3, .kW = 2, .sh = 2, .sw = 1, .dh = 1,
     .dw = 2, .same = true},
};

Test(conv2d, gradient)
{
    for (size_t t = 0; t < sizeof grad_cases / sizeof grad_cases[0]; t++) {
        /* which: 0 all three, 1 x only, 2 w only, 3 b only. */
        for (int which = 0; which < 4; which++) {
            conv_case c = grad_cases[t];
            c.bias = which == 0 || which == 3 || t % 2 == 0;
            c.relu = (t + (size_t)which) % 3 == 0; /* fused relu on a third of the runs */
            nb_tensor *in[3];
            make_inputs(&c, 300 + 10 * t, which <= 1, which == 0 || which == 2,
                        which == 0 || which == 3, &in[0], &in[1], &in[2]);
            grad_ud ud = {.o = case_opts(&c), .bias = c.bias};
            char what[48];
            snprintf(what, sizeof what, "case %zu grads %d%s", t, which,
                     c.relu ? " relu" : "");
            assert_gradcheck(f_conv, in, c.bias ? 3 : 2, &ud, NULL, what);
            free_inputs(in[0], in[1], in[2]);
        }
    }
}

/* A big case (several chunks of images, parallel loops): values and gradients against
 * the double reference, and the same bits for 1 and 2 threads. */
static void run_big(const conv_case *c, int threads, nb_tensor **y, nb_tensor *x,
                    nb_tensor *w, nb_tensor *b, const nb_tensor *r)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_tensor_zero_grad(x);
    nb_tensor_zero_grad(w);
    nb_tensor_zero_grad(b);
    nb_conv2d_opts o = case_opts(c);
    *y = nb_conv2d(x, w, b, &o);
    cr_assert_not_null(*y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(*y, r), NB_OK, "%s", nb_error());
}

static void check_big(const conv_case *c) /* c->bias must be set */
{
    int prev = nb_num_threads();
    nb_tensor *x, *w, *b;
    make_inputs(c, 900, true, true, true, &x, &w, &b);
    nb_conv2d_opts o = case_opts(c);
    int64_t Ho, Wo;
    ref_conv(x, w, b, &o, &Ho, &Wo, NULL);
    int64_t ny = c->N * c->K * Ho * Wo;
    cr_assert_geq(ny, NB_PAR_MIN);
    nb_tensor *r = rand_tensor(4, (int64_t[]){c->N, c->K, Ho, Wo}, -1, 1, 77, false);

    nb_tensor *y1, *y2;
    run_big(c, 1, &y1, x, w, b, r);
    nb_tensor *dx1 = nb_tensor_clone(x->grad), *dw1 = nb_tensor_clone(w->grad);
    nb_tensor *db1 = nb_tensor_clone(b->grad);
    run_big(c, 2, &y2, x, w, b, r);
    cr_assert_eq(memcmp(y1->data, y2->data, (size_t)ny * sizeof(float)), 0, "y differs");
    cr_assert_eq(memcmp(dx1->data, x->grad->data, (size_t)x->size * sizeof(float)), 0,
                 "dx differs");
    cr_assert_eq(memcmp(dw1->data, w->grad->data, (size_t)w->size * sizeof(float)), 0,
                 "dw differs");
    cr_assert_eq(memcmp(db1->data, b->grad->data, (size_t)b->size * sizeof(float)), 0,
                 "db differs");

    double *want = malloc((size_t)ny * sizeof(double));
    double *dx = malloc((size_t)x->size * sizeof(double));
    double *dw = malloc((size_t)w->size * sizeof(double));
    double *db = malloc((size_t)c->K * sizeof(double));
    ref_conv(x, w, b, &o, &Ho, &Wo, want);
    assert_close(y2->data, want, ny, 1e-4, 1e-4, "big y");
    ref_conv_backward(x, w, b, &o, r->data, dx, dw, db);
    assert_close(x->grad->data, dx, x->size, 1e-4, 1e-4, "big dx");
    assert_close(w->grad->data, dw, w->size, 1e-3, 1e-4, "big dw");
    assert_close(b->grad->data, db, c->K, 1e-3, 1e-4, "big db");
    free(want);
    free(dx);
    free(dw);
    free(db);
    nb_tensor_free(dx1);
    nb_tensor_free(dw1);
    nb_tensor_free(db1);
    nb_tensor_free(r);
    free_inputs(x, w, b);
    nb_set_num_threads(prev);
}

Test(conv2d, parallel_im2col)
{
    check_big(&(conv_case){.N = 5, .C = 4, .H = 30, .W = 31, .K = 12, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true});
}

Test(conv2d, parallel_strided_groups)
{
    check_big(&(conv_case){.N = 7, .C = 6, .H = 41, .W = 37, .K = 8, .kH = 3, .kW = 2,
                           .sh = 2, .sw = 1, .dh = 1, .dw = 2, .G = 2, .same = true,
                           .bias = true});
}

Test(conv2d, parallel_direct)
{
    check_big(&(conv_case){.N = 3, .C = 8, .H = 33, .W = 35, .K = 12, .kH = 1, .kW = 1,
                           .bias = true});
}

/* Column matrices larger than one block (R P > 65536 floats): blocks of pixels that
 * start and end mid-row, with padding, with a stride, and 1x1 over many channels. */
Test(conv2d, parallel_pixel_blocks)
{
    check_big(&(conv_case){.N = 3, .C = 8, .H = 45, .W = 43, .K = 6, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true});
    check_big(&(conv_case){.N = 2, .C = 10, .H = 61, .W = 59, .K = 9, .kH = 3, .kW = 4,
                           .sh = 1, .sw = 2, .pt = 2, .pb = 0, .pl = 1, .pr = 3,
                           .bias = true});
    check_big(&(conv_case){.N = 4, .C = 70, .H = 33, .W = 31, .K = 9, .kH = 1, .kW = 1,
                           .bias = true});
}

/* More images than backward's 16 chunks, dealt unevenly (37 = 16 chunks of 2 or 3),
 * with many rows R (dw as cols dy^T) and with few (R = 9: dw as dy cols^T). */
Test(conv2d, parallel_image_chunks)
{
    check_big(&(conv_case){.N = 37, .C = 3, .H = 12, .W = 12, .K = 8, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true});
    check_big(&(conv_case){.N = 37, .C = 1, .H = 14, .W = 14, .K = 16, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true});
}

/* The fused relu over blocks, chunks, the thin dw and the 1x1 path, against the
 * reference and across thread counts. */
Test(conv2d, parallel_fused_relu)
{
    check_big(&(conv_case){.N = 3, .C = 8, .H = 45, .W = 43, .K = 6, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true, .relu = true});
    check_big(&(conv_case){.N = 37, .C = 1, .H = 14, .W = 14, .K = 16, .kH = 3, .kW = 3,
                           .pt = 1, .pb = 1, .pl = 1, .pr = 1, .bias = true, .relu = true});
    check_big(&(conv_case){.N = 3, .C = 8, .H = 33, .W = 35, .K = 12, .kH = 1, .kW = 1,
                           .bias = true, .relu = true});
}

/* .relu gives exactly the bits of nb_relu(nb_conv2d(...)): the output, and every
 * gradient (dy masked where the output is not > 0); NaN stays NaN. */
Test(conv2d, fused_relu_is_relu_of_conv)
{
    const conv_case cases[] = {
        {.N = 5, .C = 4, .H = 30, .W = 31, .K = 12, .kH = 3, .kW = 3, .pt = 1, .pb = 1,
         .pl = 1, .pr = 1, .bias = true},
        {.N = 2, .C = 3, .H = 7, .W = 6, .K = 4, .kH = 2, .kW = 3, .sh = 2, .G = 1},
        {.N = 3, .C = 2, .H = 4, .W = 5, .K = 6, .kH = 1, .kW = 1, .G = 2, .bias = true},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        nb_tensor *x, *w, *b;
        make_inputs(&cases[t], 40 + t, true, true, true, &x, &w, &b);
        if (t == 1)
            x->data[3] = NAN;
        nb_conv2d_opts o = case_opts(&cases[t]);
        nb_tensor *y0 = nb_relu(nb_conv2d(x, w, b, &o));
        cr_assert_not_null(y0, "%s", nb_error());
        nb_tensor *r = rand_tensor(y0->ndim, y0->shape, -1, 1, 9, false);
        cr_assert_eq(nb_backward_seed(y0, r), NB_OK, "%s", nb_error());
        nb_tensor *y0c = nb_tensor_clone(y0), *dx0 = nb_tensor_clone(x->grad);
        nb_tensor *dw0 = nb_tensor_clone(w->grad);
        nb_tensor *db0 = b != NB_NONE ? nb_tensor_clone(b->grad) : NULL;
        nb_tensor_zero_grad(x);
        nb_tensor_zero_grad(w);
        if (b != NB_NONE)
            nb_tensor_zero_grad(b);
        o.relu = true;
        nb_tensor *y1 = nb_conv2d(x, w, b, &o);
        cr_assert_not_null(y1, "%s", nb_error());
        cr_assert_eq(nb_backward_seed(y1, r), NB_OK, "%s", nb_error());
        bool nan_seen = false;
        for (int64_t i = 0; i < y1->size; i++) {
            nan_seen |= isnan(y1->data[i]);
            cr_assert(memcmp(&y1->data[i], &y0c->data[i], sizeof(float)) == 0,
                      "case %zu: y[%lld] %g, relu(conv) %g", t, (long long)i, y1->data[i],
                      y0c->data[i]);
        }
        cr_assert_eq(nan_seen, t == 1, "case %zu: a NaN input must give NaN outputs", t);
        cr_assert_eq(memcmp(dx0->data, x->grad->data, (size_t)x->size * sizeof(float)), 0,
                     "case %zu: dx differs", t);
        cr_assert_eq(memcmp(dw0->data, w->grad->data, (size_t)w->size * sizeof(float)), 0,
                     "case %zu: dw differs", t);
        if (db0)
            cr_assert_eq(memcmp(db0->data, b->grad->data, (size_t)b->size * sizeof(float)),
                         0, "case %zu: db differs", t);
        nb_step_reset();
        nb_tensor_free(r);
        nb_tensor_free(y0c);
        nb_tensor_free(dx0);
        nb_tensor_free(dw0);
        nb_tensor_free(db0);
        free_inputs(x, w, b);
    }
}

/* Only the inputs that need a gradient get one; x without grad is left alone. */
Test(conv2d, no_grad_inputs)
{
    conv_case c = {.N = 2, .C = 2, .H = 5, .W = 5, .K = 3, .kH = 3, .kW = 3, .bias = true};
    nb_tensor *x, *w, *b;
    make_inputs(&c, 11, false, true, false, &x, &w, &b);
    nb_tensor *y = nb_conv2d(x, w, b, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    cr_assert_null(x->grad);
    cr_assert_null(b->grad);
    double s = 0;
    for (int64_t i = 0; i < w->size; i++)
        s += fabs(w->grad->data[i]);
    cr_assert_gt(s, 0.0);
    free_inputs(x, w, b);
}

/* An empty batch gives an empty output, and backward runs. */
Test(conv2d, empty_batch)
{
    conv_case c = {.N = 0, .C = 2, .H = 5, .W = 5, .K = 3, .kH = 3, .kW = 3, .bias = true};
    nb_tensor *x, *w, *b;
    make_inputs(&c, 12, true, true, true, &x, &w, &b);
    nb_tensor *y = nb_conv2d(x, w, b, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->ndim == 4 && y->shape[0] == 0 && y->shape[1] == 3 && y->shape[2] == 3 &&
              y->shape[3] == 3);
    nb_tensor *seed = nb_tensor_step(4, y->shape);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < w->size; i++)
        cr_assert_eq(w->grad->data[i], 0.0f);
    free_inputs(x, w, b);
}

/* ---- errors ---- */

Test(conv2d, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 5, 5));
    nb_tensor *w = nb_tensor_zeros(NB_SHAPE(8, 2, 3, 3));
    nb_tensor *w3 = nb_tensor_zeros(NB_SHAPE(4, 3, 3, 3));
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(3, 5, 5));
    nb_tensor *w0 = nb_tensor_zeros(NB_SHAPE(4, 3, 0, 3));
    nb_tensor *b4 = nb_tensor_zeros(NB_SHAPE(4));
    nb_tensor *b5 = nb_tensor_zeros(NB_SHAPE(5));
    nb_tensor *b41 = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *w7 = nb_tensor_zeros(NB_SHAPE(4, 3, 7, 3));
    nb_conv2d_opts o = nb_conv2d_default();

    nb_error_clear();
    assert_error(nb_conv2d(NULL, w3, NB_NONE, NULL), NB_ERR_NULL, "conv2d: input 0 (x) is NULL");
    nb_error_clear();
    assert_error(nb_conv2d(x, NULL, NB_NONE, NULL), NB_ERR_NULL, "conv2d: input 1 (weight) is NULL");
    assert_error(nb_conv2d(x, w, NB_NONE, NULL), NB_ERR_SHAPE,
                 "conv2d: input has 3 channels but weight [8,2,3,3] expects 2 (groups 1)");
    assert_error(nb_conv2d(x3, w3, NB_NONE, NULL), NB_ERR_SHAPE,
                 "conv2d: input must be 4-D [N,C,H,W], got [3,5,5]");
    assert_error(nb_conv2d(x, x3, NB_NONE, NULL), NB_ERR_SHAPE,
                 "conv2d: weight must be 4-D [C_out,C_in/groups,kH,kW], got [3,5,5]");
    assert_error(nb_conv2d(x, w0, NB_NONE, NULL), NB_ERR_SHAPE,
                 "conv2d: weight [4,3,0,3] has an empty dimension");
    assert_error(nb_conv2d(x, w3, b5, NULL), NB_ERR_SHAPE,
                 "conv2d: bias [5] does not match weight [4,3,3,3]: expected [4]");
    assert_error(nb_conv2d(x, w3, b41, NULL), NB_ERR_SHAPE, "conv2d: bias [4,1] does not");
    assert_error(nb_conv2d(x, w7, b4, NULL), NB_ERR_SHAPE,
                 "conv2d: kernel 7x3 (dilation 1x1, extent 7x3) is larger than the padded "
                 "input 5x5 of [2,3,5,5]");
    o.dilation_h = 3;   /* extent 7 > 5 */
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_SHAPE, "larger than the padded input");
    o.pad_top = o.pad_bottom = 1;   /* 7 fits now */
    cr_assert_not_null(nb_conv2d(x, w3, NB_NONE, &o), "%s", nb_error());

    o = nb_conv2d_default();
    o.stride_w = 0;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG, "conv2d: strides must be >= 1, got 1x0");
    o = nb_conv2d_default();
    o.stride_h = -2;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG, "strides must be >= 1, got -2x1");
    o = nb_conv2d_default();
    o.dilation_w = 0;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG, "conv2d: dilations must be >= 1");
    o = nb_conv2d_default();
    o.pad_left = -1;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG, "conv2d: paddings must be >= 0");
    o = nb_conv2d_default();
    o.groups = 0;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG, "conv2d: groups must be >= 1, got 0");
    o.groups = 2;
    assert_error(nb_conv2d(x, w3, NB_NONE, &o), NB_ERR_ARG,
                 "conv2d: groups 2 does not divide the 3 input channels of [2,3,5,5]");
    o.groups = 3;   /* 3 divides C_in = 3 but not C_out = 4 */
    nb_tensor *w31 = nb_tensor_zeros(NB_SHAPE(4, 1, 3, 3));
    assert_error(nb_conv2d(x, w31, NB_NONE, &o), NB_ERR_ARG,
                 "conv2d: groups 3 does not divide the 4 output channels of weight [4,1,3,3]");
    o.groups = 1;
    assert_error(nb_conv2d(x, w31, NB_NONE, &o), NB_ERR_SHAPE,
                 "conv2d: input has 3 channels but weight [4,1,3,3] expects 1 (groups 1)");

    nb_tensor *ts[] = {x, w, w3, x3, w0, b4, b5, b41, w7, w31};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        nb_tensor_free(ts[i]);
}

/* Options at the ends of int: the output size was int64 overflow (UB) with every pad at
 * INT_MAX; now each is checked, and what fits still runs. */
Test(conv2d, extreme_options)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(1, 2, 4, 5), -1, 1, 40, false);
    nb_tensor *w = rand_tensor(NB_SHAPE(3, 2, 2, 2), -1, 1, 41, true);
    nb_conv2d_opts o = nb_conv2d_default();
    o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = INT_MAX;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_SHAPE, "conv2d: output planes of "
                 "4294967297x4294967298 pixels (input [1,2,4,5], padding top 2147483647");
    o.stride_h = o.stride_w = INT_MAX; /* 3 x 3 windows, almost all padding */
    nb_tensor *y = nb_conv2d(x, w, NB_NONE, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[2] == 3 && y->shape[3] == 3, "[%lld,%lld]", (long long)y->shape[2],
              (long long)y->shape[3]);
    /* Window (i, j) starts at i INT_MAX - INT_MAX: only i, j = 1 reach the image. */
    for (int64_t k = 0; k < 3; k++)
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 3; j++) {
                double want = 0;
                for (int64_t c = 0; c < 2; c++)
                    for (int64_t a = 0; a < 2; a++)
                        for (int64_t bb = 0; bb < 2; bb++) {
                            int64_t h = i * INT_MAX - INT_MAX + a, v = j * INT_MAX - INT_MAX + bb;
                            if (h >= 0 && h < 4 && v >= 0 && v < 5)
                                want += (double)w->data[((k * 2 + c) * 2 + a) * 2 + bb] *
                                        x->data[(c * 4 + h) * 5 + v];
                        }
                cr_assert_float_eq(y->data[(k * 3 + i) * 3 + j], want, 1e-5, "[%lld,%lld,%lld]",
                                   (long long)k, (long long)i, (long long)j);
            }
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());

    o = nb_conv2d_default();
    o.dilation_h = o.dilation_w = INT_MAX;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_SHAPE, "is larger than the padded input");
    o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = INT_MAX; /* extent 2^31: fits */
    o.stride_h = o.stride_w = INT_MAX;
    y = nb_conv2d(x, w, NB_NONE, &o);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[2] == 2 && y->shape[3] == 2);

    /* A kernel whose extent dilation (kH - 1) + 1 is beyond 2^48. */
    nb_tensor *tall = nb_tensor_zeros(NB_SHAPE(1, 2, (1 << 17) + 2, 1));
    o = nb_conv2d_default();
    o.dilation_h = INT_MAX;
    assert_error(nb_conv2d(x, tall, NB_NONE, &o), NB_ERR_SHAPE,
                 "conv2d: kernel [1,2,131074,1] with dilation 2147483647x1 spans more than "
                 "2^48 pixels");
    o = nb_conv2d_default();
    o.stride_h = INT_MIN;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_ARG, "strides must be >= 1");
    o = nb_conv2d_default();
    o.dilation_w = INT_MIN;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_ARG, "dilations must be >= 1");
    o = nb_conv2d_default();
    o.pad_bottom = INT_MIN;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_ARG, "paddings must be >= 0");
    o.pad_same = true; /* the pads are ignored */
    cr_assert_not_null(nb_conv2d(x, w, NB_NONE, &o), "%s", nb_error());
    o = nb_conv2d_default();
    o.groups = INT_MAX;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_ARG, "groups 2147483647 does not divide");
    o.groups = INT_MIN;
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_ARG, "groups must be >= 1");
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(tall);
}

/* A bias of NULL is an error (NB_NONE means no bias), as the header says. */
Test(conv2d, null_bias_is_an_error)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(1, 1, 3, 3), -1, 1, 42, false);
    nb_tensor *w = rand_tensor(NB_SHAPE(1, 1, 2, 2), -1, 1, 43, false);
    nb_error_clear();
    assert_error(nb_conv2d(x, w, NULL, NULL), NB_ERR_NULL, "conv2d: input 2 (bias) is NULL");
    nb_tensor_free(x);
    nb_tensor_free(w);
}

/* A block of columns beyond 2^32 floats is an error before anything is read: x and w are
 * headers over a small buffer (shape() rejects them first). */
Test(conv2d, column_matrix_too_large)
{
    float buf[4] = {0};
    const int64_t C = (int64_t)1 << 38;
    nb_tensor *x = nb_tensor_wrap(NB_SHAPE(1, C, 1, 1), buf);
    nb_tensor *w = nb_tensor_wrap(NB_SHAPE(1, C, 1, 1), buf);
    cr_assert(x && w, "%s", nb_error());
    nb_conv2d_opts o = nb_conv2d_default();
    o.pad_top = 1; /* not the direct 1x1 path: a column matrix of 2^38 rows */
    assert_error(nb_conv2d(x, w, NB_NONE, &o), NB_ERR_SHAPE,
                 "conv2d: the column matrix of [1,274877906944,1,1] with weight "
                 "[1,274877906944,1,1] (274877906944 rows, 2 columns per image) is too large: a "
                 "block of 2 columns holds more than 2^32 floats");
    nb_tensor_free(x);
    nb_tensor_free(w);
}
