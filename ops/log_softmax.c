/*
 * log_softmax along axis a: with x viewed as [O, L, I] around a, each lane x[o,:,i] maps to
 *     y_l = x_l - m - log sum_k e^(x_k - m),   m = max_k x_k            (m keeps e^ finite)
 *     dx_l += dy_l - e^(y_l) sum_k dy_k
 *
 * Lane sums run in order k = 0, 1, ... in double, one thread per lane (nb_kernel_lanes).
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

/* One lane of L elements S apart. */
static void log_softmax_lane(float *y, const float *x, const float *unused, int64_t L,
                             int64_t S)
{
    (void)unused;
    float m = -INFINITY;
    for (int64_t l = 0; l < L; l++)
        m = fmaxf(m, x[l * S]);
    double sum = 0.0;
    for (int64_t l = 0; l < L; l++)
        sum += expf(x[l * S] - m);
    float log_sum = (float)log(sum);
    for (int64_t l = 0; l < L; l++)
        y[l * S] = x[l * S] - m - log_sum;
}

static void log_softmax_lane_backward(float *dx, const float *y, const float *dy, int64_t L,
                                      int64_t S)
{
    double sum = 0.0;
    for (int64_t l = 0; l < L; l++)
        sum += dy[l * S];
    for (int64_t l = 0; l < L; l++)
        dx[l * S] += dy[l * S] - expf(y[l * S]) * (float)sum;
}

static nb_status log_softmax_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, log_softmax_lane, y->data, nb_op_input(ctx, 0)->data, NULL);
    return NB_OK;
}

static nb_status log_softmax_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const nb_axis_params *p = nb_op_params(ctx);
    nb_kernel_lanes(y, p->axis, log_softmax_lane_backward, nb_op_grad(ctx, 0)->data,
                    y->data, dy->data);
    return NB_OK;
}

static const nb_op log_softmax_op = {
    .name = "log_softmax",
    .n_inputs = 1,
    .params_size = sizeof(nb_axis_params),
    .shape = nb_op_shape_axis,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
};

nb_tensor *nb_log_softmax(nb_tensor *x, int axis)
{
    nb_axis_params p = {.axis = axis};
    return nb_op_apply(&log_softmax_op, &x, 1, &p);
}
