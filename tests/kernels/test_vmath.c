/*
 * vmath: the vectorised element-wise kernels (nabla/kernels.h) on every ISA this CPU
 * has -- plain C, SSE2, AVX2, AVX-512 -- against references in double: the functions
 * within their documented ULPs (special values exactly), the backward rules, the fused
 * losses (terms, sums, clamps, NaN rules, gradients), cross-entropy rows and softmax
 * lanes (strided too). Each element's bits must not depend on where it falls (a
 * partial last vector runs the same code) nor on the thread count (on sizes above
 * NB_PAR_MIN that are not multiples of 16), and choosing an ISA reports its errors.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(vmath);

static const nb_isa all_isas[] = {NB_ISA_C, NB_ISA_SSE2, NB_ISA_AVX2, NB_ISA_AVX512};
#define N_ISAS 4

/* Forces isa; false (and nothing changed) if this CPU or build lacks it. */
static bool use_isa(nb_isa isa)
{
    if (nb_kernel_set_isa(isa) != NB_OK) {
        nb_error_clear();
        return false;
    }
    cr_assert_eq(nb_kernel_isa(), isa);
    return true;
}

/* |got - want| in units of the float spacing at want (subnormal spacing at least);
 * 0 for matching NaNs or infinities, INFINITY for a mismatched special value. */
static double ulps(float got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    if (isinf(got)) /* right if want rounds to it: beyond the largest float */
        return !signbit(got) == !signbit(want) && fabs(want) > FLT_MAX ? 0.0 : INFINITY;
    if (isinf(want))
        return INFINITY;
    double w = fabs(want), spacing = ldexp(1.0, -149);
    if (w >= ldexp(1.0, -126)) {
        int e;
        frexp(w, &e); /* w = m 2^e, m in [0.5, 1): floats there are 2^(e-24) apart */
        spacing = ldexp(1.0, e - 24);
    }
    return fabs((double)got - want) / spacing;
}

/* x uniform in [lo, hi) for n values, from a seed. */
static float *uniform(int64_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * nb_rng_uniform(seed, (uint64_t)i);
    return x;
}

static float *copy_of(const float *x, int64_t n)
{
    float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    cr_assert_not_null(y);
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

/* ---- the functions y = f(x) ------------------------------------------------------- */

typedef void (*unary_kernel)(float *y, const float *x, int64_t n);

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_relu(double x) { return isnan(x) ? x : x > 0 ? x : 0.0; }

typedef struct unary_case {
    const char *name;
    unary_kernel f;
    double (*ref)(double);
    float lo, hi;      /* random inputs in [lo, hi) */
    double max_ulps;   /* SLEEF's bound on the vector ISAs */
    double max_ulps_c; /* libm's, lane by lane */
} unary_case;

static const unary_case unary_cases[] = {
    {"exp", nb_kernel_exp, exp, -104, 89, 1.0, 1.0},
    {"log", nb_kernel_log, log, 0, 1e6f, 1.0, 1.0},
    {"log1p", nb_kernel_log1p, log1p, -1, 50, 1.0, 1.0},
    {"expm1", nb_kernel_expm1, expm1, -20, 88, 1.0, 1.0},
    {"tanh", nb_kernel_tanh, tanh, -10, 10, 1.0, 3.0}, /* glibc: 2.1 */
    {"sqrt", nb_kernel_sqrt, sqrt, 0, 1e6f, 0.5, 0.5},
    {"sigmoid", nb_kernel_sigmoid, ref_sigmoid, -100, 100, 3.0, 3.0},
    {"relu", nb_kernel_relu, ref_relu, -5, 5, 0.0, 0.0},
};
#define N_UNARY (sizeof unary_cases / sizeof unary_cases[0])

/* Special and awkward inputs every function sees. */
static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 1e-30f, -1e-30f,
                                 1e-44f, -1e-44f, 1e-7f, -1e-7f, 20.0f, -20.0f, 88.0f,
                                 88.8f, 89.0f, -87.0f, -103.0f, -104.0f, -110.0f, 1e30f,
                                 -1e30f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN};
#define N_SPECIALS (sizeof specials / sizeof specials[0])

static void check_unary(const unary_case *c, nb_isa isa)
{
    const int64_t n = 4000;
    float *x = uniform(n, c->lo, c->hi, 7);
    memcpy(x, specials, sizeof specials);
    float *y = malloc((size_t)n * sizeof(float));
    cr_assert_not_null(y);
    c->f(y, x, n);
    double bound = isa == NB_ISA_C ? c->max_ulps_c : c->max_ulps;
    for (int64_t i = 0; i < n; i++) {
        double want = c->ref(x[i]), u = ulps(y[i], want);
        cr_assert(u <= bound + 1e-9, "%s on %s: %s(%.9g) = %.9g, want %.12g (%.2f ulps)",
                  c->name, nb_isa_name(isa), c->name, x[i], y[i], want, u);
    }
    free(x);
    free(y);
}

