/*
 * src/graph.c - running ops, recording them, differentiating the record, and the
 * anomaly check.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static bool grad_enabled = true;
static bool anomaly_check = false;
static uint64_t backward_pass; /* visit mark of the current backward pass */

void (*nb_state_hook)(nb_tensor *t, void *ud);
void *nb_state_hook_ud;

/* The "absent" sentinel: a view of nothing, so nb_tensor_free and friends ignore it. */
nb_tensor nb_none_tensor_ = {.storage = NB_STORAGE_VIEW, .persistent = true};

bool nb_grad_enabled(void) { return grad_enabled; }

bool nb_set_grad_enabled(bool enabled)
{
    bool prev = grad_enabled;
    grad_enabled = enabled;
    return prev;
}

bool nb_anomaly_check_enabled(void) { return anomaly_check; }

bool nb_set_anomaly_check(bool enabled)
{
    bool prev = anomaly_check;
    anomaly_check = enabled;
    return prev;
}

/* "input 2 (bias)" or "input 2". */
static const char *input_label(const nb_op *op, int i, char *buf, size_t n)
{
    if (op->input_names[i])
        snprintf(buf, n, "input %d (%s)", i, op->input_names[i]);
    else
        snprintf(buf, n, "input %d", i);
    return buf;
}

/* ---- the anomaly check ---- */

/* The first index of a NaN or infinity in x[0..n), or -1. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return -1;
}

/* " in <scope>" or "". */
static void scope_suffix(const char *scope, char *buf, size_t n)
{
    if (scope)
        snprintf(buf, n, " in %s", scope);
    else if (n)
        buf[0] = '\0';
}

