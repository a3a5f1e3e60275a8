/*
 * ops/kernels/vmath.h - private to ops/kernels/vmath*.c: the table of one ISA's vector
 * kernels (written once in vmath_impl.h), and the tables of the x86-64 ISAs, each
 * compiled in a file of its own with that ISA's flags (vmath_sse2.c, vmath_avx2.c,
 * vmath_avx512.c).
 *
 * Why files of their own and not __attribute__((target)) as in gemm.c: the kernels
 * pass vectors to SLEEF's functions, and clang 14 passes a __m256 argument in memory
 * when the file is compiled for baseline x86-64, even from a target("avx2") function
 * (a second argument then arrives as garbage); with -mavx2 for the whole file the
 * call is right on both compilers. Those files include nothing of nabla's but this
 * header, so no code of theirs runs before the CPU has been checked.
 */
#ifndef NABLA_OPS_KERNELS_VMATH_H
#define NABLA_OPS_KERNELS_VMATH_H

#include <stdint.h>

/* Elements of an element-wise task; part bounds are multiples of VM_ALIGN. */
#define VM_ALIGN 64

typedef void (*vm_unary)(float *y, const float *x, int64_t n);
typedef void (*vm_backward)(float *dx, const float *a, const float *dy, int64_t n);
typedef double (*vm_loss)(float *l, const float *a, const float *b, int64_t n);
typedef void (*vm_loss_backward)(float *da, float *db, const float *a, const float *b,
                                 const float *g, float scale, int64_t n);
typedef void (*vm_lane)(float *y, const float *x, int64_t L, int64_t S);
typedef void (*vm_lane_backward)(float *dx, const float *y, const float *dy, int64_t L,
                                 int64_t S);

/* The kernels of one ISA (see vmath_impl.h). */
typedef struct vm_table {
    vm_unary exp, log, log1p, expm1, tanh, sqrt, sigmoid, relu;
    void (*pow)(float *y, const float *x, float p, int64_t n);
    vm_backward exp_backward, log_backward, sqrt_backward, sigmoid_backward, tanh_backward,
        relu_backward;
    void (*pow_backward)(float *dx, const float *x, const float *dy, float p, int64_t n);
    vm_loss bce, bce_logits, mse;
    vm_loss_backward bce_backward, bce_logits_backward, mse_backward;
    vm_lane softmax_lane, log_softmax_lane;
    vm_lane_backward softmax_lane_backward, log_softmax_lane_backward;
    double (*cross_entropy)(float *l, float *prob, const float *x, const float *t, int64_t N,
                            int64_t C);
    void (*cross_entropy_backward)(float *dx, const float *prob, const float *t,
                                   const float *g, float scale, int64_t N, int64_t C);
} vm_table;

#if defined(__x86_64__) && defined(NB_HAVE_SLEEF)
#define VM_X86 1
/* The tables of vmath_sse2.c, vmath_avx2.c, vmath_avx512.c. */
__attribute__((visibility("hidden"))) const vm_table *nb_vmath_table_sse2(void);
__attribute__((visibility("hidden"))) const vm_table *nb_vmath_table_avx2(void);
__attribute__((visibility("hidden"))) const vm_table *nb_vmath_table_avx512(void);
#endif

#endif /* NABLA_OPS_KERNELS_VMATH_H */
