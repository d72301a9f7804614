/*
 * kafka_run.c - Kafka mode: consumer, workers, transactional producer.
 *
 *   Kafka thread (the caller's)                        worker w (pinned)
 *   ───────────────────────────                        ─────────────────
 *   consume batches (consumer queue) ──kbatch ring──▶  per owned partition:
 *     route by partition to its owner                    sl_part_record
 *     committer: pushed offsets                          (decode, WHERE, key,
 *   drain rows ◀────────────────────outbatch ring────    aggregate, rows)
 *     produce into the open transaction
 *   every commit.interval.ms:
 *     cut: CUT(n) to every worker; produce rows until
 *     every worker's marker n; send offsets; commit
 *
 * The transaction logic (what is committed when, what an abort rewinds)
 * is engine/committer.c, proven by the deterministic simulation; this file
 * is its librdkafka side (struct sl_txn_ops) and the threads around it.
 *
 * Recovery (until checkpoints): a partition, when assigned or rewound
 * after an abort, is read again from its beginning with rows suppressed up
 * to its committed offset, which rebuilds its windows exactly
 * (state.recovery = 'replay', the default); state.recovery = 'none' starts
 * at the committed offset with empty state instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/committer.h"
#include "engine/ktable.h"
#include "engine/part.h"
#include "engine/probes.h"
#include "engine/record.h"
#include "engine/report.h"
#include "engine/snapshot.h"
#include "engine/worker.h"

#define KBATCH_MSGS 1024
/* A latency histogram: buckets of unit_us up to 10 s; the last holds "10 s
 * or more". */
struct hist {
        uint64_t *b;
        uint64_t n;
        uint32_t nb;
        uint32_t unit_us;
};

static int hist_init(struct hist *h, uint32_t unit_us)
{
        h->unit_us = unit_us;
        h->nb = 10000000 / unit_us + 1;
        h->n = 0;
        h->b = calloc(h->nb, sizeof *h->b);
        return h->b ? 0 : -ENOMEM;
}

static void hist_add(struct hist *h, int64_t us)
{
        int64_t i = us < 0 ? 0 : us / h->unit_us;
        h->b[i < h->nb - 1 ? i : h->nb - 1]++;
        h->n++;
}

/* The q-quantile in ms (the bucket's upper end). */
static double hist_q(const struct hist *h, double q)
{
        uint64_t want = (uint64_t)((double)h->n * q), seen = 0;
        uint32_t i = 0;
        for (; i < h->nb - 1; i++)
                if ((seen += h->b[i]) > want)
                        break;
        return (double)(i + 1) * h->unit_us / 1000.0;
}

enum kb_kind { KB_MSGS, KB_ASSIGN, KB_RESET, KB_REVOKE, KB_CUT, KB_FLUSH, KB_STOP, KB_SNAPSHOT,
               KB_TABLE };

struct kent {
        struct sl_part *part;
        rd_kafka_message_t *m;
};

/* What travels from the Kafka thread to a worker. */
struct kbatch {
        uint32_t kind;
        uint32_t n;
        struct sl_part *part; /* ASSIGN, RESET, REVOKE */
        int64_t arg;          /* RESET: replay_until; CUT, FLUSH: cut id */
        int64_t rx_us;        /* MSGS: when the Kafka thread received them */
        void *payload;        /* RESET: a snapshot to load after the reset (freed by
                               * the worker), or NULL; TABLE: table records (see
                               * table_records) */
        size_t plen;
        struct kent e[];
};

/* A snapshot a worker took of one partition, on its way to the writer. */
struct snapjob {
        struct snapjob *next;
        struct sl_snap_meta meta;
        struct sl_buf enc;
};

struct kworker {
        uint32_t id;
        int cpu;
        pthread_t thread;
        bool started;
        struct sl_ring in, out;
        struct sl_outq oq;
        _Atomic bool *stop;
        /* worker thread only */
        struct sl_part **parts;
        uint32_t nparts, cap;
        struct sl_source_stats *sst; /* of destroyed partitions */
        const char *const *topics;   /* topic names by topic id (read only) */
        uint64_t plan_hash;
        _Atomic uint64_t snap_ns;    /* time spent taking snapshots */
        _Atomic uint64_t snap_max_ns;
        _Atomic uint64_t snaps;
        struct sl_query_stats *qst;
        const struct sl_plan *plan;
        struct sl_ktable **tables;   /* per source: this worker's copy of a joined table */
        struct sl_value tvals[SL_MAX_COLS]; /* decoding table records */
        struct sl_scratch tscratch;
        int rc;
        /* read by the Kafka thread for the status line */
        _Atomic uint64_t records;
        _Atomic uint64_t keys;
        _Atomic uint64_t state_bytes; /* table memory of its partitions */
        /* Kafka thread only */
        struct kbatch *cur;
        uint32_t owned;
        uint64_t marker;  /* last cut id seen */
};

struct kpart {
        struct sl_part *part;
        uint32_t topic;   /* topic id: a source, or nsources + query (repartition) */
        uint32_t worker;
        int64_t last;     /* last offset handed over in this batch, -1: none */
        int64_t next;     /* offset after the last handed over, -1: none since the
                           * assignment or the last rewind */
        int64_t target;   /* bounded, repartition topics: the end to reach */
        int64_t snap_offset; /* restored from a snapshot at this offset, -1: none */
        int64_t live_at;     /* offsets below are replayed (the committed offset) */
        bool live;
        bool eof;
};

struct kpart_map {
        struct kpart **p; /* by partition number */
        uint32_t n;
};

struct krun {
        const struct sl_plan *plan;
        const struct sluice_kafka_opts *opts;
        char *err;
        size_t errlen;
        const char *bootstrap;
        char group[256];
        bool eos;
        bool replay;
        bool plain_commit;    /* also commit offsets outside the transaction */
        bool checked_offsets; /* did the broker keep transactional offsets? */
        FILE *txn_log;        /* sluice.txn.log: "commit|abort TXID SEQ" per transaction */
        char txid[400];       /* transactional.id */
        char instance[440];   /* this process: transactional.id#pid-ms (txn log, header) */
        uint64_t txn_seq;     /* transactions begun */
        char txn_hdr[480];    /* "INSTANCE:SEQ", the sluice.txn header of every row */
        size_t txn_hdr_len;
        int64_t commit_ms;
        rd_kafka_t *consumer, *producer, *mock_rk;
        rd_kafka_t *tconsumer;        /* joined tables: every partition, outside the group */
        rd_kafka_queue_t *tq;
        uint64_t table_msgs;          /* table records handed to the workers */
        rd_kafka_mock_cluster_t *mock;
        rd_kafka_queue_t *cq;
        rd_kafka_topic_t **out_rkt;   /* per query */
        rd_kafka_consumer_group_metadata_t *cgmd;
        rd_kafka_topic_partition_list_t *alo_offsets;
        struct kworker *w;
        uint32_t nw;
        struct kpart_map *map;        /* per topic id */
        uint32_t ntopics;             /* sources, then one repartition topic per query */
        bool *rep;                    /* per query: GROUP BY needs a repartition */
        bool any_rep;
        char **rep_topic;             /* per query: <application.id>-<name>-repartition */
        rd_kafka_topic_t **rep_rkt;
        const char *dlq_topic;        /* dlq.topic: dead letters; NULL: none */
        rd_kafka_topic_t *dlq_rkt;
        size_t dlq_max;               /* dlq.value.max.bytes */
        size_t max_record;            /* max.record.bytes; 0: no limit */
        uint64_t dead;                /* dead letters produced */
        uint64_t rewinds;             /* aborted transactions rewound */
        int64_t state_max;            /* state.max.bytes; 0: no limit */
        int64_t state_full_ms;        /* state.full.timeout.ms */
        bool paused;                  /* consumption paused: the state is full */
        bool held;                    /* messages dropped while paused: seek back */
        double paused_at;
        int bounded_phase;            /* repartitioning, bounded: 1 once stage 1 is done */
        const char **topics;          /* names by topic id, for the workers */
        /* checkpoints */
        const char *ckpt_dir;
        int64_t ckpt_ms;
        struct sl_ckpt_writer *writer;
        uint64_t ckpt_published, ckpt_bytes, ckpt_failed, ckpt_restored;
        double ckpt_write_ms_sum, ckpt_write_ms_max;
        int64_t *pub;                 /* per (topic id, partition): newest published offset */
        uint32_t pub_stride;
        uint32_t assigned;
        struct sl_committer c;
        struct sl_txn_ops ops;
        uint64_t cut_id;
        bool discard;                 /* rows belong to an aborted transaction */
        int fatal;                    /* a fatal Kafka error happened */
        int rc;
        _Atomic bool stop;            /* a thread failed */
        char kerr[512];               /* last librdkafka error text */
        uint64_t dr_failed;
        /* latency: input CreateTime to commit (EOS) or delivery (ALO);
         * and in process: received from Kafka to the same */
        int64_t *txn_ts;
        int64_t *txn_rx;
        double commit_ms_sum, commit_ms_max; /* time in commit_transaction */
        struct hist ilat;             /* received -> committed or acknowledged */
        struct hist plat;             /* received -> handed to the producer */
        size_t ntxn_ts, captxn_ts;
        struct hist lat;              /* CreateTime -> committed or acknowledged */
        int64_t lat_warmup;           /* ms after the first input not measured */
        int64_t lat_from;             /* CreateTime from which latency counts */
        /* counters */
        uint64_t consumed;
        uint64_t produced;
        double assigned_at;           /* last assignment that needed catching up */
        uint64_t replayed;            /* records re-read below committed offsets */
        bool live_reported;
        double first_in, last_in;     /* times of the first and the last input */
        double t0;
        double last_status;
        uint64_t st_consumed, st_produced, st_txns;
};

static const char *topic_name(const struct krun *r, uint32_t id)
{
        return id < r->plan->nsources ? r->plan->sources[id].topic
                                      : r->rep_topic[id - r->plan->nsources];
}

