#!/bin/sh
# Two sluice processes in one consumer group on a 4-partition topic.
#   1. Both start; the partitions must be split between them.
#   2. Half of the data goes in; A stops (SIGTERM: it commits and leaves).
#   3. B must take A's partitions over; the other half goes in; B stops.
# Checks: A and B each owned partitions; B ended with all four; no output
# row (key, window) appears twice; every window that closed is exact
# (equal to a file-mode run over all the data) - including windows that
# were open at the handover, because B rebuilds A's partitions by replay.
#   kafka_group.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        rm -rf "$tmp"
}
trap cleanup EXIT
sql=$src/tests/kafka/group.sql
fail() { echo "kafka_group: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }

"$build/tools/sluice-gen" --events 60000 --keys 2000 --eps 100 --seed 11 --output "$tmp/all.ndjson"
head -n 30000 "$tmp/all.ndjson" >"$tmp/a.ndjson"
tail -n +30001 "$tmp/all.ndjson" >"$tmp/b.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/all.ndjson" --output "$tmp/file" --quiet

"$build/tools/sluice-mock" --topic transactions:4 --port-file "$tmp/port" >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")

run() { # name: starts a member in the background ($! is its pid)
        "$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status \
                --set "sluice.txn.log=$tmp/txn.$1" >/dev/null 2>"$tmp/$1.log" &
}
wait_for() { # file pattern seconds
        i=0
        while ! grep -q "$2" "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $(($3 * 10)) ] || fail "timed out waiting for '$2' in $1"
                sleep 0.1
        done
}
run A; a=$!; pids="$pids $a"
run B; b=$!; pids="$pids $b"
wait_for "$tmp/A.log" "assigned transactions" 30
wait_for "$tmp/B.log" "assigned transactions" 30
"$build/tools/sluice-gen" --from "$tmp/a.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>"$tmp/gen.log"
sleep 3
kill -TERM "$a"
wait "$a" || fail "A exited with $?"
grep -q "records in" "$tmp/A.log" || fail "A printed no summary"
owned() { sed -n 's/^sluice: assigned //p' "$1" | tr ' ' '\n' | grep -c 'transactions\[' || true; }
# B takes A's partitions over (cooperative-sticky: incremental assignments;
# the first rebalance after A leaves may assign B nothing new, so wait for
# the partitions themselves, not for a count of rebalances).
i=0
while [ "$(owned "$tmp/B.log")" -lt 4 ]; do
        i=$((i + 1)); [ $i -lt 600 ] || fail "B did not take A's partitions over within 60 s"
        sleep 0.1
done
sleep 1
"$build/tools/sluice-gen" --from "$tmp/b.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>>"$tmp/gen.log"
sleep 4
kill -TERM "$b"
wait "$b" || fail "B exited with $?"

na=$(owned "$tmp/A.log"); nb=$(owned "$tmp/B.log")
echo "kafka_group: A was assigned $na partitions, B $nb (4 at first split, then A's)"
[ "$na" -ge 1 ] && [ "$na" -le 3 ] || fail "A owned $na partitions; the group should have split 4"
[ "$nb" -eq 4 ] || fail "B was assigned $nb partitions in total; expected its own plus A's = 4"

kcat -C -b "$bs" -t per-minute -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw"
python3 - "$tmp/out.raw" "$tmp/file/per-minute.ndjson" "$tmp/txn.A" "$tmp/txn.B" <<'PY' || fail "output check failed"
import json, sys
raw, ref, *logs = sys.argv[1:]
committed = set()
for log in logs:
    for line in open(log):
        what, txid, seq = line.split()[:3]
        if what == 'commit':
            committed.add(f'{txid}:{seq}')
rows, seen, dup = [], {}, 0
for line in open(raw):
    key, ts, hdr, val = line.rstrip('\n').split('\t', 3)
    txn = hdr.split('sluice.txn=', 1)[1].split(',')[0] if 'sluice.txn=' in hdr else ''
    if txn not in committed:
        continue  # aborted or never committed: invisible to read_committed
    r = json.loads(val)
    k = (r['userId'], r['ws'])
    if k in seen:
        dup += 1
        print('duplicate:', val, 'first:', seen[k], file=sys.stderr)
    seen[k] = val
want = {}
for line in open(ref):
    r = json.loads(line)
    want[(r['userId'], r['ws'])] = line.strip()
last = max(r[1] for r in want)
# Windows that must have closed by the end: well before the last window.
wrong = missing = 0
for k, v in want.items():
    if k in seen:
        if json.loads(seen[k]) != json.loads(v):
            wrong += 1
            print('differs:', seen[k], 'file mode:', v, file=sys.stderr)
    elif k[1] < last - 120000:
        missing += 1
        if missing < 10:
            print('missing:', v, file=sys.stderr)
extra = [k for k in seen if k not in want]
print(f'kafka_group: {len(seen)} committed rows, {dup} duplicates, {wrong} differ from file mode, '
      f'{missing} missing, {len(extra)} not in file mode')
sys.exit(1 if dup or wrong or missing or extra else 0)
PY
