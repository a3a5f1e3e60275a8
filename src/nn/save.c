/*
 * src/nn/save.c - a model as a checkpoint: its store, its optimizer's state and its
 * training position, in safetensors through nabla/io.h (the model's own fields through
 * model_private.h, like model.c).
 */
#include <inttypes.h>
#include <string.h>

#include "model_private.h"
#include "nabla/io.h"

#define OPTIM_PREFIX "optimizer."

nb_status nb_model_save(nb_model *m, const char *path)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_save: model is NULL");
    if (!path)
        return nb_set_error(NB_ERR_NULL, "%s: model_save: path is NULL", nb_model_name(m));
    if (!nb_model_built(m))
        return nb_set_error(NB_ERR_STATE, "%s: model_save: the model is not built yet (it has "
                            "no weights to save)", nb_model_name(m));
    nb_optimizer *opt = nb_model_optimizer(m);
    nb_checkpoint_part parts[2] = {{"", nb_model_params(m)}, {OPTIM_PREFIX, NULL}};
    int n = 1;
    if (opt)
        parts[n++].params = nb_optim_state(opt);
    nb_meta *meta = nb_meta_new();
    if (!meta)
        return nb_error_code();
    nb_train_position pos = nb_model_position(m);
    nb_status s = nb_meta_set(meta, "format", "nabla model");
    if (s == NB_OK)
        s = nb_meta_set(meta, "nabla.model", nb_model_name(m));
    if (s == NB_OK)
        s = nb_meta_set_u64(meta, "nabla.epoch", (uint64_t)pos.epoch);
    if (s == NB_OK)
        s = nb_meta_set_u64(meta, "nabla.steps", (uint64_t)pos.steps);
    if (s == NB_OK)
        s = nb_meta_set_u64(meta, "nabla.seed", pos.seed);
    if (s == NB_OK) /* what the layers' random draws (Dropout's masks) are keyed on */
        s = nb_meta_set_u64(meta, "nabla.model_seed", m->seed);
    if (s == NB_OK && opt) {
        s = nb_meta_set(meta, "nabla.optimizer", nb_optim_name(opt));
        if (s == NB_OK)
            s = nb_meta_set_f64(meta, "nabla.lr", (double)nb_optim_lr(opt));
    }
    if (s == NB_OK)
        s = nb_checkpoint_save(path, parts, n, meta);
    nb_meta_free(meta);
    return s;
}

/* Whether the file holds optimizer state (tensors named OPTIM_PREFIX...), and the first
 * other tensor the model's store has no entry for (*extra, copied into extra_buf), so
 * that a load without the optimizer part stays strict about everything else. */
static nb_status scan_file(const char *path, const nb_params *ps, bool *has_opt,
                           char *extra_buf, size_t extra_n, bool *has_extra)
{
    nb_safetensors *f = nb_safetensors_open(path);
    if (!f)
        return nb_error_code();
    *has_opt = *has_extra = false;
    for (int64_t i = 0; i < nb_safetensors_count(f); i++) {
        const char *name = nb_safetensors_at(f, i)->name;
        if (strncmp(name, OPTIM_PREFIX, strlen(OPTIM_PREFIX)) == 0)
            *has_opt = true;
        else if (!*has_extra && !nb_params_find(ps, name)) {
            *has_extra = true;
            snprintf(extra_buf, extra_n, "%s", name);
        }
    }
    nb_safetensors_close(f);
    return NB_OK;
}

/* Reads a u64 the file's metadata may hold; *v unchanged when it is absent. */
static nb_status meta_u64(const nb_meta *meta, const char *key, uint64_t *v)
{
    if (!nb_meta_get(meta, key))
        return NB_OK;
    return nb_meta_get_u64(meta, key, v);
}

nb_status nb_model_load(nb_model *m, const char *path)
{
    if (!m)
        return nb_set_error(NB_ERR_NULL, "model_load: model is NULL");
    if (!path)
        return nb_set_error(NB_ERR_NULL, "%s: model_load: path is NULL", nb_model_name(m));
    if (!nb_model_built(m))
        return nb_set_error(NB_ERR_STATE, "%s: model_load: the model is not built yet, so it "
                            "has no weights to load into (nb_model_build it, or run a batch "
                            "through it, first)", nb_model_name(m));
    bool file_has_opt = false, extra = false;
    char extra_name[256];
    nb_status s = scan_file(path, nb_model_params(m), &file_has_opt, extra_name,
                            sizeof extra_name, &extra);
    if (s != NB_OK)
        return s;
    nb_optimizer *opt = nb_model_optimizer(m);
    nb_checkpoint_part parts[2] = {{"", nb_model_params(m)}, {OPTIM_PREFIX, NULL}};
    int n = 1;
    if (opt && file_has_opt)
        parts[n++].params = nb_optim_state(opt);
    /* A model without an optimizer skips the file's optimizer state; it stays strict
     * about every other tensor. */
    nb_checkpoint_load_opts lo = {.allow_extra = file_has_opt && !opt};
    if (lo.allow_extra && extra)
        return nb_set_error(NB_ERR_IO, "%s: model_load: %s: tensor '%s' is not in the model",
                            nb_model_name(m), path, extra_name);
    nb_meta *meta = NULL;
    s = nb_checkpoint_load(path, parts, n, &lo, &meta);
    if (s != NB_OK)
        return s;
    nb_train_position pos = nb_model_position(m);
    uint64_t epoch = (uint64_t)pos.epoch, steps = (uint64_t)pos.steps, seed = pos.seed;
    uint64_t model_seed = m->seed;
    s = meta_u64(meta, "nabla.epoch", &epoch);
    if (s == NB_OK)
        s = meta_u64(meta, "nabla.model_seed", &model_seed);
    if (s == NB_OK)
        s = meta_u64(meta, "nabla.steps", &steps);
    if (s == NB_OK)
        s = meta_u64(meta, "nabla.seed", &seed);
    double lr = 0;
    if (s == NB_OK && opt && nb_meta_get(meta, "nabla.lr") &&
        (s = nb_meta_get_f64(meta, "nabla.lr", &lr)) == NB_OK)
        s = nb_optim_set_lr(opt, (float)lr);
    if (s == NB_OK && (epoch > INT64_MAX || steps > INT64_MAX))
        s = nb_set_error(NB_ERR_IO, "%s: model_load: %s: the training position (epoch %" PRIu64
                         ", steps %" PRIu64 ") is out of range", nb_model_name(m), path, epoch,
                         steps);
    if (s == NB_OK)
        s = nb_model_set_position(m, (nb_train_position){(int64_t)epoch, (int64_t)steps, seed});
    if (s == NB_OK)
        m->seed = model_seed;
    nb_meta_free(meta);
    return s;
}
