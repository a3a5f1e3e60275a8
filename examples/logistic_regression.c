/*
 * logistic_regression.c - logistic regression written the way it is first taught, with
 * the gradients from autodiff instead of by hand:
 *
 *     z = w . x + b,        f = 1 / (1 + e^-z)
 *     J(w, b) = -(1/m) sum_i [ y_i log f_i + (1 - y_i) log(1 - f_i) ]
 *     w = w - alpha dJ/dw,  b = b - alpha dJ/db
 *
 * on Fashion-MNIST's sneakers (y = 0) against ankle boots (y = 1). For the first step
 * it prints the textbook formulas' values,
 *
 *     dJ/dw = (1/m) sum_i (f_i - y_i) x_i,     dJ/db = (1/m) sum_i (f_i - y_i),
 *
 * beside autodiff's, to show they agree. m is the number of examples of a step: 128 by
 * default (--batch-size; a batch of all 12000 is gradient descent on the whole set, which
 * needs many more epochs to get as far). The last line is "test accuracy: ..." (at least
 * 0.95 after the default 20 epochs).
 *
 *     ./build/examples/logistic_regression [--epochs 20] ... (--help)
 */
#include "fashion.h"

#include <math.h>

#define ALPHA 0.2f

/* The rows of class a or b, flattened to [n, 784], and y = [label == b] as [n, 1]. */
static nb_dataset *two_classes(const nb_dataset *ds, int a, int b)
{
    const nb_tensor *img = nb_dataset_inputs(ds), *lab = nb_dataset_targets(ds);
    int64_t N = nb_dataset_size(ds), D = img->size / N, n = 0;
    for (int64_t i = 0; i < N; i++)
        n += lab->data[i] == (float)a || lab->data[i] == (float)b;
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(n, D)), *y = nb_tensor_zeros(NB_SHAPE(n, 1));
    for (int64_t i = 0, k = 0; x && y && i < N; i++) {
        if (lab->data[i] != (float)a && lab->data[i] != (float)b)
            continue;
        memcpy(x->data + k * D, img->data + i * D, (size_t)D * sizeof(float));
        y->data[k++] = lab->data[i] == (float)b ? 1.0f : 0.0f;
    }
    nb_dataset *out = x && y ? nb_dataset_new(x, y, true) : NULL;
    if (!out) {
        nb_tensor_free(x);
        nb_tensor_free(y);
    }
    return out;
}

/* f = sigmoid(x w + b) */
static nb_tensor *predict(nb_tensor *x, nb_tensor *w, nb_tensor *b)
{
    return nb_sigmoid(nb_add(nb_matmul(x, w), b));
}

/* The textbook gradients of J at (w, b) on (x, y), next to autodiff's in w->grad and
 * b->grad (which must hold this batch's gradient). */
static void compare_gradients(const nb_tensor *x, const nb_tensor *y, const nb_tensor *f,
                              const nb_tensor *w, const nb_tensor *b)
{
    int64_t m = x->shape[0], D = x->shape[1];
    double db = 0, worst = 0, scale = 0;
    for (int64_t i = 0; i < m; i++)
        db += (double)f->data[i] - y->data[i];
    db /= (double)m;
    for (int64_t k = 0; k < D; k++) {
        double dw = 0;
        for (int64_t i = 0; i < m; i++)
            dw += ((double)f->data[i] - y->data[i]) * x->data[i * D + k];
        dw /= (double)m;
        worst = fmax(worst, fabs(dw - w->grad->data[k]));
        scale = fmax(scale, fabs(dw));
        if (k == 350 || k == 405)
            printf("  dJ/dw[%lld]: formula %+.8f  autodiff %+.8f\n", (long long)k, dw,
                   (double)w->grad->data[k]);
    }
    printf("  dJ/db:      formula %+.8f  autodiff %+.8f\n", db, (double)b->grad->data[0]);
    printf("  largest |formula - autodiff| over the 784 weights: %.2e (largest |dJ/dw| "
           "%.2e)\n", worst, scale);
}

