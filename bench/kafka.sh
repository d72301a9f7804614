#!/bin/sh
# Kafka mode on the mock cluster: throughput against a do-nothing consumer,
# and latency from input CreateTime to output, exactly-once and
# at-least-once.
#
#   bench/kafka.sh BUILD_DIR [EVENTS (default 10000000)] [KEYS (default 100000)]
#
# Throughput: two phases on fresh mock clusters (3 brokers, 4 partitions),
# the same generator each time (sluice-gen at full speed, produced while
# being consumed: the mock keeps only ~5 MiB per partition):
#   raw     bench/kafka_raw, a librdkafka batch consumer that does nothing;
#   sluice  sluice run bench/scenarios/kafka_tumbling.sql, exactly-once,
#           100 ms commits, 2 workers.
# Each reports its rate from first to last message, and its CPU seconds.
# Latency: bench/scenarios/kafka_changes.sql (EMIT CHANGES) with the
# generator paced at half of sluice's measured rate for 20 s, exactly-once
# (100 ms commits) and at-least-once (LAT_RATE=N sets another rate; ONLY_LATENCY=1
# skips the throughput phases, then LAT_RATE is required); sluice measures CreateTime -> commit
# (EOS) or -> delivery acknowledged (ALO), after a 5 s warm-up.
set -eu
build=$1
events=${2:-10000000}
keys=${3:-100000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
mock=""
cleanup() { [ -z "$mock" ] || kill "$mock" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

start_mock() {
        [ -z "$mock" ] || { kill "$mock"; wait "$mock" 2>/dev/null || true; }
        rm -f "$tmp/port"
        "$build/tools/sluice-mock" --topic transactions:4 --port-file "$tmp/port" >/dev/null 2>&1 &
        mock=$!
        while [ ! -s "$tmp/port" ]; do sleep 0.1; done
        bs=$(cat "$tmp/port")
}
timed() { # CPUFILE CMD... : runs CMD, then writes its user+sys CPU seconds to CPUFILE
        sh -c 'f=$1; shift; "$@"; rc=$?; awk "{ printf \"%.2f\", (\$16 + \$17) / 100 }" /proc/$$/stat >"$f"; exit $rc' sh "$@"
}
gen() { # extra flags...
        "$build/tools/sluice-gen" --events "$events" --keys "$keys" --bootstrap "$bs" \
                --topic transactions --timestamp now "$@" 2>"$tmp/gen.log"
        sed -n 's/.*(\([0-9]*\) events\/s).*/\1/p' "$tmp/gen.log"
}

echo "# bench/kafka.sh: $events events, $keys keys, $(nproc) CPUs, $(date -u +%Y-%m-%d)"
if [ -z "${ONLY_LATENCY:-}" ]; then
start_mock
timed "$tmp/raw.cpu" "$build/bench/kafka_raw" --bootstrap "$bs" --topic transactions --count "$events" --idle-ms 10000 >"$tmp/raw.out" 2>"$tmp/raw.err" &
raw=$!
sleep 4
grate=$(gen)
wait $raw || { echo "kafka_raw failed:"; cat "$tmp/raw.err"; exit 1; }
rcpu=$(cat "$tmp/raw.cpu")
rrate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$tmp/raw.out")
echo "raw consumer:  $(cat "$tmp/raw.out")  cpu ${rcpu}s  (generator ${grate} events/s)"

start_mock
timed "$tmp/sluice.cpu" "$build/tools/sluice" run "$here/scenarios/kafka_tumbling.sql" --bootstrap "$bs" --workers 2 \
        --max-records "$events" --no-status 2>"$tmp/sluice.err" &
sl=$!
sleep 4
grate2=$(gen)
wait $sl || { echo "sluice failed:"; cat "$tmp/sluice.err"; exit 1; }
scpu=$(cat "$tmp/sluice.cpu")
srate=$(sed -n 's/.*first to last in .* s: \([0-9]*\) records\/s/\1/p' "$tmp/sluice.err")
echo "sluice (EOS):  $(grep -E 'input:|kafka:' "$tmp/sluice.err" | tr -s ' ' | tr '\n' ' ') cpu ${scpu}s  (generator ${grate2} events/s)"
awk -v s="$srate" -v r="$rrate" 'BEGIN { printf "ratio sluice/raw: %.2f\n", s / r }'
else
srate=0
fi

half=$(awk -v s="$srate" 'BEGIN { printf "%d", s / 2 }')
# LAT_RATE=N measures latency at N events/s instead of half the measured rate.
half=${LAT_RATE:-$half}
for mode in exactly_once_v2 at_least_once; do
        start_mock
        n=$((half * 20))
        "$build/tools/sluice" run "$here/scenarios/kafka_changes.sql" --bootstrap "$bs" --workers 2 \
                --max-records "$n" --no-status --set processing.guarantee=$mode \
                --set sluice.latency.warmup.ms=5000 --set linger.ms=0 2>"$tmp/lat.err" &
        sl=$!
        sleep 4
        # The baseline in the same run: a consumer that does nothing, on the
        # same topic, measuring CreateTime -> consumed.
        "$build/bench/kafka_raw" --bootstrap "$bs" --topic transactions --count "$n" \
                --latency 5000 --idle-ms 10000 >"$tmp/rawlat.out" 2>"$tmp/rawlat.err" &
        rl=$!
        "$build/tools/sluice-gen" --events "$n" --keys "$keys" --bootstrap "$bs" --topic transactions \
                --timestamp now --rate "$half" --set linger.ms=0 2>"$tmp/gen.log"
        wait $sl || { echo "sluice failed:"; cat "$tmp/lat.err"; exit 1; }
        wait $rl || true
        echo "latency $mode at $half events/s:"
        grep -E 'latency|commits:' "$tmp/lat.err" | sed 's/^ */  sluice: /'
        echo "  baseline consumer (CreateTime -> consumed): $(sed -n 's/.*\(latency_p50.*\)/\1/p' "$tmp/rawlat.out")"
done
