/*
 * part.c - one input partition's processing; see part.h.
 *
 * The same steps as the file-mode dispatcher and worker, fused: no routing
 * is needed because a partition's keys all live here, and no ticks are
 * needed because every record of the partition reaches its aggregations
 * (stream time travels in each item).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/aggop.h"
#include "engine/key.h"
#include "engine/ktable.h"
#include "engine/part.h"
#include "engine/record.h"

struct pending_item {
        size_t off;        /* of the item in ibuf */
        int64_t cause_ts;
        int64_t rx_us;
        bool suppress;
};

struct sl_part {
        const struct sl_plan *plan;
        const struct sl_source *src;
        uint32_t src_index;
        int32_t partition;
        struct sl_outq *oq;
        struct sl_aggop **ops;   /* per plan query; NULL unless it aggregates src */
        int64_t *st;             /* per plan query: stream time */
        int64_t replay_until;
        int64_t next_offset;
        struct sl_value vals[SL_MAX_COLS];
        struct sl_ktable *const *tables; /* per source: the worker's copy of a joined table */
        bool matched[SL_MAX_COLS];       /* per join of the current record */
        struct sl_scratch scratch;
        struct sl_buf key;
        struct sl_buf row;
        /* Items of the aggregations, decoded in a first pass over a batch
         * of messages and applied in a second, with the table slots of
         * items ahead prefetched (as the file-mode worker does). */
        char *ibuf;
        size_t iused, icap;
        struct pending_item *pend;
        uint32_t npend, cappend;
        struct sl_source_stats sst;
        struct sl_query_stats *qst;
        uint8_t *mode;           /* per plan query: enum sl_part_mode */
        bool key_in_header;
        uint32_t tag;
        size_t max_record; /* longer values are dropped as oversize */
        size_t dead_max;   /* dead letters: value bytes kept; 0: no dead letters */
        struct sl_value genv[SL_MAX_GROUP];
};

static void free_ops(struct sl_part *pt)
{
        for (uint32_t q = 0; q < pt->plan->nqueries; q++) {
                if (pt->ops[q]) {
                        struct sl_aggop_stats as;
                        sl_aggop_stats(pt->ops[q], &as);
                        pt->qst[q].late += as.late;
                        pt->qst[q].rows += as.rows;
                        sl_aggop_destroy(pt->ops[q]);
                        pt->ops[q] = NULL;
                }
                pt->st[q] = INT64_MIN;
        }
}

static int make_ops(struct sl_part *pt)
{
        for (uint32_t k = 0; k < pt->src->nqueries; k++) {
                const struct sl_query *q = &pt->plan->queries[pt->src->queries[k]];
                if (q->kind != SL_Q_AGGREGATE || pt->mode[q->index] != SL_PART_RUN)
                        continue;
                pt->ops[q->index] = sl_aggop_new(q);
                if (!pt->ops[q->index])
                        return -ENOMEM;
                sl_aggop_set_keyed(pt->ops[q->index], true);
        }
        return 0;
}

struct sl_part *sl_part_new(const struct sl_plan *p, uint32_t src,
                            int32_t partition, struct sl_outq *oq)
{
        struct sl_part *pt = calloc(1, sizeof *pt);
        if (!pt)
                return NULL;
        pt->plan = p;
        pt->src = &p->sources[src];
        pt->src_index = src;
        pt->partition = partition;
        pt->oq = oq;
        pt->max_record = SIZE_MAX;
        pt->ops = calloc(p->nqueries, sizeof *pt->ops);
        pt->st = calloc(p->nqueries, sizeof *pt->st);
        pt->qst = calloc(p->nqueries, sizeof *pt->qst);
        pt->mode = calloc(p->nqueries, 1);
        if (!pt->ops || !pt->st || !pt->qst || !pt->mode) {
                sl_part_destroy(pt);
                return NULL;
        }
        for (uint32_t k = 0; k < pt->src->nqueries; k++)
                pt->mode[pt->src->queries[k]] = SL_PART_RUN;
        if (make_ops(pt) != 0) {
                sl_part_destroy(pt);
                return NULL;
        }
        for (uint32_t q = 0; q < p->nqueries; q++)
                pt->st[q] = INT64_MIN;
        return pt;
}

