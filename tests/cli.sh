#!/bin/sh
# Command-line behaviour of sluice: exit codes, error messages with
# positions, stdin input, oversize records, the summary, and identical
# output for 1, 2 and 4 workers on a generated stream with disorder, late
# and malformed records.
#   cli.sh SLUICE SOURCE_ROOT
set -u
sluice=$1
root=$2
gen="$(dirname "$sluice")/sluice-gen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1" >&2; fails=$((fails + 1)); }

# expect_rc NAME RC CMD...: runs CMD, checks its exit code.
expect_rc() {
        name=$1 want=$2
        shift 2
        "$@" >"$tmp/out" 2>"$tmp/err"
        got=$?
        if [ "$got" = "$want" ]; then ok "$name"; else bad "$name: exit $got, want $want"; cat "$tmp/err" >&2; fi
}
expect_err() { # NAME PATTERN: stderr of the last command matches
        if grep -q -- "$2" "$tmp/err"; then ok "$1"; else bad "$1: stderr lacks '$2'"; cat "$tmp/err" >&2; fi
}

ex1=$root/examples/01-moving-average
expect_rc "check ok" 0 "$sluice" check "$ex1/pipeline.sql"
expect_rc "explain" 0 "$sluice" explain "$ex1/pipeline.sql"
grep -q "TUMBLING SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS" "$tmp/out" && ok "explain shows window" || bad "explain shows window"
expect_rc "explain having" 0 "$sluice" explain "$root/examples/02-rolling-balance/pipeline.sql"
grep -q "having: HAVING (SUM(amount) > 5000)" "$tmp/out" && ok "explain shows HAVING" || bad "explain shows HAVING"

