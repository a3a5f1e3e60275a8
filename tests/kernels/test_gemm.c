/*
 * gemm: nb_kernel_gemm and nb_kernel_gemm_ref against a naive loop in double, over all four transpose
 * combinations, odd sizes (edge tiles and several cache blocks), padded row strides,
 * alpha/beta variants and K = 0; plus bit-identical results for 1 and 2 threads and
 * NB_ERR_NOMEM when packing space cannot be had.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(gemm);

/* Written into the padding of every row: a kernel that reads it is far off, and a
 * kernel that writes C's padding is caught. */
#define PAD_VALUE 1.0e6f

/* A rows x cols matrix with row stride ld = cols + pad (at least one float, so that
 * malloc never sees 0), values uniform in [-1, 1), padding PAD_VALUE. */
static float *rand_matrix(int64_t rows, int64_t cols, int64_t ld, uint64_t seed)
{
    size_t n = (size_t)(rows * ld) + 1;
    float *x = malloc(n * sizeof(float));
    cr_assert_not_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = PAD_VALUE;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            x[r * ld + c] = 2.0f * nb_rng_uniform(seed, (uint64_t)(r * cols + c)) - 1.0f;
    return x;
}

/* Runs nb_kernel_gemm (or nb_kernel_gemm_ref) once and checks every element of C against
 *     want = alpha * sum_k op(A)[i][k] op(B)[k][j] + beta * C0[i][j]
 * computed in double, within (K + 2) * FLT_EPSILON * (|alpha| sum_k |a b| + |beta C0|),
 * a bound that holds for any summation order. With beta == 0, C starts as NaN and must
 * come out finite. C's padding must be left alone. */
static void check_gemm(bool use_ref, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                       float alpha, float beta, int64_t pad)
{
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = rand_matrix(ta ? K : M, ta ? M : K, lda, 11);
    float *B = rand_matrix(tb ? N : K, tb ? K : N, ldb, 22);
    float *C = rand_matrix(M, N, ldc, 33);
    float *C0 = malloc((size_t)(M * ldc + 1) * sizeof(float));
    cr_assert_not_null(C0);
    if (beta == 0.0f)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[i * ldc + j] = NAN;
    memcpy(C0, C, (size_t)(M * ldc + 1) * sizeof(float));

    if (use_ref) {
        nb_kernel_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        nb_status s = nb_kernel_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        cr_assert_eq(s, NB_OK, "%s", nb_error());
    }

    const char *who = use_ref ? "nb_kernel_gemm_ref" : "nb_kernel_gemm";
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0, mag = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double want = alpha * s, c0 = C0[i * ldc + j];
            mag = fabs(alpha) * mag;
            if (beta != 0.0f) {
                want += beta * c0;
                mag += fabs(beta * c0);
            }
            double got = C[i * ldc + j];
            double tol = (double)(K + 2) * FLT_EPSILON * mag + 1e-30;
            cr_assert(isfinite(got) && fabs(got - want) <= tol,
                      "%s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld: "
                      "C[%lld][%lld] = %.9g, want %.9g (tol %.3g)",
                      who, ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta,
                      (long long)pad, (long long)i, (long long)j, got, want, tol);
        }
        for (int64_t j = N; j < ldc; j++)
            cr_assert_eq(C[i * ldc + j], PAD_VALUE, "%s wrote C's padding at [%lld][%lld]",
                         who, (long long)i, (long long)j);
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

static const int64_t small_sizes[] = {1, 3, 17, 33, 100};
#define N_SMALL (int64_t)(sizeof small_sizes / sizeof small_sizes[0])

/* Every (M, N, K) from small_sizes, both trans flags, with padded strides; alpha and
 * beta cycle through 1/0, -0.5/1, 2/0.25. */
static void check_grid(bool use_ref, bool ta, bool tb)
{
    static const float alphas[] = {1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, 0.25f};
    int v = 0;
    for (int64_t a = 0; a < N_SMALL; a++)
        for (int64_t b = 0; b < N_SMALL; b++)
            for (int64_t c = 0; c < N_SMALL; c++, v++)
                check_gemm(use_ref, ta, tb, small_sizes[a], small_sizes[b], small_sizes[c],
                           alphas[v % 3], betas[v % 3], v % 2 ? 7 : 0);
}

Test(gemm, grid_nn) { check_grid(false, false, false); }
Test(gemm, grid_nt) { check_grid(false, false, true); }
Test(gemm, grid_tn) { check_grid(false, true, false); }
Test(gemm, grid_tt) { check_grid(false, true, true); }

