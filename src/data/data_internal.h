/*
 * src/data/data_internal.h - what the files of the data module share. Built on the
 * public headers only (never src/internal.h).
 */
#ifndef NABLA_DATA_INTERNAL_H
#define NABLA_DATA_INTERNAL_H

#include "nabla/data.h"

struct nb_dataset {
    nb_tensor *x, *y;        /* y may be NULL */
    bool own;                /* free x and y with the data set */
    nb_tensor xview, yview;  /* a slice's headers over its parent's rows */
};

/* Elements per sample: the product of t's dimensions after the first. */
int64_t nb_data_row_size(const nb_tensor *t);

#endif /* NABLA_DATA_INTERNAL_H */
