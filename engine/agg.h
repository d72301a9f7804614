/*
 * agg.h - fixed-size accumulators of the aggregate functions.
 *
 * Each aggregate of a query owns a fixed number of bytes (sl_agg_state_size,
 * a multiple of 8) at a fixed offset (desc.off) in a pane's accumulator
 * block: 16 (struct sl_acc) for the first six kinds, more for COUNT_DISTINCT
 * and TOPK.  The state holds no pointer, so a snapshot is a copy of the
 * block.  A block starts zeroed: zero is the empty state of every kind, so a
 * new pane needs only a memset.  Panes are combined with sl_agg_merge, in
 * pane order, to produce a hopping window.
 *
 *   COUNT(*), COUNT(x)  n                      -> BIGINT, never null
 *   SUM(int)            wrapping int64 sum, n  -> BIGINT, null if n == 0
 *   SUM(double)         sum, n                 -> DOUBLE, null if n == 0
 *   AVG(int|double)     sum (int64 or double), n -> DOUBLE sum / n
 *   MIN, MAX            value, n               -> argument type
 *   COUNT_DISTINCT(x)   HyperLogLog, p = 12: up to SL_AGG_HLL_SPARSE exact
 *                       64-bit hashes, then 4096 one-byte registers
 *                                              -> BIGINT, never null
 *   TOPK(x, k)          n, the n <= k largest values, descending
 *   TOPKDISTINCT(x, k)  the same, without repeats  -> ARRAY, [] when empty
 *   LATEST_BY_OFFSET    value, seq of the record (0: none): the largest seq
 *   EARLIEST_BY_OFFSET  wins the merge, the smallest for EARLIEST
 *                                              -> argument type
 *   STDDEV_SAMP         n, mean, M2 (Welford; Chan's formula to merge)
 *                                              -> DOUBLE, null if n < 2
 *   EMA(x, alpha)       value, n: alpha*x + (1-alpha)*old in record order
 *                       -> DOUBLE; cannot be merged (sl_agg_mergeable)
 *
 * NULL arguments are ignored by all but COUNT(*).  BIGINT sums wrap on
 * overflow, as a Java long does in ksqlDB.
 */
#ifndef SL_AGG_H
#define SL_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/value.h"

enum sl_agg_kind {
        SL_AGG_COUNT_STAR,
        SL_AGG_COUNT,
        SL_AGG_SUM,
        SL_AGG_AVG,
        SL_AGG_MIN,
        SL_AGG_MAX,
        SL_AGG_COUNT_DISTINCT,
        SL_AGG_TOPK,
        SL_AGG_TOPKDISTINCT,
        SL_AGG_LATEST,
        SL_AGG_EARLIEST,
        SL_AGG_STDDEV,
        SL_AGG_EMA,
};

#define SL_AGG_TOPK_MAX 100    /* largest k of TOPK and TOPKDISTINCT */
#define SL_AGG_HLL_P 12        /* HyperLogLog precision: 2^12 registers */
#define SL_AGG_HLL_M (1u << SL_AGG_HLL_P)
#define SL_AGG_HLL_SPARSE (SL_AGG_HLL_M / 8) /* exact hashes held first */

struct sl_acc {
        union {
                int64_t i;
                double d;
        } v;
        int64_t n;
};

struct sl_agg_desc {
        enum sl_agg_kind kind;
        enum sl_type arg_type; /* SL_T_NULL for COUNT(*) */
        uint32_t off;          /* of its state in the accumulator block */
        uint32_t k;            /* TOPK, TOPKDISTINCT: 1..SL_AGG_TOPK_MAX */
        double alpha;          /* EMA: (0, 1] */
};

/* COUNT_DISTINCT: sparse (dense == 0) holds nsparse sorted distinct
 * hashes; dense holds the registers (rank of the hash's remaining bits). */
struct sl_agg_hll {
        uint32_t nsparse;
        uint32_t dense;
        union {
                uint64_t h[SL_AGG_HLL_SPARSE];
                uint8_t reg[SL_AGG_HLL_M];
        } u;
};