Test(vmath, functions_within_their_ulps_on_every_isa)
{
    int tested = 0;
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        tested++;
        for (size_t c = 0; c < N_UNARY; c++)
            check_unary(&unary_cases[c], all_isas[k]);
    }
    cr_assert_geq(tested, 1, "no ISA could be chosen");
}

Test(vmath, pow_within_one_ulp_and_c_rules)
{
    const float ps[] = {2.0f, 3.0f, 0.5f, -1.0f, -1.5f, 2.5f, 0.0f, 1.0f, -2.0f, 7.3f, 40.0f};
    const int64_t n = 600;
    float *x = uniform(n, 0, 10, 8);
    const float sx[] = {-2.0f, -0.5f, 0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, 1e-30f};
    memcpy(x, sx, sizeof sx);
    for (int64_t i = 300; i < 400; i++) /* negative bases: integer exponents are fine */
        x[i] = -x[i];
    float *y = malloc((size_t)n * sizeof(float));
    cr_assert_not_null(y);
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
            nb_kernel_pow(y, x, ps[j], n);
            for (int64_t i = 0; i < n; i++) {
                double want = pow(x[i], ps[j]), u = ulps(y[i], want);
                cr_assert(u <= 1.0 + 1e-9, "pow on %s: %.9g^%g = %.9g, want %.12g",
                          nb_isa_name(all_isas[k]), x[i], ps[j], y[i], want);
            }
        }
    }
    free(x);
    free(y);
}

/* An element's bits do not depend on its position: the array from offset o on gives
 * the same bits as the whole array from o, for every offset up to past one vector and
 * for arrays shorter than a vector. */
Test(vmath, tails_compute_the_same_bits_as_full_vectors)
{
    enum { N = 93 };
    float *x = uniform(N, -6, 6, 9), *p = uniform(N, 0, 1, 10), *t = uniform(N, 0, 1, 11);
    memcpy(x, specials, sizeof specials);
    float full[N], part[N], lf[N], lp[N];
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        const char *isa = nb_isa_name(all_isas[k]);
        for (size_t c = 0; c < N_UNARY; c++) {
            unary_cases[c].f(full, x, N);
            for (int64_t o = 1; o <= 33; o++) {
                unary_cases[c].f(part, x + o, N - o);
                cr_assert_eq(memcmp(part, full + o, (size_t)(N - o) * sizeof(float)), 0,
                             "%s on %s from offset %lld", unary_cases[c].name, isa,
                             (long long)o);
            }
        }
        nb_kernel_pow(full, p, 2.5f, N);
        nb_kernel_pow(part, p + 5, 2.5f, N - 5);
        cr_assert_eq(memcmp(part, full + 5, (N - 5) * sizeof(float)), 0, "pow on %s", isa);
        /* the terms of the losses, written from any offset */
        nb_kernel_bce(lf, p, t, N);
        nb_kernel_bce(lp, p + 3, t + 3, N - 3);
        cr_assert_eq(memcmp(lp, lf + 3, (N - 3) * sizeof(float)), 0, "bce on %s", isa);
        nb_kernel_bce_logits(lf, x, t, N);
        nb_kernel_bce_logits(lp, x + 7, t + 7, N - 7);
        cr_assert_eq(memcmp(lp, lf + 7, (N - 7) * sizeof(float)), 0, "bce_logits on %s", isa);
        /* backward: dx from offset 1 */
        float d1[N] = {0}, d2[N] = {0};
        nb_kernel_sigmoid_backward(d1, p, x, N);
        nb_kernel_sigmoid_backward(d2 + 1, p + 1, x + 1, N - 1);
        cr_assert_eq(memcmp(d1 + 1, d2 + 1, (N - 1) * sizeof(float)), 0, "dsigmoid on %s", isa);
    }
    free(x);
    free(p);
    free(t);
}

/* ---- backward rules ------------------------------------------------------------------ */

typedef void (*backward_kernel)(float *dx, const float *a, const float *dy, int64_t n);

