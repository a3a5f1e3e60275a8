/* IDX files: every data type, plain and gzip, from a file and from memory, the image /
 * label pair; every kind of bad file (each written here) is NB_ERR_IO naming the file
 * and the problem, never a crash. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "files.h"

NB_TEST_SUITE(idx);

/* Writes b as name (plain) and name.gz (gzip); loads both and the bytes from memory,
 * and checks each against want[0..n). */
static void assert_loads(test_dir *d, const char *name, const unsigned char *b, size_t bn,
                         bool raw, int ndim, const int64_t *shape, const double *want, int64_t n)
{
    char gz[64];
    snprintf(gz, sizeof gz, "%s.gz", name);
    const char *paths[2] = {write_file(d, name, b, bn), write_gzip(d, gz, b, bn)};
    size_t gn;
    unsigned char *g = gzip_bytes(b, bn, &gn);
    nb_idx_opts opts = {.raw = raw};
    nb_tensor *t[4] = {nb_idx_load(paths[0], &opts), nb_idx_load(paths[1], &opts),
                       nb_idx_load_mem(b, bn, name, &opts), nb_idx_load_mem(g, gn, gz, &opts)};
    free(g);
    for (int k = 0; k < 4; k++) {
        cr_assert_not_null(t[k], "%s (way %d): %s", name, k, nb_error());
        cr_assert(t[k]->persistent);
        cr_assert_eq(t[k]->ndim, ndim, "%s: rank %d", name, t[k]->ndim);
        for (int i = 0; i < ndim; i++)
            cr_assert_eq(t[k]->shape[i], shape[i]);
        cr_assert_eq(t[k]->size, n);
        assert_close(t[k]->data, want, n, 0, 0, name);
        nb_tensor_free(t[k]);
    }
}

Test(idx, unsigned_bytes_scaled_to_unit_range_or_raw)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[2 * 3 * 5];
    double scaled[30], raw[30];
    for (int i = 0; i < 30; i++) {
        px[i] = (unsigned char)(i * 37 % 256);
        if (i == 7)
            px[i] = 255;
        scaled[i] = (double)(float)((float)px[i] / 255.0f);
        raw[i] = px[i];
    }
    size_t n;
    unsigned char *b = idx_bytes(0x08, 3, (uint32_t[]){2, 3, 5}, px, sizeof px, &n);
    assert_loads(&d, "u8", b, n, false, 3, (int64_t[]){2, 3, 5}, scaled, 30);
    assert_loads(&d, "u8raw", b, n, true, 3, (int64_t[]){2, 3, 5}, raw, 30);
    free(b);
    test_dir_close(&d);
}

Test(idx, every_data_type_big_endian)
{
    test_dir d;
    test_dir_open(&d);
    const double v[7] = {0, 1, -1, 100, -128, 127, 3};
    unsigned char data[7 * 8];
    double want[7];
    size_t n;
    unsigned char *b;

    for (int i = 0; i < 7; i++)
        data[i] = (unsigned char)(int8_t)v[i];
    b = idx_bytes(0x09, 1, (uint32_t[]){7}, data, 7, &n);
    assert_loads(&d, "i8", b, n, false, 1, (int64_t[]){7}, v, 7);
    free(b);

    const double v16[7] = {0, 1, -1, 32767, -32768, 258, -300};
    for (int i = 0; i < 7; i++) {
        uint16_t u = (uint16_t)(int16_t)v16[i];
        data[2 * i] = (unsigned char)(u >> 8);
        data[2 * i + 1] = (unsigned char)u;
    }
    b = idx_bytes(0x0B, 1, (uint32_t[]){7}, data, 14, &n);
    assert_loads(&d, "i16", b, n, false, 1, (int64_t[]){7}, v16, 7);
    free(b);

    const double v32[6] = {0, 1, -1, 16777216, -2147483648.0, 65536 + 3};
    for (int i = 0; i < 6; i++) {
        uint32_t u = (uint32_t)(int32_t)v32[i];
        for (int k = 0; k < 4; k++)
            data[4 * i + k] = (unsigned char)(u >> (24 - 8 * k));
    }
    b = idx_bytes(0x0C, 2, (uint32_t[]){2, 3}, data, 24, &n);
    assert_loads(&d, "i32", b, n, false, 2, (int64_t[]){2, 3}, v32, 6);
    free(b);

    const float vf[4] = {0.5f, -3.25f, 1e-30f, 6.5e20f};
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &vf[i], 4);
        for (int k = 0; k < 4; k++)
            data[4 * i + k] = (unsigned char)(u >> (24 - 8 * k));
        want[i] = vf[i];
    }
    b = idx_bytes(0x0D, 3, (uint32_t[]){1, 2, 2}, data, 16, &n);
    assert_loads(&d, "f32", b, n, false, 3, (int64_t[]){1, 2, 2}, want, 4);
    free(b);

    const double vd[4] = {0.1, -2.5, 1e300, -1e300};
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &vd[i], 8);
        for (int k = 0; k < 8; k++)
            data[8 * i + k] = (unsigned char)(u >> (56 - 8 * k));
        want[i] = fabs(vd[i]) > 1e100 ? copysign(INFINITY, vd[i]) : (double)(float)vd[i];
    }
    b = idx_bytes(0x0E, 1, (uint32_t[]){4}, data, 32, &n);
    assert_loads(&d, "f64", b, n, false, 1, (int64_t[]){4}, want, 4);
    free(b);
    test_dir_close(&d);
}

