/*
 * examples/fashion.h - what the Fashion-MNIST examples share: their command line,
 * loading the data set, a callback that times the epochs, checkpoints and resuming, and
 * the training curves. Each example is still one short file that reads top to bottom;
 * copy this header along with it.
 *
 * Flags (every example): --epochs N, --batch-size N, --threads N, --seed N,
 * --data DIR, --checkpoint PATH (save after every epoch; "" for none), --resume (load
 * the checkpoint and go on from its epoch), --plot PATH (SVG training curves; "" for
 * none), --quiet (no progress bar), --max-steps N (stop each epoch after N batches,
 * report the time an epoch would take, and test on the first 1000 images), --dist
 * (data-parallel over an MPI job, when nabla is built with MPI), --help.
 */
#ifndef NABLA_EXAMPLES_FASHION_H
#define NABLA_EXAMPLES_FASHION_H

#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nabla.h"
#ifdef NABLA_WITH_MPI
#include "nabla/dist.h"
#endif

#define FASHION_DATA "/usr/share/datasets/fashion-mnist"

typedef struct fashion_args {
    const char *prog;
    int64_t epochs, batch_size, max_steps;
    int threads;
    uint64_t seed;
    const char *data, *checkpoint, *plot;
    bool resume, quiet;
    /* --dist: data-parallel over the MPI job (mpirun -np N); rank 0 prints and saves. */
    bool dist, root;
    const nb_fit_hooks *hooks;   /* for nb_fit's .hooks: NULL without --dist */
#ifdef NABLA_WITH_MPI
    nb_dist *d;
    nb_fit_hooks hooks_;
#endif
} fashion_args;

static inline void fashion_usage(const fashion_args *a, FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n"
            "  --epochs N        epochs to train (default %lld)\n"
            "  --batch-size N    batch size (default %lld)\n"
            "  --threads N       threads (default: OMP_NUM_THREADS, or all cores)\n"
            "  --seed N          seed of the weights and the shuffling (default %llu)\n"
            "  --data DIR        the Fashion-MNIST .gz files (default %s)\n"
            "  --checkpoint PATH saved after every epoch (default %s; \"\" for none)\n"
            "  --resume          load --checkpoint and train on from its epoch\n"
            "  --plot PATH       training curves as SVG (default %s; \"\" for none)\n"
            "  --quiet           no progress bar or per-epoch lines\n"
            "  --max-steps N     stop each epoch after N batches and test on 1000 images\n"
            "                    (for timing)\n"
            "  --dist            train data-parallel over the MPI job: mpirun -np 2 %s --dist\n"
            "                    (--batch-size is per process)\n"
            "  --help            this text\n",
            a->prog, (long long)a->epochs, (long long)a->batch_size,
            (unsigned long long)a->seed, a->data, a->checkpoint[0] ? a->checkpoint : "none",
            a->plot[0] ? a->plot : "none", a->prog);
}

/* Parses argv over the defaults in *a. Returns 0 to run, 1 after --help, -1 on a bad
 * flag (with a message). */
