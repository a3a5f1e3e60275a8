/*
 * nabla/nn.h - layers, models and training: the Keras workflow in C.
 *
 *     nb_model *m = nb_sequential(nb_dense(25, .activation = NB_SIGMOID),
 *                                 nb_dense(15, .activation = NB_SIGMOID),
 *                                 nb_dense(1, .activation = NB_SIGMOID));
 *     nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
 *                .metrics = {NB_METRIC_ACCURACY});
 *     nb_history *h = nb_fit(m, x, y, .epochs = 200, .batch_size = 4);
 *     if (!h) fprintf(stderr, "%s\n", nb_error());    // "dense_1: matmul: ..."
 *     nb_model_summary(m, stdout);
 *     nb_history_free(h);
 *     nb_model_free(m);
 *
 * Layers are built on first use: nb_dense(25) learns its input size from the first
 * tensor it sees and registers its weights in the model's parameter store (nabla/params.h)
 * under Keras's names ("dense.kernel", "dense_1.bias", "batch_normalization.moving_mean").
 * A layer, built-in or yours, is a descriptor (nb_layer_def) with named functions;
 * src/nn/dense.c is the one to copy (docs/layers.md walks through it).
 *
 * A model is a Sequential stack of layers or a forward function of yours that calls
 * layers on tensors (branches, residual connections, shared layers, several inputs).
 * Both train with the same compile / fit / evaluate / predict, which are written on the
 * public step API below (forward, loss, backward, optimizer step, reset): your own
 * training loop can use exactly what fit uses.
 *
 * Ownership: a model owns its layers, its parameter store and the optimizer compile made;
 * nb_model_free releases all of it. fit returns a history the caller frees. Every error
 * is a NULL or an nb_status with a message that names the layer (or the function) and
 * the shapes, as for ops.
 */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stdio.h>

#include "ops.h"
#include "optim.h"
#include "params.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_layer nb_layer;
typedef struct nb_model nb_model;

/* ==== activations ======================================================================= */

/* The activations a layer can apply after its transformation (Keras's activation=...). */
typedef enum nb_activation_kind {
    NB_LINEAR = 0,  /* none (Keras "linear") */
    NB_RELU,
    NB_SIGMOID,
    NB_TANH,
    NB_SOFTMAX,     /* along the last axis */
    NB_ACTIVATION_COUNT
} nb_activation_kind;

/* A user activation: any function of ops, e.g. x * sigmoid(x). */
typedef nb_tensor *(*nb_activation_fn)(nb_tensor *x);

/* fn(x) if fn is not NULL, else the activation `kind` of x. NB_ERR_ARG for an unknown
 * kind; a NULL x passes through (its error kept). */
nb_tensor *nb_activate(nb_tensor *x, nb_activation_kind kind, nb_activation_fn fn);

/* "linear", "relu", "sigmoid", "tanh", "softmax" (NULL for an unknown kind). */
const char *nb_activation_name(nb_activation_kind kind);

/* ==== initializers ====================================================================== */

/* How a weight's first values are drawn. fan_in and fan_out come from the weight's shape
 * (see nb_init_fans) unless set in the initializer. Variance-scaling kinds (Keras's
 * VarianceScaling family) draw with n = fan_in, fan_out or their mean:
 *
 *   kind                    draws                                          = Keras / PyTorch
 *   NB_INIT_GLOROT_UNIFORM  U(-l, l), l = sqrt(6 / (fan_in + fan_out))    glorot_uniform /
 *                                                                          xavier_uniform_
 *   NB_INIT_GLOROT_NORMAL   truncated N(0, s), s = sqrt(2 / (fan_in + fan_out)) / .8796
 *   NB_INIT_HE_UNIFORM      U(-l, l), l = sqrt(6 / fan_in)                 he_uniform /
 *                                                                          kaiming_uniform_(a=0)
 *   NB_INIT_HE_NORMAL       truncated N(0, s), s = sqrt(2 / fan_in) / .8796 he_normal
 *   NB_INIT_LECUN_UNIFORM   U(-l, l), l = sqrt(3 / fan_in)                 lecun_uniform
 *   NB_INIT_LECUN_NORMAL    truncated N(0, s), s = sqrt(1 / fan_in) / .8796 lecun_normal
 *   NB_INIT_KAIMING_UNIFORM U(-l, l), l = sqrt(6 / ((1 + a^2) fan_in))     kaiming_uniform_(a)
 *   NB_INIT_UNIFORM         U(a, b)                                        RandomUniform
 *   NB_INIT_NORMAL          N(a, b) (mean a, std b)                        RandomNormal
 *   NB_INIT_ZEROS / ONES / CONSTANT (a)
 *
 * "Truncated" redraws values beyond two standard deviations, and .8796 (0.87962566...)
 * is the standard deviation of a unit normal truncated so, as in Keras.
 *
 * Defaults: Keras's, for Dense and Conv2D a glorot_uniform kernel and a zero bias
 * (NB_INIT_DEFAULT). PyTorch's nn.Linear and nn.Conv2d draw kernel and bias from
 * kaiming_uniform_(a = sqrt 5), which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)): pass
 * NB_TORCH_DEFAULT as both kernel_initializer and bias_initializer (a bias then gets its
 * kernel's fan_in, as in PyTorch). */
typedef enum nb_init_kind {
    NB_INIT_DEFAULT = 0,  /* glorot_uniform for a weight of rank >= 2, zeros below */
    NB_INIT_ZEROS,
    NB_INIT_ONES,
    NB_INIT_CONSTANT,
    NB_INIT_UNIFORM,
    NB_INIT_NORMAL,
    NB_INIT_GLOROT_UNIFORM,
    NB_INIT_GLOROT_NORMAL,
    NB_INIT_HE_UNIFORM,
    NB_INIT_HE_NORMAL,
    NB_INIT_LECUN_UNIFORM,
    NB_INIT_LECUN_NORMAL,
    NB_INIT_KAIMING_UNIFORM,
    NB_INIT_COUNT
} nb_init_kind;

