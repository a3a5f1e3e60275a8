/*
 * src/internal.h - engine internals shared by the files in src/. Nothing outside src/
 * includes this: ops and the modules on top use the public headers only.
 */
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include <stdarg.h>

#include "nabla.h"
#include "nabla/kernels.h"
#include "nabla/op.h"
#include "nabla/parallel.h"

#define NB_ALIGN 64

/* A recorded op application: what backward needs to differentiate it. */
struct nb_node {
    const nb_op *op;
    nb_tensor *in[NB_OP_MAX_INPUTS];   /* NULL for an absent optional input */
    int n_in;
    unsigned grad_mask;    /* bit i: input i gets a gradient (fixed when recorded) */
    nb_tensor *out;
    nb_tensor *grad_slot;  /* room for out's gradient (header + data), set up by backward */
    void *params;          /* copy of the op's params struct, in step memory */
    void *saved;           /* nb_op_save() memory */
    const char *scope;     /* nb_scope() when the op ran */
    bool needs_grad;       /* backward may run (grad mode on, an input requires grad) */
    struct nb_node *prev;  /* the node recorded before this one (creation order is a
                              topological order: inputs exist before their consumers) */
    uint64_t mark;         /* visit mark of the last backward pass that reached it */
};

/* Round n up to a multiple of NB_ALIGN. */
static inline size_t nb_align_up(size_t n) { return (n + NB_ALIGN - 1) & ~(size_t)(NB_ALIGN - 1); }

/* Bytes of a tensor header in step memory or a persistent block (data follows). */
#define NB_TENSOR_HEADER nb_align_up(sizeof(nb_tensor))

/* Fills shape/size fields; returns NB_OK or NB_ERR_SHAPE (message names `who`). */
nb_status nb_shape_check(const char *who, int ndim, const int64_t *shape, int64_t *size);

/* Initialises a tensor header for `data`. */
void nb_tensor_init(nb_tensor *t, float *data, int ndim, const int64_t *shape, int64_t size,
                    nb_storage storage);

/* Number of nodes recorded since the last reset, and the newest of them. */
extern size_t nb_nodes_recorded;
extern nb_node *nb_last_node;

/* Where [p, p + n) lies: 0 outside step memory, 1 inside the part in use this step, 2
 * inside a chunk but not in use (released by a reset or a rewind). */
int nb_step_holds(const void *p, size_t n);

/* Step memory as nb_tensor_live's fast path sees it: while it is a single chunk, that
 * chunk's data, capacity and fill. Kept current by src/step.c. */
typedef struct nb_step_view {
    const char *data;
    size_t cap;
    const size_t *used;
    bool single;   /* exactly one chunk */
} nb_step_view;
extern nb_step_view nb_step_view_;

bool nb_tensor_live_slow(const nb_tensor *t);

/* True if t can be used now: persistent, or a step tensor of the current step that has
 * not been rewound away. On every op input: inline for the usual single chunk. */
static inline bool nb_tensor_live(const nb_tensor *t)
{
    if (nb_step_view_.single) {
        const char *q = (const char *)t, *d = nb_step_view_.data;
        if (q < d || q >= d + nb_step_view_.cap)
            return t->storage != NB_STORAGE_STEP;
        return (size_t)(q - d) + sizeof *t <= *nb_step_view_.used &&
               t->storage == NB_STORAGE_STEP && t->step == nb_step_id();
    }
    return nb_tensor_live_slow(t);
}

/* Frees the blocks given to nb_free_deferred (at the end of a step). */
void nb_release_deferred(void);

/* How many errors this thread has recorded: a callback that failed without a message
 * leaves it unchanged. */
uint64_t nb_error_serial(void);

/* True if an error was recorded in the current step. */
bool nb_error_is_recent(void);

/* nb_set_error with an optional "<prefix>: ". */
nb_status nb_set_error_v(nb_status code, const char *prefix, const char *fmt, va_list ap);

/* Called by nb_op_apply for every state input before forward, while gradcheck guards
 * state (NULL otherwise). */
extern void (*nb_state_hook)(nb_tensor *t, void *ud);
extern void *nb_state_hook_ud;

#endif /* NABLA_INTERNAL_H */
