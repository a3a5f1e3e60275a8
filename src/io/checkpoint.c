/*
 * src/io/checkpoint.c - saving and loading parameter stores as safetensors files.
 *
 * Saving builds the whole file's header in memory first (every allocation happens
 * before the temporary file exists), writes it and each store's value arena, syncs,
 * renames and syncs the directory. Loading checks the header (safetensors.c), matches
 * it against the stores, reads the tensors it needs into one temporary buffer, and
 * only then writes the stores.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_impl.h"

#define FULL_NAME_MAX (2 * NB_PARAM_NAME_MAX + 2)

/* ---- parts ---- */

static bool name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}

static const char *prefix_of(const nb_checkpoint_part *p) { return p->prefix ? p->prefix : ""; }

/* True if pa + na == pb + nb. */
static bool full_eq(const char *pa, const char *na, const char *pb, const char *nb)
{
    const char *a = pa, *b = pb;
    bool a2 = false, b2 = false;
    for (;;) {
        if (!*a && !a2) {
            a = na, a2 = true;
            continue;
        }
        if (!*b && !b2) {
            b = nb, b2 = true;
            continue;
        }
        if (*a != *b)
            return false;
        if (!*a)
            return true;
        a++, b++;
    }
}

/* Checks the arguments that save and load share: n, the stores, the prefixes, and
 * that every full name is unique and not "__metadata__". */
static nb_status check_parts(const io_ctx *c, const nb_checkpoint_part *parts, int n)
{
    if (n < 0)
        return nb_set_error(NB_ERR_ARG, "%s: n is %d, expected at least 0", c->fn, n);
    if (n > 0 && !parts)
        return nb_set_error(NB_ERR_NULL, "%s: parts is NULL", c->fn);
    for (int p = 0; p < n; p++) {
        if (!parts[p].params)
            return nb_set_error(NB_ERR_NULL, "%s: part %d has no store (params is NULL)", c->fn,
                                p);
        const char *pre = prefix_of(&parts[p]);
        size_t len = strlen(pre);
        if (len > NB_PARAM_NAME_MAX)
            return nb_set_error(NB_ERR_ARG, "%s: part %d: prefix '%.40s...' is longer than %d "
                                "characters", c->fn, p, pre, NB_PARAM_NAME_MAX);
        for (size_t i = 0; i < len; i++)
            if (!name_char_ok((unsigned char)pre[i]))
                return nb_set_error(NB_ERR_ARG, "%s: part %d: prefix '%s' holds character "
                                    "0x%02x at %zu (allowed: letters, digits and _ . : / -)",
                                    c->fn, p, pre, (unsigned char)pre[i], i);
    }
    for (int p = 0; p < n; p++) {
        const nb_params *ps = parts[p].params;
        const char *pre = prefix_of(&parts[p]);
        for (int64_t i = 0; i < nb_params_count(ps); i++) {
            const char *name = nb_params_name(ps, i);
            if (full_eq(pre, name, "__metadata__", ""))
                return nb_set_error(NB_ERR_ARG, "%s: part %d: the name '__metadata__' is "
                                    "reserved for the metadata", c->fn, p);
            /* Names within one store are unique; compare with the later parts. */
            for (int q = p + 1; q < n; q++) {
                const nb_params *qs = parts[q].params;
                for (int64_t j = 0; j < nb_params_count(qs); j++)
                    if (full_eq(pre, name, prefix_of(&parts[q]), nb_params_name(qs, j)))
                        return nb_set_error(NB_ERR_ARG, "%s: the name '%s%s' comes from part "
                                            "%d and from part %d", c->fn, pre, name, p, q);
            }
        }
    }
    return NB_OK;
}

/* ---- saving ---- */

/* Sets obj[key] = v, consuming v in every case; false on failure. */
static bool set(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0;
}

/* The JSON header of the checkpoint: an object with, in order, the metadata (if any)
 * and every part's tensors in its value arena's order. */
