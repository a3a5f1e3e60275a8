/*
 * src/threads.c - the thread count.
 */
#include <omp.h>

#include "internal.h"

nb_status nb_set_num_threads(int n)
{
    if (n < 1)
        return nb_set_error(NB_ERR_ARG, "set_num_threads: need at least 1 thread, got %d", n);
    /* libgomp creates the team at the next parallel region, and crashes when it cannot. */
    if (n > NB_MAX_THREADS)
        return nb_set_error(NB_ERR_ARG, "set_num_threads: %d threads is more than the %d "
                            "nabla allows", n, NB_MAX_THREADS);
    omp_set_num_threads(n);
    return NB_OK;
}

int nb_num_threads(void) { return omp_get_max_threads(); }

bool nb_threads_available(void) { return omp_get_max_threads() > 1 && !omp_in_parallel(); }
