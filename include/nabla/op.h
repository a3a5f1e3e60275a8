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

/* Counter-based random numbers: depend only on (seed, i), so any thread can draw
 * element i. nb_rng_uniform is in [0, 1). */
uint64_t nb_rng_u64(uint64_t seed, uint64_t i);
float nb_rng_uniform(uint64_t seed, uint64_t i);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OP_H */
