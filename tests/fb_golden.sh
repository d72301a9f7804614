#!/bin/sh
# FlatBuffers golden tests: FlatBuffers input gives the rows JSON input gives.
#   fb_golden.sh SLUICE SLUICE_GEN FB_CONVERT ROOT
# 1. Every example of ROOT/examples, its stream switched to
#    VALUE_FORMAT = 'FLATBUFFERS' and its input converted by fb_convert, writes
#    its expected/ files byte for byte with 1, 2 and 4 workers.
# 2. sluice-gen's events (disorder, damaged records) as NDJSON and as
#    FlatBuffers (same seed: the same events; the FlatBuffers are written by
#    the generator's own writer, not sluice's) through tests/fb_golden.sql and
#    its JSON twin: the same rows, byte for byte, and the same counts.
set -eu
sluice=$1 gen=$2 convert=$3 root=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for dir in "$root"/examples/*/; do
        [ -f "$dir/input.ndjson" ] || continue
        name=$(basename "$dir")
        # Inputs only: sinks keep their format, so expected/ still applies.
        sed -E "/CREATE +STREAM/,/;/s/VALUE_FORMAT *= *'JSON'/VALUE_FORMAT = 'FLATBUFFERS'/I" \
                "$dir/pipeline.sql" >"$tmp/$name.sql"
        if ! grep -q "'FLATBUFFERS'" "$tmp/$name.sql"; then
                echo "fb-golden: $name: skipped (its stream does not say VALUE_FORMAT = 'JSON')" >&2
                continue
        fi
        "$convert" "$tmp/$name.sql" <"$dir/input.ndjson" >"$tmp/$name.fb" 2>/dev/null
        for w in 1 2 4; do
                out="$tmp/$name-w$w"
                mkdir "$out"
                "$sluice" run "$tmp/$name.sql" --input "$tmp/$name.fb" --output "$out" --workers $w --no-pin 2>"$tmp/log" || {
                        cat "$tmp/log" >&2
                        exit 1
                }
                for exp in "$dir"/expected/*.ndjson; do
                        if ! cmp -s "$exp" "$out/$(basename "$exp")"; then
                                echo "fb-golden: $name: $(basename "$exp") differs with --workers $w" >&2
                                diff "$exp" "$out/$(basename "$exp")" | head -10 >&2 || true
                                status=1
                        fi
                done
        done
done

# A stream-table join: the orders stream as FlatBuffers (only the columns the
# queries read are decoded: the join key must be among them), the table in JSON.
ex="$root/examples/05-order-enrichment"
sed -E "/CREATE +STREAM orders/,/;/s/VALUE_FORMAT *= *'JSON'/VALUE_FORMAT = 'FLATBUFFERS'/I" \
        "$ex/pipeline.sql" >"$tmp/join.sql"
{ sed -n '/CREATE STREAM orders/,/;/p' "$tmp/join.sql"; echo "CREATE STREAM x AS SELECT orderId FROM orders;"; } \
        >"$tmp/join_stream.sql"
"$convert" "$tmp/join_stream.sql" <"$ex/inputs/orders.ndjson" >"$tmp/orders.fb" 2>/dev/null
for w in 1 2 4; do
        out="$tmp/join-w$w"
        mkdir "$out"
        "$sluice" run "$tmp/join.sql" --input orders="$tmp/orders.fb" --input customers="$ex/inputs/customers.ndjson" \
                --output "$out" --workers $w --no-pin 2>"$tmp/log" || {
                cat "$tmp/log" >&2
                exit 1
        }
        for exp in "$ex"/expected/*.ndjson; do
                if ! cmp -s "$exp" "$out/$(basename "$exp")"; then
                        echo "fb-golden: join: $(basename "$exp") differs with --workers $w" >&2
                        diff "$exp" "$out/$(basename "$exp")" | head -10 >&2 || true
                        status=1
                fi
        done
done

# The generator, both formats.
flags="--events 60000 --keys 700 --eps 2000 --disorder 4000 --bad 15 --seed 11"
"$gen" $flags --output "$tmp/gen.ndjson"
"$gen" $flags --format flatbuffers --output "$tmp/gen.fb"
sed "s/'FLATBUFFERS'/'JSON'/" "$root/tests/fb_golden.sql" >"$tmp/gen_json.sql"
counts() {
        sed -n 's/^  stream \([^:]*\): \([0-9]*\) read ([^)]*), \([0-9]*\) dropped.*/\1 \2 \3/p
                s/^  query \(.*\): \([0-9]*\) rows written, \([0-9]*\) late, \([0-9]*\) filtered, \([0-9]*\) null key.*/\1 \2 \3 \4 \5/p' "$1"
}
mkdir "$tmp/gj"
"$sluice" run "$tmp/gen_json.sql" --input "$tmp/gen.ndjson" --output "$tmp/gj" --workers 2 --no-pin 2>"$tmp/gj.log"
counts "$tmp/gj.log" >"$tmp/gj.counts"
for w in 1 2 4; do
        out="$tmp/gf$w"
        mkdir "$out"
        "$sluice" run "$root/tests/fb_golden.sql" --input "$tmp/gen.fb" --output "$out" --workers $w --no-pin 2>"$tmp/gf.log"
        counts "$tmp/gf.log" >"$tmp/gf.counts"
        if ! cmp -s "$tmp/gj.counts" "$tmp/gf.counts"; then
                echo "fb-golden: sluice-gen: counts differ with --workers $w:" >&2
                diff "$tmp/gj.counts" "$tmp/gf.counts" >&2 || true
                status=1
        fi
        for f in "$tmp"/gj/*.ndjson; do
                if [ ! -s "$f" ] || ! cmp -s "$f" "$out/$(basename "$f")"; then
                        echo "fb-golden: sluice-gen: $(basename "$f") differs (or is empty) with --workers $w" >&2
                        status=1
                fi
        done
done
exit $status