/* The shapes of the node's inputs as "[4,3], [3,5]" (absent ones as "none"). */
static void input_shapes(const nb_node *node, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < node->n_in && k < n; i++) {
        char s[128];
        if (node->in[i])
            nb_tensor_shape_str(node->in[i], s, sizeof s);
        else
            snprintf(s, sizeof s, "none");
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", s);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* "NaN" (whatever its sign bit), "inf", "-inf" or the number. */
static const char *value_str(float v, char *buf, size_t n)
{
    if (isnan(v))
        snprintf(buf, n, "NaN");
    else
        snprintf(buf, n, "%g", (double)v);
    return buf;
}

/* Forward: NB_ERR_NUMERIC if out holds a NaN or infinity its inputs did not. */
static nb_status check_forward(const nb_node *node, const nb_tensor *out)
{
    int64_t bad = first_nonfinite(out->data, out->size);
    if (bad < 0)
        return NB_OK;
    char shapes[512], where[160];
    input_shapes(node, shapes, sizeof shapes);
    scope_suffix(node->scope, where, sizeof where);
    for (int i = 0; i < node->n_in; i++) {
        const nb_tensor *x = node->in[i];
        if (x && first_nonfinite(x->data, x->size) >= 0) {
            char lab[80];
            return nb_set_error(NB_ERR_NUMERIC, "anomaly: forward of %s%s (inputs %s): %s "
                                "already holds a NaN or infinity", node->op->name, where,
                                shapes, input_label(node->op, i, lab, sizeof lab));
        }
    }
    char v[32];
    return nb_set_error(NB_ERR_NUMERIC, "anomaly: forward of %s%s (inputs %s) produced %s at "
                        "output element %lld", node->op->name, where, shapes,
                        value_str(out->data[bad], v, sizeof v), (long long)bad);
}

/* Bit i: the gradient the node adds into for input i already holds a NaN or infinity
 * (a leaf's grad left from an earlier backward). */
static unsigned bad_grads(const nb_node *node)
{
    unsigned mask = 0;
    for (int i = 0; i < node->n_in; i++) {
        const nb_tensor *g = nb_op_grad(node, i);
        if (g && first_nonfinite(g->data, g->size) >= 0)
            mask |= 1u << i;
    }
    return mask;
}

/* Backward: NB_ERR_NUMERIC if a gradient the node added into holds a NaN or infinity
 * (and dout did not). `pre_bad` is bad_grads() from before the node's backward. */
static nb_status check_backward(const nb_node *node, const nb_tensor *dout, unsigned pre_bad)
{
    for (int i = 0; i < node->n_in; i++) {
        const nb_tensor *g = nb_op_grad(node, i);
        int64_t bad = g ? first_nonfinite(g->data, g->size) : -1;
        if (bad < 0)
            continue;
        char shapes[512], where[160], lab[80], v[32];
        input_shapes(node, shapes, sizeof shapes);
        scope_suffix(node->scope, where, sizeof where);
        if (first_nonfinite(dout->data, dout->size) >= 0)
            return nb_set_error(NB_ERR_NUMERIC, "anomaly: backward of %s%s (inputs %s): the "
                                "output's gradient already holds a NaN or infinity",
                                node->op->name, where, shapes);
        if (pre_bad >> i & 1u)
            return nb_set_error(NB_ERR_NUMERIC, "anomaly: backward of %s%s (inputs %s): the "
                                "gradient of %s already held a NaN or infinity before it (left "
                                "from an earlier backward? zero the grads)", node->op->name,
                                where, shapes, input_label(node->op, i, lab, sizeof lab));
        return nb_set_error(NB_ERR_NUMERIC, "anomaly: backward of %s%s (inputs %s) produced "
                            "%s in the gradient of %s, element %lld", node->op->name, where,
                            shapes, value_str(g->data[bad], v, sizeof v),
                            input_label(node->op, i, lab, sizeof lab), (long long)bad);
    }
    return NB_OK;
}

/* ---- running an op ---- */

/* True if a and b hold some of the same floats. */
static bool overlap(const nb_tensor *a, const nb_tensor *b)
{
    return a->size > 0 && b->size > 0 && a->data < b->data + b->size &&
           b->data < a->data + a->size;
}

/* A state input is written in place by forward: it must not share data with another
 * input, which forward would then read half-updated. NB_ERR_ARG naming both. */
static nb_status check_state_alias(const nb_node *node)
{
    const nb_op *op = node->op;
    for (int i = 0; i < node->n_in; i++) {
        if (!(op->inputs[i] & NB_INPUT_STATE) || !node->in[i])
            continue;
        for (int j = 0; j < node->n_in; j++)
            if (j != i && node->in[j] && overlap(node->in[i], node->in[j])) {
                char li[80], lj[80];
                return nb_set_error(NB_ERR_ARG, "%s: %s shares its data with %s (a state "
                                    "input is updated in place and must not alias another "
                                    "input)", op->name, input_label(op, i, li, sizeof li),
                                    input_label(op, j, lj, sizeof lj));
            }
    }
    return NB_OK;
}

/* Checks input i; NB_OK, or records the error and returns it. */
static nb_status check_input(const nb_op *op, nb_tensor *const *inputs, int i)
{
    char lab[80];
    nb_tensor *x = inputs[i];
    if (!x) {
        /* Usually an earlier op failed: keep its message, it names the cause -- unless
         * it is from an earlier step, and so has nothing to do with this NULL. */
        if (nb_error_is_recent())
            return nb_error_code();
        return nb_set_error(NB_ERR_NULL, "%s: %s is NULL", op->name,
                            input_label(op, i, lab, sizeof lab));
    }
    if (x == NB_NONE) {
        if (op->inputs[i] & NB_INPUT_OPTIONAL)
            return NB_OK;
        return nb_set_error(NB_ERR_ARG, "%s: %s is required, got NB_NONE", op->name,
                            input_label(op, i, lab, sizeof lab));
    }
    if (!nb_tensor_live(x))
        return nb_set_error(NB_ERR_STATE, "%s: %s belongs to an earlier step (step tensors "
                            "live until nb_step_reset; keep values across steps in "
                            "persistent tensors, e.g. nb_tensor_clone)", op->name,
                            input_label(op, i, lab, sizeof lab));
    return NB_OK;
}

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
    /* A NULL input wins over other problems: it carries the first failure's message. */
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i]) {
            check_input(op, inputs, i);
            return NULL;
        }
    if (op->params_size && !params) {
        nb_set_error(NB_ERR_ARG, "%s: params are NULL", op->name);
        return NULL;
    }
    unsigned mask = 0;
    for (int i = 0; i < n_inputs; i++) {
        if (check_input(op, inputs, i) != NB_OK)
            return NULL;
        if (inputs[i] != NB_NONE && !(op->inputs[i] & NB_INPUT_STATE) &&
            inputs[i]->requires_grad)
            mask |= 1u << i;
    }
    bool needs_grad = grad_enabled && mask != 0;
    if (needs_grad && !op->backward) {
        nb_set_error(NB_ERR_STATE, "%s: has no backward, but an input requires grad "
                                   "(turn grad mode off to run it)", op->name);
        return NULL;
    }

    /* The node lives on the stack while shape() runs (params read from the caller's
     * struct). Then one step allocation holds the output tensor and, when the op is
     * recorded, the node and its copy of the params in front of it. */
    nb_node tmp;
    tmp.op = op;
    tmp.n_in = n_inputs;
    for (int i = 0; i < n_inputs; i++)
        tmp.in[i] = inputs[i] == NB_NONE ? NULL : inputs[i];
    tmp.out = NULL;
    tmp.grad_slot = NULL;
    tmp.params = (void *)params;
    tmp.saved = NULL;
    tmp.mark = 0;
    tmp.prev = NULL;
    tmp.needs_grad = needs_grad;
    tmp.grad_mask = needs_grad ? mask : 0;
    tmp.scope = nb_scope();
    if (nb_state_hook)
        for (int i = 0; i < n_inputs; i++)
            if ((op->inputs[i] & NB_INPUT_STATE) && tmp.in[i])
                nb_state_hook(tmp.in[i], nb_state_hook_ud);

    int ndim = 0;
    int64_t shape[NB_MAX_DIMS] = {0};
    int64_t size = 0;
    uint64_t errors = nb_error_serial();
    nb_status s = op->shape(&tmp, &ndim, shape);
    if (s == NB_OK)
        s = check_state_alias(&tmp);
    if (s == NB_OK && nb_shape_check(op->name, ndim, shape, &size) != NB_OK) {
        char buf[160];
        s = nb_set_error(NB_ERR_SHAPE, "%s: output shape %s is too large", op->name,
                         nb_shape_str(ndim, shape, buf, sizeof buf));
    }
    if (s != NB_OK) {
        if (nb_error_serial() == errors) /* an op that failed without saying why */
            nb_set_error(s, "%s: failed with %s and no message", op->name, nb_status_str(s));
        return NULL;
    }
    nb_step_mark mark = nb_step_mark_get();
    size_t node_bytes = needs_grad ? nb_align_up(sizeof tmp + op->params_size) : 0;
    size_t out_bytes = NB_TENSOR_HEADER + nb_align_up((size_t)size * sizeof(float));
    /* A recorded output gets the room for its gradient in the same block. */
    char *block = nb_step_alloc(node_bytes + (needs_grad ? 2 : 1) * out_bytes);
    if (!block)
        return NULL;
    nb_node *node = &tmp;
    if (needs_grad) {
        node = (nb_node *)(void *)block;
        *node = tmp;
        node->params = NULL;
        if (op->params_size) {
            node->params = node + 1;
            memcpy(node->params, params, op->params_size);
        }
        node->grad_slot = (nb_tensor *)(void *)(block + node_bytes + out_bytes);
    }
    nb_tensor *out = (nb_tensor *)(void *)(block + node_bytes);
    nb_tensor_init(out, (float *)(void *)((char *)out + NB_TENSOR_HEADER), ndim, shape, size,
                   NB_STORAGE_STEP);
    node->out = out;
    if (out->size > 0) /* an empty output has nothing to compute */
        s = op->forward(node, out);
    if (s == NB_OK && anomaly_check)
        s = check_forward(node, out);
    if (s != NB_OK) {
        if (nb_error_serial() == errors)
            nb_set_error(s, "%s: failed with %s and no message", op->name, nb_status_str(s));
        nb_step_rewind(mark);
        return NULL;
    }
    if (needs_grad) {
        out->node = node;
        out->requires_grad = true;
        node->prev = nb_last_node;
        nb_last_node = node;
        nb_nodes_recorded++;
        uint64_t step = nb_step_id();
        for (int i = 0; i < n_inputs; i++)
            if (node->in[i] && node->in[i]->persistent)
                node->in[i]->step = step; /* in the graph: frees wait for the step's end */
    }
    return out;
}

