/*
 * src/nn/model.c - models: a Sequential stack or a user's forward function over layers
 * the model owns; naming, building, the forward pass and the parts of a training step
 * that are not the loss (backward, optimizer step, reset).
 */
#include <stdio.h>
#include <string.h>

#include "model_private.h"
#include "nabla/kernels.h"
#include "nabla/op.h"

static nb_model *model_alloc(const nb_model_opts *opts, const char *default_name)
{
    const char *name = opts && opts->name ? opts->name : default_name;
    size_t n = strlen(name);
    if (n == 0 || n > NB_LAYER_NAME_MAX) {
        nb_set_error(NB_ERR_ARG, "model_new: a model name needs 1 to %d characters, got %zu",
                     NB_LAYER_NAME_MAX, n);
        return NULL;
    }
    int n_inputs = opts && opts->n_inputs ? opts->n_inputs : 1;
    if (n_inputs < 1 || n_inputs > NB_MODEL_MAX_INPUTS) {
        nb_set_error(NB_ERR_ARG, "model_new: '%s': n_inputs must be in [1, %d], got %d", name,
                     NB_MODEL_MAX_INPUTS, n_inputs);
        return NULL;
    }
    nb_model *m = nb_alloc(sizeof *m, 0);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    memcpy(m->name, name, n + 1);
    m->n_inputs = n_inputs;
    m->seed = opts ? opts->seed : 0;
    m->ud = opts ? opts->ud : NULL;
    if (!(m->ps = nb_params_new())) {
        nb_free(m);
        return NULL;
    }
    return m;
}

void nb_model_free(nb_model *m)
{
    if (!m)
        return;
    nb_optim_free(m->opt);
    for (int i = 0; i < m->n_layers; i++)
        nb_layer_free(m->layers[i]);
    nb_free(m->layers);
    nb_params_free(m->ps);
    nb_free(m);
}

nb_model *nb_sequential_new(nb_layer *const *layers, int n, const nb_model_opts *opts)
{
    nb_model *m = NULL;
    if (n < 0 || (n > 0 && !layers)) {
        nb_set_error(NB_ERR_ARG, "sequential: %d layers%s", n, layers ? "" : " and no list");
        n = layers ? 0 : n;
        goto fail;
    }
    if (opts && opts->n_inputs > 1) {
        nb_set_error(NB_ERR_ARG, "sequential: a Sequential model takes 1 input, not %d",
                     opts->n_inputs);
        goto fail;
    }
    /* A layer constructor that failed gave NULL: report it with its own message. */
    for (int i = 0; i < n; i++)
        if (!layers[i]) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", nb_error_code() ? nb_error() : "no error recorded");
            nb_set_error(nb_error_code() ? nb_error_code() : NB_ERR_NULL,
                         "sequential: layer %d is NULL: %s", i, msg);
            goto fail;
        }
    if (!(m = model_alloc(opts, "sequential")))
        goto fail;
    m->sequential = true;
    for (int i = 0; i < n; i++) {
        if (!nb_model_add(m, layers[i])) {
            /* nb_model_add freed l; the rest are still ours. */
            for (int j = i + 1; j < n; j++)
                nb_layer_free(layers[j]);
            nb_model_free(m);
            return NULL;
        }
    }
    return m;
fail:
    for (int i = 0; layers && i < n; i++)
        nb_layer_free(layers[i]);
    nb_model_free(m);
    return NULL;
}

nb_model *nb_model_new(nb_forward_fn forward, const nb_model_opts *opts)
{
    if (!forward) {
        nb_set_error(NB_ERR_NULL, "model_new: the forward function is NULL");
        return NULL;
    }
    nb_model *m = model_alloc(opts, "model");
    if (m)
        m->forward = forward;
    return m;
}

static bool name_used(const nb_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i]->name, name) == 0)
            return true;
    return false;
}

nb_layer *nb_model_add(nb_model *m, nb_layer *l)
{
    if (!l) {
        if (nb_error_code() == NB_OK)
            nb_set_error(NB_ERR_NULL, "model_add: layer is NULL");
        return NULL;
    }
    nb_status s = NB_OK;
    if (!m)
        s = nb_set_error(NB_ERR_NULL, "model_add: model is NULL");
    else if (l->model)
        s = nb_set_error(NB_ERR_STATE, "%s: model_add: layer '%s' is already in model '%s'",
                         m->name, l->name, l->model->name);
    else if (m->built)
        s = nb_set_error(NB_ERR_STATE, "%s: model_add: the model is built; add layers before "
                         "it first runs", m->name);
    else if (l->named && name_used(m, l->name))
        s = nb_set_error(NB_ERR_ARG, "%s: model_add: layer name '%s' is already used",
                         m->name, l->name);
    if (s != NB_OK) {
        if (!l->model)
            nb_layer_free(l);
        return NULL;
    }
    if (!l->named) {
        /* Keras's names, counted per model: dense, dense_1, dense_2, ... */
        const char *base = l->def->name;
        for (int k = 0;; k++) {
            char name[NB_LAYER_NAME_MAX + 1];
            if (k == 0)
                snprintf(name, sizeof name, "%s", base);
            else
                snprintf(name, sizeof name, "%s_%d", base, k);
            if (!name_used(m, name)) {
                memcpy(l->name, name, sizeof name);
                break;
            }
        }
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        nb_layer **ls = nb_alloc(sizeof *ls * (size_t)cap, 0);
        if (!ls) {
            nb_layer_free(l);
            return NULL;
        }
        if (m->n_layers)
            memcpy(ls, m->layers, sizeof *ls * (size_t)m->n_layers);
        nb_free(m->layers);
        m->layers = ls;
        m->cap_layers = cap;
    }
    l->model = m;
    m->layers[m->n_layers++] = l;
    return l;
}

