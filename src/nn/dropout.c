/*
 * Dropout (keras.layers.Dropout): inverted dropout, nb_dropout.
 *     training:   y = x m / (1 - rate),  m_i = [u_i >= rate]      inference: y = x
 * The mask's seed is drawn from (layer seed, opts seed, nb_model_steps): a new mask every
 * training step, the same one for every evaluation inside a step. No parameters.
 */
#include <math.h>

#include "nabla.h"
#include "nabla/kernels.h"
#include "nabla/nn.h"

static nb_status dropout_check(nb_layer *l)
{
    const nb_dropout_layer_opts *o = nb_layer_opts(l);
    if (!(o->rate >= 0 && o->rate < 1))
        return nb_set_error(NB_ERR_ARG, "Dropout: rate must be in [0, 1), got %g",
                            (double)o->rate);
    return NB_OK;
}

static nb_tensor *dropout_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    const nb_dropout_layer_opts *o = nb_layer_opts(l);
    uint64_t seed = nb_rng_u64(nb_layer_seed(l) ^ o->seed,
                               (uint64_t)nb_model_steps(nb_layer_model(l)));
    return nb_dropout(x[0], o->rate, training, seed);
}

static const nb_layer_def dropout_def = {
    .type = "Dropout",
    .name = "dropout",
    .opts_size = sizeof(nb_dropout_layer_opts),
    .check = dropout_check,
    .forward = dropout_forward,
};

nb_layer *nb_dropout_layer_new(nb_dropout_layer_opts opts)
{
    return nb_layer_new(&dropout_def, &opts);
}
