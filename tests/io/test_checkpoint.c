/* Checkpoints: round trips, several parts, metadata, files from other writers, strict
 * and lenient loading, argument errors, failed saves, allocation failures. */
#include "io_common.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

NB_TEST_SUITE(checkpoint);

static char dir[64];

static void setup(void) { tmpdir_make(dir); }
static void teardown(void) { tmpdir_remove(dir); }

#define IO_TEST(name) Test(checkpoint, name, .init = setup, .fini = teardown)

IO_TEST(round_trip_of_parameters_and_buffers)
{
    char p[512];
    path_in(dir, "model.safetensors", p);
    nb_params *a = sample_store(1), *b = sample_store(2);
    cr_assert(!same_values(a, b));
    nb_tensor_fill(nb_params_find(b, "dense.kernel")->grad, 7.0f);
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_params_load(p, b), NB_OK, "%s", nb_error());
    cr_assert(same_values(a, b), "the loaded values differ from the saved ones");
    /* Only values are saved and loaded: the grads are left alone. */
    cr_assert_eq(nb_params_find(b, "dense.kernel")->grad->data[5], 7.0f);
    cr_assert_eq(count_files(dir, ".tmp."), 0, "a temp file was left behind");
    nb_params_free(a);
    nb_params_free(b);
}

IO_TEST(the_data_section_is_each_stores_value_arena)
{
    char p[512];
    path_in(dir, "two.safetensors", p);
    nb_params *a = sample_store(3), *s = nb_params_new();
    nb_params_add(s, "dense.kernel.momentum", NB_BUFFER, NB_SHAPE(3, 4));
    nb_params_add(s, "step", NB_BUFFER, NB_SHAPE(1));
    for (int64_t i = 0; i < store_numel(s); i++)
        nb_params_values(s)[i] = (float)i + 0.5f;
    nb_checkpoint_part parts[] = {{NULL, a}, {"optim.", s}};
    cr_assert_eq(nb_checkpoint_save(p, parts, 2, NULL), NB_OK, "%s", nb_error());

    size_t size;
    unsigned char *file = read_file(p, &size);
    nb_safetensors *st = nb_safetensors_open(p);
    cr_assert_not_null(st, "%s", nb_error());
    uint64_t start = nb_safetensors_data_start(st);
    cr_assert_eq(start % 8, 0, "the header is padded to 8 bytes (starts data at %llu)",
                 (unsigned long long)start);
    size_t na = (size_t)store_numel(a) * 4, ns = (size_t)store_numel(s) * 4;
    cr_assert_eq(nb_safetensors_data_size(st), na + ns);
    cr_assert_eq(size, start + na + ns);
    cr_assert_eq(memcmp(file + start, nb_params_values(a), na), 0);
    cr_assert_eq(memcmp(file + start + na, nb_params_values(s), ns), 0);
    /* Parameters come first (in the order added), then buffers: the arena's order. */
    const char *order[] = {"dense.kernel", "dense.bias", "scale", "conv/w:0",
                           "bn.running_mean", "empty", "optim.dense.kernel.momentum",
                           "optim.step"};
    cr_assert_eq(nb_safetensors_count(st), 8);
    for (int i = 0; i < 8; i++) {
        const nb_safetensors_tensor *t = nb_safetensors_at(st, i);
        cr_assert_str_eq(t->name, order[i]);
        cr_assert_str_eq(t->dtype, "F32");
    }
    const nb_safetensors_tensor *k = nb_safetensors_at(st, nb_safetensors_find(st, "dense.bias"));
    cr_assert_eq(k->begin, 4 * (uint64_t)nb_params_offset(a, nb_params_index(a, "dense.bias")));
    cr_assert_eq(k->ndim, 1);
    cr_assert_eq(k->shape[0], 4);
    const nb_safetensors_tensor *sc = nb_safetensors_at(st, nb_safetensors_find(st, "scale"));
    cr_assert_eq(sc->ndim, 0);
    cr_assert_eq(sc->numel, 1);
    const nb_safetensors_tensor *e = nb_safetensors_at(st, nb_safetensors_find(st, "empty"));
    cr_assert_eq(e->numel, 0);
    cr_assert_eq(e->begin, e->end);
    cr_assert_eq(nb_meta_count(nb_safetensors_meta(st)), 0);
    nb_safetensors_close(st);
    free(file);
    nb_params_free(a);
    nb_params_free(s);
}

