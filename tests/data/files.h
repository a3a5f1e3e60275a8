/*
 * tests/data/files.h - files the data tests write for themselves: a private temporary
 * directory per test, plain and gzip files, and IDX images built byte by byte.
 */
#ifndef NABLA_TESTS_DATA_FILES_H
#define NABLA_TESTS_DATA_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../common.h"

typedef struct test_dir {
    char path[64];
    char files[64][128];
    int n;
} test_dir;

static inline void test_dir_open(test_dir *d)
{
    memset(d, 0, sizeof *d);
    strcpy(d->path, "/tmp/nabla-data-XXXXXX");
    cr_assert_not_null(mkdtemp(d->path), "mkdtemp failed");
}

/* Removes the files it made and the directory. */
static inline void test_dir_close(test_dir *d)
{
    for (int i = 0; i < d->n; i++)
        remove(d->files[i]);
    rmdir(d->path);
}

/* The path of `name` in d (remembered for removal). */
static inline const char *test_path(test_dir *d, const char *name)
{
    cr_assert_lt(d->n, 64);
    char dir[sizeof d->path];
    memcpy(dir, d->path, sizeof dir);
    snprintf(d->files[d->n], sizeof d->files[0], "%s/%s", dir, name);
    return d->files[d->n++];
}

static inline const char *write_file(test_dir *d, const char *name, const void *bytes, size_t n)
{
    const char *p = test_path(d, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "cannot write %s", p);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return p;
}

/* bytes gzip-compressed (by zlib, independently of nabla) into a malloc'd buffer. */
static inline unsigned char *gzip_bytes(const void *bytes, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)bytes;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static inline const char *write_gzip(test_dir *d, const char *name, const void *bytes, size_t n)
{
    size_t gn;
    unsigned char *g = gzip_bytes(bytes, n, &gn);
    const char *p = write_file(d, name, g, gn);
    free(g);
    return p;
}

/* An IDX image: header for (type, rank, dims) then `data_n` data bytes. Returns a
 * malloc'd buffer of *n bytes. */
static inline unsigned char *idx_bytes(int type, int rank, const uint32_t *dims,
                                       const void *data, size_t data_n, size_t *n)
{
    *n = 4 + 4 * (size_t)rank + data_n;
    unsigned char *b = malloc(*n + 1);
    b[0] = 0;
    b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        b[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (data_n)
        memcpy(b + 4 + 4 * rank, data, data_n);
    return b;
}

#endif /* NABLA_TESTS_DATA_FILES_H */
