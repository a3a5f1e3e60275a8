/*
 * src/params.c - the parameter store (nabla/params.h), written on the public headers
 * only: entries are tensor views (nb_tensor_view_init) of two arenas from nb_alloc.
 */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "nabla/kernels.h"
#include "nabla/parallel.h"
#include "nabla/params.h"

typedef struct entry {
    nb_param_kind kind;
    int64_t offset;   /* in floats, into the value arena (and the grad arena) */
    nb_tensor value;  /* views values + offset */
    nb_tensor grad;   /* views grads + offset (parameters only) */
    char name[];      /* NUL-terminated */
} entry;

struct nb_params {
    entry **entries;
    int64_t count, cap;
    int64_t numel[2];        /* floats of parameters, of buffers */
    float *values, *grads;   /* the arenas */
    int64_t values_cap, grads_cap;
    bool finalized;
};

nb_params *nb_params_new(void)
{
    nb_params *ps = nb_alloc(sizeof *ps, 0);
    if (ps)
        memset(ps, 0, sizeof *ps);
    return ps;
}

/* True if some entry is an input of an op recorded in this step. */
static bool in_graph(const nb_params *ps)
{
    for (int64_t i = 0; i < ps->count; i++)
        if (nb_tensor_in_graph(&ps->entries[i]->value))
            return true;
    return false;
}

void nb_params_free(nb_params *ps)
{
    if (!ps)
        return;
    /* Backward may still read the entries (their headers live in the entry blocks). */
    void (*release)(void *) = in_graph(ps) ? nb_free_deferred : nb_free;
    for (int64_t i = 0; i < ps->count; i++)
        release(ps->entries[i]);
    release(ps->entries);
    release(ps->values);
    release(ps->grads);
    nb_free(ps);
}

static nb_status check_name(const nb_params *ps, const char *name)
{
    if (!name)
        return nb_set_error(NB_ERR_NULL, "params_add: name is NULL");
    size_t n = strlen(name);
    if (n == 0)
        return nb_set_error(NB_ERR_ARG, "params_add: the name is empty");
    if (n > NB_PARAM_NAME_MAX)
        return nb_set_error(NB_ERR_ARG, "params_add: name '%.40s...' is longer than %d "
                            "characters", name, NB_PARAM_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
        if (!ok)
            return nb_set_error(NB_ERR_ARG, "params_add: name '%s' holds character 0x%02x at "
                                "%zu (allowed: letters, digits and _ . : / -)", name, c, i);
    }
    if (nb_params_index(ps, name) >= 0)
        return nb_set_error(NB_ERR_ARG, "params_add: '%s' is already in the store", name);
    return NB_OK;
}

/* Points entry e's tensors at its place in the arenas. */
static void point(nb_params *ps, entry *e)
{
    e->value.data = ps->values ? ps->values + e->offset : NULL;
    if (e->kind == NB_PARAM)
        e->grad.data = ps->grads ? ps->grads + e->offset : NULL;
}

/* Moves the arenas to new blocks holding vcap and gcap floats. The buffers, which start
 * at old_param in the old value arena, start at new_param in the new one. */
static nb_status relayout(nb_params *ps, int64_t vcap, int64_t gcap, int64_t old_param,
                          int64_t new_param)
{
    float *v = NULL, *g = NULL;
    if (vcap > 0 && !(v = nb_alloc((size_t)vcap * sizeof(float), 0)))
        return NB_ERR_NOMEM;
    if (gcap > 0 && !(g = nb_alloc((size_t)gcap * sizeof(float), 0))) {
        nb_free(v);
        return NB_ERR_NOMEM;
    }
    if (v)
        memset(v, 0, (size_t)vcap * sizeof(float));
    if (g)
        memset(g, 0, (size_t)gcap * sizeof(float));
    for (int64_t i = 0; i < ps->count; i++) {
        entry *e = ps->entries[i];
        int64_t from = e->offset, to = e->kind == NB_PARAM ? from : from - old_param + new_param;
        size_t bytes = (size_t)e->value.size * sizeof(float);
        if (ps->values && bytes)
            memcpy(v + to, ps->values + from, bytes);
        if (e->kind == NB_PARAM && ps->grads && bytes)
            memcpy(g + to, ps->grads + from, bytes);
        e->offset = to;
    }
    /* A graph recorded this step may still read the old arenas through saved pointers:
     * they go when the step ends. */
    void (*release)(void *) = in_graph(ps) ? nb_free_deferred : nb_free;
    release(ps->values);
    release(ps->grads);
    ps->values = v;
    ps->grads = g;
    ps->values_cap = vcap;
    ps->grads_cap = gcap;
    for (int64_t i = 0; i < ps->count; i++)
        point(ps, ps->entries[i]);
    return NB_OK;
}

