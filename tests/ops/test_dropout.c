/* dropout: forward against a mask drawn here from nb_rng_uniform, the mask's statistics,
 * gradients by finite differences (the mask is fixed by the seed), errors, threads. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(dropout);

typedef struct dropout_case {
    float p;
    bool training;
    uint64_t seed;
} dropout_case;

static nb_tensor *f_dropout(nb_tensor *const *in, void *ud)
{
    const dropout_case *c = ud;
    return nb_dropout(in[0], c->p, c->training, c->seed);
}

/* want[i] = x[i] / (1 - p) if u(seed, i) >= p, else 0. */
static void dropout_ref(const nb_tensor *x, double p, uint64_t seed, double *want)
{
    for (int64_t i = 0; i < x->size; i++)
        want[i] = nb_rng_uniform(seed, (uint64_t)i) >= p ? x->data[i] / (1.0 - p) : 0.0;
}

Test(dropout, forward)
{
    const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f, 0.999f};
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 17, 5), -2, 2, 1, false);
    double want[3 * 17 * 5];
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        nb_tensor *y = nb_dropout(x, ps[k], true, 1000 + k);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y));
        dropout_ref(x, ps[k], 1000 + k, want);
        assert_close(y->data, want, x->size, 0, 1e-6, "dropout");
    }
    /* 0-D and a single element. */
    nb_tensor *s = nb_tensor_scalar(3.0f);
    for (uint64_t seed = 0; seed < 8; seed++) {
        nb_tensor *y = nb_dropout(s, 0.5f, true, seed);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->ndim, 0);
        dropout_ref(s, 0.5, seed, want);
        assert_close(y->data, want, 1, 0, 1e-6, "dropout 0-D");
    }
    nb_tensor_free(s);
    nb_tensor_free(x);
}

Test(dropout, seed_fixes_the_mask)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(1000));
    nb_tensor *a = nb_dropout(x, 0.5f, true, 7);
    nb_tensor *b = nb_dropout(x, 0.5f, true, 7);
    nb_tensor *c = nb_dropout(x, 0.5f, true, 8);
    cr_assert(a && b && c, "%s", nb_error());
    cr_assert_eq(memcmp(a->data, b->data, sizeof(float) * 1000), 0, "same seed, other mask");
    int differ = 0;
    for (int i = 0; i < 1000; i++)
        differ += (a->data[i] == 0) != (c->data[i] == 0);
    cr_assert_gt(differ, 100, "seeds 7 and 8 give masks differing in only %d places", differ);
    nb_tensor_free(x);
}

Test(dropout, kept_fraction_and_mean)
{
    /* 100k elements (above NB_PAR_MIN): the kept fraction is within 1% of 1 - p, and
     * the mean of ones stays 1 (its standard error is at most sqrt(p/(1-p)/n) < 0.007). */
    const int64_t n = 100000;
    const float ps[] = {0.1f, 0.25f, 0.5f, 0.8f};
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(n));
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        nb_tensor *y = nb_dropout(x, ps[k], true, 42 + k);
        cr_assert_not_null(y, "%s", nb_error());
        int64_t kept = 0;
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            kept += y->data[i] != 0;
            sum += y->data[i];
        }
        double frac = (double)kept / (double)n;
        cr_assert(fabs(frac - (1.0 - ps[k])) < 0.01, "p %g: kept %g", (double)ps[k], frac);
        cr_assert(fabs(sum / (double)n - 1.0) < 0.03, "p %g: mean %g", (double)ps[k],
                  sum / (double)n);
    }
    nb_tensor_free(x);
}

Test(dropout, identity_when_not_training_or_p_zero)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 33), -3, 3, 2, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(4, 33), -1, 1, 3, false);
    nb_tensor *y = nb_dropout(x, 0.7f, false, 5);
    nb_tensor *z = nb_dropout(x, 0.0f, true, 5);
    cr_assert(y && z, "%s", nb_error());
    cr_assert_eq(memcmp(y->data, x->data, sizeof(float) * 132), 0, "eval is not the identity");
    cr_assert_eq(memcmp(z->data, x->data, sizeof(float) * 132), 0, "p = 0 is not the identity");
    /* Still an op: the gradient flows through unchanged. */
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(x->grad->data, seed->data, sizeof(float) * 132), 0);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* c with its seed moved on until one of the first n elements is kept, so the gradient
 * is not all zeros (assert_gradcheck checks that). */