typedef struct nb_initializer {
    nb_init_kind kind;
    float a, b;                /* CONSTANT: a; UNIFORM: [a, b); NORMAL: mean a, std b;
                                  KAIMING_UNIFORM: the negative slope a */
    int64_t fan_in, fan_out;   /* > 0: used instead of the fans of the shape */
} nb_initializer;

#define NB_ZEROS ((nb_initializer){NB_INIT_ZEROS, 0, 0, 0, 0})
#define NB_ONES ((nb_initializer){NB_INIT_ONES, 0, 0, 0, 0})
#define NB_CONSTANT(v) ((nb_initializer){NB_INIT_CONSTANT, (v), 0, 0, 0})
#define NB_UNIFORM(lo, hi) ((nb_initializer){NB_INIT_UNIFORM, (lo), (hi), 0, 0})
#define NB_NORMAL(mean, std) ((nb_initializer){NB_INIT_NORMAL, (mean), (std), 0, 0})
#define NB_GLOROT_UNIFORM ((nb_initializer){NB_INIT_GLOROT_UNIFORM, 0, 0, 0, 0})
#define NB_GLOROT_NORMAL ((nb_initializer){NB_INIT_GLOROT_NORMAL, 0, 0, 0, 0})
#define NB_HE_UNIFORM ((nb_initializer){NB_INIT_HE_UNIFORM, 0, 0, 0, 0})
#define NB_HE_NORMAL ((nb_initializer){NB_INIT_HE_NORMAL, 0, 0, 0, 0})
#define NB_LECUN_UNIFORM ((nb_initializer){NB_INIT_LECUN_UNIFORM, 0, 0, 0, 0})
#define NB_LECUN_NORMAL ((nb_initializer){NB_INIT_LECUN_NORMAL, 0, 0, 0, 0})
#define NB_KAIMING_UNIFORM(a) ((nb_initializer){NB_INIT_KAIMING_UNIFORM, (a), 0, 0, 0})
#define NB_TORCH_DEFAULT NB_KAIMING_UNIFORM(2.23606797749979f)

/* The fans of a weight shape, by Keras's and PyTorch's rule for nabla's layouts: rank 2
 * is a Dense kernel [in, out] (fan_in = shape[0], fan_out = shape[1]); rank >= 3 a
 * convolution kernel [out, in, k...] (fan_in = in * receptive field, fan_out = out *
 * receptive field); rank 1 and 0 have fan_in = fan_out = size. */
void nb_init_fans(int ndim, const int64_t *shape, int64_t *fan_in, int64_t *fan_out);

/* Fills t from `init` with fans from t's shape (or the initializer's). Element i
 * depends only on (seed, i): the same seed gives the same values on every machine and
 * thread count. NB_ERR_ARG naming the initializer for an unknown kind, a uniform with
 * b < a, a negative or non-finite std; NB_ERR_NULL for a NULL t. */
nb_status nb_init_fill(nb_tensor *t, nb_initializer init, uint64_t seed);

/* "glorot_uniform", "he_normal", ... (NULL for an unknown kind). */
const char *nb_init_name(nb_init_kind kind);

/* ==== the layer descriptor: what you write to add a layer ================================
 *
 * A layer type is a descriptor with named functions; the built-in layers in src/nn/ are
 * defined this way and nothing else, so a layer in your own file works in Sequential,
 * functional models, summary, checkpoints and fit. The life of a layer:
 *
 *     nb_layer_new(def, &opts)   copies opts, zeroes def->state_size bytes of state, calls
 *                                check (validate the options, fill in defaults)
 *     nb_model_add(m, l)         gives it to a model, which names it ("dense_1")
 *     first nb_layer_call        build(l, x): read x's shape, add weights with
 *                                nb_layer_add_weight / nb_layer_add_buffer
 *     every nb_layer_call        forward(l, x, training): the output from ops
 *     nb_model_free              free(l), if set, then the layer itself
 *
 * Inside check, build and forward, report errors with nb_layer_error / nb_layer_fail,
 * which prefix the layer's name ("dense_1: expected 2 features, got [4,3]"); an op that
 * fails inside forward has its message prefixed the same way by nb_layer_call. */

#define NB_LAYER_MAX_INPUTS 8
#define NB_LAYER_MAX_WEIGHTS 16
#define NB_LAYER_NAME_MAX 63

typedef struct nb_layer_def {
    const char *type;      /* Keras's class name, shown by summary: "Dense" */
    const char *name;      /* base of default names: "dense" -> dense, dense_1, ... */
    int n_inputs;          /* tensors forward takes (0 means 1) */
    size_t opts_size;      /* bytes of the options struct nb_layer_new copies */
    size_t state_size;     /* bytes of private state (zeroed), e.g. the weights' tensors */
    /* Optional: checks the options (nb_layer_opts), may fill in defaults in place. */
    nb_status (*check)(nb_layer *l);
    /* Optional: called once, with the first inputs the layer sees; adds its weights. */
    nb_status (*build)(nb_layer *l, nb_tensor *const *x);
    /* The output, from ops on x[0..n_inputs) (never NULL, never from an earlier step);
     * NULL on error. `training` is the model's mode (nb_model_set_training). */
    nb_tensor *(*forward)(nb_layer *l, nb_tensor *const *x, bool training);
    /* Optional: releases what the layer allocated itself (not its weights: the store
     * owns them). */
    void (*free)(nb_layer *l);
} nb_layer_def;

/* A new layer of type def with a copy of *opts (def->opts_size bytes; opts may be NULL
 * then it is zeroed). Returns NULL: NB_ERR_NULL for a NULL def or forward, NB_ERR_NOMEM,
 * or what check reports. The caller owns the layer until nb_model_add takes it. */
nb_layer *nb_layer_new(const nb_layer_def *def, const void *opts);

/* Releases a layer that is not in a model (a model frees its own). NULL is allowed. */
void nb_layer_free(nb_layer *l);

