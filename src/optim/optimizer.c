/*
 * src/optim/optimizer.c - what every optimizer shares (nabla/optim.h): the descriptor,
 * the state store, and the step, which walks the trainable parameters as contiguous
 * runs and hands each run to the descriptor's update in fixed-size blocks.
 *
 * Written on the public headers only, like a user's optimizer would be.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nabla.h"
#include "nabla/optim.h"
#include "nabla/parallel.h"
#include "nabla/params.h"

/* A run of adjacent trainable parameters: [off, off + n) of the parameter arena. */
typedef struct run {
    int64_t off, n;
    int64_t first_block;   /* blocks of the runs before it */
} run;

struct nb_optimizer {
    nb_optim_def def;
    char name[64];
    void *opts;             /* def.opts_size bytes, checked */
    nb_params *ps, *state;
    float lr;
    int64_t steps;          /* exact; state's "step" mirrors it */
    float *step_buf;        /* the "step" buffer's one float */
    float *s[4];            /* state k of the parameter arena's float 0, or NULL */
    run *runs;              /* room for every parameter entry */
};

/* ---- creation -------------------------------------------------------------------------- */

static nb_status check_lr(const char *name, float lr)
{
    if (!(isfinite(lr) && lr >= 0))
        return nb_set_error(NB_ERR_ARG, "%s: lr must be finite and >= 0, got %g", name,
                            (double)lr);
    return NB_OK;
}

static nb_status check_def(const nb_optim_def *def)
{
    const char *name = def->name ? def->name : "optim_new";
    if (!def->name || !def->name[0])
        return nb_set_error(NB_ERR_ARG, "optim_new: the descriptor has no name");
    if (strlen(def->name) >= sizeof ((nb_optimizer *)0)->name)
        return nb_set_error(NB_ERR_ARG, "optim_new: name '%.20s...' is longer than %zu "
                            "characters", def->name, sizeof ((nb_optimizer *)0)->name - 1);
    if (!def->update)
        return nb_set_error(NB_ERR_ARG, "%s: the descriptor has no update", name);
    if (def->n_state < 0 || def->n_state > 4)
        return nb_set_error(NB_ERR_ARG, "%s: n_state must be in [0, 4], got %d", name,
                            def->n_state);
    for (int k = 0; k < def->n_state; k++)
        if (!def->state_names[k])
            return nb_set_error(NB_ERR_ARG, "%s: state_names[%d] is NULL", name, k);
    if (def->opts_size < sizeof(float))
        return nb_set_error(NB_ERR_ARG, "%s: opts_size %zu cannot hold the leading float lr",
                            name, def->opts_size);
    return NB_OK;
}

/* Adds state k's buffer of every parameter entry of ps to the state store. */
static nb_status add_state(nb_optimizer *opt, int k)
{
    const nb_params *ps = opt->ps;
    for (int64_t i = 0; i < nb_params_count(ps); i++) {
        if (nb_params_kind(ps, i) != NB_PARAM)
            continue;
        const char *pname = nb_params_name(ps, i);
        char name[2 * NB_PARAM_NAME_MAX + 2];
        snprintf(name, sizeof name, "%s.%s", pname, opt->def.state_names[k]);
        const nb_tensor *p = nb_params_at(ps, i);
        if (!nb_params_add(opt->state, name, NB_BUFFER, p->ndim, p->shape)) {
            if (nb_error_code() == NB_ERR_NOMEM)
                return NB_ERR_NOMEM;
            char why[256];
            snprintf(why, sizeof why, "%s", nb_error());
            return nb_set_error(nb_error_code(), "%s: cannot keep state '%s' of '%s': %s",
                                opt->name, opt->def.state_names[k], pname, why);
        }
    }
    return NB_OK;
}

