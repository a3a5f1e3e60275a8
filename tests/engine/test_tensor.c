/* Tensor constructors, queries, data in/out, printing. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(tensor);

Test(tensor, constructors_and_queries)
{
    nb_tensor *z = nb_tensor_zeros(NB_SHAPE(2, 3, 4));
    cr_assert_not_null(z);
    cr_assert_eq(nb_tensor_ndim(z), 3);
    cr_assert_eq(nb_tensor_size(z), 24);
    cr_assert_eq(nb_tensor_dim(z, 0), 2);
    cr_assert_eq(nb_tensor_dim(z, -1), 4);
    cr_assert_eq(nb_tensor_dim(z, 3), -1);
    cr_assert_eq(((uintptr_t)z->data) % 64, 0, "data is not 64-byte aligned");
    for (int i = 0; i < 24; i++)
        cr_assert_eq(z->data[i], 0.0f);
    cr_assert(z->persistent);
    cr_assert_not(z->requires_grad);
    cr_assert_null(z->grad);

    nb_tensor *o = nb_tensor_ones(NB_SHAPE(5));
    nb_tensor *f = nb_tensor_full(NB_SHAPE(1, 1, 1, 1, 1, 2), 2.5f);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(o->data[i], 1.0f);
    cr_assert_eq(f->ndim, 6);
    cr_assert(f->data[0] == 2.5f && f->data[1] == 2.5f);

    nb_tensor *s = nb_tensor_scalar(-3.0f);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->size, 1);
    cr_assert_eq(nb_tensor_item(s), -3.0f);

    const float buf[6] = {1, 2, 3, 4, 5, 6};
    nb_tensor *t = nb_tensor_from(NB_SHAPE(2, 3), buf);
    float back[6];
    nb_tensor_copy_to(t, back);
    cr_assert_eq(memcmp(buf, back, sizeof buf), 0);
    cr_assert(nb_tensor_same_shape(t, t));
    cr_assert_not(nb_tensor_same_shape(t, o));

    nb_tensor *c = nb_tensor_clone(t);
    cr_assert_neq(c->data, t->data);
    cr_assert_eq(memcmp(c->data, buf, sizeof buf), 0);

    nb_tensor *e = nb_tensor_zeros(NB_SHAPE(0, 3));
    cr_assert_not_null(e);
    cr_assert_eq(e->size, 0);

    nb_tensor *all[] = {z, o, f, s, t, c, e};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        nb_tensor_free(all[i]);
    nb_tensor_free(NULL);
}

Test(tensor, arange)
{
    nb_tensor *a = nb_tensor_arange(0, 5, 1);
    cr_assert_eq(a->size, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(a->data[i], (float)i);
    nb_tensor *b = nb_tensor_arange(1, 0, -0.25f);
    const double want[] = {1, 0.75, 0.5, 0.25};
    cr_assert_eq(b->size, 4);
    assert_close(b->data, want, 4, 0, 0, "arange(1, 0, -0.25)");
    nb_tensor *e = nb_tensor_arange(3, 1, 1);
    cr_assert_eq(e->size, 0);
    assert_error(nb_tensor_arange(0, 1, 0), NB_ERR_ARG, "tensor_arange");
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(e);
}

Test(tensor, random_is_seeded_and_distributed)
{
    nb_tensor *u1 = nb_tensor_rand(NB_SHAPE(100, 1000), -1, 3, 7);
    nb_tensor *u2 = nb_tensor_rand(NB_SHAPE(100, 1000), -1, 3, 7);
    nb_tensor *u3 = nb_tensor_rand(NB_SHAPE(100, 1000), -1, 3, 8);
    cr_assert_eq(memcmp(u1->data, u2->data, sizeof(float) * 100000), 0, "same seed differs");
    cr_assert_neq(memcmp(u1->data, u3->data, sizeof(float) * 100000), 0);
    double mean = 0;
    for (int i = 0; i < 100000; i++) {
        cr_assert(u1->data[i] >= -1 && u1->data[i] < 3);
        mean += u1->data[i];
    }
    cr_assert_float_eq(mean / 100000, 1.0, 0.02);

    nb_tensor *n = nb_tensor_randn(NB_SHAPE(100000), 2, 0.5f, 9);
    double m = 0, v = 0;
    for (int i = 0; i < 100000; i++)
        m += n->data[i];
    m /= 100000;
    for (int i = 0; i < 100000; i++)
        v += (n->data[i] - m) * (n->data[i] - m);
    v /= 100000;
    cr_assert_float_eq(m, 2.0, 0.01);
    cr_assert_float_eq(sqrt(v), 0.5, 0.01);

    /* Element i depends only on (seed, i): a prefix of a larger tensor matches. */
    nb_tensor *small = nb_tensor_rand(NB_SHAPE(10), -1, 3, 7);
    cr_assert_eq(memcmp(small->data, u1->data, sizeof(float) * 10), 0);
    nb_tensor *all[] = {u1, u2, u3, n, small};
    for (size_t i = 0; i < 5; i++)
        nb_tensor_free(all[i]);
}

