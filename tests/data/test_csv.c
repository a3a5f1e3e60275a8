/* CSV tables: values, header and label columns by name or index, delimiters, quotes,
 * gzip; every bad table (written here) names the file, the line and the column. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "files.h"

NB_TEST_SUITE(csv);

/* Loads `text` from a file, from a gzip file and from memory; asserts the three agree
 * and returns the one from the file. */
static nb_dataset *load(test_dir *d, const char *name, const char *text, const nb_csv_opts *o)
{
    char gz[64];
    snprintf(gz, sizeof gz, "%s.gz", name);
    size_t n = strlen(text);
    nb_dataset *a = nb_csv_load(write_file(d, name, text, n), o);
    cr_assert_not_null(a, "%s: %s", name, nb_error());
    nb_dataset *b = nb_csv_load(write_gzip(d, gz, text, n), o);
    nb_dataset *c = nb_csv_load_mem(text, n, name, o);
    cr_assert(b && c, "%s: %s", name, nb_error());
    nb_tensor *ts[3][2] = {{nb_dataset_inputs(a), nb_dataset_targets(a)},
                           {nb_dataset_inputs(b), nb_dataset_targets(b)},
                           {nb_dataset_inputs(c), nb_dataset_targets(c)}};
    for (int k = 1; k < 3; k++)
        for (int j = 0; j < 2; j++) {
            cr_assert_eq(!ts[0][j], !ts[k][j]);
            if (ts[0][j]) {
                cr_assert(nb_tensor_same_shape(ts[0][j], ts[k][j]));
                cr_assert_eq(memcmp(ts[0][j]->data, ts[k][j]->data,
                                    (size_t)ts[0][j]->size * sizeof(float)), 0);
            }
        }
    nb_dataset_free(b);
    nb_dataset_free(c);
    return a;
}

static void assert_tensor(const nb_tensor *t, int64_t rows, int64_t cols, const double *want)
{
    cr_assert_not_null(t);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], rows, "rows %lld", (long long)t->shape[0]);
    cr_assert_eq(t->shape[1], cols, "cols %lld", (long long)t->shape[1]);
    assert_close(t->data, want, rows * cols, 0, 0, "csv");
}

Test(csv, plain_table_without_labels)
{
    test_dir d;
    test_dir_open(&d);
    nb_dataset *ds = load(&d, "plain.csv", "1,2,3\n-4.5, 5e3 ,\t6\n0.125,-0,1e-3\n", NULL);
    const double want[9] = {1, 2, 3, -4.5, 5000, 6, 0.125, 0, (double)1e-3f};
    assert_tensor(nb_dataset_inputs(ds), 3, 3, want);
    cr_assert_null(nb_dataset_targets(ds));
    nb_dataset_free(ds);
    test_dir_close(&d);
}

Test(csv, header_and_labels_by_name)
{
    test_dir d;
    test_dir_open(&d);
    const char *text = "a,target,b,\"c, quoted\"\n1,0,2,3\n4,1,5,6\n";
    nb_dataset *ds = load(&d, "named.csv", text, &(nb_csv_opts){
        .header = true, .label_names = {"target"}, .n_labels = 1});
    assert_tensor(nb_dataset_inputs(ds), 2, 3, (double[]){1, 2, 3, 4, 5, 6});
    assert_tensor(nb_dataset_targets(ds), 2, 1, (double[]){0, 1});
    nb_dataset_free(ds);
    /* Two labels, in the order asked for, one of them a quoted name. */
    ds = load(&d, "named2.csv", text, &(nb_csv_opts){
        .header = true, .label_names = {"c, quoted", "a"}, .n_labels = 2});
    assert_tensor(nb_dataset_inputs(ds), 2, 2, (double[]){0, 2, 1, 5});
    assert_tensor(nb_dataset_targets(ds), 2, 2, (double[]){3, 1, 6, 4});
    nb_dataset_free(ds);
    test_dir_close(&d);
}

