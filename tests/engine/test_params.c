/* The parameter store: names, kinds, arena layout, growth and finalize, zero-grad,
 * global-norm clipping, allocation failures, and a training loop over it. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(params);

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

/* Every entry views the arenas where the store says, parameters first, packed. */
static void assert_layout(const nb_params *ps)
{
    int64_t n = nb_params_count(ps), at[2] = {0, nb_params_numel(ps, NB_PARAM)};
    float *v = nb_params_values(ps), *g = nb_params_grads(ps);
    for (int64_t i = 0; i < n; i++) {
        nb_tensor *t = nb_params_at(ps, i);
        nb_param_kind k = nb_params_kind(ps, i);
        int64_t off = nb_params_offset(ps, i);
        cr_assert_eq(off, at[k], "%s: offset %lld, expected %lld", nb_params_name(ps, i),
                     (long long)off, (long long)at[k]);
        at[k] += t->size;
        cr_assert(t->size == 0 || t->data == v + off, "%s: data is not in the value arena",
                  nb_params_name(ps, i));
        cr_assert(t->persistent && t->storage == NB_STORAGE_VIEW);
        if (k == NB_PARAM) {
            cr_assert(t->requires_grad);
            cr_assert_not_null(t->grad);
            cr_assert(t->size == 0 || t->grad->data == g + off);
            cr_assert(nb_tensor_same_shape(t, t->grad));
        } else {
            cr_assert_not(t->requires_grad);
            cr_assert_null(t->grad);
        }
    }
    cr_assert_eq(at[NB_PARAM], nb_params_numel(ps, NB_PARAM));
    cr_assert_eq(at[NB_BUFFER], nb_params_numel(ps, NB_PARAM) + nb_params_numel(ps, NB_BUFFER));
}

Test(params, entries_are_named_found_and_laid_out_in_two_arenas)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(ps);
    cr_assert_eq(nb_params_count(ps), 0);
    cr_assert_null(nb_params_values(ps));
    cr_assert_eq(nb_params_grad_norm(ps), 0.0);
    nb_tensor *k = nb_params_add(ps, "dense_1.kernel", NB_PARAM, NB_SHAPE(3, 5));
    nb_tensor *m = nb_params_add(ps, "batch_norm.running_mean", NB_BUFFER, NB_SHAPE(5));
    nb_tensor *b = nb_params_add(ps, "dense_1.bias", NB_PARAM, NB_SHAPE(5));
    nb_tensor *s = nb_params_add(ps, "step", NB_BUFFER, 0, NULL);
    cr_assert(k && m && b && s, "%s", nb_error());
    cr_assert_eq(nb_params_count(ps), 4);
    cr_assert_eq(nb_params_numel(ps, NB_PARAM), 20);
    cr_assert_eq(nb_params_numel(ps, NB_BUFFER), 6);
    /* Insertion order for iteration; parameters before buffers in the arena. */
    const char *names[] = {"dense_1.kernel", "batch_norm.running_mean", "dense_1.bias", "step"};
    nb_tensor *ts[] = {k, m, b, s};
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(nb_params_name(ps, i), names[i]);
        cr_assert_eq(nb_params_at(ps, i), ts[i]);
        cr_assert_eq(nb_params_find(ps, names[i]), ts[i]);
        cr_assert_eq(nb_params_index(ps, names[i]), i);
    }
    cr_assert_eq(nb_params_offset(ps, 2), 15, "bias follows the kernel");
    cr_assert_eq(nb_params_offset(ps, 1), 20, "buffers follow every parameter");
    cr_assert_eq(nb_params_kind(ps, 1), NB_BUFFER);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->size, 1);
    assert_layout(ps);
    /* Entries start at zero. */
    for (int64_t i = 0; i < 26; i++)
        cr_assert_eq(nb_params_values(ps)[i], 0.0f);
    /* Not found is an answer, not an error. */
    nb_error_clear();
    cr_assert_null(nb_params_find(ps, "dense_2.kernel"));
    cr_assert_eq(nb_params_index(ps, "dense_2.kernel"), -1);
    cr_assert_eq(nb_error_code(), NB_OK);
    cr_assert_null(nb_params_at(ps, 4));
    cr_assert_null(nb_params_at(ps, -1));
    cr_assert_null(nb_params_name(ps, 9));
    cr_assert_eq(nb_params_offset(ps, 9), -1);
    /* Entries are views the store owns: freeing one is a no-op. */
    nb_tensor_free(k);
    cr_assert_eq(nb_params_find(ps, "dense_1.kernel"), k);
    nb_params_free(ps);
    nb_params_free(NULL);
}

