#!/bin/sh
# FlatBuffers in Kafka mode: one bare buffer per message value, in and out.
#   kafka.sh BUILD_DIR FB_INTEROP SRCDIR
# Records built by flatc-generated C++ (interop.cc) are replayed into a topic
# of a mock cluster by sluice-gen (one buffer per message), sluice runs
# interop.sql against it (exactly-once, --bounded), and every output message
# must pass flatc's Verifier as a bare buffer and hold the rows of the
# file-mode JSON twin of the same records, compared as multisets (doubles
# to 1e-9 relative: see below).  The grace
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
import json, math, sys
# per_sensor is repartitioned: a sensor's records reach its worker from two
# partitions, interleaved in an order that depends on timing, and a sum of
# doubles depends on its order in the last bits.  Rows are matched on their
# other fields, doubles compared to 1e-9 relative.
def split(r):
    exact = {k: v for k, v in r.items() if not isinstance(v, float)}
    return json.dumps(exact, sort_keys=True), {k: v for k, v in r.items() if isinstance(v, float)}
def rows(path):
    return sorted((split(json.loads(l)) for l in open(path)), key=lambda t: (t[0], sorted(t[1].items())))
want, got = rows(sys.argv[1]), rows(sys.argv[2])
same = len(want) == len(got) and all(
    w[0] == g[0] and w[1].keys() == g[1].keys() and
    all(math.isclose(w[1][k], g[1][k], rel_tol=1e-9, abs_tol=1e-9) for k in w[1])
    for w, g in zip(want, got))
if len(want) < 100 or not same:
    sys.exit("fb-kafka: %s: %d rows in file mode (JSON), %d messages from Kafka (FlatBuffers) differ"
             % (sys.argv[1], len(want), len(got)))
PY
done
echo "fb-kafka: ok" >&2
