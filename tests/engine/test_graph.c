/* The graph: what is recorded, backward order and accumulation, grad mode, op API. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(graph);

/* ---- a test op that counts its calls: y = k * x0 + x1 (elementwise, same shape) ---- */

struct count_params {
    float k;
};
static int forwards, backwards, grad_null[2];

static nb_status count_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    if (!nb_tensor_same_shape(nb_op_input(ctx, 0), nb_op_input(ctx, 1)))
        return nb_op_error(ctx, NB_ERR_SHAPE, "shapes differ");
    return nb_op_shape_same(ctx, ndim, shape);
}

static nb_status count_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const struct count_params *p = nb_op_params(ctx);
    const nb_tensor *a = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = p->k * a->data[i] + b->data[i];
    forwards++;
    return NB_OK;
}

static nb_status count_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const struct count_params *p = nb_op_params(ctx);
    backwards++;
    for (int i = 0; i < 2; i++) {
        nb_tensor *dx = nb_op_grad(ctx, i);
        grad_null[i] += dx == NULL;
        if (dx)
            for (int64_t j = 0; j < dy->size; j++)
                dx->data[j] += (i == 0 ? p->k : 1.0f) * dy->data[j];
    }
    return NB_OK;
}

static const nb_op count_op = {
    .name = "count",
    .n_inputs = 2,
    .params_size = sizeof(struct count_params),
    .shape = count_shape,
    .forward = count_forward,
    .backward = count_backward,
};

static nb_tensor *count(nb_tensor *a, nb_tensor *b, float k)
{
    struct count_params p = {k};
    nb_tensor *in[2] = {a, b};
    nb_tensor *y = nb_op_apply(&count_op, in, 2, &p);
    p.k = 1000; /* the op keeps its own copy */
    return y;
}

Test(graph, records_only_what_needs_grad)
{
    nb_tensor *a = nb_tensor_ones(NB_SHAPE(3));
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(3));
    nb_tensor *y = count(a, b, 2);
    cr_assert_null(y->node, "nothing requires grad, nothing is recorded");
    cr_assert_not(y->requires_grad);
    cr_assert_not(y->persistent);
    cr_assert_eq(y->data[0], 3.0f);

    nb_tensor_set_requires_grad(a, true);
    y = count(a, b, 2);
    cr_assert_not_null(y->node);
    cr_assert(y->requires_grad);
    cr_assert_eq(nb_backward_seed(y, b), NB_OK, "%s", nb_error());
    cr_assert_eq(backwards, 1);
    cr_assert_eq(grad_null[0], 0);
    cr_assert_eq(grad_null[1], 1, "b needs no grad: its grad must be NULL");
    cr_assert_eq(a->grad->data[0], 2.0f, "params were copied at apply time");
    cr_assert_null(b->grad);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(graph, each_node_runs_backward_once_and_sums_uses)
{
    /* x feeds h twice and y twice: y = 3*h + h, h = 2*x + x. dy/dx = 4 * 3 = 12. */
    nb_tensor *x = nb_tensor_full(NB_SHAPE(2), 1.5f);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *h = count(x, x, 2);
    nb_tensor *y = count(h, h, 3);
    nb_tensor *loss = nb_sum(y);
    cr_assert_not_null(loss, "%s", nb_error());
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    cr_assert_eq(backwards, 2, "each node's backward runs exactly once");
    cr_assert_eq(x->grad->data[0], 12.0f);
    cr_assert_eq(x->grad->data[1], 12.0f);
    /* Intermediates keep their gradient until the step ends. */
    cr_assert_eq(h->grad->data[0], 4.0f);

    /* A second backward accumulates into leaves, intermediates start over. */
    cr_assert_eq(nb_backward(loss), NB_OK);
    cr_assert_eq(x->grad->data[0], 24.0f);
    cr_assert_eq(h->grad->data[0], 4.0f);
    nb_tensor_free(x);
}

Test(graph, sigmoid_chain_matches_hand_derivative)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){-1, 0.5f, 2});
    nb_tensor *b = nb_tensor_scalar(0.25f);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor_set_requires_grad(b, true);
    nb_tensor *loss = nb_sum(nb_sigmoid(nb_add(x, b)));
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    double db = 0;
    for (int i = 0; i < 3; i++) {
        double s = 1 / (1 + exp(-(x->data[i] + 0.25)));
        cr_assert_float_eq(x->grad->data[i], s * (1 - s), 1e-6);
        db += s * (1 - s);
    }
    cr_assert_float_eq(b->grad->data[0], db, 1e-6);
    nb_tensor_free(x);
    nb_tensor_free(b);
}

