/*
 * conv2d: 2-D cross-correlation, NCHW, lowered to GEMM.
 *
 *   x [N, C, H, W], w [K, C/G, kH, kW], b [K]  ->  y [N, K, Ho, Wo]
 *   y[n,k,oh,ow] = b[k] + sum_{c,i,j} w[k,c,i,j] x[n, g C/G + c, oh sh - pt + i dh,
 *                                                      ow sw - pl + j dw]
 * with g = k / (K/G) the group of k and x zero outside the image. With im2col,
 * cols_n[(c,i,j), (oh,ow)] = that x value, each image and group is one product:
 *
 *   y_n,g  = w_g cols_n,g (+ b)                     [K/G, Ho Wo]
 *   dw_g  += dy_n,g cols_n,g^T                      (as its transpose cols dy^T, which
 *                                                    packs faster)
 *   dx_n  += col2im(w_g^T dy_n,g)                   scatter-add of the columns
 *   db    += sum over n, oh, ow of dy
 *
 * With opts.relu the output is max(0, .) of that, applied as each tile is written, and
 * backward first masks dy (dy where y > 0, else 0) block by block in the thread's
 * scratch: nb_relu's values and gradients without its two passes over the output.
 *
 * cols_n is never built whole: each product covers a block of output pixels whose
 * columns fit in L2 (the whole plane for the layers of a small CNN), built by im2col
 * just before its GEMM and recomputed in backward rather than saved. A 1x1 kernel with
 * stride 1 and no padding reads x as its columns. Each thread runs whole products on
 * its own scratch (nb_kernel_gemm_on); see "the work split" below. Every sum has a
 * fixed order: the same bits for any thread count.
 */
#include <omp.h>
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

/* Floats of one block of columns: 256 KB, which stays in L2 with the packed panels. A
 * block has at least min(P, 32) columns, and at most COLS_MAX floats. */
#define COLS_TARGET 65536
#define COLS_MAX ((int64_t)1 << 32)
/* Chunks of images in backward: dw and db partials, added in order. */
#define MAX_CHUNKS 16
/* Up to this many rows R (a first layer's C_in kH kW), dw is computed as dy cols^T,
 * which takes nb_kernel_gemm's thin path (N <= 16) instead of a tile mostly empty. */
#define DW_ROWS_MAX 16

typedef struct conv2d_params {
    nb_conv2d_opts o;
} conv2d_params;

nb_conv2d_opts nb_conv2d_default(void)
{
    return (nb_conv2d_opts){
        .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 1,
    };
}

/* The geometry, and whether cols is x itself (1x1, stride 1, no padding). */
static nb_conv2d_geom conv_geom_of(const nb_tensor *x, const nb_tensor *w,
                                   const nb_conv2d_opts *o, bool *direct)
{
    nb_conv2d_geom g = nb_conv2d_geometry(x->shape, w->shape, o);
    *direct = g.kH == 1 && g.kW == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 &&
              g.pl == 0 && g.pr == 0;
    return g;
}