void sl_part_destroy(struct sl_part *pt)
{
        if (!pt)
                return;
        if (pt->ops)
                free_ops(pt);
        free(pt->ops);
        free(pt->st);
        free(pt->qst);
        free(pt->mode);
        free(pt->scratch.p);
        free(pt->ibuf);
        free(pt->pend);
        sl_buf_free(&pt->key);
        sl_buf_free(&pt->row);
        free(pt);
}

void sl_part_set_tables(struct sl_part *pt, struct sl_ktable *const *tables)
{
        pt->tables = tables;
}

int sl_part_set_modes(struct sl_part *pt, const uint8_t *modes, bool key_in_header)
{
        free_ops(pt);
        memcpy(pt->mode, modes, pt->plan->nqueries);
        pt->key_in_header = key_in_header;
        return make_ops(pt);
}

bool sl_part_key_in_header(const struct sl_part *pt)
{
        return pt->key_in_header;
}

int sl_part_reset(struct sl_part *pt, int64_t replay_until)
{
        free_ops(pt);
        pt->replay_until = replay_until;
        pt->next_offset = 0;
        return make_ops(pt);
}

static int project(struct sl_part *pt, const struct sl_query *q, uint64_t seq,
                   const char *key, size_t klen)
{
        sl_buf_reset(&pt->row);
        if (key)
                sl_buf_add(&pt->row, key, klen);
        uint32_t kl = (uint32_t)pt->row.len;
        sl_row_json(q, pt->vals, &pt->row);
        if (!sl_buf_ok(&pt->row))
                return -ENOMEM;
        if (!pt->oq->suppress)
                pt->qst[q->index].rows++;
        return sl_outq_row(pt->oq, seq, (uint16_t)q->index, 0, 0, pt->row.p,
                           (uint32_t)pt->row.len, kl);
}

/* Stage 1 of a GROUP BY on a column other than the message key: the
 * record goes to the query's repartition topic, keyed by its group key. */
static int repartition(struct sl_part *pt, const struct sl_query *q, uint64_t seq,
                       int64_t ts, const char *key, size_t klen, const char *val,
                       size_t vlen)
{
        for (uint32_t g = 0; g < q->ngroup; g++) {
                pt->genv[g] = pt->vals[q->group_cols[g]];
                if (pt->genv[g].type == SL_T_NULL) {
                        pt->qst[q->index].null_key++;
                        return 0;
                }
        }
        sl_buf_reset(&pt->row);
        sl_key_text(q, pt->genv, &pt->row);
        uint32_t gk = (uint32_t)pt->row.len;
        if (key)
                sl_buf_add(&pt->row, key, klen);
        sl_buf_add(&pt->row, val, vlen);
        if (!sl_buf_ok(&pt->row) || pt->row.len > UINT32_MAX / 2)
                return -ENOMEM;
        return sl_outq_row_ex(pt->oq, seq, (uint16_t)q->index, ts, 0, pt->row.p,
                              (uint32_t)pt->row.len, gk, SL_ROW_REPARTITION,
                              key ? (uint32_t)klen : 0);
}

