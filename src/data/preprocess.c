/*
 * src/data/preprocess.c - per-feature scaling of a data set's inputs, and one-hot
 * targets.
 *
 * A "feature" is one element of a sample's shape: x [N, ...] is seen as [N, F]. The
 * statistics of each feature are summed in double over the N samples in order, by one
 * thread per block of features, so they have the same bits for any thread count. They
 * are all computed and checked before x is changed: on error x is left as it was.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nabla/data.h"
#include "nabla/parallel.h"

#include "data_internal.h"

#define FEATURE_BLOCK 64

/* x seen as [N, F]; NB_ERR_NULL / NB_ERR_SHAPE for tensors that are not [N, ...]. */
static nb_status features(const char *who, const nb_tensor *x, int64_t *N, int64_t *F)
{
    if (!x)
        return nb_set_error(NB_ERR_NULL, "%s: x is NULL", who);
    if (x->ndim == 0)
        return nb_set_error(NB_ERR_SHAPE, "%s: x is a scalar (rank 0); expected [N, ...] "
                            "with one row per sample", who);
    *N = x->shape[0];
    *F = nb_data_row_size(x);
    return NB_OK;
}

/* Per feature: sum[f] = sum_n x[n, f]; lo[f], hi[f] = min, max (if lo is not NULL);
 * with `center`, sq[f] = sum_n (x[n, f] - center[f])^2 instead. */