static void errf(struct krun *r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The delivery-report opaque of an at-least-once row. */
static void *lat_opaque(const struct sl_out_msg *m)
{
        int64_t d = m->rx_us - m->cause_ts * 1000;
        uint64_t o = (uint64_t)(m->cause_ts > 0 ? m->cause_ts : 0) << 22 |
                     (d >= 0 && d < 0x3fffff ? (uint64_t)d : 0x3fffff);
        return (void *)(uintptr_t)o;
}

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ckpt_warn(void *arg, const char *msg);
static const char *own(const struct krun *r, const char *name);
static void poll_checkpoints(struct krun *r, bool prune);

/* True for a property sluice interprets itself; the others go to librdkafka. */
static bool sl_kafka_own_setting(const char *name)
{
        static const char *const own[] = {
                "application.id", "processing.guarantee", "commit.interval.ms",
                "state.dir", "state.recovery", "checkpoint.interval.ms",
                "late.records.topic", "dlq.topic", "dlq.value.max.bytes", "max.record.bytes",
                "state.max.bytes", "state.full.timeout.ms", NULL,
        };
        if (strncmp(name, "sluice.", 7) == 0)
                return true;
        for (int i = 0; own[i]; i++)
                if (strcmp(name, own[i]) == 0)
                        return true;
        return false;
}

/* ---- workers ---------------------------------------------------------- */

static void fold_part(struct kworker *w, struct sl_part *pt)
{
        sl_part_add_stats(pt, &w->sst[sl_part_source(pt)], w->qst);
}

static void drop_part(struct kworker *w, struct sl_part *pt)
{
        for (uint32_t i = 0; i < w->nparts; i++)
                if (w->parts[i] == pt) {
                        w->parts[i] = w->parts[--w->nparts];
                        break;
                }
        fold_part(w, pt);
        sl_part_destroy(pt);
}

static uint64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Copies every owned partition's state into an encoded snapshot and hands
 * them to the Kafka thread (which gives them to the writer thread): the
 * worker stops only for the copy. */
static int take_snapshots(struct kworker *w)
{
        uint64_t t0 = mono_ns();
        struct snapjob *head = NULL;
        int rc = 0;
        for (uint32_t i = 0; i < w->nparts && rc == 0; i++) {
                struct sl_part *pt = w->parts[i];
                struct snapjob *j = calloc(1, sizeof *j);
                if (!j) {
                        rc = -ENOMEM;
                        break;
                }
                j->meta.hash = w->plan_hash;
                j->meta.partition = sl_part_partition(pt);
                snprintf(j->meta.topic, sizeof j->meta.topic, "%s", w->topics[sl_part_tag(pt)]);
                j->meta.offset = sl_part_next_offset(pt);
                /* The state is serialised straight into the file image. */
                size_t start;
                rc = sl_snap_begin(&j->enc, j->meta.topic, &start);
                if (rc == 0)
                        rc = sl_part_save(pt, &j->enc, &j->meta.stream_time, &j->meta.entries);
                if (rc == 0)
                        rc = sl_snap_finish(&j->enc, start, &j->meta);
                j->next = head;
                head = j;
        }
        if (rc == 0 && head) {
                if (!w->oq.cur && !(w->oq.cur = sl_outbatch_new(256)))
                        rc = -ENOMEM;
                if (rc == 0) {
                        w->oq.cur->snap = head;
                        head = NULL;
                        rc = sl_outq_flush(&w->oq, 0);
                }
        }
        while (head) {
                struct snapjob *n = head->next;
                sl_buf_free(&head->enc);
                free(head);
                head = n;
        }
        uint64_t ns = mono_ns() - t0;
        SL_PROBE3(snapshot_take, w->id, w->nparts, ns);
        atomic_fetch_add_explicit(&w->snap_ns, ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->snaps, 1, memory_order_relaxed);
        if (ns > atomic_load_explicit(&w->snap_max_ns, memory_order_relaxed))
                atomic_store_explicit(&w->snap_max_ns, ns, memory_order_relaxed);
        return rc;
}

/*
 * A KB_TABLE payload: records back to back, each a header (struct trec)
 * then the message key and value; vlen UINT32_MAX is a null value (a
 * tombstone).  Every worker gets its own copy and applies it to its own
 * tables, between two stream batches: no table is shared between threads.
 * Worker 0 counts them (the others apply the same records).
 */
struct trec {
        uint32_t src;
        uint32_t klen;
        uint32_t vlen;
        uint32_t pad;
};

static int table_records(struct kworker *w, const char *p, size_t len)
{
        struct sl_source_stats none = {0};
        const char *end = p + len;
        int rc = 0;
        while (p < end && rc == 0) {
                struct trec h;
                memcpy(&h, p, sizeof h);
                const char *key = p + sizeof h, *val = key + h.klen;
                p = val + (h.vlen == UINT32_MAX ? 0 : h.vlen);
                const struct sl_source *src = &w->plan->sources[h.src];
                struct sl_source_stats *sst = w->id == 0 ? &w->sst[h.src] : &none;
                sst->read++;
                if (h.vlen == UINT32_MAX) {
                        /* A tombstone: the key alone says which row goes. */
                        for (uint32_t c = 0; c <= src->ncols; c++)
                                w->tvals[c].type = SL_T_NULL;
                        if (!h.klen || !sl_record_key_columns(src, key, h.klen, w->tvals)) {
                                sst->dropped[SL_DROP_NULL_VALUE]++;
                                continue;
                        }
                        w->tvals[src->ncols].type = SL_T_BOOL; /* SL_TABLE_DELETED */
                        w->tvals[src->ncols].u.b = true;
                } else {
                        sst->bytes += h.vlen;
                        int64_t ts;
                        int why = sl_record_decode(src, val, h.vlen, w->tvals, &w->tscratch, 0, &ts);
                        if (why < 0)
                                return why;
                        if (why != SL_DROP_COUNT) {
                                sst->dropped[why]++;
                                continue;
                        }
                        /* The message key, when there is one, is the primary key. */
                        if (h.klen && !sl_record_key_columns(src, key, h.klen, w->tvals)) {
                                sst->dropped[SL_DROP_BAD_KEY]++;
                                continue;
                        }
                }
                rc = sl_ktable_apply(w->tables[h.src], src, w->tvals, sst);
        }
        return rc;
}

static int run_kbatch(struct kworker *w, struct kbatch *b)
{
        int rc = 0;
        switch (b->kind) {
        case KB_MSGS: {
                /* Runs of messages of one partition go in together, so
                 * that table loads overlap (sl_part_records). */
                static _Thread_local struct sl_msg run[KBATCH_MSGS];
                uint32_t i = 0;
                SL_PROBE2(batch_begin, w->id, b->n);
                w->oq.rx_us = b->rx_us;
                while (i < b->n && rc == 0) {
                        struct sl_part *pt = b->e[i].part;
                        bool hdr = sl_part_key_in_header(pt);
                        uint32_t n = 0;
                        for (; i < b->n && b->e[i].part == pt; i++, n++) {
                                rd_kafka_message_t *m = b->e[i].m;
                                rd_kafka_timestamp_type_t tt;
                                const void *key = m->key;
                                size_t klen = m->key_len;
                                rd_kafka_headers_t *h;
                                if (hdr) {
                                        key = NULL;
                                        klen = 0;
                                        if (rd_kafka_message_headers(m, &h) == 0)
                                                (void)rd_kafka_header_get_last(h, "sluice.key",
                                                                               &key, &klen);
                                }
                                run[n] = (struct sl_msg){.offset = m->offset, .key = key,
                                        .klen = klen, .val = m->payload, .vlen = m->len,
                                        .ts = rd_kafka_message_timestamp(m, &tt)};
                        }
                        rc = sl_part_records(pt, run, n);
                }
                for (i = 0; i < b->n; i++)
                        rd_kafka_message_destroy(b->e[i].m);
                w->oq.rx_us = 0;
                SL_PROBE2(batch_end, w->id, b->n);
                atomic_fetch_add_explicit(&w->records, b->n, memory_order_relaxed);
                break;
        }
        case KB_ASSIGN:
                if (w->nparts == w->cap) {
                        uint32_t cap = w->cap ? 2 * w->cap : 16;
                        struct sl_part **p = realloc(w->parts, cap * sizeof *p);
                        if (!p)
                                return -ENOMEM;
                        w->parts = p;
                        w->cap = cap;
                }
                w->parts[w->nparts++] = b->part;
                sl_part_set_tables(b->part, w->tables);
                break;
        case KB_TABLE:
                rc = table_records(w, b->payload, b->plen);
                free(b->payload);
                b->payload = NULL;
                break;
        case KB_RESET:
                rc = sl_part_reset(b->part, b->arg);
                if (rc == 0 && b->payload && sl_part_load(b->part, b->payload, b->plen) != 0)
                        rc = -EINVAL; /* checked by the Kafka thread before: cannot happen */
                free(b->payload);
                b->payload = NULL;
                break;
        case KB_SNAPSHOT:
                rc = take_snapshots(w);
                break;
        case KB_REVOKE:
                drop_part(w, b->part);
                break;
        case KB_FLUSH:
                for (uint32_t i = 0; i < w->nparts && rc == 0; i++)
                        rc = sl_part_flush(w->parts[i]);
                if (rc == 0)
                        rc = sl_outq_mark(&w->oq, (uint64_t)b->arg);
                break;
        case KB_CUT:
                rc = sl_outq_mark(&w->oq, (uint64_t)b->arg);
                break;
        }
        /* Rows leave with every input batch: a batch is up to 1024
         * messages, so this costs one ring operation per batch. */
        if (b->kind != KB_CUT && b->kind != KB_FLUSH && rc == 0 && w->oq.cur &&
            w->oq.cur->used)
                rc = sl_outq_flush(&w->oq, 0);
        return rc;
}

static void *kworker_main(void *arg)
{
        struct kworker *w = arg;
        uint32_t spins = 0, batches = 0;
        int rc = 0;
        for (;;) {
                void *p;
                if (!sl_ring_pop1_spsc(&w->in, &p)) {
                        /* Idle: hand over what is queued so rows are not held back. */
                        if (w->oq.cur && w->oq.cur->used && (rc = sl_outq_flush(&w->oq, 0)) != 0)
                                break;
                        if (atomic_load_explicit(w->stop, memory_order_relaxed)) {
                                rc = -ECANCELED;
                                break;
                        }
                        /* Kafka input comes in bursts with quiet gaps: after a
                         * short spin, sleep 50 us, doubling up to 1 ms, so an
                         * idle worker costs little and a busy one waits less
                         * than a millisecond. */
                        if (spins < 128) {
                                sl_backoff(&spins);
                        } else {
                                uint32_t k = spins - 128 < 5 ? spins - 128 : 5;
                                struct timespec ts = {0, (50000L << k) < 1000000L ? 50000L << k : 1000000L};
                                nanosleep(&ts, NULL);
                                spins++;
                        }
                        continue;
                }
                spins = 0;
                struct kbatch *b = p;
                bool stop = b->kind == KB_STOP;
                bool msgs = b->kind == KB_MSGS;
                if (!stop)
                        rc = run_kbatch(w, b);
                free(b);
                if (rc || stop)
                        break;
                /* What state.max.bytes and the status line read: every 8
                 * batches of input (a few hundred ns), and after every
                 * control batch (a revoke or a reset frees state). */
                if ((++batches & 7) == 0 || !msgs) {
                        uint64_t keys = 0, bytes = 0;
                        for (uint32_t i = 0; i < w->nparts; i++) {
                                keys += sl_part_keys(w->parts[i]);
                                bytes += sl_part_state_bytes(w->parts[i]);
                        }
                        atomic_store_explicit(&w->keys, keys, memory_order_relaxed);
                        atomic_store_explicit(&w->state_bytes, bytes, memory_order_relaxed);
                }
        }
        while (w->nparts)
                drop_part(w, w->parts[0]);
        w->rc = rc;
        if (rc)
                atomic_store_explicit(w->stop, true, memory_order_relaxed);
        return NULL;
}

/* ---- Kafka thread: handing work to workers ---------------------------- */

static int drain_all(struct krun *r);

static int push_kbatch(struct krun *r, struct kworker *w, struct kbatch *b)
{
        uint32_t spins = 0;
        while (!sl_ring_push1_spsc(&w->in, b)) {
                if (atomic_load_explicit(&r->stop, memory_order_relaxed)) {
                        free(b);
                        return -ECANCELED;
                }
                /* The worker may be waiting for room in its output ring. */
                int rc = drain_all(r);
                if (rc) {
                        free(b);
                        return rc;
                }
                sl_backoff(&spins);
        }
        return 0;
}

static int flush_pending(struct krun *r, struct kworker *w)
{
        struct kbatch *b = w->cur;
        if (!b || b->n == 0)
                return 0;
        w->cur = NULL;
        return push_kbatch(r, w, b);
}

static int push_control_payload(struct krun *r, struct kworker *w, enum kb_kind kind,
                                struct sl_part *part, int64_t arg, void *payload, size_t plen)
{
        int rc = flush_pending(r, w);
        struct kbatch *b = rc ? NULL : malloc(sizeof *b);
        if (!b) {
                free(payload);
                return rc ? rc : -ENOMEM;
        }
        *b = (struct kbatch){.kind = kind, .part = part, .arg = arg, .payload = payload,
                             .plen = plen};
        return push_kbatch(r, w, b);
}

static int push_control(struct krun *r, struct kworker *w, enum kb_kind kind,
                        struct sl_part *part, int64_t arg)
{
        return push_control_payload(r, w, kind, part, arg, NULL, 0);
}

/* ---- Kafka thread: producing rows ------------------------------------- */

/* A row caused by input created at cause (ms), received at rx_us, made
 * visible at now_us; the warm-up (sluice.latency.warmup.ms) is left out. */
static void lat_add(struct krun *r, int64_t now_us, int64_t rx_us, int64_t cause)
{
        if (cause < r->lat_from)
                return;
        hist_add(&r->lat, now_us - cause * 1000);
        if (rx_us > 0)
                hist_add(&r->ilat, now_us - rx_us);
}

/* A dead letter: the dropped record as it came, to dlq.topic, in the
 * transaction that commits its offset. */
static int produce_dead(struct krun *r, const struct sl_row *row, const char *text)
{
        struct sl_dead d;
        memcpy(&d, text + row->len - sizeof d, sizeof d);
        struct sl_out_msg m = {
                .topic = r->dlq_topic, .key = row->klen ? text : NULL, .klen = row->klen,
                .val = d.null_value ? NULL : text + row->klen, .vlen = row->xlen,
                .ts = row->wend, .cause_ts = row->cause_ts, .rx_us = row->rx_us, .dead = &d,
        };
        enum sl_txn_status s = sl_committer_row(&r->c, &m);
        if (s == SL_TXN_ABORT)
                r->discard = true; /* the rewind comes at the next commit */
        else if (s == SL_TXN_FATAL) {
                r->fatal = 1;
                return -ENOTRECOVERABLE;
        } else
                r->dead++;
        return 0;
}

static int produce_batch(struct krun *r, struct sl_outbatch *b)
{
        int64_t now_us = wall_us();
        for (uint32_t off = 0; off < b->used;) {
                const struct sl_row *row = (const struct sl_row *)(b->data + off);
                off += sl_row_size(row->len);
                if (r->discard)
                        continue;
                const char *text = sl_row_text(row);
                if (row->kind == SL_ROW_DEAD) {
                        int rc = produce_dead(r, row, text);
                        if (rc)
                                return rc;
                        continue;
                }
                const struct sl_query *q = &r->plan->queries[row->query];
                struct sl_out_msg m = {
                        .topic = q->topic, .query = row->query,
                        .key = row->klen ? text : NULL, .klen = row->klen,
                        .val = text + row->klen, .vlen = row->len - row->klen,
                        .ts = q->kind == SL_Q_AGGREGATE && q->win.kind != SL_WIN_NONE ? row->wend : 0,
                        .cause_ts = row->cause_ts, .rx_us = row->rx_us,
                };
                if (row->kind == SL_ROW_REPARTITION) {
                        m.repartition = true;
                        m.topic = r->rep_topic[row->query];
                        m.hkey = row->xlen ? text + row->klen : NULL;
                        m.hklen = row->xlen;
                        m.val += row->xlen;
                        m.vlen -= row->xlen;
                        m.ts = row->wend;
                }
                /* The row is in its file framing (JSON: a line and its
                 * newline; FlatBuffers: a frame, see sl_fb_row); a message
                 * value is not. */
                if (!m.repartition && q->format == SL_FMT_FLATBUFFERS) {
                        m.val += SL_FB_FRAME_HEAD;
                        m.vlen -= SL_FB_FRAME_HEAD;
                } else if (!m.repartition && m.vlen && m.val[m.vlen - 1] == '\n') {
                        m.vlen--;
                }
                /* A session window's tombstone: its windowed key alone
                 * (aggop.c session_tombstone), a null message value. */
                if (!m.repartition && q->kind == SL_Q_AGGREGATE &&
                    q->win.kind == SL_WIN_SESSION && row->len == row->klen)
                        m.val = NULL;
                enum sl_txn_status s = sl_committer_row(&r->c, &m);
                if (s == SL_TXN_ABORT) {
                        r->discard = true; /* the rewind comes at the next commit */
                        continue;
                }
                if (s == SL_TXN_FATAL) {
                        r->fatal = 1;
                        return -ENOTRECOVERABLE;
                }
                r->produced++;
                if (row->cause_ts >= r->lat_from && row->rx_us > 0)
                        hist_add(&r->plat, now_us - row->rx_us);
                if (r->eos) {
                        if (r->ntxn_ts == r->captxn_ts) {
                                size_t cap = r->captxn_ts ? 2 * r->captxn_ts : 4096;
                                int64_t *n = realloc(r->txn_ts, cap * sizeof *n);
                                if (n)
                                        r->txn_ts = n;
                                int64_t *x = realloc(r->txn_rx, cap * sizeof *x);
                                if (x)
                                        r->txn_rx = x;
                                if (!n || !x)
                                        return -ENOMEM;
                                r->captxn_ts = cap;
                        }
                        r->txn_rx[r->ntxn_ts] = row->rx_us;
                        r->txn_ts[r->ntxn_ts++] = row->cause_ts;
                }
        }
        return 0;
}

/* Produces what worker w has queued, up to and including the marker of cut
 * `until` (0: everything available). */
static void submit_snapshots(struct krun *r, struct snapjob *j)
{
        while (j) {
                struct snapjob *n = j->next;
                if (r->writer && sl_ckpt_submit(r->writer, &j->meta, &j->enc) != 0)
                        r->ckpt_failed++;
                sl_buf_free(&j->enc);
                free(j);
                j = n;
        }
}

static int drain_worker(struct krun *r, struct kworker *w, uint64_t until)
{
        void *p;
        while ((until == 0 || w->marker < until) && sl_ring_pop1_spsc(&w->out, &p)) {
                struct sl_outbatch *b = p;
                if (b->snap) {
                        submit_snapshots(r, b->snap);
                        b->snap = NULL;
                }
                int rc = produce_batch(r, b);
                if (b->cut)
                        w->marker = b->cut;
                free(b);
                if (rc)
                        return rc;
        }
        return 0;
}

static int drain_all(struct krun *r)
{
        for (uint32_t i = 0; i < r->nw; i++) {
                int rc = drain_worker(r, &r->w[i], 0);
                if (rc)
                        return rc;
        }
        return 0;
}

/* Asks every worker for a marker (after a FLUSH when flush is set) and
 * produces their rows until all markers are in. */
static int cut_and_drain(struct krun *r, bool flush)
{
        uint64_t id = ++r->cut_id;
        int rc = 0;
        for (uint32_t i = 0; i < r->nw && rc == 0; i++)
                rc = push_control(r, &r->w[i], flush ? KB_FLUSH : KB_CUT, NULL, (int64_t)id);
        uint32_t spins = 0;
        for (uint32_t i = 0; i < r->nw && rc == 0; i++) {
                struct kworker *w = &r->w[i];
                while (rc == 0 && w->marker < id) {
                        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
                                return -ECANCELED;
                        rc = drain_worker(r, w, id);
                        if (w->marker < id)
                                sl_backoff(&spins);
                }
        }
        rd_kafka_poll(r->producer, 0);
        return rc;
}

/* ---- the librdkafka side of the committer ----------------------------- */

static enum sl_txn_status classify(struct krun *r, rd_kafka_error_t *e)
{
        if (!e)
                return SL_TXN_OK;
        snprintf(r->kerr, sizeof r->kerr, "%s", rd_kafka_error_string(e));
        enum sl_txn_status s = rd_kafka_error_is_fatal(e)          ? SL_TXN_FATAL
                             : rd_kafka_error_txn_requires_abort(e) ? SL_TXN_ABORT
                             : rd_kafka_error_is_retriable(e)      ? SL_TXN_RETRY
                                                                   : SL_TXN_ABORT;
        rd_kafka_error_destroy(e);
        return s;
}

/*
 * sluice.txn.log: one line per transaction, written with one write() so a
 * kill leaves it whole or absent: "commit|abort TXID SEQ", and for a commit
 * the offsets it committed, "TOPIC:PARTITION:OFFSET" each.
 */
static void txn_logf(struct krun *r, const char *what)
{
        if (!r->txn_log)
                return;
        char line[8192];
        int n = snprintf(line, sizeof line, "%s %s %" PRIu64, what, r->instance, r->txn_seq);
        const rd_kafka_topic_partition_list_t *l = r->alo_offsets;
        for (int i = 0; l && strcmp(what, "commit") == 0 && i < l->cnt &&
                        n > 0 && (size_t)n < sizeof line - 300; i++)
                n += snprintf(line + n, sizeof line - (size_t)n, " %s:%d:%" PRId64,
                              l->elems[i].topic, l->elems[i].partition, l->elems[i].offset);
        if (n > 0 && (size_t)n < sizeof line - 1) {
                line[n++] = '\n';
                (void)!write(fileno(r->txn_log), line, (size_t)n);
        }
}

/*
 * The offset sluice.txn.log records as committed for a partition, or -1.
 * On a broker that drops transactional offsets (the mock), the plain commit
 * that follows a transaction can be lost to a kill; the log line cannot
 * (it is written before), so it is the better record there.
 */
static int64_t logged_offset(const struct krun *r, const char *topic, int32_t partition)
{
        const char *path = own(r, "sluice.txn.log");
        FILE *f = path ? fopen(path, "r") : NULL;
        if (!f)
                return -1;
        char line[8192], want[300];
        int64_t best = -1;
        int wl = snprintf(want, sizeof want, "%s:%d:", topic, partition);
        while (fgets(line, sizeof line, f)) {
                if (strncmp(line, "commit ", 7) != 0)
                        continue;
                for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
                        if (strncmp(t, want, (size_t)wl) == 0) {
                                int64_t o = strtoll(t + wl, NULL, 10);
                                if (o > best)
                                        best = o;
                        }
        }
        fclose(f);
        return best;
}

static enum sl_txn_status k_begin(void *ctx)
{
        struct krun *r = ctx;
        if (!r->eos)
                return SL_TXN_OK;
        enum sl_txn_status s = classify(r, rd_kafka_begin_transaction(r->producer));
        if (s == SL_TXN_OK) {
                r->txn_seq++;
                int n = snprintf(r->txn_hdr, sizeof r->txn_hdr, "%s:%" PRIu64, r->instance, r->txn_seq);
                r->txn_hdr_len = n > 0 && (size_t)n < sizeof r->txn_hdr ? (size_t)n : 0;
        }
        return s;
}

static enum sl_txn_status k_produce(void *ctx, const struct sl_out_msg *m)
{
        struct krun *r = ctx;
        rd_kafka_topic_t *rkt = m->dead ? r->dlq_rkt
                              : m->repartition ? r->rep_rkt[m->query] : r->out_rkt[m->query];
        rd_kafka_vu_t vu[16] = {
                {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = rkt},
                {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)m->key, m->klen}},
                {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)m->val, m->vlen}},
                {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
                {.vtype = RD_KAFKA_VTYPE_TIMESTAMP, .u.i64 = m->ts},
                {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = lat_opaque(m)},
        };
        size_t n = 6;
        if (m->repartition)
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {
                        "sluice.key", m->hkey, m->hkey ? (ssize_t)m->hklen : -1}};
        if (r->txn_log)
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {
                        "sluice.txn", r->txn_hdr, (ssize_t)r->txn_hdr_len}};
        char part[16], off[24], size[24];
        if (m->dead) {
                const struct sl_dead *d = m->dead;
                const char *why = sl_drop_name((enum sl_drop)d->reason);
                const char *src = topic_name(r, d->tag);
                snprintf(part, sizeof part, "%" PRId32, d->partition);
                snprintf(off, sizeof off, "%" PRId64, d->offset);
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
                                          .u.header = {"sluice.dlq.reason", why, -1}};
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
                                          .u.header = {"sluice.dlq.topic", src, -1}};
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
                                          .u.header = {"sluice.dlq.partition", part, -1}};
                vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
                                          .u.header = {"sluice.dlq.offset", off, -1}};
                if (d->vlen > m->vlen) { /* the value was cut to dlq.value.max.bytes */
                        snprintf(size, sizeof size, "%" PRIu64, d->vlen);
                        vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
                                                  .u.header = {"sluice.dlq.value.bytes", size, -1}};
                }
        }
        for (;;) {
                rd_kafka_error_t *err = rd_kafka_produceva(r->producer, vu, n);
                if (!err)
                        return SL_TXN_OK;
                rd_kafka_resp_err_t e = rd_kafka_error_code(err);
                rd_kafka_error_destroy(err);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        snprintf(r->kerr, sizeof r->kerr, "topic %s: %s", rd_kafka_topic_name(rkt),
                                 rd_kafka_err2str(e));
                        return e == RD_KAFKA_RESP_ERR__FATAL ? SL_TXN_FATAL : SL_TXN_ABORT;
                }
                rd_kafka_poll(r->producer, 5);
        }
}

