/* The same program gives the same bits with 1 and 2 threads. */
#include <string.h>

#include "mlp.h"

NB_TEST_SUITE(threads);

/* Trains for a few steps with `threads` threads; copies the final parameters to out. */
static void train(int threads, float *out, float *losses)
{
    cr_assert_eq(nb_set_num_threads(threads), NB_OK);
    cr_assert_eq(nb_num_threads(), threads);
    mlp m;
    /* Big enough that matmul, elementwise ops and reductions take their parallel paths. */
    cr_assert_eq(mlp_init(&m, 512, 96, 200, 11), NB_OK, "%s", nb_error());
    for (int i = 0; i < 4; i++)
        cr_assert_eq(mlp_step(&m, 0.2f, &losses[i]), NB_OK, "%s", nb_error());
    nb_tensor *params[] = {m.w1, m.b1, m.w2, m.b2};
    for (int i = 0; i < 4; i++) {
        memcpy(out, params[i]->data, sizeof(float) * params[i]->size);
        out += params[i]->size;
    }
    mlp_free(&m);
}

Test(threads, training_is_bit_identical_for_1_and_2_threads)
{
    enum { P = 96 * 200 + 200 + 200 + 1 };
    static float one[P], two[P];
    float l1[4], l2[4];
    train(1, one, l1);
    train(2, two, l2);
    cr_assert_eq(memcmp(l1, l2, sizeof l1), 0, "losses differ: %.9g vs %.9g", l1[3], l2[3]);
    cr_assert_eq(memcmp(one, two, sizeof one), 0, "parameters differ");
    cr_assert_lt(l1[3], l1[0], "training should lower the loss: %g -> %g", l1[0], l1[3]);
}

Test(threads, bad_thread_count)
{
    cr_assert_eq(nb_set_num_threads(0), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "set_num_threads: need at least 1 thread, got 0"));
}
