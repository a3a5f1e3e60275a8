/*
 * tests/dist/test_dist.c - data-parallel training, run under
 *     mpirun -np 2 ./test_dist
 * (a plain program, not Criterion: its forked workers and MPI do not mix). Exits 0 only
 * if every check held on every rank.
 *
 * 1. broadcast makes every rank's values rank 0's; a store that differs is named.
 * 2. R ranks with local batch b give, after several SGD steps, the weights of one process
 *    with batch R b. The tolerance: the two compute the same mean gradient in different
 *    orders (per-rank means, then their float average, against one mean over R b), so
 *    each step differs by a few float roundings of the gradient (relative ~1e-7); over 8
 *    steps with lr 0.5 the weights agree within 1e-5 relative, which we check with margin
 *    at 2e-5 + 2e-6 absolute. A wrong shard or a missing average is off by far more.
 * 3. the weights are identical on every rank, bit for bit, at every step, and a second
 *    run from the same seed repeats the first bit for bit.
 * 4. nb_dist_agree turns one rank's error into the same error on every rank.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"
#include "nabla/dist.h"
#include "nabla/kernels.h"

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "rank %d: %s:%d: ", rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static int rank;

/* nabla's allocations, counted: every one must be freed by the end. */
static long n_alloc, n_free;

static void *count_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    n_free += p != NULL;
    free(p);
}

enum { D = 7, H = 13, B_LOCAL = 24, STEPS = 8 };

typedef struct mlp {
    nb_params *ps;
    nb_tensor *w1, *b1, *w2, *b2, *stat;
} mlp;

/* The same model on every rank; values depend on `seed` (rank 0's win the broadcast). */
static int mlp_make(mlp *m, uint64_t seed)
{
    m->ps = nb_params_new();
    m->w1 = nb_params_add(m->ps, "dense.kernel", NB_PARAM, NB_SHAPE(D, H));
    m->b1 = nb_params_add(m->ps, "dense.bias", NB_PARAM, NB_SHAPE(H));
    m->stat = nb_params_add(m->ps, "norm.running_mean", NB_BUFFER, NB_SHAPE(H));
    m->w2 = nb_params_add(m->ps, "dense_1.kernel", NB_PARAM, NB_SHAPE(H, 1));
    m->b2 = nb_params_add(m->ps, "dense_1.bias", NB_PARAM, NB_SHAPE(1));
    if (!m->w1 || !m->b1 || !m->stat || !m->w2 || !m->b2)
        return -1;
    float *v = nb_params_values(m->ps);
    int64_t n = nb_params_numel(m->ps, NB_PARAM) + nb_params_numel(m->ps, NB_BUFFER);
    for (int64_t i = 0; i < n; i++)
        v[i] = nb_rng_uniform(seed, (uint64_t)i) - 0.5f;
    return 0;
}

/* Rows [r0, r0 + n) of the global data set. */
static void data_rows(int64_t r0, int64_t n, nb_tensor *x, nb_tensor *y)
{
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < D; k++)
            x->data[i * D + k] = 2.0f * nb_rng_uniform(77, (uint64_t)((r0 + i) * D + k)) - 1.0f;
        y->data[i] = nb_rng_uniform(78, (uint64_t)(r0 + i)) < 0.5f ? 0.0f : 1.0f;
    }
}

/* One SGD step on (x, y); grads averaged over ranks when d is not NULL. */
static nb_status sgd_step(mlp *m, nb_tensor *x, nb_tensor *y, nb_dist *d)
{
    nb_tensor *h = nb_tanh(nb_add(nb_matmul(x, m->w1), m->b1));
    nb_tensor *p = nb_sigmoid(nb_add(nb_matmul(h, m->w2), m->b2));
    nb_status s = nb_backward(nb_bce(p, y, NB_REDUCE_MEAN));
    if (d)
        s = nb_dist_agree(d, s);
    if (s == NB_OK && d)
        s = nb_dist_average_grads(d, m->ps);
    if (s == NB_OK) {
        float *v = nb_params_values(m->ps);
        const float *g = nb_params_grads(m->ps);
        for (int64_t i = 0; i < nb_params_numel(m->ps, NB_PARAM); i++)
            v[i] -= 0.5f * g[i];
    }
    nb_params_zero_grad(m->ps);
    nb_step_reset();
    return s;
}

