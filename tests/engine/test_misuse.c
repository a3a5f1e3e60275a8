/* Misuse that is caught: step tensors from an earlier step, rewinds, freeing what a
 * graph uses, switching allocators, stale error messages; optional and state inputs. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(misuse);

Test(misuse, a_step_tensor_from_an_earlier_step_is_an_error)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor *old = nb_mul_scalar(x, 2.0f);
    cr_assert_not_null(old);
    nb_step_reset();
    assert_error(nb_add(old, x), NB_ERR_STATE, "add: input 0 belongs to an earlier step");
    assert_error(nb_add(x, old), NB_ERR_STATE, "add: input 1 belongs to an earlier step");
    cr_assert_eq(nb_backward(old), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "backward: the loss belongs to an earlier step"), "%s",
              nb_error());
    /* Still caught after the new step has reused the memory: steps start at rotating
     * offsets, so the old header does not line up with a new tensor. */
    for (int k = 0; k < 3; k++) {
        nb_tensor *a = nb_mul_scalar(x, 3.0f), *b = nb_add(a, x);
        cr_assert(a && b, "%s", nb_error());
        assert_error(nb_relu(old), NB_ERR_STATE, "relu: input 0 belongs to an earlier step");
        nb_step_reset();
    }
    nb_tensor_free(x);
}

Test(misuse, a_tensor_rewound_away_is_an_error)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(4));
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *t = nb_exp(x);
    cr_assert_not_null(t);
    cr_assert_eq(nb_step_rewind(mark), NB_OK);
    assert_error(nb_neg(t), NB_ERR_STATE, "neg: input 0 belongs to an earlier step");
    nb_tensor_free(x);
}

Test(misuse, rewinding_to_a_mark_in_a_loop_does_not_grow_step_memory)
{
    /* Each iteration records nodes and rewinds: the node count goes back with the mark,
     * so backward's work list (sized by it) does not grow. */
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(8));
    nb_tensor_set_requires_grad(w, true);
    nb_step_mark mark = nb_step_mark_get();
    size_t reserved = 0;
    for (int i = 0; i < 20000; i++) {
        nb_tensor *loss = nb_sum(nb_mul(nb_sigmoid(w), w));
        cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
        cr_assert_eq(nb_step_rewind(mark), NB_OK, "%s", nb_error());
        if (i == 10)
            reserved = nb_step_reserved();
    }
    cr_assert_eq(nb_step_reserved(), reserved, "reserved step memory grew from %zu to %zu",
                 reserved, nb_step_reserved());
    nb_tensor_free(w);
}

Test(misuse, freeing_a_parameter_before_backward_keeps_it_until_the_step_ends)
{
    nb_tensor *w = nb_tensor_full(NB_SHAPE(3), 2.0f);
    nb_tensor *v = nb_tensor_full(NB_SHAPE(3), 5.0f);
    nb_tensor_set_requires_grad(w, true);
    nb_tensor_set_requires_grad(v, true);
    nb_tensor *loss = nb_sum(nb_mul(w, v));
    cr_assert(nb_tensor_in_graph(w));
    nb_tensor_free(w); /* backward still needs w's values and grad */
    cr_assert(w->free_pending);
    cr_assert_eq(nb_backward(loss), NB_OK, "%s", nb_error());
    for (int i = 0; i < 3; i++)
        cr_assert_eq(v->grad->data[i], 2.0f, "dv = w: w was still readable");
    nb_step_reset(); /* w is released here (ASan checks it is, and only once) */
    cr_assert_not(nb_tensor_in_graph(v), "a new step has no graph yet");
    nb_tensor_free(v);
    /* A tensor no graph uses is released at once. */
    nb_tensor *u = nb_tensor_ones(NB_SHAPE(2));
    cr_assert_not(nb_tensor_in_graph(u));
    nb_tensor_free(u);
}

/* ---- allocators switched while memory is cached ---- */

static long a_alloc, a_free, b_alloc, b_free;

static void *alloc_a(size_t size, size_t align, void *ud)
{
    (void)ud;
    a_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}
static void free_a(void *p, void *ud)
{
    (void)ud;
    a_free++;
    free(p);
}
static void *alloc_b(size_t size, size_t align, void *ud)
{
    (void)ud;
    b_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}