Test(csv, labels_by_index_with_other_delimiters)
{
    test_dir d;
    test_dir_open(&d);
    nb_dataset *ds = load(&d, "semi.csv", "1;2;3\r\n4;5;6\r\n\r\n\n", &(nb_csv_opts){
        .delimiter = ';', .label_indices = {0}, .n_labels = 1});
    assert_tensor(nb_dataset_inputs(ds), 2, 2, (double[]){2, 3, 5, 6});
    assert_tensor(nb_dataset_targets(ds), 2, 1, (double[]){1, 4});
    nb_dataset_free(ds);
    ds = load(&d, "tabs.tsv", "x\ty\tz\n1\t2\t3\n", &(nb_csv_opts){
        .delimiter = '\t', .header = true, .label_indices = {2, 1}, .n_labels = 2});
    assert_tensor(nb_dataset_inputs(ds), 1, 1, (double[]){1});
    assert_tensor(nb_dataset_targets(ds), 1, 2, (double[]){3, 2});
    nb_dataset_free(ds);
    /* Space-separated: spaces are the delimiter, not padding. */
    ds = load(&d, "spaces.txt", "1 2\n3 4", &(nb_csv_opts){.delimiter = ' '});
    assert_tensor(nb_dataset_inputs(ds), 2, 2, (double[]){1, 2, 3, 4});
    nb_dataset_free(ds);
    test_dir_close(&d);
}

Test(csv, quotes_bom_and_a_last_line_without_newline)
{
    test_dir d;
    test_dir_open(&d);
    nb_dataset *ds = load(&d, "bom.csv", "\xEF\xBB\xBF\"p\"\"q\",r\n \"1.5\" ,\"2\"\n3,4", &(nb_csv_opts){
        .header = true, .label_names = {"p\"q"}, .n_labels = 1});
    assert_tensor(nb_dataset_inputs(ds), 2, 1, (double[]){2, 4});
    assert_tensor(nb_dataset_targets(ds), 2, 1, (double[]){1.5, 3});
    nb_dataset_free(ds);
    test_dir_close(&d);
}

Test(csv, a_larger_table_matches_its_values)
{
    /* 2000 rows x 7 columns, long enough to cross the reader's 64 KiB chunks. */
    size_t cap = 2000 * 7 * 24, len = 0;
    char *text = malloc(cap);
    double *want_x = malloc(2000 * 6 * sizeof(double)), want_y[2000];
    for (int i = 0; i < 2000; i++)
        for (int c = 0; c < 7; c++) {
            double v = (double)(float)((i * 7 + c) * 0.37 - 1000);
            len += (size_t)snprintf(text + len, cap - len, "%.9g%c", v, c == 6 ? '\n' : ',');
            if (c == 3)
                want_y[i] = v;
            else
                want_x[i * 6 + (c < 3 ? c : c - 1)] = v;
        }
    test_dir d;
    test_dir_open(&d);
    nb_dataset *ds = load(&d, "big.csv", text, &(nb_csv_opts){.label_indices = {3},
                                                              .n_labels = 1});
    assert_tensor(nb_dataset_inputs(ds), 2000, 6, want_x);
    assert_tensor(nb_dataset_targets(ds), 2000, 1, want_y);
    nb_dataset_free(ds);
    free(text);
    free(want_x);
    test_dir_close(&d);
}

/* ---- bad tables ---- */

static void assert_bad(test_dir *d, const char *name, const char *text, const nb_csv_opts *o,
                       nb_status code, const char *problem)
{
    const char *p = write_file(d, name, text, strlen(text));
    assert_error(nb_csv_load(p, o), code, problem);
    if (code == NB_ERR_IO) {
        char prefix[256];
        snprintf(prefix, sizeof prefix, "csv_load: '%s': ", p);
        cr_assert(strstr(nb_error(), prefix), "\"%s\" lacks \"%s\"", nb_error(), prefix);
    }
    assert_error(nb_csv_load_mem(text, strlen(text), name, o), code, problem);
}

