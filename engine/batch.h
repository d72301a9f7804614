/*
 * batch.h - what travels through the rings: input batches (dispatcher ->
 * worker) and output batches (worker -> merger).
 *
 * Threads exchange whole batches, never single events: a batch is one
 * heap block owned by exactly one thread at a time (the pusher gives up
 * ownership when sl_ring_push succeeds; the popper frees it).
 *
 * Input batch: a sequence of items, each a decoded record (or a stream-time
 * tick) routed to this worker for one query, with its values and key bytes
 * copied in so that the batch owns everything it refers to.
 *
 * Output batch: a sequence of rows, each with its merge key
 * (seq, query, wend, first) and its serialised text.  The merge key orders
 * rows identically whatever the number of workers: seq is the input record
 * that caused the row, wend/first order the windows closed by one record.
 *
 * Every batch carries progress: once a consumer has seen a batch, no later
 * batch from the same producer holds a row or item with seq <= progress.
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/ring.h"
#include "engine/value.h"

#define SL_BATCH_BYTES (64 * 1024)
#define SL_SEQ_EOF (UINT64_MAX - 1) /* rows flushed at end of input */
#define SL_SEQ_DONE UINT64_MAX      /* progress: nothing more will come */

enum sl_item_kind {
        SL_ITEM_RECORD = 1,
        SL_ITEM_TICK = 2, /* stream time of item.query advanced to item.st */
};

struct sl_item {
        uint64_t seq;
        uint64_t hash; /* XXH3 of the key bytes */
        int64_t ts;    /* event time */
        int64_t st;    /* stream time of the query, including this record */
        uint32_t size; /* bytes of the whole item, a multiple of 8 */
        uint32_t klen;
        uint16_t query;
        uint8_t kind;
        uint8_t pad;
        uint32_t nvals; /* = number of source columns */
        /* struct sl_value vals[nvals]; char key[klen]; string bytes */
};

static inline struct sl_value *sl_item_vals(struct sl_item *it)
{
        return (struct sl_value *)(it + 1);
}

static inline const char *sl_item_key(const struct sl_item *it)
{
        return (const char *)((const struct sl_value *)(it + 1) + it->nvals);
}

struct sl_query;

/* Bytes of an item holding the columns q uses from vals, and a key. */
uint32_t sl_item_need(const struct sl_query *q, const struct sl_value *vals,
                      uint32_t nvals, uint32_t klen);
/* Fills a record item of `need` bytes (from sl_item_need): header, the
 * used columns (others NULL) with their strings copied in, and the key. */
void sl_item_fill(struct sl_item *it, uint32_t need, const struct sl_query *q,
                  const struct sl_value *vals, uint32_t nvals,
                  const char *key, uint32_t klen);

struct sl_inbatch {
        uint64_t progress;
        uint32_t used; /* bytes of data[] in use */
        uint32_t cap;
        bool eof;      /* last batch: flush and finish */
        alignas(8) char data[];
};

struct sl_row {
        uint64_t seq;
        int64_t wend;
        uint64_t first;
        int64_t cause_ts; /* Kafka mode: CreateTime of the input that caused it */
        int64_t rx_us;    /* Kafka mode: when sluice received that input (CLOCK_REALTIME) */
        uint32_t len;     /* bytes of text, key included */
        uint32_t klen;    /* Kafka mode: the first klen bytes are the message key */
        uint32_t xlen;    /* repartition rows: the klen bytes after the key are the
                           * input's own message key (the sluice.key header) */
        uint16_t query;
        uint8_t kind;     /* enum sl_row_kind */
        uint8_t pad;
        /* char text[len], padded to 8 */
};

enum sl_row_kind {
        SL_ROW_OUTPUT = 0,      /* a result row for the query's sink */
        SL_ROW_REPARTITION = 1, /* an input record for the query's repartition topic:
                                 * key = group key, then the input's key, then its value;
                                 * wend = its event time */
        SL_ROW_DEAD = 2,        /* a dropped input record for the dead-letter topic:
                                 * key = its message key, then the first xlen bytes
                                 * of its value, then a struct sl_dead; wend = its
                                 * message timestamp */
};

/* The trailer of an SL_ROW_DEAD row: where the record came from and why it
 * was dropped. */
struct sl_dead {
        int64_t offset;
        uint64_t vlen;      /* the value's length (xlen may keep less) */
        int32_t partition;
        uint32_t tag;       /* the partition's topic id (sl_part_tag) */
        uint32_t reason;    /* enum sl_drop */
        uint32_t null_value;
};

static inline const char *sl_row_text(const struct sl_row *r)
{
        return (const char *)(r + 1);
}

static inline uint32_t sl_row_size(uint32_t len)
{
        return (uint32_t)((sizeof(struct sl_row) + len + 7) & ~(uint32_t)7);
}

struct sl_outbatch {
        uint64_t progress;
        uint64_t cut;  /* Kafka mode: non-zero: every row of this worker for
                        * input handed over before cut request `cut` is in
                        * this batch or an earlier one */
        void *snap;    /* Kafka mode: snapshots for the checkpoint writer */
        uint32_t used;
        uint32_t cap;
        alignas(8) char data[];
};

struct sl_inbatch *sl_inbatch_new(uint32_t cap);
struct sl_outbatch *sl_outbatch_new(uint32_t cap);

/* Waits politely: spins, then yields, then sleeps; n counts the attempts. */
void sl_backoff(uint32_t *n);

/*
 * An output queue: a worker's side of its ring to the merger.  Worker
 * thread only.
 */
struct sl_outq {
        struct sl_ring *ring;
        struct sl_outbatch *cur;
        const _Atomic bool *stop; /* set when the run is aborted */
        bool suppress;            /* replaying: rows are computed, not kept */
        int64_t cause_ts;         /* stamped on every row */
        int64_t rx_us;            /* stamped on every row */
};

/* Appends a row whose first klen bytes of text are its key; returns 0 or
 * -ENOMEM.  Nothing is kept while oq->suppress is set. */
int sl_outq_row(struct sl_outq *oq, uint64_t seq, uint16_t query, int64_t wend,
                uint64_t first, const char *text, uint32_t len, uint32_t klen);
/* The same, for any kind of row; xlen bytes follow the key. */
int sl_outq_row_ex(struct sl_outq *oq, uint64_t seq, uint16_t query, int64_t wend,
                   uint64_t first, const char *text, uint32_t len, uint32_t klen,
                   enum sl_row_kind kind, uint32_t xlen);
/* Pushes the current batch with the given progress (may be empty). */
int sl_outq_flush(struct sl_outq *oq, uint64_t progress);
/* Pushes the current batch (may be empty) marked with cut id `cut`. */
int sl_outq_mark(struct sl_outq *oq, uint64_t cut);

#endif
