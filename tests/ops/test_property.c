/*
 * Randomized property tests for every op of nabla/ops.h.
 *
 * Each case draws shapes (0 and 1 sizes, odd sizes, every rank the op accepts,
 * broadcast pairs) and option values (axes, strides, pads, dilations, groups, kernel
 * sizes, reductions, probabilities), sometimes an invalid combination, and checks:
 *   - an invalid combination returns NULL with NB_ERR_ARG or NB_ERR_SHAPE and a message
 *     naming the op (never a crash, never a result); a NULL input, NB_ERR_NULL naming
 *     the op and the input;
 *   - a valid one has the expected shape and values, against a naive reference
 *     computed here in double (written from the formulas in ops.h, not from the ops);
 *   - on small sizes, the gradient against finite differences (nb_gradcheck);
 *   - otherwise, a backward runs (so the sanitizers see it).
 *
 * Cases are seeded: case c of op k uses a generator seeded from (NABLA_PROPERTY_SEED,
 * k, c), so a failure message "[<op> case <c>, NABLA_PROPERTY_SEED=<s>] ..." with the
 * case's shapes and options is reproduced by running again with that seed.
 * NABLA_PROPERTY_CASES=<n> runs n cases per op (default 3000).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

NB_TEST_SUITE(property);

/* ---- the case context: seeded generator, description, owned tensors ---------------- */

typedef struct prng {
    uint64_t s;
} prng;

static uint64_t rnext(prng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* An int in [lo, hi]. */
static int rint_in(prng *r, int lo, int hi) { return lo + (int)(rnext(r) % (uint64_t)(hi - lo + 1)); }
static double runif(prng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0);
}
/* True with probability 1/n. */
static bool one_in(prng *r, int n) { return rnext(r) % (uint64_t)n == 0; }

static uint64_t base_seed = 20260602;
static const char *cur_op;
static int cur_case;
static char desc[1024];
static size_t desc_len;

#define MAX_OWNED 16
static nb_tensor *owned[MAX_OWNED];
static int n_owned;

static void desc_add(const char *fmt, ...) NB_PRINTF(1, 2);
static void desc_add(const char *fmt, ...)
{
    if (desc_len >= sizeof desc - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(desc + desc_len, sizeof desc - desc_len, fmt, ap);
    va_end(ap);
    if (k > 0)
        desc_len += (size_t)k < sizeof desc - desc_len ? (size_t)k : sizeof desc - desc_len - 1;
}

#define PCHECK(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            char m_[512];                                                                  \
            snprintf(m_, sizeof m_, __VA_ARGS__);                                          \
            cr_assert_fail("[%s case %d, NABLA_PROPERTY_SEED=%llu] %s\n  case: %s", cur_op, \
                           cur_case, (unsigned long long)base_seed, m_, desc);             \
        }                                                                                  \
    } while (0)

/* A persistent tensor with values uniform in [lo, hi), freed at the end of the case. */
static nb_tensor *mk(prng *r, int ndim, const int64_t *shape, double lo, double hi,
                     const char *name)
{
    nb_tensor *t = nb_tensor_zeros(ndim, shape);
    PCHECK(t, "could not make %s: %s", name, nb_error());
    PCHECK(n_owned < MAX_OWNED, "too many tensors");
    owned[n_owned++] = t;
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (float)runif(r, lo, hi);
    char s[96];
    desc_add("%s%s", desc_len ? ", " : "", name);
    desc_add(" %s", nb_tensor_shape_str(t, s, sizeof s));
    return t;
}

/* Values far apart (steps of 0.07 in random order): no ties for max pooling, and none
 * within a finite-difference step. */
static void fill_distinct(prng *r, nb_tensor *t)
{
    int64_t n = t->size;
    for (int64_t i = 0; i < n; i++)
        t->data[i] = (float)((double)i - (double)n / 2) * 0.07f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rnext(r) % (uint64_t)(i + 1));
        float v = t->data[i];
        t->data[i] = t->data[j];
        t->data[j] = v;
    }
}

/* A random shape of rank in [rmin, rmax] whose non-zero dimensions multiply to at most
 * max_size; dimensions are 0 (rarely), 1 (often) or small, odd ones included. */
static int rshape(prng *r, int rmin, int rmax, int64_t max_size, int64_t *shape)
{
    static const int64_t dims[] = {1, 1, 2, 3, 4, 5, 7};
    int nd = rint_in(r, rmin, rmax);
    for (int d = 0; d < nd; d++)
        shape[d] = one_in(r, 14) ? 0 : dims[rnext(r) % 7];
    for (;;) {
        int64_t p = 1;
        int big = -1;
        for (int d = 0; d < nd; d++)
            if (shape[d] > 0) {
                p *= shape[d];
                if (big < 0 || shape[d] > shape[big])
                    big = d;
            }
        if (p <= max_size || big < 0)
            break;
        shape[big] = shape[big] > 2 ? shape[big] - 2 : 1;
    }
    return nd;
}

static int64_t shape_size(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= s[d];
    return n;
}

/* ---- what one case is ------------------------------------------------------------- */

typedef struct params {
    int kind;               /* which op of a family (unary, binary, reduction) */
    int axis, dim0, dim1;
    bool keepdim, training;
    float p, s, momentum, eps;
    uint64_t seed;
    nb_reduction red;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    nb_conv2d_opts co;
    nb_pool2d_opts po;
    bool has_bias;
} params;

typedef struct pcase {
    nb_tensor *in[5];
    int n_in;
    unsigned diff;          /* inputs that may require grad */
    params p;
    bool valid;             /* the test's own verdict on the combination */
    int ndim;               /* expected output shape (valid cases) */
    int64_t shape[NB_MAX_DIMS];
    double *want;           /* expected values, malloc'ed, shape's product of them */
    double atol, rtol;      /* tolerance of values */
    double gatol, grtol;    /* of gradients (nb_gradcheck's atol, rtol) */
    float geps;             /* gradcheck eps */
    bool grad;              /* gradcheck may run: smooth at the drawn point */
    void (*after)(struct pcase *c);  /* extra checks once the op ran (may be NULL) */
} pcase;

typedef struct prop_op {
    const char *name;
    void (*gen)(prng *r, pcase *c);
    nb_tensor *(*call)(nb_tensor *const *in, void *ud);  /* ud: the case's params */
} prop_op;

static double *want_alloc(pcase *c)
{
    int64_t n = shape_size(c->ndim, c->shape);
    c->want = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    PCHECK(c->want, "out of memory");
    return c->want;
}

static void set_shape(pcase *c, int nd, const int64_t *s)
{
    c->ndim = nd;
    memcpy(c->shape, s, (size_t)nd * sizeof *s);
}

/* ---- references shared by several ops ------------------------------------------- */

/* Offset in t (broadcast to the nd-D shape os) of os's flat element i. */
static int64_t bcast_off(const nb_tensor *t, int nd, const int64_t *os, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = nd - 1, k = t->ndim - 1; d >= 0; d--, k--) {
        int64_t idx = i % os[d];
        i /= os[d];
        if (k >= 0) {
            off += (t->shape[k] == 1 ? 0 : idx) * stride;
            stride *= t->shape[k];
        }
    }
    return off;
}

