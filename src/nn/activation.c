/*
 * Activation (keras.layers.Activation): y = activation(x), the same shape.
 *     nb_activation(NB_RELU)   nb_activation(.fn = swish, .fn_name = "swish")
 * No parameters. nb_activate is also what Dense and Conv2D apply after their transform.
 */
#include "nabla.h"
#include "nabla/nn.h"

static const char *const activation_names[NB_ACTIVATION_COUNT] = {
    [NB_LINEAR] = "linear", [NB_RELU] = "relu", [NB_SIGMOID] = "sigmoid",
    [NB_TANH] = "tanh", [NB_SOFTMAX] = "softmax",
};

const char *nb_activation_name(nb_activation_kind kind)
{
    return (unsigned)kind < NB_ACTIVATION_COUNT ? activation_names[kind] : NULL;
}

nb_tensor *nb_activate(nb_tensor *x, nb_activation_kind kind, nb_activation_fn fn)
{
    if (fn)
        return fn(x);
    switch (kind) {
    case NB_LINEAR: return x;
    case NB_RELU: return nb_relu(x);
    case NB_SIGMOID: return nb_sigmoid(x);
    case NB_TANH: return nb_tanh(x);
    case NB_SOFTMAX: return nb_softmax(x, -1);
    default:
        nb_set_error(NB_ERR_ARG, "activate: unknown activation kind %d", (int)kind);
        return NULL;
    }
}

static nb_status activation_check(nb_layer *l)
{
    const nb_activation_opts *o = nb_layer_opts(l);
    if (!o->fn && !nb_activation_name(o->kind))
        return nb_set_error(NB_ERR_ARG, "Activation: unknown activation kind %d", (int)o->kind);
    return NB_OK;
}

static nb_tensor *activation_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)training;
    const nb_activation_opts *o = nb_layer_opts(l);
    return nb_activate(x[0], o->kind, o->fn);
}

static const nb_layer_def activation_def = {
    .type = "Activation",
    .name = "activation",
    .opts_size = sizeof(nb_activation_opts),
    .check = activation_check,
    .forward = activation_forward,
};

nb_layer *nb_activation_new(nb_activation_opts opts)
{
    return nb_layer_new(&activation_def, &opts);
}
