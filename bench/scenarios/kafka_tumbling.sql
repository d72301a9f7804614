-- bench/kafka.sh: 5-minute tumbling AVG and COUNT per user, EMIT FINAL, on a
-- topic keyed by userId (no repartition).
-- @bench mode=kafka
CREATE STREAM transactions (transactionId STRING, userId STRING KEY, amount DOUBLE, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');
CREATE TABLE stats WITH (KAFKA_TOPIC='stats') AS SELECT userId, AVG(amount) AS avgAmount, COUNT(*) AS n,
  WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;