static double d_exp(double x, double y) { (void)x; return y; }
static double d_log(double x, double y) { (void)y; return 1.0 / x; }
static double d_sqrt(double x, double y) { (void)x; return 1.0 / (2.0 * y); }
static double d_sigmoid(double x, double y) { (void)x; return y * (1.0 - y); }
static double d_tanh(double x, double y) { (void)x; return 1.0 - y * y; }
static double d_relu(double x, double y) { (void)y; return x > 0 ? 1.0 : 0.0; }

typedef struct backward_case {
    const char *name;
    unary_kernel f;          /* forward, for y */
    backward_kernel df;
    bool from_x;             /* the kernel reads x (else y) */
    double (*d)(double x, double y);
    float lo, hi;
} backward_case;

static const backward_case backward_cases[] = {
    {"exp", nb_kernel_exp, nb_kernel_exp_backward, false, d_exp, -5, 5},
    {"log", nb_kernel_log, nb_kernel_log_backward, true, d_log, 0.1f, 10},
    {"sqrt", nb_kernel_sqrt, nb_kernel_sqrt_backward, false, d_sqrt, 0.1f, 10},
    {"sigmoid", nb_kernel_sigmoid, nb_kernel_sigmoid_backward, false, d_sigmoid, -8, 8},
    {"tanh", nb_kernel_tanh, nb_kernel_tanh_backward, false, d_tanh, -3, 3},
    {"relu", nb_kernel_relu, nb_kernel_relu_backward, true, d_relu, -2, 2},
};
#define N_BACKWARD (sizeof backward_cases / sizeof backward_cases[0])

/* dx = dx0 + dy f'(x) for each rule, against double, within a few roundings of the
 * terms (dx starts nonzero: the kernels add). f' is taken at the kernel's own float y,
 * so only the backward kernel's roundings count; 1 - y^2 cancels (its intermediates
 * are up to 2 in size, hence the + 2). */
Test(vmath, backward_rules_add_the_derivative)
{
    const int64_t n = 1001;
    float *dy = uniform(n, -1, 1, 12), *dx0 = uniform(n, -1, 1, 13);
    float *y = malloc((size_t)n * sizeof(float)), *dx = malloc((size_t)n * sizeof(float));
    cr_assert(y && dx);
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        for (size_t c = 0; c < N_BACKWARD; c++) {
            const backward_case *b = &backward_cases[c];
            float *x = uniform(n, b->lo, b->hi, 14 + c);
            b->f(y, x, n);
            memcpy(dx, dx0, (size_t)n * sizeof(float));
            b->df(dx, b->from_x ? x : y, dy, n);
            for (int64_t i = 0; i < n; i++) {
                double d = b->d(x[i], y[i]), term = dy[i] * d, want = dx0[i] + term;
                double tol = 4 * FLT_EPSILON * (fabs(dx0[i]) + fabs(dy[i]) * (fabs(d) + 2));
                cr_assert(fabs(dx[i] - want) <= tol, "d%s on %s at x = %g: %.9g, want %.9g",
                          b->name, nb_isa_name(all_isas[k]), x[i], dx[i], want);
            }
            free(x);
        }
        /* relu: dx unchanged where x <= 0 or x is NaN, bit for bit */
        const float xr[4] = {-1.0f, 0.0f, NAN, 2.0f}, g[4] = {5, 5, 5, 5};
        float d[4] = {-0.0f, 1.0f, 2.0f, 3.0f};
        nb_kernel_relu_backward(d, xr, g, 4);
        cr_assert(d[0] == 0.0f && signbit(d[0]) && d[1] == 1.0f && d[2] == 2.0f && d[3] == 8.0f);
        /* pow: dx += dy p x^(p-1) */
        float *x = uniform(n, 0.5f, 3, 20);
        memcpy(dx, dx0, (size_t)n * sizeof(float));
        nb_kernel_pow_backward(dx, x, dy, -1.5f, n);
        for (int64_t i = 0; i < n; i++) {
            double term = dy[i] * -1.5 * pow(x[i], -2.5), want = dx0[i] + term;
            cr_assert(fabs(dx[i] - want) <= 4 * FLT_EPSILON * (fabs(dx0[i]) + fabs(term)),
                      "dpow on %s: %.9g, want %.9g", nb_isa_name(all_isas[k]), dx[i], want);
        }
        free(x);
    }
    free(dy);
    free(dx0);
    free(y);
    free(dx);
}

/* ---- losses -------------------------------------------------------------------------- */

static double clamped_log(double x) { return fmax(log(x), -100.0); }

static double ref_bce(double p, double y)
{
    if (!(p >= 0 && p <= 1))
        return NAN;
    return -(y * clamped_log(p) + (1 - y) * clamped_log(1 - p));
}

