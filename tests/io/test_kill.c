/*
 * The kill test: a child process saves a 20 MB store in a loop, each save a new version
 * (reported to the parent through a pipe once it has returned); the parent SIGKILLs it
 * after 0-2 finished saves and a random delay, many times. After every kill the file at
 * the path must load and hold exactly one of the versions written (the last one before
 * this child, or one of this child's), and a leftover temp file is never that file: it
 * is either rejected as malformed or a complete version itself.
 */
#include "io_common.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

NB_TEST_SUITE(kill);

#define KILL_FLOATS (5 * 1024 * 1024)  /* 20 MB */
#define KILLS 60

static float value_of(uint64_t version, uint64_t i)
{
    uint32_t bits = (uint32_t)(i * 2654435761u) ^ (uint32_t)(version * 0x9e3779b97f4a7c15ull);
    return (float)(bits >> 8);  /* exact: 24 bits */
}

static void fill(nb_params *ps, uint64_t version)
{
    float *v = nb_params_values(ps);
    for (uint64_t i = 0; i < KILL_FLOATS; i++)
        v[i] = value_of(version, i);
}

static nb_params *big_store(void)
{
    nb_params *ps = nb_params_new();
    cr_assert_not_null(nb_params_add(ps, "w", NB_PARAM, NB_SHAPE(KILL_FLOATS - 8)));
    cr_assert_not_null(nb_params_add(ps, "b", NB_BUFFER, NB_SHAPE(8)));
    cr_assert_eq(nb_params_finalize(ps), NB_OK);
    return ps;
}

static nb_status save_version(const char *path, nb_params *ps, nb_meta *meta, uint64_t version)
{
    fill(ps, version);
    nb_status s = nb_meta_set_u64(meta, "version", version);
    if (s == NB_OK)
        s = nb_checkpoint_save(path, &(nb_checkpoint_part){NULL, ps}, 1, meta);
    return s;
}

/* Loads `path` into ps and returns the version it holds, checking every value; -1 if it
 * does not load (the error is in nb_error), -2 if its values are not that version's. */
static int64_t load_version(const char *path, nb_params *ps)
{
    nb_meta *meta = NULL;
    if (nb_checkpoint_load(path, &(nb_checkpoint_part){NULL, ps}, 1, NULL, &meta) != NB_OK)
        return -1;
    uint64_t version;
    nb_status s = nb_meta_get_u64(meta, "version", &version);
    nb_meta_free(meta);
    if (s != NB_OK)
        return -2;
    const float *v = nb_params_values(ps);
    for (uint64_t i = 0; i < KILL_FLOATS; i++)
        if (v[i] != value_of(version, i))
            return -2;
    return (int64_t)version;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char dir[64];
static void setup(void) { tmpdir_make(dir); }
static void teardown(void) { tmpdir_remove(dir); }  /* also after a failure: 20 MB files */

Test(kill, a_save_killed_at_any_moment_leaves_a_whole_checkpoint, .timeout = 280,
     .init = setup, .fini = teardown)
{
    char path[512];
    path_in(dir, "big.safetensors", path);
    nb_params *ps = big_store(), *got = big_store();
    nb_meta *meta = nb_meta_new();
    /* Version 0 by the parent; the time of one save sets the range of the delays. */
    double t0 = now();
    cr_assert_eq(save_version(path, ps, meta, 0), NB_OK, "%s", nb_error());
    double t_save = now() - t0;
    if (t_save < 0.005)
        t_save = 0.005;

    int64_t last = 0;  /* the version the file holds */
    int kept_old = 0, got_new = 0, stray_partial = 0, stray_whole = 0;
    const uint64_t seed = 20240611;
    for (int k = 0; k < KILLS; k++) {
        uint64_t base = (uint64_t)(k + 1) << 32;
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  /* never outlive a failed test */
            close(fds[0]);
            nb_set_num_threads(1);
            for (uint64_t j = 0; j < 1000; j++) {
                if (save_version(path, ps, meta, base + j) != NB_OK)
                    _exit(3);
                uint64_t done = base + j;  /* reported once the save has returned */
                if (write(fds[1], &done, sizeof done) != (ssize_t)sizeof done)
                    _exit(4);
            }
            _exit(0);
        }
        close(fds[1]);
        /* Let 0, 1 or 2 saves finish (the child says so through the pipe), then wait a
         * random part of a save: the kill lands before the first rename, in the middle
         * of writing or syncing, or between saves -- whatever the machine's load. */
        int64_t reported = -1;
        double t_last = now();
        for (int w = 0; w < k % 3; w++) {
            uint64_t done;
            cr_assert_eq(read(fds[0], &done, sizeof done), (ssize_t)sizeof done,
                         "kill %d: the child stopped saving", k);
            reported = (int64_t)done;
            double t = now();
            if (w > 0 && t - t_last > t_save)
                t_save = t - t_last;  /* the machine is slower than the first save said */
            t_last = t;
        }
        double u = nb_rng_uniform(seed, (uint64_t)k);
        double delay = (k % 2 ? 0.25 : 1.2) * u * t_save;
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        close(fds[0]);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "kill %d: the child ended by itself (status 0x%x)", k, status);

        int64_t v = load_version(path, got);
        cr_assert_neq(v, -1, "kill %d after %.1f ms: the checkpoint does not load: %s", k,
                      1e3 * delay, nb_error());
        cr_assert_neq(v, -2, "kill %d after %.1f ms: the checkpoint is not a whole version", k,
                      1e3 * delay);
        bool old = v == last, fresh = (uint64_t)v >= base && (uint64_t)v < base + 1000;
        cr_assert(old || fresh, "kill %d: the file holds version %#llx, expected %#llx or one "
                  "of this child's", k, (unsigned long long)v, (unsigned long long)last);
        cr_assert_geq(v, reported, "kill %d: version %#llx was saved, the file holds %#llx", k,
                      (unsigned long long)reported, (unsigned long long)v);
        kept_old += old;
        got_new += fresh;
        last = v;

        /* What the kill left: the checkpoint and at most this child's temp file. */
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
        int others = count_files(dir, "") - 1 - (access(tmp, F_OK) == 0);
        cr_assert_eq(others, 0, "kill %d: unexpected files in %s", k, dir);
        if (access(tmp, F_OK) == 0) {
            int64_t tv = load_version(tmp, got);
            cr_assert_neq(tv, -2, "kill %d: a temp file loaded with wrong values", k);
            if (tv == -1) {
                cr_assert_eq(nb_error_code(), NB_ERR_IO, "%s", nb_error());
                stray_partial++;
            } else {
                stray_whole++;
            }
            cr_assert_eq(unlink(tmp), 0);
        }
    }
    cr_log_info("save %.1f ms; %d kills: old kept %d, new %d; temp files partial %d, whole %d",
                1e3 * t_save, KILLS, kept_old, got_new, stray_partial, stray_whole);
    cr_assert_gt(kept_old, 0, "no kill landed before a save finished");
    cr_assert_gt(got_new, 0, "no save finished before its kill");
    cr_assert_gt(stray_partial + stray_whole, 0, "no kill landed in the middle of a save");
    nb_meta_free(meta);
    nb_params_free(ps);
    nb_params_free(got);
}
