/*
 * Anomaly mode (nb_set_anomaly_check): the first NaN or infinity an op makes, in forward
 * or backward, is an NB_ERR_NUMERIC error naming the op, its input shapes, the pass, the
 * scope, and the element; an input that already held one is named instead. Off by
 * default, and off it changes nothing.
 */
#include <string.h>

#include "../common.h"

static void anomaly_fini(void)
{
    nb_set_anomaly_check(false);
    nb_set_scope(NULL);
    nb_test_fini();
}

TestSuite(anomaly, .fini = anomaly_fini);

/* A small network whose hidden values are made negative on purpose, so that the log
 * deep in the chain (after matmul, add, tanh, mul_scalar, sub) gets a negative input
 * at row 1, column 2 only:  loss = sum(exp(log(h) * 0.5)). */
typedef struct net {
    nb_tensor *x, *w, *b, *shift;
} net;

static net net_make(void)
{
    net n;
    n.x = nb_tensor_from(NB_SHAPE(2, 3), (float[]){0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f});
    n.w = nb_tensor_from(NB_SHAPE(3, 3), (float[]){1, 0, 0, 0, 1, 0, 0, 0, 1}); /* identity */
    n.b = nb_tensor_zeros(NB_SHAPE(3));
    /* h = 2 tanh(x) - shift: only h[1,2] = 2 tanh(0.6) - 2 < 0. */
    n.shift = nb_tensor_from(NB_SHAPE(2, 3), (float[]){0, 0, 0, -1, 0, 2});
    cr_assert(n.x && n.w && n.b && n.shift);
    cr_assert_eq(nb_tensor_set_requires_grad(n.w, true), NB_OK);
    cr_assert_eq(nb_tensor_set_requires_grad(n.b, true), NB_OK);
    return n;
}

static void net_free(net *n)
{
    nb_tensor_free(n->x);
    nb_tensor_free(n->w);
    nb_tensor_free(n->b);
    nb_tensor_free(n->shift);
}

static nb_tensor *net_loss(const net *n, const char *scope)
{
    nb_tensor *h = nb_tanh(nb_add(nb_matmul(n->x, n->w), n->b));
    h = nb_sub(nb_mul_scalar(h, 2.0f), n->shift);
    const char *prev = nb_set_scope(scope);
    nb_tensor *l = nb_log(h);
    nb_set_scope(prev);
    return nb_sum(nb_exp(nb_mul_scalar(l, 0.5f)));
}

Test(anomaly, off_by_default_and_no_effect_when_off)
{
    cr_assert_not(nb_anomaly_check_enabled());
    net n = net_make();
    nb_error_clear();
    nb_tensor *loss = net_loss(&n, "dense_2");
    cr_assert_not_null(loss, "off: the NaN goes through: %s", nb_error());
    cr_assert(isnan(loss->data[0]));
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_error_code(), NB_OK, "nothing recorded: %s", nb_error());
    cr_assert(isnan(n.w->grad->data[8]), "the NaN reaches the gradient");

    /* The mode nests: set returns the previous one. */
    cr_assert_not(nb_set_anomaly_check(true));
    cr_assert(nb_anomaly_check_enabled());
    cr_assert(nb_set_anomaly_check(false));
    cr_assert_not(nb_anomaly_check_enabled());

    /* On, a finite network runs exactly as off: same values and gradients -- once the
     * NaN left in the grads is gone, which anomaly mode reports as what it is. */
    nb_tensor_fill(n.shift, -3.0f); /* every h > 0 */
    nb_set_anomaly_check(true);
    cr_assert_eq(nb_backward(net_loss(&n, NULL)), NB_ERR_NUMERIC);
    cr_assert(strstr(nb_error(), "anomaly: backward of add (inputs [2,3], [3]): the gradient "
                     "of input 1 already held a NaN or infinity before it"), "%s", nb_error());
    nb_set_anomaly_check(false);
    nb_tensor_zero_grad(n.w);
    nb_tensor_zero_grad(n.b);
    loss = net_loss(&n, NULL);
    cr_assert_not_null(loss, "%s", nb_error());
    float off = loss->data[0], gw_off[9];
    cr_assert_eq(nb_backward(loss), NB_OK);
    memcpy(gw_off, n.w->grad->data, sizeof gw_off);
    nb_tensor_zero_grad(n.w);
    nb_set_anomaly_check(true);
    loss = net_loss(&n, NULL);
    cr_assert_not_null(loss, "%s", nb_error());
    cr_assert_eq(loss->data[0], off);
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    cr_assert_eq(memcmp(gw_off, n.w->grad->data, sizeof gw_off), 0);
    net_free(&n);
}

