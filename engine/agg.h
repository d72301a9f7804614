/*
 * agg.h - fixed-size accumulators of the aggregate functions.
 *
 * Each aggregate of a query owns 16 bytes at a fixed offset in a pane's
 * accumulator block (struct sl_acc).  A block starts zeroed: zero is the
 * empty state of every kind, so a new pane needs only a memset.  Panes are
 * combined with sl_agg_merge, in pane order, to produce a hopping window.
 *
 *   COUNT(*), COUNT(x)  n                      -> BIGINT, never null
 *   SUM(int)            wrapping int64 sum, n  -> BIGINT, null if n == 0
 *   SUM(double)         sum, n                 -> DOUBLE, null if n == 0
 *   AVG(int|double)     sum (int64 or double), n -> DOUBLE sum / n
 *   MIN, MAX            value, n               -> argument type
 *
 * NULL arguments are ignored by all but COUNT(*).  BIGINT sums wrap on
 * overflow, as a Java long does in ksqlDB.
 */
#ifndef SL_AGG_H
#define SL_AGG_H

#include <stdint.h>

#include "engine/value.h"

enum sl_agg_kind {
        SL_AGG_COUNT_STAR,
        SL_AGG_COUNT,
        SL_AGG_SUM,
        SL_AGG_AVG,
        SL_AGG_MIN,
        SL_AGG_MAX,
};

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
};

/* Parses a function name (case-insensitive); -1 if not an aggregate. */
int sl_agg_lookup(const char *name);
const char *sl_agg_name(enum sl_agg_kind kind);
/* Result type, or SL_T_NULL with a reason if the argument type is unfit. */
enum sl_type sl_agg_result_type(enum sl_agg_kind kind, enum sl_type arg,
                                const char **why);

static inline void sl_agg_update(const struct sl_agg_desc *d,
                                 struct sl_acc *a, const struct sl_value *x)
{
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
        case SL_AGG_COUNT_STAR:
                break;
        }
        a->n++;
}

/* dst = dst (+) src: src covers later event time than dst or equal. */
void sl_agg_merge(const struct sl_agg_desc *d, struct sl_acc *dst,
                  const struct sl_acc *src);

/* The aggregate's value. */
void sl_agg_result(const struct sl_agg_desc *d, const struct sl_acc *a,
                   struct sl_value *out);

#endif
