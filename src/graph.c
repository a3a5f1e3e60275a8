/*
 * src/graph.c - running ops, recording them, and differentiating the record.
 */
#include <string.h>

#include "internal.h"

static bool grad_enabled = true;
static uint64_t backward_pass; /* visit mark of the current backward pass */

bool nb_grad_enabled(void) { return grad_enabled; }

bool nb_set_grad_enabled(bool enabled)
{
    bool prev = grad_enabled;
    grad_enabled = enabled;
    return prev;
}

/* ---- running an op ---- */

nb_tensor *nb_op_apply(const nb_op *op, nb_tensor *const *inputs, int n_inputs,
                       const void *params)
{
    if (!op || !op->name || !op->shape || !op->forward) {
        nb_set_error(NB_ERR_ARG, "op_apply: op descriptor %s lacks a name, shape or forward",
                     op && op->name ? op->name : "(unnamed)");
        return NULL;
    }
    if (n_inputs != op->n_inputs || n_inputs < 1 || n_inputs > NB_OP_MAX_INPUTS || !inputs) {
        nb_set_error(NB_ERR_ARG, "%s: expected %d inputs, got %d", op->name, op->n_inputs,
                     inputs ? n_inputs : 0);
        return NULL;
    }
    if (op->params_size && !params) {
        nb_set_error(NB_ERR_ARG, "%s: params are NULL", op->name);
        return NULL;
    }
    bool needs_grad = false;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) {
            /* Usually an earlier op failed: keep its message, it names the cause. */
            if (nb_error_code() == NB_OK)
                nb_set_error(NB_ERR_NULL, "%s: input %d is NULL", op->name, i);
            return NULL;
        }
        needs_grad |= inputs[i]->requires_grad;
    }
    needs_grad &= grad_enabled;
    if (needs_grad && !op->backward) {
        nb_set_error(NB_ERR_STATE, "%s: has no backward, but an input requires grad "
                                   "(turn grad mode off to run it)", op->name);
        return NULL;
    }

    nb_step_mark mark = nb_step_mark_get();
    nb_node *node = nb_step_alloc(sizeof *node + op->params_size);
    if (!node)
        return NULL;
    memset(node, 0, sizeof *node);
    node->op = op;
    node->n_in = n_inputs;
    memcpy(node->in, inputs, (size_t)n_inputs * sizeof *inputs);
    if (op->params_size) {
        node->params = node + 1;
        memcpy(node->params, params, op->params_size);
    }
    node->needs_grad = needs_grad;

    int ndim = 0;
    int64_t shape[NB_MAX_DIMS] = {0};
    nb_tensor *out = NULL;
    if (op->shape(node, &ndim, shape) != NB_OK || !(out = nb_tensor_step(ndim, shape)) ||
        (node->out = out, op->forward(node, out)) != NB_OK) {
        nb_step_rewind(mark);
        return NULL;
    }
    if (needs_grad) {
        out->node = node;
        out->requires_grad = true;
        nb_nodes_recorded++;
    }
    return out;
}

/* ---- what an op sees ---- */

const char *nb_op_name(const nb_op_ctx *ctx) { return ctx->op->name; }

nb_tensor *nb_op_input(const nb_op_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->n_in ? ctx->in[i] : NULL;
}

const void *nb_op_params(const nb_op_ctx *ctx) { return ctx->params; }

bool nb_op_needs_grad(const nb_op_ctx *ctx) { return ctx->needs_grad; }

void *nb_op_save(nb_op_ctx *ctx, size_t size)
{
    ctx->saved = nb_step_alloc(size);
    return ctx->saved;
}

void *nb_op_saved(const nb_op_ctx *ctx) { return ctx->saved; }

nb_tensor *nb_op_grad(const nb_op_ctx *ctx, int i)
{
    nb_tensor *x = nb_op_input(ctx, i);
    return x && x->requires_grad ? x->grad : NULL;
}

nb_status nb_op_same_shape(nb_op_ctx *ctx, int i, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *x = ctx->in[i];
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof x->shape);
    return NB_OK;
}

nb_status nb_op_shape_unary(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    return nb_op_same_shape(ctx, 0, ndim, shape);
}

nb_status nb_op_broadcast_shape(nb_op_ctx *ctx, int i, int j, int *ndim,
                                int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *a = ctx->in[i], *b = ctx->in[j];
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 0; k < n; k++) {
        /* Align at the last dimension; missing leading dimensions are 1. */
        int ka = k - (n - a->ndim), kb = k - (n - b->ndim);
        int64_t da = ka >= 0 ? a->shape[ka] : 1, db = kb >= 0 ? b->shape[kb] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return nb_op_error(ctx, NB_ERR_SHAPE, "shapes do not broadcast: %s and %s",
                               nb_tensor_shape_str(a, sa, sizeof sa),
                               nb_tensor_shape_str(b, sb, sizeof sb));
        }
        shape[k] = da == 1 ? db : da;
    }
    *ndim = n;
    return NB_OK;
}

