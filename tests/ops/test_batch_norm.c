/* batch_norm: forward and running statistics against a reference in double, gradients
 * by finite differences (training and eval) and against the formula, errors, threads. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(batch_norm);

/* The running statistics and parameters a gradcheck function uses; gradcheck perturbs
 * only x, gamma and beta. In training the running tensors are updated on every call,
 * which does not change the output (it uses the batch's statistics). */
typedef struct bn_case {
    nb_tensor *running_mean, *running_var;
    float momentum, eps;
    bool training;
} bn_case;

static nb_tensor *f_bn(nb_tensor *const *in, void *ud)
{
    const bn_case *c = ud;
    return nb_batch_norm(in[0], in[1], in[2], c->running_mean, c->running_var, c->momentum,
                         c->eps, c->training);
}

/* x's N, C and spatial size HW (1 for [N, C]). */
static void dims(const nb_tensor *x, int64_t *N, int64_t *C, int64_t *HW)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *HW = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

/* y = gamma (x - mean) / sqrt(var + eps) + beta from the definition, in double.
 * rm, rv hold the running statistics; in training they are updated as documented. */
static void bn_ref(const nb_tensor *x, const nb_tensor *gamma, const nb_tensor *beta,
                   double *rm, double *rv, double momentum, double eps, bool training,
                   double *y)
{
    int64_t N, C, HW;
    dims(x, &N, &C, &HW);
    double M = (double)(N * HW);
    for (int64_t c = 0; c < C; c++) {
        double mean = rm[c], var = rv[c];
        if (training) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++)
                    s += x->data[(n * C + c) * HW + k];
            mean = s / M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++)
                    q += pow(x->data[(n * C + c) * HW + k] - mean, 2);
            var = q / M;
            rm[c] = (1 - momentum) * rm[c] + momentum * mean;
            rv[c] = (1 - momentum) * rv[c] + momentum * q / (M - 1);
        }
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t i = (n * C + c) * HW + k;
                y[i] = gamma->data[c] * (x->data[i] - mean) / sqrt(var + eps) + beta->data[c];
            }
    }
}

/* Persistent running statistics of size C: mean in [-0.5, 0.5), var in [0.5, 2). */
static void make_running(int64_t C, uint64_t seed, nb_tensor **rm, nb_tensor **rv)
{
    *rm = rand_tensor(NB_SHAPE(C), -0.5f, 0.5f, seed, false);
    *rv = rand_tensor(NB_SHAPE(C), 0.5f, 2.0f, seed + 1, false);
}

/* Runs one forward of x (shape given) against the reference, checking the output and
 * the running statistics afterwards. */
static void check_forward(int ndim, const int64_t *shape, bool training, uint64_t seed)
{
    int64_t C = shape[1];
    nb_tensor *x = rand_tensor(ndim, shape, -3, 5, seed, false);
    nb_tensor *gamma = rand_tensor(NB_SHAPE(C), 0.5f, 2, seed + 1, false);
    nb_tensor *beta = rand_tensor(NB_SHAPE(C), -1, 1, seed + 2, false);
    nb_tensor *rm, *rv;
    make_running(C, seed + 3, &rm, &rv);
    double *want = malloc(sizeof(double) * (size_t)x->size);
    double *rm_want = malloc(sizeof(double) * (size_t)C), *rv_want = malloc(sizeof(double) * (size_t)C);
    for (int64_t c = 0; c < C; c++) {
        rm_want[c] = rm->data[c];
        rv_want[c] = rv->data[c];
    }
    bn_ref(x, gamma, beta, rm_want, rv_want, 0.1, 1e-5, training, want);
    nb_tensor *y = nb_batch_norm(x, gamma, beta, rm, rv, 0.1f, 1e-5f, training);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(nb_tensor_same_shape(x, y));
    assert_close(y->data, want, x->size, 1e-5, 1e-5, training ? "y (training)" : "y (eval)");
    assert_close(rm->data, rm_want, C, 1e-7, 1e-6, "running_mean");
    assert_close(rv->data, rv_want, C, 1e-7, 1e-6, "running_var");
    free(want);
    free(rm_want);
    free(rv_want);
    nb_tensor_free(x);
    nb_tensor_free(gamma);
    nb_tensor_free(beta);
    nb_tensor_free(rm);
    nb_tensor_free(rv);
}

