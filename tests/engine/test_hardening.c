/*
 * Regression tests for the engine defects of issue 7, each named after what it proves:
 * empty tensors (broadcast backward, ops that return at once), shapes near the size
 * bound, freezing a parameter between forward and backward, and the smaller message
 * defects. The op-specific ones (pooling on empty planes, bce and NaN, conv2d options)
 * are in the op suites; allocation sizes in test_memory.c; the checker in
 * test_gradcheck.c. Tests that hung before their fix would fail by meson's timeout (no
 * Criterion .timeout: under ASan it leaks inside Criterion).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(hardening);

#define P2(k) ((int64_t)1 << (k))

/* ---- #1: the backward of a broadcast op on an empty batch ---- */

typedef nb_tensor *(*binary_fn)(nb_tensor *, nb_tensor *);

/* The program, for one op: an empty last batch through a dense layer. */
static void empty_batch_dense(binary_fn op, const char *name)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(0, 2)), *w = nb_tensor_randn(NB_SHAPE(2, 3), 0, 1, 1);
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_eq(nb_tensor_set_requires_grad(w, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(b, true), NB_OK);
    nb_tensor *loss = nb_sum(op(nb_matmul(x, w), b));
    cr_assert_not_null(loss, "%s: %s", name, nb_error());
    cr_assert_eq(loss->data[0], 0.0f, "%s: a sum over nothing", name);
    cr_assert_eq(nb_backward(loss), NB_OK, "%s: %s", name, nb_error());
    for (int i = 0; i < 6; i++)
        cr_assert_eq(w->grad->data[i], 0.0f, "%s: dw[%d]", name, i);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(b->grad->data[i], 0.0f, "%s: db[%d]", name, i);

    /* Both sides broadcast into an empty output, the empty one on either side. */
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(4, 0, 1));
    cr_assert_eq(nb_tensor_set_requires_grad(e, true), NB_OK);
    nb_tensor *y = op(e, b);
    cr_assert_not_null(y, "%s: %s", name, nb_error());
    cr_assert_eq(y->ndim, 3);
    cr_assert(y->shape[0] == 4 && y->shape[1] == 0 && y->shape[2] == 3);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s: %s", name, nb_error());
    cr_assert_eq(nb_backward(nb_sum(op(b, e))), NB_OK, "%s: %s", name, nb_error());
    for (int i = 0; i < 3; i++)
        cr_assert_eq(b->grad->data[i], 0.0f, "%s: db[%d]", name, i);
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(b);
    nb_tensor_free(e);
}

Test(hardening, empty_broadcast_backward_add) { empty_batch_dense(nb_add, "add"); }
Test(hardening, empty_broadcast_backward_sub) { empty_batch_dense(nb_sub, "sub"); }
Test(hardening, empty_broadcast_backward_mul) { empty_batch_dense(nb_mul, "mul"); }
Test(hardening, empty_broadcast_backward_div) { empty_batch_dense(nb_div, "div"); }

/* The kernel itself, as an op author calls it: an empty g adds nothing (it read past
 * g and never ended when g had a 0 dimension). */
Test(hardening, unbroadcast_add_of_an_empty_gradient)
{
    const int64_t gshapes[][3] = {{0, 3, 1}, {2, 0, 3}, {5, 3, 0}};
    const int64_t rshapes[][3] = {{1, 3, 1}, {2, 1, 3}, {1, 3, 1}};
    for (int c = 0; c < 3; c++) {
        nb_tensor *g = nb_tensor_step(3, gshapes[c]);
        nb_tensor *grad = nb_tensor_full(3, rshapes[c], 7.0f);
        cr_assert(g && grad);
        nb_kernel_unbroadcast_add(grad, g);
        for (int64_t i = 0; i < grad->size; i++)
            cr_assert_eq(grad->data[i], 7.0f, "case %d [%lld]", c, (long long)i);
        nb_tensor_free(grad);
    }
}

/* ---- #8: an op on an empty tensor returns at once ---- */