/* [O, L, I] around axis a of shape s. */
static void split3(int nd, const int64_t *s, int a, int64_t *O, int64_t *L, int64_t *I)
{
    *O = *I = 1;
    for (int d = 0; d < a; d++)
        *O *= s[d];
    for (int d = a + 1; d < nd; d++)
        *I *= s[d];
    *L = s[a];
}

static double reduce(const double *l, int64_t n, nb_reduction red)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += l[i];
    return red == NB_REDUCE_MEAN ? s / (double)n : s;
}

/* An axis for rank nd: mostly in [-nd, nd), now and then just outside (always outside
 * for 0-D). */
static int raxis(prng *r, int nd)
{
    if (nd == 0 || one_in(r, 6))
        return one_in(r, 2) ? nd : -nd - 1;
    return rint_in(r, -nd, nd - 1);
}

/* A reduction: valid ones, and now and then 3 or -1. */
static nb_reduction rred(prng *r, bool *valid)
{
    if (one_in(r, 12)) {
        *valid = false;
        return one_in(r, 2) ? (nb_reduction)3 : (nb_reduction)-1;
    }
    return (nb_reduction)rint_in(r, 0, 2);
}

/* ---- unary elementwise ------------------------------------------------------------ */

enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_POW, U_RELU, U_SIGMOID, U_TANH, U_ADDS, U_MULS };

static double unary_ref(int kind, double x, double p)
{
    switch (kind) {
    case U_NEG: return -x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_POW: return p == 0 ? 1.0 : pow(x, p);
    case U_RELU: return x > 0 || isnan(x) ? x : 0; /* NaN stays NaN */
    case U_SIGMOID: return 1 / (1 + exp(-x));
    case U_TANH: return tanh(x);
    case U_ADDS: return x + p;
    default: return x * p;
    }
}

static nb_tensor *call_unary(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    switch (p->kind) {
    case U_NEG: return nb_neg(in[0]);
    case U_EXP: return nb_exp(in[0]);
    case U_LOG: return nb_log(in[0]);
    case U_SQRT: return nb_sqrt(in[0]);
    case U_POW: return nb_pow(in[0], p->p);
    case U_RELU: return nb_relu(in[0]);
    case U_SIGMOID: return nb_sigmoid(in[0]);
    case U_TANH: return nb_tanh(in[0]);
    case U_ADDS: return nb_add_scalar(in[0], p->p);
    default: return nb_mul_scalar(in[0], p->p);
    }
}

static void gen_unary(prng *r, pcase *c, int kind)
{
    static const float pows[] = {-2, -1, 0, 0.5f, 1, 1.5f, 2, 3};
    c->p.kind = kind;
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    double lo = -2, hi = 2;
    if (kind == U_LOG || kind == U_SQRT || kind == U_POW)
        lo = 0.2;
    if (kind == U_POW)
        c->p.p = pows[rnext(r) % 8];
    if (kind == U_ADDS || kind == U_MULS)
        c->p.p = (float)runif(r, -3, 3);
    nb_tensor *x = mk(r, nd, s, lo, hi, "x");
    if (kind == U_RELU) /* away from the kink, for the finite differences */
        for (int64_t i = 0; i < x->size; i++)
            if (fabsf(x->data[i]) < 0.05f)
                x->data[i] = 0.1f;
    c->grad = true;
    if (one_in(r, 10) && x->size > 0) { /* NaN and infinities: propagated as in double */
        static const float sp[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f};
        x->data[rnext(r) % (uint64_t)x->size] = sp[rnext(r) % 5];
        c->grad = false;
        desc_add(" with a special value");
    }
    desc_add(", p %g", (double)c->p.p);
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->valid = true;
    set_shape(c, nd, s);
    double *w = want_alloc(c);
    for (int64_t i = 0; i < x->size; i++)
        w[i] = unary_ref(kind, x->data[i], c->p.p);
    c->atol = 1e-6;
    c->rtol = 2e-6;
    if (kind == U_EXP || kind == U_POW || kind == U_SIGMOID || kind == U_TANH || kind == U_LOG)
        c->rtol = 1e-5;
}

#define UNARY_GEN(name, kind) \
    static void gen_##name(prng *r, pcase *c) { gen_unary(r, c, kind); }
UNARY_GEN(neg, U_NEG)
UNARY_GEN(exp, U_EXP)
UNARY_GEN(log, U_LOG)
UNARY_GEN(sqrt, U_SQRT)
UNARY_GEN(pow, U_POW)
UNARY_GEN(relu, U_RELU)
UNARY_GEN(sigmoid, U_SIGMOID)
UNARY_GEN(tanh, U_TANH)
UNARY_GEN(add_scalar, U_ADDS)
UNARY_GEN(mul_scalar, U_MULS)

/* ---- binary, broadcasting --------------------------------------------------------- */

enum { B_ADD, B_SUB, B_MUL, B_DIV };

static nb_tensor *call_binary(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    switch (p->kind) {
    case B_ADD: return nb_add(in[0], in[1]);
    case B_SUB: return nb_sub(in[0], in[1]);
    case B_MUL: return nb_mul(in[0], in[1]);
    default: return nb_div(in[0], in[1]);
    }
}

static double binary_ref(int kind, double a, double b)
{
    switch (kind) {
    case B_ADD: return (float)(a + b);
    case B_SUB: return (float)(a - b);
    case B_MUL: return (float)(a * b);
    default: return (float)(a / b);
    }
}

/* An input shape that broadcasts to the nd-D `out`: trailing dims of out, some set to 1. */
static int bshape(prng *r, int nd, const int64_t *out, int64_t *s)
{
    int k = rint_in(r, 0, nd);
    for (int d = 0; d < k; d++) {
        s[d] = out[nd - k + d];
        if (one_in(r, 3))
            s[d] = 1;
    }
    return k;
}

static void gen_binary(prng *r, pcase *c, int kind)
{
    c->p.kind = kind;
    int64_t o[NB_MAX_DIMS], sa[NB_MAX_DIMS], sb[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, o);
    int na = bshape(r, nd, o, sa), nb = bshape(r, nd, o, sb);
    if (one_in(r, 2)) { /* one side keeps the full rank, so the output is `o` mostly */
        na = nd;
        memcpy(sa, o, sizeof o);
    }
    c->valid = true;
    if (one_in(r, 10) && nd > 0) { /* sizes that differ, neither of them 1 */
        int d = rint_in(r, 0, nd - 1);
        na = nb = nd;
        memcpy(sa, o, sizeof o);
        memcpy(sb, o, sizeof o);
        sa[d] = o[d] + 2;
        sb[d] = o[d] + 3;
        c->valid = false;
    }
    double lo = kind == B_DIV ? 0.5 : -2;
    nb_tensor *a = mk(r, na, sa, -2, 2, "a");
    nb_tensor *b = one_in(r, 12) && na == nb && !memcmp(sa, sb, (size_t)na * sizeof *sa)
                       ? a : mk(r, nb, sb, lo, 2, "b");
    if (b == a)
        desc_add(", b is a");
    if (kind == B_DIV && b == a)
        for (int64_t i = 0; i < a->size; i++)
            a->data[i] = 0.5f + fabsf(a->data[i]);
    c->in[0] = a;
    c->in[1] = b;
    c->n_in = 2;
    c->diff = 3;
    c->grad = true;
    if (!c->valid)
        return;
    /* The output: the broadcast of a and b. */
    int n = na > nb ? na : nb;
    int64_t os[NB_MAX_DIMS];
    for (int k = 0; k < n; k++) {
        int ka = k - (n - na), kb = k - (n - nb);
        int64_t da = ka >= 0 ? sa[ka] : 1, db = kb >= 0 ? sb[kb] : 1;
        os[k] = da == 1 ? db : da;
        PCHECK(da == db || da == 1 || db == 1, "the generator made a bad pair");
    }
    set_shape(c, n, os);
    double *w = want_alloc(c);
    for (int64_t i = 0; i < shape_size(n, os); i++)
        w[i] = binary_ref(kind, a->data[bcast_off(a, n, os, i)], b->data[bcast_off(b, n, os, i)]);
    c->atol = 0;
    c->rtol = 0; /* one float operation: exact */
}

