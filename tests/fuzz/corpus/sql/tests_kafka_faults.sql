-- Fault injection (tests/kafka_faults.sh): one row per input record (EMIT
-- CHANGES), so a lost input record is a missing row and a record applied
-- twice is a wrong count.
SET 'application.id' = 'faults';
CREATE STREAM transactions (
    transactionId STRING,
    userId STRING KEY,
    amount DOUBLE,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'transactions', VALUE_FORMAT = 'JSON', TIMESTAMP = 'timestamp');

CREATE TABLE running WITH (KAFKA_TOPIC = 'running') AS
  SELECT userId, COUNT(*) AS n, SUM(amount) AS total, WINDOWSTART AS ws
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 HOUR)
  GROUP BY userId
  EMIT CHANGES;