Test(params, bad_names_kinds_and_shapes_are_errors_and_change_nothing)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "conv2d.kernel", NB_PARAM, NB_SHAPE(2, 2)));
    assert_error(nb_params_add(ps, "conv2d.kernel", NB_PARAM, NB_SHAPE(3)), NB_ERR_ARG,
                 "params_add: 'conv2d.kernel' is already in the store");
    assert_error(nb_params_add(ps, "conv2d.kernel", NB_BUFFER, NB_SHAPE(3)), NB_ERR_ARG,
                 "already in the store");
    assert_error(nb_params_add(ps, "", NB_PARAM, NB_SHAPE(3)), NB_ERR_ARG, "name is empty");
    assert_error(nb_params_add(ps, "has space", NB_PARAM, NB_SHAPE(3)), NB_ERR_ARG,
                 "name 'has space' holds character 0x20 at 3");
    assert_error(nb_params_add(ps, "quote\"", NB_PARAM, NB_SHAPE(3)), NB_ERR_ARG,
                 "character 0x22");
    char longname[NB_PARAM_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_error(nb_params_add(ps, longname, NB_PARAM, NB_SHAPE(3)), NB_ERR_ARG,
                 "is longer than 200 characters");
    longname[NB_PARAM_NAME_MAX] = '\0'; /* exactly the limit is fine */
    cr_assert_not_null(nb_params_add(ps, longname, NB_BUFFER, NB_SHAPE(1)), "%s", nb_error());
    assert_error(nb_params_add(ps, NULL, NB_PARAM, NB_SHAPE(3)), NB_ERR_NULL, "name is NULL");
    assert_error(nb_params_add(NULL, "x", NB_PARAM, NB_SHAPE(3)), NB_ERR_NULL, "store is NULL");
    assert_error(nb_params_add(ps, "x", (nb_param_kind)7, NB_SHAPE(3)), NB_ERR_ARG,
                 "kind 7 is neither NB_PARAM nor NB_BUFFER");
    assert_error(nb_params_add(ps, "x", NB_PARAM, NB_SHAPE(2, -1)), NB_ERR_SHAPE,
                 "negative dimension");
    assert_error(nb_params_add(ps, "x", NB_PARAM, 7, (int64_t[7]){1}), NB_ERR_SHAPE,
                 "rank 7");
    assert_error(nb_params_add(ps, "x", NB_PARAM, NB_SHAPE(INT64_C(1) << 30, 1 << 20)),
                 NB_ERR_SHAPE, "too large");
    cr_assert_eq(nb_params_count(ps), 2);
    cr_assert_eq(nb_params_numel(ps, NB_PARAM), 4);
    cr_assert_eq(nb_params_numel(ps, NB_BUFFER), 1);
    assert_layout(ps);
    /* A buffer cannot be made trainable: the store gives it no grad. */
    nb_tensor *buf = nb_params_at(ps, 1);
    cr_assert_eq(nb_tensor_set_requires_grad(buf, true), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "view without a grad"), "%s", nb_error());
    cr_assert_null(buf->grad);
    nb_params_free(ps);
}