/* Makes the state store: state 0 of every parameter, state 1, ..., then "step". */
static nb_status make_state(nb_optimizer *opt)
{
    if (!(opt->state = nb_params_new()))
        return NB_ERR_NOMEM;
    bool kept[4] = {false};
    for (int k = 0; k < opt->def.n_state; k++) {
        kept[k] = !opt->def.has_state || opt->def.has_state(opt->opts, k);
        nb_status s = kept[k] ? add_state(opt, k) : NB_OK;
        if (s != NB_OK)
            return s;
    }
    if (!nb_params_add(opt->state, "step", NB_BUFFER, NB_SHAPE(1)))
        return nb_error_code();
    nb_status s = nb_params_finalize(opt->state);
    if (s != NB_OK)
        return s;

    int64_t P = nb_params_numel(opt->ps, NB_PARAM);
    float *v = nb_params_values(opt->state);
    int64_t at = 0;
    for (int k = 0; k < opt->def.n_state; k++) {
        if (!kept[k])
            continue;
        opt->s[k] = v + at;
        float init = opt->def.init_state ? opt->def.init_state(opt->opts, k) : 0.0f;
        for (int64_t i = 0; i < P; i++)
            opt->s[k][i] = init;
        at += P;
    }
    opt->step_buf = nb_params_find(opt->state, "step")->data;
    opt->step_buf[0] = 0.0f;
    return NB_OK;
}

nb_optimizer *nb_optim_new(nb_params *ps, const nb_optim_def *def, const void *opts)
{
    if (!def || !opts || !ps) {
        const char *name = def && def->name ? def->name : "optim_new";
        nb_set_error(NB_ERR_NULL, "%s: %s is NULL", name,
                     !ps ? "the parameter store" : !def ? "the descriptor" : "opts");
        return NULL;
    }
    if (check_def(def) != NB_OK)
        return NULL;
    nb_optimizer *opt = nb_alloc(sizeof *opt, 0);
    if (!opt)
        return NULL;
    memset(opt, 0, sizeof *opt);
    opt->def = *def;
    snprintf(opt->name, sizeof opt->name, "%s", def->name);
    opt->def.name = opt->name;
    opt->ps = ps;

    nb_status s = NB_ERR_NOMEM;
    if (!(opt->opts = nb_alloc(def->opts_size, 0)))
        goto fail;
    memcpy(opt->opts, opts, def->opts_size);
    float lr;
    memcpy(&lr, opt->opts, sizeof lr);
    if (lr == 0.0f) {
        lr = def->default_lr;
        memcpy(opt->opts, &lr, sizeof lr);
    }
    if ((s = check_lr(opt->name, lr)) != NB_OK)
        goto fail;
    if (def->check && (s = def->check(opt->opts)) != NB_OK)
        goto fail;
    memcpy(&opt->lr, opt->opts, sizeof opt->lr);
    if ((s = check_lr(opt->name, opt->lr)) != NB_OK)
        goto fail;

    if ((s = nb_params_finalize(ps)) != NB_OK)
        goto fail;
    int64_t n_entries = nb_params_count(ps);
    s = NB_ERR_NOMEM;
    if (!(opt->runs = nb_alloc((size_t)(n_entries > 0 ? n_entries : 1) * sizeof *opt->runs, 0)))
        goto fail;
    if ((s = make_state(opt)) != NB_OK)
        goto fail;
    return opt;
fail:
    (void)s;
    nb_optim_free(opt);
    return NULL;
}

void nb_optim_free(nb_optimizer *opt)
{
    if (!opt)
        return;
    nb_params_free(opt->state);
    nb_free(opt->runs);
    nb_free(opt->opts);
    nb_free(opt);
}

/* ---- the step ---------------------------------------------------------------------------- */

/* The step count the state says, or -1 (with an error) if "step" is not a count. */
static int64_t state_steps(const nb_optimizer *opt)
{
    float b = opt->step_buf[0];
    if (b == (float)opt->steps)
        return opt->steps;
    if (!(b >= 0.0f && b <= 0x1p62f && b == floorf(b))) {
        nb_set_error(NB_ERR_STATE, "%s: the state's 'step' holds %g, not a step count "
                     "(a whole number >= 0)", opt->name, (double)b);
        return -1;
    }
    return (int64_t)b;
}

/* Fills opt->runs with the runs of adjacent trainable parameters; returns their number
 * and the blocks and floats they hold. */