static inline int fashion_parse(fashion_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            fashion_usage(a, stdout);
            return 1;
        } else if (strcmp(f, "--resume") == 0) {
            a->resume = true;
        } else if (strcmp(f, "--quiet") == 0) {
            a->quiet = true;
        } else if (strcmp(f, "--dist") == 0) {
            a->dist = true;
        } else if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", a->prog, f);
            return -1;
        } else if (strcmp(f, "--data") == 0) {
            a->data = v, i++;
        } else if (strcmp(f, "--checkpoint") == 0) {
            a->checkpoint = v, i++;
        } else if (strcmp(f, "--plot") == 0) {
            a->plot = v, i++;
        } else {
            long long n = strtoll(v, &end, 10);
            if (!*v || *end || n < (strcmp(f, "--seed") == 0 ? 0 : 1)) {
                fprintf(stderr, "%s: %s wants a positive integer, got '%s'\n", a->prog, f, v);
                return -1;
            }
            if (strcmp(f, "--epochs") == 0)
                a->epochs = n;
            else if (strcmp(f, "--batch-size") == 0)
                a->batch_size = n;
            else if (strcmp(f, "--threads") == 0)
                a->threads = (int)n;
            else if (strcmp(f, "--seed") == 0)
                a->seed = (uint64_t)n;
            else if (strcmp(f, "--max-steps") == 0)
                a->max_steps = n;
            else {
                fprintf(stderr, "%s: unknown flag %s (see --help)\n", a->prog, f);
                return -1;
            }
            i++;
        }
    }
    if (a->resume && !a->checkpoint[0]) {
        fprintf(stderr, "%s: --resume needs a --checkpoint path\n", a->prog);
        return -1;
    }
    if (a->threads > 0 && nb_set_num_threads(a->threads) != NB_OK) {
        fprintf(stderr, "%s: %s\n", a->prog, nb_error());
        return -1;
    }
    a->root = true;
    if (a->dist) {
#ifdef NABLA_WITH_MPI
        if (!(a->d = nb_dist_init(&argc, &argv)) || nb_dist_fit_hooks(a->d, &a->hooks_) != NB_OK) {
            fprintf(stderr, "%s: %s\n", a->prog, nb_error());
            return -1;
        }
        a->hooks = &a->hooks_;
        a->root = nb_dist_is_root(a->d);
        if (a->root)
            printf("data-parallel over %d processes, batch %lld each\n", nb_dist_size(a->d),
                   (long long)a->batch_size);
#else
        fprintf(stderr, "%s: --dist needs nabla built with MPI (libopenmpi-dev)\n", a->prog);
        return -1;
#endif
    }
    /* Other ranks stay quiet: rank 0 speaks for the job. */
    if (!a->root)
        a->quiet = true;
    return 0;
}

/* Ends the MPI job of --dist (a no-op otherwise). */
static inline void fashion_end(fashion_args *a)
{
#ifdef NABLA_WITH_MPI
    nb_dist_free(a->d);
    a->d = NULL;
#else
    (void)a;
#endif
}

/* The training and test sets: images [N, 1, 28, 28] in [0, 1] and labels [N]. */
static inline int fashion_load(const fashion_args *a, nb_dataset **train, nb_dataset **test)
{
    char img[512], lab[512];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", a->data);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", a->data);
    *train = nb_idx_load_pair(img, lab, NULL);
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", a->data);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", a->data);
    *test = *train ? nb_idx_load_pair(img, lab, NULL) : NULL;
    if (!*train || !*test) {
        fprintf(stderr, "%s: %s\n(install Debian's dataset-fashion-mnist, or pass --data)\n",
                a->prog, nb_error());
        return -1;
    }
    /* A timing run (--max-steps) tests on the first 1000 images only. */
    if (a->max_steps) {
        nb_dataset *part = nb_dataset_slice(*test, 0, 1000), *small = NULL;
        nb_tensor *x = part ? nb_tensor_clone(nb_dataset_inputs(part)) : NULL;
        nb_tensor *y = part ? nb_tensor_clone(nb_dataset_targets(part)) : NULL;
        if (x && y)
            small = nb_dataset_new(x, y, true);
        nb_dataset_free(part);
        if (!small) {
            nb_tensor_free(x);
            nb_tensor_free(y);
            fprintf(stderr, "%s: %s\n", a->prog, nb_error());
            return -1;
        }
        nb_dataset_free(*test);
        *test = small;
    }
    return 0;
}

/* x and xt standardised with one mean and one standard deviation taken over all of x's
 * pixels (as torchvision's Normalize((0.2860,), (0.3530,)) does for this set): both are
 * seen as one column of pixels through views, so nb_standardize takes scalar statistics
 * rather than one per pixel. */
static inline int fashion_standardize(nb_tensor *x, nb_tensor *xt)
{
    nb_tensor a, b;
    float mean, sd;
    if (nb_tensor_view_init(&a, NB_SHAPE(x->size, 1), x->data) != NB_OK ||
        nb_tensor_view_init(&b, NB_SHAPE(xt->size, 1), xt->data) != NB_OK ||
        nb_standardize(&a, &mean, &sd) != NB_OK || nb_standardize_with(&b, &mean, &sd) != NB_OK)
        return -1; /* the message is in nb_error() */
    return 0;
}

