/*
 * tests/ops/axis_tests.h - the checks shared by the suites of the ops along an axis: the
 * reductions (test_sum.c, test_mean.c) and softmax (test_softmax.c, test_log_softmax.c).
 * Each runs the same assertions on the op it is given, against loops in double.
 */
#ifndef NABLA_TESTS_OPS_AXIS_TESTS_H
#define NABLA_TESTS_OPS_AXIS_TESTS_H

#include <string.h>

#include "../common.h"

/* The errors every op along an axis reports, each "<name>: ...": axes 2 and -3 out of
 * range for [2,3] and axis 0 for a 0-D input (NB_ERR_ARG), and a NULL input
 * (NB_ERR_NULL). call(op, x, axis, keepdim) runs the op under test. */
static inline void check_axis_errors(const char *name,
                                     nb_tensor *(*call)(const void *op, nb_tensor *x,
                                                        int axis, bool keepdim),
                                     const void *op)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *s = nb_tensor_scalar(1);
    char want[96];
    snprintf(want, sizeof want, "%s: axis 2 is out of range for shape [2,3]", name);
    assert_error(call(op, x, 2, false), NB_ERR_ARG, want);
    snprintf(want, sizeof want, "%s: axis -3 is out of range for shape [2,3]", name);
    assert_error(call(op, x, -3, true), NB_ERR_ARG, want);
    snprintf(want, sizeof want, "%s: axis 0 is out of range for shape []", name);
    assert_error(call(op, s, 0, false), NB_ERR_ARG, want);
    snprintf(want, sizeof want, "%s: input 0 is NULL", name);
    nb_error_clear();
    assert_error(call(op, NULL, 0, false), NB_ERR_NULL, want);
    nb_tensor_free(x);
    nb_tensor_free(s);
}

/* ---- reductions: nb_sum / nb_sum_axis, nb_mean / nb_mean_axis ---- */

/* A reduction under test. */
typedef struct reduce_op {
    const char *name;                                          /* "sum" */
    nb_tensor *(*all)(nb_tensor *x);                           /* nb_sum */
    nb_tensor *(*axis)(nb_tensor *x, int axis, bool keepdim);  /* nb_sum_axis */
    bool mean;  /* the reference divides each sum by its number of elements */
} reduce_op;

typedef struct reduce_args {
    const reduce_op *op;
    int axis;
    bool keepdim;
} reduce_args;

static inline nb_tensor *f_reduce_all(nb_tensor *const *in, void *ud)
{
    return ((const reduce_args *)ud)->op->all(in[0]);
}

static inline nb_tensor *f_reduce_axis(nb_tensor *const *in, void *ud)
{
    const reduce_args *a = ud;
    return a->op->axis(in[0], a->axis, a->keepdim);
}

static inline nb_tensor *call_reduce_axis(const void *op, nb_tensor *x, int axis,
                                          bool keepdim)
{
    return ((const reduce_op *)op)->axis(x, axis, keepdim);
}

/* want = the sum (or mean) of all of x's elements. */
static inline double ref_reduce_all(const reduce_op *op, const nb_tensor *x)
{
    double want = 0;
    for (int64_t i = 0; i < x->size; i++)
        want += x->data[i];
    if (op->mean)
        want /= (double)x->size;
    return want;
}

/* want[...] = sum (or mean) over `axis` (in [0, ndim)) of x, by walking x's
 * multi-index. */
static inline void ref_reduce_axis(const reduce_op *op, const nb_tensor *x, int axis,
                                   double *want, int64_t n_out)
{
    memset(want, 0, (size_t)n_out * sizeof *want);
    int64_t idx[NB_MAX_DIMS] = {0};
    for (int64_t k = 0; k < x->size; k++) {
        int64_t o = 0;
        for (int d = 0; d < x->ndim; d++)
            if (d != axis)
                o = o * x->shape[d] + idx[d];
        want[o] += x->data[k];
        for (int d = x->ndim - 1; d >= 0 && ++idx[d] == x->shape[d]; d--)
            idx[d] = 0;
    }
    if (op->mean)
        for (int64_t o = 0; o < n_out; o++)
            want[o] /= (double)x->shape[axis];
}