#define BINARY_GEN(name, kind) \
    static void gen_##name(prng *r, pcase *c) { gen_binary(r, c, kind); }
BINARY_GEN(add, B_ADD)
BINARY_GEN(sub, B_SUB)
BINARY_GEN(mul, B_MUL)
BINARY_GEN(div, B_DIV)

/* ---- reductions ------------------------------------------------------------------- */

enum { R_SUM, R_MEAN, R_SUM_AXIS, R_MEAN_AXIS };

static nb_tensor *call_reduce(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    switch (p->kind) {
    case R_SUM: return nb_sum(in[0]);
    case R_MEAN: return nb_mean(in[0]);
    case R_SUM_AXIS: return nb_sum_axis(in[0], p->axis, p->keepdim);
    default: return nb_mean_axis(in[0], p->axis, p->keepdim);
    }
}

static void gen_reduce(prng *r, pcase *c, int kind)
{
    c->p.kind = kind;
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->atol = 1e-5;
    c->rtol = 1e-5;
    bool mean = kind == R_MEAN || kind == R_MEAN_AXIS;
    int64_t O = 1, L = x->size, I = 1;
    if (kind == R_SUM || kind == R_MEAN) {
        c->valid = true;
        c->ndim = 0;
    } else {
        c->p.axis = raxis(r, nd);
        c->p.keepdim = one_in(r, 2);
        desc_add(", axis %d, keepdim %d", c->p.axis, c->p.keepdim);
        int a = c->p.axis < 0 ? c->p.axis + nd : c->p.axis;
        c->valid = a >= 0 && a < nd;
        if (!c->valid)
            return;
        split3(nd, s, a, &O, &L, &I);
        int n = 0;
        for (int d = 0; d < nd; d++)
            if (d != a)
                c->shape[n++] = s[d];
            else if (c->p.keepdim)
                c->shape[n++] = 1;
        c->ndim = n;
    }
    double *w = want_alloc(c);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            double t = 0;
            for (int64_t l = 0; l < L; l++)
                t += x->data[(o * L + l) * I + i];
            w[o * I + i] = mean ? t / (double)L : t; /* a mean of nothing is NaN */
        }
}

#define REDUCE_GEN(name, kind) \
    static void gen_##name(prng *r, pcase *c) { gen_reduce(r, c, kind); }
REDUCE_GEN(sum, R_SUM)
REDUCE_GEN(mean, R_MEAN)
REDUCE_GEN(sum_axis, R_SUM_AXIS)
REDUCE_GEN(mean_axis, R_MEAN_AXIS)

/* ---- softmax, log_softmax --------------------------------------------------------- */

static nb_tensor *call_softmax(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return p->kind ? nb_log_softmax(in[0], p->axis) : nb_softmax(in[0], p->axis);
}

static void gen_softmax_kind(prng *r, pcase *c, int log_kind)
{
    c->p.kind = log_kind;
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -3, 3, "x");
    c->p.axis = raxis(r, nd);
    desc_add(", axis %d", c->p.axis);
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->atol = 1e-6;
    c->rtol = 1e-5;
    int a = c->p.axis < 0 ? c->p.axis + nd : c->p.axis;
    c->valid = a >= 0 && a < nd;
    if (!c->valid)
        return;
    set_shape(c, nd, s);
    double *w = want_alloc(c);
    int64_t O, L, I;
    split3(nd, s, a, &O, &L, &I);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            const float *xl = x->data + o * L * I + i;
            double m = -INFINITY, z = 0;
            for (int64_t l = 0; l < L; l++)
                m = fmax(m, xl[l * I]);
            for (int64_t l = 0; l < L; l++)
                z += exp(xl[l * I] - m);
            for (int64_t l = 0; l < L; l++)
                w[o * L * I + i + l * I] = log_kind ? xl[l * I] - m - log(z)
                                                    : exp(xl[l * I] - m) / z;
        }
}

static void gen_softmax(prng *r, pcase *c) { gen_softmax_kind(r, c, 0); }
static void gen_log_softmax(prng *r, pcase *c) { gen_softmax_kind(r, c, 1); }

/* ---- reshape, transpose, flatten -------------------------------------------------- */

static nb_tensor *call_reshape(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_reshape(in[0], p->ndim, p->shape);
}

static void gen_reshape(prng *r, pcase *c)
{
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    /* The target: x's size split into factors (the size's dims regrouped, 1s added). */
    int64_t t[NB_MAX_DIMS];
    int tn = 0;
    int64_t left = x->size;
    int want_rank = rint_in(r, 0, 6);
    for (int d = 0; d < nd && tn < 6; d++) {
        if (tn > 0 && one_in(r, 2)) {
            t[tn - 1] *= s[d];
        } else {
            t[tn++] = s[d];
        }
    }
    while (tn < want_rank)
        t[tn++] = 1;
    if (tn == 0 && left != 1) /* only a size-1 tensor reshapes to 0-D */
        t[tn++] = left;
    c->valid = true;
    if (tn > 0 && one_in(r, 3)) { /* infer one dimension */
        int d = rint_in(r, 0, tn - 1);
        int64_t rest = 1;
        for (int k = 0; k < tn; k++)
            if (k != d)
                rest *= t[k];
        t[d] = -1;
        if (rest == 0 && x->size == 0)
            c->valid = false; /* any size fits */
    } else if (one_in(r, 8) && x->size > 0) { /* the wrong size */
        if (tn == 0)
            t[tn++] = 1;
        t[tn - 1] += 1;
        c->valid = false;
    }
    if (one_in(r, 20) && tn > 1) { /* two -1, or a negative dimension */
        t[0] = one_in(r, 2) ? -1 : -3;
        t[1] = -1;
        c->valid = false;
    }
    c->p.ndim = tn;
    memcpy(c->p.shape, t, sizeof t);
    char st[96];
    desc_add(", to %s", nb_shape_str(tn, t, st, sizeof st));
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    if (!c->valid)
        return;
    for (int d = 0; d < tn; d++)
        if (t[d] == -1) {
            int64_t rest = 1;
            for (int k = 0; k < tn; k++)
                if (k != d)
                    rest *= t[k];
            t[d] = x->size / rest;
        }
    set_shape(c, tn, t);
    double *w = want_alloc(c);
    for (int64_t i = 0; i < x->size; i++)
        w[i] = x->data[i];
}