static rd_kafka_topic_partition_list_t *offsets_list(struct krun *r,
                                                     const struct sl_offset *o, uint32_t n)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
        for (uint32_t i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic_name(r, o[i].src),
                                                  o[i].partition)->offset = o[i].offset;
        return l;
}

static enum sl_txn_status k_send_offsets(void *ctx, const struct sl_offset *o, uint32_t n)
{
        struct krun *r = ctx;
        rd_kafka_topic_partition_list_t *l = offsets_list(r, o, n);
        if (!r->eos) {
                if (r->alo_offsets)
                        rd_kafka_topic_partition_list_destroy(r->alo_offsets);
                r->alo_offsets = l;
                return SL_TXN_OK;
        }
        if (r->cgmd)
                rd_kafka_consumer_group_metadata_destroy(r->cgmd);
        r->cgmd = rd_kafka_consumer_group_metadata(r->consumer);
        enum sl_txn_status s = classify(r, rd_kafka_send_offsets_to_transaction(
                r->producer, l, r->cgmd, 30000));
        /* Kept for the plain commit that follows a mock's transaction. */
        if (r->alo_offsets)
                rd_kafka_topic_partition_list_destroy(r->alo_offsets);
        r->alo_offsets = l;
        return s;
}

static enum sl_txn_status commit_plain(struct krun *r)
{
        if (!r->alo_offsets)
                return SL_TXN_OK;
        rd_kafka_resp_err_t e = rd_kafka_commit(r->consumer, r->alo_offsets, 0);
        rd_kafka_topic_partition_list_destroy(r->alo_offsets);
        r->alo_offsets = NULL;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return SL_TXN_OK;
        snprintf(r->kerr, sizeof r->kerr, "offset commit: %s", rd_kafka_err2str(e));
        return SL_TXN_ABORT;
}

/* The mock cluster drops offsets sent with a transaction (KAFKA_MOCK.md):
 * after the first commit, look; if they are missing, commit them again
 * outside the transaction from now on.  Harmless on real Kafka: the same
 * offsets, after the transaction that holds them committed. */