int main(int argc, char **argv)
{
    fashion_args a = {.prog = "logistic_regression", .epochs = 20, .batch_size = 128,
                      .seed = 1, .data = FASHION_DATA,
                      .checkpoint = "logistic_regression.safetensors", .plot = ""};
    int r = fashion_parse(&a, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 2;
    nb_dataset *all_train = NULL, *all_test = NULL, *train = NULL, *test = NULL;
    nb_params *ps = NULL;
    nb_batches *it = NULL;
    int status = 1;
    if (fashion_load(&a, &all_train, &all_test) != 0 || !(train = two_classes(all_train, 7, 9)) ||
        !(test = two_classes(all_test, 7, 9)))
        goto done;

    /* The parameters: w [784, 1] and b [1], zeros, in a store (for the checkpoint). */
    ps = nb_params_new();
    nb_tensor *w = nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(784, 1));
    nb_tensor *b = nb_params_add(ps, "b", NB_PARAM, NB_SHAPE(1));
    int64_t m = nb_dataset_size(train);
    if (!w || !b || nb_params_finalize(ps) != NB_OK)
        goto done;
    int64_t first_epoch = 0;
    if (a.resume) {
        nb_meta *meta = NULL;
        uint64_t done_epochs = 0;
        if (nb_checkpoint_load(a.checkpoint, &(nb_checkpoint_part){"", ps}, 1, NULL, &meta) !=
                NB_OK ||
            nb_meta_get_u64(meta, "epoch", &done_epochs) != NB_OK) {
            nb_meta_free(meta);
            goto done;
        }
        nb_meta_free(meta);
        first_epoch = (int64_t)done_epochs;
        printf("resumed from %s at epoch %lld\n", a.checkpoint, (long long)first_epoch);
    }
    int64_t batch = a.batch_size ? a.batch_size : m;
    if (!(it = nb_batches_new(train, (nb_batch_opts){.batch_size = batch, .shuffle = batch < m,
                                                     .seed = a.seed})))
        goto done;
    printf("%lld training images, batches of %lld, alpha %g\n", (long long)m,
           (long long)batch, (double)ALPHA);

    double t0 = fashion_now();
    int64_t steps = 0;
    float loss_value = NAN;
    for (int64_t epoch = first_epoch; epoch < a.epochs; epoch++) {
        if (nb_batches_start(it, epoch) != NB_OK)
            goto done;
        nb_tensor *x, *y;
        int64_t k = 0;
        while (nb_batches_next(it, &x, &y) && (!a.max_steps || k < a.max_steps)) {
            nb_tensor *f = predict(x, w, b);
            nb_tensor *J = nb_bce(f, y, NB_REDUCE_MEAN);
            if (nb_backward(J) != NB_OK)
                goto done;
            if (steps == 0 && epoch == first_epoch) {
                printf("first step, the gradients of J:\n");
                compare_gradients(x, y, f, w, b);
            }
            loss_value = J->data[0];
            nb_tensor_axpy(w, -ALPHA, w->grad);   /* w = w - alpha dJ/dw */
            nb_tensor_axpy(b, -ALPHA, b->grad);   /* b = b - alpha dJ/db */
            nb_params_zero_grad(ps);
            nb_step_reset();
            steps++;
            k++;
        }
        if (!a.quiet)
            printf("epoch %3lld  J of the last batch %.6f\n", (long long)epoch + 1, (double)loss_value);
        if (a.checkpoint[0]) {
            nb_meta *meta = nb_meta_new();
            nb_status s = meta ? nb_meta_set_u64(meta, "epoch", (uint64_t)epoch + 1)
                               : nb_error_code();
            if (s == NB_OK)
                s = nb_checkpoint_save(a.checkpoint, &(nb_checkpoint_part){"", ps}, 1, meta);
            nb_meta_free(meta);
            if (s != NB_OK)
                goto done;
        }
    }
    double seconds = fashion_now() - t0;
    if (a.checkpoint[0])
        printf("checkpoint: %s (resume with --resume)\n", a.checkpoint);

    /* Test accuracy: f > 0.5 means ankle boot. */
    bool prev = nb_set_grad_enabled(false);
    nb_tensor *f = predict(nb_dataset_inputs(test), w, b);
    nb_set_grad_enabled(prev);
    if (!f)
        goto done;
    const nb_tensor *yt = nb_dataset_targets(test);
    int64_t correct = 0;
    for (int64_t i = 0; i < f->size; i++)
        correct += (f->data[i] > 0.5f) == (yt->data[i] > 0.5f);
    double accuracy = (double)correct / (double)f->size;
    int64_t epochs_run = a.epochs - first_epoch;
    printf("seconds per epoch: %.4f\n", epochs_run > 0 ? seconds / (double)epochs_run : 0.0);
    printf("test accuracy: %.4f\n", accuracy);
    status = a.epochs >= 20 && !a.max_steps && accuracy < 0.95 ? 1 : 0;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "logistic_regression: %s\n", nb_error());
    nb_batches_free(it);
    nb_params_free(ps);
    nb_dataset_free(train);
    nb_dataset_free(test);
    nb_dataset_free(all_train);
    nb_dataset_free(all_test);
    nb_memory_release();
    return status;
}
