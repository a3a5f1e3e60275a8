/*
 * nabla/ops.h - the differentiable ops.
 *
 * Every op returns a new step tensor (valid until nb_step_reset), or NULL with an error
 * message naming the op and the shapes (nb_error()). An op given a NULL input returns
 * NULL and keeps the first message, so a chain of ops is checked once at its end.
 * When grad mode is on and an input requires grad, the op is recorded for backward.
 *
 * Broadcasting follows NumPy: shapes are aligned at their last dimension; two sizes fit
 * if they are equal or one of them is 1.
 */
#ifndef NABLA_OPS_H
#define NABLA_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arithmetic (broadcasting) ---- */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);   /* a + b */
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);   /* a - b */
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);   /* a * b */
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);   /* a / b */

/* ---- elementwise ---- */
nb_tensor *nb_neg(nb_tensor *x);                 /* -x */
nb_tensor *nb_add_scalar(nb_tensor *x, float s); /* x + s */
nb_tensor *nb_mul_scalar(nb_tensor *x, float s); /* x * s */
nb_tensor *nb_exp(nb_tensor *x);                 /* e^x */
nb_tensor *nb_log(nb_tensor *x);                 /* ln x */
nb_tensor *nb_sqrt(nb_tensor *x);                /* sqrt x */
nb_tensor *nb_pow(nb_tensor *x, float p);        /* x^p */

/* ---- activations ---- */
nb_tensor *nb_relu(nb_tensor *x);                /* max(x, 0) */
nb_tensor *nb_sigmoid(nb_tensor *x);             /* 1 / (1 + e^-x) */
nb_tensor *nb_tanh(nb_tensor *x);                /* tanh x */
/* softmax and log-softmax along `axis` (negative counts from the end). */
nb_tensor *nb_softmax(nb_tensor *x, int axis);
nb_tensor *nb_log_softmax(nb_tensor *x, int axis);

/* ---- reductions ---- */
nb_tensor *nb_sum(nb_tensor *x);                 /* sum of all elements, 0-D */
nb_tensor *nb_mean(nb_tensor *x);                /* mean of all elements, 0-D */
/* Along one axis (negative counts from the end); keepdim keeps it with size 1. */
nb_tensor *nb_sum_axis(nb_tensor *x, int axis, bool keepdim);
nb_tensor *nb_mean_axis(nb_tensor *x, int axis, bool keepdim);

/* ---- shape ---- */
/* Same values, new shape with the same size; one dimension may be -1 (inferred). */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape);
/* Swaps dimensions dim0 and dim1 (negative counts from the end). */
nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1);

/* ---- linear algebra ---- */
/* [M,K] @ [K,N] -> [M,N]; batched [B,M,K] @ [B,K,N] -> [B,M,N]; a 2-D operand is
 * shared by every batch ([B,M,K] @ [K,N], [M,K] @ [B,K,N]). */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);

/* ---- losses ---- */
typedef enum nb_reduction {
    NB_REDUCE_MEAN = 0,  /* mean over all elements (over the batch for cross-entropy) */
    NB_REDUCE_SUM,       /* sum */
    NB_REDUCE_NONE       /* per element, same shape as the input (batch shape for CE) */
} nb_reduction;

/* Binary cross-entropy on probabilities p in [0,1] and targets y (same shape):
 *     -(y log p + (1-y) log(1-p)),
 * with log clamped at -100 so p = 0 or 1 gives a finite loss and gradient. */
nb_tensor *nb_bce(nb_tensor *p, nb_tensor *y, nb_reduction reduction);
/* Binary cross-entropy on logits z (p = sigmoid z), numerically stable:
 *     max(z, 0) - z y + log(1 + e^-|z|). */
nb_tensor *nb_bce_logits(nb_tensor *z, nb_tensor *y, nb_reduction reduction);
/* Mean squared error (p - y)^2 (same shape). */
nb_tensor *nb_mse(nb_tensor *p, nb_tensor *y, nb_reduction reduction);
/* Softmax cross-entropy: logits [N,C], labels [N] holding class indices 0..C-1 as
 * floats: -log softmax(logits)[n, label_n]. A label that is not an integer in [0, C)
 * is NB_ERR_ARG. No gradient flows to labels. */
nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *labels, nb_reduction reduction);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPS_H */