/* transpose of [0, 2^40, 2^8]: it looped over the 2^40 empty rows (hours). */
Test(hardening, empty_transpose_returns_at_once)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(0, P2(40), P2(8)));
    cr_assert_not_null(x, "%s", nb_error());
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    for (int d = 1; d < 3; d++) {
        nb_tensor *y = nb_transpose(x, 0, d);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->size, 0);
        cr_assert_eq(y->shape[d], 0);
        cr_assert_eq(y->shape[0], x->shape[d]);
        cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    }
    nb_tensor *y = nb_transpose(x, 1, 2); /* the dims swapped are both non-zero */
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert(y->shape[0] == 0 && y->shape[1] == P2(8) && y->shape[2] == P2(40));
    nb_tensor_free(x);
}

/* softmax of [2^14, 0, 2^14] along axis 1 took seconds (2^28 empty lanes); [2^24, 0,
 * 2^24] would take hours. */
Test(hardening, empty_softmax_returns_at_once)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(P2(24), 0, P2(24)));
    cr_assert_not_null(x, "%s", nb_error());
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    for (int axis = -3; axis < 3; axis++) {
        nb_tensor *s = nb_softmax(x, axis), *l = nb_log_softmax(x, axis);
        cr_assert(s && l, "axis %d: %s", axis, nb_error());
        cr_assert(nb_tensor_same_shape(s, x) && nb_tensor_same_shape(l, x));
        cr_assert_eq(nb_backward(nb_add(nb_sum(s), nb_sum(l))), NB_OK, "%s", nb_error());
    }
    /* nb_kernel_lanes promises to do nothing on an empty tensor. */
    nb_kernel_lanes(x, 1, NULL, NULL, NULL, NULL);
    nb_tensor_free(x);
}

/* Each op of ops.h on an empty input whose other dimensions are huge (2^48 elements if
 * they were not empty): the right shape, a value where the output is not empty, and a
 * backward, all at once. */
static void check_empty(nb_tensor *y, int ndim, const int64_t *shape, const char *what)
{
    cr_assert_not_null(y, "%s: %s", what, nb_error());
    cr_assert_eq(y->ndim, ndim, "%s: rank", what);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(y->shape[d], shape[d], "%s: dim %d", what, d);
    nb_tensor *loss = y->size == 1 ? y : nb_sum(y);
    if (y->requires_grad)
        cr_assert_eq(nb_backward(loss), NB_OK, "%s: backward: %s", what, nb_error());
}

#define EXPECT(y, what, ...) check_empty((y), NB_SHAPE(__VA_ARGS__), what)
#define EXPECT0(y, what) check_empty((y), 0, NULL, what)

