/*
 * src/nn/model_private.h - what a layer and a model hold, shared by the files that
 * implement them (layer.c, model.c, compile.c, summary.c). Layers (dense.c, ...) and
 * fit, callbacks and curves are written on the public nabla/nn.h only.
 */
#ifndef NABLA_NN_MODEL_PRIVATE_H
#define NABLA_NN_MODEL_PRIVATE_H

#include "nabla.h"
#include "nabla/nn.h"

struct nb_layer {
    const nb_layer_def *def;
    char name[NB_LAYER_NAME_MAX + 1];
    bool named;                    /* by nb_layer_named: kept when added */
    void *opts;                    /* def->opts_size bytes */
    void *state;                   /* def->state_size bytes */
    nb_model *model;
    bool built;
    int n_weights;
    int64_t weights[NB_LAYER_MAX_WEIGHTS];   /* entry indices in the model's store */
    bool has_output;
    int out_ndim;
    int64_t out_shape[NB_MAX_DIMS];
};

struct nb_model {
    char name[NB_LAYER_NAME_MAX + 1];
    bool sequential;
    nb_forward_fn forward;
    void *ud;
    int n_inputs;
    uint64_t seed;
    nb_layer **layers;
    int n_layers, cap_layers;
    nb_params *ps;
    bool built, building, training, stop;
    int64_t steps;
    /* The sample shapes it was built for. */
    int in_ndim[NB_MODEL_MAX_INPUTS];
    int64_t in_shape[NB_MODEL_MAX_INPUTS][NB_MAX_DIMS];
    /* compile */
    bool compiled;
    nb_compile_opts copts;
    nb_optimizer *opt;
};

/* Builds a Sequential model that starts with an Input layer (model.c); NB_OK and
 * nothing done for any other model. */
nb_status nb_model_auto_build_(nb_model *m);

/* Makes the compiled optimizer for a built model (compile.c). */
nb_status nb_model_make_optimizer_(nb_model *m);

#endif /* NABLA_NN_MODEL_PRIVATE_H */
