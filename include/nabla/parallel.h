/*
 * nabla/parallel.h - splitting loops across threads, deterministically.
 *
 * For anyone who writes a hot loop on nabla's data: ops, optimizers, data loaders.
 * The thread count itself is set with nb_set_num_threads (nabla/core.h).
 *
 * Rules that keep results bit-identical for any thread count:
 *   - split only loops whose iterations own disjoint outputs;
 *   - never reduce with OpenMP's reduction(+:...) or atomics; sum in a fixed order
 *     (nb_kernel_sum in nabla/kernels.h, or one sequential loop per output).
 */
#ifndef NABLA_PARALLEL_H
#define NABLA_PARALLEL_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements a loop is not worth splitting across threads. */
#define NB_PAR_MIN 32768

/* True when a parallel region would get more than one thread: more than one is set and
 * the caller is not already inside a parallel region. */
bool nb_threads_available(void);

/* for (int64_t i = 0; i < n; i++) { body } -- split across threads (static schedule)
 * when `cond` holds and threads are available, run on the calling thread otherwise:
 *
 *     NB_PARALLEL_FOR(i, n, {
 *         y[i] = 1.0f / (1.0f + expf(-x[i]));
 *     });
 *
 * Use it instead of `#pragma omp parallel for if (...)`: an OpenMP region whose if()
 * is false (or that gets one thread) still makes libgomp allocate a team on the heap,
 * once per region, so every small op would allocate. Iterations must own disjoint
 * outputs. `cond` may use nb_n_, the trip count. */
#define NB_PARALLEL_FOR_IF(cond, i, n, ...)                        \
    do {                                                           \
        const int64_t nb_n_ = (n);                                 \
        if ((cond) && nb_threads_available()) {                    \
            _Pragma("omp parallel for schedule(static)")           \
            for (int64_t i = 0; i < nb_n_; i++) __VA_ARGS__        \
        } else {                                                   \
            for (int64_t i = 0; i < nb_n_; i++) __VA_ARGS__        \
        }                                                          \
    } while (0)

/* NB_PARALLEL_FOR_IF with the default threshold: split from NB_PAR_MIN iterations. */
#define NB_PARALLEL_FOR(i, n, ...) \
    NB_PARALLEL_FOR_IF(nb_n_ >= NB_PAR_MIN, i, n, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* NABLA_PARALLEL_H */