Test(hardening, every_op_on_an_empty_tensor_returns_at_once)
{
    const int64_t H = P2(24);
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(0, H, H));   /* [0, 2^24, 2^24] */
    nb_tensor *one = nb_tensor_ones(NB_SHAPE(1, 1));
    cr_assert(x && one, "%s", nb_error());
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(one, true), NB_OK);

    EXPECT(nb_neg(x), "neg", 0, H, H);
    EXPECT(nb_exp(x), "exp", 0, H, H);
    EXPECT(nb_log(x), "log", 0, H, H);
    EXPECT(nb_sqrt(x), "sqrt", 0, H, H);
    EXPECT(nb_pow(x, 3), "pow", 0, H, H);
    EXPECT(nb_relu(x), "relu", 0, H, H);
    EXPECT(nb_sigmoid(x), "sigmoid", 0, H, H);
    EXPECT(nb_tanh(x), "tanh", 0, H, H);
    EXPECT(nb_add_scalar(x, 1), "add_scalar", 0, H, H);
    EXPECT(nb_mul_scalar(x, 2), "mul_scalar", 0, H, H);
    EXPECT(nb_dropout(x, 0.5f, true, 1), "dropout", 0, H, H);
    EXPECT(nb_add(x, one), "add", 0, H, H);
    EXPECT(nb_sub(one, x), "sub", 0, H, H);
    EXPECT(nb_mul(x, one), "mul", 0, H, H);
    EXPECT(nb_div(one, x), "div", 0, H, H);
    EXPECT(nb_sum_axis(x, 1, false), "sum_axis", 0, H);
    EXPECT(nb_mean_axis(x, -1, true), "mean_axis", 0, H, 1);
    EXPECT(nb_reshape(x, NB_SHAPE(H, 0, H)), "reshape", H, 0, H);
    EXPECT(nb_transpose(x, 0, 2), "transpose", H, H, 0);
    EXPECT(nb_flatten(x), "flatten", 0, P2(48));

    nb_tensor *s = nb_sum(x), *m = nb_mean(x);
    EXPECT0(s, "sum");
    EXPECT0(m, "mean");
    cr_assert_eq(s->data[0], 0.0f);
    cr_assert(isnan(m->data[0]), "the mean of nothing");
    nb_tensor *ls = nb_mse(x, x, NB_REDUCE_SUM), *lm = nb_bce(x, x, NB_REDUCE_MEAN);
    EXPECT0(ls, "mse");
    EXPECT0(lm, "bce");
    EXPECT(nb_bce_logits(x, x, NB_REDUCE_NONE), "bce_logits", 0, H, H);
    cr_assert_eq(ls->data[0], 0.0f);
    cr_assert(isnan(lm->data[0]));

    /* matmul: an empty batch or M. */
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(3, 2));
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(P2(40), 0, 3)), *a2 = nb_tensor_zeros(NB_SHAPE(0, 3));
    cr_assert(w && a && a2);
    cr_assert_eq(nb_tensor_set_requires_grad(w, true), NB_OK);
    EXPECT(nb_matmul(a, w), "matmul batched", P2(40), 0, 2);
    EXPECT(nb_matmul(a2, w), "matmul", 0, 2);

    /* images: [0, 1, 2^24, 2^24] */
    nb_tensor *img = nb_tensor_zeros(NB_SHAPE(0, 1, H, H));
    nb_tensor *k = nb_tensor_ones(NB_SHAPE(1, 1, 3, 3)), *b = nb_tensor_ones(NB_SHAPE(1));
    cr_assert(img && k && b);
    cr_assert_eq(nb_tensor_set_requires_grad(img, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(k, true), NB_OK);
    nb_conv2d_opts co = nb_conv2d_default();
    EXPECT(nb_conv2d(img, k, b, &co), "conv2d", 0, 1, H - 2, H - 2);
    co.pad_same = true;
    co.stride_h = 2;
    EXPECT(nb_conv2d(img, k, NB_NONE, &co), "conv2d same", 0, 1, H / 2, H);
    nb_pool2d_opts po = nb_pool2d_default(2, 2);
    po.pad_top = po.pad_left = 1;
    EXPECT(nb_max_pool2d(img, &po), "max_pool2d", 0, 1, H / 2, H / 2);
    EXPECT(nb_avg_pool2d(img, &po), "avg_pool2d", 0, 1, H / 2, H / 2);
    EXPECT(nb_global_avg_pool2d(img), "global_avg_pool2d", 0, 1);
    nb_tensor *g = nb_tensor_ones(NB_SHAPE(1)), *be = nb_tensor_zeros(NB_SHAPE(1));
    nb_tensor *rm = nb_tensor_zeros(NB_SHAPE(1)), *rv = nb_tensor_ones(NB_SHAPE(1));
    cr_assert_eq(nb_tensor_set_requires_grad(g, true), NB_OK);
    EXPECT(nb_batch_norm(img, g, be, rm, rv, 0.1f, 1e-5f, true), "batch_norm", 0, 1, H, H);
    EXPECT(nb_batch_norm(img, g, be, rm, rv, 0.1f, 1e-5f, false), "batch_norm eval", 0, 1, H,
           H);
    cr_assert(rm->data[0] == 0.0f && rv->data[0] == 1.0f, "no statistics from no values");
    cr_assert_eq(g->grad->data[0], 0.0f);

    nb_tensor *logits = nb_tensor_zeros(NB_SHAPE(0, H)), *labels = nb_tensor_zeros(NB_SHAPE(0));
    cr_assert_eq(nb_tensor_set_requires_grad(logits, true), NB_OK);
    nb_tensor *ce = nb_cross_entropy(logits, labels, NB_REDUCE_MEAN);
    EXPECT0(ce, "cross_entropy");
    cr_assert(isnan(ce->data[0]));
    EXPECT(nb_cross_entropy(logits, labels, NB_REDUCE_NONE), "cross_entropy none", 0);

    for (int64_t i = 0; i < 6; i++)
        cr_assert_eq(w->grad->data[i], 0.0f);
    cr_assert_eq(one->grad->data[0], 0.0f);
    nb_tensor *all[] = {x, one, w, a, a2, img, k, b, g, be, rm, rv, logits, labels};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        nb_tensor_free(all[i]);
}

/* ---- #7: shapes near the bound ---- */