/* ---- what an op sees ---- */

const char *nb_op_name(const nb_op_ctx *ctx) { return ctx->op->name; }

nb_tensor *nb_op_input(const nb_op_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->n_in ? ctx->in[i] : NULL;
}

bool nb_op_has_input(const nb_op_ctx *ctx, int i) { return nb_op_input(ctx, i) != NULL; }

const void *nb_op_params(const nb_op_ctx *ctx) { return ctx->params; }

bool nb_op_needs_grad(const nb_op_ctx *ctx) { return ctx->needs_grad; }

bool nb_op_input_needs_grad(const nb_op_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->n_in && (ctx->grad_mask >> i & 1u);
}

void *nb_op_save(nb_op_ctx *ctx, size_t size)
{
    ctx->saved = nb_step_alloc(size);
    return ctx->saved;
}

void *nb_op_saved(const nb_op_ctx *ctx) { return ctx->saved; }

nb_tensor *nb_op_grad(const nb_op_ctx *ctx, int i)
{
    return nb_op_input_needs_grad(ctx, i) ? ctx->in[i]->grad : NULL;
}

nb_status nb_op_shape_same(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *x = ctx->in[0];
    if (!x)
        return nb_op_error(ctx, NB_ERR_ARG, "input 0 is absent; its shape is the output's");
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof x->shape);
    return NB_OK;
}