static nb_tensor *call_transpose(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_transpose(in[0], p->dim0, p->dim1);
}

static void gen_transpose(prng *r, pcase *c)
{
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    c->p.dim0 = raxis(r, nd);
    c->p.dim1 = one_in(r, 6) ? c->p.dim0 : raxis(r, nd);
    desc_add(", dims %d %d", c->p.dim0, c->p.dim1);
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    int a = c->p.dim0 < 0 ? c->p.dim0 + nd : c->p.dim0;
    int b = c->p.dim1 < 0 ? c->p.dim1 + nd : c->p.dim1;
    c->valid = a >= 0 && a < nd && b >= 0 && b < nd;
    if (!c->valid)
        return;
    int64_t o[NB_MAX_DIMS];
    memcpy(o, s, sizeof o);
    o[a] = s[b];
    o[b] = s[a];
    set_shape(c, nd, o);
    double *w = want_alloc(c);
    for (int64_t i = 0; i < x->size; i++) {
        /* output index -> its multi-index -> input multi-index (a, b swapped) */
        int64_t idx[NB_MAX_DIMS], rem = i;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = rem % o[d];
            rem /= o[d];
        }
        int64_t t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off = off * s[d] + idx[d];
        w[i] = x->data[off];
    }
}

static nb_tensor *call_flatten(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_flatten(in[0]);
}

static void gen_flatten(prng *r, pcase *c)
{
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->valid = nd >= 1;
    if (!c->valid)
        return;
    int64_t rest = 1;
    for (int d = 1; d < nd; d++)
        rest *= s[d];
    set_shape(c, 2, (int64_t[]){s[0], rest});
    double *w = want_alloc(c);
    for (int64_t i = 0; i < x->size; i++)
        w[i] = x->data[i];
}

/* ---- matmul ----------------------------------------------------------------------- */

static nb_tensor *call_matmul(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_matmul(in[0], in[1]);
}

static void gen_matmul(prng *r, pcase *c)
{
    int64_t Bt = rint_in(r, 0, 3), M = rint_in(r, 0, 5), K = rint_in(r, 0, 6),
            N = rint_in(r, 0, 5);
    if (!one_in(r, 6)) { /* mostly non-empty */
        Bt += Bt == 0;
        M += M == 0;
        K += K == 0;
        N += N == 0;
    }
    int mode = rint_in(r, 0, 3); /* 2@2, 3@3, 3@2, 2@3 */
    int na = mode == 1 || mode == 2 ? 3 : 2, nb = mode == 1 || mode == 3 ? 3 : 2;
    int64_t sa[4], sb[4];
    if (na == 3) { sa[0] = Bt; sa[1] = M; sa[2] = K; } else { sa[0] = M; sa[1] = K; }
    if (nb == 3) { sb[0] = Bt; sb[1] = K; sb[2] = N; } else { sb[0] = K; sb[1] = N; }
    c->valid = true;
    int bad = one_in(r, 8) ? rint_in(r, 0, 2) : -1;
    if (bad == 0) { /* inner dimensions differ */
        sb[nb - 2] = K + 1;
        c->valid = false;
    } else if (bad == 1 && na == 3 && nb == 3) { /* batch sizes differ */
        sb[0] = Bt + 1;
        c->valid = false;
    } else if (bad == 2) { /* a 1-D or 4-D operand */
        na = one_in(r, 2) ? 1 : 4;
        sa[0] = K;
        sa[1] = sa[2] = sa[3] = 1;
        if (na == 4)
            sa[3] = K, sa[0] = 1;
        c->valid = false;
    }
    nb_tensor *a = mk(r, na, sa, -1, 1, "a"), *b = mk(r, nb, sb, -1, 1, "b");
    c->in[0] = a;
    c->in[1] = b;
    c->n_in = 2;
    c->diff = 3;
    c->grad = true;
    c->atol = 1e-5;
    c->rtol = 1e-5;
    if (!c->valid)
        return;
    bool batched = na == 3 || nb == 3;
    if (batched)
        set_shape(c, 3, (int64_t[]){Bt, M, N});
    else
        set_shape(c, 2, (int64_t[]){M, N});
    double *w = want_alloc(c);
    for (int64_t t = 0; t < (batched ? Bt : 1); t++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)a->data[(na == 3 ? t * M * K : 0) + i * K + k] *
                         b->data[(nb == 3 ? t * K * N : 0) + k * N + j];
                w[(t * M + i) * N + j] = s;
            }
}

/* ---- conv2d ------------------------------------------------------------------------ */

static nb_tensor *call_conv2d(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_conv2d(in[0], in[1], p->has_bias ? in[2] : NB_NONE, &p->co);
}