IO_TEST(several_parts_and_metadata_round_trip)
{
    char p[512];
    path_in(dir, "ckpt.safetensors", p);
    nb_params *m1 = sample_store(4), *s1 = nb_params_new(), *m2 = sample_store(5),
              *s2 = nb_params_new();
    nb_params *ss[] = {s1, s2};
    for (int k = 0; k < 2; k++) {
        nb_params_add(ss[k], "dense.kernel.momentum", NB_BUFFER, NB_SHAPE(3, 4));
        nb_params_add(ss[k], "step", NB_BUFFER, NB_SHAPE(1));
    }
    for (int64_t i = 0; i < store_numel(s1); i++)
        nb_params_values(s1)[i] = -(float)i;
    nb_meta *meta = nb_meta_new();
    cr_assert_eq(nb_meta_set_u64(meta, "epoch", 3), NB_OK);
    cr_assert_eq(nb_meta_set_u64(meta, "step", 12345678901234ULL), NB_OK);
    cr_assert_eq(nb_meta_set_u64(meta, "shuffle_seed", UINT64_MAX), NB_OK);
    cr_assert_eq(nb_meta_set_f64(meta, "best_loss", 0.1), NB_OK);
    cr_assert_eq(nb_meta_set(meta, "note", "naïve \"quotes\" \\ and\nnewline"), NB_OK);
    nb_checkpoint_part save[] = {{"", m1}, {"optim.", s1}};
    cr_assert_eq(nb_checkpoint_save(p, save, 2, meta), NB_OK, "%s", nb_error());

    nb_checkpoint_part load[] = {{NULL, m2}, {"optim.", s2}};
    nb_meta *got = NULL;
    cr_assert_eq(nb_checkpoint_load(p, load, 2, NULL, &got), NB_OK, "%s", nb_error());
    cr_assert(same_values(m1, m2));
    cr_assert(same_values(s1, s2));
    cr_assert_not_null(got);
    cr_assert_eq(nb_meta_count(got), 5);
    for (int64_t i = 0; i < 5; i++) {
        cr_assert_str_eq(nb_meta_key(got, i), nb_meta_key(meta, i));
        cr_assert_str_eq(nb_meta_value(got, i), nb_meta_value(meta, i));
    }
    uint64_t u;
    double d;
    cr_assert_eq(nb_meta_get_u64(got, "shuffle_seed", &u), NB_OK);
    cr_assert_eq(u, UINT64_MAX);
    cr_assert_eq(nb_meta_get_f64(got, "best_loss", &d), NB_OK);
    cr_assert_eq(d, 0.1);
    nb_meta_free(got);

    /* A part's store can be loaded alone: the other part's tensors are extras. */
    nb_params *s3 = nb_params_new();
    nb_params_add(s3, "dense.kernel.momentum", NB_BUFFER, NB_SHAPE(3, 4));
    nb_params_add(s3, "step", NB_BUFFER, NB_SHAPE(1));
    nb_checkpoint_part only[] = {{"optim.", s3}};
    cr_assert_eq(nb_checkpoint_load(p, only, 1, &(nb_checkpoint_load_opts){.allow_extra = true},
                                    NULL), NB_OK, "%s", nb_error());
    cr_assert(same_values(s1, s3));
    nb_meta_free(meta);
    nb_params *all[] = {m1, s1, m2, s2, s3};
    for (int k = 0; k < 5; k++)
        nb_params_free(all[k]);
}

IO_TEST(a_file_without_metadata_gives_an_empty_map_and_empty_stores_work)
{
    char p[512];
    path_in(dir, "empty.safetensors", p);
    nb_params *e = nb_params_new();
    cr_assert_eq(nb_params_save(p, e), NB_OK, "%s", nb_error());
    nb_meta *got = NULL;
    nb_checkpoint_part part = {NULL, e};
    cr_assert_eq(nb_checkpoint_load(p, &part, 1, NULL, &got), NB_OK, "%s", nb_error());
    cr_assert_not_null(got);
    cr_assert_eq(nb_meta_count(got), 0);
    nb_meta_free(got);
    /* No part at all: only the metadata. */
    nb_meta *m = nb_meta_new();
    nb_meta_set(m, "k", "v");
    cr_assert_eq(nb_checkpoint_save(p, NULL, 0, m), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_checkpoint_load(p, NULL, 0, NULL, &got), NB_OK, "%s", nb_error());
    cr_assert_str_eq(nb_meta_get(got, "k"), "v");
    nb_meta_free(got);
    nb_meta_free(m);
    nb_params_free(e);
}

