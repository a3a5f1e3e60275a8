/*
 * custom_op.c - a new op defined outside the library, exactly as the built-in ops are:
 * softplus(x) = log(1 + e^x). Its gradient is checked with nb_gradcheck, then a small
 * network with softplus hidden units learns y = |x| by gradient descent.
 *
 *     ./build/examples/custom_op
 *
 * docs/writing-ops.md walks through this file.
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"
#include "nabla/kernels.h"   /* nb_rng_uniform */
#include "nabla/op.h"
#include "nabla/parallel.h"

/* ---- the op ---------------------------------------------------------------------- */

/*
 * softplus: y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)   (stable for large |x|)
 *           dx = dy * sigmoid(x)
 */
static nb_status softplus_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
    });
    return NB_OK;
}

static nb_status softplus_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const float *x = nb_op_input(ctx, 0)->data, *g = dy->data;
    float *dx = nb_op_grad(ctx, 0)->data; /* one input: never NULL here */
    int64_t n = dy->size;
    NB_PARALLEL_FOR(i, n, {
        dx[i] += g[i] / (1.0f + expf(-x[i]));
    });
    return NB_OK;
}

static const nb_op softplus_op = {
    .name = "softplus",
    .n_inputs = 1,
    .shape = nb_op_shape_same, /* the output has the input's shape */
    .forward = softplus_forward,
    .backward = softplus_backward,
};

/* The function users call: recorded, differentiated and checked like nb_sigmoid. */
static nb_tensor *softplus(nb_tensor *x) { return nb_op_apply(&softplus_op, &x, 1, NULL); }

/* ---- checking its gradient --------------------------------------------------------- */

static nb_tensor *f_softplus(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return softplus(in[0]);
}

static int check_gradient(void)
{
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(3, 17), -5.0f, 5.0f, 1);
    if (!x || nb_tensor_set_requires_grad(x, true) != NB_OK) {
        nb_tensor_free(x);
        return -1;
    }
    nb_gradcheck_result r;
    nb_status s = nb_gradcheck(f_softplus, &x, 1, NULL, NULL, &r);
    nb_tensor_free(x);
    if (s != NB_OK)
        return -1;
    printf("gradcheck softplus: %s, %lld elements, max abs error %.2e\n",
           r.passed ? "passed" : "FAILED", (long long)r.checked, r.max_abs_err);
    return r.passed && r.max_abs_grad > 0 ? 0 : -1;
}

/* ---- training with it ------------------------------------------------------------- */

int main(void)
{
    if (check_gradient() != 0) {
        fprintf(stderr, "custom_op: gradient check failed %s\n", nb_error());
        return 1;
    }
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(128, 1), -2.0f, 2.0f, 2);
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(128, 1));
    /* The parameters live in a store: one arena of values, one of gradients. */
    nb_params *ps = nb_params_new();
    nb_tensor *w1 = nb_params_add(ps, "hidden.kernel", NB_PARAM, NB_SHAPE(1, 16));
    nb_tensor *b1 = nb_params_add(ps, "hidden.bias", NB_PARAM, NB_SHAPE(16));
    nb_tensor *w2 = nb_params_add(ps, "out.kernel", NB_PARAM, NB_SHAPE(16, 1));
    nb_tensor *b2 = nb_params_add(ps, "out.bias", NB_PARAM, NB_SHAPE(1));
    int status = 1;
    float loss_value = NAN;
    if (!x || !y || !w1 || !b1 || !w2 || !b2 || nb_params_finalize(ps) != NB_OK)
        goto done;
    for (int64_t i = 0; i < 16; i++) {
        w1->data[i] = 4.0f * nb_rng_uniform(3, (uint64_t)i) - 2.0f;
        b1->data[i] = 4.0f * nb_rng_uniform(4, (uint64_t)i) - 2.0f;
        w2->data[i] = 0.5f * (nb_rng_uniform(5, (uint64_t)i) - 0.5f);
    }
    for (int i = 0; i < 128; i++)
        y->data[i] = fabsf(x->data[i]);

    float *values = nb_params_values(ps);
    const float *grads = nb_params_grads(ps);
    int64_t n = nb_params_numel(ps, NB_PARAM);
    for (int step = 0; step < 4000; step++) {
        nb_tensor *h = softplus(nb_add(nb_matmul(x, w1), b1));
        nb_tensor *loss = nb_mse(nb_add(nb_matmul(h, w2), b2), y, NB_REDUCE_MEAN);
        if (nb_backward(loss) != NB_OK)
            goto done;
        loss_value = nb_tensor_item(loss);
        for (int64_t i = 0; i < n; i++) /* gradient descent: one loop over the arena */
            values[i] -= 0.1f * grads[i];
        nb_params_zero_grad(ps);
        nb_step_reset();
    }
    printf("softplus network, y = |x|: final loss %.6f\n", loss_value);
    status = loss_value < 0.01f ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "custom_op: %s\n", nb_error());
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_params_free(ps);
    nb_memory_release();
    return status;
}
