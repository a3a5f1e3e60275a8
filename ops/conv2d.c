/*
 * conv2d: 2-D cross-correlation, NCHW, lowered to GEMM.
 *
 *   x [N, C, H, W], w [K, C/G, kH, kW], b [K]  ->  y [N, K, Ho, Wo]
 *   y[n,k,oh,ow] = b[k] + sum_{c,i,j} w[k,c,i,j] x[n, g C/G + c, oh sh - pt + i dh,
 *                                                      ow sw - pl + j dw]
 * with g = k / (K/G) the group of k and x zero outside the image. With im2col,
 * cols_n[(c,i,j), (oh,ow)] = that x value, each image and group is one product:
 *
 *   y_n,g  = w_g cols_n,g (+ b)                     [K/G, Ho Wo]
 *   dw_g  += dy_n,g cols_n,g^T                      summed over n = 0, 1, ... in order
 *            (computed as its transpose cols dy^T, which packs faster)
 *   dx_n  += col2im(w_g^T dy_n,g)                   scatter-add of the columns
 *   db    += sum over n, oh, ow of dy
 *
 * Images go through in chunks of a fixed size (which depends on the shapes only, never
 * on the thread count): the chunk's columns sit side by side, so one GEMM covers the
 * chunk and is big enough for nb_kernel_gemm to split across threads. cols is recomputed in
 * backward rather than saved. A 1x1 kernel with stride 1 and no padding uses x as cols
 * directly, one image at a time. Every sum has a fixed order: the same bits for any
 * thread count.
 */
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

/* Columns (images x Ho Wo) per GEMM: a chunk holds ceil(CHUNK_COLS / (Ho Wo)) images. */
#define CHUNK_COLS 2048

typedef struct conv2d_params {
    nb_conv2d_opts o;
} conv2d_params;

nb_conv2d_opts nb_conv2d_default(void)
{
    return (nb_conv2d_opts){
        .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 1,
    };
}

/* The geometry, and whether cols is x itself (1x1, stride 1, no padding). */
static nb_conv2d_geom conv_geom_of(const nb_tensor *x, const nb_tensor *w,
                                   const nb_conv2d_opts *o, bool *direct)
{
    nb_conv2d_geom g = nb_conv2d_geometry(x->shape, w->shape, o);
    *direct = g.kH == 1 && g.kW == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 &&
              g.pl == 0 && g.pr == 0;
    return g;
}

