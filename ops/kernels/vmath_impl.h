/*
 * ops/kernels/vmath_impl.h - the vector kernels of vmath.c, written once and compiled
 * once per instruction set. Not a public header: it is included once per ISA (by
 * vmath.c for plain C, by vmath_<isa>.c, compiled with the ISA's flags) after defining
 *
 *     VM_SUFFIX   the ISA's name, appended to every function and type (avx512, ...)
 *     VW          floats per vector (16, 8, 4); it divides VM_ALIGN (64)
 *     V_EXP, V_LOG, V_LOG1P, V_EXPM1, V_TANH (v), V_POW (v, w), V_SQRT (v), V_LOGD (d)
 *                 the math of one vector (V_LOGD: ln of VW/2 doubles): SLEEF's u10
 *                 functions (1 ULP), or C's libm applied lane by lane (FN(map1) ...)
 *     V_ANY (m)   true if any lane of the mask m is set
 *
 * Every kernel handles a partial last vector with the same vector code as the others
 * (its missing lanes are padded with a harmless value and never stored), so an element
 * gets the same bits wherever it falls in the array. Sums are accumulated in VW double
 * lanes (two registers of VW/2), folded in a fixed order (FN(hsum)); padded lanes add 0.
 *
 * The arithmetic of each formula is written in the order the old scalar code used.
 * Nothing here is split across threads: vmath.c does that, at multiples of VM_ALIGN.
 */

#define VM_CAT_(a, b) a##_##b
#define VM_CAT(a, b) VM_CAT_(a, b)
#define FN(name) VM_CAT(name, VM_SUFFIX)

#define vf FN(vf)
#define vi FN(vi)
#define vh FN(vh)
#define vfh FN(vfh)
#define dacc FN(dacc)
typedef float vf __attribute__((vector_size(4 * VW)));
typedef int32_t vi __attribute__((vector_size(4 * VW)));
typedef double vh __attribute__((vector_size(4 * VW)));  /* VW/2 doubles: one register */
typedef float vfh __attribute__((vector_size(2 * VW)));  /* VW/2 floats */

/* A sum in double lanes: lo holds lanes 0..VW/2-1 of the float vectors added, hi the
 * rest. */
typedef struct dacc {
    vh lo, hi;
} dacc;

#if VW == 16
#define VM_LO 0, 1, 2, 3, 4, 5, 6, 7
#define VM_HI 8, 9, 10, 11, 12, 13, 14, 15
#define VM_BOTH 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#elif VW == 8
#define VM_LO 0, 1, 2, 3
#define VM_HI 4, 5, 6, 7
#define VM_BOTH 0, 1, 2, 3, 4, 5, 6, 7
#elif VW == 4
#define VM_LO 0, 1
#define VM_HI 2, 3
#define VM_BOTH 0, 1, 2, 3
#else
#error "vmath_impl.h: VW must be 4, 8 or 16"
#endif

#define VINL static inline __attribute__((always_inline))

/* ---- vector helpers ----------------------------------------------------------------- */

VINL vf FN(vset)(float c)
{
    vf v;
    for (int j = 0; j < VW; j++)
        v[j] = c;
    return v;
}

VINL vi FN(iota)(void)
{
    vi v;
    for (int j = 0; j < VW; j++)
        v[j] = j;
    return v;
}

