/* fit and memory: steady training steps inside fit (across epochs, with validation and
 * a progress log) allocate nothing through nabla's allocator; a failed allocation
 * anywhere in making, compiling and fitting a model is an error, never a crash or a
 * leak. */
#include "fit_common.h"

NB_TEST_SUITE(fit_memory);

static long n_alloc, n_free, n_failed, fail_at = -1;

static void *count_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (n_alloc + n_failed == fail_at) {
        n_failed++;
        return NULL;
    }
    n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        n_free++;
    free(p);
}

static void use_counting_allocator(long fail)
{
    n_alloc = n_free = n_failed = 0;
    fail_at = fail;
    nb_set_allocator(&(nb_allocator){count_alloc, count_free, NULL});
}

/* Counts allocations from the first batch of epoch 1 to the last batch of the last
 * epoch: every step in between, and the epoch ends and validations between them. */
typedef struct window {
    nb_callback cb;
    long first, last;
    int64_t epochs, steps, epoch;
} window;

static nb_status win_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)m;
    window *w = (window *)cb;
    w->epochs = info->epochs;
    w->steps = info->steps;
    return NB_OK;
}

static nb_status win_epoch(nb_callback *cb, nb_model *m, int64_t epoch)
{
    (void)m;
    ((window *)cb)->epoch = epoch;
    return NB_OK;
}

static nb_status win_batch(nb_callback *cb, nb_model *m, int64_t batch, const nb_logs *logs)
{
    (void)m;
    (void)logs;
    window *w = (window *)cb;
    if (w->epoch == 1 && batch == 0)
        w->first = n_alloc;
    if (w->epoch == w->epochs - 1 && batch == w->steps - 1)
        w->last = n_alloc;
    return NB_OK;
}

Test(fit_memory, steady_steps_inside_fit_allocate_nothing)
{
    use_counting_allocator(-1);
    nb_tensor *x, *y;
    circle_data(200, 1, &x, &y);
    nb_model *m = nb_sequential(nb_dense(32, .activation = NB_RELU), nb_batch_normalization(),
                                nb_dropout_layer(0.2f), nb_dense(1, .activation = NB_SIGMOID));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                            .metrics = {NB_METRIC_ACCURACY, NB_METRIC_MSE}), NB_OK);
    window w = {.cb = {.on_train_begin = win_begin, .on_epoch_begin = win_epoch,
                       .on_batch_end = win_batch}};
    nb_callback *es = nb_early_stopping(.monitor = "val_loss", .patience = 100,
                                        .restore_best_weights = true);
    FILE *log = tmpfile();
    /* 150 training rows in batches of 16: the last batch of each epoch is smaller. */
    nb_history *h = nb_fit(m, x, y, .epochs = 4, .batch_size = 16, .validation_split = 0.25,
                           .verbose = 2, .out = log, .clip_norm = 1.0, .callbacks = {&w.cb, es});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_gt(w.last, 0);
    cr_assert_eq(w.last, w.first, "%ld allocations in 3 epochs of steady steps",
                 w.last - w.first);
    nb_history_free(h);
    nb_callback_free(es);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    fclose(log);
    nb_memory_release();
    cr_assert_eq(n_alloc, n_free, "%ld allocations, %ld frees", n_alloc, n_free);
    nb_set_allocator(NULL);
}

/* Makes, compiles and fits a small model; returns the first error. */
static nb_status make_and_fit(nb_tensor *x, nb_tensor *y)
{
    nb_model *m = nb_sequential(nb_input(2), nb_dense(4, .activation = NB_TANH),
                                nb_batch_normalization(), nb_dense(1, .activation = NB_SIGMOID));
    nb_status s = m ? nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                                 .metrics = {NB_METRIC_ACCURACY})
                    : nb_error_code();
    nb_callback *es = s == NB_OK ? nb_early_stopping(.monitor = "loss",
                                                     .restore_best_weights = true) : NULL;
    if (s == NB_OK && !es)
        s = nb_error_code();
    if (s == NB_OK) {
        nb_history *h = nb_fit(m, x, y, .epochs = 2, .batch_size = 8, .validation_split = 0.25,
                               .callbacks = {es});
        s = h ? NB_OK : nb_error_code();
        nb_history_free(h);
    }
    if (s == NB_OK) {
        nb_tensor *p = nb_model_predict(m, x, NULL);
        s = p ? NB_OK : nb_error_code();
        nb_tensor_free(p);
    }
    nb_callback_free(es);
    nb_model_free(m);
    return s;
}

Test(fit_memory, every_allocation_failure_is_an_error_not_a_crash_or_leak)
{
    nb_tensor *x, *y;
    circle_data(32, 2, &x, &y);
    for (long k = 0;; k++) {
        use_counting_allocator(k);
        nb_error_clear();
        nb_status s = make_and_fit(x, y);
        nb_step_reset();
        nb_memory_release();
        if (s != NB_OK) {
            cr_assert_eq(s, NB_ERR_NOMEM, "failing allocation %ld gave %s: %s", k,
                         nb_status_str(s), nb_error());
        }
        cr_assert_eq(n_alloc, n_free, "failing allocation %ld leaked %ld blocks", k,
                     n_alloc - n_free);
        if (n_failed == 0) {
            cr_assert_eq(s, NB_OK);
            cr_assert_gt(k, 20, "the run should need many allocations");
            break;
        }
    }
    nb_set_allocator(NULL);
    nb_tensor_free(x);
    nb_tensor_free(y);
}