static nb_status conv2d_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const conv2d_params *p = nb_op_params(ctx);
    const nb_conv2d_opts *o = &p->o;
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    char sx[128], sw[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    nb_tensor_shape_str(w, sw, sizeof sw);
    if (x->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input must be 4-D [N,C,H,W], got %s", sx);
    if (w->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "weight must be 4-D [C_out,C_in/groups,kH,kW], "
                           "got %s", sw);
    if (o->stride_h < 1 || o->stride_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "strides must be >= 1, got %dx%d", o->stride_h,
                           o->stride_w);
    if (o->dilation_h < 1 || o->dilation_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "dilations must be >= 1, got %dx%d",
                           o->dilation_h, o->dilation_w);
    if (!o->pad_same &&
        (o->pad_top < 0 || o->pad_bottom < 0 || o->pad_left < 0 || o->pad_right < 0))
        return nb_op_error(ctx, NB_ERR_ARG, "paddings must be >= 0, got top %d bottom %d "
                           "left %d right %d", o->pad_top, o->pad_bottom, o->pad_left,
                           o->pad_right);
    if (o->groups < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "groups must be >= 1, got %d", o->groups);
    if (w->shape[0] < 1 || w->shape[1] < 1 || w->shape[2] < 1 || w->shape[3] < 1)
        return nb_op_error(ctx, NB_ERR_SHAPE, "weight %s has an empty dimension", sw);
    if (x->shape[1] % o->groups != 0)
        return nb_op_error(ctx, NB_ERR_ARG, "groups %d does not divide the %lld input "
                           "channels of %s", o->groups, (long long)x->shape[1], sx);
    if (w->shape[0] % o->groups != 0)
        return nb_op_error(ctx, NB_ERR_ARG, "groups %d does not divide the %lld output "
                           "channels of weight %s", o->groups, (long long)w->shape[0], sw);
    if (x->shape[1] / o->groups != w->shape[1])
        return nb_op_error(ctx, NB_ERR_SHAPE, "input has %lld channels but weight %s expects "
                           "%lld (groups %d)", (long long)x->shape[1], sw,
                           (long long)w->shape[1] * o->groups, o->groups);
    if (nb_op_has_input(ctx, 2)) {
        const nb_tensor *b = nb_op_input(ctx, 2);
        if (b->ndim != 1 || b->shape[0] != w->shape[0]) {
            char sb[128];
            nb_tensor_shape_str(b, sb, sizeof sb);
            return nb_op_error(ctx, NB_ERR_SHAPE, "bias %s does not match weight %s: "
                               "expected [%lld]", sb, sw, (long long)w->shape[0]);
        }
    }
    /* Every quantity below fits int64: dimensions are at most NB_SIZE_MAX (2^48) and the
     * options int, so only the kernel extent dilation (k - 1) + 1 and the products of
     * output sizes need bounds. */
    if (w->shape[2] - 1 > NB_SIZE_MAX / o->dilation_h ||
        w->shape[3] - 1 > NB_SIZE_MAX / o->dilation_w)
        return nb_op_error(ctx, NB_ERR_SHAPE, "kernel %s with dilation %dx%d spans more than "
                           "2^%d pixels", sw, o->dilation_h, o->dilation_w, NB_SIZE_MAX_LOG2);
    bool direct;
    nb_conv2d_geom g = conv_geom_of(x, w, o, &direct);
    int64_t eh = g.dh * (g.kH - 1) + 1, ew = g.dw * (g.kW - 1) + 1;
    if (g.H + g.pt + g.pb < eh || g.W + g.pl + g.pr < ew)
        return nb_op_error(ctx, NB_ERR_SHAPE, "kernel %lldx%lld (dilation %lldx%lld, extent "
                           "%lldx%lld) is larger than the padded input %lldx%lld of %s",
                           (long long)g.kH, (long long)g.kW, (long long)g.dh,
                           (long long)g.dw, (long long)eh, (long long)ew,
                           (long long)(g.H + g.pt + g.pb), (long long)(g.W + g.pl + g.pr),
                           sx);
    if (g.P > NB_SIZE_MAX)
        return nb_op_error(ctx, NB_ERR_SHAPE, "output planes of %lldx%lld pixels (input %s, "
                           "padding top %lld bottom %lld left %lld right %lld) are too large "
                           "(more than 2^%d)", (long long)g.Ho, (long long)g.Wo, sx,
                           (long long)g.pt, (long long)g.pb, (long long)g.pl,
                           (long long)g.pr, NB_SIZE_MAX_LOG2);
    /* A thread's block of columns: R rows of at least min(P, 32) columns. */
    const int64_t min_cols = g.P < 32 ? g.P : 32;
    if (g.N > 0 && !direct && g.R > COLS_MAX / min_cols)
        return nb_op_error(ctx, NB_ERR_SHAPE, "the column matrix of %s with weight %s (%lld "
                           "rows, %lld columns per image) is too large: a block of %lld "
                           "columns holds more than 2^32 floats", sx, sw, (long long)g.R,
                           (long long)g.P, (long long)min_cols);
    *ndim = 4;
    shape[0] = g.N;
    shape[1] = g.K;
    shape[2] = g.Ho;
    shape[3] = g.Wo;
    return NB_OK;
}

/* ---- the work split -------------------------------------------------------------
 *
 * Forward: one task per (image, group, block of output pixels), each on one thread:
 * im2col of the block into that thread's columns (R x pb, sized for L2), one product
 * straight into y, the bias added while the tile is in cache. Backward: the images are
 * dealt into at most MAX_CHUNKS chunks of consecutive images (by N only); a chunk's
 * thread adds its images' dw into the chunk's own partial dw (transposed, [G][R][Kg])
 * and db partial, and their dx in full (blocks of one image overlap in dx). The
 * partials are then added in chunk order. One parallel region per pass, and the split
 * depends on the shapes only: the same bits for any thread count. */

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Output pixels per block: the whole plane when its columns fit COLS_TARGET. */
static int64_t block_pixels(const nb_conv2d_geom *g)
{
    if (g->R * g->P <= COLS_TARGET)
        return g->P;
    int64_t pb = COLS_TARGET / g->R / 32 * 32;
    pb = pb < 32 ? 32 : pb;
    return pb < g->P ? pb : g->P;
}

/* The largest workspace the products of a pass need over its block widths (pb, and the
 * last block's). */
static int64_t pass_work(const nb_conv2d_geom *g, int64_t pb, bool forward)
{
    const int64_t last = g->P - (g->P - 1) / pb * pb, np[2] = {pb, last};
    int64_t w = 0;
    for (int i = 0; i < 2; i++) {
        if (forward) {
            w = max64(w, nb_kernel_gemm_work(g->Kg, np[i], g->R, false));
        } else {
            w = max64(w, nb_kernel_gemm_work(g->R, g->Kg, np[i], false));
            w = max64(w, nb_kernel_gemm_work(g->Kg, g->R, np[i], false));
            w = max64(w, nb_kernel_gemm_work(g->R, np[i], g->Kg, true));
        }
    }
    return round16(w);
}

/* Threads for a region over `tasks` tasks of `work` multiply-adds in all. */
static int region_threads(int64_t tasks, double work)
{
    if (tasks < 2 || work < (double)NB_PAR_MIN * 32 || !nb_threads_available())
        return 1;
    int nt = omp_get_max_threads();
    return tasks < nt ? (int)tasks : nt;
}

typedef struct conv_pass {
    nb_conv2d_geom g;
    bool direct;
    int64_t pb, nblk;           /* pixels per block, blocks per plane */
    int64_t cols_f, work_f;     /* floats of each thread's columns and GEMM workspace */
    int64_t mask_f;             /* floats of each thread's masked dy block (relu backward) */
    float *scratch;             /* (cols_f + work_f + mask_f) floats per thread */
    bool relu;
    const float *x, *w, *bias, *dy, *yout; /* yout: the output, for relu's mask */
    float *y, *dx;
    float *dwp;                 /* dw partials: chunks x [G][R][Kg], or [G][Kg][R] if dw_rows */
    bool dw_rows;               /* dw_g = dy_g cols^T directly (few rows R: the thin path) */
    double *dbp;                /* db partials: chunks x K */
    int64_t chunks;
    int failed;
} conv_pass;

static void note_failure(conv_pass *c)
{
#pragma omp atomic write
    c->failed = 1;
}

/* d[0..n) += bk, then max(0, .) if relu by nb_relu's rule (v <= 0 gives 0, NaN stays). */
static void bias_relu(float *restrict d, int64_t n, float bk, bool relu)
{
    if (!relu) {
        for (int64_t p = 0; p < n; p++)
            d[p] += bk;
        return;
    }
    for (int64_t p = 0; p < n; p++) {
        const float v = d[p] + bk;
        d[p] = v <= 0.0f ? 0.0f : v;
    }
}

/* m[0..n) = d where y > 0, else 0: nb_relu's backward rule. */
static void relu_mask(float *restrict m, const float *restrict y, const float *restrict d,
                      int64_t n)
{
    for (int64_t p = 0; p < n; p++) {
        const float dv = d[p]; /* read unconditionally, so that the select vectorises */
        m[p] = y[p] > 0.0f ? dv : 0.0f;
    }
}

/* Task t of forward: image, group and block. */
static void forward_task(conv_pass *c, int64_t t, float *cols, float *work)
{
    const nb_conv2d_geom *g = &c->g;
    const int64_t P = g->P, blk = t % c->nblk, gr = t / c->nblk % g->G, n = t / c->nblk / g->G;
    const int64_t p0 = blk * c->pb, p1 = p0 + c->pb < P ? p0 + c->pb : P, np = p1 - p0;
    const float *B = c->x + (n * g->C + gr * g->Cg) * P + p0;
    int64_t ldb = P;
    if (!c->direct) {
        nb_kernel_im2col(g, c->x, n, gr * g->Cg, p0, p1, cols, np);
        B = cols;
        ldb = np;
    }
    float *y = c->y + (n * g->K + gr * g->Kg) * P + p0;
    if (nb_kernel_gemm_on(work, false, false, g->Kg, np, g->R, 1.0f, c->w + gr * g->Kg * g->R,
                          g->R, B, ldb, 0.0f, y, P) != NB_OK) {
        note_failure(c);
        return;
    }
    for (int64_t k = 0; k < g->Kg && (c->bias || c->relu); k++)
        bias_relu(y + k * P, np, c->bias ? c->bias[gr * g->Kg + k] : 0.0f, c->relu);
}

/* Chunk t of backward: its images' dw and db into the chunk's partials, their dx. */
static void backward_task(conv_pass *c, int64_t t, float *cols, float *work)
{
    const nb_conv2d_geom *g = &c->g;
    const int64_t P = g->P, R = g->R, Kg = g->Kg;
    const int64_t n0 = t * g->N / c->chunks, n1 = (t + 1) * g->N / c->chunks;
    float *dwp = c->dwp ? c->dwp + t * g->G * R * Kg : NULL;
    double *dbp = c->dbp ? c->dbp + t * g->K : NULL;
    float *mask = work + c->work_f;
    if (dwp)
        memset(dwp, 0, (size_t)(g->G * R * Kg) * sizeof(float));
    if (dbp)
        for (int64_t k = 0; k < g->K; k++)
            dbp[k] = 0.0;
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t gr = 0; gr < g->G; gr++) {
            const float *wg = c->w + gr * Kg * R;
            for (int64_t blk = 0; blk < c->nblk; blk++) {
                const int64_t p0 = blk * c->pb, p1 = p0 + c->pb < P ? p0 + c->pb : P;
                const int64_t np = p1 - p0, off = (n * g->K + gr * Kg) * P + p0;
                const float *dyb = c->dy + off;
                int64_t ldd = P;
                if (c->relu) { /* dy where the output is > 0, as nb_relu's backward */
                    for (int64_t k = 0; k < Kg; k++)
                        relu_mask(mask + k * np, c->yout + off + k * P, dyb + k * P, np);
                    dyb = mask;
                    ldd = np;
                }
                if (dbp)
                    for (int64_t k = 0; k < Kg; k++)
                        dbp[gr * Kg + k] += nb_kernel_sum(dyb + k * ldd, np);
                nb_status s = NB_OK;
                const float *B = c->x + (n * g->C + gr * g->Cg) * P + p0;
                int64_t ldb = P;
                if (dwp && !c->direct) {
                    nb_kernel_im2col(g, c->x, n, gr * g->Cg, p0, p1, cols, np);
                    B = cols;
                    ldb = np;
                }
                if (dwp && c->dw_rows) /* dw_g [Kg, R] += dy_g cols^T: R <= 16, thin path */
                    s = nb_kernel_gemm_on(work, false, true, Kg, R, np, 1.0f, dyb, ldd, B, ldb,
                                          1.0f, dwp + gr * Kg * R, R);
                else if (dwp) /* dwT_g [R, Kg] += cols dy_g^T: dy packs faster transposed */
                    s = nb_kernel_gemm_on(work, false, true, R, Kg, np, 1.0f, B, ldb, dyb, ldd,
                                          1.0f, dwp + gr * R * Kg, Kg);
                if (s == NB_OK && c->dx && c->direct) {
                    s = nb_kernel_gemm_on(work, true, false, R, np, Kg, 1.0f, wg, R, dyb, ldd,
                                          1.0f, c->dx + (n * g->C + gr * g->Cg) * P + p0, P);
                } else if (s == NB_OK && c->dx) {
                    s = nb_kernel_gemm_on(work, true, false, R, np, Kg, 1.0f, wg, R, dyb, ldd,
                                          0.0f, cols, np);
                    if (s == NB_OK)
                        nb_kernel_col2im(g, cols, np, n, gr * g->Cg, p0, p1, c->dx);
                }
                if (s != NB_OK) {
                    note_failure(c);
                    return;
                }
            }
        }
    }
}

