-- The FlatBuffers interop pipeline (tests/fb_interop/run.sh): its input is
-- written by C++ built from flatc's code for interop.fbs, and its output is
-- read back by that code.  interop.fbs is `sluice schema interop.sql`, and
-- the test checks that it still is.  Every type, NULLs (absent fields) in
-- every column, both query kinds, FlatBuffers out.
CREATE STREAM readings (sensor STRING, site INTEGER, `value` DOUBLE, ok BOOLEAN,
                        seq BIGINT, note STRING, ts BIGINT)
  WITH (KAFKA_TOPIC = 'readings', VALUE_FORMAT = 'FLATBUFFERS', TIMESTAMP = 'ts');

CREATE TABLE per_sensor WITH (KAFKA_TOPIC = 'per_sensor', VALUE_FORMAT = 'FLATBUFFERS') AS
  SELECT sensor, site, COUNT(*) AS n, COUNT(`value`) AS nvalues, SUM(`value`) AS total,
         AVG(`value`) AS mean, MIN(seq) AS first_seq, MAX(seq) AS last_seq,
         WINDOWSTART AS ws, WINDOWEND AS we
  FROM readings
  WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY sensor, site
  EMIT FINAL;

CREATE STREAM passed WITH (KAFKA_TOPIC = 'passed', VALUE_FORMAT = 'FLATBUFFERS') AS
  SELECT sensor, site, ok, `value` * 2 AS doubled, seq, note, ts, seq % 3 = 0 AS third
  FROM readings
  WHERE ok OR note IS NOT NULL;
