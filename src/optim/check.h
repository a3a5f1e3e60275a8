/*
 * src/optim/check.h - option checks the built-in optimizers share. Each records
 * NB_ERR_ARG as "<optimizer>: <field> must be ..., got <value>" and returns it.
 * Module-private (public headers only underneath); a user's optimizer writes its own.
 */
#ifndef NABLA_OPTIM_CHECK_H
#define NABLA_OPTIM_CHECK_H

#include <math.h>

#include "nabla/core.h"

/* v finite and >= 0. */
static inline nb_status optim_check_nonneg(const char *opt, const char *field, float v)
{
    if (isfinite(v) && v >= 0.0f)
        return NB_OK;
    return nb_set_error(NB_ERR_ARG, "%s: %s must be finite and >= 0, got %g", opt, field,
                        (double)v);
}

/* v finite and > 0. */
static inline nb_status optim_check_pos(const char *opt, const char *field, float v)
{
    if (isfinite(v) && v > 0.0f)
        return NB_OK;
    return nb_set_error(NB_ERR_ARG, "%s: %s must be finite and > 0, got %g", opt, field,
                        (double)v);
}

/* v in [0, 1), or [0, 1] if closed. */
static inline nb_status optim_check_unit(const char *opt, const char *field, float v,
                                         bool closed)
{
    if (v >= 0.0f && (closed ? v <= 1.0f : v < 1.0f))
        return NB_OK;
    return nb_set_error(NB_ERR_ARG, "%s: %s must be in [0, 1%s, got %g", opt, field,
                        closed ? "]" : ")", (double)v);
}

#endif /* NABLA_OPTIM_CHECK_H */
