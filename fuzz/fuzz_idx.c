/*
 * fuzz/fuzz_idx.c - libFuzzer harness for the IDX reader (plain and gzip, from memory:
 * the same code the file loader runs after opening the file).
 *
 * Invariants: a load either gives a tensor whose values are all readable, or NULL with
 * NB_ERR_IO / NB_ERR_NOMEM and a message naming the input; never a crash, a leak, an
 * out-of-bounds read or an allocation larger than the input can hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_idx_opts opts = {.raw = size % 2 == 1};
    nb_tensor *t = nb_idx_load_mem(data, size, "fuzz-input", &opts);
    if (t) {
        volatile float sink = 0;
        for (int64_t i = 0; i < t->size; i++)
            sink += t->data[i];
        (void)sink;
        int64_t n = 1;
        for (int i = 0; i < t->ndim; i++)
            n *= t->shape[i];
        if (n != t->size || t->ndim < 1 || t->ndim > NB_MAX_DIMS)
            abort();
        nb_tensor_free(t);
    } else {
        nb_status s = nb_error_code();
        if ((s != NB_ERR_IO && s != NB_ERR_NOMEM) ||
            (s == NB_ERR_IO && !strstr(nb_error(), "idx_load: 'fuzz-input': ")))
            abort();
    }
    nb_error_clear();
    return 0;
}