nb_status nb_op_shape_broadcast(nb_op_ctx *ctx, int i, int j, int *ndim,
                                int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *a = nb_op_input(ctx, i), *b = nb_op_input(ctx, j);
    if (!a || !b)
        return nb_op_error(ctx, NB_ERR_ARG, "broadcast of input %d and %d: one is absent", i,
                           j);
    if (a->ndim == b->ndim && memcmp(a->shape, b->shape, sizeof a->shape) == 0) {
        *ndim = a->ndim;
        memcpy(shape, a->shape, sizeof a->shape);
        return NB_OK;
    }
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

/* The node's output gradient, zeroed, in the room nb_op_apply left for it. */
static nb_tensor *zero_grad_of(nb_node *node)
{
    const nb_tensor *t = node->out;
    nb_tensor *g = node->grad_slot;
    nb_tensor_init(g, (float *)(void *)((char *)g + NB_TENSOR_HEADER), t->ndim, t->shape,
                   t->size, NB_STORAGE_STEP);
    memset(g->data, 0, (size_t)g->size * sizeof(float));
    return g;
}

nb_status nb_backward_seed(nb_tensor *out, const nb_tensor *seed)
{
    if (!out) {
        if (nb_error_is_recent())
            return nb_error_code();
        return nb_set_error(NB_ERR_NULL, "backward: output is NULL");
    }
    if (!nb_tensor_live(out))
        return nb_set_error(NB_ERR_STATE, "backward: the output belongs to an earlier step");
    if (!seed)
        return nb_set_error(NB_ERR_NULL, "backward: seed gradient is NULL");
    if (!nb_tensor_live(seed))
        return nb_set_error(NB_ERR_STATE, "backward: the seed belongs to an earlier step");
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
        if (!out->grad)
            return nb_set_error(NB_ERR_STATE, "backward: the output is a leaf without a grad");
        nb_tensor_axpy(out->grad, 1.0f, seed);
        return NB_OK;
    }

    /* Nodes were recorded in a topological order (inputs before their consumers), so
     * one walk from the output's node back through older nodes visits every node after
     * all of its consumers. A node is reached when a consumer sends it a gradient: its
     * gradient is zeroed then (a second backward starts from zero for intermediates;
     * leaves keep accumulating), and its own backward runs when the walk gets to it. */
    uint64_t pass = ++backward_pass;
    nb_node *root = out->node;
    root->mark = pass;
    /* The output's gradient is the seed: set up its room and copy (no zeroing first). */
    nb_tensor *g = root->grad_slot;
    nb_tensor_init(g, (float *)(void *)((char *)g + NB_TENSOR_HEADER), out->ndim, out->shape,
                   out->size, NB_STORAGE_STEP);
    out->grad = g;
    {
        float *dst = g->data;
        const float *src = seed->data;
        const int64_t n = seed->size, blk = 16384, nblk = (n + blk - 1) / blk;
        NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, k, nblk, {
            int64_t lo = k * blk, len = n - lo < blk ? n - lo : blk;
            memcpy(dst + lo, src + lo, (size_t)len * sizeof(float));
        });
    }
    for (nb_node *node = root; node; node = node->prev) {
        if (node->mark != pass)
            continue;
        for (int i = 0; i < node->n_in; i++) {
            if (!(node->grad_mask >> i & 1u))
                continue;
            nb_node *m = node->in[i]->node;
            if (m && m->mark != pass) {
                m->mark = pass;
                m->out->grad = zero_grad_of(m);
            }
        }
        if (node->out->size == 0)
            continue; /* nothing depends on an empty output: every gradient it sends is 0 */
        uint64_t errors = nb_error_serial();
        unsigned pre_bad = anomaly_check ? bad_grads(node) : 0;
        nb_status s = node->op->backward(node, node->out, node->out->grad);
        if (s == NB_OK && anomaly_check)
            s = check_backward(node, node->out->grad, pre_bad);
        if (s != NB_OK) {
            if (nb_error_serial() == errors)
                nb_set_error(s, "%s: backward failed with %s and no message", node->op->name,
                             nb_status_str(s));
            return s;
        }
    }
    return NB_OK;
}

nb_status nb_backward(nb_tensor *loss)
{
    if (!loss) {
        if (nb_error_is_recent())
            return nb_error_code();
        return nb_set_error(NB_ERR_NULL, "backward: loss is NULL");
    }
    if (!nb_tensor_live(loss))
        return nb_set_error(NB_ERR_STATE, "backward: the loss belongs to an earlier step");
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
