/*
 * src/nn/layer.c - the layer machinery every layer type shares: making a layer from its
 * descriptor, naming it, building it on first use, calling it with its scope set and its
 * errors prefixed, and registering its weights in the model's store.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model_private.h"
#include "nabla/kernels.h"
#include "nabla/op.h"

nb_layer *nb_layer_new(const nb_layer_def *def, const void *opts)
{
    if (!def || !def->forward) {
        nb_set_error(NB_ERR_NULL, "layer_new: the descriptor%s is NULL",
                     def ? "'s forward" : "");
        return NULL;
    }
    if (!def->type || !def->name) {
        nb_set_error(NB_ERR_ARG, "layer_new: the descriptor needs a type and a base name");
        return NULL;
    }
    int n_in = def->n_inputs ? def->n_inputs : 1;
    if (n_in < 1 || n_in > NB_LAYER_MAX_INPUTS) {
        nb_set_error(NB_ERR_ARG, "layer_new: %s takes %d inputs (1 to %d allowed)", def->type,
                     def->n_inputs, NB_LAYER_MAX_INPUTS);
        return NULL;
    }
    size_t name_len = strlen(def->name);
    if (name_len == 0 || name_len > NB_LAYER_NAME_MAX - 8) {
        nb_set_error(NB_ERR_ARG, "layer_new: %s's base name must hold 1 to %d characters",
                     def->type, NB_LAYER_NAME_MAX - 8);
        return NULL;
    }
    nb_layer *l = nb_alloc(sizeof *l, 0);
    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    l->def = def;
    memcpy(l->name, def->name, name_len + 1);
    if (def->opts_size && !(l->opts = nb_alloc(def->opts_size, 0)))
        goto fail;
    if (def->state_size && !(l->state = nb_alloc(def->state_size, 0)))
        goto fail;
    if (l->opts) {
        if (opts)
            memcpy(l->opts, opts, def->opts_size);
        else
            memset(l->opts, 0, def->opts_size);
    }
    if (l->state)
        memset(l->state, 0, def->state_size);
    if (def->check && def->check(l) != NB_OK)
        goto fail;
    return l;
fail:
    nb_free(l->opts);
    nb_free(l->state);
    nb_free(l);
    return NULL;
}

void nb_layer_free(nb_layer *l)
{
    if (!l)
        return;
    if (l->def->free)
        l->def->free(l);
    nb_free(l->opts);
    nb_free(l->state);
    nb_free(l);
}

nb_layer *nb_layer_named(nb_layer *l, const char *name)
{
    if (!l)
        return NULL;
    nb_status s = NB_OK;
    size_t n = name ? strlen(name) : 0;
    if (l->model)
        s = nb_set_error(NB_ERR_STATE, "layer_named: %s is already in model '%s'", l->name,
                         l->model->name);
    else if (n == 0 || n > NB_LAYER_NAME_MAX)
        s = nb_set_error(NB_ERR_ARG, "layer_named: a layer name needs 1 to %d characters, "
                         "got %zu", NB_LAYER_NAME_MAX, n);
    for (size_t i = 0; s == NB_OK && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            s = nb_set_error(NB_ERR_ARG, "layer_named: '%s' holds character 0x%02x at %zu "
                             "(allowed: letters, digits, _ and -)", name, c, i);
    }
    if (s != NB_OK) {
        if (!l->model)
            nb_layer_free(l);
        return NULL;
    }
    memcpy(l->name, name, n + 1);
    l->named = true;
    return l;
}

void *nb_layer_opts(const nb_layer *l) { return l ? l->opts : NULL; }
void *nb_layer_state(const nb_layer *l) { return l ? l->state : NULL; }
const char *nb_layer_name(const nb_layer *l) { return l ? l->name : NULL; }
const char *nb_layer_type(const nb_layer *l) { return l ? l->def->type : NULL; }
const nb_layer_def *nb_layer_def_of(const nb_layer *l) { return l ? l->def : NULL; }
nb_model *nb_layer_model(const nb_layer *l) { return l ? l->model : NULL; }
bool nb_layer_built(const nb_layer *l) { return l && l->built; }

/* The layer whose name the recorded message starts with (set by nb_layer_error and
 * prefix_error, cleared when a call starts), so a message is prefixed once. */