/* Names the layer (before it is added to a model), e.g. nb_layer_named(nb_dense(10),
 * "logits"). Returns l, or NULL after freeing l: NB_ERR_ARG for a name that is empty,
 * longer than NB_LAYER_NAME_MAX, or holds a character outside [A-Za-z0-9_-]. A layer
 * already in a model keeps its name (NB_ERR_STATE; the model still owns it). NULL l
 * passes through. */
nb_layer *nb_layer_named(nb_layer *l, const char *name);

/* Calls the layer on x: builds it on the first call, then runs forward with the scope
 * (nb_set_scope) set to its name, so anomaly checks name the layer. Returns a step
 * tensor, or NULL: NB_ERR_STATE for a layer not in a model; NB_ERR_ARG when the layer
 * takes another number of inputs; a NULL x passes its error along; what build or
 * forward report, prefixed with the layer's name. A layer may be called many times
 * (a layer shared by two branches uses the same weights in both). */
nb_tensor *nb_layer_call(nb_layer *l, nb_tensor *x);
nb_tensor *nb_layer_call_n(nb_layer *l, nb_tensor *const *x, int n);

/* ---- for layer authors, inside check / build / forward ---- */

/* The copy of the options, and the private state. */
void *nb_layer_opts(const nb_layer *l);
void *nb_layer_state(const nb_layer *l);

/* Records "<layer name>: <message>" with `code` and returns code (nb_layer_fail: NULL). */
nb_status nb_layer_error(const nb_layer *l, nb_status code, const char *fmt, ...)
    NB_PRINTF(3, 4);
nb_tensor *nb_layer_fail(const nb_layer *l, nb_status code, const char *fmt, ...)
    NB_PRINTF(3, 4);

/* Adds the parameter "<layer>.<name>" of `shape` to the model's store and fills it from
 * `init` (seeded by nb_layer_seed and the name). nb_layer_add_buffer adds state that is
 * saved but never trained (NB_BUFFER: no gradient, a non-trainable count in summary).
 * Returns the entry (owned by the store; valid for the model's life), or NULL: the
 * store's errors (a name already used, the store finalized after build), the
 * initializer's, NB_ERR_ARG past NB_LAYER_MAX_WEIGHTS weights, NB_ERR_STATE outside a
 * model. */
nb_tensor *nb_layer_add_weight(nb_layer *l, const char *name, int ndim, const int64_t *shape,
                               nb_initializer init);
nb_tensor *nb_layer_add_buffer(nb_layer *l, const char *name, int ndim, const int64_t *shape,
                               nb_initializer init);

/* A seed that depends only on the model's seed and the layer's name: the same model
 * built twice gets the same weights, on any machine and thread count. */
uint64_t nb_layer_seed(const nb_layer *l);

/* ---- queries ---- */

const char *nb_layer_name(const nb_layer *l);       /* "dense_1" (set when added) */
const char *nb_layer_type(const nb_layer *l);       /* "Dense" */
const nb_layer_def *nb_layer_def_of(const nb_layer *l);
nb_model *nb_layer_model(const nb_layer *l);        /* NULL before nb_model_add */
bool nb_layer_built(const nb_layer *l);
/* Its weight "<layer>.<name>" ("kernel", "moving_mean"), or NULL. */
nb_tensor *nb_layer_weight(const nb_layer *l, const char *name);
/* Weights and buffers it added, and their elements: all, or the trainable ones only
 * (parameters that require grad; buffers and frozen parameters are not). */
int nb_layer_weight_count(const nb_layer *l);
nb_tensor *nb_layer_weight_at(const nb_layer *l, int i);
int64_t nb_layer_param_count(const nb_layer *l, bool trainable_only);
/* The shape of its last output (summary's column), with the batch dimension; false if
 * it has not run yet. */
bool nb_layer_output_shape(const nb_layer *l, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* Freezes (false) or unfreezes a built layer's parameters (Keras's layer.trainable): a
 * frozen parameter gets no gradient and the optimizer leaves it alone. Call it before
 * compile so the optimizer sees it. NB_ERR_STATE if the layer is not built. */
nb_status nb_layer_set_trainable(nb_layer *l, bool trainable);

/* ==== built-in layers ===================================================================
 *
 * Each is a macro over an options struct: the main argument first (units, filters, pool
 * size, rate), then any options as designated initializers, nb_dense(25, .activation =
 * NB_SIGMOID), or positionally after it, nb_conv2d_layer(32, 3). Options left 0 take
 * Keras's defaults. Images are NCHW (Keras's data_format="channels_first"). A layer
 * constructor returns NULL with NB_ERR_ARG naming the layer type and the option for a
 * bad option; Sequential and nb_model_add accept that NULL and report it. */

/* Dense: y = activation(x kernel + bias), x [..., in] -> [..., units]; kernel [in,
 * units], bias [units]: in * units + units parameters (Dense(25) on 2 features: 75). */
typedef struct nb_dense_opts {
    int64_t units;                    /* >= 1 */
    nb_activation_kind activation;
    nb_activation_fn activation_fn;   /* instead of activation */
    bool no_bias;                     /* Keras use_bias=False */
    nb_initializer kernel_initializer, bias_initializer;
} nb_dense_opts;
nb_layer *nb_dense_new(nb_dense_opts opts);
#define nb_dense(...) nb_dense_new((nb_dense_opts){.units = __VA_ARGS__})

typedef enum nb_padding {
    NB_PADDING_VALID = 0,  /* no padding */
    NB_PADDING_SAME,       /* out = ceil(in / stride), the odd pixel bottom/right (TF) */
} nb_padding;

/* Conv2D: y = activation(conv2d(x, kernel) + bias), x [N, C, H, W] -> [N, filters, H',
 * W']; kernel [filters, C / groups, kh, kw], bias [filters]: filters (C / groups) kh kw
 * + filters parameters (Conv2D(32, 3) on 1 channel: 320). */
