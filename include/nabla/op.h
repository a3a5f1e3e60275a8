/*
 * nabla/op.h - the contract of an op: what you write to add one.
 *
 * An op is a descriptor: a name, its tensor inputs (each required, optional or state),
 * the size of its typed parameter struct, and three functions. Every built-in op in
 * ops/ is written against the public headers only; an op in your own file is defined
 * the same way and is recorded, differentiated and checked like any other.
 * docs/writing-ops.md walks through one.
 *
 *     // y = x * sigmoid(x)          dy/dx = s + x s (1 - s)
 *     static nb_status swish_forward(nb_op_ctx *ctx, nb_tensor *y) { ... }
 *     static nb_status swish_backward(nb_op_ctx *ctx, const nb_tensor *y,
 *                                     const nb_tensor *dy) {
 *         nb_tensor *dx = nb_op_grad(ctx, 0);   // += into it
 *         ...
 *     }
 *     static const nb_op swish_op = {
 *         .name = "swish", .n_inputs = 1,
 *         .shape = nb_op_shape_same, .forward = swish_forward, .backward = swish_backward,
 *     };
 *     nb_tensor *swish(nb_tensor *x) { return nb_op_apply(&swish_op, &x, 1, NULL); }
 *
 * Companion headers: nabla/parallel.h (NB_PARALLEL_FOR) for loops, nabla/kernels.h for
 * the shared kernels (GEMM, sums, broadcasting, im2col, RNG) and the helpers of op
 * families (losses, reductions, ops along an axis, pooling).
 *
 * Rules an op follows:
 *   - shape() checks the inputs and parameters and writes the output shape; on bad
 *     input it returns nb_op_error(ctx, NB_ERR_SHAPE, "...") naming the shapes.
 *   - forward() writes every element of the output. Anything backward needs beyond the
 *     inputs, the output and the parameters goes in nb_op_save() memory, and only when
 *     nb_op_needs_grad(ctx).
 *   - backward() ADDS into nb_op_grad(ctx, i) for each input i whose grad is not NULL;
 *     a NULL grad means that input needs none, and costs no work.
 *   - forward() and backward() are not called when the output is empty (size 0): there
 *     is nothing to compute, and every gradient an empty output sends is 0. An op whose
 *     inputs may be empty while its output is not (a sum, a matmul with K = 0) must
 *     still loop over the output only, never over products of its inputs' non-zero
 *     dimensions.
 *   - Loops that own disjoint outputs run in parallel with NB_PARALLEL_FOR; any
 *     reduction goes through a fixed order (nb_kernel_sum) so results are the same bits
 *     for every thread count.
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include "core.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_OP_MAX_INPUTS 8

/* The node of an op being run or differentiated. */
typedef struct nb_node nb_op_ctx;

/* What an input slot accepts (flags; 0 is a plain required input). */
enum {
    /* The caller may pass NB_NONE (nabla/tensor.h) for "absent": nb_op_input() then gives NULL. A NULL
     * pointer is never "absent" -- it is the result of a failed op, and an error. */
    NB_INPUT_OPTIONAL = 1 << 0,
    /* State that forward updates in place and that never receives a gradient (batch
     * norm's running statistics). It does not make the output require grad, nb_op_grad
     * is NULL for it, and nb_gradcheck restores it after every evaluation. It must not
     * share data with another input of the call (NB_ERR_ARG). */
    NB_INPUT_STATE = 1 << 1,
};