/* The reduction of all elements of rank-4 tensors of odd sizes is 0-D and matches the
 * reference within atol (rtol 1e-6). */
static inline void check_reduce_all(const reduce_op *op, double atol)
{
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 17, 1}, {5, 4, 3, 2}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -2, 2, 40 + c, false);
        nb_tensor *y = op->all(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(y->ndim, 0);
        double want = ref_reduce_all(op, x);
        assert_close(y->data, &want, 1, atol, 1e-6, op->name);
        nb_tensor_free(x);
    }
}

/* Every axis of a [2,3,4,5] tensor, negative or not, with and without keepdim: the
 * output shape, and values within atol (rtol 1e-6). */
static inline void check_reduce_every_axis(const reduce_op *op, double atol)
{
    char what[32];
    snprintf(what, sizeof what, "%s_axis", op->name);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -2, 2, 50, false);
    double want[120];
    for (int axis = -4; axis < 4; axis++)
        for (int keep = 0; keep < 2; keep++) {
            int a = axis < 0 ? axis + 4 : axis;
            nb_tensor *y = op->axis(x, axis, keep);
            cr_assert_not_null(y, "%s", nb_error());
            cr_assert_eq(y->ndim, keep ? 4 : 3);
            for (int d = 0, k = 0; d < 4; d++) {
                if (d == a && !keep)
                    continue;
                cr_assert_eq(y->shape[k], d == a ? 1 : x->shape[d], "axis %d dim %d", axis, d);
                k++;
            }
            cr_assert_eq(y->size, 120 / x->shape[a]);
            ref_reduce_axis(op, x, a, want, y->size);
            assert_close(y->data, want, y->size, atol, 1e-6, what);
        }
    nb_tensor_free(x);
}

/* Above the parallel threshold ([300,257]): both axes within atol_axis and all elements
 * within atol_all of the reference (rtol 1e-6). */
static inline void check_reduce_large(const reduce_op *op, double atol_axis, double atol_all)
{
    char what[2][32];
    snprintf(what[0], sizeof what[0], "%s_axis large", op->name);
    snprintf(what[1], sizeof what[1], "%s large", op->name);
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 60, false);
    double want[300];
    for (int axis = 0; axis < 2; axis++) {
        nb_tensor *y = op->axis(x, axis, false);
        cr_assert_not_null(y, "%s", nb_error());
        ref_reduce_axis(op, x, axis, want, y->size);
        assert_close(y->data, want, y->size, atol_axis, 1e-6, what[0]);
    }
    double all = ref_reduce_all(op, x);
    assert_close(op->all(x)->data, &all, 1, atol_all, 1e-6, what[1]);
    nb_tensor_free(x);
}

/* The full and both axis reductions of a [300,257] tensor (requiring grad or not) are
 * the same bits for 1 and 2 threads. */
static inline void check_reduce_same_bits(const reduce_op *op, bool requires_grad)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -1, 1, 61, requires_grad);
    int threads = nb_num_threads();
    float got[2][3][300] = {{{0}}};
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor *y[3] = {op->all(x), op->axis(x, 0, false), op->axis(x, 1, true)};
        for (int k = 0; k < 3; k++)
            memcpy(got[t][k], y[k]->data, (size_t)y[k]->size * sizeof(float));
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got[0], got[1], sizeof got[0]), 0);
    nb_tensor_free(x);
}

/* Gradients by finite differences: rank 4 with size-1 dims and every axis, then ranks
 * 0, 1, 2 and a long axis. */
