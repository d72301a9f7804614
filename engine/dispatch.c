/*
 * dispatch.c - decode, filter, key, route.  See dispatch.h.
 *
 * Items are written straight into the destination worker's current batch
 * (no intermediate copy); string values are copied after the item header
 * so the batch owns them and the read buffer can be reused.  Every
 * SL_FLUSH_RECORDS records all current batches are pushed, even empty
 * ones, so that every worker reports progress at the same record and the
 * merger never waits long for a quiet worker.
 *
 * Joins: a record of a table source updates that table's state here (the
 * dispatcher owns every table); a record of a stream first gets, for each
 * table joined to it, the table row of its join key copied into its value
 * slots (NULLs without a row), so that WHERE, the group key and the items
 * see the joined record.  file_run.c reads every table to its end before
 * the first stream record, so a record meets the final table (GlobalKTable
 * bootstrap; see docs/architecture.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/dispatch.h"
#include "engine/key.h"
#include "engine/ktable.h"
#include "engine/record.h"

struct qstate {
        int64_t st;         /* stream time: max event time that reached the aggregation */
        int64_t next_close; /* first close time > st */
};

struct sl_dispatch {
        const struct sl_plan *plan;
        struct sl_worker *workers;
        uint32_t nworkers;
        const _Atomic bool *stop;
        struct sl_inbatch **cur; /* per worker */
        struct qstate *qs;
        struct sl_source_stats *sstats;
        struct sl_query_stats *qstats;
        struct sl_value vals[SL_MAX_COLS];
        struct sl_ktable **tables; /* per source: the state of a table, else NULL */
        bool matched[SL_MAX_COLS]; /* per join of the current record: a row was found */
        struct sl_scratch scratch;
        struct sl_buf key;
        uint64_t done_seq;  /* every record <= done_seq is fully routed */
        uint32_t since_flush;
};

struct sl_dispatch *sl_dispatch_new(const struct sl_plan *p,
                                    struct sl_worker *workers, uint32_t n,
                                    const _Atomic bool *stop)
{
        struct sl_dispatch *d = calloc(1, sizeof *d);
        if (!d)
                return NULL;
        d->plan = p;
        d->workers = workers;
        d->nworkers = n;
        d->stop = stop;
        d->cur = calloc(n, sizeof *d->cur);
        d->qs = calloc(p->nqueries, sizeof *d->qs);
        d->sstats = calloc(p->nsources, sizeof *d->sstats);
        d->qstats = calloc(p->nqueries, sizeof *d->qstats);
        d->tables = calloc(p->nsources, sizeof *d->tables);
        if (!d->cur || !d->qs || !d->sstats || !d->qstats || !d->tables) {
                sl_dispatch_destroy(d);
                return NULL;
        }
        for (uint32_t s = 0; s < p->nsources; s++)
                if (p->sources[s].table && !(d->tables[s] = sl_ktable_new(p->sources[s].ncols))) {
                        sl_dispatch_destroy(d);
                        return NULL;
                }
        for (uint32_t q = 0; q < p->nqueries; q++)
                d->qs[q] = (struct qstate){.st = INT64_MIN, .next_close = INT64_MIN};
        return d;
}

void sl_dispatch_destroy(struct sl_dispatch *d)
{
        if (!d)
                return;
        if (d->cur)
                for (uint32_t w = 0; w < d->nworkers; w++)
                        free(d->cur[w]);
        free(d->cur);
        if (d->tables)
                for (uint32_t s = 0; s < d->plan->nsources; s++)
                        sl_ktable_destroy(d->tables[s]);
        free(d->tables);
        free(d->qs);
        free(d->sstats);
        free(d->qstats);
        free(d->scratch.p);
        sl_buf_free(&d->key);
        free(d);
}

static int push_batch(struct sl_dispatch *d, uint32_t w, uint64_t progress, bool eof)
{
        struct sl_inbatch *b = d->cur[w];
        if (!b && !(b = sl_inbatch_new(64)))
                return -ENOMEM;
        b->progress = progress;
        b->eof = eof;
        uint32_t spins = 0;
        while (!sl_ring_push1_spsc(&d->workers[w].in, b)) {
                if (atomic_load_explicit(d->stop, memory_order_relaxed)) {
                        if (b != d->cur[w])
                                free(b);
                        return -ECANCELED;
                }
                sl_backoff(&spins);
        }
        d->cur[w] = NULL;
        return 0;
}

static int flush_all(struct sl_dispatch *d, bool eof)
{
        uint64_t progress = eof ? SL_SEQ_DONE : d->done_seq;
        for (uint32_t w = 0; w < d->nworkers; w++) {
                int rc = push_batch(d, w, progress, eof);
                if (rc)
                        return rc;
        }
        d->since_flush = 0;
        return 0;
}

/* Room for need bytes in worker w's batch, pushing the full one first. */
static struct sl_item *reserve(struct sl_dispatch *d, uint32_t w, uint32_t need)
{
        struct sl_inbatch *b = d->cur[w];
        if (b && b->cap - b->used < need) {
                if (push_batch(d, w, d->done_seq, false) != 0)
                        return NULL;
                b = NULL;
        }
        if (!b) {
                b = sl_inbatch_new(need > SL_BATCH_BYTES ? need : SL_BATCH_BYTES);
                if (!b)
                        return NULL;
                d->cur[w] = b;
        }
        struct sl_item *it = (struct sl_item *)(b->data + b->used);
        b->used += need;
        return it;
}