Test(idx, ranks_one_to_six_and_empty_dimensions)
{
    test_dir d;
    test_dir_open(&d);
    uint32_t dims[6] = {2, 1, 3, 1, 2, 1};
    int64_t shape[6];
    unsigned char data[12];
    double want[12];
    for (int i = 0; i < 12; i++) {
        data[i] = (unsigned char)(i + 1);
        want[i] = i + 1;
    }
    for (int rank = 1; rank <= 6; rank++) {
        size_t total = 1, n;
        for (int i = 0; i < rank; i++) {
            total *= dims[i];
            shape[i] = dims[i];
        }
        char name[16];
        snprintf(name, sizeof name, "rank%d", rank);
        unsigned char *b = idx_bytes(0x08, rank, dims, data, total, &n);
        assert_loads(&d, name, b, n, true, rank, shape, want, (int64_t)total);
        free(b);
    }
    size_t n;
    unsigned char *b = idx_bytes(0x0D, 2, (uint32_t[]){0, 4000000000u}, NULL, 0, &n);
    assert_loads(&d, "empty", b, n, false, 2, (int64_t[]){0, 4000000000}, NULL, 0);
    free(b);
    test_dir_close(&d);
}

Test(idx, concatenated_gzip_members_are_one_stream)
{
    unsigned char px[20];
    double want[20];
    for (int i = 0; i < 20; i++) {
        px[i] = (unsigned char)(3 * i);
        want[i] = px[i];
    }
    size_t n, g1, g2;
    unsigned char *b = idx_bytes(0x08, 2, (uint32_t[]){4, 5}, px, 20, &n);
    unsigned char *a = gzip_bytes(b, 10, &g1), *c = gzip_bytes(b + 10, n - 10, &g2);
    unsigned char *both = malloc(g1 + g2);
    memcpy(both, a, g1);
    memcpy(both + g1, c, g2);
    nb_tensor *t = nb_idx_load_mem(both, g1 + g2, "two.gz", &(nb_idx_opts){.raw = true});
    cr_assert_not_null(t, "%s", nb_error());
    assert_close(t->data, want, 20, 0, 0, "two members");
    nb_tensor_free(t);
    free(a);
    free(b);
    free(c);
    free(both);
}