/* ---- backward ---- */

/* A gradient buffer of t's shape in step memory, zeroed. */
static nb_tensor *zero_grad_like(const nb_tensor *t)
{
    nb_tensor *g = nb_tensor_step(t->ndim, t->shape);
    if (g)
        memset(g->data, 0, (size_t)g->size * sizeof(float));
    return g;
}

/* Appends to `order` every node `root` depends on, inputs before consumers, each once.
 * Iterative depth-first search; `stack` holds (node, next input) pairs. */
static size_t topo_sort(nb_node *root, nb_node **order, nb_node **stack, int *next)
{
    size_t n_order = 0, top = 0;
    root->mark = backward_pass;
    stack[0] = root;
    next[0] = 0;
    top = 1;
    while (top) {
        nb_node *n = stack[top - 1];
        int *k = &next[top - 1];
        if (*k < n->n_in) {
            nb_tensor *x = n->in[(*k)++];
            nb_node *m = x->node;
            if (m && m->mark != backward_pass) {
                m->mark = backward_pass;
                stack[top] = m;
                next[top] = 0;
                top++;
            }
        } else {
            order[n_order++] = n;
            top--;
        }
    }
    return n_order;
}

nb_status nb_backward_seed(nb_tensor *out, const nb_tensor *seed)
{
    if (!out) {
        if (nb_error_code() == NB_OK)
            nb_set_error(NB_ERR_NULL, "backward: output is NULL");
        return nb_error_code();
    }
    if (!seed)
        return nb_set_error(NB_ERR_NULL, "backward: seed gradient is NULL");
    if (!nb_tensor_same_shape(out, seed)) {
        char so[128], ss[128];
        return nb_set_error(NB_ERR_SHAPE, "backward: seed shape %s differs from output shape %s",
                            nb_tensor_shape_str(seed, ss, sizeof ss),
                            nb_tensor_shape_str(out, so, sizeof so));
    }
    if (!out->requires_grad)
        return nb_set_error(NB_ERR_STATE, "backward: the output does not require grad (no "
                                          "input requires grad, or grad mode was off)");
    if (!out->node) { /* a leaf: its gradient is the seed */
        nb_tensor_axpy(out->grad, 1.0f, seed);
        return NB_OK;
    }

    nb_step_mark mark = nb_step_mark_get();
    size_t cap = nb_nodes_recorded;
    nb_node **order = nb_step_alloc(cap * sizeof *order);
    nb_node **stack = nb_step_alloc(cap * sizeof *stack);
    int *next = nb_step_alloc(cap * sizeof *next);
    if (!order || !stack || !next) {
        nb_step_rewind(mark);
        return NB_ERR_NOMEM;
    }
    backward_pass++;
    size_t n = topo_sort(out->node, order, stack, next);

    /* Fresh gradients for every intermediate on the path (a second backward starts
     * from zero for them; leaves keep accumulating). */
    for (size_t i = 0; i < n; i++)
        if (!(order[i]->out->grad = zero_grad_like(order[i]->out)))
            return NB_ERR_NOMEM;
    memcpy(out->grad->data, seed->data, (size_t)seed->size * sizeof(float));

    for (size_t i = n; i-- > 0;) {
        nb_node *node = order[i];
        nb_status s = node->op->backward(node, node->out, node->out->grad);
        if (s != NB_OK)
            return s;
    }
    return NB_OK;
}

nb_status nb_backward(nb_tensor *loss)
{
    if (!loss) {
        if (nb_error_code() == NB_OK)
            nb_set_error(NB_ERR_NULL, "backward: loss is NULL");
        return nb_error_code();
    }
    if (loss->size != 1) {
        char s[128];
        return nb_set_error(NB_ERR_SHAPE, "backward: loss must have one element, got shape %s "
                                          "(use nb_backward_seed for other outputs)",
                            nb_tensor_shape_str(loss, s, sizeof s));
    }
    /* A one-element seed of loss's shape, in step memory. */
    nb_tensor *seed = nb_tensor_step(loss->ndim, loss->shape);
    if (!seed)
        return NB_ERR_NOMEM;
    seed->data[0] = 1.0f;
    return nb_backward_seed(loss, seed);
}
