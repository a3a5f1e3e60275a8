/*
 * ops/kernels/im2col.c - convolution geometry, and the column matrix of a convolution
 * (im2col) with its adjoint (col2im).
 */
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

/* TensorFlow's "same": out = ceil(in / s), the total padding split with the odd pixel
 * at the end. */
static void same_pad(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *lo, int64_t *hi)
{
    int64_t out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + d * (k - 1) + 1 - in;
    if (total < 0)
        total = 0;
    *lo = total / 2;
    *hi = total - *lo;
}

nb_conv2d_geom nb_conv2d_geometry(const int64_t xs[4], const int64_t ws[4],
                                  const nb_conv2d_opts *o)
{
    nb_conv2d_geom g = {
        .N = xs[0], .C = xs[1], .H = xs[2], .W = xs[3],
        .K = ws[0], .kH = ws[2], .kW = ws[3],
        .G = o->groups, .sh = o->stride_h, .sw = o->stride_w,
        .dh = o->dilation_h, .dw = o->dilation_w,
        .pt = o->pad_top, .pb = o->pad_bottom, .pl = o->pad_left, .pr = o->pad_right,
    };
    if (o->pad_same) {
        same_pad(g.H, g.kH, g.sh, g.dh, &g.pt, &g.pb);
        same_pad(g.W, g.kW, g.sw, g.dw, &g.pl, &g.pr);
    }
    g.Cg = g.C / g.G;
    g.Kg = g.K / g.G;
    g.Ho = (g.H + g.pt + g.pb - g.dh * (g.kH - 1) - 1) / g.sh + 1;
    g.Wo = (g.W + g.pl + g.pr - g.dw * (g.kW - 1) - 1) / g.sw + 1;
    /* Saturated: huge paddings can make Ho Wo overflow int64 (shape() rejects it). */
    g.P = g.Ho > 0 && g.Wo > 0 && g.Ho > INT64_MAX / g.Wo ? INT64_MAX : g.Ho * g.Wo;
    g.R = g.Cg * g.kH * g.kW;
    return g;
}

/* The columns ow in [*lo, *hi) whose input column ow sw + off lies inside [0, W). */
static void valid_cols(const nb_conv2d_geom *g, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
    int64_t h = g->W - off <= 0 ? 0 : (g->W - off + g->sw - 1) / g->sw;
    *lo = l < g->Wo ? l : g->Wo;
    *hi = h < g->Wo ? h : g->Wo;
    if (*hi < *lo)
        *hi = *lo;
}

/* The columns [*q0, *q1) of output row oh that lie in the pixel range [p0, p1). */
static void row_part(const nb_conv2d_geom *g, int64_t oh, int64_t p0, int64_t p1, int64_t *q0,
                     int64_t *q1)
{
    const int64_t first = oh * g->Wo;
    *q0 = p0 > first ? p0 - first : 0;
    *q1 = p1 < first + g->Wo ? p1 - first : g->Wo;
}

void nb_kernel_im2col(const nb_conv2d_geom *g, const float *x, int64_t n, int64_t c0,
                      int64_t p0, int64_t p1, float *cols, int64_t ld)
{
    if (p1 <= p0)
        return;
    const int64_t oh0 = p0 / g->Wo, oh1 = (p1 - 1) / g->Wo;
    for (int64_t c = 0; c < g->Cg; c++) {
        const float *xc = x + (n * g->C + c0 + c) * g->H * g->W;
        for (int64_t i = 0; i < g->kH; i++) {
            for (int64_t j = 0; j < g->kW; j++) {
                /* row[ow] for output row oh is pixel oh Wo + ow of the range */
                float *row = cols + ((c * g->kH + i) * g->kW + j) * ld - p0;
                int64_t off = j * g->dw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t oh = oh0; oh <= oh1; oh++) {
                    int64_t q0, q1;
                    row_part(g, oh, p0, p1, &q0, &q1);
                    float *d = row + oh * g->Wo;
                    int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->H) {
                        for (int64_t ow = q0; ow < q1; ow++)
                            d[ow] = 0.0f;
                        continue;
                    }
                    const float *s = xc + ih * g->W;
                    const int64_t a = lo > q0 ? (lo < q1 ? lo : q1) : q0;
                    const int64_t b = hi < q1 ? (hi > a ? hi : a) : q1;
                    for (int64_t ow = q0; ow < a; ow++)
                        d[ow] = 0.0f;
                    if (g->sw == 1 && b > a)
                        nb_kernel_copy_short(d + a, s + a + off, b - a);
                    else if (g->sw != 1)
                        for (int64_t ow = a; ow < b; ow++)
                            d[ow] = s[ow * g->sw + off];
                    for (int64_t ow = b; ow < q1; ow++)
                        d[ow] = 0.0f;
                }
            }
        }
    }
}

void nb_kernel_col2im(const nb_conv2d_geom *g, const float *cols, int64_t ld, int64_t n,
                      int64_t c0, int64_t p0, int64_t p1, float *dx)
{
    if (p1 <= p0)
        return;
    const int64_t oh0 = p0 / g->Wo, oh1 = (p1 - 1) / g->Wo;
    for (int64_t c = 0; c < g->Cg; c++) {
        float *dxc = dx + (n * g->C + c0 + c) * g->H * g->W;
        for (int64_t i = 0; i < g->kH; i++) {
            for (int64_t j = 0; j < g->kW; j++) {
                const float *row = cols + ((c * g->kH + i) * g->kW + j) * ld - p0;
                int64_t off = j * g->dw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t oh = oh0; oh <= oh1; oh++) {
                    int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->H)
                        continue;
                    int64_t q0, q1;
                    row_part(g, oh, p0, p1, &q0, &q1);
                    const int64_t a = lo > q0 ? lo : q0, b = hi < q1 ? hi : q1;
                    const float *s = row + oh * g->Wo;
                    float *d = dxc + ih * g->W;
                    for (int64_t ow = a; ow < b; ow++)
                        d[ow * g->sw + off] += s[ow];
                }
            }
        }
    }
}