static inline void check_reduce_gradients(const reduce_op *op)
{
    char axis[32], what[48];
    snprintf(axis, sizeof axis, "%s_axis", op->name);
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {2, 3, 1, 4}, {1, 17, 1, 3}};
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = rand_tensor(4, shapes[c], -1, 1, 70 + c, true);
        assert_gradcheck(f_reduce_all, &x, 1, &(reduce_args){op, 0, false}, NULL, op->name);
        for (int a = -4; a < 4; a++) {
            reduce_args r = {op, a, a % 2 != 0};
            assert_gradcheck(f_reduce_axis, &x, 1, &r, NULL, axis);
        }
        nb_tensor_free(x);
    }
    nb_tensor *s = rand_tensor(0, NULL, -1, 1, 80, true);
    nb_tensor *v = rand_tensor(NB_SHAPE(17), -1, 1, 81, true);
    nb_tensor *m = rand_tensor(NB_SHAPE(3, 17), -1, 1, 82, true);
    snprintf(what, sizeof what, "%s 0-D", op->name);
    assert_gradcheck(f_reduce_all, &s, 1, &(reduce_args){op, 0, false}, NULL, what);
    snprintf(what, sizeof what, "%s 1-D", op->name);
    assert_gradcheck(f_reduce_all, &v, 1, &(reduce_args){op, 0, false}, NULL, what);
    snprintf(what, sizeof what, "%s 1-D", axis);
    assert_gradcheck(f_reduce_axis, &v, 1, &(reduce_args){op, 0, false}, NULL, what);
    snprintf(what, sizeof what, "%s [3,17]", axis);
    assert_gradcheck(f_reduce_axis, &m, 1, &(reduce_args){op, -1, false}, NULL, what);
    snprintf(what, sizeof what, "%s [3,17] 0", axis);
    assert_gradcheck(f_reduce_axis, &m, 1, &(reduce_args){op, 0, true}, NULL, what);
    nb_tensor_free(s);
    nb_tensor_free(v);
    nb_tensor_free(m);
}

/* check_axis_errors for the reduction along an axis, then a NULL input to the full one. */
static inline void check_reduce_errors(const reduce_op *op)
{
    char axis_name[48]; /* nb_sum_axis reports as "sum_axis" */
    snprintf(axis_name, sizeof axis_name, "%s_axis", op->name);
    check_axis_errors(axis_name, call_reduce_axis, op);
    char want[96];
    snprintf(want, sizeof want, "%s: input 0 is NULL", op->name);
    nb_error_clear();
    assert_error(op->all(NULL), NB_ERR_NULL, want);
}

/* ---- softmax and log_softmax ---- */

/* softmax or log_softmax under test. */
typedef struct softmax_op {
    const char *name;                            /* "softmax" */
    nb_tensor *(*fn)(nb_tensor *x, int axis);    /* nb_softmax */
    bool log;                                    /* the reference is log softmax */
} softmax_op;

typedef struct softmax_args {
    const softmax_op *op;
    int axis;
} softmax_args;

static inline nb_tensor *f_softmax_op(nb_tensor *const *in, void *ud)
{
    const softmax_args *a = ud;
    return a->op->fn(in[0], a->axis);
}

static inline nb_tensor *call_softmax_op(const void *op, nb_tensor *x, int axis,
                                         bool keepdim)
{
    (void)keepdim;
    return ((const softmax_op *)op)->fn(x, axis);
}

/* want = softmax (or log_softmax) of x along `axis` (in [0, ndim)): each lane by its own
 * loop in double, with the lane's max factored out; log_softmax is x - log sum e^x. */
static inline void ref_softmax_op(const softmax_op *op, const nb_tensor *x, int axis,
                                  double *want)
{
    int64_t stride = 1;
    for (int d = axis + 1; d < x->ndim; d++)
        stride *= x->shape[d];
    int64_t L = x->shape[axis];
    for (int64_t k = 0; k < x->size; k++) {
        if (k / stride % L != 0)
            continue; /* k starts a lane */
        double m = -INFINITY, s = 0;
        for (int64_t l = 0; l < L; l++)
            m = fmax(m, x->data[k + l * stride]);
        for (int64_t l = 0; l < L; l++)
            s += exp(x->data[k + l * stride] - m);
        for (int64_t l = 0; l < L; l++) {
            double v = x->data[k + l * stride];
            want[k + l * stride] = op->log ? v - m - log(s) : exp(v - m) / s;
        }
    }
}

