/*
 * nabla/op.h - the API for writing ops.
 *
 * An op is a descriptor: a name, how many tensor inputs it takes, the size of its typed
 * parameter struct, and three functions. Every built-in op in ops/ is written against
 * this header only; an op in your own file is defined the same way and is recorded,
 * differentiated and checked like any other. docs/writing-ops.md walks through one.
 *
 *     // y = x * sigmoid(x)          dy/dx = s + x s (1 - s)
 *     static nb_status swish_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape) {
 *         return nb_op_same_shape(ctx, 0, ndim, shape);   // or .shape = nb_op_shape_unary
 *     }
 *     static nb_status swish_forward(nb_op_ctx *ctx, nb_tensor *y) { ... }
 *     static nb_status swish_backward(nb_op_ctx *ctx, const nb_tensor *y,
 *                                     const nb_tensor *dy) {
 *         nb_tensor *dx = nb_op_grad(ctx, 0);   // += into it
 *         ...
 *     }
 *     static const nb_op swish_op = {
 *         .name = "swish", .n_inputs = 1,
 *         .shape = swish_shape, .forward = swish_forward, .backward = swish_backward,
 *     };
 *     nb_tensor *swish(nb_tensor *x) { return nb_op_apply(&swish_op, &x, 1, NULL); }
 *
 * Rules an op follows:
 *   - shape() checks the inputs and parameters and writes the output shape; on bad
 *     input it returns nb_op_error(ctx, NB_ERR_SHAPE, "...") naming the shapes.
 *   - forward() writes every element of the output. Anything backward needs beyond the
 *     inputs, the output and the parameters goes in nb_op_save() memory, and only when
 *     nb_op_needs_grad(ctx).
 *   - backward() ADDS into nb_op_grad(ctx, i) for each input i whose grad is not NULL;
 *     a NULL grad means that input needs none, and costs no work.
 *   - Loops that own disjoint outputs run in parallel with NB_PARALLEL_FOR; any
 *     reduction goes through a fixed order (nb_kernel_sum) so results are the same bits
 *     for every thread count.
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include "ops.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_OP_MAX_INPUTS 8

/* Below this many elements a loop is not worth splitting across threads. */
#define NB_PAR_MIN 32768

/* True when a parallel region would get more than one thread: more than one is set and
 * the caller is not already inside a parallel region. */
bool nb_threads_available(void);

/* for (int64_t i = 0; i < n; i++) { body } -- split across threads (static schedule)
 * when `cond` holds and threads are available, run on the calling thread otherwise:
 *
 *     NB_PARALLEL_FOR(i, n, {
 *         y[i] = 1.0f / (1.0f + expf(-x[i]));
 *     });
 *
 * Use it instead of `#pragma omp parallel for if (...)`: an OpenMP region whose if()
 * is false (or that gets one thread) still makes libgomp allocate a team on the heap,
 * once per region, so every small op would allocate. Iterations must own disjoint
 * outputs. */
#define NB_PARALLEL_FOR_IF(cond, i, n, ...)                        \
    do {                                                           \
        const int64_t nb_n_ = (n);                                 \
        if ((cond) && nb_threads_available()) {                    \
            _Pragma("omp parallel for schedule(static)")           \
            for (int64_t i = 0; i < nb_n_; i++) __VA_ARGS__        \
        } else {                                                   \
            for (int64_t i = 0; i < nb_n_; i++) __VA_ARGS__        \
        }                                                          \
    } while (0)
#define NB_PARALLEL_FOR(i, n, ...) \
    NB_PARALLEL_FOR_IF(nb_n_ >= NB_PAR_MIN, i, n, __VA_ARGS__)

/* The node of an op being run or differentiated. */
typedef struct nb_node nb_op_ctx;