IO_TEST(a_store_that_is_not_finalized_round_trips)
{
    char p[512];
    path_in(dir, "open.safetensors", p);
    nb_params *a = nb_params_new(), *b = nb_params_new();
    nb_params *ss[] = {a, b};
    for (int k = 0; k < 2; k++) {
        nb_params_add(ss[k], "rm", NB_BUFFER, NB_SHAPE(5));
        nb_params_add(ss[k], "w", NB_PARAM, NB_SHAPE(7));
    }
    for (int i = 0; i < 12; i++)
        nb_params_values(a)[i] = (float)i * 1.25f;
    cr_assert(!nb_params_finalized(a));
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_params_load(p, b), NB_OK, "%s", nb_error());
    cr_assert(same_values(a, b));
    nb_params_free(a);
    nb_params_free(b);
}

/* A file as another producer may write it: tensors out of the arena's order, entries
 * with keys nabla does not write, metadata nabla did not write, a header padded with
 * spaces and a newline, and a 7-D tensor of another dtype that is ignored. */
IO_TEST(a_file_from_another_writer_loads)
{
    char p[512];
    path_in(dir, "foreign.safetensors", p);
    nb_params *ps = nb_params_new();
    nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(2, 2));
    nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(3));
    nb_params_add(ps, "c", NB_BUFFER, NB_SHAPE(1));
    /* data: c (4 bytes), x (I8, 7-D of 1s: 1 byte + 3 padding-free bytes? no: 1 byte),
     * then b, then a -- reversed. */
    float a[4] = {1.5f, -2.0f, 3.25f, 0.0f}, b[3] = {1e-30f, -1e30f, 42.0f}, c[1] = {-0.5f};
    unsigned char data[4 + 4 + 12 + 16];
    memcpy(data, c, 4);
    memset(data + 4, 7, 4);
    memcpy(data + 8, b, 12);
    memcpy(data + 20, a, 16);
    const char *header =
        "{\n  \"__metadata__\": {\"format\": \"pt\", \"epoch\": \"9\"},\n"
        "  \"c\": {\"data_offsets\": [0, 4], \"shape\": [1], \"dtype\": \"F32\"},\n"
        "  \"x\": {\"dtype\": \"I8\", \"shape\": [1, 1, 1, 1, 1, 1, 4], \"data_offsets\": [4, 8]},\n"
        "  \"b\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [8, 20], \"extra\": null},\n"
        "  \"a\": {\"shape\": [2, 2], \"dtype\": \"F32\", \"data_offsets\": [20, 36]}\n}\n";
    write_st(p, header, 5, data, sizeof data);
    nb_meta *got = NULL;
    nb_checkpoint_part part = {NULL, ps};
    cr_assert_eq(nb_checkpoint_load(p, &part, 1, &(nb_checkpoint_load_opts){.allow_extra = true},
                                    &got), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(nb_params_find(ps, "a")->data, a, 16), 0);
    cr_assert_eq(memcmp(nb_params_find(ps, "b")->data, b, 12), 0);
    cr_assert_eq(nb_params_find(ps, "c")->data[0], -0.5f);
    cr_assert_str_eq(nb_meta_get(got, "format"), "pt");
    cr_assert_str_eq(nb_meta_get(got, "epoch"), "9");
    nb_meta_free(got);

    /* The reader lists the tensor nabla does not load. */
    nb_safetensors *st = nb_safetensors_open(p);
    cr_assert_not_null(st, "%s", nb_error());
    const nb_safetensors_tensor *x = nb_safetensors_at(st, nb_safetensors_find(st, "x"));
    cr_assert_str_eq(x->dtype, "I8");
    cr_assert_eq(x->ndim, 7);
    cr_assert_eq(x->shape[6], 4);
    cr_assert_eq(x->numel, 4);
    cr_assert_str_eq(nb_safetensors_at(st, 0)->name, "c", "the header's order is kept");
    nb_safetensors_close(st);

    /* Strict, the extra tensor is an error that names it. */
    nb_error_clear();
    cr_assert_eq(nb_checkpoint_load(p, &part, 1, NULL, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "'x' matches no entry"), "%s", nb_error());
    cr_assert(strstr(nb_error(), p), "%s", nb_error());
    nb_params_free(ps);
}

