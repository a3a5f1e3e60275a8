/*
 * softmax along axis a: with x viewed as [O, L, I] around a, each lane x[o,:,i] maps to
 *     y_l = e^(x_l - m) / sum_k e^(x_k - m),   m = max_k x_k            (m keeps e^ finite)
 *     dx_l += y_l (dy_l - sum_k dy_k y_k)
 *
 * Lane sums run in order k = 0, 1, ... in double, one thread per lane (nb_kernel_lanes).
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

/* One lane of L elements S apart. */
static void softmax_lane(float *y, const float *x, const float *unused, int64_t L, int64_t S)
{
    (void)unused;
    float m = -INFINITY;
    for (int64_t l = 0; l < L; l++)
        m = fmaxf(m, x[l * S]);
    double sum = 0.0;
    for (int64_t l = 0; l < L; l++) {
        float e = expf(x[l * S] - m);
        y[l * S] = e;
        sum += e;
    }
    for (int64_t l = 0; l < L; l++)
        y[l * S] = (float)(y[l * S] / sum);
}

static void softmax_lane_backward(float *dx, const float *y, const float *dy, int64_t L,
                                  int64_t S)
{
    double dot = 0.0;
    for (int64_t l = 0; l < L; l++)
        dot += (double)dy[l * S] * y[l * S];
    for (int64_t l = 0; l < L; l++)
        dx[l * S] += y[l * S] * (dy[l * S] - (float)dot);
}

static nb_status softmax_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, softmax_lane, y->data, nb_op_input(ctx, 0)->data, NULL);
    return NB_OK;
}

static nb_status softmax_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, softmax_lane_backward, nb_op_grad(ctx, 0)->data, y->data,
                    dy->data);
    return NB_OK;
}

static const nb_op softmax_op = {
    .name = "softmax",
    .n_inputs = 1,
    .params_size = sizeof(nb_axis_params),
    .shape = nb_op_shape_axis,
    .forward = softmax_forward,
    .backward = softmax_backward,
};

nb_tensor *nb_softmax(nb_tensor *x, int axis)
{
    nb_axis_params p = {.axis = axis};
    return nb_op_apply(&softmax_op, &x, 1, &p);
}
