/*
 * src/data/dataset.c - a data set: N samples of inputs x [N, ...] and targets y [N, ...],
 * and row ranges of it (slices, the train/validation split) that view its memory.
 *
 * Written on the public headers only.
 */
#include <math.h>

#include "nabla/data.h"

#include "data_internal.h"

/* Checks one tensor handed to nb_dataset_new. */
static nb_status check_tensor(const nb_tensor *t, const char *what)
{
    if (t->ndim == 0)
        return nb_set_error(NB_ERR_SHAPE, "dataset_new: %s is a scalar (rank 0); a data set "
                            "needs [N, ...] with one row per sample", what);
    if (!t->persistent)
        return nb_set_error(NB_ERR_STATE, "dataset_new: %s is a step tensor (an op's result); "
                            "a data set outlives the step: pass a persistent tensor "
                            "(nb_tensor_clone makes one)", what);
    return NB_OK;
}

nb_dataset *nb_dataset_new(nb_tensor *x, nb_tensor *y, bool own)
{
    if (!x) {
        nb_set_error(NB_ERR_NULL, "dataset_new: inputs x are NULL");
        return NULL;
    }
    if (check_tensor(x, "x") != NB_OK || (y && check_tensor(y, "y") != NB_OK))
        return NULL;
    if (y && x->shape[0] != y->shape[0]) {
        char bx[128], by[128];
        nb_set_error(NB_ERR_SHAPE, "dataset_new: x %s and y %s have different numbers of "
                     "samples (first dimensions %lld and %lld)",
                     nb_tensor_shape_str(x, bx, sizeof bx), nb_tensor_shape_str(y, by, sizeof by),
                     (long long)x->shape[0], (long long)y->shape[0]);
        return NULL;
    }
    if (own && x == y) {
        nb_set_error(NB_ERR_ARG, "dataset_new: x and y are the same tensor; a data set cannot "
                     "own it twice (pass own = false and free it yourself)");
        return NULL;
    }
    nb_dataset *ds = nb_alloc(sizeof *ds, 0);
    if (!ds)
        return NULL;
    *ds = (nb_dataset){.x = x, .y = y, .own = own};
    return ds;
}

void nb_dataset_free(nb_dataset *ds)
{
    if (!ds)
        return;
    if (ds->own) {
        nb_tensor_free(ds->x);
        nb_tensor_free(ds->y);
    }
    nb_free(ds);
}

int64_t nb_dataset_size(const nb_dataset *ds) { return ds ? ds->x->shape[0] : 0; }
nb_tensor *nb_dataset_inputs(const nb_dataset *ds) { return ds ? ds->x : NULL; }
nb_tensor *nb_dataset_targets(const nb_dataset *ds) { return ds ? ds->y : NULL; }

int64_t nb_data_row_size(const nb_tensor *t)
{
    int64_t r = 1;
    for (int i = 1; i < t->ndim; i++)
        r *= t->shape[i];
    return r;
}

/* *view = rows [start, start + count) of t, over t's memory. */
static void view_rows(nb_tensor *view, const nb_tensor *t, int64_t start, int64_t count)
{
    int64_t shape[NB_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    shape[0] = count;
    /* Cannot fail: a smaller first dimension of a valid shape, over valid memory. */
    nb_tensor_view_init(view, t->ndim, shape, t->data + start * nb_data_row_size(t));
}

nb_dataset *nb_dataset_slice(const nb_dataset *ds, int64_t start, int64_t count)
{
    if (!ds) {
        nb_set_error(NB_ERR_NULL, "dataset_slice: data set is NULL");
        return NULL;
    }
    int64_t n = nb_dataset_size(ds);
    if (start < 0 || count < 0 || start > n || count > n - start) {
        nb_set_error(NB_ERR_ARG, "dataset_slice: rows [%lld, %lld + %lld) are outside the %lld "
                     "samples [0, %lld)", (long long)start, (long long)start, (long long)count,
                     (long long)n, (long long)n);
        return NULL;
    }
    nb_dataset *s = nb_alloc(sizeof *s, 0);
    if (!s)
        return NULL;
    *s = (nb_dataset){.own = false};
    view_rows(&s->xview, ds->x, start, count);
    s->x = &s->xview;
    if (ds->y) {
        view_rows(&s->yview, ds->y, start, count);
        s->y = &s->yview;
    }
    return s;
}

nb_status nb_dataset_split(const nb_dataset *ds, double fraction, nb_dataset **train,
                           nb_dataset **val)
{
    if (!ds || !train || !val)
        return nb_set_error(NB_ERR_NULL, "dataset_split: %s is NULL",
                            !ds ? "the data set" : !train ? "train" : "val");
    *train = *val = NULL;
    if (!(fraction >= 0.0 && fraction < 1.0))
        return nb_set_error(NB_ERR_ARG, "dataset_split: fraction %g is outside [0, 1)",
                            fraction);
    int64_t n = nb_dataset_size(ds);
    int64_t n_val = (int64_t)llround(fraction * (double)n);
    if (n_val > n)
        n_val = n;
    nb_dataset *t = nb_dataset_slice(ds, 0, n - n_val);
    nb_dataset *v = t ? nb_dataset_slice(ds, n - n_val, n_val) : NULL;
    if (!v) {
        nb_dataset_free(t);
        return nb_error_code();
    }
    *train = t;
    *val = v;
    return NB_OK;
}
