/*
 * src/data/idx.c - IDX files, the format of (Fashion-)MNIST: a magic number
 * 00 00 <type> <rank>, then <rank> big-endian uint32 dimensions, then the elements in
 * row-major order, big-endian. Types: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
 * 0x0C int32, 0x0D float32, 0x0E float64.
 *
 * Everything the file says is checked before it is believed: the rank, each
 * dimension, their product (against overflow and against how much data the file can
 * hold, so a short file never causes a huge allocation), and that the data ends
 * exactly where the dimensions say.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nabla/data.h"

#include "data_internal.h"
#include "source.h"

#define CHUNK ((size_t)1 << 16) /* a multiple of every element size */

/* Bytes per element of an IDX type, 0 if the type is unknown. */
static int type_size(int type)
{
    switch (type) {
    case 0x08:
    case 0x09:
        return 1;
    case 0x0B:
        return 2;
    case 0x0C:
    case 0x0D:
        return 4;
    case 0x0E:
        return 8;
    default:
        return 0;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* out[i] = element i of the n big-endian elements at p. */
static void convert(float *out, const unsigned char *p, int64_t n, int type, bool scale)
{
    switch (type) {
    case 0x08:
        for (int64_t i = 0; i < n; i++)
            out[i] = scale ? (float)p[i] / 255.0f : (float)p[i];
        break;
    case 0x09:
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)(int8_t)p[i];
        break;
    case 0x0B:
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)(int16_t)(uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
        break;
    case 0x0C:
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)(int32_t)be32(p + 4 * i);
        break;
    case 0x0D:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = be32(p + 4 * i);
            memcpy(&out[i], &u, sizeof u);
        }
        break;
    default: /* 0x0E */
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = be64(p + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            /* Out of float's range: the infinity IEEE rounding gives, without C's UB. */
            out[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
        }
        break;
    }
}

/* Reads exactly n bytes; on a short read records "<what>: ..." and returns false. */
static bool read_exact(nb_source *s, void *dst, size_t n, const char *what)
{
    int64_t got = nb_source_read(s, dst, n);
    if (got < 0)
        return false;
    if ((size_t)got == n)
        return true;
    if (got == 0 && s->given == 0)
        nb_source_error(s, NB_ERR_IO, "empty file (no IDX header)");
    else
        nb_source_error(s, NB_ERR_IO, "truncated %s: %lld of %zu bytes", what,
                        (long long)got, n);
    return false;
}

/* The loader: `pair` names the role for nb_idx_load_pair ("images" inserts the channel
 * dimension of [N, H, W], "labels" keeps the values raw); NULL for nb_idx_load. */
