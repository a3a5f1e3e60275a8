/*
 * nabla/optim.h - optimizers over a parameter store, and learning-rate schedules.
 *
 * An optimizer is made on a parameter store (nabla/params.h) and holds its own state,
 * allocated when it is made (an allocation failure shows up there, never in the middle
 * of training); making it finalizes the store's layout. A step updates every trainable
 * parameter (an entry of kind NB_PARAM whose tensor requires grad) from its gradient in
 * one parallel loop over the arenas, with the same bits for any thread count:
 *
 *     nb_optimizer *opt = nb_adam(model_params, (nb_adam_opts){.lr = 1e-3f});
 *     for (...) {
 *         ... nb_backward(loss);
 *         nb_optim_step(opt);                 // p -= update(p, grad)
 *         nb_params_zero_grad(model_params);
 *         nb_step_reset();
 *     }
 *     nb_optim_free(opt);
 *
 * Option structs use designated initializers. A field left 0 takes the default named
 * in its comment; where the default is not 0 (Adam's betas, eps), 0 cannot be asked
 * for exactly -- use a tiny value. Invalid values (a negative or non-finite lr, a beta
 * outside [0, 1), ...) make the constructor return NULL with NB_ERR_ARG naming the
 * optimizer and the field.
 *
 * Where Keras and PyTorch differ, nabla follows PyTorch (torch.optim), as each rule's
 * comment in src/optim/ says: Adam's eps is added outside the square root of the
 * bias-corrected second moment; RMSprop's eps outside the root; SGD momentum has
 * PyTorch's dampening and the first step's buffer is the gradient itself.
 *
 * State save/restore (for checkpoints): an optimizer's state is a parameter store of
 * buffers (nb_optim_state), named after the parameters ("dense_1.kernel.exp_avg",
 * ...) plus "step" (a 1-element buffer counting steps); writing its values back (a
 * checkpoint load) restores the optimizer exactly. The learning rate is not part of
 * it (a schedule recomputes it from the epoch). "step" holds a float, so a restored
 * count is exact up to 2^24 steps (an uninterrupted run counts exactly beyond that).
 *
 * Frozen parameters (requires_grad false) keep their state buffers but are skipped:
 * neither they nor their state change while they are frozen. The step count is one for
 * the whole optimizer (PyTorch keeps one per parameter), so a parameter unfrozen
 * later is bias-corrected as if it had been trained from the start.
 */
#ifndef NABLA_OPTIM_H
#define NABLA_OPTIM_H

#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_optimizer nb_optimizer;

/* SGD (torch.optim.SGD), per element with g = grad + weight_decay p:
 *     momentum == 0:  p -= lr g
 *     otherwise:      b = g (first step), b = momentum b + (1 - dampening) g (after)
 *                     p -= lr (g + momentum b)  (nesterov)   or   p -= lr b */
typedef struct nb_sgd_opts {
    float lr;            /* default 0.01 (Keras) */
    float momentum;      /* >= 0; default 0 (state "momentum_buffer" when > 0) */
    float dampening;     /* in [0, 1]; default 0 */
    float weight_decay;  /* >= 0, an L2 penalty added to the gradient; default 0 */
    bool nesterov;       /* needs momentum > 0 and dampening 0 */
} nb_sgd_opts;

/* Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW), at step t:
 *     g = grad + weight_decay p                   (Adam; AdamW: p -= lr weight_decay p)
 *     m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
 *     p -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * amsgrad keeps vmax = max(vmax, v) and uses it for v. State: "exp_avg" (m),
 * "exp_avg_sq" (v), "max_exp_avg_sq" (vmax, with amsgrad only). */
typedef struct nb_adam_opts {
    float lr;            /* default 0.001 */
    float beta1, beta2;  /* in [0, 1); defaults 0.9, 0.999 */
    float eps;           /* > 0; default 1e-8 */
    float weight_decay;  /* >= 0; default 0 for Adam, 0.01 for AdamW */
    bool amsgrad;
} nb_adam_opts;

/* RMSprop (torch.optim.RMSprop), with g = grad + weight_decay p:
 *     v = alpha v + (1 - alpha) g^2
 *     centered: a = alpha a + (1 - alpha) g,  d = sqrt(max(v - a^2, 0)) + eps;
 *     else d = sqrt(v) + eps
 *     momentum > 0: b = momentum b + g / d,  p -= lr b;   else p -= lr g / d
 * State: "square_avg" (v), "grad_avg" (a, centered only), "momentum_buffer" (b, with
 * momentum only). */
typedef struct nb_rmsprop_opts {
    float lr;            /* default 0.01 (PyTorch) */
    float alpha;         /* in [0, 1); default 0.99 */
    float eps;           /* > 0; default 1e-8 */
    float weight_decay;  /* >= 0; default 0 */
    float momentum;      /* >= 0; default 0 */
    bool centered;
} nb_rmsprop_opts;

