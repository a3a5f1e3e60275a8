/*
 * tests/engine/mlp.h - a small two-layer network and one gradient-descent step, shared
 * by the memory and threading tests.
 */
#ifndef NABLA_TESTS_MLP_H
#define NABLA_TESTS_MLP_H

#include "../common.h"

typedef struct mlp {
    nb_tensor *x, *y, *w1, *b1, *w2, *b2;
} mlp;

static inline void mlp_free(mlp *m)
{
    nb_tensor *all[] = {m->x, m->y, m->w1, m->b1, m->w2, m->b2};
    for (size_t i = 0; i < 6; i++)
        nb_tensor_free(all[i]);
    memset(m, 0, sizeof *m);
}

/* N samples of D features, H hidden units, one output. Returns NB_OK or the error (with
 * everything it made freed). */
static inline nb_status mlp_init(mlp *m, int64_t N, int64_t D, int64_t H, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->x = nb_tensor_rand(NB_SHAPE(N, D), -1, 1, seed);
    m->y = nb_tensor_rand(NB_SHAPE(N, 1), 0, 1, seed + 1);
    m->w1 = nb_tensor_randn(NB_SHAPE(D, H), 0, 1.0f / sqrtf((float)D), seed + 2);
    m->b1 = nb_tensor_zeros(NB_SHAPE(H));
    m->w2 = nb_tensor_randn(NB_SHAPE(H, 1), 0, 1.0f / sqrtf((float)H), seed + 3);
    m->b2 = nb_tensor_zeros(NB_SHAPE(1));
    nb_tensor *params[] = {m->w1, m->b1, m->w2, m->b2};
    nb_status s = m->x && m->y && m->w1 && m->b1 && m->w2 && m->b2 ? NB_OK : nb_error_code();
    for (int i = 0; i < 4 && s == NB_OK; i++)
        s = nb_tensor_set_requires_grad(params[i], true);
    if (s != NB_OK)
        mlp_free(m);
    return s;
}

/* One step: forward (several kinds of ops), backward, update, zero grads, reset the
 * step. Writes the loss to *loss_out if not NULL. */
static inline nb_status mlp_step(mlp *m, float lr, float *loss_out)
{
    nb_tensor *h = nb_tanh(nb_add(nb_matmul(m->x, m->w1), m->b1));
    nb_tensor *z = nb_add(nb_matmul(nb_relu(h), m->w2), m->b2);
    nb_tensor *p = nb_sigmoid(z);
    nb_tensor *loss = nb_add(nb_bce(p, m->y, NB_REDUCE_MEAN),
                             nb_mul_scalar(nb_mse(p, m->y, NB_REDUCE_MEAN), 0.5f));
    nb_status s = loss ? nb_backward(loss) : nb_error_code();
    if (s == NB_OK && loss_out)
        *loss_out = loss->data[0];
    nb_tensor *params[] = {m->w1, m->b1, m->w2, m->b2};
    for (int i = 0; i < 4 && s == NB_OK; i++) {
        nb_tensor_axpy(params[i], -lr, params[i]->grad);
        nb_tensor_zero_grad(params[i]);
    }
    nb_step_reset();
    return s;
}

#endif /* NABLA_TESTS_MLP_H */
