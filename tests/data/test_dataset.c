/* Data sets: construction, ownership, slices and the train/validation split, errors. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(dataset);

/* x [n, 3] with x[i, k] = 10 i + k, and y [n] with y[i] = i. */
static nb_dataset *counting_dataset(int64_t n)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(n, 3));
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(n));
    cr_assert(x && y, "%s", nb_error());
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            x->data[i * 3 + k] = (float)(10 * i + k);
        y->data[i] = (float)i;
    }
    nb_dataset *ds = nb_dataset_new(x, y, true);
    cr_assert_not_null(ds, "%s", nb_error());
    return ds;
}

Test(dataset, new_reports_size_inputs_and_targets)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(7, 2, 3));
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(7));
    nb_dataset *ds = nb_dataset_new(x, y, false);
    cr_assert_not_null(ds, "%s", nb_error());
    cr_assert_eq(nb_dataset_size(ds), 7);
    cr_assert_eq(nb_dataset_inputs(ds), x);
    cr_assert_eq(nb_dataset_targets(ds), y);
    nb_dataset_free(ds);
    /* Borrowed: still ours to free (ASan would report a double free otherwise). */
    nb_tensor_free(x);
    nb_tensor_free(y);
}

Test(dataset, inputs_only)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(4));
    nb_dataset *ds = nb_dataset_new(x, NULL, true);
    cr_assert_not_null(ds, "%s", nb_error());
    cr_assert_eq(nb_dataset_size(ds), 4);
    cr_assert_null(nb_dataset_targets(ds));
    nb_dataset_free(ds);
    nb_dataset_free(NULL);
}

Test(dataset, slice_views_the_rows_without_copying)
{
    nb_dataset *ds = counting_dataset(10);
    nb_dataset *s = nb_dataset_slice(ds, 3, 4);
    cr_assert_not_null(s, "%s", nb_error());
    cr_assert_eq(nb_dataset_size(s), 4);
    nb_tensor *x = nb_dataset_inputs(s), *y = nb_dataset_targets(s);
    cr_assert_eq(x->ndim, 2);
    cr_assert_eq(x->shape[0], 4);
    cr_assert_eq(x->shape[1], 3);
    cr_assert_eq(x->data, nb_dataset_inputs(ds)->data + 9, "a slice views its parent");
    for (int64_t i = 0; i < 4; i++) {
        cr_assert_eq(y->data[i], (float)(3 + i));
        cr_assert_eq(x->data[i * 3 + 2], (float)(10 * (3 + i) + 2));
    }
    /* A slice of a slice, and empty slices at both ends. */
    nb_dataset *ss = nb_dataset_slice(s, 1, 2);
    cr_assert_not_null(ss, "%s", nb_error());
    cr_assert_eq(nb_dataset_targets(ss)->data[0], 4.0f);
    nb_dataset *e0 = nb_dataset_slice(ds, 0, 0), *e1 = nb_dataset_slice(ds, 10, 0);
    cr_assert(e0 && e1, "%s", nb_error());
    cr_assert_eq(nb_dataset_size(e0), 0);
    cr_assert_eq(nb_dataset_inputs(e1)->size, 0);
    nb_dataset_free(e0);
    nb_dataset_free(e1);
    nb_dataset_free(ss);
    nb_dataset_free(s);
    nb_dataset_free(ds);
}

Test(dataset, split_takes_the_last_rows_for_validation)
{
    nb_dataset *ds = counting_dataset(10);
    const double fractions[] = {0.0, 0.2, 0.25, 0.5, 0.99};
    for (int c = 0; c < 5; c++) {
        nb_dataset *train = NULL, *val = NULL;
        cr_assert_eq(nb_dataset_split(ds, fractions[c], &train, &val), NB_OK, "%s", nb_error());
        int64_t want_val = (int64_t)llround(fractions[c] * 10);
        cr_assert_eq(nb_dataset_size(val), want_val, "fraction %g", fractions[c]);
        cr_assert_eq(nb_dataset_size(train), 10 - want_val);
        for (int64_t i = 0; i < nb_dataset_size(train); i++)
            cr_assert_eq(nb_dataset_targets(train)->data[i], (float)i);
        for (int64_t i = 0; i < want_val; i++)
            cr_assert_eq(nb_dataset_targets(val)->data[i], (float)(10 - want_val + i));
        nb_dataset_free(train);
        nb_dataset_free(val);
    }
    nb_dataset_free(ds);
}

Test(dataset, errors)
{
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(5, 2));
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(4));
    nb_tensor *s = nb_tensor_scalar(1.0f);
    assert_error(nb_dataset_new(NULL, y, false), NB_ERR_NULL, "dataset_new: inputs x are NULL");
    assert_error(nb_dataset_new(x, y, false), NB_ERR_SHAPE,
                 "dataset_new: x [5,2] and y [4] have different numbers of samples");
    assert_error(nb_dataset_new(s, NULL, false), NB_ERR_SHAPE, "dataset_new: x is a scalar");
    assert_error(nb_dataset_new(x, s, false), NB_ERR_SHAPE, "dataset_new: y is a scalar");
    assert_error(nb_dataset_new(x, x, true), NB_ERR_ARG, "x and y are the same tensor");
    nb_tensor *step = nb_add(x, x);
    cr_assert_not_null(step, "%s", nb_error());
    assert_error(nb_dataset_new(step, NULL, false), NB_ERR_STATE,
                 "dataset_new: x is a step tensor");
    assert_error(nb_dataset_new(x, step, false), NB_ERR_STATE, "dataset_new: y is a step tensor");

    nb_dataset *ds = nb_dataset_new(x, NULL, false);
    cr_assert_not_null(ds, "%s", nb_error());
    assert_error(nb_dataset_slice(ds, 3, 3), NB_ERR_ARG,
                 "dataset_slice: rows [3, 3 + 3) are outside the 5 samples [0, 5)");
    assert_error(nb_dataset_slice(ds, -1, 1), NB_ERR_ARG, "dataset_slice: rows [-1");
    assert_error(nb_dataset_slice(ds, 0, -1), NB_ERR_ARG, "are outside the 5 samples");
    assert_error(nb_dataset_slice(ds, 6, 0), NB_ERR_ARG, "are outside the 5 samples");
    assert_error(nb_dataset_slice(NULL, 0, 0), NB_ERR_NULL, "dataset_slice: data set is NULL");
    nb_dataset *t = (nb_dataset *)1, *v = (nb_dataset *)1;
    const double bad[] = {1.0, -0.1, NAN, 2.0};
    for (int c = 0; c < 4; c++) {
        cr_assert_eq(nb_dataset_split(ds, bad[c], &t, &v), NB_ERR_ARG);
        cr_assert(strstr(nb_error(), "dataset_split: fraction") &&
                  strstr(nb_error(), "is outside [0, 1)"), "%s", nb_error());
        cr_assert(t == NULL && v == NULL, "outputs are cleared on error");
    }
    cr_assert_eq(nb_dataset_split(NULL, 0.5, &t, &v), NB_ERR_NULL);
    cr_assert_eq(nb_dataset_split(ds, 0.5, NULL, &v), NB_ERR_NULL);
    cr_assert_eq(nb_dataset_size(NULL), 0);
    cr_assert_null(nb_dataset_inputs(NULL));
    nb_dataset_free(ds);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_tensor_free(s);
}
