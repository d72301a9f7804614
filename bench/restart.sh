#!/bin/sh
# Restart to live after a crash (P1.3): sluice runs the 5-minute tumbling
# scenario with checkpoints every 10 s while sluice-gen produces at RATE
# events/s; sluice is killed (SIGKILL) 10 s after a snapshot, just before the
# next one, and restarted at once.  Printed: the time to rejoin the group
# (the mock waits for the dead member's session to time out), and the time
# from the assignment to live (every partition restored and its records up
# to the committed offset replayed), with the records replayed.
#   bench/restart.sh BUILD_DIR [RATE (default 400000)] [KEYS (default 1000000)]
set -eu
build=$1
rate=${2:-400000}
keys=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
"$build/tools/sluice-mock" --topic transactions:4 --port-file "$tmp/port" >/dev/null 2>&1 &
pids="$pids $!"
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
bs=$(cat "$tmp/port")
run() {
        "$build/tools/sluice" run "$here/scenarios/kafka_tumbling.sql" --bootstrap "$bs" --group restart \
                --workers 2 --no-status --checkpoint-dir "$tmp/ck" --set transactional.id=restart \
                >/dev/null 2>"$tmp/$1.log" &
        sl=$!
        pids="$pids $sl"
}
run A
"$build/tools/sluice-gen" --events $((rate * 60)) --keys "$keys" --bootstrap "$bs" --topic transactions \
        --timestamp now --rate "$rate" 2>/dev/null &
pids="$pids $!"
# The first snapshots: 10 s after sluice works; kill 10 s after them.
while [ -z "$(find "$tmp/ck" -name MANIFEST 2>/dev/null | head -1)" ]; do sleep 0.1; done
sleep 9.8
kill -9 "$sl"
t0=$(date +%s.%N)
run B
while ! grep -q "^sluice: assigned" "$tmp/B.log"; do sleep 0.05; done
t1=$(date +%s.%N)
while ! grep -q "^sluice: live" "$tmp/B.log"; do sleep 0.05; done
echo "# bench/restart.sh: $rate events/s, $keys keys, checkpoints every 10 s, kill 9.8 s after one, $(date -u +%Y-%m-%d)"
"$build/tools/sluice" state "$tmp/ck" | tail -1
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "restart to assignment: %.2f s (the mock waits for the killed member'"'"'s session)\n", b - a }'
grep "^sluice: live" "$tmp/B.log"
