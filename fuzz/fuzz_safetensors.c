/*
 * fuzz/fuzz_safetensors.c - libFuzzer harness for the safetensors reader and the
 * checkpoint loader, from memory (nb_safetensors_open_mem, nb_checkpoint_load_mem).
 *
 * Each input is read as a whole file: listed, then loaded into two stores (a model and
 * an optimizer state under "optim.", the layout of the seed files in
 * fuzz/corpus/safetensors/) strictly and leniently. Besides the sanitizers' checks it
 * traps when a promise of nabla/io.h breaks: offsets outside the data, a failed load
 * that changed a store or returned metadata, an error without a message.
 *
 *     CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbenchmarks=false
 *     ninja -C build-fuzz fuzz/fuzz_safetensors
 *     build-fuzz/fuzz/fuzz_safetensors -max_total_time=60 /tmp/corpus fuzz/corpus/safetensors
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"

#define CHECK(cond)              \
    do {                         \
        if (!(cond))             \
            __builtin_trap();    \
    } while (0)

static nb_params *model, *state;
static float *saved;  /* the stores' values before a load */
static size_t model_bytes, state_bytes;

static void setup(void)
{
    model = nb_params_new();
    nb_params_add(model, "dense.kernel", NB_PARAM, NB_SHAPE(2, 3));
    nb_params_add(model, "dense.bias", NB_PARAM, NB_SHAPE(3));
    nb_params_add(model, "bn.mean", NB_BUFFER, NB_SHAPE(3));
    nb_params_add(model, "scale", NB_PARAM, 0, NULL);
    nb_params_add(model, "empty", NB_BUFFER, NB_SHAPE(0, 4));
    state = nb_params_new();
    nb_params_add(state, "dense.kernel.momentum_buffer", NB_BUFFER, NB_SHAPE(2, 3));
    nb_params_add(state, "step", NB_BUFFER, NB_SHAPE(1));
    nb_params_finalize(model);
    nb_params_finalize(state);
    model_bytes = (size_t)(nb_params_numel(model, NB_PARAM) + nb_params_numel(model, NB_BUFFER)) * 4;
    state_bytes = (size_t)nb_params_numel(state, NB_BUFFER) * 4;
    saved = malloc(model_bytes + state_bytes);
}

static void list(const uint8_t *data, size_t size)
{
    nb_safetensors *st = nb_safetensors_open_mem(data, size);
    if (!st) {
        CHECK(nb_error_code() != NB_OK && nb_error()[0] != '\0');
        return;
    }
    uint64_t data_size = nb_safetensors_data_size(st), covered = 0;
    CHECK(nb_safetensors_data_start(st) + data_size == size);
    for (int64_t i = 0; i < nb_safetensors_count(st); i++) {
        const nb_safetensors_tensor *t = nb_safetensors_at(st, i);
        CHECK(t && t->begin <= t->end && t->end <= data_size);
        CHECK(strlen(t->name) < size && strlen(t->dtype) > 0);
        uint64_t numel = 1;  /* wraps without UB; a valid product never wraps */
        bool zero = false;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] >= 0);
            zero |= t->shape[d] == 0;
            numel *= (uint64_t)t->shape[d];
        }
        CHECK((zero ? 0 : numel) == (uint64_t)t->numel);
        CHECK(nb_safetensors_find(st, t->name) == i);
        covered += t->end - t->begin;
    }
    CHECK(covered == data_size);
    const nb_meta *m = nb_safetensors_meta(st);
    for (int64_t i = 0; i < nb_meta_count(m); i++)
        CHECK(nb_meta_get(m, nb_meta_key(m, i)) == nb_meta_value(m, i));
    nb_safetensors_close(st);
}

static void load(const uint8_t *data, size_t size, const nb_checkpoint_load_opts *opts)
{
    memcpy(saved, nb_params_values(model), model_bytes);
    memcpy((char *)saved + model_bytes, nb_params_values(state), state_bytes);
    nb_checkpoint_part parts[] = {{NULL, model}, {"optim.", state}};
    nb_meta *meta = NULL;
    nb_status s = nb_checkpoint_load_mem(data, size, parts, 2, opts, &meta);
    if (s == NB_OK) {
        CHECK(meta != NULL);
        nb_meta_get_u64(meta, "epoch", &(uint64_t){0});
        nb_meta_get_f64(meta, "loss", &(double){0});
    } else {
        CHECK(meta == NULL && nb_error()[0] != '\0');
        CHECK(s == NB_ERR_IO || s == NB_ERR_ARG || s == NB_ERR_SHAPE || s == NB_ERR_NOMEM);
        CHECK(memcmp(saved, nb_params_values(model), model_bytes) == 0);
        CHECK(memcmp((char *)saved + model_bytes, nb_params_values(state), state_bytes) == 0);
    }
    nb_meta_free(meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model)
        setup();
    list(data, size);
    load(data, size, NULL);
    load(data, size, &(nb_checkpoint_load_opts){.allow_missing = true, .allow_extra = true});
    return 0;
}
