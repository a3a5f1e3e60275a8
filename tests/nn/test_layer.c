/* The layer machinery: a user's layer type defined with the same descriptor as the
 * built-in ones, lazy build, names (Keras's, per model, unique), the scope set around
 * forward, errors prefixed with the layer's name, NULL inputs, freezing. */
#include "nn_common.h"

NB_TEST_SUITE(layer);

/* A user layer: y = x * scale + shift per feature, with a call counter as buffer. */
typedef struct affine_opts {
    float init_scale;
} affine_opts;

typedef struct affine_state {
    nb_tensor *scale, *shift, *calls;
    const char *scope_seen;
    int builds;
} affine_state;

static nb_status affine_check(nb_layer *l)
{
    const affine_opts *o = nb_layer_opts(l);
    if (!(o->init_scale > 0))
        return nb_set_error(NB_ERR_ARG, "Affine: init_scale must be > 0, got %g",
                            (double)o->init_scale);
    return NB_OK;
}

static nb_status affine_build(nb_layer *l, nb_tensor *const *x)
{
    const affine_opts *o = nb_layer_opts(l);
    affine_state *s = nb_layer_state(l);
    int64_t F = x[0]->shape[x[0]->ndim - 1];
    s->builds++;
    if (!(s->scale = nb_layer_add_weight(l, "scale", NB_SHAPE(F), NB_CONSTANT(o->init_scale))) ||
        !(s->shift = nb_layer_add_weight(l, "shift", NB_SHAPE(F), NB_UNIFORM(-1, 1))) ||
        !(s->calls = nb_layer_add_buffer(l, "calls", NB_SHAPE(1), NB_ZEROS)))
        return nb_error_code();
    return NB_OK;
}

static nb_tensor *affine_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    affine_state *s = nb_layer_state(l);
    s->scope_seen = nb_scope();
    if (training)
        s->calls->data[0] += 1;
    return nb_add(nb_mul(x[0], s->scale), s->shift);
}

static const nb_layer_def affine_def = {
    .type = "Affine",
    .name = "affine",
    .opts_size = sizeof(affine_opts),
    .state_size = sizeof(affine_state),
    .check = affine_check,
    .build = affine_build,
    .forward = affine_forward,
};

static nb_layer *affine(float init_scale)
{
    return nb_layer_new(&affine_def, &(affine_opts){init_scale});
}

Test(layer, a_user_layer_builds_lazily_and_works_like_a_built_in_one)
{
    nb_layer *a = affine(2.0f);
    cr_assert_not_null(a, "%s", nb_error());
    cr_assert(!nb_layer_built(a));
    nb_model *m = nb_sequential(nb_dense(4), a, nb_dense(1));
    cr_assert_str_eq(nb_layer_name(a), "affine");
    cr_assert_str_eq(nb_layer_type(a), "Affine");
    cr_assert_eq(nb_layer_model(a), m);
    nb_tensor *x = rand_tensor(NB_SHAPE(3, 5), -1, 1, 1, true);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(3, 1));
    affine_state *s = nb_layer_state(a);
    cr_assert_eq(s->builds, 1);
    cr_assert(nb_layer_built(a));
    cr_assert_str_eq(s->scope_seen, "affine", "forward runs in the layer's scope");
    cr_assert_null(nb_scope(), "the scope is restored");
    nb_model_forward(m, x);
    cr_assert_eq(s->builds, 1, "built once");
    const char *names[] = {"dense.kernel", "dense.bias", "affine.scale", "affine.shift",
                           "affine.calls", "dense_1.kernel", "dense_1.bias"};
    const nb_param_kind kinds[] = {NB_PARAM, NB_PARAM, NB_PARAM, NB_PARAM, NB_BUFFER, NB_PARAM,
                                   NB_PARAM};
    assert_store(m, names, kinds, 7);
    cr_assert_eq(nb_layer_param_count(a, false), 9);
    cr_assert_eq(nb_layer_param_count(a, true), 8);
    cr_assert_eq(nb_layer_weight(a, "scale")->data[3], 2.0f);
    assert_layer_gradcheck(a, nb_layer_call(nb_model_layer_at(m, 0), x), "affine");
    nb_tensor_free(x);
    nb_model_free(m);
    assert_error(affine(-1), NB_ERR_ARG, "Affine: init_scale must be > 0, got -1");
}