static double ref_bce_logits(double z, double y)
{
    return fmax(z, 0) - z * y + log1p(exp(-fabs(z)));
}

static double ref_mse(double p, double y) { return (p - y) * (p - y); }

/* The size of the terms a loss adds up, for tolerances: l itself may cancel (z - z y
 * for z > 0 and y near 1), each term is rounded to float first. */
static double mag_bce(double p, double y)
{
    return fabs(y * clamped_log(p)) + fabs((1 - y) * clamped_log(1 - p));
}
static double mag_bce_logits(double z, double y) { return 2 * fabs(z) + fabs(z * y) + 1; }
static double mag_mse(double p, double y) { return (p - y) * (p - y); }

typedef struct loss_case {
    const char *name;
    double (*fwd)(float *l, const float *a, const float *b, int64_t n);
    void (*bwd)(float *da, float *db, const float *a, const float *b, const float *g,
                float scale, int64_t n);
    double (*ref)(double a, double b);
    double (*mag)(double a, double b);
    float a_lo, a_hi;
} loss_case;

static const loss_case loss_cases[] = {
    {"bce", nb_kernel_bce, nb_kernel_bce_backward, ref_bce, mag_bce, 0.001f, 0.999f},
    {"bce_logits", nb_kernel_bce_logits, nb_kernel_bce_logits_backward, ref_bce_logits,
     mag_bce_logits, -9, 9},
    {"mse", nb_kernel_mse, nb_kernel_mse_backward, ref_mse, mag_mse, -3, 3},
};

/* The terms and their sum against double, and the sum without storing the terms is
 * the same bits. */
Test(vmath, loss_terms_and_sums)
{
    const int64_t sizes[] = {0, 1, 15, 17, 1000, 77101};
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        for (size_t c = 0; c < 3; c++) {
            const loss_case *lc = &loss_cases[c];
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                int64_t n = sizes[s];
                float *a = uniform(n, lc->a_lo, lc->a_hi, 30), *b = uniform(n, 0, 1, 31);
                float *l = malloc((size_t)(n + 1) * sizeof(float));
                cr_assert_not_null(l);
                double sum = lc->fwd(l, a, b, n), want = 0, mag = 0;
                for (int64_t i = 0; i < n; i++) {
                    double w = lc->ref(a[i], b[i]), m = lc->mag(a[i], b[i]);
                    want += w;
                    mag += m;
                    cr_assert(fabs(l[i] - w) <= 1e-6 * m + 1e-7, "%s on %s: l[%lld] = "
                              "%.9g, want %.9g", lc->name, nb_isa_name(all_isas[k]),
                              (long long)i, l[i], w);
                }
                cr_assert(fabs(sum - want) <= 1e-6 * mag + 1e-12, "%s on %s: sum %.12g, want "
                          "%.12g (n = %lld)", lc->name, nb_isa_name(all_isas[k]), sum, want,
                          (long long)n);
                double again = lc->fwd(NULL, a, b, n);
                cr_assert_eq(memcmp(&sum, &again, sizeof sum), 0, "%s: l = NULL", lc->name);
                free(a);
                free(b);
                free(l);
            }
        }
    }
}

/* The gradients against double: per-term factors g[i], or one scale; either gradient
 * alone or both. */
Test(vmath, loss_gradients)
{
    const int64_t n = 517;
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        const char *isa = nb_isa_name(all_isas[k]);
        float *y = uniform(n, 0, 1, 41), *g = uniform(n, -2, 2, 42);
        float *da0 = uniform(n, -1, 1, 43), *db0 = uniform(n, -1, 1, 44);
        for (size_t c = 0; c < 3; c++) {
            const loss_case *lc = &loss_cases[c];
            float *a = uniform(n, lc->a_lo, lc->a_hi, 40);
            for (int mode = 0; mode < 4; mode++) { /* g or scale; both, da only, db only */
                bool per = mode == 0, want_a = mode != 3, want_b = mode != 2;
                float *da = copy_of(da0, n), *db = copy_of(db0, n);
                lc->bwd(want_a ? da : NULL, want_b ? db : NULL, a, y, per ? g : NULL, 0.75f, n);
                for (int64_t i = 0; i < n; i++) {
                    double gi = per ? g[i] : 0.75, p = a[i], t = y[i], ga, gb;
                    if (c == 0) {
                        ga = gi * (p - t) / (p * (1 - p));
                        gb = gi * (log1p(-p) - log(p));
                    } else if (c == 1) {
                        ga = gi * (1 / (1 + exp(-p)) - t);
                        gb = -gi * p;
                    } else {
                        ga = 2 * (p - t) * gi;
                        gb = -ga;
                    }
                    double wa = want_a ? da0[i] + ga : da0[i], wb = want_b ? db0[i] + gb : db0[i];
                    double ta = 1e-5 * fabs(ga) + 4 * FLT_EPSILON * fabs(wa);
                    double tb = 1e-5 * fabs(gb) + 4 * FLT_EPSILON * fabs(wb);
                    cr_assert(fabs(da[i] - wa) <= ta, "d%s/da on %s mode %d [%lld]: %.9g, want "
                              "%.9g", lc->name, isa, mode, (long long)i, da[i], wa);
                    cr_assert(fabs(db[i] - wb) <= tb, "d%s/db on %s mode %d [%lld]: %.9g, want "
                              "%.9g", lc->name, isa, mode, (long long)i, db[i], wb);
                }
                free(da);
                free(db);
            }
            free(a);
        }
        free(y);
        free(g);
        free(da0);
        free(db0);
    }
}

