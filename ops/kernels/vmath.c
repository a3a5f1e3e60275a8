/*
 * ops/kernels/vmath.c - vectorised element-wise math, losses and softmax lanes.
 *
 * The kernels are written once (vmath_impl.h) on GCC/Clang vector types and compiled
 * for each instruction set: AVX-512F (16 floats, SLEEF's *_u10avx512f), AVX2 + FMA
 * (8 floats, *_u10avx2), SSE2 (4 floats, *_u10sse2, any x86-64) and plain C (4 floats,
 * libm lane by lane: other CPUs, or x86-64 without SLEEF). The library is compiled for
 * the baseline ISA; each kernel carries __attribute__((target)) and the widest one the
 * CPU has is chosen at run time (nb_kernel_isa), like the GEMM micro-kernel.
 *
 * Determinism: an element's bits depend only on its inputs and the ISA, never on where
 * it falls: a partial last vector is computed by the same vector code with padded
 * lanes. Work is split across threads in CHUNK-element pieces (a multiple of every
 * vector width), and sums in parts whose bounds depend only on n, each part summed in
 * double lanes and the parts added in order: the same bits for any thread count.
 */
#include <math.h>
#include <string.h>

#include "nabla/op.h"
#include "nabla/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Elements per task of an element-wise kernel; part bounds are multiples of VM_ALIGN. */
#define CHUNK 4096
#define VM_ALIGN 64
/* A reduction is summed in at most PARTS_MAX parts of at least PART_MIN elements. */
#define PARTS_MAX 256
#define PART_MIN 4096

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

/* ---- plain C: libm lane by lane --------------------------------------------------------- */

#define VM_SUFFIX c
#define VW 4
#define VM_TARGET
#define V_EXP(v) map1_c(expf, v)
#define V_LOG(v) map1_c(logf, v)
#define V_LOG1P(v) map1_c(log1pf, v)
#define V_EXPM1(v) map1_c(expm1f, v)
#define V_TANH(v) map1_c(tanhf, v)
#define V_SQRT(v) map1_c(sqrtf, v)
#define V_POW(v, w) map2_c(powf, v, w)
#define V_LOGD(d) map1d_c(log, d)
#define V_ANY(m) any_lanes_c(m)
#include "vmath_impl.h"
#undef VM_SUFFIX
#undef VW
#undef VM_TARGET
#undef V_EXP
#undef V_LOG
#undef V_LOG1P
#undef V_EXPM1
#undef V_TANH
#undef V_SQRT
#undef V_POW
#undef V_LOGD
#undef V_ANY

/* ---- x86-64 with SLEEF ----------------------------------------------------------------- */

#if defined(__x86_64__) && defined(NB_HAVE_SLEEF)
#define VM_X86 1

/* SLEEF's functions, declared here rather than through sleef.h, which declares the
 * AVX2 and AVX-512 ones only when the whole file is compiled for those ISAs. */
#define SLEEF_DECLARE(T, TD, w, wd, isa, target)                                        \
    target T Sleef_expf##w##_u10##isa(T);                                               \
    target TD Sleef_logd##wd##_u10##isa(TD);                                            \
    target T Sleef_logf##w##_u10##isa(T);                                               \
    target T Sleef_log1pf##w##_u10##isa(T);                                             \
    target T Sleef_expm1f##w##_u10##isa(T);                                             \
    target T Sleef_tanhf##w##_u10##isa(T);                                              \
    target T Sleef_powf##w##_u10##isa(T, T);
SLEEF_DECLARE(__m128, __m128d, 4, 2, sse2, )
SLEEF_DECLARE(__m256, __m256d, 8, 4, avx2, __attribute__((target("avx2,fma"))))
SLEEF_DECLARE(__m512, __m512d, 16, 8, avx512f, __attribute__((target("avx512f"))))

/* SSE2: every x86-64. */
#define VM_SUFFIX sse2
#define VW 4
#define VM_TARGET
#define V_EXP(v) ((vf_sse2)Sleef_expf4_u10sse2((__m128)(v)))
#define V_LOG(v) ((vf_sse2)Sleef_logf4_u10sse2((__m128)(v)))
#define V_LOG1P(v) ((vf_sse2)Sleef_log1pf4_u10sse2((__m128)(v)))
#define V_EXPM1(v) ((vf_sse2)Sleef_expm1f4_u10sse2((__m128)(v)))
#define V_TANH(v) ((vf_sse2)Sleef_tanhf4_u10sse2((__m128)(v)))
#define V_SQRT(v) ((vf_sse2)_mm_sqrt_ps((__m128)(v)))
#define V_POW(v, w) ((vf_sse2)Sleef_powf4_u10sse2((__m128)(v), (__m128)(w)))
#define V_LOGD(d) ((vh_sse2)Sleef_logd2_u10sse2((__m128d)(d)))
#define V_ANY(m) (_mm_movemask_ps((__m128)(m)) != 0)
#include "vmath_impl.h"
#undef VM_SUFFIX
#undef VW
#undef VM_TARGET
#undef V_EXP
#undef V_LOG
#undef V_LOG1P
#undef V_EXPM1
#undef V_TANH
#undef V_SQRT
#undef V_POW
#undef V_LOGD
#undef V_ANY

