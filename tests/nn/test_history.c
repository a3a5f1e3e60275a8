/* The history: its columns and values, CSV, and the training curves as SVG, rendered to
 * PNG by rsvg-convert (librsvg2-bin) when it is installed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit_common.h"

NB_TEST_SUITE(history);

static nb_history *small_history(void)
{
    nb_logs cols = {.n = 4, .names = {"loss", "accuracy", "val_loss", "val_accuracy"}};
    nb_history *h = nb_history_new(&cols, 2);
    cr_assert_not_null(h);
    for (int e = 0; e < 5; e++) {  /* past the capacity of 2: it grows */
        nb_logs l = {.n = 4, .names = {"loss", "accuracy", "val_loss", "val_accuracy"},
                     .values = {1.0 / (e + 1), 0.5 + 0.1 * e, 1.2 / (e + 1), 0.45 + 0.1 * e}};
        cr_assert_eq(nb_history_append(h, &l), NB_OK);
    }
    return h;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nabla_history_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

Test(history, columns_values_and_csv)
{
    make_dir();
    nb_history *h = small_history();
    cr_assert_eq(nb_history_epochs(h), 5);
    cr_assert_eq(nb_history_columns(h), 4);
    cr_assert_str_eq(nb_history_name(h, 2), "val_loss");
    cr_assert_null(nb_history_name(h, 4));
    cr_assert_float_eq(nb_history_values(h, "val_loss")[4], 0.24, 1e-12);
    cr_assert_null(nb_history_values(h, "mae"));
    /* A column missing from an epoch's logs is NaN. */
    nb_logs partial = {.n = 1, .names = {"loss"}, .values = {7}};
    nb_history_append(h, &partial);
    cr_assert(isnan(nb_history_values(h, "accuracy")[5]));
    char path[128];
    path_in(path, sizeof path, "h.csv");
    cr_assert_eq(nb_history_write_csv(h, path), NB_OK, "%s", nb_error());
    char *csv = slurp(path);
    cr_assert(strncmp(csv, "epoch,loss,accuracy,val_loss,val_accuracy\n0,1,0.5,1.2,0.45\n"
                      "1,0.5,0.6", 60) == 0, "%s", csv);
    cr_assert(strstr(csv, "\n5,7,nan,nan,nan\n"), "%s", csv);
    free(csv);
    remove(path);
    assert_status(nb_history_write_csv(h, "/nonexistent/dir/h.csv"), NB_ERR_IO,
                  "history_write_csv: cannot open '/nonexistent/dir/h.csv' for writing");
    assert_error(nb_history_new(NULL, 1), NB_ERR_NULL, "history_new: columns is NULL");
    assert_status(nb_history_append(h, NULL), NB_ERR_NULL, "history_append: logs is NULL");
    assert_status(nb_history_write_svg(NULL, path, NULL), NB_ERR_NULL,
                  "history_write_svg: history is NULL");
    assert_status(nb_history_write_csv(h, NULL), NB_ERR_NULL, "history_write_csv: path is NULL");
    nb_history_free(h);
    rmdir(dir);
}

Test(history, training_curves_as_svg_rendered_to_png)
{
    make_dir();
    /* A real history from fit. */
    nb_tensor *x, *y;
    circle_data(64, 1, &x, &y);
    nb_model *m = circle_model(1, NB_ADAM(.lr = 0.05f));
    nb_history *h = nb_fit(m, x, y, .epochs = 12, .batch_size = 16, .validation_split = 0.25);
    cr_assert_not_null(h, "%s", nb_error());
    char svg_path[128], png_path[128];
    path_in(svg_path, sizeof svg_path, "curves.svg");
    path_in(png_path, sizeof png_path, "curves.png");
    cr_assert_eq(nb_history_write_svg(h, svg_path, &(nb_plot_opts){.title = "circle <fit>"}), NB_OK,
                 "%s", nb_error());
    char *svg = slurp(svg_path);
    cr_assert(strncmp(svg, "<?xml", 5) == 0);
    cr_assert(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"348\""),
              "two panels of 480 x 320 and a title: %.200s", svg);
    cr_assert(strstr(svg, "circle &lt;fit&gt;"), "the title is escaped");
    cr_assert_eq(count_of(svg, "<polyline fill=\"none\" stroke=\"#1f77b4\""), 2);
    cr_assert_eq(count_of(svg, "stroke=\"#ff7f0e\" stroke-width=\"2\" stroke-dasharray"), 4,
                 "two validation curves and two legend samples");
    cr_assert_eq(count_of(svg, ">train</text>"), 2);
    cr_assert_eq(count_of(svg, ">validation</text>"), 2);
    cr_assert_eq(count_of(svg, ">epoch</text>"), 2);
    cr_assert(strstr(svg, ">accuracy</text>") && strstr(svg, ">loss</text>"));
    cr_assert(strstr(svg, ">12</text>") || strstr(svg, ">11</text>"), "epoch ticks");
    cr_assert_eq(count_of(svg, "<circle "), 48, "a dot per epoch and curve");
    free(svg);
    if (access("/usr/bin/rsvg-convert", X_OK) == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/rsvg-convert -o '%s' '%s'", png_path, svg_path);
        cr_assert_eq(system(cmd), 0, "rsvg-convert failed on %s", svg_path);
        struct stat st;
        cr_assert_eq(stat(png_path, &st), 0);
        cr_assert_gt(st.st_size, 1000, "the PNG holds a picture (%lld bytes)", (long long)st.st_size);
        char *png = slurp(png_path);
        cr_assert(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "a PNG signature");
        free(png);
        remove(png_path);
    } else {
        cr_log_warn("rsvg-convert is not installed (Debian librsvg2-bin): rendering skipped");
    }
    remove(svg_path);
    /* One panel without metrics; errors. */
    nb_logs cols = {.n = 1, .names = {"loss"}};
    nb_history *only = nb_history_new(&cols, 1);
    nb_logs one = {.n = 1, .names = {"loss"}, .values = {0.5}};
    nb_history_append(only, &one);
    cr_assert_eq(nb_history_write_svg(only, svg_path, NULL), NB_OK);
    svg = slurp(svg_path);
    cr_assert(strstr(svg, "width=\"480\" height=\"320\""), "%.200s", svg);
    free(svg);
    remove(svg_path);
    assert_status(nb_history_write_svg(h, svg_path, &(nb_plot_opts){.metric = "mae"}), NB_ERR_ARG,
                  "history_write_svg: 'mae' is not in the history");
    assert_status(nb_history_write_svg(h, "/nonexistent/x.svg", NULL), NB_ERR_IO,
                  "history_write_svg: cannot open '/nonexistent/x.svg' for writing");
    assert_status(nb_history_write_svg(h, svg_path, &(nb_plot_opts){.width = 10}), NB_ERR_ARG,
                  "history_write_svg: a panel needs at least 200 x 150 pixels, got 10 x 320");
    nb_history_free(only);
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
    rmdir(dir);
}