/* Trains on this rank's shard for STEPS steps; after each step checks that every rank
 * holds the same weights (bits). Leaves the final values in out. */
static void train_distributed(nb_dist *d, float *out)
{
    int R = nb_dist_size(d);
    mlp m;
    CHECK(mlp_make(&m, 1000 + (uint64_t)rank) == 0, "%s", nb_error());
    CHECK(nb_dist_broadcast(d, m.ps) == NB_OK, "%s", nb_error());
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(B_LOCAL, D)), *y = nb_tensor_zeros(NB_SHAPE(B_LOCAL, 1));
    int64_t n = nb_params_numel(m.ps, NB_PARAM);
    float *root = nb_alloc((size_t)n * sizeof(float), 0);
    for (int step = 0; step < STEPS; step++) {
        /* Global batch `step` is rows [step R b, (step + 1) R b); this rank's slice. */
        data_rows((int64_t)step * R * B_LOCAL + (int64_t)rank * B_LOCAL, B_LOCAL, x, y);
        CHECK(sgd_step(&m, x, y, d) == NB_OK, "%s", nb_error());
        memcpy(root, nb_params_values(m.ps), (size_t)n * sizeof(float));
        MPI_Bcast(root, (int)n, MPI_FLOAT, 0, nb_dist_comm(d));
        CHECK(memcmp(root, nb_params_values(m.ps), (size_t)n * sizeof(float)) == 0,
              "step %d: the weights differ from rank 0's", step);
    }
    memcpy(out, nb_params_values(m.ps), (size_t)n * sizeof(float));
    nb_free(root);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_params_free(m.ps);
}

/* The same training in one process with the global batch R b. */
static void train_single(int R, float *out)
{
    mlp m;
    CHECK(mlp_make(&m, 1000) == 0, "%s", nb_error());
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE((int64_t)R * B_LOCAL, D));
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE((int64_t)R * B_LOCAL, 1));
    for (int step = 0; step < STEPS; step++) {
        data_rows((int64_t)step * R * B_LOCAL, (int64_t)R * B_LOCAL, x, y);
        CHECK(sgd_step(&m, x, y, NULL) == NB_OK, "%s", nb_error());
    }
    memcpy(out, nb_params_values(m.ps), (size_t)nb_params_numel(m.ps, NB_PARAM) * sizeof(float));
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_params_free(m.ps);
}

static void test_broadcast(nb_dist *d)
{
    mlp m;
    CHECK(mlp_make(&m, 50 + (uint64_t)rank) == 0, "%s", nb_error());
    CHECK(nb_dist_broadcast(d, m.ps) == NB_OK, "%s", nb_error());
    CHECK(nb_params_finalized(m.ps), "broadcast finalizes the store");
    mlp ref;
    CHECK(mlp_make(&ref, 50) == 0, "%s", nb_error());
    int64_t n = nb_params_numel(m.ps, NB_PARAM) + nb_params_numel(m.ps, NB_BUFFER);
    CHECK(memcmp(nb_params_values(m.ps), nb_params_values(ref.ps), (size_t)n * sizeof(float)) == 0,
          "broadcast: values are not rank 0's");
    /* Buffers can be averaged on demand. */
    m.stat->data[0] = (float)rank;
    CHECK(nb_dist_average_buffers(d, m.ps) == NB_OK, "%s", nb_error());
    float want = (float)(nb_dist_size(d) - 1) / 2.0f;
    CHECK(m.stat->data[0] == want, "average_buffers: %g, want %g", m.stat->data[0], want);
    nb_params_free(m.ps);
    nb_params_free(ref.ps);

    /* A store that differs on one rank is named on every rank. */
    nb_params *ps = nb_params_new();
    nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(3, rank == 1 ? 5 : 4));
    nb_status s = nb_dist_broadcast(d, ps);
    CHECK(s == NB_ERR_STATE, "a mismatched store gave %s", nb_status_str(s));
    CHECK(strstr(nb_error(), "dist_broadcast: rank 1's parameter store differs from rank 0's"),
          "message: %s", nb_error());
    nb_params_free(ps);
}

