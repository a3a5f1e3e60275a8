/*
 * nabla.h - automatic differentiation for tensors, in C.
 *
 * A short tour
 * ------------
 * Tensors are float32, 0-D to 6-D, contiguous and row-major. Constructors give
 * persistent tensors that you free; ops give step tensors that live until the step ends:
 *
 *     nb_tensor *w = nb_tensor_randn(NB_SHAPE(2, 8), 0.0f, 0.5f, 42);   // persistent
 *     nb_tensor_set_requires_grad(w, true);                             // a parameter
 *
 * Ops record the graph as they run; nb_backward walks it back and accumulates into the
 * grad of every parameter:
 *
 *     nb_tensor *p = nb_sigmoid(nb_matmul(x, w));        // step tensors
 *     nb_tensor *loss = nb_bce(p, y, NB_REDUCE_MEAN);    // NULL if anything failed
 *     if (!loss) fprintf(stderr, "%s\n", nb_error());    // "matmul: inner dimensions ..."
 *     nb_backward(loss);                                 // w->grad is filled
 *
 * Update, zero the grads, and release the step in O(1):
 *
 *     nb_tensor_axpy(w, -0.1f, w->grad);
 *     nb_tensor_zero_grad(w);
 *     nb_step_reset();                                   // p and loss are gone
 *
 * Models keep their parameters in a parameter store (nabla/params.h): named entries on
 * one value arena and one grad arena, so the update above is one loop over the arena:
 *
 *     nb_params *ps = nb_params_new();
 *     nb_tensor *k = nb_params_add(ps, "dense.kernel", NB_PARAM, NB_SHAPE(784, 10));
 *     ...  v = nb_params_values(ps), g = nb_params_grads(ps): v[i] -= lr * g[i];
 *     nb_params_zero_grad(ps);
 *
 * After the first step, a training step like this makes no heap allocation. Results are
 * bit-identical for any thread count (OMP_NUM_THREADS or nb_set_num_threads).
 *
 * Headers: nabla/core.h (errors, allocator, step memory, threads), nabla/tensor.h,
 * nabla/ops.h (the ops), nabla/autograd.h (backward, grad mode, anomaly check,
 * gradcheck), nabla/params.h (the parameter store), nabla/optim.h (optimizers and
 * learning-rate schedules, docs/optimizers.md), nabla/data.h (data sets, batch
 * iterators, IDX and CSV loaders; docs/data.md), nabla/io.h (checkpoints in safetensors,
 * docs/checkpoints.md), nabla/nn.h (layers, models, compile / fit / evaluate / predict,
 * callbacks; docs/layers.md). For writing your own ops
 * (docs/writing-ops.md): nabla/op.h (the contract), nabla/parallel.h (NB_PARALLEL_FOR)
 * and nabla/kernels.h (GEMM, sums, broadcasting, im2col, RNG, op-family helpers).
 */
#ifndef NABLA_H
#define NABLA_H

#include "nabla/core.h"
#include "nabla/tensor.h"
#include "nabla/autograd.h"
#include "nabla/ops.h"
#include "nabla/params.h"
#include "nabla/optim.h"
#include "nabla/data.h"
#include "nabla/io.h"
#include "nabla/nn.h"

#define NABLA_VERSION "0.1.0"

#endif /* NABLA_H */