static _Thread_local const nb_layer *prefixed;

/* "<name>: <message>" with the message formatted from fmt. */
static nb_status layer_error_v(const nb_layer *l, nb_status code, const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    nb_set_error(code, "%s: %s", l ? l->name : "layer", msg);
    prefixed = l;
    return code;
}

nb_status nb_layer_error(const nb_layer *l, nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    layer_error_v(l, code, fmt, ap);
    va_end(ap);
    return code;
}

nb_tensor *nb_layer_fail(const nb_layer *l, nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    layer_error_v(l, code, fmt, ap);
    va_end(ap);
    return NULL;
}

/* After build or forward failed: prefixes the recorded message with the layer's name,
 * unless the layer already did (nb_layer_error). */
static nb_status prefix_error(const nb_layer *l)
{
    nb_status code = nb_error_code();
    if (code == NB_OK) {
        prefixed = l;
        return nb_set_error(NB_ERR_STATE, "%s: failed without recording an error", l->name);
    }
    if (prefixed == l)
        return code;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", nb_error());
    nb_set_error(code, "%s: %s", l->name, copy);
    prefixed = l;
    return code;
}

/* FNV-1a of a string, to key seeds on names. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

uint64_t nb_layer_seed(const nb_layer *l)
{
    if (!l)
        return 0;
    return nb_rng_u64(l->model ? l->model->seed : 0, hash_name(l->name));
}

static nb_tensor *add_entry(nb_layer *l, const char *name, nb_param_kind kind, int ndim,
                            const int64_t *shape, nb_initializer init)
{
    if (!l) {
        nb_set_error(NB_ERR_NULL, "layer_add_weight: layer is NULL");
        return NULL;
    }
    if (!name) {
        nb_layer_error(l, NB_ERR_NULL, "add_weight: the weight's name is NULL");
        return NULL;
    }
    if (!l->model) {
        nb_layer_error(l, NB_ERR_STATE, "cannot add weight '%s': the layer is not in a model",
                       name);
        return NULL;
    }
    if (l->n_weights == NB_LAYER_MAX_WEIGHTS) {
        nb_layer_error(l, NB_ERR_ARG, "cannot add weight '%s': a layer holds at most %d",
                       name, NB_LAYER_MAX_WEIGHTS);
        return NULL;
    }
    char full[NB_PARAM_NAME_MAX + 1];
    int k = snprintf(full, sizeof full, "%s.%s", l->name, name);
    if (k < 0 || (size_t)k >= sizeof full) {
        nb_layer_error(l, NB_ERR_ARG, "weight name '%.40s...' is too long", name);
        return NULL;
    }
    nb_params *ps = l->model->ps;
    prefixed = NULL;
    nb_tensor *t = nb_params_add(ps, full, kind, ndim, shape);
    if (!t) {
        prefix_error(l);
        return NULL;
    }
    /* Keyed on the full name, so a layer's weights do not depend on other layers. */
    uint64_t seed = nb_rng_u64(l->model->seed, hash_name(full));
    if (init.kind == NB_INIT_DEFAULT)
        init.kind = ndim >= 2 ? NB_INIT_GLOROT_UNIFORM : NB_INIT_ZEROS;
    if (nb_init_fill(t, init, seed) != NB_OK) {
        prefix_error(l);
        /* The entry stays in the store (it cannot be removed); the model is unusable and
         * the error says why. */
        return NULL;
    }
    l->weights[l->n_weights++] = nb_params_index(ps, full);
    return t;
}

nb_tensor *nb_layer_add_weight(nb_layer *l, const char *name, int ndim, const int64_t *shape,
                               nb_initializer init)
{
    return add_entry(l, name, NB_PARAM, ndim, shape, init);
}

nb_tensor *nb_layer_add_buffer(nb_layer *l, const char *name, int ndim, const int64_t *shape,
                               nb_initializer init)
{
    return add_entry(l, name, NB_BUFFER, ndim, shape, init);
}

int nb_layer_weight_count(const nb_layer *l) { return l ? l->n_weights : 0; }

