/* Malformed safetensors files, each made here: every one is an NB_ERR_IO naming the file
 * and the problem, never a crash or a read out of bounds, and a failed load leaves the
 * store unchanged. Also truncations and byte flips of a valid file. */
#include "io_common.h"

NB_TEST_SUITE(safetensors);

static char dir[64];
static char path[512];
static nb_params *store;  /* "a" [2] and "b" [1, 2], F32: 12 bytes */

static void setup(void)
{
    tmpdir_make(dir);
    path_in(dir, "bad.safetensors", path);
    store = nb_params_new();
    nb_params_add(store, "a", NB_PARAM, NB_SHAPE(2));
    nb_params_add(store, "b", NB_BUFFER, NB_SHAPE(1, 2));
    float v[4] = {1, 2, 3, 4};
    memcpy(nb_params_values(store), v, sizeof v);
}

static void teardown(void)
{
    nb_params_free(store);
    store = NULL;
    tmpdir_remove(dir);
}

#define ST_TEST(name) Test(safetensors, name, .init = setup, .fini = teardown)

static const float data12[3] = {0.5f, -1.5f, 2.5f};
static const unsigned char data16[16] = {0};

/* Writes the file, loads it into the store (from the file and from memory) and checks
 * the error: NB_ERR_IO, the file's name, `needle`, and the store unchanged. The header
 * reader must fail the same way. */
static void expect_bad_bytes(const unsigned char *file, size_t size, const char *needle)
{
    write_file(path, file, size);
    float before[4];
    memcpy(before, nb_params_values(store), sizeof before);
    nb_checkpoint_part part = {NULL, store};
    nb_checkpoint_load_opts lenient = {.allow_extra = true, .allow_missing = true};
    for (int from_mem = 0; from_mem < 2; from_mem++) {
        nb_error_clear();
        nb_meta *meta = NULL;
        nb_status s = from_mem ? nb_checkpoint_load_mem(file, size, &part, 1, &lenient, &meta)
                               : nb_checkpoint_load(path, &part, 1, &lenient, &meta);
        cr_assert_eq(s, NB_ERR_IO, "%s: status %s, message: %s", needle, nb_status_str(s),
                     nb_error());
        cr_assert(strstr(nb_error(), needle), "message \"%s\" lacks \"%s\"", nb_error(), needle);
        cr_assert(strstr(nb_error(), from_mem ? "checkpoint_load: <memory>: " : path),
                  "message \"%s\" does not name the file", nb_error());
        cr_assert_null(meta);
        cr_assert_eq(memcmp(before, nb_params_values(store), sizeof before), 0,
                     "a failed load changed the store");
    }
    nb_error_clear();
    cr_assert_null(nb_safetensors_open(path));
    cr_assert_eq(nb_error_code(), NB_ERR_IO);
    cr_assert(strstr(nb_error(), needle), "safetensors_open: \"%s\" lacks \"%s\"", nb_error(),
              needle);
}

static void expect_bad(const char *header, const void *data, size_t n, const char *needle)
{
    size_t size;
    unsigned char *file = make_st(header, 0, data, n, &size);
    expect_bad_bytes(file, size, needle);
    free(file);
}

#define GOOD_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

ST_TEST(a_valid_file_made_here_loads)
{
    /* The fixture itself: so the bad cases below fail for the reason they name. */
    write_st(path, "{" GOOD_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}",
             4, data12, 12);
    nb_params *ps = nb_params_new();
    nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(2));
    nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(1, 1));
    cr_assert_eq(nb_params_load(path, ps), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(nb_params_values(ps), data12, 12), 0);
    nb_params_free(ps);
}

ST_TEST(a_file_shorter_than_the_length_field)
{
    unsigned char b[5] = {1, 0, 0, 0, 0};
    expect_bad_bytes(b, 5, "the file is 5 bytes: too short for the 8-byte header length");
    expect_bad_bytes(b, 0, "the file is 0 bytes");
}

ST_TEST(a_header_length_past_the_end_of_the_file)
{
    size_t size;
    unsigned char *f = make_st_len(1000, "{}", 0, NULL, 0, &size);
    expect_bad_bytes(f, size, "header length 1000 runs past the end of the file (10 bytes)");
    free(f);
    f = make_st_len(3, "{}", 0, NULL, 0, &size);  /* 1 byte past */
    expect_bad_bytes(f, size, "header length 3 runs past the end of the file (10 bytes)");
    free(f);
    f = make_st_len(1, "{}", 0, NULL, 0, &size);  /* the JSON is cut: "{" */
    expect_bad_bytes(f, size, "the header is not valid JSON");
    free(f);
}