Test(params, growth_repoints_every_entry_and_keeps_values)
{
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "a.w", NB_PARAM, NB_SHAPE(4));
    nb_tensor *r = nb_params_add(ps, "a.running", NB_BUFFER, NB_SHAPE(3));
    for (int i = 0; i < 4; i++) {
        w->data[i] = (float)(i + 1);
        w->grad->data[i] = (float)(10 + i);
    }
    for (int i = 0; i < 3; i++)
        r->data[i] = (float)(-1 - i);
    /* Many parameters after a buffer: the arenas grow and the buffer moves up each time. */
    nb_tensor *ts[40];
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer_%d.kernel", i);
        ts[i] = nb_params_add(ps, name, NB_PARAM, NB_SHAPE(17, i + 1));
        cr_assert_not_null(ts[i], "%s", nb_error());
        ts[i]->data[0] = (float)i;
        assert_layout(ps);
    }
    /* The pointers the store returned stay valid and see the same values. */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(w->data[i], (float)(i + 1));
        cr_assert_eq(w->grad->data[i], (float)(10 + i));
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(r->data[i], (float)(-1 - i));
    for (int i = 0; i < 40; i++)
        cr_assert_eq(ts[i]->data[0], (float)i);
    cr_assert_eq(nb_params_offset(ps, 1), nb_params_numel(ps, NB_PARAM));

    /* Finalize: same values, the layout fixed, adding refused. */
    cr_assert_not(nb_params_finalized(ps));
    cr_assert_eq(nb_params_finalize(ps), NB_OK, "%s", nb_error());
    cr_assert(nb_params_finalized(ps));
    assert_layout(ps);
    float *values = nb_params_values(ps);
    assert_error(nb_params_add(ps, "late.bias", NB_PARAM, NB_SHAPE(2)), NB_ERR_STATE,
                 "params_add: cannot add 'late.bias': the store's layout is fixed");
    cr_assert_eq(nb_params_finalize(ps), NB_OK, "finalizing twice is fine");
    cr_assert_eq(nb_params_values(ps), values, "the arenas never move after finalize");
    cr_assert_eq(r->data[2], -3.0f);
    cr_assert_eq(w->grad->data[3], 13.0f);
    nb_params_free(ps);
}

Test(params, zero_grad_norm_and_clipping)
{
    nb_params *ps = nb_params_new();
    nb_tensor *a = nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(3));
    nb_tensor *bn = nb_params_add(ps, "bn.var", NB_BUFFER, NB_SHAPE(2));
    nb_tensor *b = nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(2, 2));
    const float ga[3] = {3, -4, 0}, gb[4] = {1, 2, -2, 4};
    memcpy(a->grad->data, ga, sizeof ga);
    memcpy(b->grad->data, gb, sizeof gb);
    bn->data[0] = 5;
    double want = sqrt(9.0 + 16 + 1 + 4 + 4 + 16);
    cr_assert_float_eq(nb_params_grad_norm(ps), want, 1e-12);
    double norm = 0;
    /* Below the limit: unchanged. */
    cr_assert_eq(nb_params_clip_grad_norm(ps, 100.0, &norm), NB_OK);
    cr_assert_float_eq(norm, want, 1e-12);
    cr_assert_eq(a->grad->data[1], -4.0f);
    /* Above: scaled by max / (norm + 1e-6). */
    cr_assert_eq(nb_params_clip_grad_norm(ps, 1.0, &norm), NB_OK);
    double scale = 1.0 / (want + 1e-6);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(a->grad->data[i], ga[i] * scale, 1e-6);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(b->grad->data[i], gb[i] * scale, 1e-6);
    cr_assert_float_eq(nb_params_grad_norm(ps), 1.0, 1e-5);
    cr_assert_eq(bn->data[0], 5.0f, "buffers are not gradients");
    /* Errors. */
    cr_assert_eq(nb_params_clip_grad_norm(ps, 0.0, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "max_norm must be finite and positive, got 0"), "%s",
              nb_error());
    cr_assert_eq(nb_params_clip_grad_norm(ps, NAN, NULL), NB_ERR_ARG);
    cr_assert_eq(nb_params_clip_grad_norm(NULL, 1.0, NULL), NB_ERR_NULL);
    b->grad->data[2] = INFINITY;
    float before = a->grad->data[0];
    cr_assert_eq(nb_params_clip_grad_norm(ps, 1.0, &norm), NB_ERR_NUMERIC);
    cr_assert(isinf(norm));
    cr_assert_eq(a->grad->data[0], before, "left unchanged");
    /* Zero-grad clears the whole grad arena. */
    nb_params_zero_grad(ps);
    for (int64_t i = 0; i < nb_params_numel(ps, NB_PARAM); i++)
        cr_assert_eq(nb_params_grads(ps)[i], 0.0f);
    cr_assert_eq(nb_params_grad_norm(ps), 0.0);
    nb_params_free(ps);
}

