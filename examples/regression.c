/*
 * regression.c - a 1-32-32-1 tanh network fits y = sin(x) + noise on [-3, 3] with mean
 * squared error and gradient descent, then prints the final loss.
 *
 *     ./build/examples/regression
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"

#define N 256
#define STEPS 4000
#define LR 0.1f

int main(void)
{
    /* Data: x evenly spaced, y = sin x plus uniform noise in [-0.1, 0.1). */
    nb_tensor *x = nb_tensor_arange(-3.0f, 3.0f, 6.0f / N);
    nb_tensor *noise = nb_tensor_rand(NB_SHAPE(N, 1), -0.1f, 0.1f, 7);
    nb_tensor *y = nb_tensor_zeros(NB_SHAPE(N, 1));
    nb_tensor *w1 = nb_tensor_randn(NB_SHAPE(1, 32), 0, 1.0f, 1);
    nb_tensor *b1 = nb_tensor_randn(NB_SHAPE(32), 0, 1.0f, 2);
    nb_tensor *w2 = nb_tensor_randn(NB_SHAPE(32, 32), 0, 0.25f, 3);
    nb_tensor *b2 = nb_tensor_zeros(NB_SHAPE(32));
    nb_tensor *w3 = nb_tensor_randn(NB_SHAPE(32, 1), 0, 0.25f, 4);
    nb_tensor *b3 = nb_tensor_zeros(NB_SHAPE(1));
    nb_tensor *params[] = {w1, b1, w2, b2, w3, b3};
    nb_tensor *xs = NULL;
    int status = 1;
    for (int i = 0; i < 6; i++)
        if (!params[i] || nb_tensor_set_requires_grad(params[i], true) != NB_OK)
            goto fail;
    if (!x || !noise || !y || !(xs = nb_tensor_clone(x)))
        goto fail;
    for (int i = 0; i < N; i++)
        y->data[i] = sinf(x->data[i]) + noise->data[i];
    nb_tensor *xcol = nb_reshape(xs, NB_SHAPE(N, 1));
    nb_tensor *xin = xcol ? nb_tensor_clone(xcol) : NULL; /* keep it across steps */
    if (!xin)
        goto fail;

    float last = NAN;
    for (int step = 0; step < STEPS; step++) {
        nb_tensor *h = nb_tanh(nb_add(nb_matmul(xin, w1), b1));
        h = nb_tanh(nb_add(nb_matmul(h, w2), b2));
        nb_tensor *loss = nb_mse(nb_add(nb_matmul(h, w3), b3), y, NB_REDUCE_MEAN);
        if (nb_backward(loss) != NB_OK) {
            nb_tensor_free(xin);
            goto fail;
        }
        last = nb_tensor_item(loss);
        if (step % 1000 == 0)
            printf("step %4d  loss %.6f\n", step, last);
        for (int i = 0; i < 6; i++) {
            nb_tensor_axpy(params[i], -LR, params[i]->grad);
            nb_tensor_zero_grad(params[i]);
        }
        nb_step_reset();
    }
    nb_tensor_free(xin);
    /* The noise alone has variance 0.1^2 / 3 = 0.0033: a good fit gets close to it. */
    printf("final loss: %.6f\n", last);
    status = last < 0.01f ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "regression: %s\n", nb_error());
done:
    nb_tensor_free(x);
    nb_tensor_free(xs);
    nb_tensor_free(noise);
    nb_tensor_free(y);
    for (int i = 0; i < 6; i++)
        nb_tensor_free(params[i]);
    nb_memory_release();
    return status;
}
