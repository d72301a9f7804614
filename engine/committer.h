/*
 * committer.h - what goes into which Kafka transaction, and what to do
 * when one fails.  Pure logic: it talks to Kafka only through struct
 * sl_txn_ops, which librdkafka implements in kafka_run.c and an in-process
 * model of Kafka's transactional semantics implements in the deterministic
 * simulation (tests/test_eos_sim.c).
 *
 * The protocol (DESIGN.md, "Exactly-once"): the committer tracks, per
 * assigned input partition, the offset after the last record handed to
 * processing (`pushed`), the offset of the last cut (`cut`) and the offset
 * the broker has committed (`committed`).  Rows are produced into the open
 * transaction as they come; a commit takes a cut, waits (outside, in the
 * caller) until every row caused by records below the cut has been
 * produced, then sends the cut offsets with the transaction and commits.
 * So rows caused by input offset x always travel in the transaction that
 * commits an offset past x.
 *
 * Failures: SL_TXN_RETRY is retried here (bounded); SL_TXN_ABORT aborts the
 * transaction and returns SL_TXN_ABORT: the caller must then rewind every
 * partition to its committed offset and rebuild its state by replay
 * (sl_committer_rewind gives the positions); SL_TXN_FATAL (a fenced
 * producer) is returned as is: the process must stop.
 *
 * One thread (the Kafka thread).
 */
#ifndef SL_COMMITTER_H
#define SL_COMMITTER_H

#include <stdbool.h>
#include <stdint.h>

struct sl_dead;

enum sl_txn_status {
        SL_TXN_OK = 0,
        SL_TXN_RETRY,   /* retriable: the same call again may succeed */
        SL_TXN_ABORT,   /* abortable: the transaction must be aborted */
        SL_TXN_FATAL,   /* fenced or otherwise unusable producer */
};

const char *sl_txn_status_name(enum sl_txn_status s);

struct sl_offset {
        uint32_t src;      /* source (input topic) index */
        int32_t partition;
        int64_t offset;    /* next offset to read */
};

struct sl_out_msg {
        const char *topic;
        uint32_t query;    /* index of the query that made the row */
        const char *key;   /* NULL: no key */
        uint32_t klen;
        const char *val;
        uint32_t vlen;
        int64_t ts;        /* message timestamp, 0: now */
        int64_t cause_ts;  /* CreateTime of the input that caused it (latency) */
        int64_t rx_us;     /* when sluice received that input */
        bool repartition;  /* to the query's repartition topic, with hkey as the
                            * sluice.key header */
        const char *hkey;
        uint32_t hklen;
        const struct sl_dead *dead; /* a dead letter (dlq.topic), with where it
                                     * came from and why (engine/batch.h) */
};

struct sl_txn_ops {
        /* Exactly-once: begin a transaction.  At-least-once: no-op. */
        enum sl_txn_status (*begin)(void *ctx);
        enum sl_txn_status (*produce)(void *ctx, const struct sl_out_msg *m);
        /* Send offsets with the transaction and commit it (exactly-once), or
         * wait for every produced row and commit the offsets (at-least-once). */
        enum sl_txn_status (*send_offsets)(void *ctx, const struct sl_offset *o, uint32_t n);
        enum sl_txn_status (*commit)(void *ctx);
        enum sl_txn_status (*abort)(void *ctx);
        /* Wait before retry attempt n (1, 2, ...); NULL: do not wait. */
        void (*backoff)(void *ctx, uint32_t attempt);
        /* The last error's text, for messages. */
        const char *(*error)(void *ctx);
};

struct sl_cpart {
        uint32_t src;
        int32_t partition;
        int64_t committed; /* -1: nothing committed yet */
        int64_t cut;
        int64_t pushed;
};

struct sl_committer_stats {
        uint64_t txns;     /* committed */
        uint64_t aborts;
        uint64_t retries;
        uint64_t rows;     /* produced (into committed or aborted transactions) */
};

struct sl_committer {
        const struct sl_txn_ops *ops;
        void *ctx;
        uint32_t max_retries;
        bool open;          /* a transaction is open */
        struct sl_cpart *parts;
        uint32_t nparts, cap;
        struct sl_offset *scratch;
        struct sl_committer_stats stats;
        char err[256];      /* what failed, when a call returns ABORT or FATAL */
};

void sl_committer_init(struct sl_committer *c, const struct sl_txn_ops *ops, void *ctx);
void sl_committer_fini(struct sl_committer *c);

/* A partition is assigned; committed is the broker's committed offset for
 * it (-1: none).  Returns its index, or -ENOMEM. */
int sl_committer_assign(struct sl_committer *c, uint32_t src, int32_t partition,
                        int64_t committed);
/* Forgets a partition (after a commit that covered it). */
void sl_committer_revoke(struct sl_committer *c, uint32_t src, int32_t partition);
/* Index of a partition, or -1. */
int sl_committer_find(const struct sl_committer *c, uint32_t src, int32_t partition);

/* The record at `offset` of partition i was handed to processing. */
static inline void sl_committer_pushed(struct sl_committer *c, uint32_t i, int64_t offset)
{
        c->parts[i].pushed = offset + 1;
}

/* Produces a row in the open transaction (opening one if needed). */
enum sl_txn_status sl_committer_row(struct sl_committer *c, const struct sl_out_msg *m);
/* Takes the cut: every partition's cut = pushed. */
void sl_committer_cut(struct sl_committer *c);
/*
 * Commits the rows produced so far with the cut offsets.  The caller must
 * have produced every row caused by records below the cut, and none
 * caused by records at or after it.  OK: committed = cut.  ABORT: the
 * transaction was aborted; rewind.  FATAL: stop.
 */
enum sl_txn_status sl_committer_commit(struct sl_committer *c);
/* After ABORT: pushed = cut = committed for every partition.  The caller
 * replays each partition from its start with rows suppressed below
 * `committed` (or from `committed` when state is restored otherwise). */
void sl_committer_rewind(struct sl_committer *c);

#endif