VINL vf FN(vload)(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

VINL void FN(vstore)(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* The first k < VW lanes from p, the others `pad`. */
VINL vf FN(vload_n)(const float *p, int64_t k, float pad)
{
    float b[VW];
    for (int j = 0; j < VW; j++)
        b[j] = j < k ? p[j] : pad;
    return FN(vload)(b);
}

VINL void FN(vstore_n)(float *p, vf v, int64_t k)
{
    float b[VW];
    FN(vstore)(b, v);
    for (int64_t j = 0; j < k; j++)
        p[j] = b[j];
}

/* k lanes of a lane with stride S (S = 1: contiguous). */
VINL vf FN(vgather)(const float *p, int64_t S, int64_t k, float pad)
{
    if (S == 1)
        return k == VW ? FN(vload)(p) : FN(vload_n)(p, k, pad);
    float b[VW];
    for (int64_t j = 0; j < VW; j++)
        b[j] = j < k ? p[j * S] : pad;
    return FN(vload)(b);
}

VINL void FN(vscatter)(float *p, int64_t S, vf v, int64_t k)
{
    if (S == 1) {
        if (k == VW)
            FN(vstore)(p, v);
        else
            FN(vstore_n)(p, v, k);
        return;
    }
    float b[VW];
    FN(vstore)(b, v);
    for (int64_t j = 0; j < k; j++)
        p[j * S] = b[j];
}

/* m ? a : b, lane by lane (m from a comparison: all bits set or clear). */
VINL vf FN(vsel)(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }

VINL vf FN(vabs)(vf a) { return (vf)((vi)a & 0x7fffffff); }

/* fmaxf(a, c) for a that is not NaN; NaN gives c. */
VINL vf FN(vmax)(vf a, float c) { return FN(vsel)(a > c, a, FN(vset)(c)); }

/* The low and high halves of a float vector in double lanes, and back. */
VINL vh FN(lo_d)(vf a) { return __builtin_convertvector(__builtin_shufflevector(a, a, VM_LO), vh); }
VINL vh FN(hi_d)(vf a) { return __builtin_convertvector(__builtin_shufflevector(a, a, VM_HI), vh); }

VINL vf FN(narrow)(vh lo, vh hi)
{
    vfh l = __builtin_convertvector(lo, vfh), h = __builtin_convertvector(hi, vfh);
    return __builtin_shufflevector(l, h, VM_BOTH);
}

VINL void FN(dacc_add)(dacc *s, vf a)
{
    s->lo += FN(lo_d)(a);
    s->hi += FN(hi_d)(a);
}

/* s += a b, the product taken in double. */
VINL void FN(dacc_add_mul)(dacc *s, vf a, vf b)
{
    s->lo += FN(lo_d)(a) * FN(lo_d)(b);
    s->hi += FN(hi_d)(a) * FN(hi_d)(b);
}

/* The VW lanes of s summed pairwise: lane j with lane j + VW/2 (lo with hi), then the
 * same on the halves, and so on down (in registers: this ends every short lane). */
VINL double FN(hsum)(const dacc *s)
{
    vh t = s->lo + s->hi;
#if VW == 16
    double a = t[0] + t[4], b = t[1] + t[5], c = t[2] + t[6], d = t[3] + t[7];
    return (a + c) + (b + d);
#elif VW == 8
    return (t[0] + t[2]) + (t[1] + t[3]);
#else
    return t[0] + t[1];
#endif
}

/* The largest lane (a holds no NaN). */
VINL float FN(hmax)(vf a)
{
    float m = a[0];
    for (int j = 1; j < VW; j++)
        m = a[j] > m ? a[j] : m;
    return m;
}

VINL bool FN(any_lanes)(vi m)
{
    int32_t r = 0;
    for (int j = 0; j < VW; j++)
        r |= m[j];
    return r != 0;
}

/* f applied lane by lane: the math of the plain C build. */
VINL vf FN(map1)(float (*f)(float), vf a)
{
    float b[VW];
    FN(vstore)(b, a);
    for (int j = 0; j < VW; j++)
        b[j] = f(b[j]);
    return FN(vload)(b);
}

VINL vh FN(map1d)(double (*f)(double), vh a)
{
    for (int j = 0; j < VW / 2; j++)
        a[j] = f(a[j]);
    return a;
}

VINL vf FN(map2)(float (*f)(float, float), vf a, vf b)
{
    float u[VW], w[VW];
    FN(vstore)(u, a);
    FN(vstore)(w, b);
    for (int j = 0; j < VW; j++)
        u[j] = f(u[j], w[j]);
    return FN(vload)(u);
}

/* Runs the body with i at each multiple of VW below n and k the lanes in use: VW, or
 * n - i for the last, partial vector. The body is compiled twice, so full vectors use
 * plain loads and stores (k is the constant VW there). */
#define VM_LOOP(i, k, n, ...)                            \
    do {                                                 \
        const int64_t vm_n_ = (n);                       \
        int64_t i = 0;                                   \
        for (; i + VW <= vm_n_; i += VW) {               \
            const int64_t k = VW;                        \
            __VA_ARGS__                                  \
        }                                                \
        if (i < vm_n_) {                                 \
            const int64_t k = vm_n_ - i;                 \
            __VA_ARGS__                                  \
        }                                                \
    } while (0)

#define LD(p, k, pad) ((k) == VW ? FN(vload)(p) : FN(vload_n)(p, k, pad))
#define ST(p, v, k) ((k) == VW ? FN(vstore)(p, v) : FN(vstore_n)(p, v, k))
/* v with the lanes from k on set to 0 (for sums over a partial vector). */
#define KEEP(v, k, iota) ((k) == VW ? (v) : FN(vsel)((iota) < (int32_t)(k), v, FN(vset)(0.0f)))

/* ---- element-wise functions ----------------------------------------------------------- */

/* Kernels that chain a SLEEF call into more work (another call, a division) run the
 * call in its own loop over a block of VM_BLOCK elements (a stack buffer in L1), then
 * the rest: back to back in one loop, each step waits for the call and the loop runs
 * at its latency, not its throughput. */
#define VM_BLOCK 256

/* sigmoid z = 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below: e^-|z| never overflows,
 * and small results keep their relative accuracy. */
VINL vf FN(vsigmoid)(vf z)
{
    vf e = V_EXP(-FN(vabs)(z));
    return FN(vsel)(z >= 0.0f, FN(vset)(1.0f), e) / (1.0f + e);
}

/* ln(1 + x); SLEEF's log1pf gives inf above 1e38, where ln x is the same float. */
VINL vf FN(vlog1p)(vf x)
{
    vf r = V_LOG1P(x);
    vi big = x > 1e38f;
    return V_ANY(big) ? FN(vsel)(big, V_LOG(x), r) : r;
}

#define VM_UNARY(name, pad, expr)                                            \
    static void FN(name)(float *y, const float *x, int64_t n)                \
    {                                                                        \
        VM_LOOP(i, k, n, {                                                   \
            vf v = LD(x + i, k, pad);                                        \
            ST(y + i, (expr), k);                                            \
        });                                                                  \
    }

VM_UNARY(exp, 0.0f, V_EXP(v))
VM_UNARY(log, 1.0f, V_LOG(v))
VM_UNARY(log1p, 0.0f, FN(vlog1p)(v))
VM_UNARY(expm1, 0.0f, V_EXPM1(v))
VM_UNARY(tanh, 0.0f, V_TANH(v))
VM_UNARY(sqrt, 1.0f, V_SQRT(v))
/* relu keeps NaN: x <= 0 is false for it. */
VM_UNARY(relu, 0.0f, FN(vsel)(v <= 0.0f, FN(vset)(0.0f), v))

static void FN(pow)(float *y, const float *x, float p, int64_t n)
{
    vf pv = FN(vset)(p);
    VM_LOOP(i, k, n, {
        vf v = LD(x + i, k, 1.0f);
        ST(y + i, V_POW(v, pv), k);
    });
}

VM_UNARY(sigmoid, 0.0f, FN(vsigmoid)(v))

/* dx += f'(dy, a) for a = x or y, as each backward kernel says. */
#define VM_BACKWARD(name, pad, expr)                                                   \
    static void FN(name)(float *dx, const float *a, const float *dy, int64_t n)        \
    {                                                                                  \
        VM_LOOP(i, k, n, {                                                             \
            vf v = LD(a + i, k, pad), g = LD(dy + i, k, 0.0f), d = LD(dx + i, k, 0.0f); \
            ST(dx + i, (expr), k);                                                     \
        });                                                                            \
    }

VM_BACKWARD(exp_backward, 0.0f, d + g * v)                       /* a = y */
VM_BACKWARD(log_backward, 1.0f, d + g / v)                       /* a = x */
VM_BACKWARD(sqrt_backward, 1.0f, d + g / (2.0f * v))             /* a = y */
VM_BACKWARD(sigmoid_backward, 0.0f, d + g * v * (1.0f - v))      /* a = y */
VM_BACKWARD(tanh_backward, 0.0f, d + g * (1.0f - v * v))         /* a = y */
VM_BACKWARD(relu_backward, 0.0f, FN(vsel)(v > 0.0f, d + g, d))   /* a = x */

static void FN(pow_backward)(float *dx, const float *x, const float *dy, float p,
                             int64_t n)
{
    vf pm1 = FN(vset)(p - 1.0f);
    VM_LOOP(i, k, n, {
        vf v = LD(x + i, k, 1.0f), g = LD(dy + i, k, 0.0f), d = LD(dx + i, k, 0.0f);
        ST(dx + i, d + g * p * V_POW(v, pm1), k);
    });
}

/* ---- losses ------------------------------------------------------------------------- */

#define VM_LOG_MIN (-100.0f)
#define VM_EPS 1e-12f

/* p in [0, 1] (false for NaN). */
VINL vi FN(in_unit)(vf p) { return (p >= 0.0f) & (p <= 1.0f); }

/* A log lx of a p in [0, 1] clamped at -100; NaN where p is not in [0, 1]. */
VINL vf FN(clamp_log)(vf lx, vi in)
{
    return FN(vsel)(in, FN(vmax)(lx, VM_LOG_MIN), FN(vset)(NAN));
}

/* The derivative of a clamped log: 1 / max(x, 1e-12) where ln x > -100, else 0. */
VINL vf FN(clamp_log_grad)(vf x, vf lx)
{
    return FN(vsel)(lx > VM_LOG_MIN, 1.0f / FN(vmax)(x, VM_EPS), FN(vset)(0.0f));
}

/* Each element-wise loss: a forward that writes the terms to l (if not NULL) and
 * returns their sum, and a backward that adds each term's gradient times g_i (g[i],
 * or `scale` when g is NULL) into da and db (each skipped when NULL). */

static double FN(bce)(float *l, const float *p, const float *y, int64_t n)
{
    dacc acc = {{0}, {0}};
    vi io = FN(iota)();
    float lp[VM_BLOCK], lq[VM_BLOCK];
    for (int64_t b = 0; b < n; b += VM_BLOCK) {
        const int64_t m = n - b < VM_BLOCK ? n - b : VM_BLOCK;
        const float *pb = p + b, *yb = y + b;
        VM_LOOP(i, k, m, { ST(lp + i, V_LOG(LD(pb + i, k, 0.5f)), k); });
        VM_LOOP(i, k, m, { ST(lq + i, V_LOG1P(-LD(pb + i, k, 0.5f)), k); });
        VM_LOOP(i, k, m, {
            vf pv = LD(pb + i, k, 0.5f), yv = LD(yb + i, k, 0.5f);
            vi in = FN(in_unit)(pv);
            vf li = -(yv * FN(clamp_log)(LD(lp + i, k, 0.0f), in) +
                      (1.0f - yv) * FN(clamp_log)(LD(lq + i, k, 0.0f), in));
            if (l)
                ST(l + b + i, li, k);
            FN(dacc_add)(&acc, KEEP(li, k, io));
        });
    }
    return FN(hsum)(&acc);
}

/* pq >= 1e-12 implies p, 1 - p >= 1e-12, so neither log is clamped: the plain
 * g (p - y) / (p (1 - p)) holds, and the logs are needed only for dy or a vector with
 * an element near 0 or 1, or outside [0, 1]. */
static void FN(bce_backward)(float *dp, float *dy, const float *p, const float *y,
                             const float *g, float scale, int64_t n)
{
    vf sv = FN(vset)(scale);
    VM_LOOP(i, k, n, {
        vf pv = LD(p + i, k, 0.5f), yv = LD(y + i, k, 0.5f);
        vf gv = g ? LD(g + i, k, 0.0f) : sv;
        vf q = 1.0f - pv, pq = pv * q;
        vi in = FN(in_unit)(pv), plain = in & (pq >= VM_EPS);
        bool all_plain = !V_ANY(~plain);
        vf lp = FN(vset)(0.0f), lq = lp;
        if (dy || !all_plain) {
            lp = FN(clamp_log)(V_LOG(pv), in);
            lq = FN(clamp_log)(V_LOG1P(-pv), in);
        }
        if (dp) {
            vf r = gv * (pv - yv) / pq;
            if (!all_plain) {
                vi main = in & (lp > VM_LOG_MIN) & (lq > VM_LOG_MIN) & (pq >= VM_EPS);
                vf edge = gv * (-yv * FN(clamp_log_grad)(pv, lp) +
                                (1.0f - yv) * FN(clamp_log_grad)(q, lq));
                r = FN(vsel)(in, FN(vsel)(main, r, edge), FN(vset)(NAN));
            }
            ST(dp + i, LD(dp + i, k, 0.0f) + r, k);
        }
        if (dy)
            ST(dy + i, LD(dy + i, k, 0.0f) + gv * (lq - lp), k);
    });
}

static double FN(bce_logits)(float *l, const float *z, const float *y, int64_t n)
{
    dacc acc = {{0}, {0}};
    vi io = FN(iota)();
    float sp[VM_BLOCK]; /* e^-|z|, then ln(1 + e^-|z|) */
    for (int64_t b = 0; b < n; b += VM_BLOCK) {
        const int64_t m = n - b < VM_BLOCK ? n - b : VM_BLOCK;
        const float *zb = z + b, *yb = y + b;
        VM_LOOP(i, k, m, { ST(sp + i, V_EXP(-FN(vabs)(LD(zb + i, k, 0.0f))), k); });
        VM_LOOP(i, k, m, { ST(sp + i, V_LOG1P(LD(sp + i, k, 0.0f)), k); });
        VM_LOOP(i, k, m, {
            vf zv = LD(zb + i, k, 0.0f), yv = LD(yb + i, k, 0.0f);
            vf li = FN(vmax)(zv, 0.0f) - zv * yv + LD(sp + i, k, 0.0f);
            if (l)
                ST(l + b + i, li, k);
            FN(dacc_add)(&acc, KEEP(li, k, io));
        });
    }
    return FN(hsum)(&acc);
}

static void FN(bce_logits_backward)(float *dz, float *dy, const float *z,
                                    const float *y, const float *g, float scale,
                                    int64_t n)
{
    vf sv = FN(vset)(scale);
    VM_LOOP(i, k, n, {
        vf zv = LD(z + i, k, 0.0f);
        vf gv = g ? LD(g + i, k, 0.0f) : sv;
        if (dz) {
            vf yv = LD(y + i, k, 0.0f);
            ST(dz + i, LD(dz + i, k, 0.0f) + gv * (FN(vsigmoid)(zv) - yv), k);
        }
        if (dy)
            ST(dy + i, LD(dy + i, k, 0.0f) - gv * zv, k);
    });
}

/* Memory-bound: widening every vector to double would cost more than reading it, so
 * four vectors of terms are added pairwise in float first ((a + b) + (c + d): within
 * 2 roundings of their sum), then widened; the rest of the part one vector at a time. */
static double FN(mse)(float *l, const float *p, const float *y, int64_t n)
{
    dacc acc = {{0}, {0}};
    int64_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        vf t[4];
        for (int j = 0; j < 4; j++) {
            vf d = FN(vload)(p + i + j * VW) - FN(vload)(y + i + j * VW);
            t[j] = d * d;
            if (l)
                FN(vstore)(l + i + j * VW, t[j]);
        }
        FN(dacc_add)(&acc, (t[0] + t[1]) + (t[2] + t[3]));
    }
    const float *pr = p + i, *yr = y + i;
    VM_LOOP(r, k, n - i, {
        vf d = LD(pr + r, k, 0.0f) - LD(yr + r, k, 0.0f); /* padded lanes: 0 - 0 */
        vf li = d * d;
        if (l)
            ST(l + i + r, li, k);
        FN(dacc_add)(&acc, li);
    });
    return FN(hsum)(&acc);
}

static void FN(mse_backward)(float *dp, float *dy, const float *p, const float *y,
                             const float *g, float scale, int64_t n)
{
    vf sv = FN(vset)(scale);
    VM_LOOP(i, k, n, {
        vf gv = g ? LD(g + i, k, 0.0f) : sv;
        vf d = 2.0f * (LD(p + i, k, 0.0f) - LD(y + i, k, 0.0f)) * gv;
        if (dp)
            ST(dp + i, LD(dp + i, k, 0.0f) + d, k);
        if (dy)
            ST(dy + i, LD(dy + i, k, 0.0f) - d, k);
    });
}

/* ---- lanes: softmax, log_softmax, cross-entropy ----------------------------------------- */

/* The largest of a lane's L elements, S apart; NaNs are skipped (like fmaxf), so a lane
 * of NaNs gives -inf. */
VINL float FN(lane_max)(const float *x, int64_t L, int64_t S)
{
    vf m = FN(vset)(-INFINITY);
    VM_LOOP(l, k, L, {
        vf v = FN(vgather)(x + l * S, S, k, -INFINITY);
        m = FN(vsel)(v > m, v, m);
    });
    return FN(hmax)(m);
}

/* e_l = e^(x_l - m) stored to e (if not NULL); returns sum_l e_l in double. */
VINL double FN(lane_exp_sum)(float *e, const float *x, float m, int64_t L,
                                         int64_t S)
{
    dacc acc = {{0}, {0}};
    vi io = FN(iota)();
    VM_LOOP(l, k, L, {
        vf v = V_EXP(FN(vgather)(x + l * S, S, k, 0.0f) - m);
        if (e)
            FN(vscatter)(e + l * S, S, v, k);
        FN(dacc_add)(&acc, KEEP(v, k, io));
    });
    return FN(hsum)(&acc);
}

static void FN(softmax_lane)(float *y, const float *x, int64_t L, int64_t S)
{
    float m = FN(lane_max)(x, L, S);
    double sum = FN(lane_exp_sum)(y, x, m, L, S);
    VM_LOOP(l, k, L, {
        vf e = FN(vgather)(y + l * S, S, k, 0.0f);
        FN(vscatter)(y + l * S, S, FN(narrow)(FN(lo_d)(e) / sum, FN(hi_d)(e) / sum), k);
    });
}

/* dx_l += y_l (dy_l - sum_k dy_k y_k) */
static void FN(softmax_lane_backward)(float *dx, const float *y, const float *dy,
                                      int64_t L, int64_t S)
{
    dacc acc = {{0}, {0}};
    vi io = FN(iota)();
    VM_LOOP(l, k, L, {
        vf g = FN(vgather)(dy + l * S, S, k, 0.0f), v = FN(vgather)(y + l * S, S, k, 0.0f);
        FN(dacc_add_mul)(&acc, KEEP(g, k, io), v);
    });
    float dot = (float)FN(hsum)(&acc);
    VM_LOOP(l, k, L, {
        vf g = FN(vgather)(dy + l * S, S, k, 0.0f), v = FN(vgather)(y + l * S, S, k, 0.0f);
        vf d = FN(vgather)(dx + l * S, S, k, 0.0f);
        FN(vscatter)(dx + l * S, S, d + v * (g - dot), k);
    });
}

static void FN(log_softmax_lane)(float *y, const float *x, int64_t L, int64_t S)
{
    float m = FN(lane_max)(x, L, S);
    float log_sum = (float)log(FN(lane_exp_sum)(NULL, x, m, L, S));
    VM_LOOP(l, k, L, {
        vf v = FN(vgather)(x + l * S, S, k, 0.0f);
        FN(vscatter)(y + l * S, S, v - m - log_sum, k);
    });
}

/* dx_l += dy_l - e^(y_l) sum_k dy_k */
static void FN(log_softmax_lane_backward)(float *dx, const float *y, const float *dy,
                                          int64_t L, int64_t S)
{
    dacc acc = {{0}, {0}};
    vi io = FN(iota)();
    VM_LOOP(l, k, L, {
        FN(dacc_add)(&acc, KEEP(FN(vgather)(dy + l * S, S, k, 0.0f), k, io));
    });
    float sum = (float)FN(hsum)(&acc);
    VM_LOOP(l, k, L, {
        vf g = FN(vgather)(dy + l * S, S, k, 0.0f), v = FN(vgather)(y + l * S, S, k, 0.0f);
        vf d = FN(vgather)(dx + l * S, S, k, 0.0f);
        FN(vscatter)(dx + l * S, S, d + (g - V_EXP(v) * sum), k);
    });
}

/* Rows [0, N) of cross-entropy over C classes: l_n = m + ln s - x[n, t_n] (in double),
 * the softmax to prob (if not NULL); returns sum_n l_n, added in row order. The logs of
 * VW/2 rows' sums are taken together (rows past N pad with s = 1). */
static double FN(cross_entropy)(float *l, float *prob, const float *x,
                                const float *t, int64_t N, int64_t C)
{
    enum { G = VW / 2 };
    double total = 0.0;
    for (int64_t n0 = 0; n0 < N; n0 += G) {
        int64_t rows = N - n0 < G ? N - n0 : G;
        float m[G];
        vh s;
        for (int64_t j = 0; j < G; j++) {
            s[j] = 1.0;
            if (j >= rows)
                continue;
            const float *row = x + (n0 + j) * C;
            float *pr = prob ? prob + (n0 + j) * C : NULL;
            m[j] = FN(lane_max)(row, C, 1);
            s[j] = FN(lane_exp_sum)(pr, row, m[j], C, 1);
            if (pr) {
                float inv = (float)(1.0 / s[j]);
                VM_LOOP(c, k, C, { ST(pr + c, LD(pr + c, k, 0.0f) * inv, k); });
            }
        }
        vh ls = V_LOGD(s);
        for (int64_t j = 0; j < rows; j++) {
            int64_t n = n0 + j;
            float ln = (float)((double)m[j] + ls[j] - (double)x[n * C + (int64_t)t[n]]);
            if (l)
                l[n] = ln;
            total += ln;
        }
    }
    return total;
}

/* dx[n, c] += g_n (prob[n, c] - [c == t_n]) for rows [0, N). */
static void FN(cross_entropy_backward)(float *dx, const float *prob, const float *t,
                                       const float *g, float scale, int64_t N,
                                       int64_t C)
{
    vi io = FN(iota)();
    for (int64_t n = 0; n < N; n++) {
        float gn = g ? g[n] : scale;
        int32_t label = (int32_t)t[n];
        const float *pr = prob + n * C;
        float *d = dx + n * C;
        VM_LOOP(c, k, C, {
            vi hot = io == (int32_t)(label - c);
            vf onehot = FN(vsel)(hot, FN(vset)(1.0f), FN(vset)(0.0f));
            ST(d + c, LD(d + c, k, 0.0f) + gn * (LD(pr + c, k, 0.0f) - onehot), k);
        });
    }
}

/* ---- the table vmath.c dispatches through --------------------------------------------- */

static const vm_table FN(table) = {
    .exp = FN(exp),
    .log = FN(log),
    .log1p = FN(log1p),
    .expm1 = FN(expm1),
    .tanh = FN(tanh),
    .sqrt = FN(sqrt),
    .sigmoid = FN(sigmoid),
    .relu = FN(relu),
    .pow = FN(pow),
    .exp_backward = FN(exp_backward),
    .log_backward = FN(log_backward),
    .sqrt_backward = FN(sqrt_backward),
    .sigmoid_backward = FN(sigmoid_backward),
    .tanh_backward = FN(tanh_backward),
    .relu_backward = FN(relu_backward),
    .pow_backward = FN(pow_backward),
    .bce = FN(bce),
    .bce_backward = FN(bce_backward),
    .bce_logits = FN(bce_logits),
    .bce_logits_backward = FN(bce_logits_backward),
    .mse = FN(mse),
    .mse_backward = FN(mse_backward),
    .softmax_lane = FN(softmax_lane),
    .softmax_lane_backward = FN(softmax_lane_backward),
    .log_softmax_lane = FN(log_softmax_lane),
    .log_softmax_lane_backward = FN(log_softmax_lane_backward),
    .cross_entropy = FN(cross_entropy),
    .cross_entropy_backward = FN(cross_entropy_backward),
};

#undef vf
#undef vi
#undef vh
#undef vfh
#undef dacc
#undef VM_LO
#undef VM_HI
#undef VM_BOTH
#undef VINL
#undef VM_UNARY
#undef VM_BACKWARD
#undef VM_LOOP
#undef LD
#undef ST
#undef KEEP
#undef VM_LOG_MIN
#undef VM_EPS
#undef VM_BLOCK
#undef FN
#undef VM_CAT
#undef VM_CAT_
