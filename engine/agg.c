/*
 * agg.c - the slow-path half of the accumulators: lookup by name, typing,
 * pane merging and results.  The per-event update of the first six kinds
 * is inline in agg.h; the larger kinds (COUNT_DISTINCT, TOPK, ...) update
 * here.
 *
 * COUNT_DISTINCT is a HyperLogLog of precision 12 (4096 one-byte
 * registers, standard error 1.04 / sqrt(4096) = 1.6 %) over XXH3 64-bit
 * hashes of the values.  Until SL_AGG_HLL_SPARSE distinct hashes have been
 * seen it keeps the hashes themselves, sorted, in the registers' bytes,
 * and the count is exact (up to a 64-bit hash collision); past that it
 * turns them into registers.  The estimate is Ertl's improved raw
 * estimator ("New cardinality estimation algorithms for HyperLogLog
 * sketches", 2017, algorithm 6), which needs neither linear counting nor
 * bias tables and is unbiased from small to large counts.  Registers merge
 * by max, so panes combine exactly as one sketch of all their values.
 */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "engine/agg.h"

static const char *const names[] = {
        [SL_AGG_COUNT_STAR] = "COUNT",
        [SL_AGG_COUNT] = "COUNT",
        [SL_AGG_SUM] = "SUM",
        [SL_AGG_AVG] = "AVG",
        [SL_AGG_MIN] = "MIN",
        [SL_AGG_MAX] = "MAX",
        [SL_AGG_COUNT_DISTINCT] = "COUNT_DISTINCT",
        [SL_AGG_TOPK] = "TOPK",
        [SL_AGG_TOPKDISTINCT] = "TOPKDISTINCT",
        [SL_AGG_LATEST] = "LATEST_BY_OFFSET",
        [SL_AGG_EARLIEST] = "EARLIEST_BY_OFFSET",
        [SL_AGG_STDDEV] = "STDDEV_SAMP",
        [SL_AGG_EMA] = "EMA",
};

int sl_agg_lookup(const char *name)
{
        for (int k = SL_AGG_COUNT; k <= SL_AGG_EMA; k++)
                if (strcasecmp(name, names[k]) == 0)
                        return k;
        return -1;
}

const char *sl_agg_name(enum sl_agg_kind kind)
{
        return names[kind];
}

uint32_t sl_agg_nparams(enum sl_agg_kind kind)
{
        return kind == SL_AGG_TOPK || kind == SL_AGG_TOPKDISTINCT || kind == SL_AGG_EMA;
}

uint32_t sl_agg_state_size(const struct sl_agg_desc *d)
{
        switch (d->kind) {
        case SL_AGG_COUNT_DISTINCT:
                return (uint32_t)sizeof(struct sl_agg_hll);
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT:
                return (uint32_t)(sizeof(struct sl_agg_topk) + d->k * sizeof(int64_t));
        case SL_AGG_STDDEV:
                return (uint32_t)sizeof(struct sl_agg_welford);
        default:
                return (uint32_t)sizeof(struct sl_acc);
        }
}

bool sl_agg_mergeable(enum sl_agg_kind kind)
{
        return kind != SL_AGG_EMA;
}

enum sl_type sl_agg_result_type(enum sl_agg_kind kind, enum sl_type arg,
                                const char **why)
{
        switch (kind) {
        case SL_AGG_COUNT_STAR:
        case SL_AGG_COUNT:
                return SL_T_BIGINT;
        case SL_AGG_SUM:
        case SL_AGG_MIN:
        case SL_AGG_MAX:
                if (!sl_type_is_numeric(arg))
                        break;
                return arg == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_BIGINT;
        case SL_AGG_AVG:
        case SL_AGG_STDDEV:
        case SL_AGG_EMA:
                if (!sl_type_is_numeric(arg))
                        break;
                return SL_T_DOUBLE;
        case SL_AGG_COUNT_DISTINCT:
                if (arg == SL_T_NULL) {
                        *why = "needs a typed argument, not a NULL literal";
                        return SL_T_NULL;
                }
                return SL_T_BIGINT;
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT:
                if (!sl_type_is_numeric(arg))
                        break;
                return SL_T_ARRAY;
        case SL_AGG_LATEST:
        case SL_AGG_EARLIEST:
                if (!sl_type_is_numeric(arg) && arg != SL_T_BOOL) {
                        *why = "needs an INTEGER, BIGINT, DOUBLE or BOOLEAN argument (STRING is not supported yet)";
                        return SL_T_NULL;
                }
                return arg;
        }
        *why = "needs a numeric argument (INTEGER, BIGINT or DOUBLE)";
        return SL_T_NULL;
}