Test(layer, keras_names_per_model_and_explicit_names)
{
    nb_model *m = nb_sequential(nb_dense(3), nb_layer_named(nb_dense(2), "dense_2"), nb_dense(4),
                                nb_dense(5), nb_layer_named(nb_flatten_layer(), "flat"),
                                nb_flatten_layer());
    cr_assert_not_null(m, "%s", nb_error());
    const char *want[] = {"dense", "dense_2", "dense_1", "dense_3", "flat", "flatten"};
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(nb_layer_name(nb_model_layer_at(m, i)), want[i]);
    cr_assert_eq(nb_model_find_layer(m, "flat"), nb_model_layer_at(m, 4));
    cr_assert_null(nb_model_find_layer(m, "nope"));
    /* A second model counts from 0 again: names are stable, not process-global. */
    nb_model *m2 = nb_sequential(nb_dense(3));
    cr_assert_str_eq(nb_layer_name(nb_model_layer_at(m2, 0)), "dense");
    nb_model_free(m);
    nb_model_free(m2);
}

Test(layer, naming_errors)
{
    assert_error(nb_layer_named(nb_dense(2), ""), NB_ERR_ARG,
                 "layer_named: a layer name needs 1 to 63 characters, got 0");
    assert_error(nb_layer_named(nb_dense(2), "a.b"), NB_ERR_ARG,
                 "layer_named: 'a.b' holds character 0x2e at 1");
    cr_assert_null(nb_layer_named(NULL, "x"));
    nb_model *m = nb_sequential(nb_layer_named(nb_dense(2), "enc"));
    cr_assert_not_null(m);
    assert_error(nb_model_add(m, nb_layer_named(nb_dense(3), "enc")), NB_ERR_ARG,
                 "sequential: model_add: layer name 'enc' is already used");
    nb_layer *l = nb_model_layer_at(m, 0);
    assert_error(nb_layer_named(l, "other"), NB_ERR_STATE,
                 "layer_named: enc is already in model 'sequential'");
    nb_model *m2 = nb_sequential(nb_dense(1));
    assert_error(nb_model_add(m2, l), NB_ERR_STATE,
                 "sequential: model_add: layer 'enc' is already in model 'sequential'");
    cr_assert_eq(nb_model_layer_count(m), 1, "a layer in a model is not freed by a failed add");
    nb_model_free(m);
    nb_model_free(m2);
}

Test(layer, errors_name_the_layer)
{
    nb_model *m = nb_sequential(nb_dense(3), nb_dense(2));
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(4, 5));
    cr_assert_not_null(nb_model_forward(m, x));
    /* A stale input (from an earlier step) is reported by the op, under the layer. */
    nb_tensor *h = nb_layer_call(nb_model_layer_at(m, 0), x);
    nb_step_reset();
    assert_error(nb_layer_call(nb_model_layer_at(m, 1), h), NB_ERR_STATE,
                 "dense_1: matmul: input 0 belongs to an earlier step");
    /* A NULL input keeps the message of the failure that made it. */
    nb_error_clear();
    nb_tensor *bad = nb_tensor_zeros(NB_SHAPE(4, 7));
    nb_tensor *y = nb_layer_call(nb_model_layer_at(m, 1), nb_layer_call(nb_model_layer_at(m, 0), bad));
    assert_error(y, NB_ERR_SHAPE, "dense: expected an input [..., 5]");
    /* A NULL with no recent error names the layer. */
    nb_step_reset();
    assert_error(nb_layer_call(nb_model_layer_at(m, 1), NULL), NB_ERR_NULL,
                 "dense_1: input 0 is NULL");
    /* A layer outside a model, a wrong number of inputs, a NULL layer. */
    nb_layer *free_layer = nb_dense(2);
    assert_error(nb_layer_call(free_layer, x), NB_ERR_STATE,
                 "dense: the layer is not in a model (nb_model_add)");
    nb_tensor *two[2] = {x, x};
    assert_error(nb_layer_call_n(nb_model_layer_at(m, 0), two, 2), NB_ERR_ARG,
                 "dense: takes 1 input, got 2");
    assert_error(nb_layer_call(NULL, x), NB_ERR_NULL, "layer_call: layer is NULL");
    nb_layer_free(free_layer);
    nb_tensor_free(x);
    nb_tensor_free(bad);
    nb_model_free(m);
}