Test(csv, bad_cells_name_the_line_and_column)
{
    test_dir d;
    test_dir_open(&d);
    nb_csv_opts hdr = {.header = true};
    assert_bad(&d, "word.csv", "1,2\n3,abc\n", NULL, NB_ERR_IO,
               "line 2, column 2: 'abc' is not a number");
    assert_bad(&d, "named.csv", "w,h\n1,2\n3,4x\n", &hdr, NB_ERR_IO,
               "line 3, column 2 ('h'): '4x' is not a number");
    assert_bad(&d, "missing.csv", "1,2,3\n4,,6\n", NULL, NB_ERR_IO,
               "line 2, column 2: empty cell (a missing value)");
    assert_bad(&d, "blank.csv", "1,2\n  ,3\n", NULL, NB_ERR_IO, "line 2, column 1: empty cell");
    assert_bad(&d, "nan.csv", "1,nan\n", NULL, NB_ERR_IO, "line 1, column 2: 'nan' is not a number");
    assert_bad(&d, "inf.csv", "1\n-inf\n", NULL, NB_ERR_IO,
               "line 2, column 1: '-inf' is outside float's range");
    assert_bad(&d, "huge.csv", "1e39\n", NULL, NB_ERR_IO, "'1e39' is outside float's range");
    assert_bad(&d, "short.csv", "1,2,3\n4,5\n", NULL, NB_ERR_IO,
               "line 2 has 2 cells, expected 3 (as on the first line)");
    assert_bad(&d, "long.csv", "a,b\n1,2\n3,4,5\n", &hdr, NB_ERR_IO,
               "line 3 has 3 cells, expected 2 (as in the header)");
    assert_bad(&d, "gap.csv", "1,2\n\n3,4\n", NULL, NB_ERR_IO,
               "line 2 is empty (only blank lines at the end are allowed)");
    assert_bad(&d, "quote.csv", "1,\"2\n", NULL, NB_ERR_IO,
               "line 1, column 2: a quoted cell is not closed on its line");
    assert_bad(&d, "after.csv", "1,\"2\"x\n", NULL, NB_ERR_IO,
               "line 1, column 2: text after the closing quote of a cell");
    assert_bad(&d, "quoted_word.csv", "\"a\"\n", NULL, NB_ERR_IO, "'a' is not a number");
    assert_bad(&d, "empty.csv", "", NULL, NB_ERR_IO, "empty file (no lines)");
    assert_bad(&d, "blanks.csv", "\n \n\n", NULL, NB_ERR_IO, "empty file (no lines)");
    assert_bad(&d, "header_only.csv", "a,b\n", &hdr, NB_ERR_IO, "no data rows after the header");
    /* A NUL byte inside a cell. */
    const char nul[] = "1,2\n3,4\0" "5\n";
    assert_error(nb_csv_load(write_file(&d, "nul.csv", nul, sizeof nul - 1), NULL), NB_ERR_IO,
                 "line 2, column 2: '4' is not a number");
    test_dir_close(&d);
}

