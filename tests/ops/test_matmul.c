/* matmul: forward and gradients against triple loops in double, and by finite differences. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(matmul);

static nb_tensor *f_matmul(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_matmul(in[0], in[1]);
}

/* The operands' sizes: a 2-D operand has batch 1 and is used by every batch. */
typedef struct mm_dims {
    int64_t Bt, M, K, N, a_step, b_step;
} mm_dims;

static mm_dims dims_of(const nb_tensor *a, const nb_tensor *b)
{
    mm_dims d = {.M = a->shape[a->ndim - 2], .K = a->shape[a->ndim - 1],
                 .N = b->shape[b->ndim - 1]};
    d.Bt = a->ndim == 3 ? a->shape[0] : b->ndim == 3 ? b->shape[0] : 1;
    d.a_step = a->ndim == 3 ? d.M * d.K : 0;
    d.b_step = b->ndim == 3 ? d.K * d.N : 0;
    return d;
}

/* c[b,m,n] = sum_k a[b,m,k] b[b,k,n]. */
static void ref_matmul(const nb_tensor *a, const nb_tensor *b, double *c)
{
    mm_dims d = dims_of(a, b);
    for (int64_t t = 0; t < d.Bt; t++)
        for (int64_t m = 0; m < d.M; m++)
            for (int64_t n = 0; n < d.N; n++) {
                double s = 0;
                for (int64_t k = 0; k < d.K; k++)
                    s += (double)a->data[t * d.a_step + m * d.K + k] *
                         b->data[t * d.b_step + k * d.N + n];
                c[(t * d.M + m) * d.N + n] = s;
            }
}

/* da[b,m,k] += sum_n dc[b,m,n] b[b,k,n];  db[b,k,n] += sum_m a[b,m,k] dc[b,m,n]
 * (summed over the batch into a shared 2-D operand's gradient). */
static void ref_matmul_grads(const nb_tensor *a, const nb_tensor *b, const float *dc,
                             double *da, double *db)
{
    mm_dims d = dims_of(a, b);
    memset(da, 0, (size_t)a->size * sizeof *da);
    memset(db, 0, (size_t)b->size * sizeof *db);
    for (int64_t t = 0; t < d.Bt; t++)
        for (int64_t m = 0; m < d.M; m++)
            for (int64_t n = 0; n < d.N; n++) {
                double g = dc[(t * d.M + m) * d.N + n];
                for (int64_t k = 0; k < d.K; k++) {
                    da[t * d.a_step + m * d.K + k] += g * b->data[t * d.b_step + k * d.N + n];
                    db[t * d.b_step + k * d.N + n] += g * a->data[t * d.a_step + m * d.K + k];
                }
            }
}