/* log(x) on a layer: the anomaly check names the layer. */
static nb_tensor *log_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)l;
    (void)training;
    return nb_log(x[0]);
}

Test(layer, anomaly_messages_name_the_layer)
{
    static const nb_layer_def log_def = {.type = "Log", .name = "log", .forward = log_forward};
    nb_model *m = nb_sequential(nb_dense(2), nb_layer_new(&log_def, NULL));
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_eq(nb_model_build(m, NB_SHAPE(2)), NB_OK, "%s", nb_error());
    nb_tensor *x = nb_tensor_from(NB_SHAPE(1, 2), (float[]){0, 0});
    bool prev = nb_set_anomaly_check(true);
    nb_tensor *y = nb_model_forward(m, x);
    nb_set_anomaly_check(prev);
    cr_assert_null(y);
    cr_assert_eq(nb_error_code(), NB_ERR_NUMERIC);
    cr_assert(strstr(nb_error(), "forward of log in log"), "%s", nb_error());
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(layer, freezing)
{
    nb_model *m = nb_sequential(nb_dense(3), nb_batch_normalization());
    nb_layer *d = nb_model_layer_at(m, 0);
    assert_status(nb_layer_set_trainable(d, false), NB_ERR_STATE,
                  "dense: set_trainable: the layer is not built yet");
    cr_assert_eq(nb_model_build(m, NB_SHAPE(2)), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_layer_set_trainable(d, false), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_layer_param_count(d, true), 0);
    cr_assert_eq(nb_layer_param_count(d, false), 9);
    cr_assert(!nb_layer_weight(d, "kernel")->requires_grad);
    cr_assert_eq(nb_layer_set_trainable(d, true), NB_OK);
    cr_assert_eq(nb_layer_param_count(d, true), 9);
    nb_model_free(m);
}

/* A layer that adds too many weights, or one after the store is fixed. */
static nb_status greedy_build(nb_layer *l, nb_tensor *const *x)
{
    (void)x;
    char name[16];
    for (int i = 0; i <= NB_LAYER_MAX_WEIGHTS; i++) {
        snprintf(name, sizeof name, "w%d", i);
        if (!nb_layer_add_weight(l, name, NB_SHAPE(1), NB_ZEROS))
            return nb_error_code();
    }
    return NB_OK;
}

static nb_tensor *identity_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)l;
    (void)training;
    return x[0];
}