Test(csv, bad_label_columns_and_options)
{
    test_dir d;
    test_dir_open(&d);
    const char *t = "a,b,c\n1,2,3\n";
    assert_bad(&d, "n1.csv", t, &(nb_csv_opts){.header = true, .label_names = {"z"},
                                               .n_labels = 1},
               NB_ERR_IO, "label column 'z' is not in the header (line 1)");
    assert_bad(&d, "i1.csv", t, &(nb_csv_opts){.header = true, .label_indices = {3},
                                               .n_labels = 1},
               NB_ERR_IO, "label column index 3 does not exist: the file has 3 columns");
    assert_bad(&d, "i2.csv", t, &(nb_csv_opts){.label_indices = {-1}, .n_labels = 1},
               NB_ERR_ARG, "csv_load: label_indices[0] is -1 (negative)");
    assert_bad(&d, "i3.csv", t, &(nb_csv_opts){.header = true, .label_indices = {1, 1},
                                               .n_labels = 2},
               NB_ERR_ARG, "csv_load: column 2 ('b') is chosen as a label twice");
    assert_bad(&d, "i4.csv", t, &(nb_csv_opts){.header = true, .label_indices = {0, 1, 2},
                                               .n_labels = 3},
               NB_ERR_ARG, "all 3 columns are labels; no input features are left");
    assert_bad(&d, "n2.csv", t, &(nb_csv_opts){.label_names = {"a"}, .n_labels = 1},
               NB_ERR_ARG, "csv_load: label columns by name need header = true");
    assert_bad(&d, "n3.csv", t, &(nb_csv_opts){.header = true, .label_names = {"a"},
                                               .n_labels = 2},
               NB_ERR_ARG, "csv_load: label_names[1] is NULL");
    assert_bad(&d, "o1.csv", t, &(nb_csv_opts){.n_labels = 17}, NB_ERR_ARG,
               "csv_load: n_labels 17 is outside [0, 16]");
    assert_bad(&d, "o2.csv", t, &(nb_csv_opts){.n_labels = -1}, NB_ERR_ARG,
               "n_labels -1 is outside");
    assert_bad(&d, "o3.csv", t, &(nb_csv_opts){.delimiter = '"'}, NB_ERR_ARG,
               "csv_load: the delimiter cannot be a quote or a line end");
    test_dir_close(&d);
}

Test(csv, bad_files)
{
    test_dir d;
    test_dir_open(&d);
    assert_error(nb_csv_load(test_path(&d, "nope.csv"), NULL), NB_ERR_IO,
                 "nope.csv': cannot open: No such file or directory");
    assert_error(nb_csv_load(d.path, NULL), NB_ERR_IO, "cannot read: Is a directory");
    assert_error(nb_csv_load(NULL, NULL), NB_ERR_NULL, "csv_load: path is NULL");
    size_t gn;
    const char *text = "1,2\n3,4\n5,6\n7,8\n9,10\n";
    unsigned char *g = gzip_bytes(text, strlen(text), &gn);
    assert_error(nb_csv_load(write_file(&d, "cut.csv.gz", g, gn - 4), NULL), NB_ERR_IO,
                 "cut.csv.gz': the gzip stream is truncated");
    g[gn - 7] ^= 1;
    assert_error(nb_csv_load_mem(g, gn, "crc.csv.gz", NULL), NB_ERR_IO,
                 "csv_load: 'crc.csv.gz': corrupt gzip stream (incorrect data check)");
    free(g);
    /* Binary garbage is an error, not a crash. */
    unsigned char junk[512];
    for (int i = 0; i < 512; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    assert_error(nb_csv_load_mem(junk, sizeof junk, "junk", NULL), NB_ERR_IO, "csv_load: 'junk'");
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

Test(csv, allocation_failures_are_errors_not_leaks)
{
    /* Enough cells to grow the table and the line buffers. */
    char text[8192];
    size_t len = 0;
    len += (size_t)snprintf(text, sizeof text, "a,b,label\n");
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%d,%d,%d\n", i, 2 * i, i % 3);
    size_t gn;
    unsigned char *g = gzip_bytes(text, len, &gn);
    nb_csv_opts o = {.header = true, .label_names = {"label"}, .n_labels = 1};
    for (int k = 0; k < 2; k++)
        for (fail_at = 0;; fail_at++) {
            n_calls = n_live = 0;
            nb_set_allocator(&(nb_allocator){failing_alloc, failing_free, NULL});
            nb_dataset *ds = k ? nb_csv_load_mem(g, gn, "g", &o) : nb_csv_load_mem(text, len, "t", &o);
            nb_dataset_free(ds);
            nb_set_allocator(NULL);
            cr_assert_eq(n_live, 0, "failing allocation %ld leaked", fail_at);
            if (ds) {
                cr_assert_gt(fail_at, 5);
                break;
            }
            cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "%s", nb_error());
        }
    free(g);
}
