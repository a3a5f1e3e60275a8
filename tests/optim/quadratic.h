/*
 * tests/optim/quadratic.h - a known quadratic to train, and a double-precision
 * reference to check optimizers against.
 *
 * The store holds three parameters of odd shapes with a buffer between them:
 *     "l1.kernel" [3,5], "bn.mean" (buffer) [4], "l1.bias" [5], "l2.kernel" [7]
 * and the loss, built with ops, is L = sum_i a_i (p_i - c_i)^2, so dL/dp_i =
 * 2 a_i (p_i - c_i). quad_train trains it with nabla (forward, nb_backward,
 * nb_optim_step, zero grad); quad_reference runs the same number of steps of an
 * elementwise rule written in double in the test, and quad_check compares the two.
 */
#ifndef NABLA_TESTS_QUADRATIC_H
#define NABLA_TESTS_QUADRATIC_H

#include <string.h>

#include "../common.h"

enum { Q_N = 3, Q_P = 27 };

static const char *const q_names[Q_N] = {"l1.kernel", "l1.bias", "l2.kernel"};

typedef struct quad {
    nb_params *ps;
    nb_tensor *w[Q_N];          /* the parameters (views of the store) */
    nb_tensor *a[Q_N], *c[Q_N]; /* the loss's constants */
    nb_tensor *buf;             /* "bn.mean", a buffer: never changed by an optimizer */
    bool frozen[Q_N];
} quad;

static inline double q_a(int64_t i) { return 0.5 + 0.3 * (double)(i % 5); }
static inline double q_c(int64_t i) { return sin(1.3 * (double)i); }
static inline double q_p0(int64_t i) { return 2.0 * cos(0.7 * (double)i); }

/* Which parameter holds arena float i, and where the parameters start. */
static const int64_t q_start[Q_N + 1] = {0, 15, 20, 27};
static inline int q_param_of(int64_t i) { return i < 15 ? 0 : i < 20 ? 1 : 2; }

static inline void quad_init(quad *q)
{
    memset(q, 0, sizeof *q);
    q->ps = nb_params_new();
    cr_assert_not_null(q->ps);
    q->w[0] = nb_params_add(q->ps, "l1.kernel", NB_PARAM, NB_SHAPE(3, 5));
    q->buf = nb_params_add(q->ps, "bn.mean", NB_BUFFER, NB_SHAPE(4));
    q->w[1] = nb_params_add(q->ps, "l1.bias", NB_PARAM, NB_SHAPE(5));
    q->w[2] = nb_params_add(q->ps, "l2.kernel", NB_PARAM, NB_SHAPE(7));
    cr_assert(q->w[0] && q->w[1] && q->w[2] && q->buf, "%s", nb_error());
    for (int k = 0; k < Q_N; k++) {
        nb_tensor *w = q->w[k];
        cr_assert_eq(nb_params_offset(q->ps, nb_params_index(q->ps, q_names[k])), q_start[k]);
        q->a[k] = nb_tensor_zeros(w->ndim, w->shape);
        q->c[k] = nb_tensor_zeros(w->ndim, w->shape);
        cr_assert(q->a[k] && q->c[k]);
        for (int64_t j = 0; j < w->size; j++) {
            int64_t i = q_start[k] + j;
            w->data[j] = (float)q_p0(i);
            q->a[k]->data[j] = (float)q_a(i);
            q->c[k]->data[j] = (float)q_c(i);
        }
    }
    for (int j = 0; j < 4; j++)
        q->buf->data[j] = 10.0f + (float)j;
}

static inline void quad_free(quad *q)
{
    for (int k = 0; k < Q_N; k++) {
        nb_tensor_free(q->a[k]);
        nb_tensor_free(q->c[k]);
    }
    nb_params_free(q->ps);
    memset(q, 0, sizeof *q);
}

/* Freezes parameter k (requires_grad false): the optimizer must skip it. */
static inline void quad_freeze(quad *q, int k, bool frozen)
{
    cr_assert_eq(nb_tensor_set_requires_grad(q->w[k], !frozen), NB_OK, "%s", nb_error());
    q->frozen[k] = frozen;
}

/* L = sum over trainable parameters of sum(a (w - c)^2), built with ops. */
static inline nb_tensor *quad_loss(quad *q)
{
    nb_tensor *loss = NULL;
    for (int k = 0; k < Q_N; k++) {
        nb_tensor *d = nb_sub(q->w[k], q->c[k]);
        nb_tensor *term = nb_sum(nb_mul(q->a[k], nb_mul(d, d)));
        loss = loss ? nb_add(loss, term) : term;
    }
    return loss;
}

