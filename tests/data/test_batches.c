/* The batch iterator: every sample once per epoch, seeded orders, the last batch,
 * shards, no allocation while iterating, errors. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(batches);

/* x [n, 2, 3] with every element of row i equal to i + k / 8, and y [n] = i. */
static nb_dataset *counting_dataset(int64_t n)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(n, 2, 3));
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(n));
    cr_assert(x && y, "%s", nb_error());
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++)
            x->data[i * 6 + k] = (float)i + (float)k / 8.0f;
        y->data[i] = (float)i;
    }
    nb_dataset *ds = nb_dataset_new(x, y, true);
    cr_assert_not_null(ds, "%s", nb_error());
    return ds;
}

/* Walks one epoch; checks every batch's rows against its targets and indices, writes
 * the sample order into order[] and returns how many samples it saw. */
static int64_t walk_epoch(nb_batches *it, int64_t epoch, int64_t B, int64_t *order,
                          int64_t *n_batches)
{
    cr_assert_eq(nb_batches_start(it, epoch), NB_OK, "%s", nb_error());
    nb_tensor *x, *y;
    int64_t seen = 0, batches = 0;
    while (nb_batches_next(it, &x, &y)) {
        int64_t rows = x->shape[0];
        cr_assert(rows >= 1 && rows <= B, "batch of %lld rows", (long long)rows);
        cr_assert_eq(x->ndim, 3);
        cr_assert(x->shape[1] == 2 && x->shape[2] == 3);
        cr_assert(x->persistent && y->persistent);
        cr_assert_eq(y->ndim, 1);
        cr_assert_eq(y->shape[0], rows);
        int64_t n_idx;
        const int64_t *idx = nb_batches_indices(it, &n_idx);
        cr_assert_eq(n_idx, rows);
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = (int64_t)y->data[r];
            cr_assert_eq(i, idx[r], "targets follow the indices");
            for (int k = 0; k < 6; k++)
                cr_assert_eq(x->data[r * 6 + k], (float)i + (float)k / 8.0f,
                             "row %lld of the batch is sample %lld", (long long)r, (long long)i);
            order[seen++] = i;
        }
        batches++;
    }
    cr_assert_null(x, "x is cleared at the end of the epoch");
    cr_assert_null(y);
    cr_assert_eq(batches, nb_batches_count(it));
    if (n_batches)
        *n_batches = batches;
    return seen;
}

static void assert_permutation(const int64_t *order, int64_t n, int64_t N)
{
    cr_assert_eq(n, N);
    char *seen = calloc((size_t)N + 1, 1);
    for (int64_t i = 0; i < n; i++) {
        cr_assert(order[i] >= 0 && order[i] < N);
        cr_assert_not(seen[order[i]], "sample %lld seen twice", (long long)order[i]);
        seen[order[i]] = 1;
    }
    free(seen);
}

Test(batches, every_sample_exactly_once_per_epoch)
{
    const int64_t sizes[] = {1, 7, 10, 33, 100};
    const int64_t batch[] = {1, 3, 10, 32, 128};
    int64_t order[100];
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int shuffle = 0; shuffle < 2; shuffle++) {
                nb_dataset *ds = counting_dataset(sizes[a]);
                nb_batches *it = nb_batches_new(ds, (nb_batch_opts){
                    .batch_size = batch[b], .shuffle = shuffle, .seed = 5});
                cr_assert_not_null(it, "%s", nb_error());
                cr_assert_eq(nb_batches_count(it), (sizes[a] + batch[b] - 1) / batch[b]);
                for (int64_t e = 0; e < 3; e++) {
                    int64_t n = walk_epoch(it, e, batch[b], order, NULL);
                    assert_permutation(order, n, sizes[a]);
                    if (!shuffle)
                        for (int64_t i = 0; i < n; i++)
                            cr_assert_eq(order[i], i, "without shuffle the order is 0..N-1");
                }
                nb_batches_free(it);
                nb_dataset_free(ds);
            }
}