typedef struct nb_conv2d_layer_opts {
    int64_t filters;                  /* >= 1, a multiple of groups */
    int kernel_size;                  /* square kernel (or kernel_h, kernel_w) */
    int kernel_h, kernel_w;
    int strides;                      /* default 1 (or stride_h, stride_w) */
    int stride_h, stride_w;
    nb_padding padding;
    int dilation_rate;                /* default 1 */
    int groups;                       /* default 1; C must be a multiple */
    nb_activation_kind activation;
    nb_activation_fn activation_fn;
    bool no_bias;
    nb_initializer kernel_initializer, bias_initializer;
} nb_conv2d_layer_opts;
nb_layer *nb_conv2d_layer_new(nb_conv2d_layer_opts opts);
#define nb_conv2d_layer(...) \
    nb_conv2d_layer_new((nb_conv2d_layer_opts){.filters = __VA_ARGS__})

/* MaxPooling2D and AveragePooling2D: a pool_size window moved by strides (default
 * pool_size), [N, C, H, W] -> [N, C, H', W']. "same" padding pads with -inf
 * (max) or leaves padding out of the average, as TensorFlow does. No parameters. */
typedef struct nb_pooling2d_opts {
    int pool_size;                    /* square window (or pool_h, pool_w); 0 means 2 */
    int pool_h, pool_w;
    int strides;                      /* or stride_h, stride_w */
    int stride_h, stride_w;
    nb_padding padding;
} nb_pooling2d_opts;
nb_layer *nb_max_pooling2d_new(nb_pooling2d_opts opts);
nb_layer *nb_average_pooling2d_new(nb_pooling2d_opts opts);
#define nb_max_pooling2d(...) nb_max_pooling2d_new((nb_pooling2d_opts){.pool_size = __VA_ARGS__})
#define nb_average_pooling2d(...) \
    nb_average_pooling2d_new((nb_pooling2d_opts){.pool_size = __VA_ARGS__})

/* GlobalAveragePooling2D: [N, C, H, W] -> [N, C]. Flatten: [N, ...] -> [N, rest]. */
nb_layer *nb_global_average_pooling2d(void);
nb_layer *nb_flatten_layer(void);

/* Dropout: in training, zeroes each element with probability rate and scales the rest
 * by 1 / (1 - rate); the identity in inference. The mask depends only on (model seed,
 * layer name, opts seed, the model's training step nb_model_steps): a new mask every
 * step, the same on every run and thread count, and the same across the evaluations of
 * one step (so gradcheck works through it). */
typedef struct nb_dropout_layer_opts {
    float rate;                       /* in [0, 1) */
    uint64_t seed;
} nb_dropout_layer_opts;
nb_layer *nb_dropout_layer_new(nb_dropout_layer_opts opts);
#define nb_dropout_layer(...) nb_dropout_layer_new((nb_dropout_layer_opts){.rate = __VA_ARGS__})

/* BatchNormalization over the channels of [N, C, H, W] (or the features of [N, C]):
 * gamma and beta [C] (parameters), moving_mean and moving_variance [C] (buffers, passed
 * to nb_batch_norm as its state): 4 C weights, 2 C of them non-trainable (as Keras
 * counts). Training normalises with the batch's statistics and updates the moving ones,
 *     moving = momentum moving + (1 - momentum) batch,
 * inference uses the moving ones. Keras's defaults: momentum 0.99, epsilon 1e-3
 * (PyTorch's BatchNorm2d is momentum 0.9, epsilon 1e-5 here). The moving variance is
 * updated with the unbiased batch variance, as PyTorch does (Keras uses the biased). */
typedef struct nb_batch_normalization_opts {
    int defaults_;                    /* unused: lets nb_batch_normalization() be empty */
    float momentum;                   /* in [0, 1]; default 0.99 */
    float epsilon;                    /* > 0; default 1e-3 */
    bool no_center, no_scale;         /* Keras center=False / scale=False: beta 0, gamma 1,
                                         not trained */
    nb_initializer gamma_initializer, beta_initializer;  /* ones, zeros */
} nb_batch_normalization_opts;
nb_layer *nb_batch_normalization_new(nb_batch_normalization_opts opts);
#define nb_batch_normalization(...) \
    nb_batch_normalization_new((nb_batch_normalization_opts){.defaults_ = 0, __VA_ARGS__})

/* Activation: y = activation(x), e.g. nb_activation(NB_RELU) or nb_activation(.fn =
 * swish, .fn_name = "swish"). */
typedef struct nb_activation_opts {
    int defaults_;                    /* unused: lets the macro take .fn alone */
    nb_activation_kind kind;
    nb_activation_fn fn;
    const char *fn_name;              /* for summary; default "custom" */
} nb_activation_opts;
nb_layer *nb_activation_new(nb_activation_opts opts);
#define nb_activation(...) nb_activation_new((nb_activation_opts){.defaults_ = 0, __VA_ARGS__})

/* Input: states the shape of one sample (without the batch dimension), e.g.
 * nb_input(1, 28, 28); checks every input against it. A Sequential model that starts
 * with one is built as soon as something needs it (summary, compile). Not listed by
 * summary, as in Keras. */
nb_layer *nb_input_new(int ndim, const int64_t *shape);
#define nb_input(...) nb_input_new(NB_SHAPE(__VA_ARGS__))
/* The sample shape of an Input layer: false for another layer. */
bool nb_input_shape(const nb_layer *l, int *ndim, int64_t shape[NB_MAX_DIMS]);

/* ==== models ============================================================================ */

#define NB_MODEL_MAX_INPUTS 8

/* A model's forward function (a custom architecture): builds the output from layers
 * called on the inputs (nb_layer_call) and any ops. ud is the model's (nb_model_opts). */
typedef nb_tensor *(*nb_forward_fn)(nb_model *m, nb_tensor *const *x, int n_inputs,
                                    void *ud);

