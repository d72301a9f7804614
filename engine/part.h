/*
 * part.h - Kafka mode: the processing of one input partition.
 *
 * A partition is processed on its own, in offset order, by the worker that
 * owns it: decode, KEY columns from the message key, WHERE, group key, and
 * the aggregation state of every query reading the source, with stream
 * time kept per partition (as Kafka Streams does).  The output is a pure
 * function of the partition's records, which is what makes recovery by
 * replay exact: after a rewind, records below `replay_until` are processed
 * again with their rows suppressed, rebuilding the state without writing a
 * row twice.
 *
 * Rows go to the worker's output queue; each row's text starts with its
 * message key (klen bytes), and carries the CreateTime of the record that
 * caused it.
 *
 * Owned by one thread at a time (the worker).
 */
#ifndef SL_PART_H
#define SL_PART_H

#include <stdint.h>

#include "engine/batch.h"
#include "engine/plan.h"
#include "engine/stats.h"

struct sl_part;

struct sl_part *sl_part_new(const struct sl_plan *p, uint32_t src,
                            int32_t partition, struct sl_outq *oq);
void sl_part_destroy(struct sl_part *pt);

enum sl_part_mode {
        SL_PART_SKIP = 0,        /* the query does not read this partition */
        SL_PART_RUN = 1,         /* aggregate (or project) here */
        SL_PART_REPARTITION = 2, /* WHERE here, then send the record to the query's
                                  * repartition topic, keyed by its group key */
};

/*
 * What each query does with this partition's records (modes[plan->nqueries];
 * copied).  Default: SL_PART_RUN for every query of the source.  A
 * partition of a repartition topic runs one query, takes the input's KEY
 * columns from the sluice.key header (key_in_header) and leaves the
 * source's read counters alone (stage 1 counted the records).
 */
int sl_part_set_modes(struct sl_part *pt, const uint8_t *modes, bool key_in_header);
/* The tables its joins read (per source index; the worker's copies, which
 * only the worker thread updates, between records). */
struct sl_ktable;
void sl_part_set_tables(struct sl_part *pt, struct sl_ktable *const *tables);
bool sl_part_key_in_header(const struct sl_part *pt);

/* Drops all state; records at offsets < replay_until will rebuild it with
 * their rows suppressed. */
int sl_part_reset(struct sl_part *pt, int64_t replay_until);

/*
 * One message.  key may be NULL (no key); val NULL is a tombstone (dropped,
 * counted).  msg_ts is the message timestamp (ms).  0 or -errno (-ENOMEM,
 * -ECANCELED when the run stops while a full output ring waits).
 */
int sl_part_record(struct sl_part *pt, int64_t offset, const char *key,
                   size_t klen, const char *val, size_t vlen, int64_t msg_ts);

struct sl_msg {
        int64_t offset;
        const char *key;   /* NULL: no key */
        size_t klen;
        const char *val;   /* NULL: tombstone */
        size_t vlen;
        int64_t ts;        /* message timestamp, ms */
};

/* Several messages of this partition, in offset order: decoded first, then
 * applied with the table loads of later ones started early.  Same result
 * as sl_part_record on each.  0 or -errno. */
int sl_part_records(struct sl_part *pt, const struct sl_msg *m, uint32_t n);

/*
 * Snapshots of the partition's state (stream times and every aggregation's
 * keys and panes).  save appends to out and reports the largest stream time
 * and the number of keys.  load restores into a partition just reset (same
 * modes); the offset and replay point are the caller's.  0, -ENOMEM, or
 * -EINVAL for a blob that does not fit this pipeline.
 */
int sl_part_save(const struct sl_part *pt, struct sl_buf *out, int64_t *stream_time,
                 uint64_t *entries);
int sl_part_load(struct sl_part *pt, const void *blob, size_t len);

/* End of a bounded input: EMIT FINAL rows for every open window. */
int sl_part_flush(struct sl_part *pt);

/* A number the owner attaches (Kafka mode: the topic id). */
/*
 * Values longer than max_record bytes (0: no limit) are dropped as
 * oversize.  dead_max > 0 turns dead letters on: every dropped record is
 * queued as an SL_ROW_DEAD row (engine/batch.h) keeping at most dead_max
 * bytes of its value.
 */
void sl_part_set_limits(struct sl_part *pt, size_t max_record, size_t dead_max);
void sl_part_set_tag(struct sl_part *pt, uint32_t tag);
uint32_t sl_part_tag(const struct sl_part *pt);
uint32_t sl_part_source(const struct sl_part *pt);
int32_t sl_part_partition(const struct sl_part *pt);
int64_t sl_part_next_offset(const struct sl_part *pt);
/* Adds the partition's counters to sst and qst[plan->nqueries] (rows are
 * rows computed, replayed ones included). */
void sl_part_add_stats(const struct sl_part *pt, struct sl_source_stats *sst,
                       struct sl_query_stats *qst);
/* Live keys over the partition's aggregations (open windows' keys). */
uint64_t sl_part_keys(const struct sl_part *pt);
/* Bytes of table memory over the partition's aggregations. */
uint64_t sl_part_state_bytes(const struct sl_part *pt);

#endif
