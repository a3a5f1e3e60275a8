/*
 * tests/ops/elementwise.h - the checks every elementwise op's suite runs, driven by a
 * small description of the op (the op, its definition and derivative in double, its
 * input range). Each suite keeps its own Test() entries, one line each, so a failure
 * still names the op; what is special to an op stays in its own file.
 *
 *   unary ops  y = f(x) or y = f(x, p) for a float scalar p (neg, exp, ..., pow):
 *     unary_check_values, _shapes, _gradient, _large_parallel, _accumulates, _null_input
 *   binary ops y = f(a, b) with broadcasting (sub, mul, div):
 *     binary_check_broadcast, _values, _large_parallel, _gradient, _same_tensor,
 *     _large_gradient, _errors
 */
#ifndef NABLA_TESTS_OPS_ELEMENTWISE_H
#define NABLA_TESTS_OPS_ELEMENTWISE_H

#include <stdlib.h>
#include <string.h>

#include "../common.h"

/* got matches want: both NaN, got is want rounded to float, or within atol + rtol |want|. */
static inline void assert_near(float got, double want, double atol, double rtol,
                               const char *what, int64_t i)
{
    float wf = (float)want;
    bool ok = isnan(want) ? isnan(got)
                          : got == wf || (!isinf(wf) &&
                                          fabs((double)got - want) <= atol + rtol * fabs(want));
    cr_assert(ok, "%s[%lld]: got %.9g, want %.9g", what, (long long)i, got, want);
}

/* ---- unary ops ------------------------------------------------------------------- */

typedef struct unary_desc {
    const char *name;
    nb_tensor *(*op)(nb_tensor *x);             /* a plain op, or NULL for one with a scalar: */
    nb_tensor *(*op_p)(nb_tensor *x, float p);  /* y = op_p(x, p) */
    double (*ref)(double x, double p);          /* y from the definition, in double */
    double (*dref)(double x, double p);         /* dy/dx, in double */
    float lo, hi;  /* x in [lo, hi) for the shapes, large_parallel and accumulates checks */
    float p;       /* the scalar of those checks (op_p only) */
    double atol, rtol;    /* tolerance of values */
    double datol, drtol;  /* tolerance of gradients */
    void (*nudge)(nb_tensor *x);  /* optional: moves gradcheck inputs, e.g. off a kink */
} unary_desc;

static inline nb_tensor *unary_apply(const unary_desc *d, nb_tensor *x, float p)
{
    return d->op ? d->op(x) : d->op_p(x, p);
}

typedef struct unary_call {
    const unary_desc *d;
    float p;
} unary_call;

static inline nb_tensor *unary_gradcheck_fn(nb_tensor *const *in, void *ud)
{
    const unary_call *c = ud;
    return unary_apply(c->d, in[0], c->p);
}

/* y = op(xs, p) for n values, each against the definition; returns y (step memory). */
static inline nb_tensor *unary_check_values(const unary_desc *d, const float *xs, int n,
                                            float p)
{
    char what[32];
    if (d->op)
        snprintf(what, sizeof what, "%s", d->name);
    else
        snprintf(what, sizeof what, "%s(%g)", d->name, p);
    nb_tensor *x = nb_tensor_from(NB_SHAPE(n), xs);
    nb_tensor *y = unary_apply(d, x, p);
    cr_assert_not_null(y, "%s", nb_error());
    for (int i = 0; i < n; i++)
        assert_near(y->data[i], d->ref(xs[i], p), d->atol, d->rtol, what, i);
    nb_tensor_free(x);
    return y;
}

/* The output has the input's shape, from rank 0 to 4 and an empty tensor. */
static inline void unary_check_shapes(const unary_desc *d)
{
    const int64_t shapes[][4] = {{0}, {1}, {17}, {3, 1}, {2, 3, 4}, {1, 3, 1, 5}, {0, 3}};
    const int ranks[] = {0, 1, 1, 2, 3, 4, 2};
    for (int c = 0; c < 7; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], d->lo, d->hi, 40 + c, false);
        nb_tensor *y = unary_apply(d, x, d->p);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert(nb_tensor_same_shape(x, y), "shape of case %d", c);
        for (int64_t i = 0; i < y->size; i++)
            assert_near(y->data[i], d->ref(x->data[i], d->p), d->atol, d->rtol, d->name, i);
        nb_tensor_free(x);
    }
}

