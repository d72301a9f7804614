#!/bin/sh
# Instructions per event, repeatable on a noisy machine: runs a pipeline
# under valgrind's callgrind on a generated input and divides the total
# instruction count by the number of events.  Prints the top functions.
#
#   perf/callgrind.sh [BUILD_DIR] [--events N] [--keys K] [--pipeline FILE]
#
# Runs with one worker; callgrind serialises threads, so the total counts
# every thread's instructions (reader, worker, merger).
set -eu
build=build
case "${1:-}" in --*|"") ;; *) build=$1; shift ;; esac
events=200000 keys=20000
root=$(cd "$(dirname "$0")/.." && pwd)
pipeline=$root/bench/scenarios/tumbling_avg_count.sql
while [ $# -gt 0 ]; do
        case $1 in
        --events) events=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        *) echo "callgrind: unknown argument $1" >&2; exit 2 ;;
        esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tools/sluice-gen" --events "$events" --keys "$keys" --eps 100000 --output "$tmp/in.ndjson"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        "$build/tools/sluice" run "$pipeline" --input "$tmp/in.ndjson" --output "$tmp/out.ndjson" \
        --workers 1 --no-pin --quiet 2>"$tmp/vg.log"
total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$tmp/cg.out" | head -1)
echo "instructions: $total for $events events = $(awk -v t="$total" -v n="$events" 'BEGIN { printf "%.0f", t / n }') per event"
callgrind_annotate "$tmp/cg.out" 2>/dev/null | sed -n '/Ir/,$p' | head -30
