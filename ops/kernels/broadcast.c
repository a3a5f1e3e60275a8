/*
 * ops/kernels/broadcast.c - walking broadcast operands, and summing gradients back to
 * a broadcast operand's shape.
 *
 * Both work on "coalesced" dimensions: size-1 dimensions dropped and neighbours merged
 * when every operand is laid out as if they were one, so [64,128] + [128] is 64 runs of
 * 128 and [2,3,4] + [2,3,4] is a single run.
 */
#include <string.h>

#include "nabla/op.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

/* Strides of t in the index space of `full` (0 where t is broadcast or absent). */
static void aligned_strides(const nb_tensor *t, const nb_tensor *full, int64_t *st)
{
    int off = full->ndim - t->ndim;
    int64_t s = 1;
    for (int d = full->ndim - 1; d >= 0; d--) {
        int k = d - off;
        if (k >= 0 && t->shape[k] != 1) {
            st[d] = s;
            s *= t->shape[k];
        } else
            st[d] = 0;
    }
}

/* Drops size-1 dimensions of `full` and merges neighbours whose strides in every one of
 * the `m` operands chain (outer stride == inner stride * inner size). Writes the
 * coalesced sizes n[] and strides st[op][] (outermost first); returns their count. */
static int coalesce(const nb_tensor *full, int m, int64_t st[][NB_MAX_DIMS],
                    int64_t n[NB_MAX_DIMS])
{
    int nd = 0;
    for (int d = 0; d < full->ndim; d++) {
        if (full->shape[d] == 1)
            continue;
        if (nd > 0) {
            bool chain = true;
            for (int o = 0; o < m; o++)
                chain &= st[o][nd - 1] == st[o][d] * full->shape[d];
            if (chain) {
                n[nd - 1] *= full->shape[d];
                for (int o = 0; o < m; o++)
                    st[o][nd - 1] = st[o][d];
                continue;
            }
        }
        n[nd] = full->shape[d];
        for (int o = 0; o < m; o++)
            st[o][nd] = st[o][d];
        nd++;
    }
    return nd;
}

void nb_kernel_broadcast(nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                        nb_binary_run run, const void *ud)
{
    if (out->size == 0)
        return;
    /* Each operand whole or a single value: one flat run, cut into blocks whose size
     * depends only on the size (so a run's bits never depend on the thread count). */
    if ((a->size == out->size || a->size == 1) && (b->size == out->size || b->size == 1)) {
        const int64_t N = out->size, BLK = 4096, nblk = (N + BLK - 1) / BLK;
        const int64_t sa = a->size == 1 && N > 1 ? 0 : 1, sb = b->size == 1 && N > 1 ? 0 : 1;
        float *o = out->data;
        const float *ad = a->data, *bd = b->data;
        if (nblk == 1) {
            run(o, ad, sa, bd, sb, N, ud);
            return;
        }
        NB_PARALLEL_FOR_IF(N >= NB_PAR_MIN, k, nblk, {
            int64_t lo = k * BLK, len = N - lo < BLK ? N - lo : BLK;
            run(o + lo, ad + lo * sa, sa, bd + lo * sb, sb, len, ud);
        });
        return;
    }
    int64_t st[2][NB_MAX_DIMS], n[NB_MAX_DIMS];
    aligned_strides(a, out, st[0]);
    aligned_strides(b, out, st[1]);
    int nd = coalesce(out, 2, st, n);
    if (nd == 0) { /* every dimension is 1 */
        run(out->data, a->data, 0, b->data, 0, 1, ud);
        return;
    }
    int64_t inner = n[nd - 1], sa = st[0][nd - 1], sb = st[1][nd - 1];
    int64_t runs = out->size / inner;
    float *o = out->data;
    const float *ad = a->data, *bd = b->data;
    NB_PARALLEL_FOR_IF(out->size >= NB_PAR_MIN && runs > 1, r, runs, {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % n[d];
            rem /= n[d];
            oa += i * st[0][d];
            ob += i * st[1][d];
        }
        run(o + r * inner, ad + oa, sa, bd + ob, sb, inner, ud);
    });
}

void nb_kernel_unbroadcast_add(nb_tensor *grad, const nb_tensor *g)
{
    if (g->size == 0) /* a sum over nothing; a 0 dimension would also stall the odometer */
        return;
    float *gr = grad->data;
    const float *gd = g->data;
    if (grad->size == g->size) { /* same layout: broadcasting can only add 1s */
        int64_t n = g->size;
        NB_PARALLEL_FOR(i, n, {
            gr[i] += gd[i];
        });
        return;
    }
    if (grad->size == 1) {
        gr[0] += (float)nb_kernel_sum(gd, g->size);
        return;
    }
    /* st[0]: strides in g (contiguous), st[1]: strides in grad (0 = summed over). */
    int64_t st[2][NB_MAX_DIMS], n[NB_MAX_DIMS];
    aligned_strides(g, g, st[0]);
    aligned_strides(grad, g, st[1]);
    int nd = coalesce(g, 2, st, n);
    const int64_t *gs = st[0], *os = st[1];
    int L = nd - 1, p = 0;
    while (os[p] == 0)
        p++; /* the outermost kept dimension: tasks split it, so each owns its outputs */
    int64_t blk = p == L ? 256 : 1;
    int64_t tasks = (n[p] + blk - 1) / blk;
    /* The other dimensions, walked by an odometer inside each task (innermost L is a run). */
    int od[NB_MAX_DIMS], no = 0;
    for (int d = 0; d < nd; d++)
        if (d != p && d != L)
            od[no++] = d;

    NB_PARALLEL_FOR_IF(g->size >= NB_PAR_MIN && tasks > 1, t, tasks, {
        int64_t j0 = t * blk, j1 = j0 + blk < n[p] ? j0 + blk : n[p];
        int64_t idx[NB_MAX_DIMS] = {0};
        for (;;) {
            int64_t bo = 0, bg = 0;
            for (int k = 0; k < no; k++) {
                bo += idx[k] * os[od[k]];
                bg += idx[k] * gs[od[k]];
            }
            if (p == L) {
                for (int64_t j = j0; j < j1; j++)
                    gr[bo + j] += gd[bg + j];
            } else {
                for (int64_t j = j0; j < j1; j++) {
                    float *o = gr + bo + j * os[p];
                    const float *x = gd + bg + j * gs[p];
                    if (os[L]) {
                        for (int64_t k = 0; k < n[L]; k++)
                            o[k] += x[k];
                    } else {
                        double s = 0.0;
                        for (int64_t k = 0; k < n[L]; k++)
                            s += x[k];
                        o[0] += (float)s;
                    }
                }
            }
            int k = no - 1;
            while (k >= 0 && ++idx[k] == n[od[k]])
                idx[k--] = 0;
            if (k < 0)
                break;
        }
    });
}