/* gradcheck of op(x, p) with x in [lo, hi), on rank 0 to 4 (plain ops ignore p). */
static inline void unary_check_gradient(const unary_desc *d, float p, float lo, float hi)
{
    const int64_t shapes[][4] = {{0}, {1}, {17}, {17, 3}, {1, 3, 1}, {2, 1, 3, 5}};
    const int ranks[] = {0, 1, 1, 2, 3, 4};
    unary_call call = {d, p};
    for (int c = 0; c < 6; c++) {
        nb_tensor *x = rand_tensor(ranks[c], shapes[c], lo, hi, 50 + c, true);
        if (d->nudge)
            d->nudge(x);
        char what[96], s[64], op[32];
        if (d->op)
            snprintf(op, sizeof op, "%s", d->name);
        else
            snprintf(op, sizeof op, "%s(%g)", d->name, p);
        snprintf(what, sizeof what, "%s on %s", op, nb_tensor_shape_str(x, s, sizeof s));
        assert_gradcheck(unary_gradcheck_fn, &x, 1, &call, NULL, what);
        nb_tensor_free(x);
    }
}

/* y = op(x) and dx for dy = seed, on `threads` threads. */
static inline nb_tensor *unary_run_large(const unary_desc *d, nb_tensor *x,
                                         const nb_tensor *seed, int threads)
{
    nb_set_num_threads(threads);
    nb_tensor_zero_grad(x);
    nb_tensor *y = unary_apply(d, x, d->p);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    return y;
}

/* Above NB_PAR_MIN: values and gradient against the reference, and the same bits on
 * 1 and 2 threads. */
static inline void unary_check_large_parallel(const unary_desc *d)
{
    int threads = nb_num_threads();
    nb_tensor *x = rand_tensor(NB_SHAPE(300, 257), d->lo, d->hi, 60, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 257), -1, 1, 61, false);
    int64_t n = x->size;
    size_t bytes = sizeof(float) * (size_t)n;
    float *y1 = malloc(bytes), *dx1 = malloc(bytes);
    cr_assert(y1 && dx1);
    nb_tensor *y = unary_run_large(d, x, seed, 1);
    memcpy(y1, y->data, bytes);
    memcpy(dx1, x->grad->data, bytes);
    y = unary_run_large(d, x, seed, 2);
    char dwhat[40];
    snprintf(dwhat, sizeof dwhat, "d%s", d->name);
    for (int64_t i = 0; i < n; i++) {
        double v = x->data[i];
        assert_near(y->data[i], d->ref(v, d->p), d->atol, d->rtol, d->name, i);
        assert_near(x->grad->data[i], seed->data[i] * d->dref(v, d->p), d->datol, d->drtol,
                    dwhat, i);
    }
    cr_assert_eq(memcmp(y1, y->data, bytes), 0, "y differs between 1 and 2 threads");
    cr_assert_eq(memcmp(dx1, x->grad->data, bytes), 0, "dx differs between 1 and 2 threads");
    nb_set_num_threads(threads);
    free(y1);
    free(dx1);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* Two uses of x: the gradients of both add up in x->grad. */
static inline void unary_check_accumulates(const unary_desc *d)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), d->lo, d->hi, 70, true);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    nb_tensor *y = nb_add(unary_apply(d, x, d->p), unary_apply(d, x, d->p));
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    char what[40];
    snprintf(what, sizeof what, "2 d%s", d->name);
    for (int64_t i = 0; i < 15; i++)
        assert_near(x->grad->data[i], 2 * d->dref(x->data[i], d->p), d->datol, d->drtol,
                    what, i);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

static inline void unary_check_null_input(const unary_desc *d)
{
    char want[64];
    snprintf(want, sizeof want, "%s: input 0 is NULL", d->name);
    assert_error(unary_apply(d, NULL, d->p), NB_ERR_NULL, want);
}

/* For a p that makes the op constant: y = op(x, p) is `want` everywhere and dx is all
 * zeros. x requires grad; the caller frees it. */
static inline void unary_check_constant(const unary_desc *d, nb_tensor *x, float p, float want)
{
    nb_tensor *seed = nb_tensor_ones(x->ndim, x->shape);
    nb_tensor *y = unary_apply(d, x, p);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < x->size; i++) {
        cr_assert_eq(y->data[i], want);
        cr_assert_eq(x->grad->data[i], 0.0f);
    }
    nb_tensor_free(seed);
}

