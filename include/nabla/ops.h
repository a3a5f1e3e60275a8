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
nb_tensor *nb_abs(nb_tensor *x);                 /* |x| (gradient sign x, 0 at x = 0) */
nb_tensor *nb_add_scalar(nb_tensor *x, float s); /* x + s */
nb_tensor *nb_mul_scalar(nb_tensor *x, float s); /* x * s */
nb_tensor *nb_exp(nb_tensor *x);                 /* e^x */
nb_tensor *nb_log(nb_tensor *x);                 /* ln x (-inf at 0, NaN below; grad +inf at 0) */
nb_tensor *nb_sqrt(nb_tensor *x);                /* sqrt x (NaN below 0; grad +inf at 0) */
/* x^p as powf: a negative x with a non-integer p gives NaN; p = 0 gives ones and no
 * gradient. */
nb_tensor *nb_pow(nb_tensor *x, float p);

/* ---- activations ---- */
nb_tensor *nb_relu(nb_tensor *x);                /* max(x, 0); gradient 0 at x = 0 */
nb_tensor *nb_sigmoid(nb_tensor *x);             /* 1 / (1 + e^-x) */
nb_tensor *nb_tanh(nb_tensor *x);                /* tanh x */
/* softmax and log-softmax along `axis` (negative counts from the end). */
nb_tensor *nb_softmax(nb_tensor *x, int axis);
nb_tensor *nb_log_softmax(nb_tensor *x, int axis);

/* ---- reductions ---- */
nb_tensor *nb_sum(nb_tensor *x);                 /* sum of all elements, 0-D */
nb_tensor *nb_mean(nb_tensor *x);                /* mean of all elements, 0-D (NaN if none) */
/* Along one axis (negative counts from the end; a 0-D input has no axis to reduce);
 * keepdim keeps it with size 1. */
nb_tensor *nb_sum_axis(nb_tensor *x, int axis, bool keepdim);
nb_tensor *nb_mean_axis(nb_tensor *x, int axis, bool keepdim);

/* ---- shape ---- */
/* Same values (copied: not a view), new shape with the same size; one dimension may be
 * -1 (inferred). */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape);
/* Swaps dimensions dim0 and dim1 (negative counts from the end). */
nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1);

/* ---- linear algebra ---- */
/* [M,K] @ [K,N] -> [M,N]; batched [B,M,K] @ [B,K,N] -> [B,M,N]; a 2-D operand is
 * shared by every batch ([B,M,K] @ [K,N], [M,K] @ [B,K,N]). */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);

/* ---- images (NCHW) ---- */

/* Convolution options. Build them from nb_conv2d_default() and change what you need;
 * strides and dilations must be >= 1, paddings >= 0, groups >= 1. */
typedef struct nb_conv2d_opts {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w;
    int groups;         /* C_in and C_out must both be multiples; groups = C_in: depthwise */
    bool pad_same;      /* ignore the pads: pad so that H_out = ceil(H / stride_h), likewise
                           W (TensorFlow's "same"; the odd pixel goes bottom/right) */
    bool relu;          /* the output is max(0, .) of the convolution, fused: the values
                           and gradients of nb_relu(nb_conv2d(...)) without a second pass
                           over the output (NaN stays NaN; no gradient where the output
                           is not > 0) */
} nb_conv2d_opts;

/* stride 1, no padding, dilation 1, groups 1. */
nb_conv2d_opts nb_conv2d_default(void);

/* 2-D cross-correlation: x [N, C_in, H, W], w [C_out, C_in / groups, kH, kW], optional
 * bias b [C_out] -> [N, C_out, H_out, W_out] with
 *     H_out = (H + pad_top + pad_bottom - dilation_h (kH - 1) - 1) / stride_h + 1
 * (with pad_same, over the computed pads). b = NB_NONE (nabla/tensor.h) means no bias; a
 * NULL b is a failed op's result and an error, like any NULL input. opts NULL means
 * nb_conv2d_default(). Bad strides, dilations, paddings or groups are NB_ERR_ARG; ranks,
 * channels, bias shape, a kernel larger than the padded input, and sizes beyond 2^48 (a
 * kernel extent, an output plane; a block of the column matrix beyond 2^32 floats) are
 * NB_ERR_SHAPE. */
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv2d_opts *opts);

/* Pooling options: a kH x kW window moved by the strides over the padded input. Kernel
 * and strides must be >= 1, each padding in [0, kernel / 2], and the input's H and W
 * >= 1 (so every window holds an input pixel; an empty plane is NB_ERR_SHAPE). N or C
 * may be 0. The pooling ops take a non-NULL opts. */