static void column_stats(const float *x, int64_t N, int64_t F, const double *center,
                         double *sum, double *lo, double *hi)
{
    int64_t blocks = (F + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
    NB_PARALLEL_FOR_IF(N * F >= NB_PAR_MIN, b, blocks, {
        int64_t f0 = b * FEATURE_BLOCK, f1 = f0 + FEATURE_BLOCK < F ? f0 + FEATURE_BLOCK : F;
        for (int64_t f = f0; f < f1; f++) {
            sum[f] = 0;
            if (lo) {
                lo[f] = INFINITY;
                hi[f] = -INFINITY;
            }
        }
        for (int64_t n = 0; n < N; n++) {
            const float *row = x + n * F;
            for (int64_t f = f0; f < f1; f++) {
                double v = row[f];
                if (center) {
                    double d = v - center[f];
                    sum[f] += d * d;
                } else {
                    sum[f] += v;
                }
                if (lo) {
                    lo[f] = v < lo[f] ? v : lo[f];
                    hi[f] = v > hi[f] ? v : hi[f];
                }
            }
        }
    });
}

/* x[n, f] = (x[n, f] - shift[f]) / scale[f] (scale 0: not divided), in double. */
static void apply(nb_tensor *x, int64_t N, int64_t F, const double *shift, const double *scale)
{
    float *d = x->data;
    NB_PARALLEL_FOR_IF(nb_n_ * F >= NB_PAR_MIN, n, N, {
        float *row = d + n * F;
        for (int64_t f = 0; f < F; f++) {
            double s = scale[f] != 0 ? scale[f] : 1.0;
            row[f] = (float)(((double)row[f] - shift[f]) / s);
        }
    });
}

/* Checks user-given statistics and widens them to double: shift finite, scale finite
 * and >= 0 (max >= min for min-max). */
static nb_status take_stats(const char *who, const char *shift_name, const char *scale_name,
                            const float *shift, const float *scale, bool minmax, int64_t F,
                            double *s0, double *s1)
{
    if (!shift || !scale)
        return nb_set_error(NB_ERR_NULL, "%s: %s is NULL", who, !shift ? shift_name : scale_name);
    for (int64_t f = 0; f < F; f++) {
        s0[f] = shift[f];
        s1[f] = minmax ? (double)scale[f] - shift[f] : scale[f];
        if (!isfinite(shift[f]) || !isfinite(scale[f]) || !(s1[f] >= 0))
            return nb_set_error(NB_ERR_ARG, minmax ? "%s: feature %lld has %s %g and %s %g "
                                "(need finite values, max >= min)" : "%s: feature %lld has %s "
                                "%g and %s %g (need finite values, std >= 0)", who,
                                (long long)f, shift_name, shift[f], scale_name, scale[f]);
    }
    return NB_OK;
}

/* Two arrays of F doubles (one allocation), or NULL. */
static double *scratch(int64_t F, int k)
{
    return nb_alloc((size_t)(F > 0 ? F : 1) * (size_t)k * sizeof(double), 0);
}

nb_status nb_standardize(nb_tensor *x, float *mean, float *std)
{
    int64_t N = 0, F = 0;
    nb_status s = features("standardize", x, &N, &F);
    if (s != NB_OK)
        return s;
    if (N == 0)
        return nb_set_error(NB_ERR_SHAPE, "standardize: x has no samples (first dimension "
                            "0); its statistics are undefined");
    double *m = scratch(F, 2), *v = m + F;
    if (!m)
        return NB_ERR_NOMEM;
    column_stats(x->data, N, F, NULL, m, NULL, NULL);
    for (int64_t f = 0; f < F; f++)
        m[f] /= (double)N;
    column_stats(x->data, N, F, m, v, NULL, NULL);
    for (int64_t f = 0; f < F; f++) {
        v[f] = sqrt(v[f] / (double)N);
        if (!isfinite(m[f]) || !isfinite(v[f]) || fabs(m[f]) > FLT_MAX || v[f] > FLT_MAX) {
            nb_free(m);
            return nb_set_error(NB_ERR_NUMERIC, "standardize: feature %lld has a non-finite "
                                "mean or std (the data holds NaN, infinity or values too "
                                "large for float)", (long long)f);
        }
    }
    for (int64_t f = 0; f < F; f++) {
        if (mean)
            mean[f] = (float)m[f];
        if (std)
            std[f] = (float)v[f];
    }
    apply(x, N, F, m, v);
    nb_free(m);
    return NB_OK;
}

nb_status nb_standardize_with(nb_tensor *x, const float *mean, const float *std)
{
    int64_t N = 0, F = 0;
    nb_status s = features("standardize_with", x, &N, &F);
    if (s != NB_OK)
        return s;
    double *m = scratch(F, 2), *v = m + F;
    if (!m)
        return NB_ERR_NOMEM;
    s = take_stats("standardize_with", "mean", "std", mean, std, false, F, m, v);
    if (s == NB_OK)
        apply(x, N, F, m, v);
    nb_free(m);
    return s;
}

nb_status nb_minmax_scale(nb_tensor *x, float *min, float *max)
{
    int64_t N = 0, F = 0;
    nb_status s = features("minmax_scale", x, &N, &F);
    if (s != NB_OK)
        return s;
    if (N == 0)
        return nb_set_error(NB_ERR_SHAPE, "minmax_scale: x has no samples (first dimension "
                            "0); its statistics are undefined");
    double *sum = scratch(F, 3), *lo = sum + F, *hi = lo + F;
    if (!sum)
        return NB_ERR_NOMEM;
    column_stats(x->data, N, F, NULL, sum, lo, hi);
    for (int64_t f = 0; f < F; f++) {
        /* A NaN or an infinity anywhere in the feature makes its sum non-finite. */
        if (!isfinite(sum[f])) {
            nb_free(sum);
            return nb_set_error(NB_ERR_NUMERIC, "minmax_scale: feature %lld holds NaN or "
                                "infinity", (long long)f);
        }
        hi[f] -= lo[f]; /* the range, in double */
    }
    for (int64_t f = 0; f < F; f++) {
        if (min)
            min[f] = (float)lo[f];
        if (max)
            max[f] = (float)(lo[f] + hi[f]);
    }
    apply(x, N, F, lo, hi);
    nb_free(sum);
    return NB_OK;
}

nb_status nb_minmax_scale_with(nb_tensor *x, const float *min, const float *max)
{
    int64_t N = 0, F = 0;
    nb_status s = features("minmax_scale_with", x, &N, &F);
    if (s != NB_OK)
        return s;
    double *lo = scratch(F, 2), *range = lo + F;
    if (!lo)
        return NB_ERR_NOMEM;
    s = take_stats("minmax_scale_with", "min", "max", min, max, true, F, lo, range);
    if (s == NB_OK)
        apply(x, N, F, lo, range);
    nb_free(lo);
    return s;
}

nb_tensor *nb_one_hot(const nb_tensor *labels, int64_t n_classes)
{
    if (!labels) {
        nb_set_error(NB_ERR_NULL, "one_hot: labels are NULL");
        return NULL;
    }
    if (!(labels->ndim == 1 || (labels->ndim == 2 && labels->shape[1] == 1))) {
        char b[128];
        nb_set_error(NB_ERR_SHAPE, "one_hot: labels of shape %s: expected class indices [N] "
                     "or [N, 1]", nb_tensor_shape_str(labels, b, sizeof b));
        return NULL;
    }
    if (n_classes < 1) {
        nb_set_error(NB_ERR_ARG, "one_hot: n_classes %lld is below 1", (long long)n_classes);
        return NULL;
    }
    int64_t N = labels->shape[0];
    for (int64_t i = 0; i < N; i++) {
        float l = labels->data[i];
        if (!(l >= 0 && l < (double)n_classes && l == floorf(l))) {
            nb_set_error(NB_ERR_ARG, "one_hot: label %lld is %g, not an integer in [0, %lld)",
                         (long long)i, l, (long long)n_classes);
            return NULL;
        }
    }
    nb_tensor *t = nb_tensor_zeros(NB_SHAPE(N, n_classes));
    if (!t)
        return NULL;
    for (int64_t i = 0; i < N; i++)
        t->data[i * n_classes + (int64_t)labels->data[i]] = 1.0f;
    return t;
}
