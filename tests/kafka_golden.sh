#!/bin/sh
# Kafka golden test of one example: the example's input goes into a
# 4-partition topic of a mock cluster (keyed by the KEY column, as producers
# of the users' topics do), sluice runs the pipeline against it (exactly-once,
# --bounded: it stops at the end of the input and closes every window, as
# file mode does), and the rows read back from each output topic must be the
# example's expected rows: the same multiset of values, each with the message
# key = its GROUP BY value and, for windowed tables, timestamp = window end.
#   kafka_golden.sh BUILD_DIR EXAMPLE_DIR [WORKERS]
set -eu
build=$1
dir=$2
workers=${3:-2}
sluice=$build/tools/sluice
tmp=$(mktemp -d)
mock_pid=""
cleanup() {
        [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

"$sluice" explain "$dir/pipeline.sql" >"$tmp/plan"
# source NAME <- topic 'TOPIC', ...   /  columns: a T KEY, ...
topics=$(sed -n "s/^source \([^ ]*\) *<- topic '\([^']*\)'.*/\1 \2/p" "$tmp/plan")
"$build/tools/sluice-mock" --partitions 4 --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
mock_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "kafka_golden: sluice-mock did not start" >&2; cat "$tmp/mock.log" >&2; exit 1; }
        sleep 0.1
done
bs=$(cat "$tmp/port")

echo "$topics" | while read -r stream topic; do
        [ -n "$stream" ] || continue
        if [ -f "$dir/input.ndjson" ]; then input=$dir/input.ndjson; else input=$dir/inputs/$stream.ndjson; fi
        [ -f "$input" ] || continue
        # a table's PRIMARY KEY column, else a stream's KEY column
        key=$(sed -n "/^source $stream /,/^$/s/^  columns: \(.*, \)\{0,1\}\([A-Za-z_0-9]*\) [A-Z]* PRIMARY KEY.*/\2/p" "$tmp/plan" | head -1)
        [ -n "$key" ] ||
                key=$(sed -n "/^source $stream /,/^$/s/^  columns:.* \([A-Za-z_0-9]*\) [A-Z]* KEY.*/\1/p" "$tmp/plan" | head -1)
        keyopt=""
        [ -z "$key" ] || keyopt="--key-field $key"
        # shellcheck disable=SC2086
        "$build/tools/sluice-gen" --from "$input" $keyopt --bootstrap "$bs" --topic "$topic" 2>"$tmp/gen.log" ||
                { echo "kafka_golden: loading $input failed:" >&2; cat "$tmp/gen.log" >&2; exit 1; }
done

if ! timeout 120 "$sluice" run "$dir/pipeline.sql" --bootstrap "$bs" --group "golden-$$" \
        --bounded --workers "$workers" --no-pin --no-status 2>"$tmp/run.log"; then
        echo "kafka_golden: $dir: sluice failed:" >&2
        cat "$tmp/run.log" >&2
        exit 1
fi
status=0
for exp in "$dir"/expected/*.ndjson; do
        topic=$(basename "$exp" .ndjson)
        # key TAB timestamp TAB value; session windows have binary keys
        # (the window in big-endian) and tombstones: lengths go first.
        fmt='%k\t%T\t%s\n' check=""
        if grep -qi "WINDOW *SESSION" "$dir/pipeline.sql"; then
                fmt='%K\t%k\t%T\t%S\t%s\n' check=--session
        fi
        kcat -C -b "$bs" -t "$topic" -e -q -X isolation.level=read_committed \
                -f "$fmt" >"$tmp/$topic.raw" 2>"$tmp/kcat.log" ||
                { echo "kafka_golden: reading $topic failed" >&2; cat "$tmp/kcat.log" >&2; exit 1; }
        # shellcheck disable=SC2086
        if ! python3 "$(dirname "$0")/kafka_check.py" "$dir/pipeline.sql" "$topic" "$exp" "$tmp/$topic.raw" $check; then
                status=1
                echo "kafka_golden: $dir: topic $topic differs from file mode; sluice said:" >&2
                cat "$tmp/run.log" >&2
        fi
done
[ $status -ne 0 ] || echo "kafka_golden: $dir: every topic matches file mode ($workers workers)"
exit $status