Test(layer, weight_errors)
{
    static const nb_layer_def greedy = {.type = "Greedy", .name = "greedy",
                                        .build = greedy_build, .forward = identity_forward};
    nb_model *m = nb_sequential(nb_layer_new(&greedy, NULL));
    assert_status(nb_model_build(m, NB_SHAPE(2)), NB_ERR_ARG,
                  "greedy: cannot add weight 'w16': a layer holds at most 16");
    nb_model_free(m);

    nb_layer *free_layer = nb_dense(2);
    assert_error(nb_layer_add_weight(free_layer, "w", NB_SHAPE(2), NB_ZEROS), NB_ERR_STATE,
                 "dense: cannot add weight 'w': the layer is not in a model");
    nb_layer_free(free_layer);

    m = nb_sequential(nb_dense(2));
    cr_assert_eq(nb_model_build(m, NB_SHAPE(3)), NB_OK);
    assert_error(nb_layer_add_weight(nb_model_layer_at(m, 0), "extra", NB_SHAPE(2), NB_ZEROS),
                 NB_ERR_STATE, "dense: params_add: cannot add 'dense.extra': the store's layout "
                 "is fixed");
    assert_error(nb_layer_add_weight(nb_model_layer_at(m, 0), "kernel", NB_SHAPE(2), NB_ZEROS),
                 NB_ERR_ARG, "dense: params_add: 'dense.kernel' is already in the store");
    assert_error(nb_model_add(m, nb_dense(3)), NB_ERR_STATE,
                 "sequential: model_add: the model is built");
    nb_model_free(m);

    assert_error(nb_layer_new(NULL, NULL), NB_ERR_NULL, "layer_new: the descriptor is NULL");
    static const nb_layer_def noname = {.type = "X", .forward = identity_forward};
    assert_error(nb_layer_new(&noname, NULL), NB_ERR_ARG,
                 "layer_new: the descriptor needs a type and a base name");
    static const nb_layer_def many = {.type = "X", .name = "x", .n_inputs = 9,
                                      .forward = identity_forward};
    assert_error(nb_layer_new(&many, NULL), NB_ERR_ARG, "layer_new: X takes 9 inputs");
}

/* A layer of two inputs: y = a * sigmoid(b w), w [features]. */
static nb_status gate_build(nb_layer *l, nb_tensor *const *x)
{
    nb_tensor **w = nb_layer_state(l);
    *w = nb_layer_add_weight(l, "w", NB_SHAPE(x[1]->shape[x[1]->ndim - 1]), NB_UNIFORM(0.5f, 1.5f));
    return *w ? NB_OK : nb_error_code();
}

static nb_tensor *gate_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)training;
    nb_tensor **w = nb_layer_state(l);
    return nb_mul(x[0], nb_sigmoid(nb_mul(x[1], *w)));
}

static const nb_layer_def gate_def = {.type = "Gate", .name = "gate", .n_inputs = 2,
                                      .state_size = sizeof(nb_tensor *), .build = gate_build,
                                      .forward = gate_forward};

static nb_tensor *gate_fn(nb_tensor *const *in, void *ud)
{
    return nb_layer_call_n(ud, (nb_tensor *[]){in[0], in[1]}, 2);
}

static nb_tensor *gate_model(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)ud;
    return nb_layer_call_n(nb_model_layer_at(m, 0), x, n);
}

Test(layer, a_layer_of_two_inputs)
{
    nb_model *m = nb_model_new(gate_model, &(nb_model_opts){.n_inputs = 2});
    nb_layer *g = nb_model_add(m, nb_layer_new(&gate_def, NULL));
    cr_assert_not_null(g, "%s", nb_error());
    nb_tensor *a = rand_tensor(NB_SHAPE(3, 4), -1, 1, 1, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(3, 4), -1, 1, 2, true);
    nb_tensor *y = nb_model_forward_n(m, (nb_tensor *[]){a, b}, 2);
    assert_shape(y, NB_SHAPE(3, 4));
    const nb_tensor *w = nb_layer_weight(g, "w");
    for (int i = 0; i < 12; i++)
        cr_assert_float_eq(y->data[i], a->data[i] / (1 + exp(-(double)b->data[i] * w->data[i % 4])),
                           1e-6);
    nb_tensor *in[3] = {a, b, nb_layer_weight(g, "w")};
    assert_gradcheck(gate_fn, in, 3, g, NULL, "gate");
    assert_error(nb_layer_call(g, a), NB_ERR_ARG, "gate: takes 2 inputs, got 1");
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_model_free(m);
}