typedef struct nb_model_opts {
    const char *name;    /* default "sequential" or "model" */
    uint64_t seed;       /* of every initializer and dropout mask (default 0) */
    int n_inputs;        /* of a forward function: 1 to NB_MODEL_MAX_INPUTS (0 means 1) */
    void *ud;            /* passed to the forward function */
} nb_model_opts;

/* A Sequential model of `n` layers (taken over by the model, also on error; NULL
 * entries are reported: "sequential: layer 2 is NULL: <its error>"). n = 0 gives an
 * empty one to nb_model_add to. opts may be NULL. Returns NULL on error. */
nb_model *nb_sequential_new(nb_layer *const *layers, int n, const nb_model_opts *opts);
#define nb_sequential(...)                                                           \
    nb_sequential_new((nb_layer *[]){__VA_ARGS__},                                   \
                      (int)(sizeof((nb_layer *[]){__VA_ARGS__}) / sizeof(nb_layer *)), NULL)

/* A model whose forward is your function. Add the layers it calls with nb_model_add
 * (keep the pointers it returns). NB_ERR_NULL for a NULL forward, NB_ERR_ARG for a bad
 * n_inputs or name. */
nb_model *nb_model_new(nb_forward_fn forward, const nb_model_opts *opts);

/* Releases the model, its layers, its store and its optimizer. NULL is allowed. */
void nb_model_free(nb_model *m);

/* Gives layer l to the model (which owns it from now on, also on error) and names it:
 * the type's base name, then _1, _2, ... in the order layers are added ("dense",
 * "dense_1"; a name set with nb_layer_named is kept). In a Sequential model it becomes
 * the last layer. Returns l, or NULL (l freed): a NULL l (its error kept), a duplicate
 * name (NB_ERR_ARG), a model already built or a layer already in a model
 * (NB_ERR_STATE). */
nb_layer *nb_model_add(nb_model *m, nb_layer *l);

/* Builds every layer for inputs of one sample of this shape (without the batch
 * dimension; Keras's model.build): runs the model once in inference mode, without
 * recording, on zeros of shape [1, shape...]. Then the store's layout is fixed
 * (nb_params_finalize) and, if the model is compiled, its optimizer made. Building
 * happens by itself on the first forward, summary or fit; build explicitly to call
 * summary or make your own optimizer before that. NB_ERR_STATE if already built; the
 * errors of the layers. nb_model_build_from builds for inputs shaped like xs (their
 * batch size does not matter). */
nb_status nb_model_build(nb_model *m, int ndim, const int64_t *shape);
nb_status nb_model_build_from(nb_model *m, nb_tensor *const *xs, int n);
bool nb_model_built(const nb_model *m);

/* Prints Keras's summary table: each layer's name (type), output shape (None for the
 * batch) and parameter count, then total, trainable and non-trainable parameters.
 * Builds a Sequential model that starts with nb_input first. NB_ERR_STATE for a model
 * that is not built. */
nb_status nb_model_summary(nb_model *m, FILE *out);

const char *nb_model_name(const nb_model *m);
nb_params *nb_model_params(const nb_model *m);   /* the store: parameters and buffers */
int nb_model_layer_count(const nb_model *m);
nb_layer *nb_model_layer_at(const nb_model *m, int i);
nb_layer *nb_model_find_layer(const nb_model *m, const char *name);   /* NULL if absent */
int nb_model_input_count(const nb_model *m);
/* NB_ERR_STATE once built. */
nb_status nb_model_set_seed(nb_model *m, uint64_t seed);
uint64_t nb_model_seed(const nb_model *m);

/* Training (true) or inference (false) mode, which every layer's forward receives
 * (Dropout drops, BatchNormalization uses batch statistics and updates its moving
 * ones). Off when a model is made; fit turns it on for its training steps, evaluate and
 * predict off. Returns the previous mode. */
bool nb_model_set_training(nb_model *m, bool training);
bool nb_model_training(const nb_model *m);

/* ==== compile: loss, metrics, optimizer ================================================== */

typedef enum nb_loss_kind {
    NB_LOSS_NONE = 0,
    NB_LOSS_BCE,                     /* binary cross-entropy (nb_bce, or nb_bce_logits) */
    NB_LOSS_MSE,                     /* mean squared error (nb_mse) */
    NB_LOSS_MAE,                     /* mean absolute error: mean |p - y| */
    NB_LOSS_SPARSE_CATEGORICAL_CE,   /* p [N, C], y [N] class indices */
    NB_LOSS_CATEGORICAL_CE,          /* p [N, C], y [N, C] one-hot (or soft) targets */
    NB_LOSS_COUNT
} nb_loss_kind;

/* A user loss: a tensor of size 1 from ops on the prediction and the target. */
typedef nb_tensor *(*nb_loss_fn)(nb_tensor *pred, nb_tensor *target, void *ud);

typedef enum nb_metric_kind {
    NB_METRIC_NONE = 0,
    NB_METRIC_ACCURACY,                     /* picked from the loss, as Keras's "accuracy" */
    NB_METRIC_BINARY_ACCURACY,              /* [p > threshold] == [y > 0.5], per element */
    NB_METRIC_CATEGORICAL_ACCURACY,         /* argmax p == argmax y, per row */
    NB_METRIC_SPARSE_CATEGORICAL_ACCURACY,  /* argmax p == y, per row */
    NB_METRIC_MSE,                          /* mean (p - y)^2 */
    NB_METRIC_MAE,                          /* mean |p - y| */
    NB_METRIC_COUNT
} nb_metric_kind;

#define NB_MAX_METRICS 8

/* Which optimizer the model makes once it is built (making one fixes the store's layout,
 * so it waits for the layers). NB_SGD(.lr = 0.1f), NB_ADAM(.lr = 1e-3f), NB_ADAMW(...),
 * NB_RMSPROP(...), NB_ADAGRAD(...) take the options of nabla/optim.h as designated
 * initializers (NB_ADAM(0): all defaults); for your own optimizer set make (and ud). */