static void free_b(void *p, void *ud)
{
    (void)ud;
    b_free++;
    free(p);
}

Test(misuse, memory_goes_back_through_the_allocator_that_gave_it)
{
    nb_memory_release();
    nb_set_allocator(&(nb_allocator){alloc_a, free_a, NULL});
    nb_tensor *t = nb_tensor_ones(NB_SHAPE(100));
    cr_assert_not_null(nb_mul_scalar(t, 2.0f)); /* step memory from A */
    long from_a = a_alloc;
    cr_assert_geq(from_a, 2);
    nb_set_allocator(&(nb_allocator){alloc_b, free_b, NULL});
    nb_tensor *u = nb_tensor_ones(NB_SHAPE(3)); /* from B */
    nb_tensor_free(t);
    nb_memory_release();
    cr_assert_eq(a_free, from_a, "A's blocks go back to A");
    cr_assert_eq(b_free, 0, "B received none of A's blocks");
    nb_tensor_free(u);
    cr_assert_eq(b_free, b_alloc);
    nb_set_allocator(NULL);
}

Test(misuse, allocation_requests_that_would_wrap_fail)
{
    cr_assert_null(nb_alloc(SIZE_MAX - 10, 64));
    cr_assert_eq(nb_error_code(), NB_ERR_NOMEM);
    cr_assert_null(nb_alloc(16, 3));
    cr_assert_eq(nb_error_code(), NB_ERR_ARG);
    cr_assert_null(nb_alloc(16, 8192));
    cr_assert_null(nb_step_alloc(SIZE_MAX - 63));
    cr_assert_eq(nb_error_code(), NB_ERR_NOMEM);
    /* Later step tensors are unaffected. */
    nb_tensor *t = nb_tensor_step(NB_SHAPE(1000));
    cr_assert_not_null(t);
    memset(t->data, 0, 1000 * sizeof(float));
    void *p = nb_alloc(100, 4096);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 4096, 0);
    nb_free(p);
}

/* ---- error state ---- */

Test(misuse, a_message_from_an_earlier_step_is_not_blamed_for_a_new_null)
{
    nb_tensor *a = nb_tensor_ones(NB_SHAPE(2)), *b = nb_tensor_ones(NB_SHAPE(3));
    cr_assert_null(nb_add(a, b));
    cr_assert(strstr(nb_error(), "add: shapes do not broadcast"));
    /* Within the step the cause travels with the NULL. */
    assert_error(nb_relu(NULL), NB_ERR_SHAPE, "add: shapes do not broadcast");
    /* A successful call does not clear it (like errno)... */
    cr_assert_not_null(nb_relu(a));
    cr_assert_eq(nb_error_code(), NB_ERR_SHAPE);
    /* ...but after the step ends, a NULL is reported for what it is. */
    nb_step_reset();
    assert_error(nb_relu(NULL), NB_ERR_NULL, "relu: input 0 is NULL");
    cr_assert_eq(nb_backward(NULL), NB_ERR_NULL, "the NULL's own message is recent now");
    nb_step_reset();
    cr_assert_eq(nb_backward(NULL), NB_ERR_NULL);
    cr_assert(strstr(nb_error(), "backward: loss is NULL"), "%s", nb_error());
    nb_tensor_free(a);
    nb_tensor_free(b);
}

/* ---- optional inputs ---- */

/* y = x + (b if given): an op with an optional second input. */
static nb_status bias_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    if (nb_op_has_input(ctx, 1) && !nb_tensor_same_shape(nb_op_input(ctx, 0), nb_op_input(ctx, 1)))
        return nb_op_error(ctx, NB_ERR_SHAPE, "b must have x's shape");
    return nb_op_shape_same(ctx, ndim, shape);
}

static nb_status bias_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = x->data[i] + (b ? b->data[i] : 0.0f);
    return NB_OK;
}

static nb_status bias_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    for (int i = 0; i < 2; i++) {
        nb_tensor *g = nb_op_grad(ctx, i);
        if (g)
            for (int64_t k = 0; k < dy->size; k++)
                g->data[k] += dy->data[k];
    }
    return NB_OK;
}

