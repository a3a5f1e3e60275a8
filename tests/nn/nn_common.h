/*
 * tests/nn/nn_common.h - helpers shared by the layers-module suites.
 */
#ifndef NABLA_TESTS_NN_COMMON_H
#define NABLA_TESTS_NN_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "../common.h"

/* A Sequential model of one layer, built for samples of `shape` (without the batch). */
static inline nb_model *one_layer_model(nb_layer *l, int ndim, const int64_t *shape)
{
    cr_assert_not_null(l, "%s", nb_error());
    nb_model *m = nb_sequential_new(&l, 1, NULL);
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_eq(nb_model_build(m, ndim, shape), NB_OK, "%s", nb_error());
    return m;
}

/* gradcheck function: the layer in ud called on in[0] (the other inputs are its weights,
 * perturbed in place by nb_gradcheck). */
static inline nb_tensor *call_layer_fn(nb_tensor *const *in, void *ud)
{
    return nb_layer_call((nb_layer *)ud, in[0]);
}

/* Gradient check of layer l on x and every weight of l that requires grad. */
static inline void assert_layer_gradcheck(nb_layer *l, nb_tensor *x, const char *what)
{
    nb_tensor *in[1 + NB_LAYER_MAX_WEIGHTS] = {x};
    int n = 1;
    for (int i = 0; i < nb_layer_weight_count(l); i++)
        if (nb_layer_weight_at(l, i)->requires_grad)
            in[n++] = nb_layer_weight_at(l, i);
    assert_gradcheck(call_layer_fn, in, n, l, NULL, what);
}

/* The store holds exactly these names, in this order, with these kinds. */
static inline void assert_store(const nb_model *m, const char *const *names,
                                const nb_param_kind *kinds, int n)
{
    nb_params *ps = nb_model_params(m);
    cr_assert_eq(nb_params_count(ps), n, "the store has %lld entries, expected %d",
                 (long long)nb_params_count(ps), n);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(nb_params_name(ps, i), names[i]);
        cr_assert_eq(nb_params_kind(ps, i), kinds[i], "kind of %s", names[i]);
    }
}

/* Asserts t's shape. */
static inline void assert_shape(const nb_tensor *t, int ndim, const int64_t *shape)
{
    cr_assert_not_null(t, "%s", nb_error());
    char got[64], want[64];
    nb_tensor_shape_str(t, got, sizeof got);
    nb_shape_str(ndim, shape, want, sizeof want);
    cr_assert_str_eq(got, want, "shape %s, expected %s", got, want);
}

/* Asserts status `s` is `code` and the message contains `needle`. */
#define assert_status(s, code, needle)                                                   \
    do {                                                                                 \
        nb_status s_ = (s);                                                              \
        cr_assert_eq(s_, (code), "status %s, message: %s", nb_status_str(s_), nb_error()); \
        cr_assert(strstr(nb_error(), (needle)) != NULL, "message \"%s\" lacks \"%s\"",   \
                  nb_error(), (needle));                                                 \
    } while (0)

/* Everything f wrote to a FILE, as a malloc'd string the caller frees. */
static inline char *capture(nb_status (*f)(void *ud, FILE *out), void *ud, nb_status *status)
{
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    nb_status s = f(ud, tmp);
    if (status)
        *status = s;
    long n = ftell(tmp);
    cr_assert_geq(n, 0);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    rewind(tmp);
    cr_assert_eq(fread(buf, 1, (size_t)n, tmp), (size_t)n);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

#endif /* NABLA_TESTS_NN_COMMON_H */