Test(batches, starts_at_epoch_zero_and_stays_done_until_restarted)
{
    nb_dataset *ds = counting_dataset(10);
    nb_batches *a = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4, .shuffle = true,
                                                       .seed = 9});
    nb_batches *b = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4, .shuffle = true,
                                                       .seed = 9});
    cr_assert(a && b, "%s", nb_error());
    nb_tensor *xa, *ya, *xb, *yb;
    cr_assert(nb_batches_next(a, &xa, &ya), "iterating without start gives epoch 0");
    cr_assert_eq(nb_batches_start(b, 0), NB_OK);
    cr_assert(nb_batches_next(b, &xb, &yb));
    cr_assert_eq(memcmp(ya->data, yb->data, 4 * sizeof(float)), 0);
    while (nb_batches_next(a, &xa, &ya)) {
    }
    cr_assert_not(nb_batches_next(a, &xa, &ya), "done stays done");
    cr_assert_not(nb_batches_next(a, &xa, NULL), "y may be NULL");
    nb_batches_free(a);
    nb_batches_free(b);
    nb_dataset_free(ds);
}

Test(batches, same_seed_same_order_different_epochs_and_seeds_differ)
{
    const int64_t N = 50;
    nb_dataset *ds = counting_dataset(N);
    int64_t o1[50], o2[50], o3[50], o4[50];
    nb_batches *it1 = nb_batches_new(ds, (nb_batch_opts){.batch_size = 8, .shuffle = true,
                                                         .seed = 42});
    nb_batches *it2 = nb_batches_new(ds, (nb_batch_opts){.batch_size = 5, .shuffle = true,
                                                         .seed = 42});
    nb_batches *it3 = nb_batches_new(ds, (nb_batch_opts){.batch_size = 8, .shuffle = true,
                                                         .seed = 43});
    cr_assert(it1 && it2 && it3, "%s", nb_error());
    walk_epoch(it1, 3, 8, o1, NULL);
    walk_epoch(it2, 3, 5, o2, NULL);
    cr_assert_eq(memcmp(o1, o2, sizeof o1), 0, "the order depends only on (seed, epoch)");
    walk_epoch(it1, 4, 8, o3, NULL);
    cr_assert_neq(memcmp(o1, o3, sizeof o1), 0, "epochs 3 and 4 have different orders");
    walk_epoch(it1, 3, 8, o3, NULL);
    cr_assert_eq(memcmp(o1, o3, sizeof o1), 0, "epoch 3 again is the same order");
    walk_epoch(it3, 3, 8, o4, NULL);
    cr_assert_neq(memcmp(o1, o4, sizeof o1), 0, "seeds 42 and 43 give different orders");
    int64_t identity = 0;
    for (int64_t i = 0; i < N; i++)
        identity += o1[i] == i;
    cr_assert_lt(identity, N / 2, "a shuffled order is not the identity");
    nb_batches_free(it1);
    nb_batches_free(it2);
    nb_batches_free(it3);
    nb_dataset_free(ds);
}

Test(batches, the_shuffle_is_spread_over_positions)
{
    /* Over many epochs, sample 0 lands in each of the 4 positions about equally often. */
    nb_dataset *ds = counting_dataset(4);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4, .shuffle = true,
                                                        .seed = 1});
    cr_assert_not_null(it, "%s", nb_error());
    int counts[4] = {0};
    int64_t order[4];
    for (int64_t e = 0; e < 4000; e++) {
        walk_epoch(it, e, 4, order, NULL);
        for (int p = 0; p < 4; p++)
            if (order[p] == 0)
                counts[p]++;
    }
    for (int p = 0; p < 4; p++)
        cr_assert(counts[p] > 850 && counts[p] < 1150, "position %d: %d of 4000", p, counts[p]);
    nb_batches_free(it);
    nb_dataset_free(ds);
}

