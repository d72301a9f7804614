#!/bin/sh
# A stream-table join on the mock cluster, with the table changing while
# sluice runs: the table is read to its end before the first order (orders
# 1 and 2 see the first rows), then an update (c1 -> platinum), a tombstone
# (c2: a null value deletes the row) and a row without a message key (c3:
# the primary key comes from the value) arrive while sluice runs, and the
# orders produced after them must see the new table (LEFT JOIN: c2's order
# gets a NULL tier).  The summary counts the table's upserts and deletes.
#   kafka_join.sh BUILD_DIR
set -eu
build=$1
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "kafka_join: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

cat >"$tmp/join.sql" <<'SQL'
CREATE STREAM orders (orderId STRING, customerId STRING KEY, amount DOUBLE)
  WITH (KAFKA_TOPIC = 'orders');
CREATE TABLE customers (id STRING PRIMARY KEY, tier STRING)
  WITH (KAFKA_TOPIC = 'customers');
CREATE STREAM enriched WITH (KAFKA_TOPIC = 'enriched') AS
  SELECT o.orderId, o.customerId, c.tier
  FROM orders o LEFT JOIN customers c ON o.customerId = c.id;
SQL

"$build/tools/sluice-mock" --topic orders:2 --topic customers:3 --topic enriched:1 \
        --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")

produce() { # TOPIC: KEY<tab>VALUE lines on stdin; an empty value is a null value (-Z)
        kcat -P -b "$bs" -t "$1" -K '	' -Z 2>>"$tmp/kcat.log" || fail "kcat could not produce to $1"
}
rows() { # the committed rows of enriched
        kcat -C -b "$bs" -t enriched -e -q -X isolation.level=read_committed -f '%s\n' 2>/dev/null || true
}
wait_rows() { # N: until enriched holds N committed rows
        i=0
        while [ "$(rows | grep -c orderId)" -lt "$1" ]; do
                i=$((i + 1)); [ $i -lt 300 ] || fail "enriched has $(rows | grep -c orderId) rows, want $1"
                sleep 0.1
        done
}

printf 'c1\t{"id":"c1","tier":"gold"}\nc2\t{"id":"c2","tier":"silver"}\n' | produce customers
printf 'c1\t{"orderId":"o1","customerId":"c1","amount":10.0}\nc2\t{"orderId":"o2","customerId":"c2","amount":20.0}\n' |
        produce orders

"$build/tools/sluice" run "$tmp/join.sql" --bootstrap "$bs" --group join-$$ --workers 2 --no-pin \
        --no-status --set commit.interval.ms=200 >/dev/null 2>"$tmp/sluice.log" &
sl=$!
pids="$pids $sl"
wait_rows 2
grep -q "tables read to their end" "$tmp/sluice.log" || fail "no bootstrap line"

# The table changes while sluice runs; give the update time to reach the
# workers (it travels on another consumer than the orders).
printf 'c1\t{"id":"c1","tier":"platinum"}\nc2\t\n' | produce customers
printf '{"id":"c3","tier":"bronze"}\n' >"$tmp/nokey.ndjson"
kcat -P -b "$bs" -t customers -l "$tmp/nokey.ndjson" 2>>"$tmp/kcat.log" || fail "kcat could not produce"
sleep 3
printf 'c1\t{"orderId":"o3","customerId":"c1","amount":30.0}\nc2\t{"orderId":"o4","customerId":"c2","amount":40.0}\nc3\t{"orderId":"o5","customerId":"c3","amount":50.0}\n' |
        produce orders
wait_rows 5
kill -TERM "$sl"
wait "$sl" || fail "sluice exited with $? after SIGTERM"

rows | sort >"$tmp/got"
cat >"$tmp/want" <<'EOF'
{"orderId":"o1","customerId":"c1","tier":"gold"}
{"orderId":"o2","customerId":"c2","tier":"silver"}
{"orderId":"o3","customerId":"c1","tier":"platinum"}
{"orderId":"o4","customerId":"c2","tier":null}
{"orderId":"o5","customerId":"c3","tier":"bronze"}
EOF
sort "$tmp/want" -o "$tmp/want"
if ! cmp -s "$tmp/want" "$tmp/got"; then
        diff "$tmp/want" "$tmp/got" >&2 || true
        fail "enriched differs"
fi
grep -q "table customers: 5 read ([^)]*), 4 upserts, 1 deletes, 0 dropped" "$tmp/sluice.log" ||
        fail "the summary does not count 4 upserts and 1 delete"
echo "kafka_join: bootstrap, a live update, a tombstone and a keyless row joined as expected"
