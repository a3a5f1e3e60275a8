/*
 * ops/kernels/gemm.c - single-precision GEMM: C = alpha * op(A) op(B) + beta * C.
 *
 * The GotoBLAS / BLIS scheme, row-major:
 *
 *   for jc in N by NC:                      B panel  KC x NC  (shared by all threads)
 *     for pc in K by KC:                    pack op(B)[pc.., jc..] into NR-wide slivers
 *       for ic in M by MC:                  A block  MC x KC  (shared by all threads)
 *         pack op(A)[ic.., pc..] into MR-tall slivers
 *         for jr in NC by NR, ir in MC by MR:      (split across threads)
 *           C[ic+ir.., jc+jr..] (MR x NR) = alpha * sliver(A) sliver(B) + beta' * C
 *
 * with beta' = beta for the first K block and 1 after it. Transposes are absorbed by
 * the packing routines, so the micro-kernel only ever sees one layout. Edge tiles are
 * packed with zeros and computed through a local MR x NR tile.
 *
 * Determinism: MC, NC, KC, MR and NR depend only on the CPU (which micro-kernel it
 * runs), never on the thread count, and each tile of C is owned by exactly one
 * thread, which sums K in the same order as any other thread would. So every thread
 * count gives the same bits.
 */
#include <assert.h>
#include <omp.h>
#include <string.h>

#include "nabla/op.h"
#include "nabla/kernels.h"
#include "nabla/parallel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Below this many multiply-adds (M*N*K) nb_kernel_gemm uses a plain loop, no packing. */
#define GEMM_SMALL 32768
/* Below this many multiply-adds the blocked path stays on one thread. */
#define GEMM_PAR_MIN (1 << 20)

/* Writes the MR x NR tile C (row stride ldc) = alpha * sum_k a[k*MR + i] b[k*ldb + j]
 * + beta * C, for k in [0, KC) in increasing order. beta == 0 does not read C. a is an
 * MR-tall packed sliver of A; b is an NR-wide packed sliver of B (ldb = NR, 64-byte
 * aligned) or B itself (its row stride, any alignment): the same arithmetic either way. */
typedef void (*gemm_kernel)(int64_t KC, const float *a, const float *b, int64_t ldb,
                            float *c, int64_t ldc, float alpha, float beta);

/* A micro-kernel and the blocking that suits it. MC is a multiple of MR, NC of NR. */
typedef struct gemm_arch {
    gemm_kernel kernel;
    void (*pack)(bool trans, const float *X, int64_t ldx, int64_t k0, int64_t j0, int64_t n,
                 int64_t KC, int64_t W, float *dst);
    int64_t MR, NR;
    int64_t MC, KC, NC;
} gemm_arch;

/* ---- micro-kernels ------------------------------------------------------------------ */

/* Portable C: 4 x 16, left to the compiler's vectorizer. */
enum { GEN_MR = 4, GEN_NR = 16 };

static void kernel_generic(int64_t KC, const float *a, const float *b, int64_t ldb, float *c,
                           int64_t ldc, float alpha, float beta)
{
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t k = 0; k < KC; k++) {
        for (int i = 0; i < GEN_MR; i++) {
            float ai = a[k * GEN_MR + i];
            for (int j = 0; j < GEN_NR; j++)
                acc[i][j] += ai * b[k * ldb + j];
        }
    }
    for (int i = 0; i < GEN_MR; i++) {
        float *ci = c + i * ldc;
        for (int j = 0; j < GEN_NR; j++)
            ci[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * ci[j];
    }
}

#if defined(__x86_64__)

/* AVX2 + FMA: 6 x 16, twelve ymm accumulators. */
enum { AVX2_MR = 6, AVX2_NR = 16 };

__attribute__((target("avx2,fma")))
static void kernel_avx2(int64_t KC, const float *a, const float *b, int64_t ldb, float *c,
                        int64_t ldc, float alpha, float beta)
{
    __m256 acc[AVX2_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < KC; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX2_MR;
        b += ldb;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++) {
        float *ci = c + i * ldc;
        __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
        }
        _mm256_storeu_ps(ci, r0);
        _mm256_storeu_ps(ci + 8, r1);
    }
}

