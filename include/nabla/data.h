/*
 * nabla/data.h - data sets, batch iterators, and loaders for IDX ((Fashion-)MNIST) and
 * CSV files.
 *
 * A data set is N samples: inputs x [N, ...] and, optionally, targets y [N, ...], held
 * as persistent tensors. A batch iterator walks it in batches gathered into tensors it
 * preallocates, so iterating allocates nothing:
 *
 *     nb_dataset *train = nb_idx_load_pair("train-images-idx3-ubyte.gz",
 *                                          "train-labels-idx1-ubyte.gz", NULL);
 *     nb_batches *it = nb_batches_new(train, (nb_batch_opts){.batch_size = 128,
 *                                                            .shuffle = true, .seed = 1});
 *     for (int64_t epoch = 0; epoch < 5; epoch++) {
 *         nb_batches_start(it, epoch);            // this epoch's seeded permutation
 *         nb_tensor *x, *y;
 *         while (nb_batches_next(it, &x, &y)) {   // x [B, 1, 28, 28], y [B]
 *             ...
 *         }
 *     }
 *     nb_batches_free(it);
 *     nb_dataset_free(train);
 *
 * Every loader error names the file and what is wrong with it (and, for CSV, the line
 * and column); a bad file never crashes the reader or reads out of bounds.
 */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_dataset nb_dataset;

/* ---- data sets ---- */

/* A data set over x [N, ...] and y [N, ...] (y may be NULL: inputs only). With `own`,
 * the data set takes the tensors and frees them in nb_dataset_free; otherwise it
 * borrows them and they must outlive it. NULL and an error for NULL x, a rank-0 x or y,
 * first dimensions that differ (NB_ERR_SHAPE naming both shapes), step tensors
 * (NB_ERR_STATE: a data set outlives the step), NB_ERR_NOMEM. On error nothing is
 * taken. */
nb_dataset *nb_dataset_new(nb_tensor *x, nb_tensor *y, bool own);

/* Releases the data set (and its tensors if it owns them). NULL is allowed. */
void nb_dataset_free(nb_dataset *ds);

int64_t nb_dataset_size(const nb_dataset *ds);          /* N */
nb_tensor *nb_dataset_inputs(const nb_dataset *ds);     /* x */
nb_tensor *nb_dataset_targets(const nb_dataset *ds);    /* y, or NULL */

/* Rows [start, start + count) as a new data set that views ds's memory (no copy); ds
 * must outlive it. NB_ERR_ARG for a range outside [0, N]. */
nb_dataset *nb_dataset_slice(const nb_dataset *ds, int64_t start, int64_t count);

/* Splits off a validation set as Keras' validation_split does: the last
 * round(fraction N) rows (before any shuffling) go to *val, the rest to *train, both
 * views of ds. fraction in [0, 1) (NB_ERR_ARG otherwise); 0 gives an empty *val. */
nb_status nb_dataset_split(const nb_dataset *ds, double fraction, nb_dataset **train,
                           nb_dataset **val);

/* ---- preprocessing (in place, per feature) ---- */

/* x [N, ...] is seen as [N, F]: a feature is one element of a sample's shape (a pixel,
 * a column). Statistics are taken over the N samples in double, in a fixed order (the
 * same bits for any thread count), and checked before x is changed: on error x is
 * unchanged.
 *
 * Standardisation: x = (x - mean) / std with the population std (divided by N; a std
 * of 0 leaves the feature centred, not divided). mean and std, if not NULL, receive the
 * statistics ([F] floats each) so the same transform can be applied to a test set with
 * nb_standardize_with. Errors: NB_ERR_NULL, NB_ERR_SHAPE for a rank-0 x or N = 0,
 * NB_ERR_NUMERIC naming the first feature whose statistics are not finite (NaN or
 * infinity in the data), NB_ERR_NOMEM; for _with, NB_ERR_ARG naming the first feature
 * whose mean is not finite or whose std is negative or not finite. */