/* bce's clamp and NaN rules on every ISA (the values of nb_bce's documentation), with
 * the edge elements in the middle of a vector of ordinary ones and in a tail. */
Test(vmath, bce_clamps_and_nan_rules)
{
    const float pv[] = {0, 0, 1, 1, 1e-30f, 1e-44f, NAN, 1.5f, -0.25f, INFINITY, 1 + 1e-7f, 0.5f};
    const float yv[] = {0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0.25f};
    /* per element: the loss, dp and dy for g = 1 (NaN: must be NaN) */
    const double l_want[] = {0, 100, 100, 0, -log(1e-30f), 100, NAN, NAN, NAN, NAN, NAN,
                             -(0.25 * log(0.5) + 0.75 * log(0.5))};
    const double dp_want[] = {1, 0, 0, -1, -1e12, 0, NAN, NAN, NAN, NAN, NAN,
                              (0.5 - 0.25) / 0.25};
    const double dy_want[] = {100, 100, -100, -100, -log(1e-30f), 100, NAN, NAN, NAN, NAN, NAN,
                              0};
    enum { E = 12, OFF = 5, N = 40 };
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        const char *isa = nb_isa_name(all_isas[k]);
        for (int where = 0; where < 2; where++) { /* inside full vectors, then a tail */
            int64_t n = where ? N - 3 : N, at = where ? n - E : OFF;
            float p[N], y[N], l[N], dp[N] = {0}, dy[N] = {0};
            for (int i = 0; i < N; i++) {
                p[i] = 0.3f;
                y[i] = 0.6f;
            }
            memcpy(p + at, pv, sizeof pv);
            memcpy(y + at, yv, sizeof yv);
            double sum = nb_kernel_bce(l, p, y, n);
            cr_assert(isnan(sum), "a NaN term makes the sum NaN (%s)", isa);
            nb_kernel_bce_backward(dp, dy, p, y, NULL, 1.0f, n);
            for (int e = 0; e < E; e++) {
                const float got[3] = {l[at + e], dp[at + e], dy[at + e]};
                const double want[3] = {l_want[e], dp_want[e], dy_want[e]};
                for (int q = 0; q < 3; q++)
                    cr_assert(isnan(want[q]) ? isnan(got[q])
                                             : fabs(got[q] - want[q]) <= 1e-6 * fabs(want[q]) + 1e-6,
                              "bce %s on %s, p = %g, y = %g: got %.9g, want %.9g",
                              q == 0 ? "loss" : q == 1 ? "dp" : "dy", isa, pv[e], yv[e],
                              got[q], want[q]);
            }
        }
    }
}

/* z = +-100 and beyond: finite, exact losses and gradients (no overflow). */
Test(vmath, bce_logits_extreme_logits)
{
    const float z[] = {100, -100, 100, -100, 1e30f, -1e30f, 0, 88.8f, -88.8f};
    const float y[] = {0, 1, 1, 0, 0, 1, 0.5f, 0, 1};
    enum { N = 9 };
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        float l[N], dz[N] = {0}, dy[N] = {0};
        nb_kernel_bce_logits(l, z, y, N);
        nb_kernel_bce_logits_backward(dz, dy, z, y, NULL, 1.0f, N);
        for (int i = 0; i < N; i++) {
            double wl = ref_bce_logits(z[i], y[i]);
            double wz = (z[i] >= 0 ? 1 / (1 + exp(-(double)z[i])) : exp(z[i]) / (1 + exp(z[i]))) - y[i];
            cr_assert(isfinite(l[i]) && isfinite(dz[i]), "%s at z = %g", nb_isa_name(all_isas[k]),
                      z[i]);
            cr_assert(fabs(l[i] - wl) <= 1e-6 * fabs(wl) + 1e-7, "loss at z = %g: %.9g vs %.9g",
                      z[i], l[i], wl);
            cr_assert(fabs(dz[i] - wz) <= 1e-6 * fabs(wz) + 1e-7, "dz at z = %g", z[i]);
            cr_assert_eq(dy[i], -z[i]);
        }
    }
}

