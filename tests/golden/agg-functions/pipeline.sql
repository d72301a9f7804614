-- Golden test of the aggregate functions of docs/sql.md ("Aggregate
-- functions"): every one, in a tumbling window (EMA included) and in a
-- hopping window (panes combined: TOPK merges, HyperLogLog registers by
-- max, Welford by Chan's formula, LATEST/EARLIEST by input order).  The
-- input has NULLs, repeats, a record out of order and two keys.
CREATE STREAM readings (
    sensor STRING KEY,
    reading DOUBLE,
    level BIGINT,
    visitor STRING,
    ok BOOLEAN,
    ts BIGINT
) WITH (KAFKA_TOPIC = 'readings', VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');

CREATE TABLE per_minute WITH (KAFKA_TOPIC = 'per_minute') AS
  SELECT sensor,
         WINDOWSTART AS ws,
         COUNT_DISTINCT(visitor) AS visitors,
         TOPK(level, 3) AS top3,
         TOPKDISTINCT(reading, 2) AS top2r,
         LATEST_BY_OFFSET(reading) AS last_reading,
         EARLIEST_BY_OFFSET(ok) AS first_ok,
         STDDEV_SAMP(level) AS sd,
         EMA(reading, 0.5) AS ema
  FROM readings
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 30 SECONDS)
  GROUP BY sensor
  EMIT FINAL;

CREATE TABLE sliding WITH (KAFKA_TOPIC = 'sliding') AS
  SELECT sensor,
         WINDOWSTART AS ws,
         COUNT_DISTINCT(visitor) AS visitors,
         TOPK(level, 3) AS top3,
         TOPKDISTINCT(level, 2) AS top2,
         LATEST_BY_OFFSET(level) AS last_level,
         EARLIEST_BY_OFFSET(reading) AS first_reading,
         STDDEV_SAMP(reading) AS sd
  FROM readings
  WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 1 MINUTE, GRACE PERIOD 30 SECONDS)
  GROUP BY sensor
  EMIT FINAL;
