-- Use case 1 (seed 000): the moving average of transaction amounts per user
-- in 5-minute tumbling windows.  The seed's Kafka Streams code computed
-- (aggregate + value) / 2, which is not an average; this is the true mean.
SET 'application.id' = 'moving-average-app';

CREATE STREAM transactions (
    transactionId STRING,
    userId STRING KEY,
    amount DOUBLE,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'transactions-topic', VALUE_FORMAT = 'FLATBUFFERS',
        TIMESTAMP = 'timestamp');

CREATE TABLE moving_averages WITH (KAFKA_TOPIC = 'aggregated-transactions-topic') AS
  SELECT userId,
         AVG(amount) AS movingAverage,
         WINDOWSTART AS windowStart,
         WINDOWEND AS windowEnd
  FROM transactions
  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS)
  GROUP BY userId
  EMIT FINAL;
