/*
 * tests/io/io_common.h - helpers for the checkpoint suites: temporary directories,
 * files made byte by byte, a sample store, and a counting allocator that fails on
 * request. Include it first (it asks for POSIX).
 */
#ifndef NABLA_TESTS_IO_COMMON_H
#define NABLA_TESTS_IO_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common.h"

/* ---- files ---- */

/* Makes a fresh directory /tmp/nabla-io-XXXXXX into dir. */
static inline void tmpdir_make(char dir[64])
{
    strcpy(dir, "/tmp/nabla-io-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

/* Removes dir and the files in it. */
static inline void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

/* How many entries of dir have a name containing `needle`. */
static inline int count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static inline const char *path_in(const char *dir, const char *name, char buf[512])
{
    snprintf(buf, 512, "%s/%s", dir, name);
    return buf;
}

/* The whole file (malloc'd; the caller frees), its size in *n. */
static inline unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static inline void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A safetensors file in memory (malloc'd): the 8-byte length `hlen` (by default the
 * header's own length), the header, `pad` spaces, and n bytes of data. */
static inline unsigned char *make_st_len(uint64_t hlen, const char *header, size_t pad,
                                         const void *data, size_t n, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + pad + n;
    unsigned char *b = malloc(*size);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(hlen >> (8 * k));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', pad);
    if (n)
        memcpy(b + 8 + h + pad, data, n);
    return b;
}

static inline unsigned char *make_st(const char *header, size_t pad, const void *data, size_t n,
                                     size_t *size)
{
    return make_st_len(strlen(header) + pad, header, pad, data, n, size);
}

static inline void write_st(const char *path, const char *header, size_t pad, const void *data,
                            size_t n)
{
    size_t size;
    unsigned char *b = make_st(header, pad, data, n, &size);
    write_file(path, b, size);
    free(b);
}

/* ---- stores ---- */

/* A store with parameters and buffers interleaved in the order they are added (the
 * arena puts parameters first), a 0-D entry and an empty one; values from `seed`. */
static inline nb_params *sample_store(uint64_t seed)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(ps);
    cr_assert_not_null(nb_params_add(ps, "dense.kernel", NB_PARAM, NB_SHAPE(3, 4)), "%s",
                       nb_error());
    cr_assert_not_null(nb_params_add(ps, "bn.running_mean", NB_BUFFER, NB_SHAPE(4)));
    cr_assert_not_null(nb_params_add(ps, "dense.bias", NB_PARAM, NB_SHAPE(4)));
    cr_assert_not_null(nb_params_add(ps, "scale", NB_PARAM, 0, NULL));
    cr_assert_not_null(nb_params_add(ps, "empty", NB_BUFFER, NB_SHAPE(0, 3)));
    cr_assert_not_null(nb_params_add(ps, "conv/w:0", NB_PARAM, NB_SHAPE(2, 1, 3, 3)));
    cr_assert_eq(nb_params_finalize(ps), NB_OK, "%s", nb_error());
    float *v = nb_params_values(ps);
    int64_t n = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
    for (int64_t i = 0; i < n; i++)
        v[i] = nb_rng_uniform(seed, (uint64_t)i) * 4.0f - 2.0f;
    return ps;
}

static inline int64_t store_numel(const nb_params *ps)
{
    return nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
}

static inline bool same_values(const nb_params *a, const nb_params *b)
{
    int64_t n = store_numel(a);
    return n == store_numel(b) &&
           (n == 0 || memcmp(nb_params_values(a), nb_params_values(b), (size_t)n * 4) == 0);
}

/* ---- a counting allocator that can fail the k-th allocation ---- */

static long io_n_alloc, io_n_free, io_n_failed, io_fail_at = -1;

static void *io_count_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (io_n_alloc + io_n_failed == io_fail_at) {
        io_n_failed++;
        return NULL;
    }
    io_n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void io_count_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        io_n_free++;
    free(p);
}

static inline void use_counting_allocator(long fail)
{
    io_n_alloc = io_n_free = io_n_failed = 0;
    io_fail_at = fail;
    nb_set_allocator(&(nb_allocator){io_count_alloc, io_count_free, NULL});
}

#endif /* NABLA_TESTS_IO_COMMON_H */