Test(hardening, shapes_are_bounded_counting_only_non_zero_dimensions)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(0, 1, P2(40), P2(40)));
    assert_error(t, NB_ERR_SHAPE, "tensor_zeros: shape [0,1,1099511627776,1099511627776] is "
                                  "too large");
    assert_error(nb_tensor_zeros(NB_SHAPE(P2(49))), NB_ERR_SHAPE, "too large");
    assert_error(nb_tensor_step(NB_SHAPE(0, P2(30), P2(19))), NB_ERR_SHAPE, "tensor_step");
    nb_tensor *ok = nb_tensor_zeros(NB_SHAPE(0, 1, P2(24), P2(24)));
    cr_assert_not_null(ok, "2^48 counting the non-zero dimensions is allowed: %s", nb_error());
    cr_assert_eq(ok->size, 0);
    nb_tensor_free(ok);
    float data[1] = {0};
    assert_error(nb_tensor_wrap(NB_SHAPE(0, P2(25), P2(24)), data), NB_ERR_SHAPE, "tensor_wrap");
    nb_tensor v;
    cr_assert_eq(nb_tensor_view_init(&v, NB_SHAPE(P2(50), 0), data), NB_ERR_SHAPE);
}

Test(hardening, arange_rejects_huge_counts)
{
    assert_error(nb_tensor_arange(0, 1e30f, 1e-30f), NB_ERR_SHAPE, "tensor_arange");
    assert_error(nb_tensor_arange(0, 1e30f, 1), NB_ERR_SHAPE, "more than 2^48 elements");
    assert_error(nb_tensor_arange(1e30f, -1e30f, -1e-20f), NB_ERR_SHAPE, "tensor_arange");
    nb_tensor *e = nb_tensor_arange(5, 1e30f, -1); /* the wrong way: empty */
    cr_assert_not_null(e, "%s", nb_error());
    cr_assert_eq(e->size, 0);
    nb_tensor_free(e);
    assert_error(nb_tensor_arange(0, INFINITY, 1), NB_ERR_ARG, "tensor_arange");
    assert_error(nb_tensor_arange(0, 1, NAN), NB_ERR_ARG, "tensor_arange");
}

/* Ops whose int arithmetic overflowed (UBSan) on empty tensors with huge dimensions:
 * the largest the bound allows, each dimension up to 2^48. */
Test(hardening, ops_on_huge_empty_shapes_do_not_overflow)
{
    const int64_t shapes[][4] = {{0, 1, P2(24), P2(24)}, {0, P2(48), 1, 1}, {1, 0, P2(48), 1},
                                 {P2(16), P2(16), 0, P2(16)}, {0, 1, 1, P2(48)}};
    for (int c = 0; c < 5; c++) {
        nb_tensor *x = nb_tensor_zeros(4, shapes[c]);
        cr_assert_not_null(x, "case %d: %s", c, nb_error());
        nb_tensor *sm = nb_softmax(x, 1), *ls = nb_log_softmax(x, -1);
        cr_assert(sm && ls, "case %d: %s", c, nb_error());
        nb_tensor *s = nb_sum_axis(x, shapes[c][2] ? 2 : 3, true); /* an empty output */
        cr_assert_not_null(s, "case %d: %s", c, nb_error());
        if (shapes[c][1] <= 1) { /* gamma [C] must be real: C is 0 or 1 here */
            nb_tensor *g = nb_tensor_ones(1, &shapes[c][1]);
            nb_tensor *be = nb_tensor_zeros(1, &shapes[c][1]);
            nb_tensor *rm = nb_tensor_zeros(1, &shapes[c][1]);
            nb_tensor *rv = nb_tensor_ones(1, &shapes[c][1]);
            for (int training = 0; training < 2; training++) {
                nb_tensor *y = nb_batch_norm(x, g, be, rm, rv, 0.1f, 1e-5f, training);
                cr_assert_not_null(y, "case %d: %s", c, nb_error());
                cr_assert(nb_tensor_same_shape(x, y));
            }
            nb_tensor_free(g);
            nb_tensor_free(be);
            nb_tensor_free(rm);
            nb_tensor_free(rv);
        }
        nb_tensor *gp = nb_global_avg_pool2d(x);
        if (shapes[c][2] && shapes[c][3])
            cr_assert_not_null(gp, "case %d: %s", c, nb_error());
        else
            assert_error(gp, NB_ERR_SHAPE, "empty image planes");
        nb_tensor_free(x);
    }
}