Test(batches, last_partial_batch_kept_or_dropped)
{
    nb_dataset *ds = counting_dataset(10);
    int64_t order[10], n_batches;
    nb_batches *keep = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4});
    nb_batches *drop = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4, .drop_last = true,
                                                          .shuffle = true, .seed = 3});
    cr_assert(keep && drop, "%s", nb_error());
    cr_assert_eq(nb_batches_count(keep), 3);
    cr_assert_eq(nb_batches_count(drop), 2);
    cr_assert_eq(walk_epoch(keep, 0, 4, order, &n_batches), 10);
    cr_assert_eq(n_batches, 3);
    int64_t n = walk_epoch(drop, 1, 4, order, &n_batches);
    cr_assert_eq(n, 8);
    cr_assert_eq(n_batches, 2);

    /* The partial batch shares the full batch's buffer, with a smaller first dimension. */
    nb_tensor *x, *y, *full_x = NULL;
    nb_batches_start(keep, 0);
    int64_t sizes[3], k = 0;
    while (nb_batches_next(keep, &x, &y)) {
        if (!full_x)
            full_x = x;
        sizes[k++] = x->shape[0];
        cr_assert_eq(x->data, full_x->data);
    }
    cr_assert(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2);

    /* A batch larger than the data set: one partial batch, or none with drop_last. */
    nb_batches *big = nb_batches_new(ds, (nb_batch_opts){.batch_size = 64});
    nb_batches *big_drop = nb_batches_new(ds, (nb_batch_opts){.batch_size = 64,
                                                              .drop_last = true});
    cr_assert(big && big_drop, "%s", nb_error());
    cr_assert_eq(nb_batches_count(big), 1);
    cr_assert_eq(walk_epoch(big, 0, 64, order, NULL), 10);
    cr_assert_eq(nb_batches_count(big_drop), 0);
    cr_assert_eq(walk_epoch(big_drop, 0, 64, order, NULL), 0);
    nb_batches_free(big);
    nb_batches_free(big_drop);
    nb_batches_free(keep);
    nb_batches_free(drop);
    nb_dataset_free(ds);
}

Test(batches, default_batch_size_is_32)
{
    nb_dataset *ds = counting_dataset(70);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){0});
    cr_assert_not_null(it, "%s", nb_error());
    cr_assert_eq(nb_batches_count(it), 3);
    nb_tensor *x, *y;
    cr_assert(nb_batches_next(it, &x, &y));
    cr_assert_eq(x->shape[0], 32);
    nb_batches_free(it);
    nb_dataset_free(ds);
}

Test(batches, shards_are_disjoint_equal_and_cover_the_epoch)
{
    const int64_t N = 23;
    nb_dataset *ds = counting_dataset(N);
    for (int count = 1; count <= 4; count++) {
        int64_t all[23], got = 0, per = N / count;
        int64_t batches0 = -1;
        for (int s = 0; s < count; s++) {
            nb_batches *it = nb_batches_new(ds, (nb_batch_opts){
                .batch_size = 3, .shuffle = true, .seed = 11, .shard_index = s,
                .shard_count = count});
            cr_assert_not_null(it, "%s", nb_error());
            int64_t order[23], nb;
            int64_t n = walk_epoch(it, 2, 3, order, &nb);
            cr_assert_eq(n, per, "shard %d of %d walks %lld samples", s, count, (long long)per);
            if (batches0 < 0)
                batches0 = nb;
            cr_assert_eq(nb, batches0, "every shard has the same number of batches");
            memcpy(all + got, order, (size_t)n * sizeof *order);
            got += n;
            nb_batches_free(it);
        }
        /* Together: distinct samples, all of them but the remainder of N / count. */
        cr_assert_eq(got, per * count);
        char seen[23] = {0};
        for (int64_t i = 0; i < got; i++) {
            cr_assert_not(seen[all[i]], "sample %lld is in two shards", (long long)all[i]);
            seen[all[i]] = 1;
        }
        /* Shard s holds positions s, s + count, ... of the one-shard permutation, so the
         * shards' batch t together is batch t of one iterator with count times the
         * batch size. */
        nb_batches *whole = nb_batches_new(ds, (nb_batch_opts){.batch_size = 3,
                                                               .shuffle = true, .seed = 11});
        int64_t order[23];
        walk_epoch(whole, 2, 3, order, NULL);
        for (int64_t i = 0; i < got; i++) {
            int64_t s = i / per, j = i % per; /* `all` holds the shards one after another */
            cr_assert_eq(all[i], order[j * count + s], "shard %lld of %d, position %lld",
                         (long long)s, count, (long long)j);
        }
        nb_batches_free(whole);
    }
    nb_dataset_free(ds);
}