ST_TEST(an_absurd_header_length)
{
    size_t size;
    unsigned char *f = make_st_len((uint64_t)1 << 60, "{}", 0, NULL, 0, &size);
    expect_bad_bytes(f, size, "header length 1152921504606846976 is larger than the limit of "
                     "100000000 bytes");
    free(f);
    f = make_st_len(UINT64_MAX, "{}", 0, NULL, 0, &size);
    expect_bad_bytes(f, size, "is larger than the limit");
    free(f);
}

ST_TEST(json_that_does_not_parse_reports_line_and_column)
{
    expect_bad("{\n  \"a\": {\"dtype\": \"F32\",,}\n}", NULL, 0,
               "the header is not valid JSON: ");
    cr_assert(strstr(nb_error(), "(line 2, column "), "%s", nb_error());
    expect_bad("", NULL, 0, "the header is not valid JSON");
    expect_bad("{\"a\":", NULL, 0, "the header is not valid JSON");
    expect_bad("{} trailing", NULL, 0, "the header is not valid JSON");
    expect_bad("{\"a\":{\"dtype\":\"F\\u0000\"}}", NULL, 0, "the header is not valid JSON");
    expect_bad("{\"\xff\":1}", NULL, 0, "the header is not valid JSON");
    expect_bad("{\"a\":{\"shape\":[99999999999999999999999]}}", NULL, 0,
               "the header is not valid JSON");
}

ST_TEST(a_header_that_is_not_an_object)
{
    expect_bad("[1, 2]", NULL, 0, "the header is a JSON array, not an object");
    expect_bad("\"x\"", NULL, 0, "the header is not valid JSON: '[' or '{' expected");
    expect_bad("{\"a\": 3}", NULL, 0, "tensor 'a': its entry is a JSON integer, not an object");
}

ST_TEST(a_bad_dtype)
{
    expect_bad("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data16, 8,
               "tensor 'a': \"dtype\" is missing or not a string");
    expect_bad("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", data16, 8,
               "\"dtype\" is missing or not a string");
    expect_bad("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", data16, 8,
               "tensor 'a': unknown dtype 'Q7'");
    expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data16, 8,
               "unknown dtype 'f32'");
}

ST_TEST(a_bad_shape)
{
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data16, 8,
               "tensor 'a': \"shape\" is missing or not an array");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", data16, 8,
               "\"shape\" is missing or not an array");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", data16, 8,
               "tensor 'a': shape[1] is not a non-negative integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", data16, 8,
               "shape[0] is not a non-negative integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", data16, 8,
               "shape[0] is not a non-negative integer");
}

ST_TEST(bad_data_offsets)
{
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data16, 8,
               "tensor 'a': \"data_offsets\" is missing or not two non-negative integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", data16, 8,
               "\"data_offsets\" is missing or not two");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", data16, 8,
               "\"data_offsets\" is missing or not two");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", data16, 8,
               "\"data_offsets\" is missing or not two");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data16, 8,
               "tensor 'a': data_offsets [8, 0] lie outside the data section [0, 8)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data16, 8,
               "data_offsets [4, 12] lie outside the data section [0, 8)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
               "[9223372036854775807,9223372036854775807]}}", data16, 8,
               "lie outside the data section");
}

ST_TEST(offsets_that_overlap_leave_gaps_or_do_not_cover_the_data)
{
    expect_bad("{" GOOD_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               data12, 12, "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
    expect_bad("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}," GOOD_A "}",
               data12, 8, "tensors 'a' [0, 8) and 'b' [4, 8) overlap");
    expect_bad("{\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}," GOOD_A "}",
               data12, 8, "tensors 'a' [0, 8) and 'b' [4, 4) overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               data12, 12, "bytes [4, 8) of the data section belong to no tensor");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data12, 8,
               "bytes [0, 4) of the data section belong to no tensor");
    expect_bad("{" GOOD_A "}", data12, 12, "bytes [8, 12) of the data section belong to no "
               "tensor");
    expect_bad("{}", data12, 4, "bytes [0, 4) of the data section belong to no tensor");
    /* Two tensors over the same bytes. */
    expect_bad("{" GOOD_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               data12, 8, "tensors 'a' [0, 8) and 'b' [0, 8) overlap");
}

ST_TEST(a_byte_count_that_disagrees_with_the_shape)
{
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data12, 8,
               "tensor 'a': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8");
    expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", data12, 8,
               "shape [2,3] of F16 needs 12 bytes but data_offsets [0, 8] hold 8");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,8]}}", data12, 8,
               "shape [] of F32 needs 4 bytes");
    /* A product that overflows 64 bits, and one whose byte count does. */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],"
               "\"data_offsets\":[0,8]}}", data12, 8,
               "shape [4294967296,4294967296,2] of F32 needs more than 2^64 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
               "\"data_offsets\":[0,8]}}", data12, 8, "needs more than 2^64 bytes");
    /* A zero dimension makes the product 0 even next to huge ones. */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296,0],"
               "\"data_offsets\":[0,8]}}", data12, 8, "needs 0 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,8,9,10],\"data_offsets\":[0,8]}}",
               data12, 8, "shape [1,2,3,4,5,6,7,8,...] of F32 needs");
}