static void gen_conv2d(prng *r, pcase *c)
{
    int G = rint_in(r, 1, 3), cg = rint_in(r, 1, 2), kg = rint_in(r, 1, 2);
    int64_t N = rint_in(r, 0, 2) + !one_in(r, 6), H = rint_in(r, 0, 7), W = rint_in(r, 0, 7);
    int64_t kH = rint_in(r, 1, 3), kW = rint_in(r, 1, 3);
    nb_conv2d_opts o = nb_conv2d_default();
    o.stride_h = rint_in(r, 1, 3);
    o.stride_w = rint_in(r, 1, 3);
    o.dilation_h = rint_in(r, 1, 2);
    o.dilation_w = rint_in(r, 1, 2);
    o.pad_top = rint_in(r, 0, 2);
    o.pad_bottom = rint_in(r, 0, 2);
    o.pad_left = rint_in(r, 0, 2);
    o.pad_right = rint_in(r, 0, 2);
    o.pad_same = one_in(r, 4);
    o.groups = G;
    int64_t C = (int64_t)G * cg, K = (int64_t)G * kg;
    int64_t wc = cg;
    bool valid = true;
    c->p.has_bias = one_in(r, 2);
    int64_t bias_len = K;
    int bad = one_in(r, 8) ? rint_in(r, 0, 7) : -1;
    switch (bad) {
    case 0: o.stride_h = one_in(r, 2) ? 0 : INT_MIN; valid = false; break;
    case 1: o.dilation_w = one_in(r, 2) ? 0 : -1; valid = false; break;
    case 2: if (!o.pad_same) { o.pad_left = one_in(r, 2) ? -1 : INT_MIN; valid = false; } break;
    case 3: o.groups = one_in(r, 2) ? 0 : -G; valid = false; break;
    case 4: if (C > 1) { C += 1; valid = false; } break;          /* groups do not divide */
    case 5: wc = cg + 1; valid = false; break;                     /* channel mismatch */
    case 6: if (c->p.has_bias) { bias_len = K + 1; valid = false; } break;
    case 7: o.groups = G + 1; valid = C % (G + 1) == 0 && K % (G + 1) == 0 && C / (G + 1) == wc;
            break;
    default: break;
    }
    nb_tensor *x = mk(r, 4, (int64_t[]){N, C, H, W}, -1, 1, "x");
    nb_tensor *w = mk(r, 4, (int64_t[]){K, wc, kH, kW}, -1, 1, "w");
    nb_tensor *b = c->p.has_bias ? mk(r, 1, &bias_len, -1, 1, "b") : NULL;
    desc_add(", stride %dx%d, dilation %dx%d, pads %d %d %d %d%s, groups %d", o.stride_h,
             o.stride_w, o.dilation_h, o.dilation_w, o.pad_top, o.pad_bottom, o.pad_left,
             o.pad_right, o.pad_same ? " (same)" : "", o.groups);
    c->p.co = o;
    c->in[0] = x;
    c->in[1] = w;
    c->in[2] = b ? b : x; /* unused without bias */
    c->n_in = b ? 3 : 2;
    c->diff = b ? 7 : 3;
    c->grad = true;
    c->atol = 1e-5;
    c->rtol = 1e-4;
    /* The padding, resolved like TensorFlow's "same" when asked. */
    int64_t pt = o.pad_top, pb = o.pad_bottom, pl = o.pad_left, pr = o.pad_right;
    if (valid && o.pad_same) {
        int64_t oh = (H + o.stride_h - 1) / o.stride_h, ow = (W + o.stride_w - 1) / o.stride_w;
        int64_t th = (oh - 1) * o.stride_h + o.dilation_h * (kH - 1) + 1 - H;
        int64_t tw = (ow - 1) * o.stride_w + o.dilation_w * (kW - 1) + 1 - W;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        pt = th / 2;
        pb = th - pt;
        pl = tw / 2;
        pr = tw - pl;
    }
    int64_t eh = o.dilation_h * (kH - 1) + 1, ew = o.dilation_w * (kW - 1) + 1;
    if (valid && (H + pt + pb < eh || W + pl + pr < ew))
        valid = false;
    c->valid = valid;
    if (!valid)
        return;
    int64_t Ho = (H + pt + pb - eh) / o.stride_h + 1, Wo = (W + pl + pr - ew) / o.stride_w + 1;
    set_shape(c, 4, (int64_t[]){N, K, Ho, Wo});
    double *y = want_alloc(c);
    const int64_t Kg = K / o.groups; /* the groups in force (case 7 may change them) */
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++) {
                    double s = b ? b->data[k] : 0;
                    int64_t g = k / Kg;
                    for (int64_t ci = 0; ci < wc; ci++)
                        for (int64_t a = 0; a < kH; a++)
                            for (int64_t bb = 0; bb < kW; bb++) {
                                int64_t h = i * o.stride_h - pt + a * o.dilation_h;
                                int64_t v = j * o.stride_w - pl + bb * o.dilation_w;
                                if (h < 0 || h >= H || v < 0 || v >= W)
                                    continue;
                                s += (double)w->data[((k * wc + ci) * kH + a) * kW + bb] *
                                     x->data[((n * C + g * wc + ci) * H + h) * W + v];
                            }
                    y[((n * K + k) * Ho + i) * Wo + j] = s;
                }
}

/* ---- pooling ---------------------------------------------------------------------- */

static nb_tensor *call_max_pool2d(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_max_pool2d(in[0], &p->po);
}

static nb_tensor *call_avg_pool2d(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_avg_pool2d(in[0], &p->po);
}

static void gen_pool(prng *r, pcase *c, bool is_max)
{
    int64_t N = rint_in(r, 0, 2) + !one_in(r, 6), C = rint_in(r, 0, 2) + !one_in(r, 6);
    int64_t H = rint_in(r, 0, 7) + !one_in(r, 8), W = rint_in(r, 0, 7) + !one_in(r, 8);
    nb_pool2d_opts o = nb_pool2d_default(rint_in(r, 1, 4), rint_in(r, 1, 4));
    o.stride_h = rint_in(r, 1, 3);
    o.stride_w = rint_in(r, 1, 3);
    o.pad_top = rint_in(r, 0, o.kernel_h / 2);
    o.pad_bottom = rint_in(r, 0, o.kernel_h / 2);
    o.pad_left = rint_in(r, 0, o.kernel_w / 2);
    o.pad_right = rint_in(r, 0, o.kernel_w / 2);
    o.count_include_pad = one_in(r, 2);
    int bad = one_in(r, 10) ? rint_in(r, 0, 3) : -1;
    if (bad == 0)
        o.kernel_w = one_in(r, 2) ? 0 : INT_MIN;
    else if (bad == 1)
        o.stride_h = one_in(r, 2) ? 0 : -1;
    else if (bad == 2)
        o.pad_left = one_in(r, 2) ? -1 : o.kernel_w / 2 + 1;
    int nd = bad == 3 ? rint_in(r, 0, 3) : 4; /* not 4-D */
    nb_tensor *x = mk(r, nd, (int64_t[]){N, C, H, W}, -1, 1, "x");
    if (is_max)
        fill_distinct(r, x);
    desc_add(", kernel %dx%d, stride %dx%d, pads %d %d %d %d, include_pad %d", o.kernel_h,
             o.kernel_w, o.stride_h, o.stride_w, o.pad_top, o.pad_bottom, o.pad_left,
             o.pad_right, o.count_include_pad);
    c->p.po = o;
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->atol = 1e-6;
    c->rtol = 1e-5;
    int64_t Hp = H + o.pad_top + o.pad_bottom, Wp = W + o.pad_left + o.pad_right;
    c->valid = bad < 0 && H > 0 && W > 0 && Hp >= o.kernel_h && Wp >= o.kernel_w;
    if (!c->valid)
        return;
    int64_t Ho = (Hp - o.kernel_h) / o.stride_h + 1, Wo = (Wp - o.kernel_w) / o.stride_w + 1;
    set_shape(c, 4, (int64_t[]){N, C, Ho, Wo});
    double *y = want_alloc(c);
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double m = -INFINITY, s = 0;
                int64_t cnt = 0;
                for (int64_t a = 0; a < o.kernel_h; a++)
                    for (int64_t b = 0; b < o.kernel_w; b++) {
                        int64_t h = i * o.stride_h - o.pad_top + a, v = j * o.stride_w - o.pad_left + b;
                        if (h < 0 || h >= H || v < 0 || v >= W)
                            continue;
                        double xv = x->data[(p * H + h) * W + v];
                        m = fmax(m, xv);
                        s += xv;
                        cnt++;
                    }
                PCHECK(cnt > 0, "a window without a pixel passed the checks");
                double D = o.count_include_pad ? (double)o.kernel_h * o.kernel_w : (double)cnt;
                y[(p * Ho + i) * Wo + j] = is_max ? m : s / D;
            }
}

static void gen_max_pool2d(prng *r, pcase *c) { gen_pool(r, c, true); }
static void gen_avg_pool2d(prng *r, pcase *c) { gen_pool(r, c, false); }

static nb_tensor *call_global_avg_pool2d(nb_tensor *const *in, void *ud)
{
    (void)ud;
    return nb_global_avg_pool2d(in[0]);
}