/* ---- COUNT_DISTINCT --------------------------------------------------- */

static uint64_t hll_hash(const struct sl_value *x)
{
        switch ((enum sl_type)x->type) {
        case SL_T_STRING:
                return XXH3_64bits(x->u.s.p, x->u.s.len);
        case SL_T_DOUBLE: {
                double d = x->u.d == 0 ? 0.0 : x->u.d; /* -0.0 == 0.0 */
                return XXH3_64bits(&d, sizeof d);
        }
        case SL_T_BOOL: {
                int64_t b = x->u.b;
                return XXH3_64bits(&b, sizeof b);
        }
        default:
                return XXH3_64bits(&x->u.i, sizeof x->u.i);
        }
}

/* Register index: the top P bits; value: 1 + leading zeros of the rest,
 * at most 64 - P + 1. */
static void hll_add_dense(struct sl_agg_hll *h, uint64_t hash)
{
        uint32_t idx = (uint32_t)(hash >> (64 - SL_AGG_HLL_P));
        uint64_t rest = hash << SL_AGG_HLL_P;
        uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : (uint8_t)(64 - SL_AGG_HLL_P + 1);
        if (rank > h->u.reg[idx])
                h->u.reg[idx] = rank;
}

static void hll_densify(struct sl_agg_hll *h)
{
        uint64_t tmp[SL_AGG_HLL_SPARSE];
        uint32_t n = h->nsparse;
        memcpy(tmp, h->u.h, n * sizeof *tmp);
        memset(h->u.reg, 0, sizeof h->u.reg);
        h->dense = 1;
        h->nsparse = 0;
        for (uint32_t i = 0; i < n; i++)
                hll_add_dense(h, tmp[i]);
}

static void hll_add(struct sl_agg_hll *h, uint64_t hash)
{
        if (h->dense) {
                hll_add_dense(h, hash);
                return;
        }
        uint32_t lo = 0, hi = h->nsparse;
        while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (h->u.h[mid] < hash)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < h->nsparse && h->u.h[lo] == hash)
                return;
        if (h->nsparse == SL_AGG_HLL_SPARSE) {
                hll_densify(h);
                hll_add_dense(h, hash);
                return;
        }
        memmove(&h->u.h[lo + 1], &h->u.h[lo], (h->nsparse - lo) * sizeof *h->u.h);
        h->u.h[lo] = hash;
        h->nsparse++;
}

static void hll_merge(struct sl_agg_hll *dst, const struct sl_agg_hll *src)
{
        if (!src->dense) {
                if (!dst->dense) {
                        /* Both sorted: a merge, densified if it overflows. */
                        uint64_t out[SL_AGG_HLL_SPARSE];
                        uint32_t i = 0, j = 0, n = 0;
                        while (i < dst->nsparse || j < src->nsparse) {
                                uint64_t v;
                                if (j == src->nsparse || (i < dst->nsparse && dst->u.h[i] < src->u.h[j]))
                                        v = dst->u.h[i++];
                                else if (i == dst->nsparse || src->u.h[j] < dst->u.h[i])
                                        v = src->u.h[j++];
                                else
                                        v = dst->u.h[i++], j++;
                                if (n == SL_AGG_HLL_SPARSE) {
                                        hll_densify(dst);
                                        for (uint32_t t = 0; t < src->nsparse; t++)
                                                hll_add_dense(dst, src->u.h[t]);
                                        return;
                                }
                                out[n++] = v;
                        }
                        memcpy(dst->u.h, out, n * sizeof *out);
                        dst->nsparse = n;
                        return;
                }
                for (uint32_t t = 0; t < src->nsparse; t++)
                        hll_add_dense(dst, src->u.h[t]);
                return;
        }
        if (!dst->dense)
                hll_densify(dst);
        for (uint32_t r = 0; r < SL_AGG_HLL_M; r++)
                if (src->u.reg[r] > dst->u.reg[r])
                        dst->u.reg[r] = src->u.reg[r];
}

