/* The same program gives the same bits with 1 and 2 threads. */
#include <limits.h>
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

/* A huge count used to be accepted and crashed in libgomp at the next parallel region
 * (segfault for 10^6); now it is an error and the old count stays. */
Test(threads, huge_thread_counts_are_an_error)
{
    int before = nb_num_threads();
    const int bad[] = {NB_MAX_THREADS + 1, 1000000, INT_MAX, INT_MIN, -1};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(nb_set_num_threads(bad[i]), NB_ERR_ARG, "%d threads", bad[i]);
        cr_assert(strstr(nb_error(), "set_num_threads:"), "%s", nb_error());
        cr_assert_eq(nb_num_threads(), before);
    }
    cr_assert(strstr(nb_error(), "got -1"), "%s", nb_error());
    cr_assert_eq(nb_set_num_threads(1000000), NB_ERR_ARG);
    cr_assert(strstr(nb_error(), "1000000 threads is more than the 1024 nabla allows"), "%s",
              nb_error());
    nb_tensor *x = nb_tensor_ones(NB_SHAPE(1 << 16)); /* a parallel region still works */
    nb_tensor *y = nb_exp(x);
    cr_assert(y && y->data[12345] == expf(1.0f), "%s", nb_error());
    nb_tensor_free(x);
}