static dropout_case keeping_one(dropout_case c, int64_t n)
{
    for (;; c.seed++)
        for (int64_t i = 0; i < n; i++)
            if (nb_rng_uniform(c.seed, (uint64_t)i) >= c.p)
                return c;
}

Test(dropout, gradient)
{
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 1, 1}, {2, 3, 17}, {17, 1, 3}, {5, 7, 3}};
    const dropout_case cases[] = {{0.5f, true, 11}, {0.2f, true, 12}, {0.9f, true, 13},
                                  {0.5f, false, 14}, {0.0f, true, 15}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            nb_tensor *x = rand_tensor(3, shapes[s], -2, 2, 30 + s, true);
            dropout_case dc = keeping_one(cases[c], x->size);
            assert_gradcheck(f_dropout, &x, 1, &dc, NULL, "dropout");
            nb_tensor_free(x);
        }
    /* Rank 0 and rank 4. */
    dropout_case dc = keeping_one((dropout_case){0.5f, true, 16}, 1);
    nb_tensor *s = rand_tensor(0, NULL, -1, 1, 17, true);
    assert_gradcheck(f_dropout, &s, 1, &dc, NULL, "dropout 0-D");
    nb_tensor *x4 = rand_tensor(NB_SHAPE(2, 3, 4, 5), -1, 1, 18, true);
    assert_gradcheck(f_dropout, &x4, 1, &dc, NULL, "dropout 4-D");
    nb_tensor_free(s);
    nb_tensor_free(x4);
}

Test(dropout, gradient_is_the_mask)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(50, 3), -2, 2, 4, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(50, 3), -1, 1, 5, false);
    nb_tensor *y = nb_dropout(x, 0.4f, true, 99);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    double want[150];
    dropout_ref(seed, 0.4, 99, want);
    assert_close(x->grad->data, want, 150, 0, 1e-6, "dx");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

Test(dropout, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    assert_error(nb_dropout(x, -0.1f, true, 1), NB_ERR_ARG, "dropout: p must be in [0, 1)");
    nb_error_clear();
    assert_error(nb_dropout(x, 1.0f, true, 1), NB_ERR_ARG, "dropout: p must be in [0, 1), got 1");
    nb_error_clear();
    assert_error(nb_dropout(x, 1.5f, false, 1), NB_ERR_ARG, "dropout: p must be in [0, 1)");
    nb_error_clear();
    assert_error(nb_dropout(x, NAN, true, 1), NB_ERR_ARG, "dropout: p must be in [0, 1), got nan");
    nb_error_clear();
    assert_error(nb_dropout(NULL, 0.5f, true, 1), NB_ERR_NULL, "dropout: input 0 is NULL");
    nb_tensor_free(x);
}

/* Output and input gradient of a 300x257 dropout with the given thread count. */
static void run_large(int threads, nb_tensor *x, const nb_tensor *seed, float *y_out)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_tensor_zero_grad(x);
    nb_tensor *y = nb_dropout(x, 0.3f, true, 123);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    memcpy(y_out, y->data, sizeof(float) * (size_t)y->size);
    nb_step_reset();
}

Test(dropout, large_threads_bit_identical)
{
    const int64_t n = 300 * 257;
    int prev = nb_num_threads();
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 6, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 257), -1, 1, 7, false);
    float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    float *g1 = malloc(sizeof(float) * n);
    double *want = malloc(sizeof(double) * n);
    run_large(1, x, seed, y1);
    memcpy(g1, x->grad->data, sizeof(float) * n);
    run_large(2, x, seed, y2);
    nb_set_num_threads(prev);
    dropout_ref(x, 0.3, 123, want);
    assert_close(y1, want, n, 0, 1e-6, "dropout 300x257");
    cr_assert_eq(memcmp(y1, y2, sizeof(float) * n), 0, "outputs differ for 1 and 2 threads");
    cr_assert_eq(memcmp(g1, x->grad->data, sizeof(float) * n), 0,
                 "gradients differ for 1 and 2 threads");
    free(y1);
    free(y2);
    free(g1);
    free(want);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}
