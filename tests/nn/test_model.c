/* Models: Sequential from a list and by add, custom architectures as forward functions
 * (several inputs, a layer shared by two branches, a residual connection), building,
 * modes, and their errors. */
#include "nn_common.h"

NB_TEST_SUITE(model);

Test(model, sequential_is_its_layers_in_order)
{
    nb_model *m = nb_sequential(nb_dense(6, .activation = NB_TANH), nb_dropout_layer(0.5f),
                                nb_dense(3, .activation = NB_SOFTMAX));
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_str_eq(nb_model_name(m), "sequential");
    cr_assert_eq(nb_model_layer_count(m), 3);
    cr_assert_eq(nb_model_input_count(m), 1);
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 5), -1, 1, 1, false);
    nb_tensor *y = nb_model_forward(m, x);
    assert_shape(y, NB_SHAPE(4, 3));
    cr_assert(nb_model_built(m));
    nb_tensor *h = x;
    for (int i = 0; i < 3; i++)
        h = nb_layer_call(nb_model_layer_at(m, i), h);
    cr_assert_eq(memcmp(h->data, y->data, sizeof(float) * 12), 0);
    /* Training mode reaches Dropout: the output changes. */
    cr_assert(!nb_model_set_training(m, true));
    nb_tensor *yt = nb_model_forward(m, x);
    cr_assert_neq(memcmp(yt->data, y->data, sizeof(float) * 12), 0);
    cr_assert(nb_model_set_training(m, false));
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(model, sequential_by_add)
{
    nb_model *m = nb_sequential_new(NULL, 0, &(nb_model_opts){.name = "mlp", .seed = 3});
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_not_null(nb_model_add(m, nb_input(4)));
    nb_layer *d = nb_model_add(m, nb_dense(2));
    cr_assert_not_null(d);
    cr_assert_str_eq(nb_model_name(m), "mlp");
    cr_assert_eq(nb_model_seed(m), 3);
    cr_assert_eq(nb_model_set_seed(m, 4), NB_OK);
    cr_assert_eq(nb_model_build(m, NB_SHAPE(4)), NB_OK, "%s", nb_error());
    cr_assert(nb_params_finalized(nb_model_params(m)), "building fixes the layout");
    assert_status(nb_model_set_seed(m, 5), NB_ERR_STATE, "mlp: set_seed: the model is built");
    assert_status(nb_model_build(m, NB_SHAPE(4)), NB_ERR_STATE, "mlp: build: the model is "
                  "already built");
    nb_model_free(m);
}

Test(model, sequential_errors_free_every_layer)
{
    /* A failed layer constructor: reported with its own message; the others are freed
     * (the leak check of the suite would catch them). */
    nb_model *m = nb_sequential(nb_dense(3), nb_dense(0), nb_flatten_layer());
    cr_assert_null(m);
    cr_assert_eq(nb_error_code(), NB_ERR_ARG);
    cr_assert_str_eq(nb_error(), "sequential: layer 1 is NULL: Dense: units must be >= 1, got 0");
    /* A duplicate name while adding the list. */
    m = nb_sequential(nb_layer_named(nb_dense(3), "a"), nb_layer_named(nb_dense(3), "a"),
                      nb_dense(1));
    assert_error(m, NB_ERR_ARG, "sequential: model_add: layer name 'a' is already used");
    m = nb_sequential_new(NULL, 0, NULL);
    assert_status(nb_model_build(m, NB_SHAPE(2)), NB_ERR_STATE,
                  "sequential: build: the model has no layers");
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(1, 2));
    nb_tensor *two[2] = {x, x};
    assert_error(nb_model_forward_n(m, two, 2), NB_ERR_ARG,
                 "sequential: forward: the model takes 1 input, got 2");
    nb_step_reset();
    assert_error(nb_model_forward(m, NULL), NB_ERR_NULL, "sequential: input 0 is NULL");
    nb_tensor_free(x);
    nb_model_free(m);
    assert_error(nb_sequential_new(NULL, 0, &(nb_model_opts){.n_inputs = 2}), NB_ERR_ARG,
                 "sequential: a Sequential model takes 1 input, not 2");
    assert_error(nb_sequential_new(NULL, 0, &(nb_model_opts){.name = ""}), NB_ERR_ARG,
                 "model_new: a model name needs 1 to 63 characters, got 0");
}

/* ---- a custom architecture: two inputs, a shared layer, a residual connection ---- */

typedef struct siamese {
    nb_layer *shared, *mix, *head;
} siamese;

