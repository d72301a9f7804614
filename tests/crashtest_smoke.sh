#!/bin/sh
# tools/sluice-crashtest itself, briefly: 3 kills of sluice running an EMIT
# FINAL pipeline (examples/01-moving-average) with checkpoints every 500 ms,
# on the mock cluster; the tool's last run is bounded, so the rows of the
# last windows, still open while input flows, are expected and checked
# too.  The tool must report PASS: the committed view equals file mode.
#   crashtest_smoke.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tools/sluice-gen" --events 12000 --keys 200 --eps 10 --seed 4 --output "$tmp/in.ndjson"
"$src/tools/sluice-crashtest" "$src/examples/01-moving-average/pipeline.sql" "$tmp/in.ndjson" \
        --kills 3 --rate 1000 --build "$build" --checkpoint-dir "$tmp/ck" --seed 3 \
        --set checkpoint.interval.ms=500 >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
grep -v '^%' "$tmp/out" | grep -E '^sluice-crashtest|committed rows|  ' 
grep -q "^sluice-crashtest: PASS" "$tmp/out"
