/*
 * nabla/core.h - errors, the allocator hook, step memory and threads.
 *
 * Everything here is process-wide state. nabla's API is meant to be called from
 * one thread at a time; kernels use OpenMP internally. The error message is kept
 * per thread, like errno.
 */
#ifndef NABLA_CORE_H
#define NABLA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NB_PRINTF(fmt, args)
#endif

/* ---- errors ------------------------------------------------------------------------ */

/* What went wrong. Every call that can fail returns NULL or one of these. */
typedef enum nb_status {
    NB_OK = 0,
    NB_ERR_SHAPE,    /* shapes that do not fit the op */
    NB_ERR_ARG,      /* a bad argument: axis out of range, negative stride, ... */
    NB_ERR_NULL,     /* a NULL input, usually from an earlier failed op */
    NB_ERR_NOMEM,    /* the allocator returned NULL */
    NB_ERR_STATE,    /* a call that does not fit the current state (e.g. backward twice) */
    NB_ERR_IO,       /* a file could not be read or written */
    NB_ERR_COUNT
} nb_status;

/* The message of the most recent error on this thread ("" if none), e.g.
 * "matmul: inner dimensions differ: [4,3] @ [2,5]". Valid until the next error. */
const char *nb_error(void);

/* The status of the most recent error on this thread (NB_OK if none). */
nb_status nb_error_code(void);

/* Forgets the recorded error. */
void nb_error_clear(void);

/* Records an error (printf-style message) and returns `code`. Op authors use
 * nb_op_error() instead, which names the op. */
nb_status nb_set_error(nb_status code, const char *fmt, ...) NB_PRINTF(2, 3);

/* A short name for a status, e.g. "shape error". */
const char *nb_status_str(nb_status code);

/* ---- allocation ---------------------------------------------------------------------- */

/* All memory nabla uses comes from this allocator. alloc returns `size` bytes aligned
 * to `align` (a power of two, at most 4096) or NULL; free releases what alloc returned
 * (free(NULL) must be allowed). `ud` is passed through. */
typedef struct nb_allocator {
    void *(*alloc)(size_t size, size_t align, void *ud);
    void (*free)(void *ptr, void *ud);
    void *ud;
} nb_allocator;

/* Installs `a` (NULL restores the default, based on aligned_alloc). Call it before
 * any tensor exists: memory is released through the allocator that gave it. */
void nb_set_allocator(const nb_allocator *a);

/* Allocates through the hook. Returns NULL (and records NB_ERR_NOMEM) on failure. */
void *nb_alloc(size_t size, size_t align);

/* Releases memory from nb_alloc. NULL is allowed. */
void nb_free(void *ptr);

/* ---- step memory ----------------------------------------------------------------------
 *
 * Every tensor an op returns, every graph node and every gradient of an intermediate
 * lives in step memory. One call releases all of it; the memory is kept for the next
 * step, so after the first step a training step makes no heap allocation.
 */

/* Releases every step tensor and graph node. Tensors returned by ops before this call
 * must not be used after it. Persistent tensors (from nb_tensor_* constructors) stay. */
void nb_step_reset(void);

/* A position in step memory, for scratch that is given back early. */
typedef struct nb_step_mark {
    void *chunk;
    size_t used;
} nb_step_mark;

/* The current position in step memory. */
nb_step_mark nb_step_mark_get(void);

/* Releases everything allocated in step memory since `mark` (newer tensors included). */
void nb_step_rewind(nb_step_mark mark);

/* Allocates `size` bytes (64-byte aligned) of step memory; NULL + NB_ERR_NOMEM on
 * failure. Released by nb_step_reset or nb_step_rewind. */
void *nb_step_alloc(size_t size);

/* Bytes of step memory in use now, and reserved from the allocator. */
size_t nb_step_used(void);
size_t nb_step_reserved(void);

/* Returns all cached memory (step memory included, so like nb_step_reset it ends the
 * step) to the allocator. nabla stays usable; call it before exit or after training to
 * give memory back. */
void nb_memory_release(void);

/* ---- threads --------------------------------------------------------------------------- */

/* Number of threads kernels use. Defaults to OpenMP's (OMP_NUM_THREADS). Results are
 * bit-identical for any thread count. n < 1 is NB_ERR_ARG. */
nb_status nb_set_num_threads(int n);
int nb_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_CORE_H */