/* Loads that must fail name the problem and leave every store as it was. */
static void assert_load_fails(const char *path, nb_checkpoint_part *parts, int n,
                              const nb_checkpoint_load_opts *opts, nb_status code,
                              const char *needle)
{
    float *before[4];
    for (int p = 0; p < n; p++) {
        size_t bytes = (size_t)store_numel(parts[p].params) * 4;
        before[p] = malloc(bytes + 1);
        if (bytes)
            memcpy(before[p], nb_params_values(parts[p].params), bytes);
    }
    nb_meta *meta = (nb_meta *)&before;  /* must come back NULL */
    nb_error_clear();
    nb_status s = nb_checkpoint_load(path, parts, n, opts, &meta);
    cr_assert_eq(s, code, "status %s (%s), expected %s", nb_status_str(s), nb_error(),
                 nb_status_str(code));
    cr_assert_eq(nb_error_code(), code);
    cr_assert(strstr(nb_error(), needle), "message \"%s\" lacks \"%s\"", nb_error(), needle);
    cr_assert_null(meta);
    for (int p = 0; p < n; p++) {
        size_t bytes = (size_t)store_numel(parts[p].params) * 4;
        cr_assert(bytes == 0 || memcmp(before[p], nb_params_values(parts[p].params), bytes) == 0,
                  "a failed load changed store %d", p);
        free(before[p]);
    }
}

IO_TEST(a_shape_that_differs_names_the_tensor_and_both_shapes)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(6);
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    nb_params *b = nb_params_new();
    nb_params_add(b, "dense.kernel", NB_PARAM, NB_SHAPE(4, 3));
    nb_params_add(b, "bn.running_mean", NB_BUFFER, NB_SHAPE(4));
    nb_params_add(b, "dense.bias", NB_PARAM, NB_SHAPE(4));
    nb_params_add(b, "scale", NB_PARAM, 0, NULL);
    nb_params_add(b, "empty", NB_BUFFER, NB_SHAPE(0, 3));
    nb_params_add(b, "conv/w:0", NB_PARAM, NB_SHAPE(2, 1, 3, 3));
    nb_tensor_fill(nb_params_find(b, "dense.bias"), 9.0f);
    nb_checkpoint_part part = {NULL, b};
    assert_load_fails(p, &part, 1, NULL, NB_ERR_SHAPE,
                      "tensor 'dense.kernel' has shape [3,4] in the file but [4,3] in the store");
    /* Also with a prefix, and for a rank that differs. */
    nb_params *c = nb_params_new();
    nb_params_add(c, "kernel", NB_PARAM, NB_SHAPE(12));
    nb_checkpoint_part pre = {"dense.", c};
    nb_checkpoint_load_opts lenient = {.allow_extra = true, .allow_missing = true};
    assert_load_fails(p, &pre, 1, &lenient, NB_ERR_SHAPE,
                      "'dense.kernel' has shape [3,4] in the file but [12] in the store");
    nb_params_free(a);
    nb_params_free(b);
    nb_params_free(c);
}

IO_TEST(a_missing_tensor_is_named_unless_allowed)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(7);
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    nb_params *b = sample_store(8);
    nb_params *extra = nb_params_new();
    nb_tensor *w = nb_params_add(extra, "head.w", NB_PARAM, NB_SHAPE(2));
    w->data[0] = 5.0f;
    nb_checkpoint_part parts[] = {{NULL, b}, {NULL, extra}};
    assert_load_fails(p, parts, 2, NULL, NB_ERR_ARG,
                      "tensor 'head.w' is not in the file (1 of the 7 tensors asked for are "
                      "missing; allow_missing accepts that)");
    cr_assert_eq(nb_checkpoint_load(p, parts, 2,
                                    &(nb_checkpoint_load_opts){.allow_missing = true}, NULL),
                 NB_OK, "%s", nb_error());
    cr_assert(same_values(a, b));
    cr_assert_eq(w->data[0], 5.0f, "a missing entry keeps its value");
    nb_params_free(a);
    nb_params_free(b);
    nb_params_free(extra);
}

