/*
 * src/internal.h - engine internals shared by the files in src/. Nothing in ops/ includes this.
 */
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include "nabla.h"
#include "nabla/op.h"

#define NB_ALIGN 64

/* A recorded op application: what backward needs to differentiate it. */
struct nb_node {
    const nb_op *op;
    nb_tensor *in[NB_OP_MAX_INPUTS];
    int n_in;
    nb_tensor *out;
    void *params;          /* copy of the op's params struct, in step memory */
    void *saved;           /* nb_op_save() memory */
    bool needs_grad;       /* backward may run (grad mode on, an input requires grad) */
    uint64_t mark;         /* visit mark of the last backward pass that reached it */
};

/* Round n up to a multiple of NB_ALIGN. */
static inline size_t nb_align_up(size_t n) { return (n + NB_ALIGN - 1) & ~(size_t)(NB_ALIGN - 1); }

/* Fills shape/size fields; returns NB_OK or NB_ERR_SHAPE (message names `who`). */
nb_status nb_shape_check(const char *who, int ndim, const int64_t *shape, int64_t *size);

/* Initialises a tensor header for `data`. */
void nb_tensor_init(nb_tensor *t, float *data, int ndim, const int64_t *shape, int64_t size,
                    bool persistent);

/* Number of nodes recorded since the last reset (sizes backward's work list). */
extern size_t nb_nodes_recorded;

#endif /* NABLA_INTERNAL_H */