/* AVX2 + FMA (SLEEF's AVX2 functions use FMA). */
#define VM_SUFFIX avx2
#define VW 8
#define VM_TARGET __attribute__((target("avx2,fma")))
#define V_EXP(v) ((vf_avx2)Sleef_expf8_u10avx2((__m256)(v)))
#define V_LOG(v) ((vf_avx2)Sleef_logf8_u10avx2((__m256)(v)))
#define V_LOG1P(v) ((vf_avx2)Sleef_log1pf8_u10avx2((__m256)(v)))
#define V_EXPM1(v) ((vf_avx2)Sleef_expm1f8_u10avx2((__m256)(v)))
#define V_TANH(v) ((vf_avx2)Sleef_tanhf8_u10avx2((__m256)(v)))
#define V_SQRT(v) ((vf_avx2)_mm256_sqrt_ps((__m256)(v)))
#define V_POW(v, w) ((vf_avx2)Sleef_powf8_u10avx2((__m256)(v), (__m256)(w)))
#define V_LOGD(d) ((vh_avx2)Sleef_logd4_u10avx2((__m256d)(d)))
#define V_ANY(m) (!_mm256_testz_si256((__m256i)(m), (__m256i)(m)))
#include "vmath_impl.h"
#undef VM_SUFFIX
#undef VW
#undef VM_TARGET
#undef V_EXP
#undef V_LOG
#undef V_LOG1P
#undef V_EXPM1
#undef V_TANH
#undef V_SQRT
#undef V_POW
#undef V_LOGD
#undef V_ANY

/* AVX-512F. */
#define VM_SUFFIX avx512
#define VW 16
#define VM_TARGET __attribute__((target("avx512f")))
#define V_EXP(v) ((vf_avx512)Sleef_expf16_u10avx512f((__m512)(v)))
#define V_LOG(v) ((vf_avx512)Sleef_logf16_u10avx512f((__m512)(v)))
#define V_LOG1P(v) ((vf_avx512)Sleef_log1pf16_u10avx512f((__m512)(v)))
#define V_EXPM1(v) ((vf_avx512)Sleef_expm1f16_u10avx512f((__m512)(v)))
#define V_TANH(v) ((vf_avx512)Sleef_tanhf16_u10avx512f((__m512)(v)))
#define V_SQRT(v) ((vf_avx512)_mm512_sqrt_ps((__m512)(v)))
#define V_POW(v, w) ((vf_avx512)Sleef_powf16_u10avx512f((__m512)(v), (__m512)(w)))
#define V_LOGD(d) ((vh_avx512)Sleef_logd8_u10avx512f((__m512d)(d)))
#define V_ANY(m) (_mm512_test_epi32_mask((__m512i)(m), (__m512i)(m)) != 0)
#include "vmath_impl.h"
#undef VM_SUFFIX
#undef VW
#undef VM_TARGET
#undef V_EXP
#undef V_LOG
#undef V_LOG1P
#undef V_EXPM1
#undef V_TANH
#undef V_SQRT
#undef V_POW
#undef V_LOGD
#undef V_ANY

#endif /* x86-64 with SLEEF */

/* ---- choosing the ISA ---------------------------------------------------------------------- */

static nb_isa forced_isa = NB_ISA_AUTO;

static bool cpu_has(nb_isa isa)
{
    switch (isa) {
    case NB_ISA_C:
        return true;
#if defined(VM_X86)
    case NB_ISA_SSE2:
        return true;
    case NB_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case NB_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return false;
    }
}

static nb_isa best_isa(void)
{
    for (nb_isa isa = NB_ISA_AVX512; isa > NB_ISA_C; isa--)
        if (cpu_has(isa))
            return isa;
    return NB_ISA_C;
}

nb_isa nb_kernel_isa(void) { return forced_isa != NB_ISA_AUTO ? forced_isa : best_isa(); }

