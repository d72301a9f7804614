#!/bin/sh
# End-to-end file-mode benchmark: generates N events over K keys (cached),
# runs `sluice run` on them R times per worker count, and prints a Markdown
# table of medians: events/s, events/s per worker, wall time, peak RSS.
#
#   bench/e2e.sh [BUILD_DIR] [--events N] [--keys K] [--eps R] [--workers "1 2"]
#                [--repeat R] [--pipeline FILE]
#
# Default scenario (bench/RESULTS.md): 10M events over 1M keys, event time at
# 100k events/s (so 100 s of event time), 5-minute tumbling AVG and COUNT,
# EMIT FINAL.  The input is read from page cache (a warm-up run reads it first).
set -eu
build=build
case "${1:-}" in --*|"") ;; *) build=$1; shift ;; esac
events=10000000 keys=1000000 eps=100000 workers="1 2" repeat=3
root=$(cd "$(dirname "$0")/.." && pwd)
pipeline=$root/bench/scenarios/tumbling_avg_count.sql
while [ $# -gt 0 ]; do
        case $1 in
        --events) events=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --eps) eps=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        *) echo "e2e: unknown argument $1" >&2; exit 2 ;;
        esac
done
sluice=$build/tools/sluice
gen=$build/tools/sluice-gen
cache=${SLUICE_BENCH_CACHE:-${TMPDIR:-/tmp}/sluice-bench}
mkdir -p "$cache"
data=$cache/ev-$events-$keys-$eps.ndjson
if [ ! -f "$data" ]; then
        echo "e2e: generating $data" >&2
        "$gen" --events "$events" --keys "$keys" --eps "$eps" --output "$data.tmp"
        mv "$data.tmp" "$data"
fi
out=$cache/out.ndjson
"$sluice" run "$pipeline" --input "$data" --output "$out" --workers 1 --quiet # warm the page cache
size=$(du -h "$data" | cut -f1)
echo "| workers | events/s (median of $repeat) | events/s per worker | wall s | peak RSS | rows |"
echo "|---|---|---|---|---|---|"
for w in $workers; do
        rates="" ; line=""
        i=0
        while [ $i -lt "$repeat" ]; do
                line=$("$sluice" run "$pipeline" --input "$data" --output "$out" --workers "$w" 2>&1 >/dev/null)
                rate=$(echo "$line" | sed -n 's/.*records in \([0-9.]*\) s.*/\1/p' | head -1)
                rates="$rates $rate"
                i=$((i + 1))
        done
        med=$(echo $rates | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        rss=$(echo "$line" | sed -n 's/.*peak RSS \(.*\)$/\1/p')
        rows=$(echo "$line" | sed -n 's/.*totals: .* \([0-9]*\) rows written.*/\1/p')
        awk -v n="$events" -v s="$med" -v w="$w" -v rss="$rss" -v rows="$rows" 'BEGIN {
                printf "| %d | %.2f M | %.2f M | %.2f | %s | %s |\n", w, n / s / 1e6, n / s / w / 1e6, s, rss, rows }'
done
echo
echo "input: $events events, $keys keys, $size, event time $eps events/s; pipeline $(basename "$pipeline")"
