/*
 * ops/kernels/vmath_sse2.c - the vector kernels of vmath_impl.h for SSE2: every x86-64 (no extra flags).
 * Only vmath.c calls in here, through nb_vmath_table_sse2(), once the CPU has been
 * checked (see vmath.h for why this is a file of its own).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>
#include <sleef.h>

#include "vmath.h"

#define VM_SUFFIX sse2
#define VW 4
#define V_EXP(v) ((vf_sse2)Sleef_expf4_u10sse2((__m128)(v)))
#define V_LOG(v) ((vf_sse2)Sleef_logf4_u10sse2((__m128)(v)))
#define V_LOG1P(v) ((vf_sse2)Sleef_log1pf4_u10sse2((__m128)(v)))
#define V_EXPM1(v) ((vf_sse2)Sleef_expm1f4_u10sse2((__m128)(v)))
#define V_TANH(v) ((vf_sse2)Sleef_tanhf4_u10sse2((__m128)(v)))
#define V_POW(v, w) ((vf_sse2)Sleef_powf4_u10sse2((__m128)(v), (__m128)(w)))
#define V_LOGD(d) ((vh_sse2)Sleef_logd2_u10sse2((__m128d)(d)))
#define V_SQRT(v) ((vf_sse2)_mm_sqrt_ps((__m128)(v)))
#define V_ANY(m) (_mm_movemask_ps((__m128)(m)) != 0)
#include "vmath_impl.h"

const vm_table *nb_vmath_table_sse2(void) { return &table_sse2; }
