/*
 * src/data/batches.c - the batch iterator: a seeded permutation per epoch, cut into
 * shards and batches, each batch gathered into tensors made once in nb_batches_new.
 *
 * Epoch e's permutation is a Fisher-Yates shuffle whose i-th swap partner is drawn from
 * nb_rng_u64(key, i) with key = nb_rng_u64(seed, e): it depends only on (seed, e), so a
 * resumed run and every shard of a data-parallel run see the same order.
 */
#include <string.h>

#include "nabla/data.h"
#include "nabla/kernels.h"
#include "nabla/parallel.h"

#include "data_internal.h"

/* A constant that keeps the permutation stream apart from other users of the seed. */
#define PERM_STREAM 0x7065726d75746531ULL /* "permute1" */

struct nb_batches {
    const nb_dataset *ds;
    nb_batch_opts opts;
    int64_t n;            /* samples in the data set */
    int64_t per_shard;    /* samples this iterator walks each epoch */
    int64_t n_batches;    /* per epoch */
    int64_t *perm;        /* [n]: this epoch's order */
    int64_t pos;          /* next position within the shard */
    int64_t last_start;   /* the last batch returned: its positions in the shard */
    int64_t last_count;
    int64_t row_x, row_y; /* floats per sample */
    nb_tensor *bx, *by;   /* full batches [rows, ...] */
    nb_tensor px, py;     /* the last partial batch: headers over bx, by */
    int64_t partial;      /* its size (0: none) */
};

/* Shape `t` with first dimension `rows`. */
static void shape_rows(const nb_tensor *t, int64_t rows, int64_t shape[NB_MAX_DIMS])
{
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    shape[0] = rows;
}

nb_batches *nb_batches_new(const nb_dataset *ds, nb_batch_opts opts)
{
    if (!ds) {
        nb_set_error(NB_ERR_NULL, "batches_new: data set is NULL");
        return NULL;
    }
    if (opts.batch_size == 0)
        opts.batch_size = 32;
    if (opts.shard_count == 0 && opts.shard_index == 0)
        opts.shard_count = 1;
    if (opts.batch_size < 0) {
        nb_set_error(NB_ERR_ARG, "batches_new: batch_size %lld is negative (0 means 32)",
                     (long long)opts.batch_size);
        return NULL;
    }
    if (opts.shard_count < 1 || opts.shard_index < 0 || opts.shard_index >= opts.shard_count) {
        nb_set_error(NB_ERR_ARG, "batches_new: shard_index %d of shard_count %d: need "
                     "shard_count >= 1 and 0 <= shard_index < shard_count", opts.shard_index,
                     opts.shard_count);
        return NULL;
    }
    nb_batches *it = nb_alloc(sizeof *it, 0);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    it->ds = ds;
    it->opts = opts;
    it->n = nb_dataset_size(ds);
    it->per_shard = it->n / opts.shard_count;
    int64_t B = opts.batch_size;
    it->n_batches = opts.drop_last ? it->per_shard / B : (it->per_shard + B - 1) / B;
    int64_t rows = it->per_shard < B ? it->per_shard : B;
    int64_t rem = opts.drop_last ? 0 : it->per_shard % B;
    it->partial = rem;
    const nb_tensor *x = nb_dataset_inputs(ds), *y = nb_dataset_targets(ds);
    it->row_x = nb_data_row_size(x);
    it->row_y = y ? nb_data_row_size(y) : 0;

    int64_t shape[NB_MAX_DIMS];
    it->perm = nb_alloc((size_t)(it->n > 0 ? it->n : 1) * sizeof *it->perm, 0);
    shape_rows(x, rows, shape);
    it->bx = it->perm ? nb_tensor_zeros(x->ndim, shape) : NULL;
    if (it->bx && y) {
        shape_rows(y, rows, shape);
        it->by = nb_tensor_zeros(y->ndim, shape);
    }
    if (!it->bx || (y && !it->by)) {
        nb_batches_free(it);
        return NULL;
    }
    if (rem > 0) {
        shape_rows(x, rem, shape);
        nb_tensor_view_init(&it->px, x->ndim, shape, it->bx->data);
        if (y) {
            shape_rows(y, rem, shape);
            nb_tensor_view_init(&it->py, y->ndim, shape, it->by->data);
        }
    }
    nb_batches_start(it, 0);
    return it;
}