static void gen_global_avg_pool2d(prng *r, pcase *c)
{
    int64_t s[NB_MAX_DIMS];
    int nd = one_in(r, 8) ? rshape(r, 0, 6, 60, s) : rshape(r, 4, 4, 80, s);
    nb_tensor *x = mk(r, nd, s, -1, 1, "x");
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->atol = 1e-6;
    c->rtol = 1e-5;
    c->valid = nd == 4 && s[2] > 0 && s[3] > 0;
    if (!c->valid)
        return;
    set_shape(c, 2, s);
    double *y = want_alloc(c);
    int64_t HW = s[2] * s[3];
    for (int64_t p = 0; p < s[0] * s[1]; p++) {
        double t = 0;
        for (int64_t k = 0; k < HW; k++)
            t += x->data[p * HW + k];
        y[p] = t / (double)HW;
    }
}

/* ---- dropout, batch_norm ----------------------------------------------------------- */

static nb_tensor *call_dropout(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_dropout(in[0], p->p, p->training, p->seed);
}

static void gen_dropout(prng *r, pcase *c)
{
    static const float ps[] = {0, 0.1f, 0.5f, 0.9f, 0.999f, -0.1f, 1, NAN, INFINITY};
    int64_t s[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s);
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    c->p.p = one_in(r, 6) ? ps[rint_in(r, 5, 8)] : ps[rint_in(r, 0, 4)];
    c->p.training = !one_in(r, 4);
    c->p.seed = rnext(r);
    desc_add(", p %g, training %d", (double)c->p.p, c->p.training);
    c->in[0] = x;
    c->n_in = 1;
    c->diff = 1;
    c->grad = true;
    c->atol = 0;
    c->rtol = 3e-7;
    c->valid = c->p.p >= 0 && c->p.p < 1;
    if (!c->valid)
        return;
    set_shape(c, nd, s);
    double *y = want_alloc(c);
    for (int64_t i = 0; i < x->size; i++) {
        bool keep = !c->p.training || nb_rng_uniform(c->p.seed, (uint64_t)i) >= c->p.p;
        y[i] = !c->p.training ? x->data[i] : keep ? x->data[i] / (1.0 - c->p.p) : 0.0;
    }
}

static nb_tensor *call_batch_norm(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_batch_norm(in[0], in[1], in[2], in[3], in[4], p->momentum, p->eps, p->training);
}

static double bn_rm[8], bn_rv[8]; /* the expected running statistics after the call */

static void bn_after(pcase *c)
{
    const nb_tensor *rm = c->in[3], *rv = c->in[4];
    for (int64_t k = 0; k < rm->size; k++) {
        PCHECK(fabs(rm->data[k] - bn_rm[k]) <= 1e-5 + 1e-5 * fabs(bn_rm[k]),
               "running_mean[%lld] %g, want %g", (long long)k, rm->data[k], bn_rm[k]);
        PCHECK(fabs(rv->data[k] - bn_rv[k]) <= 1e-5 + 1e-4 * fabs(bn_rv[k]),
               "running_var[%lld] %g, want %g", (long long)k, rv->data[k], bn_rv[k]);
    }
}

static void gen_batch_norm(prng *r, pcase *c)
{
    int nd = one_in(r, 10) ? rint_in(r, 0, 5) : (one_in(r, 2) ? 2 : 4);
    int64_t s[NB_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        s[d] = rint_in(r, 1, 4);
    if (nd >= 1 && one_in(r, 10))
        s[0] = 0;
    if (nd >= 2)
        s[1] = rint_in(r, 0, 3) + !one_in(r, 8);
    int64_t C = nd >= 2 ? s[1] : 1, cl = C;
    bool valid = nd == 2 || nd == 4;
    if (one_in(r, 12)) {
        cl = C + 1; /* statistics of the wrong size */
        valid = false;
    }
    nb_tensor *x = mk(r, nd, s, -2, 2, "x");
    nb_tensor *g = mk(r, 1, &cl, 0.5, 1.5, "gamma"), *b = mk(r, 1, &cl, -1, 1, "beta");
    nb_tensor *rm = mk(r, 1, &cl, -1, 1, "running_mean"), *rv = mk(r, 1, &cl, 0.5, 2, "running_var");
    c->p.training = one_in(r, 3) ? false : true;
    c->p.momentum = one_in(r, 12) ? (one_in(r, 2) ? 1.5f : NAN) : (float)runif(r, 0, 1);
    c->p.eps = one_in(r, 12) ? (one_in(r, 2) ? 0.0f : -1e-5f) : 1e-3f;
    desc_add(", momentum %g, eps %g, training %d", (double)c->p.momentum, (double)c->p.eps,
             c->p.training);
    valid &= c->p.momentum >= 0 && c->p.momentum <= 1 && c->p.eps > 0;
    int64_t N = nd >= 1 ? s[0] : 0, HW = nd == 4 ? s[2] * s[3] : 1, M = N * HW;
    if (valid && c->p.training && M == 1)
        valid = false; /* one value per channel */
    c->in[0] = x;
    c->in[1] = g;
    c->in[2] = b;
    c->in[3] = rm;
    c->in[4] = rv;
    c->n_in = 5;
    c->diff = 7;
    c->grad = true;
    c->gatol = 2e-3;
    c->grtol = 2e-2;
    c->atol = 1e-5;
    c->rtol = 1e-4;
    c->valid = valid;
    if (!valid)
        return;
    set_shape(c, nd, s);
    double *y = want_alloc(c);
    for (int64_t k = 0; k < C; k++) {
        double mean = rm->data[k], var = rv->data[k];
        bn_rm[k] = rm->data[k];
        bn_rv[k] = rv->data[k];
        if (c->p.training) {
            double t = 0, q = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < HW; h++)
                    t += x->data[(n * C + k) * HW + h];
            mean = M ? t / (double)M : 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < HW; h++) {
                    double d = x->data[(n * C + k) * HW + h] - mean;
                    q += d * d;
                }
            var = M ? q / (double)M : 0;
            if (M > 1) {
                double m = c->p.momentum;
                bn_rm[k] = (1 - m) * rm->data[k] + m * mean;
                bn_rv[k] = (1 - m) * rv->data[k] + m * q / (double)(M - 1);
            }
        }
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < HW; h++) {
                int64_t i = (n * C + k) * HW + h;
                y[i] = g->data[k] * (x->data[i] - mean) / sqrt(var + c->p.eps) + b->data[k];
            }
    }
    c->after = bn_after;
}

/* ---- losses ------------------------------------------------------------------------ */

enum { L_BCE, L_BCE_LOGITS, L_MSE };

static nb_tensor *call_loss(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    switch (p->kind) {
    case L_BCE: return nb_bce(in[0], in[1], p->red);
    case L_BCE_LOGITS: return nb_bce_logits(in[0], in[1], p->red);
    default: return nb_mse(in[0], in[1], p->red);
    }
}