static inline uint32_t route(uint64_t hash, uint32_t n)
{
        return (uint32_t)(((hash >> 32) * n) >> 32);
}

static int put_item(struct sl_dispatch *d, uint32_t w, const struct sl_source *src,
                    const struct sl_query *q, uint8_t kind, uint64_t seq,
                    uint64_t hash, int64_t ts, int64_t st)
{
        uint32_t need = kind == SL_ITEM_RECORD
                ? sl_item_need(q, d->vals, src->nslots, (uint32_t)d->key.len)
                : (uint32_t)sizeof(struct sl_item);
        if (need == UINT32_MAX)
                return -E2BIG;
        struct sl_item *it = reserve(d, w, need);
        if (!it)
                return atomic_load_explicit(d->stop, memory_order_relaxed) ? -ECANCELED : -ENOMEM;
        *it = (struct sl_item){.seq = seq, .hash = hash, .ts = ts, .st = st,
                               .size = need, .query = (uint16_t)q->index, .kind = kind};
        if (kind == SL_ITEM_RECORD)
                sl_item_fill(it, need, q, d->vals, src->nslots, d->key.p, (uint32_t)d->key.len);
        return 0;
}

static int route_query(struct sl_dispatch *d, const struct sl_source *src,
                       const struct sl_query *q, uint64_t seq, int64_t ts)
{
        struct sl_query_stats *qst = &d->qstats[q->index];
        if (q->join >= 0 && !q->join_left && !d->matched[q->join]) {
                qst->unmatched++;
                return 0;
        }
        if (q->where && !sl_prog_test(q->where, d->vals)) {
                qst->filtered++;
                return 0;
        }
        if (q->kind == SL_Q_PROJECT) {
                d->key.len = 0;
                return put_item(d, (uint32_t)(seq % d->nworkers), src, q,
                                SL_ITEM_RECORD, seq, 0, ts, 0);
        }
        for (uint32_t g = 0; g < q->ngroup; g++)
                if (d->vals[q->group_cols[g]].type == SL_T_NULL) {
                        qst->null_key++;
                        return 0;
                }
        d->key.len = 0;
        sl_key_encode(q, d->vals, &d->key);
        if (!sl_buf_ok(&d->key))
                return -ENOMEM;
        uint64_t hash = XXH3_64bits(d->key.p, d->key.len);
        struct qstate *qs = &d->qs[q->index];
        if (ts > qs->st)
                qs->st = ts;
        int rc = 0;
        if (q->win.kind == SL_WIN_SESSION) {
                /* A session closes at any millisecond (its last record +
                 * gap + grace), which only the worker holding it knows:
                 * every worker hears of every advance of stream time.
                 * next_close holds the stream time last sent. */
                if (qs->st > qs->next_close) {
                        if (qs->next_close != INT64_MIN)
                                for (uint32_t w = 0; w < d->nworkers && rc == 0; w++)
                                        rc = put_item(d, w, src, q, SL_ITEM_TICK, seq, 0, ts, qs->st);
                        qs->next_close = qs->st;
                }
        } else if (q->win.kind != SL_WIN_NONE && qs->st >= qs->next_close) {
                /* Windows close at this record: every worker must know now. */
                if (qs->next_close != INT64_MIN)
                        for (uint32_t w = 0; w < d->nworkers && rc == 0; w++)
                                rc = put_item(d, w, src, q, SL_ITEM_TICK, seq, 0, ts, qs->st);
                qs->next_close = sl_window_close_of(&q->win,
                        sl_window_next_close_index(&q->win, qs->st) * q->win.advance);
        }
        if (rc == 0)
                rc = put_item(d, route(hash, d->nworkers), src, q, SL_ITEM_RECORD,
                              seq, hash, ts, qs->st);
        return rc;
}

int sl_dispatch_record(struct sl_dispatch *d, uint32_t si, uint64_t seq,
                       const char *rec, size_t len)
{
        const struct sl_source *src = &d->plan->sources[si];
        struct sl_source_stats *sst = &d->sstats[si];
        sst->read++;
        sst->bytes += len;
        int64_t ts = 0;
        int rc = 0;
        int why = sl_record_decode(src, rec, len, d->vals, &d->scratch, 0, &ts);
        if (why < 0)
                return why;
        if (why != SL_DROP_COUNT) {
                sst->dropped[why]++;
                goto done;
        }
        if (src->table) {
                rc = sl_ktable_apply(d->tables[si], src, d->vals, sst);
                goto done;
        }
        sl_ktable_join(d->plan, src, d->tables, d->vals, d->matched);
        for (uint32_t k = 0; k < src->nqueries && rc == 0; k++)
                rc = route_query(d, src, &d->plan->queries[src->queries[k]], seq, ts);
done:
        d->done_seq = seq;
        if (rc == 0 && ++d->since_flush >= SL_FLUSH_RECORDS)
                rc = flush_all(d, false);
        return rc;
}

void sl_dispatch_oversize(struct sl_dispatch *d, uint32_t src)
{
        d->sstats[src].read++;
        d->sstats[src].dropped[SL_DROP_OVERSIZE]++;
}

int sl_dispatch_finish(struct sl_dispatch *d)
{
        return flush_all(d, true);
}

const struct sl_source_stats *sl_dispatch_source_stats(const struct sl_dispatch *d,
                                                       uint32_t src)
{
        return &d->sstats[src];
}

const struct sl_query_stats *sl_dispatch_query_stats(const struct sl_dispatch *d,
                                                     uint32_t q)
{
        return &d->qstats[q];
}
