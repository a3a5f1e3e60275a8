/*
 * matmul: C = A B                                        dA += dC B^T,   dB += A^T dC
 *
 *   [M,K] @ [K,N] -> [M,N]
 *   [Bt,M,K] @ [Bt,K,N] -> [Bt,M,N]        one product per batch
 *   [Bt,M,K] @ [K,N] -> [Bt,M,N]           B shared: dB sums A_b^T dC_b over b
 *   [M,K] @ [Bt,K,N] -> [Bt,M,N]           A shared: dA sums dC_b B_b^T over b
 *
 * Every product is one nb_kernel_gemm call (trans flags, beta = 1 to add into a gradient).
 * When B is 2-D, A's batches are contiguous rows, so the batch folds into M: one
 * [Bt*M,K] @ [K,N] product, and dB = A^T dC is one gemm whose inner dimension is Bt*M.
 * When A is shared, dA accumulates batch 0, 1, ... in order. Both are fixed orders, so
 * the gradients are the same bits for any thread count.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

/* The product's dimensions; a batch count of 1 for a 2-D operand is never stepped. */
typedef struct matmul_dims {
    int64_t Bt, M, K, N;
    bool a_batched, b_batched;
} matmul_dims;

static matmul_dims matmul_dims_of(const nb_tensor *a, const nb_tensor *b)
{
    matmul_dims d = {
        .a_batched = a->ndim == 3,
        .b_batched = b->ndim == 3,
        .M = a->shape[a->ndim - 2],
        .K = a->shape[a->ndim - 1],
        .N = b->shape[b->ndim - 1],
    };
    d.Bt = d.a_batched ? a->shape[0] : d.b_batched ? b->shape[0] : 1;
    return d;
}

static nb_status matmul_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *a = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    char sa[128], sb[128];
    nb_tensor_shape_str(a, sa, sizeof sa);
    nb_tensor_shape_str(b, sb, sizeof sb);
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return nb_op_error(ctx, NB_ERR_SHAPE, "expected 2-D or 3-D operands, got %s @ %s", sa,
                           sb);
    if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2])
        return nb_op_error(ctx, NB_ERR_SHAPE, "inner dimensions differ: %s @ %s", sa, sb);
    if (a->ndim == 3 && b->ndim == 3 && a->shape[0] != b->shape[0])
        return nb_op_error(ctx, NB_ERR_SHAPE, "batch sizes differ: %s @ %s", sa, sb);
    matmul_dims d = matmul_dims_of(a, b);
    int n = 0;
    if (d.a_batched || d.b_batched)
        shape[n++] = d.Bt;
    shape[n++] = d.M;
    shape[n++] = d.N;
    *ndim = n;
    return NB_OK;
}

static nb_status matmul_forward(nb_op_ctx *ctx, nb_tensor *c)
{
    const nb_tensor *a = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    matmul_dims d = matmul_dims_of(a, b);
    const int64_t M = d.M, K = d.K, N = d.N;
    if (!d.b_batched)
        return nb_kernel_gemm(false, false, d.Bt * M, N, K, 1.0f, a->data, K, b->data, N, 0.0f,
                       c->data, N);
    for (int64_t i = 0; i < d.Bt; i++) {
        const float *A = a->data + (d.a_batched ? i * M * K : 0);
        nb_status s = nb_kernel_gemm(false, false, M, N, K, 1.0f, A, K, b->data + i * K * N, N, 0.0f,
                              c->data + i * M * N, N);
        if (s != NB_OK)
            return s;
    }
    return NB_OK;
}

static nb_status matmul_backward(nb_op_ctx *ctx, const nb_tensor *c, const nb_tensor *dc)
{
    (void)c;
    const nb_tensor *a = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    nb_tensor *da = nb_op_grad(ctx, 0), *db = nb_op_grad(ctx, 1);
    matmul_dims d = matmul_dims_of(a, b);
    const int64_t M = d.M, K = d.K, N = d.N;
    nb_status s = NB_OK;
    if (!d.b_batched) {
        /* dA [Bt*M,K] += dC [Bt*M,N] B^T;  dB [K,N] += A^T [K,Bt*M] dC [Bt*M,N]. */
        if (da)
            s = nb_kernel_gemm(false, true, d.Bt * M, K, N, 1.0f, dc->data, N, b->data, N, 1.0f,
                        da->data, K);
        if (db && s == NB_OK)
            s = nb_kernel_gemm(true, false, K, N, d.Bt * M, 1.0f, a->data, K, dc->data, N, 1.0f,
                        db->data, N);
        return s;
    }
    for (int64_t i = 0; i < d.Bt && s == NB_OK; i++) {
        int64_t ai = d.a_batched ? i * M * K : 0;
        const float *dC = dc->data + i * M * N, *B = b->data + i * K * N;
        if (da)  /* a shared A sums over i in order: beta = 1 every time */
            s = nb_kernel_gemm(false, true, M, K, N, 1.0f, dC, N, B, N, 1.0f, da->data + ai, K);
        if (db && s == NB_OK)
            s = nb_kernel_gemm(true, false, K, N, M, 1.0f, a->data + ai, K, dC, N, 1.0f,
                        db->data + i * K * N, N);
    }
    return s;
}

static const nb_op matmul_op = {
    .name = "matmul",
    .n_inputs = 2,
    .shape = matmul_shape,
    .forward = matmul_forward,
    .backward = matmul_backward,
};

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b)
{
    nb_tensor *in[2] = {a, b};
    return nb_op_apply(&matmul_op, in, 2, NULL);
}