/* 257 and K past several K blocks, M past several M blocks, N past the N block. */
Test(gemm, large_and_blocked)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        check_gemm(false, ta, tb, 257, 257, 257, 1.0f, 0.0f, 0);
        check_gemm(false, ta, tb, 257, 100, 33, -1.5f, 0.5f, 5);
        check_gemm(false, ta, tb, 33, 257, 900, 1.0f, t % 2 ? 0.0f : 0.5f, 3);
        check_gemm(false, ta, tb, 500, 40, 17, 0.5f, 0.0f, 1);
    }
    check_gemm(false, false, false, 13, 4200, 20, 1.0f, 1.0f, 9);
    check_gemm(false, true, true, 13, 4200, 20, 1.0f, 0.0f, 0);
}

/* Thin products (N <= 16: one fixed-order sum per element of C) on every layout, with
 * odd sizes, strides and a K that is not a multiple of 16. */
Test(gemm, thin_columns)
{
    static const int64_t Ns[] = {1, 2, 10, 16, 17};
    for (int t = 0; t < 4; t++)
        for (size_t n = 0; n < sizeof Ns / sizeof Ns[0]; n++) {
            check_gemm(false, t & 1, t & 2, 701, Ns[n], 301, 1.0f, 0.0f, t);
            check_gemm(false, t & 1, t & 2, 65, Ns[n], 1030, -0.5f, 0.5f, 3);
        }
}

Test(gemm, ref_grid)
{
    for (int t = 0; t < 4; t++)
        check_grid(true, t & 1, t & 2);
    check_gemm(true, true, false, 257, 33, 100, 1.0f, 0.5f, 2);
}

/* K = 0: C = beta * C, and beta == 0 clears NaN. M or N = 0 touches nothing. */
Test(gemm, empty_k)
{
    float C[6] = {1, 2, 3, 4, 5, 6};
    float A[1] = {NAN}, B[1] = {NAN};
    cr_assert_eq(nb_kernel_gemm(false, false, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3), NB_OK);
    const double half[] = {0.5, 1, 1.5, 2, 2.5, 3};
    assert_close(C, half, 6, 0, 0, "K=0 beta=0.5");
    for (int i = 0; i < 6; i++)
        C[i] = NAN;
    cr_assert_eq(nb_kernel_gemm(true, true, 2, 3, 0, 1.0f, A, 2, B, 1, 0.0f, C, 3), NB_OK);
    const double zero[6] = {0};
    assert_close(C, zero, 6, 0, 0, "K=0 beta=0");
    cr_assert_eq(nb_kernel_gemm(false, false, 0, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3), NB_OK);
    cr_assert_eq(nb_kernel_gemm(false, false, 2, 0, 4, 1.0f, A, 4, B, 0, 0.0f, C, 0), NB_OK);
    assert_close(C, zero, 6, 0, 0, "M=0 / N=0 left C alone");
    for (int i = 0; i < 6; i++)
        C[i] = NAN;
    nb_kernel_gemm_ref(false, false, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3);
    assert_close(C, zero, 6, 0, 0, "ref K=0 beta=0");
}

/* One GEMM per thread count; the bits of C must not depend on it. */
static void check_threads_bitwise_shape(bool ta, bool tb, float beta, int64_t M, int64_t N,
                                        int64_t K)
{
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    float *A = rand_matrix(ta ? K : M, lda, lda, 1);
    float *B = rand_matrix(tb ? N : K, ldb, ldb, 2);
    float *C1 = rand_matrix(M, N, N, 3);
    float *C2 = rand_matrix(M, N, N, 3);
    int saved = nb_num_threads();
    cr_assert_eq(nb_set_num_threads(1), NB_OK);
    cr_assert_eq(nb_kernel_gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C1, N), NB_OK);
    cr_assert_eq(nb_set_num_threads(2), NB_OK);
    cr_assert_eq(nb_kernel_gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C2, N), NB_OK);
    nb_set_num_threads(saved);
    cr_assert(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)) == 0,
              "ta=%d tb=%d: 1 and 2 threads differ", ta, tb);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

static void check_threads_bitwise(bool ta, bool tb, float beta)
{
    check_threads_bitwise_shape(ta, tb, beta, 300, 200, 150);
}

Test(gemm, threads_bitwise)
{
    check_threads_bitwise(false, false, 0.0f);
    check_threads_bitwise(true, true, 1.0f);
    /* The thin path, parallel over blocks of rows. */
    for (int t = 0; t < 4; t++) {
        check_threads_bitwise_shape(t & 1, t & 2, 0.0f, 3000, 1, 700);
        check_threads_bitwise_shape(t & 1, t & 2, 0.5f, 2100, 10, 333);
    }
}