static int64_t grow(int64_t cap, int64_t need)
{
    int64_t c = cap > 0 ? cap : 256;
    while (c < need)
        c = c > INT64_MAX / 2 ? need : 2 * c;
    return c;
}

nb_tensor *nb_params_add(nb_params *ps, const char *name, nb_param_kind kind, int ndim,
                         const int64_t *shape)
{
    if (!ps) {
        nb_set_error(NB_ERR_NULL, "params_add: store is NULL");
        return NULL;
    }
    if (check_name(ps, name) != NB_OK)
        return NULL;
    if (kind != NB_PARAM && kind != NB_BUFFER) {
        nb_set_error(NB_ERR_ARG, "params_add: '%s': kind %d is neither NB_PARAM nor "
                     "NB_BUFFER", name, (int)kind);
        return NULL;
    }
    if (ps->finalized) {
        nb_set_error(NB_ERR_STATE, "params_add: cannot add '%s': the store's layout is "
                     "fixed (nb_params_finalize; optimizers call it)", name);
        return NULL;
    }
    /* The shape, checked as a tensor's (a view of nothing, for now). */
    nb_tensor probe;
    static float dummy;
    if (nb_tensor_view_init(&probe, ndim, shape, &dummy) != NB_OK)
        return NULL;
    int64_t size = probe.size;
    int64_t total = ps->numel[NB_PARAM] + ps->numel[NB_BUFFER];
    if (size > NB_SIZE_MAX - total) {
        nb_set_error(NB_ERR_SHAPE, "params_add: '%s' would make the store hold more than "
                     "2^%d floats", name, NB_SIZE_MAX_LOG2);
        return NULL;
    }

    size_t len = strlen(name);
    entry *e = nb_alloc(sizeof *e + len + 1, 0);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    memcpy(e->name, name, len + 1);
    e->kind = kind;
    if (ps->count == ps->cap) {
        int64_t cap = ps->cap ? 2 * ps->cap : 16;
        entry **es = nb_alloc((size_t)cap * sizeof *es, 0);
        if (!es) {
            nb_free(e);
            return NULL;
        }
        if (ps->count)
            memcpy(es, ps->entries, (size_t)ps->count * sizeof *es);
        nb_free(ps->entries);
        ps->entries = es;
        ps->cap = cap;
    }

    int64_t old_param = ps->numel[NB_PARAM];
    int64_t new_param = old_param + (kind == NB_PARAM ? size : 0);
    int64_t vneed = total + size, gneed = new_param;
    /* A new parameter goes at the end of the parameters, so the buffers move up. */
    bool moves = kind == NB_PARAM && ps->numel[NB_BUFFER] > 0 && size > 0;
    if (vneed > ps->values_cap || gneed > ps->grads_cap || moves) {
        int64_t vcap = vneed > ps->values_cap ? grow(ps->values_cap, vneed) : ps->values_cap;
        int64_t gcap = gneed > ps->grads_cap ? grow(ps->grads_cap, gneed) : ps->grads_cap;
        if (relayout(ps, vcap, gcap, old_param, new_param) != NB_OK) {
            nb_free(e);
            return NULL;
        }
    }
    e->offset = kind == NB_PARAM ? old_param : total;
    ps->numel[kind] += size;
    nb_tensor_view_init(&e->value, ndim, shape, ps->values ? ps->values + e->offset : &dummy);
    if (kind == NB_PARAM) {
        nb_tensor_view_init(&e->grad, ndim, shape, ps->grads ? ps->grads + e->offset : &dummy);
        e->value.grad = &e->grad;
        nb_tensor_set_requires_grad(&e->value, true); /* has a grad: allocates nothing */
    }
    point(ps, e);
    if (size > 0) {
        memset(e->value.data, 0, (size_t)size * sizeof(float));
        if (kind == NB_PARAM)
            memset(e->grad.data, 0, (size_t)size * sizeof(float));
    }
    ps->entries[ps->count++] = e;
    return &e->value;
}

