/* The broadcast kernels against index arithmetic done by hand, ranks 0 to 6. */
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(broadcast);

static void sub_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                    int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = a[k * sa] - b[k * sb];
}

/* Flat index in t of the element at full-index idx (t aligned at the last dimension). */
static int64_t index_in(const nb_tensor *t, int nd, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = idx[nd - t->ndim + d];
        off = off * t->shape[d] + (t->shape[d] == 1 ? 0 : i);
    }
    return off;
}

static void check_case(int na, const int64_t *sa, int nb, const int64_t *sb, uint64_t seed)
{
    nb_tensor *a = rand_tensor(na, sa, -1, 1, seed, false);
    nb_tensor *b = rand_tensor(nb, sb, -1, 1, seed + 1, false);
    /* the full shape */
    int nd = na > nb ? na : nb;
    int64_t full[NB_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int ka = d - (nd - na), kb = d - (nd - nb);
        int64_t da = ka >= 0 ? sa[ka] : 1, db = kb >= 0 ? sb[kb] : 1;
        full[d] = da > db ? da : db;
    }
    nb_tensor *y = nb_tensor_step(nd, full);
    nb_kernel_broadcast(y, a, b, sub_run, NULL);
    /* grad_a = sum of y over a's broadcast dimensions */
    nb_tensor *ga = nb_tensor_zeros(na, sa);
    nb_kernel_unbroadcast_add(ga, y);
    double *want_ga = calloc((size_t)a->size, sizeof(double));
    int64_t idx[NB_MAX_DIMS] = {0};
    for (int64_t i = 0; i < y->size; i++) {
        int64_t r = i;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = r % full[d];
            r /= full[d];
        }
        int64_t ia = index_in(a, nd, idx), ib = index_in(b, nd, idx);
        cr_assert_eq(y->data[i], a->data[ia] - b->data[ib], "element %lld", (long long)i);
        want_ga[ia] += y->data[i];
    }
    assert_close(ga->data, want_ga, a->size, 1e-4, 1e-5, "grad_accumulate");
    free(want_ga);
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(ga);
}

#define CASE(A, B, S)                                                                    \
    do {                                                                                 \
        const int64_t sa[] = A, sb[] = B;                                                \
        check_case((int)(sizeof sa / sizeof *sa), sa, (int)(sizeof sb / sizeof *sb), sb, \
                   S);                                                                   \
    } while (0)
#define L(...) {__VA_ARGS__}

Test(broadcast, shapes)
{
    CASE(L(2, 3, 4), L(2, 3, 4), 1);
    CASE(L(2, 3, 4), L(4), 2);
    CASE(L(4), L(2, 3, 4), 3);
    CASE(L(2, 1, 4), L(3, 1), 4);
    CASE(L(1, 3, 1), L(2, 1, 5), 5);
    CASE(L(17, 1), L(1, 17), 6);
    CASE(L(1), L(3, 1, 2), 7);
    CASE(L(2, 1, 3, 1, 2, 1), L(1, 2, 1, 3, 1, 2), 8);
    CASE(L(1, 1, 1, 1, 1, 1), L(2, 3, 1, 2, 1, 2), 9);
    CASE(L(300, 1, 7), L(1, 130, 1), 10); /* large: parallel paths */
    CASE(L(1, 130, 1), L(300, 1, 7), 11);
    CASE(L(3, 4), L(2, 1, 1, 3, 4), 12);
}

Test(broadcast, zero_dim_operands)
{
    nb_tensor *s = nb_tensor_scalar(2);
    nb_tensor *g = nb_tensor_ones(NB_SHAPE(3, 5));
    nb_tensor *gs = nb_tensor_scalar(0.5f);
    nb_kernel_unbroadcast_add(gs, g);
    cr_assert_eq(gs->data[0], 15.5f);
    nb_tensor *y = nb_tensor_step(0, NULL);
    nb_kernel_broadcast(y, s, gs, sub_run, NULL);
    cr_assert_eq(y->data[0], 2 - 15.5f);
    nb_tensor_free(s);
    nb_tensor_free(g);
    nb_tensor_free(gs);
}
