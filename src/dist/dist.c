/*
 * src/dist/dist.c - data-parallel training on MPI (nabla/dist.h), on the public headers.
 *
 * nabla's communicator is a duplicate with MPI_ERRORS_RETURN, so an MPI failure is an
 * nb_status with MPI's message, never an abort inside the library.
 */
#include <string.h>

#include "nabla.h"
#include "nabla/dist.h"
#include "nabla/parallel.h"

struct nb_dist {
    MPI_Comm comm;
    int rank, size;
    bool finalize;   /* nb_dist_init initialised MPI */
};

/* NB_OK, or NB_ERR_IO with "<who>: <MPI's message>". */
static nb_status mpi_status(int rc, const char *who)
{
    if (rc == MPI_SUCCESS)
        return NB_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return nb_set_error(NB_ERR_IO, "%s: %s", who, msg);
}

static nb_dist *dist_new(MPI_Comm comm, bool finalize)
{
    nb_dist *d = nb_alloc(sizeof *d, 0);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    d->finalize = finalize;
    if (mpi_status(MPI_Comm_dup(comm, &d->comm), "dist_init: MPI_Comm_dup") != NB_OK) {
        nb_free(d);
        return NULL;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    return d;
}

nb_dist *nb_dist_init(int *argc, char ***argv)
{
    int inited = 0;
    MPI_Initialized(&inited);
    bool started = false;
    if (!inited) {
        int provided = 0;
        if (mpi_status(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
                       "dist_init: MPI_Init_thread") != NB_OK)
            return NULL;
        started = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    nb_dist *d = dist_new(MPI_COMM_WORLD, started);
    if (!d && started)
        MPI_Finalize();
    return d;
}

nb_dist *nb_dist_from_comm(MPI_Comm comm)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        nb_set_error(NB_ERR_STATE, "dist_from_comm: MPI is not initialised");
        return NULL;
    }
    return dist_new(comm, false);
}

void nb_dist_free(nb_dist *d)
{
    if (!d)
        return;
    MPI_Comm_free(&d->comm);
    bool finalize = d->finalize;
    nb_free(d);
    if (finalize)
        MPI_Finalize();
}

int nb_dist_rank(const nb_dist *d) { return d ? d->rank : 0; }
int nb_dist_size(const nb_dist *d) { return d ? d->size : 1; }
bool nb_dist_is_root(const nb_dist *d) { return !d || d->rank == 0; }
MPI_Comm nb_dist_comm(const nb_dist *d) { return d ? d->comm : MPI_COMM_NULL; }

/* FNV-1a over the store's entries: names, kinds and shapes. */
static uint64_t layout_hash(const nb_params *ps)
{
    uint64_t h = 0xcbf29ce484222325ULL;
#define MIX(byte) (h = (h ^ (uint8_t)(byte)) * 0x100000001b3ULL)
    for (int64_t i = 0; i < nb_params_count(ps); i++) {
        for (const char *c = nb_params_name(ps, i); *c; c++)
            MIX(*c);
        MIX(0);
        MIX(nb_params_kind(ps, i));
        const nb_tensor *t = nb_params_at(ps, i);
        MIX(t->ndim);
        for (int k = 0; k < t->ndim; k++)
            for (int b = 0; b < 8; b++)
                MIX((uint64_t)t->shape[k] >> (8 * b));
    }
#undef MIX
    return h;
}

static nb_status check(const nb_dist *d, const void *p, const char *who)
{
    if (!d || !p)
        return nb_set_error(NB_ERR_NULL, "%s: %s is NULL", who, d ? "the store" : "dist");
    return NB_OK;
}

