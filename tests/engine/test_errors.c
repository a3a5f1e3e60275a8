/* Error reporting: messages name the op and shapes; the first failure in a chain wins. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(errors);

Test(errors, first_message_survives_a_chain)
{
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(4, 3));
    nb_tensor *w = nb_tensor_ones(NB_SHAPE(2, 5));
    nb_tensor *y = nb_tensor_ones(NB_SHAPE(4, 5));
    nb_tensor_set_requires_grad(w, true);
    nb_tensor *loss = nb_bce(nb_sigmoid(nb_add(nb_matmul(x, w), y)), y, NB_REDUCE_MEAN);
    cr_assert_null(loss);
    cr_assert_eq(nb_error_code(), NB_ERR_SHAPE);
    cr_assert(strstr(nb_error(), "matmul: inner dimensions differ: [4,3] @ [2,5]"), "%s",
              nb_error());
    cr_assert_eq(nb_backward(loss), NB_ERR_SHAPE, "backward of NULL keeps the cause");
    cr_assert(strstr(nb_error(), "matmul: inner dimensions differ"), "%s", nb_error());
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_tensor_free(y);
}

Test(errors, clear_and_names)
{
    cr_assert_eq(nb_set_error(NB_ERR_IO, "reading %s failed", "x.idx"), NB_ERR_IO);
    cr_assert_str_eq(nb_error(), "reading x.idx failed");
    cr_assert_eq(nb_error_code(), NB_ERR_IO);
    nb_error_clear();
    cr_assert_str_eq(nb_error(), "");
    cr_assert_eq(nb_error_code(), NB_OK);
    for (int s = 0; s < NB_ERR_COUNT; s++)
        cr_assert_str_neq(nb_status_str((nb_status)s), "unknown status");
    cr_assert_str_eq(nb_status_str(NB_ERR_COUNT), "unknown status");
    cr_assert_str_eq(nb_status_str(NB_ERR_SHAPE), "shape error");
}

Test(errors, long_messages_are_truncated_safely)
{
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    nb_set_error(NB_ERR_ARG, "%s", big);
    cr_assert_lt(strlen(nb_error()), 1000);
}

Test(errors, a_fresh_null_input_names_itself)
{
    nb_error_clear();
    nb_tensor *a = nb_tensor_ones(NB_SHAPE(2));
    assert_error(nb_add(NULL, a), NB_ERR_NULL, "add: input 0 is NULL");
    nb_tensor_free(a);
}