cat >"$tmp/bad.sql" <<'SQL'
CREATE STREAM s (a STRING, b BIGINT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', TIMESTAMP='b');
CREATE TABLE t AS SELECT a, SUM(c) AS x
  FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY a EMIT FINAL;
SQL
expect_rc "unknown column: exit 2" 2 "$sluice" check "$tmp/bad.sql"
expect_err "unknown column: position" "bad.sql:2:33: unknown column 'c'"
expect_rc "run with bad SQL: exit 2" 2 "$sluice" run "$tmp/bad.sql" --input "$ex1/input.ndjson"

printf 'CREATE STREAM s (a STRING) WITH (KAFKA_TOPIC=1);\n' >"$tmp/bad2.sql"
expect_rc "property type: exit 2" 2 "$sluice" check "$tmp/bad2.sql"
expect_err "property type: position" "bad2.sql:1:46:"

expect_rc "no such file" 2 "$sluice" check "$tmp/nope.sql"
expect_err "no such file: message" "cannot open"
expect_rc "unknown command" 2 "$sluice" frobnicate
expect_rc "bad flag" 2 "$sluice" run "$ex1/pipeline.sql" --input "$ex1/input.ndjson" --bogus
expect_rc "bad --workers" 2 "$sluice" run "$ex1/pipeline.sql" --input "$ex1/input.ndjson" --workers 0
expect_rc "bad --workers text" 2 "$sluice" run "$ex1/pipeline.sql" --input "$ex1/input.ndjson" --workers two
expect_err "bad --workers message" "expected a whole number"
expect_rc "no input" 2 "$sluice" run "$ex1/pipeline.sql"
# A bad flag or property: exit 2 and one line that names it.
one_line() { # NAME PATTERN: stderr is one line matching PATTERN
        if [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$2" "$tmp/err"; then ok "$1"
        else bad "$1: stderr is not one line matching '$2'"; cat "$tmp/err" >&2; fi
}
expect_rc "bad --workers" 2 "$sluice" run "$ex1/pipeline.sql" --workers abc --input "$ex1/input.ndjson"
one_line "bad --workers: one line" "--workers 'abc'"
expect_rc "--workers 0" 2 "$sluice" run "$ex1/pipeline.sql" --workers 0 --input "$ex1/input.ndjson"
one_line "--workers 0: one line" "at least 1"
expect_rc "--set without =" 2 "$sluice" run "$ex1/pipeline.sql" --set foo
one_line "--set without =: one line" "expected NAME=VALUE"
expect_rc "unknown librdkafka property" 2 "$sluice" run "$ex1/pipeline.sql" --mock --set foo.bar=1
one_line "unknown librdkafka property: one line" "foo.bar"
expect_rc "bad max.record.bytes" 2 "$sluice" run "$ex1/pipeline.sql" --mock --set max.record.bytes=-5
one_line "bad max.record.bytes: one line" "max.record.bytes '-5'"
expect_rc "bad state.max.bytes" 2 "$sluice" run "$ex1/pipeline.sql" --mock --set state.max.bytes=lots
one_line "bad state.max.bytes: one line" "state.max.bytes 'lots'"
expect_rc "empty dlq.topic" 2 "$sluice" run "$ex1/pipeline.sql" --mock --set dlq.topic=
one_line "empty dlq.topic: one line" "dlq.topic"
# Tables: the table needs its own input.
ex5=$root/examples/05-order-enrichment
expect_rc "no table input" 2 "$sluice" run "$ex5/pipeline.sql" --input orders="$ex5/inputs/orders.ndjson"
one_line "no table input: one line" "no input for table 'customers': add --input customers=FILE"
mkdir -p "$tmp/join"
expect_rc "join run" 0 "$sluice" run "$ex5/pipeline.sql" --input orders="$ex5/inputs/orders.ndjson" \
        --input customers="$ex5/inputs/customers.ndjson" --output "$tmp/join"
expect_err "join summary: table" "table customers: 9 read (0.3 KiB), 6 upserts, 2 deletes, 1 dropped (1 null primary key)"
expect_err "join summary: INNER drops" "query region_trend -> bss.orders.region.trend: 6 rows written, 0 late, 0 filtered, 1 null key, 3 without a table row"
expect_rc "explain join" 0 "$sluice" explain "$ex5/pipeline.sql"
grep -q "2. join: LEFT JOIN customers ON customerId = customers.id (no row: its columns are NULL)" "$tmp/out" \
        && ok "explain shows the join" || bad "explain shows the join"
# An INTEGER stream column joins a BIGINT primary key; WHERE reads a table
# column; a table record of the wrong type is dropped; a NULL key has no row.
cat >"$tmp/ijoin.sql" <<'SQL'
CREATE STREAM s (k INTEGER, v DOUBLE) WITH (KAFKA_TOPIC='s');
CREATE TABLE t (id BIGINT PRIMARY KEY, name STRING, w DOUBLE) WITH (KAFKA_TOPIC='t');
CREATE STREAM o AS SELECT s.k, v * t.w AS x, t.name FROM s INNER JOIN t ON s.k = t.id WHERE t.w > 0;
SQL
printf '{"id":1,"name":"one","w":2.0}\n{"id":2,"name":"two","w":0.5}\n{"id":3,"name":"neg","w":-1.0}\n{"id":"4","name":"bad"}\n' >"$tmp/t.ndjson"
printf '{"k":1,"v":10}\n{"k":2,"v":10}\n{"k":3,"v":10}\n{"k":4,"v":10}\n{"k":null,"v":1}\n' >"$tmp/s.ndjson"
expect_rc "integer join" 0 "$sluice" run "$tmp/ijoin.sql" --input s="$tmp/s.ndjson" --input t="$tmp/t.ndjson"
[ "$(cat "$tmp/out")" = '{"k":1,"x":20.0,"name":"one"}
{"k":2,"x":5.0,"name":"two"}' ] && ok "integer join: rows" || { bad "integer join: rows"; cat "$tmp/out" >&2; }
expect_err "integer join: table drop" "table t: 4 read (0.1 KiB), 3 upserts, 0 deletes, 1 dropped (1 wrong column type)"
expect_err "integer join: counts" "query o -> o: 2 rows written, 0 late, 1 filtered, 0 null key, 2 without a table row"
expect_rc "missing input file" 1 "$sluice" run "$ex1/pipeline.sql" --input "$tmp/missing.ndjson"
expect_err "missing input file: message" "cannot open"
expect_rc "unknown stream in --input" 2 "$sluice" run "$ex1/pipeline.sql" --input nosuch="$ex1/input.ndjson"
expect_err "unknown stream: message" "no stream 'nosuch'"
expect_rc "two sinks into one file" 2 "$sluice" run "$root/examples/02-rolling-balance/pipeline.sql" \
        --input "$root/examples/02-rolling-balance/input.ndjson" --output "$tmp/one.ndjson"
expect_err "two sinks: message" "must be an existing directory"

# stdin and stdout
"$sluice" run "$ex1/pipeline.sql" --input - --output - <"$ex1/input.ndjson" >"$tmp/stdin.out" 2>"$tmp/err"
if cmp -s "$tmp/stdin.out" "$ex1/expected/aggregated-transactions-topic.ndjson"; then ok "stdin to stdout"; else bad "stdin to stdout"; fi
expect_err "summary: records" "20 records"
expect_err "summary: drops by reason" "1 not JSON, 1 wrong column type, 1 missing timestamp"

# An oversize record is dropped and counted; the rest goes on.
{
        head -3 "$ex1/input.ndjson"
        printf '{"transactionId":"%s","userId":"u","amount":1,"timestamp":1678901234000}\n' \
                "$(head -c 300000 /dev/zero | tr '\0' x)"
        tail -n +4 "$ex1/input.ndjson"
} >"$tmp/big.ndjson"
expect_rc "oversize record" 0 "$sluice" run "$ex1/pipeline.sql" --input "$tmp/big.ndjson" --max-record 65536 --output "$tmp/big.out"
expect_err "oversize counted" "1 oversize"
cmp -s "$tmp/big.out" "$ex1/expected/aggregated-transactions-topic.ndjson" && ok "oversize: other rows intact" || bad "oversize: other rows intact"

# A pipe is not mappable: the same through the read() path, oversize included.
cat "$ex1/input.ndjson" | "$sluice" run "$ex1/pipeline.sql" --input - --output - >"$tmp/pipe.out" 2>"$tmp/err"
cmp -s "$tmp/pipe.out" "$ex1/expected/aggregated-transactions-topic.ndjson" && ok "pipe input" || bad "pipe input"
cat "$tmp/big.ndjson" | "$sluice" run "$ex1/pipeline.sql" --input - --max-record 65536 --output "$tmp/bigpipe.out" 2>"$tmp/err"
expect_err "pipe: oversize counted" "1 oversize"
cmp -s "$tmp/bigpipe.out" "$ex1/expected/aggregated-transactions-topic.ndjson" && ok "pipe: oversize, other rows intact" || bad "pipe: oversize, other rows intact"
# A record larger than the 4 MiB read chunk (under the limit) is read whole.
{
        head -3 "$ex1/input.ndjson"
        printf '{"transactionId":"%s","userId":"huge","amount":1,"timestamp":1678901234000}\n' \
                "$(head -c 6000000 /dev/zero | tr '\0' y)"
        tail -n +4 "$ex1/input.ndjson"
} >"$tmp/huge.ndjson"
cat "$tmp/huge.ndjson" | "$sluice" run "$ex1/pipeline.sql" --input - --output "$tmp/huge.out" 2>"$tmp/err"
grep -q '"userId":"huge"' "$tmp/huge.out" && ok "pipe: 6 MB record read whole" || { bad "pipe: 6 MB record read whole"; cat "$tmp/err" >&2; }
"$sluice" run "$ex1/pipeline.sql" --input "$tmp/huge.ndjson" --output "$tmp/huge2.out" 2>"$tmp/err"
cmp -s "$tmp/huge.out" "$tmp/huge2.out" && ok "mapped and piped input agree" || bad "mapped and piped input agree"

# Identical output for any number of workers, on a stream with disorder
# (late records), malformed lines, hopping, tumbling and session windows (with
# tombstones), CHANGES and FINAL.
"$gen" --events 200000 --keys 5000 --eps 2000 --disorder 20000 --bad 5 --seed 7 --output "$tmp/gen.ndjson"
cat >"$tmp/multi.sql" <<'SQL'
CREATE STREAM tx (transactionId STRING, userId STRING, account BIGINT, amount DOUBLE,
                  `type` STRING, `timestamp` BIGINT)
  WITH (KAFKA_TOPIC='tx', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');
CREATE TABLE tumbling_final WITH (KAFKA_TOPIC='a') AS
  SELECT userId, COUNT(*) AS n, SUM(amount) AS total, MIN(amount) AS lo, MAX(amount) AS hi,
         WINDOWSTART AS ws, WINDOWEND AS we
  FROM tx WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 5 SECONDS)
  WHERE amount > -100 GROUP BY userId HAVING COUNT(*) > 1 EMIT FINAL;
CREATE TABLE hopping_changes WITH (KAFKA_TOPIC='b') AS
  SELECT account, `type`, AVG(amount) AS avg_amount, COUNT(amount) AS n, WINDOWEND AS we
  FROM tx WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)
  GROUP BY account, `type` EMIT CHANGES;
CREATE TABLE hopping_final WITH (KAFKA_TOPIC='c') AS
  SELECT account, SUM(amount) AS total, WINDOWSTART AS ws
  FROM tx WINDOW HOPPING (SIZE 20 SECONDS, ADVANCE BY 5 SECONDS, GRACE PERIOD 2 SECONDS)
  GROUP BY account EMIT FINAL;
CREATE STREAM big_withdrawals WITH (KAFKA_TOPIC='d') AS
  SELECT transactionId, userId, amount * -1 AS withdrawn FROM tx WHERE amount < -400;
CREATE TABLE running WITH (KAFKA_TOPIC='e') AS
  SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId EMIT CHANGES;
CREATE TABLE session_final WITH (KAFKA_TOPIC='f') AS
  SELECT userId, COUNT(*) AS n, SUM(amount) AS total, WINDOWSTART AS ws, WINDOWEND AS we
  FROM tx WINDOW SESSION (3 SECONDS, GRACE PERIOD 5 SECONDS) GROUP BY userId EMIT FINAL;
CREATE TABLE session_changes WITH (KAFKA_TOPIC='g') AS
  SELECT account, COUNT(*) AS n, WINDOWSTART AS ws, WINDOWEND AS we
  FROM tx WINDOW SESSION (2 SECONDS) GROUP BY account EMIT CHANGES;
SQL
for w in 1 2 4; do
        mkdir -p "$tmp/w$w"
        "$sluice" run "$tmp/multi.sql" --input "$tmp/gen.ndjson" --output "$tmp/w$w" --workers "$w" --no-pin 2>"$tmp/err$w" ||
                { bad "multi run with $w workers"; cat "$tmp/err$w" >&2; }
done
same=1
for f in a b c d e f g; do
        [ -s "$tmp/w1/$f.ndjson" ] || { bad "multi: sink $f is empty"; same=0; }
        cmp -s "$tmp/w1/$f.ndjson" "$tmp/w2/$f.ndjson" && cmp -s "$tmp/w1/$f.ndjson" "$tmp/w4/$f.ndjson" ||
                { bad "multi: sink $f differs between worker counts"; same=0; }
done
[ $same = 1 ] && ok "identical output for 1, 2, 4 workers ($(cat "$tmp"/w1/*.ndjson | wc -l) rows)"
grep -q '"value":null' "$tmp/w1/g.ndjson" && ok "session tombstones written" || bad "session tombstones written"
late=$(sed -n 's/.*query tumbling_final.* written, \([0-9]*\) late.*/\1/p' "$tmp/err1")
[ "${late:-0}" -gt 0 ] && ok "late records counted ($late)" || { bad "late records counted"; cat "$tmp/err1" >&2; }
[ "$fails" = 0 ] || { echo "$fails failures" >&2; exit 1; }