nb_status nb_standardize(nb_tensor *x, float *mean, float *std);
nb_status nb_standardize_with(nb_tensor *x, const float *mean, const float *std);

/* Min-max scaling: x = (x - min) / (max - min) into [0, 1] (a constant feature becomes
 * 0: a range of 0 is not divided, so with _with a test set's values become x - min).
 * min and max ([F] floats each), errors as for nb_standardize (_with: NB_ERR_ARG for
 * max < min or values that are not finite). */
nb_status nb_minmax_scale(nb_tensor *x, float *min, float *max);
nb_status nb_minmax_scale_with(nb_tensor *x, const float *min, const float *max);

/* Class indices [N] or [N, 1] (integers stored as floats) -> one-hot [N, n_classes], a
 * new persistent tensor. NB_ERR_ARG naming the first label that is not an integer in
 * [0, n_classes), and for n_classes < 1; NB_ERR_SHAPE for other shapes; NB_ERR_NULL. */
nb_tensor *nb_one_hot(const nb_tensor *labels, int64_t n_classes);

/* ---- batch iterators ---- */

typedef struct nb_batch_opts {
    int64_t batch_size;   /* > 0; default 32 when 0 */
    bool shuffle;         /* a new seeded permutation every epoch */
    uint64_t seed;        /* epoch e's permutation depends only on (seed, e) */
    bool drop_last;       /* drop the last partial batch (default: keep it) */
    /* Data-parallel sharding: each epoch's permutation is dealt into shard_count
     * disjoint, equal shards (the remainder dropped so every shard has the same number
     * of batches) and this iterator walks shard shard_index: positions shard_index,
     * shard_index + shard_count, ... of the permutation. So with batch_size b, batch t
     * of all the shards together is exactly batch t of one unsharded iterator with
     * batch_size shard_count b. Default 0 of 1. */
    int shard_index, shard_count;
} nb_batch_opts;

typedef struct nb_batches nb_batches;

/* An iterator over ds (which must outlive it), with its batch tensors preallocated:
 * [batch_size, ...] for x and y ([shard size, ...] if that is smaller). It starts at
 * epoch 0, so the first nb_batches_start(it, 0) is optional. NULL and NB_ERR_NULL for a
 * NULL ds, NB_ERR_ARG for bad options (a negative batch_size, a shard_index outside
 * [0, shard_count)), NB_ERR_NOMEM. NULL is allowed in nb_batches_free. */
nb_batches *nb_batches_new(const nb_dataset *ds, nb_batch_opts opts);
void nb_batches_free(nb_batches *it);

/* Starts epoch `epoch` (>= 0, NB_ERR_ARG otherwise): computes its permutation (identity
 * without shuffle), O(N), no allocation. */
nb_status nb_batches_start(nb_batches *it, int64_t epoch);

/* Gathers the next batch and points *x and *y (y NULL without targets) at it:
 * persistent tensors owned by the iterator, valid until the next call; the last
 * partial batch has a smaller first dimension (a second header over the same buffer).
 * Returns false (and sets *x, *y to NULL) when the epoch is done, until the next
 * nb_batches_start. Allocates nothing; the gather is split across threads for big
 * batches. */
bool nb_batches_next(nb_batches *it, nb_tensor **x, nb_tensor **y);

/* Batches per epoch, and the sample indices of the last batch returned (its rows in
 * the data set), for callers that need them. */
int64_t nb_batches_count(const nb_batches *it);
const int64_t *nb_batches_indices(const nb_batches *it, int64_t *n);

/* ---- IDX files ((Fashion-)MNIST), gzipped or not ---- */

typedef struct nb_idx_opts {
    bool raw;   /* keep pixel values 0..255 instead of scaling to [0, 1] */
} nb_idx_opts;

