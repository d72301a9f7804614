/*
 * stats.h - the counters a run reports: per source (read, dropped by
 * reason) and per query (filtered, late, rows).  Each counter has one
 * writer thread; they are read after the threads are joined.
 */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stdint.h>

enum sl_drop {
        SL_DROP_NOT_JSON,   /* not valid JSON */
        SL_DROP_NOT_OBJECT, /* valid JSON, not an object */
        SL_DROP_BAD_TYPE,   /* a column holds the wrong JSON type */
        SL_DROP_NO_TS,      /* timestamp column missing or null */
        SL_DROP_BAD_TS,     /* timestamp not an integer, or out of range */
        SL_DROP_OVERSIZE,   /* longer than the record size limit */
        SL_DROP_NULL_VALUE, /* Kafka: a message with no value (tombstone) */
        SL_DROP_BAD_KEY,    /* Kafka: the message key does not parse as the KEY column's type */
        SL_DROP_BAD_FLATBUFFER, /* FLATBUFFERS: fails verification (engine/flatbuf.h) */
        SL_DROP_NULL_PK,    /* table: the PRIMARY KEY column is missing or null */
        SL_DROP_COUNT,
};

const char *sl_drop_name(enum sl_drop d);

struct sl_source_stats {
        uint64_t read;    /* records (non-blank lines) */
        uint64_t bytes;
        uint64_t dropped[SL_DROP_COUNT];
        uint64_t upserts; /* table: rows written */
        uint64_t deletes; /* table: deletes (of a key present or not) */
};

struct sl_query_stats {
        uint64_t filtered; /* WHERE was not true */
        uint64_t null_key; /* dropped: a GROUP BY column missing or null */
        uint64_t unmatched; /* dropped: INNER JOIN found no table row */
        uint64_t late;     /* dropped: every window closed */
        uint64_t rows;     /* written to the sink */
        uint64_t keys_max; /* most keys held at once (sum over workers) */
        uint64_t state_bytes; /* table memory at the end */
};

#endif
