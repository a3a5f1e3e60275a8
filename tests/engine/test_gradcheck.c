/* nb_gradcheck itself: it must catch a wrong gradient, not just pass right ones. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(gradcheck);

/* y = x^2 with a backward that can be made wrong on purpose. */
static float scale_of_backward = 2.0f;

static nb_status sq_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = x->data[i] * x->data[i];
    return NB_OK;
}

static nb_status sq_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    const nb_tensor *x = nb_op_input(ctx, 0);
    nb_tensor *dx = nb_op_grad(ctx, 0);
    for (int64_t i = 0; i < x->size; i++)
        dx->data[i] += scale_of_backward * x->data[i] * dy->data[i];
    return NB_OK;
}

static const nb_op sq_op = {.name = "sq", .n_inputs = 1, .shape = nb_op_shape_same,
                            .forward = sq_forward, .backward = sq_backward};

static nb_tensor *f_sq(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_op_apply(&sq_op, in, 1, NULL);
}

static nb_tensor *f_null(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_add(in[0], NULL);
}

Test(gradcheck, passes_a_right_gradient_and_restores_inputs)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -2, 2, 1, true);
    nb_tensor *copy = nb_tensor_clone(x);
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, NULL, &r), NB_OK, "%s", nb_error());
    cr_assert(r.passed);
    cr_assert_eq(r.checked, 15);
    cr_assert_gt(r.max_abs_grad, 0.1);
    cr_assert_lt(r.max_abs_err, 1e-2);
    cr_assert_eq(memcmp(x->data, copy->data, sizeof(float) * 15), 0, "inputs restored");
    cr_assert_eq(nb_step_used(), 0, "step memory given back");
    nb_tensor_free(x);
    nb_tensor_free(copy);
}

Test(gradcheck, catches_a_wrong_gradient)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4), 0.5, 2, 2, true);
    scale_of_backward = 2.1f; /* 5% off */
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, NULL, &r), NB_OK);
    cr_assert_not(r.passed, "a 5%% error must be caught");
    cr_assert_eq(r.worst_input, 0);
    cr_assert_gt(fabs(r.worst_analytic - r.worst_numeric), 0.01);
    scale_of_backward = 0.0f; /* a zero gradient is reported as such */
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, NULL, &r), NB_OK);
    cr_assert_not(r.passed);
    cr_assert_eq(r.max_abs_grad, 0.0);
    scale_of_backward = 2.0f;
    nb_tensor_free(x);
}

Test(gradcheck, errors)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2), -1, 1, 3, true);
    nb_tensor *c = rand_tensor(NB_SHAPE(2), -1, 1, 4, false);
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(f_null, &x, 1, NULL, NULL, &r), NB_ERR_NULL);
    cr_assert_not(r.passed);
    cr_assert_eq(nb_gradcheck(f_sq, &c, 1, NULL, NULL, &r), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "does not require grad"), "%s", nb_error());
    cr_assert_eq(nb_gradcheck(NULL, &x, 1, NULL, NULL, &r), NB_ERR_ARG);
    nb_gradcheck_opts bad = {.eps = 0};
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, &bad, &r), NB_ERR_ARG);
    nb_tensor_free(x);
    nb_tensor_free(c);
}