typedef struct nb_op {
    const char *name;     /* used in error messages: "<name>: ..." */
    int n_inputs;         /* tensor inputs, 1..NB_OP_MAX_INPUTS */
    /* Per input: 0 (required) or NB_INPUT_* flags, e.g. .inputs = {[2] = NB_INPUT_OPTIONAL}. */
    unsigned inputs[NB_OP_MAX_INPUTS];
    /* Optional names for messages ("conv2d: input 2 (bias) is NULL"); NULL entries are
     * fine. */
    const char *input_names[NB_OP_MAX_INPUTS];
    size_t params_size;   /* bytes of the params struct passed to nb_op_apply (0: none) */
    /* Checks inputs and params; writes the output's rank and shape. */
    nb_status (*shape)(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);
    /* Computes out (already allocated with that shape, contents undefined). */
    nb_status (*forward)(nb_op_ctx *ctx, nb_tensor *out);
    /* Adds d(loss)/d(input i) into nb_op_grad(ctx, i), given dout = d(loss)/d(out).
     * NULL for an op that is not differentiable (recording it is then an error). */
    nb_status (*backward)(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout);
} nb_op;

/* NB_NONE, "this optional input is absent", is declared in nabla/tensor.h. */

/* Runs `op` on `inputs` with a copy of `params` (op->params_size bytes, may be NULL if
 * 0) and returns its output, a step tensor. Records a node for backward when grad mode
 * is on and an input (other than state inputs) requires grad; which inputs get a
 * gradient is fixed then (the graph as recorded wins over later flag changes).
 * Returns NULL on any error: a NULL input (keeping the message of the failure that
 * made it, if it happened in this step), NB_NONE where the input is required, a step
 * tensor from an earlier step (NB_ERR_STATE), a wrong number of inputs, what shape()
 * or forward() reports. */
nb_tensor *nb_op_apply(const nb_op *op, nb_tensor *const *inputs, int n_inputs,
                       const void *params);

/* For an op's wrapper that rejects an argument before nb_op_apply (a NULL options
 * pointer): records "<op name>: <message>" with `code` and returns NULL. */
nb_tensor *nb_op_fail(const nb_op *op, nb_status code, const char *fmt, ...) NB_PRINTF(3, 4);

/* ---- inside shape / forward / backward ---- */

const char *nb_op_name(const nb_op_ctx *ctx);
/* Input i, or NULL for an absent optional input (and for i out of range). */
nb_tensor *nb_op_input(const nb_op_ctx *ctx, int i);
/* True if input i was given (false for an absent optional input). */
bool nb_op_has_input(const nb_op_ctx *ctx, int i);
const void *nb_op_params(const nb_op_ctx *ctx);

/* Records "<op name>: <message>" with `code` and returns code. */
nb_status nb_op_error(const nb_op_ctx *ctx, nb_status code, const char *fmt, ...)
    NB_PRINTF(3, 4);

/* A shape() for elementwise ops: the output has input 0's shape. */
nb_status nb_op_shape_same(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* shape() helper: the NumPy broadcast of inputs i and j, or NB_ERR_SHAPE with
 * "<op>: shapes do not broadcast: [2,3] and [4]". */
nb_status nb_op_shape_broadcast(nb_op_ctx *ctx, int i, int j, int *ndim,
                                int64_t shape[NB_MAX_DIMS]);

/* forward(): true if backward may run on this node, so state must be saved. */
bool nb_op_needs_grad(const nb_op_ctx *ctx);

/* forward(): step memory tied to this node (64-byte aligned), returned by nb_op_saved()
 * in backward. NULL (and NB_ERR_NOMEM recorded) on failure. */
void *nb_op_save(nb_op_ctx *ctx, size_t size);
void *nb_op_saved(const nb_op_ctx *ctx);

/* forward(): true if backward will want a gradient for input i (it required grad when
 * the op was recorded). backward(): the same as nb_op_grad(ctx, i) != NULL. */
bool nb_op_input_needs_grad(const nb_op_ctx *ctx, int i);

/* backward(): the gradient tensor to add into for input i (same shape as the input),
 * or NULL when input i needs no gradient (it did not require grad when the op was
 * recorded, it is a state input, or it is absent). backward runs only when some input
 * needs a gradient, so for a one-input op it is never NULL. */
nb_tensor *nb_op_grad(const nb_op_ctx *ctx, int i);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OP_H */