static nb_tensor *idx_read(nb_source *s, const nb_idx_opts *opts, const char *pair)
{
    unsigned char head[4 + 4 * NB_MAX_DIMS];
    if (!read_exact(s, head, 4, "header"))
        return NULL;
    if (head[0] != 0 || head[1] != 0) {
        nb_source_error(s, NB_ERR_IO, "not an IDX file (and not gzip): bad magic "
                        "%02x %02x %02x %02x, expected 00 00 <type> <rank>", head[0],
                        head[1], head[2], head[3]);
        return NULL;
    }
    int type = head[2], rank = head[3], esize = type_size(type);
    if (esize == 0) {
        nb_source_error(s, NB_ERR_IO, "unknown IDX data type 0x%02x (expected 0x08 ubyte, "
                        "0x09 byte, 0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64)",
                        type);
        return NULL;
    }
    if (rank == 0 || rank > NB_MAX_DIMS) {
        nb_source_error(s, NB_ERR_IO, "rank %d is outside [1, %d]", rank, NB_MAX_DIMS);
        return NULL;
    }
    if (!read_exact(s, head + 4, 4 * (size_t)rank, "header (the dimensions)"))
        return NULL;
    int64_t dims[NB_MAX_DIMS], total = 1;
    bool empty = false, overflow = false;
    for (int i = 0; i < rank; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        if (dims[i] == 0)
            empty = true;
        else if (total > NB_SIZE_MAX / dims[i])
            overflow = true;
        else
            total *= dims[i];
    }
    char shape_str[160];
    nb_shape_str(rank, dims, shape_str, sizeof shape_str);
    if (overflow) {
        nb_source_error(s, NB_ERR_IO, "dimensions %s hold more than 2^%d elements (their "
                        "product overflows)", shape_str, NB_SIZE_MAX_LOG2);
        return NULL;
    }
    if (empty)
        total = 0;
    uint64_t data_bytes = (uint64_t)total * (uint64_t)esize;
    uint64_t header_bytes = 4 + 4 * (uint64_t)rank;
    uint64_t room = s->limit > header_bytes ? s->limit - header_bytes : 0;
    if (data_bytes > room) {
        if (s->gzip)
            nb_source_error(s, NB_ERR_IO, "truncated data: the dimensions %s need %llu bytes, "
                            "more than this gzip file can hold", shape_str,
                            (unsigned long long)data_bytes);
        else
            nb_source_error(s, NB_ERR_IO, "truncated data: the dimensions %s need %llu bytes, "
                            "the file has %llu", shape_str, (unsigned long long)data_bytes,
                            (unsigned long long)room);
        return NULL;
    }

    /* The tensor's shape: images [N, H, W] get a channel dimension for NCHW. */
    int64_t shape[NB_MAX_DIMS];
    int ndim = rank;
    memcpy(shape, dims, sizeof(int64_t) * (size_t)rank);
    if (pair && strcmp(pair, "images") == 0 && rank == 3) {
        shape[0] = dims[0];
        shape[1] = 1;
        shape[2] = dims[1];
        shape[3] = dims[2];
        ndim = 4;
    }
    bool scale = !(opts && opts->raw) && !(pair && strcmp(pair, "labels") == 0);
    nb_tensor *t = nb_tensor_zeros(ndim, shape);
    unsigned char *buf = t ? nb_alloc(CHUNK, 0) : NULL;
    if (!buf) {
        nb_tensor_free(t);
        return NULL;
    }
    int64_t done = 0;
    while (done < total) {
        int64_t k = total - done;
        if (k > (int64_t)(CHUNK / (size_t)esize))
            k = (int64_t)(CHUNK / (size_t)esize);
        size_t bytes = (size_t)k * (size_t)esize;
        int64_t got = nb_source_read(s, buf, bytes);
        if (got >= 0 && (size_t)got != bytes)
            nb_source_error(s, NB_ERR_IO, "truncated data: %llu of the %llu bytes the "
                            "dimensions %s need",
                            (unsigned long long)((uint64_t)done * (uint64_t)esize +
                                                 (uint64_t)got),
                            (unsigned long long)data_bytes, shape_str);
        if (got < 0 || (size_t)got != bytes) {
            nb_free(buf);
            nb_tensor_free(t);
            return NULL;
        }
        convert(t->data + done, buf, k, type, scale);
        done += k;
    }
    /* The data must end here (reading on also checks a gzip stream's trailer). */
    int64_t more = nb_source_read(s, buf, 1);
    nb_free(buf);
    if (more != 0) {
        if (more > 0)
            nb_source_error(s, NB_ERR_IO, "trailing data: the file is longer than the "
                            "%llu bytes of data its dimensions %s say",
                            (unsigned long long)data_bytes, shape_str);
        nb_tensor_free(t);
        return NULL;
    }
    return t;
}

nb_tensor *nb_idx_load(const char *path, const nb_idx_opts *opts)
{
    nb_source s;
    nb_tensor *t = NULL;
    if (nb_source_open_file(&s, "idx_load", path) == NB_OK)
        t = idx_read(&s, opts, NULL);
    nb_source_close(&s);
    return t;
}

nb_tensor *nb_idx_load_mem(const void *buf, size_t n, const char *name, const nb_idx_opts *opts)
{
    nb_source s;
    nb_tensor *t = NULL;
    if (nb_source_open_mem(&s, "idx_load", buf, n, name) == NB_OK)
        t = idx_read(&s, opts, NULL);
    nb_source_close(&s);
    return t;
}

/* Loads one file of a pair and checks its rank. */
static nb_tensor *load_part(const char *path, const nb_idx_opts *opts, const char *role)
{
    nb_source s;
    nb_tensor *t = NULL;
    if (nb_source_open_file(&s, "idx_load_pair", path) == NB_OK)
        t = idx_read(&s, opts, role);
    bool images = strcmp(role, "images") == 0;
    if (t && (images ? t->ndim != 4 : t->ndim != 1)) {
        char b[128];
        nb_source_error(&s, NB_ERR_IO, "%s of shape %s: expected %s", role,
                        nb_tensor_shape_str(t, b, sizeof b),
                        images ? "[N, H, W] or [N, C, H, W]" : "labels [N]");
        nb_tensor_free(t);
        t = NULL;
    }
    nb_source_close(&s);
    return t;
}

nb_dataset *nb_idx_load_pair(const char *images, const char *labels, const nb_idx_opts *opts)
{
    nb_tensor *x = load_part(images, opts, "images");
    nb_tensor *y = x ? load_part(labels, opts, "labels") : NULL;
    if (!y) {
        nb_tensor_free(x);
        return NULL;
    }
    if (x->shape[0] != y->shape[0]) {
        nb_set_error(NB_ERR_IO, "idx_load_pair: '%s' has %lld images but '%s' has %lld labels",
                     images, (long long)x->shape[0], labels, (long long)y->shape[0]);
        nb_tensor_free(x);
        nb_tensor_free(y);
        return NULL;
    }
    nb_dataset *ds = nb_dataset_new(x, y, true);
    if (!ds) {
        nb_tensor_free(x);
        nb_tensor_free(y);
    }
    return ds;
}
