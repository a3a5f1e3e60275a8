/*
 * src/nn/history.c - the history fit returns (per-epoch logs), written as CSV and drawn
 * as training curves in hand-written SVG: a panel for the loss and one for a metric,
 * each with the training and validation values per epoch, axes, ticks and a legend.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nabla.h"
#include "nabla/nn.h"

#define NAME_LEN 48

struct nb_history {
    int cols;
    char names[NB_LOGS_MAX][NAME_LEN];
    double *values;     /* column c, epoch e at values[c * cap + e] */
    int64_t epochs, cap;
};

nb_history *nb_history_new(const nb_logs *columns, int64_t capacity)
{
    if (!columns) {
        nb_set_error(NB_ERR_NULL, "history_new: columns is NULL");
        return NULL;
    }
    nb_history *h = nb_alloc(sizeof *h, 0);
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    h->cols = columns->n < NB_LOGS_MAX ? columns->n : NB_LOGS_MAX;
    for (int c = 0; c < h->cols; c++)
        snprintf(h->names[c], NAME_LEN, "%s", columns->names[c]);
    h->cap = capacity > 0 ? capacity : 1;
    if (!(h->values = nb_alloc(sizeof(double) * (size_t)(h->cap * (h->cols ? h->cols : 1)), 0))) {
        nb_free(h);
        return NULL;
    }
    return h;
}

void nb_history_free(nb_history *h)
{
    if (!h)
        return;
    nb_free(h->values);
    nb_free(h);
}

nb_status nb_history_append(nb_history *h, const nb_logs *logs)
{
    if (!h || !logs)
        return nb_set_error(NB_ERR_NULL, "history_append: %s is NULL", h ? "logs" : "history");
    if (h->epochs == h->cap) {
        int64_t cap = 2 * h->cap;
        double *v = nb_alloc(sizeof(double) * (size_t)(cap * (h->cols ? h->cols : 1)), 0);
        if (!v)
            return NB_ERR_NOMEM;
        for (int c = 0; c < h->cols; c++)
            memcpy(v + c * cap, h->values + c * h->cap, sizeof(double) * (size_t)h->epochs);
        nb_free(h->values);
        h->values = v;
        h->cap = cap;
    }
    for (int c = 0; c < h->cols; c++) {
        double v;
        h->values[c * h->cap + h->epochs] = nb_logs_get(logs, h->names[c], &v) ? v : NAN;
    }
    h->epochs++;
    return NB_OK;
}

int64_t nb_history_epochs(const nb_history *h) { return h ? h->epochs : 0; }
int nb_history_columns(const nb_history *h) { return h ? h->cols : 0; }

const char *nb_history_name(const nb_history *h, int column)
{
    return h && column >= 0 && column < h->cols ? h->names[column] : NULL;
}

const double *nb_history_values(const nb_history *h, const char *name)
{
    for (int c = 0; h && name && c < h->cols; c++)
        if (strcmp(h->names[c], name) == 0)
            return h->values + c * h->cap;
    return NULL;
}

/* ---- CSV ---- */

