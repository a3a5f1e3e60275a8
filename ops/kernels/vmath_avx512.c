/*
 * ops/kernels/vmath_avx512.c - the vector kernels of vmath_impl.h for AVX-512F; compiled with -mavx512f.
 * Only vmath.c calls in here, through nb_vmath_table_avx512(), once the CPU has been
 * checked (see vmath.h for why this is a file of its own).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>
#include <sleef.h>

#include "vmath.h"

#define VM_SUFFIX avx512
#define VW 16
#define V_EXP(v) ((vf_avx512)Sleef_expf16_u10avx512f((__m512)(v)))
#define V_LOG(v) ((vf_avx512)Sleef_logf16_u10avx512f((__m512)(v)))
#define V_LOG1P(v) ((vf_avx512)Sleef_log1pf16_u10avx512f((__m512)(v)))
#define V_EXPM1(v) ((vf_avx512)Sleef_expm1f16_u10avx512f((__m512)(v)))
#define V_TANH(v) ((vf_avx512)Sleef_tanhf16_u10avx512f((__m512)(v)))
#define V_POW(v, w) ((vf_avx512)Sleef_powf16_u10avx512f((__m512)(v), (__m512)(w)))
#define V_LOGD(d) ((vh_avx512)Sleef_logd8_u10avx512f((__m512d)(d)))
#define V_SQRT(v) ((vf_avx512)_mm512_sqrt_ps((__m512)(v)))
#define V_ANY(m) (_mm512_test_epi32_mask((__m512i)(m), (__m512i)(m)) != 0)
#include "vmath_impl.h"

const vm_table *nb_vmath_table_avx512(void) { return &table_avx512; }