typedef struct nb_optim_spec {
    nb_optimizer *(*make)(nb_params *ps, const struct nb_optim_spec *spec);
    union {
        nb_sgd_opts sgd;
        nb_adam_opts adam;
        nb_rmsprop_opts rmsprop;
        nb_adagrad_opts adagrad;
    } opts;
    void *ud;
} nb_optim_spec;

nb_optimizer *nb_optim_spec_sgd(nb_params *ps, const nb_optim_spec *spec);
nb_optimizer *nb_optim_spec_adam(nb_params *ps, const nb_optim_spec *spec);
nb_optimizer *nb_optim_spec_adamw(nb_params *ps, const nb_optim_spec *spec);
nb_optimizer *nb_optim_spec_rmsprop(nb_params *ps, const nb_optim_spec *spec);
nb_optimizer *nb_optim_spec_adagrad(nb_params *ps, const nb_optim_spec *spec);
#define NB_SGD(...) ((nb_optim_spec){.make = nb_optim_spec_sgd, .opts.sgd = {__VA_ARGS__}})
#define NB_ADAM(...) ((nb_optim_spec){.make = nb_optim_spec_adam, .opts.adam = {__VA_ARGS__}})
#define NB_ADAMW(...) ((nb_optim_spec){.make = nb_optim_spec_adamw, .opts.adam = {__VA_ARGS__}})
#define NB_RMSPROP(...) \
    ((nb_optim_spec){.make = nb_optim_spec_rmsprop, .opts.rmsprop = {__VA_ARGS__}})
#define NB_ADAGRAD(...) \
    ((nb_optim_spec){.make = nb_optim_spec_adagrad, .opts.adagrad = {__VA_ARGS__}})

typedef struct nb_compile_opts {
    nb_loss_kind loss;
    bool from_logits;            /* BCE and the cross-entropies: the model outputs logits */
    nb_reduction reduction;      /* NB_REDUCE_MEAN (default) or NB_REDUCE_SUM over the batch */
    nb_loss_fn loss_fn;          /* instead of loss */
    void *loss_ud;
    nb_optim_spec optimizer;     /* default: Keras's, RMSprop with lr 0.001 and rho 0.9 */
    nb_metric_kind metrics[NB_MAX_METRICS];   /* NB_METRIC_NONE ends the list */
    float threshold;             /* binary accuracy's; default 0.5 (of sigmoid(z) with
                                    from_logits) */
} nb_compile_opts;

/* Sets the loss, metrics and optimizer (Keras's model.compile). Compiling again replaces
 * them (and the optimizer's state). The optimizer is made now if the model is built
 * (or can build itself: a Sequential model starting with nb_input), else when it is.
 * NB_ERR_ARG for no loss, an unknown loss or metric kind, a reduction other than
 * MEAN/SUM, a threshold outside (0, 1); the optimizer's errors. nb_compile(m, ...) takes
 * the options as designated initializers. */
nb_status nb_model_compile(nb_model *m, const nb_compile_opts *opts);
#define nb_compile(m, ...) nb_model_compile((m), &(nb_compile_opts){__VA_ARGS__})
bool nb_model_compiled(const nb_model *m);

/* The optimizer compile made (NULL before the model is built or compiled). It belongs
 * to the model. */
nb_optimizer *nb_model_optimizer(const nb_model *m);

/* ==== the step API: what fit is made of ===================================================
 *
 * One training step, exactly as fit runs it (src/nn/fit.c):
 *
 *     nb_model_set_training(m, true);
 *     nb_tensor *pred = nb_model_forward(m, x);        // builds the model the first time
 *     nb_tensor *loss = nb_model_loss(m, pred, y);     // the compiled loss, size 1
 *     nb_status s = nb_model_backward(m, loss);        // gradients into the store
 *     if (s == NB_OK && clip > 0)
 *         s = nb_params_clip_grad_norm(nb_model_params(m), clip, NULL);
 *     if (s == NB_OK)
 *         s = nb_model_apply_gradients(m);             // the optimizer's step
 *     if (s == NB_OK)
 *         s = nb_model_metrics_update(m, &logs, pred, y, loss);
 *     nb_model_step_reset(m);                          // zero grads, end the step
 */

/* The model's output for x (several inputs: nb_model_forward_n), a step tensor, in the
 * model's mode. Builds the model first if needed. NULL on error (the layer's message). */
nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x);
nb_tensor *nb_model_forward_n(nb_model *m, nb_tensor *const *x, int n);

/* The compiled loss of pred against y, a 0-D step tensor. A target with pred's number
 * of elements but another shape ([N] for [N, 1]) is reshaped to pred's; sparse labels
 * may be [N] or [N, 1]. Errors: NB_ERR_STATE for a model that is not compiled, the
 * loss's shape errors, NB_ERR_ARG for a label that is not a class index. */
nb_tensor *nb_model_loss(nb_model *m, nb_tensor *pred, nb_tensor *y);

/* nb_backward(loss): accumulates the gradient of every trainable parameter. */
nb_status nb_model_backward(nb_model *m, nb_tensor *loss);

/* One optimizer step from the gradients (nb_optim_step). NB_ERR_STATE without an
 * optimizer (not compiled, or not built). */
nb_status nb_model_apply_gradients(nb_model *m);

/* Ends the step: zeroes the gradients, counts a training step (if training) and calls
 * nb_step_reset, so every step tensor of the step is gone. */
void nb_model_step_reset(nb_model *m);

/* Training steps ended so far (what Dropout's masks are keyed on). */
int64_t nb_model_steps(const nb_model *m);

/* ---- metrics and logs ---- */

#define NB_LOGS_MAX (2 * (NB_MAX_METRICS + 1))

/* Running values of the loss and the compiled metrics, named as in Keras's logs: "loss",
 * "accuracy", "mae", ..., and after validation "val_loss", "val_accuracy", ... Each value
 * is the mean over the samples (elements for MSE and MAE) seen since the reset; the
 * loss is the mean of the batch losses weighted by batch size, as in Keras. */
