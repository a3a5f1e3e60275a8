/*
 * cross_entropy: softmax cross-entropy of logits x [N,C] and labels t [N] (class
 * indices 0..C-1 stored as floats), with a max-subtracted log-sum-exp per row:
 *
 *     m_n = max_c x[n,c],   s_n = sum_c e^(x[n,c] - m_n)      (s_n summed in double)
 *     l_n = m_n + ln s_n - x[n,t_n],          out = mean(l) | sum(l) | l   (over N)
 *
 *     dx[n,c] = g_n (softmax(x)[n,c] - [c == t_n]),   softmax(x)[n,c] = e^(x[n,c] - m_n) / s_n
 *
 * with g_n = dout_n (NONE), dout (SUM) or dout / N (MEAN). No gradient flows to the
 * labels. Forward is one pass over the logits (nb_kernel_cross_entropy: SLEEF's exp,
 * 1 ULP; the row losses summed in double as they come, with no temporary array, the
 * same bits for any thread count) and saves the softmax for backward (only when the
 * logits need a gradient); backward is one pass (nb_kernel_cross_entropy_backward). A
 * label that is not an integer in [0, C) is NB_ERR_ARG, reported by forward for the
 * first such label.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

typedef struct cross_entropy_params {
    nb_reduction reduction;
} cross_entropy_params;

static nb_status cross_entropy_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const cross_entropy_params *prm = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *t = nb_op_input(ctx, 1);
    nb_status s = nb_op_check_reduction(ctx, prm->reduction);
    if (s != NB_OK)
        return s;
    char sx[128], st[128];
    if (x->ndim != 2 || t->ndim != 1 || t->shape[0] != x->shape[0])
        return nb_op_error(ctx, NB_ERR_SHAPE, "expected logits [N,C] and labels [N], got %s "
                                              "and %s", nb_tensor_shape_str(x, sx, sizeof sx),
                           nb_tensor_shape_str(t, st, sizeof st));
    if (x->shape[1] < 1)
        return nb_op_error(ctx, NB_ERR_SHAPE, "logits %s have no classes (C = 0)",
                           nb_tensor_shape_str(x, sx, sizeof sx));
    if (prm->reduction == NB_REDUCE_NONE) {
        *ndim = 1;
        shape[0] = x->shape[0];
    } else {
        *ndim = 0;
    }
    return NB_OK;
}

static nb_status cross_entropy_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const cross_entropy_params *prm = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *t = nb_op_input(ctx, 1);
    const float *xd = x->data, *td = t->data;
    int64_t N = x->shape[0], C = x->shape[1];

    for (int64_t n = 0; n < N; n++) {
        double label = td[n];
        if (!(label >= 0.0 && label < (double)C && label == floor(label)))
            return nb_op_error(ctx, NB_ERR_ARG,
                               "labels[%lld] = %g is not a class index in [0, %lld)",
                               (long long)n, label, (long long)C);
    }
    float *prob = NULL;
    if (nb_op_input_needs_grad(ctx, 0) &&
        !(prob = nb_op_save(ctx, (size_t)(N * C) * sizeof(float))))
        return NB_ERR_NOMEM;
    nb_reduction r = prm->reduction;
    double s = nb_kernel_cross_entropy(r == NB_REDUCE_NONE ? out->data : NULL, prob, xd, td, N,
                                       C);
    if (r != NB_REDUCE_NONE)
        out->data[0] = (float)(r == NB_REDUCE_MEAN ? s / (double)N : s);
    return NB_OK;
}

static nb_status cross_entropy_backward(nb_op_ctx *ctx, const nb_tensor *out,
                                        const nb_tensor *dout)
{
    (void)out;
    nb_tensor *dx = nb_op_grad(ctx, 0);
    if (!dx) /* only the labels require grad: they get none */
        return NB_OK;
    const cross_entropy_params *prm = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *t = nb_op_input(ctx, 1);
    int64_t N = x->shape[0], C = x->shape[1];
    nb_reduction r = prm->reduction;
    nb_kernel_cross_entropy_backward(dx->data, nb_op_saved(ctx), t->data,
                                     r == NB_REDUCE_NONE ? dout->data : NULL,
                                     nb_op_loss_scale(r, dout->data, N), N, C);
    return NB_OK;
}

static const nb_op cross_entropy_op = {
    .name = "cross_entropy",
    .n_inputs = 2,
    .params_size = sizeof(cross_entropy_params),
    .shape = cross_entropy_shape,
    .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
};

nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *labels, nb_reduction reduction)
{
    nb_tensor *in[2] = {logits, labels};
    cross_entropy_params prm = {.reduction = reduction};
    return nb_op_apply(&cross_entropy_op, in, 2, &prm);
}