Test(batches, inputs_only_data_set)
{
    nb_tensor *x = nb_tensor_arange(0, 5, 1);
    nb_dataset *ds = nb_dataset_new(x, NULL, true);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 2});
    cr_assert(ds && it, "%s", nb_error());
    nb_tensor *bx, *by = (nb_tensor *)1;
    float sum = 0;
    while (nb_batches_next(it, &bx, &by)) {
        cr_assert_null(by, "no targets");
        for (int64_t i = 0; i < bx->size; i++)
            sum += bx->data[i];
    }
    cr_assert_eq(sum, 10.0f);
    nb_batches_free(it);
    nb_dataset_free(ds);
}

Test(batches, empty_data_set_has_no_batches)
{
    nb_dataset *ds = counting_dataset(0);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4, .shuffle = true});
    cr_assert_not_null(it, "%s", nb_error());
    cr_assert_eq(nb_batches_count(it), 0);
    nb_tensor *x, *y;
    cr_assert_not(nb_batches_next(it, &x, &y));
    int64_t n = 5;
    cr_assert_null(nb_batches_indices(it, &n));
    cr_assert_eq(n, 0);
    nb_batches_free(it);
    nb_dataset_free(ds);
}

Test(batches, slices_of_the_split_iterate_their_own_rows)
{
    nb_dataset *ds = counting_dataset(20);
    nb_dataset *train, *val;
    cr_assert_eq(nb_dataset_split(ds, 0.25, &train, &val), NB_OK, "%s", nb_error());
    nb_batches *it = nb_batches_new(val, (nb_batch_opts){.batch_size = 2, .shuffle = true,
                                                         .seed = 2});
    cr_assert_not_null(it, "%s", nb_error());
    nb_tensor *x, *y;
    int64_t n = 0;
    while (nb_batches_next(it, &x, &y))
        for (int64_t r = 0; r < y->size; r++, n++)
            cr_assert(y->data[r] >= 15 && y->data[r] < 20, "val holds samples 15..19");
    cr_assert_eq(n, 5);
    nb_batches_free(it);
    nb_dataset_free(train);
    nb_dataset_free(val);
    nb_dataset_free(ds);
}

/* ---- no allocation while iterating ---- */

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

Test(batches, iterating_allocates_nothing)
{
    nb_set_allocator(&(nb_allocator){count_alloc, count_free, NULL});
    /* Big enough for the gather to be split across threads (64 x 784 floats). */
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(1000, 1, 28, 28), 0, 1, 1);
    nb_tensor *y = nb_tensor_arange(0, 1000, 1);
    nb_dataset *ds = nb_dataset_new(x, y, true);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 64, .shuffle = true,
                                                        .seed = 7});
    cr_assert(x && y && ds && it, "%s", nb_error());
    long before = n_alloc;
    double check = 0;
    for (int64_t e = 0; e < 3; e++) {
        cr_assert_eq(nb_batches_start(it, e), NB_OK);
        nb_tensor *bx, *by;
        while (nb_batches_next(it, &bx, &by)) {
            int64_t n;
            const int64_t *idx = nb_batches_indices(it, &n);
            for (int64_t r = 0; r < n; r++) {
                cr_assert_eq(by->data[r], (float)idx[r]);
                cr_assert_eq(bx->data[r * 784 + 500], x->data[idx[r] * 784 + 500]);
            }
            check += by->data[0];
        }
    }
    cr_assert_eq(n_alloc, before, "iterating made %ld allocations", n_alloc - before);
    cr_assert_gt(check, 0);
    nb_batches_free(it);
    nb_dataset_free(ds);
    nb_set_allocator(NULL);
}

