/*
 * nabla/dist.h - data-parallel training across processes and machines, on MPI.
 *
 * Built when nabla is configured with MPI (`meson setup build -Dmpi=enabled`, Debian's
 * libopenmpi-dev); link with the `nabla-dist` library (dependency nabla_dist_dep or
 * pkg-config nabla-dist). Every rank runs the same program on its own slice of the data:
 *
 *     nb_dist *d = nb_dist_init(&argc, &argv);      // MPI_COMM_WORLD
 *     ... build the model and its store the same way on every rank ...
 *     nb_dist_broadcast(d, ps);                     // rank 0's initial values everywhere
 *     for (each step) {
 *         forward and backward on this rank's batch (nb_batch_opts.shard_index = rank,
 *         .shard_count = size);
 *         nb_dist_average_grads(d, ps);             // one MPI_Allreduce of the grad arena
 *         optimizer step; zero grads; nb_step_reset();
 *     }
 *     nb_dist_free(d);                              // and MPI_Finalize if we started it
 *
 * With a mean loss on each rank, the averaged gradient is the gradient of the mean loss
 * over the global batch (the sum of the local batches), so 2 ranks with batch b train
 * like 1 process with batch 2b, up to float rounding (the sums run in another order).
 * Every rank applies the same averaged gradient to the same weights, so the weights stay
 * identical on every rank, bit for bit, and a run is reproducible run to run for a fixed
 * number of ranks (Open MPI picks the same reduction order for the same sizes).
 *
 * Buffers (batch norm's running statistics) are broadcast once and then stay per rank:
 * each rank's statistics follow its own batches (PyTorch's DistributedDataParallel does
 * the same without SyncBatchNorm). nb_dist_average_buffers averages them on demand, e.g.
 * before evaluating or saving.
 *
 * Errors: every call here is collective (all ranks must make it, in the same order).
 * A rank that hits an error must still reach the next nb_dist_agree, which makes every
 * rank return that error, with its message prefixed by the rank ("rank 1: ..."), so all
 * of them stop instead of waiting for each other.
 */
#ifndef NABLA_DIST_H
#define NABLA_DIST_H

#include <mpi.h>

#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_dist nb_dist;

/* Joins the job over MPI_COMM_WORLD, initialising MPI (MPI_Init_thread with
 * MPI_THREAD_FUNNELED: OpenMP threads never call MPI) if the program has not. argc and
 * argv may be NULL. Returns NULL and an error if MPI cannot be initialised. */
nb_dist *nb_dist_init(int *argc, char ***argv);

/* The same over a user's communicator (duplicated: nabla's messages never mix with the
 * user's). MPI must be initialised. */
nb_dist *nb_dist_from_comm(MPI_Comm comm);

/* Leaves: frees the communicator, and finalises MPI if nb_dist_init initialised it.
 * Collective. NULL is allowed. */
void nb_dist_free(nb_dist *d);

int nb_dist_rank(const nb_dist *d);
int nb_dist_size(const nb_dist *d);
/* True on rank 0, which prints progress and writes checkpoints. */
bool nb_dist_is_root(const nb_dist *d);

/* The communicator nabla uses (a duplicate). */
MPI_Comm nb_dist_comm(const nb_dist *d);

/* Makes every rank's values (parameters and buffers: the whole value arena) equal to
 * rank 0's, and finalizes the store. First checks that every rank's store has the same
 * entries (names, kinds, shapes): otherwise NB_ERR_STATE on every rank naming a rank
 * whose store differs from rank 0's. */
nb_status nb_dist_broadcast(nb_dist *d, nb_params *ps);

/* grads = (sum over ranks of grads) / size, in place: one MPI_Allreduce of the grad arena.
 * Allocates nothing. */
nb_status nb_dist_average_grads(nb_dist *d, nb_params *ps);

/* buffers = mean over ranks, in place (one MPI_Allreduce of the buffer part of the value
 * arena). */
nb_status nb_dist_average_buffers(nb_dist *d, nb_params *ps);

/* v[0..n) = sum over ranks of v[0..n), in place (metrics: sums and counts). */
nb_status nb_dist_sum(nb_dist *d, double *v, int n);

/* Rank 0's value of *flag on every rank (a decision such as early stopping). */
nb_status nb_dist_decide(nb_dist *d, bool *flag);

/* Agrees on success: returns NB_OK on every rank if `local` is NB_OK on every rank.
 * Otherwise every rank records and returns the error of the lowest failing rank, its
 * message prefixed "rank <r>: " (the failing rank's own message as recorded with
 * nb_error()). */
nb_status nb_dist_agree(nb_dist *d, nb_status local);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_DIST_H */
