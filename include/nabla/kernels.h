/*
 * nabla/kernels.h - the building blocks ops share: GEMM, deterministic sums,
 * broadcasting, im2col, counter-based random numbers, and the helpers of op families
 * (losses, reductions, ops along an axis, shape-only copies, pooling).
 *
 * Pure kernels are named nb_kernel_<what>; they take plain arrays and sizes and may
 * split their work across threads (always with the same bits for any thread count).
 * Helpers that take an op's context are named nb_op_<what>; nb_op_shape_<what> are
 * ready-made shape() functions. Everything here is what the built-in ops in ops/ use,
 * and nothing else: a user's op can use all of it.
 */
#ifndef NABLA_KERNELS_H
#define NABLA_KERNELS_H

#include "op.h"
#include "ops.h"
#include "parallel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- random numbers ---------------------------------------------------------------- */

/* Counter-based random numbers: depend only on (seed, i), so any thread can draw
 * element i and every run and thread count gets the same numbers. nb_rng_uniform is in
 * [0, 1) with 24 random bits. */
uint64_t nb_rng_u64(uint64_t seed, uint64_t i);
float nb_rng_uniform(uint64_t seed, uint64_t i);

/* ---- sums ------------------------------------------------------------------------- */

/* Sum of x[0..n) in a fixed blocked order, accumulated in double: the same bits for
 * any thread count. */
double nb_kernel_sum(const float *x, int64_t n);

/* Sum of x[i]^2 over [0, n), in double, in the same fixed order as nb_kernel_sum. */
double nb_kernel_sum_squares(const float *x, int64_t n);

/* y[o,i] = (sum_l x[o,l,i]) / div for x [outer, len, inner] and y [outer, inner] (div 1:
 * the sum; div len: the mean). Each output is summed in double in a fixed order.
 * Parallel over outputs from NB_PAR_MIN elements of x. */
void nb_kernel_sum_axis(float *y, const float *x, int64_t outer, int64_t len, int64_t inner,
                        double div);

/* Its backward: dx[o,l,i] += dy[o,i] * scale. Parallel over disjoint rows of dx. */
void nb_kernel_sum_axis_backward(float *dx, const float *dy, int64_t outer, int64_t len,
                                 int64_t inner, float scale);

/* ---- vectorised element-wise math ----------------------------------------------------
 *
 * Kernels on plain float arrays, compiled for several instruction sets and run on the
 * widest the CPU has (AVX-512F, AVX2 + FMA, SSE2 on x86-64; plain C elsewhere). The
 * transcendental functions are SLEEF's u10 ones, within 1 ULP of the true result (the
 * plain C ISA uses libm lane by lane: glibc's are within 1 ULP too, tanhf within 2.2);
 * sqrt and the arithmetic are IEEE-exact per operation. An element's bits depend only on its inputs and the ISA: not on the
 * thread count, nor on where the element falls in the array (a partial last vector is
 * computed by the same vector code). Each kernel splits its work across threads from
 * NB_PAR_MIN elements, at multiples of 64 elements. Outputs may be the inputs (in
 * place) but must not otherwise overlap them. Empty arrays (n = 0) are fine. */

/* The instruction sets of these kernels; NB_ISA_AUTO means "the best this CPU has". */
typedef enum nb_isa {
    NB_ISA_AUTO = 0,
    NB_ISA_C,       /* plain C: libm lane by lane, 4 lanes */
    NB_ISA_SSE2,    /* x86-64 baseline, 4 lanes */
    NB_ISA_AVX2,    /* AVX2 and FMA, 8 lanes */
    NB_ISA_AVX512,  /* AVX-512F, 16 lanes */
} nb_isa;

/* The ISA these kernels run on now: the one forced by nb_kernel_set_isa, else the best
 * the CPU (and the build: SLEEF is needed for all but NB_ISA_C) has. */
nb_isa nb_kernel_isa(void);

/* Forces an ISA (for tests and benchmarks), or NB_ISA_AUTO for the best again. Results
 * differ between ISAs in the last bits of the transcendental functions and of sums
 * (which add in VW lanes). Not to be called while kernels run on other threads.
 * NB_ERR_ARG for a value that is not an nb_isa, or an ISA this CPU or build lacks
 * ("kernel_set_isa: AVX-512 is not available on this CPU ..."). */
nb_status nb_kernel_set_isa(nb_isa isa);

