-- tests/fb_golden.sh: sluice-gen's stream (field i is column i of this list),
-- read as FlatBuffers; the test runs it and its JSON twin over the same
-- events and compares the rows byte for byte.  Tumbling EMIT FINAL, hopping
-- EMIT CHANGES, and a filtered projection; amount is read by all three, so
-- the generator's damaged-amount records drop in both formats.
CREATE STREAM transactions (transactionId STRING, userId STRING, account BIGINT, amount DOUBLE,
                            type STRING, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC = 'transactions', VALUE_FORMAT = 'FLATBUFFERS', TIMESTAMP = 'timestamp');

CREATE TABLE per_user WITH (KAFKA_TOPIC = 'per_user') AS
  SELECT userId, COUNT(*) AS n, SUM(amount) AS total, AVG(amount) AS mean,
         MIN(amount) AS lo, MAX(amount) AS hi, WINDOWSTART AS ws, WINDOWEND AS we
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 SECONDS)
  GROUP BY userId
  EMIT FINAL;

CREATE TABLE per_type WITH (KAFKA_TOPIC = 'per_type') AS
  SELECT `type`, COUNT(*) AS n, SUM(account) AS accounts, SUM(amount) AS total, WINDOWSTART AS ws
  FROM transactions
  WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)
  GROUP BY `type`
  EMIT CHANGES;

CREATE STREAM big WITH (KAFKA_TOPIC = 'big') AS
  SELECT transactionId, userId, amount, `timestamp`
  FROM transactions
  WHERE amount > 1400 AND `type` = 'deposit';
