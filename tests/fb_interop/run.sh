#!/bin/sh
# FlatBuffers interop with flatc-generated C++ (see interop.cc):
#   run.sh SLUICE FB_INTEROP SRCDIR
#   run.sh --missing        (flatc or libflatbuffers-dev not found: skip)
# 1. interop.fbs, which the C++ is compiled from, is what `sluice schema`
#    prints for interop.sql;
# 2. records built by the generated builder (size-prefixed) go through the
#    pipeline, and the same records as NDJSON through its JSON twin: the same
#    records read, dropped, late, filtered;
# 3. sluice's FlatBuffers rows pass flatc's Verifier (as files and as Kafka
#    message values) and, read with the generated accessors, equal the JSON
#    twin's rows, in the same order.
set -eu
if [ "${1:-}" = --missing ]; then
        echo "fb-interop: flatc or libflatbuffers-dev is missing (tools/setup installs them): skipped" >&2
        exit 77
fi
sluice=$1 interop=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$sluice" schema "$src/interop.sql" >"$tmp/schema.fbs"
if ! cmp -s "$src/interop.fbs" "$tmp/schema.fbs"; then
        echo "fb-interop: interop.fbs is not what 'sluice schema interop.sql' prints:" >&2
        diff "$src/interop.fbs" "$tmp/schema.fbs" >&2 || true
        exit 1
fi

"$interop" write 20000 "$tmp/in.fb" "$tmp/in.ndjson"
sed "s/'FLATBUFFERS'/'JSON'/g" "$src/interop.sql" >"$tmp/json.sql"
mkdir "$tmp/fb" "$tmp/json"
for w in 1 3; do
        "$sluice" run "$src/interop.sql" --input "$tmp/in.fb" --output "$tmp/fb" --workers $w --no-pin 2>"$tmp/fb.log"
        "$sluice" run "$tmp/json.sql" --input "$tmp/in.ndjson" --output "$tmp/json" --workers $w --no-pin 2>"$tmp/json.log"
        # Counts: records read and dropped, and per query rows, late, filtered, null keys.
        counts() {
                sed -n 's/^  stream \([^:]*\): \([0-9]*\) read ([^)]*), \([0-9]*\) dropped.*/\1 \2 \3/p
                        s/^  query \(.*\): \([0-9]*\) rows written, \([0-9]*\) late, \([0-9]*\) filtered, \([0-9]*\) null key.*/\1 \2 \3 \4 \5/p' "$1"
        }
        counts "$tmp/fb.log" >"$tmp/fb.counts"
        counts "$tmp/json.log" >"$tmp/json.counts"
        if ! cmp -s "$tmp/fb.counts" "$tmp/json.counts" || [ ! -s "$tmp/fb.counts" ]; then
                echo "fb-interop: counts differ between FlatBuffers and JSON input (--workers $w):" >&2
                diff "$tmp/json.counts" "$tmp/fb.counts" >&2 || true
                cat "$tmp/fb.log" >&2
                exit 1
        fi
        for q in per_sensor passed; do
                "$interop" read $q "$tmp/fb/$q.fb" >"$tmp/$q.read.ndjson"
                python3 - "$tmp/json/$q.ndjson" "$tmp/$q.read.ndjson" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
if len(want) < 100:
    sys.exit("fb-interop: only %d rows in %s" % (len(want), sys.argv[1]))
if want != got:
    bad = next(i for i in range(min(len(want), len(got))) if want[i] != got[i]) if any(
        want[i] != got[i] for i in range(min(len(want), len(got)))) else min(len(want), len(got))
    sys.exit("fb-interop: %s: %d rows from JSON, %d from FlatBuffers; first difference at row %d:\n  %s\n  %s"
             % (sys.argv[1], len(want), len(got), bad, want[bad] if bad < len(want) else None,
                got[bad] if bad < len(got) else None))
PY
        done
done
echo "fb-interop: ok ($(cat "$tmp/fb.counts" | tr '\n' ';'))" >&2