/* dy/dx at x = {0, x1}: +inf at 0 (an infinite slope, as in PyTorch), exactly `want` at x1. */
static inline void unary_check_grad_at_zero(const unary_desc *d, float x1, float want)
{
    nb_tensor *x = nb_tensor_from(NB_SHAPE(2), (float[]){0.0f, x1});
    cr_assert_eq(nb_tensor_set_requires_grad(x, true), NB_OK);
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(2));
    cr_assert_eq(nb_backward_seed(unary_apply(d, x, d->p), seed), NB_OK, "%s", nb_error());
    cr_assert(isinf(x->grad->data[0]) && x->grad->data[0] > 0);
    cr_assert_eq(x->grad->data[1], want);
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* ---- binary ops with broadcasting ------------------------------------------------ */

typedef struct binary_desc {
    const char *name;
    nb_tensor *(*op)(nb_tensor *a, nb_tensor *b);
    double (*ref)(double a, double b);  /* y from the definition, in double */
    double (*da)(double a, double b);   /* dy/da */
    double (*db)(double a, double b);   /* dy/db */
    /* b, the broadcast row and column of large_parallel, and x of op(x, x) are drawn
     * from [b_lo, b_hi) (e.g. away from 0 for a divisor); a from [-2, 2). */
    float b_lo, b_hi;
} binary_desc;

static inline nb_tensor *binary_gradcheck_fn(nb_tensor *const *in, void *ud)
{
    const binary_desc *d = ud;
    return d->op(in[0], in[1]);
}

/* The element of t (broadcast to y's shape) that y's flat element `i` reads. */
static inline double broadcast_at(const nb_tensor *t, const nb_tensor *y, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = y->ndim - 1, k = t->ndim - 1; d >= 0; d--, k--) {
        int64_t idx = i % y->shape[d];
        i /= y->shape[d];
        if (k >= 0) {
            off += (t->shape[k] == 1 ? 0 : idx) * stride;
            stride *= t->shape[k];
        }
    }
    return t->data[off];
}

/* y = a op b broadcast, checked element by element against the definition. */
static inline void binary_check_forward(const binary_desc *d, int na, const int64_t *sa,
                                        int nb, const int64_t *sb, int want_ndim,
                                        const int64_t *want_shape)
{
    nb_tensor *a = rand_tensor(na, sa, -2, 2, 1, false);
    nb_tensor *b = rand_tensor(nb, sb, d->b_lo, d->b_hi, 2, false);
    nb_tensor *y = d->op(a, b);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->ndim, want_ndim);
    for (int k = 0; k < want_ndim; k++)
        cr_assert_eq(y->shape[k], want_shape[k], "dim %d", k);
    for (int64_t i = 0; i < y->size; i++) {
        double want = d->ref(broadcast_at(a, y, i), broadcast_at(b, y, i));
        /* one float operation rounded once to float: exactly what float arithmetic gives. */
        cr_assert_eq(y->data[i], (float)want, "%s[%lld]: got %.9g, want %.9g", d->name,
                     (long long)i, y->data[i], want);
    }
    nb_tensor_free(a);
    nb_tensor_free(b);
}

static inline void binary_check_broadcast(const binary_desc *d)
{
    binary_check_forward(d, NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4));
    binary_check_forward(d, NB_SHAPE(2, 3, 4), NB_SHAPE(1, 1, 4), NB_SHAPE(2, 3, 4));
    binary_check_forward(d, NB_SHAPE(1, 1, 4), NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4));
    binary_check_forward(d, NB_SHAPE(2, 1, 4), NB_SHAPE(1, 3, 1), NB_SHAPE(2, 3, 4));
    binary_check_forward(d, NB_SHAPE(17, 1, 3), NB_SHAPE(5, 1), NB_SHAPE(17, 5, 3));
    binary_check_forward(d, NB_SHAPE(3), NB_SHAPE(2, 1, 3, 1), NB_SHAPE(2, 1, 3, 3));
    binary_check_forward(d, NB_SHAPE(2, 3), 0, NULL, NB_SHAPE(2, 3));
    binary_check_forward(d, 0, NULL, NB_SHAPE(17), NB_SHAPE(17));
    binary_check_forward(d, 0, NULL, 0, NULL, 0, NULL);
    binary_check_forward(d, NB_SHAPE(0, 3), NB_SHAPE(3), NB_SHAPE(0, 3));
}

/* y = a op b for n pairs: y[i] is the definition rounded to float, or both are NaN
 * (infinities compare equal). Returns y (step memory). */