Test(tensor, fill_assign_axpy)
{
    nb_tensor *y = nb_tensor_full(NB_SHAPE(3), 1.0f);
    nb_tensor *x = nb_tensor_from(NB_SHAPE(3), (float[]){1, 2, 3});
    cr_assert_eq(nb_tensor_axpy(y, -2.0f, x), NB_OK);
    const double want[] = {-1, -3, -5};
    assert_close(y->data, want, 3, 0, 0, "axpy");
    cr_assert_eq(nb_tensor_assign(y, x), NB_OK);
    cr_assert_eq(memcmp(y->data, x->data, sizeof(float) * 3), 0);
    nb_tensor_fill(y, 4.0f);
    cr_assert_eq(y->data[2], 4.0f);
    nb_tensor *w = nb_tensor_zeros(NB_SHAPE(4));
    cr_assert_eq(nb_tensor_axpy(w, 1.0f, x), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "tensor_axpy: sizes differ: [4] and [3]"), "%s", nb_error());
    cr_assert_eq(nb_tensor_assign(w, x), NB_ERR_SHAPE);
    cr_assert_eq(nb_tensor_axpy(NULL, 1.0f, x), NB_ERR_NULL);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_tensor_free(w);
}

Test(tensor, requires_grad)
{
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(2, 2));
    cr_assert_eq(nb_tensor_set_requires_grad(w, true), NB_OK);
    cr_assert(w->requires_grad);
    cr_assert_not_null(w->grad);
    cr_assert(nb_tensor_same_shape(w, w->grad));
    w->grad->data[1] = 5;
    nb_tensor_zero_grad(w);
    cr_assert_eq(w->grad->data[1], 0.0f);
    cr_assert_eq(nb_tensor_set_requires_grad(w, false), NB_OK);
    cr_assert_not(w->requires_grad);
    cr_assert_eq(nb_tensor_set_requires_grad(NULL, true), NB_ERR_NULL);

    /* An op's output cannot be marked: it already has a graph. */
    cr_assert_eq(nb_tensor_set_requires_grad(w, true), NB_OK);
    nb_tensor *y = nb_sigmoid(w);
    cr_assert_eq(nb_tensor_set_requires_grad(y, true), NB_ERR_STATE);
    cr_assert(strstr(nb_error(), "made by op 'sigmoid'"), "%s", nb_error());

    /* A step tensor can be a leaf too; its grad lives in step memory. */
    nb_tensor *s = nb_tensor_step(NB_SHAPE(3));
    nb_tensor_fill(s, 0.0f);
    cr_assert_eq(nb_tensor_set_requires_grad(s, true), NB_OK);
    cr_assert_not(s->grad->persistent);
    cr_assert_eq(s->grad->data[0], 0.0f);
    nb_tensor_free(w);
}

Test(tensor, bad_shapes)
{
    assert_error(nb_tensor_zeros(7, (int64_t[]){1, 1, 1, 1, 1, 1, 1}), NB_ERR_SHAPE,
                 "tensor_zeros: rank 7 is outside [0, 6]");
    assert_error(nb_tensor_ones(NB_SHAPE(2, -1)), NB_ERR_SHAPE,
                 "tensor_ones: negative dimension in shape [2,-1]");
    assert_error(nb_tensor_zeros(2, NULL), NB_ERR_NULL, "shape is NULL");
    assert_error(nb_tensor_from(NB_SHAPE(2), NULL), NB_ERR_NULL, "tensor_from: data is NULL");
    assert_error(nb_tensor_zeros(NB_SHAPE(INT64_MAX / 2, 4)), NB_ERR_SHAPE, "too large");
    assert_error(nb_tensor_clone(NULL), NB_ERR_NULL, "tensor_clone");
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(2, 2));
    cr_assert(isnan(nb_tensor_item(t)));
    cr_assert(strstr(nb_error(), "tensor_item: expected one element, got shape [2,2]"));
    nb_tensor_free(t);
}

Test(tensor, print)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nb_tensor *t = nb_tensor_from(NB_SHAPE(2, 2), (float[]){1, 2.5f, -3, 4});
    nb_tensor_print(t, f, 0);
    nb_tensor *s = nb_tensor_scalar(7);
    nb_tensor_print(s, f, 0);
    nb_tensor *big = nb_tensor_arange(0, 100, 1);
    nb_tensor_print(big, f, 6);
    nb_tensor_print(NULL, f, 0);
    fclose(f);
    cr_assert(strstr(buf, "tensor[2,2] [[1, 2.5],\n [-3, 4]]\n"), "got: %s", buf);
    cr_assert(strstr(buf, "tensor[] 7\n"), "got: %s", buf);
    cr_assert(strstr(buf, "tensor[100] [0, 1, 2, ..., 97, 98, 99]\n"), "got: %s", buf);
    cr_assert(strstr(buf, "tensor(NULL)\n"), "got: %s", buf);
    free(buf);
    nb_tensor_free(t);
    nb_tensor_free(s);
    nb_tensor_free(big);

    char sb[8];
    nb_shape_str(NB_SHAPE(1000, 2000), sb, sizeof sb); /* truncated, still terminated */
    cr_assert_lt(strlen(sb), sizeof sb);
}
