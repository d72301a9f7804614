-- Use case 4 (seed 003): page views per postcode, counted in 1-minute
-- tumbling windows with a 30-minute grace period, keyed by postcode.  The
-- seed's Kafka Streams topology emits every update of a window (no
-- suppression): EMIT CHANGES does the same, so a view that arrives late but
-- within the grace period updates its window's count, and one later than
-- that is dropped and counted as late.  `interval` is the window size (ms),
-- as in the seed's AggregatedPageViewEvent.
SET 'application.id' = 'page-view-aggregator';

CREATE STREAM page_views (
    viewId STRING,
    userId STRING,
    postcode STRING KEY,
    page STRING,
    `timestamp` BIGINT
) WITH (KAFKA_TOPIC = 'test.streaming.page-view', VALUE_FORMAT = 'JSON',
        TIMESTAMP = 'timestamp');

CREATE TABLE page_views_per_postcode WITH (KAFKA_TOPIC = 'test.streaming.page-view.output') AS
  SELECT postcode,
         COUNT(*) AS count,
         WINDOWSTART AS windowStart,
         WINDOWEND - WINDOWSTART AS interval
  FROM page_views
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 30 MINUTES)
  GROUP BY postcode
  EMIT CHANGES;