/* Ertl 2017, algorithm 6: sigma and tau correct for empty and saturated
 * registers. */
static double hll_sigma(double x)
{
        if (x == 1.0)
                return INFINITY;
        double y = 1.0, z = x, zp;
        do {
                x *= x;
                zp = z;
                z += x * y;
                y += y;
        } while (z != zp);
        return z;
}

static double hll_tau(double x)
{
        if (x == 0.0 || x == 1.0)
                return 0.0;
        double y = 1.0, z = 1.0 - x, zp;
        do {
                x = sqrt(x);
                zp = z;
                y *= 0.5;
                z -= (1.0 - x) * (1.0 - x) * y;
        } while (z != zp);
        return z / 3.0;
}

static int64_t hll_count(const struct sl_agg_hll *h)
{
        if (!h->dense)
                return h->nsparse;
        enum { Q = 64 - SL_AGG_HLL_P };
        uint32_t c[Q + 2] = {0};
        for (uint32_t r = 0; r < SL_AGG_HLL_M; r++)
                c[h->u.reg[r]]++;
        double m = SL_AGG_HLL_M;
        double z = m * hll_tau(1.0 - c[Q + 1] / m);
        for (int k = Q; k >= 1; k--)
                z = 0.5 * (z + c[k]);
        z += m * hll_sigma(c[0] / m);
        return (int64_t)llround(m * m / (2.0 * log(2.0)) / z);
}

/* ---- TOPK ------------------------------------------------------------- */

/* Is x before y in descending order? */
static inline bool topk_before(bool dbl, const struct sl_agg_topk *t, int64_t i,
                               const struct sl_value *x)
{
        return dbl ? x->u.d > t->v[i].d : x->u.i > t->v[i].i;
}

static void topk_add(const struct sl_agg_desc *d, struct sl_agg_topk *t,
                     const struct sl_value *x)
{
        bool dbl = d->arg_type == SL_T_DOUBLE;
        if (dbl && isnan(x->u.d))
                return; /* no place in an order; documented */
        int64_t n = t->n, pos = n;
        /* From the smallest end: most values of a long stream fall off it. */
        while (pos > 0 && topk_before(dbl, t, pos - 1, x))
                pos--;
        if (d->kind == SL_AGG_TOPKDISTINCT && pos > 0 &&
            (dbl ? t->v[pos - 1].d == x->u.d : t->v[pos - 1].i == x->u.i))
                return;
        if (pos >= (int64_t)d->k)
                return;
        if (n == (int64_t)d->k)
                n--;
        memmove(&t->v[pos + 1], &t->v[pos], (size_t)(n - pos) * sizeof t->v[0]);
        if (dbl)
                t->v[pos].d = x->u.d;
        else
                t->v[pos].i = x->u.i;
        t->n = n + 1;
}

static void topk_merge(const struct sl_agg_desc *d, struct sl_agg_topk *dst,
                       const struct sl_agg_topk *src)
{
        struct sl_value x = {.type = (uint8_t)d->arg_type};
        for (int64_t i = 0; i < src->n; i++) {
                if (d->arg_type == SL_T_DOUBLE)
                        x.u.d = src->v[i].d;
                else
                        x.u.i = src->v[i].i;
                topk_add(d, dst, &x);
        }
}

/* ---- the kinds past MAX ---------------------------------------------- */