Test(batches, the_batch_is_the_same_for_one_and_two_threads)
{
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(300, 3, 100), -1, 1, 3);
    nb_dataset *ds = nb_dataset_new(x, NULL, true);
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 256, .shuffle = true,
                                                        .seed = 1});
    cr_assert(ds && it, "%s", nb_error());
    int threads = nb_num_threads();
    nb_tensor *b1, *b2;
    nb_set_num_threads(1);
    cr_assert(nb_batches_next(it, &b1, NULL));
    nb_tensor *copy = nb_tensor_clone(b1);
    nb_set_num_threads(2);
    nb_batches_start(it, 0);
    cr_assert(nb_batches_next(it, &b2, NULL));
    cr_assert_eq(memcmp(copy->data, b2->data, (size_t)b2->size * sizeof(float)), 0);
    nb_set_num_threads(threads);
    nb_tensor_free(copy);
    nb_batches_free(it);
    nb_dataset_free(ds);
}

Test(batches, errors)
{
    nb_dataset *ds = counting_dataset(10);
    assert_error(nb_batches_new(NULL, (nb_batch_opts){0}), NB_ERR_NULL,
                 "batches_new: data set is NULL");
    assert_error(nb_batches_new(ds, (nb_batch_opts){.batch_size = -1}), NB_ERR_ARG,
                 "batches_new: batch_size -1 is negative");
    assert_error(nb_batches_new(ds, (nb_batch_opts){.shard_index = 2, .shard_count = 2}),
                 NB_ERR_ARG, "batches_new: shard_index 2 of shard_count 2");
    assert_error(nb_batches_new(ds, (nb_batch_opts){.shard_index = -1, .shard_count = 2}),
                 NB_ERR_ARG, "shard_index -1 of shard_count 2");
    assert_error(nb_batches_new(ds, (nb_batch_opts){.shard_index = 1}), NB_ERR_ARG,
                 "shard_index 1 of shard_count 0");
    assert_error(nb_batches_new(ds, (nb_batch_opts){.shard_count = -3}), NB_ERR_ARG,
                 "shard_count -3");
    nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 4});
    cr_assert_not_null(it, "%s", nb_error());
    cr_assert_eq(nb_batches_start(it, -1), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "batches_start: epoch -1 is negative"), "%s", nb_error());
    cr_assert_eq(nb_batches_start(NULL, 0), NB_ERR_NULL);
    nb_tensor *x, *y;
    cr_assert_not(nb_batches_next(NULL, &x, &y));
    cr_assert(strstr(nb_error(), "batches_next: iterator is NULL"), "%s", nb_error());
    cr_assert_not(nb_batches_next(it, NULL, &y));
    cr_assert(strstr(nb_error(), "batches_next: x is NULL"), "%s", nb_error());
    cr_assert_eq(nb_batches_count(NULL), 0);
    nb_batches_free(it);
    nb_batches_free(NULL);
    nb_dataset_free(ds);
}

static long fail_at = -1, n_live;

static void *failing_alloc(size_t size, size_t align, void *ud)
{
    (void)ud;
    if (n_alloc++ == fail_at)
        return NULL;
    n_live++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void failing_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        n_live--;
    free(p);
}

Test(batches, allocation_failures_are_errors_not_leaks)
{
    nb_dataset *ds = counting_dataset(10);
    for (fail_at = 0;; fail_at++) {
        n_alloc = n_live = 0;
        nb_set_allocator(&(nb_allocator){failing_alloc, failing_free, NULL});
        nb_batches *it = nb_batches_new(ds, (nb_batch_opts){.batch_size = 3});
        nb_set_allocator(NULL);
        if (it) {
            cr_assert_gt(fail_at, 2, "nb_batches_new makes several allocations");
            nb_set_allocator(&(nb_allocator){failing_alloc, failing_free, NULL});
            nb_batches_free(it);
            nb_set_allocator(NULL);
            cr_assert_eq(n_live, 0);
            break;
        }
        cr_assert_eq(nb_error_code(), NB_ERR_NOMEM, "%s", nb_error());
        cr_assert_eq(n_live, 0, "failing allocation %ld leaked %ld blocks", fail_at, n_live);
    }
    nb_dataset_free(ds);
}