static nb_status conv2d_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const conv2d_params *p = nb_op_params(ctx);
    const nb_conv2d_opts *o = &p->o;
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    char sx[128], sw[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    nb_tensor_shape_str(w, sw, sizeof sw);
    if (x->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input must be 4-D [N,C,H,W], got %s", sx);
    if (w->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "weight must be 4-D [C_out,C_in/groups,kH,kW], "
                           "got %s", sw);
    if (o->stride_h < 1 || o->stride_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "strides must be >= 1, got %dx%d", o->stride_h,
                           o->stride_w);
    if (o->dilation_h < 1 || o->dilation_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "dilations must be >= 1, got %dx%d",
                           o->dilation_h, o->dilation_w);
    if (!o->pad_same &&
        (o->pad_top < 0 || o->pad_bottom < 0 || o->pad_left < 0 || o->pad_right < 0))
        return nb_op_error(ctx, NB_ERR_ARG, "paddings must be >= 0, got top %d bottom %d "
                           "left %d right %d", o->pad_top, o->pad_bottom, o->pad_left,
                           o->pad_right);
    if (o->groups < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "groups must be >= 1, got %d", o->groups);
    if (w->shape[0] < 1 || w->shape[1] < 1 || w->shape[2] < 1 || w->shape[3] < 1)
        return nb_op_error(ctx, NB_ERR_SHAPE, "weight %s has an empty dimension", sw);
    if (x->shape[1] % o->groups != 0)
        return nb_op_error(ctx, NB_ERR_ARG, "groups %d does not divide the %lld input "
                           "channels of %s", o->groups, (long long)x->shape[1], sx);
    if (w->shape[0] % o->groups != 0)
        return nb_op_error(ctx, NB_ERR_ARG, "groups %d does not divide the %lld output "
                           "channels of weight %s", o->groups, (long long)w->shape[0], sw);
    if (x->shape[1] / o->groups != w->shape[1])
        return nb_op_error(ctx, NB_ERR_SHAPE, "input has %lld channels but weight %s expects "
                           "%lld (groups %d)", (long long)x->shape[1], sw,
                           (long long)w->shape[1] * o->groups, o->groups);
    if (nb_op_has_input(ctx, 2)) {
        const nb_tensor *b = nb_op_input(ctx, 2);
        if (b->ndim != 1 || b->shape[0] != w->shape[0]) {
            char sb[128];
            nb_tensor_shape_str(b, sb, sizeof sb);
            return nb_op_error(ctx, NB_ERR_SHAPE, "bias %s does not match weight %s: "
                               "expected [%lld]", sb, sw, (long long)w->shape[0]);
        }
    }
    /* Every quantity below fits int64: dimensions are at most NB_SIZE_MAX (2^48) and the
     * options int, so only the kernel extent dilation (k - 1) + 1 and the products of
     * output sizes need bounds. */
    if (w->shape[2] - 1 > NB_SIZE_MAX / o->dilation_h ||
        w->shape[3] - 1 > NB_SIZE_MAX / o->dilation_w)
        return nb_op_error(ctx, NB_ERR_SHAPE, "kernel %s with dilation %dx%d spans more than "
                           "2^%d pixels", sw, o->dilation_h, o->dilation_w, NB_SIZE_MAX_LOG2);
    bool direct;
    nb_conv2d_geom g = conv_geom_of(x, w, o, &direct);
    int64_t eh = g.dh * (g.kH - 1) + 1, ew = g.dw * (g.kW - 1) + 1;
    if (g.H + g.pt + g.pb < eh || g.W + g.pl + g.pr < ew)
        return nb_op_error(ctx, NB_ERR_SHAPE, "kernel %lldx%lld (dilation %lldx%lld, extent "
                           "%lldx%lld) is larger than the padded input %lldx%lld of %s",
                           (long long)g.kH, (long long)g.kW, (long long)g.dh,
                           (long long)g.dw, (long long)eh, (long long)ew,
                           (long long)(g.H + g.pt + g.pb), (long long)(g.W + g.pl + g.pr),
                           sx);
    if (g.P > NB_SIZE_MAX)
        return nb_op_error(ctx, NB_ERR_SHAPE, "output planes of %lldx%lld pixels (input %s, "
                           "padding top %lld bottom %lld left %lld right %lld) are too large "
                           "(more than 2^%d)", (long long)g.Ho, (long long)g.Wo, sx,
                           (long long)g.pt, (long long)g.pb, (long long)g.pl,
                           (long long)g.pr, NB_SIZE_MAX_LOG2);
    /* The column matrix of a chunk: R rows of fewer than P + CHUNK_COLS columns. */
    if (g.N > 0 && !direct && g.R > NB_SIZE_MAX / (g.P + CHUNK_COLS))
        return nb_op_error(ctx, NB_ERR_SHAPE, "the column matrix of %s with weight %s (%lld "
                           "rows, %lld columns per image) is too large", sx, sw,
                           (long long)g.R, (long long)g.P);
    *ndim = 4;
    shape[0] = g.N;
    shape[1] = g.K;
    shape[2] = g.Ho;
    shape[3] = g.Wo;
    return NB_OK;
}

/* y[n0 + b, k0 + k, :] = t[k, b P + :] (+ bias[k0 + k]) for the chunk's nb images. */
static void scatter_out(const nb_conv2d_geom *g, const float *t, int64_t n0, int64_t nb,
                        int64_t k0, const float *bias, float *y)
{
    const int64_t tasks = nb * g->Kg, P = g->P;
    NB_PARALLEL_FOR_IF(tasks * P >= NB_PAR_MIN, r, tasks, {
        int64_t b = r / g->Kg, k = r % g->Kg;
        const float *s = t + k * nb * P + b * P;
        float *d = y + ((n0 + b) * g->K + k0 + k) * P;
        float bk = bias ? bias[k0 + k] : 0.0f;
        for (int64_t p = 0; p < P; p++)
            d[p] = s[p] + bk;
    });
}

/* t[k, b P + :] = dy[n0 + b, k0 + k, :]: the chunk's output gradient as one matrix. */
static void gather_dout(const nb_conv2d_geom *g, const float *dy, int64_t n0, int64_t nb,
                        int64_t k0, float *t)
{
    const int64_t tasks = nb * g->Kg, P = g->P;
    NB_PARALLEL_FOR_IF(tasks * P >= NB_PAR_MIN, r, tasks, {
        int64_t b = r / g->Kg, k = r % g->Kg;
        memcpy(t + k * nb * P + b * P, dy + ((n0 + b) * g->K + k0 + k) * P,
               (size_t)P * sizeof(float));
    });
}

/* y[n, k0 + k, :] += bias[k0 + k] for the Kg rows of one image and group. */
static void add_bias(const nb_conv2d_geom *g, const float *bias, int64_t n, int64_t k0, float *y)
{
    const int64_t P = g->P;
    NB_PARALLEL_FOR_IF(g->Kg * P >= NB_PAR_MIN, k, g->Kg, {
        float bk = bias[k0 + k], *d = y + (n * g->K + k0 + k) * P;
        for (int64_t p = 0; p < P; p++)
            d[p] += bk;
    });
}

/* Images per chunk: a chunk of one image reads x and writes y in place. */
static int64_t chunk_images(const nb_conv2d_geom *g, bool direct)
{
    if (direct)
        return 1;
    int64_t B = (CHUNK_COLS + g->P - 1) / g->P;
    if (B > g->N)
        B = g->N;
    return B < 1 ? 1 : B;
}

static nb_status conv2d_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const conv2d_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    const float *bias = nb_op_has_input(ctx, 2) ? nb_op_input(ctx, 2)->data : NULL;
    bool direct;
    const nb_conv2d_geom g = conv_geom_of(x, w, &p->o, &direct);
    const int64_t B = chunk_images(&g, direct), P = g.P;

    nb_step_mark mark = nb_step_mark_get();
    bool ok = true;
    float *cols = NULL, *t = NULL;
    if (!direct)
        ok = (cols = nb_step_alloc((size_t)(g.R * B * P) * sizeof(float))) != NULL;
    if (ok && B > 1)
        ok = (t = nb_step_alloc((size_t)(g.Kg * B * P) * sizeof(float))) != NULL;
    nb_status s = ok ? NB_OK : NB_ERR_NOMEM;
    for (int64_t n0 = 0; n0 < g.N && s == NB_OK; n0 += B) {
        const int64_t nb = g.N - n0 < B ? g.N - n0 : B, ld = nb * P;
        for (int64_t gr = 0; gr < g.G && s == NB_OK; gr++) {
            const float *c = cols;
            if (direct)
                c = x->data + (n0 * g.C + gr * g.Cg) * P;
            else
                nb_kernel_im2col(&g, x->data, n0, nb, gr * g.Cg, cols, ld);
            /* One image: straight into y. Several: into t, then spread out. */
            float *dst = nb == 1 ? y->data + (n0 * g.K + gr * g.Kg) * P : t;
            s = nb_kernel_gemm(false, false, g.Kg, ld, g.R, 1.0f, w->data + gr * g.Kg * g.R, g.R, c,
                        ld, 0.0f, dst, ld);
            if (s == NB_OK && nb > 1)
                scatter_out(&g, t, n0, nb, gr * g.Kg, bias, y->data);
            else if (s == NB_OK && bias)
                add_bias(&g, bias, n0, gr * g.Kg, y->data);
        }
    }
    nb_step_rewind(mark);
    return s;
}

