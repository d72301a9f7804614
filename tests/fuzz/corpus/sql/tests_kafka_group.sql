-- Two sluice processes in one consumer group (tests/kafka_group.sh).
SET 'application.id' = 'group-test';
CREATE STREAM transactions (
    transactionId STRING,
    userId STRING KEY,
    amount DOUBLE,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'transactions', VALUE_FORMAT = 'JSON', TIMESTAMP = 'timestamp');

CREATE TABLE per_minute WITH (KAFKA_TOPIC = 'per-minute') AS
  SELECT userId, COUNT(*) AS n, SUM(amount) AS total, WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY userId
  EMIT FINAL;
