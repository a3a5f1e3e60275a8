/* Step memory, the allocator hook, zero allocations per step, allocation failures. */
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

NB_TEST_SUITE(memory);

/* ---- a counting allocator that can fail the n-th allocation ---- */

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

Test(memory, a_training_step_allocates_nothing_after_the_first)
{
    use_counting_allocator(-1);
    mlp m;
    cr_assert_eq(mlp_init(&m, 64, 16, 32, 1), NB_OK, "%s", nb_error());
    cr_assert_eq(mlp_step(&m, 0.1f, NULL), NB_OK, "%s", nb_error());
    cr_assert_eq(mlp_step(&m, 0.1f, NULL), NB_OK, "%s", nb_error());
    long before = n_alloc;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(mlp_step(&m, 0.1f, NULL), NB_OK, "%s", nb_error());
    cr_assert_eq(n_alloc, before, "steps 3-7 made %ld heap allocations", n_alloc - before);
    mlp_free(&m);
    nb_memory_release();
    cr_assert_eq(n_alloc, n_free, "%ld allocations, %ld frees", n_alloc, n_free);
    nb_set_allocator(NULL);
}

Test(memory, every_allocation_failure_is_an_error_not_a_crash_or_leak)
{
    /* Fail allocation k for k = 0, 1, ... until a whole run needs fewer than k. */
    for (long k = 0;; k++) {
        use_counting_allocator(k);
        nb_error_clear();
        mlp m;
        nb_status s = mlp_init(&m, 8, 4, 6, 2);
        for (int i = 0; i < 3 && s == NB_OK; i++)
            s = mlp_step(&m, 0.1f, NULL);
        if (s != NB_OK) {
            cr_assert_eq(s, NB_ERR_NOMEM, "failing allocation %ld gave %s: %s", k,
                         nb_status_str(s), nb_error());
            cr_assert(strstr(nb_error(), "out of memory"), "%s", nb_error());
        }
        mlp_free(&m);
        nb_step_reset();
        nb_memory_release();
        cr_assert_eq(n_alloc, n_free, "failing allocation %ld leaked %ld blocks", k,
                     n_alloc - n_free);
        if (n_failed == 0) {
            cr_assert_eq(s, NB_OK);
            cr_assert_gt(k, 5, "the run should need several allocations");
            break;
        }
    }
    nb_set_allocator(NULL);
}

Test(memory, step_reset_keeps_one_chunk_of_the_peak_size)
{
    nb_memory_release();
    cr_assert_eq(nb_step_reserved(), 0);
    void *a = nb_step_alloc(100);
    cr_assert_not_null(a);
    cr_assert_eq((uintptr_t)a % 64, 0);
    cr_assert_eq(nb_step_used(), 128);
    /* Larger than the first chunk: a second one. */
    void *b = nb_step_alloc(3 << 20);
    cr_assert_not_null(b);
    size_t reserved = nb_step_reserved();
    nb_step_reset();
    /* A step starts at a rotating offset of at most 448 bytes into the one chunk. */
    cr_assert_leq(nb_step_used(), 448);
    cr_assert_geq(nb_step_reserved(), reserved);
    cr_assert_leq(nb_step_reserved(), reserved + 448);
    use_counting_allocator(-1);
    cr_assert_not_null(nb_step_alloc(100));
    cr_assert_not_null(nb_step_alloc(3 << 20));
    cr_assert_eq(n_alloc, 0, "the consolidated chunk holds the same step again");
    nb_memory_release();
    cr_assert_eq(nb_step_reserved(), 0);
    nb_set_allocator(NULL);
}