static const nb_op bias_op = {
    .name = "maybe_bias",
    .n_inputs = 2,
    .inputs = {[1] = NB_INPUT_OPTIONAL},
    .input_names = {"x", "b"},
    .shape = bias_shape,
    .forward = bias_forward,
    .backward = bias_backward,
};

static nb_tensor *maybe_bias(nb_tensor *x, nb_tensor *b)
{
    nb_tensor *in[2] = {x, b};
    return nb_op_apply(&bias_op, in, 2, NULL);
}

Test(misuse, optional_inputs_tell_absent_from_failed)
{
    nb_tensor *x = nb_tensor_full(NB_SHAPE(3), 1.0f), *b = nb_tensor_full(NB_SHAPE(3), 2.0f);
    nb_tensor *bad = nb_tensor_ones(NB_SHAPE(4));
    nb_tensor_set_requires_grad(x, true);
    nb_tensor_set_requires_grad(b, true);
    nb_tensor *y = maybe_bias(x, NB_NONE);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->data[0], 1.0f);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    cr_assert_eq(x->grad->data[0], 1.0f);
    y = maybe_bias(x, b);
    cr_assert_eq(y->data[0], 3.0f);
    /* A bias that failed is a failure, not "no bias". */
    assert_error(maybe_bias(x, nb_add(b, bad)), NB_ERR_SHAPE, "add: shapes do not broadcast");
    /* NB_NONE where an input is required. */
    assert_error(maybe_bias(NB_NONE, b), NB_ERR_ARG, "maybe_bias: input 0 (x) is required, got "
                 "NB_NONE");
    nb_tensor_free(x);
    nb_tensor_free(b);
    nb_tensor_free(bad);
    nb_tensor_free(NB_NONE); /* harmless */
}

Test(misuse, conv2d_bias_from_a_failed_op_is_not_dropped)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(1, 1, 4, 4)), *w = nb_tensor_ones(NB_SHAPE(2, 1, 3, 3));
    nb_tensor *b = nb_tensor_ones(NB_SHAPE(2)), *bad = nb_tensor_ones(NB_SHAPE(5));
    cr_assert_not_null(nb_conv2d(x, w, NB_NONE, NULL), "%s", nb_error());
    assert_error(nb_conv2d(x, w, nb_add(b, bad), NULL), NB_ERR_SHAPE,
                 "add: shapes do not broadcast: [2] and [5]");
    nb_step_reset();
    assert_error(nb_conv2d(x, w, NULL, NULL), NB_ERR_NULL, "conv2d: input 2 (bias) is NULL");
    nb_tensor *y = nb_conv2d(x, w, b, NULL);
    cr_assert_not_null(y, "%s", nb_error());
    cr_assert_eq(y->data[0], 10.0f);
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(b);
    nb_tensor_free(bad);
}

Test(misuse, pooling_without_options_is_named_after_the_op)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(1, 1, 4, 4));
    assert_error(nb_max_pool2d(x, NULL), NB_ERR_ARG, "max_pool2d: opts is NULL");
    assert_error(nb_avg_pool2d(x, NULL), NB_ERR_ARG, "avg_pool2d: opts is NULL");
    /* A NULL input keeps its own cause even without options. */
    nb_tensor *bad = nb_tensor_ones(NB_SHAPE(3));
    assert_error(nb_max_pool2d(nb_add(x, bad), NULL), NB_ERR_SHAPE, "add: shapes do not");
    nb_tensor_free(x);
    nb_tensor_free(bad);
}

/* ---- state inputs ---- */

/* y = x * s; s += 1 in forward (a counter), s gets no gradient. */
static nb_status count_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    nb_tensor *s = nb_op_input(ctx, 1);
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = x->data[i] * s->data[0];
    s->data[0] += 1.0f;
    return NB_OK;
}

static int state_grad_seen;

static nb_status count_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    state_grad_seen += nb_op_grad(ctx, 1) != NULL;
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *s0 = nb_op_saved(ctx); /* the state before forward updated it */
    if (dx)
        for (int64_t i = 0; i < dy->size; i++)
            dx->data[i] += dy->data[i] * s0[0];
    return NB_OK;
}