/* "auto", "C", "SSE2", "AVX2", "AVX-512"; "unknown" for other values. */
const char *nb_isa_name(nb_isa isa);

/* y[i] = f(x[i]) for i in [0, n):
 *   exp    e^x          overflows to inf above ~88.7, 0 below ~-103
 *   log    ln x         -inf at 0, NaN below
 *   log1p  ln(1 + x)    accurate for small x (SLEEF's gives inf above 1e38: there
 *                       ln x is used)
 *   expm1  e^x - 1      accurate for small x
 *   tanh   tanh x
 *   sqrt   sqrt x       correctly rounded; NaN below 0
 *   sigmoid 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below (never overflows; within
 *          3 ULP)
 *   relu   max(x, 0), NaN kept
 *   pow    x^p          C's powf rules: x^0 = 1 (NaN too), NaN for x < 0 and p not an
 *                       integer */
void nb_kernel_exp(float *y, const float *x, int64_t n);
void nb_kernel_log(float *y, const float *x, int64_t n);
void nb_kernel_log1p(float *y, const float *x, int64_t n);
void nb_kernel_expm1(float *y, const float *x, int64_t n);
void nb_kernel_tanh(float *y, const float *x, int64_t n);
void nb_kernel_sqrt(float *y, const float *x, int64_t n);
void nb_kernel_sigmoid(float *y, const float *x, int64_t n);
void nb_kernel_relu(float *y, const float *x, int64_t n);
void nb_kernel_pow(float *y, const float *x, float p, int64_t n);

/* The backward rules of those: dx[i] += dy[i] times the derivative, from the output y
 * or the input x as named:
 *   exp      dx += dy y              log   dx += dy / x
 *   sqrt     dx += dy / (2 y)        pow   dx += dy p x^(p-1)
 *   sigmoid  dx += dy y (1 - y)      tanh  dx += dy (1 - y^2)
 *   relu     dx += dy where x > 0 (dx unchanged elsewhere, NaN included) */
void nb_kernel_exp_backward(float *dx, const float *y, const float *dy, int64_t n);
void nb_kernel_log_backward(float *dx, const float *x, const float *dy, int64_t n);
void nb_kernel_sqrt_backward(float *dx, const float *y, const float *dy, int64_t n);
void nb_kernel_pow_backward(float *dx, const float *x, const float *dy, float p, int64_t n);
void nb_kernel_sigmoid_backward(float *dx, const float *y, const float *dy, int64_t n);
void nb_kernel_tanh_backward(float *dx, const float *y, const float *dy, int64_t n);
void nb_kernel_relu_backward(float *dx, const float *x, const float *dy, int64_t n);

/* Element-wise losses in one pass each way. Forward writes the n terms l_i to l (NULL:
 * not stored) and returns sum_i l_i, accumulated in double in parts whose bounds
 * depend only on n, added in order: the same bits for any thread count, with no
 * temporary array. Backward adds each term's gradient times g_i -- g[i], or `scale`
 * for every i when g is NULL -- into the first input's gradient and the second's (each
 * skipped when NULL). The formulas, clamps and NaN rules are those of nb_bce,
 * nb_bce_logits and nb_mse in nabla/ops.h:
 *   bce         l = -(y max(ln p, -100) + (1 - y) max(ln(1 - p), -100)), NaN unless
 *               p in [0, 1]; dp as documented in ops/bce.c, dy = g (ln(1-p) - ln p)
 *   bce_logits  l = max(z, 0) - z y + ln(1 + e^-|z|);  dz = g (sigmoid z - y),
 *               dy = -g z
 *   mse         l = (p - y)^2;  dp = 2 (p - y) g,  dy = -dp */
double nb_kernel_bce(float *l, const float *p, const float *y, int64_t n);
void nb_kernel_bce_backward(float *dp, float *dy, const float *p, const float *y,
                            const float *g, float scale, int64_t n);
double nb_kernel_bce_logits(float *l, const float *z, const float *y, int64_t n);
void nb_kernel_bce_logits_backward(float *dz, float *dy, const float *z, const float *y,
                                   const float *g, float scale, int64_t n);
double nb_kernel_mse(float *l, const float *p, const float *y, int64_t n);
void nb_kernel_mse_backward(float *dp, float *dy, const float *p, const float *y,
                            const float *g, float scale, int64_t n);

