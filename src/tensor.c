/*
 * src/tensor.c - tensor construction, queries, data in and out, printing.
 *
 * A persistent tensor is one allocation: the header, then the data at the next 64-byte
 * boundary. A step tensor is the same layout in step memory.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "internal.h"

#define HEADER_SIZE NB_TENSOR_HEADER

nb_status nb_shape_check(const char *who, int ndim, const int64_t *shape, int64_t *size)
{
    if (ndim < 0 || ndim > NB_MAX_DIMS)
        return nb_set_error(NB_ERR_SHAPE, "%s: rank %d is outside [0, %d]", who, ndim,
                            NB_MAX_DIMS);
    if (ndim > 0 && !shape)
        return nb_set_error(NB_ERR_NULL, "%s: shape is NULL for rank %d", who, ndim);
    /* The product of the non-zero dimensions is bounded too, so that an op multiplying
     * some of the dimensions of an empty tensor cannot overflow either. */
    int64_t n = 1, nonzero = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char buf[128];
            return nb_set_error(NB_ERR_SHAPE, "%s: negative dimension in shape %s", who,
                                nb_shape_str(ndim, shape, buf, sizeof buf));
        }
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        int64_t next;
        if (__builtin_mul_overflow(nonzero, shape[i], &next) || next > NB_SIZE_MAX) {
            char buf[128];
            return nb_set_error(NB_ERR_SHAPE, "%s: shape %s is too large (more than 2^%d "
                                "elements, counting only its non-zero dimensions)", who,
                                nb_shape_str(ndim, shape, buf, sizeof buf), NB_SIZE_MAX_LOG2);
        }
        nonzero = next;
    }
    n = empty ? 0 : nonzero;
    *size = n;
    return NB_OK;
}

