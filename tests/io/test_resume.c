/*
 * Exact resume: a small network written from ops, with its weights (and a buffer) in a
 * parameter store and a hand-written momentum SGD whose state lives in a second store,
 * trained on mini-batches shuffled each epoch from a seed (nb_rng_u64). Training k
 * epochs, saving (model + state + position), loading into fresh stores in a new process
 * and training on to n epochs gives the same bits as n epochs without a stop.
 */
#include "io_common.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

NB_TEST_SUITE(resume);

#define N 53   /* samples: 6 batches of 8 and one of 5 */
#define D 6
#define H 9
#define B 8
#define LR 0.2f
#define MU 0.9f

/* The data set: x [N, D] and labels from a fixed rule. */
typedef struct data {
    float x[N * D], y[N];
} data;

static void make_data(data *d)
{
    for (int i = 0; i < N * D; i++)
        d->x[i] = nb_rng_uniform(7, (uint64_t)i) * 2.0f - 1.0f;
    for (int i = 0; i < N; i++) {
        float s = d->x[i * D] - 0.5f * d->x[i * D + 1] + d->x[i * D + 2] * d->x[i * D + 3];
        d->y[i] = s > 0.0f ? 1.0f : 0.0f;
    }
}

/* Everything a training run holds. The model store has parameters and a buffer (a
 * running mean of the loss, updated every step, so buffers must round-trip too); the
 * state store has one momentum buffer per parameter, in the same order, and "step". */
typedef struct run {
    nb_params *model, *state;
    nb_tensor *w1, *b1, *w2, *b2, *loss_avg, *step;
    nb_tensor *xb[2], *yb[2];  /* batches of B and of the N % B left over */
    int64_t order[N];
} run;

static void run_init(run *r, uint64_t init_seed)
{
    memset(r, 0, sizeof *r);
    r->model = nb_params_new();
    r->w1 = nb_params_add(r->model, "dense_1.kernel", NB_PARAM, NB_SHAPE(D, H));
    r->b1 = nb_params_add(r->model, "dense_1.bias", NB_PARAM, NB_SHAPE(H));
    r->loss_avg = nb_params_add(r->model, "loss_avg", NB_BUFFER, NB_SHAPE(1));
    r->w2 = nb_params_add(r->model, "dense_2.kernel", NB_PARAM, NB_SHAPE(H, 1));
    r->b2 = nb_params_add(r->model, "dense_2.bias", NB_PARAM, NB_SHAPE(1));
    cr_assert_eq(nb_params_finalize(r->model), NB_OK, "%s", nb_error());
    float *v = nb_params_values(r->model);
    for (int64_t i = 0; i < nb_params_numel(r->model, NB_PARAM); i++)
        v[i] = (nb_rng_uniform(init_seed, (uint64_t)i) * 2.0f - 1.0f) * 0.7f;

    r->state = nb_params_new();
    for (int64_t i = 0; i < nb_params_count(r->model); i++) {
        if (nb_params_kind(r->model, i) != NB_PARAM)
            continue;
        const nb_tensor *p = nb_params_at(r->model, i);
        char name[256];
        snprintf(name, sizeof name, "%s.momentum_buffer", nb_params_name(r->model, i));
        cr_assert_not_null(nb_params_add(r->state, name, NB_BUFFER, p->ndim, p->shape));
    }
    r->step = nb_params_add(r->state, "step", NB_BUFFER, NB_SHAPE(1));
    cr_assert_eq(nb_params_finalize(r->state), NB_OK, "%s", nb_error());
    r->xb[0] = nb_tensor_zeros(NB_SHAPE(B, D));
    r->yb[0] = nb_tensor_zeros(NB_SHAPE(B, 1));
    r->xb[1] = nb_tensor_zeros(NB_SHAPE(N % B, D));
    r->yb[1] = nb_tensor_zeros(NB_SHAPE(N % B, 1));
}

static void run_free(run *r)
{
    nb_params_free(r->model);
    nb_params_free(r->state);
    for (int k = 0; k < 2; k++) {
        nb_tensor_free(r->xb[k]);
        nb_tensor_free(r->yb[k]);
    }
}

