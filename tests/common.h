/*
 * tests/common.h - helpers shared by the Criterion suites.
 *
 * Every suite uses NB_TEST_SUITE(name): each test then ends by releasing step memory
 * and, under LeakSanitizer, failing if anything it allocated leaked (Criterion's forked
 * workers would otherwise exit before the sanitizer looks).
 */
#ifndef NABLA_TESTS_COMMON_H
#define NABLA_TESTS_COMMON_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "nabla.h"
#include "nabla/kernels.h"
#include "nabla/op.h"
#include "nabla/parallel.h"

/* Present only when linked with LeakSanitizer (ASan builds). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static inline void nb_test_fini(void)
{
    nb_step_reset();
    nb_memory_release();
    nb_set_grad_enabled(true);
    if (__lsan_do_recoverable_leak_check)
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the report)");
}

#define NB_TEST_SUITE(name) TestSuite(name, .fini = nb_test_fini)

/* A persistent tensor of the given shape with values uniform in [lo, hi). */
static inline nb_tensor *rand_tensor(int ndim, const int64_t *shape, float lo, float hi,
                                     uint64_t seed, bool requires_grad)
{
    nb_tensor *t = nb_tensor_rand(ndim, shape, lo, hi, seed);
    cr_assert_not_null(t, "%s", nb_error());
    if (requires_grad)
        cr_assert_eq(nb_tensor_set_requires_grad(t, true), NB_OK, "%s", nb_error());
    return t;
}

/* Asserts |got[i] - want[i]| <= atol + rtol * |want[i]| for every i (equal infinities
 * and NaN against NaN count as close). */
static inline void assert_close(const float *got, const double *want, int64_t n, double atol,
                                double rtol, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        bool same_special = (isnan(want[i]) && isnan(got[i])) || (double)got[i] == want[i];
        cr_assert(err <= atol + rtol * fabs(want[i]) || same_special,
                  "%s[%lld]: got %.9g, want %.9g", what, (long long)i, got[i], want[i]);
    }
}

/* Runs nb_gradcheck on f and asserts it ran, passed, and that the gradient is not
 * trivially zero. */
static inline void assert_gradcheck(nb_gradcheck_fn f, nb_tensor *const *inputs, int n,
                                    void *ud, const nb_gradcheck_opts *opts, const char *what)
{
    nb_gradcheck_result r;
    nb_status s = nb_gradcheck(f, inputs, n, ud, opts, &r);
    cr_assert_eq(s, NB_OK, "%s: gradcheck did not run: %s", what, nb_error());
    cr_assert(r.passed, "%s: gradient mismatch at input %d[%lld]: analytic %.7g, numeric %.7g "
              "(max abs err %.3g)", what, r.worst_input, (long long)r.worst_index,
              r.worst_analytic, r.worst_numeric, r.max_abs_err);
    cr_assert_gt(r.max_abs_grad, 0.0, "%s: gradient is all zeros", what);
}

/* Asserts `t` is NULL and the recorded error has `code` and contains `needle`. */
#define assert_error(t, code, needle)                                                    \
    do {                                                                                 \
        cr_assert_null((t), "expected an error containing \"%s\"", (needle));            \
        cr_assert_eq(nb_error_code(), (code), "status %s, message: %s",                  \
                     nb_status_str(nb_error_code()), nb_error());                        \
        cr_assert(strstr(nb_error(), (needle)) != NULL, "message \"%s\" lacks \"%s\"",   \
                  nb_error(), (needle));                                                 \
    } while (0)

/* Asserts that a call returning nb_status gives `code` and a message containing
 * `needle`. */
#define assert_status(call, code, needle)                                                \
    do {                                                                                 \
        nb_status st_ = (call);                                                          \
        cr_assert_eq(st_, (code), "status %s, message: %s", nb_status_str(st_),          \
                     nb_error());                                                        \
        cr_assert(strstr(nb_error(), (needle)) != NULL, "message \"%s\" lacks \"%s\"",   \
                  nb_error(), (needle));                                                 \
    } while (0)

#endif /* NABLA_TESTS_COMMON_H */