/* Runs task(c, t, ...) for t in [0, tasks) on nt threads, each with its own scratch. */
static void run_tasks(conv_pass *c, int64_t tasks, int nt,
                      void (*task)(conv_pass *, int64_t, float *, float *))
{
    const int64_t per = c->cols_f + c->work_f + c->mask_f;
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            float *mine = c->scratch + omp_get_thread_num() * per;
#pragma omp for schedule(static)
            for (int64_t t = 0; t < tasks; t++)
                task(c, t, mine, mine + c->cols_f);
        }
    } else {
        for (int64_t t = 0; t < tasks; t++)
            task(c, t, c->scratch, c->scratch + c->cols_f);
    }
}

/* The pass's split and its threads' scratch (step memory); false on NB_ERR_NOMEM. */
static bool pass_init(conv_pass *c, const nb_tensor *x, const nb_tensor *w,
                      const nb_conv2d_opts *o, bool forward, int64_t tasks, int *nt)
{
    c->g = conv_geom_of(x, w, o, &c->direct);
    c->pb = block_pixels(&c->g);
    c->nblk = (c->g.P + c->pb - 1) / c->pb;
    c->cols_f = c->direct ? 0 : round16(c->g.R * c->pb);
    c->work_f = pass_work(&c->g, c->pb, forward);
    c->dw_rows = c->g.R <= DW_ROWS_MAX;
    c->relu = o->relu;
    c->mask_f = !forward && o->relu ? round16(c->g.Kg * c->pb) : 0;
    c->x = x->data;
    c->w = w->data;
    const double macs = (double)c->g.N * (double)c->g.K * (double)c->g.P * (double)c->g.R;
    *nt = region_threads(tasks, macs);
    const int64_t per = c->cols_f + c->work_f + c->mask_f;
    c->scratch = per > 0 ? nb_step_alloc((size_t)(per * *nt) * sizeof(float)) : NULL;
    return per == 0 || c->scratch;
}

