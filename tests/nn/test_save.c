/* Saving and loading a model: exact resume through fit (weights, batch norm's buffers,
 * Adam's state, Dropout's step-keyed masks, the shuffling position), the checkpoint
 * callback, Python-free checks of the file, and the errors. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdlib.h>
#include <unistd.h>

#include "fit_common.h"

NB_TEST_SUITE(save);

static char dir[64];

static const char *tmp_path(const char *name)
{
    static char path[160];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/nabla-save-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* A model with every kind of state: dense weights, batch norm buffers, dropout masks
 * keyed on the step count, Adam's moments. Init seed `seed`. */
static nb_model *make_model(uint64_t seed)
{
    nb_layer *layers[] = {nb_dense(12, .activation = NB_RELU), nb_batch_normalization(.momentum = 0.9f),
                          nb_dropout_layer(0.25f), nb_dense(1, .activation = NB_SIGMOID)};
    nb_model *m = nb_sequential_new(layers, 4, &(nb_model_opts){.seed = seed});
    cr_assert_not_null(m, "%s", nb_error());
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                            .metrics = {NB_METRIC_ACCURACY}), NB_OK, "%s", nb_error());
    return m;
}

static void assert_same_state(nb_model *a, nb_model *b, const char *what)
{
    int64_t n1, n2;
    float *w1 = weights_of(a, &n1), *w2 = weights_of(b, &n2);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(w1, w2, sizeof(float) * (size_t)n1) == 0, "%s: weights differ", what);
    nb_params *s1 = nb_optim_state(nb_model_optimizer(a)), *s2 = nb_optim_state(nb_model_optimizer(b));
    int64_t m1 = nb_params_numel(s1, NB_BUFFER);
    cr_assert_eq(m1, nb_params_numel(s2, NB_BUFFER));
    cr_assert(memcmp(nb_params_values(s1), nb_params_values(s2), sizeof(float) * (size_t)m1) == 0,
              "%s: optimizer state differs", what);
    free(w1);
    free(w2);
}

Test(save, resuming_from_a_checkpoint_is_exact)
{
    nb_tensor *x, *y;
    circle_data(150, 2, &x, &y); /* 150 / 16: a partial last batch */
    char path[160];
    /* Uninterrupted: 5 epochs. */
    nb_model *ref = make_model(7);
    nb_history *h = nb_fit(ref, x, y, .epochs = 5, .batch_size = 16, .seed = 11);
    cr_assert_not_null(h, "%s", nb_error());
    nb_history_free(h);
    nb_train_position pos = nb_model_position(ref);
    cr_assert(pos.epoch == 5 && pos.steps == 5 * 10 && pos.seed == 11);

    /* 2 epochs, save, and a new model (another init seed) that loads and goes on. */
    nb_model *first = make_model(7);
    h = nb_fit(first, x, y, .epochs = 2, .batch_size = 16, .seed = 11);
    cr_assert_not_null(h, "%s", nb_error());
    nb_history_free(h);
    snprintf(path, sizeof path, "%s", tmp_path("two.safetensors"));
    cr_assert_eq(nb_model_save(first, path), NB_OK, "%s", nb_error());
    nb_model *resumed = make_model(999);
    cr_assert_eq(nb_model_build(resumed, NB_SHAPE(2)), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_model_load(resumed, path), NB_OK, "%s", nb_error());
    pos = nb_model_position(resumed);
    cr_assert(pos.epoch == 2 && pos.steps == 20 && pos.seed == 11, "position %lld %lld %llu",
              (long long)pos.epoch, (long long)pos.steps, (unsigned long long)pos.seed);
    assert_same_state(first, resumed, "after the load");
    h = nb_fit(resumed, x, y, .epochs = 5, .batch_size = 16, .resume = true);
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_eq(nb_history_epochs(h), 3, "epochs 3 to 5 were run");
    nb_history_free(h);
    assert_same_state(ref, resumed, "resumed at epoch 2 against 5 uninterrupted epochs");
    /* Resuming past where training is asked to end is an error, not a silent no-op. */
    assert_error(nb_fit(resumed, x, y, .epochs = 3, .resume = true), NB_ERR_ARG,
                 "initial_epoch 5 must be in [0, epochs = 3] (the model's position");

    /* Without the optimizer state or the position it is not the same run. */
    nb_model *no_pos = make_model(999);
    cr_assert_eq(nb_model_build(no_pos, NB_SHAPE(2)), NB_OK);
    cr_assert_eq(nb_model_load(no_pos, path), NB_OK, "%s", nb_error());
    nb_model_set_position(no_pos, (nb_train_position){0});
    h = nb_fit(no_pos, x, y, .epochs = 3, .batch_size = 16, .seed = 11);
    nb_history_free(h);
    int64_t n1, n2;
    float *w1 = weights_of(ref, &n1), *w2 = weights_of(no_pos, &n2);
    cr_assert(memcmp(w1, w2, sizeof(float) * (size_t)n1) != 0, "the control must differ");
    free(w1);
    free(w2);

    nb_model *all[] = {ref, first, resumed, no_pos};
    for (int i = 0; i < 4; i++)
        nb_model_free(all[i]);
    nb_tensor_free(x);
    nb_tensor_free(y);
    unlink(path);
    rmdir(dir);
}