Test(batch_norm, forward)
{
    for (int t = 0; t < 2; t++) {
        bool training = t == 0;
        check_forward(NB_SHAPE(3, 4, 5, 7), training, 10);
        check_forward(NB_SHAPE(2, 1, 1, 3), training, 20);
        check_forward(NB_SHAPE(1, 3, 2, 2), training, 30);
        check_forward(NB_SHAPE(17, 3), training, 40);
        check_forward(NB_SHAPE(2, 5), training, 50);
    }
    /* Not training, a single value per channel is fine. */
    check_forward(NB_SHAPE(1, 3), false, 60);
    check_forward(NB_SHAPE(1, 3, 1, 1), false, 70);
}

Test(batch_norm, forward_normalises)
{
    /* Training with gamma 1, beta 0: every channel comes out with mean 0 and biased
     * variance 1 (up to eps), a constant channel with zeros. */
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 3, 5, 5), -10, 30, 1, false);
    for (int64_t n = 0; n < 4; n++)
        for (int64_t k = 0; k < 25; k++)
            x->data[(n * 3 + 2) * 25 + k] = 7.0f;
    nb_tensor *gamma = nb_tensor_ones(NB_SHAPE(3)), *beta = nb_tensor_zeros(NB_SHAPE(3));
    nb_tensor *rm = nb_tensor_zeros(NB_SHAPE(3)), *rv = nb_tensor_ones(NB_SHAPE(3));
    nb_tensor *y = nb_batch_norm(x, gamma, beta, rm, rv, 0.1f, 1e-5f, true);
    cr_assert_not_null(y, "%s", nb_error());
    for (int64_t c = 0; c < 3; c++) {
        double s = 0, q = 0;
        for (int64_t n = 0; n < 4; n++)
            for (int64_t k = 0; k < 25; k++) {
                double v = y->data[(n * 3 + c) * 25 + k];
                s += v;
                q += v * v;
            }
        cr_assert(fabs(s / 100) < 1e-6, "channel %lld mean %g", (long long)c, s / 100);
        cr_assert(fabs(q / 100 - (c == 2 ? 0 : 1)) < 1e-4, "channel %lld var %g",
                  (long long)c, q / 100);
    }
    nb_tensor_free(x);
    nb_tensor_free(gamma);
    nb_tensor_free(beta);
    nb_tensor_free(rm);
    nb_tensor_free(rv);
}

