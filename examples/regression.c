/*
 * regression.c - a 1-32-32-1 tanh Sequential model fits y = sin(x) + noise on [-3, 3]
 * with mean squared error, holding out the last 20% for validation (Keras's
 * validation_split), then prints the final loss on all the data.
 *
 *     ./build/examples/regression
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"

#define N 256

int main(void)
{
    /* Data: x uniform in [-3, 3) as a column [N, 1], y = sin x plus uniform noise in
     * [-0.1, 0.1). validation_split holds out the last rows as they are, so the rows are
     * in random order (a grid would hold out only the right end of the range). */
    nb_tensor *x = nb_tensor_rand(NB_SHAPE(N, 1), -3.0f, 3.0f, 1);
    nb_tensor *y = nb_tensor_rand(NB_SHAPE(N, 1), -0.1f, 0.1f, 7);
    nb_model *m = nb_sequential(nb_input(1),
                                nb_dense(32, .activation = NB_TANH),
                                nb_dense(32, .activation = NB_TANH),
                                nb_dense(1));
    nb_history *h = NULL;
    int status = 1;
    double final = NAN;
    if (!x || !y || !m)
        goto done;
    for (int i = 0; i < N; i++)
        y->data[i] += sinf(x->data[i]);
    if (nb_compile(m, .loss = NB_LOSS_MSE, .optimizer = NB_ADAM(.lr = 0.01f),
                   .metrics = {NB_METRIC_MAE}) != NB_OK)
        goto done;
    h = nb_fit(m, x, y, .epochs = 300, .batch_size = 32, .validation_split = 0.2);
    if (!h)
        goto done;
    const double *loss = nb_history_values(h, "loss"), *val = nb_history_values(h, "val_loss");
    for (int e = 0; e < 300; e += 60)
        printf("epoch %3d  loss %.6f  val_loss %.6f\n", e + 1, loss[e], val[e]);
    nb_logs logs;
    if (nb_model_evaluate(m, x, y, NULL, &logs) != NB_OK || !nb_logs_get(&logs, "loss", &final))
        goto done;
    /* The noise alone has variance 0.1^2 / 3 = 0.0033: a good fit gets close to it. */
    printf("final loss: %.6f\n", final);
    status = final < 0.01 ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "regression: %s\n", nb_error());
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_memory_release();
    return status;
}