nb_status nb_dist_broadcast(nb_dist *d, nb_params *ps)
{
    nb_status s = check(d, ps, "dist_broadcast");
    if (s != NB_OK)
        return s;
    /* Same layout everywhere? Every rank compares its hash with rank 0's. */
    unsigned long long h = layout_hash(ps), h0 = h;
    if ((s = mpi_status(MPI_Bcast(&h0, 1, MPI_UNSIGNED_LONG_LONG, 0, d->comm),
                        "dist_broadcast: MPI_Bcast")) != NB_OK)
        return s;
    int mismatch = h != h0 ? d->rank : d->size, first = d->size;
    if ((s = mpi_status(MPI_Allreduce(&mismatch, &first, 1, MPI_INT, MPI_MIN, d->comm),
                        "dist_broadcast: MPI_Allreduce")) != NB_OK)
        return s;
    if (first < d->size)
        return nb_set_error(NB_ERR_STATE, "dist_broadcast: rank %d's parameter store differs "
                            "from rank 0's (entries, kinds or shapes; build the model the "
                            "same way on every rank)", first);
    nb_status fin = nb_params_finalize(ps);
    if ((s = nb_dist_agree(d, fin)) != NB_OK)
        return s;
    int64_t n = nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER);
    float *v = nb_params_values(ps);
    for (int64_t off = 0; off < n; off += INT32_MAX / 2) { /* MPI counts are int */
        int c = (int)(n - off < INT32_MAX / 2 ? n - off : INT32_MAX / 2);
        if ((s = mpi_status(MPI_Bcast(v + off, c, MPI_FLOAT, 0, d->comm),
                            "dist_broadcast: MPI_Bcast")) != NB_OK)
            return s;
    }
    return NB_OK;
}

/* x[0..n) = mean over ranks, in place. */
static nb_status average(nb_dist *d, float *x, int64_t n, const char *who)
{
    nb_status s = NB_OK;
    for (int64_t off = 0; off < n && s == NB_OK; off += INT32_MAX / 2) {
        int c = (int)(n - off < INT32_MAX / 2 ? n - off : INT32_MAX / 2);
        s = mpi_status(MPI_Allreduce(MPI_IN_PLACE, x + off, c, MPI_FLOAT, MPI_SUM, d->comm),
                       who);
    }
    if (s != NB_OK || d->size == 1)
        return s;
    float inv = 1.0f / (float)d->size;
    NB_PARALLEL_FOR(i, n, {
        x[i] *= inv;
    });
    return NB_OK;
}

nb_status nb_dist_average_grads(nb_dist *d, nb_params *ps)
{
    nb_status s = check(d, ps, "dist_average_grads");
    if (s != NB_OK)
        return s;
    return average(d, nb_params_grads(ps), nb_params_numel(ps, NB_PARAM),
                   "dist_average_grads: MPI_Allreduce");
}

nb_status nb_dist_average_buffers(nb_dist *d, nb_params *ps)
{
    nb_status s = check(d, ps, "dist_average_buffers");
    if (s != NB_OK)
        return s;
    float *v = nb_params_values(ps);
    return average(d, v ? v + nb_params_numel(ps, NB_PARAM) : NULL,
                   nb_params_numel(ps, NB_BUFFER), "dist_average_buffers: MPI_Allreduce");
}

nb_status nb_dist_sum(nb_dist *d, double *v, int n)
{
    nb_status s = check(d, v, "dist_sum");
    if (s != NB_OK || n <= 0)
        return s;
    return mpi_status(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm),
                      "dist_sum: MPI_Allreduce");
}

nb_status nb_dist_decide(nb_dist *d, bool *flag)
{
    nb_status s = check(d, flag, "dist_decide");
    if (s != NB_OK)
        return s;
    int v = *flag;
    s = mpi_status(MPI_Bcast(&v, 1, MPI_INT, 0, d->comm), "dist_decide: MPI_Bcast");
    if (s == NB_OK)
        *flag = v != 0;
    return s;
}

nb_status nb_dist_agree(nb_dist *d, nb_status local)
{
    if (!d)
        return nb_set_error(NB_ERR_NULL, "dist_agree: dist is NULL");
    int mine = local != NB_OK ? d->rank : d->size, first = d->size;
    nb_status s = mpi_status(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm),
                             "dist_agree: MPI_Allreduce");
    if (s != NB_OK || first == d->size)
        return s;
    /* The failing rank tells everyone its status and message. */
    struct {
        int code;
        char msg[480];
    } what = {0};
    if (d->rank == first) {
        what.code = (int)local;
        snprintf(what.msg, sizeof what.msg, "%s",
                 nb_error_code() != NB_OK ? nb_error() : nb_status_str(local));
    }
    s = mpi_status(MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, first, d->comm),
                   "dist_agree: MPI_Bcast");
    if (s != NB_OK)
        return s;
    what.msg[sizeof what.msg - 1] = '\0';
    nb_status code = what.code > NB_OK && what.code < NB_ERR_COUNT ? (nb_status)what.code
                                                                  : NB_ERR_STATE;
    return nb_set_error(code, "rank %d: %s", first, what.msg);
}