Test(batch_norm, running_statistics)
{
    /* Two training steps on different batches, then eval uses what they left. */
    const int64_t C = 3;
    nb_tensor *x1 = rand_tensor(NB_SHAPE(4, C, 3, 5), -1, 3, 1, false);
    nb_tensor *x2 = rand_tensor(NB_SHAPE(4, C, 3, 5), -4, 2, 2, false);
    nb_tensor *gamma = rand_tensor(NB_SHAPE(C), 0.5f, 2, 3, false);
    nb_tensor *beta = rand_tensor(NB_SHAPE(C), -1, 1, 4, false);
    nb_tensor *rm = nb_tensor_zeros(NB_SHAPE(C)), *rv = nb_tensor_ones(NB_SHAPE(C));
    double rm_want[3] = {0, 0, 0}, rv_want[3] = {1, 1, 1}, y[4 * 3 * 3 * 5];
    bn_ref(x1, gamma, beta, rm_want, rv_want, 0.3, 1e-3, true, y);
    cr_assert_not_null(nb_batch_norm(x1, gamma, beta, rm, rv, 0.3f, 1e-3f, true));
    assert_close(rm->data, rm_want, C, 1e-7, 1e-6, "running_mean after step 1");
    assert_close(rv->data, rv_want, C, 1e-7, 1e-6, "running_var after step 1");
    /* The update happens with grad mode off too (as PyTorch). */
    bool prev = nb_set_grad_enabled(false);
    bn_ref(x2, gamma, beta, rm_want, rv_want, 0.3, 1e-3, true, y);
    cr_assert_not_null(nb_batch_norm(x2, gamma, beta, rm, rv, 0.3f, 1e-3f, true));
    nb_set_grad_enabled(prev);
    assert_close(rm->data, rm_want, C, 1e-7, 1e-6, "running_mean after step 2");
    assert_close(rv->data, rv_want, C, 1e-7, 1e-6, "running_var after step 2");
    /* Eval uses them and leaves them alone. */
    float rm_before[3], rv_before[3];
    memcpy(rm_before, rm->data, sizeof rm_before);
    memcpy(rv_before, rv->data, sizeof rv_before);
    bn_ref(x2, gamma, beta, rm_want, rv_want, 0.3, 1e-3, false, y);
    nb_tensor *ye = nb_batch_norm(x2, gamma, beta, rm, rv, 0.3f, 1e-3f, false);
    cr_assert_not_null(ye, "%s", nb_error());
    assert_close(ye->data, y, x2->size, 1e-5, 1e-5, "eval after training");
    cr_assert_eq(memcmp(rm_before, rm->data, sizeof rm_before), 0, "eval changed running_mean");
    cr_assert_eq(memcmp(rv_before, rv->data, sizeof rv_before), 0, "eval changed running_var");
    /* momentum 0 keeps them, momentum 1 replaces them with the batch's. */
    cr_assert_not_null(nb_batch_norm(x1, gamma, beta, rm, rv, 0.0f, 1e-3f, true));
    cr_assert_eq(memcmp(rm_before, rm->data, sizeof rm_before), 0, "momentum 0 changed it");
    cr_assert_eq(memcmp(rv_before, rv->data, sizeof rv_before), 0, "momentum 0 changed it");
    double rm1[3] = {0, 0, 0}, rv1[3] = {0, 0, 0};
    bn_ref(x1, gamma, beta, rm1, rv1, 1.0, 1e-3, true, y);
    cr_assert_not_null(nb_batch_norm(x1, gamma, beta, rm, rv, 1.0f, 1e-3f, true));
    assert_close(rm->data, rm1, C, 1e-7, 1e-6, "running_mean, momentum 1");
    assert_close(rv->data, rv1, C, 1e-7, 1e-6, "running_var, momentum 1");
    nb_tensor_free(x1);
    nb_tensor_free(x2);
    nb_tensor_free(gamma);
    nb_tensor_free(beta);
    nb_tensor_free(rm);
    nb_tensor_free(rv);
}

/* Gradchecks x, gamma, beta of x [shape] (each requiring grad as `which` says: bit 0 x,
 * bit 1 gamma, bit 2 beta). */
static void check_gradient(int ndim, const int64_t *shape, bool training, int which,
                           uint64_t seed)
{
    int64_t C = shape[1];
    nb_tensor *in[3] = {
        rand_tensor(ndim, shape, -2, 2, seed, which & 1),
        rand_tensor(NB_SHAPE(C), 0.5f, 2, seed + 1, which & 2),
        rand_tensor(NB_SHAPE(C), -1, 1, seed + 2, which & 4),
    };
    bn_case bc = {.momentum = 0.1f, .eps = 1e-5f, .training = training};
    make_running(C, seed + 3, &bc.running_mean, &bc.running_var);
    char what[64];
    snprintf(what, sizeof what, "batch_norm %s, inputs %d", training ? "training" : "eval",
             which);
    assert_gradcheck(f_bn, in, 3, &bc, NULL, what);
    for (int i = 0; i < 3; i++)
        nb_tensor_free(in[i]);
    nb_tensor_free(bc.running_mean);
    nb_tensor_free(bc.running_var);
}