static json_t *header_json(const nb_checkpoint_part *parts, int n, const nb_meta *meta)
{
    json_t *root = json_object();
    bool ok = root != NULL;
    if (ok && nb_meta_count(meta) > 0) {
        json_t *md = json_object();
        ok = set(root, "__metadata__", md);
        for (int64_t i = 0; ok && i < nb_meta_count(meta); i++)
            ok = set(md, nb_meta_key(meta, i), json_string(nb_meta_value(meta, i)));
    }
    uint64_t base = 0;
    for (int p = 0; ok && p < n; p++) {
        const nb_params *ps = parts[p].params;
        for (int kind = NB_PARAM; ok && kind <= NB_BUFFER; kind++) {
            for (int64_t i = 0; ok && i < nb_params_count(ps); i++) {
                if ((int)nb_params_kind(ps, i) != kind)
                    continue;
                const nb_tensor *t = nb_params_at(ps, i);
                char name[FULL_NAME_MAX];
                snprintf(name, sizeof name, "%s%s", prefix_of(&parts[p]), nb_params_name(ps, i));
                uint64_t begin = base + 4 * (uint64_t)nb_params_offset(ps, i);
                uint64_t end = begin + 4 * (uint64_t)t->size;
                /* Each set() consumes its value, so after a failure nothing is used. */
                json_t *e = json_object(), *shape = json_array(), *off = json_array();
                bool e_ok = set(e, "dtype", json_string("F32"));
                e_ok = set(e, "shape", shape) && e_ok;
                e_ok = set(e, "data_offsets", off) && e_ok;
                for (int d = 0; e_ok && d < t->ndim; d++)
                    e_ok = json_array_append_new(shape, json_integer(t->shape[d])) == 0;
                e_ok = e_ok && json_array_append_new(off, json_integer((json_int_t)begin)) == 0;
                e_ok = e_ok && json_array_append_new(off, json_integer((json_int_t)end)) == 0;
                if (e_ok) {
                    ok = set(root, name, e);
                } else {
                    json_decref(e);
                    ok = false;
                }
            }
        }
        base += 4 * (uint64_t)(nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER));
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The file's first 8 + N bytes: the length and the compact JSON padded with spaces to a
 * multiple of 8 (as the reference implementation pads). */
static nb_status header_bytes(const io_ctx *c, const nb_checkpoint_part *parts, int n,
                              const nb_meta *meta, char **out, size_t *out_len)
{
    io_json_scope scope;
    io_json_begin(&scope);
    nb_status s = NB_OK;
    char *buf = NULL;
    size_t len = 0, padded = 0;
    json_t *root = header_json(parts, n, meta);
    if (root)
        len = json_dumpb(root, NULL, 0, JSON_COMPACT);
    if (len > 0) {
        padded = (len + 7) & ~(size_t)7;
        buf = nb_alloc(8 + padded, 0);
        if (buf && json_dumpb(root, buf + 8, len, JSON_COMPACT) != len) {
            nb_free(buf);
            buf = NULL;
        }
    }
    if (buf && io_json_nomem()) {  /* whatever jansson returned (see safetensors.c) */
        nb_free(buf);
        buf = NULL;
    }
    if (!buf)
        s = io_error(c, NB_ERR_NOMEM, "out of memory building the header");
    json_decref(root);
    io_json_end(&scope);
    if (s != NB_OK)
        return s;
    memset(buf + 8 + len, ' ', padded - len);
    for (int k = 0; k < 8; k++)
        buf[k] = (char)(unsigned char)((uint64_t)padded >> (8 * k));
    *out = buf;
    *out_len = 8 + padded;
    return NB_OK;
}

static nb_status write_all(const io_ctx *c, int fd, const void *data, size_t n, const char *tmp)
{
    const char *p = data;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : (size_t)1 << 30;
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return io_error(c, NB_ERR_IO, "cannot write '%.200s': %s", tmp,
                            k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
    }
    return NB_OK;
}

/* fsync of the directory that holds `path` (dir is scratch of strlen(path) + 1 bytes),
 * so the rename survives a power cut. */
static nb_status sync_dir(const io_ctx *c, const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = 0;
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err)
        return io_error(c, NB_ERR_IO, "saved, but syncing its directory '%.200s' failed: %s "
                        "(the new checkpoint may not survive a power cut)", dir, strerror(err));
    return NB_OK;
}