Test(params, grad_norm_is_the_same_bits_for_1_and_2_threads)
{
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(300, 700));
    for (int64_t i = 0; i < w->size; i++)
        w->grad->data[i] = nb_rng_uniform(9, (uint64_t)i) - 0.5f;
    nb_set_num_threads(1);
    double n1 = nb_params_grad_norm(ps);
    nb_set_num_threads(2);
    double n2 = nb_params_grad_norm(ps);
    cr_assert(memcmp(&n1, &n2, sizeof n1) == 0, "%.17g vs %.17g", n1, n2);
    double ref = 0;
    for (int64_t i = 0; i < w->size; i++)
        ref += (double)w->grad->data[i] * w->grad->data[i];
    cr_assert_float_eq(n1, sqrt(ref), 1e-9 * sqrt(ref));
    nb_params_free(ps);
}

/* ---- training over a store ---- */

typedef struct net {
    nb_params *ps;
    nb_tensor *x, *y, *w1, *b1, *w2, *b2, *running;
} net;

static nb_status net_init(net *n, int64_t N, int64_t D, int64_t H)
{
    memset(n, 0, sizeof *n);
    n->x = nb_tensor_rand(NB_SHAPE(N, D), -1, 1, 1);
    n->y = nb_tensor_rand(NB_SHAPE(N, 1), 0, 1, 2);
    if (!(n->ps = nb_params_new()) || !n->x || !n->y)
        return nb_error_code();
    n->w1 = nb_params_add(n->ps, "dense.kernel", NB_PARAM, NB_SHAPE(D, H));
    n->b1 = nb_params_add(n->ps, "dense.bias", NB_PARAM, NB_SHAPE(H));
    n->running = nb_params_add(n->ps, "bn.running_mean", NB_BUFFER, NB_SHAPE(H));
    n->w2 = nb_params_add(n->ps, "dense_1.kernel", NB_PARAM, NB_SHAPE(H, 1));
    n->b2 = nb_params_add(n->ps, "dense_1.bias", NB_PARAM, NB_SHAPE(1));
    if (!n->w1 || !n->b1 || !n->running || !n->w2 || !n->b2)
        return nb_error_code();
    for (int64_t i = 0; i < n->w1->size; i++)
        n->w1->data[i] = 0.5f * (nb_rng_uniform(3, (uint64_t)i) - 0.5f);
    for (int64_t i = 0; i < n->w2->size; i++)
        n->w2->data[i] = nb_rng_uniform(4, (uint64_t)i) - 0.5f;
    return nb_params_finalize(n->ps);
}

static void net_free(net *n)
{
    nb_params_free(n->ps);
    nb_tensor_free(n->x);
    nb_tensor_free(n->y);
    memset(n, 0, sizeof *n);
}

/* Forward, backward, one SGD loop over the arena, zero-grad, reset. */
static nb_status net_step(net *n, float lr, float *loss_out)
{
    nb_tensor *h = nb_tanh(nb_add(nb_matmul(n->x, n->w1), n->b1));
    nb_tensor *p = nb_sigmoid(nb_add(nb_matmul(h, n->w2), n->b2));
    nb_tensor *loss = nb_bce(p, n->y, NB_REDUCE_MEAN);
    nb_status s = nb_backward(loss);
    if (s == NB_OK) {
        if (loss_out)
            *loss_out = loss->data[0];
        float *v = nb_params_values(n->ps);
        const float *g = nb_params_grads(n->ps);
        int64_t m = nb_params_numel(n->ps, NB_PARAM);
        NB_PARALLEL_FOR(i, m, {
            v[i] -= lr * g[i];
        });
        nb_params_zero_grad(n->ps);
    }
    nb_step_reset();
    return s;
}

Test(params, a_training_loop_over_a_store_learns_and_allocates_nothing)
{
    use_counting_allocator(-1);
    net n;
    cr_assert_eq(net_init(&n, 64, 8, 16), NB_OK, "%s", nb_error());
    float first = 0, last = 0;
    cr_assert_eq(net_step(&n, 0.5f, &first), NB_OK, "%s", nb_error());
    cr_assert_eq(net_step(&n, 0.5f, NULL), NB_OK, "%s", nb_error());
    long before = n_alloc;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(net_step(&n, 0.5f, &last), NB_OK, "%s", nb_error());
    cr_assert_eq(n_alloc, before, "50 steady steps made %ld allocations", n_alloc - before);
    cr_assert_lt(last, first, "loss %g -> %g", first, last);
    cr_assert_eq(n.running->data[0], 0.0f, "a buffer is not trained");
    net_free(&n);
    nb_memory_release();
    cr_assert_eq(n_alloc, n_free, "%ld allocations, %ld frees", n_alloc, n_free);
    nb_set_allocator(NULL);
}

