/* summary: Keras's table, exactly, for an MLP and a small CNN, and for a custom
 * architecture with a shared layer; the error for a model that is not built. */
#include "nn_common.h"

NB_TEST_SUITE(summary);

static nb_status summary_of(void *ud, FILE *out) { return nb_model_summary(ud, out); }

Test(summary, the_keras_table_of_an_mlp)
{
    nb_model *m = nb_sequential(nb_input(2), nb_dense(25, .activation = NB_SIGMOID),
                                nb_dense(15, .activation = NB_SIGMOID),
                                nb_dense(1, .activation = NB_SIGMOID));
    nb_status s;
    char *text = capture(summary_of, m, &s);
    cr_assert_eq(s, NB_OK, "%s", nb_error());
    const char *want =
        "Model: \"sequential\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #\n"
        "=================================================================\n"
        " dense (Dense)               (None, 25)                75\n"
        "\n"
        " dense_1 (Dense)             (None, 15)                390\n"
        "\n"
        " dense_2 (Dense)             (None, 1)                 16\n"
        "=================================================================\n"
        "Total params: 481 (1.88 KB)\n"
        "Trainable params: 481 (1.88 KB)\n"
        "Non-trainable params: 0 (0.00 B)\n"
        "_________________________________________________________________\n";
    cr_assert_str_eq(text, want);
    free(text);
    nb_model_free(m);
}

Test(summary, a_cnn_with_non_trainable_buffers)
{
    nb_model *m = nb_sequential(nb_input(1, 28, 28),
                                nb_conv2d_layer(32, .kernel_size = 3, .activation = NB_RELU),
                                nb_batch_normalization(), nb_max_pooling2d(2), nb_flatten_layer(),
                                nb_dropout_layer(0.5f), nb_dense(10, .activation = NB_SOFTMAX));
    nb_status s;
    char *text = capture(summary_of, m, &s);
    cr_assert_eq(s, NB_OK, "%s", nb_error());
    const char *want =
        "Model: \"sequential\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #\n"
        "=================================================================\n"
        " conv2d (Conv2D)             (None, 32, 26, 26)        320\n"
        "\n"
        " batch_normalization (BatchNormalization) (None, 32, 26, 26) 128\n"
        "\n"
        " max_pooling2d (MaxPooling2D) (None, 32, 13, 13)       0\n"
        "\n"
        " flatten (Flatten)           (None, 5408)              0\n"
        "\n"
        " dropout (Dropout)           (None, 5408)              0\n"
        "\n"
        " dense (Dense)               (None, 10)                54090\n"
        "=================================================================\n"
        "Total params: 54538 (213.04 KB)\n"
        "Trainable params: 54474 (212.79 KB)\n"
        "Non-trainable params: 64 (256.00 B)\n"
        "_________________________________________________________________\n";
    cr_assert_str_eq(text, want);
    free(text);
    nb_model_free(m);
}

static nb_tensor *twice(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)n, (void)ud;
    nb_layer *d = nb_model_layer_at(m, 0);
    return nb_layer_call(nb_model_layer_at(m, 1), nb_add(nb_layer_call(d, x[0]),
                                                         nb_layer_call(d, x[0])));
}

Test(summary, a_shared_layer_counts_once)
{
    nb_model *m = nb_model_new(twice, &(nb_model_opts){.name = "twice"});
    nb_model_add(m, nb_dense(3));
    nb_model_add(m, nb_dense(2));
    nb_status s;
    char *text = capture(summary_of, m, &s);
    assert_status(s, NB_ERR_STATE, "twice: summary: the model is not built yet");
    free(text);
    cr_assert_eq(nb_model_build(m, NB_SHAPE(4)), NB_OK, "%s", nb_error());
    text = capture(summary_of, m, &s);
    cr_assert_eq(s, NB_OK);
    cr_assert(strstr(text, "Model: \"twice\"\n"), "%s", text);
    cr_assert(strstr(text, " dense (Dense)               (None, 3)                 15\n"), "%s", text);
    cr_assert(strstr(text, " dense_1 (Dense)             (None, 2)                 8\n"), "%s", text);
    cr_assert(strstr(text, "Total params: 23 (92.00 B)\n"), "%s", text);
    free(text);
    assert_status(nb_model_summary(NULL, stdout), NB_ERR_NULL, "model_summary: model is NULL");
    nb_model_free(m);
}
