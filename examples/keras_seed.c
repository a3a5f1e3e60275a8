/*
 * keras_seed.c - the network of Keras's first examples, exactly:
 *
 *     model = Sequential([Dense(units=25, activation='sigmoid'),
 *                         Dense(units=15, activation='sigmoid'),
 *                         Dense(units=1, activation='sigmoid')])
 *     model.compile(loss=BinaryCrossentropy())     # then MeanSquaredError()
 *     model.fit(X, y, epochs=...)
 *
 * on a real binary task: Fashion-MNIST's sneakers (class 7, y = 0) against ankle boots
 * (class 9, y = 1), 12000 training and 2000 test images of 784 pixels. First the same
 * network learns a regression target with mean squared error -- the share of an image's
 * pixels brighter than 0.5 -- then it is trained as the classifier with binary
 * cross-entropy. The last line is the classifier's "test accuracy: ..." (at least 0.95).
 *
 *     ./build/examples/keras_seed [--epochs 5] ... (--help)
 */
#include "fashion.h"

/* The rows of class a or b, flattened to [n, 784], and y = [label == b] as [n, 1]. */
static int two_classes(const nb_dataset *ds, int a, int b, nb_tensor **x, nb_tensor **y)
{
    const nb_tensor *img = nb_dataset_inputs(ds), *lab = nb_dataset_targets(ds);
    int64_t N = nb_dataset_size(ds), D = img->size / N, n = 0;
    for (int64_t i = 0; i < N; i++)
        n += lab->data[i] == (float)a || lab->data[i] == (float)b;
    *x = nb_tensor_zeros(NB_SHAPE(n, D));
    *y = nb_tensor_zeros(NB_SHAPE(n, 1));
    if (!*x || !*y)
        return -1;
    for (int64_t i = 0, k = 0; i < N; i++) {
        if (lab->data[i] != (float)a && lab->data[i] != (float)b)
            continue;
        memcpy((*x)->data + k * D, img->data + i * D, (size_t)D * sizeof(float));
        (*y)->data[k++] = lab->data[i] == (float)b ? 1.0f : 0.0f;
    }
    return 0;
}

/* The regression target: the share of pixels brighter than 0.5, per image ([n, 1]). */
static nb_tensor *bright_share(const nb_tensor *x)
{
    int64_t n = x->shape[0], D = x->shape[1];
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(n, 1));
    for (int64_t i = 0; t && i < n; i++) {
        int64_t c = 0;
        for (int64_t k = 0; k < D; k++)
            c += x->data[i * D + k] > 0.5f;
        t->data[i] = (float)c / (float)D;
    }
    return t;
}

/* The seeds' network: 25, 15 and 1 sigmoid units. */
static nb_model *seed_model(uint64_t seed)
{
    return nb_sequential_new((nb_layer *[]){nb_dense(25, .activation = NB_SIGMOID),
                                            nb_dense(15, .activation = NB_SIGMOID),
                                            nb_dense(1, .activation = NB_SIGMOID)},
                             3, &(nb_model_opts){.seed = seed});
}

int main(int argc, char **argv)
{
    fashion_args a = {.prog = "keras_seed", .epochs = 5, .batch_size = 32, .seed = 1,
                      .data = FASHION_DATA, .checkpoint = "keras_seed.safetensors",
                      .plot = "keras_seed.svg"};
    int r = fashion_parse(&a, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 2;
    nb_dataset *train = NULL, *test = NULL;
    nb_tensor *x = NULL, *y = NULL, *xt = NULL, *yt = NULL, *t = NULL, *tt = NULL;
    nb_model *reg = NULL, *clf = NULL;
    nb_history *hr = NULL, *h = NULL;
    nb_callback *ckpt = NULL;
    int status = 1;
    if (fashion_load(&a, &train, &test) != 0 || two_classes(train, 7, 9, &x, &y) != 0 ||
        two_classes(test, 7, 9, &xt, &yt) != 0 || !(t = bright_share(x)) ||
        !(tt = bright_share(xt)))
        goto done;
    printf("sneakers (0) vs ankle boots (1): %lld training, %lld test images\n",
           (long long)x->shape[0], (long long)xt->shape[0]);
    fashion_timer timer = fashion_timer_make(a.max_steps);

    /* 1. Regression with mean squared error. */
    reg = seed_model(a.seed);
    if (!reg || nb_compile(reg, .loss = NB_LOSS_MSE, .optimizer = NB_ADAM(.lr = 1e-3f),
                           .metrics = {NB_METRIC_MAE}) != NB_OK)
        goto done;
    hr = nb_fit(reg, x, t, .epochs = a.epochs, .batch_size = a.batch_size, .seed = a.seed,
                .verbose = a.quiet ? 0 : 2, .callbacks = {&timer.cb});
    nb_logs logs;
    double mse, mae, accuracy;
    if (!hr || nb_model_evaluate(reg, xt, tt, NULL, &logs) != NB_OK ||
        !nb_logs_get(&logs, "loss", &mse) || !nb_logs_get(&logs, "mae", &mae))
        goto done;
    printf("regression (mean squared error) of the share of bright pixels: test mse %.6f, "
           "mae %.4f\n", mse, mae);

    /* 2. The classifier with binary cross-entropy (the checkpoint and curves are its). */
    clf = seed_model(a.seed);
    if (!clf || nb_compile(clf, .loss = NB_LOSS_BCE, .optimizer = NB_ADAM(.lr = 1e-3f),
                           .metrics = {NB_METRIC_ACCURACY}) != NB_OK ||
        nb_model_build(clf, NB_SHAPE(784)) != NB_OK || fashion_resume(&a, clf) != 0)
        goto done;
    if (!a.quiet && nb_model_summary(clf, stdout) != NB_OK)
        goto done;
    if (a.checkpoint[0] && !(ckpt = nb_checkpoint(.filepath = a.checkpoint)))
        goto done;
    timer = fashion_timer_make(a.max_steps);
    h = nb_fit(clf, x, y, .epochs = a.epochs, .batch_size = a.batch_size, .seed = a.seed,
               .resume = a.resume, .validation_x = xt, .validation_y = yt,
               .verbose = a.quiet ? 0 : 1, .callbacks = {&timer.cb, ckpt});
    if (!h || fashion_report_files(&a, h) != 0 ||
        nb_model_evaluate(clf, xt, yt, NULL, &logs) != NB_OK ||
        !nb_logs_get(&logs, "accuracy", &accuracy))
        goto done;
    printf("seconds per epoch: %.3f\n", fashion_seconds_per_epoch(&timer));
    printf("test accuracy: %.4f\n", accuracy);
    status = a.epochs >= 5 && !a.max_steps && accuracy < 0.95 ? 1 : 0;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "keras_seed: %s\n", nb_error());
    nb_callback_free(ckpt);
    nb_history_free(hr);
    nb_history_free(h);
    nb_model_free(reg);
    nb_model_free(clf);
    nb_tensor *all[] = {x, y, xt, yt, t, tt};
    for (int i = 0; i < 6; i++)
        nb_tensor_free(all[i]);
    nb_dataset_free(train);
    nb_dataset_free(test);
    nb_memory_release();
    return status;
}