Test(params, every_allocation_failure_is_an_error_not_a_leak)
{
    for (long k = 0;; k++) {
        use_counting_allocator(k);
        nb_error_clear();
        net n;
        nb_status s = net_init(&n, 8, 3, 5);
        for (int i = 0; i < 2 && s == NB_OK; i++)
            s = net_step(&n, 0.1f, NULL);
        if (s != NB_OK) {
            cr_assert_eq(s, NB_ERR_NOMEM, "failing allocation %ld gave %s: %s", k,
                         nb_status_str(s), nb_error());
            cr_assert(strstr(nb_error(), "out of memory"), "%s", nb_error());
        }
        net_free(&n);
        nb_step_reset();
        nb_memory_release();
        cr_assert_eq(n_alloc, n_free, "failing allocation %ld leaked %ld blocks", k,
                     n_alloc - n_free);
        if (n_failed == 0) {
            cr_assert_eq(s, NB_OK);
            cr_assert_gt(k, 8, "the run should need several allocations");
            break;
        }
    }
    nb_set_allocator(NULL);
}

Test(params, a_failed_add_leaves_the_store_as_it_was)
{
    nb_params *ps = nb_params_new();
    nb_tensor *a = nb_params_add(ps, "a", NB_PARAM, NB_SHAPE(5));
    nb_tensor *r = nb_params_add(ps, "r", NB_BUFFER, NB_SHAPE(5));
    a->data[4] = 7;
    r->data[4] = 8;
    for (long k = 0; k < 4; k++) {
        use_counting_allocator(k);
        nb_tensor *t = nb_params_add(ps, "big", NB_PARAM, NB_SHAPE(1000));
        nb_set_allocator(NULL);
        if (t)
            break;
        cr_assert_eq(nb_error_code(), NB_ERR_NOMEM);
        cr_assert_eq(nb_params_count(ps), 2);
        cr_assert_eq(a->data[4], 7.0f);
        cr_assert_eq(r->data[4], 8.0f);
        assert_layout(ps);
    }
    cr_assert_eq(nb_params_count(ps), 3);
    cr_assert_eq(r->data[4], 8.0f);
    assert_layout(ps);
    nb_params_free(ps);
}

Test(params, a_store_freed_before_backward_stays_until_the_step_ends)
{
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(3));
    nb_tensor_fill(w, 2.0f);
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(3));
    nb_tensor *loss = nb_sum(nb_mul(w, x));
    cr_assert_not_null(loss, "%s", nb_error());
    cr_assert(nb_tensor_in_graph(w));
    nb_params_free(ps);   /* the graph still uses w: released at the step's end */
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    cr_assert_eq(loss->data[0], 6.0f);
    nb_step_reset();       /* now it is gone (ASan would see a leak or a use after free) */
    nb_tensor_free(x);
}

Test(params, frozen_parameters_get_no_gradient)
{
    nb_params *ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(2));
    nb_tensor *v = nb_params_add(ps, "v", NB_PARAM, NB_SHAPE(2));
    nb_tensor_fill(w, 1.0f);
    nb_tensor_fill(v, 3.0f);
    cr_assert_eq(nb_tensor_set_requires_grad(w, false), NB_OK);
    cr_assert_eq(nb_backward(nb_sum(nb_mul(w, v))), NB_OK, "%s", nb_error());
    cr_assert_eq(w->grad->data[0], 0.0f, "frozen: no gradient");
    cr_assert_eq(v->grad->data[0], 1.0f);
    cr_assert_eq(nb_tensor_set_requires_grad(w, true), NB_OK, "thawing reuses its view");
    cr_assert_eq(w->grad->data, nb_params_grads(ps) + nb_params_offset(ps, 0));
    nb_params_free(ps);
}