typedef struct nb_op {
    const char *name;     /* used in error messages: "<name>: ..." */
    int n_inputs;         /* tensor inputs, 1..NB_OP_MAX_INPUTS */
    size_t params_size;   /* bytes of the params struct passed to nb_op_apply (0: none) */
    /* Checks inputs and params; writes the output's rank and shape. */
    nb_status (*shape)(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);
    /* Computes out (already allocated with that shape, contents undefined). */
    nb_status (*forward)(nb_op_ctx *ctx, nb_tensor *out);
    /* Adds d(loss)/d(input i) into nb_op_grad(ctx, i), given dout = d(loss)/d(out).
     * NULL for an op that is not differentiable (recording it is then an error). */
    nb_status (*backward)(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout);
} nb_op;

/* Runs `op` on `inputs` with a copy of `params` (op->params_size bytes, may be NULL if
 * 0) and returns its output, a step tensor. Records a node for backward when grad mode
 * is on and any input requires grad. Returns NULL on any error: a NULL input (keeping
 * an earlier message), a wrong number of inputs, what shape() or forward() reports. */
nb_tensor *nb_op_apply(const nb_op *op, nb_tensor *const *inputs, int n_inputs,
                       const void *params);

/* ---- inside shape / forward / backward ---- */

const char *nb_op_name(const nb_op_ctx *ctx);
nb_tensor *nb_op_input(const nb_op_ctx *ctx, int i);
const void *nb_op_params(const nb_op_ctx *ctx);

/* Records "<op name>: <message>" with `code` and returns code. */
nb_status nb_op_error(const nb_op_ctx *ctx, nb_status code, const char *fmt, ...)
    NB_PRINTF(3, 4);

/* shape() helper: the output has input i's shape. */
nb_status nb_op_same_shape(nb_op_ctx *ctx, int i, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* A shape() for elementwise ops: the output has input 0's shape. */
nb_status nb_op_shape_unary(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* shape() helper: the NumPy broadcast of inputs i and j, or NB_ERR_SHAPE with
 * "<op>: shapes do not broadcast: [2,3] and [4]". */
nb_status nb_op_broadcast_shape(nb_op_ctx *ctx, int i, int j, int *ndim,
                                int64_t shape[NB_MAX_DIMS]);

/* forward(): true if backward may run on this node, so state must be saved. */
bool nb_op_needs_grad(const nb_op_ctx *ctx);

/* forward(): step memory tied to this node (64-byte aligned), returned by nb_op_saved()
 * in backward. NULL (and NB_ERR_NOMEM recorded) on failure. */
void *nb_op_save(nb_op_ctx *ctx, size_t size);
void *nb_op_saved(const nb_op_ctx *ctx);

/* backward(): the gradient tensor to add into for input i (same shape as the input),
 * or NULL when input i needs no gradient. backward runs only when some input needs a
 * gradient, so for a one-input op it is never NULL. */
nb_tensor *nb_op_grad(const nb_op_ctx *ctx, int i);

/* A step tensor with no graph and unspecified contents, for scratch space (NULL on
 * NB_ERR_NOMEM or a bad shape). */
nb_tensor *nb_tensor_step(int ndim, const int64_t *shape);

/* ---- kernels shared by ops (ops/kernels/) ---- */

/* A run of a binary elementwise op: for k in [0, n): out[k] = f(a[k * sa], b[k * sb]),
 * with strides sa, sb in {0, 1}. `ud` is passed through. */
typedef void (*nb_binary_run)(float *out, const float *a, int64_t sa, const float *b,
                              int64_t sb, int64_t n, const void *ud);

/* Applies `run` over out's elements with a and b broadcast to out's shape. Parallel
 * over disjoint runs. */
void nb_broadcast_apply(nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                        nb_binary_run run, const void *ud);

/* grad += g summed over the dimensions in which grad is broadcast to g's shape
 * (grad's shape must broadcast to g's; equal shapes are a plain add). Each element of
 * grad is summed in a fixed order: the same bits for any thread count. */
void nb_grad_accumulate(nb_tensor *grad, const nb_tensor *g);

/* Sum of x[0..n) in a fixed blocked order, accumulated in double: the same bits for
 * any thread count. */
double nb_kernel_sum(const float *x, int64_t n);

/* C = alpha * op(A) op(B) + beta * C, row-major, op(A) M x K, op(B) K x N. A is stored
 * M x K with row stride lda (K x M if trans_a); B is K x N with row stride ldb (N x K if
 * trans_b); C is M x N with row stride ldc. beta == 0 ignores C's old contents. Every
 * element of C is summed in the same order for any thread count. Packing space comes
 * from step memory and is given back before it returns. Returns NB_ERR_ARG for negative
 * sizes, strides shorter than a row or a NULL matrix, NB_ERR_NOMEM if packing space
 * cannot be had. */
nb_status nb_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);

/* The plain triple loop with the same contract, for tests and as a reference. */
void nb_gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc);

