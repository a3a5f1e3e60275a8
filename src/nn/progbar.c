/*
 * src/nn/progbar.c - the progress bar, a callback (Keras's ProgbarLogger).
 *
 * On a terminal, with verbose 1, every epoch prints "Epoch 3/10" and then a line that is
 * redrawn in place (\r) at most every 50 ms and after the last batch:
 *
 *      12/100 [==>...........................] - 1s elapsed - ETA: 7s - loss: 0.4321
 *     100/100 [==============================] - 8s 80ms/step - loss: 0.2100 - val_loss: ...
 *
 * Otherwise (verbose 2, or the output is not a terminal) one line per epoch, so logs
 * stay readable:
 *
 *     Epoch 3/10 - 100/100 - 8s 80ms/step - loss: 0.2100 - val_loss: 0.2500
 *
 * It writes with stdio into a line buffer on the stack: a step allocates nothing.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fileno, isatty */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nabla.h"
#include "nabla/nn.h"

#define BAR 30
#define REDRAW_S 0.05

typedef struct progbar {
    nb_callback cb;            /* first: the callback is the progress bar */
    FILE *out;
    int verbose;
    bool bar;                  /* redraw in place (a terminal, verbose 1) */
    int64_t epochs, steps, epoch, done;
    double t_epoch, t_drawn;
    int last_len;
} progbar;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keras's durations: "7s", "1:02", "1:02:03". */
static int duration(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        return snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    if (t >= 60)
        return snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    return snprintf(buf, n, "%lds", t);
}

/* " - loss: 0.4321 - accuracy: 0.7500" */
static size_t put_logs(char *buf, size_t n, const nb_logs *logs)
{
    size_t k = 0;
    for (int i = 0; logs && i < logs->n && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, " - %s: %.4f", logs->names[i], logs->values[i]);
    return k < n ? k : n - 1;
}

/* "8s 80ms/step" for an epoch that took `elapsed` over `steps` batches. */
static size_t put_speed(char *buf, size_t n, double elapsed, int64_t steps)
{
    char d[32];
    duration(d, sizeof d, elapsed);
    double per = steps > 0 ? elapsed / (double)steps : 0;
    if (per >= 1)
        return (size_t)snprintf(buf, n, "%s %.0fs/step", d, per);
    if (per >= 1e-3)
        return (size_t)snprintf(buf, n, "%s %.0fms/step", d, per * 1e3);
    return (size_t)snprintf(buf, n, "%s %.0fus/step", d, per * 1e6);
}

static void draw(progbar *p, const nb_logs *logs, bool final)
{
    char line[1024];
    double t = now(), elapsed = t - p->t_epoch;
    int64_t steps = p->steps > 0 ? p->steps : p->done;
    int w = 1;
    for (int64_t s = steps; s >= 10; s /= 10)
        w++;
    size_t k = (size_t)snprintf(line, sizeof line, "\r%*lld/%lld [", w, (long long)p->done,
                                (long long)steps);
    int fill = steps > 0 ? (int)(BAR * p->done / steps) : BAR;
    for (int i = 0; i < BAR; i++)
        line[k++] = i < fill ? '=' : i == fill ? '>' : '.';
    line[k++] = ']';
    if (final) {
        k += (size_t)snprintf(line + k, sizeof line - k, " - ");
        k += put_speed(line + k, sizeof line - k, elapsed, p->done);
    } else {
        char d[32], e[32];
        duration(d, sizeof d, elapsed);
        double eta = p->done > 0 ? elapsed / (double)p->done * (double)(steps - p->done) : 0;
        duration(e, sizeof e, eta);
        k += (size_t)snprintf(line + k, sizeof line - k, " - %s elapsed - ETA: %s", d, e);
    }
    if (k < sizeof line)
        k += put_logs(line + k, sizeof line - k, logs);
    int len = (int)k;
    /* Blank what a longer previous line left behind. */
    int pad = p->last_len > len ? p->last_len - len : 0;
    fprintf(p->out, "%s%*s%s", line, pad, "", final ? "\n" : "");
    fflush(p->out);
    p->last_len = final ? 0 : len;
    p->t_drawn = t;
}

static nb_status progbar_train_begin(nb_callback *cb, nb_model *m, const nb_fit_info *info)
{
    (void)m;
    progbar *p = (progbar *)cb;
    if (!p->out)
        p->out = info->out ? info->out : stdout;
    p->epochs = info->epochs;
    p->steps = info->steps;
    p->bar = p->verbose == 1 && isatty(fileno(p->out));
    return NB_OK;
}

static nb_status progbar_epoch_begin(nb_callback *cb, nb_model *m, int64_t epoch)
{
    (void)m;
    progbar *p = (progbar *)cb;
    p->epoch = epoch;
    p->done = 0;
    p->t_epoch = p->t_drawn = now();
    p->last_len = 0;
    if (p->bar) {
        fprintf(p->out, "Epoch %lld/%lld\n", (long long)epoch + 1, (long long)p->epochs);
        fflush(p->out);
    }
    return NB_OK;
}

static nb_status progbar_batch_end(nb_callback *cb, nb_model *m, int64_t batch,
                                   const nb_logs *logs)
{
    (void)m;
    progbar *p = (progbar *)cb;
    p->done = batch + 1;
    if (p->bar && (p->done == 1 || now() - p->t_drawn >= REDRAW_S))
        draw(p, logs, false);
    return NB_OK;
}

static nb_status progbar_epoch_end(nb_callback *cb, nb_model *m, int64_t epoch,
                                   const nb_logs *logs)
{
    (void)m;
    progbar *p = (progbar *)cb;
    if (p->bar) {
        draw(p, logs, true);
        return NB_OK;
    }
    char line[1024];
    size_t k = (size_t)snprintf(line, sizeof line, "Epoch %lld/%lld - %lld/%lld - ",
                                (long long)epoch + 1, (long long)p->epochs, (long long)p->done,
                                (long long)(p->steps > 0 ? p->steps : p->done));
    k += put_speed(line + k, sizeof line - k, now() - p->t_epoch, p->done);
    if (k < sizeof line)
        put_logs(line + k, sizeof line - k, logs);
    fprintf(p->out, "%s\n", line);
    fflush(p->out);
    return NB_OK;
}

static void progbar_free(nb_callback *cb) { nb_free(cb); }

nb_callback *nb_progbar_new(FILE *out, int verbose)
{
    if (verbose < 1 || verbose > 2) {
        nb_set_error(NB_ERR_ARG, "progbar: verbose must be 1 or 2, got %d", verbose);
        return NULL;
    }
    progbar *p = nb_alloc(sizeof *p, 0);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->cb = (nb_callback){.on_train_begin = progbar_train_begin,
                          .on_epoch_begin = progbar_epoch_begin,
                          .on_batch_end = progbar_batch_end,
                          .on_epoch_end = progbar_epoch_end,
                          .free = progbar_free};
    p->out = out;
    p->verbose = verbose;
    return &p->cb;
}
