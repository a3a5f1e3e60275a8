/*
 * custom_architecture.c - a small residual CNN written as a forward function (Keras's
 * functional style): layers are called on tensors, and a skip connection adds a block's
 * input to its output. It learns to tell horizontal, vertical and diagonal strokes
 * apart in noisy 8x8 images, trained with the same fit as a Sequential model.
 *
 *     x -> conv 3x3 (8) -> relu ---------------------------+
 *            -> conv 3x3 (8) -> bn -> relu -> conv 3x3 (8) -> bn -> (+) -> relu
 *            -> max pool 2x2 -> global average pool -> dense (3 logits)
 *
 *     ./build/examples/custom_architecture
 */
#include <math.h>
#include <stdio.h>

#include "nabla.h"
#include "nabla/kernels.h" /* nb_rng_uniform, for the data */

typedef struct resnet {
    nb_layer *stem, *conv_a, *bn_a, *conv_b, *bn_b, *pool, *gap, *head;
} resnet;

static nb_tensor *resnet_forward(nb_model *m, nb_tensor *const *x, int n, void *ud)
{
    (void)m;
    (void)n;
    const resnet *r = ud;
    nb_tensor *h = nb_layer_call(r->stem, x[0]);
    nb_tensor *b = nb_relu(nb_layer_call(r->bn_a, nb_layer_call(r->conv_a, h)));
    b = nb_layer_call(r->bn_b, nb_layer_call(r->conv_b, b));
    h = nb_relu(nb_add(h, b)); /* the residual connection */
    return nb_layer_call(r->head, nb_layer_call(r->gap, nb_layer_call(r->pool, h)));
}

/* Adds the layers the forward function calls; false on error. */
static bool add_layers(nb_model *m, resnet *r)
{
    nb_conv2d_layer_opts same = {.filters = 8, .kernel_size = 3, .padding = NB_PADDING_SAME,
                                 .kernel_initializer = NB_HE_NORMAL};
    nb_conv2d_layer_opts stem = same;
    stem.activation = NB_RELU;
    r->stem = nb_model_add(m, nb_conv2d_layer_new(stem));
    r->conv_a = nb_model_add(m, nb_conv2d_layer_new(same));
    r->bn_a = nb_model_add(m, nb_batch_normalization(.momentum = 0.9f));
    r->conv_b = nb_model_add(m, nb_conv2d_layer_new(same));
    r->bn_b = nb_model_add(m, nb_batch_normalization(.momentum = 0.9f));
    r->pool = nb_model_add(m, nb_max_pooling2d(2));
    r->gap = nb_model_add(m, nb_global_average_pooling2d());
    r->head = nb_model_add(m, nb_dense(3));
    return r->stem && r->conv_a && r->bn_a && r->conv_b && r->bn_b && r->pool && r->gap && r->head;
}

/* N images [N, 1, 8, 8]: a stroke of length 5 (class 0 horizontal, 1 vertical, 2
 * diagonal) at a random place, plus uniform noise in [-0.6, 0.6). */
static void make_data(int64_t N, nb_tensor *x, nb_tensor *y)
{
    for (int64_t i = 0; i < N; i++) {
        float *img = x->data + i * 64;
        for (int k = 0; k < 64; k++)
            img[k] = 1.2f * (nb_rng_uniform(11, (uint64_t)(i * 64 + k)) - 0.5f);
        int cls = (int)(i % 3);
        int r0 = (int)(nb_rng_uniform(12, (uint64_t)i) * 4), c0 = (int)(nb_rng_uniform(13, (uint64_t)i) * 4);
        for (int t = 0; t < 5; t++) {
            int r = cls == 0 ? r0 + 1 : r0 + t, c = cls == 1 ? c0 + 1 : c0 + t;
            img[r * 8 + c] += 1.0f;
        }
        y->data[i] = (float)cls;
    }
}

int main(void)
{
    enum { N = 900 };
    int status = 1;
    resnet r;
    nb_history *h = NULL;
    nb_tensor *x = nb_tensor_zeros(NB_SHAPE(N, 1, 8, 8)), *y = nb_tensor_zeros(NB_SHAPE(N));
    nb_model *m = nb_model_new(resnet_forward, &(nb_model_opts){.name = "resnet", .ud = &r});
    if (!x || !y || !m || !add_layers(m, &r))
        goto done;
    make_data(N, x, y);
    if (nb_model_build(m, NB_SHAPE(1, 8, 8)) != NB_OK || nb_model_summary(m, stdout) != NB_OK ||
        nb_compile(m, .loss = NB_LOSS_SPARSE_CATEGORICAL_CE, .from_logits = true,
                   .optimizer = NB_ADAM(.lr = 0.01f), .metrics = {NB_METRIC_ACCURACY}) != NB_OK)
        goto done;
    h = nb_fit(m, x, y, .epochs = 10, .batch_size = 32, .validation_split = 0.2, .verbose = 2);
    if (!h)
        goto done;
    double acc = nb_history_values(h, "val_accuracy")[9];
    printf("validation accuracy: %.4f\n", acc);
    status = acc > 0.9 ? 0 : 1;
done:
    if (status && nb_error_code() != NB_OK)
        fprintf(stderr, "custom_architecture: %s\n", nb_error());
    nb_history_free(h);
    nb_model_free(m);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_memory_release();
    return status;
}
