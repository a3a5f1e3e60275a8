/*
 * nabla/io.h - checkpoints: parameter stores in the safetensors format.
 *
 * A checkpoint is one safetensors file (docs/checkpoints.md):
 *
 *     [8 bytes: N, little-endian] [N bytes: JSON header, space-padded] [data]
 *
 * The header maps each tensor's name to {"dtype": "F32", "shape": [..], "data_offsets":
 * [begin, end]} (byte offsets into the data), plus an optional "__metadata__" object of
 * string values. Any safetensors reader opens the files nabla writes, and nabla loads
 * any valid safetensors file whose tensors are F32 (in any order, with any metadata).
 *
 * A checkpoint holds one or more parameter stores (nabla/params.h), each under a name
 * prefix, and string metadata (the training position, user keys):
 *
 *     nb_meta *meta = nb_meta_new();
 *     nb_meta_set_u64(meta, "epoch", epoch);
 *     nb_checkpoint_part parts[] = {{"", model}, {"optim.", nb_optim_state(opt)}};
 *     nb_checkpoint_save("run.safetensors", parts, 2, meta);
 *     ...
 *     nb_meta *got = NULL;
 *     if (nb_checkpoint_load("run.safetensors", parts, 2, NULL, &got) != NB_OK)
 *         fprintf(stderr, "%s\n", nb_error());  // "checkpoint_load: 'run.safetensors': ..."
 *     nb_meta_get_u64(got, "epoch", &epoch);
 *     nb_meta_free(got);
 *
 * Saving is atomic: the file is written as "<path>.tmp.<pid>" in the same directory,
 * flushed to disk (fsync), renamed over `path`, and the directory is synced. A process
 * killed at any moment leaves either the old checkpoint or the new one at `path` (and
 * perhaps a stale temp file, which is never read as a checkpoint).
 *
 * Loading checks the whole file before it writes anything: on any error every store
 * is left as it was. Errors name the file and what is wrong: NB_ERR_IO for a file that
 * cannot be read or is malformed (a header length beyond the file, JSON that does not
 * parse -- with its line and column --, offsets outside the data, overlapping or leaving
 * gaps, a byte count that disagrees with the shape, a duplicate name, metadata that is
 * not a string), NB_ERR_SHAPE for a tensor whose shape differs from its entry (both
 * shapes named), NB_ERR_ARG for a tensor of another dtype or a missing or extra tensor
 * (named; see nb_checkpoint_load_opts), NB_ERR_NOMEM.
 *
 * Memory comes from nb_alloc, the JSON library's included (while a call runs, jansson's
 * allocator is set to nabla's and then restored: do not use jansson from another thread
 * during a save or load). Files are little-endian; nabla assumes a little-endian host.
 */
#ifndef NABLA_IO_H
#define NABLA_IO_H