nb_status nb_checkpoint_save(const char *path, const nb_checkpoint_part *parts, int n,
                             const nb_meta *meta)
{
    if (!path)
        return nb_set_error(NB_ERR_NULL, "checkpoint_save: path is NULL");
    io_ctx c = {"checkpoint_save", path};
    nb_status s = check_parts(&c, parts, n);
    if (s != NB_OK)
        return s;
    char *head = NULL;
    size_t head_len = 0;
    if ((s = header_bytes(&c, parts, n, meta, &head, &head_len)) != NB_OK)
        return s;
    size_t plen = strlen(path);
    char *tmp = nb_alloc(plen + 32, 1);
    if (!tmp) {
        nb_free(head);
        return io_error(&c, NB_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());

    /* Nothing is allocated from here on. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        s = io_error(&c, NB_ERR_IO, "cannot create the temporary file '%.200s': %s", tmp,
                     strerror(errno));
        goto out;
    }
    s = write_all(&c, fd, head, head_len, tmp);
    for (int p = 0; p < n && s == NB_OK; p++) {
        const nb_params *ps = parts[p].params;
        int64_t numel = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
        if (numel > 0)
            s = write_all(&c, fd, nb_params_values(ps), (size_t)numel * sizeof(float), tmp);
    }
    if (s == NB_OK && fsync(fd) != 0)
        s = io_error(&c, NB_ERR_IO, "cannot sync '%.200s' to disk: %s", tmp, strerror(errno));
    if (close(fd) != 0 && s == NB_OK)
        s = io_error(&c, NB_ERR_IO, "cannot close '%.200s': %s", tmp, strerror(errno));
    if (s == NB_OK && rename(tmp, path) != 0)
        s = io_error(&c, NB_ERR_IO, "cannot rename '%.200s' over it: %s", tmp, strerror(errno));
    if (s != NB_OK)
        unlink(tmp);
    else
        s = sync_dir(&c, path, tmp);
out:
    nb_free(tmp);
    nb_free(head);
    return s;
}

nb_status nb_params_save(const char *path, const nb_params *ps)
{
    nb_checkpoint_part part = {NULL, (nb_params *)ps};
    return nb_checkpoint_save(path, &part, 1, NULL);
}

/* ---- loading ---- */

/* The index of the file's tensor named prefix + name, or -1. */
static int64_t find_full(const nb_safetensors *st, const char *prefix, const char *name)
{
    size_t lp = strlen(prefix);
    for (int64_t j = 0; j < nb_safetensors_count(st); j++) {
        const char *f = nb_safetensors_at(st, j)->name;
        if (strncmp(f, prefix, lp) == 0 && strcmp(f + lp, name) == 0)
            return j;
    }
    return -1;
}

static bool same_shape(const nb_safetensors_tensor *f, const nb_tensor *t)
{
    if (f->ndim != t->ndim)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (f->shape[d] != t->shape[d])
            return false;
    return true;
}

/* Matches st against the stores, reads what they need (from fd, or from mem when fd is
 * -1) and, once all of it is in hand, writes the stores and hands over the metadata. */
static nb_status load(const io_ctx *c, int fd, const unsigned char *mem, nb_safetensors *st,
                      const nb_checkpoint_part *parts, int n,
                      const nb_checkpoint_load_opts *opts, nb_meta **meta)
{
    nb_checkpoint_load_opts o = opts ? *opts : (nb_checkpoint_load_opts){0};
    int64_t entries = 0, files = nb_safetensors_count(st);
    for (int p = 0; p < n; p++)
        entries += nb_params_count(parts[p].params);
    int64_t *map = nb_alloc((size_t)(entries ? entries : 1) * sizeof *map, 0);
    bool *used = nb_alloc((size_t)(files ? files : 1), 0);
    if (!map || !used) {
        nb_free(map);
        nb_free(used);
        return io_error(c, NB_ERR_NOMEM, "out of memory matching %lld tensors",
                        (long long)entries);
    }
    memset(used, 0, (size_t)(files ? files : 1));

    nb_status s = NB_OK;
    int64_t k = 0, missing = 0, first_missing = -1, extra = 0, first_extra = -1;
    uint64_t bytes = 0;
    char name[FULL_NAME_MAX];
    for (int p = 0; p < n && s == NB_OK; p++) {
        const nb_params *ps = parts[p].params;
        for (int64_t i = 0; i < nb_params_count(ps) && s == NB_OK; i++, k++) {
            int64_t j = find_full(st, prefix_of(&parts[p]), nb_params_name(ps, i));
            map[k] = j;
            if (j < 0) {
                if (missing++ == 0)
                    first_missing = k;
                continue;
            }
            used[j] = true;
            const nb_safetensors_tensor *f = nb_safetensors_at(st, j);
            const nb_tensor *t = nb_params_at(ps, i);
            if (strcmp(f->dtype, "F32") != 0) {
                s = io_error(c, NB_ERR_ARG, "tensor '%.200s' has dtype %s; nabla loads only F32",
                             f->name, f->dtype);
            } else if (!same_shape(f, t)) {
                char a[96], b[96];
                io_shape_str(f->ndim, f->shape, a, sizeof a);
                nb_shape_str(t->ndim, t->shape, b, sizeof b);
                s = io_error(c, NB_ERR_SHAPE, "tensor '%.200s' has shape %s in the file but %s "
                             "in the store", f->name, a, b);
            }
            bytes += f->end - f->begin;
        }
    }
    if (s == NB_OK && missing > 0 && !o.allow_missing) {
        /* Find the entry behind index first_missing. */
        int64_t at = 0;
        for (int p = 0; p < n; p++) {
            int64_t cnt = nb_params_count(parts[p].params);
            if (first_missing < at + cnt) {
                snprintf(name, sizeof name, "%s%s", prefix_of(&parts[p]),
                         nb_params_name(parts[p].params, first_missing - at));
                break;
            }
            at += cnt;
        }
        s = io_error(c, NB_ERR_ARG, "tensor '%s' is not in the file (%lld of the %lld "
                     "tensors asked for are missing; allow_missing accepts that)", name,
                     (long long)missing, (long long)entries);
    }
    for (int64_t j = 0; j < files; j++)
        if (!used[j] && extra++ == 0)
            first_extra = j;
    if (s == NB_OK && extra > 0 && !o.allow_extra)
        s = io_error(c, NB_ERR_ARG, "the file's tensor '%.200s' matches no entry of the "
                     "stores (%lld of its %lld tensors do not; allow_extra ignores them)",
                     nb_safetensors_at(st, first_extra)->name, (long long)extra,
                     (long long)files);

    /* Read everything into one buffer before any store changes. */
    unsigned char *buf = NULL;
    if (s == NB_OK && fd >= 0 && bytes > 0) {
        buf = nb_alloc((size_t)bytes, 0);
        if (!buf)
            s = io_error(c, NB_ERR_NOMEM, "out of memory: the tensors hold %llu bytes",
                         (unsigned long long)bytes);
        uint64_t pos = 0;
        for (int64_t q = 0; q < entries && s == NB_OK; q++) {
            if (map[q] < 0)
                continue;
            const nb_safetensors_tensor *f = nb_safetensors_at(st, map[q]);
            size_t len = (size_t)(f->end - f->begin);
            s = io_read_at(c, fd, buf + pos, len, nb_safetensors_data_start(st) + f->begin);
            pos += len;
        }
    }
    if (s == NB_OK) {
        uint64_t pos = 0;
        k = 0;
        for (int p = 0; p < n; p++) {
            const nb_params *ps = parts[p].params;
            for (int64_t i = 0; i < nb_params_count(ps); i++, k++) {
                if (map[k] < 0)
                    continue;
                const nb_safetensors_tensor *f = nb_safetensors_at(st, map[k]);
                size_t len = (size_t)(f->end - f->begin);
                if (len == 0)
                    continue;
                const unsigned char *src =
                    fd >= 0 ? buf + pos : mem + nb_safetensors_data_start(st) + f->begin;
                memcpy(nb_params_at(ps, i)->data, src, len);
                pos += len;
            }
        }
        if (meta)
            *meta = io_take_meta(st);
    }
    nb_free(buf);
    nb_free(used);
    nb_free(map);
    return s;
}

nb_status nb_checkpoint_load(const char *path, const nb_checkpoint_part *parts, int n,
                             const nb_checkpoint_load_opts *opts, nb_meta **meta)
{
    if (meta)
        *meta = NULL;
    if (!path)
        return nb_set_error(NB_ERR_NULL, "checkpoint_load: path is NULL");
    io_ctx c = {"checkpoint_load", path};
    nb_status s = check_parts(&c, parts, n);
    if (s != NB_OK)
        return s;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(&c, NB_ERR_IO, "cannot open: %s", strerror(errno));
    nb_safetensors *st;
    s = io_read_header(&c, fd, &st);
    if (s == NB_OK)
        s = load(&c, fd, NULL, st, parts, n, opts, meta);
    nb_safetensors_close(st);
    close(fd);
    return s;
}

nb_status nb_checkpoint_load_mem(const void *data, size_t size,
                                 const nb_checkpoint_part *parts, int n,
                                 const nb_checkpoint_load_opts *opts, nb_meta **meta)
{
    if (meta)
        *meta = NULL;
    io_ctx c = {"checkpoint_load", NULL};
    nb_status s = check_parts(&c, parts, n);
    if (s != NB_OK)
        return s;
    nb_safetensors *st;
    s = io_open_mem(&c, data, size, &st);
    if (s == NB_OK)
        s = load(&c, -1, data, st, parts, n, opts, meta);
    nb_safetensors_close(st);
    return s;
}

nb_status nb_params_load(const char *path, nb_params *ps)
{
    nb_checkpoint_part part = {NULL, ps};
    return nb_checkpoint_load(path, &part, 1, NULL, NULL);
}
