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
    /* Data: x evenly spaced in [-3, 3) as a column [N, 1], y = sin x plus uniform noise
     * in [-0.1, 0.1). */
    nb_tensor *grid = nb_tensor_arange(-3.0f, 3.0f, 6.0f / N);
    nb_tensor *x = grid ? nb_tensor_from(NB_SHAPE(N, 1), grid->data) : NULL;
    nb_tensor *y = nb_tensor_rand(NB_SHAPE(N, 1), -0.1f, 0.1f, 7);
    nb_tensor *w1 = nb_tensor_randn(NB_SHAPE(1, 32), 0, 1.0f, 1);
    nb_tensor *b1 = nb_tensor_randn(NB_SHAPE(32), 0, 1.0f, 2);
    nb_tensor *w2 = nb_tensor_randn(NB_SHAPE(32, 32), 0, 0.25f, 3);
    nb_tensor *b2 = nb_tensor_zeros(NB_SHAPE(32));
    nb_tensor *w3 = nb_tensor_randn(NB_SHAPE(32, 1), 0, 0.25f, 4);
    nb_tensor *b3 = nb_tensor_zeros(NB_SHAPE(1));
    nb_tensor *params[] = {w1, b1, w2, b2, w3, b3};
    int status = 1;
    float last = NAN;
    if (!x || !y)
        goto done;
    for (int i = 0; i < 6; i++)
        if (!params[i] || nb_tensor_set_requires_grad(params[i], true) != NB_OK)
            goto done;
    for (int i = 0; i < N; i++)
        y->data[i] += sinf(x->data[i]);

    for (int step = 0; step < STEPS; step++) {
        nb_tensor *h = nb_tanh(nb_add(nb_matmul(x, w1), b1));
        h = nb_tanh(nb_add(nb_matmul(h, w2), b2));
        nb_tensor *loss = nb_mse(nb_add(nb_matmul(h, w3), b3), y, NB_REDUCE_MEAN);
        if (nb_backward(loss) != NB_OK)
            goto done;
        last = nb_tensor_item(loss);
        if (step % 1000 == 0)
            printf("step %4d  loss %.6f\n", step, last);
        for (int i = 0; i < 6; i++) {
            nb_tensor_axpy(params[i], -LR, params[i]->grad);
            nb_tensor_zero_grad(params[i]);
        }
        nb_step_reset();
    }
    /* The noise alone has variance 0.1^2 / 3 = 0.0033: a good fit gets close to it. */
    printf("final loss: %.6f\n", last);
    status = last < 0.01f ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "regression: %s\n", nb_error());
    nb_tensor_free(grid);
    nb_tensor_free(x);
    nb_tensor_free(y);
    for (int i = 0; i < 6; i++)
        nb_tensor_free(params[i]);
    nb_memory_release();
    return status;
}
