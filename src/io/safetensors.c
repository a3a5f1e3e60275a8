/*
 * src/io/safetensors.c - the safetensors header: reading, checking, listing.
 *
 * A file is [N: 8 bytes, little-endian][N bytes of JSON][data]. The JSON is parsed by
 * jansson (duplicate keys rejected); everything it says is checked against the size of
 * the data before anything else looks at it, so later code can trust every offset.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_impl.h"

struct nb_safetensors {
    int64_t n;
    nb_safetensors_tensor *t;  /* n tensors, in the header's order */
    nb_meta *meta;
    uint64_t data_start, data_size;
    void *block;               /* holds t, the shapes and the names */
};

/* The dtypes of the format and their sizes in bytes. */
static const struct {
    const char *name;
    unsigned size;
} dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

/* ---- errors and jansson's allocator ---- */

nb_status io_error(const io_ctx *c, nb_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->path)
        return nb_set_error(code, "%s: '%.200s': %s", c->fn, c->path, msg);
    return nb_set_error(code, "%s: <memory>: %s", c->fn, msg);
}

static bool json_nomem;

static void *json_alloc_nb(size_t n)
{
    void *p = nb_alloc(n, 16);
    if (!p)
        json_nomem = true;
    return p;
}

static void json_free_nb(void *p) { nb_free(p); }

void io_json_begin(io_json_scope *s)
{
    json_get_alloc_funcs(&s->malloc_fn, &s->free_fn);
    json_set_alloc_funcs(json_alloc_nb, json_free_nb);
    json_nomem = false;
}

void io_json_end(const io_json_scope *s) { json_set_alloc_funcs(s->malloc_fn, s->free_fn); }

bool io_json_nomem(void) { return json_nomem; }

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

void io_shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t used = 0;
    int k = snprintf(buf, n, "[");
    used = k > 0 ? (size_t)k : 0;
    for (int i = 0; i < ndim && used < n; i++) {
        k = snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)shape[i]);
        used += k > 0 ? (size_t)k : 0;
    }
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* The shape array of the header as "[2,3]" (its entries are known to be integers). */
static void json_shape_str(const json_t *sh, char *buf, size_t n)
{
    int64_t dims[8];
    size_t nd = json_array_size(sh);
    for (size_t i = 0; i < nd && i < 8; i++)
        dims[i] = (int64_t)json_integer_value(json_array_get(sh, i));
    io_shape_str(nd < 8 ? (int)nd : 8, dims, buf, n);
    size_t len = strlen(buf);
    if (nd > 8 && len >= 1 && n > len + 4)
        memcpy(buf + len - 1, ",...]", 6);
}

/* ---- checking the header ---- */

/* A non-negative JSON integer into *x. */
static bool get_count(const json_t *v, uint64_t *x)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *x = (uint64_t)json_integer_value(v);
    return true;
}

/* Checks the header's entry for tensor `name` against a data section of data_size
 * bytes and fills *t (its name and shape pointer are left alone); writes the shape to
 * `shape` if it is not NULL. */
static nb_status check_tensor(const io_ctx *c, const char *name, const json_t *v,
                              uint64_t data_size, nb_safetensors_tensor *t, int64_t *shape)
{
    if (!json_is_object(v))
        return io_error(c, NB_ERR_IO, "tensor '%.100s': its entry is a JSON %s, not an object",
                        name, json_type_name(v));
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return io_error(c, NB_ERR_IO, "tensor '%.100s': \"dtype\" is missing or not a string",
                        name);
    unsigned esize = 0;
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (strcmp(json_string_value(dt), dtypes[k].name) == 0) {
            t->dtype = dtypes[k].name;
            esize = dtypes[k].size;
        }
    if (!esize)
        return io_error(c, NB_ERR_IO, "tensor '%.100s': unknown dtype '%.20s'", name,
                        json_string_value(dt));
    if (!json_is_array(sh))
        return io_error(c, NB_ERR_IO, "tensor '%.100s': \"shape\" is missing or not an array",
                        name);
    size_t nd = json_array_size(sh);
    uint64_t numel = 1;
    bool zero = false, over = false;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (!get_count(json_array_get(sh, i), &d))
            return io_error(c, NB_ERR_IO, "tensor '%.100s': shape[%zu] is not a non-negative "
                            "integer", name, i);
        if (d == 0)
            zero = true;
        else if (numel > UINT64_MAX / d)
            over = true;
        else
            numel *= d;
        if (shape)
            shape[i] = (int64_t)d;
    }
    if (zero)
        numel = 0, over = false;
    uint64_t begin, end;
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !get_count(json_array_get(off, 0), &begin) || !get_count(json_array_get(off, 1), &end))
        return io_error(c, NB_ERR_IO, "tensor '%.100s': \"data_offsets\" is missing or not "
                        "two non-negative integers", name);
    if (begin > end || end > data_size)
        return io_error(c, NB_ERR_IO, "tensor '%.100s': data_offsets [%llu, %llu] lie outside "
                        "the data section [0, %llu)", name, (unsigned long long)begin,
                        (unsigned long long)end, (unsigned long long)data_size);
    if (over || numel > (end - begin) / esize || numel * esize != end - begin) {
        char s[96];
        json_shape_str(sh, s, sizeof s);
        char need[32];
        if (over || numel > UINT64_MAX / esize)
            snprintf(need, sizeof need, "more than 2^64");
        else
            snprintf(need, sizeof need, "%llu", (unsigned long long)(numel * esize));
        return io_error(c, NB_ERR_IO, "tensor '%.100s': shape %s of %s needs %s bytes but "
                        "data_offsets [%llu, %llu] hold %llu", name, s, t->dtype, need,
                        (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin));
    }
    t->ndim = (int)nd;
    t->numel = (int64_t)numel;  /* numel * esize <= data_size < 2^63 */
    t->begin = begin;
    t->end = end;
    return NB_OK;
}

