#!/bin/sh
# state.max.bytes: with a limit far below what the input needs, sluice
# pauses consumption and warns, then (the state cannot shrink: windows close
# only as input advances stream time) commits what it processed and stops
# with exit code 4 and a message naming the limit.  Restarted with room, it
# goes on from the committed offsets: the committed view is exactly file
# mode's rows (one per input record), nothing lost, nothing twice.
#   kafka_limits.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "cat $tmp/first.log" EXIT
sql=$src/tests/kafka/faults.sql
fail() { echo "kafka_limits: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

"$build/tools/sluice-gen" --events 60000 --keys 60000 --eps 100 --seed 3 --output "$tmp/in.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/in.ndjson" --output "$tmp/file" --quiet

"$build/tools/sluice-mock" --topic transactions:4 --topic running:4 --port-file "$tmp/port" \
        >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")
# The input arrives over 3 s, so that little is in flight when the limit
# is reached (records already handed to the workers are still processed).
"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
        --set state.max.bytes=40000000 --set state.full.timeout.ms=2000 \
        --set "sluice.txn.log=$tmp/txn" >/dev/null 2>"$tmp/first.log" &
sl=$!
pids="$pids $sl"
i=0
while ! grep -q "assigned transactions" "$tmp/first.log"; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "sluice was never assigned partitions"; sleep 0.1
done
"$build/tools/sluice-gen" --from "$tmp/in.ndjson" --key-field userId --bootstrap "$bs" \
        --topic transactions --rate 20000 2>"$tmp/gen.log"
set +e
wait "$sl"
rc=$?
set -e
[ $rc -eq 4 ] || fail "over state.max.bytes: exit code $rc, expected 4"
grep -q "warning: state.max.bytes reached" "$tmp/first.log" || fail "no warning when the limit was reached"
grep -q "sluice: state.max.bytes reached: the state holds .* keys (limit 38.1 MiB)" "$tmp/first.log" ||
        fail "no clear message at the stop"
# It stopped part-way: the restart has records left to read.
first=$(sed -n 's/^sluice: \([0-9]*\) records in .*/\1/p' "$tmp/first.log")
[ -n "$first" ] && [ "$first" -lt 60000 ] || fail "the first run read ${first:-no} records; expected a stop part-way"
echo "kafka_limits: the first run stopped at the limit after $first of 60000 records"

"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status --bounded \
        --set state.max.bytes=1000000000 --set "sluice.txn.log=$tmp/txn" >/dev/null 2>"$tmp/second.log" ||
        fail "the restart with room exited with $?"
kcat -C -b "$bs" -t running -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw"
python3 "$src/tests/kafka_committed.py" "$tmp/out.raw" "$tmp/file/running.ndjson" "$tmp/txn" ||
        fail "the committed view differs from file mode"