IO_TEST(an_extra_tensor_is_named_unless_allowed)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(9);
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    nb_params *b = nb_params_new();
    nb_params_add(b, "dense.bias", NB_PARAM, NB_SHAPE(4));
    nb_checkpoint_part part = {NULL, b};
    assert_load_fails(p, &part, 1, NULL, NB_ERR_ARG,
                      "the file's tensor 'dense.kernel' matches no entry of the stores (5 of "
                      "its 6 tensors do not; allow_extra ignores them)");
    cr_assert_eq(nb_checkpoint_load(p, &part, 1, &(nb_checkpoint_load_opts){.allow_extra = true},
                                    NULL), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(nb_params_at(b, 0)->data, nb_params_find(a, "dense.bias")->data, 16), 0);
    nb_params_free(a);
    nb_params_free(b);
}

IO_TEST(a_dtype_other_than_f32_is_an_error_naming_it)
{
    char p[512];
    path_in(dir, "f16.safetensors", p);
    unsigned char data[8] = {0, 0x3c, 0, 0x40, 0, 0, 0, 0};
    write_st(p, "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                "\"l\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             0, data, 8);
    nb_params *ps = nb_params_new();
    nb_params_add(ps, "h", NB_PARAM, NB_SHAPE(2));
    nb_checkpoint_part part = {NULL, ps};
    nb_checkpoint_load_opts lenient = {.allow_extra = true};
    assert_load_fails(p, &part, 1, &lenient, NB_ERR_ARG,
                      "tensor 'h' has dtype F16; nabla loads only F32");
    nb_params_free(ps);
}

IO_TEST(bad_arguments_are_errors)
{
    char p[512];
    path_in(dir, "a.safetensors", p);
    nb_params *a = sample_store(10);
    nb_checkpoint_part part = {NULL, a};
    nb_error_clear();
    cr_assert_eq(nb_checkpoint_save(NULL, &part, 1, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "checkpoint_save: path is NULL"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_save(p, NULL, 1, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "parts is NULL"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_save(p, &part, -1, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "n is -1"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_save(p, &(nb_checkpoint_part){"x.", NULL}, 1, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "part 0 has no store"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_save(p, &(nb_checkpoint_part){"bad prefix", a}, 1, NULL),
                 NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "prefix 'bad prefix' holds character 0x20 at 3"), "%s",
              nb_error());
    /* Two parts whose full names collide: "x." + "dense.bias" vs "x.dense." + "bias". */
    nb_params *b = nb_params_new();
    nb_params_add(b, "bias", NB_PARAM, NB_SHAPE(1));
    nb_params *c = nb_params_new();
    nb_params_add(c, "dense.bias", NB_PARAM, NB_SHAPE(1));
    nb_checkpoint_part clash[] = {{"x.", c}, {"x.dense.", b}};
    cr_assert_eq(nb_checkpoint_save(p, clash, 2, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "the name 'x.dense.bias' comes from part 0 and from part 1"),
              "%s", nb_error());
    nb_params *r = nb_params_new();
    nb_params_add(r, "__metadata__", NB_BUFFER, NB_SHAPE(1));
    cr_assert_eq(nb_params_save(p, r), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "'__metadata__' is reserved"), "%s", nb_error());
    cr_assert_eq(access(p, F_OK), -1, "a failed save wrote the file");
    cr_assert_eq(count_files(dir, ""), 0);

    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_checkpoint_load(NULL, &part, 1, NULL, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "checkpoint_load: path is NULL"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_load(p, NULL, 2, NULL, NULL), NB_ERR_NULL);
    cr_assert_eq(nb_checkpoint_load(p, &part, -3, NULL, NULL), NB_ERR_ARG);
    cr_assert_eq(nb_checkpoint_load(p, clash, 2, NULL, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "checkpoint_load: the name 'x.dense.bias'"), "%s", nb_error());
    cr_assert_eq(nb_checkpoint_load_mem(NULL, 10, &part, 1, NULL, NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "data is NULL"), "%s", nb_error());
    cr_assert_null(nb_safetensors_open(NULL));
    cr_assert_eq(nb_error_code(), NB_ERR_NULL);
    nb_params *all[] = {a, b, c, r};
    for (int k = 0; k < 4; k++)
        nb_params_free(all[k]);
}

IO_TEST(files_that_cannot_be_read_are_io_errors)
{
    char p[512];
    nb_params *a = sample_store(11);
    nb_checkpoint_part part = {NULL, a};
    assert_load_fails(path_in(dir, "nothing-here", p), &part, 1, NULL, NB_ERR_IO,
                      "cannot open: No such file or directory");
    cr_assert(strstr(nb_error(), "checkpoint_load: '"), "%s", nb_error());
    cr_assert(strstr(nb_error(), "nothing-here"), "%s", nb_error());
    assert_load_fails(dir, &part, 1, NULL, NB_ERR_IO, "not a regular file");
    cr_assert_null(nb_safetensors_open(path_in(dir, "nothing-here", p)));
    cr_assert(strstr(nb_error(), "safetensors_open: '"), "%s", nb_error());
    nb_params_free(a);
}

/* A save that fails leaves the old checkpoint and no temp file. */
IO_TEST(a_failed_save_keeps_the_old_checkpoint_and_removes_its_temp_file)
{
    char p[512], q[512];
    nb_params *a = sample_store(12), *b = sample_store(13);
    /* The directory does not exist. */
    nb_error_clear();
    cr_assert_eq(nb_params_save(path_in(dir, "no/such/dir/x.safetensors", p), a), NB_ERR_IO);
    cr_assert(strstr(nb_error(), "cannot create the temporary file"), "%s", nb_error());
    cr_assert(strstr(nb_error(), "No such file or directory"), "%s", nb_error());
    /* The target is a directory: rename fails, the temp file goes. */
    path_in(dir, "sub", q);
    cr_assert_eq(mkdir(q, 0700), 0);
    cr_assert_eq(nb_params_save(q, a), NB_ERR_IO);
    cr_assert(strstr(nb_error(), "cannot rename"), "%s", nb_error());
    cr_assert(strstr(nb_error(), "Is a directory"), "%s", nb_error());
    cr_assert_eq(count_files(dir, ".tmp."), 0, "the temp file was left behind");

    /* The disk fills up (a file size limit) in the middle of the data. */
    path_in(dir, "model.safetensors", p);
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    size_t n0;
    unsigned char *old = read_file(p, &n0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)n0 / 2, (rlim_t)n0 / 2};
        setrlimit(RLIMIT_FSIZE, &rl);
        nb_status s = nb_params_save(p, b);
        bool ok = s == NB_ERR_IO && strstr(nb_error(), "cannot write") &&
                  strstr(nb_error(), "File too large");
        if (!ok)
            fprintf(stderr, "child: %s: %s\n", nb_status_str(s), nb_error());
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the save did not fail as expected");
    size_t n1;
    unsigned char *now = read_file(p, &n1);
    cr_assert(n0 == n1 && memcmp(old, now, n0) == 0, "the old checkpoint changed");
    cr_assert_eq(count_files(dir, ".tmp."), 0, "the temp file was left behind");
    free(old);
    free(now);
    nb_params_free(a);
    nb_params_free(b);
}

IO_TEST(loading_from_memory_equals_loading_the_file)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(14), *b = sample_store(15);
    nb_meta *m = nb_meta_new();
    nb_meta_set_u64(m, "epoch", 2);
    nb_checkpoint_part pa = {"model.", a}, pb = {"model.", b};
    cr_assert_eq(nb_checkpoint_save(p, &pa, 1, m), NB_OK, "%s", nb_error());
    size_t n;
    unsigned char *file = read_file(p, &n);
    nb_meta *got;
    cr_assert_eq(nb_checkpoint_load_mem(file, n, &pb, 1, NULL, &got), NB_OK, "%s", nb_error());
    cr_assert(same_values(a, b));
    cr_assert_str_eq(nb_meta_get(got, "epoch"), "2");
    nb_meta_free(got);
    /* Messages name the buffer. */
    nb_error_clear();
    cr_assert_eq(nb_checkpoint_load_mem(file, 7, &pb, 1, NULL, NULL), NB_ERR_IO);
    cr_assert(strstr(nb_error(), "checkpoint_load: <memory>: the file is 7 bytes"), "%s",
              nb_error());
    nb_safetensors *st = nb_safetensors_open_mem(file, n);
    cr_assert_not_null(st, "%s", nb_error());
    free(file);  /* nothing points into it */
    cr_assert_str_eq(nb_safetensors_at(st, 0)->name, "model.dense.kernel");
    cr_assert_str_eq(nb_meta_get(nb_safetensors_meta(st), "epoch"), "2");
    nb_safetensors_close(st);
    nb_meta_free(m);
    nb_params_free(a);
    nb_params_free(b);
}

/* Fail allocation k for k = 0, 1, ... during a save: an error, no leak, the old file
 * untouched, no temp file. */
IO_TEST(every_allocation_failure_in_a_save_is_an_error_without_a_trace)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(16), *b = sample_store(17);
    nb_meta *m = nb_meta_new();
    nb_meta_set_u64(m, "epoch", 5);
    nb_meta_set(m, "note", "x");
    nb_checkpoint_part parts[] = {{NULL, a}, {"copy.", b}};
    cr_assert_eq(nb_params_save(p, a), NB_OK, "%s", nb_error());
    size_t n0;
    unsigned char *old = read_file(p, &n0);
    for (long k = 0;; k++) {
        use_counting_allocator(k);
        nb_error_clear();
        nb_status s = nb_checkpoint_save(p, parts, 2, m);
        nb_set_allocator(NULL);
        cr_assert_eq(io_n_alloc, io_n_free, "failing allocation %ld leaked %ld blocks", k,
                     io_n_alloc - io_n_free);
        cr_assert_eq(count_files(dir, ".tmp."), 0, "failing allocation %ld left a temp file",
                     k);
        if (io_n_failed == 0) {
            cr_assert_eq(s, NB_OK, "%s", nb_error());
            cr_assert_gt(k, 10, "a save should need several allocations");
            break;
        }
        cr_assert_eq(s, NB_ERR_NOMEM, "failing allocation %ld gave %s: %s", k,
                     nb_status_str(s), nb_error());
        cr_assert(strstr(nb_error(), "out of memory"), "%s", nb_error());
        size_t n1;
        unsigned char *now = read_file(p, &n1);
        cr_assert(n0 == n1 && memcmp(old, now, n0) == 0, "failing allocation %ld changed the "
                  "file", k);
        free(now);
    }
    free(old);
    nb_meta_free(m);
    nb_params_free(a);
    nb_params_free(b);
}