void sl_agg_update_ext(const struct sl_agg_desc *d, struct sl_acc *a,
                       const struct sl_value *x, uint64_t seq)
{
        if (x->type == SL_T_NULL)
                return;
        switch (d->kind) {
        case SL_AGG_COUNT_DISTINCT:
                hll_add((struct sl_agg_hll *)a, hll_hash(x));
                return;
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT:
                topk_add(d, (struct sl_agg_topk *)a, x);
                return;
        case SL_AGG_LATEST:
                a->v.i = x->type == SL_T_BOOL ? x->u.b : x->u.i; /* d: same bits */
                a->n = (int64_t)seq;
                return;
        case SL_AGG_EARLIEST:
                if (a->n == 0) {
                        a->v.i = x->type == SL_T_BOOL ? x->u.b : x->u.i;
                        a->n = (int64_t)seq;
                }
                return;
        case SL_AGG_STDDEV: {
                struct sl_agg_welford *w = (struct sl_agg_welford *)a;
                double v = x->type == SL_T_DOUBLE ? x->u.d : (double)x->u.i;
                w->n++;
                double delta = v - w->mean;
                w->mean += delta / (double)w->n;
                w->m2 += delta * (v - w->mean);
                return;
        }
        case SL_AGG_EMA: {
                double v = x->type == SL_T_DOUBLE ? x->u.d : (double)x->u.i;
                a->v.d = a->n == 0 ? v : d->alpha * v + (1.0 - d->alpha) * a->v.d;
                a->n++;
                return;
        }
        default:
                return;
        }
}

static void merge_ext(const struct sl_agg_desc *d, struct sl_acc *dst,
                      const struct sl_acc *src)
{
        switch (d->kind) {
        case SL_AGG_COUNT_DISTINCT:
                hll_merge((struct sl_agg_hll *)dst, (const struct sl_agg_hll *)src);
                return;
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT:
                topk_merge(d, (struct sl_agg_topk *)dst, (const struct sl_agg_topk *)src);
                return;
        case SL_AGG_LATEST:
                if (src->n > dst->n)
                        *dst = *src;
                return;
        case SL_AGG_EARLIEST:
                if (src->n != 0 && (dst->n == 0 || src->n < dst->n))
                        *dst = *src;
                return;
        case SL_AGG_STDDEV: {
                /* Chan et al.'s pairwise update. */
                struct sl_agg_welford *a = (struct sl_agg_welford *)dst;
                const struct sl_agg_welford *b = (const struct sl_agg_welford *)src;
                if (b->n == 0)
                        return;
                if (a->n == 0) {
                        *a = *b;
                        return;
                }
                double na = (double)a->n, nb = (double)b->n, n = na + nb;
                double delta = b->mean - a->mean;
                a->mean += delta * nb / n;
                a->m2 += b->m2 + delta * delta * na * nb / n;
                a->n += b->n;
                return;
        }
        case SL_AGG_EMA:
                /* Only one pane's state can be taken as it is: the
                 * planner never lets EMA span panes. */
                if (dst->n == 0)
                        *dst = *src;
                return;
        default:
                return;
        }
}

void sl_agg_merge(const struct sl_agg_desc *d, struct sl_acc *dst,
                  const struct sl_acc *src)
{
        if (d->kind > SL_AGG_MAX) {
                merge_ext(d, dst, src);
                return;
        }
        if (src->n == 0)
                return;
        switch (d->kind) {
        case SL_AGG_COUNT_STAR:
        case SL_AGG_COUNT:
                break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
                if (d->arg_type == SL_T_DOUBLE)
                        dst->v.d += src->v.d;
                else
                        dst->v.i = (int64_t)((uint64_t)dst->v.i + (uint64_t)src->v.i);
                break;
        case SL_AGG_MIN:
                if (d->arg_type == SL_T_DOUBLE) {
                        if (dst->n == 0 || src->v.d < dst->v.d)
                                dst->v.d = src->v.d;
                } else if (dst->n == 0 || src->v.i < dst->v.i) {
                        dst->v.i = src->v.i;
                }
                break;
        case SL_AGG_MAX:
                if (d->arg_type == SL_T_DOUBLE) {
                        if (dst->n == 0 || src->v.d > dst->v.d)
                                dst->v.d = src->v.d;
                } else if (dst->n == 0 || src->v.i > dst->v.i) {
                        dst->v.i = src->v.i;
                }
                break;
        default:
                break;
        }
        dst->n += src->n;
}