/* ---- cross-entropy rows and softmax lanes -------------------------------------------- */

Test(vmath, cross_entropy_rows)
{
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {37, 13}, {9, 16}, {4, 40}, {700, 70}};
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        const char *isa = nb_isa_name(all_isas[k]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t N = shapes[s][0], C = shapes[s][1];
            float *x = uniform(N * C, -20, 20, 50), *t = malloc((size_t)N * sizeof(float));
            float *l = malloc((size_t)N * sizeof(float)), *prob = malloc((size_t)(N * C) * 4);
            float *g = uniform(N, -1, 1, 51), *dx = uniform(N * C, -1, 1, 52);
            float *dx0 = copy_of(dx, N * C);
            cr_assert(t && l && prob);
            for (int64_t n = 0; n < N; n++)
                t[n] = (float)(nb_rng_u64(53, (uint64_t)n) % (uint64_t)C);
            double sum = nb_kernel_cross_entropy(l, prob, x, t, N, C), want = 0;
            for (int64_t n = 0; n < N; n++) {
                const float *r = x + n * C;
                double m = r[0], z = 0;
                for (int64_t c = 1; c < C; c++)
                    m = fmax(m, r[c]);
                for (int64_t c = 0; c < C; c++)
                    z += exp(r[c] - m);
                double wl = m + log(z) - r[(int64_t)t[n]];
                want += l[n];
                cr_assert(fabs(l[n] - wl) <= 2e-6 * fabs(wl) + 1e-6, "ce on %s [%lld,%lld] row "
                          "%lld: %.9g, want %.9g", isa, (long long)N, (long long)C,
                          (long long)n, l[n], wl);
                for (int64_t c = 0; c < C; c++) {
                    double wp = exp(r[c] - m) / z, tol = (1e-6 + 2 * FLT_EPSILON * (m - r[c])) * wp;
                    cr_assert(fabs(prob[n * C + c] - wp) <= tol + 1e-30, "prob on %s: %.9g, want "
                              "%.9g", isa, prob[n * C + c], wp);
                }
            }
            cr_assert(fabs(sum - want) <= 1e-9 * fabs(want) + 1e-9, "ce sum on %s", isa);
            double again = nb_kernel_cross_entropy(NULL, NULL, x, t, N, C);
            cr_assert_eq(memcmp(&sum, &again, sizeof sum), 0, "without l and prob");
            nb_kernel_cross_entropy_backward(dx, prob, t, g, 0, N, C);
            for (int64_t n = 0; n < N; n++)
                for (int64_t c = 0; c < C; c++) {
                    int64_t i = n * C + c;
                    double w = dx0[i] + g[n] * (prob[i] - (c == (int64_t)t[n] ? 1.0 : 0.0));
                    cr_assert(fabs(dx[i] - w) <= 4 * FLT_EPSILON * (fabs(dx0[i]) + 1),
                              "dce on %s", isa);
                }
            free(x);
            free(t);
            free(l);
            free(prob);
            free(g);
            free(dx);
            free(dx0);
        }
    }
}

/* One lane of L elements S apart inside a buffer: the lane is written, the elements
 * between its strides are not. */
