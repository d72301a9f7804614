-- Use case 2 (seed 001): per-account rolling balance in 10-second windows
-- (the Kafka Streams job) and high-activity alerts over 1-minute windows
-- (the Flink job), in one pass over the transactions.
CREATE STREAM transactions (
    account BIGINT KEY,
    amount DOUBLE,       -- withdrawals are negative
    `type` STRING,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'transactions', VALUE_FORMAT = 'FLATBUFFERS', TIMESTAMP = 'timestamp');

CREATE TABLE account_balances WITH (KAFKA_TOPIC = 'account-balances') AS
  SELECT account,
         SUM(amount) AS balance,
         WINDOWSTART AS window_start,
         WINDOWEND AS window_end
  FROM transactions
  WINDOW TUMBLING (SIZE 10 SECONDS)
  GROUP BY account
  EMIT FINAL;

CREATE TABLE high_activity WITH (KAFKA_TOPIC = 'fraud-alerts') AS
  SELECT account,
         SUM(amount) AS total_activity,
         5000.0 AS threshold,
         'HIGH_ACTIVITY' AS alert_type,
         COUNT(*) AS transactions,
         WINDOWSTART AS window_start,
         WINDOWEND AS window_end
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY account
  HAVING SUM(amount) > 5000
  EMIT FINAL;
