/*
 * Input (keras.Input): states the shape of one sample, without the batch dimension, and
 * checks every input against it; the identity otherwise. No parameters.
 */
#include <string.h>

#include "nabla.h"
#include "nabla/nn.h"

typedef struct input_opts {
    int ndim;
    int64_t shape[NB_MAX_DIMS];
} input_opts;

static nb_tensor *input_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)training;
    const input_opts *o = nb_layer_opts(l);
    bool ok = x[0]->ndim == o->ndim + 1;
    for (int d = 0; ok && d < o->ndim; d++)
        ok = x[0]->shape[d + 1] == o->shape[d];
    if (!ok) {
        char want[160], got[96];
        int k = snprintf(want, sizeof want, "[N");
        for (int d = 0; d < o->ndim && k > 0 && (size_t)k < sizeof want; d++)
            k += snprintf(want + k, sizeof want - (size_t)k, ",%lld", (long long)o->shape[d]);
        if (k > 0 && (size_t)k < sizeof want)
            snprintf(want + k, sizeof want - (size_t)k, "]");
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected inputs %s, got %s", want,
                             nb_tensor_shape_str(x[0], got, sizeof got));
    }
    return x[0];
}

static const nb_layer_def input_def = {
    .type = "InputLayer",
    .name = "input_layer",
    .opts_size = sizeof(input_opts),
    .forward = input_forward,
};

nb_layer *nb_input_new(int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim >= NB_MAX_DIMS || !shape) {
        nb_set_error(NB_ERR_ARG, "Input: a sample needs 1 to %d dimensions, got %d",
                     NB_MAX_DIMS - 1, shape ? ndim : 0);
        return NULL;
    }
    input_opts o = {.ndim = ndim};
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            nb_set_error(NB_ERR_ARG, "Input: dimension %d is negative (%lld)", d,
                         (long long)shape[d]);
            return NULL;
        }
        o.shape[d] = shape[d];
    }
    return nb_layer_new(&input_def, &o);
}

bool nb_input_shape(const nb_layer *l, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    if (!l || nb_layer_def_of(l) != &input_def)
        return false;
    const input_opts *o = nb_layer_opts(l);
    *ndim = o->ndim;
    memcpy(shape, o->shape, sizeof o->shape);
    return true;
}