void nb_batches_free(nb_batches *it)
{
    if (!it)
        return;
    nb_tensor_free(it->bx);
    nb_tensor_free(it->by);
    nb_free(it->perm);
    nb_free(it);
}

nb_status nb_batches_start(nb_batches *it, int64_t epoch)
{
    if (!it)
        return nb_set_error(NB_ERR_NULL, "batches_start: iterator is NULL");
    if (epoch < 0)
        return nb_set_error(NB_ERR_ARG, "batches_start: epoch %lld is negative",
                            (long long)epoch);
    int64_t n = it->n, *p = it->perm;
    for (int64_t i = 0; i < n; i++)
        p[i] = i;
    if (it->opts.shuffle) {
        uint64_t key = nb_rng_u64(it->opts.seed ^ PERM_STREAM, (uint64_t)epoch);
        for (int64_t i = n - 1; i > 0; i--) {
            /* The modulo's bias is below (i + 1) / 2^64 < 2^-15 (n <= 2^48). */
            int64_t j = (int64_t)(nb_rng_u64(key, (uint64_t)i) % (uint64_t)(i + 1));
            int64_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
    /* This shard's positions s, s + count, s + 2 count, ... of the permutation, moved to
     * its front (in place: position j reads j count + s >= j, never one written
     * already). With b samples per shard, the shards' batch t together are batch t of
     * one iterator with batch count b. */
    const int64_t count = it->opts.shard_count, shard = it->opts.shard_index;
    if (count > 1)
        for (int64_t j = 0; j < it->per_shard; j++)
            p[j] = p[j * count + shard];
    it->pos = 0;
    it->last_start = it->last_count = 0;
    return NB_OK;
}

/* dst[r, :] = src[idx[r], :] for r in [0, rows), rows of `row` floats. */
static void gather(float *dst, const float *src, const int64_t *idx, int64_t rows, int64_t row)
{
    size_t bytes = (size_t)row * sizeof(float);
    NB_PARALLEL_FOR_IF(nb_n_ * row >= NB_PAR_MIN, r, rows, {
        memcpy(dst + r * row, src + idx[r] * row, bytes);
    });
}

bool nb_batches_next(nb_batches *it, nb_tensor **x, nb_tensor **y)
{
    if (!it || !x) {
        nb_set_error(NB_ERR_NULL, "batches_next: %s is NULL", !it ? "iterator" : "x");
        return false;
    }
    int64_t B = it->opts.batch_size;
    int64_t left = it->per_shard - it->pos;
    int64_t count = left < B ? left : B;
    if (count <= 0 || (count < B && it->opts.drop_last)) {
        *x = NULL;
        if (y)
            *y = NULL;
        return false;
    }
    const int64_t *idx = it->perm + it->pos;
    const nb_tensor *dx = nb_dataset_inputs(it->ds), *dy = nb_dataset_targets(it->ds);
    gather(it->bx->data, dx->data, idx, count, it->row_x);
    if (dy)
        gather(it->by->data, dy->data, idx, count, it->row_y);
    bool full = count == it->bx->shape[0];
    *x = full ? it->bx : &it->px;
    if (y)
        *y = !dy ? NULL : full ? it->by : &it->py;
    it->last_start = it->pos;
    it->last_count = count;
    it->pos += count;
    return true;
}

int64_t nb_batches_count(const nb_batches *it) { return it ? it->n_batches : 0; }

const int64_t *nb_batches_indices(const nb_batches *it, int64_t *n)
{
    if (!it || it->last_count == 0) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = it->last_count;
    return it->perm + it->last_start;
}
