/* cross_entropy: forward against -ln(e^x[t] / sum e^x) in double for every reduction,
 * extreme logits, gradients by finite differences (none to the labels), the parallel
 * path, and the errors (shapes, labels, reduction). */
#include "loss_common.h"

NB_TEST_SUITE(cross_entropy);

/* Labels [N] holding (7 n + seed) mod C, as floats. Persistent. */
static nb_tensor *make_labels(int64_t N, int64_t C, int64_t seed)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(N));
    cr_assert_not_null(t, "%s", nb_error());
    for (int64_t n = 0; n < N; n++)
        t->data[n] = (float)((7 * n + seed) % C);
    return t;
}

/* Per-row losses -ln(e^x[n,t] / sum_c e^x[n,c]) in double (no max shift: |x| stays small
 * here), and their mean or sum. */
static double ref_ce(const nb_tensor *x, const nb_tensor *t, nb_reduction r, double *l)
{
    int64_t N = x->shape[0], C = x->shape[1];
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += exp((double)x->data[n * C + c]);
        l[n] = -log(exp((double)x->data[n * C + (int64_t)t->data[n]]) / s);
    }
    return loss_ref_reduce(l, N, r);
}

static const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 1}, {2, 3}, {4, 5}, {17, 3}, {3, 17}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

Test(cross_entropy, forward)
{
    for (size_t c = 0; c < N_SHAPES; c++) {
        int64_t N = shapes[c][0], C = shapes[c][1];
        nb_tensor *x = rand_tensor(2, shapes[c], -5, 5, 1 + c, false);
        nb_tensor *t = make_labels(N, C, (int64_t)c);
        /* NONE gives one loss per row, shaped like the labels [N]. */
        assert_loss_forward(nb_cross_entropy, ref_ce, x, t, t, 1e-6, 1e-5, "cross_entropy");
        nb_tensor_free(x);
        nb_tensor_free(t);
    }
}

Test(cross_entropy, extreme_logits)
{
    /* A naive softmax overflows here; the max-shifted one gives exact values. */
    const float xv[] = {1000, 0, -1000, 1000, 0, -1000, 1000, 0, -1000, 1000, 1000, -3e38f,
                        -1000, -1000, -1000, 88, 89, 90};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(6, 3), xv);
    nb_tensor *t = nb_tensor_from(NB_SHAPE(6), (float[]){0, 1, 2, 0, 2, 1});
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *out = nb_cross_entropy(x, t, NB_REDUCE_NONE);
    cr_assert_not_null(out, "%s", nb_error());
    /* Last row: 90 + ln(e^-2 + e^-1 + 1) - 89. */
    const double want[] = {0, 1000, 2000, log(2.0), log(3.0),
                           1 + log(exp(-2.0) + exp(-1.0) + 1)};
    assert_close(out->data, want, 6, 1e-6, 1e-6, "cross_entropy extremes");

    cr_assert_eq(nb_backward(nb_cross_entropy(x, t, NB_REDUCE_SUM)), NB_OK, "%s", nb_error());
    double s = exp(-2.0) + exp(-1.0) + 1;
    const double dx[] = {0, 0, 0, 1, -1, 0, 1, 0, -1, -0.5, 0.5, 0,
                         1.0 / 3, 1.0 / 3, -2.0 / 3, exp(-2.0) / s, exp(-1.0) / s - 1, 1 / s};
    assert_close(x->grad->data, dx, 18, 1e-7, 1e-6, "dlogits extremes");
    for (int i = 0; i < 18; i++)
        cr_assert(isfinite(x->grad->data[i]));
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, gradient)
{
    /* C = 1 is left out: the loss is constant 0 there (see one_class). */
    for (size_t c = 0; c < N_SHAPES; c++) {
        int64_t N = shapes[c][0], C = shapes[c][1];
        if (C == 1)
            continue;
        for (int k = 0; k < 3; k++) {
            loss_call call = {nb_cross_entropy, loss_reductions[k]};
            nb_tensor *in[2] = {rand_tensor(2, shapes[c], -3, 3, 100 + c, true),
                                make_labels(N, C, 3 + (int64_t)c)};
            char what[64];
            snprintf(what, sizeof what, "cross_entropy [%lld,%lld] reduction %d",
                     (long long)N, (long long)C, k);
            assert_gradcheck(loss_gradcheck_fn, in, 2, &call, NULL, what);
            nb_tensor_free(in[0]);
            nb_tensor_free(in[1]);
        }
    }
}