static inline nb_tensor *binary_check_values(const binary_desc *d, const float *a,
                                             const float *b, int n)
{
    nb_tensor *ta = nb_tensor_from(NB_SHAPE(n), a), *tb = nb_tensor_from(NB_SHAPE(n), b);
    nb_tensor *y = d->op(ta, tb);
    cr_assert_not_null(y, "%s", nb_error());
    for (int i = 0; i < n; i++) {
        double want = d->ref(a[i], b[i]);
        float got = y->data[i];
        cr_assert(got == (float)want || (isnan(got) && isnan(want)),
                  "%s[%d]: got %.9g, want %.9g", d->name, i, got, want);
    }
    nb_tensor_free(ta);
    nb_tensor_free(tb);
    return y;
}

/* Above NB_PAR_MIN, with a row and a column broadcast. */
static inline void binary_check_large_parallel(const binary_desc *d)
{
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 257), -2, 2, 3, false);
    nb_tensor *row = rand_tensor(NB_SHAPE(257), d->b_lo, d->b_hi, 4, false);
    nb_tensor *col = rand_tensor(NB_SHAPE(300, 1), d->b_lo, d->b_hi, 5, false);
    nb_tensor *y = d->op(a, row);
    cr_assert_not_null(y, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        for (int64_t j = 0; j < 257; j++)
            cr_assert_eq(y->data[i * 257 + j], (float)d->ref(a->data[i * 257 + j], row->data[j]));
    y = d->op(col, a);
    cr_assert_not_null(y, "%s", nb_error());
    for (int64_t i = 0; i < 300; i++)
        for (int64_t j = 0; j < 257; j++)
            cr_assert_eq(y->data[i * 257 + j], (float)d->ref(col->data[i], a->data[i * 257 + j]));
    nb_tensor_free(a);
    nb_tensor_free(row);
    nb_tensor_free(col);
}

/* gradcheck with both inputs, then each alone, requiring grad. */
static inline void binary_check_gradient_of(const binary_desc *d, int na, const int64_t *sa,
                                           int nb, const int64_t *sb, uint64_t seed)
{
    static const bool which[3][2] = {{true, true}, {true, false}, {false, true}};
    for (int w = 0; w < 3; w++) {
        nb_tensor *in[2] = {rand_tensor(na, sa, -2, 2, seed, which[w][0]),
                            rand_tensor(nb, sb, d->b_lo, d->b_hi, seed + 100, which[w][1])};
        char what[128], s0[64], s1[64];
        snprintf(what, sizeof what, "%s %s %s (grad %d%d)", d->name,
                 nb_tensor_shape_str(in[0], s0, sizeof s0),
                 nb_tensor_shape_str(in[1], s1, sizeof s1), which[w][0], which[w][1]);
        assert_gradcheck(binary_gradcheck_fn, in, 2, (void *)d, NULL, what);
        nb_tensor_free(in[0]);
        nb_tensor_free(in[1]);
    }
}

static inline void binary_check_gradient(const binary_desc *d)
{
    binary_check_gradient_of(d, 0, NULL, 0, NULL, 10);                     /* rank 0 */
    binary_check_gradient_of(d, NB_SHAPE(17), NB_SHAPE(17), 11);           /* same shape */
    binary_check_gradient_of(d, NB_SHAPE(2, 3, 4), NB_SHAPE(2, 3, 4), 12);
    binary_check_gradient_of(d, NB_SHAPE(2, 3, 4), NB_SHAPE(1, 1, 4), 13); /* b broadcast */
    binary_check_gradient_of(d, NB_SHAPE(1, 3, 1), NB_SHAPE(2, 3, 5), 14); /* a broadcast */
    binary_check_gradient_of(d, NB_SHAPE(1, 3, 1), NB_SHAPE(2, 1, 5), 15); /* 1s both sides */
    binary_check_gradient_of(d, NB_SHAPE(17, 3, 1), 0, NULL, 16);          /* rank 3 and 0 */
    binary_check_gradient_of(d, 0, NULL, NB_SHAPE(3, 1, 17), 17);
    binary_check_gradient_of(d, NB_SHAPE(5, 3), NB_SHAPE(3), 18);          /* ranks differ */
    binary_check_gradient_of(d, NB_SHAPE(3), NB_SHAPE(2, 1, 3, 1), 19);    /* rank 1 and 4 */
    binary_check_gradient_of(d, NB_SHAPE(1), NB_SHAPE(1, 1), 20);
}

