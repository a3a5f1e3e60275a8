/*
 * Conv2D (keras.layers.Conv2D), NCHW:
 *     y = activation(conv2d(x, kernel) + bias)     x [N, C, H, W] -> [N, filters, H', W']
 *     kernel [filters, C / groups, kh, kw], bias [filters]
 * (filters (C / groups) kh kw + filters parameters: Conv2D(32, 3) on 1 channel has 320.)
 * "valid" padding adds none; "same" pads so that H' = ceil(H / stride) (nb_conv2d's
 * pad_same). Defaults as Keras: glorot_uniform kernel, zero bias.
 */
#include "nabla.h"
#include "nabla/nn.h"
#include "nabla/op.h" /* NB_NONE: no bias */

typedef struct conv2d_state {
    nb_tensor *kernel, *bias;
    int64_t channels;          /* C, learned by build */
    nb_conv2d_opts conv;       /* strides, dilation, groups, padding for nb_conv2d */
} conv2d_state;

static nb_status conv2d_check(nb_layer *l)
{
    nb_conv2d_layer_opts *o = nb_layer_opts(l);
    conv2d_state *s = nb_layer_state(l);
    if (!o->kernel_h)
        o->kernel_h = o->kernel_size;
    if (!o->kernel_w)
        o->kernel_w = o->kernel_size;
    if (!o->strides)
        o->strides = 1;
    if (!o->stride_h)
        o->stride_h = o->strides;
    if (!o->stride_w)
        o->stride_w = o->strides;
    if (!o->dilation_rate)
        o->dilation_rate = 1;
    if (!o->groups)
        o->groups = 1;
    if (o->filters < 1)
        return nb_set_error(NB_ERR_ARG, "Conv2D: filters must be >= 1, got %lld",
                            (long long)o->filters);
    if (o->kernel_h < 1 || o->kernel_w < 1)
        return nb_set_error(NB_ERR_ARG, "Conv2D: the kernel must be at least 1x1, got %dx%d "
                            "(set kernel_size)", o->kernel_h, o->kernel_w);
    if (o->stride_h < 1 || o->stride_w < 1 || o->dilation_rate < 1 || o->groups < 1)
        return nb_set_error(NB_ERR_ARG, "Conv2D: strides (%d, %d), dilation_rate %d and "
                            "groups %d must be >= 1", o->stride_h, o->stride_w,
                            o->dilation_rate, o->groups);
    if (o->filters % o->groups)
        return nb_set_error(NB_ERR_ARG, "Conv2D: filters %lld is not a multiple of groups %d",
                            (long long)o->filters, o->groups);
    if (o->padding != NB_PADDING_VALID && o->padding != NB_PADDING_SAME)
        return nb_set_error(NB_ERR_ARG, "Conv2D: unknown padding %d", (int)o->padding);
    if (!o->activation_fn && !nb_activation_name(o->activation))
        return nb_set_error(NB_ERR_ARG, "Conv2D: unknown activation kind %d",
                            (int)o->activation);
    s->conv = nb_conv2d_default();
    s->conv.stride_h = o->stride_h;
    s->conv.stride_w = o->stride_w;
    s->conv.dilation_h = s->conv.dilation_w = o->dilation_rate;
    s->conv.groups = o->groups;
    s->conv.pad_same = o->padding == NB_PADDING_SAME;
    return NB_OK;
}

static nb_status conv2d_build(nb_layer *l, nb_tensor *const *x)
{
    const nb_conv2d_layer_opts *o = nb_layer_opts(l);
    conv2d_state *s = nb_layer_state(l);
    char sx[64];
    if (x[0]->ndim != 4)
        return nb_layer_error(l, NB_ERR_SHAPE, "expected an input [N, C, H, W], got %s",
                              nb_tensor_shape_str(x[0], sx, sizeof sx));
    s->channels = x[0]->shape[1];
    if (s->channels % o->groups)
        return nb_layer_error(l, NB_ERR_SHAPE, "input channels %lld (of %s) are not a multiple "
                              "of groups %d", (long long)s->channels,
                              nb_tensor_shape_str(x[0], sx, sizeof sx), o->groups);
    s->kernel = nb_layer_add_weight(l, "kernel",
                                    NB_SHAPE(o->filters, s->channels / o->groups, o->kernel_h,
                                             o->kernel_w),
                                    o->kernel_initializer);
    if (!s->kernel)
        return nb_error_code();
    if (!o->no_bias) {
        nb_initializer bi = o->bias_initializer;
        if (bi.fan_in == 0)  /* PyTorch draws a bias from its kernel's fan_in */
            bi.fan_in = s->channels / o->groups * o->kernel_h * o->kernel_w;
        s->bias = nb_layer_add_weight(l, "bias", NB_SHAPE(o->filters), bi);
        if (!s->bias)
            return nb_error_code();
    }
    return NB_OK;
}

static nb_tensor *conv2d_forward(nb_layer *l, nb_tensor *const *in, bool training)
{
    (void)training;
    const nb_conv2d_layer_opts *o = nb_layer_opts(l);
    const conv2d_state *s = nb_layer_state(l);
    nb_tensor *x = in[0];
    char sx[64];
    if (x->ndim != 4 || x->shape[1] != s->channels)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected an input [N, %lld, H, W] (the channels "
                             "it was built for), got %s", (long long)s->channels,
                             nb_tensor_shape_str(x, sx, sizeof sx));
    /* ReLU is fused into the convolution (the same values and gradients, one pass). */
    nb_conv2d_opts co = s->conv;
    co.relu = o->activation == NB_RELU && !o->activation_fn;
    nb_tensor *y = nb_conv2d(x, s->kernel, s->bias ? s->bias : NB_NONE, &co);
    return co.relu ? y : nb_activate(y, o->activation, o->activation_fn);
}

static const nb_layer_def conv2d_def = {
    .type = "Conv2D",
    .name = "conv2d",
    .opts_size = sizeof(nb_conv2d_layer_opts),
    .state_size = sizeof(conv2d_state),
    .check = conv2d_check,
    .build = conv2d_build,
    .forward = conv2d_forward,
};

nb_layer *nb_conv2d_layer_new(nb_conv2d_layer_opts opts)
{
    return nb_layer_new(&conv2d_def, &opts);
}
