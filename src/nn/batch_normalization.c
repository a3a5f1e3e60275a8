/*
 * BatchNormalization (keras.layers.BatchNormalization) over the channels of NCHW input
 * (or the features of [N, C]):
 *     y = gamma (x - mean) / sqrt(var + epsilon) + beta
 * gamma, beta [C] are parameters; moving_mean, moving_variance [C] are buffers (saved,
 * never trained) that nb_batch_norm updates in training,
 *     moving = momentum moving + (1 - momentum) batch       (Keras's momentum)
 * which is nb_batch_norm's (PyTorch's) momentum 1 - momentum. 4 C weights, 2 C of them
 * non-trainable, as Keras counts. Defaults as Keras: momentum 0.99, epsilon 1e-3, gamma
 * ones, beta zeros, moving mean 0 and variance 1.
 */
#include <math.h>

#include "nabla.h"
#include "nabla/nn.h"

typedef struct batch_normalization_state {
    nb_tensor *gamma, *beta, *moving_mean, *moving_variance;
    int64_t channels;
} batch_normalization_state;

static nb_status batch_normalization_check(nb_layer *l)
{
    nb_batch_normalization_opts *o = nb_layer_opts(l);
    if (o->momentum == 0)
        o->momentum = 0.99f;
    if (o->epsilon == 0)
        o->epsilon = 1e-3f;
    if (!(o->momentum >= 0 && o->momentum <= 1))
        return nb_set_error(NB_ERR_ARG, "BatchNormalization: momentum must be in [0, 1], got "
                            "%g", (double)o->momentum);
    if (!(o->epsilon > 0 && isfinite(o->epsilon)))
        return nb_set_error(NB_ERR_ARG, "BatchNormalization: epsilon must be > 0, got %g",
                            (double)o->epsilon);
    return NB_OK;
}

static nb_status batch_normalization_build(nb_layer *l, nb_tensor *const *x)
{
    const nb_batch_normalization_opts *o = nb_layer_opts(l);
    batch_normalization_state *s = nb_layer_state(l);
    char sx[64];
    if (x[0]->ndim != 2 && x[0]->ndim != 4)
        return nb_layer_error(l, NB_ERR_SHAPE, "expected an input [N, C] or [N, C, H, W], "
                              "got %s", nb_tensor_shape_str(x[0], sx, sizeof sx));
    int64_t C = s->channels = x[0]->shape[1];
    nb_initializer g = o->gamma_initializer.kind ? o->gamma_initializer : NB_ONES;
    nb_initializer b = o->beta_initializer.kind ? o->beta_initializer : NB_ZEROS;
    if (!(s->gamma = nb_layer_add_weight(l, "gamma", NB_SHAPE(C), o->no_scale ? NB_ONES : g)) ||
        !(s->beta = nb_layer_add_weight(l, "beta", NB_SHAPE(C), o->no_center ? NB_ZEROS : b)) ||
        !(s->moving_mean = nb_layer_add_buffer(l, "moving_mean", NB_SHAPE(C), NB_ZEROS)) ||
        !(s->moving_variance = nb_layer_add_buffer(l, "moving_variance", NB_SHAPE(C), NB_ONES)))
        return nb_error_code();
    /* center=False / scale=False: the constant beta = 0 / gamma = 1 is not trained. */
    if (o->no_scale && nb_tensor_set_requires_grad(s->gamma, false) != NB_OK)
        return nb_error_code();
    if (o->no_center && nb_tensor_set_requires_grad(s->beta, false) != NB_OK)
        return nb_error_code();
    return NB_OK;
}

static nb_tensor *batch_normalization_forward(nb_layer *l, nb_tensor *const *in, bool training)
{
    const nb_batch_normalization_opts *o = nb_layer_opts(l);
    const batch_normalization_state *s = nb_layer_state(l);
    nb_tensor *x = in[0];
    char sx[64];
    if ((x->ndim != 2 && x->ndim != 4) || x->shape[1] != s->channels)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected an input [N, %lld] or [N, %lld, H, W] "
                             "(the channels it was built for), got %s", (long long)s->channels,
                             (long long)s->channels, nb_tensor_shape_str(x, sx, sizeof sx));
    return nb_batch_norm(x, s->gamma, s->beta, s->moving_mean, s->moving_variance,
                         1.0f - o->momentum, o->epsilon, training);
}

static const nb_layer_def batch_normalization_def = {
    .type = "BatchNormalization",
    .name = "batch_normalization",
    .opts_size = sizeof(nb_batch_normalization_opts),
    .state_size = sizeof(batch_normalization_state),
    .check = batch_normalization_check,
    .build = batch_normalization_build,
    .forward = batch_normalization_forward,
};

nb_layer *nb_batch_normalization_new(nb_batch_normalization_opts opts)
{
    return nb_layer_new(&batch_normalization_def, &opts);
}
