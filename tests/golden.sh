#!/bin/sh
# Golden test of one example: runs the pipeline over its input with 1, 2
# and 4 workers and compares every sink's output with the expected file,
# byte for byte.
#   golden.sh SLUICE EXAMPLE_DIR
# Example layout: pipeline.sql; input.ndjson, or inputs/<stream>.ndjson for
# several streams; expected/<topic>.ndjson, one per sink.
set -eu
sluice=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inputs=""
if [ -f "$dir/input.ndjson" ]; then
        inputs="--input $dir/input.ndjson"
else
        for f in "$dir"/inputs/*.ndjson; do
                inputs="$inputs --input $(basename "$f" .ndjson)=$f"
        done
fi
[ -d "$dir/expected" ] || { echo "golden: $dir/expected/ is missing" >&2; exit 1; }
status=0
for w in 1 2 4; do
        out="$tmp/w$w"
        mkdir -p "$out"
        # shellcheck disable=SC2086
        if ! "$sluice" run "$dir/pipeline.sql" $inputs --output "$out" --workers "$w" --no-pin 2>"$tmp/stderr"; then
                echo "golden: $dir: sluice failed with --workers $w:" >&2
                cat "$tmp/stderr" >&2
                exit 1
        fi
        for exp in "$dir"/expected/*.ndjson; do
                got="$out/$(basename "$exp")"
                if ! cmp -s "$exp" "$got"; then
                        echo "golden: $dir: $(basename "$exp") differs with --workers $w:" >&2
                        diff "$exp" "$got" | head -20 >&2 || true
                        status=1
                fi
        done
        n_exp=$(ls "$dir"/expected/*.ndjson | wc -l)
        n_got=$(ls "$out"/*.ndjson | wc -l)
        if [ "$n_exp" != "$n_got" ]; then
                echo "golden: $dir: $n_got sinks written, $n_exp expected" >&2
                status=1
        fi
done
exit $status
