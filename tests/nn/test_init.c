/* Initializers: fans by layout, the bounds and variances of every variance-scaling kind
 * (Keras's formulas), plain uniform/normal/constant, seeding, errors. */
#include "nn_common.h"

NB_TEST_SUITE(init);

Test(init, fans)
{
    int64_t in, out;
    nb_init_fans(NB_SHAPE(20, 30), &in, &out);           /* Dense kernel [in, out] */
    cr_assert(in == 20 && out == 30);
    nb_init_fans(NB_SHAPE(8, 3, 5, 5), &in, &out);       /* conv kernel [out, in, kh, kw] */
    cr_assert(in == 75 && out == 200, "%lld %lld", (long long)in, (long long)out);
    nb_init_fans(NB_SHAPE(7), &in, &out);
    cr_assert(in == 7 && out == 7);
    nb_init_fans(0, NULL, &in, &out);
    cr_assert(in == 1 && out == 1);
}

static void moments(const nb_tensor *t, double *mean, double *var, double *amax)
{
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < t->size; i++) {
        s += t->data[i];
        s2 += (double)t->data[i] * t->data[i];
        m = fmax(m, fabs(t->data[i]));
    }
    *mean = s / (double)t->size;
    *var = s2 / (double)t->size - *mean * *mean;
    *amax = m;
}

/* A [200, 300] (or conv) weight from `init`: mean about 0, variance `var`, values within
 * `bound` (and reaching close to it for uniform kinds). */
static void check_kind(nb_initializer init, double var, double bound, bool uniform)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(200, 300));
    cr_assert_eq(nb_init_fill(t, init, 11), NB_OK, "%s", nb_error());
    double mean, v, amax;
    moments(t, &mean, &v, &amax);
    const char *name = nb_init_name(init.kind);
    cr_assert_lt(fabs(mean), 0.01 * sqrt(var) + 1e-4, "%s: mean %g", name, mean);
    cr_assert_float_eq(v, var, 0.03 * var, "%s: variance %g, want %g", name, v, var);
    cr_assert_leq(amax, bound * (1 + 1e-6), "%s: |w| %g beyond %g", name, amax, bound);
    if (uniform)
        cr_assert_gt(amax, 0.99 * bound, "%s: %g does not reach %g", name, amax, bound);
    nb_tensor_free(t);
}

Test(init, variance_scaling_kinds)
{
    const double fi = 200, fo = 300;
    double l = sqrt(6 / (fi + fo));
    check_kind(NB_GLOROT_UNIFORM, l * l / 3, l, true);
    l = sqrt(6 / fi);
    check_kind(NB_HE_UNIFORM, l * l / 3, l, true);
    l = sqrt(3 / fi);
    check_kind(NB_LECUN_UNIFORM, l * l / 3, l, true);
    l = 1 / sqrt(fi);  /* kaiming_uniform_(a = sqrt 5), PyTorch's default */
    check_kind(NB_TORCH_DEFAULT, l * l / 3, l, true);
    l = sqrt(6 / (1.0 + 0.25) / fi);
    check_kind(NB_KAIMING_UNIFORM(0.5f), l * l / 3, l, true);
    /* Truncated normals: the variance of the truncated draw is scale / n, and values stay
     * within two standard deviations of the untruncated normal (std / .8796). */
    const double c = 0.87962566103423978;
    check_kind(NB_GLOROT_NORMAL, 2 / (fi + fo), 2 * sqrt(2 / (fi + fo)) / c, false);
    check_kind(NB_HE_NORMAL, 2 / fi, 2 * sqrt(2 / fi) / c, false);
    check_kind(NB_LECUN_NORMAL, 1 / fi, 2 * sqrt(1 / fi) / c, false);
}