Test(anomaly, forward_reports_the_op_its_inputs_scope_and_element)
{
    net n = net_make();
    nb_set_anomaly_check(true);
    nb_error_clear();
    nb_tensor *loss = net_loss(&n, "dense_2");
    cr_assert_null(loss, "the NaN is caught");
    cr_assert_eq(nb_error_code(), NB_ERR_NUMERIC);
    /* The ops after log got a NULL input and kept log's message. */
    cr_assert_str_eq(nb_error(), "anomaly: forward of log in dense_2 (inputs [2,3]) produced "
                                 "NaN at output element 5");
    cr_assert_eq(nb_step_used() < 64 * 1024, true, "the failed op gave its memory back");

    /* Without a scope the message has none. */
    nb_step_reset();
    nb_error_clear();
    cr_assert_null(net_loss(&n, NULL));
    cr_assert_str_eq(nb_error(), "anomaly: forward of log (inputs [2,3]) produced NaN at "
                                 "output element 5");

    /* -inf from log(0): named with its value. */
    nb_tensor *z = nb_tensor_from(NB_SHAPE(4), (float[]){1, 2, 0, 3});
    assert_error(nb_log(z), NB_ERR_NUMERIC,
                 "anomaly: forward of log (inputs [4]) produced -inf at output element 2");
    /* A binary op names both input shapes. */
    nb_tensor *big = nb_tensor_full(NB_SHAPE(2, 1), 3e38f);
    assert_error(nb_mul(big, z), NB_ERR_NUMERIC,
                 "anomaly: forward of mul (inputs [2,1], [4]) produced inf at output element 1");
    nb_tensor_free(z);
    nb_tensor_free(big);
    net_free(&n);
}

Test(anomaly, forward_names_an_input_that_already_held_the_value)
{
    nb_set_anomaly_check(true);
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){1, NAN, 2});
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(1, 1, 2, 2));
    nb_tensor *img = nb_tensor_full(NB_SHAPE(1, 1, 3, 3), INFINITY);
    assert_error(nb_exp(x), NB_ERR_NUMERIC, "anomaly: forward of exp (inputs [3]): input 0 "
                                            "already holds a NaN or infinity");
    const char *prev = nb_set_scope("conv_1");
    assert_error(nb_conv2d(img, w, NB_NONE, NULL), NB_ERR_NUMERIC,
                 "anomaly: forward of conv2d in conv_1 (inputs [1,1,3,3], [1,1,2,2], none): "
                 "input 0 (x) already holds a NaN or infinity");
    nb_set_scope(prev);
    /* 0 * NaN is NaN: still the input's fault. */
    assert_error(nb_mul_scalar(x, 0.0f), NB_ERR_NUMERIC, "input 0 already holds");
    /* An output that is finite despite a NaN input is no anomaly: NaN^0 = 1. */
    nb_tensor *y = nb_pow(x, 0.0f);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->data[1], 1.0f);
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(img);
}

Test(anomaly, backward_reports_the_op_that_made_the_gradient)
{
    /* sqrt(0) is finite, its gradient +inf: found in backward, at sqrt, in its scope. */
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){1, 0, 4});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_set_anomaly_check(true);
    nb_tensor *h = nb_mul_scalar(x, 2.0f);
    const char *prev = nb_set_scope("norm");
    nb_tensor *s = nb_sqrt(h);
    nb_set_scope(prev);
    nb_tensor *loss = nb_sum(nb_add_scalar(s, 1.0f));
    cr_assert_not_null(loss, "forward is finite: %s", nb_error());
    cr_assert_eq(nb_backward(loss), NB_ERR_NUMERIC);
    cr_assert_str_eq(nb_error(), "anomaly: backward of sqrt in norm (inputs [3]) produced inf "
                                 "in the gradient of input 0, element 1");
    /* Off, the same backward runs and the infinity reaches x. */
    nb_set_anomaly_check(false);
    nb_step_reset();
    nb_tensor_zero_grad(x);
    loss = nb_sum(nb_add_scalar(nb_sqrt(nb_mul_scalar(x, 2.0f)), 1.0f));
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    cr_assert(isinf(x->grad->data[1]));
    nb_tensor_free(x);
}

Test(anomaly, backward_names_a_gradient_that_already_held_the_value)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 2), -1, 1, 3, true);
    nb_set_anomaly_check(true);
    nb_tensor *y = nb_tanh(x);
    cr_assert_not_null(y, "%s", nb_error());
    nb_tensor *seed = nb_tensor_from(NB_SHAPE(2, 2), (float[]){1, 1, NAN, 1});
    cr_assert_eq(nb_backward_seed(y, seed), NB_ERR_NUMERIC);
    cr_assert_str_eq(nb_error(), "anomaly: backward of tanh (inputs [2,2]): the output's "
                                 "gradient already holds a NaN or infinity");
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* A deep chain: the bad op is found where it is, not at the loss. */
Test(anomaly, deep_chain_is_reported_at_the_bad_op)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(5), 0.5f, 1, 4, true);
    nb_set_anomaly_check(true);
    nb_tensor *h = x;
    for (int i = 0; i < 50; i++)
        h = nb_add_scalar(nb_mul_scalar(h, 0.9f), 0.01f);
    h = nb_sub(h, h); /* exactly 0 */
    cr_assert_not_null(h, "%s", nb_error());
    nb_tensor *p = nb_pow(h, -1.0f); /* 1 / 0 = inf */
    assert_error(p, NB_ERR_NUMERIC, "anomaly: forward of pow (inputs [5]) produced inf at "
                                    "output element 0");
    assert_error(nb_sum(nb_tanh(p)), NB_ERR_NUMERIC, "forward of pow");
    nb_tensor_free(x);
}