/* AVX-512F: 12 x 32, twenty-four zmm accumulators; A is broadcast from memory. */
enum { AVX512_MR = 12, AVX512_NR = 32 };

__attribute__((target("avx512f")))
static void kernel_avx512(int64_t KC, const float *a, const float *b, int64_t ldb,
                          float *c, int64_t ldc, float alpha, float beta)
{
    __m512 acc[AVX512_MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < KC; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX512_MR;
        b += ldb;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++) {
        float *ci = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), r1);
        }
        _mm512_storeu_ps(ci, r0);
        _mm512_storeu_ps(ci + 16, r1);
    }
}

#endif /* __x86_64__ */

/* ---- packing -------------------------------------------------------------------------- */

/* Packs rows [0, KC) x columns [0, n) of op(B), starting at op(B)'s element (k0, j0),
 * into one NR-wide sliver: dst[k*NR + j] = op(B)[k0+k][j0+j], zero for j >= n.
 * An MR-tall sliver of op(A) is the same packing of op(A)^T, which is stored as A with
 * the transpose flag flipped: pack_sliver(!trans_a, A, lda, k0, i0, m, KC, MR, dst).
 * Packing only moves values, so every path gives the same packed bits. */
static void pack_sliver_generic(bool trans_b, const float *B, int64_t ldb, int64_t k0,
                                int64_t j0, int64_t n, int64_t KC, int64_t NR, float *dst)
{
    if (!trans_b) {
        for (int64_t k = 0; k < KC; k++) {
            const float *src = B + (k0 + k) * ldb + j0;
            float *d = dst + k * NR;
            int64_t j = 0;
            for (; j < n; j++)
                d[j] = src[j];
            for (; j < NR; j++)
                d[j] = 0.0f;
        }
        return;
    }
    /* op(B)[k][j] = B[j][k]: walk each row of B along k. */
    for (int64_t j = 0; j < NR; j++) {
        float *d = dst + j;
        if (j >= n) {
            for (int64_t k = 0; k < KC; k++)
                d[k * NR] = 0.0f;
            continue;
        }
        const float *src = B + (j0 + j) * ldb + k0;
        for (int64_t k = 0; k < KC; k++)
            d[k * NR] = src[k];
    }
}

#if defined(__x86_64__)

/* The 8 x 8 transpose of r[0..7] (row i holds elements (i, 0..7)) in place. */
__attribute__((target("avx2"))) static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* pack_sliver with AVX2 moves: rows of the sliver copied 8 floats at a time (B not
 * transposed), or 8 x 8 blocks of B transposed into place (B transposed). A partial
 * sliver (n < NR) or an NR that is not a multiple of 8 takes the generic path. */
__attribute__((target("avx2"))) static void pack_sliver_avx2(bool trans_b, const float *B,
                                                             int64_t ldb, int64_t k0,
                                                             int64_t j0, int64_t n,
                                                             int64_t KC, int64_t NR,
                                                             float *dst)
{
    if (n != NR || NR % 4 != 0) {
        pack_sliver_generic(trans_b, B, ldb, k0, j0, n, KC, NR, dst);
        return;
    }
    if (!trans_b) {
        for (int64_t k = 0; k < KC; k++) {
            const float *src = B + (k0 + k) * ldb + j0;
            float *d = dst + k * NR;
            int64_t j = 0;
            for (; j + 8 <= NR; j += 8)
                _mm256_storeu_ps(d + j, _mm256_loadu_ps(src + j));
            if (j < NR) /* NR % 8 == 4 */
                _mm_storeu_ps(d + j, _mm_loadu_ps(src + j));
        }
        return;
    }
    /* op(B)[k][j] = B[j0 + j][k0 + k]: 8 rows of B and 8 values of k at a time. */
    int64_t k = 0;
    for (; k + 8 <= KC; k += 8) {
        int64_t j = 0;
        for (; j + 8 <= NR; j += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(B + (j0 + j + i) * ldb + k0 + k);
            transpose8(r);
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(dst + (k + i) * NR + j, r[i]);
        }
        if (j < NR) { /* 4 more rows: two 4 x 4 transposes */
            __m128 lo[4], hi[4];
            for (int i = 0; i < 4; i++) {
                const float *src = B + (j0 + j + i) * ldb + k0 + k;
                lo[i] = _mm_loadu_ps(src);
                hi[i] = _mm_loadu_ps(src + 4);
            }
            _MM_TRANSPOSE4_PS(lo[0], lo[1], lo[2], lo[3]);
            _MM_TRANSPOSE4_PS(hi[0], hi[1], hi[2], hi[3]);
            for (int i = 0; i < 4; i++) {
                _mm_storeu_ps(dst + (k + i) * NR + j, lo[i]);
                _mm_storeu_ps(dst + (k + 4 + i) * NR + j, hi[i]);
            }
        }
    }
    for (; k < KC; k++)
        for (int64_t j = 0; j < NR; j++)
            dst[k * NR + j] = B[(j0 + j) * ldb + k0 + k];
}
#endif

