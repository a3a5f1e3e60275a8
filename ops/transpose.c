/*
 * transpose: y = x with dimensions d0 and d1 swapped. With x viewed as [A, P, B, Q, C]
 * around them (P = size of d0, Q = size of d1, d0 < d1):
 *     y[a,q,b,p,c] = x[a,p,b,q,c]                            dx[a,p,b,q,c] += dy[a,q,b,p,c]
 * so backward is the same transpose of dy, added into dx. d0 == d1 is a copy.
 */
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

typedef struct transpose_params {
    int dim0, dim1;  /* negative counts from the end */
} transpose_params;

/* Side of the square blocks of the 2-D case: two 32 x 32 float tiles fit in L1. */
#define TILE 32

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* dst[a,q,b,p,c] = src[a,p,b,q,c] (+= if add), src [A,P,B,Q,C], dst [A,Q,B,P,C]. */
static void transpose_copy(float *dst, const float *src, int64_t A, int64_t P, int64_t B,
                           int64_t Q, int64_t C, bool add)
{
    int64_t n = A * P * B * Q * C;
    if (n == 0) /* the other dimensions may still be huge: [0, 2^28, 2] */
        return;
    if (B == 1 && C == 1) {
        /* A batch of P x Q matrices, moved TILE x TILE at a time so that both the rows
         * read and the rows written stay in cache. A task is one tile of dst. */
        int64_t tp = (P + TILE - 1) / TILE, tq = (Q + TILE - 1) / TILE;
        NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, t, A * tq * tp, {
            int64_t a = t / (tq * tp), q0 = t / tp % tq * TILE, p0 = t % tp * TILE;
            int64_t q1 = min64(q0 + TILE, Q), p1 = min64(p0 + TILE, P);
            const float *s = src + a * P * Q;
            float *d = dst + a * P * Q;
            for (int64_t q = q0; q < q1; q++)
                for (int64_t p = p0; p < p1; p++)
                    d[q * P + p] = add ? d[q * P + p] + s[p * Q + q] : s[p * Q + q];
        });
        return;
    }
    /* A task is one row (a, q, b) of dst: P runs of C contiguous elements. */
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, r, A * Q * B, {
        int64_t a = r / (Q * B), q = r / B % Q, b = r % B;
        float *d = dst + r * P * C;
        for (int64_t p = 0; p < P; p++) {
            const float *s = src + (((a * P + p) * B + b) * Q + q) * C;
            for (int64_t c = 0; c < C; c++)
                d[p * C + c] = add ? d[p * C + c] + s[c] : s[c];
        }
    });
}

/* The dims of x as 0 <= d0 <= d1 < ndim (already checked by transpose_shape). */
static void transpose_dims(const nb_op_ctx *ctx, int *d0, int *d1)
{
    const transpose_params *p = nb_op_params(ctx);
    int ndim = nb_op_input(ctx, 0)->ndim;
    int a = p->dim0 < 0 ? p->dim0 + ndim : p->dim0;
    int b = p->dim1 < 0 ? p->dim1 + ndim : p->dim1;
    *d0 = a < b ? a : b;
    *d1 = a < b ? b : a;
}

/* x's shape as [A, P, B, Q, C] around d0 < d1. */
static void transpose_split(const nb_tensor *x, int d0, int d1, int64_t *A, int64_t *P,
                            int64_t *B, int64_t *Q, int64_t *C)
{
    *A = *B = *C = 1;
    for (int d = 0; d < d0; d++)
        *A *= x->shape[d];
    for (int d = d0 + 1; d < d1; d++)
        *B *= x->shape[d];
    for (int d = d1 + 1; d < x->ndim; d++)
        *C *= x->shape[d];
    *P = x->shape[d0];
    *Q = x->shape[d1];
}

static nb_status transpose_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const transpose_params *p = nb_op_params(ctx);
    const int dims[2] = {p->dim0, p->dim1};
    for (int k = 0; k < 2; k++)
        if (dims[k] < -x->ndim || dims[k] >= x->ndim) {
            char s[128];
            return nb_op_error(ctx, NB_ERR_ARG, "dim %d is out of range for shape %s",
                               dims[k], nb_tensor_shape_str(x, s, sizeof s));
        }
    int d0, d1;
    transpose_dims(ctx, &d0, &d1);
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof x->shape);
    shape[d0] = x->shape[d1];
    shape[d1] = x->shape[d0];
    return NB_OK;
}

static nb_status transpose_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    int d0, d1;
    transpose_dims(ctx, &d0, &d1);
    if (d0 == d1) {
        memcpy(y->data, x->data, (size_t)x->size * sizeof(float));
        return NB_OK;
    }
    int64_t A, P, B, Q, C;
    transpose_split(x, d0, d1, &A, &P, &B, &Q, &C);
    transpose_copy(y->data, x->data, A, P, B, Q, C, false);
    return NB_OK;
}

static nb_status transpose_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const nb_tensor *x = nb_op_input(ctx, 0);
    nb_tensor *dx = nb_op_grad(ctx, 0);
    int d0, d1;
    transpose_dims(ctx, &d0, &d1);
    if (d0 == d1) {
        nb_kernel_unbroadcast_add(dx, dy);
        return NB_OK;
    }
    int64_t A, P, B, Q, C;
    transpose_split(x, d0, d1, &A, &P, &B, &Q, &C);
    /* dy is [A, Q, B, P, C]: transposing it back gives dx's layout. */
    transpose_copy(dx->data, dy->data, A, Q, B, P, C, true);
    return NB_OK;
}

static const nb_op transpose_op = {
    .name = "transpose",
    .n_inputs = 1,
    .params_size = sizeof(transpose_params),
    .shape = transpose_shape,
    .forward = transpose_forward,
    .backward = transpose_backward,
};

nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1)
{
    transpose_params p = {.dim0 = dim0, .dim1 = dim1};
    return nb_op_apply(&transpose_op, &x, 1, &p);
}