void nb_tensor_init(nb_tensor *t, float *data, int ndim, const int64_t *shape, int64_t size,
                    nb_storage storage)
{
    /* Field by field, not a memset: every op's output goes through here. */
    t->data = data;
    t->ndim = ndim;
    for (int i = 0; i < NB_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    t->size = size;
    t->requires_grad = false;
    t->storage = storage;
    t->persistent = storage != NB_STORAGE_STEP;
    t->free_pending = false;
    t->grad = NULL;
    t->node = NULL;
    t->step = storage == NB_STORAGE_STEP ? nb_step_id() : 0;
}

/* A persistent tensor with undefined contents, or NULL. */
static nb_tensor *tensor_alloc(const char *who, int ndim, const int64_t *shape)
{
    int64_t size;
    if (nb_shape_check(who, ndim, shape, &size) != NB_OK)
        return NULL;
    nb_tensor *t = nb_alloc(HEADER_SIZE + (size_t)size * sizeof(float), NB_ALIGN);
    if (!t)
        return NULL;
    nb_tensor_init(t, (float *)((char *)t + HEADER_SIZE), ndim, shape, size,
                   NB_STORAGE_OWNED);
    return t;
}

nb_tensor *nb_tensor_step(int ndim, const int64_t *shape)
{
    int64_t size;
    if (nb_shape_check("tensor_step", ndim, shape, &size) != NB_OK)
        return NULL;
    nb_tensor *t = nb_step_alloc(HEADER_SIZE + (size_t)size * sizeof(float));
    if (!t)
        return NULL;
    nb_tensor_init(t, (float *)((char *)t + HEADER_SIZE), ndim, shape, size,
                   NB_STORAGE_STEP);
    return t;
}

nb_tensor *nb_tensor_wrap(int ndim, const int64_t *shape, float *data)
{
    int64_t size;
    if (nb_shape_check("tensor_wrap", ndim, shape, &size) != NB_OK)
        return NULL;
    if (!data && size > 0) {
        nb_set_error(NB_ERR_NULL, "tensor_wrap: data is NULL");
        return NULL;
    }
    nb_tensor *t = nb_alloc(sizeof *t, NB_ALIGN);
    if (!t)
        return NULL;
    nb_tensor_init(t, data, ndim, shape, size, NB_STORAGE_WRAPPED);
    return t;
}

nb_status nb_tensor_view_init(nb_tensor *t, int ndim, const int64_t *shape, float *data)
{
    int64_t size;
    if (!t)
        return nb_set_error(NB_ERR_NULL, "tensor_view_init: tensor is NULL");
    nb_status s = nb_shape_check("tensor_view_init", ndim, shape, &size);
    if (s != NB_OK)
        return s;
    if (!data && size > 0)
        return nb_set_error(NB_ERR_NULL, "tensor_view_init: data is NULL");
    nb_tensor_init(t, data, ndim, shape, size, NB_STORAGE_VIEW);
    return NB_OK;
}

bool nb_tensor_live_slow(const nb_tensor *t)
{
    switch (nb_step_holds(t, sizeof *t)) {
    case 1:
        return t->storage == NB_STORAGE_STEP && t->step == nb_step_id();
    case 2:
        return false;
    default:
        /* Not in step memory: persistent (a step tensor from a chunk that was given
         * back cannot be told apart from garbage; it is read as it is). */
        return t->storage != NB_STORAGE_STEP;
    }
}

bool nb_tensor_in_graph(const nb_tensor *t)
{
    return t && t->persistent && t->step == nb_step_id() && nb_nodes_recorded > 0;
}

nb_tensor *nb_tensor_full(int ndim, const int64_t *shape, float value)
{
    nb_tensor *t = tensor_alloc("tensor_full", ndim, shape);
    if (t)
        nb_tensor_fill(t, value);
    return t;
}

nb_tensor *nb_tensor_zeros(int ndim, const int64_t *shape)
{
    nb_tensor *t = tensor_alloc("tensor_zeros", ndim, shape);
    if (t)
        memset(t->data, 0, (size_t)t->size * sizeof(float));
    return t;
}

nb_tensor *nb_tensor_ones(int ndim, const int64_t *shape)
{
    nb_tensor *t = tensor_alloc("tensor_ones", ndim, shape);
    if (t)
        nb_tensor_fill(t, 1.0f);
    return t;
}

nb_tensor *nb_tensor_from(int ndim, const int64_t *shape, const float *data)
{
    if (!data) {
        nb_set_error(NB_ERR_NULL, "tensor_from: data is NULL");
        return NULL;
    }
    nb_tensor *t = tensor_alloc("tensor_from", ndim, shape);
    if (t)
        memcpy(t->data, data, (size_t)t->size * sizeof(float));
    return t;
}

nb_tensor *nb_tensor_scalar(float value) { return nb_tensor_full(0, NULL, value); }

nb_tensor *nb_tensor_arange(float start, float stop, float step)
{
    if (step == 0.0f || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        nb_set_error(NB_ERR_ARG, "tensor_arange: need finite start, stop and a nonzero step,"
                                 " got (%g, %g, %g)", start, stop, step);
        return NULL;
    }
    double n = ceil(((double)stop - start) / step);
    if (n > (double)NB_SIZE_MAX) {
        nb_set_error(NB_ERR_SHAPE, "tensor_arange: (%g, %g, %g) has more than 2^%d elements",
                     start, stop, step, NB_SIZE_MAX_LOG2);
        return NULL;
    }
    int64_t shape[1] = {n > 0 ? (int64_t)n : 0};
    nb_tensor *t = tensor_alloc("tensor_arange", 1, shape);
    if (t)
        for (int64_t i = 0; i < t->size; i++)
            t->data[i] = (float)(start + (double)i * step);
    return t;
}

nb_tensor *nb_tensor_rand(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed)
{
    nb_tensor *t = tensor_alloc("tensor_rand", ndim, shape);
    if (!t)
        return NULL;
    float *x = t->data;
    int64_t n = t->size;
    NB_PARALLEL_FOR(i, n, {
        x[i] = lo + (hi - lo) * nb_rng_uniform(seed, (uint64_t)i);
    });
    return t;
}

nb_tensor *nb_tensor_randn(int ndim, const int64_t *shape, float mean, float std, uint64_t seed)
{
    nb_tensor *t = tensor_alloc("tensor_randn", ndim, shape);
    if (!t)
        return NULL;
    float *x = t->data;
    int64_t n = t->size;
    /* Box-Muller on the pair of draws (2i, 2i+1) of element i. */
    NB_PARALLEL_FOR(i, n, {
        double u1 = 1.0 - nb_rng_uniform(seed, 2 * (uint64_t)i);  /* (0, 1] */
        double u2 = nb_rng_uniform(seed, 2 * (uint64_t)i + 1);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        x[i] = (float)(mean + std * z);
    });
    return t;
}

nb_tensor *nb_tensor_clone(const nb_tensor *t)
{
    if (!t) {
        nb_set_error(NB_ERR_NULL, "tensor_clone: tensor is NULL");
        return NULL;
    }
    return nb_tensor_from(t->ndim, t->shape, t->data);
}

void nb_tensor_free(nb_tensor *t)
{
    if (!t || t == NB_NONE)
        return;
    if (t->storage != NB_STORAGE_OWNED && t->storage != NB_STORAGE_WRAPPED)
        return; /* step memory, or a view its owner releases */
    if (t->free_pending)
        return;
    if (nb_tensor_in_graph(t)) {
        /* Backward may still read it and add into its grad: both go when the step ends. */
        t->free_pending = true;
        nb_tensor *g = t->grad;
        if (g && (g->storage == NB_STORAGE_OWNED || g->storage == NB_STORAGE_WRAPPED) &&
            !g->free_pending) {
            g->free_pending = true;
            nb_free_deferred(g);
        }
        nb_free_deferred(t);
    } else {
        nb_tensor_free(t->grad);
        nb_free(t);
    }
}

nb_status nb_tensor_set_requires_grad(nb_tensor *t, bool requires_grad)
{
    if (!t)
        return nb_set_error(NB_ERR_NULL, "tensor_set_requires_grad: tensor is NULL");
    if (t->node)
        return nb_set_error(NB_ERR_STATE, "tensor_set_requires_grad: the tensor was made by "
                                          "op '%s'; only leaves can be marked",
                            t->node->op->name);
    if (!requires_grad) {
        t->requires_grad = false;
        return NB_OK;
    }
    if (!t->grad && t->storage == NB_STORAGE_VIEW)
        return nb_set_error(NB_ERR_STATE, "tensor_set_requires_grad: the tensor is a view "
                            "without a grad; its owner provides the grad (a parameter "
                            "store's buffers get none)");
    if (!t->grad) {
        nb_tensor *g = t->persistent ? nb_tensor_zeros(t->ndim, t->shape)
                                     : nb_tensor_step(t->ndim, t->shape);
        if (!g)
            return NB_ERR_NOMEM;
        if (!t->persistent)
            memset(g->data, 0, (size_t)g->size * sizeof(float));
        t->grad = g;
    }
    t->requires_grad = true;
    return NB_OK;
}

void nb_tensor_zero_grad(nb_tensor *t)
{
    if (t && t->grad)
        memset(t->grad->data, 0, (size_t)t->grad->size * sizeof(float));
}

int nb_tensor_ndim(const nb_tensor *t) { return t ? t->ndim : -1; }

int64_t nb_tensor_size(const nb_tensor *t) { return t ? t->size : -1; }

int64_t nb_tensor_dim(const nb_tensor *t, int dim)
{
    if (!t)
        return -1;
    if (dim < 0)
        dim += t->ndim;
    return dim >= 0 && dim < t->ndim ? t->shape[dim] : -1;
}

bool nb_tensor_same_shape(const nb_tensor *a, const nb_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

float nb_tensor_item(const nb_tensor *t)
{
    if (!t) {
        nb_set_error(NB_ERR_NULL, "tensor_item: tensor is NULL");
        return NAN;
    }
    if (t->size != 1) {
        char buf[128];
        nb_set_error(NB_ERR_SHAPE, "tensor_item: expected one element, got shape %s",
                     nb_tensor_shape_str(t, buf, sizeof buf));
        return NAN;
    }
    return t->data[0];
}

char *nb_shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    if (!buf || !n)
        return buf;
    if (!shape && ndim > 0) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    if (ndim < 0 || ndim > NB_MAX_DIMS) {
        snprintf(buf, n, "(rank %d)", ndim);
        return buf;
    }
    size_t k = 0;
    buf[0] = '\0';
#define PUT(...)                                                         \
    do {                                                                 \
        int w = snprintf(buf + k, n - k, __VA_ARGS__);                   \
        if (w < 0 || (size_t)w >= n - k)                                 \
            return buf;                                                  \
        k += (size_t)w;                                                  \
    } while (0)
    PUT("[");
    for (int i = 0; i < ndim; i++)
        PUT(i ? ",%" PRId64 : "%" PRId64, shape[i]);
    PUT("]");
#undef PUT
    return buf;
}

char *nb_tensor_shape_str(const nb_tensor *t, char *buf, size_t n)
{
    if (!buf || !n)
        return buf;
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    return nb_shape_str(t->ndim, t->shape, buf, n);
}

void nb_tensor_copy_to(const nb_tensor *t, float *dst)
{
    if (t && dst)
        memcpy(dst, t->data, (size_t)t->size * sizeof(float));
}

void nb_tensor_copy_from(nb_tensor *t, const float *src)
{
    if (t && src)
        memcpy(t->data, src, (size_t)t->size * sizeof(float));
}

static nb_status check_sizes(const char *who, const nb_tensor *a, const nb_tensor *b)
{
    if (!a || !b)
        return nb_set_error(NB_ERR_NULL, "%s: tensor is NULL", who);
    if (a->size != b->size) {
        char sa[128], sb[128];
        return nb_set_error(NB_ERR_SHAPE, "%s: sizes differ: %s and %s", who,
                            nb_tensor_shape_str(a, sa, sizeof sa),
                            nb_tensor_shape_str(b, sb, sizeof sb));
    }
    return NB_OK;
}

nb_status nb_tensor_assign(nb_tensor *dst, const nb_tensor *src)
{
    nb_status s = check_sizes("tensor_assign", dst, src);
    if (s == NB_OK && dst != src)
        memcpy(dst->data, src->data, (size_t)src->size * sizeof(float));
    return s;
}

void nb_tensor_fill(nb_tensor *t, float value)
{
    if (!t)
        return;
    float *x = t->data;
    int64_t n = t->size;
    NB_PARALLEL_FOR(i, n, {
        x[i] = value;
    });
}

nb_status nb_tensor_axpy(nb_tensor *y, float alpha, const nb_tensor *x)
{
    nb_status s = check_sizes("tensor_axpy", y, x);
    if (s != NB_OK)
        return s;
    float *yd = y->data;
    const float *xd = x->data;
    int64_t n = y->size;
    NB_PARALLEL_FOR(i, n, {
        yd[i] += alpha * xd[i];
    });
    return NB_OK;
}

/* Prints dimension d of t starting at flat offset `off`; with max > 0, a dimension
 * longer than max shows its first ceil(max/2) and last floor(max/2) entries around
 * "...". */
static void print_dim(const nb_tensor *t, FILE *f, int d, int64_t off, int64_t stride,
                      int max, int indent)
{
    int64_t n = t->shape[d], inner = stride / n;
    int64_t head = (max + 1) / 2, tail = max / 2;
    bool last = d == t->ndim - 1;
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (max > 0 && n > max && i == head) {
            if (last)
                fputs(", ...", f);
            else
                fprintf(f, ",\n%*s...", indent + 1, "");
            if (tail == 0)
                break;
            i = n - tail - 1;
            continue;
        }
        if (last)
            fprintf(f, "%s%.6g", i ? ", " : "", t->data[off + i]);
        else {
            if (i)
                fprintf(f, ",\n%*s", indent + 1, "");
            print_dim(t, f, d + 1, off + i * inner, inner, max, indent + 1);
        }
    }
    fputc(']', f);
}

void nb_tensor_print(const nb_tensor *t, FILE *f, int max_per_dim)
{
    if (!f)
        return;
    if (!t) {
        fputs("tensor(NULL)\n", f);
        return;
    }
    char buf[128];
    fprintf(f, "tensor%s ", nb_tensor_shape_str(t, buf, sizeof buf));
    if (t->ndim == 0)
        fprintf(f, "%.6g", t->data[0]);
    else if (t->size == 0)
        fputs("[]", f);
    else
        print_dim(t, f, 0, 0, t->size, max_per_dim, 0);
    fputc('\n', f);
}
