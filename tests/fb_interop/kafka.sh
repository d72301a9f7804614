#!/bin/sh
# FlatBuffers in Kafka mode: one bare buffer per message value, in and out.
#   kafka.sh BUILD_DIR FB_INTEROP SRCDIR
# Records built by flatc-generated C++ (interop.cc) are replayed into a topic
# of a mock cluster by sluice-gen (one buffer per message), sluice runs
# interop.sql against it (exactly-once, --bounded), and every output message
# must pass flatc's Verifier as a bare buffer and hold the rows of the
# file-mode JSON twin of the same records, compared as multisets.  The grace
# period is raised to an hour in both runs: per_sensor is repartitioned, and
# with stream time per partition other records would be late than in a file.
set -eu
build=$1 interop=$2 src=$3
sluice=$build/tools/sluice
tmp=$(mktemp -d)
mock_pid=""
cleanup() {
        [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
command -v kcat >/dev/null || { echo "fb-kafka: kcat is missing (tools/setup): skipped" >&2; exit 77; }

"$build/tools/sluice-mock" --partitions 2 --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
mock_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "fb-kafka: sluice-mock did not start" >&2; cat "$tmp/mock.log" >&2; exit 1; }
        sleep 0.1
done
bs=$(cat "$tmp/port")

"$interop" write 5000 "$tmp/in.fb" "$tmp/in.ndjson"
"$build/tools/sluice-gen" --from "$tmp/in.fb" --format flatbuffers --bootstrap "$bs" --topic readings \
        2>"$tmp/gen.log" || { cat "$tmp/gen.log" >&2; exit 1; }
sed "s/GRACE PERIOD 1 SECOND/GRACE PERIOD 1 HOUR/" "$src/interop.sql" >"$tmp/fb.sql"
if ! timeout 120 "$sluice" run "$tmp/fb.sql" --bootstrap "$bs" --group "fb-$$" --bounded \
        --workers 2 --no-pin --no-status 2>"$tmp/run.log"; then
        echo "fb-kafka: sluice failed:" >&2
        cat "$tmp/run.log" >&2
        exit 1
fi
sed "s/'FLATBUFFERS'/'JSON'/g" "$tmp/fb.sql" >"$tmp/json.sql"
mkdir "$tmp/json"
"$sluice" run "$tmp/json.sql" --input "$tmp/in.ndjson" --output "$tmp/json" --workers 1 --no-pin 2>"$tmp/json.log"
for q in per_sensor passed; do
        kcat -C -b "$bs" -t "$q" -e -q -X isolation.level=read_committed -f '%R%s' >"$tmp/$q.kafka" 2>"$tmp/kcat.log" ||
                { echo "fb-kafka: reading $q failed" >&2; cat "$tmp/kcat.log" >&2; exit 1; }
        "$interop" read-kafka $q "$tmp/$q.kafka" >"$tmp/$q.read.ndjson"
        python3 - "$tmp/json/$q.ndjson" "$tmp/$q.read.ndjson" <<'PY'
import json, sys
key = lambda r: json.dumps(r, sort_keys=True)
want = sorted((json.loads(l) for l in open(sys.argv[1])), key=key)
got = sorted((json.loads(l) for l in open(sys.argv[2])), key=key)
if len(want) < 100 or want != got:
    sys.exit("fb-kafka: %s: %d rows in file mode (JSON), %d messages from Kafka (FlatBuffers) differ"
             % (sys.argv[1], len(want), len(got)))
PY
done
echo "fb-kafka: ok" >&2
