/*
 * GlobalAveragePooling2D (keras.layers), NCHW: [N, C, H, W] -> [N, C], the mean of each
 * channel's plane (nb_global_avg_pool2d). No parameters.
 */
#include "nabla.h"
#include "nabla/nn.h"

static nb_tensor *global_average_pooling2d_forward(nb_layer *l, nb_tensor *const *x,
                                                   bool training)
{
    (void)training;
    char sx[64];
    if (x[0]->ndim != 4)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected an input [N, C, H, W], got %s",
                             nb_tensor_shape_str(x[0], sx, sizeof sx));
    return nb_global_avg_pool2d(x[0]);
}

static const nb_layer_def global_average_pooling2d_def = {
    .type = "GlobalAveragePooling2D",
    .name = "global_average_pooling2d",
    .forward = global_average_pooling2d_forward,
};

nb_layer *nb_global_average_pooling2d(void)
{
    return nb_layer_new(&global_average_pooling2d_def, NULL);
}
