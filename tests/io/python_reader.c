/*
 * tests/io/python_reader.c - nabla's checkpoints through a reader nabla did not write.
 *
 *     python_reader PYTHON SCRIPT    run the test (exit 0: passed, 1: failed)
 *     python_reader --skip           exit 77 (meson's "skipped"): no python3 with numpy
 *
 * 1. saves a checkpoint (a model store with parameters and buffers, an optimizer-state
 *    store under "optim.", metadata; values include -0.0, a denormal, inf and NaN) and a
 *    dump of every value's bits beside it;
 * 2. runs `SCRIPT check`: Python reads the file with json + numpy and compares every
 *    value and metadata entry with the dump;
 * 3. runs `SCRIPT write`: Python writes the same tensors as another producer would
 *    (reversed order, spaced JSON with \u escapes, more metadata, an extra I64 tensor,
 *    padding), and nabla loads that file into fresh stores: the values must be the same
 *    bits.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nabla.h"
#include "nabla/kernels.h"

static int failures;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
            failures++;                                               \
        }                                                             \
    } while (0)

static void make_stores(nb_params **model, nb_params **state)
{
    nb_params *m = nb_params_new(), *s = nb_params_new();
    nb_params_add(m, "dense_1.kernel", NB_PARAM, NB_SHAPE(5, 3));
    nb_params_add(m, "bn.running_var", NB_BUFFER, NB_SHAPE(3));
    nb_params_add(m, "dense_1.bias", NB_PARAM, NB_SHAPE(3));
    nb_params_add(m, "conv.w", NB_PARAM, NB_SHAPE(2, 1, 3, 3));
    nb_params_add(m, "scalar", NB_BUFFER, 0, NULL);
    nb_params_add(m, "nothing", NB_BUFFER, NB_SHAPE(2, 0));
    nb_params_add(s, "dense_1.kernel.exp_avg", NB_BUFFER, NB_SHAPE(5, 3));
    nb_params_add(s, "step", NB_BUFFER, NB_SHAPE(1));
    *model = m;
    *state = s;
}

static int run(const char *python, const char *script, const char *mode, const char *file,
               const char *expected)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(python, python, script, mode, file, expected, (char *)NULL);
        perror("execl");
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void dump(FILE *f, const char *prefix, const nb_params *ps)
{
    for (int64_t i = 0; i < nb_params_count(ps); i++) {
        const nb_tensor *t = nb_params_at(ps, i);
        fprintf(f, "tensor\t%s%s\t", prefix, nb_params_name(ps, i));
        for (int d = 0; d < t->ndim; d++)
            fprintf(f, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        fprintf(f, "\t");
        for (int64_t k = 0; k < t->size; k++) {
            uint32_t bits;
            memcpy(&bits, &t->data[k], 4);
            fprintf(f, k ? " %08x" : "%08x", (unsigned)bits);
        }
        fprintf(f, "\n");
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--skip") == 0) {
        printf("skipped: no /usr/bin/python3 with numpy (Debian: python3-numpy)\n");
        return 77;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s PYTHON SCRIPT | --skip\n", argv[0]);
        return 2;
    }
    const char *python = argv[1], *script = argv[2];
    char dir[] = "/tmp/nabla-pyreader-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char file[128], expected[128], foreign[128];
    snprintf(file, sizeof file, "%s/nabla.safetensors", dir);
    snprintf(expected, sizeof expected, "%s/expected.txt", dir);
    snprintf(foreign, sizeof foreign, "%s/python.safetensors", dir);

    nb_params *model, *state;
    make_stores(&model, &state);
    float *v = nb_params_values(model);
    int64_t n = nb_params_numel(model, NB_PARAM) + nb_params_numel(model, NB_BUFFER);
    for (int64_t i = 0; i < n; i++)
        v[i] = nb_rng_uniform(99, (uint64_t)i) * 2.0f - 1.0f;
    v[0] = -0.0f;
    v[1] = 1e-40f;  /* a denormal */
    v[2] = INFINITY;
    v[3] = NAN;
    v[4] = 3.4028235e38f;
    float *sv = nb_params_values(state);
    for (int i = 0; i < 16; i++)
        sv[i] = (float)i / 7.0f;
    nb_meta *meta = nb_meta_new();
    nb_meta_set_u64(meta, "epoch", 3);
    nb_meta_set_u64(meta, "step", 4242);
    nb_meta_set_u64(meta, "shuffle_seed", 18446744073709551615ULL);
    nb_meta_set(meta, "note", "naïve → ok");
    nb_checkpoint_part parts[] = {{NULL, model}, {"optim.", state}};
    nb_status s = nb_checkpoint_save(file, parts, 2, meta);
    CHECK(s == NB_OK, "save: %s", nb_error());

    FILE *f = fopen(expected, "w");
    CHECK(f != NULL, "cannot write %s", expected);
    if (f) {
        for (int64_t i = 0; i < nb_meta_count(meta); i++)
            fprintf(f, "meta\t%s\t%s\n", nb_meta_key(meta, i), nb_meta_value(meta, i));
        dump(f, "", model);
        dump(f, "optim.", state);
        fclose(f);
    }

    if (failures == 0) {
        int rc = run(python, script, "check", file, expected);
        CHECK(rc == 0, "python could not read nabla's file the same (exit %d)", rc);
        rc = run(python, script, "write", foreign, expected);
        CHECK(rc == 0, "python could not write its file (exit %d)", rc);
    }
    if (failures == 0) {
        nb_params *m2, *s2;
        make_stores(&m2, &s2);
        nb_checkpoint_part into[] = {{"", m2}, {"optim.", s2}};
        nb_meta *got = NULL;
        s = nb_checkpoint_load(foreign, into, 2, &(nb_checkpoint_load_opts){.allow_extra = true},
                               &got);
        CHECK(s == NB_OK, "load of python's file: %s", nb_error());
        CHECK(memcmp(nb_params_values(m2), v, (size_t)n * 4) == 0, "model values differ");
        CHECK(memcmp(nb_params_values(s2), sv, 16 * 4) == 0, "state values differ");
        CHECK(got && nb_meta_get(got, "note") && strcmp(nb_meta_get(got, "note"), "naïve → ok") == 0,
              "metadata 'note' came back as '%s'", got ? nb_meta_get(got, "note") : "(none)");
        CHECK(got && nb_meta_get(got, "producer"), "python's metadata is missing");
        /* Strict, python's extra tensor is named. */
        s = nb_checkpoint_load(foreign, into, 2, NULL, NULL);
        CHECK(s == NB_ERR_ARG && strstr(nb_error(), "'python.extra'"), "strict load: %s",
              nb_error());
        printf("nabla loaded python's file: %lld + 16 values equal\n", (long long)n);
        nb_meta_free(got);
        nb_params_free(m2);
        nb_params_free(s2);
    }

    unlink(file);
    unlink(expected);
    unlink(foreign);
    rmdir(dir);
    nb_meta_free(meta);
    nb_params_free(model);
    nb_params_free(state);
    nb_memory_release();
    printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
