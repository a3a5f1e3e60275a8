/*
 * mean: y = (1/N) sum_i x_i (0-D), N = size of x                      dx_i += dy / N
 *       along axis a, x viewed as [O, L, I]:
 *       y[o,i] = (1/L) sum_l x[o,l,i]                            dx[o,l,i] += dy[o,i] / L
 *
 * The mean of no elements is NaN (0/0), as in NumPy. Deterministic: the full sum goes
 * through nb_kernel_sum; along an axis each output is summed in order l = 0, 1, ... in
 * double, one thread per output.
 */
#include "nabla/op.h"
#include "nabla/ops.h"

typedef struct mean_params {
    int axis;      /* negative counts from the end */
    bool keepdim;  /* keep the reduced axis with size 1 */
    bool all;      /* average every element to a 0-D tensor (axis, keepdim unused) */
} mean_params;

/* Columns of I outputs averaged together, so each reads contiguous rows of x. */
#define MEAN_COLS 64

/* x's shape as [O, L, I] around `axis` (already in range). */
static void mean_split(const nb_tensor *x, int axis, int64_t *O, int64_t *L, int64_t *I)
{
    *O = 1;
    *I = 1;
    for (int d = 0; d < axis; d++)
        *O *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++)
        *I *= x->shape[d];
    *L = x->shape[axis];
}

static nb_status mean_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const mean_params *p = nb_op_params(ctx);
    if (p->all) {
        *ndim = 0;
        return NB_OK;
    }
    int axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
    if (axis < 0 || axis >= x->ndim) {
        char s[128];
        return nb_op_error(ctx, NB_ERR_ARG, "axis %d is out of range for shape %s", p->axis,
                           nb_tensor_shape_str(x, s, sizeof s));
    }
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != axis)
            shape[n++] = x->shape[d];
        else if (p->keepdim)
            shape[n++] = 1;
    *ndim = n;
    return NB_OK;
}

static nb_status mean_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const mean_params *p = nb_op_params(ctx);
    if (p->all) {
        y->data[0] = (float)(nb_kernel_sum(x->data, x->size) / (double)x->size);
        return NB_OK;
    }
    int64_t O, L, I;
    mean_split(x, p->axis < 0 ? p->axis + x->ndim : p->axis, &O, &L, &I);
    const float *xd = x->data;
    float *yd = y->data;
    if (I == 1) {
        NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, o, O, {
            yd[o] = (float)(nb_kernel_sum(xd + o * L, L) / (double)L);
        });
        return NB_OK;
    }
    /* Tasks are MEAN_COLS-wide column blocks of one o. */
    int64_t n_blocks = (I + MEAN_COLS - 1) / MEAN_COLS;
    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, t, O * n_blocks, {
        int64_t o = t / n_blocks, i0 = t % n_blocks * MEAN_COLS;
        int64_t w = I - i0 < MEAN_COLS ? I - i0 : MEAN_COLS;
        double acc[MEAN_COLS] = {0};
        for (int64_t l = 0; l < L; l++) {
            const float *row = xd + (o * L + l) * I + i0;
            for (int64_t i = 0; i < w; i++)
                acc[i] += row[i];
        }
        for (int64_t i = 0; i < w; i++)
            yd[o * I + i0 + i] = (float)(acc[i] / (double)L);
    });
    return NB_OK;
}

static nb_status mean_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const nb_tensor *x = nb_op_input(ctx, 0);
    const mean_params *p = nb_op_params(ctx);
    float *dx = nb_op_grad(ctx, 0)->data;
    const float *g = dy->data;
    if (p->all) {
        float g0 = (float)(g[0] / (double)x->size);
        NB_PARALLEL_FOR(k, x->size, {
            dx[k] += g0;
        });
        return NB_OK;
    }
    int64_t O, L, I;
    mean_split(x, p->axis < 0 ? p->axis + x->ndim : p->axis, &O, &L, &I);
    float inv_L = (float)(1.0 / (double)L);
    /* Row (o, l) of dx gets row o of dy, scaled. */
    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, r, O * L, {
        float *d = dx + r * I;
        const float *gr = g + r / L * I;
        for (int64_t i = 0; i < I; i++)
            d[i] += gr[i] * inv_L;
    });
    return NB_OK;
}

static const nb_op mean_op = {
    .name = "mean",
    .n_inputs = 1,
    .params_size = sizeof(mean_params),
    .shape = mean_shape,
    .forward = mean_forward,
    .backward = mean_backward,
};

nb_tensor *nb_mean(nb_tensor *x)
{
    mean_params p = {.all = true};
    return nb_op_apply(&mean_op, &x, 1, &p);
}

nb_tensor *nb_mean_axis(nb_tensor *x, int axis, bool keepdim)
{
    mean_params p = {.axis = axis, .keepdim = keepdim};
    return nb_op_apply(&mean_op, &x, 1, &p);
}
