#!/bin/sh
# Checkpoints against the mock cluster:
#   1. sluice runs with --checkpoint-dir over the first half of the input and
#      stops cleanly; `sluice state` lists valid snapshots.
#   2. The second half arrives; a new sluice restores every partition from
#      its snapshot and reads only the new records (no replay from the start);
#      the committed view equals file mode over all the input.
#   3. The newest snapshot of a partition is damaged: a restart warns, names
#      the file and the reason, and recovers from an older one or by replay;
#      still exact.
#   4. A changed pipeline refuses to start on the old state (exit code 2)
#      unless --reset-state is given.
#   kafka_checkpoint.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
sql=$src/tests/kafka/faults.sql
fail() { echo "kafka_checkpoint: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; grep -v '^%' "$f" | tail -n 30 >&2; done; exit 1; }

"$build/tools/sluice-gen" --events 20000 --keys 300 --eps 100 --seed 9 --output "$tmp/all.ndjson"
head -n 10000 "$tmp/all.ndjson" >"$tmp/a.ndjson"
tail -n +10001 "$tmp/all.ndjson" >"$tmp/b.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/all.ndjson" --output "$tmp/file" --quiet
head -n 10000 "$tmp/file/running.ndjson" >"$tmp/half.ndjson"

"$build/tools/sluice-mock" --topic transactions:4 --topic running:4 --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
bs=$(cat "$tmp/port")
ck=$tmp/state
run() { # log: a member in the background
        "$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
                --checkpoint-dir "$ck" --set checkpoint.interval.ms=500 \
                --set "sluice.txn.log=$tmp/txn" "$@" >/dev/null 2>"$tmp/$log.log" &
        sl=$!
        pids="$pids $sl"
}
until_committed() { # expected rows
        i=0
        while :; do
                kcat -C -b "$bs" -t running -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw" 2>/dev/null
                python3 "$src/tests/kafka_committed.py" "$tmp/out.raw" "$1" "$tmp/txn" --quiet && return 0
                i=$((i + 1)); [ $i -lt 60 ] || return 1
                sleep 1
        done
}
stop() { kill -TERM "$sl"; wait "$sl" || fail "sluice exited with $? on SIGTERM"; }
read_count() { sed -n 's/^  stream transactions: \([0-9]*\) read.*/\1/p' "$1"; }

"$build/tools/sluice-gen" --from "$tmp/a.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>/dev/null
log=first; run
until_committed "$tmp/half.ndjson" || fail "first run: the committed view never matched"
sleep 1.2   # a checkpoint interval or two with everything processed
stop
"$build/tools/sluice" state "$ck" >"$tmp/state.txt" || fail "sluice state reports invalid snapshots: $(cat "$tmp/state.txt")"
n=$(grep -c " ok" "$tmp/state.txt" || true)
[ "$n" -ge 4 ] || fail "expected snapshots for 4 partitions, sluice state says: $(cat "$tmp/state.txt")"
echo "kafka_checkpoint: after the first run, sluice state lists $n valid snapshots"

"$build/tools/sluice-gen" --from "$tmp/b.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>/dev/null
log=second; run
until_committed "$tmp/file/running.ndjson" || fail "second run: the committed view never matched"
stop
restored=$(sed -n 's/.* \([0-9]*\) partitions restored.*/\1/p' "$tmp/second.log")
reads=$(read_count "$tmp/second.log")
echo "kafka_checkpoint: second run: $restored partitions restored, $reads records read (10000 new)"
[ "$restored" -eq 4 ] || fail "second run restored $restored partitions, expected 4"
[ "$reads" -le 10100 ] || fail "second run read $reads records: it replayed instead of restoring"

# Damage the newest snapshot of every partition (flip a byte in the middle).
for f in $(find "$ck" -name '*.snap' | sort -r); do
        d=$(dirname "$f")
        newest=$(ls "$d"/*.snap | sort | tail -1)
        [ "$f" = "$newest" ] || continue
        size=$(stat -c %s "$f")
        printf '\377' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
done
log=third; run
i=0
until grep -q "^sluice: assigned" "$tmp/third.log"; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "third run: never assigned"; sleep 0.1
done
sleep 3
until_committed "$tmp/file/running.ndjson" || fail "third run: the committed view changed"
stop
reads3=$(read_count "$tmp/third.log")
grep -q "checksum mismatch" "$tmp/third.log" || fail "third run: no warning about the damaged snapshots"
echo "kafka_checkpoint: third run: $(grep -c 'checksum mismatch' "$tmp/third.log") damaged snapshots skipped with a warning (then $reads3 records replayed), e.g.: $(grep -m1 'checksum mismatch' "$tmp/third.log" | cut -c1-150)"

# A changed pipeline.
sed 's/GRACE PERIOD 1 HOUR/GRACE PERIOD 2 HOURS/' "$sql" >"$tmp/changed.sql"
set +e
"$build/tools/sluice" run "$tmp/changed.sql" --bootstrap "$bs" --checkpoint-dir "$ck" --no-status 2>"$tmp/changed.log"
rc=$?
set -e
[ $rc -eq 2 ] || fail "a changed pipeline on old state: exit code $rc, expected 2"
grep -q "reset-state" "$tmp/changed.log" || fail "a changed pipeline: the message does not mention --reset-state"
echo "kafka_checkpoint: changed pipeline refused: $(grep -m1 'another pipeline' "$tmp/changed.log" | cut -c1-160)"
"$build/tools/sluice" run "$tmp/changed.sql" --bootstrap "$bs" --checkpoint-dir "$ck" --reset-state \
        --no-status --group changed --bounded >/dev/null 2>"$tmp/reset.log" || fail "--reset-state did not start"
echo "kafka_checkpoint: --reset-state starts"