/* head(h + mix(h)) with h = shared(a) + shared(b): the shared Dense sees both inputs. */
static nb_tensor *siamese_forward(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)m;
    (void)n;
    siamese *s = ud;
    nb_tensor *h = nb_add(nb_layer_call(s->shared, x[0]), nb_layer_call(s->shared, x[1]));
    h = nb_add(h, nb_layer_call(s->mix, h));  /* residual */
    return nb_layer_call(s->head, h);
}

static nb_model *siamese_model(siamese *s)
{
    nb_model *m = nb_model_new(siamese_forward, &(nb_model_opts){.n_inputs = 2, .ud = s});
    cr_assert_not_null(m, "%s", nb_error());
    s->shared = nb_model_add(m, nb_dense(4, .activation = NB_TANH,
                                         .bias_initializer = NB_UNIFORM(-1, 1)));
    s->mix = nb_model_add(m, nb_dense(4, .activation = NB_SIGMOID));
    s->head = nb_model_add(m, nb_dense(1));
    cr_assert(s->shared && s->mix && s->head, "%s", nb_error());
    return m;
}

/* act(x W + b) for one row of K values into out[U], in double. */
static void dense_row(const nb_layer *l, const double *x, int64_t K, double *out, int act)
{
    const nb_tensor *W = nb_layer_weight(l, "kernel"), *b = nb_layer_weight(l, "bias");
    int64_t U = W->shape[1];
    for (int64_t u = 0; u < U; u++) {
        double z = b->data[u];
        for (int64_t k = 0; k < K; k++)
            z += x[k] * W->data[k * U + u];
        out[u] = act == 1 ? tanh(z) : act == 2 ? 1 / (1 + exp(-z)) : z;
    }
}

Test(model, custom_architecture_with_two_inputs_a_shared_layer_and_a_skip)
{
    siamese s;
    nb_model *m = siamese_model(&s);
    cr_assert_str_eq(nb_model_name(m), "model");
    cr_assert_eq(nb_model_input_count(m), 2);
    nb_tensor *a = rand_tensor(NB_SHAPE(3, 5), -1, 1, 1, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(3, 5), -1, 1, 2, true);
    nb_tensor *in[2] = {a, b};
    nb_tensor *y = nb_model_forward_n(m, in, 2);
    assert_shape(y, NB_SHAPE(3, 1));
    /* The shared layer holds one set of weights. */
    const char *names[] = {"dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias",
                           "dense_2.kernel", "dense_2.bias"};
    const nb_param_kind kinds[] = {NB_PARAM, NB_PARAM, NB_PARAM, NB_PARAM, NB_PARAM, NB_PARAM};
    assert_store(m, names, kinds, 6);
    for (int r = 0; r < 3; r++) {
        double xa[5], xb[5], ha[4], hb[4], h[4], g[4], out[1];
        for (int k = 0; k < 5; k++)
            xa[k] = a->data[r * 5 + k], xb[k] = b->data[r * 5 + k];
        dense_row(s.shared, xa, 5, ha, 1);
        dense_row(s.shared, xb, 5, hb, 1);
        for (int k = 0; k < 4; k++)
            h[k] = ha[k] + hb[k];
        dense_row(s.mix, h, 4, g, 2);
        for (int k = 0; k < 4; k++)
            h[k] += g[k];
        dense_row(s.head, h, 4, out, 0);
        cr_assert_float_eq(y->data[r], out[0], 1e-5, "row %d: %g vs %g", r, y->data[r], out[0]);
    }
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_model_free(m);
}

static nb_tensor *whole_model_fn(nb_tensor *const *in, void *ud)
{
    return nb_model_forward_n(ud, (nb_tensor *[]){in[0], in[1]}, 2);
}

Test(model, gradient_through_a_custom_architecture)
{
    siamese s;
    nb_model *m = siamese_model(&s);
    nb_tensor *a = rand_tensor(NB_SHAPE(2, 5), -1, 1, 3, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(2, 5), -1, 1, 4, true);
    cr_assert_eq(nb_model_build_from(m, (nb_tensor *[]){a, b}, 2), NB_OK, "%s", nb_error());
    nb_params *ps = nb_model_params(m);
    nb_tensor *in[8] = {a, b};
    for (int i = 0; i < 6; i++)
        in[2 + i] = nb_params_at(ps, i);
    assert_gradcheck(whole_model_fn, in, 8, m, NULL, "siamese");
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_model_free(m);
}