ST_TEST(duplicate_names)
{
    expect_bad("{" GOOD_A "," GOOD_A "}", data12, 8, "duplicate object key");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0, "duplicate object key");
}

ST_TEST(metadata_that_is_not_strings)
{
    expect_bad("{\"__metadata__\":{\"epoch\":3}," GOOD_A "}", data12, 8,
               "\"__metadata__\": 'epoch' is a JSON integer, not a string");
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"m\":{\"x\":\"y\"}}}", NULL, 0,
               "'m' is a JSON object, not a string");
    expect_bad("{\"__metadata__\":{\"k\":null}}", NULL, 0, "'k' is a JSON null, not a string");
    expect_bad("{\"__metadata__\":[\"a\"]}", NULL, 0,
               "\"__metadata__\" is a JSON array, not an object of strings");
    /* null is no metadata: fine. */
    write_st(path, "{\"__metadata__\":null}", 0, NULL, 0);
    nb_meta *m = NULL;
    cr_assert_eq(nb_checkpoint_load(path, NULL, 0, NULL, &m), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_meta_count(m), 0);
    nb_meta_free(m);
}

/* Every prefix of a valid file is malformed; none may crash or change the store. */
ST_TEST(every_truncation_of_a_valid_file_is_an_error)
{
    char good[512];
    path_in(dir, "good.safetensors", good);
    nb_params *src = sample_store(21);
    nb_meta *m = nb_meta_new();
    nb_meta_set_u64(m, "epoch", 1);
    nb_checkpoint_part part = {NULL, src};
    cr_assert_eq(nb_checkpoint_save(good, &part, 1, m), NB_OK, "%s", nb_error());
    size_t size;
    unsigned char *file = read_file(good, &size);
    nb_params *dst = sample_store(22);
    float *before = malloc((size_t)store_numel(dst) * 4);
    memcpy(before, nb_params_values(dst), (size_t)store_numel(dst) * 4);
    nb_checkpoint_part into = {NULL, dst};
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1);  /* exactly n bytes: ASan sees overreads */
        memcpy(copy, file, n);
        nb_status s = nb_checkpoint_load_mem(copy, n, &into, 1, NULL, NULL);
        cr_assert_eq(s, NB_ERR_IO, "truncated to %zu of %zu bytes: %s (%s)", n, size,
                     nb_status_str(s), nb_error());
        free(copy);
    }
    /* And the same through the file path for a few lengths. */
    for (size_t n = 0; n < size; n += 37) {
        write_file(path, file, n);
        cr_assert_eq(nb_checkpoint_load(path, &into, 1, NULL, NULL), NB_ERR_IO,
                     "truncated file of %zu bytes", n);
    }
    cr_assert_eq(memcmp(before, nb_params_values(dst), (size_t)store_numel(dst) * 4), 0);
    cr_assert_eq(nb_checkpoint_load_mem(file, size, &into, 1, NULL, NULL), NB_OK, "%s",
                 nb_error());
    cr_assert(same_values(src, dst));
    free(before);
    free(file);
    nb_meta_free(m);
    nb_params_free(src);
    nb_params_free(dst);
}

/* Each header byte replaced by a few others: loads either succeed or fail with an
 * error code, never crash, and a failure leaves the store alone. */