static int aggregate(struct sl_part *pt, const struct sl_query *q, uint64_t seq,
                     int64_t ts)
{
        for (uint32_t g = 0; g < q->ngroup; g++)
                if (pt->vals[q->group_cols[g]].type == SL_T_NULL) {
                        pt->qst[q->index].null_key++;
                        return 0;
                }
        sl_buf_reset(&pt->key);
        sl_key_encode(q, pt->vals, &pt->key);
        if (!sl_buf_ok(&pt->key))
                return -ENOMEM;
        uint32_t need = sl_item_need(q, pt->vals, pt->src->nslots, (uint32_t)pt->key.len);
        if (need == UINT32_MAX)
                return -E2BIG;
        if (pt->iused + need > pt->icap) {
                size_t cap = pt->icap ? pt->icap * 2 : 64 * 1024;
                while (cap < pt->iused + need)
                        cap *= 2;
                char *b = realloc(pt->ibuf, cap);
                if (!b)
                        return -ENOMEM;
                pt->ibuf = b;
                pt->icap = cap;
        }
        if (pt->npend == pt->cappend) {
                uint32_t cap = pt->cappend ? pt->cappend * 2 : 1024;
                struct pending_item *n = realloc(pt->pend, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                pt->pend = n;
                pt->cappend = cap;
        }
        if (ts > pt->st[q->index])
                pt->st[q->index] = ts;
        struct sl_item *it = (struct sl_item *)(pt->ibuf + pt->iused);
        *it = (struct sl_item){.seq = seq, .ts = ts, .st = pt->st[q->index],
                               .hash = XXH3_64bits(pt->key.p, pt->key.len)};
        sl_item_fill(it, need, q, pt->vals, pt->src->nslots, pt->key.p, (uint32_t)pt->key.len);
        pt->pend[pt->npend++] = (struct pending_item){.off = pt->iused,
                .cause_ts = pt->oq->cause_ts, .rx_us = pt->oq->rx_us, .suppress = pt->oq->suppress};
        pt->iused += need;
        return 0;
}

#define PREFETCH_AHEAD 8

/* Second pass: applies the decoded items in order, loading the table slots
 * and entries of items ahead while this one is applied. */
static int apply(struct sl_part *pt)
{
        int rc = 0;
        uint32_t n = pt->npend;
        for (uint32_t i = 0; i < n && rc == 0; i++) {
                for (int stage = 0; stage < 2; stage++) {
                        uint32_t j = i + (stage ? PREFETCH_AHEAD : 2 * PREFETCH_AHEAD);
                        if (j < n) {
                                const struct sl_item *a = (const struct sl_item *)(pt->ibuf + pt->pend[j].off);
                                sl_aggop_prefetch(pt->ops[a->query], a, stage);
                        }
                }
                struct sl_item *it = (struct sl_item *)(pt->ibuf + pt->pend[i].off);
                pt->oq->suppress = pt->pend[i].suppress;
                pt->oq->cause_ts = pt->pend[i].cause_ts;
                pt->oq->rx_us = pt->pend[i].rx_us;
                rc = sl_aggop_record(pt->ops[it->query], it, pt->oq);
        }
        pt->npend = 0;
        pt->iused = 0;
        return rc;
}

/*
 * A dropped record: counted, and with dead letters on, queued as it came
 * (its value cut to dead_max bytes) with where it came from and why.  It
 * travels like an output row, so it commits with the input's offset.
 */
static int drop(struct sl_part *pt, enum sl_drop why, int64_t offset, const char *key,
                size_t klen, const char *val, size_t vlen, int64_t msg_ts)
{
        pt->sst.dropped[why]++;
        if (!pt->dead_max)
                return 0;
        size_t keep = !val ? 0 : vlen < pt->dead_max ? vlen : pt->dead_max;
        struct sl_dead d = {.offset = offset, .vlen = vlen, .partition = pt->partition,
                            .tag = pt->tag, .reason = why, .null_value = !val};
        sl_buf_reset(&pt->row);
        if (key)
                sl_buf_add(&pt->row, key, klen);
        sl_buf_add(&pt->row, val, keep);
        sl_buf_add(&pt->row, &d, sizeof d);
        if (!sl_buf_ok(&pt->row) || pt->row.len > UINT32_MAX / 2)
                return -ENOMEM;
        return sl_outq_row_ex(pt->oq, (uint64_t)offset + 1, 0, msg_ts, 0, pt->row.p,
                              (uint32_t)pt->row.len, key ? (uint32_t)klen : 0, SL_ROW_DEAD,
                              (uint32_t)keep);
}

static int decode(struct sl_part *pt, int64_t offset, const char *key,
                  size_t klen, const char *val, size_t vlen, int64_t msg_ts)
{
        const struct sl_source *src = pt->src;
        pt->next_offset = offset + 1;
        pt->oq->suppress = offset < pt->replay_until;
        pt->oq->cause_ts = msg_ts;
        if (!pt->key_in_header) {
                pt->sst.read++;
                pt->sst.bytes += vlen;
        }
        if (!val)
                return drop(pt, SL_DROP_NULL_VALUE, offset, key, klen, val, vlen, msg_ts);
        if (vlen > pt->max_record)
                return drop(pt, SL_DROP_OVERSIZE, offset, key, klen, val, vlen, msg_ts);
        int64_t ts;
        int why = sl_record_decode(src, val, vlen, pt->vals, &pt->scratch, msg_ts, &ts);
        if (why < 0)
                return why;
        if (why != SL_DROP_COUNT)
                return drop(pt, (enum sl_drop)why, offset, key, klen, val, vlen, msg_ts);
        /* KEY columns come from the message key; a record without one keeps
         * what its value holds (sluice-gen and file-mode data carry both). */
        if (key && !sl_record_key_columns(src, key, klen, pt->vals))
                return drop(pt, SL_DROP_BAD_KEY, offset, key, klen, val, vlen, msg_ts);
        uint64_t seq = (uint64_t)offset + 1;
        int rc = 0;
        /* Stage 2 of a repartition joins again: the repartition topic
         * carries the input record, not the joined one. */
        if (src->njoins)
                sl_ktable_join(pt->plan, src, pt->tables, pt->vals, pt->matched);
        for (uint32_t k = 0; k < src->nqueries && rc == 0; k++) {
                const struct sl_query *q = &pt->plan->queries[src->queries[k]];
                uint8_t mode = pt->mode[q->index];
                if (mode == SL_PART_SKIP)
                        continue;
                if (q->join >= 0 && !q->join_left && !pt->matched[q->join]) {
                        pt->qst[q->index].unmatched++;
                        continue;
                }
                if (q->where && !sl_prog_test(q->where, pt->vals)) {
                        pt->qst[q->index].filtered++;
                        continue;
                }
                if (mode == SL_PART_REPARTITION)
                        rc = repartition(pt, q, seq, ts, key, klen, val, vlen);
                else
                        rc = q->kind == SL_Q_PROJECT ? project(pt, q, seq, key, klen)
                                                     : aggregate(pt, q, seq, ts);
        }
        return rc;
}

int sl_part_record(struct sl_part *pt, int64_t offset, const char *key,
                   size_t klen, const char *val, size_t vlen, int64_t msg_ts)
{
        int rc = decode(pt, offset, key, klen, val, vlen, msg_ts);
        int arc = apply(pt);
        return rc ? rc : arc;
}

int sl_part_records(struct sl_part *pt, const struct sl_msg *m, uint32_t n)
{
        int rc = 0;
        for (uint32_t i = 0; i < n && rc == 0; i++)
                rc = decode(pt, m[i].offset, m[i].key, m[i].klen, m[i].val, m[i].vlen, m[i].ts);
        int arc = apply(pt);
        return rc ? rc : arc;
}

int sl_part_flush(struct sl_part *pt)
{
        pt->oq->suppress = false;
        int rc = 0;
        for (uint32_t q = 0; q < pt->plan->nqueries && rc == 0; q++)
                if (pt->ops[q])
                        rc = sl_aggop_flush(pt->ops[q], pt->oq);
        return rc;
}

void sl_part_set_limits(struct sl_part *pt, size_t max_record, size_t dead_max)
{
        pt->max_record = max_record ? max_record : SIZE_MAX;
        pt->dead_max = dead_max;
}

void sl_part_set_tag(struct sl_part *pt, uint32_t tag)
{
        pt->tag = tag;
}

uint32_t sl_part_tag(const struct sl_part *pt)
{
        return pt->tag;
}

uint32_t sl_part_source(const struct sl_part *pt)
{
        return pt->src_index;
}

int32_t sl_part_partition(const struct sl_part *pt)
{
        return pt->partition;
}

int64_t sl_part_next_offset(const struct sl_part *pt)
{
        return pt->next_offset;
}

void sl_part_add_stats(const struct sl_part *pt, struct sl_source_stats *sst,
                       struct sl_query_stats *qst)
{
        sst->read += pt->sst.read;
        sst->bytes += pt->sst.bytes;
        for (int k = 0; k < SL_DROP_COUNT; k++)
                sst->dropped[k] += pt->sst.dropped[k];
        for (uint32_t q = 0; q < pt->plan->nqueries; q++) {
                struct sl_query_stats *t = &qst[q];
                const struct sl_query_stats *s = &pt->qst[q];
                t->filtered += s->filtered;
                t->null_key += s->null_key;
                t->unmatched += s->unmatched;
                t->late += s->late;
                t->rows += s->rows;
                if (pt->ops[q]) {
                        struct sl_aggop_stats as;
                        sl_aggop_stats(pt->ops[q], &as);
                        t->late += as.late;
                        t->rows += as.rows;
                        t->keys_max += as.keys_max;
                        t->state_bytes += as.bytes;
                }
        }
}

uint64_t sl_part_keys(const struct sl_part *pt)
{
        uint64_t n = 0;
        for (uint32_t q = 0; q < pt->plan->nqueries; q++)
                if (pt->ops[q]) {
                        struct sl_aggop_stats as;
                        sl_aggop_stats(pt->ops[q], &as);
                        n += as.keys;
                }
        return n;
}

uint64_t sl_part_state_bytes(const struct sl_part *pt)
{
        uint64_t n = 0;
        for (uint32_t q = 0; q < pt->plan->nqueries; q++)
                if (pt->ops[q]) {
                        struct sl_aggop_stats as;
                        sl_aggop_stats(pt->ops[q], &as);
                        n += as.bytes;
                }
        return n;
}

#define PART_MAGIC 0x32545250u /* "PRT2" */

int sl_part_save(const struct sl_part *pt, struct sl_buf *out, int64_t *stream_time,
                 uint64_t *entries)
{
        uint32_t head[2] = {PART_MAGIC, pt->plan->nqueries};
        int64_t st = INT64_MIN;
        sl_buf_add(out, head, sizeof head);
        /* The offset the state stands at: a partition restored and saved
         * again before any new record keeps it. */
        sl_buf_add(out, &pt->next_offset, sizeof pt->next_offset);
        for (uint32_t q = 0; q < pt->plan->nqueries; q++) {
                uint8_t has = pt->ops[q] != NULL;
                sl_buf_add(out, &pt->st[q], sizeof pt->st[q]);
                sl_buf_add(out, &has, 1);
                if (pt->st[q] > st)
                        st = pt->st[q];
                if (has) {
                        int rc = sl_aggop_save(pt->ops[q], out, entries);
                        if (rc)
                                return rc;
                }
        }
        if (stream_time)
                *stream_time = st;
        return sl_buf_ok(out) ? 0 : -ENOMEM;
}

int sl_part_load(struct sl_part *pt, const void *blob, size_t len)
{
        const char *p = blob, *end = p + len;
        uint32_t head[2];
        if (len < sizeof head)
                return -EINVAL;
        memcpy(head, p, sizeof head);
        p += sizeof head;
        if (head[0] != PART_MAGIC || head[1] != pt->plan->nqueries ||
            (size_t)(end - p) < sizeof pt->next_offset)
                return -EINVAL;
        int64_t next;
        memcpy(&next, p, sizeof next);
        p += sizeof next;
        if (next < 0)
                return -EINVAL;
        pt->next_offset = next;
        for (uint32_t q = 0; q < pt->plan->nqueries; q++) {
                uint8_t has;
                if ((size_t)(end - p) < sizeof(int64_t) + 1)
                        return -EINVAL;
                memcpy(&pt->st[q], p, sizeof(int64_t));
                p += sizeof(int64_t);
                has = (uint8_t)*p++;
                if (has != (pt->ops[q] != NULL))
                        return -EINVAL;
                if (has) {
                        int rc = sl_aggop_load(pt->ops[q], &p, end);
                        if (rc)
                                return rc;
                }
        }
        return p == end ? 0 : -EINVAL;
}
