/* Dropout layer: the identity in inference, inverted dropout in training, a new mask each
 * training step and the same within one, reproducible from the model seed; gradient. */
#include "nn_common.h"

NB_TEST_SUITE(dropout_layer);

static nb_model *dropout_model(float rate, uint64_t seed)
{
    nb_layer *l = nb_dropout_layer(rate);
    cr_assert_not_null(l, "%s", nb_error());
    nb_model *m = nb_sequential_new(&l, 1, &(nb_model_opts){.seed = seed});
    cr_assert_eq(nb_model_build(m, NB_SHAPE(1000)), NB_OK, "%s", nb_error());
    return m;
}

Test(dropout_layer, inference_is_the_identity)
{
    nb_model *m = dropout_model(0.5f, 1);
    cr_assert_eq(nb_layer_param_count(nb_model_layer_at(m, 0), false), 0);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 1000), -1, 1, 1, false);
    cr_assert(!nb_model_training(m), "a new model is in inference mode");
    nb_tensor *y = nb_model_forward(m, x);
    cr_assert_eq(memcmp(y->data, x->data, sizeof(float) * 2000), 0);
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(dropout_layer, training_drops_and_scales_with_a_new_mask_each_step)
{
    nb_model *m = dropout_model(0.25f, 7);
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(4, 1000));
    nb_model_set_training(m, true);
    nb_tensor *a = nb_model_forward(m, x), *a2 = nb_model_forward(m, x);
    int64_t zeros = 0;
    for (int64_t i = 0; i < 4000; i++) {
        cr_assert(a->data[i] == 0.0f || a->data[i] == 1.0f / 0.75f, "[%lld] = %g",
                  (long long)i, a->data[i]);
        zeros += a->data[i] == 0.0f;
    }
    /* 4000 draws at p = 0.25: 1000 +- 4 sd (27). */
    cr_assert(zeros > 890 && zeros < 1110, "%lld zeros", (long long)zeros);
    cr_assert_eq(memcmp(a->data, a2->data, sizeof(float) * 4000), 0, "one mask per step");
    float first[4000];
    memcpy(first, a->data, sizeof first);
    nb_model_step_reset(m);
    cr_assert_eq(nb_model_steps(m), 1);
    nb_tensor *b = nb_model_forward(m, x);
    cr_assert_neq(memcmp(first, b->data, sizeof first), 0, "a new mask the next step");

    /* The same model seed gives the same masks. */
    nb_model *m2 = dropout_model(0.25f, 7);
    nb_model_set_training(m2, true);
    nb_tensor *c = nb_model_forward(m2, x);
    cr_assert_eq(memcmp(first, c->data, sizeof first), 0, "reproducible from the seed");
    nb_tensor_free(x);
    nb_model_free(m);
    nb_model_free(m2);
}

Test(dropout_layer, gradient_in_training)
{
    nb_layer *l = nb_dropout_layer(0.3f);
    nb_model *m = one_layer_model(l, NB_SHAPE(3, 17));
    nb_model_set_training(m, true);
    nb_tensor *x = rand_tensor(NB_SHAPE(2, 3, 17), -1, 1, 3, true);
    assert_layer_gradcheck(l, x, "dropout");
    nb_tensor_free(x);
    nb_model_free(m);
}

Test(dropout_layer, errors)
{
    assert_error(nb_dropout_layer(1.0f), NB_ERR_ARG, "Dropout: rate must be in [0, 1), got 1");
    assert_error(nb_dropout_layer(-0.1f), NB_ERR_ARG, "Dropout: rate must be in [0, 1), got -0.1");
    assert_error(nb_dropout_layer(NAN), NB_ERR_ARG, "Dropout: rate must be in [0, 1), got nan");
}
