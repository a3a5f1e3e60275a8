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

/* cols[(c,i,j), b P + (oh,ow)] (row stride ld) = image n0 + b, channel c0 + c, for the
 * nb images from n0: zero where the kernel hangs over the padding. */
void nb_kernel_im2col(const nb_conv2d_geom *g, const float *x, int64_t n0, int64_t nb, int64_t c0,
                   float *cols, int64_t ld)
{
    const int64_t tasks = nb * g->Cg;
    NB_PARALLEL_FOR_IF(g->R * nb * g->P >= NB_PAR_MIN, t, tasks, {
        int64_t b = t / g->Cg, c = t % g->Cg;
        const float *xc = x + ((n0 + b) * g->C + c0 + c) * g->H * g->W;
        for (int64_t i = 0; i < g->kH; i++) {
            for (int64_t j = 0; j < g->kW; j++) {
                float *row = cols + ((c * g->kH + i) * g->kW + j) * ld + b * g->P;
                int64_t off = j * g->dw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    float *d = row + oh * g->Wo;
                    int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->H) {
                        memset(d, 0, (size_t)g->Wo * sizeof(float));
                        continue;
                    }
                    const float *s = xc + ih * g->W;
                    for (int64_t ow = 0; ow < lo; ow++)
                        d[ow] = 0.0f;
                    if (g->sw == 1 && hi > lo)
                        memcpy(d + lo, s + lo + off, (size_t)(hi - lo) * sizeof(float));
                    else if (g->sw != 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            d[ow] = s[ow * g->sw + off];
                    for (int64_t ow = hi; ow < g->Wo; ow++)
                        d[ow] = 0.0f;
                }
            }
        }
    });
}

/* The adjoint of im2col: dx[n0 + b, c0 + c, ...] += each column entry at its pixel.
 * Each (image, channel) plane is summed by one thread in a fixed order. */
void nb_kernel_col2im(const nb_conv2d_geom *g, const float *cols, int64_t ld, int64_t n0,
                   int64_t nb, int64_t c0, float *dx)
{
    const int64_t tasks = nb * g->Cg;
    NB_PARALLEL_FOR_IF(g->R * nb * g->P >= NB_PAR_MIN, t, tasks, {
        int64_t b = t / g->Cg, c = t % g->Cg;
        float *dxc = dx + ((n0 + b) * g->C + c0 + c) * g->H * g->W;
        for (int64_t i = 0; i < g->kH; i++) {
            for (int64_t j = 0; j < g->kW; j++) {
                const float *row = cols + ((c * g->kH + i) * g->kW + j) * ld + b * g->P;
                int64_t off = j * g->dw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->H)
                        continue;
                    const float *s = row + oh * g->Wo;
                    float *d = dxc + ih * g->W;
                    for (int64_t ow = lo; ow < hi; ow++)
                        d[ow * g->sw + off] += s[ow];
                }
            }
        }
    });
}

