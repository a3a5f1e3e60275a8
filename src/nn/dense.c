/*
 * Dense (keras.layers.Dense): a fully connected layer.
 *     y = activation(x kernel + bias)      x [..., in] -> y [..., units]
 *     kernel [in, units], bias [units]:    in * units + units parameters
 * (Dense(25) on 2 features has 75, as Keras counts.) Defaults as Keras: a glorot_uniform
 * kernel and a zero bias (NB_TORCH_DEFAULT for both gives PyTorch's nn.Linear).
 *
 * This file is the model for writing a layer: options (nb_dense_opts, in nabla/nn.h),
 * private state, and the descriptor's check, build and forward, each on public ops.
 */
#include "nabla.h"
#include "nabla/nn.h"

typedef struct dense_state {
    nb_tensor *kernel, *bias;   /* entries of the model's store (bias NULL with no_bias) */
    int64_t in;                 /* input features, learned by build */
} dense_state;

/* Validates the options once, when the layer is made. */
static nb_status dense_check(nb_layer *l)
{
    const nb_dense_opts *o = nb_layer_opts(l);
    if (o->units < 1)
        return nb_set_error(NB_ERR_ARG, "Dense: units must be >= 1, got %lld",
                            (long long)o->units);
    if (!o->activation_fn && !nb_activation_name(o->activation))
        return nb_set_error(NB_ERR_ARG, "Dense: unknown activation kind %d",
                            (int)o->activation);
    return NB_OK;
}

/* Called with the first input: its last dimension is the number of features. */
static nb_status dense_build(nb_layer *l, nb_tensor *const *x)
{
    const nb_dense_opts *o = nb_layer_opts(l);
    dense_state *s = nb_layer_state(l);
    char sx[64];
    if (x[0]->ndim < 2)
        return nb_layer_error(l, NB_ERR_SHAPE, "expected an input [N, features], got %s",
                              nb_tensor_shape_str(x[0], sx, sizeof sx));
    s->in = x[0]->shape[x[0]->ndim - 1];
    s->kernel = nb_layer_add_weight(l, "kernel", NB_SHAPE(s->in, o->units),
                                    o->kernel_initializer);
    if (!s->kernel)
        return nb_error_code();
    if (!o->no_bias) {
        nb_initializer bi = o->bias_initializer;
        if (bi.fan_in == 0)
            bi.fan_in = s->in;  /* PyTorch draws a bias from its kernel's fan_in */
        s->bias = nb_layer_add_weight(l, "bias", NB_SHAPE(o->units), bi);
        if (!s->bias)
            return nb_error_code();
    }
    return NB_OK;
}

static nb_tensor *dense_forward(nb_layer *l, nb_tensor *const *in, bool training)
{
    (void)training;
    const nb_dense_opts *o = nb_layer_opts(l);
    const dense_state *s = nb_layer_state(l);
    nb_tensor *x = in[0];
    char sx[64];
    if (x->ndim < 2 || x->shape[x->ndim - 1] != s->in)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected an input [..., %lld] (the features it "
                             "was built for), got %s", (long long)s->in,
                             nb_tensor_shape_str(x, sx, sizeof sx));
    nb_tensor *y;
    if (x->ndim <= 3) {
        y = nb_matmul(x, s->kernel);  /* [N, in] or [B, N, in] @ [in, units] */
    } else {
        /* Higher ranks: as rows [-1, in], then back to [..., units]. */
        int64_t shape[NB_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++)
            shape[d] = x->shape[d];
        shape[x->ndim - 1] = o->units;
        y = nb_matmul(nb_reshape(x, NB_SHAPE(-1, s->in)), s->kernel);
        y = nb_reshape(y, x->ndim, shape);
    }
    if (s->bias)
        y = nb_add(y, s->bias);
    return nb_activate(y, o->activation, o->activation_fn);
}

static const nb_layer_def dense_def = {
    .type = "Dense",
    .name = "dense",
    .opts_size = sizeof(nb_dense_opts),
    .state_size = sizeof(dense_state),
    .check = dense_check,
    .build = dense_build,
    .forward = dense_forward,
};

nb_layer *nb_dense_new(nb_dense_opts opts) { return nb_layer_new(&dense_def, &opts); }