/* db[k] += sum over n and pixels of dy[n, k, :], each k summed in image order. */
static void bias_backward(const nb_conv2d_geom *g, const float *dy, float *db)
{
    NB_PARALLEL_FOR_IF(g->N * g->K * g->P >= NB_PAR_MIN, k, g->K, {
        double s = 0.0;
        for (int64_t n = 0; n < g->N; n++)
            s += nb_kernel_sum(dy + (n * g->K + k) * g->P, g->P);
        db[k] += (float)s;
    });
}

static nb_status conv2d_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const conv2d_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    nb_tensor *dxt = nb_op_grad(ctx, 0), *dwt = nb_op_grad(ctx, 1);
    nb_tensor *dbt = nb_op_grad(ctx, 2);
    bool direct;
    const nb_conv2d_geom g = conv_geom_of(x, w, &p->o, &direct);
    const int64_t B = chunk_images(&g, direct), P = g.P;
    float *dx = dxt ? dxt->data : NULL, *dw = dwt ? dwt->data : NULL;

    if (dbt)
        bias_backward(&g, dy->data, dbt->data);
    if ((!dx && !dw) || g.N == 0)
        return NB_OK;

    /* cols holds im2col(x) for dw, then w_g^T dy for dx. dw is summed transposed,
     * dwT_g = sum over chunks of cols dy_g^T [R, Kg], then added to dw: nb_kernel_gemm packs a
     * transposed right operand slowly, and dy is cheaper to pack that way than cols
     * (measured faster for both benchmark layers). */
    nb_step_mark mark = nb_step_mark_get();
    bool ok = true;
    float *cols = NULL, *t = NULL, *dwT = NULL;
    if (!direct)
        ok = (cols = nb_step_alloc((size_t)(g.R * B * P) * sizeof(float))) != NULL;
    if (ok && B > 1)
        ok = (t = nb_step_alloc((size_t)(g.Kg * B * P) * sizeof(float))) != NULL;
    if (ok && dw) {
        ok = (dwT = nb_step_alloc((size_t)(g.K * g.R) * sizeof(float))) != NULL;
        if (ok)
            memset(dwT, 0, (size_t)(g.K * g.R) * sizeof(float));
    }
    nb_status s = ok ? NB_OK : NB_ERR_NOMEM;
    for (int64_t n0 = 0; n0 < g.N && s == NB_OK; n0 += B) {
        const int64_t nb = g.N - n0 < B ? g.N - n0 : B, ld = nb * P;
        for (int64_t gr = 0; gr < g.G && s == NB_OK; gr++) {
            const float *wg = w->data + gr * g.Kg * g.R;
            const float *dyg = dy->data + (n0 * g.K + gr * g.Kg) * P;
            if (nb > 1) {
                gather_dout(&g, dy->data, n0, nb, gr * g.Kg, t);
                dyg = t;
            }
            if (dw) {
                const float *c = cols;
                if (direct)
                    c = x->data + (n0 * g.C + gr * g.Cg) * P;
                else
                    nb_kernel_im2col(&g, x->data, n0, nb, gr * g.Cg, cols, ld);
                s = nb_kernel_gemm(false, true, g.R, g.Kg, ld, 1.0f, c, ld, dyg, ld, 1.0f,
                            dwT + gr * g.R * g.Kg, g.Kg);
            }
            if (dx && s == NB_OK && direct) {
                s = nb_kernel_gemm(true, false, g.R, P, g.Kg, 1.0f, wg, g.R, dyg, P, 1.0f,
                            dx + (n0 * g.C + gr * g.Cg) * P, P);
            } else if (dx && s == NB_OK) {
                s = nb_kernel_gemm(true, false, g.R, ld, g.Kg, 1.0f, wg, g.R, dyg, ld, 0.0f, cols,
                            ld);
                if (s == NB_OK)
                    nb_kernel_col2im(&g, cols, ld, n0, nb, gr * g.Cg, dx);
            }
        }
    }
    if (s == NB_OK && dwT) {
        for (int64_t gr = 0; gr < g.G; gr++)
            for (int64_t k = 0; k < g.Kg; k++)
                for (int64_t r = 0; r < g.R; r++)
                    dw[(gr * g.Kg + k) * g.R + r] += dwT[(gr * g.R + r) * g.Kg + k];
    }
    nb_step_rewind(mark);
    return s;
}

static const nb_op conv2d_op = {
    .name = "conv2d",
    .n_inputs = 3,
    .inputs = {[2] = NB_INPUT_OPTIONAL},
    .input_names = {"x", "weight", "bias"},
    .params_size = sizeof(conv2d_params),
    .shape = conv2d_shape,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
};

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv2d_opts *opts)
{
    conv2d_params p = {.o = opts ? *opts : nb_conv2d_default()};
    nb_tensor *in[3] = {x, w, b};
    return nb_op_apply(&conv2d_op, in, 3, &p);
}