static nb_status count_forward_saving(nb_op_ctx *ctx, nb_tensor *y)
{
    float s0 = nb_op_input(ctx, 1)->data[0];
    if (nb_op_needs_grad(ctx)) {
        float *saved = nb_op_save(ctx, sizeof(float));
        if (!saved)
            return NB_ERR_NOMEM;
        saved[0] = s0;
    }
    return count_forward(ctx, y);
}

static const nb_op counter_op = {
    .name = "counter",
    .n_inputs = 2,
    .inputs = {[1] = NB_INPUT_STATE},
    .shape = nb_op_shape_same,
    .forward = count_forward_saving,
    .backward = count_backward,
};

static nb_tensor *counter(nb_tensor *x, nb_tensor *s)
{
    nb_tensor *in[2] = {x, s};
    return nb_op_apply(&counter_op, in, 2, NULL);
}

static nb_tensor *f_counter(nb_tensor *const *in, void *ud)
{
    return counter(in[0], ud);
}

Test(misuse, state_inputs_get_no_gradient_and_gradcheck_restores_them)
{
    nb_tensor *x = nb_tensor_full(NB_SHAPE(3), 2.0f), *s = nb_tensor_scalar(1.0f);
    /* A state input that requires grad neither makes the output require grad... */
    nb_tensor_set_requires_grad(s, true);
    nb_tensor *y = counter(x, s);
    cr_assert_not_null(y);
    cr_assert_not(y->requires_grad, "only state inputs require grad");
    cr_assert_eq(s->data[0], 2.0f, "forward updated the state");
    /* ...nor receives a gradient. */
    nb_tensor_set_requires_grad(x, true);
    y = counter(x, s);
    cr_assert(y->requires_grad);
    cr_assert_eq(nb_backward(nb_sum(y)), NB_OK, "%s", nb_error());
    cr_assert_eq(state_grad_seen, 0);
    cr_assert_eq(s->grad->data[0], 0.0f);
    cr_assert_eq(x->grad->data[0], 2.0f, "dy/dx = the state before the update");
    cr_assert_eq(s->data[0], 3.0f);
    /* gradcheck runs f many times; the state is put back after each run. */
    float before = s->data[0];
    assert_gradcheck(f_counter, &x, 1, s, NULL, "counter");
    cr_assert_eq(s->data[0], before, "gradcheck left the state at %g, was %g", s->data[0],
                 before);
    nb_tensor_free(x);
    nb_tensor_free(s);
}

static nb_tensor *f_bn(nb_tensor *const *in, void *ud)
{
    nb_tensor *const *stats = ud;
    return nb_batch_norm(in[0], in[1], in[2], stats[0], stats[1], 0.1f, 1e-5f, true);
}

Test(misuse, gradcheck_on_batch_norm_leaves_the_running_statistics_alone)
{
    nb_tensor *x = rand_tensor(NB_SHAPE(4, 3, 2, 2), -1, 1, 1, true);
    nb_tensor *g = rand_tensor(NB_SHAPE(3), 0.5f, 1.5f, 2, true);
    nb_tensor *b = rand_tensor(NB_SHAPE(3), -1, 1, 3, true);
    nb_tensor *rm = rand_tensor(NB_SHAPE(3), -1, 1, 4, false);
    nb_tensor *rv = rand_tensor(NB_SHAPE(3), 0.5f, 2, 5, false);
    float m0[3], v0[3];
    memcpy(m0, rm->data, sizeof m0);
    memcpy(v0, rv->data, sizeof v0);
    nb_tensor *in[3] = {x, g, b}, *stats[2] = {rm, rv};
    assert_gradcheck(f_bn, in, 3, stats, NULL, "batch_norm");
    cr_assert(memcmp(m0, rm->data, sizeof m0) == 0, "running_mean drifted");
    cr_assert(memcmp(v0, rv->data, sizeof v0) == 0, "running_var drifted");
    /* Outside gradcheck a training forward does update them. */
    cr_assert_not_null(f_bn(in, stats));
    cr_assert(memcmp(m0, rm->data, sizeof m0) != 0);
    nb_tensor *all[] = {x, g, b, rm, rv};
    for (int i = 0; i < 5; i++)
        nb_tensor_free(all[i]);
}