/* ---- helpers for losses (ops/kernels/loss.c) ---- */

/* shape() helper: NB_ERR_ARG with "<op>: invalid reduction 3 (expected NB_REDUCE_MEAN,
 * NB_REDUCE_SUM or NB_REDUCE_NONE)" unless `reduction` is one of those, NB_OK otherwise. */
nb_status nb_op_check_reduction(nb_op_ctx *ctx, nb_reduction reduction);

/* shape() for a loss of two same-shape inputs (prediction, target): checks the
 * reduction as above, then that inputs 0 and 1 have the same shape (NB_ERR_SHAPE with
 * "<op>: shapes differ: [4,1] and [4]"; no broadcasting). The output has input 0's
 * shape for NB_REDUCE_NONE and is a scalar (rank 0) otherwise. */
nb_status nb_op_loss_shape(nb_op_ctx *ctx, nb_reduction reduction, int *ndim,
                           int64_t shape[NB_MAX_DIMS]);

/* forward() of a loss over n terms (elements, or rows): write the n per-term losses
 * into the buffer nb_op_loss_begin returns, then call nb_op_loss_end with it and the
 * same mark:
 *
 *     nb_step_mark mark;
 *     float *l = nb_op_loss_begin(out, r, n, &mark);
 *     if (!l)
 *         return NB_ERR_NOMEM;
 *     NB_PARALLEL_FOR(i, n, { l[i] = ...; });
 *     nb_op_loss_end(out, r, l, n, mark);
 *
 * For NB_REDUCE_NONE the buffer is out's data (out has n elements) and end does
 * nothing. Otherwise it is step scratch (NULL and NB_ERR_NOMEM recorded on failure),
 * and end writes out[0] = sum (SUM) or sum / n (MEAN), summed by nb_kernel_sum so the
 * bits do not depend on the thread count, and gives the scratch back. */
float *nb_op_loss_begin(nb_tensor *out, nb_reduction reduction, int64_t n,
                        nb_step_mark *mark);
void nb_op_loss_end(nb_tensor *out, nb_reduction reduction, const float *l, int64_t n,
                    nb_step_mark mark);

/* backward() of a loss over n terms: the factor g every term's gradient is scaled by
 * when the loss is reduced: dout[0] for NB_REDUCE_SUM, dout[0] / n (divided in double)
 * for NB_REDUCE_MEAN. For NB_REDUCE_NONE term i's factor is dout[i]; this returns 0. */
float nb_op_loss_scale(nb_reduction reduction, const float *dout, int64_t n);

/* ---- helpers for axis reductions and pooling (ops/kernels/reduce.c, pool.c) ---- */

/* Params of a reduction of input 0: over every element to a 0-D tensor (all), or along
 * one axis. */
typedef struct nb_reduce_params {
    int axis;      /* negative counts from the end */
    bool keepdim;  /* keep the reduced axis with size 1 */
    bool all;      /* reduce every element to a 0-D tensor (axis, keepdim unused) */
} nb_reduce_params;

/* A shape() for reductions whose params are an nb_reduce_params: 0-D for `all`, else
 * input 0's shape without the axis (or with it as 1 if keepdim). An axis outside
 * [-ndim, ndim) is NB_ERR_ARG "<op>: axis 2 is out of range for shape [2,3]" (a 0-D
 * input has no axis). */
