/*
 * nb_optim_step allocates nothing: not through nabla's allocator hook (counted with a
 * counting allocator), and not behind it either (libc, libgomp: this file replaces
 * malloc and friends for its process and counts every call, as tests/engine/test_heap.c
 * does; sanitizer builds replace malloc themselves, so there that part is skipped).
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

#include <stdlib.h>

#include "quadratic.h"

NB_TEST_SUITE(no_alloc);

static long n_alloc;

static void *count_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

enum { N_KINDS = 5 };

static nb_optimizer *make_kind(int k, nb_params *ps)
{
    switch (k) {
    case 0:
        return nb_sgd(ps, (nb_sgd_opts){.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.1f});
    case 1:
        return nb_adam(ps, (nb_adam_opts){.amsgrad = true, .weight_decay = 0.1f});
    case 2:
        return nb_adamw(ps, (nb_adam_opts){0});
    case 3:
        return nb_rmsprop(ps, (nb_rmsprop_opts){.momentum = 0.5f, .centered = true});
    default:
        return nb_adagrad(ps, (nb_adagrad_opts){.lr_decay = 0.1f});
    }
}

Test(no_alloc, training_steps_allocate_nothing_through_the_hook)
{
    for (int k = 0; k < N_KINDS; k++) {
        n_alloc = 0;
        nb_set_allocator(&(nb_allocator){count_alloc, count_free, NULL});
        quad q;
        quad_init(&q);
        nb_optimizer *opt = make_kind(k, q.ps);
        cr_assert_not_null(opt, "%s", nb_error());
        cr_assert_gt(n_alloc, 0, "creation allocates the state");
        quad_train(&q, opt, 2);
        long before = n_alloc;
        quad_train(&q, opt, 5);   /* forward, backward, step, zero grad, step reset */
        for (int i = 0; i < 5; i++)
            cr_assert_eq(nb_optim_step(opt), NB_OK);
        cr_assert_eq(n_alloc, before, "%s: steady steps made %ld allocations",
                     nb_optim_name(opt), n_alloc - before);
        nb_optim_free(opt);
        quad_free(&q);
        nb_memory_release();
        nb_set_allocator(NULL);
    }
}

#if HEAP_COUNTING
Test(no_alloc, steps_on_the_parallel_path_make_no_heap_allocation)
{
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(nb_set_num_threads(threads), NB_OK);
        for (int k = 0; k < N_KINDS; k++) {
            nb_params *ps = nb_params_new();
            cr_assert_not_null(nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(300, 200)));
            cr_assert_not_null(nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(5)));
            float *g = nb_params_grads(ps);
            for (int64_t i = 0; i < nb_params_numel(ps, NB_PARAM); i++)
                g[i] = nb_rng_uniform(3, (uint64_t)i) - 0.5f;
            nb_optimizer *opt = make_kind(k, ps);
            cr_assert_not_null(opt, "%s", nb_error());
            cr_assert_eq(nb_optim_step(opt), NB_OK);   /* the first region makes the team */
            long before = heap_calls;
            for (int i = 0; i < 5; i++)
                cr_assert_eq(nb_optim_step(opt), NB_OK);
            long calls = heap_calls - before;
            cr_assert_eq(calls, 0, "%s, %d thread(s): 5 steps made %ld heap allocations",
                         nb_optim_name(opt), threads, calls);
            nb_optim_free(opt);
            nb_params_free(ps);
        }
    }
    nb_set_num_threads(1);
}

Test(no_alloc, the_counter_counts)
{
    long before = heap_calls;
    void *volatile p = malloc(16);
    free(p);
    cr_assert_eq(heap_calls, before + 1);
}
#else
Test(no_alloc, heap_counting_skipped_under_sanitizers, .disabled = true) {}
#endif