/* Adagrad (torch.optim.Adagrad), at step t, with g = grad + weight_decay p:
 *     s += g^2,   p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)
 * s (state "sum") starts at initial_accumulator. */
typedef struct nb_adagrad_opts {
    float lr;                   /* default 0.01 */
    float lr_decay;             /* >= 0; default 0 */
    float weight_decay;         /* >= 0; default 0 */
    float initial_accumulator;  /* >= 0; default 0 */
    float eps;                  /* > 0; default 1e-10 */
} nb_adagrad_opts;

/* Each returns a new optimizer over ps (which it finalizes), or NULL: NB_ERR_NULL for a
 * NULL store, NB_ERR_ARG for invalid options, NB_ERR_NOMEM. The store must outlive the
 * optimizer. */
nb_optimizer *nb_sgd(nb_params *ps, nb_sgd_opts opts);
nb_optimizer *nb_adam(nb_params *ps, nb_adam_opts opts);
nb_optimizer *nb_adamw(nb_params *ps, nb_adam_opts opts);
nb_optimizer *nb_rmsprop(nb_params *ps, nb_rmsprop_opts opts);
nb_optimizer *nb_adagrad(nb_params *ps, nb_adagrad_opts opts);

/* Releases the optimizer and its state. NULL is allowed. */
void nb_optim_free(nb_optimizer *opt);

/* One update of every trainable parameter from its grad (grads are not zeroed), in
 * parallel over blocks of NB_OPTIM_BLOCK floats from NB_PAR_MIN trainable floats on.
 * Allocates nothing. NB_ERR_NULL for NULL; NB_ERR_STATE, with nothing updated, when
 * the state's "step" does not hold a whole number >= 0 (a bad checkpoint). */
nb_status nb_optim_step(nb_optimizer *opt);

/* "sgd", "adam", "adamw", "rmsprop", "adagrad" (or a user optimizer's name); NULL for
 * NULL. */
const char *nb_optim_name(const nb_optimizer *opt);

/* The learning rate the next step uses (NAN for NULL); setting it is how schedules
 * act. nb_optim_set_lr: NB_ERR_NULL for NULL, NB_ERR_ARG for a negative or non-finite
 * lr (the rate is unchanged). */
float nb_optim_lr(const nb_optimizer *opt);
nb_status nb_optim_set_lr(nb_optimizer *opt, float lr);

/* Steps taken so far: the state's "step" (so a restored state counts); -1 for NULL
 * (NB_ERR_NULL) or a "step" that is not a whole number >= 0 (NB_ERR_STATE). */
int64_t nb_optim_steps(const nb_optimizer *opt);

/* The optimizer's state as a finalized store of buffers (see above), owned by the
 * optimizer; write its values (nb_params_values) to restore a checkpoint. NULL for
 * NULL. */
nb_params *nb_optim_state(nb_optimizer *opt);

/* The store it updates; NULL for NULL. */
nb_params *nb_optim_params(const nb_optimizer *opt);

/* ---- writing an optimizer: the descriptor the built-in ones use ---- */

/* A user's optimizer is defined like a built-in one (src/optim/sgd.c is the model): a
 * descriptor with its name, the state it keeps per parameter element, and an update
 * over one contiguous run of parameters. */
typedef struct nb_optim_def {
    const char *name;   /* copied: need not outlive the optimizer */
    /* State buffers per parameter, each the parameter's shape, named
     * "<param>.<state_names[k]>" in nb_optim_state (at most 4). */
    int n_state;
    const char *state_names[4];
    size_t opts_size;   /* bytes of its options struct (copied) */
    /* Checks the options (NB_ERR_ARG naming the optimizer and the field); may fill in
     * defaults in place. Optional. */
    nb_status (*check)(void *opts);
    /* Updates p[0..n) from g[0..n) with state s[k][0..n), at step t (1 for the first),
     * with learning rate lr. Must own only its elements (it may be split into runs and
     * across threads). Initial state values are 0 unless init_state says otherwise. */
    void (*update)(const void *opts, float lr, int64_t t, float *p, const float *g,
                   float *const *s, int64_t n);
    /* Optional: the initial value of state k (e.g. Adagrad's initial_accumulator). */
    float (*init_state)(const void *opts, int k);
    float default_lr;   /* used when the options' lr (their first float) is 0 */
    /* Optional: whether state k is kept under these (checked) options; NULL keeps all.
     * A state not kept has no buffers and update gets s[k] == NULL (Adam keeps
     * "max_exp_avg_sq" only with amsgrad). */
    bool (*has_state)(const void *opts, int k);
} nb_optim_def;

