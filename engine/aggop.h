/*
 * aggop.h - one query's windowed aggregation state on one worker.
 *
 * Holds the table of group keys owned by this worker, each with a ring of
 * live panes, and the close schedule.  Applies routed records, closes
 * windows as stream time advances (EMIT FINAL rows), emits update rows
 * (EMIT CHANGES), and flushes every open window at end of input.
 *
 * Worker thread only.
 */
#ifndef SL_AGGOP_H
#define SL_AGGOP_H

#include <stdint.h>

#include "engine/batch.h"
#include "engine/buf.h"
#include "engine/plan.h"

struct sl_aggop;

struct sl_aggop_stats {
        uint64_t records;  /* applied */
        uint64_t late;     /* dropped: no window accepted them */
        uint64_t rows;     /* emitted, after HAVING */
        uint64_t keys;     /* live keys now */
        uint64_t keys_max; /* most live keys at once */
        uint64_t bytes;    /* table memory now */
};

struct sl_aggop *sl_aggop_new(const struct sl_query *q);
void sl_aggop_destroy(struct sl_aggop *op);

/* Starts the loads of a record's table slot (stage 0, ~16 records ahead)
 * and entry (stage 1, ~8 records ahead). */
void sl_aggop_prefetch(struct sl_aggop *op, const struct sl_item *it, int stage);

/* Stream time reached st at record seq: close what is due.  0 or -errno. */
int sl_aggop_advance(struct sl_aggop *op, int64_t st, uint64_t seq,
                     struct sl_outq *oq);
/* Applies one record (advancing stream time first).  0 or -errno. */
int sl_aggop_record(struct sl_aggop *op, struct sl_item *it, struct sl_outq *oq);
/* End of input: EMIT FINAL rows for every open window.  0 or -errno. */
int sl_aggop_flush(struct sl_aggop *op, struct sl_outq *oq);

/*
 * Snapshots: appends the state (stream time, and the key table as it lies
 * in memory: sl_wtable_save) to out and adds the number of keys to
 * *entries; restores it into a fresh aggop of the same query (never given
 * a record), checking every field it relies on, and advances *p.  Native
 * byte order and layout.  0, -ENOMEM, or -EINVAL for a blob that does not
 * fit this query or is not a state this code could have saved; on failure
 * the aggop is as new and *p unchanged.
 */
int sl_aggop_save(const struct sl_aggop *op, struct sl_buf *out, uint64_t *entries);
int sl_aggop_load(struct sl_aggop *op, const char **p, const char *end);

/* Kafka mode: every row starts with its message key (sl_key_text). */
void sl_aggop_set_keyed(struct sl_aggop *op, bool keyed);

void sl_aggop_stats(const struct sl_aggop *op, struct sl_aggop_stats *st);

/* Builds the JSON text of one output row from its environment. */
void sl_row_json(const struct sl_query *q, const struct sl_value *env,
                 struct sl_buf *b);

#endif