/* An identity op named `who`, run only to report a NULL input as ops do. */
static nb_tensor *report_null(const char *who, nb_tensor *const *x, int n)
{
    const nb_op op = {.name = who, .n_inputs = n, .shape = nb_op_shape_same,
                      .forward = nb_op_forward_copy};
    return nb_op_apply(&op, x, n, NULL);
}

/* The forward pass itself, in the model's current mode. */
static nb_tensor *run_forward(nb_model *m, nb_tensor *const *x, int n)
{
    if (!m->sequential)
        return m->forward(m, x, n, m->ud);
    nb_tensor *h = x[0];
    for (int i = 0; i < m->n_layers && h; i++)
        h = nb_layer_call(m->layers[i], h);
    return h;
}

/* A Sequential model that starts with an Input layer builds itself when asked to. */
static nb_status auto_build(nb_model *m)
{
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (m->built || !m->sequential || m->n_layers == 0 ||
        !nb_input_shape(m->layers[0], &ndim, shape))
        return NB_OK;
    return nb_model_build(m, ndim, shape);
}

/* Builds for inputs of these sample shapes: one inference forward on zeros of batch 1,
 * without recording; the step memory it used is given back. */
static nb_status build_shapes(nb_model *m, int n, const int *ndims,
                              const int64_t (*shapes)[NB_MAX_DIMS])
{
    if (m->built)
        return nb_set_error(NB_ERR_STATE, "%s: build: the model is already built", m->name);
    if (n != m->n_inputs)
        return nb_set_error(NB_ERR_ARG, "%s: build: the model takes %d input%s, got %d",
                            m->name, m->n_inputs, m->n_inputs == 1 ? "" : "s", n);
    if (m->sequential && m->n_layers == 0)
        return nb_set_error(NB_ERR_STATE, "%s: build: the model has no layers", m->name);
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *x[NB_MODEL_MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        if (ndims[i] < 0 || ndims[i] >= NB_MAX_DIMS) {
            nb_step_rewind(mark);
            return nb_set_error(NB_ERR_ARG, "%s: build: input %d: a sample needs 0 to %d "
                                "dimensions, got %d", m->name, i, NB_MAX_DIMS - 1, ndims[i]);
        }
        int64_t batched[NB_MAX_DIMS] = {1};
        memcpy(batched + 1, shapes[i], sizeof(int64_t) * (size_t)ndims[i]);
        if (!(x[i] = nb_tensor_step(ndims[i] + 1, batched))) {
            nb_step_rewind(mark);
            return nb_error_code();
        }
        nb_tensor_fill(x[i], 0.0f);
        m->in_ndim[i] = ndims[i];
        memcpy(m->in_shape[i], shapes[i], sizeof(int64_t) * (size_t)ndims[i]);
    }
    bool grad = nb_set_grad_enabled(false), training = m->training;
    m->training = false;
    m->building = true;
    nb_tensor *y = run_forward(m, x, n);
    m->building = false;
    m->training = training;
    nb_set_grad_enabled(grad);
    nb_status s = y ? NB_OK : nb_error_code();
    if (!y && s == NB_OK)
        s = nb_set_error(NB_ERR_STATE, "%s: build: the forward function returned NULL "
                         "without an error", m->name);
    nb_step_rewind(mark);
    if (s != NB_OK)
        return s;
    if ((s = nb_params_finalize(m->ps)) != NB_OK)
        return s;
    m->built = true;
    if (m->compiled)
        return nb_model_make_optimizer_(m);
    return NB_OK;
}

nb_status nb_model_build(nb_model *m, int ndim, const int64_t *shape)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_build: model is NULL");
    if (ndim > 0 && !shape)
        return nb_set_error(NB_ERR_NULL, "%s: build: shape is NULL", m->name);
    int64_t shapes[1][NB_MAX_DIMS] = {{0}};
    if (ndim > 0 && ndim < NB_MAX_DIMS)
        memcpy(shapes[0], shape, sizeof(int64_t) * (size_t)ndim);
    return build_shapes(m, 1, &ndim, (const int64_t(*)[NB_MAX_DIMS])shapes);
}