void sl_agg_result(const struct sl_agg_desc *d, const struct sl_acc *a,
                   struct sl_value *out)
{
        switch (d->kind) {
        case SL_AGG_COUNT_STAR:
        case SL_AGG_COUNT:
                out->type = SL_T_BIGINT;
                out->u.i = a->n;
                return;
        case SL_AGG_AVG:
                if (a->n == 0)
                        break;
                out->type = SL_T_DOUBLE;
                out->u.d = (d->arg_type == SL_T_DOUBLE ? a->v.d : (double)a->v.i) /
                           (double)a->n;
                return;
        case SL_AGG_SUM:
        case SL_AGG_MIN:
        case SL_AGG_MAX:
                if (a->n == 0)
                        break;
                if (d->arg_type == SL_T_DOUBLE) {
                        out->type = SL_T_DOUBLE;
                        out->u.d = a->v.d;
                } else {
                        out->type = SL_T_BIGINT;
                        out->u.i = a->v.i;
                }
                return;
        case SL_AGG_COUNT_DISTINCT:
                out->type = SL_T_BIGINT;
                out->u.i = hll_count((const struct sl_agg_hll *)a);
                return;
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT: {
                const struct sl_agg_topk *t = (const struct sl_agg_topk *)a;
                out->type = SL_T_ARRAY;
                out->u.a.p = t->v;
                out->u.a.n = (uint32_t)t->n;
                out->u.a.elem = d->arg_type == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_BIGINT;
                return;
        }
        case SL_AGG_LATEST:
        case SL_AGG_EARLIEST:
                if (a->n == 0)
                        break;
                if (d->arg_type == SL_T_BOOL) {
                        out->type = SL_T_BOOL;
                        out->u.b = a->v.i != 0;
                } else if (d->arg_type == SL_T_DOUBLE) {
                        out->type = SL_T_DOUBLE;
                        out->u.d = a->v.d;
                } else {
                        out->type = SL_T_BIGINT;
                        out->u.i = a->v.i;
                }
                return;
        case SL_AGG_STDDEV: {
                const struct sl_agg_welford *w = (const struct sl_agg_welford *)a;
                if (w->n < 2)
                        break;
                out->type = SL_T_DOUBLE;
                out->u.d = sqrt(w->m2 / (double)(w->n - 1));
                return;
        }
        case SL_AGG_EMA:
                if (a->n == 0)
                        break;
                out->type = SL_T_DOUBLE;
                out->u.d = a->v.d;
                return;
        }
        out->type = SL_T_NULL;
}

bool sl_agg_valid(const struct sl_agg_desc *d, const struct sl_acc *a,
                  int64_t max_n)
{
        switch (d->kind) {
        case SL_AGG_COUNT_DISTINCT: {
                const struct sl_agg_hll *h = (const struct sl_agg_hll *)a;
                if (h->dense > 1)
                        return false;
                if (h->dense) {
                        for (uint32_t r = 0; r < SL_AGG_HLL_M; r++)
                                if (h->u.reg[r] > 64 - SL_AGG_HLL_P + 1)
                                        return false;
                        return h->nsparse == 0;
                }
                if (h->nsparse > SL_AGG_HLL_SPARSE)
                        return false;
                /* Sorted and distinct: hll_add's binary search relies on it. */
                for (uint32_t i = 1; i < h->nsparse; i++)
                        if (h->u.h[i - 1] >= h->u.h[i])
                                return false;
                return true;
        }
        case SL_AGG_TOPK:
        case SL_AGG_TOPKDISTINCT: {
                const struct sl_agg_topk *t = (const struct sl_agg_topk *)a;
                bool dbl = d->arg_type == SL_T_DOUBLE, distinct = d->kind == SL_AGG_TOPKDISTINCT;
                if (t->n < 0 || t->n > (int64_t)d->k)
                        return false;
                for (int64_t i = 1; i < t->n; i++) {
                        bool ok = dbl ? (distinct ? t->v[i - 1].d > t->v[i].d : t->v[i - 1].d >= t->v[i].d)
                                      : (distinct ? t->v[i - 1].i > t->v[i].i : t->v[i - 1].i >= t->v[i].i);
                        if (!ok)
                                return false;
                }
                return true;
        }
        case SL_AGG_LATEST:
        case SL_AGG_EARLIEST:
                /* n is the record's seq; a BOOLEAN is 0 or 1. */
                return a->n >= 0 && (d->arg_type != SL_T_BOOL || a->v.i == 0 || a->v.i == 1);
        case SL_AGG_STDDEV: {
                const struct sl_agg_welford *w = (const struct sl_agg_welford *)a;
                return w->n >= 0 && w->n <= max_n;
        }
        default:
                return a->n >= 0 && a->n <= max_n;
        }
}