/* Packs slivers [s0, s1) of a panel: sliver s holds columns [x0 + s W, x0 + s W + w) of
 * op(X) for k in [k0, k0 + KC), w = min(W, n - s W), at dst + s W KC. Without a
 * transpose op(X)'s rows are X's rows: they are read once each, left to right, and
 * spread over the slivers (one pass over memory instead of one strided pass per
 * sliver); with one, each sliver reads its own contiguous rows of X. */
static void pack_range(void (*pack)(bool, const float *, int64_t, int64_t, int64_t, int64_t,
                                    int64_t, int64_t, float *),
                       bool trans, const float *X, int64_t ld, int64_t k0, int64_t x0,
                       int64_t n, int64_t s0, int64_t s1, int64_t KC, int64_t W, float *dst)
{
    if (trans || s1 - s0 < 2) {
        for (int64_t sl = s0; sl < s1; sl++) {
            int64_t w = n - sl * W < W ? n - sl * W : W;
            pack(trans, X, ld, k0, x0 + sl * W, w, KC, W, dst + sl * W * KC);
        }
        return;
    }
    /* Full slivers row by row, then a partial last one on its own. */
    int64_t full = s1;
    if (n - (s1 - 1) * W < W)
        full = s1 - 1;
    for (int64_t k = 0; k < KC; k++) {
        const float *row = X + (k0 + k) * ld + x0;
        for (int64_t sl = s0; sl < full; sl++)
            nb_kernel_copy_short(dst + sl * W * KC + k * W, row + sl * W, W);
    }
    if (full < s1)
        pack(trans, X, ld, k0, x0 + full * W, n - full * W, KC, W, dst + full * W * KC);
}

/* The best micro-kernel this CPU runs, with its blocking: an MC x KC block of A fits
 * in L2, a KC x NR sliver of B in L1. */
static gemm_arch gemm_arch_get(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return (gemm_arch){kernel_avx512, pack_sliver_avx2, AVX512_MR, AVX512_NR, 240, 384,
                           4096};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (gemm_arch){kernel_avx2, pack_sliver_avx2, AVX2_MR, AVX2_NR, 144, 256, 4096};
#endif
    return (gemm_arch){kernel_generic, pack_sliver_generic, GEN_MR, GEN_NR, 128, 256, 4096};
}

/* ---- drivers ---------------------------------------------------------------------------- */

/* C (M x N, row stride ldc) = beta * C; beta == 0 writes zeros without reading C. */
static void gemm_scale(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *ci = C + i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++)
                ci[j] *= beta;
    }
}

/* The small-size path: one dot product per element of C, K in increasing order. */
static void gemm_small(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc)
{
    int64_t sak = trans_a ? lda : 1, sai = trans_a ? 1 : lda;
    int64_t sbk = trans_b ? 1 : ldb, sbj = trans_b ? ldb : 1;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s += A[i * sai + k * sak] * B[k * sbk + j * sbj];
            float *c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
    }
}

/* The MR x NR tile at C for a packed A sliver and B sliver, of which only m x n lies
 * inside C. Edge tiles go through a local tile so the kernel never touches memory
 * outside C, and do the same arithmetic as full tiles. */