Test(batch_norm, gradient_training)
{
    check_gradient(NB_SHAPE(3, 2, 3, 5), true, 7, 1);
    check_gradient(NB_SHAPE(1, 3, 1, 5), true, 7, 2);
    check_gradient(NB_SHAPE(2, 1, 3, 3), true, 7, 3);
    check_gradient(NB_SHAPE(5, 3, 1, 1), true, 7, 4);
    check_gradient(NB_SHAPE(4, 3), true, 7, 5);
    check_gradient(NB_SHAPE(17, 2), true, 7, 6);
    check_gradient(NB_SHAPE(3, 1), true, 7, 7);
    /* Each input alone. */
    for (int which = 1; which <= 4; which *= 2) {
        check_gradient(NB_SHAPE(3, 2, 3, 5), true, which, 8);
        check_gradient(NB_SHAPE(17, 2), true, which, 9);
    }
}

Test(batch_norm, gradient_eval)
{
    check_gradient(NB_SHAPE(3, 2, 3, 5), false, 7, 11);
    check_gradient(NB_SHAPE(1, 3, 1, 1), false, 7, 12);
    check_gradient(NB_SHAPE(2, 1, 3, 3), false, 7, 13);
    check_gradient(NB_SHAPE(4, 3), false, 7, 14);
    check_gradient(NB_SHAPE(1, 17), false, 7, 15);
    for (int which = 1; which <= 4; which *= 2)
        check_gradient(NB_SHAPE(3, 2, 3, 5), false, which, 16);
}

/* The gradients of y = bn(x) seeded with dy, from the formulas in double:
 * dgamma = sum(dy xhat), dbeta = sum(dy), and dx by the batch-statistics formula in
 * training or dy gamma / sqrt(running_var + eps) otherwise. */
static void bn_backward_ref(const nb_tensor *x, const nb_tensor *gamma, const nb_tensor *rm,
                            const nb_tensor *rv, double eps, bool training, const float *dy,
                            double *dx, double *dgamma, double *dbeta)
{
    int64_t N, C, HW;
    dims(x, &N, &C, &HW);
    double M = (double)(N * HW);
    for (int64_t c = 0; c < C; c++) {
        double mean = rm->data[c], var = rv->data[c];
        if (training) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++)
                    s += x->data[(n * C + c) * HW + k];
            mean = s / M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < HW; k++)
                    q += pow(x->data[(n * C + c) * HW + k] - mean, 2);
            var = q / M;
        }
        double inv_std = 1 / sqrt(var + eps), sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t i = (n * C + c) * HW + k;
                sdy += dy[i];
                sdyx += dy[i] * (x->data[i] - mean) * inv_std;
            }
        dgamma[c] = sdyx;
        dbeta[c] = sdy;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t i = (n * C + c) * HW + k;
                double xhat = (x->data[i] - mean) * inv_std;
                dx[i] = training ? gamma->data[c] * inv_std / M * (M * dy[i] - sdy - xhat * sdyx)
                                 : dy[i] * gamma->data[c] * inv_std;
            }
    }
}

/* Output and gradients of x [4,8,33,37] (above NB_PAR_MIN) with the given threads. */
static void run_large(int threads, bool training, nb_tensor *const *in, nb_tensor *rm,
                      nb_tensor *rv, const nb_tensor *dy, float *y_out)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    for (int i = 0; i < 3; i++)
        nb_tensor_zero_grad(in[i]);
    nb_tensor *y = nb_batch_norm(in[0], in[1], in[2], rm, rv, 0.1f, 1e-5f, training);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, dy), NB_OK, "%s", nb_error());
    memcpy(y_out, y->data, sizeof(float) * (size_t)y->size);
    nb_step_reset();
}

