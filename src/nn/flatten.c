/*
 * Flatten (keras.layers.Flatten): [N, ...] -> [N, product of the rest] (nb_flatten; in
 * NCHW order, Keras's data_format="channels_first"). No parameters.
 */
#include "nabla.h"
#include "nabla/nn.h"

static nb_tensor *flatten_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)l;
    (void)training;
    return nb_flatten(x[0]);
}

static const nb_layer_def flatten_def = {
    .type = "Flatten",
    .name = "flatten",
    .forward = flatten_forward,
};

nb_layer *nb_flatten_layer(void) { return nb_layer_new(&flatten_def, NULL); }