Test(save, the_checkpoint_callback_saves_models_that_resume)
{
    nb_tensor *x, *y;
    circle_data(64, 3, &x, &y);
    nb_model *ref = make_model(5);
    nb_history *h = nb_fit(ref, x, y, .epochs = 4, .batch_size = 16, .seed = 2);
    nb_history_free(h);
    nb_model *m = make_model(5);
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s", tmp_path("ck-{epoch}.safetensors"));
    nb_callback *ck = nb_checkpoint(.filepath = pattern);
    cr_assert_not_null(ck, "%s", nb_error());
    h = nb_fit(m, x, y, .epochs = 3, .batch_size = 16, .seed = 2, .callbacks = {ck});
    cr_assert_not_null(h, "%s", nb_error());
    nb_history_free(h);
    nb_callback_free(ck);
    for (int e = 1; e <= 3; e++) {
        char name[64];
        snprintf(name, sizeof name, "ck-%d.safetensors", e);
        cr_assert_eq(access(tmp_path(name), R_OK), 0, "%s was not written", name);
    }
    /* The file of epoch 3 is what the model held then; resume it to 4. */
    nb_model *r = make_model(6);
    cr_assert_eq(nb_model_build(r, NB_SHAPE(2)), NB_OK);
    cr_assert_eq(nb_model_load(r, tmp_path("ck-3.safetensors")), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_model_position(r).epoch, 3);
    h = nb_fit(r, x, y, .epochs = 4, .batch_size = 16, .resume = true);
    nb_history_free(h);
    assert_same_state(ref, r, "resumed from the callback's checkpoint");
    /* Its metadata says what it is. */
    nb_safetensors *f = nb_safetensors_open(tmp_path("ck-3.safetensors"));
    cr_assert_not_null(f, "%s", nb_error());
    cr_assert_str_eq(nb_meta_get(nb_safetensors_meta(f), "nabla.epoch"), "3");
    cr_assert_str_eq(nb_meta_get(nb_safetensors_meta(f), "nabla.optimizer"), "adam");
    cr_assert_geq(nb_safetensors_find(f, "dense.kernel"), 0);
    cr_assert_geq(nb_safetensors_find(f, "batch_normalization.moving_mean"), 0);
    cr_assert_geq(nb_safetensors_find(f, "optimizer.step"), 0);
    nb_safetensors_close(f);
    nb_model *all[] = {ref, m, r};
    for (int i = 0; i < 3; i++)
        nb_model_free(all[i]);
    for (int e = 1; e <= 3; e++) {
        char name[64];
        snprintf(name, sizeof name, "ck-%d.safetensors", e);
        unlink(tmp_path(name));
    }
    nb_tensor_free(x);
    nb_tensor_free(y);
    rmdir(dir);
}

Test(save, errors_name_the_model_the_tensor_and_the_shapes)
{
    nb_model *m = make_model(1);
    char path[160];
    snprintf(path, sizeof path, "%s", tmp_path("m.safetensors"));
    assert_status(nb_model_save(m, path), NB_ERR_STATE, "model_save: the model is not built yet");
    assert_status(nb_model_load(m, path), NB_ERR_STATE, "model_load: the model is not built yet");
    cr_assert_eq(nb_model_build(m, NB_SHAPE(2)), NB_OK);
    cr_assert_eq(nb_model_save(m, path), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_model_save(NULL, path), NB_ERR_NULL);
    cr_assert_eq(nb_model_save(m, NULL), NB_ERR_NULL);
    assert_status(nb_model_load(m, tmp_path("missing.safetensors")), NB_ERR_IO,
                  "missing.safetensors");

    /* A model of another shape: the tensor and both shapes are named; nothing changes. */
    nb_model *wide = make_model(2);
    cr_assert_eq(nb_model_build(wide, NB_SHAPE(3)), NB_OK);
    int64_t n0;
    float *before = weights_of(wide, &n0);
    nb_status st = nb_model_load(wide, path);
    cr_assert_neq(st, NB_OK);
    cr_assert(strstr(nb_error(), "dense.kernel"), "%s", nb_error());
    cr_assert(strstr(nb_error(), "[2,12]") && strstr(nb_error(), "[3,12]"), "%s", nb_error());
    float *after = weights_of(wide, &n0);
    cr_assert(memcmp(before, after, sizeof(float) * (size_t)n0) == 0, "a failed load changed it");
    free(before);
    free(after);

    /* A model without an optimizer loads the weights and skips the optimizer's state,
     * but a tensor the model does not have is still named. */
    nb_layer *layers[] = {nb_dense(12, .activation = NB_RELU), nb_batch_normalization(.momentum = 0.9f),
                          nb_dropout_layer(0.25f), nb_dense(1, .activation = NB_SIGMOID)};
    nb_model *plain = nb_sequential_new(layers, 4, &(nb_model_opts){.seed = 3});
    cr_assert_eq(nb_model_build(plain, NB_SHAPE(2)), NB_OK);
    cr_assert_eq(nb_model_load(plain, path), NB_OK, "%s", nb_error());
    nb_layer *short_layers[] = {nb_dense(12, .activation = NB_RELU)};
    nb_model *partial = nb_sequential_new(short_layers, 1, NULL);
    cr_assert_eq(nb_model_build(partial, NB_SHAPE(2)), NB_OK);
    assert_status(nb_model_load(partial, path), NB_ERR_IO, "is not in the model");
    nb_model *all[] = {m, wide, plain, partial};
    for (int i = 0; i < 4; i++)
        nb_model_free(all[i]);
    unlink(path);
    rmdir(dir);
}
