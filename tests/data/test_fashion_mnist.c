/* The real data set: Debian's dataset-fashion-mnist, loaded by nabla and checked against
 * the same files read here with zlib directly. Skipped when the package is absent. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../common.h"

NB_TEST_SUITE(fashion_mnist);

#define DIR "/usr/share/datasets/fashion-mnist/"

static bool have(const char *part)
{
    char p[256];
    snprintf(p, sizeof p, DIR "%s-images-idx3-ubyte.gz", part);
    if (access(p, R_OK) != 0)
        return false;
    snprintf(p, sizeof p, DIR "%s-labels-idx1-ubyte.gz", part);
    return access(p, R_OK) == 0;
}

/* The whole decompressed file, read with zlib's gzread (not nabla). */
static unsigned char *gunzip_file(const char *path, size_t *n)
{
    gzFile g = gzopen(path, "rb");
    cr_assert_not_null(g, "gzopen %s", path);
    size_t cap = 1 << 20, len = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (len == cap)
            b = realloc(b, cap *= 2);
        int k = gzread(g, b + len, (unsigned)(cap - len));
        cr_assert_geq(k, 0, "gzread %s", path);
        if (k == 0)
            break;
        len += (size_t)k;
    }
    gzclose(g);
    *n = len;
    return b;
}

static void check_part(const char *part, int64_t N)
{
    if (!have(part))
        cr_skip_test("Fashion-MNIST is not installed (" DIR "); apt-get install "
                     "dataset-fashion-mnist");
    char ip[256], lp[256];
    snprintf(ip, sizeof ip, DIR "%s-images-idx3-ubyte.gz", part);
    snprintf(lp, sizeof lp, DIR "%s-labels-idx1-ubyte.gz", part);
    nb_dataset *ds = nb_idx_load_pair(ip, lp, NULL);
    cr_assert_not_null(ds, "%s", nb_error());
    nb_tensor *x = nb_dataset_inputs(ds), *y = nb_dataset_targets(ds);
    cr_assert_eq(nb_dataset_size(ds), N);
    cr_assert_eq(x->ndim, 4);
    cr_assert(x->shape[0] == N && x->shape[1] == 1 && x->shape[2] == 28 && x->shape[3] == 28);
    cr_assert(y->ndim == 1 && y->shape[0] == N);

    /* The reference: the raw bytes after the 16- and 8-byte headers. */
    size_t in, ln;
    unsigned char *ib = gunzip_file(ip, &in), *lb = gunzip_file(lp, &ln);
    cr_assert_eq(in, 16 + (size_t)N * 784);
    cr_assert_eq(ln, 8 + (size_t)N);
    int64_t per_class[10] = {0};
    for (int64_t i = 0; i < N; i++) {
        float l = y->data[i];
        cr_assert(l >= 0 && l <= 9 && l == floorf(l), "label %lld is %g", (long long)i, l);
        cr_assert_eq(l, (float)lb[8 + i]);
        per_class[(int)l]++;
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(per_class[c], N / 10, "Fashion-MNIST is balanced: class %d has %lld", c,
                     (long long)per_class[c]);
    double sum = 0, want_sum = 0;
    for (int64_t i = 0; i < N * 784; i++) {
        float v = x->data[i];
        cr_assert(v >= 0.0f && v <= 1.0f, "pixel %lld is %g", (long long)i, v);
        sum += v;
        want_sum += ib[16 + i] / 255.0;
    }
    cr_assert(fabs(sum - want_sum) <= 1e-6 * want_sum, "pixel sums %.9g vs %.9g", sum, want_sum);
    /* Spot checks: the first, a middle and the last image's centre pixel rows. */
    const int64_t spots[3] = {0, N / 2 + 17, N - 1};
    for (int s = 0; s < 3; s++)
        for (int k = 14 * 28; k < 15 * 28; k++) {
            int64_t i = spots[s] * 784 + k;
            cr_assert_eq(x->data[i], (float)ib[16 + i] / 255.0f, "image %lld pixel %d",
                         (long long)spots[s], k);
        }
    free(ib);
    free(lb);

    /* raw keeps 0..255. */
    nb_tensor *raw = nb_idx_load(lp, &(nb_idx_opts){.raw = true});
    cr_assert_not_null(raw, "%s", nb_error());
    cr_assert_eq(memcmp(raw->data, y->data, (size_t)N * sizeof(float)), 0);
    nb_tensor_free(raw);
    nb_dataset_free(ds);
}

Test(fashion_mnist, train_set, .timeout = 120) { check_part("train", 60000); }
Test(fashion_mnist, test_set, .timeout = 120) { check_part("t10k", 10000); }
