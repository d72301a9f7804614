#!/bin/sh
# Kafka mode gives file mode's rows: generated transactions (no late records)
# go into a 4-partition topic of the mock cluster, keyed by userId; sluice
# runs tests/kafka/equiv.sql against it (exactly-once, --bounded) with
# WORKERS workers, and each output topic must hold exactly the rows of a
# file-mode run over the same file (as multisets; keys and timestamps
# checked too).
#   kafka_equiv.sh BUILD_DIR SOURCE_DIR [EVENTS] [WORKERS]
set -eu
build=$1
src=$2
events=${3:-100000}
workers=${4:-2}
tmp=$(mktemp -d)
mock_pid=""
cleanup() {
        [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
sql=$src/tests/kafka/equiv.sql

"$build/tools/sluice-gen" --events "$events" --keys 3000 --eps 200 --seed 7 --output "$tmp/in.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/in.ndjson" --output "$tmp/file" --workers 2 --quiet

"$build/tools/sluice-mock" --partitions 4 --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
mock_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "kafka_equiv: sluice-mock did not start" >&2; exit 1; }
        sleep 0.1
done
bs=$(cat "$tmp/port")
"$build/tools/sluice-gen" --from "$tmp/in.ndjson" --key-field userId --bootstrap "$bs" \
        --topic transactions 2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; exit 1; }
if ! timeout 300 "$build/tools/sluice" run "$sql" --bootstrap "$bs" --bounded \
        --workers "$workers" --no-pin --no-status 2>"$tmp/run.log"; then
        echo "kafka_equiv: sluice failed:" >&2
        cat "$tmp/run.log" >&2
        exit 1
fi
status=0
for exp in "$tmp"/file/*.ndjson; do
        topic=$(basename "$exp" .ndjson)
        kcat -C -b "$bs" -t "$topic" -e -q -f '%k\t%T\t%s\n' >"$tmp/$topic.raw"
        python3 "$src/tests/kafka_check.py" "$sql" "$topic" "$exp" "$tmp/$topic.raw" || status=1
done
grep -E "kafka:|latency|records in" "$tmp/run.log" || true
[ $status -eq 0 ] || { echo "kafka_equiv: output differs; sluice said:" >&2; cat "$tmp/run.log" >&2; }
exit $status
