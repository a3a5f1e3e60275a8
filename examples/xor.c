/*
 * xor.c - Keras's first example in C: a 2-25-15-1 sigmoid Sequential model learns XOR
 * with binary cross-entropy and fit. Prints the summary, a line every 500 epochs (a
 * callback), the predictions and "accuracy: 1.0000" at the end.
 *
 *     model = Sequential([Dense(25, activation='sigmoid'),
 *                         Dense(15, activation='sigmoid'),
 *                         Dense(1, activation='sigmoid')])
 *     model.compile(loss=BinaryCrossentropy(), optimizer=Adam(0.01), metrics=['accuracy'])
 *     model.fit(X, y, epochs=1000, batch_size=4)
 *
 *     ./build/examples/xor
 */
#include <stdio.h>

#include "nabla.h"

/* A callback: prints the loss every 500 epochs. */
static nb_status every_500(nb_callback *cb, nb_model *m, int64_t epoch, const nb_logs *logs)
{
    (void)cb;
    (void)m;
    double loss;
    if ((epoch + 1) % 500 == 0 && nb_logs_get(logs, "loss", &loss))
        printf("epoch %4lld  loss %.6f\n", (long long)epoch + 1, loss);
    return NB_OK;
}

int main(void)
{
    const float xs[] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float ys[] = {0, 1, 1, 0};
    nb_tensor *x = nb_tensor_from(NB_SHAPE(4, 2), xs);
    nb_tensor *y = nb_tensor_from(NB_SHAPE(4, 1), ys);
    nb_model *m = nb_sequential(nb_input(2),
                                nb_dense(25, .activation = NB_SIGMOID),
                                nb_dense(15, .activation = NB_SIGMOID),
                                nb_dense(1, .activation = NB_SIGMOID));
    nb_history *h = NULL;
    nb_tensor *p = NULL;
    int status = 1;
    if (!x || !y || !m ||
        nb_compile(m, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 0.01f),
                   .metrics = {NB_METRIC_ACCURACY}) != NB_OK ||
        nb_model_summary(m, stdout) != NB_OK)
        goto done;

    nb_callback progress = {.on_epoch_end = every_500};
    h = nb_fit(m, x, y, .epochs = 1000, .batch_size = 4, .callbacks = {&progress});
    if (!h || !(p = nb_model_predict(m, x, NULL)))
        goto done;
    nb_logs logs;
    double accuracy;
    if (nb_model_evaluate(m, x, y, NULL, &logs) != NB_OK ||
        !nb_logs_get(&logs, "accuracy", &accuracy))
        goto done;
    for (int i = 0; i < 4; i++)
        printf("%g xor %g -> %.4f\n", xs[2 * i], xs[2 * i + 1], p->data[i]);
    printf("accuracy: %.4f\n", accuracy);
    status = accuracy == 1.0 ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "xor: %s\n", nb_error());
    nb_tensor_free(p);
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_memory_release();
    return status;
}