Test(vmath, softmax_lanes_contiguous_and_strided)
{
    const int64_t cases[][2] = {{1, 1}, {5, 1}, {19, 1}, {40, 1}, {19, 3}, {7, 16}, {33, 2}};
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        const char *isa = nb_isa_name(all_isas[k]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            int64_t L = cases[c][0], S = cases[c][1], n = L * S;
            float *x = uniform(n, -30, 30, 60), *dy = uniform(n, -1, 1, 61);
            float *y = uniform(n, 7, 8, 62), *z = copy_of(y, n);
            float *dx = uniform(n, -1, 1, 63), *dx0 = copy_of(dx, n);
            nb_kernel_softmax_lane(y, x, NULL, L, S);
            nb_kernel_log_softmax_lane(z, x, NULL, L, S);
            double m = -INFINITY, sum = 0, dot = 0, gsum = 0;
            for (int64_t l = 0; l < L; l++)
                m = fmax(m, x[l * S]);
            for (int64_t l = 0; l < L; l++)
                sum += exp(x[l * S] - m);
            for (int64_t i = 0; i < n; i++) {
                if (i % S) {
                    cr_assert(y[i] >= 7 && y[i] < 8 && z[i] >= 7 && z[i] < 8,
                              "softmax wrote outside its lane (%s)", isa);
                    continue;
                }
                /* x - m is rounded to float: a relative error of |x - m| eps in e^(x-m) */
                double ws = exp(x[i] - m) / sum, wl = x[i] - m - log(sum);
                cr_assert(fabs(y[i] - ws) <= (1e-6 + 2 * FLT_EPSILON * (m - x[i])) * ws + 1e-30, "softmax on %s L %lld S %lld: "
                          "%.9g, want %.9g", isa, (long long)L, (long long)S, y[i], ws);
                cr_assert(fabs(z[i] - wl) <= 1e-6 * fabs(wl) + 1e-6, "log_softmax on %s: %.9g, "
                          "want %.9g", isa, z[i], wl);
                dot += (double)dy[i] * y[i];
                gsum += dy[i];
            }
            nb_kernel_softmax_lane_backward(dx, y, dy, L, S);
            for (int64_t i = 0; i < n; i += S) {
                double w = dx0[i] + y[i] * (dy[i] - dot);
                cr_assert(fabs(dx[i] - w) <= 1e-5 * (fabs(dx0[i]) + fabs(y[i])), "dsoftmax on %s",
                          isa);
            }
            memcpy(dx, dx0, (size_t)n * sizeof(float));
            nb_kernel_log_softmax_lane_backward(dx, z, dy, L, S);
            for (int64_t i = 0; i < n; i++) {
                double w = i % S ? dx0[i] : dx0[i] + dy[i] - exp(z[i]) * gsum;
                cr_assert(fabs(dx[i] - w) <= 1e-5 * (1 + fabs(gsum)), "dlog_softmax on %s", isa);
            }
            free(x);
            free(dy);
            free(y);
            free(z);
            free(dx);
            free(dx0);
        }
    }
}

/* ---- threads -------------------------------------------------------------------------- */

/* Runs every kernel on n elements into out (outputs concatenated) with `threads`. */
static void run_all(int threads, int64_t n, const float *x, const float *p, const float *t,
                    const float *g, float *out, double *sums)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    float *o = out;
    for (size_t c = 0; c < N_UNARY; c++, o += n)
        unary_cases[c].f(o, c == 1 || c == 5 ? p : x, n);
    nb_kernel_pow(o, p, 1.7f, n);
    o += n;
    for (size_t c = 0; c < N_BACKWARD; c++, o += n) {
        memcpy(o, g, (size_t)n * sizeof(float));
        backward_cases[c].df(o, p, x, n);
    }
    memcpy(o, g, (size_t)n * sizeof(float));
    nb_kernel_pow_backward(o, p, x, -0.5f, n);
    o += n;
    const float *a[3] = {p, x, x};
    for (size_t c = 0; c < 3; c++) {
        sums[c] = loss_cases[c].fwd(o, a[c], t, n);
        o += n;
        memcpy(o, g, (size_t)n * sizeof(float));
        memcpy(o + n, g, (size_t)n * sizeof(float));
        loss_cases[c].bwd(o, o + n, a[c], t, c == 2 ? g : NULL, 0.01f, n);
        o += 2 * n;
    }
    /* cross-entropy on rows of 23 classes */
    int64_t C = 23, N = n / C;
    float *labels = malloc((size_t)N * sizeof(float));
    cr_assert_not_null(labels);
    for (int64_t r = 0; r < N; r++)
        labels[r] = (float)(r % C);
    sums[3] = nb_kernel_cross_entropy(o, o + N, x, labels, N, C);
    memcpy(o + N + N * C, g, (size_t)(N * C) * sizeof(float));
    nb_kernel_cross_entropy_backward(o + N + N * C, o + N, labels, NULL, 0.1f, N, C);
    free(labels);
}