Test(idx, pair_gives_nchw_images_and_raw_labels)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[3 * 2 * 2] = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char lab[3] = {9, 0, 4};
    size_t n;
    unsigned char *bi = idx_bytes(0x08, 3, (uint32_t[]){3, 2, 2}, px, 12, &n);
    const char *images = write_gzip(&d, "img.gz", bi, n);
    free(bi);
    unsigned char *bl = idx_bytes(0x08, 1, (uint32_t[]){3}, lab, 3, &n);
    const char *labels = write_file(&d, "lab", bl, n);
    free(bl);
    nb_dataset *ds = nb_idx_load_pair(images, labels, NULL);
    cr_assert_not_null(ds, "%s", nb_error());
    nb_tensor *x = nb_dataset_inputs(ds), *y = nb_dataset_targets(ds);
    cr_assert_eq(nb_dataset_size(ds), 3);
    cr_assert_eq(x->ndim, 4);
    cr_assert(x->shape[0] == 3 && x->shape[1] == 1 && x->shape[2] == 2 && x->shape[3] == 2);
    double wx[12], wy[3] = {9, 0, 4};
    for (int i = 0; i < 12; i++)
        wx[i] = (double)((float)px[i] / 255.0f);
    assert_close(x->data, wx, 12, 0, 0, "images");
    assert_close(y->data, wy, 3, 0, 0, "labels");
    nb_dataset_free(ds);

    /* raw keeps pixels 0..255; 4-D images stay as they are. */
    unsigned char *b4 = idx_bytes(0x08, 4, (uint32_t[]){3, 1, 2, 2}, px, 12, &n);
    const char *images4 = write_file(&d, "img4", b4, n);
    free(b4);
    ds = nb_idx_load_pair(images4, labels, &(nb_idx_opts){.raw = true});
    cr_assert_not_null(ds, "%s", nb_error());
    cr_assert_eq(nb_dataset_inputs(ds)->data[1], 255.0f);
    cr_assert_eq(nb_dataset_inputs(ds)->ndim, 4);
    nb_dataset_free(ds);

    /* Mismatched counts and wrong ranks. */
    unsigned char *b2 = idx_bytes(0x08, 1, (uint32_t[]){2}, lab, 2, &n);
    const char *two = write_file(&d, "two_labels", b2, n);
    free(b2);
    assert_error(nb_idx_load_pair(images, two, NULL), NB_ERR_IO, "has 3 images but");
    cr_assert(strstr(nb_error(), "img.gz") && strstr(nb_error(), "two_labels' has 2 labels"),
              "%s", nb_error());
    assert_error(nb_idx_load_pair(labels, labels, NULL), NB_ERR_IO,
                 "lab': images of shape [3]: expected [N, H, W] or [N, C, H, W]");
    assert_error(nb_idx_load_pair(images, images, NULL), NB_ERR_IO,
                 "img.gz': labels of shape [3,2,2]: expected labels [N]");
    assert_error(nb_idx_load_pair(images, test_path(&d, "missing"), NULL), NB_ERR_IO,
                 "idx_load_pair: '");
    cr_assert(strstr(nb_error(), "missing': cannot open"), "%s", nb_error());
    test_dir_close(&d);
}

/* ---- bad files ---- */

/* Writes bytes as `name` and asserts that loading it (from the file and from memory)
 * fails with NB_ERR_IO, the file's name and `problem`. */
static void assert_bad(test_dir *d, const char *name, const void *bytes, size_t n,
                       const char *problem)
{
    const char *p = write_file(d, name, bytes, n);
    assert_error(nb_idx_load(p, NULL), NB_ERR_IO, problem);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "idx_load: '%s': ", p);
    cr_assert(strstr(nb_error(), prefix), "\"%s\" lacks \"%s\"", nb_error(), prefix);
    assert_error(nb_idx_load_mem(bytes, n, name, NULL), NB_ERR_IO, problem);
    snprintf(prefix, sizeof prefix, "idx_load: '%s': ", name);
    cr_assert(strstr(nb_error(), prefix), "\"%s\" lacks \"%s\"", nb_error(), prefix);
}

/* The same, gzip-compressed. */
static void assert_bad_gz(test_dir *d, const char *name, const void *bytes, size_t n,
                          const char *problem)
{
    size_t gn;
    unsigned char *g = gzip_bytes(bytes, n, &gn);
    assert_bad(d, name, g, gn, problem);
    free(g);
}

