/*
 * src/nn/init.c - weight initializers (the formulas are in nabla/nn.h).
 *
 * Element i of a weight is drawn from counter-based random numbers keyed on (seed, i)
 * only, so the values are the same on every machine and thread count. Normal draws use
 * Box-Muller on two uniforms; a truncated normal redraws (with the next counters) any
 * value beyond two standard deviations, as Keras's TruncatedNormal does.
 */
#include <math.h>

#include "nabla.h"
#include "nabla/kernels.h"
#include "nabla/nn.h"

/* The standard deviation of a unit normal truncated to [-2, 2] (Keras's constant). */
#define TRUNC_STD 0.87962566103423978

static const char *const init_names[NB_INIT_COUNT] = {
    [NB_INIT_DEFAULT] = "default",
    [NB_INIT_ZEROS] = "zeros",
    [NB_INIT_ONES] = "ones",
    [NB_INIT_CONSTANT] = "constant",
    [NB_INIT_UNIFORM] = "random_uniform",
    [NB_INIT_NORMAL] = "random_normal",
    [NB_INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [NB_INIT_GLOROT_NORMAL] = "glorot_normal",
    [NB_INIT_HE_UNIFORM] = "he_uniform",
    [NB_INIT_HE_NORMAL] = "he_normal",
    [NB_INIT_LECUN_UNIFORM] = "lecun_uniform",
    [NB_INIT_LECUN_NORMAL] = "lecun_normal",
    [NB_INIT_KAIMING_UNIFORM] = "kaiming_uniform",
};

const char *nb_init_name(nb_init_kind kind)
{
    return (unsigned)kind < NB_INIT_COUNT ? init_names[kind] : NULL;
}

void nb_init_fans(int ndim, const int64_t *shape, int64_t *fan_in, int64_t *fan_out)
{
    int64_t in, out;
    if (ndim == 2) {
        in = shape[0];
        out = shape[1];
    } else if (ndim >= 3) {
        int64_t field = 1;
        for (int d = 2; d < ndim; d++)
            field *= shape[d];
        in = shape[1] * field;
        out = shape[0] * field;
    } else {
        in = out = ndim == 1 ? shape[0] : 1;
    }
    *fan_in = in;
    *fan_out = out;
}

/* A unit normal for element i: Box-Muller on the uniforms at counters 2k and 2k + 1,
 * k = i + attempt n. */
static double unit_normal(uint64_t seed, uint64_t i, uint64_t attempt, uint64_t n)
{
    uint64_t k = i + attempt * n;
    double u1 = 1.0 - (double)nb_rng_uniform(seed, 2 * k);  /* (0, 1] */
    double u2 = (double)nb_rng_uniform(seed, 2 * k + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A unit normal truncated to [-2, 2]: redrawn up to 64 times, then clamped (a chance of
 * 0.0455^64). */
static double truncated_normal(uint64_t seed, uint64_t i, uint64_t n)
{
    double z = 0;
    for (uint64_t a = 0; a < 64; a++) {
        z = unit_normal(seed, i, a, n);
        if (fabs(z) <= 2.0)
            return z;
    }
    return z > 0 ? 2.0 : -2.0;
}

nb_status nb_init_fill(nb_tensor *t, nb_initializer init, uint64_t seed)
{
    if (!t)
        return nb_set_error(NB_ERR_NULL, "init: tensor is NULL");
    const char *name = nb_init_name(init.kind);
    if (!name)
        return nb_set_error(NB_ERR_ARG, "init: unknown initializer kind %d", (int)init.kind);
    int64_t fan_in, fan_out;
    nb_init_fans(t->ndim, t->shape, &fan_in, &fan_out);
    if (init.fan_in > 0)
        fan_in = init.fan_in;
    if (init.fan_out > 0)
        fan_out = init.fan_out;
    /* As Keras: an empty fan counts as 1. */
    double fi = fan_in > 0 ? (double)fan_in : 1.0, fo = fan_out > 0 ? (double)fan_out : 1.0;

    enum { CONST, UNIFORM, NORMAL, TRUNC } draw = CONST;
    double a = 0, b = 0;  /* CONST: a; UNIFORM: [a, b); NORMAL, TRUNC: mean a, std b */
    switch (init.kind) {
    case NB_INIT_DEFAULT: /* resolved by the layer; alone it is glorot_uniform */
    case NB_INIT_GLOROT_UNIFORM:
        b = sqrt(6.0 / (fi + fo)), a = -b, draw = UNIFORM;
        break;
    case NB_INIT_ZEROS: a = 0; break;
    case NB_INIT_ONES: a = 1; break;
    case NB_INIT_CONSTANT:
        if (!isfinite(init.a))
            return nb_set_error(NB_ERR_ARG, "init: constant: the value must be finite, got %g",
                                (double)init.a);
        a = init.a;
        break;
    case NB_INIT_UNIFORM:
        if (!(isfinite(init.a) && isfinite(init.b) && init.b >= init.a))
            return nb_set_error(NB_ERR_ARG, "init: random_uniform: need finite lo <= hi, got "
                                "[%g, %g)", (double)init.a, (double)init.b);
        a = init.a, b = init.b, draw = UNIFORM;
        break;
    case NB_INIT_NORMAL:
        if (!(isfinite(init.a) && isfinite(init.b) && init.b >= 0))
            return nb_set_error(NB_ERR_ARG, "init: random_normal: need a finite mean and a "
                                "finite std >= 0, got mean %g std %g", (double)init.a,
                                (double)init.b);
        a = init.a, b = init.b, draw = NORMAL;
        break;
    case NB_INIT_GLOROT_NORMAL: b = sqrt(2.0 / (fi + fo)) / TRUNC_STD, draw = TRUNC; break;
    case NB_INIT_HE_UNIFORM: b = sqrt(6.0 / fi), a = -b, draw = UNIFORM; break;
    case NB_INIT_HE_NORMAL: b = sqrt(2.0 / fi) / TRUNC_STD, draw = TRUNC; break;
    case NB_INIT_LECUN_UNIFORM: b = sqrt(3.0 / fi), a = -b, draw = UNIFORM; break;
    case NB_INIT_LECUN_NORMAL: b = sqrt(1.0 / fi) / TRUNC_STD, draw = TRUNC; break;
    case NB_INIT_KAIMING_UNIFORM:
        if (!isfinite(init.a))
            return nb_set_error(NB_ERR_ARG, "init: kaiming_uniform: the slope a must be "
                                "finite, got %g", (double)init.a);
        b = sqrt(6.0 / ((1.0 + (double)init.a * init.a) * fi)), a = -b, draw = UNIFORM;
        break;
    default:
        break;
    }

    float *d = t->data;
    uint64_t n = (uint64_t)t->size;
    for (uint64_t i = 0; i < n; i++) {
        double v;
        switch (draw) {
        case UNIFORM: v = a + (b - a) * (double)nb_rng_uniform(seed, i); break;
        case NORMAL: v = a + b * unit_normal(seed, i, 0, n); break;
        case TRUNC: v = b * truncated_normal(seed, i, n); break;
        default: v = a; break;
        }
        d[i] = (float)v;
    }
    return NB_OK;
}
