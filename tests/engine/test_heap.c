/*
 * No heap allocation at all in a steady training step: not through nabla's allocator
 * hook (test_memory.c counts that), and not behind it either (libc, libgomp). This test
 * replaces malloc and friends for its own process and counts every call.
 *
 * Sanitizer builds replace malloc themselves, so there the test is skipped.
 */
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTING 0
#else
#define HEAP_COUNTING 1
#endif

#if HEAP_COUNTING
/* glibc's own entry points, under the names it exports for wrappers like this one. */
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

#include "mlp.h"

NB_TEST_SUITE(heap);

#if HEAP_COUNTING
static void steady_steps_allocate_nothing(int threads)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    mlp m;
    /* Large enough for the parallel paths, with small ops (biases) in between. */
    cr_assert_eq(mlp_init(&m, 256, 64, 160, 5), NB_OK, "%s", nb_error());
    nb_status s = NB_OK;
    for (int i = 0; i < 2; i++)
        s |= mlp_step(&m, 0.1f, NULL);
    long before = heap_calls;
    for (int i = 0; i < 5; i++)
        s |= mlp_step(&m, 0.1f, NULL);
    long calls = heap_calls - before;
    cr_assert_eq(s, NB_OK, "%s", nb_error());
    cr_assert_eq(calls, 0, "%d thread(s): 5 steady steps made %ld heap allocations", threads,
                 calls);
    mlp_free(&m);
}

Test(heap, steady_training_steps_make_no_heap_allocation)
{
    steady_steps_allocate_nothing(1);
    steady_steps_allocate_nothing(2);
}

Test(heap, the_counter_counts)
{
    long before = heap_calls;
    void *volatile p = malloc(16);
    free(p);
    cr_assert_eq(heap_calls, before + 1);
}
#else
Test(heap, skipped_under_sanitizers, .disabled = true) {}
#endif