/* `steps` training steps of opt on q. */
static inline void quad_train(quad *q, nb_optimizer *opt, int steps)
{
    for (int s = 0; s < steps; s++) {
        nb_tensor *loss = quad_loss(q);
        cr_assert_not_null(loss, "%s", nb_error());
        cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
        cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_error());
        nb_params_zero_grad(q->ps);
        nb_step_reset();
    }
}

/* One step of a rule for one element, in double: updates *p and its state s[0..4)
 * from the gradient g at step t (1 for the first). */
typedef void (*quad_rule)(const void *ctx, int64_t t, double *p, double g, double s[4]);

typedef struct quad_ref {
    double p[Q_P];
    double s[Q_P][4];
} quad_ref;

/* The reference run: `steps` steps of `rule` from p0, the state starting at init[k];
 * frozen parameters (as in q) are skipped. */
static inline void quad_reference(const quad *q, quad_rule rule, const void *ctx, int steps,
                                  const double init[4], quad_ref *r)
{
    for (int64_t i = 0; i < Q_P; i++) {
        r->p[i] = q_p0(i);
        for (int k = 0; k < 4; k++)
            r->s[i][k] = init ? init[k] : 0.0;
    }
    for (int64_t t = 1; t <= steps; t++)
        for (int64_t i = 0; i < Q_P; i++) {
            if (q->frozen[q_param_of(i)])
                continue;
            double g = 2.0 * q_a(i) * (r->p[i] - q_c(i));
            rule(ctx, t, &r->p[i], g, r->s[i]);
        }
}

/* Asserts that q's parameters match the reference, that frozen parameters still hold
 * p0 and the buffer its values, and, for each state k named in state_names (NULL
 * entries are not checked), that "<param>.<name>" matches the reference state. */
static inline void quad_check(const quad *q, nb_optimizer *opt, const quad_ref *r,
                              const char *const state_names[4], double atol, double rtol)
{
    const float *p = nb_params_values(q->ps);
    assert_close(p, r->p, Q_P, atol, rtol, "parameters");
    for (int64_t i = 0; i < Q_P; i++)
        if (q->frozen[q_param_of(i)])
            cr_assert_eq(p[i], (float)q_p0(i), "frozen parameter float %lld changed",
                         (long long)i);
    for (int j = 0; j < 4; j++)
        cr_assert_eq(q->buf->data[j], 10.0f + (float)j, "the buffer changed");
    nb_params *st = nb_optim_state(opt);
    for (int k = 0; k < 4; k++) {
        if (!state_names || !state_names[k])
            continue;
        for (int m = 0; m < Q_N; m++) {
            char name[128];
            snprintf(name, sizeof name, "%s.%s", q_names[m], state_names[k]);
            nb_tensor *s = nb_params_find(st, name);
            cr_assert_not_null(s, "no state '%s'", name);
            cr_assert_eq(s->size, q->w[m]->size, "state '%s' has the wrong size", name);
            double want[Q_P];
            for (int64_t j = 0; j < s->size; j++)
                want[j] = r->s[q_start[m] + j][k];
            assert_close(s->data, want, s->size, atol, rtol, name);
        }
    }
}

/* The whole check: trains a fresh quad for `steps` steps with the optimizer make()
 * returns and compares it with the reference rule. */
typedef nb_optimizer *(*quad_make)(nb_params *ps, const void *opts);

static inline void quad_case(quad_make make, const void *opts, quad_rule rule,
                             const void *ctx, int steps, const double init[4],
                             const char *const state_names[4], int frozen)
{
    quad q;
    quad_init(&q);
    if (frozen >= 0)
        quad_freeze(&q, frozen, true);
    nb_optimizer *opt = make(q.ps, opts);
    cr_assert_not_null(opt, "%s", nb_error());
    quad_train(&q, opt, steps);
    cr_assert_eq(nb_optim_steps(opt), steps);
    quad_ref r;
    quad_reference(&q, rule, ctx, steps, init, &r);
    quad_check(&q, opt, &r, state_names, 2e-6, 2e-5);
    /* The rule moved the parameters: the test is not vacuous. */
    double moved = 0;
    for (int64_t i = 0; i < Q_P; i++)
        moved = fmax(moved, fabs(r.p[i] - q_p0(i)));
    cr_assert_gt(moved, 1e-4, "the reference barely moved (%g)", moved);
    nb_optim_free(opt);
    quad_free(&q);
}

#endif /* NABLA_TESTS_QUADRATIC_H */
