/*
 * fuzz_part.h - drives a Kafka-mode partition (engine/part.h) from a fuzz
 * target: an output ring nobody else reads, records made up for any
 * source's columns (JSON, or FlatBuffers where the source's VALUE_FORMAT
 * says so), and a drain that reads every row produced.
 *
 * Used by fuzz_sql.c (a fuzzed plan runs a few records) and
 * fuzz_snapshot.c (a fuzzed state keeps running after it was loaded).
 * Single-threaded.
 */
#ifndef SL_FUZZ_PART_H
#define SL_FUZZ_PART_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/batch.h"
#include "engine/buf.h"
#include "engine/part.h"
#include "engine/plan.h"
#include "engine/ring.h"

struct fuzz_part {
        struct sl_ring ring;
        struct sl_outq oq;
        _Atomic bool stop; /* always set: a full ring fails a push instead of waiting */
        const struct sl_plan *plan;
        uint32_t src;
        struct sl_part *pt;
        struct sl_buf rec;  /* the record being made */
        uint64_t rows;      /* rows drained so far */
        uint64_t sum;       /* of their bytes, so that every byte is read */
};

/* 0, or -ENOMEM with nothing left to free. */
int fuzz_part_init(struct fuzz_part *fp, const struct sl_plan *p, uint32_t src);
void fuzz_part_fini(struct fuzz_part *fp);

/* Flushes the output queue and reads every row queued so far. */
void fuzz_part_drain(struct fuzz_part *fp);

/*
 * Appends to b record i of a deterministic series for src's columns: a
 * JSON object with every column (names escaped) holding an edge value of
 * its type or null, picked by i, the column and salt; timestamps range
 * over ordinary times, out-of-order ones and SL_TS_MIN/SL_TS_MAX.
 */
void fuzz_record(const struct sl_source *src, uint32_t i, uint32_t salt, struct sl_buf *b);

/* The same for a FLATBUFFERS source: appends a frame (engine/flatbuf.h)
 * whose bare buffer starts SL_FB_FRAME_HEAD bytes in. */
void fuzz_record_fb(const struct sl_source *src, uint32_t i, uint32_t salt, struct sl_buf *b);

/* A message key for record i: NULL, or text that some KEY type parses. */
const char *fuzz_record_key(uint32_t i, uint32_t salt);

/*
 * Feeds records 0..n-1 of the series at offsets first.. (the first half
 * with sl_part_records, the rest one by one), draining as it goes.
 * Returns the first error of the partition (0 if none).
 */
int fuzz_part_feed(struct fuzz_part *fp, int64_t first, uint32_t n, uint32_t salt);

#endif