/* ---- #2: the graph as recorded wins ---- */

typedef nb_tensor *(*unary_fn)(nb_tensor *x, const void *ud);

static nb_tensor *f_relu(nb_tensor *x, const void *ud) { (void)ud; return nb_relu(x); }
static nb_tensor *f_sum(nb_tensor *x, const void *ud) { (void)ud; return nb_sum(x); }
static nb_tensor *f_reshape(nb_tensor *x, const void *ud)
{
    (void)ud;
    return nb_reshape(x, NB_SHAPE(-1));
}
static nb_tensor *f_transpose(nb_tensor *x, const void *ud)
{
    (void)ud;
    return nb_transpose(x, 0, -1);
}
static nb_tensor *f_softmax(nb_tensor *x, const void *ud)
{
    (void)ud;
    return nb_softmax(x, 1);
}
static nb_tensor *f_mul_scalar(nb_tensor *x, const void *ud)
{
    (void)ud;
    return nb_mul_scalar(x, 3);
}
static nb_tensor *f_matmul(nb_tensor *x, const void *ud) { return nb_matmul(x, (nb_tensor *)ud); }
static nb_tensor *f_matmul_right(nb_tensor *x, const void *ud)
{
    return nb_matmul((nb_tensor *)ud, x);
}
static nb_tensor *f_conv2d(nb_tensor *x, const void *ud)
{
    nb_tensor *img = (nb_tensor *)ud;
    return nb_conv2d(img, x, NB_NONE, NULL);
}

/* loss = sum(r * f(x)); x->grad after backward, with x frozen (set_requires_grad false)
 * between forward and backward or not. Returns a malloc'ed copy of x->grad. */
static float *grad_of(unary_fn f, nb_tensor *x, const void *ud, bool freeze)
{
    nb_tensor_zero_grad(x);
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *y = f(x, ud);
    cr_assert_not_null(y, "%s", nb_error());
    nb_tensor *r = nb_tensor_rand(y->ndim, y->shape, -1, 1, 99);
    nb_tensor *loss = nb_sum(nb_mul(y, r));
    cr_assert_not_null(loss, "%s", nb_error());
    if (freeze)
        cr_assert_eq(nb_tensor_set_requires_grad(x, false), NB_OK);
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    float *g = malloc((size_t)x->size * sizeof(float));
    cr_assert_not_null(g);
    memcpy(g, x->grad->data, (size_t)x->size * sizeof(float));
    nb_tensor_free(r);
    nb_step_reset();
    return g;
}

static void check_freeze(unary_fn f, nb_tensor *x, const void *ud, const char *name)
{
    float *want = grad_of(f, x, ud, false), *got = grad_of(f, x, ud, true);
    double mag = 0;
    for (int64_t i = 0; i < x->size; i++) {
        cr_assert_eq(got[i], want[i], "%s: frozen after forward, grad[%lld] %g != %g", name,
                     (long long)i, got[i], want[i]);
        mag += fabs(want[i]);
    }
    cr_assert_gt(mag, 0.0, "%s: the gradient is not trivially zero", name);
    free(want);
    free(got);
}

Test(hardening, freezing_after_forward_keeps_the_recorded_graph)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), -1, 1, 5, false);
    nb_tensor *b = rand_tensor(NB_SHAPE(4, 2), -1, 1, 6, false);
    nb_tensor *a = rand_tensor(NB_SHAPE(5, 3), -1, 1, 7, false);
    nb_tensor *img = rand_tensor(NB_SHAPE(2, 3, 5, 5), -1, 1, 8, false);
    nb_tensor *k = rand_tensor(NB_SHAPE(2, 3, 3, 3), -1, 1, 9, false);
    check_freeze(f_relu, x, NULL, "relu");
    check_freeze(f_sum, x, NULL, "sum");
    check_freeze(f_reshape, x, NULL, "reshape");
    check_freeze(f_transpose, x, NULL, "transpose");
    check_freeze(f_softmax, x, NULL, "softmax");
    check_freeze(f_mul_scalar, x, NULL, "mul_scalar");
    check_freeze(f_matmul, x, b, "matmul (left)");
    check_freeze(f_matmul_right, x, a, "matmul (right)");
    check_freeze(f_conv2d, k, img, "conv2d");
    nb_tensor *all[] = {x, b, a, img, k};
    for (int i = 0; i < 5; i++)
        nb_tensor_free(all[i]);
}