nb_status nb_kernel_set_isa(nb_isa isa)
{
    if ((int)isa < NB_ISA_AUTO || (int)isa > NB_ISA_AVX512)
        return nb_set_error(NB_ERR_ARG, "kernel_set_isa: unknown ISA %d (expected NB_ISA_AUTO "
                                        "or NB_ISA_C..NB_ISA_AVX512)", (int)isa);
    if (isa != NB_ISA_AUTO && !cpu_has(isa))
        return nb_set_error(NB_ERR_ARG, "kernel_set_isa: %s is not available on this CPU "
                                        "(or this build has no SLEEF); the best is %s",
                            nb_isa_name(isa), nb_isa_name(best_isa()));
    forced_isa = isa;
    return NB_OK;
}

const char *nb_isa_name(nb_isa isa)
{
    switch (isa) {
    case NB_ISA_AUTO:
        return "auto";
    case NB_ISA_C:
        return "C";
    case NB_ISA_SSE2:
        return "SSE2";
    case NB_ISA_AVX2:
        return "AVX2";
    case NB_ISA_AVX512:
        return "AVX-512";
    default:
        return "unknown";
    }
}

static const vm_table *table(void)
{
    switch (nb_kernel_isa()) {
#if defined(VM_X86)
    case NB_ISA_AVX512:
        return &table_avx512;
    case NB_ISA_AVX2:
        return &table_avx2;
    case NB_ISA_SSE2:
        return &table_sse2;
#endif
    default:
        return &table_c;
    }
}

/* ---- splitting across threads ---------------------------------------------------------------- */

/* Runs `call` for each CHUNK of [0, n) (lo its start, len its length), in parallel from
 * NB_PAR_MIN elements. */
#define FOR_CHUNKS(n, lo, len, call)                                               \
    do {                                                                           \
        const int64_t fc_n_ = (n), fc_chunks_ = (fc_n_ + CHUNK - 1) / CHUNK;       \
        NB_PARALLEL_FOR_IF(fc_n_ >= NB_PAR_MIN, fc_c_, fc_chunks_, {               \
            int64_t lo = fc_c_ * CHUNK;                                            \
            int64_t len = fc_n_ - lo < CHUNK ? fc_n_ - lo : CHUNK;                 \
            call;                                                                  \
        });                                                                        \
    } while (0)

/* The length of the parts a sum of n terms is split into: a multiple of VM_ALIGN that
 * depends on n only, with at most PARTS_MAX parts. */
static int64_t part_len(int64_t n, int64_t min)
{
    int64_t parts = (n + min - 1) / min;
    if (parts > PARTS_MAX)
        parts = PARTS_MAX;
    if (parts < 1)
        parts = 1;
    int64_t len = (n + parts - 1) / parts;
    return (len + VM_ALIGN - 1) / VM_ALIGN * VM_ALIGN;
}

/* sum_i l_i of an element-wise loss, in parts (see part_len) added in order. */
static double loss_sum(vm_loss f, float *l, const float *a, const float *b, int64_t n)
{
    if (n <= 0)
        return 0.0;
    int64_t len = part_len(n, PART_MIN), parts = (n + len - 1) / len;
    double part[PARTS_MAX];
    NB_PARALLEL_FOR_IF(n >= NB_PAR_MIN, q, parts, {
        int64_t lo = q * len, m = n - lo < len ? n - lo : len;
        part[q] = f(l ? l + lo : NULL, a + lo, b + lo, m);
    });
    double s = 0.0;
    for (int64_t q = 0; q < parts; q++)
        s += part[q];
    return s;
}

static void loss_backward(vm_loss_backward f, float *da, float *db, const float *a,
                          const float *b, const float *g, float scale, int64_t n)
{
    FOR_CHUNKS(n, lo, len,
               f(da ? da + lo : NULL, db ? db + lo : NULL, a + lo, b + lo, g ? g + lo : NULL,
                 scale, len));
}

/* ---- the public kernels ------------------------------------------------------------------------ */

#define PUBLIC_UNARY(name)                                          \
    void nb_kernel_##name(float *y, const float *x, int64_t n)      \
    {                                                               \
        vm_unary f = table()->name;                                 \
        FOR_CHUNKS(n, lo, len, f(y + lo, x + lo, len));             \
    }

PUBLIC_UNARY(exp)
PUBLIC_UNARY(log)
PUBLIC_UNARY(log1p)
PUBLIC_UNARY(expm1)
PUBLIC_UNARY(tanh)
PUBLIC_UNARY(sqrt)
PUBLIC_UNARY(sigmoid)
PUBLIC_UNARY(relu)

void nb_kernel_pow(float *y, const float *x, float p, int64_t n)
{
    const vm_table *t = table();
    FOR_CHUNKS(n, lo, len, t->pow(y + lo, x + lo, p, len));
}