Test(idx, bad_headers)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[6] = {1, 2, 3, 4, 5, 6};
    size_t n;
    unsigned char *b = idx_bytes(0x08, 2, (uint32_t[]){2, 3}, px, 6, &n);

    assert_bad(&d, "empty", b, 0, "empty file (no IDX header)");
    assert_bad_gz(&d, "empty.gz", b, 0, "empty file (no IDX header)");
    assert_bad(&d, "short_magic", b, 3, "truncated header: 3 of 4 bytes");
    assert_bad(&d, "short_dims", b, 9, "truncated header (the dimensions): 5 of 8 bytes");
    assert_bad_gz(&d, "short_dims.gz", b, 6, "truncated header (the dimensions): 2 of 8 bytes");

    unsigned char bad[16];
    memcpy(bad, b, 16);
    bad[0] = 'P';
    bad[1] = 'K';
    assert_bad(&d, "zip", bad, 16, "not an IDX file (and not gzip): bad magic 50 4b 08 02");
    memcpy(bad, b, 16);
    bad[1] = 1;
    assert_bad_gz(&d, "magic.gz", bad, 16, "bad magic 00 01 08 02, expected 00 00 <type> <rank>");
    const int unknown[] = {0x00, 0x07, 0x0A, 0x0F, 0xFF};
    for (int k = 0; k < 5; k++) {
        memcpy(bad, b, 16);
        bad[2] = (unsigned char)unknown[k];
        char name[32], want[64];
        snprintf(name, sizeof name, "type%02x", unknown[k]);
        snprintf(want, sizeof want, "unknown IDX data type 0x%02x", unknown[k]);
        assert_bad(&d, name, bad, 16, want);
    }
    memcpy(bad, b, 16);
    bad[3] = 0;
    assert_bad(&d, "rank0", bad, 16, "rank 0 is outside [1, 6]");
    bad[3] = 7;
    assert_bad(&d, "rank7", bad, 16, "rank 7 is outside [1, 6]");
    bad[3] = 255;
    assert_bad_gz(&d, "rank255.gz", bad, 16, "rank 255 is outside [1, 6]");
    free(b);

    /* (2^32 - 1)^2 elements: above 2^48, the product check catches it. */
    b = idx_bytes(0x08, 2, (uint32_t[]){4294967295u, 4294967295u}, px, 6, &n);
    assert_bad(&d, "overflow", b, n, "dimensions [4294967295,4294967295] hold more than 2^48 "
               "elements (their product overflows)");
    free(b);
    b = idx_bytes(0x0E, 6, (uint32_t[]){65536, 65536, 65536, 65536, 65536, 65536}, px, 6, &n);
    assert_bad_gz(&d, "overflow6.gz", b, n, "hold more than 2^48 elements");
    free(b);
    test_dir_close(&d);
}

Test(idx, data_that_disagrees_with_the_dimensions)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[64];
    for (int i = 0; i < 64; i++)
        px[i] = (unsigned char)i;
    size_t n;
    unsigned char *b = idx_bytes(0x08, 2, (uint32_t[]){4, 8}, px, 32, &n);
    assert_bad(&d, "short", b, n - 5, "truncated data: the dimensions [4,8] need 32 bytes, the "
               "file has 27");
    assert_bad_gz(&d, "short.gz", b, n - 5, "truncated data: 27 of the 32 bytes the dimensions "
                  "[4,8] need");
    free(b);
    b = idx_bytes(0x08, 2, (uint32_t[]){4, 8}, px, 33, &n);
    assert_bad(&d, "long", b, n, "trailing data: the file is longer than the 32 bytes of data "
               "its dimensions [4,8] say");
    assert_bad_gz(&d, "long.gz", b, n, "trailing data");
    free(b);
    /* 4-byte elements: 3 floats need 12 bytes. */
    b = idx_bytes(0x0D, 1, (uint32_t[]){3}, px, 11, &n);
    assert_bad(&d, "short_f32", b, n, "need 12 bytes, the file has 11");
    free(b);
    /* A small file that claims a huge (but representable) size is refused before any
     * allocation of that size: plain and gzip alike. */
    b = idx_bytes(0x0E, 3, (uint32_t[]){100000, 100000, 1000}, px, 16, &n);
    assert_bad(&d, "huge", b, n, "need 80000000000000 bytes, the file has 16");
    assert_bad_gz(&d, "huge.gz", b, n, "need 80000000000000 bytes, more than this gzip file "
                  "can hold");
    free(b);
    test_dir_close(&d);
}