static void gen_loss(prng *r, pcase *c, int kind)
{
    c->p.kind = kind;
    int64_t s[NB_MAX_DIMS], s2[NB_MAX_DIMS];
    int nd = rshape(r, 0, 6, 60, s), nd2 = nd;
    memcpy(s2, s, sizeof s);
    bool valid = true;
    c->p.red = rred(r, &valid);
    if (one_in(r, 12)) { /* no broadcasting: any other shape is an error */
        if (nd > 0 && (nd == NB_MAX_DIMS || one_in(r, 2)))
            s2[nd - 1] += 1;
        else
            s2[nd2++] = 1;
        valid = false;
    }
    double lo = kind == L_BCE ? 0.05 : -3, hi = kind == L_BCE ? 0.95 : 3;
    /* A reduced loss is a float of ~10: a larger step beats its rounding, where the
     * curvature allows (bce's 1/p does not). */
    c->geps = kind == L_BCE ? 1e-3f : 1e-2f;
    c->gatol = 3e-3;
    nb_tensor *p = mk(r, nd, s, lo, hi, "p"), *y = mk(r, nd2, s2, 0, 1, "y");
    desc_add(", reduction %d", (int)c->p.red);
    c->in[0] = p;
    c->in[1] = y;
    c->n_in = 2;
    c->diff = 3;
    c->grad = true;
    c->atol = 1e-5;
    c->rtol = 1e-5;
    c->valid = valid;
    if (!valid)
        return;
    if (c->p.red == NB_REDUCE_NONE)
        set_shape(c, nd, s);
    else
        c->ndim = 0;
    double *w = want_alloc(c);
    double *l = calloc((size_t)(p->size > 0 ? p->size : 1), sizeof *l);
    PCHECK(l, "out of memory");
    for (int64_t i = 0; i < p->size; i++) {
        double pv = p->data[i], yv = y->data[i];
        if (kind == L_BCE)
            l[i] = -(yv * fmax(log(pv), -100) + (1 - yv) * fmax(log(1 - pv), -100));
        else if (kind == L_BCE_LOGITS)
            l[i] = fmax(pv, 0) - pv * yv + log(1 + exp(-fabs(pv)));
        else
            l[i] = (pv - yv) * (pv - yv);
    }
    if (c->p.red == NB_REDUCE_NONE)
        memcpy(w, l, (size_t)p->size * sizeof *l);
    else
        w[0] = reduce(l, p->size, c->p.red);
    free(l);
}

static void gen_bce(prng *r, pcase *c) { gen_loss(r, c, L_BCE); }
static void gen_bce_logits(prng *r, pcase *c) { gen_loss(r, c, L_BCE_LOGITS); }
static void gen_mse(prng *r, pcase *c) { gen_loss(r, c, L_MSE); }

static nb_tensor *call_cross_entropy(nb_tensor *const *in, void *ud)
{
    const params *p = ud;
    return nb_cross_entropy(in[0], in[1], p->red);
}

static void gen_cross_entropy(prng *r, pcase *c)
{
    int64_t N = rint_in(r, 0, 6) + !one_in(r, 8), C = rint_in(r, 0, 6) + !one_in(r, 8);
    bool valid = true;
    c->p.red = rred(r, &valid);
    int nx = 2, nt = 1;
    int64_t tl = N;
    int bad = one_in(r, 10) ? rint_in(r, 0, 3) : -1;
    if (bad == 0) { nx = one_in(r, 2) ? 1 : 3; valid = false; }
    if (bad == 1) { tl = N + 1; valid = false; }
    if (bad == 2) { nt = 2; valid = false; }
    if (C == 0)
        valid = false;
    int64_t sx[3] = {N, C, 2}, st[2] = {tl, 1};
    if (nx == 1)
        sx[0] = N;
    nb_tensor *x = mk(r, nx, sx, -3, 3, "logits");
    nb_tensor *t = mk(r, nt, st, 0, 1, "labels");
    for (int64_t n = 0; n < t->size; n++)
        t->data[n] = (float)(C > 0 ? rint_in(r, 0, (int)C - 1) : 0);
    if (valid && N > 0 && bad == 3) { /* a label that is no class index */
        static const float badl[] = {-1, 0.5f, NAN, INFINITY, 1e9f};
        float v = badl[rnext(r) % 5];
        t->data[rint_in(r, 0, (int)N - 1)] = v == 0.5f ? (float)C - 0.5f : v;
        valid = false;
    }
    desc_add(", reduction %d", (int)c->p.red);
    c->in[0] = x;
    c->in[1] = t;
    c->n_in = 2;
    c->diff = 1;
    c->grad = true;
    c->atol = 1e-5;
    c->rtol = 1e-5;
    c->valid = valid;
    if (!valid)
        return;
    if (c->p.red == NB_REDUCE_NONE)
        set_shape(c, 1, &N);
    else
        c->ndim = 0;
    double *w = want_alloc(c);
    double *l = calloc((size_t)(N > 0 ? N : 1), sizeof *l);
    PCHECK(l, "out of memory");
    for (int64_t n = 0; n < N; n++) {
        double m = -INFINITY, z = 0;
        for (int64_t k = 0; k < C; k++)
            m = fmax(m, x->data[n * C + k]);
        for (int64_t k = 0; k < C; k++)
            z += exp(x->data[n * C + k] - m);
        l[n] = m + log(z) - x->data[n * C + (int64_t)t->data[n]];
    }
    if (c->p.red == NB_REDUCE_NONE)
        memcpy(w, l, (size_t)N * sizeof *l);
    else
        w[0] = reduce(l, N, c->p.red);
    free(l);
}

/* ---- the driver ------------------------------------------------------------------- */

static int n_cases(void)
{
    const char *e = getenv("NABLA_PROPERTY_CASES");
    int n = e ? atoi(e) : 3000;
    return n > 0 ? n : 3000;
}

static void read_seed(void)
{
    const char *e = getenv("NABLA_PROPERTY_SEED");
    if (e && *e)
        base_seed = strtoull(e, NULL, 0);
}

/* Cases of at most this many differentiable input elements get a gradcheck, one in
 * GRAD_EVERY of them. */
#define GRAD_MAX_ELEMS 40
#define GRAD_EVERY 4

/* Per op: cases valid, invalid, gradient-checked (NABLA_PROPERTY_VERBOSE=1 prints them). */
static int64_t n_valid, n_invalid, n_gradchecked;