static nb_status conv2d_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const conv2d_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    nb_conv2d_geom g = conv_geom_of(x, w, &p->o, &(bool){false});
    if (g.N == 0 || g.P == 0)
        return NB_OK;
    const int64_t nblk = (g.P + block_pixels(&g) - 1) / block_pixels(&g);
    const int64_t tasks = g.N * g.G * nblk;
    nb_step_mark mark = nb_step_mark_get();
    conv_pass c = {.bias = nb_op_has_input(ctx, 2) ? nb_op_input(ctx, 2)->data : NULL,
                   .y = y->data};
    int nt;
    nb_status s = NB_ERR_NOMEM;
    if (pass_init(&c, x, w, &p->o, true, tasks, &nt)) {
        run_tasks(&c, tasks, nt, forward_task);
        s = c.failed ? NB_ERR_ARG : NB_OK;
    }
    nb_step_rewind(mark);
    return s;
}

static nb_status conv2d_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const conv2d_params *p = nb_op_params(ctx);
    const nb_tensor *x = nb_op_input(ctx, 0), *w = nb_op_input(ctx, 1);
    nb_tensor *dxt = nb_op_grad(ctx, 0), *dwt = nb_op_grad(ctx, 1), *dbt = nb_op_grad(ctx, 2);
    nb_conv2d_geom g = conv_geom_of(x, w, &p->o, &(bool){false});
    if ((!dxt && !dwt && !dbt) || g.N == 0 || g.P == 0)
        return NB_OK;
    const int64_t chunks = g.N < MAX_CHUNKS ? g.N : MAX_CHUNKS;
    nb_step_mark mark = nb_step_mark_get();
    conv_pass c = {.dy = dy->data, .yout = y->data, .dx = dxt ? dxt->data : NULL,
                   .chunks = chunks};
    int nt;
    bool ok = pass_init(&c, x, w, &p->o, false, chunks, &nt);
    if (ok && dwt)
        ok = (c.dwp = nb_step_alloc((size_t)(chunks * g.K * g.R) * sizeof(float))) != NULL;
    if (ok && dbt)
        ok = (c.dbp = nb_step_alloc((size_t)(chunks * g.K) * sizeof(double))) != NULL;
    nb_status s = NB_ERR_NOMEM;
    if (ok) {
        run_tasks(&c, chunks, nt, backward_task);
        s = c.failed ? NB_ERR_ARG : NB_OK;
    }
    if (s == NB_OK && dwt) {
        /* dw[(gr Kg + k) R + r] += the chunks' partials at [gr][r][k] (or at the same
         * index if dw_rows), in chunk order */
        const int64_t Kg = g.Kg, R = g.R, KR = g.K * g.R;
        const float *dwp = c.dwp;
        const bool rows = c.dw_rows;
        float *dw = dwt->data;
        NB_PARALLEL_FOR_IF(KR * chunks >= NB_PAR_MIN, e, KR, {
            const int64_t gr = e / (Kg * R), k = e / R % Kg, r = e % R;
            const int64_t at = rows ? e : (gr * R + r) * Kg + k;
            float v = 0.0f;
            for (int64_t t = 0; t < chunks; t++)
                v += dwp[t * KR + at];
            dw[e] += v;
        });
    }
    if (s == NB_OK && dbt) {
        for (int64_t k = 0; k < g.K; k++) {
            double v = 0.0;
            for (int64_t t = 0; t < chunks; t++)
                v += c.dbp[t * g.K + k];
            dbt->data[k] += (float)v;
        }
    }
    nb_step_rewind(mark);
    return s;
}

static const nb_op conv2d_op = {
    .name = "conv2d",
    .n_inputs = 3,
    .inputs = {[2] = NB_INPUT_OPTIONAL},
    .input_names = {"x", "weight", "bias"},
    .params_size = sizeof(conv2d_params),
    .shape = conv2d_shape,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
};

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv2d_opts *opts)
{
    conv2d_params p = {.o = opts ? *opts : nb_conv2d_default()};
    nb_tensor *in[3] = {x, w, b};
    return nb_op_apply(&conv2d_op, in, 3, &p);
}