Test(init, plain_kinds)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(300, 200));
    double mean, var, amax;
    cr_assert_eq(nb_init_fill(t, NB_NORMAL(1.5f, 0.5f), 3), NB_OK);
    moments(t, &mean, &var, &amax);
    cr_assert_float_eq(mean, 1.5, 0.005);
    cr_assert_float_eq(var, 0.25, 0.01);
    cr_assert_eq(nb_init_fill(t, NB_UNIFORM(2, 3), 4), NB_OK);
    for (int64_t i = 0; i < t->size; i++)
        cr_assert(t->data[i] >= 2 && t->data[i] < 3);
    moments(t, &mean, &var, &amax);
    cr_assert_float_eq(mean, 2.5, 0.005);
    cr_assert_eq(nb_init_fill(t, NB_CONSTANT(-0.25f), 0), NB_OK);
    cr_assert_eq(nb_init_fill(t, NB_ONES, 0), NB_OK);
    cr_assert_eq(t->data[t->size - 1], 1.0f);
    cr_assert_eq(nb_init_fill(t, NB_ZEROS, 0), NB_OK);
    cr_assert_eq(t->data[17], 0.0f);
    cr_assert_eq(nb_init_fill(t, NB_CONSTANT(-0.25f), 0), NB_OK);
    cr_assert_eq(t->data[17], -0.25f);
    nb_tensor_free(t);
}

Test(init, seeded_and_fan_overrides)
{
    nb_tensor *a = nb_tensor_zeros(NB_SHAPE(50, 40)), *b = nb_tensor_zeros(NB_SHAPE(50, 40));
    nb_tensor_fill(b, 9);
    cr_assert_eq(nb_init_fill(a, NB_HE_NORMAL, 5), NB_OK);
    cr_assert_eq(nb_init_fill(b, NB_HE_NORMAL, 5), NB_OK);
    cr_assert_eq(memcmp(a->data, b->data, sizeof(float) * 2000), 0);
    cr_assert_eq(nb_init_fill(b, NB_HE_NORMAL, 6), NB_OK);
    cr_assert_neq(memcmp(a->data, b->data, sizeof(float) * 2000), 0);
    /* fan_in = 5 instead of 50: ten times the variance of he_uniform. */
    nb_initializer wide = NB_HE_UNIFORM;
    wide.fan_in = 5;
    cr_assert_eq(nb_init_fill(a, wide, 7), NB_OK);
    double mean, var, amax;
    moments(a, &mean, &var, &amax);
    cr_assert_leq(amax, sqrt(6.0 / 5));
    cr_assert_gt(amax, sqrt(6.0 / 50) * 2);
    nb_tensor_free(a);
    nb_tensor_free(b);
}

Test(init, errors_and_names)
{
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(3));
    assert_status(nb_init_fill(t, (nb_initializer){.kind = (nb_init_kind)99}, 0), NB_ERR_ARG,
                  "init: unknown initializer kind 99");
    assert_status(nb_init_fill(t, NB_UNIFORM(1, 0), 0), NB_ERR_ARG,
                  "init: random_uniform: need finite lo <= hi, got [1, 0)");
    assert_status(nb_init_fill(t, NB_NORMAL(0, -1), 0), NB_ERR_ARG,
                  "init: random_normal: need a finite mean and a finite std >= 0");
    assert_status(nb_init_fill(t, NB_CONSTANT(INFINITY), 0), NB_ERR_ARG,
                  "init: constant: the value must be finite, got inf");
    assert_status(nb_init_fill(NULL, NB_ZEROS, 0), NB_ERR_NULL, "init: tensor is NULL");
    cr_assert_str_eq(nb_init_name(NB_INIT_GLOROT_UNIFORM), "glorot_uniform");
    cr_assert_str_eq(nb_init_name(NB_INIT_HE_NORMAL), "he_normal");
    cr_assert_null(nb_init_name(NB_INIT_COUNT));
    /* A bad initializer given to a layer: the error names the layer. */
    nb_model *m = nb_sequential(nb_dense(2, .kernel_initializer = NB_UNIFORM(1, 0)));
    assert_status(nb_model_build(m, NB_SHAPE(3)), NB_ERR_ARG,
                  "dense: init: random_uniform: need finite lo <= hi");
    nb_model_free(m);
    nb_tensor_free(t);
}
