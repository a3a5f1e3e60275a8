/*
 * fuzz/fuzz_csv.c - libFuzzer harness for the CSV reader (from memory: the same code
 * the file loader runs after opening the file).
 *
 * The first byte of an input chooses the options, the rest is the table:
 *   bit 0     header
 *   bits 1-2  delimiter: ',' ';' '\t' ' '
 *   bits 3-4  number of label columns (0..3)
 *   bit 5     labels by name ("label", "y", "b") instead of by index (label k is
 *             column k + 1)
 *
 * Invariants: a data set with x [rows, features] of finite values and y [rows, labels]
 * as asked, or NULL with NB_ERR_IO / NB_ERR_ARG / NB_ERR_NOMEM and a csv_load message;
 * never a crash, a leak or an out-of-bounds read.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t c = data[0];
    static const char delims[4] = {',', ';', '\t', ' '};
    static const char *names[3] = {"label", "y", "b"};
    nb_csv_opts o = {.header = c & 1, .delimiter = delims[(c >> 1) & 3],
                     .n_labels = (c >> 3) & 3};
    for (int i = 0; i < o.n_labels; i++) {
        if (c & 32)
            o.label_names[i] = names[i];
        else
            o.label_indices[i] = i + 1;
    }
    nb_dataset *ds = nb_csv_load_mem(data + 1, size - 1, "fuzz-input", &o);
    if (ds) {
        nb_tensor *x = nb_dataset_inputs(ds), *y = nb_dataset_targets(ds);
        if (x->ndim != 2 || x->shape[1] < 1 || (o.n_labels > 0) != (y != NULL))
            abort();
        for (int64_t i = 0; i < x->size; i++)
            if (!isfinite(x->data[i]))
                abort();
        if (y && (y->ndim != 2 || y->shape[0] != x->shape[0] || y->shape[1] != o.n_labels))
            abort();
        for (int64_t i = 0; y && i < y->size; i++)
            if (!isfinite(y->data[i]))
                abort();
        nb_dataset_free(ds);
    } else {
        nb_status s = nb_error_code();
        if ((s != NB_ERR_IO && s != NB_ERR_ARG && s != NB_ERR_NOMEM) ||
            !strstr(nb_error(), "csv_load: "))
            abort();
    }
    nb_error_clear();
    return 0;
}
