/*
 * src/data/csv.c - numeric CSV tables: one sample per line, every cell a number, an
 * optional header line naming the columns, label columns chosen by name or index.
 *
 * Cells may be quoted ("1.5", "a ""name"""), so that a quoted header or a quoted
 * delimiter inside a name works; a quoted cell may not span lines. Files may be
 * gzip-compressed (the same source as the IDX reader). Values are parsed with strtod,
 * so the decimal point is the C locale's "." unless the program changed LC_NUMERIC.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/data.h"

#include "data_internal.h"
#include "source.h"

#define READ_CHUNK ((size_t)1 << 16)
#define MAX_LABELS 16

typedef struct cell {
    char *s;     /* NUL-terminated, unquoted, trimmed */
    size_t n;
} cell;

typedef struct csv_reader {
    nb_source *src;
    char delim;
    unsigned char *buf;   /* raw input */
    size_t buf_pos, buf_len;
    bool src_done;
    char *line;           /* the current line, NUL-terminated */
    size_t line_len, line_cap;
    int64_t line_no;      /* 1-based */
    cell *cells;
    size_t n_cells, cells_cap;
    char *header;         /* a copy of the header line's cells */
    cell *names;          /* [ncols] into header, or NULL */
    size_t ncols;
    float *vals;          /* rows x ncols */
    size_t n_vals, vals_cap;
} csv_reader;

/* Grows *p (of *cap elements of `size` bytes) to hold at least `need`. */
static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) {
            nb_set_error(NB_ERR_NOMEM, "out of memory: a table of more than %zu bytes",
                         SIZE_MAX / 2);
            return false;
        }
        c *= 2;
    }
    void *q = nb_alloc(c * size, 0);
    if (!q)
        return false;
    if (*p)
        memcpy(q, *p, *cap * size);
    nb_free(*p);
    *p = q;
    *cap = c;
    return true;
}

/* Reads the next line into r->line (without its \n or \r\n). Returns 1, 0 at the end
 * of the data, -1 on error. */
static int read_line(csv_reader *r)
{
    r->line_len = 0;
    bool any = false;
    for (;;) {
        if (r->buf_pos == r->buf_len) {
            if (r->src_done)
                break;
            int64_t got = nb_source_read(r->src, r->buf, READ_CHUNK);
            if (got < 0)
                return -1;
            if (got == 0) {
                r->src_done = true;
                break;
            }
            r->buf_pos = 0;
            r->buf_len = (size_t)got;
        }
        any = true;
        const unsigned char *start = r->buf + r->buf_pos;
        size_t left = r->buf_len - r->buf_pos;
        const unsigned char *nl = memchr(start, '\n', left);
        size_t k = nl ? (size_t)(nl - start) : left;
        if (!grow((void **)&r->line, &r->line_cap, r->line_len + k + 1, 1))
            return -1;
        memcpy(r->line + r->line_len, start, k);
        r->line_len += k;
        r->buf_pos += nl ? k + 1 : k;
        if (nl)
            break;
    }
    if (!any)
        return 0;
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
        r->line_len--;
    r->line[r->line_len] = '\0';
    r->line_no++;
    return 1;
}

static bool is_space(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* Splits r->line into r->cells in place: unquotes and trims each cell. */
static nb_status split_line(csv_reader *r)
{
    r->n_cells = 0;
    char *p = r->line, *end = r->line + r->line_len;
    for (;;) {
        if (!grow((void **)&r->cells, &r->cells_cap, r->n_cells + 1, sizeof(cell)))
            return NB_ERR_NOMEM;
        size_t col = r->n_cells + 1;
        while (p < end && is_space(*p, r->delim))
            p++;
        char *start = p, *w = p;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p == end)
                    return nb_source_error(r->src, NB_ERR_IO, "line %lld, column %zu: a "
                                           "quoted cell is not closed on its line",
                                           (long long)r->line_no, col);
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            while (p < end && is_space(*p, r->delim))
                p++;
            if (p < end && *p != r->delim)
                return nb_source_error(r->src, NB_ERR_IO, "line %lld, column %zu: text after "
                                       "the closing quote of a cell", (long long)r->line_no,
                                       col);
        } else {
            while (p < end && *p != r->delim)
                p++;
            w = p;
            while (w > start && is_space(w[-1], r->delim))
                w--;
        }
        bool more = p < end; /* p is at a delimiter */
        if (more)
            p++;
        *w = '\0';
        r->cells[r->n_cells++] = (cell){start, (size_t)(w - start)};
        if (!more)
            break;
    }
    return NB_OK;
}