/* Softmax cross-entropy of the rows of x [N, C] with labels (class indices as floats,
 * each an integer in [0, C): the caller checks): per row, with m = max_c x[n,c] and
 * s = sum_c e^(x[n,c] - m) in double,
 *     l_n = m + ln s - x[n, label_n]            (stored to l[n] unless l is NULL)
 *     prob[n, c] = e^(x[n,c] - m) * (1 / s)     (stored unless prob is NULL)
 * Returns sum_n l_n in double, in parts of whole rows added in order (bounds depend on
 * N and C only). One pass over x. Backward: dx[n,c] += g_n (prob[n,c] - [c == label_n])
 * with g_n = g[n], or `scale` when g is NULL. */
double nb_kernel_cross_entropy(float *l, float *prob, const float *x, const float *labels,
                               int64_t N, int64_t C);
void nb_kernel_cross_entropy_backward(float *dx, const float *prob, const float *labels,
                                      const float *g, float scale, int64_t N, int64_t C);

/* nb_lane_run kernels (for nb_kernel_lanes) of softmax and log_softmax along one lane of
 * L elements S apart, with m = max_l x_l (NaNs skipped) and sums in double:
 *   softmax      y_l = e^(x_l - m) / sum_k e^(x_k - m)
 *                backward: dx_l += y_l (dy_l - sum_k dy_k y_k)
 *   log_softmax  y_l = x_l - m - ln sum_k e^(x_k - m)
 *                backward: dx_l += dy_l - e^(y_l) sum_k dy_k
 * The third argument of the forward kernels is unused (NULL). */
void nb_kernel_softmax_lane(float *y, const float *x, const float *unused, int64_t L,
                            int64_t S);
void nb_kernel_softmax_lane_backward(float *dx, const float *y, const float *dy, int64_t L,
                                     int64_t S);
void nb_kernel_log_softmax_lane(float *y, const float *x, const float *unused, int64_t L,
                                int64_t S);
void nb_kernel_log_softmax_lane_backward(float *dx, const float *y, const float *dy,
                                         int64_t L, int64_t S);

/* ---- broadcasting ------------------------------------------------------------------ */

/* A run of a binary elementwise op: for k in [0, n): out[k] = f(a[k * sa], b[k * sb]),
 * with strides sa, sb in {0, 1}. `ud` is passed through. */
typedef void (*nb_binary_run)(float *out, const float *a, int64_t sa, const float *b,
                              int64_t sb, int64_t n, const void *ud);

/* Applies `run` over out's elements with a and b broadcast (NumPy rules) to out's
 * shape. Parallel over disjoint runs. Does nothing when out is empty. */
void nb_kernel_broadcast(nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                         nb_binary_run run, const void *ud);

/* grad += g summed over the dimensions in which grad is broadcast to g's shape
 * (grad's shape must broadcast to g's; equal sizes are a plain add). Each element of
 * grad is summed in a fixed order: the same bits for any thread count. An empty g adds
 * nothing. */
void nb_kernel_unbroadcast_add(nb_tensor *grad, const nb_tensor *g);

/* ---- ops along an axis ------------------------------------------------------------- */

/* A lane along an axis: its L elements are out[l S], a[l S] and b[l S], l in [0, L).
 * a or b is NULL when nb_kernel_lanes was given NULL. */
typedef void (*nb_lane_run)(float *out, const float *a, const float *b, int64_t L,
                            int64_t S);

/* Tensors shaped like t seen as [outer, L, inner] around `axis` (in [-ndim, ndim)):
 * calls run once for each of the outer * inner lanes, with out, a and b pointing at the
 * lane's first element and S = inner. Parallel over lanes from NB_PAR_MIN elements, so
 * run must write only its own lane. Does nothing when t is empty. */
void nb_kernel_lanes(const nb_tensor *t, int axis, nb_lane_run run, float *out,
                     const float *a, const float *b);

/* ---- short copies ----------------------------------------------------------------- */

/* d[0..n) = s[0..n) for the short rows of packing and im2col (a few dozen floats), in
 * fixed-size moves the compiler inlines: a memcpy call costs more than such a row. */
static inline void nb_kernel_copy_short(float *restrict d, const float *restrict s, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        __builtin_memcpy(d + i, s + i, 8 * sizeof(float));
    if (n - i >= 4) {
        __builtin_memcpy(d + i, s + i, 4 * sizeof(float));
        i += 4;
    }
    switch (n - i) {
    case 3: d[i + 2] = s[i + 2]; /* fall through */
    case 2: d[i + 1] = s[i + 1]; /* fall through */
    case 1: d[i] = s[i]; /* fall through */
    default: break;
    }
}