static void run_case(const prop_op *op, int k, int ci)
{
    cur_op = op->name;
    cur_case = ci;
    desc_len = 0;
    desc[0] = '\0';
    n_owned = 0;
    prng r = {base_seed ^ (0x100000001b3ULL * (uint64_t)(k + 1)) ^
              ((uint64_t)ci << 32)};
    rnext(&r);
    pcase c = {.atol = 1e-5, .rtol = 1e-5, .gatol = 1e-3, .grtol = 1e-2, .geps = 1e-3f};
    op->gen(&r, &c);
    bool with_grad = one_in(&r, 2);
    int64_t diff_elems = 0;
    for (int i = 0; i < c.n_in; i++)
        if (c.diff >> i & 1u) {
            diff_elems += c.in[i]->size;
            if (with_grad)
                PCHECK(nb_tensor_set_requires_grad(c.in[i], true) == NB_OK, "%s", nb_error());
        }

    /* Now and then an input is NULL (what a failed op returns): an NB_ERR_NULL error
     * that names the op and the input, whatever else is wrong. */
    int null_in = one_in(&r, 25) ? rint_in(&r, 0, c.n_in - 1) : -1;
    nb_tensor *kept = null_in >= 0 ? c.in[null_in] : NULL;
    if (null_in >= 0) {
        c.in[null_in] = NULL;
        c.valid = false;
        desc_add(", input %d NULL", null_in);
    }
    nb_error_clear();
    nb_tensor *y = op->call(c.in, &c.p);
    if (null_in >= 0)
        c.in[null_in] = kept;
    if (!c.valid) {
        n_invalid++;
        PCHECK(!y, "an invalid combination gave a result");
        nb_status s = nb_error_code();
        if (null_in >= 0) {
            char want[32];
            snprintf(want, sizeof want, "input %d", null_in);
            PCHECK(s == NB_ERR_NULL && strstr(nb_error(), want) && strstr(nb_error(), "NULL"),
                   "a NULL input gave %s: %s", nb_status_str(s), nb_error());
        } else {
            PCHECK(s == NB_ERR_ARG || s == NB_ERR_SHAPE, "status %s (%s), want a shape or "
                   "argument error", nb_status_str(s), nb_error());
        }
        PCHECK(strncmp(nb_error(), op->name, strlen(op->name)) == 0 &&
                   nb_error()[strlen(op->name)] == ':',
               "the message does not name the op: %s", nb_error());
    } else {
        n_valid++;
        PCHECK(y, "failed: %s", nb_error());
        PCHECK(y->ndim == c.ndim, "rank %d, want %d", y->ndim, c.ndim);
        for (int d = 0; d < c.ndim; d++)
            PCHECK(y->shape[d] == c.shape[d], "dim %d is %lld, want %lld", d,
                   (long long)y->shape[d], (long long)c.shape[d]);
        for (int64_t i = 0; i < y->size; i++) {
            double want = c.want[i], got = y->data[i];
            bool ok = (isnan(want) && isnan(got)) || got == want ||
                      fabs(got - want) <= c.atol + c.rtol * fabs(want);
            PCHECK(ok, "output[%lld] = %.9g, want %.9g", (long long)i, got, want);
        }
        if (c.after)
            c.after(&c);
        if (with_grad && y->requires_grad) {
            nb_tensor *seed = nb_tensor_step(y->ndim, y->shape);
            PCHECK(seed, "%s", nb_error());
            for (int64_t i = 0; i < seed->size; i++)
                seed->data[i] = (float)runif(&r, -1, 1);
            PCHECK(nb_backward_seed(y, seed) == NB_OK, "backward: %s", nb_error());
            if (c.grad && diff_elems > 0 && diff_elems <= GRAD_MAX_ELEMS &&
                ci % GRAD_EVERY == 0) {
                nb_step_reset();
                nb_gradcheck_opts go = {.eps = c.geps, .atol = (float)c.gatol,
                                        .rtol = (float)c.grtol, .seed = rnext(&r)};
                n_gradchecked++;
                nb_gradcheck_result res;
                nb_status s = nb_gradcheck(op->call, c.in, c.n_in, &c.p, &go, &res);
                PCHECK(s == NB_OK, "gradcheck did not run: %s", nb_error());
                PCHECK(res.passed, "gradient of input %d [%lld]: analytic %.7g, numeric "
                       "%.7g", res.worst_input, (long long)res.worst_index,
                       res.worst_analytic, res.worst_numeric);
            }
        }
    }
    free(c.want);
    for (int i = 0; i < n_owned; i++)
        nb_tensor_free(owned[i]);
    nb_step_reset();
}

static const prop_op ops[] = {
#define OP(name, call) {#name, gen_##name, call}
    OP(add, call_binary), OP(sub, call_binary), OP(mul, call_binary), OP(div, call_binary),
    OP(neg, call_unary), OP(add_scalar, call_unary), OP(mul_scalar, call_unary),
    OP(exp, call_unary), OP(log, call_unary), OP(sqrt, call_unary), OP(pow, call_unary),
    OP(relu, call_unary), OP(sigmoid, call_unary), OP(tanh, call_unary),
    OP(softmax, call_softmax), OP(log_softmax, call_softmax),
    OP(sum, call_reduce), OP(mean, call_reduce), OP(sum_axis, call_reduce),
    OP(mean_axis, call_reduce), OP(reshape, call_reshape), OP(transpose, call_transpose),
    OP(matmul, call_matmul), OP(conv2d, call_conv2d), OP(max_pool2d, call_max_pool2d),
    OP(avg_pool2d, call_avg_pool2d), OP(global_avg_pool2d, call_global_avg_pool2d),
    OP(flatten, call_flatten), OP(dropout, call_dropout), OP(batch_norm, call_batch_norm),
    OP(bce, call_loss), OP(bce_logits, call_loss), OP(mse, call_loss),
    OP(cross_entropy, call_cross_entropy),
#undef OP
};

static void run_op(const char *name)
{
    read_seed();
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        if (strcmp(ops[k].name, name))
            continue;
        int n = n_cases();
        n_valid = n_invalid = n_gradchecked = 0;
        for (int ci = 0; ci < n; ci++)
            run_case(&ops[k], (int)k, ci);
        const char *v = getenv("NABLA_PROPERTY_VERBOSE");
        if (v && *v && *v != '0')
            cr_log_info("%s: %d cases, %lld valid, %lld invalid, %lld gradient checks", name,
                        n, (long long)n_valid, (long long)n_invalid,
                        (long long)n_gradchecked);
        cr_assert_gt(n_valid, 0, "%s: no valid case", name);
        cr_assert_gt(n_invalid, 0, "%s: no invalid case", name);
        return;
    }
    cr_assert_fail("no generator for %s", name);
}

/* The 34 ops of nabla/ops.h, each with a Test below. */
Test(property, every_op_has_a_generator)
{
    cr_assert_eq(sizeof ops / sizeof ops[0], 34);
}

#define PROPERTY(name) \
    Test(property, name) { run_op(#name); }
PROPERTY(add)
PROPERTY(sub)
PROPERTY(mul)
PROPERTY(div)
PROPERTY(neg)
PROPERTY(add_scalar)
PROPERTY(mul_scalar)
PROPERTY(exp)
PROPERTY(log)
PROPERTY(sqrt)
PROPERTY(pow)
PROPERTY(relu)
PROPERTY(sigmoid)
PROPERTY(tanh)
PROPERTY(softmax)
PROPERTY(log_softmax)
PROPERTY(sum)
PROPERTY(mean)
PROPERTY(sum_axis)
PROPERTY(mean_axis)
PROPERTY(reshape)
PROPERTY(transpose)
PROPERTY(matmul)
PROPERTY(conv2d)
PROPERTY(max_pool2d)
PROPERTY(avg_pool2d)
PROPERTY(global_avg_pool2d)
PROPERTY(flatten)
PROPERTY(dropout)
PROPERTY(batch_norm)
PROPERTY(bce)
PROPERTY(bce_logits)
PROPERTY(mse)
PROPERTY(cross_entropy)