/* "column 3" or "column 3 ('width')" for messages. */
static const char *column_name(const csv_reader *r, size_t c, char *buf, size_t n)
{
    if (r->names)
        snprintf(buf, n, "column %zu ('%.40s')", c + 1, r->names[c].s);
    else
        snprintf(buf, n, "column %zu", c + 1);
    return buf;
}

/* Parses the cells of a data line into r->vals. */
static nb_status parse_row(csv_reader *r)
{
    if (r->n_cells != r->ncols)
        return nb_source_error(r->src, NB_ERR_IO, "line %lld has %zu cell%s, expected %zu "
                               "(as %s)", (long long)r->line_no, r->n_cells,
                               r->n_cells == 1 ? "" : "s", r->ncols,
                               r->names ? "in the header" : "on the first line");
    if (!grow((void **)&r->vals, &r->vals_cap, r->n_vals + r->ncols, sizeof(float)))
        return NB_ERR_NOMEM;
    for (size_t c = 0; c < r->ncols; c++) {
        const cell *k = &r->cells[c];
        char col[80];
        if (k->n == 0)
            return nb_source_error(r->src, NB_ERR_IO, "line %lld, %s: empty cell (a missing "
                                   "value)", (long long)r->line_no,
                                   column_name(r, c, col, sizeof col));
        char *e;
        double v = strtod(k->s, &e);
        if (e != k->s + k->n || isnan(v))
            return nb_source_error(r->src, NB_ERR_IO, "line %lld, %s: '%.40s' is not a "
                                   "number", (long long)r->line_no,
                                   column_name(r, c, col, sizeof col), k->s);
        if (!(fabs(v) <= FLT_MAX))
            return nb_source_error(r->src, NB_ERR_IO, "line %lld, %s: '%.40s' is outside "
                                   "float's range", (long long)r->line_no,
                                   column_name(r, c, col, sizeof col), k->s);
        r->vals[r->n_vals++] = (float)v;
    }
    return NB_OK;
}

/* Keeps the header's cells as the column names. */
static nb_status keep_header(csv_reader *r)
{
    r->header = nb_alloc(r->line_len + 1, 0);
    r->names = r->header ? nb_alloc(r->n_cells * sizeof(cell), 0) : NULL;
    if (!r->names)
        return NB_ERR_NOMEM;
    memcpy(r->header, r->line, r->line_len + 1);
    for (size_t c = 0; c < r->n_cells; c++)
        r->names[c] = (cell){r->header + (r->cells[c].s - r->line), r->cells[c].n};
    return NB_OK;
}

/* The label columns from opts, checked against the file's columns; -1 on error. */
static int resolve_labels(csv_reader *r, const nb_csv_opts *o, bool by_name, size_t *cols)
{
    for (int i = 0; i < o->n_labels; i++) {
        size_t c = 0;
        if (by_name) {
            const char *name = o->label_names[i];
            if (!name) {
                nb_set_error(NB_ERR_ARG, "csv_load: label_names[%d] is NULL", i);
                return -1;
            }
            while (c < r->ncols && strcmp(r->names[c].s, name) != 0)
                c++;
            if (c == r->ncols) {
                nb_source_error(r->src, NB_ERR_IO, "label column '%.60s' is not in the header "
                                "(line 1)", name);
                return -1;
            }
        } else {
            int idx = o->label_indices[i];
            if (idx < 0) {
                nb_set_error(NB_ERR_ARG, "csv_load: label_indices[%d] is %d (negative)", i,
                             idx);
                return -1;
            }
            if ((size_t)idx >= r->ncols) {
                nb_source_error(r->src, NB_ERR_IO, "label column index %d does not exist: the "
                                "file has %zu columns (indices 0..%zu)", idx, r->ncols,
                                r->ncols - 1);
                return -1;
            }
            c = (size_t)idx;
        }
        for (int j = 0; j < i; j++)
            if (cols[j] == c) {
                char col[80];
                nb_set_error(NB_ERR_ARG, "csv_load: %s is chosen as a label twice",
                             column_name(r, c, col, sizeof col));
                return -1;
            }
        cols[i] = c;
    }
    if ((size_t)o->n_labels >= r->ncols) {
        nb_source_error(r->src, NB_ERR_ARG, "all %zu columns are labels; no input features "
                        "are left", r->ncols);
        return -1;
    }
    return 0;
}

