/* nb_meta: the ordered string map of a checkpoint's metadata. */
#include "io_common.h"

NB_TEST_SUITE(meta);

Test(meta, set_get_replace_keep_the_first_order)
{
    nb_meta *m = nb_meta_new();
    cr_assert_not_null(m);
    cr_assert_eq(nb_meta_count(m), 0);
    cr_assert_null(nb_meta_get(m, "epoch"));
    cr_assert_eq(nb_meta_set(m, "epoch", "1"), NB_OK);
    cr_assert_eq(nb_meta_set(m, "note", "hello"), NB_OK);
    cr_assert_eq(nb_meta_set(m, "", "empty keys are fine"), NB_OK);
    cr_assert_eq(nb_meta_set(m, "epoch", "2"), NB_OK);
    cr_assert_eq(nb_meta_count(m), 3);
    cr_assert_str_eq(nb_meta_key(m, 0), "epoch");
    cr_assert_str_eq(nb_meta_value(m, 0), "2");
    cr_assert_str_eq(nb_meta_key(m, 1), "note");
    cr_assert_str_eq(nb_meta_get(m, ""), "empty keys are fine");
    cr_assert_null(nb_meta_key(m, 3));
    cr_assert_null(nb_meta_value(m, -1));
    /* Many keys (the table grows). */
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        cr_assert_eq(nb_meta_set_u64(m, k, (uint64_t)i * 3), NB_OK);
    }
    uint64_t u;
    cr_assert_eq(nb_meta_get_u64(m, "k77", &u), NB_OK);
    cr_assert_eq(u, 231);
    cr_assert_eq(nb_meta_count(m), 103);
    nb_meta_free(m);
    nb_meta_free(NULL);
    cr_assert_null(nb_meta_get(NULL, "x"));
    cr_assert_eq(nb_meta_count(NULL), 0);
}

Test(meta, numbers_read_back_exactly)
{
    nb_meta *m = nb_meta_new();
    const uint64_t us[] = {0, 1, 4294967296ULL, UINT64_MAX};
    for (int i = 0; i < 4; i++) {
        uint64_t got = 7;
        nb_meta_set_u64(m, "u", us[i]);
        cr_assert_eq(nb_meta_get_u64(m, "u", &got), NB_OK, "%s", nb_error());
        cr_assert_eq(got, us[i]);
    }
    const double ds[] = {0.1, -1e-310, 1.0 / 3.0, 6.02214076e23, INFINITY, -0.0};
    for (int i = 0; i < 6; i++) {
        double got = 7;
        nb_meta_set_f64(m, "d", ds[i]);
        cr_assert_eq(nb_meta_get_f64(m, "d", &got), NB_OK, "%s: %s", nb_meta_get(m, "d"),
                     nb_error());
        cr_assert_eq(memcmp(&got, &ds[i], sizeof got), 0, "%.17g read back as %.17g", ds[i], got);
    }
    double nan_back;
    nb_meta_set_f64(m, "d", NAN);
    cr_assert_eq(nb_meta_get_f64(m, "d", &nan_back), NB_OK);
    cr_assert(isnan(nan_back));
    nb_meta_free(m);
}

Test(meta, values_that_are_not_numbers_are_errors_naming_the_key)
{
    nb_meta *m = nb_meta_new();
    const char *bad_u[] = {"", "-1", "+1", " 1", "1 ", "1.0", "18446744073709551616", "0x10"};
    for (int i = 0; i < 8; i++) {
        uint64_t out = 42;
        nb_meta_set(m, "epoch", bad_u[i]);
        nb_error_clear();
        cr_assert_eq(nb_meta_get_u64(m, "epoch", &out), NB_ERR_ARG, "'%s'", bad_u[i]);
        cr_assert(strstr(nb_error(), "meta_get_u64: 'epoch' is '"), "%s", nb_error());
        cr_assert(strstr(nb_error(), "not a whole number in [0, 2^64)"), "%s", nb_error());
        cr_assert_eq(out, 42, "*out changed on error");
    }
    const char *bad_d[] = {"", "abc", "1.5x", " 2", "1e999"};
    for (int i = 0; i < 5; i++) {
        double out = 42;
        nb_meta_set(m, "loss", bad_d[i]);
        cr_assert_eq(nb_meta_get_f64(m, "loss", &out), NB_ERR_ARG, "'%s'", bad_d[i]);
        cr_assert(strstr(nb_error(), "meta_get_f64: 'loss' is '"), "%s", nb_error());
        cr_assert_eq(out, 42);
    }
    uint64_t u;
    cr_assert_eq(nb_meta_get_u64(m, "missing", &u), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "meta_get_u64: no key 'missing'"), "%s", nb_error());
    double d;
    cr_assert_eq(nb_meta_get_f64(NULL, "missing", &d), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "meta_get_f64: no key 'missing'"), "%s", nb_error());
    nb_meta_free(m);
}

Test(meta, bad_arguments_and_invalid_utf8)
{
    nb_meta *m = nb_meta_new();
    cr_assert_eq(nb_meta_set(NULL, "k", "v"), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "meta_set: the map is NULL"), "%s", nb_error());
    cr_assert_eq(nb_meta_set(m, NULL, "v"), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "the key is NULL"), "%s", nb_error());
    cr_assert_eq(nb_meta_set(m, "k", NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "the value is NULL"), "%s", nb_error());
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82"};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(nb_meta_set(m, bad[i], "v"), NB_ERR_ARG, "key %d", i);
        cr_assert(strstr(nb_error(), "is not valid UTF-8"), "%s", nb_error());
        cr_assert_eq(nb_meta_set(m, "k", bad[i]), NB_ERR_ARG, "value %d", i);
        cr_assert(strstr(nb_error(), "meta_set: the value of 'k' is not valid UTF-8"), "%s",
                  nb_error());
    }
    cr_assert_eq(nb_meta_count(m), 0);
    const char *good[] = {"naïve", "€", "\xf0\x9f\x98\x80", "\x7f"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(nb_meta_set(m, good[i], good[i]), NB_OK, "%d: %s", i, nb_error());
    nb_meta_free(m);
}

Test(meta, allocation_failures_leave_the_map_unchanged)
{
    for (long k = 0;; k++) {
        use_counting_allocator(k);
        nb_meta *m = nb_meta_new();
        nb_status s = m ? NB_OK : NB_ERR_NOMEM;
        for (int i = 0; i < 12 && s == NB_OK; i++) {
            char key[8];
            snprintf(key, sizeof key, "k%d", i);
            int64_t before = nb_meta_count(m);
            s = nb_meta_set(m, key, "value");
            if (s != NB_OK)
                cr_assert_eq(nb_meta_count(m), before);
        }
        if (s == NB_OK)
            s = nb_meta_set(m, "k3", "replaced");
        if (s != NB_OK) {
            cr_assert_eq(s, NB_ERR_NOMEM);
            cr_assert(!m || nb_meta_get(m, "k3") == NULL || strcmp(nb_meta_get(m, "k3"), "value") == 0);
        }
        nb_meta_free(m);
        bool failed = io_n_failed > 0;
        nb_set_allocator(NULL);
        cr_assert_eq(io_n_alloc, io_n_free, "failing allocation %ld leaked", k);
        if (!failed) {
            cr_assert_eq(s, NB_OK);
            break;
        }
    }
}