#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- metadata: an ordered map of strings ---------------------------------------------
 *
 * Keys and values are NUL-terminated UTF-8. Conventional keys for the training position
 * (what an exact resume needs): "epoch" (epochs finished), "step" (optimizer steps
 * taken), "shuffle_seed" (the seed of the data set's shuffling). Numbers are stored as
 * decimal text (floats with 17 significant digits, so they read back exactly).
 */
typedef struct nb_meta nb_meta;

/* An empty map, or NULL (NB_ERR_NOMEM). */
nb_meta *nb_meta_new(void);

/* Releases the map. NULL is allowed. */
void nb_meta_free(nb_meta *m);

/* Sets key to a copy of value, replacing an earlier value (the key keeps its place).
 * NB_ERR_NULL for a NULL map, key or value; NB_ERR_ARG for a key or value that is not
 * valid UTF-8; NB_ERR_NOMEM (map unchanged). */
nb_status nb_meta_set(nb_meta *m, const char *key, const char *value);
nb_status nb_meta_set_u64(nb_meta *m, const char *key, uint64_t value);
nb_status nb_meta_set_f64(nb_meta *m, const char *key, double value);

/* The value of key, or NULL if the map (which may be NULL) has none; no error is
 * recorded: not found is an answer. Valid until the key is set again or the map freed. */
const char *nb_meta_get(const nb_meta *m, const char *key);

/* Parses key's value into *out. NB_ERR_ARG, naming the key, if it is missing or is not
 * a whole decimal number in [0, 2^64) (for _u64) or a number strtod reads in full and in
 * range, "inf" and "nan" included (for _f64); *out is unchanged then. */
nb_status nb_meta_get_u64(const nb_meta *m, const char *key, uint64_t *out);
nb_status nb_meta_get_f64(const nb_meta *m, const char *key, double *out);

/* Entries in the order they were first set (a loaded map: the file's order). */
int64_t nb_meta_count(const nb_meta *m);
const char *nb_meta_key(const nb_meta *m, int64_t i);    /* NULL for a bad index */
const char *nb_meta_value(const nb_meta *m, int64_t i);  /* NULL for a bad index */

/* ---- checkpoints ------------------------------------------------------------------ */

/* A store saved under a name prefix: entry "dense_1.kernel" of a part with prefix
 * "optim." is the tensor "optim.dense_1.kernel" of the file. NULL or "" for none. A
 * prefix holds the characters of entry names ([A-Za-z0-9_.:/-]). */
typedef struct nb_checkpoint_part {
    const char *prefix;
    nb_params *params;
} nb_checkpoint_part;

/* How strict a load is. NULL, or every field false, is strict. */
typedef struct nb_checkpoint_load_opts {
    bool allow_missing;  /* entries the file lacks keep their values */
    bool allow_extra;    /* tensors of the file no entry asks for are ignored (any dtype) */
} nb_checkpoint_load_opts;

/* Writes every entry of parts[0..n) (parameters and buffers, values only) and the
 * metadata `meta` (NULL for none) to `path`, atomically (see above). A part's tensors
 * come in its value arena's order -- parameters, then buffers -- so its data is one
 * write of nb_params_values. Stores need not be finalized.
 *
 * Errors, with `path` left as it was and no temp file left behind: NB_ERR_NULL for a NULL
 * path, parts (with n > 0) or store; NB_ERR_ARG for n < 0, a bad prefix, two tensors with
 * the same full name, or the name "__metadata__"; NB_ERR_IO, naming the file and the
 * system's reason, when it cannot be written (the temp file is removed); NB_ERR_NOMEM.
 * If only the final fsync of the directory fails, the new file is in place but may not
 * survive a power cut: NB_ERR_IO says so. */
nb_status nb_checkpoint_save(const char *path, const nb_checkpoint_part *parts, int n,
                             const nb_meta *meta);

/* Reads `path` into the stores of parts[0..n): each entry takes the values of the
 * file's tensor named prefix + name, which must be F32 and have the entry's shape.
 * Tensors may come in any order. If meta is not NULL, *meta receives the file's
 * metadata (an empty map if it has none; the caller frees it), or NULL on error.
 *
 * The file is checked in full, and read into a temporary buffer, before any store is
 * written: on error every store is unchanged. Errors as listed at the top of this
 * header; NB_ERR_NULL for a NULL path, parts (with n > 0) or store, NB_ERR_ARG for
 * n < 0, a bad prefix or two entries with the same full name. */
nb_status nb_checkpoint_load(const char *path, const nb_checkpoint_part *parts, int n,
                             const nb_checkpoint_load_opts *opts, nb_meta **meta);

/* The same from a whole file held in memory (size bytes at data); messages name it
 * "<memory>". */
nb_status nb_checkpoint_load_mem(const void *data, size_t size,
                                 const nb_checkpoint_part *parts, int n,
                                 const nb_checkpoint_load_opts *opts, nb_meta **meta);

/* One store, no prefix, no metadata, strict: nb_checkpoint_save / nb_checkpoint_load. */
nb_status nb_params_save(const char *path, const nb_params *ps);
nb_status nb_params_load(const char *path, nb_params *ps);

/* ---- reading a file's header (for tools) ------------------------------------------ */

typedef struct nb_safetensors nb_safetensors;

/* A tensor as the header describes it. */
typedef struct nb_safetensors_tensor {
    const char *name;
    const char *dtype;      /* "F32", "F16", "BF16", "I64", ... as in the file */
    int ndim;
    const int64_t *shape;   /* ndim dimensions */
    int64_t numel;          /* product of the shape */
    uint64_t begin, end;    /* bytes [begin, end) of the data section */
} nb_safetensors_tensor;

/* Reads and checks the header of `path` (the data is not read, but the offsets are
 * checked against the file's size): the checks of nb_checkpoint_load that do not depend
 * on a store. Any dtype of the format is accepted (an unknown one is NB_ERR_IO). Returns
 * NULL and an error as for nb_checkpoint_load. */
nb_safetensors *nb_safetensors_open(const char *path);

/* The same for a whole file in memory; nothing points into `data` afterwards. */
nb_safetensors *nb_safetensors_open_mem(const void *data, size_t size);

/* Releases it. NULL is allowed. */
void nb_safetensors_close(nb_safetensors *st);

/* Tensors in the header's order (the order a writer put them in). */
int64_t nb_safetensors_count(const nb_safetensors *st);
/* Tensor i, or NULL for a bad index. Valid until nb_safetensors_close. */
const nb_safetensors_tensor *nb_safetensors_at(const nb_safetensors *st, int64_t i);
/* The index of the tensor named `name`, or -1. */
int64_t nb_safetensors_find(const nb_safetensors *st, const char *name);
/* The file's metadata (never NULL for an open file; possibly empty), owned by st. */
const nb_meta *nb_safetensors_meta(const nb_safetensors *st);
/* Bytes of the data section, and where it starts in the file (8 + N). */
uint64_t nb_safetensors_data_size(const nb_safetensors *st);
uint64_t nb_safetensors_data_start(const nb_safetensors *st);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_IO_H */
