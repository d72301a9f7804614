/*
 * agg.c - the slow-path half of the accumulators: lookup by name, typing,
 * pane merging and results.  The per-event update is inline in agg.h.
 */
#include <strings.h>

#include "engine/agg.h"

static const char *const names[] = {
        [SL_AGG_COUNT_STAR] = "COUNT",
        [SL_AGG_COUNT] = "COUNT",
        [SL_AGG_SUM] = "SUM",
        [SL_AGG_AVG] = "AVG",
        [SL_AGG_MIN] = "MIN",
        [SL_AGG_MAX] = "MAX",
};

int sl_agg_lookup(const char *name)
{
        for (int k = SL_AGG_COUNT; k <= SL_AGG_MAX; k++)
                if (strcasecmp(name, names[k]) == 0)
                        return k;
        return -1;
}

const char *sl_agg_name(enum sl_agg_kind kind)
{
        return names[kind];
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
                if (!sl_type_is_numeric(arg))
                        break;
                return SL_T_DOUBLE;
        }
        *why = "needs a numeric argument (INTEGER, BIGINT or DOUBLE)";
        return SL_T_NULL;
}

void sl_agg_merge(const struct sl_agg_desc *d, struct sl_acc *dst,
                  const struct sl_acc *src)
{
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
        }
        out->type = SL_T_NULL;
}