static inline double fashion_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A callback timing the training part of every epoch (its batches, not the validation)
 * and stopping an epoch after max_steps batches when asked. */
typedef struct fashion_timer {
    nb_callback cb;
    int64_t max_steps, steps_per_epoch, batches;
    double t0, t_last, seconds;  /* seconds: the training time of the epochs so far */
    int64_t epochs, measured_batches;
} fashion_timer;

static inline nb_status timer_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)m;
    ((fashion_timer *)cb)->steps_per_epoch = info->steps;
    return NB_OK;
}

static inline nb_status timer_epoch_begin(nb_callback *cb, nb_model *m, int64_t epoch)
{
    (void)m;
    (void)epoch;
    fashion_timer *t = (fashion_timer *)cb;
    t->batches = 0;
    t->t0 = t->t_last = fashion_now();
    return NB_OK;
}

static inline nb_status timer_batch_end(nb_callback *cb, nb_model *m, int64_t batch,
                                 const nb_logs *logs)
{
    (void)batch;
    (void)logs;
    fashion_timer *t = (fashion_timer *)cb;
    t->t_last = fashion_now();
    if (++t->batches == t->max_steps)
        nb_model_set_stop_training(m, true);
    return NB_OK;
}

static inline nb_status timer_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch,
                                 const nb_logs *logs)
{
    (void)m;
    (void)epoch;
    (void)logs;
    fashion_timer *t = (fashion_timer *)cb;
    t->seconds += t->t_last - t->t0;
    t->measured_batches += t->batches;
    t->epochs++;
    return NB_OK;
}

static inline fashion_timer fashion_timer_make(int64_t max_steps)
{
    return (fashion_timer){.cb = {.on_train_begin = timer_begin,
                                  .on_epoch_begin = timer_epoch_begin,
                                  .on_batch_end = timer_batch_end,
                                  .on_epoch_end = timer_epoch_end},
                           .max_steps = max_steps};
}

/* Seconds a whole epoch takes (extrapolated from the batches timed). */
static inline double fashion_seconds_per_epoch(const fashion_timer *t)
{
    if (t->measured_batches == 0)
        return 0.0;
    return t->seconds / (double)t->measured_batches * (double)t->steps_per_epoch;
}

/* With --resume: loads the checkpoint into the built model. */
static inline int fashion_resume(const fashion_args *a, nb_model *m)
{
    if (!a->resume)
        return 0;
    if (nb_model_load(m, a->checkpoint) != NB_OK) {
        fprintf(stderr, "%s: %s\n", a->prog, nb_error());
        return -1;
    }
    if (a->root)
        printf("resumed from %s at epoch %lld\n", a->checkpoint,
           (long long)nb_model_position(m).epoch);
    return 0;
}

/* Writes the curves (if asked) and says where the checkpoint and the curves are. */
static inline int fashion_report_files(const fashion_args *a, const nb_history *h)
{
    if (!a->root)
        return 0;
    if (a->plot[0]) {
        char csv[512];   /* the values beside the picture: x.svg -> x.csv */
        size_t n = strlen(a->plot);
        if (n > 4 && strcmp(a->plot + n - 4, ".svg") == 0)
            snprintf(csv, sizeof csv, "%.*s.csv", (int)(n - 4), a->plot);
        else
            snprintf(csv, sizeof csv, "%s.csv", a->plot);
        if (nb_history_write_svg(h, a->plot, &(nb_plot_opts){.title = a->prog}) != NB_OK ||
            nb_history_write_csv(h, csv) != NB_OK) {
            fprintf(stderr, "%s: %s\n", a->prog, nb_error());
            return -1;
        }
        printf("training curves: %s (values: %s)\n", a->plot, csv);
    }
    if (a->checkpoint[0])
        printf("checkpoint: %s (resume with --resume)\n", a->checkpoint);
    return 0;
}

#endif /* NABLA_EXAMPLES_FASHION_H */