nb_status nb_history_write_csv(const nb_history *h, const char *path)
{
    if (!h || !path)
        return nb_set_error(NB_ERR_NULL, "history_write_csv: %s is NULL", h ? "path" : "history");
    FILE *f = fopen(path, "w");
    if (!f)
        return nb_set_error(NB_ERR_IO, "history_write_csv: cannot open '%s' for writing", path);
    fprintf(f, "epoch");
    for (int c = 0; c < h->cols; c++)
        fprintf(f, ",%s", h->names[c]);
    fputc('\n', f);
    for (int64_t e = 0; e < h->epochs; e++) {
        fprintf(f, "%lld", (long long)e);
        for (int c = 0; c < h->cols; c++)
            fprintf(f, ",%.9g", h->values[c * h->cap + e]);
        fputc('\n', f);
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return nb_set_error(NB_ERR_IO, "history_write_csv: writing '%s' failed", path);
    return NB_OK;
}

/* ---- SVG ---- */

/* A "nice" step near range / n: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int n)
{
    double raw = range / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Writes text with &, < and > escaped. */
static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

typedef struct panel {
    double x0, x1, y0, y1;        /* plot area in pixels (y0 top) */
    double emin, emax, vmin, vmax;  /* data range: epochs (1-based) and values */
} panel;

static double px(const panel *p, double epoch)
{
    return p->x0 + (epoch - p->emin) / (p->emax - p->emin) * (p->x1 - p->x0);
}

static double py(const panel *p, double v)
{
    return p->y1 - (v - p->vmin) / (p->vmax - p->vmin) * (p->y1 - p->y0);
}

/* One curve: a polyline through the finite values, and dots when there are few. */
static void curve(FILE *f, const panel *p, const double *v, int64_t n, const char *color,
                  bool dashed)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color,
            dashed ? " stroke-dasharray=\"6,3\"" : "");
    for (int64_t e = 0; e < n; e++)
        if (isfinite(v[e]))
            fprintf(f, "%.2f,%.2f ", px(p, (double)(e + 1)), py(p, v[e]));
    fputs("\"/>\n", f);
    if (n <= 40)
        for (int64_t e = 0; e < n; e++)
            if (isfinite(v[e]))
                fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n",
                        px(p, (double)(e + 1)), py(p, v[e]), color);
}

/* A panel for `name` (and "val_<name>") at horizontal offset ox. */
static void draw_panel(FILE *f, const nb_history *h, const char *name, double ox, double oy,
                       int W, int H)
{
    char vname[NAME_LEN + 8];
    snprintf(vname, sizeof vname, "val_%s", name);
    const double *tr = nb_history_values(h, name), *va = nb_history_values(h, vname);
    int64_t n = h->epochs;
    panel p = {.x0 = ox + 64, .x1 = ox + W - 16, .y0 = oy + 36, .y1 = oy + H - 48,
               .emin = 1, .emax = n > 1 ? (double)n : 2, .vmin = INFINITY, .vmax = -INFINITY};
    const double *series[2] = {tr, va};
    for (int k = 0; k < 2; k++)
        for (int64_t e = 0; series[k] && e < n; e++)
            if (isfinite(series[k][e])) {
                p.vmin = fmin(p.vmin, series[k][e]);
                p.vmax = fmax(p.vmax, series[k][e]);
            }
    if (!(p.vmin <= p.vmax))
        p.vmin = 0, p.vmax = 1;
    if (p.vmax - p.vmin < 1e-12 * fmax(1, fabs(p.vmax))) {
        double d = fabs(p.vmax) > 0 ? fabs(p.vmax) * 0.1 : 0.5;
        p.vmin -= d, p.vmax += d;
    }
    double step = nice_step(p.vmax - p.vmin, 5);
    p.vmin = floor(p.vmin / step) * step;
    p.vmax = ceil(p.vmax / step) * step;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);

    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" "
            "font-weight=\"bold\">", (p.x0 + p.x1) / 2, oy + 22);
    svg_text(f, name);
    fputs("</text>\n", f);
    /* y ticks and grid */
    for (double v = p.vmin; v <= p.vmax + step / 2; v += step) {
        double y = py(&p, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#e4e4e4\"/>\n",
                p.x0, y, p.x1, y);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                p.x0 - 5, y, p.x0, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.2f\" font-size=\"11\" text-anchor=\"end\">%.*f</text>\n",
                p.x0 - 8, y + 4, decimals, fabs(v) < step * 1e-9 ? 0.0 : v);
    }
    /* x ticks: epoch 1 and the multiples of a whole step */
    double xstep = ceil(fmax(1, nice_step(p.emax - p.emin, 6)));
    for (double e = xstep > 1 ? 0 : 1; e <= p.emax + 1e-9; e += xstep) {
        double tick = e < 1 ? 1 : e;
        if (e >= 1 && e - 1 < xstep / 2 && xstep > 1)
            continue;  /* too close to the tick at 1 */
        double x = px(&p, tick);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                x, p.y1, x, p.y1 + 5);
        fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.0f"
                "</text>\n", x, p.y1 + 18, tick);
    }
    /* axes and their labels */
    fprintf(f, "<polyline fill=\"none\" stroke=\"black\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
            p.x0, p.y0, p.x0, p.y1, p.x1, p.y1);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n",
            (p.x0 + p.x1) / 2, p.y1 + 36);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">", ox + 16, (p.y0 + p.y1) / 2, ox + 16,
            (p.y0 + p.y1) / 2);
    svg_text(f, name);
    fputs("</text>\n", f);
    if (tr)
        curve(f, &p, tr, n, "#1f77b4", false);
    if (va)
        curve(f, &p, va, n, "#ff7f0e", true);
    /* legend, top right; bottom right when the curves end high (an accuracy) */
    int entries = (tr != NULL) + (va != NULL);
    double last = tr && n > 0 && isfinite(tr[n - 1]) ? tr[n - 1] : p.vmin;
    bool high = (last - p.vmin) / (p.vmax - p.vmin) > 0.5;
    double lx = p.x1 - 118, ly = high ? p.y1 - 14 - 18 * entries : p.y0 + 6;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"110\" height=\"%d\" fill=\"white\" "
            "stroke=\"#999999\"/>\n", lx, ly, 8 + 18 * entries);
    const char *labels[2] = {"train", "validation"}, *colors[2] = {"#1f77b4", "#ff7f0e"};
    for (int k = 0, row = 0; k < 2; k++) {
        if (!series[k])
            continue;
        double y = ly + 14 + 18 * row++;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/>\n", lx + 8, y, lx + 32, y, colors[k],
                k ? " stroke-dasharray=\"6,3\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n", lx + 38, y + 4,
                labels[k]);
    }
}

