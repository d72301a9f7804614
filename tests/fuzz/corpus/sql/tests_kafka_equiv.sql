-- Kafka integration: every kind of query the engine core runs, on
-- generated transactions keyed by userId.  Kafka mode must give the rows
-- of file mode (tests/kafka_equiv.sh).
SET 'application.id' = 'equiv';
CREATE STREAM transactions (
    transactionId STRING,
    userId STRING KEY,
    account BIGINT,
    amount DOUBLE,
    `type` STRING,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'transactions', VALUE_FORMAT = 'JSON', TIMESTAMP = 'timestamp');

CREATE TABLE per_minute WITH (KAFKA_TOPIC = 'per-minute') AS
  SELECT userId, COUNT(*) AS n, AVG(amount) AS avg_amount, MIN(amount) AS lo,
         MAX(amount) AS hi, WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 5 SECONDS)
  GROUP BY userId
  EMIT FINAL;

CREATE TABLE deposits_hopping WITH (KAFKA_TOPIC = 'deposits-hopping') AS
  SELECT userId, SUM(amount) AS total, COUNT(*) AS n, WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions
  WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 30 SECONDS)
  WHERE `type` = 'deposit'
  GROUP BY userId
  EMIT CHANGES;

CREATE TABLE by_user_type WITH (KAFKA_TOPIC = 'by-user-type') AS
  SELECT userId, `type`, COUNT(*) AS n, WINDOWEND AS we
  FROM transactions
  WINDOW TUMBLING (SIZE 5 MINUTES)
  GROUP BY userId, `type`
  HAVING COUNT(*) > 3
  EMIT FINAL;

CREATE STREAM big WITH (KAFKA_TOPIC = 'big-transactions') AS
  SELECT userId, amount, `timestamp`
  FROM transactions
  WHERE amount > 900;

-- GROUP BY a column that is not the message key: repartitioned through
-- equiv-by_type-repartition.  Records of four partitions meet there out of
-- event-time order, hence the grace period; and in another order than in
-- the file, so the aggregates are ones whose result does not depend on the
-- order (a DOUBLE sum may differ in its last bit).
CREATE TABLE by_type WITH (KAFKA_TOPIC = 'by-type') AS
  SELECT `type`, COUNT(*) AS n, SUM(account) AS accounts, MIN(amount) AS lo,
         MAX(amount) AS hi, WINDOWSTART AS ws
  FROM transactions
  WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 10 MINUTES)
  WHERE amount > 10
  GROUP BY `type`
  EMIT FINAL;
