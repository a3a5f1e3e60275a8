/*
 * ops/kernels/vmath_avx2.c - the vector kernels of vmath_impl.h for AVX2 + FMA (SLEEF's AVX2 functions use FMA); compiled with -mavx2 -mfma.
 * Only vmath.c calls in here, through nb_vmath_table_avx2(), once the CPU has been
 * checked (see vmath.h for why this is a file of its own).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>
#include <sleef.h>

#include "vmath.h"

#define VM_SUFFIX avx2
#define VW 8
#define V_EXP(v) ((vf_avx2)Sleef_expf8_u10avx2((__m256)(v)))
#define V_LOG(v) ((vf_avx2)Sleef_logf8_u10avx2((__m256)(v)))
#define V_LOG1P(v) ((vf_avx2)Sleef_log1pf8_u10avx2((__m256)(v)))
#define V_EXPM1(v) ((vf_avx2)Sleef_expm1f8_u10avx2((__m256)(v)))
#define V_TANH(v) ((vf_avx2)Sleef_tanhf8_u10avx2((__m256)(v)))
#define V_POW(v, w) ((vf_avx2)Sleef_powf8_u10avx2((__m256)(v), (__m256)(w)))
#define V_LOGD(d) ((vh_avx2)Sleef_logd4_u10avx2((__m256d)(d)))
#define V_SQRT(v) ((vf_avx2)_mm256_sqrt_ps((__m256)(v)))
#define V_ANY(m) (!_mm256_testz_si256((__m256i)(m), (__m256i)(m)))
#include "vmath_impl.h"

const vm_table *nb_vmath_table_avx2(void) { return &table_avx2; }