static nb_status check_meta(const io_ctx *c, const json_t *v)
{
    if (json_is_null(v))
        return NB_OK;
    if (!json_is_object(v))
        return io_error(c, NB_ERR_IO, "\"__metadata__\" is a JSON %s, not an object of "
                        "strings", json_type_name(v));
    const char *key;
    const json_t *x;
    json_object_foreach((json_t *)v, key, x) {
        if (!json_is_string(x))
            return io_error(c, NB_ERR_IO, "\"__metadata__\": '%.100s' is a JSON %s, not a "
                            "string", key, json_type_name(x));
    }
    return NB_OK;
}

/* t[a] sorts before t[b]: by begin, then end, then place in the header (so messages
 * do not depend on the sort). */
static bool before(const nb_safetensors_tensor *t, int64_t a, int64_t b)
{
    if (t[a].begin != t[b].begin)
        return t[a].begin < t[b].begin;
    if (t[a].end != t[b].end)
        return t[a].end < t[b].end;
    return a < b;
}

static void sift_down(int64_t *h, int64_t i, int64_t n, const nb_safetensors_tensor *t)
{
    for (;;) {
        int64_t l = 2 * i + 1, m = i;
        if (l < n && before(t, h[m], h[l]))
            m = l;
        if (l + 1 < n && before(t, h[m], h[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        int64_t tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* The tensors must tile the data section: sorted by offset, each begins where the one
 * before it ends, the first at 0 and the last at the end. */
static nb_status check_tiling(const io_ctx *c, const nb_safetensors *st)
{
    int64_t n = st->n;
    if (n == 0) {
        if (st->data_size == 0)
            return NB_OK;
        return io_error(c, NB_ERR_IO, "bytes [0, %llu) of the data section belong to no "
                        "tensor", (unsigned long long)st->data_size);
    }
    int64_t *h = nb_alloc((size_t)n * sizeof *h, 0);
    if (!h)
        return io_error(c, NB_ERR_NOMEM, "out of memory checking the offsets of %lld tensors",
                        (long long)n);
    for (int64_t i = 0; i < n; i++)
        h[i] = i;
    for (int64_t i = n / 2 - 1; i >= 0; i--)
        sift_down(h, i, n, st->t);
    for (int64_t end = n - 1; end > 0; end--) {
        int64_t tmp = h[0];
        h[0] = h[end];
        h[end] = tmp;
        sift_down(h, 0, end, st->t);
    }
    nb_status s = NB_OK;
    uint64_t at = 0;
    for (int64_t k = 0; k < n && s == NB_OK; k++) {
        const nb_safetensors_tensor *t = &st->t[h[k]];
        if (t->begin < at) {
            const nb_safetensors_tensor *p = &st->t[h[k - 1]];
            s = io_error(c, NB_ERR_IO, "tensors '%.80s' [%llu, %llu) and '%.80s' [%llu, %llu) "
                         "overlap", p->name, (unsigned long long)p->begin,
                         (unsigned long long)p->end, t->name, (unsigned long long)t->begin,
                         (unsigned long long)t->end);
        } else if (t->begin > at) {
            s = io_error(c, NB_ERR_IO, "bytes [%llu, %llu) of the data section belong to no "
                         "tensor", (unsigned long long)at, (unsigned long long)t->begin);
        }
        at = t->end;
    }
    if (s == NB_OK && at != st->data_size)
        s = io_error(c, NB_ERR_IO, "bytes [%llu, %llu) of the data section belong to no "
                     "tensor", (unsigned long long)at, (unsigned long long)st->data_size);
    nb_free(h);
    return s;
}

/* Builds the index of a parsed header (an object). */
static nb_status build(const io_ctx *c, json_t *root, uint64_t data_start, uint64_t data_size,
                       nb_safetensors **out)
{
    if (!json_is_object(root))
        return io_error(c, NB_ERR_IO, "the header is a JSON %s, not an object",
                        json_type_name(root));
    /* Pass 1: check every entry, and count. */
    int64_t n = 0;
    size_t name_bytes = 0, dims = 0;
    const json_t *md = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        nb_status s;
        if (strcmp(key, "__metadata__") == 0) {
            if ((s = check_meta(c, v)) != NB_OK)
                return s;
            md = v;
            continue;
        }
        nb_safetensors_tensor t;
        if ((s = check_tensor(c, key, v, data_size, &t, NULL)) != NB_OK)
            return s;
        n++;
        name_bytes += strlen(key) + 1;
        dims += (size_t)t.ndim;
    }

    /* Pass 2: one block for the tensors, their shapes and their names (all of it is
     * bounded by the header's length). */
    nb_safetensors *st = nb_alloc(sizeof *st, 0);
    if (!st)
        return io_error(c, NB_ERR_NOMEM, "out of memory reading the header");
    memset(st, 0, sizeof *st);
    st->data_start = data_start;
    st->data_size = data_size;
    size_t tbytes = (size_t)n * sizeof(nb_safetensors_tensor);
    size_t total = tbytes + dims * sizeof(int64_t) + name_bytes;
    st->meta = nb_meta_new();
    st->block = nb_alloc(total ? total : 1, 0);  /* never NULL: no arithmetic on NULL */
    if (!st->meta || !st->block) {
        nb_safetensors_close(st);
        return io_error(c, NB_ERR_NOMEM, "out of memory reading the header");
    }
    st->t = st->block;
    int64_t *shapes = (int64_t *)(void *)((char *)st->block + tbytes);
    char *names = (char *)(shapes + dims);
    int64_t i = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        nb_safetensors_tensor *t = &st->t[i++];
        check_tensor(c, key, v, data_size, t, shapes); /* passed above */
        t->shape = shapes;
        shapes += t->ndim;
        size_t len = strlen(key);
        memcpy(names, key, len + 1);
        t->name = names;
        names += len + 1;
    }
    st->n = n;
    if (md && json_is_object(md)) {
        const json_t *x;
        json_object_foreach((json_t *)md, key, x) {
            if (nb_meta_set(st->meta, key, json_string_value(x)) != NB_OK) {
                nb_status s = nb_error_code() == NB_ERR_NOMEM
                                  ? io_error(c, NB_ERR_NOMEM, "out of memory reading the "
                                             "metadata")
                                  : io_error(c, NB_ERR_IO, "\"__metadata__\": %s", nb_error());
                nb_safetensors_close(st);
                return s;
            }
        }
    }
    nb_status s = check_tiling(c, st);
    if (s != NB_OK) {
        nb_safetensors_close(st);
        return s;
    }
    *out = st;
    return NB_OK;
}

nb_status io_parse_header(const io_ctx *c, const char *header, size_t n, uint64_t data_size,
                          nb_safetensors **out)
{
    *out = NULL;
    io_json_scope scope;
    io_json_begin(&scope);
    json_error_t jerr;
    json_t *root = json_loadb(header, n, JSON_REJECT_DUPLICATES, &jerr);
    nb_status s;
    /* An allocation that failed inside jansson means NB_ERR_NOMEM even if it returned a
     * value: its lexer drops a character it cannot store and carries on. */
    if (io_json_nomem() || !root) {
        if (io_json_nomem())
            s = io_error(c, NB_ERR_NOMEM, "out of memory parsing the header");
        else
            s = io_error(c, NB_ERR_IO, "the header is not valid JSON: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
    } else {
        s = build(c, root, 8 + (uint64_t)n, data_size, out);
    }
    json_decref(root);
    io_json_end(&scope);
    return s;
}

nb_status io_header_length(const io_ctx *c, const unsigned char first[8], uint64_t size,
                           uint64_t *n)
{
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)first[k] << (8 * k);
    if (x > IO_HEADER_MAX)
        return io_error(c, NB_ERR_IO, "header length %llu is larger than the limit of %u bytes",
                        (unsigned long long)x, IO_HEADER_MAX);
    if (x > size - 8)
        return io_error(c, NB_ERR_IO, "header length %llu runs past the end of the file "
                        "(%llu bytes)", (unsigned long long)x, (unsigned long long)size);
    *n = x;
    return NB_OK;
}

/* Reads n bytes at offset `at`; false with errno set (0: the file ended first). */
static bool read_at(int fd, void *buf, size_t n, uint64_t at)
{
    char *p = buf;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : (size_t)1 << 30;
        ssize_t k = pread(fd, p, chunk, (off_t)at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = 0;
            return false;
        }
        p += k;
        at += (uint64_t)k;
        n -= (size_t)k;
    }
    return true;
}

nb_status io_read_at(const io_ctx *c, int fd, void *buf, size_t n, uint64_t at)
{
    if (read_at(fd, buf, n, at))
        return NB_OK;
    if (errno == 0)
        return io_error(c, NB_ERR_IO, "the file ended before byte %llu (was it truncated "
                        "while being read?)", (unsigned long long)(at + n));
    return io_error(c, NB_ERR_IO, "cannot read bytes [%llu, %llu): %s", (unsigned long long)at,
                    (unsigned long long)(at + n), strerror(errno));
}

nb_status io_read_header(const io_ctx *c, int fd, nb_safetensors **out)
{
    *out = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return io_error(c, NB_ERR_IO, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return io_error(c, NB_ERR_IO, "not a regular file");
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8)
        return io_error(c, NB_ERR_IO, "the file is %llu bytes: too short for the 8-byte "
                        "header length", (unsigned long long)size);
    unsigned char first[8];
    uint64_t n;
    nb_status s = io_read_at(c, fd, first, 8, 0);
    if (s == NB_OK)
        s = io_header_length(c, first, size, &n);
    if (s != NB_OK)
        return s;
    char *h = nb_alloc(n ? (size_t)n : 1, 1);
    if (!h)
        return io_error(c, NB_ERR_NOMEM, "out of memory: the header is %llu bytes",
                        (unsigned long long)n);
    s = io_read_at(c, fd, h, (size_t)n, 8);
    if (s == NB_OK)
        s = io_parse_header(c, h, (size_t)n, size - 8 - n, out);
    nb_free(h);
    return s;
}

nb_status io_open_mem(const io_ctx *c, const void *data, size_t size, nb_safetensors **out)
{
    *out = NULL;
    if (!data && size > 0)
        return nb_set_error(NB_ERR_NULL, "%s: data is NULL", c->fn);
    if (size < 8)
        return io_error(c, NB_ERR_IO, "the file is %zu bytes: too short for the 8-byte "
                        "header length", size);
    uint64_t n;
    nb_status s = io_header_length(c, data, size, &n);
    if (s != NB_OK)
        return s;
    return io_parse_header(c, (const char *)data + 8, (size_t)n, size - 8 - n, out);
}

/* ---- the public reader ---- */

nb_safetensors *nb_safetensors_open(const char *path)
{
    if (!path) {
        nb_set_error(NB_ERR_NULL, "safetensors_open: path is NULL");
        return NULL;
    }
    io_ctx c = {"safetensors_open", path};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        io_error(&c, NB_ERR_IO, "cannot open: %s", strerror(errno));
        return NULL;
    }
    nb_safetensors *st;
    io_read_header(&c, fd, &st);
    close(fd);
    return st;
}

nb_safetensors *nb_safetensors_open_mem(const void *data, size_t size)
{
    io_ctx c = {"safetensors_open_mem", NULL};
    nb_safetensors *st;
    io_open_mem(&c, data, size, &st);
    return st;
}

void nb_safetensors_close(nb_safetensors *st)
{
    if (!st)
        return;
    nb_meta_free(st->meta);
    nb_free(st->block);
    nb_free(st);
}

nb_meta *io_take_meta(nb_safetensors *st)
{
    nb_meta *m = st->meta;
    st->meta = NULL;
    return m;
}

int64_t nb_safetensors_count(const nb_safetensors *st) { return st ? st->n : 0; }

const nb_safetensors_tensor *nb_safetensors_at(const nb_safetensors *st, int64_t i)
{
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

int64_t nb_safetensors_find(const nb_safetensors *st, const char *name)
{
    if (!st || !name)
        return -1;
    for (int64_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return i;
    return -1;
}

const nb_meta *nb_safetensors_meta(const nb_safetensors *st) { return st ? st->meta : NULL; }

uint64_t nb_safetensors_data_size(const nb_safetensors *st) { return st ? st->data_size : 0; }

uint64_t nb_safetensors_data_start(const nb_safetensors *st) { return st ? st->data_start : 0; }
