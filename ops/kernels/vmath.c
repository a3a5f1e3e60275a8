/*
 * ops/kernels/vmath.c - vectorised element-wise math, losses and softmax lanes.
 *
 * The kernels are written once (vmath_impl.h) on GCC/Clang vector types and compiled
 * for each instruction set: AVX-512F (16 floats, SLEEF's *_u10avx512f), AVX2 + FMA
 * (8 floats, *_u10avx2), SSE2 (4 floats, *_u10sse2, any x86-64) -- each in a file of
 * its own compiled with that ISA's flags (vmath_avx512.c, ...; see vmath.h) -- and
 * plain C (4 floats, libm lane by lane: other CPUs, or x86-64 without SLEEF), here.
 * The rest of the library is compiled for the baseline ISA; the widest ISA the CPU has
 * is chosen at run time (nb_kernel_isa), like the GEMM micro-kernel.
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
#include "vmath.h"

/* Elements per task of an element-wise kernel. */
#define CHUNK 4096
/* A reduction is summed in at most PARTS_MAX parts of at least PART_MIN elements. */
#define PARTS_MAX 256
#define PART_MIN 4096

/* ---- plain C: libm lane by lane --------------------------------------------------------- */

#define VM_SUFFIX c
#define VW 4
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
#undef V_EXP
#undef V_LOG
#undef V_LOG1P
#undef V_EXPM1
#undef V_TANH
#undef V_SQRT
#undef V_POW
#undef V_LOGD
#undef V_ANY

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
        return nb_vmath_table_avx512();
    case NB_ISA_AVX2:
        return nb_vmath_table_avx2();
    case NB_ISA_SSE2:
        return nb_vmath_table_sse2();
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