IO_TEST(every_allocation_failure_in_a_load_is_an_error_leaving_the_stores)
{
    char p[512];
    path_in(dir, "m.safetensors", p);
    nb_params *a = sample_store(18), *b = sample_store(19);
    nb_meta *m = nb_meta_new();
    nb_meta_set_u64(m, "epoch", 5);
    nb_meta_set(m, "note", "x");
    nb_checkpoint_part save = {NULL, a}, load = {NULL, b};
    cr_assert_eq(nb_checkpoint_save(p, &save, 1, m), NB_OK, "%s", nb_error());
    size_t n;
    unsigned char *file = read_file(p, &n);
    float before[64];
    int64_t numel = store_numel(b);
    cr_assert_leq(numel, 64);
    memcpy(before, nb_params_values(b), (size_t)numel * 4);
    for (int from_mem = 0; from_mem < 2; from_mem++) {
        for (long k = 0;; k++) {
            use_counting_allocator(k);
            nb_error_clear();
            nb_meta *got = NULL;
            nb_status s = from_mem ? nb_checkpoint_load_mem(file, n, &load, 1, NULL, &got)
                                   : nb_checkpoint_load(p, &load, 1, NULL, &got);
            bool failed = io_n_failed > 0;
            nb_meta_free(got);
            nb_set_allocator(NULL);
            cr_assert_eq(io_n_alloc, io_n_free, "failing allocation %ld leaked %ld blocks", k,
                         io_n_alloc - io_n_free);
            if (!failed) {
                cr_assert_eq(s, NB_OK, "%s", nb_error());
                cr_assert(same_values(a, b));
                cr_assert_gt(k, 10, "a load should need several allocations");
                memcpy(nb_params_values(b), before, (size_t)numel * 4);
                break;
            }
            cr_assert_eq(s, NB_ERR_NOMEM, "failing allocation %ld gave %s: %s", k,
                         nb_status_str(s), nb_error());
            cr_assert(strstr(nb_error(), "out of memory"), "%s", nb_error());
            cr_assert_null(got);
            cr_assert_eq(memcmp(before, nb_params_values(b), (size_t)numel * 4), 0,
                         "failing allocation %ld changed the store", k);
        }
    }
    free(file);
    nb_meta_free(m);
    nb_params_free(a);
    nb_params_free(b);
}
