#!/usr/bin/env python3
"""The committed view of sluice's output equals file mode's rows.

    kafka_committed.py RAW EXPECTED.ndjson TXNLOG... [--quiet]

RAW: kcat lines KEY <tab> TIMESTAMP <tab> HEADERS <tab> VALUE.  A row belongs
to the committed view when its sluice.txn header names a transaction that a
sluice.txn.log records as committed: what a read_committed consumer of real
Kafka would see (the mock cluster shows aborted rows too).  Exit 0 when the
committed rows equal the expected rows as a multiset; 1 otherwise.
"""
import collections
import sys


def main():
    args = [a for a in sys.argv[1:] if a != '--quiet']
    quiet = '--quiet' in sys.argv
    raw, ref, *logs = args
    committed, aborted = set(), set()
    for log in logs:
        try:
            for line in open(log):
                what, txid, seq = line.split()[:3]
                (committed if what == 'commit' else aborted).add(f'{txid}:{seq}')
        except FileNotFoundError:
            pass
    got, left_out = collections.Counter(), 0
    for line in open(raw):
        key, ts, hdr, val = line.rstrip('\n').split('\t', 3)
        txn = hdr.split('sluice.txn=', 1)[1].split(',')[0] if 'sluice.txn=' in hdr else ''
        if txn in committed:
            got[val] += 1
        else:
            left_out += 1
    want = collections.Counter(line.strip() for line in open(ref) if line.strip())
    missing, extra = want - got, got - want
    if not quiet:
        for what, rows in (('missing', missing), ('extra', extra)):
            for v, n in list(rows.items())[:5]:
                print(f'{what} x{n}: {v}', file=sys.stderr)
        print(f'{sum(got.values())} committed rows ({len(committed)} transactions), '
              f'{left_out} rows of {len(aborted)} aborted or open transactions left out, '
              f'{sum(missing.values())} missing, {sum(extra.values())} duplicated or wrong')
    return 1 if missing or extra else 0


if __name__ == '__main__':
    sys.exit(main())
