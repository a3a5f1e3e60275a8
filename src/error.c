/*
 * src/error.c - the per-thread error message, and the per-thread scope name.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define NB_ERROR_LEN 512

static _Thread_local char error_msg[NB_ERROR_LEN];
static _Thread_local nb_status error_code;
static _Thread_local uint64_t error_step;  /* nb_step_id() when it was recorded */
static _Thread_local const char *scope;
static _Thread_local uint64_t error_serial;  /* errors recorded so far */

const char *nb_error(void) { return error_msg; }

nb_status nb_error_code(void) { return error_code; }

bool nb_error_is_recent(void) { return error_code != NB_OK && error_step == nb_step_id(); }

uint64_t nb_error_serial(void) { return error_serial; }

void nb_error_clear(void)
{
    error_msg[0] = '\0';
    error_code = NB_OK;
}

nb_status nb_set_error_v(nb_status code, const char *prefix, const char *fmt, va_list ap)
{
    size_t n = 0;
    if (prefix) {
        int k = snprintf(error_msg, sizeof error_msg, "%s: ", prefix);
        n = k < 0 ? 0 : (size_t)k < sizeof error_msg ? (size_t)k : sizeof error_msg - 1;
    }
    vsnprintf(error_msg + n, sizeof error_msg - n, fmt, ap);
    error_code = code;
    error_step = nb_step_id();
    error_serial++;
    return code;
}

nb_status nb_set_error(nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nb_set_error_v(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

nb_status nb_op_error(const nb_op_ctx *ctx, nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nb_set_error_v(code, ctx ? ctx->op->name : NULL, fmt, ap);
    va_end(ap);
    return code;
}

nb_tensor *nb_op_fail(const nb_op *op, nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nb_set_error_v(code, op && op->name ? op->name : "op", fmt, ap);
    va_end(ap);
    return NULL;
}

const char *nb_set_scope(const char *name)
{
    const char *prev = scope;
    scope = name;
    return prev;
}

const char *nb_scope(void) { return scope; }

const char *nb_status_str(nb_status code)
{
    static const char *const names[] = {
        [NB_OK] = "ok",
        [NB_ERR_SHAPE] = "shape error",
        [NB_ERR_ARG] = "bad argument",
        [NB_ERR_NULL] = "NULL input",
        [NB_ERR_NOMEM] = "out of memory",
        [NB_ERR_STATE] = "bad state",
        [NB_ERR_IO] = "I/O error",
        [NB_ERR_NUMERIC] = "NaN or infinity",
    };
    _Static_assert(sizeof names / sizeof names[0] == NB_ERR_COUNT, "a status has no name");
    return (unsigned)code < NB_ERR_COUNT ? names[code] : "unknown status";
}