/* Every axis of a [2,3,4,5] tensor, negative or not: the shape is kept and the values
 * are within atol, rtol of the reference. */
static inline void check_softmax_every_axis(const softmax_op *op, double atol, double rtol)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 4, 5), -5, 5, 1, false);
    double want[120];
    for (int axis = -4; axis < 4; axis++) {
        nb_tensor *y = op->fn(x, axis);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y));
        ref_softmax_op(op, x, (axis + 4) % 4, want);
        assert_close(y->data, want, 120, atol, rtol, op->name);
    }
    nb_tensor_free(x);
}

/* Above the parallel threshold ([300,257], values in [-10, 10)): both axes within atol,
 * rtol of the reference. */
static inline void check_softmax_large(const softmax_op *op, double atol, double rtol)
{
    char what[32];
    snprintf(what, sizeof what, "%s large", op->name);
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -10, 10, 3, false);
    double *want = malloc(300 * 257 * sizeof *want);
    for (int axis = 0; axis < 2; axis++) {
        nb_tensor *y = op->fn(x, axis);
        cr_assert_not_null(y, "%s", nb_error());
        ref_softmax_op(op, x, axis, want);
        assert_close(y->data, want, x->size, atol, rtol, what);
    }
    free(want);
    nb_tensor_free(x);
}

/* Forward and backward along axis 0 of a [300,257] tensor are the same bits for 1 and 2
 * threads. */
static inline void check_softmax_same_bits(const softmax_op *op)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), -3, 3, 4, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 257), -1, 1, 5, false);
    int threads = nb_num_threads();
    size_t bytes = (size_t)x->size * sizeof(float);
    float *got[2][2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor_zero_grad(x);
        nb_tensor *y = op->fn(x, 0);
        cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
        got[t][0] = malloc(bytes);
        got[t][1] = malloc(bytes);
        memcpy(got[t][0], y->data, bytes);
        memcpy(got[t][1], x->grad->data, bytes);
    }
    nb_set_num_threads(threads);
    cr_assert_eq(memcmp(got[0][0], got[1][0], bytes), 0);
    cr_assert_eq(memcmp(got[0][1], got[1][1], bytes), 0);
    for (int t = 0; t < 2; t++) {
        free(got[t][0]);
        free(got[t][1]);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* Gradients by finite differences: ranks 1 to 4, odd and size-1 dimensions, negative
 * axes. */
static inline void check_softmax_gradients(const softmax_op *op)
{
    const struct {
        int ndim;
        int64_t shape[4];
        int axis;
    } cases[] = {
        {1, {17}, 0},           {1, {3}, -1},          {2, {3, 17}, 1},
        {2, {17, 3}, 0},        {2, {1, 3}, -1},       {3, {2, 3, 5}, 1},
        {3, {2, 3, 5}, -3},     {4, {2, 3, 1, 4}, 3},  {4, {2, 3, 2, 4}, -3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_tensor *x = rand_tensor(cases[c].ndim, cases[c].shape, -2, 2, 10 + c, true);
        softmax_args a = {op, cases[c].axis};
        assert_gradcheck(f_softmax_op, &x, 1, &a, NULL, op->name);
        nb_tensor_free(x);
    }
}

/* Rows around +-1000: the gradient is as well-defined as for small values. */
static inline void check_softmax_gradient_large_values(const softmax_op *op)
{
    char what[32];
    snprintf(what, sizeof what, "%s large values", op->name);
    nb_tensor *x = nb_tensor_from(NB_SHAPE(2, 3), (float[]){1000, 1001, 999.5f, -1000,
                                                            -1001, -999.5f});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    assert_gradcheck(f_softmax_op, &x, 1, &(softmax_args){op, 1}, NULL, what);
    nb_tensor_free(x);
}

/* check_axis_errors for softmax or log_softmax. */
static inline void check_softmax_errors(const softmax_op *op)
{
    check_axis_errors(op->name, call_softmax_op, op);
}

#endif /* NABLA_TESTS_OPS_AXIS_TESTS_H */
