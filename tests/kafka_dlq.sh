#!/bin/sh
# Dead letters (SET 'dlq.topic'): records sluice drops - not JSON, not an
# object, a wrong type, no timestamp, a bad timestamp, over max.record.bytes,
# a null value - go to the dead-letter topic as they came (key, value cut to
# dlq.value.max.bytes, timestamp), with headers giving the reason, the source
# topic, partition and offset, inside the transactions that commit their
# offsets.  The first transaction is made to abort, so the records are
# replayed: the committed view must still hold each dead letter once, and
# the good records must give exactly file mode's rows.
#   kafka_dlq.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
sql=$src/tests/kafka/faults.sql
fail() { echo "kafka_dlq: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

"$build/tools/sluice-gen" --events 4000 --keys 200 --eps 100 --seed 9 --output "$tmp/in.ndjson"
mkdir "$tmp/file"
"$build/tools/sluice" run "$sql" --input "$tmp/in.ndjson" --output "$tmp/file" --quiet

"$build/tools/sluice-mock" --topic transactions:4 --topic running:4 --topic dead:1 \
        --port-file "$tmp/port" --control "$tmp/ctl" >/dev/null 2>"$tmp/mock.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")

# Bad records between two halves of good ones.  KEY<tab>VALUE; kcat -Z sends
# the empty value of "user7" as a null value.
head -n 2000 "$tmp/in.ndjson" >"$tmp/a.ndjson"
tail -n +2001 "$tmp/in.ndjson" >"$tmp/b.ndjson"
big=$(python3 -c 'print("x" * 3000)')
cat >"$tmp/bad.tsv" <<EOF
user1	not json at all
user2	[1,2,3]
user3	{"transactionId":"b3","userId":"user3","amount":"lots","timestamp":1700000000500}
user4	{"transactionId":"b4","userId":"user4","amount":1.5}
user5	{"transactionId":"b5","userId":"user5","amount":1.5,"timestamp":"soon"}
user6	{"transactionId":"b6","userId":"user6","amount":1.5,"timestamp":1700000000600,"pad":"$big"}
user7	
EOF
"$build/tools/sluice-gen" --from "$tmp/a.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>"$tmp/gen.log"
kcat -P -b "$bs" -t transactions -K '	' -Z -l "$tmp/bad.tsv" 2>"$tmp/kcat.log" || fail "kcat could not produce"
"$build/tools/sluice-gen" --from "$tmp/b.ndjson" --key-field userId --bootstrap "$bs" --topic transactions 2>>"$tmp/gen.log"

# The first transaction aborts (an abortable error on its first
# AddPartitionsToTxn): sluice rewinds and replays.
echo "errors AddPartitionsToTxn 1 TOPIC_AUTHORIZATION_FAILED" >"$tmp/ctl"
i=0
while ! grep -q "^sluice-mock: ok: " "$tmp/mock.log"; do
        i=$((i + 1)); [ $i -lt 50 ] || fail "the mock did not take the error"; sleep 0.1
done

"$build/tools/sluice" run "$sql" --bootstrap "$bs" --workers 2 --no-pin --no-status --bounded \
        --set dlq.topic=dead --set max.record.bytes=2000 --set dlq.value.max.bytes=1000 \
        --set "sluice.txn.log=$tmp/txn" >/dev/null 2>"$tmp/sluice.log" || fail "sluice exited with $?"
grep -q "dead letters: [0-9]* dropped records produced to dead" "$tmp/sluice.log" ||
        fail "no dead-letter line in the summary"
grep -q "1 aborted\|[1-9] aborted" "$tmp/sluice.log" || fail "the injected abort did not happen"

kcat -C -b "$bs" -t running -e -q -f '%k\t%T\t%h\t%s\n' >"$tmp/out.raw"
python3 "$src/tests/kafka_committed.py" "$tmp/out.raw" "$tmp/file/running.ndjson" "$tmp/txn" ||
        fail "the good records' rows differ from file mode"

kcat -C -b "$bs" -t dead -e -q -f '%k\t%T\t%S\t%h\t%s\n' >"$tmp/dead.raw"
kcat -C -b "$bs" -t transactions -e -q -f '%p\t%o\t%k\t%S\t%s\n' >"$tmp/input.raw"
python3 - "$tmp/dead.raw" "$tmp/input.raw" "$tmp/txn" <<'PY' || fail "dead letters wrong"
import sys
dead, inp, log = sys.argv[1:]
committed = {' '.join(l.split()[1:3]).replace(' ', ':') for l in open(log) if l.startswith('commit')}
inputs = {}
for line in open(inp):
    p, o, k, size, v = line.rstrip('\n').split('\t', 4)
    inputs[(p, o)] = (k, int(size), v)
want = {  # key: reason
    'user1': 'not JSON', 'user2': 'not an object', 'user3': 'wrong column type',
    'user4': 'missing timestamp', 'user5': None, 'user6': 'oversize', 'user7': 'null value',
}
got, bad = {}, 0
for line in open(dead):
    k, ts, size, hdrs, v = line.rstrip('\n').split('\t', 4)
    h = dict(x.split('=', 1) for x in hdrs.split(',') if '=' in x)
    if h.get('sluice.txn') not in committed:
        continue
    if k in got:
        print('dead letter twice:', k, file=sys.stderr); bad += 1
    got[k] = h
    src = inputs.get((h.get('sluice.dlq.partition'), h.get('sluice.dlq.offset')))
    if h.get('sluice.dlq.topic') != 'transactions' or not src or src[0] != k:
        print('dead letter does not point at its record:', k, h, file=sys.stderr); bad += 1
        continue
    ik, isize, iv = src
    if k == 'user7':
        if int(size) != -1:
            print('null value not kept null:', size, file=sys.stderr); bad += 1
    elif k == 'user6':
        if v != iv[:1000] or h.get('sluice.dlq.value.bytes') != str(isize):
            print('oversize value not cut to 1000 bytes with its size:', h, len(v), file=sys.stderr); bad += 1
    elif v != iv:
        print('value changed:', k, v, iv, file=sys.stderr); bad += 1
    r = want.get(k, '?')
    if r is not None and r not in h.get('sluice.dlq.reason', ''):
        print(f'reason for {k}: {h.get("sluice.dlq.reason")!r}, expected {r!r}', file=sys.stderr); bad += 1
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
print(f'kafka_dlq: {len(got)} committed dead letters, {len(missing)} missing {missing}, '
      f'{len(extra)} unexpected {extra}, {bad} wrong')
sys.exit(1 if missing or extra or bad else 0)
PY