nb_tensor *nb_layer_weight_at(const nb_layer *l, int i)
{
    if (!l || !l->model || i < 0 || i >= l->n_weights)
        return NULL;
    return nb_params_at(l->model->ps, l->weights[i]);
}

nb_tensor *nb_layer_weight(const nb_layer *l, const char *name)
{
    if (!l || !l->model || !name)
        return NULL;
    size_t n = strlen(l->name);
    for (int i = 0; i < l->n_weights; i++) {
        const char *full = nb_params_name(l->model->ps, l->weights[i]);
        if (strncmp(full, l->name, n) == 0 && full[n] == '.' && strcmp(full + n + 1, name) == 0)
            return nb_params_at(l->model->ps, l->weights[i]);
    }
    return NULL;
}

int64_t nb_layer_param_count(const nb_layer *l, bool trainable_only)
{
    int64_t total = 0;
    for (int i = 0; l && l->model && i < l->n_weights; i++) {
        const nb_tensor *t = nb_params_at(l->model->ps, l->weights[i]);
        bool trainable = nb_params_kind(l->model->ps, l->weights[i]) == NB_PARAM &&
                         t->requires_grad;
        if (trainable || !trainable_only)
            total += t->size;
    }
    return total;
}

bool nb_layer_output_shape(const nb_layer *l, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    if (!l || !l->has_output)
        return false;
    *ndim = l->out_ndim;
    memcpy(shape, l->out_shape, sizeof l->out_shape);
    return true;
}

nb_status nb_layer_set_trainable(nb_layer *l, bool trainable)
{
    if (!l)
        return nb_set_error(NB_ERR_NULL, "layer_set_trainable: layer is NULL");
    if (!l->built)
        return nb_layer_error(l, NB_ERR_STATE, "set_trainable: the layer is not built yet "
                              "(build the model first)");
    for (int i = 0; i < l->n_weights; i++) {
        if (nb_params_kind(l->model->ps, l->weights[i]) != NB_PARAM)
            continue;
        nb_status s = nb_tensor_set_requires_grad(nb_params_at(l->model->ps, l->weights[i]),
                                                  trainable);
        if (s != NB_OK)
            return prefix_error(l);
    }
    return NB_OK;
}

/* An identity op named after the layer, run only to report a NULL input the way ops do
 * (keeping the message of the failure that made it, if that happened in this step). */
static nb_tensor *report_null(const nb_layer *l, nb_tensor *const *x, int n)
{
    const nb_op op = {.name = l->name, .n_inputs = n, .shape = nb_op_shape_same,
                      .forward = nb_op_forward_copy};
    return nb_op_apply(&op, x, n, NULL);
}

nb_tensor *nb_layer_call_n(nb_layer *l, nb_tensor *const *x, int n)
{
    if (!l) {
        nb_set_error(NB_ERR_NULL, "layer_call: layer is NULL");
        return NULL;
    }
    int want = l->def->n_inputs ? l->def->n_inputs : 1;
    if (!x || n != want)
        return nb_layer_fail(l, NB_ERR_ARG, "takes %d input%s, got %d", want,
                             want == 1 ? "" : "s", x ? n : 0);
    for (int i = 0; i < n; i++)
        if (!x[i])
            return report_null(l, x, n);
    if (!l->model)
        return nb_layer_fail(l, NB_ERR_STATE, "the layer is not in a model (nb_model_add)");

    const char *prev = nb_set_scope(l->name);
    nb_tensor *y = NULL;
    prefixed = NULL;
    if (!l->built) {
        if (l->def->build && l->def->build(l, x) != NB_OK) {
            prefix_error(l);
            goto done;
        }
        l->built = true;
    }
    y = l->def->forward(l, x, l->model->training);
    if (!y)
        prefix_error(l);
    else {
        l->has_output = true;
        l->out_ndim = y->ndim;
        memcpy(l->out_shape, y->shape, sizeof l->out_shape);
    }
done:
    nb_set_scope(prev);
    return y;
}

nb_tensor *nb_layer_call(nb_layer *l, nb_tensor *x) { return nb_layer_call_n(l, &x, 1); }
