#!/bin/sh
# A burst of 10x the sustained rate is absorbed without loss: while sluice
# runs (exactly-once, 2 workers), sluice-gen produces 15,000 records at
# 3,000/s, then 60,000 at 30,000/s, into the mock cluster.  sluice must not
# stop, and the committed view of its output (rows of committed
# transactions, from sluice.txn.log and the sluice.txn header: what a
# read_committed consumer of real Kafka would see) must be exactly file
# mode's rows: one per input record (tests/kafka/faults.sql, EMIT CHANGES),
# none missing, none twice.  The generator's own measured rates must show
# the burst (at least 5x the steady rate: the machine is shared, so the
# 10x asked for is checked with room).  sluice runs unbounded and is
# stopped once the committed view is complete (--bounded would stop
# whenever it catches up with the steady phase).  The input (about 9 MB)
# fits in what the mock keeps per partition, so a missing row is sluice's.
#   kafka_burst.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
sql=$src/tests/kafka/faults.sql
fail() { echo "kafka_burst: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }
steady=15000 rate=3000 burst=60000

"$build/tools/sluice-gen" --events $((steady + burst)) --keys 300 --eps 100 --seed 9 --output "$tmp/in.ndjson"
head -n $steady "$tmp/in.ndjson" >"$tmp/steady.ndjson"
tail -n +$((steady + 1)) "$tmp/in.ndjson" >"$tmp/burst.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/in.ndjson" --output "$tmp/file" --quiet
[ "$(wc -l <"$tmp/file/running.ndjson")" -eq $((steady + burst)) ] || fail "file mode: not one row per record"

"$build/tools/sluice-mock" --topic transactions:4 --topic running:4 --port-file "$tmp/port" \
        >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")
"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
        --set "sluice.txn.log=$tmp/txn" >/dev/null 2>"$tmp/sluice.log" &
sl=$!
pids="$pids $sl"
i=0
while ! grep -q "assigned transactions" "$tmp/sluice.log"; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "sluice was never assigned partitions"; sleep 0.1
done
"$build/tools/sluice-gen" --from "$tmp/steady.ndjson" --key-field userId --bootstrap "$bs" \
        --topic transactions --rate $rate 2>"$tmp/gen-steady.log" || fail "the steady generator failed"
"$build/tools/sluice-gen" --from "$tmp/burst.ndjson" --key-field userId --bootstrap "$bs" \
        --topic transactions --rate $((rate * 10)) 2>"$tmp/gen-burst.log" || fail "the burst generator failed"
t_end=$(date +%s.%N)
eps() { sed -n 's/.* (\([0-9]*\) events\/s), 0 failed$/\1/p' "$1"; }
s_eps=$(eps "$tmp/gen-steady.log")
b_eps=$(eps "$tmp/gen-burst.log")
[ -n "$s_eps" ] && [ -n "$b_eps" ] || fail "no rate in the generators' reports (or a send failed)"
echo "kafka_burst: produced $steady records at $s_eps/s, then $burst at $b_eps/s"
[ "$b_eps" -ge $((s_eps * 5)) ] || fail "the burst was $b_eps/s, not 5x the steady $s_eps/s (machine too busy?)"
check() {
        kcat -C -b "$bs" -t running -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw" 2>/dev/null
        python3 "$src/tests/kafka_committed.py" "$tmp/out.raw" "$tmp/file/running.ndjson" "$tmp/txn" "$@"
}
i=0
until check --quiet; do
        kill -0 "$sl" 2>/dev/null || fail "sluice exited during the burst"
        i=$((i + 1)); [ $i -lt 60 ] || break
        sleep 0.5
done
echo "kafka_burst: committed view complete $(awk -v a="$t_end" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the burst ended"
kill -TERM "$sl"
wait "$sl" || fail "sluice exited with $? after SIGTERM"
grep -hE "kafka:" "$tmp/sluice.log" || true
printf 'kafka_burst: '
check || fail "the committed view differs from file mode"