/* Splits the rows x cols table into x [rows, features] and y [rows, labels]. */
static nb_dataset *make_dataset(csv_reader *r, const size_t *label_cols, int n_labels)
{
    size_t rows = r->n_vals / r->ncols, nf = r->ncols - (size_t)n_labels;
    bool is_label[r->ncols > 0 ? r->ncols : 1];
    memset(is_label, 0, sizeof is_label);
    for (int i = 0; i < n_labels; i++)
        is_label[label_cols[i]] = true;
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE((int64_t)rows, (int64_t)nf));
    nb_tensor *y = x && n_labels > 0 ? nb_tensor_zeros(NB_SHAPE((int64_t)rows, n_labels)) : NULL;
    if (!x || (n_labels > 0 && !y)) {
        nb_tensor_free(x);
        return NULL;
    }
    for (size_t i = 0; i < rows; i++) {
        const float *row = r->vals + i * r->ncols;
        float *xr = x->data + i * nf;
        for (size_t c = 0, f = 0; c < r->ncols; c++)
            if (!is_label[c])
                xr[f++] = row[c];
        for (int l = 0; l < n_labels; l++)
            y->data[i * (size_t)n_labels + (size_t)l] = row[label_cols[l]];
    }
    nb_dataset *ds = nb_dataset_new(x, y, true);
    if (!ds) {
        nb_tensor_free(x);
        nb_tensor_free(y);
    }
    return ds;
}

static nb_dataset *csv_read(nb_source *src, const nb_csv_opts *opts)
{
    nb_csv_opts o = opts ? *opts : (nb_csv_opts){0};
    if (o.delimiter == 0)
        o.delimiter = ',';
    if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r') {
        nb_set_error(NB_ERR_ARG, "csv_load: the delimiter cannot be a quote or a line end "
                     "(got 0x%02x)", (unsigned char)o.delimiter);
        return NULL;
    }
    if (o.n_labels < 0 || o.n_labels > MAX_LABELS) {
        nb_set_error(NB_ERR_ARG, "csv_load: n_labels %d is outside [0, %d]", o.n_labels,
                     MAX_LABELS);
        return NULL;
    }
    bool by_name = false;
    for (int i = 0; i < o.n_labels; i++)
        by_name |= o.label_names[i] != NULL;
    if (by_name && !o.header) {
        nb_set_error(NB_ERR_ARG, "csv_load: label columns by name need header = true");
        return NULL;
    }

    csv_reader r = {.src = src, .delim = o.delimiter};
    nb_dataset *ds = NULL;
    size_t label_cols[MAX_LABELS];
    int64_t blank_line = 0; /* a blank line seen, waiting to know if data follows */
    bool first = true;
    r.buf = nb_alloc(READ_CHUNK, 0);
    if (!r.buf)
        goto done;
    for (;;) {
        int got = read_line(&r);
        if (got < 0)
            goto done;
        if (got == 0)
            break;
        if (first && r.line_len >= 3 && memcmp(r.line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(r.line, r.line + 3, r.line_len - 2); /* a UTF-8 byte order mark */
            r.line_len -= 3;
        }
        size_t k = 0;
        while (k < r.line_len && is_space(r.line[k], r.delim))
            k++;
        if (k == r.line_len) {
            if (!blank_line)
                blank_line = r.line_no;
            continue;
        }
        if (blank_line) {
            nb_source_error(src, NB_ERR_IO, "line %lld is empty (only blank lines at the end "
                            "are allowed)", (long long)blank_line);
            goto done;
        }
        if (split_line(&r) != NB_OK)
            goto done;
        if (first) {
            first = false;
            r.ncols = r.n_cells;
            if (o.header && keep_header(&r) != NB_OK)
                goto done;
            if (resolve_labels(&r, &o, by_name, label_cols) < 0)
                goto done;
            if (o.header)
                continue;
        }
        if (parse_row(&r) != NB_OK)
            goto done;
    }
    if (first)
        nb_source_error(src, NB_ERR_IO, "empty file (no lines)");
    else if (r.n_vals == 0)
        nb_source_error(src, NB_ERR_IO, "no data rows after the header");
    else
        ds = make_dataset(&r, label_cols, o.n_labels);
done:
    nb_free(r.buf);
    nb_free(r.line);
    nb_free(r.cells);
    nb_free(r.header);
    nb_free(r.names);
    nb_free(r.vals);
    return ds;
}

nb_dataset *nb_csv_load(const char *path, const nb_csv_opts *opts)
{
    nb_source s;
    nb_dataset *ds = NULL;
    if (nb_source_open_file(&s, "csv_load", path) == NB_OK)
        ds = csv_read(&s, opts);
    nb_source_close(&s);
    return ds;
}

nb_dataset *nb_csv_load_mem(const void *buf, size_t n, const char *name,
                            const nb_csv_opts *opts)
{
    nb_source s;
    nb_dataset *ds = NULL;
    if (nb_source_open_mem(&s, "csv_load", buf, n, name) == NB_OK)
        ds = csv_read(&s, opts);
    nb_source_close(&s);
    return ds;
}