static nb_tensor *null_forward(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)m, (void)x, (void)n, (void)ud;
    return NULL;
}

Test(model, custom_architecture_errors)
{
    assert_error(nb_model_new(NULL, NULL), NB_ERR_NULL, "model_new: the forward function is NULL");
    assert_error(nb_model_new(siamese_forward, &(nb_model_opts){.n_inputs = 9}), NB_ERR_ARG,
                 "model_new: 'model': n_inputs must be in [1, 8], got 9");
    nb_model *m = nb_model_new(null_forward, &(nb_model_opts){.name = "broken"});
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(2, 2));
    nb_error_clear();
    assert_error(nb_model_forward(m, x), NB_ERR_STATE,
                 "broken: build: the forward function returned NULL without an error");
    cr_assert(!nb_model_built(m));
    assert_status(nb_model_build_from(m, (nb_tensor *[]){x, x}, 2), NB_ERR_ARG,
                  "broken: build: the model takes 1 input, got 2");
    nb_tensor *s = nb_tensor_scalar(1);
    assert_status(nb_model_build_from(m, &s, 1), NB_ERR_SHAPE,
                  "broken: build: input 0 is 0-D; inputs are [N, ...]");
    nb_tensor_free(s);
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(model, null_arguments_are_errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(1, 2));
    assert_error(nb_model_forward(NULL, x), NB_ERR_NULL, "model_forward: model is NULL");
    assert_error(nb_model_add(NULL, nb_dense(2)), NB_ERR_NULL, "model_add: model is NULL");
    nb_error_clear();
    assert_error(nb_model_add(NULL, NULL), NB_ERR_NULL, "model_add: layer is NULL");
    assert_status(nb_model_build(NULL, NB_SHAPE(2)), NB_ERR_NULL, "model_build: model is NULL");
    assert_status(nb_model_build_from(NULL, &x, 1), NB_ERR_NULL, "model_build: model is NULL");
    assert_status(nb_model_backward(NULL, x), NB_ERR_NULL, "model_backward: model is NULL");
    assert_status(nb_model_set_seed(NULL, 1), NB_ERR_NULL, "model_set_seed: model is NULL");
    assert_error(nb_model_loss(NULL, x, x), NB_ERR_NULL, "model_loss: model is NULL");
    nb_logs logs;
    assert_status(nb_model_metrics_reset(NULL, &logs), NB_ERR_NULL, "metrics_reset: model is NULL");
    nb_model *m = nb_sequential(nb_dense(1));
    assert_status(nb_model_build(m, 2, NULL), NB_ERR_NULL, "sequential: build: shape is NULL");
    assert_status(nb_model_build(m, 7, (int64_t[7]){1}), NB_ERR_ARG,
                  "sequential: build: input 0: a sample needs 0 to 5 dimensions, got 7");
    assert_status(nb_model_metrics_reset(m, &logs), NB_ERR_STATE,
                  "sequential: metrics: the model is not compiled");
    assert_status(nb_model_metrics_update(m, &logs, x, NULL, x), NB_ERR_NULL,
                  "metrics_update: y is NULL");
    assert_error(nb_layer_add_weight(NULL, "w", NB_SHAPE(1), NB_ZEROS), NB_ERR_NULL,
                 "layer_add_weight: layer is NULL");
    assert_error(nb_layer_add_weight(nb_model_layer_at(m, 0), NULL, NB_SHAPE(1), NB_ZEROS),
                 NB_ERR_NULL, "dense: add_weight: the weight's name is NULL");
    char longname[300];
    memset(longname, 'w', sizeof longname - 1);
    longname[299] = '\0';
    assert_error(nb_layer_add_weight(nb_model_layer_at(m, 0), longname, NB_SHAPE(1), NB_ZEROS),
                 NB_ERR_ARG, "dense: weight name 'wwww");
    assert_status(nb_layer_set_trainable(NULL, true), NB_ERR_NULL,
                  "layer_set_trainable: layer is NULL");
    /* Queries on NULL are answers, not crashes. */
    cr_assert_null(nb_model_name(NULL));
    cr_assert_null(nb_model_layer_at(m, 5));
    cr_assert_null(nb_layer_weight(NULL, "kernel"));
    cr_assert_eq(nb_layer_param_count(NULL, false), 0);
    cr_assert_eq(nb_model_steps(NULL), 0);
    cr_assert(!nb_model_training(NULL));
    nb_model_free(m);
    nb_model_free(NULL);
    nb_layer_free(NULL);
    nb_tensor_free(x);
}