Test(idx, corrupt_and_truncated_gzip)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[4096];
    for (int i = 0; i < 4096; i++)
        px[i] = (unsigned char)((i * 7919) >> 3);
    size_t n, gn;
    unsigned char *b = idx_bytes(0x08, 2, (uint32_t[]){64, 64}, px, 4096, &n);
    unsigned char *g = gzip_bytes(b, n, &gn);
    cr_assert_gt(gn, 200);

    /* Cut mid-stream, and just before the 8-byte trailer is complete. */
    assert_bad(&d, "cut.gz", g, gn / 2, "the gzip stream is truncated");
    assert_bad(&d, "cut_trailer.gz", g, gn - 3, "the gzip stream is truncated");
    assert_bad(&d, "cut_header.gz", g, 6, "the gzip stream is truncated");

    /* A wrong CRC, a wrong length, a damaged block. */
    unsigned char *c = malloc(gn);
    memcpy(c, g, gn);
    c[gn - 6] ^= 0x55;
    assert_bad(&d, "crc.gz", c, gn, "corrupt gzip stream (incorrect data check)");
    memcpy(c, g, gn);
    c[gn - 2] ^= 0x01;
    assert_bad(&d, "len.gz", c, gn, "corrupt gzip stream (incorrect length check)");
    memcpy(c, g, gn);
    c[10] = 0xff; /* the first block header: type 3 is invalid */
    assert_bad(&d, "block.gz", c, gn, "corrupt gzip stream (");
    memcpy(c, g, gn);
    c[2] = 9; /* compression method 9 */
    assert_bad(&d, "method.gz", c, gn, "corrupt gzip stream (unknown compression method)");
    /* Garbage after a complete stream. */
    unsigned char *t = malloc(gn + 3);
    memcpy(t, g, gn);
    memcpy(t + gn, "abc", 3);
    assert_bad(&d, "stray.gz", t, gn + 3, "3 stray bytes after the end of the gzip stream");
    free(t);
    /* Many single-byte corruptions: never a crash; each an error or a correct load. */
    for (size_t i = 0; i < gn; i += 3) {
        memcpy(c, g, gn);
        c[i] ^= (unsigned char)(0x5a + i);
        nb_tensor *r = nb_idx_load_mem(c, gn, "flip.gz", NULL);
        if (r) {
            cr_assert_eq(r->size, 4096);
            nb_tensor_free(r);
        } else {
            cr_assert(nb_error_code() == NB_ERR_IO && strstr(nb_error(), "'flip.gz'"),
                      "byte %zu: %s", i, nb_error());
        }
    }
    free(c);
    free(g);
    free(b);
    test_dir_close(&d);
}

Test(idx, paths_that_cannot_be_read)
{
    test_dir d;
    test_dir_open(&d);
    const char *missing = test_path(&d, "no_such_file");
    assert_error(nb_idx_load(missing, NULL), NB_ERR_IO, "cannot open: No such file or directory");
    cr_assert(strstr(nb_error(), missing), "%s", nb_error());
    assert_error(nb_idx_load(d.path, NULL), NB_ERR_IO, "cannot read: Is a directory");
    cr_assert(strstr(nb_error(), d.path), "%s", nb_error());
    if (geteuid() != 0) {
        unsigned char b[4] = {0, 0, 8, 1};
        const char *p = write_file(&d, "locked", b, 4);
        chmod(p, 0);
        assert_error(nb_idx_load(p, NULL), NB_ERR_IO, "cannot open: Permission denied");
    }
    assert_error(nb_idx_load(NULL, NULL), NB_ERR_NULL, "idx_load: path is NULL");
    assert_error(nb_idx_load_mem(NULL, 4, "x", NULL), NB_ERR_NULL, "idx_load: buffer is NULL");
    assert_error(nb_idx_load_mem(NULL, 0, NULL, NULL), NB_ERR_IO,
                 "idx_load: '<memory>': empty file");
    test_dir_close(&d);
}

/* ---- allocation failures ---- */

static long n_calls, fail_at, n_live;

static void *failing_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (n_calls++ == fail_at)
        return NULL;
    n_live++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void failing_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        n_live--;
    free(p);
}

Test(idx, allocation_failures_are_errors_not_leaks)
{
    test_dir d;
    test_dir_open(&d);
    unsigned char px[300];
    memset(px, 7, sizeof px);
    size_t n;
    unsigned char *b = idx_bytes(0x08, 2, (uint32_t[]){10, 30}, px, 300, &n);
    const char *paths[2] = {write_file(&d, "plain", b, n), write_gzip(&d, "gz", b, n)};
    free(b);
    for (int k = 0; k < 2; k++)
        for (fail_at = 0;; fail_at++) {
            n_calls = n_live = 0;
            nb_set_allocator(&(nb_allocator){failing_alloc, failing_free, NULL});
            nb_tensor *t = nb_idx_load(paths[k], NULL);
            nb_tensor_free(t);
            nb_set_allocator(NULL);
            cr_assert_eq(n_live, 0, "%s: failing allocation %ld leaked", paths[k], fail_at);
            if (t)
                break;
            cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "%s", nb_error());
        }
    test_dir_close(&d);
}