static void check_txn_offsets(struct krun *r)
{
        r->checked_offsets = true;
        if (!r->alo_offsets || r->plain_commit)
                return;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(r->alo_offsets);
        if (rd_kafka_committed(r->consumer, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            l->cnt > 0 && l->elems[0].offset != r->alo_offsets->elems[0].offset) {
                fprintf(stderr, "sluice: warning: the broker did not keep the offsets sent "
                                "with the transaction (librdkafka's mock cluster does this); "
                                "committing them again after each transaction\n");
                r->plain_commit = true;
        }
        rd_kafka_topic_partition_list_destroy(l);
}

static enum sl_txn_status k_commit(void *ctx)
{
        struct krun *r = ctx;
        if (!r->eos) {
                rd_kafka_flush(r->producer, 60000);
                if (r->dr_failed) {
                        snprintf(r->kerr, sizeof r->kerr, "%" PRIu64 " rows not delivered",
                                 r->dr_failed);
                        r->dr_failed = 0;
                        return SL_TXN_ABORT;
                }
                return commit_plain(r);
        }
        double t0 = now_s();
        enum sl_txn_status s = classify(r, rd_kafka_commit_transaction(r->producer, 60000));
        if (s != SL_TXN_OK)
                return s;
        double ms = (now_s() - t0) * 1000;
        r->commit_ms_sum += ms;
        if (ms > r->commit_ms_max)
                r->commit_ms_max = ms;
        txn_logf(r, "commit");
        int64_t tu = wall_us();
        for (size_t i = 0; i < r->ntxn_ts; i++)
                lat_add(r, tu, r->txn_rx[i], r->txn_ts[i]);
        r->ntxn_ts = 0;
        if (!r->checked_offsets)
                check_txn_offsets(r);
        if (r->plain_commit)
                (void)commit_plain(r); /* best effort: the transaction holds them */
        return SL_TXN_OK;
}

static enum sl_txn_status k_abort(void *ctx)
{
        struct krun *r = ctx;
        r->ntxn_ts = 0;
        if (!r->eos)
                return SL_TXN_OK;
        enum sl_txn_status s = classify(r, rd_kafka_abort_transaction(r->producer, 60000));
        if (s == SL_TXN_OK)
                txn_logf(r, "abort");
        return s;
}

static void k_backoff(void *ctx, uint32_t attempt)
{
        struct krun *r = ctx;
        rd_kafka_poll(r->producer, attempt < 10 ? 10 * (int)attempt : 100);
}

static const char *k_error(void *ctx)
{
        return ((struct krun *)ctx)->kerr;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        struct krun *r = opaque;
        if (m->err) {
                r->dr_failed++;
                snprintf(r->kerr, sizeof r->kerr, "delivery to %s: %s",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                return;
        }
        if (!r->eos) {
                /* opaque: CreateTime (ms) << 22 | received - CreateTime (us, < 4.2 s) */
                uint64_t o = (uint64_t)(uintptr_t)m->_private;
                int64_t cause = (int64_t)(o >> 22);
                lat_add(r, wall_us(), (o & 0x3fffff) != 0x3fffff
                                ? cause * 1000 + (int64_t)(o & 0x3fffff) : 0, cause);
        }
}

/* ---- commits, rewinds, rebalances ------------------------------------- */


/*
 * The newest valid snapshot of a partition at or below its committed
 * offset: its payload (malloc'd) and offset, or NULL when there is none
 * (then the partition is replayed from its start).
 */
static void *find_snapshot(struct krun *r, uint32_t topic, int32_t partition,
                           int64_t committed, struct sl_part *probe, int64_t *offset,
                           size_t *len)
{
        if (!r->ckpt_dir || committed <= 0)
                return NULL;
        struct sl_snap_meta m;
        void *payload = NULL;
        int rc = sl_ckpt_load(r->ckpt_dir, topic_name(r, topic), partition, committed,
                              r->plan->hash, &m, &payload, ckpt_warn, r);
        if (rc != 0)
                return NULL;
        /* Check it loads (into the partition about to be reset anyway). */
        if (probe && sl_part_load(probe, payload, m.payload_len) != 0) {
                fprintf(stderr, "sluice: warning: snapshot of %s[%d] at offset %" PRId64
                                " does not fit this pipeline; replaying from the start\n",
                        topic_name(r, topic), partition, m.offset);
                free(payload);
                return NULL;
        }
        *offset = m.offset;
        if (len)
                *len = m.payload_len;
        r->ckpt_restored++;
        return payload;
}

/* Where a partition's input starts again: its snapshot's offset, or the
 * beginning (replay), or the committed offset (state.recovery none). */
static int64_t start_offset(const struct krun *r, const struct kpart *kp, int64_t committed)
{
        if (kp->snap_offset >= 0)
                return kp->snap_offset;
        return r->replay || committed < 0 ? RD_KAFKA_OFFSET_BEGINNING : committed;
}

/* Seeks every partition of l.  A seek waits for the fetcher of each
 * partition's broker; a busy or restarting broker can make it time out, so
 * a timed-out or retriable seek (or a partition's own error) is retried,
 * seeking again being harmless, up to 6 times (about a minute) before the
 * failure is reported as what. */
static int seek_list(struct krun *r, rd_kafka_topic_partition_list_t *l, const char *what)
{
        for (int attempt = 1;; attempt++) {
                for (int i = 0; i < l->cnt; i++)
                        l->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
                rd_kafka_error_t *e = l->cnt ? rd_kafka_seek_partitions(r->consumer, l, 10000) : NULL;
                rd_kafka_resp_err_t pe = RD_KAFKA_RESP_ERR_NO_ERROR;
                for (int i = 0; !e && i < l->cnt && !pe; i++)
                        pe = l->elems[i].err;
                if (!e && !pe)
                        return 0;
                const char *why = e ? rd_kafka_error_string(e) : rd_kafka_err2str(pe);
                bool retry = e ? rd_kafka_error_is_retriable(e) ||
                                         rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT
                               : true;
                if (!retry || attempt == 6) {
                        errf(r, "%s: %s", what, why);
                        if (e)
                                rd_kafka_error_destroy(e);
                        return -EIO;
                }
                fprintf(stderr, "sluice: warning: %s: %s; trying again (%d of 5)\n", what, why,
                        attempt);
                if (e)
                        rd_kafka_error_destroy(e);
        }
}

static int seek_all(struct krun *r)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->c.nparts);
        for (uint32_t i = 0; i < r->c.nparts; i++) {
                const struct sl_cpart *p = &r->c.parts[i];
                struct kpart *kp = r->map[p->src].p[p->partition];
                rd_kafka_topic_partition_list_add(l, topic_name(r, p->src),
                        p->partition)->offset = start_offset(r, kp, p->committed);
        }
        int rc = seek_list(r, l, "rewinding the input after an aborted transaction");
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* After an aborted transaction: every partition back to its committed
 * offset, its state rebuilt by replay; rows still queued are dropped. */
static int rewind_all(struct krun *r)
{
        fprintf(stderr, "sluice: transaction aborted (%s); rewinding %u partitions to "
                        "their committed offsets\n", r->c.err, r->c.nparts);
        r->discard = true;
        r->rewinds++;
        sl_committer_rewind(&r->c);
        int rc = 0;
        for (uint32_t s = 0; s < r->ntopics && rc == 0; s++)
                for (uint32_t p = 0; p < r->map[s].n && rc == 0; p++) {
                        struct kpart *kp = r->map[s].p[p];
                        if (!kp)
                                continue;
                        int i = sl_committer_find(&r->c, s, (int32_t)p);
                        int64_t committed = i >= 0 ? r->c.parts[i].committed : -1;
                        int64_t so = -1;
                        size_t slen = 0;
                        void *snap = find_snapshot(r, s, (int32_t)p, committed, NULL, &so, &slen);
                        kp->snap_offset = snap ? so : -1;
                        rc = push_control_payload(r, &r->w[kp->worker], KB_RESET, kp->part,
                                                  r->replay && committed > 0 ? committed : 0,
                                                  snap, slen);
                        kp->last = -1;
                        kp->next = -1;
                        kp->eof = false;
                }
        if (rc == 0)
                rc = cut_and_drain(r, false); /* drops rows made before the resets */
        if (rc == 0)
                rc = seek_all(r);
        r->discard = false;
        return rc;
}

static int commit(struct krun *r, bool flush)
{
        sl_committer_cut(&r->c);
        int rc = cut_and_drain(r, flush);
        if (rc)
                return rc;
        uint64_t t0 = mono_ns();
        enum sl_txn_status s = r->discard ? SL_TXN_ABORT : sl_committer_commit(&r->c);
        SL_PROBE4(txn_commit, r->c.stats.txns, r->c.stats.rows, (mono_ns() - t0) / 1000, (int)s);
        if (s == SL_TXN_OK)
                return 0;
        if (s == SL_TXN_FATAL) {
                r->fatal = 1;
                errf(r, "Kafka reported a fatal error, stopping: %s (another instance with "
                        "the same transactional.id took over, or the producer was fenced)",
                     r->c.err);
                return -ENOTRECOVERABLE;
        }
        return rewind_all(r);
}

/* The topic id of a topic we read, or -1. */
static int source_of(const struct krun *r, const char *topic)
{
        for (uint32_t s = 0; s < r->plan->nsources; s++)
                if (r->plan->sources[s].topic && strcmp(r->plan->sources[s].topic, topic) == 0 &&
                    r->plan->sources[s].nqueries)
                        return (int)s;
        for (uint32_t q = 0; q < r->plan->nqueries; q++)
                if (r->rep[q] && strcmp(r->rep_topic[q], topic) == 0)
                        return (int)(r->plan->nsources + q);
        return -1;
}

static struct kpart **slot(struct krun *r, uint32_t s, int32_t p)
{
        struct kpart_map *m = &r->map[s];
        if ((uint32_t)p >= m->n) {
                uint32_t n = (uint32_t)p + 1;
                struct kpart **np = realloc(m->p, n * sizeof *np);
                if (!np)
                        return NULL;
                memset(np + m->n, 0, (n - m->n) * sizeof *np);
                m->p = np;
                m->n = n;
        }
        return &m->p[p];
}

/* Source partitions send repartitioned queries' records on; a repartition
 * topic's partitions run that one query. */
static int set_modes(struct krun *r, struct sl_part *pt, uint32_t topic)
{
        uint8_t *m = calloc(r->plan->nqueries, 1);
        if (!m)
                return -ENOMEM;
        bool stage2 = topic >= r->plan->nsources;
        for (uint32_t q = 0; q < r->plan->nqueries; q++) {
                if (stage2)
                        m[q] = q == topic - r->plan->nsources ? SL_PART_RUN : SL_PART_SKIP;
                else if (r->plan->queries[q].source == topic)
                        m[q] = r->rep[q] ? SL_PART_REPARTITION : SL_PART_RUN;
        }
        int rc = sl_part_set_modes(pt, m, stage2);
        free(m);
        return rc;
}

static int on_assign(struct krun *r, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_resp_err_t e = rd_kafka_committed(r->consumer, parts, 30000);
        if (e) {
                errf(r, "reading committed offsets: %s", rd_kafka_err2str(e));
                return -EIO;
        }
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int s = source_of(r, tp->topic);
                if (s < 0)
                        continue;
                int64_t committed = tp->offset >= 0 ? tp->offset : -1;
                if (r->txn_log) {
                        int64_t lo = logged_offset(r, tp->topic, tp->partition);
                        if (lo > committed)
                                committed = lo;
                }
                struct kpart **sl = slot(r, (uint32_t)s, tp->partition);
                if (!sl)
                        return -ENOMEM;
                uint32_t wi = 0;
                for (uint32_t k = 1; k < r->nw; k++)
                        if (r->w[k].owned < r->w[wi].owned)
                                wi = k;
                struct kworker *w = &r->w[wi];
                struct kpart *kp = calloc(1, sizeof *kp);
                if (!kp)
                        return -ENOMEM;
                uint32_t stream = (uint32_t)s < r->plan->nsources ? (uint32_t)s
                                : r->plan->queries[s - r->plan->nsources].source;
                kp->part = sl_part_new(r->plan, stream, tp->partition, &w->oq);
                if (!kp->part) {
                        free(kp);
                        return -ENOMEM;
                }
                if (r->any_rep && set_modes(r, kp->part, (uint32_t)s) != 0) {
                        sl_part_destroy(kp->part);
                        free(kp);
                        return -ENOMEM;
                }
                kp->topic = (uint32_t)s;
                kp->worker = wi;
                kp->last = -1;
                kp->next = -1;
                *sl = kp;
                sl_part_set_tag(kp->part, (uint32_t)s);
                sl_part_set_limits(kp->part, r->max_record, r->dlq_rkt ? r->dlq_max : 0);
                int rc = sl_part_reset(kp->part, r->replay && committed > 0 ? committed : 0);
                kp->snap_offset = -1;
                void *snap = rc == 0 ? find_snapshot(r, (uint32_t)s, tp->partition, committed,
                                                     kp->part, &kp->snap_offset, NULL) : NULL;
                if (snap) {
                        free(snap); /* loaded into the partition by the probe */
                } else if (rc == 0 && r->ckpt_dir) {
                        kp->snap_offset = -1;
                        rc = sl_part_reset(kp->part, r->replay && committed > 0 ? committed : 0);
                }
                if (rc == 0 && sl_committer_assign(&r->c, (uint32_t)s, tp->partition, committed) < 0)
                        rc = -ENOMEM;
                if (rc == 0)
                        rc = push_control(r, w, KB_ASSIGN, kp->part, 0);
                if (rc)
                        return rc;
                w->owned++;
                r->assigned++;
                tp->offset = start_offset(r, kp, committed);
                kp->live_at = committed > 0 ? committed : 0;
                kp->live = kp->live_at == 0 || kp->snap_offset >= kp->live_at ||
                           (!r->replay && kp->snap_offset < 0);
                if (!kp->live) {
                        r->assigned_at = now_s();
                        r->live_reported = false;
                }
        }
        return 0;
}

static int on_revoke(struct krun *r, rd_kafka_topic_partition_list_t *parts)
{
        /* Finish the open transaction: it covers these partitions too. */
        int rc = commit(r, false);
        for (int i = 0; i < parts->cnt && rc != -ENOTRECOVERABLE; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int s = source_of(r, tp->topic);
                if (s < 0 || (uint32_t)tp->partition >= r->map[s].n)
                        continue;
                struct kpart *kp = r->map[s].p[tp->partition];
                if (!kp)
                        continue;
                int prc = push_control(r, &r->w[kp->worker], KB_REVOKE, kp->part, 0);
                if (prc && !rc)
                        rc = prc;
                r->w[kp->worker].owned--;
                r->assigned--;
                sl_committer_revoke(&r->c, (uint32_t)s, tp->partition);
                free(kp);
                r->map[s].p[tp->partition] = NULL;
        }
        return rc;
}

static void log_parts(const char *what, const rd_kafka_topic_partition_list_t *parts)
{
        char line[1024];
        size_t n = 0;
        for (int i = 0; i < parts->cnt && n < sizeof line - 64; i++)
                n += (size_t)snprintf(line + n, sizeof line - n, "%s%s[%d]", i ? " " : "",
                                      parts->elems[i].topic, parts->elems[i].partition);
        fprintf(stderr, "sluice: %s %s\n", what, n ? line : "nothing");
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        struct krun *r = opaque;
        if (!r->opts->quiet)
                log_parts(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked",
                          parts);
        bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
        int rc;
        rd_kafka_error_t *e = NULL;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                rc = on_assign(r, parts);
                if (coop)
                        e = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
                if (r->paused) /* the state is full: these wait too */
                        rd_kafka_pause_partitions(rk, parts);
        } else {
                rc = on_revoke(r, parts);
                if (coop)
                        e = rd_kafka_incremental_unassign(rk, parts);
                else
                        rd_kafka_assign(rk, NULL);
        }
        if (e) {
                fprintf(stderr, "sluice: rebalance: %s\n", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        }
        if (rc && !r->rc) {
                r->rc = rc;
                atomic_store_explicit(&r->stop, true, memory_order_relaxed);
        }
}

/* ---- the consume loop ------------------------------------------------- */

