/* nb_gradcheck itself: it must catch a wrong gradient, not just pass right ones. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(gradcheck);

/* y = x^2 with a backward that can be made wrong on purpose. */
static float scale_of_backward = 2.0f;
/* When poison_index >= 0, backward writes poison_value there (NaN, infinity, ...). */
static int64_t poison_index = -1;
static float poison_value;

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
    if (poison_index >= 0 && poison_index < x->size)
        dx->data[poison_index] = poison_value;
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

/* y = x^2 whose forward turns NaN where x > 100: the numeric side goes NaN. */
static nb_status nan_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = x->data[i] > 100 ? NAN : x->data[i] * x->data[i];
    return NB_OK;
}

static const nb_op nan_sq_op = {.name = "nan_sq", .n_inputs = 1, .shape = nb_op_shape_same,
                                .forward = nan_forward, .backward = sq_backward};

static nb_tensor *f_nan_sq(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_op_apply(&nan_sq_op, in, 1, NULL);
}

/* The checker against deliberately wrong gradients: off by a factor either way, the
 * wrong sign, NaN or an infinity at one element, zero. None may pass, whatever the
 * (finite) tolerance. */
Test(gradcheck, fails_every_kind_of_wrong_gradient)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 4), 0.5, 2, 5, true);
    const float scales[] = {2.2f, 1.8f, 4.0f, 1.0f, -2.0f, 0.0f};
    for (int k = 0; k < 6; k++) {
        scale_of_backward = scales[k];
        nb_gradcheck_result r;
        cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, NULL, &r), NB_OK, "%s", nb_error());
        cr_assert_not(r.passed, "a gradient scaled by %g / 2 passed", scales[k]);
        cr_assert_eq(r.checked, 12);
        cr_assert_gt(fabs(r.worst_analytic - r.worst_numeric), 0.05);
    }
    scale_of_backward = 2.0f;
    const float poisons[] = {NAN, INFINITY, -INFINITY};
    const nb_gradcheck_opts loose = {.eps = 1e-3f, .atol = 1e30f, .rtol = 1e30f};
    for (int k = 0; k < 3; k++) {
        poison_index = 7;
        poison_value = poisons[k];
        for (int o = 0; o < 2; o++) {
            nb_gradcheck_result r;
            cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, o ? &loose : NULL, &r), NB_OK);
            cr_assert_not(r.passed, "an analytic %g passed (tolerances %d)", poisons[k], o);
            cr_assert_eq(r.worst_input, 0);
            cr_assert_eq(r.worst_index, 7, "the bad element is named");
            cr_assert(!isfinite(r.worst_analytic));
            cr_assert(isinf(r.max_abs_err), "max_abs_err %g", r.max_abs_err);
            cr_assert_gt(r.max_abs_grad, 0.0, "finite elements still count");
            cr_assert(isfinite(r.max_abs_grad));
        }
    }
    poison_index = -1;
    nb_tensor_free(x);
}

/* A NaN on the numeric side (the function itself is NaN near the point) fails too. */
Test(gradcheck, fails_a_nan_numeric_derivative)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){1.0f, 100.0f, -3.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(f_nan_sq, &x, 1, NULL, NULL, &r), NB_OK, "%s", nb_error());
    cr_assert_not(r.passed, "x + eps = 100.001 gives NaN: numeric NaN");
    cr_assert_eq(r.worst_index, 1);
    cr_assert(isnan(r.worst_numeric));
    nb_tensor_free(x);
}

/* Argument errors: NB_ERR_ARG with a message, and res written (passed = false, nothing
 * checked), not left as it was. */
Test(gradcheck, argument_errors_write_res)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2), 1, 2, 6, true);
    nb_tensor *big = nb_tensor_from(NB_SHAPE(2), (float[]){1e8f, 1.0f});
    cr_assert_eq(nb_tensor_set_requires_grad(big, true), NB_OK);
    const struct {
        nb_gradcheck_opts o;
        const char *msg;
    } bad[] = {
        {{.eps = NAN, .atol = 1e-3f, .rtol = 1e-2f}, "eps must be finite and positive"},
        {{.eps = INFINITY, .atol = 1e-3f, .rtol = 1e-2f}, "eps must be finite and positive"},
        {{.eps = -1e-3f, .atol = 1e-3f, .rtol = 1e-2f}, "eps must be finite and positive"},
        {{.eps = 1e-3f, .atol = NAN, .rtol = 1e-2f}, "atol and rtol must be finite and >= 0"},
        {{.eps = 1e-3f, .atol = 1e-3f, .rtol = NAN}, "atol and rtol must be finite and >= 0"},
        {{.eps = 1e-3f, .atol = INFINITY, .rtol = 0}, "atol and rtol must be finite and >= 0"},
        {{.eps = 1e-3f, .atol = -1, .rtol = 0}, "atol and rtol must be finite and >= 0"},
        {{.eps = 1e-3f, .atol = 0, .rtol = -1e-2f}, "atol and rtol must be finite and >= 0"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        nb_gradcheck_result r;
        memset(&r, 0xa5, sizeof r);
        r.passed = true;
        cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, &bad[k].o, &r), NB_ERR_ARG, "case %zu",
                     k);
        cr_assert(strstr(nb_error(), bad[k].msg), "case %zu: %s", k, nb_error());
        cr_assert_not(r.passed);
        cr_assert_eq(r.checked, 0);
        cr_assert_eq(r.worst_input, -1);
    }
    /* eps 1e-3 does not change 1e8 in float: an error, not a pass on a zero difference. */
    nb_gradcheck_result r;
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(nb_gradcheck(f_sq, &big, 1, NULL, NULL, &r), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "gradcheck: eps 0.001 does not change input 0 element 0 "
                     "(value 1e+08); use a larger eps"), "%s", nb_error());
    cr_assert_not(r.passed);
    const nb_gradcheck_opts tiny = {.eps = 1e-30f, .atol = 1e-3f, .rtol = 1e-2f};
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, &tiny, &r), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "does not change input 0"), "%s", nb_error());
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(nb_gradcheck(f_sq, &x, -1, NULL, NULL, &r), NB_ERR_ARG);
    cr_assert_not(r.passed);
    cr_assert_eq(r.worst_input, -1);
    cr_assert_eq(nb_gradcheck(f_sq, NULL, 1, NULL, NULL, &r), NB_ERR_ARG);
    cr_assert_eq(nb_gradcheck(f_sq, &x, 1, NULL, NULL, NULL), NB_ERR_ARG);
    nb_tensor_free(x);
    nb_tensor_free(big);
}

/* Inputs that require grad but are empty: nothing was checked, which is not a pass. */
Test(gradcheck, empty_inputs_are_not_a_pass)
{
    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3));
    cr_assert_eq(nb_tensor_set_requires_grad(e, true), NB_OK);
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(f_sq, &e, 1, NULL, NULL, &r), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "gradcheck: no element to check"), "%s", nb_error());
    cr_assert_not(r.passed);
    cr_assert_eq(r.checked, 0);
    nb_tensor_free(e);
}