Test(graph, deep_chain_does_not_recurse)
{
    nb_tensor *x = nb_tensor_full(NB_SHAPE(1), 1.0f);
    nb_tensor *zero = nb_tensor_zeros(NB_SHAPE(1));
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *y = x;
    for (int i = 0; i < 200000; i++)
        y = count(y, zero, 1);
    cr_assert_eq(nb_backward(y), NB_OK, "%s", nb_error());
    cr_assert_eq(backwards, 200000);
    cr_assert_eq(x->grad->data[0], 1.0f);
    nb_tensor_free(x);
    nb_tensor_free(zero);
}

Test(graph, grad_mode)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(2));
    nb_tensor_set_requires_grad(x, true);
    cr_assert(nb_grad_enabled());
    bool prev = nb_set_grad_enabled(false);
    cr_assert(prev);
    cr_assert_not(nb_set_grad_enabled(false), "nested: previous mode was off");
    nb_tensor *y = nb_sigmoid(x);
    cr_assert_null(y->node);
    cr_assert_not(y->requires_grad);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "backward: the output does not require grad"), "%s",
              nb_error());
    nb_set_grad_enabled(prev);
    cr_assert(nb_grad_enabled());
    cr_assert_not_null(nb_sigmoid(x)->node);
    nb_tensor_free(x);
}

Test(graph, backward_errors)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(2, 2));
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *y = nb_sigmoid(x);
    cr_assert_eq(nb_backward(y), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "backward: loss must have one element, got shape [2,2]"),
              "%s", nb_error());
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(4));
    cr_assert_eq(nb_backward_seed(y, seed), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "seed shape [4] differs from output shape [2,2]"));
    cr_assert_eq(nb_backward_seed(y, NULL), NB_ERR_NULL);
    nb_error_clear();
    cr_assert_eq(nb_backward(NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "backward: loss is NULL"));

    /* A NULL from a failed op keeps that op's message. */
    nb_tensor *bad = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_eq(nb_backward(nb_sum(nb_add(x, bad))), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "add: shapes do not broadcast: [2,2] and [3]"), "%s",
              nb_error());

    /* A leaf as the output: its gradient is the seed. */
    nb_tensor *s = nb_tensor_scalar(2);
    nb_tensor_set_requires_grad(s, true);
    cr_assert_eq(nb_backward(s), NB_OK);
    cr_assert_eq(s->grad->data[0], 1.0f);
    nb_tensor_free(x);
    nb_tensor_free(seed);
    nb_tensor_free(bad);
    nb_tensor_free(s);
}

/* ---- descriptors that are wrong in ways an op author can get wrong ---- */

static nb_status fail_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    (void)y;
    return nb_op_error(ctx, NB_ERR_ARG, "forward refused");
}

Test(graph, op_descriptor_errors)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(2));
    nb_tensor *in[2] = {x, x};
    const nb_op no_shape = {.name = "noshape", .n_inputs = 1, .forward = fail_forward};
    assert_error(nb_op_apply(&no_shape, in, 1, NULL), NB_ERR_ARG,
                 "op_apply: op descriptor noshape lacks a name, shape or forward");
    assert_error(nb_op_apply(NULL, in, 1, NULL), NB_ERR_ARG, "op_apply");

    const nb_op one = {.name = "one", .n_inputs = 1, .shape = nb_op_shape_same,
                       .forward = fail_forward};
    assert_error(nb_op_apply(&one, in, 2, NULL), NB_ERR_ARG, "one: expected 1 inputs, got 2");
    assert_error(nb_op_apply(&one, in, 1, NULL), NB_ERR_ARG, "one: forward refused");

    const nb_op with_params = {.name = "p", .n_inputs = 1, .params_size = 4,
                               .shape = nb_op_shape_same, .forward = fail_forward};
    assert_error(nb_op_apply(&with_params, in, 1, NULL), NB_ERR_ARG, "p: params are NULL");

    /* No backward: fine without grad, an error when an input requires grad. */
    nb_tensor_set_requires_grad(x, true);
    const nb_op nob = {.name = "nob", .n_inputs = 2, .params_size = sizeof(struct count_params),
                       .shape = count_shape, .forward = count_forward};
    struct count_params p = {1};
    assert_error(nb_op_apply(&nob, in, 2, &p), NB_ERR_STATE, "nob: has no backward");
    bool prev = nb_set_grad_enabled(false);
    cr_assert_not_null(nb_op_apply(&nob, in, 2, &p));
    nb_set_grad_enabled(prev);
    nb_tensor_free(x);
}

Test(graph, failed_op_gives_step_memory_back)
{
    nb_tensor *a = nb_tensor_ones(NB_SHAPE(64, 64));
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(3));
    nb_tensor *ok = nb_add(a, a);
    cr_assert_not_null(ok);
    size_t used = nb_step_used();
    cr_assert_null(nb_add(a, b));
    cr_assert_eq(nb_step_used(), used);
    nb_tensor_free(a);
    nb_tensor_free(b);
}