static bool all_eof(const struct krun *r)
{
        if (r->assigned == 0)
                return false;
        for (uint32_t s = 0; s < r->plan->nsources; s++)
                for (uint32_t p = 0; p < r->map[s].n; p++)
                        if (r->map[s].p[p] && !r->map[s].p[p]->eof)
                                return false;
        return true;
}

/* Bounded and repartitioning: stage 1 is committed; has stage 2 read every
 * repartition partition up to the end it had then? */
static bool stage2_done(struct krun *r)
{
        for (uint32_t s = r->plan->nsources; s < r->ntopics; s++)
                for (uint32_t p = 0; p < r->map[s].n; p++) {
                        struct kpart *kp = r->map[s].p[p];
                        if (!kp)
                                continue;
                        int i = sl_committer_find(&r->c, s, (int32_t)p);
                        if (i >= 0 && r->c.parts[i].pushed < kp->target)
                                return false;
                }
        return true;
}

static int stage2_targets(struct krun *r)
{
        for (uint32_t s = r->plan->nsources; s < r->ntopics; s++)
                for (uint32_t p = 0; p < r->map[s].n; p++) {
                        struct kpart *kp = r->map[s].p[p];
                        int64_t lo, hi;
                        if (!kp)
                                continue;
                        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                                r->consumer, topic_name(r, s), (int32_t)p, &lo, &hi, 10000);
                        if (e) {
                                errf(r, "end of %s[%u]: %s", topic_name(r, s), p, rd_kafka_err2str(e));
                                return -EIO;
                        }
                        kp->target = hi;
                }
        return 0;
}

static int hand_over(struct krun *r, rd_kafka_message_t **msgs, ssize_t n)
{
        struct kpart *touched[KBATCH_MSGS];
        uint32_t ntouched = 0;
        int rc = 0;
        const rd_kafka_topic_t *last_rkt = NULL;
        int last_src = -1;
        int64_t rx = wall_us();
        for (ssize_t i = 0; i < n; i++) {
                rd_kafka_message_t *m = msgs[i];
                if (m->err) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                int s = source_of(r, rd_kafka_topic_name(m->rkt));
                                if (s >= 0 && (uint32_t)m->partition < r->map[s].n &&
                                    r->map[s].p[m->partition])
                                        r->map[s].p[m->partition]->eof = true;
                        } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                                errf(r, "consumer: %s", rd_kafka_message_errstr(m));
                                rc = -ENOTRECOVERABLE;
                        } else {
                                fprintf(stderr, "sluice: consumer: %s\n", rd_kafka_message_errstr(m));
                        }
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->rkt != last_rkt) {
                        last_rkt = m->rkt;
                        last_src = source_of(r, rd_kafka_topic_name(m->rkt));
                }
                struct kpart *kp = last_src >= 0 && (uint32_t)m->partition < r->map[last_src].n
                                 ? r->map[last_src].p[m->partition] : NULL;
                if (!kp || rc) {
                        rd_kafka_message_destroy(m); /* no longer ours */
                        continue;
                }
                if (r->paused) {
                        /* Fetched before the pause: read again on resume. */
                        r->held = true;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                struct kworker *w = &r->w[kp->worker];
                if (!w->cur) {
                        w->cur = malloc(sizeof *w->cur + KBATCH_MSGS * sizeof(struct kent));
                        if (!w->cur) {
                                rd_kafka_message_destroy(m);
                                rc = -ENOMEM;
                                continue;
                        }
                        *w->cur = (struct kbatch){.kind = KB_MSGS, .rx_us = rx};
                }
                w->cur->e[w->cur->n++] = (struct kent){.part = kp->part, .m = m};
                if (kp->last < 0)
                        touched[ntouched++] = kp;
                kp->last = m->offset;
                kp->next = m->offset + 1;
                kp->eof = false;
                if (!kp->live) {
                        if (m->offset + 1 >= kp->live_at)
                                kp->live = true;
                        else
                                r->replayed++;
                }
                r->consumed++;
                if (r->consumed == 1) {
                        r->first_in = now_s();
                        r->lat_from = r->lat_warmup ? wall_ms() + r->lat_warmup : INT64_MIN;
                }
                if (w->cur->n == KBATCH_MSGS && (rc = flush_pending(r, w)) != 0)
                        continue;
        }
        if (ntouched)
                r->last_in = now_s();
        if (!r->live_reported && r->assigned_at > 0 && ntouched) {
                bool all = true;
                for (uint32_t s = 0; s < r->ntopics && all; s++)
                        for (uint32_t p = 0; p < r->map[s].n && all; p++)
                                if (r->map[s].p[p] && !r->map[s].p[p]->live)
                                        all = false;
                if (all) {
                        r->live_reported = true;
                        if (!r->opts->quiet)
                                fprintf(stderr, "sluice: live %.3f s after the assignment "
                                                "(%" PRIu64 " records replayed, %" PRIu64
                                                " partitions restored from snapshots)\n",
                                        now_s() - r->assigned_at, r->replayed, r->ckpt_restored);
                }
        }
        for (uint32_t i = 0; i < ntouched; i++) {
                struct kpart *kp = touched[i];
                int ci = sl_committer_find(&r->c, kp->topic, sl_part_partition(kp->part));
                if (ci >= 0)
                        sl_committer_pushed(&r->c, (uint32_t)ci, kp->last);
                kp->last = -1;
        }
        for (uint32_t i = 0; i < r->nw && rc == 0; i++)
                rc = flush_pending(r, &r->w[i]);
        return rc;
}

static uint64_t lag(struct krun *r)
{
        uint64_t total = 0;
        for (uint32_t i = 0; i < r->c.nparts; i++) {
                const struct sl_cpart *p = &r->c.parts[i];
                int64_t lo, hi;
                if (rd_kafka_get_watermark_offsets(r->consumer, r->plan->sources[p->src].topic,
                                                   p->partition, &lo, &hi) == 0 && hi > p->pushed)
                        total += (uint64_t)(hi - p->pushed);
        }
        return total;
}

static void status_line(struct krun *r, double t)
{
        double dt = t - r->last_status;
        uint64_t keys = 0;
        for (uint32_t i = 0; i < r->nw; i++)
                keys += atomic_load_explicit(&r->w[i].keys, memory_order_relaxed);
        fprintf(stderr, "\r\033[Ksluice: in %.0f ev/s  out %.0f rows/s  lag %" PRIu64
                "  keys %" PRIu64 "  txn %.1f/s  partitions %u",
                (double)(r->consumed - r->st_consumed) / dt,
                (double)(r->produced - r->st_produced) / dt, lag(r), keys,
                (double)(r->c.stats.txns - r->st_txns) / dt, r->assigned);
        if (r->paused)
                fputs("  PAUSED: state.max.bytes", stderr);
        fflush(stderr);
        r->st_consumed = r->consumed;
        r->st_produced = r->produced;
        r->st_txns = r->c.stats.txns;
        r->last_status = t;
}

static void pause_all(struct krun *r, bool pause)
{
        rd_kafka_topic_partition_list_t *l = NULL;
        if (rd_kafka_assignment(r->consumer, &l) == 0 && l) {
                if (pause)
                        rd_kafka_pause_partitions(r->consumer, l);
                else
                        rd_kafka_resume_partitions(r->consumer, l);
        }
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
}

/* After a pause: every partition back to the record after the last one
 * handed over (messages fetched during the pause were dropped). */
static int seek_held(struct krun *r)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->c.nparts);
        for (uint32_t i = 0; i < r->c.nparts; i++) {
                const struct sl_cpart *p = &r->c.parts[i];
                struct kpart *kp = r->map[p->src].p[p->partition];
                rd_kafka_topic_partition_list_add(l, topic_name(r, p->src), p->partition)->offset =
                        kp->next >= 0 ? kp->next : start_offset(r, kp, p->committed);
        }
        int rc = seek_list(r, l, "resuming the input after a pause");
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

static void human_bytes(char *out, size_t n, uint64_t b)
{
        if (b >= (1u << 30))
                snprintf(out, n, "%.1f GiB", (double)b / (1u << 30));
        else
                snprintf(out, n, "%.1f MiB", (double)b / (1u << 20));
}

/*
 * state.max.bytes: at the limit, sluice stops consuming (the input waits in
 * Kafka: back-pressure) and says so; it resumes below 90% of the limit (a
 * rebalance that takes partitions away frees their state).  Windows close
 * with stream time, which only input advances: if the state is still over
 * the limit after state.full.timeout.ms, sluice commits what it processed
 * and stops with -ENOSPC rather than evict state or wait forever.
 */
static int check_state(struct krun *r, double t)
{
        uint64_t bytes = 0, keys = 0;
        for (uint32_t i = 0; i < r->nw; i++) {
                bytes += atomic_load_explicit(&r->w[i].state_bytes, memory_order_relaxed);
                keys += atomic_load_explicit(&r->w[i].keys, memory_order_relaxed);
        }
        char have[32], max[32];
        human_bytes(have, sizeof have, bytes);
        human_bytes(max, sizeof max, (uint64_t)r->state_max);
        if (!r->paused && bytes >= (uint64_t)r->state_max) {
                r->paused = true;
                r->paused_at = t;
                pause_all(r, true);
                fprintf(stderr, "sluice: warning: state.max.bytes reached: %s in %" PRIu64
                                " keys (limit %s); consumption paused until the state shrinks\n",
                        have, keys, max);
        } else if (r->paused && bytes < (uint64_t)r->state_max / 10 * 9) {
                r->paused = false;
                pause_all(r, false);
                if (r->held) {
                        r->held = false;
                        int rc = seek_held(r);
                        if (rc)
                                return rc;
                }
                fprintf(stderr, "sluice: state down to %s: consumption resumed\n", have);
        } else if (r->paused && (t - r->paused_at) * 1000 >= (double)r->state_full_ms) {
                int rc = commit(r, false);
                errf(r, "state.max.bytes reached: the state holds %s in %" PRIu64 " keys "
                        "(limit %s) and did not shrink within state.full.timeout.ms (%" PRId64
                        " ms); what was processed is committed. Raise state.max.bytes, "
                        "shorten the windows or their grace, or run more instances (each "
                        "holds the state of its partitions only)",
                     have, keys, max, r->state_full_ms);
                return rc ? rc : -ENOSPC;
        }
        return 0;
}

static int poll_tables(struct krun *r);

static int consume_loop(struct krun *r)
{
        rd_kafka_message_t *msgs[KBATCH_MSGS];
        double next_commit = now_s() + (double)r->commit_ms / 1000;
        double next_ckpt = now_s() + (double)r->ckpt_ms / 1000;
        r->last_status = now_s();
        int rc = 0;
        while (rc == 0) {
                if (r->opts->stop && *r->opts->stop)
                        break;
                if (atomic_load_explicit(&r->stop, memory_order_relaxed)) {
                        rc = r->rc ? r->rc : -ECANCELED;
                        break;
                }
                /* The batch call waits for a full batch or the timeout: keep
                 * the timeout short, it bounds the latency this loop adds. */
                /* Table updates first: they reach each worker before the
                 * stream records fetched in the same turn. */
                rc = poll_tables(r);
                ssize_t n = rc ? 0 : rd_kafka_consume_batch_queue(r->cq, 1, msgs, KBATCH_MSGS);
                if (n > 0)
                        rc = hand_over(r, msgs, n);
                if (rc == 0 && r->rc)
                        rc = r->rc;
                if (rc == 0 && r->opts->max_records && r->consumed >= r->opts->max_records)
                        break;
                if (rc == 0)
                        rc = drain_all(r);
                rd_kafka_poll(r->producer, 0);
                double t = now_s();
                if (rc == 0 && r->state_max)
                        rc = check_state(r, t);
                if (rc == 0 && r->opts->bounded && all_eof(r)) {
                        /* A commit that aborted rewound every partition: read
                         * to the end again before the last commit. */
                        uint64_t rewinds = r->rewinds;
                        if (!r->any_rep || (r->bounded_phase && stage2_done(r))) {
                                rc = commit(r, true);
                                if (rc || r->rewinds == rewinds)
                                        break;
                                continue;
                        }
                        if (!r->bounded_phase) {
                                /* Every record of stage 1 is in the repartition
                                 * topics once this commits; then read them to
                                 * their end. */
                                rc = commit(r, false);
                                if (rc == 0 && r->rewinds == rewinds) {
                                        rc = stage2_targets(r);
                                        r->bounded_phase = 1;
                                }
                        }
                }
                if (rc == 0 && t >= next_commit) {
                        rc = commit(r, false);
                        /* A fixed cadence: a row waits at most one interval
                         * for its cut, whatever the commit took. */
                        next_commit += (double)r->commit_ms / 1000;
                        if (next_commit < now_s())
                                next_commit = now_s() + (double)r->commit_ms / 1000;
                }
                if (rc == 0 && r->writer && t >= next_ckpt) {
                        /* Every worker copies its partitions' state between
                         * two records; the writer thread writes them. */
                        poll_checkpoints(r, true);
                        for (uint32_t i = 0; i < r->nw && rc == 0; i++)
                                rc = push_control(r, &r->w[i], KB_SNAPSHOT, NULL, 0);
                        next_ckpt = now_s() + (double)r->ckpt_ms / 1000;
                } else if (r->writer) {
                        poll_checkpoints(r, false);
                }
                if (r->opts->status && t - r->last_status >= 1.0)
                        status_line(r, t);
        }
        if (r->opts->status)
                fputs("\n", stderr);
        return rc;
}

/* ---- setup ------------------------------------------------------------ */

