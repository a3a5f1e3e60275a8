/* The progress bar: redrawn in place on a terminal (a pseudo-terminal here), one line
 * per epoch otherwise, and with verbose 2. */
#define _DEFAULT_SOURCE /* openpty */
#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include "fit_common.h"

NB_TEST_SUITE(progbar);

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* fit for 3 epochs of 4 batches, printing to out with `verbose`. */
static void fit_to(FILE *out, int verbose, bool validation)
{
    nb_tensor *x, *y;
    circle_data(32, 1, &x, &y);
    nb_model *m = circle_model(2, NB_SGD(.lr = 0.1f));
    nb_history *h = nb_fit(m, x, y, .epochs = 3, .batch_size = 8, .verbose = verbose,
                           .out = out, .validation_split = validation ? 0.25 : 0);
    cr_assert_not_null(h, "%s", nb_error());
    nb_history_free(h);
    nb_tensor_free(x);
    nb_tensor_free(y);
    nb_model_free(m);
}

static char *read_file(FILE *f)
{
    long n = ftell(f);
    char *buf = calloc((size_t)n + 1, 1);
    rewind(f);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

Test(progbar, one_line_per_epoch_when_not_a_terminal)
{
    for (int verbose = 1; verbose <= 2; verbose++) {
        FILE *f = tmpfile();
        fit_to(f, verbose, true);
        char *text = read_file(f);
        cr_assert_eq(count(text, "\n"), 3, "%s", text);
        cr_assert_null(strchr(text, '\r'), "no redrawing in a log");
        cr_assert_eq(count(text, "Epoch "), 3);
        /* 24 training samples in batches of 8. */
        cr_assert(strstr(text, "Epoch 1/3 - 3/3 - "), "%s", text);
        cr_assert(strstr(text, "Epoch 3/3 - 3/3 - "), "%s", text);
        cr_assert_eq(count(text, "/step - loss: "), 3, "%s", text);
        cr_assert_eq(count(text, " - accuracy: "), 3);
        cr_assert_eq(count(text, " - val_loss: "), 3);
        cr_assert_eq(count(text, " - val_accuracy: "), 3);
        free(text);
        fclose(f);
    }
}

Test(progbar, a_bar_redrawn_in_place_on_a_terminal)
{
    int master, slave;
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct termios t;
    tcgetattr(slave, &t);
    t.c_oflag &= ~(tcflag_t)OPOST;  /* keep "\n" as it was written */
    tcsetattr(slave, TCSANOW, &t);
    FILE *f = fdopen(slave, "w");
    cr_assert_not_null(f);
    fit_to(f, 1, false);
    fclose(f);
    fcntl(master, F_SETFL, O_NONBLOCK);
    char text[16384];
    size_t n = 0;
    for (ssize_t k; n < sizeof text - 1 && (k = read(master, text + n, sizeof text - 1 - n)) > 0;)
        n += (size_t)k;
    text[n] = '\0';
    close(master);
    cr_assert_eq(count(text, "Epoch 1/3\n"), 1, "%s", text);
    cr_assert_eq(count(text, "Epoch 3/3\n"), 1, "%s", text);
    /* The first batch is drawn with its ETA, the last with the time per step, in place. */
    cr_assert_geq(count(text, "\r1/4 ["), 3, "%s", text);
    cr_assert(strstr(text, " elapsed - ETA: "), "%s", text);
    cr_assert_eq(count(text, "\r4/4 [==============================] - "), 3, "%s", text);
    cr_assert_eq(count(text, "/step - loss: "), 3, "%s", text);
    cr_assert(strstr(text, "\r1/4 [=======>......................]"), "%s", text);
    cr_assert_eq(count(text, "\n"), 6, "a header and a finished bar per epoch: %s", text);
}

Test(progbar, errors)
{
    assert_error(nb_progbar_new(stdout, 0), NB_ERR_ARG, "progbar: verbose must be 1 or 2, got 0");
    nb_callback_free(NULL);
}