nb_status nb_op_shape_reduce(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* forward() / backward() of a reduction shaped by nb_op_shape_reduce: input 0 seen as
 * [outer, len, inner], the output as [outer, inner], each output reducing len elements.
 * Along an axis, outer is the product of the dimensions before it, len its size, inner
 * the product of those after; for `all` it is [1, size, 1]. */
void nb_op_reduce_split(const nb_op_ctx *ctx, int64_t *outer, int64_t *len, int64_t *inner);

/* y[o,i] = (sum_l x[o,l,i]) / div for x [outer, len, inner] and y [outer, inner] (div 1:
 * the sum; div len: the mean). Each output is summed in double in a fixed order: the
 * same bits for any thread count. Parallel over outputs from NB_PAR_MIN elements of x. */
void nb_kernel_sum_axis(float *y, const float *x, int64_t outer, int64_t len, int64_t inner,
                        double div);

/* Its backward: dx[o,l,i] += dy[o,i] * scale for dx [outer, len, inner] and dy
 * [outer, inner]. Parallel over disjoint rows of dx from NB_PAR_MIN elements. */
void nb_kernel_sum_axis_backward(float *dx, const float *dy, int64_t outer, int64_t len,
                                 int64_t inner, float scale);

/* Params of an op applied along one axis of input 0, e.g. softmax. */
typedef struct nb_axis_params {
    int axis;  /* negative counts from the end */
} nb_axis_params;

/* A shape() for ops along an axis whose params are an nb_axis_params: the output has
 * input 0's shape; a bad axis is NB_ERR_ARG as for nb_op_shape_reduce. */
nb_status nb_op_shape_axis(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* A lane along an axis: its L elements are out[l S], a[l S] and b[l S], l in [0, L).
 * a or b is NULL when nb_kernel_lanes was given NULL. */
typedef void (*nb_lane_run)(float *out, const float *a, const float *b, int64_t L,
                            int64_t S);

/* Tensors shaped like t seen as [outer, L, inner] around `axis` (in [-ndim, ndim), as
 * checked by nb_op_shape_axis): calls run once for each of the outer * inner lanes
 * (o, i), with out, a and b pointing at the lane's first element (o L inner + i) and
 * S = inner. Parallel over lanes from NB_PAR_MIN elements, so run must write only its
 * own lane. */
void nb_kernel_lanes(const nb_tensor *t, int axis, nb_lane_run run, float *out,
                     const float *a, const float *b);

/* forward() and backward() for ops whose output holds input 0's elements in the same
 * order under another shape (reshape, flatten): out = a copy of x; dx += dout. */
nb_status nb_op_forward_copy(nb_op_ctx *ctx, nb_tensor *out);
nb_status nb_op_backward_copy(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout);

/* Params of a 2-D pooling op; no_opts records that the caller passed NULL options. */
typedef struct nb_pool2d_params {
    nb_pool2d_opts o;
    bool no_opts;
} nb_pool2d_params;

/* A shape() for 2-D pooling whose params are an nb_pool2d_params: input 0 [N,C,H,W] ->
 * [N,C,H_out,W_out], H_out = (H + pad_top + pad_bottom - kH) / stride_h + 1 (likewise
 * W_out). Errors, each "<op>: ...": NULL opts (NB_ERR_ARG), an input that is not 4-D
 * (NB_ERR_SHAPE), a kernel or stride below 1, a negative padding or one above half its
 * kernel (NB_ERR_ARG), a kernel larger than the padded input (NB_ERR_SHAPE). */
nb_status nb_op_shape_pool2d(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* Counter-based random numbers: depend only on (seed, i), so any thread can draw
 * element i. nb_rng_uniform is in [0, 1). */
uint64_t nb_rng_u64(uint64_t seed, uint64_t i);
float nb_rng_uniform(uint64_t seed, uint64_t i);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OP_H */
