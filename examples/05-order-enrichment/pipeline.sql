-- Use case 3, order enrichment: orders joined with the customer table
-- (bss.customer.info: latest tier and region per customer id).
--   orders over $1000, with the customer's tier and region -> bss.orders.highvalue
--   per region, order count and value in 1-hour windows     -> bss.orders.region.trend
-- The table is read to its end before the first order (docs/sql.md, "Tables
-- and joins"): every order sees the latest row of its customer.

CREATE STREAM orders (
    orderId STRING,
    customerId STRING KEY,
    amount DOUBLE,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'bss.orders', VALUE_FORMAT = 'JSON', TIMESTAMP = 'timestamp');

CREATE TABLE customers (
    id STRING PRIMARY KEY,
    tier STRING,
    region STRING
) WITH (KAFKA_TOPIC = 'bss.customer.info', VALUE_FORMAT = 'JSON');

-- LEFT JOIN: an order without a customer row keeps NULL tier and region.
CREATE STREAM high_value_orders WITH (KAFKA_TOPIC = 'bss.orders.highvalue') AS
  SELECT o.orderId, o.customerId, o.amount, c.tier, c.region,
         COALESCE(c.tier, 'unknown') AS tierOrUnknown
  FROM orders o LEFT JOIN customers c ON o.customerId = c.id
  WHERE o.amount > 1000;

-- INNER JOIN: orders of unknown customers are left out; one row per
-- region and hour when the hour closes.  Grouping by region re-keys the
-- orders, so in Kafka mode they reach the aggregation through a
-- repartition topic that mixes the input partitions: the grace period
-- keeps an order that arrives after a later one of another partition.
CREATE TABLE region_trend WITH (KAFKA_TOPIC = 'bss.orders.region.trend') AS
  SELECT c.region, WINDOWSTART AS windowStart, WINDOWEND AS windowEnd,
         COUNT(*) AS orders, SUM(amount) AS total
  FROM orders o JOIN customers c ON o.customerId = c.id
  WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 3 HOURS)
  GROUP BY c.region
  EMIT FINAL;