Test(batch_norm, large_threads_bit_identical)
{
    const int64_t C = 8, n = 4 * C * 33 * 37;
    int prev = nb_num_threads();
    nb_tensor *in[3] = {
        rand_tensor(NB_SHAPE(4, C, 33, 37), -2, 3, 1, true),
        rand_tensor(NB_SHAPE(C), 0.5f, 2, 2, true),
        rand_tensor(NB_SHAPE(C), -1, 1, 3, true),
    };
    nb_tensor *dy = rand_tensor(NB_SHAPE(4, C, 33, 37), -1, 1, 4, false);
    float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    float *g1[3] = {malloc(sizeof(float) * n), malloc(sizeof(float) * C),
                    malloc(sizeof(float) * C)};
    double *want = malloc(sizeof(double) * n), *dx = malloc(sizeof(double) * n);
    double dgamma[8], dbeta[8];
    for (int t = 0; t < 2; t++) {
        bool training = t == 0;
        nb_tensor *rm, *rv;
        make_running(C, 5, &rm, &rv);
        /* Reference first: training updates rm, rv, which eval reads. */
        double rmw[8], rvw[8];
        for (int64_t c = 0; c < C; c++) {
            rmw[c] = rm->data[c];
            rvw[c] = rv->data[c];
        }
        bn_ref(in[0], in[1], in[2], rmw, rvw, 0.1, 1e-5, training, want);
        bn_backward_ref(in[0], in[1], rm, rv, 1e-5, training, dy->data, dx, dgamma, dbeta);

        run_large(1, training, in, rm, rv, dy, y1);
        for (int i = 0; i < 3; i++)
            memcpy(g1[i], in[i]->grad->data, sizeof(float) * (size_t)in[i]->size);
        assert_close(y1, want, n, 1e-5, 1e-5, "y");
        assert_close(in[0]->grad->data, dx, n, 1e-5, 1e-4, "dx");
        assert_close(in[1]->grad->data, dgamma, C, 1e-3, 1e-4, "dgamma");
        assert_close(in[2]->grad->data, dbeta, C, 1e-3, 1e-4, "dbeta");
        if (training) {   /* run again from the same running statistics */
            nb_tensor_free(rm);
            nb_tensor_free(rv);
            make_running(C, 5, &rm, &rv);
        }
        run_large(2, training, in, rm, rv, dy, y2);
        cr_assert_eq(memcmp(y1, y2, sizeof(float) * n), 0, "y differs for 1 and 2 threads");
        for (int i = 0; i < 3; i++)
            cr_assert_eq(memcmp(g1[i], in[i]->grad->data, sizeof(float) * (size_t)in[i]->size),
                         0, "grad of input %d differs for 1 and 2 threads", i);
        nb_tensor_free(rm);
        nb_tensor_free(rv);
    }
    nb_set_num_threads(prev);
    free(y1);
    free(y2);
    for (int i = 0; i < 3; i++) {
        free(g1[i]);
        nb_tensor_free(in[i]);
    }
    free(want);
    free(dx);
    nb_tensor_free(dy);
}

Test(batch_norm, empty_batch)
{
    /* N = 0: an empty output, and the running statistics stay as they were. */
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(0, 3, 2, 2));
    nb_tensor *gamma = nb_tensor_ones(NB_SHAPE(3)), *beta = nb_tensor_zeros(NB_SHAPE(3));
    nb_tensor *rm = nb_tensor_full(NB_SHAPE(3), 0.5f), *rv = nb_tensor_full(NB_SHAPE(3), 2.0f);
    nb_tensor *y = nb_batch_norm(x, gamma, beta, rm, rv, 0.1f, 1e-5f, true);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->size, 0);
    for (int c = 0; c < 3; c++)
        cr_assert(rm->data[c] == 0.5f && rv->data[c] == 2.0f);
    nb_tensor_free(x);
    nb_tensor_free(gamma);
    nb_tensor_free(beta);
    nb_tensor_free(rm);
    nb_tensor_free(rv);
}

