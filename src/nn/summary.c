/*
 * src/nn/summary.c - Keras's model.summary() table:
 *
 *     Model: "sequential"
 *     _________________________________________________________________
 *      Layer (type)                Output Shape              Param #
 *     =================================================================
 *      dense (Dense)               (None, 25)                75
 *     ...
 *     =================================================================
 *     Total params: 481 (1.88 KB)
 *     Trainable params: 481 (1.88 KB)
 *     Non-trainable params: 0 (0.00 B)
 *     _________________________________________________________________
 *
 * Input layers are not listed, as in Keras; a layer that never ran shows "?" as its
 * shape. Parameters are counted per layer, so a layer shared by two branches counts once.
 */
#include <stdio.h>
#include <string.h>

#include "model_private.h"

#define COL_NAME 29
#define COL_SHAPE 26
#define WIDTH 65

/* Keras's readable_memory_size: 1924 bytes -> "1.88 KB". */
static void memory_size(int64_t params, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double size = (double)params * (double)sizeof(float);
    int u = 0;
    while (u < 5 && size / 1024.0 >= 1.0) {
        size /= 1024.0;
        u++;
    }
    snprintf(buf, n, "%.2f %s", size, units[u]);
}

/* "(None, 25)" from a layer's last output shape. */
static void shape_cell(const nb_layer *l, char *buf, size_t n)
{
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (!nb_layer_output_shape(l, &ndim, shape)) {
        snprintf(buf, n, "?");
        return;
    }
    size_t k = (size_t)snprintf(buf, n, "(None");
    for (int d = 1; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, ", %lld", (long long)shape[d]);
    if (k < n)
        snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
}

static void rule(FILE *out, char c)
{
    for (int i = 0; i < WIDTH; i++)
        fputc(c, out);
    fputc('\n', out);
}

nb_status nb_model_summary(nb_model *m, FILE *out)
{
    if (!m || !out)
        return nb_set_error(NB_ERR_NULL, "model_summary: %s is NULL", m ? "out" : "model");
    nb_status s = nb_model_auto_build_(m);
    if (s != NB_OK)
        return s;
    if (!m->built)
        return nb_set_error(NB_ERR_STATE, "%s: summary: the model is not built yet; call "
                            "nb_model_build, start it with nb_input, or run it once", m->name);
    fprintf(out, "Model: \"%s\"\n", m->name);
    rule(out, '_');
    fprintf(out, " %-*s%-*s%s\n", COL_NAME - 1, "Layer (type)", COL_SHAPE, "Output Shape",
            "Param #");
    rule(out, '=');
    int64_t total = 0, trainable = 0;
    bool first = true;
    for (int i = 0; i < m->n_layers; i++) {
        const nb_layer *l = m->layers[i];
        int ndim;
        int64_t shape[NB_MAX_DIMS];
        if (nb_input_shape(l, &ndim, shape))
            continue;
        char name[2 * NB_LAYER_NAME_MAX + 8], cell[128];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->def->type);
        shape_cell(l, cell, sizeof cell);
        int64_t all = nb_layer_param_count(l, false);
        total += all;
        trainable += nb_layer_param_count(l, true);
        if (!first)
            fputc('\n', out);
        first = false;
        /* Columns start at fixed positions; a long cell pushes the next by a space. */
        int col = fprintf(out, " %s", name);
        col += fprintf(out, "%*s", col < COL_NAME ? COL_NAME - col : 1, "");
        col += fprintf(out, "%s", cell);
        fprintf(out, "%*s%lld\n", col < COL_NAME + COL_SHAPE ? COL_NAME + COL_SHAPE - col : 1,
                "", (long long)all);
    }
    rule(out, '=');
    char b1[32], b2[32], b3[32];
    memory_size(total, b1, sizeof b1);
    memory_size(trainable, b2, sizeof b2);
    memory_size(total - trainable, b3, sizeof b3);
    fprintf(out, "Total params: %lld (%s)\n", (long long)total, b1);
    fprintf(out, "Trainable params: %lld (%s)\n", (long long)trainable, b2);
    fprintf(out, "Non-trainable params: %lld (%s)\n", (long long)(total - trainable), b3);
    rule(out, '_');
    return ferror(out) ? nb_set_error(NB_ERR_IO, "%s: summary: writing failed", m->name) : NB_OK;
}
