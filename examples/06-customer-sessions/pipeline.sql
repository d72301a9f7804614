-- Use case 3 (seed 002), customer activity: per customer, sessions of
-- activity that end after 30 minutes without any (session windows), with
-- 5 minutes of grace for activity that arrives out of order.  One table
-- writes each session once, when it has closed (EMIT FINAL); the other
-- writes every update, and retracts a session that an activity extends or
-- merges with another with a tombstone first (EMIT CHANGES), as ksqlDB does.
SET 'application.id' = 'customer-activity';

CREATE STREAM customer_activity (
    customerId STRING KEY,
    activityType STRING,
    amount DOUBLE,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'bss.customer.activity', VALUE_FORMAT = 'JSON',
        TIMESTAMP = 'timestamp');

CREATE TABLE customer_sessions WITH (KAFKA_TOPIC = 'bss.customer.sessions') AS
  SELECT customerId,
         WINDOWSTART AS sessionStart,
         WINDOWEND AS sessionEnd,
         COUNT(*) AS activities,
         SUM(amount) AS spent
  FROM customer_activity
  WINDOW SESSION (30 MINUTES, GRACE PERIOD 5 MINUTES)
  GROUP BY customerId
  EMIT FINAL;

CREATE TABLE customer_sessions_live WITH (KAFKA_TOPIC = 'bss.customer.sessions.live') AS
  SELECT customerId,
         WINDOWSTART AS sessionStart,
         WINDOWEND AS sessionEnd,
         COUNT(*) AS activities
  FROM customer_activity
  WINDOW SESSION (30 MINUTES, GRACE PERIOD 5 MINUTES)
  GROUP BY customerId
  EMIT CHANGES;