/* The order of epoch e: a Fisher-Yates shuffle drawn from (seed, e). */
static void shuffle(int64_t *order, uint64_t seed, uint64_t epoch)
{
    for (int64_t i = 0; i < N; i++)
        order[i] = i;
    for (int64_t i = N - 1; i > 0; i--) {
        int64_t j = (int64_t)(nb_rng_u64(seed, epoch * N + (uint64_t)i) % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Momentum SGD (torch.optim.SGD, dampening 0): buf = mu buf + g (buf = g at the first
 * step), p -= lr buf. The state's buffers line up with the parameters' arena. */
static void sgd_step(run *r)
{
    float *p = nb_params_values(r->model), *buf = nb_params_values(r->state);
    const float *g = nb_params_grads(r->model);
    bool first = r->step->data[0] == 0.0f;
    for (int64_t i = 0; i < nb_params_numel(r->model, NB_PARAM); i++) {
        buf[i] = first ? g[i] : MU * buf[i] + g[i];
        p[i] -= LR * buf[i];
    }
    r->step->data[0] += 1.0f;
}

static void train(run *r, const data *d, uint64_t seed, uint64_t from, uint64_t to)
{
    for (uint64_t e = from; e < to; e++) {
        shuffle(r->order, seed, e);
        for (int64_t at = 0; at < N; at += B) {
            int k = at + B <= N ? 0 : 1;
            int64_t nb = k ? N % B : B;
            for (int64_t i = 0; i < nb; i++) {
                int64_t s = r->order[at + i];
                memcpy(r->xb[k]->data + i * D, d->x + s * D, D * sizeof(float));
                r->yb[k]->data[i] = d->y[s];
            }
            nb_tensor *h = nb_tanh(nb_add(nb_matmul(r->xb[k], r->w1), r->b1));
            nb_tensor *p = nb_sigmoid(nb_add(nb_matmul(h, r->w2), r->b2));
            nb_tensor *loss = nb_bce(p, r->yb[k], NB_REDUCE_MEAN);
            cr_assert_not_null(loss, "%s", nb_error());
            cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
            sgd_step(r);
            r->loss_avg->data[0] = 0.9f * r->loss_avg->data[0] + 0.1f * loss->data[0];
            nb_params_zero_grad(r->model);
            nb_step_reset();
        }
    }
}

static nb_status save(const char *path, run *r, nb_meta *meta)
{
    nb_checkpoint_part parts[] = {{NULL, r->model}, {"optim.", r->state}};
    return nb_checkpoint_save(path, parts, 2, meta);
}

static nb_status load(const char *path, run *r, nb_meta **meta)
{
    nb_checkpoint_part parts[] = {{NULL, r->model}, {"optim.", r->state}};
    return nb_checkpoint_load(path, parts, 2, NULL, meta);
}

static bool same(const nb_params *a, const nb_params *b) { return same_values(a, b); }

#define K_EPOCHS 3
#define N_EPOCHS 7
#define SHUFFLE_SEED 1234

/* In a fresh process: fresh stores with other initial values, load, read the position,
 * train to N_EPOCHS, save the result. Exit status 0 on success. */
static int resume_in_child(const char *ckpt, const char *out, const data *d)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    nb_set_num_threads(1);
    run r;
    run_init(&r, 999);
    nb_meta *meta = NULL;
    uint64_t epoch, seed, step;
    if (load(ckpt, &r, &meta) != NB_OK || nb_meta_get_u64(meta, "epoch", &epoch) != NB_OK ||
        nb_meta_get_u64(meta, "shuffle_seed", &seed) != NB_OK ||
        nb_meta_get_u64(meta, "step", &step) != NB_OK) {
        fprintf(stderr, "child: %s\n", nb_error());
        return 1;
    }
    if (step != (uint64_t)r.step->data[0]) {
        fprintf(stderr, "child: step %llu in the metadata, %g in the state\n",
                (unsigned long long)step, r.step->data[0]);
        return 1;
    }
    train(&r, d, seed, epoch, N_EPOCHS);
    nb_meta_set_u64(meta, "epoch", N_EPOCHS);
    nb_status s = save(out, &r, meta);
    if (s != NB_OK)
        fprintf(stderr, "child: %s\n", nb_error());
    nb_meta_free(meta);
    run_free(&r);
    return s == NB_OK ? 0 : 1;
}

Test(resume, training_resumed_in_a_new_process_is_bit_identical)
{
    char dir[64], ckpt[512], out[512];
    tmpdir_make(dir);
    path_in(dir, "epoch3.safetensors", ckpt);
    path_in(dir, "resumed.safetensors", out);
    data d;
    make_data(&d);

    /* k epochs, then save with the position. */
    run a;
    run_init(&a, 42);
    train(&a, &d, SHUFFLE_SEED, 0, K_EPOCHS);
    nb_meta *meta = nb_meta_new();
    nb_meta_set_u64(meta, "epoch", K_EPOCHS);
    nb_meta_set_u64(meta, "step", (uint64_t)a.step->data[0]);
    nb_meta_set_u64(meta, "shuffle_seed", SHUFFLE_SEED);
    nb_meta_set(meta, "user.note", "resume test");
    cr_assert_eq(save(ckpt, &a, meta), NB_OK, "%s", nb_error());

    /* Resume in a child process. */
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(resume_in_child(ckpt, out, &d));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the resumed run failed");

    /* n epochs without a stop, from the same start. */
    run c;
    run_init(&c, 42);
    train(&c, &d, SHUFFLE_SEED, 0, N_EPOCHS);
    cr_assert_eq(c.step->data[0], (float)(N_EPOCHS * ((N + B - 1) / B)));

    run got;
    run_init(&got, 5);
    nb_meta *got_meta = NULL;
    cr_assert_eq(load(out, &got, &got_meta), NB_OK, "%s", nb_error());
    cr_assert(same(c.model, got.model), "resumed weights differ from the uninterrupted run's");
    cr_assert(same(c.state, got.state), "resumed optimizer state differs");
    cr_assert_str_eq(nb_meta_get(got_meta, "user.note"), "resume test");
    cr_assert_str_eq(nb_meta_get(got_meta, "epoch"), "7");
    /* The run really moved on from the checkpoint. */
    cr_assert(!same(a.model, c.model));

    nb_meta_free(meta);
    nb_meta_free(got_meta);
    run_free(&a);
    run_free(&c);
    run_free(&got);
    tmpdir_remove(dir);
}

/* The same in one process with fresh objects -- and the control: leaving out the
 * optimizer's state, or the shuffling position, changes the result, so the comparison
 * above can see a resume that is not exact. */
Test(resume, each_part_of_the_checkpoint_is_needed)
{
    char dir[64], ckpt[512];
    tmpdir_make(dir);
    path_in(dir, "ckpt.safetensors", ckpt);
    data d;
    make_data(&d);
    run a, c;
    run_init(&a, 42);
    run_init(&c, 42);
    train(&a, &d, SHUFFLE_SEED, 0, K_EPOCHS);
    cr_assert_eq(save(ckpt, &a, NULL), NB_OK, "%s", nb_error());
    train(&c, &d, SHUFFLE_SEED, 0, N_EPOCHS);

    run full, no_state, wrong_epoch;
    run_init(&full, 1);
    run_init(&no_state, 2);
    run_init(&wrong_epoch, 3);
    cr_assert_eq(load(ckpt, &full, NULL), NB_OK, "%s", nb_error());
    cr_assert_eq(load(ckpt, &wrong_epoch, NULL), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_checkpoint_load(ckpt, &(nb_checkpoint_part){NULL, no_state.model}, 1,
                                    &(nb_checkpoint_load_opts){.allow_extra = true}, NULL),
                 NB_OK, "%s", nb_error());
    train(&full, &d, SHUFFLE_SEED, K_EPOCHS, N_EPOCHS);
    train(&no_state, &d, SHUFFLE_SEED, K_EPOCHS, N_EPOCHS);
    train(&wrong_epoch, &d, SHUFFLE_SEED, 0, N_EPOCHS - K_EPOCHS);
    cr_assert(same(c.model, full.model), "an in-process resume differs");
    cr_assert(!same(c.model, no_state.model), "the momentum buffers made no difference");
    cr_assert(!same(c.model, wrong_epoch.model), "the shuffling position made no difference");
    run *all[] = {&a, &c, &full, &no_state, &wrong_epoch};
    for (int i = 0; i < 5; i++)
        run_free(all[i]);
    tmpdir_remove(dir);
}