ST_TEST(flipped_header_bytes_never_crash)
{
    char good[512];
    path_in(dir, "good.safetensors", good);
    nb_params *src = sample_store(23);
    cr_assert_eq(nb_params_save(good, src), NB_OK, "%s", nb_error());
    size_t size;
    unsigned char *file = read_file(good, &size);
    nb_params *dst = sample_store(24);
    size_t bytes = (size_t)store_numel(dst) * 4;
    float *before = malloc(bytes);
    memcpy(before, nb_params_values(dst), bytes);
    nb_checkpoint_part into = {NULL, dst};
    const unsigned char subs[] = {0, '"', '{', '}', '[', ']', ',', ':', '9', '-', 'e', ' ', 0xff};
    nb_safetensors *st = nb_safetensors_open_mem(file, size);
    cr_assert_not_null(st);
    size_t start = (size_t)nb_safetensors_data_start(st);
    nb_safetensors_close(st);
    int ok = 0, failed = 0;
    unsigned char *copy = malloc(size);
    for (size_t i = 0; i < start; i++) {
        for (size_t k = 0; k < sizeof subs; k++) {
            memcpy(copy, file, size);
            copy[i] = subs[k];
            nb_status s = nb_checkpoint_load_mem(copy, size, &into, 1, NULL, NULL);
            cr_assert(s == NB_OK || s == NB_ERR_IO || s == NB_ERR_ARG || s == NB_ERR_SHAPE,
                      "byte %zu -> 0x%02x: %s", i, subs[k], nb_status_str(s));
            if (s == NB_OK) {
                ok++;
                memcpy(nb_params_values(dst), before, bytes);
            } else {
                failed++;
                cr_assert_eq(memcmp(before, nb_params_values(dst), bytes), 0,
                             "byte %zu -> 0x%02x: a failed load changed the store", i, subs[k]);
            }
            nb_safetensors_close(nb_safetensors_open_mem(copy, size));
        }
    }
    cr_assert_gt(failed, 100, "most flips should be errors");
    free(copy);
    free(before);
    free(file);
    nb_params_free(src);
    nb_params_free(dst);
}

/* Regression (fuzzer, clang UBSan): an empty header made arithmetic on a NULL block. */
ST_TEST(an_empty_header_lists_nothing_and_loads)
{
    static const unsigned char file[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ',
                                           ' ', ' '};
    nb_safetensors *st = nb_safetensors_open_mem(file, sizeof file);
    cr_assert_not_null(st, "%s", nb_error());
    cr_assert_eq(nb_safetensors_count(st), 0);
    cr_assert_eq(nb_safetensors_data_size(st), 0);
    cr_assert_eq(nb_safetensors_data_start(st), 16);
    nb_safetensors_close(st);
    nb_meta *m = NULL;
    cr_assert_eq(nb_checkpoint_load_mem(file, sizeof file, NULL, 0, NULL, &m), NB_OK, "%s",
                 nb_error());
    cr_assert_eq(nb_meta_count(m), 0);
    nb_meta_free(m);
}

ST_TEST(the_reader_lists_every_dtype_of_the_format)
{
    const char *names[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                           "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
    const unsigned sizes[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
    char header[4096];
    size_t used = 0, at = 0;
    used += (size_t)snprintf(header + used, sizeof header - used, "{");
    for (int i = 0; i < 15; i++) {
        used += (size_t)snprintf(header + used, sizeof header - used,
                                 "%s\"t%d\":{\"dtype\":\"%s\",\"shape\":[3],\"data_offsets\":"
                                 "[%zu,%zu]}", i ? "," : "", i, names[i], at, at + 3 * sizes[i]);
        at += 3 * sizes[i];
    }
    snprintf(header + used, sizeof header - used, ",\"__metadata__\":{\"who\":\"test\"}}");
    unsigned char *data = calloc(at, 1);
    write_st(path, header, 3, data, at);
    nb_safetensors *st = nb_safetensors_open(path);
    cr_assert_not_null(st, "%s", nb_error());
    cr_assert_eq(nb_safetensors_count(st), 15);
    cr_assert_eq(nb_safetensors_data_size(st), at);
    cr_assert_eq(nb_safetensors_data_start(st), 8 + strlen(header) + 3);
    for (int i = 0; i < 15; i++) {
        const nb_safetensors_tensor *t = nb_safetensors_at(st, i);
        char want[8];
        snprintf(want, sizeof want, "t%d", i);
        cr_assert_str_eq(t->name, want);
        cr_assert_str_eq(t->dtype, names[i]);
        cr_assert_eq(t->end - t->begin, 3 * sizes[i]);
        cr_assert_eq(nb_safetensors_find(st, want), i);
    }
    cr_assert_null(nb_safetensors_at(st, 15));
    cr_assert_null(nb_safetensors_at(st, -1));
    cr_assert_eq(nb_safetensors_find(st, "nope"), -1);
    cr_assert_str_eq(nb_meta_get(nb_safetensors_meta(st), "who"), "test");
    nb_safetensors_close(st);
    nb_safetensors_close(NULL);
    free(data);
}