/* Marking a tensor after the forward does not add it to the recorded graph: its grad
 * stays as it was, and the op does not look for state it never saved. */
Test(hardening, marking_after_forward_does_not_join_the_graph)
{
    nb_tensor *logits = rand_tensor(NB_SHAPE(4, 3), -1, 1, 10, false);
    nb_tensor *labels = nb_tensor_from(NB_SHAPE(4), (float[]){0, 2, 1, 2});
    cr_assert_eq(nb_tensor_set_requires_grad(labels, true), NB_OK); /* records the node */
    nb_tensor *loss = nb_cross_entropy(logits, labels, NB_REDUCE_MEAN);
    cr_assert_not_null(loss, "%s", nb_error());
    cr_assert_eq(nb_tensor_set_requires_grad(logits, true), NB_OK);
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    for (int i = 0; i < 12; i++)
        cr_assert_eq(logits->grad->data[i], 0.0f, "logits were not in the graph");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(labels->grad->data[i], 0.0f, "labels get no gradient");

    /* matmul: b marked after the forward gets nothing, a its usual gradient. */
    nb_tensor *a = rand_tensor(NB_SHAPE(2, 3), -1, 1, 11, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(3, 2), -1, 1, 12, false);
    nb_tensor *y = nb_sum(nb_matmul(a, b));
    cr_assert_eq(nb_tensor_set_requires_grad(b, true), NB_OK);
    cr_assert_eq(nb_backward(y), NB_OK, "%s", nb_error());
    for (int i = 0; i < 6; i++)
        cr_assert_eq(b->grad->data[i], 0.0f);
    for (int i = 0; i < 2; i++)
        for (int kk = 0; kk < 3; kk++) /* d sum(a b) / da[i,k] = sum_j b[k,j] */
            cr_assert_float_eq(a->grad->data[i * 3 + kk],
                               b->data[kk * 2] + b->data[kk * 2 + 1], 1e-6);
    nb_tensor *all[] = {logits, labels, a, b};
    for (int i = 0; i < 4; i++)
        nb_tensor_free(all[i]);
}

/* ---- #9: messages ---- */

Test(hardening, output_shape_too_large_names_the_op)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(P2(30), 0)), *b = nb_tensor_zeros(NB_SHAPE(0, P2(30)));
    cr_assert(a && b);
    assert_error(nb_matmul(a, b), NB_ERR_SHAPE,
                 "matmul: output shape [1073741824,1073741824] is too large");
    nb_tensor_free(a);
    nb_tensor_free(b);
}

static nb_status silent_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    (void)ctx; (void)ndim; (void)shape;
    return NB_ERR_ARG;
}

static nb_status silent_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    (void)ctx; (void)y;
    return NB_ERR_NUMERIC;
}

static nb_status silent_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)ctx; (void)y; (void)dy;
    return NB_ERR_STATE;
}

static nb_status ok_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    (void)ctx;
    nb_tensor_fill(y, 1.0f);
    return NB_OK;
}

Test(hardening, a_custom_op_failing_without_a_message_gets_one)
{
    static const nb_op bad_shape = {.name = "quiet_shape", .n_inputs = 1,
                                    .shape = silent_shape, .forward = ok_forward};
    static const nb_op bad_forward = {.name = "quiet_forward", .n_inputs = 1,
                                      .shape = nb_op_shape_same, .forward = silent_forward};
    static const nb_op bad_backward = {.name = "quiet_backward", .n_inputs = 1,
                                       .shape = nb_op_shape_same, .forward = ok_forward,
                                       .backward = silent_backward};
    nb_tensor *x = rand_tensor(NB_SHAPE(3), -1, 1, 13, true);
    nb_tensor *c = rand_tensor(NB_SHAPE(3), -1, 1, 14, false); /* no backward needed */
    nb_error_clear();
    assert_error(nb_op_apply(&bad_shape, &c, 1, NULL), NB_ERR_ARG,
                 "quiet_shape: failed with bad argument and no message");
    nb_error_clear();
    assert_error(nb_op_apply(&bad_forward, &c, 1, NULL), NB_ERR_NUMERIC,
                 "quiet_forward: failed with NaN or infinity and no message");
    nb_error_clear();
    nb_tensor *y = nb_op_apply(&bad_backward, &x, 1, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward(nb_sum(y)), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "quiet_backward: backward failed with bad state and no "
                     "message"), "%s", nb_error());
    nb_tensor_free(x);
    nb_tensor_free(c);
}