/* Both operands are one tensor: both gradients land in its grad. */
static inline void binary_check_same_tensor(const binary_desc *d)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), d->b_lo, d->b_hi, 21, true);
    nb_tensor *y = d->op(x, x);
    cr_assert_not_null(y, "%s", nb_error());
    nb_tensor *seed = nb_tensor_ones(NB_SHAPE(3, 5));
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t i = 0; i < 15; i++) {
        double v = x->data[i];
        cr_assert_float_eq(x->grad->data[i], d->da(v, v) + d->db(v, v), 1e-5, "[%lld]",
                           (long long)i);
    }
    nb_tensor_free(x);
    nb_tensor_free(seed);
}

/* Gradients of a [300,130] op [130] against sums in double; above NB_PAR_MIN. */
static inline void binary_large_grads(const binary_desc *d, nb_tensor *a, nb_tensor *b,
                                      nb_tensor *seed)
{
    nb_tensor_zero_grad(a);
    nb_tensor_zero_grad(b);
    nb_tensor *y = d->op(a, b);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
}

static inline void binary_check_large_gradient(const binary_desc *d)
{
    nb_tensor *a = rand_tensor(NB_SHAPE(300, 130), -2, 2, 22, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(130), d->b_lo, d->b_hi, 23, true);
    nb_tensor *seed = rand_tensor(NB_SHAPE(300, 130), -1, 1, 24, false);
    binary_large_grads(d, a, b, seed);
    for (int64_t j = 0; j < 130; j++) {
        double db = 0;
        for (int64_t i = 0; i < 300; i++) {
            double g = seed->data[i * 130 + j], va = a->data[i * 130 + j], vb = b->data[j];
            double da = g * d->da(va, vb);
            db += g * d->db(va, vb);
            cr_assert_float_eq(a->grad->data[i * 130 + j], da, 1e-5 * (1 + fabs(da)));
        }
        cr_assert_float_eq(b->grad->data[j], db, 1e-4 * (1 + fabs(db)), "db[%lld]",
                           (long long)j);
    }

    /* The same bits on 1 and 2 threads, and backward accumulates (+=). */
    int threads = nb_num_threads();
    size_t na = sizeof(float) * 300 * 130, nbb = sizeof(float) * 130;
    float *ga = malloc(na), *gb = malloc(nbb);
    cr_assert(ga && gb);
    nb_set_num_threads(1);
    binary_large_grads(d, a, b, seed);
    memcpy(ga, a->grad->data, na);
    memcpy(gb, b->grad->data, nbb);
    nb_set_num_threads(2);
    binary_large_grads(d, a, b, seed);
    cr_assert_eq(memcmp(ga, a->grad->data, na), 0, "da differs between 1 and 2 threads");
    cr_assert_eq(memcmp(gb, b->grad->data, nbb), 0, "db differs between 1 and 2 threads");
    nb_tensor *y = d->op(a, b);
    cr_assert_eq(nb_backward_seed(y, seed), NB_OK, "%s", nb_error());
    for (int64_t j = 0; j < 130; j++) /* float sums of 300 terms: not exactly 2 * gb */
        cr_assert_float_eq(b->grad->data[j], 2 * gb[j], 1e-4 * (1 + fabs(gb[j])));
    nb_set_num_threads(threads);
    free(ga);
    free(gb);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(seed);
}

/* Shapes that do not broadcast, and a NULL on either side. */
static inline void binary_check_errors(const binary_desc *d)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(2, 3));
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor *c = nb_tensor_ones(NB_SHAPE(3, 1, 2));
    char want[4][80];
    snprintf(want[0], sizeof want[0], "%s: shapes do not broadcast: [2,3] and [4]", d->name);
    snprintf(want[1], sizeof want[1], "%s: shapes do not broadcast: [3,1,2] and [2,3]",
             d->name);
    snprintf(want[2], sizeof want[2], "%s: input 0 is NULL", d->name);
    snprintf(want[3], sizeof want[3], "%s: input 1 is NULL", d->name);
    assert_error(d->op(a, b), NB_ERR_SHAPE, want[0]);
    nb_error_clear();
    assert_error(d->op(c, a), NB_ERR_SHAPE, want[1]);
    nb_error_clear();
    assert_error(d->op(NULL, a), NB_ERR_NULL, want[2]);
    nb_error_clear();
    assert_error(d->op(a, NULL), NB_ERR_NULL, want[3]);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(c);
}

#endif /* NABLA_TESTS_OPS_ELEMENTWISE_H */