/* ---- GEMM ------------------------------------------------------------------------- */

/* C = alpha * op(A) op(B) + beta * C, row-major, op(A) M x K, op(B) K x N. A is stored
 * M x K with row stride lda (K x M if trans_a); B is K x N with row stride ldb (N x K if
 * trans_b); C is M x N with row stride ldc. beta == 0 ignores C's old contents. Every
 * element of C is summed in the same order for any thread count. Packing space comes
 * from step memory and is given back before it returns, so it must not be called from
 * several threads at once. Returns NB_ERR_ARG for negative sizes, strides shorter than
 * a row or a NULL matrix, NB_ERR_NOMEM if packing space cannot be had. */
nb_status nb_kernel_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float *A, int64_t lda, const float *B,
                         int64_t ldb, float beta, float *C, int64_t ldc);

/* nb_kernel_gemm on the calling thread only, with packing space the caller gives: for
 * one product per thread inside the caller's own parallel region (a convolution's
 * images), where step memory must not be touched. `work` holds at least
 * nb_kernel_gemm_work(M, N, K, trans_a) floats, 64-byte aligned (it may be NULL when
 * that is 0). Gives the same bits as nb_kernel_gemm. NB_ERR_ARG as nb_kernel_gemm, and
 * for a NULL work that is needed. nb_kernel_gemm_work returns 0 for negative sizes. */
int64_t nb_kernel_gemm_work(int64_t M, int64_t N, int64_t K, bool trans_a);
nb_status nb_kernel_gemm_on(float *work, bool trans_a, bool trans_b, int64_t M, int64_t N,
                            int64_t K, float alpha, const float *A, int64_t lda,
                            const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The plain triple loop with the same contract, for tests and as a reference. */
void nb_kernel_gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                        float alpha, const float *A, int64_t lda, const float *B,
                        int64_t ldb, float beta, float *C, int64_t ldc);

/* ---- convolution geometry and im2col ------------------------------------------------ */

/* A 2-D convolution resolved from its shapes and options (see nb_conv2d in ops.h). */
typedef struct nb_conv2d_geom {
    int64_t N, C, H, W;       /* input [N, C, H, W] */
    int64_t K, kH, kW;        /* weight [K, C/G, kH, kW] */
    int64_t G, Cg, Kg;        /* groups, channels per group in and out */
    int64_t sh, sw, dh, dw;   /* strides, dilations */
    int64_t pt, pb, pl, pr;   /* padding (pad_same resolved) */
    int64_t Ho, Wo, P;        /* output size, P = Ho Wo */
    int64_t R;                /* rows of the column matrix: Cg kH kW */
} nb_conv2d_geom;

/* Resolves the geometry of x [N,C,H,W] and w [K,C/G,kH,kW] under opts. The shapes and
 * options must already be valid (nb_conv2d's shape() checks them); with shapes bounded
 * by NB_SIZE_MAX and a kernel extent dilation (k - 1) of at most NB_SIZE_MAX, nothing
 * overflows, and P saturates at INT64_MAX when Ho Wo would. */
nb_conv2d_geom nb_conv2d_geometry(const int64_t x_shape[4], const int64_t w_shape[4],
                                  const nb_conv2d_opts *opts);

/* cols[(c,i,j), p - p0] (row stride ld) = x[n, c0 + c, oh sh - pt + i dh,
 * ow sw - pl + j dw] for the output pixels p = oh Wo + ow in [p0, p1) of image n and the
 * Cg channels from c0; zero where the kernel hangs over the padding. One thread: a
 * convolution calls it per (image, block of pixels) from its own parallel loop. */
void nb_kernel_im2col(const nb_conv2d_geom *g, const float *x, int64_t n, int64_t c0,
                      int64_t p0, int64_t p1, float *cols, int64_t ld);

/* The adjoint of im2col: dx[n, c0 + c, ...] += each column entry at its pixel, in a
 * fixed order. One thread; blocks of the same image overlap in dx, so they must be
 * added by one thread (or in a fixed order). */
void nb_kernel_col2im(const nb_conv2d_geom *g, const float *cols, int64_t ld, int64_t n,
                      int64_t c0, int64_t p0, int64_t p1, float *dx);