typedef struct nb_pool2d_opts {
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    bool count_include_pad;  /* avg_pool2d: divide by kH kW (true) or by the number of
                                input pixels in the window (false) */
} nb_pool2d_opts;

/* A kH x kW window with stride = kernel and no padding (PyTorch's default). */
nb_pool2d_opts nb_pool2d_default(int kernel_h, int kernel_w);

/* [N, C, H, W] -> [N, C, H_out, W_out], H_out = (H + pad_top + pad_bottom - kH) /
 * stride_h + 1. Max pooling pads with -inf; a NaN in a window wins. The gradient goes
 * to the first maximum (or NaN) of each window in row-major order. */
nb_tensor *nb_max_pool2d(nb_tensor *x, const nb_pool2d_opts *opts);
/* The window's sum divided by kH kW (count_include_pad) or by the number of input
 * pixels it covers. */
nb_tensor *nb_avg_pool2d(nb_tensor *x, const nb_pool2d_opts *opts);
/* [N, C, H, W] -> [N, C]: the mean over H and W (H and W must be >= 1). */
nb_tensor *nb_global_avg_pool2d(nb_tensor *x);
/* [N, ...] -> [N, product of the rest] (a copy); a 1-D [N] becomes [N, 1]; 0-D is an
 * error. */
nb_tensor *nb_flatten(nb_tensor *x);

/* ---- regularisation and normalisation ---- */

/* Inverted dropout: in training, each element is zeroed with probability p and the rest
 * scaled by 1 / (1 - p); the mask depends only on (seed, element index), so the same
 * seed gives the same mask on every run and thread count, and backward uses it again.
 * Not training, or p = 0: the identity. p outside [0, 1) (or NaN) is NB_ERR_ARG, checked
 * in evaluation too. */
nb_tensor *nb_dropout(nb_tensor *x, float p, bool training, uint64_t seed);

/* Batch normalisation over the channel axis of [N, C, H, W] or the features of [N, C]:
 *     y = gamma (x - mean) / sqrt(var + eps) + beta,      gamma, beta: [C]
 * In training, mean and var are the batch's (biased var), and the running statistics
 * [C] are updated in place: running = (1 - momentum) running + momentum batch (unbiased
 * var for running_var, as PyTorch) by every training forward, grad mode on or off. Not
 * training: the running statistics are used. running_mean and running_var receive no
 * gradient. Errors: rank other than 2 or 4; gamma, beta or the running statistics not
 * [C]; eps <= 0; momentum outside [0, 1]; training with one value per channel (N H W = 1,
 * NB_ERR_SHAPE). Nothing is updated when an error is returned. running_mean and
 * running_var are state inputs (NB_INPUT_STATE): nb_gradcheck restores them. */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta,
                         nb_tensor *running_mean, nb_tensor *running_var, float momentum,
                         float eps, bool training);

/* ---- losses ---- */
typedef enum nb_reduction {
    NB_REDUCE_MEAN = 0,  /* mean over all elements (over the batch for cross-entropy) */
    NB_REDUCE_SUM,       /* sum */
    NB_REDUCE_NONE       /* per element, same shape as the input (batch shape for CE) */
} nb_reduction;

/* Binary cross-entropy on probabilities p in [0,1] and targets y (same shape):
 *     -(y log p + (1-y) log(1-p)),
 * with log clamped at -100 so p = 0 or 1 gives a finite loss and gradient (ops/bce.c
 * gives the exact gradient). p outside [0, 1], or NaN, gives a NaN loss and gradient. */
nb_tensor *nb_bce(nb_tensor *p, nb_tensor *y, nb_reduction reduction);
/* Binary cross-entropy on logits z (p = sigmoid z), numerically stable:
 *     max(z, 0) - z y + log(1 + e^-|z|). */
nb_tensor *nb_bce_logits(nb_tensor *z, nb_tensor *y, nb_reduction reduction);
/* Mean squared error (p - y)^2 (same shape). */
nb_tensor *nb_mse(nb_tensor *p, nb_tensor *y, nb_reduction reduction);
/* Softmax cross-entropy: logits [N,C], labels [N] holding class indices 0..C-1 as
 * floats: -log softmax(logits)[n, label_n]. C must be at least 1. A label that is not
 * an integer in [0, C) is NB_ERR_ARG (found while computing, the first bad one is
 * named). No gradient flows to labels. */
nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *labels, nb_reduction reduction);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPS_H */