typedef struct nb_logs {
    int n;
    const char *names[NB_LOGS_MAX];
    double values[NB_LOGS_MAX];
    double sums_[NB_LOGS_MAX], counts_[NB_LOGS_MAX];   /* private */
} nb_logs;

/* Starts logs for m's loss and metrics (all 0). NB_ERR_STATE if m is not compiled. */
nb_status nb_model_metrics_reset(const nb_model *m, nb_logs *logs);

/* Adds one batch: loss (size 1) and the metrics of pred against y. NB_ERR_SHAPE when
 * a metric's shapes do not fit, naming it. Allocates nothing. */
nb_status nb_model_metrics_update(const nb_model *m, nb_logs *logs, const nb_tensor *pred,
                                  const nb_tensor *y, const nb_tensor *loss);

/* The value named `name`: true and *value, or false if there is none. */
bool nb_logs_get(const nb_logs *logs, const char *name, double *value);

/* Appends val's entries to logs as "val_<name>". */
void nb_logs_add_validation(nb_logs *logs, const nb_logs *val);

/* "accuracy", "binary_accuracy", ..., "mse", "mae" (NULL for an unknown kind). */
const char *nb_metric_name(nb_metric_kind kind);

/* ==== callbacks ========================================================================== */

typedef struct nb_callback nb_callback;

/* What fit tells callbacks when it starts. */
typedef struct nb_fit_info {
    int64_t epochs;            /* epochs asked for */
    int64_t steps;             /* batches per epoch */
    int64_t samples, val_samples;
    int64_t batch_size;
    int verbose;
    FILE *out;                 /* where fit prints (stdout by default) */
} nb_fit_info;

/* A callback: any of these may be NULL. Each returns NB_OK to go on; another status
 * stops fit, which returns NULL with that error (set a message with nb_set_error). To
 * stop training normally, call nb_model_set_stop_training(m, true) (Keras's
 * model.stop_training = True): fit stops after the current batch. Epochs and batches
 * count from 0. */
struct nb_callback {
    nb_status (*on_train_begin)(nb_callback *cb, nb_model *m, const nb_fit_info *info);
    nb_status (*on_epoch_begin)(nb_callback *cb, nb_model *m, int64_t epoch);
    nb_status (*on_batch_begin)(nb_callback *cb, nb_model *m, int64_t batch);
    nb_status (*on_batch_end)(nb_callback *cb, nb_model *m, int64_t batch,
                              const nb_logs *logs);
    nb_status (*on_epoch_end)(nb_callback *cb, nb_model *m, int64_t epoch,
                              const nb_logs *logs);
    nb_status (*on_train_end)(nb_callback *cb, nb_model *m, const nb_logs *logs);
    /* Releases the callback (nb_callback_free calls it); built-in callbacks set it. */
    void (*free)(nb_callback *cb);
    void *ud;
};

/* Releases a callback through its free function (nothing for one without). NULL is
 * allowed. */
void nb_callback_free(nb_callback *cb);

/* Asks fit to stop after the current batch (true) or withdraws the request;
 * nb_model_stopping tells whether it stands. fit clears it when it starts. */
void nb_model_set_stop_training(nb_model *m, bool stop);
bool nb_model_stopping(const nb_model *m);

typedef enum nb_monitor_mode {
    NB_MODE_AUTO = 0,   /* max for names holding "acc", min otherwise */
    NB_MODE_MIN,
    NB_MODE_MAX,
} nb_monitor_mode;

/* EarlyStopping (Keras's rules): after each epoch the monitored value improves if it is
 * below best - min_delta (above best + min_delta in max mode); patience epochs without
 * an improvement stop training. With restore_best_weights the model's weights (and
 * buffers) at the best epoch are put back when training ends. A monitor missing from
 * the logs is NB_ERR_ARG (listing the names there are). The copy of the weights is
 * allocated when training begins. */
typedef struct nb_early_stopping_opts {
    const char *monitor;           /* default "val_loss" */
    double min_delta;              /* its absolute value is used */
    int64_t patience;
    nb_monitor_mode mode;
    bool has_baseline;             /* a value to beat before the patience counter resets */
    double baseline;
    bool restore_best_weights;
    int64_t start_from_epoch;      /* epochs before monitoring starts */
    bool verbose;                  /* print when it stops and restores (to fit's out) */
} nb_early_stopping_opts;
nb_callback *nb_early_stopping_new(nb_early_stopping_opts opts);
#define nb_early_stopping(...) nb_early_stopping_new((nb_early_stopping_opts){__VA_ARGS__})
/* The epoch training stopped at (0 if it did not stop early), and the best epoch. */
int64_t nb_early_stopping_stopped_epoch(const nb_callback *cb);
int64_t nb_early_stopping_best_epoch(const nb_callback *cb);

/* LearningRateScheduler: sets the optimizer's rate at the start of every epoch (or
 * batch, with schedule.per_step) from an nabla/optim.h schedule, or from fn(epoch, lr,
 * ud) (Keras's schedule(epoch, lr)). NB_LR_PLATEAU reads `monitor` (default "val_loss")
 * from the last epoch's logs. */
typedef struct nb_lr_scheduler_opts {
    nb_lr_schedule schedule;
    float (*fn)(int64_t epoch, float lr, void *ud);
    void *ud;
    const char *monitor;
} nb_lr_scheduler_opts;
nb_callback *nb_lr_scheduler_new(nb_lr_scheduler_opts opts);
#define nb_lr_scheduler(...) nb_lr_scheduler_new((nb_lr_scheduler_opts){__VA_ARGS__})

/* ModelCheckpoint: after every epoch (or only when the monitored value improves, with
 * save_best_only) calls save(m, path, ud) with `filepath` in which "{epoch}" becomes
 * the epoch number counted from 1, as Keras does. save is yours until nabla's
 * checkpoint format lands (nabla/io.h). */