static int64_t find_runs(nb_optimizer *opt, int64_t *blocks, int64_t *floats)
{
    const nb_params *ps = opt->ps;
    int64_t n_runs = 0, nb = 0, nf = 0;
    run *cur = NULL;
    for (int64_t i = 0; i < nb_params_count(ps); i++) {
        const nb_tensor *p = nb_params_at(ps, i);
        if (nb_params_kind(ps, i) != NB_PARAM || !p->requires_grad || p->size == 0)
            continue;
        int64_t off = nb_params_offset(ps, i);
        if (cur && cur->off + cur->n == off) {
            cur->n += p->size;
        } else {
            cur = &opt->runs[n_runs++];
            *cur = (run){.off = off, .n = p->size};
        }
    }
    for (int64_t r = 0; r < n_runs; r++) {
        opt->runs[r].first_block = nb;
        nb += (opt->runs[r].n + NB_OPTIM_BLOCK - 1) / NB_OPTIM_BLOCK;
        nf += opt->runs[r].n;
    }
    *blocks = nb;
    *floats = nf;
    return n_runs;
}

/* The run holding global block b (runs are sorted by first_block). */
static const run *run_of_block(const run *runs, int64_t n_runs, int64_t b)
{
    int64_t lo = 0, hi = n_runs - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (runs[mid].first_block <= b)
            lo = mid;
        else
            hi = mid - 1;
    }
    return &runs[lo];
}

nb_status nb_optim_step(nb_optimizer *opt)
{
    if (!opt)
        return nb_set_error(NB_ERR_NULL, "optim_step: optimizer is NULL");
    int64_t done = state_steps(opt);
    if (done < 0)
        return NB_ERR_STATE;
    const int64_t t = done + 1;
    int64_t n_blocks, n_floats;
    const int64_t n_runs = find_runs(opt, &n_blocks, &n_floats);
    float *const p = nb_params_values(opt->ps);
    const float *const g = nb_params_grads(opt->ps);
    const run *const runs = opt->runs;
    const nb_optim_def *const def = &opt->def;
    const void *const opts = opt->opts;
    const float lr = opt->lr;
    float *const *const s = opt->s;
    const int n_state = def->n_state;
    NB_PARALLEL_FOR_IF(n_floats >= NB_PAR_MIN, b, n_blocks, {
        const run *r = run_of_block(runs, n_runs, b);
        int64_t start = r->off + (b - r->first_block) * NB_OPTIM_BLOCK;
        int64_t end = r->off + r->n;
        int64_t n = end - start < NB_OPTIM_BLOCK ? end - start : NB_OPTIM_BLOCK;
        float *sb[4] = {NULL, NULL, NULL, NULL};
        for (int k = 0; k < n_state; k++)
            sb[k] = s[k] ? s[k] + start : NULL;
        def->update(opts, lr, t, p + start, g + start, sb, n);
    });
    opt->steps = t;
    opt->step_buf[0] = (float)t;
    return NB_OK;
}

/* ---- queries -------------------------------------------------------------------------------- */

const char *nb_optim_name(const nb_optimizer *opt)
{
    if (!opt) {
        nb_set_error(NB_ERR_NULL, "optim_name: optimizer is NULL");
        return NULL;
    }
    return opt->name;
}

float nb_optim_lr(const nb_optimizer *opt)
{
    if (!opt) {
        nb_set_error(NB_ERR_NULL, "optim_lr: optimizer is NULL");
        return NAN;
    }
    return opt->lr;
}

nb_status nb_optim_set_lr(nb_optimizer *opt, float lr)
{
    if (!opt)
        return nb_set_error(NB_ERR_NULL, "optim_set_lr: optimizer is NULL");
    nb_status s = check_lr(opt->name, lr);
    if (s == NB_OK)
        opt->lr = lr;
    return s;
}

int64_t nb_optim_steps(const nb_optimizer *opt)
{
    if (!opt) {
        nb_set_error(NB_ERR_NULL, "optim_steps: optimizer is NULL");
        return -1;
    }
    return state_steps(opt);
}

nb_params *nb_optim_state(nb_optimizer *opt)
{
    if (!opt) {
        nb_set_error(NB_ERR_NULL, "optim_state: optimizer is NULL");
        return NULL;
    }
    return opt->state;
}

nb_params *nb_optim_params(const nb_optimizer *opt)
{
    if (!opt) {
        nb_set_error(NB_ERR_NULL, "optim_params: optimizer is NULL");
        return NULL;
    }
    return opt->ps;
}