/* Reads an IDX file (big-endian magic 0x00 0x00 type ndim, dimensions, data), plain or
 * gzip-compressed (decompressed by zlib; detected from the content, not the name).
 * Types 0x08 (unsigned byte), 0x09 (signed byte), 0x0B (int16), 0x0C (int32), 0x0D
 * (float32), 0x0E (float64). Unsigned byte data is scaled to [0, 1] unless opts->raw
 * (load a label file with .raw = true); other types are converted to float.
 * Returns a persistent tensor of the file's shape, or NULL with NB_ERR_IO and
 * "idx_load: '<path>': <problem>": cannot open or read it (a directory), an empty
 * file, not gzip and not IDX (bad magic), an unknown data type, a rank of 0 or above
 * NB_MAX_DIMS, dimensions whose product overflows (above 2^48 elements), a truncated
 * header, data shorter or longer than the dimensions say, a corrupt or truncated gzip
 * stream, stray bytes after it. NB_ERR_NOMEM if the tensor cannot be allocated. No
 * allocation is larger than what the file can hold. opts may be NULL. */
nb_tensor *nb_idx_load(const char *path, const nb_idx_opts *opts);

/* nb_idx_load on the n bytes at buf (plain or gzip), with `name` (NULL: "<memory>") in
 * messages in place of the path. For data already in memory, and for fuzzing. */
nb_tensor *nb_idx_load_mem(const void *buf, size_t n, const char *name,
                           const nb_idx_opts *opts);

/* An image file [N, H, W] (or [N, C, H, W]) and a label file [N] as a data set owning
 * x [N, 1, H, W] (NCHW; pixels scaled as by nb_idx_load) and y [N] (class indices, never
 * scaled). Errors as for nb_idx_load ("idx_load_pair: '<path>': ..."), and NB_ERR_IO for
 * files of other ranks or if N differs between the files. */
nb_dataset *nb_idx_load_pair(const char *images, const char *labels, const nb_idx_opts *opts);

/* ---- CSV files ---- */

typedef struct nb_csv_opts {
    char delimiter;          /* default ',' */
    bool header;             /* the first line names the columns */
    /* The target columns, by name (needs header) or by index (0-based); none: the data
     * set has inputs only. At most 16. Names are used if any of the first n_labels
     * label_names is set, indices otherwise. */
    const char *label_names[16];
    int label_indices[16];
    int n_labels;            /* entries used in label_names (if header) or label_indices */
} nb_csv_opts;

/* Reads a numeric table: every cell a number (strtod's syntax in the C locale; NaN,
 * infinities and values outside float's range are errors), plain or gzip-compressed.
 * Leading and trailing spaces of a cell are ignored, so are blank lines at the end, a
 * UTF-8 byte order mark and \r\n line ends. A cell may be quoted ("1.5", "a ""b""";
 * a delimiter inside quotes is text) but may not span lines. The first line (the
 * header, or the first row) fixes the number of columns. Returns a data set owning
 * x [rows, features] (the columns that are not labels, in file order) and y [rows,
 * labels] (in the order asked for; NULL without label columns), or NULL with NB_ERR_IO
 * and "csv_load: '<path>': <problem>" naming the line and column (1-based, with the
 * header's name) of the first empty or non-numeric cell, a row with the wrong number
 * of cells, a blank line before more data, an unclosed quote, a label column that does
 * not exist, an empty file or one without data rows. NB_ERR_ARG for bad options (a
 * quote or line end as delimiter, n_labels outside [0, 16], names without header, a
 * negative index, a column chosen twice, no feature column left). opts may be NULL. */
nb_dataset *nb_csv_load(const char *path, const nb_csv_opts *opts);

/* nb_csv_load on the n bytes at buf (plain or gzip), with `name` (NULL: "<memory>") in
 * messages in place of the path. */
nb_dataset *nb_csv_load_mem(const void *buf, size_t n, const char *name,
                            const nb_csv_opts *opts);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_DATA_H */