static void test_agree(nb_dist *d)
{
    CHECK(nb_dist_agree(d, NB_OK) == NB_OK, "all fine");
    nb_status local = NB_OK;
    if (rank == 1)
        local = nb_set_error(NB_ERR_IO, "idx_load: bad.idx: truncated at byte 12");
    nb_status s = nb_dist_agree(d, local);
    CHECK(s == NB_ERR_IO, "agree gave %s", nb_status_str(s));
    CHECK(strcmp(nb_error(), "rank 1: idx_load: bad.idx: truncated at byte 12") == 0,
          "message: %s", nb_error());
    double v[2] = {1.0, (double)rank};
    CHECK(nb_dist_sum(d, v, 2) == NB_OK, "%s", nb_error());
    CHECK(v[0] == nb_dist_size(d), "sum %g", v[0]);
    bool stop = rank == 0;
    CHECK(nb_dist_decide(d, &stop) == NB_OK && stop, "rank 0's decision everywhere");
}

int main(int argc, char **argv)
{
    nb_set_allocator(&(nb_allocator){count_alloc, count_free, NULL});
    nb_dist *d = nb_dist_init(&argc, &argv);
    if (!d) {
        fprintf(stderr, "test_dist: %s\n", nb_error());
        return 1;
    }
    rank = nb_dist_rank(d);
    int R = nb_dist_size(d);
    if (R < 2)
        fprintf(stderr, "test_dist: running with 1 rank (use mpirun -np 2)\n");
    nb_set_num_threads(1);
    test_broadcast(d);
    test_agree(d);

    enum { NP = D * H + H + H + 1 };
    float dist1[NP], dist2[NP], single[NP];
    train_distributed(d, dist1);
    train_distributed(d, dist2);
    CHECK(memcmp(dist1, dist2, sizeof dist1) == 0, "a second run differs from the first");
    train_single(R, single);
    double worst = 0;
    for (int i = 0; i < NP; i++) {
        double err = fabs((double)dist1[i] - single[i]);
        worst = fmax(worst, err / (2e-6 + 2e-5 * fabs(single[i])));
    }
    CHECK(worst <= 1.0, "%d ranks x batch %d differ from 1 process x batch %d: worst error is "
          "%.2f of the tolerance", R, B_LOCAL, R * B_LOCAL, worst);
    double moved = 0;
    mlp init;
    mlp_make(&init, 1000);
    for (int i = 0; i < NP; i++)
        moved = fmax(moved, fabs((double)single[i] - nb_params_values(init.ps)[i]));
    nb_params_free(init.ps);
    CHECK(moved > 1e-2, "training moved the weights by only %g", moved);

    /* Everything nabla allocated is freed (the nb_dist itself goes below). */
    nb_memory_release();
    CHECK(n_alloc == n_free + 1, "%ld allocations, %ld frees: a leak", n_alloc, n_free);

    int bad = failures, total = 0;
    MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, nb_dist_comm(d));
    if (rank == 0)
        printf("test_dist: %d ranks, %s (worst error %.3f of the tolerance)\n", R,
               total ? "FAILED" : "all checks passed", worst);
    nb_dist_free(d);
    nb_memory_release();
    return total ? 1 : 0;
}