Test(batch_norm, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3, 4, 4));
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(2, 3, 4));
    nb_tensor *x1 = nb_tensor_zeros(NB_SHAPE(3));
    nb_tensor *one4 = nb_tensor_zeros(NB_SHAPE(1, 3, 1, 1)), *one2 = nb_tensor_zeros(NB_SHAPE(1, 3));
    nb_tensor *v = nb_tensor_ones(NB_SHAPE(3)), *v4 = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor *v31 = nb_tensor_ones(NB_SHAPE(3, 1));

    assert_error(nb_batch_norm(x3, v, v, v, v, 0.1f, 1e-5f, true), NB_ERR_SHAPE,
                 "batch_norm: x must be [N,C] or [N,C,H,W], got [2,3,4]");
    nb_error_clear();
    assert_error(nb_batch_norm(x1, v, v, v, v, 0.1f, 1e-5f, false), NB_ERR_SHAPE,
                 "batch_norm: x must be [N,C] or [N,C,H,W], got [3]");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v4, v, v, v, 0.1f, 1e-5f, true), NB_ERR_SHAPE,
                 "batch_norm: gamma has shape [4] but x [2,3,4,4] has 3 channels");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v31, v, v, 0.1f, 1e-5f, true), NB_ERR_SHAPE,
                 "batch_norm: beta has shape [3,1] but x [2,3,4,4] has 3 channels");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v4, v, 0.1f, 1e-5f, false), NB_ERR_SHAPE,
                 "batch_norm: running_mean has shape [4] but x [2,3,4,4] has 3 channels");
    nb_error_clear();
    assert_error(nb_batch_norm(one2, v, v, v, v4, 0.1f, 1e-5f, false), NB_ERR_SHAPE,
                 "batch_norm: running_var has shape [4] but x [1,3] has 3 channels");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, 0.1f, 0.0f, true), NB_ERR_ARG,
                 "batch_norm: eps must be > 0, got 0");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, 0.1f, -1e-5f, false), NB_ERR_ARG,
                 "batch_norm: eps must be > 0");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, 0.1f, NAN, true), NB_ERR_ARG,
                 "batch_norm: eps must be > 0, got nan");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, -0.1f, 1e-5f, true), NB_ERR_ARG,
                 "batch_norm: momentum must be in [0, 1], got -0.1");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, 1.5f, 1e-5f, true), NB_ERR_ARG,
                 "batch_norm: momentum must be in [0, 1], got 1.5");
    nb_error_clear();
    assert_error(nb_batch_norm(x, v, v, v, v, NAN, 1e-5f, true), NB_ERR_ARG,
                 "batch_norm: momentum must be in [0, 1]");
    nb_error_clear();
    assert_error(nb_batch_norm(one4, v, v, v, v, 0.1f, 1e-5f, true), NB_ERR_SHAPE,
                 "batch_norm: expected more than 1 value per channel when training, got x "
                 "[1,3,1,1]");
    nb_error_clear();
    assert_error(nb_batch_norm(one2, v, v, v, v, 0.1f, 1e-5f, true), NB_ERR_SHAPE,
                 "batch_norm: expected more than 1 value per channel when training");
    nb_error_clear();
    /* A failed training call leaves the running statistics alone. */
    cr_assert(v->data[0] == 1 && v->data[1] == 1 && v->data[2] == 1);
    nb_tensor *in[5] = {x, v, v, v, v};
    for (int i = 0; i < 5; i++) {
        nb_tensor *a[5];
        memcpy(a, in, sizeof a);
        a[i] = NULL;
        static const char *names[5] = {"x", "gamma", "beta", "running_mean", "running_var"};
        char want[64];
        snprintf(want, sizeof want, "batch_norm: input %d (%s) is NULL", i, names[i]);
        assert_error(nb_batch_norm(a[0], a[1], a[2], a[3], a[4], 0.1f, 1e-5f, true),
                     NB_ERR_NULL, want);
        nb_error_clear();
    }
    nb_tensor_free(x);
    nb_tensor_free(x3);
    nb_tensor_free(x1);
    nb_tensor_free(one4);
    nb_tensor_free(one2);
    nb_tensor_free(v);
    nb_tensor_free(v4);
    nb_tensor_free(v31);
}
