-- bench/kafka.sh latency scenario: a running count and sum per user,
-- EMIT CHANGES (one output row per input record).
-- @bench mode=kafka-latency
CREATE STREAM transactions (transactionId STRING, userId STRING KEY, amount DOUBLE, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');
CREATE TABLE running WITH (KAFKA_TOPIC='running') AS SELECT userId, COUNT(*) AS n, SUM(amount) AS total,
  WINDOWSTART AS ws FROM transactions WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userId EMIT CHANGES;
