#!/bin/sh
# sluice against a mock cluster that misbehaves: errors injected into
# Produce, AddPartitionsToTxn, TxnOffsetCommit and EndTxn (retriable ones,
# and abortable ones that make sluice abort and rewind), and a broker that
# goes down and comes back, while input arrives.  sluice must not crash,
# must not lose input, and the committed view of its output (rows of
# committed transactions, from its sluice.txn.log and the sluice.txn
# header: what a read_committed consumer of real Kafka would see) must be
# exactly file mode's rows: one per input record, none twice.  Last, the
# producer is fenced: sluice must stop with exit code 3, and a restarted
# sluice must recover from the committed offsets.
#   kafka_faults.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
sql=$src/tests/kafka/faults.sql
fail() {
        echo "kafka_faults: $*" >&2
        # Is all the input in the topic?  (Tells a lost input record from a
        # record sluice did not read.)
        [ -n "${bs:-}" ] && kcat -C -b "$bs" -t transactions -e -q -f '%p\n' 2>/dev/null |
                sort | uniq -c | awk '{ n += $1; printf "partition %s: %s records\n", $2, $1 } END { print "input topic:", n + 0, "records" }' >&2
        for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 40 "$f" >&2; done
        exit 1
}

"$build/tools/sluice-gen" --events 24000 --keys 300 --eps 100 --seed 5 --output "$tmp/in.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/in.ndjson" --output "$tmp/file" --quiet

"$build/tools/sluice-mock" --topic transactions:4 --topic running:4 --port-file "$tmp/port" \
        --control "$tmp/ctl" >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")
inject() { # command: waits until the mock has applied it
        n=$(grep -c "^sluice-mock: ok: " "$tmp/mock.log" || true)
        echo "$*" >"$tmp/ctl"
        i=0
        while [ "$(grep -c "^sluice-mock: ok: " "$tmp/mock.log" || true)" -le "$n" ]; do
                i=$((i + 1)); [ $i -lt 50 ] || fail "the mock did not apply '$*'"; sleep 0.1
        done
        echo "kafka_faults: injected: $*"
}

"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
        --set "sluice.txn.log=$tmp/txn" --set commit.interval.ms=50 >/dev/null 2>"$tmp/sluice.log" &
sl=$!
pids="$pids $sl"
i=0
while ! grep -q "assigned transactions" "$tmp/sluice.log"; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "sluice was never assigned partitions"; sleep 0.1
done
# Input arrives over about 8 s while the faults come.
"$build/tools/sluice-gen" --from "$tmp/in.ndjson" --key-field userId --bootstrap "$bs" \
        --topic transactions --rate 3000 2>"$tmp/gen.log" &
gen=$!
pids="$pids $gen"
sleep 1
inject errors Produce 4 NOT_LEADER_FOR_PARTITION
inject errors AddPartitionsToTxn 3 CONCURRENT_TRANSACTIONS
sleep 0.5
inject errors TxnOffsetCommit 3 COORDINATOR_LOAD_IN_PROGRESS
inject errors EndTxn 2 NOT_COORDINATOR
sleep 0.5
# Abortable: the transaction fails; sluice aborts it and rewinds.
inject errors AddPartitionsToTxn 1 TOPIC_AUTHORIZATION_FAILED
sleep 1
inject errors TxnOffsetCommit 1 GROUP_AUTHORIZATION_FAILED
sleep 0.5
inject down 2
sleep 2
inject up 2
sleep 0.5
# Fatal: the producer is fenced.  sluice must stop with exit code 3 and say
# why; restarted, it must recover from the committed offsets.
inject errors EndTxn 1 PRODUCER_FENCED
set +e
wait "$sl"
rc=$?
set -e
[ $rc -eq 3 ] || fail "a fenced producer: sluice exited with $rc, expected 3"
grep -q "fatal error" "$tmp/sluice.log" || fail "a fenced producer: no clear message"
echo "kafka_faults: fenced: sluice stopped with exit code 3: $(grep -o 'fatal error.*' "$tmp/sluice.log" | head -1 | cut -c1-120)"
mv "$tmp/sluice.log" "$tmp/sluice-fenced.log"
"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
        --set "sluice.txn.log=$tmp/txn" --set commit.interval.ms=50 >/dev/null 2>"$tmp/sluice.log" &
sl=$!
pids="$pids $sl"
wait "$gen" || fail "the generator failed"
# Until every input record's row is committed (or a minute passes).
check() {
        kcat -C -b "$bs" -t running -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw" 2>/dev/null
        python3 "$src/tests/kafka_committed.py" "$tmp/out.raw" "$tmp/file/running.ndjson" "$tmp/txn" "$@"
}
i=0
until check --quiet; do
        i=$((i + 1)); [ $i -lt 60 ] || break
        sleep 1
done
kill -TERM "$sl"
wait "$sl" || fail "sluice exited with $? after SIGTERM"
grep -hE "rewinding" "$tmp/sluice-fenced.log" "$tmp/sluice.log" | cut -c1-160 || true
grep -hE "kafka:" "$tmp/sluice-fenced.log" "$tmp/sluice.log"
grep -q "^abort " "$tmp/txn" || fail "no transaction was aborted: the abortable faults did not bite"
[ "$(cut -d' ' -f2 "$tmp/txn" | sort -u | wc -l)" -eq 2 ] || fail "expected the transactions of two instances"
printf 'kafka_faults: '
check || fail "the committed view differs from file mode"