nb_status nb_history_write_svg(const nb_history *h, const char *path, const nb_plot_opts *opts)
{
    if (!h || !path)
        return nb_set_error(NB_ERR_NULL, "history_write_svg: %s is NULL", h ? "path" : "history");
    nb_plot_opts o = opts ? *opts : (nb_plot_opts){0};
    int W = o.width > 0 ? o.width : 480, H = o.height > 0 ? o.height : 320;
    if (W < 200 || H < 150)
        return nb_set_error(NB_ERR_ARG, "history_write_svg: a panel needs at least 200 x 150 "
                            "pixels, got %d x %d", W, H);
    const char *metric = o.metric;
    if (metric && !nb_history_values(h, metric))
        return nb_set_error(NB_ERR_ARG, "history_write_svg: '%s' is not in the history", metric);
    /* Default: the first column that is neither the loss nor a validation one. */
    for (int c = 0; !metric && c < h->cols; c++)
        if (strcmp(h->names[c], "loss") != 0 && strncmp(h->names[c], "val_", 4) != 0)
            metric = h->names[c];
    bool has_loss = nb_history_values(h, "loss") != NULL;
    int panels = has_loss + (metric != NULL);
    if (panels == 0)
        return nb_set_error(NB_ERR_ARG, "history_write_svg: the history has no column to draw");
    FILE *f = fopen(path, "w");
    if (!f)
        return nb_set_error(NB_ERR_IO, "history_write_svg: cannot open '%s' for writing", path);
    int top = o.title ? 28 : 0;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W * panels, H + top, W * panels, H + top);
    if (o.title) {
        fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"16\" text-anchor=\"middle\">",
                W * panels / 2);
        svg_text(f, o.title);
        fputs("</text>\n", f);
    }
    int k = 0;
    if (has_loss)
        draw_panel(f, h, "loss", W * k++, top, W, H);
    if (metric)
        draw_panel(f, h, metric, W * k++, top, W, H);
    fputs("</svg>\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return nb_set_error(NB_ERR_IO, "history_write_svg: writing '%s' failed", path);
    return NB_OK;
}
