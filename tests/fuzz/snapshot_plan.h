/*
 * snapshot_plan.h - the pipeline whose partition state fuzz_snapshot.c
 * loads, shared with seeds.c, which writes the seed snapshots.
 *
 * Every kind of state a partition saves: a tumbling window with grace and
 * EMIT FINAL, a hopping window (several panes per key) with EMIT CHANGES,
 * an unwindowed aggregate with every accumulator kind, and a projection
 * (no state, but a slot in the query list).  Changing this text changes
 * the state layout: regenerate the seeds (see README.md).
 */
#ifndef SL_FUZZ_SNAPSHOT_PLAN_H
#define SL_FUZZ_SNAPSHOT_PLAN_H

static const char fuzz_snapshot_sql[] =
        "CREATE STREAM s (userId STRING KEY, amount DOUBLE, qty BIGINT, ts BIGINT)\n"
        "  WITH (KAFKA_TOPIC='in', VALUE_FORMAT='JSON', TIMESTAMP='ts');\n"
        "CREATE TABLE t WITH (KAFKA_TOPIC='t') AS SELECT userId, COUNT(*) AS n,\n"
        "  AVG(amount) AS a, WINDOWSTART AS ws FROM s\n"
        "  WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 2 SECONDS)\n"
        "  GROUP BY userId EMIT FINAL;\n"
        "CREATE TABLE h WITH (KAFKA_TOPIC='h') AS SELECT userId, SUM(amount) AS total,\n"
        "  WINDOWEND AS we FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)\n"
        "  GROUP BY userId EMIT CHANGES;\n"
        "CREATE TABLE u WITH (KAFKA_TOPIC='u') AS SELECT userId, MIN(qty) AS lo,\n"
        "  MAX(amount) AS hi, SUM(qty) AS q, COUNT(amount) AS c FROM s\n"
        "  GROUP BY userId EMIT CHANGES;\n"
        "CREATE STREAM p WITH (KAFKA_TOPIC='p') AS SELECT userId, qty * 2 AS q2 FROM s\n"
        "  WHERE amount > 0;\n";

/* The snapshot header fuzz_snapshot.c wraps around a fuzzed payload. */
#define FUZZ_SNAPSHOT_TOPIC "in"
#define FUZZ_SNAPSHOT_PARTITION 3
#define FUZZ_SNAPSHOT_OFFSET 1234

#endif
