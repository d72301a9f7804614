-- Use case 3 (seed 002), the fraud topology of the telecom platform: more
-- than 10 payments by a customer in 5 minutes raise a RAPID_PAYMENTS alert,
-- with its severity (CASE) and its text (FORMAT) computed in SQL; payments
-- over $1000 are flagged one by one with a readable reason (CONCAT, CAST,
-- ROUND, COALESCE, IFNULL).  The functions are in docs/sql.md.
CREATE STREAM payments (
    paymentId STRING,
    customerId STRING KEY,
    amount DOUBLE,
    method STRING,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'bss.payments', VALUE_FORMAT = 'JSON', TIMESTAMP = 'timestamp');

CREATE TABLE rapid_payments WITH (KAFKA_TOPIC = 'bss.fraud.alerts') AS
  SELECT customerId,
         'RAPID_PAYMENTS' AS alertType,
         COUNT(*) AS payments,
         ROUND(SUM(amount), 2) AS total,
         CASE WHEN COUNT(*) > 20 THEN 'HIGH'
              WHEN COUNT(*) > 15 THEN 'MEDIUM'
              ELSE 'LOW' END AS severity,
         FORMAT('Customer %s made %d payments totalling $%,.2f in 5 minutes (limit: 10)',
                customerId, COUNT(*), SUM(amount)) AS message,
         WINDOWSTART AS windowStart,
         WINDOWEND AS windowEnd
  FROM payments
  WINDOW TUMBLING (SIZE 5 MINUTES)
  GROUP BY customerId
  HAVING COUNT(*) > 10
  EMIT FINAL;

CREATE STREAM large_payments WITH (KAFKA_TOPIC = 'bss.payments.large') AS
  SELECT paymentId,
         customerId,
         amount,
         IFNULL(method, 'unknown') AS method,
         'payment ' || paymentId || ' of $' || CAST(ROUND(amount) AS STRING) || ' by ' ||
           customerId || ' via ' || COALESCE(method, 'an unknown method') AS reason
  FROM payments
  WHERE amount > 1000;