static int conf_set(struct krun *r, rd_kafka_conf_t *c, const char *k, const char *v)
{
        char e[256];
        if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
                errf(r, "property '%s' = '%s': %s", k, v, e);
                return -EINVAL;
        }
        return 0;
}

/* Settings in order: sluice's defaults, SET in the script, --set. */
static int apply_user(struct krun *r, rd_kafka_conf_t *c)
{
        for (uint32_t i = 0; i < r->plan->nsettings; i++) {
                const struct sl_setting *s = &r->plan->settings[i];
                if (!sl_kafka_own_setting(s->key) && conf_set(r, c, s->key, s->value))
                        return -EINVAL;
        }
        for (unsigned i = 0; i < r->opts->nsettings; i++) {
                const char *kv = r->opts->settings[i];
                const char *eq = strchr(kv, '=');
                char k[256];
                size_t kl = eq ? (size_t)(eq - kv) : 0;
                if (!eq || kl == 0 || kl >= sizeof k) {
                        errf(r, "--set '%s': expected name=value", kv);
                        return -EINVAL;
                }
                memcpy(k, kv, kl);
                k[kl] = 0;
                if (!sl_kafka_own_setting(k) && conf_set(r, c, k, eq + 1))
                        return -EINVAL;
        }
        return 0;
}

/* A sluice property: --set wins over SET. */
static const char *own(const struct krun *r, const char *name)
{
        const char *v = sl_plan_setting(r->plan, name);
        size_t n = strlen(name);
        for (unsigned i = 0; i < r->opts->nsettings; i++)
                if (strncmp(r->opts->settings[i], name, n) == 0 && r->opts->settings[i][n] == '=')
                        v = r->opts->settings[i] + n + 1;
        return v;
}

/* A sluice property counted in `unit`, def when absent; -EINVAL (with the
 * message) when it is not a whole number in [lo, hi]. */
static int own_num(struct krun *r, const char *name, const char *unit, int64_t def,
                   int64_t lo, int64_t hi, int64_t *out)
{
        const char *v = own(r, name);
        *out = def;
        if (!v)
                return 0;
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x < lo || x > hi) {
                errf(r, "%s '%s': expected %s, %" PRId64 " to %" PRId64, name, v, unit, lo, hi);
                return -EINVAL;
        }
        *out = x;
        return 0;
}

static int read_settings(struct krun *r)
{
        const char *g = r->opts->group ? r->opts->group : own(r, "application.id");
        if (g)
                snprintf(r->group, sizeof r->group, "%s", g);
        else {
                const char *base = strrchr(r->plan->file, '/');
                base = base ? base + 1 : r->plan->file;
                snprintf(r->group, sizeof r->group, "%.*s", (int)strcspn(base, "."), base);
        }
        const char *pg = own(r, "processing.guarantee");
        if (!pg || strcmp(pg, "exactly_once_v2") == 0 || strcmp(pg, "exactly_once") == 0)
                r->eos = true;
        else if (strcmp(pg, "at_least_once") == 0)
                r->eos = false;
        else {
                errf(r, "processing.guarantee '%s': expected exactly_once_v2 or at_least_once", pg);
                return -EINVAL;
        }
        if (own_num(r, "commit.interval.ms", "milliseconds", 100, 1, 3600000, &r->commit_ms) ||
            own_num(r, "checkpoint.interval.ms", "milliseconds", 10000, 10, 86400000, &r->ckpt_ms) ||
            own_num(r, "sluice.latency.warmup.ms", "milliseconds", 0, 0, 86400000, &r->lat_warmup))
                return -EINVAL;
        const char *rec = own(r, "state.recovery");
        r->replay = !rec || strcmp(rec, "replay") == 0;
        if (rec && !r->replay && strcmp(rec, "none") != 0) {
                errf(r, "state.recovery '%s': expected replay or none", rec);
                return -EINVAL;
        }
        const char *pc = own(r, "sluice.commit.plain");
        r->plain_commit = pc && strcmp(pc, "true") == 0;
        r->ckpt_dir = r->opts->checkpoint_dir ? r->opts->checkpoint_dir : own(r, "state.dir");
        r->lat_from = INT64_MIN;
        int64_t mr, dm;
        if (own_num(r, "max.record.bytes", "bytes", 16 << 20, 0, INT32_MAX, &mr) ||
            own_num(r, "dlq.value.max.bytes", "bytes", 1000000, 1, INT32_MAX, &dm))
                return -EINVAL;
        if (own_num(r, "state.max.bytes", "bytes", 0, 0, INT64_MAX, &r->state_max) ||
            own_num(r, "state.full.timeout.ms", "milliseconds", 60000, 0, 86400000,
                    &r->state_full_ms))
                return -EINVAL;
        r->max_record = (size_t)mr;
        r->dlq_max = (size_t)dm;
        r->dlq_topic = own(r, "dlq.topic");
        if (r->dlq_topic && !*r->dlq_topic) {
                errf(r, "dlq.topic '': expected a topic name");
                return -EINVAL;
        }
        const char *tl = own(r, "sluice.txn.log");
        if (tl && !(r->txn_log = fopen(tl, "a"))) {
                errf(r, "sluice.txn.log '%s': %s", tl, strerror(errno));
                return -EINVAL;
        }
        return 0;
}

/* A GROUP BY that does not hold every KEY column of its source cannot be
 * computed per input partition: its records go through a repartition topic,
 * keyed by the group key, as in Kafka Streams. */
static int plan_repartitions(struct krun *r)
{
        const struct sl_plan *p = r->plan;
        r->ntopics = p->nsources + p->nqueries;
        r->rep = calloc(p->nqueries, sizeof *r->rep);
        r->rep_topic = calloc(p->nqueries, sizeof *r->rep_topic);
        r->rep_rkt = calloc(p->nqueries, sizeof *r->rep_rkt);
        if (!r->rep || !r->rep_topic || !r->rep_rkt)
                return -ENOMEM;
        for (uint32_t qi = 0; qi < p->nqueries; qi++) {
                const struct sl_query *q = &p->queries[qi];
                const struct sl_source *src = &p->sources[q->source];
                if (q->kind != SL_Q_AGGREGATE)
                        continue;
                bool has_key = false, covered = true;
                for (uint32_t c = 0; c < src->ncols; c++) {
                        if (!src->cols[c].key)
                                continue;
                        has_key = true;
                        bool in = false;
                        for (uint32_t g = 0; g < q->ngroup; g++)
                                in |= q->group_cols[g] == c;
                        covered &= in;
                }
                if (has_key && covered)
                        continue;
                r->rep[qi] = true;
                r->any_rep = true;
                size_t n = strlen(r->group) + strlen(q->name) + 16;
                if (!(r->rep_topic[qi] = malloc(n)))
                        return -ENOMEM;
                snprintf(r->rep_topic[qi], n, "%s-%s-repartition", r->group, q->name);
        }
        r->topics = calloc(r->ntopics, sizeof *r->topics);
        if (!r->topics)
                return -ENOMEM;
        for (uint32_t t = 0; t < r->ntopics; t++)
                r->topics[t] = topic_name(r, t) ? topic_name(r, t) : "";
        return 0;
}

/* Checkpoints: refuse another pipeline's state (unless --reset-state), and
 * start the writer thread. */
static int start_checkpoints(struct krun *r)
{
        if (!r->ckpt_dir)
                return 0;
        char what[512];
        int m = sl_ckpt_hash_mismatch(r->ckpt_dir, r->plan->hash, what, sizeof what);
        if (m > 0 && !r->opts->reset_state) {
                errf(r, "%s holds the state of another pipeline (%s): the pipeline changed "
                        "since it was written; give --reset-state to discard that state and "
                        "start from the committed offsets by replay", r->ckpt_dir, what);
                return -EINVAL;
        }
        if (r->opts->reset_state) {
                int rc = sl_ckpt_reset(r->ckpt_dir);
                if (rc && rc != -ENOENT) {
                        errf(r, "--reset-state: clearing %s: %s", r->ckpt_dir, strerror(-rc));
                        return -EIO;
                }
        }
        int err = 0;
        r->writer = sl_ckpt_writer_new(r->ckpt_dir, ckpt_warn, r, &err);
        if (!r->writer) {
                errf(r, "checkpoint directory %s: %s", r->ckpt_dir, strerror(err ? -err : EIO));
                return -EINVAL;
        }
        return 0;
}

/* Completed snapshot writes: counters, and the files older than the
 * newest snapshot the committed offsets cover are removed. */
static void poll_checkpoints(struct krun *r, bool prune)
{
        struct sl_ckpt_done d[16];
        unsigned n;
        while (r->writer && (n = sl_ckpt_poll(r->writer, d, 16)) > 0)
                for (unsigned i = 0; i < n; i++) {
                        if (d[i].rc) {
                                r->ckpt_failed++;
                                fprintf(stderr, "sluice: warning: snapshot of %s[%d] at offset %"
                                                PRId64 " not written: %s\n", d[i].topic,
                                        d[i].partition, d[i].offset, strerror(-d[i].rc));
                                continue;
                        }
                        double ms = (double)d[i].write_ns / 1e6;
                        r->ckpt_published++;
                        r->ckpt_bytes += d[i].bytes;
                        r->ckpt_write_ms_sum += ms;
                        if (ms > r->ckpt_write_ms_max)
                                r->ckpt_write_ms_max = ms;
                }
        if (!prune || !r->ckpt_dir)
                return;
        for (uint32_t i = 0; i < r->c.nparts; i++) {
                const struct sl_cpart *p = &r->c.parts[i];
                if (p->committed > 0)
                        (void)sl_ckpt_writer_prune(r->writer, topic_name(r, p->src), p->partition,
                                                   p->committed);
        }
}

/* Repartition topics get the partition count of their source.  The mock
 * cannot create topics through the Admin API (KAFKA_MOCK.md): there the
 * first metadata request creates them, with 4 partitions. */