nb_status nb_params_finalize(nb_params *ps)
{
    if (!ps)
        return nb_set_error(NB_ERR_NULL, "params_finalize: store is NULL");
    if (ps->finalized)
        return NB_OK;
    int64_t vn = ps->numel[NB_PARAM] + ps->numel[NB_BUFFER], gn = ps->numel[NB_PARAM];
    if (vn != ps->values_cap || gn != ps->grads_cap) {
        nb_status s = relayout(ps, vn, gn, gn, gn);
        if (s != NB_OK)
            return s;
    }
    ps->finalized = true;
    return NB_OK;
}

bool nb_params_finalized(const nb_params *ps) { return ps && ps->finalized; }

int64_t nb_params_count(const nb_params *ps) { return ps ? ps->count : 0; }

static const entry *entry_at(const nb_params *ps, int64_t i)
{
    return ps && i >= 0 && i < ps->count ? ps->entries[i] : NULL;
}

nb_tensor *nb_params_at(const nb_params *ps, int64_t i)
{
    const entry *e = entry_at(ps, i);
    return e ? (nb_tensor *)&e->value : NULL;
}

const char *nb_params_name(const nb_params *ps, int64_t i)
{
    const entry *e = entry_at(ps, i);
    return e ? e->name : NULL;
}

nb_param_kind nb_params_kind(const nb_params *ps, int64_t i)
{
    const entry *e = entry_at(ps, i);
    return e ? e->kind : NB_PARAM;
}

int64_t nb_params_offset(const nb_params *ps, int64_t i)
{
    const entry *e = entry_at(ps, i);
    return e ? e->offset : -1;
}

int64_t nb_params_index(const nb_params *ps, const char *name)
{
    if (!ps || !name)
        return -1;
    for (int64_t i = 0; i < ps->count; i++)
        if (strcmp(ps->entries[i]->name, name) == 0)
            return i;
    return -1;
}

nb_tensor *nb_params_find(const nb_params *ps, const char *name)
{
    return nb_params_at(ps, nb_params_index(ps, name));
}

int64_t nb_params_numel(const nb_params *ps, nb_param_kind kind)
{
    return ps && (kind == NB_PARAM || kind == NB_BUFFER) ? ps->numel[kind] : 0;
}

float *nb_params_values(const nb_params *ps) { return ps ? ps->values : NULL; }

float *nb_params_grads(const nb_params *ps) { return ps ? ps->grads : NULL; }

void nb_params_zero_grad(nb_params *ps)
{
    if (ps && ps->grads && ps->numel[NB_PARAM] > 0)
        memset(ps->grads, 0, (size_t)ps->numel[NB_PARAM] * sizeof(float));
}

double nb_params_grad_norm(const nb_params *ps)
{
    if (!ps || !ps->grads)
        return 0.0;
    return sqrt(nb_kernel_sum_squares(ps->grads, ps->numel[NB_PARAM]));
}

nb_status nb_params_clip_grad_norm(nb_params *ps, double max_norm, double *norm)
{
    if (!ps)
        return nb_set_error(NB_ERR_NULL, "params_clip_grad_norm: store is NULL");
    if (!(isfinite(max_norm) && max_norm > 0))
        return nb_set_error(NB_ERR_ARG, "params_clip_grad_norm: max_norm must be finite and "
                            "positive, got %g", max_norm);
    double n = nb_params_grad_norm(ps);
    if (norm)
        *norm = n;
    if (!isfinite(n))
        return nb_set_error(NB_ERR_NUMERIC, "params_clip_grad_norm: the gradient norm is %g; "
                            "gradients left unchanged", n);
    if (n > max_norm) {
        float scale = (float)(max_norm / (n + 1e-6));
        float *g = ps->grads;
        NB_PARALLEL_FOR(i, ps->numel[NB_PARAM], {
            g[i] *= scale;
        });
    }
    return NB_OK;
}
