/*
 * MaxPooling2D and AveragePooling2D (keras.layers), NCHW: a pool_h x pool_w window moved
 * by the strides, [N, C, H, W] -> [N, C, H', W'], no parameters.
 *     "valid": H' = (H - pool_h) / stride_h + 1
 *     "same":  H' = ceil(H / stride_h), padded with pad = max((H' - 1) stride + pool - H, 0)
 *              split top = pad / 2, bottom = the rest (TensorFlow's rule); max pooling
 *              pads with -inf, average pooling leaves padding out of the count.
 * One file for both: they differ only in the op they call.
 */
#include "nabla.h"
#include "nabla/nn.h"

typedef struct pooling2d_state {
    bool max;                  /* max or average */
} pooling2d_state;

static nb_status pooling2d_check(nb_layer *l)
{
    nb_pooling2d_opts *o = nb_layer_opts(l);
    const char *type = nb_layer_type(l);
    if (!o->pool_size)
        o->pool_size = 2;
    if (!o->pool_h)
        o->pool_h = o->pool_size;
    if (!o->pool_w)
        o->pool_w = o->pool_size;
    if (!o->stride_h)
        o->stride_h = o->strides ? o->strides : o->pool_h;
    if (!o->stride_w)
        o->stride_w = o->strides ? o->strides : o->pool_w;
    if (o->pool_h < 1 || o->pool_w < 1 || o->stride_h < 1 || o->stride_w < 1)
        return nb_set_error(NB_ERR_ARG, "%s: pool %dx%d and strides (%d, %d) must be >= 1",
                            type, o->pool_h, o->pool_w, o->stride_h, o->stride_w);
    if (o->padding != NB_PADDING_VALID && o->padding != NB_PADDING_SAME)
        return nb_set_error(NB_ERR_ARG, "%s: unknown padding %d", type, (int)o->padding);
    if (o->padding == NB_PADDING_SAME && (o->stride_h > o->pool_h || o->stride_w > o->pool_w))
        return nb_set_error(NB_ERR_ARG, "%s: \"same\" padding needs strides (%d, %d) no larger "
                            "than the pool %dx%d", type, o->stride_h, o->stride_w, o->pool_h,
                            o->pool_w);
    return NB_OK;
}

/* TensorFlow's "same" padding along one axis of size n. */
static void same_pad(int64_t n, int k, int s, int *before, int *after)
{
    int64_t out = (n + s - 1) / s;
    int64_t pad = (out - 1) * s + k - n;
    if (pad < 0)
        pad = 0;
    *before = (int)(pad / 2);
    *after = (int)(pad - pad / 2);
}

static nb_tensor *pooling2d_forward(nb_layer *l, nb_tensor *const *in, bool training)
{
    (void)training;
    const nb_pooling2d_opts *o = nb_layer_opts(l);
    const pooling2d_state *s = nb_layer_state(l);
    nb_tensor *x = in[0];
    char sx[64];
    if (x->ndim != 4)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected an input [N, C, H, W], got %s",
                             nb_tensor_shape_str(x, sx, sizeof sx));
    nb_pool2d_opts p = nb_pool2d_default(o->pool_h, o->pool_w);
    p.stride_h = o->stride_h;
    p.stride_w = o->stride_w;
    if (o->padding == NB_PADDING_SAME) {
        same_pad(x->shape[2], o->pool_h, o->stride_h, &p.pad_top, &p.pad_bottom);
        same_pad(x->shape[3], o->pool_w, o->stride_w, &p.pad_left, &p.pad_right);
    }
    p.count_include_pad = false;
    return s->max ? nb_max_pool2d(x, &p) : nb_avg_pool2d(x, &p);
}

static nb_status max_check(nb_layer *l)
{
    ((pooling2d_state *)nb_layer_state(l))->max = true;
    return pooling2d_check(l);
}

static const nb_layer_def max_pooling2d_def = {
    .type = "MaxPooling2D",
    .name = "max_pooling2d",
    .opts_size = sizeof(nb_pooling2d_opts),
    .state_size = sizeof(pooling2d_state),
    .check = max_check,
    .forward = pooling2d_forward,
};

static const nb_layer_def average_pooling2d_def = {
    .type = "AveragePooling2D",
    .name = "average_pooling2d",
    .opts_size = sizeof(nb_pooling2d_opts),
    .state_size = sizeof(pooling2d_state),
    .check = pooling2d_check,
    .forward = pooling2d_forward,
};

nb_layer *nb_max_pooling2d_new(nb_pooling2d_opts opts)
{
    return nb_layer_new(&max_pooling2d_def, &opts);
}

nb_layer *nb_average_pooling2d_new(nb_pooling2d_opts opts)
{
    return nb_layer_new(&average_pooling2d_def, &opts);
}
