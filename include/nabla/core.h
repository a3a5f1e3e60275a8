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
    NB_ERR_IO,       /* a file could not be read or written, or is malformed */
    NB_ERR_NUMERIC,  /* a NaN or infinity found by the anomaly check (nabla/autograd.h) */
    NB_ERR_COUNT
} nb_status;

/* The message of the most recent error on this thread ("" if none), e.g.
 * "matmul: inner dimensions differ: [4,3] @ [2,5]". Valid until the next error.
 *
 * Like errno, a successful call leaves the recorded error alone: check return values,
 * and read nb_error() after a call that failed. An op given a NULL input (the result of
 * an op that failed) keeps the recorded message only if it was recorded in the current
 * step (since the last nb_step_reset); an older message is replaced by "<op>: input i
 * is NULL", so a stale cause is never reported for a new failure. */
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

/* Installs `a` (NULL restores the default, based on aligned_alloc). It may be changed
 * at any time: every block remembers the allocator that gave it and goes back through
 * it, so an allocator (and its ud) must stay usable until the memory it gave is freed
 * (nb_memory_release returns cached step memory). nabla asks it for a little more than
 * each request, for that record. */
void nb_set_allocator(const nb_allocator *a);

/* Allocates `size` bytes aligned to `align` (a power of two, at most 4096; 0 means 64)
 * through the hook. Returns NULL (and records NB_ERR_NOMEM) on failure, for a size so
 * large that the bookkeeping would overflow too, and NB_ERR_ARG for a bad alignment. */
void *nb_alloc(size_t size, size_t align);

/* Releases memory from nb_alloc through the allocator that gave it. NULL is allowed. */
void nb_free(void *ptr);

/* Releases memory from nb_alloc when the current step ends (nb_step_reset or
 * nb_memory_release) instead of now: for memory a recorded graph may still read in
 * backward. Costs no allocation. NULL is allowed. */
void nb_free_deferred(void *ptr);

/* ---- step memory ----------------------------------------------------------------------
 *
 * Every tensor an op returns, every graph node and every gradient of an intermediate
 * lives in step memory. One call releases all of it; the memory is kept for the next
 * step, so after the first step a training step makes no heap allocation.
 */

/* Releases every step tensor and graph node. Tensors returned by ops before this call
 * must not be used after it: an op given one reports "<op>: input i belongs to an
 * earlier step" (NB_ERR_STATE) -- reliably while its memory has not been reused, and
 * very likely after (steps start at rotating offsets, so an old tensor does not line
 * up with a new one). Persistent tensors (from nb_tensor_* constructors) stay; those
 * freed while the graph used them are released now (see nb_tensor_free). */
void nb_step_reset(void);

/* The number of the current step: 1 at start, +1 at each nb_step_reset and
 * nb_memory_release. */
uint64_t nb_step_id(void);

/* A position in step memory, for scratch that is given back early. Its fields are
 * private. A mark belongs to the step it was taken in: after nb_step_reset or
 * nb_memory_release it is invalid. */
typedef struct nb_step_mark {
    void *chunk;
    size_t used;
    size_t nodes;   /* graph nodes recorded when the mark was taken */
    void *last;     /* the newest of them */
    uint64_t step;  /* the step it belongs to */
} nb_step_mark;

/* The current position in step memory. */
nb_step_mark nb_step_mark_get(void);

/* Releases everything allocated in step memory since `mark`: newer tensors and graph
 * nodes included (an op given one of them afterwards reports NB_ERR_STATE while its
 * memory has not been reused). NB_ERR_STATE, and nothing released, for a mark from
 * another step or one that lies ahead of the current position. */
nb_status nb_step_rewind(nb_step_mark mark);

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

/* ---- error context ----------------------------------------------------------------- */

/* Names what is running, for messages: a layer sets its name ("dense_1") around its
 * forward, and anomaly checks (nabla/autograd.h) report it with the op. The string must
 * outlive its use (a layer's name does). Returns the previous scope so calls nest;
 * NULL clears it. Per thread. */
const char *nb_set_scope(const char *name);
const char *nb_scope(void);

/* ---- threads --------------------------------------------------------------------------- */

/* Number of threads kernels use. Defaults to OpenMP's (OMP_NUM_THREADS). Results are
 * bit-identical for any thread count. n < 1 or n > NB_MAX_THREADS is NB_ERR_ARG (libgomp
 * would fail to create a huge team later, and crash). */
#define NB_MAX_THREADS 1024
nb_status nb_set_num_threads(int n);
int nb_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_CORE_H */