Test(hardening, shape_strings_accept_null)
{
    char buf[32];
    cr_assert_eq(nb_shape_str(2, NULL, buf, sizeof buf), buf);
    cr_assert_str_eq(buf, "(null)");
    cr_assert_eq(nb_shape_str(0, NULL, buf, sizeof buf), buf);
    cr_assert_str_eq(buf, "[]");
    cr_assert_null(nb_shape_str(NB_SHAPE(2, 3), NULL, 10));
    cr_assert_null(nb_tensor_shape_str(NULL, NULL, 10));
    cr_assert_eq(nb_tensor_shape_str(NULL, buf, sizeof buf), buf);
    cr_assert_str_eq(buf, "(null)");
    cr_assert_eq(nb_shape_str(-1, NULL, buf, sizeof buf), buf);
    cr_assert_str_eq(buf, "(rank -1)");
    cr_assert_eq(nb_shape_str(9, (int64_t[9]){0}, buf, sizeof buf), buf);
    cr_assert_str_eq(buf, "(rank 9)");
    buf[0] = 'x';
    cr_assert_eq(nb_shape_str(NB_SHAPE(2), buf, 0), buf, "n = 0 writes nothing");
    cr_assert_eq(buf[0], 'x');
}

Test(hardening, print_with_one_entry_per_dimension)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_assert_not_null(f);
    nb_tensor *v = nb_tensor_arange(0, 5, 1);
    nb_tensor *m = nb_tensor_arange(0, 6, 1);
    nb_tensor *m2 = nb_reshape(m, NB_SHAPE(3, 2));
    nb_tensor_print(v, f, 1);
    nb_tensor_print(m2, f, 1);
    fclose(f);
    cr_assert(strstr(out, "tensor[5] [0, ...]\n"), "got: %s", out);
    cr_assert(strstr(out, "tensor[3,2] [[0, ...],\n ...]\n"), "got: %s", out);
    free(out);
    nb_tensor_free(v);
    nb_tensor_free(m);
}

/* ---- aliasing ---- */

/* A state input (written in place) that is also another input: batch norm would read a
 * gamma it had just overwritten. An error naming both (after the shape checks, which
 * come first); plain inputs may alias. */
Test(hardening, a_state_input_must_not_alias_another_input)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 3), -1, 1, 20, false);
    nb_tensor *g = nb_tensor_ones(NB_SHAPE(3)), *b = nb_tensor_zeros(NB_SHAPE(3));
    nb_tensor *rm = nb_tensor_zeros(NB_SHAPE(3)), *rv = nb_tensor_ones(NB_SHAPE(3));
    assert_error(nb_batch_norm(x, g, b, g, rv, 0.1f, 1e-5f, true), NB_ERR_ARG,
                 "batch_norm: input 3 (running_mean) shares its data with input 1 (gamma)");
    assert_error(nb_batch_norm(x, g, b, rm, rm, 0.1f, 1e-5f, true), NB_ERR_ARG,
                 "batch_norm: input 3 (running_mean) shares its data with input 4 "
                 "(running_var)");
    float data[4] = {0, 0, 0, 0};
    nb_tensor *view = nb_tensor_wrap(NB_SHAPE(3), data), *part = nb_tensor_wrap(NB_SHAPE(3),
                                                                               data + 1);
    assert_error(nb_batch_norm(x, g, part, view, rv, 0.1f, 1e-5f, false), NB_ERR_ARG,
                 "input 3 (running_mean) shares its data with input 2 (beta)");
    cr_assert(rm->data[0] == 0 && rv->data[0] == 1 && data[0] == 0, "nothing updated");
    /* gamma and beta may be one tensor; so may both operands of a binary op. */
    nb_tensor *y = nb_batch_norm(x, g, g, rm, rv, 0.1f, 1e-5f, true);
    cr_assert_not_null(y, "%s", nb_error());
    nb_tensor *all[] = {x, g, b, rm, rv, view, part};
    for (int i = 0; i < 7; i++)
        nb_tensor_free(all[i]);
}
