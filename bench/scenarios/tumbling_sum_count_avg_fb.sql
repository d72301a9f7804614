-- The FlatBuffers twin of tumbling_sum_count_avg.sql (bench/run uses it for
-- --format flatbuffers): 5-minute tumbling SUM, COUNT and AVG of amount per
-- user, EMIT FINAL, over `sluice-gen --format flatbuffers` records.  The
-- column list is the generator's whole table (FlatBuffers field i is column
-- i); decoding reads only userId, amount and timestamp.
CREATE STREAM transactions (transactionId STRING, userId STRING, account BIGINT, amount DOUBLE,
                            type STRING, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='FLATBUFFERS', TIMESTAMP='timestamp');
CREATE TABLE stats AS SELECT userId, SUM(amount) AS total, COUNT(*) AS n, AVG(amount) AS avgAmount,
  WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;