Test(memory, mark_and_rewind)
{
    nb_tensor *keep = nb_tensor_step(NB_SHAPE(10));
    nb_tensor_fill(keep, 3.0f);
    nb_step_mark mark = nb_step_mark_get();
    size_t used = nb_step_used();
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(nb_step_alloc(10000));
    cr_assert_gt(nb_step_used(), used);
    cr_assert_eq(nb_step_rewind(mark), NB_OK, "%s", nb_error());
    cr_assert_eq(nb_step_used(), used);
    cr_assert_eq(keep->data[9], 3.0f);
    /* A mark that lies ahead of the position now (taken before an earlier rewind). */
    nb_step_mark ahead = nb_step_mark_get();
    cr_assert_not_null(nb_step_alloc(100));
    nb_step_mark later = nb_step_mark_get();
    cr_assert_eq(nb_step_rewind(ahead), NB_OK);
    cr_assert_eq(nb_step_rewind(later), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "step_rewind: the mark lies ahead"), "%s", nb_error());
    /* Marks from before a reset, or made up, are refused and change nothing. */
    nb_step_reset();
    cr_assert_not_null(nb_step_alloc(100));
    size_t now = nb_step_used();
    cr_assert_eq(nb_step_rewind(mark), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "step_rewind: the mark is from step"), "%s", nb_error());
    cr_assert_eq(nb_step_rewind((nb_step_mark){0}), NB_ERR_STATE);
    cr_assert_eq(nb_step_used(), now);
}

Test(memory, persistent_tensors_outlive_the_step)
{
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor_set_requires_grad(w, true);
    nb_tensor *y = nb_sigmoid(w);
    nb_tensor *kept = nb_tensor_clone(y);
    nb_step_reset();
    cr_assert_float_eq(kept->data[0], 1 / (1 + exp(-1.0)), 1e-6);
    cr_assert_eq(w->data[3], 1.0f);
    nb_tensor_free(y); /* a step tensor: freeing it is a no-op */
    nb_tensor_free(kept);
    nb_tensor_free(w);
}

Test(memory, huge_request_fails_cleanly)
{
    cr_assert_null(nb_step_alloc(SIZE_MAX - 10));
    cr_assert_eq(nb_error_code(), NB_ERR_NOMEM);
    nb_error_clear();
    cr_assert_null(nb_tensor_zeros(NB_SHAPE(1 << 30, 1 << 28)), "2^58 floats");
    cr_assert_neq(nb_error_code(), NB_OK);
}

/* Size arithmetic that wrapped: nb_alloc's alignment round-up returned a 1-byte block,
 * and nb_step_alloc's header + capacity made a 64-byte chunk that every later step
 * tensor landed in. Both are NB_ERR_NOMEM now, and step memory works after them. */
Test(memory, sizes_near_size_max_do_not_wrap)
{
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 10, SIZE_MAX - 63, SIZE_MAX - 64,
                           SIZE_MAX - 4096, SIZE_MAX / 2 + 1};
    const size_t aligns[] = {0, 1, 64, 4096};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        for (size_t a = 0; a < 4; a++) {
            nb_error_clear();
            cr_assert_null(nb_alloc(huge[i], aligns[a]), "nb_alloc(SIZE_MAX - %zu, %zu)",
                           SIZE_MAX - huge[i], aligns[a]);
            cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "%s", nb_error());
        }
        nb_error_clear();
        cr_assert_null(nb_step_alloc(huge[i]), "nb_step_alloc(SIZE_MAX - %zu)",
                       SIZE_MAX - huge[i]);
        cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "%s", nb_error());
        cr_assert(strstr(nb_error(), "out of memory"), "%s", nb_error());
    }
    /* Later step tensors are whole and apart: fill each, then check each. */
    nb_tensor *t[4];
    for (int k = 0; k < 4; k++) {
        t[k] = nb_tensor_step(NB_SHAPE(1000 + k));
        cr_assert_not_null(t[k], "%s", nb_error());
        nb_tensor_fill(t[k], (float)k);
    }
    for (int k = 0; k < 4; k++)
        for (int64_t i = 0; i < t[k]->size; i++)
            cr_assert_eq(t[k]->data[i], (float)k, "tensor %d [%lld]", k, (long long)i);
    cr_assert_geq(nb_step_used(), 4 * 1000 * sizeof(float));
    cr_assert_geq(nb_step_reserved(), nb_step_used());
    cr_assert_lt(nb_step_reserved(), (size_t)1 << 30, "no chunk from the failed request");
    /* An op still works, and a huge nb_alloc after it too. */
    nb_tensor *s = nb_add(t[1], t[1]);
    cr_assert(s && s->data[1000] == 2.0f, "%s", nb_error());
    cr_assert_null(nb_alloc(SIZE_MAX - 10, 64));
}
