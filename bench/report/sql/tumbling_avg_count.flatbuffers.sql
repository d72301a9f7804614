-- bench/e2e.sh default scenario: 5-minute tumbling AVG and COUNT per user, EMIT FINAL.
-- @bench mode=file
CREATE STREAM transactions (transactionId STRING, userId STRING, account BIGINT, amount DOUBLE, type STRING, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='FLATBUFFERS', TIMESTAMP='timestamp');
CREATE TABLE stats AS SELECT userId, AVG(amount) AS avgAmount, COUNT(*) AS n,
  WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;