/* TOPK, TOPKDISTINCT: v[0, n) descending, k slots follow the header. */
struct sl_agg_topk {
        int64_t n;
        union {
                int64_t i;
                double d;
        } v[];
};

/* STDDEV_SAMP: Welford's running mean and sum of squared deviations. */
struct sl_agg_welford {
        int64_t n;
        double mean, m2;
};

/* Parses a function name (case-insensitive); -1 if not an aggregate. */
int sl_agg_lookup(const char *name);
const char *sl_agg_name(enum sl_agg_kind kind);
/* Literal parameters after the column: 1 for TOPK, TOPKDISTINCT (k) and
 * EMA (alpha), else 0. */
uint32_t sl_agg_nparams(enum sl_agg_kind kind);
/* Bytes of state (a multiple of 8) for d's kind and k. */
uint32_t sl_agg_state_size(const struct sl_agg_desc *d);
/* Can panes be combined?  EMA depends on record order across panes. */
bool sl_agg_mergeable(enum sl_agg_kind kind);
/* Result type, or SL_T_NULL with a reason if the argument type is unfit. */
enum sl_type sl_agg_result_type(enum sl_agg_kind kind, enum sl_type arg,
                                const char **why);

/* The state of d in an accumulator block. */
static inline struct sl_acc *sl_agg_at(void *block, const struct sl_agg_desc *d)
{
        return (struct sl_acc *)((char *)block + d->off);
}

/* The kinds past MAX, out of line. */
void sl_agg_update_ext(const struct sl_agg_desc *d, struct sl_acc *a,
                       const struct sl_value *x, uint64_t seq);

/*
 * Adds value x of the record numbered seq (> 0, increasing in input
 * order: LATEST/EARLIEST_BY_OFFSET keep it) to state a.
 */
static inline void sl_agg_update(const struct sl_agg_desc *d,
                                 struct sl_acc *a, const struct sl_value *x,
                                 uint64_t seq)
{
        if (d->kind > SL_AGG_MAX) {
                sl_agg_update_ext(d, a, x, seq);
                return;
        }
        if (d->kind == SL_AGG_COUNT_STAR) {
                a->n++;
                return;
        }
        if (x->type == SL_T_NULL)
                return;
        switch (d->kind) {
        case SL_AGG_COUNT:
                break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
                if (d->arg_type == SL_T_DOUBLE)
                        a->v.d += x->u.d;
                else
                        a->v.i = (int64_t)((uint64_t)a->v.i + (uint64_t)x->u.i);
                break;
        case SL_AGG_MIN:
                if (d->arg_type == SL_T_DOUBLE) {
                        if (a->n == 0 || x->u.d < a->v.d)
                                a->v.d = x->u.d;
                } else if (a->n == 0 || x->u.i < a->v.i) {
                        a->v.i = x->u.i;
                }
                break;
        case SL_AGG_MAX:
                if (d->arg_type == SL_T_DOUBLE) {
                        if (a->n == 0 || x->u.d > a->v.d)
                                a->v.d = x->u.d;
                } else if (a->n == 0 || x->u.i > a->v.i) {
                        a->v.i = x->u.i;
                }
                break;
        default:
                break;
        }
        a->n++;
}

/* dst = dst (+) src: src covers later event time than dst or equal. */
void sl_agg_merge(const struct sl_agg_desc *d, struct sl_acc *dst,
                  const struct sl_acc *src);

/* The aggregate's value.  An ARRAY points into a: use it before a
 * changes. */
void sl_agg_result(const struct sl_agg_desc *d, const struct sl_acc *a,
                   struct sl_value *out);

/* Could updates and merges have left a in this state (snapshot restore)?
 * Counts must lie in [0, max_n]. */
bool sl_agg_valid(const struct sl_agg_desc *d, const struct sl_acc *a,
                  int64_t max_n);

#endif
