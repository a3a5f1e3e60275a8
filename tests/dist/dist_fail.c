/*
 * tests/dist/dist_fail.c - one rank fails in the middle of training (a data file it
 * cannot read); every rank must stop with that error instead of waiting for it.
 * Each rank prints "rank <r> stopped: <message>" and exits 1. fail.sh checks it.
 */
#include <stdio.h>

#include "nabla.h"
#include "nabla/dist.h"

int main(int argc, char **argv)
{
    nb_dist *d = nb_dist_init(&argc, &argv);
    if (!d)
        return 2;
    int rank = nb_dist_rank(d);
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(4));
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(4));
    nb_status s = w && x ? nb_dist_broadcast(d, ps) : NB_ERR_NOMEM;
    for (int step = 0; step < 100 && s == NB_OK; step++) {
        nb_status local = nb_backward(nb_sum(nb_mul(w, x)));
        if (rank == 1 && step == 3) /* this rank's next data file is missing */
            local = nb_set_error(NB_ERR_IO, "data: /nonexistent/part-1.csv: cannot open");
        s = nb_dist_agree(d, local);
        if (s == NB_OK)
            s = nb_dist_average_grads(d, ps);
        nb_params_zero_grad(ps);
        nb_step_reset();
    }
    if (s != NB_OK)
        printf("rank %d stopped: %s\n", rank, nb_error());
    fflush(stdout);
    nb_tensor_free(x);
    nb_params_free(ps);
    nb_dist_free(d);
    return s == NB_OK ? 0 : 1;
}