static void create_repartition_topics(struct krun *r)
{
        if (!r->any_rep)
                return;
        rd_kafka_NewTopic_t *nt[SL_MAX_AGGS * 4];
        int n = 0;
        char e[256];
        for (uint32_t q = 0; q < r->plan->nqueries && n < (int)(sizeof nt / sizeof *nt); q++) {
                if (!r->rep[q])
                        continue;
                int parts = 4;
                const struct rd_kafka_metadata *md;
                rd_kafka_topic_t *t = rd_kafka_topic_new(r->producer,
                        r->plan->sources[r->plan->queries[q].source].topic, NULL);
                if (t && rd_kafka_metadata(r->producer, 0, t, &md, 10000) == 0) {
                        if (md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
                                parts = md->topics[0].partition_cnt;
                        rd_kafka_metadata_destroy(md);
                }
                if (t)
                        rd_kafka_topic_destroy(t);
                if (r->mock) {
                        rd_kafka_mock_topic_create(r->mock, r->rep_topic[q], parts, 1);
                        continue;
                }
                nt[n] = rd_kafka_NewTopic_new(r->rep_topic[q], parts, -1, e, sizeof e);
                if (nt[n])
                        n++;
        }
        if (n == 0)
                return;
        rd_kafka_queue_t *rq = rd_kafka_queue_new(r->producer);
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(r->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(o, 3000, e, sizeof e);
        rd_kafka_CreateTopics(r->producer, nt, (size_t)n, o, rq);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(rq, 4000);
        const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (!res || rd_kafka_event_error(ev))
                fprintf(stderr, "sluice: warning: could not create the repartition topics (%s); "
                                "relying on the broker's automatic topic creation\n",
                        ev ? rd_kafka_event_error_string(ev) : "timed out");
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
        rd_kafka_queue_destroy(rq);
}

static int start_mock(struct krun *r)
{
        char e[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "log_level", "3", e, sizeof e);
        r->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
        if (!r->mock_rk) {
                errf(r, "starting the mock cluster: %s", e);
                return -EIO;
        }
        unsigned nb = r->opts->mock_brokers ? r->opts->mock_brokers : 3;
        unsigned np = r->opts->mock_partitions ? r->opts->mock_partitions : 4;
        r->mock = rd_kafka_mock_cluster_new(r->mock_rk, (int)nb);
        if (!r->mock) {
                errf(r, "starting the mock cluster failed");
                return -EIO;
        }
        for (uint32_t s = 0; s < r->plan->nsources; s++)
                if (r->plan->sources[s].topic)
                        rd_kafka_mock_topic_create(r->mock, r->plan->sources[s].topic, (int)np, 1);
        for (uint32_t q = 0; q < r->plan->nqueries; q++)
                rd_kafka_mock_topic_create(r->mock, r->plan->queries[q].topic, (int)np, 1);
        r->bootstrap = rd_kafka_mock_cluster_bootstraps(r->mock);
        r->plain_commit = true;
        return 0;
}

static int make_clients(struct krun *r)
{
        char e[512];
        int rc;
        rd_kafka_conf_t *cc = rd_kafka_conf_new();
        if ((rc = conf_set(r, cc, "bootstrap.servers", r->bootstrap)) ||
            (rc = conf_set(r, cc, "group.id", r->group)) ||
            (rc = conf_set(r, cc, "partition.assignment.strategy", "cooperative-sticky")) ||
            (rc = conf_set(r, cc, "isolation.level", "read_committed")) ||
            (rc = conf_set(r, cc, "enable.auto.commit", "false")) ||
            (rc = conf_set(r, cc, "auto.offset.reset", "earliest")) ||
            (rc = conf_set(r, cc, "session.timeout.ms", "6000")) ||
            (rc = conf_set(r, cc, "queued.min.messages", "200000")) ||
            (rc = conf_set(r, cc, "fetch.wait.max.ms", "10")) ||
            (rc = conf_set(r, cc, "enable.partition.eof", r->opts->bounded ? "true" : "false")) ||
            (rc = apply_user(r, cc))) {
                rd_kafka_conf_destroy(cc);
                return rc;
        }
        rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
        rd_kafka_conf_set_opaque(cc, r);
        r->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
        if (!r->consumer) {
                errf(r, "consumer: %s", e);
                return -EINVAL;
        }
        rd_kafka_poll_set_consumer(r->consumer);
        r->cq = rd_kafka_queue_get_consumer(r->consumer);

        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        const char *tid = own(r, "transactional.id");
        if (tid)
                snprintf(r->txid, sizeof r->txid, "%s", tid);
        else
                snprintf(r->txid, sizeof r->txid, "%s-%s-%d-%" PRId64, r->group, host,
                         (int)getpid(), wall_ms());
        snprintf(r->instance, sizeof r->instance, "%.400s#%d-%" PRId64, r->txid, (int)getpid(),
                 wall_ms());
        if ((rc = conf_set(r, pc, "bootstrap.servers", r->bootstrap)) ||
            (rc = conf_set(r, pc, "linger.ms", "5")) ||
            (rc = conf_set(r, pc, "batch.num.messages", "10000")) ||
            (rc = conf_set(r, pc, "queue.buffering.max.messages", "1000000")) ||
            (rc = conf_set(r, pc, "partitioner", "murmur2_random")) ||
            (rc = conf_set(r, pc, "enable.idempotence", "true")) ||
            (r->eos && (rc = conf_set(r, pc, "transactional.id", r->txid))) ||
            (r->eos && (rc = conf_set(r, pc, "transaction.timeout.ms", "60000"))) ||
            (rc = apply_user(r, pc))) {
                rd_kafka_conf_destroy(pc);
                return rc;
        }
        rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
        rd_kafka_conf_set_opaque(pc, r);
        r->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
        if (!r->producer) {
                errf(r, "producer: %s", e);
                return -EINVAL;
        }
        r->out_rkt = calloc(r->plan->nqueries, sizeof *r->out_rkt);
        if (!r->out_rkt)
                return -ENOMEM;
        create_repartition_topics(r);
        if (r->dlq_topic) {
                r->dlq_rkt = rd_kafka_topic_new(r->producer, r->dlq_topic, NULL);
                const struct rd_kafka_metadata *md;
                if (r->dlq_rkt && rd_kafka_metadata(r->producer, 0, r->dlq_rkt, &md, 10000) == 0)
                        rd_kafka_metadata_destroy(md);
        }
        for (uint32_t q = 0; q < r->plan->nqueries; q++) {
                if (r->rep[q]) {
                        r->rep_rkt[q] = rd_kafka_topic_new(r->producer, r->rep_topic[q], NULL);
                        const struct rd_kafka_metadata *md;
                        if (rd_kafka_metadata(r->producer, 0, r->rep_rkt[q], &md, 10000) == 0)
                                rd_kafka_metadata_destroy(md);
                }
                r->out_rkt[q] = rd_kafka_topic_new(r->producer, r->plan->queries[q].topic, NULL);
                /* Metadata before the first produce (KAFKA_MOCK.md). */
                const struct rd_kafka_metadata *md;
                if (rd_kafka_metadata(r->producer, 0, r->out_rkt[q], &md, 10000) == 0)
                        rd_kafka_metadata_destroy(md);
        }
        if (r->eos) {
                rd_kafka_error_t *err = rd_kafka_init_transactions(r->producer, 30000);
                if (err) {
                        errf(r, "initialising transactions with %s: %s", r->bootstrap,
                             rd_kafka_error_string(err));
                        rd_kafka_error_destroy(err);
                        return -EIO;
                }
        }
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(4);
        for (uint32_t s = 0; s < r->plan->nsources; s++)
                if (r->plan->sources[s].nqueries)
                        rd_kafka_topic_partition_list_add(topics, r->plan->sources[s].topic,
                                                          RD_KAFKA_PARTITION_UA);
        for (uint32_t q = 0; q < r->plan->nqueries; q++)
                if (r->rep[q])
                        rd_kafka_topic_partition_list_add(topics, r->rep_topic[q],
                                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t se = rd_kafka_subscribe(r->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (se) {
                errf(r, "subscribing: %s", rd_kafka_err2str(se));
                return -EIO;
        }
        return 0;
}

/* ---- joined tables ---------------------------------------------------- */

/*
 * Hands table messages to every worker as one KB_TABLE payload each (see
 * table_records), in the rings' order: a worker applies them between the
 * stream batches that came before and after.  Sets *eof_parts for each
 * partition end seen.  Destroys the messages.
 */
static int hand_tables(struct krun *r, rd_kafka_message_t **msgs, ssize_t n,
                       uint32_t *eofs)
{
        struct sl_buf b = {0};
        int rc = 0;
        for (ssize_t i = 0; i < n; i++) {
                rd_kafka_message_t *m = msgs[i];
                if (m->err) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                ++*eofs;
                        else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                                errf(r, "table consumer: %s", rd_kafka_message_errstr(m));
                                rc = -ENOTRECOVERABLE;
                        } else
                                fprintf(stderr, "sluice: table consumer: %s\n", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                int s = -1;
                for (uint32_t k = 0; k < r->plan->nsources && s < 0; k++)
                        if (r->plan->sources[k].joined &&
                            strcmp(r->plan->sources[k].topic, rd_kafka_topic_name(m->rkt)) == 0)
                                s = (int)k;
                if (s >= 0 && m->key_len < UINT32_MAX / 2 && m->len < UINT32_MAX / 2) {
                        struct trec h = {.src = (uint32_t)s, .klen = (uint32_t)m->key_len,
                                         .vlen = m->payload ? (uint32_t)m->len : UINT32_MAX};
                        sl_buf_add(&b, &h, sizeof h);
                        if (m->key_len)
                                sl_buf_add(&b, m->key, m->key_len);
                        if (m->payload && m->len)
                                sl_buf_add(&b, m->payload, m->len);
                        r->table_msgs++;
                }
                rd_kafka_message_destroy(m);
        }
        if (!sl_buf_ok(&b))
                rc = -ENOMEM;
        for (uint32_t i = 0; i < r->nw && rc == 0 && b.len; i++) {
                void *copy = malloc(b.len);
                if (!copy) {
                        rc = -ENOMEM;
                        break;
                }
                memcpy(copy, b.p, b.len);
                rc = push_control_payload(r, &r->w[i], KB_TABLE, NULL, 0, copy, b.len);
        }
        sl_buf_free(&b);
        return rc;
}

/* New table messages since the last call, without waiting. */
static int poll_tables(struct krun *r)
{
        rd_kafka_message_t *msgs[KBATCH_MSGS];
        uint32_t eofs = 0;
        if (!r->tq)
                return 0;
        ssize_t n = rd_kafka_consume_batch_queue(r->tq, 0, msgs, KBATCH_MSGS);
        return n > 0 ? hand_tables(r, msgs, n, &eofs) : 0;
}

/*
 * GlobalKTable bootstrap: a consumer outside the group is assigned every
 * partition of every joined table's topic from its beginning, and the
 * workers get everything up to the partitions' ends (read_committed)
 * before the group subscription starts, so that the first stream record
 * meets the whole table.  Later updates arrive through poll_tables().
 */
static int start_tables(struct krun *r)
{
        const struct sl_plan *p = r->plan;
        char e[512];
        int rc;
        bool any = false;
        for (uint32_t s = 0; s < p->nsources; s++)
                any |= p->sources[s].joined;
        if (!any)
                return 0;
        rd_kafka_conf_t *cc = rd_kafka_conf_new();
        char gid[300];
        snprintf(gid, sizeof gid, "%s-tables", r->group);
        if ((rc = conf_set(r, cc, "bootstrap.servers", r->bootstrap)) ||
            (rc = conf_set(r, cc, "group.id", gid)) ||
            (rc = conf_set(r, cc, "isolation.level", "read_committed")) ||
            (rc = conf_set(r, cc, "enable.auto.commit", "false")) ||
            (rc = conf_set(r, cc, "enable.auto.offset.store", "false")) ||
            (rc = conf_set(r, cc, "enable.partition.eof", "true")) ||
            (rc = conf_set(r, cc, "fetch.wait.max.ms", "10")) ||
            (rc = apply_user(r, cc))) {
                rd_kafka_conf_destroy(cc);
                return rc;
        }
        r->tconsumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
        if (!r->tconsumer) {
                errf(r, "table consumer: %s", e);
                return -EINVAL;
        }
        rd_kafka_poll_set_consumer(r->tconsumer);
        r->tq = rd_kafka_queue_get_consumer(r->tconsumer);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
        for (uint32_t s = 0; s < p->nsources && rc == 0; s++) {
                if (!p->sources[s].joined)
                        continue;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->tconsumer, p->sources[s].topic, NULL);
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t me = rkt ? rd_kafka_metadata(r->tconsumer, 0, rkt, &md, 10000)
                                             : RD_KAFKA_RESP_ERR__FAIL;
                if (me || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
                        errf(r, "table %s: no topic '%s' (%s)", p->sources[s].name, p->sources[s].topic,
                             me ? rd_kafka_err2str(me)
                                : rd_kafka_err2str(md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__FAIL));
                        rc = -EINVAL;
                } else {
                        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                                rd_kafka_topic_partition_list_add(parts, p->sources[s].topic,
                                                                  md->topics[0].partitions[i].id)
                                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
                }
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (rkt)
                        rd_kafka_topic_destroy(rkt);
        }
        uint32_t want = (uint32_t)parts->cnt;
        rd_kafka_resp_err_t ae = rc ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(r->tconsumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (rc)
                return rc;
        if (ae) {
                errf(r, "table consumer: assign: %s", rd_kafka_err2str(ae));
                return -EIO;
        }
        /* Every partition reports its end once (an empty one at once). */
        double t0 = now_s();
        uint32_t eofs = 0;
        rd_kafka_message_t *msgs[KBATCH_MSGS];
        while (eofs < want && rc == 0) {
                if (now_s() - t0 > 120) {
                        errf(r, "tables: not read to their end after 120 s (%u of %u partitions)", eofs, want);
                        return -ETIMEDOUT;
                }
                if (atomic_load_explicit(&r->stop, memory_order_relaxed))
                        return r->rc ? r->rc : -ECANCELED;
                ssize_t n = rd_kafka_consume_batch_queue(r->tq, 100, msgs, KBATCH_MSGS);
                if (n > 0)
                        rc = hand_tables(r, msgs, n, &eofs);
        }
        if (rc == 0 && !r->opts->quiet)
                fprintf(stderr, "sluice: tables read to their end in %.3f s (%" PRIu64 " records)\n",
                        now_s() - t0, r->table_msgs);
        return rc;
}

static int start_workers(struct krun *r)
{
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1)
                ncpu = 1;
        r->nw = r->opts->workers ? r->opts->workers : (uint32_t)ncpu;
        if (r->nw > 256) {
                errf(r, "--workers %u: at most 256", r->nw);
                return -EINVAL;
        }
        r->w = calloc(r->nw, sizeof *r->w);
        if (!r->w)
                return -ENOMEM;
        for (uint32_t i = 0; i < r->nw; i++) {
                struct kworker *w = &r->w[i];
                w->id = i;
                w->plan = r->plan;
                w->stop = &r->stop;
                w->topics = r->topics;
                w->plan_hash = r->plan->hash;
                w->cpu = r->opts->no_pin ? -1 : (int)(i % (uint32_t)ncpu);
                w->sst = calloc(r->plan->nsources, sizeof *w->sst);
                w->qst = calloc(r->plan->nqueries, sizeof *w->qst);
                w->tables = calloc(r->plan->nsources, sizeof *w->tables);
                if (!w->sst || !w->qst || !w->tables)
                        return -ENOMEM;
                for (uint32_t s = 0; s < r->plan->nsources; s++)
                        if (r->plan->sources[s].joined &&
                            !(w->tables[s] = sl_ktable_new(r->plan->sources[s].ncols)))
                                return -ENOMEM;
                int rc = sl_ring_init(&w->in, 256);
                if (rc == 0)
                        rc = sl_ring_init(&w->out, 256);
                if (rc)
                        return rc;
                w->oq = (struct sl_outq){.ring = &w->out, .stop = &r->stop};
                if ((rc = sl_thread_start(&w->thread, kworker_main, w, w->cpu)) != 0)
                        return rc;
                w->started = true;
        }
        return 0;
}

static void free_outbatch(void *p)
{
        struct sl_outbatch *b = p;
        struct snapjob *j = b->snap;
        while (j) {
                struct snapjob *n = j->next;
                sl_buf_free(&j->enc);
                free(j);
                j = n;
        }
        free(b);
}

static void stop_workers(struct krun *r, int *rc)
{
        for (uint32_t i = 0; i < r->nw; i++) {
                struct kworker *w = &r->w[i];
                if (!w->started)
                        continue;
                if (*rc || push_control(r, w, KB_STOP, NULL, 0) != 0)
                        atomic_store_explicit(&r->stop, true, memory_order_relaxed);
        }
        for (uint32_t i = 0; i < r->nw; i++) {
                struct kworker *w = &r->w[i];
                if (!w->started)
                        continue;
                /* Keep draining so no worker waits on a full output ring. */
                while (pthread_tryjoin_np(w->thread, NULL) == EBUSY) {
                        void *p;
                        for (uint32_t k = 0; k < r->nw; k++)
                                while (sl_ring_pop1_spsc(&r->w[k].out, &p))
                                        free_outbatch(p);
                        struct timespec ts = {0, 1000000};
                        nanosleep(&ts, NULL);
                }
                w->started = false;
                if (*rc == 0 && w->rc && w->rc != -ECANCELED)
                        *rc = w->rc;
        }
}

static void free_workers(struct krun *r)
{
        if (!r->w)
                return;
        for (uint32_t i = 0; i < r->nw; i++) {
                struct kworker *w = &r->w[i];
                void *p;
                if (w->in.slots)
                        while (sl_ring_pop1_spsc(&w->in, &p)) {
                                struct kbatch *b = p;
                                if (b->kind == KB_MSGS)
                                        for (uint32_t k = 0; k < b->n; k++)
                                                rd_kafka_message_destroy(b->e[k].m);
                                free(b->payload);
                                free(b);
                        }
                if (w->out.slots)
                        while (sl_ring_pop1_spsc(&w->out, &p))
                                free_outbatch(p);
                if (w->cur) {
                        for (uint32_t k = 0; k < w->cur->n; k++)
                                rd_kafka_message_destroy(w->cur->e[k].m);
                        free(w->cur);
                }
                sl_ring_destroy(&w->in);
                sl_ring_destroy(&w->out);
                free(w->oq.cur);
                free(w->parts);
                free(w->sst);
                free(w->qst);
                if (w->tables)
                        for (uint32_t s = 0; s < r->plan->nsources; s++)
                                sl_ktable_destroy(w->tables[s]);
                free(w->tables);
                free(w->tscratch.p);
        }
        free(r->w);
}

static void ckpt_warn(void *arg, const char *msg)
{
        (void)arg;
        fprintf(stderr, "sluice: warning: %s\n", msg);
}

static struct sluice_report *make_report(struct krun *r, double secs)
{
        const struct sl_plan *p = r->plan;
        struct sl_source_stats *ss = calloc(p->nsources, sizeof *ss);
        struct sl_query_stats *qs = calloc(p->nqueries, sizeof *qs);
        struct sluice_report *rep = NULL;
        if (!ss || !qs)
                goto out;
        for (uint32_t i = 0; i < r->nw; i++) {
                for (uint32_t s = 0; s < p->nsources; s++) {
                        ss[s].read += r->w[i].sst[s].read;
                        ss[s].bytes += r->w[i].sst[s].bytes;
                        ss[s].upserts += r->w[i].sst[s].upserts;
                        ss[s].deletes += r->w[i].sst[s].deletes;
                        for (int k = 0; k < SL_DROP_COUNT; k++)
                                ss[s].dropped[k] += r->w[i].sst[s].dropped[k];
                }
                for (uint32_t q = 0; q < p->nqueries; q++) {
                        qs[q].filtered += r->w[i].qst[q].filtered;
                        qs[q].null_key += r->w[i].qst[q].null_key;
                        qs[q].unmatched += r->w[i].qst[q].unmatched;
                        qs[q].late += r->w[i].qst[q].late;
                        qs[q].rows += r->w[i].qst[q].rows;
                        qs[q].keys_max += r->w[i].qst[q].keys_max;
                        qs[q].state_bytes += r->w[i].qst[q].state_bytes;
                }
        }
        rep = sl_report_new(p, ss, qs, secs, r->nw, "rows computed");
        if (!rep)
                goto out;
        struct sl_buf *b = &rep->text;
        const struct sl_committer_stats *cs = &r->c.stats;
        sl_buf_addf(b, "  kafka: %s, group %s: %" PRIu64 " rows produced, %" PRIu64
                       " transactions committed, %" PRIu64 " aborted, %" PRIu64 " retries\n",
                    r->eos ? "exactly-once" : "at-least-once", r->group, r->produced,
                    cs->txns, cs->aborts, cs->retries);
        if (r->dlq_rkt)
                sl_buf_addf(b, "  dead letters: %" PRIu64 " dropped records produced to %s\n",
                            r->dead, r->dlq_topic);
        if (r->eos && cs->txns)
                sl_buf_addf(b, "  commits: %.1f ms on average, %.1f ms at most\n",
                            r->commit_ms_sum / (double)cs->txns, r->commit_ms_max);
        if (r->ckpt_dir) {
                uint64_t sn = 0, sns = 0, smax = 0;
                for (uint32_t i = 0; i < r->nw; i++) {
                        sn += atomic_load(&r->w[i].snaps);
                        sns += atomic_load(&r->w[i].snap_ns);
                        if (atomic_load(&r->w[i].snap_max_ns) > smax)
                                smax = atomic_load(&r->w[i].snap_max_ns);
                }
                char h[32];
                sl_human_bytes(h, sizeof h, r->ckpt_bytes);
                sl_buf_addf(b, "  checkpoints in %s: %" PRIu64 " snapshots written (%s), %" PRIu64
                               " failed, write %.1f ms average, %.1f ms at most; worker stall "
                               "%.2f ms average, %.2f ms at most; %" PRIu64 " partitions restored\n",
                            r->ckpt_dir, r->ckpt_published, h, r->ckpt_failed,
                            r->ckpt_published ? r->ckpt_write_ms_sum / (double)r->ckpt_published : 0.0,
                            r->ckpt_write_ms_max, sn ? (double)sns / (double)sn / 1e6 : 0.0,
                            (double)smax / 1e6, r->ckpt_restored);
        }
        if (r->consumed > 1 && r->last_in > r->first_in)
                sl_buf_addf(b, "  input: %" PRIu64 " records, first to last in %.3f s: %.0f records/s\n",
                            r->consumed, r->last_in - r->first_in,
                            (double)(r->consumed - 1) / (r->last_in - r->first_in));
        const char *to = r->eos ? "commit" : "delivery";
        if (r->lat.n)
                sl_buf_addf(b, "  latency, input CreateTime to %s: p50 %.0f ms, p99 %.0f ms, max %s%.0f ms (%" PRIu64 " rows)\n",
                            to, hist_q(&r->lat, 0.5), hist_q(&r->lat, 0.99),
                            r->lat.b[r->lat.nb - 1] ? ">" : "", hist_q(&r->lat, 1.0), r->lat.n);
        if (r->ilat.n)
                sl_buf_addf(b, "  latency in sluice, received from Kafka to %s: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms\n",
                            to, hist_q(&r->ilat, 0.5), hist_q(&r->ilat, 0.99), hist_q(&r->ilat, 0.999));
        if (r->plat.n)
                sl_buf_addf(b, "  latency in sluice, received from Kafka to handed to the producer: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms\n",
                            hist_q(&r->plat, 0.5), hist_q(&r->plat, 0.99), hist_q(&r->plat, 0.999));
        rep = sl_report_end(rep);
out:
        free(ss);
        free(qs);
        return rep;
}

int sluice_run_kafka(const struct sluice_pipeline *pl, const struct sluice_kafka_opts *opts,
                     struct sluice_report **report, char *err, size_t errlen)
{
        struct krun r = {.plan = pl->plan, .opts = opts, .err = err, .errlen = errlen};
        int rc;
        *report = NULL;
        err[0] = 0;
        atomic_init(&r.stop, false);
        int hrc = hist_init(&r.lat, 1000);
        if (hrc == 0)
                hrc = hist_init(&r.ilat, 100);
        if (hrc == 0)
                hrc = hist_init(&r.plat, 100);
        r.map = calloc(r.plan->nsources + r.plan->nqueries, sizeof *r.map);
        if (hrc || !r.map) {
                free(r.lat.b);
                free(r.ilat.b);
                free(r.plat.b);
                free(r.map);
                return -ENOMEM;
        }
        r.ops = (struct sl_txn_ops){.begin = k_begin, .produce = k_produce,
                .send_offsets = k_send_offsets, .commit = k_commit, .abort = k_abort,
                .backoff = k_backoff, .error = k_error};
        sl_committer_init(&r.c, &r.ops, &r);
        if ((rc = read_settings(&r)) != 0 || (rc = plan_repartitions(&r)) != 0)
                goto out;
        bool any = false;
        for (uint32_t s = 0; s < r.plan->nsources; s++)
                if (r.plan->sources[s].nqueries) {
                        any = true;
                        if (!r.plan->sources[s].topic) {
                                errf(&r, "stream %s has no KAFKA_TOPIC", r.plan->sources[s].name);
                                rc = -EINVAL;
                                goto out;
                        }
                }
        if (!any) {
                errf(&r, "no query reads a stream: nothing to run");
                rc = -EINVAL;
                goto out;
        }
        r.bootstrap = opts->bootstrap ? opts->bootstrap : sl_plan_setting(r.plan, "bootstrap.servers");
        /* A bad property is reported before any thread starts (the mock
         * cluster's included): exiting with its threads alive is a race. */
        rd_kafka_conf_t *probe = rd_kafka_conf_new();
        rc = apply_user(&r, probe);
        rd_kafka_conf_destroy(probe);
        if (rc)
                goto out;
        if (opts->mock) {
                if ((rc = start_mock(&r)) != 0)
                        goto out;
        } else if (!r.bootstrap) {
                errf(&r, "no brokers: give --bootstrap HOST:PORT, SET 'bootstrap.servers', "
                         "or --mock for the embedded mock cluster");
                rc = -EINVAL;
                goto out;
        }
        if ((rc = start_checkpoints(&r)) != 0 || (rc = start_workers(&r)) != 0 ||
            (rc = start_tables(&r)) != 0 || (rc = make_clients(&r)) != 0)
                goto out;
        if (opts->started)
                opts->started(opts->arg, r.bootstrap, r.group);
        r.t0 = now_s();
        rc = consume_loop(&r);
        /* Stop: commit what was processed, then leave the group (the revoke
         * callback commits again, with nothing left to do). */
        if (rc == 0 && !opts->bounded)
                rc = commit(&r, false);
        /* A clean stop leaves a snapshot at the committed position, so the
         * next start restores instead of replaying. */
        for (uint32_t i = 0; rc == 0 && r.writer && i < r.nw; i++)
                rc = push_control(&r, &r.w[i], KB_SNAPSHOT, NULL, 0);
        if (rc == 0 && r.writer)
                rc = cut_and_drain(&r, false);
        if (rc != -ENOTRECOVERABLE) {
                rd_kafka_resp_err_t ce = rd_kafka_consumer_close(r.consumer);
                if (ce && rc == 0)
                        fprintf(stderr, "sluice: leaving the group: %s\n", rd_kafka_err2str(ce));
                if (r.rc && rc == 0)
                        rc = r.rc;
        }
        stop_workers(&r, &rc);
        if (r.writer) {
                /* Snapshots still queued in rings were dropped with them;
                 * what reached the writer is finished. */
                sl_ckpt_writer_destroy_finish(r.writer);
                poll_checkpoints(&r, false);
        }
        double secs = now_s() - r.t0;
        if (rc != -EINVAL)
                *report = make_report(&r, secs);
out:
        if (rc && !err[0])
                errf(&r, "%s", rc == -ECANCELED ? "stopped by a failure in a worker"
                                                 : strerror(-rc));
        stop_workers(&r, &rc);
        if (r.tq)
                rd_kafka_queue_destroy(r.tq);
        if (r.tconsumer) {
                rd_kafka_consumer_close(r.tconsumer);
                rd_kafka_destroy(r.tconsumer);
        }
        if (r.cq)
                rd_kafka_queue_destroy(r.cq);
        if (r.consumer)
                rd_kafka_destroy(r.consumer);
        if (r.out_rkt)
                for (uint32_t q = 0; q < r.plan->nqueries; q++)
                        if (r.out_rkt[q])
                                rd_kafka_topic_destroy(r.out_rkt[q]);
        free(r.out_rkt);
        if (r.rep_rkt)
                for (uint32_t q = 0; q < r.plan->nqueries; q++)
                        if (r.rep_rkt[q])
                                rd_kafka_topic_destroy(r.rep_rkt[q]);
        free(r.rep_rkt);
        if (r.dlq_rkt)
                rd_kafka_topic_destroy(r.dlq_rkt);
        if (r.rep_topic)
                for (uint32_t q = 0; q < r.plan->nqueries; q++)
                        free(r.rep_topic[q]);
        free(r.rep_topic);
        free(r.rep);
        if (r.producer) {
                rd_kafka_flush(r.producer, 10000);
                rd_kafka_destroy(r.producer);
        }
        if (r.cgmd)
                rd_kafka_consumer_group_metadata_destroy(r.cgmd);
        if (r.alo_offsets)
                rd_kafka_topic_partition_list_destroy(r.alo_offsets);
        if (r.writer)
                sl_ckpt_writer_destroy(r.writer);
        free(r.topics);
        if (r.mock)
                rd_kafka_mock_cluster_destroy(r.mock);
        if (r.mock_rk)
                rd_kafka_destroy(r.mock_rk);
        free_workers(&r);
        for (uint32_t s = 0; s < r.plan->nsources + r.plan->nqueries; s++) {
                for (uint32_t p = 0; p < r.map[s].n; p++)
                        free(r.map[s].p[p]);
                free(r.map[s].p);
        }
        free(r.map);
        free(r.lat.b);
        free(r.ilat.b);
        free(r.plat.b);
        free(r.txn_ts);
        free(r.txn_rx);
        if (r.txn_log)
                fclose(r.txn_log);
        sl_committer_fini(&r.c);
        return rc;
}

int sluice_state_list(const char *dir, char **text)
{
        struct sl_buf b = {0};
        int rc = sl_ckpt_list(dir, &b);
        sl_buf_addc(&b, '\0');
        if (!sl_buf_ok(&b)) {
                sl_buf_free(&b);
                return -ENOMEM;
        }
        *text = b.p;
        return rc;
}
