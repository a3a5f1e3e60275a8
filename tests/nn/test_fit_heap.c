/*
 * No heap allocation at all in the steady training steps of fit, with 1 and 2 threads:
 * not through nabla's allocator (test_fit_memory.c counts that) and not behind it
 * (libc, libgomp, stdio). This test replaces malloc and friends for its own process, as
 * tests/engine/test_heap.c does. Sanitizer builds replace malloc themselves, so there
 * it is skipped.
 */
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTING 0
#else
#define HEAP_COUNTING 1
#endif

#if HEAP_COUNTING
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile long heap_calls;

void *malloc(size_t n)
{
    heap_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t m, size_t n)
{
    heap_calls++;
    return __libc_calloc(m, n);
}
void *realloc(void *p, size_t n)
{
    heap_calls++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n)
{
    heap_calls++;
    return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n)
{
    heap_calls++;
    return __libc_memalign(align, n);
}
int posix_memalign(void **p, size_t align, size_t n)
{
    heap_calls++;
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12 /* ENOMEM */;
}
void free(void *p) { __libc_free(p); }
#endif

#include "fit_common.h"

NB_TEST_SUITE(fit_heap);

#if HEAP_COUNTING
/* heap_calls at the first batch of epoch 1 and at the last batch of the last epoch. */
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
        w->first = heap_calls;
    if (w->epoch == w->epochs - 1 && batch == w->steps - 1)
        w->last = heap_calls;
    return NB_OK;
}

static void steady_fit_allocates_nothing(int threads)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    nb_tensor *x, *y;
    circle_data(600, 1, &x, &y);
    /* Wide enough for the parallel paths (batch 100 x 400 units), small ops in between. */
    nb_model *m = nb_sequential(nb_dense(400, .activation = NB_RELU), nb_batch_normalization(),
                                nb_dropout_layer(0.2f), nb_dense(1, .activation = NB_SIGMOID));
    cr_assert_eq(nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                            .metrics = {NB_METRIC_ACCURACY}), NB_OK);
    window w = {.cb = {.on_train_begin = win_begin, .on_epoch_begin = win_epoch,
                       .on_batch_end = win_batch}};
    FILE *log = tmpfile();
    nb_history *h = nb_fit(m, x, y, .epochs = 4, .batch_size = 100, .validation_split = 0.2,
                           .verbose = 2, .out = log, .callbacks = {&w.cb});
    cr_assert_not_null(h, "%s", nb_error());
    cr_assert_gt(w.last, 0);
    cr_assert_eq(w.last, w.first, "%d thread(s): %ld heap allocations in steady steps",
                 threads, w.last - w.first);
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    fclose(log);
}

Test(fit_heap, steady_steps_inside_fit_make_no_heap_allocation)
{
    int threads = nb_num_threads();
    steady_fit_allocates_nothing(1);
    steady_fit_allocates_nothing(2);
    nb_set_num_threads(threads);
}
#else
Test(fit_heap, skipped_under_sanitizers, .disabled = true) {}
#endif