/* Checks nb_matmul(a, b) of the given shapes against ref_matmul. */
static void check_forward(int na, const int64_t *sa, int nb, const int64_t *sb, uint64_t seed)
{
    nb_tensor *a = rand_tensor(na, sa, -1, 1, seed, false);
    nb_tensor *b = rand_tensor(nb, sb, -1, 1, seed + 1, false);
    nb_tensor *c = nb_matmul(a, b);
    cr_assert_not_null(c, "%s", nb_error());
    mm_dims d = dims_of(a, b);
    bool batched = na == 3 || nb == 3;
    cr_assert_eq(c->ndim, batched ? 3 : 2);
    if (batched)
        cr_assert_eq(c->shape[0], d.Bt);
    cr_assert(c->shape[c->ndim - 2] == d.M && c->shape[c->ndim - 1] == d.N);
    double *want = malloc((size_t)c->size * sizeof *want);
    ref_matmul(a, b, want);
    assert_close(c->data, want, c->size, 1e-5, 1e-5, "matmul");
    free(want);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(matmul, forward)
{
    check_forward(NB_SHAPE(1, 1), NB_SHAPE(1, 1), 1);
    check_forward(NB_SHAPE(3, 17), NB_SHAPE(17, 1), 3);
    check_forward(NB_SHAPE(4, 3), NB_SHAPE(3, 5), 5);
    check_forward(NB_SHAPE(2, 3, 4), NB_SHAPE(2, 4, 5), 7);
    check_forward(NB_SHAPE(2, 3, 4), NB_SHAPE(4, 5), 9);
    check_forward(NB_SHAPE(3, 4), NB_SHAPE(2, 4, 5), 11);
    check_forward(NB_SHAPE(1, 1, 7), NB_SHAPE(1, 7, 1), 13);

    /* By hand: [[1,2],[3,4]] @ [[5,6],[7,8]]. */
    nb_tensor *a = nb_tensor_from(NB_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    nb_tensor *b = nb_tensor_from(NB_SHAPE(2, 2), (float[]){5, 6, 7, 8});
    const double want[] = {19, 22, 43, 50};
    assert_close(nb_matmul(a, b)->data, want, 4, 0, 0, "2x2");
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(matmul, forward_empty)
{
    /* K = 0 gives zeros; M = 0 or B = 0 gives an empty result. */
    check_forward(NB_SHAPE(2, 0), NB_SHAPE(0, 3), 20);
    check_forward(NB_SHAPE(2, 3, 0), NB_SHAPE(0, 4), 22);
    check_forward(NB_SHAPE(0, 3), NB_SHAPE(3, 2), 24);
    check_forward(NB_SHAPE(0, 2, 3), NB_SHAPE(0, 3, 2), 26);
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(2, 0));
    nb_tensor *b = nb_tensor_zeros(NB_SHAPE(0, 3));
    nb_tensor *c = nb_matmul(a, b);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(c->data[i], 0.0f);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(matmul, forward_large)
{
    /* Large enough for nb_kernel_gemm's blocked, parallel path, in every batch layout. */
    check_forward(NB_SHAPE(2, 130, 70), NB_SHAPE(70, 90), 30);
    check_forward(NB_SHAPE(3, 70, 50), NB_SHAPE(3, 50, 60), 32);
    check_forward(NB_SHAPE(64, 70), NB_SHAPE(2, 70, 90), 34);
    check_forward(NB_SHAPE(300, 257), NB_SHAPE(257, 33), 36);
}

Test(matmul, gradient)
{
    const struct {
        int na, nb;
        int64_t sa[3], sb[3];
    } cases[] = {
        {2, 2, {1, 1}, {1, 1}},       {2, 2, {3, 17}, {17, 1}},    {2, 2, {4, 3}, {3, 5}},
        {3, 3, {2, 3, 4}, {2, 4, 5}}, {3, 2, {2, 3, 4}, {4, 5}},   {2, 3, {3, 4}, {2, 4, 5}},
        {3, 3, {1, 1, 3}, {1, 3, 1}}, {3, 2, {3, 1, 17}, {17, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int mask = 1; mask < 4; mask++) { /* a alone, b alone, both */
            bool ga = mask & 1, gb = mask & 2;
            nb_tensor *in[2] = {rand_tensor(cases[c].na, cases[c].sa, -1, 1, 40 + c, ga),
                                rand_tensor(cases[c].nb, cases[c].sb, -1, 1, 50 + c, gb)};
            assert_gradcheck(f_matmul, in, 2, NULL, NULL, "matmul");
            nb_tensor_free(in[0]);
            nb_tensor_free(in[1]);
        }
}

/* Backward of nb_matmul of the given shapes against ref_matmul_grads. */
static void check_backward(int na, const int64_t *sa, int nb, const int64_t *sb, uint64_t seed)
{
    nb_tensor *a = rand_tensor(na, sa, -1, 1, seed, true);
    nb_tensor *b = rand_tensor(nb, sb, -1, 1, seed + 1, true);
    nb_tensor *c = nb_matmul(a, b);
    cr_assert_not_null(c, "%s", nb_error());
    nb_tensor *dc = rand_tensor(c->ndim, c->shape, -1, 1, seed + 2, false);
    cr_assert_eq(nb_backward_seed(c, dc), NB_OK, "%s", nb_error());
    double *da = malloc((size_t)a->size * sizeof *da);
    double *db = malloc((size_t)b->size * sizeof *db);
    ref_matmul_grads(a, b, dc->data, da, db);
    assert_close(a->grad->data, da, a->size, 1e-4, 1e-5, "da");
    assert_close(b->grad->data, db, b->size, 1e-4, 1e-5, "db");
    free(da);
    free(db);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(dc);
}

Test(matmul, gradient_large)
{
    check_backward(NB_SHAPE(2, 130, 70), NB_SHAPE(70, 90), 60);
    check_backward(NB_SHAPE(3, 70, 50), NB_SHAPE(3, 50, 60), 63);
    check_backward(NB_SHAPE(64, 70), NB_SHAPE(2, 70, 90), 66);
}

Test(matmul, same_bits_for_any_thread_count)
{
    const int64_t sa[2][3] = {{2, 130, 70}, {130, 70}}, sb[2][3] = {{70, 90}, {2, 70, 90}};
    const int na[2] = {3, 2}, nb[2] = {2, 3};
    int threads = nb_num_threads();
    for (int c = 0; c < 2; c++) {
        nb_tensor *a = rand_tensor(na[c], sa[c], -1, 1, 70, true);
        nb_tensor *b = rand_tensor(nb[c], sb[c], -1, 1, 71, true);
        nb_tensor *dc = rand_tensor(NB_SHAPE(2, 130, 90), -1, 1, 72, false);
        float *got[2][3];
        for (int t = 0; t < 2; t++) {
            nb_set_num_threads(t + 1);
            nb_tensor_zero_grad(a);
            nb_tensor_zero_grad(b);
            nb_tensor *y = nb_matmul(a, b);
            cr_assert_eq(nb_backward_seed(y, dc), NB_OK, "%s", nb_error());
            got[t][0] = malloc((size_t)y->size * sizeof(float));
            got[t][1] = malloc((size_t)a->size * sizeof(float));
            got[t][2] = malloc((size_t)b->size * sizeof(float));
            memcpy(got[t][0], y->data, (size_t)y->size * sizeof(float));
            memcpy(got[t][1], a->grad->data, (size_t)a->size * sizeof(float));
            memcpy(got[t][2], b->grad->data, (size_t)b->size * sizeof(float));
        }
        nb_set_num_threads(threads);
        cr_assert_eq(memcmp(got[0][0], got[1][0], (size_t)dc->size * sizeof(float)), 0);
        cr_assert_eq(memcmp(got[0][1], got[1][1], (size_t)a->size * sizeof(float)), 0);
        cr_assert_eq(memcmp(got[0][2], got[1][2], (size_t)b->size * sizeof(float)), 0);
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < 3; k++)
                free(got[t][k]);
        nb_tensor_free(a);
        nb_tensor_free(b);
        nb_tensor_free(dc);
    }
}

Test(matmul, errors)
{
    nb_tensor *a4 = nb_tensor_zeros(NB_SHAPE(2, 3, 4, 5));
    nb_tensor *b52 = nb_tensor_zeros(NB_SHAPE(5, 2));
    nb_tensor *v = nb_tensor_zeros(NB_SHAPE(5));
    nb_tensor *a43 = nb_tensor_zeros(NB_SHAPE(4, 3));
    nb_tensor *b25 = nb_tensor_zeros(NB_SHAPE(2, 5));
    nb_tensor *a234 = nb_tensor_zeros(NB_SHAPE(2, 3, 4));
    nb_tensor *b345 = nb_tensor_zeros(NB_SHAPE(3, 4, 5));
    assert_error(nb_matmul(a4, b52), NB_ERR_SHAPE,
                 "matmul: expected 2-D or 3-D operands, got [2,3,4,5] @ [5,2]");
    assert_error(nb_matmul(v, b52), NB_ERR_SHAPE,
                 "matmul: expected 2-D or 3-D operands, got [5] @ [5,2]");
    assert_error(nb_matmul(a43, v), NB_ERR_SHAPE,
                 "matmul: expected 2-D or 3-D operands, got [4,3] @ [5]");
    assert_error(nb_matmul(a43, b25), NB_ERR_SHAPE,
                 "matmul: inner dimensions differ: [4,3] @ [2,5]");
    assert_error(nb_matmul(a234, b52), NB_ERR_SHAPE,
                 "matmul: inner dimensions differ: [2,3,4] @ [5,2]");
    assert_error(nb_matmul(a234, b345), NB_ERR_SHAPE,
                 "matmul: batch sizes differ: [2,3,4] @ [3,4,5]");
    nb_error_clear();
    assert_error(nb_matmul(NULL, b52), NB_ERR_NULL, "matmul: input 0 is NULL");
    nb_error_clear();
    assert_error(nb_matmul(a43, NULL), NB_ERR_NULL, "matmul: input 1 is NULL");
    nb_tensor *all[] = {a4, b52, v, a43, b25, a234, b345};
    for (int i = 0; i < 7; i++)
        nb_tensor_free(all[i]);
}
