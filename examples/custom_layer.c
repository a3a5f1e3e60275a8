/*
 * custom_layer.c - a new layer type defined outside the library, exactly as the built-in
 * layers are (src/nn/dense.c): PReLU, a ReLU whose slope for negative inputs is learned
 * per feature (keras.layers.PReLU):
 *
 *     y = max(x, 0) + alpha min(x, 0) = relu(x) - alpha relu(-x),    alpha [features]
 *
 * Its gradient is checked with nb_gradcheck; then it goes into a Sequential model, which
 * prints its summary and learns a ring with fit.
 *
 *     ./build/examples/custom_layer
 *
 * docs/layers.md walks through this file.
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"

/* ---- the layer ----------------------------------------------------------------------- */

/* Options, copied into the layer by nb_layer_new. */
typedef struct prelu_opts {
    nb_initializer alpha_initializer;   /* default zeros, as Keras */
} prelu_opts;

/* Private state: what build learns and forward needs. */
typedef struct prelu_state {
    nb_tensor *alpha;                   /* "<name>.alpha" in the model's store */
    int64_t features;
} prelu_state;

/* Called once, with the first input: one alpha per feature (the last dimension). */
static nb_status prelu_build(nb_layer *l, nb_tensor *const *x)
{
    const prelu_opts *o = nb_layer_opts(l);
    prelu_state *s = nb_layer_state(l);
    s->features = x[0]->shape[x[0]->ndim - 1];
    nb_initializer init = o->alpha_initializer.kind ? o->alpha_initializer : NB_ZEROS;
    s->alpha = nb_layer_add_weight(l, "alpha", NB_SHAPE(s->features), init);
    return s->alpha ? NB_OK : nb_error_code();
}

/* The output, from ops: they record the graph, so backward needs nothing more. */
static nb_tensor *prelu_forward(nb_layer *l, nb_tensor *const *x, bool training)
{
    (void)training;
    const prelu_state *s = nb_layer_state(l);
    char sx[64];
    if (x[0]->shape[x[0]->ndim - 1] != s->features)
        return nb_layer_fail(l, NB_ERR_SHAPE, "expected %lld features, got %s",
                             (long long)s->features, nb_tensor_shape_str(x[0], sx, sizeof sx));
    return nb_sub(nb_relu(x[0]), nb_mul(s->alpha, nb_relu(nb_neg(x[0]))));
}

static const nb_layer_def prelu_def = {
    .type = "PReLU",
    .name = "p_re_lu",                  /* Keras's default name */
    .opts_size = sizeof(prelu_opts),
    .state_size = sizeof(prelu_state),
    .build = prelu_build,
    .forward = prelu_forward,
};

static nb_layer *prelu(nb_initializer alpha_initializer)
{
    return nb_layer_new(&prelu_def, &(prelu_opts){alpha_initializer});
}

/* ---- checking its gradient -------------------------------------------------------------- */

static nb_tensor *call_prelu(nb_tensor *const *in, void *ud) { return nb_layer_call(ud, in[0]); }

static int check_gradient(void)
{
    nb_model *m = nb_sequential(prelu(NB_UNIFORM(0.1f, 0.5f)));
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(3, 7), -2, 2, 1);
    int ok = 0;
    if (m && x && nb_model_build(m, NB_SHAPE(7)) == NB_OK &&
        nb_tensor_set_requires_grad(x, true) == NB_OK) {
        for (int64_t i = 0; i < x->size; i++)  /* off the kink at 0 */
            if (fabsf(x->data[i]) < 0.05f)
                x->data[i] = 0.5f;
        nb_layer *l = nb_model_layer_at(m, 0);
        nb_tensor *in[2] = {x, nb_layer_weight(l, "alpha")};
        nb_gradcheck_result r;
        if (nb_gradcheck(call_prelu, in, 2, l, NULL, &r) == NB_OK) {
            printf("gradcheck: %s (%lld elements, max abs error %.2e)\n",
                   r.passed ? "passed" : "FAILED", (long long)r.checked, r.max_abs_err);
            ok = r.passed && r.max_abs_grad > 0;
        }
    }
    nb_tensor_free(x);
    nb_model_free(m);
    return ok;
}

/* ---- using it ------------------------------------------------------------------------------ */

int main(void)
{
    int status = 1;
    nb_tensor *x = NULL, *y = NULL;
    nb_model *m = NULL;
    nb_history *h = NULL;
    if (!check_gradient())
        goto done;

    /* A ring: label 1 for 0.4 < |p| < 0.8. */
    enum { N = 1024 };
    x = nb_tensor_rand(NB_SHAPE(N, 2), -1, 1, 2);
    y = nb_tensor_zeros(NB_SHAPE(N, 1));
    if (!x || !y)
        goto done;
    for (int i = 0; i < N; i++) {
        float r = sqrtf(x->data[2 * i] * x->data[2 * i] + x->data[2 * i + 1] * x->data[2 * i + 1]);
        y->data[i] = r > 0.4f && r < 0.8f;
    }
    m = nb_sequential(nb_input(2), nb_dense(32), prelu(NB_ZEROS), nb_dense(32), prelu(NB_ZEROS),
                      nb_dense(1, .activation = NB_SIGMOID));
    if (!m || nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                         .metrics = {NB_METRIC_ACCURACY}) != NB_OK ||
        nb_model_summary(m, stdout) != NB_OK)
        goto done;
    h = nb_fit(m, x, y, .epochs = 60, .batch_size = 32, .validation_split = 0.2, .verbose = 2);
    if (!h)
        goto done;
    double acc = nb_history_values(h, "val_accuracy")[59];
    const nb_tensor *alpha = nb_layer_weight(nb_model_find_layer(m, "p_re_lu"), "alpha");
    printf("learned alpha[0..3]: %.3f %.3f %.3f %.3f\n", alpha->data[0], alpha->data[1],
           alpha->data[2], alpha->data[3]);
    printf("validation accuracy: %.4f\n", acc);
    status = acc > 0.9 ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "custom_layer: %s\n", nb_error());
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_memory_release();
    return status;
}