typedef struct nb_checkpoint_opts {
    const char *filepath;          /* e.g. "ckpt-{epoch}.bin"; at most 511 bytes expanded */
    nb_status (*save)(nb_model *m, const char *path, void *ud);
    void *ud;
    const char *monitor;           /* default "val_loss" (save_best_only) */
    bool save_best_only;
    nb_monitor_mode mode;
} nb_checkpoint_opts;
nb_callback *nb_checkpoint_new(nb_checkpoint_opts opts);
#define nb_checkpoint(...) nb_checkpoint_new((nb_checkpoint_opts){__VA_ARGS__})

/* The progress bar (Keras's ProgbarLogger); fit adds one by itself for verbose > 0.
 * verbose 1 on a terminal: "Epoch 3/10" and a bar redrawn in place with \r, holding the
 * step count, elapsed time, ETA and the running loss and metrics; verbose 2, or out not
 * a terminal: one line per epoch. */
nb_callback *nb_progbar_new(FILE *out, int verbose);

/* ==== fit / evaluate / predict ============================================================ */

#define NB_MAX_CALLBACKS 8

typedef struct nb_fit_opts {
    int64_t epochs;                /* default 1 */
    int64_t batch_size;            /* default 32 */
    bool no_shuffle;               /* Keras shuffles by default, every epoch */
    uint64_t seed;                 /* epoch e's order depends only on (seed, e) */
    double validation_split;       /* in [0, 1): the last fraction, before shuffling */
    nb_tensor *validation_x;       /* validation data (wins over validation_split) */
    nb_tensor *validation_y;
    nb_tensor *const *validation_xs;   /* several inputs: one per model input */
    int verbose;                   /* 0 silent (default), 1 progress bar, 2 a line per epoch */
    FILE *out;                     /* default stdout */
    double clip_norm;              /* > 0: clip gradients by global norm */
    nb_callback *callbacks[NB_MAX_CALLBACKS];   /* borrowed; NULL ends the list */
} nb_fit_opts;

typedef struct nb_history nb_history;

/* Trains the compiled model on x [N, ...] and y [N, ...] (Keras's model.fit): epochs of
 * shuffled batches, each a training step as above, then the validation data in
 * inference mode; logs per batch and epoch go to the callbacks, per epoch into the
 * history it returns (the caller frees it). opts may be NULL. Returns NULL on error:
 * NB_ERR_STATE for a model that is not compiled, NB_ERR_SHAPE for inputs and targets
 * with different N, NB_ERR_ARG for bad options, the errors of a step or a callback.
 * After the first step, a training step allocates nothing. nb_fit(m, x, y, ...) takes
 * the options as designated initializers (at least one). */
nb_history *nb_model_fit(nb_model *m, nb_tensor *x, nb_tensor *y, const nb_fit_opts *opts);
nb_history *nb_model_fit_n(nb_model *m, nb_tensor *const *xs, int n, nb_tensor *y,
                           const nb_fit_opts *opts);
#define nb_fit(m, x, y, ...) nb_model_fit((m), (x), (y), &(nb_fit_opts){__VA_ARGS__})

typedef struct nb_eval_opts {
    int64_t batch_size;            /* default 32 */
    int verbose;                   /* 0 silent, 1 or 2: one line with the results */
    FILE *out;
} nb_eval_opts;

/* The loss and metrics over x and y in batches, in inference mode with grad mode off
 * (Keras's model.evaluate), into *logs. opts may be NULL. Errors as for fit. */
nb_status nb_model_evaluate(nb_model *m, nb_tensor *x, nb_tensor *y, const nb_eval_opts *opts,
                            nb_logs *logs);
nb_status nb_model_evaluate_n(nb_model *m, nb_tensor *const *xs, int n, nb_tensor *y,
                              const nb_eval_opts *opts, nb_logs *logs);

/* The outputs for all of x, computed in batches in inference mode: a persistent tensor
 * [N, ...] the caller frees (Keras's model.predict). NULL on error. */
nb_tensor *nb_model_predict(nb_model *m, nb_tensor *x, const nb_eval_opts *opts);
nb_tensor *nb_model_predict_n(nb_model *m, nb_tensor *const *xs, int n,
                              const nb_eval_opts *opts);

/* ==== history and training curves ======================================================= */

/* A history with the columns of `columns` (its names, copied), room for `capacity`
 * epochs to begin with; fit makes one. NULL: NB_ERR_NULL, NB_ERR_NOMEM. */
nb_history *nb_history_new(const nb_logs *columns, int64_t capacity);

/* Appends one epoch: each column takes the value of the same name in logs (NAN if it is
 * not there). Grows past the capacity (an allocation). NB_ERR_NULL, NB_ERR_NOMEM. */
nb_status nb_history_append(nb_history *h, const nb_logs *logs);

/* Epochs run, and the columns: "loss", the metrics, then "val_" ones. */
int64_t nb_history_epochs(const nb_history *h);
int nb_history_columns(const nb_history *h);
const char *nb_history_name(const nb_history *h, int column);
/* The values of a column per epoch (nb_history_epochs of them), or NULL. */
const double *nb_history_values(const nb_history *h, const char *name);
void nb_history_free(nb_history *h);

/* Writes "epoch,loss,...\n" then one row per epoch (epoch from 0, as Keras's CSVLogger).
 * NB_ERR_IO naming the file. */
nb_status nb_history_write_csv(const nb_history *h, const char *path);

typedef struct nb_plot_opts {
    int width, height;             /* of each panel, default 480 x 320 */
    const char *title;             /* default: none */
    const char *metric;            /* the second panel's metric: default the first one */
} nb_plot_opts;

/* Draws the training curves as SVG: a panel for the loss and one for a metric (if
 * there is one), each with the training and validation values per epoch, axes, ticks
 * and a legend. opts may be NULL. NB_ERR_IO naming the file, NB_ERR_ARG for a metric
 * that is not in the history. */
nb_status nb_history_write_svg(const nb_history *h, const char *path, const nb_plot_opts *opts);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_NN_H */
