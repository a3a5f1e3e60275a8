/*
 * xor.c - a 2-25-15-1 sigmoid network learns XOR by plain gradient descent on binary
 * cross-entropy. Prints the loss as it trains and "accuracy: 1.0000" at the end.
 *
 *     ./build/examples/xor
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"

#define STEPS 3000
#define LR 1.0f

/* A dense layer's parameters, Xavier-initialised. */
typedef struct {
    nb_tensor *w, *b;
} dense;

static int dense_init(dense *d, int64_t in, int64_t out, uint64_t seed)
{
    d->w = nb_tensor_randn(NB_SHAPE(in, out), 0.0f, sqrtf(2.0f / (float)(in + out)), seed);
    d->b = nb_tensor_zeros(NB_SHAPE(out));
    if (!d->w || !d->b || nb_tensor_set_requires_grad(d->w, true) != NB_OK ||
        nb_tensor_set_requires_grad(d->b, true) != NB_OK)
        return -1;
    return 0;
}

/* sigmoid(x w + b) */
static nb_tensor *dense_sigmoid(const dense *d, nb_tensor *x)
{
    return nb_sigmoid(nb_add(nb_matmul(x, d->w), d->b));
}

int main(void)
{
    const float xs[] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float ys[] = {0, 1, 1, 0};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(4, 2), xs);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(4, 1), ys);
    dense l1 = {0}, l2 = {0}, l3 = {0};
    int status = 1;
    if (!x || !y || dense_init(&l1, 2, 25, 1) || dense_init(&l2, 25, 15, 2) ||
        dense_init(&l3, 15, 1, 3)) {
        fprintf(stderr, "xor: %s\n", nb_error());
        goto done;
    }
    nb_tensor *params[] = {l1.w, l1.b, l2.w, l2.b, l3.w, l3.b};

    for (int step = 0; step < STEPS; step++) {
        nb_tensor *p = dense_sigmoid(&l3, dense_sigmoid(&l2, dense_sigmoid(&l1, x)));
        nb_tensor *loss = nb_bce(p, y, NB_REDUCE_MEAN);
        if (nb_backward(loss) != NB_OK) {
            fprintf(stderr, "xor: %s\n", nb_error());
            goto done;
        }
        if (step % 500 == 0 || step == STEPS - 1)
            printf("step %4d  loss %.6f\n", step, nb_tensor_item(loss));
        for (int i = 0; i < 6; i++) {
            nb_tensor_axpy(params[i], -LR, params[i]->grad);
            nb_tensor_zero_grad(params[i]);
        }
        nb_step_reset();
    }

    /* Evaluate without recording a graph. */
    bool prev = nb_set_grad_enabled(false);
    nb_tensor *p = dense_sigmoid(&l3, dense_sigmoid(&l2, dense_sigmoid(&l1, x)));
    nb_set_grad_enabled(prev);
    if (!p) {
        fprintf(stderr, "xor: %s\n", nb_error());
        goto done;
    }
    int correct = 0;
    for (int i = 0; i < 4; i++) {
        printf("%g xor %g -> %.4f\n", xs[2 * i], xs[2 * i + 1], p->data[i]);
        correct += (p->data[i] > 0.5f) == (ys[i] > 0.5f);
    }
    printf("accuracy: %.4f\n", correct / 4.0);
    status = correct == 4 ? 0 : 1;
done:
    nb_tensor_free(x);
    nb_tensor_free(y);
    dense all[] = {l1, l2, l3};
    for (int i = 0; i < 3; i++) {
        nb_tensor_free(all[i].w);
        nb_tensor_free(all[i].b);
    }
    nb_memory_release();
    return status;
}