Test(cross_entropy, gradient_values)
{
    /* dlogits = (softmax - onehot) / N for MEAN. */
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 5), -2, 2, 7, true);
    nb_tensor *t = make_labels(4, 5, 1);
    cr_assert_eq(nb_backward(nb_cross_entropy(x, t, NB_REDUCE_MEAN)), NB_OK, "%s", nb_error());
    double want[20];
    for (int n = 0; n < 4; n++) {
        double s = 0;
        for (int c = 0; c < 5; c++)
            s += exp((double)x->data[n * 5 + c]);
        for (int c = 0; c < 5; c++)
            want[n * 5 + c] = (exp((double)x->data[n * 5 + c]) / s - (c == t->data[n])) / 4;
    }
    assert_close(x->grad->data, want, 20, 1e-7, 1e-5, "dlogits");
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, no_gradient_to_labels)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), -2, 2, 8, true);
    nb_tensor *t = make_labels(3, 4, 0);
    nb_tensor_set_requires_grad(t, true);
    cr_assert_eq(nb_backward(nb_cross_entropy(x, t, NB_REDUCE_SUM)), NB_OK, "%s", nb_error());
    for (int n = 0; n < 3; n++)
        cr_assert_eq(t->grad->data[n], 0.0f);
    /* Only the labels require grad: backward runs and gives them nothing. */
    nb_tensor_set_requires_grad(x, false);
    cr_assert_eq(nb_backward(nb_cross_entropy(x, t, NB_REDUCE_MEAN)), NB_OK, "%s", nb_error());
    for (int n = 0; n < 3; n++)
        cr_assert_eq(t->grad->data[n], 0.0f);
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, one_class)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 1), -2, 2, 9, true);
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(3));
    nb_tensor *out = nb_cross_entropy(x, t, NB_REDUCE_MEAN);
    cr_assert_not_null(out, "%s", nb_error());
    cr_assert_eq(out->data[0], 0.0f);
    cr_assert_eq(nb_backward(out), NB_OK, "%s", nb_error());
    for (int n = 0; n < 3; n++)
        cr_assert_eq(x->grad->data[n], 0.0f);
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, large_parallel)
{
    int64_t N = 300, C = 257;
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -4, 4, 3, true);
    nb_tensor *t = make_labels(N, C, 5);
    assert_loss_large(nb_cross_entropy, ref_ce, x, t, t, 1e-6, 1e-5, "cross_entropy");
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += exp((double)x->data[n * C + c]);
        for (int64_t c = 0; c < C; c++) {
            double d = (exp((double)x->data[n * C + c]) / s - (c == (int64_t)t->data[n])) / N;
            cr_assert_float_eq(x->grad->data[n * C + c], d, 1e-10 + 1e-5 * fabs(d),
                               "dlogits[%lld,%lld]", (long long)n, (long long)c);
        }
    }
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, same_bits_for_any_thread_count)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -4, 4, 5, false);
    nb_tensor *t = make_labels(300, 257, 2);
    assert_loss_same_bits(nb_cross_entropy, x, t, NB_REDUCE_MEAN);
    nb_tensor_free(x);
    nb_tensor_free(t);
}

Test(cross_entropy, shape_errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(4, 3));
    nb_tensor *t5 = nb_tensor_zeros(NB_SHAPE(5));
    nb_tensor *t4 = nb_tensor_zeros(NB_SHAPE(4));
    nb_tensor *t41 = nb_tensor_zeros(NB_SHAPE(4, 1));
    nb_tensor *x1 = nb_tensor_zeros(NB_SHAPE(4));
    nb_tensor *x3 = nb_tensor_zeros(NB_SHAPE(4, 3, 1));
    nb_tensor *x0 = nb_tensor_zeros(NB_SHAPE(4, 0));
    const struct {
        nb_tensor *x, *t;
        nb_reduction r;
        const char *msg;
    } cases[] = {
        {x, t5, NB_REDUCE_MEAN,
         "cross_entropy: expected logits [N,C] and labels [N], got [4,3] and [5]"},
        {x, t41, NB_REDUCE_MEAN,
         "cross_entropy: expected logits [N,C] and labels [N], got [4,3] and [4,1]"},
        {x1, t4, NB_REDUCE_NONE,
         "cross_entropy: expected logits [N,C] and labels [N], got [4] and [4]"},
        {x3, t4, NB_REDUCE_SUM,
         "cross_entropy: expected logits [N,C] and labels [N], got [4,3,1] and [4]"},
        {x0, t4, NB_REDUCE_SUM, "cross_entropy: logits [4,0] have no classes"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_error_clear();
        assert_error(nb_cross_entropy(cases[c].x, cases[c].t, cases[c].r), NB_ERR_SHAPE,
                     cases[c].msg);
    }
    assert_loss_arg_errors(nb_cross_entropy, "cross_entropy", x, t4, 3);
    nb_tensor_free(x);
    nb_tensor_free(t5);
    nb_tensor_free(t4);
    nb_tensor_free(t41);
    nb_tensor_free(x1);
    nb_tensor_free(x3);
    nb_tensor_free(x0);
}

Test(cross_entropy, label_errors)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 3), -1, 1, 11, true);
    struct {
        float labels[4];
        const char *msg;
    } cases[] = {
        {{0, 1, 3, -1}, "cross_entropy: labels[2] = 3 is not a class index in [0, 3)"},
        {{0, -1, 2, 1}, "cross_entropy: labels[1] = -1 is not a class index in [0, 3)"},
        {{1.5f, 0, 0, 0}, "cross_entropy: labels[0] = 1.5 is not a class index in [0, 3)"},
        {{0, 0, 0, NAN}, "cross_entropy: labels[3] = nan is not a class index in [0, 3)"},
        {{0, 0, 0, INFINITY}, "cross_entropy: labels[3] = inf is not a class index"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *t = nb_tensor_from(NB_SHAPE(4), cases[c].labels);
        for (int k = 0; k < 3; k++) {
            nb_error_clear();
            assert_error(nb_cross_entropy(x, t, loss_reductions[k]), NB_ERR_ARG, cases[c].msg);
        }
        nb_tensor_free(t);
    }
    nb_tensor_free(x);
}