nb_status nb_model_build_from(nb_model *m, nb_tensor *const *xs, int n)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_build: model is NULL");
    if (!xs || n < 1 || n > NB_MODEL_MAX_INPUTS)
        return nb_set_error(NB_ERR_ARG, "%s: build: need 1 to %d inputs, got %d", m->name,
                            NB_MODEL_MAX_INPUTS, xs ? n : 0);
    int ndims[NB_MODEL_MAX_INPUTS];
    int64_t shapes[NB_MODEL_MAX_INPUTS][NB_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        if (!xs[i])
            return nb_set_error(NB_ERR_NULL, "%s: build: input %d is NULL", m->name, i);
        if (xs[i]->ndim < 1)
            return nb_set_error(NB_ERR_SHAPE, "%s: build: input %d is 0-D; inputs are [N, ...]",
                                m->name, i);
        ndims[i] = xs[i]->ndim - 1;
        memcpy(shapes[i], xs[i]->shape + 1, sizeof(int64_t) * (size_t)ndims[i]);
    }
    return build_shapes(m, n, ndims, (const int64_t(*)[NB_MAX_DIMS])shapes);
}

bool nb_model_built(const nb_model *m) { return m && m->built; }

nb_status nb_model_auto_build_(nb_model *m) { return auto_build(m); }

nb_tensor *nb_model_forward_n(nb_model *m, nb_tensor *const *x, int n)
{
    if (!m) {
        nb_set_error(NB_ERR_NULL, "model_forward: model is NULL");
        return NULL;
    }
    if (!x || n != m->n_inputs) {
        nb_set_error(NB_ERR_ARG, "%s: forward: the model takes %d input%s, got %d", m->name,
                     m->n_inputs, m->n_inputs == 1 ? "" : "s", x ? n : 0);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!x[i])
            return report_null(m->name, x, n);
    if (!m->built && !m->building) {
        nb_status s = auto_build(m);
        if (s == NB_OK && !m->built)
            s = nb_model_build_from(m, x, n);
        if (s != NB_OK)
            return NULL;
    }
    nb_tensor *y = run_forward(m, x, n);
    if (!y && nb_error_code() == NB_OK)
        nb_set_error(NB_ERR_STATE, "%s: forward: the forward function returned NULL without "
                     "an error", m->name);
    return y;
}

nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x) { return nb_model_forward_n(m, &x, 1); }

nb_status nb_model_backward(nb_model *m, nb_tensor *loss)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_backward: model is NULL");
    return nb_backward(loss);
}

nb_status nb_model_apply_gradients(nb_model *m)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_apply_gradients: model is NULL");
    if (!m->opt)
        return nb_set_error(NB_ERR_STATE, "%s: apply_gradients: no optimizer (%s)", m->name,
                            !m->compiled ? "compile the model first" : "the model is not built");
    return nb_optim_step(m->opt);
}

void nb_model_step_reset(nb_model *m)
{
    if (m) {
        nb_params_zero_grad(m->ps);
        if (m->training)
            m->steps++;
    }
    nb_step_reset();
}

int64_t nb_model_steps(const nb_model *m) { return m ? m->steps : 0; }

/* ---- queries and modes ---- */

const char *nb_model_name(const nb_model *m) { return m ? m->name : NULL; }
nb_params *nb_model_params(const nb_model *m) { return m ? m->ps : NULL; }
int nb_model_layer_count(const nb_model *m) { return m ? m->n_layers : 0; }
int nb_model_input_count(const nb_model *m) { return m ? m->n_inputs : 0; }
uint64_t nb_model_seed(const nb_model *m) { return m ? m->seed : 0; }
nb_optimizer *nb_model_optimizer(const nb_model *m) { return m ? m->opt : NULL; }

nb_layer *nb_model_layer_at(const nb_model *m, int i)
{
    return m && i >= 0 && i < m->n_layers ? m->layers[i] : NULL;
}

nb_layer *nb_model_find_layer(const nb_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->n_layers; i++)
        if (strcmp(m->layers[i]->name, name) == 0)
            return m->layers[i];
    return NULL;
}

nb_status nb_model_set_seed(nb_model *m, uint64_t seed)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_set_seed: model is NULL");
    if (m->built)
        return nb_set_error(NB_ERR_STATE, "%s: set_seed: the model is built; its weights are "
                            "drawn already", m->name);
    m->seed = seed;
    return NB_OK;
}

bool nb_model_set_training(nb_model *m, bool training)
{
    if (!m)
        return false;
    bool prev = m->training;
    m->training = training;
    return prev;
}

bool nb_model_training(const nb_model *m) { return m && m->training; }

void nb_model_set_stop_training(nb_model *m, bool stop)
{
    if (m)
        m->stop = stop;
}

bool nb_model_stopping(const nb_model *m) { return m && m->stop; }