static void gemm_tile(const gemm_arch *g, int64_t KC, const float *a, const float *b,
                      int64_t ldb, float *C, int64_t ldc, int64_t m, int64_t n, float alpha,
                      float beta)
{
    if (m == g->MR && n == g->NR) {
        g->kernel(KC, a, b, ldb, C, ldc, alpha, beta);
        return;
    }
    _Alignas(64) float tile[16 * 32];
    assert(g->MR * g->NR <= 16 * 32);
    if (beta != 0.0f)
        for (int64_t i = 0; i < m; i++)
            nb_kernel_copy_short(tile + i * g->NR, C + i * ldc, n);
    g->kernel(KC, a, b, ldb, tile, g->NR, alpha, beta);
    for (int64_t i = 0; i < m; i++)
        nb_kernel_copy_short(C + i * ldc, tile + i * g->NR, n);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* The blocked path's arguments, shared by the threads that run it. */
typedef struct gemm_job {
    const gemm_arch *g;
    bool trans_a, trans_b;
    bool direct_b; /* full slivers of B read in place, not packed (see gemm_blocked) */
    int64_t M, N, K, MC, NC, KC;
    float alpha, beta;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    float *a_pack, *b_pack;
} gemm_job;

/* [*lo, *hi): the iterations of [0, n) that schedule(static) gives thread tid of nth. */
static void static_range(int64_t n, int tid, int nth, int64_t *lo, int64_t *hi)
{
    int64_t q = n / nth, r = n % nth;
    if (tid < r) {
        q++;
        r = 0;
    }
    *lo = q * tid + r;
    *hi = *lo + q;
}

/* Waits for the other threads of the team when there are any (nth > 1). */
static void gemm_barrier(int nth)
{
    if (nth > 1) {
#pragma omp barrier
    }
}

/* The blocked loops, as run by thread tid of nth: each thread walks the jc / pc / ic
 * blocks and takes its static share of every packing and tile loop, with a barrier
 * after each. nth == 1 runs everything on the calling thread, no OpenMP involved.
 *
 * With direct_b (B not transposed, all of M in one block of A), each element of B is
 * used by only a few A slivers, so packing it would cost about as much as the products:
 * the kernel reads full slivers from B in place (row stride ldb), and only a partial
 * last sliver is packed (with its zeros). The arithmetic is the same either way. */
static void gemm_blocked(const gemm_job *j, int tid, int nth)
{
    const int64_t MR = j->g->MR, NR = j->g->NR, M = j->M, N = j->N, K = j->K;
    int64_t lo, hi;
    for (int64_t jc = 0; jc < N; jc += j->NC) {
        const int64_t nc = min64(j->NC, N - jc);
        const int64_t n_js = (nc + NR - 1) / NR, n_full = nc / NR;
        for (int64_t pc = 0; pc < K; pc += j->KC) {
            const int64_t kc = min64(j->KC, K - pc);
            const float beta_p = pc == 0 ? j->beta : 1.0f;
            if (!j->direct_b) {
                static_range(n_js, tid, nth, &lo, &hi);
                pack_range(j->g->pack, j->trans_b, j->B, j->ldb, pc, jc, nc, lo, hi, kc, NR,
                           j->b_pack);
            } else if (n_full < n_js && tid == nth - 1) {
                pack_range(j->g->pack, false, j->B, j->ldb, pc, jc, nc, n_full, n_js, kc, NR,
                           j->b_pack);
            }
            gemm_barrier(nth);
            for (int64_t ic = 0; ic < M; ic += j->MC) {
                const int64_t mc = min64(j->MC, M - ic);
                const int64_t n_is = (mc + MR - 1) / MR;
                static_range(n_is, tid, nth, &lo, &hi);
                pack_range(j->g->pack, !j->trans_a, j->A, j->lda, pc, ic, mc, lo, hi, kc, MR,
                           j->a_pack);
                gemm_barrier(nth);
                /* The (js, is) tiles in the order of collapse(2). */
                static_range(n_js * n_is, tid, nth, &lo, &hi);
                for (int64_t t = lo; t < hi; t++) {
                    int64_t js = t / n_is, is = t % n_is;
                    int64_t i = ic + is * MR, jj = jc + js * NR;
                    const bool in_place = j->direct_b && js < n_full;
                    const float *b = in_place ? j->B + pc * j->ldb + jj
                                              : j->b_pack + js * NR * kc;
                    gemm_tile(j->g, kc, j->a_pack + is * MR * kc, b, in_place ? j->ldb : NR,
                              j->C + i * j->ldc + jj, j->ldc, min64(MR, M - i),
                              min64(NR, N - jj), j->alpha, beta_p);
                }
                gemm_barrier(nth);
            }
        }
    }
}

/* ---- thin products: N <= THIN_N ---------------------------------------------------------
 *
 * A product with a few columns (a layer with 1 or 10 outputs, a GEMV) would waste most of
 * an NR-wide tile. Here every element of C is one fixed-order sum instead:
 *   - op(A) = A (rows contiguous in k): op(B)^T is copied to Bt [N, K], and C[i][j] is a
 *     dot product of A's row i and Bt's row j, accumulated in 16 lanes (lane k mod 16)
 *     folded in a fixed tree;
 *   - op(A) = A^T (A is K x M): C[i][j] for 64 consecutive i at a time, adding
 *     A[k][i] op(B)[k][j] for k = 0, 1, ... in order.
 * Rows of C are split across threads in fixed blocks; each element's order never
 * depends on the thread count. target_clones picks AVX-512, AVX2 or plain code at load
 * time. */
#define THIN_N 16
#define THIN_LANES 16
#define THIN_ROWS 64

/* Folds 16 lanes in a fixed tree. */
static inline float fold16(const float *l)
{
    float a[8];
    for (int i = 0; i < 8; i++)
        a[i] = l[i] + l[i + 8];
    for (int i = 0; i < 4; i++)
        a[i] += a[i + 4];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define THIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define THIN_CLONES
#endif

/* C rows [i0, i1), op(A) = A. */
THIN_CLONES static void thin_rows_nt(int64_t i0, int64_t i1, int64_t N, int64_t K, float alpha,
                                     const float *A, int64_t lda, const float *Bt, float beta,
                                     float *C, int64_t ldc)
{
    const int64_t K16 = K / THIN_LANES * THIN_LANES;
    for (int64_t i = i0; i < i1; i++) {
        const float *a = A + i * lda;
        for (int64_t j = 0; j < N; j++) {
            const float *b = Bt + j * K;
            float lane[THIN_LANES] = {0};
            for (int64_t k = 0; k < K16; k += THIN_LANES)
                for (int l = 0; l < THIN_LANES; l++)
                    lane[l] += a[k + l] * b[k + l];
            for (int64_t k = K16; k < K; k++)
                lane[k - K16] += a[k] * b[k];
            float v = alpha * fold16(lane), *c = C + i * ldc + j;
            *c = beta == 0.0f ? v : v + beta * *c;
        }
    }
}

/* acc[j][0..THIN_ROWS) += a[0..THIN_ROWS) * b[j] for j < N: the full-width step of
 * thin_rows_t, a constant trip count so that it vectorises. */
THIN_CLONES static void thin_axpy_full(int64_t N, const float *restrict a,
                                       const float *restrict b, float (*restrict acc)[THIN_ROWS])
{
    for (int64_t j = 0; j < N; j++) {
        const float bj = b[j];
        for (int l = 0; l < THIN_ROWS; l++)
            acc[j][l] += a[l] * bj;
    }
}

/* C rows [i0, i1) (at most THIN_ROWS), op(A) = A^T with A stored K x M. */
THIN_CLONES static void thin_rows_t(int64_t i0, int64_t i1, int64_t N, int64_t K, float alpha,
                                    const float *A, int64_t lda, bool trans_b, const float *B,
                                    int64_t ldb, float beta, float *C, int64_t ldc)
{
    const int64_t w = i1 - i0;
    float acc[THIN_N][THIN_ROWS] = {{0}};
    float b[THIN_N];
    for (int64_t k = 0; k < K; k++) {
        const float *a = A + k * lda + i0;
        for (int64_t j = 0; j < N; j++)
            b[j] = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        if (w == THIN_ROWS) {
            thin_axpy_full(N, a, b, acc);
        } else {
            for (int64_t j = 0; j < N; j++)
                for (int64_t l = 0; l < w; l++)
                    acc[j][l] += a[l] * b[j];
        }
    }
    for (int64_t l = 0; l < w; l++)
        for (int64_t j = 0; j < N; j++) {
            float v = alpha * acc[j][l], *c = C + (i0 + l) * ldc + j;
            *c = beta == 0.0f ? v : v + beta * *c;
        }
}

/* Floats of workspace gemm_thin needs (op(B)^T when op(A) = A), rounded up to 16. */
static int64_t thin_work(bool trans_a, int64_t N, int64_t K)
{
    return trans_a ? 0 : round_up(N * K, 16);
}

static void gemm_thin(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc, bool parallel, float *Bt)
{
    const int64_t blocks = (M + THIN_ROWS - 1) / THIN_ROWS;
    if (trans_a) {
        NB_PARALLEL_FOR_IF(parallel && blocks > 1, t, blocks, {
            int64_t i0 = t * THIN_ROWS, i1 = i0 + THIN_ROWS < M ? i0 + THIN_ROWS : M;
            thin_rows_t(i0, i1, N, K, alpha, A, lda, trans_b, B, ldb, beta, C, ldc);
        });
        return;
    }
    for (int64_t j = 0; j < N; j++)
        for (int64_t k = 0; k < K; k++)
            Bt[j * K + k] = trans_b ? B[j * ldb + k] : B[k * ldb + j];
    NB_PARALLEL_FOR_IF(parallel && blocks > 1, t, blocks, {
        int64_t i0 = t * THIN_ROWS, i1 = i0 + THIN_ROWS < M ? i0 + THIN_ROWS : M;
        thin_rows_nt(i0, i1, N, K, alpha, A, lda, Bt, beta, C, ldc);
    });
}

/* The path a product takes; it depends on the sizes only, so the serial entry point
 * (nb_kernel_gemm_on) and the threaded one give the same bits. */
typedef enum gemm_path { PATH_NONE, PATH_SCALE, PATH_SMALL, PATH_THIN, PATH_BLOCKED } gemm_path;

static gemm_path gemm_path_of(int64_t M, int64_t N, int64_t K, float alpha)
{
    if (M == 0 || N == 0)
        return PATH_NONE;
    if (K == 0 || alpha == 0.0f)
        return PATH_SCALE;
    if ((double)M * (double)N * (double)K <= GEMM_SMALL) /* double: no int64 overflow */
        return PATH_SMALL;
    return N <= THIN_N ? PATH_THIN : PATH_BLOCKED;
}

/* The blocking of the blocked path for these sizes. */
static void gemm_blocking(const gemm_arch *g, int64_t M, int64_t N, int64_t K, int64_t *MC,
                          int64_t *NC, int64_t *KC)
{
    *MC = min64(g->MC, round_up(M, g->MR));
    *NC = min64(g->NC, round_up(N, g->NR));
    *KC = min64(g->KC, K);
}

static nb_status gemm_check(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const float *A, int64_t lda, const float *B,
                            int64_t ldb, const float *C, int64_t ldc)
{
    if (M < 0 || N < 0 || K < 0 || ldc < N || lda < (trans_a ? M : K) ||
        ldb < (trans_b ? K : N) || ((!A || !B) && K > 0 && alpha != 0.0f) ||
        (!C && M > 0 && N > 0))
        return nb_set_error(NB_ERR_ARG,
                            "gemm: bad arguments: M=%lld N=%lld K=%lld lda=%lld ldb=%lld "
                            "ldc=%lld (trans_a=%d, trans_b=%d), or a NULL matrix",
                            (long long)M, (long long)N, (long long)K, (long long)lda,
                            (long long)ldb, (long long)ldc, trans_a, trans_b);
    return NB_OK;
}

/* Runs the product on a checked argument list with the workspace `work` (at least
 * gemm_work_floats floats, 64-byte aligned), on the threads if `parallel`. */
static void gemm_run(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc, bool parallel, float *work)
{
    switch (gemm_path_of(M, N, K, alpha)) {
    case PATH_NONE:
        return;
    case PATH_SCALE:
        gemm_scale(M, N, beta, C, ldc);
        return;
    case PATH_SMALL:
        gemm_small(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    case PATH_THIN:
        gemm_thin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel,
                  work);
        return;
    case PATH_BLOCKED:
        break;
    }
    const gemm_arch g = gemm_arch_get();
    int64_t MC, NC, KC;
    gemm_blocking(&g, M, N, K, &MC, &NC, &KC);
    gemm_job job = {&g, trans_a, trans_b, !trans_b && M <= g.MC, M, N, K, MC, NC, KC,
                    alpha, beta, A, lda, B, ldb, C, ldc, work, work + round_up(MC * KC, 16)};
    if (parallel) {
#pragma omp parallel
        gemm_blocked(&job, omp_get_thread_num(), omp_get_num_threads());
    } else {
        gemm_blocked(&job, 0, 1);
    }
}

int64_t nb_kernel_gemm_work(int64_t M, int64_t N, int64_t K, bool trans_a)
{
    if (M < 0 || N < 0 || K < 0)
        return 0;
    switch (gemm_path_of(M, N, K, 1.0f)) {
    case PATH_THIN:
        return thin_work(trans_a, N, K);
    case PATH_BLOCKED: {
        const gemm_arch g = gemm_arch_get();
        int64_t MC, NC, KC;
        gemm_blocking(&g, M, N, K, &MC, &NC, &KC);
        return round_up(MC * KC, 16) + round_up(NC * KC, 16);
    }
    default:
        return 0;
    }
}

/*
 * C = alpha * op(A) op(B) + beta * C; see nabla/kernels.h for the contract. op(A) is
 * M x K, op(B) is K x N, C is M x N, all row-major with the given row strides.
 * alpha == 0 or K == 0 give C = beta * C without reading A or B. Packing space comes
 * from step memory, so it must not run on several threads at once; inside someone
 * else's parallel region it runs on one thread.
 */
nb_status nb_kernel_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc)
{
    nb_status s = gemm_check(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
    if (s != NB_OK)
        return s;
    const int64_t nw = alpha == 0.0f ? 0 : nb_kernel_gemm_work(M, N, K, trans_a);
    nb_step_mark mark = nb_step_mark_get();
    float *work = NULL;
    if (nw > 0 && !(work = nb_step_alloc((size_t)nw * sizeof(float)))) {
        nb_step_rewind(mark);
        return NB_ERR_NOMEM;
    }
    const bool parallel = (double)M * (double)N * (double)K >= GEMM_PAR_MIN &&
                          nb_threads_available();
    gemm_run(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel, work);
    nb_step_rewind(mark);
    return NB_OK;
}

nb_status nb_kernel_gemm_on(float *work, bool trans_a, bool trans_b, int64_t M, int64_t N,
                            int64_t K, float alpha, const float *A, int64_t lda,
                            const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    nb_status s = gemm_check(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
    if (s != NB_OK)
        return s;
    if (!work && alpha != 0.0f && nb_kernel_gemm_work(M, N, K, trans_a) > 0)
        return nb_set_error(NB_ERR_ARG, "gemm: a %lldx%lldx%lld product needs a workspace "
                            "of nb_kernel_gemm_work floats, got NULL", (long long)M,
                            (long long)N, (long long)K);
    gemm_run(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false, work);
    return NB_OK;
}

/*
 * The plain triple loop with nb_kernel_gemm's contract, each element accumulated in double in
 * increasing K. Single-threaded; no memory of its own.
 */
void nb_kernel_gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = trans_a ? A[k * lda + i] : A[i * lda + k];
                double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            float *c = C + i * ldc + j;
            *c = beta == 0.0f ? (float)(alpha * s) : (float)(alpha * s + (double)beta * *c);
        }
    }
}
