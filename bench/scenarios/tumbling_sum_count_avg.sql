-- bench/run default scenario (P2.1 targets): 5-minute tumbling SUM, COUNT and
-- AVG of amount per user, EMIT FINAL.  bench/naive_agg does the same work and
-- writes the same rows (bench/run checks them).  bench/run's data have event
-- time at 50,000 events/s: 10M events span 200 s, so each key has two windows,
-- one closed mid-run and one at end of input.
-- @bench mode=file naive=1
CREATE STREAM transactions (transactionId STRING, userId STRING, amount DOUBLE, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');
CREATE TABLE stats AS SELECT userId, SUM(amount) AS total, COUNT(*) AS n, AVG(amount) AS avgAmount,
  WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;