/* Makes an optimizer from a descriptor; opts points at def->opts_size bytes whose
 * first member is `float lr`. Errors as for nb_sgd, and NB_ERR_NULL for a NULL def or
 * opts, NB_ERR_ARG for a descriptor without a name or an update, with n_state outside
 * [0, 4], a NULL state name or opts_size < sizeof(float).
 *
 * The state store holds, for every parameter entry of ps (trainable or frozen, so a
 * parameter can be frozen and unfrozen between steps) and every kept state k, the
 * buffer "<param>.<state_names[k]>": first state 0 of every parameter in ps's order,
 * then state 1, ..., then "step". A run of adjacent trainable parameters is therefore
 * contiguous in the parameters, the grads and every state, and a step calls update
 * once per block of at most NB_OPTIM_BLOCK floats of each run. */
nb_optimizer *nb_optim_new(nb_params *ps, const nb_optim_def *def, const void *opts);

/* The most floats one update call is given; a run is cut into blocks of this size from
 * its start, the same for any thread count. */
#define NB_OPTIM_BLOCK 4096

/* ---- learning-rate schedules ---- */

/* A schedule sets the optimizer's learning rate at the start of every epoch (or every
 * step, with per_step: the caller passes the step number instead of the epoch) from
 * the base rate it had when the schedule was started:
 *     NB_LR_CONSTANT:     base
 *     NB_LR_STEP:         base gamma^floor(t / step_size)          (torch StepLR)
 *     NB_LR_EXPONENTIAL:  base gamma^t                             (torch ExponentialLR)
 *     NB_LR_COSINE:       base t / warmup for t < warmup (a linear warm-up from 0), then
 *                         min_lr + (base - min_lr) (1 + cos(pi (t - warmup) / (total - warmup))) / 2
 *                         and min_lr from t = total on
 *     NB_LR_PLATEAU:      multiplies the current rate by factor when the monitored metric
 *                         has not improved by more than threshold (absolute) for patience
 *                         epochs, then waits cooldown epochs; never below min_lr (Keras'
 *                         ReduceLROnPlateau with min_delta = threshold)
 * with t the epoch (or step) counted from 0, computed in double and rounded to float. */
typedef enum nb_lr_kind {
    NB_LR_CONSTANT = 0,
    NB_LR_STEP,
    NB_LR_EXPONENTIAL,
    NB_LR_COSINE,
    NB_LR_PLATEAU,
} nb_lr_kind;

typedef struct nb_lr_schedule {
    nb_lr_kind kind;
    bool per_step;       /* count steps instead of epochs (not for NB_LR_PLATEAU) */
    int64_t step_size;   /* NB_LR_STEP, >= 1 */
    float gamma;         /* NB_LR_STEP (> 0, default 0.1), NB_LR_EXPONENTIAL (> 0, required) */
    int64_t warmup;      /* NB_LR_COSINE, >= 0 */
    int64_t total;       /* NB_LR_COSINE, > warmup */
    float min_lr;        /* NB_LR_COSINE (<= base), NB_LR_PLATEAU; >= 0 */
    float factor;        /* NB_LR_PLATEAU, in (0, 1); default 0.1 */
    int64_t patience;    /* NB_LR_PLATEAU, >= 1; default 10 */
    float threshold;     /* NB_LR_PLATEAU: a smaller improvement does not count; default 1e-4 */
    int64_t cooldown;    /* NB_LR_PLATEAU, >= 0 */
    bool maximize;       /* NB_LR_PLATEAU: the metric should grow (accuracy) */
    /* Private state, set by nb_lr_schedule_start. */
    float base_lr_;
    double best_;
    int64_t bad_, cool_;
    bool started_;
} nb_lr_schedule;

/* Checks the schedule (NB_ERR_ARG naming the field: "lr_schedule: step: step_size must
 * be >= 1, got 0"), fills in the defaults, and takes opt's current rate as the base.
 * NB_ERR_NULL for NULL. */
nb_status nb_lr_schedule_start(nb_lr_schedule *s, const nb_optimizer *opt);

/* The rate for epoch (or step) t >= 0; sets it on opt and returns it. For
 * NB_LR_PLATEAU, call it once per epoch with t = 0, 1, 2, ...: `metric` is the
 * monitored value of the epoch that just ended (ignored at t = 0, which resets the
 * plateau's counters; a NaN metric counts as no improvement). The other kinds ignore
 * `metric` and depend on t alone. NAN and an error for a NULL schedule or optimizer
 * (NB_ERR_NULL), a schedule not started (NB_ERR_STATE), t < 0 or a rate that is not
 * finite (NB_ERR_ARG). */
float nb_lr_schedule_apply(nb_lr_schedule *s, nb_optimizer *opt, int64_t t, double metric);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPTIM_H */