Test(vmath, same_bits_for_1_and_2_threads)
{
    const int64_t n = 77101; /* above NB_PAR_MIN, not a multiple of 16 */
    cr_assert_gt(n, NB_PAR_MIN);
    const int64_t outputs = (N_UNARY + 1 + N_BACKWARD + 1 + 9 + 3) * n;
    float *x = uniform(n, -5, 5, 70), *p = uniform(n, 0.001f, 0.999f, 71);
    float *t = uniform(n, 0, 1, 72), *g = uniform(n, -1, 1, 73);
    float *o1 = calloc((size_t)outputs, sizeof(float)), *o2 = calloc((size_t)outputs, sizeof(float));
    cr_assert(o1 && o2);
    int prev = nb_num_threads();
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        double s1[4], s2[4];
        run_all(1, n, x, p, t, g, o1, s1);
        run_all(2, n, x, p, t, g, o2, s2);
        cr_assert_eq(memcmp(s1, s2, sizeof s1), 0, "loss sums differ on %s",
                     nb_isa_name(all_isas[k]));
        if (memcmp(o1, o2, (size_t)outputs * sizeof(float)) == 0)
            continue;
        int64_t i = 0;
        while (memcmp(&o1[i], &o2[i], sizeof(float)) == 0)
            i++;
        cr_assert_fail("%s: output %lld (block %lld) differs: %.9g vs %.9g",
                       nb_isa_name(all_isas[k]), (long long)i, (long long)(i / n), o1[i], o2[i]);
    }
    nb_set_num_threads(prev);
    free(x);
    free(p);
    free(t);
    free(g);
    free(o1);
    free(o2);
}

/* ---- choosing the ISA ------------------------------------------------------------------ */

Test(vmath, choosing_the_isa)
{
    nb_isa best = nb_kernel_isa();
    cr_assert(best >= NB_ISA_C && best <= NB_ISA_AVX512);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (best != NB_ISA_C) /* a build with SLEEF: the widest the CPU has */
        cr_assert_eq(best, __builtin_cpu_supports("avx512f") ? NB_ISA_AVX512
                           : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                               ? NB_ISA_AVX2
                               : NB_ISA_SSE2);
#endif
    cr_assert_str_eq(nb_isa_name(NB_ISA_AUTO), "auto");
    cr_assert_str_eq(nb_isa_name(NB_ISA_C), "C");
    cr_assert_str_eq(nb_isa_name(NB_ISA_SSE2), "SSE2");
    cr_assert_str_eq(nb_isa_name(NB_ISA_AVX2), "AVX2");
    cr_assert_str_eq(nb_isa_name(NB_ISA_AVX512), "AVX-512");
    cr_assert_str_eq(nb_isa_name((nb_isa)42), "unknown");

    cr_assert_eq(nb_kernel_set_isa(NB_ISA_C), NB_OK, "plain C is always there");
    cr_assert_eq(nb_kernel_isa(), NB_ISA_C);
    for (int k = 0; k < N_ISAS; k++) {
        nb_isa isa = all_isas[k];
        if (isa > best) { /* not on this CPU: an error, and the choice stays */
            cr_assert_eq(nb_kernel_set_isa(isa), NB_ERR_ARG);
            char want[96];
            snprintf(want, sizeof want, "kernel_set_isa: %s is not available on this CPU",
                     nb_isa_name(isa));
            cr_assert(strstr(nb_error(), want), "%s", nb_error());
            cr_assert_eq(nb_kernel_isa(), NB_ISA_C);
        } else {
            cr_assert_eq(nb_kernel_set_isa(isa), NB_OK, "%s: %s", nb_isa_name(isa), nb_error());
            cr_assert_eq(nb_kernel_isa(), isa);
            cr_assert_eq(nb_kernel_set_isa(NB_ISA_C), NB_OK);
        }
    }
    const int bad[] = {-1, 5, 1000};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(nb_kernel_set_isa((nb_isa)bad[i]), NB_ERR_ARG);
        char want[64];
        snprintf(want, sizeof want, "kernel_set_isa: unknown ISA %d", bad[i]);
        cr_assert(strstr(nb_error(), want), "%s", nb_error());
    }
    cr_assert_eq(nb_kernel_isa(), NB_ISA_C, "a bad value changes nothing");
    cr_assert_eq(nb_kernel_set_isa(NB_ISA_AUTO), NB_OK);
    cr_assert_eq(nb_kernel_isa(), best);
}

/* The ops run on the chosen ISA: nb_sigmoid under each gives that ISA's kernel bits. */
Test(vmath, ops_follow_the_chosen_isa)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(5, 41), -8, 8, 80, false);
    float want[205];
    for (int k = 0; k < N_ISAS; k++) {
        if (!use_isa(all_isas[k]))
            continue;
        nb_kernel_sigmoid(want, x->data, x->size);
        nb_tensor *y = nb_sigmoid(x);
        cr_assert_not_null(y, "%s", nb_error());
        cr_assert_eq(memcmp(y->data, want, sizeof want), 0, "%s", nb_isa_name(all_isas[k]));
    }
    nb_tensor_free(x);
}