/* ---- helpers for losses ------------------------------------------------------------- */

/* shape() helper: NB_ERR_ARG with "<op>: invalid reduction 3 (expected NB_REDUCE_MEAN,
 * NB_REDUCE_SUM or NB_REDUCE_NONE)" unless `reduction` is one of those. */
nb_status nb_op_check_reduction(nb_op_ctx *ctx, nb_reduction reduction);

/* shape() for a loss of two same-shape inputs (prediction, target): checks the
 * reduction, then that inputs 0 and 1 have the same shape (NB_ERR_SHAPE with
 * "<op>: shapes differ: [4,1] and [4]"; no broadcasting). The output has input 0's
 * shape for NB_REDUCE_NONE and is a scalar (rank 0) otherwise. */
nb_status nb_op_shape_loss(nb_op_ctx *ctx, nb_reduction reduction, int *ndim,
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
 * and end writes out[0] = sum (SUM) or sum / n (MEAN; NaN for n = 0, like a mean of
 * nothing), summed by nb_kernel_sum, and gives the scratch back. */
float *nb_op_loss_begin(nb_tensor *out, nb_reduction reduction, int64_t n,
                        nb_step_mark *mark);
void nb_op_loss_end(nb_tensor *out, nb_reduction reduction, const float *l, int64_t n,
                    nb_step_mark mark);

/* backward() of a loss over n terms: the factor every term's gradient is scaled by
 * when the loss is reduced: dout[0] for NB_REDUCE_SUM, dout[0] / n (divided in double)
 * for NB_REDUCE_MEAN. For NB_REDUCE_NONE term i's factor is dout[i]; this returns 0. */
float nb_op_loss_scale(nb_reduction reduction, const float *dout, int64_t n);

/* ---- helpers for reductions and ops along an axis ----------------------------------- */

/* Params of a reduction of input 0: over every element to a 0-D tensor (all), or along
 * one axis. */
typedef struct nb_reduce_params {
    int axis;      /* negative counts from the end */
    bool keepdim;  /* keep the reduced axis with size 1 */
    bool all;      /* reduce every element to a 0-D tensor (axis, keepdim unused) */
} nb_reduce_params;

/* A shape() for reductions whose params are an nb_reduce_params: 0-D for `all`, else
 * input 0's shape without the axis (or with it as 1 if keepdim). An axis outside
 * [-ndim, ndim) is NB_ERR_ARG "<op>: axis 2 is out of range for shape [2,3]". */
nb_status nb_op_shape_reduce(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* Input 0 of a reduction seen as [outer, len, inner], the output as [outer, inner].
 * For `all` it is [1, size, 1]. */
void nb_op_reduce_split(const nb_op_ctx *ctx, int64_t *outer, int64_t *len, int64_t *inner);

/* Params of an op applied along one axis of input 0, e.g. softmax. */
typedef struct nb_axis_params {
    int axis;  /* negative counts from the end */
} nb_axis_params;

/* A shape() for ops along an axis whose params are an nb_axis_params: the output has
 * input 0's shape; a bad axis is NB_ERR_ARG as for nb_op_shape_reduce. */
nb_status nb_op_shape_axis(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* ---- helpers for ops that only change the shape --------------------------------------- */

/* forward() and backward() for ops whose output holds input 0's elements in the same
 * order under another shape (reshape, flatten): out = a copy of x; dx += dout. */
nb_status nb_op_forward_copy(nb_op_ctx *ctx, nb_tensor *out);
nb_status nb_op_backward_copy(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout);

/* ---- helpers for 2-D pooling ---------------------------------------------------------- */

/* A shape() for 2-D pooling whose params are an nb_pool2d_opts: input 0 [N,C,H,W] ->
 * [N,C,H_out,W_out], H_out = (H + pad_top + pad_bottom - kH) / stride_h + 1 (likewise
 * W_out). Errors, each "<op>: ...": an input that is not 4-D (NB_ERR_SHAPE), a kernel
 * or stride below 1, a negative padding or one above half its kernel (NB_ERR_ARG), an
 * H or W of 0 ("empty image planes", NB_ERR_SHAPE: with padding, a window would hold
 * no pixel), a kernel larger than the padded input (NB_ERR_SHAPE). */
nb_status nb_op_shape_pool2d(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS]);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_KERNELS_H */
