/*
 * tests/nn/fit_common.h - small synthetic problems for the fit suites.
 */
#ifndef NABLA_TESTS_NN_FIT_COMMON_H
#define NABLA_TESTS_NN_FIT_COMMON_H

#include "nn_common.h"

/* N points uniform in [-1, 1)^2, labelled 1 inside the circle of radius 0.5 around
 * (0.3, 0.2). (Off the origin: a tanh network with zero biases is odd at its start, and a
 * centred circle is a saddle for it.) */
static inline void circle_data(int64_t N, uint64_t seed, nb_tensor **x, nb_tensor **y)
{
    *x = nb_tensor_rand(NB_SHAPE(N, 2), -1, 1, seed);
    *y = nb_tensor_zeros(NB_SHAPE(N, 1));
    cr_assert(*x && *y);
    for (int64_t i = 0; i < N; i++) {
        float a = (*x)->data[2 * i], b = (*x)->data[2 * i + 1];
        (*y)->data[i] = (a - 0.3f) * (a - 0.3f) + (b - 0.2f) * (b - 0.2f) < 0.25f ? 1.0f : 0.0f;
    }
}

/* A 2-16-1 classifier compiled with BCE and accuracy. */
static inline nb_model *circle_model(uint64_t seed, nb_optim_spec opt)
{
    nb_layer *layers[] = {nb_dense(16, .activation = NB_TANH), nb_dense(1, .activation = NB_SIGMOID)};
    nb_model *m = nb_sequential_new(layers, 2, &(nb_model_opts){.seed = seed});
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = opt,
                            .metrics = {NB_METRIC_ACCURACY}), NB_OK, "%s", nb_error());
    return m;
}

/* A copy of every value of the model's store (parameters and buffers); free() it. */
static inline float *weights_of(const nb_model *m, int64_t *n)
{
    nb_params *ps = nb_model_params(m);
    *n = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
    float *w = malloc(sizeof(float) * (size_t)(*n > 0 ? *n : 1));
    cr_assert_not_null(w);
    memcpy(w, nb_params_values(ps), sizeof(float) * (size_t)*n);
    return w;
}

#endif /* NABLA_TESTS_NN_FIT_COMMON_H */