/* An allocator that always fails, so nb_kernel_gemm cannot get packing space. */
static void *failing_alloc(size_t size, size_t align, void *ud)
{
    (void)size, (void)align, (void)ud;
    return NULL;
}

static void plain_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

Test(gemm, nomem)
{
    const int64_t n = 64;
    float *A = rand_matrix(n, n, n, 1), *B = rand_matrix(n, n, n, 2);
    float *C = rand_matrix(n, n, n, 3), *C0 = rand_matrix(n, n, n, 3);
    nb_set_allocator(&(nb_allocator){failing_alloc, plain_free, NULL});
    nb_status s = nb_kernel_gemm(false, false, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    nb_set_allocator(NULL);
    cr_assert_eq(s, NB_ERR_NOMEM);
    cr_assert_eq(nb_error_code(), NB_ERR_NOMEM);
    cr_assert(memcmp(C, C0, (size_t)(n * n) * sizeof(float)) == 0, "C changed on failure");
    free(A);
    free(B);
    free(C);
    free(C0);
}

Test(gemm, bad_arguments_are_errors)
{
    float a[4] = {0}, b[4] = {0}, c[4] = {0};
    cr_assert_eq(nb_kernel_gemm(false, false, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "gemm: bad arguments: M=-1"), "%s", nb_error());
    cr_assert_eq(nb_kernel_gemm(false, false, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), NB_ERR_ARG);
    cr_assert_eq(nb_kernel_gemm(true, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 1), NB_ERR_ARG);
    cr_assert_eq(nb_kernel_gemm(false, false, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2), NB_ERR_ARG);
    cr_assert_eq(nb_kernel_gemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2), NB_ERR_ARG);
}

/* nb_kernel_gemm_on, the serial entry point on the caller's workspace, gives the bits of
 * nb_kernel_gemm (on 2 threads) on every path: small, thin (both layouts of A), blocked
 * with edge tiles and several K blocks; the workspace it asks for is enough (its
 * neighbours are guarded), and a missing one is an error. */
Test(gemm, on_caller_workspace_matches)
{
    const int64_t shapes[][3] = {{5, 7, 3}, {300, 10, 333}, {3000, 1, 70}, {61, 45, 700},
                                 {130, 200, 97}, {12, 32, 9}};
    int prev = nb_num_threads();
    cr_assert_eq(nb_set_num_threads(2), NB_OK);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int t = 0; t < 4; t++) {
            const bool ta = t & 1, tb = t & 2;
            const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = rand_matrix(ta ? K : M, ta ? M : K, ta ? M : K, 5);
            float *B = rand_matrix(tb ? N : K, tb ? K : N, tb ? K : N, 6);
            float *C1 = rand_matrix(M, N, N, 7), *C2 = rand_matrix(M, N, N, 7);
            const int64_t nw = nb_kernel_gemm_work(M, N, K, ta);
            cr_assert_geq(nw, 0);
            float *work = aligned_alloc(64, (size_t)(nw + 32) * sizeof(float));
            cr_assert_not_null(work);
            for (int64_t i = 0; i < nw + 32; i++)
                work[i] = PAD_VALUE;
            cr_assert_eq(nb_kernel_gemm(ta, tb, M, N, K, 0.75f, A, ta ? M : K, B,
                                        tb ? K : N, 0.5f, C1, N), NB_OK, "%s", nb_error());
            cr_assert_eq(nb_kernel_gemm_on(nw ? work : NULL, ta, tb, M, N, K, 0.75f, A,
                                           ta ? M : K, B, tb ? K : N, 0.5f, C2, N), NB_OK,
                         "%s", nb_error());
            cr_assert_eq(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)), 0,
                         "%lldx%lldx%lld (trans %d %d): the serial product differs",
                         (long long)M, (long long)N, (long long)K, ta, tb);
            for (int64_t i = nw; i < nw + 32; i++)
                cr_assert_eq(work[i], PAD_VALUE, "wrote past its workspace of %lld floats",
                             (long long)nw);
            if (nw > 0) {
                nb_error_clear();
                cr_assert_eq(nb_kernel_gemm_on(NULL, ta, tb, M, N, K, 1.0f, A, ta ? M : K, B,
                                               tb ? K : N, 0.0f, C2, N), NB_ERR_ARG);
                cr_assert(strstr(nb_error(), "needs a workspace"), "%s", nb_error());
            }
            free(work);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
    cr_assert_eq(nb_kernel_gemm_work(-1, 2, 2, false), 0);
    nb_set_num_threads(prev);
}