#define PUBLIC_BACKWARD(name, a)                                                         \
    void nb_kernel_##name##_backward(float *dx, const float *a, const float *dy, int64_t n) \
    {                                                                                    \
        vm_backward f = table()->name##_backward;                                        \
        FOR_CHUNKS(n, lo, len, f(dx + lo, a + lo, dy + lo, len));                        \
    }

PUBLIC_BACKWARD(exp, y)
PUBLIC_BACKWARD(log, x)
PUBLIC_BACKWARD(sqrt, y)
PUBLIC_BACKWARD(sigmoid, y)
PUBLIC_BACKWARD(tanh, y)
PUBLIC_BACKWARD(relu, x)

void nb_kernel_pow_backward(float *dx, const float *x, const float *dy, float p, int64_t n)
{
    const vm_table *t = table();
    FOR_CHUNKS(n, lo, len, t->pow_backward(dx + lo, x + lo, dy + lo, p, len));
}

double nb_kernel_bce(float *l, const float *p, const float *y, int64_t n)
{
    return loss_sum(table()->bce, l, p, y, n);
}

void nb_kernel_bce_backward(float *dp, float *dy, const float *p, const float *y,
                            const float *g, float scale, int64_t n)
{
    loss_backward(table()->bce_backward, dp, dy, p, y, g, scale, n);
}

double nb_kernel_bce_logits(float *l, const float *z, const float *y, int64_t n)
{
    return loss_sum(table()->bce_logits, l, z, y, n);
}

void nb_kernel_bce_logits_backward(float *dz, float *dy, const float *z, const float *y,
                                   const float *g, float scale, int64_t n)
{
    loss_backward(table()->bce_logits_backward, dz, dy, z, y, g, scale, n);
}

double nb_kernel_mse(float *l, const float *p, const float *y, int64_t n)
{
    return loss_sum(table()->mse, l, p, y, n);
}

void nb_kernel_mse_backward(float *dp, float *dy, const float *p, const float *y,
                            const float *g, float scale, int64_t n)
{
    loss_backward(table()->mse_backward, dp, dy, p, y, g, scale, n);
}

double nb_kernel_cross_entropy(float *l, float *prob, const float *x, const float *labels,
                               int64_t N, int64_t C)
{
    if (N <= 0)
        return 0.0;
    const vm_table *t = table();
    /* Parts of whole rows, at least PART_MIN elements each (but at most PARTS_MAX
     * parts); the bounds depend on N and C only. */
    int64_t min_rows = C >= PART_MIN ? 1 : PART_MIN / C;
    int64_t parts = (N + min_rows - 1) / min_rows;
    if (parts > PARTS_MAX)
        parts = PARTS_MAX;
    int64_t rows = (N + parts - 1) / parts;
    parts = (N + rows - 1) / rows;
    double part[PARTS_MAX];
    NB_PARALLEL_FOR_IF(N * C >= NB_PAR_MIN, q, parts, {
        int64_t n0 = q * rows, m = N - n0 < rows ? N - n0 : rows;
        part[q] = t->cross_entropy(l ? l + n0 : NULL, prob ? prob + n0 * C : NULL,
                                   x + n0 * C, labels + n0, m, C);
    });
    double s = 0.0;
    for (int64_t q = 0; q < parts; q++)
        s += part[q];
    return s;
}

void nb_kernel_cross_entropy_backward(float *dx, const float *prob, const float *labels,
                                      const float *g, float scale, int64_t N, int64_t C)
{
    const vm_table *t = table();
    int64_t rows = C >= CHUNK ? 1 : CHUNK / C;
    int64_t tasks = (N + rows - 1) / rows;
    NB_PARALLEL_FOR_IF(N * C >= NB_PAR_MIN, q, tasks, {
        int64_t n0 = q * rows, m = N - n0 < rows ? N - n0 : rows;
        t->cross_entropy_backward(dx + n0 * C, prob + n0 * C, labels + n0, g ? g + n0 : NULL,
                                  scale, m, C);
    });
}

void nb_kernel_softmax_lane(float *y, const float *x, const float *unused, int64_t L,
                            int64_t S)
{
    (void)unused;
    table()->softmax_lane(y, x, L, S);
}

void nb_kernel_softmax_lane_backward(float *dx, const float *y, const float *dy, int64_t L,
                                     int64_t S)
{
    table()->softmax_lane_backward(dx, y, dy, L, S);
}

void nb_kernel_log_softmax_lane(float *y, const float *x, const float *unused, int64_t L,
                                int64_t S)
{
    (void)unused;
    table()->log_softmax_lane(y, x, L, S);
}

void nb_kernel_log_softmax_lane_backward(float *dx, const float *y, const float *dy,
                                         int64_t L, int64_t S)
{
    table()->log_softmax_lane_backward(dx, y, dy, L, S);
}
